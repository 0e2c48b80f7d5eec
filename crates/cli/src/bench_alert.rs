//! `gridwarden bench alert`: from a lab's abnormal result to the group
//! robot's receipt. A local receiver plays the WeCom robot; the result is
//! recorded through the same use case the API calls, the server's dispatcher
//! delivers over real HTTP on loopback.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use gw_app::Clock;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::bench::{machine, Fresh};
use crate::bench_field::{percentile, prepare, Desk};

/// A robot on loopback: answers like WeCom, reports each arrival.
async fn robot() -> Result<(String, tokio::sync::mpsc::UnboundedReceiver<Instant>)> {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/cgi-bin/webhook/send?key=bench", l.local_addr()?);
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let Ok(n) = s.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).to_string();
                    if let Some((head, body)) = text.split_once("\r\n\r\n") {
                        let len: usize = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .and_then(|v| v.trim().parse().ok())
                            })
                            .unwrap_or(0);
                        if body.len() >= len {
                            break;
                        }
                    }
                }
                let _ = tx.send(Instant::now());
                let answer = r#"{"errcode":0,"errmsg":"ok"}"#;
                let _ = s
                    .write_all(
                        format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                            answer.len()
                        )
                        .as_bytes(),
                    )
                    .await;
            });
        }
    });
    Ok((url, rx))
}

pub async fn run(alerts: usize, db: Option<String>, seed: u64, json_out: bool) -> Result<()> {
    let clock = Clock::System;
    let mut fresh = Fresh::new(db)?;
    let store = fresh.make("alert").await?;
    let backend = store.backend().name();
    let n = alerts.max(1);
    let f = prepare(&store, &clock, (n as u64 * 10).max(100), seed, 1).await?;
    let (url, mut arrivals) = robot().await?;
    gw_app::notify::add_channel(&store, &clock, &f.admin, f.street, "wecom", &url, "").await?;
    let dispatcher = gw_app::notify::Dispatcher::start(store.clone(), clock.clone());
    let desk = Desk {
        store: store.clone(),
        clock: clock.clone(),
        admin: std::sync::Arc::new(f.admin.clone()),
        writer: gw_app::testing::ScanWriter::start(store.clone()),
    };
    let point = f.tokens[0].0;
    let mut lat = Vec::with_capacity(n);
    for i in 0..n {
        let barcode = format!("ALERT{i:05}");
        let tube = desk.open(point, &barcode).await?;
        for (j, code) in f.codes[i * 10..i * 10 + 10].iter().enumerate() {
            desk.swab(tube, &format!("a{i}-{j}"), code).await?;
        }
        let t = Instant::now();
        let sum = gw_app::testing::post_results(
            &store,
            &clock,
            &f.admin,
            f.round,
            &[gw_app::testing::TubeResult {
                barcode,
                result: "abnormal".into(),
            }],
            None,
        )
        .await?;
        anyhow::ensure!(sum.notifications == 1, "one message per alert expected");
        dispatcher.wake();
        let arrived = tokio::time::timeout(Duration::from_secs(30), arrivals.recv())
            .await
            .context("the robot heard nothing within 30 s")?
            .context("robot stopped")?;
        lat.push(arrived.duration_since(t).as_secs_f64() * 1000.0);
    }
    store.close().await;
    fresh.cleanup().await?;
    lat.sort_by(f64::total_cmp);
    let out = json!({
        "bench": "alert",
        "backend": backend,
        "alerts": n,
        "p50_ms": percentile(&lat, 0.5),
        "p99_ms": percentile(&lat, 0.99),
        "max_ms": lat.last().copied().unwrap_or(0.0),
        "path": "lab result recorded (one transaction: alert, retests, control, disinfection task, outbox) → dispatcher → HTTP POST on loopback → robot",
        "machine": machine(),
    });
    if json_out {
        println!("{out}");
    } else {
        println!(
            "bench alert ({backend}, {n} abnormal pools): result → robot p50 {:.1} ms, p99 {:.1} ms",
            percentile(&lat, 0.5),
            percentile(&lat, 0.99)
        );
    }
    Ok(())
}
