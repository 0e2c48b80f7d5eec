//! Delayed calls (延迟下楼). A slot whose call-down was pushed, or that has
//! begun, cannot be re-planned: its people were told. When its line at the
//! point grows too long (the schedule lists it in `told_over_bound`), a
//! round manager tells the groups of that point to come down some minutes
//! later: one message per active channel, naming the round, the point, the
//! slot, its buildings and units, the delay and the new time, expiring at
//! the slot's end moved by the delay. The minutes count from the slot's
//! start (from now once it has begun); a further notice must give a later
//! time than the last one did, never an earlier one. Queued with
//! its audit record ([`DELAY_ACTION`]) in one transaction by the push's own
//! writer ([`Store::push_call_down`], as the held calls of
//! [`crate::held_calls`] are); the schedule reads the records back
//! ([`delays_of`]) so everyone reading it sees which groups were told.

use gw_domain::access::Action;
use gw_domain::ids::Key;
use gw_domain::notify;
use gw_domain::schedule::{
    delay_minutes_past, delay_text, delayed_come_down, delayed_end, hhmm, DELAY_MINUTES,
};
use gw_store::alerts::{CallDownMessage, PushOutcome};
use gw_store::audit::AuditWrite;
use gw_store::{Store, StoreError};
use serde::Serialize;

use crate::access::{self, AuthError, Principal};
use crate::Clock;

/// The action of a delay notice's audit record (on the round); its detail is
/// `slot={starts_ms} point={STREET-ID or all} minutes={n} messages={n}`.
pub const DELAY_ACTION: &str = "call_down.delay";

/// The message kind of a delay notice ([`notify::MESSAGE_KINDS`]).
pub const DELAY_KIND: &str = "call_delayed";

/// What a delay notice queued.
#[derive(Debug, Clone, Serialize)]
pub struct Delayed {
    pub round: String,
    pub slot_ms: i64,
    pub minutes: u32,
    /// When the groups are told to come down now (the slot's start plus
    /// the delay; for a slot already begun, now plus the delay).
    pub come_down_ms: i64,
    /// The points of the slot told (their names).
    pub points: Vec<String>,
    /// Messages queued (one per active channel and point).
    pub queued: usize,
}

/// One delay notice, from its audit record.
#[derive(Debug, Clone, Serialize)]
pub struct DelayView {
    /// The slot's start.
    pub slot_ms: i64,
    /// The point told (`None`: every point of the slot).
    pub point: Option<String>,
    /// Its name, for a reader who sees the point (the schedule fills it).
    pub point_name: Option<String>,
    pub minutes: u32,
    /// When the groups were told to come down (the slot's start plus the
    /// delay; for a slot already begun, when told plus the delay).
    pub come_down_ms: i64,
    pub at_ms: i64,
    /// As the audit log has it (`user:chief`, `cli:root`).
    pub actor: String,
    /// Who told, as people know them (the account's display name).
    pub by: String,
    pub messages: i64,
}

impl DelayView {
    /// Whether the notice told the groups of `point`'s call in its slot.
    pub fn covers(&self, point: &str, slot_ms: i64) -> bool {
        self.slot_ms == slot_ms && self.point.as_deref().is_none_or(|p| p == point)
    }
}

/// The fields of a delay record's detail: slot, point (`None`: all),
/// minutes, messages.
pub fn parse_detail(detail: &str) -> Option<(i64, Option<String>, u32, i64)> {
    let field = |name: &str| -> Option<&str> {
        detail
            .split(' ')
            .find_map(|w| w.strip_prefix(name).filter(|v| !v.is_empty()))
    };
    let slot = field("slot=")?.parse().ok()?;
    let point = match field("point=") {
        None | Some("all") => None,
        Some(p) => Some(p.to_string()),
    };
    let minutes = field("minutes=")?.parse().ok()?;
    let messages = field("messages=").and_then(|m| m.parse().ok()).unwrap_or(0);
    Some((slot, point, minutes, messages))
}

/// Every delay notice of a round, oldest first (no authorisation: the
/// schedule's readers see which groups were told).
pub async fn delays_of(store: &Store, round: Key) -> Result<Vec<DelayView>, AuthError> {
    let target = round.to_string();
    let mut out: Vec<DelayView> = store
        .audit_events(None, Some(&target), None, 100_000)
        .await?
        .into_iter()
        .filter(|e| {
            e.street_id == round.street && e.action == DELAY_ACTION && e.target_kind == "round"
        })
        .filter_map(|e| {
            let (slot_ms, point, minutes, messages) = parse_detail(&e.detail)?;
            Some(DelayView {
                slot_ms,
                point,
                point_name: None,
                minutes,
                come_down_ms: delayed_come_down(slot_ms, e.at_ms, minutes),
                at_ms: e.at_ms,
                actor: e.actor.clone(),
                by: e.actor.clone(),
                messages,
            })
        })
        .collect();
    out.sort_by_key(|v| (v.at_ms, v.slot_ms));
    let mut names = crate::notify::ActorNames::default();
    for v in &mut out {
        if let Some(by) = crate::schedule::operator_named(&v.actor) {
            v.by = by;
        } else if let Some(by) = names.of(store, &v.actor).await? {
            v.by = by;
        }
    }
    Ok(out)
}

fn invalid(s: String) -> AuthError {
    AuthError::Invalid(s)
}

/// Tells the groups `point` calls in the slot starting at `slot_ms` to come
/// down `minutes` later (see the module's text): a line is long at one
/// point, and the groups of a point whose line is short are not told theirs
/// is long. Authorised as [`crate::notify::push_call_down`] is. Refused when
/// nothing is planned, no slot starts then, the point calls nobody in it,
/// the slot was never told (not pushed, not begun), it has ended (its end
/// moved by the delays told), `minutes` is outside [`DELAY_MINUTES`], the
/// new time is not later than one a notice already gave these groups (a
/// second notice never brings them down earlier), or the street has no
/// active channel: then nothing is queued or recorded.
pub async fn delay_call_down(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    round: Key,
    slot_ms: i64,
    point: Key,
    minutes: u32,
) -> Result<Delayed, AuthError> {
    let place = store.place_of(round.street, "street", round.street).await?;
    access::authorize(p, clock, Action::ManageRounds, &place)?;
    let view = crate::schedule::view_as(store, clock, round, &|_| true).await?;
    if !view.stored {
        return Err(invalid(
            "还没有排班，没有可延迟的叫号 / nothing is planned yet: there is no call-down to delay"
                .into(),
        ));
    }
    let now = clock.now_ms();
    let pushed: Vec<i64> = view.pushes.iter().map(|x| x.slot_ms).collect();
    // The point's slots starting then, with their point's id and name.
    let slots: Vec<(i64, &str, &gw_domain::schedule::Slot)> = view
        .plan
        .points
        .iter()
        .flat_map(|pt| {
            pt.slots
                .iter()
                .filter(|s| s.starts_ms == slot_ms)
                .map(move |s| (pt.point_id, pt.name.as_str(), s))
        })
        .collect();
    if slots.is_empty() {
        // Say which slots may be delayed: told (pushed or begun), not ended.
        let list = crate::notify::slot_starts_text(
            view.call_down
                .iter()
                .filter(|c| {
                    c.ends_ms > now && (c.starts_ms <= now || pushed.contains(&c.starts_ms))
                })
                .map(|c| c.starts_ms),
        );
        return Err(invalid(format!(
            "没有在 {} 开始的叫号时段；可通知延迟的时段（已推送或已开始、未结束）：{list} / no call-down slot starts at {}; the slots that may be delayed (pushed or begun, not ended) start at: {list}",
            notify::clock_text(slot_ms),
            notify::clock_text(slot_ms)
        )));
    }
    let k = point;
    let names: Vec<&str> = slots.iter().map(|(_, n, _)| *n).collect();
    let Some(&(_, point_name, slot)) = slots
        .iter()
        .find(|(id, _, _)| k.street == round.street && *id == k.id)
    else {
        return Err(invalid(format!(
            "采样点 {k} 在 {} 没有叫号；该时段的采样点：{} / point {k} calls nobody in the slot of {}; the slot's points: {}",
            notify::clock_text(slot_ms),
            names.join("、"),
            notify::clock_text(slot_ms),
            names.join(", ")
        )));
    };
    if !pushed.contains(&slot_ms) && slot_ms > now {
        return Err(invalid(format!(
            "时段 {} 的叫号还没有推送、也没有开始，群里没有收到通知，无需延迟：请推送叫号，或重新排班 / the call-down of {} was never pushed and has not begun: nobody was told, so there is no delay to tell; push it, or plan again, instead",
            notify::clock_text(slot_ms),
            notify::clock_text(slot_ms)
        )));
    }
    // The time these groups were last told to come down, if a notice did:
    // the slot ends as much later.
    let point_key = k.to_string();
    let last_told = view
        .delays
        .iter()
        .filter(|d| d.covers(&point_key, slot_ms))
        .map(|d| d.come_down_ms)
        .max();
    let ends_ms = delayed_end(slot.starts_ms, slot.ends_ms, last_told);
    if ends_ms <= now {
        return Err(invalid(format!(
            "时段 {}–{} 已结束，不能再通知延迟 / the slot of {}–{} has ended: there is no delay to tell",
            notify::clock_text(slot_ms),
            hhmm(ends_ms),
            notify::clock_text(slot_ms),
            hhmm(ends_ms)
        )));
    }
    if !(DELAY_MINUTES.0..=DELAY_MINUTES.1).contains(&minutes) {
        return Err(invalid(format!(
            "延迟分钟数须为 {} 到 {}，收到 {minutes}；未发送 / minutes: the delay must be {} to {} minutes, not {minutes}; nothing was sent",
            DELAY_MINUTES.0, DELAY_MINUTES.1, DELAY_MINUTES.0, DELAY_MINUTES.1
        )));
    }
    let come_down_ms = delayed_come_down(slot.starts_ms, now, minutes);
    if let Some(last) = last_told.filter(|l| come_down_ms <= *l) {
        let least = delay_minutes_past(slot.starts_ms, now, last);
        return Err(invalid(format!(
            "{point_name} {} 时段的群已被通知 {} 后下楼；推迟 {minutes} 分钟是 {} 后，不晚于已通知的时间，会让居民提前下楼：请填写至少 {least} 分钟（从{}算起）；未发送 / the groups of {point_name}'s slot of {} were told to come down after {}; {minutes} minutes is after {}, no later than that, and would bring them down earlier: give at least {least} minutes (counted from {}); nothing was sent",
            hhmm(slot.starts_ms),
            hhmm(last),
            hhmm(come_down_ms),
            if now > slot.starts_ms { "现在" } else { "时段开始" },
            hhmm(slot.starts_ms),
            hhmm(last),
            hhmm(come_down_ms),
            if now > slot.starts_ms { "now" } else { "the slot's start" },
        )));
    }
    let facts = notify::AlertFacts {
        kind: DELAY_KIND.into(),
        round: view.round_name.clone(),
        point: point_name.to_string(),
        barcode: String::new(),
        members: slot.arrivals as usize,
        households: 0,
        at_ms: come_down_ms,
    };
    let text = delay_text(&view.round_name, point_name, slot, minutes, now);
    // One message per active channel, in its format.
    let messages: Vec<CallDownMessage> = crate::notify::active_channels(store, round.street)
        .await?
        .into_iter()
        .map(|(channel, kind)| CallDownMessage {
            channel,
            body: notify::body(kind, &text, &facts),
            expires_ms: delayed_end(slot.starts_ms, slot.ends_ms, Some(come_down_ms)),
            kind: DELAY_KIND,
        })
        .collect();
    let no_channel = || {
        invalid(
            "没有可用的告警渠道，延迟通知未发送也未记录：请先添加或启用一个群机器人渠道 / no alert channel: no delay notice was queued or recorded; add or enable a group-robot channel first".into(),
        )
    };
    if messages.is_empty() {
        return Err(no_channel());
    }
    let detail = format!(
        "slot={slot_ms} point={point_key} minutes={minutes} messages={}",
        messages.len()
    );
    let round_id = round.to_string();
    let actor = p.actor();
    let audit = AuditWrite {
        street_id: round.street,
        at_ms: now,
        actor: &actor,
        action: DELAY_ACTION,
        target_kind: "round",
        target_id: &round_id,
        detail: &detail,
        address: "",
    };
    // Several delays of one slot are several notices: asked `again`.
    match store
        .push_call_down(round.id, view.revision, "", true, &messages, &audit)
        .await?
    {
        PushOutcome::Queued(queued) => Ok(Delayed {
            round: round_id,
            slot_ms,
            minutes,
            come_down_ms,
            points: vec![point_name.to_string()],
            queued,
        }),
        PushOutcome::NoChannel => Err(no_channel()),
        PushOutcome::PlanChanged(_) => Err(AuthError::Store(StoreError::Conflict(
            "通知期间排班已改变，请查看新的时间表后再通知 / the plan changed meanwhile: look at the new schedule, then tell the delay".into(),
        ))),
        PushOutcome::NotSampling(state) => Err(AuthError::Store(StoreError::Conflict(format!(
            "轮次状态为 {state}，已停止采样，不再通知下楼 / the round is {state}: sampling is over, nobody is called down any more"
        )))),
        // Never with `again`.
        PushOutcome::PushedBefore(..) => Err(AuthError::Store(StoreError::Conflict(
            "已通知过 / told before".into(),
        ))),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::parse_detail;

    #[test]
    fn a_delay_record_is_read_back_from_its_detail() {
        assert_eq!(
            parse_detail("slot=1700000000000 point=all minutes=15 messages=4"),
            Some((1_700_000_000_000, None, 15, 4))
        );
        assert_eq!(
            parse_detail("slot=1700000000000 point=3-12 minutes=30 messages=1"),
            Some((1_700_000_000_000, Some("3-12".to_string()), 30, 1))
        );
        assert_eq!(parse_detail("slot=x point=all minutes=15"), None);
        assert_eq!(parse_detail("order=1-2 unit=1-3 slots=5 messages=1"), None);
    }
}
