//! A building under control (管控区: 人不出小区) is called only to a point
//! inside its compound; while its compound has no point in the round its
//! residents are on the door-to-door list (the planner's rule), with the
//! reason said, and leave it once a point stands inside the compound. Real
//! HTTP on both backends.

use gw_app::Clock;
use gw_domain::ids::Key;
use serde_json::{json, Value};

use crate::planfix::{add_point, street_and_round};

const HOUR: i64 = 3_600_000;

/// The residents of a door-to-door list listed for control (`controlled`):
/// `(resident, building)`.
fn controlled(list: &Value) -> Vec<(String, String)> {
    list["floors"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| {
            let b = f["building_id"].as_str().unwrap().to_string();
            f["residents"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|r| {
                    r["reasons"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|x| x["kind"] == "controlled")
                })
                .map(|r| (r["id"].as_str().unwrap().to_string(), b.clone()))
                .collect::<Vec<_>>()
        })
        .collect()
}

#[tokio::test]
async fn a_controlled_building_without_a_point_in_its_compound_is_sampled_at_the_door() {
    let (_env, srv, store, street, community, round) = street_and_round().await;
    let rk: Key = round.parse().unwrap();
    let homebound = i64::from(gw_domain::resident::Flag::CannotGoDownstairs.bit());
    let rows = store
        .schedule_households(street, rk.id, homebound)
        .await
        .unwrap();
    let target = rows
        .iter()
        .find(|h| h.community_id == community && h.people > 0)
        .unwrap()
        .clone();
    let people: i64 = rows
        .iter()
        .filter(|h| h.building_id == target.building_id)
        .map(|h| h.people)
        .sum();
    let grid = store
        .building(street, target.building_id)
        .await
        .unwrap()
        .grid_id;
    let r = srv.post("/api/v1/control", &json!({ "target_kind": "building", "target_id": format!("{street}-{}", target.building_id), "status": "controlled", "reason": "管控区" }));
    assert!(r.status == 200 || r.status == 201, "{}", r.body);
    let list = || {
        let l = srv.get(&format!(
            "/api/v1/rounds/{round}/door-to-door?grid={street}-{grid}"
        ));
        assert_eq!(l.status, 200, "{}", l.body);
        l.json()
    };

    // No point anywhere yet: the building's people who would walk down are
    // listed for the door, each with the reason.
    let l = list();
    let listed = controlled(&l);
    let b = format!("{street}-{}", target.building_id);
    // Everyone there not yet swabbed (those who cannot go downstairs were
    // listed already, now with both reasons), and nobody elsewhere.
    assert!(listed.len() as i64 >= people, "{} < {people}", listed.len());
    assert!(listed.iter().all(|(_, at)| *at == b), "{listed:?}");
    assert!(
        l.to_string()
            .contains("楼栋管控（人不出小区，小区内本轮无采样点）"),
        "no reason said"
    );

    // A point outside the compound changes nothing: they may not go there.
    let now = Clock::System.now_ms();
    add_point(
        &srv,
        &round,
        json!({ "name": "街面点", "community": format!("{street}-{community}"), "stations": 4,
                "opens_ms": now - HOUR, "closes_ms": now + 12 * HOUR }),
    );
    assert_eq!(controlled(&list()), listed);

    // A point inside the compound: they go to it, off the list.
    add_point(
        &srv,
        &round,
        json!({ "name": "小区内点", "community": format!("{street}-{community}"), "stations": 4,
                "compound": format!("{street}-{}", target.compound_id),
                "opens_ms": now - HOUR, "closes_ms": now + 12 * HOUR }),
    );
    assert_eq!(controlled(&list()), vec![]);
}
