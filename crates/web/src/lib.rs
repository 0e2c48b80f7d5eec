#![recursion_limit = "512"]
//! Gridwarden HTTP: the axum router, JSON API under `/api/v1`, and pages.
//! Thin: handlers parse the request, call `gw-app`/`gw-store`, and render.

use std::time::Instant;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::{Json, Router};
use gw_app::access::Principal;
use gw_app::Clock;
use gw_domain::access::Action;
use gw_store::{Store, StoreError};
use serde_json::json;

mod api;
mod coverage_api;
mod handoff_api;
pub mod listen;
pub mod openapi;
pub mod pages;
mod rejections;
pub mod tls;

/// What every handler is given. Axum clones it for each extractor of each
/// request: one reference count, not a copy of every service (it was 6% of a
/// scan's CPU when each field was cloned).
#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl AppState {
    pub fn new(services: Services) -> AppState {
        AppState(Arc::new(services))
    }
}

impl std::ops::Deref for AppState {
    type Target = Services;
    fn deref(&self) -> &Services {
        &self.0
    }
}

/// The services of a running server (see [`AppState`]).
pub struct Services {
    pub store: Store,
    pub clock: Clock,
    /// Mark the session cookie `Secure` (behind TLS; also when a proxy says
    /// `X-Forwarded-Proto: https`).
    pub secure_cookies: bool,
    /// Group commit for scan registrations.
    pub scans: gw_app::testing::ScanWriter,
    /// Station tokens this server has checked (a scan does not read its station again).
    pub stations: gw_app::stations::StationCache,
    /// Delivers queued alert messages (group-robot webhooks).
    pub alerts: gw_app::notify::Dispatcher,
    /// The certificate served under `serve --tls` (shown at `/tls/cert.pem`).
    pub tls: Option<tls::Served>,
    /// Where a phone on the LAN reaches this server (`https://192.168.1.5:8080`)
    /// when it listens on all interfaces: enrolment links use it instead of a
    /// loopback Host.
    pub lan_origin: Option<String>,
    /// Time a client has to send a request's headers, and then its body
    /// (`--request-timeout`; see [`listen`]).
    pub request_timeout: std::time::Duration,
}

/// An error as the API shows it: a stable code, a message, an HTTP status.
#[derive(Debug)]
pub struct WebError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl WebError {
    pub fn bad_request(message: impl Into<String>) -> WebError {
        WebError {
            status: StatusCode::BAD_REQUEST,
            code: "bad_request",
            message: message.into(),
        }
    }
    pub fn not_found(message: impl Into<String>) -> WebError {
        WebError {
            status: StatusCode::NOT_FOUND,
            code: "not_found",
            message: message.into(),
        }
    }
}

impl From<gw_app::access::AuthError> for WebError {
    fn from(e: gw_app::access::AuthError) -> Self {
        use gw_app::access::AuthError::*;
        let message = e.to_string();
        match e {
            BadCredentials => WebError {
                status: StatusCode::UNAUTHORIZED,
                code: "bad_credentials",
                message,
            },
            Forbidden(_) => WebError {
                status: StatusCode::FORBIDDEN,
                code: "forbidden",
                message,
            },
            Invalid(_) => WebError {
                status: StatusCode::BAD_REQUEST,
                code: "bad_request",
                message,
            },
            Voided => WebError {
                status: StatusCode::CONFLICT,
                code: "voided",
                message,
            },
            Store(e) => e.into(),
        }
    }
}

impl From<gw_app::registry::SearchError> for WebError {
    fn from(e: gw_app::registry::SearchError) -> Self {
        match e {
            gw_app::registry::SearchError::TailLength => WebError::bad_request(e.to_string()),
            gw_app::registry::SearchError::Store(e) => e.into(),
        }
    }
}

impl From<StoreError> for WebError {
    fn from(e: StoreError) -> Self {
        match e {
            e @ StoreError::NotFound(_) => WebError {
                status: StatusCode::NOT_FOUND,
                code: "not_found",
                message: e.to_string(),
            },
            StoreError::Conflict(m) => WebError {
                status: StatusCode::CONFLICT,
                code: "conflict",
                message: m,
            },
            // Says what was wrong (a NUL in text says so itself).
            StoreError::Invalid(m) => WebError::bad_request(m),
            other => {
                tracing::error!(error = %other, "store error");
                WebError {
                    status: StatusCode::SERVICE_UNAVAILABLE,
                    code: "storage_unavailable",
                    message:
                        "数据库暂时不可用，请稍后重试 / the database is unavailable; try again"
                            .into(),
                }
            }
        }
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({ "code": self.code, "message": self.message })),
        )
            .into_response()
    }
}

/// What a route needs from its caller. Checked by one layer for every route;
/// use-cases then check the caller's territory (`gw_app::access`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Anyone: login, health, the public landing page, household links (their token is the key).
    Public,
    /// Any logged-in account.
    Login,
    /// A logged-in account whose role allows this action somewhere.
    Act(Action),
}

/// The caller of a request, as the auth layer found them.
#[derive(Clone)]
pub struct Auth {
    pub principal: Arc<Principal>,
    pub token: String,
    csrf: String,
    via_cookie: bool,
    pub address: String,
}

pub const SESSION_COOKIE: &str = "gw_session";

/// The connecting address (from the socket, never from a header a client sets).
#[derive(Clone, Debug)]
pub struct ClientAddr(pub String);

/// Compares secrets in time independent of where they differ.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

/// Every route: method, path, what it needs, handler. The router, the auth
/// layer, the OpenAPI test and the permission-matrix test all read this table,
/// so a route cannot exist unchecked or undocumented.
pub fn routes() -> Vec<(&'static str, &'static str, Need, MethodRouter<AppState>)> {
    use Action::*;
    vec![
        // Pages (HTML) and their assets; not in the OpenAPI document (`is_page`).
        ("GET", "/", Need::Public, get(pages::home)),
        ("GET", "/assets/app.css", Need::Public, get(pages::css)),
        (
            "GET",
            "/assets/station.js",
            Need::Public,
            get(pages::station_js),
        ),
        ("GET", "/sw.js", Need::Public, get(pages::service_worker)),
        ("GET", "/login", Need::Public, get(pages::login_form)),
        ("POST", "/login", Need::Public, post(pages::login_submit)),
        ("POST", "/logout", Need::Login, post(pages::logout)),
        ("GET", "/password", Need::Login, get(pages::password_form)),
        (
            "POST",
            "/password",
            Need::Login,
            post(pages::password_submit),
        ),
        (
            "GET",
            "/rounds/{id}",
            Need::Act(ReadRegistry),
            get(pages::coverage),
        ),
        (
            "GET",
            "/rounds/{id}/missed",
            Need::Act(ReadRegistry),
            get(pages::missed),
        ),
        // One listed resident's full phone numbers on the list (each read audited).
        (
            "POST",
            "/rounds/{id}/missed",
            Need::Act(Reveal(gw_domain::access::Field::Phone)),
            post(pages::missed_reveal),
        ),
        (
            "GET",
            "/rounds/{id}/live",
            Need::Act(ReadRegistry),
            get(pages::live),
        ),
        // Server-sent events for the live page (`?once=1`: one picture, then the end).
        (
            "GET",
            "/rounds/{id}/events",
            Need::Act(ReadRegistry),
            get(pages::events),
        ),
        (
            "GET",
            "/points/{id}",
            Need::Act(ManageStations),
            get(pages::point),
        ),
        (
            "POST",
            "/points/{id}/stations",
            Need::Act(ManageStations),
            post(pages::issue_station),
        ),
        (
            "POST",
            "/stations/{id}/revoke",
            Need::Act(ManageStations),
            post(pages::revoke_station),
        ),
        // Packing, hand-over and lab receipt from the browser; a round's alerts (pages/packing.rs).
        (
            "GET",
            "/points/{id}/packing",
            Need::Act(Pack),
            get(pages::packing),
        ),
        (
            "POST",
            "/points/{id}/bags",
            Need::Act(Pack),
            post(pages::pack_bag),
        ),
        (
            "POST",
            "/points/{id}/boxes",
            Need::Act(Pack),
            post(pages::pack_box),
        ),
        (
            "POST",
            "/points/{id}/recount",
            Need::Act(Pack),
            post(pages::recount),
        ),
        (
            "POST",
            "/points/{id}/handoffs",
            Need::Act(HandOver),
            post(pages::hand_over),
        ),
        (
            "POST",
            "/rounds/{id}/receipts",
            Need::Act(Receive),
            post(pages::receive),
        ),
        (
            "GET",
            "/rounds/{id}/alerts",
            Need::Act(ReadRegistry),
            get(pages::alerts),
        ),
        (
            "POST",
            "/rounds/{id}/alerts",
            Need::Act(Reveal(gw_domain::access::Field::Phone)),
            post(pages::alerts_reveal_phones),
        ),
        // Printable pages (pages/reports.rs): labels, the daily report, a building.
        (
            "GET",
            "/points/{id}/labels",
            Need::Act(Pack),
            get(pages::point_labels),
        ),
        (
            "GET",
            "/rounds/{id}/report",
            Need::Act(ReadRegistry),
            get(pages::round_report),
        ),
        (
            "GET",
            "/buildings/{id}",
            Need::Act(ReadRegistry),
            get(pages::building),
        ),
        (
            "GET",
            "/households/{id}/codes",
            Need::Act(ReadRegistry),
            get(pages::household_codes),
        ),
        // A lost or leaked code reissued from the household's code sheet
        // (the API's use-case and right, audited as it is).
        (
            "POST",
            "/residents/{id}/code/reissue",
            Need::Act(WriteRegistry),
            post(pages::code_reissue),
        ),
        // What a reissue answers with (POST-redirect-GET): the code as it
        // now is; a refresh reissues nothing.
        (
            "GET",
            "/residents/{id}/code/reissued",
            Need::Act(WriteRegistry),
            get(pages::code_reissued),
        ),
        (
            "POST",
            "/buildings/{id}/grid",
            Need::Act(AssignGrids),
            post(pages::assign_building),
        ),
        (
            "POST",
            "/buildings/{id}/control",
            Need::Act(WriteRegistry),
            post(pages::building_control),
        ),
        (
            "POST",
            "/api/v1/buildings/{id}/grid",
            Need::Act(AssignGrids),
            post(api::assign_building),
        ),
        (
            "GET",
            "/buildings/{id}/codes",
            Need::Act(ReadRegistry),
            get(pages::building_codes),
        ),
        (
            "POST",
            "/households/{id}/link",
            Need::Act(ManageHouseholdLinks),
            post(pages::household_link_create),
        ),
        // A household's own page: its link's token is the key.
        (
            "GET",
            "/h/{token}",
            Need::Public,
            get(pages::household_link),
        ),
        // Registry and round pages (pages/registry.rs, pages/rounds.rs).
        (
            "GET",
            "/registry",
            Need::Act(ReadRegistry),
            get(pages::registry),
        ),
        (
            "GET",
            "/registry/search",
            Need::Act(ReadRegistry),
            get(pages::search),
        ),
        (
            "GET",
            "/grids/{id}",
            Need::Act(ReadRegistry),
            get(pages::grid),
        ),
        (
            "GET",
            "/households/{id}",
            Need::Act(ReadRegistry),
            get(pages::household),
        ),
        (
            "GET",
            "/registry/import",
            Need::Act(ImportRoster),
            get(pages::import_form),
        ),
        (
            "POST",
            "/registry/import",
            Need::Act(ImportRoster),
            post(pages::import_submit).layer(axum::extract::DefaultBodyLimit::max(
                usize::try_from(gw_app::roster_file::DEFAULT_MAX_SIZE).unwrap_or(usize::MAX),
            )),
        ),
        (
            "GET",
            "/registry/import/reports/{token}",
            Need::Act(ImportRoster),
            get(pages::import_report),
        ),
        // Registry readers and a point's staff: the use-case narrows.
        (
            "GET",
            "/rounds/{id}/schedule",
            Need::Login,
            get(pages::schedule),
        ),
        (
            "POST",
            "/rounds/{id}/schedule",
            Need::Act(ManageRounds),
            post(pages::plan),
        ),
        (
            "POST",
            "/rounds/{id}/schedule/push",
            Need::Act(ManageRounds),
            post(pages::push_slot),
        ),
        (
            "POST",
            "/rounds/{id}/schedule/delay",
            Need::Act(ManageRounds),
            post(pages::delay_slot),
        ),
        (
            "GET",
            "/rounds/{id}/door-to-door",
            Need::Login,
            get(pages::door_to_door),
        ),
        (
            "POST",
            "/rounds/{id}/door-to-door",
            Need::Act(Reveal(gw_domain::access::Field::Phone)),
            post(pages::door_to_door_reveal),
        ),
        (
            "GET",
            "/rounds/{id}/compare",
            Need::Act(ReadRegistry),
            get(pages::compare),
        ),
        (
            "GET",
            "/rounds/{id}/coverage",
            Need::Act(ReadRegistry),
            get(pages::coverage_by),
        ),
        (
            "GET",
            "/rounds/{id}/lab",
            Need::Act(PostResults),
            get(pages::lab_form),
        ),
        (
            "POST",
            "/rounds/{id}/lab",
            Need::Act(PostResults),
            post(pages::lab_submit).layer(axum::extract::DefaultBodyLimit::max(
                usize::try_from(gw_app::roster_file::DEFAULT_MAX_SIZE).unwrap_or(usize::MAX),
            )),
        ),
        // The lab's corrected result, from the lab page's form (as the API's corrections).
        (
            "POST",
            "/rounds/{id}/corrections",
            Need::Act(PostResults),
            post(pages::lab_correct),
        ),
        // The people of invalid tubes to swab again (masked), and one listed
        // resident's full phone on it (each read audited).
        (
            "GET",
            "/rounds/{id}/resamples",
            Need::Act(ReadRegistry),
            get(pages::resamples),
        ),
        (
            "POST",
            "/rounds/{id}/resamples",
            Need::Act(Reveal(gw_domain::access::Field::Phone)),
            post(pages::resamples_reveal),
        ),
        (
            "GET",
            "/rounds/{id}/reconciliation",
            Need::Act(ReadLogistics),
            get(pages::reconciliation),
        ),
        (
            "GET",
            "/rounds/{id}/disinfection",
            Need::Login,
            get(pages::disinfection),
        ),
        (
            "POST",
            "/disinfection/{id}/done",
            Need::Act(ManageStations),
            post(pages::disinfection_done),
        ),
        // Setting up a round from the browser (pages/setup.rs): as the API routes.
        (
            "GET",
            "/rounds/new",
            Need::Act(ManageRounds),
            get(pages::round_form),
        ),
        (
            "POST",
            "/rounds/new",
            Need::Act(ManageRounds),
            post(pages::round_create),
        ),
        (
            "POST",
            "/rounds/{id}/state",
            Need::Act(ManageRounds),
            post(pages::round_state),
        ),
        (
            "POST",
            "/rounds/{id}/points",
            Need::Act(ManagePoints),
            post(pages::point_create),
        ),
        (
            "POST",
            "/points/{id}/remove",
            Need::Act(ManagePoints),
            post(pages::remove_point),
        ),
        (
            "POST",
            "/points/{id}/change",
            Need::Act(ManagePoints),
            post(pages::point_change),
        ),
        (
            "POST",
            "/points/{id}/supplies",
            Need::Act(IssueSupplies),
            post(pages::supplies_issue),
        ),
        (
            "POST",
            "/rounds/{id}/exemptions",
            Need::Act(WriteRegistry),
            post(pages::exempt),
        ),
        ("GET", "/station", Need::Public, get(pages::station)),
        ("GET", "/healthz", Need::Public, get(healthz)),
        ("GET", "/tls/cert.pem", Need::Public, get(tls::cert_pem)),
        // Does no work: the HTTP floor for benchmarks.
        ("GET", "/ping", Need::Public, get(|| async { "pong" })),
        (
            "GET",
            "/api/v1/openapi.json",
            Need::Public,
            get(openapi_json),
        ),
        ("POST", "/api/v1/login", Need::Public, post(api::login)),
        ("POST", "/api/v1/logout", Need::Login, post(api::logout)),
        ("GET", "/api/v1/me", Need::Login, get(api::me)),
        (
            "POST",
            "/api/v1/password",
            Need::Login,
            post(api::change_password),
        ),
        (
            "GET",
            "/api/v1/territory",
            Need::Act(ReadRegistry),
            get(api::territory),
        ),
        (
            "GET",
            "/api/v1/residents",
            Need::Act(ReadRegistry),
            get(api::list_residents),
        ),
        (
            "GET",
            "/api/v1/residents/search",
            Need::Act(ReadRegistry),
            get(api::search_residents),
        ),
        (
            "GET",
            "/api/v1/residents/{id}",
            Need::Act(ReadRegistry),
            get(api::get_resident),
        ),
        (
            "POST",
            "/api/v1/residents/{id}/reveal",
            Need::Login,
            post(api::reveal),
        ),
        (
            "GET",
            "/api/v1/residents/{id}/code",
            Need::Act(ReadRegistry),
            get(api::personal_code),
        ),
        (
            "POST",
            "/api/v1/residents/{id}/code/reissue",
            Need::Act(WriteRegistry),
            post(api::reissue_code),
        ),
        (
            "POST",
            "/api/v1/residents/pending",
            Need::Act(WriteRegistry),
            post(api::add_pending),
        ),
        (
            "POST",
            "/api/v1/residents/{id}/move",
            Need::Act(WriteRegistry),
            post(api::move_resident),
        ),
        (
            "POST",
            "/api/v1/residents/{id}/flags",
            Need::Act(WriteRegistry),
            post(api::set_flags),
        ),
        (
            "POST",
            "/api/v1/residents/{id}/leave",
            Need::Act(WriteRegistry),
            post(api::leave_resident),
        ),
        (
            "POST",
            "/households/{id}/flags",
            Need::Act(WriteRegistry),
            post(pages::household_flags),
        ),
        (
            "POST",
            "/households/{id}/control",
            Need::Act(WriteRegistry),
            post(pages::household_control),
        ),
        (
            "POST",
            "/households/{id}/move",
            Need::Act(WriteRegistry),
            post(pages::household_move),
        ),
        (
            "POST",
            "/households/{id}/leave",
            Need::Act(WriteRegistry),
            post(pages::household_leave),
        ),
        (
            "POST",
            "/api/v1/residents/{id}/match",
            Need::Act(WriteRegistry),
            post(api::match_pending),
        ),
        (
            "GET",
            "/api/v1/households/{id}",
            Need::Act(ReadRegistry),
            get(api::get_household),
        ),
        (
            "POST",
            "/api/v1/households/{id}/link",
            Need::Act(ManageHouseholdLinks),
            post(api::create_household_link),
        ),
        (
            "POST",
            "/api/v1/households/{id}/link/revoke",
            Need::Act(ManageHouseholdLinks),
            post(api::revoke_household_links),
        ),
        (
            "GET",
            "/api/v1/household-link/{token}",
            Need::Public,
            get(api::open_household_link),
        ),
        (
            "GET",
            "/api/v1/control",
            Need::Act(ReadRegistry),
            get(api::control_history),
        ),
        (
            "POST",
            "/api/v1/control",
            Need::Act(WriteRegistry),
            post(api::set_control),
        ),
        (
            "POST",
            "/api/v1/rounds",
            Need::Act(ManageRounds),
            post(api::create_round),
        ),
        (
            "POST",
            "/api/v1/rounds/{id}/open",
            Need::Act(ManageRounds),
            post(api::open_round),
        ),
        (
            "POST",
            "/api/v1/rounds/{id}/points",
            Need::Act(ManagePoints),
            post(api::add_point),
        ),
        (
            "POST",
            "/api/v1/points/{id}",
            Need::Act(ManagePoints),
            post(api::change_point),
        ),
        (
            "POST",
            "/api/v1/points/{id}/remove",
            Need::Act(ManagePoints),
            post(api::remove_point),
        ),
        // Registry readers and a point's staff: the use-case narrows.
        (
            "GET",
            "/api/v1/rounds/{id}/schedule",
            Need::Login,
            get(api::schedule),
        ),
        (
            "POST",
            "/api/v1/rounds/{id}/schedule",
            Need::Act(ManageRounds),
            post(api::plan_schedule),
        ),
        (
            "GET",
            "/api/v1/rounds/{id}/coverage",
            Need::Act(ReadRegistry),
            get(coverage_api::coverage),
        ),
        (
            "GET",
            "/api/v1/rounds/{id}/missed",
            Need::Act(ReadRegistry),
            get(coverage_api::missed),
        ),
        (
            "GET",
            "/api/v1/rounds/{id}/resamples",
            Need::Act(ReadRegistry),
            get(coverage_api::resamples),
        ),
        (
            "GET",
            "/api/v1/rounds/{id}/exemptions",
            Need::Act(ReadRegistry),
            get(coverage_api::exemptions),
        ),
        (
            "POST",
            "/api/v1/points/{id}/tubes",
            Need::Act(Scan),
            post(api::open_tube),
        ),
        (
            "POST",
            "/api/v1/tubes/{id}/scans",
            Need::Act(Scan),
            post(api::scan),
        ),
        (
            "POST",
            "/api/v1/tubes/{id}/close",
            Need::Act(Scan),
            post(api::close_tube),
        ),
        (
            "POST",
            "/api/v1/registrations/{id}/void",
            Need::Act(Scan),
            post(api::void_swab),
        ),
        (
            "POST",
            "/api/v1/tubes/{id}/voids",
            Need::Act(Scan),
            post(api::void_scan),
        ),
        (
            "POST",
            "/api/v1/points/{id}/stations",
            Need::Act(ManageStations),
            post(api::issue_station),
        ),
        (
            "GET",
            "/api/v1/points/{id}/stations",
            Need::Act(ManageStations),
            get(api::point_stations),
        ),
        (
            "POST",
            "/api/v1/enroll",
            Need::Public,
            post(api::enroll_station),
        ),
        (
            "POST",
            "/api/v1/stations/{id}/revoke",
            Need::Act(ManageStations),
            post(api::revoke_station),
        ),
        (
            "POST",
            "/api/v1/rounds/{id}/results",
            Need::Act(PostResults),
            post(api::post_results),
        ),
        (
            "POST",
            "/api/v1/rounds/{id}/results/corrections",
            Need::Act(PostResults),
            post(api::correct_result),
        ),
        (
            "POST",
            "/api/v1/rounds/{id}/results/file",
            Need::Act(PostResults),
            post(api::upload_results).layer(axum::extract::DefaultBodyLimit::max(
                usize::try_from(gw_app::roster_file::DEFAULT_MAX_SIZE).unwrap_or(usize::MAX),
            )),
        ),
        (
            "GET",
            "/api/v1/rounds/{id}/alerts",
            Need::Act(ReadRegistry),
            get(api::alerts),
        ),
        (
            "GET",
            "/api/v1/rounds/{id}/door-to-door",
            Need::Login,
            get(api::door_to_door),
        ),
        (
            "GET",
            "/api/v1/streets/{id}/pool-advice",
            Need::Act(ManageRounds),
            get(api::pool_advice),
        ),
        (
            "GET",
            "/api/v1/streets/{id}/testing-settings",
            Need::Act(ManageRounds),
            get(api::testing_settings),
        ),
        (
            "POST",
            "/api/v1/streets/{id}/testing-settings",
            Need::Act(ManageRounds),
            post(api::set_testing_settings),
        ),
        (
            "POST",
            "/api/v1/rounds/{id}/state",
            Need::Act(ManageRounds),
            post(api::advance_round),
        ),
        (
            "POST",
            "/api/v1/rounds/{id}/exemptions",
            Need::Act(WriteRegistry),
            post(api::exempt),
        ),
        (
            "POST",
            "/api/v1/rounds/{id}/schedule/push",
            Need::Act(ManageRounds),
            post(coverage_api::push_call_down),
        ),
        (
            "POST",
            "/api/v1/rounds/{id}/schedule/delay",
            Need::Act(ManageRounds),
            post(coverage_api::delay_call_down),
        ),
        (
            "GET",
            "/api/v1/streets/{id}/rounds",
            Need::Login,
            get(coverage_api::rounds),
        ),
        (
            "GET",
            "/api/v1/rounds/{id}/compare",
            Need::Act(ReadRegistry),
            get(coverage_api::compare),
        ),
        (
            "GET",
            "/api/v1/rounds/{id}/disinfection",
            Need::Login,
            get(coverage_api::disinfection_tasks),
        ),
        (
            "GET",
            "/api/v1/streets/{id}/coverage-history",
            Need::Act(ReadRegistry),
            get(coverage_api::history),
        ),
        (
            "GET",
            "/api/v1/rounds/{id}/flagged",
            Need::Login,
            get(coverage_api::flagged),
        ),
        (
            "POST",
            "/api/v1/disinfection/{id}/done",
            Need::Act(ManageStations),
            post(coverage_api::disinfection_done),
        ),
        // A street's alert channels from the browser (pages/channels.rs).
        (
            "GET",
            "/streets/{id}/alert-channels",
            Need::Act(ManageRounds),
            get(pages::channels_page),
        ),
        (
            "POST",
            "/streets/{id}/alert-channels",
            Need::Act(ManageRounds),
            post(pages::channel_add),
        ),
        (
            "POST",
            "/alert-channels/{id}/remove",
            Need::Act(ManageRounds),
            post(pages::channel_remove),
        ),
        (
            "POST",
            "/alert-channels/{id}/test",
            Need::Act(ManageRounds),
            post(pages::channel_test),
        ),
        (
            "GET",
            "/api/v1/streets/{id}/alert-channels",
            Need::Act(ManageRounds),
            get(coverage_api::channels),
        ),
        (
            "POST",
            "/api/v1/streets/{id}/alert-channels",
            Need::Act(ManageRounds),
            post(coverage_api::add_channel),
        ),
        (
            "POST",
            "/api/v1/alert-channels/{id}/remove",
            Need::Act(ManageRounds),
            post(coverage_api::remove_channel),
        ),
        (
            "POST",
            "/api/v1/alert-channels/{id}/test",
            Need::Act(ManageRounds),
            post(coverage_api::test_channel),
        ),
        (
            "GET",
            "/api/v1/streets/{id}/notifications",
            Need::Act(ManageRounds),
            get(coverage_api::notifications),
        ),
        (
            "GET",
            "/api/v1/audit",
            Need::Act(ReadAudit),
            get(api::audit),
        ),
        // Supplies, packing, hand-off, lab receipt, reconciliation (handoff_api.rs).
        (
            "POST",
            "/api/v1/points/{id}/supplies",
            Need::Act(IssueSupplies),
            post(handoff_api::issue_supplies),
        ),
        (
            "GET",
            "/api/v1/points/{id}/supplies",
            Need::Act(ReadLogistics),
            get(handoff_api::list_supplies),
        ),
        (
            "GET",
            "/api/v1/points/{id}/packing",
            Need::Act(Pack),
            get(handoff_api::packing),
        ),
        (
            "POST",
            "/api/v1/points/{id}/bags",
            Need::Act(Pack),
            post(handoff_api::pack_bag),
        ),
        (
            "POST",
            "/api/v1/points/{id}/boxes",
            Need::Act(Pack),
            post(handoff_api::pack_box),
        ),
        (
            "POST",
            "/api/v1/points/{id}/recounts",
            Need::Act(Pack),
            post(handoff_api::recount),
        ),
        (
            "POST",
            "/api/v1/points/{id}/handoffs",
            Need::Act(HandOver),
            post(handoff_api::hand_over),
        ),
        (
            "POST",
            "/api/v1/rounds/{id}/receipts",
            Need::Act(Receive),
            post(handoff_api::receive),
        ),
        (
            "POST",
            "/api/v1/rounds/{id}/bag-capacity",
            Need::Act(ManageRounds),
            post(handoff_api::set_bag_capacity),
        ),
        (
            "GET",
            "/api/v1/rounds/{id}/reconciliation",
            Need::Act(ReadLogistics),
            get(handoff_api::reconciliation),
        ),
    ]
}

/// Whether a route is a page (HTML) or one of its assets rather than API:
/// pages answer errors as pages and are left out of the OpenAPI document.
pub fn is_page(path: &str) -> bool {
    !(path.starts_with("/api/") || path == "/healthz" || path == "/ping")
}

pub fn router(state: AppState) -> Router {
    let mut r = Router::new();
    for (_, path, need, handler) in routes() {
        r = r.route(
            path,
            handler.route_layer(middleware::from_fn(move |req: Request, next: Next| {
                require(need, req, next)
            })),
        );
    }
    r.fallback(|req: Request| async move {
        let path = req.uri().path();
        if is_page(path) {
            // In the reader's own header, the language link to this address.
            let page = pages::Page::of_request(&req);
            page.error_with(
                StatusCode::NOT_FOUND,
                "not_found",
                page.lang.t("没有这个页面", "There is no such page"),
            )
        } else {
            WebError::not_found("no such route / 没有这个地址").into_response()
        }
    })
    .layer(middleware::from_fn(listen::refuse_nul))
    .layer(middleware::from_fn(rejections::as_json))
    // Inside the auth layer, so a page's 408 knows its reader.
    .layer(middleware::from_fn_with_state(
        state.clone(),
        listen::body_deadline,
    ))
    .layer(middleware::from_fn_with_state(state.clone(), authenticate))
    .layer(middleware::from_fn(log_requests))
    .with_state(state)
}

fn cookie(req: &Request, name: &str) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// Finds the caller: a `Bearer` token, else the session cookie.
async fn authenticate(State(s): State<AppState>, mut req: Request, next: Next) -> Response {
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_string());
    let (token, via_cookie) = match bearer {
        Some(t) => (Some(t), false),
        None => (cookie(&req, SESSION_COOKIE), true),
    };
    req.extensions_mut().insert(s.clock.clone());
    let address = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_default();
    req.extensions_mut().insert(ClientAddr(address.clone()));
    // A scanning station's bearer token (never a cookie).
    if let Some(token) = token
        .as_ref()
        .filter(|t| !via_cookie && gw_app::stations::is_station_token(t))
    {
        match gw_app::stations::authenticate(&s.store, &s.clock, &s.stations, token).await {
            Ok(gw_app::stations::StationAuth::Valid(principal)) => {
                req.extensions_mut().insert(Auth {
                    principal: Arc::new(principal),
                    token: token.clone(),
                    csrf: String::new(),
                    via_cookie: false,
                    address,
                });
            }
            Ok(gw_app::stations::StationAuth::Ended) => {
                req.extensions_mut().insert(StationEnded);
            }
            Ok(gw_app::stations::StationAuth::Unknown) => {}
            Err(e) => return unavailable(&req, WebError::from(e)),
        }
        return next.run(req).await;
    }
    if let Some(token) = token.filter(|t| !t.is_empty()) {
        match gw_app::access::authenticate(&s.store, &s.clock, &token).await {
            Ok(Some((principal, csrf))) => {
                req.extensions_mut().insert(Auth {
                    principal: Arc::new(principal),
                    token,
                    csrf,
                    via_cookie,
                    address,
                });
            }
            Ok(None) => {}
            Err(e) => return unavailable(&req, WebError::from(e)),
        }
    }
    next.run(req).await
}

/// A store failure while authenticating (the database down): JSON for the
/// API, the error page for a page, as every other answer there.
fn unavailable(req: &Request, e: WebError) -> Response {
    if is_page(req.uri().path()) {
        return pages::Page::of_request(req).error_with(e.status, e.code, &e.message);
    }
    e.into_response()
}

/// Marks a request whose station token was revoked or ran out (its 401 says so).
#[derive(Debug, Clone, Copy)]
struct StationEnded;

/// A denial: JSON for the API, a page (with its code in a meta tag) for pages,
/// in the caller's own header when they are logged in.
fn deny(
    req_path: &str,
    req: &Request,
    status: StatusCode,
    code: &'static str,
    message: &str,
) -> Response {
    if is_page(req_path) {
        let page = pages::Page::of_request(req);
        let lang = page.lang;
        let text = match code {
            "unauthenticated" => lang.t("请先登录。", "Log in first."),
            "csrf" => lang.t(
                "页面已过期，请返回刷新后重试。",
                "This page has expired: go back, reload and try again.",
            ),
            "password_change_required" => lang.t(
                "请先修改一次性密码。",
                "Change your one-time password first.",
            ),
            _ => lang.t(
                "您的岗位无权查看此页面。",
                "Your role does not allow this page.",
            ),
        };
        return page.error_with(status, code, text);
    }
    WebError {
        status,
        code,
        message: message.into(),
    }
    .into_response()
}

/// The CSRF token a request carries: the `X-CSRF-Token` header, or for an
/// HTML form the `csrf` field of its urlencoded body (read, then put back).
async fn sent_csrf(req: Request) -> Result<(String, Request), Response> {
    if let Some(v) = req
        .headers()
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
    {
        let v = v.to_string();
        return Ok((v, req));
    }
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Ok((String::new(), req));
    }
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, 64 * 1024).await.map_err(|_| {
        WebError {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            code: "too_large",
            message: "表单过大 / form too large".into(),
        }
        .into_response()
    })?;
    let sent = std::str::from_utf8(&bytes)
        .unwrap_or("")
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == "csrf")
        .map(|(_, v)| pages::form_decode(v))
        .unwrap_or_default();
    Ok((
        sent,
        Request::from_parts(parts, axum::body::Body::from(bytes)),
    ))
}

/// The one check every route passes through.
async fn require(need: Need, req: Request, next: Next) -> Response {
    if need == Need::Public {
        return next.run(req).await;
    }
    let path = req.uri().path().to_string();
    let Some(auth) = req.extensions().get::<Auth>().cloned() else {
        let message = if req.extensions().get::<StationEnded>().is_some() {
            "此采样台已被撤销或登记已到期，请重新登记 / this station was revoked or its enrolment ended: enrol it again"
        } else {
            "请先登录 / log in first"
        };
        return deny(
            &path,
            &req,
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            message,
        );
    };
    let unsafe_method = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let mut req = req;
    if auth.via_cookie && unsafe_method {
        let (sent, back) = match sent_csrf(req).await {
            Ok(x) => x,
            Err(res) => return res,
        };
        req = back;
        if sent.is_empty() || !same_secret(&sent, &auth.csrf) {
            return deny(
                &path,
                &req,
                StatusCode::FORBIDDEN,
                "csrf",
                "缺少或错误的 CSRF 令牌 / missing or wrong X-CSRF-Token",
            );
        }
    }
    if auth.principal.must_change_password
        && !matches!(
            path.as_str(),
            "/api/v1/password" | "/api/v1/me" | "/api/v1/logout" | "/password" | "/logout"
        )
    {
        return deny(
            &path,
            &req,
            StatusCode::FORBIDDEN,
            "password_change_required",
            "请先修改一次性密码 / change your one-time password first (POST /api/v1/password)",
        );
    }
    if let Need::Act(action) = need {
        if !auth.principal.can_somewhere(action, now_ms(&req)) {
            return deny(
                &path,
                &req,
                StatusCode::FORBIDDEN,
                "forbidden",
                "您的岗位无此权限 / your role does not allow this",
            );
        }
    }
    next.run(req).await
}

fn now_ms(req: &Request) -> i64 {
    req.extensions()
        .get::<Clock>()
        .map(Clock::now_ms)
        .unwrap_or_else(|| Clock::System.now_ms())
}

/// Logs method, matched route (never the query: it can carry names), status
/// and latency.
async fn log_requests(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "-".into());
    let res = next.run(req).await;
    tracing::info!(%method, route, status = res.status().as_u16(), ms = start.elapsed().as_secs_f64() * 1000.0, "request");
    res
}

async fn healthz(State(s): State<AppState>) -> Result<Json<serde_json::Value>, WebError> {
    s.store.ping().await?;
    Ok(Json(
        json!({ "status": "ok", "backend": s.store.backend().name() }),
    ))
}

async fn openapi_json() -> Json<serde_json::Value> {
    Json(openapi::document())
}

pub fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Serves the router on a bound listener until Ctrl-C.
pub async fn serve(listener: tokio::net::TcpListener, state: AppState) -> std::io::Result<()> {
    let timeout = state.request_timeout;
    listen::serve_loop(listener, router(state), timeout, |tcp, _| async move {
        Some(tcp)
    })
    .await
}
