//! Calls held back (暂停下楼). A call-down pushed to the groups tells a unit
//! to come down in a slot; when an order that keeps people at home (封控 or
//! 临时管控: [`ControlStatus::door_to_door_only`]) is set on its compound,
//! building, unit or one of its households before that slot ends, the same
//! groups are told to stay home: one message per channel and per call (a
//! point's slot) that named the place, in each channel's format, expiring at
//! the slot's end. Worked out from the stored rows: the plan's calls, the
//! pushes' audit records ([`gw_store::alerts::PUSH_ACTION`]) and the round's
//! households. A hand-set order tells them ([`crate::registry::set_control`]),
//! and so does the temporary control an alert places on its members'
//! households (an abnormal pool's, a confirmed positive's, a corrected
//! result's: [`tell_alerts`]), right after the order's own transaction: the
//! order stands whether or not the notice could be queued.

use std::collections::{BTreeMap, BTreeSet};

use gw_domain::ids::Key;
use gw_domain::notify::{self, ChannelKind};
use gw_domain::schedule::hhmm;
use gw_domain::territory::{ControlOrder, ControlStatus, ControlTarget};
use gw_store::alerts::{CallDownMessage, PushOutcome};
use gw_store::audit::AuditWrite;
use gw_store::{Store, StoreError};
use serde::Serialize;

use crate::access::Principal;
use crate::Clock;

/// The action of a held notice's audit record (on the round; its detail
/// names the order, the place and the slots by id and time only).
pub const HELD_ACTION: &str = "call_held";

/// What a control order told the groups.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Told {
    /// Pushed calls (a point's slot) that named the place held.
    pub calls_held: usize,
    /// Group robots (channels) told to stay home.
    pub groups_told: usize,
    /// Messages queued (one per channel and call): added to the answer's
    /// `notifications`, not said apart.
    #[serde(skip)]
    pub messages: usize,
    /// The notice could not be worked out or queued (logged): the order
    /// stands, the groups were not told.
    pub notice_failed: bool,
}

/// The orders just set, as the notice needs them: one hand-set order on one
/// place, or an alert's temporary control on its members' households (an
/// abnormal pool's, a confirmed positive's).
pub(crate) struct Held<'a> {
    /// What set them, for the audit record: `order=STREET-ID` or
    /// `alert=STREET-ID`.
    pub source: String,
    pub street: i64,
    pub target: ControlTarget,
    /// The places of `target`'s kind the orders hold (ids in `street`).
    pub ids: Vec<i64>,
    pub status: ControlStatus,
    pub from_ms: i64,
    pub until_ms: Option<i64>,
    /// The orders in force before these (see
    /// [`crate::registry::controls_in_force`]): a place held already was
    /// either never called or told then.
    pub before: &'a BTreeMap<(String, i64), ControlOrder>,
}

/// Where one call's unit lies, and its households (id → room, people).
struct UnitInfo {
    compound: i64,
    building: i64,
    building_name: String,
    unit_name: String,
    households: BTreeMap<i64, (String, i64)>,
}

/// Tells the groups of every pushed, unended call that the order holds
/// (see the module's text): for each sampling round of the street, the
/// messages and the audit record are queued in one transaction that finds
/// the round still sampling and its plan unchanged (the push's own writer,
/// [`Store::push_call_down`], asked `again`).
pub(crate) async fn tell(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    h: &Held<'_>,
    address: &str,
) -> Result<Told, StoreError> {
    let mut told = Told::default();
    if !h.status.door_to_door_only() || h.ids.is_empty() {
        return Ok(told);
    }
    let street = h.street;
    let mut groups = BTreeSet::new();
    for round in store.rounds(street).await? {
        if round.state != "planned" && round.state != "open" {
            continue;
        }
        // A plan made again between the read and the write: read again.
        for _ in 0..3 {
            let Some((revision, messages, audit_detail, calls)) =
                round_notice(store, clock, h, round.id, &round.name).await?
            else {
                break;
            };
            let round_key = Key {
                street,
                id: round.id,
            }
            .to_string();
            let actor = p.actor();
            let audit = AuditWrite {
                street_id: street,
                at_ms: clock.now_ms(),
                actor: &actor,
                action: HELD_ACTION,
                target_kind: "round",
                target_id: &round_key,
                detail: &audit_detail,
                address,
            };
            match store
                .push_call_down(round.id, Some(revision), "", true, &messages, &audit)
                .await?
            {
                PushOutcome::Queued(n) => {
                    told.calls_held += calls;
                    told.messages += n;
                    groups.extend(messages.iter().map(|m| m.channel));
                    break;
                }
                PushOutcome::PlanChanged(_) => continue,
                // No active channel: held, but no group to tell.
                PushOutcome::NoChannel => {
                    told.calls_held += calls;
                    break;
                }
                // Sampling closed meanwhile: nobody is called any more.
                _ => break,
            }
        }
    }
    told.groups_told = groups.len();
    Ok(told)
}

/// Tells the groups of the pushed calls that the temporary control the
/// results' alerts (`alerts`) just placed on `households` holds, as a
/// hand-set order does ([`tell`]): one message per channel and call, naming
/// every such household called in it by unit and room. `before` is what held
/// people at home before the results were stored (its error is the notice's
/// failure); a household held already was never called or was told then. A
/// failure is logged and said (`notice_failed`): the results stand.
pub(crate) async fn tell_alerts(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    street: i64,
    alerts: &[i64],
    households: &[i64],
    before: Result<BTreeMap<(String, i64), ControlOrder>, StoreError>,
) -> Told {
    if households.is_empty() {
        return Told::default();
    }
    let alerts: Vec<String> = alerts
        .iter()
        .map(|id| Key { street, id: *id }.to_string())
        .collect();
    let told = match before {
        Err(e) => Err(e),
        Ok(before) => {
            let held = Held {
                source: format!("alert={}", alerts.join(",")),
                street,
                target: ControlTarget::Household,
                ids: households.to_vec(),
                status: ControlStatus::Temporary,
                from_ms: clock.now_ms(),
                until_ms: None,
                before: &before,
            };
            tell(store, clock, p, &held, "").await
        }
    };
    told.unwrap_or_else(|e| {
        tracing::error!(alerts = %alerts.join(","), error = %e, "results stored; the held-call notice of their temporary control was not queued");
        Told {
            notice_failed: true,
            ..Default::default()
        }
    })
}

/// A round's notice: the plan's revision, the messages, the audit detail
/// and how many calls (no message when the street has no active channel);
/// `None` when no pushed call of the round is held.
async fn round_notice(
    store: &Store,
    clock: &Clock,
    h: &Held<'_>,
    round: i64,
    round_name: &str,
) -> Result<Option<(i32, Vec<CallDownMessage>, String, usize)>, StoreError> {
    let street = h.street;
    let now = clock.now_ms();
    let Some(plan) = store.schedule_plan(street, round).await? else {
        return Ok(None);
    };
    let pushed = store.pushed_slots(street, round).await?;
    // Pushed calls still to end, that the order covers in time.
    let calls: Vec<_> = store
        .schedule_calls(street, round)
        .await?
        .into_iter()
        .filter(|c| pushed.contains(&c.starts_ms))
        .filter(|c| c.ends_ms > now && c.ends_ms > h.from_ms)
        .filter(|c| h.until_ms.is_none_or(|u| u > c.starts_ms))
        .collect();
    if calls.is_empty() {
        return Ok(None);
    }
    let homebound = i64::from(gw_domain::resident::Flag::CannotGoDownstairs.bit());
    let mut units: BTreeMap<i64, UnitInfo> = BTreeMap::new();
    for r in store.schedule_households(street, round, homebound).await? {
        units
            .entry(r.unit_id)
            .or_insert_with(|| UnitInfo {
                compound: r.compound_id,
                building: r.building_id,
                building_name: r.building.clone(),
                unit_name: r.unit.clone(),
                households: BTreeMap::new(),
            })
            .households
            .insert(r.household_id, (r.room, r.people));
    }
    let held = |kind: &str, id: i64| {
        h.before
            .get(&(kind.to_string(), id))
            .is_some_and(|o| o.status.door_to_door_only())
    };
    // (point, starts, ends) → building → (building name, unit or room texts, people)
    type Places = BTreeMap<i64, (String, Vec<String>, i64)>;
    let mut affected: BTreeMap<(i64, i64, i64), Places> = BTreeMap::new();
    // Households named in each call's message, and every place named.
    let mut households_in: BTreeMap<(i64, i64, i64), BTreeSet<i64>> = BTreeMap::new();
    let mut named_ids: BTreeSet<i64> = BTreeSet::new();
    for c in &calls {
        let Some(u) = units.get(&c.unit_id) else {
            continue;
        };
        if held("compound", u.compound) || held("building", u.building) || held("unit", c.unit_id) {
            continue;
        }
        let whole_unit = match h.target {
            ControlTarget::Compound => h.ids.iter().find(|i| **i == u.compound),
            ControlTarget::Building => h.ids.iter().find(|i| **i == u.building),
            ControlTarget::Unit => h.ids.iter().find(|i| **i == c.unit_id),
            _ => None,
        };
        let mut places: Vec<(String, i64)> = Vec::new();
        if let Some(id) = whole_unit {
            named_ids.insert(*id);
            places.push((format!("{}单元", u.unit_name), i64::from(c.people)));
        } else if h.target == ControlTarget::Household {
            for id in &h.ids {
                match u.households.get(id) {
                    // Told by its room only: no names.
                    Some((room, people)) if *people > 0 && !held("household", *id) => {
                        named_ids.insert(*id);
                        households_in
                            .entry((c.point_id, c.starts_ms, c.ends_ms))
                            .or_default()
                            .insert(*id);
                        places.push((format!("{}单元 {room}室", u.unit_name), *people));
                    }
                    _ => {}
                }
            }
        }
        for (place, people) in places {
            let e = affected
                .entry((c.point_id, c.starts_ms, c.ends_ms))
                .or_default()
                .entry(u.building)
                .or_insert_with(|| (u.building_name.clone(), Vec::new(), 0));
            if !e.1.contains(&place) {
                e.1.push(place);
            }
            e.2 += people;
        }
    }
    if affected.is_empty() {
        return Ok(None);
    }
    let points: BTreeMap<i64, String> = store
        .schedule_points(street, round)
        .await?
        .into_iter()
        .map(|p| (p.id, p.name))
        .collect();
    let channels: Vec<_> = store
        .channels(street)
        .await?
        .into_iter()
        .filter(|c| c.active)
        .collect();
    let status = match h.status {
        ControlStatus::Sealed => "封控",
        _ => "临时管控",
    };
    let mut messages = Vec::new();
    for (call @ (point, starts, ends), places) in &affected {
        let households = households_in.get(call).map_or(0, BTreeSet::len);
        let who = match households {
            0 => "请留在家中",
            1 => "请该户留在家中",
            _ => "请以上各户留在家中",
        };
        let point_name = points.get(point).cloned().unwrap_or_default();
        let named: Vec<String> = places
            .values()
            .map(|(b, us, _)| format!("{b} {}", us.join("、")))
            .collect();
        let text = format!(
            "【暂停下楼】{round_name} · 采样点「{point_name}」{}–{} 叫号中的 {} 现已{status}：{who}，等待入户采样，不要下楼。",
            hhmm(*starts),
            hhmm(*ends),
            named.join("；"),
        );
        let facts = notify::AlertFacts {
            kind: HELD_ACTION.into(),
            round: round_name.to_string(),
            point: point_name.clone(),
            barcode: String::new(),
            members: usize::try_from(places.values().map(|p| p.2).sum::<i64>()).unwrap_or(0),
            households,
            at_ms: *starts,
        };
        for ch in &channels {
            let kind = ChannelKind::parse(&ch.kind).unwrap_or(ChannelKind::Json);
            messages.push(CallDownMessage {
                channel: ch.id,
                body: notify::body(kind, &text, &facts),
                expires_ms: *ends,
                kind: "call_held",
            });
        }
    }
    let slots: BTreeSet<i64> = affected.keys().map(|(_, s, _)| *s).collect();
    let slots: Vec<String> = slots.iter().map(i64::to_string).collect();
    let named: Vec<String> = named_ids
        .iter()
        .map(|id| Key { street, id: *id }.to_string())
        .collect();
    let detail = format!(
        "{} {}={} slots={} messages={}",
        h.source,
        h.target.code(),
        named.join(","),
        slots.join(","),
        messages.len()
    );
    Ok(Some((plan.revision, messages, detail, affected.len())))
}
