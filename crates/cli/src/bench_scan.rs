//! `gridwarden bench scan`: registrations per second over HTTP on loopback
//! from S concurrent enrolled stations, each acknowledged only once durable,
//! with p50/p99 latency; in the same run the HTTP floor (the same client on an
//! endpoint that does no work) and the raw limit (durable multi-row inserts of
//! registrations through the same driver).

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use gw_app::access::Principal;
use gw_app::Clock;
use gw_domain::access::{Grant, Node, Role};
use gw_domain::ids::Key;
use gw_domain::testing::PersonalCode;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::bench::{machine, Fresh};

/// A keep-alive HTTP/1.1 connection (just enough for JSON requests).
struct Conn {
    io: BufReader<TcpStream>,
    addr: String,
}

impl Conn {
    async fn open(addr: &str) -> Result<Conn> {
        let s = TcpStream::connect(addr).await?;
        s.set_nodelay(true)?;
        Ok(Conn {
            io: BufReader::new(s),
            addr: addr.to_string(),
        })
    }

    async fn call(
        &mut self,
        method: &str,
        path: &str,
        token: &str,
        body: &str,
    ) -> Result<(u16, String)> {
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.addr,
            body.len()
        );
        self.io.get_mut().write_all(req.as_bytes()).await?;
        let mut line = String::new();
        self.io.read_line(&mut line).await?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .context("HTTP status")?;
        let mut len = 0usize;
        loop {
            line.clear();
            self.io.read_line(&mut line).await?;
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                len = v.trim().parse()?;
            }
        }
        let mut buf = vec![0; len];
        self.io.read_exact(&mut buf).await?;
        Ok((status, String::from_utf8_lossy(&buf).to_string()))
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

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
    let spec = gw_domain::demo::DemoSpec {
        residents,
        seed,
        today: clock.today(),
    };
    gw_app::demo::load(&store, &clock, &spec, &|_, _, _| {}).await?;
    let street = store.streets().await?[0].id;
    let community = store.communities(None, Some(street)).await?[0].id;
    let admin = Principal {
        user_id: 0,
        username: "bench".into(),
        display_name: "bench".into(),
        must_change_password: false,
        grants: vec![Grant {
            role: Role::Admin,
            node: Node::City,
            from_ms: 0,
            until_ms: None,
        }],
    };
    let now = clock.now_ms();
    let round = gw_app::testing::create_round(
        &store,
        &clock,
        &admin,
        &gw_app::testing::NewRound {
            street,
            name: "bench",
            starts_ms: now - 1,
            ends_ms: now + 86_400_000,
            pool_size: 10,
            communities: Vec::new(),
        },
    )
    .await?;
    gw_app::testing::open_round(&store, &clock, &admin, round).await?;
    // Codes for the street's residents (made in memory with the server's key).
    let ids = store
        .code_identities(street, i64::try_from(residents).unwrap_or(i64::MAX))
        .await?;
    let first = gw_app::codes::code_for(
        &store,
        &clock,
        Key {
            street,
            id: ids[0].0,
        },
    )
    .await?;
    let secret = store
        .signing_keys()
        .await?
        .into_iter()
        .find(|(id, _)| *id == i64::from(first.key_id))
        .map(|(_, s)| s)
        .context("key")?;
    let secret: Vec<u8> = (0..secret.len() / 2)
        .filter_map(|i| u8::from_str_radix(&secret[2 * i..2 * i + 2], 16).ok())
        .collect();
    let codes: Vec<String> = ids
        .iter()
        .map(|(_, uid, g)| {
            PersonalCode::issue(first.key_id, &secret, street, uid, *g as u32).text()
        })
        .collect();
    // One point and one enrolled station token per station.
    let mut tokens = Vec::new();
    for i in 0..stations {
        let point = gw_app::testing::add_point(
            &store,
            &clock,
            &admin,
            round,
            &format!("P{i}"),
            Key {
                street,
                id: community,
            },
            1,
        )
        .await?;
        let issued = gw_app::stations::issue(&store, &clock, &admin, point, "bench").await?;
        let e = gw_app::stations::enroll(&store, &clock, &issued.enroll_code)
            .await?
            .context("enroll")?;
        tokens.push((point, e.token));
    }
    let raw_point = tokens[0].0;
    // The server, in this process, on loopback.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?.to_string();
    let server = tokio::spawn(gw_web::serve(
        listener,
        gw_web::AppState {
            store: store.clone(),
            clock: clock.clone(),
            secure_cookies: false,
            scans: gw_app::testing::ScanWriter::start(store.clone()),
            alerts: gw_app::notify::Dispatcher::start(store.clone(), clock.clone()),
        },
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
            let mut i = 0usize;
            let mut tube_n = 0;
            while Instant::now() < end {
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
                tube_n += 1;
                let tube = serde_json::from_str::<serde_json::Value>(&body)?["id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                for _ in 0..10 {
                    let code = &codes[(s * 7919 + i * 20 + s) % codes.len()];
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
                    i += 1;
                }
            }
            anyhow::Ok(lat)
        }));
    }
    let started = Instant::now();
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let rate = lat.len() as f64 / elapsed;
    lat.sort_by(|a, b| a.total_cmp(b));
    server.abort();

    // Raw limit: the same number of registrations, durable, multi-row, 500 a transaction.
    let (tube, _) =
        gw_app::testing::open_tube(&store, &clock, &admin, raw_point, "RAW0000001").await?;
    let tube_row = store.tube(street, tube.id).await?;
    let who: Vec<i64> = ids
        .iter()
        .map(|(id, _, _)| *id)
        .cycle()
        .take(lat.len().max(1000))
        .collect();
    let t0 = Instant::now();
    store
        .raw_insert_registrations(&tube_row, &who, 500, clock.now_ms())
        .await?;
    let raw_limit = who.len() as f64 / t0.elapsed().as_secs_f64();
    store.close().await;
    fresh.cleanup().await?;

    let ratio = rate / http_floor.min(raw_limit);
    let out = json!({
        "bench": "scan", "backend": backend, "residents": residents, "stations": stations, "seconds": seconds,
        "registrations": lat.len(), "rate": rate, "http_floor": http_floor, "raw_limit": raw_limit, "ratio": ratio,
        "p50_ms": percentile(&lat, 0.5), "p99_ms": percentile(&lat, 0.99),
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
        println!("  HTTP floor      {http_floor:>10.0} /s");
        println!("  raw limit       {raw_limit:>10.0} /s");
        println!("  ratio           {ratio:>10.2}");
    }
    Ok(())
}
