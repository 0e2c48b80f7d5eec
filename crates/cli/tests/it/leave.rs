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

#[tokio::test]
#[ignore = "the demo street at this size has households in one community only: needs a second community set up"]
async fn moving_out_of_the_rounds_communities_is_no_miss_of_the_old_grid() {
    let w = world().await;
    let store = w.env.store().await;
    let q = |sql: String| {
        let store = &store;
        async move { crate::harness::query_strings(store, &sql).await }
    };
    // The community of the first resident (the round covers it) and another
    // one with households.
    let cs = q(format!(
        "SELECT CAST(g.community_id AS TEXT) FROM household h JOIN unit u ON u.id = h.unit_id \
         JOIN building b ON b.id = u.building_id JOIN grid g ON g.id = b.grid_id WHERE h.street_id = {} \
         GROUP BY g.community_id ORDER BY MIN(CASE WHEN EXISTS (SELECT 1 FROM resident r WHERE r.household_id = h.id) THEN 0 ELSE 1 END), g.community_id",
        w.street
    ))
    .await;
    assert!(cs.len() >= 2, "{cs:?}");
    let (c1, c2): (i64, i64) = (cs[0].parse().unwrap(), cs[1].parse().unwrap());
    let (r, expected) = open(&w, "东风社区轮", &[c1]);
    let missed = |q: &str| w.srv.get(&format!("/api/v1/rounds/{r}/missed?{q}")).json();
    let inside = missed(&format!("community={}-{c1}", w.street));
    let mover = inside["items"][0]["id"].as_str().unwrap().to_string();
    let v = w.srv.get(&format!("/api/v1/residents/{mover}")).json();
    let mover_id = mover.split('-').nth(1).unwrap().to_string();
    let grid = q(format!(
        "SELECT CAST(b.grid_id AS TEXT) FROM resident r JOIN household h ON h.id = r.household_id JOIN unit u ON u.id = h.unit_id \
         JOIN building b ON b.id = u.building_id WHERE r.id = {mover_id}"
    ))
    .await[0]
    .clone();
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
    // The old grid: not missed there, counted apart; the figures add up at
    // every level.
    let g = format!("grid={}-{grid}", w.street);
    let m = missed(&g);
    let listed = m["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["id"] == mover.as_str());
    assert!(!listed, "{m}");
    assert_eq!(m["moved_out"], 1, "{m}");
    let cg = coverage(&w, &r, &format!("by=grid&{g}"));
    assert_eq!(cg["moved_out"], 1, "{cg}");
    adds_up(&cg);
    for by in ["community", "grid", "building"] {
        let c = coverage(&w, &r, &format!("by={by}"));
        assert_eq!(c["expected"], expected, "{c}");
        assert_eq!(c["moved_out"], 1, "{c}");
        adds_up(&c);
    }
    let page = w.srv.get(&format!("/rounds/{r}/missed?{g}&page=999")).body;
    assert!(page.contains("开轮后迁出本轮范围 1 人"), "{page}");
    // Moving back in: missed again.
    let home = v["household"].as_str().unwrap().to_string();
    w.env
        .cli_ok(&["resident", "move", &mover, "--household", &home]);
    let c = coverage(&w, &r, "by=community");
    assert_eq!(c["moved_out"], 0, "{c}");
    adds_up(&c);
}
