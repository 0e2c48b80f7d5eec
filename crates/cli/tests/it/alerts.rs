//! After the lab: an abnormal pool pushed to a real local group-robot
//! receiver, disinfection tasks, retests that clear or confirm; and coverage
//! at every level, residents added after opening, round over round.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::{
    open_round, query_strings, residents_with_codes, round_body, Server, TestEnv,
};

/// A group robot on loopback: answers like WeCom and hands each request body
/// to the test.
pub(crate) fn robot() -> (String, mpsc::Receiver<(String, String)>) {
    robot_answering(r#"{"errcode":0,"errmsg":"ok"}"#, "test-key")
}

/// A WeCom-style robot on loopback answering every request with HTTP 200 and
/// `answer` (an error code, for a robot whose key was revoked), at a URL
/// with `key`; each request's head and body go to the test.
pub(crate) fn robot_answering(
    answer: &'static str,
    key: &str,
) -> (String, mpsc::Receiver<(String, String)>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            let (head, body) = loop {
                let n = s.read(&mut chunk).unwrap_or(0);
                if n == 0 {
                    break (String::new(), String::new());
                }
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf).to_string();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let len: usize = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse().unwrap())
                        })
                        .unwrap_or(0);
                    if body.len() >= len {
                        break (head.to_string(), body.to_string());
                    }
                }
            };
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                answer.len()
            );
            let _ = tx.send((head, body));
        }
    });
    (
        format!("http://127.0.0.1:{port}/cgi-bin/webhook/send?key={key}"),
        rx,
    )
}

struct World {
    env: TestEnv,
    srv: Server,
    street: i64,
    communities: Vec<i64>,
    /// resident id → personal code, in resident order.
    codes: Vec<(String, String)>,
}

async fn world(residents: &str) -> World {
    let env = TestEnv::new().await;
    env.cli_ok(&[
        "demo",
        "--residents",
        residents,
        "--seed",
        "11",
        "--no-serve",
    ]);
    let pw = env.account("chief", "street_commander", &["--street", "鸿城街道"]);
    let mut srv = env.serve();
    srv.token = Some(srv.login("chief", &pw));
    let store = env.store().await;
    let street = store.streets().await.unwrap()[0].id;
    let communities = store
        .communities(None, Some(street))
        .await
        .unwrap()
        .iter()
        .map(|c| c.id)
        .collect();
    let codes = residents_with_codes(|p| srv.get(p), "limit=1000");
    World {
        env,
        srv,
        street,
        communities,
        codes,
    }
}

fn round(srv: &Server, street: i64, name: &str, communities: &[String]) -> (String, i64) {
    let mut body = round_body(street, name);
    body["communities"] = json!(communities);
    let (id, opened) = open_round(|p, b| srv.post(p, b), &body);
    (id, opened["expected"].as_i64().unwrap())
}

fn point(srv: &Server, round: &str, street: i64, community: i64, name: &str) -> String {
    let r = srv.post(
        &format!("/api/v1/rounds/{round}/points"),
        &json!({ "name": name, "community": format!("{street}-{community}") }),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    r.json()["id"].as_str().unwrap().to_string()
}

fn tube(srv: &Server, point: &str, barcode: &str) -> String {
    let r = srv.post(
        &format!("/api/v1/points/{point}/tubes"),
        &json!({ "barcode": barcode }),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    r.json()["id"].as_str().unwrap().to_string()
}

fn swab(srv: &Server, tube: &str, client: &str, code: &str, purpose: &str) -> Value {
    let r = srv.post(
        &format!("/api/v1/tubes/{tube}/scans"),
        &json!({ "client_id": client, "code": code, "purpose": purpose }),
    );
    assert!(r.status == 200 || r.status == 201, "{}", r.body);
    r.json()
}

fn results(srv: &Server, round: &str, rows: Value) -> Value {
    let r = srv.post(
        &format!("/api/v1/rounds/{round}/results"),
        &json!({ "results": rows }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

async fn household_of(store: &gw_store::Store, resident: &str) -> i64 {
    let k: gw_domain::ids::Key = resident.parse().unwrap();
    store
        .resident(k.street, k.id)
        .await
        .unwrap()
        .household_id
        .unwrap()
}

/// Whether the order in force on a household at `at_ms` is temporary control.
async fn under_temporary_control(store: &gw_store::Store, household: i64, at_ms: i64) -> bool {
    use gw_domain::territory::{control_in_force, ControlStatus, ControlTarget};
    let street = store.streets().await.unwrap()[0].id;
    let history: Vec<_> = store
        .control_history(street, ControlTarget::Household, household)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.order)
        .collect();
    control_in_force(&history, at_ms).is_some_and(|o| o.status == ControlStatus::Temporary)
}

#[tokio::test]
async fn an_abnormal_pool_reaches_the_group_robot_and_retests_clear_or_confirm() {
    let w = world("200").await;
    let srv = &w.srv;
    let (url, bodies) = robot();
    // One working WeCom robot, and a Feishu robot nobody listens to.
    let wecom = srv.post(
        &format!("/api/v1/streets/{}/alert-channels", w.street),
        &json!({ "kind": "wecom", "url": url }),
    );
    assert_eq!(wecom.status, 200, "{}", wecom.body);
    let dead = srv.post(
        &format!("/api/v1/streets/{}/alert-channels", w.street),
        &json!({ "kind": "feishu", "url": "http://127.0.0.1:9/hook" }),
    );
    assert_eq!(dead.status, 200, "{}", dead.body);
    // A bad address or kind is refused with the reason.
    let bad = srv.post(
        &format!("/api/v1/streets/{}/alert-channels", w.street),
        &json!({ "kind": "sms", "url": url }),
    );
    assert_eq!(bad.status, 400, "{}", bad.body);
    let listed = srv
        .get(&format!("/api/v1/streets/{}/alert-channels", w.street))
        .json();
    assert!(
        !listed.to_string().contains("test-key"),
        "secrets are hidden: {listed}"
    );

    let (r, _) = round(srv, w.street, "全员核酸第2轮", &[]);
    let p = point(srv, &r, w.street, w.communities[0], "A区1号点");
    let pool_a = tube(srv, &p, "PA000001");
    let pool_b = tube(srv, &p, "PB000001");
    for i in 0..10 {
        swab(srv, &pool_a, &format!("a{i}"), &w.codes[i].1, "routine");
    }
    for i in 10..12 {
        swab(srv, &pool_b, &format!("b{i}"), &w.codes[i].1, "routine");
    }
    let sum = results(
        srv,
        &r,
        json!([{ "barcode": "PA000001", "result": "abnormal" }, { "barcode": "PB000001", "result": "阳性" }]),
    );
    assert_eq!(sum["alerts"].as_array().unwrap().len(), 2);
    assert_eq!(sum["disinfection_tasks"], 2);
    assert_eq!(sum["notifications"], 4, "two alerts × two channels");

    // The robot hears about both pools, in WeCom's format, with no names.
    let store = w.env.store().await;
    let mut seen = Vec::new();
    for _ in 0..2 {
        let (head, body) = bodies.recv_timeout(Duration::from_secs(10)).unwrap();
        assert!(
            head.starts_with("POST /cgi-bin/webhook/send?key=test-key HTTP/1.1"),
            "{head}"
        );
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["msgtype"], "text");
        let text = v["text"]["content"].as_str().unwrap().to_string();
        assert!(text.starts_with("【混管异常"), "{text}");
        for (id, _) in &w.codes[..12] {
            let k: gw_domain::ids::Key = id.parse().unwrap();
            let name = store.resident(k.street, k.id).await.unwrap().resident.name;
            assert!(!text.contains(&name), "no names in a group chat: {text}");
        }
        seen.push(text);
    }
    assert!(seen
        .iter()
        .any(|t| t.contains("PA000001") && t.contains("10 人")));
    assert!(seen
        .iter()
        .any(|t| t.contains("PB000001") && t.contains("2 人")));
    // Delivery is recorded; the dead robot's messages wait for a retry with the error.
    let mut states = Value::Null;
    for _ in 0..50 {
        states = srv
            .get(&format!("/api/v1/streets/{}/notifications", w.street))
            .json();
        let items = states["items"].as_array().unwrap();
        if items.iter().filter(|n| n["state"] == "delivered").count() == 2
            && items
                .iter()
                .filter(|n| n["attempts"] == 1 && n["state"] == "pending")
                .count()
                == 2
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let items = states["items"].as_array().unwrap();
    assert_eq!(items.len(), 4, "{states}");
    assert_eq!(
        items.iter().filter(|n| n["state"] == "delivered").count(),
        2,
        "{states}"
    );
    assert!(
        items
            .iter()
            .filter(|n| n["state"] == "pending")
            .all(|n| n["attempts"] == 1 && !n["last_error"].as_str().unwrap().is_empty()),
        "{states}"
    );

    // A disinfection task per pool's point; done once.
    let tasks = srv.get(&format!("/api/v1/rounds/{r}/disinfection")).json();
    let tasks = tasks["tasks"].as_array().unwrap().clone();
    assert_eq!(tasks.len(), 2);
    assert!(tasks
        .iter()
        .all(|t| t["state"] == "open" && t["point"] == p));
    let t0 = tasks[0]["task"].as_str().unwrap();
    assert_eq!(
        srv.post(&format!("/api/v1/disinfection/{t0}/done"), &json!({}))
            .status,
        200
    );
    assert_eq!(
        srv.post(&format!("/api/v1/disinfection/{t0}/done"), &json!({}))
            .status,
        409
    );
    // The other from the command line; `round alerts` lists both as done.
    let t1 = tasks[1]["task"].as_str().unwrap();
    let out = w.env.cli_ok(&["round", "disinfection-done", t1]);
    assert!(out.contains(t1) && out.contains("done"), "{out}");
    let again = w.env.cli(&["round", "disinfection-done", t1]);
    assert_eq!(again.status.code(), Some(1));
    let listed: Value =
        serde_json::from_str(&w.env.cli_ok(&["round", "alerts", &r, "--json"])).unwrap();
    let states: Vec<(&str, &str)> = listed["disinfection"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["task"].as_str().unwrap(), t["state"].as_str().unwrap()))
        .collect();
    assert_eq!(states.len(), 2, "{listed}");
    assert!(states.iter().all(|(_, s)| *s == "done"), "{listed}");
    let by_cli = srv.get(&format!("/api/v1/rounds/{r}/disinfection")).json();
    let done_by = by_cli["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["task"] == t1)
        .unwrap()["done_by"]
        .clone();
    assert!(done_by.as_str().unwrap().starts_with("cli:"), "{by_cli}");

    // Single-tube retests: pool A's ten come back negative but one; pool B's two negative.
    let mut rows = Vec::new();
    for i in 0..12 {
        let opened = srv.post(
            &format!("/api/v1/points/{p}/tubes"),
            &json!({ "barcode": format!("RT{i:06}"), "purpose": "retest" }),
        );
        assert_eq!(opened.status, 201, "{}", opened.body);
        let t = opened.json()["id"].as_str().unwrap().to_string();
        let s = swab(srv, &t, &format!("r{i}"), &w.codes[i].1, "retest");
        assert_eq!(s["problem"], "", "{s}");
        assert!(s["duplicate_of"].is_null(), "a retest is no duplicate: {s}");
        let result = if i == 3 { "abnormal" } else { "negative" };
        rows.push(json!({ "barcode": format!("RT{i:06}"), "result": result }));
    }
    let sum = results(srv, &r, json!(rows));
    assert_eq!(sum["retests_resolved"], 12);
    assert_eq!(sum["disinfection_tasks"], 0, "a retest opens no new task");
    let confirmed: Vec<&Value> = sum["alerts"].as_array().unwrap().iter().collect();
    assert_eq!(confirmed.len(), 1);
    assert_eq!(confirmed[0]["kind"], "confirmed");
    assert_eq!(confirmed[0]["members"][0]["id"], w.codes[3].0);
    let alerts = srv.get(&format!("/api/v1/rounds/{r}/alerts")).json();
    let by_barcode = |b: &str| {
        alerts["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["barcode"] == b)
            .unwrap()
            .clone()
    };
    assert_eq!(by_barcode("PA000001")["state"], "confirmed");
    assert_eq!(by_barcode("PA000001")["retests_open"], 0);
    // The retest tube's own alert reads confirmed on the alerts page, not
    // "awaiting retests", and names its one person as such.
    let page = srv.get(&format!("/rounds/{r}/alerts")).body;
    let rt = page
        .split("RT000003")
        .nth(1)
        .map(|rest| rest.split("</section>").next().unwrap_or(""))
        .unwrap_or_else(|| panic!("the retest tube's alert on {page}"));
    assert!(
        rt.contains("单管复检异常，待转运和流调")
            && rt.contains("被检人员")
            && !rt.contains("待复检"),
        "{rt}"
    );
    assert_eq!(by_barcode("PB000001")["state"], "cleared");
    assert_eq!(
        by_barcode("PA000001")["members"].as_array().unwrap().len(),
        10,
        "members stay listed after their retests"
    );

    // A household whose members all came back negative leaves temporary
    // control; the confirmed member's household stays under it.
    let now = gw_app::Clock::System.now_ms() + 1;
    let confirmed_home = household_of(&store, &w.codes[3].0).await;
    assert!(under_temporary_control(&store, confirmed_home, now).await);
    let mut released = std::collections::BTreeSet::new();
    for i in (0..12).filter(|&i| i != 3) {
        let h = household_of(&store, &w.codes[i].0).await;
        if h != confirmed_home {
            assert!(
                !under_temporary_control(&store, h, now).await,
                "member {i}'s household is released"
            );
            released.insert(h);
        }
    }
    assert!(!released.is_empty());
    assert!(
        sum["households_released"].as_u64().unwrap() >= released.len() as u64,
        "{sum}"
    );
    // The alerts count the households still held, not every member's: the
    // cleared pool none, the confirmed pool the confirmed member's alone.
    assert_eq!(by_barcode("PB000001")["households_under_control"], 0);
    assert_eq!(by_barcode("PA000001")["households_under_control"], 1);
    // A member of pool A synced late: their retest opens, but the alert a
    // confirmed retest made stays confirmed.
    let late = srv.post(
        &format!("/api/v1/tubes/{pool_a}/scans"),
        &json!({ "client_id": "a-late", "code": w.codes[20].1, "purpose": "routine", "scanned_ms": now - 3_600_000 }),
    );
    assert_eq!(late.status, 200, "{}", late.body);
    assert_eq!(late.json()["follow_up"], "retest", "{}", late.body);
    let alerts = srv.get(&format!("/api/v1/rounds/{r}/alerts")).json();
    let a = alerts["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["barcode"] == "PA000001")
        .unwrap()
        .clone();
    assert_eq!(
        (&a["state"], &a["retests_open"]),
        (&json!("confirmed"), &json!(1)),
        "{a}"
    );

    // Pool B's member swabbed into a second retest tube (their retest came
    // back negative): flagged, as is a retest of someone never in an
    // abnormal pool; the second comes back positive and outweighs the
    // first: pool B is confirmed, the household held again, and the pool's
    // result can no longer be corrected away.
    let opened = srv.post(
        &format!("/api/v1/points/{p}/tubes"),
        &json!({ "barcode": "RT000099", "purpose": "retest" }),
    );
    assert_eq!(opened.status, 201, "{}", opened.body);
    let t = opened.json()["id"].as_str().unwrap().to_string();
    let again = swab(srv, &t, "r-again", &w.codes[10].1, "retest");
    assert!(
        again["problem"]
            .as_str()
            .unwrap()
            .contains("no open single-tube retest"),
        "{again}"
    );
    let opened = srv.post(
        &format!("/api/v1/points/{p}/tubes"),
        &json!({ "barcode": "RT000098", "purpose": "retest" }),
    );
    let stranger = opened.json()["id"].as_str().unwrap().to_string();
    let s = swab(srv, &stranger, "r-stranger", &w.codes[40].1, "retest");
    assert!(
        s["problem"]
            .as_str()
            .unwrap()
            .contains("no open single-tube retest"),
        "{s}"
    );
    let home_b = household_of(&store, &w.codes[10].0).await;
    let now = gw_app::Clock::System.now_ms() + 1;
    assert!(!under_temporary_control(&store, home_b, now).await);
    let sum = results(
        srv,
        &r,
        json!([{ "barcode": "RT000099", "result": "abnormal" }, { "barcode": "RT000098", "result": "negative" }]),
    );
    assert_eq!(sum["retests_resolved"], 1, "{sum}");
    let alerts = srv.get(&format!("/api/v1/rounds/{r}/alerts")).json();
    let b = alerts["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["barcode"] == "PB000001")
        .unwrap()
        .clone();
    assert_eq!(b["state"], "confirmed", "{b}");
    let now = gw_app::Clock::System.now_ms() + 1;
    assert!(under_temporary_control(&store, home_b, now).await);
    let corrected = srv.post(
        &format!("/api/v1/rounds/{r}/results/corrections"),
        &json!({ "barcode": "PB000001", "result": "negative", "reason": "复核" }),
    );
    assert_eq!(corrected.status, 409, "{}", corrected.body);
}

/// An offline station's queue synced after the lab's result: the late
/// member of an abnormal pool is traced like the others (retest, household
/// under control, the alert open again and the group told); of an invalid
/// tube, re-sampled; of a negative one, nothing. A replay opens nothing twice.
#[tokio::test]
async fn a_swab_synced_after_its_tubes_result_is_followed_up_like_the_other_members() {
    let w = world("200").await;
    let srv = &w.srv;
    let store = w.env.store().await;
    let (url, bodies) = robot();
    let wecom = srv.post(
        &format!("/api/v1/streets/{}/alert-channels", w.street),
        &json!({ "kind": "wecom", "url": url }),
    );
    assert_eq!(wecom.status, 200, "{}", wecom.body);
    let (r, _) = round(srv, w.street, "全员核酸第5轮", &[]);
    let p = point(srv, &r, w.street, w.communities[0], "A区1号点");
    let (abnormal, invalid, negative) = (
        tube(srv, &p, "LA000001"),
        tube(srv, &p, "LI000001"),
        tube(srv, &p, "LN000001"),
    );
    // Late swabs are of residents in households nobody else in the tubes
    // lives in, so each control order seen below is the late swab's own.
    let household = |i: usize| {
        let store = &store;
        let id = w.codes[i].0.clone();
        async move { household_of(store, &id).await }
    };
    let mut early = Vec::new();
    for i in 0..9 {
        early.push(household(i).await);
    }
    let mut late = Vec::new();
    for i in 9..w.codes.len() - 1 {
        if !early.contains(&household(i).await) && late.len() < 4 {
            late.push(i);
        }
    }
    assert_eq!(late.len(), 4, "four residents of other households");
    for i in 0..3 {
        swab(srv, &abnormal, &format!("a{i}"), &w.codes[i].1, "routine");
        swab(
            srv,
            &invalid,
            &format!("i{i}"),
            &w.codes[3 + i].1,
            "routine",
        );
        swab(
            srv,
            &negative,
            &format!("n{i}"),
            &w.codes[6 + i].1,
            "routine",
        );
    }
    // Someone swabbed with an old printed code of a resident whose code was
    // reissued: the swab names nobody, but the alert points at that resident.
    let old_holder = w.codes.len() - 1;
    let reissued = srv.post(
        &format!("/api/v1/residents/{}/code/reissue", w.codes[old_holder].0),
        &json!({}),
    );
    assert_eq!(reissued.status, 200, "{}", reissued.body);
    let s = swab(srv, &abnormal, "a-old", &w.codes[old_holder].1, "routine");
    assert!(
        s["resident"].is_null() && s["problem"].as_str().unwrap().contains("revoked"),
        "{s}"
    );
    let sum = results(
        srv,
        &r,
        json!([{ "barcode": "LA000001", "result": "abnormal" }, { "barcode": "LI000001", "result": "invalid" }, { "barcode": "LN000001", "result": "negative" }]),
    );
    assert_eq!(sum["alerts"].as_array().unwrap().len(), 1, "{sum}");
    let traced = &sum["alerts"][0];
    assert_eq!(traced["member_count"], 3, "{traced}");
    assert_eq!(traced["unidentified"], 1, "{traced}");
    assert_eq!(traced["revoked_code_count"], 1, "{traced}");
    let page = srv.get(&format!("/rounds/{r}/alerts"));
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains(r#"class="list revoked-owners""#) && page.body.contains("旧码原属"),
        "{}",
        page.body
    );
    assert_eq!(
        traced["revoked_code_owners"][0]["id"],
        w.codes[old_holder].0.as_str(),
        "{traced}"
    );
    let (_, first) = bodies.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(first.contains("3 人"), "{first}");
    // The three members' retests come back negative: the alert is cleared.
    let mut rows = Vec::new();
    for i in 0..3 {
        let opened = srv.post(
            &format!("/api/v1/points/{p}/tubes"),
            &json!({ "barcode": format!("LR{i:06}"), "purpose": "retest" }),
        );
        assert_eq!(opened.status, 201, "{}", opened.body);
        let t = opened.json()["id"].as_str().unwrap().to_string();
        swab(srv, &t, &format!("r{i}"), &w.codes[i].1, "retest");
        rows.push(json!({ "barcode": format!("LR{i:06}"), "result": "negative" }));
    }
    results(srv, &r, json!(rows));
    let alert = |srv: &Server| {
        srv.get(&format!("/api/v1/rounds/{r}/alerts")).json()["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["barcode"] == "LA000001")
            .unwrap()
            .clone()
    };
    assert_eq!(alert(srv)["state"], "cleared");
    // The group is told the pool is cleared and how many households are released.
    let (_, cleared) = bodies.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(
        cleared.contains("复检全阴")
            && cleared.contains("LA000001")
            && cleared.contains("3 个单管复检均为阴性"),
        "{cleared}"
    );
    // Every household the pool held is counted released, not only the last
    // retest's (each retest tube is its own transaction).
    let store = w.env.store().await;
    let mut held = BTreeSet::new();
    for c in &w.codes[0..3] {
        held.insert(household_of(&store, &c.0).await);
    }
    assert!(
        cleared.contains(&format!("{} 户解除临时管控", held.len())),
        "{} households: {cleared}",
        held.len()
    );

    // A station's queue comes in after all that: one swab into each tube,
    // taken an hour ago.
    let hour_ago = gw_app::Clock::System.now_ms() - 3_600_000;
    let late_scan = |tube: &str, client: &str, i: usize| {
        let r = srv.post(
            &format!("/api/v1/tubes/{tube}/scans"),
            &json!({ "client_id": client, "code": w.codes[i].1, "purpose": "routine", "scanned_ms": hour_ago }),
        );
        assert!(r.status == 200 || r.status == 201, "{}", r.body);
        r.json()
    };
    let s = late_scan(&abnormal, "late-a", late[0]);
    assert_eq!(s["follow_up"], "retest", "{s}");
    assert!(s["problem"].as_str().unwrap().contains("resulted"), "{s}");
    let a = alert(srv);
    assert_eq!(a["state"], "open", "a retest is open again: {a}");
    assert_eq!(a["retests_open"], 1, "{a}");
    assert_eq!(a["member_count"], 4, "{a}");
    let now = gw_app::Clock::System.now_ms() + 1;
    let h = household(late[0]).await;
    assert!(under_temporary_control(&store, h, now).await);
    let (_, told) = bodies.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(told.contains("补录") && told.contains("LA000001"), "{told}");
    // The station's retry: the same answer, nothing opened or told twice.
    let again = late_scan(&abnormal, "late-a", late[0]);
    assert_eq!(again["replay"], true, "{again}");
    assert_eq!(again["follow_up"], "retest", "{again}");
    assert_eq!(alert(srv)["retests_open"], 1);
    assert!(bodies.recv_timeout(Duration::from_millis(1500)).is_err());
    let notes = srv
        .get(&format!("/api/v1/streets/{}/notifications", w.street))
        .json();
    assert_eq!(notes["items"].as_array().unwrap().len(), 3, "{notes}");
    // Its retest is swabbed by a station that went offline; the lab's
    // negative comes in before the swab syncs: the synced swab still clears
    // the retest, the alert is cleared again and the household released.
    let opened = srv.post(
        &format!("/api/v1/points/{p}/tubes"),
        &json!({ "barcode": "LR000009", "purpose": "retest" }),
    );
    assert_eq!(opened.status, 201, "{}", opened.body);
    let t = opened.json()["id"].as_str().unwrap().to_string();
    let swabbed_ms = gw_app::Clock::System.now_ms() - 60_000;
    let sum = results(
        srv,
        &r,
        json!([{ "barcode": "LR000009", "result": "negative" }]),
    );
    assert_eq!(sum["retests_resolved"], 0, "no swab in it yet: {sum}");
    assert_eq!(alert(srv)["state"], "open");
    let synced = srv.post(
        &format!("/api/v1/tubes/{t}/scans"),
        &json!({ "client_id": "r-late", "code": w.codes[late[0]].1, "purpose": "retest", "scanned_ms": swabbed_ms }),
    );
    assert_eq!(synced.status, 200, "{}", synced.body);
    assert_eq!(alert(srv)["state"], "cleared");
    assert_eq!(alert(srv)["retests_open"], 0);
    let now = gw_app::Clock::System.now_ms() + 1;
    assert!(!under_temporary_control(&store, h, now).await);

    // The invalid tube's late member is re-sampled; the negative tube's is done.
    let s = late_scan(&invalid, "late-i", late[1]);
    assert_eq!(s["follow_up"], "resample", "{s}");
    let tube_id = |k: &str| k.parse::<gw_domain::ids::Key>().unwrap();
    let resampled = store
        .follow_ups(w.street, tube_id(&invalid).id, "resample")
        .await
        .unwrap();
    let late_id = tube_id(&w.codes[late[1]].0).id;
    assert!(resampled.contains(&late_id), "{resampled:?}");
    assert_eq!(resampled.len(), 4);
    let s = late_scan(&negative, "late-n", late[2]);
    assert!(s["follow_up"].is_null(), "{s}");
    // A swab taken now, after the result, went into a tube already tested:
    // whatever the result, it is re-sampled.
    let r_now = srv.post(
        &format!("/api/v1/tubes/{negative}/scans"),
        &json!({ "client_id": "after-n", "code": w.codes[late[3]].1, "purpose": "routine" }),
    );
    assert_eq!(r_now.json()["follow_up"], "resample", "{}", r_now.body);
    // The round cannot close while the re-samples are open.
    for to in ["sampling_closed", "results_complete"] {
        let moved = srv.post(&format!("/api/v1/rounds/{r}/state"), &json!({ "to": to }));
        assert_eq!(moved.status, 200, "{to}: {}", moved.body);
    }
    let closing = srv.post(
        &format!("/api/v1/rounds/{r}/state"),
        &json!({ "to": "closed" }),
    );
    assert_eq!(closing.status, 400, "{}", closing.body);
    assert!(
        closing.body.contains("0 人待单管复检、5 人待重采"),
        "{}",
        closing.body
    );
    // The store checks it too, in the closing transaction (a lifted
    // exemption or a late follow-up committing at that moment is counted).
    let rk: gw_domain::ids::Key = r.parse().unwrap();
    let closed = store
        .move_round(
            rk.street,
            rk.id,
            "results_complete",
            "closed",
            gw_app::Clock::System.now_ms(),
            &Default::default(),
        )
        .await;
    assert!(
        matches!(closed, Err(gw_store::StoreError::Conflict(_))),
        "{closed:?}"
    );
}

/// Two members of one household, their retests posted by two requests at
/// the same moment: the alert is cleared and the household released (on
/// PostgreSQL each request must see the other's retest resolved).
#[tokio::test]
async fn retests_of_one_household_posted_at_once_clear_the_alert() {
    let w = world("200").await;
    let srv = &w.srv;
    let store = w.env.store().await;
    let (r, _) = round(srv, w.street, "全员核酸第6轮", &[]);
    let p = point(srv, &r, w.street, w.communities[0], "A区1号点");
    // Pairs of residents sharing a household.
    let mut by_household: std::collections::BTreeMap<i64, Vec<usize>> = Default::default();
    for i in 0..w.codes.len() {
        by_household
            .entry(household_of(&store, &w.codes[i].0).await)
            .or_default()
            .push(i);
    }
    let pairs: Vec<(i64, usize, usize)> = by_household
        .iter()
        .filter(|(_, m)| m.len() >= 2)
        .map(|(h, m)| (*h, m[0], m[1]))
        .take(8)
        .collect();
    assert_eq!(pairs.len(), 8);
    for (n, (h, b, c)) in pairs.iter().enumerate() {
        let pool = tube(srv, &p, &format!("HP{n:06}"));
        swab(srv, &pool, &format!("hp{n}b"), &w.codes[*b].1, "routine");
        swab(srv, &pool, &format!("hp{n}c"), &w.codes[*c].1, "routine");
        results(
            srv,
            &r,
            json!([{ "barcode": format!("HP{n:06}"), "result": "abnormal" }]),
        );
        for (who, i) in [("b", b), ("c", c)] {
            let opened = srv.post(
                &format!("/api/v1/points/{p}/tubes"),
                &json!({ "barcode": format!("HR{who}{n:05}"), "purpose": "retest" }),
            );
            assert_eq!(opened.status, 201, "{}", opened.body);
            let t = opened.json()["id"].as_str().unwrap().to_string();
            swab(srv, &t, &format!("hr{n}{who}"), &w.codes[*i].1, "retest");
        }
        std::thread::scope(|sc| {
            for who in ["b", "c"] {
                let r = &r;
                sc.spawn(move || {
                    results(
                        srv,
                        r,
                        json!([{ "barcode": format!("HR{who}{n:05}"), "result": "negative" }]),
                    )
                });
            }
        });
        let alerts = srv.get(&format!("/api/v1/rounds/{r}/alerts")).json();
        let a = alerts["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["barcode"] == format!("HP{n:06}"))
            .unwrap()
            .clone();
        assert_eq!(a["state"], "cleared", "pair {n}: {a}");
        let now = gw_app::Clock::System.now_ms() + 1;
        assert!(
            !under_temporary_control(&store, *h, now).await,
            "pair {n}: household {h} still under control"
        );
    }
}

/// Rounds compared in the order they opened, not the order they were made;
/// points compared with the point of the same name in the same community.
#[tokio::test]
async fn round_over_round_follows_when_rounds_opened_and_each_communitys_points() {
    // A street large enough for two communities.
    let env = TestEnv::new().await;
    env.cli_ok(&["demo", "--residents", "6000", "--seed", "11", "--no-serve"]);
    let pw = env.account("chief", "street_commander", &["--street", "鸿城街道"]);
    let mut srv = env.serve();
    srv.token = Some(srv.login("chief", &pw));
    let srv = &srv;
    let store = env.store().await;
    let street = store.streets().await.unwrap()[0].id;
    let communities: Vec<i64> = store
        .communities(None, Some(street))
        .await
        .unwrap()
        .iter()
        .map(|c| c.id)
        .collect();
    assert!(communities.len() >= 2, "{communities:?}");
    let made = |name: &str| {
        let r = srv.post("/api/v1/rounds", &round_body(street, name));
        assert_eq!(r.status, 201, "{}", r.body);
        r.json()["id"].as_str().unwrap().to_string()
    };
    let open = |r: &str| {
        let o = srv.post(&format!("/api/v1/rounds/{r}/open"), &json!({}));
        assert_eq!(o.status, 200, "{}", o.body);
    };
    // Friday's round is made first, Wednesday's second; Wednesday's opens first.
    let friday = made("周五轮");
    let wednesday = made("周三轮");
    open(&wednesday);
    // Each community has its own "1号点"; 3 people at A's, 5 at B's.
    let (ca, cb) = (communities[0], communities[1]);
    let in_community = |c: i64| {
        residents_with_codes(|p| srv.get(p), &format!("community={street}-{c}&limit=5"))
            .into_iter()
            .map(|(_, code)| code)
            .collect::<Vec<_>>()
    };
    let (codes_a, codes_b) = (in_community(ca), in_community(cb));
    assert_eq!((codes_a.len(), codes_b.len()), (5, 5));
    let pa = point(srv, &wednesday, street, ca, "1号点");
    let pb = point(srv, &wednesday, street, cb, "1号点");
    let (ta, tb) = (tube(srv, &pa, "WA000001"), tube(srv, &pb, "WB000001"));
    for (i, code) in codes_a[..3].iter().enumerate() {
        swab(srv, &ta, &format!("wa{i}"), code, "routine");
    }
    for (i, code) in codes_b.iter().enumerate() {
        swab(srv, &tb, &format!("wb{i}"), code, "routine");
    }
    open(&friday);
    point(srv, &friday, street, ca, "1号点");
    point(srv, &friday, street, cb, "1号点");
    let compare = |r: &str| {
        srv.get(&format!(
            "/api/v1/rounds/{r}/compare?community={}-{ca}",
            street
        ))
        .json()
    };
    let f = compare(&friday);
    assert_eq!(f["before"], wednesday.as_str(), "{f}");
    let points = f["points"].as_array().unwrap();
    assert_eq!(points.len(), 1, "only community A's points: {f}");
    assert_eq!(points[0]["people_before"], 3, "{f}");
    // Wednesday's round has nothing before it.
    assert!(compare(&wednesday)["before"].is_null());
    // The history lists the round opened last first.
    let h = srv
        .get(&format!(
            "/api/v1/streets/{}/coverage-history?rounds=10",
            street
        ))
        .json();
    let order: Vec<&str> = h["rounds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["round"].as_str().unwrap())
        .collect();
    assert_eq!(order, [friday.as_str(), wednesday.as_str()], "{h}");

    // One point of community A, outside any compound, planned for the whole
    // street: its territory is every building called there, in both
    // communities, whether the street's or community A's coverage is read.
    let sunday = made("周日轮");
    open(&sunday);
    let p = srv.post(&format!("/api/v1/rounds/{sunday}/points"), &json!({
        "name": "街面点", "community": format!("{street}-{ca}"), "stations": 50, "x_m": 0, "y_m": 0 }));
    assert_eq!(p.status, 201, "{}", p.body);
    let plan = srv.post(&format!("/api/v1/rounds/{sunday}/schedule"), &json!({}));
    assert_eq!(plan.status, 200, "{}", plan.body);
    let of = |q: &str| {
        let c = srv
            .get(&format!("/api/v1/rounds/{sunday}/coverage{q}"))
            .json();
        let p = c["points"][0].clone();
        (
            p["buildings"].as_u64().unwrap(),
            p["expected"].as_i64().unwrap(),
        )
    };
    let street_wide = of("");
    assert_eq!(street_wide.1, 6000, "everyone is called to the one point");
    assert_eq!(of(&format!("?community={street}-{ca}")), street_wide);
}

#[tokio::test]
async fn coverage_at_every_level_with_added_residents_and_round_over_round() {
    let w = world("300").await;
    let srv = &w.srv;
    let store = w.env.store().await;
    let c0 = w.communities[0];
    // Round 1 over the whole street: the first 60 residents sampled.
    let (r1, all) = round(srv, w.street, "第1轮", &[]);
    assert_eq!(all, 300);
    let p1 = point(srv, &r1, w.street, c0, "1号点");
    for chunk in 0..6 {
        let t = tube(srv, &p1, &format!("A{chunk:07}"));
        for i in chunk * 10..chunk * 10 + 10 {
            swab(srv, &t, &format!("r1-{i}"), &w.codes[i].1, "routine");
        }
    }
    // Round 2 over one community only.
    let in_c0: Vec<(String, String)> = {
        let mut v = Vec::new();
        for (id, code) in &w.codes {
            let k: gw_domain::ids::Key = id.parse().unwrap();
            if store.resident(k.street, k.id).await.unwrap().community_id == Some(c0) {
                v.push((id.clone(), code.clone()));
            }
        }
        v
    };
    let (r2, expected) = round(srv, w.street, "第2轮", &[format!("{}-{c0}", w.street)]);
    assert_eq!(expected as usize, in_c0.len());
    // A round over another community (an empty one here) expects nobody from this one.
    let other = store
        .ensure_community(w.street, "新建社区", None)
        .await
        .unwrap();
    let (r_other, elsewhere) = round(
        srv,
        w.street,
        "第2轮（其他社区）",
        &[format!("{}-{other}", w.street)],
    );
    assert_eq!(elsewhere, 300 - expected);
    // A resident registered after round 2 opened is counted as added, not expected.
    let first: gw_domain::ids::Key = in_c0[0].0.parse().unwrap();
    let household = store
        .resident(first.street, first.id)
        .await
        .unwrap()
        .household_id
        .unwrap();
    let newcomer = gw_domain::resident::NewResident::named("新来者");
    let mut tx = store.begin().await.unwrap();
    tx.insert_residents(
        first.street,
        &[gw_store::import::ResidentWrite {
            uid: "added-after-open".into(),
            household_id: Some(household),
            resident: &newcomer,
            status: "active",
        }],
        // Registered after the round opened (any time later than now will do).
        4_000_000_000_000,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    // Round 2 samples every other resident of the community.
    let p2 = point(srv, &r2, w.street, c0, "1号点");
    let sampled2: Vec<&(String, String)> = in_c0.iter().step_by(2).collect();
    for (n, chunk) in sampled2.chunks(10).enumerate() {
        let t = tube(srv, &p2, &format!("B{n:07}"));
        for (i, (_, code)) in chunk.iter().enumerate() {
            swab(srv, &t, &format!("r2-{n}-{i}"), code, "routine");
        }
    }
    let cov = srv
        .get(&format!("/api/v1/rounds/{r2}/coverage?by=community"))
        .json();
    assert_eq!(cov["rows"].as_array().unwrap().len(), 1, "{cov}");
    assert_eq!(cov["expected"], expected);
    assert_eq!(cov["sampled"], sampled2.len());
    assert_eq!(cov["missed"], expected as usize - sampled2.len());
    assert_eq!(cov["added"], 1, "{cov}");
    assert_eq!(cov["added_sampled"], 0);
    // The round's page and its live picture show the added resident not yet
    // swabbed, apart from the expected.
    let pw = w
        .env
        .account("viewer", "street_commander", &["--street", "鸿城街道"]);
    w.srv.login("viewer", &pw);
    let b = crate::round_pages::Browser::login(&w.srv, "viewer", &format!("{pw}-changed"));
    let page = b.get(&format!("/rounds/{r2}"));
    assert!(
        page.body
            .contains(r#"<b id="cov-added" class="warn">1 (1)</b>"#),
        "{}",
        page.body
    );
    let live = b.get(&format!("/rounds/{r2}/live"));
    assert!(
        live.body
            .contains(r#"<b id="live-added_missed" class="warn">1</b>"#),
        "{}",
        live.body
    );
    assert_eq!(cov["points"][0]["people"], sampled2.len());
    // Grid rows add up to the community; building rows inside a grid add up to the grid.
    let grids = srv
        .get(&format!(
            "/api/v1/rounds/{r2}/coverage?community={}-{c0}",
            w.street
        ))
        .json();
    assert_eq!(grids["by"], "grid");
    let rows = grids["rows"].as_array().unwrap();
    let sum = |rows: &[Value], k: &str| rows.iter().map(|r| r[k].as_i64().unwrap()).sum::<i64>();
    assert_eq!(sum(rows, "expected"), expected);
    let grid = rows[0]["key"].as_str().unwrap().to_string();
    let buildings = srv
        .get(&format!("/api/v1/rounds/{r2}/coverage?grid={grid}"))
        .json();
    assert_eq!(buildings["by"], "building");
    let brows = buildings["rows"].as_array().unwrap();
    assert_eq!(
        sum(brows, "expected"),
        rows[0]["expected"].as_i64().unwrap()
    );
    assert_eq!(sum(brows, "missed"), rows[0]["missed"].as_i64().unwrap());
    // Grouped coarser than the territory asked about: refused, not the
    // grid's counts under its community's name.
    let coarse = srv.get(&format!(
        "/api/v1/rounds/{r2}/coverage?by=community&grid={grid}"
    ));
    assert_eq!(coarse.status, 400, "{}", coarse.body);
    // A grid leader asking by community (none of which they may read) gets
    // their grids, not a street of zeros.
    let gk: gw_domain::ids::Key = grid.parse().unwrap();
    let code = store.grid(gk.street, gk.id).await.unwrap().code.unwrap();
    let pw = w.env.account("gl", "grid_leader", &["--grid", &code]);
    let token = srv.login("gl", &pw);
    let theirs = srv
        .with_token(&token)
        .get(&format!("/api/v1/rounds/{r2}/coverage?by=community"))
        .json();
    assert_eq!(theirs["by"], "grid", "{theirs}");
    let trows = theirs["rows"].as_array().unwrap();
    assert_eq!(trows.len(), 1, "{theirs}");
    assert_eq!(trows[0]["key"], grid.as_str());
    assert_eq!(trows[0]["expected"], rows[0]["expected"], "{theirs}");
    // The missed list of one building is exactly its expected, unsampled residents.
    let building = brows[0]["key"].as_str().unwrap();
    let missed = srv
        .get(&format!("/api/v1/rounds/{r2}/missed?building={building}"))
        .json();
    assert_eq!(
        missed["items"].as_array().unwrap().len() as i64,
        brows[0]["missed"].as_i64().unwrap()
    );
    let sampled_ids: BTreeSet<&str> = sampled2.iter().map(|c| c.0.as_str()).collect();
    assert!(missed["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| !sampled_ids.contains(m["id"].as_str().unwrap())));
    // The newcomer, not in the snapshot and not swabbed, is listed as added
    // in their community's missed list (and only there, not as expected).
    let community_missed = srv
        .get(&format!(
            "/api/v1/rounds/{r2}/missed?community={}-{c0}",
            w.street
        ))
        .json();
    let added: Vec<&str> = community_missed["added"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(added.len(), 1, "{community_missed}");
    assert!(added[0].starts_with('新'), "{added:?}");
    assert!(community_missed["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["name"] != added[0]));
    // Two territories at once is refused with the reason.
    assert_eq!(
        srv.get(&format!(
            "/api/v1/rounds/{r2}/missed?grid={grid}&building={building}"
        ))
        .status,
        400
    );
    // Round over round: who was sampled in round 1 and not (yet) in round 2.
    let cmp = srv
        .get(&format!(
            "/api/v1/rounds/{r2}/compare?community={}-{c0}",
            w.street
        ))
        .json();
    assert_eq!(cmp["before"], r1, "{cmp}");
    let sampled1: BTreeSet<&str> = w.codes[..60].iter().map(|c| c.0.as_str()).collect();
    let want: BTreeSet<String> = in_c0
        .iter()
        .filter(|(id, _)| sampled1.contains(id.as_str()) && !sampled_ids.contains(id.as_str()))
        .map(|(id, _)| id.clone())
        .collect();
    let lapsed = |cmp: &Value| -> BTreeSet<String> {
        cmp["lapsed"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(lapsed(&cmp), want);
    assert_eq!(
        sum(cmp["buildings"].as_array().unwrap(), "lapsed"),
        want.len() as i64
    );
    let pt = &cmp["points"][0];
    assert_eq!(pt["name"], "1号点");
    assert_eq!(pt["people"], sampled2.len());
    assert_eq!(pt["people_before"], 60);
    // Someone exempt from round 2 (away) is not lapsed.
    let away = want.iter().next().unwrap().clone();
    let r = srv.post(
        &format!("/api/v1/rounds/{r2}/exemptions"),
        &json!({ "resident": away, "reason": "away" }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let compare = |round: &str| {
        srv.get(&format!(
            "/api/v1/rounds/{round}/compare?community={}-{c0}",
            w.street
        ))
        .json()
    };
    let cmp = compare(&r2);
    let mut left = want.clone();
    left.remove(&away);
    assert_eq!(lapsed(&cmp), left);
    assert_eq!(
        sum(cmp["buildings"].as_array().unwrap(), "lapsed"),
        left.len() as i64
    );
    // Sampling of round 2 closes: its added are kept as they are now. Someone
    // registered afterwards is no "added, missed" of round 2.
    let moved = srv.post(
        &format!("/api/v1/rounds/{r2}/state"),
        &json!({ "to": "sampling_closed" }),
    );
    assert_eq!(moved.status, 200, "{}", moved.body);
    let latecomer = gw_domain::resident::NewResident::named("后来者");
    let mut tx = store.begin().await.unwrap();
    tx.insert_residents(
        first.street,
        &[gw_store::import::ResidentWrite {
            uid: "added-after-sampling".into(),
            household_id: Some(household),
            resident: &latecomer,
            status: "active",
        }],
        4_000_000_000_001,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let added_names = |round: &str| -> Vec<String> {
        srv.get(&format!(
            "/api/v1/rounds/{round}/missed?community={}-{c0}",
            w.street
        ))
        .json()["added"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["name"].as_str().unwrap().to_string())
            .collect()
    };
    let kept = added_names(&r2);
    assert!(kept.len() == 1 && kept[0].starts_with('新'), "{kept:?}");
    let cov = srv
        .get(&format!("/api/v1/rounds/{r2}/coverage?by=community"))
        .json();
    assert_eq!(cov["added"], 1, "{cov}");
    // An added resident can be exempt like an expected one: then not missed.
    let newcomer_id = format!(
        "{}-{}",
        first.street,
        store
            .resident_by_uid(first.street, "added-after-open")
            .await
            .unwrap()
            .unwrap()
            .0
    );
    let r = srv.post(
        &format!("/api/v1/rounds/{r2}/exemptions"),
        &json!({ "resident": newcomer_id, "reason": "in_hospital" }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(added_names(&r2).is_empty());
    let cov = srv
        .get(&format!("/api/v1/rounds/{r2}/coverage?by=community"))
        .json();
    assert_eq!(cov["added"], 0, "{cov}");
    // Not lost from every column: counted as an exempt newcomer.
    assert_eq!(cov["added_exempt"], 1, "{cov}");
    assert_eq!(cov["rows"][0]["added_exempt"], 1, "{cov}");
    // Someone a round does not count (living in another community) is not
    // exempted from it: a typo in the resident's id is told, not stored.
    let r = srv.post(
        &format!("/api/v1/rounds/{r_other}/exemptions"),
        &json!({ "resident": in_c0[1].0, "reason": "away" }),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("not in this round"), "{}", r.body);
    // Nor is a grid it does not cover given as a row of zeros (nobody
    // missed, it would seem): refused, naming what the round covers; its
    // missed list too.
    for path in [
        format!("/api/v1/rounds/{r_other}/coverage?grid={grid}"),
        format!("/api/v1/rounds/{r_other}/missed?grid={grid}"),
        format!("/api/v1/rounds/{r_other}/door-to-door?grid={grid}"),
    ] {
        let r = srv.get(&path);
        assert_eq!(r.status, 400, "{path}: {}", r.body);
        assert!(r.body.contains("outside the round"), "{}", r.body);
    }
    // Round 3 over this community compares with round 2, the last round that
    // expected anyone here, not with the round over the other community
    // opened in between.
    let (r3, _) = round(srv, w.street, "第3轮", &[format!("{}-{c0}", w.street)]);
    assert_eq!(compare(&r3)["before"], r2);
    // The run of rounds over this community, newest first, leaves out the
    // round over the other community; each round's totals are its coverage.
    let h = srv
        .get(&format!(
            "/api/v1/streets/{}/coverage-history?community={}-{c0}&rounds=10",
            w.street, w.street
        ))
        .json();
    let ids: Vec<&str> = h["rounds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["round"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [r3.as_str(), r2.as_str(), r1.as_str()], "{h}");
    let cov2 = srv
        .get(&format!(
            "/api/v1/rounds/{r2}/coverage?community={}-{c0}",
            w.street
        ))
        .json();
    for k in ["expected", "sampled", "exempt", "missed", "added"] {
        assert_eq!(h["rounds"][1][k], cov2[k], "{k}: {h}");
    }
    assert_eq!(h["rounds"][1]["nobody_missed"], false);
    assert_eq!(h["in_a_row"], 0, "round 3 has sampled nobody yet");
    let cli: Value = serde_json::from_str(&w.env.cli_ok(&[
        "round",
        "history",
        "--street",
        "鸿城街道",
        "--community",
        &format!("{}-{c0}", w.street),
        "--rounds",
        "2",
        "--json",
    ]))
    .unwrap();
    assert_eq!(cli["rounds"].as_array().unwrap().len(), 2);
    assert_eq!(cli["rounds"][1], h["rounds"][1]);
    // A point of round 3 stands in its territory, under a name of its own,
    // open while the round is.
    let r = srv.post(
        &format!("/api/v1/rounds/{r3}/points"),
        &json!({ "name": "别处的点", "community": format!("{}-{other}", w.street) }),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.body.contains("not in the round's territory"),
        "{}",
        r.body
    );
    let p3 = point(srv, &r3, w.street, c0, "1号点");
    let r = srv.post(
        &format!("/api/v1/rounds/{r3}/points"),
        &json!({ "name": " 1号点 ", "community": format!("{}-{c0}", w.street) }),
    );
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.body.contains(&p3), "{}", r.body);
    let r = srv.post(
        &format!("/api/v1/rounds/{r3}/points"),
        &json!({ "name": "2号点", "community": format!("{}-{c0}", w.street), "opens_ms": 4_102_444_900_000_i64, "closes_ms": 4_102_445_000_000_i64 }),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("overlap the round's window"), "{}", r.body);
    // A point added by mistake is removed; once gone, it is not found.
    let wrong = point(srv, &r3, w.street, c0, "点错了");
    let r = srv.post(&format!("/api/v1/points/{wrong}/remove"), &json!({}));
    assert_eq!(r.status, 200, "{}", r.body);
    let r = srv.post(&format!("/api/v1/points/{wrong}/remove"), &json!({}));
    assert_eq!(r.status, 404, "{}", r.body);
    // The next point gets a new id: the removed one names nothing else.
    let right = point(srv, &r3, w.street, c0, "点对了");
    let number = |k: &str| k.parse::<gw_domain::ids::Key>().unwrap().id;
    assert!(number(&right) > number(&wrong), "{right} after {wrong}");
    // A closed round's exemptions are its record: they no longer change.
    for to in ["sampling_closed", "results_complete", "closed"] {
        let moved = srv.post(&format!("/api/v1/rounds/{r3}/state"), &json!({ "to": to }));
        assert_eq!(moved.status, 200, "{to}: {}", moved.body);
    }
    let r = srv.post(
        &format!("/api/v1/rounds/{r3}/exemptions"),
        &json!({ "resident": in_c0[1].0, "reason": "away" }),
    );
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.body.contains("closed"), "{}", r.body);
    // Nor does lifting one, nor adding a point.
    let r = srv.post(
        &format!("/api/v1/rounds/{r3}/exemptions"),
        &json!({ "resident": in_c0[1].0, "reason": "none" }),
    );
    assert_eq!(r.status, 409, "{}", r.body);
    let r = srv.post(
        &format!("/api/v1/rounds/{r3}/points"),
        &json!({ "name": "迟到的点", "community": format!("{}-{c0}", w.street) }),
    );
    assert_eq!(r.status, 409, "{}", r.body);
    // Nor changing a point, nor issuing it supplies.
    let r = srv.post(&format!("/api/v1/points/{p3}"), &json!({ "stations": 9 }));
    assert_eq!(r.status, 409, "{}", r.body);
    let r = srv.post(&format!("/api/v1/points/{p3}/remove"), &json!({}));
    assert_eq!(r.status, 409, "{}", r.body);
    let r = srv.post(
        &format!("/api/v1/points/{p3}/supplies"),
        &json!({ "kind": "kits", "quantity": 5 }),
    );
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.body.contains("closed"), "{}", r.body);
}

#[tokio::test]
async fn rounds_and_alert_channels_from_the_command_line() {
    let env = TestEnv::new().await;
    env.cli_ok(&["demo", "--residents", "120", "--no-serve"]);
    let out = env.cli_ok(&[
        "round",
        "create",
        "--street",
        "鸿城街道",
        "--name",
        "全员核酸第1轮",
        "--starts",
        "2026-11-23 06:00",
        "--ends",
        "2026-11-23 18:00",
        "--pool",
        "5",
    ]);
    let round = out
        .split_whitespace()
        .find(|w| w.contains('-') && w.chars().next().unwrap().is_ascii_digit())
        .unwrap()
        .to_string();
    // A bad pool size or time is refused with the reason.
    let bad = env.cli(&[
        "round",
        "create",
        "--street",
        "鸿城街道",
        "--name",
        "x",
        "--starts",
        "2026-11-23 25:00",
        "--ends",
        "2026-11-23 18:00",
    ]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--starts"));
    env.cli_ok(&["round", "state", &round, "open"]);
    let listed: Value =
        serde_json::from_str(&env.cli_ok(&["round", "list", "--street", "鸿城街道", "--json"]))
            .unwrap();
    assert_eq!(listed["rounds"][0]["state"], "open");
    assert_eq!(listed["rounds"][0]["pool_size"], 5);
    let store = env.store().await;
    let street = store.streets().await.unwrap()[0].id;
    let community = store.communities(None, Some(street)).await.unwrap()[0].id;
    env.cli_ok(&[
        "round",
        "point",
        &round,
        "--name",
        "一号点",
        "--community",
        &format!("{street}-{community}"),
        "--x",
        "-120",
        "--y",
        "40",
    ]);
    // Where it stands, for the planner to call buildings near it.
    let round_key: gw_domain::ids::Key = round.parse().unwrap();
    let pts = store.schedule_points(street, round_key.id).await.unwrap();
    assert_eq!((pts[0].x_m, pts[0].y_m), (Some(-120), Some(40)));
    // No stations is refused, as a change of a running point is.
    let none = env.cli(&[
        "round",
        "point",
        &round,
        "--name",
        "二号点",
        "--community",
        &format!("{street}-{community}"),
        "--stations",
        "0",
    ]);
    assert!(!none.status.success());
    assert!(String::from_utf8_lossy(&none.stderr).contains("1 to 50"));
    let cov: Value = serde_json::from_str(&env.cli_ok(&[
        "round",
        "coverage",
        &round,
        "--by",
        "community",
        "--json",
    ]))
    .unwrap();
    // The API's shape: the totals at the top level.
    assert_eq!(cov["expected"], 120);
    assert_eq!(cov["missed"], 120);
    assert_eq!(cov["points"][0]["name"], "一号点");
    // For a person: a header, and each grid by its key and its name.
    let text = env.cli_ok(&["round", "coverage", &round]);
    assert!(text.contains("漏检") && text.contains("第1网格"), "{text}");
    let text = env.cli_ok(&[
        "round",
        "compare",
        &round,
        "--community",
        &format!("{street}-{community}"),
    ]);
    // The street's first round: nothing to compare with, said in words.
    assert!(text.contains("no earlier round"), "{text}");
    assert!(!text.trim_start().starts_with('{'), "{text}");
    // A channel, and a test message that reaches the robot.
    let (url, bodies) = robot();
    add_channel(&env, "dingtalk", &url);
    let out = env.cli_ok(&["alerts", "test", &format!("{street}-1")]);
    assert!(out.contains("已送达"), "{out}");
    let (_, body) = bodies.recv_timeout(Duration::from_secs(5)).unwrap();
    let v: Value = serde_json::from_str(&body).unwrap();
    assert!(v["text"]["content"].as_str().unwrap().contains("测试消息"));
    let dead = env.cli(&[
        "alerts",
        "add",
        "--street",
        "鸿城街道",
        "--kind",
        "feishu",
        "--url",
        "ftp://x",
    ]);
    assert!(!dead.status.success());
    // Removed, the channel is no longer listed (nor pushed to).
    let before: Value =
        serde_json::from_str(&env.cli_ok(&["alerts", "list", "--street", "鸿城街道", "--json"]))
            .unwrap();
    assert!(
        before["channels"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["channel"] == format!("{street}-1").as_str() && c["active"] == true),
        "{before}"
    );
    let out = env.cli_ok(&["alerts", "remove", &format!("{street}-1")]);
    assert!(out.contains("removed"), "{out}");
    let listed: Value =
        serde_json::from_str(&env.cli_ok(&["alerts", "list", "--street", "鸿城街道", "--json"]))
            .unwrap();
    assert!(
        listed["channels"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["channel"] != format!("{street}-1").as_str() || c["active"] == false),
        "{listed}"
    );
}

#[tokio::test]
async fn a_slots_call_down_list_is_pushed_to_the_group() {
    let w = world("200").await;
    let srv = &w.srv;
    let (url, bodies) = robot();
    srv.post(
        &format!("/api/v1/streets/{}/alert-channels", w.street),
        &json!({ "kind": "feishu", "url": url }),
    );
    let (r, _) = round(srv, w.street, "全员核酸第3轮", &[]);
    point(srv, &r, w.street, w.communities[0], "广场点");
    // Nothing planned yet: nothing to push (a preview is not a plan), and
    // the reason says so; nothing reaches the group.
    let early = srv.post(&format!("/api/v1/rounds/{r}/schedule/push"), &json!({}));
    assert_eq!(early.status, 400, "{}", early.body);
    assert!(early.body.contains("plan the round"), "{}", early.body);
    assert!(bodies.recv_timeout(Duration::from_millis(500)).is_err());
    let plan = srv.post(&format!("/api/v1/rounds/{r}/schedule"), &json!({}));
    assert_eq!(plan.status, 200, "{}", plan.body);
    let pushed = srv.post(&format!("/api/v1/rounds/{r}/schedule/push"), &json!({}));
    assert_eq!(pushed.status, 200, "{}", pushed.body);
    assert!(pushed.json()["queued"].as_i64().unwrap() >= 1);
    let (_, body) = bodies.recv_timeout(Duration::from_secs(10)).unwrap();
    let v: Value = serde_json::from_str(&body).unwrap();
    let text = v["content"]["text"].as_str().unwrap();
    assert!(
        text.contains("下楼通知") && text.contains("广场点"),
        "{text}"
    );
    let none = srv.post(
        &format!("/api/v1/rounds/{r}/schedule/push"),
        &json!({ "starts_ms": 1 }),
    );
    assert_eq!(none.status, 400, "{}", none.body);
    // The same slot again: refused, saying when it went out and by whom,
    // unless asked for again. (Asked for no slot, a push takes the next one
    // not pushed yet.)
    let schedule = srv.get(&format!("/api/v1/rounds/{r}/schedule")).json();
    let first = schedule["pushes"][0]["slot_ms"].as_i64().unwrap();
    let twice = srv.post(
        &format!("/api/v1/rounds/{r}/schedule/push"),
        &json!({ "starts_ms": first }),
    );
    assert_eq!(twice.status, 409, "{}", twice.body);
    assert!(twice.body.contains("was pushed at"), "{}", twice.body);
    let first_text = gw_domain::notify::clock_text(first);
    let refused = w.env.cli(&["round", "push", &r, "--starts", &first_text]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("--again")
            || String::from_utf8_lossy(&refused.stderr).contains("again"),
        "{refused:?}"
    );
    assert!(bodies.recv_timeout(Duration::from_millis(500)).is_err());
    // From the command line, asked again: queued, and the running server
    // delivers it.
    let out = w
        .env
        .cli_ok(&["round", "push", &r, "--starts", &first_text, "--again"]);
    assert!(out.contains("queued 1"), "{out}");
    let (_, again) = bodies.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(again.contains("下楼通知"), "{again}");
    let bad = w
        .env
        .cli(&["round", "push", &r, "--starts", "2001-01-01 00:00"]);
    assert!(!bad.status.success());
    // Once sampling has closed nobody is called down any more.
    let moved = srv.post(
        &format!("/api/v1/rounds/{r}/state"),
        &json!({ "to": "sampling_closed" }),
    );
    assert_eq!(moved.status, 200, "{}", moved.body);
    let late = srv.post(
        &format!("/api/v1/rounds/{r}/schedule/push"),
        &json!({ "again": true }),
    );
    assert_eq!(late.status, 409, "{}", late.body);
    assert!(late.body.contains("sampling is over"), "{}", late.body);
    assert!(bodies.recv_timeout(Duration::from_millis(500)).is_err());
}

/// Each slot pushed at the same moment through two stores of their own (two
/// connection pools, as two servers or the command line and a server have;
/// nothing in the process orders them, only the database): one push goes
/// out, the other is told it was pushed, and the group gets each call once.
#[tokio::test]
async fn a_slot_pushed_over_two_connections_at_once_goes_out_once() {
    let w = world("201").await;
    let srv = &w.srv;
    let (url, bodies) = robot();
    srv.post(
        &format!("/api/v1/streets/{}/alert-channels", w.street),
        &json!({ "kind": "wecom", "url": url }),
    );
    let (r, _) = round(srv, w.street, "全员核酸第4轮", &[]);
    point(srv, &r, w.street, w.communities[0], "广场点");
    let plan = srv.post(&format!("/api/v1/rounds/{r}/schedule"), &json!({}));
    assert_eq!(plan.status, 200, "{}", plan.body);
    let round: gw_domain::ids::Key = r.parse().unwrap();
    let clock = gw_app::Clock::System;
    let op = gw_app::access::Principal::operator("cli:test");
    let (a, b) = (w.env.store().await, w.env.store().await);
    let view = gw_app::schedule::view(&a, &clock, &op, round)
        .await
        .unwrap();
    let later = clock.now_ms() + 60_000;
    let mut slots: Vec<i64> = view
        .call_down
        .iter()
        .map(|c| c.starts_ms)
        .filter(|t| *t > later)
        .collect();
    slots.dedup();
    assert!(!slots.is_empty());
    for slot in &slots {
        let (x, y) = tokio::join!(
            gw_app::notify::push_call_down(&a, &clock, &op, round, Some(*slot), false),
            gw_app::notify::push_call_down(&b, &clock, &op, round, Some(*slot), false)
        );
        let refused = match (&x, &y) {
            (Ok(1), Err(e)) | (Err(e), Ok(1)) => e.to_string(),
            _ => panic!("slot {slot}: {x:?} {y:?}"),
        };
        assert!(refused.contains("was pushed at"), "{refused}");
    }
    for _ in &slots {
        let (_, body) = bodies.recv_timeout(Duration::from_secs(10)).unwrap();
        assert!(body.contains("下楼通知"), "{body}");
    }
    assert!(
        bodies.recv_timeout(Duration::from_millis(1500)).is_err(),
        "a call went out twice"
    );
}

/// `alerts add` for the demo street, with `more` arguments after the address.
fn alerts_add(env: &TestEnv, kind: &str, url: &str, more: &[&str]) -> std::process::Output {
    let mut args = vec![
        "alerts",
        "add",
        "--street",
        "鸿城街道",
        "--kind",
        kind,
        "--url",
        url,
    ];
    args.extend_from_slice(more);
    env.cli(&args)
}

/// A group robot channel of the demo street, from the command line.
fn add_channel(env: &TestEnv, kind: &str, url: &str) {
    let out = alerts_add(env, kind, url, &[]);
    assert!(out.status.success(), "{out:?}");
}

/// Two dispatchers that find the same message due (a running server and
/// `alerts test` from the command line, or two servers on one database): the
/// group gets it once, and both learn it arrived.
#[tokio::test]
async fn a_message_two_dispatchers_find_due_is_posted_once() {
    let env = TestEnv::new().await;
    env.cli_ok(&["demo", "--residents", "20", "--no-serve"]);
    let (url, bodies) = robot();
    add_channel(&env, "wecom", &url);
    let store = env.store().await;
    let street = store.streets().await.unwrap()[0].id;
    let clock = gw_app::Clock::System;
    let id = store
        .queue_notification(
            street,
            1,
            r#"{"msgtype":"text","text":{"content":"一次 once"}}"#,
            "other",
            clock.now_ms(),
            clock.now_ms() + 60_000,
        )
        .await
        .unwrap();
    let key = gw_domain::ids::Key { street, id };
    let (a, b) = tokio::join!(
        gw_app::notify::deliver_now(&store, &clock, key),
        gw_app::notify::deliver_now(&store, &clock, key)
    );
    assert!(matches!(a, Ok(Ok(()))), "{a:?}");
    assert!(matches!(b, Ok(Ok(()))), "{b:?}");
    let (_, body) = bodies.recv_timeout(Duration::from_secs(5)).unwrap();
    assert!(body.contains("once"));
    assert!(
        bodies.recv_timeout(Duration::from_millis(1500)).is_err(),
        "the message was posted twice"
    );
    // Asked again once delivered: told so, nothing posted.
    let again = gw_app::notify::deliver_now(&store, &clock, key).await;
    assert!(matches!(again, Ok(Ok(()))), "{again:?}");
    let (state, attempts, _) = store.notification_state(street, id).await.unwrap().unwrap();
    assert_eq!((state.as_str(), attempts), ("delivered", 1));
    // Delivered, it is no one's to claim again.
    let now = clock.now_ms();
    assert!(!store
        .claim_notification(street, id, now, now + 1_000)
        .await
        .unwrap());
}

/// A message past its expiry (a robot's test message after its minute, a
/// call-down list after its slot) is never posted, whether it expired
/// waiting or after a failed attempt; one still in time is.
#[tokio::test]
async fn a_stale_message_is_never_posted() {
    let env = TestEnv::new().await;
    env.cli_ok(&["demo", "--residents", "20", "--no-serve"]);
    let (url, bodies) = robot();
    add_channel(&env, "wecom", &url);
    // A robot nobody answers at: a port just freed.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!(
            "http://{}/cgi-bin/webhook/send?key=dead",
            l.local_addr().unwrap()
        )
    };
    add_channel(&env, "wecom", &dead);
    let store = env.store().await;
    let street = store.streets().await.unwrap()[0].id;
    let clock = gw_app::Clock::System;
    let now = clock.now_ms();
    let queue = |channel: i64, text: &'static str, expires_ms: i64| {
        let store = store.clone();
        async move {
            let body = format!(r#"{{"msgtype":"text","text":{{"content":"{text}"}}}}"#);
            let id = store
                .queue_notification(street, channel, &body, "other", now - 5_000, expires_ms)
                .await
                .unwrap();
            gw_domain::ids::Key { street, id }
        }
    };
    let stale = queue(1, "stale", now - 1_000).await;
    let fresh = queue(1, "fresh", now + 60_000).await;
    let sent = gw_app::notify::deliver_now(&store, &clock, stale).await;
    assert!(
        matches!(&sent, Ok(Err(e)) if e.contains("expired")),
        "{sent:?}"
    );
    let sent = gw_app::notify::deliver_now(&store, &clock, fresh).await;
    assert!(matches!(sent, Ok(Ok(()))), "{sent:?}");
    let (_, body) = bodies.recv_timeout(Duration::from_secs(5)).unwrap();
    assert!(body.contains("fresh"), "{body}");
    assert!(bodies.recv_timeout(Duration::from_millis(500)).is_err());
    // Its first attempt fails; the next (2 s later) would come after its
    // expiry. (Queued just now, so the second is enough to attempt it.)
    let failing = queue(2, "failing", clock.now_ms() + 1_000).await;
    let sent = gw_app::notify::deliver_now(&store, &clock, failing).await;
    assert!(matches!(sent, Ok(Err(_))), "{sent:?}");
    let mut states = Vec::new();
    for k in [stale, fresh, failing] {
        states.push(
            store
                .notification_state(street, k.id)
                .await
                .unwrap()
                .unwrap(),
        );
    }
    assert_eq!(states[0].0, "expired", "{states:?}");
    assert!(states[0].2.contains("expired"), "{states:?}");
    assert_eq!((states[0].1, states[1].1), (0, 1), "{states:?}");
    assert_eq!(states[1].0, "delivered");
    assert_eq!(
        (states[2].0.as_str(), states[2].1),
        ("expired", 1),
        "{states:?}"
    );
    // Nothing expired is due again, for any dispatcher.
    let due = store.due_notifications(now + 10_000_000, 50).await.unwrap();
    assert!(due.is_empty(), "{}", due.len());
}

/// A DingTalk and a Feishu robot whose security setting is "sign" (加签): each
/// message arrives signed with the channel's secret at sending time, the
/// secret is never shown back, and a secret for a robot that does not sign is
/// refused.
#[tokio::test]
async fn signed_dingtalk_and_feishu_robots_get_signed_messages() {
    let env = TestEnv::new().await;
    env.cli_ok(&["demo", "--residents", "20", "--no-serve"]);
    let secret = "SEC0123456789abcdef";
    let (url, bodies) = robot();
    let refused = alerts_add(&env, "wecom", &url, &["--secret", secret]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("DingTalk"));
    for kind in ["dingtalk", "feishu"] {
        let added = alerts_add(&env, kind, &url, &["--secret", secret]);
        assert!(added.status.success(), "{added:?}");
    }
    let store = env.store().await;
    let street = store.streets().await.unwrap()[0].id;
    let listed = env.cli_ok(&["alerts", "list", "--street", "鸿城街道"]);
    assert!(!listed.contains(secret), "the secret is never shown");
    assert_eq!(listed.matches("(加签 signed)").count(), 2, "{listed}");
    let before = gw_app::Clock::System.now_ms();
    for (channel, kind) in [(1, "dingtalk"), (2, "feishu")] {
        let out = env.cli_ok(&["alerts", "test", &format!("{street}-{channel}")]);
        assert!(out.contains("已送达"), "{out}");
        let (head, body) = bodies.recv_timeout(Duration::from_secs(5)).unwrap();
        let after = gw_app::Clock::System.now_ms();
        let target = head
            .lines()
            .next()
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .to_string();
        let v: Value = serde_json::from_str(&body).unwrap();
        let (sent_ms, kind) = match gw_domain::notify::ChannelKind::parse(kind).unwrap() {
            k @ gw_domain::notify::ChannelKind::DingTalk => {
                let ts: i64 = target
                    .split(['?', '&'])
                    .find_map(|p| p.strip_prefix("timestamp="))
                    .unwrap()
                    .parse()
                    .unwrap();
                assert!(target.contains("&sign="), "{target}");
                (ts, k)
            }
            k => {
                let ts: i64 = v["timestamp"].as_str().unwrap().parse().unwrap();
                assert!(v["sign"].as_str().is_some_and(|s| s.ends_with('=')), "{v}");
                assert!(v["content"]["text"].as_str().unwrap().contains("测试消息"));
                (ts * 1000, k)
            }
        };
        assert!(
            (before / 1000 * 1000..=after).contains(&sent_ms),
            "signed at sending time"
        );
        // What the robot checks: the same signature from the secret and the
        // timestamp it was given.
        let unsigned_target = target.split("&timestamp=").next().unwrap();
        let unsigned_body = match kind {
            gw_domain::notify::ChannelKind::Feishu => {
                let mut o = v.as_object().unwrap().clone();
                o.remove("timestamp");
                o.remove("sign");
                serde_json::to_string(&o).unwrap()
            }
            _ => body.clone(),
        };
        let (again_target, again_body) =
            gw_domain::notify::signed(kind, secret, unsigned_target, &unsigned_body, sent_ms);
        assert_eq!(again_target, target);
        if kind == gw_domain::notify::ChannelKind::Feishu {
            let again: Value = serde_json::from_str(&again_body).unwrap();
            assert_eq!(again["sign"], v["sign"]);
        }
    }
}

#[tokio::test]
async fn rounds_in_a_row_that_miss_nobody() {
    let w = world("40").await;
    let srv = &w.srv;
    // Round n swabs everyone, except one person exempt (in hospital) or,
    // in round 2, one person simply missed.
    let mut ids = Vec::new();
    for n in 1..=4 {
        let (r, expected) = round(srv, w.street, &format!("第{n}轮"), &[]);
        assert_eq!(expected, 40);
        let p = point(srv, &r, w.street, w.communities[0], "1号点");
        for (i, chunk) in w.codes.chunks(10).enumerate() {
            let t = tube(srv, &p, &format!("N{n}{i:06}"));
            for (j, (id, code)) in chunk.iter().enumerate() {
                let who = i * 10 + j;
                if who == 0 && n == 3 {
                    let x = srv.post(
                        &format!("/api/v1/rounds/{r}/exemptions"),
                        &json!({ "resident": id, "reason": "in_hospital" }),
                    );
                    assert_eq!(x.status, 200, "{}", x.body);
                    continue;
                }
                if who == 1 && n == 2 {
                    continue;
                }
                swab(srv, &t, &format!("n{n}-{who}"), code, "routine");
            }
        }
        ids.push(r);
    }
    let h = srv
        .get(&format!("/api/v1/streets/{}/coverage-history", w.street))
        .json();
    let got: Vec<(&str, bool, i64)> = h["rounds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["round"].as_str().unwrap(),
                r["nobody_missed"].as_bool().unwrap(),
                r["missed"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (ids[3].as_str(), true, 0),
            (ids[2].as_str(), true, 0),
            (ids[1].as_str(), false, 1),
            (ids[0].as_str(), true, 0),
        ],
        "{h}"
    );
    assert_eq!(h["in_a_row"], 2, "rounds 4 and 3; round 2 missed one");
    let cli: Value = serde_json::from_str(&w.env.cli_ok(&[
        "round",
        "history",
        "--street",
        "鸿城街道",
        "--json",
    ]))
    .unwrap();
    assert_eq!(cli["in_a_row"], 2);
    // Round 5 opens: nobody swabbed yet, but it is still sampling, so the run
    // stands; once its sampling closes with people missed, the run is broken.
    let (r5, _) = round(srv, w.street, "第5轮", &[]);
    let history = || {
        srv.get(&format!("/api/v1/streets/{}/coverage-history", w.street))
            .json()
    };
    let h = history();
    assert_eq!(h["rounds"][0]["round"], r5.as_str());
    assert_eq!(h["in_a_row"], 2, "{h}");
    let closed = srv.post(
        &format!("/api/v1/rounds/{r5}/state"),
        &json!({ "to": "sampling_closed" }),
    );
    assert_eq!(closed.status, 200, "{}", closed.body);
    assert_eq!(history()["in_a_row"], 0);
}

#[tokio::test]
async fn a_missed_list_lists_no_one_who_now_lives_where_its_reader_may_not_read() {
    // The smallest demo street with two grids.
    let w = world("1000").await;
    let srv = &w.srv;
    let (r, _) = round(srv, w.street, "全员核酸", &[]);
    let store = w.env.store().await;
    let comm = store.communities(None, Some(w.street)).await.unwrap()[0]
        .name
        .clone();
    const PLACE: &str = "FROM resident r JOIN household h ON h.street_id = r.street_id AND h.id = r.household_id \
        JOIN unit u ON u.street_id = h.street_id AND u.id = h.unit_id JOIN building b ON b.street_id = u.street_id AND b.id = u.building_id \
        JOIN grid g ON g.street_id = b.street_id AND g.id = b.grid_id";
    let mover = query_strings(
        &store,
        &format!(
            "SELECT CAST(r.id AS TEXT) {PLACE} WHERE g.name = '第1网格' ORDER BY r.id LIMIT 1"
        ),
    )
    .await;
    let elsewhere = query_strings(
        &store,
        "SELECT CAST(h.id AS TEXT) FROM household h JOIN unit u ON u.street_id = h.street_id AND u.id = h.unit_id \
         JOIN building b ON b.street_id = u.street_id AND b.id = u.building_id JOIN grid g ON g.street_id = b.street_id AND g.id = b.grid_id \
         WHERE g.name <> '第1网格' ORDER BY h.id LIMIT 1",
    )
    .await;
    let other_grid = query_strings(
        &store,
        &format!(
            "SELECT g.name || '|' || CAST(g.id AS TEXT) FROM household h JOIN unit u ON u.street_id = h.street_id AND u.id = h.unit_id \
             JOIN building b ON b.street_id = u.street_id AND b.id = u.building_id JOIN grid g ON g.street_id = b.street_id AND g.id = b.grid_id \
             WHERE h.id = {}",
            elsewhere.first().map_or("0", String::as_str)
        ),
    )
    .await;
    let grid = query_strings(
        &store,
        "SELECT CAST(id AS TEXT) FROM grid WHERE name = '第1网格'",
    )
    .await;
    assert_eq!(
        (mover.len(), elsewhere.len(), grid.len()),
        (1, 1, 1),
        "two grids"
    );
    let mover_key = format!("{}-{}", w.street, mover[0]);
    // They move to a flat of the other grid after the round opened.
    w.env.cli_ok(&[
        "resident",
        "move",
        &mover_key,
        "--household",
        &format!("{}-{}", w.street, elsewhere[0]),
    ]);
    check_moved(&w, &r, &comm, &grid[0], &mover_key);
    // The other grid's missed list has them, moved in (its coverage does not
    // count them: the opening's snapshot has them in grid 1), so someone
    // goes to their door; once swabbed they leave both lists.
    let (other_name, other_id) = other_grid[0].split_once('|').unwrap();
    let pw = w.env.account(
        "gl2",
        "grid_leader",
        &[
            "--street",
            "鸿城街道",
            "--community",
            &comm,
            "--grid",
            other_name,
        ],
    );
    let gl2 = w.srv.login("gl2", &pw);
    let theirs_path = format!("/api/v1/rounds/{r}/missed?grid={}-{other_id}", w.street);
    let in_moved = |v: &Value| {
        v["moved_in"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["id"] == mover_key.as_str())
    };
    let theirs = w.srv.with_token(&gl2).get(&theirs_path).json();
    assert!(in_moved(&theirs), "{theirs}");
    assert!(!theirs["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(theirs["added"].as_array().unwrap())
        .any(|x| x["id"] == mover_key.as_str()));
    let page = w
        .srv
        .with_token(&gl2)
        .get(&format!(
            "/rounds/{r}/missed?grid={}-{other_id}&page=999",
            w.street
        ))
        .body;
    assert!(page.contains("开轮后迁入"), "{page}");
    let cli = w.env.cli_ok(&[
        "round",
        "missed",
        &r,
        "--grid",
        &format!("{}-{other_id}", w.street),
    ]);
    assert!(
        cli.contains(
            "moved in since the round opened, not swabbed (counted where they lived then): 1"
        ),
        "{cli}"
    );
    let p = point(&w.srv, &r, w.street, w.communities[0], "迁入点");
    let t = tube(&w.srv, &p, "MV000001");
    let code = w
        .codes
        .iter()
        .find(|(id, _)| *id == mover_key)
        .map(|(_, c)| c.clone())
        .expect("the mover's code");
    swab(&w.srv, &t, "mv-1", &code, "routine");
    assert!(!in_moved(&w.srv.with_token(&gl2).get(&theirs_path).json()));
}

fn check_moved(w: &World, round: &str, comm: &str, grid: &str, mover: &str) {
    let path = format!("/api/v1/rounds/{round}/missed?grid={}-{grid}", w.street);
    let listed = |v: &Value| {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .chain(v["added"].as_array().unwrap())
            .any(|x| x["id"] == mover)
    };
    // The street's commander reads everyone: still missed in grid 1 (they
    // were expected there), listed.
    let all = w.srv.get(&path).json();
    assert!(listed(&all), "{all}");
    assert_eq!(all["moved_away"], 0);
    // Grid 1's leader may not read someone living in another grid today:
    // counted, not listed.
    let pw = w.env.account(
        "gl1",
        "grid_leader",
        &[
            "--street",
            "鸿城街道",
            "--community",
            comm,
            "--grid",
            "第1网格",
        ],
    );
    let gl = w.srv.login("gl1", &pw);
    let mine = w.srv.with_token(&gl).get(&path);
    assert_eq!(mine.status, 200, "{}", mine.body);
    let mine = mine.json();
    assert!(!listed(&mine), "{mine}");
    assert_eq!(mine["moved_away"], 1, "{mine}");
    // Their phone is out of reach: refused for the territory, not the role
    // (a grid leader may see phones, in their own grid).
    let reveal = w.srv.with_token(&gl).post(
        &format!("/api/v1/residents/{mover}/reveal"),
        &json!({ "field": "phone" }),
    );
    assert_eq!(reveal.status, 403, "{}", reveal.body);
    assert!(reveal.body.contains("不在您的辖区"), "{}", reveal.body);
    assert_eq!(
        mine["items"].as_array().unwrap().len() + 1,
        all["items"].as_array().unwrap().len()
    );
}

/// The lab corrects results it sent: a negative pool that was abnormal is
/// traced at once; an abnormal pool that was negative has its alert
/// withdrawn, its open retests cancelled and its households released, and
/// the robot is told; an invalid tube's re-samples go; flipped back, the
/// alert and retests open again (not made twice). Every correction needs a
/// reason and is audited; the CLI does the same.
#[tokio::test]
async fn the_labs_corrected_results_undo_and_redo_what_a_result_sets_in_motion() {
    let w = world("200").await;
    let srv = &w.srv;
    let (round, _) = round(srv, w.street, "更正轮", &[]);
    let p = point(srv, &round, w.street, w.communities[0], "1号点");
    let tubes: Vec<String> = ["K0000001", "K0000002", "K0000003"]
        .iter()
        .map(|b| tube(srv, &p, b))
        .collect();
    for (t, tube_id) in tubes.iter().enumerate() {
        for i in 0..5 {
            let n = t * 5 + i;
            swab(srv, tube_id, &format!("k{n}"), &w.codes[n].1, "routine");
        }
    }
    let (url, bodies) = robot();
    add_channel(&w.env, "json", &url);
    results(
        srv,
        &round,
        json!([
            { "barcode": "K0000001", "result": "negative" },
            { "barcode": "K0000002", "result": "abnormal" },
            { "barcode": "K0000003", "result": "invalid" },
        ]),
    );
    let _ = bodies.recv_timeout(Duration::from_secs(10)).unwrap();
    let correct = |barcode: &str, result: &str, reason: &str| {
        srv.post(
            &format!("/api/v1/rounds/{round}/results/corrections"),
            &json!({ "barcode": barcode, "result": result, "reason": reason }),
        )
    };
    // No reason, a reason with a NUL, no such tube: refused, nothing changed.
    let r = correct("K0000001", "abnormal", " ");
    assert_eq!(r.status, 400, "{}", r.body);
    let r = correct("K0000002", "negative", "更正\u{0}");
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("NUL character"), "{}", r.body);
    let r = correct("K0000002", "negative", "更正\u{7}");
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("control character"), "{}", r.body);
    let r = correct("K9999999", "abnormal", "更正报告");
    assert_eq!(r.status, 400, "{}", r.body);
    let store = w.env.store().await;
    let k: gw_domain::ids::Key = round.parse().unwrap();
    let open = |kind: &'static str| {
        let store = store.clone();
        async move {
            store
                .round_follow_ups(k.street, k.id)
                .await
                .unwrap()
                .into_iter()
                .filter(|f| f.kind == kind && f.state == "open")
                .count()
        }
    };
    assert_eq!((open("retest").await, open("resample").await), (5, 5));

    // Negative → abnormal: traced at once.
    let r = correct("K0000001", "阳性", "实验室更正报告 No.7");
    assert_eq!(r.status, 200, "{}", r.body);
    let c = r.json();
    assert_eq!(
        (c["before"].clone(), c["after"].clone()),
        (json!("negative"), json!("abnormal"))
    );
    assert_eq!(c["alert"]["member_count"], 5, "{c}");
    assert_eq!(open("retest").await, 10);
    let h0 = household_of(&store, &w.codes[0].0).await;
    let now = gw_app::Clock::System.now_ms();
    assert!(under_temporary_control(&store, h0, now + 1).await);

    // Abnormal → negative: the alert is withdrawn, its retests cancelled,
    // its households released, and the robot told.
    let c = correct("K0000002", "negative", "复核为阴性").json();
    assert!(c["withdrawn_alert"].as_str().is_some(), "{c}");
    assert_eq!(c["cancelled"], 5, "{c}");
    assert!(c["released"].as_u64().unwrap() >= 1, "{c}");
    assert_eq!(open("retest").await, 5);
    // A household of the withdrawn pool's and of no abnormal pool's member.
    let mut traced = BTreeSet::new();
    for c in &w.codes[..5] {
        traced.insert(household_of(&store, &c.0).await);
    }
    let mut released = None;
    for c in &w.codes[5..10] {
        let h = household_of(&store, &c.0).await;
        if !traced.contains(&h) {
            released = Some(h);
        }
    }
    let released = released.expect("a household of the second tube alone");
    let later = gw_app::Clock::System.now_ms() + 1;
    assert!(!under_temporary_control(&store, released, later).await);
    let mut said = String::new();
    while let Ok((_, body)) = bodies.recv_timeout(Duration::from_secs(10)) {
        said.push_str(&body);
        if said.contains("结果更正") {
            break;
        }
    }
    assert!(
        said.contains("结果更正") && said.contains("K0000002"),
        "{said}"
    );
    let alerts = srv.get(&format!("/api/v1/rounds/{round}/alerts")).json();
    let states: Vec<(String, String)> = alerts["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["barcode"].as_str().unwrap().to_string(),
                a["state"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        states.contains(&("K0000002".into(), "withdrawn".into())),
        "{states:?}"
    );
    // Its point's disinfection, not done yet, is called off; the other
    // abnormal pool's stays open.
    assert_eq!(c["disinfection_withdrawn"], true, "{c}");
    let alert_of = |barcode: &str, alerts: &Value| {
        alerts["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["barcode"] == barcode)
            .map(|a| a["alert"].as_str().unwrap().to_string())
            .unwrap()
    };
    let (k1, k2) = (alert_of("K0000001", &alerts), alert_of("K0000002", &alerts));
    let task_state = |alert: &str| {
        let tasks = srv
            .get(&format!("/api/v1/rounds/{round}/disinfection"))
            .json();
        tasks["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["alert"] == alert)
            .map(|t| t["state"].as_str().unwrap().to_string())
            .unwrap()
    };
    assert_eq!(task_state(&k2), "withdrawn");
    assert_eq!(task_state(&k1), "open");
    let page = srv.get(&format!("/rounds/{round}/disinfection"));
    assert!(
        page.body.contains("已撤销：结果更正为非异常"),
        "{}",
        page.body
    );
    let page = srv.get(&format!("/rounds/{round}/alerts"));
    assert!(page.body.contains("消杀已撤销"), "{}", page.body);

    // Invalid → negative: its re-samples go.
    let c = correct("K0000003", "negative", "复测有效").json();
    assert_eq!(c["cancelled"], 5, "{c}");
    assert_eq!(open("resample").await, 0);

    // Flipped back (the lab's second correction): the alert and its retests
    // open again, the same alert, not a second one.
    let c = correct("K0000002", "abnormal", "第二次更正").json();
    assert_eq!(c["alert"]["member_count"], 5, "{c}");
    assert_eq!(open("retest").await, 10);
    assert_eq!(task_state(&k2), "open", "its disinfection is due again");
    let again = srv.get(&format!("/api/v1/rounds/{round}/alerts")).json();
    assert_eq!(
        again["alerts"].as_array().unwrap().len(),
        alerts["alerts"].as_array().unwrap().len(),
        "{again}"
    );
    // The same result again changes nothing.
    let c = correct("K0000002", "abnormal", "重复").json();
    assert_eq!(c["changed"], false, "{c}");
    // A member's single-tube retest comes back positive: the pool's result
    // is no longer the lab's to correct, and their household stays held.
    let r = srv.post(
        &format!("/api/v1/points/{p}/tubes"),
        &json!({ "barcode": "KR000001", "purpose": "retest" }),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let rt = r.json()["id"].as_str().unwrap().to_string();
    swab(srv, &rt, "kr", &w.codes[5].1, "retest");
    results(
        srv,
        &round,
        json!([{ "barcode": "KR000001", "result": "abnormal" }]),
    );
    let h = household_of(&store, &w.codes[5].0).await;
    let r = correct("K0000002", "negative", "想撤回");
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.body.contains("confirmed positive"), "{}", r.body);
    assert!(under_temporary_control(&store, h, gw_app::Clock::System.now_ms() + 1).await);
    // From the command line, with the reason in the audit log.
    let out: Value = serde_json::from_str(&w.env.cli_ok(&[
        "results",
        "correct",
        "--round",
        &round,
        "--barcode",
        "K0000003",
        "--result",
        "无效",
        "--reason",
        "样本溶血",
        "--json",
    ]))
    .unwrap();
    assert_eq!(
        (out["before"].clone(), out["after"].clone()),
        (json!("negative"), json!("invalid"))
    );
    assert_eq!(open("resample").await, 5);
    // Abnormal → invalid: the alert is withdrawn and the pool swabbed again;
    // the robot says both.
    let c = correct("K0000001", "invalid", "对照失效").json();
    assert!(c["withdrawn_alert"].as_str().is_some(), "{c}");
    assert_eq!(open("resample").await, 10);
    let mut said = String::new();
    while let Ok((_, body)) = bodies.recv_timeout(Duration::from_secs(10)) {
        said.push_str(&body);
        if said.contains("更正为无效") {
            break;
        }
    }
    assert!(
        said.contains("更正为无效") && said.contains("K0000001") && said.contains("须重新采样"),
        "{said}"
    );
    let audit = store.audit_events(None, None, None, 200).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.action == "correct_result" && e.detail.contains("样本溶血")),
        "{audit:?}"
    );
}

/// The lab corrects a result after the round was closed: the pool is traced
/// as ever, and its members' single-tube retests are still swabbed and
/// answered in that round (before, a closed round refused retest tubes, so
/// those follow-ups could never be done).
#[tokio::test]
async fn retests_a_correction_opens_after_the_round_closed_are_swabbed_and_answered() {
    let w = world("200").await;
    let srv = &w.srv;
    let (r, _) = round(srv, w.street, "已结束轮", &[]);
    let p = point(srv, &r, w.street, w.communities[0], "1号点");
    let pool = tube(srv, &p, "KC000001");
    for i in 0..3 {
        swab(srv, &pool, &format!("kc{i}"), &w.codes[i].1, "routine");
    }
    results(
        srv,
        &r,
        json!([{ "barcode": "KC000001", "result": "negative" }]),
    );
    for to in ["sampling_closed", "results_complete", "closed"] {
        let moved = srv.post(&format!("/api/v1/rounds/{r}/state"), &json!({ "to": to }));
        assert_eq!(moved.status, 200, "{to}: {}", moved.body);
    }
    // A pooled tube is refused in the closed round, as before.
    let refused = srv.post(
        &format!("/api/v1/points/{p}/tubes"),
        &json!({ "barcode": "KC000002" }),
    );
    assert_eq!(refused.status, 400, "{}", refused.body);
    let c = srv
        .post(
            &format!("/api/v1/rounds/{r}/results/corrections"),
            &json!({ "barcode": "KC000001", "result": "阳性", "reason": "更正报告" }),
        )
        .json();
    assert_eq!(c["alert"]["member_count"], 3, "{c}");
    let k: gw_domain::ids::Key = r.parse().unwrap();
    let store = w.env.store().await;
    let open_retests = || async {
        store
            .round_follow_ups(k.street, k.id)
            .await
            .unwrap()
            .into_iter()
            .filter(|f| f.kind == "retest" && f.state == "open")
            .count()
    };
    assert_eq!(open_retests().await, 3);
    // A member's single-tube retest: opened, swabbed with no problem, and
    // its negative result resolves their retest.
    let rt = srv.post(
        &format!("/api/v1/points/{p}/tubes"),
        &json!({ "barcode": "KR100001", "purpose": "retest" }),
    );
    assert_eq!(rt.status, 201, "{}", rt.body);
    let rt = rt.json()["id"].as_str().unwrap().to_string();
    let s = swab(srv, &rt, "kr0", &w.codes[0].1, "retest");
    assert_eq!(s["problem"], "", "{s}");
    results(
        srv,
        &r,
        json!([{ "barcode": "KR100001", "result": "negative" }]),
    );
    assert_eq!(open_retests().await, 2);
    // Resulted but never bagged (carried to the lab by hand): the packing
    // table lists them to bag, as the reconciliation counts them unbagged.
    let table = srv.get(&format!("/api/v1/points/{p}/packing")).json();
    let loose: Vec<&str> = table["tubes_to_bag"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["barcode"].as_str().unwrap())
        .collect();
    assert_eq!(loose, vec!["KC000001", "KR100001"], "{table}");
}

/// A member's retest swab is in the lab when the pool's result is corrected
/// to negative (the alert withdrawn, the households released); the retest
/// then comes back positive: that household is held again, by the confirmed
/// alert itself.
#[tokio::test]
async fn a_positive_retest_after_its_pool_was_withdrawn_holds_the_household_again() {
    let w = world("200").await;
    let srv = &w.srv;
    let (r, _) = round(srv, w.street, "撤回后复检阳性", &[]);
    let p = point(srv, &r, w.street, w.communities[0], "1号点");
    let pool = tube(srv, &p, "KW000001");
    for i in 0..3 {
        swab(srv, &pool, &format!("kw{i}"), &w.codes[i].1, "routine");
    }
    results(
        srv,
        &r,
        json!([{ "barcode": "KW000001", "result": "abnormal" }]),
    );
    let rt = srv.post(
        &format!("/api/v1/points/{p}/tubes"),
        &json!({ "barcode": "KWR00001", "purpose": "retest" }),
    );
    assert_eq!(rt.status, 201, "{}", rt.body);
    let rt = rt.json()["id"].as_str().unwrap().to_string();
    swab(srv, &rt, "kwr0", &w.codes[0].1, "retest");
    let c = srv.post(
        &format!("/api/v1/rounds/{r}/results/corrections"),
        &json!({ "barcode": "KW000001", "result": "negative", "reason": "复核阴性" }),
    );
    assert_eq!(c.status, 200, "{}", c.body);
    let store = w.env.store().await;
    let h = household_of(&store, &w.codes[0].0).await;
    let now = || gw_app::Clock::System.now_ms() + 1;
    assert!(
        !under_temporary_control(&store, h, now()).await,
        "released by the correction"
    );
    let v = results(
        srv,
        &r,
        json!([{ "barcode": "KWR00001", "result": "abnormal" }]),
    );
    assert!(v.to_string().contains("confirmed"), "{v}");
    assert!(
        under_temporary_control(&store, h, now()).await,
        "held again: {v}"
    );
    // And the pool's point is to be disinfected after all: the task the
    // correction called off is open again.
    let tasks = srv.get(&format!("/api/v1/rounds/{r}/disinfection")).json();
    let states: Vec<&str> = tasks["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, vec!["open"], "{tasks}");
}

/// An abnormal pool whose member's retest came back negative, corrected to
/// negative and back to abnormal: the negative retest still stands, so the
/// alert ends cleared again and the household is not held a second time
/// (it had stayed open for ever, holding a household nothing could release).
#[tokio::test]
async fn an_alert_raised_again_keeps_what_its_retests_settled() {
    let w = world("200").await;
    let srv = &w.srv;
    let (r, _) = round(srv, w.street, "再次异常轮", &[]);
    let p = point(srv, &r, w.street, w.communities[0], "1号点");
    let pool = tube(srv, &p, "KS000001");
    swab(srv, &pool, "ks0", &w.codes[0].1, "routine");
    results(
        srv,
        &r,
        json!([{ "barcode": "KS000001", "result": "abnormal" }]),
    );
    let rt = srv.post(
        &format!("/api/v1/points/{p}/tubes"),
        &json!({ "barcode": "KSR00001", "purpose": "retest" }),
    );
    assert_eq!(rt.status, 201, "{}", rt.body);
    let rt = rt.json()["id"].as_str().unwrap().to_string();
    swab(srv, &rt, "ksr0", &w.codes[0].1, "retest");
    results(
        srv,
        &r,
        json!([{ "barcode": "KSR00001", "result": "negative" }]),
    );
    let store = w.env.store().await;
    let h = household_of(&store, &w.codes[0].0).await;
    let now = || gw_app::Clock::System.now_ms() + 1;
    assert!(!under_temporary_control(&store, h, now()).await);
    let state = || {
        let a = srv.get(&format!("/api/v1/rounds/{r}/alerts")).json();
        a["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["barcode"] == "KS000001")
            .map(|x| x["state"].as_str().unwrap().to_string())
            .unwrap()
    };
    assert_eq!(state(), "cleared");
    let correct = |result: &str| {
        let c = srv.post(
            &format!("/api/v1/rounds/{r}/results/corrections"),
            &json!({ "barcode": "KS000001", "result": result, "reason": "更正" }),
        );
        assert_eq!(c.status, 200, "{}", c.body);
        c.json()
    };
    correct("negative");
    assert_eq!(state(), "withdrawn");
    let c = correct("abnormal");
    assert_eq!(state(), "cleared", "its retest was negative");
    assert_eq!(
        c["alert"]["households_under_control"], 0,
        "the answer says what was done: {c}"
    );
    assert!(
        !under_temporary_control(&store, h, now()).await,
        "not held again"
    );
}

/// An abnormal pool traced to nobody (its one swab's code was unreadable)
/// has no retests to wait for: another pool's negative retest in the round
/// does not clear it, nor tell the group it is cleared.
#[tokio::test]
async fn a_pool_traced_to_nobody_is_not_cleared_by_another_pools_retests() {
    let w = world("200").await;
    let srv = &w.srv;
    let (r, _) = round(srv, w.street, "无人可追轮", &[]);
    let p = point(srv, &r, w.street, w.communities[0], "1号点");
    let nobody = tube(srv, &p, "KN000001");
    swab(srv, &nobody, "kn0", "GW1-not-a-code", "routine");
    let pool = tube(srv, &p, "KN000002");
    swab(srv, &pool, "kn1", &w.codes[0].1, "routine");
    results(
        srv,
        &r,
        json!([
            { "barcode": "KN000001", "result": "abnormal" },
            { "barcode": "KN000002", "result": "abnormal" },
        ]),
    );
    let rt = srv.post(
        &format!("/api/v1/points/{p}/tubes"),
        &json!({ "barcode": "KNR00001", "purpose": "retest" }),
    );
    assert_eq!(rt.status, 201, "{}", rt.body);
    let rt = rt.json()["id"].as_str().unwrap().to_string();
    swab(srv, &rt, "knr", &w.codes[0].1, "retest");
    results(
        srv,
        &r,
        json!([{ "barcode": "KNR00001", "result": "negative" }]),
    );
    let alerts = srv.get(&format!("/api/v1/rounds/{r}/alerts")).json();
    let state = |barcode: &str| {
        alerts["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["barcode"] == barcode)
            .map(|a| a["state"].as_str().unwrap().to_string())
            .unwrap()
    };
    assert_eq!(state("KN000002"), "cleared", "{alerts}");
    assert_eq!(state("KN000001"), "open", "{alerts}");
}

/// A member of an abnormal pool exempt from the round (in hospital) is not
/// counted as waiting for a retest: the alert says they are exempt, and the
/// round's close is not held by them.
#[tokio::test]
async fn an_exempt_members_retest_is_not_counted_as_waiting() {
    let w = world("200").await;
    let srv = &w.srv;
    let (r, _) = round(srv, w.street, "全员核酸第5轮", &[]);
    let p = point(srv, &r, w.street, w.communities[0], "医院旁");
    let pool = tube(srv, &p, "EX000001");
    for i in 0..2 {
        swab(srv, &pool, &format!("x{i}"), &w.codes[i].1, "routine");
    }
    results(
        srv,
        &r,
        json!([{ "barcode": "EX000001", "result": "abnormal" }]),
    );
    let exempt = srv.post(
        &format!("/api/v1/rounds/{r}/exemptions"),
        &json!({ "resident": w.codes[1].0, "reason": "in_hospital" }),
    );
    assert_eq!(exempt.status, 200, "{}", exempt.body);
    let alert = || srv.get(&format!("/api/v1/rounds/{r}/alerts")).json()["alerts"][0].clone();
    let a = alert();
    assert_eq!(
        (&a["retests_open"], &a["retests_exempt"]),
        (&json!(1), &json!(1)),
        "{a}"
    );
    let opened = srv.post(
        &format!("/api/v1/points/{p}/tubes"),
        &json!({ "barcode": "EXR00001", "purpose": "retest" }),
    );
    let t = opened.json()["id"].as_str().unwrap().to_string();
    swab(srv, &t, "xr0", &w.codes[0].1, "retest");
    results(
        srv,
        &r,
        json!([{ "barcode": "EXR00001", "result": "negative" }]),
    );
    let a = alert();
    assert_eq!(
        (&a["retests_open"], &a["retests_exempt"]),
        (&json!(0), &json!(1)),
        "{a}"
    );
    let out = w.env.cli_ok(&["round", "alerts", &r]);
    assert!(out.contains("1 人免检未复检"), "{out}");
    // Each member with their retest and how it came back.
    assert!(
        out.contains("复检阴性 retest negative")
            && out.contains("免检未复检 exempt, not retested")
            && !out.contains("待复检 retest open"),
        "{out}"
    );
}

/// Two residents exempted (in hospital) who then came down and were swabbed
/// into a pool that came back abnormal: their swab supersedes the
/// exemption, so both are retested like the others, counted as waiting,
/// and the alert is not cleared without them.
#[tokio::test]
async fn an_exemption_recorded_before_the_swab_does_not_spare_the_retest() {
    let w = world("200").await;
    let srv = &w.srv;
    let (r, _) = round(srv, w.street, "全员核酸第6轮", &[]);
    let p = point(srv, &r, w.street, w.communities[0], "广场");
    for i in 0..2 {
        let x = srv.post(
            &format!("/api/v1/rounds/{r}/exemptions"),
            &json!({ "resident": w.codes[i].0, "reason": "in_hospital" }),
        );
        assert_eq!(x.status, 200, "{}", x.body);
    }
    let pool = tube(srv, &p, "EB000001");
    for i in 0..3 {
        swab(srv, &pool, &format!("eb{i}"), &w.codes[i].1, "routine");
    }
    let sum = results(
        srv,
        &r,
        json!([{ "barcode": "EB000001", "result": "abnormal" }]),
    );
    assert_eq!(sum["alerts"][0]["retests_open"], 3, "{sum}");
    let a = srv.get(&format!("/api/v1/rounds/{r}/alerts")).json()["alerts"][0].clone();
    assert_eq!(
        (&a["retests_open"], &a["retests_exempt"]),
        (&json!(3), &json!(0)),
        "{a}"
    );
    // The one retested negative does not clear the alert: two still wait.
    let t = tube_for(srv, &p, "EBR00001", "retest");
    swab(srv, &t, "ebr0", &w.codes[2].1, "retest");
    results(
        srv,
        &r,
        json!([{ "barcode": "EBR00001", "result": "negative" }]),
    );
    let a = srv.get(&format!("/api/v1/rounds/{r}/alerts")).json()["alerts"][0].clone();
    assert_eq!(a["state"], "open", "{a}");
    assert_eq!(
        (&a["retests_open"], &a["retests_exempt"]),
        (&json!(2), &json!(0)),
        "{a}"
    );
}

fn tube_for(srv: &Server, point: &str, barcode: &str, purpose: &str) -> String {
    let opened = srv.post(
        &format!("/api/v1/points/{point}/tubes"),
        &json!({ "barcode": barcode, "purpose": purpose }),
    );
    assert_eq!(opened.status, 201, "{}", opened.body);
    opened.json()["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_retest_is_answered_in_its_own_round() {
    let w = world("60").await;
    let srv = &w.srv;
    let all: Vec<String> = w
        .communities
        .iter()
        .map(|c| format!("{}-{c}", w.street))
        .collect();
    let (r1, _) = round(srv, w.street, "全员核酸第1轮", &all);
    let p1 = point(srv, &r1, w.street, w.communities[0], "一轮采样点");
    let pool = tube(srv, &p1, "PA000001");
    for (i, (_, code)) in w.codes.iter().take(3).enumerate() {
        swab(srv, &pool, &format!("a{i}"), code, "routine");
    }
    let sum = results(
        srv,
        &r1,
        json!([{ "barcode": "PA000001", "result": "abnormal" }]),
    );
    assert_eq!(sum["alerts"].as_array().map(Vec::len), Some(1), "{sum}");
    // A second round opens while the first's retests are still open.
    let (r2, _) = round(srv, w.street, "全员核酸第2轮", &all);
    let p2 = point(srv, &r2, w.street, w.communities[0], "二轮采样点");
    let retest_tube = |point: &str, barcode: &str| {
        let r = srv.post(
            &format!("/api/v1/points/{point}/tubes"),
            &json!({ "barcode": barcode, "purpose": "retest" }),
        );
        assert_eq!(r.status, 201, "{}", r.body);
        r.json()["id"].as_str().unwrap().to_string()
    };
    // Swabbed as a retest in the second round: that tube answers no retest
    // (a retest is resolved in its own round), so the station is told.
    let t2 = retest_tube(&p2, "RT000002");
    let wrong = swab(srv, &t2, "r2-0", &w.codes[0].1, "retest");
    assert!(
        wrong["problem"]
            .as_str()
            .unwrap_or_default()
            .contains("no open single-tube retest"),
        "{wrong}"
    );
    // In the first round's retest tube it is what was asked for.
    let t1 = retest_tube(&p1, "RT000001");
    let right = swab(srv, &t1, "r1-1", &w.codes[1].1, "retest");
    assert!(
        !right["problem"]
            .as_str()
            .unwrap_or_default()
            .contains("no open single-tube retest"),
        "{right}"
    );
}

/// Two abnormal pools share a household. Correcting one to negative ends
/// its temporary control, but the other pool's still holds the household:
/// the correction (and the message the group robots get) counts only the
/// households really let out. When the other pool's retests come back
/// negative, that household is released and counted then.
#[tokio::test]
async fn a_household_another_pool_still_holds_is_not_counted_released() {
    let w = world("200").await;
    let srv = &w.srv;
    let store = w.env.store().await;
    // Two people of one household, and one of another.
    let mut by_household: std::collections::BTreeMap<i64, Vec<usize>> = Default::default();
    for (i, (id, _)) in w.codes.iter().enumerate().take(40) {
        by_household
            .entry(household_of(&store, id).await)
            .or_default()
            .push(i);
    }
    let shared = by_household
        .iter()
        .find(|(_, v)| v.len() >= 2)
        .map(|(h, v)| (*h, v[0], v[1]))
        .expect("a household of two among the first residents");
    let (h_shared, a, b) = shared;
    let (h_other, c) = by_household
        .iter()
        .find(|(h, _)| **h != h_shared)
        .map(|(h, v)| (*h, v[0]))
        .unwrap();
    let (r, _) = round(srv, w.street, "两管同户", &[]);
    let p = point(srv, &r, w.street, w.communities[0], "1号点");
    let one = tube(srv, &p, "SH000001");
    swab(srv, &one, "sh-a", &w.codes[a].1, "routine");
    swab(srv, &one, "sh-c", &w.codes[c].1, "routine");
    let two = tube(srv, &p, "SH000002");
    swab(srv, &two, "sh-b", &w.codes[b].1, "routine");
    results(
        srv,
        &r,
        json!([
            { "barcode": "SH000001", "result": "abnormal" },
            { "barcode": "SH000002", "result": "abnormal" },
        ]),
    );
    let now = || gw_app::Clock::System.now_ms() + 1;
    assert!(under_temporary_control(&store, h_shared, now()).await);
    assert!(under_temporary_control(&store, h_other, now()).await);
    let fix = srv.post(
        &format!("/api/v1/rounds/{r}/results/corrections"),
        &json!({ "barcode": "SH000001", "result": "negative", "reason": "复核阴性" }),
    );
    assert_eq!(fix.status, 200, "{}", fix.body);
    assert_eq!(fix.json()["released"], 1, "{}", fix.body);
    assert!(under_temporary_control(&store, h_shared, now()).await);
    assert!(!under_temporary_control(&store, h_other, now()).await);
    // The second pool's member retested negative: now the shared household
    // is free, and counted.
    let rt = srv.post(
        &format!("/api/v1/points/{p}/tubes"),
        &json!({ "barcode": "SHR00001", "purpose": "retest" }),
    );
    assert_eq!(rt.status, 201, "{}", rt.body);
    let rt = rt.json()["id"].as_str().unwrap().to_string();
    swab(srv, &rt, "shr-b", &w.codes[b].1, "retest");
    let v = results(
        srv,
        &r,
        json!([{ "barcode": "SHR00001", "result": "negative" }]),
    );
    assert_eq!(v["households_released"], 1, "{v}");
    assert!(!under_temporary_control(&store, h_shared, now()).await);
}

/// A walk-in (on no roster, no household) whose pool came back invalid has
/// a re-sample open; gone home and unreachable, they are exempted, and the
/// round closes. Someone outside the round is still refused, told why (not
/// a "character that cannot be stored").
#[tokio::test]
async fn a_walk_in_with_an_open_resample_can_be_exempted_and_the_round_closes() {
    let w = world("200").await;
    let srv = &w.srv;
    let (r, _) = round(srv, w.street, "临时人员重采", &[]);
    let p = point(srv, &r, w.street, w.communities[0], "1号点");
    let t = tube(srv, &p, "WR000001");
    let walk = srv.post(
        &format!("/api/v1/tubes/{t}/scans"),
        &json!({ "client_id": "wr-1", "walk_in": { "name": "过路人", "phone": "13912340000" } }),
    );
    assert_eq!(walk.status, 200, "{}", walk.body);
    let walker = walk.json()["resident"].as_str().unwrap().to_string();
    swab(srv, &t, "wr-2", &w.codes[0].1, "routine");
    results(
        srv,
        &r,
        json!([{ "barcode": "WR000001", "result": "invalid" }]),
    );
    let exempt = |who: &str| {
        srv.post(
            &format!("/api/v1/rounds/{r}/exemptions"),
            &json!({ "resident": who, "reason": "away" }),
        )
    };
    let e = exempt(&walker);
    assert!(e.status == 200 || e.status == 201, "{}", e.body);
    let e = exempt(&w.codes[0].0);
    assert!(e.status == 200 || e.status == 201, "{}", e.body);
    for to in ["sampling_closed", "results_complete", "closed"] {
        let s = srv.post(&format!("/api/v1/rounds/{r}/state"), &json!({ "to": to }));
        assert_eq!(s.status, 200, "{to}: {}", s.body);
    }
    // Another street's resident (none here): refused with the reason.
    let (r2, _) = round(srv, w.street, "另一轮", &[]);
    let e = srv.post(
        &format!("/api/v1/rounds/{r2}/exemptions"),
        &json!({ "resident": walker, "reason": "away" }),
    );
    assert_eq!(e.status, 400, "{}", e.body);
    assert!(
        e.body.contains("not in this round") && !e.body.contains("NUL"),
        "{}",
        e.body
    );
}
