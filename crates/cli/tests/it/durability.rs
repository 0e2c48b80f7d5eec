//! Crash durability over real processes: the server is killed with SIGKILL
//! under concurrent scans at seeded random moments and restarted; a full disk
//! (a small tmpfs) and a PostgreSQL cluster restarted under the server give
//! clear errors and recover without manual repair. Every scan acknowledged
//! with success is stored exactly once; an unacknowledged one is stored whole
//! or not at all, and its retry applies it exactly once.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gw_domain::rng::Rng;
use serde_json::{json, Value};

use crate::harness::{open_round, residents_with_codes, round_body, Server, TestEnv};

fn announce(msg: &str) {
    let _ = writeln!(std::io::stderr(), "[gridwarden tests] {msg}");
}

/// One HTTP exchange that may fail: the server can die under it. A reply
/// counts only if it arrives whole (status and a complete JSON body).
pub fn call(
    addr: &str,
    token: &str,
    method: &str,
    path: &str,
    body: &str,
) -> Result<(u16, Value), String> {
    let mut s = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
    let _ = s.set_read_timeout(Some(Duration::from_secs(120)));
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes())
        .map_err(|e| format!("send: {e}"))?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).map_err(|e| format!("read: {e}"))?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").ok_or("no HTTP answer")?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or("no HTTP status")?;
    let v = serde_json::from_str(body).map_err(|e| format!("incomplete answer ({e}): {body}"))?;
    Ok((status, v))
}

/// A street with residents, an open round, two points, a session token and
/// every resident's personal code.
pub struct Field {
    pub env: TestEnv,
    pub token: String,
    pub round: String,
    pub points: Vec<String>,
    pub codes: Vec<String>,
}

pub async fn field(env: TestEnv, residents: usize) -> (Field, Server) {
    env.cli_ok(&[
        "demo",
        "--residents",
        &residents.to_string(),
        "--seed",
        "8",
        "--no-serve",
    ]);
    let pw = env.account("chief", "street_commander", &["--street", "鸿城街道"]);
    let mut srv = env.serve();
    let token = srv.login("chief", &pw);
    srv.token = Some(token.clone());
    let store = env.store().await;
    let street = store.streets().await.unwrap()[0].id;
    let community = store.communities(None, Some(street)).await.unwrap()[0].id;
    store.close().await;
    let (round, _) = open_round(|p, b| srv.post(p, b), &round_body(street, "全员核酸第1轮"));
    let points = (0..2)
        .map(|i| {
            let p = srv.post(
                &format!("/api/v1/rounds/{round}/points"),
                &json!({ "name": format!("{i}号采样点"), "community": format!("{street}-{community}") }),
            );
            assert_eq!(p.status, 201, "{}", p.body);
            p.json()["id"].as_str().unwrap().to_string()
        })
        .collect();
    let codes = residents_with_codes(|p| srv.get(p), "limit=1000")
        .into_iter()
        .map(|(_, code)| code)
        .collect::<Vec<_>>();
    assert_eq!(codes.len(), residents);
    (
        Field {
            env,
            token,
            round,
            points,
            codes,
        },
        srv,
    )
}

pub fn open_tube(addr: &str, token: &str, point: &str, barcode: &str) -> String {
    let (st, v) = call(
        addr,
        token,
        "POST",
        &format!("/api/v1/points/{point}/tubes"),
        &json!({ "barcode": barcode }).to_string(),
    )
    .unwrap();
    assert_eq!(st, 201, "{v}");
    v["id"].as_str().unwrap().to_string()
}

/// One scan as a station would send (and resend) it.
#[derive(Clone, Debug)]
pub struct Job {
    pub client: String,
    pub tube: String,
    pub code: String,
}

pub fn send(addr: &str, token: &str, j: &Job) -> Result<(u16, Value), String> {
    call(
        addr,
        token,
        "POST",
        &format!("/api/v1/tubes/{}/scans", j.tube),
        &json!({ "client_id": j.client, "code": j.code, "station": "durability" }).to_string(),
    )
}

/// A registration as stored.
#[derive(Debug, Clone)]
pub struct Row {
    pub client: String,
    pub key: String,
    pub id: i64,
    pub tube: String,
    pub resident: Option<i64>,
    pub duplicate_of: Option<i64>,
    pub purpose: String,
}

/// Every registration and every tube `(key, state, pool size)`, read
/// straight from the database.
pub async fn stored(env: &TestEnv) -> (Vec<Row>, Vec<(String, String, i64)>) {
    const REG: &str = "SELECT client_id, street_id, id, tube_id, resident_id, duplicate_of, purpose FROM registration ORDER BY street_id, id";
    const TUBE: &str = "SELECT street_id, id, state, CAST(pool_size AS BIGINT) FROM tube";
    type R = (String, i64, i64, i64, Option<i64>, Option<i64>, String);
    type T = (i64, i64, String, i64);
    let store = env.store().await;
    let (regs, tubes): (Vec<R>, Vec<T>) = match &store.pool {
        gw_store::Pool::Sqlite(p) => {
            let ok: String = sqlx::query_scalar("PRAGMA integrity_check")
                .fetch_one(p)
                .await
                .unwrap();
            assert_eq!(ok, "ok", "SQLite integrity check");
            (
                sqlx::query_as(REG).fetch_all(p).await.unwrap(),
                sqlx::query_as(TUBE).fetch_all(p).await.unwrap(),
            )
        }
        gw_store::Pool::Postgres(p) => (
            sqlx::query_as(REG).fetch_all(p).await.unwrap(),
            sqlx::query_as(TUBE).fetch_all(p).await.unwrap(),
        ),
    };
    store.close().await;
    (
        regs.into_iter()
            .map(
                |(client, s, id, tube, resident, duplicate_of, purpose)| Row {
                    client,
                    key: format!("{s}-{id}"),
                    id,
                    tube: format!("{s}-{tube}"),
                    resident,
                    duplicate_of,
                    purpose,
                },
            )
            .collect(),
        tubes
            .into_iter()
            .map(|(s, id, state, pool)| (format!("{s}-{id}"), state, pool))
            .collect(),
    )
}

/// What a station was told on success.
#[derive(Debug, Clone)]
pub struct Ack {
    pub registration: String,
    pub tube: String,
    pub replay: bool,
    pub duplicate_of: Option<String>,
    pub tube_fill: i64,
}

pub fn ack(j: &Job, v: &Value) -> Ack {
    Ack {
        registration: v["registration"].as_str().unwrap().to_string(),
        tube: j.tube.clone(),
        replay: v["replay"].as_bool().unwrap(),
        duplicate_of: v["duplicate_of"]["registration"]
            .as_str()
            .map(str::to_string),
        tube_fill: v["tube_fill"].as_i64().unwrap(),
    }
}

/// The stored state is whole: each client id once; every acknowledged scan
/// stored as it was acknowledged; nothing stored that no station sent; one
/// first routine swab per resident with every other one pointing at it; no
/// full tube left open.
pub fn check(
    rows: &[Row],
    tubes: &[(String, String, i64)],
    acked: &HashMap<String, Ack>,
    sent: &HashSet<String>,
) {
    let by_client: HashMap<&str, &Row> = rows.iter().map(|r| (r.client.as_str(), r)).collect();
    assert_eq!(by_client.len(), rows.len(), "a client id stored twice");
    for (c, a) in acked {
        let r = by_client
            .get(c.as_str())
            .unwrap_or_else(|| panic!("{c} was acknowledged ({a:?}) but is not stored"));
        assert_eq!(r.key, a.registration, "{c}");
        assert_eq!(r.tube, a.tube, "{c}");
        let dup = r
            .duplicate_of
            .and_then(|d| rows.iter().find(|x| x.id == d))
            .map(|x| x.key.clone());
        assert_eq!(dup, a.duplicate_of, "{c}: duplicate flag as told");
    }
    for r in rows {
        assert!(
            sent.contains(&r.client),
            "{} stored but never sent",
            r.client
        );
    }
    let mut by_resident: BTreeMap<i64, Vec<&Row>> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.purpose == "routine") {
        if let Some(res) = r.resident {
            by_resident.entry(res).or_default().push(r);
        }
    }
    for (res, swabs) in by_resident {
        let firsts: Vec<&&Row> = swabs.iter().filter(|r| r.duplicate_of.is_none()).collect();
        assert_eq!(
            firsts.len(),
            1,
            "resident {res}: one first swab in {swabs:?}"
        );
        assert!(
            swabs
                .iter()
                .all(|r| r.duplicate_of.is_none() || r.duplicate_of == Some(firsts[0].id)),
            "resident {res}: every second swab names the first: {swabs:?}"
        );
    }
    for (t, state, pool) in tubes {
        let n = rows.iter().filter(|r| &r.tube == t).count() as i64;
        assert!(
            n < *pool || state == "closed",
            "tube {t} holds {n} of {pool} and is still {state}"
        );
    }
}

/// Scans `queue` in order until the server stops answering. Returns the
/// acknowledged scans, the one left in doubt (sent, no whole answer) and the
/// number of scans done or in doubt.
fn drive(
    addr: &str,
    token: &str,
    queue: &[Job],
    sent: &Mutex<HashSet<String>>,
) -> (Vec<(String, Ack)>, Option<Job>, usize) {
    let mut acks = Vec::new();
    for (i, j) in queue.iter().enumerate() {
        sent.lock().unwrap().insert(j.client.clone());
        match send(addr, token, j) {
            Ok((200, v)) => acks.push((j.client.clone(), ack(j, &v))),
            Ok((st, v)) => panic!("{}: unexpected {st} {v}", j.client),
            Err(_) => return (acks, Some(j.clone()), i + 1),
        }
    }
    (acks, None, queue.len())
}

const CLIENTS: usize = 8;
const TUBES_EACH: usize = 15;

async fn killed_at_random_moments(seed: u64, kills: usize) {
    let env = TestEnv::new().await;
    let backend = env.backend;
    let (f, first) = field(env, 300).await;
    let mut rng = Rng::new(seed);
    // Each client fills its own tubes, ten swabs each; residents drawn at
    // random, so many are swabbed twice (duplicates across stations).
    let mut queues: Vec<Vec<Job>> = Vec::new();
    for c in 0..CLIENTS {
        let mut q = Vec::new();
        for t in 0..TUBES_EACH {
            let tube = open_tube(
                &first.addr,
                &f.token,
                &f.points[c % 2],
                &format!("K{c:02}{t:05}"),
            );
            for k in 0..10 {
                q.push(Job {
                    client: format!("c{c}-{t}-{k}"),
                    tube: tube.clone(),
                    code: f.codes[rng.below(f.codes.len() as u64) as usize].clone(),
                });
            }
        }
        queues.push(q);
    }
    let sent = Arc::new(Mutex::new(HashSet::new()));
    let mut acked: HashMap<String, Ack> = HashMap::new();
    let mut pos = [0usize; CLIENTS];
    let mut srv = Some(first);
    let (mut in_doubt_total, mut in_doubt_stored) = (0, 0);
    for kill in 0..=kills {
        let server = match srv.take() {
            Some(s) => s,
            None => f.env.serve(),
        };
        let addr = server.addr.clone();
        // The last pass runs to the end; the others are cut short by SIGKILL.
        let mut last = None;
        let killer = if kill < kills {
            let delay = Duration::from_millis(rng.range(20, 300) as u64);
            Some(std::thread::spawn(move || {
                std::thread::sleep(delay);
                drop(server); // SIGKILL, then reaped
                delay
            }))
        } else {
            last = Some(server);
            None
        };
        let workers: Vec<_> = (0..CLIENTS)
            .map(|c| {
                let q = queues[c][pos[c]..].to_vec();
                let (addr, token, sent) = (addr.clone(), f.token.clone(), sent.clone());
                std::thread::spawn(move || drive(&addr, &token, &q, &sent))
            })
            .collect();
        let mut doubt = Vec::new();
        for (c, w) in workers.into_iter().enumerate() {
            let (acks, d, n) = w.join().unwrap();
            acked.extend(acks);
            doubt.extend(d);
            pos[c] += n;
        }
        let delay = killer.map(|k| k.join().unwrap());
        let done: usize = pos.iter().sum();
        announce(&format!(
            "durability ({backend}, seed {seed}): pass {kill}, killed after {delay:?}, {done} scans sent, {} in doubt",
            doubt.len()
        ));
        if kill == kills {
            drop(last);
            break;
        }
        // Restarted: the acknowledged are there, the rest whole or absent.
        let restarted = f.env.serve();
        let (rows, tubes) = stored(&f.env).await;
        check(&rows, &tubes, &acked, &sent.lock().unwrap());
        // Each scan left in doubt is sent again, as the station would: applied once.
        for j in doubt {
            in_doubt_total += 1;
            let was = rows.iter().any(|r| r.client == j.client);
            in_doubt_stored += usize::from(was);
            let (st, v) = send(&restarted.addr, &f.token, &j).unwrap();
            assert_eq!(st, 200, "{v}");
            let a = ack(&j, &v);
            assert_eq!(
                a.replay, was,
                "{}: replay exactly when it had been stored",
                j.client
            );
            let n = rows.iter().filter(|r| r.tube == j.tube).count() as i64;
            assert_eq!(a.tube_fill, n + i64::from(!was), "{}: tube fill", j.client);
            acked.insert(j.client.clone(), a);
        }
        srv = Some(restarted);
    }
    let (rows, tubes) = stored(&f.env).await;
    check(&rows, &tubes, &acked, &sent.lock().unwrap());
    let all = CLIENTS * TUBES_EACH * 10;
    assert_eq!(rows.len(), all, "every scan stored exactly once");
    assert_eq!(acked.len(), all);
    assert!(
        tubes.iter().all(|t| t.1 == "closed"),
        "every full tube closed"
    );
    // Coverage as the server reports it matches the rows.
    let server = f.env.serve();
    let (st, cov) = call(
        &server.addr,
        &f.token,
        "GET",
        &format!("/api/v1/rounds/{}/coverage", f.round),
        "",
    )
    .unwrap();
    assert_eq!(st, 200);
    let people: HashSet<i64> = rows.iter().filter_map(|r| r.resident).collect();
    assert_eq!(cov["sampled"].as_u64().unwrap() as usize, people.len());
    announce(&format!(
        "durability ({backend}, seed {seed}): {kills} kills, {in_doubt_total} scans in doubt ({in_doubt_stored} of them stored whole before the kill, the rest not at all) retried and applied once, {all} stored exactly once"
    ));
}

fn seed() -> u64 {
    std::env::var("GRIDWARDEN_DURABILITY_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_220_315)
}

#[tokio::test]
async fn sigkill_under_concurrent_scans_loses_nothing_acknowledged_and_half_stores_nothing() {
    killed_at_random_moments(seed(), 5).await;
}

// ---------------------------------------------------------------- full disk

/// A small tmpfs mounted on a temp dir (root only), unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Result<Tmpfs, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
        }
        Ok(Tmpfs { dir })
    }
    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// Writes a file until the disk refuses another byte.
fn fill(path: &Path) {
    let mut f = std::fs::File::create(path).unwrap();
    for chunk in [1 << 20, 4096, 1] {
        let buf = vec![0u8; chunk];
        while f.write_all(&buf).and_then(|_| f.sync_all()).is_ok() {}
    }
}

/// A scan refused for want of storage: 503 with a JSON code and message.
fn clear_error(st: u16, v: &Value) {
    assert_eq!(st, 503, "{v}");
    assert_eq!(v["code"], "storage_unavailable", "{v}");
    assert!(!v["message"].as_str().unwrap().is_empty(), "{v}");
}

#[tokio::test]
async fn a_full_disk_refuses_scans_clearly_and_recovers_when_space_is_freed() {
    let fs = match Tmpfs::mount("48m") {
        Ok(fs) => fs,
        Err(e) => {
            announce(&format!(
                "full-disk test skipped: cannot mount a tmpfs here ({e}); it needs root"
            ));
            return;
        }
    };
    let env = TestEnv::at(fs.path().join("gw.db").display().to_string(), "sqlite");
    let (f, srv) = field(env, 200).await;
    let tubes: Vec<String> = (0..8)
        .map(|t| open_tube(&srv.addr, &f.token, &f.points[t % 2], &format!("F{t:07}")))
        .collect();
    let jobs: Vec<Job> = (0..80)
        .map(|i| Job {
            client: format!("full-{i}"),
            tube: tubes[i / 10].clone(),
            code: f.codes[i].clone(),
        })
        .collect();
    let mut acked = HashMap::new();
    let mut sent = HashSet::new();
    for j in &jobs[..10] {
        sent.insert(j.client.clone());
        let (st, v) = send(&srv.addr, &f.token, j).unwrap();
        assert_eq!(st, 200, "{v}");
        acked.insert(j.client.clone(), ack(j, &v));
    }
    let filler = fs.path().join("filler");
    fill(&filler);
    // Full: scans are refused with a clear error (or still fit in space the
    // database already holds); the server stays up.
    let mut refused = Vec::new();
    for j in &jobs[10..60] {
        sent.insert(j.client.clone());
        match send(&srv.addr, &f.token, j).unwrap() {
            (200, v) => {
                acked.insert(j.client.clone(), ack(j, &v));
            }
            (st, v) => {
                clear_error(st, &v);
                refused.push(j.clone());
            }
        }
    }
    assert!(!refused.is_empty(), "a full disk must be noticed");
    assert_eq!(
        srv.anonymous().get("/ping").status,
        200,
        "the server survives a full disk"
    );
    announce(&format!(
        "full disk: {} of 50 scans refused with 503 storage_unavailable",
        refused.len()
    ));
    // Space freed: the refused scans are sent again and the rest go through,
    // with no restart and no repair.
    std::fs::remove_file(&filler).unwrap();
    let (rows, tubes_now) = stored(&f.env).await;
    check(&rows, &tubes_now, &acked, &sent);
    for j in refused.iter().chain(&jobs[60..]) {
        sent.insert(j.client.clone());
        let was = rows.iter().any(|r| r.client == j.client);
        let (st, v) = send(&srv.addr, &f.token, j).unwrap();
        assert_eq!(st, 200, "{v}");
        let a = ack(j, &v);
        assert_eq!(a.replay, was, "{}", j.client);
        acked.insert(j.client.clone(), a);
    }
    drop(srv);
    let (rows, tubes_now) = stored(&f.env).await;
    check(&rows, &tubes_now, &acked, &sent);
    assert_eq!(rows.len(), jobs.len());
}

// ------------------------------------------- PostgreSQL restarted under the server

/// A throw-away PostgreSQL cluster in a temp dir on a free port (never the
/// shared one), run as the `postgres` user when we are root.
struct Cluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    root: bool,
}

impl Cluster {
    fn bin() -> Option<PathBuf> {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|p| p.join("initdb").exists() && p.join("pg_ctl").exists())
            .collect();
        dirs.sort();
        dirs.pop()
    }

    fn run(&self, prog: &str, args: &[&str]) -> std::process::Output {
        let exe = self.bin.join(prog);
        let mut cmd = if self.root {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        cmd.args(args)
            .current_dir("/")
            .output()
            .expect("run PostgreSQL tool")
    }

    fn start() -> Result<Cluster, String> {
        let bin = Cluster::bin().ok_or("no /usr/lib/postgresql/*/bin/initdb")?;
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let uid = Command::new("id")
            .arg("-u")
            .output()
            .map_err(|e| e.to_string())?;
        let root = String::from_utf8_lossy(&uid.stdout).trim() == "0";
        if root {
            let ok = Command::new("chown")
                .args(["-R", "postgres"])
                .arg(dir.path())
                .status()
                .map_err(|e| e.to_string())?;
            if !ok.success() {
                return Err("cannot chown the cluster dir to postgres".into());
            }
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let c = Cluster {
            dir,
            bin,
            port,
            root,
        };
        let data = c.data();
        let out = c.run(
            "initdb",
            &[
                "-D",
                &data,
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        if !out.status.success() {
            return Err(format!("initdb: {}", String::from_utf8_lossy(&out.stderr)));
        }
        c.up()?;
        Ok(c)
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn up(&self) -> Result<(), String> {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c max_connections=60",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("log").display().to_string();
        let out = self.run(
            "pg_ctl",
            &["-D", &self.data(), "-l", &log, "-o", &opts, "-w", "start"],
        );
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "pg_ctl start: {}{}",
                String::from_utf8_lossy(&out.stderr),
                std::fs::read_to_string(&log).unwrap_or_default()
            ))
        }
    }

    /// Stopped the hard way: every backend killed, crash recovery on start.
    fn crash(&self) {
        let out = self.run(
            "pg_ctl",
            &["-D", &self.data(), "-m", "immediate", "-w", "stop"],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.run(
            "pg_ctl",
            &["-D", &self.data(), "-m", "immediate", "-w", "stop"],
        );
    }
}

#[tokio::test]
async fn postgresql_restarted_under_the_server_gives_clear_errors_then_recovers() {
    if std::env::var("GRIDWARDEN_TEST_POSTGRES").map_or(true, |v| v.is_empty()) {
        announce("PostgreSQL-restart test skipped: runs in the PostgreSQL run (GRIDWARDEN_TEST_POSTGRES)");
        return;
    }
    let pg = match Cluster::start() {
        Ok(pg) => pg,
        Err(e) => {
            announce(&format!(
                "PostgreSQL-restart test skipped: no throw-away cluster here ({e})"
            ));
            return;
        }
    };
    let env = TestEnv::at(pg.url(), "postgres");
    let (f, srv) = field(env, 300).await;
    let mut rng = Rng::new(seed());
    let stations = 6;
    let queues: Vec<Vec<Job>> = (0..stations)
        .map(|c| {
            (0..4)
                .flat_map(|t| {
                    let tube = open_tube(
                        &srv.addr,
                        &f.token,
                        &f.points[c % 2],
                        &format!("R{c:02}{t:05}"),
                    );
                    (0..10)
                        .map(|k| Job {
                            client: format!("r{c}-{t}-{k}"),
                            tube: tube.clone(),
                            code: f.codes[rng.below(f.codes.len() as u64) as usize].clone(),
                        })
                        .collect::<Vec<_>>()
                })
                .collect()
        })
        .collect();
    // Stations retry each scan until it is acknowledged, as the app does;
    // every refusal on the way must be a clear one.
    let errors = Arc::new(Mutex::new(Vec::<(u16, Value)>::new()));
    let workers: Vec<_> = queues
        .iter()
        .cloned()
        .map(|q| {
            let (addr, token, errors) = (srv.addr.clone(), f.token.clone(), errors.clone());
            std::thread::spawn(move || {
                let mut acks = Vec::new();
                for j in q {
                    let deadline = Instant::now() + Duration::from_secs(120);
                    loop {
                        match send(&addr, &token, &j) {
                            Ok((200, v)) => {
                                acks.push((j.client.clone(), ack(&j, &v)));
                                break;
                            }
                            Ok((st, v)) => errors.lock().unwrap().push((st, v)),
                            Err(e) => errors.lock().unwrap().push((0, json!(e))),
                        }
                        assert!(
                            Instant::now() < deadline,
                            "{}: never acknowledged",
                            j.client
                        );
                        std::thread::sleep(Duration::from_millis(100));
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                acks
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(400));
    pg.crash();
    announce("PostgreSQL-restart test: cluster stopped (immediate) under load");
    std::thread::sleep(Duration::from_secs(3));
    pg.up().unwrap();
    let back = Instant::now();
    announce("PostgreSQL-restart test: cluster started again");
    let mut acked = HashMap::new();
    for w in workers {
        acked.extend(w.join().unwrap());
    }
    let errors = errors.lock().unwrap().clone();
    for (st, v) in &errors {
        clear_error(*st, v);
    }
    announce(&format!(
        "PostgreSQL-restart test: {} clear refusals (503) during the outage, all {} scans acknowledged {:.1}s after the restart",
        errors.len(),
        acked.len(),
        back.elapsed().as_secs_f64()
    ));
    assert_eq!(srv.anonymous().get("/healthz").status, 200);
    let sent: HashSet<String> = queues.iter().flatten().map(|j| j.client.clone()).collect();
    let (rows, tubes) = stored(&f.env).await;
    check(&rows, &tubes, &acked, &sent);
    assert_eq!(rows.len(), sent.len(), "every scan stored exactly once");
    drop(srv);
}
