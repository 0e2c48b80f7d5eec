//! A whole community's door-to-door list in one request, page and command
//! (the community sends one team at dawn with one printed list): every grid
//! of it in turn, each exactly as its own list, every person once; the
//! point's staff get it masked as the team's rows; a leader of one grid of
//! the community is refused, not given a partial list. And a re-sample after
//! an invalid tube of someone exempted before the swab is exempt on the
//! re-sample list as in coverage, not due.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::harness::Server;
use crate::round_pages::Browser;
use crate::testing::{setup, tube, Round};

fn results(srv: &Server, round: &str, rows: Value) -> Value {
    let r = srv.post(
        &format!("/api/v1/rounds/{round}/results"),
        &json!({ "results": rows }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

fn swab(srv: &Server, tube: &str, client: &str, code: &str) {
    let r = srv.post(
        &format!("/api/v1/tubes/{tube}/scans"),
        &json!({ "client_id": client, "code": code, "purpose": "routine" }),
    );
    assert!(r.status == 200 || r.status == 201, "{}", r.body);
}

/// The rows of a list's floors.
fn rows(floors: &Value) -> Vec<Value> {
    floors
        .as_array()
        .unwrap_or_else(|| panic!("no floors: {floors}"))
        .iter()
        .flat_map(|f| f["residents"].as_array().unwrap().clone())
        .collect()
}

/// `(street, community id, community name, [(grid id, grid name)])` of the
/// community the round's points serve.
async fn community(w: &Round) -> (i64, i64, String, Vec<(i64, String)>) {
    let store = w.env.store().await;
    let street = store.streets().await.unwrap()[0].id;
    let c = store.communities(None, Some(street)).await.unwrap()[0].clone();
    let grids: Vec<(i64, String)> = store
        .grids(None, Some((street, c.id)))
        .await
        .unwrap()
        .into_iter()
        .map(|g| (g.id, g.name))
        .collect();
    assert!(grids.len() >= 2, "the community needs two grids: {grids:?}");
    (street, c.id, c.name, grids)
}

/// `(resident, household)` ids of up to `n` residents of a grid, each of
/// another household.
async fn in_grid(w: &Round, street: i64, grid: i64, n: usize) -> Vec<(i64, i64)> {
    let store = w.env.store().await;
    let all = store
        .residents(&gw_store::registry::ResidentFilter {
            street: Some(street),
            grid: Some(grid),
            limit: 200,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for r in all {
        let h = r.household_id.unwrap();
        if seen.insert(h) {
            out.push((r.id, h));
        }
        if out.len() == n {
            break;
        }
    }
    assert_eq!(out.len(), n, "grid {grid} needs {n} households");
    out
}

/// The community's door-to-door list is the union of its grids' lists, each
/// person once, grouped by grid (each grid's floors as its own list gives
/// them); the point's staff read it masked as the team's rows; a leader of
/// one of its grids is refused (403) on the API and the page while their
/// grid's list still opens; the page (printable, each grid its own sheet)
/// and the command line give it too.
#[tokio::test]
async fn a_communitys_door_to_door_list_is_its_grids_lists_in_one() {
    let w = setup("2000").await;
    let srv = &w.srv;
    let (street, cid, cname, grids) = community(&w).await;
    let ckey = format!("{street}-{cid}");
    // In each of two grids: someone who cannot go downstairs (行动不便) and a
    // household under temporary control.
    let mut marked = Vec::new();
    for (g, _) in &grids[..2] {
        let picked = in_grid(&w, street, *g, 2).await;
        let (flagged, _) = picked[0];
        let f = srv.post(
            &format!("/api/v1/residents/{street}-{flagged}/flags"),
            &json!({ "set": ["cannot_go_downstairs"] }),
        );
        assert_eq!(f.status, 200, "{}", f.body);
        let (held, household) = picked[1];
        let c = srv.post(
            "/api/v1/control",
            &json!({ "target_kind": "household", "target_id": format!("{street}-{household}"), "status": "temporary", "reason": "居家隔离" }),
        );
        assert_eq!(c.status, 201, "{}", c.body);
        marked.push((
            format!("{street}-{g}"),
            format!("{street}-{flagged}"),
            "cannot_go_downstairs",
        ));
        marked.push((
            format!("{street}-{g}"),
            format!("{street}-{held}"),
            "temporary",
        ));
    }

    // The registry reader's community list against each grid's list.
    let path = format!("/api/v1/rounds/{}/door-to-door?community={ckey}", w.round);
    let r = srv.get(&path);
    assert_eq!(r.status, 200, "{}", r.body);
    let whole = r.json();
    assert_eq!(whole["community"], ckey.as_str(), "{whole}");
    let listed = whole["grids"].as_array().unwrap();
    assert_eq!(
        listed
            .iter()
            .map(|g| g["grid"].as_str().unwrap().to_string())
            .collect::<Vec<_>>(),
        grids
            .iter()
            .map(|(g, _)| format!("{street}-{g}"))
            .collect::<Vec<_>>(),
        "every grid of the community, in order"
    );
    let mut union = Vec::new();
    for g in listed {
        let key = g["grid"].as_str().unwrap();
        let one = srv.get(&format!(
            "/api/v1/rounds/{}/door-to-door?grid={key}",
            w.round
        ));
        assert_eq!(one.status, 200, "{}", one.body);
        let one = one.json();
        assert_eq!(g["floors"], one["floors"], "grid {key}");
        for x in rows(&one["floors"]) {
            union.push((key.to_string(), x["id"].as_str().unwrap().to_string()));
        }
    }
    let mut theirs: Vec<(String, String)> = listed
        .iter()
        .flat_map(|g| {
            rows(&g["floors"])
                .into_iter()
                .map(|x| {
                    (
                        g["grid"].as_str().unwrap().to_string(),
                        x["id"].as_str().unwrap().to_string(),
                    )
                })
                .collect::<Vec<_>>()
        })
        .collect();
    let people: BTreeSet<&String> = theirs.iter().map(|(_, id)| id).collect();
    assert_eq!(people.len(), theirs.len(), "each person once: {theirs:?}");
    theirs.sort();
    union.sort();
    assert_eq!(theirs, union);
    for (grid, id, why) in &marked {
        let g = listed.iter().find(|g| g["grid"] == grid.as_str()).unwrap();
        let row = rows(&g["floors"])
            .into_iter()
            .find(|x| x["id"] == id.as_str())
            .unwrap_or_else(|| panic!("{id} not under {grid}: {g}"));
        assert!(row["reasons"].to_string().contains(why), "{row}");
    }

    // The team: a volunteer of the round's point in the community reads it
    // with only what the door needs, the same people.
    let pw = w
        .env
        .account("d2d", "volunteer", &["--point", &w.points[0]]);
    let token = srv.login("d2d", &pw);
    let team = srv.with_token(&token);
    let r = team.get(&path);
    assert_eq!(r.status, 200, "{}", r.body);
    let masked = r.json();
    let mgrids = masked["grids"].as_array().unwrap();
    assert_eq!(mgrids.len(), listed.len());
    for (m, f) in mgrids.iter().zip(listed) {
        let (m, f) = (rows(&m["floors"]), rows(&f["floors"]));
        assert_eq!(m.len(), f.len());
        for (t, f) in m.iter().zip(&f) {
            let o = t.as_object().unwrap();
            for hidden in ["id", "uid", "document_number", "age", "gender", "household"] {
                assert!(!o.contains_key(hidden), "{hidden} in {t}");
            }
            assert_eq!(
                t["name"],
                json!(gw_domain::mask::name(f["name"].as_str().unwrap()))
            );
            assert_eq!(t["address"], f["address"]);
            assert_eq!(t["reasons"], f["reasons"]);
        }
        for f in &f {
            assert!(!r.body.contains(f["document_number"].as_str().unwrap()));
        }
    }

    // A leader of one grid of the community: refused, said why, Chinese
    // first; their own grid's list still opens.
    let gl = w.env.account(
        "gl",
        "grid_leader",
        &[
            "--street",
            "鸿城街道",
            "--community",
            &cname,
            "--grid",
            &grids[0].1,
        ],
    );
    let gl_token = srv.login("gl", &gl);
    let leader = srv.with_token(&gl_token);
    let r = leader.get(&path);
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("逐个网格"), "{}", r.body);
    let own = leader.get(&format!(
        "/api/v1/rounds/{}/door-to-door?grid={street}-{}",
        w.round, grids[0].0
    ));
    assert_eq!(own.status, 200, "{}", own.body);

    // The page: the team's index offers the community's list; the list
    // holds every grid, each a printed sheet of its own.
    let browser = Browser::login(srv, "d2d", &format!("{pw}-changed"));
    let index = browser.get(&format!("/rounds/{}/door-to-door", w.round));
    assert_eq!(index.status, 200, "{}", index.body);
    assert!(
        index
            .body
            .contains(&format!("door-to-door?community={ckey}")),
        "{}",
        index.body
    );
    let page = browser.get(&format!(
        "/rounds/{}/door-to-door?community={ckey}",
        w.round
    ));
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains(r#"id="door-community""#),
        "{}",
        page.body
    );
    for (g, name) in &grids {
        assert!(
            page.body
                .contains(&format!(r#"class="door-grid" data-grid="{street}-{g}""#)),
            "{}",
            page.body
        );
        assert!(page.body.contains(name.as_str()), "{name}");
    }
    for m in mgrids {
        for t in rows(&m["floors"]) {
            assert!(page.body.contains(t["name"].as_str().unwrap()), "{t}");
        }
    }
    assert!(page.body.contains("onclick=\"print()\""), "{}", page.body);
    let css = srv.get("/assets/app.css");
    assert!(css.body.contains(".door-grid+.door-grid{break-before:page"));
    // A grid's own page links the whole community's list for the team.
    let one = browser.get(&format!(
        "/rounds/{}/door-to-door?grid={street}-{}",
        w.round, grids[1].0
    ));
    assert!(
        one.body.contains(r#"id="door-community-link""#),
        "{}",
        one.body
    );
    // The grid leader: no community link, and the page refuses.
    let lb = Browser::login(srv, "gl", &format!("{gl}-changed"));
    let own = lb.get(&format!(
        "/rounds/{}/door-to-door?grid={street}-{}",
        w.round, grids[0].0
    ));
    assert_eq!(own.status, 200, "{}", own.body);
    assert!(!own.body.contains("door-community-link"), "{}", own.body);
    let refused = lb.get(&format!(
        "/rounds/{}/door-to-door?community={ckey}",
        w.round
    ));
    assert_eq!(refused.status, 403, "{}", refused.body);

    // The command line.
    let cli: Value = serde_json::from_str(&w.env.cli_ok(&[
        "round",
        "door-to-door",
        &w.round,
        "--community",
        &ckey,
        "--json",
    ]))
    .unwrap();
    assert_eq!(cli["grids"], whole["grids"]);
    let text = w
        .env
        .cli_ok(&["round", "door-to-door", &w.round, "--community", &ckey]);
    for (g, name) in &grids {
        assert!(text.contains(&format!("{name} ({street}-{g})")), "{text}");
    }
    assert!(
        text.contains("行动不便") && text.contains("临时管控"),
        "{text}"
    );
}

/// Someone exempted (in hospital) who came anyway and was swabbed into a
/// tube the lab found invalid has no result: exempt in coverage, so exempt
/// (not due) on the re-sample list too, and not on the door-to-door list
/// though held at home; the other member of the tube is due.
#[tokio::test]
async fn a_resample_of_someone_exempted_before_the_swab_is_exempt_not_due() {
    let w = setup("600").await;
    let srv = &w.srv;
    let store = w.env.store().await;
    let street = store.streets().await.unwrap()[0].id;
    let first: gw_domain::ids::Key = w.codes[0].0.parse().unwrap();
    let grid_id = store
        .resident(street, first.id)
        .await
        .unwrap()
        .grid_id
        .unwrap();
    let picked = in_grid(&w, street, grid_id, 2).await;
    let code = |id: i64| {
        w.codes
            .iter()
            .find(|(k, _)| *k == format!("{street}-{id}"))
            .unwrap()
            .1
            .clone()
    };
    let (exempted, household) = picked[0];
    let (other, _) = picked[1];
    let exempted_key = format!("{street}-{exempted}");
    let other_key = format!("{street}-{other}");
    let x = srv.post(
        &format!("/api/v1/rounds/{}/exemptions", w.round),
        &json!({ "resident": exempted_key, "reason": "in_hospital" }),
    );
    assert_eq!(x.status, 200, "{}", x.body);
    let t = tube(srv, &w.points[0], "XB000001");
    swab(srv, &t, "xb0", &code(exempted));
    swab(srv, &t, "xb1", &code(other));
    // Held at home since: the door-to-door team would be sent for them.
    let c = srv.post(
        "/api/v1/control",
        &json!({ "target_kind": "household", "target_id": format!("{street}-{household}"), "status": "temporary", "reason": "居家" }),
    );
    assert_eq!(c.status, 201, "{}", c.body);
    results(
        srv,
        &w.round,
        json!([{ "barcode": "XB000001", "result": "invalid" }]),
    );
    let grid = format!("{street}-{grid_id}");
    let resamples = srv
        .get(&format!("/api/v1/rounds/{}/resamples?grid={grid}", w.round))
        .json();
    let state_of = |who: &str| {
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
    assert_eq!(state_of(&exempted_key), "exempt", "{resamples}");
    assert_eq!(state_of(&other_key), "open", "{resamples}");
    // Coverage agrees: exempt, not missed.
    let missed = srv
        .get(&format!("/api/v1/rounds/{}/missed?grid={grid}", w.round))
        .json();
    let missed: Vec<&str> = missed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert!(!missed.contains(&exempted_key.as_str()));
    assert!(missed.contains(&other_key.as_str()));
    // Not on the door-to-door list, neither missed nor "already sampled".
    let door = srv
        .get(&format!(
            "/api/v1/rounds/{}/door-to-door?grid={grid}",
            w.round
        ))
        .json();
    assert!(
        !rows(&door["floors"])
            .iter()
            .any(|r| r["id"] == exempted_key.as_str()),
        "{door}"
    );
}
