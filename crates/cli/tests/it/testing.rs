//! Testing rounds over real HTTP: tubes, scans exactly once, duplicates
//! flagged and both stations told, wrong codes stored and flagged, concurrent
//! stations, coverage and the missed list.

use std::sync::Arc;

use serde_json::{json, Value};

use crate::harness::{exec, open_round, residents_with_codes, round_body, Server, TestEnv};

pub(crate) struct Round {
    pub(crate) env: TestEnv,
    pub(crate) srv: Arc<Server>,
    pub(crate) round: String,
    pub(crate) points: Vec<String>,
    pub(crate) codes: Vec<(String, String)>,
    /// The street commander `chief`'s password (after the first login).
    pub(crate) chief_password: String,
}

pub(crate) async fn setup(residents: &str) -> Round {
    let env = TestEnv::new().await;
    env.cli_ok(&[
        "demo",
        "--residents",
        residents,
        "--seed",
        "8",
        "--no-serve",
    ]);
    let pw = env.account("chief", "street_commander", &["--street", "鸿城街道"]);
    let mut srv = env.serve();
    srv.token = Some(srv.login("chief", &pw));
    let store = env.store().await;
    let street = store.streets().await.unwrap()[0].id;
    let community = store.communities(None, Some(street)).await.unwrap()[0].id;
    let (round, opened) = open_round(|p, b| srv.post(p, b), &round_body(street, "全员核酸第1轮"));
    assert_eq!(
        opened["expected"].as_i64().unwrap(),
        residents.parse::<i64>().unwrap()
    );
    let points = (0..2)
        .map(|i| srv.post(&format!("/api/v1/rounds/{round}/points"), &json!({ "name": format!("{i}号采样点"), "community": format!("{street}-{community}") })).json()["id"].as_str().unwrap().to_string())
        .collect();
    let codes = residents_with_codes(|p| srv.get(p), "limit=1000");
    Round {
        env,
        srv: Arc::new(srv),
        round,
        points,
        codes,
        chief_password: format!("{pw}-changed"),
    }
}

pub(crate) fn tube(srv: &Server, point: &str, barcode: &str) -> String {
    let r = srv.post(
        &format!("/api/v1/points/{point}/tubes"),
        &json!({ "barcode": barcode }),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    r.json()["id"].as_str().unwrap().to_string()
}

/// Issues the tubes `first`..=`last` to `point` with the command line, as
/// the point's supplies are recorded.
pub(crate) fn issue_tubes(env: &TestEnv, point: &str, first: &str, last: &str) {
    let issued = env.cli(&[
        "supplies", "issue", "--point", point, "--kind", "tubes", "--first", first, "--last", last,
    ]);
    assert!(issued.status.success(), "{issued:?}");
}

pub(crate) fn scan(srv: &Server, tube: &str, client: &str, code: &str) -> Value {
    let r = srv.post(
        &format!("/api/v1/tubes/{tube}/scans"),
        &json!({ "client_id": client, "code": code, "station": "A" }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

#[tokio::test]
async fn a_tube_of_ten_replays_duplicates_and_bad_codes() {
    let w = setup("200").await;
    let srv = &w.srv;
    let t1 = tube(srv, &w.points[0], "A0000001");
    // Ten codes fill a 10-in-1 tube, which then closes itself.
    for (i, (_, code)) in w.codes[..10].iter().enumerate() {
        let o = scan(srv, &t1, &format!("s1-{i}"), code);
        assert_eq!(o["tube_fill"], i + 1);
        assert_eq!(o["problem"], "");
        assert_eq!(o["replay"], false);
    }
    let store = w.env.store().await;
    let key: gw_domain::ids::Key = t1.parse().unwrap();
    assert_eq!(
        store.tube(key.street, key.id).await.unwrap().state,
        "closed"
    );
    // A retry of the same scan is answered, not applied again, and says
    // again who it was (the first answer may never have reached the station).
    let again = scan(srv, &t1, "s1-3", &w.codes[3].1);
    assert_eq!(again["replay"], true);
    let person = again["person"].as_str().unwrap_or_default();
    assert!(person.contains('*'), "masked: {again}");
    let k3: gw_domain::ids::Key = w.codes[3].0.parse().unwrap();
    let name = store
        .resident(k3.street, k3.id)
        .await
        .unwrap()
        .resident
        .name;
    assert!(
        person.starts_with(name.chars().next().unwrap()),
        "{person} is {name}"
    );
    assert_eq!(again["tube_fill"], 10);
    // An eleventh swab in the closed tube is stored (it is physically there) and flagged.
    let extra = scan(srv, &t1, "s1-10", &w.codes[10].1);
    assert!(
        extra["problem"].as_str().unwrap().contains("closed"),
        "{extra}"
    );
    assert_eq!(extra["tube_fill"], 11);

    // The same resident at the other point: stored, flagged as duplicate, told where and when.
    let t2 = tube(srv, &w.points[1], "B0000001");
    let dup = scan(srv, &t2, "s2-0", &w.codes[0].1);
    let first = &dup["duplicate_of"];
    assert_eq!(first["point"], w.points[0].as_str(), "{dup}");
    assert!(first["scanned_ms"].as_i64().unwrap() > 0);
    // A retest is not a duplicate.
    let retest = srv
        .post(
            &format!("/api/v1/tubes/{t2}/scans"),
            &json!({ "client_id": "s2-1", "code": w.codes[0].1, "purpose": "retest" }),
        )
        .json();
    assert!(retest["duplicate_of"].is_null());

    // A forged code and garbage: stored, flagged, no resident.
    let mut forged = w.codes[20].1.clone();
    // Another last character (the signing key is random, so the code's own
    // last character may be any).
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    let f = scan(srv, &t2, "s2-2", &forged);
    assert!(
        f["resident"].is_null() && f["problem"].as_str().unwrap().contains("signature"),
        "{f}"
    );
    let g = scan(srv, &t2, "s2-3", "hello");
    assert!(g["resident"].is_null() && !g["problem"].as_str().unwrap().is_empty());
    // A document number typed by hand names the resident.
    let k: gw_domain::ids::Key = w.codes[30].0.parse().unwrap();
    let doc = store
        .resident(k.street, k.id)
        .await
        .unwrap()
        .resident
        .document
        .unwrap()
        .number;
    let d = scan(srv, &t2, "s2-4", &doc);
    assert_eq!(d["resident"], w.codes[30].0.as_str(), "{d}");
    // The round's review list holds exactly the flagged swabs, newest first.
    let flagged = srv
        .get(&format!("/api/v1/rounds/{}/flagged", w.round))
        .json();
    let got: Vec<&str> = flagged["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["client_id"].as_str().unwrap())
        .collect();
    assert_eq!(got, ["s2-3", "s2-2", "s2-1", "s2-0", "s1-10"], "{flagged}");
    let dup = &flagged["items"][3];
    assert_eq!(dup["duplicate_of"], first["registration"], "{dup}");
    assert_eq!(dup["point"], w.points[1].as_str());
    assert!(dup["name"].as_str().unwrap().contains('*'), "masked: {dup}");
    // One point's, and the same from the command line.
    let at0 = srv
        .get(&format!(
            "/api/v1/rounds/{}/flagged?point={}",
            w.round, w.points[0]
        ))
        .json();
    assert_eq!(at0["items"].as_array().unwrap().len(), 1, "{at0}");
    let cli: Value =
        serde_json::from_str(&w.env.cli_ok(&["round", "flagged", &w.round, "--json"])).unwrap();
    assert_eq!(cli, flagged["items"]);
    // Opening a tube twice with the same barcode is a clear conflict.
    assert_eq!(
        srv.post(
            &format!("/api/v1/points/{}/tubes", w.points[0]),
            &json!({ "barcode": "A0000001" })
        )
        .status,
        409
    );
    assert_eq!(
        srv.post(
            &format!("/api/v1/points/{}/tubes", w.points[0]),
            &json!({ "barcode": "bad" })
        )
        .status,
        400
    );

    // Coverage counts a person once; the missed list holds everyone else of the grid.
    let cov = srv
        .get(&format!("/api/v1/rounds/{}/coverage", w.round))
        .json();
    assert_eq!(cov["expected"], 200);
    assert_eq!(cov["sampled"], 12, "{cov}"); // codes 0..=10 and the resident entered by document number
    assert_eq!(cov["missed"], 188);
    let grid = cov["rows"][0]["key"].as_str().unwrap();
    let missed = srv
        .get(&format!("/api/v1/rounds/{}/missed?grid={grid}", w.round))
        .json();
    assert_eq!(
        missed["items"].as_array().unwrap().len() as i64,
        cov["rows"][0]["missed"].as_i64().unwrap()
    );
    assert!(missed["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["id"] != w.codes[0].0.as_str()));

    // When the emergency ends a purge clears the typed document number the
    // swab kept; the swab and the coverage it makes stay.
    let typed = store
        .registration_by_client(k.street, "s2-4")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(typed.raw_code, doc);
    // An exemption's reason is health data: the purge clears it, the
    // exemption (and the count it makes) stays.
    let exempt = srv.post(
        &format!("/api/v1/rounds/{}/exemptions", w.round),
        &json!({ "resident": w.codes.last().unwrap().0, "reason": "in_hospital" }),
    );
    assert_eq!(exempt.status, 200, "{}", exempt.body);
    let exempt_before = srv
        .get(&format!("/api/v1/rounds/{}/coverage", w.round))
        .json()["exempt"]
        .clone();
    let out = w.env.cli_ok(&["purge", "--before", "2200-01-01", "--yes"]);
    assert!(out.contains("scanned codes of swabs cleared"), "{out}");
    let reasons = crate::harness::query_strings(&store, "SELECT reason FROM round_exemption").await;
    assert!(
        !reasons.is_empty() && reasons.iter().all(|r| r == "已清除"),
        "{reasons:?}"
    );
    let audit = store.audit_events(None, None, None, 200).await.unwrap();
    assert!(
        audit.iter().all(|e| !e.detail.contains("in_hospital")),
        "the audit log keeps ids, not why someone was exempt"
    );
    let typed = store
        .registration_by_client(k.street, "s2-4")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(typed.raw_code, "");
    assert_eq!(typed.resident_id, Some(k.id));
    // A flagged swab keeps that it was flagged, not the text (it may quote a number).
    let bad = store
        .registration_by_client(k.street, "s2-3")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (bad.raw_code.as_str(), bad.problem.as_str()),
        ("", "已清除")
    );
    let after = srv
        .get(&format!("/api/v1/rounds/{}/coverage", w.round))
        .json();
    assert_eq!(after["sampled"], 12, "{after}");
    assert_eq!(after["exempt"], exempt_before, "{after}");
    // A purged resident's printed code names nobody any more: it does not
    // verify, a station's scan of it counts for nobody, and no new code is
    // shown for them.
    let (id, code) = &w.codes[40];
    let verify = w.env.cli(&["codes", "verify", code]);
    assert!(!verify.status.success(), "{verify:?}");
    let t = tube(srv, &w.points[1], "PG000001");
    let s = scan(srv, &t, "after-purge", code);
    assert!(s["resident"].is_null(), "{s}");
    let shown = srv.get(&format!("/api/v1/residents/{id}/code"));
    assert_eq!(shown.status, 409, "{}", shown.body);
    assert!(shown.body.contains("purged"), "{}", shown.body);
}

#[tokio::test]
async fn twenty_stations_at_once_lose_nothing_and_apply_nothing_twice() {
    let w = setup("400").await;
    let tubes: Vec<String> = (0..20)
        .map(|i| tube(&w.srv, &w.points[i % 2], &format!("C{i:07}")))
        .collect();
    let codes = Arc::new(w.codes.clone());
    let threads: Vec<_> = (0..20)
        .map(|s| {
            let srv = w.srv.clone();
            let tube = tubes[s].clone();
            let codes = codes.clone();
            std::thread::spawn(move || {
                for i in 0..10 {
                    // Stations 0 and 1 scan the same ten people (a race for "first");
                    // every scan is sent twice (a retry after a lost answer).
                    let who = if s < 2 { i } else { s * 10 + i };
                    for _ in 0..2 {
                        let r = srv.post(
                            &format!("/api/v1/tubes/{tube}/scans"),
                            &json!({ "client_id": format!("st{s}-{i}"), "code": codes[who].1 }),
                        );
                        assert_eq!(r.status, 200, "{}", r.body);
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let store = w.env.store().await;
    let street = store.streets().await.unwrap()[0].id;
    let (n, dups): (i64, i64) = match &store.pool {
        gw_store::Pool::Sqlite(p) => (
            sqlx::query_scalar("SELECT COUNT(*) FROM registration")
                .fetch_one(p)
                .await
                .unwrap(),
            sqlx::query_scalar("SELECT COUNT(*) FROM registration WHERE duplicate_of IS NOT NULL")
                .fetch_one(p)
                .await
                .unwrap(),
        ),
        gw_store::Pool::Postgres(p) => (
            sqlx::query_scalar("SELECT COUNT(*) FROM registration")
                .fetch_one(p)
                .await
                .unwrap(),
            sqlx::query_scalar("SELECT COUNT(*) FROM registration WHERE duplicate_of IS NOT NULL")
                .fetch_one(p)
                .await
                .unwrap(),
        ),
    };
    assert_eq!(n, 200, "every scan stored exactly once");
    assert_eq!(
        dups, 10,
        "each of the ten people scanned at two stations is flagged exactly once"
    );
    for t in &tubes {
        let k: gw_domain::ids::Key = t.parse().unwrap();
        assert_eq!(
            store
                .tube_and_point_counts(street, k.id, 0)
                .await
                .unwrap()
                .0,
            10
        );
    }
    let cov = w
        .srv
        .get(&format!("/api/v1/rounds/{}/coverage", w.round))
        .json();
    assert_eq!(cov["sampled"], 190);
}

#[tokio::test]
async fn volunteers_scan_only_at_their_point() {
    let w = setup("100").await;
    let pw = w
        .env
        .account("vol", "volunteer", &["--point", &w.points[0]]);
    let mut v = w.env.serve();
    v.token = Some(v.login("vol", &pw));
    let t = tube(&v, &w.points[0], "V0000001");
    assert_eq!(scan(&v, &t, "v-1", &w.codes[0].1)["tube_fill"], 1);
    // Not at the other point, and no registry reads.
    assert_eq!(
        v.post(
            &format!("/api/v1/points/{}/tubes", w.points[1]),
            &json!({ "barcode": "V0000002" })
        )
        .status,
        403
    );
    assert_eq!(v.get("/api/v1/residents").status, 403);
    assert_eq!(
        v.get(&format!("/api/v1/residents/{}/code", w.codes[0].0))
            .status,
        403
    );
    // The flagged swabs of their own point only, without names.
    scan(&v, &t, "v-2", "nonsense");
    let t1 = tube(&w.srv, &w.points[1], "V0000003");
    scan(&w.srv, &t1, "c-1", "more nonsense");
    scan(&w.srv, &t1, "c-2", &w.codes[0].1);
    let seen = v.get(&format!("/api/v1/rounds/{}/flagged", w.round)).json();
    let items = seen["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{seen}");
    assert_eq!(items[0]["client_id"], "v-2");
    let all = w
        .srv
        .get(&format!("/api/v1/rounds/{}/flagged", w.round))
        .json();
    assert_eq!(all["items"].as_array().unwrap().len(), 3, "{all}");
    assert!(all["items"][0]["name"].is_string(), "{all}");
}

#[tokio::test]
async fn a_station_enrols_once_scans_at_its_point_and_survives_revocation_without_losing_scans() {
    let w = setup("100").await;
    let srv = &w.srv;
    // The point's manager issues a one-time enrolment code (shown once).
    let issued = srv.post(
        &format!("/api/v1/points/{}/stations", w.points[0]),
        &json!({ "label": "1号台" }),
    );
    assert_eq!(issued.status, 201, "{}", issued.body);
    let code = issued.json()["enroll_code"].as_str().unwrap().to_string();
    let station = issued.json()["station"].as_str().unwrap().to_string();
    let enrolled = srv
        .anonymous()
        .post("/api/v1/enroll", &json!({ "code": code }));
    assert_eq!(enrolled.status, 200, "{}", enrolled.body);
    let token = enrolled.json()["token"].as_str().unwrap().to_string();
    // The code works once.
    assert_eq!(
        srv.anonymous()
            .post("/api/v1/enroll", &json!({ "code": code }))
            .status,
        404
    );
    // Stored hashed: neither the code nor the token is in the database.
    let store = w.env.store().await;
    if let gw_store::Pool::Sqlite(p) = &store.pool {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM station WHERE token_hash = $1 OR enroll_hash = $2",
        )
        .bind(&token)
        .bind(&code)
        .fetch_one(p)
        .await
        .unwrap();
        assert_eq!(n, 0);
    }

    let st = srv.with_token(&token);
    let tube = st.post(
        &format!("/api/v1/points/{}/tubes", w.points[0]),
        &json!({ "barcode": "S0000001" }),
    );
    assert_eq!(tube.status, 201, "{}", tube.body);
    let tube = tube.json()["id"].as_str().unwrap().to_string();
    // Sent with no station name (or another's): stored under the station
    // its token names, which the points' measured rates count by.
    let ok = st.post(
        &format!("/api/v1/tubes/{tube}/scans"),
        &json!({ "client_id": "q-0", "code": w.codes[0].1, "station": "别的台" }),
    );
    assert_eq!(ok.status, 200);
    let sql = "SELECT station FROM registration WHERE client_id = 'q-0'";
    let stored: String = match &store.pool {
        gw_store::Pool::Sqlite(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
        gw_store::Pool::Postgres(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
    };
    assert_eq!(stored, station);
    // Only its own point; no registry.
    assert_eq!(
        st.post(
            &format!("/api/v1/points/{}/tubes", w.points[1]),
            &json!({ "barcode": "S0000002" })
        )
        .status,
        403
    );
    assert_eq!(st.get("/api/v1/residents").status, 403);
    assert_eq!(st.get("/api/v1/territory").status, 403);

    // Revoked: refused with 401 (the station keeps its queue: q-1..q-3 are waiting).
    assert_eq!(
        srv.post(&format!("/api/v1/stations/{station}/revoke"), &json!({}))
            .status,
        200
    );
    let refused = st.post(
        &format!("/api/v1/tubes/{tube}/scans"),
        &json!({ "client_id": "q-1", "code": w.codes[1].1 }),
    );
    assert_eq!(refused.status, 401);
    assert!(refused.body.contains("enrol it again"), "{}", refused.body);
    // Enrolled again, it replays the whole queue, q-0 included: each applied exactly once.
    let code2 = srv
        .post(
            &format!("/api/v1/points/{}/stations", w.points[0]),
            &json!({}),
        )
        .json()["enroll_code"]
        .as_str()
        .unwrap()
        .to_string();
    let token2 = srv
        .anonymous()
        .post("/api/v1/enroll", &json!({ "code": code2 }))
        .json()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let st2 = srv.with_token(&token2);
    let mut replays = 0;
    for i in 0..4 {
        let r = st2
            .post(
                &format!("/api/v1/tubes/{tube}/scans"),
                &json!({ "client_id": format!("q-{i}"), "code": w.codes[i].1 }),
            )
            .json();
        if r["replay"] == true {
            replays += 1;
        }
        assert_eq!(r["tube_fill"], i + 1, "{r}");
    }
    assert_eq!(replays, 1, "only q-0 had been stored before");
    let ev = store.audit_events(None, None, None, 100).await.unwrap();
    assert!(
        ev.iter().any(|e| e.action == "issue_station")
            && ev.iter().any(|e| e.action == "revoke_station")
            && ev.iter().any(|e| e.action == "enroll_station")
    );
}

#[tokio::test]
async fn an_abnormal_pool_is_traced_to_exactly_its_members() {
    let w = setup("200").await;
    let srv = &w.srv;
    let t1 = tube(srv, &w.points[0], "P0000001");
    let t2 = tube(srv, &w.points[0], "P0000002");
    let t3 = tube(srv, &w.points[1], "P0000003");
    for i in 0..10 {
        scan(srv, &t1, &format!("a{i}"), &w.codes[i].1);
        scan(srv, &t2, &format!("b{i}"), &w.codes[10 + i].1);
    }
    for i in 0..5 {
        scan(srv, &t3, &format!("c{i}"), &w.codes[20 + i].1);
    }
    srv.post(&format!("/api/v1/tubes/{t3}/close"), &json!({}));
    // A swab whose code could not be read went into the first tube too.
    scan(srv, &t1, "a-unread", "GW1-unreadable");
    // The lab uploads; only the lab (and street command) may.
    let lab_pw = w.env.account("lab", "lab", &["--street", "鸿城街道"]);
    let mut lab = w.env.serve();
    lab.token = Some(lab.login("lab", &lab_pw));
    let results = json!({ "results": [
        { "barcode": "p0000001", "result": "阳性" },
        { "barcode": "P0000002", "result": "negative" },
        { "barcode": "P0000003", "result": "invalid" }
    ] });
    // A barcode that is no tube of the round refuses the whole request.
    let mut with_unknown = results.clone();
    with_unknown["results"]
        .as_array_mut()
        .unwrap()
        .push(json!({ "barcode": "NOSUCH01", "result": "negative" }));
    let refused = lab.post(
        &format!("/api/v1/rounds/{}/results", w.round),
        &with_unknown,
    );
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(refused.body.contains("NOSUCH01"), "{}", refused.body);
    let r = lab.post(&format!("/api/v1/rounds/{}/results", w.round), &results);
    assert_eq!(r.status, 200, "{}", r.body);
    let sum = r.json();
    assert_eq!(sum["recorded"], 3);
    // The lab learns how many people the pool holds, not who they are.
    let lab_alert = &sum["alerts"][0];
    assert_eq!(lab_alert["members"], json!([]), "{lab_alert}");
    assert_eq!(lab_alert["member_count"], 10);
    assert_eq!(lab_alert["unidentified"], 1);
    // The street's commander sees them.
    let alerts = srv
        .get(&format!("/api/v1/rounds/{}/alerts", w.round))
        .json();
    let alert = &alerts["alerts"][0];
    assert_eq!(alert["barcode"], "P0000001", "{alerts}");
    let members: std::collections::BTreeSet<String> = alert["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect();
    let expected: std::collections::BTreeSet<String> =
        w.codes[..10].iter().map(|c| c.0.clone()).collect();
    assert_eq!(
        members, expected,
        "exactly the ten people in the abnormal tube"
    );
    assert_eq!(alert["retests_open"], 10);
    // Their households are under temporary control now.
    let store = w.env.store().await;
    let hh: gw_domain::ids::Key = alert["members"][0]["household"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let orders = store
        .control_history(
            hh.street,
            gw_domain::territory::ControlTarget::Household,
            hh.id,
        )
        .await
        .unwrap();
    assert!(
        orders
            .iter()
            .any(|o| o.order.status == gw_domain::territory::ControlStatus::Temporary),
        "{orders:?}"
    );
    assert!(alert["households_under_control"].as_u64().unwrap() >= 1);
    // A member comes to a point for a routine swab: the station is told, at
    // once, to swab them alone for the retest; it always says who it was
    // (masked), so the volunteer can check the code is the person's.
    let t4 = tube(srv, &w.points[1], "P0000004");
    let member = scan(srv, &t4, "d0", &w.codes[0].1);
    assert!(
        member["alert"]
            .as_str()
            .is_some_and(|a| a.contains("single-tube retest")),
        "{member}"
    );
    let other = scan(srv, &t4, "d1", &w.codes[30].1);
    assert_eq!(other["alert"], Value::Null, "{other}");
    let person = other["person"].as_str().unwrap_or_default().to_string();
    assert!(
        person.contains('*') && person.ends_with('岁'),
        "masked name, sex, age: {other}"
    );
    let full = srv
        .get(&format!("/api/v1/residents/{}", w.codes[30].0))
        .json();
    let name = full["name"].as_str().unwrap_or_default().to_string();
    assert!(
        !name.is_empty() && !person.contains(&name),
        "{person} / {full}"
    );
    // The invalid tube's five members are to be re-sampled.
    let k3: gw_domain::ids::Key = t3.parse().unwrap();
    assert_eq!(
        store
            .follow_ups(k3.street, k3.id, "resample")
            .await
            .unwrap()
            .len(),
        5
    );
    // A replayed upload changes nothing and raises no second alert.
    let again = lab
        .post(&format!("/api/v1/rounds/{}/results", w.round), &results)
        .json();
    assert_eq!(again["recorded"], 0);
    assert_eq!(again["already"].as_array().unwrap().len(), 3);
    // A different result for a tube that has one is refused whole: the
    // negative tube stays negative, and the new tube beside it waits too.
    let changed = lab.post(
        &format!("/api/v1/rounds/{}/results", w.round),
        &json!({ "results": [
            { "barcode": "P0000002", "result": "abnormal" },
            { "barcode": "NOSUCH02", "result": "negative" }
        ] }),
    );
    assert_eq!(changed.status, 409, "{}", changed.body);
    assert!(
        changed.body.contains("P0000002: negative → abnormal"),
        "{}",
        changed.body
    );
    // One tube twice in one request with two results: refused as that.
    let twice = lab.post(
        &format!("/api/v1/rounds/{}/results", w.round),
        &json!({ "results": [
            { "barcode": "P0000009", "result": "negative" },
            { "barcode": "p0000009", "result": "abnormal" }
        ] }),
    );
    assert_eq!(twice.status, 400, "{}", twice.body);
    assert!(twice.body.contains("appears twice"), "{}", twice.body);
    assert_eq!(
        srv.get(&format!("/api/v1/rounds/{}/alerts", w.round))
            .json()["alerts"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // The lab sees tubes and results, not people.
    assert_eq!(lab.get("/api/v1/residents").status, 403);
    assert_eq!(
        lab.get(&format!("/api/v1/rounds/{}/alerts", w.round))
            .status,
        403
    );
}

#[tokio::test]
async fn retests_and_re_samples_are_taken_after_sampling_closes_and_close_their_follow_ups() {
    let w = setup("100").await;
    let srv = &w.srv;
    let t1 = tube(srv, &w.points[0], "R0000001");
    let t2 = tube(srv, &w.points[0], "R0000002");
    for i in 0..3 {
        scan(srv, &t1, &format!("p{i}"), &w.codes[i].1);
        scan(srv, &t2, &format!("q{i}"), &w.codes[3 + i].1);
    }
    let closed = srv.post(
        &format!("/api/v1/rounds/{}/state", w.round),
        &json!({ "to": "sampling_closed" }),
    );
    assert_eq!(closed.status, 200, "{}", closed.body);
    let r = srv.post(
        &format!("/api/v1/rounds/{}/results", w.round),
        &json!({ "results": [{ "barcode": "R0000001", "result": "abnormal" }, { "barcode": "R0000002", "result": "invalid" }] }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["alerts"][0]["retests_open"], 3);

    // Sampling is closed: no new pooled tube, but a station's replay of a
    // tube it opened offline is recorded, with a warning.
    let open = |body: Value| srv.post(&format!("/api/v1/points/{}/tubes", w.points[0]), &body);
    assert_eq!(open(json!({ "barcode": "R0000003" })).status, 400);
    let late = open(json!({ "barcode": "R0000003", "reuse": true }));
    assert_eq!(late.status, 201, "{}", late.body);
    assert!(
        late.json()["warning"]
            .as_str()
            .unwrap()
            .contains("sampling closed"),
        "{}",
        late.body
    );

    // Single-tube retests: one swab to a tube.
    let mut retests = Vec::new();
    for i in 0..3 {
        let b = format!("S{i:07}");
        let t = open(json!({ "barcode": b, "purpose": "retest" }));
        assert_eq!(t.status, 201, "{}", t.body);
        let t = t.json()["id"].as_str().unwrap().to_string();
        let o = srv.post(
            &format!("/api/v1/tubes/{t}/scans"),
            &json!({ "client_id": format!("rt{i}"), "code": w.codes[i].1, "purpose": "retest" }),
        ).json();
        assert_eq!(
            (o["pool_size"].as_i64(), o["problem"].as_str()),
            (Some(1), Some("")),
            "{o}"
        );
        // The lab cannot read the third: the member must be swabbed again.
        let result = if i == 2 { "invalid" } else { "negative" };
        retests.push(json!({ "barcode": b, "result": result }));
        if i == 0 {
            let extra = srv
                .post(
                    &format!("/api/v1/tubes/{t}/scans"),
                    &json!({ "client_id": "rt-extra", "code": w.codes[50].1, "purpose": "retest" }),
                )
                .json();
            // Full at one swab, the tube closed itself: the extra swab is stored, flagged.
            assert!(
                extra["problem"]
                    .as_str()
                    .unwrap()
                    .contains("tube is closed"),
                "{extra}"
            );
        }
    }
    // A routine swab now is stored but flagged: the round is not sampling.
    let late_scan = srv
        .post(
            &format!(
                "/api/v1/tubes/{}/scans",
                late.json()["id"].as_str().unwrap()
            ),
            &json!({ "client_id": "late-1", "code": w.codes[60].1 }),
        )
        .json();
    assert!(
        late_scan["problem"]
            .as_str()
            .unwrap()
            .contains("sampling closed"),
        "{late_scan}"
    );

    // The invalid tube's members are on the re-sample list of their grid.
    let store = w.env.store().await;
    let k: gw_domain::ids::Key = w.codes[3].0.parse().unwrap();
    let grid = store
        .resident(k.street, k.id)
        .await
        .unwrap()
        .grid_id
        .unwrap();
    let list = |srv: &Server| -> Vec<(String, String)> {
        srv.get(&format!(
            "/api/v1/rounds/{}/resamples?grid={}-{grid}",
            w.round, k.street
        ))
        .json()["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                (
                    i["resident"]["id"].as_str().unwrap().to_string(),
                    i["state"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let open_now: Vec<_> = list(srv)
        .into_iter()
        .filter(|(_, s)| s == "open")
        .map(|(id, _)| id)
        .collect();
    for i in 3..6 {
        assert!(open_now.contains(&w.codes[i].0), "{open_now:?}");
    }
    let rs = open(json!({ "barcode": "U0000001", "purpose": "resample" }));
    assert_eq!(rs.status, 201, "{}", rs.body);
    let rs = rs.json()["id"].as_str().unwrap().to_string();
    for i in 3..6 {
        let o = srv.post(
            &format!("/api/v1/tubes/{rs}/scans"),
            &json!({ "client_id": format!("rs{i}"), "code": w.codes[i].1, "purpose": "resample" }),
        ).json();
        assert_eq!(o["problem"], "", "{o}");
    }
    // Swabbed again, the result not in yet: nobody calls them back.
    let now: Vec<_> = list(srv)
        .into_iter()
        .filter(|(id, _)| (3..6).any(|i| *id == w.codes[i].0))
        .collect();
    assert!(
        now.len() == 3 && now.iter().all(|(_, s)| s == "swabbed"),
        "{now:?}"
    );
    retests.push(json!({ "barcode": "U0000001", "result": "negative" }));
    retests.push(json!({ "barcode": "R0000003", "result": "negative" }));
    let done = srv.post(
        &format!("/api/v1/rounds/{}/results", w.round),
        &json!({ "results": retests }),
    );
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(
        list(srv).iter().all(|(_, s)| s == "resampled"),
        "{:?}",
        list(srv)
    );
    let cli: Value = serde_json::from_str(&w.env.cli_ok(&[
        "round",
        "resamples",
        &w.round,
        "--grid",
        &format!("{}-{grid}", k.street),
        "--json",
    ]))
    .unwrap();
    assert_eq!(cli["items"].as_array().unwrap().len(), list(srv).len());
    // An invalid retest keeps the member's retest open (no pooled re-sample):
    // the abnormal pool is not cleared yet.
    let alerts = srv
        .get(&format!("/api/v1/rounds/{}/alerts", w.round))
        .json();
    assert_eq!(alerts["alerts"][0]["state"], "open", "{alerts}");
    assert_eq!(alerts["alerts"][0]["retests_open"], 1, "{alerts}");
    assert!(!list(srv).iter().any(|(id, _)| id == &w.codes[2].0));
    // Results are complete, but the round cannot close with a retest open.
    let move_to = |to: &str| {
        srv.post(
            &format!("/api/v1/rounds/{}/state", w.round),
            &json!({ "to": to }),
        )
    };
    let m = move_to("results_complete");
    assert_eq!(m.status, 200, "{}", m.body);
    let m = move_to("closed");
    assert_eq!(m.status, 400, "{}", m.body);
    assert!(
        m.body.contains("1 retest(s) and 0 re-sample(s)"),
        "{}",
        m.body
    );
    // Swabbed again into a single tube: negative, the pool is cleared, the round closes.
    let t = open(json!({ "barcode": "S0000009", "purpose": "retest" }));
    assert_eq!(t.status, 201, "{}", t.body);
    let t = t.json()["id"].as_str().unwrap().to_string();
    let o = srv
        .post(
            &format!("/api/v1/tubes/{t}/scans"),
            &json!({ "client_id": "rt2-again", "code": w.codes[2].1, "purpose": "retest" }),
        )
        .json();
    assert_eq!(o["problem"], "", "{o}");
    let r = srv.post(
        &format!("/api/v1/rounds/{}/results", w.round),
        &json!({ "results": [{ "barcode": "S0000009", "result": "negative" }] }),
    );
    assert_eq!(r.json()["retests_resolved"], 1, "{}", r.body);
    let alerts = srv
        .get(&format!("/api/v1/rounds/{}/alerts", w.round))
        .json();
    assert_eq!(alerts["alerts"][0]["state"], "cleared", "{alerts}");
    let m = move_to("closed");
    assert_eq!(m.status, 200, "{}", m.body);
}

#[tokio::test]
async fn a_street_sets_its_tube_barcode_rule_and_its_labs_largest_pool() {
    let w = setup("100").await;
    let srv = &w.srv;
    let street = w.codes[0].0.split('-').next().unwrap().to_string();
    let path = format!("/api/v1/streets/{street}/testing-settings");
    let now = srv.get(&path).json();
    assert_eq!(
        (
            &now["tube_min_len"],
            &now["tube_max_len"],
            &now["tube_check"],
            &now["lab_max_pool"]
        ),
        (&json!(8), &json!(20), &json!("none"), &json!(20)),
        "{now}"
    );
    // Refused whole: nothing changes.
    for bad in [
        json!({ "tube_min_len": 12, "tube_max_len": 10 }),
        json!({ "tube_check": "mod11" }),
        json!({ "lab_max_pool": 8 }),
    ] {
        let r = srv.post(&path, &bad);
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
    }
    assert_eq!(srv.get(&path).json(), now);
    // Tubes issued as plain numbers before the street takes a check digit.
    let numbered = srv.post(
        &format!("/api/v1/points/{}/supplies", w.points[0]),
        &json!({ "kind": "tubes", "first_barcode": "10000000000", "last_barcode": "10000000099" }),
    );
    assert_eq!(numbered.status, 201, "{}", numbered.body);
    assert_eq!(numbered.json()["quantity"], 100);
    // The lab's tubes: 11 digits with a Luhn check digit; it takes pools of 5 at most.
    let set = srv.post(
        &path,
        &json!({ "tube_min_len": 11, "tube_max_len": 11, "tube_check": "luhn", "lab_max_pool": 5 }),
    );
    assert_eq!(set.status, 200, "{}", set.body);
    let open = |barcode: &str| {
        srv.post(
            &format!("/api/v1/points/{}/tubes", w.points[0]),
            &json!({ "barcode": barcode }),
        )
    };
    let misread = open("79927398710");
    assert_eq!(misread.status, 400);
    assert!(misread.body.contains("check digit"), "{}", misread.body);
    assert_eq!(
        open("T0000001").status,
        400,
        "the old shape no longer passes"
    );
    // A station that opened it offline under the old rule still gets it, flagged.
    let replayed = srv.post(
        &format!("/api/v1/points/{}/tubes", w.points[0]),
        &json!({ "barcode": "T0000001", "reuse": true }),
    );
    assert_eq!(replayed.status, 201, "{}", replayed.body);
    assert!(
        replayed.json()["warning"]
            .as_str()
            .unwrap()
            .contains("it must be 11 characters"),
        "{}",
        replayed.body
    );
    assert_eq!(open("79927398713").status, 201);
    // A station at the other point opened a tube with the same label while
    // offline: its swabs are in it, so it is kept under a marked barcode and
    // flagged, never refused; replayed again, the same tube.
    let clash = || {
        srv.post(
            &format!("/api/v1/points/{}/tubes", w.points[1]),
            &json!({ "barcode": "79927398713", "reuse": true }),
        )
    };
    let kept = clash();
    assert_eq!(kept.status, 201, "{}", kept.body);
    assert!(kept.body.contains("already used at point"), "{}", kept.body);
    let kept_id = kept.json()["id"].as_str().unwrap().to_string();
    let again = clash();
    assert_eq!(again.json()["id"], kept_id.as_str(), "{}", again.body);
    let swab = scan(srv, &kept_id, "clash-1", &w.codes[40].1);
    assert_eq!(swab["resident"], w.codes[40].0.as_str(), "{swab}");
    // Its marked barcode waits for a result: the round's results cannot be
    // complete before someone checks the tube.
    let k: gw_domain::ids::Key = kept_id.parse().unwrap();
    let point1: gw_domain::ids::Key = w.points[1].parse().unwrap();
    assert_eq!(
        w.env
            .store()
            .await
            .tube(k.street, k.id)
            .await
            .unwrap()
            .barcode,
        format!("79927398713~{}", point1.id)
    );
    // Packed at its point by the label printed on it: the point's own tube.
    let closed = srv.post(&format!("/api/v1/tubes/{kept_id}/close"), &json!({}));
    assert_eq!(closed.status, 200, "{}", closed.body);
    let bag = srv.post(
        &format!("/api/v1/points/{}/bags", w.points[1]),
        &json!({ "barcode": "BAGCLASH01", "tubes": ["79927398713"], "counted_tubes": 1 }),
    );
    assert_eq!(bag.status, 201, "{}", bag.body);
    // The lab names it by its kept barcode.
    let r = srv.post(
        &format!("/api/v1/rounds/{}/results", w.round),
        &json!({ "results": [{ "barcode": format!("79927398713~{}", point1.id), "result": "negative" }] }),
    );
    assert_eq!(r.json()["recorded"], 1, "{}", r.body);
    // Tubes issued by range under the check-digit rule: the range numbers
    // the serials, so 100 tubes are 100, not the ~1,000 numbers between the
    // two barcodes; an end whose check digit is wrong is refused.
    let luhn = |serial: &str| {
        (0..10)
            .map(|d| format!("{serial}{d}"))
            .find(|b| gw_domain::testing::luhn_ok(b))
            .unwrap()
    };
    let (first, last) = (luhn("7992739800"), luhn("7992739899"));
    let supplied = srv.post(
        &format!("/api/v1/points/{}/supplies", w.points[0]),
        &json!({ "kind": "tubes", "first_barcode": first, "last_barcode": last, "quantity": 100 }),
    );
    assert_eq!(supplied.status, 201, "{}", supplied.body);
    assert_eq!(supplied.json()["quantity"], 100, "{}", supplied.body);
    let mut misread = last.clone().into_bytes();
    let end = misread.len() - 1;
    misread[end] = b'0' + (misread[end] - b'0' + 1) % 10;
    let misread = String::from_utf8(misread).unwrap();
    let refused = srv.post(
        &format!("/api/v1/points/{}/supplies", w.points[0]),
        &json!({ "kind": "tubes", "first_barcode": first, "last_barcode": misread }),
    );
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(refused.body.contains("check digit"), "{}", refused.body);
    // A batch no barcode of this street can start with (letters under the
    // Luhn rule; as long as a whole barcode): refused, saying why.
    for batch in ["B2026", "79927398000"] {
        let refused = srv.post(
            &format!("/api/v1/points/{}/supplies", w.points[0]),
            &json!({ "kind": "tubes", "batch": batch, "quantity": 500 }),
        );
        assert_eq!(refused.status, 400, "{batch}: {}", refused.body);
        assert!(
            refused.body.contains("none can start with it"),
            "{}",
            refused.body
        );
    }
    // A tube of the range opens without a warning.
    let in_range = open(&luhn("7992739850"));
    assert_eq!(in_range.status, 201, "{}", in_range.body);
    assert!(in_range.json()["warning"].is_null(), "{}", in_range.body);
    // So does one of the range issued before the rule changed (its ends have
    // no check digit: it still counts as numbers).
    let older = open(&luhn("1000000005"));
    assert_eq!(older.status, 201, "{}", older.body);
    assert!(older.json()["warning"].is_null(), "{}", older.body);
    // A station learns the rule when it enrols, to check tubes offline.
    let issued = srv.post(
        &format!("/api/v1/points/{}/stations", w.points[0]),
        &json!({ "label": "2号台" }),
    );
    let code = issued.json()["enroll_code"].as_str().unwrap().to_string();
    let enrolled = srv
        .anonymous()
        .post("/api/v1/enroll", &json!({ "code": code }))
        .json();
    assert_eq!(
        (&enrolled["tube_min_len"], &enrolled["tube_check"]),
        (&json!(11), &json!("luhn"))
    );
    // A round pooling more than the lab takes is refused; advice stays within it.
    let r = srv.post(
        "/api/v1/rounds",
        &round_body(street.parse().unwrap(), "第2轮"),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("at most 5"), "{}", r.body);
    let advice = srv
        .get(&format!("/api/v1/streets/{street}/pool-advice?lab_max=20"))
        .json();
    assert_eq!(advice["lab_max"], 5);
    // The CLI shows and changes the same settings.
    let out = w
        .env
        .cli_ok(&["round", "settings", "--street", "鸿城街道", "--json"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (&v["tube_check"], &v["lab_max_pool"]),
        (&json!("luhn"), &json!(5))
    );
    let out = w.env.cli_ok(&[
        "round",
        "settings",
        "--street",
        "鸿城街道",
        "--tube-length",
        "8-20",
        "--tube-check",
        "none",
        "--lab-max-pool",
        "10",
    ]);
    assert!(out.contains("8–20") && out.contains("none"), "{out}");
    assert_eq!(open("T0000002").status, 201);
    // The tube opened under the earlier rule still takes its result from the lab.
    let r = srv.post(
        &format!("/api/v1/rounds/{}/results", w.round),
        &json!({ "results": [{ "barcode": "79927398713", "result": "negative" }] }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["recorded"], 1, "{}", r.body);
    let bad = w.env.cli(&[
        "round",
        "settings",
        "--street",
        "鸿城街道",
        "--tube-length",
        "3-9",
    ]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("4..=40"));
}

#[tokio::test]
async fn door_to_door_lists_and_pool_advice() {
    let w = setup("200").await;
    let srv = &w.srv;
    // Seal the building of resident 0; sample resident 0 at a point anyway (scanned at the door).
    let r0 = srv
        .get(&format!("/api/v1/residents/{}", w.codes[0].0))
        .json();
    let building = r0["building"].as_str().unwrap().to_string();
    let sealed = srv.post("/api/v1/control", &json!({ "target_kind": "building", "target_id": building, "status": "sealed", "reason": "封控" }));
    assert_eq!(sealed.status, 201);
    let t = tube(srv, &w.points[0], "D0000001");
    srv.post(
        &format!("/api/v1/tubes/{t}/scans"),
        &json!({ "client_id": "d0", "code": w.codes[0].1, "purpose": "door_to_door" }),
    );
    let store = w.env.store().await;
    let k0: gw_domain::ids::Key = w.codes[0].0.parse().unwrap();
    let row = store.resident(k0.street, k0.id).await.unwrap();
    let grid = format!("{}-{}", row.street_id, row.grid_id.unwrap());
    let list = srv
        .get(&format!(
            "/api/v1/rounds/{}/door-to-door?grid={grid}",
            w.round
        ))
        .json();
    let floors = list["floors"].as_array().unwrap();
    let ids: Vec<String> = floors
        .iter()
        .flat_map(|f| {
            f["residents"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["id"].as_str().unwrap().to_string())
        })
        .collect();
    // Everyone else of the sealed building is on the list; the sampled resident is not.
    let in_building = srv
        .get(&format!("/api/v1/residents?building={building}&limit=1000"))
        .json();
    for r in in_building["items"].as_array().unwrap() {
        let id = r["id"].as_str().unwrap();
        assert_eq!(ids.contains(&id.to_string()), id != w.codes[0].0, "{id}");
    }
    // Grouped by building and floor, floors from room numbers; a group is
    // one building (every compound has a 1号楼), named with its compound.
    assert!(floors.iter().all(|f| f["floor"].is_number()));
    for f in floors {
        for r in f["residents"].as_array().unwrap() {
            assert_eq!(r["building"], f["building_id"], "{f}");
        }
        let name = f["building"].as_str().unwrap();
        assert!(name.contains(' ') && name.ends_with('楼'), "{name}");
    }
    // The CLI gives the same list.
    let cli: Value = serde_json::from_str(&w.env.cli_ok(&[
        "round",
        "door-to-door",
        &w.round,
        "--grid",
        &grid,
        "--json",
    ]))
    .unwrap();
    assert_eq!(cli["floors"], list["floors"]);
    // Everyone flagged "cannot go downstairs" in the grid is on it too.
    for r in srv
        .get(&format!(
            "/api/v1/residents?grid={grid}&flag=cannot_go_downstairs&limit=1000"
        ))
        .json()["items"]
        .as_array()
        .unwrap()
    {
        let id = r["id"].as_str().unwrap().to_string();
        assert!(
            ids.contains(&id) || id == w.codes[0].0,
            "{id} missing from {ids:?}"
        );
    }
    // The seal is lifted to precaution by a later order (as the schedule
    // reads it, the latest order in force decides): the building's people go
    // back to the call-down, only those who cannot go downstairs stay listed.
    std::thread::sleep(std::time::Duration::from_millis(5));
    let lifted = srv.post("/api/v1/control", &json!({ "target_kind": "building", "target_id": building, "status": "precaution", "reason": "解封" }));
    assert_eq!(lifted.status, 201, "{}", lifted.body);
    let after = srv
        .get(&format!(
            "/api/v1/rounds/{}/door-to-door?grid={grid}",
            w.round
        ))
        .json();
    let immobile: Vec<String> = srv
        .get(&format!(
            "/api/v1/residents?grid={grid}&flag=cannot_go_downstairs&limit=1000"
        ))
        .json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    let listed: Vec<String> = after["floors"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| f["residents"].as_array().unwrap().clone())
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    assert!(listed.len() < ids.len(), "{listed:?}");
    assert!(listed.iter().all(|id| immobile.contains(id)), "{listed:?}");
    // Someone bedridden who moved into the grid after the round opened is
    // on the list too (not in the snapshot, still not to be missed).
    let mut bedridden = gw_domain::resident::NewResident::named("新搬来");
    bedridden
        .flags
        .set(gw_domain::resident::Flag::CannotGoDownstairs);
    let mut tx = store.begin().await.unwrap();
    let added = tx
        .insert_residents(
            row.street_id,
            &[gw_store::import::ResidentWrite {
                uid: "bedridden-newcomer".into(),
                household_id: row.household_id,
                resident: &bedridden,
                status: "active",
            }],
            gw_app::Clock::System.now_ms() + 1,
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let newcomer = format!("{}-{}", row.street_id, added["bedridden-newcomer"]);
    let with_newcomer = srv
        .get(&format!(
            "/api/v1/rounds/{}/door-to-door?grid={grid}",
            w.round
        ))
        .json();
    assert!(
        with_newcomer.to_string().contains(&newcomer),
        "{newcomer} missing: {with_newcomer}"
    );
    // Resident 1 went down to a point; the door-to-door team swabs them again:
    // stored, flagged, told where the first was; counted once.
    let t1 = tube(srv, &w.points[1], "D0000002");
    let at_point = scan(srv, &t1, "p1", &w.codes[1].1);
    assert!(at_point["duplicate_of"].is_null());
    let at_door = srv
        .post(
            &format!("/api/v1/tubes/{t}/scans"),
            &json!({ "client_id": "d1", "code": w.codes[1].1, "purpose": "door_to_door" }),
        )
        .json();
    assert_eq!(
        at_door["duplicate_of"]["registration"], at_point["registration"],
        "{at_door}"
    );
    assert_eq!(at_door["duplicate_of"]["point"], w.points[1].as_str());
    // And the other way round: resident 0, swabbed at the door, comes down to a point.
    let later = scan(srv, &t1, "p0", &w.codes[0].1);
    assert!(!later["duplicate_of"].is_null(), "{later}");

    // Pool advice: nothing to go on yet, then from results.
    let street = w.codes[0].0.split('-').next().unwrap().to_string();
    let none = srv
        .get(&format!("/api/v1/streets/{street}/pool-advice"))
        .json();
    assert!(none["advice"].is_null());
    let mut results = Vec::new();
    for i in 0..20 {
        let t = tube(srv, &w.points[1], &format!("E{i:07}"));
        for j in 0..10 {
            srv.post(
                &format!("/api/v1/tubes/{t}/scans"),
                &json!({ "client_id": format!("e{i}-{j}"), "code": w.codes[(i * 10 + j) % 200].1 }),
            );
        }
        results.push(json!({ "barcode": format!("E{i:07}"), "result": if i == 0 { "abnormal" } else { "negative" } }));
    }
    assert_eq!(
        srv.post(
            &format!("/api/v1/rounds/{}/results", w.round),
            &json!({ "results": results })
        )
        .json()["recorded"],
        20
    );
    let advice = srv
        .get(&format!("/api/v1/streets/{street}/pool-advice?lab_max=20"))
        .json();
    let p = advice["prevalence"].as_f64().unwrap();
    assert!((p - (1.0 - 0.95f64.powf(0.1))).abs() < 1e-9, "{advice}");
    assert_eq!(advice["tubes_seen"], 20);
    assert_eq!(advice["swabs_seen"], 200);
    assert!(advice["advice"]["pool_size"].as_u64().unwrap() >= 5);
    // The command line gives the same, and keeps within a smaller limit.
    let cli: Value = serde_json::from_str(&w.env.cli_ok(&[
        "round",
        "pool-advice",
        "--street",
        "鸿城街道",
        "--lab-max",
        "5",
        "--json",
    ]))
    .unwrap();
    assert_eq!(cli["lab_max"], 5, "{cli}");
    assert_eq!(cli["prevalence"], advice["prevalence"]);
    assert!(cli["advice"]["pool_size"].as_u64().unwrap() <= 5, "{cli}");
    // It says which rounds it read; a limit no pool has is refused.
    assert_eq!(advice["rounds"], json!([w.round.as_str()]), "{advice}");
    let zero = srv.get(&format!("/api/v1/streets/{street}/pool-advice?lab_max=0"));
    assert_eq!(zero.status, 400, "{}", zero.body);
    // Newest means opened last, not planned last: a round planned for later
    // but opened first (here the first round, its plan moved on) comes after
    // the one opened since.
    let (second, _) = crate::harness::open_round(
        |p, b| srv.post(p, b),
        &crate::harness::round_body(street.parse::<i64>().unwrap(), "全员核酸第2轮"),
    );
    let street_id: i64 = street.parse().unwrap();
    let community = store.communities(None, Some(street_id)).await.unwrap()[0].id;
    let p2 = srv.post(
        &format!("/api/v1/rounds/{second}/points"),
        &json!({ "name": "二轮采样点", "community": format!("{street}-{community}") }),
    );
    assert_eq!(p2.status, 201, "{}", p2.body);
    let t2 = tube(srv, p2.json()["id"].as_str().unwrap(), "F0000001");
    scan(srv, &t2, "f0", &w.codes[5].1);
    let r = srv.post(
        &format!("/api/v1/rounds/{second}/results"),
        &json!({ "results": [{ "barcode": "F0000001", "result": "negative" }] }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let first_id = w.round.split('-').nth(1).unwrap();
    crate::harness::exec(
        &store,
        &format!("UPDATE testing_round SET starts_ms = 86400000 WHERE id = {first_id}"),
    )
    .await;
    let advice = srv
        .get(&format!("/api/v1/streets/{street}/pool-advice"))
        .json();
    assert_eq!(
        advice["rounds"],
        json!([second.as_str(), w.round.as_str()]),
        "{advice}"
    );
}

#[tokio::test]
async fn a_walk_in_is_registered_once_as_a_pending_resident() {
    let w = setup("100").await;
    let t = tube(&w.srv, &w.points[0], "W0000001");
    let body = json!({ "client_id": "walk-1", "code": "", "walk_in": { "name": "过路人", "phone": "139 0431 0000" } });
    let r = w
        .srv
        .post(&format!("/api/v1/tubes/{t}/scans"), &body)
        .json();
    assert!(r["problem"].as_str().unwrap().contains("walk-in"), "{r}");
    let who = r["resident"].as_str().unwrap().to_string();
    // Replayed: the same registration, no second pending resident.
    let again = w
        .srv
        .post(&format!("/api/v1/tubes/{t}/scans"), &body)
        .json();
    assert_eq!(again["replay"], true);
    let pending = w.srv.get("/api/v1/residents?status=pending").json();
    let items = pending["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], who.as_str());
    assert_eq!(items[0]["phones"][0]["number"], "139****0000");
    // A walk-in needs a name.
    let nameless = w.srv.post(
        &format!("/api/v1/tubes/{t}/scans"),
        &json!({ "client_id": "walk-2", "walk_in": { "name": " " } }),
    );
    assert_eq!(nameless.status, 400);

    // Two walk-ins turn out to be registered residents: one not yet sampled,
    // one already swabbed at the other point. Their swabs go with them: the
    // first now counts as sampled, the second counts once, flagged.
    let coverage = |srv: &Server| {
        srv.get(&format!("/api/v1/rounds/{}/coverage", w.round))
            .json()["sampled"]
            .as_i64()
            .unwrap()
    };
    let t2 = tube(&w.srv, &w.points[1], "W0000002");
    scan(&w.srv, &t2, "known-1", &w.codes[6].1);
    assert_eq!(coverage(&w.srv), 1);
    let second = w
        .srv
        .post(
            &format!("/api/v1/tubes/{t}/scans"),
            &json!({ "client_id": "walk-3", "walk_in": { "name": "又一位" } }),
        )
        .json();
    let who2 = second["resident"].as_str().unwrap().to_string();
    // The command line lists both, masked.
    let pending = || -> Value {
        serde_json::from_str(&w.env.cli_ok(&[
            "resident",
            "pending",
            "--street",
            "鸿城街道",
            "--json",
        ]))
        .unwrap()
    };
    let listed = pending();
    let ids: std::collections::BTreeSet<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [who.as_str(), who2.as_str()].into(), "{listed}");
    assert!(!listed.to_string().contains("13904310000"), "{listed}");
    // Cut short, the list still says how many there are.
    let one = w.env.cli_ok(&[
        "resident",
        "pending",
        "--street",
        "鸿城街道",
        "--limit",
        "1",
    ]);
    assert!(
        one.contains("pending residents: 2") && one.contains("1 more: raise --limit"),
        "{one}"
    );
    // Not to itself, nor to another walk-in: the answer says what to give.
    for (target, says) in [(&who, "itself"), (&who2, "pending walk-in too")] {
        let m = w.srv.post(
            &format!("/api/v1/residents/{who}/match"),
            &json!({ "target": target }),
        );
        assert_eq!(m.status, 400, "{}", m.body);
        assert!(m.body.contains(says), "{}", m.body);
    }
    // The names differ (the walk-in gave another, or it was mistyped): the
    // merge waits for a confirmation, and nothing moves meanwhile.
    let m = w.srv.post(
        &format!("/api/v1/residents/{who}/match"),
        &json!({ "target": w.codes[5].0 }),
    );
    assert_eq!(m.status, 409, "{}", m.body);
    assert!(m.body.contains("different names"), "{}", m.body);
    assert_eq!(pending().as_array().unwrap().len(), 2);
    // One matched over the API, the other from the command line, confirmed.
    let m = w.srv.post(
        &format!("/api/v1/residents/{who}/match"),
        &json!({ "target": w.codes[5].0, "despite_name": true }),
    );
    assert_eq!(m.status, 200, "{}", m.body);
    let cli_match = |extra: &[&str]| {
        let mut args = vec!["resident", "match", &who2, "--target", &w.codes[6].0];
        args.extend_from_slice(extra);
        w.env.cli(&args)
    };
    assert_eq!(cli_match(&[]).status.code(), Some(1));
    let out = cli_match(&["--despite-name"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("merged into"),
        "{out:?}"
    );
    // Matched once: a second time is an error, and nothing changes.
    assert_eq!(cli_match(&["--despite-name"]).status.code(), Some(1));
    assert_eq!(pending(), json!([]));
    assert_eq!(coverage(&w.srv), 2, "each matched person counts once");
    // Matched: their swabs no longer say "walk-in, to be checked".
    let store = w.env.store().await;
    let problems = crate::harness::query_strings(
        &store,
        "SELECT problem FROM registration WHERE problem LIKE '%walk-in on no roster%'",
    )
    .await;
    assert!(problems.is_empty(), "{problems:?}");
    // Five copies of one walk-in's registration at once (a station retrying
    // over a bad link): one swab, one pending resident.
    let t3 = tube(&w.srv, &w.points[0], "W0000003");
    let five = json!({ "client_id": "walk-5x", "code": "", "walk_in": { "name": "同时到" } });
    std::thread::scope(|sc| {
        for _ in 0..5 {
            sc.spawn(|| {
                let r = w.srv.post(&format!("/api/v1/tubes/{t3}/scans"), &five);
                assert_eq!(r.status, 200, "{}", r.body);
            });
        }
    });
    let listed = pending();
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    // A new id: those of the walk-ins merged away name nobody else, ever
    // (the audit log's "merged=…" keeps meaning them).
    let new = listed[0]["id"].as_str().unwrap().to_string();
    let number = |k: &str| k.parse::<gw_domain::ids::Key>().unwrap().id;
    assert!(
        number(&new) > number(&who).max(number(&who2)),
        "{new} after {who}, {who2}"
    );
    // The pooled tube comes back abnormal: its members are the matched residents.
    let r = w.srv.post(
        &format!("/api/v1/rounds/{}/results", w.round),
        &json!({ "results": [{ "barcode": "W0000001", "result": "abnormal" }] }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let members: std::collections::BTreeSet<String> = r.json()["alerts"][0]["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(members, [w.codes[5].0.clone(), w.codes[6].0.clone()].into());
}

#[tokio::test]
async fn exemptions_make_missed_mean_missed_and_rounds_move_forward_only() {
    let w = setup("100").await;
    let srv = &w.srv;
    let t = tube(srv, &w.points[0], "X0000001");
    scan(srv, &t, "x0", &w.codes[0].1);
    // Exempt two residents: away from the city, in hospital.
    for (i, reason) in [(1, "away"), (2, "in_hospital")] {
        let r = srv.post(
            &format!("/api/v1/rounds/{}/exemptions", w.round),
            &json!({ "resident": w.codes[i].0, "reason": reason }),
        );
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let bored = srv.post(
        &format!("/api/v1/rounds/{}/exemptions", w.round),
        &json!({ "resident": w.codes[3].0, "reason": "bored" }),
    );
    assert_eq!(bored.status, 400);
    assert!(bored.body.contains("免检原因须为"), "{}", bored.body);
    // Someone swabbed already is sampled, not exempt: refused, saying when
    // and where, and nothing is stored.
    let sampled = srv.post(
        &format!("/api/v1/rounds/{}/exemptions", w.round),
        &json!({ "resident": w.codes[0].0, "reason": "away" }),
    );
    assert_eq!(sampled.status, 409, "{}", sampled.body);
    assert!(sampled.body.contains("本轮已采样"), "{}", sampled.body);
    // A round not yet open has no snapshot: its population is not "added".
    let street: i64 = w.codes[0].0.split('-').next().unwrap().parse().unwrap();
    let planned = srv.post(
        "/api/v1/rounds",
        &crate::harness::round_body(street, "下一轮"),
    );
    assert_eq!(planned.status, 201, "{}", planned.body);
    let planned_cov = srv
        .get(&format!(
            "/api/v1/rounds/{}/coverage",
            planned.json()["id"].as_str().unwrap()
        ))
        .json();
    assert_eq!(
        (
            planned_cov["expected"].as_i64(),
            planned_cov["added"].as_i64()
        ),
        (Some(0), Some(0)),
        "{planned_cov}"
    );
    let cov = srv
        .get(&format!("/api/v1/rounds/{}/coverage", w.round))
        .json();
    assert_eq!(
        (
            cov["expected"].as_i64(),
            cov["sampled"].as_i64(),
            cov["exempt"].as_i64(),
            cov["missed"].as_i64()
        ),
        (Some(100), Some(1), Some(2), Some(97)),
        "{cov}"
    );
    // Who is exempt, and why, is listed per territory (masked), so a wrong
    // exemption is found; over the API and from the command line.
    let store = w.env.store().await;
    let street = store.streets().await.unwrap()[0].id;
    let community = store.communities(None, Some(street)).await.unwrap()[0].id;
    let within = format!("{street}-{community}");
    let exempt = || {
        let r = srv.get(&format!(
            "/api/v1/rounds/{}/exemptions?community={within}",
            w.round
        ));
        assert_eq!(r.status, 200, "{}", r.body);
        let mut items: Vec<(String, String)> = r.json()["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                assert_eq!(i["resident"]["masked"], true, "{i}");
                (
                    i["resident"]["id"].as_str().unwrap().to_string(),
                    i["reason"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        items.sort();
        items
    };
    let mut want = vec![
        (w.codes[1].0.clone(), "away".to_string()),
        (w.codes[2].0.clone(), "in_hospital".to_string()),
    ];
    want.sort();
    assert_eq!(exempt(), want);
    let out = w
        .env
        .cli_ok(&["round", "exemptions", &w.round, "--community", &within]);
    assert!(
        out.contains("免检 exempt: 2") && out.contains("住院 in hospital"),
        "{out}"
    );
    // A mistaken exemption is lifted; lifting one that is not there is a 404.
    let lift = |i: usize| {
        srv.post(
            &format!("/api/v1/rounds/{}/exemptions", w.round),
            &json!({ "resident": w.codes[i].0, "reason": "none" }),
        )
        .status
    };
    assert_eq!((lift(2), lift(2), lift(3)), (200, 404, 404));
    assert_eq!(exempt(), vec![(w.codes[1].0.clone(), "away".to_string())]);
    // The CLI records one the same way.
    w.env.cli_ok(&[
        "round",
        "exempt",
        &w.round,
        "--resident",
        &w.codes[3].0,
        "--reason",
        "deceased",
    ]);
    assert_eq!(lift(3), 200);
    let cov2 = srv
        .get(&format!("/api/v1/rounds/{}/coverage", w.round))
        .json();
    assert_eq!(
        (cov2["exempt"].as_i64(), cov2["missed"].as_i64()),
        (Some(1), Some(98)),
        "{cov2}"
    );
    let again = srv.post(
        &format!("/api/v1/rounds/{}/exemptions", w.round),
        &json!({ "resident": w.codes[2].0, "reason": "in_hospital" }),
    );
    assert_eq!(again.status, 200, "{}", again.body);
    let store = w.env.store().await;
    let k: gw_domain::ids::Key = w.codes[1].0.parse().unwrap();
    let grid = format!(
        "{}-{}",
        k.street,
        store
            .resident(k.street, k.id)
            .await
            .unwrap()
            .grid_id
            .unwrap()
    );
    let missed = srv
        .get(&format!("/api/v1/rounds/{}/missed?grid={grid}", w.round))
        .json();
    assert!(missed["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["id"] != w.codes[1].0.as_str()));

    // The round's life: one step forward at a time.
    let step = |to: &str| {
        srv.post(
            &format!("/api/v1/rounds/{}/state", w.round),
            &json!({ "to": to }),
        )
        .status
    };
    assert_eq!(step("closed"), 400);
    assert_eq!(step("sampling_closed"), 200);
    // A swab after sampling closed is still stored, and flagged.
    let late = scan(srv, &t, "x-late", &w.codes[5].1);
    assert!(
        late["problem"]
            .as_str()
            .unwrap()
            .contains("sampling closed"),
        "{late}"
    );
    assert_eq!(step("open"), 400);
    // Results are not complete while a tube with swabs has none.
    let early = srv.post(
        &format!("/api/v1/rounds/{}/state", w.round),
        &json!({ "to": "results_complete" }),
    );
    assert_eq!(early.status, 400);
    assert!(early.body.contains("X0000001"), "{}", early.body);
    let r = srv.post(
        &format!("/api/v1/rounds/{}/results", w.round),
        &json!({ "results": [{ "barcode": "X0000001", "result": "negative" }] }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(step("results_complete"), 200);
    assert_eq!(step("closed"), 200);
}

/// The scan writer's batch is one transaction: a batch that fails part-way
/// (here a tube opened at a point that does not exist) stores none of its
/// swabs, and the same connection then writes the next batch whole, with
/// exact counts.
#[tokio::test]
async fn a_failed_write_batch_stores_nothing_and_the_next_is_whole() {
    use gw_store::testing::{NewTube, OwnedRegistration};
    let r = setup("30").await;
    let t = tube(&r.srv, &r.points[0], "W0000001");
    for (i, (_, code)) in r.codes.iter().take(2).enumerate() {
        scan(&r.srv, &t, &format!("w-{i}"), code);
    }
    let key: gw_domain::ids::Key = t.parse().unwrap();
    let store = r.env.store().await;
    let row = store.tube(key.street, key.id).await.unwrap();
    let writer = store.dedicated().await.unwrap();
    let swab = |client: &str| OwnedRegistration {
        street_id: key.street,
        client_id: client.to_string(),
        round_id: row.round_id,
        point_id: row.point_id,
        tube_id: row.id,
        resident_id: None,
        raw_code: "GW-test".into(),
        purpose: "retest".into(),
        duplicate_of: None,
        problem: String::new(),
        scanned_ms: 1,
        stored_ms: 1,
        station: "W".into(),
    };
    let nowhere = NewTube {
        street: key.street,
        round: row.round_id,
        point: 987_654_321,
        barcode: "W0000002".into(),
        pool_size: 10,
        now_ms: 1,
        tube_use: "pool",
    };
    let failed = writer
        .write_scans(std::slice::from_ref(&nowhere), &[swab("w-lost")])
        .await;
    assert!(failed.is_err(), "a tube at no point must fail the batch");
    assert!(store
        .registration_by_client(key.street, "w-lost")
        .await
        .unwrap()
        .is_none());
    let (opened, stored) = writer
        .write_scans(&[], &[swab("w-2"), swab("w-3")])
        .await
        .unwrap();
    assert!(opened.is_empty());
    let fills: Vec<(i64, i64)> = stored
        .iter()
        .map(|s| {
            let s = s.as_ref().expect("stored");
            (s.tube_fill, s.point_count)
        })
        .collect();
    assert_eq!(fills, vec![(3, 3), (4, 4)]);
    // A replayed client id in the next batch is refused by its key, not stored twice.
    let (_, again) = writer.write_scans(&[], &[swab("w-3")]).await.unwrap();
    assert!(again[0].is_none());
    assert_eq!(
        store
            .tube_and_point_counts(key.street, row.id, row.point_id)
            .await
            .unwrap(),
        (4, 4)
    );
    writer.close().await;
}

#[tokio::test]
async fn a_swab_taken_earlier_offline_is_the_first_and_a_swab_in_the_wrong_tube_is_flagged() {
    let w = setup("60").await;
    let srv = &w.srv;
    let store = w.env.store().await;
    let street: gw_domain::ids::Key = w.round.parse().unwrap();
    let street = street.street;
    let swab = |tube: &str, client: &str, code: &str, purpose: &str, at: Option<i64>| {
        let mut body = json!({ "client_id": client, "code": code, "purpose": purpose });
        if let Some(at) = at {
            body["scanned_ms"] = json!(at);
        }
        let r = srv.post(&format!("/api/v1/tubes/{tube}/scans"), &body);
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()
    };
    let now = gw_app::Clock::System.now_ms();
    let t1 = tube(srv, &w.points[0], "E0000001");
    let t2 = tube(srv, &w.points[1], "E0000002");
    // Point 0 swabs resident 0 now; point 1's station, offline since, syncs
    // a swab of the same resident taken half an hour ago: that one is the first.
    let live = swab(&t1, "live-0", &w.codes[0].1, "routine", None);
    assert!(live["duplicate_of"].is_null(), "{live}");
    let early = swab(
        &t2,
        "early-0",
        &w.codes[0].1,
        "routine",
        Some(now - 1_800_000),
    );
    assert!(early["duplicate_of"].is_null(), "{early}");
    let live_row = store
        .registration_by_client(street, "live-0")
        .await
        .unwrap()
        .unwrap();
    let early_row = store
        .registration_by_client(street, "early-0")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(live_row.duplicate_of, Some(early_row.id));
    assert_eq!(early_row.duplicate_of, None);
    // A third swab is told of the earlier one, at point 1.
    let third = swab(&t1, "third-0", &w.codes[0].1, "routine", None);
    assert_eq!(
        third["duplicate_of"]["point"],
        w.points[1].as_str(),
        "{third}"
    );
    assert_eq!(
        third["duplicate_of"]["scanned_ms"],
        now - 1_800_000,
        "{third}"
    );
    // A minute apart is within two stations' clock difference: arrival order stands.
    let a = swab(&t1, "live-1", &w.codes[1].1, "routine", None);
    assert!(a["duplicate_of"].is_null(), "{a}");
    let b = swab(&t2, "near-1", &w.codes[1].1, "routine", Some(now - 60_000));
    assert_eq!(b["duplicate_of"]["registration"], a["registration"], "{b}");
    // A station whose clock is ten minutes behind swabs resident 2 live,
    // after point 0 did: told by its send time, the server sets its clock
    // right and the arrival order stands.
    let first2 = swab(&t1, "live-2", &w.codes[2].1, "routine", None);
    assert!(first2["duplicate_of"].is_null(), "{first2}");
    let behind = now - 600_000;
    let r = srv.post(
        &format!("/api/v1/tubes/{t2}/scans"),
        &json!({ "client_id": "slow-2", "code": w.codes[2].1, "scanned_ms": behind, "sent_ms": behind }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json()["duplicate_of"]["registration"],
        first2["registration"],
        "{}",
        r.body
    );
    let slow = store
        .registration_by_client(street, "slow-2")
        .await
        .unwrap()
        .unwrap();
    assert!(
        (slow.scanned_ms - now).abs() < 60_000,
        "{}",
        slow.scanned_ms
    );
    // A swab time an hour ahead of the server's clock is stored and flagged.
    let ahead = swab(
        &t1,
        "ahead-3",
        &w.codes[3].1,
        "routine",
        Some(now + 3_600_000),
    );
    assert!(
        ahead["problem"]
            .as_str()
            .unwrap()
            .contains("clock is ahead"),
        "{ahead}"
    );
    // Counted once each.
    let cov = srv
        .get(&format!("/api/v1/rounds/{}/coverage", w.round))
        .json();
    assert_eq!(cov["sampled"], 4, "{cov}");

    // A routine swab in a retest tube, a retest swab in a pooled tube: stored, flagged.
    let r = srv.post(
        &format!("/api/v1/points/{}/tubes", w.points[0]),
        &json!({ "barcode": "E0000003", "purpose": "retest" }),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let retest_tube = r.json()["id"].as_str().unwrap().to_string();
    let wrong = swab(&retest_tube, "wrong-5", &w.codes[5].1, "routine", None);
    let problem = wrong["problem"].as_str().unwrap();
    assert!(
        problem.contains("a routine swab in a tube opened for retest") && problem.contains("复检"),
        "{wrong}"
    );
    assert_eq!(wrong["resident"], w.codes[5].0.as_str());
    let t4 = tube(srv, &w.points[0], "E0000004");
    let wrong = swab(&t4, "wrong-6", &w.codes[6].1, "retest", None);
    assert!(
        wrong["problem"]
            .as_str()
            .unwrap()
            .contains("a retest swab in a tube opened for pool"),
        "{wrong}"
    );
    // The right purpose in the right tube: nothing to say about the tube
    // (that this person has no retest open is said).
    let t5 = srv
        .post(
            &format!("/api/v1/points/{}/tubes", w.points[0]),
            &json!({ "barcode": "E0000005", "purpose": "retest" }),
        )
        .json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let right = swab(&t5, "right-7", &w.codes[7].1, "retest", None);
    assert_eq!(
        right["problem"], "此人没有待做的单管复检 / this person has no open single-tube retest",
        "{right}"
    );
    let k: gw_domain::ids::Key = t5.parse().unwrap();
    assert_eq!(store.tube(k.street, k.id).await.unwrap().tube_use, "retest");

    // The server died between storing an offline swab taken earlier (as the
    // duplicate of a live one) and making it the first: the station's replay
    // finishes the take-over.
    let live = swab(&t1, "live-8", &w.codes[8].1, "routine", None);
    let live_row = store
        .registration_by_client(street, "live-8")
        .await
        .unwrap()
        .unwrap();
    let key = |s: &str| s.parse::<gw_domain::ids::Key>().unwrap();
    let (tube2, resident) = (
        store.tube(street, key(&t2).id).await.unwrap(),
        key(&w.codes[8].0).id,
    );
    let (_, stored) = store
        .write_scans(
            &[],
            &[gw_store::testing::OwnedRegistration {
                street_id: street,
                client_id: "early-8".into(),
                round_id: tube2.round_id,
                point_id: tube2.point_id,
                tube_id: tube2.id,
                resident_id: Some(resident),
                raw_code: w.codes[8].1.clone(),
                purpose: "routine".into(),
                duplicate_of: Some(live_row.id),
                problem: String::new(),
                scanned_ms: now - 1_800_000,
                stored_ms: now,
                station: String::new(),
            }],
        )
        .await
        .unwrap();
    assert!(stored[0].is_some(), "{live}");
    let replayed = swab(
        &t2,
        "early-8",
        &w.codes[8].1,
        "routine",
        Some(now - 1_800_000),
    );
    assert_eq!(replayed["replay"], true, "{replayed}");
    assert!(replayed["duplicate_of"].is_null(), "{replayed}");
    let early_row = store
        .registration_by_client(street, "early-8")
        .await
        .unwrap()
        .unwrap();
    let live_row = store
        .registration_by_client(street, "live-8")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (early_row.duplicate_of, live_row.duplicate_of),
        (None, Some(early_row.id))
    );
}

#[tokio::test]
async fn a_stations_work_from_the_command_line() {
    let w = setup("100").await;
    // `tube open` at the first point: the tube's id.
    let open = |barcode: &str| -> String {
        let out = w.env.cli_ok(&[
            "tube",
            "open",
            "--point",
            &w.points[0],
            "--barcode",
            barcode,
            "--json",
        ]);
        let opened: Value = serde_json::from_str(&out).unwrap();
        opened["id"].as_str().unwrap().to_string()
    };
    let tube = open("C0000001");
    let swab = |client: &str, code: &str| -> Value {
        serde_json::from_str(&w.env.cli_ok(&[
            "tube",
            "scan",
            &tube,
            "--code",
            code,
            "--client-id",
            client,
            "--json",
        ]))
        .unwrap()
    };
    let first = swab("cli-a", &w.codes[0].1);
    assert_eq!(first["resident"], w.codes[0].0.as_str(), "{first}");
    assert_eq!(first["tube_fill"], 1);
    // The same command again (a retry) applies nothing twice.
    let again = swab("cli-a", &w.codes[0].1);
    assert_eq!(again["replay"], true);
    assert_eq!(again["registration"], first["registration"]);
    // A second swab of the same person is stored and flagged, with where the first was.
    let second = swab("cli-b", &w.codes[0].1);
    assert_eq!(
        second["duplicate_of"]["registration"], first["registration"],
        "{second}"
    );
    // Said to a person, the first swab's point by its name.
    let point_name = second["duplicate_of"]["point_name"].as_str().unwrap();
    let third = w.env.cli_ok(&[
        "tube",
        "scan",
        &tube,
        "--code",
        &w.codes[0].1,
        "--client-id",
        "cli-said",
    ]);
    assert!(
        third.contains(&format!("首次采样在「{point_name}」")),
        "{third}"
    );
    // A walk-in, and a bad code: stored, with the problem said.
    let walk: Value = serde_json::from_str(&w.env.cli_ok(&[
        "tube",
        "scan",
        &tube,
        "--walk-in-name",
        "路过者",
        "--json",
    ]))
    .unwrap();
    assert!(
        walk["problem"].as_str().unwrap().contains("walk-in"),
        "{walk}"
    );
    // Neither a code nor a walk-in: a usage error, nothing stored.
    let none = w.env.cli(&["tube", "scan", &tube]);
    assert_eq!(none.status.code(), Some(2), "{none:?}");
    assert!(String::from_utf8_lossy(&none.stderr).contains("--code"));
    let bad = swab("cli-c", "GW1-nonsense");
    assert!(!bad["problem"].as_str().unwrap().is_empty(), "{bad}");
    // first, second, third (said to a person), the walk-in and this one.
    assert_eq!(bad["tube_fill"], 5);
    let closed = w.env.cli_ok(&["tube", "close", &tube]);
    assert!(closed.contains("closed"), "{closed}");
    // A tube opened by mistake and closed before anyone is swabbed into it
    // is withdrawn, and the command says so.
    let withdrawn = w.env.cli_ok(&["tube", "close", &open("C0000002")]);
    assert!(
        withdrawn.contains("已作废") && withdrawn.contains("withdrawn"),
        "{withdrawn}"
    );
    // Closed: the API sees the swab and counts the person once.
    let cov = w
        .srv
        .get(&format!("/api/v1/rounds/{}/coverage", w.round))
        .json();
    assert_eq!(cov["sampled"], 1, "{cov}");
    // A purpose that does not exist is refused before anything is written.
    let wrong = w.env.cli(&[
        "tube",
        "open",
        "--point",
        &w.points[0],
        "--barcode",
        "C0000002",
        "--purpose",
        "party",
    ]);
    assert!(!wrong.status.success());
}

#[tokio::test]
async fn migration_0023_points_every_sampling_swab_of_a_resident_at_one_first() {
    let w = setup("100").await;
    let srv = &w.srv;
    let store = w.env.store().await;
    // Three swabs of resident 0: at the door, then twice at a point.
    let t = tube(srv, &w.points[0], "M0000001");
    let reg = |o: Value| -> i64 {
        let k: gw_domain::ids::Key = o["registration"].as_str().unwrap().parse().unwrap();
        k.id
    };
    let door = reg(srv
        .post(
            &format!("/api/v1/tubes/{t}/scans"),
            &json!({ "client_id": "m-door", "code": w.codes[0].1, "purpose": "door_to_door" }),
        )
        .json());
    let r1 = reg(scan(srv, &t, "m-r1", &w.codes[0].1));
    let r2 = reg(scan(srv, &t, "m-r2", &w.codes[0].1));
    // As the rows were before migration 0023 (only routine swabs shared a
    // first): the door swab first, the first routine swab first too, the
    // second routine swab its duplicate.
    exec(&store, "DROP INDEX registration_first_swab").await;
    exec(&store, "CREATE UNIQUE INDEX registration_first_routine ON registration (street_id, round_id, resident_id) \
                  WHERE purpose = 'routine' AND duplicate_of IS NULL AND resident_id IS NOT NULL").await;
    exec(
        &store,
        &format!("UPDATE registration SET duplicate_of = NULL WHERE id = {r1}"),
    )
    .await;
    exec(
        &store,
        &format!("UPDATE registration SET duplicate_of = {r1} WHERE id = {r2}"),
    )
    .await;
    exec(&store, "DELETE FROM schema_migrations WHERE version = 23").await;
    assert_eq!(store.migrate().await.unwrap(), vec![23]);
    // One first (the earliest), every other swab pointing at it, no chain.
    let k: gw_domain::ids::Key = w.codes[0].0.parse().unwrap();
    for id in [r1, r2] {
        assert_eq!(
            store
                .registration_by_id(k.street, id)
                .await
                .unwrap()
                .duplicate_of,
            Some(door),
            "{id}"
        );
    }
    assert_eq!(
        store
            .registration_by_id(k.street, door)
            .await
            .unwrap()
            .duplicate_of,
        None
    );
}

/// A station still holding scans of a round whose window ended days ago can
/// be enrolled for a short while to upload them; they are stored.
#[tokio::test]
async fn a_station_enrolled_after_its_round_is_over_uploads_what_it_kept() {
    let w = setup("60").await;
    let srv = &w.srv;
    let store = w.env.store().await;
    let street = store.streets().await.unwrap()[0].id;
    let community = store.communities(None, Some(street)).await.unwrap()[0].id;
    let now = gw_app::Clock::System.now_ms();
    let day = 24 * 3_600_000_i64;
    let r = srv.post("/api/v1/rounds", &json!({ "street": street, "name": "上周的轮次", "starts_ms": now - 9 * day, "ends_ms": now - 2 * day, "pool_size": 10 }));
    assert_eq!(r.status, 201, "{}", r.body);
    let round = r.json()["id"].as_str().unwrap().to_string();
    assert_eq!(
        srv.post(&format!("/api/v1/rounds/{round}/open"), &json!({}))
            .status,
        200
    );
    let point = srv
        .post(
            &format!("/api/v1/rounds/{round}/points"),
            &json!({ "name": "迟传点", "community": format!("{street}-{community}") }),
        )
        .json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let issued = srv.post(&format!("/api/v1/points/{point}/stations"), &json!({}));
    assert!(
        issued.status == 200 || issued.status == 201,
        "{}",
        issued.body
    );
    let issued = issued.json();
    let expires = issued["expires_ms"].as_i64().unwrap();
    assert!(
        expires > now && expires <= now + gw_app::stations::LATE_UPLOAD_MS + 60_000,
        "a short token: {issued}"
    );
    let enrolled = srv
        .anonymous()
        .post("/api/v1/enroll", &json!({ "code": issued["enroll_code"] }));
    assert_eq!(enrolled.status, 200, "{}", enrolled.body);
    let token = enrolled.json()["token"].as_str().unwrap().to_string();
    let st = srv.with_token(&token);
    let tube = st.post(
        &format!("/api/v1/points/{point}/tubes"),
        &json!({ "barcode": "LATE0001", "reuse": true }),
    );
    assert_eq!(tube.status, 201, "{}", tube.body);
    let tube = tube.json()["id"].as_str().unwrap().to_string();
    let s = st.post(
        &format!("/api/v1/tubes/{tube}/scans"),
        &json!({ "client_id": "kept-1", "code": w.codes[0].1, "scanned_ms": now - 3 * day }),
    );
    assert_eq!(s.status, 200, "{}", s.body);
    assert_eq!(s.json()["resident"], w.codes[0].0.as_str());
    assert!(store
        .audit_events(None, None, None, 50)
        .await
        .unwrap()
        .iter()
        .any(|e| e.action == "issue_station" && e.detail.contains("late_upload")));
}

#[tokio::test]
async fn migration_0024_tells_points_of_one_name_apart_and_then_keeps_names_unique() {
    let w = setup("100").await;
    let store = w.env.store().await;
    // Two points of one community and one name, as could be made before.
    exec(&store, "DROP INDEX testing_point_name").await;
    exec(
        &store,
        "UPDATE testing_point SET name = '同名点', community_id = (SELECT MIN(community_id) FROM testing_point)",
    )
    .await;
    exec(&store, "DELETE FROM schema_migrations WHERE version = 24").await;
    assert_eq!(store.migrate().await.unwrap(), vec![24]);
    let ids = crate::harness::query_strings(
        &store,
        "SELECT CAST(id AS TEXT) FROM testing_point ORDER BY id",
    )
    .await;
    let names =
        crate::harness::query_strings(&store, "SELECT name FROM testing_point ORDER BY id").await;
    assert!(ids.len() >= 2, "{ids:?}");
    assert_eq!(names[0], "同名点");
    assert_eq!(names[1], format!("同名点 ({})", ids[1]));
    // From now on the name is refused, whichever way it comes.
    let community = crate::harness::query_strings(
        &store,
        "SELECT CAST(community_id AS TEXT) FROM testing_point ORDER BY id",
    )
    .await;
    let street = w.codes[0].0.split('-').next().unwrap();
    let r = w.srv.post(
        &format!("/api/v1/rounds/{}/points", w.round),
        &json!({ "name": "同名点", "community": format!("{street}-{}", community[0]) }),
    );
    assert_eq!(r.status, 409, "{}", r.body);
}

/// No scanner sends a control character: a code, client id or station name
/// with one is refused with a clear 400 and nothing is stored (PostgreSQL
/// would refuse a NUL in the batch other stations' swabs share); a scanner's
/// Enter around a code is not part of it. A swab time far before the round
/// began (a phone reset to 1970) is flagged and never takes "first swab".
#[tokio::test]
async fn control_characters_are_refused_and_a_clock_behind_the_round_is_flagged() {
    let w = setup("60").await;
    let srv = &w.srv;
    let t = tube(srv, &w.points[0], "N0000001");
    for body in [
        json!({ "client_id": "nul", "code": "GW1-\u{0}" }),
        json!({ "client_id": "n\u{1}", "code": &w.codes[5].1 }),
        json!({ "client_id": "st", "code": &w.codes[5].1, "station": "A\u{0}" }),
    ] {
        let r = srv.post(&format!("/api/v1/tubes/{t}/scans"), &body);
        assert_eq!(r.status, 400, "{body} {}", r.body);
        assert!(
            r.body.contains("control character") || r.body.contains("NUL character"),
            "{}",
            r.body
        );
    }
    // Nothing of those is stored; the next scan is counted as the first.
    let first = scan(srv, &t, "e1", &format!(" {}\r\n", w.codes[0].1));
    assert_eq!(first["tube_fill"], 1, "{first}");
    assert_eq!(scan(srv, &t, "e1", &w.codes[0].1)["replay"], true);

    // A round that began an hour ago.
    let store = w.env.store().await;
    let p0: gw_domain::ids::Key = w.points[0].parse().unwrap();
    let community = store.point(p0.street, p0.id).await.unwrap().community_id;
    let now = gw_app::Clock::System.now_ms();
    let mut body = crate::harness::round_body(p0.street, "今天的轮次");
    body["starts_ms"] = json!(now - 3_600_000);
    body["ends_ms"] = json!(now + 36_000_000);
    let (round, _) = crate::harness::open_round(|p, b| srv.post(p, b), &body);
    let point = srv.post(
        &format!("/api/v1/rounds/{round}/points"),
        &json!({ "name": "今日采样点", "community": format!("{}-{community}", p0.street) }),
    );
    assert_eq!(point.status, 201, "{}", point.body);
    let t2 = tube(srv, point.json()["id"].as_str().unwrap(), "N0000002");
    let live = scan(srv, &t2, "live", &w.codes[1].1);
    assert_eq!(live["duplicate_of"], Value::Null, "{live}");
    let r = srv.post(
        &format!("/api/v1/tubes/{t2}/scans"),
        &json!({ "client_id": "1970", "code": &w.codes[1].1, "scanned_ms": 1000 }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let late = r.json();
    assert!(
        late["problem"]
            .as_str()
            .unwrap()
            .contains("before the round began"),
        "{late}"
    );
    assert_eq!(
        late["duplicate_of"]["registration"], live["registration"],
        "the swab taken in the round stays the first: {late}"
    );
}

#[tokio::test]
async fn a_swab_scanned_by_mistake_is_taken_back_while_its_tube_is_at_the_point() {
    let w = setup("100").await;
    let srv = &w.srv;
    let sampled = || {
        srv.get(&format!("/api/v1/rounds/{}/coverage", w.round))
            .json()["sampled"]
            .as_i64()
            .unwrap()
    };
    let void = |reg: &str, reason: &str| {
        srv.post(
            &format!("/api/v1/registrations/{reg}/void"),
            &json!({ "reason": reason }),
        )
    };
    // Ten codes fill the tube, which closes itself.
    let t1 = tube(srv, &w.points[0], "V0000001");
    let regs: Vec<String> = (0..10)
        .map(|i| {
            scan(srv, &t1, &format!("v-{i}"), &w.codes[i].1)["registration"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    // The fourth resident is swabbed again at the other point: a duplicate.
    let t2 = tube(srv, &w.points[1], "V0000002");
    let dup = scan(srv, &t2, "v2-0", &w.codes[3].1);
    assert_eq!(dup["duplicate_of"]["registration"], regs[3].as_str());
    let dup = dup["registration"].as_str().unwrap().to_string();
    assert_eq!(sampled(), 10);

    // The tenth code was the wrong one. Without a reason: refused, nothing changes.
    let r = void(&regs[9], "  ");
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(sampled(), 10);
    let r = void(&regs[9], "扫错了码（扫了家属的码）");
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(
        (&v["tube_fill"], &v["point_count"], &v["reopened"]),
        (&json!(9), &json!(9), &json!(true)),
        "{v}"
    );
    assert!(v["promoted"].is_null(), "{v}");
    // The resident whose code it was is not sampled, and is on the missed list.
    assert_eq!(sampled(), 9);
    let store = w.env.store().await;
    let k: gw_domain::ids::Key = t1.parse().unwrap();
    assert_eq!(store.tube(k.street, k.id).await.unwrap().state, "open");
    // The tube is open again: the right code goes in and fills it.
    let right = scan(srv, &t1, "v-10", &w.codes[10].1);
    assert_eq!(
        (&right["tube_fill"], &right["problem"]),
        (&json!(10), &json!("")),
        "{right}"
    );
    assert_eq!(store.tube(k.street, k.id).await.unwrap().state, "closed");
    // The station sends the taken-back scan again (its offline queue): refused, not stored.
    let replay = srv.post(
        &format!("/api/v1/tubes/{t1}/scans"),
        &json!({ "client_id": "v-9", "code": w.codes[9].1 }),
    );
    assert_eq!(replay.status, 409, "{}", replay.body);
    assert_eq!(replay.json()["code"], "voided", "{}", replay.body);
    assert!(
        !replay.body.contains("扫错了码"),
        "the reason stays with the swab: {}",
        replay.body
    );
    assert_eq!(sampled(), 10);

    // A first swab taken back: the resident's swab at the other point becomes the first.
    let r = void(&regs[3], "扫码后未采样");
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(
        (&v["promoted"], &v["reopened"], &v["tube_fill"]),
        (&json!(dup), &json!(true), &json!(9)),
        "{v}"
    );
    let dk: gw_domain::ids::Key = dup.parse().unwrap();
    assert_eq!(
        store
            .registration_by_id(dk.street, dk.id)
            .await
            .unwrap()
            .duplicate_of,
        None
    );
    assert_eq!(sampled(), 10, "the resident is still sampled, once");
    // The resident swabbed a third time: a duplicate of the new first.
    let t3 = tube(srv, &w.points[1], "V0000003");
    let third = scan(srv, &t3, "v3-0", &w.codes[3].1);
    assert_eq!(
        third["duplicate_of"]["registration"],
        dup.as_str(),
        "{third}"
    );
    // Sent again (its answer lost): the same answer, nothing changes.
    let again = void(&regs[3], "again");
    assert_eq!(again.status, 200, "{}", again.body);
    let a = again.json();
    assert_eq!(
        (&a["already"], &a["tube_fill"]),
        (&json!(true), &json!(9)),
        "{a}"
    );

    // A walk-in taken back leaves no pending resident behind.
    let walk = srv
        .post(
            &format!("/api/v1/tubes/{t3}/scans"),
            &json!({ "client_id": "walk-v", "walk_in": { "name": "过路人" } }),
        )
        .json();
    let r = void(walk["registration"].as_str().unwrap(), "不是来采样的");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        srv.get("/api/v1/residents?status=pending").json()["items"],
        json!([])
    );

    // A tube closed by hand before it was full stays closed.
    let t4 = tube(srv, &w.points[1], "V0000004");
    scan(srv, &t4, "v4-0", &w.codes[50].1);
    let two = scan(srv, &t4, "v4-1", &w.codes[51].1)["registration"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        srv.post(&format!("/api/v1/tubes/{t4}/close"), &json!({}))
            .status,
        200
    );
    let r = void(&two, "扫码后未采样");
    assert_eq!(r.json()["reopened"], false, "{}", r.body);
    let k4: gw_domain::ids::Key = t4.parse().unwrap();
    assert_eq!(store.tube(k4.street, k4.id).await.unwrap().state, "closed");

    // Once its tube is sealed into a bag, a swab can no longer be taken back.
    let closed = srv.post(&format!("/api/v1/tubes/{t1}/close"), &json!({}));
    assert_eq!(closed.status, 200, "{}", closed.body);
    let bag = srv.post(
        &format!("/api/v1/points/{}/bags", w.points[0]),
        &json!({ "barcode": "BAGV000001", "tubes": ["V0000001"], "counted_tubes": 1 }),
    );
    assert_eq!(bag.status, 201, "{}", bag.body);
    let sealed = void(&regs[0], "太晚了");
    assert_eq!(sealed.status, 409, "{}", sealed.body);
    assert_eq!(
        sampled(),
        11,
        "the swab in the sealed tube stays, and the one left in the closed tube"
    );

    // The command line takes one back too; each is audited with its reason.
    let reg = scan(srv, &t3, "v3-1", &w.codes[40].1)["registration"]
        .as_str()
        .unwrap()
        .to_string();
    let out = w
        .env
        .cli_ok(&["tube", "void", &reg, "--reason", "重复扫码"]);
    assert!(out.contains("taken back"), "{out}");
    let audit = store.audit_events(None, None, None, 100).await.unwrap();
    let voids: Vec<&str> = audit
        .iter()
        .filter(|e| e.action == "void_swab")
        .map(|e| e.detail.as_str())
        .collect();
    assert_eq!(voids.len(), 5, "{voids:?}");
    // The audit log outlives a purge: it keeps ids, not the reason.
    assert!(!voids.iter().any(|d| d.contains("扫错了码")), "{voids:?}");
    assert!(
        voids.iter().any(|d| d.contains(&format!("promoted={dup}"))),
        "{voids:?}"
    );
}

#[tokio::test]
async fn a_station_takes_back_a_scan_by_its_client_id_before_or_after_it_arrives() {
    let w = setup("100").await;
    let srv = &w.srv;
    let take_back = |tube: &str, client: &str| {
        srv.post(
            &format!("/api/v1/tubes/{tube}/voids"),
            &json!({ "client_id": client, "reason": "站点撤销" }),
        )
    };
    let t = tube(srv, &w.points[0], "U0000001");
    scan(srv, &t, "u-0", &w.codes[0].1);
    // Stored: taken back by its client id.
    let r = take_back(&t, "u-0");
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(
        (
            &v["tube_fill"],
            &v["already"],
            v["registration"].is_string()
        ),
        (&json!(0), &json!(false), true),
        "{v}"
    );
    // The take-back sent again: the same answer.
    let r = take_back(&t, "u-0");
    assert_eq!(r.json()["already"], true, "{}", r.body);
    // Not stored yet (the station's queue was cut off): recorded, and the
    // scan, when it arrives, is refused and stores nothing.
    let r = take_back(&t, "u-1");
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert!(v["registration"].is_null(), "{v}");
    assert_eq!(v["already"], false, "{v}");
    let late = srv.post(
        &format!("/api/v1/tubes/{t}/scans"),
        &json!({ "client_id": "u-1", "code": w.codes[1].1 }),
    );
    assert_eq!(late.status, 409, "{}", late.body);
    assert_eq!(late.json()["code"], "voided");
    assert_eq!(
        srv.get(&format!("/api/v1/rounds/{}/coverage", w.round))
            .json()["sampled"],
        0
    );
    // A client id whose swab is in another tube: refused.
    let other = tube(srv, &w.points[0], "U0000002");
    scan(srv, &other, "u-2", &w.codes[2].1);
    let r = take_back(&t, "u-2");
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(
        srv.get(&format!("/api/v1/rounds/{}/coverage", w.round))
            .json()["sampled"],
        1
    );
}

/// A scan and its take-back by client id reaching the server at the same
/// moment (two connections, nothing ordering them): whichever comes first,
/// the swab ends taken back, never both stored and taken back, never stored
/// twice; take-backs of many client ids at once in one street do not collide.
#[tokio::test]
async fn a_scan_and_its_take_back_at_the_same_moment_end_taken_back() {
    let w = setup("100").await;
    let srv = &w.srv;
    const N: usize = 12;
    // Two tubes of ten at two points, so both take-back paths (stored and
    // never stored) meet concurrent writes to two tubes.
    let tubes = [
        tube(srv, &w.points[0], "V0000001"),
        tube(srv, &w.points[1], "V0000002"),
    ];
    let answers: Vec<(u16, String, u16, String)> = std::thread::scope(|sc| {
        let handles: Vec<_> = (0..N)
            .map(|i| {
                let t = tubes[i % 2].clone();
                let code = w.codes[i].1.clone();
                let client = format!("race-{i}");
                sc.spawn(move || {
                    let (scan, void) = std::thread::scope(|inner| {
                        let s = inner.spawn(|| {
                            srv.post(
                                &format!("/api/v1/tubes/{t}/scans"),
                                &json!({ "client_id": client, "code": code }),
                            )
                        });
                        let v = inner.spawn(|| {
                            srv.post(
                                &format!("/api/v1/tubes/{t}/voids"),
                                &json!({ "client_id": client, "reason": "扫错了" }),
                            )
                        });
                        (s.join().unwrap(), v.join().unwrap())
                    });
                    (scan.status, scan.body, void.status, void.body)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (scan_status, scan_body, void_status, void_body) in &answers {
        assert_eq!(*void_status, 200, "the take-back: {void_body}");
        assert!(
            *scan_status == 200 || (*scan_status == 409 && scan_body.contains("\"voided\"")),
            "the scan: {scan_status} {scan_body}"
        );
    }
    // Every client id is taken back and none is stored.
    let store = w.env.store().await;
    let street = tubes[0].parse::<gw_domain::ids::Key>().unwrap().street;
    for i in 0..N {
        let client = format!("race-{i}");
        assert!(
            store
                .registration_by_client(street, &client)
                .await
                .unwrap()
                .is_none(),
            "{client} stored although taken back"
        );
        assert!(
            store
                .voided_by_client(street, &client)
                .await
                .unwrap()
                .is_some(),
            "{client} has no take-back"
        );
    }
    assert_eq!(
        srv.get(&format!("/api/v1/rounds/{}/coverage", w.round))
            .json()["sampled"],
        0
    );
    // The tubes' and points' counters agree with the rows: none left.
    let sql = "SELECT CAST(COALESCE(SUM(fill), 0) AS BIGINT) FROM tube WHERE barcode IN ('V0000001', 'V0000002') \
               UNION ALL SELECT CAST(COALESCE(SUM(swabs), 0) AS BIGINT) FROM testing_point";
    let counters: Vec<i64> = match &store.pool {
        gw_store::Pool::Sqlite(p) => sqlx::query_scalar(sql).fetch_all(p).await.unwrap(),
        gw_store::Pool::Postgres(p) => sqlx::query_scalar(sql).fetch_all(p).await.unwrap(),
    };
    assert_eq!(counters, vec![0, 0]);
}

/// A blank read (a scanner's stray Enter) or a tube's label read where the
/// person's code goes names nobody and no swab: refused with the reason,
/// nothing counted; an unknown code stays stored and flagged (its swab is in
/// the tube).
#[tokio::test]
async fn a_blank_read_or_a_tube_label_in_the_persons_place_is_refused() {
    let w = setup("100").await;
    let srv = &w.srv;
    let t = tube(srv, &w.points[0], "L0000001");
    tube(srv, &w.points[1], "L0000002");
    let scan_raw = |client: &str, code: &str| {
        srv.post(
            &format!("/api/v1/tubes/{t}/scans"),
            &json!({ "client_id": client, "code": code }),
        )
    };
    let blank = scan_raw("b-0", "   ");
    assert_eq!(blank.status, 400, "{}", blank.body);
    assert!(blank.body.contains("scan is empty"), "{}", blank.body);
    // Its own label, another point's tube of the round: both refused.
    for (i, label) in ["L0000001", "l0000002"].iter().enumerate() {
        let r = scan_raw(&format!("b-{}", i + 1), label);
        assert_eq!(r.status, 400, "{label}: {}", r.body);
        assert!(r.body.contains("is a tube barcode"), "{}", r.body);
    }
    // A barcode in a range issued to a point, no tube opened with it yet.
    crate::testing::issue_tubes(&w.env, &w.points[1], "L0000100", "L0000199");
    let r = scan_raw("b-3", "L0000150");
    assert_eq!(r.status, 400, "{}", r.body);
    // A code nobody has: stored and flagged, as before.
    let unknown = scan_raw("b-4", "X9Y8Z7W6V5");
    assert_eq!(unknown.status, 200, "{}", unknown.body);
    assert_ne!(unknown.json()["problem"], "");
    assert_eq!(
        unknown.json()["tube_fill"],
        1,
        "only the unknown code counts"
    );
    // A batch of tubes whose code an ID number may start with: an ID number
    // registered nowhere here is a person (a walk-in to register), stored
    // and flagged, not taken for a tube.
    let id = gw_domain::idnumber::IdNumber::compose(
        "220102",
        gw_domain::date::Date::new(1980, 5, 17).unwrap(),
        731,
    )
    .unwrap();
    let batch = w.env.cli(&[
        "supplies",
        "issue",
        "--point",
        &w.points[0],
        "--kind",
        "tubes",
        "--batch",
        "2201",
        "--quantity",
        "500",
    ]);
    assert!(batch.status.success(), "{batch:?}");
    let person = scan_raw("b-5", id.as_str());
    assert_eq!(person.status, 200, "{}", person.body);
    assert!(
        person.json()["problem"]
            .as_str()
            .unwrap()
            .contains("register a walk-in"),
        "{}",
        person.body
    );
    // The station is asked to take it back first: registered as a walk-in
    // on top of it, one person would be two swabs in the tube.
    assert_eq!(person.json()["unregistered"], true, "{}", person.body);
    assert_eq!(unknown.json()["unregistered"], true, "{}", unknown.body);
    let known = scan_raw("b-known", &w.codes[11].1);
    assert_eq!(known.json()["unregistered"], false, "{}", known.body);
    // A bag's label of the round read in the person's place: refused too.
    let t3 = tube(srv, &w.points[0], "L0000003");
    scan(srv, &t3, "bag-0", &w.codes[10].1);
    assert_eq!(
        srv.post(&format!("/api/v1/tubes/{t3}/close"), &json!({}))
            .status,
        200
    );
    let bagged = srv.post(
        &format!("/api/v1/points/{}/bags", w.points[0]),
        &json!({ "barcode": "BAG0000001", "tubes": ["L0000003"], "counted_tubes": 1 }),
    );
    assert_eq!(bagged.status, 201, "{}", bagged.body);
    // The bagged tube scanned again by a station (which opens offline-first,
    // so as a replay): its real state, and told to take a new tube.
    let again = srv.post(
        &format!("/api/v1/points/{}/tubes", w.points[0]),
        &json!({ "barcode": "L0000003", "reuse": true }),
    );
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.json()["state"], "sealed", "{}", again.body);
    assert!(
        again.json()["warning"]
            .as_str()
            .unwrap_or_default()
            .contains("take a new tube"),
        "{}",
        again.body
    );
    let r = scan_raw("b-8", "BAG0000001");
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("bag's or box's label"), "{}", r.body);
    // The street's tube rule changed during the round (a check digit now):
    // the tubes opened under the old one are still its labels.
    w.env.cli_ok(&[
        "round",
        "settings",
        "--street",
        "鸿城街道",
        "--tube-length",
        "11-12",
        "--tube-check",
        "luhn",
    ]);
    let r = scan_raw("b-9", "L0000001");
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("is a tube barcode"), "{}", r.body);
    // What no scanner reads: too long a code, too long a walk-in's name, and
    // a walk-in's phone the volunteer can still ask again.
    let r = scan_raw("b-10", &"A".repeat(201));
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("longer than 200"), "{}", r.body);
    for (client, walk_in, says) in [
        (
            "w-long",
            json!({ "name": "长".repeat(41) }),
            "longer than 40",
        ),
        (
            "w-phone",
            json!({ "name": "过路人", "phone": "1390431000" }),
            "phone is not valid",
        ),
    ] {
        let r = srv.post(
            &format!("/api/v1/tubes/{t}/scans"),
            &json!({ "client_id": client, "walk_in": walk_in }),
        );
        assert_eq!(r.status, 400, "{}", r.body);
        assert!(r.body.contains(says), "{}", r.body);
    }
    let next = scan_raw("b-11", "X9Y8Z7W6V4");
    assert_eq!(next.status, 200, "{}", next.body);
    // The unknown code, the unregistered ID number, a resident's code and this one.
    assert_eq!(next.json()["tube_fill"], 4, "nothing refused was counted");
    // Synced late from an offline queue (taken ten minutes ago): the person
    // is gone, so a label or a blank is stored and flagged, the tube's count
    // keeping the swab that may be in it.
    let ten_minutes_ago = gw_app::Clock::System.now_ms() - 600_000;
    let late_walk_in = srv.post(
        &format!("/api/v1/tubes/{t}/scans"),
        &json!({ "client_id": "w-late", "walk_in": { "name": "过路人", "phone": "1390431000" }, "scanned_ms": ten_minutes_ago, "sent_ms": gw_app::Clock::System.now_ms() }),
    );
    assert_eq!(late_walk_in.status, 200, "{}", late_walk_in.body);
    assert!(
        late_walk_in.json()["problem"]
            .as_str()
            .unwrap()
            .contains("phone left out"),
        "{}",
        late_walk_in.body
    );
    // Too long a read synced late: the swab is in the tube, so it is stored
    // (cut to the limit, naming nobody), and its replay is the same swab.
    let long = json!({ "client_id": "b-long", "code": "A".repeat(300), "scanned_ms": ten_minutes_ago, "sent_ms": gw_app::Clock::System.now_ms() });
    let stored = srv.post(&format!("/api/v1/tubes/{t}/scans"), &long);
    assert_eq!(stored.status, 200, "{}", stored.body);
    assert_ne!(stored.json()["problem"], "", "{}", stored.body);
    let again = srv.post(&format!("/api/v1/tubes/{t}/scans"), &long);
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.json()["replay"], true, "{}", again.body);
    for (client, code) in [("b-6", "L0000150"), ("b-7", "")] {
        let r = srv.post(
            &format!("/api/v1/tubes/{t}/scans"),
            &json!({ "client_id": client, "code": code, "scanned_ms": ten_minutes_ago, "sent_ms": gw_app::Clock::System.now_ms() }),
        );
        assert_eq!(r.status, 200, "{code:?}: {}", r.body);
        assert_ne!(r.json()["problem"], "", "{}", r.body);
    }
    // Sampling closes with that tube still open: the move stands, and says
    // which tube is to be closed and bagged (the empty one is not named).
    let moved = srv.post(
        &format!("/api/v1/rounds/{}/state", w.round),
        &json!({ "to": "sampling_closed" }),
    );
    assert_eq!(moved.status, 200, "{}", moved.body);
    let warnings = moved.json()["warnings"].to_string();
    assert!(
        warnings.contains("L0000001") && !warnings.contains("L0000002"),
        "{warnings}"
    );
}

/// A resident whose household is sealed (封控) comes to a point anyway: the
/// swab is stored (it is in the tube), flagged for the command post, and the
/// volunteer is told at once; a neighbour elsewhere, or the same person
/// swabbed at the door, is not flagged; an order set after the first scan is
/// seen by the next one.
#[tokio::test]
async fn someone_held_at_home_swabbed_at_a_point_is_flagged_and_the_volunteer_told() {
    let w = setup("100").await;
    let srv = &w.srv;
    let residents = srv.get("/api/v1/residents?limit=1000").json()["items"]
        .as_array()
        .unwrap()
        .clone();
    // The demo's hundred live in one building: one household is sealed.
    let household_of = |id: &str| {
        residents.iter().find(|r| r["id"] == id).unwrap()["household"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let sealed = household_of(&w.codes[0].0);
    let (inside, outside): (Vec<_>, Vec<_>) = w
        .codes
        .iter()
        .partition(|(id, _)| household_of(id) == sealed);
    assert!(inside.len() >= 2 && !outside.is_empty());
    let t = tube(srv, &w.points[0], "H0000001");
    // Before any order: nobody is flagged (and the cache of who is held is
    // filled with nobody).
    let before = scan(srv, &t, "h-0", &outside[0].1);
    assert_eq!(before["alert"], Value::Null, "{before}");
    let r = srv.post(
        "/api/v1/control",
        &json!({ "target_kind": "household", "target_id": sealed, "status": "sealed", "reason": "密接" }),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let held = scan(srv, &t, "h-1", &inside[0].1);
    assert!(
        held["alert"]
            .as_str()
            .unwrap_or("")
            .contains("sealed control"),
        "{held}"
    );
    assert!(
        held["problem"].as_str().unwrap().contains("sealed"),
        "{held}"
    );
    // Stored and counted: the swab is in the tube.
    assert_eq!(held["tube_fill"], 2, "{held}");
    let neighbour = scan(srv, &t, "h-2", &outside[1 % outside.len()].1);
    assert_eq!(neighbour["alert"], Value::Null, "{neighbour}");
    // At the door, as it should be: no flag.
    let door = srv.post(
        &format!("/api/v1/tubes/{t}/scans"),
        &json!({ "client_id": "h-3", "code": inside[1].1, "purpose": "door_to_door" }),
    );
    assert_eq!(door.status, 200, "{}", door.body);
    assert!(
        !door.json()["problem"].as_str().unwrap().contains("sealed"),
        "{}",
        door.body
    );
    // The command post's list of flagged swabs names it.
    let flagged = srv
        .get(&format!("/api/v1/rounds/{}/flagged", w.round))
        .json();
    let items = flagged["items"].as_array().unwrap();
    assert!(
        items
            .iter()
            .any(|i| i["client_id"] == "h-1" && i["problem"].as_str().unwrap().contains("sealed")),
        "{flagged}"
    );
    assert!(!items.iter().any(|i| i["client_id"] == "h-2"), "{flagged}");
    // Swabs synced late from an offline queue, taken ten minutes ago, are
    // judged by the orders in force then: a household sealed half an hour
    // ago is flagged (the volunteer is not told: the person is gone); one
    // sealed five minutes ago was not held when the swab was taken.
    let now = gw_app::Clock::System.now_ms();
    let taken = [&outside[0].0, &outside[1 % outside.len()].0].map(|id| household_of(id));
    let mut others = outside
        .iter()
        .filter(|(id, _)| !taken.contains(&household_of(id)));
    let a = *others.next().unwrap();
    let b = *others
        .find(|(id, _)| household_of(id) != household_of(&a.0))
        .unwrap();
    for (who, ago) in [(&a, 1_800_000), (&b, 300_000)] {
        let r = srv.post(
            "/api/v1/control",
            &json!({ "target_kind": "household", "target_id": household_of(&who.0), "status": "sealed", "from_ms": now - ago, "reason": "密接" }),
        );
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let late = |client: &str, code: &str| {
        let r = srv.post(
            &format!("/api/v1/tubes/{t}/scans"),
            &json!({ "client_id": client, "code": code, "scanned_ms": now - 600_000, "sent_ms": now }),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()
    };
    let held_then = late("h-4", &a.1);
    assert!(
        held_then["problem"]
            .as_str()
            .unwrap()
            .contains("lived, when swabbed, under sealed control"),
        "{held_then}"
    );
    assert_eq!(held_then["alert"], Value::Null, "{held_then}");
    let free_then = late("h-5", &b.1);
    assert!(
        !free_then["problem"].as_str().unwrap().contains("sealed"),
        "{free_then}"
    );
}

/// A tube synced from a station's offline queue after every result came in
/// keeps the round from closing, named, until the lab has its result; then
/// it closes.
#[tokio::test]
async fn a_round_does_not_close_over_a_tube_with_no_result() {
    let w = setup("30").await;
    let srv = &w.srv;
    let r = &w.round;
    let t1 = tube(srv, &w.points[0], "C0000001");
    for (i, (_, code)) in w.codes[..3].iter().enumerate() {
        scan(srv, &t1, &format!("c-{i}"), code);
    }
    let move_to = |to: &str| srv.post(&format!("/api/v1/rounds/{r}/state"), &json!({ "to": to }));
    assert_eq!(move_to("sampling_closed").status, 200);
    let results = |barcode: &str| {
        let posted = srv.post(
            &format!("/api/v1/rounds/{r}/results"),
            &json!({ "results": [{ "barcode": barcode, "result": "negative" }] }),
        );
        assert_eq!(posted.status, 200, "{}", posted.body);
        posted.json()
    };
    // One tube twice in one request with two results: refused as that,
    // nothing recorded; a recorded result changed by an upload: refused too.
    let two = srv.post(
        &format!("/api/v1/rounds/{r}/results"),
        &json!({ "results": [{ "barcode": "C0000001", "result": "阴性" }, { "barcode": "c0000001", "result": "阳性" }] }),
    );
    assert_eq!(two.status, 400, "{}", two.body);
    assert!(two.body.contains("appears twice"), "{}", two.body);
    let first = results("C0000001");
    assert_eq!(first["still_open"], json!(["C0000001"]), "{first}");
    let changed = srv.post(
        &format!("/api/v1/rounds/{r}/results"),
        &json!({ "results": [{ "barcode": "C0000001", "result": "abnormal" }] }),
    );
    assert_eq!(changed.status, 409, "{}", changed.body);
    assert!(
        changed.body.contains("not changed by an upload"),
        "{}",
        changed.body
    );
    let moved = move_to("results_complete");
    assert_eq!(moved.status, 200, "{}", moved.body);
    // The offline station's tube arrives now.
    let opened = srv.post(
        &format!("/api/v1/points/{}/tubes", w.points[1]),
        &json!({ "barcode": "C0000002", "reuse": true }),
    );
    assert_eq!(opened.status, 201, "{}", opened.body);
    let late = opened.json()["id"].as_str().unwrap().to_string();
    scan(srv, &late, "late-0", &w.codes[5].1);
    let closing = move_to("closed");
    assert_eq!(closing.status, 400, "{}", closing.body);
    assert!(closing.body.contains("C0000002"), "{}", closing.body);
    // The store refuses it too, in the closing transaction.
    let store = w.env.store().await;
    let rk: gw_domain::ids::Key = r.parse().unwrap();
    let closed = store
        .move_round(
            rk.street,
            rk.id,
            "results_complete",
            "closed",
            0,
            &Default::default(),
        )
        .await;
    assert!(
        matches!(&closed, Err(gw_store::StoreError::Conflict(m)) if m.contains("C0000002")),
        "{closed:?}"
    );
    // Its result, while the system has it open at the point: recorded, and
    // the lab told it cannot have that tube (a misread barcode?).
    let late_result = results("C0000002");
    assert_eq!(
        late_result["still_open"],
        json!(["C0000002"]),
        "{late_result}"
    );
    let closing = move_to("closed");
    assert_eq!(closing.status, 200, "{}", closing.body);
}

/// A swab an offline station took with a code that was reissued (revoked)
/// before the station synced counts for its person, flagged; a swab taken
/// with the revoked code after the reissue counts for nobody.
#[tokio::test]
async fn a_swab_taken_before_its_code_was_reissued_counts_when_synced_later() {
    let w = setup("30").await;
    let srv = &w.srv;
    let t = tube(srv, &w.points[0], "D0000001");
    let now = gw_app::Clock::System.now_ms();
    for (id, _) in &w.codes[..2] {
        let r = srv.post(&format!("/api/v1/residents/{id}/code/reissue"), &json!({}));
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let synced = |client: &str, code: &str, scanned_ms: Option<i64>| {
        let mut body = json!({ "client_id": client, "code": code, "station": "A" });
        if let Some(at) = scanned_ms {
            body["scanned_ms"] = json!(at);
        }
        let r = srv.post(&format!("/api/v1/tubes/{t}/scans"), &body);
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()
    };
    let before = synced("d-0", &w.codes[0].1, Some(now - 600_000));
    assert_eq!(before["resident"], w.codes[0].0.as_str(), "{before}");
    assert!(
        before["problem"]
            .as_str()
            .unwrap()
            .contains("reissued after"),
        "{before}"
    );
    let after = synced("d-1", &w.codes[1].1, None);
    assert!(after["resident"].is_null(), "{after}");
    assert!(!after["problem"].as_str().unwrap().is_empty(), "{after}");
    // Synced late too, but taken after the reissue (ten minutes ago): nobody.
    let store = w.env.store().await;
    let k: gw_domain::ids::Key = w.codes[1].0.parse().unwrap();
    exec(
        &store,
        &format!(
            "UPDATE resident SET code_reissued_ms = {} WHERE street_id = {} AND id = {}",
            now - 600_000,
            k.street,
            k.id
        ),
    )
    .await;
    let late = synced("d-2", &w.codes[1].1, Some(now - 300_000));
    assert!(late["resident"].is_null(), "{late}");
    assert!(
        !late["problem"].as_str().unwrap().contains("reissued after"),
        "{late}"
    );
    // Taken half a minute before a reissue and synced a minute later (a
    // live scan by the clock): it counts too.
    let r = srv.post(
        &format!("/api/v1/residents/{}/code/reissue", w.codes[2].0),
        &json!({}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let reissued = gw_app::Clock::System.now_ms();
    let just_before = synced("d-3", &w.codes[2].1, Some(reissued - 30_000));
    assert_eq!(
        just_before["resident"],
        w.codes[2].0.as_str(),
        "{just_before}"
    );
    assert!(
        just_before["problem"]
            .as_str()
            .unwrap()
            .contains("reissued after"),
        "{just_before}"
    );
    let cov = srv
        .get(&format!("/api/v1/rounds/{}/coverage", w.round))
        .json();
    assert_eq!(cov["sampled"], 2, "{cov}");
}

/// A planned round made by mistake or twice is cancelled (page button, API,
/// CLI); a second round of a name in use is refused (a double submit makes
/// one round), a cancelled one's name may be used again; dates outside
/// 1970–2100 are refused; a cancelled round opens never and takes no point.
#[tokio::test]
async fn a_planned_round_is_cancelled_and_a_double_submit_makes_one_round() {
    let w = setup("100").await;
    let srv = &w.srv;
    let street: i64 = w.codes[0].0.split('-').next().unwrap().parse().unwrap();
    let first = srv.post("/api/v1/rounds", &round_body(street, "第2轮全员核酸"));
    assert_eq!(first.status, 201, "{}", first.body);
    let id = first.json()["id"].as_str().unwrap().to_string();
    let twice = srv.post("/api/v1/rounds", &round_body(street, " 第2轮全员核酸 "));
    assert_eq!(twice.status, 409, "{}", twice.body);
    assert!(twice.body.contains("同名轮次"), "{}", twice.body);
    for (starts, ends) in [
        (0, 9_223_372_036_854_775_000_i64),
        (-62_135_596_800_000_i64, 1_000),
    ] {
        let r = srv.post(
            "/api/v1/rounds",
            &json!({ "street": street, "name": "远古轮", "starts_ms": starts, "ends_ms": ends, "pool_size": 10 }),
        );
        assert_eq!(r.status, 400, "{}", r.body);
        assert!(r.body.contains("1970"), "{}", r.body);
    }
    // Cancelled from its page.
    let page = srv.get(&format!("/rounds/{id}")).body;
    assert!(page.contains(r#"id="cancel-form""#), "{page}");
    let r = srv.post(
        &format!("/api/v1/rounds/{id}/state"),
        &json!({ "to": "cancelled" }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let page = srv.get(&format!("/rounds/{id}")).body;
    assert!(
        page.contains("本轮已取消") && !page.contains(r#"id="cancel-form""#),
        "{page}"
    );
    let open = srv.post(&format!("/api/v1/rounds/{id}/open"), &json!({}));
    assert!(matches!(open.status, 400 | 409), "{}", open.body);
    let open = srv.post(
        &format!("/api/v1/rounds/{id}/state"),
        &json!({ "to": "open" }),
    );
    assert_eq!(open.status, 400, "{}", open.body);
    assert!(open.body.contains("已取消"), "{}", open.body);
    let point = srv.post(
        &format!("/api/v1/rounds/{id}/points"),
        &json!({ "name": "迟到点", "community": format!("{street}-{}", w.env.store().await.communities(None, Some(street)).await.unwrap()[0].id) }),
    );
    assert_eq!(point.status, 409, "{}", point.body);
    // An open round is not cancelled.
    let r = srv.post(
        &format!("/api/v1/rounds/{}/state", w.round),
        &json!({ "to": "cancelled" }),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    // A planned round with a point and an enrolled station: cancelling it
    // revokes the station; no station, tube (not even one opened offline)
    // or supply is given to it after; it leaves every home page.
    let community = format!(
        "{street}-{}",
        w.env
            .store()
            .await
            .communities(None, Some(street))
            .await
            .unwrap()[0]
            .id
    );
    let planned = srv.post("/api/v1/rounds", &round_body(street, "第3轮全员核酸"));
    let planned = planned.json()["id"].as_str().unwrap().to_string();
    let pt = srv.post(
        &format!("/api/v1/rounds/{planned}/points"),
        &json!({ "name": "前一晚设的点", "community": community }),
    );
    assert_eq!(pt.status, 201, "{}", pt.body);
    let pt = pt.json()["id"].as_str().unwrap().to_string();
    let issued = srv.post(
        &format!("/api/v1/points/{pt}/stations"),
        &json!({ "label": "1号台" }),
    );
    assert_eq!(issued.status, 201, "{}", issued.body);
    let code = issued.json()["enroll_code"].as_str().unwrap().to_string();
    let enrolled = srv
        .anonymous()
        .post("/api/v1/enroll", &json!({ "code": code }));
    assert_eq!(enrolled.status, 200, "{}", enrolled.body);
    let station = srv.with_token(enrolled.json()["token"].as_str().unwrap());
    let r = srv.post(
        &format!("/api/v1/rounds/{planned}/state"),
        &json!({ "to": "cancelled" }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let offline = station.post(
        &format!("/api/v1/points/{pt}/tubes"),
        &json!({ "barcode": "CX0000001", "reuse": true }),
    );
    assert_eq!(
        offline.status, 401,
        "the station is revoked: {}",
        offline.body
    );
    let by_hand = srv.post(
        &format!("/api/v1/points/{pt}/tubes"),
        &json!({ "barcode": "CX0000001", "reuse": true }),
    );
    assert_eq!(by_hand.status, 409, "{}", by_hand.body);
    assert!(by_hand.body.contains("已取消"), "{}", by_hand.body);
    let more = srv.post(
        &format!("/api/v1/points/{pt}/stations"),
        &json!({ "label": "2号台" }),
    );
    assert_eq!(more.status, 409, "{}", more.body);
    let kits = srv.post(
        &format!("/api/v1/points/{pt}/supplies"),
        &json!({ "kind": "kits", "quantity": 10 }),
    );
    assert_eq!(kits.status, 409, "{}", kits.body);
    assert!(!srv
        .get("/")
        .body
        .contains(&format!(r#"/rounds/{planned}""#)));
    // A planned round a tube was opened in (offline, before it opened) holds
    // a physical thing: it is not cancelled.
    let used = srv.post("/api/v1/rounds", &round_body(street, "第4轮全员核酸"));
    let used = used.json()["id"].as_str().unwrap().to_string();
    let upt = srv.post(
        &format!("/api/v1/rounds/{used}/points"),
        &json!({ "name": "先开了管的点", "community": community }),
    );
    let upt = upt.json()["id"].as_str().unwrap().to_string();
    let t = srv.post(
        &format!("/api/v1/points/{upt}/tubes"),
        &json!({ "barcode": "CY0000001", "reuse": true }),
    );
    assert_eq!(t.status, 201, "{}", t.body);
    let refused = srv.post(
        &format!("/api/v1/rounds/{used}/state"),
        &json!({ "to": "cancelled" }),
    );
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert!(refused.body.contains("不能取消"), "{}", refused.body);
    // The name is free again; the CLI cancels too.
    let again = srv.post("/api/v1/rounds", &round_body(street, "第2轮全员核酸"));
    assert_eq!(again.status, 201, "{}", again.body);
    let again = again.json()["id"].as_str().unwrap().to_string();
    let out = w.env.cli_ok(&["round", "state", &again, "cancelled"]);
    assert!(out.contains("cancelled"), "{out}");
    let history = srv
        .get(&format!("/api/v1/streets/{street}/coverage-history"))
        .json();
    assert!(
        history["rounds"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["round"] != id.as_str() && r["round"] != again.as_str()),
        "{history}"
    );
}

/// Seals the building of the first resident with a code: that resident's
/// row, their grid and the building (`STREET-ID`).
async fn seal_first_building(w: &Round) -> (gw_store::registry::ResidentRow, String, String) {
    let store = w.env.store().await;
    let k0: gw_domain::ids::Key = w.codes[0].0.parse().unwrap();
    let row = store.resident(k0.street, k0.id).await.unwrap();
    let grid = format!("{}-{}", row.street_id, row.grid_id.unwrap());
    let building = w
        .srv
        .get(&format!("/api/v1/residents/{}", w.codes[0].0))
        .json()["building"]
        .as_str()
        .unwrap()
        .to_string();
    let sealed = w.srv.post("/api/v1/control", &json!({ "target_kind": "building", "target_id": building, "status": "sealed", "reason": "封控" }));
    assert_eq!(sealed.status, 201, "{}", sealed.body);
    (row, grid, building)
}

/// The door-to-door team works from a point: its staff read the lists of the
/// grids of their point's community (names masked, as a volunteer sees them),
/// and nothing beyond; the page asked for no grid lists those grids.
#[tokio::test]
async fn a_points_staff_read_the_door_to_door_lists_of_its_community() {
    let w = setup("600").await;
    let srv = &w.srv;
    let store = w.env.store().await;
    let (row, grid, _) = seal_first_building(&w).await;
    let path = format!("/api/v1/rounds/{}/door-to-door?grid={grid}", w.round);
    let full = srv.get(&path).json();
    let first = |v: &Value| v["floors"][0]["residents"][0]["name"].clone();
    let name = first(&full).as_str().unwrap().to_string();

    // A volunteer and a point manager of the round's point in that community.
    let vpw = w
        .env
        .account("d2d", "volunteer", &["--point", &w.points[0]]);
    let mpw = w
        .env
        .account("pm", "point_manager", &["--point", &w.points[1]]);
    for (user, pw) in [("d2d", &vpw), ("pm", &mpw)] {
        let token = srv.login(user, pw);
        let team = srv.with_token(&token);
        let r = team.get(&path);
        assert_eq!(r.status, 200, "{user}: {}", r.body);
        let list = r.json();
        assert_eq!(
            list["floors"].as_array().unwrap().len(),
            full["floors"].as_array().unwrap().len()
        );
        assert_eq!(first(&list), json!(gw_domain::mask::name(&name)), "{user}");
        // The page without a grid lists the grid, and the grid's page opens.
        let browser = crate::round_pages::Browser::login(srv, user, &format!("{pw}-changed"));
        let home = browser.get("/");
        assert!(
            home.body
                .contains(&format!(r#"href="/rounds/{}/door-to-door""#, w.round)),
            "{}",
            home.body
        );
        let page = browser.get(&format!("/rounds/{}/door-to-door", w.round));
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(
            page.body
                .contains(&format!("/rounds/{}/door-to-door?grid={grid}", w.round)),
            "{}",
            page.body
        );
        let page = browser.get(&format!("/rounds/{}/door-to-door?grid={grid}", w.round));
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(page.body.contains(&gw_domain::mask::name(&name)));
        assert!(
            !page.body.contains(&format!("<b>{name}</b>")),
            "{}",
            page.body
        );
        // Not a registry reader for that: the resident's own record stays shut.
        let one = team.get(&format!("/api/v1/residents/{}", w.codes[0].0));
        assert_eq!(one.status, 403, "{}", one.body);
    }

    // Staff of a point of another round are not the team of this one.
    let (other, _) = open_round(|p, b| srv.post(p, b), &round_body(row.street_id, "第2轮"));
    let community = store.communities(None, Some(row.street_id)).await.unwrap()[0].id;
    let p2 = srv
        .post(
            &format!("/api/v1/rounds/{other}/points"),
            &json!({ "name": "别轮点", "community": format!("{}-{community}", row.street_id) }),
        )
        .json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let opw = w.env.account("elsewhere", "volunteer", &["--point", &p2]);
    let token = srv.login("elsewhere", &opw);
    let r = srv.with_token(&token).get(&path);
    assert_eq!(r.status, 403, "{}", r.body);
    let browser = crate::round_pages::Browser::login(srv, "elsewhere", &format!("{opw}-changed"));
    let page = browser.get(&format!("/rounds/{}/door-to-door", w.round));
    assert!(page.body.contains("no-door-grids"), "{}", page.body);
}

/// The evening before: a round not yet begun has a door-to-door list from
/// the registry as it is (a preview, said so), not an empty "nobody".
#[tokio::test]
async fn a_planned_rounds_door_to_door_list_is_a_preview_from_the_registry() {
    let w = setup("600").await;
    let srv = &w.srv;
    let (row, grid, building) = seal_first_building(&w).await;
    let made = srv.post("/api/v1/rounds", &round_body(row.street_id, "明天的轮次"));
    assert_eq!(made.status, 201, "{}", made.body);
    let tomorrow = made.json()["id"].as_str().unwrap().to_string();
    let list = srv
        .get(&format!(
            "/api/v1/rounds/{tomorrow}/door-to-door?grid={grid}"
        ))
        .json();
    assert_eq!(list["preview"], true, "{list}");
    let ids: Vec<&str> = list["floors"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| f["residents"].as_array().unwrap())
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    // Everyone of the sealed building, the one swabbed in the other round too.
    let in_building = srv
        .get(&format!("/api/v1/residents?building={building}&limit=1000"))
        .json();
    for r in in_building["items"].as_array().unwrap() {
        assert!(
            ids.contains(&r["id"].as_str().unwrap()),
            "{r} not on {ids:?}"
        );
    }
    let page = srv.get(&format!("/rounds/{tomorrow}/door-to-door?grid={grid}"));
    assert!(page.body.contains(r#"id="door-preview""#), "{}", page.body);
    // The open round's list is no preview.
    let open = srv
        .get(&format!(
            "/api/v1/rounds/{}/door-to-door?grid={grid}",
            w.round
        ))
        .json();
    assert_eq!(open["preview"], false);
}

/// A community's secretary owns its testing points: she adds, changes and
/// removes them in her community (API and the round's page), not elsewhere,
/// and does not run the round itself.
#[tokio::test]
async fn a_secretary_adds_and_changes_her_communitys_points() {
    let w = setup("6000").await;
    let srv = &w.srv;
    let store = w.env.store().await;
    let street = store.streets().await.unwrap()[0].id;
    let communities = store.communities(None, Some(street)).await.unwrap();
    assert!(communities.len() >= 2);
    let (own, other) = (&communities[0], &communities[1]);
    let pw = w.env.account(
        "sec",
        "community_secretary",
        &["--street", &own.street_name, "--community", &own.name],
    );
    let token = srv.login("sec", &pw);
    let sec = srv.with_token(&token);
    let add = |community: i64, name: &str| {
        sec.post(
            &format!("/api/v1/rounds/{}/points", w.round),
            &json!({ "name": name, "community": format!("{street}-{community}"), "stations": 3 }),
        )
    };
    let made = add(own.id, "书记加的点");
    assert_eq!(made.status, 201, "{}", made.body);
    let point = made.json()["id"].as_str().unwrap().to_string();
    let elsewhere = add(other.id, "别的社区的点");
    assert_eq!(elsewhere.status, 403, "{}", elsewhere.body);
    assert!(
        elsewhere.body.contains("不在您的辖区"),
        "{}",
        elsewhere.body
    );
    let changed = sec.post(
        &format!("/api/v1/points/{point}"),
        &json!({ "stations": 5 }),
    );
    assert_eq!(changed.status, 200, "{}", changed.body);
    assert_eq!(changed.json()["stations"], 5);
    // Not the round's state, nor another community's point.
    let state = sec.post(
        &format!("/api/v1/rounds/{}/state", w.round),
        &json!({ "to": "sampling_closed" }),
    );
    assert_eq!(state.status, 403, "{}", state.body);
    let chief_point = srv
        .post(
            &format!("/api/v1/rounds/{}/points", w.round),
            &json!({ "name": "街道的点", "community": format!("{street}-{}", other.id) }),
        )
        .json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let theirs = sec.post(
        &format!("/api/v1/points/{chief_point}"),
        &json!({ "stations": 5 }),
    );
    assert_eq!(theirs.status, 403, "{}", theirs.body);
    // The round's page offers her the form for her community only, and no
    // state buttons; her point's page offers the change form and removal.
    let browser = crate::round_pages::Browser::login(srv, "sec", &format!("{pw}-changed"));
    let page = browser.get(&format!("/rounds/{}", w.round)).body;
    assert!(page.contains(r#"id="add-point""#), "{page}");
    assert!(!page.contains(r#"id="round-state""#), "{page}");
    assert!(page.contains(&format!(">{}</option>", own.name)), "{page}");
    assert!(
        !page.contains(&format!(">{}</option>", other.name)),
        "{page}"
    );
    let pp = browser.get(&format!("/points/{point}")).body;
    assert!(
        pp.contains(r#"action="/points/"#) && pp.contains("/change"),
        "{pp}"
    );
    assert!(pp.contains(r#"id="remove-point""#), "{pp}");
    let removed = sec.post(&format!("/api/v1/points/{point}/remove"), &json!({}));
    assert_eq!(removed.status, 200, "{}", removed.body);
    // Her home page lists the rounds over her community, not one over
    // another community only.
    let mut body = round_body(street, "邻社区的轮次");
    body["communities"] = json!([format!("{street}-{}", other.id)]);
    let made = srv.post("/api/v1/rounds", &body);
    assert_eq!(made.status, 201, "{}", made.body);
    let home = browser.get("/").body;
    assert!(home.contains("全员核酸第1轮"), "{home}");
    assert!(!home.contains("邻社区的轮次"), "{home}");
    let chief = srv.get("/").body;
    assert!(chief.contains("邻社区的轮次"), "{chief}");
}

/// A refusal on the command line reads as the store wrote it, Chinese first:
/// no English tag (`conflict:`) between 「错误 error:」 and the message.
#[tokio::test]
async fn a_command_line_conflict_reads_chinese_first() {
    let w = setup("200").await;
    let args = [
        "round",
        "create",
        "--street",
        "鸿城街道",
        "--name",
        "全员核酸第1轮",
        "--starts",
        "2026-12-06 07:00",
        "--ends",
        "2026-12-06 18:00",
    ];
    let out = w.env.cli(&args);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("错误 error: 本街道已有同名轮次"), "{err}");
}

/// `round point` and `round create` take a community by its name, as
/// `territory` and `user grant` do, not only by its id.
#[tokio::test]
async fn the_command_line_takes_a_community_by_its_name() {
    let w = setup("200").await;
    let store = w.env.store().await;
    let street = store.streets().await.unwrap()[0].id;
    let c = &store.communities(None, Some(street)).await.unwrap()[0];
    let out = w.env.cli_ok(&[
        "round",
        "point",
        &w.round,
        "--name",
        "按名称加的点",
        "--community",
        &c.name,
    ]);
    assert!(out.contains("已添加"), "{out}");
    let points = w
        .srv
        .get(&format!("/api/v1/rounds/{}/schedule", w.round))
        .json();
    assert!(points.to_string().contains("按名称加的点"), "{points}");
    let bad = w.env.cli(&[
        "round",
        "point",
        &w.round,
        "--name",
        "无此社区的点",
        "--community",
        "无此社区",
    ]);
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("本街道找不到社区 无此社区"), "{err}");
    let made = w.env.cli_ok(&[
        "round",
        "create",
        "--street",
        &c.street_name,
        "--name",
        "按名称的轮次",
        "--starts",
        "2026-12-07 07:00",
        "--ends",
        "2026-12-07 18:00",
        "--community",
        &c.name,
    ]);
    assert!(made.contains("已创建"), "{made}");
}

/// A station closes an empty tube (withdrawn: its barcode freed) while
/// another scan into it is on its way: the scan is either stored in the tube
/// (which then is no longer empty and is closed, not withdrawn) or told at
/// once that the tube is gone (404), never a 503 to retry into a 404; and
/// nothing is stored half.
#[tokio::test]
async fn a_scan_racing_the_withdrawal_of_its_empty_tube_is_stored_or_told_the_tube_is_gone() {
    let w = setup("200").await;
    let store = w.env.store().await;
    let mut outcomes = std::collections::BTreeMap::new();
    for k in 0..40 {
        let t = tube(&w.srv, &w.points[0], &format!("W{k:07}"));
        let barrier = Arc::new(std::sync::Barrier::new(2));
        let (srv, b, tt) = (w.srv.clone(), barrier.clone(), t.clone());
        let code = w.codes[k].1.clone();
        let scanning = std::thread::spawn(move || {
            b.wait();
            srv.post(
                &format!("/api/v1/tubes/{tt}/scans"),
                &json!({ "client_id": format!("race-{k}"), "code": code }),
            )
        });
        let (srv, b, tt) = (w.srv.clone(), barrier, t.clone());
        let closing = std::thread::spawn(move || {
            b.wait();
            srv.post(&format!("/api/v1/tubes/{tt}/close"), &json!({}))
        });
        let (scanned, closed) = (scanning.join().unwrap(), closing.join().unwrap());
        assert_eq!(closed.status, 200, "{}", closed.body);
        let key: gw_domain::ids::Key = t.parse().unwrap();
        let left = store.tube(key.street, key.id).await;
        match scanned.status {
            200 => {
                assert_ne!(left.unwrap().state, "open", "closed, not withdrawn");
                let (fill, _) = store
                    .tube_and_point_counts(key.street, key.id, 0)
                    .await
                    .unwrap();
                assert_eq!(fill, 1, "the swab is in the tube it was stored in");
            }
            404 => {
                assert!(
                    matches!(left, Err(gw_store::StoreError::NotFound(_))),
                    "told gone, the tube must be gone: {left:?}"
                );
                assert!(scanned.body.contains("tube"), "{}", scanned.body);
            }
            s => panic!("scan {k}: {s} {}", scanned.body),
        }
        *outcomes.entry(scanned.status).or_insert(0) += 1;
    }
    eprintln!("scan outcomes racing a withdrawal: {outcomes:?}");
}
