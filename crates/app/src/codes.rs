//! Personal codes (个人码): issued and checked only by the server, with keys it
//! keeps; revoked by issuing the next generation. Format: `gw_domain::testing`.

use gw_domain::access::Action;
use gw_domain::ids::Key;
use gw_domain::testing::{CodeError, PersonalCode};
use gw_store::{Store, StoreError};

use crate::access::{self, AuthError, Principal};
use crate::Clock;

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Code(#[from] CodeError),
    #[error("个人码已作废（已补发新码）/ this code was revoked: a newer one was issued")]
    Revoked,
    #[error("个人码对应的居民不存在 / no resident holds this code")]
    Unknown,
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .filter_map(|i| u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok())
        .collect()
}

/// The keys in service as `(id, secret)`.
pub(crate) async fn keys(store: &Store) -> Result<Vec<(u32, Vec<u8>)>, StoreError> {
    Ok(store
        .signing_keys()
        .await?
        .into_iter()
        .filter_map(|(id, s)| Some((u32::try_from(id).ok()?, unhex(&s))))
        .collect())
}

/// Retired key `id` as `(key, retired at)`, if it is one.
pub(crate) async fn retired_key(
    store: &Store,
    id: u32,
) -> Result<Option<((u32, Vec<u8>), i64)>, StoreError> {
    Ok(store
        .retired_signing_key(i64::from(id))
        .await?
        .map(|(s, at)| ((id, unhex(&s)), at)))
}

/// Adds a new signing key; codes are issued with it from now on, and codes
/// signed with older keys stay valid until those are retired.
pub async fn rotate_key(store: &Store, clock: &Clock) -> Result<i64, StoreError> {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret)
        .map_err(|e| StoreError::Other(format!("no randomness for a signing key: {e}")))?;
    store.add_signing_key(&hex(&secret), clock.now_ms()).await
}

/// The newest key in service, made on first use.
async fn current_key(store: &Store, clock: &Clock) -> Result<(u32, Vec<u8>), StoreError> {
    if let Some(k) = keys(store).await?.into_iter().next() {
        return Ok(k);
    }
    rotate_key(store, clock).await?;
    keys(store)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| StoreError::Other("signing key vanished".into()))
}

/// What a household's own link shows: the address, and each member's
/// masked name with their current personal code.
#[derive(Debug, Clone)]
pub struct HouseholdCodes {
    pub address: Option<String>,
    /// `(masked name, code text)` per member.
    pub members: Vec<(String, String)>,
}

/// The codes a household link opens (the token is the key: no login);
/// `None` for an unknown or revoked link.
pub async fn by_household_link(
    store: &Store,
    clock: &Clock,
    token: &str,
) -> Result<Option<HouseholdCodes>, StoreError> {
    let Some(k) = crate::access::open_household_link(store, token).await? else {
        return Ok(None);
    };
    let rows = store
        .residents(&gw_store::registry::ResidentFilter {
            street: Some(k.street),
            household: Some(k.id),
            limit: 100,
            ..Default::default()
        })
        .await?;
    let mut members = Vec::with_capacity(rows.len());
    // A purged member has no code any more.
    for r in rows.iter().filter(|r| r.status != "purged") {
        let code = code_for(
            store,
            clock,
            Key {
                street: r.street_id,
                id: r.id,
            },
        )
        .await?;
        members.push((gw_domain::mask::name(&r.resident.name), code.text()));
    }
    Ok(Some(HouseholdCodes {
        address: rows.first().and_then(crate::registry::address_text),
        members,
    }))
}

/// The current code of a resident (no authorisation: callers check it).
pub async fn code_for(
    store: &Store,
    clock: &Clock,
    resident: Key,
) -> Result<PersonalCode, StoreError> {
    let (uid, generation) = store.code_identity(resident.street, resident.id).await?;
    let (key_id, secret) = current_key(store, clock).await?;
    Ok(PersonalCode::issue(
        key_id,
        &secret,
        resident.street,
        &uid,
        u32::try_from(generation).unwrap_or(0),
    ))
}

/// A resident's code, for a caller who may read that resident.
pub async fn show(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    resident: Key,
) -> Result<PersonalCode, AuthError> {
    let place = access::place_of(store, "resident", resident).await?;
    access::authorize(p, clock, Action::ReadRegistry, &place)?;
    Ok(code_for(store, clock, resident).await?)
}

/// Revokes a lost code and issues the next one; audited.
pub async fn reissue(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    resident: Key,
) -> Result<PersonalCode, AuthError> {
    let place = access::place_of(store, "resident", resident).await?;
    access::authorize(p, clock, Action::WriteRegistry, &place)?;
    let audit = access::audit_record(
        clock,
        p,
        "reissue_code",
        (resident.street, "resident", &resident.to_string()),
        "",
    );
    store
        .bump_code_generation(resident.street, resident.id, clock.now_ms(), |g| {
            audit.with_detail(format!("generation={g}"))
        })
        .await?;
    Ok(code_for(store, clock, resident).await?)
}

/// Whose code this is: the signature must hold under a key in service and
/// the generation must be the resident's current one.
pub async fn verify(store: &Store, text: &str) -> Result<Key, VerifyError> {
    match owner(store, text).await? {
        (k, true) => Ok(k),
        (_, false) => Err(VerifyError::Revoked),
    }
}

/// Whose code this is, current or not: the signature must hold under a key
/// in service; `true` when its generation is the resident's current one.
async fn owner(store: &Store, text: &str) -> Result<(Key, bool), VerifyError> {
    let code = PersonalCode::decode(text)?;
    code.verify(&keys(store).await?)?;
    let (id, generation) = store
        .resident_by_uid(code.street, &code.uid.to_lowercase())
        .await?
        .ok_or(VerifyError::Unknown)?;
    Ok((
        Key {
            street: code.street,
            id,
        },
        i64::from(code.generation) == generation,
    ))
}

/// The resident a revoked code was issued to (its signature good, a newer
/// code issued since): whoever gave a swab with it most likely holds that
/// resident's old printed sheet. None for any other text.
pub async fn former_owner(store: &Store, text: &str) -> Result<Option<Key>, StoreError> {
    match owner(store, text).await {
        Ok((k, false)) => Ok(Some(k)),
        Ok((_, true)) => Ok(None),
        Err(VerifyError::Store(e)) => Err(e),
        Err(_) => Ok(None),
    }
}
