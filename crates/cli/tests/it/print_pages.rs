//! Printable pages over real HTTP: a point's tube-box labels (each packed box
//! and bag with its barcode and the system's counts), the daily report of a
//! round (the coverage API's numbers, no personal data) and a building's page
//! (households, masked residents, who is still missed), each refused to a
//! reader who does not reach it.

use serde_json::json;

use crate::harness::{open_round, round_body, Client, Server, TestEnv};
use gw_domain::resident::Flag;
use gw_store::registry::{ResidentFilter, ResidentRow};

struct World {
    env: TestEnv,
    srv: Server,
    chief: String,
    round: String,
    /// Point A (packed) and point B (nothing packed).
    a: String,
    b: String,
    /// A resident who cannot go downstairs, never scanned: missed, and a door-to-door candidate.
    target: ResidentRow,
    /// Personal codes of residents outside the target's building.
    codes: Vec<String>,
}

async fn world(residents: u32) -> World {
    let env = TestEnv::new().await;
    let n = residents.to_string();
    env.cli_ok(&["demo", "--residents", &n, "--seed", "8", "--no-serve"]);
    let pw = env.account("chief", "street_commander", &["--street", "鸿城街道"]);
    let srv = env.serve();
    let chief = srv.login("chief", &pw);
    let store = env.store().await;
    let street = store.streets().await.unwrap()[0].id;
    let community = store.communities(None, Some(street)).await.unwrap()[0].id;
    let target = store
        .residents(&ResidentFilter {
            street: Some(street),
            flags_any: Flag::CannotGoDownstairs.bit(),
            limit: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .pop()
        .expect("the demo street has someone who cannot go downstairs");
    let c = srv.with_token(&chief);
    let (round, _) = open_round(|p, b| c.post(p, b), &round_body(street, "全员核酸第3轮"));
    let mut points = (0..2).map(|i| {
        c.post(&format!("/api/v1/rounds/{round}/points"), &json!({ "name": format!("{i}号采样点"), "community": format!("{street}-{community}") }))
            .json()["id"].as_str().unwrap().to_string()
    });
    let (a, b) = (points.next().unwrap(), points.next().unwrap());
    let others = store
        .residents(&ResidentFilter {
            street: Some(street),
            limit: 5000,
            ..Default::default()
        })
        .await
        .unwrap();
    let codes = others
        .iter()
        .filter(|r| r.building_id != target.building_id)
        .take(18)
        .map(|r| {
            c.get(&format!("/api/v1/residents/{}-{}/code", r.street_id, r.id))
                .json()["code"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    World {
        env,
        srv,
        chief,
        round,
        a,
        b,
        target,
        codes,
    }
}

impl World {
    fn chief(&self) -> Client<'_> {
        self.srv.with_token(&self.chief)
    }

    /// Three tubes at A (10 + 5 + 3 swabs) in two bags, both in one box.
    fn pack(&self) {
        let c = self.chief();
        for (i, range) in [(1, 0..10), (2, 10..15), (3, 15..18)] {
            let r = c.post(
                &format!("/api/v1/points/{}/tubes", self.a),
                &json!({ "barcode": format!("TB0000000{i}") }),
            );
            assert_eq!(r.status, 201, "{}", r.body);
            let tube = r.json()["id"].as_str().unwrap().to_string();
            for (j, code) in self.codes[range.clone()].iter().enumerate() {
                let s = c.post(
                    &format!("/api/v1/tubes/{tube}/scans"),
                    &json!({ "client_id": format!("t{i}-{j}"), "code": code }),
                );
                assert_eq!(s.status, 200, "{}", s.body);
            }
            if range.len() < 10 {
                let r = c.post(&format!("/api/v1/tubes/{tube}/close"), &json!({}));
                assert_eq!(r.status, 200, "{}", r.body);
            }
        }
        for (bag, tubes) in [
            ("BAG0000001", vec!["TB00000001", "TB00000002"]),
            ("BAG0000002", vec!["TB00000003"]),
        ] {
            let r = c.post(
                &format!("/api/v1/points/{}/bags", self.a),
                &json!({ "barcode": bag, "tubes": tubes, "counted_tubes": tubes.len() }),
            );
            assert_eq!(r.status, 201, "{}", r.body);
        }
        let r = c.post(
            &format!("/api/v1/points/{}/boxes", self.a),
            &json!({ "barcode": "BOX0000001", "bags": ["BAG0000001", "BAG0000002"], "counted_bags": 2, "counted_tubes": 3 }),
        );
        assert_eq!(r.status, 201, "{}", r.body);
    }
}

/// The HTML of one label (the `div.label` carrying that barcode).
fn label<'a>(html: &'a str, barcode: &str) -> &'a str {
    let start = html
        .find(&format!(r#"<div class="label" data-barcode="{barcode}">"#))
        .unwrap_or_else(|| panic!("no label for {barcode}: {html}"));
    let rest = &html[start..];
    let end = rest
        .find(r#"<span class="sign-line"></span></div></div>"#)
        .unwrap();
    &rest[..end]
}

/// The number inside `<b id="{id}" …>N</b>`.
fn number(html: &str, id: &str) -> i64 {
    let rest = html
        .split(&format!(r#"id="{id}""#))
        .nth(1)
        .unwrap_or_else(|| panic!("no #{id}"));
    rest.split('>')
        .nth(1)
        .and_then(|r| r.split('<').next())
        .unwrap()
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("#{id} is not a number: {rest:.80}"))
}

#[tokio::test]
async fn labels_show_each_packed_box_and_bag_with_its_counts() {
    let w = world(300).await;
    // Nothing packed yet: the page says so.
    let r = w.chief().get(&format!("/points/{}/labels", w.a));
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains(r#"id="nothing-packed""#), "{}", r.body);
    w.pack();
    let r = w.chief().get(&format!("/points/{}/labels", w.a));
    assert_eq!(r.status, 200, "{}", r.body);
    let html = &r.body;
    let boxed = label(html, "BOX0000001");
    assert!(boxed.contains(r#"<svg class="qr""#), "{boxed}");
    assert!(
        boxed.contains(r#"<b class="label-code">BOX0000001</b>"#),
        "{boxed}"
    );
    assert!(
        boxed.contains("2 袋 bags · 3 管 tubes · 18 人 people"),
        "{boxed}"
    );
    assert!(boxed.contains("全员核酸第3轮 · 0号采样点"), "{boxed}");
    assert!(boxed.contains("核对人 / checked by"), "{boxed}");
    let bag1 = label(html, "BAG0000001");
    assert!(bag1.contains("2 管 tubes · 15 人 people"), "{bag1}");
    assert!(bag1.contains("装入箱 in box BOX0000001"), "{bag1}");
    let bag2 = label(html, "BAG0000002");
    assert!(bag2.contains("1 管 tubes · 3 人 people"), "{bag2}");
    // Boxes and bags are two sheets (a page break between them in print).
    assert_eq!(html.matches(r#"<section class="label-sheet">"#).count(), 2);
    assert!(html.contains("@media print") || html.contains("/assets/app.css"));
    // Point B has nothing packed; the labels are A's only.
    let r = w.chief().get(&format!("/points/{}/labels", w.b));
    assert!(r.body.contains(r#"id="nothing-packed""#), "{}", r.body);
    assert!(!r.body.contains("BOX0000001"));
    // A volunteer at A prints A's labels, not B's.
    let vol_pw = w.env.account("vol", "volunteer", &["--point", &w.a]);
    let vol = w.srv.login("vol", &vol_pw);
    let v = w.srv.with_token(&vol);
    let r = v.get(&format!("/points/{}/labels", w.a));
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("BOX0000001"));
    let r = v.get(&format!("/points/{}/labels", w.b));
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r
        .body
        .contains(r#"<meta name="gw-error" content="forbidden">"#));
}

#[tokio::test]
async fn the_daily_report_matches_the_coverage_api_and_holds_no_personal_data() {
    let w = world(300).await;
    w.pack();
    // One exemption, so every column carries a number.
    let exempt = format!("{}-{}", w.target.street_id, w.target.id);
    let r = w.chief().post(
        &format!("/api/v1/rounds/{}/exemptions", w.round),
        &json!({ "resident": exempt, "reason": "away" }),
    );
    assert!(r.status < 300, "{}", r.body);
    let api = w
        .chief()
        .get(&format!("/api/v1/rounds/{}/coverage?by=community", w.round))
        .json();
    assert!(api["sampled"].as_i64().unwrap() >= 18, "{api}");
    let r = w.chief().get(&format!("/rounds/{}/report", w.round));
    assert_eq!(r.status, 200, "{}", r.body);
    let html = &r.body;
    for (id, field) in [
        ("rep-expected", "expected"),
        ("rep-sampled", "sampled"),
        ("rep-exempt", "exempt"),
        ("rep-missed", "missed"),
    ] {
        assert_eq!(number(html, id), api[field].as_i64().unwrap(), "{id}");
    }
    assert_eq!(number(html, "rep-exempt"), 1);
    // Per community: each row's numbers as the API gives them.
    for row in api["rows"].as_array().unwrap() {
        let cells = format!(
            r#"<td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td>"#,
            row["expected"], row["sampled"], row["exempt"], row["missed"]
        );
        assert!(html.contains(&cells), "{cells} missing");
    }
    // Per grid too.
    let grids = w
        .chief()
        .get(&format!("/api/v1/rounds/{}/coverage?by=grid", w.round))
        .json();
    let table = html.split(r#"id="rep-grids""#).nth(1).unwrap();
    let table = table.split("</table>").next().unwrap();
    assert_eq!(
        table.matches("<tr><td>").count(),
        grids["rows"].as_array().unwrap().len()
    );
    // Each grid by its community's and its own name.
    let store = w.env.store().await;
    for g in store.grids(None, None).await.unwrap() {
        let key = format!("{}-{}", g.street_id, g.id);
        if grids["rows"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["key"] == key)
        {
            let cell = format!("<tr><td>{} · {}</td>", g.community_name, g.name);
            assert!(table.contains(&cell), "{cell} missing: {table}");
        }
    }
    // Per point: swabs and tubes; tubes by state (all three boxed).
    assert!(
        html.contains(
            r#"<td>0号采样点</td><td class="n">18</td><td class="n">18</td><td class="n">3</td>"#
        ),
        "{html}"
    );
    assert!(
        html.contains(r#"<tr data-state="boxed"><td>已装箱</td><td class="n">3</td></tr>"#),
        "{html}"
    );
    // Hand-off mismatches as the reconciliation counts them.
    let recon = w
        .chief()
        .get(&format!("/api/v1/rounds/{}/reconciliation", w.round))
        .json();
    assert_eq!(
        number(html, "rep-mismatches"),
        recon["mismatches"].as_array().unwrap().len() as i64
    );
    assert_eq!(number(html, "rep-retests"), 0);
    assert_eq!(number(html, "rep-dis-open"), 0);
    assert!(html.contains(r#"id="rep-time""#));
    // No document number or phone of anyone in the street, not even masked.
    let everyone = store
        .residents(&ResidentFilter {
            street: Some(w.target.street_id),
            limit: 1000,
            ..Default::default()
        })
        .await
        .unwrap();
    for p in &everyone {
        if let Some(d) = &p.resident.document {
            assert!(!html.contains(&d.number), "a document number in the report");
            assert!(!html.contains(&gw_domain::mask::document(&d.number)));
        }
        for ph in &p.resident.phones {
            assert!(!html.contains(ph.phone.as_str()), "a phone in the report");
        }
    }
    // The round page links the report; a point's volunteer cannot read it.
    let page = w.chief().get(&format!("/rounds/{}", w.round)).body;
    assert!(page.contains(&format!(r#"href="/rounds/{}/report""#, w.round)));
    let vol_pw = w.env.account("vol", "volunteer", &["--point", &w.a]);
    let vol = w.srv.login("vol", &vol_pw);
    let r = w
        .srv
        .with_token(&vol)
        .get(&format!("/rounds/{}/report", w.round));
    assert_eq!(r.status, 403, "{}", r.body);
}

#[tokio::test]
async fn a_building_page_lists_households_masks_people_and_shows_who_is_missed() {
    // Enough people for a second grid.
    let w = world(2000).await;
    let t = &w.target;
    let store = w.env.store().await;
    let building = format!("{}-{}", t.street_id, t.building_id.unwrap());
    let grids = store.grids(None, None).await.unwrap();
    let grid = grids
        .iter()
        .find(|g| g.street_id == t.street_id && Some(g.id) == t.grid_id)
        .unwrap();
    let other = grids
        .iter()
        .find(|g| g.street_id == t.street_id && Some(g.id) != t.grid_id)
        .expect("a second grid");
    let leader_pw = w.env.account(
        "leader",
        "grid_leader",
        &[
            "--street",
            "鸿城街道",
            "--community",
            &grid.community_name,
            "--grid",
            &grid.name,
        ],
    );
    let leader = w.srv.login("leader", &leader_pw);
    let l = w.srv.with_token(&leader);
    // The grid page links its buildings.
    let r = l.get(&format!("/grids/{}-{}", grid.street_id, grid.id));
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains(&format!(r#"href="/buildings/{building}""#)));
    let r = l.get(&format!("/buildings/{building}"));
    assert_eq!(r.status, 200, "{}", r.body);
    let html = &r.body;
    // Every household of the building, linked, with its head count.
    let residents = store
        .residents(&ResidentFilter {
            street: Some(t.street_id),
            building: t.building_id,
            limit: 1000,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut households: Vec<i64> = residents.iter().filter_map(|r| r.household_id).collect();
    households.sort_unstable();
    households.dedup();
    assert!(!households.is_empty());
    for h in &households {
        assert!(
            html.contains(&format!(r#"href="/households/{}-{h}""#, t.street_id)),
            "household {h} not listed"
        );
    }
    assert_eq!(number(html, "bldg-households"), households.len() as i64);
    assert_eq!(number(html, "bldg-residents"), residents.len() as i64);
    // The building's codes print at once, a sheet per household, a card
    // per person, names masked.
    assert!(html.contains(&format!(r#"href="/buildings/{building}/codes""#)));
    let sheets = l.get(&format!("/buildings/{building}/codes"));
    assert_eq!(sheets.status, 200, "{}", sheets.body);
    assert_eq!(
        sheets
            .body
            .matches(r#"class="sheet building-sheet""#)
            .count(),
        households.len()
    );
    assert_eq!(
        sheets.body.matches(r#"class="code-card""#).count(),
        residents.len()
    );
    for p in &residents {
        let shown = format!(r#"masked-name">{}<"#, p.resident.name);
        assert!(!sheets.body.contains(&shown), "a full name");
    }
    // Masked: no full document number or phone; the masked forms are there.
    for p in &residents {
        if let Some(d) = &p.resident.document {
            assert!(!html.contains(&d.number), "a full document number");
            assert!(html.contains(&gw_domain::mask::document(&d.number)));
        }
        for ph in &p.resident.phones {
            assert!(!html.contains(ph.phone.as_str()), "a full phone");
        }
    }
    // The round is open: the target (never scanned) is missed, and to be sampled at the door.
    let section = html
        .split(&format!(r#"id="missed-{}""#, w.round))
        .nth(1)
        .expect("a missed section for the open round");
    let section = section.split("</section>").next().unwrap();
    assert!(section.contains(&t.resident.name), "{section}");
    let door = section
        .split(r#"id="door-to-door""#)
        .nth(1)
        .expect("door-to-door candidates");
    assert!(door.contains(&t.resident.name), "{door}");
    // The missed count is the coverage API's for this building.
    let api = l
        .get(&format!(
            "/api/v1/rounds/{}/missed?building={building}",
            w.round
        ))
        .json();
    assert_eq!(
        section.matches("<tr><td>").count(),
        api["items"].as_array().unwrap().len()
    );
    // A grid leader of another grid does not reach this building.
    let pw2 = w.env.account(
        "leader2",
        "grid_leader",
        &[
            "--street",
            "鸿城街道",
            "--community",
            &other.community_name,
            "--grid",
            &other.name,
        ],
    );
    let leader2 = w.srv.login("leader2", &pw2);
    let r = w
        .srv
        .with_token(&leader2)
        .get(&format!("/buildings/{building}"));
    assert_eq!(r.status, 403, "{}", r.body);
    let codes = w
        .srv
        .with_token(&leader2)
        .get(&format!("/buildings/{building}/codes"));
    assert_eq!(codes.status, 403, "{}", codes.body);
    assert!(r
        .body
        .contains(r#"<meta name="gw-error" content="forbidden">"#));
    assert!(!r.body.contains(&t.resident.name));
}
