//! Registry pages: the territory tree with counts, a grid's buildings, a
//! household (masked), search by name or 4-character tail, and the roster
//! upload with its error report. Thin over `gw_app::registry` and
//! `gw_app::import`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, OnceLock};

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use gw_domain::access::Action;
use gw_domain::ids::Key;
use gw_store::registry::ResidentFilter;
use gw_store::StoreError;
use serde::Deserialize;

use super::{gender_label, parse_key, Lang, Page};
use crate::{html_escape as esc, AppState, Auth, WebError};

/// Whether the caller sees names in full (volunteers see 王*芳).
pub(crate) fn full_names(s: &AppState, a: &Auth) -> bool {
    a.principal.sees_full_names(s.clock.now_ms())
}

/// The reader's half of a bilingual message `中文 / English` (both when unsplit).
pub(crate) fn pick(l: Lang, msg: &str) -> String {
    // The separator is "/ " after a space or a Chinese character ("…）/ no …").
    match gw_domain::text::split_languages(msg) {
        Some((zh, en)) => match l {
            Lang::Zh => zh.to_string(),
            Lang::En => en.to_string(),
        },
        None => msg.to_string(),
    }
}

// ----- the tree --------------------------------------------------------------------

pub async fn registry(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    page: Page,
) -> Response {
    let r = tree_body(&s, &a, page.lang).await;
    page.answer(r)
}

async fn tree_body(s: &AppState, a: &Auth, l: Lang) -> Result<(String, String), WebError> {
    let nodes = gw_app::access::scope(&a.principal, &s.clock, Action::ReadRegistry);
    let tree = gw_app::registry::territory_tree_in(&s.store, &nodes).await?;
    let counts = |n: &gw_app::registry::TreeNode| {
        format!(
            r#"<span class="counts3"><span>{} {}</span><span>{} {}</span><span>{} {}</span></span>"#,
            n.buildings,
            l.t("栋", "bldg"),
            n.households,
            l.t("户", "hh"),
            n.residents,
            l.t("人", "people"),
        )
    };
    let mut html = String::new();
    for st in &tree {
        html.push_str(&format!(
            r#"<section class="card"><h2>{} {}</h2><ul class="list tree">"#,
            esc(&st.name),
            counts(st)
        ));
        for c in &st.children {
            html.push_str(&format!(
                r#"<li><b>{}</b> {}<ul class="list">"#,
                esc(&c.name),
                counts(c)
            ));
            for g in &c.children {
                html.push_str(&format!(
                    r#"<li><a class="row" href="/grids/{}"><span>{}</span>{}</a></li>"#,
                    esc(&g.id),
                    esc(&g.name),
                    counts(g)
                ));
            }
            html.push_str("</ul></li>");
        }
        html.push_str("</ul></section>");
    }
    if tree.is_empty() {
        html = format!(
            r#"<section class="card"><p class="muted">{}</p></section>"#,
            l.t(
                "您的范围内还没有登记的楼栋和居民。",
                "No buildings or residents are registered in your area yet."
            )
        );
    }
    let import = if a
        .principal
        .can_somewhere(Action::ImportRoster, s.clock.now_ms())
    {
        format!(
            r#" <a class="button" href="/registry/import">{}</a>"#,
            l.t("导入花名册", "Import a roster")
        )
    } else {
        String::new()
    };
    let body = format!(
        r#"<h1>{h}</h1>{search}<p class="actions">{import}</p>{html}"#,
        h = l.t("辖区底数", "Registry"),
        search = search_form(l, ""),
    );
    Ok((l.t("辖区底数", "Registry").to_string(), body))
}

fn search_form(l: Lang, q: &str) -> String {
    format!(
        r#"<form method="get" action="/registry/search" class="card searchbar" role="search"><label>{lab}<input name="q" value="{q}" placeholder="{ph}" autocomplete="off"></label><button class="primary" type="submit">{b}</button></form>"#,
        lab = l.t("查找居民", "Find a resident"),
        q = esc(q),
        ph = l.t(
            "姓名，或电话/证件号末4位",
            "Name, or the last 4 of a phone or ID"
        ),
        b = l.t("查找", "Search"),
    )
}

// ----- search ------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    pub q: String,
}

pub async fn search(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    page: Page,
    Query(q): Query<SearchQuery>,
) -> Response {
    let l = page.lang;
    let nodes = gw_app::access::scope(&a.principal, &s.clock, Action::ReadRegistry);
    let (status, results) =
        match gw_app::registry::search(&s.store, None, &nodes, &q.q, 100).await {
            Ok(rows) => (StatusCode::OK, Ok(rows)),
            Err(gw_app::registry::SearchError::TailLength) => (
                StatusCode::BAD_REQUEST,
                Err(l.t(
                    "号码只能输入末4位（与脱敏显示一致），请改为4位数字或字母后再查。",
                    "Type only the last 4 characters of a number (as the masked value shows) and search again.",
                )),
            ),
            Err(e) => return page.error(e.into()),
        };
    let list = match results {
        Err(msg) => format!(r#"<p class="error" role="alert">{}</p>"#, esc(msg)),
        Ok(rows) if q.q.trim().is_empty() => {
            let _ = rows;
            String::new()
        }
        Ok(rows) if rows.is_empty() => format!(
            r#"<p class="muted">{}</p>"#,
            l.t(
                "没有找到。姓名需完整；号码只输末4位。",
                "Nobody found. Names must be complete; numbers only their last 4."
            )
        ),
        Ok(rows) => resident_table(&s, &a, l, &rows, true),
    };
    let body = format!(
        r#"<p><a href="/registry">← {back}</a></p><h1>{h}</h1>{form}<section class="card" id="results">{list}</section>"#,
        back = l.t("辖区底数", "Registry"),
        h = l.t("查找居民", "Find a resident"),
        form = search_form(l, &q.q),
    );
    page.render(status, l.t("查找居民", "Find a resident"), &body)
}

/// Residents as a masked table (names masked too for volunteers).
pub(crate) fn resident_table(
    s: &AppState,
    a: &Auth,
    l: Lang,
    rows: &[gw_store::registry::ResidentRow],
    with_household: bool,
) -> String {
    let today = s.clock.today();
    let full = full_names(s, a);
    let mut out = String::new();
    for r in rows {
        let v = gw_app::registry::ResidentView::masked(r, today);
        let name = if full {
            v.name.clone()
        } else {
            gw_domain::mask::name(&v.name)
        };
        // Someone who left (deceased, moved out of the street) stays listed,
        // marked, until the data is deleted with the emergency's end.
        let name = match v.left_reason.as_deref() {
            Some(reason) => {
                let why = gw_domain::resident::LeaveReason::parse(reason).map_or_else(
                    || reason.to_string(),
                    |r| l.t(r.label_zh(), r.label_en()).to_string(),
                );
                format!(
                    "{name}（{}{why} {}）",
                    l.t("已", "left: "),
                    v.left_on.as_deref().unwrap_or("")
                )
            }
            None => name,
        };
        let phones: Vec<&str> = v.phones.iter().map(|p| p.number.as_str()).collect();
        let addr = esc(v.address.as_deref().unwrap_or(""));
        let addr = match (&v.household, with_household) {
            (Some(h), true) => format!(r#"<a href="/households/{}">{addr}</a>"#, esc(h)),
            _ => addr,
        };
        out.push_str(&format!(
            r#"<tr><td>{}</td><td>{}</td><td class="n">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
            esc(&name),
            esc(gender_label(l, v.gender)),
            v.age.map_or_else(String::new, |a| a.to_string()),
            esc(v.document_number.as_deref().unwrap_or("")),
            esc(&phones.join(" ")),
            esc(&super::flags_label(l, &v.flags)),
            addr,
        ));
    }
    format!(
        r#"<div class="scroll"><table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>{out}</tbody></table></div><p class="hint">{}</p>"#,
        l.t("姓名", "Name"),
        l.t("性别", "Gender"),
        l.t("年龄", "Age"),
        l.t("证件号", "Document"),
        l.t("电话", "Phone"),
        l.t("标记", "Flags"),
        l.t("住址", "Address"),
        l.t(
            "证件号和电话已脱敏；健康信息不显示。",
            "Document numbers and phones are masked; health data is not shown."
        ),
    )
}

// ----- a grid ------------------------------------------------------------------------

pub async fn grid(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    page: Page,
    Path(id): Path<String>,
) -> Response {
    let r = grid_body(&s, &a, page.lang, &id).await;
    page.answer(r)
}

/// Residents one list page reads at most (a grid holds a few thousand).
const GRID_LIMIT: i64 = 20_000;

async fn grid_body(
    s: &AppState,
    a: &Auth,
    l: Lang,
    id: &str,
) -> Result<(String, String), WebError> {
    let k = parse_key(l, id)?;
    let place = gw_app::access::place_of(&s.store, "grid", k).await?;
    gw_app::access::authorize(&a.principal, &s.clock, Action::ReadRegistry, &place)?;
    let g = s.store.grid(k.street, k.id).await.map_err(|e| match e {
        StoreError::NotFound(_) => {
            WebError::not_found(l.t("没有这个网格", "There is no such grid"))
        }
        e => e.into(),
    })?;
    let rows = s
        .store
        .residents(&ResidentFilter {
            street: Some(k.street),
            grid: Some(k.id),
            limit: GRID_LIMIT,
            scope: Some(gw_app::access::scope(
                &a.principal,
                &s.clock,
                Action::ReadRegistry,
            )),
            ..Default::default()
        })
        .await?;
    // building → (name, household → (unit, room, people))
    struct B {
        name: String,
        households: BTreeMap<i64, (String, String, u32)>,
        residents: u32,
    }
    let mut buildings: BTreeMap<i64, B> = BTreeMap::new();
    for r in &rows {
        let (Some(b), Some(h)) = (r.building_id, r.household_id) else {
            continue;
        };
        let e = buildings.entry(b).or_insert_with(|| B {
            name: format!(
                "{} {}",
                r.compound.clone().unwrap_or_default(),
                r.building.clone().unwrap_or_default()
            ),
            households: BTreeMap::new(),
            residents: 0,
        });
        e.residents += 1;
        let hh = e.households.entry(h).or_insert_with(|| {
            (
                r.unit.clone().unwrap_or_default(),
                r.room.clone().unwrap_or_default(),
                0,
            )
        });
        hh.2 += 1;
    }
    let mut list = String::new();
    for (bid, b) in &buildings {
        let mut hs = String::new();
        for (h, (unit, room, n)) in &b.households {
            let unit = if unit.is_empty() {
                String::new()
            } else {
                format!("{unit}{} ", l.t("单元", "-"))
            };
            hs.push_str(&format!(
                r#"<a class="chip" href="/households/{}">{}{} <small>{n}</small></a>"#,
                Key {
                    street: k.street,
                    id: *h
                },
                esc(&unit),
                esc(room),
            ));
        }
        list.push_str(&format!(
            r#"<details class="bldg"><summary><a href="/buildings/{}-{bid}">{}</a><span class="counts3"><span>{} {}</span><span>{} {}</span></span></summary><div class="chips">{hs}</div></details>"#,
            k.street,
            esc(&b.name),
            b.households.len(),
            l.t("户", "hh"),
            b.residents,
            l.t("人", "people"),
        ));
    }
    if list.is_empty() {
        list = format!(
            r#"<p class="muted">{}</p>"#,
            l.t(
                "本网格还没有登记居民。",
                "No residents registered in this grid yet."
            )
        );
    }
    let households: usize = buildings.values().map(|b| b.households.len()).sum();
    let body = format!(
        r#"<p><a href="/registry">← {back}</a></p><h1>{c} · {name}</h1>
<section class="stats"><div><b id="grid-buildings">{nb}</b><span>{lb}</span></div><div><b id="grid-households">{households}</b><span>{lh}</span></div><div><b id="grid-residents">{nr}</b><span>{lr}</span></div></section>
<section class="card"><h2>{h}</h2><p class="hint">{hint}</p>{list}</section>"#,
        back = l.t("辖区底数", "Registry"),
        c = esc(&g.community_name),
        name = esc(&g.name),
        nb = buildings.len(),
        lb = l.t("楼栋", "Buildings"),
        lh = l.t("户", "Households"),
        nr = rows.len(),
        lr = l.t("居民", "Residents"),
        h = l.t("楼栋与住户", "Buildings and households"),
        hint = l.t(
            "点楼栋展开住户（门牌后的数字是人数），点住户查看成员和个人码。",
            "Open a building for its households (the small number is people); open a household for its members and codes."
        ),
    );
    Ok((format!("{} · {}", g.community_name, g.name), body))
}

// ----- a household --------------------------------------------------------------------

pub async fn household(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    page: Page,
    Path(id): Path<String>,
) -> Response {
    let r = household_body(&s, &a, page.lang, &id, None).await;
    page.answer(r)
}

/// The household's page (`control`: a refused control form as typed).
pub(super) async fn household_body(
    s: &AppState,
    a: &Auth,
    l: Lang,
    id: &str,
    control: Option<&super::reports::ControlTyped>,
) -> Result<(String, String), WebError> {
    let k = parse_key(l, id)?;
    let place = gw_app::access::place_of(&s.store, "household", k).await?;
    gw_app::access::authorize(&a.principal, &s.clock, Action::ReadRegistry, &place)?;
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
        WebError::not_found(l.t("这一户没有居民", "This household has no residents"))
    })?;
    let address = gw_app::registry::address_text(first).unwrap_or_default();
    let grid = match (first.grid_id, &first.grid) {
        (Some(g), Some(name)) => format!(
            r#"<p><a href="/grids/{}">← {}</a></p>"#,
            Key {
                street: k.street,
                id: g
            },
            esc(name)
        ),
        _ => String::new(),
    };
    // Flags by hand, for who may write the registry here: a flag picked and
    // set or cleared, without showing which health flags anyone has.
    let flags_form = if a
        .principal
        .can(Action::WriteRegistry, &place, s.clock.now_ms())
    {
        let who = member_options(s, a, &rows);
        let flags: String = gw_domain::resident::Flag::ALL
            .iter()
            .map(|f| {
                format!(
                    r#"<option value="{}">{}</option>"#,
                    f.code(),
                    l.t(f.label_zh(), f.code())
                )
            })
            .collect();
        format!(
            r#"<section class="card noprint" id="flags"><h2>{h}</h2><form method="post" action="/households/{k}/flags" class="stack"><input type="hidden" name="csrf" value="{csrf}">
<label>{lw}<select name="resident">{who}</select></label><label>{lf}<select name="flag">{flags}</select></label>
<p class="actions"><button type="submit" name="op" value="set">{set}</button> <button type="submit" name="op" value="clear">{clear}</button></p><p class="hint">{hint}</p></form></section>"#,
            h = l.t("标记", "Flags"),
            csrf = esc(&a.csrf),
            lw = l.t("成员", "Member"),
            lf = l.t("标记", "Flag"),
            set = l.t("加上", "Set"),
            clear = l.t("去掉", "Clear"),
            hint = l.t(
                "透析、慢病治疗、孕妇是健康信息：改动记入审计日志，页面不显示谁有。",
                "Dialysis, chronic treatment and pregnancy are health data: a change is audited, and the page does not show who has them."
            ),
        )
    } else {
        String::new()
    };
    let move_form = move_form(s, a, l, k, first, &rows).await?;
    let leave_form = leave_form(s, a, l, k, &rows).await?;
    let body = format!(
        r#"{grid}<h1>{addr}</h1><p class="muted">{c} · {n} {people}</p>
<section class="card"><h2>{h}</h2>{table}</section>{control}{flags_form}{move_form}{leave_form}
<p class="actions"><a class="button primary" href="/households/{k}/codes">{codes}</a></p>"#,
        control = super::reports::control_section(
            s,
            a,
            l,
            gw_domain::territory::ControlTarget::Household,
            k,
            control
        )
        .await?,
        addr = esc(&address),
        c = esc(first.community.as_deref().unwrap_or("")),
        n = rows.len(),
        people = l.t("人", "people"),
        h = l.t("家庭成员", "Members"),
        table = resident_table(s, a, l, &rows, false),
        codes = l.t("打印本户个人码", "Print this household's codes"),
    );
    Ok((address, body))
}

/// A household's members still registered, as `<option>`s of their ids,
/// named as the reader may see names (masked for roles that see no full name).
fn member_options(s: &AppState, a: &Auth, rows: &[gw_store::registry::ResidentRow]) -> String {
    let full = full_names(s, a);
    rows.iter()
        .filter(|r| r.status != "purged")
        .map(|r| {
            format!(
                r#"<option value="{}">{}</option>"#,
                Key {
                    street: r.street_id,
                    id: r.id
                },
                esc(&if full {
                    r.resident.name.clone()
                } else {
                    gw_domain::mask::name(&r.resident.name)
                })
            )
        })
        .collect()
}

/// Moving one member to another household, for who may write the registry
/// here: the other households of the building to pick from, or another
/// household's number (as its page's address shows it) typed in.
async fn move_form(
    s: &AppState,
    a: &Auth,
    l: Lang,
    k: Key,
    first: &gw_store::registry::ResidentRow,
    rows: &[gw_store::registry::ResidentRow],
) -> Result<String, WebError> {
    let place = gw_app::access::place_of(&s.store, "household", k).await?;
    if !a
        .principal
        .can(Action::WriteRegistry, &place, s.clock.now_ms())
    {
        return Ok(String::new());
    }
    let who = member_options(s, a, rows);
    let mut to = format!(
        r#"<option value="">{}</option>"#,
        l.t("（选择）", "(choose)")
    );
    if let Some(b) = first.building_id {
        for h in s.store.building_households(k.street, b).await? {
            if h.household_id == k.id {
                continue;
            }
            to.push_str(&format!(
                r#"<option value="{}">{} {} {} ({} {})</option>"#,
                Key {
                    street: k.street,
                    id: h.household_id
                },
                esc(first.building.as_deref().unwrap_or("")),
                esc(&h.unit),
                esc(&h.room),
                h.people,
                l.t("人", "people")
            ));
        }
    }
    Ok(format!(
        r#"<section class="card noprint" id="move"><h2>{h}</h2><form method="post" action="/households/{k}/move" class="stack"><input type="hidden" name="csrf" value="{csrf}">
<label>{lw}<select name="resident">{who}</select></label><label>{lt}<select name="household">{to}</select></label>
<label>{lo}<input name="other" placeholder="{ph}" autocomplete="off"></label>
<p class="actions"><button type="submit">{go}</button></p><p class="hint">{hint}</p></form></section>"#,
        h = l.t("迁往其他户", "Move to another household"),
        csrf = esc(&a.csrf),
        lw = l.t("成员", "Member"),
        lt = l.t("本楼其他户", "Another household of this building"),
        lo = l.t("或其他楼的户号", "Or another building's household number"),
        ph = l.t("如 1-2345（见该户页面地址）", "e.g. 1-2345 (from that household's page address)"),
        go = l.t("迁移", "Move"),
        hint = l.t(
            "只改登记的住址：核酸记录、个人码不变；迁出和迁入两处都须有登记权限，记入审计日志。",
            "Changes only where they are registered: swabs and personal codes stay; needs the right to write the registry at both ends; audited."
        ),
    ))
}

/// Recording that a member left (deceased, moved out of the street), or
/// undoing a mistaken record, for who may write the registry here.
async fn leave_form(
    s: &AppState,
    a: &Auth,
    l: Lang,
    k: Key,
    rows: &[gw_store::registry::ResidentRow],
) -> Result<String, WebError> {
    let place = gw_app::access::place_of(&s.store, "household", k).await?;
    if !a
        .principal
        .can(Action::WriteRegistry, &place, s.clock.now_ms())
    {
        return Ok(String::new());
    }
    let who = member_options(s, a, rows);
    let reasons: String = gw_domain::resident::LeaveReason::ALL
        .iter()
        .map(|r| {
            format!(
                r#"<option value="{}">{}</option>"#,
                r.code(),
                esc(l.t(r.label_zh(), r.label_en()))
            )
        })
        .collect();
    Ok(format!(
        r#"<section class="card noprint" id="leave"><h2>{h}</h2><form method="post" action="/households/{k}/leave" class="stack"><input type="hidden" name="csrf" value="{csrf}">
<label>{lw}<select name="resident">{who}</select></label><label>{lr}<select name="reason">{reasons}<option value="none">{undo}</option></select></label>
<label>{ld}<input type="date" name="on" max="{today}"></label>
<p class="actions"><button type="submit">{go}</button></p><p class="hint">{hint}</p></form></section>"#,
        h = l.t("登记离开（离世、迁出本街道）", "Record leaving (deceased, moved out of the street)"),
        csrf = esc(&a.csrf),
        lw = l.t("成员", "Member"),
        lr = l.t("原因", "Reason"),
        undo = l.t("撤销误登（恢复在册）", "Undo a mistaken record (registered again)"),
        ld = l.t("离开日期（默认今天）", "Day left (today if empty)"),
        today = s.clock.today(),
        go = l.t("登记", "Record"),
        hint = l.t(
            "资料保留；此后开轮的应检名单不再列入，正在采样的轮次记为免检（不算漏检）；记入审计日志，误登可撤销。",
            "Their data stays; rounds opened from now on do not expect them, and rounds still sampling exempt them (not missed); audited, and a mistake can be undone."
        ),
    ))
}

#[derive(Debug, Deserialize)]
pub struct LeaveForm {
    pub resident: String,
    pub reason: String,
    #[serde(default)]
    pub on: String,
}

/// A member recorded as left (or the record undone) from the household's
/// page; back to the household.
pub async fn household_leave(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    page: Page,
    Path(id): Path<String>,
    axum::Form(f): axum::Form<LeaveForm>,
) -> Response {
    let l = page.lang;
    let (hk, rk) = match (parse_key(l, &id), parse_key(l, &f.resident)) {
        (Ok(h), Ok(r)) => (h, r),
        (Err(e), _) | (_, Err(e)) => return page.error(e),
    };
    let r = if f.reason == "none" {
        gw_app::registry::unleave(&s.store, &s.clock, &a.principal, rk).await
    } else {
        let Some(reason) = gw_domain::resident::LeaveReason::parse(&f.reason) else {
            return page.error(WebError::bad_request(
                l.t("请选择离开原因", "Choose why they left"),
            ));
        };
        let on = match f.on.trim() {
            "" => None,
            d => match gw_domain::date::Date::parse(d) {
                Ok(d) => Some(d),
                Err(_) => {
                    return page.error(WebError::bad_request(
                        l.t("离开日期应为 年-月-日", "The day left must be YYYY-MM-DD"),
                    ))
                }
            },
        };
        gw_app::registry::leave(&s.store, &s.clock, &a.principal, rk, reason, on).await
    };
    match r {
        Ok(_) => super::redirect(&format!("/households/{hk}#leave")),
        Err(e) => page.error(e.into()),
    }
}

#[derive(Debug, Deserialize)]
pub struct MoveForm {
    pub resident: String,
    #[serde(default)]
    pub household: String,
    #[serde(default)]
    pub other: String,
}

/// One member moved from the household's page; on to the household they went to.
pub async fn household_move(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    page: Page,
    Path(id): Path<String>,
    axum::Form(f): axum::Form<MoveForm>,
) -> Response {
    let l = page.lang;
    let target = if f.other.trim().is_empty() {
        f.household.trim()
    } else {
        f.other.trim()
    };
    if target.is_empty() {
        return page.error(WebError::bad_request(l.t(
            "请选择迁往的户，或填写其他楼的户号",
            "Choose the household to move to, or type another building's household number",
        )));
    }
    let (_, rk, to) = match (
        parse_key(l, &id),
        parse_key(l, &f.resident),
        parse_key(l, target),
    ) {
        (Ok(h), Ok(r), Ok(t)) => (h, r, t),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return page.error(e),
    };
    match gw_app::registry::move_resident(&s.store, &s.clock, &a.principal, rk, to).await {
        Ok(()) => super::redirect(&format!("/households/{to}#move")),
        Err(e) => page.error(e.into()),
    }
}

#[derive(Debug, Deserialize)]
pub struct FlagForm {
    pub resident: String,
    pub flag: String,
    pub op: String,
}

/// A flag set or cleared from the household's page; back to the household.
pub async fn household_flags(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    page: Page,
    Path(id): Path<String>,
    axum::Form(f): axum::Form<FlagForm>,
) -> Response {
    let l = page.lang;
    let (hk, rk) = match (parse_key(l, &id), parse_key(l, &f.resident)) {
        (Ok(h), Ok(r)) => (h, r),
        (Err(e), _) | (_, Err(e)) => return page.error(e),
    };
    let Some(flag) = gw_domain::resident::Flag::from_code(&f.flag) else {
        return page.error(WebError::bad_request(l.t("没有这个标记", "No such flag")));
    };
    let (set, clear) = if f.op == "clear" {
        (vec![], vec![flag])
    } else {
        (vec![flag], vec![])
    };
    match gw_app::registry::set_flags(&s.store, &s.clock, &a.principal, rk, &set, &clear).await {
        Ok(_) => super::redirect(&format!("/households/{hk}#flags")),
        Err(e) => page.error(e.into()),
    }
}

// ----- roster upload -------------------------------------------------------------------

/// Import reports kept for download in the server's memory, for the account
/// that ran the import, for an hour; past [`REPORTS_KEPT`] reports or
/// [`REPORT_BYTES_KEPT`] bytes the oldest go first.
#[derive(Default)]
struct Shelf {
    /// token → the report.
    reports: HashMap<String, Shelved>,
    /// The bytes of every report kept.
    bytes: usize,
}

struct Shelved {
    user: i64,
    /// When it was shelved and when it goes.
    at: i64,
    until: i64,
    name: String,
    bytes: Vec<u8>,
}

impl Shelf {
    /// Keeps `report` under `token`, making room; false (nothing kept) when
    /// it alone is larger than `max_bytes`.
    fn put(&mut self, token: String, report: Shelved, max_count: usize, max_bytes: usize) -> bool {
        let now = report.at;
        self.reports.retain(|_, v| v.until > now);
        self.bytes = self.reports.values().map(|v| v.bytes.len()).sum();
        if report.bytes.len() > max_bytes {
            return false;
        }
        while self.reports.len() >= max_count || self.bytes + report.bytes.len() > max_bytes {
            let Some(oldest) = self
                .reports
                .iter()
                .min_by_key(|(_, v)| v.at)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some(gone) = self.reports.remove(&oldest) {
                self.bytes -= gone.bytes.len();
            }
        }
        self.bytes += report.bytes.len();
        self.reports.insert(token, report);
        true
    }

    /// The report under `token`, for `user`, while it is kept.
    fn get(&self, token: &str, user: i64, now: i64) -> Option<(String, Vec<u8>)> {
        self.reports
            .get(token)
            .filter(|v| v.user == user && v.until > now)
            .map(|v| (v.name.clone(), v.bytes.clone()))
    }
}

fn shelf() -> &'static Mutex<Shelf> {
    static S: OnceLock<Mutex<Shelf>> = OnceLock::new();
    S.get_or_init(|| Mutex::new(Shelf::default()))
}

/// How long a report stays downloadable, and how many reports and bytes
/// are kept at most (a roster of 50 MB makes a report of about as much).
const REPORT_TTL_MS: i64 = 3_600_000;
const REPORTS_KEPT: usize = 64;
const REPORT_BYTES_KEPT: usize = 64 * 1024 * 1024;

/// Keeps a report for download: its token, or `None` when it is too large
/// to keep.
fn shelve(user: i64, now: i64, name: String, bytes: Vec<u8>) -> Option<String> {
    let token = gw_app::access::random_token();
    let report = Shelved {
        user,
        at: now,
        until: now + REPORT_TTL_MS,
        name,
        bytes,
    };
    let mut shelf = shelf().lock().ok()?;
    shelf
        .put(token.clone(), report, REPORTS_KEPT, REPORT_BYTES_KEPT)
        .then_some(token)
}

/// The communities and grids the caller may import into, as `<option>`s.
async fn import_targets(s: &AppState, a: &Auth) -> Result<String, WebError> {
    let nodes = gw_app::access::scope(&a.principal, &s.clock, Action::ImportRoster);
    let tree = gw_app::registry::territory_tree_in(&s.store, &nodes).await?;
    let now = s.clock.now_ms();
    let mut out = String::new();
    for st in &tree {
        for c in &st.children {
            let ck: Key = match c.id.parse() {
                Ok(k) => k,
                Err(_) => continue,
            };
            let cplace = gw_app::access::place_of(&s.store, "community", ck).await?;
            if a.principal.can(Action::ImportRoster, &cplace, now) {
                out.push_str(&format!(
                    r#"<option value="{}">{} · {}</option>"#,
                    esc(&c.id),
                    esc(&st.name),
                    esc(&c.name)
                ));
            }
            for g in &c.children {
                out.push_str(&format!(
                    r#"<option value="{}/{}">{} · {} · {}</option>"#,
                    esc(&c.id),
                    esc(&g.id),
                    esc(&st.name),
                    esc(&c.name),
                    esc(&g.name)
                ));
            }
        }
    }
    Ok(out)
}

pub async fn import_form(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    page: Page,
) -> Response {
    let l = page.lang;
    let targets = match import_targets(&s, &a).await {
        Ok(t) => t,
        Err(e) => return page.error(e),
    };
    let body = format!(
        r#"<p><a href="/registry">← {back}</a></p><h1>{h}</h1>
<section class="card"><form id="upload" class="stack" method="post" action="/registry/import" data-csrf="{csrf}">
<label>{lt}<select name="target" id="target" required>{targets}</select></label>
<label>{lc}<input name="compound" id="compound" maxlength="40" placeholder="{lcp}"></label>
<label>{lf}<input type="file" name="file" id="file" accept=".xlsx,.xls,.csv,.txt" required></label>
<button class="primary" type="submit" id="go">{b}</button></form>
<p class="hint">{hint}</p><div id="progress" role="status" aria-live="polite"></div></section>
<div id="result"></div>{script}"#,
        back = l.t("辖区底数", "Registry"),
        h = l.t("导入花名册", "Import a roster"),
        csrf = esc(&a.csrf),
        lt = l.t("导入到（新楼栋加入所选网格）", "Import into (new buildings join the chosen grid)"),
        lf = l.t("花名册文件（.xlsx、.xls 或 .csv）", "Roster file (.xlsx, .xls or .csv)"),
        lc = l.t(
            "小区（名单没有“小区”列时填写，可不填）",
            "Compound (for a roster with no 小区 column; optional)"
        ),
        lcp = l.t("例如：幸福家园", "e.g. 幸福家园"),
        b = l.t("上传并导入", "Upload and import"),
        hint = l.t(
            "有问题的行不会导入，也不会丢：导入后可下载问题报告，在报告里改好后直接重新上传。",
            "Rows with problems are not imported and not lost: download the report, fix the cells in it and upload it again."
        ),
        script = upload_script(
            l.t("正在上传", "Uploading"),
            l.t("正在导入，请稍候…", "Importing, please wait…"),
            l.t("请先选择文件。", "Choose a file first."),
            l.t("网络中断，文件未导入，请重试。", "The network failed: nothing was imported. Try again."),
            "/registry/import",
            true,
        ),
    );
    page.render(StatusCode::OK, l.t("导入花名册", "Import a roster"), &body)
}

/// The upload script shared by the roster and the lab forms: sends the file
/// as the request body with the CSRF header, shows the progress, then puts the
/// answer's `#result` in place.
pub(crate) fn upload_script(
    uploading: &str,
    working: &str,
    choose: &str,
    failed: &str,
    action: &str,
    with_target: bool,
) -> String {
    let js_str = |s: &str| serde_json::Value::String(s.to_string()).to_string();
    format!(
        r#"<script>(function(){{var f=document.getElementById('upload'),p=document.getElementById('progress'),out=document.getElementById('result');
f.addEventListener('submit',function(e){{e.preventDefault();var file=document.getElementById('file').files[0];
if(!file){{p.textContent={choose};p.className='error';return}}
var u={action}+'?filename='+encodeURIComponent(file.name){target};
var x=new XMLHttpRequest();x.open('POST',u);x.setRequestHeader('X-CSRF-Token',f.dataset.csrf);x.setRequestHeader('Content-Type','application/octet-stream');
p.className='notice';p.textContent={uploading}+'…';document.getElementById('go').disabled=true;
x.upload.onprogress=function(ev){{if(ev.lengthComputable){{p.textContent={uploading}+' '+Math.round(ev.loaded*100/ev.total)+'%'}}}};
x.upload.onload=function(){{p.textContent={working}}};
x.onload=function(){{document.getElementById('go').disabled=false;p.textContent='';var d=new DOMParser().parseFromString(x.responseText,'text/html');
var r=d.getElementById('result')||d.querySelector('main');out.innerHTML=r?r.innerHTML:'';out.dataset.status=x.status;out.focus()}};
x.onerror=function(){{document.getElementById('go').disabled=false;p.className='error';p.textContent={failed}}};x.send(file)}})}})();</script>"#,
        choose = js_str(choose),
        action = js_str(action),
        target = if with_target {
            "+'&target='+encodeURIComponent(document.getElementById('target').value)+'&compound='+encodeURIComponent((document.getElementById('compound')||{value:''}).value)"
        } else {
            ""
        },
        uploading = js_str(uploading),
        working = js_str(working),
        failed = js_str(failed),
    )
}

#[derive(Debug, Deserialize)]
pub struct UploadQuery {
    pub filename: Option<String>,
    pub target: Option<String>,
    /// The compound of rows that name none (a roster with no 小区 column).
    pub compound: Option<String>,
}

/// The roster upload: the body is the file, `?filename=` names it and
/// `?target=COMMUNITY[/GRID]` says where it goes.
pub async fn import_submit(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    page: Page,
    Query(q): Query<UploadQuery>,
    body: axum::body::Bytes,
) -> Response {
    let l = page.lang;
    let fail = |status: StatusCode, msg: &str| {
        let html = format!(
            r#"<div id="result"><section class="card"><h2>{}</h2><p class="error" role="alert" id="import-error">{}</p></section></div>"#,
            l.t("未导入", "Not imported"),
            esc(msg)
        );
        page.render(status, l.t("导入花名册", "Import a roster"), &html)
    };
    let Some(name) = q.filename.filter(|f| !f.trim().is_empty()) else {
        return fail(
            StatusCode::BAD_REQUEST,
            l.t("请选择一个花名册文件。", "Choose a roster file."),
        );
    };
    let target = q.target.unwrap_or_default();
    let (c, g) = match target.split_once('/') {
        Some((c, g)) => (c.to_string(), Some(g.to_string())),
        None => (target.clone(), None),
    };
    let community = match c.parse::<Key>() {
        Ok(k) => k,
        Err(_) => {
            return fail(
                StatusCode::BAD_REQUEST,
                l.t(
                    "请选择导入到哪个社区或网格。",
                    "Choose the community or grid to import into.",
                ),
            )
        }
    };
    let grid = match g.map(|g| g.parse::<Key>()) {
        None => None,
        Some(Ok(k)) => Some(k),
        Some(Err(_)) => {
            return fail(
                StatusCode::BAD_REQUEST,
                l.t(
                    "所选网格无效，请重新选择。",
                    "That grid is not valid: choose again.",
                ),
            )
        }
    };
    if body.is_empty() {
        return fail(
            StatusCode::BAD_REQUEST,
            l.t(
                "文件是空的，请检查后重新选择。",
                "The file is empty: check it and choose again.",
            ),
        );
    }
    use gw_app::import::ImportError;
    let (sum, report) = match gw_app::import::import_upload(
        &s.store,
        &s.clock,
        &a.principal,
        community,
        grid,
        q.compound.as_deref(),
        &name,
        &body,
    )
    .await
    {
        Ok(x) => x,
        Err(ImportError::Auth(e)) => return page.error(e.into()),
        // Imported at the same moment elsewhere, or a building moved
        // meanwhile: said in place, in the reader's language, to import again.
        Err(ImportError::Store(StoreError::Conflict(m))) => {
            return fail(StatusCode::CONFLICT, &pick(l, &m))
        }
        Err(ImportError::Store(e)) => return page.error(e.into()),
        Err(e) => return fail(StatusCode::UNPROCESSABLE_ENTITY, &pick(l, &e.to_string())),
    };
    let stem = name
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or("roster")
        .rsplit_once('.')
        .map_or(name.as_str(), |(s, _)| s)
        .to_string();
    let token = shelve(
        a.principal.user_id,
        s.clock.now_ms(),
        format!("{stem}.report.xlsx"),
        report,
    );
    let download = match token {
        Some(token) => format!(
            r#"<p class="actions"><a class="button primary" id="report-link" href="/registry/import/reports/{token}" download>{}</a></p>"#,
            l.t("下载问题报告（xlsx）", "Download the report (xlsx)")
        ),
        None => format!(
            r#"<p class="warn" id="report-too-large">{}</p>"#,
            l.t(
                "问题报告太大，服务器未保留下载：请在服务器上用命令行 gridwarden import roster 导入，报告文件会写在名单旁边。",
                "The report is too large for the server to keep: import with gridwarden import roster on the server, which writes it beside the roster."
            )
        ),
    };
    let mut issues = String::new();
    for i in sum.issues.iter().take(50) {
        issues.push_str(&format!(
            r#"<tr><td>{}</td><td class="n">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
            esc(&i.sheet),
            i.row,
            esc(&i.column),
            esc(match i.severity {
                gw_domain::roster::Severity::Rejected => l.t("未导入", "rejected"),
                gw_domain::roster::Severity::Warning => l.t("警告", "warning"),
            }),
            esc(&pick(l, &i.reason)),
        ));
    }
    let issues = if issues.is_empty() {
        String::new()
    } else {
        format!(
            r#"<h3>{}</h3><div class="scroll"><table id="issues"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>{issues}</tbody></table></div>"#,
            l.t(
                "问题（前50条，全部见报告）",
                "Problems (first 50; all in the report)"
            ),
            l.t("工作表", "Sheet"),
            l.t("行", "Row"),
            l.t("列", "Column"),
            l.t("级别", "Severity"),
            l.t("原因", "Reason"),
        )
    };
    // How each sheet was read, as the command line prints it: a hidden
    // sheet or a summary sheet skipped, columns not understood.
    let mut sheets = String::new();
    for sh in &sum.sheets {
        let what = match &sh.skipped {
            Some(why) => format!(r#"<span class="warn">{}</span>"#, esc(&pick(l, why))),
            None => match l {
                Lang::Zh => format!(
                    "表头第{}行，{}行数据",
                    sh.header_row.unwrap_or(0),
                    sh.data_rows
                ),
                Lang::En => format!(
                    "header on row {}, {} data rows",
                    sh.header_row.unwrap_or(0),
                    sh.data_rows
                ),
            },
        };
        let ignored = if sh.ignored_columns.is_empty() {
            String::new()
        } else {
            format!(
                "<br><small>{}{}</small>",
                l.t(
                    "未识别的列（已忽略）：",
                    "Columns not understood (ignored): "
                ),
                esc(&sh.ignored_columns.join(l.t("、", ", ")))
            )
        };
        sheets.push_str(&format!(
            "<li><b>{}</b> {what}{ignored}</li>",
            esc(&sh.name)
        ));
    }
    let new_buildings = if sum.new_buildings.is_empty() {
        String::new()
    } else {
        let list = esc(&sum.new_buildings.join(l.t("、", ", ")));
        let (class, text) = match &sum.new_buildings_grid {
            Some(g) => (
                "notice",
                match l {
                    Lang::Zh => format!("新楼栋：{list}（已加入{}）", esc(g)),
                    Lang::En => format!("New buildings: {list} (joined {})", esc(g)),
                },
            ),
            None => (
                "warn",
                match l {
                    Lang::Zh => format!(
                        "新楼栋：{list}（在{}，请社区书记分配网格）",
                        gw_app::import::UNASSIGNED_GRID
                    ),
                    Lang::En => format!(
                        "New buildings: {list} (waiting in {}: the community secretary places them in a grid)",
                        gw_app::import::UNASSIGNED_GRID
                    ),
                },
            ),
        };
        format!(r#"<p class="{class}" id="new-buildings">{text}</p>"#)
    };
    // A file with no rows under its header, or whose every row was refused,
    // imported nobody: said so, not 导入完成.
    let heading = if sum.data_rows == 0 {
        l.t(
            "没有导入：表头下面没有数据行，请检查是否选错了文件或工作表",
            "Nothing imported: there are no data rows under the header (the wrong file or sheet?)",
        )
    } else if sum.added + sum.updated + sum.unchanged == 0 {
        l.t(
            "没有导入：每一行都未通过，原因见下面和问题报告",
            "Nothing imported: every row was refused (see below and the report)",
        )
    } else {
        l.t("导入完成", "Imported")
    };
    let html = format!(
        r#"<div id="result"><section class="card"><h2 id="import-heading">{h}</h2><p>{file} → {street} · {community}</p>
<section class="stats"><div><b id="n-added">{added}</b><span>{la}</span></div><div><b id="n-updated">{updated}</b><span>{lu}</span></div><div><b id="n-unchanged">{unchanged}</b><span>{lc}</span></div><div><b id="n-rejected" class="{rc}">{rejected}</b><span>{lr}</span></div><div><b id="n-warnings">{warnings}</b><span>{lw}</span></div></section>
{new_buildings}<h3>{ls}</h3><ul class="list" id="sheets">{sheets}</ul>
{download}{issues}</section></div>"#,
        ls = l.t("工作表", "Sheets"),
        h = heading,
        file = esc(&name),
        street = esc(&sum.street),
        community = esc(&sum.community),
        added = sum.added,
        updated = sum.updated,
        unchanged = sum.unchanged,
        rejected = sum.rejected,
        warnings = sum.warnings,
        rc = if sum.rejected > 0 { "warn" } else { "" },
        la = l.t("新增", "Added"),
        lu = l.t("更新", "Updated"),
        lc = l.t("未变", "Unchanged"),
        lr = l.t("未导入", "Rejected"),
        lw = l.t("警告", "Warnings"),
    );
    page.render(StatusCode::OK, l.t("导入花名册", "Import a roster"), &html)
}

/// The report of an import, for the account that ran it (kept an hour).
pub async fn import_report(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    page: Page,
    Path(token): Path<String>,
) -> Response {
    let l = page.lang;
    let now = s.clock.now_ms();
    let found = shelf()
        .lock()
        .ok()
        .and_then(|m| m.get(&token, a.principal.user_id, now));
    let Some((name, bytes)) = found else {
        return page.error(WebError::not_found(l.t(
            "报告已过期或不存在：请重新上传花名册以生成新报告。",
            "This report has expired or does not exist: upload the roster again for a new one.",
        )));
    };
    let mut res = bytes.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded = gw_domain::text::percent_encode(&name);
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"
    )) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by a review acting as a privacy auditor: reports were kept up
    /// to 64 for an hour whatever their size. The bytes kept are capped too,
    /// the oldest going first; a report larger than the cap is not kept.
    #[test]
    fn the_report_shelf_keeps_a_count_and_a_size_oldest_out_first() {
        let report = |at: i64, n: usize| Shelved {
            user: 1,
            at,
            until: at + REPORT_TTL_MS,
            name: format!("r{at}.xlsx"),
            bytes: vec![0; n],
        };
        let mut shelf = Shelf::default();
        for at in 0..3 {
            assert!(shelf.put(format!("t{at}"), report(at, 40), 10, 100));
        }
        // 120 bytes would be kept: the oldest goes.
        assert_eq!((shelf.reports.len(), shelf.bytes), (2, 80));
        assert!(shelf.get("t1", 1, 5).is_some() && shelf.get("t0", 1, 5).is_none());
        assert!(shelf.put("t3".into(), report(3, 60), 10, 100));
        assert_eq!((shelf.reports.len(), shelf.bytes), (2, 100));
        assert!(shelf.get("t1", 1, 5).is_none() && shelf.get("t2", 1, 5).is_some());
        // The count too.
        assert!(shelf.put("t4".into(), report(4, 0), 2, 100));
        assert!(shelf.get("t2", 1, 5).is_none() && shelf.get("t4", 1, 5).is_some());
        // Too large alone: not kept, nothing else dropped for it.
        assert!(!shelf.put("t5".into(), report(5, 101), 10, 100));
        assert!(shelf.get("t3", 1, 5).is_some() && shelf.get("t5", 1, 5).is_none());
        // Another account's, or one past its hour: not given.
        assert!(shelf.get("t3", 2, 5).is_none());
        assert!(shelf.get("t3", 1, 3 + REPORT_TTL_MS).is_none());
        // Expired ones leave (and their bytes) at the next put.
        assert!(shelf.put("t6".into(), report(REPORT_TTL_MS + 10, 10), 10, 100));
        assert_eq!((shelf.reports.len(), shelf.bytes), (1, 10));
    }

    #[test]
    fn pick_takes_the_readers_half() {
        let m = "a.csv: 没有找到居民名单（表头）/ no resident sheet";
        assert_eq!(pick(Lang::Zh, m), "a.csv: 没有找到居民名单（表头）");
        assert_eq!(pick(Lang::En, m), "no resident sheet");
        assert_eq!(
            pick(Lang::En, "文件是空的 / the file is empty"),
            "the file is empty"
        );
        assert_eq!(pick(Lang::Zh, "no split here"), "no split here");
        assert_eq!(pick(Lang::En, "path a/ b"), "path a/ b");
    }

    #[test]
    fn an_import_issue_shows_its_reason_in_either_language() {
        // Found by an end-to-end review: the Chinese page showed
        // "证件号…无效，未录入证件号，请核对后重新导入" without the reason.
        let sheet = gw_domain::roster::Sheet {
            name: "楼".into(),
            rows: vec![
                ["姓名", "身份证号", "楼栋", "门牌号"]
                    .map(|t| gw_domain::roster::Cell::Text(t.into()))
                    .to_vec(),
                ["甲", "220102195001020111", "1", "101"]
                    .map(|t| gw_domain::roster::Cell::Text(t.into()))
                    .to_vec(),
            ],
            merges: vec![],
            hidden: false,
        };
        let parsed = gw_domain::roster::parse_workbook(
            &[sheet],
            &gw_domain::roster::ParseOptions {
                default_compound: "未填小区".into(),
                today: gw_domain::date::Date::new(2022, 3, 18).unwrap(),
            },
        );
        let gw_domain::roster::RowOutcome::Resident(r) = &parsed.rows[0] else {
            panic!("a resident")
        };
        let reason = &r.warnings[0].reason;
        let zh = pick(Lang::Zh, reason);
        let en = pick(Lang::En, reason);
        assert!(zh.contains("校验位错误") && !zh.contains("check"), "{zh}");
        assert!(
            en.contains("check character") && !en.contains("校验"),
            "{en}"
        );
    }
}
