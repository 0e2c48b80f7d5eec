//! Delayed calls (延迟下楼) over real HTTP, both backends, with a local group
//! robot: a slot whose call-down went out, whose line is long, is told to
//! come down later; the robot gets one message per point with the delay and
//! the new time, the delivery list names it `call_delayed`, the schedule
//! lists the notice. Refused, with nothing queued or recorded: a slot never
//! pushed (not begun), one ended, a delay of 0 or 500 minutes, a delay that
//! would bring the groups down earlier than a notice already told them, no
//! point named, no channel; only the round's managers may tell it.

use std::sync::mpsc;
use std::time::Duration;

use gw_domain::schedule::hhmm;
use serde_json::{json, Value};

use crate::harness::{query_strings, Response, Server};
use crate::held_calls::{pushed, Pushed};
use crate::round_pages::Browser;

const MINUTE: i64 = 60_000;

/// The JSON bodies of kind `call_delayed` the robot receives, waiting at most
/// `wait` for `want` and a little more for any extra.
fn delayed(rx: &mpsc::Receiver<(String, String)>, want: usize, wait: Duration) -> Vec<Value> {
    crate::held_calls::robot_kind(rx, "call_delayed", want, wait)
}

/// The street's messages of `what`.
fn whats(srv: &Server, street: i64, what: &str) -> usize {
    let list = srv.get(&format!("/api/v1/streets/{street}/notifications"));
    assert_eq!(list.status, 200, "{}", list.body);
    list.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["what"] == what)
        .count()
}

async fn delay_records(p: &Pushed) -> Vec<String> {
    query_strings(
        &p.store,
        &format!(
            "SELECT detail FROM audit_event WHERE action = 'call_down.delay' AND target_kind = 'round' AND target_id = '{}' ORDER BY id",
            p.round
        ),
    )
    .await
}

fn delay(srv: &Server, round: &str, body: Value) -> Response {
    srv.post(&format!("/api/v1/rounds/{round}/schedule/delay"), &body)
}

#[tokio::test]
async fn a_pushed_slot_is_told_of_its_delay_and_the_schedule_says_so() {
    let p = pushed("json", "第5轮全员核酸", "银座小区北门", 5).await;
    let (srv, round, street) = (&p.srv, p.round.as_str(), p.street);
    // The pushes' own messages are not what is looked for here.
    let _ = delayed(&p.rx, 1, Duration::from_millis(1500));
    let slot = p.slots[0];

    let r = delay(
        srv,
        round,
        json!({ "slot_ms": slot, "point": p.point, "minutes": 20 }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let d = r.json();
    assert_eq!(d["queued"], 1, "one channel, one point: {d}");
    assert_eq!(d["come_down_ms"], slot + 20 * MINUTE, "{d}");
    let got = delayed(&p.rx, 1, Duration::from_secs(10));
    assert_eq!(got.len(), 1, "{got:?}");
    let text = got[0]["text"].as_str().unwrap();
    assert!(text.starts_with("【延迟下楼】第5轮全员核酸"), "{text}");
    assert!(text.contains("采样点：银座小区北门"), "{text}");
    assert!(
        text.contains(&format!(
            "请推迟约 20 分钟（{} 后）下楼",
            hhmm(slot + 20 * MINUTE)
        )),
        "{text}"
    );
    assert!(text.contains("单元"), "the units called: {text}");
    assert_eq!(got[0]["point"], "银座小区北门");
    assert_eq!(whats(srv, street, "call_delayed"), 1);
    // It expires at the slot's end plus the delay.
    let expires = query_strings(
        &p.store,
        "SELECT CAST(expires_ms AS TEXT) FROM notification WHERE kind = 'call_delayed'",
    )
    .await;
    let ends: i64 = p
        .store
        .schedule_calls(street, p.rk.id)
        .await
        .unwrap()
        .iter()
        .filter(|c| c.starts_ms == slot)
        .map(|c| c.ends_ms)
        .max()
        .unwrap();
    assert_eq!(expires, vec![(ends + 20 * MINUTE).to_string()]);

    // A second delay of the same slot: a second notice, for a later time.
    let r = delay(
        srv,
        round,
        json!({ "slot_ms": slot, "point": p.point, "minutes": 40 }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let got = delayed(&p.rx, 1, Duration::from_secs(10));
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(
        got[0]["text"]
            .as_str()
            .unwrap()
            .contains("请推迟约 40 分钟"),
        "{got:?}"
    );
    assert_eq!(whats(srv, street, "call_delayed"), 2);
    let records = delay_records(&p).await;
    assert_eq!(
        records,
        vec![
            format!("slot={slot} point={} minutes=20 messages=1", p.point),
            format!("slot={slot} point={} minutes=40 messages=1", p.point),
        ]
    );
    // A third for 30 minutes would bring them down before the 40 told: it
    // is refused, naming the time told and the least delay that is later;
    // nothing queued or recorded.
    let r = delay(
        srv,
        round,
        json!({ "slot_ms": slot, "point": p.point, "minutes": 30 }),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.body
            .contains(&format!("已被通知 {} 后下楼", hhmm(slot + 40 * MINUTE)))
            && r.body.contains("至少 41 分钟")
            && r.body.contains("未发送"),
        "{}",
        r.body
    );
    assert_eq!(delay_records(&p).await.len(), 2);
    assert!(delayed(&p.rx, 1, Duration::from_millis(1500)).is_empty());

    // Everyone reading the schedule sees the notices, oldest first.
    let v = srv.get(&format!("/api/v1/rounds/{round}/schedule")).json();
    let delays = v["delays"].as_array().unwrap();
    assert_eq!(delays.len(), 2, "{v}");
    assert_eq!(delays[0]["slot_ms"], slot);
    assert_eq!(delays[0]["point"], p.point.as_str());
    assert_eq!(delays[0]["point_name"], "银座小区北门");
    assert_eq!(delays[0]["minutes"], 20);
    assert_eq!(delays[0]["messages"], 1);
    assert_eq!(delays[1]["point"], p.point.as_str());
    assert_eq!(delays[1]["minutes"], 40);
    assert!(delays[1]["by"].as_str().is_some_and(|b| !b.is_empty()));
    // The point loses a station: the slot told is over the bound, and says
    // the groups were told of the latest delay; the page offers the form.
    let r = srv.post(
        &format!("/api/v1/points/{}", p.point),
        &json!({ "stations": 1 }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let v = srv.get(&format!("/api/v1/rounds/{round}/schedule")).json();
    let told = v["told_over_bound"].as_array().unwrap();
    let first = told
        .iter()
        .find(|t| t["starts_ms"] == slot)
        .unwrap_or_else(|| panic!("{v}"));
    assert_eq!(first["delayed_minutes"], 40, "{first}");
    // Its suggestion is later than the 40 told (the form starts at it).
    let suggested = first["suggested_minutes"].as_u64().unwrap();
    assert!(suggested >= 41 && suggested.is_multiple_of(5), "{first}");
    if let Some(other) = told.iter().find(|t| t["starts_ms"] == p.slots[1]) {
        assert_eq!(other["delayed_minutes"], Value::Null, "{other}");
    }
    // The page, as a browser reads it (session cookie, CSRF field).
    let pw = p
        .env
        .account("chief2", "street_commander", &["--street", "鸿城街道"]);
    let _ = srv.login("chief2", &pw);
    let browser = Browser::login(srv, "chief2", &format!("{pw}-changed"));
    let page = browser.get(&format!("/rounds/{round}/schedule"));
    assert_eq!(page.status, 200);
    assert!(
        page.body
            .contains(&format!(r#"action="/rounds/{round}/schedule/delay""#))
            && page.body.contains("通知延迟下楼")
            && page
                .body
                .contains(&format!(r#"name="minutes" value="{suggested}" min="41""#))
            && page.body.contains("新的时间须更晚"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains(r#"id="delays""#) && page.body.contains("通知推迟约 40 分钟"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("已通知相关群推迟约 40 分钟下楼"),
        "{}",
        page.body
    );
    // Its form tells the groups too, and refuses as the API does.
    let slot_s = slot.to_string();
    let refused = browser.post(
        &format!("/rounds/{round}/schedule/delay"),
        &[
            ("slot_ms", &slot_s),
            ("point", &p.point),
            ("minutes", "500"),
        ],
    );
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(
        refused.body.contains("延迟分钟数须为 5 到 240"),
        "{}",
        refused.body
    );
    let sent = browser.post(
        &format!("/rounds/{round}/schedule/delay"),
        &[("slot_ms", &slot_s), ("point", &p.point), ("minutes", "45")],
    );
    assert_eq!(sent.status, 303, "{}", sent.body);
    assert_eq!(delay_records(&p).await.len(), 3);

    // The command line too, by the slot's clock time.
    let out = p.env.cli_ok(&[
        "round",
        "delay",
        round,
        "--slot",
        &slot.to_string(),
        "--point",
        &p.point,
        "--minutes",
        "50",
    ]);
    assert!(out.contains("已排队 queued 1"), "{out}");
    let records = delay_records(&p).await;
    assert_eq!(records.len(), 4);
    assert!(records[3].contains("minutes=50"), "{records:?}");
    let sim = p.env.cli_ok(&["round", "simulate", "--round", round]);
    assert!(
        sim.contains("已通知的延迟下楼") && sim.contains("· 银座小区北门 · 推迟 delay 50 分钟"),
        "{sim}"
    );
    let help = p.env.cli_ok(&["round", "delay", "--help"]);
    assert!(help.starts_with("通知延迟下楼"), "{help}");
    tokio::time::sleep(Duration::from_millis(200)).await;
}

#[tokio::test]
async fn a_delay_nobody_can_be_told_is_refused_and_nothing_is_queued() {
    let p = pushed("json", "第6轮全员核酸", "银座小区南门", 5).await;
    let (srv, round, street) = (&p.srv, p.round.as_str(), p.street);
    let refused = |body: Value, status: u16, says: &str| {
        let r = delay(srv, round, body.clone());
        assert_eq!(r.status, status, "{body}: {}", r.body);
        assert!(r.body.contains(says), "{body}: {}", r.body);
    };
    // Never pushed, not begun: nobody was told.
    refused(
        json!({ "slot_ms": p.slots[3], "point": p.point, "minutes": 15 }),
        400,
        "还没有推送、也没有开始",
    );
    // Ended.
    refused(
        json!({ "slot_ms": p.past, "point": p.point, "minutes": 15 }),
        400,
        "已结束",
    );
    // No slot starts then: the slots that may be delayed are listed.
    refused(
        json!({ "slot_ms": p.slots[0] + MINUTE, "point": p.point, "minutes": 15 }),
        400,
        "可通知延迟的时段",
    );
    // Out of range.
    refused(
        json!({ "slot_ms": p.slots[0], "point": p.point, "minutes": 0 }),
        400,
        "延迟分钟数须为 5 到 240",
    );
    refused(
        json!({ "slot_ms": p.slots[0], "point": p.point, "minutes": 500 }),
        400,
        "延迟分钟数须为 5 到 240",
    );
    // No point named: a line is long at one point, and the others' groups
    // are not told theirs is.
    refused(
        json!({ "slot_ms": p.slots[0], "minutes": 15 }),
        422,
        "point",
    );
    // Not the round's managers.
    let community = p.store.communities(None, Some(street)).await.unwrap()[0].id;
    let grid = &p
        .store
        .grids(None, Some((street, community)))
        .await
        .unwrap()[0];
    let code = grid.code.clone().unwrap();
    let gl = p.env.account("gl", "grid_leader", &["--grid", &code]);
    let pm = p.env.account("pm", "point_manager", &["--point", &p.point]);
    for (who, pw) in [("gl", gl), ("pm", pm)] {
        let token = srv.login(who, &pw);
        let r = srv.with_token(&token).post(
            &format!("/api/v1/rounds/{round}/schedule/delay"),
            &json!({ "slot_ms": p.slots[0], "point": p.point, "minutes": 15 }),
        );
        assert_eq!(r.status, 403, "{who}: {}", r.body);
    }
    // No active channel: nothing queued, nothing recorded.
    let channels = srv
        .get(&format!("/api/v1/streets/{street}/alert-channels"))
        .json();
    let id = channels["items"][0]["channel"]
        .as_str()
        .unwrap()
        .to_string();
    let r = srv.post(&format!("/api/v1/alert-channels/{id}/remove"), &json!({}));
    assert!(r.status == 200 || r.status == 204, "{}", r.body);
    refused(
        json!({ "slot_ms": p.slots[0], "point": p.point, "minutes": 15 }),
        400,
        "没有可用的告警渠道",
    );
    let out = p.env.cli(&[
        "round",
        "delay",
        round,
        "--slot",
        &p.slots[3].to_string(),
        "--point",
        &p.point,
        "--minutes",
        "15",
    ]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("还没有推送"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(whats(srv, street, "call_delayed"), 0);
    assert!(delay_records(&p).await.is_empty());
    let v = srv.get(&format!("/api/v1/rounds/{round}/schedule")).json();
    assert_eq!(v["delays"], json!([]), "{v}");
    assert!(delayed(&p.rx, 1, Duration::from_millis(1500)).is_empty());
}
