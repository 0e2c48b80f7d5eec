//! What follows a lab's result, from the pages of those who must act on it
//! (real HTTP, cookie sessions and form posts with the CSRF field), on both
//! backends: a grid leader's list of whom to swab again after an invalid
//! tube, with an audited phone reveal; the lab's correction from its page;
//! a point's disinfection task on the point's own pages, and said to be
//! outside a grid leader's area rather than absent; what each group message
//! was on the alerts page; a station's count from its enrolment; and the
//! robots' word for a single-tube retest.

use gw_domain::ids::Key;
use serde_json::json;

use crate::harness::{query_strings, residents_with_codes, Server, TestEnv};
use crate::round_pages::Browser;

struct World {
    env: TestEnv,
    srv: Server,
    chief: String,
    street: i64,
    round: String,
    /// A point of the leader's community, managed by `pm`.
    point: String,
    /// (resident key, personal code) of the grid leader's grid.
    people: Vec<(String, String)>,
    /// The leader's grid, `STREET-ID`.
    grid: String,
    /// Passwords (already changed): the street commander, the point's
    /// manager, the grid leader, the street's lab.
    chief_pw: String,
    pm: String,
    leader: String,
    lab: String,
}

async fn world() -> World {
    let s = crate::packing_pages::staffed("全员核酸第5轮").await;
    let (street, round) = (s.street, s.round.clone());
    let c = s.srv.with_token(&s.chief);
    let point = c
        .post(
            &format!("/api/v1/rounds/{round}/points"),
            &json!({ "name": "东门采样点", "community": format!("{street}-{}", s.community) }),
        )
        .json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let grid_key = format!("{street}-{}", s.grid);
    let people = residents_with_codes(|p| c.get(p), &format!("limit=12&grid={grid_key}"));
    assert!(people.len() >= 8, "the grid needs 8 residents");
    let pm_pw = s.env.account("pm", "point_manager", &["--point", &point]);
    // The first login (over the API) replaces the one-time passwords.
    let changed = |user: &str, pw: &str| {
        s.srv.login(user, pw);
        format!("{pw}-changed")
    };
    let (pm, leader, lab) = (
        changed("pm", &pm_pw),
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
        point,
        people,
        grid: grid_key,
        pm,
        leader,
        lab,
    }
}

impl World {
    /// A closed tube at the point with these people.
    fn closed_tube(&self, barcode: &str, people: &[(String, String)]) {
        crate::packing_pages::closed_tube(&self.srv, &self.chief, &self.point, barcode, people);
    }

    fn result(&self, barcode: &str, result: &str) {
        let r = self.srv.with_token(&self.chief).post(
            &format!("/api/v1/rounds/{}/results", self.round),
            &json!({ "results": [{ "barcode": barcode, "result": result }] }),
        );
        assert_eq!(r.status, 200, "{}", r.body);
    }
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
async fn a_grid_leader_finds_whom_to_swab_again_after_an_invalid_tube() {
    let w = world().await;
    let members = &w.people[0..4];
    w.closed_tube("RS000001", members);
    let chief = Browser::login(&w.srv, "chief", &w.chief_pw);
    // The lab's file says invalid: its answer links the list.
    let done = chief.upload(
        &format!("/rounds/{}/lab?filename=result.csv", w.round),
        "条码,结果\nRS000001,无效\n".as_bytes(),
    );
    assert_eq!(done.status, 200, "{}", done.body);
    let note = element(&done.body, "lab-invalid-tubes", "li");
    assert!(note.contains("4 人需重采"), "{note}");
    assert!(
        note.contains(&format!(r#"href="/rounds/{}/resamples""#, w.round)),
        "{note}"
    );

    // The grid leader: from the round's page to the grid's list.
    let leader = Browser::login(&w.srv, "leader", &w.leader);
    let round_page = leader.get(&format!("/rounds/{}", w.round));
    assert_eq!(round_page.status, 200, "{}", round_page.body);
    assert!(
        round_page
            .body
            .contains(&format!(r#"href="/rounds/{}/resamples""#, w.round)),
        "{}",
        round_page.body
    );
    let grids = leader.get(&format!("/rounds/{}/resamples", w.round));
    assert_eq!(grids.status, 200, "{}", grids.body);
    let list = element(&grids.body, "resample-grids", "ul");
    assert!(list.contains("待重采 4 / 共 4"), "{list}");
    let href = format!("/rounds/{}/resamples?grid={}", w.round, w.grid);
    assert!(list.contains(&format!(r#"href="{href}""#)), "{list}");
    let page = leader.get(&href);
    assert_eq!(page.status, 200, "{}", page.body);
    let listed = element(&page.body, "resamples", "ul");
    assert_eq!(listed.matches("<li").count(), 4, "{listed}");
    assert_eq!(listed.matches("待重采").count(), 4, "{listed}");
    assert!(listed.contains("RS000001"), "{listed}");
    // Masked as the API is: no full phone or document on the page.
    let store = w.env.store().await;
    let mut phones = Vec::new();
    for (id, _) in members {
        let k: Key = id.parse().unwrap();
        let r = store.resident(k.street, k.id).await.unwrap();
        if let Some(d) = &r.resident.document {
            assert!(!page.body.contains(&d.number), "a full document number");
        }
        for p in &r.resident.phones {
            assert!(!page.body.contains(p.phone.as_str()), "a full phone");
            phones.push((id.clone(), p.phone.as_str().to_string()));
        }
    }
    let (who, phone) = phones.first().expect("a member with a phone").clone();
    assert!(
        page.body
            .contains(&format!(r#"name="resident" value="{who}""#)),
        "a reveal button per row: {}",
        page.body
    );
    // One phone revealed on request: shown, and read into the audit log.
    let shown = leader.post(&href, &[("resident", &who)]);
    assert_eq!(shown.status, 200, "{}", shown.body);
    assert!(shown.body.contains(&phone), "{}", shown.body);
    let reveals = store
        .audit_events(None, None, None, 500)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "reveal_phone" && e.target_id == who)
        .count();
    assert_eq!(reveals, 1, "one audited read");
    // Someone not on the list is not revealed through it.
    let outsider = &w.people[6].0;
    let other = leader.post(&href, &[("resident", outsider)]);
    assert_eq!(other.status, 200, "{}", other.body);
    assert!(!other.body.contains(r#"id="revealed""#), "{}", other.body);
    // One member goes to hospital and is exempted from the round: nobody
    // will swab them again here, and the list says so instead of 待重采.
    let (sick, _) = &members[1];
    let r = w.srv.with_token(&w.chief).post(
        &format!("/api/v1/rounds/{}/exemptions", w.round),
        &json!({ "resident": sick, "reason": "in_hospital" }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let page = leader.get(&href);
    let listed = element(&page.body, "resamples", "ul");
    assert_eq!(listed.matches("待重采").count(), 3, "{listed}");
    assert_eq!(listed.matches("已免检，不再重采").count(), 1, "{listed}");
    assert!(page.body.contains("待重采 3 人 · 共 4 人"), "{}", page.body);
    let grids = leader.get(&format!("/rounds/{}/resamples", w.round));
    assert!(element(&grids.body, "resample-grids", "ul").contains("待重采 3 / 共 4"));
    let api = w.srv.with_token(&w.chief).get(&format!(
        "/api/v1/rounds/{}/resamples?grid={}",
        w.round, w.grid
    ));
    let states: Vec<(String, String)> = api.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["resident"]["id"].as_str().unwrap().to_string(),
                i["state"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        states.contains(&(sick.clone(), "exempt".to_string())),
        "{states:?}"
    );
}

#[tokio::test]
async fn the_lab_corrects_a_result_from_its_page_and_the_alerts_page_says_what_each_message_was() {
    let w = world().await;
    let api = w.srv.with_token(&w.chief);
    // A group robot that is not there: the messages wait.
    let r = api.post(
        &format!("/api/v1/streets/{}/alert-channels", w.street),
        &json!({ "kind": "json", "url": "http://127.0.0.1:9/robot" }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    w.closed_tube("CR000001", &w.people[0..3]);
    w.result("CR000001", "abnormal");

    let lab = Browser::login(&w.srv, "lab", &w.lab);
    let form = lab.get(&format!("/rounds/{}/lab", w.round));
    assert_eq!(form.status, 200, "{}", form.body);
    let card = element(&form.body, "correction", "section");
    assert!(
        card.contains(&format!(r#"action="/rounds/{}/corrections"#, w.round))
            && card.contains(r#"name="barcode""#)
            && card.contains(r#"name="result""#)
            && card.contains(r#"name="reason""#),
        "{card}"
    );
    // A correction without its reason: refused, the form kept as typed.
    let path = format!("/rounds/{}/corrections", w.round);
    let refused = lab.post(
        &path,
        &[
            ("barcode", "CR000001"),
            ("result", "negative"),
            ("reason", ""),
        ],
    );
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(
        element(&refused.body, "correction-error", "p").contains("须写明原因"),
        "{}",
        refused.body
    );
    assert!(refused.body.contains(r#"value="CR000001""#));
    // With the reason: what it undid, said on the page.
    let done = lab.post(
        &path,
        &[
            ("barcode", "cr000001"),
            ("result", "negative"),
            ("reason", "实验室更正报告 041"),
        ],
    );
    assert_eq!(done.status, 200, "{}", done.body);
    let said = element(&done.body, "correction-done", "section");
    assert!(said.contains("CR000001：异常（阳性） → 阴性"), "{said}");
    let undone = element(said, "correction-undone", "ul");
    assert!(
        undone.contains("混管异常预警已撤销")
            && undone.contains("户解除临时管控")
            && undone.contains("3 个未做的单管复检或重采已取消")
            && undone.contains("未完成的消杀任务已撤销"),
        "{undone}"
    );
    let alerts = api
        .get(&format!("/api/v1/rounds/{}/alerts", w.round))
        .json();
    assert_eq!(alerts["alerts"][0]["state"], "withdrawn", "{alerts}");
    // Corrected again, to invalid: the page says how many are called again.
    let invalid = lab.post(
        &path,
        &[
            ("barcode", "CR000001"),
            ("result", "invalid"),
            ("reason", "实验室更正报告 042"),
        ],
    );
    assert_eq!(invalid.status, 200, "{}", invalid.body);
    assert!(
        element(&invalid.body, "correction-done", "section").contains("管内 3 人须重新采样"),
        "{}",
        invalid.body
    );
    let store = w.env.store().await;
    let audit = store.audit_events(None, None, None, 500).await.unwrap();
    assert!(audit.iter().any(|e| e.action == "correct_result"));

    // The alerts page: each message says what it was (the raising and the withdrawal).
    let chief = Browser::login(&w.srv, "chief", &w.chief_pw);
    let page = chief.get(&format!("/rounds/{}/alerts", w.round));
    assert_eq!(page.status, 200, "{}", page.body);
    let sent = &page.body[page.body.find(r#"class="list notifications""#).unwrap()..];
    let sent = &sent[..sent.find("</ul>").unwrap()];
    assert!(
        sent.contains(r#"data-what="abnormal_pool""#) && sent.contains("异常混管告警"),
        "{sent}"
    );
    assert!(
        sent.contains(r#"data-what="withdrawn""#) && sent.contains("结果更正（撤销告警）"),
        "{sent}"
    );
    assert!(sent.contains("通用 JSON 接口"), "{sent}");
    assert!(
        !page.body.contains("127.0.0.1:9"),
        "no webhook address shown"
    );
    let en = chief.get(&format!("/rounds/{}/alerts?lang=en", w.round));
    assert!(en.body.contains("result corrected (alert withdrawn)"));

    // The robots call the retest as the pages do.
    let bodies = query_strings(&store, "SELECT body FROM notification").await;
    let raised = bodies
        .iter()
        .find(|b| b.contains("【混管异常"))
        .expect("the alert's message");
    assert!(raised.contains("单管复检已开"), "{raised}");
    assert!(bodies.iter().all(|b| !b.contains("单管复核")), "{bodies:?}");
}

#[tokio::test]
async fn a_point_manager_marks_the_disinfection_done_from_the_point_and_a_grid_leader_is_told_it_is_elsewhere(
) {
    let w = world().await;
    w.closed_tube("DS000001", &w.people[0..3]);
    w.result("DS000001", "abnormal");

    // The grid leader reads the alert (their people) but not the point's task.
    let leader = Browser::login(&w.srv, "leader", &w.leader);
    let page = leader.get(&format!("/rounds/{}/alerts", w.round));
    assert_eq!(page.status, 200, "{}", page.body);
    let told = &page.body[page.body.find(r#"id="alert-"#).unwrap()..];
    let told = &told[..told.find("</section>").unwrap()];
    assert!(told.contains("采样点不在您的辖区内"), "{told}");
    assert!(!told.contains("无消杀任务"), "{told}");
    let tasks = leader.get(&format!("/rounds/{}/disinfection", w.round));
    assert_eq!(tasks.status, 200, "{}", tasks.body);
    assert!(!tasks.body.contains("没有消杀任务"), "{}", tasks.body);
    assert!(
        element(&tasks.body, "tasks-elsewhere", "li").contains("另有 1 个消杀任务"),
        "{}",
        tasks.body
    );
    assert!(!tasks.body.contains("东门采样点"), "the point is not named");

    // The point's manager: the task on the point's page and its packing page.
    let pm = Browser::login(&w.srv, "pm", &w.pm);
    let point = pm.get(&format!("/points/{}", w.point));
    assert_eq!(point.status, 200, "{}", point.body);
    let card = element(&point.body, "disinfection", "section");
    assert!(card.contains("待消杀"), "{card}");
    let task = card
        .split(r#"action="/disinfection/"#)
        .nth(1)
        .and_then(|r| r.split('/').next())
        .unwrap_or_else(|| panic!("a done button: {card}"))
        .to_string();
    let packing = pm.get(&format!("/points/{}/packing", w.point));
    assert_eq!(packing.status, 200, "{}", packing.body);
    assert!(
        element(&packing.body, "disinfection", "section")
            .contains(&format!("/disinfection/{task}/done")),
        "{}",
        packing.body
    );
    let done = pm.post(
        &format!("/disinfection/{task}/done"),
        &[("from", "point"), ("point", &w.point)],
    );
    assert_eq!(done.status, 303, "{}", done.body);
    assert!(
        done.head
            .to_lowercase()
            .contains(&format!("location: /points/{}#disinfection", w.point)),
        "{}",
        done.head
    );
    let point = pm.get(&format!("/points/{}", w.point));
    let card = element(&point.body, "disinfection", "section");
    assert!(
        card.contains("消杀已完成") && !card.contains("待消杀"),
        "{card}"
    );
    let api = w.srv.with_token(&w.chief);
    let t = api
        .get(&format!("/api/v1/rounds/{}/disinfection", w.round))
        .json();
    assert_eq!(t["tasks"][0]["state"], "done", "{t}");
}

#[tokio::test]
async fn a_station_shows_its_points_count_from_enrolment() {
    let w = world().await;
    w.closed_tube("ST000001", &w.people[0..5]);
    let api = w.srv.with_token(&w.chief);
    let issued = api.post(
        &format!("/api/v1/points/{}/stations", w.point),
        &json!({ "label": "1号台" }),
    );
    assert_eq!(issued.status, 201, "{}", issued.body);
    let code = issued.json()["enroll_code"].as_str().unwrap().to_string();
    let enrolled = w
        .srv
        .anonymous()
        .post("/api/v1/enroll", &json!({ "code": code }));
    assert_eq!(enrolled.status, 200, "{}", enrolled.body);
    assert_eq!(enrolled.json()["point_count"], 5, "{}", enrolled.body);
    // The script shows it (rather than 0 until the first scan).
    let js = w.srv.anonymous().get("/assets/station.js");
    assert!(
        js.body.contains("r.body.point_count"),
        "the script reads it"
    );
    // The station's words for a retest are the pages'.
    let page = w.srv.anonymous().get("/station");
    assert!(page.body.contains("单管复检") && !page.body.contains("单管复核"));
}
