//! Packing, hand-over, lab receipt and the alerts page from the browser (real
//! HTTP, cookie session and form posts with the CSRF field), on both backends:
//! a bag sealed with a wrong count shows where it broke, the chain reaches the
//! lab and the reconciliation page, point staff elsewhere are refused, and an
//! abnormal pool shows with its members masked and what was done about it.

use gw_domain::ids::Key;
use serde_json::json;

use crate::harness::{open_round, residents_with_codes, round_body, Server, TestEnv};
use crate::round_pages::Browser;

struct World {
    env: TestEnv,
    srv: Server,
    chief: String,
    chief_pw: String,
    street: i64,
    round: String,
    /// Point A (the manager's) and point B (the volunteer's).
    a: String,
    b: String,
    /// (resident key, personal code) of residents of the street.
    people: Vec<(String, String)>,
    /// Passwords (already changed) of: the manager of A, a volunteer at B, a
    /// grid leader, the street's lab.
    pm: String,
    vol_b: String,
    leader: String,
    lab: String,
}

/// A demo street of 300 with its commander logged in over the API (`chief`:
/// the token), a lab account and the leader of its first community's first
/// grid (one-time passwords), and a round opened: what the page tests of
/// packing and of the alerts start from.
pub(crate) struct Staffed {
    pub env: TestEnv,
    pub srv: Server,
    pub chief: String,
    pub chief_pw: String,
    pub lab_pw: String,
    pub leader_pw: String,
    pub street: i64,
    pub community: i64,
    pub grid: i64,
    pub round: String,
}

pub(crate) async fn staffed(round_name: &str) -> Staffed {
    let env = TestEnv::new().await;
    env.cli_ok(&["demo", "--residents", "300", "--seed", "8", "--no-serve"]);
    let chief_pw = env.account("chief", "street_commander", &["--street", "鸿城街道"]);
    let lab_pw = env.account("lab", "lab", &["--street", "鸿城街道"]);
    let store = env.store().await;
    let street = store.streets().await.unwrap()[0].id;
    let community = &store.communities(None, Some(street)).await.unwrap()[0];
    let grid = &store
        .grids(None, Some((street, community.id)))
        .await
        .unwrap()[0];
    let leader_pw = env.account(
        "leader",
        "grid_leader",
        &[
            "--street",
            "鸿城街道",
            "--community",
            &community.name,
            "--grid",
            &grid.name,
        ],
    );
    let srv = env.serve();
    let chief = srv.login("chief", &chief_pw);
    let (round, _) = open_round(
        |p, b| srv.with_token(&chief).post(p, b),
        &round_body(street, round_name),
    );
    Staffed {
        community: community.id,
        grid: grid.id,
        env,
        srv,
        chief,
        chief_pw,
        lab_pw,
        leader_pw,
        street,
        round,
    }
}

/// A tube at `point`, opened by the commander (`chief`: the token), with
/// these people swabbed into it, closed.
pub(crate) fn closed_tube(
    srv: &Server,
    chief: &str,
    point: &str,
    barcode: &str,
    people: &[(String, String)],
) {
    let c = srv.with_token(chief);
    let r = c.post(
        &format!("/api/v1/points/{point}/tubes"),
        &json!({ "barcode": barcode }),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let tube = r.json()["id"].as_str().unwrap().to_string();
    for (i, (_, code)) in people.iter().enumerate() {
        let s = c.post(
            &format!("/api/v1/tubes/{tube}/scans"),
            &json!({ "client_id": format!("{barcode}-{i}"), "code": code }),
        );
        assert_eq!(s.status, 200, "{}", s.body);
    }
    let r = c.post(&format!("/api/v1/tubes/{tube}/close"), &json!({}));
    assert_eq!(r.status, 200, "{}", r.body);
}

async fn world() -> World {
    let s = staffed("全员核酸第3轮").await;
    let (street, round) = (s.street, s.round.clone());
    let c = s.srv.with_token(&s.chief);
    let mut points = (0..2).map(|i| {
        c.post(&format!("/api/v1/rounds/{round}/points"), &json!({ "name": format!("{i}号采样点"), "community": format!("{street}-{}", s.community) }))
            .json()["id"].as_str().unwrap().to_string()
    });
    let (a, b) = (points.next().unwrap(), points.next().unwrap());
    let people = residents_with_codes(|p| c.get(p), "limit=12");
    let pm_pw = s.env.account("pm", "point_manager", &["--point", &a]);
    let vol_pw = s.env.account("volb", "volunteer", &["--point", &b]);
    // The first login (over the API) replaces the one-time passwords.
    let changed = |user: &str, pw: &str| {
        s.srv.login(user, pw);
        format!("{pw}-changed")
    };
    let (pm, vol_b, leader, lab) = (
        changed("pm", &pm_pw),
        changed("volb", &vol_pw),
        changed("leader", &s.leader_pw),
        changed("lab", &s.lab_pw),
    );
    World {
        chief_pw: format!("{}-changed", s.chief_pw),
        env: s.env,
        srv: s.srv,
        chief: s.chief,
        street,
        round,
        a,
        b,
        people,
        pm,
        vol_b,
        leader,
        lab,
    }
}

impl World {
    /// A tube at `point` (opened by the chief) with these people, closed.
    fn closed_tube(&self, point: &str, barcode: &str, people: &[(String, String)]) {
        closed_tube(&self.srv, &self.chief, point, barcode, people);
    }
}

/// The first alert's card.
fn alert_card(html: &str) -> &str {
    let start = html
        .find(r#"id="alert-"#)
        .unwrap_or_else(|| panic!("no alert card in {html}"));
    let rest = &html[start..];
    &rest[..rest.find("</section>").unwrap_or(rest.len())]
}

/// The text of the element with this id (up to its first closing tag of `tag`).
fn element<'a>(html: &'a str, id: &str, tag: &str) -> &'a str {
    let start = html
        .find(&format!(r#"id="{id}""#))
        .unwrap_or_else(|| panic!("no #{id} in {html}"));
    let rest = &html[start..];
    &rest[..rest.find(&format!("</{tag}>")).unwrap_or(rest.len())]
}

#[tokio::test]
async fn point_staff_bag_box_and_hand_over_in_the_browser_and_the_lab_receives() {
    let w = world().await;
    w.closed_tube(&w.a, "TB00000001", &w.people[0..3]);
    w.closed_tube(&w.a, "TB00000002", &w.people[3..5]);
    let pm = Browser::login(&w.srv, "pm", &w.pm);
    let a = &w.a;

    // The manager's home links the packing page; so does the point page.
    let home = pm.get("/");
    assert!(
        home.body
            .contains(&format!(r#"href="/points/{a}/packing""#)),
        "{}",
        home.body
    );
    let page = pm.get(&format!("/points/{a}/packing"));
    assert_eq!(page.status, 200, "{}", page.body);
    let waiting = element(&page.body, "tubes-to-bag", "ul");
    assert!(waiting.contains("TB00000001") && waiting.contains("TB00000002"));
    assert!(page.body.contains(r#"<textarea name="tubes""#));
    assert!(page.body.len() < 100_000);

    // A count left empty: the form says what to fix and keeps what was scanned.
    let r = pm.post(
        &format!("/points/{a}/bags"),
        &[
            ("barcode", "BAG0000001"),
            ("tubes", "TB00000001\r\nTB00000002\r\n"),
            ("counted_tubes", ""),
        ],
    );
    assert_eq!(r.status, 400, "{}", r.body);
    let err = element(&r.body, "form-error", "div");
    assert!(
        err.contains("请填写清点管数 / enter the tubes counted"),
        "Chinese, then English, not mixed: {err}"
    );
    assert!(
        r.body.contains("TB00000001\r\nTB00000002") || r.body.contains("TB00000001\nTB00000002")
    );
    assert!(r.body.contains(r#"value="BAG0000001""#));
    // A tube that is not in the round: refused, named, nothing stored.
    let r = pm.post(
        &format!("/points/{a}/bags"),
        &[
            ("barcode", "BAG0000001"),
            ("tubes", "TB00000001\r\nTB00000099"),
            ("counted_tubes", "2"),
        ],
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        element(&r.body, "form-error", "div").contains("TB00000099: 本轮没有这支采样管"),
        "{}",
        r.body
    );
    assert!(element(&r.body, "tubes-to-bag", "ul").contains("TB00000001"));

    // Sealed with a wrong count (3 for 2): stored, with a red warning saying where.
    let r = pm.post(
        &format!("/points/{a}/bags"),
        &[
            ("barcode", "BAG0000001"),
            ("tubes", "TB00000001\r\ntb00000002\r\n"),
            ("counted_tubes", "3"),
        ],
    );
    // Answered with the packing page saying so (303: a refresh posts nothing).
    let (_, r) = crate::packing2::followed(&pm, &r);
    assert!(element(&r.body, "result", "p").contains("BAG0000001"));
    let warn = element(&r.body, "mismatch", "div");
    assert!(warn.contains("清点数与系统不符"), "{warn}");
    assert!(
        warn.contains("装袋环节 · 袋 BAG0000001：管数系统为 2，清点为 3（多1）"),
        "{warn}"
    );
    assert!(
        r.body.contains(r#"id="tubes-to-bag""#)
            && !element(&r.body, "bag", "section").contains("<li class=\"row2\"><span>TB00000001")
    );
    // In English too.
    let en = pm.get(&format!("/points/{a}/packing?lang=en"));
    assert!(element(&en.body, "bags", "table").contains("BAG0000001"));

    // Box it (counts right: no warning), then hand it over.
    let r = pm.post(
        &format!("/points/{a}/boxes"),
        &[
            ("barcode", "BOX0000001"),
            ("bags", "BAG0000001\r\n"),
            ("counted_bags", "1"),
            ("counted_tubes", "2"),
        ],
    );
    let (_, r) = crate::packing2::followed(&pm, &r);
    assert!(element(&r.body, "result", "p").contains("BOX0000001"));
    assert!(!r.body.contains(r#"id="mismatch""#), "{}", r.body);
    assert!(element(&r.body, "boxes-to-hand", "ul").contains("BOX0000001"));
    let r = pm.post(
        &format!("/points/{a}/handoffs"),
        &[
            ("name", "李师傅"),
            ("phone", "13812345678"),
            ("boxes", "BOX0000001"),
            ("counted_boxes", ""),
            ("counted_tubes", "2"),
            ("counted_people", "5"),
        ],
    );
    let (_, r) = crate::packing2::followed(&pm, &r);
    assert!(!r.body.contains(r#"id="mismatch""#), "{}", r.body);
    let handoffs = element(&r.body, "handoffs", "ul");
    assert!(handoffs.contains("李师傅") && handoffs.contains("138****5678"));
    assert!(
        !r.body.contains("13812345678"),
        "the transporter's phone is masked"
    );
    assert!(element(&r.body, "boxes-to-hand", "p").contains("没有待交接的箱"));

    // The chief reads the reconciliation but cannot receive: no receipt form.
    let chief = Browser::login(&w.srv, "chief", &w.chief_pw);
    let rec = chief.get(&format!("/rounds/{}/reconciliation", w.round));
    assert_eq!(rec.status, 200, "{}", rec.body);
    assert!(!rec.body.contains(r#"id="receipt""#));
    // The box on the road is on its way, not a break, named by its
    // transporter (masked: the lab reads this page too), and what it means
    // in words (a box not yet at the lab is not "the lab counted 0").
    let verdict = element(&rec.body, "matched", "ul");
    assert!(!verdict.contains("交接单"), "{verdict}");
    let on_the_road = element(&rec.body, "waiting", "ul");
    assert!(
        on_the_road.contains("交接单 李*傅 ") && on_the_road.contains("已交接未被实验室接收"),
        "{on_the_road}"
    );
    // The lab receives from the form on the reconciliation page.
    let lab = Browser::login(&w.srv, "lab", &w.lab);
    let rec = lab.get(&format!("/rounds/{}/reconciliation", w.round));
    assert!(rec
        .body
        .contains(&format!(r#"action="/rounds/{}/receipts""#, w.round)));
    let r = lab.post(
        &format!("/rounds/{}/receipts", w.round),
        &[
            ("boxes", "BOX0000001\r\nBOX0000404\r\n"),
            ("counted_tubes", "2"),
        ],
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(element(&r.body, "form-error", "div").contains("BOX0000404: 本轮没有这个箱"));
    assert!(r.body.contains("BOX0000404"), "typed values kept");
    let r = lab.post(
        &format!("/rounds/{}/receipts", w.round),
        &[("boxes", "BOX0000001\r\n"), ("counted_tubes", "2")],
    );
    let (_, r) = crate::packing2::followed(&lab, &r);
    assert!(element(&r.body, "result", "p").contains("实验室已接收"));
    assert!(!r.body.contains(r#"id="mismatch""#), "{}", r.body);
    // The chain on the reconciliation page: A closed, bagged, boxed, handed over and
    // received 2 tubes; the bag's wrong count is where it broke.
    let rec = chief.get(&format!("/rounds/{}/reconciliation", w.round));
    let steps = element(&rec.body, "steps", "table");
    assert!(
        steps.contains(r#"<td>0号采样点</td><td class="n">0</td><td class="n">2</td><td class="n">2</td><td class="n">2</td><td class="n">2</td><td class="n">2</td>"#),
        "{steps}"
    );
    let verdict = element(&rec.body, "matched", "ul");
    assert!(verdict.contains("BAG0000001"), "{}", rec.body);
    // It says what was counted, in the page's language.
    assert!(
        verdict.contains("管数") && verdict.contains("装袋"),
        "{verdict}"
    );
    let en = chief.get(&format!("/rounds/{}/reconciliation?lang=en", w.round));
    let verdict = element(&en.body, "matched", "ul");
    assert!(
        verdict.contains("tubes") && verdict.contains("bagging") && !verdict.contains("装袋"),
        "{verdict}"
    );
    // State as the API sees it.
    let round: Key = w.round.parse().unwrap();
    let t = w
        .env
        .store()
        .await
        .tube_by_barcode(round.street, round.id, "TB00000002")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(t.state, "received");
    // A point by its name (a tube sealed after its hand-over waits for the
    // next bag: on its way, not a break).
    w.closed_tube(&w.a, "TB00000003", &w.people[5..6]);
    let rec = chief.get(&format!("/rounds/{}/reconciliation", w.round));
    let waiting = element(&rec.body, "waiting", "ul");
    assert!(
        waiting.contains(&format!("采样点 「0号采样点」（{a}）"))
            && waiting.contains("已封管未装袋")
            && waiting.contains("TB00000003"),
        "{waiting}"
    );
    assert!(!element(&rec.body, "matched", "ul").contains("TB00000003"));
    // The point's manager, who may not read the street's reconciliation,
    // sees the point's own breaks on the packing page: the bag counted 3
    // for 2 stays listed after the lab received it; the tube waiting for
    // its bag is not one.
    assert_eq!(
        pm.get(&format!("/rounds/{}/reconciliation", w.round))
            .status,
        403
    );
    let page = pm.get(&format!("/points/{a}/packing"));
    let breaks = element(&page.body, "point-breaks", "ul");
    assert!(
        breaks.contains("装袋环节 · 袋 BAG0000001：管数系统为 2，清点为 3（多1）")
            && !breaks.contains("已封管未装袋"),
        "{breaks}"
    );
}

/// While sampling runs, what waits for the next bag, box or transporter is on
/// its way, not a break; what a hand-over left behind is a break at once; once
/// sampling closes, whatever is still short is a break.
#[tokio::test]
async fn mid_round_work_on_its_way_is_no_break_but_what_a_hand_over_left_behind_is() {
    let w = world().await;
    let a = &w.a;
    let pm = Browser::login(&w.srv, "pm", &w.pm);
    let chief = Browser::login(&w.srv, "chief", &w.chief_pw);
    let api = w.srv.with_token(&w.chief);
    let reconciliation = || {
        let r = api.get(&format!("/api/v1/rounds/{}/reconciliation", w.round));
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()
    };
    let items = |v: &serde_json::Value, list: &str| -> Vec<String> {
        v[list]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|m| m["items"].as_array().unwrap().clone())
            .map(|i| i.as_str().unwrap().to_string())
            .collect()
    };
    // Two tubes sealed, nothing packed yet: on their way, every count matches.
    w.closed_tube(a, "TB00000011", &w.people[0..2]);
    w.closed_tube(a, "TB00000012", &w.people[2..3]);
    let v = reconciliation();
    assert_eq!(v["matched"], true, "{v}");
    assert!(v["mismatches"].as_array().unwrap().is_empty(), "{v}");
    assert!(
        items(&v, "waiting").contains(&"TB00000011".to_string()),
        "{v}"
    );
    let page = chief.get(&format!("/rounds/{}/reconciliation", w.round));
    assert!(
        element(&page.body, "matched", "p").contains("各环节数量一致"),
        "{}",
        page.body
    );
    assert!(element(&page.body, "waiting", "ul").contains("TB00000012"));
    assert!(!page.body.contains(r#"<p class="error" id="matched">"#));
    // The first tube is bagged, boxed and handed over; the second is left
    // behind: a break at once, naming it.
    for (path, form) in [
        (
            "bags",
            vec![
                ("barcode", "BAG0000011"),
                ("tubes", "TB00000011"),
                ("counted_tubes", "1"),
            ],
        ),
        (
            "boxes",
            vec![
                ("barcode", "BOX0000011"),
                ("bags", "BAG0000011"),
                ("counted_bags", "1"),
                ("counted_tubes", "1"),
            ],
        ),
        (
            "handoffs",
            vec![
                ("name", "李师傅"),
                ("phone", "13812345678"),
                ("boxes", "BOX0000011"),
                ("counted_boxes", "1"),
                ("counted_tubes", "1"),
                ("counted_people", ""),
            ],
        ),
    ] {
        let r = pm.post(&format!("/points/{a}/{path}"), &form);
        assert_eq!(r.status, 303, "{path}: {}", r.body);
    }
    let v = reconciliation();
    assert_eq!(v["matched"], false, "{v}");
    let broken = items(&v, "mismatches");
    assert!(broken.iter().all(|i| i == "TB00000012"), "{v}");
    assert!(!broken.is_empty());
    // The box on the road to the lab is on its way.
    assert!(
        items(&v, "waiting").contains(&"BOX0000011".to_string()),
        "{v}"
    );
    let page = pm.get(&format!("/points/{a}/packing"));
    assert!(element(&page.body, "point-breaks", "ul").contains("TB00000012"));
    // The tube left behind is bagged (the bag waits for the next box), and a
    // tube sealed after the hand-over waits for the next bag: nothing is
    // broken now.
    let r = pm.post(
        &format!("/points/{a}/bags"),
        &[
            ("barcode", "BAG0000012"),
            ("tubes", "TB00000012"),
            ("counted_tubes", "1"),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    w.closed_tube(a, "TB00000013", &w.people[3..4]);
    let v = reconciliation();
    assert_eq!(v["matched"], true, "{v}");
    let waiting = items(&v, "waiting");
    assert!(
        waiting.contains(&"TB00000013".to_string()) && waiting.contains(&"BAG0000012".to_string()),
        "{v}"
    );
    // Sampling closes: everything still short is a break, the box on the road
    // still waits for the lab.
    let r = api.post(
        &format!("/api/v1/rounds/{}/state", w.round),
        &json!({ "to": "sampling_closed" }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let v = reconciliation();
    let broken = items(&v, "mismatches");
    assert!(
        broken.contains(&"TB00000013".to_string()) && broken.contains(&"BAG0000012".to_string()),
        "{v}"
    );
    let road = items(&v, "waiting");
    assert!(
        !road.is_empty() && road.iter().all(|i| i == "BOX0000011"),
        "{v}"
    );
    // The command line says both, apart, and exits with the mismatch code.
    let out = w.env.cli(&["handoff", "report", "--round", &w.round]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        text.contains("在途，尚未到下一环节") && text.contains("TB00000013"),
        "{text}"
    );
}

#[tokio::test]
async fn a_volunteer_elsewhere_and_a_grid_leader_cannot_pack_here() {
    let w = world().await;
    w.closed_tube(&w.a, "TB00000005", &w.people[0..2]);
    let a = &w.a;
    let vol = Browser::login(&w.srv, "volb", &w.vol_b);
    // The volunteer's own point is linked from their home; point A is not theirs.
    let home = vol.get("/");
    assert!(home
        .body
        .contains(&format!(r#"href="/points/{}/packing""#, w.b)));
    assert!(!home
        .body
        .contains(&format!(r#"href="/points/{a}/packing""#)));
    assert_eq!(vol.get(&format!("/points/{}/packing", w.b)).status, 200);
    let leader = Browser::login(&w.srv, "leader", &w.leader);
    for who in [&vol, &leader] {
        assert_eq!(who.get(&format!("/points/{a}/packing")).status, 403);
        let bag = who.post(
            &format!("/points/{a}/bags"),
            &[
                ("barcode", "BAG0000009"),
                ("tubes", "TB00000005"),
                ("counted_tubes", "1"),
            ],
        );
        assert_eq!(bag.status, 403, "{}", bag.body);
        assert!(bag
            .body
            .contains(r#"<meta name="gw-error" content="forbidden">"#));
        let boxed = who.post(
            &format!("/points/{a}/boxes"),
            &[
                ("barcode", "BOX0000009"),
                ("bags", "BAG0000009"),
                ("counted_bags", "1"),
                ("counted_tubes", "1"),
            ],
        );
        assert_eq!(boxed.status, 403, "{}", boxed.body);
        let handed = who.post(
            &format!("/points/{a}/handoffs"),
            &[
                ("name", "李师傅"),
                ("phone", "13812345678"),
                ("boxes", "BOX0000009"),
                ("counted_tubes", "1"),
            ],
        );
        assert_eq!(handed.status, 403, "{}", handed.body);
        // Not the lab: no receipt either.
        let r = who.post(
            &format!("/rounds/{}/receipts", w.round),
            &[("boxes", "BOX0000009"), ("counted_tubes", "1")],
        );
        assert_eq!(r.status, 403, "{}", r.body);
    }
    // A form without the CSRF field is refused too.
    let pm = Browser::login(&w.srv, "pm", &w.pm);
    let body = "barcode=BAG0000009&tubes=TB00000005&counted_tubes=1";
    let r = w.srv.raw(&format!(
        "POST /points/{a}/bags HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: {}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        pm.cookie,
        body.len()
    ));
    assert_eq!(r.status, 403);
    // Nothing was stored: the tube still waits for a bag.
    let page = pm.get(&format!("/points/{a}/packing"));
    assert!(element(&page.body, "tubes-to-bag", "ul").contains("TB00000005"));
    assert!(!page.body.contains("BAG0000009"));
}

#[tokio::test]
async fn an_abnormal_pool_shows_on_the_alerts_page_masked_with_what_was_done() {
    let w = world().await;
    let chief_api = w.srv.with_token(&w.chief);
    // A group robot that is not there: the message waits (pending), retried.
    let r = chief_api.post(
        &format!("/api/v1/streets/{}/alert-channels", w.street),
        &json!({ "kind": "json", "url": "http://127.0.0.1:9/robot" }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let members = &w.people[0..4];
    w.closed_tube(&w.a, "TB00000011", members);
    w.closed_tube(&w.a, "TB00000012", &w.people[4..6]);
    let r = chief_api.post(
        &format!("/api/v1/rounds/{}/results", w.round),
        &json!({ "results": [
            { "barcode": "TB00000011", "result": "abnormal" },
            { "barcode": "TB00000012", "result": "negative" },
        ] }),
    );
    assert_eq!(r.status, 200, "{}", r.body);

    let chief = Browser::login(&w.srv, "chief", &w.chief_pw);
    let round_page = chief.get(&format!("/rounds/{}", w.round));
    assert!(round_page
        .body
        .contains(&format!(r#"href="/rounds/{}/alerts""#, w.round)));
    let page = chief.get(&format!("/rounds/{}/alerts", w.round));
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.len() < 100_000);
    assert!(
        !page.body.contains("TB00000012"),
        "a negative tube is no alert"
    );
    let card = alert_card(&page.body);
    assert!(
        card.contains("TB00000011") && card.contains("0号采样点"),
        "{card}"
    );
    assert!(card.contains("处置中 · 待复检"), "{card}");
    // Every member, each with an open retest; none shown in full.
    let list = &card[card.find("class=\"list members\"").unwrap()..];
    let list = &list[..list.find("</ul>").unwrap()];
    assert_eq!(list.matches("<li").count(), 4, "{list}");
    assert_eq!(list.matches("待复检").count(), 4, "{list}");
    assert!(
        card.contains("待复检 4 人 · 已采待结果 0 人 · 阴性 0 人 · 异常 0 人"),
        "{card}"
    );
    let store = w.env.store().await;
    for (id, _) in members {
        let k: Key = id.parse().unwrap();
        let r = store.resident(k.street, k.id).await.unwrap();
        if let Some(d) = &r.resident.document {
            assert!(
                !page.body.contains(&d.number),
                "a full document number on the page"
            );
        }
        for p in &r.resident.phones {
            assert!(
                !page.body.contains(p.phone.as_str()),
                "a full phone on the page"
            );
        }
        if let Some(addr) = gw_app::registry::address_text(&r) {
            assert!(list.contains(&addr), "{addr} in {list}");
        }
    }
    // Households under temporary control; the disinfection task not done yet; the robot's message.
    let hh = &card[card.find("class=\"list households\"").unwrap()..];
    let hh = &hh[..hh.find("</ul>").unwrap()];
    assert!(
        hh.contains("临时管控") && hh.contains("href=\"/households/"),
        "{hh}"
    );
    assert!(card.contains("消杀未完成"), "{card}");
    assert!(card.contains(&format!(r#"href="/rounds/{}/disinfection""#, w.round)));
    let sent = &card[card.find("class=\"list notifications\"").unwrap()..];
    assert!(
        sent.contains("通用 JSON 接口"),
        "the channel's kind: {sent}"
    );
    assert!(
        sent.contains("发送中") || sent.contains("发送失败"),
        "the robot is not there: {sent}"
    );
    assert!(
        !page.body.contains("127.0.0.1:9"),
        "no webhook address shown"
    );

    // The chief asks for the members' full phones: shown on the page, each
    // read in the audit log; the button is gone once they are shown.
    let alert_key = card
        .split(r#"name="alert" value=""#)
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_string();
    let shown = chief.post(
        &format!("/rounds/{}/alerts", w.round),
        &[("alert", &alert_key)],
    );
    assert_eq!(shown.status, 200, "{}", shown.body);
    let mut full = 0;
    for (id, _) in members {
        let k: Key = id.parse().unwrap();
        for p in &store
            .resident(k.street, k.id)
            .await
            .unwrap()
            .resident
            .phones
        {
            assert!(
                shown.body.contains(p.phone.as_str()),
                "{}",
                p.phone.as_str()
            );
            full += 1;
        }
    }
    assert!(full > 0, "the members have phones");
    assert!(!alert_card(&shown.body).contains("reveal-phones"));
    let audit = store.audit_events(None, None, None, 500).await.unwrap();
    let reveals = audit
        .iter()
        .filter(|e| e.action == "reveal_phone" && members.iter().any(|(id, _)| *id == e.target_id))
        .count();
    assert_eq!(reveals, members.len(), "one audited read per member");
    // Without the CSRF field the form is refused.
    let forged = w.srv.raw(&format!(
        "POST /rounds/{}/alerts HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: {}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\nalert={alert_key}",
        w.round,
        chief.cookie,
        6 + alert_key.len()
    ));
    assert_eq!(forged.status, 403, "{}", forged.body);

    // Disinfection done: the page says so.
    let tasks = chief_api
        .get(&format!("/api/v1/rounds/{}/disinfection", w.round))
        .json();
    let task = tasks["tasks"][0]["task"].as_str().unwrap().to_string();
    let r = chief_api.post(&format!("/api/v1/disinfection/{task}/done"), &json!({}));
    assert_eq!(r.status, 200, "{}", r.body);
    let page = chief.get(&format!("/rounds/{}/alerts?lang=en", w.round));
    let card = alert_card(&page.body);
    assert!(card.contains("disinfected"), "{card}");
    assert!(
        card.contains("4 open · 0 swabbed, result pending · 0 negative · 0 abnormal"),
        "{card}"
    );

    // A volunteer does not read the round; the grid leader sees only their grid's members.
    let vol = Browser::login(&w.srv, "volb", &w.vol_b);
    assert_eq!(vol.get(&format!("/rounds/{}/alerts", w.round)).status, 403);
    let leader = Browser::login(&w.srv, "leader", &w.leader);
    let lp = leader.get(&format!("/rounds/{}/alerts", w.round));
    assert_eq!(lp.status, 200, "{}", lp.body);
    assert!(
        !lp.body.contains("群通知"),
        "channels are the street's to see"
    );
}
