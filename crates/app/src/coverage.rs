//! Coverage of a round (不落一人): expected, sampled, exempt, missed and
//! added, per community, grid or building, limited to what the caller may
//! read; the missed list of any of them; per-point counts; and the
//! comparison with the round before.

use gw_domain::access::{Action, Place};
use gw_domain::ids::Key;
use gw_store::coverage::Level;
use gw_store::{Store, StoreError};
use serde::Serialize;

use crate::access::{self, AuthError, Principal};
use crate::registry::ResidentView;
use crate::Clock;

/// A level and its name in queries and answers.
pub fn parse_level(s: &str) -> Option<Level> {
    match s {
        "community" | "社区" => Some(Level::Community),
        "grid" | "网格" => Some(Level::Grid),
        "building" | "楼栋" => Some(Level::Building),
        _ => None,
    }
}

pub fn level_name(l: Level) -> &'static str {
    match l {
        Level::Community => "community",
        Level::Grid => "grid",
        Level::Building => "building",
    }
}

/// The one territory of `community`, `grid` or `building` given (ids
/// STREET-ID), `None` when none is; more than one, or a bad id, is refused
/// with the reason.
pub fn within_of(
    community: Option<&str>,
    grid: Option<&str>,
    building: Option<&str>,
) -> Result<Option<(Level, Key)>, String> {
    let given: Vec<(Level, &str)> = [
        (Level::Community, community),
        (Level::Grid, grid),
        (Level::Building, building),
    ]
    .into_iter()
    .filter_map(|(l, v)| v.map(|v| (l, v)))
    .collect();
    match given.as_slice() {
        [] => Ok(None),
        [(l, v)] => v.parse().map(|k| Some((*l, k))).map_err(|_| {
            format!(
                "{} 应为“街道-编号”，例如 1-42 / {} must be STREET-ID, e.g. 1-42: {v}",
                level_name(*l),
                level_name(*l)
            )
        }),
        _ => Err(
            "community、grid、building 只能给一个 / give only one of community, grid or building"
                .into(),
        ),
    }
}

fn store_kind(l: Level) -> &'static str {
    level_name(l)
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CoverageRow {
    /// `community`, `grid` or `building`.
    pub level: &'static str,
    pub key: String,
    /// The community the row lies in (known when the whole street is asked).
    pub community: Option<String>,
    pub expected: i64,
    pub sampled: i64,
    pub exempt: i64,
    /// Expected, neither sampled nor exempt, still living in the round's
    /// communities (expected = sampled + exempt + missed + moved_out).
    pub missed: i64,
    /// Expected, neither sampled nor exempt, who moved out of the round's
    /// communities while it sampled (开轮后迁出本轮范围): no miss here.
    pub moved_out: i64,
    /// Living here now but not in the round's snapshot (moved in or
    /// registered after the round opened): counted apart, never silently;
    /// less those exempt and not sampled, who are `added_exempt`.
    pub added: i64,
    pub added_sampled: i64,
    pub added_exempt: i64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
pub struct Totals {
    pub expected: i64,
    pub sampled: i64,
    pub exempt: i64,
    pub missed: i64,
    /// Moved out of the round's communities since it opened (not missed).
    pub moved_out: i64,
    pub added: i64,
    pub added_sampled: i64,
    pub added_exempt: i64,
}

impl Totals {
    /// Adds one row of counts; missed = expected, neither sampled nor
    /// exempt nor moved out of the round's communities.
    fn add(&mut self, c: &gw_store::coverage::CoverageCount) {
        self.expected += c.expected;
        self.sampled += c.sampled;
        self.exempt += c.exempt;
        self.missed += missed_of(c);
        self.moved_out += c.moved_out;
        self.added += c.added;
        self.added_sampled += c.added_sampled;
        self.added_exempt += c.added_exempt;
    }
}

/// Who is still outstanding in a territory, as every page shows a round's
/// 未检: the expected neither sampled nor exempt (nor moved out of the
/// round's communities), and those added since the opening not swabbed (as
/// the missed list and the record of rounds count them). The one place the
/// figure is made, so the round's page, its coverage pages, the live picture
/// and the daily report cannot diverge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outstanding {
    /// Everyone the round is for here: expected, added, and added exempt.
    everyone: i64,
    /// Expected and missed.
    expected_missed: i64,
    /// Added and not swabbed.
    added_missed: i64,
}

impl Outstanding {
    /// From the counts of a row or of totals (`missed` as [`CoverageRow::missed`]).
    pub fn of(
        expected: i64,
        missed: i64,
        added: i64,
        added_sampled: i64,
        added_exempt: i64,
    ) -> Outstanding {
        Outstanding {
            everyone: expected + added + added_exempt,
            expected_missed: missed.max(0),
            added_missed: (added - added_sampled).max(0),
        }
    }

    /// Everyone missed, the added included (未检).
    pub fn missed(self) -> i64 {
        self.expected_missed + self.added_missed
    }

    /// Of them, added since the opening (含新增 N).
    pub fn added_missed(self) -> i64 {
        self.added_missed
    }

    /// Sampled or exempt (or moved out) of everyone the round is for here,
    /// rounded down: 100% only when nobody is missed.
    pub fn percent(self) -> i64 {
        let d = self.everyone;
        if d <= 0 {
            0
        } else {
            ((d - self.missed()) * 100 / d).clamp(0, 100)
        }
    }
}

impl Totals {
    /// Who is still outstanding over these totals.
    pub fn outstanding(&self) -> Outstanding {
        Outstanding::of(
            self.expected,
            self.missed,
            self.added,
            self.added_sampled,
            self.added_exempt,
        )
    }
}

impl CoverageRow {
    /// Who is still outstanding in this row's territory.
    pub fn outstanding(&self) -> Outstanding {
        Outstanding::of(
            self.expected,
            self.missed,
            self.added,
            self.added_sampled,
            self.added_exempt,
        )
    }
}

/// Expected, neither sampled nor exempt nor moved out of the round's area.
fn missed_of(c: &gw_store::coverage::CoverageCount) -> i64 {
    c.expected - c.sampled - c.exempt - c.moved_out
}

#[derive(Debug, Clone, Serialize)]
pub struct PointRow {
    pub point: String,
    pub name: String,
    /// People swabbed at this point (each once), swabs and tubes.
    pub people: i64,
    pub swabs: i64,
    pub tubes: i64,
    pub first_ms: Option<i64>,
    pub last_ms: Option<i64>,
    /// The point's own territory: the buildings the stored call-down plan
    /// sends to it (none without a plan). Expected, sampled (anywhere in the
    /// round), exempt and missed there.
    pub buildings: usize,
    pub expected: Option<i64>,
    pub sampled: Option<i64>,
    pub exempt: Option<i64>,
    pub missed: Option<i64>,
    pub moved_out: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Coverage {
    pub round: String,
    pub by: &'static str,
    pub within: Option<String>,
    /// At the top level when serialised (the API's and `round coverage --json`'s one shape).
    #[serde(flatten)]
    pub totals: Totals,
    pub rows: Vec<CoverageRow>,
    /// Points the caller may see: those in communities they can read, and
    /// (without their territory's counts) those in the communities of the rows.
    pub points: Vec<PointRow>,
}

async fn place(store: &Store, street: i64, l: Level, id: i64) -> Result<Place, AuthError> {
    Ok(store.place_of(street, store_kind(l), id).await?)
}

/// Coverage of `round` grouped `by`, limited to `within` when given. Rows
/// the caller may not read are left out (and so are their counts).
pub async fn coverage(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    round: Key,
    by: Level,
    within: Option<(Level, Key)>,
) -> Result<Coverage, AuthError> {
    store.round(round.street, round.id).await?;
    let now = clock.now_ms();
    // Grouped by a level finer than the territory, or the same: a grid
    // "by community" would show the grid's counts under its community's name.
    if let Some((l, _)) = within.filter(|(l, _)| by < *l) {
        return Err(AuthError::Invalid(format!(
            "分组应细于所选区域（{} 内可按 {} 分组）/ group by a level finer than the territory asked about (within a {} by {} or finer)",
            level_name(l),
            level_name(l),
            level_name(l),
            level_name(l)
        )));
    }
    if let Some((l, k)) = within {
        if k.street != round.street {
            return Err(AuthError::Invalid(
                "所选区域不在本轮街道 / that territory is not in the round's street".into(),
            ));
        }
        let pl = place(store, round.street, l, k.id).await?;
        access::authorize(p, clock, Action::ReadRegistry, &pl)?;
        within_round(store, round, &pl).await?;
    }
    let counts = store
        .coverage_counts(round.street, round.id, by, within.map(|(l, k)| (l, k.id)))
        .await?;
    let anyone = counts.iter().any(|c| c.expected > 0 || c.added > 0);
    let mut rows = Vec::with_capacity(counts.len());
    let mut totals = Totals::default();
    for c in counts {
        // Inside a territory the caller was authorised for, every row is
        // readable; otherwise each row is checked.
        let mut community = match within {
            Some((Level::Community, k)) => Some(k.id),
            _ => None,
        };
        if within.is_none() {
            let pl = place(store, round.street, by, c.id).await?;
            if !p.can(Action::ReadRegistry, &pl, now) {
                continue;
            }
            community = pl.community;
        }
        let missed = missed_of(&c);
        totals.add(&c);
        rows.push(CoverageRow {
            level: level_name(by),
            key: Key {
                street: round.street,
                id: c.id,
            }
            .to_string(),
            community: community.map(|id| {
                Key {
                    street: round.street,
                    id,
                }
                .to_string()
            }),
            expected: c.expected,
            sampled: c.sampled,
            exempt: c.exempt,
            missed,
            moved_out: c.moved_out,
            added: c.added,
            added_sampled: c.added_sampled,
            added_exempt: c.added_exempt,
        });
    }
    // Nothing at this level the caller may read (a grid leader asking by
    // community): the next level down, where their own grids are, rather
    // than a street of zeros. (Each row says its level.)
    if within.is_none() && rows.is_empty() && anyone {
        if let Some(finer) = by.finer() {
            return Box::pin(coverage(store, clock, p, round, finer, None)).await;
        }
    }
    // Points belong to communities: listed for a street or a community, not
    // inside a grid or building (whose cost must not depend on the street).
    let point_scope = match within {
        None => Some(None),
        Some((Level::Community, k)) => Some(Some(k.id)),
        Some(_) => None,
    };
    let mut points = Vec::new();
    let counts = match point_scope {
        Some(c) => store.point_counts(round.street, round.id, c).await?,
        None => Vec::new(),
    };
    // Each point's territory from the stored plan: building → point, and the
    // buildings' coverage (one more grouped read, only when there is a plan).
    let mut served: std::collections::BTreeMap<i64, (usize, Totals)> = Default::default();
    if !counts.is_empty() {
        let calls = store.schedule_calls(round.street, round.id).await?;
        if !calls.is_empty() {
            let mut at: std::collections::BTreeMap<i64, i64> = Default::default();
            for c in &calls {
                at.entry(c.building_id).or_insert(c.point_id);
            }
            // Street-wide: a point outside any compound may be given a
            // building of another community, and its territory is all of it.
            let by_building = store
                .coverage_counts(round.street, round.id, Level::Building, None)
                .await?;
            for b in by_building {
                if let Some(point) = at.get(&b.id) {
                    let e = served.entry(*point).or_default();
                    e.0 += 1;
                    e.1.add(&b);
                }
            }
        }
    }
    // The communities of the rows given (a grid leader's grids lie in one):
    // their points' counts are shown as the round's page shows them, but
    // not the points' territories, which reach grids the caller may not read.
    let row_communities: std::collections::BTreeSet<String> =
        rows.iter().filter_map(|r| r.community.clone()).collect();
    for pc in counts {
        let pl = place(store, round.street, Level::Community, pc.community_id).await?;
        let whole = p.can(Action::ReadRegistry, &pl, now);
        let of_rows = row_communities.contains(
            &Key {
                street: round.street,
                id: pc.community_id,
            }
            .to_string(),
        );
        if whole || of_rows {
            let own = served.get(&pc.point_id).filter(|_| whole);
            points.push(PointRow {
                point: Key {
                    street: round.street,
                    id: pc.point_id,
                }
                .to_string(),
                name: pc.name,
                people: pc.people,
                swabs: pc.swabs,
                tubes: pc.tubes,
                first_ms: pc.first_ms,
                last_ms: pc.last_ms,
                buildings: own.map_or(0, |o| o.0),
                expected: own.map(|o| o.1.expected),
                sampled: own.map(|o| o.1.sampled),
                exempt: own.map(|o| o.1.exempt),
                missed: own.map(|o| o.1.missed),
                moved_out: own.map(|o| o.1.moved_out),
            });
        }
    }
    Ok(Coverage {
        round: round.to_string(),
        by: level_name(by),
        within: within.map(|(l, k)| format!("{}:{k}", level_name(l))),
        totals,
        rows,
        points,
    })
}

/// Authorises reading the registry of `within` and checks it lies in the
/// round's street, and that the round exists.
async fn read_in_round(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    round: Key,
    (l, k): (Level, Key),
) -> Result<(), AuthError> {
    let pl = place(store, k.street, l, k.id).await?;
    access::authorize(p, clock, Action::ReadRegistry, &pl)?;
    if k.street != round.street {
        return Err(AuthError::Invalid(
            "所选区域不在本轮街道 / that territory is not in the round's street".into(),
        ));
    }
    store.round(round.street, round.id).await?;
    within_round(store, round, &pl).await
}

/// Whether a round covering `covered` (its communities; none: the whole
/// street) covers the territory at `pl`.
fn covers(covered: &[i64], pl: &Place) -> bool {
    pl.community
        .is_none_or(|c| covered.is_empty() || covered.contains(&c))
}

/// Refuses a territory outside the round's communities (a round over some
/// communities of its street): its figures would be zeros that look like
/// nobody missed.
pub(crate) async fn within_round(store: &Store, round: Key, pl: &Place) -> Result<(), AuthError> {
    let covered = store.round_communities(round.street, round.id).await?;
    if covers(&covered, pl) {
        return Ok(());
    }
    Err(AuthError::Invalid(format!(
        "所选区域不在本轮范围内（本轮覆盖社区 {0}）/ that territory is outside the round (it covers communities {0})",
        covered
            .iter()
            .map(|c| Key { street: round.street, id: *c }.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    )))
}

/// One round's totals over a territory, in a run of rounds.
#[derive(Debug, Clone, Serialize)]
pub struct RoundTotals {
    pub round: String,
    pub name: String,
    pub state: String,
    pub starts_ms: i64,
    #[serde(flatten)]
    pub totals: Totals,
    /// Nobody missed: every expected person sampled or exempt, and everyone
    /// added since the opening sampled.
    pub nobody_missed: bool,
}

/// The latest rounds over a territory, newest first (不落一人 over rounds).
#[derive(Debug, Clone, Serialize)]
pub struct History {
    pub street: i64,
    pub within: Option<String>,
    pub rounds: Vec<RoundTotals>,
    /// How many of the latest rounds in a row missed nobody (a round still
    /// sampling with people missed is not counted against the run yet).
    pub in_a_row: usize,
}

/// The street's latest `last` opened rounds that expected anyone in `within`
/// (the whole street when none), newest first, each with its totals as the
/// caller may read them, and how many in a row missed nobody.
pub async fn history(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    street: i64,
    within: Option<(Level, Key)>,
    last: usize,
) -> Result<History, AuthError> {
    // The street exists; each round's totals are narrowed to what the caller reads.
    store.place_of(street, "street", street).await?;
    let at = match within {
        Some((l, k)) => Some(place(store, street, l, k.id).await?),
        None => None,
    };
    // Grouped at the territory's own level (a coarser grouping is refused).
    let by = within.map_or(Level::Community, |(l, _)| l);
    let mut rounds = Vec::new();
    for r in store.rounds(street).await? {
        if r.state == "planned" || r.state == gw_domain::testing::CANCELLED {
            continue;
        }
        let key = Key { street, id: r.id };
        if let Some(pl) = &at {
            if !covers(&store.round_communities(street, r.id).await?, pl) {
                continue; // a round over other communities
            }
        }
        let c = coverage(store, clock, p, key, by, within).await?;
        let t = c.totals;
        if t.expected == 0 && t.added == 0 {
            continue; // a round over another territory
        }
        rounds.push(RoundTotals {
            round: key.to_string(),
            name: r.name,
            state: r.state,
            starts_ms: r.starts_ms,
            nobody_missed: t.outstanding().missed() == 0,
            totals: t,
        });
        if rounds.len() >= last.max(1) {
            break;
        }
    }
    // A round still sampling that has missed people is not over yet: the
    // run is counted from the rounds before it (it breaks the run once its
    // sampling has closed with anyone missed).
    let in_a_row = rounds
        .iter()
        .skip_while(|r| r.state == "open" && !r.nobody_missed)
        .take_while(|r| r.nobody_missed)
        .count();
    Ok(History {
        street,
        within: within.map(|(l, k)| format!("{}:{k}", level_name(l))),
        rounds,
        in_a_row,
    })
}

/// Who is missed in a community, grid or building: to call, or visit at
/// their door (masked as access rules say when shown).
#[derive(Debug, Clone)]
pub struct Missed {
    /// Expected (in the round's snapshot), not swabbed, not exempt.
    pub expected: Vec<gw_store::registry::ResidentRow>,
    /// Moved in or registered since the round opened, not swabbed: missed
    /// too, though not in the snapshot.
    pub added: Vec<gw_store::registry::ResidentRow>,
    /// Missed here who have moved since to where the caller may not read
    /// them (another grid): counted, not listed (their grid has them).
    pub moved_away: usize,
    /// Expected here, not swabbed, not exempt, who moved out of the round's
    /// communities since it opened: no miss of this place (counted apart as
    /// `moved_out`). Those the caller may read where they live now…
    pub moved_out: Vec<gw_store::registry::ResidentRow>,
    /// …and how many more live where the caller may not read them.
    pub moved_out_hidden: usize,
    /// Expected elsewhere (the opening's snapshot counts them there), living
    /// here now, not swabbed, not exempt: listed here too, since this is
    /// where their door is.
    pub moved_in: Vec<gw_store::registry::ResidentRow>,
    /// Of those listed (expected, added, moved in), the ones swabbed in the
    /// round whose every swab is in a tube the lab found invalid: no result,
    /// so missed until their re-sample swab is registered
    /// ([`RESAMPLE_DUE`]).
    pub resample_due: std::collections::HashSet<i64>,
}

/// Why someone swabbed in the round is on its missed list: every swab of
/// theirs is in a tube the lab found invalid (no result).
pub const RESAMPLE_DUE: &str = "待重采（原管无效）/ re-sample due (tube invalid)";

/// A person on a missed list as the API and the CLI show it: masked, and
/// when swabbed into an invalid tube only, marked so the grid leader knows
/// why (`resample_due`, with `reason`).
#[derive(Debug, Clone, Serialize)]
pub struct MissedView {
    #[serde(flatten)]
    pub resident: ResidentView,
    /// Swabbed in the round, every swab in a tube the lab found invalid: a
    /// re-sample is due.
    pub resample_due: bool,
    /// [`RESAMPLE_DUE`] when `resample_due`; absent otherwise (not swabbed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
}

impl Missed {
    /// Whether `r` is listed because their re-sample is due.
    pub fn resample_due(&self, r: &gw_store::registry::ResidentRow) -> bool {
        self.resample_due.contains(&r.id)
    }

    /// `rows` (one of the lists) as the API and the CLI show them.
    pub fn views(
        &self,
        rows: &[gw_store::registry::ResidentRow],
        today: gw_domain::date::Date,
    ) -> Vec<MissedView> {
        rows.iter()
            .map(|r| {
                let due = self.resample_due(r);
                MissedView {
                    resident: ResidentView::masked(r, today),
                    resample_due: due,
                    reason: due.then_some(RESAMPLE_DUE),
                }
            })
            .collect()
    }
}

/// The residents `ids` split into those the caller may read where they live
/// now, and the ids of those they may not: a list chosen by where people
/// lived when the round opened must not show a grid leader who lives in
/// another grid today.
async fn readable_now(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    street: i64,
    ids: &[i64],
) -> Result<
    (
        Vec<gw_store::registry::ResidentRow>,
        std::collections::HashSet<i64>,
    ),
    StoreError,
> {
    let rows = store.residents_by_ids(street, ids).await?;
    let district = store.place_of(street, "street", street).await?.district;
    let now = clock.now_ms();
    let (kept, away): (Vec<_>, Vec<_>) = rows.into_iter().partition(|r| {
        let place = Place {
            district,
            street,
            community: r.community_id,
            grid: r.grid_id,
            point: None,
        };
        p.can(Action::ReadRegistry, &place, now)
    });
    Ok((kept, away.into_iter().map(|r| r.id).collect()))
}

/// The missed list of a community, grid or building.
pub async fn missed(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    round: Key,
    within: (Level, Key),
) -> Result<Missed, AuthError> {
    let (l, k) = within;
    read_in_round(store, clock, p, round, within).await?;
    let expected = store.missed_in(round.street, round.id, l, k.id).await?;
    let added = store
        .added_unsampled_in(round.street, round.id, l, k.id)
        .await?;
    let moved_in = store
        .moved_in_unsampled_in(round.street, round.id, l, k.id)
        .await?;
    let moved_out = store.moved_out_in(round.street, round.id, l, k.id).await?;
    // One read of the four lists' residents as the caller may read them
    // now (the lists share nobody: in the snapshot here, not in it, in it
    // elsewhere, in it here and moved out of the round), then each list in
    // its own order.
    let all: Vec<i64> = expected
        .iter()
        .chain(&added)
        .chain(&moved_in)
        .chain(&moved_out)
        .copied()
        .collect();
    let (readable, away) = readable_now(store, clock, p, round.street, &all).await?;
    let mut by_id: std::collections::HashMap<i64, gw_store::registry::ResidentRow> =
        readable.into_iter().map(|r| (r.id, r)).collect();
    let mut take = |ids: &[i64]| -> Vec<gw_store::registry::ResidentRow> {
        ids.iter().filter_map(|id| by_id.remove(id)).collect()
    };
    let listed: Vec<i64> = expected
        .iter()
        .chain(&added)
        .chain(&moved_in)
        .copied()
        .collect();
    let resample_due = store
        .invalid_swabbed_among(round.street, round.id, &listed)
        .await?
        .into_iter()
        .collect();
    Ok(Missed {
        resample_due,
        moved_away: expected
            .iter()
            .chain(&added)
            .filter(|id| away.contains(id))
            .count(),
        expected: take(&expected),
        added: take(&added),
        moved_in: take(&moved_in),
        moved_out_hidden: moved_out.iter().filter(|id| away.contains(id)).count(),
        moved_out: take(&moved_out),
    })
}

/// A list's rows `(resident id, what the list says of them)` read in one
/// territory of a round, each with the resident as the caller may read them
/// now (those they may not are left out), in the rows' order.
async fn with_readable<T>(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    round: Key,
    within: (Level, Key),
    rows: impl std::future::Future<Output = Result<Vec<(i64, T)>, StoreError>>,
) -> Result<Vec<(gw_store::registry::ResidentRow, T)>, AuthError> {
    read_in_round(store, clock, p, round, within).await?;
    let rows = rows.await?;
    let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
    let (people, _) = readable_now(store, clock, p, round.street, &ids).await?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, what)| Some((people.iter().find(|r| r.id == id)?.clone(), what)))
        .collect())
}

/// A member of an invalid tube who must be swabbed again.
#[derive(Debug, Clone)]
pub struct Resample {
    pub resident: gw_store::registry::ResidentRow,
    /// The invalid tube.
    pub tube: String,
    /// `open`, or `resampled` once a re-sample swab has a result.
    pub state: String,
    pub created_ms: i64,
    /// Their household is held at home now (sealed, or under temporary
    /// control, on itself or around it): swabbed again at the door, not
    /// told to come to a point.
    pub held_at_home: Option<gw_domain::territory::ControlStatus>,
}

/// A [`Resample`] as the API and the CLI show it (the resident masked).
#[derive(Debug, Clone, Serialize)]
pub struct ResampleView {
    pub resident: ResidentView,
    pub tube: String,
    pub state: String,
    pub created_ms: i64,
    /// `sealed` or `temporary` when their household is held at home now (a
    /// door-to-door team swabs them again), else absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held_at_home: Option<&'static str>,
}

impl Resample {
    pub fn masked(&self, today: gw_domain::date::Date) -> ResampleView {
        ResampleView {
            resident: ResidentView::masked(&self.resident, today),
            tube: self.tube.clone(),
            state: self.state.clone(),
            created_ms: self.created_ms,
            held_at_home: self.held_at_home.map(|s| s.code()),
        }
    }
}

/// The re-samples of a round in one community, grid or building: the members
/// of tubes the lab found invalid, open ones first. A re-sample swab (purpose
/// `resample`) whose tube gets a result ends its member's re-sample.
pub async fn resamples(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    round: Key,
    within: (Level, Key),
) -> Result<Vec<Resample>, AuthError> {
    let (l, k) = within;
    let rows = async {
        Ok(store
            .resamples_in(round.street, round.id, l, k.id)
            .await?
            .into_iter()
            .map(|(id, tube, state, created_ms)| (id, (tube, state, created_ms)))
            .collect())
    };
    let listed = with_readable(store, clock, p, round, within, rows).await?;
    // Who is held at home now, read once if anyone is listed.
    let held = if listed.is_empty() {
        Default::default()
    } else {
        crate::testing::held_homes(store, round.street, clock.now_ms()).await?
    };
    Ok(listed
        .into_iter()
        .map(|(resident, (tube, state, created_ms))| Resample {
            held_at_home: resident.household_id.and_then(|h| held.get(&h).copied()),
            resident,
            tube,
            state,
            created_ms,
        })
        .collect())
}

/// A resident exempt from a round, and why.
#[derive(Debug, Clone)]
pub struct Exemption {
    pub resident: gw_store::registry::ResidentRow,
    /// One of [`gw_domain::testing::EXEMPTION_REASONS`] (`已清除` once purged).
    pub reason: String,
    pub set_by: String,
    pub created_ms: i64,
}

/// An [`Exemption`] as the API and the CLI show it (the resident masked).
#[derive(Debug, Clone, Serialize)]
pub struct ExemptionView {
    pub resident: ResidentView,
    pub reason: String,
    pub set_by: String,
    pub created_ms: i64,
}

impl Exemption {
    pub fn masked(&self, today: gw_domain::date::Date) -> ExemptionView {
        ExemptionView {
            resident: ResidentView::masked(&self.resident, today),
            reason: self.reason.clone(),
            set_by: self.set_by.clone(),
            created_ms: self.created_ms,
        }
    }
}

/// Who is exempt from a round in one community, grid or building, and why,
/// newest first: so a wrong exemption is found (and lifted) before the round
/// closes. For those who may read the territory, as the missed list.
pub async fn exemptions(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    round: Key,
    within: (Level, Key),
) -> Result<Vec<Exemption>, AuthError> {
    let (l, k) = within;
    let rows = async {
        Ok(store
            .exemptions_in(round.street, round.id, l, k.id)
            .await?
            .into_iter()
            .map(|(id, reason, set_by, created_ms)| (id, (reason, set_by, created_ms)))
            .collect())
    };
    Ok(with_readable(store, clock, p, round, within, rows)
        .await?
        .into_iter()
        .map(|(resident, (reason, set_by, created_ms))| Exemption {
            resident,
            reason,
            set_by,
            created_ms,
        })
        .collect())
}

#[derive(Debug, Clone, Serialize)]
pub struct BuildingCompared {
    pub building: String,
    pub name: String,
    pub expected: i64,
    pub sampled: i64,
    pub sampled_before: i64,
    pub lapsed: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct PointCompared {
    pub name: String,
    pub people: i64,
    pub people_before: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub round: String,
    /// The round compared with: the latest opened before it that expected
    /// anyone in the territory asked about.
    pub before: Option<String>,
    pub within: String,
    pub buildings: Vec<BuildingCompared>,
    /// The points of the territory's community in either round, matched by
    /// name (a point the round before had and this one lacks has `people` 0).
    pub points: Vec<PointCompared>,
    /// Residents sampled in the round before and not (yet) in this one, nor
    /// exempt from it (masked).
    pub lapsed: Vec<ResidentView>,
}

/// Round-over-round for a community, grid or building.
pub async fn compare(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    round: Key,
    within: (Level, Key),
) -> Result<Comparison, AuthError> {
    let (l, k) = within;
    read_in_round(store, clock, p, round, within).await?;
    let within_text = format!("{}:{k}", level_name(l));
    let Some(before) = store
        .previous_round(round.street, round.id, (l, k.id))
        .await?
    else {
        return Ok(Comparison {
            round: round.to_string(),
            before: None,
            within: within_text,
            buildings: Vec::new(),
            points: Vec::new(),
            lapsed: Vec::new(),
        });
    };
    let rows = store
        .compare_buildings(round.street, round.id, before, (l, k.id))
        .await?;
    let ids: Vec<i64> = rows.iter().map(|r| r.building_id).collect();
    let names: std::collections::HashMap<i64, String> = store
        .building_names(round.street, &ids)
        .await?
        .into_iter()
        .collect();
    let buildings = rows
        .into_iter()
        .map(|r| BuildingCompared {
            building: Key {
                street: round.street,
                id: r.building_id,
            }
            .to_string(),
            name: names.get(&r.building_id).cloned().unwrap_or_default(),
            expected: r.expected,
            sampled: r.sampled,
            sampled_before: r.sampled_before,
            lapsed: r.lapsed,
        })
        .collect();
    // The points of the territory's community in either round, each name
    // once (names repeat across communities: every community may have its
    // 1号点). A point of the round before that this round lacks is listed
    // with no one now, so the two rounds' totals add up. Whoever reads the
    // territory sees its community's points (counts only), as the round's
    // page shows them.
    let community = store
        .place_of(round.street, level_name(l), k.id)
        .await?
        .community;
    let mut points: Vec<PointCompared> = Vec::new();
    if let Some(c) = community {
        let now_points = store.point_counts(round.street, round.id, Some(c)).await?;
        let before_points = store.point_counts(round.street, before, Some(c)).await?;
        let counts = now_points
            .into_iter()
            .map(|pc| (pc, true))
            .chain(before_points.into_iter().map(|pc| (pc, false)));
        for (pc, this_round) in counts {
            let i = match points.iter().position(|x| x.name == pc.name) {
                Some(i) => i,
                None => {
                    points.push(PointCompared {
                        name: pc.name,
                        people: 0,
                        people_before: 0,
                    });
                    points.len() - 1
                }
            };
            if this_round {
                points[i].people += pc.people;
            } else {
                points[i].people_before += pc.people;
            }
        }
    }
    let today = clock.today();
    let ids = store
        .lapsed_in(round.street, round.id, before, (l, k.id))
        .await?;
    let (lapsed, _) = readable_now(store, clock, p, round.street, &ids).await?;
    let lapsed = lapsed
        .iter()
        .map(|r| ResidentView::masked(r, today))
        .collect();
    Ok(Comparison {
        round: round.to_string(),
        before: Some(
            Key {
                street: round.street,
                id: before,
            }
            .to_string(),
        ),
        within: within_text,
        buildings,
        points,
        lapsed,
    })
}

/// One grid's line of a round's coverage, as pages show it.
#[derive(Debug, Clone, Serialize)]
pub struct GridRow {
    pub grid: String,
    pub community: String,
    pub expected: i64,
    pub sampled: i64,
    pub exempt: i64,
    pub missed: i64,
    pub moved_out: i64,
    /// Residents added since the round opened, and how many of them were
    /// swabbed (the rest are missed too, counted apart from `missed`).
    pub added: i64,
    pub added_sampled: i64,
    pub added_exempt: i64,
}

impl GridRow {
    /// Who is still outstanding in the grid.
    pub fn outstanding(&self) -> Outstanding {
        Outstanding::of(
            self.expected,
            self.missed,
            self.added,
            self.added_sampled,
            self.added_exempt,
        )
    }
}

/// The totals of a round's grid rows (as [`coverage`]'s totals).
pub fn grid_totals(rows: &[GridRow]) -> Totals {
    let mut t = Totals::default();
    for r in rows {
        t.expected += r.expected;
        t.sampled += r.sampled;
        t.exempt += r.exempt;
        t.missed += r.missed;
        t.moved_out += r.moved_out;
        t.added += r.added;
        t.added_sampled += r.added_sampled;
        t.added_exempt += r.added_exempt;
    }
    t
}

/// Coverage per grid of the whole round, the grids the caller may read.
pub async fn grid_rows(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    round: Key,
) -> Result<Vec<GridRow>, AuthError> {
    Ok(coverage(store, clock, p, round, Level::Grid, None)
        .await?
        .rows
        .into_iter()
        .map(|r| GridRow {
            grid: r.key,
            community: r.community.unwrap_or_default(),
            expected: r.expected,
            sampled: r.sampled,
            exempt: r.exempt,
            missed: r.missed,
            moved_out: r.moved_out,
            added: r.added,
            added_sampled: r.added_sampled,
            added_exempt: r.added_exempt,
        })
        .collect())
}
