//! `gridwarden bench coverage`: the time to answer one grid's coverage and
//! one building's missed list in a round, over a city of N residents in
//! demo-shaped streets, every street in a round with 90% sampled. Its cost
//! must follow the territory asked about, not the city.

use std::time::Instant;

use anyhow::{Context, Result};
use gw_app::access::Principal;
use gw_app::Clock;
use gw_domain::ids::Key;
use gw_store::coverage::Level;
use gw_store::Store;
use serde_json::json;

/// The name of the round a run opens in every street.
const ROUND_NAME: &str = "bench";

use crate::bench::{machine, Fresh};

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

pub struct CoverageArgs {
    pub residents: u64,
    pub queries: usize,
    /// Leave the database in place and say where it is.
    pub keep: bool,
    /// Time the queries on a database a kept run left, loading nothing.
    pub on: Option<String>,
    pub db: Option<String>,
    pub seed: u64,
    pub json: bool,
}

/// What the queries need: the city loaded and the rounds opened.
struct Loaded {
    residents: u64,
    streets: usize,
    registrations: usize,
    /// The first street's bench round.
    first: (i64, i64),
    seconds: serde_json::Value,
}

pub async fn run(args: CoverageArgs) -> Result<()> {
    let clock = Clock::System;
    let json_out = args.json;
    let queries = args.queries;
    let mut fresh = None;
    let (store, loaded) = match &args.on {
        Some(url) => {
            let store = gw_store::Store::open(url).await?;
            let loaded = find_loaded(&store).await?;
            (store, loaded)
        }
        None => {
            let mut f = Fresh::new(args.db.clone())?;
            let store = f.make("coverage").await?;
            let loaded = load(&store, &clock, args.residents, args.seed).await?;
            fresh = Some(f);
            (store, loaded)
        }
    };
    let backend = store.backend().name();
    let residents = loaded.residents;
    let admin = Principal::operator("cli:bench");
    // Ask about grids and buildings of the first street, round-robin.
    let (street, round) = loaded.first;
    let round = Key { street, id: round };
    let grids = store
        .coverage_counts(street, round.id, Level::Grid, None)
        .await?;
    let mut grid_ms = Vec::new();
    let mut building_ms = Vec::new();
    let mut checked = 0i64;
    for q in 0..queries.max(1) {
        let g = &grids[q % grids.len()];
        let grid = Key { street, id: g.id };
        let t = Instant::now();
        let c = gw_app::coverage::coverage(
            &store,
            &clock,
            &admin,
            round,
            Level::Building,
            Some((Level::Grid, grid)),
        )
        .await?;
        grid_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        anyhow::ensure!(
            c.totals.expected == g.expected && c.totals.sampled == g.sampled,
            "grid coverage disagrees with the street's rows"
        );
        let b = &c.rows[q % c.rows.len()];
        let building: Key = b.key.parse().map_err(|_| anyhow::anyhow!("key"))?;
        let t = Instant::now();
        let missed =
            gw_app::coverage::missed(&store, &clock, &admin, round, (Level::Building, building))
                .await?;
        building_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        anyhow::ensure!(
            missed.expected.len() as i64 == b.missed,
            "missed list disagrees"
        );
        checked += b.missed;
    }
    store.close().await;
    let mut kept = Vec::new();
    if let Some(mut f) = fresh {
        if args.keep {
            kept = f.keep();
        }
        f.cleanup().await?;
    }
    let out = json!({
        "bench": "coverage",
        "backend": backend,
        "residents": residents,
        "streets": loaded.streets,
        "registrations": loaded.registrations,
        "queries": queries,
        "grid_ms": median(grid_ms),
        "building_missed_ms": median(building_ms),
        "missed_listed": checked,
        "seconds": loaded.seconds,
        "machine": machine(),
    });
    if json_out {
        println!("{out}");
    } else {
        println!(
            "bench coverage ({backend}, {residents} residents in {} streets, 90% sampled)",
            loaded.streets
        );
        println!(
            "  one grid's coverage       median {:.2} ms",
            out["grid_ms"]
        );
        println!(
            "  one building's missed list median {:.2} ms",
            out["building_missed_ms"].as_f64().unwrap_or(0.0)
        );
    }
    for k in kept {
        eprintln!("数据库已保留 kept: {k}  (gridwarden bench coverage --on {k})");
    }
    Ok(())
}

/// Load a city of demo-shaped streets and open a round in each, 90% of it sampled.
async fn load(store: &Store, clock: &Clock, residents: u64, seed: u64) -> Result<Loaded> {
    let t = Instant::now();
    let spec = gw_domain::demo::DemoSpec {
        residents,
        seed,
        today: clock.today(),
    };
    gw_app::demo::load(store, clock, &spec, &|_, _, _| {}).await?;
    let load_s = t.elapsed().as_secs_f64();

    // Every street: a round, opened (its snapshot), 90% of it sampled.
    let t = Instant::now();
    let now = clock.now_ms();
    let streets = store.streets().await?;
    let mut rounds = Vec::new();
    let mut registrations = 0usize;
    for s in &streets {
        let round = store
            .create_round(&gw_store::testing::RoundWrite {
                street_id: s.id,
                name: ROUND_NAME,
                starts_ms: now - 1,
                ends_ms: now + 86_400_000,
                pool_size: 10,
                created_by: "bench",
                now_ms: now,
                communities: &[],
            })
            .await?;
        store
            .open_round(s.id, round, now, |n| gw_store::audit::AuditRecord {
                street_id: s.id,
                at_ms: now,
                actor: "cli:bench".into(),
                action: "open_round".into(),
                target_kind: "round".into(),
                target_id: format!("{}-{round}", s.id),
                detail: format!("expected={n}"),
                address: String::new(),
            })
            .await?;
        let community = store.communities(None, Some(s.id)).await?[0].id;
        let point = store
            .add_point(s.id, round, "P", community, 1, &Default::default(), |id| {
                gw_store::audit::AuditRecord {
                    street_id: s.id,
                    at_ms: now,
                    actor: "cli:bench".into(),
                    action: "add_point".into(),
                    target_kind: "point".into(),
                    target_id: format!("{}-{id}", s.id),
                    ..Default::default()
                }
            })
            .await?;
        let tube = store
            .open_tube(s.id, round, point, "BENCH0001", 10, now)
            .await?;
        let tube = store.tube(s.id, tube).await?;
        let ids: Vec<i64> = store
            .code_identities(s.id, i64::MAX)
            .await?
            .into_iter()
            .enumerate()
            .filter(|(i, _)| i % 10 != 9)
            .map(|(_, r)| r.0)
            .collect();
        registrations += ids.len();
        store
            .raw_insert_registrations(&tube, &ids, 2_000, now, "raw")
            .await?;
        rounds.push((s.id, round));
    }
    let setup_s = t.elapsed().as_secs_f64();
    // Time the queries on a settled database (PostgreSQL: checkpointed,
    // vacuumed and analysed), not on one still writing out the bulk load.
    let t = Instant::now();
    store.settle_after_bulk_load().await?;
    let settle_s = t.elapsed().as_secs_f64();
    Ok(Loaded {
        residents,
        streets: streets.len(),
        registrations,
        first: *rounds.first().context("no street")?,
        seconds: json!({ "load": load_s, "rounds_and_swabs": setup_s, "settle": settle_s }),
    })
}

/// What a kept run left: its first street's bench round.
async fn find_loaded(store: &Store) -> Result<Loaded> {
    let streets = store.streets().await?;
    let street = streets.first().context("no street in this database")?.id;
    let round = store
        .rounds(street)
        .await?
        .into_iter()
        .find(|r| r.name == ROUND_NAME)
        .context("no bench round in this database (was it left by `bench coverage --keep`?)")?;
    Ok(Loaded {
        residents: store.resident_count().await? as u64,
        streets: streets.len(),
        registrations: store.registration_count().await? as usize,
        first: (street, round.id),
        seconds: json!({}),
    })
}
