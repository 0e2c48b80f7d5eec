//! Coverage of a round at any level: expected (the snapshot taken when the
//! round opened, with where each resident lived then), sampled, exempt,
//! missed, residents added since, and the comparison with the round before.
//! Every query is bounded by the territory asked about: `round_expected` is
//! indexed by (street, round, community | grid | building).

use sqlx::Row;

use crate::{db_run, Result, Store};

/// A territory level a round's coverage can be grouped by or limited to,
/// ordered from the coarsest (`Community < Grid < Building`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Community,
    Grid,
    Building,
}

impl Level {
    /// The level one step finer, if any.
    pub fn finer(self) -> Option<Level> {
        match self {
            Level::Community => Some(Level::Grid),
            Level::Grid => Some(Level::Building),
            Level::Building => None,
        }
    }

    /// The `round_expected` column holding this level.
    pub(crate) fn column(self) -> &'static str {
        match self {
            Level::Community => "community_id",
            Level::Grid => "grid_id",
            Level::Building => "building_id",
        }
    }

    /// The same level for the added residents of [`added_from`]: read off
    /// the current registry (building `b`, grid `g`) while the round samples,
    /// as kept (`round_added a`) once sampling closed.
    pub(crate) fn added_column(self, source: Added) -> &'static str {
        match (source, self) {
            (Added::Live, Level::Community) => "g.community_id",
            (Added::Live, Level::Grid) => "b.grid_id",
            (Added::Live, Level::Building) => "b.id",
            (Added::Kept, Level::Community) => "a.community_id",
            (Added::Kept, Level::Grid) => "a.grid_id",
            (Added::Kept, Level::Building) => "a.building_id",
        }
    }
}

/// Counts for one territory unit of a round.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CoverageCount {
    pub id: i64,
    pub expected: i64,
    /// Expected and swabbed at least once in a tube the lab did not find
    /// invalid (counted once however many swabs; see `sampled_sql!`): one
    /// whose every swab is in an invalid tube is missed (re-sample due) or
    /// exempt.
    pub sampled: i64,
    /// Expected, exempt and not sampled.
    pub exempt: i64,
    /// Expected, neither sampled nor exempt, who moved out of the round's
    /// communities while it sampled (see [`MOVED_OUT`]): not missed here.
    pub moved_out: i64,
    /// Active residents living here now who were not in the snapshot.
    pub added: i64,
    /// Of those added, how many were swabbed.
    pub added_sampled: i64,
    /// Added, exempt and not swabbed (left out of `added`: "missed" means
    /// missed for the added as for the expected).
    pub added_exempt: i64,
}

/// One building compared with the round before.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildingComparison {
    pub building_id: i64,
    pub expected: i64,
    pub sampled: i64,
    pub sampled_before: i64,
    /// Expected now, swabbed in the round before, not (yet) in this one.
    pub lapsed: i64,
}

/// SQL: the exemption from round `$round` of resident `$resident` (street
/// `$street`), each given as an SQL expression.
macro_rules! exempt_sql {
    ($street:literal, $round:literal, $resident:literal) => {
        concat!(
            "EXISTS (SELECT 1 FROM round_exemption cx WHERE cx.street_id = ",
            $street,
            " AND cx.round_id = ",
            $round,
            " AND cx.resident_id = ",
            $resident,
            ")"
        )
    };
}

/// SQL: the registration `$swab` is in a tube the lab found invalid (its
/// swab gave no result).
macro_rules! invalid_swab_sql {
    ($swab:literal) => {
        concat!(
            "EXISTS (SELECT 1 FROM tube ct WHERE ct.street_id = ",
            $swab,
            ".street_id AND ct.id = ",
            $swab,
            ".tube_id AND ct.result = 'invalid')"
        )
    };
}

/// SQL: resident `$resident` counts as sampled in round `$round` (street
/// `$street`): the one definition coverage, the missed, door-to-door and
/// lapsed lists, the round before's figures and the exemptions a departure
/// records read. At least one live swab (registration) in the round whose
/// tube the lab did not find invalid: no result yet, negative, abnormal or
/// positive all count. Someone whose every swab is in an invalid tube has no
/// result at all: not sampled, so missed until their re-sample swab is
/// registered (待重采（原管无效）on the missed list), or exempt once
/// exempted. One indexed look at the tube per swab.
macro_rules! sampled_sql {
    ($street:literal, $round:literal, $resident:literal) => {
        concat!(
            "EXISTS (SELECT 1 FROM registration cs WHERE cs.street_id = ",
            $street,
            " AND cs.round_id = ",
            $round,
            " AND cs.resident_id = ",
            $resident,
            " AND NOT ",
            invalid_swab_sql!("cs"),
            ")"
        )
    };
}

/// An expected resident `e` sampled in the round (see `sampled_sql!`).
pub(crate) const SAMPLED: &str = sampled_sql!("e.street_id", "e.round_id", "e.resident_id");
/// An expected resident `e` sampled in round `$4` (the round before).
const SAMPLED_BEFORE: &str = sampled_sql!("e.street_id", "$4", "e.resident_id");
/// A resident `r` (not in the snapshot) sampled in round `$2`.
pub(crate) const ADDED_SAMPLED: &str = sampled_sql!("r.street_id", "$2", "r.id");
/// A resident `r` (not in the snapshot) exempt from round `$2`.
const ADDED_EXEMPT: &str = exempt_sql!("r.street_id", "$2", "r.id");
/// Resident `$2` sampled in round `t` (see `sampled_sql!`).
pub(crate) const SWAB_WITH_RESULT: &str = sampled_sql!("t.street_id", "t.id", "$2");

/// Where the residents added since a round opened are read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Added {
    /// While the round samples: found live (see [`added_rows`]).
    Live,
    /// Once sampling closed: as they were kept then (`round_added`), so a
    /// resident registered later is no "added" of a round that is over.
    Kept,
}

/// Residents `r` with where they live now: household `h`, unit `u`,
/// building `b`, grid `g`.
const LIVES_AT: &str =
    "resident r JOIN household h ON h.street_id = r.street_id AND h.id = r.household_id \
     JOIN unit u ON u.street_id = h.street_id AND u.id = h.unit_id \
     JOIN building b ON b.street_id = u.street_id AND b.id = u.building_id \
     JOIN grid g ON g.street_id = b.street_id AND g.id = b.grid_id";

/// `FROM … WHERE …` of the residents `r` of street `$1` added to round `$2`
/// (not in its snapshot), with their household `h`, unit `u`, building `b`
/// and grid `g`. Live: those living in the round's territory now who moved
/// in or were registered after it opened (none before it opens: a planned
/// round has no snapshot yet, and its population is not "added"); either changed the resident after
/// the opening (`updated_ms`, indexed), so only those are read. Kept: those
/// kept when sampling closed, at the building they lived in then (`h` and `u`
/// may be missing for someone who has left since). `live_filter` narrows
/// with `$3`.
fn added_rows(source: Added, live_filter: &str) -> String {
    match source {
        Added::Live => format!(
            "FROM {LIVES_AT} \
             WHERE r.street_id = $1 AND r.status = 'active' AND $3 = $3{live_filter} \
             AND r.updated_ms >= (SELECT t.opened_ms FROM testing_round t WHERE t.street_id = $1 AND t.id = $2) \
             AND {ROUND_COVERS_BUILDING} \
             AND NOT EXISTS (SELECT 1 FROM round_expected e WHERE e.street_id = r.street_id AND e.round_id = $2 AND e.resident_id = r.id)"
        ),
        Added::Kept => format!(
            "FROM round_added a JOIN resident r ON r.street_id = a.street_id AND r.id = a.resident_id \
             JOIN building b ON b.street_id = a.street_id AND b.id = a.building_id \
             JOIN grid g ON g.street_id = b.street_id AND g.id = b.grid_id \
             LEFT JOIN household h ON h.street_id = r.street_id AND h.id = r.household_id \
             LEFT JOIN unit u ON u.street_id = h.street_id AND u.id = h.unit_id \
             WHERE a.street_id = $1 AND a.round_id = $2 AND $3 = $3{live_filter}"
        ),
    }
}

/// [`added_rows`] less those exempt and not swabbed: "missed" means missed
/// for the added as for the expected.
pub(crate) fn added_from(source: Added, live_filter: &str) -> String {
    format!(
        "{} AND ({ADDED_SAMPLED} OR NOT {ADDED_EXEMPT})",
        added_rows(source, live_filter)
    )
}

/// The statement that keeps round `$2`'s added residents as sampling closes.
pub(crate) fn keep_added_sql() -> String {
    format!(
        "INSERT INTO round_added (street_id, round_id, resident_id, community_id, grid_id, building_id) \
         SELECT r.street_id, $2, r.id, g.community_id, b.grid_id, b.id {}",
        added_rows(Added::Live, "")
    )
}

/// Whether building `b` lies in round `$2`'s territory (street `$1`): a
/// round over the whole street (no `round_community` rows), or one of its
/// communities' grids. The opening's snapshot, the added residents, the
/// call-down plan and an exemption read the round's territory through it.
pub(crate) const ROUND_COVERS_BUILDING: &str = "(NOT EXISTS (SELECT 1 FROM round_community c WHERE c.street_id = $1 AND c.round_id = $2) \
     OR b.grid_id IN (SELECT g.id FROM grid g JOIN round_community c ON c.street_id = g.street_id AND c.community_id = g.community_id \
                      WHERE g.street_id = $1 AND c.round_id = $2))";

/// An expected resident `e` who moved out of the round's communities while
/// it sampled (marked by `Store::move_resident`, cleared if they move back):
/// unless swabbed or exempt, counted apart as `moved_out`, never as missed,
/// at the place the snapshot has them, so expected = sampled + exempt +
/// missed + moved_out at every level.
pub(crate) const MOVED_OUT: &str = "e.moved_out_ms IS NOT NULL";

pub(crate) const EXEMPT: &str = exempt_sql!("e.street_id", "e.round_id", "e.resident_id");

impl Store {
    /// Whether round `round`'s added residents are read live or as kept.
    pub(crate) async fn added_source(&self, street: i64, round: i64) -> Result<Added> {
        let closed: Option<Option<i64>> = db_run!(self, pool => sqlx::query_scalar("SELECT sampling_closed_ms FROM testing_round WHERE street_id = $1 AND id = $2")
            .bind(street).bind(round).fetch_optional(pool).await?);
        Ok(match closed {
            Some(Some(_)) => Added::Kept,
            _ => Added::Live,
        })
    }

    /// Coverage of a round grouped by `group`, limited to `within` (a level
    /// and its id) when given.
    pub async fn coverage_counts(
        &self,
        street: i64,
        round: i64,
        group: Level,
        within: Option<(Level, i64)>,
    ) -> Result<Vec<CoverageCount>> {
        let source = self.added_source(street, round).await?;
        let (filter, live_filter) = match within {
            Some((l, _)) => (
                format!(" AND e.{} = $3", l.column()),
                format!(" AND {} = $3", l.added_column(source)),
            ),
            None => (String::new(), String::new()),
        };
        let within_id = within.map(|w| w.1).unwrap_or(0);
        let col = group.column();
        let sql = format!(
            "SELECT e.{col}, COUNT(*), \
             COALESCE(SUM(CASE WHEN {SAMPLED} THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN NOT {SAMPLED} AND {EXEMPT} THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN NOT {SAMPLED} AND NOT {EXEMPT} AND {MOVED_OUT} THEN 1 ELSE 0 END), 0) \
             FROM round_expected e WHERE e.street_id = $1 AND e.round_id = $2 AND $3 = $3{filter} \
             GROUP BY e.{col} ORDER BY e.{col}"
        );
        // Residents added since the opening (see `added_from`).
        let live = group.added_column(source);
        // All added, then those swabbed and those exempt and not swabbed
        // (`added` leaves the last out, as `added_from` does).
        let added_sql = format!(
            "SELECT {live}, COUNT(*), COALESCE(SUM(CASE WHEN {ADDED_SAMPLED} THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN NOT {ADDED_SAMPLED} AND {ADDED_EXEMPT} THEN 1 ELSE 0 END), 0) \
             {} GROUP BY {live}",
            added_rows(source, &live_filter)
        );
        type Counts = (Vec<(i64, i64, i64, i64, i64)>, Vec<(i64, i64, i64, i64)>);
        let (rows, added): Counts = db_run!(self, pool => {
            let rows = sqlx::query(&sql).bind(street).bind(round).bind(within_id).fetch_all(pool).await?;
            let rows = rows.iter().map(|r| Ok((r.try_get::<Option<i64>, _>(0)?.unwrap_or(0), r.try_get(1)?, r.try_get(2)?, r.try_get(3)?, r.try_get(4)?)))
                .collect::<std::result::Result<Vec<_>, sqlx::Error>>()?;
            let added = sqlx::query(&added_sql).bind(street).bind(round).bind(within_id).fetch_all(pool).await?;
            let added = added.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?)))
                .collect::<std::result::Result<Vec<_>, sqlx::Error>>()?;
            (rows, added)
        });
        let mut out: std::collections::BTreeMap<i64, CoverageCount> = rows
            .into_iter()
            .map(|(id, expected, sampled, exempt, moved_out)| {
                (
                    id,
                    CoverageCount {
                        id,
                        expected,
                        sampled,
                        exempt,
                        moved_out,
                        ..CoverageCount::default()
                    },
                )
            })
            .collect();
        for (id, n, s, x) in added {
            let c = out.entry(id).or_insert_with(|| CoverageCount {
                id,
                ..CoverageCount::default()
            });
            c.added = n - x;
            c.added_sampled = s;
            c.added_exempt = x;
        }
        Ok(out.into_values().collect())
    }

    /// Of residents `ids`, those with a swab in round `round` in a tube the
    /// lab found invalid: on a missed list (not sampled, see `sampled_sql!`)
    /// they are there because their re-sample is due (待重采（原管无效）),
    /// not because nobody swabbed them. In resident order.
    pub async fn invalid_swabbed_among(
        &self,
        street: i64,
        round: i64,
        ids: &[i64],
    ) -> Result<Vec<i64>> {
        let mut out = Vec::new();
        for chunk in ids.chunks(500) {
            let mut rows: Vec<i64> = db_run!(self, pool, DB => {
                let mut qb = sqlx::QueryBuilder::<DB>::new("SELECT DISTINCT cs.resident_id FROM registration cs WHERE cs.street_id = ");
                qb.push_bind(street).push(" AND cs.round_id = ").push_bind(round).push(" AND ");
                qb.push(invalid_swab_sql!("cs")).push(" AND cs.resident_id IN (");
                let mut sep = qb.separated(", ");
                for id in chunk {
                    sep.push_bind(*id);
                }
                qb.push(") ORDER BY 1");
                qb.build_query_scalar().fetch_all(pool).await?
            });
            out.append(&mut rows);
        }
        out.sort_unstable();
        Ok(out)
    }

    /// Residents of a community, grid or building added since the round
    /// opened (moved in, or registered after) with no swab in it, in
    /// resident order: missed too, though not in the snapshot.
    pub async fn added_unsampled_in(
        &self,
        street: i64,
        round: i64,
        level: Level,
        id: i64,
    ) -> Result<Vec<i64>> {
        let source = self.added_source(street, round).await?;
        let sql = format!(
            "SELECT r.id {} AND NOT {ADDED_SAMPLED} ORDER BY r.id",
            added_from(source, &format!(" AND {} = $3", level.added_column(source)))
        );
        Ok(
            db_run!(self, pool => sqlx::query_scalar(&sql).bind(street).bind(round).bind(id).fetch_all(pool).await?),
        )
    }

    /// Expected residents (in the snapshot of another community, grid or
    /// building) who live in this one now, with no swab in the round and no
    /// exemption, in resident order: moved here since the opening, or their
    /// building placed in this grid since (which changes no resident). The
    /// coverage counts them where the snapshot has them; the list of where
    /// they live now must show them, or nobody would go to their door.
    pub async fn moved_in_unsampled_in(
        &self,
        street: i64,
        round: i64,
        level: Level,
        id: i64,
    ) -> Result<Vec<i64>> {
        // Read from the territory down, in this order (SQLite keeps a CROSS
        // JOIN's order; PostgreSQL plans it as any join): a planner left to
        // itself read every resident of the street, and the cost must follow
        // the territory asked about.
        let sql = format!(
            "SELECT r.id FROM grid g CROSS JOIN building b CROSS JOIN unit u CROSS JOIN household h \
             CROSS JOIN resident r CROSS JOIN round_expected e \
             WHERE g.street_id = $1 AND b.street_id = g.street_id AND b.grid_id = g.id \
             AND u.street_id = b.street_id AND u.building_id = b.id \
             AND h.street_id = u.street_id AND h.unit_id = u.id \
             AND r.street_id = h.street_id AND r.household_id = h.id \
             AND e.street_id = r.street_id AND e.round_id = $2 AND e.resident_id = r.id \
             AND {live} = $3 AND e.{col} <> $3 AND r.status = 'active' \
             AND NOT {SAMPLED} AND NOT {EXEMPT} ORDER BY r.id",
            live = level.added_column(Added::Live),
            col = level.column()
        );
        Ok(
            db_run!(self, pool => sqlx::query_scalar(&sql).bind(street).bind(round).bind(id).fetch_all(pool).await?),
        )
    }

    /// Expected residents of a community, grid or building with no swab in
    /// the round and no exemption, in resident order.
    pub async fn missed_in(
        &self,
        street: i64,
        round: i64,
        level: Level,
        id: i64,
    ) -> Result<Vec<i64>> {
        self.unsampled_in(street, round, level, id, false).await
    }

    /// Expected residents of a community, grid or building who moved out of
    /// the round's communities while it sampled, with no swab in it and no
    /// exemption (see [`MOVED_OUT`]), in resident order.
    pub async fn moved_out_in(
        &self,
        street: i64,
        round: i64,
        level: Level,
        id: i64,
    ) -> Result<Vec<i64>> {
        self.unsampled_in(street, round, level, id, true).await
    }

    /// Expected residents of a community, grid or building with no swab in
    /// the round and no exemption who moved out of the round's communities
    /// while it sampled (`moved_out`) or did not, in resident order.
    async fn unsampled_in(
        &self,
        street: i64,
        round: i64,
        level: Level,
        id: i64,
        moved_out: bool,
    ) -> Result<Vec<i64>> {
        let sql = format!(
            "SELECT e.resident_id FROM round_expected e WHERE e.street_id = $1 AND e.round_id = $2 AND e.{} = $3 \
             AND NOT {SAMPLED} AND NOT {EXEMPT} AND {}{MOVED_OUT} ORDER BY e.resident_id",
            level.column(),
            if moved_out { "" } else { "NOT " }
        );
        Ok(
            db_run!(self, pool => sqlx::query_scalar(&sql).bind(street).bind(round).bind(id).fetch_all(pool).await?),
        )
    }

    /// The round opened most recently before `round` (not planned) that
    /// expected anyone in `within`: a round over another community is no
    /// "last round" here.
    pub async fn previous_round(
        &self,
        street: i64,
        round: i64,
        within: (Level, i64),
    ) -> Result<Option<i64>> {
        let sql = format!(
            "SELECT r.id FROM testing_round r JOIN testing_round me ON me.street_id = r.street_id AND me.id = $2 \
             WHERE r.street_id = $1 AND r.id <> $2 AND r.state <> 'planned' \
             AND (me.opened_ms IS NULL OR r.opened_ms < me.opened_ms OR (r.opened_ms = me.opened_ms AND r.id < me.id)) \
             AND EXISTS (SELECT 1 FROM round_expected x WHERE x.street_id = r.street_id AND x.round_id = r.id AND x.{} = $3) \
             ORDER BY r.opened_ms DESC, r.id DESC LIMIT 1",
            within.0.column()
        );
        Ok(db_run!(self, pool => sqlx::query_scalar(&sql)
            .bind(street).bind(round).bind(within.1).fetch_optional(pool).await?))
    }

    /// Per building of `within`, this round against `before`.
    pub async fn compare_buildings(
        &self,
        street: i64,
        round: i64,
        before: i64,
        within: (Level, i64),
    ) -> Result<Vec<BuildingComparison>> {
        let before_sampled = SAMPLED_BEFORE;
        let sql = format!(
            "SELECT e.building_id, COUNT(*), \
             COALESCE(SUM(CASE WHEN {SAMPLED} THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN {before_sampled} THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN {before_sampled} AND NOT {SAMPLED} AND NOT {EXEMPT} AND NOT {MOVED_OUT} THEN 1 ELSE 0 END), 0) \
             FROM round_expected e WHERE e.street_id = $1 AND e.round_id = $2 AND e.{} = $3 \
             GROUP BY e.building_id ORDER BY e.building_id",
            within.0.column()
        );
        Ok(db_run!(self, pool => {
            let rows = sqlx::query(&sql).bind(street).bind(round).bind(within.1).bind(before).fetch_all(pool).await?;
            rows.iter().map(|r| Ok(BuildingComparison {
                building_id: r.try_get::<Option<i64>, _>(0)?.unwrap_or(0),
                expected: r.try_get(1)?,
                sampled: r.try_get(2)?,
                sampled_before: r.try_get(3)?,
                lapsed: r.try_get(4)?,
            })).collect::<std::result::Result<Vec<_>, sqlx::Error>>()?
        }))
    }

    /// Residents of a building or grid expected now who were swabbed in the
    /// round before and not in this one.
    pub async fn lapsed_in(
        &self,
        street: i64,
        round: i64,
        before: i64,
        within: (Level, i64),
    ) -> Result<Vec<i64>> {
        let sql = format!(
            "SELECT e.resident_id FROM round_expected e WHERE e.street_id = $1 AND e.round_id = $2 AND e.{} = $3 \
             AND {SAMPLED_BEFORE} AND NOT {SAMPLED} AND NOT {EXEMPT} AND NOT {MOVED_OUT} ORDER BY e.resident_id",
            within.0.column()
        );
        Ok(
            db_run!(self, pool => sqlx::query_scalar(&sql).bind(street).bind(round).bind(within.1).bind(before).fetch_all(pool).await?),
        )
    }

    /// Per testing point of a round (by name, so points of two rounds can be
    /// compared): residents swabbed there, swabs, tubes, first and last scan.
    /// Limited to the points of one community when `community` is given.
    pub async fn point_counts(
        &self,
        street: i64,
        round: i64,
        community: Option<i64>,
    ) -> Result<Vec<PointCount>> {
        Ok(db_run!(self, pool => {
            let rows = sqlx::query(
                "SELECT p.id, p.name, p.community_id, COUNT(DISTINCT g.resident_id), COUNT(g.id), COUNT(DISTINCT g.tube_id), MIN(g.scanned_ms), MAX(g.scanned_ms) \
                 FROM testing_point p LEFT JOIN registration g ON g.street_id = p.street_id AND g.point_id = p.id \
                 WHERE p.street_id = $1 AND p.round_id = $2 AND ($3 = 0 OR p.community_id = $3) GROUP BY p.id, p.name, p.community_id ORDER BY p.id")
                .bind(street).bind(round).bind(community.unwrap_or(0)).fetch_all(pool).await?;
            rows.iter().map(|r| Ok(PointCount {
                point_id: r.try_get(0)?,
                name: r.try_get(1)?,
                community_id: r.try_get(2)?,
                people: r.try_get(3)?,
                swabs: r.try_get(4)?,
                tubes: r.try_get(5)?,
                first_ms: r.try_get(6)?,
                last_ms: r.try_get(7)?,
            })).collect::<std::result::Result<Vec<_>, sqlx::Error>>()?
        }))
    }

    /// `(building, "compound building")` for each building id, in one query.
    pub async fn building_names(&self, street: i64, ids: &[i64]) -> Result<Vec<(i64, String)>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        Ok(db_run!(self, pool, DB => {
            let mut qb = sqlx::QueryBuilder::<DB>::new(
                "SELECT b.id, c.name || ' ' || b.name FROM building b JOIN compound c ON c.street_id = b.street_id AND c.id = b.compound_id WHERE b.street_id = ");
            qb.push_bind(street).push(" AND b.id IN (");
            let mut sep = qb.separated(", ");
            for id in ids {
                sep.push_bind(*id);
            }
            qb.push(") ORDER BY b.id");
            let rows = qb.build().fetch_all(pool).await?;
            rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect::<std::result::Result<Vec<_>, sqlx::Error>>()?
        }))
    }
}

/// Counts of one testing point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PointCount {
    pub point_id: i64,
    pub name: String,
    pub community_id: i64,
    pub people: i64,
    pub swabs: i64,
    pub tubes: i64,
    pub first_ms: Option<i64>,
    pub last_ms: Option<i64>,
}
