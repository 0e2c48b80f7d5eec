//! How a round's figures are shown, found by a review: the round's own page
//! (and its live picture and daily report) counted 未检 without the residents
//! added since the opening, and with those who moved out of the round's
//! communities, so it disagreed with the coverage page of the same round and
//! moment; a pool whose retests all came back negative said "0 人待单管复检"
//! on its green card; `round coverage` printed rows without the moved-out
//! figure, so a row's expected was not the sum of its columns.

use serde_json::{json, Value};

use crate::harness::{open_round, residents_with_codes, round_body, Server, TestEnv};
use crate::round_pages::Browser;

/// A demo street and a round over its 东风社区 only, with a point there. In
/// one grid ten people were swabbed into `FG000000`, one is exempt, one moved
/// out of 东风社区 after the opening (to 伊水社区), and two were registered
/// after the opening and not swabbed.
struct World {
    env: TestEnv,
    srv: Server,
    round: String,
    grid: String,
    point: String,
    swabbed: Vec<(String, String)>,
    chief_pw: String,
}

async fn world() -> World {
    let env = TestEnv::new().await;
    env.cli_ok(&["demo", "--residents", "300", "--seed", "5", "--no-serve"]);
    // A household in a second community to move someone to.
    let sample = env.path("3号楼.xlsx");
    let s = sample.display().to_string();
    let out = std::process::Command::new(crate::harness::BIN)
        .args(["sample", "roster", "--out", &s])
        .output()
        .unwrap();
    assert!(out.status.success());
    let (ok, v, e) = env.import_json(
        &sample,
        &["--community", "伊水社区", "--street", "鸿城街道"],
    );
    assert!(ok, "{v} {e}");
    let chief = env.account("chief", "street_commander", &["--street", "鸿城街道"]);
    let store = env.store().await;
    let street = store.streets().await.unwrap()[0].id;
    let communities = store.communities(None, Some(street)).await.unwrap();
    let c1 = communities.iter().find(|c| c.name == "东风社区").unwrap();
    let c2 = communities.iter().find(|c| c.name == "伊水社区").unwrap();
    let grid = store
        .grids(None, Some((street, c1.id)))
        .await
        .unwrap()
        .into_iter()
        .find(|g| !g.unassigned)
        .expect("a grid");
    let mut srv = env.serve();
    srv.token = Some(srv.login("chief", &chief));
    let mut body = round_body(street, "第5轮全员核酸");
    body["communities"] = json!([format!("{street}-{}", c1.id)]);
    let (round, _) = open_round(|p, b| srv.post(p, b), &body);
    let point = srv.post(
        &format!("/api/v1/rounds/{round}/points"),
        &json!({ "name": "1号采样点", "community": format!("{street}-{}", c1.id) }),
    );
    assert_eq!(point.status, 201, "{}", point.body);
    let point = point.json()["id"].as_str().unwrap().to_string();
    let gk = format!("{street}-{}", grid.id);
    let people = residents_with_codes(|p| srv.get(p), &format!("limit=1000&grid={gk}"));
    assert!(people.len() >= 14, "the grid needs 14 residents");
    let t = crate::testing::tube(&srv, &point, "FG000000");
    for (i, (_, code)) in people[..10].iter().enumerate() {
        crate::testing::scan(&srv, &t, &format!("fg-{i}"), code);
    }
    let r = srv.post(
        &format!("/api/v1/rounds/{round}/exemptions"),
        &json!({ "resident": people[10].0, "reason": "away" }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    // Moved out of the round's communities after the opening.
    let target = crate::harness::query_strings(
        &store,
        &format!(
            "SELECT CAST(MIN(h.id) AS TEXT) FROM household h JOIN unit u ON u.id = h.unit_id \
             JOIN building b ON b.id = u.building_id JOIN grid g ON g.id = b.grid_id WHERE g.community_id = {}",
            c2.id
        ),
    )
    .await[0]
        .clone();
    env.cli_ok(&[
        "resident",
        "move",
        &people[11].0,
        "--household",
        &format!("{street}-{target}"),
    ]);
    // Two registered in the grid after the opening: added, not swabbed.
    let first: gw_domain::ids::Key = people[0].0.parse().unwrap();
    let household = store
        .resident(first.street, first.id)
        .await
        .unwrap()
        .household_id
        .unwrap();
    let a = gw_domain::resident::NewResident::named("新来者甲");
    let b = gw_domain::resident::NewResident::named("新来者乙");
    let mut tx = store.begin().await.unwrap();
    tx.insert_residents(
        street,
        &[
            gw_store::import::ResidentWrite {
                uid: "figures-added-1".into(),
                household_id: Some(household),
                resident: &a,
                status: "active",
            },
            gw_store::import::ResidentWrite {
                uid: "figures-added-2".into(),
                household_id: Some(household),
                resident: &b,
                status: "active",
            },
        ],
        4_000_000_000_000,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    World {
        env,
        srv,
        round,
        grid: gk,
        point,
        swabbed: people[..10].to_vec(),
        chief_pw: format!("{chief}-changed"),
    }
}

fn ok(r: crate::harness::Response) -> String {
    assert_eq!(r.status, 200, "{}", r.body);
    r.body
}

/// The number in `<b id="{id}" …>N</b>`.
fn number(html: &str, id: &str) -> i64 {
    let rest = html
        .split(&format!(r#"id="{id}""#))
        .nth(1)
        .unwrap_or_else(|| panic!("no #{id}: {html}"));
    let rest = &rest[rest.find('>').unwrap() + 1..];
    rest[..rest.find('<').unwrap()]
        .trim()
        .trim_end_matches('%')
        .parse()
        .unwrap_or_else(|_| panic!("#{id}: {rest}"))
}

/// The HTML of the element with `id`, up to its `</tag>`.
fn element<'a>(html: &'a str, id: &str, tag: &str) -> &'a str {
    let start = html
        .find(&format!(r#"id="{id}""#))
        .unwrap_or_else(|| panic!("no #{id}: {html}"));
    let rest = &html[start..];
    &rest[..rest.find(&format!("</{tag}>")).unwrap()]
}

#[tokio::test]
async fn every_page_counts_a_rounds_missed_as_its_coverage_page_does() {
    let w = world().await;
    let r = &w.round;
    let api: Value = w
        .srv
        .get(&format!("/api/v1/rounds/{r}/coverage?by=community"))
        .json();
    assert_eq!(api["moved_out"], 1, "{api}");
    assert_eq!(api["added"], 2, "{api}");
    assert_eq!(api["added_sampled"], 0, "{api}");
    assert_eq!(api["exempt"], 1, "{api}");
    // The expected still missed, and the added not swabbed: 未检.
    let missed = api["missed"].as_i64().unwrap() + 2;
    let chief = Browser::login(&w.srv, "chief", &w.chief_pw);
    let by = ok(chief.get(&format!("/rounds/{r}/coverage")));
    assert_eq!(number(&by, "by-missed"), missed, "the coverage page");
    assert!(by.contains("含新增 2"), "{by}");
    let pc = number(&by, "by-percent");

    // The round's own page: the same figure, said the same way, the same rate.
    let page = ok(chief.get(&format!("/rounds/{r}")));
    assert_eq!(number(&page, "cov-missed"), missed, "the round's page");
    let stats = element(&page, "cov-expected", "section");
    assert!(stats.contains("含新增 2"), "{stats}");
    assert!(stats.contains(&format!("<b>{pc}%</b>")), "{pc}% {stats}");
    // Its row of the grid counts the added too.
    let grid = element(&page, "by-grid", "table");
    let row = grid
        .split("<tr>")
        .find(|row| row.contains(&format!("missed?grid={}", w.grid)))
        .unwrap_or_else(|| panic!("no row of {}: {grid}", w.grid));
    let gapi: Value = w
        .srv
        .get(&format!(
            "/api/v1/rounds/{r}/coverage?by=grid&grid={}",
            w.grid
        ))
        .json();
    let gmissed = gapi["missed"].as_i64().unwrap() + 2;
    assert!(
        row.contains(&format!(r#"data-label="未检">{gmissed}</td>"#)),
        "{gmissed}: {row}"
    );
    let en = ok(chief.get(&format!("/rounds/{r}?lang=en")));
    assert!(en.contains("2 of them added"), "{en}");

    // The live picture and the daily report.
    let live = ok(chief.get(&format!("/rounds/{r}/live")));
    assert_eq!(number(&live, "live-missed"), missed, "the live picture");
    assert_eq!(number(&live, "live-added_missed"), 2);
    assert_eq!(
        number(&live, "live-coverage"),
        pc,
        "the live picture's rate"
    );
    let report = ok(chief.get(&format!("/rounds/{r}/report")));
    assert_eq!(number(&report, "rep-missed"), missed, "the daily report");
    let stats = element(&report, "rep-expected", "section");
    assert!(stats.contains("含新增 2"), "{stats}");
    assert!(stats.contains(&format!("<b>{pc}%</b>")), "{pc}% {stats}");
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

#[tokio::test]
async fn a_cleared_pool_says_its_retests_came_back_negative_not_none_to_retest() {
    let w = world().await;
    let r = &w.round;
    let chief = Browser::login(&w.srv, "chief", &w.chief_pw);
    results(
        &w.srv,
        r,
        json!([{ "barcode": "FG000000", "result": "abnormal" }]),
    );
    // Being dealt with: whom it traced and the retests to take.
    let page = ok(chief.get(&format!("/rounds/{r}")));
    let card = element(&page, "alerts-card", "section");
    assert!(
        card.contains("已追踪 10 人") && card.contains("10 人待单管复检"),
        "{card}"
    );

    let mut rows = Vec::new();
    for (i, (_, code)) in w.swabbed.iter().enumerate() {
        let opened = w.srv.post(
            &format!("/api/v1/points/{}/tubes", w.point),
            &json!({ "barcode": format!("FR{i:06}"), "purpose": "retest" }),
        );
        assert_eq!(opened.status, 201, "{}", opened.body);
        let t = opened.json()["id"].as_str().unwrap().to_string();
        swab(&w.srv, &t, &format!("fr{i}"), code, "retest");
        rows.push(json!({ "barcode": format!("FR{i:06}"), "result": "negative" }));
    }
    results(&w.srv, r, json!(rows));
    let api: Value = w.srv.get(&format!("/api/v1/rounds/{r}/alerts")).json();
    assert_eq!(api["alerts"][0]["state"], "cleared", "{api}");

    // The round's page: the green card says it was cleared, in cleared terms.
    let page = ok(chief.get(&format!("/rounds/{r}")));
    assert!(
        page.contains(r#"<section class="card alerts-cleared" id="alerts-card">"#),
        "{page}"
    );
    let card = element(&page, "alerts-card", "section");
    assert!(card.contains("10 人单管复检均阴性，已排除"), "{card}");
    assert!(!card.contains("待单管复检"), "{card}");
    let en = ok(chief.get(&format!("/rounds/{r}?lang=en")));
    let card = element(&en, "alerts-card", "section");
    assert!(
        card.contains("10 people retested in single tubes, all negative: cleared"),
        "{card}"
    );
    assert!(!card.contains("0 people called"), "{card}");
    // The alerts page and the daily report say it alike.
    let alerts = ok(chief.get(&format!("/rounds/{r}/alerts")));
    assert!(alerts.contains("10 人单管复检均阴性，已排除"), "{alerts}");
    assert!(!alerts.contains("待复检 0 人"), "{alerts}");
    let report = ok(chief.get(&format!("/rounds/{r}/report")));
    let pools = element(&report, "rep-pools", "table");
    assert!(pools.contains("10 人单管复检均阴性，已排除"), "{pools}");
    // Nothing is still to retest: no "0" in the open retests' column.
    assert!(pools.contains(r#"<td class="n">—</td>"#), "{pools}");
}

#[tokio::test]
async fn round_coverage_rows_carry_the_moved_out_figure() {
    let w = world().await;
    let r = &w.round;
    let out = w.env.cli_ok(&["round", "coverage", r, "--by", "grid"]);
    let header = out
        .lines()
        .find(|l| l.contains("名称 name"))
        .unwrap_or_else(|| panic!("no header: {out}"));
    let cols: Vec<&str> = header.split_whitespace().collect();
    assert_eq!(
        cols[..7],
        ["id", "应检", "已采", "免检", "漏检", "迁出", "新增"],
        "{out}"
    );
    // Every row adds up: 应检 = 已采 + 免检 + 漏检 + 迁出.
    let mut moved = 0;
    let mut rows = 0;
    let is_key = |t: &str| {
        t.split_once('-')
            .is_some_and(|(a, b)| a.parse::<i64>().is_ok() && b.parse::<i64>().is_ok())
    };
    for l in out
        .lines()
        .filter(|l| l.split_whitespace().next().is_some_and(is_key))
    {
        let n: Vec<i64> = l
            .split_whitespace()
            .skip(1)
            .take(6)
            .map(|x| x.parse().unwrap_or_else(|_| panic!("{l}")))
            .collect();
        assert_eq!(n[0], n[1] + n[2] + n[3] + n[4], "{l}");
        moved += n[4];
        rows += 1;
        if l.trim_start().starts_with(&format!("{} ", w.grid)) {
            assert_eq!(n[4], 1, "the mover's old grid: {l}");
        }
    }
    assert!(rows > 0, "{out}");
    assert_eq!(moved, 1, "{out}");
    // The same in --json, row by row.
    let v: Value = serde_json::from_str(
        &w.env
            .cli_ok(&["round", "coverage", r, "--by", "grid", "--json"]),
    )
    .unwrap();
    let json_rows = v["rows"].as_array().unwrap();
    assert!(!json_rows.is_empty(), "{v}");
    for row in json_rows {
        let f = |k: &str| row[k].as_i64().unwrap_or_else(|| panic!("{k}: {row}"));
        assert_eq!(
            f("expected"),
            f("sampled") + f("exempt") + f("missed") + f("moved_out"),
            "{row}"
        );
    }
}
