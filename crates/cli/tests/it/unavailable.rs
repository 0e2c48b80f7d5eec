//! The database failing under a logged-in user (here: the sessions' table
//! gone for a moment, on either backend). A page answers with the error
//! page (HTML, 503, its code in a meta tag) in the reader's language, not
//! the API's JSON; the API answers JSON. Once the table is back the same
//! session works again: nothing was lost.

use crate::harness::{exec, TestEnv};

#[tokio::test]
async fn a_database_failure_while_authenticating_answers_a_page_as_a_page() {
    let env = TestEnv::new().await;
    env.cli_ok(&["demo", "--residents", "60", "--seed", "3", "--no-serve"]);
    let pw = env.account("chief", "street_commander", &["--street", "鸿城街道"]);
    let srv = env.serve();
    let token = srv.login("chief", &pw);
    let page = |path: &str| {
        srv.raw(&format!(
            "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: gw_session={token}\r\n\r\n"
        ))
    };
    let before = page("/");
    assert_eq!(before.status, 200, "{}", before.body);

    let store = env.store().await;
    exec(
        &store,
        "ALTER TABLE user_session RENAME TO user_session_away",
    )
    .await;

    let down = page("/");
    assert_eq!(down.status, 503, "{}", down.body);
    let head = down.head.to_ascii_lowercase();
    assert!(head.contains("content-type: text/html"), "{}", down.head);
    assert!(
        down.body
            .contains(r#"<meta name="gw-error" content="storage_unavailable">"#),
        "{}",
        down.body
    );
    assert!(down.body.contains("数据库暂时不可用"), "{}", down.body);

    let api = srv.with_token(&token).get("/api/v1/territory");
    assert_eq!(api.status, 503, "{}", api.body);
    assert_eq!(api.json()["code"], "storage_unavailable");

    exec(
        &store,
        "ALTER TABLE user_session_away RENAME TO user_session",
    )
    .await;
    let back = page("/");
    assert_eq!(back.status, 200, "{}", back.body);
}
