//! The planner's evening and first hour, as a reviewer lived it: a refused
//! re-plan's station advice, once followed, plans at the same moment; a
//! point with people waiting and no scans is planned as stalled, not at its
//! configured rate; a controlled building (管控区) is called only inside its
//! compound, else sampled at the door and said; a point's staff are told
//! the true door-to-door count; a pushed slot over the bound is told what
//! can still be done about it.

use std::collections::BTreeSet;

use gw_app::Clock;
use gw_domain::ids::Key;
use gw_domain::schedule::MINUTE_MS;
use serde_json::{json, Value};

use crate::harness::{open_round, residents_with_codes, round_body, Server, TestEnv};

const HOUR: i64 = 3_600_000;

/// A demo street of 1,500 and its commander logged in, with an open round:
/// the env, server, store, street, first community and round.
pub(crate) async fn street_and_round() -> (TestEnv, Server, gw_store::Store, i64, i64, String) {
    let env = TestEnv::new().await;
    env.cli_ok(&["demo", "--residents", "1500", "--seed", "5", "--no-serve"]);
    let pw = env.account("chief", "street_commander", &["--street", "鸿城街道"]);
    let mut srv = env.serve();
    srv.token = Some(srv.login("chief", &pw));
    let store = env.store().await;
    let street = store.streets().await.unwrap()[0].id;
    let community = store.communities(None, Some(street)).await.unwrap()[0].id;
    let (round, _) = open_round(|p, b| srv.post(p, b), &round_body(street, "排班复核轮"));
    (env, srv, store, street, community, round)
}

pub(crate) fn add_point(srv: &Server, round: &str, body: Value) -> String {
    let p = srv.post(&format!("/api/v1/rounds/{round}/points"), &body);
    assert_eq!(p.status, 201, "{}", p.body);
    p.json()["id"].as_str().unwrap().to_string()
}

/// `n` scans at `point`, the i-th at `at(i)`, named to `station(i)`.
fn scans(
    srv: &Server,
    point: &str,
    barcode: &str,
    n: usize,
    at: impl Fn(usize) -> i64,
    station: impl Fn(usize) -> &'static str,
) {
    let tube = srv.post(
        &format!("/api/v1/points/{point}/tubes"),
        &json!({ "barcode": barcode }),
    );
    assert_eq!(tube.status, 201, "{}", tube.body);
    let tube = tube.json()["id"].as_str().unwrap().to_string();
    for (i, (_, code)) in residents_with_codes(|p| srv.get(p), &format!("limit={n}"))
        .into_iter()
        .enumerate()
    {
        let mut body =
            json!({ "client_id": format!("{barcode}-{i}"), "code": code, "scanned_ms": at(i) });
        let st = station(i);
        if !st.is_empty() {
            body["station"] = json!(st);
        }
        let s = srv.post(&format!("/api/v1/tubes/{tube}/scans"), &body);
        assert_eq!(s.status, 200, "{}", s.body);
    }
}

/// The stations a refusal advises adding, if any.
fn advised(msg: &str) -> Option<u32> {
    let zh = msg.split(" / ").next().unwrap();
    for key in ["各增加 ", "每个采样点增加 "] {
        if let Some(rest) = zh.split(key).nth(1) {
            return rest.split(' ').next().and_then(|n| n.parse().ok());
        }
    }
    None
}

/// A point runs slow; the re-plan is refused with stations to add. The
/// organiser adds exactly those, and the same re-plan at the same moment
/// plans. Both with scans each naming its station and with scans naming
/// none (then the point's throughput is spread over its stations: an added
/// station adds nothing to it, and no station count may be advised that
/// would not plan).
#[tokio::test]
async fn the_stations_a_refused_replan_advises_make_it_plan() {
    for named in [true, false] {
        let (_env, srv, store, street, community, round) = street_and_round().await;
        let rk: Key = round.parse().unwrap();
        let now = Clock::System.now_ms();
        let point = add_point(
            &srv,
            &round,
            json!({ "name": "百合小区南门", "community": format!("{street}-{community}"), "stations": 2,
                    "opens_ms": now - 3 * HOUR, "closes_ms": now + 10 * HOUR }),
        );
        gw_app::schedule::plan_as(
            &store,
            &Clock::fixed(now - 50 * MINUTE_MS),
            "test:plan",
            rk,
            Default::default(),
        )
        .await
        .unwrap();
        let anchor = store
            .schedule_plan(street, rk.id)
            .await
            .unwrap()
            .unwrap()
            .anchor_ms;
        // 40 swabs over 40 minutes at two stations: 30 an hour each, not 100.
        scans(
            &srv,
            &point,
            if named { "SA000001" } else { "SB000001" },
            40,
            |i| anchor + 2 * MINUTE_MS + (i as i64 / 2) * 2 * MINUTE_MS,
            |i| match (named, i % 2) {
                (false, _) => "",
                (true, 0) => "A",
                (true, _) => "B",
            },
        );
        // It closes in four hours: the rest do not fit.
        let r = srv.post(
            &format!("/api/v1/points/{point}"),
            &json!({ "closes_ms": now + 4 * HOUR }),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        let at = Clock::fixed(now);
        let refused = gw_app::schedule::plan_as(&store, &at, "test:replan", rk, Default::default())
            .await
            .unwrap_err()
            .to_string();
        assert!(refused.contains("时间窗内排不下"), "{refused}");
        let Some(k) = advised(&refused) else {
            assert!(!named, "named stations: stations advised: {refused}");
            continue;
        };
        let r = srv.post(
            &format!("/api/v1/points/{point}"),
            &json!({ "stations": 2 + k }),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        let again =
            gw_app::schedule::plan_as(&store, &at, "test:replan", rk, Default::default()).await;
        assert!(
            again.is_ok(),
            "named {named}: {k} more stations as advised ({refused}), refused again: {}",
            again.err().map(|e| e.to_string()).unwrap_or_default()
        );
    }
}

/// Two points called 20 minutes ago: one has scanned nobody. It is
/// stalled, red on the page, and planned at what it scanned (the floor),
/// not at its configured 100 an hour; the other, with too little time for
/// evidence either way, keeps "too few scans".
#[tokio::test]
async fn a_point_with_people_waiting_and_no_scans_is_planned_as_stalled() {
    let (_env, srv, store, street, community, round) = street_and_round().await;
    let rk: Key = round.parse().unwrap();
    let now = Clock::System.now_ms();
    let p = add_point(
        &srv,
        &round,
        json!({ "name": "百合小区南门", "community": format!("{street}-{community}"), "stations": 4,
                "opens_ms": now - 3 * HOUR, "closes_ms": now + 10 * HOUR }),
    );
    gw_app::schedule::plan_as(
        &store,
        &Clock::fixed(now - 20 * MINUTE_MS),
        "test:plan",
        rk,
        Default::default(),
    )
    .await
    .unwrap();
    let v = gw_app::schedule::view_as(&store, &Clock::fixed(now), rk, &|_| true)
        .await
        .unwrap();
    let info = v.points.iter().find(|i| i.id == p).unwrap();
    assert!(info.backlog >= 10, "{info:?}");
    assert!(info.stalled, "{info:?}");
    assert_eq!(
        info.measured_rate,
        Some(gw_domain::schedule::STALL_FLOOR_PER_STATION_H)
    );
    assert_eq!(
        info.planning_rate,
        gw_domain::schedule::STALL_FLOOR_PER_STATION_H
    );
    // The page marks it red and says why (the server reads the clock now).
    let page = srv.get(&format!("/rounds/{round}/schedule"));
    assert!(
        page.body
            .contains(r#"<tr class="bad"><td>百合小区南门</td>"#)
            && page.body.contains("（停滞：0 次扫码，已叫未采"),
        "{}",
        page.body
    );
    // Ten minutes in, it is too soon to say.
    let early =
        gw_app::schedule::view_as(&store, &Clock::fixed(now - 10 * MINUTE_MS), rk, &|_| true)
            .await
            .unwrap();
    let info = early.points.iter().find(|i| i.id == p).unwrap();
    assert!(!info.stalled && info.measured_rate.is_none(), "{info:?}");
    assert_eq!(info.planning_rate, 100.0);
}

/// A controlled building (管控区: 人不出小区) is not called to a point outside
/// its compound: with no point inside, it is on the door-to-door list and
/// the plan says so; with one, it goes only there.
#[tokio::test]
async fn a_controlled_building_is_called_only_inside_its_compound() {
    let (_env, srv, store, street, community, round) = street_and_round().await;
    let rk: Key = round.parse().unwrap();
    let homebound = i64::from(gw_domain::resident::Flag::CannotGoDownstairs.bit());
    let rows = store
        .schedule_households(street, rk.id, homebound)
        .await
        .unwrap();
    let target = rows
        .iter()
        .find(|h| h.community_id == community && h.people > 0)
        .unwrap()
        .clone();
    let r = srv.post("/api/v1/control", &json!({ "target_kind": "building", "target_id": format!("{street}-{}", target.building_id), "status": "controlled", "reason": "排班测试" }));
    assert!(r.status == 200 || r.status == 201, "{}", r.body);
    let now = Clock::System.now_ms();
    let (x, y) = (target.x_m.unwrap(), target.y_m.unwrap());
    add_point(
        &srv,
        &round,
        json!({ "name": "街面点", "community": format!("{street}-{community}"), "stations": 20,
                "x_m": x + 30, "y_m": y, "opens_ms": now - HOUR, "closes_ms": now + 12 * HOUR }),
    );
    let v = srv.post(&format!("/api/v1/rounds/{round}/schedule"), &json!({}));
    assert_eq!(v.status, 200, "{}", v.body);
    let v = v.json();
    let called = |v: &Value| -> BTreeSet<(i64, i64)> {
        v["plan"]["points"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|p| {
                let id = p["point_id"].as_i64().unwrap();
                p["slots"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .flat_map(|s| s["calls"].as_array().unwrap().iter())
                    .map(move |c| (c["building_id"].as_i64().unwrap(), id))
            })
            .collect()
    };
    assert!(
        !called(&v).iter().any(|c| c.0 == target.building_id),
        "{}",
        v["plan"]
    );
    let d2d = v["plan"]["door_to_door"].as_array().unwrap();
    assert!(
        d2d.iter().any(|d| d["building_id"] == target.building_id
            && d["status"] == "controlled"
            && d["unit_id"].is_null()),
        "{d2d:?}"
    );
    let warnings = v["plan"]["warnings"].as_array().unwrap();
    assert!(
        warnings.iter().any(|w| {
            let w = w.as_str().unwrap();
            w.starts_with(&target.building)
                && w.contains("属管控区（人不出小区")
                && w.contains("请在小区内设采样点，或入户采样")
        }),
        "{warnings:?}"
    );
    let page = srv.get(&format!("/rounds/{round}/schedule"));
    assert!(
        page.body.contains(r#"id="confined""#) && page.body.contains("属管控区（人不出小区"),
        "{}",
        page.body
    );
    // A point inside its compound: the building goes there, nowhere else.
    let inside = add_point(
        &srv,
        &round,
        json!({ "name": "小区内点", "community": format!("{street}-{community}"), "stations": 4,
                "compound": format!("{street}-{}", target.compound_id), "x_m": x, "y_m": y + 200,
                "opens_ms": now - HOUR, "closes_ms": now + 12 * HOUR }),
    );
    let inside: Key = inside.parse().unwrap();
    let v = srv.post(&format!("/api/v1/rounds/{round}/schedule"), &json!({}));
    assert_eq!(v.status, 200, "{}", v.body);
    let v = v.json();
    let at: Vec<i64> = called(&v)
        .into_iter()
        .filter(|c| c.0 == target.building_id)
        .map(|c| c.1)
        .collect();
    assert!(
        !at.is_empty() && at.iter().all(|p| *p == inside.id),
        "{at:?}"
    );
    assert!(v["plan"]["warnings"].as_array().unwrap().is_empty());
}

/// A point's manager does not read the door-to-door list (it names held
/// households), but the schedule's count of it is true for their point.
#[tokio::test]
async fn a_point_manager_is_told_the_true_door_to_door_count() {
    let (env, srv, store, street, community, round) = street_and_round().await;
    let rk: Key = round.parse().unwrap();
    let homebound = i64::from(gw_domain::resident::Flag::CannotGoDownstairs.bit());
    let rows = store
        .schedule_households(street, rk.id, homebound)
        .await
        .unwrap();
    let mine: Vec<_> = rows
        .iter()
        .filter(|h| h.community_id == community && h.people > 0)
        .take(2)
        .cloned()
        .collect();
    for h in &mine {
        let r = srv.post("/api/v1/control", &json!({ "target_kind": "household", "target_id": format!("{street}-{}", h.household_id), "status": "temporary", "reason": "排班测试" }));
        assert!(r.status == 200 || r.status == 201, "{}", r.body);
    }
    let now = Clock::System.now_ms();
    let point = add_point(
        &srv,
        &round,
        json!({ "name": "社区点", "community": format!("{street}-{community}"), "stations": 10,
                "opens_ms": now - HOUR, "closes_ms": now + 12 * HOUR }),
    );
    let v = srv.post(&format!("/api/v1/rounds/{round}/schedule"), &json!({}));
    assert_eq!(v.status, 200, "{}", v.body);
    let all = v.json()["plan"]["door_to_door"].as_array().unwrap().clone();
    let in_community = all
        .iter()
        .filter(|d| {
            rows.iter().any(|h| {
                h.building_id == d["building_id"].as_i64().unwrap() && h.community_id == community
            })
        })
        .count();
    assert!(in_community >= 2, "{all:?}");
    let pw = env.account("pm", "point_manager", &["--point", &point]);
    let pm = srv.login("pm", &pw);
    let mine = srv
        .with_token(&pm)
        .get(&format!("/api/v1/rounds/{round}/schedule"));
    assert_eq!(mine.status, 200, "{}", mine.body);
    let mine = mine.json();
    assert!(mine["plan"]["door_to_door"].as_array().unwrap().is_empty());
    assert_eq!(mine["door_to_door_count"], in_community as u64);
    let page = srv
        .with_token(&pm)
        .get(&format!("/rounds/{round}/schedule"));
    assert!(
        page.body
            .contains(&format!("{in_community} 处管控楼栋或住户入户采样")),
        "{}",
        page.body
    );
}

/// A slot pushed, then the point loses stations: its expected queue passes
/// the bound. The schedule says a re-plan does not change it (its people
/// were told): add stations now or tell the groups of the delay, not
/// "lower the bound and plan again".
#[tokio::test]
async fn a_pushed_slot_over_the_bound_is_told_what_can_still_be_done() {
    let (env, srv, _store, street, community, round) = street_and_round().await;
    let now = Clock::System.now_ms();
    let point = add_point(
        &srv,
        &round,
        json!({ "name": "百合小区南门", "community": format!("{street}-{community}"), "stations": 8,
                "opens_ms": now - HOUR, "closes_ms": now + 12 * HOUR }),
    );
    let v = srv.post(&format!("/api/v1/rounds/{round}/schedule"), &json!({}));
    assert_eq!(v.status, 200, "{}", v.body);
    let ch = srv.post(
        &format!("/api/v1/streets/{street}/alert-channels"),
        &json!({ "kind": "json", "url": "http://127.0.0.1:9/hook" }),
    );
    assert!(ch.status == 200 || ch.status == 201, "{}", ch.body);
    let pushed = srv.post(&format!("/api/v1/rounds/{round}/schedule/push"), &json!({}));
    assert_eq!(pushed.status, 200, "{}", pushed.body);
    let r = srv.post(
        &format!("/api/v1/points/{point}"),
        &json!({ "stations": 1 }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let v = srv.get(&format!("/api/v1/rounds/{round}/schedule")).json();
    let told = v["told_over_bound"].as_array().unwrap();
    assert!(!told.is_empty(), "{v}");
    assert_eq!(told[0]["pushed"], true, "{told:?}");
    let page = srv.get(&format!("/rounds/{round}/schedule"));
    assert!(
        page.body.contains(r#"id="told-over-bound""#)
            && page.body.contains("居民已被通知，重新排班不会改动这一时段：请立即在该点加采样台，或通知相关群延迟下楼"),
        "{}",
        page.body
    );
    let cli = env.cli_ok(&["round", "simulate", "--round", &round]);
    assert!(cli.contains("重排改不了"), "{cli}");
}
