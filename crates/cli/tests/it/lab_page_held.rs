//! The lab's results upload page says what the abnormal pools' temporary
//! control did to pushed call-downs (暂停下楼): how many were held and how
//! many groups were told (real HTTP, both backends, a local JSON group
//! robot); and the daily report words what happened to a pool no longer
//! open (withdrawn by a corrected result, confirmed by a retest) as the
//! round's page does, beside the "—" of nothing left to retest.

use serde_json::json;

use crate::harness::{query_strings, Server};
use crate::held_calls::{pushed, Pushed};
use crate::round_pages::Browser;

fn element<'a>(html: &'a str, id: &str, tag: &str) -> &'a str {
    let start = html
        .find(&format!(r#"id="{id}""#))
        .unwrap_or_else(|| panic!("no #{id} in {html}"));
    let rest = &html[start..];
    &rest[..rest.find(&format!("</{tag}>")).unwrap_or(rest.len())]
}

/// A personal code of one resident of `household` (the first by id).
async fn member_code(srv: &Server, store: &gw_store::Store, street: i64, household: i64) -> String {
    let ids = query_strings(
        store,
        &format!("SELECT CAST(id AS TEXT) FROM resident WHERE street_id = {street} AND household_id = {household} ORDER BY id"),
    )
    .await;
    let r = srv.get(&format!("/api/v1/residents/{street}-{}/code", ids[0]));
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["code"].as_str().unwrap().to_string()
}

/// A closed pool of one swab of each code.
fn pool(srv: &Server, point: &str, barcode: &str, codes: &[&str]) {
    let r = srv.post(
        &format!("/api/v1/points/{point}/tubes"),
        &json!({ "barcode": barcode }),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let tube = r.json()["id"].as_str().unwrap().to_string();
    for (i, code) in codes.iter().enumerate() {
        let s = srv.post(
            &format!("/api/v1/tubes/{tube}/scans"),
            &json!({ "client_id": format!("{barcode}-{i}"), "code": code, "purpose": "routine" }),
        );
        assert!(s.status == 200 || s.status == 201, "{}", s.body);
    }
    let c = srv.post(&format!("/api/v1/tubes/{tube}/close"), &json!({}));
    assert_eq!(c.status, 200, "{}", c.body);
}

#[tokio::test]
async fn the_lab_upload_page_says_the_pushed_calls_held_and_the_groups_told() {
    let Pushed {
        env,
        srv,
        store,
        street,
        round,
        rk,
        point,
        rx: _rx,
        slots,
        past: _,
    } = pushed("json", "第5轮全员核酸", "鸿城小区西门", 4).await;
    let calls = store.schedule_calls(street, rk.id).await.unwrap();
    let homebound = i64::from(gw_domain::resident::Flag::CannotGoDownstairs.bit());
    let rows = store
        .schedule_households(street, rk.id, homebound)
        .await
        .unwrap();
    let live = [slots[0], slots[1]];
    let live_calls = |unit: i64| {
        calls
            .iter()
            .filter(|c| c.unit_id == unit && live.contains(&c.starts_ms))
            .count()
    };
    let a = rows
        .iter()
        .find(|h| h.people > 0 && live_calls(h.unit_id) > 0)
        .expect("a household called in a live pushed slot");
    let code = member_code(&srv, &store, street, a.household_id).await;
    pool(&srv, &point, "HL00000001", &[&code]);

    let lab_pw = env.account("lab", "lab", &["--street", "鸿城街道"]);
    srv.login("lab", &lab_pw);
    let lab = Browser::login(&srv, "lab", &format!("{lab_pw}-changed"));
    let done = lab.upload(
        &format!("/rounds/{round}/lab?filename=result.csv"),
        "条码,结果\nHL00000001,阳性\n".as_bytes(),
    );
    assert_eq!(done.status, 200, "{}", done.body);
    let held = element(&done.body, "lab-held", "li");
    let n = live_calls(a.unit_id);
    assert!(
        held.contains(&format!("暂停下楼：{n} 个已推送的叫号")) && held.contains("已通知 1 个群"),
        "{held}"
    );

    // In English too.
    let b = rows
        .iter()
        .find(|h| h.people > 0 && h.unit_id != a.unit_id && live_calls(h.unit_id) > 0)
        .expect("a second called unit");
    let code = member_code(&srv, &store, street, b.household_id).await;
    pool(&srv, &point, "HL00000002", &[&code]);
    let done = lab.upload(
        &format!("/rounds/{round}/lab?filename=result.csv&lang=en"),
        "条码,结果\nHL00000002,阳性\n".as_bytes(),
    );
    assert_eq!(done.status, 200, "{}", done.body);
    let held = element(&done.body, "lab-held", "li");
    let n = live_calls(b.unit_id);
    assert!(
        held.contains(&format!("Calls held: {n} pushed call-downs"))
            && held.contains("1 groups told"),
        "{held}"
    );

    // Nothing held: nothing said.
    let c = rows
        .iter()
        .find(|h| h.people > 0 && live_calls(h.unit_id) == 0)
        .expect("a household not called in a live slot");
    let code = member_code(&srv, &store, street, c.household_id).await;
    pool(&srv, &point, "HL00000003", &[&code]);
    let done = lab.upload(
        &format!("/rounds/{round}/lab?filename=result.csv"),
        "条码,结果\nHL00000003,阴性\n".as_bytes(),
    );
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(!done.body.contains(r#"id="lab-held""#), "{}", done.body);
}

#[tokio::test]
async fn the_daily_report_words_a_pool_no_longer_open() {
    let s = crate::packing_pages::staffed("全员核酸第10轮").await;
    let (srv, chief, round) = (&s.srv, s.chief.as_str(), s.round.as_str());
    let c = srv.with_token(chief);
    let point = c
        .post(
            &format!("/api/v1/rounds/{round}/points"),
            &json!({ "name": "东门采样点", "community": format!("{}-{}", s.street, s.community) }),
        )
        .json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let people = crate::harness::residents_with_codes(|p| c.get(p), "limit=4");
    let post = |barcode: &str, purpose: &str, codes: &[&str]| {
        let r = c.post(
            &format!("/api/v1/points/{point}/tubes"),
            &json!({ "barcode": barcode, "purpose": purpose }),
        );
        assert_eq!(r.status, 201, "{}", r.body);
        let tube = r.json()["id"].as_str().unwrap().to_string();
        for (i, code) in codes.iter().enumerate() {
            let s = c.post(
                &format!("/api/v1/tubes/{tube}/scans"),
                &json!({ "client_id": format!("{barcode}-{i}"), "code": code, "purpose": purpose }),
            );
            assert!(s.status == 200 || s.status == 201, "{}", s.body);
        }
        c.post(&format!("/api/v1/tubes/{tube}/close"), &json!({}));
    };
    let results = |rows: serde_json::Value| {
        let r = c.post(
            &format!("/api/v1/rounds/{round}/results"),
            &json!({ "results": rows }),
        );
        assert_eq!(r.status, 200, "{}", r.body);
    };
    // A pool the lab's corrected report withdrew.
    post("DR000001", "routine", &[people[0].1.as_str()]);
    results(json!([{ "barcode": "DR000001", "result": "abnormal" }]));
    let r = c.post(
        &format!("/api/v1/rounds/{round}/results/corrections"),
        &json!({ "barcode": "DR000001", "result": "negative", "reason": "实验室更正报告" }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    // A pool whose member's single-tube retest came back abnormal.
    post("DR000002", "routine", &[people[1].1.as_str()]);
    results(json!([{ "barcode": "DR000002", "result": "abnormal" }]));
    post("DS000001", "retest", &[people[1].1.as_str()]);
    results(json!([{ "barcode": "DS000001", "result": "abnormal" }]));
    let states: Vec<String> = c.get(&format!("/api/v1/rounds/{round}/alerts")).json()["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            format!(
                "{}:{}:{}",
                a["barcode"].as_str().unwrap(),
                a["kind"].as_str().unwrap(),
                a["state"].as_str().unwrap()
            )
        })
        .collect();
    assert!(
        states.contains(&"DR000001:abnormal_pool:withdrawn".to_string()),
        "{states:?}"
    );
    assert!(
        states.contains(&"DR000002:abnormal_pool:confirmed".to_string()),
        "{states:?}"
    );

    let page = Browser::login(srv, "chief", &format!("{}-changed", s.chief_pw));
    let row = |body: &str, barcode: &str| {
        let pools = element(body, "rep-pools", "table").to_string();
        let at = pools
            .find(&format!("<td>{barcode}</td>"))
            .unwrap_or_else(|| panic!("{barcode} in {pools}"));
        let rest = &pools[at..];
        rest[..rest.find("</tr>").unwrap()].to_string()
    };
    let report = page.get(&format!("/rounds/{round}/report"));
    assert_eq!(report.status, 200, "{}", report.body);
    let withdrawn = row(&report.body, "DR000001");
    assert!(
        withdrawn.contains("实验室更正了结果，已撤销")
            && withdrawn.contains(r#"<td class="n">—</td>"#),
        "{withdrawn}"
    );
    let confirmed = row(&report.body, "DR000002");
    assert!(
        confirmed.contains("单管复检有异常，已确认")
            && confirmed.contains(r#"<td class="n">—</td>"#),
        "{confirmed}"
    );
    let en = page.get(&format!("/rounds/{round}/report?lang=en"));
    assert!(
        row(&en.body, "DR000001").contains("the lab corrected the result: withdrawn"),
        "{}",
        en.body
    );
    assert!(
        row(&en.body, "DR000002").contains("a single-tube retest abnormal: confirmed"),
        "{}",
        en.body
    );
}
