//! Someone whose only swab of a round is in a tube the lab found invalid has
//! no result: not sampled (missed until re-sampled, see resample_due.rs).
//! Exempted before the re-sample (taken to hospital), recorded as dead, or
//! exempted before they came and were swabbed after all, the round counts
//! them exempt at the street, community, grid and building, and the missed,
//! re-sample and exemption lists and the next round's comparison agree. The
//! figures are checked against counts made here in SQL.

use serde_json::{json, Value};

use crate::harness::{open_round, query_strings, residents_with_codes, round_body};
use crate::packing_pages::{closed_tube, staffed};

/// One SQL count over round `round`'s snapshot rows `e` in `within`
/// (`column = id`, or everything when none) satisfying `cond`.
async fn count(
    store: &gw_store::Store,
    street: i64,
    round: i64,
    within: Option<(&str, i64)>,
    cond: &str,
) -> i64 {
    let w = within.map_or(String::new(), |(c, id)| format!(" AND e.{c} = {id}"));
    query_strings(
        store,
        &format!(
            "SELECT CAST(COUNT(*) AS TEXT) FROM round_expected e WHERE e.street_id = {street} AND e.round_id = {round}{w} AND {cond}"
        ),
    )
    .await[0]
    .parse()
    .unwrap()
}

/// The snapshot's row `e` was sampled in round `round`, in plain SQL: a
/// swab in a tube the lab did not find invalid (no result yet counts).
fn sampled(round: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM registration s JOIN tube t ON t.street_id = s.street_id AND t.id = s.tube_id \
         WHERE s.street_id = e.street_id AND s.round_id = {round} AND s.resident_id = e.resident_id \
         AND (t.result IS NULL OR t.result <> 'invalid'))"
    )
}

/// `(expected, sampled, exempt, missed, moved_out)` counted here, in plain
/// SQL (see [`sampled`]).
async fn by_sql(
    store: &gw_store::Store,
    street: i64,
    round: i64,
    within: Option<(&str, i64)>,
) -> (i64, i64, i64, i64, i64) {
    let sampled_sql = sampled(&round.to_string());
    let exempt = "EXISTS (SELECT 1 FROM round_exemption x WHERE x.street_id = e.street_id AND x.round_id = e.round_id AND x.resident_id = e.resident_id)";
    let n = |cond: String| async move { count(store, street, round, within, &cond).await };
    let expected = n("1 = 1".into()).await;
    let sampled = n(sampled_sql.clone()).await;
    let exempt_n = n(format!("{exempt} AND NOT {sampled_sql}")).await;
    let moved_out = n(format!(
        "NOT {sampled_sql} AND NOT {exempt} AND e.moved_out_ms IS NOT NULL"
    ))
    .await;
    let missed = n(format!(
        "NOT {sampled_sql} AND NOT {exempt} AND e.moved_out_ms IS NULL"
    ))
    .await;
    (expected, sampled, exempt_n, missed, moved_out)
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

/// expected = sampled + exempt + missed + moved_out.
fn adds_up(v: &Value) {
    let (e, s, x, m, o) = figures(v);
    assert_eq!(e, s + x + m + o, "{v}");
}

fn ids(v: &Value, key: &str) -> Vec<String> {
    v[key]
        .as_array()
        .unwrap_or_else(|| panic!("no {key} in {v}"))
        .iter()
        .map(|i| {
            i["id"]
                .as_str()
                .or_else(|| i["resident"]["id"].as_str())
                .unwrap()
                .to_string()
        })
        .collect()
}

#[tokio::test]
async fn an_invalid_swab_then_an_exemption_counts_as_exempt_at_every_level() {
    let s = staffed("全员核酸第7轮").await;
    let c = s.srv.with_token(&s.chief);
    let street = s.street;
    let round = s.round.clone();
    let round_id: i64 = round.split('-').nth(1).unwrap().parse().unwrap();
    let point = c
        .post(
            &format!("/api/v1/rounds/{round}/points"),
            &json!({ "name": "南门采样点", "community": format!("{street}-{}", s.community) }),
        )
        .json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let grid = format!("{street}-{}", s.grid);
    let people = residents_with_codes(|p| c.get(p), &format!("limit=12&grid={grid}"));
    assert!(people.len() >= 6, "the grid needs 6 residents");
    // One exempted (away) who comes and is swabbed after all: if the swab
    // gives no result they are not sampled, so exempt.
    let (came_anyway, _) = &people[3];
    let x = c.post(
        &format!("/api/v1/rounds/{round}/exemptions"),
        &json!({ "resident": came_anyway, "reason": "away" }),
    );
    assert_eq!(x.status, 200, "{}", x.body);
    // Four in a tube the lab finds invalid, two in one it finds negative.
    closed_tube(&s.srv, &s.chief, &point, "IV000001", &people[0..4]);
    closed_tube(&s.srv, &s.chief, &point, "IV000002", &people[4..6]);
    let r = c.post(
        &format!("/api/v1/rounds/{round}/results"),
        &json!({ "results": [
            { "barcode": "IV000001", "result": "invalid" },
            { "barcode": "IV000002", "result": "negative" },
        ] }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let cov = |q: &str| {
        let r = c.get(&format!("/api/v1/rounds/{round}/coverage?{q}"));
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()
    };
    let gq = format!("by=grid&community={street}-{}", s.community);
    let grid_row = |v: &Value| -> Value {
        v["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["key"] == grid.as_str())
            .cloned()
            .unwrap_or_else(|| panic!("no row for {grid} in {v}"))
    };
    let before = grid_row(&cov(&gq));
    // Only the two of the negative tube are sampled: the invalid tube's
    // four have no result (missed, to be swabbed again; the one exempted
    // before the swab exempt).
    assert_eq!(before["sampled"], 2, "{before}");

    // One goes to hospital before the re-sample and is exempted; another
    // dies and is recorded as left (which exempts them from rounds still
    // sampling): neither's swab gave a result.
    let (sick, _) = &people[1];
    let (dead, _) = &people[2];
    let x = c.post(
        &format!("/api/v1/rounds/{round}/exemptions"),
        &json!({ "resident": sick, "reason": "in_hospital" }),
    );
    assert_eq!(x.status, 200, "{}", x.body);
    let left = c.post(
        &format!("/api/v1/residents/{dead}/leave"),
        &json!({ "reason": "deceased" }),
    );
    assert_eq!(left.status, 200, "{}", left.body);
    assert_eq!(
        left.json()["rounds"],
        json!([round.clone()]),
        "{}",
        left.body
    );

    let after = grid_row(&cov(&gq));
    assert_eq!(after["sampled"], before["sampled"], "{after}");
    assert_eq!(
        after["exempt"].as_i64().unwrap(),
        before["exempt"].as_i64().unwrap() + 2,
        "{after}"
    );
    assert_eq!(
        after["missed"].as_i64().unwrap(),
        before["missed"].as_i64().unwrap() - 2,
        "{after}"
    );
    assert_eq!(after["expected"], before["expected"], "{after}");

    // Every level adds up and matches the counts made here.
    let store = s.env.store().await;
    let whole = cov("by=community");
    adds_up(&whole);
    assert_eq!(
        figures(&whole),
        by_sql(&store, street, round_id, None).await
    );
    for (by, within) in [
        ("community", None),
        ("grid", Some(("community", s.community))),
        ("building", Some(("grid", s.grid))),
    ] {
        let q = match within {
            Some((l, id)) => format!("by={by}&{l}={street}-{id}"),
            None => format!("by={by}"),
        };
        let v = cov(&q);
        adds_up(&v);
        if let Some((l, id)) = within {
            assert_eq!(
                figures(&v),
                by_sql(&store, street, round_id, Some((&format!("{l}_id"), id))).await,
                "{q}: {v}"
            );
        }
        for row in v["rows"].as_array().unwrap() {
            adds_up(row);
            let id: i64 = row["key"]
                .as_str()
                .unwrap()
                .split('-')
                .nth(1)
                .unwrap()
                .parse()
                .unwrap();
            assert_eq!(
                figures(row),
                by_sql(&store, street, round_id, Some((&format!("{by}_id"), id))).await,
                "{q}: {row}"
            );
        }
    }
    // The building of the one in hospital: counted exempt there too.
    let sick_building = c.get(&format!("/api/v1/residents/{sick}")).json()["building"]
        .as_str()
        .unwrap()
        .to_string();
    let bq = format!("by=building&building={sick_building}");
    let b = cov(&bq);
    adds_up(&b);
    assert!(b["exempt"].as_i64().unwrap() >= 1, "{b}");

    // The lists agree: neither is missed; both are listed exempt; the
    // re-sample list says nobody will swab them again.
    let missed = c
        .get(&format!("/api/v1/rounds/{round}/missed?grid={grid}"))
        .json();
    let missed_ids = ids(&missed, "items");
    assert!(
        !missed_ids.contains(sick) && !missed_ids.contains(dead),
        "{missed}"
    );
    assert_eq!(
        missed_ids.len() as i64,
        after["missed"].as_i64().unwrap(),
        "{missed}"
    );
    let exempt = c
        .get(&format!("/api/v1/rounds/{round}/exemptions?grid={grid}"))
        .json();
    let exempt_ids = ids(&exempt, "items");
    assert!(
        exempt_ids.contains(sick) && exempt_ids.contains(dead),
        "{exempt}"
    );
    let resamples = c
        .get(&format!("/api/v1/rounds/{round}/resamples?grid={grid}"))
        .json();
    let state_of = |who: &str| -> String {
        resamples["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["resident"]["id"] == who)
            .unwrap_or_else(|| panic!("{who} not in {resamples}"))["state"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(state_of(sick), "exempt");
    assert_eq!(state_of(dead), "exempt");
    assert_eq!(state_of(&people[0].0), "open");
    // Exempted before the swab: with no result they count exempt, not
    // missed, and the re-sample list agrees (any exemption of the round
    // settles a re-sample, as coverage counts it).
    assert_eq!(state_of(came_anyway), "exempt");
    assert!(!missed_ids.contains(came_anyway), "{missed}");
    assert!(exempt_ids.contains(came_anyway), "{exempt}");
    // The one of the invalid tube neither exempted nor re-sampled is missed,
    // marked so.
    let first = missed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == people[0].0.as_str())
        .unwrap_or_else(|| panic!("{} not missed: {missed}", people[0].0));
    assert_eq!(first["resample_due"], true, "{first}");

    // The next round: none of the invalid tube was sampled in this one (no
    // result), so none is "sampled before" nor lapsed; the negative tube's
    // were, and are lapsed until swabbed again.
    let (r2, _) = open_round(|p, b| c.post(p, b), &round_body(street, "全员核酸第8轮"));
    let cmp = c
        .get(&format!("/api/v1/rounds/{r2}/compare?grid={grid}"))
        .json();
    assert_eq!(cmp["before"], round.as_str(), "{cmp}");
    let lapsed = ids(&cmp, "lapsed");
    assert!(!lapsed.contains(sick), "{cmp}");
    assert!(!lapsed.contains(&people[0].0), "{cmp}");
    assert!(!lapsed.contains(came_anyway), "{cmp}");
    assert!(lapsed.contains(&people[4].0), "{cmp}");
    let sampled_before: i64 = cmp["buildings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["sampled_before"].as_i64().unwrap())
        .sum();
    // This round's sampled, over the residents round 2 expects in the grid.
    let r2_id: i64 = r2.split('-').nth(1).unwrap().parse().unwrap();
    let want = count(
        &store,
        street,
        r2_id,
        Some(("grid_id", s.grid)),
        &sampled(&round_id.to_string()),
    )
    .await;
    assert_eq!(sampled_before, want, "{cmp}");
    assert!(sampled_before >= 2, "{cmp}");
}
