//! The packing chain's acts and their audit records are one: when the
//! database refuses the record (a trigger standing in for a full disk or a
//! crash between the two), the act is not stored either, and sent again
//! once the fault is gone it is stored once, with its one record. Before,
//! the act was committed first and its record written after: a failure in
//! between left a supply issue, a bag, a box, a hand-over or a lab receipt
//! nobody had recorded doing.

use serde_json::{json, Value};

use crate::harness::{exec, residents_with_codes, Response};
use crate::packing_pages::{closed_tube, staffed, Staffed};

struct World {
    s: Staffed,
    /// The point.
    a: String,
    /// The point's manager and the lab.
    pm: String,
    lab: String,
}

async fn world() -> World {
    let s = staffed("全员核酸第7轮").await;
    let c = s.srv.with_token(&s.chief);
    let a = c
        .post(
            &format!("/api/v1/rounds/{}/points", s.round),
            &json!({ "name": "审计一号点", "community": format!("{}-{}", s.street, s.community) }),
        )
        .json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let people = residents_with_codes(|p| c.get(p), "limit=4");
    closed_tube(&s.srv, &s.chief, &a, "TB00000201", &people[0..2]);
    closed_tube(&s.srv, &s.chief, &a, "TB00000202", &people[2..3]);
    let pm_pw = s.env.account("pm", "point_manager", &["--point", &a]);
    let pm = s.srv.login("pm", &pm_pw);
    let lab = s.srv.login("lab", &s.lab_pw);
    World { s, a, pm, lab }
}

impl World {
    fn post(&self, token: &str, path: &str, body: &Value) -> Response {
        self.s.srv.with_token(token).post(path, body)
    }

    async fn audited(&self, action: &str) -> usize {
        self.s
            .env
            .store()
            .await
            .audit_events(None, None, None, 1000)
            .await
            .unwrap()
            .iter()
            .filter(|e| e.action == action)
            .count()
    }

    /// From now on the database refuses an audit record of `action`.
    async fn refuse_records_of(&self, action: &str) {
        let store = self.s.env.store().await;
        match &store.pool {
            gw_store::Pool::Sqlite(_) => {
                exec(
                    &store,
                    &format!(
                        "CREATE TRIGGER gw_test_fault BEFORE INSERT ON audit_event \
                         WHEN NEW.action = '{action}' BEGIN SELECT RAISE(ABORT, 'fault injected'); END"
                    ),
                )
                .await;
            }
            gw_store::Pool::Postgres(_) => {
                exec(
                    &store,
                    "CREATE OR REPLACE FUNCTION gw_test_fault() RETURNS trigger LANGUAGE plpgsql AS $$ \
                     BEGIN IF NEW.action = TG_ARGV[0] THEN RAISE EXCEPTION 'fault injected'; END IF; RETURN NEW; END $$",
                )
                .await;
                exec(
                    &store,
                    &format!(
                        "CREATE TRIGGER gw_test_fault BEFORE INSERT ON audit_event FOR EACH ROW \
                         EXECUTE FUNCTION gw_test_fault('{action}')"
                    ),
                )
                .await;
            }
        }
    }

    async fn fault_gone(&self) {
        let store = self.s.env.store().await;
        let drop = match &store.pool {
            gw_store::Pool::Sqlite(_) => "DROP TRIGGER gw_test_fault",
            gw_store::Pool::Postgres(_) => "DROP TRIGGER gw_test_fault ON audit_event",
        };
        exec(&store, drop).await;
    }

    /// `body` sent to `path` by `token` while `action`'s record is refused:
    /// a server error, and no record of it added; then the fault goes.
    async fn refused(&self, token: &str, action: &str, path: &str, body: &Value) {
        let records = self.audited(action).await;
        self.refuse_records_of(action).await;
        let r = self.post(token, path, body);
        assert!(r.status >= 500, "{action}: {} {}", r.status, r.body);
        self.fault_gone().await;
        assert_eq!(self.audited(action).await, records, "{action}");
    }

    /// The same sent once the fault is gone: stored.
    fn accepted(&self, token: &str, action: &str, path: &str, body: &Value) -> Response {
        let r = self.post(token, path, body);
        assert!(r.status < 300, "{action}: {} {}", r.status, r.body);
        r
    }

    /// [`World::refused`], then sent again: stored (201, not the 200 of a
    /// replay of something already stored) with one record.
    async fn whole_or_nothing(&self, token: &str, action: &str, path: &str, body: &Value) {
        self.refused(token, action, path, body).await;
        let stored = self.accepted(token, action, path, body);
        assert_eq!(stored.status, 201, "{action}: {}", stored.body);
        if let Some(replay) = stored.json().get("replay") {
            assert_eq!(replay, &json!(false), "{action}: {}", stored.body);
        }
        assert_eq!(self.audited(action).await, 1, "{action}");
    }

    async fn round_key(&self) -> gw_domain::ids::Key {
        self.s.round.parse().unwrap()
    }
}

#[tokio::test]
async fn a_packing_act_whose_audit_record_fails_is_not_stored() {
    let w = world().await;
    let (a, round) = (&w.a, &w.s.round);
    let store = w.s.env.store().await;
    let key = w.round_key().await;

    // Supplies: none issued while the record is refused.
    let supplies = format!("/api/v1/points/{a}/supplies");
    let kits = json!({ "kind": "kits", "quantity": 100 });
    w.refused(&w.pm, "issue_supplies", &supplies, &kits).await;
    assert!(store
        .supplies(key.street, key.id, None)
        .await
        .unwrap()
        .is_empty());
    let issued = w.post(&w.pm, &supplies, &kits);
    assert_eq!(issued.status, 201, "{}", issued.body);
    assert_eq!(
        store
            .supplies(key.street, key.id, None)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(w.audited("issue_supplies").await, 1);

    // The round's bag capacity: unchanged while the record is refused.
    let capacity = format!("/api/v1/rounds/{round}/bag-capacity");
    w.refused(
        &w.s.chief,
        "set_bag_capacity",
        &capacity,
        &json!({ "bag_capacity": 30 }),
    )
    .await;
    assert_eq!(store.bag_capacity(key.street, key.id).await.unwrap(), 20);
    let set = w.post(&w.s.chief, &capacity, &json!({ "bag_capacity": 30 }));
    assert_eq!(set.status, 200, "{}", set.body);
    assert_eq!(store.bag_capacity(key.street, key.id).await.unwrap(), 30);
    assert_eq!(w.audited("set_bag_capacity").await, 1);

    // A bag: not made, its tubes still closed at the point.
    w.whole_or_nothing(
        &w.pm,
        "pack_bag",
        &format!("/api/v1/points/{a}/bags"),
        &json!({ "barcode": "BAG201", "tubes": ["TB00000201", "TB00000202"], "counted_tubes": 2 }),
    )
    .await;

    // A recount of it: the count it had stays.
    let recounts = format!("/api/v1/points/{a}/recounts");
    let recount = json!({ "barcode": "BAG201", "counted_tubes": 3, "reason": "再数一遍" });
    w.refused(&w.pm, "recount", &recounts, &recount).await;
    let counted = |chain: gw_store::handoff::ChainRows| {
        chain
            .bags
            .iter()
            .find(|b| b.barcode == "BAG201")
            .map(|b| b.counted_tubes)
    };
    assert_eq!(
        counted(store.chain(key.street, key.id).await.unwrap()),
        Some(2)
    );
    let r = w.post(&w.pm, &recounts, &recount);
    assert!(r.status < 300, "{} {}", r.status, r.body);
    assert_eq!(
        counted(store.chain(key.street, key.id).await.unwrap()),
        Some(3)
    );
    assert_eq!(w.audited("recount").await, 1);

    // A box, a hand-over and the lab's receipt: each whole or not at all.
    w.whole_or_nothing(
        &w.pm,
        "pack_box",
        &format!("/api/v1/points/{a}/boxes"),
        &json!({ "barcode": "BOX201", "bags": ["BAG201"], "counted_bags": 1, "counted_tubes": 2 }),
    )
    .await;
    w.whole_or_nothing(
        &w.pm,
        "hand_over",
        &format!("/api/v1/points/{a}/handoffs"),
        &json!({ "boxes": ["BOX201"], "transporter": { "name": "李师傅", "phone": "13812345678" }, "counted_tubes": 2, "counted_people": 3 }),
    )
    .await;
    w.whole_or_nothing(
        &w.lab,
        "lab_receive",
        &format!("/api/v1/rounds/{round}/receipts"),
        &json!({ "boxes": ["BOX201"], "counted_tubes": 2, "box_tubes": { "BOX201": 2 } }),
    )
    .await;
    let tube = store
        .tube_by_barcode(key.street, key.id, "TB00000201")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(tube.state, "received");
}

/// The same for the registry's changes: a control order (a building
/// sealed), a resident's flags, a move to another household and a building
/// placed in another grid.
#[tokio::test]
async fn a_registry_change_whose_audit_record_fails_is_not_stored() {
    use gw_domain::ids::Key;
    use gw_domain::territory::ControlTarget;
    let w = world().await;
    let chief = &w.s.chief;
    let c = w.s.srv.with_token(chief);
    let store = w.s.env.store().await;
    let rows = {
        let mut rows = Vec::new();
        for (id, _) in residents_with_codes(|p| c.get(p), "limit=40") {
            let k: Key = id.parse().unwrap();
            rows.push(store.resident(k.street, k.id).await.unwrap());
        }
        rows
    };
    let r = &rows[0];
    let other = rows
        .iter()
        .find(|o| o.household_id != r.household_id)
        .expect("two households");
    let (street, building) = (r.street_id, r.building_id.unwrap());
    let resident = format!("{street}-{}", r.id);
    // Sent while the record is refused: a server error, then the fault goes.
    let failed = |action: &'static str, path: String, body: Value| {
        let w = &w;
        async move {
            w.refused(&w.s.chief, action, &path, &body).await;
            (path, body)
        }
    };
    let stored = |action: &'static str, (path, body): (String, Value)| {
        let w = &w;
        async move {
            w.accepted(&w.s.chief, action, &path, &body);
            assert_eq!(w.audited(action).await, 1, "{action}");
        }
    };

    // A building sealed: no order while its record is refused.
    let seal = failed(
        "set_control",
        "/api/v1/control".into(),
        json!({ "target_kind": "building", "target_id": format!("{street}-{building}"), "status": "sealed", "reason": "阳性密接" }),
    )
    .await;
    let orders = || store.control_history(street, ControlTarget::Building, building);
    assert!(orders().await.unwrap().is_empty());
    stored("set_control", seal).await;
    assert_eq!(orders().await.unwrap().len(), 1);

    // A flag set: the resident's flags as they were.
    let flags_of = || async {
        store
            .resident(street, r.id)
            .await
            .unwrap()
            .resident
            .flags
            .codes()
    };
    let before = flags_of().await;
    assert!(!before.contains(&"elderly_alone"), "{before:?}");
    let flag = failed(
        "set_flags",
        format!("/api/v1/residents/{resident}/flags"),
        json!({ "set": ["elderly_alone"] }),
    )
    .await;
    assert_eq!(flags_of().await, before);
    stored("set_flags", flag).await;
    assert!(flags_of().await.contains(&"elderly_alone"));

    // A move: still in their household.
    let to = format!("{street}-{}", other.household_id.unwrap());
    let moved = failed(
        "move_resident",
        format!("/api/v1/residents/{resident}/move"),
        json!({ "household": to }),
    )
    .await;
    let household = || async { store.resident(street, r.id).await.unwrap().household_id };
    assert_eq!(household().await, r.household_id);
    stored("move_resident", moved).await;
    assert_eq!(household().await, other.household_id);

    // A building placed in another grid of its community: still in its own.
    // (A second grid of the community, as a roster would bring it.)
    let community = r.community_id.unwrap();
    let second = store
        .ensure_grid(street, community, "第九网格", None, false)
        .await
        .unwrap();
    let grid = store.grid(street, second).await.unwrap();
    assert_ne!(Some(grid.id), r.grid_id);
    let placed = failed(
        "assign_building",
        format!("/api/v1/buildings/{street}-{building}/grid"),
        json!({ "grid": format!("{street}-{}", grid.id) }),
    )
    .await;
    let grid_of = || async { store.building(street, building).await.unwrap().grid_id };
    assert_eq!(Some(grid_of().await), r.grid_id);
    stored("assign_building", placed).await;
    assert_eq!(grid_of().await, grid.id);
}

/// The same for a resident's code reissued (the lost one revoked) and a
/// scanning station issued and revoked.
#[tokio::test]
async fn a_code_or_station_change_whose_audit_record_fails_is_not_stored() {
    use gw_domain::ids::Key;
    let w = world().await;
    let c = w.s.srv.with_token(&w.s.chief);
    let store = w.s.env.store().await;
    let (resident, code) = residents_with_codes(|p| c.get(p), "limit=1").remove(0);
    let code_now = || c.get(&format!("/api/v1/residents/{resident}/code")).json()["code"].clone();
    assert_eq!(code_now(), json!(code));
    // Sent while the record is refused: a server error and nothing changed;
    // then stored, with its one record.
    let once = |action: &'static str, path: String, body: Value| {
        let w = &w;
        async move {
            w.refused(&w.s.chief, action, &path, &body).await;
            move || w.accepted(&w.s.chief, action, &path, &body)
        }
    };

    let reissue = once(
        "reissue_code",
        format!("/api/v1/residents/{resident}/code/reissue"),
        json!({}),
    )
    .await;
    assert_eq!(code_now(), json!(code), "the old code still stands");
    reissue();
    assert_ne!(code_now(), json!(code));
    assert_eq!(w.audited("reissue_code").await, 1);

    let point: Key = w.a.parse().unwrap();
    let stations = || store.stations_of_point(point.street, point.id);
    let before = stations().await.unwrap().len();
    let issue = once(
        "issue_station",
        format!("/api/v1/points/{}/stations", w.a),
        json!({ "label": "一号台" }),
    )
    .await;
    assert_eq!(stations().await.unwrap().len(), before);
    let issued = issue().json();
    assert_eq!(stations().await.unwrap().len(), before + 1);
    assert_eq!(w.audited("issue_station").await, 1);
    let station = issued["station"].as_str().unwrap().to_string();
    let revoke = once(
        "revoke_station",
        format!("/api/v1/stations/{station}/revoke"),
        json!({}),
    )
    .await;
    let k: Key = station.parse().unwrap();
    assert_eq!(
        store.station(k.street, k.id).await.unwrap().revoked_ms,
        None
    );
    revoke();
    assert!(store
        .station(k.street, k.id)
        .await
        .unwrap()
        .revoked_ms
        .is_some());
    assert_eq!(w.audited("revoke_station").await, 1);
}

/// The same for a round's changes: the street's testing settings, an
/// exemption given and lifted, and the round moved to its next state.
#[tokio::test]
async fn a_round_change_whose_audit_record_fails_is_not_stored() {
    use gw_domain::ids::Key;
    let w = world().await;
    let c = w.s.srv.with_token(&w.s.chief);
    let store = w.s.env.store().await;
    let round: Key = w.s.round.parse().unwrap();
    let street = round.street;
    // Sent while the record is refused: a server error and nothing changed;
    // then stored, with its one record.
    let refused = |action: &'static str, path: String, body: Value| {
        let w = &w;
        async move {
            w.refused(&w.s.chief, action, &path, &body).await;
            move || {
                w.accepted(&w.s.chief, action, &path, &body);
            }
        }
    };

    let pool = || async { store.testing_settings(street).await.unwrap().3 };
    let before = pool().await;
    assert_ne!(before, 10);
    let settings = refused(
        "testing_settings",
        format!("/api/v1/streets/{street}/testing-settings"),
        json!({ "lab_max_pool": 10 }),
    )
    .await;
    assert_eq!(pool().await, before);
    settings();
    assert_eq!(pool().await, 10);
    assert_eq!(w.audited("testing_settings").await, 1);

    // Someone not swabbed (the world swabbed the first three).
    let (resident, _) = residents_with_codes(|p| c.get(p), "limit=12").remove(10);
    let r: Key = resident.parse().unwrap();
    let building = store
        .resident(street, r.id)
        .await
        .unwrap()
        .building_id
        .unwrap();
    let exempt = || async {
        store
            .exemptions_in(
                street,
                round.id,
                gw_store::coverage::Level::Building,
                building,
            )
            .await
            .unwrap()
            .iter()
            .any(|e| e.0 == r.id)
    };
    let exemptions = format!("/api/v1/rounds/{round}/exemptions");
    let give = refused(
        "exempt",
        exemptions.clone(),
        json!({ "resident": resident, "reason": "away" }),
    )
    .await;
    assert!(!exempt().await);
    give();
    assert!(exempt().await);
    let lift = refused(
        "lift_exemption",
        exemptions,
        json!({ "resident": resident, "reason": "none" }),
    )
    .await;
    assert!(exempt().await, "still exempt");
    lift();
    assert!(!exempt().await);

    let state = || async { store.round(street, round.id).await.unwrap().state };
    assert_eq!(state().await, "open");
    let close = refused(
        "advance_round",
        format!("/api/v1/rounds/{round}/state"),
        json!({ "to": "sampling_closed" }),
    )
    .await;
    assert_eq!(state().await, "open");
    close();
    assert_eq!(state().await, "sampling_closed");
    assert_eq!(w.audited("advance_round").await, 1);

    // A planned round opened: still planned, no snapshot, while the record
    // is refused.
    let planned = c.post(
        "/api/v1/rounds",
        &crate::harness::round_body(street, "全员核酸第8轮"),
    );
    assert_eq!(planned.status, 201, "{}", planned.body);
    let next: Key = planned.json()["id"].as_str().unwrap().parse().unwrap();
    let open = refused(
        "open_round",
        format!("/api/v1/rounds/{next}/state"),
        json!({ "to": "open" }),
    )
    .await;
    assert_eq!(store.round(street, next.id).await.unwrap().state, "planned");
    open();
    assert_eq!(store.round(street, next.id).await.unwrap().state, "open");
    assert_eq!(
        w.audited("open_round").await,
        2,
        "the world's round, and this one"
    );
}

/// A swab taken back, and the closed tube its take-back empties withdrawn:
/// with their records, or not at all.
#[tokio::test]
async fn a_take_back_whose_audit_record_fails_is_not_stored() {
    use gw_domain::ids::Key;
    let w = world().await;
    let c = w.s.srv.with_token(&w.s.chief);
    let store = w.s.env.store().await;
    let round: Key = w.s.round.parse().unwrap();
    let people = residents_with_codes(|p| c.get(p), "limit=8");
    closed_tube(&w.s.srv, &w.s.chief, &w.a, "TB00000301", &people[5..6]);
    let swab = store
        .registration_by_client(round.street, "TB00000301-0")
        .await
        .unwrap()
        .expect("the swab")
        .id;
    let void = format!("/api/v1/registrations/{}-{swab}/void", round.street);
    let stands = || async {
        store
            .registration_by_client(round.street, "TB00000301-0")
            .await
            .unwrap()
            .is_some()
    };
    let tube = || async {
        store
            .tube_by_barcode(round.street, round.id, "TB00000301")
            .await
            .unwrap()
            .is_some()
    };
    // Its take-back empties the closed tube, which is withdrawn: either
    // record refused, neither the take-back nor the withdrawal stands.
    for action in ["void_swab", "withdraw_tube"] {
        w.refuse_records_of(action).await;
        let r = w.post(&w.s.chief, &void, &json!({ "reason": "误扫" }));
        assert!(r.status >= 500, "{action}: {} {}", r.status, r.body);
        w.fault_gone().await;
        assert!(stands().await, "{action}");
        assert!(tube().await, "{action}");
    }
    let r = w.post(&w.s.chief, &void, &json!({ "reason": "误扫" }));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["withdrawn"], true, "{}", r.body);
    assert!(!stands().await);
    assert!(!tube().await);
    assert_eq!(w.audited("void_swab").await, 1);
    assert_eq!(w.audited("withdraw_tube").await, 1);
}

/// A lab's correction of a result: with its record, or not at all (the
/// result as it was, no alert raised).
#[tokio::test]
async fn a_correction_whose_audit_record_fails_is_not_stored() {
    use gw_domain::ids::Key;
    let w = world().await;
    let store = w.s.env.store().await;
    let round: Key = w.s.round.parse().unwrap();
    let r = w.post(
        &w.lab,
        &format!("/api/v1/rounds/{}/results", w.s.round),
        &json!({ "results": [{ "barcode": "TB00000201", "result": "negative" }] }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let result = || async {
        store
            .tube_and_result_by_barcode(round.street, round.id, "TB00000201")
            .await
            .unwrap()
            .unwrap()
            .1
    };
    let corrections = format!("/api/v1/rounds/{}/results/corrections", w.s.round);
    let body = json!({ "barcode": "TB00000201", "result": "abnormal", "reason": "更正报告" });
    w.refused(&w.lab, "correct_result", &corrections, &body)
        .await;
    assert_eq!(result().await.as_deref(), Some("negative"));
    assert!(store
        .alerts(round.street, round.id)
        .await
        .unwrap()
        .is_empty());
    let done = w.post(&w.lab, &corrections, &body);
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(result().await.as_deref(), Some("abnormal"));
    assert_eq!(store.alerts(round.street, round.id).await.unwrap().len(), 1);
    assert_eq!(w.audited("correct_result").await, 1);
}

/// Testing points added, renamed and removed, and alert channels added and
/// removed: with their records, or not at all.
#[tokio::test]
async fn a_point_or_channel_change_whose_audit_record_fails_is_not_stored() {
    use gw_domain::ids::Key;
    let w = world().await;
    let chief = w.s.chief.clone();
    let store = w.s.env.store().await;
    let round: Key = w.s.round.parse().unwrap();
    let points = || async {
        store
            .points_with_counts(round.street, round.id)
            .await
            .unwrap()
            .into_iter()
            .map(|(p, _)| p.name)
            .collect::<Vec<_>>()
    };
    let before = points().await;
    let add = (
        format!("/api/v1/rounds/{}/points", w.s.round),
        json!({ "name": "审计二号点", "community": format!("{}-{}", w.s.street, w.s.community) }),
    );
    w.refused(&chief, "add_point", &add.0, &add.1).await;
    assert_eq!(points().await, before);
    let point = w.accepted(&chief, "add_point", &add.0, &add.1).json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        w.audited("add_point").await,
        2,
        "the world's point and this"
    );
    let k: Key = point.parse().unwrap();
    let name = || async { store.point(k.street, k.id).await.unwrap().name };
    let rename = (
        format!("/api/v1/points/{point}"),
        json!({ "name": "审计三号点" }),
    );
    w.refused(&chief, "change_point", &rename.0, &rename.1)
        .await;
    assert_eq!(name().await, "审计二号点");
    w.accepted(&chief, "change_point", &rename.0, &rename.1);
    assert_eq!(name().await, "审计三号点");
    let remove = (format!("/api/v1/points/{point}/remove"), json!({}));
    w.refused(&chief, "remove_point", &remove.0, &remove.1)
        .await;
    assert!(store.point(k.street, k.id).await.is_ok(), "still there");
    w.accepted(&chief, "remove_point", &remove.0, &remove.1);
    assert!(store.point(k.street, k.id).await.is_err(), "removed");

    let channels = || store.channels(w.s.street);
    let add = (
        format!("/api/v1/streets/{}/alert-channels", w.s.street),
        json!({ "kind": "json", "url": "http://127.0.0.1:9/audit" }),
    );
    w.refused(&chief, "add_alert_channel", &add.0, &add.1).await;
    assert!(channels().await.unwrap().is_empty());
    let channel = w
        .accepted(&chief, "add_alert_channel", &add.0, &add.1)
        .json()["channel"]
        .as_str()
        .map(str::to_string);
    let list = channels().await.unwrap();
    assert_eq!(list.len(), 1);
    let channel = channel.unwrap_or_else(|| {
        Key {
            street: w.s.street,
            id: list[0].id,
        }
        .to_string()
    });
    let remove = (
        format!("/api/v1/alert-channels/{channel}/remove"),
        json!({}),
    );
    w.refused(&chief, "remove_alert_channel", &remove.0, &remove.1)
        .await;
    assert!(channels().await.unwrap()[0].active);
    w.accepted(&chief, "remove_alert_channel", &remove.0, &remove.1);
    assert!(!channels().await.unwrap()[0].active);
    assert_eq!(w.audited("remove_alert_channel").await, 1);
}
