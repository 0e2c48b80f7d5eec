//! The schedule as a street commander steers a round: a point's pace
//! measured per station (a phone re-enrolled is no extra station), a re-plan
//! that takes the stations its refusal advised, pushes refused for a point
//! closed at the slot, and the pushed slot's time and author.

use gw_app::Clock;
use gw_domain::ids::Key;
use gw_domain::schedule::MINUTE_MS;
use serde_json::{json, Value};

use crate::harness::{open_round, residents_with_codes, round_body, Server, TestEnv};

const HOUR: i64 = 3_600_000;

/// A demo street of 1,500, its commander logged in over HTTP, and an open
/// round: the server, the store, the street, its first community and the round.
async fn street_and_round() -> (TestEnv, Server, gw_store::Store, i64, i64, String) {
    street_of(1500).await
}

/// [`street_and_round`] over a demo street of `residents` (6,000 make two
/// communities).
async fn street_of(residents: u32) -> (TestEnv, Server, gw_store::Store, i64, i64, String) {
    let env = TestEnv::new().await;
    let n = residents.to_string();
    env.cli_ok(&["demo", "--residents", &n, "--seed", "5", "--no-serve"]);
    let pw = env.account("chief", "street_commander", &["--street", "鸿城街道"]);
    let mut srv = env.serve();
    srv.token = Some(srv.login("chief", &pw));
    let store = env.store().await;
    let street = store.streets().await.unwrap()[0].id;
    let community = store.communities(None, Some(street)).await.unwrap()[0].id;
    let (round, _) = open_round(|p, b| srv.post(p, b), &round_body(street, "排班第2轮"));
    (env, srv, store, street, community, round)
}

/// Scans `n` codes at `station` into a new tube of `point`, evenly from
/// `from_min` to `to_min` minutes after `t0`.
#[allow(clippy::too_many_arguments)]
fn scan_run(
    srv: &Server,
    point: &str,
    barcode: &str,
    codes: &[(String, String)],
    station: &str,
    t0: i64,
    from_min: f64,
    to_min: f64,
) {
    let tube = srv.post(
        &format!("/api/v1/points/{point}/tubes"),
        &json!({ "barcode": barcode }),
    );
    assert_eq!(tube.status, 201, "{}", tube.body);
    let tube = tube.json()["id"].as_str().unwrap().to_string();
    let n = codes.len();
    for (i, (_, code)) in codes.iter().enumerate() {
        let at = if n > 1 {
            from_min + (to_min - from_min) * i as f64 / (n - 1) as f64
        } else {
            from_min
        };
        let s = srv.post(
            &format!("/api/v1/tubes/{tube}/scans"),
            &json!({ "client_id": format!("{barcode}-{i}"), "code": code, "station": station,
                     "scanned_ms": t0 + (at * MINUTE_MS as f64) as i64 }),
        );
        assert_eq!(s.status, 200, "{}", s.body);
    }
}

/// A point of two stations, each swabbing 46 an hour, with a third station
/// id that scanned once (a phone re-enrolled): its pace is 46, not the hour's
/// scans over three stations (about 21). The re-plan it refuses names the
/// point and how many people do not fit there, and the stations it advises,
/// once added, are planned at that pace: the re-plan goes through.
#[tokio::test]
async fn a_points_pace_is_per_station_and_the_stations_advised_are_counted_at_it() {
    let (_env, srv, store, street, community, round) = street_and_round().await;
    let rk: Key = round.parse().unwrap();
    let now = Clock::System.now_ms();
    let p = srv.post(
        &format!("/api/v1/rounds/{round}/points"),
        &json!({ "name": "百合小区南门", "community": format!("{street}-{community}"), "stations": 2,
                 "opens_ms": now - HOUR, "closes_ms": now + 10 * HOUR, "rate_per_station_h": 100 }),
    );
    assert_eq!(p.status, 201, "{}", p.body);
    let point = p.json()["id"].as_str().unwrap().to_string();
    let first = gw_app::schedule::plan_as(
        &store,
        &Clock::fixed(now),
        "test:plan",
        rk,
        Default::default(),
    )
    .await
    .unwrap();
    assert_eq!(first.revision, Some(1));
    let anchor = store
        .schedule_plan(street, rk.id)
        .await
        .unwrap()
        .unwrap()
        .anchor_ms;
    let codes = residents_with_codes(|p| srv.get(p), "limit=49");
    assert_eq!(codes.len(), 49);
    scan_run(
        &srv,
        &point,
        "SC100001",
        &codes[..24],
        "A",
        anchor,
        10.0,
        40.0,
    );
    scan_run(
        &srv,
        &point,
        "SC100002",
        &codes[24..48],
        "B",
        anchor,
        20.0,
        50.0,
    );
    scan_run(
        &srv,
        &point,
        "SC100003",
        &codes[48..],
        "C",
        anchor,
        55.0,
        55.0,
    );

    let later = Clock::fixed(anchor + 56 * MINUTE_MS);
    let view = gw_app::schedule::view_as(&store, &later, rk, &|_| true)
        .await
        .unwrap();
    let info = view.points.iter().find(|p| p.id == point).unwrap();
    let pace = info.measured_rate.unwrap();
    assert!((pace - 46.0).abs() < 0.5, "{info:?}");

    // Two stations at 46 an hour cannot swab the rest by the close.
    let refused = gw_app::schedule::plan_as(&store, &later, "test:replan", rk, Default::default())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("排不下的人按最近的采样点：百合小区南门 ")
            && refused.contains("who does not fit, by nearest point: 百合小区南门 "),
        "{refused}"
    );
    assert!(refused.contains("按 46 人排"), "{refused}");
    let k: u32 = refused
        .split("增加 ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("stations advised in {refused}"));
    // The advice, taken: the re-plan counts each added station at 46.
    let set = srv.post(
        &format!("/api/v1/points/{point}"),
        &json!({ "stations": 2 + k }),
    );
    assert_eq!(set.status, 200, "{}", set.body);
    let v = gw_app::schedule::plan_as(&store, &later, "test:replan", rk, Default::default())
        .await
        .unwrap_or_else(|e| panic!("{k} more station(s) were advised: {e}"));
    assert_eq!(v.revision, Some(2));
    let info = v.points.iter().find(|p| p.id == point).unwrap();
    assert!((info.planning_rate - 46.0).abs() < 0.5, "{info:?}");
    assert_eq!(info.stations, 2 + k);
    let _: Value = serde_json::to_value(&v).unwrap();
}

/// The slot starts of a stored plan, in order.
fn slot_starts(v: &Value) -> Vec<i64> {
    let mut out: Vec<i64> = v["call_down"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["starts_ms"].as_i64().unwrap())
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Pushing from the command line takes the next slot not pushed yet; a slot
/// that is not one lists the slots there are; a slot pushed before says how
/// to push it again (`--again`). A point's hours cut into a pushed slot:
/// the change warns; the schedule (API, page, CLI) says the stored plan no
/// longer fits the points' hours, and a push of a slot its point is closed
/// for is refused. A pushed slot says when (date and time) and who pushed
/// it, by their name, on the page and in the API.
#[tokio::test]
async fn a_push_is_refused_for_a_point_closed_then_and_says_when_and_who() {
    let (env, mut srv, _store, street, community, round) = street_and_round().await;
    // A commander with a name people know.
    let out = env.cli_ok(&["user", "add", "wang", "--name", "王主任"]);
    let pw = out
        .split("one-time password: ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap()
        .to_string();
    env.cli_ok(&[
        "user",
        "grant",
        "wang",
        "--role",
        "street_commander",
        "--street",
        "鸿城街道",
    ]);
    srv.token = Some(srv.login("wang", &pw));
    let now = Clock::System.now_ms();
    let p = srv.post(
        &format!("/api/v1/rounds/{round}/points"),
        &json!({ "name": "百合小区南门", "community": format!("{street}-{community}"), "stations": 3,
                 "opens_ms": now - HOUR, "closes_ms": now + 10 * HOUR }),
    );
    assert_eq!(p.status, 201, "{}", p.body);
    let point = p.json()["id"].as_str().unwrap().to_string();
    let p2 = srv.post(
        &format!("/api/v1/rounds/{round}/points"),
        &json!({ "name": "达兴社区广场", "community": format!("{street}-{community}"), "stations": 2 }),
    );
    assert_eq!(p2.status, 201, "{}", p2.body);
    let point2 = p2.json()["id"].as_str().unwrap().to_string();
    // Default hours are said as the round's window, not dashes.
    let set = env.cli_ok(&["round", "point-set", &point2, "--stations", "3"]);
    assert!(set.contains("按轮次时间") && !set.contains("—"), "{set}");

    let planned = srv.post(&format!("/api/v1/rounds/{round}/schedule"), &json!({}));
    assert_eq!(planned.status, 200, "{}", planned.body);
    let starts = slot_starts(&planned.json());
    assert!(starts.len() >= 4, "{starts:?}");
    let ch = srv.post(
        &format!("/api/v1/streets/{street}/alert-channels"),
        &json!({ "kind": "json", "url": "http://127.0.0.1:9/hook" }),
    );
    assert!(ch.status == 200 || ch.status == 201, "{}", ch.body);

    // The next slot, pushed from the API; then from the command line
    // without --starts: the next one not pushed yet (not a 409).
    let first = srv.post(&format!("/api/v1/rounds/{round}/schedule/push"), &json!({}));
    assert_eq!(first.status, 200, "{}", first.body);
    env.cli_ok(&["round", "push", &round]);
    let v = srv.get(&format!("/api/v1/rounds/{round}/schedule")).json();
    let pushed: Vec<i64> = v["pushes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["slot_ms"].as_i64().unwrap())
        .collect();
    assert_eq!(pushed, starts[..2].to_vec(), "{}", v["pushes"]);
    // Who and when, in the API: the account's name.
    assert_eq!(v["pushes"][0]["by"], "王主任", "{}", v["pushes"]);
    assert_eq!(v["pushes"][1]["actor"], "cli:root", "{}", v["pushes"]);
    assert_eq!(
        v["pushes"][1]["by"], "命令行操作员（cli:root）/ command line (cli:root)",
        "{}",
        v["pushes"]
    );
    assert!(v["pushes"][0]["at_ms"].as_i64().unwrap() >= now);
    // A time no slot starts at: the slots there are.
    let clock_text = gw_domain::notify::clock_text;
    let wrong = env.cli(&[
        "round",
        "push",
        &round,
        "--starts",
        &clock_text(starts[2] + 7 * MINUTE_MS),
    ]);
    assert!(!wrong.status.success());
    let said = String::from_utf8_lossy(&wrong.stderr);
    assert!(
        said.contains(&clock_text(starts[2])) && said.contains(&clock_text(starts[3])),
        "{said}"
    );
    // Pushed before: the flag to use is named.
    let twice = env.cli(&["round", "push", &round, "--starts", &clock_text(starts[0])]);
    assert!(!twice.status.success());
    let said = String::from_utf8_lossy(&twice.stderr);
    assert!(said.contains("--again"), "{said}");

    // The point now closes ten minutes into the second slot: a pushed slot
    // is cut, and the change warns.
    let cut = env.cli(&[
        "round",
        "point-set",
        &point,
        "--closes",
        &clock_text(starts[1] + 10 * MINUTE_MS),
    ]);
    assert!(cut.status.success(), "{cut:?}");
    let warned = String::from_utf8_lossy(&cut.stderr);
    assert!(
        warned.contains("已推送") && warned.contains("plan again"),
        "{warned}"
    );
    // The schedule says the stored plan no longer fits the points' hours.
    let v = srv.get(&format!("/api/v1/rounds/{round}/schedule")).json();
    let ooh = v["out_of_hours"].as_array().unwrap();
    assert!(
        ooh.iter().any(|o| o["point"] == point.as_str()
            && o["starts_ms"] == starts[1]
            && o["pushed"] == true),
        "{ooh:?}"
    );
    assert!(
        ooh.iter().any(|o| o["point"] == point.as_str()
            && o["starts_ms"] == starts[2]
            && o["pushed"] == false),
        "{ooh:?}"
    );
    let page = srv.get(&format!("/rounds/{round}/schedule"));
    assert!(
        page.body.contains(r#"id="out-of-hours""#) && page.body.contains("不再相符"),
        "{}",
        page.body
    );
    // The pushed slot: date and time, and the name, in order.
    let pushed_li = page
        .body
        .split(r#"<ul class="pushed"><li>"#)
        .nth(1)
        .unwrap();
    let pushed_li = &pushed_li[..pushed_li.find("</li>").unwrap()];
    let at = v["pushes"][0]["at_ms"].as_i64().unwrap();
    assert!(
        pushed_li.starts_with(&format!("{} 由 王主任 推送（", clock_text(at))),
        "{pushed_li}"
    );
    let cli = env.cli_ok(&["round", "simulate", "--round", &round]);
    assert!(cli.contains("no longer fits the points' hours"), "{cli}");
    assert!(cli.contains("由 by 王主任"), "{cli}");
    // A push of a slot the point is closed for: refused, nothing queued.
    let refused = srv.post(
        &format!("/api/v1/rounds/{round}/schedule/push"),
        &json!({ "starts_ms": starts[2] }),
    );
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(
        refused.body.contains("百合小区南门")
            && refused.body.contains("不开放")
            && refused.body.contains("not open"),
        "{}",
        refused.body
    );
    let v = srv.get(&format!("/api/v1/rounds/{round}/schedule")).json();
    assert_eq!(v["pushes"].as_array().unwrap().len(), 2);
}

/// A building sent to another community's point (its own has no room) is
/// flagged in the API, on the page, in the CLI and in the call-down message:
/// its residents must know it is not their usual point.
#[tokio::test]
async fn a_call_to_another_communitys_point_is_said_where_it_is_read() {
    let (env, srv, store, street, community, round) = street_of(6000).await;
    let communities = store.communities(None, Some(street)).await.unwrap();
    let other = communities.iter().find(|c| c.id != community).unwrap().id;
    let now = Clock::System.now_ms();
    for (name, c, stations) in [("本社区点", community, 8), ("外社区点", other, 20)] {
        let p = srv.post(
            &format!("/api/v1/rounds/{round}/points"),
            &json!({ "name": name, "community": format!("{street}-{c}"), "stations": stations,
                     "opens_ms": now - HOUR, "closes_ms": now + 4 * HOUR }),
        );
        assert_eq!(p.status, 201, "{}", p.body);
    }
    let v = srv.post(&format!("/api/v1/rounds/{round}/schedule"), &json!({}));
    assert_eq!(v.status, 200, "{}", v.body);
    let v = v.json();
    let away: Vec<&Value> = v["plan"]["points"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["slots"].as_array().unwrap())
        .flat_map(|s| s["calls"].as_array().unwrap())
        .filter(|c| c["away"]["other_community"] == true)
        .collect();
    assert!(!away.is_empty(), "{}", v["plan"]);
    let texts: Vec<&str> = v["call_down"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["text"].as_str().unwrap())
        .collect();
    assert!(
        texts
            .iter()
            .any(|t| t.contains("本次请到外社区点（其他社区的采样点")
                && t.contains("不是平常的采样点")),
        "{texts:?}"
    );
    assert!(texts.iter().all(|t| !t.contains("本次请到本社区点")));
    let page = srv.get(&format!("/rounds/{round}/schedule"));
    assert!(page.body.contains(r#"class="tag away""#) && page.body.contains("其他社区的采样点"));
    // On a phone each slot is a card, and each slot's first row is where a
    // push returns to.
    assert!(page
        .body
        .contains("@media screen and (max-width:640px){#calldown thead{display:none}"));
    let first = v["call_down"][0]["starts_ms"].as_i64().unwrap();
    assert!(
        page.body
            .contains(&format!(r#"<tr id="slot-{}">"#, first / MINUTE_MS)),
        "{}",
        page.body
    );
    let cli = env.cli_ok(&["round", "simulate", "--round", &round]);
    assert!(cli.contains("[!其他社区的采样点"), "{cli}");
}

/// The plan bounds the expected longest queue; the simulation's longest can
/// go past it, and the page and `round simulate` say so.
#[tokio::test]
async fn a_simulated_queue_past_the_bound_is_said() {
    let (env, srv, _store, street, community, round) = street_and_round().await;
    let now = Clock::System.now_ms();
    let p = srv.post(
        &format!("/api/v1/rounds/{round}/points"),
        &json!({ "name": "路口点", "community": format!("{street}-{community}"), "stations": 3,
                 "opens_ms": now - HOUR, "closes_ms": now + 20 * HOUR }),
    );
    assert_eq!(p.status, 201, "{}", p.body);
    let v = srv.post(&format!("/api/v1/rounds/{round}/schedule"), &json!({}));
    assert_eq!(v.status, 200, "{}", v.body);
    // Two of its three stations are taken away after planning: the stored
    // plan's queues now run long.
    let point = p.json()["id"].as_str().unwrap().to_string();
    env.cli_ok(&["round", "point-set", &point, "--stations", "1"]);
    let v = srv.get(&format!("/api/v1/rounds/{round}/schedule")).json();
    let longest = v["simulation"]["plan"]["overall"]["max_queue"]
        .as_i64()
        .unwrap();
    assert!(longest > 30, "{}", v["simulation"]);
    let page = srv.get(&format!("/rounds/{round}/schedule"));
    assert!(
        page.body.contains(r#"id="sim-over-bound""#)
            && page.body.contains(&format!("路口点 最长 {longest} 人")),
        "{}",
        page.body
    );
    let cli = env.cli_ok(&["round", "simulate", "--round", &round]);
    assert!(
        cli.contains(&format!(
            "路口点 模拟最长排队 {longest} 人，超过排队上限 30 人"
        )),
        "{cli}"
    );
}
