//! `gridwarden bench results`: a lab's whole file recorded in one
//! transaction while stations go on scanning. How long the file takes, and
//! what it does to the scans beside it (on SQLite the file holds the
//! database's write lock until it commits; the scans' group commit waits).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use gw_app::Clock;
use serde_json::json;

use crate::bench::{machine, Fresh};
use crate::bench_field::{percentile, prepare, Desk};

/// One in this many of the file's tubes is an abnormal pool, and one in
/// [`INVALID_EVERY`] invalid; the rest are negative.
const ABNORMAL_EVERY: usize = 200;
const INVALID_EVERY: usize = 100;

/// Swabs a filled tube holds (the round's pool size).
const POOL: usize = 10;

pub async fn run(
    tubes: usize,
    stations: usize,
    db: Option<String>,
    seed: u64,
    json_out: bool,
) -> Result<()> {
    let tubes = tubes.max(1);
    let stations = stations.max(1);
    let clock = Clock::System;
    let mut fresh = Fresh::new(db)?;
    let store = fresh.make("results").await?;
    let backend = store.backend().name();
    // The file's residents first, then as many again for the live stations.
    let f = prepare(
        &store,
        &clock,
        (2 * tubes * POOL).max(2_000) as u64,
        seed,
        stations,
    )
    .await?;
    // The round is one street's, and a demo street has at most its default
    // shape's residents: the file and the live stations share them.
    anyhow::ensure!(
        tubes * POOL + 1_000 <= f.codes.len(),
        "--tubes {tubes}: one street has {} residents, enough for at most {} tubes of {POOL} with 1,000 left for the live stations",
        f.codes.len(),
        f.codes.len().saturating_sub(1_000) / POOL
    );
    let live_residents = f.codes.len() - tubes * POOL;
    let desk = Desk {
        store: store.clone(),
        clock: clock.clone(),
        admin: Arc::new(f.admin.clone()),
        writer: gw_app::testing::ScanWriter::start(store.clone()),
    };
    let codes = Arc::new(f.codes);

    // The file's tubes, filled through the scan path by as many tasks as stations.
    let filled = Instant::now();
    let mut fill = Vec::new();
    for s in 0..stations {
        let (desk, codes) = (desk.clone(), codes.clone());
        let point = f.tokens[s].0;
        fill.push(tokio::spawn(async move {
            for t in (s..tubes).step_by(stations) {
                let tube = desk.open(point, &format!("F{t:07}")).await?;
                for (j, code) in codes[t * POOL..(t + 1) * POOL].iter().enumerate() {
                    desk.swab(tube, &format!("f{t}-{j}"), code).await?;
                }
            }
            anyhow::Ok(())
        }));
    }
    for t in fill {
        t.await??;
    }
    let fill_s = filled.elapsed().as_secs_f64();

    // Live stations: each opens its own tubes and scans the other residents,
    // noting when each scan began and how long it waited.
    let stop = Arc::new(AtomicBool::new(false));
    let origin = Instant::now();
    let mut live = Vec::new();
    for s in 0..stations {
        let (desk, codes, stop) = (desk.clone(), codes.clone(), stop.clone());
        let point = f.tokens[s].0;
        live.push(tokio::spawn(async move {
            let mut seen: Vec<(f64, f64)> = Vec::new();
            let mut i = 0usize;
            let mut n = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let tube = desk.open(point, &format!("L{s:03}{n:06}")).await?;
                n += 1;
                for _ in 0..POOL {
                    let code = &codes[tubes * POOL + (i * stations + s) % live_residents];
                    let t0 = Instant::now();
                    desk.swab(tube, &format!("l{s}-{i}"), code).await?;
                    seen.push((
                        t0.duration_since(origin).as_secs_f64(),
                        t0.elapsed().as_secs_f64() * 1000.0,
                    ));
                    i += 1;
                }
            }
            anyhow::Ok(seen)
        }));
    }

    // Two seconds of scans alone, then the file, then one more second.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let results: Vec<gw_app::testing::TubeResult> = (0..tubes)
        .map(|t| gw_app::testing::TubeResult {
            barcode: format!("F{t:07}"),
            result: if t % ABNORMAL_EVERY == ABNORMAL_EVERY / 2 {
                "abnormal"
            } else if t % INVALID_EVERY == INVALID_EVERY / 3 {
                "invalid"
            } else {
                "negative"
            }
            .into(),
        })
        .collect();
    let began = origin.elapsed().as_secs_f64();
    let sum =
        gw_app::testing::post_results(&store, &clock, &f.admin, f.round, &results, None).await?;
    let ended = origin.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    let (mut before, mut during) = (Vec::new(), Vec::new());
    for t in live {
        for (at, ms) in t.await?? {
            if at + ms / 1000.0 < began {
                before.push(ms);
            } else if at < ended {
                during.push(ms);
            }
        }
    }
    store.close().await;
    fresh.cleanup().await?;
    before.sort_by(f64::total_cmp);
    during.sort_by(f64::total_cmp);
    anyhow::ensure!(
        sum.recorded == tubes,
        "{} of {tubes} results recorded",
        sum.recorded
    );
    let file_ms = (ended - began) * 1000.0;
    let out = json!({
        "bench": "results",
        "backend": backend,
        "tubes": tubes,
        "swabs": tubes * POOL,
        "abnormal": sum.alerts.len(),
        "invalid": sum.invalid,
        "file_ms": file_ms,
        "fill_s": fill_s,
        "stations": stations,
        "scans_before": before.len(),
        "scan_p50_ms_before": percentile(&before, 0.5),
        "scan_p99_ms_before": percentile(&before, 0.99),
        "scans_during": during.len(),
        "scan_p50_ms_during": percentile(&during, 0.5),
        "scan_p99_ms_during": percentile(&during, 0.99),
        "scan_max_ms_during": during.last().copied().unwrap_or(0.0),
        "path": "post_results (the use case the API's JSON post and a lab file both call): one transaction for the file; live scans through the same group-commit writer, in process",
        "machine": machine(),
    });
    if json_out {
        println!("{out}");
    } else {
        println!(
            "bench results ({backend}, a file of {tubes} tubes: {} abnormal, {} invalid)",
            sum.alerts.len(),
            sum.invalid
        );
        println!("  file recorded in     {file_ms:>8.0} ms");
        println!(
            "  scans before         {:>8}  p50 {:.1} ms  p99 {:.1} ms",
            before.len(),
            percentile(&before, 0.5),
            percentile(&before, 0.99)
        );
        println!(
            "  scans during the file{:>8}  p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms",
            during.len(),
            percentile(&during, 0.5),
            percentile(&during, 0.99),
            during.last().copied().unwrap_or(0.0)
        );
    }
    Ok(())
}
