//! Requests the server cannot extract (found by schema fuzzing, see
//! scripts/schema-fuzz): every API error is JSON `{code, message}` with a
//! status the OpenAPI document lists, never plain text and never a 5xx.

use serde_json::{json, Value};

use crate::harness::{Response, TestEnv};

fn assert_error(r: &Response, status: u16, code: &str) {
    assert_eq!(r.status, status, "{}\n{}", r.head, r.body);
    assert!(
        r.head
            .to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{}",
        r.head
    );
    let v: Value = r.json();
    assert_eq!(v["code"], code, "{v}");
    assert!(!v["message"].as_str().unwrap().is_empty(), "{v}");
}

#[tokio::test]
async fn rejected_requests_answer_json_errors_as_documented() {
    let env = TestEnv::new().await;
    env.cli_ok(&["demo", "--residents", "300", "--no-serve"]);
    let pw = env.account("boss", "admin", &["--city"]);
    let mut srv = env.serve();
    srv.token = Some(srv.login("boss", &pw));
    let auth = format!("Authorization: Bearer {}\r\n", srv.token.clone().unwrap());
    let raw = |method: &str, path: &str, headers: &str, body: &str| {
        srv.raw(&format!(
            "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{auth}{headers}Content-Length: {}\r\n\r\n{body}",
            body.len()
        ))
    };

    // A body that is not JSON at all.
    let r = raw(
        "POST",
        "/api/v1/rounds",
        "Content-Type: application/json\r\n",
        "{not json",
    );
    assert_error(&r, 400, "bad_request");
    // No JSON content type.
    let r = raw("POST", "/api/v1/rounds", "", "{}");
    assert_error(&r, 415, "unsupported_media_type");
    let r = srv.post_bytes("/api/v1/login", "text/plain", b"x");
    assert_error(&r, 415, "unsupported_media_type");
    // JSON of the wrong shape.
    let r = srv.post("/api/v1/rounds", &json!({ "street": "one" }));
    assert_error(&r, 422, "invalid_body");
    let r = srv.anonymous().post(
        "/api/v1/login",
        &json!({ "username": 1.5e119, "password": "x" }),
    );
    assert_error(&r, 422, "invalid_body");
    // A query string or path segment that does not parse.
    let r = srv.get("/api/v1/residents?street=null");
    assert_error(&r, 400, "bad_request");
    let r = srv.get("/api/v1/streets/null,null/rounds");
    assert_error(&r, 400, "bad_request");
    // Unknown ids are 404, malformed ids 400.
    let r = srv.get("/api/v1/rounds/1-999999/coverage");
    assert_error(&r, 404, "not_found");
    let r = srv.get("/api/v1/residents/abc");
    assert_error(&r, 400, "bad_request");
    // A method the route does not have keeps its Allow header.
    let r = raw("DELETE", "/api/v1/territory", "", "");
    assert_error(&r, 405, "method_not_allowed");
    assert!(
        r.head.to_ascii_lowercase().contains("allow: get"),
        "{}",
        r.head
    );
    // Pages keep answering as pages.
    let r = raw("DELETE", "/login", "", "");
    assert_eq!(r.status, 405);
    assert!(!r.head.contains("application/json"), "{}", r.head);

    // Text with a NUL character (PostgreSQL text cannot hold one): a clear
    // 400 there, never 503 "database unavailable".
    let r = srv.get("/api/v1/residents/search?q=%7B%18%C3%B1x%00");
    assert!(r.status == 200 || r.status == 400, "{}", r.body);
    if env.backend == "postgres" {
        assert_error(&r, 400, "bad_request");
    }
    let street: i64 = srv.get("/api/v1/territory").json()["streets"][0]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let r = srv.post("/api/v1/rounds", &json!({ "street": street, "name": "全员\u{0}核酸", "starts_ms": 0, "ends_ms": 4_102_444_800_000_i64, "pool_size": 10 }));
    // A NUL is refused on both backends before anything reads it.
    assert_error(&r, 400, "nul_character");

    // The document lists these statuses for every operation with a JSON body.
    let doc = srv.get("/api/v1/openapi.json").json();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            if op["requestBody"]["content"]["application/json"].is_object() {
                for status in ["400", "415", "422"] {
                    assert!(
                        op["responses"][status].is_object(),
                        "{method} {path} does not document {status}"
                    );
                }
            }
        }
    }
}
