//! Coverage, missed lists, round-over-round, disinfection tasks and alert
//! channels over HTTP: parse, call `app`, answer JSON.

use axum::extract::{Path, Query, State};
use axum::{Extension, Json};
use gw_app::coverage::{level_name, parse_level};
use gw_domain::ids::Key;
use gw_store::coverage::Level;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::api::key;
use crate::{AppState, Auth, WebError};

/// `?community=K`, `?grid=K` or `?building=K` (at most one), and `by` for
/// coverage rows.
#[derive(Debug, Deserialize, Default)]
pub struct Territory {
    pub by: Option<String>,
    pub community: Option<String>,
    pub grid: Option<String>,
    pub building: Option<String>,
}

impl Territory {
    fn within(&self) -> Result<Option<(Level, Key)>, WebError> {
        gw_app::coverage::within_of(
            self.community.as_deref(),
            self.grid.as_deref(),
            self.building.as_deref(),
        )
        .map_err(WebError::bad_request)
    }

    fn required(&self) -> Result<(Level, Key), WebError> {
        self.within()?.ok_or_else(|| {
            WebError::bad_request(
                "请给出 community、grid 或 building / give community, grid or building",
            )
        })
    }
}

#[derive(Debug, Deserialize, Default)]
pub struct HistoryQuery {
    pub community: Option<String>,
    pub grid: Option<String>,
    pub building: Option<String>,
    pub rounds: Option<usize>,
}

/// The street's latest rounds over a territory with their totals and how many
/// in a row missed nobody.
pub async fn history(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    Path(id): Path<String>,
    Query(q): Query<HistoryQuery>,
) -> Result<Json<gw_app::coverage::History>, WebError> {
    let street: i64 = id
        .parse()
        .map_err(|_| WebError::bad_request("街道 id 应为数字 / the street id is a number"))?;
    let within = gw_app::coverage::within_of(
        q.community.as_deref(),
        q.grid.as_deref(),
        q.building.as_deref(),
    )
    .map_err(WebError::bad_request)?;
    if within.is_some_and(|(_, k)| k.street != street) {
        return Err(WebError::bad_request(
            "所选区域不在该街道 / that territory is not in this street",
        ));
    }
    Ok(Json(
        gw_app::coverage::history(
            &s.store,
            &s.clock,
            &a.principal,
            street,
            within,
            q.rounds.unwrap_or(4).clamp(1, 50),
        )
        .await?,
    ))
}

pub async fn coverage(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    Path(id): Path<String>,
    Query(q): Query<Territory>,
) -> Result<Json<Value>, WebError> {
    let round = key(&id, "round")?;
    let within = q.within()?;
    // Default rows: one level below the territory asked about.
    let by = match q.by.as_deref() {
        Some(b) => parse_level(b).ok_or_else(|| {
            WebError::bad_request(format!(
                "by 须为 community、grid 或 building / by must be community, grid or building: {b}"
            ))
        })?,
        None => match within {
            None => Level::Grid,
            Some((Level::Community, _)) => Level::Grid,
            Some(_) => Level::Building,
        },
    };
    let c = gw_app::coverage::coverage(&s.store, &s.clock, &a.principal, round, by, within).await?;
    Ok(Json(json!(c)))
}

pub async fn missed(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    Path(id): Path<String>,
    Query(q): Query<Territory>,
) -> Result<Json<Value>, WebError> {
    let round = key(&id, "round")?;
    let within = q.required()?;
    let m = gw_app::coverage::missed(&s.store, &s.clock, &a.principal, round, within).await?;
    let today = s.clock.today();
    // Each person marked `resample_due` (with `reason`) when swabbed into
    // invalid tubes only: missed until re-sampled.
    let Json(mut v) = listed(round, within, m.views(&m.expected, today).into_iter());
    // Moved in or registered since the round opened, not swabbed: missed too.
    v["added"] = json!(m.views(&m.added, today));
    v["moved_away"] = json!(m.moved_away);
    v["moved_out"] = json!(m.moved_out.len() + m.moved_out_hidden);
    // Expected elsewhere at the opening, living here now, not swabbed.
    v["moved_in"] = json!(m.views(&m.moved_in, today));
    Ok(Json(v))
}

/// A list of one territory of a round, as the API answers it.
fn listed<T: serde::Serialize>(
    round: Key,
    within: (Level, Key),
    items: impl Iterator<Item = T>,
) -> Json<Value> {
    Json(json!({
        "round": round.to_string(),
        "within": format!("{}:{}", level_name(within.0), within.1),
        "items": items.collect::<Vec<_>>(),
    }))
}

/// The members of invalid tubes to be swabbed again, in one territory.
pub async fn resamples(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    Path(id): Path<String>,
    Query(q): Query<Territory>,
) -> Result<Json<Value>, WebError> {
    let round = key(&id, "round")?;
    let within = q.required()?;
    let rows = gw_app::coverage::resamples(&s.store, &s.clock, &a.principal, round, within).await?;
    let today = s.clock.today();
    Ok(listed(round, within, rows.iter().map(|r| r.masked(today))))
}

/// Who is exempt in one territory, and why.
pub async fn exemptions(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    Path(id): Path<String>,
    Query(q): Query<Territory>,
) -> Result<Json<Value>, WebError> {
    let round = key(&id, "round")?;
    let within = q.required()?;
    let rows =
        gw_app::coverage::exemptions(&s.store, &s.clock, &a.principal, round, within).await?;
    let today = s.clock.today();
    Ok(listed(round, within, rows.iter().map(|r| r.masked(today))))
}

pub async fn compare(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    Path(id): Path<String>,
    Query(q): Query<Territory>,
) -> Result<Json<gw_app::coverage::Comparison>, WebError> {
    let round = key(&id, "round")?;
    let within = q.required()?;
    Ok(Json(
        gw_app::coverage::compare(&s.store, &s.clock, &a.principal, round, within).await?,
    ))
}

pub async fn disinfection_tasks(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    Path(id): Path<String>,
) -> Result<Json<Value>, WebError> {
    let round = key(&id, "round")?;
    let tasks =
        gw_app::testing::disinfection_tasks(&s.store, &s.clock, &a.principal, round).await?;
    Ok(Json(json!({ "round": round.to_string(), "tasks": tasks })))
}

#[derive(Debug, Deserialize)]
pub struct FlaggedQuery {
    pub point: Option<String>,
    pub limit: Option<i64>,
}

/// The round's flagged swabs at the points the caller scans at or reads.
pub async fn flagged(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    Path(id): Path<String>,
    Query(q): Query<FlaggedQuery>,
) -> Result<Json<Value>, WebError> {
    let round = key(&id, "round")?;
    let point = q.point.as_deref().map(|p| key(p, "point")).transpose()?;
    let items = gw_app::testing::flagged(
        &s.store,
        &s.clock,
        &a.principal,
        round,
        point,
        q.limit.unwrap_or(500),
    )
    .await?;
    Ok(Json(json!({ "round": round.to_string(), "items": items })))
}

pub async fn disinfection_done(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    Path(id): Path<String>,
) -> Result<Json<Value>, WebError> {
    let task = key(&id, "task")?;
    gw_app::testing::disinfection_done(&s.store, &s.clock, &a.principal, task).await?;
    Ok(Json(json!({ "task": task.to_string(), "state": "done" })))
}

#[derive(Debug, Deserialize)]
pub struct ChannelBody {
    /// `wecom`, `dingtalk`, `feishu` or `json`.
    pub kind: String,
    pub url: String,
    /// DingTalk's or Feishu's signing secret (加签), if the robot asks for one.
    #[serde(default)]
    pub secret: String,
}

pub async fn add_channel(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    Path(id): Path<i64>,
    Json(b): Json<ChannelBody>,
) -> Result<Json<Value>, WebError> {
    let k = gw_app::notify::add_channel(
        &s.store,
        &s.clock,
        &a.principal,
        id,
        &b.kind,
        &b.url,
        &b.secret,
    )
    .await?;
    Ok(Json(json!({ "channel": k.to_string() })))
}

pub async fn channels(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    Path(id): Path<i64>,
) -> Result<Json<Value>, WebError> {
    let items = gw_app::notify::channels(&s.store, &s.clock, &a.principal, id).await?;
    Ok(Json(json!({ "street": id, "items": items })))
}

pub async fn remove_channel(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    Path(id): Path<String>,
) -> Result<Json<Value>, WebError> {
    let k = key(&id, "channel")?;
    gw_app::notify::remove_channel(&s.store, &s.clock, &a.principal, k).await?;
    Ok(Json(json!({ "channel": k.to_string(), "active": false })))
}

pub async fn test_channel(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    Path(id): Path<String>,
) -> Result<Json<Value>, WebError> {
    let k = key(&id, "channel")?;
    let n = gw_app::notify::test_channel(&s.store, &s.clock, &a.principal, k).await?;
    s.alerts.wake();
    Ok(Json(json!({ "notification": n.to_string() })))
}

pub async fn notifications(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    Path(id): Path<i64>,
) -> Result<Json<Value>, WebError> {
    let items = gw_app::notify::notifications(&s.store, &s.clock, &a.principal, id).await?;
    Ok(Json(json!({ "street": id, "items": items })))
}

pub async fn rounds(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    Path(id): Path<i64>,
) -> Result<Json<Value>, WebError> {
    let items = gw_app::testing::rounds(&s.store, &s.clock, &a.principal, id).await?;
    Ok(Json(json!({ "street": id, "rounds": items })))
}

#[derive(Debug, Deserialize, Default)]
pub struct PushBody {
    /// The slot to push (its start, Unix ms); absent: the next slot to start.
    pub starts_ms: Option<i64>,
    /// Push a slot already pushed once more (refused with 409 otherwise).
    #[serde(default)]
    pub again: bool,
}

pub async fn push_call_down(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    Path(id): Path<String>,
    Json(b): Json<PushBody>,
) -> Result<Json<Value>, WebError> {
    let round = key(&id, "round")?;
    let n = gw_app::notify::push_call_down(
        &s.store,
        &s.clock,
        &a.principal,
        round,
        b.starts_ms,
        b.again,
    )
    .await?;
    s.alerts.wake();
    Ok(Json(json!({ "round": round.to_string(), "queued": n })))
}

#[derive(Debug, Deserialize)]
pub struct DelayBody {
    /// The slot's start (Unix ms).
    #[serde(alias = "starts_ms")]
    pub slot_ms: i64,
    /// The point whose groups are told (`STREET-ID`): a line is long at one
    /// point.
    pub point: String,
    /// Absent: the schedule's suggestion (the time the point's stations
    /// need to bring the line down to the bound).
    #[serde(default)]
    pub minutes: Option<u32>,
}

pub async fn delay_call_down(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    Path(id): Path<String>,
    Json(b): Json<DelayBody>,
) -> Result<Json<Value>, WebError> {
    let round = key(&id, "round")?;
    let point = key(&b.point, "point")?;
    let d = gw_app::call_delay::delay_call_down(
        &s.store,
        &s.clock,
        &a.principal,
        round,
        gw_app::call_delay::SlotAt::Ms(b.slot_ms),
        point,
        b.minutes,
    )
    .await?;
    s.alerts.wake();
    Ok(Json(json!(d)))
}
