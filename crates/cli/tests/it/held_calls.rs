//! Calls held back (暂停下楼) over real HTTP, both backends, with a local
//! group robot: a building or household put under a stay-home order after
//! its call-down was pushed is told to stay home; nothing is sent for a
//! place not called, called only in a slot not pushed or already over, or
//! held already.

use std::collections::BTreeSet;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use gw_domain::ids::Key;
use gw_domain::schedule::hhmm;
use serde_json::{json, Value};

use crate::alerts::robot;
use crate::harness::{exec, open_round, query_strings, round_body, Server, TestEnv};

/// The bodies the robot receives within `wait` that `keep` keeps, waiting
/// at most `wait` for the first `want` and a little more (`extra`) after
/// them for any beyond what was expected.
pub(crate) fn robot_bodies(
    rx: &mpsc::Receiver<(String, String)>,
    want: usize,
    wait: Duration,
    extra: Duration,
    keep: impl Fn(&str) -> bool,
) -> Vec<String> {
    let mut out = Vec::new();
    let mut until = Instant::now() + wait;
    while let Some(left) = until.checked_duration_since(Instant::now()) {
        let Ok((_, body)) = rx.recv_timeout(left) else {
            break;
        };
        if keep(&body) {
            out.push(body);
            if out.len() == want {
                until = Instant::now() + extra;
            }
        }
    }
    out
}

/// The JSON bodies of kind `kind` the robot receives (a JSON channel), as
/// [`robot_bodies`].
pub(crate) fn robot_kind(
    rx: &mpsc::Receiver<(String, String)>,
    kind: &str,
    want: usize,
    wait: Duration,
) -> Vec<Value> {
    robot_bodies(rx, want, wait, Duration::from_millis(1500), |b| {
        serde_json::from_str::<Value>(b).is_ok_and(|v| v["kind"] == kind)
    })
    .iter()
    .map(|b| serde_json::from_str(b).unwrap())
    .collect()
}

/// The texts of the stay-home messages the robot receives within `wait`
/// (call-down pushes are left out), waiting at most `wait` for the first of
/// `want` and a little more for any extra.
fn held_texts(rx: &mpsc::Receiver<(String, String)>, want: usize, wait: Duration) -> Vec<String> {
    let text = |b: &str| -> String {
        serde_json::from_str::<Value>(b).unwrap()["text"]["content"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    robot_bodies(rx, want, wait, Duration::from_millis(1500), |b| {
        text(b).contains("暂停下楼")
    })
    .iter()
    .map(|b| text(b))
    .collect()
}

fn control(srv: &Server, kind: &str, id: &str, status: &str) -> Value {
    let r = srv.post(
        "/api/v1/control",
        &json!({ "target_kind": kind, "target_id": id, "status": status, "reason": "08:30 发现阳性密接" }),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    r.json()
}

/// What [`pushed`] made.
pub(crate) struct Pushed {
    pub env: TestEnv,
    pub srv: Server,
    pub store: gw_store::Store,
    pub street: i64,
    pub round: String,
    pub rk: Key,
    pub point: String,
    /// What the robot receives: `(path, body)`.
    pub rx: mpsc::Receiver<(String, String)>,
    /// The plan's slots in order (at least `min_slots`); the first two and
    /// the third are pushed, the third's calls then moved to `past`.
    pub slots: Vec<i64>,
    pub past: i64,
}

/// A demo street of 800 with its street commander logged in, a group robot
/// of `kind` on loopback as its channel, a round `round_name` open with one
/// point `point_name` in the first community and a plan of 30-minute slots
/// (at least `min_slots`). The first three slots are pushed; the third's
/// calls and push record are then moved three hours before the first, as if
/// that slot had ended.
pub(crate) async fn pushed(
    kind: &str,
    round_name: &str,
    point_name: &str,
    min_slots: usize,
) -> Pushed {
    let env = TestEnv::new().await;
    env.cli_ok(&["demo", "--residents", "800", "--seed", "7", "--no-serve"]);
    let pw = env.account("chief", "street_commander", &["--street", "鸿城街道"]);
    let mut srv = env.serve();
    srv.token = Some(srv.login("chief", &pw));
    let store = env.store().await;
    let street = store.streets().await.unwrap()[0].id;
    let community = store.communities(None, Some(street)).await.unwrap()[0].id;
    let (url, rx) = robot();
    let ch = srv.post(
        &format!("/api/v1/streets/{street}/alert-channels"),
        &json!({ "kind": kind, "url": url }),
    );
    assert!(ch.status == 200 || ch.status == 201, "{}", ch.body);
    let (round, _) = open_round(|p, b| srv.post(p, b), &round_body(street, round_name));
    let rk: Key = round.parse().unwrap();
    let p = srv.post(
        &format!("/api/v1/rounds/{round}/points"),
        &json!({ "name": point_name, "community": format!("{street}-{community}"), "stations": 2 }),
    );
    assert_eq!(p.status, 201, "{}", p.body);
    let point = p.json()["id"].as_str().unwrap().to_string();
    let plan = srv.post(
        &format!("/api/v1/rounds/{round}/schedule"),
        &json!({ "slot_minutes": 30 }),
    );
    assert_eq!(plan.status, 200, "{}", plan.body);
    let calls = store.schedule_calls(street, rk.id).await.unwrap();
    let slots: Vec<i64> = calls
        .iter()
        .map(|c| c.starts_ms)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    assert!(slots.len() >= min_slots, "{slots:?}");
    for s in &slots[..3] {
        let r = srv.post(
            &format!("/api/v1/rounds/{round}/schedule/push"),
            &json!({ "starts_ms": s }),
        );
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let (s3, past) = (slots[2], slots[0] - 3 * 3_600_000);
    exec(
        &store,
        &format!(
            "UPDATE schedule_call SET starts_ms = {past}, ends_ms = {} WHERE street_id = {street} AND round_id = {} AND starts_ms = {s3}",
            past + 30 * 60_000,
            rk.id
        ),
    )
    .await;
    exec(
        &store,
        &format!("UPDATE audit_event SET detail = 'slot={past} messages=1' WHERE action = 'push_call_down' AND detail LIKE 'slot={s3} %'"),
    )
    .await;
    Pushed {
        env,
        srv,
        store,
        street,
        round,
        rk,
        point,
        rx,
        slots,
        past,
    }
}

#[tokio::test]
async fn a_stay_home_order_on_a_called_place_tells_the_groups_that_got_the_call() {
    let Pushed {
        env,
        srv,
        store,
        street,
        round,
        rk,
        rx,
        slots,
        past,
        point: _,
    } = pushed("wecom", "第3轮全员核酸", "银座小区北门", 5).await;
    // The pushes' own messages are not what is looked for here.
    let _ = held_texts(&rx, 0, Duration::from_millis(1500));

    let calls = store.schedule_calls(street, rk.id).await.unwrap();
    let slots_of = |b: i64| -> BTreeSet<i64> {
        calls
            .iter()
            .filter(|c| c.building_id == b)
            .map(|c| c.starts_ms)
            .collect()
    };
    let homebound = i64::from(gw_domain::resident::Flag::CannotGoDownstairs.bit());
    let rows = store
        .schedule_households(street, rk.id, homebound)
        .await
        .unwrap();
    let name_of = |b: i64| {
        rows.iter()
            .find(|h| h.building_id == b)
            .unwrap()
            .building
            .clone()
    };
    let buildings: Vec<i64> = calls
        .iter()
        .map(|c| c.building_id)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let only_in = |want: &dyn Fn(&i64) -> bool| -> Vec<i64> {
        buildings
            .iter()
            .copied()
            .filter(|b| slots_of(*b).iter().all(want))
            .collect()
    };
    // Pushed slots not over yet; buildings called in them, only in the ended
    // one, only in slots never pushed.
    let live = [slots[0], slots[1]];
    let live_slots = |b: i64| -> usize { slots_of(b).iter().filter(|s| live.contains(s)).count() };
    let called: Vec<i64> = buildings
        .iter()
        .copied()
        .filter(|b| live_slots(*b) > 0)
        .collect();
    let ended = only_in(&|s| *s == past);
    let unpushed = only_in(&|s| *s > slots[2]);
    assert!(
        called.len() >= 2 && !ended.is_empty() && !unpushed.is_empty(),
        "{called:?} {ended:?} {unpushed:?}"
    );

    // A seal on a building called in a pushed slot: one message to the group,
    // naming the building, its unit, the point and the slot.
    // (One message per call: per pushed slot of the one point.)
    let b = called[0];
    let sealed = control(&srv, "building", &format!("{street}-{b}"), "sealed");
    assert_eq!(sealed["groups_told"], 1, "{sealed}");
    assert_eq!(sealed["calls_held"], live_slots(b), "{sealed}");
    assert_eq!(sealed["notice_failed"], false, "{sealed}");
    let got = held_texts(&rx, live_slots(b), Duration::from_secs(15));
    assert_eq!(got.len(), live_slots(b), "{got:?}");
    let call = calls
        .iter()
        .find(|c| c.building_id == b && live.contains(&c.starts_ms))
        .unwrap();
    let text = got
        .iter()
        .find(|t| t.contains(&hhmm(call.starts_ms)))
        .unwrap();
    let unit = &rows
        .iter()
        .find(|h| h.unit_id == call.unit_id)
        .unwrap()
        .unit;
    let slot_end = call.ends_ms;
    for want in [
        "【暂停下楼】第3轮全员核酸".to_string(),
        "采样点「银座小区北门」".to_string(),
        format!("{}–{}", hhmm(call.starts_ms), hhmm(slot_end)),
        format!("{} {unit}单元", name_of(b)),
        "现已封控".to_string(),
        "请留在家中，等待入户采样，不要下楼".to_string(),
    ] {
        assert!(text.contains(&want), "{want} not in {text}");
    }
    // The reason (which may name people) is not sent.
    assert!(!text.contains("阳性密接"), "{text}");
    // The message expires when the slot ends.
    let expires = query_strings(
        &store,
        &format!(
            "SELECT CAST(expires_ms AS TEXT) FROM notification WHERE street_id = {street} AND body LIKE '%暂停下楼%'"
        ),
    )
    .await;
    assert!(expires.contains(&slot_end.to_string()), "{expires:?}");
    assert_eq!(expires.len(), live_slots(b), "{expires:?}");

    // Sealed again: held already, nothing more.
    let again = control(&srv, "building", &format!("{street}-{b}"), "sealed");
    assert_eq!(again["groups_told"], 0, "{again}");
    // Not called in a pushed slot, called only in an ended one, or an order
    // that does not keep people at home: nothing.
    let none = control(
        &srv,
        "building",
        &format!("{street}-{}", unpushed[0]),
        "sealed",
    );
    assert_eq!(
        (none["groups_told"].clone(), none["calls_held"].clone()),
        (json!(0), json!(0)),
        "{none}"
    );
    let over = control(
        &srv,
        "building",
        &format!("{street}-{}", ended[0]),
        "sealed",
    );
    assert_eq!(
        (over["groups_told"].clone(), over["calls_held"].clone()),
        (json!(0), json!(0)),
        "{over}"
    );
    let b2 = called[1];
    let lighter = control(&srv, "building", &format!("{street}-{b2}"), "precaution");
    assert_eq!(lighter["groups_told"], 0, "{lighter}");
    assert!(held_texts(&rx, 0, Duration::from_millis(2500)).is_empty());

    // A household under temporary control in a unit called in a pushed slot:
    // that household is told, by its unit and room, without names.
    let h = rows
        .iter()
        .find(|h| {
            h.building_id == b2
                && h.people > 0
                && calls
                    .iter()
                    .any(|c| c.unit_id == h.unit_id && live.contains(&c.starts_ms))
        })
        .unwrap();
    let h_slot = calls
        .iter()
        .find(|c| c.unit_id == h.unit_id && live.contains(&c.starts_ms))
        .unwrap()
        .starts_ms;
    let told = control(
        &srv,
        "household",
        &format!("{street}-{}", h.household_id),
        "temporary",
    );
    assert_eq!(told["groups_told"], 1, "{told}");
    let got = held_texts(&rx, 1, Duration::from_secs(15));
    assert_eq!(got.len(), 1, "{got:?}");
    let text = &got[0];
    assert!(
        text.contains(&format!("{} {}单元 {}室", h.building, h.unit, h.room))
            && text.contains("现已临时管控")
            && text.contains(&hhmm(h_slot)),
        "{text}"
    );
    for name in query_strings(
        &store,
        &format!(
            "SELECT name FROM resident WHERE street_id = {street} AND household_id = {}",
            h.household_id
        ),
    )
    .await
    {
        assert!(!text.contains(&name), "{name} named in {text}");
    }

    // Each notice is audited on the round, by ids only.
    let audited = query_strings(
        &store,
        &format!("SELECT detail FROM audit_event WHERE action = 'call_held' AND target_kind = 'round' AND target_id = '{round}' ORDER BY id"),
    )
    .await;
    assert_eq!(audited.len(), 2, "{audited:?}");
    assert!(
        audited[0].contains(&format!("building={street}-{b}")),
        "{audited:?}"
    );
    assert!(
        audited[1].contains(&format!("household={street}-{}", h.household_id)),
        "{audited:?}"
    );
    assert!(audited.iter().all(|d| !d.contains("阳性")), "{audited:?}");

    // From the command line: the same, and it says how many groups were told.
    let out = env.cli_ok(&[
        "control",
        "set",
        "--kind",
        "building",
        "--id",
        &format!("{street}-{b2}"),
        "--status",
        "sealed",
        "--reason",
        "密接",
    ]);
    assert!(
        out.contains("已通知 1 个群") && out.contains("groups told: 1"),
        "{out}"
    );
    let got = held_texts(&rx, live_slots(b2), Duration::from_secs(20));
    assert_eq!(got.len(), live_slots(b2), "{got:?}");
    assert!(
        got.iter()
            .all(|t| t.contains(&name_of(b2)) && t.contains("现已封控")),
        "{got:?}"
    );
}
