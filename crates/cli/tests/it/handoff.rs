//! Supplies, bags, boxes, hand-off and lab receipt over real HTTP, and the count
//! reconciliation (数据统计校对): a chain that matches, a hand-over sheet that does
//! not (flagged at the hand-off), a tube not issued to its point (a warning),
//! a bag over capacity (a clear error, nothing stored); the same steps and a
//! point's stations from the command line.

use serde_json::{json, Value};

use crate::harness::{open_round, residents_with_codes, round_body, Client, Server, TestEnv};

struct World {
    env: TestEnv,
    srv: Server,
    /// The street commander's token.
    chief: String,
    round: String,
    /// Point A (where the staff below work) and point B.
    a: String,
    b: String,
    /// Volunteer at A, point manager at A, the street's lab.
    vol: String,
    pm: String,
    lab: String,
    codes: Vec<String>,
}

async fn world() -> World {
    let env = TestEnv::new().await;
    env.cli_ok(&["demo", "--residents", "300", "--seed", "8", "--no-serve"]);
    let pw = env.account("chief", "street_commander", &["--street", "鸿城街道"]);
    let lab_pw = env.account("lab", "lab", &["--street", "鸿城街道"]);
    let srv = env.serve();
    let chief = srv.login("chief", &pw);
    let c = srv.with_token(&chief);
    let store = env.store().await;
    let street = store.streets().await.unwrap()[0].id;
    let community = store.communities(None, Some(street)).await.unwrap()[0].id;
    let (round, _) = open_round(|p, b| c.post(p, b), &round_body(street, "全员核酸第2轮"));
    let mut points = (0..2).map(|i| {
        c.post(&format!("/api/v1/rounds/{round}/points"), &json!({ "name": format!("{i}号采样点"), "community": format!("{street}-{community}") }))
            .json()["id"].as_str().unwrap().to_string()
    });
    let (a, b) = (points.next().unwrap(), points.next().unwrap());
    let codes = residents_with_codes(|p| c.get(p), "limit=40")
        .into_iter()
        .map(|(_, code)| code)
        .collect();
    let vol_pw = env.account("vol", "volunteer", &["--point", &a]);
    let pm_pw = env.account("pm", "point_manager", &["--point", &a]);
    let vol = srv.login("vol", &vol_pw);
    let pm = srv.login("pm", &pm_pw);
    let lab = srv.login("lab", &lab_pw);
    World {
        env,
        srv,
        chief,
        round,
        a,
        b,
        vol,
        pm,
        lab,
        codes,
    }
}

impl World {
    fn as_(&self, token: &str) -> Client<'_> {
        self.srv.with_token(token)
    }

    /// Opens a tube at `point` as the chief (who reaches every point), swabs
    /// `codes` into it and closes it if it is not full; returns the open-tube answer.
    fn filled_tube(&self, point: &str, barcode: &str, codes: &[String]) -> Value {
        let c = self.as_(&self.chief);
        let r = c.post(
            &format!("/api/v1/points/{point}/tubes"),
            &json!({ "barcode": barcode }),
        );
        assert_eq!(r.status, 201, "{}", r.body);
        let opened = r.json();
        let tube = opened["id"].as_str().unwrap();
        let mut fill = 0;
        for (i, code) in codes.iter().enumerate() {
            let s = c.post(
                &format!("/api/v1/tubes/{tube}/scans"),
                &json!({ "client_id": format!("{barcode}-{i}"), "code": code }),
            );
            assert_eq!(s.status, 200, "{}", s.body);
            fill = s.json()["tube_fill"].as_i64().unwrap();
        }
        assert_eq!(fill, codes.len() as i64);
        if codes.len() < 10 {
            let r = c.post(&format!("/api/v1/tubes/{tube}/close"), &json!({}));
            assert_eq!(r.status, 200, "{}", r.body);
        }
        opened
    }

    async fn tube_state(&self, barcode: &str) -> String {
        let round: gw_domain::ids::Key = self.round.parse().unwrap();
        self.env
            .store()
            .await
            .tube_by_barcode(round.street, round.id, barcode)
            .await
            .unwrap()
            .unwrap()
            .state
    }

    fn report(&self, token: &str, point: Option<&str>) -> Value {
        let q = point.map(|p| format!("?point={p}")).unwrap_or_default();
        let r = self
            .as_(token)
            .get(&format!("/api/v1/rounds/{}/reconciliation{q}", self.round));
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()
    }

    /// Three tubes at A (10 + 5 + 3 swabs), packed into two bags and one box.
    fn three_tubes_in_a_box(&self, third_bagged: bool) {
        self.filled_tube(&self.a, "TB00000001", &self.codes[0..10]);
        self.filled_tube(&self.a, "TB00000002", &self.codes[10..15]);
        self.filled_tube(&self.a, "TB00000003", &self.codes[15..18]);
        let v = self.as_(&self.vol);
        let bag1 = v.post(
            &format!("/api/v1/points/{}/bags", self.a),
            &json!({ "barcode": "BAG0000001", "tubes": ["tb00000001", "TB00000002"], "counted_tubes": 2 }),
        );
        assert_eq!(bag1.status, 201, "{}", bag1.body);
        let bag1 = bag1.json();
        assert_eq!(
            (&bag1["tubes"], &bag1["people"], &bag1["counts_match"]),
            (&json!(2), &json!(15), &json!(true)),
            "{bag1}"
        );
        let mut bags = vec!["BAG0000001"];
        let mut tubes = 2;
        if third_bagged {
            let bag2 = v.post(
                &format!("/api/v1/points/{}/bags", self.a),
                &json!({ "barcode": "BAG0000002", "tubes": ["TB00000003"], "counted_tubes": 1 }),
            );
            assert_eq!(bag2.status, 201, "{}", bag2.body);
            bags.push("BAG0000002");
            tubes += 1;
        }
        let boxed = v.post(
            &format!("/api/v1/points/{}/boxes", self.a),
            &json!({ "barcode": "BOX0000001", "bags": bags, "counted_bags": bags.len(), "counted_tubes": tubes }),
        );
        assert_eq!(boxed.status, 201, "{}", boxed.body);
        assert_eq!(boxed.json()["counts_match"], true, "{}", boxed.body);
    }
}

#[tokio::test]
async fn a_full_chain_from_supplies_to_lab_matches_everywhere() {
    let w = world().await;
    // Supplies to point A: a range of 50 tubes, kits and gear (the manager of A).
    let pm = w.as_(&w.pm);
    let r = pm.post(
        &format!("/api/v1/points/{}/supplies", w.a),
        &json!({ "kind": "tubes", "first_barcode": "TB00000001", "last_barcode": "TB00000050", "received_by": "张三" }),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json()["quantity"], 50);
    let r = pm.post(
        &format!("/api/v1/points/{}/supplies", w.a),
        &json!({ "kind": "kits", "quantity": 100 }),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    // The CLI records protective gear the same way.
    let out = w.env.cli_ok(&[
        "supplies",
        "issue",
        "--point",
        &w.a,
        "--kind",
        "protective_gear",
        "--quantity",
        "20",
    ]);
    assert!(out.contains("防护用品"), "{out}");
    // Audited as the operator, the manager's issues as the manager.
    let audit = w.env.cli_ok(&["audit", "--limit", "1000"]);
    let issued: Vec<&str> = audit
        .lines()
        .filter(|l| l.contains("issue_supplies"))
        .collect();
    assert_eq!(issued.len(), 3, "{audit}");
    assert!(
        issued
            .iter()
            .any(|l| l.split('\t').nth(1).unwrap().starts_with("cli:")),
        "{audit}"
    );
    assert_eq!(
        issued.iter().filter(|l| l.contains("user:pm")).count(),
        2,
        "{audit}"
    );
    // The manager of A cannot issue to B; the volunteer issues nothing.
    let r = pm.post(
        &format!("/api/v1/points/{}/supplies", w.b),
        &json!({ "kind": "kits", "quantity": 1 }),
    );
    assert_eq!(r.status, 403, "{}", r.body);
    let r = w.as_(&w.vol).post(
        &format!("/api/v1/points/{}/supplies", w.a),
        &json!({ "kind": "kits", "quantity": 1 }),
    );
    assert_eq!(r.status, 403, "{}", r.body);
    let listed = pm.get(&format!("/api/v1/points/{}/supplies", w.a)).json();
    assert_eq!(listed["items"].as_array().unwrap().len(), 3);

    w.three_tubes_in_a_box(true);
    assert_eq!(w.tube_state("TB00000003").await, "boxed");
    // Hand-over at A: the transporter's name and phone, the sheet's counts.
    let h = w.as_(&w.vol).post(
        &format!("/api/v1/points/{}/handoffs", w.a),
        &json!({ "boxes": ["BOX0000001"], "transporter": { "name": "李师傅", "phone": "13812345678" }, "counted_tubes": 3, "counted_people": 18 }),
    );
    assert_eq!(h.status, 201, "{}", h.body);
    let h = h.json();
    assert_eq!(
        (&h["boxes"], &h["tubes"], &h["people"], &h["counts_match"]),
        (&json!(1), &json!(3), &json!(18), &json!(true)),
        "{h}"
    );
    assert_eq!(w.tube_state("TB00000001").await, "handed_over");
    // The volunteer is not the lab.
    let r = w.as_(&w.vol).post(
        &format!("/api/v1/rounds/{}/receipts", w.round),
        &json!({ "boxes": ["BOX0000001"], "counted_tubes": 3 }),
    );
    assert_eq!(r.status, 403, "{}", r.body);
    let rc = w.as_(&w.lab).post(
        &format!("/api/v1/rounds/{}/receipts", w.round),
        &json!({ "boxes": ["box0000001"], "counted_boxes": 1, "counted_tubes": 3 }),
    );
    assert_eq!(rc.status, 201, "{}", rc.body);
    assert_eq!(rc.json()["counts_match"], true, "{}", rc.body);
    assert_eq!(w.tube_state("TB00000002").await, "received");
    // Received twice: refused.
    let again = w.as_(&w.lab).post(
        &format!("/api/v1/rounds/{}/receipts", w.round),
        &json!({ "boxes": ["BOX0000001"], "counted_tubes": 3 }),
    );
    assert_eq!(again.status, 400, "{}", again.body);

    // The report: every count matches, and the totals say where everything is.
    let rep = w.report(&w.chief, None);
    assert_eq!(rep["matched"], true, "{rep}");
    assert_eq!(rep["mismatches"], json!([]));
    let a = rep["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["point"] == w.a.as_str())
        .unwrap();
    assert_eq!(a["received"], json!({ "tubes": 3, "people": 18 }), "{a}");
    assert_eq!((&a["bags"], &a["boxes"]), (&json!(2), &json!(1)));
    let sa = rep["supplies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["point"] == w.a.as_str())
        .unwrap();
    assert_eq!(
        sa["issued"],
        json!({ "kits": 100, "protective_gear": 20, "tubes": 50 })
    );
    assert_eq!(
        (&sa["tubes_opened"], &sa["not_issued"]),
        (&json!(3), &json!([]))
    );
    // The transporter's phone is masked in the report.
    assert_eq!(rep["handoffs"][0]["transporter_phone"], "138****5678");
    // Who reads it: the lab (street) and the manager of A (their point); not the volunteer.
    assert_eq!(w.report(&w.lab, None)["matched"], true);
    assert_eq!(w.report(&w.pm, Some(&w.a))["matched"], true);
    let r = w
        .as_(&w.vol)
        .get(&format!("/api/v1/rounds/{}/reconciliation", w.round));
    assert_eq!(r.status, 403, "{}", r.body);
    // The transporter's name is masked in the report (the lab reads it).
    let rep = w.report(&w.chief, None);
    assert_eq!(rep["handoffs"][0]["transporter"], "李*傅", "{rep}");
    assert!(!rep.to_string().contains("李师傅"), "{rep}");
    // The CLI agrees and exits 0.
    let out = w.env.cli_ok(&["handoff", "report", "--round", &w.round]);
    assert!(out.contains("every count matches"), "{out}");
    // When the emergency ends the transporter's name and phone go; the
    // counts stay and still match.
    w.env.cli_ok(&["purge", "--before", "2200-01-01", "--yes"]);
    let rep = w.report(&w.chief, None);
    assert_eq!(
        (
            &rep["handoffs"][0]["transporter"],
            &rep["handoffs"][0]["transporter_phone"]
        ),
        (&json!("已清除"), &json!("")),
        "{rep}"
    );
    assert_eq!(rep["matched"], true);
}

#[tokio::test]
async fn a_hand_over_whose_counts_do_not_match_is_flagged_at_the_hand_off() {
    let w = world().await;
    // The third tube is closed but never bagged.
    w.three_tubes_in_a_box(false);
    // A transporter's account that does not exist is refused: the chain of
    // custody names someone real.
    let h = w.as_(&w.vol).post(
        &format!("/api/v1/points/{}/handoffs", w.a),
        &json!({ "boxes": ["BOX0000001"], "transporter": { "account": "driver7" }, "counted_tubes": 3 }),
    );
    assert_eq!(h.status, 400, "{}", h.body);
    assert!(h.body.contains("no account"), "{}", h.body);
    w.env.account("driver7", "volunteer", &["--point", &w.a]);
    // The hand-over sheet says 3 tubes; the box holds 2 (15 people, the sheet says 18).
    let h = w.as_(&w.vol).post(
        &format!("/api/v1/points/{}/handoffs", w.a),
        &json!({ "boxes": ["BOX0000001"], "transporter": { "account": "driver7" }, "counted_tubes": 3, "counted_people": 18 }),
    );
    assert_eq!(h.status, 201, "{}", h.body);
    let h = h.json();
    assert_eq!(h["counts_match"], false, "{h}");
    let m = h["mismatches"].as_array().unwrap();
    assert_eq!(m.len(), 2, "{h}");
    assert_eq!(
        (&m[0]["step"], &m[0]["kind"], &m[0]["measure"]),
        (&json!("hand_off"), &json!("handoff"), &json!("tubes"))
    );
    assert_eq!(
        (&m[0]["expected"], &m[0]["found"], &m[0]["diff"]),
        (&json!(2), &json!(3), &json!(1))
    );
    assert_eq!(
        (&m[1]["measure"], &m[1]["diff"]),
        (&json!("people"), &json!(3))
    );
    let handoff_id = h["id"].as_str().unwrap().to_string();
    // The lab counts what is in the box: 2 tubes.
    let rc = w.as_(&w.lab).post(
        &format!("/api/v1/rounds/{}/receipts", w.round),
        &json!({ "boxes": ["BOX0000001"], "counted_tubes": 2 }),
    );
    assert_eq!(rc.status, 201, "{}", rc.body);
    assert_eq!(rc.json()["counts_match"], true, "{}", rc.body);

    // The report names both breaks, in chain order: the unbagged tube at point A's
    // bag step, then the hand-over sheet. Nothing else.
    let rep = w.report(&w.chief, None);
    assert_eq!(rep["matched"], false);
    // The point's break names the tube in no bag.
    assert_eq!(
        rep["mismatches"][0]["items"],
        json!(["TB00000003"]),
        "{rep}"
    );
    let got: Vec<(String, String, String, String, i64)> = rep["mismatches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["step"].as_str().unwrap().into(),
                m["kind"].as_str().unwrap().into(),
                m["at"].as_str().unwrap().into(),
                m["measure"].as_str().unwrap().into(),
                m["diff"].as_i64().unwrap(),
            )
        })
        .collect();
    let s = |x: &str| x.to_string();
    assert_eq!(
        got,
        vec![
            (s("bag"), s("point"), w.a.clone(), s("tubes"), -1),
            (s("bag"), s("point"), w.a.clone(), s("people"), -3),
            (
                s("hand_off"),
                s("handoff"),
                handoff_id.clone(),
                s("tubes"),
                1
            ),
            (s("hand_off"), s("handoff"), handoff_id, s("people"), 3),
        ]
    );
    // Point B has nothing to do with it.
    assert_eq!(w.report(&w.chief, Some(&w.b))["matched"], true);
    // The CLI prints the step and exits 3 (1 is for errors, 2 for usage).
    let out = w.env.cli(&["handoff", "report", "--round", &w.round]);
    assert_eq!(out.status.code(), Some(3));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("交接 hand-over") && !text.contains("HandOff"),
        "{text}"
    );
    assert!(text.contains("装袋"), "{text}");
    // The lab has a result for all three tubes: recorded, and the one the
    // point never bagged is named where the chain broke.
    let r = w.as_(&w.lab).post(
        &format!("/api/v1/rounds/{}/results", w.round),
        &json!({ "results": [
            { "barcode": "TB00000001", "result": "negative" },
            { "barcode": "TB00000002", "result": "negative" },
            { "barcode": "TB00000003", "result": "negative" }
        ] }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let sum = r.json();
    assert_eq!(sum["recorded"], 3);
    assert_eq!(sum["unpacked"], json!(["TB00000003"]), "{sum}");
    // The two the lab received are not named again.
    assert_eq!(sum["not_received"], json!([]), "{sum}");
    // The point records the bag after the fact: the resulted tube goes in
    // (it keeps its result), and the bag step's break is mended. A bag's
    // label is printed for the packing, not under the tube rule: short is fine.
    let late = w.as_(&w.vol).post(
        &format!("/api/v1/points/{}/bags", w.a),
        &json!({ "barcode": "BAG9", "tubes": ["TB00000003"], "counted_tubes": 1 }),
    );
    assert_eq!(late.status, 201, "{}", late.body);
    assert_eq!(late.json()["counts_match"], true, "{}", late.body);
    let rep = w.report(&w.chief, None);
    let steps: Vec<&str> = rep["mismatches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["step"].as_str().unwrap())
        .collect();
    assert!(!steps.contains(&"bag"), "{rep}");
    // The hand-over sheet's break stays: the round moves on, and whoever
    // moves it is told.
    let c = w.as_(&w.chief);
    let moved = c.post(
        &format!("/api/v1/rounds/{}/state", w.round),
        &json!({ "to": "sampling_closed" }),
    );
    assert_eq!(moved.json()["warnings"], json!([]), "{}", moved.body);
    let moved = c.post(
        &format!("/api/v1/rounds/{}/state", w.round),
        &json!({ "to": "results_complete" }),
    );
    assert_eq!(moved.status, 200, "{}", moved.body);
    let warnings = moved.json()["warnings"].clone();
    let n = w.report(&w.chief, None)["mismatches"]
        .as_array()
        .unwrap()
        .len();
    assert!(n > 0);
    assert!(
        warnings[0]
            .as_str()
            .unwrap()
            .contains(&format!("{n} mismatch(es)")),
        "{warnings}"
    );
    let store = w.env.store().await;
    let state = crate::harness::query_strings(
        &store,
        "SELECT state FROM tube WHERE barcode = 'TB00000003'",
    )
    .await;
    assert_eq!(state, ["resulted"]);
}

#[tokio::test]
async fn a_tube_not_issued_to_its_point_is_opened_with_a_warning() {
    let w = world().await;
    // No tube issued in the round yet: nothing to check against.
    let o = w.filled_tube(&w.a, "QQ00000001", &w.codes[0..1]);
    assert_eq!(o["warning"], Value::Null, "{o}");
    let c = w.as_(&w.chief);
    for (point, first, last) in [
        (&w.a, "TB00000001", "TB00000010"),
        (&w.b, "TB00000011", "TB00000020"),
    ] {
        let r = c.post(
            &format!("/api/v1/points/{point}/supplies"),
            &json!({ "kind": "tubes", "first_barcode": first, "last_barcode": last }),
        );
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let r = c.post(
        &format!("/api/v1/points/{}/supplies", w.a),
        &json!({ "kind": "tubes", "batch": "LOT7", "quantity": 200 }),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    // In A's range, in A's batch: no warning.
    assert_eq!(
        w.filled_tube(&w.a, "TB00000005", &w.codes[1..2])["warning"],
        Value::Null
    );
    assert_eq!(
        w.filled_tube(&w.a, "LOT700000042", &w.codes[2..3])["warning"],
        Value::Null
    );
    // B's tube opened at A: stored, warned, and the warning names B.
    let o = w.filled_tube(&w.a, "TB00000015", &w.codes[3..4]);
    let warning = o["warning"].as_str().unwrap();
    assert!(warning.contains(&w.b), "{warning}");
    assert!(o["id"].as_str().is_some());
    // A tube nobody issued.
    let o = w.filled_tube(&w.a, "ZZ00000001", &w.codes[4..5]);
    assert!(
        o["warning"].as_str().unwrap().contains("no range or batch"),
        "{o}"
    );
    // The station never got that answer and replays the open: the same tube,
    // and the same warning (the first answer's was lost).
    let again = c.post(
        &format!("/api/v1/points/{}/tubes", w.a),
        &json!({ "barcode": "ZZ00000001", "reuse": true }),
    );
    assert_eq!(again.status, 200, "{}", again.body);
    let again = again.json();
    assert_eq!(again["id"], o["id"], "{again}");
    assert!(
        again["warning"]
            .as_str()
            .unwrap_or("")
            .contains("no range or batch"),
        "{again}"
    );
    // The report lists them under A's supplies.
    let rep = w.report(&w.chief, Some(&w.a));
    assert_eq!(
        rep["supplies"][0]["not_issued"],
        json!(["QQ00000001", "TB00000015", "ZZ00000001"]),
        "{rep}"
    );
    // Bad supply input gets a clear error.
    for (body, needle) in [
        (
            json!({ "kind": "tubes", "quantity": 5 }),
            "range or by batch",
        ),
        (
            json!({ "kind": "tubes", "first_barcode": "TB00000010", "last_barcode": "TB00000001" }),
            "first ≤ last",
        ),
        (
            json!({ "kind": "tubes", "first_barcode": "TB00000001", "last_barcode": "TB00000010", "quantity": 9 }),
            "the quantity says 9",
        ),
        (json!({ "kind": "masks", "quantity": 5 }), "kind must be"),
        (json!({ "kind": "kits" }), "positive"),
        (
            json!({ "kind": "kits", "quantity": 5, "first_barcode": "X" }),
            "only tubes are issued by barcode",
        ),
    ] {
        let r = c.post(&format!("/api/v1/points/{}/supplies", w.a), &body);
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        assert!(r.body.contains(needle), "{body}: {}", r.body);
    }
    // A point with tubes and supplies is not removed, and the answer says why.
    let r = c.post(&format!("/api/v1/points/{}/remove", w.a), &json!({}));
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(
        r.body.contains("tubes") && r.body.contains("supply issues"),
        "{}",
        r.body
    );
    // A range that shares tubes with one given out already is refused,
    // naming the point that has them; the next range is fine.
    let r = c.post(
        &format!("/api/v1/points/{}/supplies", w.b),
        &json!({ "kind": "tubes", "first_barcode": "TB00000005", "last_barcode": "TB00000030" }),
    );
    assert_eq!(r.status, 409, "{}", r.body);
    // Named as people know it, with its id.
    assert!(
        r.body.contains("issued to point 「") && r.body.contains(&format!("（{}）", w.a)),
        "{}",
        r.body
    );
    let r = c.post(
        &format!("/api/v1/points/{}/supplies", w.b),
        &json!({ "kind": "tubes", "first_barcode": "TB00000021", "last_barcode": "TB00000030" }),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    // Batches too: one whose barcodes another point's range or batch holds
    // is refused; the same batch delivered to its own point in a second lot
    // is fine.
    let supply =
        |point: &str, body: Value| c.post(&format!("/api/v1/points/{point}/supplies"), &body);
    for (point, batch, status) in [
        (&w.b, "TB0000000", 409),
        (&w.a, "HB777", 201),
        (&w.b, "HB777", 409),
        (&w.b, "HB77", 409),
        (&w.b, "HB7770", 409),
        (&w.a, "HB777", 201),
        (&w.b, "HB778", 201),
    ] {
        let r = supply(
            point,
            json!({ "kind": "tubes", "batch": batch, "quantity": 10 }),
        );
        assert_eq!(r.status, status, "{batch} at {point}: {}", r.body);
        if status == 409 {
            assert!(r.body.contains("a tube belongs to one point"), "{}", r.body);
        }
    }
    // And a range inside another point's batch.
    let r = supply(
        &w.a,
        json!({ "kind": "tubes", "first_barcode": "HB778001", "last_barcode": "HB778009" }),
    );
    assert_eq!(r.status, 409, "{}", r.body);
}

#[tokio::test]
async fn a_bag_over_capacity_is_refused_and_nothing_is_stored() {
    let w = world().await;
    for (i, bc) in ["TB00000001", "TB00000002", "TB00000003"]
        .iter()
        .enumerate()
    {
        w.filled_tube(&w.a, bc, &w.codes[i..i + 1]);
    }
    // Only the round's organisers set the capacity.
    let r = w.as_(&w.vol).post(
        &format!("/api/v1/rounds/{}/bag-capacity", w.round),
        &json!({ "bag_capacity": 2 }),
    );
    assert_eq!(r.status, 403, "{}", r.body);
    let r = w.as_(&w.chief).post(
        &format!("/api/v1/rounds/{}/bag-capacity", w.round),
        &json!({ "bag_capacity": 2 }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let v = w.as_(&w.vol);
    let bag = |barcode: &str, tubes: &[&str]| {
        v.post(
            &format!("/api/v1/points/{}/bags", w.a),
            &json!({ "barcode": barcode, "tubes": tubes, "counted_tubes": tubes.len() }),
        )
    };
    let r = bag("BAG0000001", &["TB00000001", "TB00000002", "TB00000003"]);
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.body.contains("at most 2 tubes") && r.body.contains("最多 2 管"),
        "{}",
        r.body
    );
    // Nothing stored: the tubes are still closed and the bag barcode is free.
    assert_eq!(w.tube_state("TB00000001").await, "closed");
    // An open tube, a tube of another point, an unknown tube: each named.
    w.as_(&w.chief).post(
        &format!("/api/v1/points/{}/tubes", w.a),
        &json!({ "barcode": "TB00000009" }),
    );
    w.filled_tube(&w.b, "TB00000004", &w.codes[5..6]);
    let r = bag("BAG0000001", &["TB00000009", "TB00000004"]);
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.body.contains("TB00000009") && r.body.contains("close it first"),
        "{}",
        r.body
    );
    assert!(
        r.body.contains("TB00000004") && r.body.contains("not this one"),
        "{}",
        r.body
    );
    let r = bag("BAG0000001", &["TB00000077"]);
    assert!(
        r.status == 400 && r.body.contains("no such tube"),
        "{}",
        r.body
    );
    // Within capacity: packed; a tube cannot go into a second bag.
    let r = bag("BAG0000001", &["TB00000001", "TB00000002"]);
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(w.tube_state("TB00000001").await, "sealed");
    let r = bag("BAG0000002", &["TB00000002"]);
    assert!(
        r.status == 400 && r.body.contains("already in bag BAG0000001"),
        "{}",
        r.body
    );
    // A bag barcode used twice in the round: a conflict.
    let r = bag("BAG0000001", &["TB00000003"]);
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(w.tube_state("TB00000003").await, "closed");
    // A miscounted bag is stored and flagged at once.
    let r = v.post(
        &format!("/api/v1/points/{}/bags", w.a),
        &json!({ "barcode": "BAG0000003", "tubes": ["TB00000003"], "counted_tubes": 2 }),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let j = r.json();
    assert_eq!(j["counts_match"], false);
    assert_eq!(
        (
            &j["mismatches"][0]["step"],
            &j["mismatches"][0]["at"],
            &j["mismatches"][0]["diff"]
        ),
        (&json!("bag"), &json!("BAG0000003"), &json!(1))
    );
}

#[tokio::test]
async fn packing_hand_over_receipt_and_stations_from_the_command_line() {
    let w = world().await;
    w.filled_tube(&w.a, "TB00000001", &w.codes[0..10]);
    w.filled_tube(&w.a, "TB00000002", &w.codes[10..15]);
    w.filled_tube(&w.a, "TB00000003", &w.codes[15..18]);
    let cli_json = |args: &[&str]| -> (Option<i32>, Value) {
        let mut a = args.to_vec();
        a.push("--json");
        let out = w.env.cli(&a);
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let v = serde_json::from_str(&text).unwrap_or_else(|_| {
            panic!("{args:?}: {text} {}", String::from_utf8_lossy(&out.stderr))
        });
        (out.status.code(), v)
    };
    let (code, table) = cli_json(&["handoff", "packing", "--point", &w.a]);
    assert_eq!(code, Some(0));
    let loose: Vec<&str> = table["tubes_to_bag"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["barcode"].as_str().unwrap())
        .collect();
    assert_eq!(loose, ["TB00000001", "TB00000002", "TB00000003"]);
    // The same table over the API, for the point's staff; the lab does not pack.
    let api = w
        .srv
        .with_token(&w.pm)
        .get(&format!("/api/v1/points/{}/packing", w.a));
    assert_eq!(api.status, 200, "{}", api.body);
    assert_eq!(api.json(), table);
    assert_eq!(
        w.srv
            .with_token(&w.lab)
            .get(&format!("/api/v1/points/{}/packing", w.a))
            .status,
        403
    );

    // Refused with the reason, nothing stored.
    let out = w.env.cli(&[
        "handoff",
        "bag",
        "--point",
        &w.a,
        "--bag",
        "BAG0000001",
        "--tube",
        "TB00000077",
        "--counted",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no such tube"),
        "{out:?}"
    );
    // Two tubes in one flag, separated by a comma: counts match.
    let (code, bag) = cli_json(&[
        "handoff",
        "bag",
        "--point",
        &w.a,
        "--bag",
        "BAG0000001",
        "--tube",
        "TB00000001,TB00000002",
        "--counted",
        "2",
    ]);
    assert_eq!(code, Some(0));
    assert_eq!(
        (&bag["tubes"], &bag["people"], &bag["counts_match"]),
        (&json!(2), &json!(15), &json!(true)),
        "{bag}"
    );
    // The packer counted two tubes in a bag of one: stored, flagged, exit 3, in words.
    let out = w.env.cli(&[
        "handoff",
        "bag",
        "--point",
        &w.a,
        "--bag",
        "BAG0000002",
        "--tube",
        "TB00000003",
        "--counted",
        "2",
    ]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("BAG0000002") && text.contains("装袋") && text.contains("+1"),
        "{text}"
    );
    assert_eq!(w.tube_state("TB00000003").await, "sealed");

    let (code, boxed) = cli_json(&[
        "handoff",
        "box",
        "--point",
        &w.a,
        "--box",
        "BOX0000001",
        "--bag",
        "BAG0000001",
        "--bag",
        "BAG0000002",
        "--counted-bags",
        "2",
        "--counted-tubes",
        "3",
    ]);
    assert_eq!(code, Some(0), "{boxed}");
    assert_eq!((&boxed["bags"], &boxed["tubes"]), (&json!(2), &json!(3)));
    let (code, handed) = cli_json(&[
        "handoff",
        "hand-over",
        "--point",
        &w.a,
        "--box",
        "BOX0000001",
        "--transporter",
        "王师傅",
        "--phone",
        "13912345678",
        "--counted-tubes",
        "3",
        "--counted-people",
        "18",
    ]);
    assert_eq!(code, Some(0), "{handed}");
    assert_eq!(
        (&handed["boxes"], &handed["tubes"], &handed["people"]),
        (&json!(1), &json!(3), &json!(18))
    );
    // A box count that is not BOX=N is refused before anything is stored.
    let out = w.env.cli(&[
        "handoff",
        "receive",
        "--round",
        &w.round,
        "--box",
        "BOX0000001",
        "--counted-tubes",
        "3",
        "--box-tubes",
        "BOX0000001:3",
    ]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("BOX=N"),
        "{out:?}"
    );
    let (code, received) = cli_json(&[
        "handoff",
        "receive",
        "--round",
        &w.round,
        "--box",
        "BOX0000001",
        "--counted-tubes",
        "3",
        "--box-tubes",
        "BOX0000001=3",
    ]);
    assert_eq!(code, Some(0), "{received}");
    assert_eq!(received["counts_match"], true, "{received}");

    // The reconciliation the API gives holds exactly the one miscounted bag.
    let r = w.report(&w.chief, None);
    let got: Vec<(&str, &str, i64)> = r["mismatches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["step"].as_str().unwrap(),
                m["at"].as_str().unwrap(),
                m["diff"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, [("bag", "BAG0000002", 1)], "{r}");
    let (_, table) = cli_json(&["handoff", "packing", "--point", &w.a]);
    assert_eq!(table["tubes_to_bag"], json!([]));
    assert_eq!(table["boxes"][0]["received"], true, "{table}");
    assert_eq!(table["handoffs"][0]["transporter"], "王师傅", "{table}");

    // A station issued from the command line enrols on the page's API, scans,
    // and stops once revoked there.
    let (code, issued) = cli_json(&["station", "issue", "--point", &w.a, "--label", "A-1"]);
    assert_eq!(code, Some(0), "{issued}");
    let enrolled = w
        .srv
        .anonymous()
        .post("/api/v1/enroll", &json!({ "code": issued["enroll_code"] }));
    assert_eq!(enrolled.status, 200, "{}", enrolled.body);
    let token = enrolled.json()["token"].as_str().unwrap().to_string();
    let st = w.as_(&token);
    let open = |barcode: &str| {
        st.post(
            &format!("/api/v1/points/{}/tubes", w.a),
            &json!({ "barcode": barcode }),
        )
        .status
    };
    assert_eq!(open("TB00000004"), 201);
    // A station scans; packing, recounts and hand-overs are a person's.
    for (path, body) in [
        (
            format!("/api/v1/points/{}/bags", w.a),
            json!({ "barcode": "BAGST001", "tubes": ["TB00000004"], "counted_tubes": 1 }),
        ),
        (
            format!("/api/v1/points/{}/recounts", w.a),
            json!({ "barcode": "BAG0000001", "counted_tubes": 9, "reason": "station" }),
        ),
        (
            format!("/api/v1/points/{}/handoffs", w.a),
            json!({ "boxes": ["BOX0000001"], "transporter": { "name": "某人" }, "counted_tubes": 3 }),
        ),
    ] {
        let r = st.post(&path, &body);
        assert_eq!(r.status, 403, "{path}: {}", r.body);
    }
    let station = issued["station"].as_str().unwrap();
    let out = w.env.cli_ok(&["station", "revoke", station]);
    assert!(out.contains("revoked"), "{out}");
    // The running server lets a station it checked lately go within its cache time.
    let deadline = std::time::Instant::now()
        + std::time::Duration::from_millis(gw_app::stations::STATION_CACHE_MS as u64 + 5_000);
    let mut n = 5;
    loop {
        let status = open(&format!("TB0000000{n}"));
        if status == 401 {
            break;
        }
        assert_eq!(status, 201);
        assert!(
            std::time::Instant::now() < deadline,
            "still scanning after revocation"
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
        n += 1;
    }
}

/// A tube left open with swabs in it is nothing to flag while sampling runs;
/// once sampling is over it is a break at the point (nobody will seal it now
/// unless told, and its people would get no result), until it is closed.
#[tokio::test]
async fn a_tube_left_open_with_swabs_after_sampling_breaks_at_the_point() {
    let w = world().await;
    let c = w.as_(&w.chief);
    let r = c.post(
        &format!("/api/v1/points/{}/tubes", w.b),
        &json!({ "barcode": "TB00000099" }),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let tube = r.json()["id"].as_str().unwrap().to_string();
    for (i, code) in w.codes[20..23].iter().enumerate() {
        let s = c.post(
            &format!("/api/v1/tubes/{tube}/scans"),
            &json!({ "client_id": format!("open-{i}"), "code": code }),
        );
        assert_eq!(s.status, 200, "{}", s.body);
    }
    assert_eq!(w.report(&w.chief, None)["matched"], true);
    let moved = c.post(
        &format!("/api/v1/rounds/{}/state", w.round),
        &json!({ "to": "sampling_closed" }),
    );
    assert_eq!(moved.status, 200, "{}", moved.body);
    let rep = w.report(&w.chief, None);
    assert_eq!(rep["matched"], false, "{rep}");
    let m = &rep["mismatches"];
    assert_eq!(
        (&m[0]["step"], &m[0]["at"], &m[0]["found"], &m[1]["found"]),
        (&json!("point"), &json!(w.b), &json!(1), &json!(3)),
        "{rep}"
    );
    assert!(
        m[0]["note"].as_str().unwrap().contains("still open"),
        "{rep}"
    );
    // Sealed, the break is gone.
    let r = c.post(&format!("/api/v1/tubes/{tube}/close"), &json!({}));
    assert_eq!(r.status, 200, "{}", r.body);
    let rep = w.report(&w.chief, None);
    assert!(
        rep["mismatches"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["step"] != "point"),
        "{rep}"
    );
}

/// Bag and box labels come from one printing: a box's label read as a
/// bag's (or the reverse) is refused, naming what it is, and nothing is made.
#[tokio::test]
async fn a_box_label_is_not_taken_for_a_bag_nor_a_bag_label_for_a_box() {
    let w = world().await;
    w.three_tubes_in_a_box(true);
    w.filled_tube(&w.a, "TB00000004", &w.codes[20..22]);
    let v = w.as_(&w.vol);
    let r = v.post(
        &format!("/api/v1/points/{}/bags", w.a),
        &json!({ "barcode": "BOX0000001", "tubes": ["TB00000004"], "counted_tubes": 1 }),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("box's label"), "{}", r.body);
    assert_eq!(w.tube_state("TB00000004").await, "closed");
    let r = v.post(
        &format!("/api/v1/points/{}/bags", w.a),
        &json!({ "barcode": "BAG0000003", "tubes": ["TB00000004"], "counted_tubes": 1 }),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let r = v.post(
        &format!("/api/v1/points/{}/boxes", w.a),
        &json!({ "barcode": "BAG0000001", "bags": ["BAG0000003"], "counted_bags": 1, "counted_tubes": 1 }),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("bag's label"), "{}", r.body);
    // Nor a tube's barcode for either, nor a bag's or box's label for a tube.
    let r = v.post(
        &format!("/api/v1/points/{}/bags", w.a),
        &json!({ "barcode": "TB00000001", "tubes": ["TB00000004"], "counted_tubes": 1 }),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("tube's barcode"), "{}", r.body);
    let r = v.post(
        &format!("/api/v1/points/{}/boxes", w.a),
        &json!({ "barcode": "TB00000002", "bags": ["BAG0000003"], "counted_bags": 1, "counted_tubes": 1 }),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("tube's barcode"), "{}", r.body);
    for label in ["BOX0000001", "BAG0000003"] {
        let r = v.post(
            &format!("/api/v1/points/{}/tubes", w.a),
            &json!({ "barcode": label }),
        );
        assert_eq!(r.status, 400, "{}", r.body);
        assert!(r.body.contains("not a tube's barcode"), "{}", r.body);
    }
    // Opened offline with one (a station's replay): its swabs are in it;
    // kept, with the warning.
    let r = v.post(
        &format!("/api/v1/points/{}/tubes", w.a),
        &json!({ "barcode": "BOX0000001", "reuse": true }),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert!(r.body.contains("not a tube's barcode"), "{}", r.body);
    // The third bag is in no box yet: on its way while sampling runs.
    let report = w.report(&w.chief, None);
    assert_eq!(report["matched"], true, "{report}");
    assert!(
        report["waiting"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["step"] == "box" && m["items"].to_string().contains("BAG0000003")),
        "{report}"
    );
}

/// A packer who typed the wrong count corrects it by counting again, with a
/// reason, while the bag or box is still at the point; the reconciliation
/// then agrees, the audit log keeps both counts, and once the box has been
/// handed over its counts stand.
#[tokio::test]
async fn a_miscounted_bag_or_box_is_recounted_until_it_is_handed_over() {
    let w = world().await;
    w.filled_tube(&w.a, "TB00000001", &w.codes[0..10]);
    w.filled_tube(&w.a, "TB00000002", &w.codes[10..15]);
    let v = w.as_(&w.vol);
    let bag = v.post(
        &format!("/api/v1/points/{}/bags", w.a),
        &json!({ "barcode": "BAG0000001", "tubes": ["TB00000001", "TB00000002"], "counted_tubes": 3 }),
    );
    assert_eq!(bag.status, 201, "{}", bag.body);
    assert_eq!(bag.json()["counts_match"], false, "{}", bag.body);
    let flagged = |kind: &str, at: &str| {
        w.report(&w.chief, None)["mismatches"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["kind"] == kind && m["at"] == at)
    };
    assert!(flagged("bag", "BAG0000001"));
    let recount = |body: Value| v.post(&format!("/api/v1/points/{}/recounts", w.a), &body);
    // Refused, nothing changed: no reason; a bag count for a bag; a label of
    // no bag or box; another point's.
    for (body, says) in [
        (
            json!({ "barcode": "BAG0000001", "counted_tubes": 2, "reason": " " }),
            "needs a reason",
        ),
        (
            json!({ "barcode": "BAG0000001", "counted_tubes": 2, "counted_bags": 1, "reason": "数错" }),
            "is a bag",
        ),
        (
            json!({ "barcode": "BAG0000099", "counted_tubes": 2, "reason": "数错" }),
            "no such bag or box",
        ),
        (
            json!({ "barcode": "TB00000001", "counted_tubes": 2, "reason": "数错" }),
            "that is a tube's barcode",
        ),
        (
            json!({ "barcode": "BAG0000001", "counted_tubes": 2, "reason": "数错\u{0}" }),
            "NUL character",
        ),
        (
            json!({ "barcode": "BAG0000001", "counted_tubes": 2, "reason": "数错\u{7}" }),
            "control character",
        ),
        (
            json!({ "barcode": "BAG0000001", "counted_tubes": 2, "reason": "错".repeat(501) }),
            "longer than 500",
        ),
        (
            json!({ "barcode": "BAG0000001", "counted_tubes": 2, "reason": "\u{200b}" }),
            "needs a reason",
        ),
        (
            json!({ "barcode": "BAG0000001", "counted_tubes": 20220001, "reason": "数错" }),
            "over 1000000",
        ),
    ] {
        let r = recount(body);
        assert_eq!(r.status, 400, "{}", r.body);
        assert!(r.body.contains(says), "{says}: {}", r.body);
    }
    let elsewhere = w.as_(&w.chief).post(
        &format!("/api/v1/points/{}/recounts", w.b),
        &json!({ "barcode": "BAG0000001", "counted_tubes": 2, "reason": "数错" }),
    );
    assert_eq!(elsewhere.status, 400, "{}", elsewhere.body);
    assert!(
        elsewhere.body.contains("not this one"),
        "{}",
        elsewhere.body
    );
    assert!(
        flagged("bag", "BAG0000001"),
        "a refused recount changes nothing"
    );
    // The real count: the step agrees, and so does the reconciliation.
    let r = recount(json!({ "barcode": "bag0000001", "counted_tubes": 2, "reason": "封袋时数错" }));
    assert_eq!(r.status, 200, "{}", r.body);
    let p = r.json();
    assert_eq!(
        (&p["counts_match"], &p["tubes"], &p["people"]),
        (&json!(true), &json!(2), &json!(15)),
        "{p}"
    );
    assert!(!flagged("bag", "BAG0000001"));
    // The command line: a wrong recount is recorded and flagged (exit 3),
    // the right one clears it again.
    let cli = |n: &str| {
        w.env.cli(&[
            "handoff",
            "recount",
            "--point",
            &w.a,
            "--barcode",
            "BAG0000001",
            "--counted-tubes",
            n,
            "--reason",
            "复核",
        ])
    };
    let out = cli("4");
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(flagged("bag", "BAG0000001"));
    let out = cli("2");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("counts match"),
        "{out:?}"
    );
    assert!(!flagged("bag", "BAG0000001"));

    // A box packed with a wrong bag count, recounted the same way (from
    // the packing page's form this time).
    let boxed = v.post(
        &format!("/api/v1/points/{}/boxes", w.a),
        &json!({ "barcode": "BOX0000001", "bags": ["BAG0000001"], "counted_bags": 2, "counted_tubes": 2 }),
    );
    assert_eq!(boxed.json()["counts_match"], false, "{}", boxed.body);
    assert!(flagged("box", "BOX0000001"));
    let r = recount(json!({ "barcode": "BOX0000001", "counted_tubes": 2, "reason": "数错" }));
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("is a box"), "{}", r.body);
    let pw = w.env.account("packer", "volunteer", &["--point", &w.a]);
    w.srv.login("packer", &pw);
    let browser = crate::round_pages::Browser::login(&w.srv, "packer", &format!("{pw}-changed"));
    let page = browser.get(&format!("/points/{}/packing", w.a));
    assert!(page.body.contains("重新清点（数错时）"), "{}", page.body);
    let r = browser.post(
        &format!("/points/{}/recount", w.a),
        &[
            ("barcode", "BOX0000001"),
            ("counted_tubes", "2"),
            ("counted_bags", "1"),
            ("reason", "装箱时数错"),
        ],
    );
    // On to the packing page saying so (a refresh records nothing again).
    let (_, r) = crate::packing2::followed(&browser, &r);
    assert!(
        r.body.contains("已重新清点") && !r.body.contains("id=\"mismatch\""),
        "{}",
        r.body
    );
    assert!(!flagged("box", "BOX0000001"));
    let audit = w
        .env
        .store()
        .await
        .audit_events(None, None, None, 200)
        .await
        .unwrap();
    let said: Vec<&str> = audit
        .iter()
        .filter(|e| e.action == "recount")
        .map(|e| e.detail.as_str())
        .collect();
    assert!(
        said.iter()
            .any(|d| d.contains("bag=BAG0000001 tubes=3->2") && d.contains("封袋时数错"))
            && said.iter().any(|d| d.contains("bag=BAG0000001 tubes=2->4"))
            && said
                .iter()
                .any(|d| d.contains("box=BOX0000001") && d.contains("bags=2->1")),
        "{said:?}"
    );

    // Handed over: the box and its bag have left the point; counts stand.
    let h = w.as_(&w.chief).post(
        &format!("/api/v1/points/{}/handoffs", w.a),
        &json!({ "boxes": ["BOX0000001"], "transporter": { "name": "李师傅", "phone": "13812345678" }, "counted_tubes": 2 }),
    );
    assert_eq!(h.status, 201, "{}", h.body);
    for body in [
        json!({ "barcode": "BOX0000001", "counted_tubes": 3, "counted_bags": 1, "reason": "再数" }),
        json!({ "barcode": "BAG0000001", "counted_tubes": 3, "reason": "再数" }),
    ] {
        let r = recount(body);
        assert_eq!(r.status, 409, "{}", r.body);
        assert!(r.body.contains("handed over"), "{}", r.body);
    }
    assert!(!flagged("box", "BOX0000001") && !flagged("bag", "BAG0000001"));
    // A box the lab received with no hand-over recorded has left the point too.
    w.filled_tube(&w.a, "TB00000003", &w.codes[15..18]);
    let r = v.post(
        &format!("/api/v1/points/{}/bags", w.a),
        &json!({ "barcode": "BAG0000002", "tubes": ["TB00000003"], "counted_tubes": 1 }),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let r = v.post(
        &format!("/api/v1/points/{}/boxes", w.a),
        &json!({ "barcode": "BOX0000002", "bags": ["BAG0000002"], "counted_bags": 1, "counted_tubes": 1 }),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let rc = w.as_(&w.lab).post(
        &format!("/api/v1/rounds/{}/receipts", w.round),
        &json!({ "boxes": ["BOX0000002"], "counted_tubes": 1 }),
    );
    assert_eq!(rc.status, 201, "{}", rc.body);
    for body in [
        json!({ "barcode": "BOX0000002", "counted_tubes": 2, "counted_bags": 1, "reason": "再数" }),
        json!({ "barcode": "BAG0000002", "counted_tubes": 2, "reason": "再数" }),
    ] {
        let r = recount(body);
        assert_eq!(r.status, 409, "{}", r.body);
        assert!(r.body.contains("has left the point"), "{}", r.body);
    }
    // Its hand-over entered late is taken, with a warning, and the box stays
    // flagged: the record does not fill the hole in the chain of custody.
    assert!(flagged("box", "BOX0000002"));
    let late = v.post(
        &format!("/api/v1/points/{}/handoffs", w.a),
        &json!({ "boxes": ["BOX0000002"], "transporter": { "name": "李师傅", "phone": "13812345678" }, "counted_tubes": 1 }),
    );
    assert_eq!(late.status, 201, "{}", late.body);
    assert!(
        late.body.contains("before this hand-over was recorded"),
        "{}",
        late.body
    );
    let report = w.report(&w.chief, None);
    let m = report["mismatches"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["kind"] == "box" && m["at"] == "BOX0000002")
        .cloned();
    let m = m.unwrap_or_else(|| panic!("the late hand-over hid the box: {report}"));
    assert!(
        m["note"]
            .as_str()
            .unwrap()
            .contains("only after the lab received"),
        "{m}"
    );
    // Packing goes on after the round closed (a correction's retests travel
    // the chain), and so does correcting a miscount at the point.
    w.filled_tube(&w.a, "TB00000004", &w.codes[20..22]);
    let r = v.post(
        &format!("/api/v1/points/{}/bags", w.a),
        &json!({ "barcode": "BAG0000003", "tubes": ["TB00000004"], "counted_tubes": 2 }),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    // (A round closes with every tube resulted.) Recorded; the tubes whose
    // box the lab never recorded receiving are named: the handed-over box's
    // two and the bag still at the point.
    let rows: Vec<Value> = (1..=4)
        .map(|i| json!({ "barcode": format!("TB0000000{i}"), "result": "negative" }))
        .collect();
    let r = w.as_(&w.chief).post(
        &format!("/api/v1/rounds/{}/results", w.round),
        &json!({ "results": rows }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json()["not_received"],
        json!(["TB00000001", "TB00000002", "TB00000004"]),
        "{}",
        r.body
    );
    let k: gw_domain::ids::Key = w.round.parse().unwrap();
    let store = w.env.store().await;
    store
        .move_round(
            k.street,
            k.id,
            "open",
            "closed",
            gw_app::Clock::System.now_ms(),
            &Default::default(),
        )
        .await
        .unwrap();
    assert!(flagged("bag", "BAG0000003"));
    let r = recount(json!({ "barcode": "BAG0000003", "counted_tubes": 1, "reason": "数错" }));
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(!flagged("bag", "BAG0000003"));
    let r = v.post(
        &format!("/api/v1/points/{}/boxes", w.a),
        &json!({ "barcode": "BOX0000003", "bags": ["BAG0000003"], "counted_bags": 1, "counted_tubes": 5 }),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert!(flagged("box", "BOX0000003"));
    let r = recount(
        json!({ "barcode": "BOX0000003", "counted_tubes": 1, "counted_bags": 1, "reason": "数错" }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(!flagged("box", "BOX0000003"));
    // Nor does its bag capacity change.
    let r = w.as_(&w.chief).post(
        &format!("/api/v1/rounds/{}/bag-capacity", w.round),
        &json!({ "bag_capacity": 10 }),
    );
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.body.contains("is closed"), "{}", r.body);
    // When the emergency ends a recount's reason (it may name someone)
    // goes from the audit log; what was recounted, and by whom, stays.
    w.env.cli_ok(&["purge", "--before", "2200-01-01", "--yes"]);
    let audit = store.audit_events(None, None, None, 500).await.unwrap();
    let recounts: Vec<&str> = audit
        .iter()
        .filter(|e| e.action == "recount")
        .map(|e| e.detail.as_str())
        .collect();
    assert!(recounts.len() >= 3, "{recounts:?}");
    assert!(
        recounts.iter().all(|d| d.ends_with(" reason=已清除")),
        "{recounts:?}"
    );
    assert!(
        recounts
            .iter()
            .any(|d| d.starts_with("bag=BAG0000001 tubes=3->2")),
        "{recounts:?}"
    );
    let purge = audit.iter().find(|e| e.action == "purge").unwrap();
    assert!(purge.detail.contains("audit_reasons="), "{}", purge.detail);
}

/// The lab receives two boxes in one receipt and counts each on its own: the
/// receipt's shortfall is named at the box it is in (数据统计校对 says where
/// it broke), from the API's `box_tubes` and from the lab page's box lines.
#[tokio::test]
async fn the_labs_count_box_by_box_names_the_short_box() {
    let w = world().await;
    w.three_tubes_in_a_box(true);
    // A second box at the other point (the round's id and point A's read
    // alike here: 1-1).
    w.filled_tube(&w.b, "TB00000004", &w.codes[20..22]);
    let c = w.as_(&w.chief);
    let r = c.post(
        &format!("/api/v1/points/{}/bags", w.b),
        &json!({ "barcode": "BAG0000003", "tubes": ["TB00000004"], "counted_tubes": 1 }),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let r = c.post(
        &format!("/api/v1/points/{}/boxes", w.b),
        &json!({ "barcode": "BOX0000002", "bags": ["BAG0000003"], "counted_bags": 1, "counted_tubes": 1 }),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    for (point, boxed, tubes) in [(&w.a, "BOX0000001", 3), (&w.b, "BOX0000002", 1)] {
        let h = c.post(
            &format!("/api/v1/points/{point}/handoffs"),
            &json!({ "boxes": [boxed], "transporter": { "name": "李师傅", "phone": "13812345678" }, "counted_tubes": tubes }),
        );
        assert_eq!(h.status, 201, "{}", h.body);
    }
    let lab = w.as_(&w.lab);
    let receipts = format!("/api/v1/rounds/{}/receipts", w.round);
    // A count for a box not in this receipt, or a negative one: refused,
    // nothing received.
    for bad in [json!({ "BOX0000009": 1 }), json!({ "BOX0000002": -1 })] {
        let r = lab.post(
            &receipts,
            &json!({ "boxes": ["BOX0000001", "BOX0000002"], "counted_tubes": 4, "box_tubes": bad }),
        );
        assert_eq!(r.status, 400, "{}", r.body);
    }
    assert_eq!(w.tube_state("TB00000004").await, "handed_over");
    // The second box alone, counted empty: its break is named with its
    // point (a receipt spans points; it is not the round).
    let r = lab.post(
        &receipts,
        &json!({ "boxes": ["BOX0000002"], "counted_tubes": 0, "box_tubes": { "BOX0000002": 0 } }),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let answer = r.json();
    let short: Vec<&Value> = answer["mismatches"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["kind"] == "box")
        .collect();
    assert_eq!(short.len(), 1, "{answer}");
    assert_eq!(
        (&short[0]["at"], &short[0]["point"]),
        (&json!("BOX0000002"), &json!(w.b)),
        "{answer}"
    );
    assert_eq!(w.tube_state("TB00000004").await, "received");
    // From the lab's page: one box a line, its count after it.
    let pw = w.env.account("lab2", "lab", &["--street", "鸿城街道"]);
    w.srv.login("lab2", &pw);
    let browser = crate::round_pages::Browser::login(&w.srv, "lab2", &format!("{pw}-changed"));
    let r = browser.post(
        &format!("/rounds/{}/receipts", w.round),
        &[("boxes", "box0000001 ２"), ("counted_tubes", "2")],
    );
    let (_, r) = crate::packing2::followed(&browser, &r);
    assert!(r.body.contains("BOX0000001"), "{}", r.body);
    assert_eq!(w.tube_state("TB00000001").await, "received");
    let rep = w.report(&w.chief, None);
    let at_box: Vec<&Value> = rep["mismatches"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["kind"] == "box")
        .collect();
    let named: Vec<(&Value, &Value, &Value)> = at_box
        .iter()
        .map(|m| (&m["at"], &m["expected"], &m["found"]))
        .collect();
    assert_eq!(
        named,
        vec![
            (&json!("BOX0000001"), &json!(3), &json!(2)),
            (&json!("BOX0000002"), &json!(1), &json!(0))
        ],
        "only the short boxes: {rep}"
    );
    assert!(
        rep["mismatches"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["kind"] == "receipt"),
        "the receipt as a whole is short too: {rep}"
    );
}

/// A box scanned at the lab against the wrong round is named as a box of
/// the round it belongs to, not "no such box".
#[tokio::test]
async fn a_box_of_another_round_is_named_as_that() {
    let w = world().await;
    w.three_tubes_in_a_box(true);
    let street: gw_domain::ids::Key = w.round.parse().unwrap();
    let (r2, _) = open_round(
        |p, b| w.as_(&w.chief).post(p, b),
        &round_body(street.street, "全员核酸第2轮（另一轮）"),
    );
    let rc = w.as_(&w.lab).post(
        &format!("/api/v1/rounds/{r2}/receipts"),
        &json!({ "boxes": ["BOX0000001"], "counted_tubes": 2 }),
    );
    assert_eq!(rc.status, 400, "{}", rc.body);
    assert!(
        rc.body.contains("a box of another round") && rc.body.contains(&w.round),
        "{}",
        rc.body
    );
}
