//! The testing-point schedule (采样点排班): which buildings go to which point,
//! in which time slot, so a round finishes inside its window with short queues.
//!
//! Pure: buildings, points, the window and "now" come in as parameters; the
//! store and the clock live elsewhere. Three parts:
//!
//! * [`plan`]: assigns every callable building to exactly one point near it
//!   (a point inside a compound serves only that compound; a point outside
//!   serves any), then fills the point's slots unit by unit, in building
//!   order, while the stations can serve the slot and the expected queue
//!   stays under the bound. Buildings, units
//!   and households under sealed or temporary control are not called down:
//!   they are listed for door-to-door sampling. When the window cannot be met
//!   the error says by how much, and what would meet it (more stations at
//!   every point, or a later end).
//! * [`evaluate`]: the expected arrivals, queue bound and finish per slot of a
//!   given set of calls (a stored plan), with the same arithmetic.
//! * [`simulate`]: a seeded discrete-event simulation of arrivals and service
//!   at every point, for the plan and for "everyone called at once".
//!
//! Queue model: people called for a slot come down during it
//! ([`ARRIVAL_SPREAD`]); `c` stations each serve `rate` people an hour. A
//! slot is never called beyond what the stations serve in it, counting
//! anyone still waiting from before (a slot loaded to capacity or beyond
//! leaves a line that only grows, slot after slot). The expected queue of a
//! slot is the longest line expected in it, which is what the simulation's
//! `max_queue` measures: the fluid backlog (people left over from earlier
//! slots) plus the peak that chance alone brings over the point's busy run so
//! far (a diffusion approximation fitted to the simulation's arrivals and
//! Erlang-2 service times, see `chance_peak`). The points' longest lines in
//! the simulation come out near their plan's figures, a few people either
//! way.
//!
//! A unit is called whole: one too big for a slot or for the bound on its own
//! gets a slot to itself after the point has emptied, and the plan shows the
//! queue it makes (`expected_queue` above `max_queue`) rather than hiding it.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::rng::Rng;
use crate::territory::ControlStatus;

pub const MINUTE_MS: i64 = 60_000;
pub const HOUR_MS: i64 = 3_600_000;
/// People called for a slot come down during this share of it (the whole slot:
/// "come down between 8:00 and 8:30").
pub const ARRIVAL_SPREAD: f64 = 1.0;
/// A slot shorter than this (cut by a point's opening or closing) is not used.
pub const MIN_SLOT_MS: i64 = 5 * MINUTE_MS;
/// Default configured rate: people per station per hour (one swab in ~36 s).
pub const DEFAULT_RATE_PER_STATION_H: f64 = 100.0;
/// Nominal distance (m) to a point outside the compound when positions are unknown.
const FAR_M: f64 = 1_000.0;

/// A call to a point further than this (m) is flagged: the residents must
/// know it is not their usual point.
pub const FAR_CALL_M: f64 = 500.0;

/// Added to the distance to a point of another community: a street is a few
/// kilometres across, so any point of a building's own community comes first.
const OTHER_COMMUNITY_M: f64 = 100_000.0;

/// Metres east and north of the street's origin.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Pos {
    pub x_m: f64,
    pub y_m: f64,
}

impl Pos {
    pub fn distance(self, o: Pos) -> f64 {
        ((self.x_m - o.x_m).powi(2) + (self.y_m - o.y_m).powi(2)).sqrt()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Household {
    pub id: i64,
    pub room: String,
    /// People expected to come down (the round's expected residents who can).
    pub people: u32,
    /// The control order in force on the household itself.
    pub control: Option<ControlStatus>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unit {
    pub id: i64,
    pub name: String,
    pub control: Option<ControlStatus>,
    pub households: Vec<Household>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Building {
    pub id: i64,
    pub name: String,
    pub compound: i64,
    /// The community the building lies in (`None`: not known).
    #[serde(default)]
    pub community: Option<i64>,
    /// Order of the building on the street (compound, then name): call-down
    /// lists follow it, and it stands in for positions when they are missing.
    pub order: u32,
    pub pos: Option<Pos>,
    /// The order in force on the building or its compound.
    pub control: Option<ControlStatus>,
    /// Re-plan: a building already partly called stays at its point.
    pub pinned_point: Option<i64>,
    pub units: Vec<Unit>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Point {
    pub id: i64,
    pub name: String,
    /// The compound the point stands in; `None` = outside any compound.
    pub compound: Option<i64>,
    /// The community the point belongs to (`None`: not known). A point
    /// outside any compound serves its own community's buildings first;
    /// another community's only when none of that community's points has room.
    #[serde(default)]
    pub community: Option<i64>,
    pub pos: Option<Pos>,
    pub stations: u32,
    /// People per station per hour the plan assumes (configured or measured).
    pub rate_per_station_h: f64,
    pub opens_ms: i64,
    pub closes_ms: i64,
    /// People already called and expected waiting at `from_ms` (re-plan:
    /// [`backlog_at`] of [`waiting_now`]).
    pub backlog: u32,
    /// Re-plan: calls already announced (pushed) for slots not begun yet.
    /// They stand as they were told: their people arrive in their slot, and
    /// the plan fills around them.
    #[serde(default)]
    pub booked: Vec<Call>,
    /// Re-plan: the slots (start, end) whose call-down went out. No new
    /// call joins a slot overlapping one (the group was told who comes down
    /// then; a second message for the same time would read as a correction).
    #[serde(default)]
    pub announced: Vec<(i64, i64)>,
}

impl Point {
    fn rate_per_ms(&self) -> f64 {
        f64::from(self.stations.max(1)) * self.rate_per_station_h.max(0.1) / HOUR_MS as f64
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Params {
    /// Calls start at `from_ms` (the round's start, or the next slot on re-plan).
    pub from_ms: i64,
    /// Everyone must be sampled by `until_ms`.
    pub until_ms: i64,
    pub slot_ms: i64,
    /// Bound on the expected longest queue at any point (people waiting).
    pub max_queue: f64,
}

/// One unit called at one point in one slot: what a stored plan is made of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Call {
    pub point_id: i64,
    pub starts_ms: i64,
    pub ends_ms: i64,
    pub building_id: i64,
    pub unit_id: i64,
    pub people: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnitCall {
    pub id: i64,
    pub name: String,
    pub people: u32,
    /// Rooms of the unit not called (a household under sealed or temporary
    /// control: sampled at its door): the call-down counts them without
    /// naming them; only registry readers are shown the rooms.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub except_rooms: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SlotCall {
    pub building_id: i64,
    pub building: String,
    pub units: Vec<UnitCall>,
    pub people: u32,
    /// Not the building's usual point: another community's, or further than
    /// [`FAR_CALL_M`] (the call-down says so).
    #[serde(default)]
    pub away: Option<Away>,
    /// The point the building began at, when these units are called
    /// elsewhere (see [`Moved`]): the call-down says so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub moved_from: Option<String>,
}

/// Why a call sends people away from their usual point.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Away {
    /// The point belongs to another community.
    pub other_community: bool,
    /// Metres to the point, when both positions are known.
    pub distance_m: Option<f64>,
}

impl Away {
    /// `None` when the point is the building's own community's and near.
    fn of(b: Option<&Building>, p: &Point, distance_m: Option<f64>) -> Option<Away> {
        let other_community = matches!(
            (b.and_then(|b| b.community), p.community),
            (Some(a), Some(c)) if a != c
        );
        let far = distance_m.is_some_and(|d| d > FAR_CALL_M);
        (other_community || far).then_some(Away {
            other_community,
            distance_m,
        })
    }

    /// In Chinese, for the call-down message and the page.
    pub fn zh(&self) -> String {
        let what = if self.other_community {
            "其他社区的采样点"
        } else {
            "较远的采样点"
        };
        match self.distance_m {
            Some(d) => format!("{what}，约 {:.0} 米", d),
            None => what.to_string(),
        }
    }

    pub fn en(&self) -> String {
        let what = if self.other_community {
            "another community's point"
        } else {
            "a point further away"
        };
        match self.distance_m {
            Some(d) => format!("{what}, about {d:.0} m"),
            None => what.to_string(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Slot {
    pub starts_ms: i64,
    pub ends_ms: i64,
    pub calls: Vec<SlotCall>,
    /// People expected to arrive (everyone called).
    pub arrivals: u32,
    /// People the point can serve in the slot.
    pub capacity: f64,
    /// The longest queue (people waiting) expected during the slot.
    pub expected_queue: f64,
    /// When the last person called so far is expected to be done.
    pub finish_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Assignment {
    pub building_id: i64,
    pub building: String,
    /// Metres to the point, when both positions are known (the building's,
    /// else its compound's centre; the point's, else its compound's).
    pub distance_m: Option<f64>,
    pub people: u32,
    /// Not the building's usual point (see [`SlotCall::away`]).
    #[serde(default)]
    pub away: Option<Away>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PointPlan {
    pub point_id: i64,
    pub name: String,
    pub stations: u32,
    pub rate_per_station_h: f64,
    pub backlog: u32,
    pub buildings: Vec<Assignment>,
    pub slots: Vec<Slot>,
    pub people: u32,
    pub max_expected_queue: f64,
    /// `None` when nobody is called here.
    pub finish_ms: Option<i64>,
}

/// Who is sampled at their door instead of being called down, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DoorToDoor {
    pub building_id: i64,
    pub building: String,
    pub unit_id: Option<i64>,
    pub unit: Option<String>,
    pub household_id: Option<i64>,
    pub room: Option<String>,
    pub people: u32,
    pub status: ControlStatus,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    pub params: Params,
    pub points: Vec<PointPlan>,
    pub door_to_door: Vec<DoorToDoor>,
    pub people_called: u32,
    /// The last point's expected finish (`None` when nobody is called).
    pub finish_ms: Option<i64>,
    /// Buildings begun at one point whose other units are called at another
    /// (the first point closes before it could take them): warnings to read.
    #[serde(default)]
    pub moved: Vec<Moved>,
    /// What the plan could not do as the orders require, to read (Chinese
    /// first, English second): buildings under control (管控区, 人不出小区)
    /// whose compound has no point, sampled at the door instead.
    #[serde(default)]
    pub warnings: Vec<String>,
}

/// A building begun at one point whose remaining units are called at
/// another, because the first point closes (or has closed) before it could
/// take them: the residents and the commander must be told.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Moved {
    pub building_id: i64,
    pub building: String,
    /// The units called at `to_point` (ids and names, in call order).
    pub unit_ids: Vec<i64>,
    pub units: Vec<String>,
    pub from_point_id: i64,
    /// `None`: the point is not among the round's points any more.
    pub from_point: Option<String>,
    /// When `from_point` closes (`None`: not known).
    pub from_closes_ms: Option<i64>,
    pub to_point_id: i64,
    pub to_point: String,
    /// The first of these units' calls at `to_point`.
    pub starts_ms: i64,
    /// The warning, Chinese first and English second.
    pub text: String,
}

impl Moved {
    fn text_of(&self) -> String {
        let units = format!("{}单元", self.units.join("、"));
        let why_zh = match (&self.from_point, self.from_closes_ms) {
            (None, _) => "原采样点已不在本轮".to_string(),
            (Some(p), Some(c)) if c <= self.starts_ms => {
                format!("原在「{p}」采样，该点 {} 已关闭", hhmm(c))
            }
            (Some(p), Some(c)) => {
                format!("原在「{p}」采样，该点 {} 关闭，关闭前采不完", hhmm(c))
            }
            (Some(p), None) => format!("原在「{p}」采样，该点已不能接收"),
        };
        let why_en = match (&self.from_point, self.from_closes_ms) {
            (None, _) => "began at a point no longer in the round".to_string(),
            (Some(p), Some(c)) if c <= self.starts_ms => {
                format!("began at 「{p}」, which closed at {}", hhmm(c))
            }
            (Some(p), Some(c)) => format!(
                "began at 「{p}」, which closes at {}, before it could take them",
                hhmm(c)
            ),
            (Some(p), None) => format!("began at 「{p}」, which can no longer take them"),
        };
        format!(
            "{} {units}{why_zh}，改到「{}」 / {} units {}: {why_en}; moved to 「{}」",
            self.building,
            self.to_point,
            self.building,
            self.units.join(", "),
            self.to_point
        )
    }
}

/// The buildings of `calls` called at a point other than the one they began
/// at: the point a building is pinned to (re-plan), else the point of its
/// earliest call (a stored plan read back).
pub fn moved(buildings: &[Building], points: &[Point], calls: &[Call]) -> Vec<Moved> {
    let mut out: Vec<Moved> = Vec::new();
    let mut sorted: Vec<&Call> = calls.iter().collect();
    sorted.sort_by_key(|c| (c.starts_ms, c.point_id, c.unit_id));
    for b in buildings {
        let mine: Vec<&&Call> = sorted.iter().filter(|c| c.building_id == b.id).collect();
        let Some(origin) = b.pinned_point.or_else(|| mine.first().map(|c| c.point_id)) else {
            continue;
        };
        let from = points.iter().find(|p| p.id == origin);
        for c in mine.iter().filter(|c| c.point_id != origin) {
            let name = b
                .units
                .iter()
                .find(|u| u.id == c.unit_id)
                .map_or_else(|| c.unit_id.to_string(), |u| u.name.clone());
            match out
                .iter_mut()
                .find(|m| m.building_id == b.id && m.to_point_id == c.point_id)
            {
                Some(m) => {
                    if !m.unit_ids.contains(&c.unit_id) {
                        m.unit_ids.push(c.unit_id);
                        m.units.push(name);
                    }
                }
                None => out.push(Moved {
                    building_id: b.id,
                    building: b.name.clone(),
                    unit_ids: vec![c.unit_id],
                    units: vec![name],
                    from_point_id: origin,
                    from_point: from.map(|p| p.name.clone()),
                    from_closes_ms: from.map(|p| p.closes_ms),
                    to_point_id: c.point_id,
                    to_point: points
                        .iter()
                        .find(|p| p.id == c.point_id)
                        .map_or_else(|| c.point_id.to_string(), |p| p.name.clone()),
                    starts_ms: c.starts_ms,
                    text: String::new(),
                }),
            }
        }
    }
    for m in &mut out {
        m.text = m.text_of();
    }
    out
}

impl Plan {
    /// Every unit call, in point and slot order: what is stored.
    pub fn calls(&self) -> Vec<Call> {
        let mut out = Vec::new();
        for p in &self.points {
            for s in &p.slots {
                for c in &s.calls {
                    for u in &c.units {
                        out.push(Call {
                            point_id: p.point_id,
                            starts_ms: s.starts_ms,
                            ends_ms: s.ends_ms,
                            building_id: c.building_id,
                            unit_id: u.id,
                            people: u.people,
                        });
                    }
                }
            }
        }
        out
    }
}

/// Where people do not fit: the point nearest them that may serve them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShortPoint {
    pub point_id: i64,
    pub name: String,
    pub people: u32,
    pub buildings: u32,
}

/// What would make an impossible plan possible.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Remedy {
    /// The points short of room, with the people who do not fit there
    /// (by the point nearest them), most first.
    #[serde(default)]
    pub short: Vec<ShortPoint>,
    /// Stations to add at each of the `short` points only, when they are not
    /// every point and that suffices.
    #[serde(default)]
    pub more_stations_at_short: Option<u32>,
    /// Stations to add at every point (`None`: up to 20 more do not suffice,
    /// or adding them at the short points alone does).
    pub more_stations_per_point: Option<u32>,
    /// A queue bound that would fit everyone (`None`: up to twice the bound
    /// does not).
    #[serde(default)]
    pub max_queue: Option<u32>,
    /// A slot length (minutes) that would fit everyone.
    #[serde(default)]
    pub slot_minutes: Option<u32>,
    /// Minutes to keep every point open longer, and the window with them, in
    /// 30-minute steps (`None`: 24 more hours do not suffice).
    pub more_minutes: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Error)]
pub enum PlanError {
    #[error("没有采样点 / the round has no testing points")]
    NoPoints,
    #[error("时间窗不合理 / the window is empty or the slot length is not positive")]
    BadWindow,
    #[error("{building} 所在小区没有可去的采样点（小区内的点只服务本小区）/ no point can serve {building}: points inside a compound serve only that compound")]
    NoPointFor { building: String },
    /// Each language whole on its side of the one " / " (a page shows one).
    #[error("时间窗内排不下：{unplaced_people} 人（{unplaced_buildings} 栋楼）无处安排；需 {people} 人，采样台在时间窗内约能采 {capacity} 人，已排入 {placed} 人；{remedy_zh} / the window cannot be met: {unplaced_people} people in {unplaced_buildings} buildings do not fit; of {people} people, {placed} are placed, while the stations could swab about {capacity} in the window; {remedy_en}")]
    WindowTooShort {
        people: u32,
        /// What the stations could swab in the window: stations × rate ×
        /// the hours each point is open in it.
        capacity: u32,
        /// People the plan found room for.
        placed: u32,
        unplaced_people: u32,
        unplaced_buildings: u32,
        remedy: Box<Remedy>,
        /// What would meet the window, in Chinese (no " / " in it).
        remedy_zh: String,
        /// The same in English.
        remedy_en: String,
    },
}

/// The smallest `anchor + k·slot` at or after `now` (k ≥ 0).
pub fn next_slot_start(anchor_ms: i64, slot_ms: i64, now_ms: i64) -> i64 {
    if slot_ms <= 0 || now_ms <= anchor_ms {
        return anchor_ms;
    }
    let k = (now_ms - anchor_ms + slot_ms - 1) / slot_ms;
    anchor_ms + k * slot_ms
}

/// Mean queue (people waiting, not in service) of an M/M/c queue with offered
/// load `a = λ/μ`; infinite at or above saturation.
pub fn erlang_c_queue(c: u32, a: f64) -> f64 {
    let c = c.max(1);
    let rho = a / f64::from(c);
    if a <= 0.0 {
        return 0.0;
    }
    if rho >= 1.0 {
        return f64::INFINITY;
    }
    let mut sum = 0.0;
    let mut term = 1.0;
    for k in 0..c {
        sum += term;
        term *= a / f64::from(k + 1);
    }
    let pc = term / (1.0 - rho);
    let p_wait = pc / (sum + pc);
    p_wait * rho / (1.0 - rho)
}

/// What a point carries from one slot into the next.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Carry {
    /// Fluid backlog: people called and not yet served, on average.
    backlog: f64,
    /// How long (ms) the point has been busy without a slot in which it was
    /// expected to empty: the queue's random ups and downs add up over the
    /// whole run, not slot by slot, so a slot's peak depends on it.
    run_ms: f64,
}

impl Carry {
    /// The state after `gap_ms` without calls (frames skipped or not called):
    /// the backlog drains, and once it is gone the queue has emptied, so the
    /// next slot starts a new run.
    fn after_gap(self, p: &Point, gap_ms: i64) -> Carry {
        if gap_ms <= 0 {
            return self;
        }
        let backlog = (self.backlog - p.rate_per_ms() * gap_ms as f64).max(0.0);
        Carry {
            backlog,
            run_ms: if backlog > 0.0 { self.run_ms } else { 0.0 },
        }
    }
}

/// The expected longest queue (people waiting) a run of `horizon_ms` at
/// constant load reaches through chance alone, as the simulation draws it:
/// arrivals spread evenly (a Poisson-like stream, variance `λ` per ms) and
/// Erlang-2 service at `μ` (variance `μ·`[`SERVICE_SCV`]).
///
/// The waiting line is taken as a reflected Brownian motion with drift
/// `-(μ-λ)` and variance `v = λ + μ/2` per ms. Below saturation it forgets
/// its past after about `v/(μ-λ)²` and its longest excursion grows with the
/// log of the run measured in those units (scale `v/(μ-λ)`); at or above
/// saturation it is a random walk, and its peak grows as `√(v·t)`. One
/// expression covers both, `½·v/(μ-λ)·ln(1 + 2K·√t' + t')` with
/// `t' = horizon·(μ-λ)²/v`, which tends to `K·√(v·horizon)` as `λ → μ`.
/// `K` and the constant inside the log were fitted to [`simulate`] over 1–10
/// stations, loads 0.5–1 and runs of half an hour to eight hours: the
/// simulated longest queue averages 0.8–1.1 times this (the low end at light
/// load and at saturation over long runs, where erring high is harmless).
fn chance_peak(mu: f64, lambda: f64, horizon_ms: f64) -> f64 {
    if lambda <= 0.0 || horizon_ms <= 0.0 {
        return 0.0;
    }
    let v = lambda + mu * SERVICE_SCV;
    let drift = mu - lambda;
    let walk = PEAK_K * (v * horizon_ms).sqrt();
    if drift <= 0.0 {
        return walk;
    }
    let t = horizon_ms * drift * drift / v;
    (0.5 * v / drift * (1.0 + 2.0 * PEAK_K * t.sqrt() + t).ln()).min(walk)
}

/// Squared coefficient of variation of a swab's duration: the simulation's
/// Erlang-2 service.
const SERVICE_SCV: f64 = 0.5;
/// Peak of the waiting line at saturation, in standard deviations of the
/// people arriving and served over the run (fitted to [`simulate`]; 1.25
/// would be a reflected Brownian motion's, the stations idling now and then
/// at the start of a run make it a little less).
const PEAK_K: f64 = 1.1;

/// One slot of arithmetic: what the point carries in, arrivals, length →
/// what it carries out, the expected longest queue, and the time (from the
/// slot start) the work is done.
///
/// Arrivals come during [`ARRIVAL_SPREAD`] of the slot. The fluid backlog
/// peaks when they stop (or at the start, if the slot serves more than it
/// receives); on top of it comes the chance part, [`chance_peak`] over the
/// run so far and this slot. The figure is the longest line expected in the
/// slot, which is what the simulation's `max_queue` measures, not a
/// time-average (an M/M/c mean queue is several times shorter than the
/// longest line of a busy hour).
fn slot_step(p: &Point, carry: Carry, arrivals: f64, len_ms: i64) -> (Carry, f64, f64) {
    let mu = p.rate_per_ms();
    let per_station = p.rate_per_station_h.max(0.1) / HOUR_MS as f64;
    let len = len_ms.max(1) as f64;
    let ta = len * ARRIVAL_SPREAD;
    let backlog = carry.backlog;
    let peak = (backlog + arrivals - mu * ta).max(0.0);
    let out = (peak - mu * (len - ta)).max(0.0);
    let chance = if arrivals > 0.0 {
        chance_peak(mu, arrivals / ta, carry.run_ms + len).min(arrivals + backlog)
    } else {
        0.0
    };
    let queue = backlog.max(peak) + chance;
    let done = if backlog + arrivals <= 0.0 {
        0.0
    } else {
        let fluid = if arrivals > 0.0 {
            ta + peak / mu
        } else {
            backlog / mu
        };
        fluid.max((backlog + arrivals) / mu) + 1.0 / per_station
    };
    // A slot nobody came to and that ended with nobody left ends the run.
    let run_ms = if arrivals <= 0.0 && out <= 0.0 {
        0.0
    } else {
        carry.run_ms + len
    };
    (
        Carry {
            backlog: out,
            run_ms,
        },
        queue,
        done,
    )
}

/// How long before a point's end (its close, or the plan's end) the people
/// it calls must have stopped coming: the time its stations take to clear a
/// line as long as the bound the plan allows, plus one swab, in whole
/// minutes. Arrivals that ran up to the close could never be done by it (the
/// last to come still has a swab to take), so the last slot before the end
/// is called to come down in a shorter time (03:30–03:58, not 03:30–04:00);
/// `pack` still checks that everyone is expected done by the end itself.
pub fn closing_margin_ms(p: &Point, max_queue: f64) -> i64 {
    let swab = HOUR_MS as f64 / p.rate_per_station_h.max(0.1);
    let m = max_queue.max(0.0) / p.rate_per_ms() + swab;
    (m / MINUTE_MS as f64).ceil() as i64 * MINUTE_MS
}

/// The slot frames of a point: the grid from `from`, cut by its hours, and
/// the last one ending [`closing_margin_ms`] before its end.
fn frames(p: &Point, prm: &Params) -> Vec<(i64, i64)> {
    let mut out = Vec::new();
    if prm.slot_ms <= 0 {
        return out;
    }
    let end = prm.until_ms.min(p.closes_ms) - closing_margin_ms(p, prm.max_queue);
    let mut g = prm.from_ms;
    while g < end {
        let s = g.max(p.opens_ms);
        let e = (g + prm.slot_ms).min(end);
        if e - s >= MIN_SLOT_MS {
            out.push((s, e));
        }
        g += prm.slot_ms;
    }
    out
}

/// A unit ready to call: (building index, unit index, people).
type Piece = (usize, usize, u32);

/// People a point's `booked` calls bring into each of its frames: a call
/// lands in the frame its slot starts in, or the first after it (a re-plan
/// with another slot length cuts other frames).
fn preloaded(p: &Point, fr: &[(i64, i64)]) -> Vec<f64> {
    let mut pre = vec![0.0; fr.len()];
    for c in &p.booked {
        if let Some(n) = fr
            .iter()
            .position(|&(_, e)| c.starts_ms < e)
            .and_then(|k| pre.get_mut(k))
        {
            *n += f64::from(c.people);
        }
    }
    pre
}

/// Fills a point's frames with pieces in order; `None` when they do not all
/// fit with everyone done by the point's end.
///
/// A piece joins the open slot while the people already waiting and those
/// called stay within what the stations serve in the slot (a slot loaded
/// beyond that leaves a queue that only grows) and the expected longest
/// queue stays within the bound. A unit cannot be split: one too big for a
/// slot or the bound on its own gets a slot to itself, but only once the
/// point is expected to have emptied (an empty slot before it, or the
/// first); its slot then shows the queue it really makes.
fn pack(p: &Point, prm: &Params, fr: &[(i64, i64)], pieces: &[Piece]) -> Option<Vec<usize>> {
    let pre = preloaded(p, fr);
    let mut slot_of = Vec::with_capacity(pieces.len());
    let mut carry = Carry {
        backlog: f64::from(p.backlog),
        run_ms: 0.0,
    };
    let mut i = 0usize;
    let mut load = pre.first().copied().unwrap_or(0.0);
    let mut it = pieces.iter().peekable();
    while let Some(&&(_, _, people)) = it.peek() {
        let &(s, e) = fr.get(i)?;
        let n = f64::from(people);
        let capacity = p.rate_per_ms() * (e - s) as f64;
        let (_, q, _) = slot_step(p, carry, load + n, e - s);
        // A frame overlapping a slot already announced takes nobody new
        // (the same slot, one a late opening cuts, or one of another length
        // when the slot length changed).
        let open = !p.announced.iter().any(|&(a, b)| a < e && b > s);
        let fits = open && carry.backlog + load + n <= capacity && q <= prm.max_queue;
        let fresh = open && load == 0.0 && carry.backlog < 1.0 && carry.run_ms <= 0.0;
        let too_big = || {
            let (_, q_alone, _) = slot_step(p, Carry::default(), n, e - s);
            n > capacity || q_alone > prm.max_queue
        };
        if fits || (fresh && too_big()) {
            load += n;
            slot_of.push(i);
            it.next();
        } else {
            // Close this slot: carry the backlog to the next frame, draining over any gap.
            let (out, _, _) = slot_step(p, carry, load, e - s);
            let next_start = fr.get(i + 1).map_or(e, |f| f.0);
            carry = out.after_gap(p, next_start - e);
            i += 1;
            load = pre.get(i).copied().unwrap_or(0.0);
        }
    }
    // Everyone called (and everyone already told to come) must be done
    // before the point's end.
    let end = prm.until_ms.min(p.closes_ms);
    let mut c2 = Carry {
        backlog: f64::from(p.backlog),
        run_ms: 0.0,
    };
    let last_booked = pre.iter().rposition(|n| *n > 0.0);
    let last = slot_of.last().copied().max(last_booked);
    let mut finish = prm.from_ms.max(p.opens_ms) as f64 + c2.backlog / p.rate_per_ms();
    if let Some(last) = last {
        for (k, &(s, e)) in fr.iter().enumerate().take(last + 1) {
            let arr: f64 = slot_of
                .iter()
                .zip(pieces)
                .filter(|(si, _)| **si == k)
                .map(|(_, pc)| f64::from(pc.2))
                .sum::<f64>()
                + pre.get(k).copied().unwrap_or(0.0);
            let (out, _, done) = slot_step(p, c2, arr, e - s);
            if arr > 0.0 || c2.backlog > 0.0 {
                finish = s as f64 + done;
            }
            let next_start = fr.get(k + 1).map_or(e, |f| f.0);
            c2 = out.after_gap(p, next_start - e);
        }
    }
    if finish > end as f64 {
        return None;
    }
    Some(slot_of)
}

/// Positions to plan with: a building's own, else its compound's centre.
fn positions(bs: &[Building]) -> (Vec<Option<Pos>>, BTreeMap<i64, Pos>) {
    let mut sums: BTreeMap<i64, (f64, f64, f64)> = BTreeMap::new();
    for b in bs {
        if let Some(p) = b.pos {
            let e = sums.entry(b.compound).or_insert((0.0, 0.0, 0.0));
            e.0 += p.x_m;
            e.1 += p.y_m;
            e.2 += 1.0;
        }
    }
    let centres: BTreeMap<i64, Pos> = sums
        .into_iter()
        .map(|(k, (x, y, n))| {
            (
                k,
                Pos {
                    x_m: x / n,
                    y_m: y / n,
                },
            )
        })
        .collect();
    let own = bs
        .iter()
        .map(|b| b.pos.or_else(|| centres.get(&b.compound).copied()))
        .collect();
    (own, centres)
}

/// A point's position to plan with: its own, else its compound's centre.
fn point_pos(p: &Point, centres: &BTreeMap<i64, Pos>) -> Option<Pos> {
    p.pos
        .or_else(|| p.compound.and_then(|c| centres.get(&c).copied()))
}

/// Distance from building to point, `None` when the point may not serve it.
/// Without positions: buildings of a compound are spread over the compound's
/// points by building order; a point outside counts as [`FAR_M`] away.
fn distance(
    b: &Building,
    bpos: Option<Pos>,
    p: &Point,
    ppos: Option<Pos>,
    rank: (f64, f64),
) -> Option<f64> {
    if let Some(c) = p.compound {
        if c != b.compound {
            return None;
        }
    }
    // Another community's point: after every point of the building's own.
    let elsewhere = match (p.community, b.community) {
        (Some(pc), Some(bc)) if pc != bc => OTHER_COMMUNITY_M,
        _ => 0.0,
    };
    if let (Some(a), Some(q)) = (bpos, ppos) {
        return Some(a.distance(q) + elsewhere);
    }
    let by_order = (rank.0 - rank.1).abs() * 100.0;
    Some(
        elsewhere
            + if p.compound == Some(b.compound) {
                by_order
            } else {
                FAR_M + by_order
            },
    )
}

/// Whether residents under this status may not leave their compound
/// ([`ControlStatus::stays_in_compound`]).
fn stays_in_compound(st: Option<ControlStatus>) -> bool {
    st.is_some_and(ControlStatus::stays_in_compound)
}

/// What [`split`] makes of the buildings: per building its callable units
/// (unit index, people) and whether it may only go to a point inside its
/// own compound; and who is sampled at the door.
struct Split {
    callable: Vec<Vec<(usize, u32)>>,
    confined: Vec<bool>,
    d2d: Vec<DoorToDoor>,
}

/// Splits buildings into callable pieces and door-to-door entries. Sealed
/// and temporary control: at the door. Controlled (管控区, 人不出小区): the
/// building goes only to a point inside its compound (a unit or household
/// under it keeps the whole building there); when the compound has no point
/// among `points`, what is under control is sampled at the door instead.
fn split(bs: &[Building], points: &[Point]) -> Split {
    let served: BTreeSet<i64> = points.iter().filter_map(|p| p.compound).collect();
    let mut callable = Vec::with_capacity(bs.len());
    let mut confined = Vec::with_capacity(bs.len());
    let mut d2d = Vec::new();
    for b in bs {
        let mut units = Vec::new();
        let here = served.contains(&b.compound);
        // At the door: sealed or temporary anywhere; controlled where the
        // compound has no point to go to.
        let at_door = |st: Option<ControlStatus>| -> Option<ControlStatus> {
            st.filter(|c| c.at_the_door(here))
        };
        let people = |u: &Unit| u.households.iter().map(|h| h.people).sum::<u32>();
        if let Some(st) = at_door(b.control) {
            let n: u32 = b.units.iter().map(people).sum();
            d2d.push(DoorToDoor {
                building_id: b.id,
                building: b.name.clone(),
                unit_id: None,
                unit: None,
                household_id: None,
                room: None,
                people: n,
                status: st,
            });
            callable.push(units);
            confined.push(false);
            continue;
        }
        let mut kept_in = stays_in_compound(b.control);
        for (ui, u) in b.units.iter().enumerate() {
            if let Some(st) = at_door(u.control) {
                d2d.push(DoorToDoor {
                    building_id: b.id,
                    building: b.name.clone(),
                    unit_id: Some(u.id),
                    unit: Some(u.name.clone()),
                    household_id: None,
                    room: None,
                    people: people(u),
                    status: st,
                });
                continue;
            }
            let mut n = 0u32;
            let mut unit_in = stays_in_compound(u.control);
            for h in &u.households {
                match at_door(h.control) {
                    Some(st) => d2d.push(DoorToDoor {
                        building_id: b.id,
                        building: b.name.clone(),
                        unit_id: Some(u.id),
                        unit: Some(u.name.clone()),
                        household_id: Some(h.id),
                        room: Some(h.room.clone()),
                        people: h.people,
                        status: st,
                    }),
                    None => {
                        n += h.people;
                        unit_in |= h.people > 0 && stays_in_compound(h.control);
                    }
                }
            }
            if n > 0 {
                units.push((ui, n));
                kept_in |= unit_in;
            }
        }
        callable.push(units);
        confined.push(kept_in);
    }
    Split {
        callable,
        confined,
        d2d,
    }
}

/// Buildings, units and households sampled at the door, never called down:
/// under sealed or temporary control, and under control (管控区) where their
/// compound has no point among `points`.
pub fn door_to_door(buildings: &[Building], points: &[Point]) -> Vec<DoorToDoor> {
    split(buildings, points).d2d
}

/// The warnings for what is under control (管控区, 人不出小区) and has no
/// point inside its compound: one per building, Chinese first, English
/// second. They are on the door-to-door list; the compound needs a point.
pub fn confined_warnings(d2d: &[DoorToDoor]) -> Vec<String> {
    let mut by: Vec<(i64, &str, Vec<String>, u32)> = Vec::new();
    for d in d2d.iter().filter(|d| d.status == ControlStatus::Controlled) {
        let what = match (&d.unit, &d.room) {
            (Some(u), Some(r)) => format!("{u}单元{r}室"),
            (Some(u), None) => format!("{u}单元"),
            _ => String::new(),
        };
        match by.iter_mut().find(|x| x.0 == d.building_id) {
            Some(x) => {
                x.2.push(what);
                x.3 += d.people;
            }
            None => by.push((d.building_id, &d.building, vec![what], d.people)),
        }
    }
    by.into_iter()
        .map(|(_, b, parts, n)| {
            let parts: Vec<String> = parts.into_iter().filter(|p| !p.is_empty()).collect();
            let zh_part = if parts.is_empty() {
                String::new()
            } else {
                parts.join("、")
            };
            let en_part = if parts.is_empty() {
                String::new()
            } else {
                format!(" ({})", parts.join(", "))
            };
            format!(
                "{b}{zh_part}属管控区（人不出小区，{n} 人），所在小区本轮没有采样点，不叫号到小区外：请在小区内设采样点，或入户采样（已列入入户采样名单） / {b}{en_part} is under control (residents stay inside their compound; {n} people) and its compound has no testing point in this round: not called to a point outside; add a point inside the compound, or sample at the door (listed for door-to-door)"
            )
        })
        .collect()
}

/// Plans the round: see the module documentation.
pub fn plan(buildings: &[Building], points: &[Point], prm: &Params) -> Result<Plan, PlanError> {
    plan_until(buildings, points, prm, None)
}

/// [`plan`], where `horizon_h` says the plan's end (`until_ms`) is a planning
/// horizon of that many hours, not the round's end: a later end is then no
/// remedy (the points may still stay open longer up to it).
pub fn plan_until(
    buildings: &[Building],
    points: &[Point],
    prm: &Params,
    horizon_h: Option<i64>,
) -> Result<Plan, PlanError> {
    plan_until_with(buildings, points, prm, horizon_h, &more_stations)
}

/// A point with `k` stations more and nothing else changed: the planner's
/// own view of an added station (it serves at the point's planned rate).
pub fn more_stations(p: &Point, k: u32) -> Point {
    Point {
        stations: p.stations + k,
        ..p.clone()
    }
}

/// [`plan_until`], where `restation(p, k)` is the point `p` as it would be
/// planned with `k` stations more: its rate and its backlog may change with
/// its stations (a re-plan measures a point's pace per station and drains
/// the line already there at the new speed). Station advice is tried with
/// it, so the advice is exactly what a re-plan at the same moment accepts
/// once the stations are added: the smallest number (up to 20) that plans.
pub fn plan_until_with(
    buildings: &[Building],
    points: &[Point],
    prm: &Params,
    horizon_h: Option<i64>,
    restation: &dyn Fn(&Point, u32) -> Point,
) -> Result<Plan, PlanError> {
    let (out, unplaced) = plan_inner(buildings, points, prm)?;
    if unplaced.is_empty() {
        return Ok(out);
    }
    let callable = split(buildings, points).callable;
    let total: u32 = callable.iter().flatten().map(|u| u.1).sum();
    let people_of = |bi: usize| {
        callable
            .get(bi)
            .map_or(0, |u| u.iter().map(|x| x.1).sum::<u32>())
    };
    let unplaced_people: u32 = unplaced.iter().map(|&(bi, _)| people_of(bi)).sum();
    let placed = total - unplaced_people.min(total);
    let mut short: Vec<ShortPoint> = Vec::new();
    for &(bi, pj) in &unplaced {
        let Some(p) = points.get(pj) else { continue };
        match short.iter_mut().find(|s| s.point_id == p.id) {
            Some(s) => {
                s.people += people_of(bi);
                s.buildings += 1;
            }
            None => short.push(ShortPoint {
                point_id: p.id,
                name: p.name.clone(),
                people: people_of(bi),
                buildings: 1,
            }),
        }
    }
    short.sort_by(|a, b| b.people.cmp(&a.people).then(a.point_id.cmp(&b.point_id)));
    let remedy = remedy(
        buildings,
        points,
        prm,
        horizon_h.is_some(),
        short,
        restation,
    );
    let (remedy_zh, remedy_en) = remedy_texts(&remedy, horizon_h.map(|h| (prm.until_ms, h)));
    let capacity: f64 = points
        .iter()
        .map(|p| {
            let open = (prm.until_ms.min(p.closes_ms) - prm.from_ms.max(p.opens_ms)).max(0);
            p.rate_per_ms() * open as f64
        })
        .sum();
    Err(PlanError::WindowTooShort {
        people: total,
        capacity: capacity.round() as u32,
        placed,
        unplaced_people,
        unplaced_buildings: unplaced.len() as u32,
        remedy: Box::new(remedy),
        remedy_zh,
        remedy_en,
    })
}

/// What would meet the window, in Chinese and in English. `horizon`: the
/// plan's end and its length in hours when that end is the planning horizon
/// (a plan covers so many hours at a time), not the round's end: a longer
/// window then changes nothing, and the advice says so.
pub fn remedy_texts(r: &Remedy, horizon: Option<(i64, i64)>) -> (String, String) {
    let mut zh = Vec::new();
    let mut en = Vec::new();
    let names: Vec<&str> = r.short.iter().map(|s| s.name.as_str()).collect();
    if let Some(k) = r.more_stations_at_short {
        zh.push(format!("{}各增加 {k} 个采样台", names.join("、")));
        en.push(format!("{k} more station(s) at {}", names.join(", ")));
    }
    if let Some(k) = r.more_stations_per_point {
        zh.push(format!("每个采样点增加 {k} 个采样台"));
        en.push(format!("{k} more station(s) at every point"));
    }
    if let Some(q) = r.max_queue {
        zh.push(format!("排队上限放宽到 {q} 人"));
        en.push(format!("a queue bound of {q}"));
    }
    if let Some(m) = r.slot_minutes {
        zh.push(format!("每个时段改为 {m} 分钟"));
        en.push(format!("slots of {m} minutes"));
    }
    match (horizon, r.more_minutes) {
        (None, Some(m)) => {
            zh.push(format!("采样点开放与时间窗延长 {m} 分钟"));
            en.push(format!(
                "keep the points open and the window {m} minutes longer"
            ));
        }
        (Some(_), Some(m)) => {
            zh.push(format!("采样点延长开放 {m} 分钟"));
            en.push(format!("keep the points open {m} minutes longer"));
        }
        (_, None) => {}
    }
    // Where they do not fit, by the point nearest them.
    let (wz, we) = if r.short.is_empty() {
        (String::new(), String::new())
    } else {
        let z: Vec<String> = r
            .short
            .iter()
            .map(|s| format!("{} {} 人（{} 栋楼）", s.name, s.people, s.buildings))
            .collect();
        let e: Vec<String> = r
            .short
            .iter()
            .map(|s| format!("{} {} ({} building(s))", s.name, s.people, s.buildings))
            .collect();
        (
            format!("排不下的人按最近的采样点：{}；", z.join("、")),
            format!("who does not fit, by nearest point: {}; ", e.join(", ")),
        )
    };
    if let Some((until, hours)) = horizon {
        zh.push("增加采样点".to_string());
        en.push("more testing points".to_string());
        return (
            format!(
                "{wz}{}（排班一次只排 {hours} 小时，至 {}，延长本轮时间窗无济于事）",
                zh.join("，或"),
                hhmm(until)
            ),
            format!(
                "{we}{} (a plan covers {hours} h at a time, up to {}: a longer round window changes nothing)",
                en.join(", or "),
                hhmm(until)
            ),
        );
    }
    if zh.is_empty() {
        (format!("{wz}增加采样点"), format!("{we}add testing points"))
    } else {
        (
            format!("{wz}{}", zh.join("，或")),
            format!("{we}{}", en.join(", or ")),
        )
    }
}

/// `end_fixed`: the plan's end cannot move (a planning horizon): only the
/// points' hours may grow, up to it.
fn remedy(
    buildings: &[Building],
    points: &[Point],
    prm: &Params,
    end_fixed: bool,
    short: Vec<ShortPoint>,
    restation: &dyn Fn(&Point, u32) -> Point,
) -> Remedy {
    let fits = |ps: &[Point], pr: &Params| {
        plan_inner(buildings, ps, pr)
            .map(|(_, u)| u.is_empty())
            .unwrap_or(false)
    };
    let with_more = |k: u32, only: Option<&[ShortPoint]>| -> Vec<Point> {
        points
            .iter()
            .map(|p| {
                if only.is_none_or(|s| s.iter().any(|s| s.point_id == p.id)) {
                    restation(p, k)
                } else {
                    p.clone()
                }
            })
            .collect()
    };
    // Stations where people do not fit, when that is not every point.
    let some = !short.is_empty() && short.len() < points.len();
    let more_stations_at_short = if some {
        (1..=20u32).find(|k| fits(&with_more(*k, Some(&short)), prm))
    } else {
        None
    };
    let more_stations_per_point = if more_stations_at_short.is_some() {
        None
    } else {
        (1..=20u32).find(|k| fits(&with_more(*k, None), prm))
    };
    // A longer queue or other slots, where that is what would help.
    let q = prm.max_queue.max(1.0);
    let max_queue = [1.25, 1.5, 2.0]
        .iter()
        .map(|f| (q * f).ceil().min(1000.0))
        .filter(|b| *b > q)
        .find(|b| {
            fits(
                points,
                &Params {
                    max_queue: *b,
                    ..*prm
                },
            )
        })
        .map(|b| b as u32);
    let now_min = prm.slot_ms / MINUTE_MS;
    let slot_minutes = [15i64, 20, 10, 45, 60]
        .into_iter()
        .filter(|m| *m != now_min)
        .find(|m| {
            fits(
                points,
                &Params {
                    slot_ms: m * MINUTE_MS,
                    ..*prm
                },
            )
        })
        .map(|m| m as u32);
    let more_minutes = (1..=48i64).map(|k| k * 30).find(|m| {
        let d = m * MINUTE_MS;
        let ps: Vec<Point> = points
            .iter()
            .map(|p| Point {
                closes_ms: p.closes_ms + d,
                ..p.clone()
            })
            .collect();
        let pr = Params {
            until_ms: if end_fixed {
                prm.until_ms
            } else {
                prm.until_ms + d
            },
            ..*prm
        };
        fits(&ps, &pr)
    });
    Remedy {
        short,
        more_stations_at_short,
        more_stations_per_point,
        max_queue,
        slot_minutes,
        more_minutes,
    }
}

/// The plan and the buildings (indices) that found no point with room, each
/// with the point (index) nearest it that may serve it.
fn plan_inner(
    buildings: &[Building],
    points: &[Point],
    prm: &Params,
) -> Result<(Plan, Vec<(usize, usize)>), PlanError> {
    if points.is_empty() {
        return Err(PlanError::NoPoints);
    }
    if prm.slot_ms <= 0 || prm.until_ms <= prm.from_ms {
        return Err(PlanError::BadWindow);
    }
    let Split {
        callable,
        confined,
        d2d,
    } = split(buildings, points);
    let (bpos, centres) = positions(buildings);
    let ppos: Vec<Option<Pos>> = points.iter().map(|p| point_pos(p, &centres)).collect();
    // Ranks for the no-position fallback: a building's place in its compound,
    // a point's place among the compound's points (outside points: the street).
    let mut in_compound: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
    for (i, b) in buildings.iter().enumerate() {
        in_compound.entry(b.compound).or_default().push(i);
    }
    let mut brank = vec![0.0; buildings.len()];
    let mut bstreet = vec![0.0; buildings.len()];
    let mut order: Vec<usize> = (0..buildings.len()).collect();
    order.sort_by_key(|&i| (buildings[i].order, buildings[i].id));
    for (k, &i) in order.iter().enumerate() {
        bstreet[i] = (k as f64 + 0.5) / buildings.len().max(1) as f64;
    }
    for list in in_compound.values_mut() {
        list.sort_by_key(|&i| (buildings[i].order, buildings[i].id));
        for (k, &i) in list.iter().enumerate() {
            brank[i] = (k as f64 + 0.5) / list.len() as f64;
        }
    }
    let mut prank = vec![0.0; points.len()];
    let mut by_compound: BTreeMap<Option<i64>, Vec<usize>> = BTreeMap::new();
    for (j, p) in points.iter().enumerate() {
        by_compound.entry(p.compound).or_default().push(j);
    }
    for list in by_compound.values_mut() {
        list.sort_by_key(|&j| points[j].id);
        for (k, &j) in list.iter().enumerate() {
            prank[j] = (k as f64 + 0.5) / list.len() as f64;
        }
    }
    let frames: Vec<Vec<(i64, i64)>> = points.iter().map(|p| frames(p, prm)).collect();
    // Candidate pairs, nearest first; pinned buildings at their point, first
    // (then, should it not take them before it closes, as any other: the
    // plan's `moved` says so).
    let mut pairs: Vec<(bool, f64, u32, i64, usize, usize)> = Vec::new();
    for (bi, b) in buildings.iter().enumerate() {
        if callable[bi].is_empty() {
            continue;
        }
        let mut any = false;
        for (pj, p) in points.iter().enumerate() {
            // A pinned building is tried at its point first; if that point
            // cannot take it before it closes, it goes as any other would.
            let here = b.pinned_point == Some(p.id);
            // 管控区: only a point inside the building's own compound.
            if confined[bi] && p.compound != Some(b.compound) {
                continue;
            }
            let rank = if p.compound.is_some() {
                (brank[bi], prank[pj])
            } else {
                (bstreet[bi], prank[pj])
            };
            if let Some(d) = distance(b, bpos[bi], p, ppos[pj], rank) {
                pairs.push((!here, d, b.order, b.id, bi, pj));
                any = true;
            }
        }
        if !any {
            return Err(PlanError::NoPointFor {
                building: b.name.clone(),
            });
        }
    }
    pairs.sort_by(|a, b| {
        a.0.cmp(&b.0)
            .then(a.1.total_cmp(&b.1))
            .then(a.2.cmp(&b.2))
            .then(a.3.cmp(&b.3))
            .then(points[a.5].id.cmp(&points[b.5].id))
    });
    let mut at: Vec<Option<(usize, f64)>> = vec![None; buildings.len()];
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); points.len()];
    let sort_members = |m: &mut Vec<usize>| {
        m.sort_by_key(|&i| {
            (
                buildings[i].pinned_point.is_none(),
                buildings[i].order,
                buildings[i].id,
            )
        })
    };
    let pieces_of = |m: &[usize]| -> Vec<Piece> {
        m.iter()
            .flat_map(|&bi| callable[bi].iter().map(move |&(ui, n)| (bi, ui, n)))
            .collect()
    };
    for &(_, d, _, _, bi, pj) in &pairs {
        if at[bi].is_some() {
            continue;
        }
        let mut trial = members[pj].clone();
        trial.push(bi);
        sort_members(&mut trial);
        if pack(&points[pj], prm, &frames[pj], &pieces_of(&trial)).is_some() {
            members[pj] = trial;
            at[bi] = Some((pj, d));
        }
    }
    let mut nearest: Vec<Option<usize>> = vec![None; buildings.len()];
    for &(_, _, _, _, bi, pj) in &pairs {
        if let Some(n) = nearest.get_mut(bi) {
            n.get_or_insert(pj);
        }
    }
    let unplaced: Vec<(usize, usize)> = (0..buildings.len())
        .filter(|&i| at[i].is_none() && !callable[i].is_empty())
        .map(|i| (i, nearest[i].unwrap_or(0)))
        .collect();
    // Calls already announced stay as they were told.
    let mut calls: Vec<Call> = points.iter().flat_map(|p| p.booked.clone()).collect();
    for (pj, p) in points.iter().enumerate() {
        let pieces = pieces_of(&members[pj]);
        let slots = pack(p, prm, &frames[pj], &pieces).unwrap_or_default();
        for (&(bi, ui, n), &k) in pieces.iter().zip(&slots) {
            let (Some(&(s, e)), Some(b)) = (frames[pj].get(k), buildings.get(bi)) else {
                continue;
            };
            let Some(u) = b.units.get(ui) else { continue };
            calls.push(Call {
                point_id: p.id,
                starts_ms: s,
                ends_ms: e,
                building_id: b.id,
                unit_id: u.id,
                people: n,
            });
        }
    }
    // Distances as `evaluate` gives them (metres between known positions),
    // so a plan reads the same when it is made and when it is read back.
    let mut plan = evaluate(buildings, points, &calls, prm);
    plan.warnings = confined_warnings(&d2d);
    plan.door_to_door = d2d;
    Ok((plan, unplaced))
}

/// The expected arrivals, queue bound and finish of every slot of `calls`
/// (a fresh or a stored plan). Door-to-door lists are left empty.
pub fn evaluate(buildings: &[Building], points: &[Point], calls: &[Call], prm: &Params) -> Plan {
    let bname: BTreeMap<i64, &Building> = buildings.iter().map(|b| (b.id, b)).collect();
    let (bpos, centres) = positions(buildings);
    let bpos: BTreeMap<i64, Option<Pos>> =
        buildings.iter().zip(bpos).map(|(b, p)| (b.id, p)).collect();
    let mut out = Vec::with_capacity(points.len());
    let mut total = 0u32;
    let mut finish_all: Option<i64> = None;
    let moved_list = moved(buildings, points, calls);
    for p in points {
        let mine: Vec<&Call> = calls.iter().filter(|c| c.point_id == p.id).collect();
        let mut slots_map: BTreeMap<(i64, i64), Vec<&Call>> = BTreeMap::new();
        for c in &mine {
            slots_map
                .entry((c.starts_ms, c.ends_ms))
                .or_default()
                .push(c);
        }
        let mut carry = Carry {
            backlog: f64::from(p.backlog),
            run_ms: 0.0,
        };
        let ppos = point_pos(p, &centres);
        let dist_of = |b: i64| match (bpos.get(&b).copied().flatten(), ppos) {
            (Some(a), Some(q)) => Some((a.distance(q) * 10.0).round() / 10.0),
            _ => None,
        };
        let mut prev_end: Option<i64> = None;
        let mut slots = Vec::new();
        let mut max_q: f64 = 0.0;
        let mut finish: Option<i64> = None;
        for ((s, e), cs) in slots_map {
            // Frames nobody was called to: as `pack` closes them.
            if let Some(pe) = prev_end {
                carry = carry.after_gap(p, s - pe);
            }
            let arrivals: u32 = cs.iter().map(|c| c.people).sum();
            let (out, q, done) = slot_step(p, carry, f64::from(arrivals), e - s);
            let f = s + done.ceil() as i64;
            finish = Some(finish.map_or(f, |x| x.max(f)));
            max_q = max_q.max(q);
            let mut by_b: Vec<SlotCall> = Vec::new();
            for c in cs {
                let building = bname.get(&c.building_id);
                let u = building.and_then(|b| b.units.iter().find(|u| u.id == c.unit_id));
                let unit = UnitCall {
                    id: c.unit_id,
                    name: u.map_or_else(|| c.unit_id.to_string(), |u| u.name.clone()),
                    people: c.people,
                    except_rooms: u
                        .map(|u| {
                            u.households
                                .iter()
                                .filter(|h| h.control.is_some_and(|s| s.door_to_door_only()))
                                .map(|h| h.room.clone())
                                .collect()
                        })
                        .unwrap_or_default(),
                };
                match by_b.iter_mut().find(|x| x.building_id == c.building_id) {
                    Some(x) => {
                        x.people += c.people;
                        x.units.push(unit);
                    }
                    None => by_b.push(SlotCall {
                        building_id: c.building_id,
                        building: building
                            .map_or_else(|| c.building_id.to_string(), |b| b.name.clone()),
                        units: vec![unit],
                        people: c.people,
                        away: Away::of(building.copied(), p, dist_of(c.building_id)),
                        moved_from: moved_list
                            .iter()
                            .find(|m| m.building_id == c.building_id && m.to_point_id == p.id)
                            .and_then(|m| m.from_point.clone()),
                    }),
                }
            }
            slots.push(Slot {
                starts_ms: s,
                ends_ms: e,
                calls: by_b,
                arrivals,
                capacity: (p.rate_per_ms() * (e - s) as f64 * 10.0).round() / 10.0,
                expected_queue: (q * 10.0).round() / 10.0,
                finish_ms: f,
            });
            carry = out;
            prev_end = Some(e);
        }
        let mut assigned: Vec<Assignment> = Vec::new();
        for c in &mine {
            match assigned.iter_mut().find(|a| a.building_id == c.building_id) {
                Some(a) => a.people += c.people,
                None => {
                    let building = bname.get(&c.building_id);
                    let d = dist_of(c.building_id);
                    assigned.push(Assignment {
                        building_id: c.building_id,
                        building: building
                            .map_or_else(|| c.building_id.to_string(), |b| b.name.clone()),
                        distance_m: d,
                        people: c.people,
                        away: Away::of(building.copied(), p, d),
                    })
                }
            }
        }
        assigned.sort_by_key(|a| {
            (
                bname.get(&a.building_id).map_or(u32::MAX, |b| b.order),
                a.building_id,
            )
        });
        let people: u32 = mine.iter().map(|c| c.people).sum();
        total += people;
        if let Some(f) = finish {
            finish_all = Some(finish_all.map_or(f, |x| x.max(f)));
        }
        out.push(PointPlan {
            point_id: p.id,
            name: p.name.clone(),
            stations: p.stations,
            rate_per_station_h: p.rate_per_station_h,
            backlog: p.backlog,
            buildings: assigned,
            slots,
            people,
            max_expected_queue: (max_q * 10.0).round() / 10.0,
            finish_ms: finish,
        });
    }
    Plan {
        params: *prm,
        points: out,
        door_to_door: Vec::new(),
        people_called: total,
        finish_ms: finish_all,
        moved: moved_list,
        warnings: Vec::new(),
    }
}

/// What the simulation measured at one point (or over all points).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimStats {
    pub people: u32,
    pub max_queue: u32,
    pub mean_wait_min: f64,
    pub p95_wait_min: f64,
    pub finish_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimPoint {
    pub point_id: i64,
    pub stats: SimStats,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Simulation {
    pub points: Vec<SimPoint>,
    pub overall: SimStats,
}

/// The plan next to "everyone called at once" (same points, same seed).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub seed: u64,
    pub plan: Simulation,
    pub all_at_once: Simulation,
}

impl Comparison {
    /// The points whose simulated longest queue under the plan exceeds the
    /// plan's bound `max_queue`: `(point, longest queue)`. The bound holds
    /// the expected longest queue; chance can exceed it, and the reader must
    /// be told rather than left to compare two tables.
    pub fn over_bound(&self, max_queue: f64) -> Vec<(i64, u32)> {
        self.plan
            .points
            .iter()
            .filter(|p| f64::from(p.stats.max_queue) > max_queue)
            .map(|p| (p.point_id, p.stats.max_queue))
            .collect()
    }
}

/// How people are called in a simulation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Calling {
    /// As the calls say: each slot's people come down during the slot.
    Slots,
    /// Everyone at the first call's time, coming down over one slot.
    AllAtOnce,
}

/// Seeded discrete-event simulation of every point: arrivals as called,
/// first come first served at `stations` stations, Erlang-2 service times
/// with the point's rate. A point's backlog arrives at `from_ms`.
pub fn simulate(
    points: &[Point],
    calls: &[Call],
    prm: &Params,
    calling: Calling,
    seed: u64,
) -> Simulation {
    let mut rng = Rng::new(seed);
    let first = calls
        .iter()
        .map(|c| c.starts_ms)
        .min()
        .unwrap_or(prm.from_ms);
    let spread = (prm.slot_ms as f64 * ARRIVAL_SPREAD).max(1.0);
    let mut all_waits: Vec<f64> = Vec::new();
    let mut res = Vec::with_capacity(points.len());
    let mut overall_max = 0u32;
    let mut overall_finish: Option<i64> = None;
    for p in points {
        let mut arrivals: Vec<f64> = Vec::new();
        for _ in 0..p.backlog {
            arrivals.push(prm.from_ms as f64);
        }
        for c in calls.iter().filter(|c| c.point_id == p.id) {
            let (s, len) = match calling {
                Calling::Slots => (
                    c.starts_ms as f64,
                    ((c.ends_ms - c.starts_ms) as f64 * ARRIVAL_SPREAD).max(1.0),
                ),
                // Called at once, they come when the point opens at the
                // earliest: nobody queues at a point still shut.
                Calling::AllAtOnce => (first.max(p.opens_ms) as f64, spread),
            };
            for _ in 0..c.people {
                arrivals.push(s + uniform(&mut rng) * len);
            }
        }
        arrivals.sort_by(f64::total_cmp);
        let mean_service = HOUR_MS as f64 / p.rate_per_station_h.max(0.1);
        let mut free = vec![p.opens_ms as f64; p.stations.max(1) as usize];
        let mut events: Vec<(f64, i32)> = Vec::with_capacity(arrivals.len() * 2);
        let mut waits = Vec::with_capacity(arrivals.len());
        let mut finish: Option<f64> = None;
        for &a in &arrivals {
            let (k, f) = free
                .iter()
                .copied()
                .enumerate()
                .min_by(|x, y| x.1.total_cmp(&y.1))
                .unwrap_or((0, a));
            let start = a.max(f);
            let service = -(mean_service / 2.0) * (1.0 - uniform(&mut rng)).ln()
                - (mean_service / 2.0) * (1.0 - uniform(&mut rng)).ln();
            if let Some(slot) = free.get_mut(k) {
                *slot = start + service;
            }
            finish = Some(finish.map_or(start + service, |x: f64| x.max(start + service)));
            waits.push((start - a) / MINUTE_MS as f64);
            events.push((a, 1));
            events.push((start, -1));
        }
        // Starts before arrivals at the same instant, so nobody queues for zero time.
        events.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
        let mut q = 0i32;
        let mut max_q = 0i32;
        for (_, d) in &events {
            q += d;
            max_q = max_q.max(q);
        }
        let stats = stats_of(&waits, max_q.max(0) as u32, finish.map(|f| f.ceil() as i64));
        overall_max = overall_max.max(stats.max_queue);
        if let Some(f) = stats.finish_ms {
            overall_finish = Some(overall_finish.map_or(f, |x| x.max(f)));
        }
        all_waits.extend(waits);
        res.push(SimPoint {
            point_id: p.id,
            stats,
        });
    }
    Simulation {
        points: res,
        overall: stats_of(&all_waits, overall_max, overall_finish),
    }
}

/// The plan and "everyone at once", simulated with the same seed.
pub fn compare(points: &[Point], calls: &[Call], prm: &Params, seed: u64) -> Comparison {
    Comparison {
        seed,
        plan: simulate(points, calls, prm, Calling::Slots, seed),
        all_at_once: simulate(points, calls, prm, Calling::AllAtOnce, seed),
    }
}

fn uniform(rng: &mut Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

fn stats_of(waits: &[f64], max_queue: u32, finish_ms: Option<i64>) -> SimStats {
    let mut w = waits.to_vec();
    w.sort_by(f64::total_cmp);
    let mean = if w.is_empty() {
        0.0
    } else {
        w.iter().sum::<f64>() / w.len() as f64
    };
    let p95 = if w.is_empty() {
        0.0
    } else {
        let idx = ((w.len() as f64 * 0.95).ceil() as usize).clamp(1, w.len()) - 1;
        w.get(idx).copied().unwrap_or(0.0)
    };
    SimStats {
        people: w.len() as u32,
        max_queue,
        mean_wait_min: (mean * 10.0).round() / 10.0,
        p95_wait_min: (p95 * 10.0).round() / 10.0,
        finish_ms,
    }
}

/// What a point's scans say about its speed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Measured {
    /// Scans in the window.
    pub scans: u32,
    /// From the first scan in the window (or the window's start) to now.
    pub span_ms: i64,
    pub stations: u32,
}

/// Scans per station-hour; `None` on too little evidence (fewer than 10 scans
/// or less than 10 minutes).
pub fn measured_rate(m: &Measured) -> Option<f64> {
    if m.scans < 10 || m.span_ms < 10 * MINUTE_MS {
        return None;
    }
    let h = m.span_ms as f64 / HOUR_MS as f64;
    Some((f64::from(m.scans) / (f64::from(m.stations.max(1)) * h) * 10.0).round() / 10.0)
}

/// A point stalls when its calls have run this long (within the measuring
/// window) …
pub const STALL_AFTER_MS: i64 = 15 * MINUTE_MS;
/// … with at least this many people called, expected come by the plan's
/// arrival curve and not swabbed …
pub const STALL_WAITING: f64 = 10.0;
/// … while it scanned too few to measure (see [`measured_rate`]).
/// Its planned pace is then what it did scan over that time, but at least
/// this many people per station per hour (one swab in ten minutes), so a
/// re-plan still drains its line, slowly.
pub const STALL_FLOOR_PER_STATION_H: f64 = 6.0;

/// What says a point has stalled: people waiting and (almost) no scans.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Stall {
    /// Scans in the measuring window.
    pub scans: u32,
    /// How long its calls have run within the window: from the start of its
    /// first slot begun (at most the window) to now.
    pub called_ms: i64,
    /// People called, come by the plan's arrival curve, and not swabbed.
    pub waiting: f64,
    pub stations: u32,
}

/// The pace to plan a stalled point with, per station and hour, `None` when
/// it has not stalled. A point whose called people have been waiting for at
/// least [`STALL_AFTER_MS`] — at least [`STALL_WAITING`] of them — while it
/// scanned too few to measure a pace (fewer than 10) is the slowest there
/// is: it is planned at the scans it did make over that time (at least
/// [`STALL_FLOOR_PER_STATION_H`]), never at its configured rate. With less
/// time, or fewer people called, there is too little evidence either way.
pub fn stalled_rate(s: &Stall) -> Option<f64> {
    if s.scans >= 10 || s.called_ms < STALL_AFTER_MS || s.waiting < STALL_WAITING {
        return None;
    }
    let h = s.called_ms as f64 / HOUR_MS as f64;
    let seen = f64::from(s.scans) / (f64::from(s.stations.max(1)) * h);
    Some((seen.max(STALL_FLOOR_PER_STATION_H) * 10.0).round() / 10.0)
}

/// One station's scans in the measuring window (a station is what scanned:
/// a phone re-enrolled after a swap scans as a new station).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct StationScans {
    pub scans: u32,
    pub first_ms: i64,
    pub last_ms: i64,
}

/// A point's pace per station and hour, each station measured over its own
/// active span (its first scan to its last): Σ(nᵢ − 1) / Σ spanᵢ over the
/// stations that scanned at least twice. A station re-enrolled after one
/// scan, or one that stood idle, neither counts as a station nor dilutes
/// the pace. `None` on too little evidence (fewer than 9 intervals or less
/// than 10 station-minutes).
pub fn station_pace(stations: &[StationScans]) -> Option<f64> {
    let (gaps, span) = stations
        .iter()
        .filter(|s| s.scans >= 2 && s.last_ms > s.first_ms)
        .fold((0u32, 0i64), |(g, t), s| {
            (g + (s.scans - 1), t + (s.last_ms - s.first_ms))
        });
    if gaps < 9 || span < 10 * MINUTE_MS {
        return None;
    }
    let h = span as f64 / HOUR_MS as f64;
    Some((f64::from(gaps) / h * 10.0).round() / 10.0)
}

/// The rate to plan the rest of the round with. Scans measure throughput: at
/// a point that had people waiting (`busy`) that is its speed; at an idle
/// point it only shows the speed is at least that.
pub fn effective_rate(configured: f64, measured: Option<f64>, busy: bool) -> f64 {
    match measured {
        Some(m) if busy => m.max(1.0),
        Some(m) => m.max(configured),
        None => configured,
    }
}

/// A call's arrivals as the model has them: `(from, until, people)`, spread
/// evenly over [`ARRIVAL_SPREAD`] of its slot.
fn arrival_stream(c: &Call) -> (f64, f64, f64) {
    let s = c.starts_ms as f64;
    let e = s + ((c.ends_ms - c.starts_ms) as f64 * ARRIVAL_SPREAD).max(1.0);
    (s, e, f64::from(c.people))
}

/// People the model expects to have come down for `calls` by `at_ms`.
pub fn arrived_by(calls: &[Call], at_ms: i64) -> f64 {
    let t = at_ms as f64;
    calls
        .iter()
        .map(|c| {
            let (s, e, n) = arrival_stream(c);
            n * ((t - s) / (e - s)).clamp(0.0, 1.0)
        })
        .sum()
}

/// The fluid line at `t1` of a point serving `per_hour` people an hour,
/// starting from `q0` people at `t0`, with the calls' people arriving as the
/// model spreads them. Between two arrival breakpoints the arrival rate is
/// constant, so the line moves in a straight line and stops at empty.
fn fluid_line(calls: &[Call], per_hour: f64, q0: f64, t0: i64, t1: i64) -> f64 {
    let (t0, t1) = (t0 as f64, t1 as f64);
    if t1 <= t0 {
        return q0.max(0.0);
    }
    let mu = per_hour.max(0.0) / HOUR_MS as f64;
    let streams: Vec<(f64, f64, f64)> = calls.iter().map(arrival_stream).collect();
    let mut ts = vec![t0, t1];
    for &(s, e, _) in &streams {
        ts.extend([s, e].into_iter().filter(|t| *t > t0 && *t < t1));
    }
    ts.sort_by(f64::total_cmp);
    ts.dedup();
    let mut q = q0.max(0.0);
    for w in ts.windows(2) {
        let (a, b) = (w[0], w[1]);
        let lambda: f64 = streams
            .iter()
            .filter(|&&(s, e, _)| s <= a && e >= b)
            .map(|&(s, e, n)| n / (e - s))
            .sum();
        q = (q + (lambda - mu) * (b - a)).max(0.0);
    }
    q
}

/// What a point's swabs say, split at `split_ms` (the start of the slot in
/// progress, or now): swabs before it and since.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Swabbed {
    pub split_ms: i64,
    pub before: u32,
    pub since: u32,
}

/// People waiting at a point at `now_ms` (a re-plan), from the calls of its
/// slots already started and its swabs.
///
/// Calls starting before `split_ms` (slots over): their people not swabbed
/// by then count as still in line at most as the model's own line of those
/// calls at that moment, at the point's speed: people who never came drop
/// out once the point would have served them. That speed is the faster of
/// configured and measured (`per_station_h` of each) unless the slot in
/// progress shows a line of its own (at least one per station): then the
/// point is slow and its measured throughput is its speed. Calls of the slot
/// in progress: those come by the model's arrival curve, less the swabs
/// since `split_ms` (which serve the older line first, so it is counted once).
pub fn waiting_now(
    started: &[Call],
    swabbed: Swabbed,
    stations: u32,
    configured_per_station_h: f64,
    measured_per_station_h: Option<f64>,
    now_ms: i64,
) -> f64 {
    let (over, current): (Vec<Call>, Vec<Call>) = started
        .iter()
        .filter(|c| c.starts_ms <= now_ms)
        .cloned()
        .partition(|c| c.starts_ms < swabbed.split_ms);
    let own = arrived_by(&current, now_ms) - f64::from(swabbed.since);
    let slow = own >= f64::from(stations.max(1));
    let per_station = match measured_per_station_h {
        Some(m) if slow => m,
        Some(m) => m.max(configured_per_station_h),
        None => configured_per_station_h,
    };
    let older = match over.iter().map(|c| c.starts_ms).min() {
        Some(first) => {
            let called: f64 = over.iter().map(|c| f64::from(c.people)).sum();
            (called - f64::from(swabbed.before))
                .max(0.0)
                .min(fluid_line(
                    &over,
                    per_station * f64::from(stations.max(1)),
                    0.0,
                    first,
                    swabbed.split_ms,
                ))
        }
        None => 0.0,
    };
    (older + own).max(0.0)
}

/// The line a re-plan's first slot (at `at_ms`) starts from: `waiting` people
/// at `now_ms`, joined by the rest of the started slots' people as the model
/// has them come, served at `per_hour` (the rate the point is planned with)
/// until `at_ms`. Anyone the started calls bring after `at_ms` (a slot of
/// another length reaching past it) is counted as waiting then.
pub fn backlog_at(started: &[Call], waiting: f64, per_hour: f64, now_ms: i64, at_ms: i64) -> f64 {
    let started: Vec<Call> = started
        .iter()
        .filter(|c| c.starts_ms <= now_ms)
        .cloned()
        .collect();
    let later = (arrived_by(&started, i64::MAX) - arrived_by(&started, at_ms)).max(0.0);
    fluid_line(&started, per_hour, waiting, now_ms, at_ms) + later
}

/// `HH:MM` in China time.
pub fn hhmm(ms: i64) -> String {
    let m = (ms.div_euclid(MINUTE_MS) + 8 * 60).rem_euclid(24 * 60);
    format!("{:02}:{:02}", m / 60, m % 60)
}

/// What a re-plan still has to call: every building's units not already
/// called in `kept` (slots started), a building partly called pinned to the
/// point that began it (moved since: the point of its latest call); buildings
/// with nothing left drop out. The planner keeps a pin while its point can
/// take the rest before it closes, and otherwise sends them on (`Plan::moved`).
pub fn remaining(buildings: &[Building], kept: &[Call]) -> Vec<Building> {
    let kept_units: BTreeSet<i64> = kept.iter().map(|c| c.unit_id).collect();
    buildings
        .iter()
        .filter_map(|b| {
            let pin = kept
                .iter()
                .filter(|c| c.building_id == b.id)
                .max_by_key(|c| c.starts_ms)
                .map(|c| c.point_id);
            let units: Vec<Unit> = b
                .units
                .iter()
                .filter(|u| !kept_units.contains(&u.id))
                .cloned()
                .collect();
            (!units.is_empty()).then(|| Building {
                pinned_point: pin,
                units,
                ..b.clone()
            })
        })
        .collect()
}

/// The call-down message of one slot at one point, fit for a WeCom group (Chinese).
pub fn calldown_text(round: &str, point: &str, slot: &Slot) -> String {
    let mut s = format!(
        "【核酸检测下楼通知】{round}\n采样点：{point}\n时段：{}–{}\n请以下楼栋单元的居民按时下楼采样，戴好口罩，保持一米间距，提前打开个人码：\n",
        hhmm(slot.starts_ms),
        hhmm(slot.ends_ms)
    );
    for c in &slot.calls {
        let units: Vec<String> = c.units.iter().map(|u| format!("{}单元", u.name)).collect();
        // A household held at home in a unit called down is told it is not
        // called, but not by its room: the group is the whole unit, and the
        // households held just after an abnormal pool are that pool's (their
        // grid leader tells each one at its door).
        let held: usize = c.units.iter().map(|u| u.except_rooms.len()).sum();
        let except = if held == 0 {
            String::new()
        } else {
            format!("；其中{held}户已另行通知，请留在家中，由医护人员入户采样")
        };
        // Sent away from their usual point: they must know.
        let away = c
            .away
            .map(|a| format!("；本次请到{}（{}），不是平常的采样点", point, a.zh()))
            .unwrap_or_default();
        // Their neighbours went to another point, now closed: not there.
        let moved = c
            .moved_from
            .as_ref()
            .map(|f| format!("；本次请到{point}，不是本楼先前去的「{f}」"))
            .unwrap_or_default();
        s.push_str(&format!(
            "· {} {}（约{}人{except}{away}{moved}）\n",
            c.building,
            units.join("、"),
            c.people
        ));
    }
    s.push_str("未轮到的楼栋请在家等候通知，封控及临时管控楼栋由医护人员上门采样。");
    s
}

/// The shortest and longest delay (minutes) a call already told may be put
/// off by: less is no news to a group, more is a new plan.
pub const DELAY_MINUTES: (u32, u32) = (5, 240);

/// When a slot's people are told to come down after a delay of `minutes`
/// told at `told_ms`: the delay counts from the slot's start, or from when
/// it is told for a slot already begun (a group told at 21:30 of a
/// 21:00 slot to wait 20 minutes comes at 21:50, not at 21:20).
pub fn delayed_come_down(starts_ms: i64, told_ms: i64, minutes: u32) -> i64 {
    starts_ms.max(told_ms) + i64::from(minutes) * MINUTE_MS
}

/// The fewest minutes a new delay of a slot (told at `now_ms`) must name so
/// its people come down after `last_ms`, the time an earlier notice gave
/// them: a later notice never brings a group down earlier than it was told.
/// At least [`DELAY_MINUTES`]'s lower bound.
pub fn delay_minutes_past(starts_ms: i64, now_ms: i64, last_ms: i64) -> u32 {
    let base = starts_ms.max(now_ms);
    let past = if last_ms < base {
        0
    } else {
        (last_ms - base) / MINUTE_MS + 1
    };
    u32::try_from(past).unwrap_or(u32::MAX).max(DELAY_MINUTES.0)
}

/// When a slot delayed so its people come down at `come_down_ms` ends: as
/// long after that as it lasted, or its planned end when not delayed.
pub fn delayed_end(starts_ms: i64, ends_ms: i64, come_down_ms: Option<i64>) -> i64 {
    match come_down_ms {
        Some(c) if c > starts_ms => ends_ms + (c - starts_ms),
        _ => ends_ms,
    }
}

/// A point's people per minute: its stations at the measured rate per
/// station and hour where there is one, else at the configured rate.
pub fn people_per_minute(stations: u32, configured_rate: f64, measured_rate: Option<f64>) -> f64 {
    f64::from(stations) * measured_rate.unwrap_or(configured_rate) / 60.0
}

/// The delay (minutes) to suggest for a slot already told whose expected
/// line is `expected_queue` against a bound of `max_queue`: the time the
/// point's stations (`per_minute` people a minute, [`people_per_minute`])
/// need to work the line down to the bound, rounded up to a multiple of 5,
/// within [`DELAY_MINUTES`], and never less than `least`, the fewest a
/// further notice may give ([`delay_minutes_past`]). A point that swabs
/// nobody gets the longest delay. `None` when `least` is past the longest
/// delay: no notice can be told.
pub fn suggested_delay(
    expected_queue: f64,
    max_queue: f64,
    per_minute: f64,
    least: u32,
) -> Option<u32> {
    if least > DELAY_MINUTES.1 {
        return None;
    }
    let over = (expected_queue - max_queue).max(0.0);
    let work = if per_minute > 0.0 && per_minute.is_finite() {
        (over / per_minute).ceil()
    } else {
        f64::from(DELAY_MINUTES.1)
    };
    // `as` saturates: a line no stations could ever clear is the longest.
    let work = work.min(f64::from(DELAY_MINUTES.1)) as u32;
    let m = work.max(DELAY_MINUTES.0).max(least);
    Some(m.div_ceil(5).saturating_mul(5).min(DELAY_MINUTES.1))
}

/// A slot of a point as its groups were told to come: its plan's start and
/// end, and the time the latest delay notice gave them (if any).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotWindow {
    pub starts_ms: i64,
    pub ends_ms: i64,
    pub come_down_ms: Option<i64>,
}

impl SlotWindow {
    /// When its groups come down and leave off: the plan's slot, moved by
    /// the delay told.
    pub fn window(&self) -> (i64, i64) {
        let from = self
            .come_down_ms
            .filter(|c| *c > self.starts_ms)
            .unwrap_or(self.starts_ms);
        (
            from,
            delayed_end(self.starts_ms, self.ends_ms, self.come_down_ms),
        )
    }
}

/// Which later slot of the same point a delayed group lands in: the slot
/// starting at `starts_ms`, told to come down at `come_down_ms`, and among
/// `slots` (the point's slots, as [`SlotWindow`]s) the earliest one after it
/// whose window (moved by its own notice) holds that time; its groups were
/// or will be called then, and the two queue together. `None`: the new
/// time lands in no later slot (before the next, or after the point's last).
pub fn delay_lands_in(slots: &[SlotWindow], starts_ms: i64, come_down_ms: i64) -> Option<usize> {
    slots
        .iter()
        .enumerate()
        .filter(|(_, s)| s.starts_ms > starts_ms)
        .filter(|(_, s)| {
            let (from, to) = s.window();
            from <= come_down_ms && come_down_ms < to
        })
        .min_by_key(|(_, s)| s.starts_ms)
        .map(|(i, _)| i)
}

/// The message telling the groups of a call already told (pushed, or begun)
/// to come down later: the line at the point is long. Names the slot's
/// buildings and units as [`calldown_text`] does, the delay and the new time
/// to come down (the slot's start plus `minutes`).
pub fn delay_text(round: &str, point: &str, slot: &Slot, minutes: u32, told_ms: i64) -> String {
    let new_ms = delayed_come_down(slot.starts_ms, told_ms, minutes);
    let named: Vec<String> = slot
        .calls
        .iter()
        .map(|c| {
            let units: Vec<String> = c.units.iter().map(|u| format!("{}单元", u.name)).collect();
            format!("{} {}", c.building, units.join("、"))
        })
        .collect();
    format!(
        "【延迟下楼】{round}\n采样点：{point}\n时段：{}–{}\n{}：采样点排队较长，请推迟约 {minutes} 分钟（{} 后）下楼，避免聚集久等；已在排队的居民请保持一米间距。未轮到的楼栋请在家等候通知。",
        hhmm(slot.starts_ms),
        hhmm(slot.ends_ms),
        if named.is_empty() {
            "本时段叫号的居民".to_string()
        } else {
            named.join("；")
        },
        hhmm(new_ms),
    )
}

/// A stored plan's calls as they stand under the control in force now: a
/// call whose building or unit has since been sealed or put under temporary
/// control is dropped (its people are on the door-to-door list), and a unit
/// call counts only the households still free to come down, never more than
/// it was planned with. Units no longer among `buildings` drop out. So do
/// those under control (管控区) whose compound has no point among `points`:
/// they are sampled at the door.
pub fn calls_under_control_now(
    buildings: &[Building],
    points: &[Point],
    calls: &[Call],
) -> Vec<Call> {
    let callable = split(buildings, points).callable;
    let mut free: BTreeMap<i64, u32> = BTreeMap::new();
    for (b, units) in buildings.iter().zip(&callable) {
        for (ui, n) in units {
            if let Some(u) = b.units.get(*ui) {
                free.insert(u.id, *n);
            }
        }
    }
    calls
        .iter()
        .filter_map(|c| {
            let people = c.people.min(*free.get(&c.unit_id)?);
            (people > 0).then(|| Call {
                people,
                ..c.clone()
            })
        })
        .collect()
}

/// Buildings with at least one unit among `calls`.
pub fn called_buildings(calls: &[Call]) -> BTreeSet<i64> {
    calls.iter().map(|c| c.building_id).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    const T0: i64 = 1_648_000_000_000;

    /// A compound of `n` buildings in rows, 2 units × 12 households × 3 people.
    fn compound(n: usize, compound: i64, x0: f64) -> Vec<Building> {
        (0..n)
            .map(|i| Building {
                id: compound * 1000 + i as i64,
                name: format!("{}号楼", i + 1),
                compound,
                community: None,
                order: (compound * 1000) as u32 + i as u32,
                pos: Some(Pos {
                    x_m: x0 + (i % 6) as f64 * 35.0,
                    y_m: (i / 6) as f64 * 30.0,
                }),
                control: None,
                pinned_point: None,
                units: (0..2)
                    .map(|u| Unit {
                        id: (compound * 1000 + i as i64) * 10 + u,
                        name: (u + 1).to_string(),
                        control: None,
                        households: (0..12)
                            .map(|h| Household {
                                id: ((compound * 1000 + i as i64) * 10 + u) * 100 + h,
                                room: format!("{}{:02}", h / 2 + 1, h % 2 + 1),
                                people: 3,
                                control: None,
                            })
                            .collect(),
                    })
                    .collect(),
            })
            .collect()
    }

    fn point(id: i64, compound: Option<i64>, x: f64, y: f64, stations: u32) -> Point {
        Point {
            id,
            name: format!("{id}号采样点"),
            compound,
            community: None,
            pos: Some(Pos { x_m: x, y_m: y }),
            stations,
            rate_per_station_h: 100.0,
            opens_ms: T0,
            closes_ms: T0 + 8 * HOUR_MS,
            backlog: 0,
            booked: Vec::new(),
            announced: Vec::new(),
        }
    }

    fn params(hours: i64) -> Params {
        Params {
            from_ms: T0,
            until_ms: T0 + hours * HOUR_MS,
            slot_ms: 30 * MINUTE_MS,
            max_queue: 30.0,
        }
    }

    #[test]
    fn a_longer_slot_closes_only_frames_overlapping_an_announced_slot() {
        // Announced 00:30–01:00 under 30-minute slots; re-planned with
        // 60-minute ones: 00:00–01:00 overlaps it, 01:00–02:00 does not.
        let bs = compound(6, 1, 0.0);
        let announced = (T0 + 30 * MINUTE_MS, T0 + 60 * MINUTE_MS);
        let ps = vec![Point {
            announced: vec![announced],
            ..point(1, Some(1), 0.0, 0.0, 4)
        }];
        let prm = Params {
            slot_ms: 60 * MINUTE_MS,
            ..params(4)
        };
        let plan = plan(&bs, &ps, &prm).unwrap();
        let starts: BTreeSet<i64> = plan.calls().iter().map(|c| c.starts_ms).collect();
        assert!(!starts.contains(&T0), "{starts:?}");
        assert!(starts.contains(&(T0 + HOUR_MS)), "{starts:?}");
    }

    fn at_one_point(plan: &Plan) -> BTreeMap<i64, i64> {
        let mut at = BTreeMap::new();
        for c in plan.calls() {
            let prev = at.insert(c.building_id, c.point_id);
            assert!(
                prev.is_none() || prev == Some(c.point_id),
                "building {} at two points",
                c.building_id
            );
        }
        at
    }

    #[test]
    fn every_building_once_at_a_near_point_inside_the_window() {
        // 33 buildings × 72 people = 2,376 people, 8 points of 2 stations (1,600/h).
        let bs = compound(33, 1, 0.0);
        let ps: Vec<Point> = (0..8)
            .map(|k| {
                point(
                    k + 1,
                    Some(1),
                    (k % 4) as f64 * 60.0,
                    (k / 4) as f64 * 100.0,
                    2,
                )
            })
            .collect();
        let prm = params(4);
        let plan = plan(&bs, &ps, &prm).unwrap();
        assert_eq!(plan.people_called, 33 * 72);
        let at = at_one_point(&plan);
        assert_eq!(at.len(), 33);
        // Every unit called exactly once.
        let mut units: Vec<i64> = plan.calls().iter().map(|c| c.unit_id).collect();
        units.sort();
        units.dedup();
        assert_eq!(units.len(), 66);
        for p in &plan.points {
            assert!(p.max_expected_queue <= prm.max_queue, "{p:?}");
            if let Some(f) = p.finish_ms {
                assert!(f <= prm.until_ms);
            }
            for s in &p.slots {
                assert!(s.starts_ms >= prm.from_ms && s.ends_ms <= prm.until_ms);
            }
        }
        // Near: mean walk to the assigned point below the mean to any point.
        let mut assigned = 0.0;
        let mut any = 0.0;
        for b in &bs {
            let p = ps.iter().find(|p| p.id == at[&b.id]).unwrap();
            assigned += b.pos.unwrap().distance(p.pos.unwrap());
            any += ps
                .iter()
                .map(|p| b.pos.unwrap().distance(p.pos.unwrap()))
                .sum::<f64>()
                / ps.len() as f64;
        }
        assert!(
            assigned < any * 0.6,
            "assigned {assigned:.0} vs any {any:.0}"
        );
    }

    #[test]
    fn calls_planned_before_a_seal_are_not_called_down_after_it() {
        let mut bs = compound(3, 1, 0.0);
        let ps = vec![point(1, Some(1), 0.0, 0.0, 2)];
        let calls = plan(&bs, &ps, &params(8)).unwrap().calls();
        assert_eq!(
            calls_under_control_now(&bs, &ps, &calls),
            calls,
            "nothing changed"
        );
        // Later: building 0 sealed, one household of building 1 under temporary control.
        bs[0].control = Some(ControlStatus::Sealed);
        bs[1].units[0].households[0].control = Some(ControlStatus::Temporary);
        bs[2].units[1].control = Some(ControlStatus::Precaution);
        let now = calls_under_control_now(&bs, &ps, &calls);
        assert!(now.iter().all(|c| c.building_id != bs[0].id));
        let people = |cs: &[Call], unit: i64| -> u32 {
            cs.iter()
                .filter(|c| c.unit_id == unit)
                .map(|c| c.people)
                .sum()
        };
        let u = bs[1].units[0].id;
        assert_eq!(people(&now, u), people(&calls, u) - 3);
        // Precaution still comes down.
        let u = bs[2].units[1].id;
        assert_eq!(people(&now, u), people(&calls, u));
        assert_eq!(
            now.len(),
            calls.iter().filter(|c| c.building_id != bs[0].id).count()
        );
    }

    #[test]
    fn sealed_and_temporary_go_door_to_door_precaution_is_called() {
        let mut bs = compound(6, 1, 0.0);
        bs[0].control = Some(ControlStatus::Sealed);
        bs[1].units[1].control = Some(ControlStatus::Temporary);
        bs[2].units[0].households[3].control = Some(ControlStatus::Temporary);
        bs[3].control = Some(ControlStatus::Precaution);
        bs[4].control = Some(ControlStatus::Controlled);
        let ps = vec![point(1, Some(1), 50.0, 20.0, 2)];
        let plan = plan(&bs, &ps, &params(8)).unwrap();
        let called = called_buildings(&plan.calls());
        assert!(!called.contains(&bs[0].id));
        for b in &bs[1..] {
            assert!(called.contains(&b.id));
        }
        assert!(!plan.calls().iter().any(|c| c.unit_id == bs[1].units[1].id));
        assert_eq!(plan.door_to_door.len(), 3);
        assert_eq!(plan.door_to_door[0].people, 72);
        assert_eq!(plan.door_to_door[0].status, ControlStatus::Sealed);
        assert_eq!(plan.door_to_door[1].unit_id, Some(bs[1].units[1].id));
        assert_eq!(plan.door_to_door[2].room.as_deref(), Some("202"));
        assert_eq!(plan.people_called, 5 * 72 - 36 - 3);
        let unit2 = plan
            .calls()
            .into_iter()
            .find(|c| c.unit_id == bs[2].units[0].id)
            .unwrap();
        assert_eq!(unit2.people, 33);
    }

    #[test]
    fn a_point_inside_a_compound_serves_only_that_compound() {
        let mut bs = compound(4, 1, 0.0);
        bs.extend(compound(4, 2, 2_000.0));
        // Point 1 inside compound 1 sits right next to compound 2's buildings.
        let ps = vec![
            point(1, Some(1), 2_000.0, 0.0, 2),
            point(2, None, 0.0, 500.0, 2),
        ];
        let plan = plan(&bs, &ps, &params(8)).unwrap();
        let at = at_one_point(&plan);
        for b in &bs[4..] {
            assert_eq!(at[&b.id], 2, "compound 2 cannot enter compound 1");
        }
        // Positions known: metres, as far as they are.
        for a in plan.points.iter().flat_map(|p| &p.buildings) {
            let d = a.distance_m.unwrap();
            assert!((0.0..3_000.0).contains(&d), "{d}");
        }
        // Without any outside point compound 2 has nowhere to go.
        let err = super::plan(&bs, &ps[..1], &params(8)).unwrap_err();
        assert!(matches!(err, PlanError::NoPointFor { .. }), "{err}");
    }

    #[test]
    fn a_point_outside_compounds_serves_its_own_community_first() {
        // Two communities of one compound each; their outside points have no
        // position, and the street order would pair them crosswise.
        let mut bs = compound(4, 1, 0.0);
        bs.extend(compound(4, 2, 2_000.0));
        for b in &mut bs {
            b.pos = None;
            b.community = Some(if b.compound == 1 { 20 } else { 10 });
        }
        let mut ps = vec![point(1, None, 0.0, 0.0, 2), point(2, None, 0.0, 0.0, 2)];
        for (p, c) in ps.iter_mut().zip([10, 20]) {
            p.pos = None;
            p.community = Some(c);
        }
        let plan = plan(&bs, &ps, &params(8)).unwrap();
        // No positions: no distance to show (not the planner's preferences).
        assert!(plan
            .points
            .iter()
            .flat_map(|p| &p.buildings)
            .all(|a| a.distance_m.is_none()));
        let at = at_one_point(&plan);
        for b in &bs {
            let want = if b.community == Some(10) { 1 } else { 2 };
            assert_eq!(
                at[&b.id], want,
                "building {} of community {:?}",
                b.id, b.community
            );
        }
        // A community without a point of its own is still served.
        let plan = super::plan(&bs, &ps[..1], &params(8)).unwrap();
        assert_eq!(at_one_point(&plan).len(), bs.len());
    }

    /// People, people not placed and the remedy of a window too short.
    fn too_short(err: &PlanError) -> (u32, u32, &Remedy) {
        match err {
            PlanError::WindowTooShort {
                people,
                unplaced_people,
                remedy,
                ..
            } => (*people, *unplaced_people, &**remedy),
            _ => panic!("{err}"),
        }
    }

    #[test]
    fn a_refusal_names_the_points_short_of_room_and_adds_stations_there() {
        // Compound 1: 720 people at one point of 2 stations; compound 2: 144
        // at its own. Two hours: only the first point is short.
        let mut bs = compound(10, 1, 0.0);
        bs.extend(compound(2, 2, 2_000.0));
        let ps = vec![
            point(1, Some(1), 0.0, 0.0, 2),
            point(2, Some(2), 2_000.0, 0.0, 2),
        ];
        let err = plan(&bs, &ps, &params(2)).unwrap_err();
        let (_, unplaced, remedy) = too_short(&err);
        assert_eq!(remedy.short.len(), 1, "{err}");
        assert_eq!(remedy.short[0].point_id, 1);
        assert_eq!(remedy.short[0].people, unplaced);
        let k = remedy.more_stations_at_short.unwrap();
        assert_eq!(remedy.more_stations_per_point, None, "{err}");
        let msg = err.to_string();
        assert!(
            msg.contains(&format!("1号采样点 {unplaced} 人"))
                && msg.contains(&format!("1号采样点各增加 {k} 个采样台"))
                && msg.contains(&format!("{k} more station(s) at 1号采样点")),
            "{msg}"
        );
        assert!(!msg.contains("每个采样点"), "{msg}");
        // The advice works: k more there, and nowhere else.
        let mut more = ps.clone();
        more[0].stations += k;
        assert!(plan(&bs, &more, &params(2)).is_ok());
        more[0].stations -= 1;
        assert!(k == 1 || plan(&bs, &more, &params(2)).is_err());
    }

    #[test]
    fn a_refusal_suggests_a_longer_queue_or_other_slots_where_that_fits() {
        // 288 people in units of 36 at 200 an hour for two hours, a bound of
        // 10: whole units wait for their own slot. A bound of 13, or hour
        // slots, fits them.
        let bs = compound(4, 1, 0.0);
        let ps = vec![point(1, Some(1), 0.0, 0.0, 2)];
        let prm = Params {
            max_queue: 10.0,
            ..params(2)
        };
        let err = plan(&bs, &ps, &prm).unwrap_err();
        let (_, _, remedy) = too_short(&err);
        let q = remedy.max_queue.unwrap();
        let m = remedy.slot_minutes.unwrap();
        assert_eq!((q, m), (13, 60), "{err}");
        let msg = err.to_string();
        assert!(
            msg.contains("排队上限放宽到 13 人") && msg.contains("每个时段改为 60 分钟"),
            "{msg}"
        );
        assert!(msg.contains("a queue bound of 13") && msg.contains("slots of 60 minutes"));
        let wider = Params {
            max_queue: f64::from(q),
            ..prm
        };
        assert!(plan(&bs, &ps, &wider).is_ok());
        let hours = Params {
            slot_ms: i64::from(m) * MINUTE_MS,
            ..prm
        };
        assert!(plan(&bs, &ps, &hours).is_ok());
    }

    #[test]
    fn too_short_a_window_says_what_would_meet_it() {
        let bs = compound(33, 1, 0.0);
        let ps: Vec<Point> = (0..2)
            .map(|k| point(k + 1, Some(1), k as f64 * 100.0, 0.0, 2))
            .collect();
        // 2,376 people, 400/h of stations: far more than 2 hours.
        let err = plan(&bs, &ps, &params(2)).unwrap_err();
        let (people, unplaced_people, remedy) = too_short(&err);
        assert_eq!(people, 2376);
        assert!(unplaced_people > 0);
        let k = remedy.more_stations_per_point.unwrap();
        // The remedy really works, and one station fewer does not.
        let more = |k: u32| -> Vec<Point> {
            ps.iter()
                .map(|p| Point {
                    stations: p.stations + k,
                    ..p.clone()
                })
                .collect()
        };
        assert!(plan(&bs, &more(k), &params(2)).is_ok());
        assert!(k == 1 || plan(&bs, &more(k - 1), &params(2)).is_err());
        let m = remedy.more_minutes.unwrap();
        let longer = |m: i64| -> (Vec<Point>, Params) {
            let ps = ps
                .iter()
                .map(|p| Point {
                    closes_ms: p.closes_ms + m * MINUTE_MS,
                    ..p.clone()
                })
                .collect();
            (
                ps,
                Params {
                    until_ms: T0 + 2 * HOUR_MS + m * MINUTE_MS,
                    ..params(2)
                },
            )
        };
        let (ps2, prm2) = longer(m);
        assert!(plan(&bs, &ps2, &prm2).is_ok());
        let (ps3, prm3) = longer(m - 30);
        assert!(plan(&bs, &ps3, &prm3).is_err());
        assert!(err.to_string().contains("more station"), "{err}");
        assert!(
            err.to_string().contains(&format!("{m} minutes longer")),
            "{err}"
        );
    }

    #[test]
    fn missing_positions_fall_back_to_compound_and_order() {
        let mut bs = compound(10, 1, 0.0);
        for b in &mut bs {
            b.pos = None;
        }
        let mut ps = vec![
            point(1, Some(1), 0.0, 0.0, 2),
            point(2, Some(1), 0.0, 0.0, 2),
        ];
        for p in &mut ps {
            p.pos = None;
        }
        let plan = plan(&bs, &ps, &params(8)).unwrap();
        let at = at_one_point(&plan);
        // The first half of the buildings at the first point, the rest at the second.
        assert_eq!(at.values().filter(|&&p| p == 1).count(), 5);
        assert_eq!(at[&bs[0].id], 1);
        assert_eq!(at[&bs[9].id], 2);
    }

    #[test]
    fn slots_keep_the_expected_queue_bounded_and_plan_beats_all_at_once() {
        let bs = compound(12, 1, 0.0);
        let ps = vec![
            point(1, Some(1), 50.0, 20.0, 2),
            point(2, Some(1), 150.0, 20.0, 2),
        ];
        let prm = params(8);
        let plan = plan(&bs, &ps, &prm).unwrap();
        for p in &plan.points {
            assert!(p.slots.len() > 1);
            for s in &p.slots {
                assert!(s.expected_queue <= prm.max_queue);
                assert!(f64::from(s.arrivals) <= s.capacity * 1.2, "{s:?}");
            }
        }
        let cmp = compare(&ps, &plan.calls(), &prm, 7);
        assert_eq!(cmp.plan.overall.people, 864);
        assert_eq!(cmp.all_at_once.overall.people, 864);
        assert!(
            cmp.plan.overall.max_queue < cmp.all_at_once.overall.max_queue / 3,
            "{cmp:?}"
        );
        assert!(cmp.plan.overall.p95_wait_min < cmp.all_at_once.overall.p95_wait_min);
        // Deterministic for a seed.
        assert_eq!(cmp, compare(&ps, &plan.calls(), &prm, 7));
        assert_ne!(cmp, compare(&ps, &plan.calls(), &prm, 8));
    }

    #[test]
    fn simulation_queue_matches_queueing_theory() {
        // One slot of 10 hours with 2 stations at 100/h and 1,600 people: ρ = 0.8.
        let p = Point {
            closes_ms: T0 + 20 * HOUR_MS,
            ..point(1, None, 0.0, 0.0, 2)
        };
        let prm = Params {
            from_ms: T0,
            until_ms: T0 + 20 * HOUR_MS,
            slot_ms: 10 * HOUR_MS,
            max_queue: 1e9,
        };
        let calls = vec![Call {
            point_id: 1,
            starts_ms: T0,
            ends_ms: T0 + 10 * HOUR_MS,
            building_id: 1,
            unit_id: 1,
            people: 1600,
        }];
        let sim = simulate(std::slice::from_ref(&p), &calls, &prm, Calling::Slots, 3);
        // M/E2/2 waits are well under the M/M/2 bound (Lq ≈ 2.84 → Wq ≈ 1.07 min), and positive.
        let wq = erlang_c_queue(2, 1.6) / 160.0 * 60.0;
        assert!((wq - 1.066).abs() < 0.01, "{wq}");
        assert!(
            sim.overall.mean_wait_min > 0.1 && sim.overall.mean_wait_min < wq * 1.3,
            "{sim:?}"
        );
        let plan = evaluate(&[], &[p], &calls, &prm);
        assert!(plan.points[0].max_expected_queue >= 2.8);
    }

    #[test]
    fn erlang_c_known_values() {
        // M/M/1: Lq = ρ²/(1-ρ).
        assert!((erlang_c_queue(1, 0.5) - 0.5).abs() < 1e-9);
        // M/M/2 at a = 1: P(wait) = 1/3, Lq = 1/3.
        assert!((erlang_c_queue(2, 1.0) - 1.0 / 3.0).abs() < 1e-9);
        assert!(erlang_c_queue(2, 2.0).is_infinite());
        assert_eq!(erlang_c_queue(3, 0.0), 0.0);
    }

    #[test]
    fn replan_after_a_slow_point_moves_the_rest() {
        let bs = compound(16, 1, 0.0);
        let ps = vec![
            point(1, Some(1), 0.0, 0.0, 2),
            point(2, Some(1), 175.0, 30.0, 2),
        ];
        let prm = params(8);
        let first = plan(&bs, &ps, &prm).unwrap();
        let now = T0 + 45 * MINUTE_MS;
        let cut = next_slot_start(T0, prm.slot_ms, now);
        assert_eq!(cut, T0 + 60 * MINUTE_MS);
        let kept: Vec<Call> = first
            .calls()
            .into_iter()
            .filter(|c| c.starts_ms < cut)
            .collect();
        // Point 1 measured at 30 people per station-hour with people waiting.
        let rest = remaining(&bs, &kept);
        let mut slow = ps.clone();
        slow[0].rate_per_station_h = effective_rate(
            100.0,
            measured_rate(&Measured {
                scans: 45,
                span_ms: 45 * MINUTE_MS,
                stations: 2,
            }),
            true,
        );
        assert_eq!(slow[0].rate_per_station_h, 30.0);
        slow[0].backlog = 60;
        let again = plan(
            &rest,
            &slow,
            &Params {
                from_ms: cut,
                ..prm
            },
        )
        .unwrap();
        let before_1: u32 = first
            .calls()
            .iter()
            .filter(|c| c.point_id == 1 && c.starts_ms >= cut)
            .map(|c| c.people)
            .sum();
        let after_1: u32 = again
            .calls()
            .iter()
            .filter(|c| c.point_id == 1)
            .map(|c| c.people)
            .sum();
        assert!(after_1 < before_1, "{after_1} !< {before_1}");
        // Partly called buildings stayed where they were called.
        for c in again.calls() {
            if let Some(k) = kept.iter().find(|k| k.building_id == c.building_id) {
                assert_eq!(k.point_id, c.point_id);
            }
            assert!(c.starts_ms >= cut);
        }
        // Everyone not yet called is called once.
        let n_rest: u32 = rest
            .iter()
            .flat_map(|b| &b.units)
            .flat_map(|u| &u.households)
            .map(|h| h.people)
            .sum();
        assert_eq!(again.people_called, n_rest);
    }

    /// A re-plan at `cut` (an hour in) after 1号楼's unit 1 was called at
    /// point 1 in the first slot, with point 1 closing at `closes` (1 station)
    /// and point 2 open all day.
    fn replan_pinned(
        closes: i64,
    ) -> (
        Vec<Building>,
        Vec<Point>,
        Vec<Call>,
        Result<Plan, PlanError>,
    ) {
        let bs = compound(4, 1, 0.0);
        let mut ps = vec![
            point(1, Some(1), 0.0, 0.0, 1),
            point(2, Some(1), 175.0, 30.0, 4),
        ];
        ps[0].closes_ms = closes;
        let kept = vec![Call {
            point_id: 1,
            starts_ms: T0,
            ends_ms: T0 + 30 * MINUTE_MS,
            building_id: bs[0].id,
            unit_id: bs[0].units[0].id,
            people: 36,
        }];
        let rest = remaining(&bs, &kept);
        assert_eq!(rest[0].pinned_point, Some(1));
        let cut = T0 + HOUR_MS;
        let again = plan(
            &rest,
            &ps,
            &Params {
                from_ms: cut,
                ..params(8)
            },
        );
        (bs, ps, kept, again)
    }

    #[test]
    fn a_building_pinned_at_a_closed_point_goes_on_to_an_open_one_and_says_so() {
        // Point 1 closed for the day at the cut.
        let (bs, ps, kept, again) = replan_pinned(T0 + HOUR_MS);
        let again = again.expect("the pin is released, not refused");
        let unit2 = bs[0].units[1].id;
        let c = again
            .calls()
            .into_iter()
            .find(|c| c.unit_id == unit2)
            .unwrap();
        assert_eq!(c.point_id, 2);
        assert_eq!(again.moved.len(), 1, "{:?}", again.moved);
        let m = &again.moved[0];
        assert_eq!(
            (m.building_id, m.from_point_id, m.to_point_id),
            (bs[0].id, 1, 2)
        );
        assert_eq!(m.unit_ids, vec![unit2]);
        let closed = hhmm(T0 + HOUR_MS);
        assert_eq!(
            m.text,
            format!(
                "1号楼 2单元原在「1号采样点」采样，该点 {closed} 已关闭，改到「2号采样点」 / 1号楼 units 2: began at 「1号采样点」, which closed at {closed}; moved to 「2号采样点」"
            )
        );
        // Read back from the stored calls (no pins): the same warning.
        let mut stored = kept.clone();
        stored.extend(again.calls());
        let back = evaluate(&bs, &ps, &stored, &params(8));
        assert_eq!(back.moved, again.moved);
        // The call-down tells the rest of the building where to go now.
        let slot = again.points[1]
            .slots
            .iter()
            .find(|s| s.calls.iter().any(|c| c.building_id == bs[0].id))
            .unwrap();
        let text = calldown_text("第1轮", "2号采样点", slot);
        assert!(
            text.contains(
                "· 1号楼 2单元（约36人；本次请到2号采样点，不是本楼先前去的「1号采样点」）"
            ),
            "{text}"
        );
    }

    #[test]
    fn a_pinned_point_closing_too_soon_for_the_rest_lets_them_go() {
        // Open ten minutes past the cut at one station: about 16 people, not 36.
        let (_, _, _, again) = replan_pinned(T0 + HOUR_MS + 10 * MINUTE_MS);
        let again = again.expect("the pin is released, not refused");
        assert_eq!(again.moved.len(), 1, "{:?}", again.moved);
        assert!(
            again.moved[0]
                .text
                .contains("关闭，关闭前采不完，改到「2号采样点」")
                && again.moved[0].text.contains("before it could take them"),
            "{}",
            again.moved[0].text
        );
    }

    #[test]
    fn a_pinned_point_that_can_still_take_them_keeps_them() {
        let (bs, _, _, again) = replan_pinned(T0 + 8 * HOUR_MS);
        let again = again.unwrap();
        let unit2 = bs[0].units[1].id;
        let c = again
            .calls()
            .into_iter()
            .find(|c| c.unit_id == unit2)
            .unwrap();
        assert_eq!(c.point_id, 1);
        assert!(again.moved.is_empty(), "{:?}", again.moved);
    }

    #[test]
    fn a_call_to_another_communitys_or_a_far_point_is_flagged_and_said() {
        // Compound 1 (community 1) has no room at its own point for its
        // last buildings; community 2's point 1 km away takes them.
        let mut bs = compound(6, 1, 0.0);
        for b in &mut bs {
            b.community = Some(1);
        }
        let mut own = point(1, Some(1), 0.0, 0.0, 1);
        own.community = Some(1);
        let mut other = point(2, None, 1_000.0, 0.0, 4);
        other.community = Some(2);
        let plan = super::plan(&bs, &[own, other], &params(2)).unwrap();
        let at = |pid: i64| plan.points.iter().find(|p| p.point_id == pid).unwrap();
        assert!(at(1)
            .slots
            .iter()
            .flat_map(|s| &s.calls)
            .all(|c| c.away.is_none()));
        assert!(at(1).buildings.iter().all(|a| a.away.is_none()));
        let away: Vec<&SlotCall> = at(2).slots.iter().flat_map(|s| &s.calls).collect();
        assert!(!away.is_empty(), "{plan:?}");
        for c in &away {
            let a = c.away.unwrap();
            assert!(a.other_community && a.distance_m.unwrap() > 800.0, "{a:?}");
        }
        assert!(at(2).buildings.iter().all(|a| a.away.is_some()));
        let slot = at(2).slots.iter().find(|s| !s.calls.is_empty()).unwrap();
        let text = calldown_text("第1轮", "2号采样点", slot);
        assert!(
            text.contains("本次请到2号采样点（其他社区的采样点，约 ")
                && text.contains("米），不是平常的采样点"),
            "{text}"
        );
        // Same community, but further than FAR_CALL_M: flagged as far.
        let a = Away::of(bs.first(), &point(3, None, 800.0, 0.0, 1), Some(800.0)).unwrap();
        assert!(!a.other_community && a.zh().contains("较远"));
        assert_eq!(
            Away::of(bs.first(), &point(3, None, 80.0, 0.0, 1), Some(80.0)),
            None
        );
    }

    #[test]
    fn station_pace_is_each_station_over_its_own_span() {
        let st = |scans, first_min: i64, last_min: i64| StationScans {
            scans,
            first_ms: first_min * MINUTE_MS,
            last_ms: last_min * MINUTE_MS,
        };
        // A point 50% faster than configured (150 an hour per station), one
        // of whose two phones was replaced after a scan: the re-enrolled
        // phone scans as a new station with one scan, and the replacement
        // carries on. Per station that scanned, the hour said 74.
        let swapped = [st(1, 0, 0), st(46, 0, 18), st(91, 0, 36), st(1, 20, 20)];
        let pace = station_pace(&swapped).unwrap();
        assert!((pace - 150.0).abs() < 1.0, "{pace}");
        // Two stations at 46 an hour each: 46, however many ids scanned.
        let two = [st(24, 10, 40), st(24, 20, 50), st(1, 55, 55)];
        let pace = station_pace(&two).unwrap();
        assert!((pace - 46.0).abs() < 0.5, "{pace}");
        // A station staffed for one scan and then left idle does not dilute it.
        let idle = [st(31, 0, 30), st(1, 3, 3)];
        assert_eq!(station_pace(&idle), Some(60.0));
        // Too little evidence.
        assert_eq!(station_pace(&[st(5, 0, 20)]), None);
        assert_eq!(station_pace(&[st(30, 0, 5)]), None);
        assert_eq!(station_pace(&[st(1, 0, 0), st(1, 5, 5)]), None);
    }

    #[test]
    fn measured_rate_needs_evidence_and_idle_points_are_not_slowed() {
        assert_eq!(
            measured_rate(&Measured {
                scans: 5,
                span_ms: HOUR_MS,
                stations: 1
            }),
            None
        );
        assert_eq!(
            measured_rate(&Measured {
                scans: 50,
                span_ms: 5 * MINUTE_MS,
                stations: 1
            }),
            None
        );
        assert_eq!(
            measured_rate(&Measured {
                scans: 120,
                span_ms: HOUR_MS,
                stations: 2
            }),
            Some(60.0)
        );
        assert_eq!(effective_rate(100.0, Some(60.0), false), 100.0);
        assert_eq!(effective_rate(100.0, Some(60.0), true), 60.0);
        assert_eq!(effective_rate(100.0, Some(140.0), false), 140.0);
        assert_eq!(effective_rate(100.0, None, true), 100.0);
    }

    #[test]
    fn slot_grid_and_call_down_text() {
        assert_eq!(next_slot_start(T0, 30 * MINUTE_MS, T0 - 5), T0);
        assert_eq!(
            next_slot_start(T0, 30 * MINUTE_MS, T0 + 1),
            T0 + 30 * MINUTE_MS
        );
        assert_eq!(
            next_slot_start(T0, 30 * MINUTE_MS, T0 + 30 * MINUTE_MS),
            T0 + 30 * MINUTE_MS
        );
        // 2022-03-23 01:46:40 UTC = 09:46 China time.
        assert_eq!(hhmm(T0), "09:46");
        let bs = compound(3, 1, 0.0);
        let plan = plan(&bs, &[point(1, Some(1), 0.0, 0.0, 2)], &params(8)).unwrap();
        let slot = &plan.points[0].slots[0];
        let text = calldown_text("全员核酸第1轮", "1号采样点", slot);
        assert!(text.contains("时段：09:46–10:16"), "{text}");
        assert!(text.contains("· 1号楼 1单元"), "{text}");
        assert!(text.contains("人）"), "{text}");
    }

    #[test]
    fn a_further_delay_must_come_after_the_time_already_told() {
        let start = 100 * 60 * MINUTE_MS;
        // Nothing told yet: the least delay there is.
        assert_eq!(
            delay_minutes_past(start, start - MINUTE_MS, 0),
            DELAY_MINUTES.0
        );
        // Told "after start + 20": 21 minutes at least, from the start.
        let told = start + 20 * MINUTE_MS;
        assert_eq!(delay_minutes_past(start, start - MINUTE_MS, told), 21);
        assert!(delayed_come_down(start, start - MINUTE_MS, 21) > told);
        assert!(delayed_come_down(start, start - MINUTE_MS, 20) <= told);
        // Ten minutes into the slot the count starts from now: 11.
        assert_eq!(delay_minutes_past(start, start + 10 * MINUTE_MS, told), 11);
        // A delayed slot ends as much later as it was moved.
        let end = start + 30 * MINUTE_MS;
        assert_eq!(delayed_end(start, end, None), end);
        assert_eq!(delayed_end(start, end, Some(told)), end + 20 * MINUTE_MS);
    }

    #[test]
    fn the_suggested_delay_is_the_time_to_work_the_line_down_to_the_bound() {
        // Two stations at 60 an hour each, measured 45: 1.5 a minute.
        assert_eq!(people_per_minute(2, 60.0, Some(45.0)), 1.5);
        assert_eq!(people_per_minute(2, 60.0, None), 2.0);
        // 20 over the bound at 2 a minute: 10 minutes.
        assert_eq!(suggested_delay(60.0, 40.0, 2.0, 5), Some(10));
        // 21 over: 10.5, rounded up to 15.
        assert_eq!(suggested_delay(61.0, 40.0, 2.0, 5), Some(15));
        // Just over: at least 5.
        assert_eq!(suggested_delay(40.5, 40.0, 2.0, 5), Some(5));
        assert_eq!(suggested_delay(30.0, 40.0, 2.0, 5), Some(5));
        // A later notice must give a later time: never less than the least,
        // which is rounded up too.
        assert_eq!(suggested_delay(60.0, 40.0, 2.0, 21), Some(25));
        assert_eq!(suggested_delay(60.0, 40.0, 2.0, 30), Some(30));
        // A line hours long: the longest delay there is.
        assert_eq!(suggested_delay(5_000.0, 40.0, 1.0, 5), Some(240));
        // A point that swabs nobody: the longest too.
        assert_eq!(suggested_delay(60.0, 40.0, 0.0, 5), Some(240));
        assert_eq!(suggested_delay(60.0, 40.0, f64::NAN, 5), Some(240));
        // The least is within the bounds, up to the longest delay.
        assert_eq!(suggested_delay(60.0, 40.0, 2.0, 238), Some(240));
        assert_eq!(suggested_delay(60.0, 40.0, 2.0, 240), Some(240));
        // Past it, no notice can be told.
        assert_eq!(suggested_delay(60.0, 40.0, 2.0, 241), None);
        // Always a multiple of 5 within DELAY_MINUTES.
        for q in 0..400 {
            for least in [0, 5, 7, 33, 120] {
                let m = suggested_delay(f64::from(q), 40.0, 1.7, least).unwrap();
                assert_eq!(m % 5, 0);
                assert!((DELAY_MINUTES.0..=DELAY_MINUTES.1).contains(&m));
                assert!(m >= least);
            }
        }
    }

    #[test]
    fn a_delay_that_lands_in_the_next_slot_of_the_point_is_found() {
        let s = |start: i64, cd: Option<i64>| SlotWindow {
            starts_ms: start * MINUTE_MS,
            ends_ms: (start + 30) * MINUTE_MS,
            come_down_ms: cd.map(|c| c * MINUTE_MS),
        };
        // 08:00, 08:30, 09:00 (minutes from some midnight).
        let slots = [s(480, None), s(510, None), s(540, None)];
        let at = |m: i64| m * MINUTE_MS;
        // 08:00 put off 20 minutes: 08:20, before the next slot.
        assert_eq!(delay_lands_in(&slots, at(480), at(500)), None);
        // 08:30 sharp and 08:45: in the next slot.
        assert_eq!(delay_lands_in(&slots, at(480), at(510)), Some(1));
        assert_eq!(delay_lands_in(&slots, at(480), at(525)), Some(1));
        // 09:10: in the one after.
        assert_eq!(delay_lands_in(&slots, at(480), at(550)), Some(2));
        // Past the point's last slot: nobody else is called then.
        assert_eq!(delay_lands_in(&slots, at(480), at(570)), None);
        // The slot itself, or an earlier one, is not "the next".
        assert_eq!(delay_lands_in(&slots, at(510), at(500)), None);
        // The next slot's groups were told to come 20 minutes later
        // (08:50–09:20): 08:40 is before them, 09:15 is among them.
        let moved = [s(480, None), s(510, Some(530)), s(540, None)];
        assert_eq!(delay_lands_in(&moved, at(480), at(520)), None);
        assert_eq!(delay_lands_in(&moved, at(480), at(535)), Some(1));
        assert_eq!(delay_lands_in(&moved, at(480), at(555)), Some(1));
        // In any order.
        let shuffled = [s(540, None), s(480, None), s(510, None)];
        assert_eq!(delay_lands_in(&shuffled, at(480), at(515)), Some(2));
    }

    #[test]
    fn a_delay_counts_from_the_slot_or_from_when_told_once_it_has_begun() {
        let slot = 21 * 60 * MINUTE_MS;
        // Told before the slot: from its start.
        assert_eq!(
            delayed_come_down(slot, slot - 30 * MINUTE_MS, 20),
            slot + 20 * MINUTE_MS
        );
        // Told half an hour into it: from then, never a time already past.
        assert_eq!(
            delayed_come_down(slot, slot + 30 * MINUTE_MS, 20),
            slot + 50 * MINUTE_MS
        );
        let bs = compound(3, 1, 0.0);
        let plan = plan(&bs, &[point(1, Some(1), 0.0, 0.0, 2)], &params(8)).unwrap();
        let s = &plan.points[0].slots[0];
        let text = delay_text("第1轮", "点", s, 20, s.starts_ms + 30 * MINUTE_MS);
        let then = hhmm(s.starts_ms + 50 * MINUTE_MS);
        assert!(text.contains(&format!("（{then} 后）")), "{text}");
    }

    #[test]
    fn a_delay_names_the_slot_its_units_the_minutes_and_the_new_time() {
        let bs = compound(3, 1, 0.0);
        let plan = plan(&bs, &[point(1, Some(1), 0.0, 0.0, 2)], &params(8)).unwrap();
        let slot = &plan.points[0].slots[0];
        let text = delay_text("全员核酸第1轮", "1号采样点", slot, 20, 0);
        assert!(text.starts_with("【延迟下楼】全员核酸第1轮"), "{text}");
        assert!(text.contains("采样点：1号采样点"), "{text}");
        assert!(text.contains("时段：09:46–10:16"), "{text}");
        assert!(text.contains("1号楼 1单元"), "{text}");
        assert!(text.contains("请推迟约 20 分钟（10:06 后）下楼"), "{text}");
        // Past the hour, and the longest delay, say the clock right.
        let text = delay_text("第1轮", "点", slot, DELAY_MINUTES.1, 0);
        assert!(text.contains("请推迟约 240 分钟（13:46 后）下楼"), "{text}");
        // A slot with no unit left to name still says who.
        let empty = Slot {
            calls: Vec::new(),
            ..slot.clone()
        };
        assert!(delay_text("第1轮", "点", &empty, 5, 0).contains("本时段叫号的居民"));
    }

    #[test]
    fn calls_already_pushed_stay_as_told_and_the_plan_fills_around_them() {
        let bs = compound(12, 1, 0.0);
        let ps = vec![point(1, Some(1), 0.0, 0.0, 2)];
        let first = plan(&bs, &ps, &params(8)).unwrap();
        // The second slot was pushed; then a nearer point is added and the
        // round planned again from the second slot on.
        let calls = first.calls();
        let second = calls
            .iter()
            .map(|c| c.starts_ms)
            .filter(|t| *t > T0)
            .min()
            .unwrap();
        let pushed: Vec<Call> = calls
            .iter()
            .filter(|c| c.starts_ms == second)
            .cloned()
            .collect();
        assert!(!pushed.is_empty());
        let kept: Vec<Call> = calls
            .iter()
            .filter(|c| c.starts_ms <= second)
            .cloned()
            .collect();
        let rest = remaining(&bs, &kept);
        let prm = Params {
            from_ms: second,
            ..params(8)
        };
        let ps2 = vec![
            Point {
                booked: pushed.clone(),
                ..ps[0].clone()
            },
            point(2, Some(1), 100.0, 30.0, 4),
        ];
        let ps2: Vec<Point> = ps2
            .into_iter()
            .map(|p| Point {
                announced: vec![(second, second + prm.slot_ms)],
                ..p
            })
            .collect();
        let again = plan(&rest, &ps2, &prm).unwrap();
        let after = again.calls();
        for c in &pushed {
            assert!(after.contains(c), "pushed call {c:?} moved: {after:?}");
        }
        // Nobody new joins the announced slot, at either point.
        let in_slot: Vec<&Call> = after.iter().filter(|c| c.starts_ms == second).collect();
        assert_eq!(in_slot.len(), pushed.len(), "{in_slot:?}");
        // Nobody else is called into the pushed slot beyond what it serves,
        // and every unit is called once.
        let slot = again.points[0]
            .slots
            .iter()
            .find(|s| s.starts_ms == second)
            .unwrap();
        assert!(f64::from(slot.arrivals) <= slot.capacity + 1e-9, "{slot:?}");
        let mut units: Vec<i64> = after.iter().map(|c| c.unit_id).collect();
        units.extend(
            kept.iter()
                .filter(|c| c.starts_ms < second)
                .map(|c| c.unit_id),
        );
        let n = units.len();
        units.sort();
        units.dedup();
        assert_eq!(units.len(), n);
        assert_eq!(n, bs.len() * 2);
    }

    #[test]
    fn a_household_held_at_home_is_named_in_its_units_call() {
        let mut bs = compound(1, 1, 0.0);
        bs[0].units[0].households[0].control = Some(ControlStatus::Temporary);
        let plan = plan(&bs, &[point(1, Some(1), 0.0, 0.0, 4)], &params(8)).unwrap();
        let slot = &plan.points[0].slots[0];
        assert_eq!(slot.calls[0].units[0].except_rooms, ["101"]);
        assert_eq!(slot.calls[0].units[0].people, 33);
        let text = calldown_text("全员核酸第1轮", "1号采样点", slot);
        assert!(
            text.contains("（约69人；其中1户已另行通知，请留在家中，由医护人员入户采样）"),
            "{text}"
        );
        // The room is not in the group's message (the held households just
        // after an abnormal pool are the pool's).
        assert!(!text.contains("101"), "{text}");
        // Without a household held, the line is as before.
        let free = compound(1, 1, 0.0);
        let p2 = super::plan(&free, &[point(1, Some(1), 0.0, 0.0, 4)], &params(8)).unwrap();
        let t2 = calldown_text("第1轮", "点", &p2.points[0].slots[0]);
        assert!(t2.contains("单元（约") && !t2.contains("另行通知"), "{t2}");
    }

    #[test]
    fn a_refusal_reads_whole_in_each_language() {
        let bs = compound(33, 1, 0.0);
        let ps = vec![point(1, Some(1), 0.0, 0.0, 2)];
        let msg = plan(&bs, &ps, &params(2)).unwrap_err().to_string();
        // One separator: the Chinese half, then the English half, each whole.
        assert_eq!(msg.matches(" / ").count(), 1, "{msg}");
        let (zh, en) = msg.split_once(" / ").unwrap();
        assert!(zh.contains("采样台") && zh.contains("分钟"), "{zh}");
        assert!(!zh.is_ascii() && !zh.contains("station"), "{zh}");
        assert!(
            // Point names are the only Chinese in the English half.
            en.contains("more station")
                && en.contains("minutes longer")
                && en.replace("1号采样点", "").is_ascii(),
            "{en}"
        );
    }

    #[test]
    fn beyond_the_plans_horizon_a_longer_window_is_not_advised() {
        // Points open through a 48-hour round; the plan covers 24 hours and
        // one station cannot call 2,376 people in them.
        let bs = compound(33, 1, 0.0);
        let ps = vec![Point {
            closes_ms: T0 + 48 * HOUR_MS,
            ..point(1, Some(1), 0.0, 0.0, 1)
        }];
        let prm = params(24);
        let msg = plan_until(&bs, &ps, &prm, Some(24))
            .unwrap_err()
            .to_string();
        let (zh, en) = msg.split_once(" / ").unwrap();
        assert!(!zh.contains("分钟") && !en.contains("minutes"), "{msg}");
        assert!(
            zh.contains("采样台") && zh.contains("增加采样点") && zh.contains("24 小时"),
            "{zh}"
        );
        assert!(
            en.contains("more station") && en.contains("24 h at a time"),
            "{en}"
        );
        // Points closing before the horizon may still be kept open longer.
        let short = vec![point(1, Some(1), 0.0, 0.0, 1)];
        let msg = plan_until(&compound(8, 1, 0.0), &short, &prm, Some(24))
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("keep the points open") && msg.contains("minutes longer"),
            "{msg}"
        );
        assert!(!msg.contains("and the window"), "{msg}");
        // Without a horizon, the window's end is a remedy.
        let (zh, en) = remedy_texts(
            &Remedy {
                more_minutes: Some(690),
                ..Remedy::default()
            },
            None,
        );
        assert!(
            zh.contains("690 分钟") && en.contains("and the window 690 minutes"),
            "{zh} {en}"
        );
    }

    #[test]
    fn called_at_once_nobody_queues_before_their_point_opens() {
        let mut ps = vec![point(1, None, 0.0, 0.0, 2), point(2, None, 0.0, 0.0, 2)];
        ps[1].opens_ms = T0 + 2 * HOUR_MS;
        let prm = params(8);
        let calls: Vec<Call> = [(1, T0), (2, T0 + 2 * HOUR_MS)]
            .iter()
            .map(|&(p, s)| Call {
                point_id: p,
                starts_ms: s,
                ends_ms: s + prm.slot_ms,
                building_id: p,
                unit_id: p,
                people: 20,
            })
            .collect();
        let sim = simulate(&ps, &calls, &prm, Calling::AllAtOnce, 7);
        let late = &sim.points[1].stats;
        // 20 people at 2 stations: a few minutes' wait, not the two hours the
        // point was shut.
        assert!(late.mean_wait_min < 15.0, "{late:?}");
    }

    #[test]
    fn a_point_opening_late_gets_no_calls_before_it_opens() {
        let bs = compound(8, 1, 0.0);
        let mut ps = vec![
            point(1, Some(1), 0.0, 0.0, 2),
            point(2, Some(1), 175.0, 30.0, 2),
        ];
        ps[1].opens_ms = T0 + 2 * HOUR_MS + 10 * MINUTE_MS;
        let plan = plan(&bs, &ps, &params(8)).unwrap();
        for c in plan.calls() {
            if c.point_id == 2 {
                assert!(c.starts_ms >= ps[1].opens_ms);
            }
        }
    }

    /// A street of 33 buildings in three compounds and 3,869 people: walk-ups
    /// of 2–4 units × 12 households, and every fifth a high-rise of 30
    /// households a unit (the largest unit 76 people).
    fn street() -> Vec<Building> {
        (0..33)
            .map(|i: i64| {
                let compound = 1 + i / 11;
                let floors = if i % 5 == 0 { 15 } else { 6 };
                Building {
                    id: 1000 + i,
                    name: format!("{}号楼", i % 11 + 1),
                    compound,
                    community: None,
                    order: i as u32,
                    pos: Some(Pos {
                        x_m: (compound - 1) as f64 * 300.0 + (i % 11 % 4) as f64 * 35.0,
                        y_m: (i % 11 / 4) as f64 * 30.0,
                    }),
                    control: None,
                    pinned_point: None,
                    units: (0..2 + i % 3)
                        .map(|u| Unit {
                            id: (1000 + i) * 10 + u,
                            name: (u + 1).to_string(),
                            control: None,
                            households: (0..floors * 2)
                                .map(|h| Household {
                                    id: ((1000 + i) * 10 + u) * 100 + h,
                                    room: format!("{}{:02}", h / 2 + 1, h % 2 + 1),
                                    people: [3, 2, 3, 1, 4, 2, 3, 2][((h + u + i) % 8) as usize],
                                    control: None,
                                })
                                .collect(),
                        })
                        .collect(),
                }
            })
            .collect()
    }

    /// `n` points outside the compounds along the street, open 8 hours, at
    /// the default rate.
    fn street_points(n: i64, stations: u32) -> Vec<Point> {
        (0..n)
            .map(|k| Point {
                rate_per_station_h: DEFAULT_RATE_PER_STATION_H,
                ..point(
                    k + 1,
                    None,
                    (k % 4) as f64 * 220.0,
                    (k / 4) as f64 * 60.0,
                    stations,
                )
            })
            .collect()
    }

    /// Plans the street with a 30-person bound over 8 hours and checks what
    /// the plan promises against its own simulation: no slot called beyond
    /// what its stations serve, every expected queue within the bound, the
    /// simulated longest queue of seeds 1–10 within 1.5 × the bound (eight
    /// points' maxima, each expected at most 30, spread a few people above
    /// their expectation), and each point's simulated longest queue, averaged
    /// over the seeds, within 0.6–1.4 × the figure the plan gives for it.
    /// Returns the plan's and the simulation's longest queues.
    fn check_street(ps: &[Point]) -> (f64, u32) {
        let bs = street();
        let prm = params(8);
        let plan = plan(&bs, ps, &prm).unwrap();
        assert_eq!(plan.people_called, 3869);
        let mut bound: f64 = 0.0;
        for p in &plan.points {
            for s in &p.slots {
                assert!(
                    f64::from(s.arrivals) <= s.capacity,
                    "point {} {s:?}",
                    p.point_id
                );
                assert!(
                    s.expected_queue <= prm.max_queue,
                    "point {} {s:?}",
                    p.point_id
                );
            }
            bound = bound.max(p.max_expected_queue);
        }
        let calls = plan.calls();
        let seeds = 1..=10u64;
        let mut mean = vec![0.0; ps.len()];
        let mut worst = 0;
        for seed in seeds.clone() {
            let sim = simulate(ps, &calls, &prm, Calling::Slots, seed);
            assert_eq!(sim.overall.people, 3869);
            worst = worst.max(sim.overall.max_queue);
            for (m, sp) in mean.iter_mut().zip(&sim.points) {
                *m += f64::from(sp.stats.max_queue) / seeds.clone().count() as f64;
            }
        }
        assert!(f64::from(worst) <= 1.5 * prm.max_queue, "simulated {worst}");
        for (p, m) in plan.points.iter().zip(&mean) {
            if p.people > 0 {
                let r = m / p.max_expected_queue;
                assert!(
                    (0.6..=1.4).contains(&r),
                    "point {}: simulated {m:.1} vs planned {}",
                    p.point_id,
                    p.max_expected_queue
                );
            }
        }
        (bound, worst)
    }

    #[test]
    fn street_of_eight_two_station_points_keeps_its_queue_promise() {
        // Before: slots called to 118% of capacity; the simulation of seed 1
        // reached 46 people against a promised 29.9.
        let (bound, worst) = check_street(&street_points(8, 2));
        assert!(bound > 10.0 && worst <= 30, "{bound} {worst}");
    }

    #[test]
    fn street_of_two_ten_station_points_keeps_its_queue_promise() {
        // The scale of the reported defect (500 people a slot at a point):
        // before, slots of 513/500 and 509/500 and a simulated queue of up to
        // 87 against a promised 30.
        let (bound, worst) = check_street(&street_points(2, 10));
        assert!(bound > 20.0 && worst <= 45, "{bound} {worst}");
    }

    #[test]
    fn a_window_met_only_by_overfilling_is_reported_too_short() {
        // 360 people in units of 36 at one point serving 100 a slot: four
        // slots hold 2 units each (3 would be 108 people). The old planner
        // called 108, 108, 72, 72 and promised queues under 30.
        let bs = compound(5, 1, 0.0);
        let ps = vec![point(1, Some(1), 0.0, 0.0, 2)];
        let err = plan(&bs, &ps, &params(2)).unwrap_err();
        let (people, unplaced_people, remedy) = too_short(&err);
        assert_eq!(people, 360);
        assert!(unplaced_people >= 36, "{err}");
        assert!(remedy.more_stations_per_point.is_some(), "{err}");
        // Five slots of 72 would hold everyone, but the last one's people are
        // still being swabbed when it ends: an hour more does it.
        assert_eq!(remedy.more_minutes, Some(60), "{err}");
        let longer = Point {
            closes_ms: T0 + 180 * MINUTE_MS,
            ..ps[0].clone()
        };
        let prm = Params {
            until_ms: T0 + 180 * MINUTE_MS,
            ..params(2)
        };
        let ok = plan(&bs, &[longer], &prm).unwrap();
        assert_eq!(ok.people_called, 360);
        for s in &ok.points[0].slots {
            assert!(f64::from(s.arrivals) <= s.capacity, "{s:?}");
        }
    }

    #[test]
    fn slot_queue_figure_follows_the_simulated_longest_queue() {
        // Eight busy half-hour slots at 90% of 2 and of 10 stations: the
        // plan's figure is the longest queue the simulation shows, on average
        // over seeds (within 15%), not a mean queue several times shorter.
        for (stations, n) in [(2u32, 90u32), (10, 450)] {
            let p = Point {
                closes_ms: T0 + 8 * HOUR_MS,
                ..point(1, None, 0.0, 0.0, stations)
            };
            let prm = params(8);
            let calls: Vec<Call> = (0..8)
                .map(|k| Call {
                    point_id: 1,
                    starts_ms: T0 + k * prm.slot_ms,
                    ends_ms: T0 + (k + 1) * prm.slot_ms,
                    building_id: k,
                    unit_id: k,
                    people: n,
                })
                .collect();
            let figure =
                evaluate(&[], std::slice::from_ref(&p), &calls, &prm).points[0].max_expected_queue;
            let sim: f64 = (1..=20u64)
                .map(|s| {
                    let sim = simulate(std::slice::from_ref(&p), &calls, &prm, Calling::Slots, s);
                    f64::from(sim.overall.max_queue)
                })
                .sum::<f64>()
                / 20.0;
            let r = sim / figure;
            assert!((0.85..=1.15).contains(&r), "{stations}: {sim} vs {figure}");
        }
    }

    /// A round 03:00–04:00 at one point of 50 stations (5,000 swabs an hour)
    /// and more people than that: the point's last slot used to take nobody
    /// (its arrivals ran to the close, so the last swab always fell after it):
    /// 60-minute slots placed 0, 30-minute ones 2,485, 15-minute ones 3,651.
    #[test]
    fn the_last_slot_before_the_close_is_used_and_done_by_the_close() {
        let bs = compound(100, 1, 0.0);
        let close = T0 + HOUR_MS;
        let ps = vec![Point {
            closes_ms: close,
            ..point(1, Some(1), 0.0, 0.0, 50)
        }];
        for minutes in [60, 30, 15] {
            let prm = Params {
                slot_ms: minutes * MINUTE_MS,
                ..params(1)
            };
            let err = plan(&bs, &ps, &prm).unwrap_err();
            let (people, unplaced, _) = too_short(&err);
            let PlanError::WindowTooShort {
                capacity, placed, ..
            } = &err
            else {
                unreachable!()
            };
            // What the stations could do in the hour, and apart from it what was placed.
            assert_eq!(*capacity, 5000, "{err}");
            assert_eq!(*placed, people - unplaced, "{err}");
            assert!(
                err.to_string().contains("约能采 5000 人")
                    && err.to_string().contains(&format!("已排入 {placed} 人")),
                "{err}"
            );
            eprintln!("{minutes}: placed {placed}");
            assert!(
                *placed >= 4000,
                "{minutes}-minute slots placed {placed}: {err}"
            );
            // The placed part alone is a plan whose last slot is called, ends
            // its arrivals before the close, and is expected done by it.
            let fit: Vec<Building> = bs.iter().take(*placed as usize / 72).cloned().collect();
            let ok = plan(&fit, &ps, &prm).unwrap();
            let last = ok.points[0].slots.last().unwrap();
            assert!(
                last.ends_ms < close && last.ends_ms > close - 5 * MINUTE_MS,
                "{last:?}"
            );
            assert!(last.arrivals > 0);
            assert!(ok.finish_ms.unwrap() <= close, "{:?}", ok.finish_ms);
            let sim = simulate(&ps, &ok.calls(), &prm, Calling::Slots, 7);
            assert!(
                sim.overall.finish_ms.unwrap() <= close + MINUTE_MS,
                "{minutes}: simulated finish {} min after the close",
                (sim.overall.finish_ms.unwrap() - close) as f64 / MINUTE_MS as f64
            );
        }
    }

    /// Re-plan at 02:41 under 30-minute slots at a point of 3 stations (300 an
    /// hour): 142 were called for 02:00 (130 came, all swabbed) and 142 for
    /// 02:30, of whom the 50 come so far are swabbed. The old count (everyone
    /// called less the swabs: 104, "waiting" at 03:00) left 03:00–03:30 empty.
    #[test]
    fn a_mid_slot_replan_starts_from_who_is_really_queued() {
        let h = |m: i64| T0 + m * MINUTE_MS;
        let call = |s: i64, people: u32| Call {
            point_id: 1,
            starts_ms: h(s),
            ends_ms: h(s + 30),
            building_id: 1,
            unit_id: s,
            people,
        };
        let started = vec![call(0, 142), call(30, 142)];
        let now = h(41);
        // Arrived by the model's curve: 142 + 142·11/30.
        assert!((arrived_by(&started, now) - (142.0 + 142.0 * 11.0 / 30.0)).abs() < 1e-6);
        // Keeping up at 300 an hour: nobody is really waiting (the 12 who
        // never came are no line), and by 03:00 the rest of 02:30 is served.
        let sw = |before: u32, since: u32| Swabbed {
            split_ms: h(30),
            before,
            since,
        };
        let waiting = waiting_now(&started, sw(130, 50), 3, 100.0, Some(77.0), now);
        assert!(waiting < 3.0, "{waiting}");
        let at = backlog_at(&started, waiting, 300.0, now, h(60));
        assert!(at < 1.0, "{at}");
        // Not busy: the point keeps its configured rate however few it scanned.
        assert_eq!(effective_rate(100.0, Some(94.7), waiting >= 3.0), 100.0);
        // The next slot is then called at this point.
        let bs = compound(20, 1, 0.0);
        let prm = Params {
            from_ms: h(60),
            ..params(8)
        };
        let first_slot = |backlog: u32| -> u32 {
            let ps = vec![Point {
                backlog,
                ..point(1, Some(1), 0.0, 0.0, 3)
            }];
            plan(&bs, &ps, &prm).unwrap().points[0]
                .slots
                .iter()
                .filter(|s| s.starts_ms == h(60))
                .map(|s| s.arrivals)
                .sum()
        };
        assert!(first_slot(at.round() as u32) >= 100, "{}", first_slot(0));
        assert_eq!(first_slot(284 - 180), 0, "the old count empties the slot");

        // A point really slow (60 a station-hour, 180 an hour): 90 swabbed
        // by 02:30, 33 since. A line in the slot in progress: the older
        // slot's 52 not swabbed are a line too, and what it cannot serve by
        // 03:00 is still waiting then.
        let slow = waiting_now(&started, sw(90, 33), 3, 100.0, Some(60.0), now);
        assert!(
            (slow - (52.0 + 142.0 * 11.0 / 30.0 - 33.0)).abs() < 0.5,
            "{slow}"
        );
        let slow_at = backlog_at(&started, slow, 180.0, now, h(60));
        // + 142·19/30 arriving, − 180·19/60 served.
        assert!(
            (slow_at - (slow + 142.0 * 19.0 / 30.0 - 57.0)).abs() < 0.5,
            "{slow_at}"
        );
        // People of a slot over who never came drop out of the line once the
        // point would have served them: the count alone keeps them for ever.
        let no_shows = waiting_now(
            &started[..1],
            Swabbed {
                split_ms: h(200),
                before: 100,
                since: 0,
            },
            3,
            100.0,
            None,
            h(200),
        );
        assert_eq!(no_shows, 0.0);
    }

    /// A refused plan's station advice, applied as the re-plan will see the
    /// point (`restation`), plans: over a few shapes and seeds, with points
    /// whose backlog drains faster with more stations (the greedy
    /// assignment is not monotone in it) and points whose per-station pace
    /// is their throughput spread over the stations (a station added then
    /// adds nothing: no station advice may be given for it).
    #[test]
    fn station_advice_applied_as_the_replan_sees_it_plans() {
        let mut rng = Rng::new(7);
        let mut refused = 0;
        let mut checked = 0;
        for case in 0..24u64 {
            let n = 6 + (case % 5) as usize * 3;
            let mut bs = compound(n, 1, 0.0);
            bs.extend(compound(n / 2 + 2, 2, 600.0));
            let slow_rate = 20.0 + (rng.next_u64() % 40) as f64;
            let backlog = (rng.next_u64() % 120) as u32;
            let mut ps = vec![
                Point {
                    rate_per_station_h: slow_rate,
                    backlog,
                    ..point(1, None, 100.0, 40.0, 2 + (case % 3) as u32)
                },
                point(2, None, 650.0, 40.0, 1 + (case % 2) as u32),
            ];
            ps[1].backlog = (rng.next_u64() % 40) as u32;
            let hours = 2 + (case % 3) as i64;
            let prm = params(hours);
            // The app's view of a point with `k` more stations: its line
            // drains at the new speed (less backlog); in odd cases the
            // measured pace is a throughput over the stations.
            let throughput = case % 2 == 1;
            let restation = move |p: &Point, k: u32| -> Point {
                let c = f64::from(p.stations.max(1));
                let c2 = f64::from(p.stations + k);
                Point {
                    stations: p.stations + k,
                    backlog: (f64::from(p.backlog) * c / c2).round() as u32,
                    rate_per_station_h: if throughput && p.id == 1 {
                        p.rate_per_station_h * c / c2
                    } else {
                        p.rate_per_station_h
                    },
                    ..p.clone()
                }
            };
            let Err(PlanError::WindowTooShort { remedy, .. }) =
                plan_until_with(&bs, &ps, &prm, None, &restation)
            else {
                continue;
            };
            refused += 1;
            let apply = |k: u32, only: Option<&[ShortPoint]>| -> Vec<Point> {
                ps.iter()
                    .map(|p| {
                        if only.is_none_or(|s| s.iter().any(|s| s.point_id == p.id)) {
                            restation(p, k)
                        } else {
                            p.clone()
                        }
                    })
                    .collect()
            };
            if let Some(k) = remedy.more_stations_at_short {
                let more = apply(k, Some(&remedy.short));
                assert!(
                    plan_until_with(&bs, &more, &prm, None, &restation).is_ok(),
                    "case {case}: {k} more at the short points did not plan"
                );
                checked += 1;
            }
            if let Some(k) = remedy.more_stations_per_point {
                let more = apply(k, None);
                assert!(
                    plan_until_with(&bs, &more, &prm, None, &restation).is_ok(),
                    "case {case}: {k} more at every point did not plan"
                );
                checked += 1;
            }
        }
        assert!(
            refused > 3 && checked > 0,
            "{refused} refused, {checked} checked"
        );
        // Throughput spread over stations: an added station adds nothing,
        // so no station count is advised for that point alone.
        let bs = compound(12, 1, 0.0);
        let ps = vec![Point {
            rate_per_station_h: 30.0,
            ..point(1, None, 0.0, 0.0, 2)
        }];
        let spread = |p: &Point, k: u32| Point {
            stations: p.stations + k,
            rate_per_station_h: p.rate_per_station_h * f64::from(p.stations)
                / f64::from(p.stations + k),
            ..p.clone()
        };
        let Err(PlanError::WindowTooShort { remedy, .. }) =
            plan_until_with(&bs, &ps, &params(2), None, &spread)
        else {
            panic!("planned");
        };
        assert_eq!(remedy.more_stations_per_point, None, "{remedy:?}");
        assert_eq!(remedy.more_stations_at_short, None, "{remedy:?}");
    }

    #[test]
    fn a_point_with_people_waiting_and_no_scans_has_stalled() {
        let st = |scans, min: i64, waiting| Stall {
            scans,
            called_ms: min * MINUTE_MS,
            waiting,
            stations: 4,
        };
        // 15 minutes, 48 waiting, no scan: the floor, not the configured rate.
        assert_eq!(
            stalled_rate(&st(0, 15, 48.0)),
            Some(STALL_FLOOR_PER_STATION_H)
        );
        // A few scans over 20 minutes: what it did, per station and hour.
        assert_eq!(stalled_rate(&st(8, 20, 62.0)), Some(6.0));
        assert_eq!(stalled_rate(&st(9, 15, 30.0)), Some(9.0));
        // Too little evidence: too soon, too few called, or enough scans to
        // measure a pace.
        assert_eq!(stalled_rate(&st(0, 14, 48.0)), None);
        assert_eq!(stalled_rate(&st(0, 30, 9.0)), None);
        assert_eq!(stalled_rate(&st(10, 30, 48.0)), None);
    }

    #[test]
    fn a_controlled_building_stays_in_its_compound_or_goes_door_to_door() {
        // Compound 1 has a point; compound 2 has none; a point outside
        // stands between them, nearer than compound 1's own.
        let mut bs = compound(4, 1, 0.0);
        bs.extend(compound(4, 2, 800.0));
        bs[0].control = Some(ControlStatus::Controlled);
        bs[1].units[1].households[2].control = Some(ControlStatus::Controlled);
        bs[4].control = Some(ControlStatus::Controlled);
        bs[5].units[0].control = Some(ControlStatus::Controlled);
        bs[6].units[1].households[0].control = Some(ControlStatus::Controlled);
        bs[7].control = Some(ControlStatus::Precaution);
        let ps = vec![
            point(1, Some(1), -900.0, 0.0, 2),
            point(2, None, 40.0, 10.0, 4),
        ];
        let plan = plan(&bs, &ps, &params(8)).unwrap();
        let calls = plan.calls();
        // In compound 1: the controlled building, and the one with a
        // controlled household, only at the compound's own point.
        for b in &bs[..2] {
            assert!(calls.iter().any(|c| c.building_id == b.id));
            assert!(
                calls
                    .iter()
                    .filter(|c| c.building_id == b.id)
                    .all(|c| c.point_id == 1),
                "{} called outside its compound",
                b.name
            );
        }
        // The others of compound 1 go to the nearer point outside.
        assert!(calls
            .iter()
            .filter(|c| c.building_id == bs[2].id)
            .all(|c| c.point_id == 2));
        // Compound 2 has no point: what is controlled is not called, and
        // is on the door-to-door list as controlled; the rest is called.
        assert!(!calls.iter().any(|c| c.building_id == bs[4].id));
        assert!(!calls.iter().any(|c| c.unit_id == bs[5].units[0].id));
        assert!(calls.iter().any(|c| c.unit_id == bs[5].units[1].id));
        let u = bs[6].units[1].id;
        assert_eq!(
            calls
                .iter()
                .filter(|c| c.unit_id == u)
                .map(|c| c.people)
                .sum::<u32>(),
            33
        );
        assert!(calls.iter().any(|c| c.building_id == bs[7].id));
        let d2d: Vec<(i64, Option<i64>, Option<i64>, ControlStatus)> = plan
            .door_to_door
            .iter()
            .map(|d| (d.building_id, d.unit_id, d.household_id, d.status))
            .collect();
        let c = ControlStatus::Controlled;
        assert_eq!(
            d2d,
            vec![
                (bs[4].id, None, None, c),
                (bs[5].id, Some(bs[5].units[0].id), None, c),
                (bs[6].id, Some(u), Some(bs[6].units[1].households[0].id), c),
            ]
        );
        assert_eq!(door_to_door(&bs, &ps), plan.door_to_door);
        // Said, Chinese first: which buildings, and what the compound needs.
        assert_eq!(plan.warnings.len(), 3, "{:?}", plan.warnings);
        assert!(
            plan.warnings[0].starts_with(&format!(
                "{}属管控区（人不出小区，72 人），所在小区本轮没有采样点，不叫号到小区外：请在小区内设采样点，或入户采样",
                bs[4].name
            )),
            "{}",
            plan.warnings[0]
        );
        assert!(plan.warnings[1].contains("1单元属管控区"));
        assert!(plan.warnings[2].contains("2单元101室属管控区"));
        // A stored plan read back drops calls of what is now on that list.
        let mut free = bs.clone();
        for b in &mut free {
            b.control = None;
            for u in &mut b.units {
                u.control = None;
                for h in &mut u.households {
                    h.control = None;
                }
            }
        }
        let before = super::plan(&free, &ps, &params(8)).unwrap().calls();
        let now = calls_under_control_now(&bs, &ps, &before);
        assert!(!now.iter().any(|c| c.building_id == bs[4].id));
    }
}
