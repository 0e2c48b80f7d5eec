//! JSON API handlers for the registry.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use gw_app::registry::{self, ResidentView};
use gw_domain::idnumber::Document;
use gw_domain::ids::Key;
use gw_domain::phone::{Phone, PhoneRelation};
use gw_domain::resident::{Flag, NewResident, ResidentPhone};
use gw_domain::territory::{ControlStatus, ControlTarget};
use gw_store::control::ControlWrite;
use gw_store::registry::ResidentFilter;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::{AppState, WebError};

fn key(s: &str, what: &str) -> Result<Key, WebError> {
    s.parse::<Key>().map_err(|_| {
        WebError::bad_request(format!(
            "{what} 应为“街道-编号”，例如 1-42 / {what} must be STREET-ID, e.g. 1-42: {s}"
        ))
    })
}

pub async fn territory(State(s): State<AppState>) -> Result<Json<Value>, WebError> {
    Ok(Json(
        json!({ "streets": registry::territory_tree(&s.store).await? }),
    ))
}

#[derive(Debug, Deserialize, Default)]
pub struct ResidentQuery {
    pub street: Option<i64>,
    pub community: Option<String>,
    pub grid: Option<String>,
    pub building: Option<String>,
    pub household: Option<String>,
    /// Comma-separated flag codes; residents with any of them.
    pub flag: Option<String>,
    pub status: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

pub async fn list_residents(
    State(s): State<AppState>,
    Query(q): Query<ResidentQuery>,
) -> Result<Json<Value>, WebError> {
    let mut f = ResidentFilter {
        street: q.street,
        limit: q.limit.unwrap_or(100).clamp(1, 1000),
        offset: q.offset.unwrap_or(0).max(0),
        ..Default::default()
    };
    for (param, slot) in [
        (&q.community, &mut f.community),
        (&q.grid, &mut f.grid),
        (&q.building, &mut f.building),
        (&q.household, &mut f.household),
    ] {
        if let Some(v) = param {
            let k = key(v, "id")?;
            f.street = Some(k.street);
            *slot = Some(k.id);
        }
    }
    if let Some(flags) = &q.flag {
        for code in flags.split(',').filter(|c| !c.is_empty()) {
            let flag = Flag::from_code(code).ok_or_else(|| {
                let known: Vec<&str> = Flag::ALL.iter().map(|f| f.code()).collect();
                WebError::bad_request(format!(
                    "不认识的标记 unknown flag {code}; known: {}",
                    known.join(", ")
                ))
            })?;
            if registry::is_health_flag(flag) {
                // Filtering by a health flag would reveal it: not until
                // accounts and role grants exist (access issue).
                return Err(WebError {
                    status: StatusCode::FORBIDDEN,
                    code: "forbidden",
                    message: format!("按健康标记筛选需要相应权限 / filtering by the health flag {code} needs a role allowed to see health data"),
                });
            }
            f.flags_any |= flag.bit();
        }
    }
    if let Some(st) = &q.status {
        if st != "active" && st != "pending" {
            return Err(WebError::bad_request(
                "status 应为 active 或 pending / status must be active or pending",
            ));
        }
        f.status = Some(st.clone());
    }
    let rows = s.store.residents(&f).await?;
    let today = s.clock.today();
    let items: Vec<ResidentView> = rows
        .iter()
        .map(|r| ResidentView::masked(r, today))
        .collect();
    Ok(Json(
        json!({ "items": items, "limit": f.limit, "offset": f.offset }),
    ))
}

#[derive(Debug, Deserialize)]
pub struct SearchQuery {
    pub q: String,
    pub street: Option<i64>,
    pub limit: Option<i64>,
}

pub async fn search_residents(
    State(s): State<AppState>,
    Query(q): Query<SearchQuery>,
) -> Result<Json<Value>, WebError> {
    let rows = registry::search(
        &s.store,
        q.street,
        &q.q,
        q.limit.unwrap_or(50).clamp(1, 500),
    )
    .await?;
    let today = s.clock.today();
    let items: Vec<ResidentView> = rows
        .iter()
        .map(|r| ResidentView::masked(r, today))
        .collect();
    Ok(Json(json!({ "items": items })))
}

pub async fn get_resident(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ResidentView>, WebError> {
    let k = key(&id, "resident")?;
    let r = s.store.resident(k.street, k.id).await?;
    Ok(Json(ResidentView::masked(&r, s.clock.today())))
}

pub async fn get_household(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, WebError> {
    let k = key(&id, "household")?;
    let rows = s
        .store
        .residents(&ResidentFilter {
            street: Some(k.street),
            household: Some(k.id),
            limit: 100,
            ..Default::default()
        })
        .await?;
    let first = rows.first().ok_or_else(|| {
        WebError::not_found(format!(
            "household {k} has no residents or does not exist / 没有这一户"
        ))
    })?;
    let today = s.clock.today();
    Ok(Json(json!({
        "id": k.to_string(),
        "address": registry::address_text(first),
        "community": first.community,
        "grid": first.grid,
        "members": rows.iter().map(|r| ResidentView::masked(r, today)).collect::<Vec<_>>(),
    })))
}

#[derive(Debug, Deserialize)]
pub struct PendingBody {
    pub street: i64,
    pub name: String,
    pub phone: Option<String>,
    pub document: Option<String>,
    pub notes: Option<String>,
}

/// A walk-in sampled at a point who is on no roster.
pub async fn add_pending(
    State(s): State<AppState>,
    Json(b): Json<PendingBody>,
) -> Result<(StatusCode, Json<Value>), WebError> {
    let name = gw_domain::text::clean(&b.name);
    if name.is_empty() {
        return Err(WebError::bad_request("请填写姓名 / name is required"));
    }
    let mut r = NewResident::named(&name);
    if let Some(p) = b.phone.as_deref().filter(|p| !p.trim().is_empty()) {
        let phone =
            Phone::parse(p).map_err(|e| WebError::bad_request(format!("电话无效 / phone: {e}")))?;
        r.phones.push(ResidentPhone {
            phone,
            relation: PhoneRelation::Own,
        });
    }
    if let Some(d) = b.document.as_deref().filter(|d| !d.trim().is_empty()) {
        r.document = Some(
            Document::guess(d)
                .map_err(|e| WebError::bad_request(format!("证件号无效 / document: {e}")))?,
        );
        if let Some(Document {
            kind: gw_domain::idnumber::DocKind::IdCard,
            number,
        }) = &r.document
        {
            if let Ok(id) = gw_domain::idnumber::IdNumber::parse(number) {
                r.gender = id.gender();
                r.birth_date = id.birth_date();
            }
        }
    }
    r.notes = b.notes.unwrap_or_default();
    s.store.street_name(b.street).await?;
    let id = s
        .store
        .add_pending_resident(b.street, &gw_app::new_uid(), &r, s.clock.now_ms())
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "id": Key { street: b.street, id }.to_string(), "status": "pending" })),
    ))
}

#[derive(Debug, Deserialize)]
pub struct MatchBody {
    pub target: String,
}

pub async fn match_pending(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Json(b): Json<MatchBody>,
) -> Result<Json<Value>, WebError> {
    let p = key(&id, "resident")?;
    let t = key(&b.target, "target")?;
    if p.street != t.street {
        return Err(WebError::bad_request(
            "只能与同一街道的居民合并 / target must be in the same street",
        ));
    }
    s.store
        .match_pending(p.street, p.id, t.id, s.clock.now_ms())
        .await?;
    Ok(Json(json!({ "merged_into": t.to_string() })))
}

#[derive(Debug, Deserialize)]
pub struct ControlQuery {
    pub target_kind: String,
    pub target_id: String,
}

fn target_kind(s: &str) -> Result<ControlTarget, WebError> {
    ControlTarget::from_code(s)
        .ok_or_else(|| WebError::bad_request("target_kind 应为 compound/building/unit/household"))
}

pub async fn control_history(
    State(s): State<AppState>,
    Query(q): Query<ControlQuery>,
) -> Result<Json<Value>, WebError> {
    let kind = target_kind(&q.target_kind)?;
    let k = key(&q.target_id, "target_id")?;
    let rows = s.store.control_history(k.street, kind, k.id).await?;
    let now = s.clock.now_ms();
    let orders: Vec<gw_domain::territory::ControlOrder> =
        rows.iter().map(|r| r.order.clone()).collect();
    let current = gw_domain::territory::control_in_force(&orders, now).map(|o| o.status.code());
    Ok(Json(json!({
        "target_kind": kind.code(),
        "target_id": k.to_string(),
        "current": current,
        "history": rows.iter().map(|r| json!({
            "id": Key { street: r.street_id, id: r.id }.to_string(),
            "status": r.order.status.code(),
            "label": r.order.status.label_zh(),
            "from_ms": r.order.from_ms,
            "until_ms": r.order.until_ms,
            "reason": r.reason,
            "set_by": r.set_by,
            "created_ms": r.created_ms,
        })).collect::<Vec<_>>(),
    })))
}

#[derive(Debug, Deserialize)]
pub struct ControlBody {
    pub target_kind: String,
    pub target_id: String,
    pub status: String,
    pub from_ms: Option<i64>,
    pub until_ms: Option<i64>,
    pub reason: String,
    pub set_by: Option<String>,
}

pub async fn set_control(
    State(s): State<AppState>,
    Json(b): Json<ControlBody>,
) -> Result<(StatusCode, Json<Value>), WebError> {
    let kind = target_kind(&b.target_kind)?;
    let k = key(&b.target_id, "target_id")?;
    let status = ControlStatus::from_code(&b.status).ok_or_else(|| {
        WebError::bad_request("status 应为 sealed/controlled/precaution/temporary")
    })?;
    if b.reason.trim().is_empty() {
        return Err(WebError::bad_request("请填写原因 / reason is required"));
    }
    let now = s.clock.now_ms();
    let from = b.from_ms.unwrap_or(now);
    if b.until_ms.is_some_and(|u| u <= from) {
        return Err(WebError::bad_request(
            "结束时间必须晚于开始时间 / until must be after from",
        ));
    }
    let id = s
        .store
        .set_control(&ControlWrite {
            street_id: k.street,
            target: kind,
            target_id: k.id,
            status,
            from_ms: from,
            until_ms: b.until_ms,
            reason: b.reason.trim(),
            set_by: b.set_by.as_deref().unwrap_or("api"),
            now_ms: now,
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "id": Key { street: k.street, id }.to_string() })),
    ))
}
