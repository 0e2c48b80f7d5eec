//! Scanning stations (device tokens): a laptop or phone at one testing point
//! for one round. The point's manager issues a one-time enrolment code
//! (printable as a QR); the station exchanges it once for a bearer token,
//! shown once and stored hashed. The token acts as a volunteer granted on that
//! point only, so it goes through the same authorisation as everyone.
//! Revoked or expired, it is refused with 401: the station keeps its queued
//! scans and replays them, exactly once, after enrolling again (after the
//! round's grace, for [`LATE_UPLOAD_MS`]).

use gw_domain::access::{Action, Grant, Node, Role};
use gw_domain::ids::Key;
use gw_store::testing::StationRow;
use gw_store::{Store, StoreError};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::access::{self, random_token, token_hash, AuthError, Principal};
use crate::Clock;

/// A token stays valid this long after its round's window ends.
pub const GRACE_MS: i64 = 24 * 3_600_000;

/// A token issued after that grace is valid this long: for a station to
/// upload the scans it still holds (its swabs are physically in tubes, so
/// they are stored, flagged as taken outside the round's state).
pub const LATE_UPLOAD_MS: i64 = 2 * 3_600_000;

#[derive(Debug, Clone, Serialize)]
pub struct Issued {
    pub station: String,
    /// One-time: shown once, exchanged once at `POST /api/v1/enroll`.
    pub enroll_code: String,
    pub expires_ms: i64,
}

pub async fn issue(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    point: Key,
    label: &str,
) -> Result<Issued, AuthError> {
    let pt = store.point(point.street, point.id).await?;
    let place = crate::testing::point_place(store, &pt).await?;
    access::authorize(p, clock, Action::ManageStations, &place)?;
    let round = store.round(point.street, pt.round_id).await?;
    if round.state == gw_domain::testing::CANCELLED {
        return Err(StoreError::Conflict(format!(
            "轮次 {}-{} 已取消，不再发扫码设备 / round {}-{} was cancelled: no stations",
            point.street, pt.round_id, point.street, pt.round_id
        ))
        .into());
    }
    // Over (and past its grace): a short token, so a station that still holds
    // scans of the round can upload them.
    let late = round.ends_ms + GRACE_MS <= clock.now_ms();
    let expires = if late {
        clock.now_ms() + LATE_UPLOAD_MS
    } else {
        round.ends_ms + GRACE_MS
    };
    let code = format!("en.{}.{}", point.street, random_token());
    let label = if label.trim().is_empty() {
        format!("{}-station", pt.name)
    } else {
        label.trim().to_string()
    };
    let audit = access::audit_record(clock, p, "issue_station", (point.street, "station", ""), "");
    let station = |id: i64| Key {
        street: point.street,
        id,
    };
    let id = store
        .create_station(
            point.street,
            pt.id,
            pt.round_id,
            &label,
            &token_hash(&code),
            &p.actor(),
            clock.now_ms(),
            expires,
            |id| gw_store::audit::AuditRecord {
                target_id: station(id).to_string(),
                ..audit.with_detail(format!(
                    "point={point}{}",
                    if late { " late_upload" } else { "" }
                ))
            },
        )
        .await?;
    let k = station(id);
    Ok(Issued {
        station: k.to_string(),
        enroll_code: code,
        expires_ms: expires,
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct Enrolled {
    pub station: String,
    /// The bearer token: shown once.
    pub token: String,
    pub point: String,
    pub round: String,
    pub expires_ms: i64,
    /// For the station's screen: the point's and round's names, the pool size.
    pub point_name: String,
    pub round_name: String,
    pub pool_size: i32,
    /// Swabs registered at the point so far: the station's 本点已采人次 from
    /// the start (each scan's answer then carries it on).
    pub point_count: i64,
    /// The street's tube barcode rule, so the station checks a tube offline too.
    pub tube_min_len: usize,
    pub tube_max_len: usize,
    /// `none` or `luhn`.
    pub tube_check: &'static str,
}

/// Exchanges a one-time code for the station's token.
pub async fn enroll(
    store: &Store,
    clock: &Clock,
    code: &str,
) -> Result<Option<Enrolled>, StoreError> {
    let Some(street) = code
        .strip_prefix("en.")
        .and_then(|r| r.split('.').next())
        .and_then(|s| s.parse::<i64>().ok())
    else {
        return Ok(None);
    };
    let token = format!("st.{street}.{}", random_token());
    let Some(id) = store
        .enroll_station(
            street,
            &token_hash(code),
            &token_hash(&token),
            clock.now_ms(),
        )
        .await?
    else {
        return Ok(None);
    };
    let st = store.station(street, id).await?;
    let point = store.point(street, st.point_id).await?;
    let round = store.round(street, st.round_id).await?;
    let rule = crate::testing::settings_of(store, street).await?.tube;
    let point_count = store
        .points_with_counts(street, st.round_id)
        .await?
        .into_iter()
        .find(|(p, _)| p.id == st.point_id)
        .map_or(0, |(_, n)| n);
    Ok(Some(Enrolled {
        station: Key { street, id }.to_string(),
        token,
        point: Key {
            street,
            id: st.point_id,
        }
        .to_string(),
        round: Key {
            street,
            id: st.round_id,
        }
        .to_string(),
        expires_ms: st.expires_ms,
        point_name: point.name,
        round_name: round.name,
        pool_size: round.pool_size,
        point_count,
        tube_min_len: rule.min_len,
        tube_max_len: rule.max_len,
        tube_check: rule.check_name(),
    }))
}

/// Whether a bearer token is a station's.
pub fn is_station_token(token: &str) -> bool {
    token.starts_with("st.")
}

/// How long a server keeps a station token it has checked: a station
/// revoked through this server stops at once (its cache is cleared); one
/// revoked by another process (the CLI, another server) within this time.
pub const STATION_CACHE_MS: i64 = 5_000;

/// Stations whose tokens a server has checked, by token hash: a scan does not
/// read the station's row again while it is fresh.
#[derive(Clone, Debug, Default)]
pub struct StationCache(Arc<Mutex<HashMap<String, (i64, StationRow)>>>);

/// More stations than any street has: past it the cache starts again.
const STATION_CACHE_MAX: usize = 10_000;

impl StationCache {
    /// Forgets every station (after a revocation).
    pub fn clear(&self) {
        if let Ok(mut m) = self.0.lock() {
            m.clear();
        }
    }

    fn get(&self, hash: &str, now_ms: i64) -> Option<StationRow> {
        let m = self.0.lock().ok()?;
        let (at, st) = m.get(hash)?;
        (now_ms >= *at && now_ms - at < STATION_CACHE_MS).then(|| st.clone())
    }

    fn put(&self, hash: String, now_ms: i64, st: StationRow) {
        if let Ok(mut m) = self.0.lock() {
            if m.len() >= STATION_CACHE_MAX {
                m.clear();
            }
            m.insert(hash, (now_ms, st));
        }
    }
}

/// The station behind a token, as a principal holding one scan grant on its
/// point. Expiry and revocation are checked at every call, from the cached row.
/// What a station's token is worth now.
#[derive(Debug)]
pub enum StationAuth {
    Valid(Principal),
    /// A station's token, revoked or past its enrolment: enrol again.
    Ended,
    /// Not a token of any station.
    Unknown,
}

pub async fn authenticate(
    store: &Store,
    clock: &Clock,
    cache: &StationCache,
    token: &str,
) -> Result<StationAuth, StoreError> {
    let Some(street) = token
        .strip_prefix("st.")
        .and_then(|r| r.split('.').next())
        .and_then(|s| s.parse::<i64>().ok())
    else {
        return Ok(StationAuth::Unknown);
    };
    let now = clock.now_ms();
    let hash = token_hash(token);
    let st = match cache.get(&hash, now) {
        Some(st) => st,
        None => match store.station_by_token(street, &hash).await? {
            Some(st) => {
                cache.put(hash, now, st.clone());
                st
            }
            None => return Ok(StationAuth::Unknown),
        },
    };
    let until = st
        .revoked_ms
        .map_or(st.expires_ms, |r| r.min(st.expires_ms));
    let grant = Grant {
        role: Role::Volunteer,
        node: Node::Point {
            street,
            id: st.point_id,
        },
        from_ms: st.created_ms,
        until_ms: Some(until),
    };
    if !grant.in_force(now) {
        return Ok(StationAuth::Ended);
    }
    Ok(StationAuth::Valid(Principal {
        user_id: 0,
        username: format!("station:{street}-{}", st.id),
        display_name: st.label,
        must_change_password: false,
        grants: vec![grant],
    }))
}

/// A station as its point's manager sees it.
#[derive(Debug, Clone, Serialize)]
pub struct StationView {
    pub station: String,
    pub label: String,
    pub created_ms: i64,
    /// When its one-time code was exchanged; none while unused.
    pub enrolled_ms: Option<i64>,
    pub expires_ms: i64,
    pub revoked_ms: Option<i64>,
    /// `waiting` (code not used yet), `active`, `revoked` or `expired`.
    pub state: &'static str,
}

/// The point's stations, newest first, for its manager (to revoke a lost one).
pub async fn list(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    point: Key,
) -> Result<Vec<StationView>, AuthError> {
    let pt = store.point(point.street, point.id).await?;
    let place = crate::testing::point_place(store, &pt).await?;
    access::authorize(p, clock, Action::ManageStations, &place)?;
    let now = clock.now_ms();
    Ok(store
        .stations_of_point(point.street, pt.id)
        .await?
        .into_iter()
        .map(|(st, enrolled_ms)| StationView {
            station: Key {
                street: st.street_id,
                id: st.id,
            }
            .to_string(),
            state: match (st.revoked_ms, enrolled_ms) {
                (Some(_), _) => "revoked",
                _ if st.expires_ms <= now => "expired",
                (None, None) => "waiting",
                (None, Some(_)) => "active",
            },
            label: st.label,
            created_ms: st.created_ms,
            enrolled_ms,
            expires_ms: st.expires_ms,
            revoked_ms: st.revoked_ms,
        })
        .collect())
}

pub async fn revoke(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    station: Key,
) -> Result<(), AuthError> {
    let st = store.station(station.street, station.id).await?;
    let pt = store.point(station.street, st.point_id).await?;
    let place = crate::testing::point_place(store, &pt).await?;
    access::authorize(p, clock, Action::ManageStations, &place)?;
    let audit = access::audit_record(
        clock,
        p,
        "revoke_station",
        (station.street, "station", &station.to_string()),
        "",
    );
    store
        .revoke_station(station.street, station.id, clock.now_ms(), &audit)
        .await?;
    Ok(())
}
