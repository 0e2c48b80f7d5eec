//! The next day's round in one step: a round created with `points_from`
//! takes over the earlier round's points (names, places, stations, rates,
//! the hours moved to its day; no supplies) and their volunteers' and point
//! managers' grants, audited, over the API, the command line and the
//! new-round form; a point grant's line on the home page names its round.
//! Pool-size advice reads the last rounds, not the newest alone.

use serde_json::json;

use crate::harness::{exec, query_strings};
use crate::round_pages::Browser;
use crate::testing::{issue_tubes, setup, tube};

const DAY: i64 = 86_400_000;
/// 2022-04-10 07:00 China time.
const DAY1_7AM: i64 = 1_649_545_200_000;

#[tokio::test]
async fn the_next_days_round_carries_the_points_and_their_staff() {
    let w = setup("100").await;
    let srv = &w.srv;
    let store = w.env.store().await;
    let street = store.streets().await.unwrap()[0].id;
    let communities = store.communities(None, Some(street)).await.unwrap();
    let c1 = format!("{street}-{}", communities[0].id);
    // Day 1: one round, two points with their hours, stations and rates.
    let day1 = srv.post(
        "/api/v1/rounds",
        &json!({ "street": street, "name": "第1天全员核酸", "starts_ms": DAY1_7AM, "ends_ms": DAY1_7AM + 12 * 3_600_000, "pool_size": 10 }),
    );
    assert_eq!(day1.status, 201, "{}", day1.body);
    assert!(day1.json()["carried"].is_null(), "{}", day1.body);
    let day1 = day1.json()["id"].as_str().unwrap().to_string();
    let mut points = Vec::new();
    for (name, stations) in [("东风社区广场", 3), ("东风小学", 2)] {
        let p = srv.post(
            &format!("/api/v1/rounds/{day1}/points"),
            &json!({ "name": name, "community": c1, "stations": stations, "rate_per_station_h": 150,
                     "opens_ms": DAY1_7AM, "closes_ms": DAY1_7AM + 4 * 3_600_000 }),
        );
        assert_eq!(p.status, 201, "{}", p.body);
        points.push(p.json()["id"].as_str().unwrap().to_string());
    }
    issue_tubes(&w.env, &points[0], "CA000001", "CA000100");
    // A volunteer and a point manager at the square; a volunteer whose
    // grant was revoked is not carried.
    let vol_pw = w.env.account("vol", "volunteer", &["--point", &points[0]]);
    w.env
        .account("pm", "point_manager", &["--point", &points[0]]);
    w.env.account("gone", "volunteer", &["--point", &points[1]]);
    exec(
        &store,
        "UPDATE user_grant SET revoked_ms = 1 WHERE user_id = (SELECT id FROM app_user WHERE username = 'gone')",
    )
    .await;

    // Day 2 over the API, carrying day 1's points.
    let day2 = srv.post(
        "/api/v1/rounds",
        &json!({ "street": street, "name": "第2天全员核酸", "starts_ms": DAY1_7AM + DAY, "ends_ms": DAY1_7AM + DAY + 12 * 3_600_000, "pool_size": 10, "points_from": day1 }),
    );
    assert_eq!(day2.status, 201, "{}", day2.body);
    let v = day2.json();
    let day2 = v["id"].as_str().unwrap().to_string();
    let c = &v["carried"];
    assert_eq!(c["from"], day1.as_str(), "{v}");
    assert_eq!(c["days"], 1, "{v}");
    assert_eq!(c["points"].as_array().unwrap().len(), 2, "{v}");
    assert_eq!(
        (
            c["grants"].clone(),
            c["volunteers"].clone(),
            c["point_managers"].clone()
        ),
        (json!(2), json!(1), json!(1)),
        "{v}"
    );
    assert_eq!(c["supplies_carried"], false);
    let summary = v["summary"].as_str().unwrap();
    assert!(
        summary.contains("沿用「第1天全员核酸」")
            && summary.contains("2 个采样点")
            && summary.contains("物资未沿用"),
        "{summary}"
    );
    // The new points: same names, stations, rates; hours a day later; no supplies.
    let new_square = c["points"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(c["points"][0]["from"], points[0].as_str());
    assert_eq!(c["points"][0]["grants"], 2);
    let k: gw_domain::ids::Key = new_square.parse().unwrap();
    let row = store.point(k.street, k.id).await.unwrap();
    assert_eq!(row.name, "东风社区广场");
    assert_eq!(format!("{}-{}", k.street, row.round_id), day2);
    let sched = store.schedule_points(k.street, row.round_id).await.unwrap();
    assert_eq!(sched.len(), 2);
    assert_eq!((sched[0].stations, sched[0].rate_per_station_h), (3, 150));
    assert_eq!(sched[0].opens_ms, Some(DAY1_7AM + DAY));
    assert_eq!(sched[0].closes_ms, Some(DAY1_7AM + DAY + 4 * 3_600_000));
    let supplies = srv.get(&format!("/api/v1/points/{new_square}/supplies"));
    assert!(!supplies.body.contains("CA000001"), "{}", supplies.body);
    // Each grant audited, saying where it came from.
    let audited = query_strings(
        &store,
        "SELECT detail FROM audit_event WHERE action = 'grant' AND detail LIKE '%carried_from%' ORDER BY id",
    )
    .await;
    assert_eq!(audited.len(), 2, "{audited:?}");
    assert!(
        audited
            .iter()
            .all(|d| d.contains(&format!("node=point:{new_square}"))
                && d.contains(&format!("carried_from=point:{}", points[0]))),
        "{audited:?}"
    );

    // The volunteer works at the new point at once, and her home page names
    // the round of each point grant, not 「长期」.
    let opened = srv.post(&format!("/api/v1/rounds/{day2}/open"), &json!({}));
    assert_eq!(opened.status, 200, "{}", opened.body);
    let vol = srv.with_token(&srv.login("vol", &vol_pw));
    let t = vol.post(
        &format!("/api/v1/points/{new_square}/tubes"),
        &json!({ "barcode": "CB000001" }),
    );
    assert_eq!(t.status, 201, "{}", t.body);
    let b = Browser::login(srv, "vol", &format!("{vol_pw}-changed"));
    let home = b.get("/");
    assert!(
        home.body
            .contains("采样点 东风社区广场<span class=\"muted\">（第2天全员核酸）</span>"),
        "{}",
        home.body
    );
    assert!(home.body.contains("（第1天全员核酸）"), "{}", home.body);
    assert!(!home.body.contains("长期"), "{}", home.body);

    // The command line: day 3 from day 2, with its summary.
    let out = w.env.cli_ok(&[
        "round",
        "create",
        "--street",
        "鸿城街道",
        "--name",
        "第3天全员核酸",
        "--starts",
        "2022-04-12 07:00",
        "--ends",
        "2022-04-12 19:00",
        "--points-from",
        &day2,
    ]);
    assert!(
        out.contains("沿用「第2天全员核酸」")
            && out.contains("授权 2 项（志愿者 1，采样点负责人 1）"),
        "{out}"
    );
    assert!(
        out.contains("东风社区广场") && out.contains(&new_square),
        "{out}"
    );
    // A round of no such street is refused, and nothing is created.
    let bad = srv.post(
        "/api/v1/rounds",
        &json!({ "street": street, "name": "错的", "starts_ms": DAY1_7AM, "ends_ms": DAY1_7AM + DAY, "pool_size": 10, "points_from": format!("{}-{}", street + 1000, 1) }),
    );
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(store
        .rounds(street)
        .await
        .unwrap()
        .iter()
        .all(|r| r.name != "错的"));

    // The new-round form offers the street's rounds and says what it carried.
    let chief = Browser::login(srv, "chief", &w.chief_password);
    let form = chief.get("/rounds/new");
    assert!(form.body.contains(r#"name="points_from""#), "{}", form.body);
    assert!(
        form.body
            .contains(&format!(r#"<option value="{day1}">第1天全员核酸"#)),
        "{}",
        form.body
    );
    let made = chief.post(
        "/rounds/new",
        &[
            ("name", "第4天全员核酸"),
            ("street", &street.to_string()),
            ("starts", "2022-04-13T07:00"),
            ("ends", "2022-04-13T19:00"),
            ("pool", "10"),
            ("points_from", &day2),
        ],
    );
    assert_eq!(made.status, 200, "{}", made.body);
    assert!(
        made.body.contains(r#"id="carried""#)
            && made.body.contains("已沿用「第2天全员核酸」")
            && made.body.contains("物资未沿用"),
        "{}",
        made.body
    );
    let home = b.get("/");
    assert!(home.body.contains("（第4天全员核酸）"), "{}", home.body);
}

#[tokio::test]
async fn pool_advice_remembers_an_abnormal_pool_from_an_earlier_round() {
    let w = setup("200").await;
    let srv = &w.srv;
    let store = w.env.store().await;
    let street = store.streets().await.unwrap()[0].id;
    // Round 1: 20 tubes, one abnormal.
    let mut results = Vec::new();
    for i in 0..20 {
        let t = tube(srv, &w.points[0], &format!("PA{i:06}"));
        crate::testing::scan(srv, &t, &format!("a{i}"), &w.codes[i].1);
        results.push(json!({ "barcode": format!("PA{i:06}"), "result": if i == 0 { "abnormal" } else { "negative" } }));
    }
    let r = srv.post(
        &format!("/api/v1/rounds/{}/results", w.round),
        &json!({ "results": results }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    // Round 2, opened since: 120 tubes of ten, all negative (1,200 swabs,
    // the fill set in the database: the rule reads counts, not scans).
    let (second, _) = crate::harness::open_round(
        |p, b| srv.post(p, b),
        &crate::harness::round_body(street, "全员核酸第2轮"),
    );
    let community = store.communities(None, Some(street)).await.unwrap()[0].id;
    let p2 = srv.post(
        &format!("/api/v1/rounds/{second}/points"),
        &json!({ "name": "二轮", "community": format!("{street}-{community}") }),
    );
    let p2 = p2.json()["id"].as_str().unwrap().to_string();
    let mut results = Vec::new();
    for i in 0..120 {
        let t = tube(srv, &p2, &format!("PB{i:06}"));
        crate::testing::scan(srv, &t, &format!("b{i}"), &w.codes[i].1);
        results.push(json!({ "barcode": format!("PB{i:06}"), "result": "negative" }));
    }
    let second_id = second.split('-').nth(1).unwrap();
    exec(
        &store,
        &format!("UPDATE tube SET fill = 10 WHERE round_id = {second_id}"),
    )
    .await;
    let r = srv.post(
        &format!("/api/v1/rounds/{second}/results"),
        &json!({ "results": results }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let advice = srv
        .get(&format!("/api/v1/streets/{street}/pool-advice"))
        .json();
    // Both rounds are read: round 1's abnormal pool is not forgotten.
    assert_eq!(
        advice["rounds"],
        json!([second.as_str(), w.round.as_str()]),
        "{advice}"
    );
    assert_eq!(
        advice["recent_rounds"],
        json!([second.as_str()]),
        "{advice}"
    );
    assert_eq!(advice["abnormal_seen"], 1, "{advice}");
    assert_eq!(advice["swabs_seen"], 1_220, "{advice}");
    assert!(advice["prevalence"].as_f64().unwrap() > 0.0, "{advice}");
    assert_eq!(advice["recent_prevalence"], 0.0, "{advice}");
    // The command line says the same basis.
    let out = w
        .env
        .cli_ok(&["round", "pool-advice", "--street", "鸿城街道"]);
    assert!(out.contains("异常 1 管"), "{out}");
}
