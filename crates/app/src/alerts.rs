//! Abnormal pools and what was done about each (异常处置): for every alert of a
//! round the caller may read, its members (masked, only those the caller
//! reads), their households and the control status in force on each, the
//! single-tube retest of each member and how it came back, the point's
//! disinfection task, and the messages sent to the street's alert channels
//! (for those who manage the street's rounds).

use std::collections::HashMap;

use gw_domain::access::{Action, Node};
use gw_domain::ids::Key;
use gw_domain::territory::{control_in_force, ControlTarget};
use gw_store::Store;
use serde::Serialize;

use crate::access::{AuthError, Principal};
use crate::notify::NotificationView;
use crate::testing::{AlertView, DisinfectionView};
use crate::Clock;

/// A member's household and the control status in force on it now.
#[derive(Debug, Clone, Serialize)]
pub struct HouseholdControl {
    pub household: String,
    pub address: Option<String>,
    /// `temporary`, `sealed`, …; none once the order has ended.
    pub status: Option<&'static str>,
    pub status_zh: Option<&'static str>,
}

/// One member's single-tube retest: `open` (`swabbed` once its swab is
/// registered), `cleared` (negative) or `confirmed` (abnormal).
#[derive(Debug, Clone, Serialize)]
pub struct RetestView {
    pub resident: String,
    pub state: String,
    pub resolved_ms: Option<i64>,
    /// Open, but the member is exempt from the round (in hospital …):
    /// nobody will swab them here, and the round can close.
    pub exempt: bool,
    /// Open, and the member's retest swab is registered (its result still
    /// to come): taken, nobody has to go to their door for it.
    pub swabbed: bool,
}

/// A message to a group robot about the alert, with how its delivery went.
#[derive(Debug, Clone, Serialize)]
pub struct SentView {
    pub channel_kind: String,
    #[serde(flatten)]
    pub notification: NotificationView,
}

#[derive(Debug, Clone, Serialize)]
pub struct AlertDetail {
    #[serde(flatten)]
    pub alert: AlertView,
    pub point_name: String,
    pub households: Vec<HouseholdControl>,
    pub retests: Vec<RetestView>,
    pub disinfection: Option<DisinfectionView>,
    /// The alert's point has a disinfection task the caller may not read (a
    /// grid leader's members swabbed at a point not in their grid): it
    /// exists, its state and details are the point's and the street's.
    pub disinfection_elsewhere: bool,
    /// None when the caller may not see the street's alert channels.
    pub notifications: Option<Vec<SentView>>,
}

/// Every alert of a round the caller reads members of, with what was done.
pub async fn details(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    round: Key,
) -> Result<Vec<AlertDetail>, AuthError> {
    let street = round.street;
    let alerts = crate::testing::alerts(store, clock, p, round).await?;
    if alerts.is_empty() {
        return Ok(Vec::new());
    }
    let now = clock.now_ms();
    let key = |id: i64| Key { street, id }.to_string();
    let follow_ups = store.round_follow_ups(street, round.id).await?;
    let tasks = crate::testing::disinfection_tasks(store, clock, p, round).await?;
    let all_tasks = store.disinfection_tasks(street, round.id).await?;
    let street_place = store.place_of(street, "street", street).await?;
    let sent: Option<Vec<SentView>> = if p.can(Action::ManageRounds, &street_place, now) {
        let kinds: HashMap<i64, String> = store
            .channels(street)
            .await?
            .into_iter()
            .map(|c| (c.id, c.kind))
            .collect();
        Some(
            store
                .round_notifications(street, round.id)
                .await?
                .into_iter()
                .map(|n| SentView {
                    channel_kind: kinds.get(&n.channel_id).cloned().unwrap_or_default(),
                    notification: NotificationView {
                        // First: the fields after it move out of `n`.
                        what: crate::notify::what(&n),
                        notification: key(n.id),
                        channel: key(n.channel_id),
                        alert: n.alert_id.map(key),
                        state: n.state,
                        attempts: n.attempts,
                        last_error: n.last_error,
                        created_ms: n.created_ms,
                        delivered_ms: n.delivered_ms,
                    },
                })
                .collect(),
        )
    } else {
        None
    };
    let mut point_names: HashMap<String, String> = HashMap::new();
    let mut out = Vec::new();
    for a in alerts {
        let point_name = match point_names.get(&a.point) {
            Some(n) => n.clone(),
            None => {
                let pk: Key = a
                    .point
                    .parse()
                    .map_err(|_| AuthError::Invalid(format!("bad point key {}", a.point)))?;
                let n = store.point(pk.street, pk.id).await?.name;
                point_names.insert(a.point.clone(), n.clone());
                n
            }
        };
        let mut households: Vec<HouseholdControl> = Vec::new();
        for m in &a.members {
            let Some(h) = m.household.as_deref() else {
                continue;
            };
            if households.iter().any(|x| x.household == h) {
                continue;
            }
            let Ok(hk) = h.parse::<Key>() else { continue };
            let orders: Vec<_> = store
                .control_history(hk.street, ControlTarget::Household, hk.id)
                .await?
                .into_iter()
                .map(|r| r.order)
                .collect();
            let status = control_in_force(&orders, now).map(|o| o.status);
            households.push(HouseholdControl {
                household: h.to_string(),
                address: m.address.clone(),
                status: status.map(|s| s.code()),
                status_zh: status.map(|s| s.label_zh()),
            });
        }
        let alert_id: Option<i64> = a.alert.parse::<Key>().ok().map(|k| k.id);
        let retests = a
            .members
            .iter()
            .filter_map(|m| {
                let rid = m.id.parse::<Key>().ok()?.id;
                follow_ups
                    .iter()
                    .find(|f| f.kind == "retest" && f.alert_id == alert_id && f.resident_id == rid)
                    .map(|f| RetestView {
                        resident: m.id.clone(),
                        state: f.state.clone(),
                        resolved_ms: f.resolved_ms,
                        exempt: f.state == "open" && a.exempt_retest_members.contains(&rid),
                        swabbed: f.state == "open" && a.swabbed_retest_members.contains(&rid),
                    })
            })
            .collect();
        let disinfection = tasks.iter().find(|t| t.alert == a.alert).cloned();
        let disinfection_elsewhere =
            disinfection.is_none() && all_tasks.iter().any(|t| Some(t.alert_id) == alert_id);
        let notifications = sent.as_ref().map(|all| {
            all.iter()
                .filter(|n| n.notification.alert.as_deref() == Some(a.alert.as_str()))
                .cloned()
                .collect()
        });
        out.push(AlertDetail {
            alert: a,
            point_name,
            households,
            retests,
            disinfection,
            disinfection_elsewhere,
            notifications,
        });
    }
    Ok(out)
}

/// A round's disinfection tasks as the caller may read them, and how many
/// more (not withdrawn) it has at points outside the caller's area.
#[derive(Debug, Clone, Serialize)]
pub struct RoundDisinfection {
    pub tasks: Vec<DisinfectionView>,
    /// Counted for those who hold a grant in the round's street, never
    /// named: a grid leader whose people were swabbed at another
    /// community's point learns the task exists, not where or how it stands.
    pub elsewhere: usize,
}

/// The round's disinfection tasks at the points the caller manages or
/// reads, and the count of the others.
pub async fn round_disinfection(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    round: Key,
) -> Result<RoundDisinfection, AuthError> {
    let tasks = crate::testing::disinfection_tasks(store, clock, p, round).await?;
    let now = clock.now_ms();
    let street_place = store.place_of(round.street, "street", round.street).await?;
    let in_street = p.grants.iter().any(|g| {
        g.in_force(now)
            && match g.node {
                Node::Community { street, .. }
                | Node::Grid { street, .. }
                | Node::Point { street, .. } => street == round.street,
                _ => g.covers(&street_place),
            }
    });
    let elsewhere = if in_street {
        store
            .disinfection_tasks(round.street, round.id)
            .await?
            .iter()
            .filter(|t| t.state != "withdrawn")
            .filter(|t| {
                let k = Key {
                    street: round.street,
                    id: t.id,
                }
                .to_string();
                !tasks.iter().any(|v| v.task == k)
            })
            .count()
    } else {
        0
    };
    Ok(RoundDisinfection { tasks, elsewhere })
}

/// A testing point's disinfection tasks, as its own pages show them.
#[derive(Debug, Clone, Serialize)]
pub struct PointDisinfection {
    pub tasks: Vec<DisinfectionView>,
    /// Whether the caller may mark them done (manages the point's stations).
    pub may_mark_done: bool,
}

/// The disinfection tasks of one point, oldest first: for whoever works
/// there (packs, manages its stations) or reads its community. Open ones
/// are what the point must still do.
pub async fn point_disinfection(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    point: Key,
) -> Result<PointDisinfection, AuthError> {
    let pt = store.point(point.street, point.id).await?;
    let place = crate::testing::point_place(store, &pt).await?;
    let now = clock.now_ms();
    let may_mark_done = p.can(Action::ManageStations, &place, now);
    if !(may_mark_done
        || p.can(Action::Pack, &place, now)
        || p.can(Action::ReadRegistry, &place, now))
    {
        return Err(crate::access::forbidden(Action::Pack));
    }
    let tasks = store
        .disinfection_tasks(point.street, pt.round_id)
        .await?
        .into_iter()
        .filter(|t| t.point_id == point.id)
        .map(|t| DisinfectionView {
            may_mark_done,
            ..DisinfectionView::of(point.street, t)
        })
        .collect();
    Ok(PointDisinfection {
        tasks,
        may_mark_done,
    })
}
