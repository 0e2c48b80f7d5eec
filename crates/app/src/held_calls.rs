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
//! result's: [`tell_alerts`]), right after the order's own transaction.
//!
//! The notice is durable (an outbox mark): the order's own insert marks it
//! as owing its notice (`control_order.notice_due`, set for a status that
//! keeps people at home), and the mark is cleared once the notice is queued
//! (or there was nothing to tell). An order still marked a while after it
//! was set ([`SWEEP_GRACE_MS`]: the server died between the order's commit
//! and its notice, or the notice failed, `notice_failed`) is told by the
//! server's sweep ([`sweep`], at start and every minute: [`start_sweeper`]).
//! The sweep never tells twice: a round whose held notice of the same order
//! (its audit record's `order=STREET-ID`, or `alert=…` naming the alert) is
//! queued already names nothing again, and a notice is queued with its
//! audit record in one transaction.

use std::collections::{BTreeMap, BTreeSet};

use gw_domain::ids::Key;
use gw_domain::notify;
use gw_domain::schedule::hhmm;
use gw_domain::territory::{ControlOrder, ControlStatus, ControlTarget};
use gw_store::alerts::{CallDownMessage, PushOutcome};
use gw_store::audit::AuditWrite;
use gw_store::{Store, StoreError};
use serde::Serialize;

use crate::access::Principal;
use crate::Clock;

/// How long after an order was set the sweep leaves it to the request that
/// set it (which tells the groups and clears the mark itself).
pub const SWEEP_GRACE_MS: i64 = 30_000;

/// How often the server's sweep runs ([`start_sweeper`]).
pub const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// The actor of the audit records of the notices the sweep tells.
pub const SWEEP_ACTOR: &str = "system";

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
    /// stands, still owing its notice, which the server's sweep tells
    /// within minutes ([`sweep`]).
    pub notice_failed: bool,
    /// A round's plan was made again at every try: not told there yet (the
    /// order keeps owing its notice).
    #[serde(skip)]
    pub unsettled: bool,
}

impl Told {
    /// Told, or nothing to tell: the orders owe no notice any more.
    pub fn settled(&self) -> bool {
        !self.notice_failed && !self.unsettled
    }
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
    /// Told again by the sweep: what a notice of the same source (the same
    /// order, or one of the same alerts) named in a round already is left
    /// out there.
    pub again: bool,
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
    actor: &str,
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
        let round_key = Key {
            street,
            id: round.id,
        }
        .to_string();
        let mut ids = h.ids.clone();
        // The push's own check, in its transaction: a hand-set order's
        // notice is queued once in a round (two sweeps at once).
        let (mut once, mut again) = (String::new(), true);
        if h.again {
            let named = told_before(store, h, &round_key).await?;
            ids.retain(|id| !named.contains(id));
            if ids.is_empty() {
                continue;
            }
            if h.source.starts_with("order=") {
                (once, again) = (format!("{} ", h.source), false);
            }
        }
        let mut settled = false;
        // A plan made again between the read and the write: read again.
        for _ in 0..3 {
            let Some((revision, messages, audit_detail, calls)) =
                round_notice(store, clock, h, &ids, round.id, &round.name).await?
            else {
                settled = true;
                break;
            };
            let audit = AuditWrite {
                street_id: street,
                at_ms: clock.now_ms(),
                actor,
                action: HELD_ACTION,
                target_kind: "round",
                target_id: &round_key,
                detail: &audit_detail,
                address,
            };
            settled = true;
            match store
                .push_call_down(round.id, Some(revision), &once, again, &messages, &audit)
                .await?
            {
                PushOutcome::Queued(n) => {
                    told.calls_held += calls;
                    told.messages += n;
                    groups.extend(messages.iter().map(|m| m.channel));
                    break;
                }
                PushOutcome::PlanChanged(_) => {
                    settled = false;
                    continue;
                }
                // No active channel: held, but no group to tell.
                PushOutcome::NoChannel => {
                    told.calls_held += calls;
                    break;
                }
                // Sampling closed meanwhile: nobody is called any more; or
                // this order's notice was queued here meanwhile.
                _ => break,
            }
        }
        if !settled {
            tracing::warn!(source = %h.source, round = %round_key, "held-call notice not queued: the plan was made again at every try (told again by the sweep)");
            told.unsettled = true;
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
/// failure is logged and said (`notice_failed`): the results stand, and
/// their orders keep owing the notice, which the sweep tells ([`sweep`]);
/// told, their mark is cleared.
pub(crate) async fn tell_alerts(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    street: i64,
    alert_ids: &[i64],
    households: &[i64],
    before: Result<BTreeMap<(String, i64), ControlOrder>, StoreError>,
) -> Told {
    if households.is_empty() {
        return Told::default();
    }
    let alerts: Vec<String> = alert_ids
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
                again: false,
            };
            tell(store, clock, &p.actor(), &held, "").await
        }
    };
    let told = told.unwrap_or_else(|e| {
        tracing::error!(alerts = %alerts.join(","), error = %e, "results stored; the held-call notice of their temporary control was not queued (told again by the server within minutes)");
        Told {
            notice_failed: true,
            ..Default::default()
        }
    });
    if told.settled() {
        match store.alert_notice_due(street, alert_ids, households).await {
            Ok(ids) => clear(store, street, &ids).await,
            Err(e) => {
                tracing::warn!(alerts = %alerts.join(","), error = %e, "held-call notice told; its orders' mark not cleared (the sweep finds it told)");
            }
        }
    }
    told
}

/// Clears the mark of orders whose notice is told (see the module's
/// text); a failure is logged: the sweep finds the notice told and clears
/// it then.
pub(crate) async fn clear(store: &Store, street: i64, orders: &[i64]) {
    if let Err(e) = store.clear_notice_due(street, orders).await {
        tracing::warn!(street, orders = ?orders, error = %e, "held-call notice told; the orders' mark not cleared (the sweep finds it told)");
    }
}

/// The ids of the places (of `h.target`'s kind) that a held notice of the
/// same source named in a round already: of the same order, or naming one
/// of the same alerts.
async fn told_before(
    store: &Store,
    h: &Held<'_>,
    round_key: &str,
) -> Result<BTreeSet<i64>, StoreError> {
    let source = |s: &str| -> Option<(String, BTreeSet<String>)> {
        let (kind, list) = s.split_once('=')?;
        Some((
            kind.to_string(),
            list.split(',').map(str::to_string).collect(),
        ))
    };
    let Some((kind, ours)) = source(&h.source) else {
        return Ok(BTreeSet::new());
    };
    let named_kind = format!("{}=", h.target.code());
    let mut out = BTreeSet::new();
    for d in store
        .audit_details(h.street, HELD_ACTION, "round", round_key)
        .await?
    {
        let mut tokens = d.split(' ');
        let Some((k, theirs)) = tokens.next().and_then(source) else {
            continue;
        };
        if k != kind || theirs.is_disjoint(&ours) {
            continue;
        }
        for t in tokens {
            if let Some(list) = t.strip_prefix(&named_kind) {
                out.extend(
                    list.split(',')
                        .filter_map(|k| k.parse::<Key>().ok())
                        .filter(|k| k.street == h.street)
                        .map(|k| k.id),
                );
            }
        }
    }
    Ok(out)
}

/// What one sweep did ([`sweep`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Swept {
    /// Orders found still owing their notice.
    pub orders: usize,
    /// Of those, the ones now told (or with nothing to tell), whose mark
    /// was cleared.
    pub cleared: usize,
    /// Messages queued now (none for a notice queued before).
    pub messages: usize,
    /// Orders whose notice failed again (logged; tried at the next sweep).
    pub failed: usize,
}

/// Tells the notices still owed (see the module's text): every order
/// marked and set more than [`SWEEP_GRACE_MS`] ago, one notice per hand-set
/// order and one per alert's temporary control, as the request that set
/// them would have, but for what a notice of the same order or alert named
/// already; the marks are cleared once told. Each notice is logged.
pub async fn sweep(store: &Store, clock: &Clock) -> Result<Swept, StoreError> {
    let now = clock.now_ms();
    let due = store.notice_due_orders(now - SWEEP_GRACE_MS).await?;
    let mut out = Swept {
        orders: due.len(),
        ..Default::default()
    };
    // One hand-set order, or an alert's orders: (street, order or alert) → rows.
    let mut groups: BTreeMap<(i64, bool, i64), Vec<&gw_store::control::NoticeDue>> =
        BTreeMap::new();
    for o in &due {
        let key = match o.alert_id {
            Some(a) => (o.street_id, true, a),
            None => (o.street_id, false, o.id),
        };
        groups.entry(key).or_default().push(o);
    }
    for ((street, by_alert, id), orders) in groups {
        let ids: Vec<i64> = orders.iter().map(|o| o.id).collect();
        let source = format!(
            "{}={}",
            if by_alert { "alert" } else { "order" },
            Key { street, id }
        );
        let first = orders[0];
        // Still holding (an alert's ended on its households' negative
        // retests: nothing to tell for those).
        let places: Vec<i64> = orders
            .iter()
            .filter(|o| !by_alert || o.order.until_ms.is_none_or(|u| u > now))
            .map(|o| o.target_id)
            .collect();
        let told = async {
            let before = crate::registry::controls_told(store, street, now).await?;
            let held = Held {
                source: source.clone(),
                street,
                target: first.target,
                ids: places,
                status: first.order.status,
                from_ms: orders.iter().map(|o| o.order.from_ms).min().unwrap_or(now),
                until_ms: if by_alert { None } else { first.order.until_ms },
                before: &before,
                again: true,
            };
            tell(store, clock, SWEEP_ACTOR, &held, "").await
        }
        .await;
        match told {
            Ok(t) if t.settled() => {
                if let Err(e) = store.clear_notice_due(street, &ids).await {
                    // Told: the next sweep finds it so and clears it then.
                    tracing::warn!(source = %source, error = %e, "held-call notice owed: told, mark not cleared");
                    out.failed += ids.len();
                    continue;
                }
                out.cleared += ids.len();
                out.messages += t.messages;
                if t.messages > 0 {
                    tracing::warn!(source = %source, calls_held = t.calls_held, groups_told = t.groups_told, messages = t.messages, "held-call notice owed since the order was set: told now");
                } else {
                    tracing::info!(source = %source, calls_held = t.calls_held, "held-call notice owed: told before or nothing to tell; mark cleared");
                }
            }
            Ok(_) => out.failed += ids.len(),
            Err(e) => {
                tracing::error!(source = %source, error = %e, "held-call notice owed: not queued again (tried at the next sweep)");
                out.failed += ids.len();
            }
        }
    }
    Ok(out)
}

/// Starts the sweep on the current runtime: now (notices a crash left
/// owing) and every [`SWEEP_EVERY`] after.
pub fn start_sweeper(store: Store, clock: Clock) {
    tokio::spawn(async move {
        loop {
            match sweep(&store, &clock).await {
                Ok(s) if s.orders > 0 => {
                    tracing::info!(
                        orders = s.orders,
                        cleared = s.cleared,
                        messages = s.messages,
                        failed = s.failed,
                        "held-call notice sweep"
                    );
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "held-call notice sweep"),
            }
            tokio::time::sleep(SWEEP_EVERY).await;
        }
    });
}

/// A round's notice: the plan's revision, the messages, the audit detail
/// and how many calls (no message when the street has no active channel);
/// `None` when no pushed call of the round is held.
async fn round_notice(
    store: &Store,
    clock: &Clock,
    h: &Held<'_>,
    ids: &[i64],
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
            ControlTarget::Compound => ids.iter().find(|i| **i == u.compound),
            ControlTarget::Building => ids.iter().find(|i| **i == u.building),
            ControlTarget::Unit => ids.iter().find(|i| **i == c.unit_id),
            _ => None,
        };
        let mut places: Vec<(String, i64)> = Vec::new();
        if let Some(id) = whole_unit {
            named_ids.insert(*id);
            places.push((format!("{}单元", u.unit_name), i64::from(c.people)));
        } else if h.target == ControlTarget::Household {
            for id in ids {
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
    let channels = crate::notify::active_channels(store, street).await?;
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
        for &(channel, kind) in &channels {
            messages.push(CallDownMessage {
                channel,
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
