//! JSON API handlers. Each takes its caller (`Auth`) where it has one and asks
//! `gw_app::access` about the caller's territory before touching data.

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use gw_app::access::{self as acc, Principal};
use gw_app::registry::{self, ResidentView};
use gw_domain::access::{Action, Field};
use gw_domain::idnumber::Document;
use gw_domain::ids::Key;
use gw_domain::phone::{Phone, PhoneRelation};
use gw_domain::resident::{Flag, NewResident, ResidentPhone};
use gw_domain::territory::{ControlStatus, ControlTarget};
use gw_store::registry::ResidentFilter;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::{AppState, Auth, ClientAddr, WebError, SESSION_COOKIE};

pub(crate) fn key(s: &str, what: &str) -> Result<Key, WebError> {
    s.parse::<Key>().map_err(|_| {
        WebError::bad_request(format!(
            "{what} 应为“街道-编号”，例如 1-42 / {what} must be STREET-ID, e.g. 1-42: {s}"
        ))
    })
}

async fn authorize_at(
    s: &AppState,
    p: &Principal,
    action: Action,
    kind: &str,
    k: Key,
) -> Result<(), WebError> {
    let place = acc::place_of(&s.store, kind, k).await?;
    acc::authorize(p, &s.clock, action, &place)?;
    Ok(())
}

// ----- login ----------------------------------------------------------------

#[derive(Debug, Deserialize)]
pub struct LoginBody {
    pub username: String,
    pub password: String,
}

pub async fn login(
    State(s): State<AppState>,
    Extension(addr): Extension<ClientAddr>,
    headers: HeaderMap,
    Json(b): Json<LoginBody>,
) -> Result<Response, WebError> {
    let address = addr.0;
    let session = acc::login(&s.store, &s.clock, &b.username, &b.password, &address).await?;
    let cookie = session_cookie(&s, &headers, &session.token);
    let body = json!({ "token": session.token, "csrf": session.csrf, "expires_ms": session.expires_ms, "user": session.user });
    Ok(([(header::SET_COOKIE, cookie)], Json(body)).into_response())
}

/// The session cookie for a new login (API and login page alike).
pub(crate) fn session_cookie(s: &AppState, headers: &HeaderMap, token: &str) -> String {
    let secure = s.secure_cookies
        || headers
            .get("x-forwarded-proto")
            .is_some_and(|v| v == "https");
    format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{}",
        acc::SESSION_MS / 1000,
        if secure { "; Secure" } else { "" }
    )
}

pub async fn logout(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
) -> Result<Response, WebError> {
    acc::logout(&s.store, &a.token).await?;
    let clear = format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0");
    Ok((
        [(header::SET_COOKIE, clear)],
        Json(json!({ "logged_out": true })),
    )
        .into_response())
}

pub async fn me(Extension(a): Extension<Auth>) -> Json<Value> {
    Json(json!({ "user": *a.principal }))
}

#[derive(Debug, Deserialize)]
pub struct PasswordBody {
    pub old: String,
    pub new: String,
}

pub async fn change_password(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    Json(b): Json<PasswordBody>,
) -> Result<Json<Value>, WebError> {
    acc::change_password(&s.store, &s.clock, &a.principal, &b.old, &b.new).await?;
    Ok(Json(
        json!({ "changed": true, "note": "所有会话已退出，请重新登录 / every session ended: log in again" }),
    ))
}

// ----- registry ---------------------------------------------------------------

pub async fn territory(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
) -> Result<Json<Value>, WebError> {
    let nodes = acc::scope(&a.principal, &s.clock, Action::ReadRegistry);
    Ok(Json(
        json!({ "streets": registry::territory_tree_in(&s.store, &nodes).await? }),
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
    Extension(a): Extension<Auth>,
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
            if f.street.is_some_and(|st| st != k.street) {
                return Err(WebError::bad_request(
                    "筛选条件属于不同街道 / the filters name different streets",
                ));
            }
            f.street = Some(k.street);
            *slot = Some(k.id);
        }
    }
    let mut action = Action::ReadRegistry;
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
                // Filtering by a health flag reveals it: only where health data may be seen.
                action = Action::FilterHealth;
            }
            f.flags_any |= flag.bit();
        }
    }
    if action == Action::FilterHealth && !a.principal.can_somewhere(action, s.clock.now_ms()) {
        return Err(WebError { status: StatusCode::FORBIDDEN, code: "forbidden", message: "按健康标记筛选需要相应权限 / filtering by a health flag needs a role allowed to see health data".into() });
    }
    if let Some(st) = &q.status {
        if st != "active" && st != "pending" {
            return Err(WebError::bad_request(
                "status 应为 active 或 pending / status must be active or pending",
            ));
        }
        f.status = Some(st.clone());
    }
    f.scope = Some(acc::scope(&a.principal, &s.clock, action));
    let rows = s.store.residents(&f).await?;
    if action == Action::FilterHealth {
        registry::record_health_list(
            &s.store,
            &s.clock,
            &a.principal,
            &f,
            q.flag.as_deref().unwrap_or(""),
            &rows,
            &a.address,
        )
        .await?;
    }
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
    Extension(a): Extension<Auth>,
    Query(q): Query<SearchQuery>,
) -> Result<Json<Value>, WebError> {
    let nodes = acc::scope(&a.principal, &s.clock, Action::ReadRegistry);
    let rows = registry::search(
        &s.store,
        q.street,
        &nodes,
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
    Extension(a): Extension<Auth>,
    Path(id): Path<String>,
) -> Result<Json<ResidentView>, WebError> {
    let k = key(&id, "resident")?;
    authorize_at(&s, &a.principal, Action::ReadRegistry, "resident", k).await?;
    let r = s.store.resident(k.street, k.id).await?;
    Ok(Json(ResidentView::masked(&r, s.clock.today())))
}

#[derive(Debug, Deserialize)]
pub struct RevealBody {
    pub field: String,
}

/// One field of one resident in full; allowed by role × field, audited.
pub async fn reveal(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    Path(id): Path<String>,
    Json(b): Json<RevealBody>,
) -> Result<Json<Value>, WebError> {
    let k = key(&id, "resident")?;
    let field = Field::from_code(&b.field).ok_or_else(|| {
        WebError::bad_request(
            "field 应为 phone、document 或 health / field must be phone, document or health",
        )
    })?;
    let value = acc::reveal(&s.store, &s.clock, &a.principal, k, field, &a.address).await?;
    Ok(Json(
        json!({ "id": k.to_string(), "field": field.code(), "value": value, "audited": true }),
    ))
}

async fn household_json(s: &AppState, k: Key) -> Result<Value, WebError> {
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
    Ok(json!({
        "id": k.to_string(),
        "address": registry::address_text(first),
        "community": first.community,
        "grid": first.grid,
        "members": rows.iter().map(|r| ResidentView::masked(r, today)).collect::<Vec<_>>(),
    }))
}

pub async fn get_household(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    Path(id): Path<String>,
) -> Result<Json<Value>, WebError> {
    let k = key(&id, "household")?;
    authorize_at(&s, &a.principal, Action::ReadRegistry, "household", k).await?;
    Ok(Json(household_json(&s, k).await?))
}

pub async fn create_household_link(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Value>), WebError> {
    let k = key(&id, "household")?;
    let token = acc::create_household_link(&s.store, &s.clock, &a.principal, k).await?;
    Ok((
        StatusCode::CREATED,
        Json(
            json!({ "household": k.to_string(), "token": token, "path": format!("/api/v1/household-link/{token}"), "page": format!("/h/{token}") }),
        ),
    ))
}

pub async fn revoke_household_links(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    Path(id): Path<String>,
) -> Result<Json<Value>, WebError> {
    let k = key(&id, "household")?;
    let n = acc::revoke_household_links(&s.store, &s.clock, &a.principal, k).await?;
    Ok(Json(json!({ "household": k.to_string(), "revoked": n })))
}

/// What a household's own link shows: its members (masked), no login.
pub async fn open_household_link(
    State(s): State<AppState>,
    Path(token): Path<String>,
) -> Result<Json<Value>, WebError> {
    // Public (the token is the key): the address, masked names and codes only.
    let h = gw_app::codes::by_household_link(&s.store, &s.clock, &token)
        .await?
        .ok_or_else(|| WebError::not_found("链接无效或已撤销 / this link is unknown or revoked"))?;
    if h.members.is_empty() {
        return Err(WebError::not_found(
            "这一户没有居民 / this household has no residents",
        ));
    }
    let members: Vec<Value> = h
        .members
        .iter()
        .map(|(name, code)| json!({ "name": name, "code": code }))
        .collect();
    Ok(Json(json!({
        "address": h.address,
        "members": members,
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
    Extension(a): Extension<Auth>,
    Json(b): Json<PendingBody>,
) -> Result<(StatusCode, Json<Value>), WebError> {
    let name = gw_domain::text::clean(&b.name);
    if name.is_empty() {
        return Err(WebError::bad_request("请填写姓名 / name is required"));
    }
    let mut r = NewResident::named(&name);
    if let Some(p) = b.phone.as_deref().filter(|p| !p.trim().is_empty()) {
        let phone = Phone::parse(p).map_err(|e| {
            WebError::bad_request(gw_domain::text::labelled(
                "电话无效",
                "phone",
                &e.to_string(),
            ))
        })?;
        r.phones.push(ResidentPhone {
            phone,
            relation: PhoneRelation::Own,
        });
    }
    if let Some(d) = b.document.as_deref().filter(|d| !d.trim().is_empty()) {
        r.document = Some(Document::guess(d).map_err(|e| {
            WebError::bad_request(gw_domain::text::labelled(
                "证件号无效",
                "document",
                &e.to_string(),
            ))
        })?);
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
    authorize_at(
        &s,
        &a.principal,
        Action::WriteRegistry,
        "street",
        Key {
            street: b.street,
            id: b.street,
        },
    )
    .await?;
    // A document number names one person in the city: someone registered
    // already is scanned or matched, not added again.
    let registered = || {
        WebError::from(gw_store::StoreError::Conflict(
            "此证件号已有人登记，不再新增待核实人员：请直接用证件号扫码，或在名册中查找此人 / this document number is registered already: no walk-in is added; scan the document, or find the person in the registry".into(),
        ))
    };
    if let Some(d) = &r.document {
        if !s
            .store
            .document_owners(&[(d.kind, d.number.clone())])
            .await?
            .is_empty()
        {
            return Err(registered());
        }
    }
    let id = match s
        .store
        .add_pending_resident(b.street, &gw_app::new_uid(), &r, s.clock.now_ms())
        .await
    {
        Ok(id) => id,
        // Registered by someone else at the same moment.
        Err(gw_store::StoreError::Conflict(_)) if r.document.is_some() => return Err(registered()),
        Err(e) => return Err(e.into()),
    };
    let k = Key {
        street: b.street,
        id,
    };
    acc::record(
        &s.store,
        &s.clock,
        &a.principal,
        "create_resident",
        (b.street, "resident", &k.to_string()),
        "pending walk-in",
        &a.address,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "id": k.to_string(), "status": "pending" })),
    ))
}

#[derive(Debug, Deserialize)]
pub struct MatchBody {
    pub target: String,
    /// Merge although the names differ (the walk-in's was mistyped).
    #[serde(default)]
    pub despite_name: bool,
}

#[derive(Debug, Deserialize)]
pub struct MoveBody {
    /// The household they move to, STREET-ID.
    pub household: String,
}

/// Moves one resident to another household of the street; audited.
pub async fn move_resident(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    Path(id): Path<String>,
    Json(b): Json<MoveBody>,
) -> Result<Json<Value>, WebError> {
    let k = key(&id, "resident")?;
    let h = key(&b.household, "household")?;
    gw_app::registry::move_resident(&s.store, &s.clock, &a.principal, k, h).await?;
    Ok(Json(
        json!({ "resident": k.to_string(), "household": h.to_string() }),
    ))
}

#[derive(Debug, Deserialize)]
pub struct LeaveBody {
    /// `deceased` (离世), `moved_out` (迁出本街道), or `none` to undo a
    /// mistaken record.
    pub reason: String,
    /// The day they left, YYYY-MM-DD (today when none).
    #[serde(default)]
    pub on: Option<String>,
}

/// Records that a resident left (deceased, moved out of the street) or
/// undoes it (`reason: none`); audited.
pub async fn leave_resident(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    Path(id): Path<String>,
    Json(b): Json<LeaveBody>,
) -> Result<Json<gw_app::registry::Left>, WebError> {
    let k = key(&id, "resident")?;
    if b.reason == "none" {
        return Ok(Json(
            gw_app::registry::unleave(&s.store, &s.clock, &a.principal, k).await?,
        ));
    }
    let reason = gw_domain::resident::LeaveReason::parse(&b.reason).ok_or_else(|| {
        WebError::bad_request(
            "reason 应为 deceased（离世）、moved_out（迁出本街道）或 none（撤销）/ reason must be deceased, moved_out or none",
        )
    })?;
    let on = match b.on.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
        Some(d) => Some(
            gw_domain::date::Date::parse(d)
                .map_err(|_| WebError::bad_request("on 应为 YYYY-MM-DD / on must be YYYY-MM-DD"))?,
        ),
        None => None,
    };
    Ok(Json(
        gw_app::registry::leave(&s.store, &s.clock, &a.principal, k, reason, on).await?,
    ))
}

#[derive(Debug, Deserialize)]
pub struct FlagsBody {
    #[serde(default)]
    pub set: Vec<String>,
    #[serde(default)]
    pub clear: Vec<String>,
}

/// Flags set and cleared on one resident (a health flag needs the right to
/// see health flags); audited.
pub async fn set_flags(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    Path(id): Path<String>,
    Json(b): Json<FlagsBody>,
) -> Result<Json<Value>, WebError> {
    let k = key(&id, "resident")?;
    let parse = |codes: &[String]| {
        gw_domain::resident::Flag::from_codes(codes).map_err(WebError::bad_request)
    };
    let (set, clear) = (parse(&b.set)?, parse(&b.clear)?);
    let flags =
        gw_app::registry::set_flags(&s.store, &s.clock, &a.principal, k, &set, &clear).await?;
    Ok(Json(
        json!({ "resident": k.to_string(), "flags": flags, "health_flags": "masked" }),
    ))
}

pub async fn match_pending(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    Path(id): Path<String>,
    Json(b): Json<MatchBody>,
) -> Result<Json<Value>, WebError> {
    let p = key(&id, "resident")?;
    let t = key(&b.target, "target")?;
    gw_app::registry::match_walk_in(
        &s.store,
        &s.clock,
        &a.principal,
        p,
        t,
        b.despite_name,
        &a.address,
    )
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
    Extension(a): Extension<Auth>,
    Query(q): Query<ControlQuery>,
) -> Result<Json<Value>, WebError> {
    let kind = target_kind(&q.target_kind)?;
    let k = key(&q.target_id, "target_id")?;
    authorize_at(&s, &a.principal, Action::ReadRegistry, kind.code(), k).await?;
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
}

pub async fn set_control(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    Json(b): Json<ControlBody>,
) -> Result<(StatusCode, Json<Value>), WebError> {
    let kind = target_kind(&b.target_kind)?;
    let k = key(&b.target_id, "target_id")?;
    let status = ControlStatus::from_code(&b.status).ok_or_else(|| {
        WebError::bad_request("status 应为 sealed（封控）、controlled（管控）、precaution（防范）或 temporary（临时管控）/ status must be sealed, controlled, precaution or temporary")
    })?;
    let set = gw_app::registry::set_control(
        &s.store,
        &s.clock,
        &a.principal,
        &gw_app::registry::ControlAsk {
            target: kind,
            key: k,
            status,
            from_ms: b.from_ms,
            until_ms: b.until_ms,
            reason: &b.reason,
        },
        &a.address,
    )
    .await?;
    if set.held.messages > 0 {
        s.alerts.wake();
    }
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "id": set.order.to_string(),
            "calls_held": set.held.calls_held,
            "groups_told": set.held.groups_told,
            "notice_failed": set.held.notice_failed,
        })),
    ))
}

#[derive(Debug, Deserialize)]
pub struct AuditQuery {
    pub user: Option<String>,
    pub resident: Option<String>,
    pub since_ms: Option<i64>,
    pub limit: Option<i64>,
}

pub async fn audit(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    Query(q): Query<AuditQuery>,
) -> Result<Json<Value>, WebError> {
    // The log spans every street: only a city-wide grant reads it.
    if !a.principal.grants.iter().any(|g| {
        g.node == gw_domain::access::Node::City
            && g.in_force(s.clock.now_ms())
            && gw_domain::access::role_allows(g.role, Action::ReadAudit)
    }) {
        return Err(WebError {
            status: StatusCode::FORBIDDEN,
            code: "forbidden",
            message: "审计日志需要全市范围的管理员 / the audit log needs a city-wide admin grant"
                .into(),
        });
    }
    let actor = q.user.map(|u| {
        if u.contains(':') {
            u
        } else {
            format!("user:{u}")
        }
    });
    let target = match &q.resident {
        Some(r) => Some(key(r, "resident")?.to_string()),
        None => None,
    };
    let rows = s
        .store
        .audit_events(
            actor.as_deref(),
            target.as_deref(),
            q.since_ms,
            q.limit.unwrap_or(200).clamp(1, 5000),
        )
        .await?;
    Ok(Json(json!({ "events": rows.iter().map(|e| json!({
        "street": e.street_id, "at_ms": e.at_ms, "actor": e.actor, "action": e.action,
        "target_kind": e.target_kind, "target_id": e.target_id, "detail": e.detail, "address": e.address,
    })).collect::<Vec<_>>() })))
}

fn code_json(k: Key, c: &gw_domain::testing::PersonalCode) -> Value {
    json!({ "resident": k.to_string(), "code": c.text(), "generation": c.generation, "key": c.key_id })
}

/// A resident's personal code (for the printed sheet and the household link).
pub async fn personal_code(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    Path(id): Path<String>,
) -> Result<Json<Value>, WebError> {
    let k = key(&id, "resident")?;
    let c = gw_app::codes::show(&s.store, &s.clock, &a.principal, k).await?;
    Ok(Json(code_json(k, &c)))
}

/// Revokes a lost code and issues the next generation.
pub async fn reissue_code(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    Path(id): Path<String>,
) -> Result<Json<Value>, WebError> {
    let k = key(&id, "resident")?;
    let c = gw_app::codes::reissue(&s.store, &s.clock, &a.principal, k).await?;
    Ok(Json(code_json(k, &c)))
}

// ----- testing rounds -----------------------------------------------------------

#[derive(Debug, Deserialize)]
pub struct RoundBody {
    pub street: i64,
    pub name: String,
    pub starts_ms: i64,
    pub ends_ms: i64,
    pub pool_size: u32,
    /// Community ids (STREET-ID) the round covers; absent or empty: the whole street.
    #[serde(default)]
    pub communities: Vec<String>,
    /// An earlier round of the street (STREET-ID) whose points, and the
    /// grants of their volunteers and point managers, the new round takes over.
    #[serde(default)]
    pub points_from: Option<String>,
}

pub async fn create_round(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    Json(b): Json<RoundBody>,
) -> Result<(StatusCode, Json<Value>), WebError> {
    let points_from = b
        .points_from
        .as_deref()
        .filter(|f| !f.is_empty())
        .map(|f| key(f, "round"))
        .transpose()?;
    let made = gw_app::testing::create_round_carrying(
        &s.store,
        &s.clock,
        &a.principal,
        &gw_app::testing::NewRound {
            street: b.street,
            name: &b.name,
            starts_ms: b.starts_ms,
            ends_ms: b.ends_ms,
            pool_size: b.pool_size,
            communities: b
                .communities
                .iter()
                .map(|c| key(c, "community"))
                .collect::<Result<Vec<_>, _>>()?,
        },
        points_from,
    )
    .await?;
    let mut body = json!({ "id": made.id.to_string(), "state": "planned" });
    if let Some(c) = &made.carried {
        body["carried"] = json!(c);
        body["summary"] = json!(c.summary());
    }
    Ok((StatusCode::CREATED, Json(body)))
}

pub async fn open_round(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    Path(id): Path<String>,
) -> Result<Json<Value>, WebError> {
    let k = key(&id, "round")?;
    let n = gw_app::testing::open_round(&s.store, &s.clock, &a.principal, k).await?;
    Ok(Json(
        json!({ "id": k.to_string(), "state": "open", "expected": n }),
    ))
}

#[derive(Debug, Deserialize)]
pub struct PointBody {
    pub name: String,
    pub community: String,
    /// Stations (2 unless given), compound, position, hours, rate.
    #[serde(flatten)]
    pub point: PointChangeBody,
}

/// A point's compound (absent: as it stands; `Some(None)`: outside any) and
/// position (metres east, north).
type PointPlace = (Option<Option<Key>>, Option<(i32, i32)>);

/// The compound and position a point body gives, checked.
fn point_place_fields(
    compound: &Option<String>,
    x_m: Option<i32>,
    y_m: Option<i32>,
) -> Result<PointPlace, WebError> {
    // "" or "outside": out of any compound.
    let compound = match compound.as_deref().map(str::trim) {
        Some("" | "outside") => Some(None),
        Some(c) => Some(Some(key(c, "compound")?)),
        None => None,
    };
    let pos = match (x_m, y_m) {
        (Some(x), Some(y)) => Some((x, y)),
        (None, None) => None,
        _ => {
            return Err(WebError::bad_request(
                "x_m 与 y_m 须同时给出 / give both x_m and y_m, or neither".to_string(),
            ))
        }
    };
    Ok((compound, pos))
}

/// What may change on a running point (all optional: what is absent stays).
#[derive(Debug, Deserialize)]
pub struct PointChangeBody {
    pub stations: Option<u32>,
    /// The compound the point stands in (STREET-ID); `""` or `"outside"`:
    /// outside any compound; absent: as it stands (a new point: outside).
    pub compound: Option<String>,
    pub x_m: Option<i32>,
    pub y_m: Option<i32>,
    pub opens_ms: Option<i64>,
    pub closes_ms: Option<i64>,
    /// People per station per hour (default 100).
    pub rate_per_station_h: Option<u32>,
}

impl PointChangeBody {
    /// The schedule fields, checked.
    fn schedule(&self) -> Result<gw_app::schedule::PointSchedule, WebError> {
        let (compound, pos) = point_place_fields(&self.compound, self.x_m, self.y_m)?;
        Ok(gw_app::schedule::PointSchedule {
            compound: compound.flatten(),
            outside: compound == Some(None),
            pos,
            opens_ms: self.opens_ms,
            closes_ms: self.closes_ms,
            rate_per_station_h: self.rate_per_station_h,
        })
    }
}

/// A change of a running point: its name, and the fields a new point takes.
#[derive(Debug, Deserialize)]
pub struct PointRenameBody {
    pub name: Option<String>,
    #[serde(flatten)]
    pub point: PointChangeBody,
}

/// Changes a point (more stations, other hours, its name …); answers the point as it stands.
pub async fn change_point(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    Path(id): Path<String>,
    Json(b): Json<PointRenameBody>,
) -> Result<Json<Value>, WebError> {
    let point = key(&id, "point")?;
    let v = gw_app::schedule::change_point(
        &s.store,
        &s.clock,
        &a.principal,
        point,
        b.point.stations,
        b.name.as_deref(),
        b.point.schedule()?,
    )
    .await?;
    Ok(Json(json!(v)))
}

/// Removes a point added by mistake (409 once anything happened at it).
pub async fn remove_point(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    Path(id): Path<String>,
) -> Result<Json<Value>, WebError> {
    let point = key(&id, "point")?;
    gw_app::schedule::remove_point(&s.store, &s.clock, &a.principal, point).await?;
    Ok(Json(json!({ "id": point.to_string(), "removed": true })))
}

pub async fn add_point(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    Path(id): Path<String>,
    Json(b): Json<PointBody>,
) -> Result<(StatusCode, Json<Value>), WebError> {
    let round = key(&id, "round")?;
    let community = key(&b.community, "community")?;
    let k = gw_app::schedule::add_point(
        &s.store,
        &s.clock,
        &a.principal,
        round,
        &b.name,
        community,
        b.point.stations.unwrap_or(2),
        b.point.schedule()?,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(json!({ "id": k.to_string() }))))
}

#[derive(Debug, Deserialize)]
pub struct TubeBody {
    pub barcode: String,
    /// A station replaying its own open: the tube already open under this
    /// barcode at this point is answered (200) instead of a conflict.
    #[serde(default)]
    pub reuse: bool,
    /// What the tube is for, as a scan's purpose: `routine` (default) and
    /// `door_to_door` pool, `retest` is a single tube, `resample` pools again.
    #[serde(default)]
    pub purpose: Option<String>,
}

pub async fn open_tube(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    Path(id): Path<String>,
    Json(b): Json<TubeBody>,
) -> Result<(StatusCode, Json<Value>), WebError> {
    let point = key(&id, "point")?;
    let use_ = gw_app::testing::TubeUse::of_purpose(b.purpose.as_deref().unwrap_or("routine"))?;
    if b.reuse {
        let (k, new, warning) = gw_app::testing::open_tube_reusing(
            &s.store,
            &s.clock,
            &a.principal,
            &s.scans,
            point,
            &b.barcode,
            use_,
        )
        .await?;
        // The swabs already in a tube opened before (a station enrolled
        // again, or its tube scanned again): the station counts on from them.
        let (status, state, fill) = if new {
            (StatusCode::CREATED, "open".to_string(), 0)
        } else {
            let t = s.store.tube(k.street, k.id).await?;
            let (fill, _) = s
                .store
                .tube_and_point_counts(k.street, k.id, t.point_id)
                .await?;
            (StatusCode::OK, t.state, fill)
        };
        return Ok((
            status,
            Json(
                json!({ "id": k.to_string(), "state": state, "reused": !new, "fill": fill, "warning": warning }),
            ),
        ));
    }
    let (k, warning) = gw_app::testing::open_tube(
        &s.store,
        &s.clock,
        &a.principal,
        &s.scans,
        point,
        &b.barcode,
        use_,
        false,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "id": k.to_string(), "state": "open", "fill": 0, "warning": warning })),
    ))
}

pub async fn close_tube(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    Path(id): Path<String>,
) -> Result<Json<Value>, WebError> {
    let k = key(&id, "tube")?;
    let state = match gw_app::testing::close_tube(&s.store, &s.clock, &a.principal, k).await? {
        gw_app::testing::Closed::Closed => "closed",
        gw_app::testing::Closed::Withdrawn => "withdrawn",
    };
    Ok(Json(json!({ "id": k.to_string(), "state": state })))
}

#[derive(Debug, Deserialize)]
pub struct VoidBody {
    #[serde(default)]
    pub reason: String,
}

#[derive(Debug, Deserialize)]
pub struct VoidScanBody {
    pub client_id: String,
    #[serde(default)]
    pub reason: String,
}

/// A station's "undo last scan": takes a scan back by its client id, stored or not.
pub async fn void_scan(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    Path(id): Path<String>,
    Json(b): Json<VoidScanBody>,
) -> Result<Json<gw_app::testing::VoidOutcome>, WebError> {
    let k = key(&id, "tube")?;
    Ok(Json(
        gw_app::testing::void_scan(&s.store, &s.clock, &a.principal, k, &b.client_id, &b.reason)
            .await?,
    ))
}

/// Takes back a swab registered by mistake while its tube is at the point.
pub async fn void_swab(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    Path(id): Path<String>,
    Json(b): Json<VoidBody>,
) -> Result<Json<gw_app::testing::VoidOutcome>, WebError> {
    let k = key(&id, "registration")?;
    Ok(Json(
        gw_app::testing::void_swab(&s.store, &s.clock, &a.principal, k, &b.reason).await?,
    ))
}

#[derive(Debug, Deserialize)]
pub struct WalkIn {
    pub name: String,
    pub phone: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct ScanBody {
    pub client_id: String,
    #[serde(default)]
    pub code: String,
    /// A person on no roster: `{name, phone}` with an empty code.
    pub walk_in: Option<WalkIn>,
    pub purpose: Option<String>,
    pub station: Option<String>,
    pub scanned_ms: Option<i64>,
    /// The station's clock as it sends: corrects `scanned_ms` for a clock that is off.
    pub sent_ms: Option<i64>,
}

pub async fn scan(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    Path(id): Path<String>,
    Json(b): Json<ScanBody>,
) -> Result<Json<gw_app::testing::ScanOutcome>, WebError> {
    let tube = key(&id, "tube")?;
    let purpose = b.purpose.as_deref().unwrap_or("routine");
    let scan = gw_app::testing::Scan {
        tube,
        client_id: &b.client_id,
        code: &b.code,
        purpose,
        // An enrolled station is the station its token names, whatever the
        // body says (the points' measured rates count stations by it).
        station: match a.principal.username.strip_prefix("station:") {
            Some(own) if a.principal.is_station() => own,
            _ => b.station.as_deref().unwrap_or(""),
        },
        scanned_ms: b.scanned_ms.unwrap_or_else(|| s.clock.now_ms()),
        sent_ms: b.sent_ms.filter(|_| b.scanned_ms.is_some()),
        walk_in: b
            .walk_in
            .as_ref()
            .map(|w| (w.name.as_str(), w.phone.as_deref())),
    };
    match gw_app::testing::scan_checked(&s.store, &s.clock, &a.principal, &s.scans, &scan).await {
        Ok(o) => Ok(Json(o)),
        // Nothing stored and nothing to keep: the station drops the scan and
        // has the person's code read again (its own code, so it can tell).
        Err(gw_app::testing::ScanRefusal::Rescan(message)) => Err(WebError {
            status: StatusCode::BAD_REQUEST,
            code: "rescan",
            message,
        }),
        Err(gw_app::testing::ScanRefusal::Auth(e)) => Err(e.into()),
    }
}

// Coverage, missed lists and round-over-round: see coverage_api.rs.

pub async fn schedule(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    Path(id): Path<String>,
) -> Result<Json<Value>, WebError> {
    let round = key(&id, "round")?;
    let v = gw_app::schedule::view(&s.store, &s.clock, &a.principal, round).await?;
    Ok(Json(json!(v)))
}

#[derive(Debug, Default, Deserialize)]
pub struct PlanBody {
    pub slot_minutes: Option<u32>,
    pub max_queue: Option<u32>,
}

pub async fn plan_schedule(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    Path(id): Path<String>,
    body: Option<Json<PlanBody>>,
) -> Result<Json<Value>, WebError> {
    let round = key(&id, "round")?;
    let b = body.map(|Json(b)| b).unwrap_or_default();
    let v = gw_app::schedule::plan(
        &s.store,
        &s.clock,
        &a.principal,
        round,
        gw_app::schedule::PlanOptions {
            slot_minutes: b.slot_minutes,
            max_queue: b.max_queue,
        },
    )
    .await?;
    Ok(Json(json!(v)))
}

// ----- scanning stations -----------------------------------------------------------

#[derive(Debug, Deserialize)]
pub struct StationBody {
    pub label: Option<String>,
}

/// A one-time enrolment code for a new station at a point (shown once).
pub async fn issue_station(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    Path(id): Path<String>,
    Json(b): Json<StationBody>,
) -> Result<(StatusCode, Json<gw_app::stations::Issued>), WebError> {
    let point = key(&id, "point")?;
    let issued = gw_app::stations::issue(
        &s.store,
        &s.clock,
        &a.principal,
        point,
        b.label.as_deref().unwrap_or(""),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(issued)))
}

#[derive(Debug, Deserialize)]
pub struct EnrollBody {
    pub code: String,
}

/// Exchanges a one-time enrolment code for the station's bearer token.
pub async fn enroll_station(
    State(s): State<AppState>,
    Json(b): Json<EnrollBody>,
) -> Result<Json<gw_app::stations::Enrolled>, WebError> {
    gw_app::stations::enroll(&s.store, &s.clock, b.code.trim())
        .await?
        .map(Json)
        .ok_or_else(|| WebError::not_found("登记码无效、已使用或已过期 / this enrolment code is unknown, used, revoked or expired"))
}

#[derive(Debug, Deserialize)]
pub struct GridBody {
    /// The grid, STREET-ID.
    pub grid: String,
}

/// Places a building in one of its community's grids (its residents go with it).
pub async fn assign_building(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    Path(id): Path<String>,
    Json(b): Json<GridBody>,
) -> Result<Json<Value>, WebError> {
    let k = key(&id, "building")?;
    let g = key(&b.grid, "grid")?;
    let row = gw_app::registry::assign_building(&s.store, &s.clock, &a.principal, k, g).await?;
    Ok(Json(json!({
        "building": k.to_string(),
        "grid": Key { street: row.street_id, id: row.grid_id }.to_string(),
        "grid_name": row.grid,
        "community": row.community,
    })))
}

pub async fn point_stations(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    Path(id): Path<String>,
) -> Result<Json<Value>, WebError> {
    let k = key(&id, "point")?;
    let items = gw_app::stations::list(&s.store, &s.clock, &a.principal, k).await?;
    Ok(Json(json!({ "point": k.to_string(), "items": items })))
}

pub async fn revoke_station(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    Path(id): Path<String>,
) -> Result<Json<Value>, WebError> {
    let k = key(&id, "station")?;
    gw_app::stations::revoke(&s.store, &s.clock, &a.principal, k).await?;
    // Its token must stop working at once here, not when the cache expires.
    s.stations.clear();
    Ok(Json(json!({ "station": k.to_string(), "revoked": true })))
}

#[derive(Debug, Deserialize)]
pub struct CorrectionBody {
    pub barcode: String,
    pub result: String,
    pub reason: String,
}

/// The lab's corrected result for one tube, with the reason.
pub async fn correct_result(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    Path(id): Path<String>,
    Json(b): Json<CorrectionBody>,
) -> Result<Json<gw_app::testing::Correction>, WebError> {
    let round = key(&id, "round")?;
    Ok(Json(
        gw_app::testing::correct_result(
            &s.store,
            &s.clock,
            &a.principal,
            round,
            &b.barcode,
            &b.result,
            &b.reason,
        )
        .await?,
    ))
}

#[derive(Debug, Deserialize)]
pub struct ResultsBody {
    pub results: Vec<gw_app::testing::TubeResult>,
}

/// The lab's results by tube barcode; an abnormal pool is traced in the answer.
pub async fn post_results(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    Path(id): Path<String>,
    Json(b): Json<ResultsBody>,
) -> Result<Json<gw_app::testing::ResultsSummary>, WebError> {
    let round = key(&id, "round")?;
    let sum =
        gw_app::testing::post_results(&s.store, &s.clock, &a.principal, round, &b.results, None)
            .await?;
    if sum.notifications > 0 {
        s.alerts.wake();
    }
    Ok(Json(sum))
}

#[derive(Debug, Deserialize)]
pub struct ResultsFileQuery {
    /// The file's name (`4月2日结果.xlsx`): its extension gives the type.
    pub filename: Option<String>,
}

/// The lab's results file as the raw request body (`.xlsx`, `.xls` or `.csv`
/// in UTF-8 or GBK). The file's name comes in `?filename=`, else its type
/// from `Content-Type`. A file with any problem is refused whole (422, every
/// problem listed with its sheet, row and column) and nothing is recorded.
pub async fn upload_results(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    Path(id): Path<String>,
    Query(q): Query<ResultsFileQuery>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let round = match key(&id, "round") {
        Ok(k) => k,
        Err(e) => return e.into_response(),
    };
    let name = match q.filename.filter(|f| !f.trim().is_empty()) {
        Some(f) => f,
        None => {
            let ct = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            let ext = if ct.contains("spreadsheetml") {
                "xlsx"
            } else if ct.contains("ms-excel") {
                "xls"
            } else if ct.starts_with("text/csv") || ct.starts_with("text/plain") {
                "csv"
            } else {
                return WebError::bad_request("请用 ?filename= 给出文件名（.xlsx、.xls 或 .csv），或设置 Content-Type / name the file with ?filename= (.xlsx, .xls or .csv) or send its Content-Type").into_response();
            };
            format!("results.{ext}")
        }
    };
    use gw_app::lab::UploadError;
    use gw_app::roster_file::FileError;
    match gw_app::lab::upload_results(&s.store, &s.clock, &a.principal, round, &name, &body).await {
        Ok(done) => {
            if done.summary.notifications > 0 {
                s.alerts.wake();
            }
            Json(done).into_response()
        }
        Err(UploadError::Auth(e)) => WebError::from(e).into_response(),
        Err(UploadError::File(e @ FileError::TooLarge { .. })) => WebError {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            code: "too_large",
            message: e.to_string(),
        }
        .into_response(),
        Err(UploadError::File(e)) => WebError {
            status: StatusCode::BAD_REQUEST,
            code: "bad_file",
            message: e.to_string(),
        }
        .into_response(),
        Err(e @ UploadError::Rows(_)) => {
            let message = e.to_string();
            let UploadError::Rows(issues) = e else {
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            };
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(json!({ "code": "bad_rows", "message": message, "issues": issues })),
            )
                .into_response()
        }
    }
}

pub async fn alerts(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    Path(id): Path<String>,
) -> Result<Json<Value>, WebError> {
    let round = key(&id, "round")?;
    Ok(Json(
        json!({ "round": round.to_string(), "alerts": gw_app::testing::alerts(&s.store, &s.clock, &a.principal, round).await? }),
    ))
}

/// `grid=` or `community=` (exactly one).
#[derive(Debug, Deserialize)]
pub struct DoorQuery {
    pub grid: Option<String>,
    pub community: Option<String>,
}

/// One grid's door-to-door list (`grid=`), or a whole community's, by grid
/// (`community=`: for whoever may read every grid's list of it).
pub async fn door_to_door(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    Path(id): Path<String>,
    Query(q): Query<DoorQuery>,
) -> Result<Json<Value>, WebError> {
    let round = key(&id, "round")?;
    // The evening before: a preview from the registry as it is.
    let preview = async || -> Result<bool, WebError> {
        Ok(s.store.round(round.street, round.id).await?.state == "planned")
    };
    match (q.grid.as_deref(), q.community.as_deref()) {
        (Some(grid), None) => {
            let grid = key(grid, "grid")?;
            let floors =
                gw_app::testing::door_to_door(&s.store, &s.clock, &a.principal, round, grid)
                    .await?;
            Ok(Json(
                json!({ "round": round.to_string(), "grid": grid.to_string(), "preview": preview().await?, "floors": floors }),
            ))
        }
        (None, Some(community)) => {
            let community = key(community, "community")?;
            let grids = gw_app::testing::door_to_door_community(
                &s.store,
                &s.clock,
                &a.principal,
                round,
                community,
            )
            .await?;
            Ok(Json(
                json!({ "round": round.to_string(), "community": community.to_string(), "preview": preview().await?, "grids": grids }),
            ))
        }
        _ => Err(WebError::bad_request(
            "请给出 grid= 或 community= 之一 / give one of grid= or community=",
        )),
    }
}

#[derive(Debug, Deserialize)]
pub struct AdviceQuery {
    pub lab_max: Option<u32>,
}

pub async fn pool_advice(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    Path(id): Path<i64>,
    Query(q): Query<AdviceQuery>,
) -> Result<Json<gw_app::testing::PoolAdviceView>, WebError> {
    Ok(Json(
        gw_app::testing::pool_advice(&s.store, &s.clock, &a.principal, id, q.lab_max).await?,
    ))
}

pub async fn testing_settings(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    Path(id): Path<i64>,
) -> Result<Json<gw_app::testing::SettingsView>, WebError> {
    Ok(Json(
        gw_app::testing::testing_settings(&s.store, &s.clock, &a.principal, id).await?,
    ))
}

pub async fn set_testing_settings(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    Path(id): Path<i64>,
    Json(change): Json<gw_app::testing::SettingsChange>,
) -> Result<Json<gw_app::testing::SettingsView>, WebError> {
    Ok(Json(
        gw_app::testing::set_testing_settings(&s.store, &s.clock, &a.principal, id, &change)
            .await?,
    ))
}

#[derive(Debug, Deserialize)]
pub struct StateBody {
    pub to: String,
}

pub async fn advance_round(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    Path(id): Path<String>,
    Json(b): Json<StateBody>,
) -> Result<Json<Value>, WebError> {
    let round = key(&id, "round")?;
    let state =
        gw_app::testing::advance_round(&s.store, &s.clock, &a.principal, round, &b.to).await?;
    let warnings =
        gw_app::testing::move_warnings(&s.store, &s.clock, &a.principal, round, &state).await;
    Ok(Json(
        json!({ "id": round.to_string(), "state": state, "warnings": warnings }),
    ))
}

#[derive(Debug, Deserialize)]
pub struct ExemptBody {
    pub resident: String,
    pub reason: String,
}

pub async fn exempt(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    Path(id): Path<String>,
    Json(b): Json<ExemptBody>,
) -> Result<Json<Value>, WebError> {
    let round = key(&id, "round")?;
    let resident = key(&b.resident, "resident")?;
    gw_app::testing::exempt(&s.store, &s.clock, &a.principal, round, resident, &b.reason).await?;
    Ok(Json(
        json!({ "round": round.to_string(), "resident": resident.to_string(), "reason": b.reason }),
    ))
}
