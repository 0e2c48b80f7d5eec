//! Printable sheets: a household's personal codes as QR codes, names masked,
//! laid out for A4 by the print stylesheet (`@media print` in app.css); a
//! building's households at once, one sheet each (after a key rotation, or
//! for a building's residents without smartphones).

use std::fmt::Write as _;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Extension;
use gw_domain::access::Action;
use gw_domain::ids::Key;
use gw_store::registry::ResidentFilter;
use qrcodegen::{QrCode, QrCodeEcc};

use super::{parse_key, Page};
use crate::{html_escape as esc, AppState, Auth, WebError};

/// A QR code as an SVG of one path (dark modules), with the quiet zone.
pub fn qr_svg(text: &str) -> Option<String> {
    let qr = QrCode::encode_text(text, QrCodeEcc::Medium).ok()?;
    let n = qr.size();
    let border = 4;
    let mut d = String::new();
    for y in 0..n {
        for x in 0..n {
            if qr.get_module(x, y) {
                let _ = write!(d, "M{},{}h1v1h-1z", x + border, y + border);
            }
        }
    }
    let side = n + 2 * border;
    Some(format!(
        r##"<svg class="qr" viewBox="0 0 {side} {side}" shape-rendering="crispEdges" role="img"><rect width="{side}" height="{side}" fill="#fff"/><path d="{d}" fill="#000"/></svg>"##
    ))
}

pub async fn household_codes(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    page: Page,
    Path(id): Path<String>,
) -> Response {
    page.answer(body(&s, &a, &page, &id, None).await)
}

/// Every household of a building, one printed sheet each: their members'
/// current codes (purged members left out), names masked.
pub async fn building_codes(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    page: Page,
    Path(id): Path<String>,
) -> Response {
    page.answer(building_body(&s, &a, &page, &id).await)
}

async fn building_body(
    s: &AppState,
    a: &Auth,
    page: &Page,
    id: &str,
) -> Result<(String, String), WebError> {
    let l = page.lang;
    let k = parse_key(l, id)?;
    let place = gw_app::access::place_of(&s.store, "building", k).await?;
    gw_app::access::authorize(&a.principal, &s.clock, Action::ReadRegistry, &place)?;
    let rows = s
        .store
        .residents(&ResidentFilter {
            street: Some(k.street),
            building: Some(k.id),
            limit: 5_000,
            ..Default::default()
        })
        .await?;
    // Households in the order of their addresses, one sheet each.
    let mut households: Vec<(Option<i64>, Vec<&gw_store::registry::ResidentRow>)> = Vec::new();
    for r in rows.iter().filter(|r| r.status != "purged") {
        match households.iter_mut().find(|(h, _)| *h == r.household_id) {
            Some((_, members)) => members.push(r),
            None => households.push((r.household_id, vec![r])),
        }
    }
    let mut sheets = String::new();
    for (_, members) in &households {
        let address = members
            .first()
            .and_then(|r| gw_app::registry::address_text(r))
            .unwrap_or_default();
        let codes = member_codes(s, a, members.iter().copied()).await?;
        let _ = write!(
            sheets,
            r#"<div class="sheet building-sheet"><h2>{}</h2><div class="code-grid">{}</div></div>"#,
            esc(&address),
            code_cards(l, &codes, &address, &[])?
        );
    }
    if households.is_empty() {
        return Err(WebError::not_found(
            l.t("这栋楼没有居民", "This building has no residents"),
        ));
    }
    let body = format!(
        r#"<h1>{h}</h1><p class="muted">{n} {hh}</p><p class="noprint"><button type="button" onclick="window.print()">{p}</button></p>{sheets}<p class="hint">{hint}</p>"#,
        h = l.t(
            "整栋楼的个人码（每户一页）",
            "Personal codes of a building (a sheet per household)"
        ),
        n = households.len(),
        hh = l.t("户", "households"),
        p = l.t("打印（A4）", "Print (A4)"),
        hint = l.t(
            "请分发到户并妥善保管。姓名已脱敏。",
            "Hand each household its sheet. Names are masked."
        ),
    );
    Ok((l.t("个人码", "Personal codes").to_string(), body))
}

/// Makes the household's own link (the form on its codes page) and shows it
/// with a QR code to open on the household's phone.
pub async fn household_link_create(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    page: Page,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let k = match parse_key(page.lang, &id) {
        Ok(k) => k,
        Err(e) => return page.error(e),
    };
    let token =
        match gw_app::access::create_household_link(&s.store, &s.clock, &a.principal, k).await {
            Ok(t) => t,
            Err(e) => return page.error(e.into()),
        };
    let link = format!("{}/h/{token}", super::origin(&s, &headers));
    match body(&s, &a, &page, &id, Some(&link)).await {
        Ok((title, body)) => page.render(StatusCode::CREATED, &title, &body),
        Err(e) => page.error(e),
    }
}

/// A household's own page (no login: the link's token is the key): its
/// members' personal codes as QR codes to hold up to a station's camera,
/// names masked.
pub async fn household_link(
    State(s): State<AppState>,
    page: Page,
    Path(token): Path<String>,
) -> Response {
    page.answer(link_body(&s, &page, &token).await)
}

async fn link_body(s: &AppState, page: &Page, token: &str) -> Result<(String, String), WebError> {
    let l = page.lang;
    let h = gw_app::codes::by_household_link(&s.store, &s.clock, token)
        .await?
        .ok_or_else(|| {
            WebError::not_found(l.t(
                "链接无效或已撤销，请向网格员要新的",
                "This link is unknown or revoked: ask your grid leader for a new one",
            ))
        })?;
    let address = h.address.unwrap_or_default();
    let codes = h.members;
    let body = format!(
        r#"<div class="sheet"><h1>{h}</h1><p class="muted">{addr}</p><p>{how}</p>
<div class="code-grid phone">{cards}</div><p class="hint">{hint}</p></div>"#,
        h = l.t("我家的个人码", "Our personal codes"),
        addr = esc(&address),
        how = l.t(
            "采样时把本人的码对准采样点的扫码设备，每人一码。",
            "At the testing point, hold each person's own code up to the scanner: one code per person."
        ),
        cards = code_cards(l, &codes, &address, &[])?,
        hint = l.t(
            "此页面不含身份证号和电话。请勿转发给他人；丢失或泄露请找网格员撤销。",
            "This page holds no ID numbers or phones. Do not pass it on; if it leaks, ask your grid leader to revoke it."
        ),
    );
    Ok((l.t("个人码", "Personal codes").to_string(), body))
}

/// The residents of a household, as the registry lists them.
async fn household_rows(
    s: &AppState,
    k: Key,
) -> Result<Vec<gw_store::registry::ResidentRow>, WebError> {
    Ok(s.store
        .residents(&ResidentFilter {
            street: Some(k.street),
            household: Some(k.id),
            limit: 100,
            ..Default::default()
        })
        .await?)
}

/// `(masked name, current code)` of each of `members`, as the caller may
/// read them.
async fn member_codes<'r>(
    s: &AppState,
    a: &Auth,
    members: impl Iterator<Item = &'r gw_store::registry::ResidentRow>,
) -> Result<Vec<(String, String)>, WebError> {
    let mut codes = Vec::new();
    for r in members {
        let rk = Key {
            street: r.street_id,
            id: r.id,
        };
        let code = gw_app::codes::show(&s.store, &s.clock, &a.principal, rk).await?;
        codes.push((gw_domain::mask::name(&r.resident.name), code.text()));
    }
    Ok(codes)
}

/// One card per person: the QR code, the masked name, the address, the
/// code's text, and what `below` holds for that card (never printed).
fn code_cards(
    l: super::Lang,
    codes: &[(String, String)],
    address: &str,
    below: &[String],
) -> Result<String, WebError> {
    let mut cards = String::new();
    for (i, (name, text)) in codes.iter().enumerate() {
        let svg = qr_svg(text).unwrap_or_default();
        let _ = write!(
            cards,
            r#"<div class="code-card">{svg}<div><b class="masked-name">{}</b><small>{}</small><small class="code-text">{}</small>{}</div></div>"#,
            esc(name),
            esc(address),
            esc(text),
            below.get(i).map_or("", String::as_str),
        );
    }
    if cards.is_empty() {
        return Err(WebError::not_found(
            l.t("这一户没有居民", "This household has no residents"),
        ));
    }
    Ok(cards)
}

async fn body(
    s: &AppState,
    a: &Auth,
    page: &Page,
    id: &str,
    link: Option<&str>,
) -> Result<(String, String), WebError> {
    let l = page.lang;
    let k = parse_key(l, id)?;
    let place = gw_app::access::place_of(&s.store, "household", k).await?;
    gw_app::access::authorize(&a.principal, &s.clock, Action::ReadRegistry, &place)?;
    let rows = household_rows(s, k).await?;
    let address = rows
        .first()
        .and_then(gw_app::registry::address_text)
        .unwrap_or_default();
    // A purged member has no code any more.
    let members: Vec<_> = rows.iter().filter(|r| r.status != "purged").collect();
    let codes = member_codes(s, a, members.iter().copied()).await?;
    // A lost or leaked code is reissued here by whoever may (the API's
    // right): behind a tick, one form per person, never printed.
    let reissue: Vec<String> = if a
        .principal
        .can(Action::WriteRegistry, &place, s.clock.now_ms())
    {
        members
            .iter()
            .map(|r| {
                reissue_form(
                    l,
                    &a.csrf,
                    Key {
                        street: r.street_id,
                        id: r.id,
                    },
                )
            })
            .collect()
    } else {
        Vec::new()
    };
    let cards = code_cards(l, &codes, &address, &reissue)?;
    // The household's own link, for a phone: made here by whoever may.
    let share = if let Some(link) = link {
        format!(
            r#"<section class="card noprint" id="household-link"><h2>{h}</h2><p>{p}</p>{qr}<p class="code"><a id="household-link-url" href="{u}">{u}</a></p></section>"#,
            h = l.t("住户链接已生成", "The household's link"),
            p = l.t(
                "用住户的手机扫这个码或打开链接，即可随时出示全家的个人码。链接只显示一次；泄露时可撤销。",
                "Scan this with the household's phone, or open the link there: it shows the family's codes at any time. Shown once; revoke it if it leaks."
            ),
            qr = qr_svg(link).unwrap_or_default(),
            u = esc(link),
        )
    } else if a
        .principal
        .can(Action::ManageHouseholdLinks, &place, s.clock.now_ms())
    {
        format!(
            r#"<form method="post" action="/households/{k}/link" class="noprint"><input type="hidden" name="csrf" value="{csrf}"><button type="submit">{b}</button></form>"#,
            csrf = esc(&a.csrf),
            b = l.t("生成住户手机链接", "Make a link for the household's phone"),
        )
    } else {
        String::new()
    };
    let body = format!(
        r#"<div class="sheet"><h1>{h}</h1><p class="muted">{addr} · {n} {people}</p><p class="noprint"><button type="button" onclick="window.print()">{p}</button></p>{share}
<div class="code-grid">{cards}</div><p class="hint">{hint}</p></div>"#,
        h = l.t("个人码（核酸扫码用）", "Personal codes (for testing)"),
        addr = esc(&address),
        n = rows.len(),
        people = l.t("人", "people"),
        p = l.t("打印（A4）", "Print (A4)"),
        hint = l.t(
            "请妥善保管，丢失可补发（旧码即作废）。姓名已脱敏。",
            "Keep it safe; a lost code is reissued and the old one stops working. Names are masked."
        ),
    );
    Ok((l.t("个人码", "Personal codes").to_string(), body))
}

/// The form that reissues one person's code: a tick first (the old code stops
/// working at once), then the button.
fn reissue_form(l: super::Lang, csrf: &str, resident: Key) -> String {
    format!(
        r#"<form method="post" action="/residents/{resident}/code/reissue" class="noprint reissue"><input type="hidden" name="csrf" value="{csrf}"><label style="flex-direction:row;align-items:center;font-weight:400;font-size:.9rem"><input type="checkbox" name="confirm" value="1" required style="width:22px;height:22px;min-height:22px;flex:none"> {tick}</label><button type="submit">{button}</button></form>"#,
        csrf = esc(csrf),
        tick = l.t(
            "此人的码已丢失或泄露：补发后旧码作废",
            "This person's code is lost or leaked: once reissued the old one stops working"
        ),
        button = l.t("补发新码", "Reissue the code"),
    )
}

/// Reissues a lost or leaked code (the tick on the code sheet confirms it)
/// through the API's own use-case, audited as it is, then sends the browser
/// to the page showing the new code (so a refresh does not reissue again).
pub async fn code_reissue(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    page: Page,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    match reissue_now(&s, &a, &page, &id, &body).await {
        Ok(k) => super::redirect(&format!("/residents/{k}/code/reissued")),
        Err(e) => page.error(e),
    }
}

async fn reissue_now(
    s: &AppState,
    a: &Auth,
    page: &Page,
    id: &str,
    body: &[u8],
) -> Result<Key, WebError> {
    let l = page.lang;
    let k = parse_key(l, id)?;
    // Who may, before what the form says.
    let place = gw_app::access::place_of(&s.store, "resident", k).await?;
    gw_app::access::authorize(&a.principal, &s.clock, Action::WriteRegistry, &place)?;
    if super::Fields::parse(body).get("confirm") != "1" {
        return Err(WebError::bad_request(l.t(
            "请先勾选确认此人的码已丢失或泄露，再补发：补发后旧码作废。未补发。",
            "Tick the box that this person's code is lost or leaked first: the old code stops working. Nothing was reissued.",
        )));
    }
    gw_app::codes::reissue(&s.store, &s.clock, &a.principal, k)
        .await
        .map_err(|e| super::rounds::auth_err(l, e))?;
    Ok(k)
}

/// The result of a reissue: the person's code as it now is, with the link
/// to the household's new sheet. For whoever may reissue it; asked for
/// again, it reissues nothing.
pub async fn code_reissued(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    page: Page,
    Path(id): Path<String>,
) -> Response {
    page.answer(reissued_body(&s, &a, &page, &id).await)
}

async fn reissued_body(
    s: &AppState,
    a: &Auth,
    page: &Page,
    id: &str,
) -> Result<(String, String), WebError> {
    let l = page.lang;
    let k = parse_key(l, id)?;
    let place = gw_app::access::place_of(&s.store, "resident", k).await?;
    gw_app::access::authorize(&a.principal, &s.clock, Action::WriteRegistry, &place)?;
    let code = gw_app::codes::code_for(&s.store, &s.clock, k).await?;
    // As people count: the first code is 第1版.
    let version = code.generation + 1;
    let r = s.store.resident(k.street, k.id).await?;
    let name = gw_domain::mask::name(&r.resident.name);
    let address = gw_app::registry::address_text(&r).unwrap_or_default();
    let card = code_cards(l, &[(name.clone(), code.text())], &address, &[])?;
    let sheet = r.household_id.map_or_else(String::new, |h| {
        format!(
            r#"<p class="actions noprint"><a class="button primary" id="new-code-sheet" href="/households/{}/codes">{}</a></p>"#,
            Key {
                street: k.street,
                id: h
            },
            l.t("打开本户新的码单（打印）", "Open the household's new code sheet (to print)")
        )
    });
    let body = format!(
        r#"<div class="sheet"><section class="card issued" id="code-reissued"><h1>{h}</h1><p class="notice">{done}</p><p>{old}</p>{sheet}</section>
<div class="code-grid">{card}</div><p class="hint">{hint}</p></div>"#,
        h = l.t("已补发新码", "A new code is issued"),
        done = esc(&match l {
            super::Lang::Zh => format!("已为 {name} 补发个人码（第{version}版）。"),
            super::Lang::En => format!("{name}'s personal code is reissued (version {version})."),
        }),
        old = l.t(
            "旧码从现在起作废：采样点再扫旧码，样本不再记到此人名下（会被标出）。请打印新的码单交给本人；住户手机链接会自动显示新码。",
            "The old code no longer works: a swab scanned with it no longer counts for this person (it is flagged). Print the new code sheet and hand it over; the household's phone link shows the new code by itself.",
        ),
        hint = l.t(
            "补发已记入操作日志。姓名已脱敏。",
            "The reissue is in the audit log. Names are masked."
        ),
    );
    Ok((l.t("补发个人码", "Reissue a code").to_string(), body))
}
