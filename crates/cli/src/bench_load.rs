//! `gridwarden bench load`: the scan endpoint held at a target rate for a
//! bounded time from S enrolled stations, while a command post reads the
//! round's coverage and missed lists; the server is a second process
//! (`gridwarden serve`) on loopback. Reports errors (expected 0), the rate
//! achieved and p50/p99 of scans and of each kind of read.

use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use gw_app::Clock;
use gw_domain::access::{Node, Role};
use gw_store::Store;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::bench::{machine, Fresh};
use crate::bench_field::{percentile, prepare, station_code, Conn};

/// A request with no answer within this time counts as an error, so a run
/// stays bounded in time even when the server stalls.
const PATIENCE: Duration = Duration::from_secs(30);

async fn timed(
    f: impl std::future::Future<Output = Result<(u16, String)>>,
) -> Result<(u16, String)> {
    tokio::time::timeout(PATIENCE, f)
        .await
        .unwrap_or_else(|_| Err(anyhow::anyhow!("no answer within {} s", PATIENCE.as_secs())))
}

pub struct LoadArgs {
    pub residents: u64,
    pub stations: usize,
    pub seconds: u64,
    pub rate: f64,
    pub reads_per_second: f64,
    pub db: Option<String>,
    pub seed: u64,
    pub json: bool,
}

/// Latencies (ms) and error count of one kind of request.
#[derive(Default)]
struct Tally {
    ms: Vec<f64>,
    errors: u64,
    first_error: Option<String>,
}

impl Tally {
    fn add(&mut self, t0: Instant, r: Result<(u16, String)>, ok: u16) {
        match r {
            Ok((st, _)) if st == ok => self.ms.push(t0.elapsed().as_secs_f64() * 1000.0),
            Ok((st, body)) => self.fail(format!("{st} {body}")),
            Err(e) => self.fail(e.to_string()),
        }
    }
    fn fail(&mut self, e: String) {
        self.errors += 1;
        self.first_error.get_or_insert(e);
    }
    fn merge(&mut self, o: Tally) {
        self.ms.extend(o.ms);
        self.errors += o.errors;
        if self.first_error.is_none() {
            self.first_error = o.first_error;
        }
    }
    fn report(&mut self) -> serde_json::Value {
        self.ms.sort_by(|a, b| a.total_cmp(b));
        json!({
            "count": self.ms.len(), "errors": self.errors, "first_error": self.first_error,
            "p50_ms": percentile(&self.ms, 0.5), "p99_ms": percentile(&self.ms, 0.99),
            "max_ms": self.ms.last().copied().unwrap_or(0.0),
        })
    }
}

/// `gridwarden serve` on the database, as a child process; killed on drop.
struct ServerProcess {
    /// Killed when dropped (`kill_on_drop`).
    _child: tokio::process::Child,
    addr: String,
}

impl ServerProcess {
    async fn start(url: &str) -> Result<ServerProcess> {
        let mut child = tokio::process::Command::new(std::env::current_exe()?)
            .args(["serve", "--db", url, "--bind", "127.0.0.1:0"])
            .env("GRIDWARDEN_LOG", "warn")
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("start gridwarden serve")?;
        let out = child.stdout.take().context("server stdout")?;
        let mut line = String::new();
        BufReader::new(out).read_line(&mut line).await?;
        let addr = line
            .split("http://")
            .nth(1)
            .and_then(|r| r.split('/').next())
            .with_context(|| format!("server did not print its address: {line}"))?
            .to_string();
        Ok(ServerProcess {
            _child: child,
            addr,
        })
    }
}

pub async fn run(a: LoadArgs) -> Result<()> {
    if a.stations == 0 || a.stations > 500 {
        bail!("--stations must be 1 to 500");
    }
    if a.seconds == 0 || a.seconds > 3600 {
        bail!("--seconds must be 1 to 3600 (the run is bounded)");
    }
    if !(1.0..=50_000.0).contains(&a.rate) || !(0.0..=1000.0).contains(&a.reads_per_second) {
        bail!("--rate must be 1 to 50000 scans/s and --reads 0 to 1000 /s");
    }
    let clock = Clock::System;
    let mut fresh = Fresh::new(a.db.clone())?;
    let url = fresh.make_url("load").await?;
    let store = Store::open(&url).await?;
    let backend = store.backend().name();
    let p = prepare(&store, &clock, a.residents, a.seed, a.stations).await?;
    // The command post: a street commander's session.
    let (uid, first_pw) =
        gw_app::access::add_user(&store, &clock, "bench", "bench-reader", "指挥部", None).await?;
    gw_app::access::grant(
        &store,
        &clock,
        "bench",
        uid,
        Role::StreetCommander,
        Node::Street { id: p.street },
        None,
        None,
    )
    .await?;
    let s = gw_app::access::login(&store, &clock, "bench-reader", &first_pw, "bench").await?;
    let pw = format!("{first_pw}-bench");
    gw_app::access::change_password(&store, &clock, &s.user, &first_pw, &pw).await?;
    let reader = gw_app::access::login(&store, &clock, "bench-reader", &pw, "bench")
        .await?
        .token;
    let round = p.round.to_string();
    store.close().await;

    let server = ServerProcess::start(&url).await?;
    let addr = server.addr.clone();
    let window = Duration::from_secs(a.seconds);
    let started = Instant::now();
    let end = started + window;
    // Each station is paced to its share of the rate (open loop: a slow
    // answer delays that station's next scan, never adds extra ones).
    let interval = Duration::from_secs_f64(a.stations as f64 / a.rate);
    let codes = std::sync::Arc::new(p.codes);
    let mut stations = Vec::new();
    for (s, (point, token)) in p.tokens.into_iter().enumerate() {
        let (addr, codes) = (addr.clone(), codes.clone());
        stations.push(tokio::spawn(async move {
            let mut t = Tally::default();
            let mut c = Conn::open(&addr).await?;
            let mut next = Instant::now() + interval.mul_f64(s as f64 / a.stations as f64);
            let (mut i, mut tube_n) = (0usize, 0usize);
            let mut tube = String::new();
            while next < end && Instant::now() < end {
                tokio::time::sleep_until(next.into()).await;
                next += interval;
                if i % 10 == 0 {
                    let (st, body) = c
                        .call(
                            "POST",
                            &format!("/api/v1/points/{point}/tubes"),
                            &token,
                            &format!("{{\"barcode\":\"L{s:03}{tube_n:07}\"}}"),
                        )
                        .await?;
                    if st != 201 {
                        bail!("open tube: {st} {body}");
                    }
                    tube_n += 1;
                    tube = serde_json::from_str::<serde_json::Value>(&body)?["id"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string();
                }
                let code = station_code(&codes, a.stations, s, i);
                let t0 = Instant::now();
                let r = timed(c.call(
                    "POST",
                    &format!("/api/v1/tubes/{tube}/scans"),
                    &token,
                    &format!("{{\"client_id\":\"load-{s}-{i}\",\"code\":\"{code}\"}}"),
                ))
                .await;
                if r.is_err() {
                    c = Conn::open(&addr).await?;
                }
                t.add(t0, r, 200);
                i += 1;
            }
            anyhow::Ok(t)
        }));
    }
    // The command post reads coverage, then a grid's missed list, in turn.
    let read_task = tokio::spawn(async move {
        let (mut cov, mut missed) = (Tally::default(), Tally::default());
        if a.reads_per_second <= 0.0 {
            return anyhow::Ok((cov, missed));
        }
        let every = Duration::from_secs_f64(1.0 / a.reads_per_second);
        let mut c = Conn::open(&addr).await?;
        let mut grids: Vec<String> = Vec::new();
        let mut next = Instant::now();
        let mut n = 0usize;
        while next < end && Instant::now() < end {
            tokio::time::sleep_until(next.into()).await;
            next += every;
            let t0 = Instant::now();
            if n.is_multiple_of(2) || grids.is_empty() {
                let r = timed(c.call(
                    "GET",
                    &format!("/api/v1/rounds/{round}/coverage"),
                    &reader,
                    "",
                ))
                .await;
                if let Ok((200, body)) = &r {
                    let v: serde_json::Value = serde_json::from_str(body)?;
                    grids = v["rows"]
                        .as_array()
                        .map(|g| {
                            g.iter()
                                .filter_map(|g| g["key"].as_str().map(str::to_string))
                                .collect()
                        })
                        .unwrap_or_default();
                }
                if r.is_err() {
                    c = Conn::open(&addr).await?;
                }
                cov.add(t0, r, 200);
            } else {
                let g = &grids[(n / 2) % grids.len()];
                let r = timed(c.call(
                    "GET",
                    &format!("/api/v1/rounds/{round}/missed?grid={g}"),
                    &reader,
                    "",
                ))
                .await;
                if r.is_err() {
                    c = Conn::open(&addr).await?;
                }
                missed.add(t0, r, 200);
            }
            n += 1;
        }
        anyhow::Ok((cov, missed))
    });
    let mut scans = Tally::default();
    for t in stations {
        scans.merge(t.await??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let (mut cov, mut missed) = read_task.await??;
    drop(server);
    fresh.cleanup().await?;

    let achieved = scans.ms.len() as f64 / elapsed;
    let errors = scans.errors + cov.errors + missed.errors;
    let out = json!({
        "bench": "load", "backend": backend, "server": "separate process on loopback",
        "residents": a.residents, "stations": a.stations, "seconds": a.seconds,
        "target_rate": a.rate, "achieved_rate": achieved, "errors": errors,
        "scans": scans.report(), "coverage": cov.report(), "missed": missed.report(),
        "machine": machine(),
    });
    if a.json {
        println!("{out}");
    } else {
        println!(
            "bench load ({backend}, {} residents, {} stations, {}s, target {} scans/s)",
            a.residents, a.stations, a.seconds, a.rate
        );
        for (name, v) in [
            ("scans", &out["scans"]),
            ("coverage", &out["coverage"]),
            ("missed", &out["missed"]),
        ] {
            println!(
                "  {name:<9} {:>8} ok  {:>4} errors  p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms",
                v["count"],
                v["errors"],
                v["p50_ms"].as_f64().unwrap_or(0.0),
                v["p99_ms"].as_f64().unwrap_or(0.0),
                v["max_ms"].as_f64().unwrap_or(0.0)
            );
        }
        println!("  achieved  {achieved:>8.0} scans/s");
    }
    if errors > 0 {
        bail!("{errors} requests failed under load");
    }
    if achieved < a.rate * 0.9 {
        bail!(
            "achieved {achieved:.0} scans/s, below 90% of the target {}",
            a.rate
        );
    }
    Ok(())
}
