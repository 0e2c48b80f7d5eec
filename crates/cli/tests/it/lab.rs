//! Lab result files over real HTTP and the CLI, on both backends: a real
//! `.xlsx` and a GBK `.csv` written by the test, an abnormal pool traced as
//! when the lab posts JSON, and a bad file refused whole with every problem
//! placed (sheet, row, column) and nothing recorded.

use gw_app::fixtures::{write_csv_gbk, write_xlsx, FixtureCell, FixtureSheet};
use gw_domain::ids::Key;
use serde_json::{json, Value};

use crate::harness::{enc, Server};
use crate::testing::{scan, setup, tube, Round};

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// Three tubes: `L0000001` and `L0000002` with ten people each, `L0000003`
/// with five (closed by hand).
async fn round_with_tubes() -> (Round, Server) {
    let w = setup("200").await;
    let srv = &w.srv;
    let t1 = tube(srv, &w.points[0], "L0000001");
    let t2 = tube(srv, &w.points[0], "L0000002");
    let t3 = tube(srv, &w.points[1], "L0000003");
    for i in 0..10 {
        scan(srv, &t1, &format!("a{i}"), &w.codes[i].1);
        scan(srv, &t2, &format!("b{i}"), &w.codes[10 + i].1);
    }
    for i in 0..5 {
        scan(srv, &t3, &format!("c{i}"), &w.codes[20 + i].1);
    }
    srv.post(&format!("/api/v1/tubes/{t3}/close"), &json!({}));
    let lab_pw = w.env.account("lab", "lab", &["--street", "鸿城街道"]);
    let mut lab = w.env.serve();
    lab.token = Some(lab.login("lab", &lab_pw));
    (w, lab)
}

fn t(s: &str) -> FixtureCell {
    FixtureCell::Text(s.into())
}

/// The results sheet as a lab's LIS exports it: a merged title, a date line,
/// a blank row, the header, rows, a total and a signature.
fn lab_sheet(rows: &[(&str, &str)]) -> FixtureSheet {
    let mut cells = vec![
        vec![t("长春市某医学检验实验室 新冠病毒核酸检测结果")],
        vec![t("送检日期：2022年4月2日"), FixtureCell::Empty, t("")],
        vec![],
        vec![t("序号"), t("试管条码"), t("检测结果"), t("备注")],
    ];
    for (i, (barcode, result)) in rows.iter().enumerate() {
        cells.push(vec![
            FixtureCell::Number((i + 1) as f64),
            t(barcode),
            t(result),
            FixtureCell::Empty,
        ]);
    }
    cells.push(vec![t("合计"), t(&format!("{} 管", rows.len()))]);
    cells.push(vec![
        t("检验者：李四"),
        FixtureCell::Empty,
        t("审核者：王五"),
    ]);
    FixtureSheet {
        name: "检测结果".into(),
        rows: cells,
        merges: vec![(0, 0, 0, 3)],
    }
}

fn members(alert: &Value) -> std::collections::BTreeSet<String> {
    alert["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect()
}

async fn tube_result(w: &Round, barcode: &str) -> Option<String> {
    let round: Key = w.round.parse().unwrap();
    let store = w.env.store().await;
    let tube = store
        .tube_by_barcode(round.street, round.id, barcode)
        .await
        .unwrap()
        .unwrap();
    store.tube_result(tube.street_id, tube.id).await.unwrap()
}

#[tokio::test]
async fn an_xlsx_upload_traces_the_abnormal_pool_like_json_posting() {
    let (w, lab) = round_with_tubes().await;
    let path = w.env.path("4月2日结果.xlsx");
    write_xlsx(
        &path,
        &[lab_sheet(&[
            // Full-width, lower case and spaces, as typed.
            ("ｌ０００ ０００１", "阳性（+）"),
            ("L0000002", "阴性"),
            ("L0000003", "无效"),
            ("L0000002", "Negative"),
        ])],
    )
    .unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let url = format!(
        "/api/v1/rounds/{}/results/file?filename={}",
        w.round,
        enc("4月2日结果.xlsx")
    );
    let r = lab.post_bytes(&url, XLSX, &bytes);
    assert_eq!(r.status, 200, "{}", r.body);
    let sum = r.json();
    assert_eq!(sum["file"], "4月2日结果.xlsx");
    assert_eq!(sum["rows"], 3);
    assert_eq!(sum["repeated"], 1);
    assert_eq!(sum["recorded"], 3);
    assert_eq!(sum["negative"], 1);
    assert_eq!(sum["invalid"], 1);
    let alerts = sum["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0]["barcode"], "L0000001");
    // The lab is told how many, not who (it may not read the registry).
    assert_eq!(alerts[0]["members"], json!([]));
    assert_eq!(alerts[0]["member_count"], 10);
    assert_eq!(alerts[0]["retests_open"], 10);
    assert!(alerts[0]["households_under_control"].as_u64().unwrap() >= 1);
    let seen = w
        .srv
        .get(&format!("/api/v1/rounds/{}/alerts", w.round))
        .json();
    let alerts = seen["alerts"].as_array().unwrap();
    let want: std::collections::BTreeSet<String> =
        w.codes[..10].iter().map(|c| c.0.clone()).collect();
    assert_eq!(members(&alerts[0]), want, "exactly the abnormal tube's ten");
    // The same trace as a JSON post: households under temporary control, re-samples for the invalid tube.
    let store = w.env.store().await;
    let hh: Key = alerts[0]["members"][0]["household"]
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
    assert!(orders
        .iter()
        .any(|o| o.order.status == gw_domain::territory::ControlStatus::Temporary));
    let round: Key = w.round.parse().unwrap();
    let t3 = store
        .tube_by_barcode(round.street, round.id, "L0000003")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        store
            .follow_ups(t3.street_id, t3.id, "resample")
            .await
            .unwrap()
            .len(),
        5
    );
    assert_eq!(
        tube_result(&w, "L0000002").await.as_deref(),
        Some("negative")
    );
    // The same file again records nothing and raises no second alert.
    let again = lab.post_bytes(&url, XLSX, &bytes).json();
    assert_eq!(again["recorded"], 0);
    assert_eq!(again["already"].as_array().unwrap().len(), 3);
    assert_eq!(
        w.srv
            .get(&format!("/api/v1/rounds/{}/alerts", w.round))
            .json()["alerts"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // Who may not post results may not upload them either.
    let vol_pw = w.env.account("vol", "volunteer", &["--street", "鸿城街道"]);
    let mut vol = w.env.serve();
    vol.token = Some(vol.login("vol", &vol_pw));
    assert_eq!(vol.post_bytes(&url, XLSX, &bytes).status, 403);
}

#[tokio::test]
async fn a_gbk_csv_through_the_cli_and_over_http() {
    let (w, lab) = round_with_tubes().await;
    // Excel on Chinese Windows: GBK bytes, English-ish headers after a title line.
    let rows: Vec<Vec<String>> = [
        vec!["某检验所结果导出", ""],
        vec!["", ""],
        vec!["管码", "结果"],
        vec!["L0000002", "异常"],
        vec!["L0000003", "阴性"],
    ]
    .iter()
    .map(|r| r.iter().map(|c| c.to_string()).collect())
    .collect();
    let path = w.env.path("结果.csv");
    write_csv_gbk(&path, &rows).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    assert!(
        std::str::from_utf8(&bytes).is_err(),
        "the file really is GBK, not UTF-8"
    );
    let out = w.env.cli_ok(&[
        "results",
        "upload",
        "--round",
        &w.round,
        path.to_str().unwrap(),
        "--json",
    ]);
    let sum: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(sum["recorded"], 2, "{sum}");
    assert_eq!(sum["alerts"][0]["barcode"], "L0000002");
    let want: std::collections::BTreeSet<String> =
        w.codes[10..20].iter().map(|c| c.0.clone()).collect();
    assert_eq!(members(&sum["alerts"][0]), want);
    assert_eq!(
        tube_result(&w, "L0000003").await.as_deref(),
        Some("negative")
    );
    // The CLI's act is in the audit log under the operator's name.
    let store = w.env.store().await;
    let ev = store.audit_events(None, None, None, 1000).await.unwrap();
    assert!(
        ev.iter().any(|e| e.action == "post_results"
            && e.actor.starts_with("cli:")
            && e.detail.contains("结果.csv")),
        "the file named: {ev:?}"
    );
    // The same bytes over HTTP, typed by Content-Type alone: all already recorded.
    let r = lab.post_bytes(
        &format!("/api/v1/rounds/{}/results/file", w.round),
        "text/csv",
        &bytes,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["already"].as_array().unwrap().len(), 2);
    // The emergency ends: the file's name (it may name a person) goes with
    // the purge, the rest of the event stays.
    w.env.cli_ok(&["purge", "--before", "2200-01-01", "--yes"]);
    let ev = store.audit_events(None, None, None, 1000).await.unwrap();
    let uploads: Vec<&str> = ev
        .iter()
        .filter(|e| e.action == "post_results" && e.actor.starts_with("cli:"))
        .map(|e| e.detail.as_str())
        .collect();
    assert!(
        !uploads.is_empty()
            && uploads.iter().all(|d| !d.contains("结果.csv")
                && d.contains("file=已清除")
                && d.contains("recorded=")),
        "{uploads:?}"
    );
}

#[tokio::test]
async fn a_bad_file_is_refused_whole_with_every_problem_placed() {
    let (w, lab) = round_with_tubes().await;
    let path = w.env.path("有错.xlsx");
    write_xlsx(
        &path,
        &[lab_sheet(&[
            ("L0000001", "阳性"),   // row 5: fine on its own
            ("L0000002", "见附件"), // row 6: unknown result word
            ("", "阴性"),           // row 7: no barcode
            ("L0000003", "阴性"),   // row 8: fine …
            ("L0000003", "阳性"),   // row 9: … but contradicted here
            ("X9999999", "阴性"),   // row 10: not a tube of this round
        ])],
    )
    .unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let url = format!("/api/v1/rounds/{}/results/file?filename=bad.xlsx", w.round);
    let r = lab.post_bytes(&url, XLSX, &bytes);
    assert_eq!(r.status, 422, "{}", r.body);
    let v = r.json();
    assert_eq!(v["code"], "bad_rows");
    let places: Vec<(i64, String)> = v["issues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            assert_eq!(i["sheet"], "检测结果");
            assert_eq!(i["file"], "bad.xlsx");
            (
                i["row"].as_i64().unwrap(),
                i["column"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        places,
        vec![
            (6, "C 检测结果".to_string()),
            (7, "B 试管条码".to_string()),
            (9, "C 检测结果".to_string()),
            (10, "B 试管条码".to_string()),
        ],
        "{v}"
    );
    assert!(v["issues"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("见附件"));
    // Nothing was recorded: not even the good rows.
    for b in ["L0000001", "L0000002", "L0000003"] {
        assert_eq!(tube_result(&w, b).await, None, "{b}");
    }
    assert_eq!(
        w.srv
            .get(&format!("/api/v1/rounds/{}/alerts", w.round))
            .json()["alerts"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    // The CLI refuses it the same way, listing the places, and exits non-zero.
    let out = w.env.cli(&[
        "results",
        "upload",
        "--round",
        &w.round,
        path.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("第 6 行") && err.contains("第 10 行") && err.contains("nothing was recorded"),
        "{err}"
    );
    assert_eq!(tube_result(&w, "L0000001").await, None);
    // A recorded result is not changed by a later file (a correction is its own step).
    let r = lab.post(
        &format!("/api/v1/rounds/{}/results", w.round),
        &json!({ "results": [{ "barcode": "L0000002", "result": "negative" }] }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let path2 = w.env.path("更正.xlsx");
    write_xlsx(&path2, &[lab_sheet(&[("L0000002", "阳性")])]).unwrap();
    let r = lab.post_bytes(
        &format!("/api/v1/rounds/{}/results/file?filename=fix.xlsx", w.round),
        XLSX,
        &std::fs::read(&path2).unwrap(),
    );
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("does not change it"), "{}", r.body);
    assert_eq!(
        tube_result(&w, "L0000002").await.as_deref(),
        Some("negative")
    );
    // Not a spreadsheet at all, and no header anywhere: clear 400 / 422.
    let r = lab.post_bytes(
        &format!("/api/v1/rounds/{}/results/file?filename=r.xlsx", w.round),
        XLSX,
        b"%PDF-1.4 not a workbook",
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.json()["code"], "bad_file");
    assert!(r.body.contains("PDF"), "{}", r.body);
    let r = lab.post_bytes(
        &format!("/api/v1/rounds/{}/results/file?filename=r.csv", w.round),
        "text/csv",
        "姓名,电话\r\n张三,13800000000\r\n".as_bytes(),
    );
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("no header row"), "{}", r.body);
}

/// Posted as JSON, a barcode that is no tube of the round refuses the whole
/// request, as a file's row does, and says where it may belong: an abnormal
/// result for a tube nobody can find must not pass as done.
#[tokio::test]
async fn json_results_for_tubes_not_in_the_round_are_refused_naming_where_they_are() {
    let (w, lab) = round_with_tubes().await;
    let srv = &w.srv;
    // A tube whose barcode starts with zeros (Excel drops them) …
    tube(srv, &w.points[0], "0012340001");
    // … and a tube of another round of the street.
    let street: Key = w.round.parse().unwrap();
    let (other, _) = crate::harness::open_round(
        |p, b| srv.post(p, b),
        &crate::harness::round_body(street.street, "第2轮"),
    );
    let p0: Key = w.points[0].parse().unwrap();
    let store = w.env.store().await;
    let community = store.point(p0.street, p0.id).await.unwrap().community_id;
    let point = srv.post(
        &format!("/api/v1/rounds/{other}/points"),
        &json!({ "name": "二轮采样点", "community": format!("{}-{community}", p0.street) }),
    );
    assert_eq!(point.status, 201, "{}", point.body);
    tube(srv, point.json()["id"].as_str().unwrap(), "M0000001");

    let url = format!("/api/v1/rounds/{}/results", w.round);
    let r = lab.post(
        &url,
        &json!({ "results": [
            { "barcode": "L0000001", "result": "negative" },
            { "barcode": "12340001", "result": "abnormal" },
            { "barcode": "M0000001", "result": "abnormal" },
            { "barcode": "Z9999999", "result": "abnormal" },
        ] }),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    let msg = r.json()["message"].as_str().unwrap().to_string();
    assert!(msg.contains("nothing was recorded"), "{msg}");
    assert!(
        msg.contains("did Excel drop leading zeros? This round has tube 0012340001"),
        "{msg}"
    );
    // Zeros typed in front of a tube's barcode: said the other way round.
    let more = lab.post(
        &url,
        &json!({ "results": [{ "barcode": "000012340001", "result": "abnormal" }] }),
    );
    assert_eq!(more.status, 400, "{}", more.body);
    assert!(
        more.body
            .contains("were leading zeros added? This round has tube 0012340001"),
        "{}",
        more.body
    );
    assert!(
        msg.contains(&format!("another round: {other} 第2轮")),
        "{msg}"
    );
    assert!(
        msg.contains("Z9999999 is not a tube of this round"),
        "{msg}"
    );
    assert_eq!(tube_result(&w, "L0000001").await, None);
}

/// A file is recorded whole or not at all: the database refusing the third
/// tube's result (a trigger standing in for a full disk or a crash part-way)
/// leaves the first two without results and no alert raised; the same file
/// sent again once the fault is gone records all three.
#[tokio::test]
async fn a_file_that_fails_part_way_records_none_of_its_results() {
    let (w, lab) = round_with_tubes().await;
    let store = w.env.store().await;
    match &store.pool {
        gw_store::Pool::Sqlite(_) => {
            crate::harness::exec(
                &store,
                "CREATE TRIGGER gw_test_fault BEFORE UPDATE OF result ON tube \
                 WHEN NEW.barcode = 'L0000003' AND NEW.result IS NOT NULL \
                 BEGIN SELECT RAISE(ABORT, 'fault injected'); END",
            )
            .await;
        }
        gw_store::Pool::Postgres(_) => {
            crate::harness::exec(
                &store,
                "CREATE OR REPLACE FUNCTION gw_test_fault() RETURNS trigger LANGUAGE plpgsql AS $$ \
                 BEGIN IF NEW.barcode = 'L0000003' AND NEW.result IS NOT NULL THEN RAISE EXCEPTION 'fault injected'; END IF; RETURN NEW; END $$",
            )
            .await;
            crate::harness::exec(
                &store,
                "CREATE TRIGGER gw_test_fault BEFORE UPDATE ON tube FOR EACH ROW EXECUTE FUNCTION gw_test_fault()",
            )
            .await;
        }
    }
    let path = w.env.path("结果.xlsx");
    write_xlsx(
        &path,
        &[lab_sheet(&[
            ("L0000001", "阳性"),
            ("L0000002", "阴性"),
            ("L0000003", "阴性"),
        ])],
    )
    .unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let url = format!(
        "/api/v1/rounds/{}/results/file?filename={}",
        w.round,
        enc("结果.xlsx")
    );
    let r = lab.post_bytes(&url, XLSX, &bytes);
    assert!(r.status >= 500, "{} {}", r.status, r.body);
    for barcode in ["L0000001", "L0000002", "L0000003"] {
        assert_eq!(tube_result(&w, barcode).await, None, "{barcode}");
    }
    let alerts = w
        .srv
        .get(&format!("/api/v1/rounds/{}/alerts", w.round))
        .json();
    assert_eq!(alerts["alerts"].as_array().unwrap().len(), 0, "{alerts}");
    let drop = match &store.pool {
        gw_store::Pool::Sqlite(_) => "DROP TRIGGER gw_test_fault",
        gw_store::Pool::Postgres(_) => "DROP TRIGGER gw_test_fault ON tube",
    };
    crate::harness::exec(&store, drop).await;
    let again = lab.post_bytes(&url, XLSX, &bytes);
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.json()["recorded"], 3);
    assert_eq!(
        tube_result(&w, "L0000001").await.as_deref(),
        Some("abnormal")
    );
}

/// The element `id`, from its start tag to the first `</li>`, `</b>` or `</ul>`.
fn by_id<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html
        .find(&format!(r#"id="{id}""#))
        .unwrap_or_else(|| panic!("no #{id}: {html}"));
    let rest = &html[start..];
    let end = ["</li>", "</b>", "</ul>"]
        .iter()
        .filter_map(|t| rest.find(t))
        .min()
        .unwrap();
    &rest[..end]
}

#[tokio::test]
async fn the_web_upload_says_what_the_file_did_as_the_api_does() {
    let w = setup("200").await;
    let srv = &w.srv;
    // An abnormal pool and an invalid one, never packed; a negative tube
    // packed but never received; a negative tube still open at its point.
    let t1 = tube(srv, &w.points[0], "L0000001");
    let t2 = tube(srv, &w.points[0], "L0000002");
    let t3 = tube(srv, &w.points[1], "L0000003");
    let t4 = tube(srv, &w.points[1], "L0000004");
    for i in 0..10 {
        scan(srv, &t1, &format!("a{i}"), &w.codes[i].1);
        scan(srv, &t2, &format!("b{i}"), &w.codes[10 + i].1);
    }
    for i in 0..5 {
        scan(srv, &t3, &format!("c{i}"), &w.codes[20 + i].1);
    }
    srv.post(&format!("/api/v1/tubes/{t3}/close"), &json!({}));
    for i in 0..3 {
        scan(srv, &t4, &format!("d{i}"), &w.codes[30 + i].1);
    }
    let bag = srv.post(
        &format!("/api/v1/points/{}/bags", w.points[0]),
        &json!({ "barcode": "BAG0000001", "tubes": ["L0000002"], "counted_tubes": 1 }),
    );
    assert_eq!(bag.status, 201, "{}", bag.body);
    let boxed = srv.post(
        &format!("/api/v1/points/{}/boxes", w.points[0]),
        &json!({ "barcode": "BOX0000001", "bags": ["BAG0000001"], "counted_bags": 1, "counted_tubes": 1 }),
    );
    assert_eq!(boxed.status, 201, "{}", boxed.body);

    let lab_pw = w.env.account("lab", "lab", &["--street", "鸿城街道"]);
    srv.login("lab", &lab_pw);
    let lab = crate::round_pages::Browser::login(srv, "lab", &format!("{lab_pw}-changed"));
    let csv =
        "试管条码,检测结果\r\nL0000001,阳性\r\nL0000002,阴性\r\nL0000003,无效\r\nL0000004,阴性\r\n";
    let r = lab.upload(
        &format!("/rounds/{}/lab?filename={}", w.round, enc("结果.csv")),
        csv.as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let page = &r.body;
    // The counts by result, said once.
    assert!(!page.contains("管结果已记录"), "{page}");
    assert!(by_id(page, "lab-recorded").ends_with(">4"), "{page}");
    assert!(by_id(page, "lab-negative").ends_with(">2"), "{page}");
    assert!(by_id(page, "lab-abnormal").ends_with(">1"), "{page}");
    assert!(by_id(page, "lab-invalid").ends_with(">1"), "{page}");
    // The abnormal pool traced; the lab reads no registry, so no link to the
    // alerts page (403 for it).
    let alerts = by_id(page, "lab-alerts");
    assert!(
        alerts.contains("L0000001") && alerts.contains("已追踪 10 人"),
        "{alerts}"
    );
    assert!(alerts.contains("0号采样点"), "{alerts}");
    assert!(!page.contains("/alerts#alert-"), "{page}");
    // The invalid pool's people are swabbed again.
    let invalid = by_id(page, "lab-invalid-tubes");
    assert!(
        invalid.contains("L0000003") && invalid.contains("5 人需重采"),
        "{invalid}"
    );
    // What the chain of counts says.
    let open = by_id(page, "lab-still-open");
    assert!(
        open.contains("实验室不可能收到") && open.contains("L0000004"),
        "{open}"
    );
    let unpacked = by_id(page, "lab-unpacked");
    assert!(
        unpacked.contains("L0000001")
            && unpacked.contains("L0000003")
            && !unpacked.contains("L0000004"),
        "{unpacked}"
    );
    let unreceived = by_id(page, "lab-not-received");
    assert!(unreceived.contains("L0000002"), "{unreceived}");
    assert!(
        unreceived.contains(&format!(r#"href="/rounds/{}/reconciliation""#, w.round)),
        "the lab records the receipt there: {unreceived}"
    );

    // The street's commander uploads the next file: the pool is linked to
    // its alert on the alerts page, in English when asked.
    let t5 = tube(srv, &w.points[1], "L0000005");
    for i in 0..2 {
        scan(srv, &t5, &format!("e{i}"), &w.codes[40 + i].1);
    }
    srv.post(&format!("/api/v1/tubes/{t5}/close"), &json!({}));
    let chief = crate::round_pages::Browser::login(srv, "chief", &w.chief_password);
    let r = chief.upload(
        &format!("/rounds/{}/lab?filename=r2.csv&lang=en", w.round),
        "Barcode,Result\r\nL0000005,positive\r\n".as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let alerts = by_id(&r.body, "lab-alerts");
    assert!(
        alerts.contains("Abnormal pool L0000005") && alerts.contains("2 people traced"),
        "{alerts}"
    );
    assert!(
        alerts.contains(&format!(r#"href="/rounds/{}/alerts#alert-"#, w.round)),
        "{alerts}"
    );
    // The API's answer names the invalid tubes too, with the people called again.
    let t6 = tube(srv, &w.points[1], "L0000006");
    for i in 0..3 {
        scan(srv, &t6, &format!("f{i}"), &w.codes[50 + i].1);
    }
    let json = srv.post(
        &format!("/api/v1/rounds/{}/results", w.round),
        &json!({ "results": [{ "barcode": "L0000006", "result": "invalid" }] }),
    );
    assert_eq!(json.status, 200, "{}", json.body);
    assert_eq!(
        json.json()["invalid_tubes"],
        json!(["L0000006"]),
        "{}",
        json.body
    );
    assert_eq!(json.json()["resamples"], 3, "{}", json.body);
}

#[tokio::test]
async fn tubes_never_packed_are_logged_once_per_upload_with_their_count() {
    let (w, _lab) = round_with_tubes().await;
    // Three tubes resulted, none of them ever packed: the summary names
    // them; the log says it once, counted, not a line a tube.
    let path = w.env.path("结果.csv");
    std::fs::write(
        &path,
        "试管条码,检测结果\r\nL0000001,阴性\r\nL0000002,阴性\r\nL0000003,阴性\r\n",
    )
    .unwrap();
    let out = w.env.cli(&[
        "results",
        "upload",
        "--round",
        &w.round,
        path.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    // The log's colours (escape sequences) left out.
    let mut stderr = String::new();
    let mut escape = false;
    for c in String::from_utf8_lossy(&out.stderr).chars() {
        match (escape, c) {
            (false, '\u{1b}') => escape = true,
            (true, 'm') => escape = false,
            (true, _) => {}
            (false, c) => stderr.push(c),
        }
    }
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("L0000001, L0000002, L0000003"), "{stdout}");
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("never packed"))
        .collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].contains("tubes=3"), "{stderr}");
    assert!(!stderr.contains("L0000001"), "{stderr}");
}

/// On PostgreSQL, makes each tube's first result linger (a trigger sleeps
/// 0.4 s after the update, its row still locked), or stops it; SQLite runs
/// one writer at a time and needs none.
async fn linger(store: &gw_store::Store, on: bool) {
    if let gw_store::Pool::Postgres(_) = &store.pool {
        if on {
            crate::harness::exec(
                store,
                "CREATE OR REPLACE FUNCTION gw_test_linger() RETURNS trigger LANGUAGE plpgsql AS $$ \
                 BEGIN PERFORM pg_sleep(0.4); RETURN NULL; END $$",
            )
            .await;
            crate::harness::exec(
                store,
                "CREATE TRIGGER gw_test_linger AFTER UPDATE OF result ON tube FOR EACH ROW \
                 WHEN (NEW.result IS NOT NULL AND OLD.result IS NULL) EXECUTE FUNCTION gw_test_linger()",
            )
            .await;
        } else {
            crate::harness::exec(store, "DROP TRIGGER gw_test_linger ON tube").await;
        }
    }
}

/// Two lab clerks post results for the same tubes at the same moment, in
/// opposite orders. On PostgreSQL each tube's update is made to linger (a
/// trigger sleeps after it), so without taking turns each post would hold
/// the tube the other wants next: a deadlock, one post answered 500 with
/// nothing recorded. Both are answered, each tube is recorded once.
#[tokio::test]
async fn two_result_posts_at_once_in_opposite_orders_both_land() {
    let (w, lab) = round_with_tubes().await;
    let store = w.env.store().await;
    linger(&store, true).await;
    let lab_pw = w.env.account("lab2", "lab", &["--street", "鸿城街道"]);
    let mut lab2 = w.env.serve();
    lab2.token = Some(lab2.login("lab2", &lab_pw));
    let url = format!("/api/v1/rounds/{}/results", w.round);
    let forward = json!({ "results": [
        { "barcode": "L0000001", "result": "negative" },
        { "barcode": "L0000002", "result": "negative" },
    ]});
    let backward = json!({ "results": [
        { "barcode": "L0000002", "result": "negative" },
        { "barcode": "L0000001", "result": "negative" },
    ]});
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| lab.post(&url, &forward));
        let b = s.spawn(|| lab2.post(&url, &backward));
        (a.join().unwrap(), b.join().unwrap())
    });
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(b.status, 200, "{}", b.body);
    // Each tube recorded by exactly one of the two; the other saw it done.
    let recorded = a.json()["recorded"].as_u64().unwrap() + b.json()["recorded"].as_u64().unwrap();
    assert_eq!(recorded, 2, "{} / {}", a.body, b.body);
    for barcode in ["L0000001", "L0000002"] {
        assert_eq!(tube_result(&w, barcode).await.as_deref(), Some("negative"));
    }
    linger(&store, false).await;
}

/// Two uploads at once that disagree about one tube: one is answered, the
/// other refused whole (409), and what is stored is exactly one upload, never
/// half of the other. On PostgreSQL the first upload's update lingers (a
/// trigger sleeps after it), so the second checks the tube before the first
/// commits and finds the disagreement only in its turn.
#[tokio::test]
async fn two_uploads_disagreeing_about_a_tube_store_one_of_them_whole() {
    let (w, lab) = round_with_tubes().await;
    let store = w.env.store().await;
    linger(&store, true).await;
    let lab_pw = w.env.account("lab2", "lab", &["--street", "鸿城街道"]);
    let mut lab2 = w.env.serve();
    lab2.token = Some(lab2.login("lab2", &lab_pw));
    let url = format!("/api/v1/rounds/{}/results", w.round);
    let first = json!({ "results": [{ "barcode": "L0000001", "result": "abnormal" }] });
    let second = json!({ "results": [
        { "barcode": "L0000002", "result": "negative" },
        { "barcode": "L0000001", "result": "negative" },
    ]});
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| lab.post(&url, &first));
        let b = s.spawn(|| {
            std::thread::sleep(std::time::Duration::from_millis(100));
            lab2.post(&url, &second)
        });
        (a.join().unwrap(), b.join().unwrap())
    });
    linger(&store, false).await;
    let mut statuses = [a.status, b.status];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 409], "{} / {}", a.body, b.body);
    let refused = if a.status == 409 { &a } else { &b };
    assert!(
        refused.body.contains("L0000001") && refused.body.contains("nothing was recorded"),
        "{}",
        refused.body
    );
    let stored = (
        tube_result(&w, "L0000001").await,
        tube_result(&w, "L0000002").await,
    );
    if a.status == 200 {
        assert_eq!(stored, (Some("abnormal".into()), None), "{}", b.body);
    } else {
        assert_eq!(
            stored,
            (Some("negative".into()), Some("negative".into())),
            "{}",
            a.body
        );
    }
}
