//! Defects a reviewer found on the pages (demo street 鸿城街道), each with
//! the test that would have caught it.

use serde_json::json;

use crate::browser::{browser_available, Proxy};
use crate::round_pages::Browser;

/// A scan answered "nobody in this street has this number", then the
/// walk-in registered for that person without pressing Undo: the walk-in
/// takes the scan back first, so the tube holds one swab of that person.
#[tokio::test]
async fn browser_station_walk_in_takes_back_an_unregistered_number_first() {
    if !browser_available("browser_station_walk_in_takes_back_an_unregistered_number_first") {
        return;
    }
    let (w, _) = crate::browser::world(&[]).await;
    let origin = format!("http://{}", w.srv.addr);
    let (b, _profile) = crate::browser::station_at_first_point(&w, &origin);
    let id = gw_domain::idnumber::IdNumber::compose(
        "220102",
        gw_domain::date::Date::new(1980, 5, 17).unwrap(),
        731,
    )
    .unwrap();
    b.scan_keys("W0000001");
    b.scan_keys(&w.codes[0].1);
    b.wait("one stored", "document.getElementById('point-count').textContent === '1' && document.getElementById('waiting').textContent === '0'");
    b.scan_keys(id.as_str());
    b.wait("the number answered as nobody's", "document.getElementById('waiting').textContent === '0' && document.getElementById('tube-fill').textContent.indexOf('2/') === 0 && document.getElementById('feedback').dataset.kind === 'bad'");
    assert!(
        b.text("#fb-text").contains("本街道没有此证件号"),
        "{}",
        b.text("#fb-text")
    );
    // The walk-in form, without pressing Undo.
    b.exec(
        "document.getElementById('walk-in-button').click();
         document.getElementById('walk-in-name').value = '过路人';
         document.getElementById('walk-in-phone').value = '13904310000';
         document.getElementById('walk-in').requestSubmit();",
        json!([]),
    );
    b.wait("the walk-in stored", "document.getElementById('waiting').textContent === '0' && document.getElementById('feedback').dataset.kind === 'ok' && document.getElementById('fb-detail').textContent.indexOf('已撤销上一个') >= 0");
    assert_eq!(
        b.text("#tube-fill"),
        "2/10",
        "the server's count: the resident and the walk-in, the number taken back ({})",
        b.text("#fb-detail")
    );
    b.screenshot("station-walk-in-after-unregistered", 360);
    // The server's answers on the screen in the page's language only: the
    // walk-in taken back with Undo (two presses).
    b.exec(
        "document.getElementById('undo').click(); document.getElementById('undo').click();",
        json!([]),
    );
    b.wait("the walk-in taken back", "document.getElementById('waiting').textContent === '0' && document.getElementById('fb-text').textContent === '已撤销' && document.getElementById('fb-detail').textContent.indexOf(' — ') > 0");
    let detail = b.text("#fb-detail");
    assert!(
        detail.contains("已撤销") && !detail.contains("taken back"),
        "{detail}"
    );
}

/// A demo street, its commander logged in to the pages, an open round and a
/// point of its first community.
struct World {
    srv: crate::harness::Server,
    street: i64,
    round: String,
    point: String,
    codes: Vec<(String, String)>,
    chief_password: String,
    /// The point's community, and a grid in it: (key, name).
    community: (String, String),
    grid: (String, String),
    _env: crate::harness::TestEnv,
}

async fn world() -> World {
    use crate::harness::{open_round, residents_with_codes, round_body, TestEnv};
    let env = TestEnv::new().await;
    env.cli_ok(&["demo", "--residents", "300", "--seed", "5", "--no-serve"]);
    let pw = env.account("chief", "street_commander", &["--street", "鸿城街道"]);
    let store = env.store().await;
    let street = store.streets().await.unwrap()[0].id;
    let c = &store.communities(None, Some(street)).await.unwrap()[0];
    let g = &store.grids(None, Some((street, c.id))).await.unwrap()[0];
    let mut srv = env.serve();
    srv.token = Some(srv.login("chief", &pw));
    let (round, _) = open_round(|p, b| srv.post(p, b), &round_body(street, "全员核酸第1轮"));
    let point = srv
        .post(
            &format!("/api/v1/rounds/{round}/points"),
            &json!({ "name": "1号采样点", "community": format!("{street}-{}", c.id) }),
        )
        .json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let codes = residents_with_codes(|p| srv.get(p), "limit=20");
    World {
        srv,
        street,
        round,
        point,
        codes,
        chief_password: format!("{pw}-changed"),
        community: (format!("{street}-{}", c.id), c.name.clone()),
        grid: (format!("{street}-{}", g.id), g.name.clone()),
        _env: env,
    }
}

/// A form posted as a browser posts it from the page at `referer` (this
/// server's host in the harness is `x`).
fn post_from(
    srv: &crate::harness::Server,
    b: &Browser<'_>,
    path: &str,
    referer: Option<&str>,
    fields: &[(&str, &str)],
) -> crate::harness::Response {
    let home = b.get("/");
    let csrf = home
        .body
        .split(r#"name="csrf" value=""#)
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_string();
    let mut body = format!("csrf={}", crate::harness::enc(&csrf));
    for (k, v) in fields {
        body.push_str(&format!(
            "&{}={}",
            crate::harness::enc(k),
            crate::harness::enc(v)
        ));
    }
    let referer = referer
        .map(|r| format!("Referer: {r}\r\n"))
        .unwrap_or_default();
    srv.raw(&format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: {}\r\n{referer}Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        b.cookie,
        body.len()
    ))
}

/// The page's language link.
fn lang_link(body: &str) -> String {
    body.split(r#"<a class="lang" href=""#)
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("a language link")
        .replace("&amp;", "&")
}

/// A page answered to a form (a refused code reissue, a correction) linked
/// its language switch to the form's address, which answers 405 to a GET:
/// it links to the page the form was on, or to the page of what the form
/// names.
#[tokio::test]
async fn the_language_link_on_a_page_answered_to_a_form_opens_a_page() {
    let w = world().await;
    let b = Browser::login(&w.srv, "chief", &w.chief_password);
    let resident = &w.codes[0].0;
    // Refused (no tick), posted from a household's code sheet.
    let r = post_from(
        &w.srv,
        &b,
        &format!("/residents/{resident}/code/reissue"),
        Some("http://x/households/1-2/codes?lang=zh"),
        &[],
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(lang_link(&r.body), "/households/1-2/codes?lang=en");
    // And a link back to it beside the one home.
    assert!(
        r.body
            .contains(r#"id="back" href="/households/1-2/codes?lang=zh""#),
        "{}",
        r.body
    );
    // No Referer (or another site's): the round's page, else home.
    for referer in [None, Some("http://elsewhere.example/rounds/1-1")] {
        let r = post_from(
            &w.srv,
            &b,
            &format!("/residents/{resident}/code/reissue"),
            referer,
            &[],
        );
        assert_eq!(r.status, 400, "{}", r.body);
        assert_eq!(lang_link(&r.body), "/?lang=en");
    }
    let r = post_from(
        &w.srv,
        &b,
        &format!("/rounds/{}/corrections", w.round),
        None,
        &[],
    );
    assert!(r.status >= 400, "{} {}", r.status, r.body);
    let link = lang_link(&r.body);
    assert_eq!(link, format!("/rounds/{}?lang=en", w.round));
    // And that link opens.
    assert_eq!(b.get(&link).status, 200);
    // A page asked for with GET still links to itself.
    let r = b.get(&format!("/rounds/{}?lang=zh", w.round));
    assert_eq!(lang_link(&r.body), format!("/rounds/{}?lang=en", w.round));
}

/// An error page in English said 「找不到：round 9-9 / not found: round 9-9」.
#[tokio::test]
async fn an_error_page_says_its_message_in_the_readers_language() {
    let w = world().await;
    let b = Browser::login(&w.srv, "chief", &w.chief_password);
    let en = b.get("/rounds/9-9?lang=en");
    assert_eq!(en.status, 404, "{}", en.body);
    let p = error_text(&en.body);
    assert!(p.contains("not found") && !p.contains("找不到"), "{p}");
    let zh = b.get("/rounds/9-9?lang=zh");
    let p = error_text(&zh.body);
    assert!(p.contains("找不到") && !p.contains("not found"), "{p}");
}

fn error_text(body: &str) -> String {
    body.split(r#"<p class="error">"#)
        .nth(1)
        .and_then(|r| r.split("</p>").next())
        .unwrap_or_else(|| panic!("an error line: {body}"))
        .to_string()
}

/// The point's 需核实的扫码 showed both languages for a problem written
/// without a space before its slash, and hid a walk-in's second swab
/// behind its note.
#[tokio::test]
async fn the_points_flagged_swabs_read_in_one_language_and_show_a_walk_ins_second_swab() {
    let w = world().await;
    let b = Browser::login(&w.srv, "chief", &w.chief_password);
    let tube = crate::testing::tube(&w.srv, &w.point, "W0000001");
    // A revoked code scanned.
    let (resident, old) = &w.codes[1];
    let r = w.srv.post(
        &format!("/api/v1/residents/{resident}/code/reissue"),
        &json!({}),
    );
    assert!(r.status < 300, "{}", r.body);
    let o = crate::testing::scan(&w.srv, &tube, "revoked-1", old);
    assert!(o["problem"].as_str().unwrap_or("").contains("作废"), "{o}");
    // The same walk-in twice.
    for client in ["walk-1", "walk-2"] {
        let r = w.srv.post(
            &format!("/api/v1/tubes/{tube}/scans"),
            &json!({ "client_id": client, "code": "", "walk_in": { "name": "过路人", "phone": "139 0431 0000" } }),
        );
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let en = b.get(&format!("/points/{}?lang=en", w.point));
    assert_eq!(en.status, 200, "{}", en.body);
    let flagged = en.body.split(r#"id="flagged""#).nth(1).unwrap();
    let flagged = flagged.split("</section>").next().unwrap();
    assert!(!flagged.contains("作废"), "{flagged}");
    assert!(flagged.contains("revoked"), "{flagged}");
    // The walk-in's second swab: the duplicate and the walk-in note.
    let row = flagged
        .split("<tr>")
        .find(|r| r.contains("a second swab"))
        .unwrap_or_else(|| panic!("the second swab listed: {flagged}"));
    assert!(row.contains("walk-in"), "{row}");
    let zh = b.get(&format!("/points/{}", w.point));
    let flagged = zh.body.split(r#"id="flagged""#).nth(1).unwrap();
    let flagged = flagged.split("</section>").next().unwrap();
    assert!(!flagged.contains("revoked"), "{flagged}");
    let _ = w.street;
}

/// The coverage pages by grid and by building never said which round and
/// which community or grid they showed.
#[tokio::test]
async fn a_coverage_page_says_which_round_and_place_it_shows() {
    let w = world().await;
    let b = Browser::login(&w.srv, "chief", &w.chief_password);
    for (q, place) in [
        (
            format!("community={}", w.community.0),
            w.community.1.clone(),
        ),
        (
            format!("grid={}", w.grid.0),
            format!("{} · {}", w.community.1, w.grid.1),
        ),
    ] {
        let r = b.get(&format!("/rounds/{}/coverage?{q}", w.round));
        assert_eq!(r.status, 200, "{}", r.body);
        let of = r
            .body
            .split(r#"id="coverage-of""#)
            .nth(1)
            .and_then(|r| r.split("</p>").next())
            .unwrap_or_else(|| panic!("a line naming the round and place: {}", r.body));
        assert!(of.contains("全员核酸第1轮") && of.contains(&place), "{of}");
        assert!(
            r.body.contains(&format!("<title>全员核酸第1轮 · {place}")),
            "{}",
            r.body
        );
        save(
            &format!("coverage-{}", q.split('=').next().unwrap()),
            &r.body,
        );
    }
}

/// A community's missed list gave no grid on its cards and sent the reader
/// to "each grid's missed list" without a link.
#[tokio::test]
async fn a_communitys_missed_list_names_each_persons_grid_and_links_the_grids_lists() {
    let w = world().await;
    let b = Browser::login(&w.srv, "chief", &w.chief_password);
    let r = b.get(&format!(
        "/rounds/{}/missed?community={}",
        w.round, w.community.0
    ));
    assert_eq!(r.status, 200, "{}", r.body);
    save("missed-community", &r.body);
    let list = r.body.split(r#"id="missed""#).nth(1).unwrap();
    let first = list.split("</li>").next().unwrap();
    assert!(first.contains(r#"class="grid-of""#), "{first}");
    assert!(
        first.contains(&format!("/rounds/{}/missed?grid=", w.round)),
        "{first}"
    );
    let hint = r
        .body
        .split(r#"id="exempt-elsewhere""#)
        .nth(1)
        .and_then(|r| r.split("</p>").next())
        .unwrap();
    assert!(
        hint.contains(&format!(
            r#"<a href="/rounds/{}/missed?grid={}">{}</a>"#,
            w.round, w.grid.0, w.grid.1
        )),
        "{hint}"
    );
}

/// Keeps a page's HTML for a look in a browser (GRIDWARDEN_SAVE_PAGES=dir).
fn save(name: &str, html: &str) {
    if let Ok(dir) = std::env::var("GRIDWARDEN_SAVE_PAGES") {
        let _ = std::fs::write(format!("{dir}/{name}.html"), html);
    }
}

/// Two disinfection tasks of one point (one withdrawn by a correction) read
/// the same; 消杀完成 pressed on a task done already gave a bare error page.
#[tokio::test]
async fn a_points_disinfection_tasks_name_their_pool_and_a_second_press_comes_back_with_a_notice() {
    let w = world().await;
    let b = Browser::login(&w.srv, "chief", &w.chief_password);
    for (t, barcode) in ["K0000001", "K0000002"].iter().enumerate() {
        let tube = crate::testing::tube(&w.srv, &w.point, barcode);
        for i in 0..3 {
            let n = 2 + t * 3 + i;
            crate::testing::scan(&w.srv, &tube, &format!("k{n}"), &w.codes[n].1);
        }
    }
    let r = w.srv.post(
        &format!("/api/v1/rounds/{}/results", w.round),
        &json!({ "results": [
            { "barcode": "K0000001", "result": "abnormal" },
            { "barcode": "K0000002", "result": "abnormal" },
        ] }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let r = w.srv.post(
        &format!("/api/v1/rounds/{}/results/corrections", w.round),
        &json!({ "barcode": "K0000001", "result": "negative", "reason": "复核为阴性" }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let page = b.get(&format!("/points/{}", w.point));
    assert_eq!(page.status, 200, "{}", page.body);
    let tasks = page
        .body
        .split(r#"id="point-disinfection""#)
        .nth(1)
        .and_then(|r| r.split("</ul>").next())
        .unwrap();
    let rows: Vec<&str> = tasks.split("<li").skip(1).collect();
    assert_eq!(rows.len(), 2, "{tasks}");
    let open = rows.iter().find(|r| r.contains("task-open")).unwrap();
    let withdrawn = rows.iter().find(|r| r.contains("task-withdrawn")).unwrap();
    assert!(open.contains("K0000002"), "{open}");
    assert!(withdrawn.contains("K0000001"), "{withdrawn}");
    // The round's list too.
    let list = b.get(&format!("/rounds/{}/disinfection", w.round));
    assert!(
        list.body.contains("K0000001") && list.body.contains("K0000002"),
        "{}",
        list.body
    );
    // 消杀完成, twice.
    let task = open
        .split(r#"action="/disinfection/"#)
        .nth(1)
        .and_then(|r| r.split('/').next())
        .unwrap()
        .to_string();
    let press = || {
        b.post(
            &format!("/disinfection/{task}/done"),
            &[("from", "point"), ("point", w.point.as_str())],
        )
    };
    let first = press();
    assert_eq!(first.status, 303, "{}", first.body);
    let second = press();
    assert_eq!(second.status, 303, "{}", second.body);
    let to = crate::round_pages::location(&second);
    assert_eq!(
        to,
        format!("/points/{}?disinfected=already#disinfection", w.point)
    );
    let back = b.get(to.split('#').next().unwrap());
    assert_eq!(back.status, 200, "{}", back.body);
    assert!(back.body.contains(r#"id="done-already""#), "{}", back.body);
    save("point-disinfection", &back.body);
}

/// The reissue page called the second code 「第 1 版」, and refreshing it
/// (the browser posting the form again) reissued once more.
#[tokio::test]
async fn a_reissued_code_is_shown_by_its_version_and_a_refresh_reissues_nothing() {
    let w = world().await;
    let b = Browser::login(&w.srv, "chief", &w.chief_password);
    let resident = &w.codes[0].0;
    let code = |srv: &crate::harness::Server| {
        srv.get(&format!("/api/v1/residents/{resident}/code"))
            .json()["code"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let first = code(&w.srv);
    let r = b.post(
        &format!("/residents/{resident}/code/reissue"),
        &[("confirm", "1")],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let to = crate::round_pages::location(&r);
    assert_eq!(to, format!("/residents/{resident}/code/reissued"));
    let second = code(&w.srv);
    assert_ne!(first, second);
    // The result, asked for again: the same code, nothing reissued.
    for _ in 0..2 {
        let page = b.get(&to);
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(page.body.contains(r#"id="code-reissued""#), "{}", page.body);
        assert!(page.body.contains("（第2版）"), "{}", page.body);
        assert!(page.body.contains(&second), "{}", page.body);
    }
    assert_eq!(code(&w.srv), second);
    let en = b.get(&format!("{to}?lang=en"));
    assert!(en.body.contains("(version 2)"), "{}", en.body);
    save("code-reissued", &en.body);
}

/// Back online, the station said 「已上传：请查看下方上传时发现的问题」 for a
/// clean upload because an older problem was still listed; and after
/// 已处理，清除 the red banner stayed over an empty list.
#[tokio::test]
async fn browser_station_banner_speaks_of_this_uploads_problems_only() {
    if !browser_available("browser_station_banner_speaks_of_this_uploads_problems_only") {
        return;
    }
    let (w, _) = crate::browser::world(&[]).await;
    let proxy = Proxy::start(w.srv.addr.clone());
    let (b, _profile) = crate::browser::station_at_first_point(&w, &proxy.origin());
    b.scan_keys("W0000001");
    b.scan_keys(&w.codes[0].1);
    b.wait("one stored", "document.getElementById('point-count').textContent === '1' && document.getElementById('waiting').textContent === '0' && document.getElementById('feedback').dataset.kind === 'ok'");
    // Offline, the same person again: a problem found on the way up.
    proxy.down();
    b.scan_keys(&w.codes[0].1);
    b.wait("kept", "document.getElementById('waiting').textContent === '1' && document.getElementById('feedback').dataset.kind === 'queued'");
    proxy.up();
    b.wait(
        "uploaded, with its problem",
        "document.getElementById('waiting').textContent === '0' && document.getElementById('feedback').dataset.kind === 'bad' && !document.getElementById('problems').hidden",
    );
    // Offline again, a clean scan: the old problem is still listed, but
    // this upload found none.
    proxy.down();
    b.scan_keys(&w.codes[1].1);
    b.wait("kept", "document.getElementById('waiting').textContent === '1' && document.getElementById('feedback').dataset.kind === 'queued'");
    proxy.up();
    b.wait(
        "uploaded",
        "document.getElementById('waiting').textContent === '0' && document.getElementById('feedback').dataset.kind !== 'queued'",
    );
    assert_eq!(
        (b.text("#fb-text"), b.text("#feedback").is_empty()),
        ("已全部上传".to_string(), false),
        "{}",
        b.text("#problem-list")
    );
    assert!(!b.text("#problem-list").is_empty());
    // A new problem, then the list cleared: the red banner goes with it.
    proxy.down();
    b.scan_keys(&w.codes[1].1);
    b.wait("kept", "document.getElementById('waiting').textContent === '1' && document.getElementById('feedback').dataset.kind === 'queued'");
    proxy.up();
    b.wait(
        "uploaded, with its problem",
        "document.getElementById('waiting').textContent === '0' && document.getElementById('feedback').dataset.kind === 'bad'",
    );
    b.exec(
        "document.getElementById('clear-problems').click();",
        json!([]),
    );
    b.wait(
        "the list emptied, the banner with it",
        "document.getElementById('problems').hidden && document.getElementById('feedback').dataset.kind === 'ok'",
    );
    assert_eq!(b.text("#fb-text"), "已全部上传");
    b.screenshot("station-problems-cleared", 390);
}
