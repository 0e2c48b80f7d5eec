//! Registry use-cases and the views lists, pages and the API show. Personal
//! data (document numbers, phones, health flags) is masked in every view by
//! default.

use gw_domain::access::{self, Grant, Node, Place, Role};
use gw_domain::date::Date;
use gw_domain::ids::Key;
use gw_domain::mask;
use gw_domain::resident::Flag;
use gw_store::registry::{ResidentFilter, ResidentRow};
use gw_store::{Store, StoreError};
use serde::Serialize;

/// Flags that are health data: masked with the rest of personal data.
pub fn is_health_flag(f: Flag) -> bool {
    matches!(f, Flag::Dialysis | Flag::ChronicTreatment | Flag::Pregnant)
}

#[derive(Debug, Clone, Serialize)]
pub struct PhoneView {
    pub number: String,
    pub relation: &'static str,
}

/// A resident as lists and pages show them (masked).
#[derive(Debug, Clone, Serialize)]
pub struct ResidentView {
    pub id: String,
    pub uid: String,
    pub status: String,
    pub name: String,
    pub gender: &'static str,
    pub age: Option<i32>,
    pub document_kind: Option<&'static str>,
    pub document_number: Option<String>,
    pub phones: Vec<PhoneView>,
    pub residence: &'static str,
    /// Operational flags (mobility, living alone, no smartphone …).
    pub flags: Vec<&'static str>,
    /// Whether health flags exist; which ones is personal data.
    pub health_flags: Option<&'static str>,
    /// Always `masked`, as `health_flags`: notes are where rosters write
    /// 怀孕30周 or 每周一三五透析, so whether someone has any is health data
    /// (a health reveal, audited, shows them).
    pub notes_present: &'static str,
    pub household: Option<String>,
    pub address: Option<String>,
    pub building: Option<String>,
    pub grid: Option<String>,
    pub community: Option<String>,
    /// Why and when a resident whose status is `left` left (`deceased`,
    /// `moved_out`; YYYY-MM-DD).
    pub left_reason: Option<String>,
    pub left_on: Option<String>,
    pub masked: bool,
}

impl ResidentView {
    /// The masked view (the default everywhere).
    pub fn masked(r: &ResidentRow, today: Date) -> ResidentView {
        let p = &r.resident;
        ResidentView {
            id: Key {
                street: r.street_id,
                id: r.id,
            }
            .to_string(),
            uid: r.uid.clone(),
            status: r.status.clone(),
            name: p.name.clone(),
            gender: p.gender.code(),
            age: p.birth_date.map(|b| b.age_on(today)),
            document_kind: p.document.as_ref().map(|d| d.kind.code()),
            document_number: p.document.as_ref().map(|d| mask::document(&d.number)),
            phones: p
                .phones
                .iter()
                .map(|ph| PhoneView {
                    number: mask::phone(ph.phone.as_str()),
                    relation: ph.relation.code(),
                })
                .collect(),
            residence: p.residence.code(),
            flags: p
                .flags
                .iter()
                .filter(|f| !is_health_flag(*f))
                .map(Flag::code)
                .collect(),
            // Whether someone has a health flag at all is health data: the
            // same word for everyone (a reveal, audited, shows them).
            health_flags: Some("masked"),
            notes_present: "masked",
            household: r.household_id.map(|h| {
                Key {
                    street: r.street_id,
                    id: h,
                }
                .to_string()
            }),
            address: address_text(r),
            building: r.building_id.map(|b| {
                Key {
                    street: r.street_id,
                    id: b,
                }
                .to_string()
            }),
            grid: r.grid.clone(),
            community: r.community.clone(),
            left_reason: r.left_reason.clone(),
            left_on: r.left_on.clone(),
            masked: true,
        }
    }
}

/// `虹馆小区 3号楼 1单元 301`.
pub fn address_text(r: &ResidentRow) -> Option<String> {
    let room = r.room.as_ref()?;
    let unit = r
        .unit
        .as_deref()
        .filter(|u| !u.is_empty())
        .map(|u| format!("{u}单元 "))
        .unwrap_or_default();
    Some(format!(
        "{} {} {unit}{room}",
        r.compound.clone().unwrap_or_default(),
        r.building.clone().unwrap_or_default()
    ))
}

#[derive(Debug, Clone, Serialize)]
pub struct TreeNode {
    pub level: &'static str,
    pub id: String,
    pub name: String,
    pub code: Option<String>,
    pub buildings: i64,
    pub households: i64,
    pub residents: i64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<TreeNode>,
}

/// The territory tree, street → community → grid, with counts at each level.
pub async fn territory_tree(store: &Store) -> Result<Vec<TreeNode>, StoreError> {
    territory_tree_in(store, &[Node::City]).await
}

/// The tree pruned to the grids the given nodes cover (counts follow).
pub async fn territory_tree_in(store: &Store, nodes: &[Node]) -> Result<Vec<TreeNode>, StoreError> {
    let covers = |place: &Place| {
        nodes.iter().any(|n| {
            Grant {
                role: Role::Admin,
                node: *n,
                from_ms: i64::MIN,
                until_ms: None,
            }
            .covers(place)
        })
    };
    let counts = store.grid_counts(None).await?;
    let grids = store.grids(None, None).await?;
    let communities = store.communities(None, None).await?;
    let mut out = Vec::new();
    for s in store.streets().await? {
        let mut street = TreeNode {
            level: "street",
            id: s.id.to_string(),
            name: s.name.clone(),
            code: s.code.clone(),
            buildings: 0,
            households: 0,
            residents: 0,
            children: vec![],
        };
        for c in communities.iter().filter(|c| c.street_id == s.id) {
            let mut cn = TreeNode {
                level: "community",
                id: Key {
                    street: s.id,
                    id: c.id,
                }
                .to_string(),
                name: c.name.clone(),
                code: c.code.clone(),
                buildings: 0,
                households: 0,
                residents: 0,
                children: vec![],
            };
            for g in grids
                .iter()
                .filter(|g| g.street_id == s.id && g.community_id == c.id)
            {
                let place = Place {
                    district: Some(s.district_id),
                    street: s.id,
                    community: Some(c.id),
                    grid: Some(g.id),
                    point: None,
                };
                if !covers(&place) {
                    continue;
                }
                let k = counts
                    .iter()
                    .find(|k| k.street_id == s.id && k.grid_id == g.id)
                    .cloned()
                    .unwrap_or_default();
                cn.buildings += k.buildings;
                cn.households += k.households;
                cn.residents += k.residents;
                cn.children.push(TreeNode {
                    level: "grid",
                    id: Key {
                        street: s.id,
                        id: g.id,
                    }
                    .to_string(),
                    name: g.name.clone(),
                    code: g.code.clone(),
                    buildings: k.buildings,
                    households: k.households,
                    residents: k.residents,
                    children: vec![],
                });
            }
            if cn.children.is_empty()
                && !covers(&Place {
                    district: Some(s.district_id),
                    street: s.id,
                    community: Some(c.id),
                    grid: None,
                    point: None,
                })
            {
                continue;
            }
            street.buildings += cn.buildings;
            street.households += cn.households;
            street.residents += cn.residents;
            street.children.push(cn);
        }
        if !street.children.is_empty() {
            out.push(street);
        }
    }
    Ok(out)
}

/// How many trailing characters of a phone or document number a search may name.
pub const TAIL: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("按号码查找只能输入末4位（与脱敏显示一致）/ search numbers by their last 4 characters only, as the masked value shows")]
    TailLength,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Search by exact name, or by the last 4 digits of a phone or characters of
/// a document number, within a scope and an optional street.
pub async fn search(
    store: &Store,
    street: Option<i64>,
    scope: &[Node],
    q: &str,
    limit: i64,
) -> Result<Vec<ResidentRow>, SearchError> {
    let q = gw_domain::text::squeeze(q);
    if q.is_empty() {
        return Ok(Vec::new());
    }
    let numeric = q
        .chars()
        .all(|c| c.is_ascii_digit() || c == 'x' || c == 'X');
    // Only the four characters a masked value already shows: a longer tail
    // would let anyone extend it a guess at a time (an unaudited reveal).
    if numeric && q.len() != TAIL {
        return Err(SearchError::TailLength);
    }
    let base = ResidentFilter {
        street,
        limit,
        scope: Some(scope.to_vec()),
        ..Default::default()
    };
    if !numeric {
        return store
            .residents(&ResidentFilter {
                name: Some(q),
                ..base
            })
            .await
            .map_err(SearchError::from);
    }
    let mut out = Vec::new();
    if q.chars().all(|c| c.is_ascii_digit()) {
        out = store
            .residents(&ResidentFilter {
                phone_tail: Some(q.clone()),
                ..base.clone()
            })
            .await?;
    }
    for r in store
        .residents(&ResidentFilter {
            doc_tail: Some(q.to_uppercase()),
            ..base
        })
        .await?
    {
        if !out
            .iter()
            .any(|o| o.street_id == r.street_id && o.id == r.id)
        {
            out.push(r);
        }
    }
    out.truncate(limit.max(0) as usize);
    Ok(out)
}

/// A building as its page shows it: households by unit and room, residents
/// (rows for the masked views), and the control orders in force on the
/// building, its compound, units and households.
#[derive(Debug, Clone)]
pub struct BuildingDetail {
    pub building: gw_store::registry::BuildingRow,
    pub households: Vec<gw_store::registry::BuildingHousehold>,
    pub residents: Vec<ResidentRow>,
    /// `(target kind, id)` → the order in force now.
    pub controls: std::collections::HashMap<(String, i64), gw_domain::territory::ControlOrder>,
}

/// The control order in force at `now` on each target of a street that has
/// one, by `(kind, id)` (of several, the latest begun): control as a
/// building's page, the call-down planner and the scan's held-at-home flag
/// read it.
pub(crate) async fn controls_in_force(
    store: &Store,
    street: i64,
    now: i64,
) -> Result<std::collections::BTreeMap<(String, i64), gw_domain::territory::ControlOrder>, StoreError>
{
    Ok(in_force_of(
        store.controls_in_force(street, now).await?,
        now,
    ))
}

/// [`controls_in_force`] but for the orders whose stay-home notice is still
/// owed (`notice_due`, [`crate::held_calls`]): what a notice takes as held
/// and told already. An order whose notice was lost is no reason to leave
/// a place out; its own notice, told again, finds the later one's told.
pub(crate) async fn controls_told(
    store: &Store,
    street: i64,
    now: i64,
) -> Result<std::collections::BTreeMap<(String, i64), gw_domain::territory::ControlOrder>, StoreError>
{
    Ok(in_force_of(
        store.controls_in_force_told(street, now).await?,
        now,
    ))
}

fn in_force_of(
    rows: Vec<gw_store::schedule::ControlInForce>,
    now: i64,
) -> std::collections::BTreeMap<(String, i64), gw_domain::territory::ControlOrder> {
    let mut history: std::collections::BTreeMap<
        (String, i64),
        Vec<gw_domain::territory::ControlOrder>,
    > = Default::default();
    for (kind, id, status, from_ms, until_ms) in rows {
        if let Some(status) = gw_domain::territory::ControlStatus::from_code(&status) {
            history
                .entry((kind, id))
                .or_default()
                .push(gw_domain::territory::ControlOrder {
                    status,
                    from_ms,
                    until_ms,
                });
        }
    }
    history
        .into_iter()
        .filter_map(|(key, h)| {
            gw_domain::territory::control_in_force(&h, now)
                .cloned()
                .map(|o| (key, o))
        })
        .collect()
}

/// One building for a reader who reaches it (`ReadRegistry` on its grid).
pub async fn building(
    store: &Store,
    clock: &crate::Clock,
    p: &crate::access::Principal,
    k: Key,
) -> Result<BuildingDetail, crate::access::AuthError> {
    let place = crate::access::place_of(store, "building", k).await?;
    crate::access::authorize(p, clock, gw_domain::access::Action::ReadRegistry, &place)?;
    let building = store.building(k.street, k.id).await?;
    let households = store.building_households(k.street, k.id).await?;
    let residents = store
        .residents(&ResidentFilter {
            street: Some(k.street),
            building: Some(k.id),
            limit: 20_000,
            ..Default::default()
        })
        .await?;
    let controls = controls_in_force(store, k.street, clock.now_ms())
        .await?
        .into_iter()
        .filter(|((kind, id), _)| match kind.as_str() {
            "compound" => *id == building.compound_id,
            "building" => *id == k.id,
            "unit" => households.iter().any(|h| h.unit_id == *id),
            "household" => households.iter().any(|h| h.household_id == *id),
            _ => false,
        })
        .collect();
    Ok(BuildingDetail {
        building,
        households,
        residents,
        controls,
    })
}

/// A street's pending residents (walk-ins on no roster, waiting to be matched
/// to the registry), masked, where the caller may read the registry.
pub async fn pending(
    store: &Store,
    clock: &crate::Clock,
    p: &crate::access::Principal,
    street: i64,
    limit: i64,
) -> Result<Vec<ResidentView>, StoreError> {
    let f = ResidentFilter {
        street: Some(street),
        status: Some("pending".into()),
        limit: limit.clamp(1, 100_000),
        scope: Some(crate::access::scope(
            p,
            clock,
            gw_domain::access::Action::ReadRegistry,
        )),
        ..Default::default()
    };
    let today = clock.today();
    Ok(store
        .residents(&f)
        .await?
        .iter()
        .map(|r| ResidentView::masked(r, today))
        .collect())
}

/// Merges a pending walk-in into the registered resident it turned out to
/// be: their swabs, retests, re-samples and exemptions pass over and the
/// pending record goes, in one transaction (`Store::match_pending`). Audited.
pub async fn match_walk_in(
    store: &Store,
    clock: &crate::Clock,
    p: &crate::access::Principal,
    pending: Key,
    target: Key,
    despite_name: bool,
    address: &str,
) -> Result<(), crate::access::AuthError> {
    if pending.street != target.street {
        return Err(crate::access::AuthError::Invalid(
            "只能与同一街道的居民合并 / target must be in the same street".into(),
        ));
    }
    for k in [target, pending] {
        let place = crate::access::place_of(store, "resident", k).await?;
        crate::access::authorize(p, clock, gw_domain::access::Action::WriteRegistry, &place)?;
    }
    if pending == target {
        return Err(crate::access::AuthError::Invalid(
            "不能与自身合并：请指定其在花名册上的登记记录 / a walk-in cannot be matched to itself: give their registered record".into(),
        ));
    }
    let registered = store.resident(target.street, target.id).await?;
    if registered.status == "pending" {
        return Err(crate::access::AuthError::Invalid(format!(
            "{target} 也是待核实的临时人员：请指定花名册上的登记记录 / {target} is a pending walk-in too: give a registered resident"
        )));
    }
    // The walk-in's swabs become the registered person's: a wrong target
    // marks someone sampled who was not. Names that differ (beyond spaces)
    // must be confirmed; a volunteer's typo is common, so it is a question,
    // not a refusal. Neither name is told: the caller knows whom they chose.
    let walk_in = store.resident(pending.street, pending.id).await?;
    let same = |a: &str, b: &str| {
        let squeeze = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
        squeeze(a) == squeeze(b)
    };
    if !despite_name && !same(&walk_in.resident.name, &registered.resident.name) {
        return Err(crate::access::AuthError::Store(gw_store::StoreError::Conflict(format!(
            "{pending} 与 {target} 的姓名不同：确认是同一人后再合并（despite_name）/ {pending} and {target} have different names: merge only once sure they are the same person (despite_name)"
        ))));
    }
    let audit = crate::access::audit_record(
        clock,
        p,
        "match_resident",
        (pending.street, "resident", &target.to_string()),
        &format!("merged={pending}"),
    )
    .with_address(address);
    store
        .match_pending(
            pending.street,
            pending.id,
            target.id,
            clock.now_ms(),
            &audit,
        )
        .await?;
    Ok(())
}

/// A control order asked for: a status (封控 …) on a compound, building,
/// unit or household, from a time (now when not given) until one (open
/// when not given), with the reason.
#[derive(Debug, Clone)]
pub struct ControlAsk<'a> {
    pub target: gw_domain::territory::ControlTarget,
    pub key: Key,
    pub status: gw_domain::territory::ControlStatus,
    pub from_ms: Option<i64>,
    pub until_ms: Option<i64>,
    pub reason: &'a str,
}

/// A control order set, and what its notice told the groups.
#[derive(Debug, Clone, Copy)]
pub struct ControlSet {
    pub order: Key,
    /// Pushed calls of this street's sampling rounds the order holds back,
    /// and the groups told so (see [`crate::held_calls`]).
    pub held: crate::held_calls::Told,
}

/// Sets a control order, for those who may change the registry there;
/// audited (the status only: the reason may name people, and lives on the
/// order, which a purge clears). An order that keeps people at home tells
/// the groups of every pushed call still to end that named the place
/// ([`crate::held_calls`]). The notice is durable: the order is stored
/// marked as owing it (`notice_due`), the mark is cleared once the notice
/// is queued (or there was nothing to tell), and an order still marked (the
/// server died before its notice, or it could not be queued: `notice_failed`)
/// is told by the server's sweep ([`crate::held_calls::sweep`]) within
/// minutes. Returns the order and what was told.
pub async fn set_control(
    store: &Store,
    clock: &crate::Clock,
    p: &crate::access::Principal,
    ask: &ControlAsk<'_>,
    address: &str,
) -> Result<ControlSet, crate::access::AuthError> {
    use crate::access::AuthError;
    let reason = ask.reason.trim();
    if reason.is_empty() {
        return Err(AuthError::Invalid("请填写原因 / reason is required".into()));
    }
    let now = clock.now_ms();
    let from = ask.from_ms.unwrap_or(now);
    if ask.until_ms.is_some_and(|u| u <= from) {
        return Err(AuthError::Invalid(
            "结束时间必须晚于开始时间 / until must be after from".into(),
        ));
    }
    let place = crate::access::place_of(store, ask.target.code(), ask.key).await?;
    crate::access::authorize(p, clock, gw_domain::access::Action::WriteRegistry, &place)?;
    // What held people at home before this order: a place held already was
    // left out of the pushes or told then.
    let before = if ask.status.door_to_door_only() {
        Some(controls_told(store, ask.key.street, now).await)
    } else {
        None
    };
    let actor = p.actor();
    let audit = crate::access::audit_record(
        clock,
        p,
        "set_control",
        (ask.key.street, ask.target.code(), &ask.key.to_string()),
        ask.status.code(),
    )
    .with_address(address);
    let id = store
        .set_control(
            &gw_store::control::ControlWrite {
                street_id: ask.key.street,
                target: ask.target,
                target_id: ask.key.id,
                status: ask.status,
                from_ms: from,
                until_ms: ask.until_ms,
                reason,
                set_by: &actor,
                now_ms: now,
            },
            &audit,
        )
        .await?;
    let order = Key {
        street: ask.key.street,
        id,
    };
    let told = match before {
        None => Ok(crate::held_calls::Told::default()),
        Some(Err(e)) => Err(e),
        Some(Ok(before)) => {
            let held = crate::held_calls::Held {
                source: format!("order={order}"),
                street: ask.key.street,
                target: ask.target,
                ids: vec![ask.key.id],
                status: ask.status,
                from_ms: from,
                until_ms: ask.until_ms,
                before: &before,
                again: false,
            };
            crate::held_calls::tell(store, clock, &actor, &held, address).await
        }
    };
    let held = told.unwrap_or_else(|e| {
        tracing::error!(order = %order, error = %e, "control order stored; its held-call notice was not queued (told again by the server within minutes)");
        crate::held_calls::Told {
            notice_failed: true,
            ..Default::default()
        }
    });
    // Told (or nothing to tell): the order owes no notice any more.
    if ask.status.door_to_door_only() && held.settled() {
        crate::held_calls::clear(store, ask.key.street, &[id]).await;
    }
    Ok(ControlSet { order, held })
}

/// Places a building in one of its community's grids (a building a roster
/// brought in lands in the community's 未分配网格 until someone does):
/// its residents go with it, and the grid's leader reaches them from now
/// on. The community's secretary and the street's commander may; audited.
pub async fn assign_building(
    store: &Store,
    clock: &crate::Clock,
    p: &crate::access::Principal,
    building: Key,
    grid: Key,
) -> Result<gw_store::registry::BuildingRow, crate::access::AuthError> {
    let before = store.building(building.street, building.id).await?;
    let place = crate::access::place_of(store, "building", building).await?;
    // The community's work, not a grid's: checked at the community.
    let community = gw_domain::access::Place {
        grid: None,
        ..place
    };
    crate::access::authorize(p, clock, gw_domain::access::Action::AssignGrids, &community)?;
    if grid.street != building.street {
        return Err(crate::access::AuthError::Invalid(format!(
            "网格 {grid} 不在楼栋 {building} 所在街道 / grid {grid} is not in building {building}'s street"
        )));
    }
    let audit = crate::access::audit_record(
        clock,
        p,
        "assign_building",
        (building.street, "building", &building.to_string()),
        &format!("grid={}-{}→{grid}", building.street, before.grid_id),
    );
    store
        .set_building_grid(building.street, building.id, grid.id, &audit)
        .await?;
    Ok(store.building(building.street, building.id).await?)
}

/// A list of residents by a health flag reads who has one, as a reveal
/// reads one resident's: audited (`filter_health`, the flags asked for, ids
/// only) over the territory it was taken over: the household or building
/// it names, else, for each node of the caller's scope, the narrower of it
/// and the filter's grid, community or street ([`access::covered`]; with no
/// filter, the caller's own territory), each with how many of the listed
/// residents are there.
pub async fn record_health_list(
    store: &Store,
    clock: &crate::Clock,
    p: &crate::access::Principal,
    f: &ResidentFilter,
    flags: &str,
    rows: &[ResidentRow],
    address: &str,
) -> Result<(), StoreError> {
    let street = f.street.unwrap_or(0);
    let mut events: Vec<(i64, &'static str, String, usize)> = Vec::new();
    if let Some((kind, id)) = [("household", f.household), ("building", f.building)]
        .into_iter()
        .find_map(|(kind, id)| id.map(|id| (kind, id)))
    {
        events.push((street, kind, Key { street, id }.to_string(), rows.len()));
    } else {
        let asked = f.street.map(|s| match (f.grid, f.community) {
            (Some(id), _) => Node::Grid { street: s, id },
            (None, Some(id)) => Node::Community { street: s, id },
            (None, None) => Node::Street { id: s },
        });
        let scope = f.scope.clone().unwrap_or_else(|| vec![Node::City]);
        let mut nodes = access::covered(asked, &scope);
        if nodes.is_empty() {
            // Nothing of it is the caller's: an empty list, recorded where it was asked.
            nodes.extend(asked);
        }
        for n in nodes {
            let here = rows
                .iter()
                .filter(|r| match n {
                    Node::City | Node::District { .. } => true,
                    Node::Street { id } => r.street_id == id,
                    Node::Community { street, id } => {
                        r.street_id == street && r.community_id == Some(id)
                    }
                    Node::Grid { street, id } => r.street_id == street && r.grid_id == Some(id),
                    Node::Point { .. } => false,
                })
                .count();
            let (kind, s, id) = n.parts();
            let target = match n {
                Node::City => "0".to_string(),
                Node::District { id } | Node::Street { id } => id.to_string(),
                _ => Key { street: s, id }.to_string(),
            };
            events.push((s, kind, target, here));
        }
    }
    if events.is_empty() {
        events.push((street, "street", street.to_string(), rows.len()));
    }
    for (s, kind, target, n) in events {
        crate::access::record(
            store,
            clock,
            p,
            "filter_health",
            (s, kind, &target),
            &format!("flags={flags} residents={n}"),
            address,
        )
        .await?;
    }
    Ok(())
}

/// Flags set and cleared on one resident at once (the roster's flags, by
/// hand: a dialysis patient found on a round, a pregnancy, someone who can
/// go downstairs again). Writing the registry where they live; a health
/// flag also needs the right to see health flags. Audited; the audit names
/// the other flags and only counts health ones.
pub async fn set_flags(
    store: &Store,
    clock: &crate::Clock,
    p: &crate::access::Principal,
    resident: Key,
    set: &[Flag],
    clear: &[Flag],
) -> Result<Vec<&'static str>, crate::access::AuthError> {
    use gw_domain::access::{Action, Field};
    if set.is_empty() && clear.is_empty() {
        return Err(crate::access::AuthError::Invalid(
            "请选择要加上或去掉的标记 / choose a flag to set or clear".into(),
        ));
    }
    if let Some(f) = set.iter().find(|f| clear.contains(f)) {
        return Err(crate::access::AuthError::Invalid(format!(
            "“{}”不能同时加上和去掉 / {} cannot be both set and cleared",
            f.label_zh(),
            f.code()
        )));
    }
    let place = crate::access::place_of(store, "resident", resident).await?;
    crate::access::authorize(p, clock, Action::WriteRegistry, &place)?;
    let health = set
        .iter()
        .chain(clear)
        .filter(|f| is_health_flag(**f))
        .count();
    if health > 0 {
        crate::access::authorize(p, clock, Action::Reveal(Field::Health), &place)?;
    }
    let bits = |fs: &[Flag]| {
        let mut b = gw_domain::resident::Flags::default();
        for f in fs {
            b.set(*f);
        }
        b.0
    };
    // What the call changed, not what it asked: a flag set already, or
    // cleared where it was not set, is no change. Read and recorded with
    // the row held.
    let named = |bits: u32| {
        gw_domain::resident::Flags(bits)
            .iter()
            .filter(|f| !is_health_flag(*f))
            .map(Flag::code)
            .collect::<Vec<_>>()
            .join(",")
    };
    let audit = crate::access::audit_record(
        clock,
        p,
        "set_flags",
        (resident.street, "resident", &resident.to_string()),
        "",
    );
    let (_, after) = store
        .set_resident_flags(
            resident.street,
            resident.id,
            bits(set),
            bits(clear),
            clock.now_ms(),
            |before, after| {
                let health_changed = gw_domain::resident::Flags(before ^ after)
                    .iter()
                    .filter(|f| is_health_flag(*f))
                    .count();
                audit.with_detail(format!(
                    "set={} clear={} health_flags_changed={health_changed}",
                    named(after & !before),
                    named(before & !after)
                ))
            },
        )
        .await?;
    // What the caller may see of the result: the flags that are not health
    // data (health ones only through a reveal).
    Ok(gw_domain::resident::Flags(after)
        .iter()
        .filter(|f| !is_health_flag(*f))
        .map(Flag::code)
        .collect())
}

/// Moves one resident to another household of the street (a family taken
/// in by relatives, a flat swapped): writing the registry both where they
/// live and where they go. Their swabs and codes stay theirs; a round
/// opened before counts them where its snapshot has them. Audited.
pub async fn move_resident(
    store: &Store,
    clock: &crate::Clock,
    p: &crate::access::Principal,
    resident: Key,
    household: Key,
) -> Result<(), crate::access::AuthError> {
    use gw_domain::access::Action;
    if household.street != resident.street {
        return Err(crate::access::AuthError::Invalid(format!(
            "户 {household} 不在居民 {resident} 所在街道：跨街道迁移请两边分别导入 / household {household} is not in resident {resident}'s street"
        )));
    }
    let from = crate::access::place_of(store, "resident", resident).await?;
    crate::access::authorize(p, clock, Action::WriteRegistry, &from)?;
    let to = crate::access::place_of(store, "household", household).await?;
    crate::access::authorize(p, clock, Action::WriteRegistry, &to)?;
    let before = store
        .resident(resident.street, resident.id)
        .await?
        .household_id;
    if before == Some(household.id) {
        return Err(crate::access::AuthError::Invalid(format!(
            "居民 {resident} 已经在户 {household} / resident {resident} already lives in household {household}"
        )));
    }
    let audit = crate::access::audit_record(
        clock,
        p,
        "move_resident",
        (resident.street, "resident", &resident.to_string()),
        &format!(
            "household={}→{household}",
            before.map_or_else(|| "-".to_string(), |h| format!("{}-{h}", resident.street))
        ),
    );
    store
        .move_resident(
            resident.street,
            resident.id,
            household.id,
            clock.now_ms(),
            &audit,
        )
        .await?;
    Ok(())
}

/// What recording (or undoing) a resident's leaving did.
#[derive(Debug, Clone, Serialize)]
pub struct Left {
    pub resident: String,
    /// `left`, or `active` once undone.
    pub status: &'static str,
    /// `deceased` or `moved_out`.
    pub reason: String,
    /// The day they left (YYYY-MM-DD); none once undone.
    pub on: Option<String>,
    /// Rounds still sampling that now exempt them with the reason (or, on
    /// undo, whose exemption from the record was lifted).
    pub rounds: Vec<String>,
}

/// Records that a resident has left: deceased (离世) or moved out of the
/// street (迁出本街道), on `on` (today when none; not in the future).
/// Writing the registry where they live, as editing them. Their data stays;
/// rounds opened from now on do not expect them, and a round still sampling
/// that expects them exempts them with the reason (not missed). Audited.
pub async fn leave(
    store: &Store,
    clock: &crate::Clock,
    p: &crate::access::Principal,
    resident: Key,
    reason: gw_domain::resident::LeaveReason,
    on: Option<Date>,
) -> Result<Left, crate::access::AuthError> {
    use gw_domain::access::Action;
    let place = crate::access::place_of(store, "resident", resident).await?;
    crate::access::authorize(p, clock, Action::WriteRegistry, &place)?;
    let today = clock.today();
    let on = on.unwrap_or(today);
    if on > today {
        return Err(crate::access::AuthError::Invalid(format!(
            "离开日期 {on} 晚于今天 {today} / the day left, {on}, is after today, {today}"
        )));
    }
    let rounds = store
        .leave_resident(
            resident.street,
            resident.id,
            reason.code(),
            &on.to_string(),
            reason.exemption(),
            &p.actor(),
            clock.now_ms(),
        )
        .await?;
    // Like an exemption's, the reason (a death) lives on the resident; the
    // audit log keeps that they left and the rounds it exempted them from.
    let left = Left {
        resident: resident.to_string(),
        status: "left",
        reason: reason.code().to_string(),
        on: Some(on.to_string()),
        rounds: round_keys(resident.street, rounds),
    };
    let detail = format!("on={on} rounds={}", left.rounds.join(","));
    audited(store, clock, p, "leave_resident", resident, &detail, left).await
}

/// Round ids of a street as keys.
fn round_keys(street: i64, rounds: Vec<i64>) -> Vec<String> {
    rounds
        .into_iter()
        .map(|id| Key { street, id }.to_string())
        .collect()
}

/// `left`, once `action` on `resident` is in the audit log with `detail`.
async fn audited(
    store: &Store,
    clock: &crate::Clock,
    p: &crate::access::Principal,
    action: &str,
    resident: Key,
    detail: &str,
    left: Left,
) -> Result<Left, crate::access::AuthError> {
    crate::access::record(
        store,
        clock,
        p,
        action,
        (resident.street, "resident", &resident.to_string()),
        detail,
        "",
    )
    .await?;
    Ok(left)
}

/// Undoes a mistaken record that a resident left: active again, and the
/// exemptions the record gave in rounds still sampling lifted. The same
/// right as recording it. Audited.
pub async fn unleave(
    store: &Store,
    clock: &crate::Clock,
    p: &crate::access::Principal,
    resident: Key,
) -> Result<Left, crate::access::AuthError> {
    use gw_domain::access::Action;
    let place = crate::access::place_of(store, "resident", resident).await?;
    crate::access::authorize(p, clock, Action::WriteRegistry, &place)?;
    let (reason, rounds) = store
        .unleave_resident(
            resident.street,
            resident.id,
            |r| {
                gw_domain::resident::LeaveReason::parse(r)
                    .map_or_else(|| r.to_string(), |l| l.exemption().to_string())
            },
            clock.now_ms(),
        )
        .await?;
    let left = Left {
        resident: resident.to_string(),
        status: "active",
        reason,
        on: None,
        rounds: round_keys(resident.street, rounds),
    };
    let detail = format!("rounds={}", left.rounds.join(","));
    audited(store, clock, p, "unleave_resident", resident, &detail, left).await
}
