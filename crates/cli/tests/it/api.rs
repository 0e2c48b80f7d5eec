//! The JSON API against a real server process on a random port.

use serde_json::json;

use crate::harness::{enc, TestEnv};

#[tokio::test]
async fn registry_api_over_real_http() {
    let env = TestEnv::new().await;
    let out = env.cli_ok(&["demo", "--residents", "600", "--seed", "9", "--no-serve"]);
    assert!(out.contains("600 residents"), "{out}");
    let pw = env.account("chief", "street_commander", &["--street", "鸿城街道"]);
    let mut srv = env.serve();
    srv.token = Some(srv.login("chief", &pw));

    let h = srv.get("/healthz");
    assert_eq!(h.status, 200);
    assert_eq!(h.json()["backend"], env.backend);

    let t = srv.get("/api/v1/territory").json();
    let street = &t["streets"][0];
    assert_eq!(street["name"], "鸿城街道");
    assert_eq!(street["residents"], 600);
    let community = &street["children"][0];
    let grid_id = community["children"][0]["id"].as_str().unwrap().to_string();

    // List by grid: masked personal data.
    let list = srv
        .get(&format!("/api/v1/residents?grid={grid_id}&limit=1000"))
        .json();
    let items = list["items"].as_array().unwrap();
    assert!(!items.is_empty());
    for r in items {
        assert_eq!(r["masked"], true);
        if let Some(d) = r["document_number"].as_str() {
            assert!(d.contains('*'), "{d}");
        }
        for p in r["phones"].as_array().unwrap() {
            assert!(p["number"].as_str().unwrap().contains('*'));
        }
        assert!(r["flags"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f != "dialysis" && f != "pregnant" && f != "chronic_treatment"));
        // Not even whether they have one: the same word for everyone.
        assert_eq!(r["health_flags"], "masked", "{r}");
        // Nor whether they have notes (where rosters write 怀孕30周, 每周一三五透析).
        assert_eq!(r["notes_present"], "masked", "{r}");
    }

    // Filter by flag, and an unknown flag is a clear 400.
    let flagged = srv
        .get("/api/v1/residents?flag=cannot_go_downstairs,elderly_alone&limit=1000")
        .json();
    assert!(flagged["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["flags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == "cannot_go_downstairs" || f == "elderly_alone")));
    // A street commander may filter by a health flag (it is their job to know who needs dialysis).
    let dialysis = srv.get("/api/v1/residents?flag=dialysis&limit=1000");
    assert_eq!(dialysis.status, 200);
    // It tells who has a health flag, as a reveal does: audited, with the
    // flag and how many, never who.
    let found = dialysis.json()["items"].as_array().unwrap().len();
    let audit = env.cli_ok(&["audit", "--limit", "50"]);
    let line = audit
        .lines()
        .find(|l| l.contains("filter_health"))
        .unwrap_or_else(|| panic!("{audit}"));
    assert!(
        line.contains("user:chief") && line.contains(&format!("flags=dialysis residents={found}")),
        "{line}"
    );
    // A flag that is no health data is no such read.
    assert_eq!(audit.matches("filter_health").count(), 1, "{audit}");
    let bad = srv.get("/api/v1/residents?flag=zombie");
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json()["code"], "bad_request");

    // One resident, their household, search by name and by phone tail.
    let one = &items[0];
    let id = one["id"].as_str().unwrap();
    assert_eq!(srv.get(&format!("/api/v1/residents/{id}")).json()["id"], id);
    let hh = srv
        .get(&format!(
            "/api/v1/households/{}",
            one["household"].as_str().unwrap()
        ))
        .json();
    assert!(hh["members"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["id"] == id));
    let name = one["name"].as_str().unwrap();
    let found = srv
        .get(&format!("/api/v1/residents/search?q={}", enc(name)))
        .json();
    assert!(found["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["id"] == id));
    let store = env.store().await;
    let key: gw_domain::ids::Key = id.parse().unwrap();
    let full = store.resident(key.street, key.id).await.unwrap();
    if let Some(p) = full.resident.phones.first() {
        let tail = &p.phone.as_str()[p.phone.as_str().len() - 4..];
        let by_phone = srv
            .get(&format!("/api/v1/residents/search?q={tail}"))
            .json();
        assert!(by_phone["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == id));
    }
    if let Some(d) = &full.resident.document {
        let tail = &d.number[d.number.len() - 4..];
        let by_doc = srv
            .get(&format!("/api/v1/residents/search?q={tail}"))
            .json();
        assert!(by_doc["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == id));
    }

    // Errors are JSON with a stable code.
    let nf = srv.get("/api/v1/residents/1-999999999");
    assert_eq!(nf.status, 404);
    assert_eq!(nf.json()["code"], "not_found");
    // In Chinese first, like every message.
    let said = nf.json()["message"].as_str().unwrap().to_string();
    assert!(
        said.starts_with("找不到") && said.contains(" / not found"),
        "{said}"
    );
    let bk = srv.get("/api/v1/residents/banana");
    assert_eq!(bk.status, 400);
    assert_eq!(srv.get("/nope").status, 404);

    // OpenAPI document.
    let doc = srv.get("/api/v1/openapi.json").json();
    assert_eq!(doc["openapi"], "3.0.3");
    assert!(doc["paths"]["/api/v1/residents"]["get"].is_object());
}

#[tokio::test]
async fn walk_ins_and_control_status_over_http() {
    let env = TestEnv::new().await;
    env.cli_ok(&["demo", "--residents", "200", "--seed", "3", "--no-serve"]);
    let pw = env.account("chief", "street_commander", &["--street", "鸿城街道"]);
    let mut srv = env.serve();
    srv.token = Some(srv.login("chief", &pw));
    let store = env.store().await;
    let street = store.streets().await.unwrap()[0].id;

    // A walk-in sampled at a point, on no roster.
    let created = srv.post(
        "/api/v1/residents/pending",
        &json!({ "street": street, "name": "过路人", "phone": "139 0431 1234" }),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let pid = created.json()["id"].as_str().unwrap().to_string();
    let pending = srv.get("/api/v1/residents?status=pending").json();
    assert_eq!(pending["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        srv.post(
            "/api/v1/residents/pending",
            &json!({ "street": street, "name": " " })
        )
        .status,
        400
    );
    assert_eq!(
        srv.post(
            "/api/v1/residents/pending",
            &json!({ "street": street, "name": "甲", "phone": "123" })
        )
        .status,
        400
    );

    // Someone registered already is not added again as a walk-in: told so.
    let holder = store
        .residents(&gw_store::registry::ResidentFilter {
            street: Some(street),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_iter()
        .find_map(|r| r.resident.document)
        .expect("a demo resident with a document");
    let again = srv.post(
        "/api/v1/residents/pending",
        &json!({ "street": street, "name": "某人", "document": holder.number }),
    );
    assert_eq!(again.status, 409, "{}", again.body);
    assert!(
        again.body.contains("registered already") && !again.body.contains("UNIQUE"),
        "{}",
        again.body
    );
    assert_eq!(
        srv.get("/api/v1/residents?status=pending").json()["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Flags by hand: a dialysis patient found on a round. Set and cleared in
    // one go; the answer shows no health flag; the audit counts it, unnamed.
    let some = store
        .residents(&gw_store::registry::ResidentFilter {
            street: Some(street),
            status: Some("active".into()),
            limit: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .remove(0);
    let rid = format!("{}-{}", some.street_id, some.id);
    let f = srv.post(
        &format!("/api/v1/residents/{rid}/flags"),
        &json!({ "set": ["dialysis", "cannot_go_downstairs"], "clear": ["elderly_alone"] }),
    );
    assert_eq!(f.status, 200, "{}", f.body);
    let flags = f.json()["flags"].clone();
    assert!(
        flags
            .as_array()
            .unwrap()
            .contains(&json!("cannot_go_downstairs")),
        "{flags}"
    );
    assert!(!flags.to_string().contains("dialysis"), "{flags}");
    let stored = store.resident(some.street_id, some.id).await.unwrap();
    assert!(stored
        .resident
        .flags
        .has(gw_domain::resident::Flag::Dialysis));
    assert!(!stored
        .resident
        .flags
        .has(gw_domain::resident::Flag::ElderlyAlone));
    let ev = store.audit_events(None, None, None, 5).await.unwrap();
    let e = ev
        .iter()
        .find(|e| e.action == "set_flags")
        .expect("audited");
    assert!(
        e.detail.contains("health_flags_changed=1") && !e.detail.contains("dialysis"),
        "{}",
        e.detail
    );
    // What changes nothing counts as nothing: a health flag set again, or
    // cleared where it is not set, is no health flag changed.
    for (body, changed) in [
        (json!({ "set": ["dialysis"] }), 0),
        (json!({ "clear": ["dialysis"] }), 1),
        (json!({ "clear": ["dialysis"] }), 0),
    ] {
        let r = srv.post(&format!("/api/v1/residents/{rid}/flags"), &body);
        assert_eq!(r.status, 200, "{body}: {}", r.body);
        let ev = store.audit_events(None, None, None, 5).await.unwrap();
        let e = ev.iter().find(|e| e.action == "set_flags").unwrap();
        assert!(
            e.detail
                .ends_with(&format!("health_flags_changed={changed}")),
            "{body}: {}",
            e.detail
        );
    }
    for (body, status) in [
        (json!({ "set": ["wings"] }), 400),
        (json!({}), 400),
        (json!({ "set": ["pregnant"], "clear": ["pregnant"] }), 400),
    ] {
        let r = srv.post(&format!("/api/v1/residents/{rid}/flags"), &body);
        assert_eq!(r.status, status, "{body}: {}", r.body);
    }

    // Moved to another household: there now, audited; an unknown household
    // is 404 and nothing moves.
    let other = store
        .residents(&gw_store::registry::ResidentFilter {
            street: Some(street),
            status: Some("active".into()),
            limit: 200,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.household_id != some.household_id && r.household_id.is_some())
        .unwrap();
    let dest = format!("{}-{}", other.street_id, other.household_id.unwrap());
    let nowhere = srv.post(
        &format!("/api/v1/residents/{rid}/move"),
        &json!({ "household": format!("{street}-999999999") }),
    );
    assert_eq!(nowhere.status, 404, "{}", nowhere.body);
    let moved = srv.post(
        &format!("/api/v1/residents/{rid}/move"),
        &json!({ "household": dest }),
    );
    assert_eq!(moved.status, 200, "{}", moved.body);
    let after = store.resident(some.street_id, some.id).await.unwrap();
    assert_eq!(after.household_id, other.household_id);
    let ev = store.audit_events(None, None, None, 5).await.unwrap();
    assert!(
        ev.iter()
            .any(|e| e.action == "move_resident" && e.detail.ends_with(&format!("→{dest}"))),
        "{ev:?}"
    );

    // Matched later to a registered resident: the pending record disappears, the phone is kept.
    let target = srv.get("/api/v1/residents?status=active&limit=1").json()["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let m = srv.post(
        &format!("/api/v1/residents/{pid}/match"),
        &json!({ "target": target, "despite_name": true }),
    );
    assert_eq!(m.status, 200, "{}", m.body);
    assert_eq!(
        srv.get("/api/v1/residents?status=pending").json()["items"]
            .as_array()
            .unwrap()
            .len(),
        0
    );

    // Control status on a building, history kept.
    let list = srv.get("/api/v1/residents?limit=1").json();
    let building = list["items"][0]["building"].as_str().unwrap().to_string();
    let r = srv.post("/api/v1/control", &json!({ "target_kind": "building", "target_id": building, "status": "precaution", "reason": "防范区" }));
    assert_eq!(r.status, 201, "{}", r.body);
    let r = srv.post("/api/v1/control", &json!({ "target_kind": "building", "target_id": building, "status": "sealed", "reason": "混管异常" }));
    assert_eq!(r.status, 201);
    let h = srv
        .get(&format!(
            "/api/v1/control?target_kind=building&target_id={building}"
        ))
        .json();
    assert_eq!(h["history"].as_array().unwrap().len(), 2);
    assert_eq!(h["current"], "sealed");
    let bad = srv.post("/api/v1/control", &json!({ "target_kind": "building", "target_id": "1-99999999", "status": "sealed", "reason": "x" }));
    assert_eq!(bad.status, 404);
    let bad = srv.post("/api/v1/control", &json!({ "target_kind": "planet", "target_id": building, "status": "sealed", "reason": "x" }));
    assert_eq!(bad.status, 400);
}

/// A client that stalls mid-request (a phone losing its link while
/// uploading, or anyone holding connections open) is cut off: a body not
/// sent within `--request-timeout` gets 408 and nothing of it is stored; a
/// request whose headers never finish loses its connection. The server goes
/// on answering others.
#[tokio::test]
async fn stalled_requests_are_cut_off_and_store_nothing() {
    use std::io::{Read, Write};
    use std::time::{Duration, Instant};

    let env = TestEnv::new().await;
    env.cli_ok(&["demo", "--residents", "60", "--seed", "3", "--no-serve"]);
    let pw = env.account("chief", "street_commander", &["--street", "鸿城街道"]);
    let mut srv = env.serve_with(&["--request-timeout", "1"]);
    let token = srv.login("chief", &pw);
    srv.token = Some(token.clone());
    let street = env.store().await.streets().await.unwrap()[0].id;
    let body = crate::harness::round_body(street, "慢速轮次").to_string();
    let stalled = |sent: &[u8]| {
        let mut s = std::net::TcpStream::connect(&srv.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        s.write_all(sent).unwrap();
        let t0 = Instant::now();
        let mut got = Vec::new();
        s.read_to_end(&mut got)
            .expect("the server closes the connection");
        (String::from_utf8_lossy(&got).to_string(), t0.elapsed())
    };

    // Half the body, then silence: 408 in both languages, connection closed.
    let head = format!(
        "POST /api/v1/rounds HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        srv.addr,
        body.len()
    );
    let mut half = head.clone().into_bytes();
    half.extend_from_slice(&body.as_bytes()[..body.len() / 2]);
    let (answer, waited) = stalled(&half);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"code\":\"request_timeout\""), "{answer}");
    assert!(
        answer.contains("发送中断") && answer.contains("stalled for 1 s"),
        "{answer}"
    );
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "{answer}"
    );
    assert!(waited < Duration::from_secs(15), "{waited:?}");
    let listed = format!("/api/v1/streets/{street}/rounds");
    let rounds = srv.get(&listed).json();
    assert_eq!(
        rounds["rounds"].as_array().map(Vec::len),
        Some(0),
        "{rounds}"
    );

    // Headers that never finish: the connection is closed without an answer.
    let (answer, waited) = stalled(b"GET /healthz HTTP/1.1\r\nHo");
    assert_eq!(answer, "", "no answer to half a request");
    assert!(waited < Duration::from_secs(15), "{waited:?}");

    // A body that keeps coming, slower than the limit as a whole (five
    // pieces 0.4 s apart against a 1 s limit), is taken: only a stall is
    // cut off.
    let slow_body = crate::harness::round_body(street, "慢而不断").to_string();
    let mut s = std::net::TcpStream::connect(&srv.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(
        format!(
            "POST /api/v1/rounds HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            srv.addr,
            slow_body.len()
        )
        .as_bytes(),
    )
    .unwrap();
    let piece = slow_body.len().div_ceil(5);
    for chunk in slow_body.as_bytes().chunks(piece) {
        std::thread::sleep(Duration::from_millis(400));
        s.write_all(chunk).unwrap();
    }
    let mut got = Vec::new();
    s.read_to_end(&mut got).unwrap();
    let got = String::from_utf8_lossy(&got);
    assert!(got.starts_with("HTTP/1.1 201"), "{got}");
    // The whole request, sent at once, is taken.
    let mut whole = head.into_bytes();
    whole.extend_from_slice(body.as_bytes());
    let (answer, _) = stalled(&whole);
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    let rounds = srv.get(&listed).json();
    assert_eq!(
        rounds["rounds"].as_array().map(Vec::len),
        Some(2),
        "{rounds}"
    );
}

/// Listing residents by a health flag with no territory filter was audited
/// as street 0, target "0" (nowhere): it is recorded over the territory the
/// list was taken over, the caller's own (a grid leader's grid, a CDC
/// liaison's community), and a street filter narrows to what of it the
/// caller may read.
#[tokio::test]
async fn a_health_flag_list_is_audited_where_it_was_taken() {
    let env = TestEnv::new().await;
    env.cli_ok(&["demo", "--residents", "200", "--seed", "4", "--no-serve"]);
    let store = env.store().await;
    let c = store.communities(None, None).await.unwrap().remove(0);
    let g = store
        .grids(None, Some((c.street_id, c.id)))
        .await
        .unwrap()
        .remove(0);
    let leader = env.account(
        "leader",
        "grid_leader",
        &[
            "--street",
            &c.street_name,
            "--community",
            &c.name,
            "--grid",
            &g.name,
        ],
    );
    let cdc = env.account(
        "cdc",
        "cdc_liaison",
        &["--street", &c.street_name, "--community", &c.name],
    );
    let srv = env.serve();
    let leader = srv.login("leader", &leader);
    let cdc = srv.login("cdc", &cdc);
    let grid = format!("{}-{}", g.street_id, g.id);
    let community = format!("{}-{}", c.street_id, c.id);
    let on_street = format!("flag=pregnant&street={}", c.street_id);
    for (user, token, query, kind, target) in [
        ("leader", &leader, "flag=pregnant", "grid", grid.as_str()),
        (
            "cdc",
            &cdc,
            "flag=pregnant,dialysis",
            "community",
            community.as_str(),
        ),
        ("leader", &leader, on_street.as_str(), "grid", grid.as_str()),
    ] {
        let r = srv
            .with_token(token)
            .get(&format!("/api/v1/residents?{query}&limit=1000"));
        assert_eq!(r.status, 200, "{}", r.body);
        let listed = r.json()["items"].as_array().unwrap().len();
        let ev = store.audit_events(None, None, None, 5).await.unwrap();
        let e = ev
            .iter()
            .find(|e| e.action == "filter_health")
            .expect("audited");
        assert_eq!(
            (
                e.actor.as_str(),
                e.street_id,
                e.target_kind.as_str(),
                e.target_id.as_str()
            ),
            (format!("user:{user}").as_str(), c.street_id, kind, target),
            "{query}: {e:?}"
        );
        assert!(e.detail.ends_with(&format!("residents={listed}")), "{e:?}");
    }
}
