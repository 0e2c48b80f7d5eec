//! Re-samples as a reviewer found them on the demo: a lab's correction of
//! an invalid pool to negative ends the re-samples that followed it (a
//! re-sample tube found invalid in turn called its people again), so the
//! re-sample list, the missed list and the round's close agree; and the
//! re-sample list marks who is held at home, to be swabbed at the door,
//! instead of telling everyone to come to a point; the missed list's card
//! says 待重采; and a confirmed retest counts the household held at home.

use serde_json::{json, Value};

use crate::harness::residents_with_codes;
use crate::packing_pages::{closed_tube, staffed, Staffed};

struct World {
    s: Staffed,
    point: String,
    people: Vec<(String, String)>,
    grid: String,
}

async fn world(name: &str) -> World {
    let s = staffed(name).await;
    let c = s.srv.with_token(&s.chief);
    let point = c
        .post(
            &format!("/api/v1/rounds/{}/points", s.round),
            &json!({ "name": "重采一号点", "community": format!("{}-{}", s.street, s.community) }),
        )
        .json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let grid = format!("{}-{}", s.street, s.grid);
    // Four people of the grid, each of another household.
    let store = s.env.store().await;
    let mut people = Vec::new();
    let mut households = Vec::new();
    for (id, code) in residents_with_codes(|p| c.get(p), &format!("grid={grid}&limit=40")) {
        let k: gw_domain::ids::Key = id.parse().unwrap();
        let h = store.resident(k.street, k.id).await.unwrap().household_id;
        if !households.contains(&h) && people.len() < 4 {
            households.push(h);
            people.push((id, code));
        }
    }
    assert_eq!(people.len(), 4);
    World {
        s,
        point,
        people,
        grid,
    }
}

impl World {
    fn post(&self, path: &str, body: &Value) -> Value {
        let r = self.s.srv.with_token(&self.s.chief).post(path, body);
        assert!(r.status < 300, "{path}: {} {}", r.status, r.body);
        r.json()
    }
    fn results(&self, results: Value) {
        self.post(
            &format!("/api/v1/rounds/{}/results", self.s.round),
            &json!({ "results": results }),
        );
    }
    fn resamples(&self) -> Vec<Value> {
        let r = self.s.srv.with_token(&self.s.chief).get(&format!(
            "/api/v1/rounds/{}/resamples?grid={}",
            self.s.round, self.grid
        ));
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["items"].as_array().unwrap().clone()
    }
    fn open_resamples(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .resamples()
            .iter()
            .filter(|x| x["state"] == "open")
            .map(|x| x["resident"]["id"].as_str().unwrap().to_string())
            .collect();
        ids.sort();
        ids
    }
}

#[tokio::test]
async fn correcting_an_invalid_pool_to_negative_ends_the_re_samples_that_followed() {
    let w = world("全员核酸第11轮").await;
    let (s, people) = (&w.s, &w.people);
    closed_tube(&s.srv, &s.chief, &w.point, "AC000001", &people[0..3]);
    w.results(json!([{ "barcode": "AC000001", "result": "invalid" }]));
    let mut three: Vec<String> = people[0..3].iter().map(|p| p.0.clone()).collect();
    three.sort();
    assert_eq!(w.open_resamples(), three);

    // Two of them swabbed again into a re-sample tube that comes back
    // invalid too: called again, from that tube.
    let rs = w.post(
        &format!("/api/v1/points/{}/tubes", w.point),
        &json!({ "barcode": "RS000001", "purpose": "resample" }),
    )["id"]
        .as_str()
        .unwrap()
        .to_string();
    for (i, (_, code)) in people[0..2].iter().enumerate() {
        w.post(
            &format!("/api/v1/tubes/{rs}/scans"),
            &json!({ "client_id": format!("rs-{i}"), "code": code, "purpose": "resample" }),
        );
    }
    w.post(&format!("/api/v1/tubes/{rs}/close"), &json!({}));
    w.results(json!([{ "barcode": "RS000001", "result": "invalid" }]));
    assert_eq!(w.open_resamples().len(), 3, "{:?}", w.resamples());

    // The lab corrects the first pool: negative. All three have a result
    // now: nobody is called back, and the answer says what was cancelled.
    let c = w.post(
        &format!("/api/v1/rounds/{}/results/corrections", s.round),
        &json!({ "barcode": "AC000001", "result": "negative", "reason": "实验室更正报告" }),
    );
    assert_eq!(c["cancelled"], 3, "{c}");
    assert!(w.open_resamples().is_empty(), "{:?}", w.resamples());
    // The missed list agrees: none of them is listed.
    let missed = s.srv.with_token(&s.chief).get(&format!(
        "/api/v1/rounds/{}/missed?grid={}",
        s.round, w.grid
    ));
    let listed: Vec<String> = missed.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap().to_string())
        .collect();
    for (id, _) in &people[0..3] {
        assert!(!listed.contains(id), "{id} is missed");
    }
}

#[tokio::test]
async fn the_re_sample_list_marks_who_is_held_at_home() {
    let w = world("全员核酸第12轮").await;
    let (s, people) = (&w.s, &w.people);
    closed_tube(&s.srv, &s.chief, &w.point, "AC000002", &people[0..2]);
    w.results(json!([{ "barcode": "AC000002", "result": "invalid" }]));
    // The first one's household is held at home.
    let store = s.env.store().await;
    let k: gw_domain::ids::Key = people[0].0.parse().unwrap();
    let household = store
        .resident(k.street, k.id)
        .await
        .unwrap()
        .household_id
        .unwrap();
    let other = {
        let k: gw_domain::ids::Key = people[1].0.parse().unwrap();
        store.resident(k.street, k.id).await.unwrap().household_id
    };
    assert_ne!(other, Some(household), "two households");
    w.post(
        "/api/v1/control",
        &json!({ "target_kind": "household", "target_id": format!("{}-{household}", k.street), "status": "temporary", "reason": "居家观察" }),
    );
    let list = w.resamples();
    let held = |id: &str| {
        list.iter()
            .find(|x| x["resident"]["id"] == id)
            .unwrap_or_else(|| panic!("{id} listed: {list:?}"))["held_at_home"]
            .clone()
    };
    assert_eq!(held(&people[0].0), json!("temporary"));
    assert_eq!(held(&people[1].0), Value::Null);
    // The page: the held one is marked for the door, the other is not.
    let page = s
        .srv
        .with_token(&s.chief)
        .get(&format!("/rounds/{}/resamples?grid={}", s.round, w.grid));
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(
        page.body.matches("入户重采，勿叫下楼").count(),
        1,
        "{}",
        page.body
    );
    // The missed list's cards say why each of them is listed.
    let missed = s
        .srv
        .with_token(&s.chief)
        .get(&format!("/rounds/{}/missed?grid={}", s.round, w.grid));
    assert_eq!(missed.status, 200, "{}", missed.body);
    assert_eq!(
        missed
            .body
            .matches(r#"class="tag bad resample-due""#)
            .count(),
        2,
        "{}",
        missed.body
    );
    // The command line says so too.
    let out = s
        .env
        .cli_ok(&["round", "resamples", &s.round, "--grid", &w.grid]);
    assert_eq!(out.matches("held at home (temporary)").count(), 1, "{out}");
}

/// A single-tube retest that confirms an abnormal pool sets no order of its
/// own (the pool's alert held the household already): its alert still
/// counts the household held at home, not 0.
#[tokio::test]
async fn a_confirmed_retest_counts_the_household_held_at_home() {
    let w = world("全员核酸第13轮").await;
    let (s, people) = (&w.s, &w.people);
    closed_tube(&s.srv, &s.chief, &w.point, "AB000001", &people[0..1]);
    w.results(json!([{ "barcode": "AB000001", "result": "abnormal" }]));
    let rt = w.post(
        &format!("/api/v1/points/{}/tubes", w.point),
        &json!({ "barcode": "RT000001", "purpose": "retest" }),
    )["id"]
        .as_str()
        .unwrap()
        .to_string();
    w.post(
        &format!("/api/v1/tubes/{rt}/scans"),
        &json!({ "client_id": "rt-0", "code": people[0].1, "purpose": "retest" }),
    );
    w.results(json!([{ "barcode": "RT000001", "result": "abnormal" }]));
    let alerts = s
        .srv
        .with_token(&s.chief)
        .get(&format!("/api/v1/rounds/{}/alerts", s.round))
        .json();
    let confirmed = alerts["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["kind"] == "confirmed")
        .unwrap_or_else(|| panic!("a confirmed alert: {alerts}"))
        .clone();
    assert_eq!(confirmed["households_under_control"], 1, "{confirmed}");
    let page = s
        .srv
        .with_token(&s.chief)
        .get(&format!("/rounds/{}", s.round));
    assert!(
        !page.body.contains("1 人确认，0 户临时管控"),
        "{}",
        page.body
    );
}
