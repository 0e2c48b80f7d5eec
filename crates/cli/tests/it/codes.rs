//! Personal codes end to end: issued by the server, verified, revoked by
//! reissue, keys rotated and retired, shown through the household link.

use serde_json::json;

use crate::harness::TestEnv;

fn verify(env: &TestEnv, code: &str) -> (bool, String) {
    let out = env.cli(&["codes", "verify", code]);
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test]
async fn codes_are_signed_revocable_and_rotate() {
    let env = TestEnv::new().await;
    env.cli_ok(&["demo", "--residents", "300", "--seed", "4", "--no-serve"]);
    let pw = env.account("chief", "street_commander", &["--street", "鸿城街道"]);
    let mut srv = env.serve();
    srv.token = Some(srv.login("chief", &pw));
    let first = srv.get("/api/v1/residents?limit=1").json()["items"][0].clone();
    let id = first["id"].as_str().unwrap().to_string();

    // The code carries no personal data and verifies to its resident.
    let c1 = srv.get(&format!("/api/v1/residents/{id}/code")).json();
    let code1 = c1["code"].as_str().unwrap().to_string();
    assert!(code1.starts_with("GW1-"), "{code1}");
    assert!(!code1.contains(first["name"].as_str().unwrap()));
    assert_eq!(
        verify(&env, &code1),
        (true, format!("有效 valid: 居民 resident {id}\n"))
    );
    // The same code every time until it is revoked.
    assert_eq!(
        srv.get(&format!("/api/v1/residents/{id}/code")).json()["code"],
        code1.as_str()
    );

    // A forged or mistyped signature is refused.
    let mut forged = code1.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    let (ok, msg) = verify(&env, &forged);
    assert!(!ok && msg.contains("signature"), "{msg}");
    assert!(!verify(&env, "220102199003071234").0);

    // Lost code: reissue revokes the old one.
    let c2 = srv
        .post(&format!("/api/v1/residents/{id}/code/reissue"), &json!({}))
        .json();
    let code2 = c2["code"].as_str().unwrap().to_string();
    assert_eq!(c2["generation"], 1);
    let (ok, msg) = verify(&env, &code1);
    assert!(!ok && msg.contains("revoked"), "{msg}");
    assert!(verify(&env, &code2).0);

    // Key rotation: old codes stay valid, new ones use the new key; retiring the old key ends them.
    let out = env.cli_ok(&["codes", "rotate-key"]);
    let new_key: i64 = out.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!(
        verify(&env, &code2).0,
        "a code signed with the old key still verifies"
    );
    let c3 = srv.get(&format!("/api/v1/residents/{id}/code")).json();
    assert_eq!(c3["key"], new_key);
    let code3 = c3["code"].as_str().unwrap().to_string();
    // The key new codes use is not retired (every code would stop at once):
    // refused, saying to rotate first; nothing changes.
    let refused = env.cli(&["codes", "retire-key", &new_key.to_string(), "--yes"]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("rotate first"),
        "{refused:?}"
    );
    assert!(verify(&env, &code3).0);
    // Without --yes it only tells how many residents were scanned with the
    // key's codes lately (none here), and nothing changes.
    let old_key = c2["key"].to_string();
    let preview = env.cli(&["codes", "retire-key", &old_key]);
    assert!(!preview.status.success());
    let said = String::from_utf8_lossy(&preview.stdout);
    assert!(said.contains("0 residents in 0 streets"), "{preview:?}");
    assert!(verify(&env, &code2).0, "a preview retired the key");
    let out = env.cli_ok(&["codes", "retire-key", &old_key, "--yes"]);
    assert!(out.contains("retired"), "{out}");
    let (ok, msg) = verify(&env, &code2);
    assert!(!ok && msg.contains("unknown or retired"), "{msg}");
    assert!(verify(&env, &code3).0);

    // The household link shows each member's current code (and masked names only).
    let hh = first["household"].as_str().unwrap();
    let link = srv
        .post(&format!("/api/v1/households/{hh}/link"), &json!({}))
        .json()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let view = srv
        .anonymous()
        .get(&format!("/api/v1/household-link/{link}"))
        .json();
    let members = view["members"].as_array().unwrap();
    assert!(
        members.iter().any(|m| m["code"] == code3.as_str()),
        "{view}"
    );
    assert!(members
        .iter()
        .all(|m| m["name"].as_str().unwrap().contains('*')));
    for m in members {
        assert!(verify(&env, m["code"].as_str().unwrap()).0);
    }

    // Reissuing is audited.
    let store = env.store().await;
    assert!(store
        .audit_events(Some("user:chief"), Some(&id), None, 10)
        .await
        .unwrap()
        .iter()
        .any(|e| e.action == "reissue_code"));

    // The same from the command line: a reissue revokes the code before it;
    // a household link is made and revoked.
    let code4 = env.cli_ok(&["codes", "reissue", &id]).trim().to_string();
    assert!(code4.starts_with("GW1-") && code4 != code3, "{code4}");
    let (ok, msg) = verify(&env, &code3);
    assert!(!ok && msg.contains("revoked"), "{msg}");
    assert_eq!(
        verify(&env, &code4),
        (true, format!("有效 valid: 居民 resident {id}\n"))
    );
    let path = env.cli_ok(&["codes", "link", hh]).trim().to_string();
    let token = path.strip_prefix("/h/").unwrap().to_string();
    let view = srv
        .anonymous()
        .get(&format!("/api/v1/household-link/{token}"))
        .json();
    assert!(
        view["members"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["code"] == code4.as_str()),
        "{view}"
    );
    let out = env.cli_ok(&["codes", "unlink", hh]);
    assert!(out.contains("revoked"), "{out}");
    let gone = srv
        .anonymous()
        .get(&format!("/api/v1/household-link/{token}"));
    assert_ne!(gone.status, 200, "{}", gone.body);
    assert!(store
        .audit_events(None, Some(&id), None, 20)
        .await
        .unwrap()
        .iter()
        .any(|e| e.action == "reissue_code" && e.actor.starts_with("cli:")));
}

#[tokio::test]
async fn retiring_a_key_first_tells_how_many_residents_still_use_its_codes() {
    let r = crate::testing::setup("40").await;
    let tube = crate::testing::tube(&r.srv, &r.points[0], "TB00000001");
    for (i, (_, code)) in r.codes.iter().take(3).enumerate() {
        crate::testing::scan(&r.srv, &tube, &format!("k{i}"), code);
    }
    // The same resident scanned twice is one resident.
    crate::testing::scan(&r.srv, &tube, "k9", &r.codes[0].1);
    let out = r.env.cli_ok(&["codes", "rotate-key"]);
    let new_key = out.split_whitespace().nth(1).unwrap().to_string();
    let old_key = r.codes[0].1.split('-').nth(3).unwrap().to_string();
    assert_ne!(old_key, new_key);
    // The preview counts them and changes nothing.
    let preview = r.env.cli(&["codes", "retire-key", &old_key]);
    assert!(!preview.status.success());
    let said = String::from_utf8_lossy(&preview.stdout);
    assert!(said.contains("3 residents in 1 streets"), "{said}");
    assert!(r
        .env
        .cli(&["codes", "verify", &r.codes[1].1])
        .status
        .success());
    // The key new codes use is refused before any count.
    let newest = r.env.cli(&["codes", "retire-key", &new_key]);
    assert!(
        String::from_utf8_lossy(&newest.stderr).contains("rotate first"),
        "{newest:?}"
    );
    let out = r.env.cli_ok(&["codes", "retire-key", &old_key, "--yes"]);
    assert!(
        out.contains("3 residents") && out.contains("retired"),
        "{out}"
    );
    assert!(!r
        .env
        .cli(&["codes", "verify", &r.codes[1].1])
        .status
        .success());
    assert!(out.contains("offline queue"), "{out}");
    // A station's offline queue arrives: a swab taken before the retirement
    // still counts for its person, flagged; one taken now names nobody.
    // (A server started now: a running one keeps the keys it read for a
    // few seconds.)
    let mut srv = r.env.serve();
    srv.token = r.srv.token.clone();
    let now = gw_app::Clock::System.now_ms();
    let swab = |client: &str, code: &str, scanned_ms: i64| {
        let a = srv.post(
            &format!("/api/v1/tubes/{tube}/scans"),
            &serde_json::json!({ "client_id": client, "code": code, "scanned_ms": scanned_ms, "sent_ms": now }),
        );
        assert_eq!(a.status, 200, "{}", a.body);
        a.json()
    };
    let before = swab("k-before", &r.codes[5].1, now - 10 * 60_000);
    assert_eq!(before["resident"], r.codes[5].0.as_str(), "{before}");
    assert!(
        before["problem"]
            .as_str()
            .unwrap()
            .contains("retired after"),
        "{before}"
    );
    let after = swab("k-after", &r.codes[6].1, now);
    assert!(after["resident"].is_null(), "{after}");
    assert!(
        after["problem"].as_str().unwrap().contains("retired"),
        "{after}"
    );
    let ev = r
        .env
        .store()
        .await
        .audit_events(None, None, None, 20)
        .await
        .unwrap();
    assert!(
        ev.iter()
            .any(|e| e.action == "retire_signing_key" && e.detail == "residents_scanned_30d=3"),
        "{ev:?}"
    );
}
