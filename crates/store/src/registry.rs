//! Territory and residents: lookups, lists, search and the snapshot a roster
//! import is planned against.

use gw_domain::date::Date;
use gw_domain::idnumber::{DocKind, Document};
use gw_domain::phone::{Phone, PhoneRelation};
use gw_domain::resident::{Flags, Gender, NewResident, ResidenceType, ResidentPhone};
use gw_domain::roster::Address;
use sqlx::{QueryBuilder, Row};
use std::collections::HashMap;

use crate::{db_run, push_ids, Result, Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreetRow {
    pub id: i64,
    pub district_id: i64,
    pub name: String,
    pub code: Option<String>,
    pub district: String,
    pub city: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommunityRow {
    pub street_id: i64,
    pub id: i64,
    pub name: String,
    pub code: Option<String>,
    pub street_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GridRow {
    pub street_id: i64,
    pub id: i64,
    pub community_id: i64,
    pub name: String,
    pub code: Option<String>,
    pub unassigned: bool,
    pub community_name: String,
}

/// Counts under one grid.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GridCounts {
    pub street_id: i64,
    pub grid_id: i64,
    pub buildings: i64,
    pub households: i64,
    pub residents: i64,
}

/// A resident with where they live, as lists and pages show them.
#[derive(Debug, Clone, PartialEq)]
pub struct ResidentRow {
    pub street_id: i64,
    pub id: i64,
    pub uid: String,
    pub status: String,
    pub resident: NewResident,
    pub household_id: Option<i64>,
    pub room: Option<String>,
    pub unit: Option<String>,
    pub building_id: Option<i64>,
    pub building: Option<String>,
    pub compound: Option<String>,
    pub grid_id: Option<i64>,
    pub grid: Option<String>,
    pub community_id: Option<i64>,
    pub community: Option<String>,
    /// Why a resident whose status is `left` left (`deceased`, `moved_out`),
    /// and the day (YYYY-MM-DD).
    pub left_reason: Option<String>,
    pub left_on: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct ResidentFilter {
    pub street: Option<i64>,
    pub community: Option<i64>,
    pub grid: Option<i64>,
    pub building: Option<i64>,
    pub household: Option<i64>,
    /// Residents carrying any of these flags.
    pub flags_any: u32,
    pub status: Option<String>,
    /// Exact name.
    pub name: Option<String>,
    /// Last digits of any phone.
    pub phone_tail: Option<String>,
    /// Last characters of the document number.
    pub doc_tail: Option<String>,
    pub limit: i64,
    pub offset: i64,
    /// The territory the caller may see (`None`: unrestricted, CLI only).
    pub scope: Option<Vec<gw_domain::access::Node>>,
}

/// Existing structure of one community, for planning an import.
#[derive(Debug, Clone, Default)]
pub struct CommunitySnapshot {
    pub compounds: HashMap<String, i64>,
    /// `(compound_id, building name)` → (building id, grid id)
    pub buildings: HashMap<(i64, String), (i64, i64)>,
    pub units: HashMap<(i64, String), i64>,
    pub households: HashMap<(i64, String), i64>,
    pub residents: Vec<(i64, Address, NewResident)>,
}

/// Where a document number is registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentOwner {
    pub kind: DocKind,
    pub number: String,
    pub street_id: i64,
    pub resident_id: i64,
    pub community_id: Option<i64>,
    pub place: String,
    /// A walk-in sampled at a point, on no roster yet (`resident match`).
    pub pending: bool,
}

const RESIDENT_SELECT: &str = "SELECT r.street_id, r.id, r.uid, r.status, r.name, r.gender, r.doc_kind, r.doc_number, r.birth_date, r.residence, r.flags, r.notes, \
     h.id, h.room, u.name, b.id, b.name, c.name, g.id, g.name, cm.id, cm.name, r.left_reason, r.left_on \
     FROM resident r \
     LEFT JOIN household h ON h.street_id = r.street_id AND h.id = r.household_id \
     LEFT JOIN unit u ON u.street_id = h.street_id AND u.id = h.unit_id \
     LEFT JOIN building b ON b.street_id = u.street_id AND b.id = u.building_id \
     LEFT JOIN compound c ON c.street_id = b.street_id AND c.id = b.compound_id \
     LEFT JOIN grid g ON g.street_id = b.street_id AND g.id = b.grid_id \
     LEFT JOIN community cm ON cm.street_id = g.street_id AND cm.id = g.community_id ";

/// The eight resident columns, in `SELECT` order: name, gender, doc_kind,
/// doc_number, birth_date, residence, flags, notes.
struct RawResident {
    name: String,
    gender: String,
    kind: Option<String>,
    number: Option<String>,
    birth: Option<String>,
    residence: String,
    flags: i64,
    notes: String,
}

impl RawResident {
    fn into_resident(self) -> NewResident {
        NewResident {
            name: self.name,
            gender: Gender::from_code(&self.gender),
            document: match (
                self.kind.as_deref().and_then(DocKind::from_code),
                self.number,
            ) {
                (Some(kind), Some(number)) => Some(Document { kind, number }),
                _ => None,
            },
            birth_date: self.birth.and_then(|b| Date::parse(&b).ok()),
            phones: Vec::new(),
            residence: ResidenceType::from_code(&self.residence),
            flags: Flags(u32::try_from(self.flags).unwrap_or(0)),
            notes: self.notes,
        }
    }
}

/// Reads the eight resident columns starting at column `$i`.
macro_rules! resident_at {
    ($r:expr, $i:expr) => {
        RawResident {
            name: $r.try_get($i)?,
            gender: $r.try_get($i + 1)?,
            kind: $r.try_get($i + 2)?,
            number: $r.try_get($i + 3)?,
            birth: $r.try_get($i + 4)?,
            residence: $r.try_get($i + 5)?,
            flags: $r.try_get($i + 6)?,
            notes: $r.try_get($i + 7)?,
        }
        .into_resident()
    };
}

macro_rules! resident_row {
    ($r:expr) => {{
        let r = $r;
        ResidentRow {
            street_id: r.try_get(0)?,
            id: r.try_get(1)?,
            uid: r.try_get(2)?,
            status: r.try_get(3)?,
            resident: resident_at!(r, 4),
            household_id: r.try_get(12)?,
            room: r.try_get(13)?,
            unit: r.try_get(14)?,
            building_id: r.try_get(15)?,
            building: r.try_get(16)?,
            compound: r.try_get(17)?,
            grid_id: r.try_get(18)?,
            grid: r.try_get(19)?,
            community_id: r.try_get(20)?,
            community: r.try_get(21)?,
            left_reason: r.try_get(22)?,
            left_on: r.try_get(23)?,
        }
    }};
}

impl Store {
    // ----- territory -------------------------------------------------------

    pub async fn ensure_city(&self, name: &str, code: Option<&str>) -> Result<i64> {
        let id: Option<i64> = db_run!(self, pool => sqlx::query_scalar("SELECT id FROM city WHERE name = $1").bind(name).fetch_optional(pool).await?);
        if let Some(id) = id {
            return Ok(id);
        }
        // Made by another at the same moment (two first imports): theirs.
        let made: Option<i64> = db_run!(self, pool => sqlx::query_scalar("INSERT INTO city (name, code) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING id").bind(name).bind(code).fetch_optional(pool).await?);
        match made {
            Some(id) => Ok(id),
            None => db_run!(self, pool => sqlx::query_scalar("SELECT id FROM city WHERE name = $1").bind(name).fetch_optional(pool).await?)
                .ok_or_else(|| StoreError::Conflict(format!("city {name}"))),
        }
    }

    pub async fn ensure_district(&self, city: i64, name: &str, code: Option<&str>) -> Result<i64> {
        let id: Option<i64> = db_run!(self, pool => sqlx::query_scalar("SELECT id FROM district WHERE city_id = $1 AND name = $2").bind(city).bind(name).fetch_optional(pool).await?);
        if let Some(id) = id {
            return Ok(id);
        }
        // Made by another at the same moment (two first imports): theirs.
        let made: Option<i64> = db_run!(self, pool => sqlx::query_scalar("INSERT INTO district (city_id, name, code) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING id").bind(city).bind(name).bind(code).fetch_optional(pool).await?);
        match made {
            Some(id) => Ok(id),
            None => db_run!(self, pool => sqlx::query_scalar("SELECT id FROM district WHERE city_id = $1 AND name = $2").bind(city).bind(name).fetch_optional(pool).await?)
                .ok_or_else(|| StoreError::Conflict(format!("district {name}"))),
        }
    }

    pub async fn ensure_street(
        &self,
        district: i64,
        name: &str,
        code: Option<&str>,
    ) -> Result<i64> {
        let id: Option<i64> = db_run!(self, pool => sqlx::query_scalar("SELECT id FROM street WHERE district_id = $1 AND name = $2").bind(district).bind(name).fetch_optional(pool).await?);
        if let Some(id) = id {
            return Ok(id);
        }
        // Made by another at the same moment (two first imports): theirs.
        let made: Option<i64> = db_run!(self, pool => sqlx::query_scalar("INSERT INTO street (district_id, name, code) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING id").bind(district).bind(name).bind(code).fetch_optional(pool).await?);
        match made {
            Some(id) => Ok(id),
            None => db_run!(self, pool => sqlx::query_scalar("SELECT id FROM street WHERE district_id = $1 AND name = $2").bind(district).bind(name).fetch_optional(pool).await?)
                .ok_or_else(|| StoreError::Conflict(format!("street {name}"))),
        }
    }

    pub async fn ensure_community(
        &self,
        street: i64,
        name: &str,
        code: Option<&str>,
    ) -> Result<i64> {
        let id: Option<i64> = db_run!(self, pool => sqlx::query_scalar("SELECT id FROM community WHERE street_id = $1 AND name = $2").bind(street).bind(name).fetch_optional(pool).await?);
        if let Some(id) = id {
            return Ok(id);
        }
        // Made by another at the same moment (two first imports): theirs.
        let made: Option<i64> = db_run!(self, pool => sqlx::query_scalar("INSERT INTO community (street_id, name, code) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING id").bind(street).bind(name).bind(code).fetch_optional(pool).await?);
        match made {
            Some(id) => Ok(id),
            None => db_run!(self, pool => sqlx::query_scalar("SELECT id FROM community WHERE street_id = $1 AND name = $2").bind(street).bind(name).fetch_optional(pool).await?)
                .ok_or_else(|| StoreError::Conflict(format!("community {name}"))),
        }
    }

    pub async fn ensure_grid(
        &self,
        street: i64,
        community: i64,
        name: &str,
        code: Option<&str>,
        unassigned: bool,
    ) -> Result<i64> {
        let select = "SELECT id FROM grid WHERE street_id = $1 AND community_id = $2 AND name = $3";
        let id: Option<i64> = db_run!(self, pool => sqlx::query_scalar(select).bind(street).bind(community).bind(name).fetch_optional(pool).await?);
        if let Some(id) = id {
            return Ok(id);
        }
        // Made by another at the same moment (two first imports into one
        // community both making its 未分配网格): theirs.
        let made: Option<i64> = db_run!(self, pool => sqlx::query_scalar("INSERT INTO grid (street_id, community_id, name, code, unassigned) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING id")
            .bind(street).bind(community).bind(name).bind(code).bind(unassigned).fetch_optional(pool).await?);
        match made {
            Some(id) => Ok(id),
            None => db_run!(self, pool => sqlx::query_scalar(select).bind(street).bind(community).bind(name).fetch_optional(pool).await?)
                .ok_or_else(|| StoreError::Conflict(format!("grid {name}"))),
        }
    }

    pub async fn streets(&self) -> Result<Vec<StreetRow>> {
        Ok(db_run!(self, pool => {
            let rows = sqlx::query("SELECT s.id, s.name, s.code, d.name, c.name, s.district_id FROM street s JOIN district d ON d.id = s.district_id JOIN city c ON c.id = d.city_id ORDER BY s.id")
                .fetch_all(pool).await?;
            rows.iter().map(|r| Ok(StreetRow { id: r.try_get(0)?, name: r.try_get(1)?, code: r.try_get(2)?, district: r.try_get(3)?, city: r.try_get(4)?, district_id: r.try_get(5)? }))
                .collect::<std::result::Result<Vec<_>, sqlx::Error>>()?
        }))
    }

    /// Streets whose name or official code is `key`.
    pub async fn find_streets(&self, key: &str) -> Result<Vec<StreetRow>> {
        let all = self.streets().await?;
        let named: Vec<StreetRow> = all
            .iter()
            .filter(|s| s.name == key || s.code.as_deref() == Some(key))
            .cloned()
            .collect();
        if !named.is_empty() {
            return Ok(named);
        }
        // Else its id, as `territory` and every listing show it.
        Ok(all
            .into_iter()
            .filter(|s| s.id.to_string() == key.trim())
            .collect())
    }

    /// Communities (optionally of one street) whose name, code or id
    /// (`STREET-ID`) is `key`; `None` lists them all.
    pub async fn communities(
        &self,
        key: Option<&str>,
        street: Option<i64>,
    ) -> Result<Vec<CommunityRow>> {
        // Its id too (`STREET-ID`), as `territory` and every page show it.
        let by_id = key.and_then(|k| k.parse::<gw_domain::ids::Key>().ok());
        Ok(db_run!(self, pool => {
            let rows = sqlx::query(
                "SELECT c.street_id, c.id, c.name, c.code, s.name FROM community c JOIN street s ON s.id = c.street_id \
                 WHERE ($1 IS NULL OR c.name = $1 OR c.code = $1 OR (c.street_id = $3 AND c.id = $4)) AND ($2 IS NULL OR c.street_id = $2) ORDER BY c.street_id, c.id")
                .bind(key).bind(street).bind(by_id.map(|k| k.street)).bind(by_id.map(|k| k.id)).fetch_all(pool).await?;
            rows.iter().map(|r| Ok(CommunityRow { street_id: r.try_get(0)?, id: r.try_get(1)?, name: r.try_get(2)?, code: r.try_get(3)?, street_name: r.try_get(4)? }))
                .collect::<std::result::Result<Vec<_>, sqlx::Error>>()?
        }))
    }

    /// The compounds of a street as `(community id, compound id, name)`, by community.
    pub async fn street_compounds(&self, street: i64) -> Result<Vec<(i64, i64, String)>> {
        Ok(db_run!(self, pool => {
            let rows = sqlx::query(
                "SELECT community_id, id, name FROM compound WHERE street_id = $1 ORDER BY community_id, id")
                .bind(street).fetch_all(pool).await?;
            rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
                .collect::<std::result::Result<Vec<_>, sqlx::Error>>()?
        }))
    }

    /// Grids whose name, code or id (`STREET-ID`) is `key` (all when None),
    /// optionally within a community.
    pub async fn grids(
        &self,
        key: Option<&str>,
        community: Option<(i64, i64)>,
    ) -> Result<Vec<GridRow>> {
        let (cs, ci) = community.map_or((None, None), |(s, c)| (Some(s), Some(c)));
        let by_id = key.and_then(|k| k.parse::<gw_domain::ids::Key>().ok());
        Ok(db_run!(self, pool => {
            let rows = sqlx::query(
                "SELECT g.street_id, g.id, g.community_id, g.name, g.code, g.unassigned, c.name FROM grid g \
                 JOIN community c ON c.street_id = g.street_id AND c.id = g.community_id \
                 WHERE ($1 IS NULL OR g.name = $1 OR g.code = $1 OR (g.street_id = $4 AND g.id = $5)) AND ($2 IS NULL OR g.street_id = $2) AND ($3 IS NULL OR g.community_id = $3) \
                 ORDER BY g.street_id, g.community_id, g.id")
                .bind(key).bind(cs).bind(ci).bind(by_id.map(|k| k.street)).bind(by_id.map(|k| k.id)).fetch_all(pool).await?;
            rows.iter().map(|r| Ok(GridRow {
                street_id: r.try_get(0)?, id: r.try_get(1)?, community_id: r.try_get(2)?, name: r.try_get(3)?, code: r.try_get(4)?,
                unassigned: r.try_get(5)?, community_name: r.try_get(6)?,
            })).collect::<std::result::Result<Vec<_>, sqlx::Error>>()?
        }))
    }

    /// Grid `id` of `street` with its community's name; NotFound if none.
    pub async fn grid(&self, street: i64, id: i64) -> Result<GridRow> {
        let row = db_run!(self, pool => {
            sqlx::query(
                "SELECT g.street_id, g.id, g.community_id, g.name, g.code, g.unassigned, c.name FROM grid g \
                 JOIN community c ON c.street_id = g.street_id AND c.id = g.community_id \
                 WHERE g.street_id = $1 AND g.id = $2")
                .bind(street).bind(id).fetch_optional(pool).await?
                .map(|r| Ok::<_, sqlx::Error>(GridRow {
                    street_id: r.try_get(0)?, id: r.try_get(1)?, community_id: r.try_get(2)?, name: r.try_get(3)?, code: r.try_get(4)?,
                    unassigned: r.try_get(5)?, community_name: r.try_get(6)?,
                }))
                .transpose()?
        });
        row.ok_or_else(|| StoreError::NotFound(format!("grid {street}-{id}")))
    }

    /// Buildings, households and residents per grid (one street, or all).
    pub async fn grid_counts(&self, street: Option<i64>) -> Result<Vec<GridCounts>> {
        Ok(db_run!(self, pool => {
            let rows = sqlx::query(
                "SELECT g.street_id, g.id, \
                   (SELECT COUNT(*) FROM building b WHERE b.street_id = g.street_id AND b.grid_id = g.id), \
                   (SELECT COUNT(*) FROM household h JOIN unit u ON u.street_id = h.street_id AND u.id = h.unit_id \
                      JOIN building b ON b.street_id = u.street_id AND b.id = u.building_id WHERE b.street_id = g.street_id AND b.grid_id = g.id), \
                   (SELECT COUNT(*) FROM resident r JOIN household h ON h.street_id = r.street_id AND h.id = r.household_id \
                      JOIN unit u ON u.street_id = h.street_id AND u.id = h.unit_id \
                      JOIN building b ON b.street_id = u.street_id AND b.id = u.building_id WHERE b.street_id = g.street_id AND b.grid_id = g.id) \
                 FROM grid g WHERE ($1 IS NULL OR g.street_id = $1) ORDER BY g.street_id, g.id")
                .bind(street).fetch_all(pool).await?;
            rows.iter().map(|r| Ok(GridCounts { street_id: r.try_get(0)?, grid_id: r.try_get(1)?, buildings: r.try_get(2)?, households: r.try_get(3)?, residents: r.try_get(4)? }))
                .collect::<std::result::Result<Vec<_>, sqlx::Error>>()?
        }))
    }

    /// Residents matching a filter, with their addresses and phones.
    pub async fn residents(&self, f: &ResidentFilter) -> Result<Vec<ResidentRow>> {
        let mut rows = db_run!(self, pool, DB => {
            let mut qb = QueryBuilder::<DB>::new(RESIDENT_SELECT);
            qb.push(" WHERE 1 = 1");
            if let Some(s) = f.street { qb.push(" AND r.street_id = ").push_bind(s); }
            if let Some(c) = f.community { qb.push(" AND cm.id = ").push_bind(c); }
            if let Some(g) = f.grid { qb.push(" AND g.id = ").push_bind(g); }
            if let Some(b) = f.building { qb.push(" AND b.id = ").push_bind(b); }
            if let Some(h) = f.household { qb.push(" AND r.household_id = ").push_bind(h); }
            if let Some(nodes) = &f.scope {
                crate::access::push_scope(&mut qb, nodes);
            }
            if f.flags_any != 0 { qb.push(" AND (r.flags & ").push_bind(i64::from(f.flags_any)).push(") <> 0"); }
            if let Some(s) = &f.status { qb.push(" AND r.status = ").push_bind(s.clone()); }
            if let Some(n) = &f.name { qb.push(" AND r.name = ").push_bind(n.clone()); }
            if let Some(t) = &f.doc_tail { qb.push(" AND r.doc_number LIKE ").push_bind(format!("%{t}")); }
            if let Some(t) = &f.phone_tail {
                qb.push(" AND EXISTS (SELECT 1 FROM resident_phone p WHERE p.street_id = r.street_id AND p.resident_id = r.id AND p.number LIKE ")
                    .push_bind(format!("%{t}")).push(")");
            }
            qb.push(" ORDER BY r.street_id, b.name, u.name, h.room, r.id LIMIT ").push_bind(f.limit.clamp(1, 100_000)).push(" OFFSET ").push_bind(f.offset.max(0));
            let rows = qb.build().fetch_all(pool).await?;
            rows.iter().map(|r| Ok(resident_row!(r))).collect::<std::result::Result<Vec<_>, sqlx::Error>>()?
        });
        self.attach_phones(&mut rows).await?;
        Ok(rows)
    }

    async fn attach_phones(&self, rows: &mut [ResidentRow]) -> Result<()> {
        let mut by_street: HashMap<i64, Vec<i64>> = HashMap::new();
        for r in rows.iter() {
            by_street.entry(r.street_id).or_default().push(r.id);
        }
        let mut phones: HashMap<(i64, i64), Vec<ResidentPhone>> = HashMap::new();
        for (street, ids) in by_street {
            for chunk in ids.chunks(500) {
                db_run!(self, pool, DB => {
                    let mut qb = QueryBuilder::<DB>::new("SELECT resident_id, number, relation FROM resident_phone WHERE street_id = ");
                    qb.push_bind(street).push(" AND resident_id IN ");
                    push_ids(&mut qb, chunk);
                    qb.push(" ORDER BY resident_id, seq");
                    for r in qb.build().fetch_all(pool).await? {
                        let rid: i64 = r.try_get(0)?;
                        let number: String = r.try_get(1)?;
                        let rel: String = r.try_get(2)?;
                        phones.entry((street, rid)).or_default().push(ResidentPhone {
                            phone: Phone::from_normalised(number),
                            relation: PhoneRelation::from_code(&rel).unwrap_or(PhoneRelation::Other),
                        });
                    }
                });
            }
        }
        for r in rows.iter_mut() {
            if let Some(p) = phones.remove(&(r.street_id, r.id)) {
                r.resident.phones = p;
            }
        }
        Ok(())
    }

    pub async fn resident(&self, street: i64, id: i64) -> Result<ResidentRow> {
        let mut rows = db_run!(self, pool => {
            let q = format!("{RESIDENT_SELECT} WHERE r.street_id = $1 AND r.id = $2");
            let rows = sqlx::query(&q).bind(street).bind(id).fetch_all(pool).await?;
            rows.iter().map(|r| Ok(resident_row!(r))).collect::<std::result::Result<Vec<_>, sqlx::Error>>()?
        });
        self.attach_phones(&mut rows).await?;
        rows.pop()
            .ok_or_else(|| StoreError::NotFound(format!("resident {street}-{id}")))
    }

    /// Several residents of one street by id, in id order, in one query per
    /// 500 (ids that name nobody are left out).
    pub async fn residents_by_ids(&self, street: i64, ids: &[i64]) -> Result<Vec<ResidentRow>> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let mut rows = match &self.pool {
                // One statement whatever the count (an array), so each
                // connection prepares it once: an `IN` list of each length
                // was parsed and planned again at every call.
                crate::Pool::Postgres(pool) => {
                    let sql = format!(
                        "{RESIDENT_SELECT} WHERE r.street_id = $1 AND r.id = ANY($2) ORDER BY r.id"
                    );
                    let rows = sqlx::query(&sql)
                        .bind(street)
                        .bind(chunk)
                        .fetch_all(pool)
                        .await?;
                    rows.iter()
                        .map(|r| Ok(resident_row!(r)))
                        .collect::<std::result::Result<Vec<_>, sqlx::Error>>()?
                }
                crate::Pool::Sqlite(pool) => {
                    let mut qb = QueryBuilder::<sqlx::Sqlite>::new(RESIDENT_SELECT);
                    qb.push(" WHERE r.street_id = ")
                        .push_bind(street)
                        .push(" AND r.id IN (");
                    let mut sep = qb.separated(", ");
                    for id in chunk {
                        sep.push_bind(*id);
                    }
                    qb.push(") ORDER BY r.id");
                    let rows = qb.build().fetch_all(pool).await?;
                    rows.iter()
                        .map(|r| Ok(resident_row!(r)))
                        .collect::<std::result::Result<Vec<_>, sqlx::Error>>()?
                }
            };
            self.attach_phones(&mut rows).await?;
            out.append(&mut rows);
        }
        Ok(out)
    }

    /// Everything an import into one community is planned against.
    pub async fn community_snapshot(
        &self,
        street: i64,
        community: i64,
    ) -> Result<CommunitySnapshot> {
        let mut snap = CommunitySnapshot::default();
        db_run!(self, pool => {
            for r in sqlx::query("SELECT id, name FROM compound WHERE street_id = $1 AND community_id = $2").bind(street).bind(community).fetch_all(pool).await? {
                snap.compounds.insert(r.try_get(1)?, r.try_get(0)?);
            }
            for r in sqlx::query("SELECT b.id, b.compound_id, b.name, b.grid_id FROM building b JOIN compound c ON c.street_id = b.street_id AND c.id = b.compound_id WHERE b.street_id = $1 AND c.community_id = $2")
                .bind(street).bind(community).fetch_all(pool).await? {
                snap.buildings.insert((r.try_get(1)?, r.try_get(2)?), (r.try_get(0)?, r.try_get(3)?));
            }
            for r in sqlx::query("SELECT u.id, u.building_id, u.name FROM unit u JOIN building b ON b.street_id = u.street_id AND b.id = u.building_id \
                                  JOIN compound c ON c.street_id = b.street_id AND c.id = b.compound_id WHERE u.street_id = $1 AND c.community_id = $2")
                .bind(street).bind(community).fetch_all(pool).await? {
                snap.units.insert((r.try_get(1)?, r.try_get(2)?), r.try_get(0)?);
            }
            for r in sqlx::query("SELECT h.id, h.unit_id, h.room FROM household h JOIN unit u ON u.street_id = h.street_id AND u.id = h.unit_id \
                                  JOIN building b ON b.street_id = u.street_id AND b.id = u.building_id \
                                  JOIN compound c ON c.street_id = b.street_id AND c.id = b.compound_id WHERE h.street_id = $1 AND c.community_id = $2")
                .bind(street).bind(community).fetch_all(pool).await? {
                snap.households.insert((r.try_get(1)?, r.try_get(2)?), r.try_get(0)?);
            }
        });
        let rows = self.residents_of_community(street, community).await?;
        snap.residents = rows;
        Ok(snap)
    }

    async fn residents_of_community(
        &self,
        street: i64,
        community: i64,
    ) -> Result<Vec<(i64, Address, NewResident)>> {
        let mut out: Vec<(i64, Address, NewResident)> = db_run!(self, pool => {
            let rows = sqlx::query(
                "SELECT r.id, r.name, r.gender, r.doc_kind, r.doc_number, r.birth_date, r.residence, r.flags, r.notes, c.name, b.name, u.name, h.room \
                 FROM resident r JOIN household h ON h.street_id = r.street_id AND h.id = r.household_id \
                 JOIN unit u ON u.street_id = h.street_id AND u.id = h.unit_id \
                 JOIN building b ON b.street_id = u.street_id AND b.id = u.building_id \
                 JOIN compound c ON c.street_id = b.street_id AND c.id = b.compound_id \
                 WHERE r.street_id = $1 AND c.community_id = $2")
                .bind(street).bind(community).fetch_all(pool).await?;
            rows.iter().map(|r| Ok((
                r.try_get::<i64, _>(0)?,
                Address { compound: r.try_get(9)?, building: r.try_get(10)?, unit: r.try_get(11)?, room: r.try_get(12)? },
                resident_at!(r, 1),
            ))).collect::<std::result::Result<Vec<_>, sqlx::Error>>()?
        });
        let mut phones: HashMap<i64, Vec<ResidentPhone>> = HashMap::new();
        db_run!(self, pool => {
            let rows = sqlx::query(
                "SELECT p.resident_id, p.number, p.relation FROM resident_phone p \
                 JOIN resident r ON r.street_id = p.street_id AND r.id = p.resident_id \
                 JOIN household h ON h.street_id = r.street_id AND h.id = r.household_id \
                 JOIN unit u ON u.street_id = h.street_id AND u.id = h.unit_id \
                 JOIN building b ON b.street_id = u.street_id AND b.id = u.building_id \
                 JOIN compound c ON c.street_id = b.street_id AND c.id = b.compound_id \
                 WHERE p.street_id = $1 AND c.community_id = $2 ORDER BY p.resident_id, p.seq")
                .bind(street).bind(community).fetch_all(pool).await?;
            for r in rows {
                let rel: String = r.try_get(2)?;
                phones.entry(r.try_get(0)?).or_default().push(ResidentPhone {
                    phone: Phone::from_normalised(r.try_get(1)?),
                    relation: PhoneRelation::from_code(&rel).unwrap_or(PhoneRelation::Other),
                });
            }
        });
        for (id, _, r) in out.iter_mut() {
            if let Some(p) = phones.remove(id) {
                r.phones = p;
            }
        }
        Ok(out)
    }

    /// Where each of these document numbers is registered, if anywhere.
    pub async fn document_owners(&self, docs: &[(DocKind, String)]) -> Result<Vec<DocumentOwner>> {
        let mut out = Vec::new();
        for chunk in docs.chunks(400) {
            let found: Vec<(String, String, i64, i64)> = db_run!(self, pool, DB => {
                let mut qb = QueryBuilder::<DB>::new("SELECT doc_kind, doc_number, street_id, resident_id FROM document_registry WHERE doc_number IN (");
                let mut sep = qb.separated(", ");
                for (_, n) in chunk {
                    sep.push_bind(n.clone());
                }
                qb.push(")");
                let rows = qb.build().fetch_all(pool).await?;
                rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?))).collect::<std::result::Result<Vec<_>, sqlx::Error>>()?
            });
            for (kind, number, street_id, resident_id) in found {
                let Some(kind) = DocKind::from_code(&kind) else {
                    continue;
                };
                if !chunk.iter().any(|(k, n)| *k == kind && *n == number) {
                    continue;
                }
                let r = self.resident(street_id, resident_id).await?;
                let place = format!(
                    "{}{}{}{}",
                    self.street_name(street_id).await?,
                    r.community.clone().unwrap_or_default(),
                    r.building.clone().unwrap_or_default(),
                    r.room
                        .as_ref()
                        .map(|room| format!("{}单元{}", r.unit.clone().unwrap_or_default(), room))
                        .unwrap_or_default()
                );
                out.push(DocumentOwner {
                    kind,
                    number,
                    street_id,
                    resident_id,
                    community_id: r.community_id,
                    place,
                    pending: r.status == "pending",
                });
            }
        }
        Ok(out)
    }

    pub async fn street_name(&self, street: i64) -> Result<String> {
        let n: Option<String> = db_run!(self, pool => sqlx::query_scalar("SELECT name FROM street WHERE id = $1").bind(street).fetch_optional(pool).await?);
        n.ok_or_else(|| StoreError::NotFound(format!("street {street}")))
    }

    /// Total residents (all streets).
    pub async fn resident_count(&self) -> Result<i64> {
        Ok(
            db_run!(self, pool => sqlx::query_scalar("SELECT COUNT(*) FROM resident").fetch_one(pool).await?),
        )
    }

    /// Swabs registered, in every round of every street.
    pub async fn registration_count(&self) -> Result<i64> {
        Ok(
            db_run!(self, pool => sqlx::query_scalar("SELECT COUNT(*) FROM registration").fetch_one(pool).await?),
        )
    }

    /// Counts of every table (for tests of "nothing changed").
    pub async fn table_counts(&self) -> Result<Vec<(&'static str, i64)>> {
        let mut out = Vec::new();
        for t in [
            "city",
            "district",
            "street",
            "community",
            "grid",
            "compound",
            "building",
            "unit",
            "household",
            "resident",
            "resident_phone",
            "document_registry",
            "control_order",
        ] {
            let n: i64 = db_run!(self, pool => sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {t}")).fetch_one(pool).await?);
            out.push((t, n));
        }
        Ok(out)
    }

    /// Adds a walk-in: a person sampled at a point who is on no roster.
    pub async fn add_pending_resident(
        &self,
        street: i64,
        uid: &str,
        r: &NewResident,
        now_ms: i64,
    ) -> Result<i64> {
        let mut tx = self.begin().await?;
        let ids = tx
            .insert_residents(
                street,
                &[crate::import::ResidentWrite {
                    uid: uid.to_string(),
                    household_id: None,
                    resident: r,
                    status: "pending",
                }],
                now_ms,
            )
            .await?;
        tx.commit().await?;
        ids.get(uid)
            .copied()
            .ok_or_else(|| StoreError::Other("pending resident lost".into()))
    }

    /// A pending walk-in of `street` registered under this name and phone
    /// (the earliest), if any.
    pub async fn pending_walk_in(
        &self,
        street: i64,
        name: &str,
        phone: &str,
    ) -> Result<Option<i64>> {
        Ok(db_run!(self, pool => sqlx::query_scalar(
            "SELECT r.id FROM resident r JOIN resident_phone p ON p.street_id = r.street_id AND p.resident_id = r.id \
             WHERE r.street_id = $1 AND r.name = $2 AND r.status = 'pending' AND p.number = $3 ORDER BY r.id LIMIT 1")
            .bind(street).bind(name).bind(phone).fetch_optional(pool).await?))
    }

    /// Removes a pending walk-in no swab names: made for a registration that
    /// a replay of the same client id stored first. False when it stays.
    pub async fn drop_unswabbed_pending(&self, street: i64, id: i64) -> Result<bool> {
        let mut tx = self.begin().await?;
        let unused = tx.drop_unswabbed_pending(street, id).await?;
        tx.commit().await?;
        Ok(unused)
    }

    /// Merges a pending walk-in into a registered resident: the walk-in's
    /// phones and document fill what the registered record lacks, its swabs
    /// and what followed from them pass to the registered resident, and the
    /// pending record is removed, all in one transaction.
    pub async fn match_pending(
        &self,
        street: i64,
        pending: i64,
        target: i64,
        now_ms: i64,
        audit: &crate::audit::AuditRecord,
    ) -> Result<()> {
        let p = self.resident(street, pending).await?;
        if p.status != "pending" {
            return Err(StoreError::Conflict(format!(
                "resident {street}-{pending} is not pending"
            )));
        }
        let t = self.resident(street, target).await?;
        let merged = gw_domain::roster::merge_resident(&p.resident, &t.resident);
        let mut tx = self.begin().await?;
        tx.move_testing_records(street, pending, target).await?;
        tx.delete_resident(street, pending).await?;
        tx.update_resident(street, target, t.household_id, &merged, now_ms)
            .await?;
        tx.audit(&audit.write()).await?;
        tx.commit().await
    }
}

/// The records of a round that name a resident and are keyed by the round or
/// the tube, for [`crate::import::StoreTx::move_testing_records`]: where the
/// target already has its own, the moved one is dropped.
const KEYED_BY_ROUND: [(&str, &str); 3] = [
    ("round_expected", "round_id"),
    ("round_exemption", "round_id"),
    ("follow_up", "tube_id, kind"),
];

impl crate::import::StoreTx {
    /// Hands a walk-in's swabs and what followed from them to the registered
    /// resident they turned out to be: registrations (a routine or
    /// door-to-door swab in a round where the target already has one becomes its duplicate, so the
    /// person still counts once), retests and re-samples, exemptions and a
    /// place in a round's snapshot. `$1` street, `$2` from, `$3` to.
    pub async fn move_testing_records(&mut self, street: i64, from: i64, to: i64) -> Result<()> {
        // Matched: the walk-in's swabs are no longer "to be checked" (what
        // else was wrong with them stays).
        crate::import::tx_run!(self, conn, DB => {
            sqlx::query("UPDATE registration SET problem = LTRIM(REPLACE(problem, $3, ''), '；') WHERE street_id = $1 AND resident_id = $2")
                .bind(street).bind(from).bind(gw_domain::testing::WALK_IN_PROBLEM).execute(&mut *conn).await?;
        });
        let sampling = crate::testing::SAMPLING.as_str();
        let first = format!(
            "SELECT g.id FROM registration g WHERE g.street_id = registration.street_id AND g.round_id = registration.round_id \
             AND g.resident_id = $3 AND g.purpose IN {sampling} AND g.duplicate_of IS NULL"
        );
        self.exec3_with(
            &format!(
                "UPDATE registration SET duplicate_of = ({first}) WHERE street_id = $1 AND resident_id = $2 \
                 AND purpose IN {sampling} AND duplicate_of IS NULL AND EXISTS ({first})"
            ),
            street,
            from,
            to,
        )
        .await?;
        self.exec3_with(
            "UPDATE registration SET resident_id = $3 WHERE street_id = $1 AND resident_id = $2",
            street,
            from,
            to,
        )
        .await?;
        for (table, key) in KEYED_BY_ROUND {
            let same = key
                .split(", ")
                .map(|k| format!(" AND o.{k} = {table}.{k}"))
                .collect::<String>();
            self.exec3_with(
                &format!(
                    "UPDATE {table} SET resident_id = $3 WHERE street_id = $1 AND resident_id = $2 \
                     AND NOT EXISTS (SELECT 1 FROM {table} o WHERE o.street_id = {table}.street_id AND o.resident_id = $3{same})"
                ),
                street,
                from,
                to,
            )
            .await?;
            self.exec3(
                &format!("DELETE FROM {table} WHERE street_id = $1 AND resident_id = $2"),
                street,
                from,
            )
            .await?;
        }
        Ok(())
    }

    /// [`Store::drop_unswabbed_pending`] in this transaction; a swab taken
    /// back that named the walk-in then names nobody.
    pub async fn drop_unswabbed_pending(&mut self, street: i64, id: i64) -> Result<bool> {
        let unused = crate::import::tx_run!(self, conn, DB => sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM resident r WHERE r.street_id = $1 AND r.id = $2 AND r.status = 'pending' \
             AND NOT EXISTS (SELECT 1 FROM registration g WHERE g.street_id = r.street_id AND g.resident_id = r.id)")
            .bind(street).bind(id).fetch_one(&mut *conn).await?)
            == 1;
        if unused {
            crate::import::tx_run!(self, conn, DB => sqlx::query("UPDATE voided_swab SET resident_id = NULL WHERE street_id = $1 AND resident_id = $2")
                .bind(street).bind(id).execute(&mut *conn).await?.rows_affected());
            self.delete_resident(street, id).await?;
        }
        Ok(unused)
    }

    pub async fn delete_resident(&mut self, street: i64, id: i64) -> Result<()> {
        self.exec3(
            "DELETE FROM document_registry WHERE street_id = $1 AND resident_id = $2",
            street,
            id,
        )
        .await?;
        self.exec3(
            "DELETE FROM resident_phone WHERE street_id = $1 AND resident_id = $2",
            street,
            id,
        )
        .await?;
        self.exec3(
            "DELETE FROM resident WHERE street_id = $1 AND id = $2",
            street,
            id,
        )
        .await?;
        Ok(())
    }
}

/// A building with where it lies.
#[derive(Debug, Clone)]
pub struct BuildingRow {
    pub street_id: i64,
    pub id: i64,
    pub name: String,
    pub compound_id: i64,
    pub compound: String,
    pub grid_id: i64,
    pub grid: String,
    /// Its grid is the community's 未分配网格 (a roster brought it in).
    pub grid_unassigned: bool,
    pub community_id: i64,
    pub community: String,
}

/// One household of a building, with its unit and head count.
#[derive(Debug, Clone)]
pub struct BuildingHousehold {
    pub unit_id: i64,
    pub unit: String,
    pub household_id: i64,
    pub room: String,
    pub people: i64,
}

impl Store {
    pub async fn building(&self, street: i64, id: i64) -> Result<BuildingRow> {
        let row = db_run!(self, pool => {
            sqlx::query(
                "SELECT b.street_id, b.id, b.name, c.id, c.name, g.id, g.name, cm.id, cm.name, g.unassigned FROM building b \
                 JOIN compound c ON c.street_id = b.street_id AND c.id = b.compound_id \
                 JOIN grid g ON g.street_id = b.street_id AND g.id = b.grid_id \
                 JOIN community cm ON cm.street_id = g.street_id AND cm.id = g.community_id \
                 WHERE b.street_id = $1 AND b.id = $2")
                .bind(street).bind(id).fetch_optional(pool).await?
                .map(|r| -> std::result::Result<BuildingRow, sqlx::Error> { Ok(BuildingRow {
                    street_id: r.try_get(0)?, id: r.try_get(1)?, name: r.try_get(2)?, compound_id: r.try_get(3)?, compound: r.try_get(4)?,
                    grid_id: r.try_get(5)?, grid: r.try_get(6)?, community_id: r.try_get(7)?, community: r.try_get(8)?, grid_unassigned: r.try_get(9)?,
                }) }).transpose()?
        });
        row.ok_or_else(|| StoreError::NotFound(format!("building {street}-{id}")))
    }

    /// The households of a building by unit and room, with how many live in each.
    pub async fn building_households(
        &self,
        street: i64,
        building: i64,
    ) -> Result<Vec<BuildingHousehold>> {
        Ok(db_run!(self, pool => {
            let rows = sqlx::query(
                "SELECT u.id, u.name, h.id, h.room, \
                 (SELECT COUNT(*) FROM resident r WHERE r.street_id = h.street_id AND r.household_id = h.id) \
                 FROM unit u JOIN household h ON h.street_id = u.street_id AND h.unit_id = u.id \
                 WHERE u.street_id = $1 AND u.building_id = $2 ORDER BY u.name, u.id, h.room, h.id")
                .bind(street).bind(building).fetch_all(pool).await?;
            rows.iter().map(|r| Ok(BuildingHousehold { unit_id: r.try_get(0)?, unit: r.try_get(1)?, household_id: r.try_get(2)?, room: r.try_get(3)?, people: r.try_get(4)? }))
                .collect::<std::result::Result<Vec<_>, sqlx::Error>>()?
        }))
    }
}

impl Store {
    /// Places a building in grid `grid` of its compound's community (its
    /// residents go with it: a resident's grid is their building's).
    /// NotFound for an unknown building; Conflict for a grid of another
    /// community.
    pub async fn set_building_grid(
        &self,
        street: i64,
        building: i64,
        grid: i64,
        audit: &crate::audit::AuditRecord,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        let n = crate::import::tx_run!(tx, conn, DB => sqlx::query(
            "UPDATE building SET grid_id = $3 WHERE street_id = $1 AND id = $2 \
             AND EXISTS (SELECT 1 FROM grid g JOIN compound c ON c.street_id = g.street_id AND c.community_id = g.community_id \
                         WHERE g.street_id = $1 AND g.id = $3 AND c.id = building.compound_id)")
            .bind(street).bind(building).bind(grid).execute(&mut *conn).await?.rows_affected());
        if n == 0 {
            tx.rollback().await?;
            self.building(street, building).await?;
            return Err(StoreError::Conflict(format!(
                "网格 {street}-{grid} 不在楼栋 {street}-{building} 所在社区 / grid {street}-{grid} is not in building {street}-{building}'s community"
            )));
        }
        tx.audit(&audit.write()).await?;
        tx.commit().await
    }
}

impl Store {
    /// Sets and clears flags of one resident (bits of
    /// [`gw_domain::resident::Flags`]): the flags before and after, read and
    /// written with the row held, so the difference is what this call
    /// changed. NotFound for an unknown resident, Conflict for a purged one.
    pub async fn set_resident_flags(
        &self,
        street: i64,
        id: i64,
        set: u32,
        clear: u32,
        now_ms: i64,
        audit: impl FnOnce(u32, u32) -> crate::audit::AuditRecord,
    ) -> Result<(u32, u32)> {
        use crate::import::{tx_run, RowLock};
        let mut tx = self.begin().await?;
        let read = format!(
            "SELECT flags FROM resident WHERE street_id = $1 AND id = $2 AND status <> 'purged'{}",
            tx.row_lock(RowLock::NoKeyUpdate)
        );
        let before: Option<i64> = tx_run!(tx, conn, DB => sqlx::query_scalar(&read)
            .bind(street).bind(id).fetch_optional(&mut *conn).await?);
        let Some(before) = before else {
            tx.rollback().await?;
            let r = self.resident(street, id).await?;
            return Err(StoreError::Conflict(format!(
                "居民 {street}-{id} 的资料已清除 / resident {street}-{id} was purged ({})",
                r.status
            )));
        };
        let before = u32::try_from(before).unwrap_or(0);
        let after = (before | set) & !clear;
        // What changes nothing is no change: the resident is not "changed
        // since" a purge's date by it either.
        if after != before {
            tx_run!(tx, conn, DB => sqlx::query(
                "UPDATE resident SET flags = $3, updated_ms = $4 WHERE street_id = $1 AND id = $2")
                .bind(street).bind(id).bind(i64::from(after)).bind(now_ms).execute(&mut *conn).await?.rows_affected());
        }
        tx.audit(&audit(before, after).write()).await?;
        tx.commit().await?;
        Ok((before, after))
    }
}

impl Store {
    /// Moves one resident to household `household` of the same street, and
    /// in the same transaction marks or clears their moved-out mark in the
    /// rounds still sampling (see `StoreTx::mark_moved_out`). NotFound for
    /// an unknown resident or household; Conflict for a purged resident.
    pub async fn move_resident(
        &self,
        street: i64,
        id: i64,
        household: i64,
        now_ms: i64,
        audit: &crate::audit::AuditRecord,
    ) -> Result<()> {
        use crate::import::tx_run;
        let mut tx = self.begin().await?;
        let n = tx_run!(tx, conn, DB => sqlx::query(
            "UPDATE resident SET household_id = $3, updated_ms = $4 WHERE street_id = $1 AND id = $2 AND status <> 'purged' \
             AND EXISTS (SELECT 1 FROM household h WHERE h.street_id = $1 AND h.id = $3)")
            .bind(street).bind(id).bind(household).bind(now_ms).execute(&mut *conn).await?.rows_affected());
        if n == 0 {
            tx.rollback().await?;
            let r = self.resident(street, id).await?;
            if r.status == "purged" {
                return Err(StoreError::Conflict(format!(
                    "居民 {street}-{id} 的资料已清除 / resident {street}-{id} was purged"
                )));
            }
            return Err(StoreError::NotFound(format!(
                "household {street}-{household}"
            )));
        }
        tx.mark_moved_out(street, id, household, now_ms).await?;
        tx.audit(&audit.write()).await?;
        tx.commit().await
    }
}

impl crate::import::StoreTx {
    /// For every round still sampling whose snapshot expects resident `id`,
    /// who now lives in `household`: marks them moved out of the round's
    /// territory when the household lies outside its communities (counted
    /// apart from the missed, see `coverage`), and clears the mark when it
    /// lies inside (moved back). In the move's transaction.
    async fn mark_moved_out(
        &mut self,
        street: i64,
        id: i64,
        household: i64,
        now_ms: i64,
    ) -> Result<()> {
        use crate::import::tx_run;
        let rounds: Vec<i64> = tx_run!(self, conn, DB => sqlx::query_scalar(
            "SELECT t.id FROM testing_round t WHERE t.street_id = $1 AND t.state = 'open' AND t.sampling_closed_ms IS NULL \
             AND EXISTS (SELECT 1 FROM round_expected e WHERE e.street_id = t.street_id AND e.round_id = t.id AND e.resident_id = $2) ORDER BY t.id")
            .bind(street).bind(id).fetch_all(&mut *conn).await?);
        let sql = format!(
            "UPDATE round_expected SET moved_out_ms = CASE WHEN EXISTS (SELECT 1 FROM household h \
                 JOIN unit u ON u.street_id = h.street_id AND u.id = h.unit_id \
                 JOIN building b ON b.street_id = u.street_id AND b.id = u.building_id \
                 WHERE h.street_id = $1 AND h.id = $4 AND {}) THEN NULL ELSE COALESCE(moved_out_ms, $5) END \
             WHERE street_id = $1 AND round_id = $2 AND resident_id = $3",
            crate::coverage::ROUND_COVERS_BUILDING
        );
        for round in rounds {
            tx_run!(self, conn, DB => sqlx::query(&sql)
                .bind(street).bind(round).bind(id).bind(household).bind(now_ms).execute(&mut *conn).await?.rows_affected());
        }
        Ok(())
    }
}

impl Store {
    /// Records that active resident `id` has left (`reason`: `deceased` or
    /// `moved_out`, on day `on`): status `left`, their data kept. Every round
    /// still sampling whose snapshot expects them, where they have no swab
    /// (or only swabs in tubes the lab found invalid) and no exemption, exempts them with `exemption` (so they are not
    /// missed there). The rounds exempted. NotFound for an unknown resident;
    /// Conflict for one who is not active (left already, pending, purged).
    #[allow(clippy::too_many_arguments)]
    pub async fn leave_resident(
        &self,
        street: i64,
        id: i64,
        reason: &str,
        on: &str,
        exemption: &str,
        by: &str,
        now_ms: i64,
    ) -> Result<Vec<i64>> {
        use crate::import::tx_run;
        let mut tx = self.begin().await?;
        let n = tx_run!(tx, conn, DB => sqlx::query(
            "UPDATE resident SET status = 'left', left_reason = $3, left_on = $4, left_ms = $5, updated_ms = $5 \
             WHERE street_id = $1 AND id = $2 AND status = 'active'")
            .bind(street).bind(id).bind(reason).bind(on).bind(now_ms).execute(&mut *conn).await?.rows_affected());
        if n == 0 {
            tx.rollback().await?;
            let r = self.resident(street, id).await?;
            return Err(StoreError::Conflict(match r.status.as_str() {
                "left" => format!("居民 {street}-{id} 已登记离开（{}）/ resident {street}-{id} is recorded as left already", r.left_on.unwrap_or_default()),
                "purged" => format!("居民 {street}-{id} 的资料已清除 / resident {street}-{id} was purged"),
                other => format!("居民 {street}-{id} 状态为 {other}，只能登记在册居民离开 / resident {street}-{id} is {other}: only a registered (active) resident can be recorded as left"),
            }));
        }
        // Not sampled there as coverage counts once exempted: no swab, or
        // only swabs in tubes the lab found invalid (their re-sample ends).
        let sql = format!(
            "SELECT t.id FROM testing_round t WHERE t.street_id = $1 AND t.state = 'open' AND t.sampling_closed_ms IS NULL \
             AND EXISTS (SELECT 1 FROM round_expected e WHERE e.street_id = t.street_id AND e.round_id = t.id AND e.resident_id = $2) \
             AND NOT {} \
             AND NOT EXISTS (SELECT 1 FROM round_exemption x WHERE x.street_id = t.street_id AND x.round_id = t.id AND x.resident_id = $2) \
             ORDER BY t.id",
            crate::coverage::SWAB_WITH_RESULT
        );
        let rounds: Vec<i64> = tx_run!(tx, conn, DB => sqlx::query_scalar(&sql)
            .bind(street).bind(id).fetch_all(&mut *conn).await?);
        for round in &rounds {
            tx_run!(tx, conn, DB => sqlx::query(
                "INSERT INTO round_exemption (street_id, round_id, resident_id, reason, set_by, created_ms) VALUES ($1, $2, $3, $4, $5, $6)")
                .bind(street).bind(*round).bind(id).bind(exemption).bind(by).bind(now_ms).execute(&mut *conn).await?.rows_affected());
        }
        tx.commit().await?;
        Ok(rounds)
    }

    /// Undoes a mistaken [`Store::leave_resident`]: the resident is active
    /// again, and the exemptions the record made (its reason, from its time
    /// on) in rounds still sampling are lifted. `(reason it had, rounds
    /// whose exemption was lifted)`. Conflict for a resident who has not left.
    pub async fn unleave_resident(
        &self,
        street: i64,
        id: i64,
        exemption_of: impl Fn(&str) -> String,
        now_ms: i64,
    ) -> Result<(String, Vec<i64>)> {
        use crate::import::tx_run;
        let r = self.resident(street, id).await?;
        if r.status != "left" {
            return Err(StoreError::Conflict(format!(
                "居民 {street}-{id} 没有登记离开 / resident {street}-{id} is not recorded as left"
            )));
        }
        let reason = r.left_reason.unwrap_or_default();
        let exemption = exemption_of(&reason);
        let mut tx = self.begin().await?;
        let left_ms: Option<Option<i64>> = tx_run!(tx, conn, DB => sqlx::query_scalar(
            "SELECT left_ms FROM resident WHERE street_id = $1 AND id = $2 AND status = 'left'")
            .bind(street).bind(id).fetch_optional(&mut *conn).await?);
        let Some(left_ms) = left_ms else {
            tx.rollback().await?;
            return Err(StoreError::Conflict(format!(
                "居民 {street}-{id} 没有登记离开 / resident {street}-{id} is not recorded as left"
            )));
        };
        let left_ms = left_ms.unwrap_or(0);
        let rounds: Vec<i64> = tx_run!(tx, conn, DB => sqlx::query_scalar(
            "SELECT x.round_id FROM round_exemption x JOIN testing_round t ON t.street_id = x.street_id AND t.id = x.round_id \
             WHERE x.street_id = $1 AND x.resident_id = $2 AND x.reason = $3 AND x.created_ms >= $4 \
             AND t.state = 'open' AND t.sampling_closed_ms IS NULL ORDER BY x.round_id")
            .bind(street).bind(id).bind(&exemption).bind(left_ms).fetch_all(&mut *conn).await?);
        for round in &rounds {
            tx_run!(tx, conn, DB => sqlx::query(
                "DELETE FROM round_exemption WHERE street_id = $1 AND round_id = $2 AND resident_id = $3")
                .bind(street).bind(*round).bind(id).execute(&mut *conn).await?.rows_affected());
        }
        tx_run!(tx, conn, DB => sqlx::query(
            "UPDATE resident SET status = 'active', left_reason = NULL, left_on = NULL, left_ms = NULL, updated_ms = $3 \
             WHERE street_id = $1 AND id = $2")
            .bind(street).bind(id).bind(now_ms).execute(&mut *conn).await?.rows_affected());
        tx.commit().await?;
        Ok((reason, rounds))
    }
}
