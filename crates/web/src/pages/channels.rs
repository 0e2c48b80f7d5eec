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

/// What a message was (`gw_app::notify::message_kind`), in words (also
/// on a round's alerts page).
pub(super) fn what_label(l: Lang, what: &str) -> &'static str {
    match what {
        "abnormal_pool" => l.t("异常混管告警", "abnormal pool alert"),
        "late_member" => l.t("异常混管·补录人员", "abnormal pool, late member"),
        "cleared" => l.t("复检全阴（解除管控）", "retests all negative (released)"),
        "confirmed" => l.t("复核阳性", "retest positive"),
        "withdrawn" => l.t("结果更正（撤销告警）", "result corrected (alert withdrawn)"),
        "call_down" => l.t("叫号推送", "call-down push"),
        "call_held" => l.t(
            "暂停下楼（已封控）",
            "call-down held (place now held at home)",
        ),
        "call_delayed" => l.t(
            "延迟下楼（排队较长）",
            "call-down delayed (long line at the point)",
        ),
        "test" => l.t("测试消息", "test message"),
        _ => l.t("其他通知", "other notice"),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct Done {
    /// What the last form did: `added`, `removed` or `tested`.
    pub done: Option<String>,
    /// With `tested`: the test message (`STREET-ID`), whose delivery the
    /// page states at the top.
    pub n: Option<String>,
}

pub async fn channels_page(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    page: Page,
    Path(street): Path<i64>,
    Query(q): Query<Done>,
) -> Response {
    let notice = match q.done.as_deref() {
        Some("added") => Some(Notice::Done(page.lang.t("已添加。", "Channel added."))),
        Some("removed") => Some(Notice::Done(page.lang.t("已停用。", "Channel removed."))),
        Some("tested") => Some(Notice::Tested(q.n.unwrap_or_default())),
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

/// What the page says at the top after a form.
enum Notice {
    Done(&'static str),
    /// A test message was sent (its key): the page says whether the robot
    /// took it, and its answer when not.
    Tested(String),
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

/// Sends a test message to a channel at once (as `gridwarden alerts test`
/// does: delivered from here, or, when the server's dispatcher took it first,
/// its attempt awaited), then shows the page saying whether the robot took it.
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
    let n = match gw_app::notify::test_channel(&s.store, &s.clock, &a.principal, k).await {
        Ok(n) => n,
        Err(e) => return page.error(auth_err(page.lang, e)),
    };
    // The attempt is recorded (delivered, or failed with the robot's
    // answer and a retry within the test's minute): the page reads it.
    if let Err(e) = gw_app::notify::deliver_now(&s.store, &s.clock, n).await {
        return page.error(auth_err(page.lang, e));
    }
    // A retry, if any, is the dispatcher's.
    s.alerts.wake();
    redirect(&format!(
        "/streets/{}/alert-channels?done=tested&n={n}",
        k.street
    ))
}

#[allow(clippy::too_many_arguments)]
async fn render(
    s: &AppState,
    a: &Auth,
    page: &Page,
    street: i64,
    status: StatusCode,
    notice: Option<Notice>,
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
    let notice = notice.map(|n| match n {
        Notice::Done(text) => (true, text.to_string()),
        Notice::Tested(key) => tested(l, &key, &channels, &sent),
    });
    let body = body(
        l,
        &a.csrf,
        street,
        &channels,
        &sent,
        notice.as_ref().map(|(ok, t)| (*ok, t.as_str())),
        error,
        typed,
    );
    page.render(status, l.t("告警推送渠道", "Alert channels"), &body)
}

/// The robot's name on a page: its kind and its address without the key.
fn channel_name(l: Lang, channels: &[ChannelView], key: &str) -> String {
    match channels.iter().find(|c| c.channel == key) {
        Some(c) => format!("{}（{}）", kind_label(l, &c.kind), c.url),
        None => key.to_string(),
    }
}

/// A channel's kind in words (also on a round's alerts page).
pub(super) fn kind_label(l: Lang, kind: &str) -> String {
    kinds(l)
        .iter()
        .find(|(k, _)| *k == kind)
        .map_or(kind.to_string(), |(_, t)| t.to_string())
}

/// Whether the test message `key` reached its robot, in words: `(ok, text)`.
fn tested(
    l: Lang,
    key: &str,
    channels: &[ChannelView],
    sent: &[NotificationView],
) -> (bool, String) {
    let Some(n) = sent.iter().find(|n| n.notification == key) else {
        return (
            false,
            l.t(
                "测试消息已排队，送达情况见下方“最近发送”。",
                "The test message is queued: see its delivery under Recent messages.",
            )
            .to_string(),
        );
    };
    let name = channel_name(l, channels, &n.channel);
    match n.state.as_str() {
        "delivered" => (
            true,
            format!(
                "{}{name}",
                l.t(
                    "测试消息已送达，机器人已接收：",
                    "The robot accepted the test message: "
                )
            ),
        ),
        "pending" if n.attempts == 0 => (
            false,
            format!(
                "{}{name}",
                l.t(
                    "测试消息正由服务器发送，结果稍后见下方（刷新页面）：",
                    "The server is sending the test message; reload for its delivery: "
                )
            ),
        ),
        _ => (
            false,
            format!(
                "{}{name}{}{}",
                l.t("测试消息未送达：", "The test message did not arrive: "),
                l.t(
                    "。机器人或网络的回答：",
                    ". The robot's or network's answer: "
                ),
                n.last_error
            ),
        ),
    }
}

#[allow(clippy::too_many_arguments)]
fn body(
    l: Lang,
    csrf: &str,
    street: i64,
    channels: &[ChannelView],
    sent: &[NotificationView],
    notice: Option<(bool, &str)>,
    error: Option<&str>,
    typed: (&str, &str),
) -> String {
    let csrf = esc(csrf);
    let label = |kind: &str| kind_label(l, kind);
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
            r#"<tr data-message="{key}"><td>{when}</td><td>{channel}</td><td>{what}</td><td><span class="tag {state}">{st}</span></td><td class="num">{tries}</td><td>{error}</td></tr>"#,
            key = esc(&n.notification),
            when = esc(&clock_text(n.created_ms)),
            channel = esc(&channel_name(l, channels, &n.channel)),
            what = what_label(l, n.what),
            state = esc(&n.state),
            st = delivery_label(l, &n.state),
            tries = n.attempts,
            error = esc(&n.last_error),
        ));
    }
    if log.is_empty() {
        log = format!(
            r#"<tr><td colspan="6" class="muted">{}</td></tr>"#,
            l.t("还没有发送过消息。", "No message sent yet.")
        );
    }
    let notice = notice
        .map(|(ok, n)| {
            if ok {
                format!(r#"<p class="notice" id="channel-done">{}</p>"#, esc(n))
            } else {
                format!(
                    r#"<p class="error" role="alert" id="channel-done">{}</p>"#,
                    esc(n)
                )
            }
        })
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
<section class="card"><h2>{lh}</h2><div class="scroll"><table><thead><tr><th>{lw}</th><th>{lc}</th><th>{lm}</th><th>{ls}</th><th class="num">{lt}</th><th>{le}</th></tr></thead><tbody>{log}</tbody></table></div></section>"#,
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
        lc = l.t("渠道", "Channel"),
        le = l.t("最近一次错误", "Last error"),
        lm = l.t("内容", "What"),
        ls = l.t("送达情况", "Delivery"),
        lt = l.t("尝试次数", "Attempts"),
    )
}
