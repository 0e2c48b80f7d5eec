//! Signing keys and code generations for personal codes.

use sqlx::Row;

use crate::{db_run, Result, Store, StoreError};

impl Store {
    /// Keys in service (not retired), newest first: `(id, secret hex)`.
    pub async fn signing_keys(&self) -> Result<Vec<(i64, String)>> {
        Ok(db_run!(self, pool => {
            let rows = sqlx::query("SELECT id, secret FROM signing_key WHERE retired_ms IS NULL ORDER BY id DESC").fetch_all(pool).await?;
            rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect::<std::result::Result<Vec<_>, sqlx::Error>>()?
        }))
    }

    /// A retired key: `(secret hex, retired at)`; None for a key in service
    /// or none at all. A swab taken before the retirement (an offline
    /// station's queue) is still checked with it.
    pub async fn retired_signing_key(&self, id: i64) -> Result<Option<(String, i64)>> {
        Ok(
            db_run!(self, pool => sqlx::query_as("SELECT secret, retired_ms FROM signing_key WHERE id = $1 AND retired_ms IS NOT NULL")
            .bind(id).fetch_optional(pool).await?),
        )
    }

    pub async fn add_signing_key(&self, secret_hex: &str, now_ms: i64) -> Result<i64> {
        Ok(
            db_run!(self, pool => sqlx::query_scalar("INSERT INTO signing_key (secret, created_ms) VALUES ($1, $2) RETURNING id")
            .bind(secret_hex).bind(now_ms).fetch_one(pool).await?),
        )
    }

    /// Retires a key: codes signed with it no longer verify. The newest key
    /// in service (the one new codes are signed with) is refused: a street's
    /// codes would all stop at once, with none to print in their place.
    pub async fn retire_signing_key(&self, id: i64, now_ms: i64) -> Result<()> {
        let n = db_run!(self, pool => sqlx::query("UPDATE signing_key SET retired_ms = $2 WHERE id = $1 AND retired_ms IS NULL \
                                                   AND id <> (SELECT MAX(k.id) FROM signing_key k WHERE k.retired_ms IS NULL)")
            .bind(id).bind(now_ms).execute(pool).await?.rows_affected());
        if n == 0 {
            self.retirable_signing_key(id).await?;
        }
        Ok(())
    }

    /// Whether key `id` could be retired now: NotFound for a key not in
    /// service, Conflict for the key new codes are signed with.
    pub async fn retirable_signing_key(&self, id: i64) -> Result<()> {
        let keys = self.signing_keys().await?;
        if keys.first().map(|k| k.0) == Some(id) {
            return Err(StoreError::Conflict(format!(
                "密钥 {id} 是新码正在使用的密钥，不能停用：请先轮换密钥（codes rotate-key），重新打印码单后再停用 / signing key {id} signs every new code: rotate first (codes rotate-key), reprint the households' code sheets, then retire it"
            )));
        }
        if !keys.iter().any(|k| k.0 == id) {
            return Err(StoreError::NotFound(format!(
                "signing key {id} (or already retired)"
            )));
        }
        Ok(())
    }

    /// How many residents were scanned since `since_ms` with a code signed
    /// with key `id` (their printed sheets stop working when it is retired),
    /// and in how many streets. Codes are made on demand and not stored, so
    /// the scans are what shows which printed sheets are still in use.
    pub async fn residents_scanned_with_key(&self, id: i64, since_ms: i64) -> Result<(i64, i64)> {
        // GW1-{street}-{uid: 16 characters}-{key}-{generation}-{signature}
        let pattern = format!("GW1-%-{}-{id}-%", "_".repeat(16));
        Ok(db_run!(self, pool => {
            let r = sqlx::query("SELECT COUNT(DISTINCT street_id * 4294967296 + resident_id), COUNT(DISTINCT street_id) FROM registration \
                                 WHERE scanned_ms >= $1 AND resident_id IS NOT NULL AND UPPER(raw_code) LIKE $2")
                .bind(since_ms).bind(&pattern).fetch_one(pool).await?;
            (r.try_get::<i64, _>(0)?, r.try_get::<i64, _>(1)?)
        }))
    }

    /// `(uid, code generation)` of a resident.
    /// A purged resident (the emergency is over for them) has no code:
    /// Conflict.
    pub async fn code_identity(&self, street: i64, id: i64) -> Result<(String, i64)> {
        let r: Option<(String, i64, String)> = db_run!(self, pool => {
            match sqlx::query("SELECT uid, code_generation, status FROM resident WHERE street_id = $1 AND id = $2").bind(street).bind(id).fetch_optional(pool).await? {
                Some(r) => Some((r.try_get(0)?, i64::from(r.try_get::<i32, _>(1)?), r.try_get(2)?)),
                None => None,
            }
        });
        match r {
            None => Err(StoreError::NotFound(format!("resident {street}-{id}"))),
            Some((_, _, status)) if status == "purged" => Err(StoreError::Conflict(format!(
                "居民 {street}-{id} 的资料已清除，不再有个人码 / resident {street}-{id} was purged: they have no personal code"
            ))),
            Some((uid, generation, _)) => Ok((uid, generation)),
        }
    }

    /// `(resident id, code generation)` of a uid in a street (none for a
    /// purged resident: their printed code no longer names anyone).
    pub async fn resident_by_uid(&self, street: i64, uid: &str) -> Result<Option<(i64, i64)>> {
        Ok(db_run!(self, pool => {
            match sqlx::query("SELECT id, code_generation FROM resident WHERE street_id = $1 AND uid = $2 AND status <> 'purged'").bind(street).bind(uid).fetch_optional(pool).await? {
                Some(r) => Some((r.try_get(0)?, i64::from(r.try_get::<i32, _>(1)?))),
                None => None,
            }
        }))
    }

    /// Revokes a resident's code at `now_ms`: the next generation is
    /// issued. Returns it.
    /// The resident's code revoked and the next generation issued, with
    /// its audit record (`audit` names the new generation) in the same
    /// transaction.
    pub async fn bump_code_generation(
        &self,
        street: i64,
        id: i64,
        now_ms: i64,
        audit: impl FnOnce(i64) -> crate::audit::AuditRecord,
    ) -> Result<i64> {
        let mut tx = self.begin().await?;
        let g: Option<i32> = crate::import::tx_run!(tx, conn, DB => sqlx::query_scalar("UPDATE resident SET code_generation = code_generation + 1, code_reissued_ms = $3 WHERE street_id = $1 AND id = $2 RETURNING code_generation")
            .bind(street).bind(id).bind(now_ms).fetch_optional(&mut *conn).await?);
        let g = g
            .map(i64::from)
            .ok_or_else(|| StoreError::NotFound(format!("resident {street}-{id}")))?;
        tx.audit(&audit(g).write()).await?;
        tx.commit().await?;
        Ok(g)
    }
}
