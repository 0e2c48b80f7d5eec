//! Lab result files: the sheet a lab sends back, one tube barcode and its
//! result per row. The file reader in `gw-app` (`roster_file`) turns an
//! `.xlsx`/`.xls`/`.csv` into [`Sheet`]s; this module finds the header (title
//! rows above it, Chinese or English, full-width characters), reads each row,
//! and reports every bad row exactly (file, sheet, row, column, reason).
//! Pure: no IO. A file with any [`LabIssue`] is meant to be refused whole.

use crate::roster::{cell_text, column_letter, fill_merges, header_key, is_footer, Cell, Sheet};
use crate::testing::{BarcodeRule, TubeBarcode};
use crate::text::squeeze;
use std::collections::HashMap;

/// How many rows from the top a header is looked for.
const HEADER_SEARCH_ROWS: usize = 30;

/// A tube's result as the lab reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LabResult {
    Negative,
    /// A positive pool (混检异常): its members are traced at once.
    Abnormal,
    /// The sample cannot be read: its members are sampled again.
    Invalid,
}

const NEGATIVE_WORDS: [&str; 9] = [
    "阴性",
    "阴",
    "negative",
    "neg",
    "-",
    "(-)",
    "未检出",
    "未检测到",
    "notdetected",
];
/// Every word that leans positive, however weakly, traces the pool: a weak,
/// single-gene, suspected or to-be-rechecked positive is what the single-tube
/// retests are for.
const ABNORMAL_WORDS: [&str; 32] = [
    "阳性",
    "阳",
    "异常",
    "混检异常",
    "混管异常",
    "混采异常",
    "初筛阳性",
    "可疑",
    "可疑阳性",
    "疑似",
    "疑似阳性",
    "弱阳性",
    "弱阳",
    "单阳",
    "单阳性",
    "单基因阳性",
    "orf1ab阳性",
    "n基因阳性",
    "待复检",
    "需复检",
    "复检",
    "待复核",
    "需复核",
    "复核中",
    "阳性待复核",
    "positive",
    "pos",
    "abnormal",
    "+",
    "(+)",
    "检出",
    "detected",
];
const INVALID_WORDS: [&str; 17] = [
    "无效",
    "invalid",
    "重采",
    "需重采",
    "复采",
    "需复采",
    "重新采样",
    "需重新采样",
    "样本无效",
    "不合格",
    "样本不合格",
    "标本不合格",
    "无效样本",
    "标本无效",
    "void",
    "inconclusive",
    "rejected",
];

impl LabResult {
    pub fn code(self) -> &'static str {
        match self {
            LabResult::Negative => "negative",
            LabResult::Abnormal => "abnormal",
            LabResult::Invalid => "invalid",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            LabResult::Negative => "阴性",
            LabResult::Abnormal => "异常（阳性）",
            LabResult::Invalid => "无效",
        }
    }

    /// The word a lab wrote: `阴性`, `Negative`, `阳性(+)`, `混检异常`, `无效`,
    /// `需重采` … (full-width, spaces, case and a trailing stop do not matter).
    pub fn from_word(raw: &str) -> Option<LabResult> {
        let t = squeeze(raw).to_lowercase();
        let t = t.trim_end_matches(['.', '。', '!', '！']);
        let exact = |t: &str| {
            if NEGATIVE_WORDS.contains(&t) {
                Some(LabResult::Negative)
            } else if ABNORMAL_WORDS.contains(&t) {
                Some(LabResult::Abnormal)
            } else if INVALID_WORDS.contains(&t) {
                Some(LabResult::Invalid)
            } else {
                None
            }
        };
        // `阴性(-)`, `阳性（+）`: the word outside the brackets decides.
        exact(t).or_else(|| {
            let bare = header_key(t);
            (!bare.is_empty() && bare != t)
                .then(|| exact(&bare))
                .flatten()
        })
    }
}

/// What a lab-file column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LabField {
    /// A tube's barcode; `true` for a name that says so (`试管条码`), `false`
    /// for one that may mean another number (`样本编号`).
    Barcode(bool),
    Result,
}

/// Recognises a lab-file header cell: `试管条码`, `管码`, `条码号`, `Barcode`,
/// `Tube` (and, less surely, `样本编号`); `结果`, `检测结果`, `Result`. A time,
/// date or remark column is neither (`结果报告时间`, `条码打印时间`).
fn lab_field(header: &str) -> Option<LabField> {
    let t = header_key(header);
    let has = |words: &[&str]| words.iter().any(|w| t.contains(w));
    if t.is_empty() || has(&["时间", "日期", "time", "date", "备注", "remark"]) {
        None
    } else if has(&["条码", "管码", "管号", "试管编号", "barcode", "tube"]) {
        Some(LabField::Barcode(true))
    } else if has(&["样本编号", "样本号"]) {
        Some(LabField::Barcode(false))
    } else if has(&["结果", "结论", "result"]) {
        Some(LabField::Result)
    } else {
        None
    }
}

/// The barcode and result columns of a header row (`texts`, their kinds in
/// `fields`) that has both kinds, or why they cannot be told apart: two
/// columns that could each be the result (`原结果` and `更正后结果`, `初筛结果`
/// and `复核结果`), or the barcode, are never guessed between.
fn header_columns(texts: &[String], fields: &[Option<LabField>]) -> Columns {
    let of = |want: LabField| -> Vec<usize> {
        (0..fields.len())
            .filter(|&i| fields[i] == Some(want))
            .collect()
    };
    let strong = of(LabField::Barcode(true));
    let barcodes = if strong.is_empty() {
        of(LabField::Barcode(false))
    } else {
        strong
    };
    let results = of(LabField::Result);
    let named = |cols: &[usize]| {
        cols.iter()
            .map(|&c| {
                format!(
                    "{} {}",
                    column_letter(c),
                    texts.get(c).map_or("", |t| t.trim())
                )
            })
            .collect::<Vec<_>>()
            .join("、")
    };
    match (barcodes.as_slice(), results.as_slice()) {
        ([b], [r]) => Ok((*b, *r)),
        (_, [_, _, ..]) => Err(format!(
            "表头有多列都可能是检测结果（{}），无法确定以哪一列为准：请只保留最终结果一列后重新上传 / several columns could be the result ({}): keep only the final result's column and upload again",
            named(&results),
            named(&results)
        )),
        _ => Err(format!(
            "表头有多列都可能是试管条码（{}），无法确定以哪一列为准：请只保留试管条码一列后重新上传 / several columns could be the tube barcode ({}): keep only the barcode's column and upload again",
            named(&barcodes),
            named(&barcodes)
        )),
    }
}

/// One good row: a tube and its result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabRow {
    pub sheet: String,
    /// The row number as the spreadsheet shows it (1-based).
    pub row: u32,
    /// The barcode column, `B 试管条码`, for messages about this row.
    pub column: String,
    pub barcode: TubeBarcode,
    pub result: LabResult,
}

/// What is wrong with a lab file, exactly where.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LabIssue {
    pub file: String,
    /// Empty when the whole file is meant.
    pub sheet: String,
    /// The row as the spreadsheet shows it (1-based); `None` for the whole sheet or file.
    pub row: Option<u32>,
    /// `B 检测结果`, or empty when the whole row is meant.
    pub column: String,
    pub reason: String,
}

impl std::fmt::Display for LabIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.file)?;
        if !self.sheet.is_empty() {
            write!(f, " 工作表 sheet “{}”", self.sheet)?;
        }
        if let Some(r) = self.row {
            write!(f, " 第 {r} 行 row {r}")?;
        }
        if !self.column.is_empty() {
            write!(f, " 列 column {}", self.column)?;
        }
        write!(f, "：{}", self.reason)
    }
}

/// A lab file read: the rows to apply (each barcode once), every issue, and
/// the sheets passed over because they hold no results header.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LabFile {
    pub rows: Vec<LabRow>,
    pub issues: Vec<LabIssue>,
    pub skipped_sheets: Vec<String>,
    /// Rows repeating a barcode with the same result (harmless, applied once).
    pub repeated: usize,
}

/// The barcode and result columns, or why they cannot be told apart.
type Columns = Result<(usize, usize), String>;

/// The header row (the first with a barcode column and a result column),
/// if the sheet has one, with its two columns or why they cannot be told.
fn find_header(rows: &[Vec<Cell>]) -> Option<(usize, Columns)> {
    rows.iter()
        .enumerate()
        .take(HEADER_SEARCH_ROWS)
        .find_map(|(i, row)| {
            let texts: Vec<String> = row.iter().map(cell_text).collect();
            let fields: Vec<Option<LabField>> = texts.iter().map(|t| lab_field(t)).collect();
            let has = |f: fn(&LabField) -> bool| fields.iter().flatten().any(f);
            (has(|f| matches!(f, LabField::Barcode(_))) && has(|f| *f == LabField::Result))
                .then(|| (i, header_columns(&texts, &fields)))
        })
}

/// A barcode Excel stored as a number: exact only when it is a whole number
/// Excel could hold to the digit.
fn numeric_barcode(cell: &Cell) -> Option<Result<String, ()>> {
    match cell {
        Cell::Number(f) if f.fract() == 0.0 && f.abs() < 1e15 => Some(Ok(cell_text(cell))),
        Cell::Number(_) => Some(Err(())),
        _ => None,
    }
}

/// Why a file or request giving tubes another result than the one recorded
/// is refused whole: `changed` lists each as `barcode: recorded → sent`.
pub fn results_changed(changed: &[String]) -> String {
    format!(
        "已有结果的采样管不在上传时改动，本次未记录任何结果；实验室更正结果请用“更正结果”并写明原因 / a tube's recorded result is not changed by an upload, nothing was recorded; for the lab's corrected report use the correction with a reason (POST …/results/corrections, gridwarden results correct): {}",
        changed.join("; ")
    )
}

/// Reads the sheets of a lab file named `file`; barcodes are checked with `rule`.
pub fn parse_lab_sheets(file: &str, sheets: &[Sheet], rule: &BarcodeRule) -> LabFile {
    let mut out = LabFile::default();
    let mut seen: HashMap<TubeBarcode, (String, u32, LabResult)> = HashMap::new();
    let mut found_header = false;
    for sheet in sheets {
        let rows = fill_merges(sheet);
        let Some((header, columns)) = find_header(&rows) else {
            if rows.iter().flatten().any(|c| *c != Cell::Empty) {
                out.skipped_sheets.push(sheet.name.clone());
            }
            continue;
        };
        found_header = true;
        let (bc, rc) = match columns {
            Ok(c) => c,
            Err(reason) => {
                out.issues.push(LabIssue {
                    file: file.to_string(),
                    sheet: sheet.name.clone(),
                    row: u32::try_from(header + 1).ok(),
                    column: String::new(),
                    reason,
                });
                continue;
            }
        };
        let column = |c: usize| {
            let h = rows[header].get(c).map(cell_text).unwrap_or_default();
            format!("{} {h}", column_letter(c))
        };
        let issue = |row: Option<u32>, col: Option<usize>, reason: String| LabIssue {
            file: file.to_string(),
            sheet: sheet.name.clone(),
            row,
            column: col.map(column).unwrap_or_default(),
            reason,
        };
        if sheet.hidden {
            out.issues.push(issue(
                None,
                None,
                "隐藏的工作表含检测结果，请在 Excel 中取消隐藏或删除后重新上传 / a hidden sheet holds results: unhide or delete it and upload again".into(),
            ));
            continue;
        }
        for (i, row) in rows.iter().enumerate().skip(header + 1) {
            let n = u32::try_from(i + 1).unwrap_or(u32::MAX);
            let texts: Vec<String> = row.iter().map(cell_text).collect();
            if texts.iter().all(String::is_empty) || is_footer(&texts) {
                continue;
            }
            let bc_text = texts.get(bc).cloned().unwrap_or_default();
            let rc_text = texts.get(rc).cloned().unwrap_or_default();
            // A header repeated further down (sheets pasted together).
            if matches!(lab_field(&bc_text), Some(LabField::Barcode(_))) {
                continue;
            }
            // No barcode and no result word: a remark or a signature line
            // (`检验者：李四 … 审核者：王五`); there is nothing to record.
            if bc_text.is_empty() && LabResult::from_word(&rc_text).is_none() {
                continue;
            }
            let barcode = match row.get(bc).and_then(numeric_barcode) {
                Some(Err(())) => Err("条码被 Excel 存成了数字并丢失了位数，请把该列设为文本后重新导出 / Excel stored the barcode as a number and lost digits: format the column as text and export again".to_string()),
                Some(Ok(s)) => TubeBarcode::parse(&s, rule).map_err(|e| e.to_string()),
                None if bc_text.is_empty() => Err("缺少试管条码 / the barcode is missing".into()),
                None => TubeBarcode::parse(&bc_text, rule)
                    .map_err(|e| format!("“{bc_text}”：{e}")),
            };
            let result = if rc_text.is_empty() {
                Err("缺少检测结果 / the result is missing".to_string())
            } else {
                LabResult::from_word(&rc_text).ok_or_else(|| {
                    format!("无法识别的结果“{rc_text}”，应为 阴性、异常（阳性）或 无效 / unknown result “{rc_text}”: write negative, abnormal (positive) or invalid")
                })
            };
            let (barcode, result) = match (barcode, result) {
                (Ok(b), Ok(r)) => (b, r),
                (b, r) => {
                    if let Err(e) = b {
                        out.issues.push(issue(Some(n), Some(bc), e));
                    }
                    if let Err(e) = r {
                        out.issues.push(issue(Some(n), Some(rc), e));
                    }
                    continue;
                }
            };
            match seen.get(&barcode) {
                Some((_, _, earlier)) if *earlier == result => out.repeated += 1,
                Some((s, r, earlier)) => out.issues.push(issue(
                    Some(n),
                    Some(rc),
                    format!(
                        "条码 {} 在工作表“{s}”第 {r} 行为{}，此处为{}，请核实 / barcode {} is {} in sheet “{s}” row {r} but {} here",
                        barcode.as_str(),
                        earlier.label_zh(),
                        result.label_zh(),
                        barcode.as_str(),
                        earlier.code(),
                        result.code()
                    ),
                )),
                None => {
                    seen.insert(barcode.clone(), (sheet.name.clone(), n, result));
                    out.rows.push(LabRow {
                        sheet: sheet.name.clone(),
                        row: n,
                        column: column(bc),
                        barcode,
                        result,
                    });
                }
            }
        }
    }
    if !found_header {
        out.issues.push(LabIssue {
            file: file.to_string(),
            sheet: String::new(),
            row: None,
            column: String::new(),
            reason: format!("前 {HEADER_SEARCH_ROWS} 行中没有同时含“试管条码”和“检测结果”的表头 / no header row with a barcode column and a result column in the first {HEADER_SEARCH_ROWS} rows of any sheet"),
        });
    } else if out.rows.is_empty() && out.issues.is_empty() {
        out.issues.push(LabIssue {
            file: file.to_string(),
            sheet: String::new(),
            row: None,
            column: String::new(),
            reason: "表头下没有任何结果 / no results below the header".into(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Cell {
        if s.is_empty() {
            Cell::Empty
        } else {
            Cell::Text(s.to_string())
        }
    }
    fn sheet(name: &str, rows: &[&[&str]]) -> Sheet {
        Sheet {
            name: name.into(),
            rows: rows
                .iter()
                .map(|r| r.iter().map(|c| t(c)).collect())
                .collect(),
            merges: Vec::new(),
            hidden: false,
        }
    }
    fn parse(sheets: &[Sheet]) -> LabFile {
        parse_lab_sheets("结果.xlsx", sheets, &BarcodeRule::default())
    }
    fn pairs(f: &LabFile) -> Vec<(String, LabResult, u32)> {
        f.rows
            .iter()
            .map(|r| (r.barcode.as_str().to_string(), r.result, r.row))
            .collect()
    }

    #[test]
    fn result_words_chinese_english_full_width_and_brackets() {
        use LabResult::*;
        for (w, want) in [
            ("阴性", Negative),
            (" Negative ", Negative),
            ("ＮＥＧ", Negative),
            ("阴性（-）", Negative),
            ("阳性", Abnormal),
            ("阳性(+)", Abnormal),
            ("混检异常", Abnormal),
            ("POSITIVE.", Abnormal),
            ("abnormal", Abnormal),
            ("无效", Invalid),
            ("需重采", Invalid),
            ("Invalid", Invalid),
            ("标本不合格", Invalid),
            ("无效样本", Invalid),
            // Weak, single-gene, suspected, to be rechecked: all trace the pool.
            ("弱阳性", Abnormal),
            ("单阳", Abnormal),
            ("单基因阳性", Abnormal),
            ("疑似阳性", Abnormal),
            ("待复检", Abnormal),
            ("复核中", Abnormal),
            ("ORF1ab阳性", Abnormal),
        ] {
            assert_eq!(LabResult::from_word(w), Some(want), "{w}");
        }
        for w in ["", "待定", "阴阳", "()", "negativeish", "未"] {
            assert_eq!(LabResult::from_word(w), None, "{w}");
        }
    }

    #[test]
    fn title_rows_blank_rows_footer_and_repeated_header() {
        let f = parse(&[sheet(
            "4月2日",
            &[
                &["长春市某检测机构核酸检测结果报告"],
                &["送检日期：2022-04-02", "", ""],
                &[],
                &["序号", "试管条码（必填）", "检测结果"],
                &["1", "ｐ0000001", "阴性"],
                &[],
                &["2", "P0000002", "阳性"],
                &["序号", "试管条码", "检测结果"],
                &["3", "P0000003", "无效"],
                &["合计", "3 管", ""],
                &["检验者：李四", "", "审核者：王五"],
            ],
        )]);
        assert!(f.issues.is_empty(), "{:?}", f.issues);
        assert_eq!(
            pairs(&f),
            vec![
                ("P0000001".into(), LabResult::Negative, 5),
                ("P0000002".into(), LabResult::Abnormal, 7),
                ("P0000003".into(), LabResult::Invalid, 9),
            ]
        );
    }

    #[test]
    fn english_headers_and_numeric_barcodes() {
        let mut s = sheet("Sheet1", &[&["Tube Barcode", "Result"]]);
        s.rows.push(vec![
            Cell::Number(20220402.0),
            Cell::Text("Negative".into()),
        ]);
        s.rows
            .push(vec![Cell::Number(1.2345678901234567e17), t("Negative")]);
        let f = parse(&[s]);
        assert_eq!(pairs(&f), vec![("20220402".into(), LabResult::Negative, 2)]);
        assert_eq!(f.issues.len(), 1);
        assert_eq!(f.issues[0].row, Some(3));
        assert_eq!(f.issues[0].column, "A Tube Barcode");
        assert!(f.issues[0].reason.contains("数字"), "{}", f.issues[0]);
    }

    #[test]
    fn every_bad_row_is_reported_with_its_place() {
        let f = parse(&[sheet(
            "结果",
            &[
                &["管码", "结果", "备注"],
                &["P0000001", "阴性", ""],
                &["", "阴性", ""],
                &["P0000002", "", "漏填"],
                &["P0000003", "见附件", ""],
                &["P#00004", "阴性", ""],
                &["P01", "阴性", ""],
                &["", "", "只有备注"],
            ],
        )]);
        let places: Vec<(Option<u32>, &str)> = f
            .issues
            .iter()
            .map(|i| (i.row, i.column.as_str()))
            .collect();
        assert_eq!(
            places,
            vec![
                (Some(3), "A 管码"),
                (Some(4), "B 结果"),
                (Some(5), "B 结果"),
                (Some(6), "A 管码"),
                (Some(7), "A 管码"),
            ]
        );
        assert!(f
            .issues
            .iter()
            .all(|i| i.sheet == "结果" && i.file == "结果.xlsx"));
        assert!(f.issues[2].reason.contains("见附件"));
        let shown = f.issues[0].to_string();
        assert!(
            shown.contains("结果.xlsx") && shown.contains("第 3 行"),
            "{shown}"
        );
    }

    #[test]
    fn a_barcode_twice_agrees_or_is_an_error_across_sheets() {
        let f = parse(&[
            sheet(
                "上午",
                &[
                    &["条码", "结果"],
                    &["P0000001", "阴性"],
                    &["P0000002", "阴性"],
                ],
            ),
            sheet(
                "下午",
                &[
                    &["条码", "结果"],
                    &["p0000001", "negative"],
                    &["P0000002", "阳性"],
                ],
            ),
        ]);
        assert_eq!(f.repeated, 1);
        assert_eq!(f.issues.len(), 1, "{:?}", f.issues);
        let i = &f.issues[0];
        assert_eq!((i.sheet.as_str(), i.row), ("下午", Some(3)));
        assert!(i.reason.contains("“上午”第 3 行"), "{}", i.reason);
        assert_eq!(f.rows.len(), 2);
    }

    #[test]
    fn no_header_anywhere_is_one_file_level_error_and_summary_sheets_are_listed() {
        let f = parse(&[sheet("汇总", &[&["送检管数", "200"]])]);
        assert_eq!(f.issues.len(), 1);
        assert_eq!(f.issues[0].row, None);
        assert_eq!(f.skipped_sheets, vec!["汇总".to_string()]);
        let empty = parse(&[sheet("结果", &[&["试管条码", "检测结果"]])]);
        assert_eq!(empty.issues.len(), 1);
        assert!(empty.issues[0].reason.contains("没有任何结果"));
    }

    #[test]
    fn hidden_results_sheet_is_refused_not_skipped() {
        let mut s = sheet("旧", &[&["条码", "结果"], &["P0000009", "阳性"]]);
        s.hidden = true;
        let f = parse(&[sheet("新", &[&["条码", "结果"], &["P0000001", "阴性"]]), s]);
        assert_eq!(f.issues.len(), 1);
        assert_eq!(f.issues[0].sheet, "旧");
        assert_eq!(f.rows.len(), 1);
    }

    #[test]
    fn a_result_merged_down_a_block_applies_to_each_row() {
        let mut s = sheet(
            "结果",
            &[
                &["试管条码", "检测结果"],
                &["P0000001", "阴性"],
                &["P0000002", ""],
            ],
        );
        s.merges.push(crate::roster::Merge {
            first_row: 1,
            first_col: 1,
            last_row: 2,
            last_col: 1,
        });
        let f = parse(&[s]);
        assert!(f.issues.is_empty(), "{:?}", f.issues);
        assert_eq!(f.rows[1].result, LabResult::Negative);
    }

    #[test]
    fn luhn_rule_rejects_a_misread_digit() {
        let rule = BarcodeRule {
            luhn: true,
            ..BarcodeRule::default()
        };
        let s = sheet(
            "结果",
            &[
                &["条码", "结果"],
                &["79927398713", "阴性"],
                &["79927398714", "阴性"],
            ],
        );
        let f = parse_lab_sheets("x.csv", &[s], &rule);
        assert_eq!(f.rows.len(), 1);
        assert_eq!(f.issues.len(), 1);
        assert_eq!(f.issues[0].row, Some(3));
    }

    #[test]
    fn two_columns_that_could_be_the_result_are_never_guessed_between() {
        for (a, b) in [("原结果", "更正后结果"), ("初筛结果", "复核结果")] {
            let f = parse(&[sheet(
                "结果",
                &[
                    &["报告"],
                    &["试管条码", a, b],
                    &["P0000001", "阴性", "阳性"],
                ],
            )]);
            assert!(f.rows.is_empty(), "{f:?}");
            assert_eq!(f.issues.len(), 1, "{f:?}");
            let i = &f.issues[0];
            assert_eq!(i.row, Some(2));
            assert!(
                i.reason.contains(&format!("B {a}、C {b}")) && i.reason.contains("keep only"),
                "{}",
                i.reason
            );
        }
        // Two barcode columns alike.
        let f = parse(&[sheet(
            "结果",
            &[&["条码", "管号", "结果"], &["P0000001", "P0000001", "阴性"]],
        )]);
        assert!(f.issues[0].reason.contains("A 条码、B 管号"), "{f:?}");
    }

    #[test]
    fn time_columns_are_not_read_and_a_tube_barcode_beats_a_sample_number() {
        let f = parse(&[sheet(
            "结果",
            &[
                &[
                    "样本编号",
                    "条码打印时间",
                    "结果报告时间",
                    "试管条码",
                    "检测结果",
                    "备注",
                ],
                &[
                    "S-1",
                    "2022-04-01 08:00",
                    "2022-04-01 20:00",
                    "P0000001",
                    "阳性",
                    "复核结果",
                ],
            ],
        )]);
        assert!(f.issues.is_empty(), "{f:?}");
        assert_eq!(
            pairs(&f),
            [("P0000001".to_string(), LabResult::Abnormal, 2)]
        );
        assert_eq!(f.rows[0].column, "D 试管条码");
        // A sample number is the barcode when nothing says "barcode".
        let f = parse(&[sheet(
            "结果",
            &[&["样本编号", "结果"], &["P0000002", "阴性"]],
        )]);
        assert_eq!(
            pairs(&f),
            [("P0000002".to_string(), LabResult::Negative, 2)]
        );
    }

    #[test]
    fn signature_lines_of_testers_and_reviewers_are_footers() {
        let f = parse(&[sheet(
            "结果",
            &[
                &["条码", "结果"],
                &["P0000001", "阴性"],
                &["检验者：李四", "", "审核者：王五"],
                &["报告人:", "批准人:"],
            ],
        )]);
        assert!(f.issues.is_empty(), "{f:?}");
        assert_eq!(f.rows.len(), 1);
    }
}
