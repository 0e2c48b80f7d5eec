//! Delayed calls (延迟下楼). A slot whose call-down was pushed, or that has
//! begun, cannot be re-planned: its people were told. When its line at the
//! point grows too long (the schedule lists it in `told_over_bound`), a
//! round manager tells the groups of that point to come down some minutes
//! later: one message per active channel, naming the round, the point, the
//! slot, its buildings and units, the delay and the new time, expiring at
//! the slot's end moved by the delay. The minutes count from the slot's
//! start (from now once it has begun); a further notice must give a later
//! time than the last one did, never an earlier one. Without minutes, the
//! schedule's suggestion ([`crate::schedule::suggested_minutes`]). A new
//! time that falls in a later slot of the point is told all the same, with
//! a warning naming that slot ([`DelayOverlap`]): the two groups will queue
//! together. The slot is named by its start or by its clock time alone
//! ([`SlotAt`]: past midnight too). Queued with
//! its audit record ([`DELAY_ACTION`]) in one transaction by the push's own
//! writer ([`Store::push_call_down`], as the held calls of
//! [`crate::held_calls`] are); the schedule reads the records back
//! ([`delays_of`]) so everyone reading it sees which groups were told.

use gw_domain::access::Action;
use gw_domain::ids::Key;
use gw_domain::notify;
use gw_domain::schedule::{
    delay_lands_in, delay_minutes_past, delay_text, delayed_come_down, delayed_end, hhmm, Slot,
    SlotWindow, DELAY_MINUTES,
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
    /// No minutes were given: `minutes` is the schedule's suggestion.
    pub suggested: bool,
    /// The new time falls in a later slot of the point, whose groups were
    /// or will be called then: the two groups will queue together. The
    /// notice went out all the same.
    pub overlap: Option<DelayOverlap>,
    /// What to look out for, Chinese / English (the overlap's text).
    pub warnings: Vec<String>,
}

/// A later slot of the same point that a delayed group's new time falls in
/// ([`delay_lands_in`]): its groups were or will be called then.
#[derive(Debug, Clone, Serialize)]
pub struct DelayOverlap {
    /// The later slot's start and end, as planned.
    pub starts_ms: i64,
    pub ends_ms: i64,
    /// When its own groups were told to come down, if a notice put them
    /// off too.
    pub come_down_ms: Option<i64>,
    /// Its buildings and units (`3号楼 1单元、2单元`).
    pub buildings: Vec<String>,
    /// The warning, Chinese / English.
    pub text: String,
}

/// How one call of a slot is named: its building and units.
fn call_named(c: &gw_domain::schedule::SlotCall) -> String {
    let units: Vec<String> = c.units.iter().map(|u| format!("{}单元", u.name)).collect();
    format!("{} {}", c.building, units.join("、"))
}

/// The later slot of a point that the groups of its slot starting at
/// `slot_ms`, told to come down at `come_down_ms`, land in, if any
/// (`slots`: the point's slots; `delays`: the notices told, whose latest
/// moves each slot's window), with the warning naming its time and
/// buildings.
pub(crate) fn overlap_of(
    point_key: &str,
    point_name: &str,
    slots: &[Slot],
    delays: &[DelayView],
    slot_ms: i64,
    come_down_ms: i64,
) -> Option<DelayOverlap> {
    let windows: Vec<SlotWindow> = slots
        .iter()
        .map(|s| SlotWindow {
            starts_ms: s.starts_ms,
            ends_ms: s.ends_ms,
            come_down_ms: last_told(delays, point_key, s.starts_ms),
        })
        .collect();
    let i = delay_lands_in(&windows, slot_ms, come_down_ms)?;
    let (next, w) = (slots.get(i)?, windows.get(i)?);
    let buildings: Vec<String> = next.calls.iter().map(call_named).collect();
    let (zh_moved, en_moved) = match w.come_down_ms.filter(|c| *c > w.starts_ms) {
        Some(c) => (
            format!("，已通知 {} 后下楼", hhmm(c)),
            format!(", told to come down after {}", hhmm(c)),
        ),
        None => (String::new(), String::new()),
    };
    let text = format!(
        "新的下楼时间 {new} 落在「{point_name}」{from}–{to} 时段内（{bzh}{zh_moved}）：两批居民会同时排队，请在该点加采样台，或一并通知该时段的群 / the new time, {new}, falls in {point_name}'s slot of {from}–{to} ({ben}{en_moved}), whose groups were or will be called then: the two groups will queue together; add stations at the point, or tell that slot's groups too",
        new = hhmm(come_down_ms),
        from = hhmm(next.starts_ms),
        to = hhmm(next.ends_ms),
        bzh = if buildings.is_empty() { "本时段叫号的居民".to_string() } else { buildings.join("；") },
        ben = if buildings.is_empty() { "its people".to_string() } else { buildings.join("; ") },
    );
    Some(DelayOverlap {
        starts_ms: next.starts_ms,
        ends_ms: next.ends_ms,
        come_down_ms: w.come_down_ms,
        buildings,
        text,
    })
}

/// Which slot a delay names: by its start, or by its clock time alone
/// (`HH:MM` China time: the one slot of the stored plan starting then,
/// whatever its date, so a round running past midnight names its 00:30).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotAt {
    Ms(i64),
    Clock { hour: u32, minute: u32 },
}

impl SlotAt {
    /// `HH:MM` (`H:MM` too); `None` for anything else.
    pub fn clock(s: &str) -> Option<SlotAt> {
        let (h, m) = s.trim().split_once(':')?;
        if h.is_empty() || h.len() > 2 || m.len() != 2 {
            return None;
        }
        let (hour, minute) = (h.parse::<u32>().ok()?, m.parse::<u32>().ok()?);
        (hour < 24 && minute < 60).then_some(SlotAt::Clock { hour, minute })
    }

    fn text(&self) -> String {
        match self {
            SlotAt::Ms(ms) => notify::clock_text(*ms),
            SlotAt::Clock { hour, minute } => format!("{hour:02}:{minute:02}"),
        }
    }
}

/// The start of the one slot among `starts` that `at` names, or why not
/// (`Err(None)`: no slot starts then; `Err(Some(list))`: several start at
/// that clock time, each with its date).
fn resolve_slot(at: SlotAt, starts: &[i64]) -> Result<i64, Option<String>> {
    match at {
        SlotAt::Ms(ms) => starts.contains(&ms).then_some(ms).ok_or(None),
        SlotAt::Clock { hour, minute } => {
            let want = format!("{hour:02}:{minute:02}");
            let mut found: Vec<i64> = starts
                .iter()
                .copied()
                .filter(|s| hhmm(*s) == want)
                .collect();
            found.sort_unstable();
            found.dedup();
            match found.as_slice() {
                [] => Err(None),
                [one] => Ok(*one),
                many => Err(Some(crate::notify::slot_starts_text(many.iter().copied()))),
            }
        }
    }
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
    /// For the latest notice of its slot and point: the later slot of the
    /// point its new time falls in (the two groups queue together).
    pub overlap: Option<DelayOverlap>,
}

/// The time the groups of `point`'s call in the slot starting at `slot_ms`
/// were last told to come down (the latest of the notices covering it).
pub fn last_told(delays: &[DelayView], point: &str, slot_ms: i64) -> Option<i64> {
    delays
        .iter()
        .filter(|d| d.covers(point, slot_ms))
        .map(|d| d.come_down_ms)
        .max()
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
                overlap: None,
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

/// Tells the groups `point` calls in the slot `slot` names (its start, or
/// its clock time: [`SlotAt`]) to come down `minutes` later (see the
/// module's text; `None`: the schedule's suggestion,
/// [`crate::schedule::suggested_minutes`]): a line is long at one
/// point, and the groups of a point whose line is short are not told theirs
/// is long. Authorised as [`crate::notify::push_call_down`] is. Refused when
/// nothing is planned, no slot starts then (or, by clock time, several do:
/// each is listed with its date), the point calls nobody in it, the slot
/// was never told (not pushed, not begun), it has ended (its end moved by
/// the delays told), `minutes` is outside [`DELAY_MINUTES`], the new time
/// is not later than one a notice already gave these groups (a second
/// notice never brings them down earlier), or the street has no active
/// channel: then nothing is queued or recorded. A new time that falls in a
/// later slot of the point is told all the same, with a warning
/// ([`Delayed::overlap`]).
pub async fn delay_call_down(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    round: Key,
    slot: SlotAt,
    point: Key,
    minutes: Option<u32>,
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
    let starts: Vec<i64> = view
        .plan
        .points
        .iter()
        .flat_map(|pt| pt.slots.iter().map(|s| s.starts_ms))
        .collect();
    let slot_ms = match resolve_slot(slot, &starts) {
        Ok(ms) => ms,
        Err(Some(several)) => {
            return Err(invalid(format!(
                "有多个叫号时段在 {at} 开始：{several}；请写明日期（YYYY-MM-DD HH:MM）；未发送 / several call-down slots start at {at}: {several}; give the date too (YYYY-MM-DD HH:MM); nothing was sent",
                at = slot.text(),
            )));
        }
        Err(None) => {
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
                slot.text(),
                slot.text()
            )));
        }
    };
    // The point's slots starting then, with their point's id and name.
    let slots: Vec<(i64, &str, &Slot)> = view
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
    let last_told = self::last_told(&view.delays, &point_key, slot_ms);
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
    // Without minutes, the schedule's suggestion (the same the schedule
    // shows for a slot over the bound; for one within it, the least).
    let suggested = minutes.is_none();
    let minutes = match minutes {
        Some(m) => m,
        None => view
            .points
            .iter()
            .find(|i| i.id == point_key)
            .and_then(|i| {
                crate::schedule::suggested_minutes(
                    i,
                    slot,
                    view.plan.params.max_queue,
                    last_told,
                    now,
                )
            })
            // None can be later than the time told: refused below.
            .unwrap_or(DELAY_MINUTES.1),
    };
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
    // The point's later slot the new time falls in: told all the same,
    // with a warning.
    let overlap = view
        .plan
        .points
        .iter()
        .find(|pt| pt.point_id == k.id)
        .and_then(|pt| {
            overlap_of(
                &point_key,
                point_name,
                &pt.slots,
                &view.delays,
                slot_ms,
                come_down_ms,
            )
        });
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
            suggested,
            warnings: overlap.iter().map(|o| o.text.clone()).collect(),
            overlap,
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
    use super::{overlap_of, parse_detail, resolve_slot, DelayView, SlotAt};
    use gw_domain::schedule::{hhmm, Slot, SlotCall, UnitCall, MINUTE_MS};

    // 2026-03-23 00:00 China time.
    const MIDNIGHT: i64 = 1_774_195_200_000;

    #[test]
    fn a_clock_time_names_the_one_slot_starting_then_whatever_its_date() {
        assert_eq!(hhmm(MIDNIGHT), "00:00");
        assert_eq!(
            SlotAt::clock("00:30"),
            Some(SlotAt::Clock {
                hour: 0,
                minute: 30
            })
        );
        assert_eq!(
            SlotAt::clock("8:05"),
            Some(SlotAt::Clock { hour: 8, minute: 5 })
        );
        for bad in ["24:00", "12:60", "1230", ":30", "123:00", "12:5", "ab:cd"] {
            assert_eq!(SlotAt::clock(bad), None, "{bad}");
        }
        let half = 30 * MINUTE_MS;
        // A round from 23:00 past midnight.
        let starts = [
            MIDNIGHT - 2 * half,
            MIDNIGHT - half,
            MIDNIGHT,
            MIDNIGHT + half,
        ];
        let at = |s: &str| SlotAt::clock(s).unwrap();
        assert_eq!(resolve_slot(at("00:30"), &starts), Ok(MIDNIGHT + half));
        assert_eq!(resolve_slot(at("23:30"), &starts), Ok(MIDNIGHT - half));
        assert_eq!(resolve_slot(at("01:00"), &starts), Err(None));
        assert_eq!(resolve_slot(SlotAt::Ms(MIDNIGHT), &starts), Ok(MIDNIGHT));
        assert_eq!(resolve_slot(SlotAt::Ms(MIDNIGHT + 1), &starts), Err(None));
        // The same clock time on two dates: both listed, with their dates.
        let two = [
            MIDNIGHT + half,
            MIDNIGHT + half + 86_400_000,
            MIDNIGHT + half,
        ];
        let Err(Some(list)) = resolve_slot(at("00:30"), &two) else {
            panic!("two slots at 00:30");
        };
        assert_eq!(list, "2026-03-23 00:30, 2026-03-24 00:30");
    }

    #[test]
    fn a_delay_into_a_later_slot_names_its_time_and_buildings() {
        let slot = |start: i64, building: &str| Slot {
            starts_ms: start,
            ends_ms: start + 30 * MINUTE_MS,
            calls: vec![SlotCall {
                building_id: 1,
                building: building.into(),
                units: vec![UnitCall {
                    id: 1,
                    name: "2".into(),
                    people: 40,
                    except_rooms: Vec::new(),
                }],
                people: 40,
                away: None,
                moved_from: None,
            }],
            arrivals: 40,
            capacity: 60.0,
            expected_queue: 10.0,
            finish_ms: start + 30 * MINUTE_MS,
        };
        let nine = MIDNIGHT + 9 * 60 * MINUTE_MS;
        let slots = [slot(nine, "1号楼"), slot(nine + 30 * MINUTE_MS, "3号楼")];
        let none: Vec<DelayView> = Vec::new();
        assert!(overlap_of("1-3", "北门", &slots, &none, nine, nine + 20 * MINUTE_MS).is_none());
        let o = overlap_of("1-3", "北门", &slots, &none, nine, nine + 40 * MINUTE_MS).unwrap();
        assert_eq!(o.starts_ms, nine + 30 * MINUTE_MS);
        assert_eq!(o.buildings, vec!["3号楼 2单元".to_string()]);
        assert!(
            o.text.starts_with("新的下楼时间 09:40 落在「北门」09:30–10:00 时段内（3号楼 2单元）：两批居民会同时排队"),
            "{}",
            o.text
        );
        assert!(
            o.text.contains(
                " / the new time, 09:40, falls in 北门's slot of 09:30–10:00 (3号楼 2单元)"
            ),
            "{}",
            o.text
        );
        // The next slot's groups were put off 30 minutes themselves
        // (10:00–10:30): 09:40 is before them now.
        let told = DelayView {
            slot_ms: nine + 30 * MINUTE_MS,
            point: Some("1-3".into()),
            point_name: None,
            minutes: 30,
            come_down_ms: nine + 60 * MINUTE_MS,
            at_ms: nine,
            actor: "cli:root".into(),
            by: "root".into(),
            messages: 1,
            overlap: None,
        };
        let told = vec![told];
        assert!(overlap_of("1-3", "北门", &slots, &told, nine, nine + 40 * MINUTE_MS).is_none());
        let o = overlap_of("1-3", "北门", &slots, &told, nine, nine + 65 * MINUTE_MS).unwrap();
        assert!(o.text.contains("，已通知 10:00 后下楼"), "{}", o.text);
        // Another point's notice moves nothing here.
        assert!(overlap_of("1-4", "南门", &slots, &told, nine, nine + 40 * MINUTE_MS).is_some());
    }

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
