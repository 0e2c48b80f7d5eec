//! Setting up a round from the browser alone (real HTTP, session cookie and
//! CSRF field as a browser sends them): the new-round form, points, the state
//! button, supplies at a point, exemptions; form errors; who gets the forms.

use crate::harness::{enc, Response, Server, TestEnv};

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// A logged-in browser: its session cookie and the session's CSRF token.
pub(crate) struct Browser<'a> {
    srv: &'a Server,
    pub(crate) cookie: String,
    csrf: String,
}

impl<'a> Browser<'a> {
    /// Logs in through the login form (the password already changed).
    pub(crate) fn login(srv: &'a Server, username: &str, password: &str) -> Browser<'a> {
        let body = format!("username={}&password={}", enc(username), enc(password));
        let r = srv.raw(&format!(
            "POST /login HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ));
        assert_eq!(r.status, 303, "{}", r.body);
        assert_eq!(header(&r.head, "location"), Some("/"));
        let cookie = header(&r.head, "set-cookie")
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string();
        let mut b = Browser {
            srv,
            cookie,
            csrf: String::new(),
        };
        let home = b.get("/");
        b.csrf = home
            .body
            .split(r#"name="csrf" value=""#)
            .nth(1)
            .and_then(|r| r.split('"').next())
            .expect("the logout form carries the CSRF field")
            .to_string();
        b
    }
    pub(crate) fn get(&self, path: &str) -> Response {
        self.srv.raw(&format!(
            "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: {}\r\n\r\n",
            self.cookie
        ))
    }
    /// Posts a file as the upload pages' script does: the raw body, the
    /// CSRF token as a header.
    pub(crate) fn upload(&self, path: &str, bytes: &[u8]) -> Response {
        let mut req = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: {}\r\nX-CSRF-Token: {}\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
            self.cookie,
            self.csrf,
            bytes.len()
        )
        .into_bytes();
        req.extend_from_slice(bytes);
        self.srv.raw_bytes(&req)
    }
    /// Posts a form as the browser does: urlencoded, with the CSRF field.
    pub(crate) fn post(&self, path: &str, fields: &[(&str, &str)]) -> Response {
        let mut body = format!("csrf={}", enc(&self.csrf));
        for (k, v) in fields {
            body.push_str(&format!("&{}={}", enc(k), enc(v)));
        }
        self.srv.raw(&format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: {}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            self.cookie,
            body.len()
        ))
    }
}

pub(crate) fn error_code(r: &Response) -> Option<String> {
    r.body
        .split(r#"<meta name="gw-error" content=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .map(String::from)
}

/// The link target of the element whose text is `text` (`<a href="X">text</a>`).
fn href_of(body: &str, text: &str) -> String {
    let end = body
        .find(&format!(">{text}</a>"))
        .unwrap_or_else(|| panic!("no link {text}: {body}"));
    let start = body[..end].rfind("href=\"").unwrap() + 6;
    body[start..end].trim_end_matches('"').to_string()
}

#[tokio::test]
async fn a_round_set_up_opened_and_supplied_from_the_browser_alone() {
    let env = TestEnv::new().await;
    env.cli_ok(&["demo", "--residents", "300", "--seed", "8", "--no-serve"]);
    let store = env.store().await;
    let communities = store.communities(None, None).await.unwrap();
    let c1 = &communities[0];
    let street = c1.street_id;
    let c1_key = format!("{street}-{}", c1.id);
    let compound = store
        .street_compounds(street)
        .await
        .unwrap()
        .into_iter()
        .find(|(c, _, _)| *c == c1.id)
        .expect("a compound in community 1");
    let grid = store
        .grids(None, Some((street, c1.id)))
        .await
        .unwrap()
        .remove(0);
    let admin_pw = env.account("boss", "admin", &["--city"]);
    let leader_pw = env.account(
        "leader",
        "grid_leader",
        &[
            "--street",
            &c1.street_name,
            "--community",
            &c1.name,
            "--grid",
            &grid.name,
        ],
    );
    let srv = env.serve();
    let api = srv.login("boss", &admin_pw);
    let api = srv.with_token(&api);
    srv.login("leader", &leader_pw);
    let admin = Browser::login(&srv, "boss", &format!("{admin_pw}-changed"));

    // The home page leads to the form; the form offers the street's communities.
    let home = admin.get("/");
    assert!(home.body.contains(r#"href="/rounds/new""#), "{}", home.body);
    let form = admin.get("/rounds/new");
    assert_eq!(form.status, 200, "{}", form.body);
    assert!(form.body.contains(r#"type="datetime-local" name="starts""#));
    assert!(form
        .body
        .contains(&format!(r#"name="community" value="{c1_key}""#)));
    assert!(form.body.contains(&c1.name));

    // Without the CSRF field: refused, nothing created.
    let r = srv.raw(&format!(
        "POST /rounds/new HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: {}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 9\r\n\r\nname=evil",
        admin.cookie
    ));
    assert_eq!(r.status, 403);
    assert_eq!(error_code(&r).as_deref(), Some("csrf"));

    // The end before the start: the form again, with what to fix and what was typed.
    let street_s = street.to_string();
    let bad = admin.post(
        "/rounds/new",
        &[
            ("name", "第九轮全员核酸"),
            ("street", &street_s),
            ("community", &c1_key),
            ("starts", "2030-03-01T08:00"),
            ("ends", "2030-03-01T07:00"),
            ("pool", "5"),
        ],
    );
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(bad.body.contains("结束时间须晚于开始时间"), "{}", bad.body);
    assert!(bad.body.contains(r#"value="第九轮全员核酸""#));
    assert!(bad.body.contains(r#"value="2030-03-01T07:00""#));
    assert!(bad.body.contains(&format!(r#"value="{c1_key}" checked"#)));
    assert!(bad.body.contains(r#"<option value="5" selected>"#));
    // No name: said so, in English when asked; the times are kept.
    let bad = admin.post(
        "/rounds/new",
        &[
            ("name", " "),
            ("street", &street_s),
            ("starts", "2030-03-01T08:00"),
            ("ends", "2030-03-01T18:00"),
            ("pool", "10"),
        ],
    );
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("请填写轮次名称"), "{}", bad.body);
    assert!(bad.body.contains(r#"value="2030-03-01T18:00""#));
    let bad = admin.post(
        "/rounds/new?lang=en",
        &[
            ("name", "x"),
            ("street", &street_s),
            ("starts", "next tuesday"),
            ("ends", "2030-03-01T18:00"),
            ("pool", "10"),
        ],
    );
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("A time is not valid"), "{}", bad.body);
    let rounds = api.get(&format!("/api/v1/streets/{street}/rounds")).json();
    assert_eq!(
        rounds["rounds"].as_array().unwrap().len(),
        0,
        "a refused form creates nothing"
    );

    // The round, over the whole street, in China time.
    let r = admin.post(
        "/rounds/new",
        &[
            ("name", "第九轮全员核酸"),
            ("street", &street_s),
            ("starts", "2024-01-01T06:00"),
            ("ends", "2099-12-31T18:00"),
            ("pool", "10"),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let location = header(&r.head, "location").unwrap().to_string();
    let round = location.strip_prefix("/rounds/").unwrap().to_string();
    let rounds = api.get(&format!("/api/v1/streets/{street}/rounds")).json();
    let made = &rounds["rounds"][0];
    assert_eq!(made["id"], round.as_str());
    assert_eq!(made["name"], "第九轮全员核酸");
    // 06:00 in Beijing on 2024-01-01 is 22:00 UTC the day before.
    assert_eq!(made["starts_ms"], 1_704_060_000_000_i64);
    assert_eq!(made["pool_size"], 10);
    assert_eq!(made["state"], "planned");
    assert_eq!(made["communities"].as_array().unwrap().len(), 0);
    let home = admin.get("/");
    assert!(home.body.contains("第九轮全员核酸"));
    assert!(home.body.contains(&format!(r#"href="/rounds/{round}""#)));
    assert!(home.body.contains("计划中"));

    // The round page: its state, the next step, the point form.
    let page = admin.get(&location);
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("<b>计划中</b>"), "{}", page.body);
    assert!(page
        .body
        .contains(&format!(r#"action="/rounds/{round}/state""#)));
    assert!(page.body.contains(r#"name="to" value="open""#));
    assert!(page.body.contains("开始采样"));
    assert!(page
        .body
        .contains(&format!(r#"action="/rounds/{round}/points""#)));

    // A point closing before it opens: the page again with the app's reason and the values.
    let points = format!("/rounds/{round}/points");
    let compound_key = format!("{street}-{}", compound.1);
    let bad = admin.post(
        &points,
        &[
            ("name", "北门采样点"),
            ("community", &c1_key),
            ("compound", &compound_key),
            ("opens", "2024-01-01T10:00"),
            ("closes", "2024-01-01T09:00"),
        ],
    );
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(
        bad.body.contains("采样点关闭时间须晚于开放时间"),
        "{}",
        bad.body
    );
    assert!(bad.body.contains(r#"value="北门采样点""#));
    assert!(bad
        .body
        .contains(&format!(r#"<option value="{compound_key}" selected>"#)));
    let bad = admin.post(
        &points,
        &[("name", "北门采样点"), ("community", &c1_key), ("x", "10")],
    );
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("位置须同时填写向东、向北两个数"));

    let r = admin.post(
        &points,
        &[
            ("name", "北门采样点"),
            ("community", &c1_key),
            ("compound", &compound_key),
            ("stations", "3"),
            ("rate", "120"),
            ("x", "10"),
            ("y", "-20"),
            ("opens", ""),
            ("closes", ""),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let page = admin.get(&location);
    let point_href = href_of(&page.body, "北门采样点");
    let point = point_href.strip_prefix("/points/").unwrap().to_string();
    let sched = api.get(&format!("/api/v1/rounds/{round}/schedule")).json();
    let p = sched["points"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "北门采样点")
        .unwrap_or_else(|| panic!("the point in the schedule: {sched}"))
        .clone();
    assert_eq!(p["stations"], 3, "{p}");
    assert_eq!(p["configured_rate"], 120.0, "{p}");
    assert_eq!(p["compound"], compound_key.as_str(), "{p}");
    assert_eq!(
        (p["x_m"].clone(), p["y_m"].clone()),
        (10.into(), (-20).into())
    );

    // Open it with the state button: the snapshot is taken, the next step offered.
    let r = admin.post(&format!("/rounds/{round}/state"), &[("to", "open")]);
    assert_eq!(r.status, 303, "{}", r.body);
    let page = admin.get(&location);
    assert!(page.body.contains("<b>采样中</b>"), "{}", page.body);
    assert!(page.body.contains(r#"name="to" value="sampling_closed""#));
    let expected: i64 = page
        .body
        .split(r#"id="cov-expected">"#)
        .nth(1)
        .and_then(|r| r.split('<').next())
        .unwrap()
        .parse()
        .unwrap();
    assert!(expected > 0, "opening fixed who is expected");
    // Closing sampling asks with how many are still missed (nobody swabbed yet).
    assert!(
        page.body
            .contains(&format!("仍有 {expected} 人未检（不含免检）。结束采样后")),
        "{}",
        page.body
    );
    // A second click on the same button: said so, nothing moved.
    let again = admin.post(&format!("/rounds/{round}/state"), &[("to", "open")]);
    assert_eq!(again.status, 400, "{}", again.body);
    let rounds = api.get(&format!("/api/v1/streets/{street}/rounds")).json();
    assert_eq!(rounds["rounds"][0]["state"], "open");

    // Tubes by range on the point page.
    let pp = admin.get(&point_href);
    assert_eq!(pp.status, 200, "{}", pp.body);
    assert!(pp.body.contains(r#"id="supply-form""#), "{}", pp.body);
    assert!(pp.body.contains("尚未发放物资"));
    let supplies = format!("/points/{point}/supplies");
    let r = admin.post(
        &supplies,
        &[
            ("kind", "tubes"),
            ("first_barcode", "TB000101"),
            ("last_barcode", "TB000200"),
            ("received_by", "李四"),
        ],
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert!(r.body.contains(r#"id="supply-issued""#), "{}", r.body);
    assert!(
        r.body.contains("采样管 100 TB000101 – TB000200"),
        "{}",
        r.body
    );
    assert!(r.body.contains(r#"<table id="supplies">"#));
    let listed = api.get(&format!("/api/v1/points/{point}/supplies")).json();
    let items = listed["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{listed}");
    assert_eq!(items[0]["quantity"], 100);
    assert_eq!(items[0]["first_barcode"], "TB000101");
    assert_eq!(items[0]["received_by"], "李四");
    // Half a range, kits without a count: what to fix, the values kept, nothing issued.
    let bad = admin.post(
        &supplies,
        &[("kind", "tubes"), ("first_barcode", "TB000300")],
    );
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("条码段须同时填写首条码和尾条码"));
    assert!(bad.body.contains(r#"value="TB000300""#));
    let bad = admin.post(&supplies, &[("kind", "kits"), ("quantity", "")]);
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("数量须为正数"), "{}", bad.body);
    assert!(bad.body.contains(r#"<option value="kits" selected>"#));
    let r = admin.post(
        &supplies,
        &[("kind", "protective_gear"), ("quantity", "40")],
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let listed = api.get(&format!("/api/v1/points/{point}/supplies")).json();
    assert_eq!(listed["items"].as_array().unwrap().len(), 2);

    // An exemption from the missed list takes the person off it.
    let grid_key = format!("{street}-{}", grid.id);
    let missed = admin.get(&format!("/rounds/{round}/missed?grid={grid_key}"));
    assert_eq!(missed.status, 200, "{}", missed.body);
    assert!(missed
        .body
        .contains(&format!(r#"action="/rounds/{round}/exemptions""#)));
    assert!(missed.body.contains("已隔离并在隔离点检测"));
    let resident = missed
        .body
        .split(r#"<select name="resident" required><option value=""#)
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_string();
    let r = admin.post(
        &format!("/rounds/{round}/exemptions"),
        &[
            ("resident", &resident),
            ("reason", "in_hospital"),
            ("grid", &grid_key),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let back = header(&r.head, "location").unwrap().to_string();
    let missed = admin.get(&back);
    assert!(missed.body.contains(r#"id="exempted""#));
    assert!(
        !missed
            .body
            .contains(&format!(r#"<option value="{resident}">"#)),
        "{}",
        missed.body
    );
    let cov = api
        .get(&format!("/api/v1/rounds/{round}/coverage?grid={grid_key}"))
        .json();
    assert!(cov.to_string().contains(r#""exempt":1"#), "{cov}");
    // The exempt are listed with why, each with a button that lifts a
    // mistaken exemption: the resident is back on the missed list.
    let listed = missed
        .body
        .split(r#"id="exempt-list""#)
        .nth(1)
        .unwrap_or("");
    assert!(
        listed.contains("住院")
            && listed.contains(&format!(r#"name="resident" value="{resident}""#)),
        "{}",
        missed.body
    );
    let r = admin.post(
        &format!("/rounds/{round}/exemptions"),
        &[
            ("resident", &resident),
            ("reason", "none"),
            ("grid", &grid_key),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let back = header(&r.head, "location").unwrap().to_string();
    let missed = admin.get(&back);
    assert!(missed.body.contains(r#"id="lifted""#), "{}", missed.body);
    assert!(
        missed
            .body
            .contains(&format!(r#"<option value="{resident}">"#)),
        "{}",
        missed.body
    );
    let cov = api
        .get(&format!("/api/v1/rounds/{round}/coverage?grid={grid_key}"))
        .json();
    assert!(cov.to_string().contains(r#""exempt":0"#), "{cov}");

    // A grid leader sees the round but gets none of the forms, and cannot post them.
    let leader = Browser::login(&srv, "leader", &format!("{leader_pw}-changed"));
    let home = leader.get("/").body;
    assert!(!home.contains(r#"href="/rounds/new""#));
    // Nor does the home page promise what no place in a grid allows.
    assert!(home.contains("查看辖区的楼栋"), "{home}");
    assert!(
        !home.contains("上传检测结果") && !home.contains("发放和撤销扫码设备"),
        "{home}"
    );
    let page = leader.get(&location);
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        !page.body.contains(&format!(r#"{location}/lab""#)),
        "{}",
        page.body
    );
    assert!(admin
        .get(&location)
        .body
        .contains(&format!(r#"{location}/lab""#)));
    assert!(!page.body.contains("/state\""));
    assert!(!page.body.contains(r#"id="add-point""#));
    let form = leader.get("/rounds/new");
    assert_eq!(form.status, 403);
    assert_eq!(error_code(&form).as_deref(), Some("forbidden"));
    for (path, fields) in [
        (
            "/rounds/new".to_string(),
            vec![
                ("name", "越权轮次"),
                ("street", street_s.as_str()),
                ("starts", "2030-03-01T08:00"),
                ("ends", "2030-03-01T18:00"),
                ("pool", "10"),
            ],
        ),
        (
            format!("/rounds/{round}/state"),
            vec![("to", "sampling_closed")],
        ),
        (
            points.clone(),
            vec![("name", "越权点"), ("community", c1_key.as_str())],
        ),
        (supplies.clone(), vec![("kind", "kits"), ("quantity", "5")]),
    ] {
        let r = leader.post(&path, &fields);
        assert_eq!(r.status, 403, "{path}: {}", r.body);
        assert_eq!(error_code(&r).as_deref(), Some("forbidden"), "{path}");
    }
    let rounds = api.get(&format!("/api/v1/streets/{street}/rounds")).json();
    assert_eq!(rounds["rounds"].as_array().unwrap().len(), 1);
    assert_eq!(rounds["rounds"][0]["state"], "open");
    let listed = api.get(&format!("/api/v1/points/{point}/supplies")).json();
    assert_eq!(listed["items"].as_array().unwrap().len(), 2);
    let sched = api.get(&format!("/api/v1/rounds/{round}/schedule")).json();
    assert_eq!(sched["points"].as_array().unwrap().len(), 1);
    // A point added by mistake goes from its page; the one with supplies
    // refuses, saying why.
    let r = admin.post(&points, &[("name", "误建点"), ("community", &c1_key)]);
    assert_eq!(r.status, 303, "{}", r.body);
    let wrong = href_of(&admin.get(&location).body, "误建点");
    let page = admin.get(&wrong);
    assert!(page.body.contains(r#"id="remove-point""#), "{}", page.body);
    let r = admin.post(&format!("{wrong}/remove"), &[]);
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(admin.get(&wrong).status, 404);
    // The one with supplies has no button (a removal would be refused).
    let page = admin.get(&format!("/points/{point}"));
    assert!(!page.body.contains(r#"id="remove-point""#), "{}", page.body);
    let r = admin.post(&format!("/points/{point}/remove"), &[]);
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.body.contains("supply issues"), "{}", r.body);
    let sched = api.get(&format!("/api/v1/rounds/{round}/schedule")).json();
    assert_eq!(sched["points"].as_array().unwrap().len(), 1);
}

/// The text between `<p … id="form-error">` and its `</p>`.
/// A refused push, said at the top of the schedule.
fn push_error(body: &str) -> String {
    body.split(r#"id="push-error">"#)
        .nth(1)
        .and_then(|r| r.split("</p>").next())
        .unwrap_or_else(|| panic!("no push error: {body}"))
        .to_string()
}

fn form_error(body: &str) -> String {
    body.split(r#"id="form-error">"#)
        .nth(1)
        .and_then(|r| r.split("</p>").next())
        .unwrap_or_else(|| panic!("no form error: {body}"))
        .to_string()
}

/// The schedule page's plan form: a refusal reads whole in each language and
/// keeps what was typed; the form shows the stored plan's values.
#[tokio::test]
async fn the_plan_form_keeps_its_values_and_a_refusal_reads_whole() {
    let env = TestEnv::new().await;
    env.cli_ok(&["demo", "--residents", "1500", "--seed", "5", "--no-serve"]);
    let store = env.store().await;
    let street = store.streets().await.unwrap()[0].id;
    let community = store.communities(None, Some(street)).await.unwrap()[0].id;
    let pw = env.account("boss", "admin", &["--city"]);
    let srv = env.serve();
    let api = srv.login("boss", &pw);
    let api = srv.with_token(&api);
    let admin = Browser::login(&srv, "boss", &format!("{pw}-changed"));
    let now = gw_app::Clock::System.now_ms();
    let r = api.post(
        "/api/v1/rounds",
        &crate::harness::round_body(street, "加急轮"),
    );
    let round = r.json()["id"].as_str().unwrap().to_string();
    // One station for one hour: 100 people, not 1,500.
    let p = api.post(
        &format!("/api/v1/rounds/{round}/points"),
        &serde_json::json!({ "name": "唯一采样点", "community": format!("{street}-{community}"),
            "stations": 1, "opens_ms": now, "closes_ms": now + 3_600_000 }),
    );
    assert_eq!(p.status, 201, "{}", p.body);
    let point = p.json()["id"].as_str().unwrap().to_string();
    // Before any plan the form shows the defaults (30 and 30).
    let page = admin.get(&format!("/rounds/{round}/schedule"));
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body
            .contains(r#"name="slot_minutes" inputmode="numeric" value="30""#)
            && page
                .body
                .contains(r#"name="max_queue" inputmode="numeric" value="30""#),
        "{}",
        page.body
    );
    let form = [("slot_minutes", "30"), ("max_queue", "25")];
    let zh = admin.post(&format!("/rounds/{round}/schedule"), &form);
    assert_eq!(zh.status, 400, "{}", zh.body);
    let e = form_error(&zh.body);
    assert!(
        e.contains("时间窗内排不下") && e.contains("增加采样点") && e.contains("分钟"),
        "{e}"
    );
    assert!(!e.contains("station") && !e.contains("minutes"), "{e}");
    assert!(zh
        .body
        .contains(r#"name="max_queue" inputmode="numeric" value="25""#));
    let en = admin.post(&format!("/rounds/{round}/schedule?lang=en"), &form);
    assert_eq!(en.status, 400, "{}", en.body);
    let e = form_error(&en.body);
    assert!(
        e.contains("window cannot be met")
            && e.contains("more testing points")
            && e.contains("minutes longer"),
        "{e}"
    );
    // The point's name is the only Chinese (where people do not fit).
    assert!(e.replace("唯一采样点", "").is_ascii(), "English only: {e}");
    // Out of range: refused, what was typed stays.
    let big = admin.post(
        &format!("/rounds/{round}/schedule"),
        &[("slot_minutes", "45"), ("max_queue", "5000")],
    );
    assert_eq!(big.status, 400, "{}", big.body);
    assert!(form_error(&big.body).contains("1 到 1000"), "{}", big.body);
    assert!(
        big.body
            .contains(r#"name="slot_minutes" inputmode="numeric" value="45""#)
            && big
                .body
                .contains(r#"name="max_queue" inputmode="numeric" value="5000""#),
        "{}",
        big.body
    );
    // Help arrives; the plan is made with 20 minutes and 45 people, and the
    // form shows those, not 30 and 20.
    let set = api.post(
        &format!("/api/v1/points/{point}"),
        &serde_json::json!({ "stations": 50 }),
    );
    assert_eq!(set.status, 200, "{}", set.body);
    let ok = admin.post(
        &format!("/rounds/{round}/schedule"),
        &[("slot_minutes", "20"), ("max_queue", "45")],
    );
    assert_eq!(ok.status, 303, "{}", ok.body);
    let page = admin.get(&format!("/rounds/{round}/schedule"));
    assert!(
        page.body
            .contains(r#"name="slot_minutes" inputmode="numeric" value="20""#)
            && page
                .body
                .contains(r#"name="max_queue" inputmode="numeric" value="45""#),
        "{}",
        page.body
    );
    // A slot's call-down is pushed from the page: with no alert channel it
    // is refused in words (the plan form keeps its values); with one it
    // goes, and the slot says it was pushed.
    let first_slot = page
        .body
        .split(r#"name="starts_ms" value=""#)
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or_else(|| panic!("a push button: {}", page.body))
        .to_string();
    let buttons = page.body.matches(r#"class="push-slot""#).count();
    let push = [("starts_ms", first_slot.as_str())];
    let refused = admin.post(&format!("/rounds/{round}/schedule/push"), &push);
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(
        push_error(&refused.body).contains("没有可用的告警渠道"),
        "{}",
        refused.body
    );
    assert!(refused
        .body
        .contains(r#"name="slot_minutes" inputmode="numeric" value="20""#));
    let ch = api.post(
        &format!("/api/v1/streets/{street}/alert-channels"),
        &serde_json::json!({ "kind": "json", "url": "http://127.0.0.1:9/hook" }),
    );
    assert!(ch.status == 200 || ch.status == 201, "{}", ch.body);
    let sent = admin.post(&format!("/rounds/{round}/schedule/push"), &push);
    assert_eq!(sent.status, 303, "{}", sent.body);
    let page = admin.get(&format!("/rounds/{round}/schedule"));
    assert!(page.body.contains("已推送"), "{}", page.body);
    assert_eq!(
        page.body.matches(r#"class="push-slot""#).count(),
        buttons - 1
    );
    // The pushed slot says who pushed it (1 message: one channel, one
    // point) and offers a deliberate second push behind a tick.
    let pushed = r#"<ul class="pushed"><li>"#;
    assert_eq!(page.body.matches(pushed).count(), 1, "{}", page.body);
    let told = page.body.split(pushed).nth(1).unwrap();
    assert!(told.contains(" 由 "), "{told}");
    assert!(told.contains("boss"), "{told}");
    assert!(told.contains("（1 条消息）"), "{told}");
    assert!(
        page.body.contains(&format!(
            r#"<input type="hidden" name="starts_ms" value="{first_slot}"><label><input type="checkbox" name="again" value="1" required>"#
        )),
        "{}",
        page.body
    );
    assert!(page.body.contains("再次推送</button>"), "{}", page.body);
    // Pressed again without the tick (a page opened before, a double
    // click): refused as the API refuses it, 409, with when and by whom, at
    // the top of the schedule, saying how to push again from here.
    let twice = admin.post(&format!("/rounds/{round}/schedule/push"), &push);
    assert_eq!(twice.status, 409, "{}", twice.body);
    let said = push_error(&twice.body);
    assert!(said.contains("推送过"), "{}", twice.body);
    assert!(said.contains("勾选确认后按「再次推送」"), "{said}");
    assert!(!said.contains(" / "), "{}", twice.body);
    assert!(
        twice.body.find(r#"id="push-error""#) < twice.body.find(r#"id="calldown""#),
        "{}",
        twice.body
    );
    assert!(!twice.body.contains(r#"id="form-error""#), "{}", twice.body);
    // With the tick: pushed a second time, both pushes listed.
    let again = admin.post(
        &format!("/rounds/{round}/schedule/push"),
        &[("starts_ms", first_slot.as_str()), ("again", "1")],
    );
    assert_eq!(again.status, 303, "{}", again.body);
    let page = admin.get(&format!("/rounds/{round}/schedule"));
    let told = page.body.split(pushed).nth(1).unwrap();
    let told = &told[..told.find("</ul>").unwrap()];
    assert_eq!(told.matches("条消息").count(), 2, "{told}");
    let api_twice = api.post(
        &format!("/api/v1/rounds/{round}/schedule/push"),
        &serde_json::json!({ "starts_ms": first_slot.parse::<i64>().unwrap() }),
    );
    assert_eq!(api_twice.status, 409, "{}", api_twice.body);
}

/// The `location` header of a redirect.
pub(crate) fn location(r: &Response) -> String {
    header(&r.head, "location")
        .unwrap_or_else(|| panic!("a redirect: {} {}", r.status, r.body))
        .to_string()
}

#[tokio::test]
async fn a_state_change_on_the_round_page_says_what_the_move_leaves_unsettled() {
    let w = crate::testing::setup("200").await;
    let srv = &w.srv;
    // A tube still open at its point with three swabs in it.
    let t = crate::testing::tube(srv, &w.points[0], "MV000001");
    for i in 0..3 {
        crate::testing::scan(srv, &t, &format!("mv{i}"), &w.codes[i].1);
    }
    let chief = Browser::login(srv, "chief", &w.chief_password);
    let r = chief.post(
        &format!("/rounds/{}/state", w.round),
        &[("to", "sampling_closed")],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let page = chief.get(&location(&r));
    assert_eq!(page.status, 200, "{}", page.body);
    let moved = page
        .body
        .split(r#"id="moved""#)
        .nth(1)
        .unwrap_or_else(|| panic!("the move is said: {}", page.body));
    assert!(moved.contains("轮次已变为“采样结束”"), "{moved}");
    assert!(
        moved.contains("还有 1 管未封管且有样本（MV000001）"),
        "{moved}"
    );
    // The lab's result for the tube, never packed: the counts disagree when
    // the results are complete; the page names its page for that, not a command.
    let res = srv.post(
        &format!("/api/v1/rounds/{}/results", w.round),
        &serde_json::json!({ "results": [{ "barcode": "MV000001", "result": "negative" }] }),
    );
    assert_eq!(res.status, 200, "{}", res.body);
    let r = chief.post(
        &format!("/rounds/{}/state", w.round),
        &[("to", "results_complete")],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let to = location(&r);
    assert!(to.contains("moved=results_complete"), "{to}");
    let page = chief.get(&format!("{}&lang=en", to.split('#').next().unwrap()));
    let warnings = page
        .body
        .split(r#"id="move-warnings""#)
        .nth(1)
        .unwrap_or_else(|| panic!("the move's warnings: {}", page.body));
    assert!(
        warnings.contains("the count reconciliation has") && warnings.contains("mismatch"),
        "{warnings}"
    );
    assert!(
        warnings.contains(&format!(
            r#"<a href="/rounds/{}/reconciliation">the count reconciliation page</a>"#,
            w.round
        )),
        "{warnings}"
    );
    assert!(
        !page.body.contains("gridwarden handoff report"),
        "{warnings}"
    );
    // The API and the command line keep their words.
    let api = srv.post(
        &format!("/api/v1/rounds/{}/state", w.round),
        &serde_json::json!({ "to": "closed" }),
    );
    assert_eq!(api.status, 200, "{}", api.body);
    assert!(
        api.json()["warnings"][0]
            .as_str()
            .unwrap()
            .contains("gridwarden handoff report"),
        "{}",
        api.body
    );
    // Looked at again later, the page is the round's page, no notice.
    let plain = chief.get(&format!("/rounds/{}", w.round));
    assert!(!plain.body.contains(r#"id="moved""#), "{}", plain.body);
}

#[tokio::test]
async fn a_closed_round_offers_none_of_the_actions_it_refuses() {
    let w = crate::testing::setup("200").await;
    let srv = &w.srv;
    let store = w.env.store().await;
    let street = store.streets().await.unwrap()[0].id;
    let c = store.communities(None, Some(street)).await.unwrap()[0].id;
    let grid = store.grids(None, Some((street, c))).await.unwrap()[0].id;
    let grid = format!("{street}-{grid}");
    // Someone exempt, a stored call-down plan, a channel to push it to.
    let x = srv.post(
        &format!("/api/v1/rounds/{}/exemptions", w.round),
        &serde_json::json!({ "resident": w.codes[0].0, "reason": "away" }),
    );
    assert_eq!(x.status, 200, "{}", x.body);
    let plan = srv.post(
        &format!("/api/v1/rounds/{}/schedule", w.round),
        &serde_json::json!({ "slot_minutes": 60 }),
    );
    assert_eq!(plan.status, 200, "{}", plan.body);
    let ch = srv.post(
        &format!("/api/v1/streets/{street}/alert-channels"),
        &serde_json::json!({ "kind": "json", "url": "http://127.0.0.1:9/hook" }),
    );
    assert!(ch.status == 200 || ch.status == 201, "{}", ch.body);
    let chief = Browser::login(srv, "chief", &w.chief_password);
    let missed = format!("/rounds/{}/missed?grid={grid}", w.round);
    let schedule = format!("/rounds/{}/schedule", w.round);
    let point = format!("/points/{}", w.points[0]);
    // While the round samples: every form is there.
    let m = chief.get(&missed).body;
    assert!(
        m.contains(r#"id="exempt""#) && m.contains("取消免检"),
        "{m}"
    );
    let sc = chief.get(&schedule).body;
    assert!(
        sc.contains(r#"class="push-slot""#) && sc.contains(r#"name="slot_minutes""#),
        "{sc}"
    );
    assert!(chief.get(&point).body.contains(r#"id="supply-form""#));

    for to in ["sampling_closed", "results_complete", "closed"] {
        let r = srv.post(
            &format!("/api/v1/rounds/{}/state", w.round),
            &serde_json::json!({ "to": to }),
        );
        assert_eq!(r.status, 200, "{to}: {}", r.body);
    }
    // Closed: the exemptions stand as its record, listed without a button.
    let m = chief.get(&missed).body;
    assert!(m.contains(r#"id="exempt-list""#), "{m}");
    assert!(m.contains(r#"id="exemptions-closed""#), "{m}");
    assert!(
        !m.contains("取消免检") && !m.contains(r#"id="exempt""#),
        "{m}"
    );
    // Nobody is called down any more, nor planned.
    let sc = chief.get(&schedule).body;
    assert!(!sc.contains(r#"class="push-slot""#), "{sc}");
    assert!(!sc.contains(r#"name="slot_minutes""#), "{sc}");
    // No more supplies; what was issued still shows.
    let pt = chief.get(&point).body;
    assert!(!pt.contains(r#"id="supply-form""#), "{pt}");
    assert!(pt.contains(r#"id="supplies-closed""#), "{pt}");
    // What the pages no longer offer is refused indeed (409).
    let lift = chief.post(
        &format!("/rounds/{}/exemptions", w.round),
        &[
            ("resident", w.codes[0].0.as_str()),
            ("reason", "none"),
            ("grid", grid.as_str()),
        ],
    );
    assert_eq!(lift.status, 409, "{}", lift.body);
}

#[tokio::test]
async fn a_grid_leader_shows_one_full_phone_on_the_missed_and_door_to_door_lists() {
    let w = crate::testing::setup("200").await;
    let srv = &w.srv;
    let store = w.env.store().await;
    let street = store.streets().await.unwrap()[0].clone();
    let c = store.communities(None, Some(street.id)).await.unwrap()[0].clone();
    let g = store.grids(None, Some((street.id, c.id))).await.unwrap()[0].clone();
    let grid = format!("{}-{}", street.id, g.id);
    let leader_pw = w.env.account(
        "leader",
        "grid_leader",
        &[
            "--street",
            &street.name,
            "--community",
            &c.name,
            "--grid",
            &g.name,
        ],
    );
    srv.login("leader", &leader_pw);
    let leader = Browser::login(srv, "leader", &format!("{leader_pw}-changed"));
    // Someone missed, with a phone; their full number as the API reveals it.
    let residents = srv
        .get(&format!("/api/v1/residents?grid={grid}&limit=1000"))
        .json();
    let who = residents["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| !r["phones"].as_array().unwrap().is_empty())
        .expect("a resident with a phone")
        .clone();
    let id = who["id"].as_str().unwrap().to_string();
    let masked = who["phones"][0]["number"].as_str().unwrap().to_string();
    let full = srv
        .post(
            &format!("/api/v1/residents/{id}/reveal"),
            &serde_json::json!({ "field": "phone" }),
        )
        .json()["value"][0]["number"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(full, masked);
    let reveals = || async {
        store
            .audit_events(None, None, None, 1000)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.action == "reveal_phone" && e.target_id == id && e.actor == "user:leader")
            .count()
    };

    let missed = format!("/rounds/{}/missed?grid={grid}", w.round);
    let page = leader.get(&missed).body;
    assert!(
        page.contains(&format!(r#"name="resident" value="{id}" class="link rv""#)),
        "{page}"
    );
    assert!(page.contains("显示完整电话（记入审计日志）"), "{page}");
    assert!(!page.contains(&full), "masked until asked");
    let shown = leader.post(&missed, &[("resident", id.as_str())]);
    assert_eq!(shown.status, 200, "{}", shown.body);
    let notice = shown
        .body
        .split(r#"id="revealed""#)
        .nth(1)
        .unwrap_or_else(|| panic!("the number is said: {}", shown.body));
    assert!(notice.contains(&full), "{notice}");
    assert_eq!(
        shown.body.matches(&full).count(),
        2,
        "the notice and the row"
    );
    assert_eq!(reveals().await, 1, "the read is audited");
    // Someone the page does not list is not revealed by it (nor audited).
    let sampled = w.codes.iter().find(|(r, _)| *r != id).unwrap();
    let t = crate::testing::tube(srv, &w.points[0], "RV000001");
    crate::testing::scan(srv, &t, "rv-1", &sampled.1);
    let other = leader.post(&missed, &[("resident", sampled.0.as_str())]);
    assert_eq!(other.status, 200, "{}", other.body);
    assert!(!other.body.contains(r#"id="revealed""#), "{}", other.body);
    assert_eq!(
        store
            .audit_events(None, None, None, 1000)
            .await
            .unwrap()
            .iter()
            .filter(|e| e.action == "reveal_phone" && e.target_id == sampled.0)
            .count(),
        0
    );

    // The door-to-door list: their building sealed, so they are on it.
    let building = who["building"].as_str().unwrap().to_string();
    let sealed = srv.post(
        "/api/v1/control",
        &serde_json::json!({ "target_kind": "building", "target_id": building, "status": "sealed", "reason": "封控" }),
    );
    assert!(
        sealed.status == 200 || sealed.status == 201,
        "{}",
        sealed.body
    );
    let door = format!("/rounds/{}/door-to-door?grid={grid}", w.round);
    let page = leader.get(&door).body;
    assert!(
        page.contains(&format!(r#"name="resident" value="{id}" class="link rv""#)),
        "{page}"
    );
    let shown = leader.post(&door, &[("resident", id.as_str())]);
    assert_eq!(shown.status, 200, "{}", shown.body);
    assert!(shown.body.contains(r#"id="revealed""#), "{}", shown.body);
    assert!(shown.body.contains(&full), "{}", shown.body);
    assert_eq!(reveals().await, 2, "each read is audited");

    // A volunteer reveals nothing (the route), and sees no such control.
    let point = &w.points[0];
    let vol_pw = w.env.account("vol", "volunteer", &["--point", point]);
    srv.login("vol", &vol_pw);
    let vol = Browser::login(srv, "vol", &format!("{vol_pw}-changed"));
    assert_eq!(vol.post(&missed, &[("resident", id.as_str())]).status, 403);
    assert_eq!(vol.post(&door, &[("resident", id.as_str())]).status, 403);
}

/// The run of rounds missing nobody as a table row shows it: the row of
/// `name` in the coverage page's record, and its count.
fn in_a_row(body: &str, name: &str) -> (i64, String) {
    let table = body
        .split(r#"id="history-table""#)
        .nth(1)
        .unwrap_or_else(|| panic!("the record: {body}"));
    let row = table
        .split("<tr>")
        .find(|r| r.starts_with(&format!("<td>{name}</td>")))
        .unwrap_or_else(|| panic!("a row for {name}: {table}"));
    let n = row
        .split(r#"class="in-a-row">"#)
        .nth(1)
        .and_then(|r| r.split('<').next())
        .unwrap()
        .parse()
        .unwrap();
    (n, row.to_string())
}

#[tokio::test]
async fn the_coverage_page_shows_how_many_rounds_in_a_row_missed_nobody() {
    let w = crate::testing::setup("200").await;
    let srv = &w.srv;
    let store = w.env.store().await;
    let street = store.streets().await.unwrap()[0].clone();
    let c = store.communities(None, Some(street.id)).await.unwrap()[0].clone();
    let g = store.grids(None, Some((street.id, c.id))).await.unwrap()[0].clone();
    let grid = format!("{}-{}", street.id, g.id);
    // The one person round 2 misses; the grid's buildings.
    let x = &w.codes[0];
    let buildings: std::collections::BTreeSet<String> = srv
        .get(&format!("/api/v1/residents?grid={grid}&limit=1000"))
        .json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["building"].as_str().unwrap().to_string())
        .collect();
    assert!(buildings.len() >= 2, "the grid needs two buildings");
    // Round 1 swabs everyone, round 2 all but one, round 3 everyone (still sampling).
    let mut rounds = vec![w.round.clone()];
    for n in 2..=3 {
        let (r, _) = crate::harness::open_round(
            |p, b| srv.post(p, b),
            &crate::harness::round_body(street.id, &format!("第{n}轮")),
        );
        rounds.push(r);
    }
    for (i, r) in rounds.iter().enumerate() {
        let p = srv
            .post(
                &format!("/api/v1/rounds/{r}/points"),
                &serde_json::json!({ "name": format!("{i}号点"), "community": format!("{}-{}", street.id, c.id) }),
            )
            .json()["id"]
            .as_str()
            .unwrap()
            .to_string();
        for (j, chunk) in w.codes.chunks(10).enumerate() {
            let t = crate::testing::tube(srv, &p, &format!("H{i}{j:06}"));
            for (k, (id, code)) in chunk.iter().enumerate() {
                if i == 1 && *id == x.0 {
                    continue;
                }
                crate::testing::scan(srv, &t, &format!("h{i}-{j}-{k}"), code);
            }
        }
        if i < 2 {
            let closed = srv.post(
                &format!("/api/v1/rounds/{r}/state"),
                &serde_json::json!({ "to": "sampling_closed" }),
            );
            assert_eq!(closed.status, 200, "{}", closed.body);
        }
    }
    let chief = Browser::login(srv, "chief", &w.chief_password);
    let r3 = &rounds[2];
    // The round page says the run over the reader's area, and leads to the record.
    let page = chief.get(&format!("/rounds/{r3}")).body;
    assert!(page.contains("您的辖区连续 1 轮不落一人"), "{page}");
    assert!(page.contains(&format!(r#"href="/rounds/{r3}/coverage#history""#)));
    // By community: round 3, then round 2 missed one.
    let by_c = chief.get(&format!("/rounds/{r3}/coverage")).body;
    let (n, row) = in_a_row(&by_c, &c.name);
    assert_eq!(n, 1, "{row}");
    assert!(
        row.contains("第2轮 · 未检 1") && row.contains("第3轮 · 不落一人"),
        "{row}"
    );
    // By building: the missed person's building has one round in a row,
    // every other building all three.
    let by_b = chief
        .get(&format!("/rounds/{r3}/coverage?grid={grid}"))
        .body;
    let table = by_b.split(r#"id="history-table""#).nth(1).unwrap();
    let counts: Vec<i64> = table
        .split(r#"class="in-a-row">"#)
        .skip(1)
        .map(|r| r.split('<').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(counts.len(), buildings.len(), "{table}");
    assert_eq!(counts.iter().filter(|n| **n == 1).count(), 1, "{table}");
    assert_eq!(
        counts.iter().filter(|n| **n == 3).count(),
        buildings.len() - 1,
        "{table}"
    );
    // In English too.
    let en = chief.get(&format!("/rounds/{r3}/coverage?lang=en")).body;
    assert!(en.contains("Rounds in a row missing nobody"), "{en}");
}

/// The body of the building page's control section.
fn control_card(body: &str) -> String {
    let at = body
        .find(r#"<section class="card" id="control">"#)
        .unwrap_or_else(|| panic!("no control section: {body}"));
    let rest = &body[at..];
    rest[..rest.find("</section>").unwrap()].to_string()
}

#[tokio::test]
async fn a_commander_seals_a_building_and_lifts_it_from_its_page() {
    let w = crate::testing::setup("200").await;
    let srv = &w.srv;
    let store = w.env.store().await;
    let street = store.streets().await.unwrap()[0].clone();
    let c = store.communities(None, Some(street.id)).await.unwrap()[0].clone();
    let g = store.grids(None, Some((street.id, c.id))).await.unwrap()[0].clone();
    let grid = format!("{}-{}", street.id, g.id);
    let who = srv
        .get(&format!("/api/v1/residents?grid={grid}&limit=1000"))
        .json()["items"][0]
        .clone();
    let building = who["building"].as_str().unwrap().to_string();
    let chief = Browser::login(srv, "chief", &w.chief_password);
    let page = format!("/buildings/{building}");
    let control = format!("{page}/control");
    let door = format!("/rounds/{}/door-to-door?grid={grid}", w.round);
    // Whether the building's residents are sampled at the door for being
    // sealed (the door-to-door list, as the API gives it).
    let on_door = |_: &Browser| {
        let list = srv.get(&format!("/api/v1{door}"));
        assert_eq!(list.status, 200, "{}", list.body);
        list.json()["floors"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["building_id"] == building.as_str())
            .flat_map(|f| f["residents"].as_array().unwrap())
            .any(|r| {
                r["reasons"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|w| w["kind"] == "sealed")
            })
    };
    // Never under control: said so, with the form for the commander.
    let before = control_card(&chief.get(&page).body);
    assert!(before.contains(r#"data-control="none""#), "{before}");
    assert!(before.contains("从未设置过管控"), "{before}");
    assert!(
        before.contains(&format!(r#"action="{control}""#)),
        "{before}"
    );
    // Sealing is chosen, never preselected.
    assert!(
        before.contains(r#"<option value="" selected>请选择</option>"#)
            && !before.contains(r#"value="sealed" selected"#),
        "{before}"
    );
    assert!(!on_door(&chief));

    // No reason: refused in Chinese on the building, what was chosen kept.
    let refused = chief.post(
        &control,
        &[("status", "sealed"), ("reason", " "), ("until", "")],
    );
    assert_eq!(refused.status, 400, "{}", refused.body);
    let card = control_card(&refused.body);
    assert!(card.contains(r#"id="control-error">请填写原因"#), "{card}");
    assert!(
        card.contains(r#"<option value="sealed" selected>"#),
        "{card}"
    );
    // An end time that is no time: refused too.
    let bad = chief.post(
        &control,
        &[("status", "sealed"), ("reason", "密接"), ("until", "明天")],
    );
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(control_card(&bad.body).contains(r#"id="control-error""#));
    assert!(store
        .control_history(
            street.id,
            gw_domain::territory::ControlTarget::Building,
            building.split('-').nth(1).unwrap().parse().unwrap()
        )
        .await
        .unwrap()
        .is_empty());

    // Sealed: in force, in the history with its reason and who set it,
    // audited as the API's is, and its residents sampled at the door.
    let sealed = chief.post(
        &control,
        &[
            ("status", "sealed"),
            ("reason", "密接者居住，街道通知封控"),
            ("until", ""),
        ],
    );
    assert_eq!(sealed.status, 303, "{}", sealed.body);
    assert_eq!(location(&sealed), format!("{page}#control"));
    let card = control_card(&chief.get(&page).body);
    assert!(
        card.contains(r#"<h2>管控状态 <span class="tag bad" data-control="sealed">封控区"#),
        "{card}"
    );
    assert!(card.contains("密接者居住，街道通知封控"), "{card}");
    assert!(card.contains("user:chief"), "{card}");
    let audited = || async {
        store
            .audit_events(None, Some(&building), None, 100)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.action == "set_control" && e.target_kind == "building")
            .map(|e| e.detail)
            .collect::<Vec<_>>()
    };
    assert_eq!(audited().await, vec!["sealed".to_string()]);
    assert!(on_door(&chief), "a sealed building is sampled at the door");

    // Lifted: precaution in force from now, both orders in the history.
    let lifted = chief.post(
        &control,
        &[
            ("status", "precaution"),
            ("reason", "14天无新增，解除封控"),
            ("until", ""),
        ],
    );
    assert_eq!(lifted.status, 303, "{}", lifted.body);
    let card = control_card(&chief.get(&page).body);
    assert!(card.contains(r#"data-control="precaution""#), "{card}");
    assert_eq!(card.matches("<tr><td>").count(), 2, "{card}");
    assert_eq!(audited().await.len(), 2);
    assert!(!on_door(&chief), "lifted: called down again");

    // One household under temporary control until a given time, from its
    // own page: in force there with its end, and tagged on the building.
    let household = who["household"].as_str().unwrap().to_string();
    let hpage = format!("/households/{household}");
    let card = control_card(&chief.get(&hpage).body);
    assert!(card.contains(r#"data-control="none""#), "{card}");
    let held = chief.post(
        &format!("{hpage}/control"),
        &[
            ("status", "temporary"),
            ("reason", "同住人混管异常"),
            ("until", "2099-01-02T08:00"),
        ],
    );
    assert_eq!(held.status, 303, "{}", held.body);
    assert_eq!(location(&held), format!("{hpage}#control"));
    let card = control_card(&chief.get(&hpage).body);
    assert!(card.contains(r#"data-control="temporary""#), "{card}");
    assert!(card.contains("2099-01-02 08:00"), "{card}");
    assert!(card.contains("同住人混管异常"), "{card}");
    assert!(chief
        .get(&page)
        .body
        .contains(r#"data-control="temporary""#));
    let refused = chief.post(
        &format!("{hpage}/control"),
        &[("status", ""), ("reason", "x"), ("until", "")],
    );
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(control_card(&refused.body).contains(r#"id="control-error">请选择管控状态"#));
    assert_eq!(
        store
            .audit_events(None, Some(&household), None, 100)
            .await
            .unwrap()
            .iter()
            .filter(|e| e.action == "set_control" && e.target_kind == "household")
            .count(),
        1
    );

    // A volunteer at a point neither gets the form nor sets anything.
    let vol_pw = w
        .env
        .account("vol", "volunteer", &["--point", &w.points[0]]);
    srv.login("vol", &vol_pw);
    let vol = Browser::login(srv, "vol", &format!("{vol_pw}-changed"));
    let r = vol.post(
        &control,
        &[("status", "sealed"), ("reason", "x"), ("until", "")],
    );
    assert_eq!(r.status, 403, "{}", r.body);
    let r = vol.post(
        &format!("{hpage}/control"),
        &[("status", "sealed"), ("reason", "x"), ("until", "")],
    );
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(audited().await.len(), 2);
}

#[tokio::test]
async fn the_new_round_form_shows_the_pool_advice_and_defaults_to_it() {
    let w = crate::testing::setup("200").await;
    let srv = &w.srv;
    let street = w.codes[0].0.split('-').next().unwrap().to_string();
    let chief = Browser::login(srv, "chief", &w.chief_password);
    let advice_of = |body: &str| {
        body.split(&format!(r#"id="pool-advice-{street}">"#))
            .nth(1)
            .and_then(|r| r.split("</p>").next())
            .unwrap_or_else(|| panic!("no advice: {body}"))
            .to_string()
    };
    // Nothing to go on yet: said so, and the usual 10 per tube.
    let form = chief.get("/rounds/new").body;
    assert!(advice_of(&form).contains("暂无建议"), "{form}");
    assert!(form.contains(r#"<option value="10" selected>"#), "{form}");

    // One abnormal pool among twenty tubes of ten.
    let mut results = Vec::new();
    for i in 0..20 {
        let t = crate::testing::tube(srv, &w.points[1], &format!("E{i:07}"));
        for j in 0..10 {
            crate::testing::scan(srv, &t, &format!("e{i}-{j}"), &w.codes[i * 10 + j].1);
        }
        results.push(serde_json::json!({ "barcode": format!("E{i:07}"), "result": if i == 0 { "abnormal" } else { "negative" } }));
    }
    let r = srv.post(
        &format!("/api/v1/rounds/{}/results", w.round),
        &serde_json::json!({ "results": results }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let api = srv
        .get(&format!("/api/v1/streets/{street}/pool-advice"))
        .json();
    let k = api["advice"]["pool_size"].as_u64().unwrap();
    // Not the usual 10: the form's default below is the advice's.
    assert_ne!(k, 10, "{api}");
    let saving = api["advice"]["saving"].as_f64().unwrap() * 100.0;
    let rate = api["prevalence"].as_f64().unwrap() * 100.0;

    // The form: the API's advice with its basis and saving, and the pool
    // size chosen for it.
    let form = chief.get("/rounds/new").body;
    let said = advice_of(&form);
    assert!(
        said.contains(&format!(r#"建议 <b data-advice="{k}">{k} 混 1</b>"#)),
        "{said}"
    );
    assert!(said.contains("依据最近 1 轮的 20 管（200 人次）"), "{said}");
    assert!(said.contains(&format!("异常率约 {rate:.3}%")), "{said}");
    assert!(said.contains(&format!("节省约 {saving:.0}%")), "{said}");
    assert!(
        form.contains(&format!(r#"<option value="{k}" selected>"#)),
        "{form}"
    );
    // A refused form keeps the size chosen, not the advice.
    let refused = chief.post("/rounds/new", &[("name", ""), ("pool", "1")]);
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(refused.body.contains(r#"<option value="1" selected>"#));
    // The round page shows it beside the round's own pooling.
    let round = chief.get(&format!("/rounds/{}", w.round)).body;
    assert!(round.contains(r#"id="round-pool""#), "{round}");
    assert!(
        advice_of(&round).contains(&format!(r#"data-advice="{k}""#)),
        "{round}"
    );
}
