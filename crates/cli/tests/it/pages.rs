//! Pages over plain HTTP (no browser): form CSRF, cache headers, language,
//! denials and unknown pages as pages.

use serde_json::json;

use crate::harness::{open_round, round_body, TestEnv};

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[tokio::test]
async fn forms_need_the_csrf_field_assets_are_cached_pages_are_not() {
    let env = TestEnv::new().await;
    env.cli_ok(&["demo", "--residents", "200", "--seed", "4", "--no-serve"]);
    let pw = env.account("chief", "street_commander", &["--street", "鸿城街道"]);
    let srv = env.serve();
    // Log in through the form: a cookie and a redirect to the password page.
    let body = format!("username=chief&password={pw}");
    let r = srv.raw(&format!(
        "POST /login HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    ));
    assert_eq!(r.status, 303, "{}", r.head);
    assert_eq!(header(&r.head, "location"), Some("/password"));
    let cookie = header(&r.head, "set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let page = srv.raw(&format!(
        "GET /password HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: {cookie}\r\n\r\n"
    ));
    assert_eq!(page.status, 200);
    assert_eq!(header(&page.head, "cache-control"), Some("no-store"));
    let csrf = page
        .body
        .split(r#"name="csrf" value=""#)
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_string();
    let post = |fields: &str| {
        srv.raw(&format!(
            "POST /password HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: {cookie}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{fields}",
            fields.len()
        ))
    };
    let change = format!("old={pw}&new=a-new-password-1&again=a-new-password-1");
    // No token, a wrong token: refused as a page, nothing changed.
    for fields in [change.clone(), format!("csrf=nope&{change}")] {
        let r = post(&fields);
        assert_eq!(r.status, 403, "{}", r.body);
        assert!(r.body.contains(r#"<meta name="gw-error" content="csrf">"#));
    }
    // Mismatched new passwords: the form says what to fix.
    let r = post(&format!(
        "csrf={csrf}&old={pw}&new=a-new-password-1&again=a-new-password-2"
    ));
    assert_eq!(r.status, 400);
    assert!(r.body.contains("两次输入的新密码不一致"), "{}", r.body);
    let r = post(&format!("csrf={csrf}&{change}"));
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(header(&r.head, "location"), Some("/login?changed=1"));
    // The new password works over the API; the old session is gone.
    let anon = srv.anonymous();
    assert_eq!(
        anon.post(
            "/api/v1/login",
            &json!({ "username": "chief", "password": "a-new-password-1" })
        )
        .status,
        200
    );
    let gone = srv.raw(&format!(
        "GET /password HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: {cookie}\r\n\r\n"
    ));
    assert_eq!(gone.status, 401);
    assert!(
        gone.body.contains("url=/login"),
        "a page that sends you to log in"
    );

    // Assets: versioned URLs cached for a year; the service worker always checked.
    let home = anon.get("/");
    let v = home
        .body
        .split("/assets/app.css?v=")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_string();
    let css = anon.get(&format!("/assets/app.css?v={v}"));
    assert_eq!(css.status, 200);
    assert!(header(&css.head, "cache-control")
        .unwrap()
        .contains("max-age=31536000"));
    let sw = anon.get("/sw.js");
    assert_eq!(header(&sw.head, "cache-control"), Some("no-cache"));
    assert!(
        sw.body.contains(&format!("gw-station-{v}")),
        "the cache name follows the assets"
    );

    // English on request, remembered; unknown pages are pages, unknown API routes JSON.
    let en = anon.get("/login?lang=en");
    assert!(en.body.contains("Log in") && en.body.contains(r#"lang="en""#));
    assert!(header(&en.head, "set-cookie")
        .unwrap()
        .starts_with("gw_lang=en"));
    let again = srv
        .raw("GET /login HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: gw_lang=en\r\n\r\n");
    assert!(again.body.contains(r#"lang="en""#));
    let missing = anon.get("/no-such-page");
    assert_eq!(missing.status, 404);
    assert!(missing.body.contains(r#"content="not_found""#));
    assert_eq!(
        anon.get("/api/v1/no-such-route").json()["code"],
        "not_found"
    );
}

/// Logs in through the form (the account's password already changed) and
/// returns the cookie and the page's CSRF token.
fn form_session(srv: &crate::harness::Server, user: &str, password: &str) -> (String, String) {
    let body = format!("username={user}&password={password}");
    let r = srv.raw(&format!(
        "POST /login HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    ));
    assert_eq!(r.status, 303, "{}", r.body);
    let cookie = header(&r.head, "set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let home = srv.raw(&format!(
        "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: {cookie}\r\n\r\n"
    ));
    let csrf = home
        .body
        .split(r#"name="csrf" value=""#)
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_string();
    (cookie, csrf)
}

#[tokio::test]
async fn a_point_manager_enrols_a_station_from_the_browser_a_volunteer_cannot() {
    let env = TestEnv::new().await;
    env.cli_ok(&["demo", "--residents", "200", "--seed", "4", "--no-serve"]);
    let pw = env.account("chief", "street_commander", &["--street", "鸿城街道"]);
    let mut srv = env.serve();
    srv.token = Some(srv.login("chief", &pw));
    let store = env.store().await;
    let street = store.streets().await.unwrap()[0].id;
    let c = store.communities(None, Some(street)).await.unwrap()[0].id;
    let (round, _) = open_round(|p, b| srv.post(p, b), &round_body(street, "第1轮"));
    let point = srv
        .post(
            &format!("/api/v1/rounds/{round}/points"),
            &json!({ "name": "3号采样点", "community": format!("{street}-{c}") }),
        )
        .json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mgr = env.account("mgr", "point_manager", &["--point", &point]);
    let vol = env.account("vol", "volunteer", &["--point", &point]);
    // The first login (over the API) replaces the one-time passwords.
    srv.login("mgr", &mgr);
    srv.login("vol", &vol);
    let (mgr, vol) = (format!("{mgr}-changed"), format!("{vol}-changed"));

    let (cookie, csrf) = form_session(&srv, "mgr", &mgr);
    let home = srv.raw(&format!(
        "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: {cookie}\r\n\r\n"
    ));
    assert!(home.body.contains("采样点负责人"), "{}", home.body);
    assert!(
        home.body.contains(&format!(r#"href="/points/{point}""#)),
        "the manager's point is linked"
    );
    let body = format!("csrf={csrf}&label=%E4%B8%80%E5%8F%B7%E5%8F%B0");
    let issued = srv.raw(&format!(
        "POST /points/{point}/stations HTTP/1.1\r\nHost: 10.0.0.5:8080\r\nConnection: close\r\nCookie: {cookie}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    ));
    assert_eq!(issued.status, 201, "{}", issued.body);
    let link = issued
        .body
        .split(r#"id="enroll-link" href=""#)
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap();
    assert!(
        link.starts_with("http://10.0.0.5:8080/station?code=en."),
        "{link}"
    );
    // The phone scans it: the link as a QR code beside it.
    assert!(
        issued.body.contains(r#"id="enroll-qr"><svg"#),
        "{}",
        issued.body
    );
    // A point's manager runs it; changing it is the round's managers' work.
    assert!(!issued.body.contains(r#"id="change-point""#));
    let code = link.split("code=").nth(1).unwrap();
    let enrolled = srv
        .anonymous()
        .post("/api/v1/enroll", &json!({ "code": code }));
    assert_eq!(enrolled.status, 200, "{}", enrolled.body);
    assert_eq!(enrolled.json()["point_name"], "3号采样点");
    assert_eq!(enrolled.json()["pool_size"], 10);
    // The phone is lost: the manager finds it on the point's page and
    // revokes it there; its token stops at once.
    let token = enrolled.json()["token"].as_str().unwrap().to_string();
    let station = enrolled.json()["station"].as_str().unwrap().to_string();
    let phone = srv.with_token(&token);
    assert_eq!(phone.get("/api/v1/me").status, 200);
    let listed = srv.raw(&format!(
        "GET /points/{point} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: {cookie}\r\n\r\n"
    ));
    assert!(
        listed
            .body
            .contains(&format!(r#"action="/stations/{station}/revoke""#))
            && listed.body.contains("一号台")
            && listed.body.contains("使用中"),
        "{}",
        listed.body
    );
    let body = format!("csrf={csrf}");
    let revoked = srv.raw(&format!(
        "POST /stations/{station}/revoke HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: {cookie}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    ));
    assert_eq!(revoked.status, 303, "{}", revoked.body);
    assert_eq!(phone.get("/api/v1/me").status, 401);
    let after = srv.raw(&format!(
        "GET /points/{point} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: {cookie}\r\n\r\n"
    ));
    assert!(after.body.contains("已撤销"), "{}", after.body);
    assert!(!after
        .body
        .contains(&format!(r#"action="/stations/{station}/revoke""#)));
    // The API lists it too, for the same people.
    let mgr_token = srv.login("mgr", &mgr);
    let api = srv
        .with_token(&mgr_token)
        .get(&format!("/api/v1/points/{point}/stations"))
        .json();
    assert_eq!(api["items"][0]["state"], "revoked", "{api}");

    // A volunteer at the same point scans but does not enrol stations.
    let (vcookie, vcsrf) = form_session(&srv, "vol", &vol);
    let page = srv.raw(&format!(
        "GET /points/{point} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: {vcookie}\r\n\r\n"
    ));
    assert_eq!(page.status, 403);
    let body = format!("csrf={vcsrf}&label=x");
    let refused = srv.raw(&format!(
        "POST /points/{point}/stations HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: {vcookie}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    ));
    assert_eq!(refused.status, 403, "{}", refused.body);

    // The street's commander gives the point more stations and a better
    // name from its page; nonsense is refused as a form to fix.
    let (ccookie, ccsrf) = form_session(&srv, "chief", &format!("{pw}-changed"));
    let change = |fields: &str| {
        srv.raw(&format!(
            "POST /points/{point}/change HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: {ccookie}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{fields}",
            fields.len()
        ))
    };
    let bad = change(&format!(
        "csrf={ccsrf}&name=3%E5%8F%B7%E9%87%87%E6%A0%B7%E7%82%B9&stations=0"
    ));
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(bad.body.contains("1 到 50"), "{}", bad.body);
    // "东门3号点", six stations, open until 20:00 on 2100-01-01.
    let fields = format!(
        "csrf={ccsrf}&name=%E4%B8%9C%E9%97%A83%E5%8F%B7%E7%82%B9&stations=6&rate=&opens=&closes=2099-12-31T20%3A00"
    );
    let done = change(&fields);
    assert_eq!(done.status, 303, "{}", done.body);
    let after = srv.raw(&format!(
        "GET /points/{point} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: {ccookie}\r\n\r\n"
    ));
    assert!(after.body.contains("<h1>东门3号点</h1>"), "{}", after.body);
    assert!(
        after
            .body
            .contains(r#"name="stations" type="number" min="1" max="50" value="6""#),
        "{}",
        after.body
    );
    assert!(after.body.contains("2099-12-31T20:00"), "{}", after.body);
}

/// A GET with the session cookie.
fn page(srv: &crate::harness::Server, cookie: &str, path: &str) -> crate::harness::Response {
    srv.raw(&format!(
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: {cookie}\r\n\r\n"
    ))
}

#[tokio::test]
async fn registry_pages_roster_upload_and_round_pages() {
    let env = TestEnv::new().await;
    env.cli_ok(&["demo", "--residents", "300", "--seed", "4", "--no-serve"]);
    let pw = env.account("chief", "street_commander", &["--street", "鸿城街道"]);
    let mut srv = env.serve();
    srv.token = Some(srv.login("chief", &pw));
    let pw = format!("{pw}-changed");
    let (cookie, csrf) = form_session(&srv, "chief", &pw);
    let store = env.store().await;
    let street = store.streets().await.unwrap()[0].id;
    let c = &store.communities(None, Some(street)).await.unwrap()[0];
    let grid = &store.grids(None, Some((street, c.id))).await.unwrap()[0];
    let gk = format!("{street}-{}", grid.id);

    // The tree: every grid linked with its counts; under 100 KB.
    let tree = page(&srv, &cookie, "/registry");
    assert_eq!(tree.status, 200, "{}", tree.body);
    assert!(tree.body.contains(&format!(r#"href="/grids/{gk}""#)));
    assert!(tree.body.contains("户") && tree.body.contains(r#"action="/registry/search""#));
    assert!(tree.body.len() < 100_000);
    // A grid: its buildings with counts adding up to the registry's.
    let g = page(&srv, &cookie, &format!("/grids/{gk}"));
    assert_eq!(g.status, 200);
    let counts = store.grid_counts(Some(street)).await.unwrap();
    let k = counts.iter().find(|k| k.grid_id == grid.id).unwrap();
    assert!(g
        .body
        .contains(&format!(r#"<b id="grid-residents">{}</b>"#, k.residents)));
    assert!(g
        .body
        .contains(&format!(r#"<b id="grid-households">{}</b>"#, k.households)));
    assert!(g.body.len() < 100_000, "{} bytes", g.body.len());
    // A household: masked document numbers and phones, a link to its code sheet.
    let r = store
        .residents(&gw_store::registry::ResidentFilter {
            street: Some(street),
            grid: Some(grid.id),
            limit: 50,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.resident.document.is_some() && !r.resident.phones.is_empty())
        .unwrap();
    let hk = format!("{street}-{}", r.household_id.unwrap());
    let h = page(&srv, &cookie, &format!("/households/{hk}"));
    assert_eq!(h.status, 200);
    let doc = &r.resident.document.as_ref().unwrap().number;
    let phone = r.resident.phones[0].phone.as_str();
    assert!(!h.body.contains(doc.as_str()) && !h.body.contains(phone));
    assert!(h.body.contains(&gw_domain::mask::phone(phone)));
    assert!(h
        .body
        .contains(&format!(r#"href="/households/{hk}/codes""#)));
    // Search: by name; a tail that is not 4 characters says what to fix.
    let found = page(
        &srv,
        &cookie,
        &format!(
            "/registry/search?q={}",
            crate::harness::enc(&r.resident.name)
        ),
    );
    assert_eq!(found.status, 200);
    assert!(found.body.contains(&format!(r#"href="/households/{hk}""#)));
    let tail = &phone[phone.len() - 4..];
    let by_tail = page(&srv, &cookie, &format!("/registry/search?q={tail}"));
    assert!(by_tail
        .body
        .contains(&format!(r#"href="/households/{hk}""#)));
    let bad = page(&srv, &cookie, "/registry/search?q=12345");
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("只能输入末4位"), "{}", bad.body);
    let bad_en = page(&srv, &cookie, "/registry/search?q=12345&lang=en");
    assert!(bad_en.body.contains("last 4 characters"));

    // Roster upload: the file is the body, the CSRF token a header.
    let form = page(&srv, &cookie, "/registry/import");
    assert_eq!(form.status, 200);
    let target = format!("{street}-{}/{gk}", c.id);
    assert!(
        form.body.contains(&format!(r#"value="{target}""#)),
        "{}",
        form.body
    );
    let path = env.path("messy.xlsx");
    gw_app::fixtures::write_xlsx(&path, &gw_app::fixtures::messy_building_roster()).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let upload = |token: &str| {
        let mut req = format!(
            "POST /registry/import?filename=messy.xlsx&target={} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: {cookie}\r\n{token}Content-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
            crate::harness::enc(&target),
            bytes.len()
        )
        .into_bytes();
        req.extend_from_slice(&bytes);
        srv.raw_bytes(&req)
    };
    let before = store.resident_count().await.unwrap();
    let refused = upload("");
    assert_eq!(refused.status, 403);
    assert!(refused.body.contains(r#"content="csrf""#));
    assert_eq!(store.resident_count().await.unwrap(), before);
    let done = upload(&format!("X-CSRF-Token: {csrf}\r\n"));
    assert_eq!(done.status, 200, "{}", done.body);
    let exp = gw_app::fixtures::messy_building_roster_expectations();
    assert!(done
        .body
        .contains(&format!(r#"<b id="n-added">{}</b>"#, exp.residents)));
    assert!(done.body.contains(&format!(
        r#"<b id="n-rejected" class="warn">{}</b>"#,
        exp.rejected
    )));
    assert_eq!(
        store.resident_count().await.unwrap(),
        before + exp.residents as i64
    );
    let link = done
        .body
        .split(r#"id="report-link" href=""#)
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_string();
    let report = page(&srv, &cookie, &link);
    assert_eq!(report.status, 200);
    assert!(header(&report.head, "content-type")
        .unwrap()
        .contains("spreadsheetml"));
    assert!(header(&report.head, "content-disposition")
        .unwrap()
        .contains("messy.report.xlsx"));
    assert!(report.body.starts_with("PK"), "an xlsx (zip) file");
    // A roster with no 小区 column, with the compound chosen on the form.
    assert!(form.body.contains(r#"id="compound""#), "{}", form.body);
    let rows = "姓名,楼栋,单元,房号\r\n院外人,88号楼,1,101\r\n";
    let mut req = format!(
        "POST /registry/import?filename=no-compound.csv&target={}&compound={} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: {cookie}\r\nX-CSRF-Token: {csrf}\r\nContent-Length: {}\r\n\r\n",
        crate::harness::enc(&target),
        crate::harness::enc("幸福家园"),
        rows.len()
    )
    .into_bytes();
    req.extend_from_slice(rows.as_bytes());
    let placed = srv.raw_bytes(&req);
    assert_eq!(placed.status, 200, "{}", placed.body);
    let who = store
        .residents(&gw_store::registry::ResidentFilter {
            street: Some(street),
            name: Some("院外人".into()),
            limit: 5,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(who.len(), 1, "{who:?}");
    assert_eq!(who[0].compound.as_deref(), Some("幸福家园"), "{who:?}");
    // Not a roster: the page says what is wrong, nothing stored.
    let mut req = format!(
        "POST /registry/import?filename=notes.txt&target={} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: {cookie}\r\nX-CSRF-Token: {csrf}\r\nContent-Length: 9\r\n\r\n",
        crate::harness::enc(&target)
    )
    .into_bytes();
    req.extend_from_slice(b"a,b\r\n1,2\r\n");
    let not = srv.raw_bytes(&req);
    assert_eq!(not.status, 422, "{}", not.body);
    assert!(not.body.contains(r#"id="import-error""#));
    assert!(
        not.body.contains("没有找到居民名单") && !not.body.contains("no resident sheet"),
        "what to fix, in the reader's language: {}",
        not.body
    );
    // Too large a file: a page that says so (the form shows its <main>),
    // not a line of plain English.
    let size = usize::try_from(gw_app::roster_file::DEFAULT_MAX_SIZE).unwrap() + 1024;
    let mut req = format!(
        "POST /registry/import?filename=huge.xlsx&target={} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: {cookie}\r\nX-CSRF-Token: {csrf}\r\nContent-Length: {size}\r\n\r\n",
        crate::harness::enc(&target)
    )
    .into_bytes();
    req.resize(req.len() + size, b'x');
    let huge = srv.raw_bytes(&req);
    assert_eq!(huge.status, 413, "{}", huge.body);
    assert!(
        huge.body.contains("<main>") && huge.body.contains("文件太大"),
        "{}",
        huge.body
    );

    // A round with a point: its pages answer and say what to fix.
    let (round, _) = open_round(|p, b| srv.post(p, b), &round_body(street, "第1轮"));
    let point = srv.post(
        &format!("/api/v1/rounds/{round}/points"),
        &json!({ "name": "1号采样点", "community": format!("{street}-{}", c.id), "stations": 2 }),
    ).json()["id"].as_str().unwrap().to_string();
    let cov = page(&srv, &cookie, &format!("/rounds/{round}"));
    for sub in ["schedule", "reconciliation", "lab", "disinfection"] {
        assert!(
            cov.body.contains(&format!("/rounds/{round}/{sub}")),
            "{sub}"
        );
    }
    for p in [
        format!("/rounds/{round}/schedule"),
        format!("/rounds/{round}/door-to-door?grid={gk}"),
        format!("/rounds/{round}/compare?grid={gk}"),
        format!("/rounds/{round}/coverage"),
        format!("/rounds/{round}/coverage?community={street}-{}", c.id),
        format!("/rounds/{round}/coverage?grid={gk}"),
        format!("/rounds/{round}/lab"),
        format!("/rounds/{round}/reconciliation"),
        format!("/rounds/{round}/disinfection"),
    ] {
        let r = page(&srv, &cookie, &p);
        assert_eq!(r.status, 200, "{p}: {}", r.body);
        assert!(r.body.len() < 100_000, "{p}: {} bytes", r.body.len());
    }
    // The door-to-door list, printed for the team at the door, says whose it is.
    let door = page(
        &srv,
        &cookie,
        &format!("/rounds/{round}/door-to-door?grid={gk}"),
    );
    assert!(
        door.body
            .contains(&format!("第1轮 · {} {}", c.name, grid.name)),
        "{}",
        door.body
    );
    let plan = |fields: &str| {
        srv.raw(&format!(
            "POST /rounds/{round}/schedule HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: {cookie}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{fields}",
            fields.len()
        ))
    };
    assert_eq!(plan("slot_minutes=30").status, 403, "no CSRF field");
    let wrong = plan(&format!("csrf={csrf}&slot_minutes=3&max_queue=20"));
    assert_eq!(wrong.status, 400);
    assert!(
        wrong.body.contains("每个时段须为 5 到 240"),
        "{}",
        wrong.body
    );
    let planned = plan(&format!("csrf={csrf}&slot_minutes=30&max_queue=20"));
    assert_eq!(planned.status, 303, "{}", planned.body);
    // Coverage per building in a grid: the grid's expected people, building by building.
    let by = page(
        &srv,
        &cookie,
        &format!("/rounds/{round}/coverage?grid={gk}"),
    );
    assert!(by.body.contains("号楼"), "buildings by name: {}", by.body);
    let sched = page(&srv, &cookie, &format!("/rounds/{round}/schedule"));
    assert!(sched.body.contains(r#"id="calldown""#), "{}", sched.body);
    assert!(sched.body.contains("1号采样点"));
    // The points' pace and the simulation beside calling everyone at once;
    // the group messages on demand (they repeat the table in full).
    assert!(
        sched.body.contains(r#"id="point-rates""#) && sched.body.contains(r#"id="simulation""#),
        "{}",
        sched.body
    );
    assert!(sched.body.contains("一次全叫"), "{}", sched.body);
    assert!(!sched.body.contains(r#"class="msg""#), "{}", sched.body);
    let full = page(
        &srv,
        &cookie,
        &format!("/rounds/{round}/schedule?messages=1"),
    );
    assert!(full.body.contains(r#"class="msg""#), "{}", full.body);
    // A lab file with a barcode that is no tube of the round: row and column named.
    let csv = "条码,结果\r\nNOSUCH0001,阴性\r\n";
    let mut req = format!(
        "POST /rounds/{round}/lab?filename=r.csv HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: {cookie}\r\nX-CSRF-Token: {csrf}\r\nContent-Length: {}\r\n\r\n",
        csv.len()
    )
    .into_bytes();
    req.extend_from_slice(csv.as_bytes());
    let lab = srv.raw_bytes(&req);
    assert_eq!(lab.status, 422, "{}", lab.body);
    assert!(lab.body.contains(r#"id="lab-issues""#), "{}", lab.body);

    // An abnormal pool: a disinfection task at the point, marked done from its page.
    let tube = srv
        .post(
            &format!("/api/v1/points/{point}/tubes"),
            &json!({ "barcode": "PG000001" }),
        )
        .json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let rid = format!("{street}-{}", r.id);
    let code = srv.get(&format!("/api/v1/residents/{rid}/code")).json()["code"]
        .as_str()
        .unwrap()
        .to_string();
    let scan = srv.post(
        &format!("/api/v1/tubes/{tube}/scans"),
        &json!({ "client_id": "pg-1", "code": code }),
    );
    assert_eq!(scan.status, 200, "{}", scan.body);
    srv.post(&format!("/api/v1/tubes/{tube}/close"), &json!({}));
    let res = srv.post(
        &format!("/api/v1/rounds/{round}/results"),
        &json!({ "results": [{ "barcode": "PG000001", "result": "abnormal" }] }),
    );
    assert_eq!(res.status, 200, "{}", res.body);
    let tasks = page(&srv, &cookie, &format!("/rounds/{round}/disinfection"));
    let task = tasks
        .body
        .split(r#"action="/disinfection/"#)
        .nth(1)
        .and_then(|r| r.split('/').next())
        .unwrap_or_else(|| panic!("a task with its button: {}", tasks.body))
        .to_string();
    let fields = format!("csrf={csrf}&round={round}");
    let done = srv.raw(&format!(
        "POST /disinfection/{task}/done HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: {cookie}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{fields}",
        fields.len()
    ));
    assert_eq!(done.status, 303, "{}", done.body);
    let after = page(&srv, &cookie, &format!("/rounds/{round}/disinfection"));
    assert!(
        after.body.contains("已完成") && !after.body.contains("/done"),
        "{}",
        after.body
    );
    // The reconciliation counts the closed tube at its point.
    let rec = page(&srv, &cookie, &format!("/rounds/{round}/reconciliation"));
    assert!(rec.body.contains("1号采样点"), "{}", rec.body);
    assert!(lab.body.contains("NOSUCH0001") || lab.body.contains("<td class=\"n\">2</td>"));
}

#[tokio::test]
async fn a_household_gets_a_link_to_its_codes_on_a_phone() {
    let env = TestEnv::new().await;
    env.cli_ok(&["demo", "--residents", "120", "--seed", "6", "--no-serve"]);
    let pw = env.account("chief", "street_commander", &["--street", "鸿城街道"]);
    let mut srv = env.serve();
    srv.token = Some(srv.login("chief", &pw));
    let pw = format!("{pw}-changed");
    let store = env.store().await;
    let street = store.streets().await.unwrap()[0].id;
    let rows = store
        .residents(&gw_store::registry::ResidentFilter {
            street: Some(street),
            limit: 1000,
            ..Default::default()
        })
        .await
        .unwrap();
    // A household of two or more.
    let hh = rows
        .iter()
        .filter_map(|r| r.household_id)
        .find(|h| rows.iter().filter(|r| r.household_id == Some(*h)).count() >= 2)
        .unwrap();
    let members: Vec<_> = rows.iter().filter(|r| r.household_id == Some(hh)).collect();
    let (cookie, csrf) = form_session(&srv, "chief", &pw);
    let codes = srv.raw(&format!(
        "GET /households/{street}-{hh}/codes HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: {cookie}\r\n\r\n"
    ));
    assert_eq!(codes.status, 200);
    assert!(
        codes
            .body
            .contains(&format!(r#"action="/households/{street}-{hh}/link""#)),
        "{}",
        codes.body
    );
    let body = format!("csrf={csrf}");
    let made = srv.raw(&format!(
        "POST /households/{street}-{hh}/link HTTP/1.1\r\nHost: 10.0.0.5:8080\r\nConnection: close\r\nCookie: {cookie}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    ));
    assert_eq!(made.status, 201, "{}", made.body);
    let link = made
        .body
        .split(r#"id="household-link-url" href=""#)
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_string();
    assert!(link.starts_with("http://10.0.0.5:8080/h/"), "{link}");
    // Opened on the household's phone, no login: one QR code per person, names masked.
    let path = link.trim_start_matches("http://10.0.0.5:8080");
    let page = srv.anonymous().get(path);
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(
        page.body.matches(r#"<svg class="qr""#).count(),
        members.len(),
        "{}",
        page.body
    );
    for m in &members {
        let k = gw_domain::ids::Key { street, id: m.id };
        let code = gw_app::codes::code_for(&store, &gw_app::Clock::System, k)
            .await
            .unwrap()
            .text();
        assert!(page.body.contains(&code), "{code}");
        if m.resident.name.chars().count() > 1 {
            assert!(!page.body.contains(&m.resident.name), "unmasked name");
        }
        if let Some(d) = &m.resident.document {
            assert!(!page.body.contains(&d.number), "document number shown");
        }
    }
    // Revoked: the page says so.
    let revoked = srv.post(
        &format!("/api/v1/households/{street}-{hh}/link/revoke"),
        &json!({}),
    );
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    let gone = srv.anonymous().get(path);
    assert_eq!(gone.status, 404, "{}", gone.body);
    assert!(gone.body.contains("已撤销"), "{}", gone.body);
}

/// What axum's extractors refuse reads Chinese first: a page gets a page
/// (a wrong method, a form of the wrong type, a field missing), the API a
/// JSON message naming the field.
#[tokio::test]
async fn an_extractors_refusal_is_a_page_or_a_message_in_chinese() {
    let env = TestEnv::new().await;
    env.cli_ok(&["demo", "--residents", "200", "--seed", "4", "--no-serve"]);
    let pw = env.account("chief", "street_commander", &["--street", "鸿城街道"]);
    let mut srv = env.serve();
    srv.token = Some(srv.login("chief", &pw));
    let json_login = srv.raw(
        "POST /login HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
    );
    assert_eq!(json_login.status, 415, "{}", json_login.head);
    assert!(
        header(&json_login.head, "content-type").is_some_and(|t| t.starts_with("text/html"))
            && json_login.body.contains("请求须为表单"),
        "{}",
        json_login.body
    );
    let half = srv.raw(
        "POST /login HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 14\r\n\r\nusername=admin",
    );
    assert_eq!(half.status, 422, "{}", half.head);
    assert!(half.body.contains("缺少字段 password"), "{}", half.body);
    let delete = srv.raw("DELETE / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_eq!(delete.status, 405, "{}", delete.head);
    assert!(
        delete.body.contains("此地址不接受这种请求方法"),
        "{}",
        delete.body
    );
    let typed = srv.post(
        "/api/v1/rounds",
        &json!({ "street": "1", "name": "x", "starts_ms": 0, "ends_ms": 1, "pool_size": 10 }),
    );
    assert_eq!(typed.status, 422, "{}", typed.body);
    let message = typed.json()["message"].as_str().unwrap().to_string();
    assert!(
        message.starts_with("字段 street 的值不对（应为 整数）"),
        "{message}"
    );
}
