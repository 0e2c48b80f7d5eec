//! The door-to-door and lab-results parts of a round as a reviewer acted
//! them out: a member of an abnormal pool whose retest was swabbed already
//! is told so at the station (not invited to a second retest), a re-sample
//! swab of someone with no re-sample due is flagged as a retest swab of
//! someone with no retest is, the alerts page tells a retest swabbed and
//! waiting for its result from one still to take, and the door-to-door
//! list links each household's code sheet for those who may open it.

use serde_json::{json, Value};

use crate::harness::Server;
use crate::round_pages::Browser;
use crate::testing::{setup, tube, Round};

fn results(srv: &Server, round: &str, rows: Value) -> Value {
    let r = srv.post(
        &format!("/api/v1/rounds/{round}/results"),
        &json!({ "results": rows }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

fn swab(srv: &Server, tube: &str, client: &str, code: &str, purpose: &str) -> Value {
    let r = srv.post(
        &format!("/api/v1/tubes/{tube}/scans"),
        &json!({ "client_id": client, "code": code, "purpose": purpose }),
    );
    assert!(r.status == 200 || r.status == 201, "{}", r.body);
    r.json()
}

fn tube_for(srv: &Server, point: &str, barcode: &str, purpose: &str) -> String {
    let r = srv.post(
        &format!("/api/v1/points/{point}/tubes"),
        &json!({ "barcode": barcode, "purpose": purpose }),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    r.json()["id"].as_str().unwrap().to_string()
}

const SWAB_ALONE: &str = "请用单管复检的采样管为其单独采样";
const NO_RESAMPLE: &str = "此人没有待做的重采 / this person has no re-sample due";

/// An abnormal pool of the first ten residents, their retests open.
fn abnormal_pool(w: &Round) {
    let srv = &w.srv;
    let pool = tube(srv, &w.points[0], "RV000001");
    for i in 0..10 {
        swab(srv, &pool, &format!("p{i}"), &w.codes[i].1, "routine");
    }
    let sum = results(
        srv,
        &w.round,
        json!([{ "barcode": "RV000001", "result": "abnormal" }]),
    );
    assert_eq!(sum["alerts"].as_array().unwrap().len(), 1, "{sum}");
}

/// A member whose retest swab is registered (result pending) and who is
/// scanned again by mistake, into a re-sample tube at the door, is told the
/// retest was taken (when and where), not to take one; a member whose
/// retest is still to take is told to take it as before. A re-sample swab
/// of someone with no re-sample due is stored and flagged (in the round's
/// flagged list); one with a re-sample due is not.
#[tokio::test]
async fn a_retest_swabbed_is_not_asked_again_and_a_resample_not_due_is_flagged() {
    let w = setup("600").await;
    let srv = &w.srv;
    abnormal_pool(&w);
    let rt = tube_for(srv, &w.points[1], "RV100001", "retest");
    let taken = swab(srv, &rt, "rt0", &w.codes[0].1, "retest");
    assert_eq!(taken["problem"], "", "{taken}");

    // One of the street's residents with a re-sample due: an invalid pool.
    let other = tube(srv, &w.points[0], "RV000002");
    swab(srv, &other, "q30", &w.codes[30].1, "routine");
    results(
        srv,
        &w.round,
        json!([{ "barcode": "RV000002", "result": "invalid" }]),
    );

    let rs = tube_for(srv, &w.points[0], "RV200001", "resample");
    // The member whose retest is taken: told so, with the point and time.
    let again = swab(srv, &rs, "rs0", &w.codes[0].1, "resample");
    let alert = again["alert"].as_str().unwrap_or_default();
    assert!(
        alert.contains("单管复检已采") && alert.contains("1号采样点") && alert.contains("待结果"),
        "{again}"
    );
    assert!(
        alert.contains("retest was taken already") && alert.contains("result pending"),
        "{again}"
    );
    assert!(!alert.contains(SWAB_ALONE), "{again}");
    // They had no re-sample due either: flagged.
    assert!(
        again["problem"].as_str().unwrap().contains(NO_RESAMPLE),
        "{again}"
    );
    // A member whose retest is still to take: told to take it.
    let open = swab(srv, &rs, "rs1", &w.codes[1].1, "resample");
    assert!(
        open["alert"]
            .as_str()
            .unwrap_or_default()
            .contains(SWAB_ALONE),
        "{open}"
    );
    // Someone of no pool at all, into the re-sample tube: stored, flagged.
    let stray = swab(srv, &rs, "rs2", &w.codes[40].1, "resample");
    assert_eq!(stray["resident"], w.codes[40].0.as_str(), "{stray}");
    assert_eq!(stray["problem"], NO_RESAMPLE, "{stray}");
    assert!(stray["alert"].is_null(), "{stray}");
    // The one with a re-sample due: nothing to say.
    let due = swab(srv, &rs, "rs3", &w.codes[30].1, "resample");
    assert_eq!(due["problem"], "", "{due}");

    // The flagged list holds the two mistakes, not the right one.
    let flagged = srv.get(&format!("/api/v1/rounds/{}/flagged", w.round));
    assert_eq!(flagged.status, 200, "{}", flagged.body);
    let items = flagged.json()["items"].as_array().unwrap().clone();
    let problem_of = |client: &str| {
        items
            .iter()
            .find(|i| i["client_id"] == client)
            .map(|i| i["problem"].as_str().unwrap().to_string())
    };
    assert!(
        problem_of("rs0").is_some_and(|p| p.contains(NO_RESAMPLE)),
        "{items:?}"
    );
    assert_eq!(problem_of("rs2").as_deref(), Some(NO_RESAMPLE), "{items:?}");
    assert_eq!(problem_of("rs3"), None, "{items:?}");
    // The point's page lists them under 需核实的扫码, in Chinese.
    let chief = Browser::login(srv, "chief", &w.chief_password);
    let page = chief.get(&format!("/points/{}", w.points[0]));
    assert_eq!(page.status, 200, "{}", page.body);
    let at = page
        .body
        .find(r#"id="flagged""#)
        .expect("a flagged section");
    let card = &page.body[at..at + page.body[at..].find("</section>").unwrap()];
    assert!(
        card.contains("此人没有待做的重采") && card.contains("RV200001"),
        "{card}"
    );
    // The command line's list too.
    let cli = w.env.cli_ok(&["round", "flagged", &w.round]);
    assert!(cli.contains("此人没有待做的重采"), "{cli}");

    // Once the retest tube's result is in, nothing is open: a swab now
    // gets neither word.
    results(
        srv,
        &w.round,
        json!([{ "barcode": "RV100001", "result": "negative" }]),
    );
    let rs2 = tube_for(srv, &w.points[0], "RV200002", "resample");
    let after = swab(srv, &rs2, "rs4", &w.codes[0].1, "resample");
    assert!(after["alert"].is_null(), "{after}");
}

/// The alerts page and its API tell a retest swabbed and waiting for its
/// result (已采，待结果) from one still to take, and count them apart.
#[tokio::test]
async fn the_alerts_page_tells_a_retest_swabbed_from_one_to_take() {
    let w = setup("600").await;
    let srv = &w.srv;
    abnormal_pool(&w);
    let alerts = || {
        let r = srv.get(&format!("/api/v1/rounds/{}/alerts", w.round));
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["alerts"][0].clone()
    };
    let a = alerts();
    assert_eq!(
        (&a["retests_open"], &a["retests_swabbed"]),
        (&json!(10), &json!(0)),
        "{a}"
    );

    let rt = tube_for(srv, &w.points[1], "RV100001", "retest");
    swab(srv, &rt, "rt0", &w.codes[0].1, "retest");
    let rt2 = tube_for(srv, &w.points[1], "RV100002", "retest");
    swab(srv, &rt2, "rt1", &w.codes[1].1, "retest");
    let a = alerts();
    assert_eq!(
        (&a["retests_open"], &a["retests_swabbed"]),
        (&json!(8), &json!(2)),
        "{a}"
    );

    let chief = Browser::login(srv, "chief", &w.chief_password);
    let card = |lang: &str| {
        let page = chief.get(&format!("/rounds/{}/alerts{lang}", w.round));
        assert_eq!(page.status, 200, "{}", page.body);
        let b = &page.body;
        b[b.find(r#"class="card alerts""#).unwrap()..].to_string()
    };
    let zh = card("");
    assert!(
        zh.contains("待复检 8 人 · 已采待结果 2 人 · 阴性 0 人 · 异常 0 人"),
        "{zh}"
    );
    let list = &zh[zh.find(r#"class="list members""#).unwrap()..];
    let list = &list[..list.find("</ul>").unwrap()];
    assert_eq!(list.matches("已采，待结果").count(), 2, "{list}");
    assert_eq!(list.matches(">待复检<").count(), 8, "{list}");
    // The round's page says what was done the same way.
    let round_page = chief.get(&format!("/rounds/{}", w.round));
    assert!(
        round_page.body.contains("8 人待单管复检，2 人已采待结果"),
        "{}",
        round_page.body
    );
    // And the command line.
    let cli = w.env.cli_ok(&["round", "alerts", &w.round]);
    assert!(
        cli.contains("8 待复检 retests open, 2 人已采待结果 swabbed, result pending"),
        "{cli}"
    );
    assert_eq!(
        cli.matches("已采，待结果 swabbed, result pending").count(),
        2,
        "{cli}"
    );
    let en = card("?lang=en");
    assert!(
        en.contains("8 open · 2 swabbed, result pending · 0 negative · 0 abnormal"),
        "{en}"
    );

    // The first comes back negative; the second's tube is invalid: its
    // retest is to take again.
    results(
        srv,
        &w.round,
        json!([{ "barcode": "RV100001", "result": "negative" }, { "barcode": "RV100002", "result": "invalid" }]),
    );
    let a = alerts();
    assert_eq!(
        (&a["retests_open"], &a["retests_swabbed"]),
        (&json!(9), &json!(0)),
        "{a}"
    );
    assert!(
        card("").contains("待复检 9 人 · 已采待结果 0 人 · 阴性 1 人 · 异常 0 人"),
        "{}",
        card("")
    );
}

/// Each row of the door-to-door list links the household's code sheet
/// (码单) for a registry reader of the grid, so a person without their
/// phone is scanned off it; the team's rows (a point's volunteer, who may
/// not open the sheet) have none.
#[tokio::test]
async fn the_door_to_door_list_links_the_code_sheet_for_registry_readers() {
    let w = setup("600").await;
    let srv = &w.srv;
    abnormal_pool(&w);
    let store = w.env.store().await;
    let k: gw_domain::ids::Key = w.codes[0].0.parse().unwrap();
    let row = store.resident(k.street, k.id).await.unwrap();
    let grid = format!("{}-{}", row.street_id, row.grid_id.unwrap());
    let household = format!("{}-{}", row.street_id, row.household_id.unwrap());
    let sheet = format!(r#"href="/households/{household}/codes""#);

    let chief = Browser::login(srv, "chief", &w.chief_password);
    let path = format!("/rounds/{}/door-to-door?grid={grid}", w.round);
    let page = chief.get(&path);
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains(&sheet), "{}", page.body);
    assert!(page.body.contains("码单"), "{}", page.body);
    // Every row has one.
    let rows = page.body.matches("<li><b>").count();
    assert!(rows > 0);
    assert_eq!(
        page.body
            .matches(r#"<a class="codes" href="/households/"#)
            .count(),
        rows,
        "{}",
        page.body
    );
    // The sheet opens for them.
    assert_eq!(
        chief.get(&format!("/households/{household}/codes")).status,
        200
    );
    // The whole community's list too.
    let community = page
        .body
        .split(r#"id="door-community-link" href=""#)
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .replace("&amp;", "&");
    let page = chief.get(&community);
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains(&sheet), "{}", page.body);

    // The team reads the list, not the sheet: no link.
    let pw = w
        .env
        .account("d2d", "volunteer", &["--point", &w.points[0]]);
    srv.login("d2d", &pw);
    let team = Browser::login(srv, "d2d", &format!("{pw}-changed"));
    let page = team.get(&path);
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("待单管复检"), "{}", page.body);
    assert!(!page.body.contains("/households/"), "{}", page.body);
    assert!(!page.body.contains("码单"), "{}", page.body);
    assert_eq!(
        team.get(&format!("/households/{household}/codes")).status,
        403
    );
}
