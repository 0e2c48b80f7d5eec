//! The door-to-door list as the team's list after an abnormal pool: the
//! pool's members held at home with an open single-tube retest (and those
//! with an open re-sample after an invalid tube) are on it, already sampled,
//! with the tube to use, until that swab is registered; and the team (a
//! point's staff, who read no registry) gets only what the door needs.

use serde_json::{json, Value};

use crate::harness::Server;
use crate::testing::{setup, tube, Round};

fn results(srv: &Server, round: &str, rows: Value) -> Value {
    let r = srv.post(
        &format!("/api/v1/rounds/{round}/results"),
        &json!({ "results": rows }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

fn swab(srv: &Server, tube: &str, client: &str, code: &str, purpose: &str) {
    let r = srv.post(
        &format!("/api/v1/tubes/{tube}/scans"),
        &json!({ "client_id": client, "code": code, "purpose": purpose }),
    );
    assert!(r.status == 200 || r.status == 201, "{}", r.body);
}

/// `(grid, household)` of a resident, as `STREET-ID` and the household's id.
async fn grid_and_household(w: &Round, resident: &str) -> (String, i64) {
    let store = w.env.store().await;
    let k: gw_domain::ids::Key = resident.parse().unwrap();
    let row = store.resident(k.street, k.id).await.unwrap();
    (
        format!("{}-{}", row.street_id, row.grid_id.unwrap()),
        row.household_id.unwrap(),
    )
}

/// The street of a `STREET-ID` key.
fn street(key: &str) -> &str {
    key.split('-').next().unwrap()
}

fn rows(list: &Value) -> Vec<Value> {
    list["floors"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| f["residents"].as_array().unwrap().clone())
        .collect()
}

/// `(resident id, purpose)` of a registry reader's list.
fn listed(srv: &Server, round: &str, grid: &str) -> Vec<(String, String)> {
    let r = srv.get(&format!("/api/v1/rounds/{round}/door-to-door?grid={grid}"));
    assert_eq!(r.status, 200, "{}", r.body);
    rows(&r.json())
        .iter()
        .map(|x| {
            (
                x["id"].as_str().unwrap().to_string(),
                x["purpose"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// After an abnormal pool its members' households are under temporary
/// control and each member has an open single-tube retest: the door-to-door
/// list holds every member of the grid (with 待单管复检 and the retest tube,
/// counted as sampled) for the team too, and drops each once their retest
/// swab is registered. A re-sample due at a held home is listed the same way.
#[tokio::test]
async fn retests_and_resamples_due_at_home_are_on_the_door_to_door_list() {
    let w = setup("600").await;
    let srv = &w.srv;
    let pool = tube(srv, &w.points[0], "PD000001");
    for i in 0..10 {
        swab(srv, &pool, &format!("p{i}"), &w.codes[i].1, "routine");
    }
    let sum = results(
        srv,
        &w.round,
        json!([{ "barcode": "PD000001", "result": "abnormal" }]),
    );
    assert_eq!(sum["alerts"].as_array().unwrap().len(), 1, "{sum}");

    // The members living in the first member's grid.
    let (grid, _) = grid_and_household(&w, &w.codes[0].0).await;
    let mut members = Vec::new();
    for (id, _) in &w.codes[..10] {
        if grid_and_household(&w, id).await.0 == grid {
            members.push(id.clone());
        }
    }
    assert!(!members.is_empty());
    let list = listed(srv, &w.round, &grid);
    for m in &members {
        assert!(
            list.contains(&(m.clone(), "retest".to_string())),
            "{m} has a retest due at home: {list:?}"
        );
    }
    let full = srv
        .get(&format!(
            "/api/v1/rounds/{}/door-to-door?grid={grid}",
            w.round
        ))
        .json();
    for r in rows(&full).iter().filter(|r| r["purpose"] == "retest") {
        assert_eq!(r["sampled"], true, "{r}");
        assert!(r["due"].as_str().unwrap().contains("待单管复检"), "{r}");
        assert!(
            r["reasons"].to_string().contains("temporary"),
            "held at home by the alert's control: {r}"
        );
    }
    // Those not yet sampled stay on the list as before, not as sampled.
    assert!(rows(&full)
        .iter()
        .filter(|r| r["purpose"] == "door_to_door")
        .all(|r| r["sampled"] == false));

    // The team: a volunteer of the round's point reads the same retests due,
    // on the API and on the page (a section of its own: not missed).
    let pw = w
        .env
        .account("d2d", "volunteer", &["--point", &w.points[0]]);
    let token = srv.login("d2d", &pw);
    let team = srv.with_token(&token);
    let r = team.get(&format!(
        "/api/v1/rounds/{}/door-to-door?grid={grid}",
        w.round
    ));
    assert_eq!(r.status, 200, "{}", r.body);
    let theirs = rows(&r.json());
    assert_eq!(
        theirs.iter().filter(|r| r["purpose"] == "retest").count(),
        members.len(),
        "{theirs:?}"
    );
    // Still no alerts for them: the list is their list.
    assert_eq!(
        team.get(&format!("/api/v1/rounds/{}/alerts", w.round))
            .status,
        403
    );
    let browser = crate::round_pages::Browser::login(srv, "d2d", &format!("{pw}-changed"));
    let page = browser.get(&format!("/rounds/{}/door-to-door?grid={grid}", w.round));
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains(r#"id="door-follow-ups""#),
        "{}",
        page.body
    );
    assert!(page.body.contains("待单管复检"), "{}", page.body);
    assert!(
        page.body.contains(r#"data-purpose="retest""#),
        "{}",
        page.body
    );
    // The command line lists them with the purpose to use.
    let cli: Value = serde_json::from_str(&w.env.cli_ok(&[
        "round",
        "door-to-door",
        &w.round,
        "--grid",
        &grid,
        "--json",
    ]))
    .unwrap();
    assert_eq!(
        rows(&cli)
            .iter()
            .filter(|r| r["purpose"] == "retest")
            .count(),
        members.len()
    );
    let text = w
        .env
        .cli_ok(&["round", "door-to-door", &w.round, "--grid", &grid]);
    assert!(
        text.contains("待单管复检") && text.contains("--purpose retest"),
        "{text}"
    );

    // The first member's retest swab registered at the door: off the list
    // (the result is still to come); the others stay.
    let rt = srv.post(
        &format!("/api/v1/points/{}/tubes", w.points[0]),
        &json!({ "barcode": "RD000001", "purpose": "retest" }),
    );
    assert_eq!(rt.status, 201, "{}", rt.body);
    let rt = rt.json()["id"].as_str().unwrap().to_string();
    let first = &members[0];
    let code = &w.codes.iter().find(|(id, _)| id == first).unwrap().1;
    swab(srv, &rt, "rd0", code, "retest");
    let list = listed(srv, &w.round, &grid);
    assert!(
        !list.iter().any(|(id, _)| id == first),
        "retest swabbed: {list:?}"
    );
    for m in &members[1..] {
        assert!(
            list.contains(&(m.clone(), "retest".to_string())),
            "{list:?}"
        );
    }

    // An invalid pool: its member whose household is held at home has a
    // re-sample due at the door; one not held goes to a point.
    let other = tube(srv, &w.points[1], "PD000002");
    // Two residents of the grid in two households other than the pool's,
    // neither on the list now (not held at home, able to go down).
    let (held, free) = {
        let before = listed(srv, &w.round, &grid);
        let mut seen = std::collections::BTreeSet::new();
        for (id, _) in &w.codes[..10] {
            seen.insert(grid_and_household(&w, id).await.1);
        }
        let mut pick = Vec::new();
        for (id, code) in &w.codes[10..] {
            let (g, h) = grid_and_household(&w, id).await;
            if g == grid && !before.iter().any(|(x, _)| x == id) && seen.insert(h) {
                pick.push((id.clone(), code.clone(), h));
            }
            if pick.len() == 2 {
                break;
            }
        }
        assert_eq!(pick.len(), 2);
        (pick[0].clone(), pick[1].clone())
    };
    swab(srv, &other, "q0", &held.1, "routine");
    swab(srv, &other, "q1", &free.1, "routine");
    let set = srv.post(
        "/api/v1/control",
        &json!({ "target_kind": "household", "target_id": format!("{}-{}", street(&w.round), held.2), "status": "temporary", "reason": "居家" }),
    );
    assert_eq!(set.status, 201, "{}", set.body);
    results(
        srv,
        &w.round,
        json!([{ "barcode": "PD000002", "result": "invalid" }]),
    );
    let list = listed(srv, &w.round, &grid);
    assert!(
        list.contains(&(held.0.clone(), "resample".to_string())),
        "{list:?}"
    );
    assert!(!list.iter().any(|(id, _)| *id == free.0), "{list:?}");
    let page = browser.get(&format!("/rounds/{}/door-to-door?grid={grid}", w.round));
    assert!(page.body.contains("待重采"), "{}", page.body);
    // Re-sampled at the door: off the list.
    let rs = srv.post(
        &format!("/api/v1/points/{}/tubes", w.points[1]),
        &json!({ "barcode": "RS000001", "purpose": "resample" }),
    );
    assert_eq!(rs.status, 201, "{}", rs.body);
    let rs = rs.json()["id"].as_str().unwrap().to_string();
    swab(srv, &rs, "rs0", &held.1, "resample");
    let list = listed(srv, &w.round, &grid);
    assert!(!list.iter().any(|(id, _)| *id == held.0), "{list:?}");
}

/// A point's volunteer reads the door-to-door list without registry access:
/// its rows carry the masked name, address, masked phones, flags and
/// reasons, never a document number, age, gender, uid or key; a registry
/// reader's rows keep the masked registry view.
#[tokio::test]
async fn the_door_to_door_team_reads_only_what_the_door_needs() {
    let w = setup("600").await;
    let srv = &w.srv;
    let building = srv
        .get(&format!("/api/v1/residents/{}", w.codes[0].0))
        .json()["building"]
        .as_str()
        .unwrap()
        .to_string();
    let sealed = srv.post(
        "/api/v1/control",
        &json!({ "target_kind": "building", "target_id": building, "status": "sealed", "reason": "封控" }),
    );
    assert_eq!(sealed.status, 201, "{}", sealed.body);
    let (grid, _) = grid_and_household(&w, &w.codes[0].0).await;
    let path = format!("/api/v1/rounds/{}/door-to-door?grid={grid}", w.round);
    let full = rows(&srv.get(&path).json());
    assert!(!full.is_empty());
    assert!(full.iter().all(|r| r["id"].is_string()
        && r["document_number"].is_string()
        && r["gender"].is_string()));

    for (user, role, point) in [
        ("d2d", "volunteer", &w.points[0]),
        ("pm", "point_manager", &w.points[1]),
    ] {
        let pw = w.env.account(user, role, &["--point", point]);
        let token = srv.login(user, &pw);
        let r = srv.with_token(&token).get(&path);
        assert_eq!(r.status, 200, "{user}: {}", r.body);
        let body = r.body.clone();
        let theirs = rows(&r.json());
        assert_eq!(theirs.len(), full.len(), "{user}");
        for (t, f) in theirs.iter().zip(&full) {
            let o = t.as_object().unwrap();
            for hidden in [
                "id",
                "uid",
                "document_number",
                "document_kind",
                "age",
                "gender",
                "household",
                "health_flags",
                "notes_present",
            ] {
                assert!(!o.contains_key(hidden), "{user}: {hidden} in {t}");
            }
            assert_eq!(
                t["name"],
                json!(gw_domain::mask::name(f["name"].as_str().unwrap())),
                "{user}"
            );
            assert_eq!(t["address"], f["address"], "{user}");
            assert_eq!(t["phones"], f["phones"], "{user}");
            assert_eq!(t["reasons"], f["reasons"], "{user}");
            assert_eq!(t["purpose"], "door_to_door");
        }
        // No document number anywhere in the answer, masked or not.
        for f in &full {
            let doc = f["document_number"].as_str().unwrap();
            assert!(!body.contains(doc), "{user}: {doc}");
        }
    }
}
