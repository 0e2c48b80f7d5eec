//! Printable sheets: a household's personal codes as QR codes, names masked,
//! laid out for A4 by the print stylesheet (`@media print` in app.css).

use std::fmt::Write as _;

use axum::extract::{Path, State};
use axum::http::StatusCode;
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
    match body(&s, &a, &page, &id).await {
        Ok((title, body)) => page.render(StatusCode::OK, &title, &body),
        Err(e) => page.error(e),
    }
}

async fn body(s: &AppState, a: &Auth, page: &Page, id: &str) -> Result<(String, String), WebError> {
    let l = page.lang;
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
    let address = rows
        .first()
        .and_then(gw_app::registry::address_text)
        .unwrap_or_default();
    let mut cards = String::new();
    for r in &rows {
        let rk = Key {
            street: r.street_id,
            id: r.id,
        };
        let code = gw_app::codes::show(&s.store, &s.clock, &a.principal, rk).await?;
        let text = code.text();
        let svg = qr_svg(&text).unwrap_or_default();
        let _ = write!(
            cards,
            r#"<div class="code-card">{svg}<div><b class="masked-name">{}</b><small>{}</small><small class="code-text">{}</small></div></div>"#,
            esc(&gw_domain::mask::name(&r.resident.name)),
            esc(&address),
            esc(&text),
        );
    }
    if cards.is_empty() {
        return Err(WebError::not_found(
            l.t("这一户没有居民", "This household has no residents"),
        ));
    }
    let body = format!(
        r#"<div class="sheet"><h1>{h}</h1><p class="muted">{addr} · {n} {people}</p><p class="noprint"><button type="button" onclick="window.print()">{p}</button></p>
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
