//! The coverage pages as a grid leader and a street commander read them
//! over real HTTP: the daily report, the missed list of a grid, building or
//! community, round over round, and an error page shown to someone logged in.

use serde_json::{json, Value};

use crate::harness::{open_round, residents_with_codes, round_body, Response, Server, TestEnv};
use crate::round_pages::{error_code, Browser};
use gw_store::registry::GridRow;

/// Two rounds over a demo street of two communities. In community 1, round 1
/// swabbed 20 of the grid's people at 1号点 and 5 at 东风小学; round 2 has no
/// 东风小学 and swabbed the first 10 at 1号点; one resident of the grid was
/// registered after round 2 opened. `gl` leads the grid.
struct World {
    env: TestEnv,
    srv: Server,
    street: i64,
    community: String,
    community_name: String,
    other_names: Vec<String>,
    grid: GridRow,
    r1: String,
    r2: String,
    leader_password: String,
}

impl World {
    fn grid_key(&self) -> String {
        format!("{}-{}", self.street, self.grid.id)
    }
    fn leader(&self) -> Browser<'_> {
        Browser::login(&self.srv, "gl", &self.leader_password)
    }
}

fn point(srv: &Server, round: &str, community: &str, name: &str) -> String {
    let r = srv.post(
        &format!("/api/v1/rounds/{round}/points"),
        &json!({ "name": name, "community": community }),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    r.json()["id"].as_str().unwrap().to_string()
}

/// Swabs `codes` at `point`, ten to a tube.
fn swab_all(srv: &Server, point: &str, tag: &str, codes: &[(String, String)]) {
    for (n, chunk) in codes.chunks(10).enumerate() {
        let t = crate::testing::tube(srv, point, &format!("{tag}{n:07}"));
        for (i, (_, code)) in chunk.iter().enumerate() {
            crate::testing::scan(srv, &t, &format!("{tag}-{n}-{i}"), code);
        }
    }
}

async fn world() -> World {
    let env = TestEnv::new().await;
    env.cli_ok(&["demo", "--residents", "6000", "--seed", "21", "--no-serve"]);
    let pw = env.account("chief", "street_commander", &["--street", "鸿城街道"]);
    let mut srv = env.serve();
    srv.token = Some(srv.login("chief", &pw));
    let store = env.store().await;
    let street = store.streets().await.unwrap()[0].id;
    let communities = store.communities(None, Some(street)).await.unwrap();
    assert!(communities.len() >= 2, "two communities");
    let c1 = &communities[0];
    let community = format!("{street}-{}", c1.id);
    let grid = store
        .grids(None, Some((street, c1.id)))
        .await
        .unwrap()
        .into_iter()
        .find(|g| !g.unassigned)
        .expect("a grid");
    let gk = format!("{street}-{}", grid.id);
    let people = residents_with_codes(|p| srv.get(p), &format!("grid={gk}&limit=30"));
    assert_eq!(people.len(), 30);

    let (r1, _) = open_round(|p, b| srv.post(p, b), &round_body(street, "第1轮"));
    let one = point(&srv, &r1, &community, "1号点");
    let school = point(&srv, &r1, &community, "东风小学");
    swab_all(&srv, &one, "A", &people[..20]);
    swab_all(&srv, &school, "S", &people[20..25]);
    let (r2, _) = open_round(|p, b| srv.post(p, b), &round_body(street, "第2轮"));
    let one2 = point(&srv, &r2, &community, "1号点");
    swab_all(&srv, &one2, "B", &people[..10]);
    // Registered in the grid after round 2 opened: added, not swabbed.
    let first: gw_domain::ids::Key = people[0].0.parse().unwrap();
    let household = store
        .resident(first.street, first.id)
        .await
        .unwrap()
        .household_id
        .unwrap();
    let newcomer = gw_domain::resident::NewResident::named("新来者");
    let mut tx = store.begin().await.unwrap();
    tx.insert_residents(
        street,
        &[gw_store::import::ResidentWrite {
            uid: "added-after-open".into(),
            household_id: Some(household),
            resident: &newcomer,
            status: "active",
        }],
        4_000_000_000_000,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let code = grid.code.clone().expect("a grid code");
    let leader_pw = env.account("gl", "grid_leader", &["--grid", &code]);
    srv.login("gl", &leader_pw);
    World {
        env,
        srv,
        street,
        community,
        community_name: c1.name.clone(),
        other_names: communities[1..].iter().map(|c| c.name.clone()).collect(),
        grid,
        r1,
        r2,
        leader_password: format!("{leader_pw}-changed"),
    }
}

/// The HTML of the element that starts with `start` up to `end`.
fn section<'a>(body: &'a str, start: &str, end: &str) -> &'a str {
    let rest = body
        .split(start)
        .nth(1)
        .unwrap_or_else(|| panic!("no {start}: {body}"));
    rest.split(end).next().unwrap()
}

fn ok(r: Response) -> String {
    assert_eq!(r.status, 200, "{}", r.body);
    r.body
}

#[tokio::test]
async fn a_grid_leaders_daily_report_names_their_grid_in_its_own_community_and_counts_the_added() {
    let w = world().await;
    let leader = w.leader();
    let html = ok(leader.get(&format!("/rounds/{}/report", w.r2)));
    let grids = section(&html, r#"id="rep-grids""#, "</table>");
    let own = format!("<tr><td>{} · {}</td>", w.community_name, w.grid.name);
    assert!(grids.contains(&own), "{own} missing: {grids}");
    assert_eq!(grids.matches("<tr><td>").count(), 1, "{grids}");
    // No community's line for a reader of one grid, and no other community named.
    let communities = section(&html, r#"id="rep-communities""#, "</table>");
    assert!(!communities.contains(&w.grid_key()), "{communities}");
    for other in &w.other_names {
        assert!(!html.contains(other.as_str()), "{other} named: {html}");
    }
    // The added: as the API counts them for the leader (1, not swabbed).
    let api = leader.get(&format!("/api/v1/rounds/{}/coverage?by=community", w.r2));
    let api = api.json();
    assert_eq!(api["added"], 1, "{api}");
    assert!(
        html.contains(r#"<b id="rep-added">1 (1)</b>"#),
        "the added and those of them missed: {html}"
    );
    // An abnormal pool's retests are the whole tube's (it may hold people
    // of other grids): the report says so where it counts them.
    assert!(
        html.contains("待单管复检（整管）") && html.contains("异常混管的待复检人数按整管计"),
        "{html}"
    );
    // The points of the leader's community, as the round page shows them.
    let points = section(&html, r#"id="rep-points""#, "</table>");
    assert!(
        points.contains(r#"<td>1号点</td><td class="n">10</td>"#),
        "{points}"
    );
    // The tubes of those points by state: 1号点's one tube of ten.
    let tubes = section(&html, r#"id="rep-tubes""#, "</table>");
    assert_eq!(tubes.matches("<tr data-state=").count(), 1, "{tubes}");
    assert!(tubes.contains(r#"<td class="n">1</td>"#), "{tubes}");

    // The street commander: each community by its name, with its added.
    let chief = w.srv.get(&format!("/rounds/{}/report", w.r2)).body;
    let communities = section(&chief, r#"id="rep-communities""#, "</table>");
    assert!(
        communities.contains(&format!("<tr><td>{}</td>", w.community_name)),
        "{communities}"
    );
    assert!(chief.contains(r#"<b id="rep-added">1 (1)</b>"#), "{chief}");
}

#[tokio::test]
async fn the_missed_list_shows_each_person_on_a_card_with_their_flags_phone_and_codes() {
    let w = world().await;
    let leader = w.leader();
    let api = leader
        .get(&format!(
            "/api/v1/rounds/{}/missed?grid={}",
            w.r2,
            w.grid_key()
        ))
        .json();
    let html = ok(leader.get(&format!("/rounds/{}/missed?grid={}", w.r2, w.grid_key())));
    let list = section(&html, r#"<ul class="list" id="missed">"#, "</ul>");
    let card = section(&html, r#"id="missed">"#, "</section>");
    assert!(
        !card.contains("<table"),
        "no table to scroll sideways: {card}"
    );
    let items: Vec<&Value> = api["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(api["added"].as_array().unwrap())
        .chain(api["moved_in"].as_array().unwrap())
        .collect();
    assert_eq!(list.matches("<li>").count(), items.len().min(200));
    assert!(html.contains(&format!("<b>{} · {}</b>", w.community_name, w.grid.name)));
    // Each card: the masked phone, the flags, the household's code sheet.
    let cards: Vec<&str> = list.split("<li>").skip(1).collect();
    for (card, person) in cards.iter().zip(&items) {
        if let Some(phone) = person["phones"][0]["number"].as_str() {
            assert!(card.contains(phone), "{phone} not on {card}");
        }
        let household = person["household"].as_str().unwrap();
        assert!(
            card.contains(&format!(r#"href="/households/{household}/codes">码单</a>"#)),
            "{card}"
        );
        for flag in person["flags"].as_array().unwrap() {
            let code = gw_domain::resident::Flag::from_code(flag.as_str().unwrap()).unwrap();
            assert!(
                card.contains(&format!(r#"<span class="tag">{}</span>"#, code.label_zh())),
                "{flag} not on {card}"
            );
        }
        assert!(!card.contains("<td"), "{card}");
    }
    assert!(
        items
            .iter()
            .any(|p| !p["flags"].as_array().unwrap().is_empty()),
        "someone flagged is listed"
    );
    // The added, after the expected (on the last page).
    let last = ok(leader.get(&format!(
        "/rounds/{}/missed?grid={}&page=999",
        w.r2,
        w.grid_key()
    )));
    let list = section(&last, r#"<ul class="list" id="missed">"#, "</ul>");
    let newcomer = list
        .split("<li>")
        .find(|c| c.contains("新来者"))
        .expect("the newcomer is listed");
    assert!(
        newcomer.contains(r#"<span class="tag">开轮后新增</span>"#),
        "{newcomer}"
    );
    // The emergency over and the people purged, the list keeps its count
    // but offers no code sheet: a purged resident has no code.
    w.env.cli_ok(&["purge", "--before", "2200-01-01", "--yes"]);
    let html = ok(leader.get(&format!("/rounds/{}/missed?grid={}", w.r2, w.grid_key())));
    let list = section(&html, r#"<ul class="list" id="missed">"#, "</ul>");
    assert_eq!(list.matches("<li>").count(), items.len().min(200));
    assert!(!list.contains("/codes\""), "{list}");
}

#[tokio::test]
async fn a_buildings_and_a_communitys_missed_list_and_comparison_open_as_the_api_allows() {
    let w = world().await;
    let leader = w.leader();
    let r2 = &w.r2;
    let count = |html: &str| {
        section(html, r#"<ul class="list" id="missed">"#, "</ul>")
            .matches("<li>")
            .count()
    };
    let listed = |v: &Value| {
        ["items", "added", "moved_in"]
            .iter()
            .map(|k| v[k].as_array().unwrap().len())
            .sum::<usize>()
    };
    // The per-building page links each building to its missed list.
    let by_building = ok(leader.get(&format!("/rounds/{r2}/coverage?grid={}", w.grid_key())));
    let rows = w
        .srv
        .get(&format!(
            "/api/v1/rounds/{r2}/coverage?grid={}&by=building",
            w.grid_key()
        ))
        .json();
    let rows = rows["rows"].as_array().unwrap();
    assert!(!rows.is_empty());
    for row in rows {
        let b = row["key"].as_str().unwrap();
        let link = format!(r#"href="/rounds/{r2}/missed?building={b}""#);
        assert!(by_building.contains(&link), "{link}: {by_building}");
    }
    // A building's list, as the leader's API answers it.
    let b = rows
        .iter()
        .find(|r| r["missed"].as_i64().unwrap() > 0)
        .expect("a building with someone missed")["key"]
        .as_str()
        .unwrap();
    let page = ok(leader.get(&format!("/rounds/{r2}/missed?building={b}")));
    let api = leader.get(&format!("/api/v1/rounds/{r2}/missed?building={b}"));
    assert_eq!(count(&page), listed(&api.json()));
    assert!(
        page.contains(&format!("<b>{} · ", w.community_name)),
        "{page}"
    );
    // A community's list: the commander's, as the API; refused to the grid's leader.
    let c = &w.community;
    let page = w
        .srv
        .get(&format!("/rounds/{r2}/missed?community={c}"))
        .body;
    let api = w
        .srv
        .get(&format!("/api/v1/rounds/{r2}/missed?community={c}"));
    assert_eq!(count(&page).min(200), listed(&api.json()).min(200));
    assert!(
        page.contains(&format!("<b>{}</b>", w.community_name)),
        "{page}"
    );
    let refused = leader.get(&format!("/rounds/{r2}/missed?community={c}"));
    let api_refused = leader.get(&format!("/api/v1/rounds/{r2}/missed?community={c}"));
    assert_eq!(refused.status, api_refused.status);
    assert_eq!(refused.status, 403, "{}", refused.body);
    // A community's comparison, and a building's.
    let cmp = ok(w.srv.get(&format!("/rounds/{r2}/compare?community={c}")));
    assert!(cmp.contains(r#"id="compare-before">第1轮<"#), "{cmp}");
    ok(leader.get(&format!("/rounds/{r2}/compare?building={b}")));
    assert_eq!(
        leader
            .get(&format!("/rounds/{r2}/compare?community={c}"))
            .status,
        403
    );
    // Two territories at once: refused with the reason in the reader's language.
    let two = leader.get(&format!(
        "/rounds/{r2}/missed?grid={}&building={b}",
        w.grid_key()
    ));
    assert_eq!(two.status, 400, "{}", two.body);
    assert!(two.body.contains("只能给一个"), "{}", two.body);
    assert!(!two.body.contains("give only one"), "{}", two.body);
}

#[tokio::test]
async fn round_over_round_keeps_the_earlier_rounds_points_and_shows_them_to_a_grid_leader() {
    let w = world().await;
    let leader = w.leader();
    let (r1, r2) = (&w.r1, &w.r2);
    let point = |points: &Value, name: &str| -> (i64, i64) {
        let p = points
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{name} missing: {points}"));
        (
            p["people"].as_i64().unwrap(),
            p["people_before"].as_i64().unwrap(),
        )
    };
    // The community's: 东风小学, only in round 1, is there; the totals add up.
    let cmp = w
        .srv
        .get(&format!(
            "/api/v1/rounds/{r2}/compare?community={}",
            w.community
        ))
        .json();
    assert_eq!(cmp["before"], r1.as_str(), "{cmp}");
    assert_eq!(point(&cmp["points"], "1号点"), (10, 20));
    assert_eq!(point(&cmp["points"], "东风小学"), (0, 5));
    let before: i64 = cmp["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["people_before"].as_i64().unwrap())
        .sum();
    let round1 = w
        .srv
        .get(&format!(
            "/api/v1/rounds/{r1}/coverage?community={}",
            w.community
        ))
        .json();
    let people1: i64 = round1["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["people"].as_i64().unwrap())
        .sum();
    assert_eq!(before, people1, "{cmp} {round1}");
    // The grid's leader sees the same points for their grid.
    let mine = leader
        .get(&format!(
            "/api/v1/rounds/{r2}/compare?grid={}",
            w.grid_key()
        ))
        .json();
    assert_eq!(point(&mine["points"], "1号点"), (10, 20), "{mine}");
    assert_eq!(point(&mine["points"], "东风小学"), (0, 5), "{mine}");
    // The page: the round compared with by name, the points, and the lapsed
    // with their masked phones.
    let html = ok(leader.get(&format!("/rounds/{r2}/compare?grid={}", w.grid_key())));
    assert!(html.contains(r#"id="compare-before">第1轮<"#), "{html}");
    let points = section(&html, r#"id="compare-points""#, "</table>");
    assert!(
        points.contains(r#"<td>东风小学</td><td class="n">5</td><td class="n">0</td>"#),
        "{points}"
    );
    let lapsed = section(&html, r#"<ul class="list" id="lapsed">"#, "</ul>");
    let people = mine["lapsed"].as_array().unwrap();
    assert_eq!(people.len(), 15, "{mine}");
    assert_eq!(lapsed.matches("<li>").count(), 15);
    let mut phones = 0;
    for p in people {
        if let Some(n) = p["phones"][0]["number"].as_str() {
            assert!(n.contains('*'), "masked: {n}");
            assert!(lapsed.contains(n), "{n} not in {lapsed}");
            phones += 1;
        }
    }
    assert!(phones > 0, "someone lapsed has a phone");
    let store = w.env.store().await;
    for p in people {
        let k: gw_domain::ids::Key = p["id"].as_str().unwrap().parse().unwrap();
        for ph in &store
            .resident(k.street, k.id)
            .await
            .unwrap()
            .resident
            .phones
        {
            assert!(
                !html.contains(ph.phone.as_str()),
                "a full phone on the page"
            );
        }
    }
}

#[tokio::test]
async fn an_error_page_keeps_the_readers_header_and_a_language_link_to_the_same_page() {
    let w = world().await;
    let leader = w.leader();
    let path = format!("/rounds/{}/missed", w.r2);
    let r = leader.get(&path);
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(error_code(&r).as_deref(), Some("bad_request"));
    assert!(
        r.body.contains(r#"<span class="who">gl</span>"#),
        "{}",
        r.body
    );
    assert!(r.body.contains(r#"action="/logout""#), "{}", r.body);
    assert!(r.body.contains(">退出</button>"), "{}", r.body);
    assert!(
        r.body.contains(&format!(
            r#"<a class="lang" href="{path}?lang=en">English</a>"#
        )),
        "{}",
        r.body
    );
    assert!(!r.body.contains(r#"href="/login""#), "{}", r.body);
    // In English, back to Chinese on the same page, its query kept.
    let r = leader.get(&format!("{path}?page=2&lang=en"));
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.body.contains(&format!(
            r#"<a class="lang" href="{path}?page=2&amp;lang=zh">中文</a>"#
        )),
        "{}",
        r.body
    );
    assert!(r.body.contains(">Log out</button>"), "{}", r.body);
    // Someone not logged in still gets the visitor's header.
    let anon = w.srv.anonymous().get(&path);
    assert!(anon.body.contains(r#"href="/login""#), "{}", anon.body);
}
