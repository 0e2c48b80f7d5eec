//! The pages in a real browser: Debian's headless Chromium driven through
//! chromedriver over the WebDriver HTTP protocol (JSON over HTTP, by hand).
//! Without Chromium the tests print SKIPPED and pass, unless
//! GRIDWARDEN_REQUIRE_BROWSER=1 (set by .ci/run), which makes them fail.
//! Screenshots (360 px and 1280 px) go to target/artifacts/.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::harness::{open_round, residents_with_codes, round_body, Server, TestEnv};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Whether the browser tests can run here; prints SKIPPED when not (and fails
/// when GRIDWARDEN_REQUIRE_BROWSER=1).
pub(crate) fn browser_available(test: &str) -> bool {
    let have =
        std::path::Path::new(CHROMIUM).exists() && std::path::Path::new(CHROMEDRIVER).exists();
    if !have {
        if std::env::var("GRIDWARDEN_REQUIRE_BROWSER").as_deref() == Ok("1") {
            panic!("{test}: Chromium is required (GRIDWARDEN_REQUIRE_BROWSER=1) but {CHROMIUM} or {CHROMEDRIVER} is missing: apt-get install -y chromium chromium-driver fonts-wqy-zenhei");
        }
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED {test}: no Chromium here. Install it with: sudo apt-get install -y chromium chromium-driver fonts-wqy-zenhei"
        );
    }
    have
}

fn artifacts() -> PathBuf {
    // crates/cli → the workspace's target/artifacts
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/artifacts");
    std::fs::create_dir_all(&dir).expect("artifacts dir");
    dir
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One HTTP/1.1 request with a JSON body; the status and the JSON answer.
fn http_json(addr: &str, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    let payload = body.map(|b| b.to_string()).unwrap_or_default();
    let mut s = TcpStream::connect(addr).expect("connect to chromedriver");
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\n\r\n{payload}",
        payload.len()
    );
    s.write_all(req.as_bytes()).unwrap();
    // chromedriver keeps the connection open whatever the request says: read
    // the head, then exactly the body it announces.
    let mut raw = Vec::new();
    let mut buf = [0u8; 65536];
    let split = loop {
        if let Some(p) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break p;
        }
        let n = s.read(&mut buf).expect("read from chromedriver");
        assert!(n > 0, "chromedriver closed the connection");
        raw.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let lower = head.to_ascii_lowercase();
    let mut body = raw[split + 4..].to_vec();
    if let Some(len) = lower
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
    {
        while body.len() < len {
            let n = s.read(&mut buf).expect("read body");
            assert!(n > 0, "short body");
            body.extend_from_slice(&buf[..n]);
        }
    } else if lower.contains("transfer-encoding: chunked") {
        while !body.ends_with(b"0\r\n\r\n") {
            let n = s.read(&mut buf).expect("read chunks");
            if n == 0 {
                break;
            }
            body.extend_from_slice(&buf[..n]);
        }
        body = dechunk(&body);
    } else {
        let _ = s.read_to_end(&mut body);
    }
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap();
    let v = serde_json::from_slice(&body).unwrap_or(Value::Null);
    (status, v)
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(p) = b.windows(2).position(|w| w == b"\r\n") {
        let n = usize::from_str_radix(String::from_utf8_lossy(&b[..p]).trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.extend_from_slice(&b[p + 2..p + 2 + n]);
        b = &b[p + 2 + n + 2..];
    }
    out
}

fn base64_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes().filter_map(val) {
        acc = (acc << 6) | c;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

/// chromedriver and one browser session.
pub(crate) struct Browser {
    driver: Child,
    addr: String,
    session: String,
    profile: PathBuf,
}

impl Browser {
    pub(crate) fn start(profile: PathBuf) -> Browser {
        let port = free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let addr = format!("127.0.0.1:{port}");
        let t0 = Instant::now();
        while TcpStream::connect(&addr).is_err() {
            assert!(
                t0.elapsed() < Duration::from_secs(20),
                "chromedriver did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut b = Browser {
            driver,
            addr,
            session: String::new(),
            profile,
        };
        b.new_session();
        b
    }

    fn new_session(&mut self) {
        let caps = json!({ "capabilities": { "alwaysMatch": { "browserName": "chrome", "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage", "--window-size=1280,900",
                     "--lang=zh-CN", format!("--user-data-dir={}", self.profile.display())]
        } } } });
        let (status, v) = http_json(&self.addr, "POST", "/session", Some(&caps));
        assert_eq!(status, 200, "new session: {v}");
        self.session = v["value"]["sessionId"].as_str().unwrap().to_string();
    }

    /// Quits the browser (the profile stays on disk) and starts it again.
    fn restart(&mut self) {
        self.cmd("DELETE", "", None);
        self.new_session();
    }

    fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (status, v) = http_json(
            &self.addr,
            method,
            &format!("/session/{}{path}", self.session),
            body.as_ref(),
        );
        assert_eq!(status, 200, "{method} {path}: {v}");
        v["value"].clone()
    }

    pub(crate) fn goto(&self, url: &str) {
        self.cmd("POST", "/url", Some(json!({ "url": url })));
    }

    pub(crate) fn exec(&self, script: &str, args: Value) -> Value {
        self.cmd(
            "POST",
            "/execute/sync",
            Some(json!({ "script": script, "args": args })),
        )
    }

    /// Waits until the JavaScript expression is true.
    pub(crate) fn wait(&self, what: &str, expr: &str) {
        let t0 = Instant::now();
        loop {
            if self.exec(&format!("return !!({expr});"), json!([])) == json!(true) {
                return;
            }
            if t0.elapsed() > Duration::from_secs(30) {
                let body = self.exec(
                    "return document.body ? document.body.innerText : '';",
                    json!([]),
                );
                panic!("timed out waiting for {what} ({expr}); page text: {body}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn find(&self, css: &str) -> String {
        let t0 = Instant::now();
        loop {
            let (status, v) = http_json(
                &self.addr,
                "POST",
                &format!("/session/{}/element", self.session),
                Some(&json!({ "using": "css selector", "value": css })),
            );
            if status == 200 {
                return v["value"][ELEMENT]
                    .as_str()
                    .unwrap_or_else(|| panic!("element answer: {v}"))
                    .to_string();
            }
            assert!(t0.elapsed() < Duration::from_secs(20), "no element {css}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn type_into(&self, css: &str, text: &str) {
        let el = self.find(css);
        self.cmd(
            "POST",
            &format!("/element/{el}/value"),
            Some(json!({ "text": text })),
        );
    }

    fn click(&self, css: &str) {
        let el = self.find(css);
        self.cmd("POST", &format!("/element/{el}/click"), Some(json!({})));
    }

    pub(crate) fn text(&self, css: &str) -> String {
        self.exec(
            "var e = document.querySelector(arguments[0]); return e ? e.textContent : null;",
            json!([css]),
        )
        .as_str()
        .unwrap_or_default()
        .to_string()
    }

    fn source(&self) -> String {
        self.cmd("GET", "/source", None)
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Key presses into whatever has focus, as a keyboard-wedge scanner types:
    /// the text, then Enter.
    /// Opens the station page with an enrolment code (`issued`: the answer
    /// of `POST /points/{id}/stations`) and waits for the scanning panel.
    pub(crate) fn enrol_station(&self, origin: &str, issued: &Value) {
        self.goto(&format!(
            "{origin}/station?code={}",
            issued["enroll_code"].as_str().unwrap()
        ));
        self.wait(
            "the scanning panel",
            "!document.getElementById('scan').hidden",
        );
    }

    pub(crate) fn scan_keys(&self, text: &str) {
        let mut actions = Vec::new();
        for c in text.chars().chain(std::iter::once('\u{E007}')) {
            actions.push(json!({ "type": "keyDown", "value": c.to_string() }));
            actions.push(json!({ "type": "keyUp", "value": c.to_string() }));
        }
        self.cmd(
            "POST",
            "/actions",
            Some(json!({ "actions": [{ "type": "key", "id": "scanner", "actions": actions }] })),
        );
    }

    /// Sets the viewport (device metrics) and saves a full screenshot.
    pub(crate) fn screenshot(&self, name: &str, width: u32) {
        self.screenshot_at(name, width, None);
    }

    /// [`Self::screenshot`] with the element `css` scrolled to the middle
    /// of the viewport first (at that width's layout).
    pub(crate) fn screenshot_at(&self, name: &str, width: u32, css: Option<&str>) {
        self.cmd(
            "POST",
            "/goog/cdp/execute",
            Some(json!({ "cmd": "Emulation.setDeviceMetricsOverride", "params": {
                "width": width, "height": if width < 600 { 740 } else { 900 }, "deviceScaleFactor": 1, "mobile": width < 600 } })),
        );
        std::thread::sleep(Duration::from_millis(200));
        if let Some(css) = css {
            self.exec(
                "var e = document.querySelector(arguments[0]); if (e) { e.scrollIntoView({block: 'center'}); }",
                json!([css]),
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let png = self.cmd("GET", "/screenshot", None);
        let path = artifacts().join(format!("{name}-{width}.png"));
        std::fs::write(&path, base64_decode(png.as_str().unwrap())).unwrap();
        self.cmd(
            "POST",
            "/goog/cdp/execute",
            Some(json!({ "cmd": "Emulation.clearDeviceMetricsOverride", "params": {} })),
        );
    }

    fn screenshots(&self, name: &str) {
        self.screenshot(name, 360);
        self.screenshot(name, 1280);
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = http_json(
            &self.addr,
            "DELETE",
            &format!("/session/{}", self.session),
            None,
        );
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// A loopback TCP proxy the test owns between the browser and the server:
/// `down()` cuts every connection and refuses new ones, as a dead network does
/// to the page and its service worker alike.
pub(crate) struct Proxy {
    port: u16,
    up: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<TcpStream>>>,
}

impl Proxy {
    pub(crate) fn start(target: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let conns: Arc<Mutex<Vec<TcpStream>>> = Arc::new(Mutex::new(Vec::new()));
        let (u, c) = (up.clone(), conns.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if !u.load(Ordering::SeqCst) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect(&target) else {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                };
                {
                    let mut list = c.lock().unwrap();
                    list.push(client.try_clone().unwrap());
                    list.push(server.try_clone().unwrap());
                }
                for (mut from, mut to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(Shutdown::Write);
                    });
                }
            }
        });
        Proxy { port, up, conns }
    }
    pub(crate) fn origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
    pub(crate) fn down(&self) {
        self.up.store(false, Ordering::SeqCst);
        for s in self.conns.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
    pub(crate) fn up(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

/// A demo street with an open round, two points and personal codes.
/// A station enrolled at the world's first point in a fresh Chromium
/// profile (kept alive by the returned directory), its page reached through
/// `origin`: the server itself, or a test's [`Proxy`].
pub(crate) fn station_at_first_point(w: &World, origin: &str) -> (Browser, tempfile::TempDir) {
    let issued = w
        .srv
        .post(
            &format!("/api/v1/points/{}/stations", w.points[0]),
            &json!({}),
        )
        .json();
    let profile = tempfile::tempdir().unwrap();
    let b = Browser::start(profile.path().to_path_buf());
    b.enrol_station(origin, &issued);
    (b, profile)
}

pub(crate) struct World {
    env: TestEnv,
    pub(crate) srv: Server,
    chief_password: String,
    street: i64,
    round: String,
    pub(crate) points: Vec<String>,
    pub(crate) codes: Vec<(String, String)>,
}

pub(crate) async fn world(with_accounts: &[(&str, &str)]) -> (World, Vec<String>) {
    let env = TestEnv::new().await;
    env.cli_ok(&["demo", "--residents", "300", "--seed", "5", "--no-serve"]);
    let pw = env.account("chief", "street_commander", &["--street", "鸿城街道"]);
    let store = env.store().await;
    let street = store.streets().await.unwrap()[0].id;
    let c = &store.communities(None, Some(street)).await.unwrap()[0];
    let grid = &store.grids(None, Some((street, c.id))).await.unwrap()[0];
    let mut passwords = Vec::new();
    for (user, role) in with_accounts {
        passwords.push(env.account(
            user,
            role,
            &[
                "--street",
                "鸿城街道",
                "--community",
                &c.name,
                "--grid",
                &grid.name,
            ],
        ));
    }
    let mut srv = env.serve();
    srv.token = Some(srv.login("chief", &pw));
    let (round, _) = open_round(|p, b| srv.post(p, b), &round_body(street, "全员核酸第1轮"));
    let points = (0..2)
        .map(|i| srv.post(&format!("/api/v1/rounds/{round}/points"), &json!({ "name": format!("{}号采样点", i + 1), "community": format!("{street}-{}", c.id) })).json()["id"].as_str().unwrap().to_string())
        .collect();
    let codes = residents_with_codes(
        |p| srv.get(p),
        &format!("limit=40&grid={street}-{}", grid.id),
    );
    assert!(codes.len() >= 25, "the grid needs 25 residents");
    (
        World {
            chief_password: format!("{pw}-changed"),
            env,
            srv,
            street,
            round,
            points,
            codes,
        },
        passwords,
    )
}

/// Registrations at a point: (client id, resident, raw code, duplicate of).
async fn registrations(
    env: &TestEnv,
    street: i64,
    point: i64,
) -> Vec<(String, Option<i64>, String, Option<i64>)> {
    let store = env.store().await;
    let sql = "SELECT client_id, resident_id, raw_code, duplicate_of FROM registration WHERE street_id = $1 AND point_id = $2 ORDER BY id";
    let rows = match &store.pool {
        gw_store::Pool::Sqlite(p) => {
            sqlx::query_as(sql)
                .bind(street)
                .bind(point)
                .fetch_all(p)
                .await
        }
        gw_store::Pool::Postgres(p) => {
            sqlx::query_as(sql)
                .bind(street)
                .bind(point)
                .fetch_all(p)
                .await
        }
    };
    rows.unwrap()
}

/// Logs in through the form, changing a one-time password on the way; ends on the home page.
fn form_login(
    b: &Browser,
    origin: &str,
    user: &str,
    password: &str,
    shots: Option<&str>,
) -> String {
    b.goto(&format!("{origin}/login"));
    if let Some(name) = shots {
        b.screenshots(&format!("{name}-login"));
    }
    b.type_into("input[name=username]", user);
    b.type_into("input[name=password]", password);
    b.click("button[type=submit]");
    b.wait(
        "the page after login",
        "document.readyState === 'complete' && location.pathname !== '/login'",
    );
    let mut password = password.to_string();
    if b.exec("return location.pathname;", json!([])) == json!("/password") {
        if let Some(name) = shots {
            b.screenshots(&format!("{name}-password"));
        }
        let new = format!("{password}-mine");
        b.type_into("input[name=old]", &password);
        b.type_into("input[name=new]", &new);
        b.type_into("input[name=again]", &new);
        b.click("button[type=submit]");
        b.wait(
            "the login page again",
            "location.pathname === '/login' && document.readyState === 'complete'",
        );
        assert!(
            b.source().contains("密码已修改"),
            "the login page says the password changed"
        );
        b.type_into("input[name=username]", user);
        b.type_into("input[name=password]", &new);
        b.click("button[type=submit]");
        b.wait(
            "the home page",
            "location.pathname === '/' && document.readyState === 'complete'",
        );
        password = new;
    }
    password
}

/// No full ID number (17 digits and a check character) or mobile number (11
/// digits from 1) anywhere in the page.
fn assert_masked(what: &str, html: &str) {
    let bytes = html.as_bytes();
    let mut run = 0;
    for (i, c) in bytes.iter().enumerate() {
        if c.is_ascii_digit() {
            run += 1;
            if run == 11 && bytes[i - 10] == b'1' {
                panic!(
                    "{what}: an unmasked phone-like number near {}",
                    &html[i.saturating_sub(40)..(i + 10).min(html.len())]
                );
            }
            assert!(run < 17, "{what}: an unmasked document-like number");
        } else {
            run = 0;
        }
    }
}

#[tokio::test]
async fn browser_login_home_language_coverage_and_masking() {
    if !browser_available("browser_login_home_language_coverage_and_masking") {
        return;
    }
    let (w, pw) = world(&[("leader", "grid_leader"), ("helper", "volunteer")]).await;
    // A few swabs so the coverage page has something to show.
    let tube = w
        .srv
        .post(
            &format!("/api/v1/points/{}/tubes", w.points[0]),
            &json!({ "barcode": "P0000001" }),
        )
        .json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    for (i, (_, code)) in w.codes[..4].iter().enumerate() {
        let r = w.srv.post(
            &format!("/api/v1/tubes/{tube}/scans"),
            &json!({ "client_id": format!("api-{i}"), "code": code }),
        );
        assert_eq!(r.status, 200, "{}", r.body);
    }
    // The lab finds the pool abnormal: the round's page shows what was done.
    let r = w.srv.post(
        &format!("/api/v1/rounds/{}/results", w.round),
        &json!({ "results": [{ "barcode": "P0000001", "result": "abnormal" }] }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let origin = format!("http://{}", w.srv.addr);
    let profile = tempfile::tempdir().unwrap();
    let b = Browser::start(profile.path().to_path_buf());

    // The grid leader's first login: the one-time password is replaced in the browser.
    form_login(&b, &origin, "leader", &pw[0], Some("page"));
    let home = b.source();
    assert!(home.contains("您好"), "home in Chinese: {home}");
    assert!(home.contains("网格长"), "the grant is shown");
    assert!(
        home.contains("全员核酸第1轮"),
        "the round is listed for a reader"
    );
    assert_masked("grid leader home", &home);
    b.screenshots("page-home");

    // English on request, remembered by a cookie, and back.
    b.click("a.lang");
    b.wait("English", "document.documentElement.lang === 'en'");
    assert!(b.source().contains("My roles and areas"));
    b.goto(&format!("{origin}/"));
    assert_eq!(
        b.exec("return document.documentElement.lang;", json!([])),
        json!("en")
    );
    b.screenshot("page-home-en", 360);
    b.click("a.lang");
    b.wait("Chinese", "document.documentElement.lang === 'zh-CN'");

    // Coverage, then the missed list of the grid: masked.
    b.goto(&format!("{origin}/rounds/{}", w.round));
    assert_eq!(b.text("#cov-sampled"), "4", "four swabs so far");
    let alerts = b.text("#alerts");
    assert!(
        alerts.contains("P0000001") && alerts.contains("4 人待单管复检"),
        "{alerts}"
    );
    assert_masked("alerts", &b.source());
    b.screenshots("page-coverage");

    // The live picture follows a new swab without a reload (server-sent events).
    b.goto(&format!("{origin}/rounds/{}/live", w.round));
    assert_eq!(b.text("#live-sampled"), "4");
    assert!(b.source().contains("<svg"), "charts are SVG");
    let r = w.srv.post(
        &format!("/api/v1/tubes/{tube}/scans"),
        &json!({ "client_id": "api-live", "code": w.codes[4].1 }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    b.wait(
        "the live count to move",
        "document.getElementById('live-sampled').textContent === '5'",
    );
    b.screenshots("page-live");
    b.goto(&format!("{origin}/rounds/{}", w.round));
    b.click("tbody a");
    b.wait("the missed list", "location.pathname.endsWith('/missed')");
    let missed = b.source();
    assert!(missed.contains("未检名单"));
    assert_masked("missed list", &missed);
    assert!(missed.contains('*'), "masked numbers show stars");
    b.screenshots("page-missed");

    // A household's code sheet: one QR per member, names masked, printable on A4.
    b.click("#missed a[href$='/codes']");
    b.wait("the code sheet", "location.pathname.endsWith('/codes')");
    let sheet = b.source();
    let cards = b.exec(
        "return document.querySelectorAll('.code-card svg.qr path').length;",
        json!([]),
    );
    assert!(cards.as_u64().unwrap() >= 1, "QR codes drawn: {sheet}");
    let names = b.exec(
        "return Array.from(document.querySelectorAll('.masked-name')).map(function(e){return e.textContent;});",
        json!([]),
    );
    for n in names.as_array().unwrap() {
        assert!(n.as_str().unwrap().contains('*'), "masked name: {n}");
    }
    assert!(
        sheet.contains("GW1-"),
        "the code's text is printed under its QR"
    );
    assert_masked("code sheet", &sheet);
    b.screenshots("page-codes");
    let pdf = b.cmd(
        "POST",
        "/print",
        Some(json!({ "page": { "width": 21.0, "height": 29.7 }, "background": true })),
    );
    let pdf = base64_decode(pdf.as_str().unwrap());
    assert!(pdf.starts_with(b"%PDF"), "a PDF");
    std::fs::write(artifacts().join("household-codes-a4.pdf"), pdf).unwrap();

    // Log out through the button: back to the login page, the home page is anonymous.
    b.goto(&format!("{origin}/"));
    b.click("header form button");
    b.wait("the login page", "location.pathname === '/login'");
    b.goto(&format!("{origin}/"));
    assert!(!b.source().contains("您好"), "logged out");

    // A volunteer: a home page without personal data, no coverage or missed list.
    form_login(&b, &origin, "helper", &pw[1], None);
    let home = b.source();
    assert!(home.contains("志愿者"), "{home}");
    assert!(
        home.contains("/station"),
        "a volunteer is pointed to the station page"
    );
    assert!(
        !home.contains("全员核酸第1轮"),
        "no coverage for a volunteer"
    );
    assert_masked("volunteer home", &home);
    b.screenshot("page-home-volunteer", 360);
    b.goto(&format!("{origin}/rounds/{}", w.round));
    let denied = b.source();
    assert!(
        denied.contains(r#"<meta name="gw-error" content="forbidden">"#),
        "{denied}"
    );
    assert_masked("volunteer's refusal", &denied);
    let grid = w
        .srv
        .get(&format!("/api/v1/residents/{}", w.codes[0].0))
        .json();
    assert!(grid["grid"].is_string());

    // Page weights: HTML with its CSS and script, well under 100 KB.
    let css = w.srv.anonymous().get("/assets/app.css").body.len();
    let js = w.srv.anonymous().get("/assets/station.js").body.len();
    let station = w.srv.anonymous().get("/station").body.len();
    let login = w.srv.anonymous().get("/login").body.len();
    let _ = writeln!(
        std::io::stderr(),
        "[page weights] login {login} B, home {} B, missed {} B, station {station} B, app.css {css} B, station.js {js} B",
        home.len(),
        missed.len()
    );
    for (page, n) in [
        ("login", login + css),
        ("station", station + css + js),
        ("missed", missed.len() + css),
    ] {
        assert!(n < 100 * 1024, "{page} weighs {n} bytes");
    }
}

#[tokio::test]
async fn browser_station_scans_by_keyboard_and_survives_a_dead_network() {
    if !browser_available("browser_station_scans_by_keyboard_and_survives_a_dead_network") {
        return;
    }
    let (w, _) = world(&[]).await;
    let point: gw_domain::ids::Key = w.points[0].parse().unwrap();
    // Someone already sampled at the other point: found again at sync, shown.
    let other = w
        .srv
        .post(
            &format!("/api/v1/points/{}/tubes", w.points[1]),
            &json!({ "barcode": "Q0000001" }),
        )
        .json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let elsewhere = &w.codes[24].1;
    assert_eq!(
        w.srv
            .post(
                &format!("/api/v1/tubes/{other}/scans"),
                &json!({ "client_id": "elsewhere-1", "code": elsewhere })
            )
            .status,
        200
    );
    let proxy = Proxy::start(w.srv.addr.clone());
    let origin = proxy.origin();
    let profile = tempfile::tempdir().unwrap();
    let mut b = Browser::start(profile.path().to_path_buf());
    // The commander enrols a station from the round's page: a one-time link.
    form_login(&b, &origin, "chief", &w.chief_password, None);
    b.goto(&format!("{origin}/rounds/{}", w.round));
    b.click("#points a");
    b.wait(
        "the point's page",
        "location.pathname.startsWith('/points/')",
    );
    b.type_into("input[name=label]", "1号台");
    b.click("form.stack button[type=submit]");
    b.wait(
        "the enrolment link",
        "document.getElementById('enroll-link')",
    );
    b.screenshots("point-enrol");
    let link = b
        .exec(
            "return document.getElementById('enroll-link').href;",
            json!([]),
        )
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        link.starts_with(&format!("{origin}/station?code=en.")),
        "{link}"
    );
    b.goto(&link);
    b.wait(
        "the scanning panel",
        "!document.getElementById('scan').hidden",
    );
    assert_eq!(
        b.exec("return location.search;", json!([])),
        json!(""),
        "the code leaves the address bar"
    );
    b.wait(
        "the service worker in control",
        "navigator.serviceWorker && navigator.serviceWorker.controller",
    );

    // Ten codes into a tube, typed by a "scanner" into the focused input.
    b.scan_keys("T0000001");
    b.wait(
        "code mode",
        "document.getElementById('code').dataset.mode === 'code'",
    );
    for (i, (_, c)) in w.codes[..10].iter().enumerate() {
        b.scan_keys(c);
        b.wait(
            &format!("scan {i} answered green"),
            &format!("document.getElementById('point-count').textContent === '{}' && document.getElementById('waiting').textContent === '0' && document.getElementById('feedback').dataset.kind === 'ok'", i + 1),
        );
    }
    assert_eq!(b.text("#tube-fill"), "10/10");
    b.screenshots("station-ten");
    let regs = registrations(&w.env, w.street, point.id).await;
    assert_eq!(regs.len(), 10);
    for (r, (id, _)) in regs.iter().zip(&w.codes[..10]) {
        assert_eq!(Some(id.parse::<gw_domain::ids::Key>().unwrap().id), r.1);
        assert_eq!(r.3, None);
    }
    // The tube is full: the next scan asks for a tube. Three more online.
    assert_eq!(
        b.exec(
            "return document.getElementById('code').dataset.mode;",
            json!([])
        ),
        json!("tube")
    );
    b.scan_keys("T0000002");
    for (_, c) in &w.codes[10..13] {
        b.scan_keys(c);
    }
    b.wait("13 stored", "document.getElementById('point-count').textContent === '13' && document.getElementById('waiting').textContent === '0'");

    // A wrong code scanned: the volunteer takes it back (two presses); the
    // server takes it out of the tube and the point's count.
    b.scan_keys(&w.codes[30].1);
    b.wait("14 stored", "document.getElementById('point-count').textContent === '14' && document.getElementById('waiting').textContent === '0' && !document.getElementById('undo').hidden");
    b.click("#undo");
    assert!(b.text("#undo").contains("再按一次"), "{}", b.text("#undo"));
    b.click("#undo");
    b.wait("taken back", "document.getElementById('point-count').textContent === '13' && document.getElementById('feedback').dataset.kind === 'ok' && document.getElementById('undo').hidden");
    assert!(
        b.text("#fb-text").contains("已撤销"),
        "{}",
        b.text("#fb-text")
    );
    assert_eq!(b.text("#tube-fill"), "3/10");
    b.screenshots("station-undone");
    assert_eq!(registrations(&w.env, w.street, point.id).await.len(), 13);

    // The network dies while scanning: five more (one already sampled elsewhere).
    proxy.down();
    let offline: Vec<&str> = w.codes[13..17]
        .iter()
        .map(|(_, c)| c.as_str())
        .chain([elsewhere.as_str()])
        .collect();
    for c in &offline {
        b.scan_keys(c);
    }
    b.wait("five waiting, offline", "document.getElementById('waiting').textContent === '5' && document.getElementById('net').dataset.online === '0'");
    assert_eq!(
        b.text("#point-count"),
        "18",
        "waiting scans count at the point"
    );
    assert_eq!(
        b.exec(
            "return document.getElementById('feedback').dataset.kind;",
            json!([])
        ),
        json!("queued")
    );
    b.screenshots("station-offline");
    // One more offline, taken back before it was ever sent: it leaves the queue.
    b.scan_keys(&w.codes[17].1);
    b.wait(
        "six waiting",
        "document.getElementById('waiting').textContent === '6'",
    );
    b.click("#undo");
    b.click("#undo");
    b.wait("five waiting again", "document.getElementById('waiting').textContent === '5' && document.getElementById('feedback').dataset.kind === 'ok'");
    assert!(
        b.text("#fb-detail").contains("尚未上传"),
        "{}",
        b.text("#fb-detail")
    );

    // A reload with no network: the service worker serves the page, the queue is intact.
    b.cmd("POST", "/refresh", Some(json!({})));
    b.wait("the page back from the service worker", "document.getElementById('scan') && !document.getElementById('scan').hidden && document.getElementById('waiting').textContent === '5'");
    // A browser restart, still offline.
    b.restart();
    b.goto(&format!("{origin}/station"));
    b.wait("the page after a browser restart", "document.getElementById('scan') && !document.getElementById('scan').hidden && document.getElementById('waiting').textContent === '5'");
    assert_eq!(
        registrations(&w.env, w.street, point.id).await.len(),
        13,
        "nothing reached the server while it was cut off"
    );

    // The network is back: everything uploads, exactly once, and the conflict is shown.
    proxy.up();
    b.wait(
        "the queue drained",
        "document.getElementById('waiting').textContent === '0'",
    );
    b.wait(
        "the conflict shown",
        "!document.getElementById('problems').hidden",
    );
    let problems = b.text("#problem-list");
    assert!(problems.contains("已采过样"), "{problems}");
    b.screenshots("station-synced");
    // Give a second sync every chance to send anything again.
    std::thread::sleep(Duration::from_millis(3500));
    let regs = registrations(&w.env, w.street, point.id).await;
    assert_eq!(regs.len(), 18, "every scan stored exactly once: {regs:?}");
    let mut raw: Vec<&str> = regs.iter().map(|r| r.2.as_str()).collect();
    raw.sort_unstable();
    raw.dedup();
    assert_eq!(raw.len(), 18, "no code stored twice");
    let dup = regs.iter().find(|r| r.2 == *elsewhere).unwrap();
    assert!(dup.3.is_some(), "the second swab points at the first");
    assert_eq!(b.text("#point-count"), "18");

    // The coverage page reflects the scans: 18 people here plus the one elsewhere
    // (who counts once), as the API says.
    let api = w
        .srv
        .get(&format!("/api/v1/rounds/{}/coverage", w.round))
        .json();
    assert_eq!(api["sampled"], 18);
    let direct = format!("http://{}", w.srv.addr);
    form_login(&b, &direct, "chief", &w.chief_password, None);
    b.goto(&format!("{direct}/rounds/{}", w.round));
    assert_eq!(b.text("#cov-sampled"), "18");
    assert_eq!(b.text("#cov-expected"), api["expected"].to_string());
    b.screenshots("coverage-after-station");
}

#[tokio::test]
async fn browser_station_revoked_keeps_its_queue_and_replays_it_after_enrolling_again() {
    if !browser_available(
        "browser_station_revoked_keeps_its_queue_and_replays_it_after_enrolling_again",
    ) {
        return;
    }
    let (w, _) = world(&[]).await;
    let point: gw_domain::ids::Key = w.points[0].parse().unwrap();
    let issue = || {
        w.srv
            .post(
                &format!("/api/v1/points/{}/stations", w.points[0]),
                &json!({}),
            )
            .json()
    };
    let first = issue();
    let origin = format!("http://{}", w.srv.addr);
    let profile = tempfile::tempdir().unwrap();
    let b = Browser::start(profile.path().to_path_buf());
    b.enrol_station(&origin, &first);
    b.scan_keys("R0000001");
    for (_, c) in &w.codes[..2] {
        b.scan_keys(c);
    }
    b.wait("two stored", "document.getElementById('point-count').textContent === '2' && document.getElementById('waiting').textContent === '0'");

    // The station is revoked: the next scan is refused with 401 and kept.
    let station = first["station"].as_str().unwrap();
    assert_eq!(
        w.srv
            .post(&format!("/api/v1/stations/{station}/revoke"), &json!({}))
            .status,
        200
    );
    b.scan_keys(&w.codes[2].1);
    b.wait(
        "the refusal shown and the scan kept",
        "!document.getElementById('enroll').hidden && document.getElementById('waiting').textContent === '1' && document.getElementById('feedback').dataset.kind === 'bad'",
    );
    b.screenshot("station-revoked", 360);
    assert_eq!(registrations(&w.env, w.street, point.id).await.len(), 2);

    // Enrolled again with a new code (typed, Enter): the kept scan goes in once.
    let second = issue();
    b.type_into("#enroll-code", second["enroll_code"].as_str().unwrap());
    b.scan_keys("");
    b.wait("the queue replayed", "document.getElementById('enroll').hidden && document.getElementById('waiting').textContent === '0'");
    std::thread::sleep(Duration::from_millis(3500));
    let regs = registrations(&w.env, w.street, point.id).await;
    assert_eq!(regs.len(), 3, "{regs:?}");
    assert_eq!(regs[2].2, w.codes[2].1, "the kept scan, once");
}

/// A scan the station must not send where it is now (queued at another
/// point before the device was enrolled elsewhere) is held on the device,
/// never sent to the wrong point nor dropped, and sent once from the right
/// one; a tube's barcode read twice is not a swab; an ID number is not a
/// tube barcode.
#[tokio::test]
async fn browser_station_holds_scans_of_another_point_and_knows_a_code_from_a_tube() {
    if !browser_available(
        "browser_station_holds_scans_of_another_point_and_knows_a_code_from_a_tube",
    ) {
        return;
    }
    let (w, _) = world(&[]).await;
    let p0: gw_domain::ids::Key = w.points[0].parse().unwrap();
    let p1: gw_domain::ids::Key = w.points[1].parse().unwrap();
    let issue = |point: &str| {
        w.srv
            .post(&format!("/api/v1/points/{point}/stations"), &json!({}))
            .json()
    };
    let first = issue(&w.points[0]);
    let origin = format!("http://{}", w.srv.addr);
    let profile = tempfile::tempdir().unwrap();
    let b = Browser::start(profile.path().to_path_buf());
    b.enrol_station(&origin, &first);
    // An ID number where a tube barcode is wanted: refused, no tube opened.
    let base = "11010519491231002";
    let weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = base
        .bytes()
        .zip(weights)
        .map(|(c, w)| u32::from(c - b'0') * w)
        .sum();
    let id_number = format!(
        "{base}{}",
        "10X98765432".as_bytes()[(sum % 11) as usize] as char
    );
    b.scan_keys(&id_number);
    b.wait(
        "the ID number refused as a tube",
        "document.getElementById('feedback').dataset.kind === 'bad' && document.getElementById('tube-barcode').textContent === '—'",
    );
    // No tube yet: the station says to scan one first (not that a tube is full).
    let said = b.source();
    assert!(said.contains("请先扫描采样管条码，再扫居民码"), "{said}");
    b.scan_keys("H0000001");
    b.scan_keys(&w.codes[0].1);
    b.wait("one stored", "document.getElementById('point-count').textContent === '1' && document.getElementById('waiting').textContent === '0'");
    // The tube's own label read again: not a swab.
    b.scan_keys("H0000001");
    b.wait(
        "the double read refused",
        "document.getElementById('feedback').dataset.kind === 'bad' && document.getElementById('tube-fill').textContent.startsWith('1/')",
    );
    // Revoked: the next scan is kept.
    let station = first["station"].as_str().unwrap();
    assert_eq!(
        w.srv
            .post(&format!("/api/v1/stations/{station}/revoke"), &json!({}))
            .status,
        200
    );
    // A document number typed by hand (no code on them).
    b.scan_keys(&id_number);
    b.wait(
        "the scan kept",
        "!document.getElementById('enroll').hidden && document.getElementById('waiting').textContent === '1'",
    );
    // Enrolled at the other point: the kept scan is held, not sent there.
    let other = issue(&w.points[1]);
    b.type_into("#enroll-code", other["enroll_code"].as_str().unwrap());
    b.scan_keys("");
    b.wait(
        "the scan held",
        "document.getElementById('enroll').hidden && document.getElementById('waiting').textContent === '0' && document.querySelectorAll('#problem-list li.held').length === 1 && !document.getElementById('resend-held').hidden",
    );
    b.screenshot("station-held", 360);
    // The shared device's list shows the number masked (the item itself keeps it to send).
    let listed = b.text("#problem-list");
    assert!(
        !listed.contains(&id_number) && listed.contains(&id_number[14..]),
        "{listed}"
    );
    std::thread::sleep(Duration::from_millis(3500));
    assert_eq!(registrations(&w.env, w.street, p0.id).await.len(), 1);
    assert_eq!(registrations(&w.env, w.street, p1.id).await.len(), 0);
    // "Clear" leaves what is held.
    b.click("#clear-problems");
    b.wait(
        "still held",
        "document.querySelectorAll('#problem-list li.held').length === 1",
    );
    // Back at its point, sent again: stored once.
    let again = issue(&w.points[0]);
    b.goto(&format!(
        "{origin}/station?code={}",
        again["enroll_code"].as_str().unwrap()
    ));
    b.wait(
        "the scanning panel",
        "!document.getElementById('scan').hidden && !document.getElementById('resend-held').hidden",
    );
    b.click("#resend-held");
    b.wait(
        "the held scan sent",
        "document.querySelectorAll('#problem-list li.held').length === 0 && document.getElementById('waiting').textContent === '0'",
    );
    std::thread::sleep(Duration::from_millis(3500));
    let regs = registrations(&w.env, w.street, p0.id).await;
    assert_eq!(regs.len(), 2, "{regs:?}");
    assert_eq!(regs[1].2, id_number, "the held scan, once");
}

#[tokio::test]
async fn browser_station_takes_a_walk_in_and_a_single_tube_retest() {
    if !browser_available("browser_station_takes_a_walk_in_and_a_single_tube_retest") {
        return;
    }
    let (w, _) = world(&[]).await;
    let point: gw_domain::ids::Key = w.points[0].parse().unwrap();
    let origin = format!("http://{}", w.srv.addr);
    let (b, _profile) = station_at_first_point(&w, &origin);
    // A pooled tube: a resident's code, then a walk-in on no roster by the form.
    b.scan_keys("W0000001");
    b.scan_keys(&w.codes[0].1);
    b.wait("one stored", "document.getElementById('point-count').textContent === '1' && document.getElementById('waiting').textContent === '0'");
    b.click("#walk-in-button");
    b.type_into("#walk-in-name", "过路人");
    b.type_into("#walk-in-phone", "13904310000");
    b.click("#walk-in button[type=submit]");
    // Registered: nothing else for the volunteer to do (the community
    // checks who it was), so not a red screen.
    b.wait("the walk-in stored", "document.getElementById('point-count').textContent === '2' && document.getElementById('waiting').textContent === '0' && document.getElementById('feedback').dataset.kind === 'ok'");
    assert!(
        b.text("#fb-text").contains("临时人员") || b.text("#fb-text").contains("Walk-in"),
        "{}",
        b.text("#fb-text")
    );
    assert_eq!(
        b.exec(
            "return getComputedStyle(document.getElementById('walk-in')).display;",
            json!([])
        ),
        json!("none"),
        "the form folds away after use"
    );
    b.screenshot("station-walk-in", 360);
    // A single-tube retest: the next tube for a retest holds one swab.
    b.click("#new-tube");
    b.exec(
        // As a volunteer chooses it: the choice is kept (a change event),
        // not overwritten by the next redraw.
        "var p = document.getElementById('purpose'); p.value = 'retest'; p.dispatchEvent(new Event('change'));",
        json!([]),
    );
    b.scan_keys("S0000001");
    b.wait(
        "a tube of one",
        "document.getElementById('tube-fill').textContent === '0/1'",
    );
    b.scan_keys(&w.codes[1].1);
    b.wait("the retest stored, the tube full", "document.getElementById('point-count').textContent === '3' && document.getElementById('waiting').textContent === '0' && document.getElementById('code').dataset.mode === 'tube'");
    assert_eq!(
        b.exec(
            "return [document.getElementById('purpose').disabled, document.getElementById('purpose').value];",
            json!([])
        ),
        json!([false, "retest"]),
        "a full tube: the next one's purpose may be chosen, the last one offered"
    );
    // A reload (a phone locked on the stairs) keeps it: the page's default
    // would open the next tube as routine.
    let purpose = "return document.getElementById('purpose').value;";
    b.goto(&format!("{origin}/station"));
    b.wait(
        "the scanning panel again",
        "!document.getElementById('scan').hidden && document.getElementById('code').dataset.mode === 'tube'",
    );
    assert_eq!(b.exec(purpose, json!([])), json!("retest"));
    // And so does a purpose chosen for the next tube before it is opened.
    b.exec(
        "var p = document.getElementById('purpose'); p.value = 'door_to_door'; p.dispatchEvent(new Event('change'));",
        json!([]),
    );
    b.goto(&format!("{origin}/station"));
    b.wait(
        "the scanning panel a third time",
        "!document.getElementById('scan').hidden && document.getElementById('code').dataset.mode === 'tube'",
    );
    assert_eq!(b.exec(purpose, json!([])), json!("door_to_door"));
    b.exec(
        "var p = document.getElementById('purpose'); p.value = 'retest'; p.dispatchEvent(new Event('change'));",
        json!([]),
    );
    let regs = registrations(&w.env, w.street, point.id).await;
    assert_eq!(regs.len(), 3, "{regs:?}");
    let pending = w.srv.get("/api/v1/residents?status=pending").json();
    assert_eq!(
        pending["items"][0]["id"]
            .as_str()
            .map(|s| s.parse::<gw_domain::ids::Key>().unwrap().id),
        regs[1].1
    );
    let store = w.env.store().await;
    let tube = store
        .tube_by_barcode(
            w.street,
            w.round.parse::<gw_domain::ids::Key>().unwrap().id,
            "S0000001",
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(tube.pool_size, 1);
    let last = store
        .registration_by_client(w.street, &regs[2].0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(last.purpose, "retest");
    // Tubes are now issued to this point by range: a tube from outside it
    // opens (green at the scan, offline-first), then the server's warning
    // turns the screen red with the tube named.
    let r = w.srv.post(
        &format!("/api/v1/points/{}/supplies", w.points[0]),
        &json!({ "kind": "tubes", "first_barcode": "TA00000001", "last_barcode": "TA00000050" }),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    b.scan_keys("ZZ0000001");
    b.wait(
        "the not-issued warning on the screen",
        "document.getElementById('feedback').dataset.kind === 'bad' && document.getElementById('fb-detail').textContent.indexOf('ZZ0000001') === 0",
    );
    assert!(
        b.text("#fb-text").contains("注意此采样管")
            && b.text("#fb-detail").contains("不在发放给本点"),
        "{} {}",
        b.text("#fb-text"),
        b.text("#fb-detail")
    );
}

#[tokio::test]
async fn browser_registry_roster_upload_with_report_and_round_pages() {
    if !browser_available("browser_registry_roster_upload_with_report_and_round_pages") {
        return;
    }
    let (w, pw) = world(&[("leader2", "grid_leader")]).await;
    let store = w.env.store().await;
    let c = &store.communities(None, Some(w.street)).await.unwrap()[0];
    let grid = &store.grids(None, Some((w.street, c.id))).await.unwrap()[0];
    let gk = format!("{}-{}", w.street, grid.id);
    let origin = format!("http://{}", w.srv.addr);
    let profile = tempfile::tempdir().unwrap();
    let b = Browser::start(profile.path().to_path_buf());
    form_login(&b, &origin, "leader2", &pw[0], None);

    // The tree, a grid, a household, a search: masked throughout.
    b.goto(&format!("{origin}/registry"));
    assert!(b.source().contains(&format!("/grids/{gk}")));
    assert_masked("registry", &b.source());
    b.screenshots("page-registry");
    eprintln!("page weight page-registry: {} bytes", b.source().len());
    b.goto(&format!("{origin}/grids/{gk}"));
    assert_masked("grid", &b.source());
    b.screenshots("page-grid");
    eprintln!("page weight page-grid: {} bytes", b.source().len());
    let household = b
        .exec(
            "return document.querySelector('a.chip').getAttribute('href');",
            json!([]),
        )
        .as_str()
        .unwrap()
        .to_string();
    b.goto(&format!("{origin}{household}"));
    assert_masked("household", &b.source());
    assert!(b.source().contains(&format!("{household}/codes")));
    b.screenshots("page-household");
    eprintln!("page weight page-household: {} bytes", b.source().len());
    b.goto(&format!("{origin}/registry"));
    b.type_into("input[name=q]", "12345");
    b.click(".searchbar button");
    b.wait(
        "the search answer",
        "location.pathname === '/registry/search' && document.readyState === 'complete'",
    );
    assert!(b.text("#results").contains("末4位"), "what to fix");
    b.screenshots("page-search");
    eprintln!("page weight page-search: {} bytes", b.source().len());

    // Roster upload: progress, the counts, the report downloaded by the browser.
    let path = w.env.path("messy.xlsx");
    gw_app::fixtures::write_xlsx(&path, &gw_app::fixtures::messy_building_roster()).unwrap();
    let before = store.resident_count().await.unwrap();
    b.goto(&format!("{origin}/registry/import"));
    b.screenshots("page-import");
    eprintln!("page weight page-import: {} bytes", b.source().len());
    b.type_into("#file", path.to_str().unwrap());
    b.click("#go");
    b.wait(
        "the import result",
        "!!document.getElementById('report-link')",
    );
    let exp = gw_app::fixtures::messy_building_roster_expectations();
    assert_eq!(b.text("#n-added"), exp.residents.to_string());
    assert_eq!(b.text("#n-rejected"), exp.rejected.to_string());
    assert!(
        b.text("#issues").contains("3号楼"),
        "issues by sheet and row"
    );
    assert_eq!(
        store.resident_count().await.unwrap(),
        before + exp.residents as i64
    );
    b.screenshots("page-import-done");
    eprintln!("page weight page-import-done: {} bytes", b.source().len());
    let report = b.cmd(
        "POST",
        "/execute/async",
        Some(json!({ "script": "var done = arguments[0]; fetch(document.getElementById('report-link').href).then(function(r){ return r.arrayBuffer().then(function(a){ var u = new Uint8Array(a); done([r.status, r.headers.get('content-disposition'), u.length, String.fromCharCode(u[0], u[1])]); }); });", "args": [] })),
    );
    assert_eq!(report[0], json!(200), "{report}");
    assert!(report[1].as_str().unwrap().contains("messy.report.xlsx"));
    assert!(report[2].as_u64().unwrap() > 1000);
    assert_eq!(report[3], json!("PK"), "an xlsx file");

    // Round pages a grid leader reads.
    for (name, path) in [
        ("page-schedule", format!("/rounds/{}/schedule", w.round)),
        (
            "page-door-to-door",
            format!("/rounds/{}/door-to-door?grid={gk}", w.round),
        ),
        (
            "page-compare",
            format!("/rounds/{}/compare?grid={gk}", w.round),
        ),
        (
            "page-disinfection",
            format!("/rounds/{}/disinfection", w.round),
        ),
        (
            "page-coverage-buildings",
            format!("/rounds/{}/coverage?grid={gk}", w.round),
        ),
    ] {
        b.goto(&format!("{origin}{path}"));
        assert!(
            b.exec(
                "return document.querySelector('meta[name=gw-error]') === null;",
                json!([])
            ) == json!(true),
            "{name}: {}",
            b.source()
        );
        assert_masked(name, &b.source());
        b.screenshots(name);
        eprintln!("page weight {name}: {} bytes", b.source().len());
        if name == "page-schedule" {
            assert!(b.source().contains(r#"id="calldown""#), "slots to print");
            let pdf = b.cmd(
                "POST",
                "/print",
                Some(json!({ "page": { "width": 21.0, "height": 29.7 }, "background": true })),
            );
            let pdf = base64_decode(pdf.as_str().unwrap());
            assert!(pdf.starts_with(b"%PDF"), "a PDF");
            std::fs::write(artifacts().join("call-down-a4.pdf"), pdf).unwrap();
        }
    }
    // The street commander's: the lab upload and the reconciliation.
    form_login(&b, &origin, "chief", &w.chief_password, None);
    for (name, path) in [
        ("page-lab", format!("/rounds/{}/lab", w.round)),
        (
            "page-reconciliation",
            format!("/rounds/{}/reconciliation", w.round),
        ),
    ] {
        b.goto(&format!("{origin}{path}"));
        assert!(
            b.exec(
                "return document.querySelector('meta[name=gw-error]') === null;",
                json!([])
            ) == json!(true),
            "{name}: {}",
            b.source()
        );
        b.screenshots(name);
        eprintln!("page weight {name}: {} bytes", b.source().len());
    }
}

/// `serve --tls`: the station page opened over https at the server's address
/// registers its service worker (the browser told to accept the self-made
/// certificate, as a station that installed the CA would); plain http there
/// is sent on to https.
#[tokio::test]
async fn browser_station_registers_its_service_worker_over_https() {
    if !browser_available("browser_station_registers_its_service_worker_over_https") {
        return;
    }
    let env = TestEnv::new().await;
    let (_, extra) = crate::tls::tls_dir(&env);
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let srv = crate::tls::TlsServer::start(&env, "127.0.0.1:0", &extra, 1);
    let profile = tempfile::tempdir().unwrap();
    let mut b = Browser::start(profile.path().to_path_buf());
    b.cmd("DELETE", "", None);
    let caps = json!({ "capabilities": { "alwaysMatch": { "browserName": "chrome", "goog:chromeOptions": {
        "binary": CHROMIUM,
        "args": ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage", "--ignore-certificate-errors",
                 format!("--user-data-dir={}", profile.path().display())]
    } } } });
    let (status, v) = http_json(&b.addr, "POST", "/session", Some(&caps));
    assert_eq!(status, 200, "new session: {v}");
    b.session = v["value"]["sessionId"].as_str().unwrap().to_string();

    b.goto(&format!("http://{}/station", srv.addr));
    b.wait(
        "redirected to https",
        "location.protocol === 'https:' && location.pathname === '/station'",
    );
    b.wait("a secure context", "window.isSecureContext");
    b.exec(
        "navigator.serviceWorker.ready.then(function (r) { window.__sw = r.active && r.active.scriptURL; }); return 1;",
        json!([]),
    );
    b.wait(
        "the service worker active",
        "window.__sw && window.__sw.endsWith('/sw.js')",
    );
}

/// The station's own count and what it keeps: a label read where the
/// person's code goes is refused live and dropped (nothing held, the count
/// not raised); enrolled again at the same point it keeps its tube; a tube
/// scanned again is continued at the server's fill; a tube closed under it
/// asks for a new one; a tube of another point is named with what to do,
/// and changed away from while empty it is withdrawn.
#[tokio::test]
async fn browser_station_drops_a_label_read_as_a_person_and_shows_the_servers_fill() {
    if !browser_available(
        "browser_station_drops_a_label_read_as_a_person_and_shows_the_servers_fill",
    ) {
        return;
    }
    let (w, _) = world(&[]).await;
    let issue = || {
        w.srv
            .post(
                &format!("/api/v1/points/{}/stations", w.points[0]),
                &json!({}),
            )
            .json()
    };
    let origin = format!("http://{}", w.srv.addr);
    let profile = tempfile::tempdir().unwrap();
    let b = Browser::start(profile.path().to_path_buf());
    b.enrol_station(&origin, &issue());
    b.scan_keys("H0000001");
    b.scan_keys(&w.codes[0].1);
    b.wait("one stored", "document.getElementById('point-count').textContent === '1' && document.getElementById('waiting').textContent === '0' && document.getElementById('tube-fill').textContent === '1/10'");
    // Another tube of the round read where the person's code goes.
    let other = w.srv.post(
        &format!("/api/v1/points/{}/tubes", w.points[1]),
        &json!({ "barcode": "H0000002" }),
    );
    assert_eq!(other.status, 201, "{}", other.body);
    b.scan_keys("H0000002");
    b.wait(
        "the label refused, to be scanned again",
        "document.getElementById('feedback').dataset.kind === 'bad' && document.getElementById('fb-text').textContent.indexOf('请重新扫描此人的个人码') >= 0 && document.getElementById('waiting').textContent === '0'",
    );
    assert_eq!(b.text("#tube-fill"), "1/10", "the refused scan is no swab");
    assert_eq!(
        b.exec(
            "return [document.querySelectorAll('#problem-list li.held').length, document.getElementById('resend-held').hidden];",
            json!([])
        ),
        json!([0, true]),
        "nothing held to send later"
    );
    b.scan_keys(&w.codes[1].1);
    b.wait("two stored", "document.getElementById('point-count').textContent === '2' && document.getElementById('waiting').textContent === '0' && document.getElementById('tube-fill').textContent === '2/10'");
    // Enrolled again at the same point: the tube in hand is kept.
    b.enrol_station(&origin, &issue());
    b.wait(
        "the tube kept",
        "document.getElementById('tube-barcode').textContent === 'H0000001' && document.getElementById('tube-fill').textContent === '2/10'",
    );
    // A station that lost its tube (another device, a cleared browser)
    // scanning it again: continued at the server's count.
    b.exec(
        "var s = JSON.parse(localStorage.getItem('gw.station.state')); s.tube = null; s.fill = 0; s.known = 0; localStorage.setItem('gw.station.state', JSON.stringify(s));",
        json!([]),
    );
    b.goto(&format!("{origin}/station"));
    b.wait("the scanning panel", "!document.getElementById('scan').hidden && document.getElementById('code').dataset.mode === 'tube'");
    b.scan_keys("H0000001");
    b.wait(
        "the tube continued",
        "document.getElementById('fb-text').textContent.indexOf('继续使用此管') >= 0 && document.getElementById('tube-fill').textContent === '2/10'",
    );
    // Closed under the station (the manager, another station): the next
    // swab is recorded, flagged, and a new tube asked for.
    let reopened = w.srv.post(
        &format!("/api/v1/points/{}/tubes", w.points[0]),
        &json!({ "barcode": "H0000001", "reuse": true }),
    );
    let t = reopened.json()["id"].as_str().unwrap().to_string();
    let closed = w.srv.post(&format!("/api/v1/tubes/{t}/close"), &json!({}));
    assert_eq!(closed.json()["state"], "closed", "{}", closed.body);
    b.scan_keys(&w.codes[2].1);
    b.wait(
        "a new tube asked for",
        "document.getElementById('fb-text').textContent.indexOf('此管已封管') >= 0 && document.getElementById('code').dataset.mode === 'tube'",
    );
    // A tube issued to the other point: the warning says what to do; changed
    // away from, empty, it is withdrawn.
    crate::testing::issue_tubes(&w.env, &w.points[1], "H0000100", "H0000199");
    b.scan_keys("H0000150");
    b.wait(
        "the warning with what to do",
        "document.getElementById('fb-detail').textContent.indexOf('请换用本点的采样管') >= 0",
    );
    b.screenshot("station-not-issued", 360);
    b.click("#new-tube");
    let store = w.env.store().await;
    let mut left = Vec::new();
    for _ in 0..50 {
        left = crate::harness::query_strings(
            &store,
            "SELECT barcode FROM tube WHERE barcode = 'H0000150'",
        )
        .await;
        if left.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(left.is_empty(), "the empty tube withdrawn: {left:?}");
}
