//! The testing-point schedule of a round: load buildings, head counts,
//! control orders and points; plan (or re-plan the slots not yet started);
//! store the plan; show it with its call-down messages and the simulation of
//! the plan against calling everyone at once.

use std::collections::BTreeMap;

use gw_domain::access::{Action, Place};
use gw_domain::ids::Key;
use gw_domain::schedule::{
    self as sched, Building, Call, Comparison, DoorToDoor, Household, Measured, Params, Plan,
    Point, Pos, Unit, HOUR_MS, MINUTE_MS,
};
use gw_domain::territory::{ControlOrder, ControlStatus};
use gw_store::schedule::{CallRow, Kept, SchedulePlanRow};
use gw_store::testing::RoundRow;
use gw_store::Store;
use serde::Serialize;

use crate::access::{self, AuthError, Principal};
use crate::Clock;

/// Scans in this window (before now) measure a point's rate.
pub const MEASURE_WINDOW_MS: i64 = HOUR_MS;
pub const DEFAULT_SLOT_MINUTES: u32 = 30;
pub const DEFAULT_MAX_QUEUE: u32 = 30;
/// A plan looks no further ahead than this (a round is a day's work).
pub const PLAN_HORIZON_MS: i64 = 24 * HOUR_MS;

/// The slot lengths (minutes) a plan may have.
pub const SLOT_MINUTES: (u32, u32) = (5, 240);
/// The queue bounds (people) a plan may have.
pub const MAX_QUEUE: (u32, u32) = (1, 1000);

/// What the organiser may choose when planning. A field left out is the
/// stored plan's (a re-plan keeps its slots and bound), else the default.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlanOptions {
    pub slot_minutes: Option<u32>,
    pub max_queue: Option<u32>,
}

impl PlanOptions {
    /// Out of range is refused, naming the field: never quietly clamped.
    pub fn check(&self) -> Result<(), AuthError> {
        if let Some(n) = self
            .slot_minutes
            .filter(|n| !(SLOT_MINUTES.0..=SLOT_MINUTES.1).contains(n))
        {
            return Err(AuthError::Invalid(format!(
                "slot_minutes：每个时段须为 {} 到 {} 分钟，收到 {n} / slot_minutes must be {} to {} minutes, not {n}",
                SLOT_MINUTES.0, SLOT_MINUTES.1, SLOT_MINUTES.0, SLOT_MINUTES.1
            )));
        }
        if let Some(n) = self
            .max_queue
            .filter(|n| !(MAX_QUEUE.0..=MAX_QUEUE.1).contains(n))
        {
            return Err(AuthError::Invalid(format!(
                "max_queue：排队上限须为 {} 到 {} 人，收到 {n} / max_queue must be {} to {} people, not {n}",
                MAX_QUEUE.0, MAX_QUEUE.1, MAX_QUEUE.0, MAX_QUEUE.1
            )));
        }
        Ok(())
    }
}

/// A point as the schedule shows it: hours, configured and measured rate.
#[derive(Debug, Clone, Serialize)]
pub struct PointInfo {
    pub id: String,
    pub name: String,
    pub community: String,
    /// `None`: outside any compound (serves any compound).
    pub compound: Option<String>,
    pub x_m: Option<i32>,
    pub y_m: Option<i32>,
    pub stations: u32,
    pub opens_ms: i64,
    pub closes_ms: i64,
    /// People per station per hour, as configured.
    pub configured_rate: f64,
    /// A station's pace over the last hour: each station that scanned at
    /// least twice, over its own span from first scan to last (`None`: too
    /// few scans yet).
    pub measured_rate: Option<f64>,
    /// Stalled: people it called have waited at least
    /// [`sched::STALL_AFTER_MS`] while it scanned too few to measure; its
    /// measured rate is then what it did scan (at least
    /// [`sched::STALL_FLOOR_PER_STATION_H`]), and a re-plan uses it.
    pub stalled: bool,
    /// Scans in the measuring window.
    pub scans_recent: i64,
    /// People waiting now: those called in slots already started who have
    /// come by the plan's arrival curve (everyone, for a slot that is over)
    /// and are not swabbed, at most the line the point's own speed leaves
    /// (people who never came drop out).
    pub backlog: u32,
    /// The rate per configured station the next re-plan uses: with people
    /// waiting, the measured pace (a station added counts at that pace);
    /// otherwise the faster of configured and measured.
    pub planning_rate: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct CallDown {
    pub point: String,
    pub point_name: String,
    pub starts_ms: i64,
    pub ends_ms: i64,
    pub people: u32,
    /// The message for the WeCom group (Chinese).
    pub text: String,
}

/// A slot of the stored plan its point is not open for (its hours changed
/// since the plan): its call-down cannot be pushed; plan again.
#[derive(Debug, Clone, Serialize)]
pub struct OutOfHours {
    pub point: String,
    pub point_name: String,
    pub starts_ms: i64,
    pub ends_ms: i64,
    pub opens_ms: i64,
    pub closes_ms: i64,
    /// Its call-down went out already: those people were told to come.
    pub pushed: bool,
}

/// Whether a slot lies outside a point's hours.
fn outside_hours(opens_ms: i64, closes_ms: i64, starts_ms: i64, ends_ms: i64) -> bool {
    starts_ms < opens_ms || ends_ms > closes_ms
}

impl OutOfHours {
    /// Why its call-down is not pushed, in Chinese and English.
    pub fn reason(&self) -> String {
        use gw_domain::notify::clock_text;
        format!(
            "采样点 {} 在 {}–{} 不开放（开放时间 {}–{}），叫号未推送：请重新排班 / point {} is not open for the slot {}–{} (open {}–{}): nothing pushed; plan the round again",
            self.point_name,
            clock_text(self.starts_ms),
            sched::hhmm(self.ends_ms),
            clock_text(self.opens_ms),
            clock_text(self.closes_ms),
            self.point_name,
            clock_text(self.starts_ms),
            sched::hhmm(self.ends_ms),
            clock_text(self.opens_ms),
            clock_text(self.closes_ms),
        )
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ScheduleView {
    pub round: String,
    pub round_name: String,
    /// Ids inside `plan` (points, buildings, units) are numbers in this street.
    pub street: i64,
    /// False: no plan is stored yet and this is a preview.
    pub stored: bool,
    pub revision: Option<i32>,
    pub planned_ms: Option<i64>,
    pub planned_by: Option<String>,
    /// Why the preview has no calls (the window cannot be met …).
    pub problem: Option<String>,
    pub points: Vec<PointInfo>,
    pub plan: Plan,
    pub call_down: Vec<CallDown>,
    pub simulation: Comparison,
    /// Slots of the stored plan their point is not open for (hours changed
    /// since): the plan no longer fits the points' hours.
    pub out_of_hours: Vec<OutOfHours>,
    /// The stored plan's slots whose call-down went out: when, by whom,
    /// how many messages (oldest first).
    pub pushes: Vec<crate::notify::PushView>,
    /// Buildings, units and households sampled at the door in what the
    /// caller sees (`plan.door_to_door` may be hidden from them: it names
    /// households under control; the count is still theirs to know).
    pub door_to_door_count: u32,
    /// Slots already told (call-down pushed, or begun) whose expected queue
    /// is over the bound. A re-plan never changes them: their people were
    /// told; only stations added at the point now, or a word to the groups
    /// of the delay, help.
    pub told_over_bound: Vec<ToldOverBound>,
    /// The delay notices sent for slots already told (延迟下楼): which
    /// groups were told to come down later, when, by whom (oldest first).
    pub delays: Vec<crate::call_delay::DelayView>,
}

/// A slot already told whose expected queue is over the bound.
#[derive(Debug, Clone, Serialize)]
pub struct ToldOverBound {
    pub point: String,
    pub point_name: String,
    pub starts_ms: i64,
    pub ends_ms: i64,
    pub expected_queue: f64,
    /// Its call-down went out.
    pub pushed: bool,
    /// It has begun.
    pub begun: bool,
    /// The delay (minutes) the latest delay notice covering it told the
    /// groups of (`None`: none went out).
    pub delayed_minutes: Option<u32>,
    /// When that notice told them to come down (the slot's start plus the
    /// delay; when told plus the delay for a slot already begun).
    pub delayed_until_ms: Option<i64>,
    /// The point's people per minute the suggestion counts on: its
    /// stations at the measured rate, else the configured one.
    pub people_per_minute: f64,
    /// The delay (minutes) to tell the groups: the time the point's
    /// stations need to work the line down to the bound, rounded up to 5,
    /// within 5–240, never less than a further notice must give
    /// ([`sched::suggested_delay`]). `None`: no delay can be told any more
    /// (the slot has ended, or the least a further notice must give is past
    /// the longest delay).
    pub suggested_minutes: Option<u32>,
}

/// The delay to suggest for `slot` of the point `info` (whose groups were
/// last told to come down at `last_told`, if a notice did), at `now`:
/// [`sched::suggested_delay`]; `None` once the slot has ended (its end
/// moved by the delay told) or no delay can be later than the one told.
pub fn suggested_minutes(
    info: &PointInfo,
    slot: &sched::Slot,
    max_queue: f64,
    last_told: Option<i64>,
    now: i64,
) -> Option<u32> {
    if sched::delayed_end(slot.starts_ms, slot.ends_ms, last_told) <= now {
        return None;
    }
    let least = sched::delay_minutes_past(slot.starts_ms, now, last_told.unwrap_or(i64::MIN));
    sched::suggested_delay(
        slot.expected_queue,
        max_queue,
        sched::people_per_minute(info.stations, info.configured_rate, info.measured_rate),
        least,
    )
}

impl ToldOverBound {
    /// What can be done, Chinese first, English second.
    pub fn text(&self, max_queue: f64) -> String {
        let (zh, en) = match (self.pushed, self.begun) {
            (_, true) => ("已开始", "has begun"),
            _ => ("叫号已推送", "was pushed"),
        };
        // Said once a delay notice went out: the latest one.
        let (dzh, den) = match self.delayed_minutes {
            Some(m) => {
                let at = sched::hhmm(
                    self.delayed_until_ms
                        .unwrap_or(self.starts_ms + i64::from(m) * MINUTE_MS),
                );
                (
                    format!("（已通知相关群推迟约 {m} 分钟下楼，{at} 后）"),
                    format!(
                        " (the groups were told to come down about {m} minutes later, after {at})"
                    ),
                )
            }
            None => (String::new(), String::new()),
        };
        // The delay that lets the stations work the line down to the bound.
        let (szh, sen) = match self.suggested_minutes {
            Some(m) => (
                format!(
                    "；建议推迟约 {m} 分钟（该点每分钟约采 {:.1} 人，排队降到上限所需）",
                    self.people_per_minute
                ),
                format!(
                    "; suggested: about {m} minutes (the time the point's {:.1} people a minute need to bring the line down to the bound)",
                    self.people_per_minute
                ),
            ),
            None => (String::new(), String::new()),
        };
        format!(
            "{} {}–{} {zh}，预计排队约 {:.0} 人，超过上限 {max_queue:.0} 人。居民已被通知，重新排班不会改动这一时段：请立即在该点加采样台，或通知相关群延迟下楼{dzh}{szh} / {} {}–{} {en}: about {:.0} expected in line, over the bound of {max_queue:.0}. Its people were told; a re-plan does not change it: add stations at the point now, or tell the groups of the delay{den}{sen}",
            self.point_name,
            sched::hhmm(self.starts_ms),
            sched::hhmm(self.ends_ms),
            self.expected_queue,
            self.point_name,
            sched::hhmm(self.starts_ms),
            sched::hhmm(self.ends_ms),
            self.expected_queue,
        )
    }
}

/// Everything the planner needs, loaded once.
struct Loaded {
    round: RoundRow,
    buildings: Vec<Building>,
    points: Vec<Point>,
    infos: Vec<PointInfo>,
    communities: Vec<i64>,
    stored: Option<SchedulePlanRow>,
    calls: Vec<Call>,
    /// Per point (as `points`): its calls in slots already started and the
    /// people waiting there now.
    started: Vec<(Vec<Call>, f64)>,
    /// Per point (as `points`): what its speed is read from.
    evidence: Vec<Evidence>,
}

fn status_of(
    orders: &BTreeMap<(String, i64), ControlOrder>,
    kind: &str,
    id: i64,
) -> Option<ControlStatus> {
    orders.get(&(kind.to_string(), id)).map(|o| o.status)
}

async fn load(store: &Store, clock: &Clock, round: Key) -> Result<Loaded, AuthError> {
    let now = clock.now_ms();
    let street = round.street;
    let r = store.round(street, round.id).await?;
    let homebound = i64::from(gw_domain::resident::Flag::CannotGoDownstairs.bit());
    let rows = store
        .schedule_households(street, round.id, homebound)
        .await?;
    let orders = crate::registry::controls_in_force(store, street, now).await?;
    let mut buildings: Vec<Building> = Vec::new();
    for h in rows {
        if buildings.last().is_none_or(|b| b.id != h.building_id) {
            let own = status_of(&orders, "building", h.building_id);
            let compound = status_of(&orders, "compound", h.compound_id);
            let control = [own, compound]
                .into_iter()
                .flatten()
                .find(|s| s.door_to_door_only())
                .or(own)
                .or(compound);
            buildings.push(Building {
                id: h.building_id,
                name: h.building.clone(),
                compound: h.compound_id,
                community: Some(h.community_id),
                order: buildings.len() as u32,
                pos: match (h.x_m, h.y_m) {
                    (Some(x), Some(y)) => Some(Pos {
                        x_m: f64::from(x),
                        y_m: f64::from(y),
                    }),
                    _ => None,
                },
                control,
                pinned_point: None,
                units: Vec::new(),
            });
        }
        let Some(b) = buildings.last_mut() else {
            continue;
        };
        if b.units.last().is_none_or(|u| u.id != h.unit_id) {
            b.units.push(Unit {
                id: h.unit_id,
                name: h.unit.clone(),
                control: status_of(&orders, "unit", h.unit_id),
                households: Vec::new(),
            });
        }
        if let Some(u) = b.units.last_mut() {
            u.households.push(Household {
                id: h.household_id,
                room: h.room,
                people: u32::try_from(h.people).unwrap_or(0),
                control: status_of(&orders, "household", h.household_id),
            });
        }
    }
    let stored = store.schedule_plan(street, round.id).await?;
    let calls: Vec<Call> = store
        .schedule_calls(street, round.id)
        .await?
        .into_iter()
        .map(|c| Call {
            point_id: c.point_id,
            starts_ms: c.starts_ms,
            ends_ms: c.ends_ms,
            building_id: c.building_id,
            unit_id: c.unit_id,
            people: u32::try_from(c.people).unwrap_or(0),
        })
        .collect();
    // Who has been swabbed since the calls began: from the first stored
    // call (the first plan's first slot; a re-plan keeps started calls), not
    // from the latest plan's cut-off, which lies ahead of its own scans.
    let anchor = calls
        .iter()
        .map(|c| c.starts_ms)
        .min()
        .or(stored.as_ref().map(|s| s.anchor_ms))
        .unwrap_or(now);
    let scans = store
        .point_scans(
            street,
            round.id,
            anchor.min(now),
            now - MEASURE_WINDOW_MS,
            now,
        )
        .await?;
    // The slot in progress begins at the latest start among calls begun;
    // swabs since then are its own (after the older line), those before the
    // older slots'.
    let split = calls
        .iter()
        .map(|c| c.starts_ms)
        .filter(|s| *s <= now)
        .max()
        .unwrap_or(now);
    let since_split = store
        .point_scans(street, round.id, split, now - MEASURE_WINDOW_MS, now)
        .await?;
    let per_station = store
        .station_scans(street, round.id, now - MEASURE_WINDOW_MS, now)
        .await?;
    let mut points = Vec::new();
    let mut infos = Vec::new();
    let mut communities = Vec::new();
    let mut started_calls = Vec::new();
    let mut evidences = Vec::new();
    for p in store.schedule_points(street, round.id).await? {
        let stations = u32::try_from(p.stations).unwrap_or(1).max(1);
        let configured = f64::from(p.rate_per_station_h.max(1));
        let s = scans.iter().find(|s| s.point_id == p.id);
        // The pace of a station: each named station over its own active
        // span, so a phone re-enrolled (a new station after one scan) or a
        // station left idle does not dilute it. Scans with no station named
        // fall back to the point's scans over its configured stations.
        let own: Vec<sched::StationScans> = per_station
            .iter()
            .filter(|r| r.0 == p.id)
            .map(|r| sched::StationScans {
                scans: u32::try_from(r.2).unwrap_or(0),
                first_ms: r.3,
                last_ms: r.4,
            })
            .collect();
        let started: Vec<Call> = calls
            .iter()
            .filter(|c| c.point_id == p.id && c.starts_ms <= now)
            .cloned()
            .collect();
        let scanned = s.map_or(0, |s| u32::try_from(s.since_anchor).unwrap_or(0));
        let since = since_split
            .iter()
            .find(|s| s.point_id == p.id)
            .map_or(0, |s| u32::try_from(s.since_anchor).unwrap_or(0));
        let evidence = Evidence {
            started: started.clone(),
            swabbed: sched::Swabbed {
                split_ms: split,
                before: scanned.saturating_sub(since),
                since,
            },
            configured,
            own,
            recent: s.map_or(0, |s| u32::try_from(s.recent).unwrap_or(0)),
            first_recent_ms: s.and_then(|s| s.first_recent_ms),
        };
        let Speed {
            measured,
            stalled,
            waiting,
            rate,
        } = speed(&evidence, stations, now);
        let backlog = waiting.round() as u32;
        let opens_ms = p.opens_ms.unwrap_or(r.starts_ms);
        let closes_ms = p.closes_ms.unwrap_or(r.ends_ms);
        infos.push(PointInfo {
            id: Key { street, id: p.id }.to_string(),
            name: p.name.clone(),
            community: Key {
                street,
                id: p.community_id,
            }
            .to_string(),
            compound: p.compound_id.map(|id| Key { street, id }.to_string()),
            x_m: p.x_m,
            y_m: p.y_m,
            stations,
            opens_ms,
            closes_ms,
            configured_rate: configured,
            measured_rate: measured,
            stalled,
            scans_recent: s.map_or(0, |s| s.recent),
            backlog,
            planning_rate: rate,
        });
        communities.push(p.community_id);
        points.push(Point {
            id: p.id,
            name: p.name,
            compound: p.compound_id,
            community: Some(p.community_id),
            pos: match (p.x_m, p.y_m) {
                (Some(x), Some(y)) => Some(Pos {
                    x_m: f64::from(x),
                    y_m: f64::from(y),
                }),
                _ => None,
            },
            stations,
            rate_per_station_h: rate,
            opens_ms,
            closes_ms,
            backlog,
            booked: Vec::new(),
            announced: Vec::new(),
        });
        started_calls.push((started, waiting));
        evidences.push(evidence);
    }
    Ok(Loaded {
        round: r,
        buildings,
        points,
        infos,
        communities,
        stored,
        calls,
        started: started_calls,
        evidence: evidences,
    })
}

/// What a point's speed is read from, kept so that the advice of a refused
/// re-plan can read it again with other stations (see [`speed`]).
#[derive(Debug, Clone)]
struct Evidence {
    /// Its calls in slots already started.
    started: Vec<Call>,
    swabbed: sched::Swabbed,
    configured: f64,
    /// Each named station's scans in the measuring window.
    own: Vec<sched::StationScans>,
    /// The point's scans in the measuring window, and the first of them.
    recent: u32,
    first_recent_ms: Option<i64>,
}

/// A point's speed as a re-plan plans it.
struct Speed {
    /// The measured pace per station and hour (a stalled point's: what it
    /// scanned, see [`sched::stalled_rate`]).
    measured: Option<f64>,
    stalled: bool,
    /// People waiting now.
    waiting: f64,
    /// The rate per station a re-plan plans with.
    rate: f64,
}

/// The speed of a point with `stations` stations, from what its scans and
/// calls say at `now`.
fn speed(e: &Evidence, stations: u32, now: i64) -> Speed {
    // The point's scans over its configured stations: at an idle point
    // the only evidence of speed (a lower bound on it).
    let throughput = e.first_recent_ms.and_then(|first| {
        sched::measured_rate(&Measured {
            scans: e.recent,
            span_ms: now - first.max(now - MEASURE_WINDOW_MS),
            stations,
        })
    });
    let mut measured = if e.own.is_empty() {
        throughput
    } else {
        sched::station_pace(&e.own)
    };
    // Waiting now (see `waiting_now`): the slot in progress by the plan's
    // arrival curve less its swabs, and of older slots only the line the
    // point's speed leaves, so people who never came drop out.
    let mut waiting =
        sched::waiting_now(&e.started, e.swabbed, stations, e.configured, measured, now);
    // Too few scans to measure, while people it called have waited long
    // enough: it has stalled, and is planned at what it did scan.
    let mut stalled = false;
    if measured.is_none() {
        let first_call = e.started.iter().map(|c| c.starts_ms).min();
        let come =
            sched::arrived_by(&e.started, now) - f64::from(e.swabbed.before + e.swabbed.since);
        let stall = first_call.and_then(|first| {
            sched::stalled_rate(&sched::Stall {
                scans: e.recent,
                called_ms: now - first.max(now - MEASURE_WINDOW_MS),
                waiting: come,
                stations,
            })
        });
        if let Some(m) = stall {
            stalled = true;
            measured = Some(m);
            waiting = come.max(waiting);
        }
    }
    // Slow only if people were waiting and still it served below its
    // rate. Then a re-plan counts every configured station at the
    // measured pace, so a station added where the line is long adds
    // that pace; an idle point's pace only says it is at least so fast.
    let busy = stalled || waiting >= f64::from(stations);
    let rate = sched::effective_rate(e.configured, if busy { measured } else { throughput }, busy);
    Speed {
        measured,
        stalled,
        waiting,
        rate,
    }
}

fn seed(round: Key) -> u64 {
    2022 ^ (round.street as u64).rotate_left(32) ^ round.id as u64
}

/// Plans the round, or re-plans the slots not yet started. The operator's
/// form (the CLI): no authorisation, `actor` in the audit log.
pub async fn plan_as(
    store: &Store,
    clock: &Clock,
    actor: &str,
    round: Key,
    opts: PlanOptions,
) -> Result<ScheduleView, AuthError> {
    let now = clock.now_ms();
    opts.check()?;
    let l = load(store, clock, round).await?;
    // Left out: as the stored plan has it (a re-plan keeps its slot grid and
    // bound), else the defaults.
    let slot_ms = i64::from(
        opts.slot_minutes
            .or(l.stored.as_ref().map(|s| (s.slot_ms / MINUTE_MS) as u32))
            .unwrap_or(DEFAULT_SLOT_MINUTES)
            .clamp(SLOT_MINUTES.0, SLOT_MINUTES.1),
    ) * MINUTE_MS;
    let max_queue = opts
        .max_queue
        .or(l.stored.as_ref().map(|s| s.max_queue as u32))
        .unwrap_or(DEFAULT_MAX_QUEUE)
        .clamp(MAX_QUEUE.0, MAX_QUEUE.1);
    if l.round.state == "sampling_closed"
        || l.round.state == "results_complete"
        || l.round.state == "closed"
    {
        return Err(AuthError::Invalid(format!(
            "轮次已停止采样，不能再排班 / the round is {}: nothing left to call",
            l.round.state
        )));
    }
    // Slots whose call-down went out stand as told, like slots begun (told
    // with the stored plan's slot length).
    let pushed = store.pushed_slots(round.street, round.id).await?;
    let told_slot_ms = l.stored.as_ref().map_or(slot_ms, |s| s.slot_ms);
    let (from, keep_before, kept) = match &l.stored {
        Some(s) => {
            let cut = sched::next_slot_start(s.anchor_ms, s.slot_ms, now);
            let kept: Vec<Call> = l
                .calls
                .iter()
                .filter(|c| c.starts_ms < cut || pushed.contains(&c.starts_ms))
                .cloned()
                .collect();
            (cut, cut, kept)
        }
        None => {
            let earliest = l.points.iter().map(|p| p.opens_ms).min().unwrap_or(now);
            let from = round_up(now, 5 * MINUTE_MS)
                .max(l.round.starts_ms)
                .max(earliest);
            (from, i64::MIN, Vec::new())
        }
    };
    let rest = sched::remaining(&l.buildings, &kept);
    let prm = Params {
        from_ms: from,
        until_ms: l.round.ends_ms.min(from + PLAN_HORIZON_MS),
        slot_ms,
        max_queue: f64::from(max_queue),
    };
    // A first plan starts with nobody waiting; a re-plan fills around the
    // calls already pushed for slots ahead.
    let points: Vec<Point> = if l.stored.is_some() {
        l.points
            .iter()
            .zip(&l.started)
            .map(|(p, (started, waiting))| Point {
                // Those waiting now, joined by the rest of the started slots'
                // people, served at the point's planning rate until `from`.
                backlog: sched::backlog_at(
                    started,
                    *waiting,
                    p.rate_per_station_h * f64::from(p.stations),
                    now,
                    from,
                )
                .round() as u32,
                booked: kept
                    .iter()
                    .filter(|c| c.point_id == p.id && c.starts_ms >= from)
                    .cloned()
                    .collect(),
                announced: pushed
                    .iter()
                    .filter(|t| **t >= from)
                    .map(|t| (*t, t + told_slot_ms))
                    .collect(),
                ..p.clone()
            })
            .collect()
    } else {
        l.points
            .iter()
            .map(|p| Point {
                backlog: 0,
                ..p.clone()
            })
            .collect()
    };
    // A round longer than the plan's horizon: a later end is no remedy.
    let horizon = (prm.until_ms < l.round.ends_ms).then_some(PLAN_HORIZON_MS / HOUR_MS);
    // Station advice is tried as a re-plan at this moment would see the
    // point with those stations: its pace and its line read again.
    let restation = restation_of(&l, now, l.stored.is_some().then_some(from));
    let plan = sched::plan_until_with(&rest, &points, &prm, horizon, &restation)
        .map_err(|e| AuthError::Invalid(refusal(e, &l.infos)))?;
    let calls: Vec<CallRow> = plan
        .calls()
        .into_iter()
        .map(|c| CallRow {
            point_id: c.point_id,
            starts_ms: c.starts_ms,
            ends_ms: c.ends_ms,
            building_id: c.building_id,
            unit_id: c.unit_id,
            people: c.people as i32,
        })
        .collect();
    store
        .save_schedule(
            round.street,
            round.id,
            &SchedulePlanRow {
                anchor_ms: from,
                slot_ms,
                until_ms: prm.until_ms,
                max_queue: max_queue as i32,
                revision: 0,
                planned_by: actor.to_string(),
                planned_ms: now,
            },
            Kept {
                before_ms: keep_before,
                pushed: &pushed,
            },
            &calls,
            &format!(
                "from={from} kept={} called={}",
                kept.len(),
                plan.people_called
            ),
        )
        .await?;
    view_as(store, clock, round, &|_| true).await
}

/// A point as a plan made now would have it with `k` stations more: its
/// pace and its line read again from its scans and calls ([`speed`]), and
/// on a re-plan (`from`: the re-plan's first slot) its backlog then.
fn restation_of(l: &Loaded, now: i64, from: Option<i64>) -> impl Fn(&Point, u32) -> Point + '_ {
    move |p: &Point, k: u32| {
        let Some(i) = l.points.iter().position(|q| q.id == p.id) else {
            return sched::more_stations(p, k);
        };
        let (Some(e), Some((started, _))) = (l.evidence.get(i), l.started.get(i)) else {
            return sched::more_stations(p, k);
        };
        let stations = p.stations + k;
        let sp = speed(e, stations, now);
        let backlog = from.map_or(p.backlog, |from| {
            sched::backlog_at(
                started,
                sp.waiting,
                sp.rate * f64::from(stations),
                now,
                from,
            )
            .round() as u32
        });
        Point {
            stations,
            rate_per_station_h: sp.rate,
            backlog,
            ..p.clone()
        }
    }
}

/// A plan's refusal as the organiser reads it: a point planned slower than
/// configured (its measured rate) is named, as it is often why the window
/// is missed.
fn refusal(e: sched::PlanError, infos: &[PointInfo]) -> String {
    let mut e = e;
    if let sched::PlanError::WindowTooShort {
        remedy_zh,
        remedy_en,
        ..
    } = &mut e
    {
        let slow: Vec<&PointInfo> = infos
            .iter()
            .filter(|p| p.planning_rate < p.configured_rate)
            .collect();
        if !slow.is_empty() {
            let zh: Vec<String> = slow
                .iter()
                .map(|p| {
                    if p.stalled {
                        return format!(
                            "{}（停滞：{} 人待采而近一小时只扫码 {} 次，按每台每小时 {:.0} 人排，原定 {:.0} 人）",
                            p.name, p.backlog, p.scans_recent, p.planning_rate, p.configured_rate
                        );
                    }
                    format!(
                        "{}（实测每台每小时约 {:.0} 人，按 {:.0} 人排，原定 {:.0} 人）",
                        p.name,
                        p.measured_rate.unwrap_or(p.planning_rate),
                        p.planning_rate,
                        p.configured_rate
                    )
                })
                .collect();
            let en: Vec<String> = slow
                .iter()
                .map(|p| {
                    if p.stalled {
                        return format!(
                            "{} (stalled: {} waiting and only {} scans in the last hour; planned at {:.0} per station per hour, configured {:.0})",
                            p.name, p.backlog, p.scans_recent, p.planning_rate, p.configured_rate
                        );
                    }
                    format!(
                        "{} (measured about {:.0} per station per hour, planned at {:.0}, configured {:.0})",
                        p.name,
                        p.measured_rate.unwrap_or(p.planning_rate),
                        p.planning_rate,
                        p.configured_rate
                    )
                })
                .collect();
            remedy_zh.push_str(&format!("。采样偏慢的点：{}", zh.join("、")));
            remedy_en.push_str(&format!(
                ". Points slower than configured: {}",
                en.join("; ")
            ));
        }
    }
    e.to_string()
}

/// The console operator (`cli:USER`, the audit log's id) as people read
/// it; `None` for anyone else.
pub fn operator_named(actor: &str) -> Option<String> {
    actor
        .starts_with("cli:")
        .then(|| format!("命令行操作员（{actor}）/ command line ({actor})"))
}

fn round_up(ms: i64, step: i64) -> i64 {
    (ms + step - 1).div_euclid(step) * step
}

/// The stored plan (or, before any, a preview) with the call-down messages
/// and the simulation, narrowed to the points `visible` accepts.
pub async fn view_as(
    store: &Store,
    clock: &Clock,
    round: Key,
    visible: &(dyn Fn(&Place) -> bool + Sync),
) -> Result<ScheduleView, AuthError> {
    let l = load(store, clock, round).await?;
    let now = clock.now_ms();
    let mut problem = None;
    let (stored, calls, prm) = match &l.stored {
        Some(s) => (
            true,
            // Sealed or put under temporary control since the plan was made:
            // not called down (door to door instead).
            sched::calls_under_control_now(&l.buildings, &l.points, &l.calls),
            Params {
                from_ms: l
                    .calls
                    .iter()
                    .map(|c| c.starts_ms)
                    .min()
                    .unwrap_or(s.anchor_ms),
                until_ms: s.until_ms,
                slot_ms: s.slot_ms,

                max_queue: f64::from(s.max_queue),
            },
        ),
        None => {
            let earliest = l.points.iter().map(|p| p.opens_ms).min().unwrap_or(now);
            let from_ms = round_up(now, 5 * MINUTE_MS)
                .max(l.round.starts_ms)
                .max(earliest);
            let prm = Params {
                from_ms,
                until_ms: l.round.ends_ms.min(from_ms + PLAN_HORIZON_MS),
                slot_ms: i64::from(DEFAULT_SLOT_MINUTES) * MINUTE_MS,
                max_queue: f64::from(DEFAULT_MAX_QUEUE),
            };
            let pts: Vec<Point> = l
                .points
                .iter()
                .map(|p| Point {
                    backlog: 0,
                    ..p.clone()
                })
                .collect();
            let horizon = (prm.until_ms < l.round.ends_ms).then_some(PLAN_HORIZON_MS / HOUR_MS);
            let restation = restation_of(&l, now, None);
            let calls = match sched::plan_until_with(&l.buildings, &pts, &prm, horizon, &restation)
            {
                Ok(plan) => plan.calls(),
                Err(e) => {
                    problem = Some(refusal(e, &l.infos));
                    Vec::new()
                }
            };
            (false, calls, prm)
        }
    };
    // Who sees what: a point whose community the caller reads is shown whole;
    // otherwise (a grid leader) the points calling the caller's buildings,
    // with only those buildings' calls (queues and finish still count everyone).
    let mut whole = Vec::new();
    for (i, c) in l.communities.iter().enumerate() {
        let mut place = store.place_of(round.street, "community", *c).await?;
        place.point = l.points.get(i).map(|p| p.id);
        whole.push(visible(&place));
    }
    let mut readable: BTreeMap<i64, bool> = BTreeMap::new();
    if whole.iter().any(|w| !w) {
        for b in &l.buildings {
            let place = store.place_of(round.street, "building", b.id).await?;
            readable.insert(b.id, visible(&place));
        }
    }
    let shown = |c: &Call| -> bool {
        l.points
            .iter()
            .zip(&whole)
            .any(|(p, w)| p.id == c.point_id && *w)
            || readable.get(&c.building_id).copied().unwrap_or(false)
    };
    let keep: Vec<bool> = l
        .points
        .iter()
        .map(|p| calls.iter().any(|c| c.point_id == p.id && shown(c)))
        .zip(&whole)
        .map(|(a, w)| a || *w)
        .collect();
    // The whole plan is evaluated from its first slot with nobody waiting.
    let points: Vec<Point> = l
        .points
        .iter()
        .zip(&keep)
        .filter(|(_, k)| **k)
        .map(|(p, _)| Point {
            backlog: 0,
            ..p.clone()
        })
        .collect();
    let infos: Vec<PointInfo> = l
        .infos
        .into_iter()
        .zip(&keep)
        .filter(|(_, k)| **k)
        .map(|(p, _)| p)
        .collect();
    let calls: Vec<Call> = calls
        .into_iter()
        .filter(|c| points.iter().any(|p| p.id == c.point_id))
        .collect();
    let mut pushes = if stored {
        crate::notify::pushes_of(store, round).await?
    } else {
        Vec::new()
    };
    // The console operator as people read it (`actor` keeps the audit id).
    for p in &mut pushes {
        if let Some(by) = operator_named(&p.actor) {
            p.by = by;
        }
    }
    let pushed: Vec<i64> = pushes.iter().map(|p| p.slot_ms).collect();
    // The notices of the points this reader sees (a point's staff see their
    // own point's, not the others' by bare id).
    let mut delays = if stored {
        let mut d = crate::call_delay::delays_of(store, round).await?;
        d.retain(|d| {
            d.point
                .as_deref()
                .is_none_or(|k| infos.iter().any(|i| i.id == k))
        });
        for d in &mut d {
            d.point_name = d
                .point
                .as_deref()
                .and_then(|k| infos.iter().find(|i| i.id == k))
                .map(|i| i.name.clone());
        }
        d
    } else {
        Vec::new()
    };
    let mut out_of_hours: Vec<OutOfHours> = Vec::new();
    for c in &calls {
        let Some(p) = points.iter().find(|p| p.id == c.point_id) else {
            continue;
        };
        let point = Key {
            street: round.street,
            id: p.id,
        }
        .to_string();
        if outside_hours(p.opens_ms, p.closes_ms, c.starts_ms, c.ends_ms)
            && !out_of_hours
                .iter()
                .any(|o| o.point == point && o.starts_ms == c.starts_ms)
        {
            out_of_hours.push(OutOfHours {
                point,
                point_name: p.name.clone(),
                starts_ms: c.starts_ms,
                ends_ms: c.ends_ms,
                opens_ms: p.opens_ms,
                closes_ms: p.closes_ms,
                pushed: pushed.contains(&c.starts_ms),
            });
        }
    }
    out_of_hours.sort_by(|a, b| (a.starts_ms, &a.point).cmp(&(b.starts_ms, &b.point)));
    let mut plan = sched::evaluate(&l.buildings, &points, &calls, &prm);
    for p in &mut plan.points {
        let w = l
            .points
            .iter()
            .zip(&whole)
            .any(|(q, w)| q.id == p.point_id && *w);
        if !w {
            let mine = |b: &i64| readable.get(b).copied().unwrap_or(false);
            p.buildings.retain(|a| mine(&a.building_id));
            for s in &mut p.slots {
                s.calls.retain(|c| mine(&c.building_id));
            }
            p.slots.retain(|s| !s.calls.is_empty());
        }
    }
    // Buildings sent on from a closed point: to those who see the building
    // or the point it is sent to.
    plan.moved.retain(|m| {
        readable.get(&m.building_id).copied().unwrap_or(false)
            || l.points
                .iter()
                .zip(&whole)
                .any(|(q, w)| q.id == m.to_point_id && *w)
    });
    // The latest notice of each slot and point whose new time falls in a
    // later slot of the point (as this reader sees it): the two groups
    // queue together.
    let overlaps: Vec<Option<crate::call_delay::DelayOverlap>> = delays
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let k = d.point.as_deref()?;
            let later = delays
                .iter()
                .skip(i + 1)
                .any(|e| e.slot_ms == d.slot_ms && e.point.as_deref() == Some(k));
            if later {
                return None;
            }
            let pt = plan.points.iter().find(|p| {
                Key {
                    street: round.street,
                    id: p.point_id,
                }
                .to_string()
                    == k
            })?;
            crate::call_delay::overlap_of(
                k,
                &pt.name,
                &pt.slots,
                &delays,
                d.slot_ms,
                d.come_down_ms,
            )
        })
        .collect();
    for (d, o) in delays.iter_mut().zip(overlaps) {
        d.overlap = o;
    }
    // The header's figure is what is listed: a grid leader's calls, not the
    // whole plan's (slots keep their whole arrivals: queues count everyone).
    plan.people_called = plan
        .points
        .iter()
        .flat_map(|p| &p.slots)
        .flat_map(|s| &s.calls)
        .map(|c| c.people)
        .sum();
    // Sampled at the door: in what the caller sees — buildings they read,
    // or served by a point they see whole (its compound's, or for a point
    // outside any compound its community's).
    let mut d2d: Vec<DoorToDoor> = Vec::new();
    for d in sched::door_to_door(&l.buildings, &l.points) {
        let b = l.buildings.iter().find(|b| b.id == d.building_id);
        let served = b.is_some_and(|b| {
            l.points.iter().zip(&whole).any(|(p, w)| {
                *w && match p.compound {
                    Some(c) => c == b.compound,
                    None => b.community == p.community,
                }
            })
        });
        let place = store
            .place_of(round.street, "building", d.building_id)
            .await?;
        if served || visible(&place) {
            d2d.push(d);
        }
    }
    plan.warnings = sched::confined_warnings(&d2d);
    let door_to_door_count = d2d.len() as u32;
    plan.door_to_door = d2d;
    let mut call_down = Vec::new();
    for p in &plan.points {
        for s in &p.slots {
            call_down.push(CallDown {
                point: Key {
                    street: round.street,
                    id: p.point_id,
                }
                .to_string(),
                point_name: p.name.clone(),
                starts_ms: s.starts_ms,
                ends_ms: s.ends_ms,
                people: s.arrivals,
                text: sched::calldown_text(&l.round.name, &p.name, s),
            });
        }
    }
    call_down.sort_by_key(|c| (c.starts_ms, c.point.clone()));
    // Slots already told (pushed, or begun) whose expected queue is over the
    // bound: a re-plan keeps them as they are.
    let mut told_over_bound = Vec::new();
    if stored {
        for p in &plan.points {
            for s in &p.slots {
                let pushed_slot = pushed.contains(&s.starts_ms);
                if s.expected_queue > prm.max_queue && (pushed_slot || s.starts_ms <= now) {
                    let point = Key {
                        street: round.street,
                        id: p.point_id,
                    }
                    .to_string();
                    let delayed_minutes = delays
                        .iter()
                        .rev()
                        .find(|d| d.covers(&point, s.starts_ms))
                        .map(|d| d.minutes);
                    let last = crate::call_delay::last_told(&delays, &point, s.starts_ms);
                    let info = infos.iter().find(|i| i.id == point);
                    told_over_bound.push(ToldOverBound {
                        point_name: p.name.clone(),
                        starts_ms: s.starts_ms,
                        ends_ms: s.ends_ms,
                        expected_queue: s.expected_queue,
                        pushed: pushed_slot,
                        begun: s.starts_ms <= now,
                        delayed_minutes,
                        delayed_until_ms: last,
                        people_per_minute: info.map_or(0.0, |i| {
                            sched::people_per_minute(i.stations, i.configured_rate, i.measured_rate)
                        }),
                        suggested_minutes: info
                            .and_then(|i| suggested_minutes(i, s, prm.max_queue, last, now)),
                        point,
                    });
                }
            }
        }
    }
    let simulation = sched::compare(&points, &calls, &prm, seed(round));
    Ok(ScheduleView {
        round: round.to_string(),
        round_name: l.round.name.clone(),
        street: round.street,
        stored,
        revision: l.stored.as_ref().map(|s| s.revision),
        planned_ms: l.stored.as_ref().map(|s| s.planned_ms),
        planned_by: l.stored.as_ref().map(|s| s.planned_by.clone()),
        problem,
        points: infos,
        plan,
        call_down,
        simulation,
        out_of_hours,
        pushes,
        door_to_door_count,
        told_over_bound,
        delays,
    })
}

/// Plans or re-plans a round (street-wide round managers).
pub async fn plan(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    round: Key,
    opts: PlanOptions,
) -> Result<ScheduleView, AuthError> {
    let place = store.place_of(round.street, "street", round.street).await?;
    access::authorize(p, clock, Action::ManageRounds, &place)?;
    plan_as(store, clock, &p.actor(), round, opts).await
}

/// The round's schedule as the caller may read it: the points and door-to-door
/// entries in their territory. Registry readers see their territory; the
/// staff of a point (who scan there) see their point's calls, so they know
/// which buildings come down when. The schedule holds buildings, units and
/// head counts, no personal data.
pub async fn view(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    round: Key,
) -> Result<ScheduleView, AuthError> {
    let now = clock.now_ms();
    if !p.can_somewhere(Action::ReadRegistry, now) && !p.can_somewhere(Action::Scan, now) {
        return Err(access::forbidden(Action::ReadRegistry));
    }
    let can =
        |place: &Place| p.can(Action::ReadRegistry, place, now) || p.can(Action::Scan, place, now);
    let mut v = view_as(store, clock, round, &can).await?;
    // The door-to-door list names households under control: registry
    // readers only.
    let mut kept = Vec::new();
    for d in std::mem::take(&mut v.plan.door_to_door) {
        let place = store
            .place_of(round.street, "building", d.building_id)
            .await?;
        if p.can(Action::ReadRegistry, &place, now) {
            kept.push(d);
        }
    }
    v.plan.door_to_door = kept;
    // So do the rooms a unit's call leaves out.
    for pt in &mut v.plan.points {
        for slot in &mut pt.slots {
            for c in &mut slot.calls {
                if c.units.iter().all(|u| u.except_rooms.is_empty()) {
                    continue;
                }
                let place = store
                    .place_of(round.street, "building", c.building_id)
                    .await?;
                if !p.can(Action::ReadRegistry, &place, now) {
                    for u in &mut c.units {
                        u.except_rooms.clear();
                    }
                }
            }
        }
    }
    Ok(v)
}

/// What a point may carry for the schedule (all optional).
#[derive(Debug, Clone, Copy, Default)]
pub struct PointSchedule {
    /// The compound the point stands in (a point outside any serves every
    /// compound); `None`: as it stands (a new point: outside).
    pub compound: Option<Key>,
    /// Move the point out of its compound (with no `compound`).
    pub outside: bool,
    pub pos: Option<(i32, i32)>,
    pub opens_ms: Option<i64>,
    pub closes_ms: Option<i64>,
    pub rate_per_station_h: Option<u32>,
}

impl PointSchedule {
    /// The fields to store (absent ones stay), with `stations` when changed.
    fn details(&self, stations: Option<u32>) -> gw_store::schedule::PointDetails {
        gw_store::schedule::PointDetails {
            compound_id: self.compound.map(|c| c.id),
            outside: self.outside,
            pos: self.pos,
            opens_ms: self.opens_ms,
            closes_ms: self.closes_ms,
            rate_per_station_h: self.rate_per_station_h.map(|r| r as i32),
            stations: stations.map(|n| n as i32),
            name: None,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.compound.is_none()
            && !self.outside
            && self.pos.is_none()
            && self.opens_ms.is_none()
            && self.closes_ms.is_none()
            && self.rate_per_station_h.is_none()
    }
}

/// Checks a point's schedule fields: `hours` are its opening and closing as
/// they will stand (a change may give only one of them; one not set is the
/// round's), `round` the round's window: a point's hours must overlap it, or
/// the point would silently serve nobody.
async fn check_schedule(
    store: &Store,
    street: i64,
    community: i64,
    d: &PointSchedule,
    hours: (Option<i64>, Option<i64>),
    round: (i64, i64),
) -> Result<(), AuthError> {
    let (o, c) = (hours.0.unwrap_or(round.0), hours.1.unwrap_or(round.1));
    if c <= round.0 || o >= round.1 {
        return Err(AuthError::Invalid(
            "采样点开放时间须与本轮检测时段有重叠 / the point's hours must overlap the round's window".into(),
        ));
    }
    if c <= o {
        return Err(AuthError::Invalid(
            "采样点关闭时间须晚于开放时间 / a point must close after it opens".into(),
        ));
    }
    if let Some(r) = d.rate_per_station_h {
        if !(1..=2000).contains(&r) {
            return Err(AuthError::Invalid(
                "每台每小时采样人数须在 1–2000 之间 / rate per station per hour must be 1–2000"
                    .into(),
            ));
        }
    }
    if d.outside && d.compound.is_some() {
        return Err(AuthError::Invalid(
            "采样点不能既在小区内又在小区外 / a point cannot be both inside a compound and outside"
                .into(),
        ));
    }
    if let Some(c) = d.compound {
        let cp = store.place_of(c.street, "compound", c.id).await?;
        if c.street != street || cp.community != Some(community) {
            return Err(AuthError::Invalid(
                "小区须在采样点所在社区 / the compound must be in the point's community".into(),
            ));
        }
    }
    Ok(())
}

/// A point's row as the schedule reads it.
async fn settings_of(
    store: &Store,
    point: Key,
    round: i64,
) -> Result<gw_store::schedule::SchedPointRow, AuthError> {
    Ok(store
        .schedule_points(point.street, round)
        .await?
        .into_iter()
        .find(|r| r.id == point.id)
        .ok_or_else(|| gw_store::StoreError::NotFound(format!("point {point}")))?)
}

/// A point's schedule fields as they stand.
#[derive(Debug, Clone, Serialize)]
pub struct PointSettings {
    pub id: String,
    pub name: String,
    pub stations: i32,
    pub rate_per_station_h: i32,
    pub opens_ms: Option<i64>,
    pub closes_ms: Option<i64>,
    /// The new hours cut into slots whose call-down went out: their people
    /// were told to come when the point is not open (plan again, and tell
    /// them).
    pub warnings: Vec<String>,
}

/// A point's name, trimmed and checked: not blank, and no other point of the
/// round in `community` has it (the call-down lists and the stations tell
/// points by name). `except`: the point being renamed.
async fn point_name<'a>(
    store: &Store,
    round: Key,
    community: i64,
    name: &'a str,
    except: Option<i64>,
) -> Result<&'a str, AuthError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(AuthError::Invalid(
            "采样点须有名称 / a point needs a name".into(),
        ));
    }
    if let Some(q) = store
        .schedule_points(round.street, round.id)
        .await?
        .iter()
        .find(|q| q.community_id == community && q.name.trim() == name && Some(q.id) != except)
    {
        let q = Key {
            street: round.street,
            id: q.id,
        };
        return Err(gw_store::StoreError::Conflict(format!(
            "本社区已有同名采样点 {name}（{q}）/ the community has a point named {name} already ({q})"
        ))
        .into());
    }
    Ok(name)
}

/// Changes a running point: more or fewer sampling stations, other hours,
/// another configured rate (a point that runs slow gets help; then re-plan
/// the rest of the round), or its name (one typed wrong). What is not given
/// stays. Audited.
pub async fn change_point(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    point: Key,
    stations: Option<u32>,
    name: Option<&str>,
    d: PointSchedule,
) -> Result<PointSettings, AuthError> {
    let pt = store.point(point.street, point.id).await?;
    let place = store
        .place_of(point.street, "community", pt.community_id)
        .await?;
    access::authorize(p, clock, Action::ManagePoints, &place)?;
    if stations.is_some_and(|n| !(1..=50).contains(&n)) {
        return Err(AuthError::Invalid(
            "采样台数须在 1–50 之间 / stations must be 1 to 50".into(),
        ));
    }
    let round = Key {
        street: point.street,
        id: pt.round_id,
    };
    // The name it has already is no rename (nor an audit line saying one).
    let name = match name.filter(|n| n.trim() != pt.name.trim()) {
        Some(n) => Some(point_name(store, round, pt.community_id, n, Some(point.id)).await?),
        None => None,
    };
    let now = settings_of(store, point, pt.round_id).await?;
    let hours = (d.opens_ms.or(now.opens_ms), d.closes_ms.or(now.closes_ms));
    let r = store.round(point.street, pt.round_id).await?;
    check_schedule(
        store,
        point.street,
        pt.community_id,
        &d,
        hours,
        (r.starts_ms, r.ends_ms),
    )
    .await?;
    let details = gw_store::schedule::PointDetails {
        name: name.map(str::to_string),
        ..d.details(stations)
    };
    let detail = format!(
        "stations={} opens_ms={} closes_ms={} rate={}{}",
        stations.map_or("-".into(), |n| n.to_string()),
        d.opens_ms.map_or("-".into(), |n| n.to_string()),
        d.closes_ms.map_or("-".into(), |n| n.to_string()),
        d.rate_per_station_h.map_or("-".into(), |n| n.to_string()),
        name.map_or(String::new(), |n| format!(" name={n} (was {})", now.name)),
    );
    let audit = access::audit_record(
        clock,
        p,
        "change_point",
        (point.street, "testing_point", &point.to_string()),
        &detail,
    );
    store
        .set_point_details(point.street, pt.round_id, point.id, &details, &audit)
        .await?;
    // Hours that now leave out a slot already pushed here: its people were
    // told to come.
    let mut warnings = Vec::new();
    if d.opens_ms.is_some() || d.closes_ms.is_some() {
        let (o, c) = (hours.0.unwrap_or(r.starts_ms), hours.1.unwrap_or(r.ends_ms));
        let pushed = store.pushed_slots(point.street, pt.round_id).await?;
        let mut told: Vec<(i64, i64)> = store
            .schedule_calls(point.street, pt.round_id)
            .await?
            .into_iter()
            .filter(|k| k.point_id == point.id && pushed.contains(&k.starts_ms))
            .map(|k| (k.starts_ms, k.ends_ms))
            .filter(|(s, e)| outside_hours(o, c, *s, *e))
            .collect();
        told.dedup();
        for (s, e) in told {
            use gw_domain::notify::clock_text;
            warnings.push(format!(
                "注意：{}–{} 的叫号已推送，居民已被通知到本点，而新的开放时间（{}–{}）不含该时段：请重新排班并另行通知 / warning: the call-down of {}–{} was pushed and its people were told to come here, but the new hours ({}–{}) leave it out: plan again and tell them",
                clock_text(s), sched::hhmm(e), clock_text(o), clock_text(c),
                clock_text(s), sched::hhmm(e), clock_text(o), clock_text(c),
            ));
        }
    }
    // As stored: what was given, else what stood.
    Ok(PointSettings {
        warnings,
        id: point.to_string(),
        name: name.map_or(now.name, str::to_string),
        stations: stations.map_or(now.stations, |n| n as i32),
        rate_per_station_h: d
            .rate_per_station_h
            .map_or(now.rate_per_station_h, |r| r as i32),
        opens_ms: hours.0,
        closes_ms: hours.1,
    })
}

/// Removes a point added by mistake (nothing happened at it yet; see
/// `Store::remove_point`). Audited. Answers the point's round.
pub async fn remove_point(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    point: Key,
) -> Result<Key, AuthError> {
    let pt = store.point(point.street, point.id).await?;
    let place = store
        .place_of(point.street, "community", pt.community_id)
        .await?;
    access::authorize(p, clock, Action::ManagePoints, &place)?;
    let audit = access::audit_record(
        clock,
        p,
        "remove_point",
        (point.street, "testing_point", &point.to_string()),
        &format!("round={}-{} name={}", point.street, pt.round_id, pt.name),
    );
    store
        .remove_point(point.street, pt.round_id, point.id, &audit)
        .await?;
    Ok(Key {
        street: point.street,
        id: pt.round_id,
    })
}

/// Adds a point to a round with its schedule fields (all optional: see
/// [`PointSchedule`]), checked first; the point and its fields are stored in
/// one transaction, refused once the round is closed.
#[allow(clippy::too_many_arguments)]
pub async fn add_point(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    round: Key,
    name: &str,
    community: Key,
    stations: u32,
    d: PointSchedule,
) -> Result<Key, AuthError> {
    if community.street != round.street {
        return Err(AuthError::Invalid(
            "采样点须在本街道 / the point must be in the round's street".into(),
        ));
    }
    // The community's secretary adds her community's points (the street too).
    let place = store
        .place_of(community.street, "community", community.id)
        .await?;
    access::authorize(p, clock, Action::ManagePoints, &place)?;
    if !(1..=50).contains(&stations) {
        // As a change of a running point says.
        return Err(AuthError::Invalid(
            "采样台数须在 1–50 之间 / stations must be 1 to 50".into(),
        ));
    }
    // The point serves the round's territory: a community the round does
    // not cover would have the planner call its buildings to nobody's round.
    let covered = store.round_communities(round.street, round.id).await?;
    if !covered.is_empty() && !covered.contains(&community.id) {
        return Err(AuthError::Invalid(format!(
            "社区 {community} 不在本轮检测范围内 / community {community} is not in the round's territory"
        )));
    }
    let r = store.round(round.street, round.id).await?;
    let name = point_name(store, round, community.id, name, None).await?;
    check_schedule(
        store,
        round.street,
        community.id,
        &d,
        (d.opens_ms, d.closes_ms),
        (r.starts_ms, r.ends_ms),
    )
    .await?;
    let key = |id: i64| Key {
        street: round.street,
        id,
    };
    let audit = access::audit_record(
        clock,
        p,
        "add_point",
        (round.street, "point", ""),
        &format!("round={round} community={community} stations={stations} name={name}"),
    );
    let id = store
        .add_point(
            round.street,
            round.id,
            name,
            community.id,
            stations as i32,
            &d.details(None),
            |id| gw_store::audit::AuditRecord {
                target_id: key(id).to_string(),
                ..audit.clone()
            },
        )
        .await?;
    Ok(key(id))
}
