//! What each role's pages offer is work that role can do: from the home page,
//! every link a role's pages hold opens for it (no link answered 403), the
//! lab's home leads to its rounds' upload and receipt, and a secretary is not
//! told she uploads results.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde_json::json;

use crate::harness::{open_round, round_body, TestEnv};
use crate::round_pages::Browser;

/// Every `href="/…"` of a page, without its fragment, leaving out the
/// language switch, assets and the API.
fn links(body: &str) -> Vec<String> {
    body.split(r#"href=""#)
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(|h| h.replace("&amp;", "&"))
        .map(|h| h.split('#').next().unwrap_or("").to_string())
        .filter(|h| {
            h.starts_with('/')
                && !h.contains("lang=")
                && !h.starts_with("/assets/")
                && !h.starts_with("/api/")
                && h != "/sw.js"
        })
        .collect()
}

/// A link's shape: its path with every run of digits as `#`, and its query's
/// keys. One link of each shape is followed (one household stands for all).
fn shape(link: &str) -> String {
    let (path, query) = link.split_once('?').unwrap_or((link, ""));
    let mut out = String::new();
    let mut digits = false;
    for c in path.chars() {
        if c.is_ascii_digit() {
            if !digits {
                out.push('#');
            }
            digits = true;
        } else {
            out.push(c);
            digits = false;
        }
    }
    let keys: Vec<&str> = query
        .split('&')
        .filter_map(|kv| kv.split('=').next())
        .filter(|k| !k.is_empty())
        .collect();
    format!("{out}?{}", keys.join("&"))
}

/// Follows links from the home page, one of each shape, and returns every
/// page visited with its status, and each page's links.
fn crawl(b: &Browser<'_>) -> (BTreeMap<String, u16>, BTreeMap<String, Vec<String>>) {
    let mut seen_shapes = BTreeSet::new();
    let mut status = BTreeMap::new();
    let mut offered = BTreeMap::new();
    let mut queue = VecDeque::from(["/".to_string()]);
    seen_shapes.insert(shape("/"));
    while let Some(url) = queue.pop_front() {
        if status.len() >= 120 {
            break;
        }
        let r = b.get(&url);
        status.insert(url.clone(), r.status);
        let found = links(&r.body);
        for l in &found {
            if seen_shapes.insert(shape(l)) {
                queue.push_back(l.clone());
            }
        }
        offered.insert(url, found);
    }
    (status, offered)
}

#[tokio::test]
async fn every_link_a_roles_pages_offer_opens_for_that_role() {
    let env = TestEnv::new().await;
    env.cli_ok(&["demo", "--residents", "300", "--seed", "8", "--no-serve"]);
    let store = env.store().await;
    let street = store.streets().await.unwrap()[0].clone();
    let c1 = store.communities(None, Some(street.id)).await.unwrap()[0].clone();
    let grid = store
        .grids(None, Some((street.id, c1.id)))
        .await
        .unwrap()
        .remove(0);
    let chief_pw = env.account("chief", "street_commander", &["--street", &street.name]);
    let mut srv = env.serve();
    srv.token = Some(srv.login("chief", &chief_pw));
    // A round at work with a point, a tube and a swab; and a planned one.
    let (round, _) = open_round(|p, b| srv.post(p, b), &round_body(street.id, "第1轮"));
    let r = srv.post("/api/v1/rounds", &round_body(street.id, "第2轮（计划中）"));
    assert_eq!(r.status, 201, "{}", r.body);
    let planned = r.json()["id"].as_str().unwrap().to_string();
    let point = srv
        .post(
            &format!("/api/v1/rounds/{round}/points"),
            &json!({ "name": "1号采样点", "community": format!("{}-{}", street.id, c1.id) }),
        )
        .json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let tube = srv.post(
        &format!("/api/v1/points/{point}/tubes"),
        &json!({ "barcode": "LK000001" }),
    );
    assert_eq!(tube.status, 201, "{}", tube.body);
    let codes = crate::harness::residents_with_codes(|p| srv.get(p), "limit=3");
    let t = tube.json()["id"].as_str().unwrap().to_string();
    let s = srv.post(
        &format!("/api/v1/tubes/{t}/scans"),
        &json!({ "client_id": "lk-1", "code": codes[0].1 }),
    );
    assert_eq!(s.status, 200, "{}", s.body);

    let node = |role: &str| -> Vec<String> {
        let v: Vec<&str> = match role {
            "admin" => vec!["--city"],
            "street_commander" | "lab" => vec!["--street", &street.name],
            "community_secretary" | "cdc_liaison" => {
                vec!["--street", &street.name, "--community", &c1.name]
            }
            "grid_leader" => vec![
                "--street",
                &street.name,
                "--community",
                &c1.name,
                "--grid",
                &grid.name,
            ],
            _ => vec!["--point", &point],
        };
        v.into_iter().map(String::from).collect()
    };
    let mut homes = BTreeMap::new();
    for role in [
        "admin",
        "street_commander",
        "community_secretary",
        "grid_leader",
        "point_manager",
        "volunteer",
        "lab",
        "cdc_liaison",
    ] {
        let user = format!("u_{role}");
        let args = node(role);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let pw = env.account(&user, role, &args);
        srv.login(&user, &pw);
        let b = Browser::login(&srv, &user, &format!("{pw}-changed"));
        let (status, offered) = crawl(&b);
        let refused: Vec<(String, String, u16)> = offered
            .iter()
            .flat_map(|(from, to)| {
                to.iter()
                    .filter_map(|l| status.get(l).map(|s| (from.clone(), l.clone(), *s)))
                    .collect::<Vec<_>>()
            })
            .filter(|(_, _, s)| *s != 200)
            .collect();
        assert!(
            refused.is_empty(),
            "{role}: links offered that do not open (page, link, status): {refused:?}"
        );
        homes.insert(role, b.get("/").body);
    }

    // The lab's home leads to its work in the round at work, not to the
    // round's page (it reads no registry), and not to the planned round.
    let lab = &homes["lab"];
    assert!(lab.contains(r#"id="lab-rounds""#), "{lab}");
    assert!(
        lab.contains(&format!(r#"href="/rounds/{round}/lab""#)),
        "{lab}"
    );
    assert!(
        lab.contains(&format!(r#"href="/rounds/{round}/reconciliation""#)),
        "{lab}"
    );
    assert!(lab.contains("接收样本箱"), "{lab}");
    assert!(
        !lab.contains(&format!(r#"href="/rounds/{round}""#)),
        "{lab}"
    );
    assert!(!lab.contains(&format!("/rounds/{planned}/")), "{lab}");
    // The secretary's role allows posting results; her community is not
    // where they are posted: not offered.
    let secretary = &homes["community_secretary"];
    assert!(!secretary.contains("上传检测结果"), "{secretary}");
    assert!(homes["street_commander"].contains("上传检测结果"));
    // A point's manager sees the point; its page names the round without a
    // link to the round's page (registry readers only).
    assert!(homes["point_manager"].contains(&format!(r#"href="/points/{point}""#)));
    let b = {
        let pw = env.account("mgr2", "point_manager", &["--point", &point]);
        srv.login("mgr2", &pw);
        Browser::login(&srv, "mgr2", &format!("{pw}-changed"))
    };
    let pt = b.get(&format!("/points/{point}"));
    assert_eq!(pt.status, 200, "{}", pt.body);
    assert!(pt.body.contains("第1轮"), "{}", pt.body);
    assert!(
        !pt.body.contains(&format!(r#"href="/rounds/{round}""#)),
        "{}",
        pt.body
    );
}
