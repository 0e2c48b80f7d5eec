//! An abnormal pool's temporary control holds pushed calls (暂停下楼) as a
//! hand-set order does, over real HTTP, both backends, with a local JSON
//! group robot: the pool's member whose household is called in a pushed
//! slot still to end is told to stay home, by unit and room; a member's
//! household called only in a slot already over is not; a corrected result
//! that raises an alert does the same, and so does a member's swab synced
//! from an offline station after the pool's result.

use std::sync::mpsc;
use std::time::Duration;

use gw_domain::schedule::hhmm;
use serde_json::{json, Value};

use crate::harness::{query_strings, Server};
use crate::held_calls::{pushed, Pushed};

/// The stay-home messages (JSON bodies of kind `call_held`) the robot
/// receives within `wait`, waiting a little more after the `want`th for any
/// extra.
fn held_bodies(rx: &mpsc::Receiver<(String, String)>, want: usize, wait: Duration) -> Vec<Value> {
    crate::held_calls::robot_kind(rx, "call_held", want, wait)
}

/// A personal code of one resident of `household` (the first by id).
pub(crate) async fn member_code(
    srv: &Server,
    store: &gw_store::Store,
    street: i64,
    household: i64,
) -> String {
    let ids = query_strings(
        store,
        &format!("SELECT CAST(id AS TEXT) FROM resident WHERE street_id = {street} AND household_id = {household} ORDER BY id"),
    )
    .await;
    let r = srv.get(&format!("/api/v1/residents/{street}-{}/code", ids[0]));
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["code"].as_str().unwrap().to_string()
}

pub(crate) fn tube(srv: &Server, point: &str, barcode: &str) -> String {
    let r = srv.post(
        &format!("/api/v1/points/{point}/tubes"),
        &json!({ "barcode": barcode }),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    r.json()["id"].as_str().unwrap().to_string()
}

pub(crate) fn swab(srv: &Server, tube: &str, client: &str, code: &str) {
    let r = srv.post(
        &format!("/api/v1/tubes/{tube}/scans"),
        &json!({ "client_id": client, "code": code, "purpose": "routine" }),
    );
    assert!(r.status == 200 || r.status == 201, "{}", r.body);
}

#[tokio::test]
async fn an_abnormal_pools_temporary_control_tells_the_groups_of_its_pushed_calls() {
    // The environment is kept to the end: dropping it drops its database.
    let Pushed {
        env: _env,
        srv,
        store,
        street,
        round,
        rk,
        point,
        rx,
        slots,
        past,
    } = pushed("json", "第4轮全员核酸", "鸿城小区东门", 4).await;
    let hour = 3_600_000;
    // The pushes' own messages are not what is looked for here.
    let _ = held_bodies(&rx, 0, Duration::from_millis(1500));

    let calls = store.schedule_calls(street, rk.id).await.unwrap();
    let homebound = i64::from(gw_domain::resident::Flag::CannotGoDownstairs.bit());
    let rows = store
        .schedule_households(street, rk.id, homebound)
        .await
        .unwrap();
    let live = [slots[0], slots[1]];
    let live_calls = |unit: i64| -> Vec<i64> {
        calls
            .iter()
            .filter(|c| c.unit_id == unit && live.contains(&c.starts_ms))
            .map(|c| c.starts_ms)
            .collect()
    };
    let only_ended = |unit: i64| {
        let of: Vec<_> = calls.iter().filter(|c| c.unit_id == unit).collect();
        !of.is_empty() && of.iter().all(|c| c.starts_ms == past)
    };
    // A household called in a live pushed slot, one of another unit called
    // in one too (for the correction), and one called only in the ended slot.
    let called: Vec<_> = rows
        .iter()
        .filter(|h| h.people > 0 && !live_calls(h.unit_id).is_empty())
        .collect();
    let a = called[0];
    let c = called
        .iter()
        .find(|h| h.unit_id != a.unit_id)
        .expect("two called units");
    let b = rows
        .iter()
        .find(|h| h.people > 0 && only_ended(h.unit_id))
        .expect("a unit called only in the ended slot");
    let place = |h: &gw_store::schedule::SchedHouseholdRow| {
        format!("{} {}单元 {}室", h.building, h.unit, h.room)
    };

    // One pool: a member of household A and one of household B.
    let pool = tube(&srv, &point, "HC00000001");
    swab(
        &srv,
        &pool,
        "s-a",
        &member_code(&srv, &store, street, a.household_id).await,
    );
    swab(
        &srv,
        &pool,
        "s-b",
        &member_code(&srv, &store, street, b.household_id).await,
    );
    let r = srv.post(
        &format!("/api/v1/rounds/{round}/results"),
        &json!({ "results": [{ "barcode": "HC00000001", "result": "阳性" }] }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let sum = r.json();
    assert_eq!(sum["alerts"].as_array().unwrap().len(), 1, "{sum}");
    // A's pushed calls are held and the one group told; B's call is over.
    let a_calls = live_calls(a.unit_id);
    assert_eq!(sum["calls_held"], a_calls.len(), "{sum}");
    assert_eq!(sum["groups_told"], 1, "{sum}");
    assert_eq!(sum["notice_failed"], false, "{sum}");
    let got = held_bodies(&rx, a_calls.len(), Duration::from_secs(15));
    assert_eq!(got.len(), a_calls.len(), "{got:?}");
    for v in &got {
        let text = v["text"].as_str().unwrap();
        assert!(
            text.starts_with("【暂停下楼】第4轮全员核酸")
                && text.contains("采样点「鸿城小区东门」")
                && text.contains(&place(a))
                && text.contains("现已临时管控")
                && text.contains("请该户留在家中"),
            "{text}"
        );
        assert!(!text.contains(&place(b)), "{text}");
        assert!(a_calls.iter().any(|s| text.contains(&hhmm(*s))), "{text}");
        assert_eq!(v["households"], 1, "{v}");
    }
    // Audited on the round as call_held, naming the alert and the household
    // by id only.
    let audited = query_strings(
        &store,
        &format!("SELECT detail FROM audit_event WHERE action = 'call_held' AND target_kind = 'round' AND target_id = '{round}' ORDER BY id"),
    )
    .await;
    assert_eq!(audited.len(), 1, "{audited:?}");
    let alert = sum["alerts"][0]["alert"].as_str().unwrap();
    assert!(
        audited[0].starts_with(&format!(
            "alert={alert} household={street}-{} ",
            a.household_id
        )),
        "{audited:?}"
    );

    // A corrected result that raises an alert holds C's calls the same way.
    let other = tube(&srv, &point, "HC00000002");
    swab(
        &srv,
        &other,
        "s-c",
        &member_code(&srv, &store, street, c.household_id).await,
    );
    let r = srv.post(
        &format!("/api/v1/rounds/{round}/results"),
        &json!({ "results": [{ "barcode": "HC00000002", "result": "negative" }] }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["calls_held"], 0, "{}", r.body);
    let r = srv.post(
        &format!("/api/v1/rounds/{round}/results/corrections"),
        &json!({ "barcode": "HC00000002", "result": "abnormal", "reason": "实验室更正报告" }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let fixed = r.json();
    let c_calls = live_calls(c.unit_id);
    assert_eq!(fixed["calls_held"], c_calls.len(), "{fixed}");
    assert_eq!(fixed["groups_told"], 1, "{fixed}");
    let got = held_bodies(&rx, c_calls.len(), Duration::from_secs(15));
    assert_eq!(got.len(), c_calls.len(), "{got:?}");
    assert!(
        got.iter()
            .all(|v| v["text"].as_str().unwrap().contains(&place(c))),
        "{got:?}"
    );

    // An offline station's queue synced after the result: its swab of a
    // member of household D, taken an hour ago into the abnormal pool, holds
    // D at home like the others, and D's pushed calls are held the same way.
    let d = called
        .iter()
        .find(|h| h.unit_id != a.unit_id && h.unit_id != c.unit_id)
        .expect("a third called unit");
    let hour_ago = gw_app::Clock::System.now_ms() - hour;
    let late = srv.post(
        &format!("/api/v1/tubes/{pool}/scans"),
        &json!({ "client_id": "s-d-late", "code": member_code(&srv, &store, street, d.household_id).await, "purpose": "routine", "scanned_ms": hour_ago }),
    );
    assert!(late.status == 200 || late.status == 201, "{}", late.body);
    assert_eq!(late.json()["follow_up"], "retest", "{}", late.body);
    let d_calls = live_calls(d.unit_id);
    let got = held_bodies(&rx, d_calls.len(), Duration::from_secs(15));
    assert_eq!(got.len(), d_calls.len(), "{got:?}");
    assert!(
        got.iter().all(|v| {
            let text = v["text"].as_str().unwrap();
            text.starts_with("【暂停下楼】")
                && text.contains(&place(d))
                && !text.contains(&place(a))
        }),
        "{got:?}"
    );
    let audited = query_strings(
        &store,
        &format!("SELECT detail FROM audit_event WHERE action = 'call_held' AND target_kind = 'round' AND target_id = '{round}' ORDER BY id"),
    )
    .await;
    assert_eq!(audited.len(), 3, "{audited:?}");
    assert!(
        audited[2].starts_with(&format!(
            "alert={alert} household={street}-{} ",
            d.household_id
        )),
        "{audited:?}"
    );
    // The station's retry tells nobody again.
    let again = srv.post(
        &format!("/api/v1/tubes/{pool}/scans"),
        &json!({ "client_id": "s-d-late", "code": member_code(&srv, &store, street, d.household_id).await, "purpose": "routine", "scanned_ms": hour_ago }),
    );
    assert_eq!(again.json()["replay"], true, "{}", again.body);
    assert!(held_bodies(&rx, 1, Duration::from_millis(2500)).is_empty());
}
