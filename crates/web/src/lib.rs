//! Gridwarden HTTP: the axum router, JSON API under `/api/v1`, and pages.
//! Thin: handlers parse the request, call `gw-app`/`gw-store`, and render.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::{Json, Router};
use gw_app::Clock;
use gw_store::{Store, StoreError};
use serde_json::json;

mod api;
pub mod openapi;

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub clock: Clock,
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

impl From<StoreError> for WebError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(m) => WebError {
                status: StatusCode::NOT_FOUND,
                code: "not_found",
                message: m,
            },
            StoreError::Conflict(m) => WebError {
                status: StatusCode::CONFLICT,
                code: "conflict",
                message: m,
            },
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

/// Every route: method, path, handler. The router and the OpenAPI test both
/// read this table, so a route cannot exist undocumented.
pub fn routes() -> Vec<(&'static str, &'static str, MethodRouter<AppState>)> {
    vec![
        ("GET", "/", get(index)),
        ("GET", "/healthz", get(healthz)),
        ("GET", "/api/v1/openapi.json", get(openapi_json)),
        ("GET", "/api/v1/territory", get(api::territory)),
        ("GET", "/api/v1/residents", get(api::list_residents)),
        (
            "GET",
            "/api/v1/residents/search",
            get(api::search_residents),
        ),
        ("GET", "/api/v1/residents/{id}", get(api::get_resident)),
        ("POST", "/api/v1/residents/pending", post(api::add_pending)),
        (
            "POST",
            "/api/v1/residents/{id}/match",
            post(api::match_pending),
        ),
        ("GET", "/api/v1/households/{id}", get(api::get_household)),
        ("GET", "/api/v1/control", get(api::control_history)),
        ("POST", "/api/v1/control", post(api::set_control)),
    ]
}

pub fn router(state: AppState) -> Router {
    let mut r = Router::new();
    for (_, path, handler) in routes() {
        r = r.route(path, handler);
    }
    r.fallback(|| async { WebError::not_found("no such route / 没有这个地址") })
        .layer(middleware::from_fn(log_requests))
        .with_state(state)
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

async fn index(State(s): State<AppState>) -> Result<Html<String>, WebError> {
    let tree = gw_app::registry::territory_tree(&s.store).await?;
    let mut rows = String::new();
    for st in &tree {
        rows.push_str(&format!(
            "<tr><th>{}</th><td>{}</td><td>{}</td><td>{}</td></tr>",
            html_escape(&st.name),
            st.children.len(),
            st.buildings,
            st.residents
        ));
    }
    Ok(Html(format!(
        r#"<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>网格卫士 Gridwarden</title><style>body{{font:16px/1.5 system-ui,sans-serif;margin:1rem;max-width:60rem}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}}</style></head>
<body><h1>网格卫士 <small>Gridwarden</small></h1>
<p>社区疫情防控工作平台 / community emergency operations. 数据库 backend: {}</p>
<table><tr><th>街道 Street</th><th>社区 Communities</th><th>楼栋 Buildings</th><th>居民 Residents</th></tr>{rows}</table>
<p>接口 API: <a href="/api/v1/territory">/api/v1/territory</a> · <a href="/api/v1/openapi.json">/api/v1/openapi.json</a> · <a href="/healthz">/healthz</a></p>
</body></html>"#,
        s.store.backend().name()
    )))
}

pub fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Serves the router on a bound listener until Ctrl-C.
pub async fn serve(listener: tokio::net::TcpListener, state: AppState) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
}
