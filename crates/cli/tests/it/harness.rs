//! `TestEnv`: a fresh database (SQLite file or PostgreSQL database), the real
//! `gridwarden` binary, and a tiny HTTP client for a server on a random port.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Once;

use gw_store::Store;

pub const BIN: &str = env!("CARGO_BIN_EXE_gridwarden");

static ANNOUNCE: Once = Once::new();

pub struct TestEnv {
    pub url: String,
    pub dir: tempfile::TempDir,
    pub backend: &'static str,
    pg: Option<(String, String)>,
}

fn random_suffix() -> String {
    // 80 random bits from the OS, base-32, lower-case: a valid identifier tail.
    gw_app::new_uid()
}

/// Written to the process's stderr directly, past the test harness's capture,
/// so every run says which backend it used.
fn announce(msg: &str) {
    let _ = writeln!(std::io::stderr(), "[gridwarden tests] {msg}");
}

impl TestEnv {
    pub async fn new() -> TestEnv {
        let dir = tempfile::tempdir().expect("tempdir");
        match std::env::var("GRIDWARDEN_TEST_POSTGRES") {
            Ok(base) if !base.is_empty() => {
                ANNOUNCE.call_once(|| announce(&format!("backend: PostgreSQL ({base})")));
                let name = format!("gw_t_{}", random_suffix());
                let admin = Store::connect(&base).await.expect("GRIDWARDEN_TEST_POSTGRES is set but PostgreSQL is unreachable: the PostgreSQL run fails rather than falling back");
                if let gw_store::Pool::Postgres(p) = &admin.pool {
                    sqlx::query(&format!("CREATE DATABASE {name}"))
                        .execute(p)
                        .await
                        .expect("create test database");
                }
                admin.close().await;
                let url = gw_store::with_database(&base, &name);
                TestEnv {
                    url,
                    dir,
                    backend: "postgres",
                    pg: Some((base, name)),
                }
            }
            _ => {
                ANNOUNCE.call_once(|| announce("backend: SQLite (set GRIDWARDEN_TEST_POSTGRES=postgres://… to run the same tests on PostgreSQL)"));
                let url = dir.path().join("test.db").display().to_string();
                TestEnv {
                    url,
                    dir,
                    backend: "sqlite",
                    pg: None,
                }
            }
        }
    }

    /// An environment on a database somebody else made and removes (a SQLite
    /// file on a small tmpfs, a throw-away PostgreSQL cluster): nothing is
    /// dropped with it but its temp dir.
    pub fn at(url: String, backend: &'static str) -> TestEnv {
        TestEnv {
            url,
            dir: tempfile::tempdir().expect("tempdir"),
            backend,
            pg: None,
        }
    }

    pub async fn store(&self) -> Store {
        Store::open(&self.url).await.expect("open store")
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Runs the binary with `--db` appended to the subcommand's arguments.
    pub fn cli(&self, args: &[&str]) -> Output {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--db", &self.url]);
        Command::new(BIN)
            .args(&all)
            .env("GRIDWARDEN_LOG", "warn")
            .env_remove("GRIDWARDEN_DB")
            .output()
            .expect("run gridwarden")
    }

    /// [`Self::cli`] with environment variables set and removed (`USER`, `LOGNAME`).
    pub fn cli_env(&self, args: &[&str], set: &[(&str, &str)], remove: &[&str]) -> Output {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--db", &self.url]);
        let mut cmd = Command::new(BIN);
        cmd.args(&all)
            .env("GRIDWARDEN_LOG", "warn")
            .env_remove("GRIDWARDEN_DB");
        for k in remove {
            cmd.env_remove(k);
        }
        for (k, v) in set {
            cmd.env(k, v);
        }
        cmd.output().expect("run gridwarden")
    }

    pub fn cli_ok(&self, args: &[&str]) -> String {
        let out = self.cli(args);
        assert!(
            out.status.success(),
            "gridwarden {args:?} failed:\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    /// Imports with --json and returns the one JSON object printed.
    pub fn import_json(&self, file: &Path, extra: &[&str]) -> (bool, serde_json::Value, String) {
        let f = file.display().to_string();
        let mut args = vec!["import", "roster", f.as_str(), "--json"];
        args.extend(extra);
        let out = self.cli(&args);
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        let lines: Vec<&str> = stdout.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(
            lines.len(),
            1,
            "--json must print exactly one JSON object, got: {stdout}"
        );
        let v: serde_json::Value = serde_json::from_str(lines[0]).expect("stdout is JSON");
        (
            out.status.success(),
            v,
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    }

    /// Starts `gridwarden serve`, reads `n` lines of its output, stops it.
    pub fn serve_first_line(&self, n: usize) -> String {
        let mut child = Command::new(BIN)
            .args(["serve", "--db", &self.url, "--bind", "127.0.0.1:0"])
            .env("GRIDWARDEN_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn server");
        let mut out = BufReader::new(child.stdout.take().expect("stdout"));
        let mut text = String::new();
        for _ in 0..n {
            out.read_line(&mut text).expect("read");
        }
        let _ = child.kill();
        let _ = child.wait();
        text
    }

    /// Starts `gridwarden serve` on a random port.
    pub fn serve(&self) -> Server {
        self.serve_with(&[])
    }

    /// [`Self::serve`] with more options (`--request-timeout 1`).
    pub fn serve_with(&self, options: &[&str]) -> Server {
        let mut child = Command::new(BIN)
            .args(["serve", "--db", &self.url, "--bind", "127.0.0.1:0"])
            .args(options)
            .env("GRIDWARDEN_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn server");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("server prints its URL");
        let start = line.find("http://").expect("URL in first line");
        let rest = &line[start + 7..];
        let addr = rest[..rest.find('/').expect("slash")].to_string();
        Server {
            child,
            addr,
            token: None,
        }
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        if let Some((base, name)) = self.pg.take() {
            // Drop the test database from a fresh runtime (Drop is not async).
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                rt.block_on(async {
                    if let Ok(admin) = Store::connect(&base).await {
                        if let gw_store::Pool::Postgres(p) = &admin.pool {
                            let _ = sqlx::query(&format!(
                                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                            ))
                            .execute(p)
                            .await;
                        }
                        admin.close().await;
                    }
                });
            })
            .join();
        }
    }
}

pub struct Server {
    child: Child,
    pub addr: String,
    /// Sent as `Authorization: Bearer` when set.
    pub token: Option<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Response {
    pub status: u16,
    pub body: String,
    pub head: String,
}

impl Response {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

impl Server {
    pub fn request(&self, method: &str, path: &str, body: Option<&serde_json::Value>) -> Response {
        Client {
            srv: self,
            token: self.token.clone(),
        }
        .request(method, path, body)
    }

    /// Sends a raw HTTP/1.1 request (headers of the caller's choosing).
    pub fn raw(&self, req: &str) -> Response {
        self.raw_bytes(req.as_bytes())
    }

    /// POSTs `body` as it is (a file upload), with the server's token if set.
    pub fn post_bytes(&self, path: &str, content_type: &str, body: &[u8]) -> Response {
        let auth = self
            .token
            .as_ref()
            .map(|t| format!("Authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        let mut req = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n{auth}Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
            self.addr,
            body.len()
        )
        .into_bytes();
        req.extend_from_slice(body);
        self.raw_bytes(&req)
    }

    pub fn raw_bytes(&self, req: &[u8]) -> Response {
        let mut s = TcpStream::connect(&self.addr).expect("connect");
        s.write_all(req).expect("send");
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).expect("read");
        let text = String::from_utf8_lossy(&raw).to_string();
        let (head, body) = text.split_once("\r\n\r\n").expect("HTTP response");
        let status: u16 = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("status");
        let body = if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            dechunk(body)
        } else {
            body.to_string()
        };
        Response {
            status,
            body,
            head: head.to_string(),
        }
    }
    /// Logs in (changing the one-time password on the way) and returns the session token.
    pub fn login(&self, username: &str, password: &str) -> String {
        let anon = self.anonymous();
        let r = anon.post(
            "/api/v1/login",
            &serde_json::json!({ "username": username, "password": password }),
        );
        assert_eq!(r.status, 200, "login {username}: {}", r.body);
        let v = r.json();
        let token = v["token"].as_str().unwrap().to_string();
        if v["user"]["must_change_password"] == true {
            let me = self.with_token(&token);
            let new = format!("{password}-changed");
            let c = me.post(
                "/api/v1/password",
                &serde_json::json!({ "old": password, "new": new }),
            );
            assert_eq!(c.status, 200, "{}", c.body);
            return self.login(username, &new);
        }
        token
    }
    /// The same server, as the holder of `token`.
    pub fn with_token(&self, token: &str) -> Client<'_> {
        Client {
            srv: self,
            token: Some(token.to_string()),
        }
    }
    pub fn anonymous(&self) -> Client<'_> {
        Client {
            srv: self,
            token: None,
        }
    }
    pub fn get(&self, path: &str) -> Response {
        self.request("GET", path, None)
    }
    pub fn post(&self, path: &str, body: &serde_json::Value) -> Response {
        self.request("POST", path, Some(body))
    }
}

fn dechunk(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&tail[..n]);
        rest = &tail[n + 2..];
    }
    out
}

/// Percent-encodes a query value.
pub fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A view of a server with or without a bearer token.
pub struct Client<'a> {
    srv: &'a Server,
    token: Option<String>,
}

impl Client<'_> {
    pub fn request(&self, method: &str, path: &str, body: Option<&serde_json::Value>) -> Response {
        let payload = body.map(|b| b.to_string()).unwrap_or_default();
        let auth = self
            .token
            .as_ref()
            .map(|t| format!("Authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        self.srv.raw(&format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{payload}",
            self.srv.addr,
            payload.len()
        ))
    }
    pub fn get(&self, path: &str) -> Response {
        self.request("GET", path, None)
    }
    pub fn post(&self, path: &str, body: &serde_json::Value) -> Response {
        self.request("POST", path, Some(body))
    }
}

impl TestEnv {
    /// Adds an account through the CLI and grants it `role` on the node the
    /// extra arguments name (`--grid 第1网格 --street …`); returns its password.
    pub fn account(&self, username: &str, role: &str, node: &[&str]) -> String {
        let out = self.cli_ok(&["user", "add", username]);
        let password = out
            .split("one-time password: ")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .expect("password printed")
            .to_string();
        let mut args = vec!["user", "grant", username, "--role", role];
        args.extend(node);
        self.cli_ok(&args);
        password
    }
}

/// 长春市 › 南关区 › 鸿城街道 › 东风社区 with their official codes, and the
/// community's 第3网格: `(street, community, grid)`.
pub async fn dongfeng(store: &Store) -> (i64, i64, i64) {
    let city = store.ensure_city("长春市", Some("220100")).await.unwrap();
    let d = store
        .ensure_district(city, "南关区", Some("220102"))
        .await
        .unwrap();
    let s = store
        .ensure_street(d, "鸿城街道", Some("220102001"))
        .await
        .unwrap();
    let c = store
        .ensure_community(s, "东风社区", Some("220102001001"))
        .await
        .unwrap();
    let g = store
        .ensure_grid(s, c, "第3网格", Some("22010200100103"), false)
        .await
        .unwrap();
    (s, c, g)
}

/// The text column of every row `sql` (no parameters) returns, on either backend.
pub async fn query_strings(store: &Store, sql: &str) -> Vec<String> {
    match &store.pool {
        gw_store::Pool::Sqlite(p) => sqlx::query_scalar(sql).fetch_all(p).await,
        gw_store::Pool::Postgres(p) => sqlx::query_scalar(sql).fetch_all(p).await,
    }
    .expect("query")
}

/// Runs `sql` (no parameters) on either backend.
pub async fn exec(store: &Store, sql: &str) {
    match &store.pool {
        gw_store::Pool::Sqlite(p) => {
            sqlx::query(sql).execute(p).await.expect("exec");
        }
        gw_store::Pool::Postgres(p) => {
            sqlx::query(sql).execute(p).await.expect("exec");
        }
    }
}

/// The residents `GET /api/v1/residents?{query}` lists (through `get`, a
/// server's or a client's), each with their personal code: `(id, code)`.
pub fn residents_with_codes(get: impl Fn(&str) -> Response, query: &str) -> Vec<(String, String)> {
    get(&format!("/api/v1/residents?{query}")).json()["items"]
        .as_array()
        .expect("a list of residents")
        .iter()
        .map(|r| {
            let id = r["id"].as_str().expect("an id").to_string();
            let code = get(&format!("/api/v1/residents/{id}/code")).json()["code"]
                .as_str()
                .expect("a code")
                .to_string();
            (id, code)
        })
        .collect()
}

/// The body of a round over `street` open from 1970 to 2100, pooling ten to a
/// tube: what most tests need. Add keys (`communities`) to the returned object.
pub fn round_body(street: i64, name: &str) -> serde_json::Value {
    serde_json::json!({ "street": street, "name": name, "starts_ms": 0, "ends_ms": 4_102_444_800_000_i64, "pool_size": 10 })
}

/// Creates a round from `body` and opens it (through `post`, a server's or a
/// client's), asserting both answers: the round's id and the opening's answer
/// (`expected` and the rest).
pub fn open_round(
    post: impl Fn(&str, &serde_json::Value) -> Response,
    body: &serde_json::Value,
) -> (String, serde_json::Value) {
    let r = post("/api/v1/rounds", body);
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.json()["id"].as_str().expect("a round id").to_string();
    let opened = post(&format!("/api/v1/rounds/{id}/open"), &serde_json::json!({}));
    assert_eq!(opened.status, 200, "{}", opened.body);
    (id, opened.json())
}
