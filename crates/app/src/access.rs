//! Accounts, login, sessions and authorisation: every request's caller is a
//! [`Principal`], and every use-case asks [`authorize`] (or narrows its query
//! with [`scope`]) before it touches personal data. Reads of full values and
//! every change are written to the audit log here.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use gw_domain::access::{self, Action, Field, Grant, Node, Place, Role};
use gw_domain::ids::Key;
use gw_store::access::GrantWrite;
use gw_store::audit::AuditRecord;
use gw_store::{Store, StoreError};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::Clock;

/// How long a login session lasts.
pub const SESSION_MS: i64 = 12 * 3_600_000;
pub const MIN_PASSWORD: usize = 10;

#[derive(Debug, Clone, Serialize)]
pub struct Principal {
    pub user_id: i64,
    pub username: String,
    pub display_name: String,
    pub must_change_password: bool,
    pub grants: Vec<Grant>,
}

impl Principal {
    /// The actor string the audit log records.
    pub fn actor(&self) -> String {
        // An account may be named `cli:x`; only the console operator (no account, id 0) acts as one.
        let operator = self.user_id == 0 && self.username.starts_with("cli:");
        if self.username.starts_with("station:") || operator {
            self.username.clone()
        } else {
            format!("user:{}", self.username)
        }
    }
    /// The operator at the server's console (`cli:USER`): the CLI acts city-wide,
    /// as it does unscoped elsewhere; the audit log records it by that name.
    pub fn operator(actor: &str) -> Principal {
        Principal {
            user_id: 0,
            username: actor.to_string(),
            display_name: actor.to_string(),
            must_change_password: false,
            grants: vec![Grant {
                role: Role::Admin,
                node: Node::City,
                from_ms: 0,
                until_ms: None,
            }],
        }
    }
    pub fn can(&self, action: Action, place: &Place, now_ms: i64) -> bool {
        self.station_may(action) && access::can(&self.grants, action, place, now_ms)
    }
    pub fn can_somewhere(&self, action: Action, now_ms: i64) -> bool {
        self.station_may(action) && access::can_somewhere(&self.grants, action, now_ms)
    }
    /// Whether residents' names are read in full (volunteers and point staff
    /// see 王*芳): a role in force that reads the registry and sees names.
    pub fn sees_full_names(&self, now_ms: i64) -> bool {
        self.grants.iter().any(|g| {
            g.in_force(now_ms)
                && access::sees_full_names(g.role)
                && access::role_allows(g.role, Action::ReadRegistry)
        })
    }
    /// An enrolled scanning station (its device token, not an account).
    pub fn is_station(&self) -> bool {
        self.user_id == 0 && self.username.starts_with("station:")
    }
    /// A station holds its point's volunteer grant for scanning only: it
    /// opens, fills and closes tubes; packing, hand-over and recounts are
    /// done by a person, whom the audit log names.
    fn station_may(&self, action: Action) -> bool {
        !self.is_station() || action == Action::Scan
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Also for a locked or disabled account: the answer must not tell which names exist.
    #[error("用户名或密码错误，或尝试次数过多请稍后再试 / wrong username or password, or too many attempts: wait and try again")]
    BadCredentials,
    /// What was refused, in words (see [`forbidden`]).
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Invalid(String),
    /// A scan whose client id names a swab that was taken back: not stored
    /// again (the station drops it from its queue).
    #[error("此扫码已被撤销，不再登记 / this scan was taken back: it is not stored again")]
    Voided,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// 30 random bytes (240 bits) as 48 base-32 characters.
pub fn random_token() -> String {
    let mut b = [0u8; 30];
    if getrandom::fill(&mut b).is_err() {
        return format!(
            "{}{}{}",
            crate::new_uid(),
            crate::new_uid(),
            crate::new_uid()
        );
    }
    b.chunks(10)
        .map(|c| {
            let mut a = [0u8; 10];
            a.copy_from_slice(c);
            crate::uid_from_bytes(&a)
        })
        .collect()
}

/// Tokens are stored as their SHA-256: a stolen database opens no session.
pub fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub fn hash_password(password: &str) -> Result<String, AuthError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| AuthError::Invalid(format!("no randomness: {e}")))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| AuthError::Invalid(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AuthError::Invalid(e.to_string()))
}

fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

fn check_new_password(p: &str) -> Result<(), AuthError> {
    if p.chars().count() < MIN_PASSWORD {
        return Err(AuthError::Invalid(format!(
            "密码至少 {MIN_PASSWORD} 位 / a password needs at least {MIN_PASSWORD} characters"
        )));
    }
    Ok(())
}

/// `(street, kind, id)` of what an audit event concerns.
pub type Target<'a> = (i64, &'a str, &'a str);

async fn audit(
    store: &Store,
    clock: &Clock,
    actor: &str,
    action: &str,
    target: Target<'_>,
    detail: &str,
    address: &str,
) -> Result<(), StoreError> {
    store
        .audit(&owned_audit(clock, actor, action, target, detail, address).write())
        .await
}

/// An audit event, owned; a NUL (which PostgreSQL cannot store) is kept,
/// marked.
fn owned_audit(
    clock: &Clock,
    actor: &str,
    action: &str,
    target: Target<'_>,
    detail: &str,
    address: &str,
) -> AuditRecord {
    let (street_id, target_kind, target_id) = target;
    AuditRecord {
        street_id,
        at_ms: clock.now_ms(),
        actor: actor.to_string(),
        action: action.to_string(),
        target_kind: target_kind.to_string(),
        target_id: target_id.to_string(),
        detail: detail.replace('\0', "\u{fffd}"),
        address: address.replace('\0', "\u{fffd}"),
    }
}

/// The audit event of a caller's change, for the change to write in its own
/// transaction (acknowledged, the change and its record are both stored, or
/// neither); [`AuditRecord::with_detail`] adds what is known only there.
pub fn audit_record(
    clock: &Clock,
    p: &Principal,
    action: &str,
    target: Target<'_>,
    detail: &str,
) -> AuditRecord {
    owned_audit(clock, &p.actor(), action, target, detail, "")
}

/// On a database with no account: creates `admin` (city-wide) with a one-time
/// password, returned once so the caller prints it once.
pub async fn ensure_first_admin(
    store: &Store,
    clock: &Clock,
) -> Result<Option<(String, String)>, AuthError> {
    if store.user_count().await? > 0 {
        return Ok(None);
    }
    let password = random_token()[..16].to_string();
    let id = store
        .create_user(
            "admin",
            "系统管理员",
            &hash_password(&password)?,
            true,
            clock.now_ms(),
        )
        .await?;
    store
        .add_grant(&GrantWrite {
            user_id: id,
            role: Role::Admin,
            node: Node::City,
            from_ms: clock.now_ms(),
            until_ms: None,
            granted_by: "first start",
            handover_from: None,
            note: "",
            now_ms: clock.now_ms(),
        })
        .await?;
    audit(
        store,
        clock,
        "system",
        "create_user",
        (0, "user", "admin"),
        "first admin",
        "",
    )
    .await?;
    Ok(Some(("admin".into(), password)))
}

/// Adds an account; without a password one is generated. Returns (id, password).
pub async fn add_user(
    store: &Store,
    clock: &Clock,
    actor: &str,
    username: &str,
    display: &str,
    password: Option<&str>,
) -> Result<(i64, String), AuthError> {
    let username = username.trim();
    if username.is_empty() || username.len() > 64 || username.contains(char::is_whitespace) {
        return Err(AuthError::Invalid(
            "用户名不能为空或含空格 / a username is one word".into(),
        ));
    }
    let password = match password {
        Some(p) => {
            check_new_password(p)?;
            p.to_string()
        }
        None => random_token()[..16].to_string(),
    };
    let id = store
        .create_user(
            username,
            display,
            &hash_password(&password)?,
            true,
            clock.now_ms(),
        )
        .await?;
    audit(
        store,
        clock,
        actor,
        "create_user",
        (0, "user", username),
        "",
        "",
    )
    .await?;
    Ok((id, password))
}

/// Grants a role on a node. `handover_from` records the previous holder (an
/// acting grid leader taking over): their grants on the same node end now.
#[allow(clippy::too_many_arguments)]
pub async fn grant(
    store: &Store,
    clock: &Clock,
    actor: &str,
    user: i64,
    role: Role,
    node: Node,
    until_ms: Option<i64>,
    handover_from: Option<i64>,
) -> Result<i64, AuthError> {
    let now = clock.now_ms();
    if until_ms.is_some_and(|u| u <= now) {
        return Err(AuthError::Invalid(
            "结束时间已过 / the end is in the past".into(),
        ));
    }
    store.user(user).await?;
    if let Some(prev) = handover_from {
        for g in store.grants(Some(prev)).await? {
            if g.grant.node == node && g.grant.role == role && g.revoked_ms.is_none() {
                store.revoke_grant(g.id, now).await?;
            }
        }
    }
    let note = handover_from
        .map(|p| format!("hand-over from user {p}"))
        .unwrap_or_default();
    let id = store
        .add_grant(&GrantWrite {
            user_id: user,
            role,
            node,
            from_ms: now,
            until_ms,
            granted_by: actor,
            handover_from,
            note: &note,
            now_ms: now,
        })
        .await?;
    let (kind, street, nid) = node.parts();
    audit(
        store,
        clock,
        actor,
        "grant",
        (street, "user", &user.to_string()),
        &format!("role={} node={kind}:{street}-{nid} grant={id}", role.code()),
        "",
    )
    .await?;
    Ok(id)
}

pub async fn revoke(
    store: &Store,
    clock: &Clock,
    actor: &str,
    grant_id: i64,
) -> Result<(), AuthError> {
    store.revoke_grant(grant_id, clock.now_ms()).await?;
    audit(
        store,
        clock,
        actor,
        "revoke",
        (0, "grant", &grant_id.to_string()),
        "",
        "",
    )
    .await?;
    Ok(())
}

async fn principal(
    store: &Store,
    user: &gw_store::access::UserRow,
) -> Result<Principal, StoreError> {
    let grants = store
        .grants(Some(user.id))
        .await?
        .into_iter()
        .map(|g| g.grant)
        .collect();
    Ok(Principal {
        user_id: user.id,
        username: user.username.clone(),
        display_name: user.display_name.clone(),
        must_change_password: user.must_change,
        grants,
    })
}

/// A logged-in session: the bearer token (also the cookie) and its CSRF token.
#[derive(Debug, Clone, Serialize)]
pub struct Session {
    pub token: String,
    pub csrf: String,
    pub expires_ms: i64,
    pub user: Principal,
}

/// Checks a password, with back-off after repeated failures.
fn dummy_check(password: &str) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let dummy =
        DUMMY.get_or_init(|| hash_password("gridwarden-dummy-password").unwrap_or_default());
    let _ = verify_password(password, dummy);
}

/// Checks a password with back-off: one check at a time per account (so a
/// burst of parallel guesses cannot outrun the count), failures counted
/// atomically, the account locked for a growing time after five. Locked,
/// disabled and unknown accounts cost the same and answer the same.
/// How long one password check may hold its account (a server killed
/// during one frees it after this).
const PASSWORD_CHECK_LEASE_MS: i64 = 10_000;

/// How many times (50 ms apart) a login waits for another check of the same
/// account to finish: the lease's length.
const PASSWORD_CHECK_WAITS: u32 = 200;

async fn check_password(
    store: &Store,
    clock: &Clock,
    user: &gw_store::access::UserRow,
    password: &str,
    address: &str,
) -> Result<(), AuthError> {
    // Another check of this account in flight (the same account logging in
    // from two places at once, a double click): wait for it, up to its
    // lease, rather than answer a right password "wrong". A lockout (30 s
    // and more, after five failures) is answered at once.
    let mut tries = 0;
    while !store
        .claim_password_check(user.id, clock.now_ms(), PASSWORD_CHECK_LEASE_MS)
        .await?
    {
        let held_ms = store.user(user.id).await?.locked_until_ms - clock.now_ms();
        tries += 1;
        if held_ms > PASSWORD_CHECK_LEASE_MS || tries > PASSWORD_CHECK_WAITS {
            dummy_check(password);
            return Err(AuthError::BadCredentials);
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let ok = verify_password(password, &user.password_hash) && !user.disabled;
    let failures = store
        .finish_password_check(user.id, ok, clock.now_ms(), |f| {
            access::lockout_ms(f.max(0) as u32)
        })
        .await?;
    if !ok {
        audit(
            store,
            clock,
            &format!("user:{}", user.username),
            "login_failed",
            (0, "user", &user.username),
            &format!("failures={failures}"),
            address,
        )
        .await?;
        return Err(AuthError::BadCredentials);
    }
    Ok(())
}

/// Checks a password, with back-off after repeated failures.
pub async fn login(
    store: &Store,
    clock: &Clock,
    username: &str,
    password: &str,
    address: &str,
) -> Result<Session, AuthError> {
    let now = clock.now_ms();
    let Some(user) = store.user_by_name(username.trim()).await? else {
        // Same cost as a real check, so timing does not tell which names exist.
        dummy_check(password);
        return Err(AuthError::BadCredentials);
    };
    check_password(store, clock, &user, password, address).await?;
    let token = random_token();
    let csrf = random_token();
    let expires = now + SESSION_MS;
    store
        .create_session(&token_hash(&token), user.id, &csrf, now, expires, address)
        .await?;
    audit(
        store,
        clock,
        &format!("user:{}", user.username),
        "login",
        (0, "user", &user.username),
        "",
        address,
    )
    .await?;
    Ok(Session {
        token,
        csrf,
        expires_ms: expires,
        user: principal(store, &user).await?,
    })
}

/// The caller behind a session token, with the session's CSRF token.
pub async fn authenticate(
    store: &Store,
    clock: &Clock,
    token: &str,
) -> Result<Option<(Principal, String)>, StoreError> {
    let hash = token_hash(token);
    let Some((user_id, csrf, expires)) = store.session(&hash).await? else {
        return Ok(None);
    };
    if expires <= clock.now_ms() {
        store.delete_session(&hash).await?;
        return Ok(None);
    }
    let user = store.user(user_id).await?;
    if user.disabled {
        return Ok(None);
    }
    Ok(Some((principal(store, &user).await?, csrf)))
}

pub async fn logout(store: &Store, token: &str) -> Result<(), StoreError> {
    store.delete_session(&token_hash(token)).await
}

/// Changes a password; every session of the user ends.
pub async fn change_password(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    old: &str,
    new: &str,
) -> Result<(), AuthError> {
    let user = store.user(p.user_id).await?;
    // Counted like a login: a stolen session cannot guess the password freely.
    check_password(store, clock, &user, old, "").await?;
    check_new_password(new)?;
    store
        .set_password(p.user_id, &hash_password(new)?, false)
        .await?;
    store.delete_sessions_of(p.user_id).await?;
    audit(
        store,
        clock,
        &p.actor(),
        "change_password",
        (0, "user", &p.username),
        "",
        "",
    )
    .await?;
    Ok(())
}

/// Sets a password by an operator (CLI); the user must change it at next login.
pub async fn reset_password(
    store: &Store,
    clock: &Clock,
    actor: &str,
    username: &str,
) -> Result<String, AuthError> {
    let user = store
        .user_by_name(username)
        .await?
        .ok_or_else(|| AuthError::Invalid(format!("no user {username}")))?;
    let password = random_token()[..16].to_string();
    store
        .set_password(user.id, &hash_password(&password)?, true)
        .await?;
    store.delete_sessions_of(user.id).await?;
    audit(
        store,
        clock,
        actor,
        "reset_password",
        (0, "user", username),
        "",
        "",
    )
    .await?;
    Ok(password)
}

/// Refuses unless the caller may do `action` at `place`.
pub fn authorize(
    p: &Principal,
    clock: &Clock,
    action: Action,
    place: &Place,
) -> Result<(), AuthError> {
    let now = clock.now_ms();
    if p.can(action, place, now) {
        Ok(())
    } else if p.station_may(action)
        && gw_domain::access::can_reach_somewhere(&p.grants, action, now)
    {
        // The role may, but not here: say so, not that the role may not.
        let (zh, en) = action.words();
        Err(AuthError::Forbidden(format!(
            "不在您的辖区：您只能在受委派的地方{zh} / outside your territory: {en} is allowed to you only where you are appointed"
        )))
    } else {
        Err(forbidden(action))
    }
}

/// The refusal of `action`: "无权上传检测结果 / not allowed: posting lab results".
pub fn forbidden(action: Action) -> AuthError {
    let (zh, en) = action.words();
    AuthError::Forbidden(format!("无权{zh} / not allowed: {en}"))
}

/// The nodes a list may be narrowed to for `action`.
pub fn scope(p: &Principal, clock: &Clock, action: Action) -> Vec<Node> {
    access::nodes_for(&p.grants, action, clock.now_ms())
}

/// Where a registry object is, for [`authorize`].
pub async fn place_of(store: &Store, kind: &str, key: Key) -> Result<Place, StoreError> {
    store.place_of(key.street, kind, key.id).await
}

/// Whether `p` may do `action` somewhere in community `community` of
/// `street`: at the community itself, or at one of its grids (a grid
/// leader's reach lies inside one community).
pub async fn reaches_community(
    store: &Store,
    p: &Principal,
    action: Action,
    street: i64,
    community: i64,
    now_ms: i64,
) -> Result<bool, StoreError> {
    if p.can(
        action,
        &store.place_of(street, "community", community).await?,
        now_ms,
    ) {
        return Ok(true);
    }
    for node in access::nodes_for(&p.grants, action, now_ms) {
        if let Node::Grid { street: s, id } = node {
            if s == street {
                match store.place_of(s, "grid", id).await {
                    Ok(place) if place.community == Some(community) => return Ok(true),
                    Ok(_) | Err(StoreError::NotFound(_)) => {}
                    Err(e) => return Err(e),
                }
            }
        }
    }
    Ok(false)
}

/// One field of one resident in full: allowed by the role × field table for
/// the caller's territory, and audited (ids only, never the value).
pub async fn reveal(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    key: Key,
    field: Field,
    address: &str,
) -> Result<serde_json::Value, AuthError> {
    let place = place_of(store, "resident", key).await?;
    authorize(p, clock, Action::Reveal(field), &place)?;
    let r = store.resident(key.street, key.id).await?;
    let value = match field {
        Field::Phone => serde_json::json!(r.resident.phones.iter().map(|ph| serde_json::json!({ "number": ph.phone.as_str(), "relation": ph.relation.code() })).collect::<Vec<_>>()),
        Field::Document => serde_json::json!(r.resident.document.as_ref().map(|d| serde_json::json!({ "kind": d.kind.code(), "number": d.number }))),
        Field::Health => serde_json::json!({ "flags": r.resident.flags.codes(), "notes": r.resident.notes }),
    };
    audit(
        store,
        clock,
        &p.actor(),
        &format!("reveal_{}", field.code()),
        (key.street, "resident", &key.to_string()),
        "",
        address,
    )
    .await?;
    Ok(value)
}

/// Writes an audit event for a caller's change.
pub async fn record(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    action: &str,
    target: Target<'_>,
    detail: &str,
    address: &str,
) -> Result<(), StoreError> {
    audit(store, clock, &p.actor(), action, target, detail, address).await
}

/// A new unguessable link for a household (printable as a QR): `STREET.TOKEN`.
pub async fn create_household_link(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    household: Key,
) -> Result<String, AuthError> {
    let place = place_of(store, "household", household).await?;
    authorize(p, clock, Action::ManageHouseholdLinks, &place)?;
    // A link shows the members' codes: a household whose members were all
    // purged (or that has none) would open onto an empty page.
    let members = store
        .residents(&gw_store::registry::ResidentFilter {
            street: Some(household.street),
            household: Some(household.id),
            limit: 100,
            ..Default::default()
        })
        .await?;
    if !members.iter().any(|r| r.status != "purged") {
        return Err(AuthError::Invalid(format!(
            "户 {household} 没有可显示个人码的成员（无人登记或资料已清除）/ household {household} has nobody whose code a link could show (no members, or their data was purged)"
        )));
    }
    let token = format!("{}.{}", household.street, random_token());
    store
        .create_household_link(
            household.street,
            household.id,
            &token_hash(&token),
            &p.actor(),
            clock.now_ms(),
        )
        .await?;
    audit(
        store,
        clock,
        &p.actor(),
        "create_household_link",
        (household.street, "household", &household.to_string()),
        "",
        "",
    )
    .await?;
    Ok(token)
}

pub async fn revoke_household_links(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    household: Key,
) -> Result<u64, AuthError> {
    let place = place_of(store, "household", household).await?;
    authorize(p, clock, Action::ManageHouseholdLinks, &place)?;
    let n = store
        .revoke_household_links(household.street, household.id, clock.now_ms())
        .await?;
    audit(
        store,
        clock,
        &p.actor(),
        "revoke_household_links",
        (household.street, "household", &household.to_string()),
        &format!("links={n}"),
        "",
    )
    .await?;
    Ok(n)
}

/// The household a link opens, if the link is live.
pub async fn open_household_link(store: &Store, token: &str) -> Result<Option<Key>, StoreError> {
    let Some((street, _)) = token.split_once('.') else {
        return Ok(None);
    };
    let Ok(street) = street.parse::<i64>() else {
        return Ok(None);
    };
    Ok(store
        .household_of_link(street, &token_hash(token))
        .await?
        .map(|id| Key { street, id }))
}

/// What a purge did, and what it could not do to the database's files.
#[derive(Debug, Clone)]
pub struct Purged {
    pub counts: gw_store::access::PurgeCounts,
    /// Empty when the files were rewritten without what was cleared.
    pub gaps: Vec<gw_store::access::FileGap>,
    pub backend: gw_store::Backend,
}

impl Purged {
    /// How many residents changed on or after `before` (the date as the
    /// operator gave it) still hold personal data, `中文 / English`; `None`
    /// when nobody does.
    pub fn kept_text(&self, before: &str) -> Option<String> {
        let n = self.counts.residents_kept;
        (n > 0).then(|| format!(
            "仍有 {n} 名居民在 {before} 当天或之后有变更，个人信息未清除：要清除他们，请用更晚的日期再运行一次 / {n} residents changed on or after {before} still hold personal data: purge again with a later date to clear them"
        ))
    }

    /// What the files now hold, `中文 / English`.
    pub fn files_text(&self) -> &'static str {
        match self.backend {
            gw_store::Backend::Sqlite => "数据库文件已重写：清除的内容已被覆盖，文件已压缩（VACUUM），WAL 文件已清空 / the database file was rewritten: what was cleared is overwritten, the file compacted (VACUUM) and its WAL file emptied",
            gw_store::Backend::Postgres => "存放个人信息的表已重写（VACUUM FULL），删除的旧行已不在表文件中 / the tables that held personal data were rewritten (VACUUM FULL): deleted rows are gone from their files",
        }
    }

    /// What this software cannot reach, `中文 / English`: the operator's to do.
    pub fn beyond_reach_text(&self) -> String {
        let (zh, en) = match self.backend {
            gw_store::Backend::Sqlite => ("", ""),
            gw_store::Backend::Postgres => (
                "PostgreSQL 的 WAL 日志及其归档、备库；",
                "the PostgreSQL WAL with its archives and standbys; ",
            ),
        };
        format!(
            "本软件清除不到，请按规定另行处理：{zh}数据库的备份和副本；此前导出的名册和导入时生成的报告文件（*.report.xlsx）；磁盘上已释放但未覆写的空间 / beyond this software's reach, to be dealt with as your rules require: {en}backups and copies of the database; rosters exported and import reports (*.report.xlsx) written earlier; disk space freed but not overwritten"
        )
    }

    /// What could not be done and how to finish, `中文 / English`; `None`
    /// when the files hold nothing of what was cleared.
    pub fn gaps_text(&self) -> Option<String> {
        if self.gaps.is_empty() {
            return None;
        }
        let mut lines: Vec<String> = self.gaps.iter().map(|g| g.to_string()).collect();
        lines.push("记录已清除；解决上述问题后（例如停止使用此数据库的其他进程，如 gridwarden serve），再运行一次同样的 purge 命令即可完成 / the rows are cleared; once the above is resolved (other processes using this database, such as gridwarden serve, stopped), run the same purge command again to finish".into());
        Some(lines.join("\n"))
    }
}

/// Anonymises personal data last changed before `before_ms` (audited),
/// then rewrites the database's files so the cleared values are gone from
/// their bytes too ([`Store::scrub_files`]).
pub async fn purge(
    store: &Store,
    clock: &Clock,
    actor: &str,
    before_ms: i64,
) -> Result<Purged, StoreError> {
    let c = store.purge_before(before_ms, clock.now_ms()).await?;
    let detail = format!(
        "before_ms={before_ms} residents={} phones={} documents={} household_links={} control_reasons={} scanned_codes={} exemption_reasons={} transporters={} supply_receivers={} audit_reasons={} residents_kept={}",
        c.residents, c.phones, c.documents, c.household_links, c.control_reasons, c.scanned_codes, c.exemption_reasons, c.transporters, c.supply_receivers, c.audit_reasons, c.residents_kept
    );
    audit(store, clock, actor, "purge", (0, "city", "0"), &detail, "").await?;
    let gaps = store.scrub_files().await?;
    Ok(Purged {
        counts: c,
        gaps,
        backend: store.backend(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn only_the_console_operator_is_recorded_as_cli() {
        assert_eq!(Principal::operator("cli:root").actor(), "cli:root");
        let account = Principal {
            user_id: 7,
            ..Principal::operator("cli:root")
        };
        assert_eq!(account.actor(), "user:cli:root");
    }
    #[test]
    fn passwords_hash_and_verify() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("wrong", &h));
        assert!(!verify_password("x", "not a hash"));
        assert!(check_new_password("short").is_err());
    }
    #[test]
    fn tokens_are_long_distinct_and_hashed() {
        let a = random_token();
        assert_eq!(a.len(), 48);
        assert_ne!(a, random_token());
        assert_eq!(token_hash(&a).len(), 64);
        assert_ne!(token_hash(&a), a);
    }
}
