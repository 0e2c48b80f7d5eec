//! A re-plan when the point a building began at has closed: the rest of the
//! building goes to a point still open, and the schedule (API, page, CLI)
//! says which building, which units, from where to where and why. A call-down
//! pushed from the command line names its pusher as people read it.

use std::collections::BTreeSet;

use gw_app::Clock;
use gw_domain::ids::Key;
use gw_domain::schedule::{hhmm, next_slot_start, MINUTE_MS};
use serde_json::{json, Value};

use crate::harness::{open_round, round_body, Server, TestEnv};

const HOUR: i64 = 3_600_000;

/// A demo street of 1,500, its commander logged in over HTTP, and an open
/// round: the server, the store, the street, its first community and the round.
async fn street_and_round() -> (TestEnv, Server, gw_store::Store, i64, i64, String) {
    let env = TestEnv::new().await;
    env.cli_ok(&["demo", "--residents", "1500", "--seed", "5", "--no-serve"]);
    let pw = env.account("chief", "street_commander", &["--street", "鸿城街道"]);
    let mut srv = env.serve();
    srv.token = Some(srv.login("chief", &pw));
    let store = env.store().await;
    let street = store.streets().await.unwrap()[0].id;
    let community = store.communities(None, Some(street)).await.unwrap()[0].id;
    let (round, _) = open_round(|p, b| srv.post(p, b), &round_body(street, "改点第1轮"));
    (env, srv, store, street, community, round)
}

fn add_point(srv: &Server, round: &str, body: Value) -> String {
    let p = srv.post(&format!("/api/v1/rounds/{round}/points"), &body);
    assert_eq!(p.status, 201, "{}", p.body);
    p.json()["id"].as_str().unwrap().to_string()
}

/// Planned 50 minutes ago at one point: two slots have begun there. The
/// point then closes for the day and another opens. The re-plan (over the
/// API, now) is not refused: the buildings begun at the closed point have
/// their other units called at the open one, and the plan, the page and
/// `round simulate` say which building, which units, from which point to
/// which and why.
#[tokio::test]
async fn a_building_begun_at_a_point_now_closed_goes_on_to_an_open_one_and_it_is_said() {
    let (env, srv, store, street, community, round) = street_and_round().await;
    let rk: Key = round.parse().unwrap();
    let now = Clock::System.now_ms();
    let first = add_point(
        &srv,
        &round,
        json!({ "name": "百合小区南门", "community": format!("{street}-{community}"), "stations": 3,
                "opens_ms": now - 3 * HOUR, "closes_ms": now + 10 * HOUR }),
    );
    let first_id = first.parse::<Key>().unwrap().id;
    gw_app::schedule::plan_as(
        &store,
        &Clock::fixed(now - 50 * MINUTE_MS),
        "test:plan",
        rk,
        Default::default(),
    )
    .await
    .unwrap();
    let stored = store.schedule_plan(street, rk.id).await.unwrap().unwrap();
    let cut = next_slot_start(stored.anchor_ms, stored.slot_ms, now);
    let calls = store.schedule_calls(street, rk.id).await.unwrap();
    // The buildings begun before the cut with units still to call after it,
    // and those units.
    let begun: BTreeSet<i64> = calls
        .iter()
        .filter(|c| c.starts_ms < cut)
        .map(|c| c.building_id)
        .collect();
    let rest: BTreeSet<(i64, i64)> = calls
        .iter()
        .filter(|c| c.starts_ms >= cut && begun.contains(&c.building_id))
        .map(|c| (c.building_id, c.unit_id))
        .collect();
    assert!(!rest.is_empty(), "no building is partly called: {calls:?}");
    assert!(calls.iter().all(|c| c.point_id == first_id));

    // The point closes for the day now; another opens with room.
    let closed = srv.post(
        &format!("/api/v1/points/{first}"),
        &json!({ "closes_ms": now }),
    );
    assert_eq!(closed.status, 200, "{}", closed.body);
    let second = add_point(
        &srv,
        &round,
        json!({ "name": "达兴社区广场", "community": format!("{street}-{community}"), "stations": 20,
                "opens_ms": now - HOUR, "closes_ms": now + 10 * HOUR }),
    );
    let second_id = second.parse::<Key>().unwrap().id;

    let v = srv.post(&format!("/api/v1/rounds/{round}/schedule"), &json!({}));
    assert_eq!(v.status, 200, "the re-plan was refused: {}", v.body);
    let v = v.json();
    let moved = v["plan"]["moved"].as_array().unwrap();
    let said: BTreeSet<(i64, i64)> = moved
        .iter()
        .flat_map(|m| {
            let b = m["building_id"].as_i64().unwrap();
            m["unit_ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(move |u| (b, u.as_i64().unwrap()))
        })
        .collect();
    assert_eq!(said, rest, "{moved:?}");
    let closed_at = hhmm(now);
    for m in moved {
        assert_eq!(m["from_point_id"], first_id);
        assert_eq!(m["to_point_id"], second_id);
        let units: Vec<&str> = m["units"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u.as_str().unwrap())
            .collect();
        let text = m["text"].as_str().unwrap();
        assert!(
            text.starts_with(&format!(
                "{} {}单元原在「百合小区南门」采样，该点 {closed_at} 已关闭，改到「达兴社区广场」 / ",
                m["building"].as_str().unwrap(),
                units.join("、")
            )),
            "{text}"
        );
    }
    // Every remaining unit is called at the open point, from the cut on.
    let after = store.schedule_calls(street, rk.id).await.unwrap();
    for c in after.iter().filter(|c| c.starts_ms >= cut) {
        assert_eq!(c.point_id, second_id, "{c:?}");
    }
    // The call-down tells them where to go now.
    let told = v["call_down"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| {
            c["text"]
                .as_str()
                .unwrap()
                .contains("本次请到达兴社区广场，不是本楼先前去的「百合小区南门」")
        })
        .count();
    assert!(told > 0, "{}", v["call_down"]);
    let text = moved[0]["text"].as_str().unwrap();
    let zh = text.split(" / ").next().unwrap();
    let page = srv.get(&format!("/rounds/{round}/schedule"));
    assert!(
        page.body.contains(r#"id="moved""#) && page.body.contains(zh),
        "{}",
        page.body
    );
    let cli = env.cli_ok(&["round", "simulate", "--round", &round]);
    assert!(cli.contains(text), "{cli}");
}

/// A call-down pushed from the command line shows its pusher as people read
/// it (the command line's operator), in the API, on the page and in the
/// CLI; the API keeps the audit id.
#[tokio::test]
async fn a_push_from_the_command_line_names_the_command_line() {
    let (env, srv, _store, street, community, round) = street_and_round().await;
    let now = Clock::System.now_ms();
    add_point(
        &srv,
        &round,
        json!({ "name": "路口点", "community": format!("{street}-{community}"), "stations": 4,
                "opens_ms": now - HOUR, "closes_ms": now + 10 * HOUR }),
    );
    let planned = srv.post(&format!("/api/v1/rounds/{round}/schedule"), &json!({}));
    assert_eq!(planned.status, 200, "{}", planned.body);
    let ch = srv.post(
        &format!("/api/v1/streets/{street}/alert-channels"),
        &json!({ "kind": "json", "url": "http://127.0.0.1:9/hook" }),
    );
    assert!(ch.status == 200 || ch.status == 201, "{}", ch.body);
    env.cli_ok(&["round", "push", &round]);
    let v = srv.get(&format!("/api/v1/rounds/{round}/schedule")).json();
    let push = &v["pushes"][0];
    let actor = push["actor"].as_str().unwrap();
    assert!(actor.starts_with("cli:"), "{push}");
    assert_eq!(
        push["by"],
        format!("命令行操作员（{actor}）/ command line ({actor})"),
        "{push}"
    );
    let page = srv.get(&format!("/rounds/{round}/schedule"));
    assert!(
        page.body
            .contains(&format!("由 命令行操作员（{actor}） 推送（")),
        "{}",
        page.body
    );
    let cli = env.cli_ok(&["round", "simulate", "--round", &round]);
    assert!(
        cli.contains(&format!(
            "由 by 命令行操作员（{actor}）/ command line ({actor})"
        )),
        "{cli}"
    );
}
