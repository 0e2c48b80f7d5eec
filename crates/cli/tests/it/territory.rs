//! The territory's own upkeep: a building a roster brought in waits in its
//! community's 未分配网格 until the community places it in a grid, which
//! takes its residents there for the grid's leader.

use gw_app::fixtures;
use serde_json::json;

use crate::harness::TestEnv;

#[tokio::test]
async fn a_building_a_roster_brought_in_is_placed_in_a_grid_by_its_community() {
    let env = TestEnv::new().await;
    let store = env.store().await;
    let (s, _, grid) = crate::harness::dongfeng(&store).await;
    let other_c = store.ensure_community(s, "西湖社区", None).await.unwrap();
    let other_grid = store
        .ensure_grid(s, other_c, "第9网格", None, false)
        .await
        .unwrap();
    let rows = vec![
        ["姓名", "联系电话", "楼栋", "单元", "房号"]
            .map(String::from)
            .to_vec(),
        ["王大爷", "13812345678", "8", "1", "301"]
            .map(String::from)
            .to_vec(),
        ["李奶奶", "13812345679", "8", "1", "302"]
            .map(String::from)
            .to_vec(),
    ];
    let file = env.path("8号楼.csv");
    fixtures::write_csv_utf8(&file, &rows, true).unwrap();
    let (ok, v, e) = env.import_json(&file, &["--community", "东风社区"]);
    assert!(ok, "{v} {e}");
    let imported = store
        .residents(&gw_store::registry::ResidentFilter {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(imported.len(), 2);
    assert!(imported
        .iter()
        .all(|r| r.grid.as_deref() == Some(gw_app::import::UNASSIGNED_GRID)));
    let building = format!("{s}-{}", imported[0].building_id.unwrap());

    let secretary = env.account(
        "sec",
        "community_secretary",
        &["--street", "鸿城街道", "--community", "东风社区"],
    );
    let leader = env.account(
        "gl3",
        "grid_leader",
        &[
            "--street",
            "鸿城街道",
            "--community",
            "东风社区",
            "--grid",
            "第3网格",
        ],
    );
    let chief = env.account("chief", "street_commander", &["--street", "鸿城街道"]);
    let srv = env.serve();
    let sec = srv.login("sec", &secretary);
    let gl = srv.login("gl3", &leader);
    // A round opens while the building is in no grid.
    let chief = srv.with_token(&srv.login("chief", &chief));
    let (round, _) = crate::harness::open_round(
        |path, body| chief.post(path, body),
        &crate::harness::round_body(s, "全员核酸"),
    );
    let seen_by_leader = || {
        srv.with_token(&gl).get("/api/v1/residents?limit=10").json()["items"]
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(
        seen_by_leader(),
        0,
        "in no grid yet: no grid leader reaches them"
    );
    // Not a grid leader's to decide; not into another community's grid.
    let ask = |token: &str, g: String| {
        srv.with_token(token).post(
            &format!("/api/v1/buildings/{building}/grid"),
            &json!({ "grid": g }),
        )
    };
    assert_eq!(ask(&gl, format!("{s}-{grid}")).status, 403);
    let wrong = ask(&sec, format!("{s}-{other_grid}"));
    assert_eq!(wrong.status, 409, "{}", wrong.body);
    assert!(wrong.body.contains("not in building"), "{}", wrong.body);
    assert_eq!(seen_by_leader(), 0);
    // The secretary places it: its residents go with it.
    let placed = ask(&sec, format!("{s}-{grid}"));
    assert_eq!(placed.status, 200, "{}", placed.body);
    assert_eq!(placed.json()["grid_name"], "第3网格", "{}", placed.body);
    assert_eq!(seen_by_leader(), 2);
    // Placed after the opening (no resident changed): the grid's missed
    // list has them, as moved in (the snapshot counts them where they were).
    let missed = srv
        .with_token(&gl)
        .get(&format!("/api/v1/rounds/{round}/missed?grid={s}-{grid}"))
        .json();
    let moved_in: Vec<&str> = missed["moved_in"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(moved_in.len(), 2, "{missed}");
    // The building's page says where it is and offers the move to the
    // secretary only.
    let page = |token: &str| {
        srv.with_token(token)
            .get(&format!("/buildings/{building}"))
            .body
    };
    assert!(page(&sec).contains(r#"id="assign-grid""#));
    // Sealed while in no grid: the page says both.
    env.cli_ok(&[
        "control", "set", "--kind", "building", "--id", &building, "--status", "sealed",
        "--reason", "密接",
    ]);
    env.cli_ok(&[
        "building",
        "grid",
        &building,
        "--grid",
        gw_app::import::UNASSIGNED_GRID,
    ]);
    let both = page(&sec);
    assert!(
        both.contains("未分配网格") && both.contains(r#"data-control="sealed""#),
        "{both}"
    );
    env.cli_ok(&["building", "grid", &building, "--grid", "第3网格"]);
    assert!(!page(&gl).contains(r#"id="assign-grid""#));
    // From the command line, by the grid's name within the community: back
    // to where it was; audited every time (twice more for the seal's look).
    let out = env.cli_ok(&[
        "building",
        "grid",
        &building,
        "--grid",
        gw_app::import::UNASSIGNED_GRID,
    ]);
    assert!(out.contains("第3网格 → 未分配网格"), "{out}");
    assert_eq!(seen_by_leader(), 0);
    // Flags by hand, from the command line and the household's page.
    let rid = format!("{s}-{}", imported[0].id);
    let out = env.cli_ok(&[
        "resident",
        "flags",
        &rid,
        "--set",
        "cannot_go_downstairs",
        "--set",
        "pregnant",
    ]);
    assert!(
        out.contains("cannot_go_downstairs") && !out.contains("pregnant"),
        "{out}"
    );
    let hh = format!("{s}-{}", imported[0].household_id.unwrap());
    let form = format!("resident={rid}&flag=cannot_go_downstairs&op=clear");
    let page_post = srv.raw(&format!(
        "POST /households/{hh}/flags HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {sec}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
        form.len()
    ));
    assert_eq!(page_post.status, 303, "{}", page_post.body);
    let r = store.resident(s, imported[0].id).await.unwrap();
    assert!(
        !r.resident
            .flags
            .has(gw_domain::resident::Flag::CannotGoDownstairs)
            && r.resident.flags.has(gw_domain::resident::Flag::Pregnant)
    );
    assert!(srv
        .with_token(&sec)
        .get(&format!("/households/{hh}"))
        .body
        .contains(r#"id="flags""#));
    // A grid leader moves people within reach only: not into a household of
    // a building in no grid (the community's).
    let rows9 = vec![
        ["姓名", "联系电话", "楼栋", "单元", "房号"]
            .map(String::from)
            .to_vec(),
        ["赵九", "13812345670", "9", "1", "101"]
            .map(String::from)
            .to_vec(),
    ];
    let file9 = env.path("9号楼.csv");
    fixtures::write_csv_utf8(&file9, &rows9, true).unwrap();
    let (ok, v, e) = env.import_json(&file9, &["--community", "东风社区", "--grid", "第3网格"]);
    assert!(ok, "{v} {e}");
    let zhao = store
        .residents(&gw_store::registry::ResidentFilter {
            name: Some("赵九".into()),
            limit: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .remove(0);
    let out_of_reach = srv.with_token(&gl).post(
        &format!("/api/v1/residents/{s}-{}/move", zhao.id),
        &json!({ "household": hh }),
    );
    assert_eq!(out_of_reach.status, 403, "{}", out_of_reach.body);
    assert_eq!(
        store.resident(s, zhao.id).await.unwrap().household_id,
        zhao.household_id
    );
    let events = store.audit_events(None, None, None, 50).await.unwrap();
    assert_eq!(
        events
            .iter()
            .filter(|e| e.action == "assign_building" && e.target_id == building)
            .count(),
        4,
        "{events:?}"
    );
    // From the household's page: the secretary moves 赵九 into the household
    // above (typed as another building's number); the page offers the form
    // with this building's other households; a move into the household one
    // lives in already is refused in words, and nothing moves.
    let zhao_id = format!("{s}-{}", zhao.id);
    let zhao_hh = format!("{s}-{}", zhao.household_id.unwrap());
    let zhao_page = srv
        .with_token(&sec)
        .get(&format!("/households/{zhao_hh}"))
        .body;
    assert!(
        zhao_page.contains(r#"id="move""#) && zhao_page.contains(&format!(r#"value="{zhao_id}""#)),
        "{zhao_page}"
    );
    let page_move = |who: &str, form: String| {
        srv.raw(&format!(
            "POST /households/{zhao_hh}/move HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {who}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
            form.len()
        ))
    };
    let same = page_move(
        &sec,
        format!("resident={zhao_id}&household={zhao_hh}&other="),
    );
    assert_eq!(same.status, 400, "{}", same.body);
    assert!(same.body.contains("已经在户"), "{}", same.body);
    let none = page_move(&sec, format!("resident={zhao_id}&household=&other=+"));
    assert_eq!(none.status, 400, "{}", none.body);
    assert!(none.body.contains("请选择迁往的户"), "{}", none.body);
    let moved = page_move(&sec, format!("resident={zhao_id}&household=&other={hh}"));
    assert_eq!(moved.status, 303, "{}", moved.body);
    assert_eq!(
        store.resident(s, zhao.id).await.unwrap().household_id,
        imported[0].household_id
    );
    assert!(store
        .audit_events(None, None, None, 5)
        .await
        .unwrap()
        .iter()
        .any(|e| e.action == "move_resident" && e.target_id == zhao_id));
    // The grid leader's view of a household in no grid offers no form.
    assert!(!srv
        .with_token(&gl)
        .get(&format!("/households/{hh}"))
        .body
        .contains(r#"id="move""#));
}
