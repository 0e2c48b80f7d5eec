//! Lowering the largest pool the lab accepts below what a round still
//! sampling pools is said, on both backends: the API's answer (and its
//! reading later) and the command line warn, naming the round; the limit
//! holds for new rounds.

use serde_json::json;

use crate::harness::{open_round, round_body, TestEnv};

#[tokio::test]
async fn a_lab_limit_below_an_open_rounds_pool_is_warned_of() {
    let env = TestEnv::new().await;
    env.cli_ok(&["demo", "--residents", "800", "--seed", "7", "--no-serve"]);
    let pw = env.account("chief", "street_commander", &["--street", "鸿城街道"]);
    let mut srv = env.serve();
    srv.token = Some(srv.login("chief", &pw));
    let store = env.store().await;
    let street = store.streets().await.unwrap()[0].id;
    // Pools of 10, open; a closed round of 20 is no matter.
    let (_round, _) = open_round(|p, b| srv.post(p, b), &round_body(street, "第2轮全员核酸"));
    let path = format!("/api/v1/streets/{street}/testing-settings");

    let same = srv.post(&path, &json!({ "lab_max_pool": 10 }));
    assert_eq!(same.status, 200, "{}", same.body);
    assert_eq!(same.json()["warnings"], json!([]), "{}", same.body);

    let lower = srv.post(&path, &json!({ "lab_max_pool": 5 }));
    assert_eq!(lower.status, 200, "{}", lower.body);
    let w = lower.json()["warnings"].clone();
    let w = w.as_array().unwrap();
    assert_eq!(w.len(), 1, "{}", lower.body);
    let w = w[0].as_str().unwrap();
    assert!(
        w.starts_with("「第2轮全员核酸」（采样中）每管 10 人，超过化验室上限 5"),
        "{w}"
    );
    assert!(
        w.contains("pools 10 to a tube, more than the lab's limit of 5"),
        "{w}"
    );
    // Read again later: still said.
    let read = srv.get(&path);
    assert_eq!(
        read.json()["warnings"].as_array().unwrap().len(),
        1,
        "{}",
        read.body
    );
    // A new round pooling more than the lab takes is refused, as before.
    let new = srv.post("/api/v1/rounds", &round_body(street, "第3轮"));
    assert_eq!(new.status, 400, "{}", new.body);

    // The command line says it under its line.
    let out = env.cli_ok(&["round", "settings", "--street", "鸿城街道"]);
    assert!(out.contains("注意 warning: 「第2轮全员核酸」"), "{out}");
    assert!(out.ends_with('\n'), "{out:?}");
}
