//! The schedule as a street commander steers a round: a point's pace
//! measured per station (a phone re-enrolled is no extra station), a re-plan
//! that takes the stations its refusal advised, pushes refused for a point
//! closed at the slot, and the pushed slot's time and author.

use gw_app::Clock;
use gw_domain::ids::Key;
use gw_domain::schedule::MINUTE_MS;
use serde_json::{json, Value};

use crate::harness::{open_round, residents_with_codes, round_body, Server, TestEnv};

const HOUR: i64 = 3_600_000;

/// A demo street of 1,500, its commander logged in over HTTP, and an open
/// round: the server, the store, the street, its first community and the round.
async fn street_and_round() -> (TestEnv, Server, gw_store::Store, i64, i64, String) {
    let env = TestEnv::new().await;
    env.cli_ok(&["demo", "--residents", "1500", "--seed", "5", "--no-serve"]);
    let pw = env.account("chief", "street_commander", &["--street", "鸿城街道"]);
    let mut srv = env.serve();
    srv.token = Some(srv.login("chief", &pw));
    let store = env.store().await;
    let street = store.streets().await.unwrap()[0].id;
    let community = store.communities(None, Some(street)).await.unwrap()[0].id;
    let (round, _) = open_round(|p, b| srv.post(p, b), &round_body(street, "排班第2轮"));
    (env, srv, store, street, community, round)
}

/// Scans `n` codes at `station` into a new tube of `point`, evenly from
/// `from_min` to `to_min` minutes after `t0`.
#[allow(clippy::too_many_arguments)]
fn scan_run(
    srv: &Server,
    point: &str,
    barcode: &str,
    codes: &[(String, String)],
    station: &str,
    t0: i64,
    from_min: f64,
    to_min: f64,
) {
    let tube = srv.post(
        &format!("/api/v1/points/{point}/tubes"),
        &json!({ "barcode": barcode }),
    );
    assert_eq!(tube.status, 201, "{}", tube.body);
    let tube = tube.json()["id"].as_str().unwrap().to_string();
    let n = codes.len();
    for (i, (_, code)) in codes.iter().enumerate() {
        let at = if n > 1 {
            from_min + (to_min - from_min) * i as f64 / (n - 1) as f64
        } else {
            from_min
        };
        let s = srv.post(
            &format!("/api/v1/tubes/{tube}/scans"),
            &json!({ "client_id": format!("{barcode}-{i}"), "code": code, "station": station,
                     "scanned_ms": t0 + (at * MINUTE_MS as f64) as i64 }),
        );
        assert_eq!(s.status, 200, "{}", s.body);
    }
}

/// A point of two stations, each swabbing 46 an hour, with a third station
/// id that scanned once (a phone re-enrolled): its pace is 46, not the hour's
/// scans over three stations (about 21). The re-plan it refuses names the
/// point and how many people do not fit there, and the stations it advises,
/// once added, are planned at that pace: the re-plan goes through.
#[tokio::test]
async fn a_points_pace_is_per_station_and_the_stations_advised_are_counted_at_it() {
    let (_env, srv, store, street, community, round) = street_and_round().await;
    let rk: Key = round.parse().unwrap();
    let now = Clock::System.now_ms();
    let p = srv.post(
        &format!("/api/v1/rounds/{round}/points"),
        &json!({ "name": "百合小区南门", "community": format!("{street}-{community}"), "stations": 2,
                 "opens_ms": now - HOUR, "closes_ms": now + 10 * HOUR, "rate_per_station_h": 100 }),
    );
    assert_eq!(p.status, 201, "{}", p.body);
    let point = p.json()["id"].as_str().unwrap().to_string();
    let first = gw_app::schedule::plan_as(
        &store,
        &Clock::fixed(now),
        "test:plan",
        rk,
        Default::default(),
    )
    .await
    .unwrap();
    assert_eq!(first.revision, Some(1));
    let anchor = store
        .schedule_plan(street, rk.id)
        .await
        .unwrap()
        .unwrap()
        .anchor_ms;
    let codes = residents_with_codes(|p| srv.get(p), "limit=49");
    assert_eq!(codes.len(), 49);
    scan_run(
        &srv,
        &point,
        "SC100001",
        &codes[..24],
        "A",
        anchor,
        10.0,
        40.0,
    );
    scan_run(
        &srv,
        &point,
        "SC100002",
        &codes[24..48],
        "B",
        anchor,
        20.0,
        50.0,
    );
    scan_run(
        &srv,
        &point,
        "SC100003",
        &codes[48..],
        "C",
        anchor,
        55.0,
        55.0,
    );

    let later = Clock::fixed(anchor + 56 * MINUTE_MS);
    let view = gw_app::schedule::view_as(&store, &later, rk, &|_| true)
        .await
        .unwrap();
    let info = view.points.iter().find(|p| p.id == point).unwrap();
    let pace = info.measured_rate.unwrap();
    assert!((pace - 46.0).abs() < 0.5, "{info:?}");

    // Two stations at 46 an hour cannot swab the rest by the close.
    let refused = gw_app::schedule::plan_as(&store, &later, "test:replan", rk, Default::default())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("排不下的人按最近的采样点：百合小区南门 ")
            && refused.contains("who does not fit, by nearest point: 百合小区南门 "),
        "{refused}"
    );
    assert!(refused.contains("按 46 人排"), "{refused}");
    let k: u32 = refused
        .split("增加 ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("stations advised in {refused}"));
    // The advice, taken: the re-plan counts each added station at 46.
    let set = srv.post(
        &format!("/api/v1/points/{point}"),
        &json!({ "stations": 2 + k }),
    );
    assert_eq!(set.status, 200, "{}", set.body);
    let v = gw_app::schedule::plan_as(&store, &later, "test:replan", rk, Default::default())
        .await
        .unwrap_or_else(|e| panic!("{k} more station(s) were advised: {e}"));
    assert_eq!(v.revision, Some(2));
    let info = v.points.iter().find(|p| p.id == point).unwrap();
    assert!((info.planning_rate - 46.0).abs() < 0.5, "{info:?}");
    assert_eq!(info.stations, 2 + k);
    let _: Value = serde_json::to_value(&v).unwrap();
}
