//! The packing chain as a reviewer used it on a phone: a repeated request is
//! answered as done (API and forms), a form's success is a redirect (a
//! refresh posts nothing), a refusal is at the top of the page, tubes left
//! open are named, the lab's box counts and total cannot contradict each
//! other, and every message says what and where.

use serde_json::{json, Value};

use crate::harness::{residents_with_codes, Response};
use crate::packing_pages::{closed_tube, staffed, Staffed};
use crate::round_pages::Browser;

/// The value of a response header.
fn header<'a>(r: &'a Response, name: &str) -> Option<&'a str> {
    r.head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// A form's answer that must be a redirect (303), and the page it leads to.
pub(crate) fn followed(b: &Browser, r: &Response) -> (String, Response) {
    assert_eq!(r.status, 303, "{}", r.body);
    let to = header(r, "location").expect("a Location").to_string();
    let page = b.get(&to);
    assert_eq!(page.status, 200, "{to}: {}", page.body);
    (to, page)
}

/// The text of the element with this id (up to its first closing `tag`).
fn element<'a>(html: &'a str, id: &str, tag: &str) -> &'a str {
    let start = html
        .find(&format!(r#"id="{id}""#))
        .unwrap_or_else(|| panic!("no #{id} in {html}"));
    let rest = &html[start..];
    &rest[..rest.find(&format!("</{tag}>")).unwrap_or(rest.len())]
}

struct World {
    s: Staffed,
    /// Point 东风一号点.
    a: String,
    people: Vec<(String, String)>,
    /// Tokens: the lab, the point's manager, a volunteer at the point.
    lab: String,
    pm: String,
    vol: String,
    /// Changed passwords of the point's manager and volunteer and of the lab.
    pm_pw: String,
    vol_pw: String,
    lab_pw: String,
}

async fn world() -> World {
    let s = staffed("全员核酸第5轮").await;
    let c = s.srv.with_token(&s.chief);
    let a = c
        .post(
            &format!("/api/v1/rounds/{}/points", s.round),
            &json!({ "name": "东风一号点", "community": format!("{}-{}", s.street, s.community) }),
        )
        .json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let people = residents_with_codes(|p| c.get(p), "limit=12");
    let pm_pw = s.env.account("pm", "point_manager", &["--point", &a]);
    let vol_pw = s.env.account("vol", "volunteer", &["--point", &a]);
    let pm = s.srv.login("pm", &pm_pw);
    let vol = s.srv.login("vol", &vol_pw);
    let lab = s.srv.login("lab", &s.lab_pw);
    World {
        lab_pw: format!("{}-changed", s.lab_pw),
        s,
        a,
        people,
        lab,
        pm,
        vol,
        pm_pw: format!("{pm_pw}-changed"),
        vol_pw: format!("{vol_pw}-changed"),
    }
}

impl World {
    fn closed_tube(&self, barcode: &str, people: &[(String, String)]) {
        closed_tube(&self.s.srv, &self.s.chief, &self.a, barcode, people);
    }
    fn post(&self, token: &str, path: &str, body: &Value) -> Response {
        self.s.srv.with_token(token).post(path, body)
    }
    async fn tube_state(&self, barcode: &str) -> String {
        let round: gw_domain::ids::Key = self.s.round.parse().unwrap();
        self.s
            .env
            .store()
            .await
            .tube_by_barcode(round.street, round.id, barcode)
            .await
            .unwrap()
            .unwrap()
            .state
    }
    async fn audited(&self, action: &str) -> usize {
        self.s
            .env
            .store()
            .await
            .audit_events(None, None, None, 1000)
            .await
            .unwrap()
            .iter()
            .filter(|e| e.action == action)
            .count()
    }
}

#[tokio::test]
async fn a_repeated_packing_request_is_answered_as_done_and_a_different_one_refused() {
    let w = world().await;
    w.closed_tube("TB00000101", &w.people[0..2]);
    w.closed_tube("TB00000102", &w.people[2..3]);
    let (a, round) = (&w.a, &w.s.round);

    // A bag, then exactly the same bag again: done, from the record.
    let bags = format!("/api/v1/points/{a}/bags");
    let bag =
        json!({ "barcode": "BAG101", "tubes": ["TB00000101", "TB00000102"], "counted_tubes": 2 });
    let first = w.post(&w.vol, &bags, &bag);
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!(first.json()["replay"], false);
    let again = w.post(&w.vol, &bags, &bag);
    assert_eq!(again.status, 200, "{}", again.body);
    let again = again.json();
    assert_eq!(
        (
            &again["replay"],
            &again["id"],
            &again["tubes"],
            &again["people"],
            &again["counts_match"]
        ),
        (
            &json!(true),
            &first.json()["id"],
            &json!(2),
            &json!(3),
            &json!(true)
        ),
        "{again}"
    );
    // Anything different is refused as before, naming the bag.
    let other = w.post(
        &w.vol,
        &bags,
        &json!({ "barcode": "BAG101", "tubes": ["TB00000101", "TB00000102"], "counted_tubes": 3 }),
    );
    assert_eq!(other.status, 400, "{}", other.body);
    assert!(other.body.contains("已装入袋 BAG101"), "{}", other.body);
    let part = w.post(
        &w.vol,
        &bags,
        &json!({ "barcode": "BAG101", "tubes": ["TB00000101"], "counted_tubes": 1 }),
    );
    assert_eq!(part.status, 400, "{}", part.body);
    assert_eq!(w.audited("pack_bag").await, 1, "nothing written twice");

    // A box, the same: done; a bag boxed already names its box.
    let boxes = format!("/api/v1/points/{a}/boxes");
    let boxed =
        json!({ "barcode": "BOX101", "bags": ["BAG101"], "counted_bags": 1, "counted_tubes": 2 });
    assert_eq!(w.post(&w.vol, &boxes, &boxed).status, 201);
    let again = w.post(&w.vol, &boxes, &boxed);
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(
        (&again.json()["replay"], &again.json()["bags"]),
        (&json!(true), &json!(1))
    );
    let other = w.post(
        &w.vol,
        &boxes,
        &json!({ "barcode": "BOX102", "bags": ["BAG101"], "counted_bags": 1, "counted_tubes": 2 }),
    );
    assert_eq!(other.status, 400, "{}", other.body);
    assert!(
        other
            .body
            .contains("BAG101: 已装入箱 BOX101 / already in box BOX101"),
        "{}",
        other.body
    );
    assert_eq!(w.audited("pack_box").await, 1);

    // The hand-over, the same: done; another transporter for it: refused.
    let handoffs = format!("/api/v1/points/{a}/handoffs");
    let sheet = json!({ "boxes": ["BOX101"], "transporter": { "name": "李师傅", "phone": "13812345678" }, "counted_tubes": 2, "counted_people": 3 });
    let first = w.post(&w.vol, &handoffs, &sheet);
    assert_eq!(first.status, 201, "{}", first.body);
    let again = w.post(&w.vol, &handoffs, &sheet);
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(
        (&again.json()["replay"], &again.json()["id"]),
        (&json!(true), &first.json()["id"])
    );
    let other = w.post(
        &w.vol,
        &handoffs,
        &json!({ "boxes": ["BOX101"], "transporter": { "name": "王师傅", "phone": "13912345678" }, "counted_tubes": 2 }),
    );
    assert_eq!(other.status, 400, "{}", other.body);
    let hid = first.json()["id"].as_str().unwrap().to_string();
    assert!(
        other
            .body
            .contains(&format!("BOX101: 已交接（交接单 {hid}）")),
        "{}",
        other.body
    );
    assert_eq!(w.audited("hand_over").await, 1);

    // The lab's receipt, the same: done; another count: refused.
    let receipts = format!("/api/v1/rounds/{round}/receipts");
    let receipt = json!({ "boxes": ["BOX101"], "counted_tubes": 2, "box_tubes": { "BOX101": 2 } });
    let first = w.post(&w.lab, &receipts, &receipt);
    assert_eq!(first.status, 201, "{}", first.body);
    let again = w.post(&w.lab, &receipts, &receipt);
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(
        (&again.json()["replay"], &again.json()["id"]),
        (&json!(true), &first.json()["id"])
    );
    let other = w.post(
        &w.lab,
        &receipts,
        &json!({ "boxes": ["BOX101"], "counted_tubes": 1 }),
    );
    assert_eq!(other.status, 400, "{}", other.body);
    assert!(
        other.body.contains("BOX101: 实验室已接收（接收单"),
        "{}",
        other.body
    );
    assert_eq!(w.audited("lab_receive").await, 1);
    assert_eq!(w.tube_state("TB00000102").await, "received");

    // The reconciliation holds one of each, and every count matches.
    let rep =
        w.s.srv
            .with_token(&w.s.chief)
            .get(&format!("/api/v1/rounds/{round}/reconciliation"))
            .json();
    assert_eq!(rep["matched"], true, "{rep}");
    assert_eq!(rep["handoffs"].as_array().unwrap().len(), 1, "{rep}");
    // The API documents the answer to a repeated request.
    let doc = w.s.srv.anonymous().get("/api/v1/openapi.json").json();
    let bag_post = &doc["paths"]["/api/v1/points/{id}/bags"]["post"];
    assert!(
        bag_post["responses"]["200"]["description"]
            .as_str()
            .unwrap()
            .contains("replay"),
        "{bag_post}"
    );
}

#[tokio::test]
async fn packing_forms_answer_with_a_redirect_so_a_refresh_records_nothing_twice() {
    let w = world().await;
    w.closed_tube("TB00000201", &w.people[0..2]);
    w.closed_tube("TB00000202", &w.people[2..4]);
    let a = &w.a;
    // A volunteer (who does not read the reconciliation) seals a bag
    // counted wrong: sent on to the packing page, which says what was
    // recorded and where the count broke.
    let vol = Browser::login(&w.s.srv, "vol", &w.vol_pw);
    let bag = [
        ("barcode", "BAG201"),
        ("tubes", "TB00000201\r\nTB00000202"),
        ("counted_tubes", "3"),
    ];
    let r = vol.post(&format!("/points/{a}/bags"), &bag);
    let (to, page) = followed(&vol, &r);
    assert_eq!(to, format!("/points/{a}/packing?done=bag&label=BAG201"));
    assert!(element(&page.body, "result", "p").contains("已封袋 BAG201 · 2 管 · 4 人份"));
    assert!(
        element(&page.body, "mismatch", "div")
            .contains("装袋环节 · 袋 BAG201：管数系统为 2，清点为 3（多1）"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("form-error"), "{}", page.body);
    // The same form sent again (back, then send): said to be recorded
    // already, no red refusal, nothing stored twice.
    let r = vol.post(&format!("/points/{a}/bags"), &bag);
    let (to, page) = followed(&vol, &r);
    assert!(to.ends_with("&again=1"), "{to}");
    assert!(element(&page.body, "replayed", "p").contains("此前已记录过"));
    assert!(!page.body.contains("form-error"), "{}", page.body);
    assert_eq!(w.audited("pack_bag").await, 1);

    // The recount, the box and the hand-over: each a redirect too.
    let r = vol.post(
        &format!("/points/{a}/recount"),
        &[
            ("barcode", "BAG201"),
            ("counted_tubes", "2"),
            ("reason", "封袋时数错"),
        ],
    );
    let (_, page) = followed(&vol, &r);
    assert!(element(&page.body, "result", "p").contains("已重新清点 BAG201"));
    assert!(!page.body.contains(r#"id="mismatch""#));
    let boxed = [
        ("barcode", "BOX201"),
        ("bags", "BAG201"),
        ("counted_bags", "1"),
        ("counted_tubes", "2"),
    ];
    let r = vol.post(&format!("/points/{a}/boxes"), &boxed);
    let (_, page) = followed(&vol, &r);
    assert!(
        element(&page.body, "result", "p").contains("已装箱 BOX201 · 1 袋"),
        "{}",
        page.body
    );
    let sheet = [
        ("name", "李师傅"),
        ("phone", "13812345678"),
        ("boxes", "BOX201"),
        ("counted_boxes", ""),
        ("counted_tubes", "2"),
        ("counted_people", "5"),
    ];
    let r = vol.post(&format!("/points/{a}/handoffs"), &sheet);
    let (to, page) = followed(&vol, &r);
    assert!(to.contains("done=handoff&id="), "{to}");
    assert!(
        element(&page.body, "result", "p").contains("已交接 1 箱 → 李师傅"),
        "{}",
        page.body
    );
    // The sheet says 5 swabs, the boxes hold 4: the count is flagged and
    // the hand-over's row is red, with what the system holds.
    assert!(element(&page.body, "mismatch", "div").contains("人份系统为 4，清点为 5"));
    let row = element(&page.body, "handoffs", "ul");
    assert!(
        row.contains(r#"class="row2 warn""#) && row.contains("1 箱 · 2 管 · 5 人份"),
        "{row}"
    );
    assert!(row.contains("系统为 1 箱 · 2 管 · 4 人份"), "{row}");
    let r = vol.post(&format!("/points/{a}/handoffs"), &sheet);
    let (to, _) = followed(&vol, &r);
    assert!(to.ends_with("&again=1"), "{to}");
    assert_eq!(w.audited("hand_over").await, 1);
    // In English: counted things in the singular when there is one.
    let en = vol.get(&format!("/points/{a}/packing?lang=en"));
    let row = element(&en.body, "handoffs", "ul");
    assert!(row.contains("1 box · 2 tubes · 5 swabs"), "{row}");

    // The lab's receipt form: on to the reconciliation page saying so.
    let lab = Browser::login(&w.s.srv, "lab", &w.lab_pw);
    let form = [("boxes", "BOX201"), ("counted_tubes", "1")];
    let r = lab.post(&format!("/rounds/{}/receipts", w.s.round), &form);
    let (to, page) = followed(&lab, &r);
    assert!(
        to.starts_with(&format!("/rounds/{}/reconciliation?received=", w.s.round)),
        "{to}"
    );
    assert!(element(&page.body, "result", "p").contains("实验室已接收 1 箱"));
    assert!(page.body.contains(r#"id="receipt""#), "the form stays");
    let r = lab.post(&format!("/rounds/{}/receipts", w.s.round), &form);
    let (to, page) = followed(&lab, &r);
    assert!(to.ends_with("&again=1"), "{to}");
    assert!(element(&page.body, "replayed", "p").contains("此前已记录过"));
    assert_eq!(w.audited("lab_receive").await, 1);
    // The lab's page names the receipt by the account's name, not its id.
    let chief = Browser::login(&w.s.srv, "chief", &format!("{}-changed", w.s.chief_pw));
    let rec = chief.get(&format!("/rounds/{}/reconciliation", w.s.round));
    assert!(
        rec.body.contains("实验室接收单 lab ") && !rec.body.contains("user:lab"),
        "{}",
        rec.body
    );
}

#[tokio::test]
async fn a_refused_form_is_at_the_top_and_tubes_left_open_are_named() {
    let w = world().await;
    let a = &w.a;
    // A closed tube never bagged: the point's reconciliation box is red.
    w.closed_tube("TB00000301", &w.people[0..1]);
    // A tube left open with three swabs once sampling is over.
    let c = w.s.srv.with_token(&w.s.chief);
    let r = c.post(
        &format!("/api/v1/points/{a}/tubes"),
        &json!({ "barcode": "TB00000302" }),
    );
    let tube = r.json()["id"].as_str().unwrap().to_string();
    for (i, (_, code)) in w.people[1..4].iter().enumerate() {
        let s = c.post(
            &format!("/api/v1/tubes/{tube}/scans"),
            &json!({ "client_id": format!("open-{i}"), "code": code }),
        );
        assert_eq!(s.status, 200, "{}", s.body);
    }
    let moved = c.post(
        &format!("/api/v1/rounds/{}/state", w.s.round),
        &json!({ "to": "sampling_closed" }),
    );
    assert_eq!(moved.status, 200, "{}", moved.body);
    let rep =
        w.s.srv
            .with_token(&w.pm)
            .get(&format!(
                "/api/v1/rounds/{}/reconciliation?point={a}",
                w.s.round
            ))
            .json();
    let open: Vec<&Value> = rep["mismatches"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["step"] == "point")
        .collect();
    assert_eq!(open.len(), 2, "{rep}");
    assert!(
        open.iter()
            .all(|m| m["items"] == json!(["TB00000302"]) && m["item_swabs"] == json!([3])),
        "{rep}"
    );
    let pm = Browser::login(&w.s.srv, "pm", &w.pm_pw);
    let page = pm.get(&format!("/points/{a}/packing"));
    let breaks = element(&page.body, "point-breaks", "ul");
    assert!(
        breaks.contains(&format!(
            "采样点 「东风一号点」（{a}）：管数 1 — 采样已结束"
        )) && breaks.contains("TB00000302（3 人份）"),
        "{breaks}"
    );
    assert!(!breaks.contains("采样点 · 采样点"), "{breaks}");
    let en = pm.get(&format!("/points/{a}/packing?lang=en"));
    assert!(
        element(&en.body, "point-breaks", "ul").contains("TB00000302 (3 swabs)"),
        "{}",
        en.body
    );

    // A refused bag: the refusal comes before the red reconciliation box,
    // at the top of the page.
    let r = pm.post(
        &format!("/points/{a}/bags"),
        &[
            ("barcode", "BAG301"),
            ("tubes", "TB00000399"),
            ("counted_tubes", "1"),
        ],
    );
    assert_eq!(r.status, 400, "{}", r.body);
    let refusal = r.body.find(r#"id="form-error""#).unwrap();
    let breaks = r.body.find(r#"id="point-breaks""#).unwrap();
    assert!(refusal < breaks, "the refusal is below the red box");
    assert!(
        r.body[..refusal].matches("<section").count() <= 2,
        "only the counters before the refusal: {}",
        &r.body[..refusal]
    );
}

#[tokio::test]
async fn the_labs_box_counts_and_its_total_cannot_contradict_each_other() {
    let w = world().await;
    w.closed_tube("TB00000401", &w.people[0..1]);
    w.closed_tube("TB00000402", &w.people[1..2]);
    w.closed_tube("TB00000403", &w.people[2..3]);
    let a = &w.a;
    let r = w.post(
        &w.vol,
        &format!("/api/v1/points/{a}/bags"),
        &json!({ "barcode": "BAG401", "tubes": ["TB00000401", "TB00000402", "TB00000403"], "counted_tubes": 3 }),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let r = w.post(
        &w.vol,
        &format!("/api/v1/points/{a}/boxes"),
        &json!({ "barcode": "BOX102", "bags": ["BAG401"], "counted_bags": 1, "counted_tubes": 3 }),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let r = w.post(
        &w.vol,
        &format!("/api/v1/points/{a}/handoffs"),
        &json!({ "boxes": ["BOX102"], "transporter": { "name": "李师傅", "phone": "13812345678" }, "counted_tubes": 3 }),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    // Over the API: refused, saying both numbers; nothing received.
    let r = w.post(
        &w.lab,
        &format!("/api/v1/rounds/{}/receipts", w.s.round),
        &json!({ "boxes": ["BOX102"], "counted_tubes": 2, "box_tubes": { "BOX102": 3 } }),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.body
            .contains("逐箱清点的管数合计为 3，实验室清点管数却为 2"),
        "{}",
        r.body
    );
    assert_eq!(w.tube_state("TB00000401").await, "handed_over");
    // On the lab's page: the form says it and keeps what was typed.
    let lab = Browser::login(&w.s.srv, "lab", &w.lab_pw);
    let r = lab.post(
        &format!("/rounds/{}/receipts", w.s.round),
        &[("boxes", "BOX102 3"), ("counted_tubes", "2")],
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        element(&r.body, "form-error", "div").contains("add up to 3, the total says 2"),
        "{}",
        r.body
    );
    assert_eq!(w.tube_state("TB00000401").await, "handed_over");
}

#[tokio::test]
async fn messages_say_what_a_wrong_barcode_is_and_where_a_break_is() {
    let w = world().await;
    w.closed_tube("TB00000501", &w.people[0..1]);
    w.closed_tube("TB00000502", &w.people[1..2]);
    w.closed_tube("TB00000503", &w.people[2..3]);
    let a = &w.a;
    let r = w.post(
        &w.vol,
        &format!("/api/v1/points/{a}/bags"),
        &json!({ "barcode": "BAG501", "tubes": ["TB00000501"], "counted_tubes": 1 }),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    // A tube's barcode where a bag's goes.
    let r = w.post(
        &w.vol,
        &format!("/api/v1/points/{a}/boxes"),
        &json!({ "barcode": "BOX501", "bags": ["TB00000502"], "counted_bags": 1, "counted_tubes": 1 }),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.body
            .contains("TB00000502: 这是本轮一支采样管的条码，不是袋码"),
        "{}",
        r.body
    );
    let r = w.post(
        &w.vol,
        &format!("/api/v1/points/{a}/boxes"),
        &json!({ "barcode": "BOX501", "bags": ["BAG501"], "counted_bags": 1, "counted_tubes": 1 }),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    // A bag's label where a box's goes: at the hand-over and at the lab.
    let r = w.post(
        &w.vol,
        &format!("/api/v1/points/{a}/handoffs"),
        &json!({ "boxes": ["BAG501"], "transporter": { "name": "李师傅", "phone": "13812345678" }, "counted_tubes": 1 }),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.body.contains("BAG501: 这是本轮一个袋的袋码，不是箱码"),
        "{}",
        r.body
    );
    let r = w.post(
        &w.lab,
        &format!("/api/v1/rounds/{}/receipts", w.s.round),
        &json!({ "boxes": ["BAG501"], "counted_tubes": 1 }),
    );
    assert!(
        r.body.contains("BAG501: 这是本轮一个袋的袋码，不是箱码"),
        "{}",
        r.body
    );
    // The box at the lab before its hand-over: said in words, with its
    // point, on the lab's page.
    let r = w.post(
        &w.lab,
        &format!("/api/v1/rounds/{}/receipts", w.s.round),
        &json!({ "boxes": ["BOX501"], "counted_tubes": 1 }),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let lab = Browser::login(&w.s.srv, "lab", &w.lab_pw);
    let rec = lab.get(&format!("/rounds/{}/reconciliation", w.s.round));
    assert_eq!(rec.status, 200, "{}", rec.body);
    assert!(
        rec.body.contains(&format!(
            "交接环节 · 箱 BOX501（采样点 「东风一号点」（{a}））：实验室已接收此箱，但它从未登记交接"
        )),
        "{}",
        rec.body
    );
    assert!(!rec.body.contains("箱数系统为 0"), "{}", rec.body);

    // From the command line: Chinese first, no Rust names, no raw prefix;
    // the bag capacity names the bags over it.
    let out = w.s.env.cli(&["handoff", "report", "--round", &w.s.round]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        !text.contains("(HandOff)") && !text.contains("(Lab)") && text.contains("交接 hand-over"),
        "{text}"
    );
    let out = w.s.env.cli(&["handoff", "packing", "--point", a]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("待装袋 / closed tubes not bagged") && text.contains("  袋 bag BAG501"),
        "{text}"
    );
    // A bag's label used again for other tubes: the refusal without the
    // store's `conflict:` prefix.
    let out = w.s.env.cli(&[
        "handoff",
        "bag",
        "--point",
        a,
        "--bag",
        "BAG501",
        "--tube",
        "TB00000503",
        "--counted",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("袋条码 BAG501 本轮已使用") && !err.contains("conflict:"),
        "{err}"
    );
    let out = w.s.env.cli(&[
        "handoff",
        "bag",
        "--point",
        a,
        "--bag",
        "BAG502",
        "--tube",
        "TB00000502",
        "--tube",
        "TB00000503",
        "--counted",
        "2",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("袋 / bag BAG502") && text.contains("2 管 tubes"),
        "{text}"
    );
    let out = w.s.env.cli_ok(&[
        "handoff",
        "bag-capacity",
        "--round",
        &w.s.round,
        "--tubes",
        "1",
    ]);
    assert!(
        out.starts_with(&format!("轮次 {}：每袋最多 1 管", w.s.round)),
        "{out}"
    );
    assert!(
        out.contains("BAG502（2 管 tubes）") && !out.contains("BAG501"),
        "the bag over the new capacity is named: {out}"
    );
    let out = w.s.env.cli_ok(&["handoff", "hand-over", "--help"]);
    assert!(out.contains("--account"), "{out}");
    // A hand-over with a name but no phone nor account: a usage error.
    let out = w.s.env.cli(&[
        "handoff",
        "hand-over",
        "--point",
        a,
        "--box",
        "BOX501",
        "--transporter",
        "李师傅",
        "--counted-tubes",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}
