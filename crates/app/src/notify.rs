//! Alert channels and their delivery. An alert's messages are queued in the
//! transaction that raised it (the `notification` outbox); the dispatcher
//! delivers them over HTTP(S) POST at once when woken, retries with back-off,
//! and records every attempt. A restart loses nothing: pending messages are
//! picked up again.

use std::sync::Arc;
use std::time::Duration;

use gw_domain::access::Action;
use gw_domain::ids::Key;
use gw_domain::notify::{self, ChannelKind, WebhookUrl};
use gw_store::alerts::{CallDownMessage, PushOutcome};
use gw_store::audit::AuditWrite;
use gw_store::{Store, StoreError};
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::access::{self, AuthError, Principal};
use crate::Clock;

#[derive(Debug, Clone, Serialize)]
pub struct ChannelView {
    pub channel: String,
    pub kind: String,
    /// The address with its secret part (query) hidden.
    pub url: String,
    pub active: bool,
    /// It signs each message with a secret (DingTalk's and Feishu's 加签).
    pub signed: bool,
}

fn hide_secret(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, _)) => (base, "?…"),
        None => (url, ""),
    };
    // Feishu's robot carries its token in the path (`…/hook/<token>`); the
    // scheme and host are never taken for one.
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let path_at = base[after_scheme..].find('/').map(|i| after_scheme + i);
    let base = match path_at.and_then(|at| base[at..].rfind('/').map(|i| at + i)) {
        Some(i) if base[i + 1..].chars().count() >= 16 => {
            let shown: String = base[i + 1..].chars().take(4).collect();
            format!("{}/{shown}…", &base[..i])
        }
        // Whatever follows `/hook/` is a robot's token, however short (a
        // relay or a test robot may use one): none of it is shown.
        Some(i) if base[..i].ends_with("/hook") && i + 1 < base.len() => {
            format!("{}/…", &base[..i])
        }
        _ => base.to_string(),
    };
    format!("{base}{query}")
}

/// Adds a group-robot webhook for a street's alerts.
pub async fn add_channel(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    street: i64,
    kind: &str,
    url: &str,
    secret: &str,
) -> Result<Key, AuthError> {
    let place = store.place_of(street, "street", street).await?;
    access::authorize(p, clock, Action::ManageRounds, &place)?;
    let Some(kind) = ChannelKind::parse(kind) else {
        return Err(AuthError::Invalid(format!(
            "渠道类型须为 {:?} 之一 / the channel kind must be one of {:?}",
            notify::CHANNEL_KINDS,
            notify::CHANNEL_KINDS
        )));
    };
    notify::parse_webhook_url(url).map_err(AuthError::Invalid)?;
    let secret = secret.trim();
    if !secret.is_empty() {
        if !notify::signs(kind) {
            return Err(AuthError::Invalid(
                "只有钉钉和飞书机器人使用加签密钥 / only DingTalk and Feishu robots sign with a secret"
                    .into(),
            ));
        }
        if secret.len() > 200 || secret.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(AuthError::Invalid(
                "加签密钥无效（不能含空白，最长 200 个字符）/ bad signing secret (no spaces, at most 200 characters)"
                    .into(),
            ));
        }
    }
    let audit = access::audit_record(
        clock,
        p,
        "add_alert_channel",
        (street, "alert_channel", ""),
        kind.as_str(),
    );
    let id = store
        .add_channel(
            street,
            kind.as_str(),
            url.trim(),
            secret,
            &p.actor(),
            clock.now_ms(),
            |id| gw_store::audit::AuditRecord {
                target_id: Key { street, id }.to_string(),
                ..audit.clone()
            },
        )
        .await?;
    Ok(Key { street, id })
}

pub async fn channels(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    street: i64,
) -> Result<Vec<ChannelView>, AuthError> {
    let place = store.place_of(street, "street", street).await?;
    access::authorize(p, clock, Action::ManageRounds, &place)?;
    Ok(store
        .channels(street)
        .await?
        .into_iter()
        .map(|c| ChannelView {
            channel: Key { street, id: c.id }.to_string(),
            kind: c.kind,
            url: hide_secret(&c.url),
            active: c.active,
            signed: c.signed,
        })
        .collect())
}

pub async fn remove_channel(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    channel: Key,
) -> Result<(), AuthError> {
    let place = store
        .place_of(channel.street, "street", channel.street)
        .await?;
    access::authorize(p, clock, Action::ManageRounds, &place)?;
    let audit = access::audit_record(
        clock,
        p,
        "remove_alert_channel",
        (channel.street, "alert_channel", &channel.to_string()),
        "",
    );
    store
        .deactivate_channel(channel.street, channel.id, &audit)
        .await?;
    Ok(())
}

/// How long a robot's test message is tried: it answers "does the robot work
/// now?", and a group that gets it an hour later, when the channel came back,
/// is only confused.
pub const TEST_MESSAGE_MS: i64 = 60_000;

/// Queues a test message to a channel (so a street can check its robot),
/// tried for [`TEST_MESSAGE_MS`].
pub async fn test_channel(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    channel: Key,
) -> Result<Key, AuthError> {
    let place = store
        .place_of(channel.street, "street", channel.street)
        .await?;
    access::authorize(p, clock, Action::ManageRounds, &place)?;
    let c = store
        .channels(channel.street)
        .await?
        .into_iter()
        .find(|c| c.id == channel.id)
        .ok_or_else(|| AuthError::Invalid(format!("没有此渠道 / no channel {channel}")))?;
    let kind = ChannelKind::parse(&c.kind).unwrap_or(ChannelKind::Json);
    let now = clock.now_ms();
    let facts = notify::AlertFacts {
        kind: "test".into(),
        round: "测试 test".into(),
        point: "-".into(),
        barcode: "-".into(),
        members: 0,
        households: 0,
        at_ms: now,
    };
    let text = format!(
        "【网格卫士 测试消息 Gridwarden test message】{}",
        notify::clock_text(now)
    );
    let id = store
        .queue_notification(
            channel.street,
            channel.id,
            &notify::body(kind, &text, &facts),
            "test",
            now,
            now + TEST_MESSAGE_MS,
        )
        .await?;
    Ok(Key {
        street: channel.street,
        id,
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct NotificationView {
    pub notification: String,
    pub channel: String,
    pub alert: Option<String>,
    pub state: String,
    pub attempts: i32,
    pub last_error: String,
    pub created_ms: i64,
    pub delivered_ms: Option<i64>,
    /// What the message was: see [`what`].
    pub what: &'static str,
}

/// What a queued message is ([`gw_domain::notify::MESSAGE_KINDS`]): as
/// stored when it was queued, or for one queued before that was stored
/// (migration 0037), read from its title ([`message_kind`]).
pub fn what(n: &gw_store::alerts::NotificationRow) -> &'static str {
    n.kind.as_deref().map_or_else(
        || message_kind(&n.body),
        gw_domain::notify::message_kind_named,
    )
}

/// What a message queued before its kind was stored was, read from the
/// title its text begins with (one of
/// [`gw_domain::notify::MESSAGE_KINDS`]).
pub fn message_kind(body: &str) -> &'static str {
    // Longer titles first: 【混管异常·补录 before 【混管异常.
    const TITLES: [(&str, &str); 9] = [
        ("【网格卫士 测试消息", "test"),
        ("【核酸检测下楼通知", "call_down"),
        ("【暂停下楼", "call_held"),
        ("【延迟下楼", "call_delayed"),
        ("【复检全阴", "cleared"),
        ("【复核阳性", "confirmed"),
        ("【结果更正", "withdrawn"),
        ("【混管异常·补录", "late_member"),
        ("【混管异常", "abnormal_pool"),
    ];
    TITLES
        .iter()
        .find(|(title, _)| body.contains(title))
        .map_or("other", |(_, kind)| kind)
}

/// The street's recent messages and how their delivery went.
pub async fn notifications(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    street: i64,
) -> Result<Vec<NotificationView>, AuthError> {
    let place = store.place_of(street, "street", street).await?;
    access::authorize(p, clock, Action::ManageRounds, &place)?;
    Ok(store
        .notifications(street, 200)
        .await?
        .into_iter()
        .map(|n| NotificationView {
            // First: the fields after it move out of `n`.
            what: what(&n),
            notification: Key { street, id: n.id }.to_string(),
            channel: Key {
                street,
                id: n.channel_id,
            }
            .to_string(),
            alert: n.alert_id.map(|id| Key { street, id }.to_string()),
            state: n.state,
            attempts: n.attempts,
            last_error: n.last_error,
            created_ms: n.created_ms,
            delivered_ms: n.delivered_ms,
        })
        .collect())
}

/// Delivers queued messages. Cheap to clone; `wake` after queueing.
#[derive(Clone)]
pub struct Dispatcher {
    wake: Arc<tokio::sync::Notify>,
}

impl Dispatcher {
    /// Starts the delivery task on the current runtime.
    pub fn start(store: Store, clock: Clock) -> Dispatcher {
        let wake = Arc::new(tokio::sync::Notify::new());
        let d = Dispatcher { wake: wake.clone() };
        tokio::spawn(async move {
            loop {
                let wait = match deliver_due(&store, &clock).await {
                    Ok(()) => match store.next_notification_ms().await {
                        Ok(Some(next)) => (next - clock.now_ms()).clamp(0, 5_000),
                        Ok(None) => 5_000,
                        Err(_) => 1_000,
                    },
                    Err(e) => {
                        tracing::warn!(error = %e, "notification dispatcher");
                        1_000
                    }
                };
                let wait = Duration::from_millis(u64::try_from(wait).unwrap_or(0));
                tokio::select! {
                    _ = wake.notified() => {}
                    _ = tokio::time::sleep(wait) => {}
                }
            }
        });
        d
    }

    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

async fn deliver_due(store: &Store, clock: &Clock) -> Result<(), gw_store::StoreError> {
    loop {
        let due = store.due_notifications(clock.now_ms(), 50).await?;
        if due.is_empty() {
            return Ok(());
        }
        for n in due {
            // Another dispatcher took it since the list was read: theirs.
            if !claim(store, clock, &n).await? {
                continue;
            }
            // A failed attempt is recorded with its retry time; go on.
            let _attempt = deliver_one(store, clock, &n).await?;
        }
    }
}

/// How long a dispatcher owns a message it is posting: longer than a post
/// may take ([`POST_TIMEOUT`]), after which another may try it again.
pub const CLAIM_MS: i64 = 30_000;

/// How long one post may take.
pub const POST_TIMEOUT: Duration = Duration::from_secs(10);

/// Takes a due message for one attempt (see [`gw_store::Store::claim_notification`]).
async fn claim(
    store: &Store,
    clock: &Clock,
    n: &gw_store::alerts::PendingNotification,
) -> Result<bool, gw_store::StoreError> {
    let now = clock.now_ms();
    store
        .claim_notification(n.street_id, n.id, now, now + CLAIM_MS)
        .await
}

/// Posts one message and records the attempt: delivered, or failed with the
/// error and the time of the next try. The outer error is the database's.
async fn deliver_one(
    store: &Store,
    clock: &Clock,
    n: &gw_store::alerts::PendingNotification,
) -> Result<Result<(), String>, gw_store::StoreError> {
    let kind = ChannelKind::parse(&n.kind).unwrap_or(ChannelKind::Json);
    match post_signed(&n.url, &n.body, kind, &n.secret, clock.now_ms()).await {
        Ok(()) => {
            store
                .notification_delivered(n.street_id, n.id, clock.now_ms())
                .await?;
            tracing::info!(
                notification = n.id,
                latency_ms = clock.now_ms() - n.created_ms,
                "alert delivered"
            );
            Ok(Ok(()))
        }
        Err(e) => {
            let attempt = u32::try_from(n.attempts + 1).unwrap_or(1);
            let next = clock.now_ms() + notify::retry_delay_ms(attempt);
            tracing::warn!(notification = n.id, attempt, error = %e, "alert delivery failed");
            store
                .notification_failed(n.street_id, n.id, &e, next)
                .await?;
            Ok(Err(e))
        }
    }
}

/// Delivers one queued message now (from the command line), recording the
/// attempt as the dispatcher would. `Ok(Err(reason))`: the robot was not
/// reached, or the message expired unsent. When another dispatcher (a running server) took the message
/// first, it is not posted twice: this waits for that attempt, or reads how
/// it went, and reports it.
pub async fn deliver_now(
    store: &Store,
    clock: &Clock,
    notification: Key,
) -> Result<Result<(), String>, AuthError> {
    let (street, id) = (notification.street, notification.id);
    store.expire_notifications(clock.now_ms()).await?;
    let pending = store.pending_notification(street, id).await?;
    if let Some(n) = &pending {
        if claim(store, clock, n).await? {
            return Ok(deliver_one(store, clock, n).await?);
        }
    }
    // Another's attempt: its outcome. A message never returns to pending.
    let attempts = pending.map(|n| n.attempts);
    let wait_until = std::time::Instant::now()
        + Duration::from_millis(u64::try_from(CLAIM_MS).unwrap_or(30_000));
    loop {
        match store.notification_state(street, id).await? {
            None => {
                return Err(AuthError::Invalid(format!(
                    "没有此消息 / no message {notification}"
                )))
            }
            Some((state, _, _)) if state == "delivered" => return Ok(Ok(())),
            Some((state, _, error)) if state == "expired" => {
                return Ok(Err(format!("已过期，不再发送 / expired, not sent any more: {error}")))
            }
            Some((state, tried, error))
                if state != "pending" || attempts.is_none_or(|a| tried > a) =>
            {
                return Ok(Err(format!(
                    "由另一进程（运行中的服务器）发送，失败 / sent by another process (the running server), failed: {error}"
                )))
            }
            Some(_) if std::time::Instant::now() < wait_until => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Some(_) => {
                return Ok(Err(format!(
                    "消息 {notification} 正由另一进程发送，结果未知 / message {notification} is being sent by another process; see `alerts list`"
                )))
            }
        }
    }
}

/// Posts a message, signed for its channel at this attempt (see
/// [`notify::signed`]), in at most [`POST_TIMEOUT`].
async fn post_signed(
    url: &str,
    body: &str,
    kind: ChannelKind,
    secret: &str,
    now_ms: i64,
) -> Result<(), String> {
    let mut u = notify::parse_webhook_url(url)?;
    let (target, body) = notify::signed(kind, secret, &u.target, body, now_ms);
    u.target = target;
    tokio::time::timeout(POST_TIMEOUT, post_parsed(&u, &body))
        .await
        .map_err(|_| format!("超时 / timed out after {} s", POST_TIMEOUT.as_secs()))?
}

/// One HTTP/1.1 POST of a JSON body; Ok on a 2xx answer. Robots answer 200
/// with an error code in the body for a bad key: that is reported too.
async fn post_parsed(u: &WebhookUrl, body: &str) -> Result<(), String> {
    // The port goes in Host unless it is the scheme's own (RFC 9110 §7.2).
    let host = if u.port == if u.tls { 443 } else { 80 } {
        u.host.clone()
    } else {
        format!("{}:{}", u.host, u.port)
    };
    let request = format!(
        "POST {} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\nUser-Agent: gridwarden\r\nConnection: close\r\n\r\n{}",
        u.target,
        body.len(),
        body
    );
    let tcp = tokio::net::TcpStream::connect((u.host.as_str(), u.port))
        .await
        .map_err(|e| format!("连接失败 / connect: {e}"))?;
    let answer = if u.tls {
        let mut roots = tokio_rustls::rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        let config = tokio_rustls::rustls::ClientConfig::builder_with_provider(Arc::new(
            tokio_rustls::rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
        let name = tokio_rustls::rustls::pki_types::ServerName::try_from(u.host.clone())
            .map_err(|e| format!("主机名无效 / bad host name: {e}"))?;
        let mut s = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS: {e}"))?;
        exchange(&mut s, request.as_bytes()).await?
    } else {
        let mut s = tcp;
        exchange(&mut s, request.as_bytes()).await?
    };
    let text = String::from_utf8_lossy(&answer);
    let status: u16 = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| "回应不是 HTTP / the answer is not HTTP".to_string())?;
    if !(200..300).contains(&status) {
        return Err(format!("HTTP {status}"));
    }
    // WeCom/DingTalk answer {"errcode":0,…}; Feishu {"code":0,…}.
    let body = text.split_once("\r\n\r\n").map(|x| x.1).unwrap_or("");
    for key in ["\"errcode\":", "\"code\":"] {
        if let Some(i) = body.find(key) {
            let v: String = body[i + key.len()..]
                .trim_start()
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '-')
                .collect();
            if !v.is_empty() && v != "0" {
                return Err(format!(
                    "机器人拒收 / the robot refused: {}",
                    &body[..body.len().min(200)]
                ));
            }
        }
    }
    Ok(())
}

async fn exchange<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    s: &mut S,
    request: &[u8],
) -> Result<Vec<u8>, String> {
    s.write_all(request)
        .await
        .map_err(|e| format!("发送失败 / send: {e}"))?;
    s.flush()
        .await
        .map_err(|e| format!("发送失败 / send: {e}"))?;
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => {
                answer.extend_from_slice(&buf[..n]);
                if answer.len() > 64 * 1024 {
                    break;
                }
            }
            // A TLS peer closing without close_notify: keep what arrived.
            Err(_) if !answer.is_empty() => break,
            Err(e) => return Err(format!("接收失败 / receive: {e}")),
        }
    }
    Ok(answer)
}

/// One push of a slot's call-down, from its audit record.
#[derive(Debug, Clone, Serialize)]
pub struct PushView {
    /// The slot's start.
    pub slot_ms: i64,
    pub at_ms: i64,
    /// As the audit log has it (`user:chief`, `cli:root`).
    pub actor: String,
    /// Who pushed, as people know them: the account's display name (the
    /// console operator as `cli:…`).
    pub by: String,
    /// Messages queued (one per channel and point of the slot).
    pub messages: i64,
}

/// Every push of a round's call-down, oldest first (for the round's
/// managers, who push).
pub async fn pushes(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    round: Key,
) -> Result<Vec<PushView>, AuthError> {
    let place = store.place_of(round.street, "street", round.street).await?;
    access::authorize(p, clock, Action::ManageRounds, &place)?;
    pushes_of(store, round).await
}

/// [`pushes`] without authorisation (the schedule's readers see which slots
/// were told, when and by whom).
pub async fn pushes_of(store: &Store, round: Key) -> Result<Vec<PushView>, AuthError> {
    let target = round.to_string();
    let mut out: Vec<PushView> = store
        .audit_events(None, Some(&target), None, 100_000)
        .await?
        .into_iter()
        .filter(|e| {
            e.street_id == round.street
                && e.action == gw_store::alerts::PUSH_ACTION
                && e.target_kind == "round"
        })
        .filter_map(|e| {
            let field = |name: &str| -> Option<i64> {
                e.detail
                    .split(' ')
                    .find_map(|w| w.strip_prefix(name)?.parse().ok())
            };
            Some(PushView {
                slot_ms: field("slot=")?,
                at_ms: e.at_ms,
                actor: e.actor.clone(),
                by: e.actor.clone(),
                messages: field("messages=").unwrap_or(0),
            })
        })
        .collect();
    out.sort_by_key(|v| (v.at_ms, v.slot_ms));
    let mut names = ActorNames::default();
    for v in &mut out {
        if let Some(by) = names.of(store, &v.actor).await? {
            v.by = by;
        }
    }
    Ok(out)
}

/// Who did something, as people know them: an account's display name, read
/// once per account however many records name it.
#[derive(Default)]
pub(crate) struct ActorNames(std::collections::BTreeMap<String, String>);

impl ActorNames {
    /// The display name of `actor` when it is an account (`user:NAME`; the
    /// account's name when it has no display name), else `None`.
    pub(crate) async fn of(
        &mut self,
        store: &Store,
        actor: &str,
    ) -> Result<Option<String>, StoreError> {
        let Some(user) = actor.strip_prefix("user:") else {
            return Ok(None);
        };
        if !self.0.contains_key(user) {
            let name = match store.user_by_name(user).await? {
                Some(u) if !u.display_name.trim().is_empty() => u.display_name,
                _ => user.to_string(),
            };
            self.0.insert(user.to_string(), name);
        }
        Ok(self.0.get(user).cloned())
    }
}

/// The starts of slots, for a refusal that says which there are: in time
/// order, each once, the first twelve (`…` after them), or 无 none.
pub(crate) fn slot_starts_text(starts: impl Iterator<Item = i64>) -> String {
    let mut starts: Vec<i64> = starts.collect();
    starts.sort_unstable();
    starts.dedup();
    let list: Vec<String> = starts
        .iter()
        .take(12)
        .map(|t| notify::clock_text(*t))
        .collect();
    if list.is_empty() {
        "无 none".to_string()
    } else {
        let more = if starts.len() > 12 { " …" } else { "" };
        format!("{}{more}", list.join(", "))
    }
}

/// The street's active alert channels, each with the format its messages
/// are written in (a kind not known is written as plain JSON): whom a
/// call-down, a held call or a delay notice is queued to.
pub(crate) async fn active_channels(
    store: &Store,
    street: i64,
) -> Result<Vec<(i64, ChannelKind)>, StoreError> {
    Ok(store
        .channels(street)
        .await?
        .into_iter()
        .filter(|c| c.active)
        .map(|c| {
            (
                c.id,
                ChannelKind::parse(&c.kind).unwrap_or(ChannelKind::Json),
            )
        })
        .collect())
}

fn no_channel() -> AuthError {
    AuthError::Invalid(
        "没有可用的告警渠道，叫号未推送也未记录：请先添加或启用一个群机器人渠道 / no alert channel: nothing was pushed or recorded; add or enable a group-robot channel first".into(),
    )
}

/// Pushes the call-down messages of one slot (the one starting at
/// `starts_ms`, or the next to start from now) to every active channel of the
/// round's street, while the round is planned or open and the slot has not
/// begun; a slot pushed before only when asked `again`. Each message expires
/// at the slot's end: a channel down until then never sends a stale call.
/// Returns how many messages were queued.
pub async fn push_call_down(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    round: Key,
    starts_ms: Option<i64>,
    again: bool,
) -> Result<usize, AuthError> {
    let place = store.place_of(round.street, "street", round.street).await?;
    access::authorize(p, clock, Action::ManageRounds, &place)?;
    let view = crate::schedule::view_as(store, clock, round, &|_| true).await?;
    if !view.stored {
        // A preview is worked out again at every look: pushing it would call
        // buildings no plan remembers calling.
        return Err(AuthError::Invalid(
            "还没有排班，请先排班再推送叫号 / nothing is planned yet: plan the round before pushing its call-down".into(),
        ));
    }
    let now = clock.now_ms();
    // Left out: the next slot not begun and not pushed yet (with `again`,
    // the next slot not begun).
    let told: Vec<i64> = view.pushes.iter().map(|p| p.slot_ms).collect();
    let slot = match starts_ms {
        Some(t) => Some(t),
        None => view
            .call_down
            .iter()
            .map(|c| c.starts_ms)
            .filter(|t| *t >= now && (again || !told.contains(t)))
            .min(),
    };
    let Some(slot) = slot else {
        return Err(AuthError::Invalid(
            "没有待叫号的时段（以后的时段都已推送）/ no slot left to call down (every later slot was pushed)".into(),
        ));
    };
    let calls: Vec<_> = view
        .call_down
        .iter()
        .filter(|c| c.starts_ms == slot)
        .collect();
    if calls.is_empty() {
        // Say which slots there are: the next ones not begun.
        let list = slot_starts_text(
            view.call_down
                .iter()
                .map(|c| c.starts_ms)
                .filter(|t| *t >= now),
        );
        return Err(AuthError::Invalid(format!(
            "没有在 {} 开始的叫号时段；待叫号的时段：{list} / no call-down slot starts at {}; the slots to come start at: {list}",
            notify::clock_text(slot),
            notify::clock_text(slot)
        )));
    }
    // A point whose hours changed since the plan: nobody is sent to a
    // point that is shut at the slot.
    if let Some(o) = view
        .out_of_hours
        .iter()
        .find(|o| o.starts_ms == slot && calls.iter().any(|c| c.point == o.point))
    {
        return Err(AuthError::Invalid(o.reason()));
    }
    if slot < now {
        return Err(AuthError::Invalid(format!(
            "该时段 {} 已开始，不能再叫号：请推送以后的时段 / the slot of {} has begun: push a later one",
            notify::clock_text(slot),
            notify::clock_text(slot)
        )));
    }
    let mut messages = Vec::new();
    for (channel, kind) in active_channels(store, round.street).await? {
        for c in &calls {
            let facts = notify::AlertFacts {
                kind: "call_down".into(),
                round: view.round_name.clone(),
                point: c.point_name.clone(),
                barcode: String::new(),
                members: c.people as usize,
                households: 0,
                at_ms: c.starts_ms,
            };
            messages.push(CallDownMessage {
                channel,
                body: notify::body(kind, &c.text, &facts),
                expires_ms: c.ends_ms,
                kind: "call_down",
            });
        }
    }
    if messages.is_empty() {
        // Queued to nobody, the push would still be recorded and refuse the
        // real one later as a second push.
        return Err(no_channel());
    }
    // A group told twice to go down at the same time doubts the next call:
    // a second push of a slot must be asked for. The push's audit record is
    // how a later push knows (`slot=… ` starts its detail).
    let slot_detail = format!("slot={slot} ");
    let detail = format!("{slot_detail}messages={}", messages.len());
    let round_id = round.to_string();
    let actor = p.actor();
    let audit = AuditWrite {
        street_id: round.street,
        at_ms: now,
        actor: &actor,
        action: gw_store::alerts::PUSH_ACTION,
        target_kind: "round",
        target_id: &round_id,
        detail: &detail,
        address: "",
    };
    match store
        .push_call_down(
            round.id,
            view.revision,
            &slot_detail,
            again,
            &messages,
            &audit,
        )
        .await?
    {
        PushOutcome::Queued(n) => Ok(n),
        PushOutcome::NoChannel => Err(no_channel()),
        PushOutcome::PlanChanged(Some(rev)) => Err(AuthError::Store(StoreError::Conflict(format!(
            "推送期间排班已改为第 {rev} 版，请查看新的时间表后再推送 / the plan was made again meanwhile (revision {rev}): push from the new one"
        )))),
        PushOutcome::PlanChanged(None) => Err(AuthError::Store(StoreError::Conflict(
            "推送期间排班已不存在，请重新排班后再推送 / the plan is gone meanwhile: plan again, then push".into(),
        ))),
        // Only a round still to be sampled calls people down: once sampling
        // has closed no routine tube opens, and a call would send them to a
        // point that no longer swabs.
        PushOutcome::NotSampling(state) => Err(AuthError::Store(StoreError::Conflict(format!(
            "轮次状态为 {state}，已停止采样，不能再推送叫号 / the round is {state}: sampling is over, nobody is called down any more"
        )))),
        PushOutcome::PushedBefore(at_ms, actor) => {
            Err(AuthError::Store(StoreError::Conflict(format!(
                "时段 {} 的叫号已于 {} 由 {} 推送过；确需再次推送请加 again（命令行 --again）/ the call-down of {} was pushed at {} by {}: ask again to send it once more (`again`; on the command line --again)",
                notify::clock_text(slot),
                notify::clock_text(at_ms),
                actor,
                notify::clock_text(slot),
                notify::clock_text(at_ms),
                actor
            ))))
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::hide_secret;

    #[test]
    fn a_message_is_named_by_its_title_in_every_robot_format() {
        use gw_domain::notify::{self, AlertFacts, ChannelKind};
        let facts = |kind: &str| AlertFacts {
            kind: kind.into(),
            round: "第1轮".into(),
            point: "一号点".into(),
            barcode: "T0001".into(),
            members: 3,
            households: 2,
            at_ms: 1_700_000_000_000,
        };
        for channel in [
            ChannelKind::WeCom,
            ChannelKind::DingTalk,
            ChannelKind::Feishu,
            ChannelKind::Json,
        ] {
            for (kind, what) in [
                ("abnormal", "abnormal_pool"),
                ("late_member", "late_member"),
                ("cleared", "cleared"),
                ("confirmed", "confirmed"),
                ("withdrawn", "withdrawn"),
            ] {
                let f = facts(kind);
                let body = notify::body(channel, &notify::alert_text(&f), &f);
                assert_eq!(super::message_kind(&body), what, "{kind}: {body}");
            }
            let test = notify::body(
                channel,
                "【网格卫士 测试消息 Gridwarden test message】12:00",
                &facts("test"),
            );
            assert_eq!(super::message_kind(&test), "test");
            let call = notify::body(
                channel,
                "【核酸检测下楼通知】第1轮\n采样点：一号点",
                &facts("call_down"),
            );
            assert_eq!(super::message_kind(&call), "call_down");
            let held = notify::body(
                channel,
                "【暂停下楼】第1轮 · 采样点「一号点」08:45–09:15 叫号中的 1号楼 1单元 现已封控",
                &facts("call_down"),
            );
            assert_eq!(super::message_kind(&held), "call_held");
            let delayed = notify::body(
                channel,
                "【延迟下楼】第1轮\n采样点：一号点\n时段：08:45–09:15\n1号楼 1单元：采样点排队较长，请推迟约 15 分钟（09:00 后）下楼",
                &facts("call_delayed"),
            );
            assert_eq!(super::message_kind(&delayed), "call_delayed");
        }
        assert_eq!(super::message_kind("{}"), "other");
    }

    #[test]
    fn a_channel_url_is_shown_without_its_token() {
        assert_eq!(
            hide_secret("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abcd-1234"),
            "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?…"
        );
        assert_eq!(
            hide_secret(
                "https://open.feishu.cn/open-apis/bot/v2/hook/0a1b2c3d-4e5f-6789-abcd-ef0123456789"
            ),
            "https://open.feishu.cn/open-apis/bot/v2/hook/0a1b…"
        );
        assert_eq!(
            hide_secret("http://127.0.0.1:8399/robot"),
            "http://127.0.0.1:8399/robot"
        );
        assert_eq!(
            hide_secret("http://10.1.2.3:8080/feishu/hook/abc"),
            "http://10.1.2.3:8080/feishu/hook/…"
        );
        assert_eq!(
            hide_secret("https://hooks.example-corporation.cn?key=abc"),
            "https://hooks.example-corporation.cn?…"
        );
        assert_eq!(
            hide_secret("https://hooks.example-corporation.cn"),
            "https://hooks.example-corporation.cn"
        );
    }
}
