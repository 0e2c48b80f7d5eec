//! Loads the demo city: streets of the default shape (7 communities, ~40
//! grids, ~300 buildings, 40,000 residents each), deterministic for a seed,
//! through the same bulk-write path as roster import.

use std::collections::HashMap;

use gw_domain::demo::{self, DemoSpec};
use gw_domain::rng::Rng;
use gw_store::import::{BuildingWrite, ResidentWrite};
use gw_store::{Store, StoreError};
use serde::Serialize;

use crate::Clock;

#[derive(Debug, Clone, Serialize)]
pub struct DemoSummary {
    pub streets: u64,
    pub communities: u64,
    pub grids: u64,
    pub buildings: u64,
    pub households: u64,
    pub residents: u64,
    /// Streets already present (a second `demo` run on the same file).
    pub skipped_streets: u64,
}

/// Loads `spec` into the store. A street already present (same name) is left
/// alone, so running the demo twice on one file does not duplicate it.
pub async fn load(
    store: &Store,
    clock: &Clock,
    spec: &DemoSpec,
    progress: crate::import::Progress<'_>,
) -> Result<DemoSummary, StoreError> {
    let city = demo::city();
    let city_id = store.ensure_city(&city.name, Some(&city.code)).await?;
    let district_id = store
        .ensure_district(city_id, &city.district_name, Some(&city.district_code))
        .await?;
    let n = demo::street_count(spec.residents);
    let mut sum = DemoSummary {
        streets: 0,
        communities: 0,
        grids: 0,
        buildings: 0,
        households: 0,
        residents: 0,
        skipped_streets: 0,
    };
    let existing: Vec<String> = store.streets().await?.into_iter().map(|s| s.name).collect();
    let mut uid_rng = Rng::new(spec.seed ^ 0x5EED_0000_0000_0001);
    for index in 0..n {
        let st = demo::street(spec, index);
        if existing.contains(&st.name) {
            sum.skipped_streets += 1;
            continue;
        }
        let now = clock.now_ms();
        let street = store
            .ensure_street(district_id, &st.name, Some(&st.code))
            .await?;
        let mut grid_ids: Vec<Vec<i64>> = Vec::new();
        for c in &st.communities {
            let cid = store
                .ensure_community(street, &c.name, Some(&c.code))
                .await?;
            let mut gids = Vec::new();
            for g in &c.grids {
                gids.push(
                    store
                        .ensure_grid(street, cid, &g.name, Some(&g.code), false)
                        .await?,
                );
            }
            grid_ids.push(gids);
            sum.communities += 1;
            sum.grids += c.grids.len() as u64;
        }
        let communities = store.communities(None, Some(street)).await?;
        let cids: Vec<i64> = st
            .communities
            .iter()
            .map(|c| {
                communities
                    .iter()
                    .find(|x| x.name == c.name)
                    .map(|x| x.id)
                    .ok_or_else(|| StoreError::Other("community vanished".into()))
            })
            .collect::<Result<_, _>>()?;
        let mut tx = store.begin().await?;
        // Compounds.
        let mut compound_rows = Vec::new();
        for (c, cid) in st.communities.iter().zip(&cids) {
            let cid = *cid;
            for cp in &c.compounds {
                compound_rows.push((cid, cp.name.clone()));
            }
        }
        let compound_ids = tx.insert_compounds(street, &compound_rows).await?;
        // Buildings.
        let mut building_rows = Vec::new();
        for (ci, c) in st.communities.iter().enumerate() {
            let cid = cids[ci];
            for cp in &c.compounds {
                let cpid = compound_ids
                    .get(&(cid, cp.name.clone()))
                    .copied()
                    .ok_or_else(|| StoreError::Other("compound vanished".into()))?;
                for b in &cp.buildings {
                    let gid = grid_ids[ci]
                        .get(b.grid)
                        .or(grid_ids[ci].first())
                        .copied()
                        .ok_or_else(|| StoreError::Other("community without grids".into()))?;
                    building_rows.push(BuildingWrite {
                        compound_id: cpid,
                        grid_id: gid,
                        name: b.name.clone(),
                        floors: Some(b.floors as i32),
                        elevator: Some(b.elevator),
                    });
                }
            }
        }
        let building_ids = tx.insert_buildings(street, &building_rows).await?;
        sum.buildings += building_rows.len() as u64;
        // Units and households.
        let mut unit_rows = Vec::new();
        let mut all_buildings = Vec::new();
        for (c, cid) in st.communities.iter().zip(&cids) {
            let cid = *cid;
            for cp in &c.compounds {
                let cpid = compound_ids
                    .get(&(cid, cp.name.clone()))
                    .copied()
                    .unwrap_or(0);
                for b in &cp.buildings {
                    let bid = building_ids
                        .get(&(cpid, b.name.clone()))
                        .copied()
                        .ok_or_else(|| StoreError::Other("building vanished".into()))?;
                    for u in &b.units {
                        unit_rows.push((bid, u.name.clone()));
                    }
                    all_buildings.push((bid, b));
                }
            }
        }
        let unit_ids = tx.insert_units(street, &unit_rows).await?;
        let positions: Vec<(i64, i32, i32)> = all_buildings
            .iter()
            .map(|(bid, b)| (*bid, b.x_m, b.y_m))
            .collect();
        tx.set_building_positions(street, &positions).await?;
        let mut household_rows = Vec::new();
        for (bid, b) in &all_buildings {
            for u in &b.units {
                let uid = unit_ids
                    .get(&(*bid, u.name.clone()))
                    .copied()
                    .ok_or_else(|| StoreError::Other("unit vanished".into()))?;
                for h in &u.households {
                    household_rows.push((uid, h.room.clone()));
                }
            }
        }
        let household_ids: HashMap<(i64, String), i64> =
            tx.insert_households(street, &household_rows).await?;
        sum.households += household_rows.len() as u64;
        // Residents.
        let mut writes = Vec::new();
        for (bid, b) in &all_buildings {
            for u in &b.units {
                let uid = unit_ids.get(&(*bid, u.name.clone())).copied().unwrap_or(0);
                for h in &u.households {
                    let hid = household_ids
                        .get(&(uid, h.room.clone()))
                        .copied()
                        .ok_or_else(|| StoreError::Other("household vanished".into()))?;
                    for r in &h.residents {
                        let mut bytes = [0u8; 10];
                        bytes[..8].copy_from_slice(&uid_rng.next_u64().to_le_bytes());
                        bytes[8..].copy_from_slice(&(uid_rng.next_u64() as u16).to_le_bytes());
                        writes.push(ResidentWrite {
                            uid: crate::uid_from_bytes(&bytes),
                            household_id: Some(hid),
                            resident: r,
                            status: "active",
                        });
                    }
                }
            }
        }
        for chunk in writes.chunks(5_000) {
            tx.insert_residents(street, chunk, now).await?;
            sum.residents += chunk.len() as u64;
            progress("演示数据 demo data", sum.residents, spec.residents);
        }
        tx.commit().await?;
        sum.streets += 1;
    }
    Ok(sum)
}
