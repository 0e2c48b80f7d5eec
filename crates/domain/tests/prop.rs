#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code
//! Property tests for every parser and validator in the domain: ID numbers,
//! phones, tube barcodes, personal codes, roster rows and lab result rows.
//! Each property states what must hold for all inputs of a shape, and every
//! parser is fed arbitrary text and arbitrary sheets: nothing may panic.

use std::collections::{HashMap, HashSet};

use gw_domain::date::Date;
use gw_domain::idnumber::{DocKind, Document, IdNumber, IdNumberError};
use gw_domain::lab::{parse_lab_sheets, LabResult};
use gw_domain::phone::{split_phones, Phone, PhoneRelation};
use gw_domain::roster::{
    field_of_header, parse_address_text, parse_workbook, plan_import, Cell, ExistingResident,
    Merge, ParseOptions, RowOutcome, Sheet,
};
use gw_domain::testing::{BarcodeError, BarcodeRule, PersonalCode, TubeBarcode};
use proptest::prelude::*;
use proptest::sample::select;

// ---------------------------------------------------------------------------
// Strategies

fn date_in(years: std::ops::Range<i32>) -> impl Strategy<Value = Date> {
    (years, 1u8..=12, 1u8..=31).prop_filter_map("a real day", |(y, m, d)| Date::new(y, m, d))
}

/// A valid 18-character ID number and its parts.
fn id_number(years: std::ops::Range<i32>) -> impl Strategy<Value = (IdNumber, Date)> {
    ("[1-6][0-9]{5}", date_in(years), 0u16..1000)
        .prop_map(|(area, birth, seq)| (IdNumber::compose(&area, birth, seq).unwrap(), birth))
}

fn full_width(c: char) -> char {
    if c.is_ascii_graphic() {
        char::from_u32(c as u32 + 0xFEE0).unwrap()
    } else {
        c
    }
}

/// How people type a number: full-width characters, spaces and dashes in
/// between, lower case. `mask[i]` decides what happens at character `i`.
fn decorate(s: &str, mask: &[u8]) -> String {
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        let m = mask.get(i).copied().unwrap_or(0);
        let c = if m & 1 == 1 { full_width(c) } else { c };
        let c = if m & 2 == 2 {
            c.to_ascii_lowercase()
        } else {
            c
        };
        out.push(c);
        match m >> 2 & 3 {
            1 => out.push(' '),
            2 => out.push('-'),
            3 => out.push('\u{3000}'),
            _ => {}
        }
    }
    out
}

/// Text a parser may meet: arbitrary Unicode, or what rosters hold (digits
/// full- and half-width, CJK, separators, Excel's scientific notation).
fn messy_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[0-9０-９xXeE+.\\-—–_ ()（）/、，,;；\u{3000}\u{a0}缁号楼单元室一二三十GWgw]{0,40}",
        "GW[0-9A-Z\\-]{0,50}",
    ]
}

const WORDS: &[&str] = &[
    "姓名",
    "性别",
    "身份证号码",
    "证件类型",
    "联系电话",
    "子女电话",
    "小区",
    "楼栋",
    "单元",
    "房号",
    "地址",
    "出生日期",
    "年龄",
    "人员类别",
    "是否独居老人",
    "特殊人群",
    "备注",
    "序号",
    "试管条码",
    "管码",
    "检测结果",
    "Result",
    "Tube Barcode",
    "合计",
    "审核：",
    "张三",
    "李四",
    "男",
    "女",
    "是",
    "否",
    "3号楼",
    "2单元",
    "301",
    "虹馆小区3号楼2单元301室",
    "3-2-301",
    "13812345678",
    "0431-88881234",
    "+86 139 0000 0000",
    "11010519491231002X",
    "110105491231002",
    "2.20102E+17",
    "E12345678",
    "阴性",
    "阳性",
    "异常",
    "无效",
    "需重采",
    "negative",
    "positive",
    "P0000001",
    "p0000001",
    "ｐ０００００００１",
    "L0000002",
    "待复核",
    "户籍",
    "流动人口",
    "独居老人",
    "孕妇",
    "透析",
    "",
    " ",
    "\u{3000}",
];

fn cell() -> impl Strategy<Value = Cell> {
    prop_oneof![
        4 => select(WORDS).prop_map(|w| if w.is_empty() { Cell::Empty } else { Cell::Text(w.to_string()) }),
        2 => messy_text().prop_map(Cell::Text),
        1 => Just(Cell::Empty),
        1 => any::<f64>().prop_map(Cell::Number),
        1 => (0.0..80_000.0f64).prop_map(Cell::Number),
        1 => (1e14..1e18f64).prop_map(|f| Cell::Number(f.trunc())),
        1 => date_in(1900..2030).prop_map(Cell::Date),
        1 => any::<bool>().prop_map(Cell::Bool),
    ]
}

fn merge() -> impl Strategy<Value = Merge> {
    prop_oneof![
        (0u32..12, 0u32..8, 0u32..12, 0u32..8).prop_map(|(a, b, c, d)| Merge {
            first_row: a,
            first_col: b,
            last_row: c,
            last_col: d,
        }),
        // Regions reaching the end of the sheet, or backwards.
        (0u32..12, 0u32..8, any::<u32>(), any::<u32>()).prop_map(|(a, b, c, d)| Merge {
            first_row: a,
            first_col: b,
            last_row: c,
            last_col: d,
        }),
    ]
}

fn sheet() -> impl Strategy<Value = Sheet> {
    (
        messy_text(),
        prop::collection::vec(prop::collection::vec(cell(), 0..8), 0..14),
        prop::collection::vec(merge(), 0..3),
        prop::bool::weighted(0.1),
    )
        .prop_map(|(name, rows, merges, hidden)| Sheet {
            name,
            rows,
            merges,
            hidden,
        })
}

/// One to three sheets with distinct names (a workbook cannot have two alike).
fn workbook() -> impl Strategy<Value = Vec<Sheet>> {
    prop::collection::vec(sheet(), 1..3).prop_map(|mut sheets| {
        for (i, s) in sheets.iter_mut().enumerate() {
            s.name = format!("{}#{i}", s.name);
        }
        sheets
    })
}

fn opts() -> ParseOptions {
    ParseOptions {
        default_compound: "未填小区".into(),
        today: Date::new(2022, 4, 2).unwrap(),
    }
}

// ---------------------------------------------------------------------------
// ID numbers

proptest! {
    #[test]
    fn a_valid_id_number_parses_to_itself_however_it_is_typed(
        (id, birth) in id_number(1900..2022),
        mask in prop::collection::vec(any::<u8>(), 18),
    ) {
        prop_assert_eq!(IdNumber::parse(id.as_str()), Ok(id.clone()));
        prop_assert_eq!(IdNumber::parse(&decorate(id.as_str(), &mask)), Ok(id.clone()));
        prop_assert_eq!(id.birth_date(), Some(birth));
        let doc = Document::guess(id.as_str()).unwrap();
        prop_assert_eq!((doc.kind, doc.number.as_str()), (DocKind::IdCard, id.as_str()));
    }

    #[test]
    fn one_changed_character_fails_the_check(
        (id, _) in id_number(1900..2022),
        pos in 0usize..18,
        to in select(&['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'X'][..]),
    ) {
        let mut chars: Vec<char> = id.as_str().chars().collect();
        prop_assume!(chars[pos] != to && (pos == 17 || to != 'X'));
        chars[pos] = to;
        let changed: String = chars.into_iter().collect();
        // MOD 11-2 catches every single substitution (11 is prime, no weight is 0).
        prop_assert!(IdNumber::parse(&changed).is_err(), "{} accepted", changed);
    }

    #[test]
    fn a_fifteen_digit_number_becomes_its_eighteen_digit_form(
        (id, birth) in id_number(1900..2000),
    ) {
        let s = id.as_str();
        let old = format!("{}{}", &s[..6], &s[8..17]);
        prop_assert_eq!(old.len(), 15);
        prop_assert_eq!(IdNumber::parse(&old), Ok(id.clone()));
        prop_assert_eq!(IdNumber::parse(&old).unwrap().birth_date(), Some(birth));
    }

    #[test]
    fn excel_scientific_notation_is_named_as_lost_digits(mantissa in 1u32..10, frac in "[0-9]{1,5}", exp in 14u32..18) {
        let t = format!("{mantissa}.{frac}E+{exp}");
        prop_assert!(matches!(IdNumber::parse(&t), Err(IdNumberError::DigitsLost(_))), "{}", t);
    }
}

// ---------------------------------------------------------------------------
// Phones

proptest! {
    #[test]
    fn a_mobile_number_parses_however_it_is_typed(
        second in 3u8..=9,
        rest in "[0-9]{9}",
        plus86 in any::<bool>(),
        mask in prop::collection::vec(any::<u8>(), 11),
    ) {
        let digits = format!("1{second}{rest}");
        let typed = format!("{}{}", if plus86 { "+86 " } else { "" }, decorate(&digits, &mask));
        let p = Phone::parse(&typed).unwrap();
        prop_assert_eq!(p.as_str(), digits.as_str());
        prop_assert!(p.is_mobile());
    }

    #[test]
    fn phone_normalisation_is_idempotent(s in messy_text()) {
        if let Ok(p) = Phone::parse(&s) {
            prop_assert_eq!(Phone::parse(p.as_str()), Ok(p.clone()));
            prop_assert!(p.as_str().bytes().all(|b| b.is_ascii_digit()));
        }
    }
}

// ---------------------------------------------------------------------------
// Tube barcodes

proptest! {
    #[test]
    fn exactly_one_luhn_digit_completes_a_barcode(body in "[0-9]{7,19}") {
        let rule = BarcodeRule { luhn: true, ..BarcodeRule::default() };
        let ok: Vec<u8> = (b'0'..=b'9')
            .filter(|d| TubeBarcode::parse(&format!("{body}{}", *d as char), &rule).is_ok())
            .collect();
        prop_assert_eq!(ok.len(), 1);
    }

    #[test]
    fn one_changed_digit_fails_the_luhn_check(body in "[0-9]{7,19}", pos in any::<prop::sample::Index>(), delta in 1u8..10) {
        let rule = BarcodeRule { luhn: true, ..BarcodeRule::default() };
        let good = (b'0'..=b'9')
            .map(|d| format!("{body}{}", d as char))
            .find(|c| TubeBarcode::parse(c, &rule).is_ok())
            .unwrap();
        let mut bytes = good.into_bytes();
        let i = pos.index(bytes.len());
        bytes[i] = b'0' + (bytes[i] - b'0' + delta) % 10;
        let changed = String::from_utf8(bytes).unwrap();
        prop_assert_eq!(TubeBarcode::parse(&changed, &rule), Err(BarcodeError::Check));
    }

    #[test]
    fn barcodes_are_upper_cased_and_length_checked(s in "[0-9a-zA-Z]{0,30}") {
        let rule = BarcodeRule::default();
        match TubeBarcode::parse(&s, &rule) {
            Ok(b) => {
                prop_assert!((8..=20).contains(&s.len()));
                prop_assert_eq!(b.as_str(), s.to_uppercase());
                prop_assert_eq!(TubeBarcode::parse(b.as_str(), &rule), Ok(b.clone()));
            }
            Err(e) => prop_assert_eq!(e, BarcodeError::Length(s.len(), 8, 20)),
        }
    }
}

// ---------------------------------------------------------------------------
// Personal codes

fn code_parts() -> impl Strategy<Value = (Vec<u8>, i64, String, u32, u32)> {
    (
        prop::collection::vec(any::<u8>(), 1..100),
        1i64..10_000_000_000,
        "[0-9A-Z]{16}",
        0u32..100_000,
        0u32..1000,
    )
}

proptest! {
    #[test]
    fn an_issued_code_decodes_and_verifies_as_printed_or_scanned((key, street, uid, kid, gen) in code_parts(), lower in any::<bool>()) {
        let c = PersonalCode::issue(kid, &key, street, &uid, gen);
        let keys = vec![(kid, key.clone())];
        let text = if lower { format!(" {} ", c.text().to_lowercase()) } else { c.text() };
        let d = PersonalCode::decode(&text).unwrap();
        prop_assert_eq!(&d, &c);
        prop_assert_eq!(d.verify(&keys), Ok(()));
        // Another key, or the same key under another id, does not verify it.
        let mut other = key.clone();
        other.push(1);
        prop_assert!(d.verify(&[(kid, other)]).is_err());
        prop_assert!(d.verify(&[(kid.wrapping_add(1), key)]).is_err());
    }

    #[test]
    fn any_single_character_changed_is_refused(
        (key, street, uid, kid, gen) in code_parts(),
        pos in any::<prop::sample::Index>(),
        to in select("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-+".chars().collect::<Vec<_>>()),
    ) {
        let c = PersonalCode::issue(kid, &key, street, &uid, gen);
        let mut chars: Vec<char> = c.text().chars().collect();
        let i = pos.index(chars.len());
        prop_assume!(chars[i] != to);
        chars[i] = to;
        let changed: String = chars.into_iter().collect();
        let verdict = PersonalCode::decode(&changed).and_then(|d| d.verify(&[(kid, key.clone())]));
        prop_assert!(verdict.is_err(), "{} accepted", changed);
    }
}

// ---------------------------------------------------------------------------
// No parser panics on any text

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]
    #[test]
    fn no_text_parser_panics(s in messy_text()) {
        let _ = IdNumber::parse(&s);
        let _ = Document::guess(&s);
        for kind in [DocKind::IdCard, DocKind::Passport, DocKind::HkMacauPermit] {
            let _ = Document::parse(kind, &s);
        }
        let _ = Phone::parse(&s);
        let _ = PhoneRelation::from_text(&s);
        for piece in split_phones(&s) {
            let _ = Phone::parse(piece);
        }
        let _ = Date::parse(&s);
        let _ = TubeBarcode::parse(&s, &BarcodeRule::default());
        let _ = TubeBarcode::parse(&s, &BarcodeRule { luhn: true, min_len: 0, max_len: 64, marked: false });
        let _ = TubeBarcode::parse(&s, &BarcodeRule::lookup());
        if let Ok(c) = PersonalCode::decode(&s) {
            prop_assert_eq!(PersonalCode::decode(&c.text()), Ok(c.clone()));
            let _ = c.verify(&[(c.key_id, b"k".to_vec())]);
        }
        let _ = LabResult::from_word(&s);
        let _ = field_of_header(&s);
        let _ = parse_address_text(&s);
        let _ = gw_domain::text::chinese_number(&s);
        let _ = gw_domain::territory::floor_of_room(&s);
        let _ = gw_domain::mask::document(&s);
        let _ = gw_domain::mask::phone(&s);
        let _ = gw_domain::mask::name(&s);
    }

    #[test]
    fn excel_serials_never_panic(f in any::<f64>()) {
        let _ = Date::from_excel_serial(f);
    }
}

// ---------------------------------------------------------------------------
// Roster sheets

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn roster_sheets_of_any_cells_parse_and_plan_without_panic(sheets in workbook()) {
        let parsed = parse_workbook(&sheets, &opts());
        let mut seen = HashSet::new();
        for outcome in &parsed.rows {
            let (sheet, row) = match outcome {
                RowOutcome::Resident(r) => (&r.sheet, r.row),
                RowOutcome::Rejected(r) => (&r.issue.sheet, r.issue.row),
            };
            // Every row is a real row of its sheet, reported once.
            let s = sheets.iter().find(|s| &s.name == sheet).unwrap();
            prop_assert!(row >= 1 && row as usize <= s.rows.len(), "row {} of {}", row, s.rows.len());
            prop_assert!(seen.insert((sheet.clone(), row)), "row {} twice", row);
            if let RowOutcome::Resident(r) = outcome {
                prop_assert!(!r.resident.name.trim().is_empty());
            }
        }
        let rows: Vec<_> = parsed.rows.iter().filter_map(|r| match r {
            RowOutcome::Resident(r) => Some(r.as_ref()),
            RowOutcome::Rejected(_) => None,
        }).collect();
        let existing: Vec<ExistingResident> = rows.iter().step_by(2).enumerate().map(|(i, r)| ExistingResident {
            id: i as i64,
            address: r.address.clone(),
            resident: r.resident.clone(),
        }).collect();
        let plan = plan_import(&rows, &existing, &HashMap::new());
        prop_assert_eq!(plan.actions.len(), rows.len());
    }
}

// ---------------------------------------------------------------------------
// Lab result sheets

const RESULT_WORDS: &[(&str, LabResult)] = &[
    ("阴性", LabResult::Negative),
    ("Negative", LabResult::Negative),
    ("阴性（-）", LabResult::Negative),
    ("阳性", LabResult::Abnormal),
    ("混检异常", LabResult::Abnormal),
    ("POSITIVE", LabResult::Abnormal),
    ("异常", LabResult::Abnormal),
    ("无效", LabResult::Invalid),
    ("需重采", LabResult::Invalid),
    ("invalid", LabResult::Invalid),
];

fn text(s: &str) -> Cell {
    Cell::Text(s.to_string())
}

proptest! {
    #[test]
    fn a_well_formed_lab_sheet_reads_back_exactly(
        titles in prop::collection::vec(select(&["核酸检测结果报告", "送检单位：某社区", "", "日期：2022-04-02"][..]), 0..4),
        header in select(&[("试管条码", "检测结果"), ("管码", "结果"), ("Tube Barcode", "Result"), ("条码号（必填）", "检测结果")][..]),
        results in prop::collection::btree_map("[A-Z][0-9]{7,11}", (select(RESULT_WORDS), any::<bool>()), 1..30),
    ) {
        let mut rows: Vec<Vec<Cell>> = titles.iter().map(|t| vec![if t.is_empty() { Cell::Empty } else { text(t) }]).collect();
        rows.push(vec![text("序号"), text(header.0), text(header.1)]);
        let mut want = Vec::new();
        for (i, (barcode, ((word, result), blank_after))) in results.iter().enumerate() {
            rows.push(vec![Cell::Number(i as f64 + 1.0), text(&barcode.to_lowercase()), text(word)]);
            if *blank_after {
                rows.push(Vec::new());
            }
            want.push((barcode.clone(), *result));
        }
        rows.push(vec![text("合计"), text(&format!("{} 管", results.len()))]);
        let sheet = Sheet { name: "结果".into(), rows, merges: Vec::new(), hidden: false };
        let f = parse_lab_sheets("r.xlsx", &[sheet], &BarcodeRule::default());
        prop_assert!(f.issues.is_empty(), "{:?}", f.issues);
        let got: Vec<(String, LabResult)> = f.rows.iter().map(|r| (r.barcode.as_str().to_string(), r.result)).collect();
        prop_assert_eq!(got, want);
    }

    #[test]
    fn one_unknown_result_word_is_one_issue_at_its_row(
        results in prop::collection::btree_map("[A-Z][0-9]{7}", select(RESULT_WORDS), 2..20),
        bad in any::<prop::sample::Index>(),
        word in "[查可能见附件]{1,4}",
    ) {
        let mut rows = vec![vec![text("试管条码"), text("检测结果")]];
        let bad = bad.index(results.len());
        for (i, (barcode, (w, _))) in results.iter().enumerate() {
            rows.push(vec![text(barcode), text(if i == bad { &word } else { w })]);
        }
        let sheet = Sheet { name: "S".into(), rows, merges: Vec::new(), hidden: false };
        let f = parse_lab_sheets("r.csv", &[sheet], &BarcodeRule::default());
        prop_assert_eq!(f.issues.len(), 1);
        prop_assert_eq!(f.issues[0].row, Some(bad as u32 + 2));
        prop_assert_eq!(f.issues[0].column.as_str(), "B 检测结果");
        prop_assert_eq!(f.rows.len(), results.len() - 1);
    }

    #[test]
    fn lab_sheets_of_any_cells_never_panic_and_place_every_issue(sheets in workbook()) {
        let f = parse_lab_sheets("any.xlsx", &sheets, &BarcodeRule::default());
        let mut barcodes = HashSet::new();
        for r in &f.rows {
            prop_assert!(barcodes.insert(r.barcode.clone()), "{} twice", r.barcode.as_str());
            let s = sheets.iter().find(|s| s.name == r.sheet).unwrap();
            prop_assert!(r.row >= 1 && r.row as usize <= s.rows.len());
        }
        for i in &f.issues {
            prop_assert_eq!(i.file.as_str(), "any.xlsx");
            if let Some(row) = i.row {
                let s = sheets.iter().find(|s| s.name == i.sheet).unwrap();
                prop_assert!(row >= 1 && row as usize <= s.rows.len());
            }
        }
        // Either something to apply, or a reason why not.
        prop_assert!(!f.rows.is_empty() || !f.issues.is_empty());
    }
}
