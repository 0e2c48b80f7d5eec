//! What a scanning station is told, over real HTTP: a live read that names
//! no person is refused with its own code (`rescan`), so the station drops
//! it instead of keeping it to send later; a reused tube's open carries its
//! fill; an empty tube closed or changed away from is withdrawn; flagged
//! swabs name another street by its name, ask for a mistyped number to be
//! typed again, and say when the tube was closed under the station.

use serde_json::json;

use crate::harness::{exec, query_strings};
use crate::testing::{scan, setup, tube};

/// Live, each refusal that means "this was not a person" carries the code
/// `rescan` (the station drops it); nothing is stored and the tube's count
/// stays. What is wrong with the request itself keeps `bad_request`.
/// Synced late, a code with a control character is stored without it.
#[tokio::test]
async fn a_live_read_naming_no_person_is_refused_with_the_code_rescan() {
    let w = setup("60").await;
    let srv = &w.srv;
    let t = tube(srv, &w.points[0], "R0000001");
    tube(srv, &w.points[1], "R0000002");
    let post = |body: serde_json::Value| srv.post(&format!("/api/v1/tubes/{t}/scans"), &body);
    for (client, body, says) in [
        ("r-blank", json!({ "code": "  " }), "scan is empty"),
        ("r-own", json!({ "code": "R0000001" }), "is a tube barcode"),
        (
            "r-other",
            json!({ "code": "R0000002" }),
            "is a tube barcode",
        ),
        (
            "r-long",
            json!({ "code": "A".repeat(201) }),
            "longer than 200",
        ),
        (
            "r-ctl",
            json!({ "code": "GW1-\u{1}ABC" }),
            "control character",
        ),
        (
            "r-phone",
            json!({ "walk_in": { "name": "过路人", "phone": "1390431000" } }),
            "phone is not valid",
        ),
        (
            "r-name",
            json!({ "walk_in": { "name": "长".repeat(41) } }),
            "longer than 40",
        ),
    ] {
        let mut body = body;
        body["client_id"] = json!(client);
        let r = post(body);
        assert_eq!(r.status, 400, "{client}: {}", r.body);
        assert_eq!(r.json()["code"], "rescan", "{client}: {}", r.body);
        assert!(r.body.contains(says), "{client}: {}", r.body);
    }
    // Not about the person: the request itself.
    let r = post(json!({ "client_id": "bad\u{1}id", "code": w.codes[0].1 }));
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.json()["code"], "bad_request", "{}", r.body);
    // Nothing of the above was stored.
    let ok = scan(srv, &t, "r-ok", &w.codes[0].1);
    assert_eq!(ok["tube_fill"], 1, "{ok}");
    // Synced from an offline queue ten minutes on: the swab is in the tube,
    // stored without the control character, read as what remains.
    let now = gw_app::Clock::System.now_ms();
    let late = post(json!({
        "client_id": "r-late",
        "code": format!("{}\u{1d}", w.codes[1].1),
        "scanned_ms": now - 600_000,
        "sent_ms": now,
    }));
    assert_eq!(late.status, 200, "{}", late.body);
    assert_eq!(late.json()["resident"], w.codes[1].0, "{}", late.body);
    assert_eq!(late.json()["tube_fill"], 2, "{}", late.body);
}

/// A station enrolled again, or scanning its tube's barcode again, is told
/// how many swabs the tube already holds.
#[tokio::test]
async fn a_reused_tube_open_carries_its_fill() {
    let w = setup("60").await;
    let srv = &w.srv;
    let open = |barcode: &str| {
        srv.post(
            &format!("/api/v1/points/{}/tubes", w.points[0]),
            &json!({ "barcode": barcode, "reuse": true }),
        )
    };
    let first = open("F0000001");
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!(first.json()["fill"], 0, "{}", first.body);
    let t = first.json()["id"].as_str().unwrap().to_string();
    scan(srv, &t, "f-1", &w.codes[0].1);
    scan(srv, &t, "f-2", &w.codes[1].1);
    let again = open("F0000001");
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.json()["reused"], true, "{}", again.body);
    assert_eq!(again.json()["state"], "open", "{}", again.body);
    assert_eq!(again.json()["fill"], 2, "{}", again.body);
}

/// A tube opened by mistake (one issued to another point) is named with
/// what to do; closed (the station's change of tube) while nothing was ever
/// scanned into it, it is withdrawn: gone from the round, its barcode free
/// for its own point, audited, and its id never given to another tube. A
/// tube with a swab is closed as before; one whose every swab was taken
/// back holds none and is withdrawn too (tests/it/tube_empty.rs).
#[tokio::test]
async fn an_empty_tube_closed_is_withdrawn_and_its_barcode_freed() {
    let w = setup("60").await;
    let srv = &w.srv;
    crate::testing::issue_tubes(&w.env, &w.points[1], "W0000100", "W0000199");
    let wrong = srv.post(
        &format!("/api/v1/points/{}/tubes", w.points[0]),
        &json!({ "barcode": "W0000150", "reuse": true }),
    );
    assert_eq!(wrong.status, 201, "{}", wrong.body);
    let warning = wrong.json()["warning"].as_str().unwrap().to_string();
    assert!(warning.contains("发放给了采样点"), "{warning}");
    assert!(warning.contains("请换用本点的采样管"), "{warning}");
    let wrong_id = wrong.json()["id"].as_str().unwrap().to_string();
    let closed = srv.post(&format!("/api/v1/tubes/{wrong_id}/close"), &json!({}));
    assert_eq!(closed.status, 200, "{}", closed.body);
    assert_eq!(closed.json()["state"], "withdrawn", "{}", closed.body);
    let store = w.env.store().await;
    let left = query_strings(
        &store,
        "SELECT barcode FROM tube WHERE barcode = 'W0000150'",
    )
    .await;
    assert!(left.is_empty(), "{left:?}");
    let audited = query_strings(
        &store,
        "SELECT detail FROM audit_event WHERE action = 'withdraw_tube'",
    )
    .await;
    assert_eq!(audited.len(), 1, "{audited:?}");
    assert!(audited[0].contains("barcode=W0000150"), "{audited:?}");
    // Its own point opens it now; its id is a new one (SQLite would give the
    // removed largest id again without the floor).
    let own = tube(srv, &w.points[1], "W0000150");
    assert_ne!(own, wrong_id);
    // A tube with a swab closes as before; one whose only swab was taken
    // back holds no swab and is withdrawn.
    let full = tube(srv, &w.points[0], "W0000001");
    scan(srv, &full, "wd-1", &w.codes[0].1);
    let c = srv.post(&format!("/api/v1/tubes/{full}/close"), &json!({}));
    assert_eq!(c.json()["state"], "closed", "{}", c.body);
    // Closed again (a retry, or a tube that closed itself): done, not a conflict.
    let again = srv.post(&format!("/api/v1/tubes/{full}/close"), &json!({}));
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.json()["state"], "closed", "{}", again.body);
    let undone = tube(srv, &w.points[0], "W0000002");
    scan(srv, &undone, "wd-2", &w.codes[1].1);
    let v = srv.post(
        &format!("/api/v1/tubes/{undone}/voids"),
        &json!({ "client_id": "wd-2", "reason": "扫错码" }),
    );
    assert_eq!(v.status, 200, "{}", v.body);
    let c = srv.post(&format!("/api/v1/tubes/{undone}/close"), &json!({}));
    assert_eq!(c.json()["state"], "withdrawn", "{}", c.body);
    // An empty tube closed before this rule (left 已封管, 0 swabs) is
    // withdrawn when closed again.
    let legacy = tube(srv, &w.points[0], "W0000003");
    exec(
        &store,
        "UPDATE tube SET state = 'closed' WHERE barcode = 'W0000003'",
    )
    .await;
    let c = srv.post(&format!("/api/v1/tubes/{legacy}/close"), &json!({}));
    assert_eq!(c.json()["state"], "withdrawn", "{}", c.body);
    let states = query_strings(
        &store,
        "SELECT barcode || ':' || state FROM tube WHERE barcode LIKE 'W%' ORDER BY barcode",
    )
    .await;
    assert_eq!(states, vec!["W0000001:closed", "W0000150:open"]);
}

/// Flagged swabs say what to do: another street's code by the street's
/// name; a typed number with a wrong check character asks to be typed
/// again; a swab into a tube closed under the station says the tube is
/// closed, for the station to take a new one.
#[tokio::test]
async fn flagged_swabs_say_what_to_do() {
    let w = setup("60").await;
    let srv = &w.srv;
    let store = w.env.store().await;
    exec(
        &store,
        "INSERT INTO street (district_id, name) SELECT district_id, '青山街道' FROM street WHERE name = '鸿城街道'",
    )
    .await;
    let other: i64 = query_strings(
        &store,
        "SELECT CAST(id AS TEXT) FROM street WHERE name = '青山街道'",
    )
    .await[0]
        .parse()
        .unwrap();
    let (key_id, secret) = store.signing_keys().await.unwrap().pop().unwrap();
    let key: Vec<u8> = (0..secret.len() / 2)
        .map(|i| u8::from_str_radix(&secret[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    // A resident's code as the other street would have issued it.
    let here = gw_domain::testing::PersonalCode::decode(&w.codes[5].1).unwrap();
    let code = gw_domain::testing::PersonalCode::issue(
        u32::try_from(key_id).unwrap(),
        &key,
        other,
        &here.uid,
        here.generation,
    )
    .text();
    let t = tube(srv, &w.points[0], "Q0000001");
    let o = scan(srv, &t, "q-1", &code);
    let problem = o["problem"].as_str().unwrap();
    assert!(problem.contains("其他街道（青山街道）的居民"), "{o}");
    assert_eq!(o["retype"], false, "{o}");
    // A typed ID number with its last character wrong.
    let id = gw_domain::idnumber::IdNumber::compose(
        "110105",
        gw_domain::date::Date::new(1970, 3, 1).unwrap(),
        123,
    )
    .unwrap();
    let wrong_check = format!(
        "{}{}",
        &id.as_str()[..17],
        if id.as_str().ends_with('1') { '2' } else { '1' }
    );
    let o = scan(srv, &t, "q-2", &wrong_check);
    assert!(o["problem"].as_str().unwrap().contains("校验位错误"), "{o}");
    assert_eq!(o["retype"], true, "{o}");
    assert_eq!(o["tube_closed"], false, "{o}");
    // Closed by hand (another station, the manager): the next swab is
    // stored, flagged, and the station told the tube is closed.
    let c = srv.post(&format!("/api/v1/tubes/{t}/close"), &json!({}));
    assert_eq!(c.json()["state"], "closed", "{}", c.body);
    let o = scan(srv, &t, "q-3", &w.codes[2].1);
    assert_eq!(o["tube_closed"], true, "{o}");
    assert!(
        o["problem"].as_str().unwrap().contains("tube is closed"),
        "{o}"
    );
}

/// The point's page lists the swabs the server flagged there, newest first,
/// the person masked and what is wrong said in the page's language: a
/// point manager had them only in the API and the command line.
#[tokio::test]
async fn the_point_page_lists_its_flagged_swabs() {
    let w = setup("60").await;
    let srv = &w.srv;
    let t = tube(srv, &w.points[0], "F0000001");
    scan(srv, &t, "f-1", &w.codes[0].1);
    scan(srv, &t, "f-2", &w.codes[1].1);
    // The same person again, and a code nobody issued.
    scan(srv, &t, "f-3", &w.codes[0].1);
    scan(srv, &t, "f-4", "GW1-nonsense");
    let b = crate::round_pages::Browser::login(srv, "chief", &w.chief_password);
    let page = b.get(&format!("/points/{}", w.points[0]));
    assert_eq!(page.status, 200, "{}", page.body);
    let at = page
        .body
        .find(r#"id="flagged""#)
        .expect("a flagged section");
    let card = &page.body[at..at + page.body[at..].find("</section>").unwrap()];
    assert!(card.contains(r#"<span class="tag">2</span>"#), "{card}");
    assert!(
        card.contains("重复采样") && card.contains("F0000001"),
        "{card}"
    );
    assert!(!card.contains(" / "), "one language at a time: {card}");
    // The second swab's person is named masked, never in full.
    let store = w.env.store().await;
    let k: gw_domain::ids::Key = w.codes[0].0.parse().unwrap();
    let name = store.resident(k.street, k.id).await.unwrap().resident.name;
    assert!(
        card.contains(&gw_domain::mask::name(&name)) && !card.contains(&name),
        "{card}"
    );
    // The other point has none.
    let other = b.get(&format!("/points/{}", w.points[1]));
    assert!(
        other.body.contains("本点没有需要核实的扫码"),
        "{}",
        other.body
    );
}

/// A person's ID card read where a tube's barcode goes opens no tube, over
/// the API (live or offline) and the command line: a barcode is shown in
/// full on packing pages and hand-over sheets, an ID number never is. A
/// tube the street issued whose barcode merely has an ID number's shape is
/// opened as any other.
#[tokio::test]
async fn an_id_number_is_never_opened_as_a_tube() {
    let w = setup("60").await;
    let srv = &w.srv;
    let id = gw_domain::idnumber::IdNumber::compose(
        "220102",
        gw_domain::date::Date::new(2007, 3, 5).unwrap(),
        859,
    )
    .unwrap();
    let url = format!("/api/v1/points/{}/tubes", w.points[0]);
    // The same number mistyped in its check character is still one.
    let last = id.as_str().chars().last().unwrap();
    let mistyped = format!(
        "{}{}",
        &id.as_str()[..17],
        if last == '0' { '1' } else { '0' }
    );
    for body in [
        json!({ "barcode": id.as_str() }),
        json!({ "barcode": id.as_str(), "reuse": true }),
        json!({ "barcode": mistyped }),
    ] {
        let r = srv.post(&url, &body);
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        assert!(r.body.contains("ID card number"), "{}", r.body);
        assert!(
            !r.body.contains(&id.as_str()[..17]),
            "not echoed: {}",
            r.body
        );
    }
    let cli = w.env.cli(&[
        "tube",
        "open",
        "--point",
        &w.points[0],
        "--barcode",
        id.as_str(),
    ]);
    assert!(!cli.status.success(), "{cli:?}");
    let store = w.env.store().await;
    let round: gw_domain::ids::Key = w.round.parse().unwrap();
    assert!(store
        .tube_by_barcode(round.street, round.id, id.as_str())
        .await
        .unwrap()
        .is_none());
    // Issued to the point as a range: it is a tube.
    crate::testing::issue_tubes(&w.env, &w.points[0], id.as_str(), id.as_str());
    let r = srv.post(&url, &json!({ "barcode": id.as_str() }));
    assert_eq!(r.status, 201, "{}", r.body);
}

/// The same walk-in (name and phone) swabbed twice, at two points, is one
/// pending resident with a first swab and a second one flagged as its
/// duplicate, as a registered resident would be; another phone under the
/// same name is another person.
#[tokio::test]
async fn the_same_walk_in_twice_is_one_person_with_a_second_swab() {
    let w = setup("60").await;
    let srv = &w.srv;
    let a = tube(srv, &w.points[0], "W0000001");
    let b = tube(srv, &w.points[1], "W0000002");
    let walk_in = |t: &str, client: &str, phone: &str| {
        let r = srv.post(
            &format!("/api/v1/tubes/{t}/scans"),
            &json!({ "client_id": client, "walk_in": { "name": "张三丰", "phone": phone } }),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()
    };
    let first = walk_in(&a, "wi-1", "13912345678");
    assert!(first["duplicate_of"].is_null(), "{first}");
    let again = walk_in(&b, "wi-2", "139 1234 5678");
    assert_eq!(again["resident"], first["resident"], "{again}");
    assert_eq!(
        again["duplicate_of"]["registration"], first["registration"],
        "{again}"
    );
    let other = walk_in(&a, "wi-3", "13800001111");
    assert_ne!(other["resident"], first["resident"], "{other}");
    assert!(other["duplicate_of"].is_null(), "{other}");
    // Coverage counts the walk-in once.
    let store = w.env.store().await;
    let n: i64 = query_strings(
        &store,
        "SELECT CAST(COUNT(*) AS TEXT) FROM resident WHERE status = 'pending'",
    )
    .await[0]
        .parse()
        .unwrap();
    assert_eq!(n, 2);
}

/// One swab the database refuses (here a test trigger refuses one client
/// id; in the field, a tube withdrawn while a scan was on its way) fails
/// only its own station, not the stations whose scans shared its commit:
/// the writer writes a refused batch again job by job.
#[tokio::test]
async fn one_refused_swab_does_not_fail_the_stations_sharing_its_commit() {
    let w = setup("60").await;
    let srv = &w.srv;
    let store = w.env.store().await;
    match &store.pool {
        gw_store::Pool::Sqlite(_) => {
            exec(
                &store,
                "CREATE TRIGGER gw_test_poison BEFORE INSERT ON registration WHEN NEW.client_id = 'poison' \
                 BEGIN SELECT RAISE(ABORT, 'poisoned'); END",
            )
            .await
        }
        gw_store::Pool::Postgres(_) => {
            exec(
                &store,
                "CREATE FUNCTION gw_test_poison() RETURNS trigger LANGUAGE plpgsql AS $$ \
                 BEGIN IF NEW.client_id = 'poison' THEN RAISE EXCEPTION 'poisoned'; END IF; RETURN NEW; END $$",
            )
            .await;
            exec(
                &store,
                "CREATE TRIGGER gw_test_poison BEFORE INSERT ON registration FOR EACH ROW EXECUTE FUNCTION gw_test_poison()",
            )
            .await;
        }
    }
    let tubes = [
        tube(srv, &w.points[0], "P0000001"),
        tube(srv, &w.points[0], "P0000002"),
    ];
    let answers: Vec<(String, u16, String)> = std::thread::scope(|sc| {
        let handles: Vec<_> = (0..13)
            .map(|i| {
                let (client, code) = if i == 6 {
                    ("poison".to_string(), w.codes[40].1.clone())
                } else {
                    (format!("ok-{i}"), w.codes[i].1.clone())
                };
                let t = tubes[i % 2].clone();
                sc.spawn(move || {
                    let r = srv.post(
                        &format!("/api/v1/tubes/{t}/scans"),
                        &json!({ "client_id": client, "code": code }),
                    );
                    (client, r.status, r.body)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (client, status, body) in &answers {
        if client == "poison" {
            assert!(*status >= 500, "{client}: {status} {body}");
        } else {
            assert_eq!(*status, 200, "{client}: {body}");
        }
    }
    let stored = query_strings(
        &store,
        "SELECT client_id FROM registration WHERE client_id LIKE 'ok-%'",
    )
    .await;
    assert_eq!(stored.len(), 12, "{stored:?}");
}
