//! Territory: city → district → street → community → grid → compound →
//! building → unit → household, official area codes, names as rosters write
//! them, and control status.

use crate::text::{chinese_number, squeeze};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    City,
    District,
    Street,
    Community,
    Grid,
    Compound,
    Building,
    Unit,
    Household,
}

/// An official administrative area code (区划代码): 6 digits for a district,
/// 9 for a street, 12 for a community; grids may carry a longer local code.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AreaCode(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an area code (6, 9, 12 or 15 digits): {0}")]
pub struct AreaCodeError(pub String);

impl AreaCode {
    pub fn parse(s: &str) -> Result<AreaCode, AreaCodeError> {
        let t = squeeze(s);
        if matches!(t.len(), 6 | 9 | 12 | 15) && t.bytes().all(|b| b.is_ascii_digit()) {
            Ok(AreaCode(t))
        } else {
            Err(AreaCodeError(s.to_string()))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// Whether a CLI argument looks like a code rather than a name.
    pub fn looks_like_code(s: &str) -> bool {
        AreaCode::parse(s).is_ok()
    }
}

fn leading_number(s: &str) -> Option<(u32, &str)> {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    if end > 0 {
        return Some((s[..end].parse().ok()?, &s[end..]));
    }
    // Chinese numerals: 三号楼, 十二栋.
    let mut best = None;
    for (i, _) in s
        .char_indices()
        .skip(1)
        .chain(std::iter::once((s.len(), ' ')))
    {
        if let Some(n) = chinese_number(&s[..i]) {
            best = Some((n, &s[i..]));
        }
    }
    best
}

/// `3`, `3号楼`, `3栋`, `3号`, `3#`, `三号楼`, `3幢` → `3号楼`; other names kept.
pub fn building_name(s: &str) -> String {
    let t = squeeze(s);
    if let Some((n, rest)) = leading_number(&t) {
        if matches!(
            rest,
            "" | "号楼" | "栋" | "号" | "楼" | "幢" | "#" | "号栋" | "栋楼" | "座"
        ) {
            return format!("{n}号楼");
        }
    }
    t
}

/// The building a sheet is named after (`3号楼`, `3栋`), if it is.
pub fn building_from_sheet_name(s: &str) -> Option<String> {
    let t = squeeze(s);
    let (_, rest) = leading_number(&t)?;
    matches!(rest, "号楼" | "栋" | "楼" | "幢" | "#" | "号栋" | "座").then(|| building_name(&t))
}

/// `1`, `1单元`, `一单元`, `01` → `1`; empty stays empty (a building without units).
pub fn unit_name(s: &str) -> String {
    let t = squeeze(s);
    if let Some((n, rest)) = leading_number(&t) {
        if matches!(rest, "" | "单元" | "门" | "单") {
            return n.to_string();
        }
    }
    t
}

/// `301`, `301室`, `301号` → `301`; other forms kept as written.
pub fn room_name(s: &str) -> String {
    let t = squeeze(s);
    let t = t.trim_end_matches(['室', '号', '户']);
    t.to_string()
}

/// The floor of a room number (`301` → 3, `1502` → 15), where it shows one.
pub fn floor_of_room(room: &str) -> Option<u32> {
    let digits: String = room.chars().take_while(|c| c.is_ascii_digit()).collect();
    match digits.len() {
        3 => digits[..1].parse().ok(),
        4 => digits[..2].parse().ok(),
        _ => None,
    }
}

/// 封控 sealed / 管控 controlled / 防范 precaution / 临时管控 temporary control.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ControlStatus {
    Sealed,
    Controlled,
    Precaution,
    Temporary,
}

impl ControlStatus {
    pub const ALL: [ControlStatus; 4] = [
        ControlStatus::Sealed,
        ControlStatus::Controlled,
        ControlStatus::Precaution,
        ControlStatus::Temporary,
    ];
    pub fn code(self) -> &'static str {
        match self {
            ControlStatus::Sealed => "sealed",
            ControlStatus::Controlled => "controlled",
            ControlStatus::Precaution => "precaution",
            ControlStatus::Temporary => "temporary",
        }
    }
    pub fn from_code(s: &str) -> Option<ControlStatus> {
        ControlStatus::ALL.into_iter().find(|c| c.code() == s)
    }
    pub fn label_zh(self) -> &'static str {
        match self {
            ControlStatus::Sealed => "封控区",
            ControlStatus::Controlled => "管控区",
            ControlStatus::Precaution => "防范区",
            ControlStatus::Temporary => "临时管控",
        }
    }
    /// Residents under this status are sampled at their door, not called down.
    pub fn door_to_door_only(self) -> bool {
        matches!(self, ControlStatus::Sealed | ControlStatus::Temporary)
    }
    /// Residents under this status may not leave their compound (管控区:
    /// 人不出小区): called only to a point inside it.
    pub fn stays_in_compound(self) -> bool {
        self == ControlStatus::Controlled
    }
    /// Residents under this status are sampled at their door in a round
    /// where their compound has (`true`) or has no testing point: sealed and
    /// temporary control always, controlled where no point stands inside the
    /// compound (the one rule the planner and the door-to-door lists read).
    pub fn at_the_door(self, compound_has_point: bool) -> bool {
        self.door_to_door_only() || (self.stays_in_compound() && !compound_has_point)
    }
}

/// What a control status can be set on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ControlTarget {
    Compound,
    Building,
    Unit,
    Household,
}

impl ControlTarget {
    pub const ALL: [ControlTarget; 4] = [
        ControlTarget::Compound,
        ControlTarget::Building,
        ControlTarget::Unit,
        ControlTarget::Household,
    ];
    pub fn code(self) -> &'static str {
        match self {
            ControlTarget::Compound => "compound",
            ControlTarget::Building => "building",
            ControlTarget::Unit => "unit",
            ControlTarget::Household => "household",
        }
    }
    pub fn from_code(s: &str) -> Option<ControlTarget> {
        ControlTarget::ALL.into_iter().find(|c| c.code() == s)
    }
}

/// One control-status order: in force from `from_ms` until `until_ms` (open-ended when None).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ControlOrder {
    pub status: ControlStatus,
    pub from_ms: i64,
    pub until_ms: Option<i64>,
}

impl ControlOrder {
    pub fn in_force_at(&self, at_ms: i64) -> bool {
        self.from_ms <= at_ms && self.until_ms.is_none_or(|u| at_ms < u)
    }
}

/// The order in force at `at_ms` among a history (the latest-starting one wins).
pub fn control_in_force(history: &[ControlOrder], at_ms: i64) -> Option<&ControlOrder> {
    history
        .iter()
        .filter(|o| o.in_force_at(at_ms))
        .max_by_key(|o| o.from_ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn building_names() {
        for s in [
            "3",
            "3号楼",
            "3栋",
            "3号",
            "3#",
            "三号楼",
            "3幢",
            " ３号楼 ",
        ] {
            assert_eq!(building_name(s), "3号楼", "{s}");
        }
        assert_eq!(building_name("十二栋"), "12号楼");
        assert_eq!(building_name("综合楼"), "综合楼");
        assert_eq!(building_from_sheet_name("3号楼"), Some("3号楼".into()));
        assert_eq!(building_from_sheet_name("汇总"), None);
        assert_eq!(building_from_sheet_name("Sheet1"), None);
    }
    #[test]
    fn units_and_rooms() {
        for s in ["1", "1单元", "一单元", "01"] {
            assert_eq!(unit_name(s), "1", "{s}");
        }
        assert_eq!(unit_name(""), "");
        assert_eq!(room_name("301室"), "301");
        assert_eq!(room_name(" 1502 "), "1502");
        assert_eq!(floor_of_room("301"), Some(3));
        assert_eq!(floor_of_room("1502"), Some(15));
        assert_eq!(floor_of_room("A"), None);
    }
    #[test]
    fn area_codes() {
        assert!(AreaCode::parse("220102").is_ok());
        assert!(AreaCode::parse("220102001").is_ok());
        assert!(AreaCode::parse("220102001001").is_ok());
        assert!(AreaCode::parse("2201").is_err());
        assert!(!AreaCode::looks_like_code("东风社区"));
    }
    #[test]
    fn control_history() {
        let h = vec![
            ControlOrder {
                status: ControlStatus::Precaution,
                from_ms: 0,
                until_ms: None,
            },
            ControlOrder {
                status: ControlStatus::Sealed,
                from_ms: 100,
                until_ms: Some(200),
            },
        ];
        assert_eq!(
            control_in_force(&h, 50).unwrap().status,
            ControlStatus::Precaution
        );
        assert_eq!(
            control_in_force(&h, 150).unwrap().status,
            ControlStatus::Sealed
        );
        assert_eq!(
            control_in_force(&h, 200).unwrap().status,
            ControlStatus::Precaution
        );
        assert!(control_in_force(&h, -1).is_none());
        assert!(ControlStatus::Sealed.door_to_door_only());
        assert!(!ControlStatus::Precaution.door_to_door_only());
    }
}
