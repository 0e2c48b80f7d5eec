//! Phone numbers as rosters carry them: mainland mobiles (11 digits, `1[3-9]…`),
//! landlines with an area code (`0431-88881234`), `+86` prefixes, full-width
//! digits, spaces and dashes.

use crate::text::squeeze;
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Phone(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("电话为空 / empty")]
    Empty,
    #[error("电话位数不对（{0} 位）：手机号11位，固话连区号10至12位 / {0} digits; a mobile has 11, a landline 10 to 12 with its area code")]
    WrongLength(usize),
    #[error("手机号应以13-19开头 / a mobile number starts with 13-19")]
    BadPrefix,
    #[error("电话含非法字符 / contains letters or symbols")]
    BadCharacters,
}

impl Phone {
    pub fn parse(raw: &str) -> Result<Phone, PhoneError> {
        let t = squeeze(raw);
        if t.is_empty() {
            return Err(PhoneError::Empty);
        }
        let mut digits = String::new();
        for c in t.chars() {
            match c {
                '0'..='9' => digits.push(c),
                '-' | '—' | '–' | '(' | ')' | '（' | '）' | '+' | '.' => {}
                _ => return Err(PhoneError::BadCharacters),
            }
        }
        // An Excel number cell read as text: "13812345678.0".
        if let Some(stripped) = t.strip_suffix(".0") {
            if stripped.bytes().all(|b| b.is_ascii_digit()) {
                digits = stripped.to_string();
            }
        }
        if digits.len() == 13 && digits.starts_with("86") {
            digits.drain(0..2);
        }
        if digits.starts_with('1') {
            if digits.len() != 11 {
                return Err(PhoneError::WrongLength(digits.len()));
            }
            if !matches!(digits.as_bytes()[1], b'3'..=b'9') {
                return Err(PhoneError::BadPrefix);
            }
            return Ok(Phone(digits));
        }
        if digits.starts_with('0') && (10..=12).contains(&digits.len()) {
            return Ok(Phone(digits));
        }
        Err(PhoneError::WrongLength(digits.len()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn is_mobile(&self) -> bool {
        self.0.starts_with('1')
    }
    /// Builds a phone from a trusted, normalised string (storage, demo data).
    pub fn from_normalised(s: String) -> Phone {
        Phone(s)
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whose phone it is, relative to the resident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhoneRelation {
    Own,
    Child,
    Spouse,
    Relative,
    Neighbour,
    Other,
}

impl PhoneRelation {
    pub const ALL: [PhoneRelation; 6] = [
        PhoneRelation::Own,
        PhoneRelation::Child,
        PhoneRelation::Spouse,
        PhoneRelation::Relative,
        PhoneRelation::Neighbour,
        PhoneRelation::Other,
    ];
    pub fn code(self) -> &'static str {
        match self {
            PhoneRelation::Own => "own",
            PhoneRelation::Child => "child",
            PhoneRelation::Spouse => "spouse",
            PhoneRelation::Relative => "relative",
            PhoneRelation::Neighbour => "neighbour",
            PhoneRelation::Other => "other",
        }
    }
    pub fn from_code(s: &str) -> Option<PhoneRelation> {
        PhoneRelation::ALL.into_iter().find(|r| r.code() == s)
    }
    pub fn label_zh(self) -> &'static str {
        match self {
            PhoneRelation::Own => "本人",
            PhoneRelation::Child => "子女",
            PhoneRelation::Spouse => "配偶",
            PhoneRelation::Relative => "亲属",
            PhoneRelation::Neighbour => "邻居",
            PhoneRelation::Other => "其他",
        }
    }
    /// A relation named in a header or next to a number (`子女电话`, `邻居：…`).
    pub fn from_text(s: &str) -> Option<PhoneRelation> {
        let t = s.to_lowercase();
        [
            (["子女", "儿子", "女儿", "child"], PhoneRelation::Child),
            (["配偶", "老伴", "妻", "spouse"], PhoneRelation::Spouse),
            (
                ["亲属", "家属", "亲戚", "relative"],
                PhoneRelation::Relative,
            ),
            (["邻居", "neighbo", "邻", "近邻"], PhoneRelation::Neighbour),
            (["紧急", "联系人", "other", "备用"], PhoneRelation::Other),
            (["本人", "own", "self", "自己"], PhoneRelation::Own),
        ]
        .into_iter()
        .find(|(keys, _)| keys.iter().any(|k| t.contains(k)))
        .map(|(_, r)| r)
    }
}

/// Splits a cell holding several numbers (`138… / 139…`, `138…；139…`).
pub fn split_phones(cell: &str) -> Vec<&str> {
    cell.split(['/', ',', '，', ';', '；', '、', '\n', '|'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn mobiles_and_landlines() {
        for s in [
            "13812345678",
            "138 1234 5678",
            "138-1234-5678",
            "+86 138 1234 5678",
            "１３８１２３４５６７８",
            "13812345678.0",
        ] {
            assert_eq!(Phone::parse(s).unwrap().as_str(), "13812345678", "{s}");
        }
        assert_eq!(
            Phone::parse("0431-88881234").unwrap().as_str(),
            "043188881234"
        );
        assert!(Phone::parse("0431-88881234")
            .unwrap()
            .as_str()
            .starts_with("0431"));
        assert_eq!(Phone::parse("1381234567"), Err(PhoneError::WrongLength(10)));
        assert_eq!(Phone::parse("12812345678"), Err(PhoneError::BadPrefix));
        assert_eq!(Phone::parse("138abc"), Err(PhoneError::BadCharacters));
        assert_eq!(Phone::parse(" "), Err(PhoneError::Empty));
        assert_eq!(Phone::parse("88881234"), Err(PhoneError::WrongLength(8)));
    }
    #[test]
    fn relations_and_splitting() {
        assert_eq!(
            PhoneRelation::from_text("子女电话"),
            Some(PhoneRelation::Child)
        );
        assert_eq!(
            PhoneRelation::from_text("邻居电话"),
            Some(PhoneRelation::Neighbour)
        );
        assert_eq!(
            PhoneRelation::from_text("紧急联系人电话"),
            Some(PhoneRelation::Other)
        );
        assert_eq!(PhoneRelation::from_text("联系电话"), None);
        assert_eq!(PhoneRelation::from_text("手机号"), None);
        assert_eq!(
            split_phones("13812345678 / 13912345678；0431-88881234"),
            vec!["13812345678", "13912345678", "0431-88881234"]
        );
        for r in PhoneRelation::ALL {
            assert_eq!(PhoneRelation::from_code(r.code()), Some(r));
        }
    }
}
