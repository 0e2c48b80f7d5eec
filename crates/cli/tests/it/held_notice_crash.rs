//! A stay-home order's notice (暂停下楼) survives a crash, over real HTTP,
//! both backends, with a local group robot: an order stored owing its notice
//! (as its own transaction leaves it when the server dies before the notice
//! is queued) is told by the server's sweep at start, once; a notice queued
//! already is never told again; the normal path (an order set through the
//! API, an abnormal pool's temporary control) clears its mark, and the sweep
//! then sends nothing.

use std::collections::BTreeSet;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use gw_app::Clock;
use gw_domain::territory::{ControlStatus, ControlTarget};
use serde_json::{json, Value};

use crate::harness::{exec, query_strings, Server, TestEnv};
use crate::held_calls::{pushed, Pushed};
use crate::held_pool::{member_code, swab, tube};

/// The bodies of the stay-home messages (【暂停下楼】) the robot receives
/// within `wait`, waiting a little more after the `want`th for any extra.
fn held(rx: &mpsc::Receiver<(String, String)>, want: usize, wait: Duration) -> Vec<String> {
    crate::held_calls::robot_bodies(rx, want, wait, Duration::from_millis(2000), |b| {
        b.contains("暂停下楼")
    })
}

/// The server started again on the same database (as after a crash), its
/// session kept.
fn restart(env: &TestEnv, srv: Server) -> Server {
    let token = srv.token.clone();
    drop(srv);
    let mut srv = env.serve();
    srv.token = token;
    srv
}

/// The `notice_due` marks of a street's orders on one target, oldest first.
async fn marks(store: &gw_store::Store, street: i64, kind: &str, id: i64) -> Vec<String> {
    query_strings(
        store,
        &format!("SELECT CAST(notice_due AS TEXT) FROM control_order WHERE street_id = {street} AND target_kind = '{kind}' AND target_id = {id} ORDER BY id"),
    )
    .await
}

/// The held notices' audit details on a round, oldest first.
async fn held_records(store: &gw_store::Store, round: &str) -> Vec<String> {
    query_strings(
        store,
        &format!("SELECT detail FROM audit_event WHERE action = 'call_held' AND target_kind = 'round' AND target_id = '{round}' ORDER BY id"),
    )
    .await
}

#[tokio::test]
async fn a_seal_whose_notice_a_crash_lost_is_told_once_when_the_server_starts_again() {
    let Pushed {
        env,
        srv,
        store,
        street,
        round,
        rk,
        rx,
        slots,
        ..
    } = pushed("wecom", "第5轮全员核酸", "银座小区南门", 4).await;
    // The pushes' own messages are not what is looked for here.
    let _ = held(&rx, 0, Duration::from_millis(1500));
    let calls = store.schedule_calls(street, rk.id).await.unwrap();
    let live = [slots[0], slots[1]];
    let live_slots = |b: i64| -> usize {
        calls
            .iter()
            .filter(|c| c.building_id == b && live.contains(&c.starts_ms))
            .map(|c| c.starts_ms)
            .collect::<BTreeSet<_>>()
            .len()
    };
    let called: Vec<i64> = calls
        .iter()
        .map(|c| c.building_id)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .filter(|b| live_slots(*b) > 0)
        .collect();
    assert!(called.len() >= 2, "{called:?}");
    let (b1, b2) = (called[0], called[1]);

    // (a) The seal's own transaction committed, and the server died before
    // its notice was queued: the order stands, owing its notice.
    let now = Clock::System.now_ms();
    let set = now - 60_000;
    let order = store
        .set_control(
            &gw_store::control::ControlWrite {
                street_id: street,
                target: ControlTarget::Building,
                target_id: b1,
                status: ControlStatus::Sealed,
                from_ms: set,
                until_ms: None,
                reason: "08:30 发现阳性密接",
                set_by: "user:chief",
                now_ms: set,
            },
            &gw_store::audit::AuditRecord {
                street_id: street,
                at_ms: set,
                actor: "user:chief".into(),
                action: "set_control".into(),
                target_kind: "building".into(),
                target_id: format!("{street}-{b1}"),
                detail: "sealed".into(),
                address: String::new(),
            },
        )
        .await
        .unwrap();
    assert_eq!(marks(&store, street, "building", b1).await, ["1"]);
    assert!(held(&rx, 0, Duration::from_millis(1500)).is_empty());

    // Started again: its sweep tells the groups, once per pushed call, and
    // clears the mark.
    let srv = restart(&env, srv);
    let got = held(&rx, live_slots(b1), Duration::from_secs(30));
    assert_eq!(got.len(), live_slots(b1), "{got:?}");
    assert!(
        got.iter()
            .all(|t| t.contains("【暂停下楼】第5轮全员核酸") && t.contains("现已封控")),
        "{got:?}"
    );
    assert!(got.iter().all(|t| !t.contains("阳性密接")), "{got:?}");
    // The sweep clears the mark after the notice is queued: wait for it.
    let until = Instant::now() + Duration::from_secs(10);
    while marks(&store, street, "building", b1).await != ["0"] && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(marks(&store, street, "building", b1).await, ["0"]);
    let records = held_records(&store, &round).await;
    assert_eq!(records.len(), 1, "{records:?}");
    assert!(
        records[0].starts_with(&format!("order={street}-{order} building={street}-{b1} ")),
        "{records:?}"
    );

    // A second sweep: nothing owed, nothing sent.
    let again = gw_app::held_calls::sweep(&store, &Clock::System)
        .await
        .unwrap();
    assert_eq!((again.orders, again.messages), (0, 0), "{again:?}");
    // Died after the notice was queued, before its mark was cleared: the
    // sweep finds the notice queued, clears the mark, and sends nothing.
    exec(
        &store,
        &format!(
            "UPDATE control_order SET notice_due = 1 WHERE street_id = {street} AND id = {order}"
        ),
    )
    .await;
    let swept = gw_app::held_calls::sweep(&store, &Clock::System)
        .await
        .unwrap();
    assert_eq!(swept.messages, 0, "{swept:?}");
    assert_eq!(marks(&store, street, "building", b1).await, ["0"]);
    assert!(held(&rx, 0, Duration::from_secs(3)).is_empty());
    assert_eq!(held_records(&store, &round).await.len(), 1);

    // (b) Set through the API: told at once, the mark cleared in the
    // request; the sweep (a while later) sends nothing more.
    let r = srv.post(
        "/api/v1/control",
        &json!({ "target_kind": "building", "target_id": format!("{street}-{b2}"), "status": "sealed", "reason": "密接" }),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let v: Value = r.json();
    assert_eq!(v["groups_told"], 1, "{v}");
    assert_eq!(v["notice_failed"], false, "{v}");
    let got = held(&rx, live_slots(b2), Duration::from_secs(20));
    assert_eq!(got.len(), live_slots(b2), "{got:?}");
    assert_eq!(marks(&store, street, "building", b2).await, ["0"]);
    let later = Clock::fixed(Clock::System.now_ms() + 120_000);
    let swept = gw_app::held_calls::sweep(&store, &later).await.unwrap();
    assert_eq!((swept.orders, swept.messages), (0, 0), "{swept:?}");
    assert!(held(&rx, 0, Duration::from_secs(3)).is_empty());
    assert_eq!(held_records(&store, &round).await.len(), 2);
    // An order that does not keep people at home owes nothing.
    let r = srv.post(
        "/api/v1/control",
        &json!({ "target_kind": "building", "target_id": format!("{street}-{b1}"), "status": "precaution", "reason": "防范" }),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(marks(&store, street, "building", b1).await, ["0", "0"]);
    drop(srv);
    drop(env);
}

#[tokio::test]
async fn an_abnormal_pools_control_whose_notice_a_crash_lost_is_told_once_when_the_server_starts_again(
) {
    let Pushed {
        env,
        srv,
        store,
        street,
        round,
        rk,
        point,
        rx,
        slots,
        ..
    } = pushed("json", "第6轮全员核酸", "鸿城小区西门", 4).await;
    let _ = held(&rx, 0, Duration::from_millis(1500));
    let calls = store.schedule_calls(street, rk.id).await.unwrap();
    let homebound = i64::from(gw_domain::resident::Flag::CannotGoDownstairs.bit());
    let rows = store
        .schedule_households(street, rk.id, homebound)
        .await
        .unwrap();
    let live = [slots[0], slots[1]];
    let live_calls = |unit: i64| -> usize {
        calls
            .iter()
            .filter(|c| c.unit_id == unit && live.contains(&c.starts_ms))
            .count()
    };
    let a = rows
        .iter()
        .find(|h| h.people > 0 && live_calls(h.unit_id) > 0)
        .unwrap();
    let n = live_calls(a.unit_id);

    // One pool with a member of household A, found abnormal: told at once
    // (the normal path), the alert's order cleared.
    let tube = tube(&srv, &point, "HC00000061");
    swab(
        &srv,
        &tube,
        "s-a",
        &member_code(&srv, &store, street, a.household_id).await,
    );
    let r = srv.post(
        &format!("/api/v1/rounds/{round}/results"),
        &json!({ "results": [{ "barcode": "HC00000061", "result": "阳性" }] }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let sum = r.json();
    assert_eq!(sum["groups_told"], 1, "{sum}");
    let alert = sum["alerts"][0]["alert"].as_str().unwrap().to_string();
    let got = held(&rx, n, Duration::from_secs(20));
    assert_eq!(got.len(), n, "{got:?}");
    assert_eq!(
        marks(&store, street, "household", a.household_id).await,
        ["0"]
    );
    let later = Clock::fixed(Clock::System.now_ms() + 120_000);
    let swept = gw_app::held_calls::sweep(&store, &later).await.unwrap();
    assert_eq!((swept.orders, swept.messages), (0, 0), "{swept:?}");
    let records = held_records(&store, &round).await;
    assert_eq!(records.len(), 1, "{records:?}");
    assert!(
        records[0].starts_with(&format!("alert={alert} ")),
        "{records:?}"
    );

    // As if the server had died right after the results' commit: the
    // order owes its notice and none was queued.
    exec(
        &store,
        &format!(
            "UPDATE control_order SET notice_due = 1, created_ms = created_ms - 60000 WHERE street_id = {street} AND target_kind = 'household' AND target_id = {}",
            a.household_id
        ),
    )
    .await;
    exec(
        &store,
        &format!("DELETE FROM audit_event WHERE action = 'call_held' AND target_id = '{round}'"),
    )
    .await;
    let srv = restart(&env, srv);
    let got = held(&rx, n, Duration::from_secs(30));
    assert_eq!(got.len(), n, "{got:?}");
    assert!(
        got.iter().all(|t| t.contains("现已临时管控")
            && t.contains(&format!("{} {}单元 {}室", a.building, a.unit, a.room))),
        "{got:?}"
    );
    let until = Instant::now() + Duration::from_secs(10);
    while marks(&store, street, "household", a.household_id).await != ["0"]
        && Instant::now() < until
    {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        marks(&store, street, "household", a.household_id).await,
        ["0"]
    );
    let records = held_records(&store, &round).await;
    assert_eq!(records.len(), 1, "{records:?}");
    assert!(
        records[0].starts_with(&format!("alert={alert} ")),
        "{records:?}"
    );

    // Owed again though queued already (died before the mark was cleared):
    // the sweep clears it and sends nothing.
    exec(
        &store,
        &format!(
            "UPDATE control_order SET notice_due = 1 WHERE street_id = {street} AND target_kind = 'household' AND target_id = {}",
            a.household_id
        ),
    )
    .await;
    let swept = gw_app::held_calls::sweep(&store, &Clock::System)
        .await
        .unwrap();
    assert_eq!(swept.messages, 0, "{swept:?}");
    assert_eq!(
        marks(&store, street, "household", a.household_id).await,
        ["0"]
    );
    assert!(held(&rx, 0, Duration::from_secs(3)).is_empty());
    assert_eq!(held_records(&store, &round).await.len(), 1);
    drop(srv);
    drop(env);
}
