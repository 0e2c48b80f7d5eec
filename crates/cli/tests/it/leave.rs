//! People who leave: a death or a move out of the street recorded in the
//! registry (carried over to later rounds, undone if mistaken), and someone
//! who moves out of a round's communities mid-round (no miss of their old grid).

use serde_json::{json, Value};

use crate::harness::{open_round, residents_with_codes, round_body, Server, TestEnv};

struct World {
    env: TestEnv,
    srv: Server,
    street: i64,
    residents: Vec<String>,
}

async fn world() -> World {
    let env = TestEnv::new().await;
    env.cli_ok(&["demo", "--residents", "2500", "--seed", "11", "--no-serve"]);
    let pw = env.account("chief", "street_commander", &["--street", "鸿城街道"]);
    let mut srv = env.serve();
    srv.token = Some(srv.login("chief", &pw));
    let store = env.store().await;
    let street = store.streets().await.unwrap()[0].id;
    let residents = residents_with_codes(|p| srv.get(p), "limit=1000")
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    World {
        env,
        srv,
        street,
        residents,
    }
}

fn open(w: &World, name: &str, communities: &[i64]) -> (String, i64) {
    let mut body = round_body(w.street, name);
    if !communities.is_empty() {
        body["communities"] = json!(communities
            .iter()
            .map(|c| format!("{}-{c}", w.street))
            .collect::<Vec<_>>());
    }
    let (id, opened) = open_round(|p, b| w.srv.post(p, b), &body);
    (id, opened["expected"].as_i64().unwrap())
}

fn coverage(w: &World, round: &str, q: &str) -> Value {
    let r = w.srv.get(&format!("/api/v1/rounds/{round}/coverage?{q}"));
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

/// expected = sampled + exempt + missed + moved_out, on the totals and every row.
fn adds_up(v: &Value) {
    let sum = |x: &Value| {
        x["sampled"].as_i64().unwrap()
            + x["exempt"].as_i64().unwrap()
            + x["missed"].as_i64().unwrap()
            + x["moved_out"].as_i64().unwrap()
    };
    assert_eq!(v["expected"].as_i64().unwrap(), sum(v), "{v}");
    for r in v["rows"].as_array().unwrap() {
        assert_eq!(r["expected"].as_i64().unwrap(), sum(r), "{r}");
    }
}

#[tokio::test]
async fn a_death_recorded_by_an_exemption_carries_over_and_can_be_undone() {
    let w = world().await;
    let dead = w.residents[3].clone();
    let (r1, expected1) = open(&w, "第一轮", &[]);
    let x = w.srv.post(
        &format!("/api/v1/rounds/{r1}/exemptions"),
        &json!({ "resident": dead, "reason": "deceased" }),
    );
    assert_eq!(x.status, 200, "{}", x.body);
    // The registry now says so.
    let v = w.srv.get(&format!("/api/v1/residents/{dead}")).json();
    assert_eq!(v["status"], "left", "{v}");
    assert_eq!(v["left_reason"], "deceased", "{v}");
    // The next round does not expect them: not missed, not exempted again.
    let (r2, expected2) = open(&w, "第二轮", &[]);
    assert_eq!(expected2, expected1 - 1);
    let c2 = coverage(&w, &r2, "by=community");
    assert_eq!(c2["missed"], expected2, "{c2}");
    assert_eq!(c2["exempt"], 0, "{c2}");
    adds_up(&c2);
    // Their household's page shows them as left, with the form to undo.
    let household = v["household"].as_str().unwrap().to_string();
    let page = w.srv.get(&format!("/households/{household}")).body;
    assert!(page.contains("已离世"), "{page}");
    assert!(page.contains(r#"action="/households/"#) && page.contains("/leave\""));

    // Someone moving out of the street mid-round (CLI): exempt in the open
    // rounds, not missed.
    let mover = w.residents[10].clone();
    let out = w.env.cli_ok(&[
        "resident",
        "leave",
        &mover,
        "--reason",
        "moved_out",
        "--on",
        "2020-01-02",
    ]);
    assert!(out.contains("已登记离开"), "{out}");
    let c2 = coverage(&w, &r2, "by=community");
    assert_eq!(c2["exempt"], 1, "{c2}");
    assert_eq!(c2["missed"], expected2 - 1, "{c2}");
    let v = w.srv.get(&format!("/api/v1/residents/{mover}")).json();
    assert_eq!(v["left_on"], "2020-01-02", "{v}");
    // Recorded twice: refused.
    let again = w.srv.post(
        &format!("/api/v1/residents/{mover}/leave"),
        &json!({ "reason": "deceased" }),
    );
    assert_eq!(again.status, 409, "{}", again.body);
    // A mistake undone (API): active again, the exemption lifted, missed again.
    let undo = w.srv.post(
        &format!("/api/v1/residents/{mover}/leave"),
        &json!({ "reason": "none" }),
    );
    assert_eq!(undo.status, 200, "{}", undo.body);
    assert_eq!(undo.json()["status"], "active");
    let c2 = coverage(&w, &r2, "by=community");
    assert_eq!(c2["exempt"], 0, "{c2}");
    assert_eq!(c2["missed"], expected2, "{c2}");
    let undo = w.srv.post(
        &format!("/api/v1/residents/{dead}/leave"),
        &json!({ "reason": "none" }),
    );
    assert_eq!(undo.status, 200, "{}", undo.body);
    let v = w.srv.get(&format!("/api/v1/residents/{dead}")).json();
    assert_eq!(v["status"], "active", "{v}");
}

/// Found by a review acting as the old grid's leader: someone who moved out
/// of the round's communities mid-round stayed missed in their old grid's
/// figure while its list left them out. Now they are counted apart
/// (moved_out), the figure and the list agree, and every level adds up.
#[tokio::test]
async fn moving_out_of_the_rounds_communities_is_no_miss_of_the_old_grid() {
    let w = world().await;
    // A second community of the street, from the project's sample roster.
    let sample = w.env.path("3号楼.xlsx");
    let s = sample.display().to_string();
    let out = std::process::Command::new(crate::harness::BIN)
        .args(["sample", "roster", "--out", &s])
        .output()
        .unwrap();
    assert!(out.status.success());
    let (ok, v, e) = w.env.import_json(
        &sample,
        &["--community", "伊水社区", "--street", "鸿城街道"],
    );
    assert!(ok, "{v} {e}");
    let store = w.env.store().await;
    let q = |sql: String| {
        let store = &store;
        async move { crate::harness::query_strings(store, &sql).await }
    };
    let community_of = |name: &str| {
        format!(
            "SELECT CAST(id AS TEXT) FROM community WHERE street_id = {} AND name = '{name}'",
            w.street
        )
    };
    let c1: i64 = q(community_of("东风社区")).await[0].parse().unwrap();
    let c2: i64 = q(community_of("伊水社区")).await[0].parse().unwrap();
    assert_ne!(c1, c2);
    // The round covers 东风社区 only.
    let (r, expected) = open(&w, "东风社区轮", &[c1]);
    let missed = |q: &str| w.srv.get(&format!("/api/v1/rounds/{r}/missed?{q}")).json();
    let inside = missed(&format!("community={}-{c1}", w.street));
    let mover = inside["items"][0]["id"].as_str().unwrap().to_string();
    let v = w.srv.get(&format!("/api/v1/residents/{mover}")).json();
    let home = v["household"].as_str().unwrap().to_string();
    let mover_id = mover.split('-').nth(1).unwrap().to_string();
    let grid: i64 = q(format!(
        "SELECT CAST(b.grid_id AS TEXT) FROM resident r JOIN household h ON h.id = r.household_id JOIN unit u ON u.id = h.unit_id \
         JOIN building b ON b.id = u.building_id WHERE r.id = {mover_id}"
    ))
    .await[0]
    .parse()
    .unwrap();
    let g = format!("grid={}-{grid}", w.street);
    // Someone else of the grid exempt, so the sum has more than one term.
    let other = missed(&g)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap().to_string())
        .find(|id| *id != mover)
        .unwrap();
    let x = w.srv.post(
        &format!("/api/v1/rounds/{r}/exemptions"),
        &json!({ "resident": other, "reason": "in_hospital" }),
    );
    assert_eq!(x.status, 200, "{}", x.body);
    // The old grid's leader.
    let code = store.grid(w.street, grid).await.unwrap().code.unwrap();
    let pw = w.env.account("gl", "grid_leader", &["--grid", &code]);
    let token = w.srv.login("gl", &pw);
    let gl = w.srv.with_token(&token);
    let gl_cov = |q: &str| {
        let r = gl.get(&format!("/api/v1/rounds/{r}/coverage?{q}"));
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()
    };
    let before = gl_cov(&format!("by=grid&{g}"));

    let household = format!(
        "{}-{}",
        w.street,
        q(format!(
            "SELECT CAST(MIN(h.id) AS TEXT) FROM household h JOIN unit u ON u.id = h.unit_id \
             JOIN building b ON b.id = u.building_id JOIN grid g ON g.id = b.grid_id WHERE g.community_id = {c2}"
        ))
        .await[0]
    );
    w.env
        .cli_ok(&["resident", "move", &mover, "--household", &household]);

    // As the old grid's leader: not listed, not missed, counted apart; the
    // missed figure is the list's length.
    let m = gl.get(&format!("/api/v1/rounds/{r}/missed?{g}")).json();
    let items = m["items"].as_array().unwrap();
    assert!(!items.iter().any(|x| x["id"] == mover.as_str()), "{m}");
    let cg = gl_cov(&format!("by=grid&{g}"));
    assert_eq!(cg["missed"].as_i64().unwrap(), items.len() as i64, "{cg}");
    assert_eq!(
        cg["missed"].as_i64().unwrap(),
        before["missed"].as_i64().unwrap() - 1,
        "{cg}"
    );
    assert_eq!(cg["expected"], before["expected"], "{cg}");
    assert_eq!(cg["exempt"], 1, "{cg}");
    assert_eq!(m["moved_away"], 0, "{m}");
    assert_eq!(m["moved_out"], 1, "{m}");
    assert_eq!(cg["moved_out"], 1, "{cg}");
    adds_up(&cg);
    let cb = gl_cov(&format!("by=building&{g}"));
    assert_eq!(cb["moved_out"], 1, "{cb}");
    adds_up(&cb);
    // The missed page says it, and not where they went (the leader may not
    // read 伊水社区), nor that they are another grid's to follow up.
    let page = gl.get(&format!("/rounds/{r}/missed?{g}")).body;
    assert!(
        page.contains("开轮后迁出本轮范围 1 人，不算本处漏检"),
        "{page}"
    );
    assert!(page.contains("其中 1 人的现住址您无权查看"), "{page}");
    assert!(!page.contains("伊水社区"), "{page}");
    assert!(!page.contains("已迁往其他网格"), "{page}");
    // The street sees where they went.
    let page = w.srv.get(&format!("/rounds/{r}/missed?{g}")).body;
    let said = page
        .split(r#"id="moved-out">"#)
        .nth(1)
        .expect("the moved-out line");
    let said = &said[..said.find("</p>").unwrap()];
    assert!(said.contains("伊水社区"), "{said}");
    assert!(!said.contains("无权查看"), "{said}");
    // Street, community, grid, building: all add up, expected unchanged.
    for by in ["community", "grid", "building"] {
        let c = coverage(&w, &r, &format!("by={by}"));
        assert_eq!(c["expected"], expected, "{c}");
        assert_eq!(c["moved_out"], 1, "{c}");
        assert_eq!(c["exempt"], 1, "{c}");
        adds_up(&c);
    }
    // The command line says it too.
    let out = w
        .env
        .cli_ok(&["round", "coverage", &r, "--by", "community"]);
    assert!(out.contains("开轮后迁出本轮范围 moved out 1"), "{out}");
    let out = w.env.cli_ok(&[
        "round",
        "missed",
        &r,
        "--grid",
        &format!("{}-{grid}", w.street),
    ]);
    assert!(out.contains("开轮后迁出本轮范围 1 人"), "{out}");
    // Moving back in: missed again in the old grid.
    w.env
        .cli_ok(&["resident", "move", &mover, "--household", &home]);
    let c = coverage(&w, &r, "by=community");
    assert_eq!(c["moved_out"], 0, "{c}");
    adds_up(&c);
    let cg = gl_cov(&format!("by=grid&{g}"));
    assert_eq!(cg["missed"], before["missed"], "{cg}");
    let m = gl.get(&format!("/api/v1/rounds/{r}/missed?{g}")).json();
    assert_eq!(m["moved_out"], 0, "{m}");
    assert!(m["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["id"] == mover.as_str()));
}
