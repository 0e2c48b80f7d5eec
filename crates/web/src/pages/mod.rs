//! Server-rendered pages: one small layout, one CSS file, the station's script
//! and its service worker, all served by the binary. Chinese first; `?lang=en`
//! (remembered in a cookie) switches to English. No front-end framework and
//! nothing fetched from elsewhere at run time.

use std::collections::HashMap;
use std::sync::OnceLock;

use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form};
use gw_domain::access::{role_allows, Action, Field, Node};
use gw_domain::ids::Key;
use serde::Deserialize;

use crate::{html_escape as esc, AppState, Auth, WebError};

mod channels;
mod live;
mod packing;
mod print;
mod registry;
mod reports;
mod rounds;
mod setup;
mod station;
pub use channels::{channel_add, channel_remove, channel_test, channels_page};
pub use live::{events, live};
pub use packing::{
    alerts, alerts_reveal_phones, hand_over, pack_bag, pack_box, packing, receive, recount,
};
pub use print::{
    building_codes, code_reissue, code_reissued, household_codes, household_link,
    household_link_create, qr_svg,
};
pub use registry::{
    grid, household, household_flags, household_leave, household_move, import_form, import_report,
    import_submit, registry, search,
};
pub use reports::{
    assign_building, building, building_control, household_control, point_labels, round_report,
};
pub use rounds::{
    compare, coverage_by, delay_slot, disinfection, disinfection_done, door_to_door,
    door_to_door_reveal, lab_correct, lab_form, lab_submit, plan, push_slot, reconciliation,
    resamples, resamples_reveal, schedule,
};
pub use setup::{
    exempt, point_change, point_create, round_create, round_form, round_state, supplies_issue,
};
pub use station::station;

pub const LANG_COOKIE: &str = "gw_lang";

const CSS: &str = include_str!("assets/app.css");
const STATION_JS: &str = include_str!("assets/station.js");
const SW_JS: &str = include_str!("assets/sw.js");

/// FNV-1a of the assets: changes whenever one does, so URLs carrying it can be
/// cached for a year and the service worker replaces its cache.
pub fn asset_version() -> &'static str {
    static V: OnceLock<String> = OnceLock::new();
    V.get_or_init(|| {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in CSS.bytes().chain(STATION_JS.bytes()).chain(SW_JS.bytes()) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        format!("{:012x}", h & 0xffff_ffff_ffff)
    })
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            // URLs carry the version: a changed file is a new URL.
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        body,
    )
        .into_response()
}

/// The fields of an urlencoded form body, in order (checkboxes repeat their
/// name). Read leniently: a body that is no form has no fields, so the
/// use-case's access check answers first, never the parser.
#[derive(Default)]
pub(crate) struct Fields(Vec<(String, String)>);

impl Fields {
    pub(crate) fn parse(body: &[u8]) -> Fields {
        Fields(
            std::str::from_utf8(body)
                .unwrap_or("")
                .split('&')
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (form_decode(k), form_decode(v)))
                .collect(),
        )
    }

    /// A field's value, trimmed ("" when absent).
    pub(crate) fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.trim())
    }

    /// Every non-empty value of a repeated field.
    pub(crate) fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, v)| k == name && !v.trim().is_empty())
            .map(|(_, v)| v.trim().to_string())
            .collect()
    }
}

pub async fn css() -> Response {
    asset(CSS, "text/css; charset=utf-8")
}

pub async fn station_js() -> Response {
    asset(STATION_JS, "text/javascript; charset=utf-8")
}

/// The service worker: not cached by HTTP (the browser checks it for updates);
/// its cache name carries the asset version.
pub async fn service_worker() -> Response {
    static BODY: OnceLock<String> = OnceLock::new();
    let body = BODY.get_or_init(|| SW_JS.replace("__VERSION__", asset_version()));
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body.clone(),
    )
        .into_response()
}

/// The language of a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Zh,
    En,
}

impl Lang {
    pub fn t<'a>(self, zh: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }
    fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }
}

fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    query?
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| form_decode(v))
}

/// Decodes one `application/x-www-form-urlencoded` value.
pub(crate) fn form_decode(v: &str) -> String {
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                match std::str::from_utf8(&b[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    Some(x) => {
                        out.push(x);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The language asked for: `?lang=` first, then the cookie, then Chinese.
/// The second value is set when the query asked (the cookie is then written).
pub(crate) fn lang_of(headers: &HeaderMap, query: Option<&str>) -> (Lang, bool) {
    let parse = |v: &str| match v {
        "en" => Some(Lang::En),
        "zh" => Some(Lang::Zh),
        _ => None,
    };
    if let Some(l) = query_param(query, "lang").as_deref().and_then(parse) {
        return (l, true);
    }
    let cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == LANG_COOKIE)
        .and_then(|(_, v)| parse(v));
    (cookie.unwrap_or(Lang::Zh), false)
}

/// What every page handler starts from: the language, the caller (if any),
/// the path and query (for the language switch).
pub struct Page {
    pub lang: Lang,
    switched: bool,
    pub auth: Option<Auth>,
    path: String,
    query: String,
    /// For a page answered to a form (not a GET): the page the form was
    /// on, as path and query on this server, when the browser said so.
    form_on: Option<String>,
    answers_form: bool,
}

/// The path and query of `referer` when it is an address on this server
/// (`host`, as the request's Host header says it), else `None`.
fn referer_here(referer: Option<&str>, host: Option<&str>) -> Option<String> {
    let r = referer?;
    let rest = r
        .strip_prefix("https://")
        .or_else(|| r.strip_prefix("http://"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, "/"),
    };
    if !authority.eq_ignore_ascii_case(host?) || path.starts_with("//") || path.contains('\\') {
        return None;
    }
    Some(path.split('#').next().unwrap_or("/").to_string())
}

/// A GET page that makes sense for a form posted to `path` when the form's
/// page is not known: the round's, point's, building's, grid's or
/// household's page the address names, else the home page.
fn page_for_form(path: &str) -> String {
    let mut seg = path.trim_start_matches('/').split('/');
    match (seg.next(), seg.next()) {
        (Some(kind @ ("rounds" | "points" | "buildings" | "grids" | "households")), Some(id))
            if !id.is_empty() && id != "new" =>
        {
            format!("/{kind}/{id}")
        }
        // Pages whose form posts to their own address.
        (Some(own @ ("login" | "password")), None) => format!("/{own}"),
        _ => "/".to_string(),
    }
}

fn header(h: &axum::http::HeaderMap, name: axum::http::header::HeaderName) -> Option<&str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

impl<S: Send + Sync> FromRequestParts<S> for Page {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let (lang, switched) = lang_of(&parts.headers, parts.uri.query());
        Ok(Page {
            lang,
            switched,
            auth: parts.extensions.get::<Auth>().cloned(),
            path: parts.uri.path().to_string(),
            query: parts.uri.query().unwrap_or("").to_string(),
            form_on: referer_here(
                header(&parts.headers, axum::http::header::REFERER),
                header(&parts.headers, axum::http::header::HOST),
            ),
            answers_form: parts.method != axum::http::Method::GET
                && parts.method != axum::http::Method::HEAD,
        })
    }
}

impl Page {
    /// The page a request asks for, read from the request itself: for the
    /// answers made before or instead of a page handler (the route check, an
    /// unknown address, an extractor's refusal), so they keep the reader's
    /// header and a language link back to the same address.
    pub(crate) fn of_request<B>(req: &axum::http::Request<B>) -> Page {
        let (lang, switched) = lang_of(req.headers(), req.uri().query());
        Page {
            lang,
            switched,
            auth: req.extensions().get::<Auth>().cloned(),
            path: req.uri().path().to_string(),
            query: req.uri().query().unwrap_or("").to_string(),
            form_on: referer_here(
                header(req.headers(), axum::http::header::REFERER),
                header(req.headers(), axum::http::header::HOST),
            ),
            answers_form: req.method() != axum::http::Method::GET
                && req.method() != axum::http::Method::HEAD,
        }
    }

    /// The link to this page in the other language. A page answered to a
    /// form links to a page that can be asked for again: the one the form
    /// was on (the Referer, when on this server and not this address), else
    /// the page of what the form's address names.
    fn switch_link(&self) -> String {
        let other = match self.lang {
            Lang::Zh => "en",
            Lang::En => "zh",
        };
        let (path, query) = if self.answers_form {
            let on = self
                .form_on
                .as_deref()
                .map(|r| r.split_once('?').unwrap_or((r, "")))
                .filter(|(p, _)| *p != self.path);
            match on {
                Some((p, q)) => (p.to_string(), q.to_string()),
                None => (page_for_form(&self.path), String::new()),
            }
        } else {
            (self.path.clone(), self.query.clone())
        };
        // Always a path on this server: an address asked as `//host/…` (or
        // `/\host`) would otherwise link to another site.
        let path = format!("/{}", path.trim_start_matches(['/', '\\']));
        let mut q: Vec<&str> = query
            .split('&')
            .filter(|kv| !kv.is_empty() && !kv.starts_with("lang="))
            .collect();
        let l = format!("lang={other}");
        q.push(&l);
        format!("{path}?{}", q.join("&"))
    }

    /// The page in the shared layout.
    /// A page made by a body function: 200 with its title and body, or its
    /// error page.
    pub fn answer(&self, r: Result<(String, String), WebError>) -> Response {
        match r {
            Ok((title, body)) => self.render(StatusCode::OK, &title, &body),
            Err(e) => self.error(e),
        }
    }

    pub fn render(&self, status: StatusCode, title: &str, body: &str) -> Response {
        self.render_with(status, title, body, "")
    }

    fn render_with(&self, status: StatusCode, title: &str, body: &str, head: &str) -> Response {
        let l = self.lang;
        let user = match &self.auth {
            Some(a) if !a.principal.username.starts_with("station:") => format!(
                r#"<span class="who">{}</span><form method="post" action="/logout" class="inline"><input type="hidden" name="csrf" value="{}"><button class="link">{}</button></form>"#,
                esc(display(&a.principal)),
                esc(&a.csrf),
                l.t("退出", "Log out")
            ),
            _ => format!(r#"<a href="/login">{}</a>"#, l.t("登录", "Log in")),
        };
        let html = format!(
            r#"<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{title} · {brand}</title><link rel="stylesheet" href="/assets/app.css?v={v}">{head}</head>
<body><header class="top"><a class="brand" href="/">{brand}</a><nav><a class="lang" href="{switch}">{other}</a>{user}</nav></header>
<main>{body}</main></body></html>"#,
            lang = l.t("zh-CN", "en"),
            title = esc(title),
            brand = l.t("网格卫士", "Gridwarden"),
            v = asset_version(),
            switch = esc(&self.switch_link()),
            other = l.t("English", "中文"),
        );
        let mut res = (status, html).into_response();
        let h = res.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        // Pages carry personal data: never stored by a cache.
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if self.switched {
            if let Ok(v) = HeaderValue::from_str(&format!(
                "{LANG_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax",
                l.code()
            )) {
                h.append(header::SET_COOKIE, v);
            }
        }
        res
    }
}

fn display(p: &gw_app::access::Principal) -> &str {
    if p.display_name.is_empty() {
        &p.username
    } else {
        &p.display_name
    }
}

fn redirect(to: &str) -> Response {
    (
        StatusCode::SEE_OTHER,
        [(header::LOCATION, to.to_string())],
        "",
    )
        .into_response()
}

impl Page {
    fn error(&self, e: WebError) -> Response {
        self.error_with(e.status, e.code, &e.message)
    }

    /// The page a form answered here was on (see `switch_link`); `None`
    /// for a page asked for with GET.
    fn form_page(&self) -> Option<String> {
        if !self.answers_form {
            return None;
        }
        Some(
            self.form_on
                .clone()
                .filter(|r| r.split('?').next() != Some(self.path.as_str()))
                .unwrap_or_else(|| page_for_form(&self.path)),
        )
    }

    /// An error answered to a form, with a link back to `back` (the page
    /// the form was on) beside the one home.
    pub(crate) fn error_back(&self, e: WebError, back: &str) -> Response {
        self.error_page(e.status, e.code, &e.message, Some(back))
    }

    /// An error in this page's place: the caller's own header (their name,
    /// 退出) and the language link back to this very page (for a form, the
    /// page it was on, with a link back to it too).
    pub(crate) fn error_with(&self, status: StatusCode, code: &str, message: &str) -> Response {
        let back = self.form_page();
        self.error_page(status, code, message, back.as_deref())
    }

    /// The error as a page: the status, a machine-readable code in a meta
    /// tag (the tests read it), what to do in the reader's language.
    fn error_page(
        &self,
        status: StatusCode,
        code: &str,
        message: &str,
        back: Option<&str>,
    ) -> Response {
        let lang = self.lang;
        let (title, extra) = match code {
            "unauthenticated" => (
                lang.t("请先登录", "Log in first"),
                r#"<meta http-equiv="refresh" content="0;url=/login">"#,
            ),
            "password_change_required" => (
                lang.t("请先修改一次性密码", "Change your one-time password first"),
                r#"<meta http-equiv="refresh" content="0;url=/password">"#,
            ),
            "forbidden" => (lang.t("无权查看", "Not allowed"), ""),
            "csrf" => (lang.t("页面已过期", "This page has expired"), ""),
            _ => (lang.t("出错了", "Something went wrong"), ""),
        };
        // Only a path on this server.
        let back = back
            .filter(|b| b.starts_with('/') && !b.starts_with("//") && !b.contains('\\'))
            .filter(|b| *b != "/")
            .map(|b| {
                format!(
                    r#"<a class="button" id="back" href="{}">{}</a> "#,
                    esc(b),
                    lang.t("返回上一页", "Back to the page you were on")
                )
            })
            .unwrap_or_default();
        // The message in the reader's language; the other language's half
        // folded away beneath (some messages say more in one of them).
        let said = rounds::reason_in(lang, message);
        let other = rounds::reason_in(
            match lang {
                Lang::Zh => Lang::En,
                Lang::En => Lang::Zh,
            },
            message,
        );
        let other = if other == said {
            String::new()
        } else {
            format!(
                r#"<details class="muted" id="error-other"><summary>{}</summary>{}</details>"#,
                lang.t("English", "中文"),
                esc(&other)
            )
        };
        let body = format!(
            r#"<section class="card"><h1>{}</h1><p class="error">{}</p>{other}<p>{back}<a class="button" href="/">{}</a></p></section>"#,
            esc(title),
            esc(&said),
            lang.t("返回首页", "Back to the home page")
        );
        self.render_with(
            status,
            title,
            &body,
            &format!(r#"<meta name="gw-error" content="{}">{extra}"#, esc(code)),
        )
    }
}

// ----- login, logout, password -------------------------------------------------

pub async fn login_form(page: Page) -> Response {
    login_page(&page, StatusCode::OK, "", "")
}

fn login_page(page: &Page, status: StatusCode, error: &str, username: &str) -> Response {
    let l = page.lang;
    let notice = if page.query.contains("changed=1") {
        format!(
            r#"<p class="notice">{}</p>"#,
            l.t(
                "密码已修改，请用新密码登录。",
                "Password changed: log in with the new one."
            )
        )
    } else {
        String::new()
    };
    let err = if error.is_empty() {
        String::new()
    } else {
        format!(r#"<p class="error" role="alert">{}</p>"#, esc(error))
    };
    let body = format!(
        r#"<section class="card narrow"><h1>{h}</h1>{notice}{err}
<form method="post" action="/login" class="stack">
<label>{u}<input name="username" autocomplete="username" required autofocus value="{uv}"></label>
<label>{p}<input name="password" type="password" autocomplete="current-password" required></label>
<button class="primary" type="submit">{b}</button></form>
<p class="hint">{st} <a href="/station">{sl}</a></p></section>"#,
        h = l.t("登录", "Log in"),
        u = l.t("用户名", "Username"),
        uv = esc(username),
        p = l.t("密码", "Password"),
        b = l.t("登录", "Log in"),
        st = l.t("采样点扫码设备：", "Scanning station:"),
        sl = l.t("打开扫码页", "open the station page"),
    );
    page.render(status, l.t("登录", "Log in"), &body)
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    pub username: String,
    pub password: String,
}

pub async fn login_submit(
    State(s): State<AppState>,
    Extension(addr): Extension<crate::ClientAddr>,
    page: Page,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    let l = page.lang;
    match gw_app::access::login(&s.store, &s.clock, &f.username, &f.password, &addr.0).await {
        Ok(session) => {
            let cookie = crate::api::session_cookie(&s, &headers, &session.token);
            let to = if session.user.must_change_password {
                "/password"
            } else {
                "/"
            };
            let mut res = redirect(to);
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                res.headers_mut().append(header::SET_COOKIE, v);
            }
            res
        }
        Err(gw_app::access::AuthError::BadCredentials) => login_page(
            &page,
            StatusCode::UNAUTHORIZED,
            l.t(
                "用户名或密码错误，或尝试次数过多：请核对后再试，或稍等片刻。",
                "Wrong username or password, or too many attempts: check them, or wait a moment and try again.",
            ),
            &f.username,
        ),
        Err(e) => page.error(e.into()),
    }
}

pub async fn logout(State(s): State<AppState>, Extension(a): Extension<Auth>) -> Response {
    let _ = gw_app::access::logout(&s.store, &a.token).await;
    let mut res = redirect("/login");
    res.headers_mut().append(
        header::SET_COOKIE,
        HeaderValue::from_static("gw_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"),
    );
    res
}

pub async fn password_form(page: Page, Extension(a): Extension<Auth>) -> Response {
    password_page(&page, &a, StatusCode::OK, "")
}

fn password_page(page: &Page, a: &Auth, status: StatusCode, error: &str) -> Response {
    let l = page.lang;
    let lead = if a.principal.must_change_password {
        l.t(
            "首次登录请设置自己的密码（至少 10 个字符）。",
            "First login: choose your own password (at least 10 characters).",
        )
    } else {
        l.t(
            "新密码至少 10 个字符。修改后所有会话都会退出。",
            "At least 10 characters. Every session ends when it changes.",
        )
    };
    let err = if error.is_empty() {
        String::new()
    } else {
        format!(r#"<p class="error" role="alert">{}</p>"#, esc(error))
    };
    let body = format!(
        r#"<section class="card narrow"><h1>{h}</h1><p>{lead}</p>{err}
<form method="post" action="/password" class="stack"><input type="hidden" name="csrf" value="{csrf}">
<label>{o}<input name="old" type="password" autocomplete="current-password" required autofocus></label>
<label>{n}<input name="new" type="password" autocomplete="new-password" minlength="10" required></label>
<label>{n2}<input name="again" type="password" autocomplete="new-password" minlength="10" required></label>
<button class="primary" type="submit">{b}</button></form></section>"#,
        h = l.t("修改密码", "Change password"),
        csrf = esc(&a.csrf),
        o = l.t("当前密码", "Current password"),
        n = l.t("新密码", "New password"),
        n2 = l.t("再输入一次新密码", "New password again"),
        b = l.t("保存新密码", "Save the new password"),
    );
    page.render(status, l.t("修改密码", "Change password"), &body)
}

#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    pub old: String,
    pub new: String,
    pub again: String,
}

pub async fn password_submit(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    page: Page,
    Form(f): Form<PasswordForm>,
) -> Response {
    let l = page.lang;
    if f.new != f.again {
        return password_page(
            &page,
            &a,
            StatusCode::BAD_REQUEST,
            l.t(
                "两次输入的新密码不一致，请重新输入。",
                "The two new passwords differ: type them again.",
            ),
        );
    }
    match gw_app::access::change_password(&s.store, &s.clock, &a.principal, &f.old, &f.new).await {
        Ok(()) => {
            let mut res = redirect("/login?changed=1");
            res.headers_mut().append(
                header::SET_COOKIE,
                HeaderValue::from_static("gw_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"),
            );
            res
        }
        Err(gw_app::access::AuthError::BadCredentials) => password_page(
            &page,
            &a,
            StatusCode::BAD_REQUEST,
            l.t(
                "当前密码不对，请重新输入。",
                "The current password is wrong: type it again.",
            ),
        ),
        Err(gw_app::access::AuthError::Invalid(m)) => {
            password_page(&page, &a, StatusCode::BAD_REQUEST, &m)
        }
        Err(e) => page.error(e.into()),
    }
}

// ----- home ------------------------------------------------------------------------

fn role_label(l: Lang, r: gw_domain::access::Role) -> &'static str {
    use gw_domain::access::Role::*;
    match l {
        Lang::Zh => r.label_zh(),
        Lang::En => match r {
            Admin => "Administrator",
            StreetCommander => "Street commander",
            CommunitySecretary => "Community secretary",
            GridLeader => "Grid leader",
            PointManager => "Testing-point manager",
            Volunteer => "Volunteer",
            Lab => "Laboratory",
            CdcLiaison => "CDC liaison",
        },
    }
}

/// What a role may do, in the reader's words.
fn abilities(l: Lang) -> Vec<(Action, &'static str)> {
    vec![
        (
            Action::ReadRegistry,
            l.t(
                "查看辖区的楼栋、住户和居民（信息已脱敏）",
                "See the buildings, households and residents of your area (masked)",
            ),
        ),
        (
            Action::WriteRegistry,
            l.t(
                "登记临时人员、设置管控状态",
                "Register walk-ins, set control status",
            ),
        ),
        (
            Action::Reveal(Field::Phone),
            l.t("查看完整电话（留痕）", "See a full phone number (audited)"),
        ),
        (
            Action::ManageRounds,
            l.t(
                "组织核酸检测轮次和采样点",
                "Set up testing rounds and points",
            ),
        ),
        (
            Action::Scan,
            l.t("在采样点扫码登记", "Scan codes at a testing point"),
        ),
        (
            Action::ManageStations,
            l.t("发放和撤销扫码设备", "Enrol and revoke scanning stations"),
        ),
        (
            Action::Pack,
            l.t(
                "在采样点装袋、装箱、交接转运",
                "Bag, box and hand over tubes at a testing point",
            ),
        ),
        (
            Action::PostResults,
            l.t("上传检测结果", "Upload test results"),
        ),
        (
            Action::Receive,
            l.t(
                "接收转运箱并清点管数",
                "Receive transport boxes and count their tubes",
            ),
        ),
        (
            Action::ManageUsers,
            l.t("管理账号和授权", "Manage accounts and grants"),
        ),
    ]
}

struct Names {
    streets: Vec<gw_store::registry::StreetRow>,
}

impl Names {
    async fn node(&self, s: &AppState, l: Lang, n: Node) -> String {
        let street = |id: i64| {
            self.streets
                .iter()
                .find(|r| r.id == id)
                .map_or_else(|| format!("#{id}"), |r| r.name.clone())
        };
        match n {
            Node::City => l.t("全市", "the whole city").to_string(),
            Node::District { id } => self
                .streets
                .iter()
                .find(|r| r.district_id == id)
                .map_or_else(|| format!("#{id}"), |r| r.district.clone()),
            Node::Street { id } => street(id),
            Node::Community { street: st, id } => {
                let c = s
                    .store
                    .communities(None, Some(st))
                    .await
                    .unwrap_or_default();
                let name = c
                    .iter()
                    .find(|c| c.id == id)
                    .map_or_else(|| format!("#{id}"), |c| c.name.clone());
                format!("{} {name}", street(st))
            }
            Node::Grid { street: st, id } => {
                let g = s.store.grids(None, None).await.unwrap_or_default();
                let name = g
                    .iter()
                    .find(|g| g.street_id == st && g.id == id)
                    .map_or_else(
                        || format!("#{id}"),
                        |g| format!("{} {}", g.community_name, g.name),
                    );
                format!("{} {name}", street(st))
            }
            Node::Point { street: st, id } => {
                let name = s
                    .store
                    .point(st, id)
                    .await
                    .map_or_else(|_| format!("#{id}"), |p| p.name);
                format!("{} {} {name}", street(st), l.t("采样点", "testing point"))
            }
        }
    }
}

/// Commands the API's and the command line's words send a reader to, and
/// the page that does the same on the web: `(command and its round flag,
/// the page's path with the round for {}, its name)`.
const COMMAND_PAGES: [(&str, &str, (&str, &str)); 1] = [(
    "gridwarden handoff report --round ",
    "/rounds/{}/reconciliation",
    ("数据统计校对页", "the count reconciliation page"),
)];

/// A bilingual message of the app (`中文 / English`) as a page shows it
/// (HTML): the reader's half, a command it names replaced by a link to the
/// page that does the same ("…: gridwarden handoff report --round 1-6"
/// becomes the reconciliation page of round 1-6).
pub(crate) fn web_words(l: Lang, msg: &str) -> String {
    let mut text = registry::pick(l, msg);
    let mut links = String::new();
    for (command, path, (zh, en)) in COMMAND_PAGES {
        let Some(at) = msg.find(command) else {
            continue;
        };
        let arg: String = msg[at + command.len()..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        let said = format!("{command}{arg}");
        for cut in [format!(": {said}"), format!("：{said}"), said.clone()] {
            text = text.replace(&cut, "");
        }
        links.push_str(&format!(
            r#"{}<a href="{}">{}</a>"#,
            l.t("：", ": "),
            esc(&path.replace("{}", &arg)),
            esc(l.t(zh, en))
        ));
    }
    format!("{}{links}", esc(&text))
}

/// The full phone numbers of `residents` (ids `1-42`) for a page that shows
/// them on request, each read audited as `POST /api/v1/residents/{id}/reveal`
/// is; a resident whose phone the caller may not reveal stays masked (left
/// out). The alerts page, the missed list and the door-to-door list use it.
pub(crate) async fn reveal_phones(
    s: &AppState,
    a: &Auth,
    l: Lang,
    residents: &[&str],
) -> Result<HashMap<String, Vec<String>>, WebError> {
    let mut out = HashMap::new();
    for id in residents {
        let k = parse_key(l, id)?;
        match gw_app::access::reveal(
            &s.store,
            &s.clock,
            &a.principal,
            k,
            Field::Phone,
            &a.address,
        )
        .await
        {
            Ok(v) => {
                let numbers: Vec<String> = v
                    .as_array()
                    .map(|ps| {
                        ps.iter()
                            .filter_map(|p| p["number"].as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default();
                out.insert((*id).to_string(), numbers);
            }
            // Not this caller's to reveal: stays masked.
            Err(gw_app::access::AuthError::Forbidden(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(out)
}

/// The control that shows one resident's full phone numbers on a list page:
/// a button of the page's one reveal form (`form="reveal"`, see
/// [`reveal_form`]), so a list of 200 carries one CSRF field, not 200
/// (buttons are not printed).
pub(crate) fn reveal_button(l: Lang, resident: &str) -> String {
    format!(
        r#"<button form="reveal" name="resident" value="{}" class="link rv">{}</button>"#,
        esc(resident),
        l.t(
            "显示完整电话（记入审计日志）",
            "Show the full phone (audited)"
        )
    )
}

/// A list page's one reveal form, posted back to the page (`action`, with
/// its query) by any [`reveal_button`]; and a notice naming what a post
/// showed (`shown`: the resident as the list shows them, their numbers).
pub(crate) fn reveal_form(
    a: &Auth,
    l: Lang,
    action: &str,
    shown: Option<(&str, &[String])>,
) -> String {
    let notice = match shown {
        Some((who, numbers)) => format!(
            r#"<p class="notice" id="revealed">{}</p>"#,
            esc(&match l {
                Lang::Zh => format!(
                    "{who} 的完整电话：{}（本次查看已记入审计日志）",
                    if numbers.is_empty() {
                        "无".to_string()
                    } else {
                        numbers.join("、")
                    }
                ),
                Lang::En => format!(
                    "{who}'s full phone: {} (this look is in the audit log)",
                    if numbers.is_empty() {
                        "none".to_string()
                    } else {
                        numbers.join(", ")
                    }
                ),
            })
        ),
        None => String::new(),
    };
    format!(
        r#"{notice}<form id="reveal" method="post" action="{}" class="noprint"><input type="hidden" name="csrf" value="{}"></form>"#,
        esc(action),
        esc(&a.csrf)
    )
}

/// Whether the reader may open a round's page (`/rounds/{id}`) and the
/// pages it leads to: registry readers. A link to one is offered only to them.
pub(crate) fn reads_rounds(s: &AppState, a: &Auth) -> bool {
    gw_domain::access::can_reach_somewhere(
        &a.principal.grants,
        Action::ReadRegistry,
        s.clock.now_ms(),
    )
}

fn date_text(ms: i64) -> String {
    gw_domain::date::Date::from_unix_ms_cst(ms).map_or_else(|| ms.to_string(), |d| d.to_string())
}

pub async fn home(State(s): State<AppState>, page: Page) -> Response {
    let l = page.lang;
    let Some(a) = page.auth.clone() else {
        return landing(&page);
    };
    if a.principal.must_change_password {
        return redirect("/password");
    }
    let now = s.clock.now_ms();
    let names = Names {
        streets: s.store.streets().await.unwrap_or_default(),
    };
    let mut grants = String::new();
    let mut streets: Vec<i64> = Vec::new();
    for g in a.principal.grants.iter().filter(|g| g.in_force(now)) {
        let until = g.until_ms.map_or_else(
            || l.t("长期", "no end").to_string(),
            |u| format!("{} {}", l.t("至", "until"), date_text(u)),
        );
        // A point belongs to one round: its grant is named by the round, not
        // called long-term (its end, if it has one, beside).
        let until = match g.node {
            Node::Point { street, id } => match s.store.point(street, id).await {
                Ok(p) => {
                    let round = s
                        .store
                        .round(street, p.round_id)
                        .await
                        .map_or_else(|_| format!("{street}-{}", p.round_id), |r| r.name);
                    match g.until_ms {
                        Some(_) => format!("{round}{}{until}", l.t("，", ", ")),
                        None => round,
                    }
                }
                Err(_) => until,
            },
            _ => until,
        };
        let (open, close) = match l {
            Lang::Zh => ("（", "）"),
            Lang::En => (" (", ")"),
        };
        grants.push_str(&format!(
            "<li><strong>{}</strong> · {}<span class=\"muted\">{open}{}{close}</span></li>",
            esc(role_label(l, g.role)),
            esc(&names.node(&s, l, g.node).await),
            esc(&until)
        ));
        match g.node {
            Node::City => streets.extend(names.streets.iter().map(|r| r.id)),
            Node::District { id } => streets.extend(
                names
                    .streets
                    .iter()
                    .filter(|r| r.district_id == id)
                    .map(|r| r.id),
            ),
            Node::Street { id } => streets.push(id),
            Node::Community { street, .. }
            | Node::Grid { street, .. }
            | Node::Point { street, .. } => streets.push(street),
        }
    }
    if grants.is_empty() {
        grants = format!(
            "<li>{}</li>",
            l.t(
                "暂无有效授权：请联系社区或街道为您授权。",
                "No grant in force: ask your community or street to grant you a role."
            )
        );
    }
    streets.sort_unstable();
    streets.dedup();
    // What the grants reach, not only what their roles allow: a link or a
    // line here is work the reader can do (a secretary's role allows
    // posting results, her community holds no place they are posted at).
    let can = |act: Action| gw_domain::access::can_reach_somewhere(&a.principal.grants, act, now);
    let mut abilities_html = String::new();
    for (act, text) in abilities(l) {
        if can(act) {
            abilities_html.push_str(&format!("<li>{}</li>", esc(text)));
        }
    }
    let mut rounds_html = String::new();
    if can(Action::ReadRegistry) {
        for st in &streets {
            // A cancelled round is over before it began: not on the home page
            // (its own page still answers).
            for r in s
                .store
                .rounds(*st)
                .await
                .unwrap_or_default()
                .into_iter()
                .filter(|r| r.state != gw_domain::testing::CANCELLED)
            {
                // A round over other communities is not the reader's.
                // (A failed read shows the round: its page decides.)
                let covered = s
                    .store
                    .round_communities(r.street_id, r.id)
                    .await
                    .unwrap_or_default();
                let mut theirs = covered.is_empty();
                for c in covered {
                    if theirs {
                        break;
                    }
                    theirs = gw_app::access::reaches_community(
                        &s.store,
                        &a.principal,
                        Action::ReadRegistry,
                        r.street_id,
                        c,
                        now,
                    )
                    .await
                    .unwrap_or(true);
                }
                if !theirs {
                    continue;
                }
                let k = Key {
                    street: r.street_id,
                    id: r.id,
                };
                rounds_html.push_str(&format!(
                    r#"<li><a class="row" href="/rounds/{k}"><span>{}</span><span class="tag {}">{}</span></a></li>"#,
                    esc(&r.name),
                    esc(&r.state),
                    esc(state_label(l, &r.state))
                ));
            }
        }
        if rounds_html.is_empty() {
            rounds_html = format!(
                "<li class=\"muted\">{}</li>",
                l.t("暂无检测轮次", "No testing round yet")
            );
        }
        rounds_html = format!(
            r#"<section class="card"><h2>{}</h2><ul class="list">{rounds_html}</ul></section><p class="actions"><a class="button" href="/registry">{}</a></p>"#,
            l.t("核酸检测轮次 · 覆盖情况", "Testing rounds · coverage"),
            l.t(
                "辖区底数：楼栋、住户、查找、导入",
                "Registry: buildings, households, search, import"
            )
        );
        if can(Action::ManageRounds) {
            rounds_html.push_str(&setup::new_round_link(l));
        }
    } else {
        rounds_html = lab_rounds(&s, &a, l, &streets).await;
    }
    let mut point_links = String::new();
    for g in a.principal.grants.iter().filter(|g| g.in_force(now)) {
        if let (Node::Point { street, id }, true) =
            (g.node, role_allows(g.role, Action::ManageStations))
        {
            point_links.push_str(&format!(
                r#"<li><a class="row" href="/points/{}">{}</a></li>"#,
                Key { street, id },
                esc(&names.node(&s, l, g.node).await)
            ));
        }
    }
    for g in a.principal.grants.iter().filter(|g| g.in_force(now)) {
        if let (Node::Point { street, id }, true) = (g.node, role_allows(g.role, Action::Pack)) {
            point_links.push_str(&format!(
                r#"<li><a class="row" href="/points/{}/packing">{} · {}</a></li>"#,
                Key { street, id },
                esc(&names.node(&s, l, g.node).await),
                l.t("装袋装箱交接", "packing and hand-over")
            ));
        }
    }
    // The door-to-door lists of the rounds the user's points serve (the
    // team at the doors works from a point), each round once.
    let mut d2d_rounds: Vec<Key> = Vec::new();
    for g in a.principal.grants.iter().filter(|g| g.in_force(now)) {
        if let (Node::Point { street, id }, true) = (g.node, role_allows(g.role, Action::Scan)) {
            if let Ok(pt) = s.store.point(street, id).await {
                let round = Key {
                    street,
                    id: pt.round_id,
                };
                if !d2d_rounds.contains(&round) {
                    d2d_rounds.push(round);
                    point_links.push_str(&format!(
                        r#"<li><a class="row" href="/rounds/{round}/door-to-door">{} · {}</a></li>"#,
                        esc(&names.node(&s, l, g.node).await),
                        l.t("入户采样名单", "door-to-door list")
                    ));
                }
            }
        }
    }
    if !point_links.is_empty() {
        point_links = format!(
            r#"<section class="card"><h2>{}</h2><ul class="list">{point_links}</ul></section>"#,
            l.t("我的采样点", "My testing points")
        );
    }
    // The group robots abnormal pools are pushed to, per street the user runs.
    let mut channels = String::new();
    if can(Action::ManageRounds) {
        for st in &streets {
            let may = match s.store.place_of(*st, "street", *st).await {
                Ok(place) => a.principal.can(Action::ManageRounds, &place, now),
                Err(_) => false,
            };
            if !may {
                continue;
            }
            let name = names
                .streets
                .iter()
                .find(|r| r.id == *st)
                .map_or(String::new(), |r| r.name.clone());
            channels.push_str(&format!(
                r#"<a class="button" href="/streets/{st}/alert-channels">{} {}</a> "#,
                esc(&name),
                l.t("告警推送渠道", "alert channels")
            ));
        }
        if !channels.is_empty() {
            channels = format!(r#"<p class="actions">{channels}</p>"#);
        }
    }
    // The station page is anyone's to open (an enrolment code from a
    // point's manager makes it a station): shown to whoever's role scans.
    let station = if a.principal.can_somewhere(Action::Scan, now) {
        format!(
            r#"<section class="card"><h2>{}</h2><p>{}</p><p><a class="button" href="/station">{}</a></p></section>"#,
            l.t("扫码登记", "Scanning"),
            l.t(
                "采样点的电脑或手机用采样点负责人发放的一次性登记码打开扫码页，断网也能继续扫码。",
                "A laptop or phone at a point opens the station page with the one-time enrolment code from the point's manager; it keeps scanning when the network drops."
            ),
            l.t("打开扫码页", "Open the station page")
        )
    } else {
        String::new()
    };
    let body = format!(
        r#"<h1>{hello}{comma}{name}</h1>
<section class="card"><h2>{gh}</h2><ul class="list">{grants}</ul></section>
<section class="card"><h2>{ah}</h2><ul class="ticks">{abilities_html}</ul></section>
{rounds_html}{channels}{point_links}{station}"#,
        hello = l.t("您好", "Hello"),
        comma = l.t("，", ", "),
        name = esc(display(&a.principal)),
        gh = l.t("我的岗位和范围", "My roles and areas"),
        ah = l.t("我可以做", "What I can do"),
    );
    page.render(StatusCode::OK, l.t("首页", "Home"), &body)
}

/// The rounds of the streets where the reader receives boxes or posts
/// results without reading the registry (the lab): the rounds at work
/// first (sampling, or sampling closed), each with the lab's pages. Empty
/// for everyone else (registry readers reach these from the round's page).
async fn lab_rounds(s: &AppState, a: &Auth, l: Lang, streets: &[i64]) -> String {
    let now = s.clock.now_ms();
    let mut out = String::new();
    for st in streets {
        let Ok(place) = s.store.place_of(*st, "street", *st).await else {
            continue;
        };
        let post = a.principal.can(Action::PostResults, &place, now);
        // The reconciliation page holds the lab's receipt form.
        let counts = a.principal.can(Action::ReadLogistics, &place, now);
        if !post && !counts {
            continue;
        }
        let mut rounds = s.store.rounds(*st).await.unwrap_or_default();
        rounds.retain(|r| r.state != "planned" && r.state != gw_domain::testing::CANCELLED);
        // Stable: within each group, the store's order (newest opened first).
        rounds.sort_by_key(|r| !matches!(r.state.as_str(), "open" | "sampling_closed"));
        for r in rounds {
            let k = Key {
                street: r.street_id,
                id: r.id,
            };
            let mut links = String::new();
            if post {
                links.push_str(&format!(
                    r#"<a class="button" href="/rounds/{k}/lab">{}</a> "#,
                    l.t("上传检测结果", "Upload results")
                ));
            }
            if counts {
                links.push_str(&format!(
                    r#"<a class="button" href="/rounds/{k}/reconciliation">{}</a>"#,
                    if a.principal.can(Action::Receive, &place, now) {
                        l.t("接收样本箱 · 数据校对", "Receive boxes · reconciliation")
                    } else {
                        l.t("数据校对", "Reconciliation")
                    }
                ));
            }
            out.push_str(&format!(
                r#"<li><b>{}</b> <span class="tag {}">{}</span><p class="actions">{links}</p></li>"#,
                esc(&r.name),
                esc(&r.state),
                esc(state_label(l, &r.state))
            ));
        }
    }
    if out.is_empty() {
        let lab = a.principal.can_somewhere(Action::PostResults, now)
            || a.principal.can_somewhere(Action::Receive, now);
        if !lab {
            return String::new();
        }
        out = format!(
            "<li class=\"muted\">{}</li>",
            l.t("暂无开始采样的检测轮次", "No testing round has opened yet")
        );
    }
    format!(
        r#"<section class="card" id="lab-rounds"><h2>{}</h2><ul class="list">{out}</ul></section>"#,
        l.t(
            "检测轮次 · 样本接收与结果",
            "Testing rounds · boxes and results"
        )
    )
}

fn landing(page: &Page) -> Response {
    let l = page.lang;
    let body = format!(
        r#"<section class="card"><h1>{}</h1><p>{}</p>
<p class="actions"><a class="button primary" href="/login">{}</a> <a class="button" href="/station">{}</a></p>
<p class="muted">{} <a href="/api/v1/openapi.json">/api/v1/openapi.json</a> · <a href="/healthz">/healthz</a></p></section>"#,
        l.t("网格卫士", "Gridwarden"),
        l.t(
            "社区疫情防控工作平台：底数、核酸检测、扫码登记、覆盖情况。",
            "Community emergency operations: registry, testing rounds, scanning, coverage."
        ),
        l.t("登录", "Log in"),
        l.t("采样点扫码", "Scanning station"),
        l.t("接口说明 API:", "API:"),
    );
    page.render(StatusCode::OK, l.t("网格卫士", "Gridwarden"), &body)
}

fn state_label(l: Lang, state: &str) -> &'static str {
    match state {
        "planned" => l.t("计划中", "planned"),
        "open" => l.t("采样中", "sampling"),
        "sampling_closed" => l.t("采样结束", "sampling closed"),
        "results_complete" => l.t("结果已齐", "results complete"),
        "closed" => l.t("已结束", "closed"),
        gw_domain::testing::CANCELLED => l.t("已取消", "cancelled"),
        _ => l.t("未知", "unknown"),
    }
}

// ----- coverage ------------------------------------------------------------------

fn parse_key(l: Lang, s: &str) -> Result<Key, WebError> {
    s.parse::<Key>().map_err(|_| {
        WebError::bad_request(l.t(
            "地址中的编号应为“街道-编号”，例如 1-42",
            "The id in the address must be STREET-ID, e.g. 1-42",
        ))
    })
}

pub async fn coverage(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    page: Page,
    Path(id): Path<String>,
) -> Response {
    page.answer(coverage_body(&s, &a, &page, &id, None).await)
}

async fn coverage_body(
    s: &AppState,
    a: &Auth,
    page: &Page,
    id: &str,
    refused_point: Option<&setup::PointForm>,
) -> Result<(String, String), WebError> {
    let l = page.lang;
    let k = parse_key(l, id)?;
    let rows = gw_app::coverage::grid_rows(&s.store, &s.clock, &a.principal, k).await?;
    let round = s.store.round(k.street, k.id).await?;
    let mut grid_names: HashMap<String, String> = HashMap::new();
    let communities: Vec<String> = {
        let mut c: Vec<String> = rows.iter().map(|r| r.community.clone()).collect();
        c.sort();
        c.dedup();
        c
    };
    for c in &communities {
        if let Ok(ck) = c.parse::<Key>() {
            for g in s.store.grids(None, Some((ck.street, ck.id))).await? {
                grid_names.insert(
                    Key {
                        street: g.street_id,
                        id: g.id,
                    }
                    .to_string(),
                    format!("{} · {}", g.community_name, g.name),
                );
            }
        }
    }
    let t = gw_app::coverage::grid_totals(&rows);
    let (e, sa, x) = (t.expected, t.sampled, t.exempt);
    // Residents added since the opening, counted apart; those not swabbed
    // yet are missed too and must show, as on the coverage pages (one
    // figure: `Outstanding`).
    let total = t.outstanding();
    let mut table = String::new();
    for r in &rows {
        // Of everyone, the added included: 100% only when nobody is missed.
        let o = r.outstanding();
        let pc = o.percent();
        let name = grid_names
            .get(&r.grid)
            .cloned()
            .unwrap_or_else(|| r.grid.clone());
        table.push_str(&format!(
            r#"<tr><td><a href="/rounds/{k}/missed?grid={g}">{name}</a> <small class="more">· <a href="/rounds/{k}/door-to-door?grid={g}">{d2d}</a> · <a href="/rounds/{k}/compare?grid={g}">{cmp}</a></small></td><td class="n" data-label="{le}">{}</td><td class="n" data-label="{ls}">{}</td><td class="n" data-label="{lx}">{}</td><td class="n{miss}" data-label="{lm}">{}</td><td class="n{amiss}" data-label="{lat}">{}</td><td data-label="{lp}"><span class="bar"><span style="width:{pc}%"></span></span> {pc}%</td></tr>"#,
            r.expected,
            r.sampled,
            r.exempt,
            o.missed(),
            added_cell(r.added, r.added_sampled),
            g = esc(&r.grid),
            name = esc(&name),
            miss = if o.missed() > 0 { " warn" } else { "" },
            amiss = if r.added > r.added_sampled { " warn" } else { "" },
            d2d = l.t("入户", "door"),
            cmp = l.t("对比上轮", "vs last"),
            le = l.t("应检", "Expected"),
            ls = l.t("已检", "Sampled"),
            lx = l.t("免检", "Exempt"),
            lm = l.t("未检", "Missed"),
            lat = l.t("新增（未检）", "Added (missed)"),
            lp = l.t("覆盖率", "Coverage"),
        ));
    }
    let missed = total.missed();
    let pc = total.percent();
    let points = points_section(s, a, l, k, &communities).await?;
    let alerts = alerts_section(s, a, l, k).await?;
    let resamples = rounds::resamples_link(s, l, k).await?;
    let street_place = s.store.place_of(k.street, "street", k.street).await?;
    let may_post_results = a
        .principal
        .can(Action::PostResults, &street_place, s.clock.now_ms());
    // The whole round's counts are read street-wide (a point's at the point).
    let may_reconcile = a
        .principal
        .can(Action::ReadLogistics, &street_place, s.clock.now_ms());
    let tools = setup::round_tools(s, a, l, &round, refused_point, missed).await?;
    // The run of rounds that missed nobody over the reader's area; per
    // community, grid and building on the coverage page.
    let record =
        gw_app::coverage::history(&s.store, &s.clock, &a.principal, k.street, None, 4).await?;
    let record = format!(
        r#"<p id="in-a-row">{} <a href="/rounds/{k}/coverage#history">{}</a></p>"#,
        esc(&match l {
            Lang::Zh => format!("您的辖区连续 {} 轮不落一人。", record.in_a_row),
            Lang::En => format!(
                "Your area: {} rounds in a row missed nobody.",
                record.in_a_row
            ),
        }),
        l.t(
            "各社区、网格、楼栋的记录",
            "The record per community, grid and building"
        )
    );
    // Just moved a step (the state form's answer): what the move leaves
    // unsettled, as the API and the command line say it.
    let moved = match query_param(Some(&page.query), "moved") {
        Some(to) if to == round.state => {
            let warnings = gw_app::testing::move_warnings(&s.store, &s.clock, &a.principal, k, &to)
                .await
                .iter()
                .map(|w| format!("<li>{}</li>", web_words(l, w)))
                .collect::<String>();
            format!(
                r#"<section class="card" id="moved"><p class="notice">{}</p>{}</section>"#,
                esc(&match l {
                    Lang::Zh => format!("轮次已变为“{}”。", state_label(l, &to)),
                    Lang::En => format!("The round is now {}.", state_label(l, &to)),
                }),
                if warnings.is_empty() {
                    String::new()
                } else {
                    format!(r#"<ul class="list error" id="move-warnings">{warnings}</ul>"#)
                }
            )
        }
        _ => String::new(),
    };
    let body = format!(
        r#"<h1>{name}</h1><p class="muted">{state} · {pool} {pl}</p>{moved}
<section class="stats"><div><b id="cov-expected">{e}</b><span>{le}</span></div><div><b id="cov-sampled">{sa}</b><span>{ls}</span></div><div><b>{x}</b><span>{lx}</span></div><div><b id="cov-missed" class="{mc}">{missed}</b><span>{lm}{mnote}</span></div><div><b id="cov-added" class="{amc}">{added}</b><span>{la}</span></div><div><b>{pc}%</b><span>{lp}</span></div></section>
{record}
<section class="card"><h2>{gh}</h2><div class="scroll"><table id="by-grid" class="cards"><thead><tr><th>{lg}</th><th>{le}</th><th>{ls}</th><th>{lx}</th><th>{lm}</th><th>{lat}</th><th>{lp}</th></tr></thead><tbody>{table}</tbody></table></div>
<p class="hint">{hint}</p><p class="actions"><a class="button" href="/rounds/{k}/live">{live}</a> <a class="button" href="/rounds/{k}/coverage">{byc}</a> <a class="button" href="/rounds/{k}/schedule">{sched}</a>{recon}{lab} <a class="button" href="/rounds/{k}/disinfection">{dis}</a> <a class="button" href="/rounds/{k}/alerts">{alr}</a>{resamples} <a class="button" href="/rounds/{k}/report">{rep}</a></p></section>{alerts}{points}{tools}"#,
        sched = l.t("下楼时间表", "Schedule"),
        byc = l.t("按社区/网格/楼栋", "By community, grid, building"),
        recon = if may_reconcile {
            format!(
                r#" <a class="button" href="/rounds/{k}/reconciliation">{}</a>"#,
                l.t("数据校对", "Reconciliation")
            )
        } else {
            String::new()
        },
        // Only for those who may post results (the street's and the lab's).
        lab = if may_post_results {
            format!(
                r#" <a class="button" href="/rounds/{k}/lab">{}</a>"#,
                l.t("上传结果", "Lab results")
            )
        } else {
            String::new()
        },
        dis = l.t("消杀", "Disinfection"),
        alr = l.t("异常处置", "Alerts"),
        rep = l.t("日报（打印）", "Daily report (print)"),
        live = l.t("指挥大屏（实时）", "Live command picture"),
        name = esc(&round.name),
        state = esc(state_label(l, &round.state)),
        pool = round.pool_size,
        pl = l.t("人一管", "per tube"),
        le = l.t("应检", "Expected"),
        ls = l.t("已检", "Sampled"),
        lx = l.t("免检", "Exempt"),
        lm = l.t("未检", "Missed"),
        la = l.t("新增（未检）", "Added (missed)"),
        lat = l.t("新增", "Added"),
        added = added_cell(t.added, t.added_sampled),
        amc = if total.added_missed() > 0 { "warn" } else { "" },
        mnote = added_note(l, total),
        lp = l.t("覆盖率", "Coverage"),
        lg = l.t("网格", "Grid"),
        gh = l.t("各网格", "By grid"),
        mc = if missed > 0 { "warn" } else { "" },
        hint = l.t(
            "点网格名查看未检名单（已脱敏），用于电话催检或上门采样。“新增”是开轮后登记或迁入的人，单独统计，括号内为其中未检的人；他们也算在“未检”里、列在未检名单上，覆盖率也算上他们。",
            "Open a grid for its missed list (masked), to call people or sample at their door. “Added” are people registered or moved in after the round opened, counted apart; in brackets those not sampled, who count as missed, are on the missed list and in the coverage too."
        ),
    );
    Ok((
        format!("{} · {}", round.name, l.t("覆盖情况", "coverage")),
        body,
    ))
}

#[derive(Debug, Deserialize)]
pub struct MissedQuery {
    /// The territory: one of a community, a grid or a building.
    pub community: Option<String>,
    pub grid: Option<String>,
    pub building: Option<String>,
    pub page: Option<usize>,
    /// Set after an exemption was recorded (the notice says so).
    pub exempted: Option<String>,
    /// Set after an exemption was lifted.
    pub lifted: Option<String>,
}

pub const MISSED_PAGE: usize = 200;

/// The one community, grid or building a list page's address names
/// (`?community=`, `?grid=`, `?building=`), as the API reads it.
pub(super) fn territory_of(
    l: Lang,
    community: Option<&str>,
    grid: Option<&str>,
    building: Option<&str>,
) -> Result<(gw_store::coverage::Level, Key), WebError> {
    gw_app::coverage::within_of(community, grid, building)
        .map_err(|e| WebError::bad_request(registry::pick(l, &e)))?
        .ok_or_else(|| {
            WebError::bad_request(l.t(
                "请在地址中给出网格、楼栋或社区，例如 ?grid=1-3",
                "Name a grid, building or community in the address, e.g. ?grid=1-3",
            ))
        })
}

/// A territory as an address's query: `grid=1-3`.
pub(super) fn territory_query((level, k): (gw_store::coverage::Level, Key)) -> String {
    format!("{}={k}", gw_app::coverage::level_name(level))
}

/// A territory by name as a page heads it: `东风社区 · 第3网格`,
/// `东风社区 · 百合小区 3号楼`. Read only once the caller was let in.
pub(super) async fn territory_name(
    s: &AppState,
    (level, k): (gw_store::coverage::Level, Key),
) -> Result<String, WebError> {
    use gw_store::coverage::Level;
    Ok(match level {
        Level::Grid => {
            let g = s.store.grid(k.street, k.id).await?;
            format!("{} · {}", g.community_name, g.name)
        }
        Level::Building => {
            let b = s.store.building(k.street, k.id).await?;
            format!("{} · {} {}", b.community, b.compound, b.name)
        }
        Level::Community => s
            .store
            .communities(None, Some(k.street))
            .await?
            .into_iter()
            .find(|c| c.id == k.id)
            .map_or_else(|| k.to_string(), |c| c.name),
    })
}

pub async fn missed(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    page: Page,
    Path(id): Path<String>,
    Query(q): Query<MissedQuery>,
) -> Response {
    page.answer(missed_body(&s, &a, &page, &id, &q, None).await)
}

/// The missed list again with one listed resident's full phone numbers
/// (form field `resident`), for whoever may reveal phones there; audited.
pub async fn missed_reveal(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    page: Page,
    Path(id): Path<String>,
    Query(q): Query<MissedQuery>,
    body: axum::body::Bytes,
) -> Response {
    let resident = Fields::parse(&body).get("resident").to_string();
    page.answer(missed_body(&s, &a, &page, &id, &q, Some(&resident)).await)
}

/// The missed list of a community, grid or building, one card per person
/// (readable on a phone as on a desk). `reveal`: a resident of the page
/// whose full phone numbers to show.
async fn missed_body(
    s: &AppState,
    a: &Auth,
    page: &Page,
    id: &str,
    q: &MissedQuery,
    reveal: Option<&str>,
) -> Result<(String, String), WebError> {
    use gw_store::coverage::Level;
    let l = page.lang;
    let round = parse_key(l, id)?;
    let within = territory_of(
        l,
        q.community.as_deref(),
        q.grid.as_deref(),
        q.building.as_deref(),
    )?;
    let (level, territory) = within;
    let m = gw_app::coverage::missed(&s.store, &s.clock, &a.principal, round, within)
        .await
        .map_err(|e| rounds::auth_err(l, e))?;
    let where_ = territory_name(s, within).await?;
    let tq = territory_query(within);
    // Then those who moved in or were registered since the round opened.
    let in_snapshot = m.expected.len();
    let added_end = in_snapshot + m.added.len();
    let moved_away = m.moved_away;
    // Moved out of the round's communities since it opened: no miss here,
    // counted apart; where they went only as far as the reader may read it.
    let moved_out: Vec<String> = m
        .moved_out
        .iter()
        .map(|r| {
            let community = r.community.as_deref().unwrap_or("");
            let grid = r.grid.as_deref().unwrap_or("");
            let name = if a.principal.sees_full_names(s.clock.now_ms()) {
                r.resident.name.clone()
            } else {
                gw_domain::mask::name(&r.resident.name)
            };
            format!("{name}（{community} {grid}）")
        })
        .collect();
    let moved_out_n = moved_out.len() + m.moved_out_hidden;
    let moved_out_text = if moved_out_n > 0 {
        let listed = if moved_out.is_empty() {
            String::new()
        } else {
            format!("：{}", moved_out.join("、"))
        };
        format!(
            r#"<p class="muted" id="moved-out">{}</p>"#,
            esc(&match l {
                Lang::Zh => format!("开轮后迁出本轮范围 {moved_out_n} 人，不算本处漏检，另行统计{listed}{}", if m.moved_out_hidden > 0 { format!("（其中 {} 人的现住址您无权查看）", m.moved_out_hidden) } else { String::new() }),
                Lang::En => format!("{moved_out_n} moved out of the round's communities since it opened: not missed here, counted apart{listed}{}", if m.moved_out_hidden > 0 { format!(" ({} live where you may not read)", m.moved_out_hidden) } else { String::new() }),
            })
        )
    } else {
        String::new()
    };
    let rows: Vec<_> = m
        .expected
        .into_iter()
        .chain(m.added)
        .chain(m.moved_in)
        .collect();
    let r = s.store.round(round.street, round.id).await?;
    let now = s.clock.now_ms();
    // Full names only for a role that sees them (volunteers see 王*芳).
    let full_names = a.principal.sees_full_names(now);
    let names = |name: &str| {
        if full_names {
            name.to_string()
        } else {
            gw_domain::mask::name(name)
        }
    };
    // Exemptions are recorded and lifted on a grid's list (the form's answer
    // goes back to it).
    let exempt_rows = match level {
        Level::Grid => {
            gw_app::coverage::exemptions(&s.store, &s.clock, &a.principal, round, within).await?
        }
        _ => Vec::new(),
    };
    let today = s.clock.today();
    let pages = rows.len().div_ceil(MISSED_PAGE).max(1);
    let p = q.page.unwrap_or(1).clamp(1, pages);
    let mut list = String::new();
    let mut people = Vec::new();
    let first = (p - 1) * MISSED_PAGE;
    // A phone is revealed only for someone this page lists.
    let place =
        gw_app::access::place_of(&s.store, gw_app::coverage::level_name(level), territory).await?;
    let may_reveal = a.principal.can(Action::Reveal(Field::Phone), &place, now);
    let listed = |id: &str| {
        rows.iter().skip(first).take(MISSED_PAGE).any(|r| {
            Key {
                street: r.street_id,
                id: r.id,
            }
            .to_string()
                == id
        })
    };
    let revealed = match reveal {
        Some(id) if listed(id) => reveal_phones(s, a, l, &[id]).await?,
        _ => HashMap::new(),
    };
    let mut shown: Option<(String, Vec<String>)> = None;
    for (i, row) in rows.iter().enumerate().skip(first).take(MISSED_PAGE) {
        let v = gw_app::registry::ResidentView::masked(row, today);
        let name = names(&v.name);
        let since = if i >= added_end {
            l.t(
                "开轮后迁入，计在原登记处",
                "moved in since the round opened; counted where they lived then",
            )
        } else if i >= in_snapshot {
            l.t("开轮后新增", "added since the round opened")
        } else {
            ""
        };
        let mut listed_as = name.clone();
        if !since.is_empty() {
            listed_as.push_str(&format!("{}{since}{}", l.t("（", " ("), l.t("）", ")")));
        }
        // Swabbed, but into invalid tubes only: why they are missed.
        if m.resample_due.contains(&row.id) {
            listed_as.push_str(l.t(" · 待重采（原管无效）", " · re-sample due (tube invalid)"));
        }
        let address = v.address.as_deref().unwrap_or("");
        let shown_as = format!("{listed_as} {address}");
        // The numbers (masked unless just revealed), and on a line of its
        // own the button that reveals them.
        let masked_phones = esc(&v
            .phones
            .iter()
            .map(|p| p.number.as_str())
            .collect::<Vec<_>>()
            .join(" "));
        let (phones, reveal) = match revealed.get(&v.id) {
            Some(full) => {
                shown = Some((shown_as.clone(), full.clone()));
                (esc(&full.join(" ")), String::new())
            }
            None if v.phones.is_empty() => (
                format!(r#"<span class="muted">{}</span>"#, l.t("无", "none")),
                String::new(),
            ),
            None if may_reveal => (
                masked_phones,
                format!("<div>{}</div>", reveal_button(l, &v.id)),
            ),
            None => (masked_phones, String::new()),
        };
        people.push((v.id.clone(), shown_as));
        // A purged resident has no code any more (the sheet would be empty).
        let sheet = v
            .household
            .as_deref()
            .filter(|_| v.status != "purged")
            .map_or_else(String::new, |h| {
                format!(
                    r#"<a href="/households/{}/codes">{}</a>"#,
                    esc(h),
                    l.t("码单", "codes")
                )
            });
        // Who they are at a glance: sex and age beside the name, then where,
        // how to reach them, and what to know at the door (the flags).
        let who = [
            gender_label(l, v.gender).to_string(),
            v.age.map_or_else(String::new, |a| match l {
                Lang::Zh => format!("{a} 岁"),
                Lang::En => format!("{a} y"),
            }),
        ]
        .into_iter()
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .join(" · ");
        // Swabbed, but into invalid tubes only: said on the card, so the
        // caller says "your tube was invalid", not "you never came".
        let resample = if m.resample_due.contains(&row.id) {
            format!(
                r#"<span class="tag bad resample-due">{}</span> "#,
                esc(l.t("待重采（原管无效）", "re-sample due (tube invalid)"))
            )
        } else {
            String::new()
        };
        let tags: String = std::iter::once(resample)
            .chain(
                std::iter::once(since)
                    .filter(|t| !t.is_empty())
                    .map(|t| format!(r#"<span class="tag">{}</span> "#, esc(t))),
            )
            .chain(v.flags.iter().map(|f| {
                format!(
                    r#"<span class="tag">{}</span> "#,
                    esc(&flags_label(l, std::slice::from_ref(f)))
                )
            }))
            .collect();
        // A community's list: the grid each person is in, linked to its
        // list (where exemptions are recorded).
        let grid = match (level, row.grid_id) {
            (Level::Community, Some(g)) => format!(
                r#"<div class="grid-of">{lg}<a href="/rounds/{round}/missed?grid={k}">{n}</a></div>"#,
                lg = l.t("网格：", "Grid: "),
                k = Key {
                    street: row.street_id,
                    id: g
                },
                n = esc(row.grid.as_deref().unwrap_or("—")),
            ),
            _ => String::new(),
        };
        list.push_str(&format!(
            r#"<li><div class="row2"><b>{name}</b><span class="muted">{who}</span></div><div>{address}</div>{grid}<div class="row2"><span>{lp}{phones}</span>{sheet}</div>{reveal}{tags}</li>"#,
            name = esc(&name),
            who = esc(&who),
            address = esc(address),
            lp = l.t("电话：", "Phone: "),
            tags = if tags.is_empty() {
                String::new()
            } else {
                format!(r#"<div class="flags">{}</div>"#, tags.trim_end())
            },
        ));
    }
    let nav = if pages > 1 {
        let mut n = String::from(r#"<p class="pager">"#);
        for i in 1..=pages {
            if i == p {
                n.push_str(&format!("<b>{i}</b> "));
            } else {
                n.push_str(&format!(
                    r#"<a href="/rounds/{round}/missed?{tq}&page={i}">{i}</a> "#
                ));
            }
        }
        n.push_str("</p>");
        n
    } else {
        String::new()
    };
    if rows.is_empty() {
        list = format!(
            r#"<li class="muted">{}</li>"#,
            l.t("没有未检的人。", "Nobody is missed.")
        );
    }
    // A closed round's exemptions are its record: nothing to change.
    let (exempt, exempt_list) = match level {
        Level::Grid => (
            setup::exempt_form(s, a, l, &r, territory, &people),
            setup::exempt_list(s, a, l, (&r, territory), &exempt_rows, &names),
        ),
        // Elsewhere: the grid's list, where the form answers.
        Level::Building => match place.grid {
            Some(g) if !rows.is_empty() => (
                format!(
                    r#"<p class="hint" id="exempt-elsewhere">{} <a href="/rounds/{round}/missed?grid={}">{}</a></p>"#,
                    l.t("登记或取消免检：", "To record or lift an exemption:"),
                    Key {
                        street: territory.street,
                        id: g
                    },
                    l.t(
                        "本楼所在网格的未检名单",
                        "the missed list of this building's grid"
                    ),
                ),
                String::new(),
            ),
            _ => (String::new(), String::new()),
        },
        Level::Community => {
            let grids: Vec<String> = s
                .store
                .grids(None, Some((territory.street, territory.id)))
                .await?
                .into_iter()
                .map(|g| {
                    format!(
                        r#"<a href="/rounds/{round}/missed?grid={k}">{n}</a>"#,
                        k = Key {
                            street: g.street_id,
                            id: g.id
                        },
                        n = esc(&g.name)
                    )
                })
                .collect();
            (
                if grids.is_empty() {
                    String::new()
                } else {
                    format!(
                        r#"<p class="hint" id="exempt-elsewhere">{} {}</p>"#,
                        l.t(
                            "登记或取消免检请到各网格的未检名单：",
                            "Record or lift exemptions on each grid's missed list:"
                        ),
                        grids.join(" · ")
                    )
                },
                String::new(),
            )
        }
    };
    let body = format!(
        r#"<p><a href="/rounds/{round}">← {back}</a></p><h1>{title}</h1><p><b>{where_}</b> · <a href="/rounds/{round}/compare?{tq}">{cmp}</a></p><p class="muted">{n} {people} · {masked}</p>
{notice}{reveal}<section class="card"><ul class="list" id="missed">{list}</ul>{nav}</section>{exempt}{exempt_list}"#,
        where_ = esc(&where_),
        cmp = l.t("与上一轮对比", "Round over round"),
        notice = if q.exempted.is_some() {
            format!(
                r#"<p class="notice" id="exempted">{}</p>"#,
                l.t("已登记免检。", "Exemption recorded.")
            )
        } else if q.lifted.is_some() {
            format!(
                r#"<p class="notice" id="lifted">{}</p>"#,
                l.t(
                    "已取消免检，此人回到未检名单。",
                    "Exemption lifted: they are back on the missed list."
                )
            )
        } else {
            String::new()
        } + &moved_out_text
            + &if moved_away > 0 {
                format!(
                r#"<p class="muted" id="moved-away">{}</p>"#,
                esc(&match l {
                    Lang::Zh => format!("另有 {moved_away} 人开轮后已迁往其他网格，由其所在网格跟进，此处不列出。"),
                    Lang::En => format!("{moved_away} more have moved to another grid since the round opened: their grid follows them up; not listed here."),
                })
            )
            } else {
                String::new()
            },
        reveal = if may_reveal {
            reveal_form(
                a,
                l,
                &format!("/rounds/{round}/missed?{tq}&page={p}"),
                shown.as_ref().map(|(w, n)| (w.as_str(), n.as_slice())),
            )
        } else {
            String::new()
        },
        back = esc(&r.name),
        title = l.t("未检名单", "Missed list"),
        n = rows.len(),
        people = l.t("人", "people"),
        masked = if shown.is_some() {
            l.t(
                "证件号已脱敏；此处显示的完整电话已记入审计日志",
                "document numbers are masked; the full phone shown here is in the audit log",
            )
        } else {
            l.t(
                "证件号和电话已脱敏",
                "document numbers and phones are masked",
            )
        },
    );
    Ok((
        format!("{} · {where_} · {}", r.name, l.t("未检名单", "missed")),
        body,
    ))
}

/// A resident's flags (`elderly_alone` …) as words: `独居老人`, or in English
/// `elderly alone`; a code this binary does not know is shown as it is.
pub(crate) fn flags_label(l: Lang, flags: &[impl AsRef<str>]) -> String {
    flags
        .iter()
        .map(|c| c.as_ref())
        .map(|c| match (gw_domain::resident::Flag::from_code(c), l) {
            (Some(f), Lang::Zh) => f.label_zh().to_string(),
            _ => c.replace('_', " "),
        })
        .collect::<Vec<_>>()
        .join(l.t("、", ", "))
}

fn gender_label(l: Lang, code: &str) -> &'static str {
    match code {
        "M" => l.t("男", "male"),
        "F" => l.t("女", "female"),
        _ => "",
    }
}

// ----- testing points and their stations ---------------------------------------------

async fn point_place(
    s: &AppState,
    pt: &gw_store::testing::PointRow,
) -> Result<gw_domain::access::Place, WebError> {
    let mut place = gw_app::access::place_of(
        &s.store,
        "community",
        Key {
            street: pt.street_id,
            id: pt.community_id,
        },
    )
    .await?;
    place.point = Some(pt.id);
    Ok(place)
}

/// Abnormal pools and what was done about each: the members (masked), their
/// households under temporary control, the single-tube retests opened.
async fn alerts_section(s: &AppState, a: &Auth, l: Lang, round: Key) -> Result<String, WebError> {
    // An alert the lab withdrew (a corrected result) is no longer a case:
    // its page (/rounds/{id}/alerts) keeps it, marked withdrawn.
    let alerts: Vec<_> = gw_app::testing::alerts(&s.store, &s.clock, &a.principal, round)
        .await?
        .into_iter()
        .filter(|al| al.state != "withdrawn")
        .collect();
    if alerts.is_empty() {
        return Ok(String::new());
    }
    let now = s.clock.now_ms();
    let full_names = a.principal.sees_full_names(now);
    let mut out = String::new();
    let mut in_hand = 0;
    for al in &alerts {
        let members: Vec<String> = al
            .members
            .iter()
            .map(|m| {
                let name = if full_names {
                    m.name.clone()
                } else {
                    gw_domain::mask::name(&m.name)
                };
                format!(
                    "{}（{}）",
                    esc(&name),
                    esc(m.address.as_deref().unwrap_or(""))
                )
            })
            .collect();
        // As the alerts page says it: a pool whose retests all came back
        // negative is cleared (not red), one still being dealt with is.
        let (cls, label) = packing::alert_state(l, &al.kind, &al.state);
        if cls == "bad" {
            in_hand += 1;
        }
        out.push_str(&format!(
            r#"<li class="alert {state}"><b>{tube} {barcode}</b> <span class="tag {cls}">{label}</span> · {at}<br>{done}<br><span class="muted">{members}</span></li>"#,
            state = esc(&al.state),
            label = esc(label),
            tube = l.t("异常管", "Abnormal pool"),
            barcode = esc(&al.barcode),
            at = esc(&gw_domain::notify::clock_text(al.created_ms)),
            done = esc(&packing::alert_done(l, al)),
            members = members.join("、"),
        ));
    }
    // Red while any pool is still being dealt with; once every one is
    // cleared, the card says so and is no longer an alarm.
    let (card, count) = if in_hand > 0 {
        (
            "card alerts",
            format!(
                r#"<span class="tag bad" id="alerts-open">{}</span>"#,
                match l {
                    Lang::Zh => format!("{in_hand} 处置中"),
                    Lang::En => format!("{in_hand} in hand"),
                }
            ),
        )
    } else {
        (
            "card alerts-cleared",
            format!(
                r#"<span class="tag open" id="alerts-cleared">{}</span>"#,
                match l {
                    Lang::Zh => format!("{} 已排除", alerts.len()),
                    Lang::En => format!("{} cleared", alerts.len()),
                }
            ),
        )
    };
    Ok(format!(
        r#"<section class="{card}" id="alerts-card"><h2>{} {count}</h2><ul class="list" id="alerts">{out}</ul></section>"#,
        l.t("异常情况与处置", "Abnormal pools and what was done"),
    ))
}

/// The points of a round, with their counts; linked where the reader manages stations.
async fn points_section(
    s: &AppState,
    a: &Auth,
    l: Lang,
    round: Key,
    communities: &[String],
) -> Result<String, WebError> {
    let now = s.clock.now_ms();
    let mut out = String::new();
    for (pt, n) in s.store.points_with_counts(round.street, round.id).await? {
        let k = Key {
            street: pt.street_id,
            id: pt.id,
        };
        let place = point_place(s, &pt).await?;
        // Counts of the points in communities the reader sees grids of.
        let community = Key {
            street: pt.street_id,
            id: pt.community_id,
        }
        .to_string();
        if !(communities.contains(&community)
            || a.principal.can(Action::ManageStations, &place, now))
        {
            continue;
        }
        let name = if a.principal.can(Action::ManageStations, &place, now) {
            format!(r#"<a href="/points/{k}">{}</a>"#, esc(&pt.name))
        } else {
            esc(&pt.name)
        };
        out.push_str(&format!(
            r#"<li class="row2"><span>{name}</span><b class="n">{n}</b></li>"#
        ));
    }
    if out.is_empty() {
        return Ok(String::new());
    }
    Ok(format!(
        r#"<section class="card"><h2>{}</h2><ul class="list" id="points">{out}</ul></section>"#,
        l.t("采样点 · 已采人次", "Testing points · swabs")
    ))
}

pub async fn point(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    page: Page,
    Path(id): Path<String>,
) -> Response {
    page.answer(point_body(&s, &a, &page, &id, None, None, None).await)
}

async fn point_body(
    s: &AppState,
    a: &Auth,
    page: &Page,
    id: &str,
    issued: Option<(&gw_app::stations::Issued, String)>,
    supplies: Option<&setup::SupplyOutcome>,
    change: Option<setup::PointChange<'_>>,
) -> Result<(String, String), WebError> {
    let l = page.lang;
    let k = parse_key(l, id)?;
    let pt = s.store.point(k.street, k.id).await?;
    let place = point_place(s, &pt).await?;
    gw_app::access::authorize(&a.principal, &s.clock, Action::ManageStations, &place)?;
    let round = s.store.round(k.street, pt.round_id).await?;
    let count = s
        .store
        .points_with_counts(k.street, pt.round_id)
        .await?
        .into_iter()
        .find(|(p, _)| p.id == pt.id)
        .map_or(0, |(_, n)| n);
    let issued_html = match issued {
        Some((i, link)) => format!(
            r#"<section class="card issued"><h2>{h}</h2><p>{p}</p><p class="code"><a id="enroll-link" href="{link}">{link}</a></p>
<div class="qr" id="enroll-qr">{qr}</div><p>{lc} <b id="enroll-code">{code}</b></p><p class="muted">{le} {exp}</p></section>"#,
            h = l.t("新的扫码设备登记链接", "A new station's enrolment link"),
            p = l.t(
                "用采样点的手机扫下面的二维码，或在电脑上打开此链接即可登记（只能用一次，只显示这一次）。",
                "Scan the QR code below with the point's phone, or open this link on its laptop, to enrol it (works once, shown only now)."
            ),
            qr = qr_svg(&link).unwrap_or_default(),
            link = esc(&link),
            lc = l.t("登记码：", "Enrolment code:"),
            code = esc(&i.enroll_code),
            le = l.t("有效期至", "Valid until"),
            exp = esc(&date_text(i.expires_ms)),
        ),
        None => String::new(),
    };
    // The round's page for who may open it; the round named for the others.
    let back = if reads_rounds(s, a) {
        format!(
            r#"<a href="/rounds/{}">← {}</a>"#,
            Key {
                street: k.street,
                id: round.id
            },
            esc(&round.name)
        )
    } else {
        format!(
            r#"<a href="/">← {}</a> · {}"#,
            l.t("首页", "Home"),
            esc(&round.name)
        )
    };
    // A change saved with hours that leave out call-downs already pushed:
    // said first, where the one who changed them lands.
    let (change_error, warned) = match change {
        Some(setup::PointChange::Refused(e)) => (Some(e), String::new()),
        Some(setup::PointChange::Warned(w)) => (None, warned_html(l, w)),
        None => (None, String::new()),
    };
    // The point's disinfection task after an abnormal pool, to mark done here.
    let disinfection = packing::point_disinfection_section(s, a, page, k, "point").await?;
    let body = format!(
        r#"<p>{back}</p><h1>{name}</h1>{warned}
<section class="stats"><div><b id="point-total">{count}</b><span>{ls}</span></div></section>{issued_html}{disinfection}
<p class="actions"><a class="button" href="/points/{k}/packing">{pk}</a></p>
<section class="card"><h2>{sh}</h2><form method="post" action="/points/{k}/stations" class="stack"><input type="hidden" name="csrf" value="{csrf}">
<label>{ll}<input name="label" maxlength="40" placeholder="{lp}"></label><button class="primary" type="submit">{sb}</button></form></section>"#,
        name = esc(&pt.name),
        ls = l.t("已采人次", "Swabs registered"),
        sh = l.t("发放扫码设备", "Enrol a scanning station"),
        pk = l.t("装袋 · 装箱 · 交接", "Bag · box · hand over"),
        csrf = esc(&a.csrf),
        ll = l.t("设备名称（可不填）", "Station name (optional)"),
        lp = l.t("例如：1号台", "e.g. table 1"),
        sb = l.t("生成一次性登记链接", "Make a one-time enrolment link"),
    );
    let body = body
        + &stations_section(s, a, l, k).await?
        + &flagged_section(
            s,
            a,
            l,
            Key {
                street: k.street,
                id: pt.round_id,
            },
            k,
        )
        .await?
        + &setup::point_change_section(s, a, l, k, &round, change_error).await?
        + &setup::supplies_section(s, a, l, k, &place, &round, supplies).await?;
    // A point added by mistake: its community's managers remove it while nothing
    // happened at it (the store refuses otherwise, naming what).
    let community_place = s
        .store
        .place_of(k.street, "community", pt.community_id)
        .await?;
    let removable = count == 0
        && !gw_domain::testing::round_settled(&round.state)
        && a.principal
            .can(Action::ManagePoints, &community_place, s.clock.now_ms())
        && s.store.point_uses(k.street, k.id).await?.is_empty();
    let body = if removable {
        body + &format!(
            r#"<section class="card noprint"><form method="post" action="/points/{k}/remove"><input type="hidden" name="csrf" value="{csrf}"><button type="submit" id="remove-point">{b}</button> <span class="muted">{n}</span></form></section>"#,
            csrf = esc(&a.csrf),
            b = l.t("删除此采样点", "Remove this point"),
            n = l.t(
                "仅限误建且尚无采样管、样本、设备、物资的采样点。",
                "Only for a point added by mistake: no tube, swab, station or supplies yet."
            ),
        )
    } else {
        body
    };
    Ok((pt.name.clone(), body))
}

/// A change saved with hours that leave out call-downs already pushed: said
/// first, where the one who changed them lands.
fn warned_html(l: Lang, warnings: &[String]) -> String {
    let items: String = warnings
        .iter()
        .map(|w| format!(r#"<li class="warn">{}</li>"#, esc(&registry::pick(l, w))))
        .collect();
    format!(
        r#"<section class="card" role="alert" id="change-warnings"><p class="notice">{}</p><ul class="list">{items}</ul></section>"#,
        l.t("采样点的调整已保存。", "The point's change is saved.")
    )
}

/// The point's stations, each with a revoke button while it can still
/// scan (a lost or stolen phone is stopped here).
/// How many of a point's flagged swabs its page lists (the newest).
const FLAGGED_SHOWN: i64 = 100;

/// The swabs the server flagged at this point (a bad code, another street's
/// code, a closed or over-full tube, a second swab …), newest first, with
/// the person masked: what the point's staff go through after a sync.
async fn flagged_section(
    s: &AppState,
    a: &Auth,
    l: Lang,
    round: Key,
    point: Key,
) -> Result<String, WebError> {
    let rows = gw_app::testing::flagged(
        &s.store,
        &s.clock,
        &a.principal,
        round,
        Some(point),
        FLAGGED_SHOWN,
    )
    .await?;
    let h = l.t("需核实的扫码", "Swabs to check");
    if rows.is_empty() {
        return Ok(format!(
            r#"<section class="card" id="flagged"><h2>{h}</h2><p class="muted">{}</p></section>"#,
            l.t(
                "本点没有需要核实的扫码。",
                "No swab at this point needs checking."
            )
        ));
    }
    let body: String = rows
        .iter()
        .map(|r| {
            // A second swab and what else is wrong with it (a walk-in's
            // second swab is both), each in the reader's language.
            let mut what = Vec::new();
            if r.duplicate_of.is_some() {
                what.push(
                    l.t(
                        "重复采样（本轮已采过）",
                        "a second swab (already swabbed this round)",
                    )
                    .to_string(),
                );
            }
            if !r.problem.is_empty() {
                what.push(rounds::reason_in(l, &r.problem));
            }
            let what = what.join(l.t("；", "; "));
            format!(
                r#"<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
                esc(&gw_domain::notify::clock_text(r.scanned_ms)),
                esc(&r.station),
                esc(&r.tube),
                esc(r.name.as_deref().unwrap_or("—")),
                esc(&what),
            )
        })
        .collect();
    Ok(format!(
        r#"<section class="card" id="flagged"><h2>{h} <span class="tag">{n}</span></h2><p class="hint">{hint}</p><div class="scroll"><table><thead><tr><th>{c1}</th><th>{c2}</th><th>{c3}</th><th>{c4}</th><th>{c5}</th></tr></thead><tbody>{body}</tbody></table></div></section>"#,
        n = rows.len(),
        hint = l.t(
            "已登记但需核实：核对实物与人员，必要时撤销后重新扫码。最多列出最近 100 条。",
            "Stored, but to be checked: check the tube and the person, and take a swab back and scan again where needed. The newest 100 at most."
        ),
        c1 = l.t("采样时间", "Swabbed"),
        c2 = l.t("采样台", "Station"),
        c3 = l.t("采样管", "Tube"),
        c4 = l.t("被采样人", "Person"),
        c5 = l.t("问题", "What"),
    ))
}

async fn stations_section(s: &AppState, a: &Auth, l: Lang, point: Key) -> Result<String, WebError> {
    let items = gw_app::stations::list(&s.store, &s.clock, &a.principal, point).await?;
    if items.is_empty() {
        return Ok(String::new());
    }
    let rows: String = items
        .iter()
        .map(|st| {
            let state = match st.state {
                "waiting" => l.t("待登记", "not enrolled yet"),
                "active" => l.t("使用中", "active"),
                "revoked" => l.t("已撤销", "revoked"),
                _ => l.t("已过期", "expired"),
            };
            let action = if matches!(st.state, "waiting" | "active") {
                format!(
                    r#"<form method="post" action="/stations/{id}/revoke"><input type="hidden" name="csrf" value="{csrf}"><button type="submit" class="danger">{b}</button></form>"#,
                    id = esc(&st.station),
                    csrf = esc(&a.csrf),
                    b = l.t("撤销", "Revoke"),
                )
            } else {
                String::new()
            };
            format!(
                "<tr><td>{id}</td><td>{label}</td><td>{state}</td><td>{created}</td><td>{enrolled}</td><td>{action}</td></tr>",
                id = esc(&st.station),
                label = esc(&st.label),
                created = esc(&date_text(st.created_ms)),
                enrolled = st.enrolled_ms.map(|t| esc(&date_text(t))).unwrap_or_default(),
            )
        })
        .collect();
    Ok(format!(
        r#"<section class="card" id="stations"><h2>{h}</h2><p class="hint">{hint}</p><table><thead><tr><th>{c1}</th><th>{c2}</th><th>{c3}</th><th>{c4}</th><th>{c5}</th><th></th></tr></thead><tbody>{rows}</tbody></table></section>"#,
        h = l.t("扫码设备", "Scanning stations"),
        hint = l.t(
            "设备丢失或被借走：撤销后它立刻不能再扫码；它已存的扫码重新登记后照常上传。",
            "A phone lost or lent: once revoked it scans no more at once; the scans it holds upload after it is enrolled again."
        ),
        c1 = l.t("编号", "Id"),
        c2 = l.t("名称", "Name"),
        c3 = l.t("状态", "State"),
        c4 = l.t("发放时间", "Issued"),
        c5 = l.t("登记时间", "Enrolled"),
    ))
}

/// Revokes a station from its point's page; back to the point's stations.
pub async fn revoke_station(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    page: Page,
    Path(id): Path<String>,
) -> Response {
    let k = match parse_key(page.lang, &id) {
        Ok(k) => k,
        Err(e) => return page.error(e),
    };
    if let Err(e) = gw_app::stations::revoke(&s.store, &s.clock, &a.principal, k).await {
        return page.error(e.into());
    }
    // Its token stops working at once here, not when the cache expires.
    s.stations.clear();
    match s.store.station(k.street, k.id).await {
        Ok(st) => redirect(&format!(
            "/points/{}#stations",
            Key {
                street: k.street,
                id: st.point_id
            }
        )),
        Err(e) => page.error(e.into()),
    }
}

/// Removes a point from its page's form; back to its round's points.
pub async fn remove_point(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    page: Page,
    Path(id): Path<String>,
) -> Response {
    let k = match parse_key(page.lang, &id) {
        Ok(k) => k,
        Err(e) => return page.error(e),
    };
    match gw_app::schedule::remove_point(&s.store, &s.clock, &a.principal, k).await {
        Ok(round) => redirect(&format!("/rounds/{round}#points")),
        Err(e) => page.error(rounds::auth_err(page.lang, e)),
    }
}

/// Issues a station at a point from an HTML form; the answer shows its one-time link.
pub async fn issue_station(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    page: Page,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let l = page.lang;
    // The form is read after authorisation (in the use-case), never before.
    let label = Fields::parse(&body).get("label").to_string();
    let k = match parse_key(l, &id) {
        Ok(k) => k,
        Err(e) => return page.error(e),
    };
    let issued = match gw_app::stations::issue(&s.store, &s.clock, &a.principal, k, &label).await {
        Ok(i) => i,
        Err(e) => return page.error(e.into()),
    };
    let link = format!(
        "{}/station?code={}",
        origin(&s, &headers),
        issued.enroll_code
    );
    match point_body(&s, &a, &page, &id, Some((&issued, link)), None, None).await {
        Ok((title, body)) => page.render(StatusCode::CREATED, &title, &body),
        Err(e) => page.error(e),
    }
}

/// The address a phone reaches this server at, for links it opens: the
/// request's own, or the LAN address when the page was opened on the server.
fn origin(s: &AppState, headers: &HeaderMap) -> String {
    let https = s.secure_cookies
        || headers
            .get("x-forwarded-proto")
            .is_some_and(|v| v == "https");
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("127.0.0.1");
    match &s.lan_origin {
        // Opened on the server itself: a phone needs the LAN address.
        Some(lan) if is_loopback_host(host) => lan.clone(),
        _ => format!("{}://{host}", if https { "https" } else { "http" }),
    }
}

/// `localhost:8080`, `127.0.0.1`, `[::1]:8080`: a Host only the server itself can use.
fn is_loopback_host(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Under a 未检 figure that counts the added not swabbed: how many of the
/// missed were added since the opening (`含新增 N`), or nothing.
pub(crate) fn added_note(l: Lang, o: gw_app::coverage::Outstanding) -> String {
    if o.added_missed() > 0 {
        format!(
            r#"<small class="note">{}</small>"#,
            match l {
                Lang::Zh => format!("含新增 {}", o.added_missed()),
                Lang::En => format!("{} of them added", o.added_missed()),
            }
        )
    } else {
        String::new()
    }
}

/// "Added (not sampled)" as a cell: `18 (18)`, or `0`.
pub(crate) fn added_cell(added: i64, added_sampled: i64) -> String {
    let missed = added - added_sampled;
    if missed > 0 {
        format!("{added} ({missed})")
    } else {
        added.to_string()
    }
}
