//! What the HTTP benchmarks share: a keep-alive HTTP/1.1 client, percentiles,
//! and a prepared street (demo residents, an open round, personal codes, one
//! point and one enrolled station per simulated station).

use anyhow::{Context, Result};
use gw_app::access::Principal;
use gw_app::Clock;
use gw_domain::access::{Grant, Node, Role};
use gw_domain::ids::Key;
use gw_domain::testing::PersonalCode;
use gw_store::Store;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// A keep-alive HTTP/1.1 connection (just enough for JSON requests).
pub(crate) struct Conn {
    io: BufReader<TcpStream>,
    addr: String,
}

impl Conn {
    pub(crate) async fn open(addr: &str) -> Result<Conn> {
        let s = TcpStream::connect(addr).await?;
        s.set_nodelay(true)?;
        Ok(Conn {
            io: BufReader::new(s),
            addr: addr.to_string(),
        })
    }

    pub(crate) async fn call(
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

pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// A street ready for scanning.
pub(crate) struct Prepared {
    pub admin: Principal,
    pub street: i64,
    pub round: Key,
    /// `(resident id, uid, generation)` of the street's residents.
    pub ids: Vec<(i64, String, i64)>,
    /// Their personal codes, in the same order.
    pub codes: Vec<String>,
    /// One `(point, station token)` per station.
    pub tokens: Vec<(Key, String)>,
}

/// The code station `s` of `stations` scans at its `i`-th scan: the stations
/// share the street out between them (station `s` takes every `stations`-th
/// resident), so each resident is swabbed once until the street is done, as
/// in a round; only then do second swabs (stored as duplicates) begin.
pub(crate) fn station_code(codes: &[String], stations: usize, s: usize, i: usize) -> &str {
    &codes[(i * stations + s) % codes.len()]
}

pub(crate) async fn prepare(
    store: &Store,
    clock: &Clock,
    residents: u64,
    seed: u64,
    stations: usize,
) -> Result<Prepared> {
    let spec = gw_domain::demo::DemoSpec {
        residents,
        seed,
        today: clock.today(),
    };
    gw_app::demo::load(store, clock, &spec, &|_, _, _| {}).await?;
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
        store,
        clock,
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
    gw_app::testing::open_round(store, clock, &admin, round).await?;
    // Codes for the street's residents (made in memory with the server's key).
    let ids = store
        .code_identities(street, i64::try_from(residents).unwrap_or(i64::MAX))
        .await?;
    let first = gw_app::codes::code_for(
        store,
        clock,
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
        let point = gw_app::schedule::add_point(
            store,
            clock,
            &admin,
            round,
            &format!("P{i}"),
            Key {
                street,
                id: community,
            },
            1,
            gw_app::schedule::PointSchedule::default(),
        )
        .await?;
        let issued = gw_app::stations::issue(store, clock, &admin, point, "bench").await?;
        let e = gw_app::stations::enroll(store, clock, &issued.enroll_code)
            .await?
            .context("enroll")?;
        tokens.push((point, e.token));
    }
    Ok(Prepared {
        admin,
        street,
        round,
        ids,
        codes,
        tokens,
    })
}

/// What an in-process benchmark needs to open tubes and swab into them
/// through the same use cases the API calls, as the street's admin.
#[derive(Clone)]
pub(crate) struct Desk {
    pub store: Store,
    pub clock: Clock,
    pub admin: std::sync::Arc<Principal>,
    pub writer: gw_app::testing::ScanWriter,
}

impl Desk {
    /// Opens a pooled tube at `point`.
    pub(crate) async fn open(&self, point: Key, barcode: &str) -> Result<Key> {
        let (tube, _) = gw_app::testing::open_tube(
            &self.store,
            &self.clock,
            &self.admin,
            &self.writer,
            point,
            barcode,
            gw_app::testing::TubeUse::Pool,
            false,
        )
        .await?;
        Ok(tube)
    }

    /// A routine swab of `code` into `tube`, taken now.
    pub(crate) async fn swab(
        &self,
        tube: Key,
        client_id: &str,
        code: &str,
    ) -> Result<gw_app::testing::ScanOutcome> {
        Ok(gw_app::testing::scan(
            &self.store,
            &self.clock,
            &self.admin,
            &self.writer,
            &gw_app::testing::Scan {
                tube,
                client_id,
                code,
                purpose: "routine",
                station: "bench",
                walk_in: None,
                scanned_ms: self.clock.now_ms(),
                sent_ms: None,
            },
        )
        .await?)
    }
}
