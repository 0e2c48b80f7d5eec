//! One transaction for bulk writes: roster import and demo loading. A fatal
//! error drops the transaction and the database is as it was.
//!
//! Multi-row inserts return their natural keys with their ids, so the caller
//! maps rows back without trusting `RETURNING` order.

use std::collections::HashMap;

use gw_domain::resident::NewResident;
use sqlx::{Postgres, QueryBuilder, Row, Sqlite, Transaction};

use crate::{Result, Store, StoreError};

/// Rows per multi-row INSERT (well under both backends' bind limits).
pub const BATCH: usize = 500;

pub enum Tx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

macro_rules! tx_run {
    ($tx:expr, $conn:ident, $db:ident => $body:expr) => {
        match &mut $tx.0 {
            $crate::import::Tx::Sqlite(t) => {
                #[allow(dead_code)]
                type $db = sqlx::Sqlite;
                let $conn = &mut **t;
                $body
            }
            $crate::import::Tx::Postgres(t) => {
                #[allow(dead_code)]
                type $db = sqlx::Postgres;
                let $conn = &mut **t;
                $body
            }
        }
    };
}
pub(crate) use tx_run;

/// A write transaction on either backend.
pub struct StoreTx(pub(crate) Tx);

/// A row lock a transaction's read takes ([`StoreTx::row_lock`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RowLock {
    Share,
    Update,
    /// `FOR NO KEY UPDATE`: a row whose key stays, so an insert referring
    /// to it (a foreign key's share lock) is not held up.
    NoKeyUpdate,
}

/// A resident to insert.
pub struct ResidentWrite<'a> {
    pub uid: String,
    pub household_id: Option<i64>,
    pub resident: &'a NewResident,
    pub status: &'static str,
}

/// A building to insert.
pub struct BuildingWrite {
    pub compound_id: i64,
    pub grid_id: i64,
    pub name: String,
    pub floors: Option<i32>,
    pub elevator: Option<bool>,
}

impl Store {
    /// A write transaction. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`): a deferred one that read first and then wrote
    /// after another connection's commit would fail at once ("database is
    /// locked", no busy wait), as concurrent walk-ins at two stations did.
    pub async fn begin(&self) -> Result<StoreTx> {
        Ok(StoreTx(match &self.pool {
            crate::Pool::Sqlite(p) => Tx::Sqlite(p.begin_with("BEGIN IMMEDIATE").await?),
            crate::Pool::Postgres(p) => Tx::Postgres(p.begin().await?),
        }))
    }
}

fn doc_parts(r: &NewResident) -> (Option<String>, Option<String>) {
    match &r.document {
        Some(d) => (Some(d.kind.code().to_string()), Some(d.number.clone())),
        None => (None, None),
    }
}

impl StoreTx {
    pub async fn commit(self) -> Result<()> {
        match self.0 {
            Tx::Sqlite(t) => t.commit().await?,
            Tx::Postgres(t) => t.commit().await?,
        }
        Ok(())
    }

    pub async fn rollback(self) -> Result<()> {
        match self.0 {
            Tx::Sqlite(t) => t.rollback().await?,
            Tx::Postgres(t) => t.rollback().await?,
        }
        Ok(())
    }

    /// On SQLite, the id to give the next row of `table` (one of those
    /// `id_floor` keeps: `resident`, `testing_point`): above both the largest
    /// id present and the largest ever removed, which SQLite alone would
    /// give again (migrations 0031, 0033). None on PostgreSQL, whose
    /// sequences never do.
    pub(crate) async fn next_id_above_floor(&mut self, table: &'static str) -> Result<Option<i64>> {
        Ok(match &mut self.0 {
            Tx::Sqlite(t) => Some(
                sqlx::query_scalar::<_, i64>(&format!(
                    "SELECT MAX(COALESCE((SELECT MAX(id) FROM {table}), 0), COALESCE((SELECT id FROM id_floor WHERE tbl = '{table}'), 0))"
                ))
                .fetch_one(&mut **t)
                .await?
                    + 1,
            ),
            Tx::Postgres(_) => None,
        })
    }

    /// Makes transactions of `topic` in `street` take their turn until this
    /// one ends: a PostgreSQL advisory lock held to the end of the
    /// transaction; nothing on SQLite, where `begin` took the database's
    /// write lock already. For writes whose row locks would otherwise be
    /// taken in an order each caller chooses (two lab files listing the same
    /// tubes in other orders would deadlock) or that check what is there
    /// before they add to it (two rounds of one name).
    pub(crate) async fn one_at_a_time(&mut self, topic: &str, street: i64) -> Result<()> {
        if let Tx::Postgres(t) = &mut self.0 {
            sqlx::query(
                "SELECT pg_advisory_xact_lock(hashtextextended($1 || '/' || CAST($2 AS TEXT), 28))",
            )
            .bind(topic)
            .bind(street)
            .execute(&mut **t)
            .await?;
        }
        Ok(())
    }

    /// The clause a read appends to lock the rows it reads until this
    /// transaction ends: `FOR SHARE` or `FOR UPDATE` on PostgreSQL; nothing on
    /// SQLite, where `begin` took the database's write lock already.
    pub(crate) fn row_lock(&self, lock: RowLock) -> &'static str {
        match (&self.0, lock) {
            (Tx::Sqlite(_), _) => "",
            (Tx::Postgres(_), RowLock::Share) => " FOR SHARE",
            (Tx::Postgres(_), RowLock::Update) => " FOR UPDATE",
            (Tx::Postgres(_), RowLock::NoKeyUpdate) => " FOR NO KEY UPDATE",
        }
    }

    /// Locks the rows `select` (a `SELECT … WHERE street_id = $1 AND … = $2`
    /// without a lock clause) reads, for the rest of this transaction (see
    /// [`Self::row_lock`]); a no-op on SQLite.
    pub(crate) async fn lock_rows(
        &mut self,
        select: &str,
        lock: RowLock,
        street: i64,
        id: i64,
    ) -> Result<()> {
        let sql = format!("{select}{}", self.row_lock(lock));
        if let Tx::Postgres(t) = &mut self.0 {
            sqlx::query(&sql)
                .bind(street)
                .bind(id)
                .fetch_all(&mut **t)
                .await?;
        }
        Ok(())
    }

    /// Inserts compounds `(community_id, name)`; returns their ids by key.
    pub async fn insert_compounds(
        &mut self,
        street: i64,
        rows: &[(i64, String)],
    ) -> Result<HashMap<(i64, String), i64>> {
        let mut out = HashMap::new();
        for chunk in rows.chunks(BATCH) {
            tx_run!(self, conn, DB => {
                let mut qb = QueryBuilder::<DB>::new("INSERT INTO compound (street_id, community_id, name) ");
                qb.push_values(chunk, |mut b, (c, n)| {
                    b.push_bind(street).push_bind(*c).push_bind(n.clone());
                });
                qb.push(" RETURNING id, community_id, name");
                for r in qb.build().fetch_all(conn).await? {
                    out.insert((r.try_get::<i64, _>(1)?, r.try_get::<String, _>(2)?), r.try_get::<i64, _>(0)?);
                }
            });
        }
        Ok(out)
    }

    /// Inserts buildings; returns ids by `(compound_id, name)`.
    pub async fn insert_buildings(
        &mut self,
        street: i64,
        rows: &[BuildingWrite],
    ) -> Result<HashMap<(i64, String), i64>> {
        let mut out = HashMap::new();
        for chunk in rows.chunks(BATCH) {
            tx_run!(self, conn, DB => {
                let mut qb = QueryBuilder::<DB>::new("INSERT INTO building (street_id, compound_id, grid_id, name, floors, elevator) ");
                qb.push_values(chunk, |mut b, w| {
                    b.push_bind(street).push_bind(w.compound_id).push_bind(w.grid_id).push_bind(w.name.clone()).push_bind(w.floors).push_bind(w.elevator);
                });
                qb.push(" RETURNING id, compound_id, name");
                for r in qb.build().fetch_all(conn).await? {
                    out.insert((r.try_get::<i64, _>(1)?, r.try_get::<String, _>(2)?), r.try_get::<i64, _>(0)?);
                }
            });
        }
        Ok(out)
    }

    /// Inserts units `(building_id, name)`; returns ids by key.
    pub async fn insert_units(
        &mut self,
        street: i64,
        rows: &[(i64, String)],
    ) -> Result<HashMap<(i64, String), i64>> {
        self.insert_child("unit", "building_id", "name", street, rows)
            .await
    }

    /// Inserts households `(unit_id, room)`; returns ids by key.
    pub async fn insert_households(
        &mut self,
        street: i64,
        rows: &[(i64, String)],
    ) -> Result<HashMap<(i64, String), i64>> {
        self.insert_child("household", "unit_id", "room", street, rows)
            .await
    }

    async fn insert_child(
        &mut self,
        table: &str,
        parent: &str,
        name: &str,
        street: i64,
        rows: &[(i64, String)],
    ) -> Result<HashMap<(i64, String), i64>> {
        let mut out = HashMap::with_capacity(rows.len());
        for chunk in rows.chunks(BATCH) {
            tx_run!(self, conn, DB => {
                let mut qb = QueryBuilder::<DB>::new(format!("INSERT INTO {table} (street_id, {parent}, {name}) "));
                qb.push_values(chunk, |mut b, (p, n)| {
                    b.push_bind(street).push_bind(*p).push_bind(n.clone());
                });
                qb.push(format!(" RETURNING id, {parent}, {name}"));
                for r in qb.build().fetch_all(conn).await? {
                    out.insert((r.try_get::<i64, _>(1)?, r.try_get::<String, _>(2)?), r.try_get::<i64, _>(0)?);
                }
            });
        }
        Ok(out)
    }

    /// Inserts residents with their phones and documents; returns ids by uid.
    pub async fn insert_residents(
        &mut self,
        street: i64,
        rows: &[ResidentWrite<'_>],
        now_ms: i64,
    ) -> Result<HashMap<String, i64>> {
        let mut ids = HashMap::with_capacity(rows.len());
        for chunk in rows.chunks(BATCH) {
            // SQLite numbers them itself from the largest id present, which
            // may be below one removed (see migration 0031): above both.
            let first_id = self.next_id_above_floor("resident").await?;
            tx_run!(self, conn, DB => {
                let mut qb = QueryBuilder::<DB>::new(if first_id.is_some() {
                    "INSERT INTO resident (id, street_id, uid, household_id, name, gender, doc_kind, doc_number, birth_date, residence, flags, notes, status, created_ms, updated_ms) "
                } else {
                    "INSERT INTO resident (street_id, uid, household_id, name, gender, doc_kind, doc_number, birth_date, residence, flags, notes, status, created_ms, updated_ms) "
                });
                qb.push_values(chunk.iter().enumerate(), |mut b, (i, w)| {
                    let r = w.resident;
                    let (kind, number) = doc_parts(r);
                    if let Some(first) = first_id {
                        b.push_bind(first + i as i64);
                    }
                    b.push_bind(street)
                        .push_bind(w.uid.clone())
                        .push_bind(w.household_id)
                        .push_bind(r.name.clone())
                        .push_bind(r.gender.code())
                        .push_bind(kind)
                        .push_bind(number)
                        .push_bind(r.birth_date.map(|d| d.to_string()))
                        .push_bind(r.residence.code())
                        .push_bind(i64::from(r.flags.0))
                        .push_bind(r.notes.clone())
                        .push_bind(w.status)
                        .push_bind(now_ms)
                        .push_bind(now_ms);
                });
                qb.push(" RETURNING id, uid");
                for r in qb.build().fetch_all(&mut *conn).await? {
                    ids.insert(r.try_get::<String, _>(1)?, r.try_get::<i64, _>(0)?);
                }
            });
        }
        let mut phones: Vec<(i64, i64, String, &'static str)> = Vec::new();
        let mut docs: Vec<(&'static str, String, i64)> = Vec::new();
        for w in rows {
            let id = *ids
                .get(&w.uid)
                .ok_or_else(|| StoreError::Other(format!("insert lost uid {}", w.uid)))?;
            for (seq, p) in w.resident.phones.iter().enumerate() {
                phones.push((
                    id,
                    seq as i64,
                    p.phone.as_str().to_string(),
                    p.relation.code(),
                ));
            }
            if let Some(d) = &w.resident.document {
                docs.push((d.kind.code(), d.number.clone(), id));
            }
        }
        self.insert_phones(street, &phones).await?;
        self.insert_documents(street, &docs).await?;
        Ok(ids)
    }

    async fn insert_phones(
        &mut self,
        street: i64,
        phones: &[(i64, i64, String, &'static str)],
    ) -> Result<()> {
        for chunk in phones.chunks(BATCH) {
            tx_run!(self, conn, DB => {
                let mut qb = QueryBuilder::<DB>::new("INSERT INTO resident_phone (street_id, resident_id, seq, number, relation) ");
                qb.push_values(chunk, |mut b, (rid, seq, n, rel)| {
                    b.push_bind(street).push_bind(*rid).push_bind(*seq as i32).push_bind(n.clone()).push_bind(*rel);
                });
                qb.build().execute(conn).await?;
            });
        }
        Ok(())
    }

    async fn insert_documents(
        &mut self,
        street: i64,
        docs: &[(&'static str, String, i64)],
    ) -> Result<()> {
        for chunk in docs.chunks(BATCH) {
            tx_run!(self, conn, DB => {
                let mut qb = QueryBuilder::<DB>::new("INSERT INTO document_registry (doc_kind, doc_number, street_id, resident_id) ");
                qb.push_values(chunk, |mut b, (k, n, rid)| {
                    b.push_bind(*k).push_bind(n.clone()).push_bind(street).push_bind(*rid);
                });
                qb.build().execute(conn).await.map_err(|e| match StoreError::from(e) {
                    StoreError::Conflict(m) => StoreError::Conflict(format!("a document number is already registered: {m}")),
                    other => other,
                })?;
            });
        }
        Ok(())
    }

    /// Rewrites one resident (and moves them to `household_id`).
    pub async fn update_resident(
        &mut self,
        street: i64,
        id: i64,
        household_id: Option<i64>,
        r: &NewResident,
        now_ms: i64,
    ) -> Result<()> {
        let (kind, number) = doc_parts(r);
        tx_run!(self, conn, DB => {
            let done = sqlx::query(
                "UPDATE resident SET household_id = $3, name = $4, gender = $5, doc_kind = $6, doc_number = $7, birth_date = $8, residence = $9, flags = $10, notes = $11, updated_ms = $12, status = 'active' WHERE street_id = $1 AND id = $2")
                .bind(street).bind(id).bind(household_id).bind(r.name.clone()).bind(r.gender.code())
                .bind(kind.clone()).bind(number.clone()).bind(r.birth_date.map(|d| d.to_string()))
                .bind(r.residence.code()).bind(i64::from(r.flags.0)).bind(r.notes.clone()).bind(now_ms)
                .execute(&mut *conn).await?;
            if done.rows_affected() != 1 {
                return Err(StoreError::NotFound(format!("resident {street}-{id}")));
            }
            sqlx::query("DELETE FROM resident_phone WHERE street_id = $1 AND resident_id = $2").bind(street).bind(id).execute(&mut *conn).await?;
            sqlx::query("DELETE FROM document_registry WHERE street_id = $1 AND resident_id = $2").bind(street).bind(id).execute(&mut *conn).await?;
        });
        let phones: Vec<_> = r
            .phones
            .iter()
            .enumerate()
            .map(|(s, p)| {
                (
                    id,
                    s as i64,
                    p.phone.as_str().to_string(),
                    p.relation.code(),
                )
            })
            .collect();
        self.insert_phones(street, &phones).await?;
        if let (Some(k), Some(n)) = (&r.document, number) {
            self.insert_documents(street, &[(k.kind.code(), n, id)])
                .await?;
        }
        Ok(())
    }

    /// Runs a statement with two integer parameters (street, id).
    pub(crate) async fn exec3(&mut self, sql: &str, street: i64, id: i64) -> Result<u64> {
        Ok(
            tx_run!(self, conn, DB => sqlx::query(sql).bind(street).bind(id).execute(conn).await?.rows_affected()),
        )
    }

    pub(crate) async fn exec_ms(&mut self, sql: &str, a: i64) -> Result<u64> {
        Ok(tx_run!(self, conn, DB => sqlx::query(sql).bind(a).execute(conn).await?.rows_affected()))
    }

    pub(crate) async fn exec_ms2(&mut self, sql: &str, a: i64, b: i64) -> Result<u64> {
        Ok(
            tx_run!(self, conn, DB => sqlx::query(sql).bind(a).bind(b).execute(conn).await?.rows_affected()),
        )
    }

    pub(crate) async fn exec3_with(&mut self, sql: &str, a: i64, b: i64, c: i64) -> Result<u64> {
        Ok(
            tx_run!(self, conn, DB => sqlx::query(sql).bind(a).bind(b).bind(c).execute(conn).await?.rows_affected()),
        )
    }

    /// Appends an audit event inside the transaction.
    pub async fn audit(&mut self, e: &crate::audit::AuditWrite<'_>) -> Result<()> {
        tx_run!(self, conn, DB => {
            sqlx::query("INSERT INTO audit_event (street_id, at_ms, actor, action, target_kind, target_id, detail, address) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
                .bind(e.street_id).bind(e.at_ms).bind(e.actor).bind(e.action).bind(e.target_kind).bind(e.target_id).bind(e.detail).bind(e.address)
                .execute(conn).await?;
        });
        Ok(())
    }
}

impl Store {
    /// The street's registry version (0 before the first import that moved
    /// it): read before an import plans (see [`StoreTx::bump_registry_version`]).
    pub async fn registry_version(&self, street: i64) -> Result<i64> {
        let v: Option<i64> = crate::db_run!(self, pool => sqlx::query_scalar("SELECT version FROM registry_version WHERE street_id = $1").bind(street).fetch_optional(pool).await?);
        Ok(v.unwrap_or(0))
    }
}

impl StoreTx {
    /// Moves the street's registry version on from `read` (what the caller
    /// read before it planned), the first thing an import's write
    /// transaction does; false, and nothing moved, when another import
    /// moved it meanwhile: the plan was made from a registry that is no
    /// more, and the caller plans again. On PostgreSQL a second transaction
    /// waits here for the first to end (the row's lock, or the key it
    /// inserts), then sees its version; on SQLite `begin` already waited.
    pub async fn bump_registry_version(&mut self, street: i64, read: i64) -> Result<bool> {
        let moved: Option<i64> = tx_run!(self, conn, DB => sqlx::query_scalar(
            "INSERT INTO registry_version (street_id, version) VALUES ($1, $2 + 1) \
             ON CONFLICT (street_id) DO UPDATE SET version = registry_version.version + 1 \
             WHERE registry_version.version = $2 RETURNING version")
            .bind(street).bind(read).fetch_optional(conn).await?);
        Ok(moved.is_some())
    }
}

impl StoreTx {
    /// The grid of each building in `ids` as the transaction sees it, the
    /// rows held (shared on PostgreSQL; SQLite's write lock holds them) so
    /// no move lands before the commit.
    pub async fn building_grids(&mut self, street: i64, ids: &[i64]) -> Result<Vec<(i64, i64)>> {
        let share = self.row_lock(RowLock::Share);
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(BATCH) {
            tx_run!(self, conn, DB => {
                let mut qb = QueryBuilder::<DB>::new("SELECT id, grid_id FROM building WHERE street_id = ");
                qb.push_bind(street).push(" AND id IN (");
                let mut sep = qb.separated(", ");
                for id in chunk {
                    sep.push_bind(*id);
                }
                qb.push(")").push(share);
                for r in qb.build().fetch_all(conn).await? {
                    out.push((r.try_get::<i64, _>(0)?, r.try_get::<i64, _>(1)?));
                }
            });
        }
        Ok(out)
    }
}
