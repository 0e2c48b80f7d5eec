//! Testing rounds: rounds and their expected population, points, tubes,
//! registrations, and coverage.

use sqlx::Row;

use crate::import::RowLock;
use crate::{db_run, Result, Store, StoreError};

#[derive(Debug, Clone)]
pub struct RoundRow {
    pub street_id: i64,
    pub id: i64,
    pub name: String,
    pub starts_ms: i64,
    pub ends_ms: i64,
    pub pool_size: i32,
    pub state: String,
}

#[derive(Debug, Clone)]
pub struct PointRow {
    pub street_id: i64,
    pub id: i64,
    pub round_id: i64,
    pub name: String,
    pub community_id: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TubeRow {
    pub street_id: i64,
    pub id: i64,
    pub round_id: i64,
    pub point_id: i64,
    pub barcode: String,
    pub state: String,
    pub pool_size: i32,
    /// What it was opened for: `pool`, `retest` or `resample`.
    pub tube_use: String,
}

/// A stored registration, as a station is told about it.
#[derive(Debug, Clone)]
pub struct RegistrationRow {
    pub id: i64,
    pub client_id: String,
    pub tube_id: i64,
    pub point_id: i64,
    pub resident_id: Option<i64>,
    pub purpose: String,
    pub duplicate_of: Option<i64>,
    pub problem: String,
    pub scanned_ms: i64,
    /// What was scanned or typed (a personal code, or a document number:
    /// personal data, cleared by a purge). Never shown.
    pub raw_code: String,
}

/// What [`Store::scan_state`] is asked.
#[derive(Debug, Clone, Copy)]
pub struct ScanQuery<'a> {
    pub street: i64,
    pub client_id: &'a str,
    pub tube: i64,
    /// The uid a personal code carries (resolved here), or
    pub uid: Option<&'a str>,
    /// the resident already known (a document number).
    pub resident: Option<i64>,
}

/// What a scan must know before it is written, read in one query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanState {
    pub tube: TubeRow,
    /// The tube's point's community, its round's state and the street's district.
    pub community: i64,
    pub round_state: String,
    pub district: i64,
    pub uid_resident: Option<i64>,
    pub uid_generation: Option<i64>,
    /// When the code's resident had their code last reissued.
    pub code_reissued_ms: Option<i64>,
    pub replay: Option<i64>,
    /// Swabs in the tube and at its point (the writer's counters).
    pub tube_fill: i64,
    pub point_count: i64,
    pub first_routine: Option<i64>,
    /// The resident's name, gender code and birth date (the code's or the
    /// typed document's), for the station's masked line about who it was.
    pub name: Option<String>,
    pub gender: Option<String>,
    pub birth_date: Option<String>,
    /// The resident's open single-tube retests in the tube's round (an
    /// abnormal pool's member; a retest is answered in its own round).
    pub open_retests: i64,
    /// When the tube's round began: its planned start, or its opening if
    /// that was earlier.
    pub round_starts_ms: i64,
    /// A swab with this client id that was taken back (its registration).
    pub voided: Option<i64>,
    /// The resident's household (none for a walk-in or nobody known).
    pub household: Option<i64>,
    /// The street's newest control order: a cache of who is held at home
    /// is good while this stays.
    pub control_version: Option<i64>,
}

/// A flagged swab, for the round's review list.
#[derive(Debug, Clone)]
pub struct FlaggedRow {
    pub id: i64,
    pub client_id: String,
    pub point_id: i64,
    pub point: String,
    pub tube: String,
    pub resident_id: Option<i64>,
    pub purpose: String,
    pub duplicate_of: Option<i64>,
    pub problem: String,
    pub scanned_ms: i64,
    pub station: String,
}

/// A registration as the writer stored it, with the counts it made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stored {
    pub id: i64,
    /// Swabs in the tube and at the point, this one included, in commit order.
    pub tube_fill: i64,
    pub point_count: i64,
}

/// A round to create (planned).
pub struct RoundWrite<'a> {
    pub street_id: i64,
    pub name: &'a str,
    pub starts_ms: i64,
    pub ends_ms: i64,
    pub pool_size: i32,
    pub created_by: &'a str,
    pub now_ms: i64,
    /// The communities the round covers; empty: the whole street.
    pub communities: &'a [i64],
}

/// An earlier round whose points a new round takes over.
pub struct PointCarry<'a> {
    pub from_round: i64,
    /// Added to the points' opening and closing times (whole days: the
    /// same hours on the new round's day).
    pub shift_ms: i64,
    /// Who the carried grants are given by (`granted_by`).
    pub granted_by: &'a str,
}

/// One point carried over: the earlier point, the new one, its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CarriedPoint {
    pub from: i64,
    pub id: i64,
    pub name: String,
    pub community_id: i64,
}

/// One grant carried over: the user, the role, the new point, the new
/// grant's id, the earlier point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CarriedGrant {
    pub user_id: i64,
    pub role: String,
    pub point: i64,
    pub grant: i64,
    pub from_point: i64,
}

/// What a round's creation carried over from an earlier round.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Carried {
    pub points: Vec<CarriedPoint>,
    pub grants: Vec<CarriedGrant>,
    /// The earlier round's points in communities the new round does not
    /// cover, left behind: `(point, name)`.
    pub left: Vec<(i64, String)>,
}

impl crate::import::StoreTx {
    /// Copies round `c.from_round`'s points into the new round `round`
    /// (name, community, compound, position, stations, rate; hours moved by
    /// `c.shift_ms`; no supplies, tubes or stations), only those in the
    /// communities `w` covers when it names some, and gives everyone with a
    /// volunteer's or point manager's grant at an earlier point, in force
    /// now or later, the same grant at the new one (from now; an end moved
    /// as the hours are).
    async fn carry_points(
        &mut self,
        w: &RoundWrite<'_>,
        round: i64,
        c: &PointCarry<'_>,
    ) -> Result<Carried> {
        type PointCopy = (
            i64,
            String,
            i64,
            i32,
            Option<i64>,
            Option<i32>,
            Option<i32>,
            Option<i64>,
            Option<i64>,
            i32,
        );
        let street = w.street_id;
        let points: Vec<PointCopy> = crate::import::tx_run!(self, conn, DB => sqlx::query_as(
            "SELECT id, name, community_id, stations, compound_id, x_m, y_m, opens_ms, closes_ms, rate_per_station_h FROM testing_point \
             WHERE street_id = $1 AND round_id = $2 ORDER BY id")
            .bind(street).bind(c.from_round).fetch_all(&mut *conn).await?);
        let mut out = Carried::default();
        for (from, name, community, stations, compound, x, y, opens, closes, rate) in points {
            if !w.communities.is_empty() && !w.communities.contains(&community) {
                out.left.push((from, name));
                continue;
            }
            let given = self.next_id_above_floor("testing_point").await?;
            let sql = if given.is_some() {
                "INSERT INTO testing_point (street_id, round_id, name, community_id, stations, compound_id, x_m, y_m, opens_ms, closes_ms, rate_per_station_h, id) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id"
            } else {
                "INSERT INTO testing_point (street_id, round_id, name, community_id, stations, compound_id, x_m, y_m, opens_ms, closes_ms, rate_per_station_h) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id"
            };
            let (opens, closes) = (
                opens.map(|t| t + c.shift_ms),
                closes.map(|t| t + c.shift_ms),
            );
            let id = crate::import::tx_run!(self, conn, DB => {
                let q = sqlx::query_scalar::<_, i64>(sql)
                    .bind(street).bind(round).bind(&name).bind(community).bind(stations)
                    .bind(compound).bind(x).bind(y).bind(opens).bind(closes).bind(rate);
                match given {
                    Some(g) => q.bind(g),
                    None => q,
                }
                .fetch_one(&mut *conn).await?
            });
            out.points.push(CarriedPoint {
                from,
                id,
                name,
                community_id: community,
            });
        }
        for p in out.points.clone() {
            // One grant per person and role, the latest end of theirs.
            let staff: Vec<(i64, String, Option<i64>)> = crate::import::tx_run!(self, conn, DB => sqlx::query_as(
                "SELECT user_id, role, CASE WHEN COUNT(*) > COUNT(until_ms) THEN NULL ELSE MAX(until_ms) END FROM user_grant \
                 WHERE node_kind = 'point' AND street_id = $1 AND node_id = $2 AND revoked_ms IS NULL \
                 AND role IN ('volunteer', 'point_manager') AND (until_ms IS NULL OR until_ms > $3) \
                 GROUP BY user_id, role ORDER BY user_id, role")
                .bind(street).bind(p.from).bind(w.now_ms).fetch_all(&mut *conn).await?);
            for (user, role, until) in staff {
                let until = until.map(|u| u + c.shift_ms);
                if until.is_some_and(|u| u <= w.now_ms) {
                    continue;
                }
                let note = format!("carried from point {street}-{}", p.from);
                let grant: i64 = crate::import::tx_run!(self, conn, DB => sqlx::query_scalar(
                    "INSERT INTO user_grant (user_id, role, node_kind, street_id, node_id, from_ms, until_ms, granted_by, note, created_ms) \
                     VALUES ($1, $2, 'point', $3, $4, $5, $6, $7, $8, $5) RETURNING id")
                    .bind(user).bind(&role).bind(street).bind(p.id).bind(w.now_ms).bind(until)
                    .bind(c.granted_by).bind(&note).fetch_one(&mut *conn).await?);
                out.grants.push(CarriedGrant {
                    user_id: user,
                    role,
                    point: p.id,
                    grant,
                    from_point: p.from,
                });
            }
        }
        Ok(out)
    }
}

/// The one row a `SELECT … WHERE street_id = $1 AND <key> = $2` finds, mapped
/// by a row macro; `None` when there is none.
macro_rules! one_by_key {
    ($store:expr, $sql:expr, $street:expr, $key:expr, $row:ident) => {
        db_run!($store, pool => {
            match sqlx::query($sql).bind($street).bind($key).fetch_optional(pool).await? {
                Some(r) => Some($row!(r)),
                None => None,
            }
        })
    };
}

/// The purposes of the round's sampling as an SQL list
/// ([`gw_domain::testing::sampling_sql`]): a resident's first of either is
/// their first swab, a later one its duplicate (the unique index
/// `registration_first_swab`, whose migration spells the list too).
pub(crate) static SAMPLING: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(gw_domain::testing::sampling_sql);

/// The scan's one read (see [`HeldConnection::scan_state`]).
static SCAN_STATE_SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "SELECT t.round_id, t.point_id, t.barcode, t.state, t.pool_size, CAST(t.fill AS BIGINT), p.community_id, CAST(p.swabs AS BIGINT), r.state, s.district_id, \
                u.id, CAST(u.code_generation AS BIGINT), \
                (SELECT id FROM registration WHERE street_id = $1 AND client_id = $3), \
                (SELECT g.id FROM registration g WHERE g.street_id = $1 AND g.round_id = t.round_id \
                    AND g.resident_id = COALESCE(u.id, $5) \
                    AND g.purpose IN {} AND g.duplicate_of IS NULL), \
                t.tube_use, \
                COALESCE(u.name, v.name), COALESCE(u.gender, v.gender), COALESCE(u.birth_date, v.birth_date), \
                (SELECT COUNT(*) FROM follow_up f WHERE f.street_id = $1 AND f.resident_id = COALESCE(u.id, $5) \
                    AND f.round_id = t.round_id AND f.kind = 'retest' AND f.state = 'open'), \
                CASE WHEN r.opened_ms IS NOT NULL AND r.opened_ms < r.starts_ms THEN r.opened_ms ELSE r.starts_ms END, \
                (SELECT id FROM voided_swab WHERE street_id = $1 AND client_id = $3), \
                COALESCE(u.household_id, v.household_id), \
                (SELECT MAX(c.id) FROM control_order c WHERE c.street_id = $1), \
                u.code_reissued_ms \
         FROM tube t \
         JOIN testing_point p ON p.street_id = t.street_id AND p.id = t.point_id \
         JOIN testing_round r ON r.street_id = t.street_id AND r.id = t.round_id \
         JOIN street s ON s.id = t.street_id \
         LEFT JOIN resident u ON u.street_id = $1 AND u.uid = $4 AND u.status <> 'purged' \
         LEFT JOIN resident v ON v.street_id = $1 AND v.id = $5 \
         WHERE t.street_id = $1 AND t.id = $2",
        *SAMPLING
    )
});

/// On SQLite, the id below the next tube's: the largest present or ever
/// withdrawn (migration 0035 keeps the latter in `id_floor`).
const TUBE_ID_ABOVE_FLOOR: &str = "(SELECT MAX(COALESCE((SELECT MAX(id) FROM tube), 0), COALESCE((SELECT id FROM id_floor WHERE tbl = 'tube'), 0)))";

/// Deletes tube `$2` of street `$1` when it holds no live swab, is open or
/// closed at its point (in no bag), has no result and its round is not
/// settled; returns its barcode (see [`Store::withdraw_empty_tube`]).
const WITHDRAW_EMPTY_TUBE: &str = "DELETE FROM tube WHERE street_id = $1 AND id = $2 AND state IN ('open', 'closed') AND fill = 0 AND result IS NULL \
     AND NOT EXISTS (SELECT 1 FROM registration g WHERE g.street_id = tube.street_id AND g.tube_id = tube.id) \
     AND NOT EXISTS (SELECT 1 FROM bag_tube b WHERE b.street_id = tube.street_id AND b.tube_id = tube.id) \
     AND EXISTS (SELECT 1 FROM testing_round r WHERE r.street_id = tube.street_id AND r.id = tube.round_id AND r.state NOT IN ('closed', 'cancelled')) \
     RETURNING barcode";

const REG_COLS: &str =
    "id, client_id, tube_id, point_id, resident_id, purpose, duplicate_of, problem, scanned_ms, raw_code";

macro_rules! reg_row {
    ($r:expr) => {
        RegistrationRow {
            id: $r.try_get(0)?,
            client_id: $r.try_get(1)?,
            tube_id: $r.try_get(2)?,
            point_id: $r.try_get(3)?,
            resident_id: $r.try_get(4)?,
            purpose: $r.try_get(5)?,
            duplicate_of: $r.try_get(6)?,
            problem: $r.try_get(7)?,
            scanned_ms: $r.try_get(8)?,
            raw_code: $r.try_get(9)?,
        }
    };
}

impl Store {
    /// Creates a planned round over `w.communities` (none: the whole street).
    pub async fn create_round(&self, w: &RoundWrite<'_>) -> Result<i64> {
        Ok(self.create_round_carrying(w, None).await?.0)
    }

    /// Creates a round and, with `carry`, in the same transaction gives it
    /// the points of an earlier round of the street (see [`PointCarry`]) and
    /// their staff's grants. The new round's id and what was carried.
    pub async fn create_round_carrying(
        &self,
        w: &RoundWrite<'_>,
        carry: Option<&PointCarry<'_>>,
    ) -> Result<(i64, Carried)> {
        let mut tx = self.begin().await?;
        // Two rounds made at once (a double submit) are checked in turn.
        tx.one_at_a_time("round_name", w.street_id).await?;
        // A street's rounds are told apart by name (on every page, in every
        // message): a second one of the same name is a double submit or a
        // mistake, unless the first was cancelled.
        let same: Option<(i64, String)> = crate::import::tx_run!(tx, conn, DB => sqlx::query_as(
            "SELECT id, state FROM testing_round WHERE street_id = $1 AND name = $2 AND state <> 'cancelled' ORDER BY id LIMIT 1")
            .bind(w.street_id).bind(w.name).fetch_optional(&mut *conn).await?);
        if let Some((id, state)) = same {
            let (zh, en) = gw_domain::testing::round_state_words(&state);
            return Err(StoreError::Conflict(format!(
                "本街道已有同名轮次「{name}」（{street}-{id}，{zh}）：请换个名称，或打开那一轮 / the street has a round named {name} already ({street}-{id}, {en}): choose another name, or open that one",
                name = w.name,
                street = w.street_id
            )));
        }
        let id: i64 = crate::import::tx_run!(tx, conn, DB => {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO testing_round (street_id, name, starts_ms, ends_ms, pool_size, state, created_by, created_ms) VALUES ($1, $2, $3, $4, $5, 'planned', $6, $7) RETURNING id")
                .bind(w.street_id).bind(w.name).bind(w.starts_ms).bind(w.ends_ms).bind(w.pool_size).bind(w.created_by).bind(w.now_ms).fetch_one(&mut *conn).await?;
            for c in w.communities {
                sqlx::query("INSERT INTO round_community (street_id, round_id, community_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
                    .bind(w.street_id).bind(id).bind(*c).execute(&mut *conn).await?;
            }
            id
        });
        let carried = match carry {
            Some(c) => tx.carry_points(w, id, c).await?,
            None => Carried::default(),
        };
        tx.commit().await?;
        Ok((id, carried))
    }

    /// A street's rounds, newest first: the ones not opened yet, then by
    /// when they opened (a round created later may open earlier).
    pub async fn rounds(&self, street: i64) -> Result<Vec<RoundRow>> {
        Ok(db_run!(self, pool => {
            let rows = sqlx::query("SELECT street_id, id, name, starts_ms, ends_ms, pool_size, state FROM testing_round WHERE street_id = $1 \
                                    ORDER BY CASE WHEN opened_ms IS NULL THEN 0 ELSE 1 END, opened_ms DESC, id DESC")
                .bind(street).fetch_all(pool).await?;
            rows.iter().map(|r| Ok(RoundRow { street_id: r.try_get(0)?, id: r.try_get(1)?, name: r.try_get(2)?, starts_ms: r.try_get(3)?, ends_ms: r.try_get(4)?, pool_size: r.try_get(5)?, state: r.try_get(6)? }))
                .collect::<std::result::Result<Vec<_>, sqlx::Error>>()?
        }))
    }

    /// The communities a round covers (empty: the whole street).
    pub async fn round_communities(&self, street: i64, round: i64) -> Result<Vec<i64>> {
        Ok(
            db_run!(self, pool => sqlx::query_scalar("SELECT community_id FROM round_community WHERE street_id = $1 AND round_id = $2 ORDER BY community_id")
            .bind(street).bind(round).fetch_all(pool).await?),
        )
    }

    pub async fn round(&self, street: i64, id: i64) -> Result<RoundRow> {
        let r = db_run!(self, pool => {
            match sqlx::query("SELECT street_id, id, name, starts_ms, ends_ms, pool_size, state FROM testing_round WHERE street_id = $1 AND id = $2")
                .bind(street).bind(id).fetch_optional(pool).await? {
                Some(r) => Some(RoundRow { street_id: r.try_get(0)?, id: r.try_get(1)?, name: r.try_get(2)?, starts_ms: r.try_get(3)?, ends_ms: r.try_get(4)?, pool_size: r.try_get(5)?, state: r.try_get(6)? }),
                None => None,
            }
        });
        r.ok_or_else(|| StoreError::NotFound(format!("round {street}-{id}")))
    }

    /// Opens a planned round: its expected population is the street's active
    /// residents now. Returns how many are expected.
    /// Opens a planned round, writing its expected snapshot and the audit
    /// record `audit` makes of its size in the same transaction.
    pub async fn open_round(
        &self,
        street: i64,
        id: i64,
        now_ms: i64,
        audit: impl FnOnce(i64) -> crate::audit::AuditRecord,
    ) -> Result<i64> {
        let mut tx = self.begin().await?;
        let n = tx.exec3_with("UPDATE testing_round SET state = 'open', opened_ms = $3 WHERE street_id = $1 AND id = $2 AND state = 'planned'", street, id, now_ms).await?;
        if n != 1 {
            let state: Option<String> = crate::import::tx_run!(tx, conn, DB => sqlx::query_scalar("SELECT state FROM testing_round WHERE street_id = $1 AND id = $2")
                .bind(street).bind(id).fetch_optional(&mut *conn).await?);
            let Some(state) = state else {
                return Err(StoreError::NotFound(format!(
                    "轮次 {street}-{id} / round {street}-{id}"
                )));
            };
            let (zh, en) = gw_domain::testing::round_state_words(&state);
            return Err(StoreError::Conflict(format!(
                "轮次 {street}-{id} 已是“{zh}”，不能再开始采样（可能刚被他人或重复提交开启）/ round {street}-{id} is {en} already, not planned (someone else, or a second click, just moved it)"
            )));
        }
        let expected = tx
            .exec3(
                &format!("INSERT INTO round_expected (street_id, round_id, resident_id, community_id, grid_id, building_id) \
                 SELECT r.street_id, $2, r.id, g.community_id, b.grid_id, b.id FROM resident r \
                 JOIN household h ON h.street_id = r.street_id AND h.id = r.household_id \
                 JOIN unit u ON u.street_id = h.street_id AND u.id = h.unit_id \
                 JOIN building b ON b.street_id = u.street_id AND b.id = u.building_id \
                 JOIN grid g ON g.street_id = b.street_id AND g.id = b.grid_id \
                 WHERE r.street_id = $1 AND r.status = 'active' AND {}", crate::coverage::ROUND_COVERS_BUILDING),
                street,
                id,
            )
            .await?;
        tx.audit(&audit(expected as i64).write()).await?;
        tx.commit().await?;
        // The snapshot is written in one go: give PostgreSQL's planner its
        // statistics now, not at the next autovacuum (without them coverage
        // re-reads the registrations for every expected resident). An empty
        // registration table is left unanalysed: statistics that say "empty"
        // make the planner scan it whole for every scan's lookups while the
        // round fills it, until autovacuum looks again.
        if let crate::Pool::Postgres(p) = &self.pool {
            sqlx::query("ANALYZE round_expected").execute(p).await?;
            let any: Option<i64> = sqlx::query_scalar("SELECT id FROM registration LIMIT 1")
                .fetch_optional(p)
                .await?;
            if any.is_some() {
                sqlx::query("ANALYZE registration").execute(p).await?;
            }
        }
        Ok(expected as i64)
    }

    /// Adds a point to a round with its schedule fields, in one transaction.
    /// Conflict once the round is closed (see [`StoreTx::hold_unclosed_round`]).
    #[allow(clippy::too_many_arguments)]
    pub async fn add_point(
        &self,
        street: i64,
        round: i64,
        name: &str,
        community: i64,
        stations: i32,
        d: &crate::schedule::PointDetails,
        audit: impl FnOnce(i64) -> crate::audit::AuditRecord,
    ) -> Result<i64> {
        let mut tx = self.begin().await?;
        tx.hold_unclosed_round(street, round).await?;
        // Numbered above any point removed (SQLite), as residents are.
        let given = tx.next_id_above_floor("testing_point").await?;
        let sql = if given.is_some() {
            "INSERT INTO testing_point (street_id, round_id, name, community_id, stations, id) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id"
        } else {
            "INSERT INTO testing_point (street_id, round_id, name, community_id, stations) VALUES ($1, $2, $3, $4, $5) RETURNING id"
        };
        let id = crate::import::tx_run!(tx, conn, DB => {
            let q = sqlx::query_scalar::<_, i64>(sql)
                .bind(street).bind(round).bind(name).bind(community).bind(stations);
            match given {
                Some(g) => q.bind(g),
                None => q,
            }
            .fetch_one(&mut *conn).await?
        });
        tx.set_point_details(street, id, d).await?;
        tx.audit(&audit(id).write()).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// What happened at point `point` that keeps it (a tube, a swab, a
    /// station, supplies, an alert, a bag or a hand-over), each as
    /// "3 采样管 tubes"; empty: it can be removed (as [`Store::remove_point`]
    /// decides, in its transaction).
    pub async fn point_uses(&self, street: i64, point: i64) -> Result<Vec<String>> {
        let sql = point_uses_sql();
        let found: Vec<i64> = db_run!(self, pool => {
            let r = sqlx::query(&sql).bind(street).bind(point).fetch_one(pool).await?;
            (0..POINT_USES.len()).map(|i| r.try_get::<i64, _>(i)).collect::<std::result::Result<Vec<_>, sqlx::Error>>()?
        });
        Ok(point_uses_named(&found))
    }

    /// Removes point `point` of round `round`, added by mistake: refused
    /// (Conflict, naming what) once anything happened at it (a tube, a swab,
    /// a station, supplies, an alert, a bag or a hand-over) or once the round
    /// is closed; its calls in a stored plan go with it (plan again).
    pub async fn remove_point(
        &self,
        street: i64,
        round: i64,
        point: i64,
        audit: &crate::audit::AuditRecord,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        tx.hold_unclosed_round(street, round).await?;
        let sql = point_uses_sql();
        let found: Vec<i64> = crate::import::tx_run!(tx, conn, DB => {
            let r = sqlx::query(&sql).bind(street).bind(point).fetch_one(&mut *conn).await?;
            (0..POINT_USES.len()).map(|i| r.try_get::<i64, _>(i)).collect::<std::result::Result<Vec<_>, sqlx::Error>>()?
        });
        let used = point_uses_named(&found);
        if !used.is_empty() {
            return Err(StoreError::Conflict(format!(
                "采样点 {street}-{point} 已有记录，不能删除 / point {street}-{point} is in use and stays: {}",
                used.join(", ")
            )));
        }
        let gone = crate::import::tx_run!(tx, conn, DB => {
            sqlx::query("DELETE FROM schedule_call WHERE street_id = $1 AND point_id = $2")
                .bind(street).bind(point).execute(&mut *conn).await?;
            sqlx::query("DELETE FROM testing_point WHERE street_id = $1 AND id = $2 AND round_id = $3")
                .bind(street).bind(point).bind(round).execute(&mut *conn).await?.rows_affected()
        });
        if gone == 0 {
            return Err(StoreError::NotFound(format!("point {street}-{point}")));
        }
        tx.audit(&audit.write()).await?;
        tx.commit().await
    }

    /// The points of a round with how many swabs each has registered.
    pub async fn points_with_counts(
        &self,
        street: i64,
        round: i64,
    ) -> Result<Vec<(PointRow, i64)>> {
        Ok(db_run!(self, pool => {
            let rows = sqlx::query("SELECT p.street_id, p.id, p.round_id, p.name, p.community_id, \
                 (SELECT COUNT(*) FROM registration r WHERE r.street_id = p.street_id AND r.point_id = p.id) \
                 FROM testing_point p WHERE p.street_id = $1 AND p.round_id = $2 ORDER BY p.id")
                .bind(street).bind(round).fetch_all(pool).await?;
            rows.iter().map(|r| Ok((PointRow { street_id: r.try_get(0)?, id: r.try_get(1)?, round_id: r.try_get(2)?, name: r.try_get(3)?, community_id: r.try_get(4)? }, r.try_get::<i64, _>(5)?)))
                .collect::<std::result::Result<Vec<_>, sqlx::Error>>()?
        }))
    }

    /// Swabs per point and time bucket (`bucket_ms` wide, by scan time) in a round.
    pub async fn swabs_over_time(
        &self,
        street: i64,
        round: i64,
        bucket_ms: i64,
    ) -> Result<Vec<(i64, i64, i64)>> {
        Ok(db_run!(self, pool => {
            let rows = sqlx::query("SELECT point_id, scanned_ms / $3 AS b, COUNT(*) FROM registration \
                 WHERE street_id = $1 AND round_id = $2 GROUP BY point_id, b ORDER BY b, point_id")
                .bind(street).bind(round).bind(bucket_ms).fetch_all(pool).await?;
            rows.iter().map(|r| Ok((r.try_get::<i64, _>(0)?, r.try_get::<i64, _>(1)?, r.try_get::<i64, _>(2)?)))
                .collect::<std::result::Result<Vec<_>, sqlx::Error>>()?
        }))
    }

    pub async fn point(&self, street: i64, id: i64) -> Result<PointRow> {
        let r = db_run!(self, pool => {
            match sqlx::query("SELECT street_id, id, round_id, name, community_id FROM testing_point WHERE street_id = $1 AND id = $2").bind(street).bind(id).fetch_optional(pool).await? {
                Some(r) => Some(PointRow { street_id: r.try_get(0)?, id: r.try_get(1)?, round_id: r.try_get(2)?, name: r.try_get(3)?, community_id: r.try_get(4)? }),
                None => None,
            }
        });
        r.ok_or_else(|| StoreError::NotFound(format!("point {street}-{id}")))
    }

    pub async fn open_tube(
        &self,
        street: i64,
        round: i64,
        point: i64,
        barcode: &str,
        pool_size: i32,
        now_ms: i64,
    ) -> Result<i64> {
        // On SQLite numbered above any tube withdrawn (see write_scans).
        let sql = match &self.pool {
            crate::Pool::Sqlite(_) => format!("INSERT INTO tube (id, street_id, round_id, point_id, barcode, state, pool_size, opened_ms) VALUES ({TUBE_ID_ABOVE_FLOOR} + 1, $1, $2, $3, $4, 'open', $5, $6) RETURNING id"),
            crate::Pool::Postgres(_) => "INSERT INTO tube (street_id, round_id, point_id, barcode, state, pool_size, opened_ms) VALUES ($1, $2, $3, $4, 'open', $5, $6) RETURNING id".to_string(),
        };
        db_run!(self, pool => sqlx::query_scalar(&sql)
            .bind(street).bind(round).bind(point).bind(barcode).bind(pool_size).bind(now_ms).fetch_one(pool).await)
            .map_err(|e| match StoreError::from(e) {
                StoreError::Conflict(_) => StoreError::Conflict(format!("采样管条码 {barcode} 本轮已使用 / tube {barcode} is already in use in this round")),
                other => other,
            })
    }

    pub async fn tube(&self, street: i64, id: i64) -> Result<TubeRow> {
        let r = db_run!(self, pool => {
            match sqlx::query("SELECT street_id, id, round_id, point_id, barcode, state, pool_size, tube_use FROM tube WHERE street_id = $1 AND id = $2").bind(street).bind(id).fetch_optional(pool).await? {
                Some(r) => Some(TubeRow { street_id: r.try_get(0)?, id: r.try_get(1)?, round_id: r.try_get(2)?, point_id: r.try_get(3)?, barcode: r.try_get(4)?, state: r.try_get(5)?, pool_size: r.try_get(6)?, tube_use: r.try_get(7)? }),
                None => None,
            }
        });
        r.ok_or_else(|| StoreError::NotFound(format!("tube {street}-{id}")))
    }

    /// Withdraws tube `id` when it holds no live swab (none was ever
    /// scanned into it, or every one was taken back: `voided_swab` keeps
    /// those, with the withdrawn tube's id), it is open or closed at its
    /// point (in no bag), has no result, and its round is not settled: the
    /// row goes (its barcode is free again, nothing of it waits for a bag).
    /// One statement: a swab stored meanwhile raised `fill`, and the row is
    /// then kept. The barcode when withdrawn.
    pub async fn withdraw_empty_tube(&self, street: i64, id: i64) -> Result<Option<String>> {
        Ok(
            db_run!(self, pool => sqlx::query_scalar(WITHDRAW_EMPTY_TUBE)
            .bind(street).bind(id).fetch_optional(pool).await?),
        )
    }

    /// Moves a tube from `from` to `to`; Conflict if it is not in `from`.
    pub async fn move_tube(
        &self,
        street: i64,
        id: i64,
        from: &str,
        to: &str,
        now_ms: i64,
    ) -> Result<()> {
        let n = db_run!(self, pool => sqlx::query("UPDATE tube SET state = $4, closed_ms = COALESCE(closed_ms, $5) WHERE street_id = $1 AND id = $2 AND state = $3")
            .bind(street).bind(id).bind(from).bind(to).bind(now_ms).execute(pool).await?.rows_affected());
        if n != 1 {
            return Err(StoreError::Conflict(format!(
                "采样管 {street}-{id} 已不是“{}”状态（可能已封管或已被他人处理）/ tube {street}-{id} is not {} any more (closed already, or by someone else)",
                gw_domain::testing::TubeState::parse(from).map_or(from, |s| s.label_zh()),
                from.replace('_', " ")
            )));
        }
        Ok(())
    }

    /// Closes every open tube that holds its pool size or more: a server
    /// killed between storing a tube's last swab and closing it leaves one
    /// open. Run once at start; returns how many it closed.
    pub async fn close_full_tubes(&self, now_ms: i64) -> Result<u64> {
        Ok(db_run!(self, pool => sqlx::query(
            "UPDATE tube SET state = 'closed', closed_ms = COALESCE(closed_ms, $1) WHERE state = 'open' \
             AND pool_size <= (SELECT COUNT(*) FROM registration r WHERE r.street_id = tube.street_id AND r.tube_id = tube.id)")
            .bind(now_ms).execute(pool).await?.rows_affected()))
    }

    pub async fn registration_by_client(
        &self,
        street: i64,
        client_id: &str,
    ) -> Result<Option<RegistrationRow>> {
        let q =
            format!("SELECT {REG_COLS} FROM registration WHERE street_id = $1 AND client_id = $2");
        Ok(one_by_key!(self, &q, street, client_id, reg_row))
    }

    pub async fn registration_by_id(&self, street: i64, id: i64) -> Result<RegistrationRow> {
        let q = format!("SELECT {REG_COLS} FROM registration WHERE street_id = $1 AND id = $2");
        one_by_key!(self, &q, street, id, reg_row)
            .ok_or_else(|| StoreError::NotFound(format!("registration {street}-{id}")))
    }

    /// A round's flagged swabs (a problem, or a second sampling swab), newest
    /// first, at one point or all (`point` < 0).
    pub async fn flagged_swabs(
        &self,
        street: i64,
        round: i64,
        point: i64,
        limit: i64,
    ) -> Result<Vec<FlaggedRow>> {
        Ok(db_run!(self, pool => {
            let rows = sqlx::query(
                "SELECT g.id, g.client_id, g.point_id, p.name, t.barcode, g.resident_id, g.purpose, g.duplicate_of, g.problem, g.scanned_ms, g.station \
                 FROM registration g JOIN tube t ON t.street_id = g.street_id AND t.id = g.tube_id \
                 JOIN testing_point p ON p.street_id = g.street_id AND p.id = g.point_id \
                 WHERE g.street_id = $1 AND g.round_id = $2 AND (g.problem <> '' OR g.duplicate_of IS NOT NULL) \
                 AND ($3 < 0 OR g.point_id = $3) ORDER BY g.id DESC LIMIT $4")
                .bind(street).bind(round).bind(point).bind(limit).fetch_all(pool).await?;
            rows.iter().map(|r| Ok(FlaggedRow {
                id: r.try_get(0)?, client_id: r.try_get(1)?, point_id: r.try_get(2)?, point: r.try_get(3)?,
                tube: r.try_get(4)?, resident_id: r.try_get(5)?, purpose: r.try_get(6)?, duplicate_of: r.try_get(7)?,
                problem: r.try_get(8)?, scanned_ms: r.try_get(9)?, station: r.try_get(10)?,
            })).collect::<std::result::Result<Vec<_>, sqlx::Error>>()?
        }))
    }

    /// Makes `id`, a sampling swab stored as a duplicate of the resident's
    /// first, the first: it was taken earlier (an offline station synced it
    /// later). The former first and every other sampling swab of the resident
    /// in the round become its duplicates, in one transaction. The unique
    /// "one first" index holds at every statement: `id` points at the former
    /// first until all others point at `id`.
    pub async fn take_first(&self, street: i64, round: i64, resident: i64, id: i64) -> Result<()> {
        let mut tx = self.begin().await?;
        crate::import::tx_run!(tx, conn, DB => {
            sqlx::query(&format!("UPDATE registration SET duplicate_of = $4 WHERE street_id = $1 AND round_id = $2 AND resident_id = $3 AND purpose IN {} AND id <> $4", *SAMPLING))
                .bind(street).bind(round).bind(resident).bind(id).execute(&mut *conn).await?;
            sqlx::query("UPDATE registration SET duplicate_of = NULL WHERE street_id = $1 AND id = $2")
                .bind(street).bind(id).execute(&mut *conn).await?;
        });
        tx.commit().await?;
        Ok(())
    }

    /// The first sampling swab (routine or door-to-door) of a resident in a round.
    pub async fn first_routine(
        &self,
        street: i64,
        round: i64,
        resident: i64,
    ) -> Result<Option<RegistrationRow>> {
        Ok(db_run!(self, pool => {
            let q = format!("SELECT {REG_COLS} FROM registration WHERE street_id = $1 AND round_id = $2 AND resident_id = $3 AND purpose IN {} AND duplicate_of IS NULL", *SAMPLING);
            match sqlx::query(&q).bind(street).bind(round).bind(resident).fetch_optional(pool).await? {
                Some(r) => Some(reg_row!(r)),
                None => None,
            }
        }))
    }

    /// Everything a scan must know before it is written, in one query: the
    /// tube with its point's community, its round's state and the district (for
    /// the access check), the resident a code's `uid` names (with the code
    /// generation in force), a stored registration with this client id (a
    /// replay), the tube's fill and the point's count (counters), and the
    /// resident's first sampling swab (routine or door-to-door) in the round.
    pub async fn scan_state(&self, q: &ScanQuery<'_>) -> Result<ScanState> {
        self.hold().await?.scan_state(q).await
    }

    /// Swabs in a tube, and swabs taken at its point.
    pub async fn tube_and_point_counts(
        &self,
        street: i64,
        tube: i64,
        point: i64,
    ) -> Result<(i64, i64)> {
        Ok(db_run!(self, pool => {
            let r = sqlx::query(
                "SELECT COALESCE((SELECT CAST(fill AS BIGINT) FROM tube WHERE street_id = $1 AND id = $2), 0), COALESCE((SELECT CAST(swabs AS BIGINT) FROM testing_point WHERE street_id = $1 AND id = $3), 0)")
                .bind(street).bind(tube).bind(point).fetch_one(pool).await?;
            (r.try_get::<i64, _>(0)?, r.try_get::<i64, _>(1)?)
        }))
    }

    /// Expected and sampled per grid: a resident counts once, whatever the
    /// number of swabs; swabs of people outside the snapshot are not coverage.
    /// Exempts a resident from a round (replacing an earlier reason).
    /// Conflict once the round is closed (its figures are its record), also
    /// when it closes at this moment (see [`StoreTx::hold_unclosed_round`]).
    #[allow(clippy::too_many_arguments)]
    pub async fn exempt(
        &self,
        street: i64,
        round: i64,
        resident: i64,
        reason: &str,
        by: &str,
        now_ms: i64,
        audit: &crate::audit::AuditRecord,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        tx.hold_unclosed_round(street, round).await?;
        // Only someone the round counts: expected when it opened; added since
        // (as kept when sampling closed, see `coverage::added_rows`); or,
        // while it samples or before it opens, living in its communities now;
        // or anyone with a retest or re-sample open in it (a walk-in of an
        // abnormal or invalid pool has no household: without this the round
        // could never close once they cannot be swabbed again).
        let in_round_sql = format!(
            "SELECT EXISTS (SELECT 1 FROM round_expected e WHERE e.street_id = $1 AND e.round_id = $2 AND e.resident_id = $3) \
                 OR EXISTS (SELECT 1 FROM follow_up f WHERE f.street_id = $1 AND f.round_id = $2 AND f.resident_id = $3 AND f.state = 'open') \
                 OR EXISTS (SELECT 1 FROM round_added a WHERE a.street_id = $1 AND a.round_id = $2 AND a.resident_id = $3) \
                 OR EXISTS (SELECT 1 FROM resident r JOIN household h ON h.street_id = r.street_id AND h.id = r.household_id \
                              JOIN unit u ON u.street_id = h.street_id AND u.id = h.unit_id \
                              JOIN building b ON b.street_id = u.street_id AND b.id = u.building_id \
                            WHERE r.street_id = $1 AND r.id = $3 AND r.status = 'active' \
                              AND (SELECT t.sampling_closed_ms FROM testing_round t WHERE t.street_id = $1 AND t.id = $2) IS NULL \
                              AND {})",
            crate::coverage::ROUND_COVERS_BUILDING
        );
        let in_round: bool = crate::import::tx_run!(tx, conn, DB => sqlx::query_scalar(&in_round_sql)
            .bind(street).bind(round).bind(resident).fetch_one(&mut *conn).await?);
        if !in_round {
            return Err(StoreError::Invalid(format!(
                "居民 {street}-{resident} 不在本轮范围内（开轮时不在应检名单上，现在也不住在本轮的社区）/ resident {street}-{resident} is not in this round: not expected when it opened, and not living in its communities now"
            )));
        }
        // Someone swabbed in this round is sampled, not exempt: an exemption
        // would list them among the exempt while coverage counts them sampled.
        // Unless a retest or re-sample is open for them: then it exempts them
        // from that (taken to hospital after an abnormal pool). A re-sample's
        // member, whose every swab is in an invalid tube, is not sampled
        // (`coverage::sampled_sql!`): exempted, they count as exempt.
        let swabbed: Option<(i64, String)> = crate::import::tx_run!(tx, conn, DB => {
            sqlx::query_as("SELECT s.scanned_ms, p.name FROM registration s JOIN testing_point p ON p.street_id = s.street_id AND p.id = s.point_id \
                            WHERE s.street_id = $1 AND s.round_id = $2 AND s.resident_id = $3 \
                            AND NOT EXISTS (SELECT 1 FROM follow_up f WHERE f.street_id = $1 AND f.round_id = $2 AND f.resident_id = $3 AND f.state = 'open') \
                            ORDER BY s.scanned_ms, s.id LIMIT 1")
                .bind(street).bind(round).bind(resident).fetch_optional(&mut *conn).await?
        });
        if let Some((at, point)) = swabbed {
            let when = gw_domain::notify::clock_text(at);
            return Err(StoreError::Conflict(format!(
                "居民 {street}-{resident} 本轮已采样（{when}，采样点「{point}」），无需免检 / resident {street}-{resident} was swabbed in this round already ({when}, point {point}): not exempted"
            )));
        }
        crate::import::tx_run!(tx, conn, DB => {
            sqlx::query("INSERT INTO round_exemption (street_id, round_id, resident_id, reason, set_by, created_ms) VALUES ($1, $2, $3, $4, $5, $6) \
                         ON CONFLICT (street_id, round_id, resident_id) DO UPDATE SET reason = excluded.reason, set_by = excluded.set_by, created_ms = excluded.created_ms")
                .bind(street).bind(round).bind(resident).bind(reason).bind(by).bind(now_ms).execute(&mut *conn).await?;
        });
        tx.audit(&audit.write()).await?;
        tx.commit().await
    }

    /// A street's testing settings: `(tube_min_len, tube_max_len, tube_check,
    /// lab_max_pool)`.
    pub async fn testing_settings(&self, street: i64) -> Result<(i64, i64, String, i64)> {
        let row = db_run!(self, pool => {
            sqlx::query("SELECT CAST(tube_min_len AS BIGINT), CAST(tube_max_len AS BIGINT), tube_check, CAST(lab_max_pool AS BIGINT) FROM street WHERE id = $1")
                .bind(street).fetch_optional(pool).await?
                .map(|r| -> std::result::Result<_, sqlx::Error> { Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?)) })
                .transpose()?
        });
        row.ok_or_else(|| StoreError::NotFound(format!("street {street}")))
    }

    /// Stores a street's testing settings (validated by the caller).
    pub async fn set_testing_settings(
        &self,
        street: i64,
        tube_min_len: i64,
        tube_max_len: i64,
        tube_check: &str,
        lab_max_pool: i64,
        audit: &crate::audit::AuditRecord,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        let n = crate::import::tx_run!(tx, conn, DB => sqlx::query("UPDATE street SET tube_min_len = $2, tube_max_len = $3, tube_check = $4, lab_max_pool = $5 WHERE id = $1")
            .bind(street).bind(tube_min_len as i32).bind(tube_max_len as i32).bind(tube_check).bind(lab_max_pool as i32).execute(&mut *conn).await?.rows_affected());
        if n == 0 {
            tx.rollback().await?;
            return Err(StoreError::NotFound(format!("street {street}")));
        }
        tx.audit(&audit.write()).await?;
        tx.commit().await
    }

    /// Barcodes of a round's tubes that hold swabs and have no result yet.
    pub async fn tubes_awaiting_result(&self, street: i64, round: i64) -> Result<Vec<String>> {
        Ok(db_run!(self, pool => sqlx::query_scalar(AWAITING_RESULT)
            .bind(street).bind(round).fetch_all(pool).await?))
    }

    /// Barcodes of the round's tubes still open at their point with swabs in
    /// them (not closed, so not bagged: they would miss the hand-over).
    pub async fn open_tubes_with_swabs(&self, street: i64, round: i64) -> Result<Vec<String>> {
        Ok(
            db_run!(self, pool => sqlx::query_scalar("SELECT barcode FROM tube WHERE street_id = $1 AND round_id = $2 AND state = 'open' AND fill > 0 ORDER BY barcode")
            .bind(street).bind(round).fetch_all(pool).await?),
        )
    }

    /// Removes a resident's exemption from a round; `false` if there was none.
    /// Conflict once the round is closed, as for [`Store::exempt`].
    pub async fn lift_exemption(
        &self,
        street: i64,
        round: i64,
        resident: i64,
        audit: &crate::audit::AuditRecord,
    ) -> Result<bool> {
        let mut tx = self.begin().await?;
        tx.hold_unclosed_round(street, round).await?;
        let n = crate::import::tx_run!(tx, conn, DB => sqlx::query("DELETE FROM round_exemption WHERE street_id = $1 AND round_id = $2 AND resident_id = $3")
            .bind(street).bind(round).bind(resident).execute(&mut *conn).await?.rows_affected());
        if n > 0 {
            tx.audit(&audit.write()).await?;
        }
        tx.commit().await?;
        Ok(n > 0)
    }

    /// Moves a round from state `from` to `to`; Conflict if it is not in
    /// `from`. Leaving `open` (sampling closes) keeps the residents added since the opening as they are now
    /// (`round_added`), in the same transaction.
    pub async fn move_round(
        &self,
        street: i64,
        id: i64,
        from: &str,
        to: &str,
        now_ms: i64,
        audit: &crate::audit::AuditRecord,
    ) -> Result<()> {
        let keep = from == "open";
        let keep_sql = crate::coverage::keep_added_sql();
        let mut tx = self.begin().await?;
        if to == "closed" {
            // Writes that hold the round (an exemption lifted, a follow-up
            // opened) finish first; what they left open is counted here.
            tx.round_state(street, id, RowLock::Update).await?;
            let (retests, resamples) = crate::import::tx_run!(tx, conn, DB => {
                let r = sqlx::query(crate::alerts::OPEN_FOLLOW_UPS).bind(street).bind(id).fetch_one(&mut *conn).await?;
                (r.try_get::<i64, _>(0)?, r.try_get::<i64, _>(1)?)
            });
            if retests + resamples > 0 {
                tx.rollback().await?;
                return Err(StoreError::Conflict(format!(
                    "还有 {retests} 人待单管复检、{resamples} 人待重采 / {retests} retest(s) and {resamples} re-sample(s) are open: the round stays open"
                )));
            }
            // A tube synced after the results came in, still without one.
            let waiting: Vec<String> = crate::import::tx_run!(tx, conn, DB => sqlx::query_scalar(AWAITING_RESULT)
                .bind(street).bind(id).fetch_all(&mut *conn).await?);
            if let Some(first) = waiting.first() {
                tx.rollback().await?;
                return Err(StoreError::Conflict(format!(
                    "还有 {n} 管没有结果（{first} …）/ {n} tube(s) with swabs have no result ({first} …): the round stays open",
                    n = waiting.len()
                )));
            }
        }
        if to == gw_domain::testing::CANCELLED {
            // Only a round nothing was sampled in: a tube is a physical thing
            // of the round (its swabs are stored, never refused).
            let tubes: i64 = crate::import::tx_run!(tx, conn, DB => sqlx::query_scalar("SELECT COUNT(*) FROM tube WHERE street_id = $1 AND round_id = $2")
                .bind(street).bind(id).fetch_one(&mut *conn).await?);
            if tubes > 0 {
                tx.rollback().await?;
                return Err(StoreError::Conflict(format!(
                    "轮次 {street}-{id} 已有 {tubes} 支采样管，不能取消 / round {street}-{id} has {tubes} tube(s): it cannot be cancelled"
                )));
            }
            // Its stations stop at once (a token checked lately goes within
            // the station cache's few seconds).
            crate::import::tx_run!(tx, conn, DB => sqlx::query("UPDATE station SET revoked_ms = $3 WHERE street_id = $1 AND round_id = $2 AND revoked_ms IS NULL")
                .bind(street).bind(id).bind(now_ms).execute(&mut *conn).await?.rows_affected());
        }
        let n = crate::import::tx_run!(tx, conn, DB => {
            let n = sqlx::query("UPDATE testing_round SET state = $4, sampling_closed_ms = CASE WHEN $5 THEN $6 ELSE sampling_closed_ms END WHERE street_id = $1 AND id = $2 AND state = $3")
                .bind(street).bind(id).bind(from).bind(to).bind(keep).bind(now_ms).execute(&mut *conn).await?.rows_affected();
            if n == 1 && keep {
                sqlx::query(&keep_sql).bind(street).bind(id).bind(0i64).execute(&mut *conn).await?;
            }
            n
        });
        if n != 1 {
            let (zh, en) = gw_domain::testing::round_state_words(from);
            return Err(StoreError::Conflict(format!(
                "轮次 {street}-{id} 已不是“{zh}”状态（他人刚改过）/ round {street}-{id} is not {en} any more (someone else just moved it)"
            )));
        }
        tx.audit(&audit.write()).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Conflict when round `street-round` in `state` changes no more
/// ([`gw_domain::testing::round_settled`]: closed, or cancelled), saying so
/// and then `refused` (`("，不再发放物资", ": no more supplies")`); Ok otherwise.
pub(crate) fn refuse_settled(
    street: i64,
    round: i64,
    state: &str,
    refused: (&str, &str),
) -> Result<()> {
    if !gw_domain::testing::round_settled(state) {
        return Ok(());
    }
    let (zh, en) = if state == gw_domain::testing::CANCELLED {
        ("已取消", "was cancelled")
    } else {
        ("已结束", "is closed")
    };
    Err(StoreError::Conflict(format!(
        "轮次 {street}-{round} {zh}{} / round {street}-{round} {en}{}",
        refused.0, refused.1
    )))
}

/// The joins that place the resident of the rows aliased `of` (with
/// `street_id`, `round_id` and `resident_id`): `e`, where the round's snapshot
/// put them, and `r`, `h`, `u`, `b`, `g`, where they live now (for
/// [`crate::coverage::Level::column`] and `added_column`).
fn where_they_are(of: &str) -> String {
    format!(
        "LEFT JOIN round_expected e ON e.street_id = {of}.street_id AND e.round_id = {of}.round_id AND e.resident_id = {of}.resident_id \
         LEFT JOIN resident r ON r.street_id = {of}.street_id AND r.id = {of}.resident_id \
         LEFT JOIN household h ON h.street_id = r.street_id AND h.id = r.household_id \
         LEFT JOIN unit u ON u.street_id = h.street_id AND u.id = h.unit_id \
         LEFT JOIN building b ON b.street_id = u.street_id AND b.id = u.building_id \
         LEFT JOIN grid g ON g.street_id = b.street_id AND g.id = b.grid_id"
    )
}

/// Barcodes of round `$2`'s tubes holding swabs with no result yet.
const AWAITING_RESULT: &str = "SELECT barcode FROM tube WHERE street_id = $1 AND round_id = $2 AND fill > 0 AND result IS NULL ORDER BY barcode";

/// A station as the auth layer needs it.
#[derive(Debug, Clone)]
pub struct StationRow {
    pub street_id: i64,
    pub id: i64,
    pub point_id: i64,
    pub round_id: i64,
    pub label: String,
    pub created_ms: i64,
    pub expires_ms: i64,
    pub revoked_ms: Option<i64>,
}

const STATION_COLS: &str =
    "street_id, id, point_id, round_id, label, created_ms, expires_ms, revoked_ms";

macro_rules! station_row {
    ($r:expr) => {
        StationRow {
            street_id: $r.try_get(0)?,
            id: $r.try_get(1)?,
            point_id: $r.try_get(2)?,
            round_id: $r.try_get(3)?,
            label: $r.try_get(4)?,
            created_ms: $r.try_get(5)?,
            expires_ms: $r.try_get(6)?,
            revoked_ms: $r.try_get(7)?,
        }
    };
}

impl Store {
    #[allow(clippy::too_many_arguments)]
    pub async fn create_station(
        &self,
        street: i64,
        point: i64,
        round: i64,
        label: &str,
        enroll_hash: &str,
        by: &str,
        now_ms: i64,
        expires_ms: i64,
        audit: impl FnOnce(i64) -> crate::audit::AuditRecord,
    ) -> Result<i64> {
        let mut tx = self.begin().await?;
        let id: i64 = crate::import::tx_run!(tx, conn, DB => sqlx::query_scalar(
            "INSERT INTO station (street_id, point_id, round_id, label, enroll_hash, created_by, created_ms, expires_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id")
            .bind(street).bind(point).bind(round).bind(label).bind(enroll_hash).bind(by).bind(now_ms).bind(expires_ms).fetch_one(&mut *conn).await?);
        tx.audit(&audit(id).write()).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Exchanges a one-time enrolment code for a token: only once, only while
    /// the station is neither revoked nor expired.
    pub async fn enroll_station(
        &self,
        street: i64,
        enroll_hash: &str,
        token_hash: &str,
        now_ms: i64,
    ) -> Result<Option<i64>> {
        let mut tx = self.begin().await?;
        let id: Option<i64> = crate::import::tx_run!(tx, conn, DB => sqlx::query_scalar(
            "UPDATE station SET token_hash = $3, enrolled_ms = $4 WHERE street_id = $1 AND enroll_hash = $2 AND token_hash IS NULL AND revoked_ms IS NULL AND expires_ms > $4 RETURNING id")
            .bind(street).bind(enroll_hash).bind(token_hash).bind(now_ms).fetch_optional(&mut *conn).await?);
        let Some(id) = id else {
            tx.rollback().await?;
            return Ok(None);
        };
        // In the enrolment's transaction: a token handed out is a token
        // whose enrolment is in the audit log.
        let station = format!("{street}-{id}");
        tx.audit(&crate::audit::AuditWrite {
            street_id: street,
            at_ms: now_ms,
            actor: &format!("station:{station}"),
            action: "enroll_station",
            target_kind: "station",
            target_id: &station,
            detail: "",
            address: "",
        })
        .await?;
        tx.commit().await?;
        Ok(Some(id))
    }

    pub async fn station_by_token(
        &self,
        street: i64,
        token_hash: &str,
    ) -> Result<Option<StationRow>> {
        let q =
            format!("SELECT {STATION_COLS} FROM station WHERE street_id = $1 AND token_hash = $2");
        Ok(one_by_key!(self, &q, street, token_hash, station_row))
    }

    pub async fn station(&self, street: i64, id: i64) -> Result<StationRow> {
        let q = format!("SELECT {STATION_COLS} FROM station WHERE street_id = $1 AND id = $2");
        one_by_key!(self, &q, street, id, station_row)
            .ok_or_else(|| StoreError::NotFound(format!("station {street}-{id}")))
    }

    /// A point's stations, newest first, with when each was enrolled (none
    /// while its one-time code is unused).
    pub async fn stations_of_point(
        &self,
        street: i64,
        point: i64,
    ) -> Result<Vec<(StationRow, Option<i64>)>> {
        let q = format!("SELECT {STATION_COLS}, enrolled_ms FROM station WHERE street_id = $1 AND point_id = $2 ORDER BY id DESC");
        Ok(db_run!(self, pool => {
            let rows = sqlx::query(&q).bind(street).bind(point).fetch_all(pool).await?;
            rows.iter().map(|r| Ok((station_row!(r), r.try_get(8)?))).collect::<std::result::Result<Vec<_>, sqlx::Error>>()?
        }))
    }

    pub async fn revoke_station(
        &self,
        street: i64,
        id: i64,
        now_ms: i64,
        audit: &crate::audit::AuditRecord,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        let n = crate::import::tx_run!(tx, conn, DB => sqlx::query("UPDATE station SET revoked_ms = $3 WHERE street_id = $1 AND id = $2 AND revoked_ms IS NULL")
            .bind(street).bind(id).bind(now_ms).execute(&mut *conn).await?.rows_affected());
        if n == 0 {
            tx.rollback().await?;
            return Err(StoreError::NotFound(format!(
                "station {street}-{id} (or already revoked)"
            )));
        }
        tx.audit(&audit.write()).await?;
        tx.commit().await
    }
}

/// What recording one tube's result did.
#[derive(Debug, Clone, Default)]
pub struct ResultApplied {
    /// False when the tube already had this result (a replayed upload).
    pub applied: bool,
    pub alert_id: Option<i64>,
    pub members: Vec<i64>,
    pub households: Vec<i64>,
    /// The tube was opened for a single-tube retest (of an abnormal pool's member).
    pub retest: bool,
    /// Open retests this result resolved (cleared or confirmed).
    pub resolved: u64,
    /// Households whose temporary control (set by an abnormal pool) ended,
    /// every retest of their members negative, and that no other household
    /// order holds now.
    pub released: u64,
    pub disinfection_id: Option<i64>,
    /// Messages queued for the street's alert channels.
    pub notifications: usize,
}

/// What a corrected result undid (see [`Store::correct_result`]); `applied`
/// is what the new result did (`applied.applied` false: it was the result
/// already, nothing changed).
#[derive(Debug, Clone, Default)]
pub struct ResultCorrected {
    /// The result the tube had.
    pub before: String,
    /// The earlier abnormal result's alert, withdrawn.
    pub withdrawn_alert: Option<i64>,
    /// Open retests or re-samples the earlier result opened, cancelled.
    pub cancelled: u64,
    /// Households whose temporary control the withdrawn alert set ended and
    /// that no other household order holds now.
    pub released: u64,
    /// The withdrawn alert's disinfection task was still open: called off.
    pub disinfection_withdrawn: bool,
    pub applied: ResultApplied,
}

#[derive(Debug, Clone)]
pub struct AlertRow {
    pub id: i64,
    pub round_id: i64,
    pub tube_id: i64,
    pub point_id: i64,
    pub barcode: String,
    pub kind: String,
    pub state: String,
    pub created_ms: i64,
}

impl Store {
    pub async fn tube_by_barcode(
        &self,
        street: i64,
        round: i64,
        barcode: &str,
    ) -> Result<Option<TubeRow>> {
        Ok(self
            .tube_and_result_by_barcode(street, round, barcode)
            .await?
            .map(|(t, _)| t))
    }

    /// Where a barcode that is no tube of round `round` may belong: the
    /// street's other rounds with a tube of that barcode (id and name), and a
    /// tube of this round that is the barcode with leading zeros (Excel
    /// drops them from a number).
    pub async fn barcode_hints(
        &self,
        street: i64,
        round: i64,
        barcode: &str,
    ) -> Result<(Vec<(i64, String)>, Option<String>)> {
        Ok(db_run!(self, pool => {
            let rows = sqlx::query("SELECT r.id, r.name FROM tube t JOIN testing_round r ON r.street_id = t.street_id AND r.id = t.round_id \
                                    WHERE t.street_id = $1 AND t.barcode = $2 AND t.round_id <> $3 ORDER BY r.id")
                .bind(street).bind(barcode).bind(round).fetch_all(pool).await?;
            let others = rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect::<std::result::Result<Vec<_>, sqlx::Error>>()?;
            let padded: Option<String> = sqlx::query_scalar("SELECT barcode FROM tube WHERE street_id = $1 AND round_id = $2 AND barcode <> $3 AND LTRIM(barcode, '0') = LTRIM($3, '0') ORDER BY barcode LIMIT 1")
                .bind(street).bind(round).bind(barcode).fetch_optional(pool).await?;
            (others, padded)
        }))
    }

    /// The other rounds of the street with a transport box labelled
    /// `barcode`: `(round id, name)` (a box scanned for the wrong round).
    pub async fn box_in_other_rounds(
        &self,
        street: i64,
        round: i64,
        barcode: &str,
    ) -> Result<Vec<(i64, String)>> {
        Ok(db_run!(self, pool => {
            let rows = sqlx::query("SELECT r.id, r.name FROM transport_box x JOIN testing_round r ON r.street_id = x.street_id AND r.id = x.round_id \
                                    WHERE x.street_id = $1 AND x.barcode = $2 AND x.round_id <> $3 ORDER BY r.id")
                .bind(street).bind(barcode).bind(round).fetch_all(pool).await?;
            rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect::<std::result::Result<Vec<_>, sqlx::Error>>()?
        }))
    }

    /// A round's tube by barcode with the result it already has, if any
    /// (one read: a lab's file or request checks every tube this way).
    pub async fn tube_and_result_by_barcode(
        &self,
        street: i64,
        round: i64,
        barcode: &str,
    ) -> Result<Option<(TubeRow, Option<String>)>> {
        Ok(db_run!(self, pool => {
            match sqlx::query("SELECT street_id, id, round_id, point_id, barcode, state, pool_size, tube_use, result FROM tube WHERE street_id = $1 AND round_id = $2 AND barcode = $3")
                .bind(street).bind(round).bind(barcode).fetch_optional(pool).await? {
                Some(r) => Some((TubeRow { street_id: r.try_get(0)?, id: r.try_get(1)?, round_id: r.try_get(2)?, point_id: r.try_get(3)?, barcode: r.try_get(4)?, state: r.try_get(5)?, pool_size: r.try_get(6)?, tube_use: r.try_get(7)? }, r.try_get(8)?)),
                None => None,
            }
        }))
    }

    /// The result a tube already has, if any.
    pub async fn tube_result(&self, street: i64, tube: i64) -> Result<Option<String>> {
        Ok(db_run!(self, pool => {
            sqlx::query_scalar::<_, Option<String>>("SELECT result FROM tube WHERE street_id = $1 AND id = $2")
                .bind(street).bind(tube).fetch_optional(pool).await?.flatten()
        }))
    }

    /// Records a tube's result in one transaction. `abnormal`: an alert, a
    /// single-tube retest for each member, the members' households under
    /// temporary control, and a disinfection task for the point. A retest
    /// tube instead resolves its members' open retests: `negative` clears,
    /// `abnormal` confirms (and raises a `confirmed` alert); an abnormal-pool
    /// alert whose retests are all resolved becomes `cleared` or `confirmed`.
    /// `invalid`: a re-sample for each member. Every alert raised queues one
    /// message per active alert channel of the street, in the same
    /// transaction. A tube that already has a result is left alone
    /// (`applied = false`).
    pub async fn apply_result(
        &self,
        tube: &TubeRow,
        result: &str,
        by: &str,
        now_ms: i64,
    ) -> Result<ResultApplied> {
        let mut outs = self.apply_results(&[(tube, result)], by, now_ms).await?;
        Ok(outs.pop().unwrap_or_default())
    }

    /// Records the results of one lab file or request, all in one
    /// transaction: each as [`Store::apply_result`] does it, so a crash or an
    /// error part-way stores none of them (acknowledged means the whole file).
    /// The answers are in the order given.
    pub async fn apply_results(
        &self,
        items: &[(&TubeRow, &str)],
        by: &str,
        now_ms: i64,
    ) -> Result<Vec<ResultApplied>> {
        let mut tx = self.begin().await?;
        // Two files at once (two lab clerks, or one sent twice) take their
        // turn, so their tubes' rows are never locked in crossing orders.
        let mut streets: Vec<i64> = items.iter().map(|(t, _)| t.street_id).collect();
        streets.sort_unstable();
        streets.dedup();
        for street in streets {
            tx.one_at_a_time("results", street).await?;
        }
        let mut held: Vec<(i64, i64)> = Vec::new();
        let mut changed: Vec<String> = Vec::new();
        let mut outs = Vec::with_capacity(items.len());
        for (tube, result) in items {
            let street = tube.street_id;
            if !held.contains(&(street, tube.round_id)) {
                // A close at this moment waits, then counts the follow-ups opened here.
                tx.hold_round(street, tube.round_id).await?;
                held.push((street, tube.round_id));
            }
            let mut out = ResultApplied {
                // A single-tube retest by what the tube was opened for (a pooled
                // tube holding one mislabelled retest swab stays a pool).
                retest: tube.tube_use == "retest",
                ..Default::default()
            };
            let n = crate::import::tx_run!(tx, conn, DB => {
                sqlx::query("UPDATE tube SET result = $3, result_ms = $4, state = 'resulted', closed_ms = COALESCE(closed_ms, $4) WHERE street_id = $1 AND id = $2 AND result IS NULL")
                    .bind(street).bind(tube.id).bind(*result).bind(now_ms).execute(&mut *conn).await?.rows_affected()
            });
            if n > 0 {
                tx.result_effects(tube, result, by, now_ms, &mut out)
                    .await?;
            } else {
                // Recorded by another file or request, before this one's
                // turn: the same result is a replay; another refuses the
                // whole file (nothing of it is kept).
                let before: Option<String> = crate::import::tx_run!(tx, conn, DB => {
                    sqlx::query_scalar("SELECT result FROM tube WHERE street_id = $1 AND id = $2")
                        .bind(street).bind(tube.id).fetch_optional(&mut *conn).await?.flatten()
                });
                if let Some(e) = before.filter(|e| e != result) {
                    changed.push(format!("{}: {e} → {result}", tube.barcode));
                }
            }
            outs.push(out);
        }
        if !changed.is_empty() {
            return Err(StoreError::Conflict(gw_domain::lab::results_changed(
                &changed,
            )));
        }
        tx.commit().await?;
        Ok(outs)
    }

    /// Corrects the result a pooled tube already has (the lab sends a
    /// corrected report), in one transaction: what the earlier result set in
    /// motion is undone (an abnormal pool's alert is withdrawn, its open
    /// retests cancelled and the temporary control it set ended; an invalid
    /// tube's open re-samples cancelled), then the new result does what any
    /// result does (an abnormal one traces the pool at once). The alert
    /// channels are told of a withdrawal. A single-tube retest's result is not
    /// corrected here (Conflict), nor a tube with no result yet, nor an
    /// abnormal pool a member's retest confirmed (their household stays
    /// under control: the CDC decides). The tube's `result_ms` (when the lab
    /// tested it) stays. A closed round's tube is corrected too: a positive
    /// is traced whatever the round's record says, as a late member is.
    pub async fn correct_result(
        &self,
        tube: &TubeRow,
        result: &str,
        by: &str,
        now_ms: i64,
        audit: impl FnOnce(&ResultCorrected) -> Option<crate::audit::AuditRecord>,
    ) -> Result<ResultCorrected> {
        let street = tube.street_id;
        if tube.tube_use == "retest" {
            return Err(StoreError::Conflict(format!(
                "{} 是单管复检管，其结果不在此更正：请与疾控联系 / {} is a single-tube retest: its result is not corrected here (contact the CDC)",
                tube.barcode, tube.barcode
            )));
        }
        let mut tx = self.begin().await?;
        tx.one_at_a_time("results", street).await?;
        tx.hold_round(street, tube.round_id).await?;
        let sql = format!(
            "SELECT result FROM tube WHERE street_id = $1 AND id = $2{}",
            tx.row_lock(RowLock::Update)
        );
        let before: Option<String> = crate::import::tx_run!(tx, conn, DB => sqlx::query_scalar::<_, Option<String>>(&sql)
            .bind(street).bind(tube.id).fetch_optional(&mut *conn).await?.flatten());
        let Some(before) = before else {
            return Err(StoreError::Conflict(format!(
                "采样管 {} 还没有结果，无需更正：请直接上传结果 / tube {} has no result yet: post it, there is nothing to correct",
                tube.barcode, tube.barcode
            )));
        };
        let mut out = ResultCorrected {
            before: before.clone(),
            ..Default::default()
        };
        if before == result {
            return Ok(out);
        }
        let alert_sql = format!(
            "SELECT id, state FROM alert WHERE street_id = $1 AND tube_id = $2 AND kind = 'abnormal_pool' AND state <> 'withdrawn'{}",
            tx.row_lock(RowLock::Update)
        );
        // The households whose temporary control by the withdrawn alert ends.
        let mut ended_control: Vec<i64> = Vec::new();
        crate::import::tx_run!(tx, conn, DB => {
            if before == "abnormal" {
                // Locked as it is read: a retest result at this moment (which
                // may confirm it) is decided first, and seen here.
                let alert: Option<(i64, String)> = sqlx::query_as(&alert_sql)
                    .bind(street).bind(tube.id).fetch_optional(&mut *conn).await?;
                let confirmed: i64 = match &alert {
                    Some((a, _)) => sqlx::query_scalar("SELECT COUNT(*) FROM follow_up WHERE street_id = $1 AND alert_id = $2 AND state = 'confirmed'")
                        .bind(street).bind(*a).fetch_one(&mut *conn).await?,
                    None => 0,
                };
                if confirmed > 0 || alert.as_ref().is_some_and(|(_, s)| s == "confirmed") {
                    return Err(StoreError::Conflict(format!(
                        "{} 的成员单管复检已确认阳性，此管结果不能更正：请与疾控联系 / a member of {}'s pool was confirmed positive by a single-tube retest: its result is not corrected (contact the CDC)",
                        tube.barcode, tube.barcode
                    )));
                }
                if let Some((a, _)) = alert {
                    sqlx::query("UPDATE alert SET state = 'withdrawn' WHERE street_id = $1 AND id = $2")
                        .bind(street).bind(a).execute(&mut *conn).await?;
                    out.cancelled += sqlx::query("UPDATE follow_up SET state = 'withdrawn', resolved_ms = $3 WHERE street_id = $1 AND alert_id = $2 AND state = 'open'")
                        .bind(street).bind(a).bind(now_ms).execute(&mut *conn).await?.rows_affected();
                    ended_control = sqlx::query_scalar("UPDATE control_order SET until_ms = $3, reason = reason || ' · 结果更正解除 / released: result corrected' \
                                                WHERE street_id = $1 AND alert_id = $2 AND target_kind = 'household' AND until_ms IS NULL RETURNING target_id")
                        .bind(street).bind(a).bind(now_ms).fetch_all(&mut *conn).await?;
                    // The point was not where an infection was: its
                    // disinfection, if not done yet, is called off.
                    out.disinfection_withdrawn = sqlx::query("UPDATE disinfection_task SET state = 'withdrawn' WHERE street_id = $1 AND alert_id = $2 AND state = 'open'")
                        .bind(street).bind(a).execute(&mut *conn).await?.rows_affected() > 0;
                    out.withdrawn_alert = Some(a);
                }
            }
            if before == "invalid" {
                // The tube's members have a result now: their open
                // re-samples end, this tube's and any that followed in the
                // round (a re-sample tube found invalid in turn called them
                // again).
                out.cancelled += sqlx::query("UPDATE follow_up SET state = 'withdrawn', resolved_ms = $3 WHERE street_id = $1 AND round_id = $4 AND kind = 'resample' AND state = 'open' \
                                              AND (tube_id = $2 OR resident_id IN (SELECT g.resident_id FROM registration g WHERE g.street_id = $1 AND g.tube_id = $2 AND g.resident_id IS NOT NULL))")
                    .bind(street).bind(tube.id).bind(now_ms).bind(tube.round_id).execute(&mut *conn).await?.rows_affected();
            }
            // `result_ms` stays when the lab tested the tube: a swab synced
            // later is judged against it (the correction's time is audited).
            sqlx::query("UPDATE tube SET result = $3 WHERE street_id = $1 AND id = $2")
                .bind(street).bind(tube.id).bind(result).execute(&mut *conn).await?;
        });
        out.released = tx
            .households_now_free(street, &ended_control, now_ms)
            .await?;
        out.applied.retest = false;
        tx.result_effects(tube, result, by, now_ms, &mut out.applied)
            .await?;
        if let Some(a) = out.withdrawn_alert {
            out.applied.notifications += tx
                .queue_alert_messages(&AlertNews {
                    street,
                    alert_id: a,
                    kind: if result == "invalid" {
                        "withdrawn_invalid"
                    } else {
                        "withdrawn"
                    },
                    point: tube.point_id,
                    barcode: &tube.barcode,
                    members: out.cancelled as usize,
                    households: out.released as usize,
                    at_ms: now_ms,
                })
                .await?;
        }
        if let Some(record) = audit(&out) {
            tx.audit(&record.write()).await?;
        }
        tx.commit().await?;
        Ok(out)
    }
}

impl crate::import::StoreTx {
    /// Pool alerts of round `round` (only `alert`, when given) as their
    /// members' retests leave them: the temporary control of a household
    /// none of whose members has a retest open or confirmed ends, and an
    /// alert is `cleared` (or `confirmed`) once it has retests and none is
    /// open; a cleared alert whose member's retest is confirmed later (a
    /// second retest tube) becomes `confirmed`. Returns the households released. A retest's result settles
    /// the round's alerts; an alert raised again by a correction, its own.
    async fn settle_alerts(
        &mut self,
        street: i64,
        round: i64,
        alert: Option<i64>,
        now_ms: i64,
    ) -> Result<u64> {
        let ended: Vec<i64> = crate::import::tx_run!(self, conn, DB => {
            let ended: Vec<i64> = sqlx::query_scalar("UPDATE control_order SET until_ms = $3, reason = reason || ' · 复检阴性解除 / released: retests negative' \
                         WHERE street_id = $1 AND target_kind = 'household' AND status = 'temporary' AND until_ms IS NULL \
                         AND alert_id IN (SELECT a.id FROM alert a WHERE a.street_id = $1 AND a.round_id = $2 AND a.kind = 'abnormal_pool' AND ($4 IS NULL OR a.id = $4)) \
                         AND EXISTS (SELECT 1 FROM follow_up f JOIN resident r ON r.street_id = f.street_id AND r.id = f.resident_id \
                             WHERE f.street_id = control_order.street_id AND f.alert_id = control_order.alert_id AND f.kind = 'retest' AND r.household_id = control_order.target_id) \
                         AND NOT EXISTS (SELECT 1 FROM follow_up f JOIN resident r ON r.street_id = f.street_id AND r.id = f.resident_id \
                             WHERE f.street_id = control_order.street_id AND f.alert_id = control_order.alert_id AND f.kind = 'retest' \
                             AND f.state IN ('open', 'confirmed') AND r.household_id = control_order.target_id) \
                         RETURNING target_id")
                .bind(street).bind(round).bind(now_ms).bind(alert).fetch_all(&mut *conn).await?;
            sqlx::query("UPDATE alert SET state = CASE WHEN EXISTS (SELECT 1 FROM follow_up f WHERE f.street_id = alert.street_id AND f.alert_id = alert.id AND f.state = 'confirmed') THEN 'confirmed' ELSE 'cleared' END \
                         WHERE street_id = $1 AND round_id = $2 AND ($3 IS NULL OR id = $3) AND kind = 'abnormal_pool' AND state IN ('open', 'cleared') \
                         AND EXISTS (SELECT 1 FROM follow_up f WHERE f.street_id = alert.street_id AND f.alert_id = alert.id AND f.kind = 'retest') \
                         AND NOT EXISTS (SELECT 1 FROM follow_up f WHERE f.street_id = alert.street_id AND f.alert_id = alert.id AND f.kind = 'retest' AND f.state = 'open')")
                .bind(street).bind(round).bind(alert).execute(&mut *conn).await?;
            ended
        });
        self.households_now_free(street, &ended, now_ms).await
    }

    /// Of `households`, whose temporary control by a pool alert just ended,
    /// how many are under no household order now: one another order still
    /// holds (another pool's, or one set by hand) is not released, and a
    /// message saying it was would let it out. The order in force is the
    /// latest-starting one, as [`gw_domain::territory::control_in_force`]
    /// has it; 防范区 (precaution) holds nobody at home.
    async fn households_now_free(
        &mut self,
        street: i64,
        households: &[i64],
        now_ms: i64,
    ) -> Result<u64> {
        let mut households = households.to_vec();
        households.sort_unstable();
        households.dedup();
        let mut free = 0;
        for h in households {
            let held: i64 = crate::import::tx_run!(self, conn, DB => sqlx::query_scalar(
                "SELECT COUNT(*) FROM control_order o WHERE o.street_id = $1 AND o.target_kind = 'household' AND o.target_id = $2 \
                 AND o.from_ms <= $3 AND (o.until_ms IS NULL OR o.until_ms > $3) AND o.status <> 'precaution' \
                 AND NOT EXISTS (SELECT 1 FROM control_order p WHERE p.street_id = o.street_id AND p.target_kind = 'household' AND p.target_id = o.target_id \
                     AND p.from_ms <= $3 AND (p.until_ms IS NULL OR p.until_ms > $3) AND p.from_ms > o.from_ms)")
                .bind(street).bind(h).bind(now_ms).fetch_one(&mut *conn).await?);
            if held == 0 {
                free += 1;
            }
        }
        Ok(free)
    }

    /// What a result just stored on `tube` sets in motion (see
    /// [`Store::apply_result`]); `out.retest` says whether the tube was
    /// opened for a single-tube retest. A tube whose earlier result was
    /// corrected away meets its earlier alert, follow-ups and disinfection
    /// task again: they are opened again, not made twice.
    async fn result_effects(
        &mut self,
        tube: &TubeRow,
        result: &str,
        by: &str,
        now_ms: i64,
        out: &mut ResultApplied,
    ) -> Result<()> {
        let street = tube.street_id;
        let alert_kind = match (result, out.retest) {
            ("abnormal", false) => Some("abnormal_pool"),
            ("abnormal", true) => Some("confirmed"),
            _ => None,
        };
        let tx = self;
        crate::import::tx_run!(tx, conn, DB => {
            out.applied = true;
            out.members = sqlx::query_scalar("SELECT DISTINCT resident_id FROM registration WHERE street_id = $1 AND tube_id = $2 AND resident_id IS NOT NULL ORDER BY resident_id")
                .bind(street).bind(tube.id).fetch_all(&mut *conn).await?;
            if let Some(kind) = alert_kind {
                let id: i64 = sqlx::query_scalar("INSERT INTO alert (street_id, round_id, tube_id, point_id, kind, state, created_ms) VALUES ($1, $2, $3, $4, $5, 'open', $6) \
                                                  ON CONFLICT (street_id, tube_id, kind) DO UPDATE SET state = 'open', created_ms = excluded.created_ms RETURNING id")
                    .bind(street).bind(tube.round_id).bind(tube.id).bind(tube.point_id).bind(kind).bind(now_ms).fetch_one(&mut *conn).await?;
                out.alert_id = Some(id);
                // The members' households, but for one whose members in this
                // tube all had their retest come back negative already (an
                // alert raised again by a correction): that is settled.
                out.households = sqlx::query_scalar(
                    "SELECT DISTINCT r.household_id FROM registration g JOIN resident r ON r.street_id = g.street_id AND r.id = g.resident_id \
                     WHERE g.street_id = $1 AND g.tube_id = $2 AND r.household_id IS NOT NULL \
                     AND NOT EXISTS (SELECT 1 FROM follow_up f WHERE f.street_id = g.street_id AND f.tube_id = g.tube_id AND f.resident_id = g.resident_id AND f.kind = 'retest' AND f.state = 'cleared') \
                     ORDER BY r.household_id")
                    .bind(street).bind(tube.id).fetch_all(&mut *conn).await?;
            }
            if out.retest && result == "abnormal" {
                // A confirmed positive's household is held: by the pool's
                // control as a rule, by this alert's own when none is in
                // force (the pool's was withdrawn by a correction, or ended).
                let reason = format!("单管复检阳性 confirmed positive {}", tube.barcode);
                for h in &out.households {
                    sqlx::query("INSERT INTO control_order (street_id, target_kind, target_id, status, from_ms, until_ms, reason, set_by, created_ms, alert_id, notice_due) \
                                 SELECT $1, 'household', $2, 'temporary', $3, NULL, $4, $5, $3, $6, 1 WHERE NOT EXISTS ( \
                                   SELECT 1 FROM control_order c WHERE c.street_id = $1 AND c.target_kind = 'household' AND c.target_id = $2 \
                                   AND c.from_ms <= $3 AND (c.until_ms IS NULL OR c.until_ms > $3))")
                        .bind(street).bind(*h).bind(now_ms).bind(&reason).bind(by).bind(out.alert_id).execute(&mut *conn).await?;
                }
                // The point of the pool they were swabbed in is disinfected
                // after all: a task its pool's withdrawn alert called off
                // opens again.
                let reopened: Option<i64> = sqlx::query_scalar(
                    "UPDATE disinfection_task SET state = 'open' WHERE street_id = $1 AND state = 'withdrawn' AND alert_id IN ( \
                       SELECT f.alert_id FROM follow_up f JOIN registration g ON g.street_id = f.street_id AND g.resident_id = f.resident_id \
                       WHERE g.street_id = $1 AND g.tube_id = $2 AND f.round_id = $3 AND f.kind = 'retest' AND f.alert_id IS NOT NULL) RETURNING id")
                    .bind(street).bind(tube.id).bind(tube.round_id).fetch_all(&mut *conn).await?.into_iter().next();
                if reopened.is_some() {
                    out.disinfection_id = reopened;
                }
            }
            if !out.retest && result == "abnormal" {
                let reason = format!("混管异常 abnormal pool {}", tube.barcode);
                for h in &out.households {
                    sqlx::query("INSERT INTO control_order (street_id, target_kind, target_id, status, from_ms, until_ms, reason, set_by, created_ms, alert_id, notice_due) VALUES ($1, 'household', $2, 'temporary', $3, NULL, $4, $5, $3, $6, 1)")
                        .bind(street).bind(*h).bind(now_ms).bind(&reason).bind(by).bind(out.alert_id).execute(&mut *conn).await?;
                }
                out.disinfection_id = Some(sqlx::query_scalar("INSERT INTO disinfection_task (street_id, round_id, point_id, alert_id, state, created_ms) VALUES ($1, $2, $3, $4, 'open', $5) \
                                                               ON CONFLICT (street_id, alert_id) DO UPDATE SET state = CASE WHEN disinfection_task.state = 'withdrawn' THEN 'open' ELSE disinfection_task.state END RETURNING id")
                    .bind(street).bind(tube.round_id).bind(tube.point_id).bind(out.alert_id).bind(now_ms).fetch_one(&mut *conn).await?);
            }
        });
        // The follow-ups this tube's swabs answer (before an invalid tube
        // opens new re-samples below).
        let (resolved, released, queued) =
            tx.resolve_follow_ups(tube, result, None, now_ms).await?;
        out.resolved = resolved;
        out.released = released;
        out.notifications += queued;
        crate::import::tx_run!(tx, conn, DB => {
            // An invalid pool: its members are swabbed again (re-sample). An
            // invalid retest tube: the member's retest stays open, to be
            // swabbed again into a single tube.
            let follow = match (result, out.retest) {
                ("abnormal", false) => Some("retest"),
                ("invalid", false) => Some("resample"),
                _ => None,
            };
            if let Some(kind) = follow {
                for m in &out.members {
                    sqlx::query("INSERT INTO follow_up (street_id, alert_id, round_id, tube_id, resident_id, kind, state, created_ms) VALUES ($1, $2, $3, $4, $5, $6, 'open', $7) \
                                 ON CONFLICT (street_id, tube_id, resident_id, kind) DO UPDATE SET alert_id = excluded.alert_id, state = 'open', created_ms = excluded.created_ms, resolved_ms = NULL \
                                 WHERE follow_up.state = 'withdrawn'")
                        .bind(street).bind(out.alert_id).bind(tube.round_id).bind(tube.id).bind(*m).bind(kind).bind(now_ms).execute(&mut *conn).await?;
                }
            }
        });
        // An alert raised again meets the retests its members already had:
        // one none of whose retests is open ends as it ended, and the
        // channels are told that, not a new abnormal pool.
        let mut kind = alert_kind;
        if let (Some(alert_id), Some("abnormal_pool")) = (out.alert_id, alert_kind) {
            out.released += tx
                .settle_alerts(street, tube.round_id, Some(alert_id), now_ms)
                .await?;
            let state: String = crate::import::tx_run!(tx, conn, DB => sqlx::query_scalar("SELECT state FROM alert WHERE street_id = $1 AND id = $2")
                .bind(street).bind(alert_id).fetch_one(&mut *conn).await?);
            // Ended cleared: say so. Ended confirmed (a member's retest came
            // back positive, a second one too): that is the news.
            match state.as_str() {
                "cleared" => kind = Some("cleared"),
                "confirmed" => kind = Some("confirmed"),
                _ => {}
            }
        }
        if let (Some(alert_id), Some(kind)) = (out.alert_id, kind) {
            out.notifications = tx
                .queue_alert_messages(&AlertNews {
                    street,
                    alert_id,
                    kind,
                    point: tube.point_id,
                    barcode: &tube.barcode,
                    members: out.members.len(),
                    households: if kind == "cleared" {
                        0
                    } else {
                        out.households.len()
                    },
                    at_ms: now_ms,
                })
                .await?;
        }
        Ok(())
    }
}

impl Store {
    pub async fn alerts(&self, street: i64, round: i64) -> Result<Vec<AlertRow>> {
        Ok(db_run!(self, pool => {
            let rows = sqlx::query("SELECT a.id, a.round_id, a.tube_id, a.point_id, t.barcode, a.kind, a.state, a.created_ms FROM alert a JOIN tube t ON t.street_id = a.street_id AND t.id = a.tube_id \
                                    WHERE a.street_id = $1 AND a.round_id = $2 ORDER BY a.id")
                .bind(street).bind(round).fetch_all(pool).await?;
            rows.iter().map(|r| Ok(AlertRow { id: r.try_get(0)?, round_id: r.try_get(1)?, tube_id: r.try_get(2)?, point_id: r.try_get(3)?, barcode: r.try_get(4)?, kind: r.try_get(5)?, state: r.try_get(6)?, created_ms: r.try_get(7)? }))
                .collect::<std::result::Result<Vec<_>, sqlx::Error>>()?
        }))
    }

    /// The residents exempt from round `round` of `street` in one community,
    /// grid or building (as [`Self::resamples_in`] places them: where the
    /// round's snapshot put them, else where they live now). `(resident,
    /// reason, set by, created_ms)`, newest first.
    pub async fn exemptions_in(
        &self,
        street: i64,
        round: i64,
        level: crate::coverage::Level,
        id: i64,
    ) -> Result<Vec<(i64, String, String, i64)>> {
        let column = level.column();
        let live = level.added_column(crate::coverage::Added::Live);
        let places = where_they_are("x");
        let sql = format!(
            "SELECT x.resident_id, x.reason, x.set_by, x.created_ms FROM round_exemption x {places} \
             WHERE x.street_id = $1 AND x.round_id = $2 AND COALESCE(e.{column}, {live}) = $3 \
             ORDER BY x.created_ms DESC, x.resident_id"
        );
        Ok(db_run!(self, pool => {
            let rows = sqlx::query(&sql).bind(street).bind(round).bind(id).fetch_all(pool).await?;
            rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?))).collect::<std::result::Result<Vec<_>, sqlx::Error>>()?
        }))
    }

    /// The re-samples of a round (members of invalid tubes) in territory
    /// `level` `id`: where its snapshot expected them, else (added since the
    /// opening) where they live now, else (a walk-in on no roster) the
    /// community of the point that swabbed them. `(resident, invalid tube's
    /// barcode, state, created_ms)`, open ones first.
    pub async fn resamples_in(
        &self,
        street: i64,
        round: i64,
        level: crate::coverage::Level,
        id: i64,
    ) -> Result<Vec<(i64, String, String, i64)>> {
        let column = level.column();
        let live = level.added_column(crate::coverage::Added::Live);
        let at_point = match level {
            crate::coverage::Level::Community => "p.community_id",
            _ => "NULL",
        };
        let places = where_they_are("f");
        // Open and swabbed again since (into a re-sample tube whose result
        // is not in yet): `swabbed`, so nobody calls them back; open and
        // exempted from the round (in hospital…; whenever recorded, as
        // coverage counts them: see `follow_up_exempt!`): `exempt`, nobody
        // will swab them here.
        let sql = format!(
            "SELECT x.resident_id, x.barcode, x.state, x.created_ms FROM (\
             SELECT f.resident_id, t.barcode, \
             CASE WHEN f.state = 'open' AND EXISTS (SELECT 1 FROM registration g WHERE g.street_id = f.street_id AND g.round_id = f.round_id \
                 AND g.resident_id = f.resident_id AND g.purpose = 'resample' AND g.stored_ms >= f.created_ms) THEN 'swabbed' \
                 WHEN f.state = 'open' AND {exempt} THEN 'exempt' ELSE f.state END AS state, \
             f.created_ms FROM follow_up f \
             JOIN tube t ON t.street_id = f.street_id AND t.id = f.tube_id \
             JOIN testing_point p ON p.street_id = t.street_id AND p.id = t.point_id {places} \
             WHERE f.street_id = $1 AND f.round_id = $2 AND f.kind = 'resample' AND COALESCE(e.{column}, {live}, {at_point}) = $3) x \
             ORDER BY CASE x.state WHEN 'open' THEN 0 WHEN 'swabbed' THEN 1 ELSE 2 END, x.resident_id, x.created_ms",
            exempt = crate::alerts::follow_up_exempt!()
        );
        Ok(db_run!(self, pool => {
            let rows = sqlx::query(&sql).bind(street).bind(round).bind(id).fetch_all(pool).await?;
            rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?))).collect::<std::result::Result<Vec<_>, sqlx::Error>>()?
        }))
    }

    /// Of [`Self::follow_ups`], the residents an exemption from the
    /// follow-up's round spares (in hospital, away …: for a retest one
    /// recorded once it was open, for a re-sample any: see
    /// `follow_up_exempt!`): open, but nobody will swab them here.
    pub async fn follow_ups_exempt(&self, street: i64, tube: i64, kind: &str) -> Result<Vec<i64>> {
        Ok(
            db_run!(self, pool => sqlx::query_scalar(concat!("SELECT f.resident_id FROM follow_up f WHERE f.street_id = $1 AND f.tube_id = $2 AND f.kind = $3 AND f.state = 'open' AND ",
                crate::alerts::follow_up_exempt!(), " ORDER BY f.resident_id"))
            .bind(street).bind(tube).bind(kind).fetch_all(pool).await?),
        )
    }

    pub async fn follow_ups(&self, street: i64, tube: i64, kind: &str) -> Result<Vec<i64>> {
        Ok(
            db_run!(self, pool => sqlx::query_scalar("SELECT resident_id FROM follow_up WHERE street_id = $1 AND tube_id = $2 AND kind = $3 AND state = 'open' ORDER BY resident_id")
            .bind(street).bind(tube).bind(kind).fetch_all(pool).await?),
        )
    }
}

/// A resident `r` (of household `h`, unit `u`, building `b`) who stays at
/// home: flagged with `$4` (cannot go downstairs), or under sealed or
/// temporary control at `$5`, or under control (管控区: 人不出小区) where
/// round `$2` has no point inside their compound
/// ([`gw_domain::territory::ControlStatus::at_the_door`]): the latest order
/// in force on the household, unit, building or compound decides (as the
/// schedule reads it).
const STAYS_IN: &str = "((r.flags & $4) <> 0 OR EXISTS (SELECT 1 FROM control_order c WHERE c.street_id = r.street_id \
                  AND (c.status IN ('sealed', 'temporary') OR (c.status = 'controlled' AND NOT EXISTS (SELECT 1 FROM testing_point tp \
                    WHERE tp.street_id = r.street_id AND tp.round_id = $2 AND tp.compound_id = b.compound_id))) \
                  AND c.from_ms <= $5 AND (c.until_ms IS NULL OR c.until_ms > $5) \
                  AND ((c.target_kind = 'household' AND c.target_id = h.id) OR (c.target_kind = 'unit' AND c.target_id = u.id) \
                    OR (c.target_kind = 'building' AND c.target_id = b.id) OR (c.target_kind = 'compound' AND c.target_id = b.compound_id)) \
                  AND NOT EXISTS (SELECT 1 FROM control_order l WHERE l.street_id = c.street_id AND l.target_kind = c.target_kind AND l.target_id = c.target_id \
                    AND l.from_ms <= $5 AND (l.until_ms IS NULL OR l.until_ms > $5) AND l.from_ms > c.from_ms)))";

/// Someone on a door-to-door list as the store places them: the grid the
/// list groups them under (where they live, or for one added since the
/// opening whose place was kept as sampling closed, where they lived then),
/// and the compound and unit they live in now (for the control orders that
/// hold them at home).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DoorPlace {
    pub resident: i64,
    pub grid: i64,
    pub compound: Option<i64>,
    pub unit: Option<i64>,
}

/// The columns of a [`DoorPlace`] for a resident `r` living in unit `u` now,
/// grouped under the grid `grid`.
fn door_place_columns(grid: &str) -> String {
    format!(
        "r.id, {grid}, (SELECT cb.compound_id FROM building cb WHERE cb.street_id = u.street_id AND cb.id = u.building_id), u.id"
    )
}

/// The place filter of a door-to-door list over the residents living in
/// building `b` of grid `g` now: one grid, or a community's grids.
fn door_within(level: crate::coverage::Level) -> &'static str {
    level.added_column(crate::coverage::Added::Live)
}

macro_rules! door_place_row {
    ($r:expr) => {
        DoorPlace {
            resident: $r.try_get(0)?,
            grid: $r.try_get(1)?,
            compound: $r.try_get(2)?,
            unit: $r.try_get(3)?,
        }
    };
}

impl Store {
    /// Residents of a grid or a community (`within`: [`Level::Grid`] or
    /// [`Level::Community`] and its id; expected, or added since the round
    /// opened) with no swab yet who must be sampled at their door: flagged
    /// with `flag_bit` (cannot go downstairs), or living under a sealed or
    /// temporary control order in force on their household, unit, building
    /// or compound. One query for a whole community, by resident.
    ///
    /// [`Level::Grid`]: crate::coverage::Level::Grid
    /// [`Level::Community`]: crate::coverage::Level::Community
    pub async fn door_to_door(
        &self,
        street: i64,
        round: i64,
        within: (crate::coverage::Level, i64),
        flag_bit: i64,
        now_ms: i64,
    ) -> Result<Vec<DoorPlace>> {
        use crate::coverage::{added_from, ADDED_SAMPLED, EXEMPT, SAMPLED};
        let (level, id) = within;
        let source = self.added_source(street, round).await?;
        let stays_in = STAYS_IN;
        let at = door_within(level);
        let cols = door_place_columns("b.grid_id");
        let sql = if self.round(street, round).await?.state == "planned" {
            // Not open yet (the evening before): a preview from the registry
            // as it is, the territory's active residents who stay in.
            format!(
                "SELECT {cols} FROM resident r \
                 JOIN household h ON h.street_id = r.street_id AND h.id = r.household_id \
                 JOIN unit u ON u.street_id = h.street_id AND u.id = h.unit_id \
                 JOIN building b ON b.street_id = u.street_id AND b.id = u.building_id \
                 JOIN grid g ON g.street_id = b.street_id AND g.id = b.grid_id \
                 WHERE r.street_id = $1 AND {at} = $3 AND r.status = 'active' AND {} AND {stays_in} \
                 ORDER BY 1",
                crate::coverage::ROUND_COVERS_BUILDING
            )
        } else {
            // The expected not yet swabbed nor exempt, and those added since
            // the round opened not yet swabbed.
            format!(
                "SELECT {cols} FROM round_expected e \
                 JOIN resident r ON r.street_id = e.street_id AND r.id = e.resident_id \
                 JOIN household h ON h.street_id = r.street_id AND h.id = r.household_id \
                 JOIN unit u ON u.street_id = h.street_id AND u.id = h.unit_id \
                 JOIN building b ON b.street_id = u.street_id AND b.id = u.building_id \
                 JOIN grid g ON g.street_id = b.street_id AND g.id = b.grid_id \
                 WHERE e.street_id = $1 AND e.round_id = $2 AND {at} = $3 \
                 AND NOT {SAMPLED} AND NOT {EXEMPT} AND {stays_in} \
                 UNION SELECT {added_cols} {} AND NOT {ADDED_SAMPLED} AND {stays_in} \
                 ORDER BY 1",
                added_from(source, &format!(" AND {} = $3", level.added_column(source))),
                added_cols = door_place_columns(crate::coverage::Level::Grid.added_column(source)),
            )
        };
        Ok(db_run!(self, pool => {
            let rows = sqlx::query(&sql)
                .bind(street).bind(round).bind(id).bind(flag_bit).bind(now_ms).fetch_all(pool).await?;
            rows.iter().map(|r| Ok(door_place_row!(r))).collect::<std::result::Result<Vec<_>, sqlx::Error>>()?
        }))
    }

    /// The open follow-ups of round `round` (single-tube retests after an
    /// abnormal pool, re-samples after an invalid tube) of residents living
    /// in a grid or community (`within`, as [`Self::door_to_door`]) who stay
    /// at home (as [`Self::door_to_door`] reads it: the flag `flag_bit`, or
    /// sealed or temporary control in force at `now_ms`), so the
    /// door-to-door team takes them at the door. Left out: one whose retest
    /// or re-sample swab is registered since the follow-up opened (its
    /// result still to come), and one an exemption spares. `(place, kind)`
    /// with kind `retest` or `resample`, by resident.
    pub async fn door_follow_ups(
        &self,
        street: i64,
        round: i64,
        within: (crate::coverage::Level, i64),
        flag_bit: i64,
        now_ms: i64,
    ) -> Result<Vec<(DoorPlace, String)>> {
        let (level, id) = within;
        let sql = format!(
            "SELECT DISTINCT {cols}, f.kind FROM follow_up f \
             JOIN resident r ON r.street_id = f.street_id AND r.id = f.resident_id \
             JOIN household h ON h.street_id = r.street_id AND h.id = r.household_id \
             JOIN unit u ON u.street_id = h.street_id AND u.id = h.unit_id \
             JOIN building b ON b.street_id = u.street_id AND b.id = u.building_id \
             JOIN grid g ON g.street_id = b.street_id AND g.id = b.grid_id \
             WHERE f.street_id = $1 AND f.round_id = $2 AND {at} = $3 AND f.state = 'open' \
             AND f.kind IN ('retest', 'resample') AND r.status = 'active' \
             AND NOT EXISTS (SELECT 1 FROM registration rg WHERE rg.street_id = f.street_id AND rg.round_id = f.round_id \
                 AND rg.resident_id = f.resident_id AND rg.purpose = f.kind AND rg.stored_ms >= f.created_ms) \
             AND NOT {exempt} AND {STAYS_IN} \
             ORDER BY 1, 5",
            cols = door_place_columns("b.grid_id"),
            at = door_within(level),
            exempt = crate::alerts::follow_up_exempt!()
        );
        Ok(db_run!(self, pool => {
            let rows = sqlx::query(&sql)
                .bind(street).bind(round).bind(id).bind(flag_bit).bind(now_ms).fetch_all(pool).await?;
            rows.iter().map(|r| Ok((door_place_row!(r), r.try_get(4)?))).collect::<std::result::Result<Vec<_>, sqlx::Error>>()?
        }))
    }

    /// `(swabs in the tube, resulted tubes, abnormal tubes)` over a street's
    /// rounds: the tubes of sampling as it came (routine, door-to-door and
    /// re-sample swabs), by how many swabs each actually held. Retest tubes
    /// are left out: their people came from abnormal pools.
    pub async fn pool_outcomes(&self, street: i64) -> Result<Vec<(i64, i32, i64, i64)>> {
        Ok(db_run!(self, pool => {
            let rows = sqlx::query(
                "SELECT t.round_id, CAST(t.fill AS INTEGER), COUNT(*), COALESCE(SUM(CASE WHEN t.result = 'abnormal' THEN 1 ELSE 0 END), 0) FROM tube t \
                 JOIN testing_round r ON r.street_id = t.street_id AND r.id = t.round_id \
                 WHERE t.street_id = $1 AND t.result IN ('negative', 'abnormal') AND t.fill > 0 \
                 AND t.tube_use <> 'retest' \
                 GROUP BY t.round_id, r.opened_ms, r.starts_ms, t.fill ORDER BY COALESCE(r.opened_ms, r.starts_ms) DESC, t.round_id DESC, t.fill")
                .bind(street).fetch_all(pool).await?;
            rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?))).collect::<std::result::Result<Vec<_>, sqlx::Error>>()?
        }))
    }
}

impl Store {
    /// `(id, uid, code generation)` of up to `limit` active residents of a street.
    pub async fn code_identities(
        &self,
        street: i64,
        limit: i64,
    ) -> Result<Vec<(i64, String, i64)>> {
        Ok(db_run!(self, pool => {
            let rows = sqlx::query("SELECT id, uid, code_generation FROM resident WHERE street_id = $1 AND status = 'active' ORDER BY id LIMIT $2")
                .bind(street).bind(limit).fetch_all(pool).await?;
            rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?, i64::from(r.try_get::<i32, _>(2)?)))).collect::<std::result::Result<Vec<_>, sqlx::Error>>()?
        }))
    }

    /// For benchmarks after a bulk load: on PostgreSQL a checkpoint and
    /// `VACUUM ANALYZE` (what the checkpointer and autovacuum do in time), so
    /// queries are timed on the database a running round has, not while it
    /// still writes out the load. Nothing on SQLite.
    pub async fn settle_after_bulk_load(&self) -> Result<()> {
        if let crate::Pool::Postgres(p) = &self.pool {
            sqlx::query("CHECKPOINT").execute(p).await?;
            sqlx::query("VACUUM ANALYZE").execute(p).await?;
        }
        Ok(())
    }

    /// Raw durable inserts of registrations into one tube, `batch` rows per
    /// multi-row INSERT and per transaction: the storage limit of the scan path.
    /// Client ids are `{tag}-{batch}-{row}`, unique in the street per tag.
    pub async fn raw_insert_registrations(
        &self,
        tube: &TubeRow,
        residents: &[i64],
        batch: usize,
        now_ms: i64,
        tag: &str,
    ) -> Result<()> {
        for (b, chunk) in residents.chunks(batch.max(1)).enumerate() {
            let mut tx = self.begin().await?;
            crate::import::tx_run!(tx, conn, DB => {
                let mut qb = sqlx::QueryBuilder::<DB>::new("INSERT INTO registration (street_id, client_id, round_id, point_id, tube_id, resident_id, raw_code, purpose, problem, scanned_ms, stored_ms, station) ");
                qb.push_values(chunk.iter().enumerate(), |mut v, (i, r)| {
                    v.push_bind(tube.street_id).push_bind(format!("{tag}-{b}-{i}")).push_bind(tube.round_id).push_bind(tube.point_id).push_bind(tube.id).push_bind(*r)
                        .push_bind("raw").push_bind("retest").push_bind("").push_bind(now_ms).push_bind(now_ms).push_bind("raw");
                });
                qb.build().execute(&mut *conn).await?;
            });
            tx.commit().await?;
        }
        Ok(())
    }
}

/// Rows per multi-row insert of the writer (13 binds each: well under both
/// backends' limits on bind variables).
const REGISTRATION_CHUNK: usize = 500;

/// A tube to open, for the group-commit writer.
#[derive(Debug, Clone)]
pub struct NewTube {
    pub street: i64,
    pub round: i64,
    pub point: i64,
    pub barcode: String,
    pub pool_size: i32,
    pub now_ms: i64,
    /// `pool`, `retest` or `resample`.
    pub tube_use: &'static str,
}

/// An owned registration, for the group-commit writer.
#[derive(Debug, Clone)]
pub struct OwnedRegistration {
    pub street_id: i64,
    pub client_id: String,
    pub round_id: i64,
    pub point_id: i64,
    pub tube_id: i64,
    pub resident_id: Option<i64>,
    pub raw_code: String,
    pub purpose: String,
    pub duplicate_of: Option<i64>,
    pub problem: String,
    pub scanned_ms: i64,
    pub stored_ms: i64,
    pub station: String,
}

impl Store {
    /// Writes what the scan writer gathered in one transaction with one
    /// durable commit, in one round trip to the database: the tubes opened in
    /// this moment, the registrations in one multi-row insert (the database's
    /// trigger moves the tube and point counters and closes a full tube), then
    /// the counters of every tube and point the batch touched. Batches are
    /// written one at a time, so the counts are exact however many stations
    /// fill a tube at once. SQLite runs the statements as one script on its
    /// worker thread; PostgreSQL calls `gw_write_scans` (migration 0016).
    ///
    /// An opening gets its tube id, or `None` when the barcode is taken. A
    /// registration gets its id and the counts it made, or `None` when a
    /// unique key refused it (a replayed client id, or a second first sampling
    /// swab) or its client id was taken back already (`voided_swab`): the
    /// caller resolves those. On SQLite the scan path then has one
    /// writer, so an opening never waits on the database's lock (whose busy
    /// handler sleeps).
    pub async fn write_scans(
        &self,
        opens: &[NewTube],
        rows: &[OwnedRegistration],
    ) -> Result<(Vec<Option<i64>>, Vec<Option<Stored>>)> {
        self.hold().await?.write_scans(opens, rows).await
    }

    /// A connection taken from the pool for good, for a task that writes all
    /// the time (the scan writer): no hand-out and no return (sqlx pings a
    /// connection on its return) per write.
    pub async fn hold(&self) -> Result<HeldConnection> {
        Ok(match &self.pool {
            crate::Pool::Sqlite(p) => HeldConnection::Sqlite(p.acquire().await?),
            crate::Pool::Postgres(p) => HeldConnection::Postgres(p.acquire().await?),
        })
    }
}

/// `db_run!` for a held connection: `$conn` is the backend's connection.
macro_rules! held_run {
    ($held:expr, $conn:ident => $body:expr) => {
        match $held {
            HeldConnection::Sqlite(c) => {
                let $conn = &mut **c;
                $body
            }
            HeldConnection::Postgres(c) => {
                let $conn = &mut **c;
                $body
            }
        }
    };
}

/// See [`Store::hold`]. Dropping it returns the connection to its pool.
#[derive(Debug)]
pub enum HeldConnection {
    Sqlite(sqlx::pool::PoolConnection<sqlx::Sqlite>),
    Postgres(sqlx::pool::PoolConnection<sqlx::Postgres>),
}

impl HeldConnection {
    /// [`Store::scan_state`] on this connection.
    pub async fn scan_state(&mut self, q: &ScanQuery<'_>) -> Result<ScanState> {
        let st = held_run!(self, pool => {
            match sqlx::query(SCAN_STATE_SQL.as_str())
                .bind(q.street).bind(q.tube).bind(q.client_id).bind(q.uid.unwrap_or("")).bind(q.resident.unwrap_or(-1))
                .fetch_optional(pool).await? {
                Some(r) => Some(ScanState {
                    tube: TubeRow {
                        street_id: q.street,
                        id: q.tube,
                        round_id: r.try_get(0)?,
                        point_id: r.try_get(1)?,
                        barcode: r.try_get(2)?,
                        state: r.try_get(3)?,
                        pool_size: r.try_get(4)?,
                        tube_use: r.try_get(14)?,
                    },
                    tube_fill: r.try_get(5)?,
                    community: r.try_get(6)?,
                    point_count: r.try_get(7)?,
                    round_state: r.try_get(8)?,
                    district: r.try_get(9)?,
                    uid_resident: r.try_get(10)?,
                    uid_generation: r.try_get(11)?,
                    replay: r.try_get(12)?,
                    first_routine: r.try_get(13)?,
                    name: r.try_get(15)?,
                    gender: r.try_get(16)?,
                    birth_date: r.try_get(17)?,
                    open_retests: r.try_get(18)?,
                    round_starts_ms: r.try_get(19)?,
                    voided: r.try_get(20)?,
                    household: r.try_get(21)?,
                    control_version: r.try_get(22)?,
                    code_reissued_ms: r.try_get(23)?,
                }),
                None => None,
            }
        });
        st.ok_or_else(|| StoreError::NotFound(format!("tube {}-{}", q.street, q.tube)))
    }

    /// [`Store::write_scans`] on this connection.
    pub async fn write_scans(
        &mut self,
        opens: &[NewTube],
        rows: &[OwnedRegistration],
    ) -> Result<(Vec<Option<i64>>, Vec<Option<Stored>>)> {
        let mut opened: Vec<Option<i64>> = vec![None; opens.len()];
        let mut ids: Vec<Option<i64>> = vec![None; rows.len()];
        let mut tubes: std::collections::BTreeMap<(i64, i64), i64> = Default::default();
        let mut points: std::collections::BTreeMap<(i64, i64), i64> = Default::default();
        for w in rows {
            tubes.insert((w.street_id, w.tube_id), 0);
            points.insert((w.street_id, w.point_id), 0);
        }
        let answers = match self {
            HeldConnection::Sqlite(conn) => {
                write_scans_sqlite(conn, opens, rows, &tubes, &points).await?
            }
            HeldConnection::Postgres(conn) => write_scans_postgres(conn, opens, rows).await?,
        };
        let mut after: std::collections::BTreeMap<(i32, i64, i64), i64> = Default::default();
        for WriteAnswer {
            kind,
            street,
            id,
            text,
            n,
        } in answers
        {
            match kind {
                // The first opening of a barcode in the batch gets the tube.
                0 => {
                    if let Some(i) = (0..opens.len()).find(|&i| {
                        opened[i].is_none()
                            && opens[i].street == street
                            && opens[i].round == n
                            && opens[i].barcode == text
                    }) {
                        opened[i] = Some(id);
                    }
                }
                // RETURNING order is not promised: match by the client id
                // (unique per street; the first row of the batch that has it).
                1 => {
                    if let Some(i) = (0..rows.len()).find(|&i| {
                        ids[i].is_none() && rows[i].street_id == street && rows[i].client_id == text
                    }) {
                        ids[i] = Some(id);
                    }
                }
                _ => {
                    after.insert((kind, street, id), n);
                }
            }
        }
        // Turn "count after the batch" into "count before it".
        for (w, _) in rows.iter().zip(&ids).filter(|(_, id)| id.is_some()) {
            *tubes.entry((w.street_id, w.tube_id)).or_insert(0) -= 1;
            *points.entry((w.street_id, w.point_id)).or_insert(0) -= 1;
        }
        for (&(street, id), n) in tubes.iter_mut() {
            *n += after.get(&(2, street, id)).copied().unwrap_or(0);
        }
        for (&(street, id), n) in points.iter_mut() {
            *n += after.get(&(3, street, id)).copied().unwrap_or(0);
        }
        // Counts in batch order: each stored row adds one to its tube and point.
        let stored = rows
            .iter()
            .zip(ids)
            .map(|(w, id)| {
                let id = id?;
                let t = tubes.get_mut(&(w.street_id, w.tube_id))?;
                *t += 1;
                let p = points.get_mut(&(w.street_id, w.point_id))?;
                *p += 1;
                Some(Stored {
                    id,
                    tube_fill: *t,
                    point_count: *p,
                })
            })
            .collect();
        Ok((opened, stored))
    }
}

/// One row of what a scan writer's cycle answers (see `gw_write_scans`):
/// kind 0 an opened tube (`text` its barcode, `n` its round), 1 a stored
/// registration (`text` its client id), 2 a tube's fill and 3 a point's
/// count after the batch (`n`).
struct WriteAnswer {
    kind: i32,
    street: i64,
    id: i64,
    text: String,
    n: i64,
}

/// The answers of a cycle, row by row (the same five columns on both backends).
macro_rules! write_answers {
    ($found:expr) => {
        $found
            .iter()
            .map(|r| {
                Ok(WriteAnswer {
                    kind: r.try_get(0)?,
                    street: r.try_get(1)?,
                    id: r.try_get(2)?,
                    text: r.try_get(3)?,
                    n: r.try_get(4)?,
                })
            })
            .collect::<std::result::Result<Vec<_>, sqlx::Error>>()?
    };
}

/// SQLite: the whole cycle as one script, run by the connection's worker
/// thread in one trip (`BEGIN IMMEDIATE` … `COMMIT`); on an error the
/// transaction is rolled back and nothing of the batch is stored.
async fn write_scans_sqlite(
    conn: &mut sqlx::SqliteConnection,
    opens: &[NewTube],
    rows: &[OwnedRegistration],
    tubes: &std::collections::BTreeMap<(i64, i64), i64>,
    points: &std::collections::BTreeMap<(i64, i64), i64>,
) -> Result<Vec<WriteAnswer>> {
    let mut qb = sqlx::QueryBuilder::<sqlx::Sqlite>::new("BEGIN IMMEDIATE; ");
    if !opens.is_empty() {
        // Numbered above any tube withdrawn (migration 0035): SQLite alone
        // would give a removed largest id again.
        qb.push("INSERT INTO tube (id, street_id, round_id, point_id, barcode, state, pool_size, opened_ms, tube_use) ");
        qb.push_values(opens.iter().enumerate(), |mut v, (k, t)| {
            v.push(format!("{TUBE_ID_ABOVE_FLOOR} + {}", k + 1))
                .push_bind(t.street)
                .push_bind(t.round)
                .push_bind(t.point)
                .push_bind(&t.barcode)
                .push_bind("open")
                .push_bind(t.pool_size)
                .push_bind(t.now_ms)
                .push_bind(t.tube_use);
        });
        qb.push(" ON CONFLICT DO NOTHING RETURNING 0, street_id, id, barcode, round_id; ");
    }
    for chunk in rows.chunks(REGISTRATION_CHUNK) {
        // A client id taken back already (a station's undo that reached the
        // server first) is left out: the caller answers `voided`.
        qb.push("INSERT INTO registration (street_id, client_id, round_id, point_id, tube_id, resident_id, raw_code, purpose, duplicate_of, problem, scanned_ms, stored_ms, station) SELECT * FROM (");
        qb.push_values(chunk, |mut v, w| {
            v.push_bind(w.street_id)
                .push_bind(&w.client_id)
                .push_bind(w.round_id)
                .push_bind(w.point_id)
                .push_bind(w.tube_id)
                .push_bind(w.resident_id)
                .push_bind(&w.raw_code)
                .push_bind(&w.purpose)
                .push_bind(w.duplicate_of)
                .push_bind(&w.problem)
                .push_bind(w.scanned_ms)
                .push_bind(w.stored_ms)
                .push_bind(&w.station);
        });
        qb.push(") AS v WHERE NOT EXISTS (SELECT 1 FROM voided_swab x WHERE x.street_id = v.column1 AND x.client_id = v.column2) \
                 ON CONFLICT DO NOTHING RETURNING 1, street_id, id, client_id, 0; ");
    }
    for (kind, table, column, keys) in [
        (2, "tube", "fill", tubes),
        (3, "testing_point", "swabs", points),
    ] {
        if keys.is_empty() {
            continue;
        }
        qb.push(format!(
            "SELECT {kind}, street_id, id, '', {column} FROM {table} WHERE "
        ));
        for (i, &(street, id)) in keys.keys().enumerate() {
            qb.push(if i == 0 {
                "(street_id = "
            } else {
                " OR (street_id = "
            })
            .push_bind(street)
            .push(" AND id = ")
            .push_bind(id)
            .push(")");
        }
        qb.push("; ");
    }
    qb.push("COMMIT");
    match qb.build().fetch_all(&mut *conn).await {
        Ok(found) => Ok(write_answers!(found)),
        Err(e) => {
            // The script stopped part-way: undo what it began (an error here
            // means no transaction was open).
            let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
            Err(e.into())
        }
    }
}

/// PostgreSQL: one call of `gw_write_scans` (its own transaction, one commit).
async fn write_scans_postgres(
    conn: &mut sqlx::PgConnection,
    opens: &[NewTube],
    rows: &[OwnedRegistration],
) -> Result<Vec<WriteAnswer>> {
    fn col<T, U>(xs: &[T], f: impl Fn(&T) -> U) -> Vec<U> {
        xs.iter().map(f).collect()
    }
    let found = sqlx::query("SELECT o_kind, o_street, o_id, o_text, o_n FROM gw_write_scans($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)")
        .bind(col(opens, |t| t.street))
        .bind(col(opens, |t| t.round))
        .bind(col(opens, |t| t.point))
        .bind(col(opens, |t| t.barcode.clone()))
        .bind(col(opens, |t| t.pool_size))
        .bind(col(opens, |t| t.now_ms))
        .bind(col(opens, |t| t.tube_use.to_string()))
        .bind(col(rows, |w| w.street_id))
        .bind(col(rows, |w| w.client_id.clone()))
        .bind(col(rows, |w| w.round_id))
        .bind(col(rows, |w| w.point_id))
        .bind(col(rows, |w| w.tube_id))
        .bind(col(rows, |w| w.resident_id))
        .bind(col(rows, |w| w.raw_code.clone()))
        .bind(col(rows, |w| w.purpose.clone()))
        .bind(col(rows, |w| w.duplicate_of))
        .bind(col(rows, |w| w.problem.clone()))
        .bind(col(rows, |w| w.scanned_ms))
        .bind(col(rows, |w| w.stored_ms))
        .bind(col(rows, |w| w.station.clone()))
        .fetch_all(&mut *conn)
        .await?;
    Ok(write_answers!(found))
}

/// An alert as its messages tell it (see [`StoreTx::queue_alert_messages`]).
#[derive(Debug, Clone)]
pub struct AlertNews<'a> {
    pub street: i64,
    pub alert_id: i64,
    /// `abnormal_pool`, `confirmed` or `late_member`.
    pub kind: &'a str,
    pub point: i64,
    pub barcode: &'a str,
    pub members: usize,
    pub households: usize,
    pub at_ms: i64,
}

impl crate::import::StoreTx {
    /// Queues one message per active alert channel of the street, in this
    /// transaction (the alert and its messages are stored together or not
    /// at all). Returns how many were queued.
    pub async fn queue_alert_messages(&mut self, n: &AlertNews<'_>) -> Result<usize> {
        let mut queued = 0;
        crate::import::tx_run!(self, conn, DB => {
            let r = sqlx::query("SELECT r.name, p.name FROM testing_point p JOIN testing_round r ON r.street_id = p.street_id AND r.id = p.round_id WHERE p.street_id = $1 AND p.id = $2")
                .bind(n.street).bind(n.point).fetch_one(&mut *conn).await?;
            let facts = gw_domain::notify::AlertFacts {
                kind: n.kind.to_string(),
                round: r.try_get(0)?,
                point: r.try_get(1)?,
                barcode: n.barcode.to_string(),
                members: n.members,
                households: n.households,
                at_ms: n.at_ms,
            };
            let text = gw_domain::notify::alert_text(&facts);
            let channels = sqlx::query("SELECT id, kind FROM alert_channel WHERE street_id = $1 AND active = TRUE ORDER BY id")
                .bind(n.street).fetch_all(&mut *conn).await?;
            for c in &channels {
                let (channel, kind): (i64, String) = (c.try_get(0)?, c.try_get(1)?);
                let Some(kind) = gw_domain::notify::ChannelKind::parse(&kind) else { continue };
                let body = gw_domain::notify::body(kind, &text, &facts);
                sqlx::query("INSERT INTO notification (street_id, channel_id, alert_id, body, state, created_ms, next_ms, kind) VALUES ($1, $2, $3, $4, 'pending', $5, $5, $6)")
                    .bind(n.street).bind(channel).bind(n.alert_id).bind(&body).bind(n.at_ms)
                    .bind(gw_domain::notify::alert_message_kind(n.kind)).execute(&mut *conn).await?;
                queued += 1;
            }
        });
        Ok(queued)
    }

    /// Holds round `round` for this transaction and returns its state: a
    /// close at the same moment waits for this transaction (PostgreSQL: a
    /// share lock on the round's row, which the close's `FOR UPDATE` waits
    /// for; SQLite: the write lock `begin` took) and then sees what it wrote.
    /// NotFound if there is no such round.
    pub async fn hold_round(&mut self, street: i64, round: i64) -> Result<String> {
        self.round_state(street, round, RowLock::Share).await
    }

    /// Round `round`'s state, its row locked `lock` on PostgreSQL for the
    /// rest of this transaction ([`Self::hold_round`] shares it; a close or
    /// a supply issue takes it for update, so they wait for each other).
    /// NotFound if there is no such round.
    pub(crate) async fn round_state(
        &mut self,
        street: i64,
        round: i64,
        lock: RowLock,
    ) -> Result<String> {
        let sql = format!(
            "SELECT state FROM testing_round WHERE street_id = $1 AND id = $2{}",
            self.row_lock(lock)
        );
        let state: Option<String> = crate::import::tx_run!(self, conn, DB => sqlx::query_scalar(&sql)
            .bind(street).bind(round).fetch_optional(&mut *conn).await?);
        state.ok_or_else(|| StoreError::NotFound(format!("round {street}-{round}")))
    }

    /// [`Self::hold_round`] for a write a closed round must not take
    /// (exemptions, points): Conflict if it is closed.
    pub async fn hold_unclosed_round(&mut self, street: i64, round: i64) -> Result<()> {
        let state = self.hold_round(street, round).await?;
        refuse_settled(street, round, &state, ("", ""))
    }

    /// The follow-ups a result of `tube` answers, for its swabs (or only
    /// `only`'s): a retest tube's `negative` clears and `abnormal` confirms
    /// its members' open retests; an abnormal-pool alert whose retests are
    /// all back becomes `cleared` or `confirmed`, and a household whose
    /// members' retests in an alert all came back negative leaves the
    /// temporary control that alert set. A re-sample swab with any result
    /// ends its member's open re-sample. On PostgreSQL the round's open
    /// alerts are locked first, so two results (or a late member) at the
    /// same moment are decided one after the other, each seeing the other's
    /// follow-ups. An alert cleared here (every retest negative) tells the
    /// street's alert channels, with the households it released.
    /// `(retests resolved, households released, messages queued)`.
    pub async fn resolve_follow_ups(
        &mut self,
        tube: &TubeRow,
        result: &str,
        only: Option<i64>,
        now_ms: i64,
    ) -> Result<(u64, u64, usize)> {
        let street = tube.street_id;
        let resolved_as = match (tube.tube_use.as_str(), result) {
            ("retest", "negative") => Some("cleared"),
            ("retest", "abnormal") => Some("confirmed"),
            _ => None,
        };
        if resolved_as.is_some() {
            // Cleared ones too: a positive retest may confirm one, and a
            // correction at the same moment must see that.
            self.lock_rows("SELECT id FROM alert WHERE street_id = $1 AND round_id = $2 AND kind = 'abnormal_pool' AND state IN ('open', 'cleared') ORDER BY id", RowLock::Update, street, tube.round_id)
                .await?;
        }
        let (mut resolved, mut released) = (0, 0);
        // Pool alerts that end now: (id, point, barcode, retests cleared).
        let mut ended: Vec<(i64, i64, String, i64)> = Vec::new();
        crate::import::tx_run!(self, conn, DB => {
            if let Some(state) = resolved_as {
                let members: Vec<i64> = sqlx::query_scalar("SELECT DISTINCT resident_id FROM registration WHERE street_id = $1 AND tube_id = $2 AND resident_id IS NOT NULL AND ($3 IS NULL OR resident_id = $3) ORDER BY resident_id")
                    .bind(street).bind(tube.id).bind(only).fetch_all(&mut *conn).await?;
                // A positive retest outweighs a negative one before it (two
                // retest tubes of one member): it confirms a cleared retest
                // too; a negative one never clears a confirmed retest.
                for m in &members {
                    resolved += sqlx::query("UPDATE follow_up SET state = $4, resolved_ms = $5 WHERE street_id = $1 AND round_id = $2 AND resident_id = $3 AND kind = 'retest' \
                                             AND (state = 'open' OR (state = 'cleared' AND $4 = 'confirmed'))")
                        .bind(street).bind(tube.round_id).bind(*m).bind(state).bind(now_ms).execute(&mut *conn).await?.rows_affected();
                }
                ended = sqlx::query_as("SELECT a.id, a.point_id, t.barcode, (SELECT COUNT(*) FROM follow_up f WHERE f.street_id = a.street_id AND f.alert_id = a.id AND f.state = 'cleared') \
                                        FROM alert a JOIN tube t ON t.street_id = a.street_id AND t.id = a.tube_id \
                                        WHERE a.street_id = $1 AND a.round_id = $2 AND a.kind = 'abnormal_pool' AND a.state = 'open' \
                                        AND EXISTS (SELECT 1 FROM follow_up f WHERE f.street_id = a.street_id AND f.alert_id = a.id AND f.kind = 'retest') \
                                        AND NOT EXISTS (SELECT 1 FROM follow_up f WHERE f.street_id = a.street_id AND f.alert_id = a.id AND f.kind = 'retest' AND f.state IN ('open', 'confirmed')) ORDER BY a.id")
                    .bind(street).bind(tube.round_id).fetch_all(&mut *conn).await?;
            }
            sqlx::query("UPDATE follow_up SET state = 'resampled', resolved_ms = $4 WHERE street_id = $1 AND round_id = $3 AND kind = 'resample' AND state = 'open' \
                         AND ($5 IS NULL OR resident_id = $5) \
                         AND resident_id IN (SELECT g.resident_id FROM registration g WHERE g.street_id = $1 AND g.tube_id = $2 AND g.purpose = 'resample' AND g.resident_id IS NOT NULL)")
                .bind(street).bind(tube.id).bind(tube.round_id).bind(now_ms).bind(only).execute(&mut *conn).await?;
        });
        if resolved_as.is_some() {
            released = self
                .settle_alerts(street, tube.round_id, None, now_ms)
                .await?;
        }
        let mut queued = 0;
        for (alert_id, point, barcode, cleared) in ended {
            let ended: Vec<i64> = crate::import::tx_run!(self, conn, DB => sqlx::query_scalar(
                "SELECT target_id FROM control_order WHERE street_id = $1 AND alert_id = $2 AND target_kind = 'household' AND until_ms IS NOT NULL AND until_ms <= $3")
                .bind(street).bind(alert_id).bind(now_ms).fetch_all(&mut *conn).await?);
            let households = self.households_now_free(street, &ended, now_ms).await?;
            queued += self
                .queue_alert_messages(&AlertNews {
                    street,
                    alert_id,
                    kind: "cleared",
                    point,
                    barcode: &barcode,
                    members: usize::try_from(cleared).unwrap_or(0),
                    households: usize::try_from(households).unwrap_or(0),
                    at_ms: now_ms,
                })
                .await?;
        }
        Ok((resolved, released, queued))
    }
}

/// What a swab stored after its tube's result set in motion.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LateFollowUp {
    /// The tube's result (None: it has none, nothing to follow).
    pub result: Option<String>,
    /// `retest` (an abnormal pool) or `resample` (an invalid tube, or a swab
    /// taken after the result) opened for the swab's resident; None for a
    /// negative tube or a retest tube.
    pub kind: Option<&'static str>,
    /// False when it was open already (a replay, or the result saw the swab).
    pub opened: bool,
    /// The resident's household put under the pool's temporary control.
    pub household_controlled: bool,
    /// That household (set with `household_controlled`), for the
    /// stay-home notice of the calls pushed for it.
    pub household: Option<i64>,
    /// The abnormal pool's alert, reopened while this member's retest is open.
    pub alert_id: Option<i64>,
    /// Messages queued for the street's alert channels.
    pub notifications: usize,
    /// Open retests or re-samples of the resident this swab's result
    /// answered (a retest tube's swab synced late), and households that left
    /// temporary control with it.
    pub resolved: u64,
    pub released: u64,
}

impl Store {
    /// A swab of `resident` stored in tube `tube` after (or while) the lab's
    /// result for it was recorded. Taken before the result (`scanned_ms`, an
    /// offline station's queue synced late), it was in the tube the lab
    /// tested, and the resident gets what the result gave the tube's other
    /// members: an abnormal pool's retest, their household under the pool's
    /// temporary control, the alert open again and its channels told; an
    /// invalid tube's re-sample; and a retest or re-sample swab's result
    /// answers the follow-up it was taken for ([`StoreTx::resolve_follow_ups`]).
    /// Taken after the result, it went into a tube already tested: a
    /// re-sample, whatever the result. Idempotent
    /// (a replay of the swab, or a result that already saw it, opens
    /// nothing twice). On PostgreSQL the tube's row is read under a share
    /// lock, so a result being recorded at this moment is waited for: either
    /// its members include this swab or this reads its result.
    pub async fn follow_up_late_swab(
        &self,
        street: i64,
        tube: i64,
        resident: i64,
        scanned_ms: i64,
        by: &str,
        now_ms: i64,
    ) -> Result<LateFollowUp> {
        let mut tx = self.begin().await?;
        let mut out = LateFollowUp::default();
        // The round first, then the tube, in the order a result takes them
        // (no lock waits on another in a circle).
        let round: Option<i64> = crate::import::tx_run!(tx, conn, DB => sqlx::query_scalar("SELECT round_id FROM tube WHERE street_id = $1 AND id = $2")
            .bind(street).bind(tube).fetch_optional(&mut *conn).await?);
        let Some(round) = round else {
            return Err(StoreError::NotFound(format!("tube {street}-{tube}")));
        };
        // A close at this moment waits and then counts what this opens. A
        // round already closed is followed up all the same: a member of an
        // abnormal pool is traced whatever the round's record says.
        tx.hold_round(street, round).await?;
        let sql = format!("SELECT street_id, id, round_id, point_id, barcode, state, pool_size, tube_use, result, result_ms FROM tube WHERE street_id = $1 AND id = $2{}", tx.row_lock(RowLock::Share));
        let row = crate::import::tx_run!(tx, conn, DB => {
            match sqlx::query(&sql).bind(street).bind(tube).fetch_optional(&mut *conn).await? {
                Some(r) => Some((
                    TubeRow { street_id: r.try_get(0)?, id: r.try_get(1)?, round_id: r.try_get(2)?, point_id: r.try_get(3)?, barcode: r.try_get(4)?, state: r.try_get(5)?, pool_size: r.try_get(6)?, tube_use: r.try_get(7)? },
                    r.try_get::<Option<String>, _>(8)?,
                    r.try_get::<Option<i64>, _>(9)?,
                )),
                None => None,
            }
        });
        let Some((t, result, result_ms)) = row else {
            return Err(StoreError::NotFound(format!("tube {street}-{tube}")));
        };
        let (point, barcode) = (t.point_id, t.barcode.clone());
        out.result = result.clone();
        // Taken after the result (by the station's clock): the swab went into
        // a tube already tested, so whatever the result it was never tested.
        let untested = result_ms.is_some_and(|r| scanned_ms > r);
        // Taken before it: the result answers what this swab was for (a
        // retest clears or confirms, a re-sample ends), as for the others.
        if let (Some(r), false) = (result.as_deref(), untested) {
            let queued;
            (out.resolved, out.released, queued) =
                tx.resolve_follow_ups(&t, r, Some(resident), now_ms).await?;
            out.notifications += queued;
        }
        out.kind = match (result.as_deref(), t.tube_use.as_str()) {
            (_, "retest") | (None, _) => None,
            (Some(_), _) if untested => Some("resample"),
            (Some("abnormal"), _) => Some("retest"),
            (Some("invalid"), _) => Some("resample"),
            _ => None,
        };
        let Some(kind) = out.kind else {
            tx.commit().await?;
            return Ok(out);
        };
        let mut household = None;
        // On PostgreSQL the alert is locked as it is read, before anything is
        // written (as a retest result locks it first): a result resolving a
        // housemate's retest at this moment either sees this retest or is
        // seen by it.
        let alert_sql = format!(
            "SELECT id FROM alert WHERE street_id = $1 AND tube_id = $2 AND kind = 'abnormal_pool'{}",
            tx.row_lock(RowLock::Update)
        );
        if kind == "retest" {
            out.alert_id = crate::import::tx_run!(tx, conn, DB => sqlx::query_scalar(&alert_sql)
                .bind(street).bind(tube).fetch_optional(&mut *conn).await?);
        }
        crate::import::tx_run!(tx, conn, DB => {
            out.opened = sqlx::query("INSERT INTO follow_up (street_id, alert_id, round_id, tube_id, resident_id, kind, state, created_ms) VALUES ($1, $2, $3, $4, $5, $6, 'open', $7) \
                                      ON CONFLICT (street_id, tube_id, resident_id, kind) DO NOTHING")
                .bind(street).bind(out.alert_id).bind(round).bind(tube).bind(resident).bind(kind).bind(now_ms)
                .execute(&mut *conn).await?.rows_affected() == 1;
            if let (true, Some(alert)) = (out.opened, out.alert_id) {
                household = sqlx::query_scalar::<_, Option<i64>>("SELECT household_id FROM resident WHERE street_id = $1 AND id = $2")
                    .bind(street).bind(resident).fetch_optional(&mut *conn).await?.flatten();
                if let Some(h) = household {
                    let reason = format!("混管异常 abnormal pool {barcode}（结果后补录 / synced after the result）");
                    out.household_controlled = sqlx::query("INSERT INTO control_order (street_id, target_kind, target_id, status, from_ms, until_ms, reason, set_by, created_ms, alert_id, notice_due) \
                                 SELECT $1, 'household', $2, 'temporary', $3, NULL, $4, $5, $3, $6, 1 \
                                 WHERE NOT EXISTS (SELECT 1 FROM control_order c WHERE c.street_id = $1 AND c.target_kind = 'household' AND c.target_id = $2 AND c.alert_id = $6 AND c.until_ms IS NULL)")
                        .bind(street).bind(h).bind(now_ms).bind(&reason).bind(by).bind(alert)
                        .execute(&mut *conn).await?.rows_affected() == 1;
                    out.household = out.household_controlled.then_some(h);
                }
                // A retest is open again: a cleared alert is not over (a
                // confirmed one stays confirmed).
                sqlx::query("UPDATE alert SET state = 'open' WHERE street_id = $1 AND id = $2 AND state = 'cleared'")
                    .bind(street).bind(alert).execute(&mut *conn).await?;
            }
        });
        if let (true, Some(alert_id)) = (out.opened, out.alert_id) {
            out.notifications = tx
                .queue_alert_messages(&AlertNews {
                    street,
                    alert_id,
                    kind: "late_member",
                    point,
                    barcode: &barcode,
                    members: 1,
                    households: usize::from(household.is_some()),
                    at_ms: now_ms,
                })
                .await?;
        }
        tx.commit().await?;
        Ok(out)
    }
}

/// What taking a swab back did (see [`Store::void_registration`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Voided {
    pub tube_id: i64,
    pub point_id: i64,
    /// Swabs in the tube and at the point after it.
    pub tube_fill: i64,
    pub point_count: i64,
    /// The tube had closed itself when full and is open again.
    pub reopened: bool,
    /// The resident's later sampling swab that is now their first.
    pub promoted: Option<i64>,
    /// The tube had been closed and this was its last live swab: withdrawn
    /// with the take-back (its barcode, free again; see
    /// [`Store::withdraw_empty_tube`]).
    pub withdrawn: Option<String>,
}

/// Where a swab is, or was before it was taken back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SwabPlace {
    pub point: i64,
    pub tube: i64,
    pub voided: bool,
}

impl Store {
    /// Takes back a registration made by mistake (a wrong code scanned, a
    /// person scanned and not swabbed) while its tube is still at the point
    /// (`open` or `closed`) and its round not closed: the row moves to
    /// `voided_swab` with who, when and why, leaves every count (the tube's
    /// fill and the point's count go down), and a tube that closed itself
    /// when full opens again for the right code (one closed by hand stays
    /// closed). When it was the resident's first sampling swab, their
    /// next one (by time) becomes the first. A pending walk-in no other swab
    /// names is removed. One transaction; on PostgreSQL the round is
    /// share-locked and the tube locked, so a seal or a close at the same
    /// moment is decided first (the tube `FOR NO KEY UPDATE`: the key stays,
    /// so a foreign-key check does not wait on it; a scan writer's batch
    /// that fills the same tube waits for the void's short transaction).
    /// When the tube was closed (by hand, or a station's 换管) and this was
    /// its last live swab, the tube is withdrawn in the same transaction, as
    /// a close of an emptied tube does: its row goes, its barcode is free
    /// again, nothing of it waits for a bag (on PostgreSQL the tube is then
    /// locked `FOR UPDATE` from the start, so the lock is never raised
    /// under a foreign-key check). A tube in a bag is past `closed`: its
    /// swabs are not taken back, it stays counted where it is.
    /// NotFound when there is no such registration (or it was taken back
    /// already); Conflict when the tube has left `closed` or the round is
    /// closed.
    pub async fn void_registration(
        &self,
        street: i64,
        id: i64,
        by: &str,
        reason: &str,
        now_ms: i64,
        audit: impl FnOnce(&Voided) -> Vec<crate::audit::AuditRecord>,
    ) -> Result<Voided> {
        let mut tx = self.begin().await?;
        let round: Option<i64> = crate::import::tx_run!(tx, conn, DB => sqlx::query_scalar(
            "SELECT round_id FROM registration WHERE street_id = $1 AND id = $2")
            .bind(street).bind(id).fetch_optional(&mut *conn).await?);
        let round =
            round.ok_or_else(|| StoreError::NotFound(format!("registration {street}-{id}")))?;
        tx.hold_unclosed_round(street, round).await?;
        // A closed tube with one swab left may be withdrawn: its key goes.
        let last_in_closed: bool = crate::import::tx_run!(tx, conn, DB => sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM registration g JOIN tube t ON t.street_id = g.street_id AND t.id = g.tube_id \
             WHERE g.street_id = $1 AND g.id = $2 AND t.state = 'closed' AND t.fill <= 1)")
            .bind(street).bind(id).fetch_one(&mut *conn).await?);
        let sql = format!(
            "SELECT g.tube_id, g.point_id, g.resident_id, g.purpose, g.duplicate_of, t.state, CAST(t.fill AS BIGINT), CAST(t.pool_size AS BIGINT) \
             FROM registration g JOIN tube t ON t.street_id = g.street_id AND t.id = g.tube_id \
             WHERE g.street_id = $1 AND g.id = $2{}",
            tx.row_lock(if last_in_closed {
                RowLock::Update
            } else {
                RowLock::NoKeyUpdate
            })
        );
        let row = crate::import::tx_run!(tx, conn, DB => {
            match sqlx::query(&sql).bind(street).bind(id).fetch_optional(&mut *conn).await? {
                Some(r) => Some((
                    r.try_get::<i64, _>(0)?,
                    r.try_get::<i64, _>(1)?,
                    r.try_get::<Option<i64>, _>(2)?,
                    r.try_get::<String, _>(3)?,
                    r.try_get::<Option<i64>, _>(4)?,
                    r.try_get::<String, _>(5)?,
                    r.try_get::<i64, _>(6)?,
                    r.try_get::<i64, _>(7)?,
                )),
                None => None,
            }
        });
        let (tube, point, resident, purpose, duplicate_of, state, fill, pool_size) =
            row.ok_or_else(|| StoreError::NotFound(format!("registration {street}-{id}")))?;
        // A tube that closed itself when full opens again for the right code;
        // one closed by hand before it was full stays closed.
        let reopen = state == "closed" && fill >= pool_size && fill - 1 < pool_size;
        if state != "open" && state != "closed" {
            let label = gw_domain::testing::TubeState::parse(&state)
                .map_or(state.as_str(), |s| s.label_zh());
            return Err(StoreError::Conflict(format!(
                "采样管{label}，其中的样本不能再撤销 / the tube is {}: its swabs can no longer be taken back",
                state.replace('_', " ")
            )));
        }
        let promoted = crate::import::tx_run!(tx, conn, DB => {
            sqlx::query("INSERT INTO voided_swab (street_id, id, client_id, round_id, point_id, tube_id, resident_id, raw_code, purpose, problem, scanned_ms, stored_ms, station, voided_ms, voided_by, reason) \
                         SELECT street_id, id, client_id, round_id, point_id, tube_id, resident_id, raw_code, purpose, problem, scanned_ms, stored_ms, station, $3, $4, $5 \
                         FROM registration WHERE street_id = $1 AND id = $2")
                .bind(street).bind(id).bind(now_ms).bind(by).bind(reason).execute(&mut *conn).await?;
            sqlx::query("DELETE FROM registration WHERE street_id = $1 AND id = $2")
                .bind(street).bind(id).execute(&mut *conn).await?;
            let mut promoted = None;
            if let (Some(rid), None, true) = (resident, duplicate_of, gw_domain::testing::is_sampling(&purpose)) {
                // The resident's next sampling swab becomes the first; the
                // others point at it.
                promoted = sqlx::query_scalar::<_, i64>(
                    "SELECT id FROM registration WHERE street_id = $1 AND round_id = $2 AND resident_id = $3 AND duplicate_of = $4 \
                     ORDER BY scanned_ms, id LIMIT 1")
                    .bind(street).bind(round).bind(rid).bind(id).fetch_optional(&mut *conn).await?;
                if let Some(first) = promoted {
                    sqlx::query("UPDATE registration SET duplicate_of = NULL WHERE street_id = $1 AND id = $2")
                        .bind(street).bind(first).execute(&mut *conn).await?;
                    sqlx::query("UPDATE registration SET duplicate_of = $5 WHERE street_id = $1 AND round_id = $2 AND resident_id = $3 AND duplicate_of = $4")
                        .bind(street).bind(round).bind(rid).bind(id).bind(first).execute(&mut *conn).await?;
                }
            }
            sqlx::query("UPDATE tube SET fill = fill - 1, state = CASE WHEN $3 THEN 'open' ELSE state END, closed_ms = CASE WHEN $3 THEN NULL ELSE closed_ms END WHERE street_id = $1 AND id = $2")
                .bind(street).bind(tube).bind(reopen).execute(&mut *conn).await?;
            sqlx::query("UPDATE testing_point SET swabs = swabs - 1 WHERE street_id = $1 AND id = $2")
                .bind(street).bind(point).execute(&mut *conn).await?;
            promoted
        });
        // A walk-in made for this swab and named by no other goes with it.
        if let Some(rid) = resident {
            tx.drop_unswabbed_pending(street, rid).await?;
        }
        // The last live swab of a closed tube: the tube is withdrawn with it.
        let withdrawn: Option<String> = if state == "closed" && !reopen && fill - 1 == 0 {
            crate::import::tx_run!(tx, conn, DB => sqlx::query_scalar(WITHDRAW_EMPTY_TUBE)
                .bind(street).bind(tube).fetch_optional(&mut *conn).await?)
        } else {
            None
        };
        let (tube_fill, point_count) = crate::import::tx_run!(tx, conn, DB => {
            let r = sqlx::query("SELECT COALESCE((SELECT CAST(fill AS BIGINT) FROM tube WHERE street_id = $1 AND id = $2), 0), CAST(p.swabs AS BIGINT) FROM testing_point p WHERE p.street_id = $1 AND p.id = $3")
                .bind(street).bind(tube).bind(point).fetch_one(&mut *conn).await?;
            (r.try_get::<i64, _>(0)?, r.try_get::<i64, _>(1)?)
        });
        let voided = Voided {
            tube_id: tube,
            point_id: point,
            tube_fill,
            point_count,
            reopened: reopen,
            promoted,
            withdrawn,
        };
        for record in audit(&voided) {
            tx.audit(&record.write()).await?;
        }
        tx.commit().await?;
        Ok(voided)
    }

    /// A swab's point and tube, whether it stands or was taken back: for
    /// the access check of taking it back. `None` when there is no such swab.
    pub async fn swab_point(&self, street: i64, id: i64) -> Result<Option<SwabPlace>> {
        Ok(db_run!(self, pool => {
            match sqlx::query("SELECT point_id, tube_id, 0 FROM registration WHERE street_id = $1 AND id = $2 UNION ALL SELECT point_id, tube_id, 1 FROM voided_swab WHERE street_id = $1 AND id = $2")
                .bind(street).bind(id).fetch_optional(pool).await? {
                Some(r) => Some(SwabPlace {
                    point: r.try_get(0)?,
                    tube: r.try_get(1)?,
                    voided: r.try_get::<i32, _>(2)? == 1,
                }),
                None => None,
            }
        }))
    }

    /// Records that a scan a station sent (or may have sent) and then took
    /// back, never stored here, is taken back: its client id joins
    /// `voided_swab` with no swab (a negative id, none of a registration),
    /// so the scan arriving later is refused. False when the client id was
    /// known already (stored or taken back: the caller handles those).
    pub async fn void_unstored_scan(
        &self,
        tube: &TubeRow,
        client_id: &str,
        by: &str,
        reason: &str,
        now_ms: i64,
        audit: &crate::audit::AuditRecord,
    ) -> Result<bool> {
        let mut tx = self.begin().await?;
        tx.hold_unclosed_round(tube.street_id, tube.round_id)
            .await?;
        if let crate::import::Tx::Postgres(t) = &mut tx.0 {
            // Take-backs in a street one at a time (each takes the next
            // negative id), and this client id's scan, if the writer is
            // storing it now, decided first (migration 0028).
            sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('voided_swab/' || CAST($1 AS TEXT), 28)), pg_advisory_xact_lock(gw_client_key($1, $2))")
                .bind(tube.street_id)
                .bind(client_id)
                .execute(&mut **t)
                .await?;
        }
        let n = crate::import::tx_run!(tx, conn, DB => {
            sqlx::query("INSERT INTO voided_swab (street_id, id, client_id, round_id, point_id, tube_id, resident_id, raw_code, purpose, problem, scanned_ms, stored_ms, station, voided_ms, voided_by, reason) \
                         SELECT $1, COALESCE((SELECT MIN(v.id) FROM voided_swab v WHERE v.street_id = $1 AND v.id < 0), 0) - 1, $2, $3, $4, $5, NULL, '', '', '', $6, $6, '', $6, $7, $8 \
                         WHERE NOT EXISTS (SELECT 1 FROM registration WHERE street_id = $1 AND client_id = $2) \
                           AND NOT EXISTS (SELECT 1 FROM voided_swab WHERE street_id = $1 AND client_id = $2)")
                .bind(tube.street_id).bind(client_id).bind(tube.round_id).bind(tube.point_id).bind(tube.id)
                .bind(now_ms).bind(by).bind(reason).execute(&mut *conn).await?.rows_affected()
        });
        if n == 1 {
            tx.audit(&audit.write()).await?;
        }
        tx.commit().await?;
        Ok(n == 1)
    }

    /// The swab taken back under this client id (its registration's id;
    /// negative for a scan that never was stored).
    pub async fn voided_by_client(&self, street: i64, client_id: &str) -> Result<Option<i64>> {
        Ok(
            db_run!(self, pool => sqlx::query_scalar("SELECT id FROM voided_swab WHERE street_id = $1 AND client_id = $2")
            .bind(street).bind(client_id).fetch_optional(pool).await?),
        )
    }
}

/// The tables whose rows at a point keep it, with what they are.
const POINT_USES: [(&str, &str); 7] = [
    ("tube", "采样管 tubes"),
    ("registration", "样本 swabs"),
    ("station", "采样台 stations"),
    ("supply_issue", "物资 supply issues"),
    ("alert", "预警 alerts"),
    ("sample_bag", "袋 bags"),
    ("handoff", "交接 hand-overs"),
];

/// One row: how many of each [`POINT_USES`] the point (`$1`, `$2`) has.
fn point_uses_sql() -> String {
    let counts = POINT_USES
        .iter()
        .map(|(t, _)| format!("(SELECT COUNT(*) FROM {t} WHERE street_id = $1 AND point_id = $2)"))
        .collect::<Vec<_>>()
        .join(", ");
    format!("SELECT {counts}")
}

fn point_uses_named(found: &[i64]) -> Vec<String> {
    POINT_USES
        .iter()
        .zip(found)
        .filter(|(_, n)| **n > 0)
        .map(|((_, what), n)| format!("{n} {what}"))
        .collect()
}
