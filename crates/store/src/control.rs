//! Control status (封控 / 管控 / 防范 / 临时管控) on compounds, buildings, units
//! and households. Orders are appended, never overwritten: the history is kept.

use gw_domain::territory::{ControlOrder, ControlStatus, ControlTarget};
use sqlx::Row;

use crate::{db_run, Result, Store, StoreError};

#[derive(Debug, Clone)]
pub struct ControlWrite<'a> {
    pub street_id: i64,
    pub target: ControlTarget,
    pub target_id: i64,
    pub status: ControlStatus,
    pub from_ms: i64,
    pub until_ms: Option<i64>,
    pub reason: &'a str,
    pub set_by: &'a str,
    pub now_ms: i64,
}

/// An order whose stay-home notice is still owed (`notice_due` set): the
/// request that set it died before the notice was queued, or could not
/// queue it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeDue {
    pub street_id: i64,
    pub id: i64,
    pub target: ControlTarget,
    pub target_id: i64,
    pub order: ControlOrder,
    /// The alert whose temporary control it is; `None`: set by hand.
    pub alert_id: Option<i64>,
    pub created_ms: i64,
}

#[derive(Debug, Clone)]
pub struct ControlRow {
    pub street_id: i64,
    pub id: i64,
    pub target: ControlTarget,
    pub target_id: i64,
    pub order: ControlOrder,
    pub reason: String,
    pub set_by: String,
    pub created_ms: i64,
}

impl Store {
    /// Whether a compound, building, unit or household exists in the street.
    pub async fn control_target_exists(
        &self,
        street: i64,
        target: ControlTarget,
        id: i64,
    ) -> Result<bool> {
        let table = match target {
            ControlTarget::Compound => "compound",
            ControlTarget::Building => "building",
            ControlTarget::Unit => "unit",
            ControlTarget::Household => "household",
        };
        let n: i64 = db_run!(self, pool => sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table} WHERE street_id = $1 AND id = $2")).bind(street).bind(id).fetch_one(pool).await?);
        Ok(n > 0)
    }

    pub async fn set_control(
        &self,
        w: &ControlWrite<'_>,
        audit: &crate::audit::AuditRecord,
    ) -> Result<i64> {
        if !self
            .control_target_exists(w.street_id, w.target, w.target_id)
            .await?
        {
            return Err(StoreError::NotFound(format!(
                "{} {}-{}",
                w.target.code(),
                w.street_id,
                w.target_id
            )));
        }
        // An order that keeps people at home owes its notice (暂停下楼)
        // from its own insert on: see [`Self::notice_due_orders`].
        let due = i32::from(w.status.door_to_door_only());
        let sql = format!(
            "INSERT INTO control_order (street_id, target_kind, target_id, status, from_ms, until_ms, reason, set_by, created_ms, notice_due) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, {due}) RETURNING id"
        );
        // With its audit record: neither is stored without the other.
        let mut tx = self.begin().await?;
        let id = crate::import::tx_run!(tx, conn, DB => sqlx::query_scalar(&sql)
            .bind(w.street_id).bind(w.target.code()).bind(w.target_id).bind(w.status.code()).bind(w.from_ms).bind(w.until_ms)
            .bind(w.reason).bind(w.set_by).bind(w.now_ms).fetch_one(&mut *conn).await?);
        tx.audit(&audit.write()).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// The full history of one target, oldest first.
    pub async fn control_history(
        &self,
        street: i64,
        target: ControlTarget,
        id: i64,
    ) -> Result<Vec<ControlRow>> {
        Ok(db_run!(self, pool => {
            let rows = sqlx::query(
                "SELECT street_id, id, target_kind, target_id, status, from_ms, until_ms, reason, set_by, created_ms FROM control_order \
                 WHERE street_id = $1 AND target_kind = $2 AND target_id = $3 ORDER BY created_ms, id")
                .bind(street).bind(target.code()).bind(id).fetch_all(pool).await?;
            let mut out = Vec::new();
            for r in rows {
                let kind: String = r.try_get(2)?;
                let status: String = r.try_get(4)?;
                let (Some(target), Some(status)) = (ControlTarget::from_code(&kind), ControlStatus::from_code(&status)) else { continue };
                out.push(ControlRow {
                    street_id: r.try_get(0)?, id: r.try_get(1)?, target, target_id: r.try_get(3)?,
                    order: ControlOrder { status, from_ms: r.try_get(5)?, until_ms: r.try_get(6)? },
                    reason: r.try_get(7)?, set_by: r.try_get(8)?, created_ms: r.try_get(9)?,
                });
            }
            out
        }))
    }

    /// The orders of every street whose notice is still owed, set before
    /// `created_before_ms`, by street and id.
    pub async fn notice_due_orders(&self, created_before_ms: i64) -> Result<Vec<NoticeDue>> {
        Ok(db_run!(self, pool => {
            let rows = sqlx::query(
                "SELECT street_id, id, target_kind, target_id, status, from_ms, until_ms, alert_id, created_ms FROM control_order \
                 WHERE notice_due <> 0 AND created_ms < $1 ORDER BY street_id, id")
                .bind(created_before_ms).fetch_all(pool).await?;
            let mut out = Vec::new();
            for r in rows {
                let kind: String = r.try_get(2)?;
                let status: String = r.try_get(4)?;
                let (Some(target), Some(status)) = (ControlTarget::from_code(&kind), ControlStatus::from_code(&status)) else { continue };
                out.push(NoticeDue {
                    street_id: r.try_get(0)?, id: r.try_get(1)?, target, target_id: r.try_get(3)?,
                    order: ControlOrder { status, from_ms: r.try_get(5)?, until_ms: r.try_get(6)? },
                    alert_id: r.try_get(7)?, created_ms: r.try_get(8)?,
                });
            }
            out
        }))
    }

    /// The notice of these orders of a street is told (queued, or nothing
    /// to tell): their mark is cleared. Returns how many were marked.
    pub async fn clear_notice_due(&self, street: i64, ids: &[i64]) -> Result<u64> {
        if ids.is_empty() {
            return Ok(0);
        }
        let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
        let sql = format!("UPDATE control_order SET notice_due = 0 WHERE street_id = $1 AND notice_due <> 0 AND id IN ({list})");
        Ok(
            db_run!(self, pool => sqlx::query(&sql).bind(street).execute(pool).await?.rows_affected()),
        )
    }

    /// The marked orders of these alerts' temporary control on these
    /// households (what one results' notice told), by id.
    pub async fn alert_notice_due(
        &self,
        street: i64,
        alerts: &[i64],
        households: &[i64],
    ) -> Result<Vec<i64>> {
        if alerts.is_empty() || households.is_empty() {
            return Ok(Vec::new());
        }
        let alerts = alerts
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let households = households
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let sql = format!(
            "SELECT id FROM control_order WHERE street_id = $1 AND notice_due <> 0 AND target_kind = 'household' \
             AND alert_id IN ({alerts}) AND target_id IN ({households}) ORDER BY id"
        );
        Ok(db_run!(self, pool => sqlx::query_scalar(&sql).bind(street).fetch_all(pool).await?))
    }
}
