//! Testing rounds: rounds, points, tubes, and the scan registration — one
//! swab in one tube, always stored (a blank read or a tube's label in the
//! person's place, live, is no swab: refused), applied exactly once per
//! client id.

use std::collections::HashMap;

use gw_domain::access::{Action, Place};
use gw_domain::idnumber::{DocKind, Document};
use gw_domain::ids::Key;
use gw_domain::territory::ControlStatus;
use gw_domain::testing::{CodeError, PersonalCode, TestingSettings, TubeBarcode, POOL_SIZES};
use gw_store::testing::{NewTube, OwnedRegistration, RegistrationRow, Stored};
use gw_store::{Store, StoreError};
use serde::Serialize;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::access::{self, AuthError, Principal};
use crate::Clock;

pub use gw_domain::testing::PURPOSES;

/// Where a testing point's work is checked: its community, with the point.
pub(crate) async fn point_place(
    store: &Store,
    point: &gw_store::testing::PointRow,
) -> Result<Place, StoreError> {
    let mut place = store
        .place_of(point.street_id, "community", point.community_id)
        .await?;
    place.point = Some(point.id);
    Ok(place)
}

/// Where a testing point may also be read from, besides [`point_place`]: one
/// place per grid the point stands in or serves ([`Store::point_grids`]:
/// the grids of its compound's buildings, or outside compounds those its
/// plan calls to it), each with the point's community and the point. Only
/// for reading what concerns the point's site (its disinfection task): a
/// grid leader of such a grid reads it; doing anything at the point is
/// still checked at [`point_place`].
pub(crate) async fn point_grid_places(
    store: &Store,
    point: &gw_store::testing::PointRow,
) -> Result<Vec<Place>, StoreError> {
    let base = point_place(store, point).await?;
    Ok(store
        .point_grids(point.street_id, point.id)
        .await?
        .into_iter()
        .map(|g| Place {
            grid: Some(g),
            ..base
        })
        .collect())
}

/// A round as its organiser describes it.
#[derive(Debug, Clone)]
pub struct NewRound<'a> {
    pub street: i64,
    pub name: &'a str,
    pub starts_ms: i64,
    pub ends_ms: i64,
    pub pool_size: u32,
    /// The communities the round covers; empty: the whole street.
    pub communities: Vec<Key>,
}

/// A street's testing settings, with no access check (the scan path, the
/// lab's upload and packing read them).
pub async fn settings_of(store: &Store, street: i64) -> Result<TestingSettings, StoreError> {
    let (min, max, check, lab) = store.testing_settings(street).await?;
    TestingSettings::new(
        usize::try_from(min).unwrap_or(0),
        usize::try_from(max).unwrap_or(0),
        &check,
        u32::try_from(lab).unwrap_or(0),
    )
    .map_err(|e| StoreError::Other(format!("street {street}: {e}")))
}

/// A street's testing settings as the API and the CLI show them.
#[derive(Debug, Clone, Serialize)]
pub struct SettingsView {
    pub street: i64,
    pub tube_min_len: usize,
    pub tube_max_len: usize,
    /// `none` or `luhn`.
    pub tube_check: &'static str,
    pub lab_max_pool: u32,
    /// Rounds whose tubes may still go to the lab (planned, open, sampling
    /// closed) pooling more than `lab_max_pool`, each said Chinese first:
    /// the limit holds for new rounds, not for tubes already pooled.
    pub warnings: Vec<String>,
}

impl SettingsView {
    /// The view of `s`, warned of the street's rounds `rounds` that pool
    /// more than its lab accepts.
    fn of(
        street: i64,
        s: &TestingSettings,
        rounds: &[gw_store::testing::RoundRow],
    ) -> SettingsView {
        let warnings = rounds
            .iter()
            .filter(|r| {
                matches!(r.state.as_str(), "planned" | "open" | "sampling_closed")
                    && i64::from(s.lab_max_pool) < i64::from(r.pool_size)
            })
            .map(|r| {
                let (zh, en) = gw_domain::testing::round_state_words(&r.state);
                format!(
                    "「{name}」（{zh}）每管 {k} 人，超过化验室上限 {max}：已混的管化验室可能不收，请与化验室确认 / round {name} ({en}) pools {k} to a tube, more than the lab's limit of {max}: check with the lab that it takes the tubes already pooled",
                    name = r.name,
                    k = r.pool_size,
                    max = s.lab_max_pool,
                )
            })
            .collect();
        SettingsView {
            street,
            tube_min_len: s.tube.min_len,
            tube_max_len: s.tube.max_len,
            tube_check: s.tube.check_name(),
            lab_max_pool: s.lab_max_pool,
            warnings,
        }
    }
}

/// What to change in a street's testing settings (`None`: keep); the API's
/// request body as it is.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct SettingsChange {
    pub tube_min_len: Option<usize>,
    pub tube_max_len: Option<usize>,
    pub tube_check: Option<String>,
    pub lab_max_pool: Option<u32>,
}

pub async fn testing_settings(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    street: i64,
) -> Result<SettingsView, AuthError> {
    let place = store.place_of(street, "street", street).await?;
    access::authorize(p, clock, Action::ManageRounds, &place)?;
    Ok(SettingsView::of(
        street,
        &settings_of(store, street).await?,
        &store.rounds(street).await?,
    ))
}

/// Changes a street's testing settings (validated whole, audited). Tubes
/// already opened keep their barcodes; stations pick the new rule up when
/// they are enrolled again.
pub async fn set_testing_settings(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    street: i64,
    change: &SettingsChange,
) -> Result<SettingsView, AuthError> {
    let place = store.place_of(street, "street", street).await?;
    access::authorize(p, clock, Action::ManageRounds, &place)?;
    let now = settings_of(store, street).await?;
    let new = TestingSettings::new(
        change.tube_min_len.unwrap_or(now.tube.min_len),
        change.tube_max_len.unwrap_or(now.tube.max_len),
        change
            .tube_check
            .as_deref()
            .unwrap_or(now.tube.check_name()),
        change.lab_max_pool.unwrap_or(now.lab_max_pool),
    )
    .map_err(|e| AuthError::Invalid(e.to_string()))?;
    let audit = access::audit_record(
        clock,
        p,
        "testing_settings",
        (street, "street", &street.to_string()),
        &format!(
            "tube={}..={} check={} lab_max_pool={}",
            new.tube.min_len,
            new.tube.max_len,
            new.tube.check_name(),
            new.lab_max_pool
        ),
    );
    store
        .set_testing_settings(
            street,
            new.tube.min_len as i64,
            new.tube.max_len as i64,
            new.tube.check_name(),
            i64::from(new.lab_max_pool),
            &audit,
        )
        .await?;
    Ok(SettingsView::of(street, &new, &store.rounds(street).await?))
}

pub async fn create_round(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    r: &NewRound<'_>,
) -> Result<Key, AuthError> {
    Ok(create_round_carrying(store, clock, p, r, None).await?.id)
}

/// A round created, with what it took over from an earlier round.
#[derive(Debug, Clone)]
pub struct RoundCreated {
    pub id: Key,
    pub carried: Option<CarriedView>,
}

/// What a new round carried over from an earlier round of its street: its
/// points (same names, places, stations and rates, the hours moved to the
/// new round's day; supplies never) and the grants of their volunteers and
/// point managers, given again at the new points.
#[derive(Debug, Clone, Serialize)]
pub struct CarriedView {
    pub from: String,
    pub from_name: String,
    /// Whole days the points' hours moved by.
    pub days: i64,
    pub points: Vec<CarriedPointView>,
    /// The earlier round's points in communities the new round does not
    /// cover: not carried.
    pub left_behind: Vec<String>,
    pub grants: usize,
    pub volunteers: usize,
    pub point_managers: usize,
    /// Always false: a new round's supplies are issued anew.
    pub supplies_carried: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct CarriedPointView {
    pub from: String,
    pub id: String,
    pub name: String,
    /// Grants given at the new point.
    pub grants: usize,
}

impl CarriedView {
    /// One line: 「沿用 第3轮（1-3）的 5 个采样点；授权 8 项（志愿者 6，采样点负责人 2）；物资未沿用」.
    pub fn summary(&self) -> String {
        let left = if self.left_behind.is_empty() {
            String::new()
        } else {
            format!(
                "（{} 个不在本轮社区内，未沿用 / {} outside the round's communities, left）",
                self.left_behind.len(),
                self.left_behind.len()
            )
        };
        format!(
            "沿用「{name}」（{from}）的 {n} 个采样点{left}，时间顺延 {d} 天；授权 {g} 项（志愿者 {v}，采样点负责人 {m}）；物资未沿用，须重新发放 / carried {n} point(s) of {name} ({from}), hours moved {d} day(s); {g} grant(s) given again ({v} volunteer, {m} point manager); supplies not carried: issue them anew",
            name = self.from_name,
            from = self.from,
            n = self.points.len(),
            d = self.days,
            g = self.grants,
            v = self.volunteers,
            m = self.point_managers,
        )
    }
}

/// Creates a round; with `points_from`, an earlier round of the same street
/// whose points and point staff's grants the new round takes over, in the
/// same transaction, each grant audited as a grant is.
pub async fn create_round_carrying(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    r: &NewRound<'_>,
    points_from: Option<Key>,
) -> Result<RoundCreated, AuthError> {
    let (street, name, starts_ms, ends_ms, pool_size) =
        (r.street, r.name, r.starts_ms, r.ends_ms, r.pool_size);
    let place = store.place_of(street, "street", street).await?;
    access::authorize(p, clock, Action::ManageRounds, &place)?;
    if !POOL_SIZES.contains(&pool_size) {
        return Err(AuthError::Invalid(format!(
            "混采数只能是 1、5、10 或 20 / pool size must be one of {POOL_SIZES:?}"
        )));
    }
    let lab_max = settings_of(store, street).await?.lab_max_pool;
    if pool_size > lab_max {
        return Err(AuthError::Invalid(format!(
            "实验室最多接受 {lab_max} 混 1 / the street's lab accepts pools of at most {lab_max} (testing settings)"
        )));
    }
    if ends_ms <= starts_ms || name.trim().is_empty() {
        return Err(AuthError::Invalid(
            "请填写轮次名称，结束时间须晚于开始 / a round needs a name and an end after its start"
                .into(),
        ));
    }
    let range = gw_domain::testing::ROUND_TIME_RANGE_MS;
    if !range.contains(&starts_ms) || !range.contains(&ends_ms) {
        return Err(AuthError::Invalid(
            "开始和结束时间须在 1970 年到 2100 年之间：请检查日期 / a round starts and ends between 1970 and 2100: check the dates"
                .into(),
        ));
    }
    let mut communities = Vec::new();
    for c in &r.communities {
        if c.street != street || store.place_of(street, "community", c.id).await.is_err() {
            return Err(AuthError::Invalid(format!(
                "社区 {c} 不在街道 {street} / community {c} is not in street {street}"
            )));
        }
        communities.push(c.id);
    }
    let source = match points_from {
        None => None,
        Some(f) => {
            let not_here = || {
                AuthError::Invalid(format!(
                    "本街道没有轮次 {f}，无法沿用其采样点 / no round {f} in street {street} to carry points from"
                ))
            };
            if f.street != street {
                return Err(not_here());
            }
            let from = store.round(street, f.id).await.map_err(|e| match e {
                StoreError::NotFound(_) => not_here(),
                e => e.into(),
            })?;
            let day = |ms: i64| gw_domain::date::Date::from_unix_ms_cst(ms).map(|d| d.to_days());
            let days = match (day(starts_ms), day(from.starts_ms)) {
                (Some(a), Some(b)) => a - b,
                _ => 0,
            };
            Some((f, from, days))
        }
    };
    let actor = p.actor();
    let carry = source
        .as_ref()
        .map(|(f, _, days)| gw_store::testing::PointCarry {
            from_round: f.id,
            shift_ms: days * 86_400_000,
            granted_by: &actor,
        });
    let (id, carried) = store
        .create_round_carrying(
            &gw_store::testing::RoundWrite {
                street_id: street,
                name: name.trim(),
                starts_ms,
                ends_ms,
                pool_size: pool_size as i32,
                created_by: &actor,
                now_ms: clock.now_ms(),
                communities: &communities,
            },
            carry.as_ref(),
        )
        .await?;
    let k = Key { street, id };
    let key = |id: i64| Key { street, id }.to_string();
    access::record(
        store,
        clock,
        p,
        "create_round",
        (street, "round", &k.to_string()),
        &source.as_ref().map_or_else(String::new, |(f, _, _)| {
            format!(
                "points_from={f} points={} grants={}",
                carried.points.len(),
                carried.grants.len()
            )
        }),
        "",
    )
    .await?;
    // Each carried grant audited as a grant is, saying where it came from.
    for g in &carried.grants {
        access::record(
            store,
            clock,
            p,
            "grant",
            (street, "user", &g.user_id.to_string()),
            &format!(
                "role={} node=point:{} grant={} carried_from=point:{} round={k}",
                g.role,
                key(g.point),
                g.grant,
                key(g.from_point)
            ),
            "",
        )
        .await?;
    }
    let carried = source.map(|(f, from, days)| CarriedView {
        from: f.to_string(),
        from_name: from.name,
        days,
        points: carried
            .points
            .iter()
            .map(|c| CarriedPointView {
                from: key(c.from),
                id: key(c.id),
                name: c.name.clone(),
                grants: carried.grants.iter().filter(|g| g.point == c.id).count(),
            })
            .collect(),
        left_behind: carried.left.iter().map(|(id, _)| key(*id)).collect(),
        grants: carried.grants.len(),
        volunteers: carried
            .grants
            .iter()
            .filter(|g| g.role == "volunteer")
            .count(),
        point_managers: carried
            .grants
            .iter()
            .filter(|g| g.role == "point_manager")
            .count(),
        supplies_carried: false,
    });
    Ok(RoundCreated { id: k, carried })
}

/// What a round moved to `to` leaves unsettled, told to whoever moved it
/// (the move stands): once sampling is closed, tubes still open at their
/// point with swabs in them (to be closed and bagged, or they miss the
/// hand-over); once results are complete or the round is closed, the count
/// reconciliation's breaks (the counts are the round's record, and the
/// report says where each broke; empty when the caller may not read it).
pub async fn move_warnings(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    round: Key,
    to: &str,
) -> Vec<String> {
    if to == "sampling_closed" {
        return match store.open_tubes_with_swabs(round.street, round.id).await {
            Ok(open) if !open.is_empty() => {
                let n = open.len();
                let some = open.iter().take(5).cloned().collect::<Vec<_>>().join("、");
                let more = if n > 5 { " …" } else { "" };
                vec![format!(
                    "还有 {n} 管未封管且有样本（{some}{more}）：请封管、装袋交接 / {n} tube(s) still open hold swabs ({some}{more}): close them and bag them for the hand-over"
                )]
            }
            _ => Vec::new(),
        };
    }
    if !matches!(to, "results_complete" | "closed") {
        return Vec::new();
    }
    match crate::handoff::report(store, clock, p, round, None).await {
        Ok(r) if !r.matched => {
            let n = r.mismatches.len();
            vec![format!(
                "数据统计校对有 {n} 处不符 / the count reconciliation has {n} mismatch(es): gridwarden handoff report --round {round}"
            )]
        }
        _ => Vec::new(),
    }
}

/// Moves a round one step along its life. Opening fixes the expected population.
pub async fn advance_round(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    round: Key,
    to: &str,
) -> Result<String, AuthError> {
    let place = store.place_of(round.street, "street", round.street).await?;
    access::authorize(p, clock, Action::ManageRounds, &place)?;
    let r = store.round(round.street, round.id).await?;
    if !gw_domain::testing::round_move_ok(&r.state, to) {
        let (next_zh, next_en) = match gw_domain::testing::round_next(&r.state) {
            Some(n) => {
                let (zh, en) = gw_domain::testing::round_state_words(n);
                (
                    format!("下一步只能是“{zh}”（{n}）"),
                    format!("the next state can only be {en} ({n})"),
                )
            }
            None if r.state == gw_domain::testing::CANCELLED => (
                "轮次已取消".to_string(),
                "the round was cancelled".to_string(),
            ),
            None => ("轮次已结束".to_string(), "the round is closed".to_string()),
        };
        let order = gw_domain::testing::ROUND_STATES.join(" → ");
        let (from_zh, from_en) = gw_domain::testing::round_state_words(&r.state);
        let (to_zh, to_en) = gw_domain::testing::round_state_words(to);
        return Err(AuthError::Invalid(format!(
            "轮次已是“{from_zh}”，不能变为“{to_zh}”（状态依次为 {order}；计划中的轮次可取消 cancelled）；{next_zh} / the round is {from_en}: it cannot become {to_en} (states in order: {order}; a planned round can be cancelled); {next_en}",
        )));
    }
    if to == "results_complete" || to == "closed" {
        // Results are complete when every tube holding a swab has one; a
        // round is not closed with one without (a tube synced from a
        // station's offline queue after the results came in).
        let waiting = store.tubes_awaiting_result(round.street, round.id).await?;
        if !waiting.is_empty() {
            let n = waiting.len();
            let some = waiting
                .iter()
                .take(5)
                .cloned()
                .collect::<Vec<_>>()
                .join("、");
            return Err(AuthError::Invalid(format!(
                "还有 {n} 管没有结果（{some}{more}）：请实验室检测并上传结果（无法检测的报“无效”，其成员重采）/ {n} tube(s) with swabs have no result yet ({some}{more}): the lab tests them and uploads their results (one that cannot be tested is reported invalid, and its members are swabbed again)",
                more = if n > 5 { " …" } else { "" }
            )));
        }
    }
    if to == "closed" {
        // Retests and re-samples can be taken until the round is closed.
        let (retests, resamples) = store.open_follow_ups(round.street, round.id).await?;
        if retests + resamples > 0 {
            return Err(AuthError::Invalid(format!(
                "还有 {retests} 人待单管复检、{resamples} 人待重采；采完或登记豁免后才能结束本轮 / {retests} retest(s) and {resamples} re-sample(s) are still open: swab them, or exempt those who cannot be, before closing the round"
            )));
        }
    }
    if to == "open" {
        open_round(store, clock, p, round).await?;
    } else {
        let audit = access::audit_record(
            clock,
            p,
            "advance_round",
            (round.street, "round", &round.to_string()),
            to,
        );
        store
            .move_round(round.street, round.id, &r.state, to, clock.now_ms(), &audit)
            .await?;
    }
    Ok(to.to_string())
}

/// The reason that lifts a resident's exemption (a mistake, or back in the city).
pub const NO_EXEMPTION: &str = "none";

/// Exempts a resident from a round with a reason, so "missed" means missed
/// ([`NO_EXEMPTION`] lifts an exemption).
pub async fn exempt(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    round: Key,
    resident: Key,
    reason: &str,
) -> Result<(), AuthError> {
    let place = store
        .place_of(resident.street, "resident", resident.id)
        .await?;
    access::authorize(p, clock, Action::WriteRegistry, &place)?;
    let lift = reason == NO_EXEMPTION;
    if !lift && !gw_domain::testing::EXEMPTION_REASONS.contains(&reason) {
        return Err(AuthError::Invalid(format!(
            "免检原因须为以下之一：{}，或 {NO_EXEMPTION} 取消免检 / reason must be one of {}, or {NO_EXEMPTION} to lift an exemption",
            gw_domain::testing::EXEMPTION_REASONS.join("、"),
            gw_domain::testing::EXEMPTION_REASONS.join(", ")
        )));
    }
    if resident.street != round.street {
        return Err(AuthError::Invalid(
            "居民不在本轮街道 / the resident is not in the round's street".into(),
        ));
    }
    let audit = access::audit_record(
        clock,
        p,
        if lift { "lift_exemption" } else { "exempt" },
        (round.street, "resident", &resident.to_string()),
        // The reason (in hospital, deceased …) is health data: it lives on
        // the exemption, which a purge clears; the audit log keeps ids only.
        &format!("round={round}"),
    );
    // A closed round's figures are its record (the run of rounds without
    // anyone missed reads them): the store refuses once it is closed.
    if lift {
        if !store
            .lift_exemption(round.street, round.id, resident.id, &audit)
            .await?
        {
            return Err(StoreError::NotFound(format!(
                "本轮没有 {resident} 的免检 / {resident} is not exempt from this round"
            ))
            .into());
        }
    } else {
        store
            .exempt(
                round.street,
                round.id,
                resident.id,
                reason,
                &p.actor(),
                clock.now_ms(),
                &audit,
            )
            .await?;
    }
    // A death is no one round's: the registry records it (the same right as
    // the exemption's), so later rounds do not expect them and rounds still
    // sampling exempt them too. Undone on the resident's page if mistaken.
    if reason == gw_domain::resident::LeaveReason::Deceased.exemption()
        && store.resident(resident.street, resident.id).await?.status == "active"
    {
        crate::registry::leave(
            store,
            clock,
            p,
            resident,
            gw_domain::resident::LeaveReason::Deceased,
            None,
        )
        .await?;
    }
    Ok(())
}

/// Opens a round: the expected population is fixed now.
pub async fn open_round(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    round: Key,
) -> Result<i64, AuthError> {
    let place = store.place_of(round.street, "street", round.street).await?;
    access::authorize(p, clock, Action::ManageRounds, &place)?;
    let audit = access::audit_record(
        clock,
        p,
        "open_round",
        (round.street, "round", &round.to_string()),
        "",
    );
    Ok(store
        .open_round(round.street, round.id, clock.now_ms(), |n| {
            audit.with_detail(format!("expected={n}"))
        })
        .await?)
}

/// What a tube is opened for. A pooled tube of the round's sampling, a
/// single-tube retest of an abnormal pool's member (one swab to the tube,
/// `pool_size` 1), or a re-sample of an invalid tube's members (pooled as the
/// round pools). Retests and re-samples follow the lab's results, so they
/// may be opened once the round is open and also after it is closed: a
/// lab's correction after the close opens follow-ups of that round too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TubeUse {
    #[default]
    Pool,
    Retest,
    Resample,
}

impl TubeUse {
    /// From a scan purpose (`routine` and `door_to_door` sample into pools).
    pub fn of_purpose(purpose: &str) -> Result<Self, AuthError> {
        match purpose {
            p if gw_domain::testing::is_sampling(p) => Ok(Self::Pool),
            "retest" => Ok(Self::Retest),
            "resample" => Ok(Self::Resample),
            other => Err(AuthError::Invalid(format!(
                "采样目的“{shown}”无效，应为 routine（常规）、door_to_door（上门）、retest（单管复检）或 resample（重采）之一 / purpose “{shown}” is not one of {PURPOSES:?}",
                shown = other.chars().take(40).collect::<String>()
            ))),
        }
    }

    /// Whether a tube for this use may be opened (and swabs of its purpose
    /// taken) in a round in `state`.
    pub fn fits(self, state: &str) -> bool {
        match self {
            Self::Pool => state == "open",
            Self::Retest | Self::Resample => {
                matches!(
                    state,
                    "open" | "sampling_closed" | "results_complete" | "closed"
                )
            }
        }
    }

    /// From the tube's stored use.
    pub fn of_tube(name: &str) -> Self {
        match name {
            "retest" => Self::Retest,
            "resample" => Self::Resample,
            _ => Self::Pool,
        }
    }

    /// As stored with the tube.
    pub fn name(self) -> &'static str {
        match self {
            Self::Pool => "pool",
            Self::Retest => "retest",
            Self::Resample => "resample",
        }
    }

    fn label_zh(self) -> &'static str {
        match self {
            Self::Pool => "混采",
            Self::Retest => "复检",
            Self::Resample => "重采",
        }
    }

    fn pool_size(self, round_pool: i32) -> i32 {
        match self {
            Self::Retest => 1,
            Self::Pool | Self::Resample => round_pool,
        }
    }
}

/// Opens a tube at a point by its barcode. A tube not issued to the point is
/// opened anyway, with a warning (`handoff::issue_warning`). A tube that a
/// station opened while offline (`replay`) is opened whatever the round's
/// state, with a warning: its swabs are physically in it.
#[allow(clippy::too_many_arguments)]
pub async fn open_tube(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    writer: &ScanWriter,
    point: Key,
    barcode: &str,
    use_: TubeUse,
    replay: bool,
) -> Result<(Key, Option<String>), AuthError> {
    let pt = store.point(point.street, point.id).await?;
    access::authorize(p, clock, Action::Scan, &point_place(store, &pt).await?)?;
    let round = store.round(point.street, pt.round_id).await?;
    // A cancelled round was never sampled (it is cancelled only with no
    // tube): a tube opened offline there belongs to the round that replaced it.
    if round.state == gw_domain::testing::CANCELLED {
        return Err(StoreError::Conflict(format!(
            "轮次「{}」已取消，不能开采样管：请用新的轮次重新登记本设备 / round {} was cancelled: no tube opens in it; enrol this station for the new round",
            round.name, round.name
        ))
        .into());
    }
    let mut warning = None;
    if !use_.fits(&round.state) {
        if !replay {
            let (zh, en) = gw_domain::testing::round_state_words(&round.state);
            return Err(AuthError::Invalid(format!(
                "本轮{zh}，不能开此采样管 / the round is {en}: this tube cannot be opened"
            )));
        }
        warning = Some(opened_offline_in(&round.state));
    }
    let rule = settings_of(store, point.street).await?.tube;
    let code = match TubeBarcode::parse(barcode, &rule) {
        Ok(code) => code,
        // Opened offline under the rule the station had (the street's may
        // have changed since): kept if it has a barcode's shape, flagged.
        Err(e) if replay => {
            let code = TubeBarcode::parse(barcode, &gw_domain::testing::BarcodeRule::lookup())
                .map_err(|_| AuthError::Invalid(e.to_string()))?;
            warning = Some(join(warning.unwrap_or_default(), &e.to_string()));
            code
        }
        Err(e) => return Err(AuthError::Invalid(e.to_string())),
    };
    // An ID card read where a tube's barcode goes (the person's card in the
    // scanner's way): refused, offline too, for a barcode is shown in full on
    // packing pages, hand-over sheets and lab files, and an ID number never
    // is. A tube the street issued that only looks like one is taken.
    // (A number whose only fault is its check character is one mistyped.)
    let id_shaped = code.as_str().len() == 18
        && matches!(
            gw_domain::idnumber::IdNumber::parse(code.as_str()),
            Ok(_) | Err(gw_domain::idnumber::IdNumberError::BadCheck { .. })
        );
    if id_shaped
        && !crate::handoff::issued_in_round(store, point.street, round.id, code.as_str()).await?
    {
        return Err(AuthError::Invalid(
            "这是身份证号，不是采样管条码：请扫描采样管上的条码（证件号不作管码保存）/ this is an ID card number, not a tube barcode: scan the tube's label (a document number is never kept as a barcode)".into(),
        ));
    }
    // A bag's or box's label read where a tube's barcode goes: refused, so
    // the volunteer scans the tube; opened offline, kept with a warning.
    if store
        .is_packing_label(point.street, round.id, code.as_str())
        .await?
    {
        let why = format!(
            "{0}: 这是本轮一个袋或箱的标签，不是采样管条码 / {0} is a bag's or box's label in this round, not a tube's barcode",
            code.as_str()
        );
        if !replay {
            return Err(AuthError::Invalid(why));
        }
        warning = Some(join(warning.unwrap_or_default(), &why));
    }
    // Through the scan writer: one writer on the scan path.
    let id = writer
        .open(NewTube {
            street: point.street,
            round: round.id,
            point: pt.id,
            barcode: code.as_str().to_string(),
            pool_size: use_.pool_size(round.pool_size),
            now_ms: clock.now_ms(),
            tube_use: use_.name(),
        })
        .await?
        .ok_or_else(|| {
            StoreError::Conflict(format!(
                "采样管条码 {0} 本轮已使用 / tube {0} is already in use in this round",
                code.as_str()
            ))
        })?;
    let issued =
        crate::handoff::issue_warning(store, point.street, round.id, pt.id, code.as_str()).await?;
    let warning = join_warnings(warning, issued.map(|w| not_issued_advice(&w)));
    Ok((
        Key {
            street: point.street,
            id,
        },
        warning,
    ))
}

/// A tube not issued to the point (`handoff::issue_warning`), with what to
/// do: take one of the point's own; this one, still empty, is withdrawn
/// when the station changes tube (see [`close_tube`]).
fn not_issued_advice(warning: &str) -> String {
    format!(
        "{warning}。请换用本点的采样管：按「换管」后扫描本点的管，此管未装样本即作废、条码可再用 / use one of this point's tubes: press New tube and scan it; this one, with no swab in it, is withdrawn and its barcode freed"
    )
}

/// The warning for a tube a station opened (offline, or as its own replay)
/// in a round now `state`: recorded, and the station told to stop sampling.
fn opened_offline_in(state: &str) -> String {
    let (zh, en) = gw_domain::testing::round_state_words(state);
    format!(
        "本轮{zh}：此管已记录，但不要再用它采常规样本 / the round is {en}: this tube is recorded, but take no more routine swabs into it"
    )
}

/// Opens a tube, or answers with the tube already open under this barcode at
/// the same point: a station replaying an open it may have made while its
/// network was down. `true` when the tube is new.
pub async fn open_tube_reusing(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    writer: &ScanWriter,
    point: Key,
    barcode: &str,
    use_: TubeUse,
) -> Result<(Key, bool, Option<String>), AuthError> {
    match open_tube(store, clock, p, writer, point, barcode, use_, true).await {
        Err(AuthError::Store(StoreError::Conflict(m))) => {
            let pt = store.point(point.street, point.id).await?;
            let code = TubeBarcode::parse(barcode, &gw_domain::testing::BarcodeRule::lookup())
                .map_err(|e| AuthError::Invalid(e.to_string()))?;
            match store
                .tube_by_barcode(point.street, pt.round_id, code.as_str())
                .await?
            {
                Some(t) if t.point_id == pt.id => {
                    // The answer to the first try may be what was lost: its
                    // warnings again.
                    let round = store.round(point.street, pt.round_id).await?;
                    let state = (!use_.fits(&round.state)).then(|| opened_offline_in(&round.state));
                    let issued = crate::handoff::issue_warning(
                        store,
                        point.street,
                        pt.round_id,
                        pt.id,
                        code.as_str(),
                    )
                    .await?
                    .map(|w| not_issued_advice(&w));
                    // Scanned again once full, sealed or further along (the
                    // tube in the volunteer's hand is another with the same
                    // label, or the old one picked up by mistake): told, as
                    // the swabs scanned next into it are flagged.
                    let past_open = (t.state != "open").then(|| {
                        let zh = gw_domain::testing::TubeState::parse(&t.state)
                            .map_or(t.state.as_str(), |s| s.label_zh());
                        format!(
                            "采样管 {} {zh}，不能再装样本：请换一支新管 / tube {} is {}: it takes no more swabs, take a new tube",
                            code.as_str(),
                            code.as_str(),
                            t.state.replace('_', " ")
                        )
                    });
                    let warning = join_warnings(join_warnings(past_open, state), issued);
                    Ok((
                        Key {
                            street: point.street,
                            id: t.id,
                        },
                        false,
                        warning,
                    ))
                }
                Some(t) => {
                    open_clashing(store, clock, writer, &pt, code.as_str(), t.point_id, use_).await
                }
                None => Err(AuthError::Store(StoreError::Conflict(m))),
            }
        }
        other => other.map(|(k, warning)| (k, true, warning)),
    }
}

/// A tube a station opened offline under a barcode that another point's
/// tube has in this round (a misread, or two tubes labelled alike): its
/// swabs are physically in it, so it is kept, never refused, under the
/// barcode marked with this point (`BARCODE~POINT`), and flagged. It holds
/// no result until someone checks the tube and posts one for the marked
/// barcode, so the round's results cannot be complete before that.
async fn open_clashing(
    store: &Store,
    clock: &Clock,
    writer: &ScanWriter,
    pt: &gw_store::testing::PointRow,
    barcode: &str,
    other_point: i64,
    use_: TubeUse,
) -> Result<(Key, bool, Option<String>), AuthError> {
    let kept = format!("{barcode}~{}", pt.id);
    let other = store.point(pt.street_id, other_point).await?;
    let warning = format!(
        "条码 {barcode} 本轮已在采样点「{}」使用：本管记为 {kept}，请核对实物条码 / barcode {barcode} is already used at point {} in this round: this tube is kept as {kept}; check the physical tube",
        other.name, other.name
    );
    let key = |id| Key {
        street: pt.street_id,
        id,
    };
    if let Some(t) = store
        .tube_by_barcode(pt.street_id, pt.round_id, &kept)
        .await?
    {
        return Ok((key(t.id), false, Some(warning)));
    }
    let round = store.round(pt.street_id, pt.round_id).await?;
    let opened = writer
        .open(NewTube {
            street: pt.street_id,
            round: round.id,
            point: pt.id,
            barcode: kept.clone(),
            pool_size: use_.pool_size(round.pool_size),
            now_ms: clock.now_ms(),
            tube_use: use_.name(),
        })
        .await?;
    match opened {
        Some(id) => {
            tracing::warn!(barcode, kept = %kept, "tube barcode clash on an offline replay");
            Ok((key(id), true, Some(warning)))
        }
        // Another station of the point kept it a moment ago: the same tube.
        None => match store
            .tube_by_barcode(pt.street_id, pt.round_id, &kept)
            .await?
        {
            Some(t) => Ok((key(t.id), false, Some(warning))),
            None => Err(StoreError::Conflict(format!(
                "采样管条码 {kept} 本轮已使用 / tube {kept} is already in use in this round"
            ))
            .into()),
        },
    }
}

/// What closing a tube did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closed {
    /// Closed with its swabs, to be bagged.
    Closed,
    /// No swab in it: none was ever scanned into it (opened by mistake, or
    /// changed away from before the first person), or every one was taken
    /// back: withdrawn, see [`Store::withdraw_empty_tube`].
    Withdrawn,
}

/// Closes a tube at its point (a station's 换管, or by hand). A tube with no
/// live swab (nothing was ever scanned into it, or every swab was taken
/// back) is withdrawn instead: its row goes, its barcode is free again (its
/// own point may open it), no empty tube waits for a bag in the
/// reconciliation; audited (`withdraw_tube`, with its barcode and point).
/// A closed tube with no live swab (closed, or emptied by take-backs after
/// it closed, before these rules: the take-back of a closed tube's last
/// swab now withdraws it, see [`void_swab`]) is withdrawn the same way when
/// closed again.
pub async fn close_tube(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    tube: Key,
) -> Result<Closed, AuthError> {
    let t = store.tube(tube.street, tube.id).await?;
    let pt = store.point(tube.street, t.point_id).await?;
    access::authorize(p, clock, Action::Scan, &point_place(store, &pt).await?)?;
    if let Some(barcode) = store.withdraw_empty_tube(tube.street, tube.id).await? {
        access::record(
            store,
            clock,
            p,
            "withdraw_tube",
            (tube.street, "tube", &tube.to_string()),
            &format!(
                "barcode={barcode} point={}",
                Key {
                    street: tube.street,
                    id: pt.id
                }
            ),
            "",
        )
        .await?;
        return Ok(Closed::Withdrawn);
    }
    use gw_domain::testing::TubeState;
    match store
        .move_tube(
            tube.street,
            tube.id,
            TubeState::Open.name(),
            TubeState::Closed.name(),
            clock.now_ms(),
        )
        .await
    {
        Ok(()) => Ok(Closed::Closed),
        // Closed already (full, a single-tube retest after its one swab,
        // another station's 换管, or this close retried): done. A tube
        // sealed or further along is still refused.
        Err(StoreError::Conflict(m)) => {
            match store.tube(tube.street, tube.id).await?.state.as_str() {
                "closed" => Ok(Closed::Closed),
                _ => Err(StoreError::Conflict(m).into()),
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// What a station or volunteer is told after taking a swab back.
#[derive(Debug, Clone, Serialize)]
pub struct VoidOutcome {
    /// None for a scan the server never stored (taken back by its client id).
    pub registration: Option<String>,
    pub tube: String,
    /// Swabs in the tube and at the point now.
    pub tube_fill: i64,
    pub point_count: i64,
    /// The tube had closed itself when full and is open again for the right code.
    pub reopened: bool,
    /// The resident's later swab that is now their first in the round.
    pub promoted: Option<String>,
    /// The tube had been closed and this was its last live swab: it is
    /// withdrawn (its barcode free again, not expected in a bag), as
    /// [`close_tube`] withdraws an emptied tube.
    pub withdrawn: bool,
    /// It had been taken back already (this is a retry): nothing changed.
    pub already: bool,
    pub message: String,
}

/// Takes back a swab registered by mistake (a wrong code scanned, a person
/// scanned and not swabbed) while its tube is still at the point: see
/// [`Store::void_registration`]. A reason is required; who, why and the tube
/// go to the audit log. Allowed to whoever may scan at the tube's point,
/// the point's station device too (where the mistake was made). The last
/// live swab of a closed tube not yet in a bag takes the tube with it:
/// withdrawn in the take-back's transaction (audited `withdraw_tube`, as a
/// close does), so no empty tube is left for the reconciliation.
pub async fn void_swab(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    registration: Key,
    reason: &str,
) -> Result<VoidOutcome, AuthError> {
    let Some(at) = store
        .swab_point(registration.street, registration.id)
        .await?
    else {
        return Err(StoreError::NotFound(format!("registration {registration}")).into());
    };
    let pt = store.point(registration.street, at.point).await?;
    access::authorize(p, clock, Action::Scan, &point_place(store, &pt).await?)?;
    void_at(store, clock, p, registration, at, reason).await
}

/// [`void_swab`] once the swab's place is known and the caller may scan there.
async fn void_at(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    registration: Key,
    at: gw_store::testing::SwabPlace,
    reason: &str,
) -> Result<VoidOutcome, AuthError> {
    let street = registration.street;
    if at.voided {
        // Sent again (its answer was lost): the same outcome, with the counts as they are.
        return void_as_is(
            store,
            Some(registration),
            Key { street, id: at.tube },
            at.point,
            true,
            |fill, withdrawn| if withdrawn {
                "此样本之前已撤销，其采样管已作废 / taken back already: its tube is withdrawn".to_string()
            } else {
                format!("此样本之前已撤销：采样管现有 {fill} 个样本 / taken back already: the tube holds {fill} swab(s)")
            },
        )
        .await;
    }
    let reason = void_reason(reason)?;
    let swab = access::audit_record(
        clock,
        p,
        "void_swab",
        (street, "registration", &registration.to_string()),
        "",
    );
    let v = store
        .void_registration(
            street,
            registration.id,
            &p.actor(),
            &reason,
            clock.now_ms(),
            |v| {
                let (tube, point) = (
                    Key {
                        street,
                        id: v.tube_id,
                    },
                    Key {
                        street,
                        id: v.point_id,
                    },
                );
                // The reason stays with the swab (cleared by a purge); the
                // audit log, which outlives a purge, keeps ids only.
                let mut records = vec![swab.with_detail(format!(
                    "tube={tube} point={point} reopened={}{}",
                    v.reopened,
                    v.promoted
                        .map(|id| format!(" promoted={}", Key { street, id }))
                        .unwrap_or_default()
                ))];
                if let Some(barcode) = &v.withdrawn {
                    records.push(gw_store::audit::AuditRecord {
                        action: "withdraw_tube".into(),
                        target_kind: "tube".into(),
                        target_id: tube.to_string(),
                        ..swab.with_detail(format!(
                            "barcode={barcode} point={point} taken_back={registration}"
                        ))
                    });
                }
                records
            },
        )
        .await?;
    let tube = Key {
        street,
        id: v.tube_id,
    };
    let message = match &v.withdrawn {
        Some(barcode) => format!(
            "已撤销：已封管的采样管 {barcode} 已无样本，已作废，条码可再用，无需装袋 / taken back: closed tube {barcode} holds no swab now: withdrawn, its barcode free again, not to be bagged"
        ),
        None => format!(
            "已撤销：采样管现有 {} 个样本{} / taken back: the tube now holds {} swab(s){}",
            v.tube_fill,
            if v.reopened { "，已重新打开" } else { "" },
            v.tube_fill,
            if v.reopened { ", open again" } else { "" }
        ),
    };
    Ok(VoidOutcome {
        registration: Some(registration.to_string()),
        tube: tube.to_string(),
        tube_fill: v.tube_fill,
        point_count: v.point_count,
        reopened: v.reopened,
        promoted: v.promoted.map(|id| Key { street, id }.to_string()),
        withdrawn: v.withdrawn.is_some(),
        already: false,
        message,
    })
}

/// Takes back a scan by the client id its station gave it, in `tube`: the
/// station's "undo last scan", which may be sent before or after the scan
/// itself reached the server (an offline queue, an answer lost). Stored: as
/// [`void_swab`]. Not stored (yet): its client id is recorded as taken back,
/// so the scan, if it comes, is refused. Taken back already: the same answer
/// again. 400 when the client id names a swab in another tube.
pub async fn void_scan(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    tube: Key,
    client_id: &str,
    reason: &str,
) -> Result<VoidOutcome, AuthError> {
    let street = tube.street;
    let client_id = client_id.trim();
    check_client_id(client_id)?;
    let t = match store.tube(street, tube.id).await {
        Ok(t) => t,
        Err(StoreError::NotFound(m)) => {
            // Withdrawn by this very take-back (its last swab), sent again:
            // the same answer.
            if let Some(id) = store
                .voided_by_client(street, client_id)
                .await?
                .filter(|id| *id > 0)
            {
                if let Some(at) = store
                    .swab_point(street, id)
                    .await?
                    .filter(|a| a.voided && a.tube == tube.id)
                {
                    let pt = store.point(street, at.point).await?;
                    access::authorize(p, clock, Action::Scan, &point_place(store, &pt).await?)?;
                    return void_at(store, clock, p, Key { street, id }, at, reason).await;
                }
            }
            return Err(StoreError::NotFound(m).into());
        }
        Err(e) => return Err(e.into()),
    };
    let pt = store.point(street, t.point_id).await?;
    access::authorize(p, clock, Action::Scan, &point_place(store, &pt).await?)?;
    let id = match store.registration_by_client(street, client_id).await? {
        Some(r) => Some(r.id),
        None => store.voided_by_client(street, client_id).await?,
    };
    if let Some(id) = id.filter(|id| *id > 0) {
        let at = store.swab_point(street, id).await?;
        let Some(at) = at.filter(|a| a.tube == tube.id) else {
            return Err(AuthError::Invalid(format!(
                "client_id {client_id} 的样本不在采样管 {tube} 中 / the swab of client_id {client_id} is not in tube {tube}"
            )));
        };
        return void_at(store, clock, p, Key { street, id }, at, reason).await;
    }
    let reason = void_reason(reason)?;
    let audit = access::audit_record(
        clock,
        p,
        "void_swab",
        (street, "tube", &tube.to_string()),
        &format!("client_id={client_id} unstored"),
    );
    let recorded = store
        .void_unstored_scan(&t, client_id, &p.actor(), &reason, clock.now_ms(), &audit)
        .await?;
    if !recorded && id.is_none() {
        // Stored between the two reads: take it back as stored.
        if let Some(r) = store.registration_by_client(street, client_id).await? {
            return void_swab(store, clock, p, Key { street, id: r.id }, &reason).await;
        }
    }
    void_as_is(
        store,
        None,
        tube,
        t.point_id,
        !recorded,
        |_, _| "已撤销（服务器未收到过此扫码，以后收到也不再登记）/ taken back (the server never had this scan; if it comes, it is not stored)".into(),
    )
    .await
}

/// A station's id for a scan: 1 to 80 characters.
fn check_client_id(client_id: &str) -> Result<(), AuthError> {
    if client_id.is_empty() || client_id.len() > 80 {
        return Err(AuthError::Invalid(
            "client_id 须为 1–80 个字符 / client_id must be 1 to 80 characters".into(),
        ));
    }
    Ok(())
}

/// The answer when nothing changed (taken back before) or nothing was
/// stored to change: the tube's and point's counts as they are.
async fn void_as_is(
    store: &Store,
    registration: Option<Key>,
    tube: Key,
    point: i64,
    already: bool,
    message: impl FnOnce(i64, bool) -> String,
) -> Result<VoidOutcome, AuthError> {
    let (tube_fill, point_count) = store
        .tube_and_point_counts(tube.street, tube.id, point)
        .await?;
    // Its last swab's take-back withdrew it.
    let withdrawn = match store.tube(tube.street, tube.id).await {
        Ok(_) => false,
        Err(StoreError::NotFound(_)) => true,
        Err(e) => return Err(e.into()),
    };
    Ok(VoidOutcome {
        registration: registration.map(|k| k.to_string()),
        tube: tube.to_string(),
        tube_fill,
        point_count,
        reopened: false,
        promoted: None,
        withdrawn,
        already,
        message: message(tube_fill, withdrawn),
    })
}

fn void_reason(reason: &str) -> Result<String, AuthError> {
    gw_domain::text::reason(reason, crate::handoff::REASON_MAX).map_err(|e| {
        AuthError::Invalid(match e {
            gw_domain::text::NoteError::Empty => "撤销样本须写明原因（如：扫错了码、扫码后未采样）/ taking a swab back needs a reason (say: wrong code scanned, scanned but not swabbed)".into(),
            e => e.to_string(),
        })
    })
}

/// Group commit for scan registrations: one writer task per server takes
/// what the stations send, writes everything waiting in one transaction with
/// one durable commit, and answers each scan after that commit.
#[derive(Clone, Debug)]
pub struct ScanWriter {
    tx: tokio::sync::mpsc::Sender<WriteJob>,
    /// Signing keys, reloaded at most every [`KEY_CACHE_MS`] (and at once
    /// when a code names a key not yet seen): a code is checked without the
    /// database. A retired key stops verifying within that time.
    keys: Arc<std::sync::Mutex<Option<(i64, SigningKeys)>>>,
    readers: Arc<Readers>,
    /// Per street, the households held at home (封控 or 临时管控 in force on
    /// the household or around it), so a scan sees one without a read of its
    /// own (see [`ScanWriter::held_at_home`]).
    held: Arc<std::sync::Mutex<HashMap<i64, HeldHomes>>>,
    held_reload: Arc<tokio::sync::Mutex<()>>,
    /// The same for past minutes, for swabs synced late: `(street, minute)`
    /// → its households held then (a queue's swabs span a few minutes).
    held_then: Arc<std::sync::Mutex<HashMap<(i64, i64), HeldMap>>>,
}

/// Households held at home, with how.
type HeldMap = Arc<HashMap<i64, ControlStatus>>;

/// Past minutes kept in [`ScanWriter::held_then`] before it starts afresh.
const HELD_THEN_MINUTES: usize = 256;

/// A street's households held at home, as of `version` (its newest control
/// order) and `at_ms`.
#[derive(Debug)]
struct HeldHomes {
    version: Option<i64>,
    at_ms: i64,
    households: Arc<HashMap<i64, ControlStatus>>,
}

/// A street's households held at home at `at_ms` (封控 or 临时管控 in force
/// on the household or around it; sealed says more than temporary control).
pub(crate) async fn held_homes(
    store: &Store,
    street: i64,
    at_ms: i64,
) -> Result<HeldMap, StoreError> {
    let orders = crate::registry::controls_in_force(store, street, at_ms).await?;
    let mut held: HashMap<i64, ControlStatus> = HashMap::new();
    for ((kind, id), o) in &orders {
        if !o.status.door_to_door_only() {
            continue;
        }
        for h in store.households_under(street, kind, *id).await? {
            let e = held.entry(h).or_insert(o.status);
            if o.status == ControlStatus::Sealed {
                *e = ControlStatus::Sealed;
            }
        }
    }
    Ok(Arc::new(held))
}

/// How long [`HeldHomes`] is trusted while no order is added: an order
/// ended or released in place (no new id) is seen within this time, and so
/// is an order set to begin later.
const HELD_CACHE_MS: i64 = 10_000;

/// Connections a server holds for the scans' reads (see [`ScanWriter`]).
const HELD_READERS: usize = 4;

#[derive(Debug)]
struct Readers {
    store: Store,
    /// Held connections not in use.
    free: std::sync::Mutex<Vec<gw_store::testing::HeldConnection>>,
    /// Held connections in all, in use or not.
    held: AtomicUsize,
    /// Their own pool, made at the first scan.
    pool: tokio::sync::OnceCell<Store>,
}

/// The place of a held connection in use. Dropped without being kept (an
/// error, or a request given up half-way: the connection itself then goes
/// back to its pool), the place is freed.
struct ReaderSlot<'a> {
    readers: &'a Readers,
    kept: bool,
}

impl Drop for ReaderSlot<'_> {
    fn drop(&mut self) {
        if !self.kept {
            self.readers.held.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// Signing keys by id, shared.
type SigningKeys = Arc<Vec<(u32, Vec<u8>)>>;

/// How long signing keys are kept in memory by a server.
pub const KEY_CACHE_MS: i64 = 5_000;

/// What the writer is asked: a swab to store, or a tube to open.
#[derive(Debug)]
enum WriteJob {
    Register(
        OwnedRegistration,
        tokio::sync::oneshot::Sender<Result<Option<Stored>, String>>,
    ),
    Open(
        NewTube,
        tokio::sync::oneshot::Sender<Result<Option<i64>, String>>,
    ),
}

/// At most this many registrations share one commit.
pub const GROUP_COMMIT_MAX: usize = 256;

/// Writes a batch (or one job of a refused batch, see [`ScanWriter::start`])
/// on the writer's held connection, kept for the next batch when the write
/// succeeded and let go after an error, so a broken connection is replaced.
async fn write_held(
    store: &Store,
    held: &mut Option<gw_store::testing::HeldConnection>,
    opens: &[gw_store::testing::NewTube],
    rows: &[gw_store::testing::OwnedRegistration],
) -> Result<(Vec<Option<i64>>, Vec<Option<gw_store::testing::Stored>>), StoreError> {
    let mut conn = match held.take() {
        Some(c) => c,
        None => store.hold().await?,
    };
    let w = conn.write_scans(opens, rows).await;
    if w.is_ok() {
        *held = Some(conn);
    }
    w
}

impl ScanWriter {
    /// Starts the writer task (on the current tokio runtime).
    pub fn start(store: Store) -> ScanWriter {
        let readers_store = store.clone();
        let (tx, mut rx) = tokio::sync::mpsc::channel::<WriteJob>(4096);
        tokio::spawn(async move {
            // A connection of its own: the writer never queues behind readers.
            let store = match store.dedicated().await {
                Ok(own) => own,
                Err(e) => {
                    tracing::warn!(error = %e, "scan writer: no connection of its own, sharing the pool");
                    store
                }
            };
            // Held for good (no pool hand-out and return per batch); let go
            // after an error, so a broken connection is replaced.
            let mut held: Option<gw_store::testing::HeldConnection> = None;
            while let Some(first) = rx.recv().await {
                let mut jobs = vec![first];
                while jobs.len() < GROUP_COMMIT_MAX {
                    match rx.try_recv() {
                        Ok(j) => jobs.push(j),
                        Err(_) => break,
                    }
                }
                let mut opens = Vec::new();
                let mut open_replies = Vec::new();
                let mut rows = Vec::new();
                let mut replies = Vec::new();
                for j in jobs {
                    match j {
                        WriteJob::Register(row, reply) => {
                            rows.push(row);
                            replies.push(reply);
                        }
                        WriteJob::Open(t, reply) => {
                            opens.push(t);
                            open_replies.push(reply);
                        }
                    }
                }
                let started = std::time::Instant::now();
                let written = write_held(&store, &mut held, &opens, &rows).await;
                tracing::debug!(
                    swabs = rows.len(),
                    tubes = opens.len(),
                    ms = started.elapsed().as_secs_f64() * 1000.0,
                    "scan writer commit"
                );
                match written {
                    Ok((opened, stored)) => {
                        for (reply, id) in open_replies.into_iter().zip(opened) {
                            let _ = reply.send(Ok(id));
                        }
                        for (reply, st) in replies.into_iter().zip(stored) {
                            let _ = reply.send(Ok(st));
                        }
                    }
                    Err(e) if opens.len() + rows.len() == 1 => {
                        // Nothing was stored: the station is told and retries.
                        let msg = e.to_string();
                        for reply in open_replies {
                            let _ = reply.send(Err(msg.clone()));
                        }
                        for reply in replies {
                            let _ = reply.send(Err(msg.clone()));
                        }
                    }
                    Err(e) => {
                        // Nothing of the batch was stored. One job's failure
                        // (a tube withdrawn under a scan on its way, say)
                        // must not fail the stations it shared the commit
                        // with: each job is written again on its own, and
                        // only what fails alone is refused.
                        tracing::warn!(error = %e, swabs = rows.len(), tubes = opens.len(), "scan writer: batch refused, writing its jobs one by one");
                        for (t, reply) in opens.iter().zip(open_replies) {
                            let one =
                                write_held(&store, &mut held, std::slice::from_ref(t), &[]).await;
                            let _ = reply.send(
                                one.map(|(mut o, _)| o.pop().flatten())
                                    .map_err(|e| e.to_string()),
                            );
                        }
                        for (r, reply) in rows.iter().zip(replies) {
                            let one =
                                write_held(&store, &mut held, &[], std::slice::from_ref(r)).await;
                            let _ = reply.send(
                                one.map(|(_, mut st)| st.pop().flatten())
                                    .map_err(|e| e.to_string()),
                            );
                        }
                    }
                }
            }
        });
        ScanWriter {
            tx,
            keys: Arc::new(std::sync::Mutex::new(None)),
            held: Default::default(),
            held_reload: Default::default(),
            held_then: Default::default(),
            readers: Arc::new(Readers {
                store: readers_store,
                free: Default::default(),
                held: Default::default(),
                pool: Default::default(),
            }),
        }
    }

    /// A scan's one read, on a connection this server holds for scans when
    /// one is free (sqlx pings every connection returned to a pool: a second
    /// trip per read), else through the store's pool.
    async fn scan_state(
        &self,
        store: &Store,
        q: &gw_store::testing::ScanQuery<'_>,
    ) -> Result<gw_store::testing::ScanState, StoreError> {
        let r = &self.readers;
        let taken = r.free.lock().ok().and_then(|mut f| f.pop());
        let (mut conn, mut slot) = match taken {
            Some(c) => (
                c,
                ReaderSlot {
                    readers: r,
                    kept: false,
                },
            ),
            None => {
                if r.held.fetch_add(1, Ordering::SeqCst) >= HELD_READERS {
                    r.held.fetch_sub(1, Ordering::SeqCst);
                    return store.scan_state(q).await;
                }
                // From here the place is the slot's: freed however this ends.
                let slot = ReaderSlot {
                    readers: r,
                    kept: false,
                };
                let made = match r
                    .pool
                    .get_or_try_init(|| r.store.separate(HELD_READERS as u32))
                    .await
                {
                    Ok(pool) => pool.hold().await,
                    Err(e) => Err(e),
                };
                match made {
                    Ok(c) => (c, slot),
                    Err(_) => return store.scan_state(q).await,
                }
            }
        };
        let state = conn.scan_state(q).await;
        if matches!(state, Ok(_) | Err(StoreError::NotFound(_))) {
            // Answered: the connection is sound, lend it again.
            if let Ok(mut free) = r.free.lock() {
                free.push(conn);
                slot.kept = true;
            }
        }
        state
    }

    async fn signing_keys(
        &self,
        store: &Store,
        now_ms: i64,
        fresh: bool,
    ) -> Result<SigningKeys, StoreError> {
        if !fresh {
            if let Ok(g) = self.keys.lock() {
                if let Some((at, k)) = g.as_ref() {
                    if now_ms - at < KEY_CACHE_MS && now_ms >= *at {
                        return Ok(k.clone());
                    }
                }
            }
        }
        let k = Arc::new(crate::codes::keys(store).await?);
        if let Ok(mut g) = self.keys.lock() {
            *g = Some((now_ms, k.clone()));
        }
        Ok(k)
    }

    /// Whether `household` is held at home (sealed or under temporary
    /// control, on itself, its unit, building or compound; the latest order
    /// on each of them counts): from a per-street cache, reloaded when the
    /// street's newest order (`version`, from the scan's read) changed or
    /// after [`HELD_CACHE_MS`].
    async fn held_at_home(
        &self,
        store: &Store,
        street: i64,
        household: i64,
        version: Option<i64>,
        now_ms: i64,
    ) -> Result<Option<ControlStatus>, StoreError> {
        let households = match self.held_cached(street, version, now_ms) {
            Some(h) => h,
            None => {
                // One reload at a time: the scans that missed meanwhile find
                // it done.
                let _one = self.held_reload.lock().await;
                if let Some(h) = self.held_cached(street, version, now_ms) {
                    return Ok(h.get(&household).copied());
                }
                let held = held_homes(store, street, now_ms).await?;
                if let Ok(mut g) = self.held.lock() {
                    g.insert(
                        street,
                        HeldHomes {
                            version,
                            at_ms: now_ms,
                            households: held.clone(),
                        },
                    );
                }
                held
            }
        };
        Ok(households.get(&household).copied())
    }

    /// Whether `household` was held at home when a swab synced late was
    /// taken (`at_ms`, judged to the minute): by the orders in force then.
    async fn held_at_home_then(
        &self,
        store: &Store,
        street: i64,
        household: i64,
        at_ms: i64,
    ) -> Result<Option<ControlStatus>, StoreError> {
        let minute = at_ms.div_euclid(60_000);
        let cached = self
            .held_then
            .lock()
            .ok()
            .and_then(|g| g.get(&(street, minute)).cloned());
        let held = match cached {
            Some(h) => h,
            None => {
                let h = held_homes(store, street, minute * 60_000).await?;
                if let Ok(mut g) = self.held_then.lock() {
                    if g.len() >= HELD_THEN_MINUTES {
                        g.clear();
                    }
                    g.insert((street, minute), h.clone());
                }
                h
            }
        };
        Ok(held.get(&household).copied())
    }

    /// A street's held households as cached, while still good for
    /// `version` at `now_ms` (see [`ScanWriter::held_at_home`]).
    fn held_cached(
        &self,
        street: i64,
        version: Option<i64>,
        now_ms: i64,
    ) -> Option<Arc<HashMap<i64, ControlStatus>>> {
        self.held.lock().ok().and_then(|g| {
            g.get(&street)
                .filter(|h| {
                    h.version == version && now_ms >= h.at_ms && now_ms - h.at_ms < HELD_CACHE_MS
                })
                .map(|h| h.households.clone())
        })
    }

    async fn insert(&self, row: OwnedRegistration) -> Result<Option<Stored>, StoreError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.send(WriteJob::Register(row, reply)).await?;
        answer
            .await
            .map_err(|_| StoreError::Other("scan writer stopped".into()))?
            .map_err(StoreError::Other)
    }

    /// Opens a tube in the writer's next commit; `None` when the barcode is taken.
    async fn open(&self, tube: NewTube) -> Result<Option<i64>, StoreError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.send(WriteJob::Open(tube, reply)).await?;
        answer
            .await
            .map_err(|_| StoreError::Other("scan writer stopped".into()))?
            .map_err(StoreError::Other)
    }

    async fn send(&self, job: WriteJob) -> Result<(), StoreError> {
        self.tx
            .send(job)
            .await
            .map_err(|_| StoreError::Other("scan writer stopped".into()))
    }
}

/// One scan as a station sends it.
#[derive(Debug, Clone)]
pub struct Scan<'a> {
    pub tube: Key,
    /// Generated by the station: a retry or an offline replay carries the same id.
    pub client_id: &'a str,
    /// A personal code, or a document number typed by hand.
    pub code: &'a str,
    pub purpose: &'a str,
    pub station: &'a str,
    /// A person on no roster: name and phone (the code is then empty). They
    /// become a pending resident, matched to the registry later.
    pub walk_in: Option<(&'a str, Option<&'a str>)>,
    /// When the station took the swab (an offline queue syncs later), by the
    /// station's clock.
    pub scanned_ms: i64,
    /// The station's clock when it sent the scan: the difference from the
    /// server's corrects `scanned_ms` (a phone whose clock is off).
    pub sent_ms: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FirstSwab {
    pub registration: String,
    pub point: String,
    /// The point's name, as its volunteers know it.
    pub point_name: String,
    pub scanned_ms: i64,
}

/// What the station is told.
#[derive(Debug, Clone, Serialize)]
pub struct ScanOutcome {
    pub registration: String,
    /// This client id was already stored: nothing was applied again.
    pub replay: bool,
    pub resident: Option<String>,
    pub purpose: String,
    /// Set when this is a second sampling swab (routine or door-to-door) of the resident in the round.
    pub duplicate_of: Option<FirstSwab>,
    /// What is wrong, for the station to show (stored anyway: the swab is in the tube).
    pub problem: String,
    pub tube_fill: i64,
    pub pool_size: i32,
    pub point_count: i64,
    /// A swab stored after its tube's result: what that result now asks for
    /// this resident. Taken before the result (an offline queue synced late),
    /// as for the tube's other members: `retest` (an abnormal pool: their
    /// household under temporary control too) or `resample` (an invalid
    /// tube); taken after it (into a tube already tested): `resample`.
    pub follow_up: Option<String>,
    /// Who was swabbed, masked (`张*萍 女 44岁`): for the volunteer to check
    /// the code is the person's. On a replay too, when the same code or
    /// number is sent again; absent for a walk-in and for nobody known.
    pub person: Option<String>,
    /// Something the volunteer must act on now, before the next person: the
    /// person has an open single-tube retest (a member of an abnormal pool,
    /// their household under temporary control) and was swabbed for
    /// something else.
    pub alert: Option<String>,
    /// The swab went into a tube that was no longer open (closed when full,
    /// by hand or by another station, or further along): stored and flagged,
    /// and the station takes a new tube before the next person.
    pub tube_closed: bool,
    /// The code was a document number with a typing mistake (its check
    /// character, length or birth date is wrong): stored and flagged as
    /// naming nobody; the station asks to take it back and type it again.
    pub retype: bool,
    /// The code was a well-formed document number (or a label read as one)
    /// registered to nobody in this street: stored and flagged as naming
    /// nobody; the station asks to take it back before the person is
    /// registered as a walk-in (or the next tube opened), so the tube does
    /// not count one swab twice.
    pub unregistered: bool,
}

/// Why a scan was not stored. `Rescan`: what was read names no person
/// (a blank read, a tube's, bag's or box's label, a text no scanner
/// reads, a walk-in's name or phone that cannot be kept) while the
/// volunteer is still with them (the scan is live): nothing was stored,
/// and the station drops it and has the person's code read again, never
/// keeping it to send later (synced late, the same scan would be stored
/// as a swab naming nobody). Anything else: as [`AuthError`].
#[derive(Debug, thiserror::Error)]
pub enum ScanRefusal {
    #[error("{0}")]
    Rescan(String),
    #[error(transparent)]
    Auth(#[from] AuthError),
}

impl From<StoreError> for ScanRefusal {
    fn from(e: StoreError) -> Self {
        ScanRefusal::Auth(e.into())
    }
}

impl From<ScanRefusal> for AuthError {
    fn from(e: ScanRefusal) -> Self {
        match e {
            ScanRefusal::Rescan(m) => AuthError::Invalid(m),
            ScanRefusal::Auth(e) => e,
        }
    }
}

/// Whom a scanned text names, as far as it can be told before the one
/// database read of a scan.
enum Who {
    /// A personal code with a good signature: its resident's uid and generation.
    Code(String, u32),
    /// A personal code signed with a key retired since (uid, generation,
    /// when the key was retired, the key): it counts only for a swab taken
    /// before then (an offline queue).
    RetiredKey(String, u32, i64, u32),
    /// A document number registered in this street, or a walk-in just added.
    Resident(i64),
    /// Nobody here: the reason is shown to the station.
    Nobody(String),
}

/// What a scanned text names: a personal code is checked against the
/// cached signing keys; a document number is looked up.
async fn identify(
    store: &Store,
    writer: &ScanWriter,
    now_ms: i64,
    street: i64,
    text: &str,
) -> Result<Who, StoreError> {
    let t = gw_domain::text::squeeze(text);
    if t.to_uppercase().starts_with("GW") {
        let code = match PersonalCode::decode(&t) {
            Ok(c) => c,
            Err(e) => return Ok(Who::Nobody(e.to_string())),
        };
        let mut checked = code.verify(&writer.signing_keys(store, now_ms, false).await?);
        if let Err(CodeError::UnknownKey(_)) = checked {
            // A key rotated since the cache was filled.
            checked = code.verify(&writer.signing_keys(store, now_ms, true).await?);
        }
        if let Err(CodeError::UnknownKey(id)) = checked {
            // Retired: still the person's for a swab taken before.
            if let Some((key, retired_ms)) = crate::codes::retired_key(store, id).await? {
                if code.verify(&[key]).is_ok() && code.street == street {
                    return Ok(Who::RetiredKey(
                        code.uid.to_lowercase(),
                        code.generation,
                        retired_ms,
                        id,
                    ));
                }
            }
        }
        return Ok(match checked {
            Err(e) => Who::Nobody(e.to_string()),
            Ok(()) if code.street != street => {
                // By its name, as the volunteer and the community know it.
                let name = match store.street_name(code.street).await {
                    Ok(n) => n,
                    Err(StoreError::NotFound(_)) => {
                        format!("编号 {} / no. {}", code.street, code.street)
                    }
                    Err(e) => return Err(e),
                };
                Who::Nobody(format!(
                    "其他街道（{name}）的居民 / resident of another street ({name})"
                ))
            }
            Ok(()) => Who::Code(code.uid.to_lowercase(), code.generation),
        });
    }
    match Document::guess(&t) {
        Ok(d) => {
            let owners = store.document_owners(&[(d.kind, d.number.clone())]).await?;
            Ok(match owners.iter().find(|o| o.street_id == street) {
                Some(o) => Who::Resident(o.resident_id),
                // Kept as a swab of nobody: the station is told to take it
                // back first (`unregistered`), or the walk-in registered
                // next would be a second swab in the tube.
                None if d.kind == DocKind::IdCard => Who::Nobody("证件号未在本街道登记：请按「撤销上一个」撤销此条，再按「临时人员」登记此人 / ID not registered in this street: take this scan back (Undo last scan), then register a walk-in".into()),
                None => Who::Nobody("不是个人码，也不是本街道登记的证件号：请按「撤销上一个」撤销此条；若是新采样管的条码，按「换管」后扫描；若是此人的证件，按「临时人员」登记 / not a personal code, nor a document number registered in this street: take this scan back (Undo last scan); a new tube's barcode: press New tube and scan it; the person's document: register a walk-in".into()),
            })
        }
        // Stored in the swab's flag, which the point's volunteers read: no
        // part of the number goes with it.
        Err(e) => Ok(Who::Nobody(gw_domain::text::labelled(
            "无法识别的码",
            "not a code or document",
            &e.without_digits(),
        ))),
    }
}

async fn outcome(
    store: &Store,
    street: i64,
    r: &RegistrationRow,
    replay: bool,
    pool_size: i32,
) -> Result<ScanOutcome, StoreError> {
    outcome_counted(store, street, r, replay, pool_size, None, None).await
}

/// `counts`: the tube's fill and the point's count when already known;
/// `first`: the first swab `r` duplicates, when already read.
async fn outcome_counted(
    store: &Store,
    street: i64,
    r: &RegistrationRow,
    replay: bool,
    pool_size: i32,
    counts: Option<(i64, i64)>,
    first: Option<RegistrationRow>,
) -> Result<ScanOutcome, StoreError> {
    let duplicate_of = match r.duplicate_of {
        Some(first_id) => {
            let f = match first {
                Some(f) if f.id == first_id => f,
                _ => store.registration_by_id(street, first_id).await?,
            };
            Some(FirstSwab {
                registration: Key { street, id: f.id }.to_string(),
                point: Key {
                    street,
                    id: f.point_id,
                }
                .to_string(),
                point_name: store.point(street, f.point_id).await?.name,
                scanned_ms: f.scanned_ms,
            })
        }
        None => None,
    };
    let (tube_fill, point_count) = match counts {
        Some(c) => c,
        None => {
            store
                .tube_and_point_counts(street, r.tube_id, r.point_id)
                .await?
        }
    };
    Ok(ScanOutcome {
        registration: Key { street, id: r.id }.to_string(),
        replay,
        resident: r.resident_id.map(|id| Key { street, id }.to_string()),
        purpose: r.purpose.clone(),
        duplicate_of,
        problem: r.problem.clone(),
        tube_fill,
        pool_size,
        point_count,
        follow_up: None,
        person: None,
        alert: None,
        tube_closed: false,
        retype: false,
        unregistered: false,
    })
}

/// Registers one swab. Never refused once authorised: a wrong code, a full or
/// closed tube, a second swab are stored and flagged. Exactly once per client id.
///
/// A swab stored in a tube past `open` may have come after the tube's
/// result (an offline station's queue synced late): its resident then gets
/// what the result gave the tube's other members (see
/// [`Store::follow_up_late_swab`]). A replay checks again, so a follow-up a
/// crash cut off is made by the station's retry.
pub async fn scan(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    writer: &ScanWriter,
    s: &Scan<'_>,
) -> Result<ScanOutcome, AuthError> {
    Ok(scan_checked(store, clock, p, writer, s).await?)
}

/// [`scan`], telling a refusal to read the person's code again
/// ([`ScanRefusal::Rescan`]) from the others: the station drops the one and
/// keeps the others.
pub async fn scan_checked(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    writer: &ScanWriter,
    s: &Scan<'_>,
) -> Result<ScanOutcome, ScanRefusal> {
    // A scanner's Enter and a pasted space are not part of a code; a control
    // character cannot come from a scanner or a keyboard, and PostgreSQL
    // refuses a NUL (in a batch shared with other stations' swabs).
    let s = &Scan {
        code: s.code.trim(),
        client_id: s.client_id.trim(),
        station: s.station.trim(),
        ..s.clone()
    };
    let now = clock.now_ms();
    let live = is_live(corrected_scan_ms(s, now), now);
    let control = |what: &str| {
        format!("{what} 含有控制字符，未登记 / {what} contains a control character: not stored")
    };
    for (what, text) in [("client_id", s.client_id), ("station", s.station)] {
        if text.chars().any(char::is_control) {
            return Err(AuthError::Invalid(control(what)).into());
        }
    }
    // A code with a control character was not read from a person's code
    // or document: live, read again; synced late (the swab is in the tube),
    // stored without them, as read otherwise (a replay strips the same).
    let stripped: Option<String> = s
        .code
        .chars()
        .any(char::is_control)
        .then(|| s.code.chars().filter(|c| !c.is_control()).collect());
    if stripped.is_some() && live {
        return Err(ScanRefusal::Rescan(format!(
            "{}：{RESCAN_ZH} / {RESCAN_EN}",
            control("code")
        )));
    }
    let s = &Scan {
        code: stripped.as_deref().map_or(s.code, str::trim),
        ..s.clone()
    };
    // No scanner reads this much from a code, a document or a label, and no
    // station names itself at such length. While the volunteer is with the
    // person the scan is refused, to be read again; synced late from an
    // offline queue, the swab is in the tube: stored, its text cut to the
    // limit (the same cut for a replay), naming nobody and so flagged.
    let too_long = |what: &str, max: usize| {
        format!(
            "{what} 超过 {max} 个字符，不是扫码内容，未登记 / {what} is longer than {max} characters, not a scan: not stored"
        )
    };
    for (what, text) in [("client_id", s.client_id), ("station", s.station)] {
        if text.chars().count() > MAX_SCAN_TEXT {
            return Err(AuthError::Invalid(too_long(what, MAX_SCAN_TEXT)).into());
        }
    }
    let cut = |text: &str, max: usize| -> Option<String> {
        (text.chars().count() > max).then(|| text.chars().take(max).collect())
    };
    let code_cut = cut(s.code, MAX_SCAN_TEXT);
    if code_cut.is_some() && live {
        return Err(ScanRefusal::Rescan(format!(
            "{}：{RESCAN_ZH} / {RESCAN_EN}",
            too_long("code", MAX_SCAN_TEXT)
        )));
    }
    let name_cut = s
        .walk_in
        .and_then(|(name, _)| cut(name.trim(), MAX_WALK_IN_NAME));
    if name_cut.is_some() && live {
        return Err(ScanRefusal::Rescan(format!(
            "临时人员姓名超过 {MAX_WALK_IN_NAME} 个字 / a walk-in's name is longer than {MAX_WALK_IN_NAME} characters"
        )));
    }
    let s = &Scan {
        code: code_cut.as_deref().unwrap_or(s.code),
        walk_in: match (s.walk_in, name_cut.as_deref()) {
            (Some((_, phone)), Some(name)) => Some((name, phone)),
            (w, _) => w,
        },
        ..s.clone()
    };
    let (mut out, late) = register_swab(store, clock, p, writer, s).await?;
    if let Some((tube, resident, scanned_ms)) = late {
        // What held people at home before a late member of an abnormal pool
        // is held too: the stay-home notice (as for the pool's other
        // members) tells only of a household not held already. Read for a
        // swab into a tube past `open` only, never for a live scan into an
        // open tube.
        let mut held = AlertHolds::before(store, clock, s.tube.street, true).await;
        let f = store
            .follow_up_late_swab(
                s.tube.street,
                tube,
                resident,
                scanned_ms,
                &p.actor(),
                clock.now_ms(),
            )
            .await?;
        if f.opened || f.resolved > 0 {
            access::record(
                store,
                clock,
                p,
                "late_follow_up",
                (
                    s.tube.street,
                    "resident",
                    &Key {
                        street: s.tube.street,
                        id: resident,
                    }
                    .to_string(),
                ),
                // The audit log outlives a purge: it names the tube, not its
                // result (health data about this resident).
                &format!(
                    "tube={} opened={} resolved={} released={}",
                    Key {
                        street: s.tube.street,
                        id: tube
                    },
                    f.opened,
                    f.resolved,
                    f.released
                ),
                "",
            )
            .await?;
        }
        if let (Some(household), Some(alert)) = (f.household, f.alert_id) {
            held.alerts.push(alert);
            held.households.push(household);
        }
        held.tell(store, clock, p, s.tube.street).await;
        out.follow_up = f.kind.map(str::to_string);
    }
    Ok(out)
}

/// [`scan`]'s registration; also the tube, resident and swab time to check
/// for a result the swab came after (a tube past `open`, or any replay).
async fn register_swab(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    writer: &ScanWriter,
    s: &Scan<'_>,
) -> Result<(ScanOutcome, Option<(i64, i64, i64)>), ScanRefusal> {
    let street = s.tube.street;
    check_client_id(s.client_id)?;
    let use_ = TubeUse::of_purpose(s.purpose)?;
    let now = clock.now_ms();
    if s.walk_in.is_some() && !s.code.trim().is_empty() {
        return Err(AuthError::Invalid(
            "一次扫码只能是一个码或一位临时人员，不能两者都有 / a scan is a code or a walk-in, not both".into(),
        )
        .into());
    }
    let walk_in = s.walk_in;
    let who = match walk_in {
        // The pending resident is made after the access check.
        Some(_) => Who::Nobody(String::new()),
        None => identify(store, writer, now, street, s.code).await?,
    };
    // The tube, the access check's place, the code's resident, a replay, the
    // counts and a first swab: one read.
    let state = writer
        .scan_state(
            store,
            &gw_store::testing::ScanQuery {
                street,
                client_id: s.client_id,
                tube: s.tube.id,
                uid: match &who {
                    Who::Code(uid, _) | Who::RetiredKey(uid, _, _, _) => Some(uid.as_str()),
                    _ => None,
                },
                resident: match who {
                    Who::Resident(id) => Some(id),
                    _ => None,
                },
            },
        )
        .await?;
    let tube = &state.tube;
    let round_starts_ms = state.round_starts_ms;
    let place = Place {
        district: Some(state.district),
        street,
        community: Some(state.community),
        grid: None,
        point: Some(tube.point_id),
    };
    access::authorize(p, clock, Action::Scan, &place)?;
    if state.replay.is_some() {
        if let Some(r) = store.registration_by_client(street, s.client_id).await? {
            // A walk-in resent under the id of another walk-in's swab is
            // another person: not a replay.
            if let (Some((name, _)), Some(id)) = (walk_in, r.resident_id) {
                let stored = store.resident(street, id).await?;
                if gw_domain::text::clean(&stored.resident.name) != gw_domain::text::clean(name) {
                    return Err(StoreError::Conflict(format!(
                        "client_id {} 已用于另一位临时人员的样本，本次未登记 / client_id {} was used for another walk-in's swab: this one is not stored",
                        r.client_id, r.client_id
                    ))
                    .into());
                }
            }
            let r = finish_take_over(store, tube, s.code, s.purpose, round_starts_ms, r).await?;
            let late = r.resident_id.map(|id| (r.tube_id, id, r.scanned_ms));
            let mut out = outcome(store, street, &r, true, tube.pool_size).await?;
            // The read named this swab's resident (the same code or number
            // sent again): the volunteer whose first answer was lost sees who
            // it was, and an open retest, as the first answer said.
            let read_names = match &who {
                Who::Code(_, _) | Who::RetiredKey(_, _, _, _) => state.uid_resident,
                Who::Resident(id) => Some(*id),
                Who::Nobody(_) => None,
            };
            if let (Some(rid), true) = (r.resident_id, read_names == r.resident_id) {
                if walk_in.is_none() {
                    let taken = retest_taken(store, &state, rid, &out.purpose).await;
                    tell_who(&mut out, &state, now, taken);
                }
            }
            return Ok((out, late));
        }
        // Stored when read, gone now: taken back in the meantime.
        if store.voided_by_client(street, s.client_id).await?.is_some() {
            return Err(AuthError::Voided.into());
        }
    }
    if state.replay.is_none() && state.voided.is_some() {
        return Err(AuthError::Voided.into());
    }
    // A blank read (a scanner's stray Enter) or a tube's label read where
    // the person's code goes names nobody: while the volunteer is still in
    // front of the person (the scan is live) it is refused, to be scanned
    // again; storing it would count a swab nobody gave. Synced late from an
    // offline queue, the person is gone: it is stored and flagged, as any
    // code naming nobody, so the tube's count keeps the swab that may be in
    // it. A replay was answered above whatever it holds.
    let scanned_ms = corrected_scan_ms(s, now);
    let live = is_live(scanned_ms, now);
    if walk_in.is_none() && live {
        if s.code.trim().is_empty() {
            return Err(ScanRefusal::Rescan(
                "扫码为空：请重新扫描此人的个人码或证件 / the scan is empty: scan the person's code or document again".into(),
            ));
        }
        // An ID card number is a person's, whatever batch it starts like;
        // another document's number may look like a label, and is one only
        // when a tube of the round has it or an issue covers it.
        let id_card = matches!(Document::guess(s.code.trim()), Ok(d) if d.kind == DocKind::IdCard);
        if matches!(who, Who::Nobody(_)) && !id_card {
            if let Some(why) =
                crate::handoff::label_in_round(store, street, tube.round_id, s.code).await?
            {
                return Err(ScanRefusal::Rescan(why.into()));
            }
        }
    }
    // The walk-in made for this scan, if any: a replay stored first leaves it
    // naming no swab, and it goes.
    let mut made_pending: Option<i64> = None;
    let (who, mut problem, first_routine) = match walk_in {
        Some((name, phone)) => {
            let name = gw_domain::text::clean(name);
            if name.is_empty() {
                return Err(AuthError::Invalid(
                    "临时人员须填写姓名 / a walk-in needs a name".into(),
                )
                .into());
            }
            let mut r = gw_domain::resident::NewResident::named(&name);
            let mut note = String::new();
            if let Some(p) = phone.filter(|p| !p.trim().is_empty()) {
                match gw_domain::phone::Phone::parse(p) {
                    Ok(phone) => r.phones.push(gw_domain::resident::ResidentPhone {
                        phone,
                        relation: gw_domain::phone::PhoneRelation::Own,
                    }),
                    // The volunteer is still with them: asked again, or
                    // the walk-in's only contact would be lost.
                    Err(e) if live => {
                        return Err(ScanRefusal::Rescan(gw_domain::text::labelled(
                            "临时人员电话无效，请核对后重新提交",
                            "the walk-in's phone is not valid: check it and send again",
                            &e.to_string(),
                        )))
                    }
                    Err(e) => {
                        note = format!(
                            "；{}",
                            gw_domain::text::labelled(
                                "电话无效未记录",
                                "phone left out",
                                &e.to_string()
                            )
                        )
                    }
                }
            }
            // The same walk-in (name and phone) registered before, at this
            // point or another, is the same person: their swab here is a
            // second one, flagged as a registered resident's would be, and
            // the community has one pending record to match, not several.
            let before = match r.phones.first() {
                Some(ph) => {
                    store
                        .pending_walk_in(street, &r.name, ph.phone.as_str())
                        .await?
                }
                None => None,
            };
            match before {
                Some(id) => {
                    let first = store
                        .first_routine(street, tube.round_id, id)
                        .await?
                        .map(|f| f.id);
                    (Who::Resident(id), walk_in_problem(&note), first)
                }
                None => {
                    // Made only once the replay check above found nothing: a
                    // replayed walk-in adds nobody.
                    let id = store
                        .add_pending_resident(street, &crate::new_uid(), &r, now)
                        .await?;
                    made_pending = Some(id);
                    (
                        Who::Resident(id),
                        walk_in_problem(&note),
                        // Someone just added has no earlier swab.
                        None,
                    )
                }
            }
        }
        None => (who, String::new(), state.first_routine),
    };
    // A code whose key was retired after the swab was taken (a trusted
    // time: an offline queue synced late) is checked as any code, flagged;
    // taken after the retirement it names nobody.
    let who = match who {
        Who::RetiredKey(uid, generation, retired_ms, _)
            if before_round(scanned_ms, state.round_starts_ms).is_none()
                && scanned_ms < retired_ms =>
        {
            problem = join(problem, KEY_RETIRED_AFTER);
            Who::Code(uid, generation)
        }
        Who::RetiredKey(_, _, _, key) => Who::Nobody(CodeError::UnknownKey(key).to_string()),
        w => w,
    };
    let resident = match who {
        Who::Resident(id) => Some(id),
        Who::RetiredKey(_, _, _, _) => None,
        Who::Code(_, generation) => match (state.uid_resident, state.uid_generation) {
            (Some(id), Some(g)) if g == i64::from(generation) => Some(id),
            // Taken with the code the last reissue revoked, but before it
            // (a trusted time: synced from an offline station, or a queue
            // that caught up within minutes of the reissue): it counts. A
            // scan with no time of its own is taken now, after the reissue.
            (Some(id), Some(g))
                if g == i64::from(generation) + 1
                    && before_round(scanned_ms, state.round_starts_ms).is_none()
                    && state.code_reissued_ms.is_some_and(|t| scanned_ms < t) =>
            {
                problem = REISSUED_AFTER.into();
                Some(id)
            }
            (Some(_), _) => {
                problem = crate::codes::VerifyError::Revoked.to_string();
                None
            }
            (None, _) => {
                problem = crate::codes::VerifyError::Unknown.to_string();
                None
            }
        },
        Who::Nobody(why) => {
            problem = why;
            None
        }
    };
    let fill = state.tube_fill;
    let round_state = &state.round_state;
    if !use_.fits(round_state) {
        problem = join(problem, &{
            let (zh, en) = gw_domain::testing::round_state_words(round_state);
            format!("本轮{zh}（非采样中）/ the round is {en}, not open")
        });
    }
    if tube.state != "open" {
        problem = join(
            problem,
            &format!(
                "采样管{} / the tube is {}",
                gw_domain::testing::TubeState::parse(&tube.state)
                    .map_or(tube.state.as_str(), |s| s.label_zh()),
                tube.state.replace('_', " ")
            ),
        );
    } else if fill >= i64::from(tube.pool_size) {
        problem = join(problem, "超出混采数 / more swabs than the pool size");
    }
    if scanned_ms > now + CLOCK_AHEAD_MS {
        problem = join(
            problem,
            "采样时间晚于服务器时间，请校准站点时钟 / the swab's time is after the server's: the station's clock is ahead",
        );
    }
    let behind = before_round(scanned_ms, state.round_starts_ms);
    let time_trusted = behind.is_none();
    if let Some(flag) = behind {
        problem = join(problem, &flag);
    }
    if tube.tube_use != use_.name() {
        let held = TubeUse::of_tube(&tube.tube_use);
        problem = join(
            problem,
            &format!(
                "采样管为{}用途，本样本为{} / a {} swab in a tube opened for {}",
                held.label_zh(),
                use_.label_zh(),
                s.purpose,
                tube.tube_use
            ),
        );
    }
    // Someone held at home (sealed, or under temporary control) swabbed at
    // a point: stored (the swab is in the tube), flagged for the command
    // post, and the volunteer told at once.
    // A live scan is judged by the orders in force now; one synced late by
    // those in force when it was taken (to the minute): the person is gone,
    // but the command post learns a held home's member went out.
    let held_home = match (resident, state.household, s.purpose) {
        (Some(_), Some(h), "routine") => {
            let held = if live {
                writer
                    .held_at_home(store, street, h, state.control_version, now)
                    .await
            } else {
                writer.held_at_home_then(store, street, h, scanned_ms).await
            };
            match held {
                Ok(held) => held,
                // The flag is a help, not the swab: a failed look-up of who
                // is held does not cost the scan.
                Err(e) => {
                    tracing::warn!(error = %e, "who is held at home could not be read; the scan goes on unflagged");
                    None
                }
            }
        }
        _ => None,
    };
    if let Some(status) = held_home {
        let (zh, en) = if live {
            ("此人住处为", "lives")
        } else {
            ("采样时此人住处为", "lived, when swabbed,")
        };
        problem = join(
            problem,
            &format!(
                "{zh}{}，应居家上门采样 / {en} under {} control: to be swabbed at home, not at a point",
                status.label_zh(),
                status.code()
            ),
        );
    }
    // A retest swab of someone with no single-tube retest open (a second
    // retest, or the wrong person called over): stored, flagged for the
    // community to check. Live scans only: one synced late may have been
    // taken while the retest was open, and answered it since.
    if resident.is_some() && s.purpose == "retest" && live && state.open_retests == 0 {
        problem = join(
            problem,
            "此人没有待做的单管复检 / this person has no open single-tube retest",
        );
    }
    // So is a re-sample swab of someone with no re-sample open (after an
    // invalid tube) in the round: a person scanned into the wrong tube at
    // the door, or re-sampled twice. Read only for a re-sample swab.
    // The flag is a help, not the swab: a failed read does not cost the scan.
    if let (Some(rid), "resample", true) = (resident, s.purpose, live) {
        match store.open_resamples(street, tube.round_id, rid).await {
            Ok(0) => {
                problem = join(
                    problem,
                    "此人没有待做的重采 / this person has no re-sample due",
                );
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "open re-samples could not be read; the scan goes on unflagged");
            }
        }
    }
    // A routine or door-to-door swab after the resident's first of either
    // is its duplicate (a person swabbed at a point and again at the door).
    let duplicate_of = match (resident, s.purpose) {
        (Some(_), p) if gw_domain::testing::is_sampling(p) => first_routine,
        _ => None,
    };
    // The first swab, read to tell the station where and when it was taken,
    // and to see whether this one was taken before it (an offline station's
    // swab synced late): then this one becomes the first.
    let mut first = match duplicate_of {
        // Taken back since the read: this swab is stored as a first, and the
        // unique index sends it the other way if another became the first.
        Some(id) => match store.registration_by_id(street, id).await {
            Ok(f) => Some(f),
            Err(StoreError::NotFound(_)) => None,
            Err(e) => return Err(e.into()),
        },
        None => None,
    };
    let duplicate_of = duplicate_of.filter(|_| first.is_some());
    let mut w = OwnedRegistration {
        street_id: street,
        client_id: s.client_id.to_string(),
        round_id: tube.round_id,
        point_id: tube.point_id,
        tube_id: tube.id,
        resident_id: resident,
        raw_code: s.code.to_string(),
        purpose: s.purpose.to_string(),
        duplicate_of,
        problem,
        scanned_ms,
        stored_ms: now,
        station: s.station.to_string(),
    };
    let replayed = |r: RegistrationRow| async move {
        if let Some(id) = made_pending {
            store.drop_unswabbed_pending(street, id).await?;
        }
        let r = finish_take_over(store, tube, s.code, s.purpose, round_starts_ms, r).await?;
        let late = r.resident_id.map(|id| (r.tube_id, id, r.scanned_ms));
        Ok::<_, StoreError>((
            outcome(store, street, &r, true, tube.pool_size).await?,
            late,
        ))
    };
    // Nothing stored (the database failed): the walk-in made for it goes
    // too, so the station's retry makes one, not two.
    let unstored = |e: StoreError| async move {
        if let Some(id) = made_pending {
            if let Err(e2) = store.drop_unswabbed_pending(street, id).await {
                tracing::warn!(error = %e2, "a walk-in made for an unstored swab stays pending");
            }
        }
        e
    };
    // The write failed. A tube withdrawn while this scan was on its way is
    // said at once (as the station's retry would hear it), not as a 503.
    let failed = |e: StoreError| async move {
        let e = match store.tube(street, tube.id).await {
            Err(gone @ StoreError::NotFound(_)) => gone,
            _ => e,
        };
        unstored(e).await
    };
    let first_try = match writer.insert(w.clone()).await {
        Ok(v) => v,
        Err(e) => return Err(failed(e).await.into()),
    };
    let stored = match first_try {
        Some(stored) => stored,
        None => {
            // A unique key refused it: the same client id (a replay), or the
            // same resident's first sampling swab stored by another station;
            // or the station took this scan back while it was on its way.
            if let Some(r) = store.registration_by_client(street, s.client_id).await? {
                return Ok(replayed(r).await?);
            }
            if store.voided_by_client(street, s.client_id).await?.is_some() {
                if let Some(id) = made_pending {
                    store.drop_unswabbed_pending(street, id).await?;
                }
                return Err(AuthError::Voided.into());
            }
            first = match (resident, s.purpose) {
                (Some(rid), p) if gw_domain::testing::is_sampling(p) => {
                    store.first_routine(street, tube.round_id, rid).await?
                }
                _ => None,
            };
            w.duplicate_of = first.as_ref().map(|f| f.id);
            let second_try = match writer.insert(w.clone()).await {
                Ok(v) => v,
                Err(e) => return Err(failed(e).await.into()),
            };
            match second_try {
                Some(stored) => stored,
                None => match store.registration_by_client(street, s.client_id).await? {
                    Some(r) => return Ok(replayed(r).await?),
                    None => {
                        return Err(StoreError::Other("registration refused twice".into()).into())
                    }
                },
            }
        }
    };
    if let (Some(f), Some(rid)) = (&first, resident) {
        if w.duplicate_of == Some(f.id) && time_trusted && scanned_ms < f.scanned_ms - EARLIER_BY_MS
        {
            store
                .take_first(street, tube.round_id, rid, stored.id)
                .await?;
            w.duplicate_of = None;
        } else if w.duplicate_of == Some(f.id)
            && !matches!(
                store.swab_point(street, f.id).await?,
                Some(gw_store::testing::SwabPlace { voided: false, .. })
            )
        {
            // The first was taken back after this scan read it: the first is
            // now the swab the void made first, unless this one was taken
            // earlier (by the rule above), or none (this one).
            let now_first = store.first_routine(street, tube.round_id, rid).await?;
            let keep = match &now_first {
                Some(f2)
                    if f2.id != stored.id
                        && !(time_trusted && scanned_ms < f2.scanned_ms - EARLIER_BY_MS) =>
                {
                    f2.id
                }
                _ => stored.id,
            };
            store.take_first(street, tube.round_id, rid, keep).await?;
            if keep == stored.id {
                w.duplicate_of = None;
                first = None;
            } else {
                w.duplicate_of = Some(keep);
                first = now_first;
            }
        }
    }
    // A full tube was closed by the writer, in the transaction that filled it.
    // The row as stored (no read-back).
    let r = RegistrationRow {
        id: stored.id,
        client_id: w.client_id,
        tube_id: w.tube_id,
        point_id: w.point_id,
        resident_id: w.resident_id,
        purpose: w.purpose,
        duplicate_of: w.duplicate_of,
        problem: w.problem,
        scanned_ms: w.scanned_ms,
        raw_code: w.raw_code,
    };
    // Counts as the writer made them: this swab's place in its tube and point.
    let counts = Some((stored.tube_fill, stored.point_count));
    // A tube past open may have its result already.
    let late = match (tube.state.as_str(), r.resident_id) {
        ("open", _) | (_, None) => None,
        (_, Some(id)) => Some((r.tube_id, id, r.scanned_ms)),
    };
    let mut out = outcome_counted(store, street, &r, false, tube.pool_size, counts, first).await?;
    out.tube_closed = tube.state != "open";
    out.retype = resident.is_none() && walk_in.is_none() && mistyped(s.code);
    out.unregistered = resident.is_none() && walk_in.is_none() && unregistered(s.code);
    if let Some(rid) = resident {
        let taken = retest_taken(store, &state, rid, &out.purpose).await;
        tell_who(&mut out, &state, now, taken);
    }
    // The volunteer is told while the person is in front of them (after
    // that their retest was taken already, if it was).
    if let (Some(status), true) = (held_home, live) {
        let held = format!(
            "此人住处为{}，不应到采样点：请报告采样点负责人，由社区安排其返回并居家上门采样 / this person lives under {} control and should not be at a point: tell the point's manager; the community sees them home and swabs them there",
            status.label_zh(),
            status.code()
        );
        out.alert = match out.alert.take() {
            None => Some(held),
            Some(a) if a.starts_with(RETEST_TAKEN) => Some(format!("{held}；{a}")),
            Some(a) => Some(a),
        };
    }
    Ok((out, late))
}

/// When and where (the point's name) resident `rid`'s open retest was
/// swabbed already, its result to come: read only for someone with an open
/// retest swabbed now for another purpose (see [`tell_who`]). Read once the
/// swab is stored: a failed read is said as an open retest (take it), not
/// as a failed scan.
async fn retest_taken(
    store: &Store,
    state: &gw_store::testing::ScanState,
    rid: i64,
    purpose: &str,
) -> Option<(i64, String)> {
    if state.open_retests == 0 || purpose == "retest" {
        return None;
    }
    let street = state.tube.street_id;
    let read = async {
        match store
            .retest_swab_pending(street, state.tube.round_id, rid)
            .await?
        {
            Some(t) => Ok::<_, StoreError>(Some((
                t.scanned_ms,
                store.point(street, t.point_id).await?.name,
            ))),
            None => Ok(None),
        }
    };
    match read.await {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(error = %e, "a retest swab taken already could not be read; the station is told the retest is open");
            None
        }
    }
}

/// How the station is told that the person's open retest was swabbed
/// already (where and when follow), its result to come.
const RETEST_TAKEN: &str = "此人所在混管异常，单管复检已采";

/// The masked line about who was swabbed (`person`) and, when they have an
/// open single-tube retest and this swab is not it, the `alert` the
/// volunteer must act on: from the scan's one read, whose resident is the
/// swab's. `retest_taken`: when and where (the point's name) their retest
/// swab was taken, its result still to come: then nothing is to be taken
/// again, and the station says so.
fn tell_who(
    out: &mut ScanOutcome,
    state: &gw_store::testing::ScanState,
    now: i64,
    retest_taken: Option<(i64, String)>,
) {
    let today = gw_domain::date::Date::from_unix_ms_cst(now);
    let age = state
        .birth_date
        .as_deref()
        .and_then(|b| gw_domain::date::Date::parse(b).ok())
        .zip(today)
        .map(|(b, t)| b.age_on(t));
    let gender = state
        .gender
        .as_deref()
        .map_or("", |g| gw_domain::resident::Gender::from_code(g).label_zh());
    out.person = state
        .name
        .as_deref()
        .map(|n| gw_domain::mask::person_brief(n, gender, age));
    if let (Some((at, point)), true) = (&retest_taken, out.purpose != "retest") {
        let at = gw_domain::schedule::hhmm(*at);
        out.alert = Some(format!(
            "{RETEST_TAKEN}（{at}，{point}），待结果：请勿再采单管复检 / this person was in an abnormal pool and their single-tube retest was taken already ({at}, {point}), result pending: do not take another retest swab"
        ));
    } else if state.open_retests > 0 && out.purpose != "retest" {
        out.alert = Some(
            "此人所在混管异常，有待做的单管复检，户已临时管控：请用单管复检的采样管为其单独采样，并报告采样点负责人 / this person was in an abnormal pool and has an open single-tube retest (household under temporary control): swab them alone in a retest tube and tell the point's manager".into(),
        );
    }
}

/// How a swab synced late with a code whose signing key was retired after
/// it was taken is flagged (it counts for its person).
const KEY_RETIRED_AFTER: &str = "此码的密钥在采样后已停用（样本计入本人）/ the code's signing key was retired after this swab was taken (it counts for its person)";

/// How a swab synced late with a code revoked after it was taken is
/// flagged (it counts for its person).
const REISSUED_AFTER: &str = "此码在采样后已补发新码（样本计入本人）/ the code was reissued after this swab was taken (it counts for its person)";

/// A walk-in swab's `problem`: the note, then what else was wrong with
/// what was given (`note`, from `；`). With no note it says only that the
/// community is to check who it was: the station shows that as done.
pub fn walk_in_problem(note: &str) -> String {
    format!("{}{note}", gw_domain::testing::WALK_IN_PROBLEM)
}

/// A replayed swab stored as the duplicate of a first taken more than
/// [`EARLIER_BY_MS`] after it: the first try stored it but did not live to
/// make it the first (the process died between the two writes); the replay
/// does. Anything else comes back as it is; a "replay" of another tube,
/// another code or another purpose is a conflict (the client id was reused).
async fn finish_take_over(
    store: &Store,
    tube: &gw_store::testing::TubeRow,
    code: &str,
    purpose: &str,
    round_starts_ms: i64,
    mut r: RegistrationRow,
) -> Result<RegistrationRow, StoreError> {
    // A client id names one swab in one tube: the same id sent with another
    // tube is not a replay, and its answer (whose swab, the other tube's and
    // point's counts) is not this station's to read.
    if r.tube_id != tube.id {
        return Err(StoreError::Conflict(format!(
            "client_id {} 已用于另一支采样管的样本，本次未登记 / client_id {} was used for a swab in another tube: this one is not stored",
            r.client_id, r.client_id
        )));
    }
    // Nor is the same id sent with another code: a station that reused an id
    // would otherwise lose the second person without a word. (A purge
    // cleared the stored code: a replay that old is taken as it is.)
    if !r.raw_code.is_empty() && r.raw_code != code {
        return Err(StoreError::Conflict(format!(
            "client_id {} 已用于另一个码的样本，本次未登记 / client_id {} was used for a swab of another code: this one is not stored",
            r.client_id, r.client_id
        )));
    }
    // Nor a code sent with the id of a walk-in's swab (stored with no code,
    // as a purged swab is; a purged one's flag is cleared with it).
    if r.raw_code.is_empty()
        && r.problem.starts_with(gw_domain::testing::WALK_IN_PROBLEM)
        && !code.is_empty()
    {
        return Err(StoreError::Conflict(format!(
            "client_id {} 已用于一位临时人员的样本，本次未登记 / client_id {} was used for a walk-in's swab: this one is not stored",
            r.client_id, r.client_id
        )));
    }
    // Nor with another purpose: a retry that says "door to door" where the
    // stored swab says "routine" is another swab, and the answer would tell
    // the station something it did not store.
    if r.purpose != purpose {
        let (zh, en) = gw_domain::testing::purpose_words(&r.purpose);
        return Err(StoreError::Conflict(format!(
            "client_id {} 已用于另一种用途的样本（{zh}），本次未登记 / client_id {} was used for a swab of another purpose ({en}): this one is not stored",
            r.client_id, r.client_id
        )));
    }
    let (Some(first_id), Some(resident)) = (r.duplicate_of, r.resident_id) else {
        return Ok(r);
    };
    let first = store.registration_by_id(tube.street_id, first_id).await?;
    if before_round(r.scanned_ms, round_starts_ms).is_none()
        && r.scanned_ms < first.scanned_ms - EARLIER_BY_MS
    {
        store
            .take_first(tube.street_id, tube.round_id, resident, r.id)
            .await?;
        r.duplicate_of = None;
    }
    Ok(r)
}

/// A second sampling swab taken this much earlier than the stored first (by
/// the stations' clocks) is the first: an offline station's queue synced
/// late. Within it, the order of arrival stands, so that two stations whose
/// clocks differ by a minute or two do not swap live swabs.
pub const EARLIER_BY_MS: i64 = 120_000;

/// A swab time this far after the server's clock is flagged (the station's
/// clock runs ahead).
pub const CLOCK_AHEAD_MS: i64 = 300_000;

/// The longest code, client id or station name a scan may carry (a
/// personal code has 45 characters, a document number at most 18).
pub const MAX_SCAN_TEXT: usize = 200;

/// A document number typed with a mistake a second try would fix: its
/// check character, its length or the birth date inside it.
/// (A personal code is never one: it is read as a code, as in `identify`.)
fn mistyped(code: &str) -> bool {
    use gw_domain::idnumber::IdNumberError as E;
    let t = gw_domain::text::squeeze(code);
    !t.to_uppercase().starts_with("GW")
        && matches!(
            Document::guess(code),
            Err(E::BadCheck { .. } | E::BadBirthDate(_) | E::WrongLength(_))
        )
}

/// Whether a code that named nobody was a well-formed document number
/// (so nobody of this street has it), not a personal code.
fn unregistered(code: &str) -> bool {
    let t = gw_domain::text::squeeze(code);
    !t.to_uppercase().starts_with("GW") && Document::guess(code).is_ok()
}

/// What a refusal to be read again ([`ScanRefusal::Rescan`]) asks for.
const RESCAN_ZH: &str = "请重新扫描此人的个人码或证件";
const RESCAN_EN: &str = "scan the person's code or document again";

/// The longest walk-in name taken (the station's form allows as many).
pub const MAX_WALK_IN_NAME: usize = 40;

/// A scan taken at most this long ago (by the server's clock) is live: the
/// volunteer is still with the person, and can be asked to scan again.
const LIVE_SCAN_MS: i64 = 120_000;

/// Whether a swab taken at `scanned_ms` (the station's time, corrected) is
/// live at `now`: the volunteer is still with the person.
fn is_live(scanned_ms: i64, now: i64) -> bool {
    now.saturating_sub(scanned_ms) <= LIVE_SCAN_MS
}

/// When a swab was taken by the server's clock: the station's time, moved by
/// how far its clock was from the server's when it sent the scan.
fn corrected_scan_ms(s: &Scan<'_>, now: i64) -> i64 {
    match s.sent_ms {
        Some(sent) => s.scanned_ms.saturating_add(now.saturating_sub(sent)),
        None => s.scanned_ms,
    }
}

/// A swab time this far before its round begins is flagged (the station's
/// clock runs behind: a phone reset to 1970), and such a swab never takes
/// "first swab" from one taken in the round.
pub const BEFORE_ROUND_MS: i64 = 12 * 3_600_000;

/// The flag for a swab time far before its round's start, if it is.
fn before_round(scanned_ms: i64, round_starts_ms: i64) -> Option<String> {
    (scanned_ms < round_starts_ms.saturating_sub(BEFORE_ROUND_MS)).then(|| {
        "采样时间早于本轮开始时间，请校准站点时钟 / the swab's time is before the round began: the station's clock is behind".to_string()
    })
}

/// Two optional warnings as one.
fn join_warnings(a: Option<String>, b: Option<String>) -> Option<String> {
    match (a, b) {
        (Some(a), Some(b)) => Some(join(a, &b)),
        (a, b) => a.or(b),
    }
}

fn join(a: String, b: &str) -> String {
    if a.is_empty() {
        b.to_string()
    } else {
        format!("{a}；{b}")
    }
}

/// One tube result as a lab sends it.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct TubeResult {
    pub barcode: String,
    /// `negative`, `abnormal` (positive pool) or `invalid`.
    pub result: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct AlertView {
    pub alert: String,
    /// `abnormal_pool`, or `confirmed` (a single-tube retest came back abnormal).
    pub kind: String,
    /// `open`; `cleared` or `confirmed` once every retest has come back.
    pub state: String,
    pub tube: String,
    pub barcode: String,
    pub point: String,
    /// The pool's members the caller may read (masked), with their households
    /// now under temporary control. A lab sees none: only `member_count`.
    pub members: Vec<crate::registry::ResidentView>,
    /// Everyone traced to the tube, whether the caller may read them or not.
    pub member_count: usize,
    /// Swabs in the tube that name nobody (a forged, unknown or revoked code):
    /// to be found by the point's own records.
    pub unidentified: i64,
    /// Of those, the residents a revoked code among them was issued to (not
    /// members: their newer code was not scanned), as the caller may read
    /// them: whoever gave that swab most likely holds their old printed
    /// sheet. Found by the tracers, not put under control by the system.
    pub revoked_code_owners: Vec<crate::registry::ResidentView>,
    /// How many such residents, whether the caller may read them or not.
    pub revoked_code_count: usize,
    pub households_under_control: usize,
    /// Members whose single-tube retest is still to be taken.
    pub retests_open: usize,
    /// Members whose retest is open and swabbed already (a retest swab
    /// registered, its result still to come): nobody has to go to them.
    /// Not counted in `retests_open`.
    pub retests_swabbed: usize,
    /// Those members' ids (for a view that marks each member's retest).
    #[serde(skip)]
    pub swabbed_retest_members: Vec<i64>,
    /// Members whose retest is open but who are exempt from the round (in
    /// hospital, away …): not counted as waiting; the round can close.
    pub retests_exempt: usize,
    /// Those members' ids (for a view that marks each member's retest).
    #[serde(skip)]
    pub exempt_retest_members: Vec<i64>,
    pub created_ms: i64,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct ResultsSummary {
    pub recorded: usize,
    /// Barcodes that already had a result (a replayed upload): left as they were.
    pub already: Vec<String>,
    pub negative: usize,
    pub invalid: usize,
    /// Alerts raised now, each traced to its members.
    pub alerts: Vec<AlertView>,
    /// Open single-tube retests this upload resolved (cleared or confirmed).
    pub retests_resolved: u64,
    /// Households released from the temporary control an abnormal pool set,
    /// their members' retests all negative.
    pub households_released: u64,
    /// Disinfection tasks opened (one per abnormal pool's point).
    pub disinfection_tasks: usize,
    /// Messages queued for the street's alert channels (the alerts', and
    /// the stay-home messages of `calls_held`).
    pub notifications: usize,
    /// Pushed calls (a point's slot, not yet ended) that named a household
    /// the alerts raised now put under temporary control, held back as a
    /// hand-set order holds them ([`crate::held_calls`]), and the groups
    /// told so (暂停下楼), or that the notice failed (the results are stored):
    /// `calls_held`, `groups_told`, `notice_failed` in the answer.
    #[serde(flatten)]
    pub held: crate::held_calls::Told,
    /// Barcodes resulted whose tube the system never saw packed in a bag
    /// (still open or only closed at its point): recorded, and where the
    /// chain of counts broke (the point's packing was skipped).
    pub unpacked: Vec<String>,
    /// Of those, the tubes still open at their point (being filled): the lab
    /// cannot have them; a misread barcode is likelier.
    pub still_open: Vec<String>,
    /// Barcodes resulted whose box the lab has not recorded receiving
    /// (packed, or handed over and not received): recorded; check the
    /// barcode, or record the receipt.
    pub not_received: Vec<String>,
    /// The barcodes resulted invalid now: a pool's people are swabbed again
    /// (re-sample); a retest tube's member's retest stays open.
    pub invalid_tubes: Vec<String>,
    /// The people of invalid pools now called to be swabbed again.
    pub resamples: usize,
}

/// The residents among `ids` the caller may read in the registry.
async fn readable(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    street: i64,
    ids: &[i64],
) -> Result<Vec<i64>, StoreError> {
    let now = clock.now_ms();
    let mut out = Vec::new();
    for &m in ids {
        let place = store.place_of(street, "resident", m).await?;
        if p.can(Action::ReadRegistry, &place, now) {
            out.push(m);
        }
    }
    Ok(out)
}

/// An alert as `p` may see it: every member counted, the readable ones listed.
async fn alert_view(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    a: &gw_store::testing::AlertRow,
    street: i64,
    all_members: &[i64],
    households: usize,
) -> Result<AlertView, StoreError> {
    let today = clock.today();
    let members = readable(store, clock, p, street, all_members).await?;
    let mut views = Vec::new();
    for m in &members {
        views.push(crate::registry::ResidentView::masked(
            &store.resident(street, *m).await?,
            today,
        ));
    }
    // A swab that names nobody but carries a revoked code of this street
    // points at the resident it was issued to.
    let unidentified = store.tube_unidentified(street, a.tube_id).await?;
    let mut former = Vec::new();
    for text in &unidentified {
        if let Some(k) = crate::codes::former_owner(store, text).await? {
            if k.street == street && !former.contains(&k.id) && !all_members.contains(&k.id) {
                former.push(k.id);
            }
        }
    }
    let revoked_code_count = former.len();
    let mut revoked_code_owners = Vec::new();
    for m in readable(store, clock, p, street, &former).await? {
        revoked_code_owners.push(crate::registry::ResidentView::masked(
            &store.resident(street, m).await?,
            today,
        ));
    }
    let open_retests = store.follow_ups(street, a.tube_id, "retest").await?.len();
    let exempt_retest_members = store.follow_ups_exempt(street, a.tube_id, "retest").await?;
    let retests_exempt = exempt_retest_members.len();
    // Swabbed already: not waiting for a team at the door (one exempt and
    // swabbed anyway is counted as exempt).
    let swabbed_retest_members: Vec<i64> = store
        .retests_swabbed(street, a.tube_id)
        .await?
        .into_iter()
        .filter(|m| !exempt_retest_members.contains(m))
        .collect();
    let retests_swabbed = swabbed_retest_members.len();
    Ok(AlertView {
        alert: Key { street, id: a.id }.to_string(),
        kind: a.kind.clone(),
        state: a.state.clone(),
        tube: Key {
            street,
            id: a.tube_id,
        }
        .to_string(),
        barcode: a.barcode.clone(),
        point: Key {
            street,
            id: a.point_id,
        }
        .to_string(),
        retests_open: open_retests - retests_exempt - retests_swabbed,
        retests_swabbed,
        swabbed_retest_members,
        retests_exempt,
        exempt_retest_members,
        members: views,
        member_count: all_members.len(),
        unidentified: unidentified.len() as i64,
        revoked_code_owners,
        revoked_code_count,
        households_under_control: households,
        created_ms: a.created_ms,
    })
}

/// Why `barcode` is no tube of `round`, and where it may belong instead:
/// another round of the street, or this round's tube with the leading zeros
/// Excel dropped.
pub async fn unknown_tube_reason(
    store: &Store,
    round: Key,
    barcode: &str,
) -> Result<String, StoreError> {
    let (others, padded) = store.barcode_hints(round.street, round.id, barcode).await?;
    // Each language whole (one " / " between them), so a page can show one.
    let (zh, en) = if let Some(p) = padded {
        // The same digits with other leading zeros: fewer (Excel drops them)
        // or more (typed or padded by hand).
        if p.len() > barcode.len() {
            (
                format!("；是否 Excel 去掉了前导零？本轮次有试管 {p}"),
                format!("; did Excel drop leading zeros? This round has tube {p}"),
            )
        } else {
            (
                format!("；是否多输了前导零？本轮次有试管 {p}"),
                format!("; were leading zeros added? This round has tube {p}"),
            )
        }
    } else if !others.is_empty() {
        let named = others
            .iter()
            .map(|(id, name)| {
                format!(
                    "{} {name}",
                    Key {
                        street: round.street,
                        id: *id
                    }
                )
            })
            .collect::<Vec<_>>()
            .join("、");
        (
            format!("；它是另一轮次的试管：{named}"),
            format!("; it is a tube of another round: {named}"),
        )
    } else {
        (
            "（轮次或条码有误）".to_string(),
            " (wrong round or misread barcode)".to_string(),
        )
    };
    Ok(format!(
        "条码 {barcode} 不是本轮次的试管{zh} / barcode {barcode} is not a tube of this round{en}"
    ))
}

/// Records a lab's results; an abnormal pool is traced to its members at once.
/// A barcode that is no tube of the round refuses the whole request (as a
/// file's row does), naming where it may belong: an abnormal result for a
/// tube nobody can find must not pass as done.
pub async fn post_results(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    round: Key,
    results: &[TubeResult],
    file: Option<&str>,
) -> Result<ResultsSummary, AuthError> {
    let place = store.place_of(round.street, "street", round.street).await?;
    access::authorize(p, clock, Action::PostResults, &place)?;
    store.round(round.street, round.id).await?;
    let mut sum = ResultsSummary::default();
    // Every result word is checked before any is applied.
    let mut words = Vec::with_capacity(results.len());
    for r in results {
        match gw_domain::lab::LabResult::from_word(&r.result) {
            Some(w) => words.push(w.code()),
            None => return Err(AuthError::Invalid(format!("{}: 结果应为 negative/abnormal/invalid / result must be negative, abnormal or invalid, not {}", r.barcode, r.result))),
        }
    }
    // A recorded result is never changed (as for a lab file): a request that
    // says otherwise for any tube is refused whole, before anything is applied.
    let mut tubes = Vec::with_capacity(results.len());
    let mut conflicts = Vec::new();
    let mut twice = Vec::new();
    let mut said: std::collections::HashMap<String, &str> = Default::default();
    for (r, result) in results.iter().zip(&words) {
        let code = gw_domain::text::squeeze(&r.barcode).to_uppercase();
        // The same tube twice in one request, with two results.
        match said.insert(code.clone(), result) {
            Some(before) if before != *result => {
                twice.push(format!("{code}: {before} / {result}"));
            }
            _ => {}
        }
        let tube = store
            .tube_and_result_by_barcode(round.street, round.id, &code)
            .await?;
        if let Some((_, Some(e))) = &tube {
            if e != result {
                conflicts.push(format!("{code}: {e} → {result}"));
            }
        }
        tubes.push((code, tube.map(|(t, _)| t)));
    }
    if !twice.is_empty() {
        return Err(AuthError::Invalid(format!(
            "同一采样管在本次上传中有两个不同结果，本次未记录任何结果：请核对后重传 / a tube appears twice in this upload with two different results, nothing was recorded: check and send again: {}",
            twice.join("; ")
        )));
    }
    if !conflicts.is_empty() {
        return Err(StoreError::Conflict(gw_domain::lab::results_changed(&conflicts)).into());
    }
    let mut unknown = Vec::new();
    for (code, tube) in &tubes {
        if tube.is_none() && !unknown.iter().any(|(c, _)| c == code) {
            unknown.push((code.clone(), unknown_tube_reason(store, round, code).await?));
        }
    }
    if !unknown.is_empty() {
        return Err(AuthError::Invalid(format!(
            "本次未记录任何结果 / nothing was recorded: {}",
            unknown
                .into_iter()
                .map(|(_, why)| why)
                .collect::<Vec<_>>()
                .join("; ")
        )));
    }
    // What holds people at home before an abnormal result places its
    // temporary control: the stay-home notice (after the results' commit,
    // as for a hand-set order) tells only of households not held already.
    let mut held =
        AlertHolds::before(store, clock, round.street, words.contains(&"abnormal")).await;
    // All recorded in one transaction: a crash or an error part-way records
    // none of the file (its upload can simply be sent again).
    let (codes, pairs): (Vec<&str>, Vec<(&gw_store::testing::TubeRow, &str)>) = tubes
        .iter()
        .zip(&words)
        .filter_map(|((code, tube), result)| Some((code.as_str(), (tube.as_ref()?, *result))))
        .unzip();
    let outcomes = store
        .apply_results(&pairs, &p.actor(), clock.now_ms())
        .await?;
    for ((code, &(tube, result)), applied) in codes.into_iter().zip(&pairs).zip(outcomes) {
        let code = code.to_string();
        if !applied.applied {
            // Recorded by another request since the check above, with the
            // same result (another refused the whole file): a replay.
            sum.already.push(code);
            continue;
        }
        sum.recorded += 1;
        // The tube as it stood before this result: where the chain says it is.
        match gw_domain::testing::TubeState::parse(&tube.state) {
            Some(s) if !s.packed() => {
                if s == gw_domain::testing::TubeState::Open {
                    sum.still_open.push(code.clone());
                }
                sum.unpacked.push(code.clone());
            }
            Some(
                gw_domain::testing::TubeState::Sealed
                | gw_domain::testing::TubeState::Boxed
                | gw_domain::testing::TubeState::HandedOver,
            ) => {
                sum.not_received.push(code.clone());
            }
            _ => {}
        }
        sum.retests_resolved += applied.resolved;
        sum.households_released += applied.released;
        sum.notifications += applied.notifications;
        sum.disinfection_tasks += usize::from(applied.disinfection_id.is_some());
        match result {
            "negative" => sum.negative += 1,
            "invalid" => {
                sum.invalid += 1;
                sum.invalid_tubes.push(code.clone());
                if !applied.retest {
                    sum.resamples += applied.members.len();
                }
            }
            _ => {}
        }
        if let Some(view) = raised_alert(store, clock, p, round, &applied).await? {
            tracing::warn!(round = %round, alert = %view.alert, members = applied.members.len(), "abnormal pool");
            sum.alerts.push(view);
        }
        held.add(result, &applied);
    }
    // The results are committed: their temporary control now holds the
    // pushed calls that named its households, as a hand-set order does.
    let told = held.tell(store, clock, p, round.street).await;
    sum.notifications += told.messages;
    sum.held = told;
    // Once per upload, counted (the answer names the tubes): a lab's file
    // for a street that skipped packing would otherwise log a line a tube.
    if !sum.unpacked.is_empty() {
        tracing::warn!(round = %round, tubes = sum.unpacked.len(), still_open = sum.still_open.len(), "results for tubes never packed");
    }
    if !sum.not_received.is_empty() {
        tracing::warn!(round = %round, tubes = sum.not_received.len(), "results for tubes the lab has not received");
    }
    // The lab's file, named as it came, last (a name may name a person: a
    // purge clears it, gw_store::audit::FILE).
    let from = file.map_or_else(String::new, |f| format!("{}{f}", gw_store::audit::FILE));
    let detail = format!(
        "recorded={} abnormal={} invalid={} unpacked={} not_received={}{from}",
        sum.recorded,
        sum.alerts.len(),
        sum.invalid,
        sum.unpacked.len(),
        sum.not_received.len()
    );
    access::record(
        store,
        clock,
        p,
        "post_results",
        (round.street, "round", &round.to_string()),
        &detail,
        "",
    )
    .await?;
    Ok(sum)
}

/// The alert a result just raised (`applied.alert_id`), traced to the
/// members it found, as the caller may read them.
async fn raised_alert(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    round: Key,
    applied: &gw_store::testing::ResultApplied,
) -> Result<Option<AlertView>, AuthError> {
    let Some(id) = applied.alert_id else {
        return Ok(None);
    };
    let a = store
        .alerts(round.street, round.id)
        .await?
        .into_iter()
        .find(|a| a.id == id)
        .ok_or_else(|| StoreError::Other("alert vanished".into()))?;
    Ok(Some(
        alert_view(
            store,
            clock,
            p,
            &a,
            round.street,
            &applied.members,
            applied.households.len(),
        )
        .await?,
    ))
}

/// What a lab's corrected result did.
#[derive(Debug, Clone, Serialize)]
pub struct Correction {
    pub barcode: String,
    /// The result the tube had, and has now.
    pub before: String,
    pub after: String,
    /// False when the tube had this result already (nothing changed).
    pub changed: bool,
    /// The earlier abnormal result's alert, withdrawn.
    pub withdrawn_alert: Option<String>,
    /// Open retests or re-samples of the earlier result, cancelled.
    pub cancelled: u64,
    /// Households released from the temporary control the withdrawn alert set.
    pub released: u64,
    /// The withdrawn alert's disinfection task, not done yet, called off.
    pub disinfection_withdrawn: bool,
    /// The alert the corrected result raised (an abnormal pool), traced.
    pub alert: Option<AlertView>,
    /// Corrected to invalid: the tube's people now called to be swabbed again.
    pub resamples: usize,
    /// Messages queued for the street's alert channels (the alert's, and
    /// the stay-home messages of `calls_held`).
    pub notifications: usize,
    /// Pushed calls (not yet ended) that named a household the raised
    /// alert put under temporary control, held back
    /// ([`crate::held_calls`]), and the groups told so: `calls_held`,
    /// `groups_told`, `notice_failed` in the answer.
    #[serde(flatten)]
    pub held: crate::held_calls::Told,
}

/// Corrects the result a pooled tube of `round` already has: the lab sends
/// a corrected report, with `reason` (required: it is the record of why).
/// What the earlier result set in motion is undone and the new result does
/// what any result does (see `Store::correct_result`). Audited with the
/// reason; the alert channels are told of a withdrawal or a new alert.
pub async fn correct_result(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    round: Key,
    barcode: &str,
    result: &str,
    reason: &str,
) -> Result<Correction, AuthError> {
    let place = store.place_of(round.street, "street", round.street).await?;
    access::authorize(p, clock, Action::PostResults, &place)?;
    store.round(round.street, round.id).await?;
    let reason = gw_domain::text::reason(reason, crate::handoff::REASON_MAX).map_err(|e| {
        AuthError::Invalid(match e {
            gw_domain::text::NoteError::Empty => "更正结果须写明原因（如实验室的更正报告）/ a correction needs a reason (the lab's corrected report)".into(),
            e => e.to_string(),
        })
    })?;
    let after = gw_domain::lab::LabResult::from_word(result).ok_or_else(|| {
        AuthError::Invalid(format!(
            "结果应为 阴性、异常（阳性）或 无效，不是“{result}” / the result must be negative, abnormal or invalid, not “{result}”"
        ))
    })?;
    let code = gw_domain::text::squeeze(barcode).to_uppercase();
    let Some((tube, _)) = store
        .tube_and_result_by_barcode(round.street, round.id, &code)
        .await?
    else {
        return Err(AuthError::Invalid(
            unknown_tube_reason(store, round, &code).await?,
        ));
    };
    let mut held = AlertHolds::before(store, clock, round.street, after.code() == "abnormal").await;
    let key = |id: i64| {
        Key {
            street: round.street,
            id,
        }
        .to_string()
    };
    let audit = access::audit_record(
        clock,
        p,
        "correct_result",
        (round.street, "tube", &key(tube.id)),
        "",
    );
    // Audited when it changed something, in the correction's transaction.
    let c = store
        .correct_result(&tube, after.code(), &p.actor(), clock.now_ms(), |c| {
            c.applied.applied.then(|| {
                audit.with_detail(format!(
                    "barcode={code} before={} after={} cancelled={} released={} reason={reason}",
                    c.before,
                    after.code(),
                    c.cancelled,
                    c.released
                ))
            })
        })
        .await?;
    // Committed: the raised alert's temporary control holds pushed calls
    // (as in post_results).
    held.add(after.code(), &c.applied);
    let told = held.tell(store, clock, p, round.street).await;
    let changed = c.applied.applied;
    if changed {
        tracing::warn!(round = %round, barcode = %code, before = %c.before, after = after.code(), "result corrected");
    }
    let alert = raised_alert(store, clock, p, round, &c.applied).await?;
    Ok(Correction {
        barcode: code,
        before: c.before,
        after: after.code().to_string(),
        changed,
        withdrawn_alert: c.withdrawn_alert.map(key),
        cancelled: c.cancelled,
        released: c.released,
        disinfection_withdrawn: c.disinfection_withdrawn,
        alert,
        resamples: if changed && after.code() == "invalid" && !c.applied.retest {
            c.applied.members.len()
        } else {
            0
        },
        notifications: c.applied.notifications + told.messages,
        held: told,
    })
}

/// The control orders in force, by target (see
/// [`crate::registry::controls_in_force`]).
type Orders = std::collections::BTreeMap<(String, i64), gw_domain::territory::ControlOrder>;

/// The stay-home notice of the temporary control results place (an
/// abnormal pool's, a corrected result's, a late member's of an abnormal
/// pool): what held people at home before the results were stored, the
/// alerts they raised and the households those hold; told after the
/// results' commit ([`crate::held_calls::tell_alerts`]).
struct AlertHolds {
    /// Read before the results are stored, when they may raise an alert;
    /// `None`: nothing to tell.
    before: Option<Result<Orders, StoreError>>,
    alerts: Vec<i64>,
    households: Vec<i64>,
}

impl AlertHolds {
    /// What holds people at home now, read when the results about to be
    /// stored may raise an alert (`may_raise`): a household held already was
    /// never called or was told then.
    async fn before(store: &Store, clock: &Clock, street: i64, may_raise: bool) -> AlertHolds {
        let before = if may_raise {
            Some(crate::registry::controls_told(store, street, clock.now_ms()).await)
        } else {
            None
        };
        AlertHolds {
            before,
            alerts: Vec::new(),
            households: Vec::new(),
        }
    }

    /// An applied result: an abnormal one's alert placed temporary control
    /// on its members' households (a confirmed positive's only where none
    /// was in force, which the notice's `before` leaves out).
    fn add(&mut self, result: &str, applied: &gw_store::testing::ResultApplied) {
        let (true, "abnormal", Some(alert)) = (applied.applied, result, applied.alert_id) else {
            return;
        };
        self.alerts.push(alert);
        for h in &applied.households {
            if !self.households.contains(h) {
                self.households.push(*h);
            }
        }
    }

    /// Tells the groups (after the results' commit); nothing when nothing
    /// was read before.
    async fn tell(
        self,
        store: &Store,
        clock: &Clock,
        p: &Principal,
        street: i64,
    ) -> crate::held_calls::Told {
        match self.before {
            Some(before) => {
                crate::held_calls::tell_alerts(
                    store,
                    clock,
                    p,
                    street,
                    &self.alerts,
                    &self.households,
                    before,
                )
                .await
            }
            None => crate::held_calls::Told::default(),
        }
    }
}

/// The round's alerts with the members the caller may read.
pub async fn alerts(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    round: Key,
) -> Result<Vec<AlertView>, AuthError> {
    store.round(round.street, round.id).await?;
    let now = clock.now_ms();
    let mut out = Vec::new();
    // Who is held at home now, read at the first confirmed alert.
    let mut home: Option<HeldMap> = None;
    for a in store.alerts(round.street, round.id).await? {
        let all = store.tube_members(round.street, a.tube_id).await?;
        let mut v = alert_view(store, clock, p, &a, round.street, &all, 0).await?;
        // Shown to whoever may read a member, or the point's community (an
        // alert whose swabs name nobody readable still needs the commander).
        if v.members.is_empty() {
            let point = point_place(store, &store.point(round.street, a.point_id).await?).await?;
            if !p.can(Action::ReadRegistry, &point, now) {
                continue;
            }
        }
        // The households of the members shown that the alert's temporary
        // control still holds (negative retests and a withdrawal end it). A
        // confirmed retest sets no order of its own (its pool's alert held
        // the household already): those held at home now, by any order.
        let ids: Vec<i64> = if a.kind == "confirmed" {
            if home.is_none() {
                home = Some(held_homes(store, round.street, now).await?);
            }
            home.as_ref()
                .map(|h| h.keys().copied().collect())
                .unwrap_or_default()
        } else {
            store.alert_held_households(round.street, a.id).await?
        };
        let held: std::collections::BTreeSet<String> = ids
            .into_iter()
            .map(|id| {
                Key {
                    street: round.street,
                    id,
                }
                .to_string()
            })
            .collect();
        v.households_under_control = v
            .members
            .iter()
            .filter_map(|m| m.household.clone())
            .filter(|h| held.contains(h))
            .collect::<std::collections::BTreeSet<_>>()
            .len();
        out.push(v);
    }
    Ok(out)
}

/// A swab the server flagged, as the round's review list shows it.
#[derive(Debug, Clone, Serialize)]
pub struct FlaggedView {
    pub registration: String,
    pub client_id: String,
    pub point: String,
    pub point_name: String,
    pub tube: String,
    pub purpose: String,
    /// What is wrong (empty for a plain second swab).
    pub problem: String,
    /// The first sampling swab (routine or door-to-door) this one repeats.
    pub duplicate_of: Option<String>,
    pub scanned_ms: i64,
    pub station: String,
    /// Whom the swab names, if anyone.
    pub resident: Option<String>,
    /// Their name, masked, where the caller may read the registry.
    pub name: Option<String>,
}

/// The round's flagged swabs (a problem, or a second sampling swab), newest
/// first, at the points where the caller scans or reads the registry: what a
/// point's staff and the command post go through after a sync.
pub async fn flagged(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    round: Key,
    point: Option<Key>,
    limit: i64,
) -> Result<Vec<FlaggedView>, AuthError> {
    store.round(round.street, round.id).await?;
    if point.is_some_and(|pt| pt.street != round.street) {
        return Err(AuthError::Invalid(
            "采样点不在本轮街道 / the point is not in the round's street".into(),
        ));
    }
    let now = clock.now_ms();
    let street = round.street;
    let rows = store
        .flagged_swabs(
            street,
            round.id,
            point.map_or(-1, |k| k.id),
            limit.clamp(1, 5_000),
        )
        .await?;
    let mut points: std::collections::HashMap<i64, bool> = Default::default();
    let mut visible = Vec::new();
    for r in rows {
        let seen = match points.get(&r.point_id) {
            Some(v) => *v,
            None => {
                let place = point_place(store, &store.point(street, r.point_id).await?).await?;
                let v =
                    p.can(Action::Scan, &place, now) || p.can(Action::ReadRegistry, &place, now);
                points.insert(r.point_id, v);
                v
            }
        };
        if seen {
            visible.push(r);
        }
    }
    // Names (masked) of the residents the caller reads, loaded together.
    let mut ids: Vec<i64> = visible.iter().filter_map(|r| r.resident_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let ids = readable(store, clock, p, street, &ids).await?;
    let names: std::collections::HashMap<i64, String> = store
        .residents_by_ids(street, &ids)
        .await?
        .into_iter()
        .map(|r| (r.id, gw_domain::mask::name(&r.resident.name)))
        .collect();
    let k = |id| Key { street, id }.to_string();
    let mut out = Vec::with_capacity(visible.len());
    for r in visible {
        let name = r.resident_id.and_then(|id| names.get(&id).cloned());
        out.push(FlaggedView {
            registration: k(r.id),
            client_id: r.client_id,
            point: k(r.point_id),
            point_name: r.point,
            tube: r.tube,
            purpose: r.purpose,
            problem: r.problem,
            duplicate_of: r.duplicate_of.map(k),
            scanned_ms: r.scanned_ms,
            station: r.station,
            resident: r.resident_id.map(k),
            name,
        });
    }
    Ok(out)
}

/// One floor of one building on a door-to-door list.
#[derive(Debug, Clone, Serialize)]
pub struct DoorFloor {
    /// The compound's name and the building's (`阳光小区 1号楼`).
    pub building: String,
    pub building_id: Option<String>,
    pub floor: Option<u32>,
    pub residents: Vec<DoorResident>,
}

/// Someone on a door-to-door list, and why they are on it.
#[derive(Debug, Clone, Serialize)]
pub struct DoorResident {
    #[serde(flatten)]
    pub resident: DoorPerson,
    /// Every reason that keeps them at home: a sealed or temporary control
    /// order in force on their compound, building, unit or household, or
    /// the cannot-go-downstairs flag.
    pub reasons: Vec<DoorReason>,
    /// The purpose to register their swab with, which is also the tube to
    /// open: `door_to_door` (not yet sampled in the round: a pooled tube),
    /// `retest` (an open single-tube retest after an abnormal pool: a
    /// retest tube, one swab) or `resample` (an open re-sample after an
    /// invalid tube, also for one missed because every swab of theirs is in
    /// an invalid tube). A retest or re-sample leaves the list once its swab
    /// is registered. With both a retest and a re-sample open, `retest`
    /// (see `purposes`).
    pub purpose: &'static str,
    /// Every purpose due, one swab each, `purpose` first: one person is
    /// one row, with both a retest and a re-sample open `["retest",
    /// "resample"]`.
    pub purposes: Vec<&'static str>,
    /// What is due, Chinese first: 待入户采样 / 待单管复检 / 待重采 /
    /// 待重采（原管无效）/ 待单管复检、待重采.
    pub due: &'static str,
    /// Sampled in the round (a swab in a tube the lab did not find invalid)
    /// with a retest or re-sample open: work to do at the door, never one
    /// missed. `false` for one missed, a re-sample due after an invalid tube
    /// included (they have no result at all).
    pub sampled: bool,
}

/// A person on a door-to-door list as its reader may see them: a registry
/// reader of the grid the masked registry view; the team (the staff of the
/// round's points, who read no registry) only what the door needs.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum DoorPerson {
    Registry(Box<crate::registry::ResidentView>),
    Team(DoorTeamPerson),
}

/// What the door-to-door team needs to find and swab someone: the masked
/// name, where they live, masked phones and the operational flags the page
/// shows (never a document number, age, gender, uid or registry key: the
/// team scans the person's code, or types the document read off their card,
/// into the tube).
#[derive(Debug, Clone, Serialize)]
pub struct DoorTeamPerson {
    /// Masked (王*芳).
    pub name: String,
    pub address: Option<String>,
    pub unit: Option<String>,
    pub room: Option<String>,
    pub phones: Vec<crate::registry::PhoneView>,
    /// Operational flags (cannot go downstairs, lives alone …); never the
    /// health flags.
    pub flags: Vec<&'static str>,
}

impl DoorPerson {
    /// The registry key, for a registry reader's list only.
    pub fn id(&self) -> Option<&str> {
        match self {
            Self::Registry(v) => Some(&v.id),
            Self::Team(_) => None,
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Self::Registry(v) => &v.name,
            Self::Team(t) => &t.name,
        }
    }

    pub fn address(&self) -> Option<&str> {
        match self {
            Self::Registry(v) => v.address.as_deref(),
            Self::Team(t) => t.address.as_deref(),
        }
    }

    pub fn phones(&self) -> &[crate::registry::PhoneView] {
        match self {
            Self::Registry(v) => &v.phones,
            Self::Team(t) => &t.phones,
        }
    }

    pub fn flags(&self) -> &[&'static str] {
        match self {
            Self::Registry(v) => &v.flags,
            Self::Team(t) => &t.flags,
        }
    }

    /// The household's key, for a registry reader's list only.
    pub fn household(&self) -> Option<&str> {
        match self {
            Self::Registry(v) => v.household.as_deref(),
            Self::Team(_) => None,
        }
    }
}

/// `(purposes, what is due)` of a door-to-door row: someone missed
/// (`missed`, not sampled in the round) and the open follow-ups of kind
/// `retest` or `resample` of theirs. One row per person: a re-sample of
/// someone missed is the swab that samples them; a retest and a re-sample
/// both open are named together.
fn door_due(missed: bool, follow_ups: &[String]) -> (Vec<&'static str>, &'static str) {
    let retest = follow_ups.iter().any(|k| k == "retest");
    let resample = follow_ups.iter().any(|k| k == "resample");
    match (missed, retest, resample) {
        (_, true, true) => (
            vec!["retest", "resample"],
            "待单管复检、待重采 / retest and re-sample due",
        ),
        (_, true, false) => (vec!["retest"], "待单管复检 / retest due"),
        (true, false, true) => (vec!["resample"], crate::coverage::RESAMPLE_DUE),
        (false, false, true) => (vec!["resample"], "待重采 / re-sample due"),
        (_, false, false) => (vec!["door_to_door"], "待入户采样 / to be sampled"),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DoorReason {
    /// `sealed`, `temporary` or `cannot_go_downstairs`.
    pub kind: &'static str,
    /// Where the control order is set (`compound`, `building`, `unit`,
    /// `household`); none for the flag.
    pub level: Option<&'static str>,
    /// "楼栋封控 / building sealed".
    pub text: String,
}

impl DoorReason {
    fn control(level: &'static str, status: gw_domain::territory::ControlStatus) -> DoorReason {
        let (zh, en) = match level {
            "compound" => ("小区", "compound"),
            "building" => ("楼栋", "building"),
            "unit" => ("单元", "unit"),
            _ => ("住户", "household"),
        };
        let (szh, sen) = match status {
            gw_domain::territory::ControlStatus::Sealed => ("封控", "sealed"),
            gw_domain::territory::ControlStatus::Controlled => (
                "管控（人不出小区，小区内本轮无采样点）",
                "under control (residents stay in the compound, which has no testing point this round)",
            ),
            _ => ("临时管控", "under temporary control"),
        };
        DoorReason {
            kind: status.code(),
            level: Some(level),
            text: format!("{zh}{szh} / {en} {sen}"),
        }
    }

    fn cannot_go_downstairs() -> DoorReason {
        DoorReason {
            kind: "cannot_go_downstairs",
            level: None,
            text: "行动不便，不能下楼 / cannot go downstairs".into(),
        }
    }
}

/// The round's points in `community` whose staff `p` is (a point manager or
/// volunteer in force there; never a station's device token): the
/// door-to-door team works from those points.
async fn staff_points_in(
    store: &Store,
    p: &Principal,
    round: Key,
    community: Option<i64>,
    now: i64,
) -> Result<Vec<i64>, StoreError> {
    let mut out = Vec::new();
    if p.is_station() {
        return Ok(out);
    }
    for node in gw_domain::access::nodes_for(&p.grants, Action::Scan, now) {
        if let gw_domain::access::Node::Point { street, id } = node {
            if street != round.street {
                continue;
            }
            match store.point(street, id).await {
                Ok(pt) if pt.round_id == round.id && Some(pt.community_id) == community => {
                    out.push(id)
                }
                Ok(_) | Err(StoreError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(out)
}

/// Whether `p` may read the door-to-door list of the grid at `place` in
/// `round`: a registry reader there, or the staff of one of the round's
/// points in the grid's community (names masked for them as for any
/// volunteer). Refused as a registry read would be otherwise.
pub async fn may_read_door_list(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    round: Key,
    place: &gw_domain::access::Place,
) -> Result<(), AuthError> {
    let now = clock.now_ms();
    if p.can(Action::ReadRegistry, place, now)
        || !staff_points_in(store, p, round, place.community, now)
            .await?
            .is_empty()
    {
        return Ok(());
    }
    access::authorize(p, clock, Action::ReadRegistry, place)
}

/// The grids of `round` whose door-to-door list `p` may open (see
/// [`may_read_door_list`]), in the round's communities' order: a page asked
/// for no grid lists them.
pub async fn door_list_grids(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    round: Key,
) -> Result<Vec<gw_store::registry::GridRow>, AuthError> {
    store.round(round.street, round.id).await?;
    let now = clock.now_ms();
    let mut out = Vec::new();
    let mut communities = store.round_communities(round.street, round.id).await?;
    if communities.is_empty() {
        // The whole street.
        communities = store
            .communities(None, Some(round.street))
            .await?
            .into_iter()
            .map(|c| c.id)
            .collect();
    }
    for c in communities {
        let staff = !staff_points_in(store, p, round, Some(c), now)
            .await?
            .is_empty();
        for g in store.grids(None, Some((round.street, c))).await? {
            let place = store.place_of(round.street, "grid", g.id).await?;
            if staff || p.can(Action::ReadRegistry, &place, now) {
                out.push(g);
            }
        }
    }
    Ok(out)
}

/// One grid of a community's door-to-door list: its floors as the grid's
/// own list gives them.
#[derive(Debug, Clone, Serialize)]
pub struct DoorGrid {
    /// The grid's key, `STREET-ID`.
    pub grid: String,
    pub name: String,
    pub floors: Vec<DoorFloor>,
}

/// Who reads what of one community's door-to-door lists in a round.
struct CommunityDoorAccess {
    /// The community's grids (in the registry's order), each with whether
    /// the principal reads it as a registry reader.
    grids: Vec<(gw_store::registry::GridRow, bool)>,
    /// The staff of one of the round's points in the community.
    staff: bool,
    /// A registry reader of the whole community.
    community_reader: bool,
}

impl CommunityDoorAccess {
    async fn read(
        store: &Store,
        p: &Principal,
        round: Key,
        community: Key,
        now: i64,
    ) -> Result<(CommunityDoorAccess, Place), StoreError> {
        let place = store
            .place_of(community.street, "community", community.id)
            .await?;
        let staff = !staff_points_in(store, p, round, Some(community.id), now)
            .await?
            .is_empty();
        let grids = store
            .grids(None, Some((community.street, community.id)))
            .await?
            .into_iter()
            .map(|g| {
                let at = Place {
                    grid: Some(g.id),
                    ..place
                };
                let reader = p.can(Action::ReadRegistry, &at, now);
                (g, reader)
            })
            .collect();
        let access = CommunityDoorAccess {
            grids,
            staff,
            community_reader: p.can(Action::ReadRegistry, &place, now),
        };
        Ok((access, place))
    }

    /// The grids read as a registry reader.
    fn readers(&self) -> usize {
        self.grids.iter().filter(|(_, r)| *r).count()
    }

    /// Whether every one of the community's grids' lists may be read (see
    /// [`may_read_door_list`]): the one rule the whole-community list and
    /// its index read.
    fn may_read_all(&self) -> bool {
        self.staff
            || self.community_reader
            || (!self.grids.is_empty() && self.readers() == self.grids.len())
    }
}

/// Whether `p` may read the door-to-door list of a whole community of
/// `round`: whoever may read every one of its grids' lists (see
/// [`may_read_door_list`]): a registry reader of the community (or of each
/// of its grids) or the staff of one of the round's points in it. A reader
/// of only some of its grids (a grid leader) is refused, told to ask grid by
/// grid: a partial list would read as the community's. The community's
/// grids, each with whether `p` reads it as a registry reader.
pub async fn may_read_community_door_list(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    round: Key,
    community: Key,
) -> Result<Vec<(gw_store::registry::GridRow, bool)>, AuthError> {
    let now = clock.now_ms();
    let (access, place) = CommunityDoorAccess::read(store, p, round, community, now).await?;
    if access.may_read_all() {
        return Ok(access.grids);
    }
    let readers = access.readers();
    let all = access.grids.len();
    if readers > 0 {
        return Err(AuthError::Forbidden(format!(
            "您只能查看本社区 {readers}/{all} 个网格的入户采样名单，不能查看全社区名单；请逐个网格查看（grid=） / you may read the door-to-door lists of only {readers} of the community's {all} grids, not the whole community's list: ask for them one grid at a time (grid=)",
        )));
    }
    access::authorize(p, clock, Action::ReadRegistry, &place)?;
    Ok(access.grids)
}

/// The communities of `round` whose whole door-to-door list `p` may open
/// (see [`may_read_community_door_list`]), in the round's order: `(key,
/// name)`.
pub async fn door_list_communities(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    round: Key,
) -> Result<Vec<(Key, String)>, AuthError> {
    store.round(round.street, round.id).await?;
    let now = clock.now_ms();
    let mut out = Vec::new();
    let covered = store.round_communities(round.street, round.id).await?;
    for c in store.communities(None, Some(round.street)).await? {
        if !covered.is_empty() && !covered.contains(&c.id) {
            continue;
        }
        let key = Key {
            street: round.street,
            id: c.id,
        };
        let (access, _) = CommunityDoorAccess::read(store, p, round, key, now).await?;
        if access.may_read_all() {
            out.push((key, c.name));
        }
    }
    Ok(out)
}

/// Who a door-to-door team must swab in a grid, by building and floor, one
/// row per person: those held at home not yet sampled (a re-sample due
/// after an invalid tube among them: not sampled, `purpose` `resample`),
/// and those held at home sampled with an open retest or re-sample
/// (`sampled`, with the purposes to use). Masked; names masked too for a reader who does not see them in
/// full, and for a reader who is no registry reader of the grid (the team)
/// only what the door needs ([`DoorTeamPerson`]).
pub async fn door_to_door(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    round: Key,
    grid: Key,
) -> Result<Vec<DoorFloor>, AuthError> {
    let place = store.place_of(grid.street, "grid", grid.id).await?;
    may_read_door_list(store, clock, p, round, &place).await?;
    // The team (a point's staff) reads no registry: its rows carry only what
    // the door needs.
    let registry_reader = p.can(Action::ReadRegistry, &place, clock.now_ms());
    if grid.street != round.street {
        return Err(AuthError::Invalid(
            "网格不在本轮街道 / the grid is not in the round's street".into(),
        ));
    }
    // A grid the round does not cover has nobody to visit for it: an empty
    // list would read as "all done".
    crate::coverage::within_round(store, round, &place).await?;
    let mut by_grid = door_floors(
        store,
        clock,
        p,
        round,
        (gw_store::coverage::Level::Grid, grid.id),
        &|_| registry_reader,
    )
    .await?;
    Ok(by_grid.remove(&grid.id).unwrap_or_default())
}

/// The door-to-door list of a whole community, for the team the community
/// sends out (one printed list): every grid of it (in the registry's order,
/// a grid with nobody to visit too), each with the floors its own list
/// ([`door_to_door`]) gives, every person once. Read in one query for the
/// community (and one for its residents), not grid by grid. For whoever
/// may read every grid's list ([`may_read_community_door_list`]); each grid
/// masked as its own list is for the reader.
pub async fn door_to_door_community(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    round: Key,
    community: Key,
) -> Result<Vec<DoorGrid>, AuthError> {
    if community.street != round.street {
        return Err(AuthError::Invalid(
            "社区不在本轮街道 / the community is not in the round's street".into(),
        ));
    }
    let grids = may_read_community_door_list(store, clock, p, round, community).await?;
    let place = store
        .place_of(community.street, "community", community.id)
        .await?;
    crate::coverage::within_round(store, round, &place).await?;
    let readers: HashMap<i64, bool> = grids.iter().map(|(g, r)| (g.id, *r)).collect();
    let mut by_grid = door_floors(
        store,
        clock,
        p,
        round,
        (gw_store::coverage::Level::Community, community.id),
        &|g| readers.get(&g).copied().unwrap_or(false),
    )
    .await?;
    let mut out: Vec<DoorGrid> = grids
        .into_iter()
        .map(|(g, _)| DoorGrid {
            grid: Key {
                street: g.street_id,
                id: g.id,
            }
            .to_string(),
            name: g.name,
            floors: by_grid.remove(&g.id).unwrap_or_default(),
        })
        .collect();
    // Someone whose place was kept in a grid moved since to another
    // community (an added resident, kept as sampling closed): still listed.
    for (id, floors) in by_grid {
        let g = store.grid(round.street, id).await?;
        out.push(DoorGrid {
            grid: Key {
                street: round.street,
                id,
            }
            .to_string(),
            name: g.name,
            floors,
        });
    }
    Ok(out)
}

/// The door-to-door rows of a grid or a community (`within`), by grid, then
/// by building (its compound's name first: every compound has a 1号楼) and
/// floor. `registry_reader`: whether the reader reads a grid as a registry
/// reader (else the team's rows).
async fn door_floors(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    round: Key,
    within: (gw_store::coverage::Level, i64),
    registry_reader: &(dyn Fn(i64) -> bool + Sync),
) -> Result<std::collections::BTreeMap<i64, Vec<DoorFloor>>, AuthError> {
    use std::collections::BTreeMap;
    let full_names = p.sees_full_names(clock.now_ms());
    let flag = i64::from(gw_domain::resident::Flag::CannotGoDownstairs.bit());
    let today = clock.today();
    type Floors = BTreeMap<(i64, String, Option<i64>, Option<u32>), Vec<DoorResident>>;
    let mut floors = Floors::new();
    let now = clock.now_ms();
    let orders = crate::registry::controls_in_force(store, round.street, now).await?;
    // Compounds with a point of the round: under control (管控区) their
    // residents go to it; elsewhere they are sampled at the door.
    let served: std::collections::BTreeSet<i64> = store
        .schedule_points(round.street, round.id)
        .await?
        .into_iter()
        .filter_map(|p| p.compound_id)
        .collect();
    let held = |kind: &str, id: Option<i64>, compound: Option<i64>| {
        let here = compound.is_some_and(|c| served.contains(&c));
        id.and_then(|id| orders.get(&(kind.to_string(), id)))
            .map(|o| o.status)
            .filter(|s| s.at_the_door(here))
    };
    // Those not yet sampled (a re-sample due after an invalid tube among
    // them), and the open retests and re-samples of those held at home: one
    // row per person, `(place, missed, open follow-ups)`.
    let mut todo: BTreeMap<i64, (gw_store::testing::DoorPlace, bool, Vec<String>)> = store
        .door_to_door(round.street, round.id, within, flag, now)
        .await?
        .into_iter()
        .map(|d| (d.resident, (d, true, Vec::new())))
        .collect();
    for (d, kind) in store
        .door_follow_ups(round.street, round.id, within, flag, now)
        .await?
    {
        todo.entry(d.resident)
            .or_insert_with(|| (d, false, Vec::new()))
            .2
            .push(kind);
    }
    // Every listed resident in one read (not one by one: a community may
    // list several hundred).
    let ids: Vec<i64> = todo.keys().copied().collect();
    for r in store.residents_by_ids(round.street, &ids).await? {
        let Some((place, missed, follow_ups)) = todo.get(&r.id) else {
            continue;
        };
        let mut reasons: Vec<DoorReason> = [
            ("compound", place.compound),
            ("building", r.building_id),
            ("unit", place.unit),
            ("household", r.household_id),
        ]
        .into_iter()
        .filter_map(|(level, id)| {
            held(level, id, place.compound).map(|s| DoorReason::control(level, s))
        })
        .collect();
        if r.resident
            .flags
            .has(gw_domain::resident::Flag::CannotGoDownstairs)
        {
            reasons.push(DoorReason::cannot_go_downstairs());
        }
        let floor = r
            .room
            .as_deref()
            .and_then(gw_domain::territory::floor_of_room);
        let label = [r.compound.as_deref(), r.building.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        let (purposes, due) = door_due(*missed, follow_ups);
        floors
            .entry((place.grid, label, r.building_id, floor))
            .or_default()
            .push(DoorResident {
                resident: door_person(&r, today, registry_reader(place.grid), full_names),
                reasons,
                purpose: purposes[0],
                purposes,
                due,
                sampled: !missed,
            });
    }
    let mut out: BTreeMap<i64, Vec<DoorFloor>> = BTreeMap::new();
    for ((grid, building, building_id, floor), residents) in floors {
        out.entry(grid).or_default().push(DoorFloor {
            building,
            building_id: building_id.map(|id| {
                Key {
                    street: round.street,
                    id,
                }
                .to_string()
            }),
            floor,
            residents,
        });
    }
    Ok(out)
}

/// A door-to-door row's person: the masked registry view for a registry
/// reader, what the door needs for the team; the name masked unless `p`
/// sees names.
fn door_person(
    r: &gw_store::registry::ResidentRow,
    today: gw_domain::date::Date,
    registry_reader: bool,
    full_names: bool,
) -> DoorPerson {
    let mut v = crate::registry::ResidentView::masked(r, today);
    if !full_names {
        v.name = gw_domain::mask::name(&v.name);
    }
    if registry_reader {
        return DoorPerson::Registry(Box::new(v));
    }
    DoorPerson::Team(DoorTeamPerson {
        name: v.name,
        address: v.address,
        unit: r.unit.clone().filter(|u| !u.is_empty()),
        room: r.room.clone(),
        phones: v.phones,
        flags: v.flags,
    })
}

/// Pool-size advice for a street from its earlier rounds' results.
#[derive(Debug, Clone, Serialize)]
pub struct PoolAdviceView {
    pub prevalence: Option<f64>,
    pub tubes_seen: u64,
    /// Swabs in those tubes: below [`gw_domain::testing::MIN_SWABS_FOR_ADVICE`]
    /// there is no advice (the rate is a guess).
    pub swabs_seen: u64,
    pub advice: Option<gw_domain::testing::PoolAdvice>,
    pub lab_max: u32,
    /// The rounds read, newest first: the newest
    /// [`gw_domain::testing::ADVICE_ROUNDS`] with results, more until their
    /// swabs reach [`gw_domain::testing::ADVICE_WINDOW_SWABS`]
    /// ([`gw_domain::testing::advice_basis`]).
    pub rounds: Vec<String>,
    /// Abnormal pools among `tubes_seen`.
    pub abnormal_seen: u64,
    /// The rate over all of `rounds`, and over the newest of them whose
    /// swabs first reach the window alone (`recent_rounds`); `prevalence`
    /// is the higher.
    pub window_prevalence: Option<f64>,
    pub recent_prevalence: Option<f64>,
    pub recent_rounds: Vec<String>,
}

pub async fn pool_advice(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    street: i64,
    lab_max: Option<u32>,
) -> Result<PoolAdviceView, AuthError> {
    let place = store.place_of(street, "street", street).await?;
    access::authorize(p, clock, Action::ManageRounds, &place)?;
    // The street's lab's limit, or a smaller one asked for.
    if let Some(m) = lab_max.filter(|m| !gw_domain::testing::POOL_SIZES.contains(m)) {
        return Err(AuthError::Invalid(format!(
            "实验室上限应为 {:?} 之一，不是 {m} / the lab's limit must be one of {:?}, not {m}",
            gw_domain::testing::POOL_SIZES,
            gw_domain::testing::POOL_SIZES
        )));
    }
    let limit = settings_of(store, street).await?.lab_max_pool;
    let lab_max = lab_max.unwrap_or(limit).min(limit);
    // Each round's outcomes, newest round first.
    let mut rounds: Vec<(i64, Vec<gw_domain::testing::PoolOutcome>)> = Vec::new();
    for (round, k, n, a) in store.pool_outcomes(street).await? {
        let o = (
            u32::try_from(k).unwrap_or(1),
            u64::try_from(n).unwrap_or(0),
            u64::try_from(a).unwrap_or(0),
        );
        match rounds.last_mut() {
            Some((r, v)) if *r == round => v.push(o),
            _ => rounds.push((round, vec![o])),
        }
    }
    let per_round: Vec<Vec<gw_domain::testing::PoolOutcome>> =
        rounds.iter().map(|r| r.1.clone()).collect();
    let b = gw_domain::testing::advice_basis(&per_round);
    let keys = |n: usize| -> Vec<String> {
        rounds[..n]
            .iter()
            .map(|(id, _)| Key { street, id: *id }.to_string())
            .collect()
    };
    Ok(PoolAdviceView {
        prevalence: b.rate,
        tubes_seen: b.tubes,
        swabs_seen: b.swabs,
        advice: b
            .rate
            .filter(|_| b.swabs >= gw_domain::testing::MIN_SWABS_FOR_ADVICE)
            .map(|p| gw_domain::testing::advise_pool_size(p, lab_max)),
        lab_max,
        rounds: keys(b.rounds),
        abnormal_seen: b.abnormal,
        window_prevalence: b.window_rate,
        recent_prevalence: b.recent_rate,
        recent_rounds: keys(b.recent_rounds),
    })
}

/// A disinfection task opened for the point of an abnormal pool.
#[derive(Debug, Clone, Serialize)]
pub struct DisinfectionView {
    pub task: String,
    pub point: String,
    pub point_name: String,
    pub alert: String,
    pub state: String,
    pub created_ms: i64,
    pub done_ms: Option<i64>,
    pub done_by: Option<String>,
    /// Whether the caller may mark it done (manages the point's stations); a
    /// grid leader who reads it because the point stands in their grid may not.
    pub may_mark_done: bool,
}

/// The round's disinfection tasks at the points the caller manages or reads:
/// at the point's place, or (reading only) at a grid the point stands in or
/// serves ([`point_grid_places`]).
pub async fn disinfection_tasks(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    round: Key,
) -> Result<Vec<DisinfectionView>, AuthError> {
    store.round(round.street, round.id).await?;
    let now = clock.now_ms();
    let mut out = Vec::new();
    for t in store.disinfection_tasks(round.street, round.id).await? {
        let pt = store.point(round.street, t.point_id).await?;
        let place = point_place(store, &pt).await?;
        let may_mark_done = p.can(Action::ManageStations, &place, now);
        if !(may_mark_done
            || p.can(Action::ReadRegistry, &place, now)
            || point_grid_places(store, &pt)
                .await?
                .iter()
                .any(|g| p.can(Action::ReadRegistry, g, now)))
        {
            continue;
        }
        out.push(DisinfectionView {
            may_mark_done,
            ..DisinfectionView::of(round.street, t)
        });
    }
    Ok(out)
}

impl DisinfectionView {
    /// A stored task of `street` as the API and the pages show it.
    pub fn of(street: i64, t: gw_store::alerts::DisinfectionRow) -> DisinfectionView {
        let k = |id| Key { street, id }.to_string();
        DisinfectionView {
            task: k(t.id),
            point: k(t.point_id),
            point_name: t.point,
            alert: k(t.alert_id),
            state: t.state,
            created_ms: t.created_ms,
            done_ms: t.done_ms,
            done_by: t.done_by,
            may_mark_done: false,
        }
    }
}

/// Marks a disinfection task done (the point's manager, or the street).
pub async fn disinfection_done(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    task: Key,
) -> Result<(), AuthError> {
    let point = store.disinfection_point(task.street, task.id).await?;
    let place = point_place(store, &store.point(task.street, point).await?).await?;
    access::authorize(p, clock, Action::ManageStations, &place)?;
    store
        .disinfection_done(task.street, task.id, &p.actor(), clock.now_ms())
        .await?;
    access::record(
        store,
        clock,
        p,
        "disinfection_done",
        (task.street, "disinfection_task", &task.to_string()),
        "",
        "",
    )
    .await?;
    Ok(())
}

/// A round as listed.
#[derive(Debug, Clone, Serialize)]
pub struct RoundView {
    pub id: String,
    pub name: String,
    pub starts_ms: i64,
    pub ends_ms: i64,
    pub pool_size: i32,
    pub state: String,
    /// Community ids covered; empty: the whole street.
    pub communities: Vec<String>,
}

/// A street's rounds, newest first (for any signed-in user).
pub async fn rounds(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    street: i64,
) -> Result<Vec<RoundView>, AuthError> {
    // Names, windows and states of rounds carry no personal data: anyone
    // signed in may list them (points, tubes and people stay behind their checks).
    let _ = (clock, p);
    store.place_of(street, "street", street).await?;
    let mut out = Vec::new();
    for r in store.rounds(street).await? {
        let communities = store
            .round_communities(street, r.id)
            .await?
            .into_iter()
            .map(|id| Key { street, id }.to_string())
            .collect();
        out.push(RoundView {
            id: Key { street, id: r.id }.to_string(),
            name: r.name,
            starts_ms: r.starts_ms,
            ends_ms: r.ends_ms,
            pool_size: r.pool_size,
            state: r.state,
            communities,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::mistyped;

    #[test]
    fn a_document_number_with_a_typing_mistake_is_to_be_typed_again() {
        let id = gw_domain::idnumber::IdNumber::compose(
            "110105",
            gw_domain::date::Date::new(1970, 3, 1).unwrap_or_else(|| unreachable!()),
            123,
        )
        .unwrap_or_else(|| unreachable!());
        let n = id.as_str();
        let wrong = format!("{}{}", &n[..17], if n.ends_with('1') { '2' } else { '1' });
        assert!(mistyped(&wrong), "a wrong check character");
        assert!(mistyped(&n[..17]), "a digit left out");
        assert!(!mistyped(n), "a right number is no mistake");
        // A personal code (its digits are no document) and a passport-like
        // text that names nobody are not asked again.
        assert!(!mistyped("GW1-2-ABCDEFGHJKMN-1-0-ABCDEFGH"));
        assert!(!mistyped("X9Y8Z7W6V5"));
    }
}
