//! A member of a pooled tube the lab found invalid has no result at all: not
//! sampled, but missed (待重采（原管无效）/ re-sample due) until their
//! re-sample swab is registered, then sampled; exempted, exempt. Coverage at
//! the grid and the building, the missed list (API and CLI), the run of
//! rounds nobody missed and the door-to-door list agree, and the figures are
//! checked against counts made here in SQL. Someone held at home with both a
//! retest and a re-sample open is one row on the door-to-door list.

use serde_json::{json, Value};

use crate::harness::query_strings;
use crate::packing_pages::{closed_tube, staffed};

/// The snapshot's row `e` sampled in round `round`, in plain SQL: a swab in
/// a tube the lab did not find invalid (no result yet counts).
fn sampled(round: i64) -> String {
    format!(
        "EXISTS (SELECT 1 FROM registration s JOIN tube t ON t.street_id = s.street_id AND t.id = s.tube_id \
         WHERE s.street_id = e.street_id AND s.round_id = {round} AND s.resident_id = e.resident_id \
         AND (t.result IS NULL OR t.result <> 'invalid'))"
    )
}

/// `(expected, sampled, exempt, missed, moved_out)` of round `round` in
/// `column = id`, counted here in plain SQL.
async fn by_sql(
    store: &gw_store::Store,
    street: i64,
    round: i64,
    column: &str,
    id: i64,
) -> (i64, i64, i64, i64, i64) {
    let sampled = sampled(round);
    let exempt = "EXISTS (SELECT 1 FROM round_exemption x WHERE x.street_id = e.street_id AND x.round_id = e.round_id AND x.resident_id = e.resident_id)";
    let n = |cond: String| async move {
        query_strings(
            store,
            &format!(
                "SELECT CAST(COUNT(*) AS TEXT) FROM round_expected e WHERE e.street_id = {street} AND e.round_id = {round} AND e.{column} = {id} AND {cond}"
            ),
        )
        .await[0]
            .parse::<i64>()
            .unwrap()
    };
    (
        n("1 = 1".into()).await,
        n(sampled.clone()).await,
        n(format!("{exempt} AND NOT {sampled}")).await,
        n(format!(
            "NOT {sampled} AND NOT {exempt} AND e.moved_out_ms IS NULL"
        ))
        .await,
        n(format!(
            "NOT {sampled} AND NOT {exempt} AND e.moved_out_ms IS NOT NULL"
        ))
        .await,
    )
}

fn figures(v: &Value) -> (i64, i64, i64, i64, i64) {
    let f = |k: &str| v[k].as_i64().unwrap_or_else(|| panic!("no {k} in {v}"));
    (
        f("expected"),
        f("sampled"),
        f("exempt"),
        f("missed"),
        f("moved_out"),
    )
}

fn key_id(k: &str) -> i64 {
    k.split('-').nth(1).unwrap().parse().unwrap()
}

/// The door-to-door list's rows.
fn door_rows(list: &Value) -> Vec<Value> {
    list["floors"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| f["residents"].as_array().unwrap().clone())
        .collect()
}

#[tokio::test]
async fn an_invalid_tube_leaves_its_members_missed_until_re_sampled() {
    let s = staffed("全员核酸第9轮").await;
    let c = s.srv.with_token(&s.chief);
    let street = s.street;
    let round = s.round.clone();
    let round_id = key_id(&round);
    let grid = format!("{street}-{}", s.grid);
    let point = |name: &str| {
        c.post(
            &format!("/api/v1/rounds/{round}/points"),
            &json!({ "name": name, "community": format!("{street}-{}", s.community) }),
        )
        .json()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (p1, p2) = (point("北门采样点"), point("南门采样点"));
    let code = |id: &str| -> String {
        c.get(&format!("/api/v1/residents/{id}/code")).json()["code"]
            .as_str()
            .unwrap()
            .to_string()
    };
    // One building of the grid, all of whose residents are swabbed, and one
    // resident of the grid living elsewhere.
    let in_grid = c
        .get(&format!("/api/v1/residents?grid={grid}&limit=1000"))
        .json();
    let in_grid = in_grid["items"].as_array().unwrap().clone();
    let building = in_grid[0]["building"].as_str().unwrap().to_string();
    let people: Vec<(String, String)> = in_grid
        .iter()
        .filter(|r| r["building"] == building.as_str())
        .map(|r| {
            let id = r["id"].as_str().unwrap().to_string();
            let code = code(&id);
            (id, code)
        })
        .collect();
    assert!(people.len() >= 4, "the building needs 4 residents");
    let x = in_grid
        .iter()
        .find(|r| r["building"] != building.as_str())
        .expect("a resident of the grid in another building")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let x_code = code(&x);
    let (a, b, sick) = (&people[0].0, &people[1].0, &people[2].0);

    // `x`: a pool of their own the lab finds abnormal (a retest opens, their
    // household is held at home), and swabbed again at the other point into
    // the tube the lab finds invalid (a re-sample opens): sampled, both due.
    closed_tube(
        &s.srv,
        &s.chief,
        &p1,
        "RA000001",
        &[(x.clone(), x_code.clone())],
    );
    let mut invalid = people[0..3].to_vec();
    invalid.push((x.clone(), x_code));
    closed_tube(&s.srv, &s.chief, &p2, "RI000001", &invalid);
    let mut results = vec![
        json!({ "barcode": "RA000001", "result": "abnormal" }),
        json!({ "barcode": "RI000001", "result": "invalid" }),
    ];
    for (i, chunk) in people[3..].chunks(10).enumerate() {
        let barcode = format!("RN{i:06}");
        closed_tube(&s.srv, &s.chief, &p2, &barcode, chunk);
        results.push(json!({ "barcode": barcode, "result": "negative" }));
    }
    // `a` is held at home.
    let store = s.env.store().await;
    let household = {
        let k: gw_domain::ids::Key = a.parse().unwrap();
        store
            .resident(k.street, k.id)
            .await
            .unwrap()
            .household_id
            .unwrap()
    };
    let held = c.post(
        "/api/v1/control",
        &json!({ "target_kind": "household", "target_id": format!("{street}-{household}"), "status": "temporary", "reason": "居家" }),
    );
    assert_eq!(held.status, 201, "{}", held.body);
    let r = c.post(
        &format!("/api/v1/rounds/{round}/results"),
        &json!({ "results": results }),
    );
    assert_eq!(r.status, 200, "{}", r.body);

    let cov = |q: &str| {
        let r = c.get(&format!("/api/v1/rounds/{round}/coverage?{q}"));
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()
    };
    let building_id = key_id(&building);
    let building_row = || -> Value {
        let v = cov(&format!("by=building&grid={grid}"));
        v["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["key"] == building.as_str())
            .cloned()
            .unwrap_or_else(|| panic!("no row for {building} in {v}"))
    };
    // Every row of the grid's and the community's coverage adds up and
    // matches the SQL.
    let check_levels = || async {
        for (by, q) in [
            ("building", format!("by=building&grid={grid}")),
            (
                "grid",
                format!("by=grid&community={street}-{}", s.community),
            ),
        ] {
            let v = cov(&q);
            for row in v["rows"].as_array().unwrap() {
                let (e, sa, x, m, o) = figures(row);
                assert_eq!(e, sa + x + m + o, "{q}: {row}");
                let id = key_id(row["key"].as_str().unwrap());
                assert_eq!(
                    figures(row),
                    by_sql(&store, street, round_id, &format!("{by}_id"), id).await,
                    "{q}: {row}"
                );
            }
        }
    };
    let history = || -> Value {
        let h = c.get(&format!(
            "/api/v1/streets/{street}/coverage-history?building={building}"
        ));
        assert_eq!(h.status, 200, "{}", h.body);
        h.json()["rounds"][0].clone()
    };
    let missed_list = |q: &str| -> Value {
        let m = c.get(&format!("/api/v1/rounds/{round}/missed?{q}"));
        assert_eq!(m.status, 200, "{}", m.body);
        m.json()
    };
    let ids = |v: &Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_string())
            .collect()
    };

    // Before the re-sample: the three of the invalid tube are missed, the
    // building is not 不落一人.
    let row = building_row();
    let n = people.len() as i64;
    assert_eq!(figures(&row), (n, n - 3, 0, 3, 0), "{row}");
    assert_eq!(
        figures(&row),
        by_sql(&store, street, round_id, "building_id", building_id).await
    );
    check_levels().await;
    let h = history();
    assert_eq!(h["round"], round.as_str(), "{h}");
    assert_eq!(h["nobody_missed"], false, "{h}");
    assert_eq!(h["missed"], 3, "{h}");
    // The missed list says why.
    let m = missed_list(&format!("building={building}"));
    let mut listed = ids(&m);
    listed.sort();
    let mut want = vec![a.clone(), b.clone(), sick.clone()];
    want.sort();
    assert_eq!(listed, want, "{m}");
    for i in m["items"].as_array().unwrap() {
        assert_eq!(i["resample_due"], true, "{i}");
        assert_eq!(
            i["reason"], "待重采（原管无效）/ re-sample due (tube invalid)",
            "{i}"
        );
    }
    // Those of the grid never swabbed are missed without the flag.
    let g = missed_list(&format!("grid={grid}"));
    let mut flagged = 0;
    for i in g["items"].as_array().unwrap() {
        if i["resample_due"] == true {
            flagged += 1;
        } else {
            assert_eq!(i["resample_due"], false, "{i}");
            assert!(i.get("reason").is_none(), "{i}");
        }
    }
    assert_eq!(flagged, 3, "{g}");
    // The CLI's list and coverage say the same.
    let text = s
        .env
        .cli_ok(&["round", "missed", &round, "--building", &building]);
    assert_eq!(text.matches("待重采（原管无效）").count(), 3, "{text}");
    let cli: Value = serde_json::from_str(&s.env.cli_ok(&[
        "round", "coverage", &round, "--grid", &grid, "--by", "building", "--json",
    ]))
    .unwrap();
    let cli_row = cli["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == building.as_str())
        .cloned()
        .unwrap();
    assert_eq!(figures(&cli_row), figures(&row), "{cli_row}");

    // The door-to-door list: `a` once, missed, to be re-sampled; `x` once,
    // sampled, with both the retest and the re-sample named.
    let door = c
        .get(&format!("/api/v1/rounds/{round}/door-to-door?grid={grid}"))
        .json();
    let rows = door_rows(&door);
    let mut seen = std::collections::BTreeSet::new();
    for r in &rows {
        assert!(
            seen.insert(r["id"].as_str().unwrap().to_string()),
            "twice: {r} in {door}"
        );
    }
    let row_of = |who: &str| {
        rows.iter()
            .find(|r| r["id"] == who)
            .cloned()
            .unwrap_or_else(|| panic!("{who} not on {door}"))
    };
    let ra = row_of(a);
    assert_eq!(ra["sampled"], false, "{ra}");
    assert_eq!(ra["purpose"], "resample", "{ra}");
    assert!(
        ra["due"].as_str().unwrap().contains("待重采（原管无效）"),
        "{ra}"
    );
    let rx = row_of(&x);
    assert_eq!(rx["sampled"], true, "{rx}");
    assert_eq!(rx["purposes"], json!(["retest", "resample"]), "{rx}");
    let due = rx["due"].as_str().unwrap();
    assert!(due.contains("待单管复检") && due.contains("待重采"), "{rx}");

    // One goes to hospital before the re-sample: exempt, not missed.
    let x_ = c.post(
        &format!("/api/v1/rounds/{round}/exemptions"),
        &json!({ "resident": sick, "reason": "in_hospital" }),
    );
    assert_eq!(x_.status, 200, "{}", x_.body);
    let row = building_row();
    assert_eq!(figures(&row), (n, n - 3, 1, 2, 0), "{row}");
    check_levels().await;

    // The other two are swabbed again (the result still to come): sampled,
    // and nobody is missed in the building.
    let rs = c.post(
        &format!("/api/v1/points/{p2}/tubes"),
        &json!({ "barcode": "RS000001", "purpose": "resample" }),
    );
    assert_eq!(rs.status, 201, "{}", rs.body);
    let rs = rs.json()["id"].as_str().unwrap().to_string();
    for (i, (_, code)) in people[0..2].iter().enumerate() {
        let r = c.post(
            &format!("/api/v1/tubes/{rs}/scans"),
            &json!({ "client_id": format!("rs-{i}"), "code": code, "purpose": "resample" }),
        );
        assert!(r.status == 200 || r.status == 201, "{}", r.body);
    }
    let row = building_row();
    assert_eq!(figures(&row), (n, n - 1, 1, 0, 0), "{row}");
    assert_eq!(
        figures(&row),
        by_sql(&store, street, round_id, "building_id", building_id).await
    );
    check_levels().await;
    assert!(ids(&missed_list(&format!("building={building}"))).is_empty());
    let h = history();
    assert_eq!(h["nobody_missed"], true, "{h}");
    assert_eq!(h["missed"], 0, "{h}");
    let door = c
        .get(&format!("/api/v1/rounds/{round}/door-to-door?grid={grid}"))
        .json();
    assert!(
        !door_rows(&door).iter().any(|r| r["id"] == a.as_str()),
        "{door}"
    );
}
