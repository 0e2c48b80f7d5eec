//! A testing point's page as its manager reads it at 6 a.m.: the supplies
//! issued to it against the tubes opened there (「发放 10 支，已用 10 支」,
//! marked when few are left, and the tubes opened that no issue covers); the
//! warning a change of hours gives when it leaves out a call-down already
//! pushed, on the page the secretary lands on; `gridwarden supplies list`
//! with a header, aligned columns and a total per kind.

use serde_json::json;

use crate::round_pages::Browser;
use crate::testing::{issue_tubes, setup, tube};

/// How many terminal columns `s` takes (a Chinese character two).
fn cols(s: &str) -> usize {
    s.chars()
        .map(|c| if (c as u32) >= 0x2E80 { 2 } else { 1 })
        .sum()
}

/// The part of `body` from the element with `id` to the end of its line item.
fn item<'a>(body: &'a str, id: &str) -> &'a str {
    let from = body
        .split(&format!(r#"id="{id}""#))
        .nth(1)
        .unwrap_or_else(|| panic!("#{id} on the page: {body}"));
    &from[..from.find("</li>").unwrap_or(from.len())]
}

#[tokio::test]
async fn a_points_page_shows_the_supplies_issued_against_the_tubes_opened() {
    let w = setup("200").await;
    let srv = &w.srv;
    let p = &w.points[0];
    // Ten tubes and 30 kits issued to the point; nine of the tubes opened,
    // and one more that no issue covers.
    issue_tubes(&w.env, p, "TB000101", "TB000110");
    let kits = srv.post(
        &format!("/api/v1/points/{p}/supplies"),
        &json!({ "kind": "kits", "quantity": 30 }),
    );
    assert_eq!(kits.status, 201, "{}", kits.body);
    for i in 101..=109 {
        tube(srv, p, &format!("TB000{i}"));
    }
    tube(srv, p, "TB000500");

    // The point's manager opens its page.
    let pw = w.env.account("pm5", "point_manager", &["--point", p]);
    srv.login("pm5", &pw);
    let pm = Browser::login(srv, "pm5", &format!("{pw}-changed"));
    let page = pm.get(&format!("/points/{p}"));
    assert_eq!(page.status, 200, "{}", page.body);
    let tubes = item(&page.body, "use-tubes");
    assert!(
        tubes.contains("发放 10 支，已用 10 支（1 支不在发放范围内），余 1 支"),
        "{tubes}"
    );
    assert!(tubes.contains("TB000101 – TB000110"), "{tubes}");
    assert!(tubes.contains(r#"id="tubes-low""#), "{tubes}");
    assert!(tubes.contains("余量不足，请申请补发"), "{tubes}");
    let kits = item(&page.body, "use-kits");
    assert!(kits.contains("发放 30 份"), "{kits}");
    assert!(!page.body.contains(r#"id="use-protective_gear""#));
    let outside = item(&page.body, "tubes-not-issued");
    assert!(
        outside.contains("有 1 支不在发放给本点的条码段或批次内") && outside.contains("TB000500"),
        "{outside}"
    );
    assert!(!outside.contains("TB000101"), "{outside}");
    // In English too.
    let en = pm.get(&format!("/points/{p}?lang=en"));
    let tubes = item(&en.body, "use-tubes");
    assert!(
        tubes.contains("issued 10, 10 opened (1 outside the issues), 1 left"),
        "{tubes}"
    );
    assert!(tubes.contains("running low: ask for more"), "{tubes}");

    // More tubes issued from the page's form: no longer low.
    let more = pm.post(
        &format!("/points/{p}/supplies"),
        &[
            ("kind", "tubes"),
            ("first_barcode", "TB000111"),
            ("last_barcode", "TB000200"),
        ],
    );
    assert_eq!(more.status, 201, "{}", more.body);
    let tubes = item(&more.body, "use-tubes");
    assert!(
        tubes.contains("发放 100 支，已用 10 支（1 支不在发放范围内），余 91 支"),
        "{tubes}"
    );
    assert!(
        tubes.contains("TB000101 – TB000110；TB000111 – TB000200"),
        "{tubes}"
    );
    assert!(!tubes.contains(r#"id="tubes-low""#), "{tubes}");

    // The other point: nothing issued, nothing opened, no summary.
    let other = pm.get(&format!("/points/{}", w.points[1]));
    assert_eq!(other.status, 403, "{}", other.body);
    let chief = Browser::login(srv, "chief", &w.chief_password);
    let other = chief.get(&format!("/points/{}", w.points[1]));
    assert_eq!(other.status, 200, "{}", other.body);
    assert!(!other.body.contains(r#"id="supply-use""#), "{}", other.body);
    assert!(other.body.contains("尚未发放物资"), "{}", other.body);
}

#[tokio::test]
async fn shortened_hours_that_leave_out_a_pushed_call_down_are_said_on_the_page() {
    let w = setup("200").await;
    let srv = &w.srv;
    let round: gw_domain::ids::Key = w.round.parse().unwrap();
    let street = round.street;
    let plan = srv.post(
        &format!("/api/v1/rounds/{}/schedule", w.round),
        &json!({ "slot_minutes": 60 }),
    );
    assert_eq!(plan.status, 200, "{}", plan.body);
    let ch = srv.post(
        &format!("/api/v1/streets/{street}/alert-channels"),
        &json!({ "kind": "json", "url": "http://127.0.0.1:9/hook" }),
    );
    assert!(ch.status == 200 || ch.status == 201, "{}", ch.body);
    let pushed = srv.post(
        &format!("/api/v1/rounds/{}/schedule/push", w.round),
        &json!({}),
    );
    assert_eq!(pushed.status, 200, "{}", pushed.body);
    let schedule = srv
        .get(&format!("/api/v1/rounds/{}/schedule", w.round))
        .json();
    let slot = schedule["pushes"][0]["slot_ms"].as_i64().unwrap();
    // A point called down in the pushed slot.
    let point = schedule["plan"]["points"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| {
            p["slots"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s["starts_ms"] == slot && !s["calls"].as_array().unwrap().is_empty())
        })
        .unwrap_or_else(|| panic!("a point called at {slot}: {schedule}"));
    let name = point["name"].as_str().unwrap().to_string();
    let point = format!("{street}-{}", point["point_id"]);

    // The secretary opens it two hours after the pushed slot begins.
    let chief = Browser::login(srv, "chief", &w.chief_password);
    let opens = gw_domain::notify::clock_text(slot + 2 * 3_600_000).replacen(' ', "T", 1);
    let r = chief.post(
        &format!("/points/{point}/change"),
        &[
            ("name", &name),
            ("stations", "4"),
            ("rate", ""),
            ("opens", &opens),
            ("closes", ""),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let warned = r
        .body
        .split(r#"id="change-warnings""#)
        .nth(1)
        .unwrap_or_else(|| panic!("the warning on the page: {}", r.body));
    let warned = &warned[..warned.find("</section>").unwrap()];
    assert!(warned.contains("采样点的调整已保存"), "{warned}");
    assert!(
        warned.contains("的叫号已推送，居民已被通知到本点")
            && warned.contains("请重新排班并另行通知"),
        "{warned}"
    );
    // Only the reader's language.
    assert!(!warned.contains("warning: the call-down"), "{warned}");
    // Saved: the form shows the new stations and hours.
    assert!(
        r.body
            .contains(r#"name="stations" type="number" min="1" max="50" value="4""#),
        "{}",
        r.body
    );
    assert!(r.body.contains(&opens), "{}", r.body);
    // A change that leaves the pushed slot in (stations only, the hours
    // as they stood before): the redirect, no warning.
    let quiet = chief.post(
        &format!("/points/{point}/change"),
        &[("name", &name), ("stations", "5"), ("rate", "")],
    );
    assert_eq!(quiet.status, 303, "{}", quiet.body);
    let after = chief.get(&format!("/points/{point}"));
    assert!(!after.body.contains(r#"id="change-warnings""#));
}

#[tokio::test]
async fn supplies_list_has_a_header_aligned_columns_and_a_total_per_kind() {
    let w = setup("20").await;
    let p = &w.points[0];
    issue_tubes(&w.env, p, "TB000101", "TB000150");
    issue_tubes(&w.env, p, "TB000201", "TB000210");
    w.env.cli_ok(&[
        "supplies",
        "issue",
        "--point",
        p,
        "--kind",
        "kits",
        "--quantity",
        "120",
        "--received-by",
        "张三",
    ]);
    let out = w.env.cli_ok(&["supplies", "list", "--point", p]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("发放记录 supply") && lines[0].contains("数量 quantity"),
        "{out}"
    );
    // The range column starts at the same column on every line.
    let at = |line: &str, what: &str| cols(&line[..line.find(what).unwrap()]);
    let col = at(lines[0], "条码段或批次");
    assert_eq!(at(lines[1], "TB000101"), col, "{out}");
    assert_eq!(at(lines[2], "TB000201"), col, "{out}");
    assert_eq!(at(lines[3], "—"), col, "{out}");
    assert!(lines[3].contains("张三"), "{out}");
    // Quantities right-aligned under their header.
    let end = |line: &str, what: &str| cols(&line[..line.find(what).unwrap() + what.len()]);
    let qend = end(lines[0], "数量 quantity");
    assert_eq!(end(lines[1], " 50 "), qend + 1, "{out}");
    assert_eq!(end(lines[3], " 120 "), qend + 1, "{out}");
    // A total per kind.
    let totals: Vec<&&str> = lines
        .iter()
        .filter(|l| l.starts_with("合计 total"))
        .collect();
    assert_eq!(totals.len(), 2, "{out}");
    assert!(
        totals[0].contains("采样管 tubes")
            && totals[0].contains(" 60 ")
            && totals[0].contains("2 次发放"),
        "{out}"
    );
    assert!(
        totals[1].contains(" 120 ") && totals[1].contains("1 次发放"),
        "{out}"
    );
    // --json as it was: the items.
    let json: serde_json::Value =
        serde_json::from_str(&w.env.cli_ok(&["supplies", "list", "--point", p, "--json"])).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 3, "{json}");
    assert_eq!(json[0]["first_barcode"], "TB000101");
    // A point with nothing issued says so.
    let none = w.env.cli_ok(&["supplies", "list", "--point", &w.points[1]]);
    assert!(none.contains("尚未发放物资"), "{none}");
}
