//! Identity documents. The resident ID card number is GB 11643-1999: six digits
//! of area code, eight of birth date, three of sequence (odd for men), and a
//! MOD 11-2 check character (`0`-`9` or `X`). Fifteen-digit numbers from the
//! first-generation cards are converted (century `19`, check computed).

use crate::date::Date;
use crate::text::squeeze;
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocKind {
    /// 居民身份证
    IdCard,
    /// 护照
    Passport,
    /// 港澳居民来往内地通行证 / 居住证
    HkMacauPermit,
    /// 台湾居民来往大陆通行证 / 居住证
    TaiwanPermit,
    /// 外国人永久居留身份证
    ForeignPermanentResident,
}

impl DocKind {
    pub const ALL: [DocKind; 5] = [
        DocKind::IdCard,
        DocKind::Passport,
        DocKind::HkMacauPermit,
        DocKind::TaiwanPermit,
        DocKind::ForeignPermanentResident,
    ];
    pub fn code(self) -> &'static str {
        match self {
            DocKind::IdCard => "id_card",
            DocKind::Passport => "passport",
            DocKind::HkMacauPermit => "hk_macau_permit",
            DocKind::TaiwanPermit => "taiwan_permit",
            DocKind::ForeignPermanentResident => "foreign_permanent_resident",
        }
    }
    pub fn from_code(s: &str) -> Option<DocKind> {
        DocKind::ALL.into_iter().find(|k| k.code() == s)
    }
    pub fn label_zh(self) -> &'static str {
        match self {
            DocKind::IdCard => "居民身份证",
            DocKind::Passport => "护照",
            DocKind::HkMacauPermit => "港澳居民通行证",
            DocKind::TaiwanPermit => "台湾居民通行证",
            DocKind::ForeignPermanentResident => "外国人永久居留身份证",
        }
    }
    pub fn label_en(self) -> &'static str {
        match self {
            DocKind::IdCard => "resident ID card",
            DocKind::Passport => "passport",
            DocKind::HkMacauPermit => "Hong Kong/Macau permit",
            DocKind::TaiwanPermit => "Taiwan permit",
            DocKind::ForeignPermanentResident => "foreign permanent resident card",
        }
    }
    /// What a roster's "证件类型" cell says, in Chinese or English.
    pub fn from_label(s: &str) -> Option<DocKind> {
        let t = squeeze(s).to_lowercase();
        if t.is_empty() {
            return None;
        }
        Some(
            if t.contains("身份证") && !t.contains("永久") || t == "id" || t.contains("idcard")
            {
                DocKind::IdCard
            } else if t.contains("护照") || t.contains("passport") {
                DocKind::Passport
            } else if t.contains("港")
                || t.contains("澳")
                || t.contains("hk")
                || t.contains("macau")
            {
                DocKind::HkMacauPermit
            } else if t.contains("台") || t.contains("taiwan") {
                DocKind::TaiwanPermit
            } else if t.contains("永久") || t.contains("外国") || t.contains("foreign") {
                DocKind::ForeignPermanentResident
            } else {
                return None;
            },
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdNumberError {
    #[error("证件号为空 / empty")]
    Empty,
    #[error("Excel 把证件号存成了数字（{0}），末几位已丢失，请将该列设为文本后重新录入 / Excel stored the number as a number ({0}) and dropped its last digits; format the column as text and type it again")]
    DigitsLost(String),
    #[error("位数不对（{0} 位），身份证号应为18位（旧证15位）/ {0} characters; an ID card number has 18 (or 15 on an old card)")]
    WrongLength(usize),
    #[error("含有非法字符 / contains characters other than digits and a final X")]
    BadCharacters,
    #[error("号码中的出生日期 {0} 无效 / birth date {0} inside the number is not a real date")]
    BadBirthDate(String),
    #[error("校验位错误，应为 {expected} 而不是 {found}（有一位输错了）/ check character should be {expected}, not {found} (a digit was mistyped)")]
    BadCheck { expected: char, found: char },
    #[error("{}号码格式不正确 / not a valid {} number", .0.label_zh(), .0.label_en())]
    BadFormat(DocKind),
}

impl IdNumberError {
    /// The reason without any part of the number it was about (the birth
    /// date, the digits Excel kept): what a stored flag may say, where people
    /// who never saw the number read it.
    pub fn without_digits(&self) -> String {
        match self {
            IdNumberError::DigitsLost(_) => "Excel 把证件号存成了数字，末几位已丢失 / Excel stored the number as a number and dropped its last digits".into(),
            IdNumberError::BadBirthDate(_) => "号码中的出生日期无效 / the birth date inside the number is not a real date".into(),
            IdNumberError::BadCheck { .. } => "校验位错误（有一位输错了）/ check character wrong (a digit was mistyped)".into(),
            other => other.to_string(),
        }
    }
}

/// A valid, normalised resident ID card number (18 characters, upper-case X).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IdNumber(String);

const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECKS: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];

/// The MOD 11-2 check character of the first 17 digits.
pub fn check_char(first17: &str) -> Option<char> {
    if first17.len() != 17 {
        return None;
    }
    let mut sum = 0;
    for (c, w) in first17.chars().zip(WEIGHTS) {
        sum += c.to_digit(10)? * w;
    }
    Some(CHECKS[(sum % 11) as usize])
}

/// Looks like Excel's scientific notation: `2.20102E+17`.
fn is_scientific(t: &str) -> bool {
    let u = t.to_ascii_uppercase();
    u.contains("E+")
        && u.replace(['.', 'E', '+'], "")
            .bytes()
            .all(|b| b.is_ascii_digit())
}

impl IdNumber {
    /// Parses what people type: full-width digits, spaces and dashes inside,
    /// a lowercase `x`, a 15-digit old number. Refuses what Excel mangled.
    pub fn parse(raw: &str) -> Result<IdNumber, IdNumberError> {
        let t: String = squeeze(raw)
            .chars()
            .filter(|c| !matches!(c, '-' | '—' | '–' | '_'))
            .collect();
        if t.is_empty() {
            return Err(IdNumberError::Empty);
        }
        if is_scientific(&t) {
            return Err(IdNumberError::DigitsLost(t));
        }
        let t = t.to_ascii_uppercase();
        let n = t.chars().count();
        match n {
            15 => {
                if !t.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(IdNumberError::BadCharacters);
                }
                let first17 = format!("{}19{}", &t[0..6], &t[6..15]);
                check_birth(&first17[6..14])?;
                let check = check_char(&first17).ok_or(IdNumberError::BadCharacters)?;
                Ok(IdNumber(format!("{first17}{check}")))
            }
            // Characters, not bytes, were counted: anything beyond ASCII is
            // refused before the number is split by byte position.
            18 if !t.is_ascii() => Err(IdNumberError::BadCharacters),
            18 => {
                let (body, last) = t.split_at(17);
                let last = last.chars().next().ok_or(IdNumberError::BadCharacters)?;
                if !body.bytes().all(|b| b.is_ascii_digit())
                    || !(last.is_ascii_digit() || last == 'X')
                {
                    return Err(IdNumberError::BadCharacters);
                }
                check_birth(&body[6..14])?;
                let expected = check_char(body).ok_or(IdNumberError::BadCharacters)?;
                if expected != last {
                    return Err(IdNumberError::BadCheck {
                        expected,
                        found: last,
                    });
                }
                Ok(IdNumber(t))
            }
            n => Err(IdNumberError::WrongLength(n)),
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn birth_date(&self) -> Option<Date> {
        Date::parse(&self.0[6..14]).ok()
    }
    /// The 17th character: odd for men, even for women.
    pub fn gender(&self) -> Gender {
        match self.0.as_bytes()[16] - b'0' {
            d if d % 2 == 1 => Gender::Male,
            _ => Gender::Female,
        }
    }
    /// The six-digit administrative area code of issue.
    pub fn area_code(&self) -> &str {
        &self.0[0..6]
    }
    /// Builds a valid number from its parts (demo data and tests).
    pub fn compose(area6: &str, birth: Date, seq3: u16) -> Option<IdNumber> {
        let first17 = format!(
            "{area6}{:04}{:02}{:02}{:03}",
            birth.year(),
            birth.month(),
            birth.day(),
            seq3 % 1000
        );
        let c = check_char(&first17)?;
        Some(IdNumber(format!("{first17}{c}")))
    }
}

fn check_birth(yyyymmdd: &str) -> Result<(), IdNumberError> {
    Date::parse(yyyymmdd)
        .map(|_| ())
        .map_err(|_| IdNumberError::BadBirthDate(yyyymmdd.to_string()))
}

impl fmt::Display for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

use crate::resident::Gender;

/// An identity document: kind and normalised number.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Document {
    pub kind: DocKind,
    pub number: String,
}

impl Document {
    /// Validates a number of the given kind. ID cards are checked in full;
    /// other documents by shape (letters and digits, 5 to 20 of them).
    pub fn parse(kind: DocKind, raw: &str) -> Result<Document, IdNumberError> {
        if kind == DocKind::IdCard {
            return IdNumber::parse(raw).map(Document::from);
        }
        let t: String = squeeze(raw)
            .chars()
            .filter(|c| *c != '-')
            .collect::<String>()
            .to_ascii_uppercase();
        if t.is_empty() {
            return Err(IdNumberError::Empty);
        }
        if is_scientific(&t) {
            return Err(IdNumberError::DigitsLost(t));
        }
        if !(5..=20).contains(&t.len()) || !t.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(IdNumberError::BadFormat(kind));
        }
        Ok(Document { kind, number: t })
    }

    /// A number with no stated kind: an ID card if it looks like one, else a
    /// passport-like document.
    pub fn guess(raw: &str) -> Result<Document, IdNumberError> {
        let t = squeeze(raw);
        let digits = t.chars().filter(|c| c.is_ascii_digit()).count();
        if digits >= 14 || is_scientific(&t) || t.chars().any(|c| ('０'..='９').contains(&c)) {
            return IdNumber::parse(raw).map(Document::from);
        }
        let first = t.chars().next().map(|c| c.to_ascii_uppercase());
        let kind = match first {
            Some('H') | Some('M') if t.len() == 9 || t.len() == 11 => DocKind::HkMacauPermit,
            _ => DocKind::Passport,
        };
        Document::parse(kind, raw)
    }
}

impl From<IdNumber> for Document {
    fn from(n: IdNumber) -> Self {
        Document {
            kind: DocKind::IdCard,
            number: n.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reason_without_digits_names_no_part_of_the_number() {
        for raw in ["11010519491331002X", "1.10105E+17", "110105194912310022"] {
            let e = IdNumber::parse(raw).unwrap_err();
            let shown = e.without_digits();
            assert!(
                !shown.contains("19491331") && !shown.contains("110105"),
                "{raw}: {shown}"
            );
            assert!(!shown.is_empty());
        }
    }

    // A well-known valid test number (GB 11643 example style).
    const VALID: &str = "11010519491231002X";

    #[test]
    fn eighteen_characters_with_a_multibyte_one_are_refused_not_a_panic() {
        // Found by the roster_file fuzz target: a GBK cell decoded as 16 digits
        // and two CJK characters split inside a character at byte 17.
        for raw in [
            "2201021950010200缁\u{FFFD}",
            "22010219500102001缁",
            "缁20102195001020",
        ] {
            assert_eq!(
                IdNumber::parse(raw),
                Err(IdNumberError::BadCharacters),
                "{raw}"
            );
            assert!(Document::guess(raw).is_err(), "{raw}");
        }
    }

    #[test]
    fn accepts_valid_and_normalises() {
        let n = IdNumber::parse(VALID).unwrap();
        assert_eq!(n.as_str(), VALID);
        assert_eq!(n.birth_date(), Date::new(1949, 12, 31));
        assert_eq!(n.gender(), Gender::Female);
        for messy in [
            "11010519491231002x",
            " 110105 19491231 002X ",
            "110105-19491231-002X",
            "１１０１０５１９４９１２３１００２Ｘ",
        ] {
            assert_eq!(IdNumber::parse(messy).unwrap().as_str(), VALID, "{messy}");
        }
    }

    #[test]
    fn rejects_bad_check_and_dates() {
        assert!(matches!(
            IdNumber::parse("110105194912310021"),
            Err(IdNumberError::BadCheck { expected: 'X', .. })
        ));
        assert!(matches!(
            IdNumber::parse("110105194902300023"),
            Err(IdNumberError::BadBirthDate(_))
        ));
        assert!(matches!(
            IdNumber::parse("1101051949"),
            Err(IdNumberError::WrongLength(10))
        ));
        assert!(matches!(
            IdNumber::parse("11010519491231002Y"),
            Err(IdNumberError::BadCharacters)
        ));
        assert!(matches!(IdNumber::parse(""), Err(IdNumberError::Empty)));
    }

    #[test]
    fn excel_scientific_notation_is_digits_lost() {
        assert!(matches!(
            IdNumber::parse("2.20102E+17"),
            Err(IdNumberError::DigitsLost(_))
        ));
        assert!(matches!(
            IdNumber::parse("2.20102e+17"),
            Err(IdNumberError::DigitsLost(_))
        ));
    }

    #[test]
    fn converts_fifteen_digit_numbers() {
        let n = IdNumber::parse("110105491231002").unwrap();
        assert_eq!(n.as_str(), "11010519491231002X");
    }

    #[test]
    fn compose_makes_valid_numbers() {
        let n = IdNumber::compose("220102", Date::new(1980, 2, 29).unwrap(), 37).unwrap();
        assert_eq!(IdNumber::parse(n.as_str()).unwrap(), n);
        assert_eq!(n.gender(), Gender::Male);
    }

    #[test]
    fn other_documents() {
        assert_eq!(
            Document::parse(DocKind::Passport, "e1234 5678")
                .unwrap()
                .number,
            "E12345678"
        );
        assert!(Document::parse(DocKind::Passport, "号码").is_err());
        assert_eq!(
            Document::guess("H12345678").unwrap().kind,
            DocKind::HkMacauPermit
        );
        assert_eq!(Document::guess(VALID).unwrap().kind, DocKind::IdCard);
        assert!(Document::guess("2.20102E+17").is_err());
        assert_eq!(DocKind::from_label("居民身份证"), Some(DocKind::IdCard));
        assert_eq!(
            DocKind::from_label("外国人永久居留身份证"),
            Some(DocKind::ForeignPermanentResident)
        );
        assert_eq!(DocKind::from_label("护照"), Some(DocKind::Passport));
        for k in DocKind::ALL {
            assert_eq!(DocKind::from_code(k.code()), Some(k));
        }
    }
}
