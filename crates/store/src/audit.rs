//! The append-only audit log. It holds ids and actions, never personal values,
//! so it survives a purge intact.

use crate::import::{tx_run, StoreTx};
use crate::{db_run, Result, Store};
use sqlx::Row;

pub struct AuditWrite<'a> {
    /// The street the act concerns; 0 for city-wide acts.
    pub street_id: i64,
    pub at_ms: i64,
    pub actor: &'a str,
    pub action: &'a str,
    pub target_kind: &'a str,
    pub target_id: &'a str,
    pub detail: &'a str,
    pub address: &'a str,
}

#[derive(Debug, Clone)]
pub struct AuditRow {
    pub street_id: i64,
    pub id: i64,
    pub at_ms: i64,
    pub actor: String,
    pub action: String,
    pub target_kind: String,
    pub target_id: String,
    pub detail: String,
    pub address: String,
}

impl Store {
    pub async fn audit(&self, e: &AuditWrite<'_>) -> Result<()> {
        let mut tx = self.begin().await?;
        tx.audit(e).await?;
        tx.commit().await
    }

    /// Events, newest first, optionally filtered by actor and a minimum time.
    pub async fn audit_events(
        &self,
        actor: Option<&str>,
        target: Option<&str>,
        since_ms: Option<i64>,
        limit: i64,
    ) -> Result<Vec<AuditRow>> {
        let rows = db_run!(self, pool => {
            let rows = sqlx::query(
                "SELECT street_id, id, at_ms, actor, action, target_kind, target_id, detail, address FROM audit_event \
                 WHERE ($1 IS NULL OR actor = $1) AND ($2 IS NULL OR at_ms >= $2) AND ($4 IS NULL OR target_id = $4) ORDER BY at_ms DESC, id DESC LIMIT $3")
                .bind(actor).bind(since_ms).bind(limit).bind(target)
                .fetch_all(pool).await?;
            rows.iter().map(|r| Ok(AuditRow {
                street_id: r.try_get(0)?, id: r.try_get(1)?, at_ms: r.try_get(2)?, actor: r.try_get(3)?, action: r.try_get(4)?,
                target_kind: r.try_get(5)?, target_id: r.try_get(6)?, detail: r.try_get(7)?, address: r.try_get(8)?,
            })).collect::<std::result::Result<Vec<_>, sqlx::Error>>()?
        });
        Ok(rows)
    }
}

impl StoreTx {
    /// The first event like `like` (its street, action and target) whose
    /// detail starts with `detail_prefix` (letters, digits, `=` and spaces
    /// only: no `LIKE` wildcards): `(at_ms, actor)`.
    pub(crate) async fn first_audit_event(
        &mut self,
        like: &AuditWrite<'_>,
        detail_prefix: &str,
    ) -> Result<Option<(i64, String)>> {
        let pattern = format!("{detail_prefix}%");
        Ok(tx_run!(self, conn, DB => {
            match sqlx::query("SELECT at_ms, actor FROM audit_event WHERE street_id = $1 AND action = $2 AND target_kind = $3 AND target_id = $4 AND detail LIKE $5 ORDER BY at_ms, id LIMIT 1")
                .bind(like.street_id).bind(like.action).bind(like.target_kind).bind(like.target_id).bind(&pattern)
                .fetch_optional(&mut *conn).await? {
                Some(r) => Some((r.try_get(0)?, r.try_get(1)?)),
                None => None,
            }
        }))
    }
}
