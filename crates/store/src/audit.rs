//! The append-only audit log. It holds ids, actions and counts; the
//! exceptions are the free-text reason a few acts carry (why a result was
//! corrected, why a bag was recounted, [`REASON`]) and the name of an
//! imported roster's file ([`FILE`]: `张三家.xlsx` names a family), always the
//! detail's last field: they may name a person, so a purge clears them and
//! keeps the rest of the event.

use crate::import::{tx_run, StoreTx};
use crate::{db_run, Result, Store};
use sqlx::Row;

/// How a free-text reason starts in an event's detail; everything after it
/// is the reason.
pub const REASON: &str = " reason=";

/// How an imported file's name starts in an event's detail; everything
/// after it is the name.
pub const FILE: &str = " file=";

/// What a purged reason or file name reads.
const PURGED_REASON: &str = "已清除";

/// An event's detail with its free text (a [`REASON`] or a [`FILE`],
/// whichever comes first, to the end) cleared; `None` when there is none
/// or it is cleared already. Imports recorded before the file name came
/// last read `file=NAME added=…`: their name is cleared up to ` added=`.
pub fn purged_detail(detail: &str) -> Option<String> {
    let cleared = if let Some(rest) = detail.strip_prefix("file=") {
        let end = rest.rfind(" added=")?;
        format!("file={PURGED_REASON}{}", &rest[end..])
    } else {
        let (at, marker) = [REASON, FILE]
            .iter()
            .filter_map(|m| detail.find(m).map(|at| (at, *m)))
            .min()?;
        format!("{}{marker}{PURGED_REASON}", &detail[..at])
    };
    (cleared != detail).then_some(cleared)
}

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

/// An audit event owned, for a change that writes it in its own
/// transaction once what it names (an id, a count before) is known there.
#[derive(Debug, Clone, Default)]
pub struct AuditRecord {
    pub street_id: i64,
    pub at_ms: i64,
    pub actor: String,
    pub action: String,
    pub target_kind: String,
    pub target_id: String,
    pub detail: String,
    pub address: String,
}

impl AuditRecord {
    pub fn write(&self) -> AuditWrite<'_> {
        AuditWrite {
            street_id: self.street_id,
            at_ms: self.at_ms,
            actor: &self.actor,
            action: &self.action,
            target_kind: &self.target_kind,
            target_id: &self.target_id,
            detail: &self.detail,
            address: &self.address,
        }
    }

    /// The same event from another address (the caller's, for the log).
    pub fn with_address(self, address: &str) -> AuditRecord {
        AuditRecord {
            address: address.replace('\0', "\u{fffd}"),
            ..self
        }
    }

    /// The same event with another detail.
    pub fn with_detail(&self, detail: String) -> AuditRecord {
        AuditRecord {
            detail: detail.replace('\0', "\u{fffd}"),
            ..self.clone()
        }
    }
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

    /// The details of a street's events of `action` on one target, oldest
    /// first.
    pub async fn audit_details(
        &self,
        street: i64,
        action: &str,
        target_kind: &str,
        target_id: &str,
    ) -> Result<Vec<String>> {
        Ok(db_run!(self, pool => sqlx::query_scalar(
            "SELECT detail FROM audit_event WHERE street_id = $1 AND action = $2 AND target_kind = $3 AND target_id = $4 ORDER BY at_ms, id")
            .bind(street).bind(action).bind(target_kind).bind(target_id).fetch_all(pool).await?))
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

impl StoreTx {
    /// Clears the free text of audit events before `before_ms`, reasons and
    /// imported files' names (see [`purged_detail`]); returns how many.
    pub(crate) async fn purge_audit_reasons(&mut self, before_ms: i64) -> Result<i64> {
        let reason = format!("%{REASON}%");
        let file = format!("%{FILE}%");
        let found: Vec<(i64, i64, String)> = tx_run!(self, conn, DB => sqlx::query_as(
            "SELECT street_id, id, detail FROM audit_event WHERE at_ms < $1 AND (detail LIKE $2 OR detail LIKE $3 OR detail LIKE 'file=%')")
            .bind(before_ms).bind(&reason).bind(&file).fetch_all(&mut *conn).await?);
        let mut n = 0_i64;
        for (street, id, detail) in &found {
            let Some(cleared) = purged_detail(detail) else {
                continue;
            };
            tx_run!(self, conn, DB => sqlx::query("UPDATE audit_event SET detail = $3 WHERE street_id = $1 AND id = $2")
                .bind(street).bind(id).bind(&cleared).execute(&mut *conn).await?.rows_affected());
            n += 1;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::purged_detail;

    #[test]
    fn a_purge_clears_reasons_and_file_names_and_keeps_the_counts() {
        assert_eq!(
            purged_detail("bag=1-3 counted=9 reason=王秀兰说少了一管").as_deref(),
            Some("bag=1-3 counted=9 reason=已清除")
        );
        assert_eq!(
            purged_detail("added=1 updated=0 warnings=0 file=张三家 reason=x.xlsx").as_deref(),
            Some("added=1 updated=0 warnings=0 file=已清除")
        );
        // As imports were recorded before: the name first.
        assert_eq!(
            purged_detail("file=张三 家.xlsx added=1 updated=0 warnings=0").as_deref(),
            Some("file=已清除 added=1 updated=0 warnings=0")
        );
        // Cleared already, or nothing to clear: left alone.
        assert_eq!(purged_detail("bag=1-3 reason=已清除"), None);
        assert_eq!(purged_detail("added=1 file=已清除"), None);
        assert_eq!(purged_detail("file=已清除 added=1"), None);
        assert_eq!(purged_detail("residents=3 unmasked=true"), None);
    }
}
