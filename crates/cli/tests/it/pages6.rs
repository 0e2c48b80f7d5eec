//! A round's coverage as a street commander and a grid leader read it on a
//! phone: someone registered after the round opened and not swabbed is
//! missed on every coverage page (never "0 未检, 100%"), as the record of
//! rounds says; the per-grid, per-building and exempt tables keep their
//! figures on a 420 px screen without a sideways scroll; the new-round form
//! offers only the pools the lab accepts; a pool whose retests all came back
//! negative is shown cleared on the round page, not red.

use serde_json::{json, Value};

use crate::harness::{open_round, residents_with_codes, round_body, Server, TestEnv};
use crate::round_pages::Browser;

/// A demo street with one round open. In the leader's grid every resident
/// but three was swabbed at 1号采样点 (ten to a tube, `PG000000`…), the three
/// are exempt, and one resident was registered after the round opened and
/// not swabbed.
struct World {
    env: TestEnv,
    srv: Server,
    round: String,
    community: String,
    grid: String,
    point: String,
    /// The grid's residents swabbed (resident key, personal code), in the
    /// order of their tubes.
    swabbed: Vec<(String, String)>,
    chief_pw: String,
    leader_pw: String,
}

async fn world() -> World {
    let env = TestEnv::new().await;
    env.cli_ok(&["demo", "--residents", "300", "--seed", "5", "--no-serve"]);
    let chief = env.account("chief", "street_commander", &["--street", "鸿城街道"]);
    let store = env.store().await;
    let street = store.streets().await.unwrap()[0].id;
    let c = &store.communities(None, Some(street)).await.unwrap()[0];
    let grid = store
        .grids(None, Some((street, c.id)))
        .await
        .unwrap()
        .into_iter()
        .find(|g| !g.unassigned)
        .expect("a grid");
    let leader = env.account(
        "leader",
        "grid_leader",
        &[
            "--street",
            "鸿城街道",
            "--community",
            &c.name,
            "--grid",
            &grid.name,
        ],
    );
    let mut srv = env.serve();
    srv.token = Some(srv.login("chief", &chief));
    srv.login("leader", &leader);
    let (round, _) = open_round(|p, b| srv.post(p, b), &round_body(street, "第4轮全员核酸"));
    let community = format!("{street}-{}", c.id);
    let gk = format!("{street}-{}", grid.id);
    let point = srv.post(
        &format!("/api/v1/rounds/{round}/points"),
        &json!({ "name": "1号采样点", "community": community }),
    );
    assert_eq!(point.status, 201, "{}", point.body);
    let point = point.json()["id"].as_str().unwrap().to_string();
    let mut people = residents_with_codes(|p| srv.get(p), &format!("limit=1000&grid={gk}"));
    assert!(people.len() >= 20, "the grid needs 20 residents");
    let exempt = people.split_off(people.len() - 3);
    for (n, chunk) in people.chunks(10).enumerate() {
        let t = crate::testing::tube(&srv, &point, &format!("PG{n:06}"));
        for (i, (_, code)) in chunk.iter().enumerate() {
            crate::testing::scan(&srv, &t, &format!("pg-{n}-{i}"), code);
        }
    }
    for ((id, _), reason) in exempt.iter().zip(["away", "in_hospital", "deceased"]) {
        let r = srv.post(
            &format!("/api/v1/rounds/{round}/exemptions"),
            &json!({ "resident": id, "reason": reason }),
        );
        assert_eq!(r.status, 200, "{}", r.body);
    }
    // Registered in the grid after the round opened: added, not swabbed.
    let first: gw_domain::ids::Key = people[0].0.parse().unwrap();
    let household = store
        .resident(first.street, first.id)
        .await
        .unwrap()
        .household_id
        .unwrap();
    let newcomer = gw_domain::resident::NewResident::named("新来者");
    let mut tx = store.begin().await.unwrap();
    tx.insert_residents(
        street,
        &[gw_store::import::ResidentWrite {
            uid: "pages6-added".into(),
            household_id: Some(household),
            resident: &newcomer,
            status: "active",
        }],
        4_000_000_000_000,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    World {
        env,
        srv,
        round,
        community,
        grid: gk,
        point,
        swabbed: people,
        chief_pw: format!("{chief}-changed"),
        leader_pw: format!("{leader}-changed"),
    }
}

fn ok(r: crate::harness::Response) -> String {
    assert_eq!(r.status, 200, "{}", r.body);
    r.body
}

/// The text of the element with this id up to its first closing `tag`.
fn element<'a>(html: &'a str, id: &str, tag: &str) -> &'a str {
    let start = html
        .find(&format!(r#"id="{id}""#))
        .unwrap_or_else(|| panic!("no #{id} in {html}"));
    let rest = &html[start..];
    &rest[..rest.find(&format!("</{tag}>")).unwrap_or(rest.len())]
}

/// The row of the table `#{table}` that holds `needle`.
fn row<'a>(html: &'a str, table: &str, needle: &str) -> &'a str {
    element(html, table, "table")
        .split("<tr>")
        .find(|r| r.contains(needle))
        .unwrap_or_else(|| panic!("no row with {needle} in #{table}: {html}"))
}

#[tokio::test]
async fn the_coverage_pages_count_the_added_not_swabbed_as_missed_and_never_say_100_percent() {
    let w = world().await;
    let (r, g) = (&w.round, &w.grid);
    // What the API says of the grid: nobody expected missed, one added not swabbed.
    let api: Value = w
        .srv
        .get(&format!("/api/v1/rounds/{r}/coverage?grid={g}&by=building"))
        .json();
    assert_eq!(
        (
            &api["missed"],
            &api["exempt"],
            &api["added"],
            &api["added_sampled"]
        ),
        (&json!(0), &json!(3), &json!(1), &json!(0)),
        "{api}"
    );

    // The grid leader's page per building: the tiles, the building's row and
    // the record under them say the same one person is missed.
    let leader = Browser::login(&w.srv, "leader", &w.leader_pw);
    let page = ok(leader.get(&format!("/rounds/{r}/coverage?grid={g}")));
    assert!(
        page.contains(
            r#"<b id="by-missed" class="warn">1</b><span>未检<small class="note">含新增 1</small>"#
        ),
        "{page}"
    );
    assert!(
        page.contains(r#"<b id="by-added" class="warn">1 (1)</b>"#),
        "{page}"
    );
    let pc = element(&page, "by-percent", "b");
    assert!(pc.ends_with("99%"), "{pc}");
    let building = row(&page, "coverage-by", "1 (1)");
    assert!(
        building.contains(r#"data-label="未检">1</td>"#) && !building.contains("100%"),
        "{building}"
    );
    let record = element(&page, "history", "section");
    assert!(
        record.contains("第4轮全员核酸 · 采样中，未检 1"),
        "{record}"
    );
    // In English too.
    let en = ok(leader.get(&format!("/rounds/{r}/coverage?grid={g}&lang=en")));
    assert!(
        en.contains(r#"<b id="by-missed" class="warn">1</b><span>Missed<small class="note">1 of them added</small>"#),
        "{en}"
    );

    // The commander's page per grid of the community, and per community.
    let chief = Browser::login(&w.srv, "chief", &w.chief_pw);
    let page = ok(chief.get(&format!("/rounds/{r}/coverage?community={}", w.community)));
    let grid = row(&page, "coverage-by", &format!("coverage?grid={g}\""));
    assert!(
        grid.contains(r#"data-label="未检">1</td>"#)
            && grid.contains(r#"data-label="新增（未检）">1 (1)</td>"#)
            && !grid.contains("100%"),
        "{grid}"
    );
    let page = ok(chief.get(&format!("/rounds/{r}/coverage")));
    let community = row(
        &page,
        "coverage-by",
        &format!("coverage?community={}\"", w.community),
    );
    assert!(
        community.contains(r#"data-label="新增（未检）">1 (1)</td>"#),
        "{community}"
    );

    // The round's own page: the grid's row is not 100% either.
    let page = ok(chief.get(&format!("/rounds/{r}")));
    let grid = row(&page, "by-grid", &format!("missed?grid={g}\""));
    assert!(
        grid.contains(r#"data-label="新增（未检）">1 (1)</td>"#) && !grid.contains("100%"),
        "{grid}"
    );
}

#[tokio::test]
async fn the_new_round_form_offers_only_the_pools_the_lab_accepts() {
    let env = TestEnv::new().await;
    env.cli_ok(&["demo", "--residents", "200", "--seed", "5", "--no-serve"]);
    let pw = env.account("chief", "street_commander", &["--street", "鸿城街道"]);
    let srv = env.serve();
    srv.login("chief", &pw);
    let chief = Browser::login(&srv, "chief", &format!("{pw}-changed"));
    let form = ok(chief.get("/rounds/new"));
    assert!(
        form.contains(r#"<option value="20">20 混 1</option>"#),
        "{form}"
    );
    env.cli_ok(&[
        "round",
        "settings",
        "--street",
        "鸿城街道",
        "--lab-max-pool",
        "10",
    ]);
    let form = ok(chief.get("/rounds/new"));
    assert!(!form.contains(r#"<option value="20""#), "{form}");
    assert!(
        form.contains(r#"<option value="10" selected>10 混 1</option>"#),
        "{form}"
    );
    env.cli_ok(&[
        "round",
        "settings",
        "--street",
        "鸿城街道",
        "--lab-max-pool",
        "5",
    ]);
    let form = ok(chief.get("/rounds/new"));
    let pools = element(&form, "round-form", "select");
    assert!(
        !pools.contains(r#"value="10""#)
            && pools.contains(r#"<option value="5" selected>5 混 1</option>"#),
        "{pools}"
    );
}

fn swab(srv: &Server, tube: &str, client: &str, code: &str, purpose: &str) {
    let r = srv.post(
        &format!("/api/v1/tubes/{tube}/scans"),
        &json!({ "client_id": client, "code": code, "purpose": purpose }),
    );
    assert!(r.status == 200 || r.status == 201, "{}", r.body);
}

fn results(srv: &Server, round: &str, rows: Value) {
    let r = srv.post(
        &format!("/api/v1/rounds/{round}/results"),
        &json!({ "results": rows }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
}

/// The single-tube retest of each of `PG000000`'s ten comes back negative.
fn retests_negative(w: &World) {
    let mut rows = Vec::new();
    for (i, (_, code)) in w.swabbed[..10].iter().enumerate() {
        let opened = w.srv.post(
            &format!("/api/v1/points/{}/tubes", w.point),
            &json!({ "barcode": format!("RT{i:06}"), "purpose": "retest" }),
        );
        assert_eq!(opened.status, 201, "{}", opened.body);
        let t = opened.json()["id"].as_str().unwrap().to_string();
        swab(&w.srv, &t, &format!("rt{i}"), code, "retest");
        rows.push(json!({ "barcode": format!("RT{i:06}"), "result": "negative" }));
    }
    results(&w.srv, &w.round, json!(rows));
}

#[tokio::test]
async fn a_pool_whose_retests_all_came_back_negative_is_cleared_on_the_round_page() {
    let w = world().await;
    let r = &w.round;
    let chief = Browser::login(&w.srv, "chief", &w.chief_pw);
    results(
        &w.srv,
        r,
        json!([{ "barcode": "PG000000", "result": "abnormal" }]),
    );
    let page = ok(chief.get(&format!("/rounds/{r}")));
    let card = element(&page, "alerts-card", "section");
    assert!(
        card.starts_with(r#"id="alerts-card""#)
            && page.contains(r#"<section class="card alerts" id="alerts-card">"#),
        "{page}"
    );
    assert!(card.contains("处置中 · 待复检"), "{card}");
    assert!(
        card.contains(r#"<span class="tag bad" id="alerts-open">1 处置中</span>"#),
        "{card}"
    );

    retests_negative(&w);
    let api: Value = w.srv.get(&format!("/api/v1/rounds/{r}/alerts")).json();
    assert_eq!(api["alerts"][0]["state"], "cleared", "{api}");

    // The round page says so as the alerts page does, and not in red.
    let page = ok(chief.get(&format!("/rounds/{r}")));
    assert!(
        page.contains(r#"<section class="card alerts-cleared" id="alerts-card">"#),
        "{page}"
    );
    let card = element(&page, "alerts-card", "section");
    assert!(card.contains("已排除 · 复检均阴性"), "{card}");
    assert!(
        card.contains(r#"<span class="tag open" id="alerts-cleared">1 已排除</span>"#),
        "{card}"
    );
    assert!(!card.contains("tag bad"), "{card}");
    let en = ok(chief.get(&format!("/rounds/{r}?lang=en")));
    let card = element(&en, "alerts-card", "section");
    assert!(card.contains("cleared · every retest negative"), "{card}");
}

/// Loads `url` in the browser and waits for it.
fn load(b: &crate::browser::Browser, url: &str) {
    b.exec("location.href = arguments[0];", json!([url]));
    b.wait(
        url,
        &format!(
            "document.readyState === 'complete' && location.href === {}",
            json!(url)
        ),
    );
}

/// Opens `url` in a 420 px wide frame (a phone's screen: the pages' CSS
/// reads the frame's width) and says how far right of it each element
/// matching `cells` reaches (0 when it is on the screen).
fn overflow_at_420(b: &crate::browser::Browser, url: &str, cells: &[&str]) -> Vec<i64> {
    b.exec(
        "var f = document.getElementById('phone'); if (f) { f.remove(); } f = document.createElement('iframe'); f.id = 'phone'; f.style.width = '420px'; f.style.height = '740px'; f.style.border = '0'; f.src = arguments[0]; document.body.appendChild(f); return 0;",
        json!([url]),
    );
    b.wait(
        url,
        &format!(
            "(function () {{ var f = document.getElementById('phone'); var d = f && f.contentDocument; return d && d.readyState === 'complete' && f.contentWindow.location.href === {}; }})()",
            json!(url)
        ),
    );
    cells
        .iter()
        .map(|css| {
            b.exec(
                "var d = document.getElementById('phone').contentDocument; var e = d.querySelector(arguments[0]); if (!e) { return -1; } var r = e.getBoundingClientRect(); return Math.max(0, Math.ceil(r.right - d.documentElement.clientWidth));",
                json!([css]),
            )
            .as_i64()
            .unwrap()
        })
        .collect()
}

#[tokio::test]
async fn on_a_phone_the_missed_per_grid_and_the_added_show_without_a_sideways_scroll() {
    if !crate::browser::browser_available(
        "on_a_phone_the_missed_per_grid_and_the_added_show_without_a_sideways_scroll",
    ) {
        return;
    }
    let w = world().await;
    let (r, g) = (&w.round, &w.grid);
    let origin = format!("http://{}", w.srv.addr);
    let profile = tempfile::tempdir().unwrap();
    let b = crate::browser::Browser::start(profile.path().to_path_buf());
    // Logs in through the form (the password already changed).
    load(&b, &format!("{origin}/login"));
    b.exec(
        "document.querySelector('input[name=username]').value = 'chief'; document.querySelector('input[name=password]').value = arguments[0]; document.querySelector('form').submit();",
        json!([w.chief_pw]),
    );
    b.wait(
        "the home page",
        "location.pathname === '/' && document.readyState === 'complete'",
    );
    // `cells` measured on `url`; the screenshots at the element `at` when given.
    let phone = |name: &str, url: &str, cells: &[&str], at: &str| {
        let over = overflow_at_420(&b, url, cells);
        for (css, over) in cells.iter().zip(over) {
            assert_eq!(
                over, 0,
                "{name}: {css} is {over} px off a 420 px screen (-1: missing)"
            );
        }
        load(&b, url);
        // The screenshot shows the top of the screen: what comes before
        // `at` is set aside for the picture.
        b.exec(
            "var e = arguments[0] && document.querySelector(arguments[0]); while (e && e.parentElement && e.parentElement.tagName !== 'BODY') { for (var s = e.previousElementSibling; s; s = s.previousElementSibling) { s.style.display = 'none'; } e = e.parentElement; } return 0;",
            json!([at]),
        );
        b.screenshot(name, 420);
        b.screenshot(name, 1280);
    };
    phone(
        "pages6-round",
        &format!("{origin}/rounds/{r}"),
        &[
            "#by-grid tbody tr td:nth-child(5)",
            "#by-grid tbody tr td:nth-child(6)",
            "#by-grid tbody tr td:nth-child(7)",
        ],
        "",
    );
    phone(
        "pages6-coverage-grid",
        &format!("{origin}/rounds/{r}/coverage?grid={g}"),
        &[
            "#by-percent",
            "#coverage-by tbody tr td:nth-child(5)",
            "#coverage-by tbody tr td:nth-child(6)",
            "#coverage-by tbody tr td:nth-child(7)",
        ],
        "",
    );
    phone(
        "pages6-coverage-community",
        &format!("{origin}/rounds/{r}/coverage?community={}", w.community),
        &[
            "#coverage-by tbody tr td:nth-child(6)",
            "#history-table tbody tr td:nth-child(3)",
        ],
        "#history",
    );
    phone(
        "pages6-missed",
        &format!("{origin}/rounds/{r}/missed?grid={g}"),
        &[
            "#exempt-table tbody tr td:nth-child(3)",
            "#exempt-table tbody tr td:nth-child(6)",
        ],
        "#exempt-list",
    );
    // A pool whose retests all came back negative, on the round page.
    results(
        &w.srv,
        r,
        json!([{ "barcode": "PG000000", "result": "abnormal" }]),
    );
    retests_negative(&w);
    phone(
        "pages6-round-cleared",
        &format!("{origin}/rounds/{r}"),
        &["#alerts-cleared"],
        "#alerts-card",
    );
    // The new-round form once the lab takes at most 10 to a tube.
    w.env.cli_ok(&[
        "round",
        "settings",
        "--street",
        "鸿城街道",
        "--lab-max-pool",
        "10",
    ]);
    phone(
        "pages6-new-round",
        &format!("{origin}/rounds/new"),
        &["#round-form select[name=pool]"],
        "",
    );
    let pools = b.exec(
        "return Array.from(document.querySelectorAll('select[name=pool] option')).map(function (o) { return o.value; }).join(' ');",
        json!([]),
    );
    assert_eq!(pools, json!("1 5 10"));
    // On a desktop they are still tables with their heads.
    load(&b, &format!("{origin}/rounds/{r}"));
    let head = b.exec(
        "return getComputedStyle(document.querySelector('#by-grid thead')).display;",
        json!([]),
    );
    assert_eq!(head, json!("table-header-group"));
    drop(w.env);
}
