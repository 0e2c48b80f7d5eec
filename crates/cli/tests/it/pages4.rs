//! What reviewers found on the live picture, the station's problem list and
//! the refusals made before a page handler: the live chart's key sits under
//! the chart (it covered the lines of eight points and more) and its time
//! axis starts with the round, not an hour before; a personal code in the
//! station's problem list is cut short (it is a credential); a body with a
//! NUL or one that stalled is refused in the reader's own header.

use std::io::{Read, Write};
use std::time::Duration;

use serde_json::{json, Value};

use crate::browser::{browser_available, station_at_first_point, world, Browser, Proxy};
use crate::harness::{Server, TestEnv};
use crate::round_pages::{error_code, Browser as Session};

const MINUTE_MS: i64 = 60_000;
const BUCKET_MS: i64 = 10 * MINUTE_MS;

/// China time, hours and minutes, as the chart's axis writes it.
fn hhmm(ms: i64) -> String {
    let m = (ms + 8 * 3_600_000).rem_euclid(86_400_000) / MINUTE_MS;
    format!("{:02}:{:02}", m / 60, m % 60)
}

struct Live {
    _env: TestEnv,
    srv: Server,
    /// The chief's session cookie (`gw_session=…`).
    cookie: String,
    round: String,
    starts_ms: i64,
    points: Vec<String>,
}

/// A round that started 25 minutes ago with nine points in one community,
/// each with swabs taken since.
async fn live_round() -> Live {
    let env = TestEnv::new().await;
    env.cli_ok(&["demo", "--residents", "300", "--seed", "7", "--no-serve"]);
    let pw = env.account("chief", "street_commander", &["--street", "鸿城街道"]);
    let store = env.store().await;
    let street = store.streets().await.unwrap()[0].id;
    let c = store.communities(None, Some(street)).await.unwrap()[0].clone();
    let mut srv = env.serve();
    srv.token = Some(srv.login("chief", &pw));
    let cookie = Session::login(&srv, "chief", &format!("{pw}-changed"))
        .cookie
        .clone();
    let now = gw_app::Clock::System.now_ms();
    let starts_ms = now - 25 * MINUTE_MS;
    let (round, _) = crate::harness::open_round(
        |p, b| srv.post(p, b),
        &json!({ "street": street, "name": "全员核酸第2轮", "starts_ms": starts_ms, "ends_ms": now + 10 * 3_600_000, "pool_size": 10 }),
    );
    let points: Vec<String> = (1..=9)
        .map(|i| {
            let r = srv.post(
                &format!("/api/v1/rounds/{round}/points"),
                &json!({ "name": format!("{i}号采样点"), "community": format!("{street}-{}", c.id) }),
            );
            assert_eq!(r.status, 201, "{}", r.body);
            r.json()["id"].as_str().unwrap().to_string()
        })
        .collect();
    let codes = crate::harness::residents_with_codes(
        |p| srv.get(p),
        &format!("limit=30&community={street}-{}", c.id),
    );
    assert!(codes.len() >= 27, "{} codes", codes.len());
    for (i, point) in points.iter().enumerate() {
        let tube = srv.post(
            &format!("/api/v1/points/{point}/tubes"),
            &json!({ "barcode": format!("LA{:06}", i + 1) }),
        );
        assert_eq!(tube.status, 201, "{}", tube.body);
        let tube = tube.json()["id"].as_str().unwrap().to_string();
        // A few swabs each, the first point's over the whole 25 minutes.
        for j in 0..=(i % 3) {
            let n = i * 3 + j;
            let scanned_ms = starts_ms + (2 + 7 * j as i64 + i as i64) * MINUTE_MS;
            let r = srv.post(
                &format!("/api/v1/tubes/{tube}/scans"),
                &json!({ "client_id": format!("live-{n}"), "code": codes[n].1, "purpose": "routine", "scanned_ms": scanned_ms }),
            );
            assert_eq!(r.status, 200, "{}", r.body);
        }
    }
    Live {
        _env: env,
        srv,
        cookie,
        round,
        starts_ms,
        points,
    }
}

fn page(srv: &Server, cookie: &str, path: &str) -> crate::harness::Response {
    srv.raw(&format!(
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: {cookie}\r\n\r\n"
    ))
}

/// The text between `from` and the next `to` after it.
fn between<'a>(s: &'a str, from: &str, to: &str) -> &'a str {
    let rest = s.split_once(from).map_or("", |(_, r)| r);
    rest.split_once(to).map_or(rest, |(r, _)| r)
}

#[tokio::test]
async fn the_live_chart_of_nine_points_has_its_key_beneath_and_starts_with_the_round() {
    let w = live_round().await;
    let r = page(&w.srv, &w.cookie, &format!("/rounds/{}/live", w.round));
    assert_eq!(r.status, 200, "{}", r.body);
    let chart = between(&r.body, r#"<div id="chart-time">"#, "</svg>");
    assert!(chart.starts_with("<svg"), "{}", r.body);

    // The axis starts at the round's start (its 10-minute bucket), not an
    // hour and more before it.
    let first_label = between(chart, r##"text-anchor="middle" fill="#5f6b76">"##, "<");
    let start_bucket = w.starts_ms.div_euclid(BUCKET_MS) * BUCKET_MS;
    assert_eq!(
        first_label,
        hhmm(start_bucket),
        "the axis starts with the round (started {})",
        hhmm(w.starts_ms)
    );

    // No key inside the picture: a point's name is only the tooltip of its line.
    for text in chart.split("<text").skip(1) {
        let text = text.split("</text>").next().unwrap_or(text);
        assert!(
            !text.contains("采样点"),
            "a name drawn over the lines: {text}"
        );
    }
    assert!(!chart.contains("<rect"), "{chart}");
    assert_eq!(chart.matches("<polyline").count(), 9, "{chart}");

    // The key: a list under the chart, one entry per point, in the lines'
    // order; the ninth point's line is dashed, unlike the first's.
    let key = between(&r.body, r#"<div id="legend-time">"#, "</div>");
    assert!(key.starts_with(r#"<ul class="legend">"#), "{key}");
    let items: Vec<&str> = key.split("<li>").skip(1).collect();
    assert_eq!(items.len(), 9, "{key}");
    for (i, item) in items.iter().enumerate() {
        assert!(item.contains(&format!("{}号采样点", i + 1)), "{item}");
    }
    assert!(!items[0].contains("stroke-dasharray"), "{}", items[0]);
    assert!(items[8].contains("stroke-dasharray"), "{}", items[8]);
    let lines: Vec<&str> = chart.split("<polyline").skip(1).collect();
    assert!(lines[8].contains("stroke-dasharray"), "{}", lines[8]);
    assert_eq!(w.points.len(), 9);

    // The stream carries the key with the picture, for the page's script.
    let ev = page(
        &w.srv,
        &w.cookie,
        &format!("/rounds/{}/events?once=1", w.round),
    );
    assert_eq!(ev.status, 200, "{}", ev.body);
    let data: Value = serde_json::from_str(between(&ev.body, "data: ", "\n")).unwrap();
    assert_eq!(data["legend_time"].as_str(), Some(key), "{data}");
}

/// Navigates the browser (its own `goto` is the browser module's).
fn open(b: &Browser, url: &str, ready: &str) {
    b.exec(
        "window.location.href = arguments[0]; return true;",
        json!([url]),
    );
    b.wait(
        url,
        &format!("document.readyState === 'complete' && ({ready})"),
    );
}

#[tokio::test]
async fn in_a_browser_the_live_charts_key_covers_no_line_on_a_phone_or_a_desk() {
    if !browser_available("in_a_browser_the_live_charts_key_covers_no_line_on_a_phone_or_a_desk") {
        return;
    }
    let w = live_round().await;
    let origin = format!("http://{}", w.srv.addr);
    let profile = tempfile::tempdir().unwrap();
    let b = Browser::start(profile.path().to_path_buf());
    open(
        &b,
        &format!("{origin}/login"),
        "location.pathname === '/login'",
    );
    b.exec(
        "document.cookie = arguments[0] + '; path=/'; return true;",
        json!([w.cookie]),
    );
    let live = format!("{origin}/rounds/{}/live", w.round);
    open(
        &b,
        &live,
        "document.querySelector('#chart-time svg') !== null",
    );
    b.screenshot("live-nine-points", 412);
    b.screenshot("live-nine-points", 1280);
    // The key is under the picture, inside the page's width, at a desk's
    // width and (in a frame as wide as a phone) at 412 px.
    let measure = r#"
        var d = arguments[0] ? document.getElementById('phone').contentDocument : document;
        var svg = d.querySelector('#chart-time svg'), key = d.querySelector('#legend-time ul');
        if (!svg || !key) return null;
        var s = svg.getBoundingClientRect(), k = key.getBoundingClientRect();
        return { svg_bottom: s.bottom, key_top: k.top, key_right: k.right, key_bottom: k.bottom,
                 width: d.documentElement.clientWidth, scroll: d.documentElement.scrollWidth,
                 items: key.querySelectorAll('li').length };"#;
    let check = |m: &Value, at: &str| {
        assert!(m.is_object(), "{at}: no key under the chart");
        let f = |k: &str| m[k].as_f64().unwrap();
        assert_eq!(m["items"], 9, "{at}: {m}");
        assert!(
            f("key_top") >= f("svg_bottom") - 0.5,
            "{at}: the key overlaps the chart: {m}"
        );
        assert!(
            f("key_right") <= f("width") + 0.5,
            "{at}: the key runs off the page: {m}"
        );
        assert!(
            f("scroll") <= f("width"),
            "{at}: the page scrolls sideways: {m}"
        );
    };
    check(&b.exec(measure, json!([false])), "1280 px");
    b.exec(
        "document.body.innerHTML = '<iframe id=\"phone\" style=\"width:412px;height:900px;border:0\"></iframe>'; document.getElementById('phone').src = arguments[0]; return true;",
        json!([live]),
    );
    b.wait(
        "the page in a phone-wide frame",
        "(function(){var f=document.getElementById('phone');var d=f&&f.contentDocument;return d&&d.readyState==='complete'&&d.querySelector('#chart-time svg')!==null;})()",
    );
    let m = b.exec(measure, json!([true]));
    check(&m, "412 px");
    // On a phone the nine names wrap onto several lines.
    let rows = b.exec(
        "var d = document.getElementById('phone').contentDocument; var tops = {}; d.querySelectorAll('#legend-time li').forEach(function (li) { tops[Math.round(li.getBoundingClientRect().top)] = 1; }); return Object.keys(tops).length;",
        json!([]),
    );
    assert!(rows.as_u64().unwrap() >= 2, "{rows}");
}

/// What the station's list shows of a personal code: its version, street,
/// the first four characters of its person and the last four of its signature.
fn cut(code: &str) -> String {
    let p: Vec<&str> = code.split('-').collect();
    assert_eq!(p.len(), 6, "{code}");
    format!(
        "{}-{}-{}…{}",
        p[0],
        p[1],
        &p[2][..4],
        &p[5][p[5].len() - 4..]
    )
}

#[tokio::test]
async fn the_station_problem_list_shows_a_personal_code_cut_short() {
    if !browser_available("the_station_problem_list_shows_a_personal_code_cut_short") {
        return;
    }
    let (w, _) = world(&[]).await;
    let proxy = Proxy::start(w.srv.addr.clone());
    let (b, _profile) = station_at_first_point(&w, &proxy.origin());
    let code = w.codes[0].1.clone();
    let short = cut(&code);
    b.scan_keys("H0000001");
    b.scan_keys(&code);
    b.wait(
        "one stored",
        "document.getElementById('point-count').textContent === '1' && document.getElementById('waiting').textContent === '0'",
    );
    // Scanned again while the network is down: the second swab is found at
    // the upload, and listed.
    proxy.down();
    b.scan_keys(&code);
    // Until the scan's own upload has given up (its answer, were it to come
    // back now, would be shown at once, not listed).
    b.wait(
        "kept on the device",
        "document.getElementById('waiting').textContent === '1' && document.getElementById('feedback').dataset.kind === 'queued'",
    );
    proxy.up();
    b.wait(
        "the problem listed",
        "document.getElementById('waiting').textContent === '0' && document.querySelectorAll('#problem-list li').length === 1",
    );
    b.screenshot("station-problem-code-cut", 412);
    let listed = b.text("#problem-list");
    assert!(listed.contains("已采过样"), "{listed}");
    assert!(
        !listed.contains(&code),
        "the whole code is listed: {listed}"
    );
    assert!(listed.contains(&short), "{short} in {listed}");

    // A problem an earlier version of the page kept with the whole code is
    // shown cut short too.
    b.exec(
        r#"var text = arguments[0];
        return new Promise(function (resolve, reject) {
          var r = indexedDB.open('gridwarden-station', 1);
          r.onsuccess = function () {
            var t = r.result.transaction('problems', 'readwrite');
            t.objectStore('problems').add({ text: text });
            t.oncomplete = function () { r.result.close(); resolve(true); };
            t.onerror = function () { reject(t.error); };
          };
          r.onerror = function () { reject(r.error); };
        });"#,
        json!([format!("{code} — 此人本轮已采过样")]),
    );
    b.exec("location.reload(); return true;", json!([]));
    b.wait(
        "both problems listed after a reload",
        "document.getElementById('scan') && !document.getElementById('scan').hidden && document.querySelectorAll('#problem-list li').length === 2",
    );
    let listed = b.text("#problem-list");
    assert!(
        !listed.contains(&code),
        "the whole code is listed: {listed}"
    );
    assert_eq!(listed.matches(&short).count(), 2, "{listed}");
}

/// The logged-in chief's header: their name and 退出, no 登录 link.
fn assert_chiefs_header(r: &crate::harness::Response) {
    let header = r.body.split("</header>").next().unwrap_or("");
    assert!(
        header.contains(r#"<span class="who">chief</span>"#),
        "{}",
        r.body
    );
    assert!(header.contains(r#"action="/logout""#), "{}", r.body);
    assert!(!header.contains(r#"href="/login""#), "{}", r.body);
}

#[tokio::test]
async fn a_body_refused_before_its_handler_is_answered_in_the_readers_header() {
    let env = TestEnv::new().await;
    env.cli_ok(&["demo", "--residents", "60", "--seed", "3", "--no-serve"]);
    let pw = env.account("chief", "street_commander", &["--street", "鸿城街道"]);
    let srv = env.serve_with(&["--request-timeout", "1"]);
    srv.login("chief", &pw);
    let cookie = Session::login(&srv, "chief", &format!("{pw}-changed"))
        .cookie
        .clone();
    let form = |body: &str, length: usize| {
        format!(
            "POST /rounds/new HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: {cookie}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {length}\r\n\r\n{body}"
        )
    };

    // A form holding a NUL: 400, in the chief's header.
    let body = "name=%E5%85%A8%E5%91%98%00";
    let r = srv.raw(&form(body, body.len()));
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(error_code(&r).as_deref(), Some("nul_character"));
    assert_chiefs_header(&r);
    // Someone not logged in gets the visitor's header.
    let anon = srv.raw(&format!(
        "POST /login HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    ));
    assert_eq!(anon.status, 400, "{}", anon.body);
    assert!(anon.body.contains(r#"href="/login""#), "{}", anon.body);

    // A form whose body stalls: 408 after a second, in the chief's header.
    let mut s = std::net::TcpStream::connect(&srv.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(form("name=%E5%85%A8", 100).as_bytes()).unwrap();
    let mut got = Vec::new();
    s.read_to_end(&mut got)
        .expect("the server closes the connection");
    let text = String::from_utf8_lossy(&got).to_string();
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP answer");
    let r = crate::harness::Response {
        status: head.split_whitespace().nth(1).unwrap().parse().unwrap(),
        body: body.to_string(),
        head: head.to_string(),
    };
    assert_eq!(r.status, 408, "{text}");
    assert_eq!(error_code(&r).as_deref(), Some("request_timeout"));
    assert!(r.body.contains("发送中断"), "{}", r.body);
    assert_chiefs_header(&r);
}
