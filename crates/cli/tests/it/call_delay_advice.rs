//! What the delay notice (延迟下楼) advises, over real HTTP and the command
//! line, both backends: a suggested delay for each slot told and over the
//! bound (the time the point's stations need to work the line down to the
//! bound, a multiple of 5, never less than a further notice must give) that
//! the page's form starts at and `round delay` without `--minutes` tells; a
//! warning, the notice sent all the same, when the new time falls in a later
//! slot of the point; the slot table marking a delayed slot; and `--slot
//! HH:MM` naming a slot past midnight by its clock time, refused with the
//! dates when two slots start then.

use std::time::Duration;

use gw_domain::notify::clock_text;
use gw_domain::schedule::hhmm;
use serde_json::{json, Value};

use crate::harness::{exec, query_strings, Server};
use crate::held_calls::{pushed, Pushed};
use crate::round_pages::Browser;

const MINUTE: i64 = 60_000;

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

fn schedule(srv: &Server, round: &str) -> Value {
    let r = srv.get(&format!("/api/v1/rounds/{round}/schedule"));
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

/// The delay the advice should suggest, worked out here from what the
/// schedule shows: (expected queue − bound) ÷ the point's people a minute,
/// rounded up to 5, within 5..240, never below `least`.
fn expected_suggestion(v: &Value, point: &str, expected_queue: f64, least: u32) -> (f64, u32) {
    let info = v["points"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == point)
        .unwrap_or_else(|| panic!("{v}"));
    let rate = info["measured_rate"]
        .as_f64()
        .unwrap_or_else(|| info["configured_rate"].as_f64().unwrap());
    let per_minute = info["stations"].as_f64().unwrap() * rate / 60.0;
    let bound = v["plan"]["params"]["max_queue"].as_f64().unwrap();
    let work = ((expected_queue - bound).max(0.0) / per_minute).ceil() as u32;
    let m = work.max(5).max(least).min(240);
    (per_minute, m.div_ceil(5) * 5)
}

/// The told slot over the bound starting at `slot`.
fn told(v: &Value, slot: i64) -> &Value {
    v["told_over_bound"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["starts_ms"] == slot)
        .unwrap_or_else(|| panic!("slot {slot} told and over the bound: {v}"))
}

/// The point's slots in the schedule: (start, end, buildings called).
fn point_slots(v: &Value) -> Vec<(i64, i64, Vec<String>)> {
    let mut out: Vec<(i64, i64, Vec<String>)> = v["plan"]["points"][0]["slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["starts_ms"].as_i64().unwrap(),
                s["ends_ms"].as_i64().unwrap(),
                s["calls"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c["building"].as_str().unwrap().to_string())
                    .collect(),
            )
        })
        .collect();
    out.sort();
    out
}

/// Whether the slot starting at `slot` has begun (with a few seconds to
/// spare: the server's clock read a moment ago).
fn begun(slot: i64) -> bool {
    gw_app::Clock::System.now_ms() + 5_000 >= slot
}

/// Loses the point a station: the slots told go over the bound.
fn one_station(p: &Pushed) {
    let r = p.srv.post(
        &format!("/api/v1/points/{}", p.point),
        &json!({ "stations": 1 }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
}

/// The street commander's second account, logged in through the form.
fn page_reader(p: &Pushed) -> Browser<'_> {
    let pw = p
        .env
        .account("chief2", "street_commander", &["--street", "鸿城街道"]);
    let _ = p.srv.login("chief2", &pw);
    Browser::login(&p.srv, "chief2", &format!("{pw}-changed"))
}

#[tokio::test]
async fn a_long_line_gets_a_suggested_delay_that_the_form_and_the_command_line_use() {
    let p = pushed("json", "第7轮全员核酸", "银座小区东门", 5).await;
    let (srv, round) = (&p.srv, p.round.as_str());
    let slot = p.slots[0];
    // Without the slot moved hours back (its people called and never
    // swabbed stall the point: 6 an hour), the point's pace is its
    // configured rate.
    exec(
        &p.store,
        &format!(
            "DELETE FROM schedule_call WHERE street_id = {} AND round_id = {} AND starts_ms = {}",
            p.street, p.rk.id, p.past
        ),
    )
    .await;
    one_station(&p);

    // The slot told and over the bound carries its suggestion, worked out
    // from the point's stations and rate.
    let v = schedule(srv, round);
    let t = told(&v, slot);
    let queue = t["expected_queue"].as_f64().unwrap();
    let (per_minute, want) = expected_suggestion(&v, &p.point, queue, 5);
    assert!(
        want < 200,
        "a delay a further notice can still pass: {t} {v}"
    );
    assert_eq!(t["suggested_minutes"], want, "{t}");
    assert!(
        (t["people_per_minute"].as_f64().unwrap() - per_minute).abs() < 1e-9,
        "{t}"
    );
    assert!(t["delayed_minutes"].is_null(), "nothing told yet: {t}");
    // The command line's schedule says it.
    let sim = p.env.cli_ok(&["round", "simulate", "--round", round]);
    assert!(
        sim.contains(&format!("建议推迟约 {want} 分钟"))
            && sim.contains(&format!("suggested: about {want} minutes")),
        "{sim}"
    );
    // The page's form starts at it, and the advice says it.
    let browser = page_reader(&p);
    let page = browser.get(&format!("/rounds/{round}/schedule"));
    assert_eq!(page.status, 200);
    assert!(
        page.body
            .contains(&format!(r#"name="minutes" value="{want}" min="5""#))
            && page.body.contains(&format!("建议推迟约 {want} 分钟")),
        "{}",
        page.body
    );

    // `round delay` without --minutes tells the suggestion.
    let out = p.env.cli_ok(&[
        "round",
        "delay",
        round,
        "--slot",
        &slot.to_string(),
        "--point",
        &p.point,
    ]);
    assert!(
        out.contains("已排队 queued 1") && out.contains(&format!("推迟 {want} 分钟（建议值）")),
        "{out}"
    );
    // (From the slot's start; from now once it has begun.)
    if !begun(slot) {
        assert!(
            out.contains(&format!("after {}", hhmm(slot + i64::from(want) * MINUTE))),
            "{out}"
        );
    }
    assert_eq!(
        delay_records(&p).await,
        vec![format!(
            "slot={slot} point={} minutes={want} messages=1",
            p.point
        )]
    );

    // Now a further notice must give a later time: the suggestion is never
    // less than the least that does, and `round delay` again is not
    // refused.
    let v = schedule(srv, round);
    let t = told(&v, slot);
    let again = t["suggested_minutes"]
        .as_u64()
        .unwrap_or_else(|| panic!("{t}"));
    assert!(again.is_multiple_of(5) && again >= 5, "{t}");
    assert_eq!(t["delayed_minutes"], want, "{t}");
    // Before the slot begins the least counts from its start: the time told
    // and a minute.
    if !begun(slot) {
        let least = want + 1;
        let (_, expect) = expected_suggestion(&v, &p.point, queue, least);
        assert_eq!(again, u64::from(expect), "{t}");
        assert!(expect > want, "{t}");
        let page = browser.get(&format!("/rounds/{round}/schedule"));
        assert!(
            page.body
                .contains(&format!(r#"name="minutes" value="{again}" min="{least}""#)),
            "{}",
            page.body
        );
    }
    let out = p.env.cli_ok(&[
        "round",
        "delay",
        round,
        "--slot",
        &slot.to_string(),
        "--point",
        &p.point,
    ]);
    assert!(
        out.contains(&format!("推迟 {again} 分钟（建议值）")),
        "{out}"
    );
    // The API without minutes: the suggestion too.
    let v = schedule(srv, round);
    let next = told(&v, slot)["suggested_minutes"].as_u64().unwrap();
    let r = srv.post(
        &format!("/api/v1/rounds/{round}/schedule/delay"),
        &json!({ "slot_ms": slot, "point": p.point }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["minutes"], next, "{}", r.body);
    assert_eq!(r.json()["suggested"], true, "{}", r.body);
    assert_eq!(delay_records(&p).await.len(), 3);

    // The slot table marks the delayed slot in its row, with the latest
    // notice; the slot not delayed carries no mark.
    let page = browser.get(&format!("/rounds/{round}/schedule"));
    let table = page
        .body
        .split(r#"<table id="calldown">"#)
        .nth(1)
        .unwrap_or_else(|| panic!("{}", page.body));
    let come_down = r.json()["come_down_ms"].as_i64().unwrap();
    let mark = format!("已通知推迟 {next} 分钟（{} 后）", hhmm(come_down));
    let row = table
        .split("<tr")
        .find(|r| r.contains(&format!("{}–", hhmm(slot))) && r.contains("delayed"))
        .unwrap_or_else(|| panic!("no delayed row: {table}"));
    assert!(row.contains(&mark), "{row}");
    assert_eq!(
        table.matches(r#"class="tag delayed""#).count(),
        1,
        "{table}"
    );
    let sim = p.env.cli_ok(&["round", "simulate", "--round", round]);
    assert!(sim.contains(&format!("已通知推迟 {next} 分钟")), "{sim}");
    // In English too.
    let en = browser.get(&format!("/rounds/{round}/schedule?lang=en"));
    if en.body.contains(r#"lang="en""#) {
        assert!(
            en.body.contains(&format!("told: {next} min later")),
            "{}",
            en.body
        );
    }
    // As a browser draws it.
    if crate::browser::browser_available("call_delay_advice") {
        let dir = tempfile::tempdir().unwrap();
        let chrome = crate::browser::Browser::start(dir.path().join("profile"));
        let origin = format!("http://{}", srv.addr);
        chrome.goto(&format!("{origin}/login"));
        chrome.exec(
            "document.cookie = arguments[0] + '; path=/';",
            json!([browser.cookie]),
        );
        chrome.goto(&format!("{origin}/rounds/{round}/schedule"));
        chrome.wait(
            "the delayed slot's mark",
            "document.querySelector('#calldown .tag.delayed')",
        );
        let shown = chrome.text("#calldown .tag.delayed");
        assert!(
            shown.contains(&format!("已通知推迟 {next} 分钟")),
            "{shown}"
        );
        for width in [1280, 360] {
            chrome.screenshot_at(
                "call-delay-advice-schedule",
                width,
                Some("#calldown .tag.delayed"),
            );
        }
    }
}

#[tokio::test]
async fn a_new_time_in_the_next_slot_is_told_with_a_warning_naming_it() {
    let p = pushed("json", "第8轮全员核酸", "银座小区西门", 5).await;
    let (srv, round) = (&p.srv, p.round.as_str());
    let slot = p.slots[0];
    let v = schedule(srv, round);
    let slots = point_slots(&v);
    let (_, ends, _) = slots.iter().find(|s| s.0 == slot).unwrap().clone();
    let (next_start, next_end, next_buildings) = slots
        .iter()
        .find(|s| s.0 > slot)
        .unwrap_or_else(|| panic!("{slots:?}"))
        .clone();
    assert_eq!(next_start, ends, "30-minute slots, one after the other");
    assert!(!next_buildings.is_empty(), "{slots:?}");

    // Ten minutes: before the next slot, no warning.
    let r = srv.post(
        &format!("/api/v1/rounds/{round}/schedule/delay"),
        &json!({ "slot_ms": slot, "point": p.point, "minutes": 10 }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let d = r.json();
    assert!(d["overlap"].is_null(), "{d}");
    assert_eq!(d["warnings"], json!([]), "{d}");

    // Forty: inside the next slot (30 in). Sent all the same, with a
    // warning naming that slot's time and buildings.
    let minutes = (next_start - slot) / MINUTE + 10;
    let r = srv.post(
        &format!("/api/v1/rounds/{round}/schedule/delay"),
        &json!({ "slot_ms": slot, "point": p.point, "minutes": minutes }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let d = r.json();
    assert_eq!(d["queued"], 1, "{d}");
    assert_eq!(d["overlap"]["starts_ms"], next_start, "{d}");
    assert_eq!(d["overlap"]["ends_ms"], next_end, "{d}");
    let warning = d["warnings"][0].as_str().unwrap_or_else(|| panic!("{d}"));
    let new = hhmm(d["come_down_ms"].as_i64().unwrap());
    assert!(
        warning.contains(&format!(
            "新的下楼时间 {new} 落在「银座小区西门」{}–{} 时段内",
            hhmm(next_start),
            hhmm(next_end)
        )) && warning.contains("两批居民会同时排队")
            && warning.contains("the two groups will queue together")
            && next_buildings.iter().all(|b| warning.contains(b.as_str())),
        "{warning}"
    );
    assert_eq!(delay_records(&p).await.len(), 2);

    // The schedule keeps it with the latest notice of the slot, not the
    // earlier one; the page lists it under the notices.
    let v = schedule(srv, round);
    let delays = v["delays"].as_array().unwrap();
    assert_eq!(delays.len(), 2, "{v}");
    assert!(delays[0]["overlap"].is_null(), "{v}");
    assert_eq!(delays[1]["overlap"]["starts_ms"], next_start, "{v}");
    let browser = page_reader(&p);
    let page = browser.get(&format!("/rounds/{round}/schedule"));
    let list = page
        .body
        .split(r#"id="delays""#)
        .nth(1)
        .unwrap_or_else(|| panic!("{}", page.body));
    assert!(
        list.contains("delay-overlap") && list.contains("两批居民会同时排队"),
        "{}",
        page.body
    );
    // The page's own form answers on the schedule, the warning under the
    // notices.
    let sent = browser.post(
        &format!("/rounds/{round}/schedule/delay"),
        &[
            ("slot_ms", &slot.to_string()),
            ("point", &p.point),
            ("minutes", &(minutes + 5).to_string()),
        ],
    );
    assert_eq!(sent.status, 303, "{}", sent.body);
    let v = schedule(srv, round);
    let latest = v["delays"][2]["come_down_ms"].as_i64().unwrap();
    let page = browser.get(&format!("/rounds/{round}/schedule"));
    assert!(
        page.body
            .contains(&format!("新的下楼时间 {} 落在", hhmm(latest))),
        "{}",
        page.body
    );

    // As a browser draws it.
    if crate::browser::browser_available("call_delay_advice") {
        let dir = tempfile::tempdir().unwrap();
        let chrome = crate::browser::Browser::start(dir.path().join("profile"));
        let origin = format!("http://{}", srv.addr);
        chrome.goto(&format!("{origin}/login"));
        chrome.exec(
            "document.cookie = arguments[0] + '; path=/';",
            json!([browser.cookie]),
        );
        chrome.goto(&format!("{origin}/rounds/{round}/schedule#delays"));
        chrome.wait("the warning", "document.querySelector('.delay-overlap')");
        assert!(
            chrome.text(".delay-overlap").contains("两批居民会同时排队"),
            "{}",
            chrome.text(".delay-overlap")
        );
        chrome.screenshot_at("call-delay-advice-overlap", 1280, Some(".delay-overlap"));
    }

    // The command line prints it after what it queued.
    let later = slots
        .iter()
        .filter(|s| s.0 > next_start)
        .min()
        .cloned()
        .unwrap_or_else(|| panic!("{slots:?}"));
    let into = (later.0 - next_start) / MINUTE + 5;
    let out = p.env.cli_ok(&[
        "round",
        "delay",
        round,
        "--slot",
        &next_start.to_string(),
        "--point",
        &p.point,
        "--minutes",
        &into.to_string(),
    ]);
    assert!(
        out.contains("已排队 queued 1")
            && out.contains("注意 warning: 新的下楼时间")
            && out.contains(&format!("{}–{}", hhmm(later.0), hhmm(later.1))),
        "{out}"
    );
    let sim = p.env.cli_ok(&["round", "simulate", "--round", round]);
    assert!(sim.contains("注意 warning: 新的下楼时间"), "{sim}");
    tokio::time::sleep(Duration::from_millis(200)).await;
}

#[tokio::test]
async fn a_clock_time_past_midnight_names_its_slot_whatever_the_date() {
    let p = pushed("json", "第9轮全员核酸", "银座小区南门", 5).await;
    let (street, round, rk) = (p.street, p.round.as_str(), p.rk);
    // Two pushed slots, moved past midnight: to 00:MM of the day after the
    // plan's last slot, a clock time no other slot starts at.
    let v = schedule(&p.srv, round);
    let slots = point_slots(&v);
    let last_end = slots.iter().map(|s| s.1).max().unwrap();
    let day = 86_400_000;
    let cst = 8 * 3_600_000;
    let midnight = (last_end + cst).div_euclid(day) * day + day - cst;
    let clocks: Vec<String> = slots.iter().map(|s| hhmm(s.0)).collect();
    let target = (30..)
        .step_by(5)
        .map(|m| midnight + m * MINUTE)
        .find(|t| !clocks.contains(&hhmm(*t)))
        .unwrap();
    let clock = hhmm(target);
    assert!(clock.starts_with("00:"), "{clock}");
    let move_slot = |from: i64, to: i64| {
        let store = &p.store;
        async move {
            exec(
                store,
                &format!(
                    "UPDATE schedule_call SET starts_ms = {to}, ends_ms = {} WHERE street_id = {street} AND round_id = {} AND starts_ms = {from}",
                    to + 30 * MINUTE,
                    rk.id
                ),
            )
            .await;
            exec(
                store,
                &format!("UPDATE audit_event SET detail = 'slot={to} messages=1' WHERE action = 'push_call_down' AND detail LIKE 'slot={from} %'"),
            )
            .await;
        }
    };
    move_slot(p.slots[1], target).await;
    let delay = |slot: &str| {
        p.env.cli(&[
            "round",
            "delay",
            round,
            "--slot",
            slot,
            "--point",
            &p.point,
            "--minutes",
            "10",
        ])
    };
    // 00:MM is not today's: it is the one slot starting then.
    let out = delay(&clock);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains(&clock_text(target)), "{said}");
    assert_eq!(
        delay_records(&p).await,
        vec![format!(
            "slot={target} point={} minutes=10 messages=1",
            p.point
        )]
    );
    // A clock time no slot starts at: refused, listing the slots that may
    // be delayed, with their dates.
    let out = delay("23:59");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("没有在 23:59 开始的叫号时段") && err.contains(&clock_text(target)),
        "{err}"
    );
    // Not a clock time at all.
    let out = delay("25:10");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("HH:MM"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A second slot at that clock time, a day later: the clock time alone
    // is refused, listing both with their dates; nothing is sent.
    move_slot(p.slots[0], target + day).await;
    let out = delay(&clock);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("有多个叫号时段在 {clock} 开始"))
            && err.contains(&clock_text(target))
            && err.contains(&clock_text(target + day))
            && err.contains("未发送"),
        "{err}"
    );
    assert_eq!(delay_records(&p).await.len(), 1);
    // With its date it goes out.
    let out = delay(&clock_text(target + day));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let records = delay_records(&p).await;
    assert_eq!(records.len(), 2);
    assert!(
        records[1].starts_with(&format!("slot={} ", target + day)),
        "{records:?}"
    );
    // --help says what a clock time names.
    let help = p.env.cli_ok(&["round", "delay", "--help"]);
    assert!(
        help.contains("跨午夜")
            && help.contains("whatever its date")
            && help.contains("suggestion"),
        "{help}"
    );
}
