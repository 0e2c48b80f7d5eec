//! The testing-point schedule: what the planner needs (points with hours,
//! rates and positions; the round's households with their head counts;
//! control orders in force; scans per point), and the stored plan of a round.

use sqlx::{QueryBuilder, Row};

use crate::import::{tx_run, RowLock, StoreTx};
use crate::{db_run, Result, Store, StoreError};

/// The audit action of a stored plan (its detail starts `revision=N`).
pub const PLAN_ACTION: &str = "plan_schedule";

/// A testing point as the planner sees it.
#[derive(Debug, Clone)]
pub struct SchedPointRow {
    pub id: i64,
    pub name: String,
    pub community_id: i64,
    pub compound_id: Option<i64>,
    pub x_m: Option<i32>,
    pub y_m: Option<i32>,
    pub stations: i32,
    pub rate_per_station_h: i32,
    pub opens_ms: Option<i64>,
    pub closes_ms: Option<i64>,
}

/// What can be set on a point beyond its name, community and stations.
#[derive(Debug, Clone, Default)]
pub struct PointDetails {
    pub compound_id: Option<i64>,
    /// Clear the compound (the point stands outside any).
    pub outside: bool,
    pub pos: Option<(i32, i32)>,
    pub opens_ms: Option<i64>,
    pub closes_ms: Option<i64>,
    pub rate_per_station_h: Option<i32>,
    pub stations: Option<i32>,
    /// A new name (checked by the caller: not blank, no namesake in the
    /// point's community and round; the unique index refuses a race).
    pub name: Option<String>,
}

/// One household of the round with the people expected to come down.
#[derive(Debug, Clone)]
pub struct SchedHouseholdRow {
    pub building_id: i64,
    /// The building named with its compound ("嘉惠小区 1号楼"): call-downs
    /// reach residents of several compounds, whose buildings share names.
    pub building: String,
    pub compound_id: i64,
    pub community_id: i64,
    pub x_m: Option<i32>,
    pub y_m: Option<i32>,
    pub unit_id: i64,
    pub unit: String,
    pub household_id: i64,
    pub room: String,
    /// Expected residents not flagged as unable to go downstairs.
    pub people: i64,
}

/// A control order in force: `(target kind, target id, status, from_ms, until_ms)`.
pub type ControlInForce = (String, i64, String, i64, Option<i64>);

/// Scans at one point: in the recent window, and since the plan began.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PointScans {
    pub point_id: i64,
    pub recent: i64,
    pub first_recent_ms: Option<i64>,
    pub since_anchor: i64,
}

/// One station's scans at a point in a window: `(point, station, scans,
/// first, last)`.
pub type StationScanRow = (i64, String, i64, i64, i64);

#[derive(Debug, Clone)]
pub struct SchedulePlanRow {
    pub anchor_ms: i64,
    pub slot_ms: i64,
    pub until_ms: i64,
    pub max_queue: i32,
    pub revision: i32,
    pub planned_by: String,
    pub planned_ms: i64,
}

/// What a re-plan keeps of the plan before: its calls starting before
/// `before_ms`, and the slots it knew were pushed (`pushed`, their start).
#[derive(Debug, Clone, Copy)]
pub struct Kept<'a> {
    pub before_ms: i64,
    pub pushed: &'a [i64],
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRow {
    pub point_id: i64,
    pub starts_ms: i64,
    pub ends_ms: i64,
    pub building_id: i64,
    pub unit_id: i64,
    pub people: i32,
}

impl Store {
    /// Sets a point's compound, position, hours, configured rate, stations
    /// and name (the fields given; the others are left as they are).
    pub async fn set_point_details(
        &self,
        street: i64,
        round: i64,
        point: i64,
        d: &PointDetails,
        audit: &crate::audit::AuditRecord,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        // A closed round's points are its record.
        tx.hold_unclosed_round(street, round).await?;
        tx.set_point_details(street, point, d).await?;
        tx.audit(&audit.write()).await?;
        tx.commit().await
    }

    /// The round's points, in id order.
    pub async fn schedule_points(&self, street: i64, round: i64) -> Result<Vec<SchedPointRow>> {
        Ok(db_run!(self, pool => {
            let rows = sqlx::query("SELECT id, name, community_id, compound_id, x_m, y_m, stations, rate_per_station_h, opens_ms, closes_ms FROM testing_point \
                                    WHERE street_id = $1 AND round_id = $2 ORDER BY id")
                .bind(street).bind(round).fetch_all(pool).await?;
            rows.iter().map(|r| Ok(SchedPointRow {
                id: r.try_get(0)?, name: r.try_get(1)?, community_id: r.try_get(2)?, compound_id: r.try_get(3)?,
                x_m: r.try_get(4)?, y_m: r.try_get(5)?, stations: r.try_get(6)?, rate_per_station_h: r.try_get(7)?,
                opens_ms: r.try_get(8)?, closes_ms: r.try_get(9)?,
            })).collect::<std::result::Result<Vec<_>, sqlx::Error>>()?
        }))
    }

    /// The round's households with the people to call down: the street's
    /// active residents of the round's communities as they live now, before
    /// the opening and after it (a resident registered or moved in since the
    /// opening is called too, one who moved away is not). Residents with
    /// `homebound_bit` set are left out (they are on the door-to-door
    /// lists), and so are the round's exempt residents. Ordered by compound,
    /// building, unit, room.
    pub async fn schedule_households(
        &self,
        street: i64,
        round: i64,
        homebound_bit: i64,
    ) -> Result<Vec<SchedHouseholdRow>> {
        let q = format!(
            "SELECT b.id, c.name || ' ' || b.name, b.compound_id, b.x_m, b.y_m, u.id, u.name, h.id, h.room, c.community_id, \
             SUM(CASE WHEN (r.flags & $3) = 0 AND NOT EXISTS (SELECT 1 FROM round_exemption x WHERE x.street_id = r.street_id AND x.round_id = $2 AND x.resident_id = r.id) \
                 THEN 1 ELSE 0 END) FROM resident r \
             JOIN household h ON h.street_id = r.street_id AND h.id = r.household_id \
             JOIN unit u ON u.street_id = h.street_id AND u.id = h.unit_id \
             JOIN building b ON b.street_id = u.street_id AND b.id = u.building_id \
             JOIN compound c ON c.street_id = b.street_id AND c.id = b.compound_id \
             WHERE r.street_id = $1 AND r.status = 'active' AND {} \
             GROUP BY b.id, c.name, c.community_id, b.name, b.compound_id, b.x_m, b.y_m, u.id, u.name, h.id, h.room \
             ORDER BY b.compound_id, b.id, u.id, h.id",
            crate::coverage::ROUND_COVERS_BUILDING
        );
        Ok(db_run!(self, pool => {
            let rows = sqlx::query(&q).bind(street).bind(round).bind(homebound_bit).fetch_all(pool).await?;
            rows.iter().map(|r| Ok(SchedHouseholdRow {
                building_id: r.try_get(0)?, building: r.try_get(1)?, compound_id: r.try_get(2)?, x_m: r.try_get(3)?, y_m: r.try_get(4)?,
                unit_id: r.try_get(5)?, unit: r.try_get(6)?, household_id: r.try_get(7)?, room: r.try_get(8)?, community_id: r.try_get(9)?, people: r.try_get(10)?,
            })).collect::<std::result::Result<Vec<_>, sqlx::Error>>()?
        }))
    }

    /// The households of a compound, building, unit or household (`kind`
    /// as control orders name it) in a street.
    pub async fn households_under(&self, street: i64, kind: &str, id: i64) -> Result<Vec<i64>> {
        let sql = match kind {
            "household" => "SELECT h.id FROM household h WHERE h.street_id = $1 AND h.id = $2",
            "unit" => "SELECT h.id FROM household h WHERE h.street_id = $1 AND h.unit_id = $2",
            "building" => "SELECT h.id FROM household h JOIN unit u ON u.street_id = h.street_id AND u.id = h.unit_id \
                           WHERE h.street_id = $1 AND u.building_id = $2",
            "compound" => "SELECT h.id FROM household h JOIN unit u ON u.street_id = h.street_id AND u.id = h.unit_id \
                           JOIN building b ON b.street_id = u.street_id AND b.id = u.building_id \
                           WHERE h.street_id = $1 AND b.compound_id = $2",
            _ => return Ok(Vec::new()),
        };
        Ok(
            db_run!(self, pool => sqlx::query_scalar(sql).bind(street).bind(id).fetch_all(pool).await?),
        )
    }

    /// Control orders in force at `at_ms` in a street.
    pub async fn controls_in_force(&self, street: i64, at_ms: i64) -> Result<Vec<ControlInForce>> {
        self.controls_in_force_where(street, at_ms, "").await
    }

    /// [`Self::controls_in_force`] but for the orders whose stay-home notice
    /// is still owed (`notice_due`): what held people at home and was told.
    pub async fn controls_in_force_told(
        &self,
        street: i64,
        at_ms: i64,
    ) -> Result<Vec<ControlInForce>> {
        self.controls_in_force_where(street, at_ms, " AND notice_due = 0")
            .await
    }

    async fn controls_in_force_where(
        &self,
        street: i64,
        at_ms: i64,
        and: &str,
    ) -> Result<Vec<ControlInForce>> {
        let sql = format!(
            "SELECT target_kind, target_id, status, from_ms, until_ms FROM control_order \
             WHERE street_id = $1 AND from_ms <= $2 AND (until_ms IS NULL OR until_ms > $2){and} ORDER BY id"
        );
        Ok(db_run!(self, pool => {
            let rows = sqlx::query(&sql)
                .bind(street).bind(at_ms).fetch_all(pool).await?;
            rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?, r.try_get(4)?)))
                .collect::<std::result::Result<Vec<_>, sqlx::Error>>()?
        }))
    }

    /// Scans per point of a round: in `[recent_from, now]` (count, first
    /// scan) and since `anchor`. Swabs taken at the door
    /// are not the point's throughput and are left out.
    pub async fn point_scans(
        &self,
        street: i64,
        round: i64,
        anchor_ms: i64,
        recent_from_ms: i64,
        now_ms: i64,
    ) -> Result<Vec<PointScans>> {
        Ok(db_run!(self, pool => {
            let rows = sqlx::query(
                "SELECT point_id, SUM(CASE WHEN scanned_ms >= $4 THEN 1 ELSE 0 END), MIN(CASE WHEN scanned_ms >= $4 THEN scanned_ms END), \
                 SUM(CASE WHEN scanned_ms >= $3 THEN 1 ELSE 0 END) \
                 FROM registration WHERE street_id = $1 AND round_id = $2 AND scanned_ms <= $5 AND purpose <> 'door_to_door' GROUP BY point_id ORDER BY point_id")
                .bind(street).bind(round).bind(anchor_ms).bind(recent_from_ms).bind(now_ms).fetch_all(pool).await?;
            rows.iter().map(|r| Ok(PointScans {
                point_id: r.try_get(0)?, recent: r.try_get::<Option<i64>, _>(1)?.unwrap_or(0), first_recent_ms: r.try_get(2)?,
                since_anchor: r.try_get::<Option<i64>, _>(3)?.unwrap_or(0),
            })).collect::<std::result::Result<Vec<_>, sqlx::Error>>()?
        }))
    }

    /// Each named station's scans at each point of a round in `[from, now]`
    /// (count, first, last): a station's pace is measured over its own
    /// active span. Door-to-door swabs are left out, as in `point_scans`.
    pub async fn station_scans(
        &self,
        street: i64,
        round: i64,
        from_ms: i64,
        now_ms: i64,
    ) -> Result<Vec<StationScanRow>> {
        Ok(db_run!(self, pool => {
            let rows = sqlx::query(
                "SELECT point_id, station, COUNT(*), MIN(scanned_ms), MAX(scanned_ms) FROM registration \
                 WHERE street_id = $1 AND round_id = $2 AND scanned_ms >= $3 AND scanned_ms <= $4 AND purpose <> 'door_to_door' AND station <> '' \
                 GROUP BY point_id, station ORDER BY point_id, station")
                .bind(street).bind(round).bind(from_ms).bind(now_ms).fetch_all(pool).await?;
            rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?, r.try_get(4)?)))
                .collect::<std::result::Result<Vec<_>, sqlx::Error>>()?
        }))
    }

    pub async fn schedule_plan(&self, street: i64, round: i64) -> Result<Option<SchedulePlanRow>> {
        Ok(db_run!(self, pool => {
            match sqlx::query("SELECT anchor_ms, slot_ms, until_ms, max_queue, revision, planned_by, planned_ms FROM schedule_plan WHERE street_id = $1 AND round_id = $2")
                .bind(street).bind(round).fetch_optional(pool).await? {
                Some(r) => Some(SchedulePlanRow { anchor_ms: r.try_get(0)?, slot_ms: r.try_get(1)?, until_ms: r.try_get(2)?, max_queue: r.try_get(3)?,
                    revision: r.try_get(4)?, planned_by: r.try_get(5)?, planned_ms: r.try_get(6)? }),
                None => None,
            }
        }))
    }

    pub async fn schedule_calls(&self, street: i64, round: i64) -> Result<Vec<CallRow>> {
        Ok(db_run!(self, pool => {
            let rows = sqlx::query("SELECT point_id, starts_ms, ends_ms, building_id, unit_id, people FROM schedule_call \
                                    WHERE street_id = $1 AND round_id = $2 ORDER BY point_id, starts_ms, id")
                .bind(street).bind(round).fetch_all(pool).await?;
            rows.iter().map(|r| Ok(CallRow { point_id: r.try_get(0)?, starts_ms: r.try_get(1)?, ends_ms: r.try_get(2)?,
                building_id: r.try_get(3)?, unit_id: r.try_get(4)?, people: r.try_get(5)? }))
                .collect::<std::result::Result<Vec<_>, sqlx::Error>>()?
        }))
    }

    /// Stores a plan in one transaction: the header (revision + 1), the calls
    /// of slots starting before `keep_before_ms` kept, every later call
    /// replaced by `calls`. Returns the new revision.
    pub async fn save_schedule(
        &self,
        street: i64,
        round: i64,
        header: &SchedulePlanRow,
        kept: Kept<'_>,
        calls: &[CallRow],
        audit_detail: &str,
    ) -> Result<i32> {
        let Kept {
            before_ms: keep_before_ms,
            pushed,
        } = kept;
        let mut tx = self.begin().await?;
        // A push and a re-plan lock the round first, so one is decided after
        // the other: a slot pushed while this plan was made (not among
        // `pushed`, which the plan kept) must not be planned over.
        let lock = tx.row_lock(RowLock::NoKeyUpdate);
        let target = format!("{street}-{round}");
        let details: Vec<String> = tx_run!(tx, conn, DB => {
            sqlx::query(&format!("SELECT id FROM testing_round WHERE street_id = $1 AND id = $2{lock}"))
                .bind(street).bind(round).fetch_optional(&mut *conn).await?;
            sqlx::query_scalar(crate::alerts::PUSHED_SQL)
                .bind(street).bind(crate::alerts::PUSH_ACTION).bind(&target).fetch_all(&mut *conn).await?
        });
        let now_pushed = crate::alerts::pushed_slots_of(details);
        if now_pushed
            .iter()
            .any(|t| *t >= keep_before_ms && !pushed.contains(t))
        {
            tx.rollback().await?;
            return Err(StoreError::Conflict(
                "排班期间有时段的叫号刚被推送，请重新排班 / a slot's call-down was pushed while the plan was made: plan again".into(),
            ));
        }
        let revision: i32 = tx_run!(tx, conn, DB => {
            let rev: i32 = sqlx::query_scalar(
                "INSERT INTO schedule_plan (street_id, round_id, anchor_ms, slot_ms, until_ms, max_queue, revision, planned_by, planned_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $8) \
                 ON CONFLICT (street_id, round_id) DO UPDATE SET anchor_ms = excluded.anchor_ms, slot_ms = excluded.slot_ms, until_ms = excluded.until_ms, \
                 max_queue = excluded.max_queue, revision = schedule_plan.revision + 1, planned_by = excluded.planned_by, planned_ms = excluded.planned_ms \
                 RETURNING revision")
                .bind(street).bind(round).bind(header.anchor_ms).bind(header.slot_ms).bind(header.until_ms).bind(header.max_queue)
                .bind(&header.planned_by).bind(header.planned_ms).fetch_one(&mut *conn).await?;
            sqlx::query("DELETE FROM schedule_call WHERE street_id = $1 AND round_id = $2 AND starts_ms >= $3")
                .bind(street).bind(round).bind(keep_before_ms).execute(&mut *conn).await?;
            for chunk in calls.chunks(crate::import::BATCH) {
                let mut qb = QueryBuilder::<DB>::new("INSERT INTO schedule_call (street_id, round_id, point_id, starts_ms, ends_ms, building_id, unit_id, people, revision) ");
                qb.push_values(chunk, |mut v, c| {
                    v.push_bind(street).push_bind(round).push_bind(c.point_id).push_bind(c.starts_ms).push_bind(c.ends_ms)
                        .push_bind(c.building_id).push_bind(c.unit_id).push_bind(c.people).push_bind(rev);
                });
                qb.build().execute(&mut *conn).await?;
            }
            rev
        });
        // Recorded in the plan's own transaction: a plan stored is a plan
        // whose making is in the audit log.
        tx.audit(&crate::audit::AuditWrite {
            street_id: street,
            at_ms: header.planned_ms,
            actor: &header.planned_by,
            action: PLAN_ACTION,
            target_kind: "round",
            target_id: &target,
            detail: &format!("revision={revision} {audit_detail}"),
            address: "",
        })
        .await?;
        tx.commit().await?;
        Ok(revision)
    }
}

impl StoreTx {
    /// Sets building positions `(id, x_m, y_m)` (the demo's street plan).
    pub async fn set_building_positions(
        &mut self,
        street: i64,
        rows: &[(i64, i32, i32)],
    ) -> Result<()> {
        tx_run!(self, conn, DB => {
            for (id, x, y) in rows {
                sqlx::query("UPDATE building SET x_m = $3, y_m = $4 WHERE street_id = $1 AND id = $2")
                    .bind(street).bind(*id).bind(*x).bind(*y).execute(&mut *conn).await?;
            }
        });
        Ok(())
    }
}

impl crate::import::StoreTx {
    /// Sets a point's schedule fields that `d` gives (the others stay).
    pub async fn set_point_details(
        &mut self,
        street: i64,
        point: i64,
        d: &PointDetails,
    ) -> Result<()> {
        let (x, y) = match d.pos {
            Some((x, y)) => (Some(x), Some(y)),
            None => (None, None),
        };
        crate::import::tx_run!(self, conn, DB => {
            sqlx::query("UPDATE testing_point SET compound_id = CASE WHEN $10 THEN NULL ELSE COALESCE($3, compound_id) END, x_m = COALESCE($4, x_m), y_m = COALESCE($5, y_m), \
                         opens_ms = COALESCE($6, opens_ms), closes_ms = COALESCE($7, closes_ms), rate_per_station_h = COALESCE($8, rate_per_station_h), \
                         stations = COALESCE($9, stations), name = COALESCE($11, name) \
                         WHERE street_id = $1 AND id = $2")
                .bind(street).bind(point).bind(d.compound_id).bind(x).bind(y).bind(d.opens_ms).bind(d.closes_ms).bind(d.rate_per_station_h).bind(d.stations).bind(d.outside).bind(d.name.as_deref())
                .execute(&mut *conn).await?;
        });
        Ok(())
    }
}
