//! Who may do what, where: roles, grants on the territory, and the table of
//! role × personal-data field. Pure: the app asks, this answers.
//!
//! | role | registry (masked) | names | reveal phone | reveal document | health flags | import / export / control | accounts, audit, purge |
//! |---|---|---|---|---|---|---|---|
//! | admin | city | full | yes | yes | yes | yes | yes |
//! | street commander | their street(s) | full | yes | yes | yes | yes | no |
//! | community secretary | their community | full | yes | yes | yes | yes | no |
//! | grid leader | their grid(s) | full | yes | no | yes | yes | no |
//! | testing-point manager | — (scans, enrols stations, records supplies, packs and hands over at their point) | — | — | — | — | — | no |
//! | volunteer | — (scans, packs and hands over at their point; task lists come with tasks) | masked | no | never | no | no | no |
//! | lab | — (receives boxes, uploads tube results) | — | — | — | — | — | no |
//!
//! Lab receipt (`Receive`) belongs to the lab (and the admin) only: the lab's
//! count is the last check of the chain and nobody else may make it.
//! | CDC liaison | their territory | full | yes | yes | yes | no | no |

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    StreetCommander,
    CommunitySecretary,
    GridLeader,
    PointManager,
    Volunteer,
    Lab,
    CdcLiaison,
}

impl Role {
    pub const ALL: [Role; 8] = [
        Role::Admin,
        Role::StreetCommander,
        Role::CommunitySecretary,
        Role::GridLeader,
        Role::PointManager,
        Role::Volunteer,
        Role::Lab,
        Role::CdcLiaison,
    ];
    pub fn code(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::StreetCommander => "street_commander",
            Role::CommunitySecretary => "community_secretary",
            Role::GridLeader => "grid_leader",
            Role::PointManager => "point_manager",
            Role::Volunteer => "volunteer",
            Role::Lab => "lab",
            Role::CdcLiaison => "cdc_liaison",
        }
    }
    pub fn from_code(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.code() == s)
    }
    pub fn label_zh(self) -> &'static str {
        match self {
            Role::Admin => "系统管理员",
            Role::StreetCommander => "街道指挥部",
            Role::CommunitySecretary => "社区书记",
            Role::GridLeader => "网格长",
            Role::PointManager => "采样点负责人",
            Role::Volunteer => "志愿者",
            Role::Lab => "检测机构",
            Role::CdcLiaison => "疾控联络员",
        }
    }
}

/// Where a grant applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Node {
    City,
    District {
        id: i64,
    },
    Street {
        id: i64,
    },
    Community {
        street: i64,
        id: i64,
    },
    Grid {
        street: i64,
        id: i64,
    },
    /// A testing point (testing rounds).
    Point {
        street: i64,
        id: i64,
    },
}

/// As the command line and the API name it: `street 1`, `grid 1-5`.
impl std::fmt::Display for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Node::City => write!(f, "city"),
            Node::District { id } => write!(f, "district {id}"),
            Node::Street { id } => write!(f, "street {id}"),
            Node::Community { street, id }
            | Node::Grid { street, id }
            | Node::Point { street, id } => write!(f, "{} {street}-{id}", self.kind()),
        }
    }
}

impl Node {
    pub fn kind(self) -> &'static str {
        match self {
            Node::City => "city",
            Node::District { .. } => "district",
            Node::Street { .. } => "street",
            Node::Community { .. } => "community",
            Node::Grid { .. } => "grid",
            Node::Point { .. } => "point",
        }
    }
    /// `(kind, street, id)` as stored.
    pub fn parts(self) -> (&'static str, i64, i64) {
        match self {
            Node::City => ("city", 0, 0),
            Node::District { id } => ("district", 0, id),
            Node::Street { id } => ("street", id, id),
            Node::Community { street, id } => ("community", street, id),
            Node::Grid { street, id } => ("grid", street, id),
            Node::Point { street, id } => ("point", street, id),
        }
    }
    pub fn from_parts(kind: &str, street: i64, id: i64) -> Option<Node> {
        Some(match kind {
            "city" => Node::City,
            "district" => Node::District { id },
            "street" => Node::Street { id: street },
            "community" => Node::Community { street, id },
            "grid" => Node::Grid { street, id },
            "point" => Node::Point { street, id },
            _ => return None,
        })
    }
}

/// Where something is: the territory path of a resident, household or building.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Place {
    pub district: Option<i64>,
    pub street: i64,
    pub community: Option<i64>,
    pub grid: Option<i64>,
    /// A testing point (for scanning and tubes).
    pub point: Option<i64>,
}

/// A role held on a node, in force from `from_ms` until `until_ms`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Grant {
    pub role: Role,
    pub node: Node,
    pub from_ms: i64,
    pub until_ms: Option<i64>,
}

impl Grant {
    pub fn in_force(&self, now_ms: i64) -> bool {
        self.from_ms <= now_ms && self.until_ms.is_none_or(|u| now_ms < u)
    }
    /// Whether the grant's node contains `place`.
    pub fn covers(&self, place: &Place) -> bool {
        match self.node {
            Node::City => true,
            Node::District { id } => place.district == Some(id),
            Node::Street { id } => place.street == id,
            Node::Community { street, id } => place.street == street && place.community == Some(id),
            Node::Grid { street, id } => place.street == street && place.grid == Some(id),
            Node::Point { street, id } => place.street == street && place.point == Some(id),
        }
    }
}

/// A personal-data field that is masked by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Phone,
    Document,
    Health,
}

impl Field {
    pub fn code(self) -> &'static str {
        match self {
            Field::Phone => "phone",
            Field::Document => "document",
            Field::Health => "health",
        }
    }
    pub fn from_code(s: &str) -> Option<Field> {
        [Field::Phone, Field::Document, Field::Health]
            .into_iter()
            .find(|f| f.code() == s)
    }
}

/// What a request wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Lists, households, search (masked).
    ReadRegistry,
    /// Walk-ins, matching, control status.
    WriteRegistry,
    ImportRoster,
    ExportRoster,
    /// See one field of one resident in full.
    Reveal(Field),
    /// Filter lists by health flags (which reveals them).
    FilterHealth,
    /// Create household links.
    ManageHouseholdLinks,
    ManageUsers,
    ReadAudit,
    Purge,
    /// Create and open testing rounds and their points.
    ManageRounds,
    /// Add, change and remove a round's testing points in a community (its
    /// secretary's; the street's too).
    ManagePoints,
    /// Open tubes and register swabs at a point.
    Scan,
    /// Enrol and revoke the scanning stations of a point.
    ManageStations,
    /// Upload tube results (the lab).
    PostResults,
    /// Record supplies issued to a testing point (tubes, kits, protective gear).
    IssueSupplies,
    /// Pack closed tubes into bags and bags into boxes at a point.
    Pack,
    /// Hand boxes over to a transporter at a point.
    HandOver,
    /// Receive boxes at the lab with the lab's own count.
    Receive,
    /// Read the supplies and the count reconciliation of a round (counts only).
    ReadLogistics,
    /// Place a building in one of its community's grids.
    AssignGrids,
}

impl Action {
    /// Whether a grant at `node` reaches any place this action is checked
    /// at. A grid holds buildings and residents, not testing points: a
    /// point's work (scans, stations, supplies, packing, hand-over, its
    /// counts) and the street's (rounds, results, the lab's receipt,
    /// accounts, audit, purge) are never within a grid's grant, whatever its
    /// role allows elsewhere. The street's work is checked at the street:
    /// a community's or a point's grant never reaches it either (a
    /// community secretary's role allows posting results, her community
    /// holds no place they are posted at).
    pub fn within_reach_of(self, node: &Node) -> bool {
        use Action::*;
        let street_wide = matches!(
            self,
            ManageRounds | PostResults | Receive | ManageUsers | ReadAudit | Purge
        );
        if street_wide
            && matches!(
                node,
                Node::Community { .. } | Node::Grid { .. } | Node::Point { .. }
            )
        {
            return false;
        }
        let at_points_or_street = matches!(
            self,
            ManageRounds
                | ManagePoints
                | Scan
                | ManageStations
                | PostResults
                | IssueSupplies
                | Pack
                | HandOver
                | Receive
                | ReadLogistics
                | ManageUsers
                | ReadAudit
                | Purge
                | AssignGrids
        );
        !(matches!(node, Node::Grid { .. }) && at_points_or_street)
    }

    /// What the action is, in Chinese and in English, for a refusal
    /// ("无权上传检测结果 / not allowed: posting lab results").
    pub fn words(self) -> (&'static str, &'static str) {
        use Action::*;
        match self {
            ReadRegistry => ("查看居民名册", "reading the registry"),
            WriteRegistry => ("修改居民信息", "changing residents"),
            ImportRoster => ("导入名单", "importing rosters"),
            ExportRoster => ("导出名单", "exporting rosters"),
            Reveal(Field::Phone) => ("查看完整电话", "seeing full phone numbers"),
            Reveal(Field::Document) => ("查看完整证件号", "seeing full document numbers"),
            Reveal(Field::Health) => ("查看健康情况", "seeing health flags"),
            FilterHealth => ("按健康情况筛选", "filtering by health flags"),
            ManageHouseholdLinks => ("管理家庭链接", "managing household links"),
            ManageUsers => ("管理账号", "managing accounts"),
            ReadAudit => ("查看审计日志", "reading the audit log"),
            Purge => ("清除个人信息", "purging personal data"),
            ManageRounds => ("管理检测轮次和采样点", "managing testing rounds and points"),
            ManagePoints => (
                "管理本社区的采样点",
                "managing a community's testing points",
            ),
            Scan => ("在此采样点扫码登记", "registering swabs at this point"),
            ManageStations => ("管理扫码设备", "managing scanning stations"),
            PostResults => ("上传检测结果", "posting lab results"),
            IssueSupplies => ("发放物资", "issuing supplies"),
            Pack => ("装袋装箱", "packing bags and boxes"),
            HandOver => ("交接转运", "handing boxes over"),
            Receive => ("实验室接收", "receiving at the lab"),
            ReadLogistics => (
                "查看物资和数量校对",
                "reading supplies and the reconciliation",
            ),
            AssignGrids => ("分配楼栋到网格", "placing buildings in grids"),
        }
    }
}

/// The documented table (module docs) as code.
pub fn role_allows(role: Role, action: Action) -> bool {
    use Action::*;
    use Role::*;
    match role {
        Admin => true,
        StreetCommander => !matches!(action, ManageUsers | ReadAudit | Purge | Receive),
        CommunitySecretary => !matches!(
            action,
            ManageUsers | ReadAudit | Purge | ManageRounds | Receive
        ),
        GridLeader => !matches!(
            action,
            ManageUsers
                | ReadAudit
                | Purge
                | ManageRounds
                | ManagePoints
                | Reveal(Field::Document)
                | Receive
                | AssignGrids
        ),
        CdcLiaison => matches!(action, ReadRegistry | Reveal(_) | FilterHealth),
        PointManager => matches!(
            action,
            Scan | ManageStations | IssueSupplies | Pack | HandOver | ReadLogistics
        ),
        Volunteer => matches!(action, Scan | Pack | HandOver),
        Lab => matches!(action, PostResults | Receive | ReadLogistics),
    }
}

/// Whether a role sees residents' names in full (volunteers see `王*芳`).
pub fn sees_full_names(role: Role) -> bool {
    !matches!(role, Role::Volunteer)
}

/// Whether any grant in force allows `action` at `place`.
pub fn can(grants: &[Grant], action: Action, place: &Place, now_ms: i64) -> bool {
    grants
        .iter()
        .any(|g| g.in_force(now_ms) && role_allows(g.role, action) && g.covers(place))
}

/// Whether any grant in force allows `action` anywhere (route-level check).
pub fn can_somewhere(grants: &[Grant], action: Action, now_ms: i64) -> bool {
    grants
        .iter()
        .any(|g| g.in_force(now_ms) && role_allows(g.role, action))
}

/// Whether some grant in force both allows `action` and reaches a place it
/// is checked at (see [`Action::within_reach_of`]): what a home page may
/// offer. (Routes let a grant through on its role alone; the use-case then
/// checks the place.)
pub fn can_reach_somewhere(grants: &[Grant], action: Action, now_ms: i64) -> bool {
    grants.iter().any(|g| {
        g.in_force(now_ms) && role_allows(g.role, action) && action.within_reach_of(&g.node)
    })
}

/// The nodes where `action` is allowed: what a list may be narrowed to.
pub fn nodes_for(grants: &[Grant], action: Action, now_ms: i64) -> Vec<Node> {
    grants
        .iter()
        .filter(|g| g.in_force(now_ms) && role_allows(g.role, action))
        .map(|g| g.node)
        .collect()
}

/// The territory a list asked over `asked` (a filter's node; `None`: no
/// filter) is taken over for a caller who may list `scope`: for each scope
/// node, the narrower of it and the filter when they can overlap. Two nodes
/// of different streets, or two different nodes of one rank, share nothing;
/// a community and a grid of one street, or a district and a street, are
/// taken to overlap (which grid lies in which community is not in a node).
/// Testing points hold no registry and are left out. Each node once, in
/// scope order; empty when the filter and the scope share nothing.
pub fn covered(asked: Option<Node>, scope: &[Node]) -> Vec<Node> {
    fn rank(n: Node) -> u8 {
        match n {
            Node::City => 0,
            Node::District { .. } => 1,
            Node::Street { .. } => 2,
            Node::Community { .. } => 3,
            Node::Grid { .. } => 4,
            Node::Point { .. } => 5,
        }
    }
    fn street(n: Node) -> Option<i64> {
        match n {
            Node::City | Node::District { .. } => None,
            Node::Street { id } => Some(id),
            Node::Community { street, .. }
            | Node::Grid { street, .. }
            | Node::Point { street, .. } => Some(street),
        }
    }
    let mut out: Vec<Node> = Vec::new();
    for &s in scope {
        if matches!(s, Node::Point { .. }) {
            continue;
        }
        let node = match asked {
            None => s,
            Some(a) if a == s => a,
            Some(a) => {
                if matches!((street(a), street(s)), (Some(x), Some(y)) if x != y)
                    || rank(a) == rank(s)
                {
                    continue;
                }
                if rank(s) > rank(a) {
                    s
                } else {
                    a
                }
            }
        };
        if !out.contains(&node) {
            out.push(node);
        }
    }
    out
}

/// Login back-off: after `free` failures, each further one doubles the wait
/// (30 s, 60 s, … capped at one hour).
pub fn lockout_ms(failures: u32) -> i64 {
    const FREE: u32 = 5;
    if failures < FREE {
        return 0;
    }
    let exp = (failures - FREE).min(7);
    (30_000_i64 << exp).min(3_600_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_is_taken_over_the_narrower_of_filter_and_scope() {
        let grid = Node::Grid { street: 1, id: 5 };
        let community = Node::Community { street: 1, id: 2 };
        let street = Node::Street { id: 1 };
        // No filter: the caller's own territory, each node once.
        assert_eq!(covered(None, &[grid, grid]), vec![grid]);
        assert_eq!(covered(None, &[Node::City]), vec![Node::City]);
        assert_eq!(covered(None, &[community, grid]), vec![community, grid]);
        // A filter wider than the scope: the scope; narrower: the filter.
        assert_eq!(covered(Some(street), &[grid]), vec![grid]);
        assert_eq!(covered(Some(community), &[grid]), vec![grid]);
        assert_eq!(covered(Some(grid), &[community]), vec![grid]);
        assert_eq!(covered(Some(grid), &[Node::City]), vec![grid]);
        assert_eq!(
            covered(Some(street), &[Node::District { id: 3 }]),
            vec![street]
        );
        assert_eq!(covered(Some(grid), &[grid]), vec![grid]);
        // Nothing shared: another street, another grid, a testing point.
        assert!(covered(Some(Node::Street { id: 2 }), &[grid]).is_empty());
        assert!(covered(Some(Node::Grid { street: 1, id: 6 }), &[grid]).is_empty());
        assert!(covered(None, &[Node::Point { street: 1, id: 1 }]).is_empty());
    }

    #[test]
    fn a_node_reads_as_its_kind_and_id() {
        assert_eq!(Node::Street { id: 1 }.to_string(), "street 1");
        assert_eq!(Node::Grid { street: 1, id: 5 }.to_string(), "grid 1-5");
        assert_eq!(Node::City.to_string(), "city");
    }

    fn g(role: Role, node: Node) -> Grant {
        Grant {
            role,
            node,
            from_ms: 100,
            until_ms: Some(1_000),
        }
    }
    const GRID_A: Place = Place {
        district: Some(1),
        street: 7,
        community: Some(3),
        grid: Some(30),
        point: None,
    };
    const GRID_B: Place = Place {
        district: Some(1),
        street: 7,
        community: Some(3),
        grid: Some(31),
        point: None,
    };
    const OTHER_STREET: Place = Place {
        district: Some(1),
        street: 8,
        community: Some(4),
        grid: Some(40),
        point: None,
    };

    #[test]
    fn grid_leader_sees_own_grid_only_and_never_documents() {
        let gs = [g(Role::GridLeader, Node::Grid { street: 7, id: 30 })];
        assert!(can(&gs, Action::ReadRegistry, &GRID_A, 500));
        assert!(can(&gs, Action::Reveal(Field::Phone), &GRID_A, 500));
        assert!(!can(&gs, Action::Reveal(Field::Document), &GRID_A, 500));
        assert!(!can(&gs, Action::ReadRegistry, &GRID_B, 500));
        assert!(!can(&gs, Action::ReadRegistry, &OTHER_STREET, 500));
    }

    #[test]
    fn a_grids_grant_reaches_residents_not_points_or_the_streets_work() {
        let grid = [g(Role::GridLeader, Node::Grid { street: 7, id: 30 })];
        for a in [
            Action::ReadRegistry,
            Action::WriteRegistry,
            Action::Reveal(Field::Phone),
        ] {
            assert!(can_reach_somewhere(&grid, a, 500), "{a:?}");
        }
        // Their role allows these, but no place they are checked at is in a grid.
        let point = Place {
            grid: None,
            point: Some(9),
            ..GRID_A
        };
        let street = Place {
            community: None,
            grid: None,
            ..GRID_A
        };
        for a in [
            Action::PostResults,
            Action::ManageStations,
            Action::Scan,
            Action::Pack,
        ] {
            assert!(!can_reach_somewhere(&grid, a, 500), "{a:?}");
            assert!(
                !can(&grid, a, &point, 500) && !can(&grid, a, &street, 500),
                "{a:?}"
            );
        }
        let community = [g(
            Role::CommunitySecretary,
            Node::Community { street: 7, id: 3 },
        )];
        assert!(can_reach_somewhere(&community, Action::ManageStations, 500));
        // Her role allows posting results; they are posted street-wide.
        assert!(role_allows(Role::CommunitySecretary, Action::PostResults));
        assert!(!can_reach_somewhere(&community, Action::PostResults, 500));
        assert!(!can(&community, Action::PostResults, &street, 500));
        let lab = [g(Role::Lab, Node::Street { id: 7 })];
        assert!(can_reach_somewhere(&lab, Action::PostResults, 500));
        assert!(can_reach_somewhere(&lab, Action::Receive, 500));
        let point_staff = [g(Role::PointManager, Node::Point { street: 7, id: 9 })];
        assert!(can_reach_somewhere(
            &point_staff,
            Action::ReadLogistics,
            500
        ));
    }

    #[test]
    fn a_secretary_manages_her_communitys_points_not_the_round() {
        let community = |id| Place {
            district: Some(1),
            street: 7,
            community: Some(id),
            grid: None,
            point: None,
        };
        let street = Place {
            community: None,
            ..community(3)
        };
        let sec = [g(
            Role::CommunitySecretary,
            Node::Community { street: 7, id: 3 },
        )];
        assert!(can(&sec, Action::ManagePoints, &community(3), 500));
        assert!(!can(&sec, Action::ManagePoints, &community(4), 500));
        assert!(!can(&sec, Action::ManageRounds, &street, 500));
        let chief = [g(Role::StreetCommander, Node::Street { id: 7 })];
        assert!(can(&chief, Action::ManagePoints, &community(4), 500));
        // Not a grid leader's, nor a point's staff's.
        let leader = [g(Role::GridLeader, Node::Community { street: 7, id: 3 })];
        assert!(!can(&leader, Action::ManagePoints, &community(3), 500));
        let grid = [g(
            Role::CommunitySecretary,
            Node::Grid { street: 7, id: 30 },
        )];
        assert!(!can_reach_somewhere(&grid, Action::ManagePoints, 500));
        let manager = [g(Role::PointManager, Node::Point { street: 7, id: 9 })];
        assert!(!can_reach_somewhere(&manager, Action::ManagePoints, 500));
    }

    #[test]
    fn grants_have_a_start_and_an_end() {
        let gs = [g(Role::StreetCommander, Node::Street { id: 7 })];
        assert!(!can(&gs, Action::ReadRegistry, &GRID_A, 99));
        assert!(can(&gs, Action::ReadRegistry, &GRID_B, 100));
        assert!(!can(&gs, Action::ReadRegistry, &GRID_A, 1_000));
    }

    #[test]
    fn containment_by_level() {
        assert!(g(
            Role::CommunitySecretary,
            Node::Community { street: 7, id: 3 }
        )
        .covers(&GRID_B));
        assert!(!g(
            Role::CommunitySecretary,
            Node::Community { street: 8, id: 3 }
        )
        .covers(&GRID_B));
        assert!(g(Role::Admin, Node::District { id: 1 }).covers(&OTHER_STREET));
        assert!(g(Role::Admin, Node::City).covers(&OTHER_STREET));
        assert!(!g(Role::PointManager, Node::Point { street: 7, id: 1 }).covers(&GRID_A));
        let at_point = Place {
            point: Some(1),
            ..GRID_A
        };
        assert!(g(Role::Volunteer, Node::Point { street: 7, id: 1 }).covers(&at_point));
        assert!(can(
            &[g(Role::Volunteer, Node::Point { street: 7, id: 1 })],
            Action::Scan,
            &at_point,
            500
        ));
        assert!(!can(
            &[g(Role::Volunteer, Node::Point { street: 7, id: 1 })],
            Action::ReadRegistry,
            &at_point,
            500
        ));
    }

    #[test]
    fn volunteers_and_labs_reach_no_personal_data() {
        for role in [Role::Volunteer, Role::Lab, Role::PointManager] {
            for a in [
                Action::ReadRegistry,
                Action::Reveal(Field::Phone),
                Action::Reveal(Field::Document),
                Action::ExportRoster,
                Action::FilterHealth,
            ] {
                assert!(!role_allows(role, a), "{role:?} {a:?}");
            }
        }
        assert!(!sees_full_names(Role::Volunteer));
        assert!(!role_allows(
            Role::Volunteer,
            Action::Reveal(Field::Document)
        ));
    }

    #[test]
    fn only_admins_manage_accounts_and_read_audit() {
        for role in Role::ALL {
            assert_eq!(role_allows(role, Action::ManageUsers), role == Role::Admin);
            assert_eq!(role_allows(role, Action::ReadAudit), role == Role::Admin);
            assert_eq!(Role::from_code(role.code()), Some(role));
        }
    }

    #[test]
    fn only_the_lab_receives_and_point_staff_pack() {
        for role in Role::ALL {
            assert_eq!(
                role_allows(role, Action::Receive),
                matches!(role, Role::Admin | Role::Lab),
                "{role:?}"
            );
        }
        for role in [Role::PointManager, Role::Volunteer] {
            assert!(role_allows(role, Action::Pack) && role_allows(role, Action::HandOver));
        }
        assert!(role_allows(Role::PointManager, Action::IssueSupplies));
        assert!(!role_allows(Role::Volunteer, Action::IssueSupplies));
        assert!(!role_allows(Role::Lab, Action::Pack));
        assert!(!role_allows(Role::CdcLiaison, Action::ReadLogistics));
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(lockout_ms(4), 0);
        assert_eq!(lockout_ms(5), 30_000);
        assert_eq!(lockout_ms(6), 60_000);
        assert_eq!(lockout_ms(50), 3_600_000);
    }

    #[test]
    fn nodes_round_trip() {
        for n in [
            Node::City,
            Node::District { id: 2 },
            Node::Street { id: 3 },
            Node::Community { street: 3, id: 4 },
            Node::Grid { street: 3, id: 5 },
            Node::Point { street: 3, id: 6 },
        ] {
            let (k, s, i) = n.parts();
            assert_eq!(Node::from_parts(k, s, i), Some(n));
        }
    }
}
