//! Accounts, grants, sessions, household links, places of things (for
//! authorisation), and the purge of personal data.

use gw_domain::access::{Grant, Node, Place, Role};
use sqlx::{QueryBuilder, Row};

use crate::import::tx_run;
use crate::{db_run, Result, Store, StoreError};

#[derive(Debug, Clone)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub password_hash: String,
    pub must_change: bool,
    pub failed_logins: i32,
    pub locked_until_ms: i64,
    pub disabled: bool,
}

#[derive(Debug, Clone)]
pub struct GrantRow {
    pub id: i64,
    pub user_id: i64,
    pub grant: Grant,
    pub granted_by: String,
    pub handover_from: Option<i64>,
    pub note: String,
    pub revoked_ms: Option<i64>,
}

pub struct GrantWrite<'a> {
    pub user_id: i64,
    pub role: Role,
    pub node: Node,
    pub from_ms: i64,
    pub until_ms: Option<i64>,
    pub granted_by: &'a str,
    pub handover_from: Option<i64>,
    pub note: &'a str,
    pub now_ms: i64,
}

const USER_COLS: &str = "id, username, display_name, password_hash, must_change, failed_logins, locked_until_ms, disabled";

macro_rules! user_row {
    ($r:expr) => {
        UserRow {
            id: $r.try_get(0)?,
            username: $r.try_get(1)?,
            display_name: $r.try_get(2)?,
            password_hash: $r.try_get(3)?,
            must_change: $r.try_get(4)?,
            failed_logins: $r.try_get(5)?,
            locked_until_ms: $r.try_get(6)?,
            disabled: $r.try_get(7)?,
        }
    };
}

/// What a purge did.
#[derive(Debug, Clone, Default)]
pub struct PurgeCounts {
    pub residents: i64,
    pub phones: i64,
    pub documents: i64,
    pub household_links: i64,
    pub control_reasons: i64,
    /// Registrations whose scanned or typed text (a document number typed
    /// by hand is one) was cleared.
    pub scanned_codes: i64,
    /// Exemptions whose reason (in hospital, deceased …) was cleared.
    pub exemption_reasons: i64,
    /// Hand-overs whose transporter's name, phone and account were cleared.
    pub transporters: i64,
    /// Supply issues whose receiver's name was cleared.
    pub supply_receivers: i64,
    /// Audit events whose free text (a corrected result's or a recount's
    /// reason, an imported roster's file name) was cleared.
    pub audit_reasons: i64,
    /// Residents changed on or after the date, left holding their personal
    /// data (a later date clears them).
    pub residents_kept: i64,
}

impl Store {
    pub async fn user_count(&self) -> Result<i64> {
        Ok(
            db_run!(self, pool => sqlx::query_scalar("SELECT COUNT(*) FROM app_user").fetch_one(pool).await?),
        )
    }

    pub async fn create_user(
        &self,
        username: &str,
        display: &str,
        hash: &str,
        must_change: bool,
        now_ms: i64,
    ) -> Result<i64> {
        Ok(db_run!(self, pool => sqlx::query_scalar(
            "INSERT INTO app_user (username, display_name, password_hash, must_change, created_ms) VALUES ($1, $2, $3, $4, $5) RETURNING id")
            .bind(username).bind(display).bind(hash).bind(must_change).bind(now_ms).fetch_one(pool).await?))
    }

    pub async fn user_by_name(&self, username: &str) -> Result<Option<UserRow>> {
        Ok(db_run!(self, pool => {
            let q = format!("SELECT {USER_COLS} FROM app_user WHERE username = $1");
            match sqlx::query(&q).bind(username).fetch_optional(pool).await? {
                Some(r) => Some(user_row!(r)),
                None => None,
            }
        }))
    }

    pub async fn user(&self, id: i64) -> Result<UserRow> {
        let u = db_run!(self, pool => {
            let q = format!("SELECT {USER_COLS} FROM app_user WHERE id = $1");
            match sqlx::query(&q).bind(id).fetch_optional(pool).await? {
                Some(r) => Some(user_row!(r)),
                None => None,
            }
        });
        u.ok_or_else(|| StoreError::NotFound(format!("user {id}")))
    }

    pub async fn users(&self) -> Result<Vec<UserRow>> {
        Ok(db_run!(self, pool => {
            let q = format!("SELECT {USER_COLS} FROM app_user ORDER BY id");
            let rows = sqlx::query(&q).fetch_all(pool).await?;
            rows.iter().map(|r| Ok(user_row!(r))).collect::<std::result::Result<Vec<_>, sqlx::Error>>()?
        }))
    }

    pub async fn set_password(&self, user: i64, hash: &str, must_change: bool) -> Result<()> {
        db_run!(self, pool => {
            sqlx::query("UPDATE app_user SET password_hash = $2, must_change = $3, failed_logins = 0, locked_until_ms = 0 WHERE id = $1")
                .bind(user).bind(hash).bind(must_change).execute(pool).await?;
        });
        Ok(())
    }

    /// Claims the right to check one password of `user` now: one check at a
    /// time per account, and none while it is locked. The claim is a short
    /// lease in `locked_until_ms`, released by [`Store::finish_password_check`].
    pub async fn claim_password_check(
        &self,
        user: i64,
        now_ms: i64,
        lease_ms: i64,
    ) -> Result<bool> {
        let n = db_run!(self, pool => sqlx::query("UPDATE app_user SET locked_until_ms = $2 + $3 WHERE id = $1 AND locked_until_ms <= $2")
            .bind(user).bind(now_ms).bind(lease_ms).execute(pool).await?.rows_affected());
        Ok(n == 1)
    }

    /// Ends a claimed check: a success clears the failures; a failure adds one
    /// atomically and locks the account for `lock_ms(failures)`. Returns the failures.
    pub async fn finish_password_check(
        &self,
        user: i64,
        ok: bool,
        now_ms: i64,
        lock_ms: impl Fn(i32) -> i64,
    ) -> Result<i32> {
        if ok {
            db_run!(self, pool => { sqlx::query("UPDATE app_user SET failed_logins = 0, locked_until_ms = 0 WHERE id = $1").bind(user).execute(pool).await?; });
            return Ok(0);
        }
        let failures: i32 = db_run!(self, pool => sqlx::query_scalar("UPDATE app_user SET failed_logins = failed_logins + 1 WHERE id = $1 RETURNING failed_logins")
            .bind(user).fetch_one(pool).await?);
        let wait = lock_ms(failures);
        db_run!(self, pool => {
            sqlx::query("UPDATE app_user SET locked_until_ms = $2 WHERE id = $1").bind(user).bind(if wait > 0 { now_ms + wait } else { 0 }).execute(pool).await?;
        });
        Ok(failures)
    }

    pub async fn add_grant(&self, w: &GrantWrite<'_>) -> Result<i64> {
        let (kind, street, node) = w.node.parts();
        Ok(db_run!(self, pool => sqlx::query_scalar(
            "INSERT INTO user_grant (user_id, role, node_kind, street_id, node_id, from_ms, until_ms, granted_by, handover_from, note, created_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id")
            .bind(w.user_id).bind(w.role.code()).bind(kind).bind(street).bind(node).bind(w.from_ms).bind(w.until_ms)
            .bind(w.granted_by).bind(w.handover_from).bind(w.note).bind(w.now_ms).fetch_one(pool).await?))
    }

    /// Ends a grant now; it stays in the history.
    pub async fn revoke_grant(&self, id: i64, now_ms: i64) -> Result<()> {
        let n = db_run!(self, pool => sqlx::query("UPDATE user_grant SET revoked_ms = $2 WHERE id = $1 AND revoked_ms IS NULL")
            .bind(id).bind(now_ms).execute(pool).await?.rows_affected());
        if n == 0 {
            return Err(StoreError::NotFound(format!(
                "grant {id} (or already revoked)"
            )));
        }
        Ok(())
    }

    /// A user's grants (all of them, `None` for every user), revoked ones included.
    pub async fn grants(&self, user: Option<i64>) -> Result<Vec<GrantRow>> {
        Ok(db_run!(self, pool => {
            let rows = sqlx::query(
                "SELECT id, user_id, role, node_kind, street_id, node_id, from_ms, until_ms, granted_by, handover_from, note, revoked_ms \
                 FROM user_grant WHERE ($1 IS NULL OR user_id = $1) ORDER BY id")
                .bind(user).fetch_all(pool).await?;
            let mut out = Vec::new();
            for r in rows {
                let role: String = r.try_get(2)?;
                let kind: String = r.try_get(3)?;
                let (Some(role), Some(node)) = (Role::from_code(&role), Node::from_parts(&kind, r.try_get(4)?, r.try_get(5)?)) else { continue };
                let revoked: Option<i64> = r.try_get(11)?;
                let until: Option<i64> = r.try_get(7)?;
                // A revoked grant ends when it was revoked.
                let until = match (until, revoked) {
                    (Some(u), Some(v)) => Some(u.min(v)),
                    (u, v) => u.or(v),
                };
                out.push(GrantRow {
                    id: r.try_get(0)?, user_id: r.try_get(1)?,
                    grant: Grant { role, node, from_ms: r.try_get(6)?, until_ms: until },
                    granted_by: r.try_get(8)?, handover_from: r.try_get(9)?, note: r.try_get(10)?, revoked_ms: revoked,
                });
            }
            out
        }))
    }

    pub async fn create_session(
        &self,
        token_hash: &str,
        user: i64,
        csrf: &str,
        now_ms: i64,
        expires_ms: i64,
        address: &str,
    ) -> Result<()> {
        db_run!(self, pool => {
            sqlx::query("INSERT INTO user_session (token_hash, user_id, csrf, created_ms, expires_ms, address) VALUES ($1, $2, $3, $4, $5, $6)")
                .bind(token_hash).bind(user).bind(csrf).bind(now_ms).bind(expires_ms).bind(address).execute(pool).await?;
        });
        Ok(())
    }

    /// `(user, csrf, expires_ms)` of a session.
    pub async fn session(&self, token_hash: &str) -> Result<Option<(i64, String, i64)>> {
        Ok(db_run!(self, pool => {
            match sqlx::query("SELECT user_id, csrf, expires_ms FROM user_session WHERE token_hash = $1").bind(token_hash).fetch_optional(pool).await? {
                Some(r) => Some((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)),
                None => None,
            }
        }))
    }

    pub async fn delete_session(&self, token_hash: &str) -> Result<()> {
        db_run!(self, pool => { sqlx::query("DELETE FROM user_session WHERE token_hash = $1").bind(token_hash).execute(pool).await?; });
        Ok(())
    }

    pub async fn delete_sessions_of(&self, user: i64) -> Result<()> {
        db_run!(self, pool => { sqlx::query("DELETE FROM user_session WHERE user_id = $1").bind(user).execute(pool).await?; });
        Ok(())
    }

    pub async fn create_household_link(
        &self,
        street: i64,
        household: i64,
        token_hash: &str,
        by: &str,
        now_ms: i64,
    ) -> Result<()> {
        db_run!(self, pool => {
            sqlx::query("INSERT INTO household_link (street_id, token_hash, household_id, created_ms, created_by) VALUES ($1, $2, $3, $4, $5)")
                .bind(street).bind(token_hash).bind(household).bind(now_ms).bind(by).execute(pool).await?;
        });
        Ok(())
    }

    /// The household a live link opens.
    pub async fn household_of_link(&self, street: i64, token_hash: &str) -> Result<Option<i64>> {
        Ok(
            db_run!(self, pool => sqlx::query_scalar("SELECT household_id FROM household_link WHERE street_id = $1 AND token_hash = $2 AND revoked_ms IS NULL")
            .bind(street).bind(token_hash).fetch_optional(pool).await?),
        )
    }

    /// Revokes every live link of a household; returns how many.
    pub async fn revoke_household_links(
        &self,
        street: i64,
        household: i64,
        now_ms: i64,
    ) -> Result<u64> {
        Ok(
            db_run!(self, pool => sqlx::query("UPDATE household_link SET revoked_ms = $3 WHERE street_id = $1 AND household_id = $2 AND revoked_ms IS NULL")
            .bind(street).bind(household).bind(now_ms).execute(pool).await?.rows_affected()),
        )
    }

    /// The grids a testing point stands in or serves, for reading its
    /// disinfection task: inside a compound, the grids of the compound's
    /// buildings (one grid when they all are in one; the point serves only
    /// its compound); outside any compound, the grids of the buildings its
    /// stored call-down plan sends to it (none without a plan). Ascending.
    pub async fn point_grids(&self, street: i64, point: i64) -> Result<Vec<i64>> {
        Ok(db_run!(self, pool => sqlx::query_scalar(
            "SELECT b.grid_id FROM building b JOIN testing_point p ON p.street_id = b.street_id AND p.compound_id = b.compound_id \
             WHERE p.street_id = $1 AND p.id = $2 \
             UNION SELECT b.grid_id FROM schedule_call c JOIN testing_point p ON p.street_id = c.street_id AND p.id = c.point_id \
             JOIN building b ON b.street_id = c.street_id AND b.id = c.building_id \
             WHERE c.street_id = $1 AND c.point_id = $2 AND p.compound_id IS NULL ORDER BY 1")
            .bind(street).bind(point).fetch_all(pool).await?))
    }

    /// Where a grid, building, unit or household is (by its grid).
    pub async fn place_of(&self, street: i64, kind: &str, id: i64) -> Result<Place> {
        let grid_sql = match kind {
            "grid" => "SELECT g.id FROM grid g WHERE g.street_id = $1 AND g.id = $2",
            "building" => "SELECT b.grid_id FROM building b WHERE b.street_id = $1 AND b.id = $2",
            "unit" => "SELECT b.grid_id FROM unit u JOIN building b ON b.street_id = u.street_id AND b.id = u.building_id WHERE u.street_id = $1 AND u.id = $2",
            "household" => "SELECT b.grid_id FROM household h JOIN unit u ON u.street_id = h.street_id AND u.id = h.unit_id \
                            JOIN building b ON b.street_id = u.street_id AND b.id = u.building_id WHERE h.street_id = $1 AND h.id = $2",
            "resident" => "SELECT b.grid_id FROM resident r LEFT JOIN household h ON h.street_id = r.street_id AND h.id = r.household_id \
                           LEFT JOIN unit u ON u.street_id = h.street_id AND u.id = h.unit_id \
                           LEFT JOIN building b ON b.street_id = u.street_id AND b.id = u.building_id WHERE r.street_id = $1 AND r.id = $2",
            _ => "",
        };
        let district: Option<i64> = db_run!(self, pool => sqlx::query_scalar("SELECT district_id FROM street WHERE id = $1").bind(street).fetch_optional(pool).await?);
        let Some(district) = district else {
            return Err(StoreError::NotFound(format!("street {street}")));
        };
        let mut place = Place {
            district: Some(district),
            street,
            community: None,
            grid: None,
            point: None,
        };
        match kind {
            "street" => return Ok(place),
            "community" => {
                let n: i64 = db_run!(self, pool => sqlx::query_scalar("SELECT COUNT(*) FROM community WHERE street_id = $1 AND id = $2").bind(street).bind(id).fetch_one(pool).await?);
                if n == 0 {
                    return Err(StoreError::NotFound(format!("community {street}-{id}")));
                }
                place.community = Some(id);
                return Ok(place);
            }
            "compound" => {
                let c: Option<i64> = db_run!(self, pool => sqlx::query_scalar("SELECT community_id FROM compound WHERE street_id = $1 AND id = $2").bind(street).bind(id).fetch_optional(pool).await?);
                place.community =
                    Some(c.ok_or_else(|| StoreError::NotFound(format!("compound {street}-{id}")))?);
                return Ok(place);
            }
            _ => {}
        }
        if grid_sql.is_empty() {
            return Err(StoreError::NotFound(format!("{kind} {street}-{id}")));
        }
        let grid: Option<Option<i64>> = db_run!(self, pool => sqlx::query_scalar(grid_sql).bind(street).bind(id).fetch_optional(pool).await?);
        let Some(grid) = grid else {
            return Err(StoreError::NotFound(format!("{kind} {street}-{id}")));
        };
        if let Some(g) = grid {
            let c: i64 = db_run!(self, pool => sqlx::query_scalar("SELECT community_id FROM grid WHERE street_id = $1 AND id = $2").bind(street).bind(g).fetch_one(pool).await?);
            place.grid = Some(g);
            place.community = Some(c);
        }
        Ok(place)
    }

    /// Deletes or anonymises the personal data of residents last changed
    /// before `before_ms`: names become `已清除`, documents, birth dates,
    /// phones, flags and notes go, household links are revoked; the text
    /// scanned or typed for swabs, control orders' and exemptions' reasons,
    /// transporters' names and phones and the free text audit events carry
    /// (reasons, imported files' names: see [`crate::audit::purged_detail`])
    /// from before then are cleared. Rows (and
    /// so counts per grid and household) remain; residents changed since
    /// are counted, not touched. On SQLite the transaction
    /// runs with `secure_delete`: what it deletes or shortens is overwritten
    /// with zeros in the pages it writes. Older copies of the bytes stay in
    /// the files until [`Self::scrub_files`] rewrites them.
    pub async fn purge_before(&self, before_ms: i64, now_ms: i64) -> Result<PurgeCounts> {
        let mut c = PurgeCounts::default();
        let own = self.scrubbing().await?;
        let mut tx = match &own {
            Some((pool, _)) => crate::import::StoreTx(crate::import::Tx::Sqlite(
                pool.begin_with("BEGIN IMMEDIATE").await?,
            )),
            None => self.begin().await?,
        };
        tx.purge(before_ms, now_ms, &mut c).await?;
        tx.commit().await?;
        if let Some((pool, _)) = own {
            pool.close().await;
        }
        Ok(c)
    }

    /// After a purge: rewrites the database's files so that what it cleared
    /// is gone from the bytes, not only from the rows (a deleted value stays
    /// in its page's free space, in a free page, in the -wal file's older
    /// copies of the page, in a PostgreSQL table's dead tuples until
    /// rewritten). SQLite: `VACUUM` (a fresh copy of the live rows and
    /// nothing else), then `PRAGMA wal_checkpoint(TRUNCATE)`, which empties
    /// the -wal file; each waits at most the busy timeout for other
    /// connections (a server's idle ones hold nothing). PostgreSQL: `VACUUM
    /// FULL` of each table that holds personal data, waiting at most
    /// [`LOCK_WAIT_S`] for another session's lock, and the planner
    /// statistics sampled from them (cleared, for a superuser, and sampled
    /// again). Returns what could not be done.
    pub async fn scrub_files(&self) -> Result<Vec<FileGap>> {
        match &self.pool {
            crate::Pool::Sqlite(_) => {
                let Some((pool, file)) = self.scrubbing().await? else {
                    return Ok(Vec::new());
                };
                let r = scrub_sqlite(&pool, &file).await;
                pool.close().await;
                r
            }
            crate::Pool::Postgres(p) => {
                let pool = crate::pg_pool((*p.connect_options()).clone(), 1).await?;
                let r = scrub_postgres(&pool).await;
                pool.close().await;
                r
            }
        }
    }
}

/// The tables that hold personal data, or held it before a purge cleared
/// it: what [`Store::scrub_files`] rewrites on PostgreSQL.
const PERSONAL_TABLES: [&str; 11] = [
    "resident",
    "resident_phone",
    "document_registry",
    "household_link",
    "registration",
    "voided_swab",
    "control_order",
    "round_exemption",
    "handoff",
    "supply_issue",
    "audit_event",
];

/// How long a rewrite waits for another session's lock (a server's
/// request, a running import) before it says what it could not do.
const LOCK_WAIT_S: u64 = 30;

/// What [`Store::scrub_files`] could not do: the rows are cleared either
/// way, but old bytes of them may be left where this says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileGap {
    /// SQLite: the file was not rewritten (`VACUUM` failed, for this reason).
    NotRewritten(String),
    /// SQLite: the -wal file could not be emptied: another process was
    /// reading the database (`bytes` are left in it).
    WalKept { bytes: u64 },
    /// PostgreSQL: a transaction begun before the purge was still running
    /// (in this or another database of the server) past the wait: the
    /// rewritten tables keep the rows it might still see.
    OlderTransaction,
    /// PostgreSQL: tables another session held past the wait, not rewritten.
    TablesHeld(Vec<String>),
    /// PostgreSQL: the planner statistics of these tables may keep values
    /// sampled before the purge; only a superuser may clear them.
    Statistics(Vec<String>),
}

impl std::fmt::Display for FileGap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FileGap::NotRewritten(why) => write!(
                f,
                "数据库文件未能重写（VACUUM 失败：{why}），清除前的内容可能仍在文件的空闲空间里 / the database file was not rewritten (VACUUM failed: {why}): what was cleared may remain in its free space"
            ),
            FileGap::WalKept { bytes } => write!(
                f,
                "WAL 文件未能清空（另一进程正在读数据库，文件还有 {bytes} 字节），其中可能仍有清除前的旧页面 / the WAL file could not be emptied (another process was reading the database; {bytes} bytes are left): it may still hold pages from before the purge"
            ),
            FileGap::OlderTransaction => write!(
                f,
                "清除前开始的事务（本库或同一服务器的其他库）{LOCK_WAIT_S} 秒后仍在运行，它可能还看得到的旧行被保留在重写的表文件中 / a transaction begun before the purge (in this or another database of the server) was still running after {LOCK_WAIT_S} s: the rewritten tables keep the old rows it might still see"
            ),
            FileGap::TablesHeld(t) => write!(
                f,
                "这些表被其他会话占用超过 {LOCK_WAIT_S} 秒，未能重写，已删除的旧行可能仍在表文件中：{} / these tables were held by other sessions for over {LOCK_WAIT_S} s and were not rewritten: deleted rows may remain in their files: {}",
                t.join("、"),
                t.join(", ")
            ),
            FileGap::Statistics(t) => write!(
                f,
                "这些表的查询统计信息（pg_statistic）可能仍有清除前抽样的值，只有超级用户能清除（以超级用户连接再运行一次）：{} / the planner statistics (pg_statistic) of these tables may still hold values sampled before the purge; only a superuser can clear them (run the purge again connected as one): {}",
                t.join("、"),
                t.join(", ")
            ),
        }
    }
}

async fn scrub_sqlite(pool: &sqlx::SqlitePool, file: &std::path::Path) -> Result<Vec<FileGap>> {
    let mut gaps = Vec::new();
    let mut conn = pool.acquire().await?;
    if let Err(e) = sqlx::query("VACUUM").execute(&mut *conn).await {
        gaps.push(FileGap::NotRewritten(e.to_string()));
    }
    // The answer says whether it was done: busy = 1 when another
    // connection kept it from finishing, log = the frames left in the WAL
    // (0 once truncated).
    let (busy, log, _): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
        .fetch_one(&mut *conn)
        .await?;
    if busy != 0 || log != 0 {
        let mut wal = file.as_os_str().to_owned();
        wal.push("-wal");
        let bytes = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
        gaps.push(FileGap::WalKept { bytes });
    }
    Ok(gaps)
}

/// Waits, at most [`LOCK_WAIT_S`], until no transaction that began before
/// this call is still running in any database of the server, and no other
/// session of this database holds a snapshot taken before it: until then
/// `VACUUM FULL` copies the rows deleted meanwhile into the new file, as
/// rows someone might still see. Whether it came to that.
async fn wait_for_older_snapshots(conn: &mut sqlx::PgConnection) -> Result<bool> {
    let now: i64 = sqlx::query_scalar("SELECT txid_current()")
        .fetch_one(&mut *conn)
        .await?;
    for _ in 0..LOCK_WAIT_S * 10 {
        let clear: bool = sqlx::query_scalar(
            "SELECT txid_snapshot_xmin(txid_current_snapshot()) > $1 AND NOT EXISTS (SELECT 1 FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_xmin IS NOT NULL \
             AND age(backend_xmin) >= age(($1 % 4294967296)::text::xid))",
        )
        .bind(now)
        .fetch_one(&mut *conn)
        .await?;
        if clear {
            return Ok(true);
        }
        sqlx::query("SELECT pg_sleep(0.1)")
            .execute(&mut *conn)
            .await?;
    }
    Ok(false)
}

async fn scrub_postgres(pool: &sqlx::PgPool) -> Result<Vec<FileGap>> {
    let mut gaps = Vec::new();
    let mut conn = pool.acquire().await?;
    sqlx::query(&format!("SET lock_timeout = '{LOCK_WAIT_S}s'"))
        .execute(&mut *conn)
        .await?;
    // 55P03 lock_not_available: another session held the table past the wait.
    let held = |e: &sqlx::Error| matches!(e, sqlx::Error::Database(d) if d.code().as_deref() == Some("55P03"));
    if !wait_for_older_snapshots(&mut conn).await? {
        gaps.push(FileGap::OlderTransaction);
    }
    let mut not_rewritten = Vec::new();
    for t in PERSONAL_TABLES {
        // Outside a transaction (VACUUM refuses to run in one), one table at a time.
        match sqlx::query(&format!("VACUUM FULL {t}"))
            .execute(&mut *conn)
            .await
        {
            Ok(_) => {}
            Err(e) if held(&e) => not_rewritten.push(t.to_string()),
            Err(e) => return Err(e.into()),
        }
    }
    if !not_rewritten.is_empty() {
        gaps.push(FileGap::TablesHeld(not_rewritten));
    }
    // ANALYZE (autovacuum runs it) keeps samples of the columns' values,
    // most common values and histogram bounds, in pg_statistic.
    let tables: Vec<String> = PERSONAL_TABLES.iter().map(|t| t.to_string()).collect();
    let sampled: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT tablename::text FROM pg_stats WHERE schemaname = current_schema() AND tablename = ANY($1)",
    )
    .bind(&tables)
    .fetch_all(&mut *conn)
    .await?;
    if sampled.is_empty() {
        return Ok(gaps);
    }
    let superuser: bool =
        sqlx::query_scalar("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            .fetch_one(&mut *conn)
            .await?;
    if superuser {
        sqlx::query(
            "DELETE FROM pg_statistic WHERE starelid IN (SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = current_schema() AND c.relname = ANY($1))",
        )
        .bind(&sampled)
        .execute(&mut *conn)
        .await?;
        if !wait_for_older_snapshots(&mut conn).await? && !gaps.contains(&FileGap::OlderTransaction)
        {
            gaps.push(FileGap::OlderTransaction);
        }
        match sqlx::query("VACUUM FULL pg_statistic")
            .execute(&mut *conn)
            .await
        {
            Ok(_) => {}
            Err(e) if held(&e) => gaps.push(FileGap::Statistics(sampled.clone())),
            Err(e) => return Err(e.into()),
        }
    } else {
        gaps.push(FileGap::Statistics(sampled.clone()));
    }
    // The planner needs statistics of the tables in use: sampled again from
    // what is left (an empty table is left unanalysed, as a round's
    // registrations are before its first swab).
    for t in &sampled {
        let any: Option<i32> = sqlx::query_scalar(&format!("SELECT 1 FROM {t} LIMIT 1"))
            .fetch_optional(&mut *conn)
            .await?;
        if any.is_some() {
            sqlx::query(&format!("ANALYZE {t}"))
                .execute(&mut *conn)
                .await?;
        }
    }
    Ok(gaps)
}

impl crate::import::StoreTx {
    pub(crate) async fn purge(
        &mut self,
        before_ms: i64,
        now_ms: i64,
        c: &mut PurgeCounts,
    ) -> Result<()> {
        let sel = "SELECT street_id, id FROM resident WHERE updated_ms < $1 AND status <> 'purged'";
        c.phones = self.exec_ms(&format!("DELETE FROM resident_phone WHERE EXISTS (SELECT 1 FROM ({sel}) p WHERE p.street_id = resident_phone.street_id AND p.id = resident_phone.resident_id)"), before_ms).await? as i64;
        c.documents = self.exec_ms(&format!("DELETE FROM document_registry WHERE EXISTS (SELECT 1 FROM ({sel}) p WHERE p.street_id = document_registry.street_id AND p.id = document_registry.resident_id)"), before_ms).await? as i64;
        c.household_links = self
            .exec_ms2(
                &format!("UPDATE household_link SET revoked_ms = $2 WHERE revoked_ms IS NULL AND EXISTS (SELECT 1 FROM ({sel}) p JOIN resident r ON r.street_id = p.street_id AND r.id = p.id \
                          WHERE r.street_id = household_link.street_id AND r.household_id = household_link.household_id)"),
                before_ms,
                now_ms,
            )
            .await? as i64;
        // A swab's scanned text may be a document number typed by hand, and
        // its problem text may quote one (a mistyped birth date); the swab
        // itself (who, which tube, when, whether a duplicate) stays for the counts.
        c.scanned_codes = self
            .exec_ms(
                "UPDATE registration SET raw_code = '', problem = CASE WHEN problem = '' THEN '' ELSE '已清除' END \
                 WHERE stored_ms < $1 AND (raw_code <> '' OR (problem <> '' AND problem <> '已清除'))",
                before_ms,
            )
            .await? as i64;
        // Swabs taken back: the same, and why (a reason may name the person).
        c.scanned_codes += self
            .exec_ms(
                "UPDATE voided_swab SET raw_code = '', problem = CASE WHEN problem = '' THEN '' ELSE '已清除' END, reason = '已清除' \
                 WHERE stored_ms < $1 AND (raw_code <> '' OR reason <> '已清除')",
                before_ms,
            )
            .await? as i64;
        // Free-text reasons may name people or illnesses; the orders themselves stay.
        c.control_reasons = self.exec_ms("UPDATE control_order SET reason = '已清除' WHERE created_ms < $1 AND reason <> '已清除'", before_ms).await? as i64;
        // Why someone was exempt (in hospital, deceased …) is health data;
        // that they were exempt stays for the counts.
        c.exemption_reasons = self.exec_ms("UPDATE round_exemption SET reason = '已清除' WHERE created_ms < $1 AND reason <> '已清除'", before_ms).await? as i64;
        // The transporter who took the boxes: a name and a phone number.
        c.transporters = self
            .exec_ms(
                "UPDATE handoff SET transporter_name = '已清除', transporter_phone = '', transporter_account = '' \
                 WHERE created_ms < $1 AND (transporter_name <> '已清除' OR transporter_phone <> '' OR transporter_account <> '')",
                before_ms,
            )
            .await? as i64;
        // Who took the supplies at the point: a name typed in.
        c.supply_receivers = self
            .exec_ms(
                "UPDATE supply_issue SET received_by = '已清除' WHERE issued_ms < $1 AND received_by <> '' AND received_by <> '已清除'",
                before_ms,
            )
            .await? as i64;
        c.audit_reasons = self.purge_audit_reasons(before_ms).await?;
        c.residents = self
            .exec_ms2(
                "UPDATE resident SET name = '已清除', doc_kind = NULL, doc_number = NULL, birth_date = NULL, flags = 0, notes = '', status = 'purged', updated_ms = $2 \
                 WHERE updated_ms < $1 AND status <> 'purged'",
                before_ms,
                now_ms,
            )
            .await? as i64;
        c.residents_kept = tx_run!(self, conn, DB => sqlx::query_scalar(
            "SELECT COUNT(*) FROM resident WHERE updated_ms >= $1 AND status <> 'purged'")
            .bind(before_ms).fetch_one(&mut *conn).await?);
        Ok(())
    }
}

/// Narrows a resident query to the nodes a caller may see (`r`, `g`, `cm`
/// are the resident, grid and community aliases of the registry query).
pub(crate) fn push_scope<'a, DB: sqlx::Database>(qb: &mut QueryBuilder<'a, DB>, nodes: &'a [Node])
where
    i64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    if nodes.iter().any(|n| matches!(n, Node::City)) {
        return;
    }
    qb.push(" AND (1 = 0");
    for n in nodes {
        match *n {
            Node::City | Node::Point { .. } => {}
            Node::District { id } => {
                qb.push(" OR r.street_id IN (SELECT s.id FROM street s WHERE s.district_id = ")
                    .push_bind(id)
                    .push(")");
            }
            Node::Street { id } => {
                qb.push(" OR r.street_id = ").push_bind(id);
            }
            Node::Community { street, id } => {
                qb.push(" OR (r.street_id = ")
                    .push_bind(street)
                    .push(" AND cm.id = ")
                    .push_bind(id)
                    .push(")");
            }
            Node::Grid { street, id } => {
                qb.push(" OR (r.street_id = ")
                    .push_bind(street)
                    .push(" AND g.id = ")
                    .push_bind(id)
                    .push(")");
            }
        }
    }
    qb.push(")");
}
