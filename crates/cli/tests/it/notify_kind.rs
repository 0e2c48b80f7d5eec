//! What a queued message is, as the delivery lists say it (`what`), is
//! stored when it is queued, over real HTTP on both backends: a point named
//! with another message's title (「【网格卫士 测试消息】…」, 「【混管异常】…」) no longer
//! makes its call-downs or its held calls read as test messages or alerts.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Value};

use crate::held_calls::{pushed, Pushed};

/// The street's messages: `what` counted.
fn whats(srv: &crate::harness::Server, street: i64) -> BTreeMap<String, usize> {
    let list = srv.get(&format!("/api/v1/streets/{street}/notifications"));
    assert_eq!(list.status, 200, "{}", list.body);
    let mut out = BTreeMap::new();
    for n in list.json()["items"].as_array().unwrap() {
        *out.entry(n["what"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    out
}

#[tokio::test]
async fn a_message_is_what_it_was_queued_as_whatever_its_point_is_named() {
    let Pushed {
        env: _env,
        srv,
        store,
        street,
        rk,
        slots,
        ..
    } = pushed(
        "wecom",
        "第1轮【混管异常】演练",
        "【网格卫士 测试消息】广场",
        3,
    )
    .await;
    // Three slots pushed to one robot: three call-downs, whatever they name.
    let calls = store.schedule_calls(street, rk.id).await.unwrap();
    let pushed_slots = 3;
    assert!(slots.len() >= 3);
    let w = whats(&srv, street);
    assert_eq!(
        w,
        BTreeMap::from([("call_down".to_string(), pushed_slots)]),
        "the pushes' messages"
    );

    // A building called in the first slot sealed: its call is held, and the
    // group told so, named as a held call.
    let b = calls
        .iter()
        .find(|c| c.starts_ms == slots[0])
        .unwrap()
        .building_id;
    let r = srv.post(
        "/api/v1/control",
        &json!({ "target_kind": "building", "target_id": format!("{street}-{b}"), "status": "sealed", "reason": "08:30 发现阳性密接" }),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json()["groups_told"], 1, "{}", r.body);

    // The robot's test message, named as one.
    let channel = srv.get(&format!("/api/v1/streets/{street}/alert-channels"));
    let channel: Value = channel.json();
    let id = channel["items"][0]["channel"].as_str().unwrap().to_string();
    let t = srv.post(&format!("/api/v1/alert-channels/{id}/test"), &json!({}));
    assert!(t.status == 200 || t.status == 201, "{}", t.body);

    let w = whats(&srv, street);
    assert_eq!(
        w,
        BTreeMap::from([
            ("call_down".to_string(), pushed_slots),
            ("call_held".to_string(), 1),
            ("test".to_string(), 1),
        ]),
    );
    // Give the robot's deliveries a moment so the server stops cleanly.
    tokio::time::sleep(Duration::from_millis(200)).await;
}
