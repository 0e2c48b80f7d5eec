//! Access control: the permission matrix over every route, isolation between
//! grids, login throttling, CSRF, revocation, masking and purge.

use std::io::Write;

use serde_json::json;

use crate::harness::{enc, open_round, round_body, Server, TestEnv};
use gw_store::registry::{ResidentFilter, ResidentRow};
use gw_web::Need;

const ROLES: [&str; 8] = [
    "admin",
    "street_commander",
    "community_secretary",
    "grid_leader",
    "point_manager",
    "volunteer",
    "lab",
    "cdc_liaison",
];

/// The territory the tests use: grid A and its neighbour grid B in community 1,
/// and community 2 next door, all in one demo street.
struct World {
    env: TestEnv,
    street: String,
    community1: String,
    grid_a: String,
    own: ResidentRow,
    grid_b_resident: ResidentRow,
    neighbour: ResidentRow,
}

async fn world() -> World {
    let env = TestEnv::new().await;
    env.cli_ok(&["demo", "--residents", "6000", "--seed", "21", "--no-serve"]);
    let store = env.store().await;
    let communities = store.communities(None, None).await.unwrap();
    assert!(
        communities.len() >= 2,
        "the demo street needs two communities"
    );
    let c1 = &communities[0];
    let grids = store
        .grids(None, Some((c1.street_id, c1.id)))
        .await
        .unwrap();
    assert!(grids.len() >= 2, "community 1 needs two grids");
    let first = |f: ResidentFilter| {
        let store = store.clone();
        async move {
            store
                .residents(&ResidentFilter { limit: 1, ..f })
                .await
                .unwrap()
                .remove(0)
        }
    };
    let own = first(ResidentFilter {
        street: Some(c1.street_id),
        grid: Some(grids[0].id),
        ..Default::default()
    })
    .await;
    let grid_b_resident = first(ResidentFilter {
        street: Some(c1.street_id),
        grid: Some(grids[1].id),
        ..Default::default()
    })
    .await;
    let neighbour = first(ResidentFilter {
        street: Some(communities[1].street_id),
        community: Some(communities[1].id),
        ..Default::default()
    })
    .await;
    World {
        street: c1.street_name.clone(),
        community1: c1.name.clone(),
        grid_a: grids[0].name.clone(),
        own,
        grid_b_resident,
        neighbour,
        env,
    }
}

impl World {
    /// One account per role, granted on the node a real holder would have.
    fn accounts(&self) -> Vec<(&'static str, String)> {
        ROLES
            .iter()
            .map(|role| {
                let node: Vec<&str> = match *role {
                    "admin" => vec!["--city"],
                    "street_commander" | "lab" => vec!["--street", &self.street],
                    "community_secretary" | "cdc_liaison" => {
                        vec!["--street", &self.street, "--community", &self.community1]
                    }
                    _ => vec![
                        "--street",
                        &self.street,
                        "--community",
                        &self.community1,
                        "--grid",
                        &self.grid_a,
                    ],
                };
                (*role, self.env.account(&format!("u_{role}"), role, &node))
            })
            .collect()
    }
}

fn key(r: &ResidentRow) -> String {
    format!("{}-{}", r.street_id, r.id)
}

/// The expected outcome, written from the role table in the docs, not read
/// from the code under test. `own`: the target is in the caller's territory.
fn expected(role: &str, method: &str, path: &str, own: bool) -> bool {
    let reader = matches!(
        role,
        "admin" | "street_commander" | "community_secretary" | "grid_leader" | "cdc_liaison"
    );
    let writer = matches!(
        role,
        "admin" | "street_commander" | "community_secretary" | "grid_leader"
    );
    // The neighbour community is in the same street: street-wide roles reach it.
    let reaches = own || matches!(role, "admin" | "street_commander");
    match (method, path) {
        (_, "/")
        | (_, "/healthz")
        | (_, "/ping")
        | (_, "/api/v1/openapi.json")
        | (_, "/api/v1/login")
        | (_, "/api/v1/household-link/{token}")
        | (_, "/h/{token}") => true,
        (_, "/api/v1/me") | (_, "/api/v1/password") | (_, "/api/v1/logout") => true,
        // Pages: the login page, the station page (its device token is in the
        // browser) and the assets are public; the rest follows the API's table.
        (_, "/assets/app.css")
        | (_, "/assets/station.js")
        | (_, "/sw.js")
        | (_, "/tls/cert.pem")
        | (_, "/login")
        | (_, "/station") => true,
        (_, "/logout") | (_, "/password") => true,
        ("GET", "/rounds/{id}") | ("GET", "/rounds/{id}/live") | ("GET", "/rounds/{id}/events") => {
            reader
        }
        // A listed resident's full phone on the missed and door-to-door lists:
        // whoever may reveal phones where they read (each read audited).
        ("POST", "/rounds/{id}/missed") | ("POST", "/rounds/{id}/door-to-door") => {
            reader && reaches
        }
        ("GET", "/rounds/{id}/missed")
        | ("GET", "/households/{id}/codes")
        | ("GET", "/buildings/{id}/codes") => reader && reaches,
        // Registry and round pages follow their API routes.
        ("GET", "/registry") | ("GET", "/registry/search") => reader,
        ("GET", "/grids/{id}") | ("GET", "/households/{id}") | ("GET", "/buildings/{id}") => {
            reader && reaches
        }
        // Placing a building in a grid is the community's work (not a grid leader's).
        ("POST", "/buildings/{id}/grid") | ("POST", "/api/v1/buildings/{id}/grid") => {
            matches!(role, "admin" | "street_commander") || (role == "community_secretary" && own)
        }
        // The daily report: numbers narrowed to what the reader reaches, like the round page.
        ("GET", "/rounds/{id}/report") => reader,
        // Labels: whoever packs at the point (point staff only at their own point).
        ("GET", "/points/{id}/labels") => {
            matches!(role, "admin" | "street_commander") || (role == "community_secretary" && own)
        }
        // Importing: the registry writers in their own community or grid.
        ("GET", "/registry/import") | ("GET", "/registry/import/reports/{token}") => writer,
        ("POST", "/registry/import") => {
            matches!(role, "admin" | "street_commander")
                || (matches!(role, "community_secretary" | "grid_leader") && own)
        }
        // Point staff read their point's calls too.
        ("GET", "/rounds/{id}/schedule") => reader || matches!(role, "point_manager" | "volunteer"),
        ("POST", "/rounds/{id}/schedule")
        | ("POST", "/rounds/{id}/schedule/push")
        | ("POST", "/rounds/{id}/schedule/delay") => {
            matches!(role, "admin" | "street_commander")
        }
        ("GET", "/rounds/{id}/door-to-door")
        | ("GET", "/rounds/{id}/compare")
        | ("GET", "/rounds/{id}/coverage") => reader && reaches,
        ("GET", "/rounds/{id}/lab")
        | ("POST", "/rounds/{id}/lab")
        | ("POST", "/rounds/{id}/corrections") => {
            matches!(role, "admin" | "street_commander" | "lab")
        }
        // Whom to swab again, and one listed resident's full phone on it
        // (each read audited): as the API's re-sample list.
        ("GET", "/rounds/{id}/resamples") | ("POST", "/rounds/{id}/resamples") => reader && reaches,
        ("GET", "/rounds/{id}/reconciliation") => {
            matches!(role, "admin" | "street_commander" | "lab")
        }
        ("GET", "/rounds/{id}/disinfection") => true,
        ("POST", "/disinfection/{id}/done") => matches!(
            role,
            "admin" | "street_commander" | "community_secretary" | "grid_leader" | "point_manager"
        ),
        // Setting up rounds from the browser: as their API routes.
        ("GET", "/rounds/new") | ("POST", "/rounds/new") | ("POST", "/rounds/{id}/state") => {
            matches!(role, "admin" | "street_commander")
        }
        // A community's points: its secretary's too (the matrix's add form
        // names no community: refused as a form to fix to whoever may add
        // points somewhere).
        ("POST", "/rounds/{id}/points") => {
            matches!(role, "admin" | "street_commander" | "community_secretary")
        }
        ("POST", "/points/{id}/remove") | ("POST", "/points/{id}/change") => {
            matches!(role, "admin" | "street_commander") || (role == "community_secretary" && own)
        }
        ("POST", "/points/{id}/supplies") => {
            matches!(role, "admin" | "street_commander") || (role == "community_secretary" && own)
        }
        ("POST", "/rounds/{id}/exemptions") => writer && reaches,
        // Packing pages follow the packing API (point staff only at their own point).
        ("GET", "/points/{id}/packing")
        | ("POST", "/points/{id}/bags")
        | ("POST", "/points/{id}/boxes")
        | ("POST", "/points/{id}/recount")
        | ("POST", "/points/{id}/handoffs") => {
            matches!(role, "admin" | "street_commander") || (role == "community_secretary" && own)
        }
        ("POST", "/rounds/{id}/receipts") => matches!(role, "admin" | "lab"),
        // The page's phone reveal: whoever may reveal phones (each read audited).
        ("GET", "/rounds/{id}/alerts") | ("POST", "/rounds/{id}/alerts") => reader,
        ("GET", "/points/{id}")
        | ("POST", "/points/{id}/stations")
        | ("POST", "/stations/{id}/revoke") => {
            matches!(role, "admin" | "street_commander") || (role == "community_secretary" && own)
        }
        ("GET", "/api/v1/territory")
        | ("GET", "/api/v1/residents")
        | ("GET", "/api/v1/residents/search") => reader,
        ("GET", "/api/v1/residents/{id}")
        | ("GET", "/api/v1/households/{id}")
        | ("GET", "/api/v1/control") => reader && reaches,
        ("POST", "/api/v1/residents/{id}/reveal") => reader && reaches,
        ("GET", "/api/v1/residents/{id}/code") => reader && reaches,
        ("POST", "/api/v1/rounds") | ("POST", "/api/v1/rounds/{id}/open") => {
            matches!(role, "admin" | "street_commander")
        }
        ("POST", "/api/v1/rounds/{id}/points")
        | ("POST", "/api/v1/points/{id}")
        | ("POST", "/api/v1/points/{id}/remove") => {
            matches!(role, "admin" | "street_commander") || (role == "community_secretary" && own)
        }
        ("GET", "/api/v1/rounds/{id}/coverage")
        | ("GET", "/api/v1/streets/{id}/coverage-history") => reader,
        // The schedule is read narrowed to the caller's points; planned street-wide.
        // Point staff read their point's calls too.
        ("GET", "/api/v1/rounds/{id}/schedule") => {
            reader || matches!(role, "point_manager" | "volunteer")
        }
        ("POST", "/api/v1/rounds/{id}/schedule") => matches!(role, "admin" | "street_commander"),
        ("POST", "/api/v1/enroll") => true,
        ("POST", "/api/v1/rounds/{id}/results")
        | ("POST", "/api/v1/rounds/{id}/results/file")
        | ("POST", "/api/v1/rounds/{id}/results/corrections") => {
            matches!(role, "admin" | "street_commander" | "lab")
        }
        ("GET", "/api/v1/rounds/{id}/alerts") => reader,
        ("POST", "/api/v1/rounds/{id}/state") => matches!(role, "admin" | "street_commander"),
        ("POST", "/api/v1/rounds/{id}/exemptions") => writer && reaches,
        ("GET", "/api/v1/rounds/{id}/door-to-door") => reader && reaches,
        ("GET", "/api/v1/streets/{id}/pool-advice")
        | ("GET", "/api/v1/streets/{id}/testing-settings")
        | ("POST", "/api/v1/streets/{id}/testing-settings") => {
            matches!(role, "admin" | "street_commander")
        }
        ("POST", "/api/v1/points/{id}/stations")
        | ("GET", "/api/v1/points/{id}/stations")
        | ("POST", "/api/v1/stations/{id}/revoke") => {
            matches!(role, "admin" | "street_commander") || (role == "community_secretary" && own)
        }
        ("GET", "/api/v1/rounds/{id}/missed")
        | ("GET", "/api/v1/rounds/{id}/resamples")
        | ("GET", "/api/v1/rounds/{id}/exemptions")
        | ("GET", "/api/v1/rounds/{id}/compare") => reader && reaches,
        // Lists only the tasks at points the caller manages or reads.
        // Lists only the rows at points the caller scans at or reads.
        ("GET", "/api/v1/rounds/{id}/disinfection")
        | ("GET", "/api/v1/streets/{id}/rounds")
        | ("GET", "/api/v1/rounds/{id}/flagged") => true,
        // An unknown task: whoever may manage stations somewhere learns it is unknown.
        ("POST", "/api/v1/disinfection/{id}/done") => matches!(
            role,
            "admin" | "street_commander" | "community_secretary" | "grid_leader" | "point_manager"
        ),
        ("GET", "/streets/{id}/alert-channels")
        | ("POST", "/streets/{id}/alert-channels")
        | ("POST", "/alert-channels/{id}/remove")
        | ("POST", "/alert-channels/{id}/test")
        | ("GET", "/api/v1/streets/{id}/alert-channels")
        | ("POST", "/api/v1/streets/{id}/alert-channels")
        | ("POST", "/api/v1/alert-channels/{id}/remove")
        | ("POST", "/api/v1/alert-channels/{id}/test")
        | ("GET", "/api/v1/streets/{id}/notifications")
        | ("POST", "/api/v1/rounds/{id}/schedule/push")
        | ("POST", "/api/v1/rounds/{id}/schedule/delay") => {
            matches!(role, "admin" | "street_commander")
        }
        // Points are in communities: street-wide roles everywhere, the secretary in
        // their own community; point staff only at points they are granted (none here).
        ("POST", "/api/v1/points/{id}/tubes")
        | ("POST", "/api/v1/tubes/{id}/scans")
        | ("POST", "/api/v1/tubes/{id}/close")
        | ("POST", "/api/v1/registrations/{id}/void")
        | ("POST", "/api/v1/tubes/{id}/voids") => {
            matches!(role, "admin" | "street_commander") || (role == "community_secretary" && own)
        }
        // The code sheet's reissue form: as the API's reissue.
        ("POST", "/api/v1/residents/{id}/code/reissue")
        | ("POST", "/residents/{id}/code/reissue")
        | ("GET", "/residents/{id}/code/reissued") => writer && reaches,
        ("POST", "/api/v1/residents/pending") => matches!(role, "admin" | "street_commander"),
        ("POST", "/api/v1/residents/{id}/match")
        | ("POST", "/api/v1/control")
        | ("POST", "/buildings/{id}/control")
        | ("POST", "/households/{id}/control")
        | ("POST", "/api/v1/residents/{id}/flags")
        | ("POST", "/api/v1/residents/{id}/move")
        | ("POST", "/api/v1/residents/{id}/leave")
        | ("POST", "/households/{id}/leave")
        | ("POST", "/households/{id}/flags")
        | ("POST", "/households/{id}/move") => writer && reaches,
        ("POST", "/api/v1/households/{id}/link")
        | ("POST", "/households/{id}/link")
        | ("POST", "/api/v1/households/{id}/link/revoke") => writer && reaches,
        ("GET", "/api/v1/audit") => role == "admin",
        // Supplies and packing at points: like tubes (point staff only at their own point).
        ("POST", "/api/v1/points/{id}/supplies")
        | ("GET", "/api/v1/points/{id}/packing")
        | ("POST", "/api/v1/points/{id}/bags")
        | ("POST", "/api/v1/points/{id}/boxes")
        | ("POST", "/api/v1/points/{id}/recounts")
        | ("POST", "/api/v1/points/{id}/handoffs") => {
            matches!(role, "admin" | "street_commander") || (role == "community_secretary" && own)
        }
        // Counts only: the street's lab reads them too.
        ("GET", "/api/v1/points/{id}/supplies") => {
            matches!(role, "admin" | "street_commander" | "lab")
                || (role == "community_secretary" && own)
        }
        ("GET", "/api/v1/rounds/{id}/reconciliation") => {
            matches!(role, "admin" | "street_commander" | "lab")
        }
        // Only the lab receives (its count is the last check of the chain).
        ("POST", "/api/v1/rounds/{id}/receipts") => matches!(role, "admin" | "lab"),
        ("POST", "/api/v1/rounds/{id}/bag-capacity") => {
            matches!(role, "admin" | "street_commander")
        }
        other => panic!("route {other:?} has no expectation: add it to the permission matrix"),
    }
}

static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// What the matrix's requests point at besides a resident.
struct Ctx {
    link: String,
    round: String,
    /// community id → (testing point, open tube, station) there
    points: std::collections::HashMap<i64, (String, String, String)>,
    /// community id → a swab in that tube (taken back by the first role allowed to)
    swabs: std::collections::HashMap<i64, String>,
}

/// Sends one concrete request for a route template against `target`.
fn call(
    srv: &Server,
    token: Option<&str>,
    method: &str,
    path: &str,
    target: &ResidentRow,
    ctx: &Ctx,
) -> crate::harness::Response {
    let link = &ctx.link;
    let id = key(target);
    let (point, tube, station) = ctx
        .points
        .get(&target.community_id.unwrap())
        .cloned()
        .unwrap();
    let round = &ctx.round;
    let grid = format!("{}-{}", target.street_id, target.grid_id.unwrap());
    let community = format!("{}-{}", target.street_id, target.community_id.unwrap());
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let household = format!("{}-{}", target.street_id, target.household_id.unwrap());
    let building = format!("{}-{}", target.street_id, target.building_id.unwrap());
    // Page forms post urlencoded fields; these need them to reach the territory check.
    let form = match (method, path) {
        ("POST", "/points/{id}/supplies") => Some((
            format!("/points/{point}/supplies"),
            "kind=kits&quantity=1".to_string(),
        )),
        ("POST", "/buildings/{id}/grid") => Some((
            format!("/buildings/{building}/grid"),
            format!("grid={grid}"),
        )),
        ("POST", "/buildings/{id}/control") => Some((
            format!("/buildings/{building}/control"),
            "status=precaution&reason=x&until=".to_string(),
        )),
        ("POST", "/households/{id}/control") => Some((
            format!("/households/{household}/control"),
            "status=precaution&reason=x&until=".to_string(),
        )),
        ("POST", "/households/{id}/flags") => Some((
            format!("/households/{household}/flags"),
            format!("resident={id}&flag=elderly_alone&op=set"),
        )),
        // Undoing a leaving nobody recorded: a 409 page when allowed, nothing changes.
        ("POST", "/households/{id}/leave") => Some((
            format!("/households/{household}/leave"),
            format!("resident={id}&reason=none&on="),
        )),
        ("POST", "/households/{id}/move") => Some((
            format!("/households/{household}/move"),
            format!("resident={id}&household={household}&other="),
        )),
        ("POST", "/rounds/{id}/schedule/push") => Some((
            format!("/rounds/{round}/schedule/push"),
            "starts_ms=0".to_string(),
        )),
        ("POST", "/rounds/{id}/schedule/delay") => Some((
            format!("/rounds/{round}/schedule/delay"),
            "slot_ms=0&minutes=15".to_string(),
        )),
        ("POST", "/rounds/{id}/exemptions") => Some((
            format!("/rounds/{round}/exemptions"),
            format!("resident={id}&reason=away&grid={grid}"),
        )),
        ("POST", "/rounds/{id}/missed") => Some((
            format!("/rounds/{round}/missed?grid={grid}"),
            format!("resident={id}"),
        )),
        ("POST", "/rounds/{id}/door-to-door") => Some((
            format!("/rounds/{round}/door-to-door?grid={grid}"),
            format!("resident={id}"),
        )),
        ("POST", "/rounds/{id}/resamples") => Some((
            format!("/rounds/{round}/resamples?grid={grid}"),
            format!("resident={id}"),
        )),
        // Not ticked: refused as a form to fix when allowed, nothing reissued.
        ("POST", "/residents/{id}/code/reissue") => Some((
            format!("/residents/{id}/code/reissue"),
            "confirm=".to_string(),
        )),
        // No such tube: refused as a form to fix when allowed, nothing changed.
        ("POST", "/rounds/{id}/corrections") => Some((
            format!("/rounds/{round}/corrections"),
            format!("barcode=NO{n:08}&result=negative&reason=matrix"),
        )),
        _ => None,
    };
    if let Some((url, fields)) = form {
        let auth = token
            .map(|t| format!("Authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        return srv.raw(&format!(
            "POST {url} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{auth}Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{fields}",
            fields.len()
        ));
    }
    let (url, body) = match path {
        "/api/v1/residents/{id}" => (format!("/api/v1/residents/{id}"), None),
        "/api/v1/rounds" => (
            "/api/v1/rounds".into(),
            Some(
                json!({ "street": target.street_id, "name": format!("matrix {n}"), "starts_ms": 0, "ends_ms": 1, "pool_size": 10 }),
            ),
        ),
        "/api/v1/rounds/{id}/open" => (format!("/api/v1/rounds/{round}/open"), Some(json!({}))),
        "/api/v1/points/{id}" => (format!("/api/v1/points/{point}"), Some(json!({}))),
        // The matrix's points have a tube and a station: an allowed caller
        // is refused with 409 (and the point stays for the other routes).
        "/api/v1/points/{id}/remove" => (format!("/api/v1/points/{point}/remove"), Some(json!({}))),
        "/api/v1/rounds/{id}/points" => (
            format!("/api/v1/rounds/{round}/points"),
            Some(json!({ "name": format!("点{n}"), "community": community })),
        ),
        "/api/v1/rounds/{id}/coverage" => (format!("/api/v1/rounds/{round}/coverage"), None),
        "/api/v1/rounds/{id}/schedule" => (
            format!("/api/v1/rounds/{round}/schedule"),
            (method == "POST").then(|| json!({ "slot_minutes": 30 })),
        ),
        "/rounds/{id}" => (format!("/rounds/{round}"), None),
        "/households/{id}/codes" => (format!("/households/{household}/codes"), None),
        "/residents/{id}/code/reissued" => (format!("/residents/{id}/code/reissued"), None),
        "/buildings/{id}/codes" => (format!("/buildings/{building}/codes"), None),
        "/rounds/{id}/live" => (format!("/rounds/{round}/live"), None),
        "/rounds/{id}/events" => (format!("/rounds/{round}/events?once=1"), None),
        "/points/{id}" => (format!("/points/{point}"), None),
        "/points/{id}/stations" => (format!("/points/{point}/stations"), Some(json!({}))),
        "/stations/{id}/revoke" => (format!("/stations/{station}/revoke"), Some(json!({}))),
        // The point has a tube and a station: refused (409 page) when allowed.
        "/points/{id}/remove" => (format!("/points/{point}/remove"), Some(json!({}))),
        // A stations count out of range: refused as a form to fix when allowed.
        "/points/{id}/change" => (
            format!("/points/{point}/change"),
            Some(json!({ "stations": "0" })),
        ),
        // No fields: refused as a form to fix when allowed, nothing created or moved.
        "/rounds/new" => ("/rounds/new".into(), (method == "POST").then(|| json!({}))),
        "/rounds/{id}/state" => (format!("/rounds/{round}/state"), Some(json!({}))),
        "/rounds/{id}/points" => (format!("/rounds/{round}/points"), Some(json!({}))),
        // Packing forms sent as JSON: no fields, so a form error page when allowed.
        "/points/{id}/packing" => (format!("/points/{point}/packing"), None),
        "/points/{id}/bags"
        | "/points/{id}/boxes"
        | "/points/{id}/recount"
        | "/points/{id}/handoffs" => (path.replace("{id}", &point), Some(json!({}))),
        "/rounds/{id}/receipts" => (format!("/rounds/{round}/receipts"), Some(json!({}))),
        "/rounds/{id}/alerts" => (format!("/rounds/{round}/alerts"), None),
        "/rounds/{id}/missed" => (format!("/rounds/{round}/missed?grid={grid}"), None),
        "/registry/search" => (
            format!("/registry/search?q={}", enc(&target.resident.name)),
            None,
        ),
        "/grids/{id}" => (format!("/grids/{grid}"), None),
        "/households/{id}" => (format!("/households/{household}"), None),
        "/buildings/{id}" => (format!("/buildings/{building}"), None),
        // Into the grid it is in: allowed, nothing moves.
        "/api/v1/buildings/{id}/grid" => (
            format!("/api/v1/buildings/{building}/grid"),
            Some(json!({ "grid": grid })),
        ),
        "/rounds/{id}/report" => (format!("/rounds/{round}/report"), None),
        "/points/{id}/labels" => (format!("/points/{point}/labels"), None),
        // The body (JSON text) is no roster: a 422 page when allowed.
        "/registry/import" if method == "POST" => (
            format!(
                "/registry/import?filename=matrix{n}.csv&target={}",
                if target.grid_id.is_some() {
                    format!("{community}/{grid}")
                } else {
                    community.clone()
                }
            ),
            Some(json!({ "not": "a roster" })),
        ),
        "/registry/import/reports/{token}" => ("/registry/import/reports/none".into(), None),
        "/rounds/{id}/schedule" => (
            format!("/rounds/{round}/schedule"),
            (method == "POST").then(|| json!({})),
        ),
        "/rounds/{id}/door-to-door" => (format!("/rounds/{round}/door-to-door?grid={grid}"), None),
        "/rounds/{id}/resamples" => (format!("/rounds/{round}/resamples?grid={grid}"), None),
        "/rounds/{id}/compare" => (format!("/rounds/{round}/compare?grid={grid}"), None),
        "/rounds/{id}/coverage" => (format!("/rounds/{round}/coverage?grid={grid}"), None),
        "/rounds/{id}/lab" if method == "POST" => (
            format!("/rounds/{round}/lab?filename=matrix{n}.csv"),
            Some(json!({ "results": [] })),
        ),
        "/rounds/{id}/lab" => (format!("/rounds/{round}/lab"), None),
        "/rounds/{id}/reconciliation" => (format!("/rounds/{round}/reconciliation"), None),
        "/rounds/{id}/disinfection" => (format!("/rounds/{round}/disinfection"), None),
        "/disinfection/{id}/done" => (
            format!("/disinfection/{}-999999/done", target.street_id),
            Some(json!({})),
        ),
        "/api/v1/rounds/{id}/missed" => {
            (format!("/api/v1/rounds/{round}/missed?grid={grid}"), None)
        }
        "/api/v1/rounds/{id}/resamples" => (
            format!("/api/v1/rounds/{round}/resamples?grid={grid}"),
            None,
        ),
        "/api/v1/points/{id}/tubes" => (
            format!("/api/v1/points/{point}/tubes"),
            Some(json!({ "barcode": format!("TB{n:08}") })),
        ),
        "/api/v1/tubes/{id}/scans" => (
            format!("/api/v1/tubes/{tube}/scans"),
            Some(json!({ "client_id": format!("m-{n}"), "code": "GW1-x" })),
        ),
        "/api/v1/points/{id}/stations" if method == "GET" => {
            (format!("/api/v1/points/{point}/stations"), None)
        }
        "/api/v1/points/{id}/stations" => (
            format!("/api/v1/points/{point}/stations"),
            Some(json!({ "label": format!("s{n}") })),
        ),
        "/api/v1/stations/{id}/revoke" => (
            format!("/api/v1/stations/{station}/revoke"),
            Some(json!({})),
        ),
        "/api/v1/rounds/{id}/results" => (
            format!("/api/v1/rounds/{round}/results"),
            Some(
                json!({ "results": [{ "barcode": format!("NOPE{n:06}"), "result": "negative" }] }),
            ),
        ),
        "/api/v1/rounds/{id}/results/corrections" => (
            format!("/api/v1/rounds/{round}/results/corrections"),
            Some(
                json!({ "barcode": format!("NOPE{n:06}"), "result": "negative", "reason": "matrix" }),
            ),
        ),
        "/api/v1/rounds/{id}/compare" => {
            (format!("/api/v1/rounds/{round}/compare?grid={grid}"), None)
        }
        "/api/v1/rounds/{id}/disinfection" => {
            (format!("/api/v1/rounds/{round}/disinfection"), None)
        }
        "/api/v1/rounds/{id}/flagged" => (format!("/api/v1/rounds/{round}/flagged"), None),
        "/api/v1/streets/{id}/coverage-history" => (
            format!("/api/v1/streets/{}/coverage-history", target.street_id),
            None,
        ),
        "/api/v1/disinfection/{id}/done" => (
            format!("/api/v1/disinfection/{}-999999/done", target.street_id),
            Some(json!({})),
        ),
        // The pages: a JSON body is no form (no fields), so a form error when allowed.
        "/streets/{id}/alert-channels" => (
            format!("/streets/{}/alert-channels", target.street_id),
            (method == "POST").then(|| json!({})),
        ),
        "/alert-channels/{id}/remove" | "/alert-channels/{id}/test" => (
            path.replace("{id}", &format!("{}-999999", target.street_id)),
            Some(json!({})),
        ),
        "/api/v1/streets/{id}/alert-channels" if method == "POST" => (
            format!("/api/v1/streets/{}/alert-channels", target.street_id),
            Some(json!({ "kind": "json", "url": "http://127.0.0.1:9/matrix" })),
        ),
        "/api/v1/streets/{id}/alert-channels" => (
            format!("/api/v1/streets/{}/alert-channels", target.street_id),
            None,
        ),
        "/api/v1/alert-channels/{id}/remove" | "/api/v1/alert-channels/{id}/test" => (
            path.replace("{id}", &format!("{}-999999", target.street_id)),
            Some(json!({})),
        ),
        "/api/v1/rounds/{id}/schedule/push" => (
            format!("/api/v1/rounds/{round}/schedule/push"),
            Some(json!({})),
        ),
        "/api/v1/rounds/{id}/schedule/delay" => (
            format!("/api/v1/rounds/{round}/schedule/delay"),
            Some(json!({ "slot_ms": 0, "minutes": 15 })),
        ),
        "/api/v1/streets/{id}/rounds" => {
            (format!("/api/v1/streets/{}/rounds", target.street_id), None)
        }
        "/api/v1/streets/{id}/notifications" => (
            format!("/api/v1/streets/{}/notifications", target.street_id),
            None,
        ),
        // The body is sent as JSON text, which as a CSV has no header: a 422 when allowed.
        "/api/v1/rounds/{id}/results/file" => (
            format!("/api/v1/rounds/{round}/results/file?filename=matrix{n}.csv"),
            Some(json!({ "results": [] })),
        ),
        "/api/v1/rounds/{id}/door-to-door" => (
            format!("/api/v1/rounds/{round}/door-to-door?grid={grid}"),
            None,
        ),
        "/api/v1/streets/{id}/pool-advice" => (
            format!(
                "/api/v1/streets/{}/pool-advice?lab_max=20",
                target.street_id
            ),
            None,
        ),
        "/api/v1/streets/{id}/testing-settings" => (
            format!("/api/v1/streets/{}/testing-settings", target.street_id),
            (method == "POST").then(|| json!({ "lab_max_pool": 20 })),
        ),
        "/api/v1/rounds/{id}/state" => (
            format!("/api/v1/rounds/{round}/state"),
            Some(json!({ "to": "planned" })),
        ),
        "/api/v1/rounds/{id}/exemptions" if method == "GET" => (
            format!("/api/v1/rounds/{round}/exemptions?grid={grid}"),
            None,
        ),
        "/api/v1/rounds/{id}/exemptions" => (
            format!("/api/v1/rounds/{round}/exemptions"),
            Some(json!({ "resident": id, "reason": "away" })),
        ),
        "/api/v1/rounds/{id}/alerts" => (format!("/api/v1/rounds/{round}/alerts"), None),
        "/api/v1/enroll" => (
            "/api/v1/enroll".into(),
            Some(json!({ "code": "en.1.not-a-real-code" })),
        ),
        "/api/v1/tubes/{id}/close" => (format!("/api/v1/tubes/{tube}/close"), Some(json!({}))),
        "/api/v1/registrations/{id}/void" => (
            format!(
                "/api/v1/registrations/{}/void",
                ctx.swabs[&target.community_id.unwrap()]
            ),
            Some(json!({ "reason": "matrix" })),
        ),
        "/api/v1/tubes/{id}/voids" => (
            format!("/api/v1/tubes/{tube}/voids"),
            Some(json!({ "client_id": format!("never-{n}"), "reason": "matrix" })),
        ),
        "/api/v1/residents/{id}/code" => (format!("/api/v1/residents/{id}/code"), None),
        "/api/v1/points/{id}/supplies" if method == "GET" => {
            (format!("/api/v1/points/{point}/supplies"), None)
        }
        "/api/v1/points/{id}/packing" => (format!("/api/v1/points/{point}/packing"), None),
        "/api/v1/points/{id}/supplies" => (
            format!("/api/v1/points/{point}/supplies"),
            Some(json!({ "kind": "kits", "quantity": 1 })),
        ),
        "/api/v1/points/{id}/bags" => (
            format!("/api/v1/points/{point}/bags"),
            Some(
                json!({ "barcode": format!("BG{n:08}"), "tubes": [format!("NO{n:08}")], "counted_tubes": 1 }),
            ),
        ),
        "/api/v1/points/{id}/boxes" => (
            format!("/api/v1/points/{point}/boxes"),
            Some(
                json!({ "barcode": format!("BX{n:08}"), "bags": [format!("NO{n:08}")], "counted_bags": 1, "counted_tubes": 1 }),
            ),
        ),
        "/api/v1/points/{id}/recounts" => (
            format!("/api/v1/points/{point}/recounts"),
            Some(json!({ "barcode": format!("BG{n:08}"), "counted_tubes": 1, "reason": "数错了" })),
        ),
        "/api/v1/points/{id}/handoffs" => (
            format!("/api/v1/points/{point}/handoffs"),
            Some(
                json!({ "boxes": [format!("NO{n:08}")], "transporter": { "name": "李师傅", "phone": "13812345678" }, "counted_tubes": 0 }),
            ),
        ),
        "/api/v1/rounds/{id}/receipts" => (
            format!("/api/v1/rounds/{round}/receipts"),
            Some(json!({ "boxes": [format!("NO{n:08}")], "counted_tubes": 0 })),
        ),
        "/api/v1/rounds/{id}/bag-capacity" => (
            format!("/api/v1/rounds/{round}/bag-capacity"),
            Some(json!({ "bag_capacity": 20 })),
        ),
        "/api/v1/rounds/{id}/reconciliation" => {
            (format!("/api/v1/rounds/{round}/reconciliation"), None)
        }
        "/api/v1/residents/{id}/code/reissue" => (
            format!("/api/v1/residents/{id}/code/reissue"),
            Some(json!({})),
        ),
        "/api/v1/residents/{id}/reveal" => (
            format!("/api/v1/residents/{id}/reveal"),
            Some(json!({ "field": "phone" })),
        ),
        // Into the household they are in: allowed, nothing moves.
        "/api/v1/residents/{id}/move" => (
            format!("/api/v1/residents/{id}/move"),
            Some(json!({ "household": household })),
        ),
        // Undoing a leaving nobody recorded: a 409 when allowed, nothing changes.
        "/api/v1/residents/{id}/leave" => (
            format!("/api/v1/residents/{id}/leave"),
            Some(json!({ "reason": "none" })),
        ),
        "/api/v1/residents/{id}/flags" => (
            format!("/api/v1/residents/{id}/flags"),
            Some(json!({ "set": ["elderly_alone"] })),
        ),
        "/api/v1/residents/{id}/match" => (
            format!("/api/v1/residents/{id}/match"),
            Some(json!({ "target": id })),
        ),
        "/api/v1/households/{id}" => (format!("/api/v1/households/{household}"), None),
        "/api/v1/households/{id}/link" => (
            format!("/api/v1/households/{household}/link"),
            Some(json!({})),
        ),
        "/api/v1/households/{id}/link/revoke" => (
            format!("/api/v1/households/{household}/link/revoke"),
            Some(json!({})),
        ),
        "/api/v1/household-link/{token}" => (format!("/api/v1/household-link/{link}"), None),
        "/h/{token}" => (format!("/h/{link}"), None),
        "/households/{id}/link" => (format!("/households/{household}/link"), Some(json!({}))),
        "/api/v1/control" if method == "GET" => (
            format!("/api/v1/control?target_kind=building&target_id={building}"),
            None,
        ),
        "/api/v1/control" => (
            "/api/v1/control".into(),
            Some(
                json!({ "target_kind": "building", "target_id": building, "status": "precaution", "reason": "matrix" }),
            ),
        ),
        "/api/v1/residents/search" => (
            format!("/api/v1/residents/search?q={}", enc(&target.resident.name)),
            None,
        ),
        "/api/v1/residents/pending" => (
            "/api/v1/residents/pending".into(),
            Some(json!({ "street": target.street_id, "name": "过路人" })),
        ),
        "/api/v1/login" => (
            "/api/v1/login".into(),
            Some(json!({ "username": "nobody", "password": "wrong-password" })),
        ),
        "/api/v1/password" => (
            "/api/v1/password".into(),
            Some(json!({ "old": "not-my-password", "new": "whatever-long-enough" })),
        ),
        p => (
            p.to_string(),
            if method == "POST" {
                Some(json!({}))
            } else {
                None
            },
        ),
    };
    let client = match token {
        Some(t) => srv.with_token(t),
        None => srv.anonymous(),
    };
    client.request(method, &url, body.as_ref())
}

/// Denied means the auth layer or a territory check said no: a JSON error for
/// the API, a page carrying `<meta name="gw-error" content="…">` for pages.
fn denied(r: &crate::harness::Response) -> bool {
    if !matches!(r.status, 401 | 403) {
        return false;
    }
    let page_code = r
        .body
        .split(r#"<meta name="gw-error" content=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .map(String::from);
    let code = page_code.unwrap_or_else(|| {
        serde_json::from_str::<serde_json::Value>(&r.body)
            .ok()
            .and_then(|v| v["code"].as_str().map(String::from))
            .unwrap_or_default()
    });
    matches!(
        code.as_str(),
        "unauthenticated" | "forbidden" | "csrf" | "password_change_required"
    )
}

#[tokio::test]
async fn permission_matrix_every_route_every_role() {
    let w = world().await;
    let accounts = w.accounts();
    let admin_pw = accounts
        .iter()
        .find(|(r, _)| *r == "admin")
        .unwrap()
        .1
        .clone();
    let srv = w.env.serve();
    let admin = srv.login("u_admin", &admin_pw);
    let household = format!("{}-{}", w.own.street_id, w.own.household_id.unwrap());
    let link = srv
        .with_token(&admin)
        .post(&format!("/api/v1/households/{household}/link"), &json!({}))
        .json()["token"]
        .as_str()
        .unwrap()
        .to_string();

    // A round with a point and an open tube in the own and the neighbouring community.
    let a = srv.with_token(&admin);
    let (round, _) = open_round(|p, b| a.post(p, b), &round_body(w.own.street_id, "第1轮"));
    let mut points = std::collections::HashMap::new();
    let mut swabs = std::collections::HashMap::new();
    for (i, t) in [&w.own, &w.neighbour].into_iter().enumerate() {
        let c = t.community_id.unwrap();
        let point = a.post(&format!("/api/v1/rounds/{round}/points"), &json!({ "name": format!("采样点{i}"), "community": format!("{}-{c}", t.street_id) })).json()["id"].as_str().unwrap().to_string();
        let tube = a
            .post(
                &format!("/api/v1/points/{point}/tubes"),
                &json!({ "barcode": format!("SETUP{i:05}") }),
            )
            .json()["id"]
            .as_str()
            .unwrap()
            .to_string();
        let station = a
            .post(&format!("/api/v1/points/{point}/stations"), &json!({}))
            .json()["station"]
            .as_str()
            .unwrap()
            .to_string();
        let swab = a
            .post(
                &format!("/api/v1/tubes/{tube}/scans"),
                &json!({ "client_id": format!("setup-{i}"), "code": "GW1-x" }),
            )
            .json()["registration"]
            .as_str()
            .unwrap()
            .to_string();
        swabs.insert(c, swab);
        points.insert(c, (point, tube, station));
    }
    let ctx = Ctx {
        link,
        round,
        points,
        swabs,
    };

    let routes = gw_web::routes();
    let mut checked = 0;
    // No login: 401 everywhere except the public routes.
    for (method, path, need, _) in &routes {
        let r = call(&srv, None, method, path, &w.own, &ctx);
        if *need == Need::Public {
            assert!(!denied(&r), "{method} {path} is public: {}", r.body);
        } else {
            assert_eq!(
                r.status, 401,
                "{method} {path} without login must be 401: {}",
                r.body
            );
        }
        checked += 1;
    }
    for (role, password) in &accounts {
        // The admin's one-time password was changed by the login above.
        let password = if *role == "admin" {
            format!("{password}-changed")
        } else {
            password.clone()
        };
        let token = srv.login(&format!("u_{role}"), &password);
        for (target, own) in [(&w.own, true), (&w.neighbour, false)] {
            for (method, path, _, _) in &routes {
                if *path == "/api/v1/logout"
                    || *path == "/logout"
                    || matches!(*path, "/api/v1/household-link/{token}" | "/h/{token}")
                        && *method == "GET"
                        && !own
                {
                    continue; // logout last; the link is the same either way
                }
                if path.contains("/link/revoke") {
                    continue; // would revoke the link the public route uses; checked below
                }
                let r = call(&srv, Some(&token), method, path, target, &ctx);
                let want = expected(role, method, path, own);
                assert_eq!(
                    !denied(&r),
                    want,
                    "{role} {method} {path} ({}): got {} {}",
                    if own { "own territory" } else { "neighbour" },
                    r.status,
                    r.body
                );
                assert!(
                    r.status < 500,
                    "{role} {method} {path}: server error {}",
                    r.body
                );
                checked += 1;
            }
        }
        for (target, own) in [(&w.neighbour, false), (&w.own, true)] {
            let r = call(
                &srv,
                Some(&token),
                "POST",
                "/api/v1/households/{id}/link/revoke",
                target,
                &ctx,
            );
            assert_eq!(
                !denied(&r),
                expected(role, "POST", "/api/v1/households/{id}/link/revoke", own),
                "{role} revoke ({own}): {} {}",
                r.status,
                r.body
            );
            if !denied(&r) && own {
                // Revoked: the public link stops working; make a new one for the next role.
                assert_eq!(
                    srv.anonymous()
                        .get(&format!("/api/v1/household-link/{}", ctx.link))
                        .status,
                    404
                );
            }
        }
        let r = call(&srv, Some(&token), "POST", "/api/v1/logout", &w.own, &ctx);
        assert_eq!(r.status, 200, "{role} logout");
        assert_eq!(
            srv.with_token(&token).get("/api/v1/me").status,
            401,
            "{role}: a logged-out token is dead"
        );
    }
    assert!(checked > routes.len() * 10, "matrix too small: {checked}");
}

#[tokio::test]
async fn grid_leader_of_a_cannot_reach_grid_b_through_any_route() {
    let w = world().await;
    let pw = w.env.account(
        "leader_a",
        "grid_leader",
        &[
            "--street",
            &w.street,
            "--community",
            &w.community1,
            "--grid",
            &w.grid_a,
        ],
    );
    let srv = w.env.serve();
    let t = srv.login("leader_a", &pw);
    let c = srv.with_token(&t);
    let b = &w.grid_b_resident;
    let bkey = key(b);
    let bhh = format!("{}-{}", b.street_id, b.household_id.unwrap());
    let bbuilding = format!("{}-{}", b.street_id, b.building_id.unwrap());
    let bgrid = format!("{}-{}", b.street_id, b.grid_id.unwrap());

    // Lists: filtering on B returns nothing; no list or search result is in B.
    assert_eq!(
        c.get(&format!("/api/v1/residents?grid={bgrid}")).json()["items"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    let all = c.get("/api/v1/residents?limit=1000").json();
    assert!(!all["items"].as_array().unwrap().is_empty());
    assert!(all["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["grid"] == w.grid_a.as_str()));
    let found = c
        .get(&format!(
            "/api/v1/residents/search?q={}",
            enc(&b.resident.name)
        ))
        .json();
    assert!(found["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["id"] != bkey.as_str()));
    if let Some(p) = b.resident.phones.first() {
        let tail = &p.phone.as_str()[7..];
        let found = c.get(&format!("/api/v1/residents/search?q={tail}")).json();
        assert!(found["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["id"] != bkey.as_str()));
    }
    // The tree shows grid A only.
    let tree = c.get("/api/v1/territory").json();
    let grids: Vec<String> = tree["streets"][0]["children"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| {
            c["children"]
                .as_array()
                .unwrap()
                .iter()
                .map(|g| g["name"].as_str().unwrap().to_string())
        })
        .collect();
    assert_eq!(grids, vec![w.grid_a.clone()]);
    // Direct reads, reveals and changes are refused.
    for r in [
        c.get(&format!("/api/v1/residents/{bkey}")),
        c.get(&format!("/api/v1/households/{bhh}")),
        c.post(&format!("/api/v1/residents/{bkey}/reveal"), &json!({ "field": "phone" })),
        c.post(&format!("/api/v1/residents/{bkey}/match"), &json!({ "target": bkey })),
        c.post(&format!("/api/v1/households/{bhh}/link"), &json!({})),
        c.get(&format!("/api/v1/control?target_kind=building&target_id={bbuilding}")),
        c.post("/api/v1/control", &json!({ "target_kind": "building", "target_id": bbuilding, "status": "sealed", "reason": "x" })),
        c.post("/api/v1/control", &json!({ "target_kind": "household", "target_id": bhh, "status": "sealed", "reason": "x" })),
    ] {
        assert_eq!(r.status, 403, "{}", r.body);
    }
    // A grid leader never sees a document number in full, even in their own grid.
    let own = key(&w.own);
    assert_eq!(
        c.post(
            &format!("/api/v1/residents/{own}/reveal"),
            &json!({ "field": "document" })
        )
        .status,
        403
    );
    // But reveals the phone of their own resident, and that read is audited.
    let r = c.post(
        &format!("/api/v1/residents/{own}/reveal"),
        &json!({ "field": "phone" }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    if let Some(p) = w.own.resident.phones.first() {
        assert_eq!(r.json()["value"][0]["number"], p.phone.as_str());
    }
    let store = w.env.store().await;
    let ev = store
        .audit_events(Some("user:leader_a"), Some(&own), None, 10)
        .await
        .unwrap();
    assert!(ev.iter().any(|e| e.action == "reveal_phone"), "{ev:?}");
    assert!(ev.iter().all(|e| !e.detail.contains(
        w.own
            .resident
            .phones
            .first()
            .map(|p| p.phone.as_str())
            .unwrap_or("#")
    )));
}

#[tokio::test]
async fn login_back_off_csrf_revocation_and_first_admin() {
    let w = world().await;
    let pw = w.env.account(
        "sec",
        "community_secretary",
        &["--street", &w.street, "--community", &w.community1],
    );
    let srv = w.env.serve();
    let token = srv.login("sec", &pw);
    let real = format!("{pw}-changed");

    // Five wrong passwords, then even the right one is refused for a while.
    for _ in 0..5 {
        let r = srv.anonymous().post(
            "/api/v1/login",
            &json!({ "username": "sec", "password": "nope-nope-nope" }),
        );
        assert_eq!(r.status, 401);
    }
    let locked = srv.anonymous().post(
        "/api/v1/login",
        &json!({ "username": "sec", "password": real }),
    );
    // Locked: refused, and with the same answer an unknown name gets (no enumeration).
    assert_eq!(locked.status, 401, "{}", locked.body);
    assert_eq!(locked.json()["code"], "bad_credentials");
    let unknown = srv.anonymous().post(
        "/api/v1/login",
        &json!({ "username": "nobody-here", "password": "x" }),
    );
    assert_eq!(
        (unknown.status, unknown.json()["message"].clone()),
        (locked.status, locked.json()["message"].clone())
    );

    // Cookie sessions need the CSRF token on every change; bearer calls do not.
    let cookie = format!("gw_session={token}");
    let body = json!({ "target_kind": "building", "target_id": format!("{}-{}", w.own.street_id, w.own.building_id.unwrap()), "status": "precaution", "reason": "csrf test" }).to_string();
    let post = |extra: &str| {
        srv.raw(&format!(
            "POST /api/v1/control HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: {cookie}\r\n{extra}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ))
    };
    let r = post("");
    assert_eq!(
        (r.status, r.json()["code"].as_str().unwrap().to_string()),
        (403, "csrf".to_string()),
        "{}",
        r.body
    );
    assert_eq!(post("X-CSRF-Token: forged\r\n").status, 403);
    // Read the session's CSRF token by logging in again later; a GET by cookie works without it.
    let g = srv.raw(&format!(
        "GET /api/v1/me HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: {cookie}\r\n\r\n"
    ));
    assert_eq!(g.status, 200, "{}", g.body);

    // The session cookie is HttpOnly and SameSite.
    let mut admin_srv = w.env.serve();
    let admin_pw = w.env.account("boss", "admin", &["--city"]);
    let login = admin_srv.anonymous().post(
        "/api/v1/login",
        &json!({ "username": "boss", "password": admin_pw }),
    );
    assert!(
        login.head.contains("HttpOnly") && login.head.contains("SameSite=Lax"),
        "{}",
        login.head
    );
    let csrf = login.json()["csrf"].as_str().unwrap().to_string();
    let tok = login.json()["token"].as_str().unwrap().to_string();
    // Must change the one-time password first, even with a valid CSRF token.
    let r = admin_srv.raw(&format!("GET /api/v1/territory HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: gw_session={tok}\r\n\r\n"));
    assert_eq!(r.json()["code"], "password_change_required");
    let pbody = json!({ "old": admin_pw, "new": "a-much-better-password" }).to_string();
    let r = admin_srv.raw(&format!(
        "POST /api/v1/password HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: gw_session={tok}\r\nX-CSRF-Token: {csrf}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{pbody}",
        pbody.len()
    ));
    assert_eq!(r.status, 200, "{}", r.body);

    // Revoking a grant takes effect on the next request.
    admin_srv.token = Some(admin_srv.login("boss", "a-much-better-password"));
    assert_eq!(
        srv.with_token(&token)
            .get("/api/v1/residents?limit=1")
            .status,
        200
    );
    let list = w.env.cli_ok(&["user", "list"]);
    let grant_id = list
        .lines()
        .skip_while(|l| !l.starts_with("sec "))
        .nth(1)
        .and_then(|l| l.split('#').nth(1))
        .and_then(|s| s.split_whitespace().next())
        .unwrap()
        .to_string();
    w.env.cli_ok(&["user", "revoke", &grant_id]);
    assert_eq!(
        srv.with_token(&token)
            .get("/api/v1/residents?limit=1")
            .status,
        403
    );

    // The audit endpoint shows grants and logins, for admins only.
    let audit = admin_srv.get("/api/v1/audit?limit=500").json();
    let actions: Vec<&str> = audit["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for a in [
        "grant",
        "revoke",
        "login",
        "login_failed",
        "change_password",
    ] {
        assert!(actions.contains(&a), "{a} missing from {actions:?}");
    }
}

#[tokio::test]
async fn first_start_creates_one_admin_once() {
    let env = TestEnv::new().await;
    env.cli_ok(&["migrate"]);
    let first = env.serve_first_line(2);
    assert!(first.contains("one-time password"), "{first}");
    let password = first
        .split("one-time password ")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    let again = env.serve_first_line(1);
    assert!(!again.contains("password"));
    let srv = env.serve();
    let t = srv.login("admin", &password);
    assert_eq!(srv.with_token(&t).get("/api/v1/audit").status, 200);
}

#[tokio::test]
async fn purge_anonymises_people_and_keeps_the_counts() {
    let w = world().await;
    let store = w.env.store().await;
    let before = gw_app::registry::territory_tree(&store).await.unwrap();
    let pw = w.env.account("boss", "admin", &["--city"]);
    let mut srv = w.env.serve();
    srv.token = Some(srv.login("boss", &pw));
    let hh = format!("{}-{}", w.own.street_id, w.own.household_id.unwrap());
    let link = srv
        .post(&format!("/api/v1/households/{hh}/link"), &json!({}))
        .json()["token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        srv.anonymous()
            .get(&format!("/api/v1/household-link/{link}"))
            .status,
        200
    );
    let out = w.env.cli_ok(&["purge", "--before", "2200-01-01", "--yes"]);
    assert!(out.contains("6000 residents"), "{out}");
    // Household links of purged households stop working.
    assert_eq!(
        srv.anonymous()
            .get(&format!("/api/v1/household-link/{link}"))
            .status,
        404
    );
    // Nor can a new one be made: nobody is left whose code it could show.
    let again = srv.post(&format!("/api/v1/households/{hh}/link"), &json!({}));
    assert_eq!(again.status, 400, "{}", again.body);
    assert!(again.body.contains("purged"), "{}", again.body);
    let after = gw_app::registry::territory_tree(&store).await.unwrap();
    assert_eq!(before[0].residents, after[0].residents);
    assert_eq!(before[0].households, after[0].households);
    let r = store.resident(w.own.street_id, w.own.id).await.unwrap();
    assert_eq!(r.resident.name, "已清除");
    assert!(
        r.resident.document.is_none()
            && r.resident.phones.is_empty()
            && r.resident.flags.is_empty()
    );
    assert_eq!(
        store
            .table_counts()
            .await
            .unwrap()
            .iter()
            .find(|(t, _)| *t == "document_registry")
            .unwrap()
            .1,
        0
    );
    let ev = store.audit_events(None, None, None, 50).await.unwrap();
    assert!(ev
        .iter()
        .any(|e| e.action == "purge" && e.detail.contains("residents=6000")));
    // Without --yes nothing happens.
    assert!(!w
        .env
        .cli(&["purge", "--before", "2200-01-01"])
        .status
        .success());
}

/// Where each of `needles` still occurs in the database: on SQLite, in the
/// bytes of the database file and its -wal file (free space of live pages,
/// free pages, old frames); on PostgreSQL, in the rows of every table and,
/// when this role may read the server's files (a superuser), in the bytes
/// of every relation's file after a checkpoint (dead tuples, old index
/// entries, planner statistics).
async fn where_left(env: &TestEnv, store: &gw_store::Store, needles: &[String]) -> Vec<String> {
    fn holds(hay: &[u8], needle: &[u8]) -> bool {
        hay.windows(needle.len()).any(|w| w == needle)
    }
    let mut found = Vec::new();
    match &store.pool {
        gw_store::Pool::Sqlite(_) => {
            for path in [env.url.clone(), format!("{}-wal", env.url)] {
                let Ok(bytes) = std::fs::read(&path) else {
                    continue;
                };
                for n in needles {
                    if holds(&bytes, n.as_bytes()) {
                        found.push(format!("{n} in {path}"));
                    }
                }
            }
        }
        gw_store::Pool::Postgres(p) => {
            let tables: Vec<String> = sqlx::query_scalar(
                "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema()",
            )
            .fetch_all(p)
            .await
            .unwrap();
            for t in &tables {
                for n in needles {
                    let c: i64 = sqlx::query_scalar(&format!(
                        "SELECT count(*) FROM {t} x WHERE strpos(x::text, $1) > 0"
                    ))
                    .bind(n)
                    .fetch_one(p)
                    .await
                    .unwrap();
                    if c > 0 {
                        found.push(format!("{n} in table {t}"));
                    }
                }
            }
            let files: Result<Vec<(String, Vec<u8>)>, sqlx::Error> = async {
                sqlx::query("CHECKPOINT").execute(p).await?;
                sqlx::query_as(
                    "SELECT c.oid::regclass::text, pg_read_binary_file(pg_relation_filepath(c.oid), 0, 1000000000, true) FROM pg_class c \
                     WHERE c.relpersistence = 'p' AND c.relkind IN ('r', 'i', 't', 'm') AND c.reltablespace = 0",
                )
                .fetch_all(p)
                .await
            }
            .await;
            match files {
                Ok(files) => {
                    for (rel, bytes) in &files {
                        for n in needles {
                            if holds(bytes, n.as_bytes()) {
                                found.push(format!("{n} in the file of {rel}"));
                            }
                        }
                    }
                }
                Err(e) => {
                    let _ = writeln!(
                        std::io::stderr(),
                        "[gridwarden tests] the files of the tables are not readable by this role ({e}): rows checked, bytes not"
                    );
                }
            }
        }
    }
    found
}

/// The privacy review found a purge cleared the rows and left the bytes:
/// full ID numbers, phones, health notes (怀孕…周) and walk-in names were
/// still in the SQLite file (free space of pages, free pages) and its -wal
/// file. A purge run while the server serves the same database now leaves
/// none of them, the server carries on, and the operator is told what the
/// software cannot reach.
#[tokio::test]
async fn a_purge_leaves_no_personal_data_in_the_database_files() {
    let env = TestEnv::new().await;
    env.cli_ok(&["demo", "--residents", "300", "--seed", "8", "--no-serve"]);
    let pw = env.account("boss", "admin", &["--city"]);
    let mut srv = env.serve();
    srv.token = Some(srv.login("boss", &pw));
    let store = env.store().await;
    let all = store
        .residents(&ResidentFilter {
            limit: 1000,
            ..Default::default()
        })
        .await
        .unwrap();
    let person = all
        .iter()
        .find(|r| r.resident.document.is_some() && !r.resident.phones.is_empty())
        .expect("a resident with a document and a phone");
    let id = key(person);
    let reveal = |field: &str| {
        let r = srv.post(
            &format!("/api/v1/residents/{id}/reveal"),
            &json!({ "field": field }),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["value"].clone()
    };
    let phone = reveal("phone")[0]["number"].as_str().unwrap().to_string();
    let document = reveal("document")["number"].as_str().unwrap().to_string();
    // A note (怀孕…周，预产期…, 每周一三五透析 …): the longest the demo wrote.
    let note = all
        .iter()
        .map(|r| r.resident.notes.clone())
        .max_by_key(|n| n.chars().count())
        .unwrap();
    assert!(note.chars().count() >= 4, "{note}");
    // A walk-in sampled at a point, on no roster.
    let walk_in = srv.post(
        "/api/v1/residents/pending",
        &json!({ "street": person.street_id, "name": "甄隐名", "phone": "13907311234", "notes": "怀孕11周" }),
    );
    assert_eq!(walk_in.status, 201, "{}", walk_in.body);
    if let gw_store::Pool::Postgres(p) = &store.pool {
        // As autovacuum would have: planner statistics sample the columns' values.
        sqlx::query("ANALYZE").execute(p).await.unwrap();
    }
    let needles: Vec<String> = vec![
        phone,
        document,
        note,
        "甄隐名".into(),
        "13907311234".into(),
        "怀孕11周".into(),
    ];
    assert!(
        !where_left(&env, &store, &needles[..1]).await.is_empty(),
        "the check must see a value before the purge"
    );

    let out = env.cli_ok(&["purge", "--before", "2200-01-01", "--yes"]);
    let left = where_left(&env, &store, &needles).await;
    assert!(left.is_empty(), "after the purge: {left:?}\n{out}");
    // What the software cannot reach is said, Chinese first.
    assert!(
        out.contains("备份")
            && out.contains("backups")
            && out.contains("导出")
            && out.contains("exported"),
        "{out}"
    );
    if env.backend == "postgres" {
        assert!(out.contains("WAL"), "{out}");
    }
    // The server went on serving the same database.
    assert_eq!(srv.get("/api/v1/territory").status, 200);
    let r = store.resident(person.street_id, person.id).await.unwrap();
    assert_eq!(r.resident.name, "已清除");
}

/// A purge whose date leaves everyone untouched said only "0 residents
/// anonymised": it also says how many residents changed on or after the
/// date still hold personal data, so the operator knows it is not done.
#[tokio::test]
async fn a_purge_says_how_many_residents_it_left_holding_personal_data() {
    let env = TestEnv::new().await;
    env.cli_ok(&["demo", "--residents", "20", "--no-serve"]);
    let out = env.cli_ok(&["purge", "--before", "2000-01-01", "--yes"]);
    assert!(out.contains("0 residents anonymised"), "{out}");
    assert!(
        out.contains("20 名")
            && out.contains("20 residents changed on or after 2000-01-01 still hold personal data"),
        "{out}"
    );
    let out = env.cli_ok(&["purge", "--before", "2200-01-01", "--yes"]);
    assert!(out.contains("20 residents anonymised"), "{out}");
    assert!(!out.contains("still hold personal data"), "{out}");
}

/// The command line's acts were audited as `cli:unknown` when `$USER` was
/// unset (a cron job, a service unit): `LOGNAME` then the account of the
/// process's uid name the operator.
#[tokio::test]
async fn the_command_line_names_its_operator_without_user() {
    let env = TestEnv::new().await;
    env.cli_ok(&["migrate"]);
    let last_actor = || async {
        env.store()
            .await
            .audit_events(None, None, None, 1)
            .await
            .unwrap()
            .remove(0)
            .actor
    };
    let out = env.cli_env(&["user", "add", "a1"], &[("LOGNAME", "ops")], &["USER"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(last_actor().await, "cli:ops");
    let out = env.cli_env(&["user", "add", "a2"], &[], &["USER", "LOGNAME"]);
    assert!(out.status.success(), "{out:?}");
    let id = std::process::Command::new("id")
        .arg("-un")
        .output()
        .unwrap();
    let account = String::from_utf8_lossy(&id.stdout).trim().to_string();
    assert!(!account.is_empty());
    assert_eq!(last_actor().await, format!("cli:{account}"));
}

#[tokio::test]
async fn an_acting_grid_leader_takes_over_and_the_previous_leader_loses_access() {
    let w = world().await;
    let node = [
        "--street",
        w.street.as_str(),
        "--community",
        w.community1.as_str(),
        "--grid",
        w.grid_a.as_str(),
    ];
    let old_pw = w.env.account("old_leader", "grid_leader", &node);
    // The finance bureau's cadre is appointed acting leader for three weeks, taking over.
    w.env.cli_ok(&["user", "add", "acting"]);
    let out = w.env.cli(&[
        "user",
        "grant",
        "acting",
        "--role",
        "grid_leader",
        "--street",
        &w.street,
        "--community",
        &w.community1,
        "--grid",
        &w.grid_a,
        "--until",
        "2099-04-08",
        "--handover-from",
        "old_leader",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let srv = w.env.serve();
    // The previous leader's grant on the grid ended with the hand-over.
    let r = srv.anonymous().post(
        "/api/v1/login",
        &json!({ "username": "old_leader", "password": old_pw }),
    );
    let t = r.json()["token"].as_str().unwrap().to_string();
    let c = srv.with_token(&t);
    c.post(
        "/api/v1/password",
        &json!({ "old": old_pw, "new": "another-long-password" }),
    );
    let t = srv.login("old_leader", "another-long-password");
    assert_eq!(
        srv.with_token(&t).get("/api/v1/residents?limit=1").status,
        403
    );
    let list = w.env.cli_ok(&["user", "list"]);
    assert!(list.contains("hand-over from user"), "{list}");
    assert!(list.contains("[ended]"), "{list}");
    // An end date in the past is refused.
    let past = w.env.cli(&[
        "user",
        "grant",
        "acting",
        "--role",
        "volunteer",
        "--street",
        &w.street,
        "--until",
        "2000-01-01",
    ]);
    assert!(!past.status.success());
}

#[tokio::test]
async fn a_burst_of_parallel_guesses_gets_five_tries_and_no_more() {
    let w = world().await;
    let pw = w.env.account(
        "target",
        "grid_leader",
        &[
            "--street",
            &w.street,
            "--community",
            &w.community1,
            "--grid",
            &w.grid_a,
        ],
    );
    let srv = std::sync::Arc::new(w.env.serve());
    let store = w.env.store().await;
    let burst = |n: usize| {
        let threads: Vec<_> = (0..n)
            .map(|i| {
                let srv = srv.clone();
                std::thread::spawn(move || {
                    srv.anonymous()
                        .post(
                            "/api/v1/login",
                            &json!({ "username": "target", "password": format!("guess-{i}") }),
                        )
                        .status
                })
            })
            .collect();
        for t in threads {
            assert_eq!(t.join().unwrap(), 401);
        }
    };
    let checked = || {
        let store = store.clone();
        async move {
            store
                .audit_events(Some("user:target"), None, None, 1000)
                .await
                .unwrap()
                .iter()
                .filter(|e| e.action == "login_failed")
                .count()
        }
    };
    // Bursts of parallel guesses until five have been checked (one at a time per account).
    for _ in 0..50 {
        if checked().await >= 5 {
            break;
        }
        burst(20);
    }
    assert_eq!(
        checked().await,
        5,
        "parallel guesses must be counted one by one"
    );
    // Locked now: another burst gets no password checked, and the right password is refused.
    burst(40);
    assert_eq!(checked().await, 5);
    let r = srv.anonymous().post(
        "/api/v1/login",
        &json!({ "username": "target", "password": pw }),
    );
    assert_eq!(r.status, 401);
}

#[tokio::test]
async fn search_does_not_extend_masked_tails() {
    let w = world().await;
    let pw = w.env.account(
        "leader",
        "grid_leader",
        &[
            "--street",
            &w.street,
            "--community",
            &w.community1,
            "--grid",
            &w.grid_a,
        ],
    );
    let mut srv = w.env.serve();
    srv.token = Some(srv.login("leader", &pw));
    let doc = w.own.resident.document.as_ref().unwrap().number.clone();
    // The four characters the mask shows work; any longer tail is refused.
    let four = srv.get(&format!(
        "/api/v1/residents/search?q={}",
        &doc[doc.len() - 4..]
    ));
    assert_eq!(four.status, 200);
    assert!(four.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["id"] == key(&w.own).as_str()));
    for n in [5, 6, 10, 18] {
        let r = srv.get(&format!(
            "/api/v1/residents/search?q={}",
            &doc[doc.len() - n..]
        ));
        assert_eq!(r.status, 400, "{n} characters: {}", r.body);
    }
    // Filters naming two streets are refused rather than mixed.
    let r = srv.get("/api/v1/residents?community=1-1&grid=2-1");
    assert_eq!(r.status, 400);
}

/// A control order set from the command line is audited as the operator,
/// like the same act over the API, and needs a reason; the reason (it may
/// name people) stays on the order, out of the audit log.
#[tokio::test]
async fn a_control_order_from_the_command_line_is_audited() {
    let env = TestEnv::new().await;
    env.cli_ok(&["demo", "--residents", "20", "--no-serve"]);
    let set = |reason: &str| {
        env.cli(&[
            "control",
            "set",
            "--kind",
            "household",
            "--id",
            "1-2",
            "--status",
            "temporary",
            "--reason",
            reason,
        ])
    };
    let refused = set("  ");
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("reason is required"),
        "{refused:?}"
    );
    let done = set("密接 王某某 13812345678");
    assert!(done.status.success(), "{done:?}");
    let shown = env.cli_ok(&["control", "show", "--kind", "household", "--id", "1-2"]);
    assert!(shown.contains("密接"), "{shown}");
    let audit = env.cli_ok(&["audit", "--limit", "100"]);
    let lines: Vec<&str> = audit
        .lines()
        .filter(|l| l.contains("set_control"))
        .collect();
    assert_eq!(lines.len(), 1, "{audit}");
    assert!(
        lines[0].contains("cli:") && lines[0].contains("1-2"),
        "{audit}"
    );
    assert!(
        !audit.contains("13812345678") && !audit.contains("王某某"),
        "{audit}"
    );
}

/// One account logging in from several places at once (a shared point
/// account at shift start, a double click): every login with the right
/// password is let in; each waits for the check before it, none is told its
/// password is wrong. A wrong password among them is still refused.
#[tokio::test]
async fn logins_to_one_account_at_once_all_get_in() {
    let env = TestEnv::new().await;
    let loaded = env.cli_ok(&["demo", "--residents", "60", "--no-serve"]);
    // Where the admin's one-time password will come from.
    assert!(loaded.contains("at the first serve"), "{loaded}");
    let pw = env.account("shared", "lab", &["--street", "鸿城街道"]);
    let srv = env.serve();
    // The one-time password replaced first (by the helper's login).
    srv.login("shared", &pw);
    let pw = format!("{pw}-changed");
    let answers: Vec<u16> = std::thread::scope(|sc| {
        let hs: Vec<_> = (0..6)
            .map(|i| {
                let (srv, pw) = (&srv, &pw);
                sc.spawn(move || {
                    let password = if i == 5 {
                        "not-the-password".to_string()
                    } else {
                        pw.clone()
                    };
                    srv.anonymous()
                        .post(
                            "/api/v1/login",
                            &json!({ "username": "shared", "password": password }),
                        )
                        .status
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(answers[..5], [200; 5], "{answers:?}");
    assert_eq!(answers[5], 401, "{answers:?}");
}
