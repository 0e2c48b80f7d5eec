//! `gridwarden bench scan`: registrations per second over HTTP on loopback
//! from S concurrent enrolled stations, each acknowledged only once durable,
//! with p50/p99 latency; in the same run the HTTP floor (the same client on an
//! endpoint that does no work) and the raw limit (durable multi-row inserts of
//! registrations through the same driver), and that limit again with one
//! commit per S rows (the most a group commit gathers from S waiting stations).

use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use gw_app::Clock;
use serde_json::json;

use crate::bench::{machine, Fresh};
use crate::bench_field::{percentile, prepare, station_code, Conn, Prepared};

/// Rows inserted for [`run`]'s `raw_at_stations` (small commits are slow).
const RAW_AT_STATIONS_ROWS: usize = 20_000;

pub async fn run(
    residents: u64,
    stations: usize,
    seconds: u64,
    db: Option<String>,
    seed: u64,
    json_out: bool,
) -> Result<()> {
    if stations == 0 || seconds == 0 {
        bail!("--stations and --seconds must be at least 1");
    }
    let clock = Clock::System;
    let mut fresh = Fresh::new(db)?;
    let store = fresh.make("scan").await?;
    let backend = store.backend().name();
    let Prepared {
        admin,
        street,
        ids,
        codes,
        tokens,
        ..
    } = prepare(&store, &clock, residents, seed, stations).await?;
    let raw_point = tokens[0].0;
    // The server, in this process, on loopback.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?.to_string();
    let server = tokio::spawn(gw_web::serve(
        listener,
        gw_web::AppState::new(gw_web::Services {
            store: store.clone(),
            clock: clock.clone(),
            secure_cookies: false,
            scans: gw_app::testing::ScanWriter::start(store.clone()),
            stations: Default::default(),
            alerts: gw_app::notify::Dispatcher::start(store.clone(), clock.clone()),
            tls: None,
            lan_origin: None,
            request_timeout: gw_web::listen::DEFAULT_REQUEST_TIMEOUT,
        }),
    ));
    let window = Duration::from_secs(seconds);

    // HTTP floor: the same client, an endpoint that does no work.
    let mut floor_tasks = Vec::new();
    for _ in 0..stations {
        let addr = addr.clone();
        floor_tasks.push(tokio::spawn(async move {
            let mut c = Conn::open(&addr).await?;
            let end = Instant::now() + window;
            let mut n = 0u64;
            while Instant::now() < end {
                c.call("GET", "/ping", "", "").await?;
                n += 1;
            }
            anyhow::Ok(n)
        }));
    }
    let mut floor_n = 0;
    for t in floor_tasks {
        floor_n += t.await??;
    }
    let http_floor = floor_n as f64 / seconds as f64;

    // Scans: each station opens a tube, fills it with ten codes, opens the next.
    let codes = std::sync::Arc::new(codes);
    let mut tasks = Vec::new();
    for (s, (point, token)) in tokens.into_iter().enumerate() {
        let addr = addr.clone();
        let codes = codes.clone();
        tasks.push(tokio::spawn(async move {
            let mut c = Conn::open(&addr).await?;
            let end = Instant::now() + window;
            let mut lat = Vec::new();
            let mut opens = Vec::new();
            let mut i = 0usize;
            let mut tube_n = 0;
            let mut duplicates = 0u64;
            while Instant::now() < end {
                let t0 = Instant::now();
                let (st, body) = c
                    .call(
                        "POST",
                        &format!("/api/v1/points/{point}/tubes"),
                        &token,
                        &format!("{{\"barcode\":\"B{s:03}{tube_n:07}\"}}"),
                    )
                    .await?;
                if st != 201 {
                    bail!("open tube: {st} {body}");
                }
                opens.push(t0.elapsed().as_secs_f64() * 1000.0);
                tube_n += 1;
                let tube = serde_json::from_str::<serde_json::Value>(&body)?["id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                for _ in 0..10 {
                    let code = station_code(&codes, stations, s, i);
                    let t0 = Instant::now();
                    let (st, body) = c
                        .call(
                            "POST",
                            &format!("/api/v1/tubes/{tube}/scans"),
                            &token,
                            &format!("{{\"client_id\":\"{s}-{i}\",\"code\":\"{code}\"}}"),
                        )
                        .await?;
                    if st != 200 {
                        bail!("scan: {st} {body}");
                    }
                    lat.push(t0.elapsed().as_secs_f64() * 1000.0);
                    if !body.contains("\"duplicate_of\":null") {
                        duplicates += 1;
                    }
                    i += 1;
                }
            }
            anyhow::Ok((lat, opens, duplicates))
        }));
    }
    let started = Instant::now();
    let mut lat = Vec::new();
    let mut opens = Vec::new();
    let mut duplicates = 0;
    for t in tasks {
        let (l, o, d) = t.await??;
        lat.extend(l);
        opens.extend(o);
        duplicates += d;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let rate = lat.len() as f64 / elapsed;
    lat.sort_by(|a, b| a.total_cmp(b));
    opens.sort_by(|a, b| a.total_cmp(b));
    server.abort();

    // Raw limit: the same number of registrations, durable, multi-row, 500 a transaction.
    let writer = gw_app::testing::ScanWriter::start(store.clone());
    let (tube, _) = gw_app::testing::open_tube(
        &store,
        &clock,
        &admin,
        &writer,
        raw_point,
        "RAW0000001",
        gw_app::testing::TubeUse::Pool,
        false,
    )
    .await?;
    let tube_row = store.tube(street, tube.id).await?;
    let who: Vec<i64> = ids
        .iter()
        .map(|(id, _, _)| *id)
        .cycle()
        .take(lat.len().max(1000))
        .collect();
    let t0 = Instant::now();
    store
        .raw_insert_registrations(&tube_row, &who, 500, clock.now_ms(), "raw")
        .await?;
    let raw_limit = who.len() as f64 / t0.elapsed().as_secs_f64();
    // The same inserts with one commit per `stations` rows: the most any
    // group commit can gather while each station waits for its answer, so
    // (one writer at a time, as on SQLite) a ceiling on the scan rate.
    let few = &who[..who.len().min(RAW_AT_STATIONS_ROWS)];
    let t0 = Instant::now();
    store
        .raw_insert_registrations(&tube_row, few, stations, clock.now_ms(), "raw-s")
        .await?;
    let raw_at_stations = few.len() as f64 / t0.elapsed().as_secs_f64();
    store.close().await;
    fresh.cleanup().await?;

    let ratio = rate / http_floor.min(raw_limit);
    // The ratio no scan path could pass with one writer at a time.
    let ratio_ceiling = raw_at_stations / http_floor.min(raw_limit);
    let out = json!({
        "bench": "scan", "backend": backend, "residents": residents, "stations": stations, "seconds": seconds,
        "registrations": lat.len(), "duplicates": duplicates, "rate": rate, "http_floor": http_floor, "raw_limit": raw_limit, "ratio": ratio,
        "raw_at_stations": raw_at_stations, "ratio_ceiling": ratio_ceiling,
        "p50_ms": percentile(&lat, 0.5), "p99_ms": percentile(&lat, 0.99),
        "tubes_opened": opens.len(), "open_tube_p50_ms": percentile(&opens, 0.5), "open_tube_p99_ms": percentile(&opens, 0.99),
        "durability": if backend == "sqlite" { "WAL, synchronous=FULL" } else { "synchronous_commit=on" },
        "machine": machine(),
    });
    if json_out {
        println!("{out}");
    } else {
        println!("bench scan ({backend}, {residents} residents, {stations} stations, {seconds}s)");
        println!(
            "  scans           {rate:>10.0} /s  p50 {:.1} ms  p99 {:.1} ms",
            percentile(&lat, 0.5),
            percentile(&lat, 0.99)
        );
        println!(
            "  tube openings   {:>10} p50 {:.1} ms  p99 {:.1} ms (one per ten scans, not in the scan figures)",
            opens.len(),
            percentile(&opens, 0.5),
            percentile(&opens, 0.99)
        );
        println!("  second swabs    {duplicates:>10} (answered as duplicates: every resident is swabbed once first)");
        println!("  HTTP floor      {http_floor:>10.0} /s");
        println!("  raw limit       {raw_limit:>10.0} /s");
        println!("  ratio           {ratio:>10.2}");
        println!("  raw, {stations:>3} a commit {raw_at_stations:>10.0} /s (the most a commit can gather from {stations} waiting stations)");
        println!("  ratio ceiling   {ratio_ceiling:>10.2} (that rate ÷ the smaller limit: one writer at a time, no HTTP, no checks)");
    }
    Ok(())
}
