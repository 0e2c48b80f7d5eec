//! The take-back (误扫撤回) of the last live swab of a closed tube not yet
//! in a bag withdraws the tube with it (real HTTP, both backends): its
//! barcode is free again, the take-backs are kept, it is not expected in a
//! bag, and the answer says so; by registration and by a station's client
//! id, a retry answering the same. A tube in a bag keeps its swabs (the
//! take-back is refused): it is counted where it is.

use serde_json::json;

use crate::harness::query_strings;
use crate::tube_empty::{close, filled, to_bag, void};

#[tokio::test]
async fn taking_back_the_last_swab_of_a_closed_tube_withdraws_it() {
    let s = crate::packing_pages::staffed("全员核酸第9轮").await;
    let (srv, chief, round) = (&s.srv, s.chief.as_str(), s.round.as_str());
    let c = srv.with_token(chief);
    let point = c
        .post(
            &format!("/api/v1/rounds/{round}/points"),
            &json!({ "name": "北门采样点", "community": format!("{}-{}", s.street, s.community) }),
        )
        .json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let people = crate::harness::residents_with_codes(|p| c.get(p), "limit=8");
    let code = |i: usize| people[i].1.as_str();
    let store = s.env.store().await;
    let tubes = || async {
        query_strings(
            &store,
            "SELECT barcode FROM tube WHERE barcode LIKE 'TB%' ORDER BY barcode",
        )
        .await
    };

    // A closed tube of two swabs: the first take-back leaves it closed.
    let (kept, _) = filled(srv, chief, &point, "TB000001", &[code(0)]);
    assert_eq!(close(srv, chief, &kept), "closed");
    let (two, regs) = filled(srv, chief, &point, "TB000002", &[code(1), code(2)]);
    assert_eq!(close(srv, chief, &two), "closed");
    void(srv, chief, &regs[0]);
    assert_eq!(tubes().await, vec!["TB000001", "TB000002"]);
    assert_eq!(to_bag(srv, chief, &point), vec!["TB000001", "TB000002"]);

    // The last one: the tube goes with it, and the answer says so.
    let r = c.post(
        &format!("/api/v1/registrations/{}/void", regs[1]),
        &json!({ "reason": "误扫" }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(v["withdrawn"], true, "{v}");
    assert_eq!(v["tube_fill"], 0, "{v}");
    let said = v["message"].as_str().unwrap();
    assert!(
        said.starts_with("已撤销") && said.contains("已作废"),
        "{said}"
    );
    assert!(said.contains("withdrawn"), "{said}");
    assert_eq!(tubes().await, vec!["TB000001"]);
    // Sent again: the same answer.
    let again = c.post(
        &format!("/api/v1/registrations/{}/void", regs[1]),
        &json!({ "reason": "误扫" }),
    );
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.json()["already"], true);
    assert_eq!(again.json()["withdrawn"], true);
    // The take-backs are kept, the withdrawal audited.
    let voided = query_strings(&store, "SELECT reason FROM voided_swab").await;
    assert_eq!(voided, vec!["误扫", "误扫"]);
    let audited = query_strings(
        &store,
        "SELECT detail FROM audit_event WHERE action = 'withdraw_tube'",
    )
    .await;
    assert!(
        audited.iter().any(|d| d.contains("barcode=TB000002")),
        "{audited:?}"
    );
    // Not expected in a bag: the packing table and the reconciliation
    // leave it out, and the barcode may be opened again.
    assert_eq!(to_bag(srv, chief, &point), vec!["TB000001"]);
    let rec = c.get(&format!("/api/v1/rounds/{round}/reconciliation"));
    assert_eq!(rec.status, 200, "{}", rec.body);
    assert!(!rec.body.contains("TB000002"), "{}", rec.body);
    let reopened = c.post(
        &format!("/api/v1/points/{point}/tubes"),
        &json!({ "barcode": "TB000002" }),
    );
    assert_eq!(reopened.status, 201, "{}", reopened.body);
    assert_eq!(
        close(srv, chief, reopened.json()["id"].as_str().unwrap()),
        "withdrawn"
    );

    // A station's undo by client id, the same; and sent again.
    let (station, _) = filled(srv, chief, &point, "TB000003", &[code(3)]);
    assert_eq!(close(srv, chief, &station), "closed");
    for already in [false, true] {
        let r = c.post(
            &format!("/api/v1/tubes/{station}/voids"),
            &json!({ "client_id": "TB000003-0", "reason": "扫错了" }),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.json()["withdrawn"], true, "{}", r.body);
        assert_eq!(r.json()["already"], already, "{}", r.body);
    }
    assert_eq!(tubes().await, vec!["TB000001"]);

    // An open tube emptied by take-backs stays open, for the next person.
    let (open, regs) = filled(srv, chief, &point, "TB000004", &[code(4)]);
    void(srv, chief, &regs[0]);
    assert_eq!(tubes().await, vec!["TB000001", "TB000004"]);
    assert_eq!(close(srv, chief, &open), "withdrawn");

    // A tube in a bag keeps its swab: refused, counted where it is.
    let (bagged, regs) = filled(srv, chief, &point, "TB000005", &[code(5)]);
    assert_eq!(close(srv, chief, &bagged), "closed");
    let bag = c.post(
        &format!("/api/v1/points/{point}/bags"),
        &json!({ "barcode": "BAGT00001", "tubes": ["TB000001", "TB000005"], "counted_tubes": 2 }),
    );
    assert_eq!(bag.status, 201, "{}", bag.body);
    let refused = c.post(
        &format!("/api/v1/registrations/{}/void", regs[0]),
        &json!({ "reason": "误扫" }),
    );
    assert_eq!(refused.status, 409, "{}", refused.body);
    let states = query_strings(
        &store,
        "SELECT barcode || ':' || state || ':' || CAST(fill AS TEXT) FROM tube WHERE barcode LIKE 'TB%' ORDER BY barcode",
    )
    .await;
    assert_eq!(states, vec!["TB000001:sealed:1", "TB000005:sealed:1"]);
}
