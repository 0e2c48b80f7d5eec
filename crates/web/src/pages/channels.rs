//! A street's alert channels from the browser: the group robots (WeCom,
//! DingTalk, Feishu, or plain JSON) that abnormal pools and call-down lists are
//! sent to, a test message, and how the recent messages were delivered. Thin
//! over the same `gw_app::notify` use-cases as `/api/v1/streets/{id}/alert-channels`.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Extension;
use gw_app::notify::{ChannelView, NotificationView};
use gw_domain::notify::clock_text;

use super::rounds::auth_err;
use super::{parse_key, redirect, Fields, Lang, Page};
use serde::Deserialize;

use crate::{html_escape as esc, AppState, Auth};

/// The robot formats a channel may take, with their labels.
fn kinds(l: Lang) -> [(&'static str, &'static str); 4] {
    [
        ("wecom", l.t("企业微信群机器人", "WeCom group robot")),
        ("dingtalk", l.t("钉钉群机器人", "DingTalk group robot")),
        ("feishu", l.t("飞书群机器人", "Feishu group robot")),
        ("json", l.t("通用 JSON 接口", "Plain JSON webhook")),
    ]
}

fn delivery_label(l: Lang, state: &str) -> &'static str {
    match state {
        "delivered" => l.t("已送达", "delivered"),
        "pending" => l.t("待发送（将重试）", "waiting (will retry)"),
        "failed" => l.t("发送失败", "failed"),
        "expired" => l.t("已过期，未发送", "expired, not sent"),
        _ => l.t("未知", "unknown"),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct Done {
    /// What the last form did: `added`, `removed` or `tested`.
    pub done: Option<String>,
}

pub async fn channels_page(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    page: Page,
    Path(street): Path<i64>,
    Query(q): Query<Done>,
) -> Response {
    let notice = match q.done.as_deref() {
        Some("added") => Some(page.lang.t("已添加。", "Channel added.")),
        Some("removed") => Some(page.lang.t("已停用。", "Channel removed.")),
        Some("tested") => Some(page.lang.t(
            "测试消息已排队发送，下方可看送达情况（刷新页面）。",
            "A test message is queued: its delivery shows below (reload the page).",
        )),
        _ => None,
    };
    render(
        &s,
        &a,
        &page,
        street,
        StatusCode::OK,
        notice,
        None,
        ("", ""),
    )
    .await
}

/// Adds a channel (form fields `kind`, `url`, `secret`).
pub async fn channel_add(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    page: Page,
    Path(street): Path<i64>,
    body: Bytes,
) -> Response {
    let f = Fields::parse(&body);
    let (kind, url) = (f.get("kind"), f.get("url"));
    // The secret is never shown again, not even on a form sent back to fix.
    match gw_app::notify::add_channel(
        &s.store,
        &s.clock,
        &a.principal,
        street,
        kind,
        url,
        f.get("secret"),
    )
    .await
    {
        Ok(_) => redirect(&format!("/streets/{street}/alert-channels?done=added")),
        Err(e) => {
            let e = auth_err(page.lang, e);
            if e.status != StatusCode::BAD_REQUEST {
                return page.error(e);
            }
            // The form again, with what was typed and what to fix.
            render(
                &s,
                &a,
                &page,
                street,
                StatusCode::BAD_REQUEST,
                None,
                Some(&e.message),
                (kind, url),
            )
            .await
        }
    }
}

/// Stops sending to a channel.
pub async fn channel_remove(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    page: Page,
    Path(id): Path<String>,
) -> Response {
    let k = match parse_key(page.lang, &id) {
        Ok(k) => k,
        Err(e) => return page.error(e),
    };
    match gw_app::notify::remove_channel(&s.store, &s.clock, &a.principal, k).await {
        Ok(()) => redirect(&format!(
            "/streets/{}/alert-channels?done=removed",
            k.street
        )),
        Err(e) => page.error(auth_err(page.lang, e)),
    }
}

/// Queues a test message to a channel and wakes the dispatcher.
pub async fn channel_test(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    page: Page,
    Path(id): Path<String>,
) -> Response {
    let k = match parse_key(page.lang, &id) {
        Ok(k) => k,
        Err(e) => return page.error(e),
    };
    match gw_app::notify::test_channel(&s.store, &s.clock, &a.principal, k).await {
        Ok(_) => {
            s.alerts.wake();
            redirect(&format!("/streets/{}/alert-channels?done=tested", k.street))
        }
        Err(e) => page.error(auth_err(page.lang, e)),
    }
}

#[allow(clippy::too_many_arguments)]
async fn render(
    s: &AppState,
    a: &Auth,
    page: &Page,
    street: i64,
    status: StatusCode,
    notice: Option<&str>,
    error: Option<&str>,
    typed: (&str, &str),
) -> Response {
    let l = page.lang;
    let read = async {
        let channels = gw_app::notify::channels(&s.store, &s.clock, &a.principal, street).await?;
        let sent = gw_app::notify::notifications(&s.store, &s.clock, &a.principal, street).await?;
        Ok::<_, gw_app::access::AuthError>((channels, sent))
    };
    let (channels, sent) = match read.await {
        Ok(v) => v,
        Err(e) => return page.error(auth_err(l, e)),
    };
    let body = body(l, &a.csrf, street, &channels, &sent, notice, error, typed);
    page.render(status, l.t("告警推送渠道", "Alert channels"), &body)
}

#[allow(clippy::too_many_arguments)]
fn body(
    l: Lang,
    csrf: &str,
    street: i64,
    channels: &[ChannelView],
    sent: &[NotificationView],
    notice: Option<&str>,
    error: Option<&str>,
    typed: (&str, &str),
) -> String {
    let csrf = esc(csrf);
    let label = |kind: &str| {
        kinds(l)
            .iter()
            .find(|(k, _)| *k == kind)
            .map_or(kind.to_string(), |(_, t)| t.to_string())
    };
    let mut rows = String::new();
    for c in channels.iter().filter(|c| c.active) {
        let k = esc(&c.channel);
        rows.push_str(&format!(
            r#"<li class="row"><span><b>{kind}</b>{signed} <span class="muted">{url}</span></span><span class="actions"><form method="post" action="/alert-channels/{k}/test"><input type="hidden" name="csrf" value="{csrf}"><button type="submit">{test}</button></form> <form method="post" action="/alert-channels/{k}/remove" onsubmit="return confirm(this.dataset.q)" data-q="{q}"><input type="hidden" name="csrf" value="{csrf}"><button type="submit">{rm}</button></form></span></li>"#,
            kind = esc(&label(&c.kind)),
            signed = if c.signed {
                format!(r#" <span class="tag">{}</span>"#, l.t("加签", "signed"))
            } else {
                String::new()
            },
            url = esc(&c.url),
            test = l.t("发测试消息", "Send a test"),
            rm = l.t("停用", "Remove"),
            q = esc(l.t("停用后不再向此群发送告警。确定？", "Alerts will no longer go to this group. Remove it?")),
        ));
    }
    if rows.is_empty() {
        rows = format!(
            r#"<li class="muted">{}</li>"#,
            l.t(
                "尚未配置：异常混管只在系统内提示，不会推送到工作群。",
                "None yet: abnormal pools show in the app only, no group is told."
            )
        );
    }
    let options: String = kinds(l)
        .iter()
        .map(|(k, t)| {
            format!(
                r#"<option value="{k}"{sel}>{t}</option>"#,
                sel = if typed.0 == *k { " selected" } else { "" },
                t = esc(t)
            )
        })
        .collect();
    let mut log = String::new();
    for n in sent.iter().take(50) {
        log.push_str(&format!(
            r#"<tr><td>{when}</td><td>{what}</td><td><span class="tag {state}">{st}</span></td><td class="num">{tries}</td></tr>"#,
            when = esc(&clock_text(n.created_ms)),
            what = if n.alert.is_some() {
                l.t("异常混管告警", "abnormal pool alert")
            } else {
                l.t("测试或通知", "test or notice")
            },
            state = esc(&n.state),
            st = delivery_label(l, &n.state),
            tries = n.attempts,
        ));
    }
    if log.is_empty() {
        log = format!(
            r#"<tr><td colspan="4" class="muted">{}</td></tr>"#,
            l.t("还没有发送过消息。", "No message sent yet.")
        );
    }
    let notice = notice
        .map(|n| format!(r#"<p class="notice" id="channel-done">{}</p>"#, esc(n)))
        .unwrap_or_default();
    let error = error
        .map(|e| {
            format!(
                r#"<p class="error" role="alert" id="form-error">{}</p>"#,
                esc(e)
            )
        })
        .unwrap_or_default();
    format!(
        r#"<p><a href="/">{back}</a></p><h1>{h}</h1><p class="muted">{intro}</p>{notice}
<section class="card"><h2>{ch}</h2><ul class="list">{rows}</ul></section>
<section class="card" id="add-channel"><h2>{ah}</h2>{error}<form method="post" action="/streets/{street}/alert-channels" class="stack"><input type="hidden" name="csrf" value="{csrf}">
<label>{lk}<select name="kind">{options}</select></label>
<label>{lu}<input name="url" type="url" inputmode="url" required value="{url}" placeholder="https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…"></label>
<label>{ls2}<input name="secret" type="password" autocomplete="off" placeholder="SEC…"></label>
<p class="hint">{hint}</p><button class="primary" type="submit">{add}</button></form></section>
<section class="card"><h2>{lh}</h2><div class="scroll"><table><thead><tr><th>{lw}</th><th>{lm}</th><th>{ls}</th><th class="num">{lt}</th></tr></thead><tbody>{log}</tbody></table></div></section>"#,
        back = l.t("← 首页", "← Home"),
        h = l.t("告警推送渠道", "Alert channels"),
        intro = l.t(
            "异常混管发生时，系统在一秒内把告警（不含个人信息）推送到这些工作群；发送失败会自动重试。",
            "When a pool is abnormal the alert (no personal data) goes to these groups within a second; failed sends are retried."
        ),
        ch = l.t("正在使用的渠道", "Channels in use"),
        ah = l.t("添加群机器人", "Add a group robot"),
        lk = l.t("类型", "Kind"),
        lu = l.t("Webhook 地址（群设置 → 群机器人 → 复制地址）", "Webhook address (group settings → robot → copy address)"),
        url = esc(typed.1),
        ls2 = l.t(
            "加签密钥（仅钉钉、飞书；机器人安全设置选了“加签”时填写）",
            "Signing secret (DingTalk and Feishu only; when the robot's security setting is \"sign\")"
        ),
        hint = l.t(
            "地址中的密钥只保存在服务器上，页面只显示地址前半部分。",
            "The key in the address stays on the server; pages show only its first part."
        ),
        add = l.t("添加", "Add"),
        lh = l.t("最近发送", "Recent messages"),
        lw = l.t("时间", "When"),
        lm = l.t("内容", "What"),
        ls = l.t("送达情况", "Delivery"),
        lt = l.t("尝试次数", "Attempts"),
    )
}
