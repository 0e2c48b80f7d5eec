//! What reviewers of the demo street found rough at the edges of the pages
//! and the API, over real HTTP: error pages made outside the page handlers
//! (the route check, an unknown address, an extractor's refusal) keep the
//! reader's header and a language link to the same address; an API body
//! missing a field names it in both languages; a lost code is reissued from
//! the household's code sheet; the lab page gives an unknown barcode's hint
//! as the API does; the station's banner clears once its queue is uploaded.

use std::time::Duration;

use serde_json::json;

use crate::browser::{browser_available, Proxy};
use crate::harness::{enc, open_round, round_body, Response, Server, TestEnv};
use crate::round_pages::{error_code, Browser};
use gw_store::registry::{ResidentFilter, ResidentRow};

struct World {
    env: TestEnv,
    srv: Server,
    round: String,
    /// The grid leader `gl`'s password (changed), and the CDC liaison `cdc`'s
    /// (a reader of the community who writes nothing).
    leader_password: String,
    cdc_password: String,
    /// A resident of the leader's grid, and one of the next grid.
    own: ResidentRow,
    other_grid: ResidentRow,
}

impl World {
    fn leader(&self) -> Browser<'_> {
        Browser::login(&self.srv, "gl", &self.leader_password)
    }
}

async fn world() -> World {
    let env = TestEnv::new().await;
    env.cli_ok(&["demo", "--residents", "1500", "--seed", "13", "--no-serve"]);
    let pw = env.account("chief", "street_commander", &["--street", "鸿城街道"]);
    let store = env.store().await;
    let street = store.streets().await.unwrap()[0].id;
    let c = store.communities(None, Some(street)).await.unwrap()[0].clone();
    let grids: Vec<_> = store
        .grids(None, Some((street, c.id)))
        .await
        .unwrap()
        .into_iter()
        .filter(|g| !g.unassigned)
        .collect();
    assert!(grids.len() >= 2, "the community needs two grids");
    let first = |grid: i64| {
        let store = store.clone();
        async move {
            store
                .residents(&ResidentFilter {
                    street: Some(street),
                    grid: Some(grid),
                    limit: 1,
                    ..Default::default()
                })
                .await
                .unwrap()
                .remove(0)
        }
    };
    let own = first(grids[0].id).await;
    let other_grid = first(grids[1].id).await;
    let gl = env.account(
        "gl",
        "grid_leader",
        &[
            "--street",
            "鸿城街道",
            "--community",
            &c.name,
            "--grid",
            &grids[0].name,
        ],
    );
    let cdc = env.account(
        "cdc",
        "cdc_liaison",
        &["--street", "鸿城街道", "--community", &c.name],
    );
    let mut srv = env.serve();
    srv.token = Some(srv.login("chief", &pw));
    srv.login("gl", &gl);
    srv.login("cdc", &cdc);
    let (round, _) = open_round(|p, b| srv.post(p, b), &round_body(street, "全员核酸第1轮"));
    World {
        env,
        srv,
        round,
        leader_password: format!("{gl}-changed"),
        cdc_password: format!("{cdc}-changed"),
        own,
        other_grid,
    }
}

fn key(r: &ResidentRow) -> String {
    format!("{}-{}", r.street_id, r.id)
}

/// The logged-in reader's header: their name, 退出 (or Log out), and the
/// language link `lang_href` (escaped as in the page); no 登录 link.
fn assert_readers_header(r: &Response, lang_href: &str, log_out: &str) {
    assert!(
        r.body.contains(r#"<span class="who">gl</span>"#),
        "{}",
        r.body
    );
    assert!(r.body.contains(r#"action="/logout""#), "{}", r.body);
    assert!(
        r.body.contains(&format!(">{log_out}</button>")),
        "{}",
        r.body
    );
    assert!(
        r.body
            .contains(&format!(r#"<a class="lang" href="{lang_href}">"#)),
        "the language link to {lang_href}: {}",
        r.body
    );
    // No 登录 link in the header (a page's own "back" link may lead to /login).
    let header = r.body.split("</header>").next().unwrap_or("");
    assert!(!header.contains(r#"href="/login""#), "{}", r.body);
}

#[tokio::test]
async fn error_pages_made_outside_the_page_handlers_keep_the_readers_header() {
    let w = world().await;
    let gl = w.leader();
    let raw = |method: &str, path: &str, extra: &str, body: &str| {
        w.srv.raw(&format!(
            "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: {}\r\n{extra}Content-Length: {}\r\n\r\n{body}",
            gl.cookie,
            body.len()
        ))
    };

    // An unknown address: 404 in the reader's header, the language link to
    // the same address with its query.
    let r = gl.get("/no/such/page?x=1");
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(error_code(&r).as_deref(), Some("not_found"));
    assert_readers_header(&r, "/no/such/page?x=1&amp;lang=en", "退出");
    // In English, back to Chinese on the same address.
    let r = gl.get("/no/such/page?lang=en");
    assert_eq!(r.status, 404, "{}", r.body);
    assert!(r.body.contains("There is no such page"), "{}", r.body);
    assert_readers_header(&r, "/no/such/page?lang=zh", "Log out");
    // An address asked as `//host/…` links to a path here, never to that host.
    let r = gl.get("//evil.example/x");
    assert_eq!(r.status, 404, "{}", r.body);
    assert_readers_header(&r, "/evil.example/x?lang=en", "退出");
    assert!(!r.body.contains(r#"href="//"#), "{}", r.body);

    // The route check's 403: a grid leader on the new-round form.
    let r = gl.get("/rounds/new?from=home");
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(error_code(&r).as_deref(), Some("forbidden"));
    assert!(r.body.contains("您的岗位无权查看此页面"), "{}", r.body);
    assert_readers_header(&r, "/rounds/new?from=home&amp;lang=en", "退出");
    // A form without its CSRF field: 403 too, in the reader's header.
    let flags = format!(
        "/households/{}-{}/flags",
        w.own.street_id,
        w.own.household_id.unwrap()
    );
    let r = raw(
        "POST",
        &flags,
        "Content-Type: application/x-www-form-urlencoded\r\n",
        "resident=1-1",
    );
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(error_code(&r).as_deref(), Some("csrf"));
    // (Answered to a form: the language link opens the page the form
    // belongs to, not the form's address, which takes no GET.)
    assert_readers_header(
        &r,
        &format!(
            "/households/{}-{}?lang=en",
            w.own.street_id,
            w.own.household_id.unwrap()
        ),
        "退出",
    );

    // An extractor's refusal: a method the page does not take, a form
    // missing a field (in either language, the field named).
    let r = raw("PUT", "/registry", "", "");
    assert_eq!(r.status, 405, "{}", r.body);
    assert!(r.body.contains("此地址不接受这种请求方法"), "{}", r.body);
    // (Not a GET: the language link cannot repeat it, and opens the home page.)
    assert_readers_header(&r, "/?lang=en", "退出");
    let form = "Content-Type: application/x-www-form-urlencoded\r\n";
    let r = raw("POST", "/login", form, "username=gl");
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("缺少字段 password"), "{}", r.body);
    assert_readers_header(&r, "/login?lang=en", "退出");
    let r = raw("POST", "/login?lang=en", form, "username=gl");
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(
        r.body.contains("The field password is missing"),
        "{}",
        r.body
    );
    assert!(!r.body.contains("Failed to deserialize"), "{}", r.body);
    assert_readers_header(&r, "/login?lang=zh", "Log out");

    // Someone not logged in still gets the visitor's header.
    let r = w.srv.anonymous().get("/no/such/page");
    assert_eq!(r.status, 404, "{}", r.body);
    assert!(r.body.contains(r#"href="/login""#), "{}", r.body);
    assert!(
        r.body
            .contains(r#"<a class="lang" href="/no/such/page?lang=en">"#),
        "{}",
        r.body
    );
    // API paths keep their JSON answers.
    let r = w.srv.get("/api/v1/no-such-route");
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(r.json()["code"], "not_found");
    let r = w.srv.request("PUT", "/api/v1/territory", None);
    assert_eq!(r.status, 405, "{}", r.body);
    assert_eq!(r.json()["code"], "method_not_allowed");
}

#[tokio::test]
async fn an_api_body_missing_a_field_names_it_in_both_languages() {
    let w = world().await;
    // An exemption without its reason.
    let r = w.srv.post(
        &format!("/api/v1/rounds/{}/exemptions", w.round),
        &json!({ "resident": key(&w.own) }),
    );
    assert_eq!(r.status, 422, "{}", r.body);
    let v = r.json();
    assert_eq!(v["code"], "invalid_body");
    assert_eq!(
        v["message"], "缺少字段 reason / the field reason is missing",
        "{v}"
    );
    // A field of the wrong type: which one, and what it should be.
    let r = w.srv.post(
        "/api/v1/rounds",
        &json!({ "street": "one", "name": "x", "starts_ms": 0, "ends_ms": 1, "pool_size": 10 }),
    );
    assert_eq!(r.status, 422, "{}", r.body);
    let v = r.json();
    assert_eq!(v["code"], "invalid_body");
    assert_eq!(
        v["message"],
        "字段 street 的值不对（应为 整数） / the field street has a wrong value (expected a whole number)",
        "{v}"
    );
    // Nested: the path to the field.
    let r = w.srv.post(
        &format!("/api/v1/rounds/{}/results", w.round),
        &json!({ "results": [{ "result": "negative" }] }),
    );
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(
        r.json()["message"],
        "缺少字段 results[0].barcode / the field results[0].barcode is missing",
        "{}",
        r.body
    );
    assert!(!r.body.contains("Failed to deserialize"), "{}", r.body);
}

/// The code a resident's current generation gives (as the API shows it).
fn code_of(srv: &Server, resident: &str) -> String {
    let r = srv.get(&format!("/api/v1/residents/{resident}/code"));
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["code"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_lost_code_is_reissued_from_the_households_code_sheet() {
    let w = world().await;
    let gl = w.leader();
    let id = key(&w.own);
    let household = format!("{}-{}", w.own.street_id, w.own.household_id.unwrap());
    let sheet = format!("/households/{household}/codes");
    let action = format!(r#"action="/residents/{id}/code/reissue""#);

    // The grid leader's code sheet: a reissue form per person, behind a tick.
    let r = gl.get(&sheet);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains(&action), "{}", r.body);
    assert!(
        r.body
            .contains(r#"<input type="checkbox" name="confirm" value="1" required"#),
        "{}",
        r.body
    );
    assert!(r.body.contains("补发新码"), "{}", r.body);
    // A reader who may not write the registry sees the sheet without it.
    let cdc = Browser::login(&w.srv, "cdc", &w.cdc_password);
    let r = cdc.get(&sheet);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("code-card"), "{}", r.body);
    assert!(!r.body.contains("/code/reissue"), "{}", r.body);
    let r = cdc.post(
        &format!("/residents/{id}/code/reissue"),
        &[("confirm", "1")],
    );
    assert_eq!(r.status, 403, "{}", r.body);

    let old = code_of(&w.srv, &id);
    // Without the tick: refused, nothing reissued.
    let r = gl.post(&format!("/residents/{id}/code/reissue"), &[]);
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("请先勾选"), "{}", r.body);
    assert_eq!(code_of(&w.srv, &id), old);
    // Another grid's resident: not the leader's to reissue.
    let r = gl.post(
        &format!("/residents/{}/code/reissue", key(&w.other_grid)),
        &[("confirm", "1")],
    );
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(error_code(&r).as_deref(), Some("forbidden"));

    // Ticked: the new code, the household's new sheet, the old code void.
    let r = gl.post(
        &format!("/residents/{id}/code/reissue"),
        &[("confirm", "1")],
    );
    // Answered with the result page's address (a refresh reissues nothing).
    assert_eq!(r.status, 303, "{}", r.body);
    let r = gl.get(&crate::round_pages::location(&r));
    assert_eq!(r.status, 200, "{}", r.body);
    let new = code_of(&w.srv, &id);
    assert_ne!(new, old);
    assert!(r.body.contains(r#"id="code-reissued""#), "{}", r.body);
    assert!(r.body.contains(&new), "the new code shown: {}", r.body);
    assert!(!r.body.contains(&old), "{}", r.body);
    assert!(r.body.contains("旧码从现在起作废"), "{}", r.body);
    assert!(
        r.body
            .contains(&format!(r#"id="new-code-sheet" href="{sheet}""#)),
        "{}",
        r.body
    );
    assert!(
        r.body
            .contains(&gw_domain::mask::name(&w.own.resident.name)),
        "{}",
        r.body
    );
    assert!(!r.body.contains(&w.own.resident.name), "names masked");
    // The new sheet carries the new code.
    let r = gl.get(&sheet);
    assert!(
        r.body.contains(&new) && !r.body.contains(&old),
        "{}",
        r.body
    );
    // Audited as the API's reissue is, by the leader.
    let store = w.env.store().await;
    assert!(store
        .audit_events(Some("user:gl"), Some(&id), None, 10)
        .await
        .unwrap()
        .iter()
        .any(|e| e.action == "reissue_code"));
    // The old code no longer names the person at a station.
    let point = w
        .srv
        .post(
            &format!("/api/v1/rounds/{}/points", w.round),
            &json!({ "name": "1号点", "community": format!("{}-{}", w.own.street_id, w.own.community_id.unwrap()) }),
        )
        .json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let tube = crate::testing::tube(&w.srv, &point, "R0000001");
    let o = crate::testing::scan(&w.srv, &tube, "old-code", &old);
    assert!(o["resident"].is_null(), "{o}");
    // In English.
    let r = gl.get(&format!("{sheet}?lang=en"));
    assert!(r.body.contains("Reissue the code"), "{}", r.body);
}

#[tokio::test]
async fn the_lab_page_gives_an_unknown_barcodes_hint_as_the_api_does() {
    let w = world().await;
    let csv = "试管条码,检测结果\r\nZZ000001,阴性\r\n";
    // The API's answer for the file.
    let api = w.srv.post_bytes(
        &format!("/api/v1/rounds/{}/results/file?filename=r.csv", w.round),
        "text/csv",
        csv.as_bytes(),
    );
    assert_eq!(api.status, 422, "{}", api.body);
    assert!(api.body.contains("（轮次或条码有误）"), "{}", api.body);
    // The page, for the same file: the same reason with its hint.
    let page = w.srv.post_bytes(
        &format!("/rounds/{}/lab?filename=r.csv", w.round),
        "application/octet-stream",
        csv.as_bytes(),
    );
    assert_eq!(page.status, 422, "{}", page.body);
    assert!(
        page.body
            .contains("条码 ZZ000001 不是本轮次的试管（轮次或条码有误）"),
        "{}",
        page.body
    );
    let page = w.srv.post_bytes(
        &format!("/rounds/{}/lab?filename=r.csv&lang=en", w.round),
        "application/octet-stream",
        csv.as_bytes(),
    );
    assert_eq!(page.status, 422, "{}", page.body);
    assert!(
        page.body.contains(
            "barcode ZZ000001 is not a tube of this round (wrong round or misread barcode)"
        ),
        "{}",
        page.body
    );
    assert!(!page.body.contains("轮次或条码有误"), "{}", page.body);
    // A barcode Excel stripped of its zeros: the hint names the tube.
    let point = w
        .srv
        .post(
            &format!("/api/v1/rounds/{}/points", w.round),
            &json!({ "name": "1号点", "community": format!("{}-{}", w.own.street_id, w.own.community_id.unwrap()) }),
        )
        .json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    crate::testing::tube(&w.srv, &point, "00012345");
    let page = w.srv.post_bytes(
        &format!("/rounds/{}/lab?filename={}", w.round, enc("结果.csv")),
        "application/octet-stream",
        "试管条码,检测结果\r\n12345,阴性\r\n".as_bytes(),
    );
    assert_eq!(page.status, 422, "{}", page.body);
    assert!(
        page.body
            .contains("不是本轮次的试管；是否 Excel 去掉了前导零？本轮次有试管 00012345"),
        "{}",
        page.body
    );
}

/// Reviewers saw the amber "kept on this device" banner stay after the
/// queue had uploaded (待上传 0), offline in devtools and with the server
/// killed and restarted.
#[tokio::test]
async fn browser_station_banner_clears_once_its_queue_has_uploaded() {
    if !browser_available("browser_station_banner_clears_once_its_queue_has_uploaded") {
        return;
    }
    let (w, _) = crate::browser::world(&[]).await;
    let proxy = Proxy::start(w.srv.addr.clone());
    let (b, _profile) = crate::browser::station_at_first_point(&w, &proxy.origin());
    b.scan_keys("W0000001");
    b.scan_keys(&w.codes[0].1);
    b.wait("one stored", "document.getElementById('point-count').textContent === '1' && document.getElementById('waiting').textContent === '0' && document.getElementById('feedback').dataset.kind === 'ok'");

    // The way to the server dies: two scans kept on the device.
    proxy.down();
    b.scan_keys(&w.codes[1].1);
    b.scan_keys(&w.codes[2].1);
    b.wait("two waiting, kept", "document.getElementById('waiting').textContent === '2' && document.getElementById('net').dataset.online === '0' && document.getElementById('feedback').dataset.kind === 'queued'");
    assert!(
        b.text("#fb-text").contains("已保存在本机"),
        "{}",
        b.text("#fb-text")
    );
    // Back: the queue uploads and the banner says so.
    proxy.up();
    b.wait(
        "the queue drained",
        "document.getElementById('waiting').textContent === '0'",
    );
    b.wait(
        "the banner back to normal",
        "document.getElementById('feedback').dataset.kind === 'ok'",
    );
    assert_eq!(b.text("#fb-text"), "已全部上传");
    assert!(
        b.text("#fb-detail").contains("本机没有待上传"),
        "{}",
        b.text("#fb-detail")
    );
    assert_eq!(b.text("#point-count"), "3");
    b.screenshot("station-uploaded", 390);

    // A problem found on the way (someone scanned twice): the banner points
    // at the list rather than saying all is well.
    proxy.down();
    b.scan_keys(&w.codes[0].1);
    b.wait("one waiting, kept", "document.getElementById('waiting').textContent === '1' && document.getElementById('feedback').dataset.kind === 'queued'");
    proxy.up();
    b.wait(
        "uploaded, with its problem",
        "document.getElementById('waiting').textContent === '0' && document.getElementById('feedback').dataset.kind === 'bad' && !document.getElementById('problems').hidden",
    );
    assert!(
        b.text("#fb-text").contains("请查看下方"),
        "{}",
        b.text("#fb-text")
    );
    assert!(
        b.text("#problem-list").contains("已采过样"),
        "{}",
        b.text("#problem-list")
    );
    // Nothing is sent twice meanwhile.
    std::thread::sleep(Duration::from_millis(3500));
    assert_eq!(b.text("#waiting"), "0");
    b.screenshot("station-uploaded-problem", 390);
}
