//! Residents: who they are, how to reach them, and the flags that drive the work.

use crate::date::Date;
use crate::idnumber::Document;
use crate::phone::{Phone, PhoneRelation};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Gender {
    Male,
    Female,
    Unknown,
}

impl Gender {
    pub fn code(self) -> &'static str {
        match self {
            Gender::Male => "M",
            Gender::Female => "F",
            Gender::Unknown => "U",
        }
    }
    pub fn from_code(s: &str) -> Gender {
        match s {
            "M" => Gender::Male,
            "F" => Gender::Female,
            _ => Gender::Unknown,
        }
    }
    pub fn from_text(s: &str) -> Option<Gender> {
        match crate::text::squeeze(s).to_lowercase().as_str() {
            "男" | "m" | "male" | "男性" => Some(Gender::Male),
            "女" | "f" | "female" | "女性" => Some(Gender::Female),
            _ => None,
        }
    }
    pub fn label_zh(self) -> &'static str {
        match self {
            Gender::Male => "男",
            Gender::Female => "女",
            Gender::Unknown => "",
        }
    }
}

/// 常住 (registered, living here) or 暂住 (staying temporarily).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResidenceType {
    Permanent,
    Temporary,
    Unknown,
}

impl ResidenceType {
    pub fn code(self) -> &'static str {
        match self {
            ResidenceType::Permanent => "permanent",
            ResidenceType::Temporary => "temporary",
            ResidenceType::Unknown => "unknown",
        }
    }
    pub fn from_code(s: &str) -> ResidenceType {
        match s {
            "permanent" => ResidenceType::Permanent,
            "temporary" => ResidenceType::Temporary,
            _ => ResidenceType::Unknown,
        }
    }
    pub fn from_text(s: &str) -> Option<ResidenceType> {
        let t = crate::text::squeeze(s).to_lowercase();
        if t.contains("暂住") || t.contains("流动") || t.contains("租") || t.contains("temporary")
        {
            Some(ResidenceType::Temporary)
        } else if t.contains("常住")
            || t.contains("户籍")
            || t.contains("本地")
            || t.contains("permanent")
        {
            Some(ResidenceType::Permanent)
        } else {
            None
        }
    }
    pub fn label_zh(self) -> &'static str {
        match self {
            ResidenceType::Permanent => "常住",
            ResidenceType::Temporary => "暂住",
            ResidenceType::Unknown => "",
        }
    }
}

/// A condition that changes how the operation treats a resident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flag {
    /// 行动不便 / 不能下楼: sampled at the door, supplies carried up.
    CannotGoDownstairs,
    /// 独居老人
    ElderlyAlone,
    /// 透析
    Dialysis,
    /// 慢性病 / 长期治疗 (chemotherapy, insulin …)
    ChronicTreatment,
    /// 孕妇
    Pregnant,
    /// 低保
    LowIncome,
    /// 儿童独自在家
    ChildAlone,
    /// 无智能手机: needs a printed code and a phone call, not an app.
    NoSmartphone,
}

impl Flag {
    pub const ALL: [Flag; 8] = [
        Flag::CannotGoDownstairs,
        Flag::ElderlyAlone,
        Flag::Dialysis,
        Flag::ChronicTreatment,
        Flag::Pregnant,
        Flag::LowIncome,
        Flag::ChildAlone,
        Flag::NoSmartphone,
    ];
    pub fn bit(self) -> u32 {
        1 << (self as u32)
    }
    pub fn code(self) -> &'static str {
        match self {
            Flag::CannotGoDownstairs => "cannot_go_downstairs",
            Flag::ElderlyAlone => "elderly_alone",
            Flag::Dialysis => "dialysis",
            Flag::ChronicTreatment => "chronic_treatment",
            Flag::Pregnant => "pregnant",
            Flag::LowIncome => "low_income",
            Flag::ChildAlone => "child_alone",
            Flag::NoSmartphone => "no_smartphone",
        }
    }
    pub fn from_code(s: &str) -> Option<Flag> {
        Flag::ALL.into_iter().find(|f| f.code() == s)
    }
    /// Flags by their codes, as an API or a command line gives them; the
    /// first unknown one is named with the codes there are.
    pub fn from_codes<S: AsRef<str>>(codes: &[S]) -> Result<Vec<Flag>, String> {
        codes
            .iter()
            .map(|c| {
                let c = c.as_ref().trim();
                Flag::from_code(c).ok_or_else(|| {
                    format!(
                        "没有标记“{c}” / no flag “{c}”: one of {}",
                        Flag::ALL.map(Flag::code).join(", ")
                    )
                })
            })
            .collect()
    }
    pub fn label_zh(self) -> &'static str {
        match self {
            Flag::CannotGoDownstairs => "行动不便",
            Flag::ElderlyAlone => "独居老人",
            Flag::Dialysis => "透析",
            Flag::ChronicTreatment => "慢病治疗",
            Flag::Pregnant => "孕妇",
            Flag::LowIncome => "低保",
            Flag::ChildAlone => "儿童独自在家",
            Flag::NoSmartphone => "无智能手机",
        }
    }
    /// Words in a free-text cell (特殊人群, 备注) that mean this flag.
    pub fn keywords(self) -> &'static [&'static str] {
        match self {
            Flag::CannotGoDownstairs => &[
                "行动不便",
                "不能下楼",
                "无法下楼",
                "卧床",
                "瘫痪",
                "残疾",
                "坐轮椅",
                "轮椅",
                "cannot go downstairs",
                "bedridden",
            ],
            Flag::ElderlyAlone => &["独居", "空巢", "elderly alone", "lives alone"],
            Flag::Dialysis => &["透析", "血透", "腹透", "dialysis"],
            Flag::ChronicTreatment => &[
                "慢病",
                "慢性病",
                "化疗",
                "放疗",
                "胰岛素",
                "长期服药",
                "chronic",
            ],
            Flag::Pregnant => &["孕妇", "怀孕", "孕期", "待产", "pregnant"],
            Flag::LowIncome => &["低保", "特困", "low income", "low-income"],
            Flag::ChildAlone => &["儿童独自", "独自在家", "留守儿童", "child alone"],
            Flag::NoSmartphone => &[
                "无智能手机",
                "没有智能手机",
                "老年机",
                "无手机",
                "no smartphone",
            ],
        }
    }
    /// The flags a free-text cell mentions. A mention right after a negation
    /// (非孕妇, 已无需透析, 不是独居, 没有低保) sets nothing, nor does 无手机 in
    /// 无手机号 (no phone number); a cell saying the person has a smartphone
    /// (有智能手机, not 没有智能手机) never sets 无智能手机.
    pub fn scan_text(s: &str) -> Flags {
        let t = crate::text::clean(s).to_lowercase();
        let mut f = Flags::default();
        for flag in Flag::ALL {
            let affirmed = flag.keywords().iter().any(|k| {
                t.match_indices(k).any(|(at, _)| {
                    let before = t[..at].trim_end();
                    let after = t[at + k.len()..].trim_start();
                    // A question (是否独居：是 / 有无透析：无) is answered after it.
                    let asked = before.ends_with("是否") || before.ends_with("有无");
                    let denied = if asked {
                        let answer =
                            after.trim_start_matches([':', '：', ',', '，', ' ', '？', '?']);
                        ["否", "无", "不", "没"]
                            .iter()
                            .any(|n| answer.starts_with(n))
                    } else {
                        NEGATIONS.iter().any(|n| before.ends_with(n))
                    };
                    // 无手机号: no phone number, not no phone.
                    let no_number =
                        flag == Flag::NoSmartphone && *k == "无手机" && after.starts_with('号');
                    !denied && !no_number
                })
            });
            if affirmed && !(flag == Flag::NoSmartphone && has_smartphone(&t)) {
                f.set(flag);
            }
        }
        f
    }
}

/// Words that deny the flag word right after them.
const NEGATIONS: [&str; 15] = [
    "非",
    "不是",
    "并非",
    "无需",
    "无须",
    "不需",
    "不需要",
    "不用",
    "没有",
    "没",
    "不",
    "未",
    "无",
    "否",
    "不再",
];

/// `有智能手机` said, not denied (`没有智能手机`, `无智能手机`).
fn has_smartphone(t: &str) -> bool {
    t.match_indices("有智能手机").any(|(at, _)| {
        let before = t[..at].trim_end();
        !(before.ends_with('没') || before.ends_with('无') || before.ends_with("不"))
    })
}

/// A set of [`Flag`]s, stored as a bit mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Flags(pub u32);

impl Flags {
    pub fn set(&mut self, f: Flag) {
        self.0 |= f.bit();
    }
    pub fn has(self, f: Flag) -> bool {
        self.0 & f.bit() != 0
    }
    pub fn union(self, other: Flags) -> Flags {
        Flags(self.0 | other.0)
    }
    pub fn iter(self) -> impl Iterator<Item = Flag> {
        Flag::ALL.into_iter().filter(move |f| self.has(*f))
    }
    pub fn codes(self) -> Vec<&'static str> {
        self.iter().map(Flag::code).collect()
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// `是`, `Y`, `yes`, `√`, `1`, `有` → true; `否`, `N`, `no`, `×`, `0`, `无` → false.
pub fn yes_no(s: &str) -> Option<bool> {
    match crate::text::squeeze(s).to_lowercase().as_str() {
        "是" | "y" | "yes" | "√" | "✓" | "1" | "有" | "true" | "对" | "是的" => Some(true),
        "否" | "n" | "no" | "×" | "✗" | "0" | "无" | "false" | "不是" | "没有" | "" => {
            Some(false)
        }
        _ => None,
    }
}

/// A phone with whose it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResidentPhone {
    pub phone: Phone,
    pub relation: PhoneRelation,
}

/// A person as a roster describes them, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewResident {
    pub name: String,
    pub gender: Gender,
    pub document: Option<Document>,
    pub birth_date: Option<Date>,
    pub phones: Vec<ResidentPhone>,
    pub residence: ResidenceType,
    pub flags: Flags,
    pub notes: String,
}

impl NewResident {
    pub fn named(name: &str) -> NewResident {
        NewResident {
            name: name.to_string(),
            gender: Gender::Unknown,
            document: None,
            birth_date: None,
            phones: Vec::new(),
            residence: ResidenceType::Unknown,
            flags: Flags::default(),
            notes: String::new(),
        }
    }
}

/// Whether a resident is confirmed (on a roster) or pending (a walk-in sampled
/// at a point, on no roster, to be matched later).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResidentStatus {
    Active,
    Pending,
    /// Left the registry (see [`LeaveReason`]): their data stays, no round
    /// opened after expects them.
    Left,
}

impl ResidentStatus {
    pub fn code(self) -> &'static str {
        match self {
            ResidentStatus::Active => "active",
            ResidentStatus::Pending => "pending",
            ResidentStatus::Left => "left",
        }
    }
    pub fn from_code(s: &str) -> ResidentStatus {
        match s {
            "pending" => ResidentStatus::Pending,
            "left" => ResidentStatus::Left,
            _ => ResidentStatus::Active,
        }
    }
}

/// Why a resident left the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeaveReason {
    /// 离世
    Deceased,
    /// 迁出本街道
    MovedOut,
}

impl LeaveReason {
    pub const ALL: [LeaveReason; 2] = [LeaveReason::Deceased, LeaveReason::MovedOut];

    pub fn code(self) -> &'static str {
        match self {
            LeaveReason::Deceased => "deceased",
            LeaveReason::MovedOut => "moved_out",
        }
    }

    /// A code, or its Chinese or English words.
    pub fn parse(s: &str) -> Option<LeaveReason> {
        match crate::text::squeeze(s).to_lowercase().as_str() {
            "deceased" | "离世" | "死亡" | "已故" | "去世" | "dead" => {
                Some(LeaveReason::Deceased)
            }
            "moved_out" | "迁出" | "迁出本街道" | "moved out" => Some(LeaveReason::MovedOut),
            _ => None,
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            LeaveReason::Deceased => "离世",
            LeaveReason::MovedOut => "迁出本街道",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            LeaveReason::Deceased => "deceased",
            LeaveReason::MovedOut => "moved out of the street",
        }
    }

    /// The exemption a round still sampling gives someone who left this way
    /// (the words an exemption has: `deceased`, `moved_out`).
    pub fn exemption(self) -> &'static str {
        self.code()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn leave_reasons_parse_and_round_trip() {
        for r in LeaveReason::ALL {
            assert_eq!(LeaveReason::parse(r.code()), Some(r));
            assert_eq!(LeaveReason::parse(r.label_zh()), Some(r));
        }
        assert_eq!(LeaveReason::parse(" 离世 "), Some(LeaveReason::Deceased));
        assert_eq!(LeaveReason::parse("away"), None);
        assert_eq!(ResidentStatus::from_code("left"), ResidentStatus::Left);
        assert_eq!(ResidentStatus::Left.code(), "left");
    }
    #[test]
    fn flags_from_text() {
        let f = Flag::scan_text("独居老人，行动不便，每周二四六血透");
        assert!(f.has(Flag::ElderlyAlone));
        assert!(f.has(Flag::CannotGoDownstairs));
        assert!(f.has(Flag::Dialysis));
        assert!(!f.has(Flag::Pregnant));
        assert_eq!(
            f.codes(),
            vec!["cannot_go_downstairs", "elderly_alone", "dialysis"]
        );
        assert!(Flag::scan_text("").is_empty());
        assert!(Flag::scan_text("无智能手机").has(Flag::NoSmartphone));
        assert!(Flag::scan_text("没有智能手机，老年机").has(Flag::NoSmartphone));
        assert!(Flag::scan_text("行动不便").has(Flag::CannotGoDownstairs));
        for fl in Flag::ALL {
            assert_eq!(Flag::from_code(fl.code()), Some(fl));
        }
    }
    #[test]
    fn negated_words_set_no_flag() {
        // Found by an end-to-end review: each of these set the flag it denies.
        for (text, flag) in [
            ("非孕妇", Flag::Pregnant),
            ("已无需透析", Flag::Dialysis),
            ("子女同住，不是独居", Flag::ElderlyAlone),
            ("有智能手机（无手机号）", Flag::NoSmartphone),
            ("没有低保", Flag::LowIncome),
            ("并非 独居", Flag::ElderlyAlone),
        ] {
            assert!(!Flag::scan_text(text).has(flag), "{text}");
        }
        // A denial touches only the word it stands before.
        let f = Flag::scan_text("非孕妇，独居老人");
        assert!(f.has(Flag::ElderlyAlone) && !f.has(Flag::Pregnant));
        assert!(Flag::scan_text("无手机").has(Flag::NoSmartphone));
        // A form's question is answered after it.
        assert!(Flag::scan_text("是否独居：是").has(Flag::ElderlyAlone));
        assert!(Flag::scan_text("是否透析: 是").has(Flag::Dialysis));
        assert!(!Flag::scan_text("是否独居：否").has(Flag::ElderlyAlone));
        assert!(!Flag::scan_text("有无透析：无").has(Flag::Dialysis));
        assert!(Flag::scan_text("Cannot go downstairs").has(Flag::CannotGoDownstairs));
    }
    #[test]
    fn flags_by_code() {
        assert_eq!(
            Flag::from_codes(&[" dialysis", "no_smartphone"]),
            Ok(vec![Flag::Dialysis, Flag::NoSmartphone])
        );
        let e = Flag::from_codes(&["wings"]).unwrap_err();
        assert!(
            e.contains("wings") && e.contains("cannot_go_downstairs"),
            "{e}"
        );
    }

    #[test]
    fn yes_no_cells() {
        assert_eq!(yes_no("是"), Some(true));
        assert_eq!(yes_no(" √ "), Some(true));
        assert_eq!(yes_no("否"), Some(false));
        assert_eq!(yes_no(""), Some(false));
        assert_eq!(yes_no("也许"), None);
    }
    #[test]
    fn gender_and_residence() {
        assert_eq!(Gender::from_text("女"), Some(Gender::Female));
        assert_eq!(Gender::from_code(Gender::Male.code()), Gender::Male);
        assert_eq!(
            ResidenceType::from_text("暂住人口"),
            Some(ResidenceType::Temporary)
        );
        assert_eq!(
            ResidenceType::from_text("常住"),
            Some(ResidenceType::Permanent)
        );
        assert_eq!(ResidenceType::from_text("其他"), None);
    }
}
