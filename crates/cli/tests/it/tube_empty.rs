//! A tube emptied by take-backs, and a point's disinfection task as a grid
//! leader reads it (real HTTP, both backends). A tube whose every swab was
//! taken back is withdrawn when closed (API and CLI), as a tube never
//! scanned into is; one emptied after it closed is withdrawn by the
//! take-back itself (see tube_takeback_closed.rs), not expected in a bag
//! (the reconciliation and the packing table leave it out). A grid
//! leader reads the disinfection task of a point standing in a compound
//! with buildings in their grid (or planned for their grid's buildings),
//! and may not mark it done.

use serde_json::json;

use crate::harness::{exec, query_strings, Server};
use crate::round_pages::Browser;

/// Opens a tube at `point` and swabs these codes into it: the tube's key
/// and each swab's registration key.
pub(crate) fn filled(
    srv: &Server,
    chief: &str,
    point: &str,
    barcode: &str,
    codes: &[&str],
) -> (String, Vec<String>) {
    let c = srv.with_token(chief);
    let r = c.post(
        &format!("/api/v1/points/{point}/tubes"),
        &json!({ "barcode": barcode }),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let tube = r.json()["id"].as_str().unwrap().to_string();
    let regs = codes
        .iter()
        .enumerate()
        .map(|(i, code)| {
            let s = c.post(
                &format!("/api/v1/tubes/{tube}/scans"),
                &json!({ "client_id": format!("{barcode}-{i}"), "code": code }),
            );
            assert_eq!(s.status, 200, "{}", s.body);
            s.json()["registration"].as_str().unwrap().to_string()
        })
        .collect();
    (tube, regs)
}

pub(crate) fn close(srv: &Server, chief: &str, tube: &str) -> String {
    let r = srv
        .with_token(chief)
        .post(&format!("/api/v1/tubes/{tube}/close"), &json!({}));
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["state"].as_str().unwrap().to_string()
}

pub(crate) fn void(srv: &Server, chief: &str, registration: &str) {
    let r = srv.with_token(chief).post(
        &format!("/api/v1/registrations/{registration}/void"),
        &json!({ "reason": "误扫" }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
}

/// The barcodes on a point's packing table waiting for a bag.
pub(crate) fn to_bag(srv: &Server, chief: &str, point: &str) -> Vec<String> {
    let v = srv
        .with_token(chief)
        .get(&format!("/api/v1/points/{point}/packing"))
        .json();
    v["tubes_to_bag"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"))
        .iter()
        .map(|t| t["barcode"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn a_tube_whose_swabs_were_all_taken_back_is_withdrawn_and_not_expected_in_a_bag() {
    let s = crate::packing_pages::staffed("全员核酸第7轮").await;
    let (srv, chief, round) = (&s.srv, s.chief.as_str(), s.round.as_str());
    let point = srv
        .with_token(chief)
        .post(
            &format!("/api/v1/rounds/{round}/points"),
            &json!({ "name": "南门采样点", "community": format!("{}-{}", s.street, s.community) }),
        )
        .json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let people = crate::harness::residents_with_codes(|p| srv.with_token(chief).get(p), "limit=8");
    let code = |i: usize| people[i].1.as_str();
    let store = s.env.store().await;

    // A tube with swabs: closed, waiting for its bag.
    let (kept, _) = filled(srv, chief, &point, "HE000001", &[code(0), code(1)]);
    assert_eq!(close(srv, chief, &kept), "closed");

    // Swabbed by mistake, taken back, then closed: withdrawn, as an empty
    // tube's close does; its barcode free again, audited.
    let (undone, regs) = filled(srv, chief, &point, "HE000002", &[code(2)]);
    void(srv, chief, &regs[0]);
    assert_eq!(close(srv, chief, &undone), "withdrawn");
    let left = query_strings(
        &store,
        "SELECT barcode FROM tube WHERE barcode = 'HE000002'",
    )
    .await;
    assert!(left.is_empty(), "{left:?}");
    let audited = query_strings(
        &store,
        "SELECT detail FROM audit_event WHERE action = 'withdraw_tube'",
    )
    .await;
    assert!(
        audited.iter().any(|d| d.contains("barcode=HE000002")),
        "{audited:?}"
    );
    // The take-back itself is kept.
    let voided = query_strings(&store, "SELECT reason FROM voided_swab").await;
    assert_eq!(voided, vec!["误扫"]);
    let again = srv.with_token(chief).post(
        &format!("/api/v1/points/{point}/tubes"),
        &json!({ "barcode": "HE000002" }),
    );
    assert_eq!(again.status, 201, "the barcode is free: {}", again.body);
    assert_ne!(again.json()["id"].as_str().unwrap(), undone);
    assert_eq!(
        close(srv, chief, again.json()["id"].as_str().unwrap()),
        "withdrawn"
    );

    // The same from the CLI's `tube close`.
    let (cli_tube, regs) = filled(srv, chief, &point, "HE000003", &[code(3)]);
    void(srv, chief, &regs[0]);
    let said = s.env.cli_ok(&["tube", "close", &cli_tube]);
    assert!(said.contains("已作废"), "{said}");
    let left = query_strings(
        &store,
        "SELECT barcode FROM tube WHERE barcode = 'HE000003'",
    )
    .await;
    assert!(left.is_empty(), "{left:?}");

    // Closed with a swab, the swab then taken back: withdrawn with it, not
    // expected in a bag.
    let (emptied, regs) = filled(srv, chief, &point, "HE000004", &[code(4)]);
    assert_eq!(close(srv, chief, &emptied), "closed");
    void(srv, chief, &regs[0]);
    let waiting = to_bag(srv, chief, &point);
    assert_eq!(waiting, vec!["HE000001"], "the packing table");
    let rec = srv
        .with_token(chief)
        .get(&format!("/api/v1/rounds/{round}/reconciliation"));
    assert_eq!(rec.status, 200, "{}", rec.body);
    assert!(rec.body.contains("HE000001"), "{}", rec.body);
    assert!(!rec.body.contains("HE000004"), "{}", rec.body);
    let states = query_strings(
        &store,
        "SELECT barcode || ':' || state || ':' || CAST(fill AS TEXT) FROM tube WHERE barcode LIKE 'HE%' ORDER BY barcode",
    )
    .await;
    assert_eq!(states, vec!["HE000001:closed:2"]);
}

/// A grid leader of the grid all of a compound's buildings are in reads the
/// disinfection task of the point standing in that compound (its state, on
/// the alerts page and the round's disinfection page) and may not mark it
/// done; a compound spread over grids is read by the leaders of each; a
/// point outside compounds by the leaders of the grids its plan calls to it;
/// a point elsewhere stays "outside your area".
#[tokio::test]
async fn a_grid_leader_reads_the_disinfection_task_of_a_point_in_their_grid() {
    let s = crate::packing_pages::staffed("全员核酸第8轮").await;
    let (srv, chief, round, street) = (&s.srv, s.chief.as_str(), s.round.as_str(), s.street);
    let store = s.env.store().await;
    let grid = s.grid;
    let community = s.community;
    // The demo street: one compound, all its buildings in the leader's
    // grid. Another grid of the community, and a compound with a building
    // in it only.
    for sql in [
        format!("INSERT INTO grid (street_id, id, community_id, name) SELECT {street}, MAX(id) + 1, {community}, '第2网格' FROM grid"),
        format!("INSERT INTO compound (street_id, id, community_id, name) SELECT {street}, MAX(id) + 1, {community}, '别的小区' FROM compound"),
        format!("INSERT INTO building (street_id, id, compound_id, grid_id, name) SELECT {street}, (SELECT MAX(id) + 1 FROM building), k.id, g.id, '9号楼' \
                 FROM compound k, grid g WHERE k.street_id = {street} AND k.name = '别的小区' AND g.street_id = {street} AND g.name = '第2网格'"),
    ] {
        exec(&store, &sql).await;
    }
    let mine = query_strings(
        &store,
        &format!("SELECT DISTINCT CAST(compound_id AS TEXT) FROM building WHERE street_id = {street} AND grid_id = {grid}"),
    )
    .await;
    assert_eq!(mine.len(), 1, "{mine:?}");
    let other = query_strings(
        &store,
        &format!("SELECT CAST(id AS TEXT) FROM compound WHERE street_id = {street} AND name = '别的小区'"),
    )
    .await
    .remove(0);
    let c = srv.with_token(chief);
    let add = |name: &str, compound: &str| {
        let r = c.post(
            &format!("/api/v1/rounds/{round}/points"),
            &json!({ "name": name, "community": format!("{street}-{}", s.community), "compound": compound }),
        );
        assert_eq!(r.status, 201, "{}", r.body);
        r.json()["id"].as_str().unwrap().to_string()
    };
    let inside = add("鸿城小区南门", &format!("{street}-{}", mine[0]));
    let elsewhere = add("别的小区门口", &format!("{street}-{other}"));
    let outside = add("广场采样点", "outside");
    let people = crate::harness::residents_with_codes(
        |p| c.get(p),
        &format!("limit=12&grid={street}-{grid}"),
    );
    assert!(people.len() >= 9, "{}", people.len());
    crate::packing_pages::closed_tube(srv, chief, &inside, "DI000001", &people[0..3]);
    crate::packing_pages::closed_tube(srv, chief, &elsewhere, "DI000002", &people[3..6]);
    crate::packing_pages::closed_tube(srv, chief, &outside, "DI000003", &people[6..9]);
    let r = c.post(
        &format!("/api/v1/rounds/{round}/results"),
        &json!({ "results": [
            { "barcode": "DI000001", "result": "abnormal" },
            { "barcode": "DI000002", "result": "abnormal" },
            { "barcode": "DI000003", "result": "abnormal" },
        ] }),
    );
    assert_eq!(r.status, 200, "{}", r.body);

    let leader_pw = format!("{}-changed", s.leader_pw);
    let token = srv.login("leader", &s.leader_pw);
    let leader = srv.with_token(&token);
    let read = |leader: &crate::harness::Client<'_>| -> Vec<(String, bool)> {
        let v = leader
            .get(&format!("/api/v1/rounds/{round}/disinfection"))
            .json();
        v["tasks"]
            .as_array()
            .unwrap_or_else(|| panic!("{v}"))
            .iter()
            .map(|t| {
                (
                    t["point_name"].as_str().unwrap().to_string(),
                    t["may_mark_done"].as_bool().unwrap(),
                )
            })
            .collect()
    };
    // The point in the leader's compound: read, not theirs to mark done.
    assert_eq!(read(&leader), vec![("鸿城小区南门".to_string(), false)]);
    let page = Browser::login(srv, "leader", &leader_pw);
    let alerts = page.get(&format!("/rounds/{round}/alerts"));
    assert_eq!(alerts.status, 200, "{}", alerts.body);
    let section = |barcode: &str| {
        let at = alerts
            .body
            .find(&format!("{barcode} <span"))
            .unwrap_or_else(|| panic!("{barcode} in {}", alerts.body));
        let rest = &alerts.body[at..];
        rest[..rest.find("</section>").unwrap()].to_string()
    };
    let mine_said = section("DI000001");
    assert!(
        mine_said.contains("消杀未完成") && !mine_said.contains("不在您的辖区内"),
        "{mine_said}"
    );
    assert!(section("DI000002").contains("采样点不在您的辖区内"));
    assert!(section("DI000003").contains("采样点不在您的辖区内"));
    let tasks = page.get(&format!("/rounds/{round}/disinfection"));
    assert!(tasks.body.contains("鸿城小区南门"), "{}", tasks.body);
    assert!(
        tasks.body.contains("由采样点负责人标记完成"),
        "{}",
        tasks.body
    );
    assert!(
        !tasks.body.contains(r#"action="/disinfection/"#),
        "{}",
        tasks.body
    );
    // Marking it done stays the point's manager's and the street's.
    let task = c
        .get(&format!("/api/v1/rounds/{round}/disinfection"))
        .json()["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["point_name"] == "鸿城小区南门")
        .unwrap()["task"]
        .as_str()
        .unwrap()
        .to_string();
    let refused = leader.post(&format!("/api/v1/disinfection/{task}/done"), &json!({}));
    assert_eq!(refused.status, 403, "{}", refused.body);
    let done = c.post(&format!("/api/v1/disinfection/{task}/done"), &json!({}));
    assert_eq!(done.status, 200, "{}", done.body);
    let alerts = page.get(&format!("/rounds/{round}/alerts"));
    assert!(alerts.body.contains("消杀已完成"), "{}", alerts.body);

    // The other compound spread over the leader's grid too: read.
    exec(
        &store,
        &format!("INSERT INTO building (street_id, id, compound_id, grid_id, name) SELECT {street}, MAX(id) + 1, {other}, {grid}, '10号楼' FROM building"),
    )
    .await;
    let names: Vec<String> = read(&leader).into_iter().map(|t| t.0).collect();
    assert_eq!(names, vec!["鸿城小区南门", "别的小区门口"]);

    // The point outside compounds: read once its plan calls a building of
    // the leader's grid to it.
    let (building, unit) = {
        let r = query_strings(
            &store,
            &format!("SELECT CAST(b.id AS TEXT) || ':' || CAST(u.id AS TEXT) FROM building b JOIN unit u ON u.street_id = b.street_id AND u.building_id = b.id \
                      WHERE b.street_id = {street} AND b.grid_id = {grid} ORDER BY u.id LIMIT 1"),
        )
        .await;
        let (b, u) = r[0].split_once(':').unwrap();
        (b.to_string(), u.to_string())
    };
    let (rs, rid) = round.split_once('-').unwrap();
    let (_, pid) = outside.split_once('-').unwrap();
    exec(
        &store,
        &format!("INSERT INTO schedule_plan (street_id, round_id, anchor_ms, slot_ms, until_ms, max_queue, revision, planned_by, planned_ms) VALUES ({rs}, {rid}, 0, 1800000, 3600000, 30, 1, 'test', 0)"),
    )
    .await;
    exec(
        &store,
        &format!("INSERT INTO schedule_call (street_id, round_id, point_id, starts_ms, ends_ms, building_id, unit_id, people, revision) VALUES ({rs}, {rid}, {pid}, 0, 1800000, {building}, {unit}, 10, 1)"),
    )
    .await;
    let names: Vec<String> = read(&leader).into_iter().map(|t| t.0).collect();
    assert_eq!(names, vec!["鸿城小区南门", "别的小区门口", "广场采样点"]);
}
