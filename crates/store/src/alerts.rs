//! Alert channels (group-robot webhooks), the durable outbox of messages to
//! them, disinfection tasks, and the follow-ups (retests, re-samples) of a
//! round.

use sqlx::Row;

use crate::audit::AuditWrite;
use crate::import::{tx_run, RowLock};
use crate::{db_run, Result, Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelRow {
    pub street_id: i64,
    pub id: i64,
    pub kind: String,
    pub url: String,
    pub active: bool,
    /// It signs its messages (the secret itself is never read back out).
    pub signed: bool,
}

/// A message waiting to be delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingNotification {
    pub street_id: i64,
    pub id: i64,
    pub url: String,
    /// The channel's kind and signing secret (empty: unsigned).
    pub kind: String,
    pub secret: String,
    pub body: String,
    pub attempts: i32,
    pub created_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationRow {
    pub id: i64,
    pub channel_id: i64,
    pub alert_id: Option<i64>,
    pub state: String,
    pub attempts: i32,
    pub last_error: String,
    pub created_ms: i64,
    pub delivered_ms: Option<i64>,
    /// What was posted (the robot's JSON).
    pub body: String,
    /// What the message is ([`gw_domain::notify::MESSAGE_KINDS`]), stored
    /// when it was queued; `None` for one queued before migration 0037
    /// (read from its title then).
    pub kind: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisinfectionRow {
    pub id: i64,
    pub round_id: i64,
    pub point_id: i64,
    pub point: String,
    pub alert_id: i64,
    pub state: String,
    pub created_ms: i64,
    pub done_ms: Option<i64>,
    pub done_by: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowUpRow {
    pub alert_id: Option<i64>,
    pub tube_id: i64,
    pub resident_id: i64,
    pub kind: String,
    pub state: String,
    pub created_ms: i64,
    pub resolved_ms: Option<i64>,
}

/// After this many failed attempts a message is given up (`failed`).
pub const MAX_ATTEMPTS: i32 = 12;

/// The last error of a message that expired before its first attempt.
const EXPIRED: &str = "到期前未能发送 / not sent before it expired";

const QUEUE: &str = "INSERT INTO notification (street_id, channel_id, alert_id, body, state, created_ms, next_ms, expires_ms, kind) VALUES ($1, $2, NULL, $3, 'pending', $4, $4, $5, $6) RETURNING id";

/// One call-down message of a push: its channel, its body and when it
/// expires (the slot's end).
#[derive(Debug, Clone)]
pub struct CallDownMessage {
    pub channel: i64,
    pub body: String,
    pub expires_ms: i64,
    /// `call_down`, or `call_held` for a call called back.
    pub kind: &'static str,
}

/// How a call-down push ended (see [`Store::push_call_down`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushOutcome {
    /// This many messages queued, and the push recorded.
    Queued(usize),
    /// The round is in this state: it samples no more.
    NotSampling(String),
    /// The slot was pushed at this time by this actor.
    PushedBefore(i64, String),
    /// No message to queue (the street has no active channel): nothing is
    /// recorded, so a later push with a channel is no second push.
    NoChannel,
    /// The plan was made again (this revision now) after the messages were
    /// worked out from an earlier one.
    PlanChanged(Option<i32>),
}

/// The action of a call-down push's audit record, whose detail starts
/// `slot={starts_ms} `: how a push and a re-plan know what was pushed.
pub const PUSH_ACTION: &str = "push_call_down";

/// The slots (their start) pushed, from the details of the pushes' audit
/// records.
pub(crate) fn pushed_slots_of(details: Vec<String>) -> Vec<i64> {
    let mut out: Vec<i64> = details
        .iter()
        .filter_map(|d| d.strip_prefix("slot=")?.split(' ').next()?.parse().ok())
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

pub(crate) const PUSHED_SQL: &str = "SELECT detail FROM audit_event WHERE street_id = $1 AND action = $2 AND target_kind = 'round' AND target_id = $3 AND detail LIKE 'slot=%'";

/// Pending messages with their channel's address, kind and secret; the
/// callers add their own conditions after it.
const PENDING: &str = "SELECT n.street_id, n.id, c.url, n.body, n.attempts, n.created_ms, c.kind, c.secret FROM notification n \
     JOIN alert_channel c ON c.street_id = n.street_id AND c.id = n.channel_id \
     WHERE n.state = 'pending'";

/// A row of [`NOTIFICATION_COLUMNS`] (on either backend).
macro_rules! notification_row {
    ($r:expr) => {
        NotificationRow {
            id: $r.try_get(0)?,
            channel_id: $r.try_get(1)?,
            alert_id: $r.try_get(2)?,
            state: $r.try_get(3)?,
            attempts: $r.try_get(4)?,
            last_error: $r.try_get(5)?,
            created_ms: $r.try_get(6)?,
            delivered_ms: $r.try_get(7)?,
            body: $r.try_get(8)?,
            kind: $r.try_get(9)?,
        }
    };
}

/// The columns of a [`NotificationRow`] of notification `n`, in the order
/// [`notification_row!`] reads them.
const NOTIFICATION_COLUMNS: &str = "n.id, n.channel_id, n.alert_id, n.state, n.attempts, n.last_error, n.created_ms, n.delivered_ms, n.body, n.kind";

/// A row of [`PENDING`] (on either backend).
macro_rules! pending_row {
    ($r:expr) => {
        PendingNotification {
            street_id: $r.try_get(0)?,
            id: $r.try_get(1)?,
            url: $r.try_get(2)?,
            body: $r.try_get(3)?,
            attempts: $r.try_get(4)?,
            created_ms: $r.try_get(5)?,
            kind: $r.try_get(6)?,
            secret: $r.try_get(7)?,
        }
    };
}

/// Whether follow-up `f` (a retest or re-sample) is spared by an exemption
/// from its round. A retest: by one recorded once the follow-up was open
/// (taken to hospital after the abnormal pool); one recorded before is
/// superseded by the swab the retest comes from: the person came after all,
/// their swab gave a result, and a member of an abnormal pool is retested.
/// A re-sample: by any exemption of the round, whenever recorded, as
/// coverage counts it (`sampled_sql!`): a swab in a tube the lab found
/// invalid gave no result, so someone exempted before who came anyway is
/// exempt, not due (the re-sample list says `exempt`, the round may close).
macro_rules! follow_up_exempt {
    () => {
        "EXISTS (SELECT 1 FROM round_exemption x WHERE x.street_id = f.street_id AND x.round_id = f.round_id AND x.resident_id = f.resident_id AND (x.created_ms >= f.created_ms OR f.kind = 'resample'))"
    };
}
pub(crate) use follow_up_exempt;

/// `(retests, re-samples)` open in round `$2` of street `$1`, leaving out
/// those an exemption spares ([`follow_up_exempt`]).
pub(crate) const OPEN_FOLLOW_UPS: &str = concat!(
    "SELECT COALESCE(SUM(CASE WHEN f.kind = 'retest' THEN 1 ELSE 0 END), 0), COALESCE(SUM(CASE WHEN f.kind = 'resample' THEN 1 ELSE 0 END), 0) \
     FROM follow_up f WHERE f.street_id = $1 AND f.round_id = $2 AND f.state = 'open' AND NOT ",
    follow_up_exempt!()
);

impl Store {
    #[allow(clippy::too_many_arguments)]
    pub async fn add_channel(
        &self,
        street: i64,
        kind: &str,
        url: &str,
        secret: &str,
        by: &str,
        now_ms: i64,
        audit: impl FnOnce(i64) -> crate::audit::AuditRecord,
    ) -> Result<i64> {
        let mut tx = self.begin().await?;
        let id: i64 = crate::import::tx_run!(tx, conn, DB => sqlx::query_scalar(
            "INSERT INTO alert_channel (street_id, kind, url, secret, active, created_by, created_ms) VALUES ($1, $2, $3, $4, TRUE, $5, $6) RETURNING id")
            .bind(street).bind(kind).bind(url).bind(secret).bind(by).bind(now_ms).fetch_one(&mut *conn).await?);
        tx.audit(&audit(id).write()).await?;
        tx.commit().await?;
        Ok(id)
    }

    pub async fn channels(&self, street: i64) -> Result<Vec<ChannelRow>> {
        Ok(db_run!(self, pool => {
            let rows = sqlx::query("SELECT street_id, id, kind, url, active, secret <> '' FROM alert_channel WHERE street_id = $1 ORDER BY id")
                .bind(street).fetch_all(pool).await?;
            rows.iter().map(|r| Ok(ChannelRow { street_id: r.try_get(0)?, id: r.try_get(1)?, kind: r.try_get(2)?, url: r.try_get(3)?, active: r.try_get(4)?, signed: r.try_get(5)? }))
                .collect::<std::result::Result<Vec<_>, sqlx::Error>>()?
        }))
    }

    pub async fn deactivate_channel(
        &self,
        street: i64,
        id: i64,
        audit: &crate::audit::AuditRecord,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        let n = crate::import::tx_run!(tx, conn, DB => sqlx::query("UPDATE alert_channel SET active = FALSE WHERE street_id = $1 AND id = $2")
            .bind(street).bind(id).execute(&mut *conn).await?.rows_affected());
        if n != 1 {
            tx.rollback().await?;
            return Err(StoreError::NotFound(format!("alert channel {street}-{id}")));
        }
        tx.audit(&audit.write()).await?;
        tx.commit().await
    }

    /// Queues a message of `kind` (a robot's test message) to one channel;
    /// it is not posted after `expires_ms`.
    pub async fn queue_notification(
        &self,
        street: i64,
        channel: i64,
        body: &str,
        kind: &str,
        now_ms: i64,
        expires_ms: i64,
    ) -> Result<i64> {
        Ok(db_run!(self, pool => sqlx::query_scalar(QUEUE)
            .bind(street).bind(channel).bind(body).bind(now_ms).bind(expires_ms).bind(kind).fetch_one(pool).await?))
    }

    /// Queues the call-down messages of one slot of a round, with the audit
    /// record of the push, in one transaction that first locks the round: two
    /// pushes at once (two servers, or the command line and a server) are
    /// decided one after the other, and a push is never half made. Refused
    /// when the round no longer samples, or when the slot was pushed before
    /// (an audit event of `audit.action` on the round whose detail starts
    /// with `slot_detail`) unless `again`.
    /// The slots of a round pushed so far (their start), oldest first.
    pub async fn pushed_slots(&self, street: i64, round: i64) -> Result<Vec<i64>> {
        let target = format!("{street}-{round}");
        let details: Vec<String> = db_run!(self, pool => sqlx::query_scalar(PUSHED_SQL)
            .bind(street).bind(PUSH_ACTION).bind(&target).fetch_all(pool).await?);
        Ok(pushed_slots_of(details))
    }

    /// Queues the call-down messages of one slot of a round, with the audit
    /// record of the push, in one transaction that first locks the round: two
    /// pushes at once (two servers, or the command line and a server), or a
    /// push and a re-plan, are decided one after the other, and a push is
    /// never half made. Refused when the round no longer samples, when there
    /// is no message (no channel), when the stored plan's revision is no
    /// longer `revision` (the messages were made from an older plan), or
    /// when the slot was pushed before (an audit event of `audit.action` on
    /// the round whose detail starts with `slot_detail`) unless `again`.
    pub async fn push_call_down(
        &self,
        round: i64,
        revision: Option<i32>,
        slot_detail: &str,
        again: bool,
        messages: &[CallDownMessage],
        audit: &AuditWrite<'_>,
    ) -> Result<PushOutcome> {
        let street = audit.street_id;
        if messages.is_empty() {
            return Ok(PushOutcome::NoChannel);
        }
        let mut tx = self.begin().await?;
        let lock = tx.row_lock(RowLock::NoKeyUpdate);
        let state: Option<String> = tx_run!(tx, conn, DB => sqlx::query_scalar(&format!(
            "SELECT state FROM testing_round WHERE street_id = $1 AND id = $2{lock}"))
            .bind(street).bind(round).fetch_optional(&mut *conn).await?);
        let state = state.ok_or_else(|| StoreError::NotFound(format!("round {street}-{round}")))?;
        if state != "planned" && state != "open" {
            tx.rollback().await?;
            return Ok(PushOutcome::NotSampling(state));
        }
        let now: Option<i32> = tx_run!(tx, conn, DB => sqlx::query_scalar(
            "SELECT revision FROM schedule_plan WHERE street_id = $1 AND round_id = $2")
            .bind(street).bind(round).fetch_optional(&mut *conn).await?);
        if now != revision {
            tx.rollback().await?;
            return Ok(PushOutcome::PlanChanged(now));
        }
        if !again {
            if let Some(before) = tx.first_audit_event(audit, slot_detail).await? {
                tx.rollback().await?;
                return Ok(PushOutcome::PushedBefore(before.0, before.1));
            }
        }
        for m in messages {
            tx_run!(tx, conn, DB => sqlx::query(QUEUE)
                .bind(street).bind(m.channel).bind(&m.body).bind(audit.at_ms).bind(m.expires_ms).bind(m.kind)
                .execute(&mut *conn).await?.rows_affected());
        }
        tx.audit(audit).await?;
        tx.commit().await?;
        Ok(PushOutcome::Queued(messages.len()))
    }

    /// Marks the pending messages past their expiry `expired`: they are never
    /// posted.
    pub async fn expire_notifications(&self, now_ms: i64) -> Result<()> {
        db_run!(self, pool => sqlx::query(
            "UPDATE notification SET state = 'expired', last_error = CASE WHEN last_error = '' THEN $2 ELSE last_error END \
             WHERE state = 'pending' AND expires_ms IS NOT NULL AND expires_ms <= $1")
            .bind(now_ms).bind(EXPIRED).execute(pool).await?.rows_affected());
        Ok(())
    }

    /// Messages due now, oldest first, across all streets; those past their
    /// expiry are marked so first ([`Self::expire_notifications`]).
    pub async fn due_notifications(
        &self,
        now_ms: i64,
        limit: i64,
    ) -> Result<Vec<PendingNotification>> {
        self.expire_notifications(now_ms).await?;
        let sql = format!("{PENDING} AND n.next_ms <= $1 ORDER BY n.next_ms, n.id LIMIT $2");
        Ok(db_run!(self, pool => {
            let rows = sqlx::query(&sql).bind(now_ms).bind(limit).fetch_all(pool).await?;
            rows.iter().map(|r| Ok(pending_row!(r)))
                .collect::<std::result::Result<Vec<_>, sqlx::Error>>()?
        }))
    }

    /// One pending message, if it is still pending.
    pub async fn pending_notification(
        &self,
        street: i64,
        id: i64,
    ) -> Result<Option<PendingNotification>> {
        let sql = format!("{PENDING} AND n.street_id = $1 AND n.id = $2");
        Ok(db_run!(self, pool => {
            match sqlx::query(&sql).bind(street).bind(id).fetch_optional(pool).await? {
                Some(r) => Some(pending_row!(r)),
                None => None,
            }
        }))
    }

    /// The earliest time a pending message is due, if any.
    pub async fn next_notification_ms(&self) -> Result<Option<i64>> {
        Ok(
            db_run!(self, pool => sqlx::query_scalar::<_, Option<i64>>("SELECT MIN(next_ms) FROM notification WHERE state = 'pending'")
            .fetch_one(pool).await?),
        )
    }

    /// Takes a due message for one attempt: its next try moves to `until_ms`,
    /// so no other dispatcher (another server on the same database, the
    /// command line) posts it meanwhile. False when another took it first or
    /// it is no longer due. A dispatcher that dies mid-attempt leaves it to be
    /// tried again at `until_ms`.
    pub async fn claim_notification(
        &self,
        street: i64,
        id: i64,
        now_ms: i64,
        until_ms: i64,
    ) -> Result<bool> {
        let n = db_run!(self, pool => sqlx::query("UPDATE notification SET next_ms = $4 WHERE street_id = $1 AND id = $2 AND state = 'pending' AND next_ms <= $3 AND (expires_ms IS NULL OR expires_ms > $3)")
            .bind(street).bind(id).bind(now_ms).bind(until_ms).execute(pool).await?.rows_affected());
        Ok(n == 1)
    }

    /// A message's state, attempts and last error.
    pub async fn notification_state(
        &self,
        street: i64,
        id: i64,
    ) -> Result<Option<(String, i32, String)>> {
        Ok(db_run!(self, pool => {
            match sqlx::query("SELECT state, attempts, last_error FROM notification WHERE street_id = $1 AND id = $2")
                .bind(street).bind(id).fetch_optional(pool).await? {
                Some(r) => Some((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)),
                None => None,
            }
        }))
    }

    pub async fn notification_delivered(&self, street: i64, id: i64, now_ms: i64) -> Result<()> {
        db_run!(self, pool => sqlx::query("UPDATE notification SET state = 'delivered', attempts = attempts + 1, delivered_ms = $3, last_error = '' WHERE street_id = $1 AND id = $2")
            .bind(street).bind(id).bind(now_ms).execute(pool).await?.rows_affected());
        Ok(())
    }

    /// Records a failed attempt: retried at `next_ms`, or given up after
    /// [`MAX_ATTEMPTS`].
    pub async fn notification_failed(
        &self,
        street: i64,
        id: i64,
        error: &str,
        next_ms: i64,
    ) -> Result<()> {
        db_run!(self, pool => sqlx::query(
            "UPDATE notification SET attempts = attempts + 1, last_error = $3, next_ms = $4, \
             state = CASE WHEN attempts + 1 >= $5 THEN 'failed' WHEN expires_ms IS NOT NULL AND expires_ms <= $4 THEN 'expired' ELSE 'pending' END WHERE street_id = $1 AND id = $2")
            .bind(street).bind(id).bind(error).bind(next_ms).bind(MAX_ATTEMPTS).execute(pool).await?.rows_affected());
        Ok(())
    }

    pub async fn notifications(&self, street: i64, limit: i64) -> Result<Vec<NotificationRow>> {
        Ok(db_run!(self, pool => {
            let rows = sqlx::query(&format!("SELECT {NOTIFICATION_COLUMNS} FROM notification n WHERE n.street_id = $1 ORDER BY n.id DESC LIMIT $2"))
                .bind(street).bind(limit).fetch_all(pool).await?;
            rows.iter().map(|r| Ok(notification_row!(r)))
                .collect::<std::result::Result<Vec<_>, sqlx::Error>>()?
        }))
    }

    /// The messages queued for a round's alerts, oldest first.
    pub async fn round_notifications(
        &self,
        street: i64,
        round: i64,
    ) -> Result<Vec<NotificationRow>> {
        Ok(db_run!(self, pool => {
            let rows = sqlx::query(&format!("SELECT {NOTIFICATION_COLUMNS} FROM notification n \
                                    JOIN alert a ON a.street_id = n.street_id AND a.id = n.alert_id WHERE n.street_id = $1 AND a.round_id = $2 ORDER BY n.id"))
                .bind(street).bind(round).fetch_all(pool).await?;
            rows.iter().map(|r| Ok(notification_row!(r)))
                .collect::<std::result::Result<Vec<_>, sqlx::Error>>()?
        }))
    }

    pub async fn disinfection_tasks(
        &self,
        street: i64,
        round: i64,
    ) -> Result<Vec<DisinfectionRow>> {
        Ok(db_run!(self, pool => {
            let rows = sqlx::query("SELECT d.id, d.round_id, d.point_id, p.name, d.alert_id, d.state, d.created_ms, d.done_ms, d.done_by FROM disinfection_task d \
                                    JOIN testing_point p ON p.street_id = d.street_id AND p.id = d.point_id WHERE d.street_id = $1 AND d.round_id = $2 ORDER BY d.id")
                .bind(street).bind(round).fetch_all(pool).await?;
            rows.iter().map(|r| Ok(DisinfectionRow { id: r.try_get(0)?, round_id: r.try_get(1)?, point_id: r.try_get(2)?, point: r.try_get(3)?, alert_id: r.try_get(4)?, state: r.try_get(5)?, created_ms: r.try_get(6)?, done_ms: r.try_get(7)?, done_by: r.try_get(8)? }))
                .collect::<std::result::Result<Vec<_>, sqlx::Error>>()?
        }))
    }

    /// Marks a disinfection task done; Conflict when it already is.
    pub async fn disinfection_done(
        &self,
        street: i64,
        id: i64,
        by: &str,
        now_ms: i64,
    ) -> Result<i64> {
        let round: Option<i64> = db_run!(self, pool => sqlx::query_scalar(
            "UPDATE disinfection_task SET state = 'done', done_ms = $3, done_by = $4 WHERE street_id = $1 AND id = $2 AND state = 'open' RETURNING round_id")
            .bind(street).bind(id).bind(now_ms).bind(by).fetch_optional(pool).await?);
        round.ok_or_else(|| {
            StoreError::Conflict(format!(
                "消杀任务 {street}-{id} 已完成或已撤销 / disinfection task {street}-{id} is done, or withdrawn by a corrected result"
            ))
        })
    }

    pub async fn disinfection_point(&self, street: i64, id: i64) -> Result<i64> {
        let p: Option<i64> = db_run!(self, pool => sqlx::query_scalar("SELECT point_id FROM disinfection_task WHERE street_id = $1 AND id = $2")
            .bind(street).bind(id).fetch_optional(pool).await?);
        p.ok_or_else(|| StoreError::NotFound(format!("disinfection task {street}-{id}")))
    }

    /// The households an alert's temporary control still holds (its orders
    /// not ended by negative retests or a withdrawal).
    pub async fn alert_held_households(&self, street: i64, alert: i64) -> Result<Vec<i64>> {
        Ok(
            db_run!(self, pool => sqlx::query_scalar("SELECT DISTINCT target_id FROM control_order WHERE street_id = $1 AND alert_id = $2 AND target_kind = 'household' AND until_ms IS NULL ORDER BY target_id")
            .bind(street).bind(alert).fetch_all(pool).await?),
        )
    }

    /// The residents swabbed into a tube.
    pub async fn tube_members(&self, street: i64, tube: i64) -> Result<Vec<i64>> {
        Ok(
            db_run!(self, pool => sqlx::query_scalar("SELECT DISTINCT resident_id FROM registration WHERE street_id = $1 AND tube_id = $2 AND resident_id IS NOT NULL ORDER BY resident_id")
            .bind(street).bind(tube).fetch_all(pool).await?),
        )
    }

    /// The texts scanned for the swabs in a tube that name nobody (a forged,
    /// unknown or revoked code, an unreadable text; empty once purged): they
    /// cannot be traced to a person by the registry.
    pub async fn tube_unidentified(&self, street: i64, tube: i64) -> Result<Vec<String>> {
        Ok(
            db_run!(self, pool => sqlx::query_scalar("SELECT raw_code FROM registration WHERE street_id = $1 AND tube_id = $2 AND resident_id IS NULL ORDER BY id")
            .bind(street).bind(tube).fetch_all(pool).await?),
        )
    }

    /// Open `(retests, re-samples)` of a round, leaving out residents exempt
    /// from it (away, in hospital …: they will not be swabbed here).
    pub async fn open_follow_ups(&self, street: i64, round: i64) -> Result<(i64, i64)> {
        Ok(db_run!(self, pool => {
            let r = sqlx::query(OPEN_FOLLOW_UPS).bind(street).bind(round).fetch_one(pool).await?;
            (r.try_get::<i64, _>(0)?, r.try_get::<i64, _>(1)?)
        }))
    }

    /// Every follow-up of a round (retests and re-samples), newest first.
    pub async fn round_follow_ups(&self, street: i64, round: i64) -> Result<Vec<FollowUpRow>> {
        Ok(db_run!(self, pool => {
            let rows = sqlx::query("SELECT alert_id, tube_id, resident_id, kind, state, created_ms, resolved_ms FROM follow_up WHERE street_id = $1 AND round_id = $2 ORDER BY created_ms DESC, resident_id")
                .bind(street).bind(round).fetch_all(pool).await?;
            rows.iter().map(|r| Ok(FollowUpRow { alert_id: r.try_get(0)?, tube_id: r.try_get(1)?, resident_id: r.try_get(2)?, kind: r.try_get(3)?, state: r.try_get(4)?, created_ms: r.try_get(5)?, resolved_ms: r.try_get(6)? }))
                .collect::<std::result::Result<Vec<_>, sqlx::Error>>()?
        }))
    }
}

/// A single-tube retest swab registered for an open retest, its result
/// still to come.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRetestSwab {
    pub point_id: i64,
    pub scanned_ms: i64,
}

/// An open retest `f` answered by a swab already registered: a swab `g` of
/// purpose `retest` of the same resident in the round, stored since the
/// retest opened (as the door-to-door list reads it), in a tube `t` with no
/// result yet (one the lab found invalid leaves the retest to take again).
macro_rules! retest_swab_pending {
    () => {
        "g.street_id = f.street_id AND g.round_id = f.round_id AND g.resident_id = f.resident_id \
         AND g.purpose = 'retest' AND g.stored_ms >= f.created_ms \
         AND t.street_id = g.street_id AND t.id = g.tube_id AND t.result IS NULL"
    };
}

impl Store {
    /// The members of tube `tube`'s abnormal pool whose single-tube retest
    /// is open and swabbed already, its result still to come (see
    /// `retest_swab_pending!`): nobody has to go to their door for it.
    pub async fn retests_swabbed(&self, street: i64, tube: i64) -> Result<Vec<i64>> {
        Ok(db_run!(self, pool => sqlx::query_scalar(concat!(
            "SELECT DISTINCT f.resident_id FROM follow_up f WHERE f.street_id = $1 AND f.tube_id = $2 AND f.kind = 'retest' AND f.state = 'open' \
             AND EXISTS (SELECT 1 FROM registration g, tube t WHERE ", retest_swab_pending!(), ") ORDER BY f.resident_id"))
            .bind(street).bind(tube).fetch_all(pool).await?))
    }

    /// Resident `resident`'s retest swab of round `round` that answers an
    /// open retest of theirs and waits for its result, the newest: where
    /// and when it was taken (none: no such swab).
    pub async fn retest_swab_pending(
        &self,
        street: i64,
        round: i64,
        resident: i64,
    ) -> Result<Option<PendingRetestSwab>> {
        Ok(db_run!(self, pool => {
            match sqlx::query(concat!(
                "SELECT g.point_id, g.scanned_ms FROM follow_up f, registration g, tube t \
                 WHERE f.street_id = $1 AND f.round_id = $2 AND f.resident_id = $3 AND f.kind = 'retest' AND f.state = 'open' AND ",
                retest_swab_pending!(), " ORDER BY g.scanned_ms DESC, g.id DESC LIMIT 1"))
                .bind(street).bind(round).bind(resident).fetch_optional(pool).await? {
                Some(r) => Some(PendingRetestSwab { point_id: r.try_get(0)?, scanned_ms: r.try_get(1)? }),
                None => None,
            }
        }))
    }

    /// Resident `resident`'s open re-samples in round `round` (after an
    /// invalid tube): a re-sample swab of someone with none is flagged.
    pub async fn open_resamples(&self, street: i64, round: i64, resident: i64) -> Result<i64> {
        Ok(db_run!(self, pool => sqlx::query_scalar(
            "SELECT COUNT(*) FROM follow_up WHERE street_id = $1 AND round_id = $2 AND resident_id = $3 AND kind = 'resample' AND state = 'open'")
            .bind(street).bind(round).bind(resident).fetch_one(pool).await?))
    }
}
