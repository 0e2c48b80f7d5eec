//! The import report: an xlsx listing every rejected or warned row with sheet,
//! row, column and reason. Each problem sheet keeps its original name and
//! headers after four leading columns, so the grid leader fixes the cells and
//! re-imports this very file (the leading columns are ignored on import).
//!
//! A roster may hold what a workbook cannot (a cell of 40,000 characters, a
//! CSV row of 20,000 columns, a file name with `[` for the sheet's name): the
//! report cuts it to Excel's limits and says so where it cut, so that no
//! valid row ever fails for what its report cannot hold.

use std::collections::{BTreeMap, HashMap, HashSet};

use gw_domain::roster::{ParsedRoster, RowIssue, RowOutcome, Severity};
use rust_xlsxwriter::{Format, Workbook};

use crate::import::ImportSummary;

pub const LEAD_HEADERS: [&str; 4] = ["问题 Issue", "级别 Severity", "列 Column", "原行号 Row"];

/// Excel's limits: characters (UTF-16 units) in a cell, columns and rows in
/// a sheet, characters in a sheet's name.
pub const CELL_MAX: usize = 32_767;
pub const COLUMNS_MAX: usize = 16_384;
const ROWS_MAX: usize = 1_048_576;
const SHEET_NAME_MAX: usize = 31;

fn severity_label(s: Severity) -> &'static str {
    match s {
        Severity::Warning => "警告 warning",
        Severity::Rejected => "未导入 rejected",
    }
}

fn utf16_len(s: &str) -> usize {
    s.chars().map(char::len_utf16).sum()
}

/// `s` cut to at most `max` UTF-16 units, at a character's edge.
fn cut_to(s: &str, max: usize) -> &str {
    let mut used = 0;
    for (i, c) in s.char_indices() {
        used += c.len_utf16();
        if used > max {
            return &s[..i];
        }
    }
    s
}

/// A cell's text as a report cell can hold it: a longer one is cut, and the
/// cell says so and how long it was.
pub fn fit_cell(text: &str) -> String {
    if utf16_len(text) <= CELL_MAX {
        return text.to_string();
    }
    let note = format!(
        "…【本格原有 {} 字，超出 Excel 单元格上限 32767 字，报告中已截断；原文件中的内容不变 / cut: the cell held {} characters, more than an Excel cell holds (32,767); the original file is unchanged】",
        text.chars().count(),
        text.chars().count()
    );
    let keep = cut_to(text, CELL_MAX - utf16_len(&note));
    format!("{keep}{note}")
}

/// A sheet's name as a workbook allows it (no `[]:*?/\`, no apostrophe at
/// either end, at most 31 characters), different from every name in `taken`.
fn sheet_name(wanted: &str, taken: &mut HashSet<String>) -> String {
    let clean: String = wanted
        .chars()
        .map(|c| if "[]:*?/\\".contains(c) { '_' } else { c })
        .collect();
    let clean = clean.trim_matches('\'');
    let clean = if clean.is_empty() { "Sheet" } else { clean };
    let mut n = 1;
    loop {
        let suffix = if n == 1 {
            String::new()
        } else {
            format!("~{n}")
        };
        let name = format!(
            "{}{suffix}",
            cut_to(clean, SHEET_NAME_MAX - utf16_len(&suffix)).trim_end_matches('\'')
        );
        if taken.insert(name.to_lowercase()) {
            return name;
        }
        n += 1;
    }
}

/// The report's bytes (an .xlsx): a summary sheet, then one sheet per sheet
/// with problems.
pub fn import_report(s: &ImportSummary, parsed: &ParsedRoster) -> Result<Vec<u8>, String> {
    let mut wb = Workbook::new();
    let bold = Format::new().set_bold();
    let err = |e: rust_xlsxwriter::XlsxError| e.to_string();
    let mut taken: HashSet<String> = HashSet::new();

    let mut lines: Vec<(String, String)> = vec![
        ("导入报告 Import report".into(), String::new()),
        ("文件 File".into(), s.file.clone()),
        ("街道 Street".into(), s.street.clone()),
        ("社区 Community".into(), s.community.clone()),
        ("读取数据行 Data rows".into(), s.data_rows.to_string()),
        ("新增 Added".into(), s.added.to_string()),
        ("更新 Updated".into(), s.updated.to_string()),
        ("未变 Unchanged".into(), s.unchanged.to_string()),
        ("未导入 Rejected".into(), s.rejected.to_string()),
        ("警告 Warnings".into(), s.warnings.to_string()),
        (
            "如何修改 How to fix".into(),
            "在后面的工作表中按“问题”一列修改单元格，保存后重新导入本文件即可（前四列会被忽略）/ fix the cells named in the Issue column of the following sheets, save, and import this file again (the first four columns are ignored)".into(),
        ),
    ];
    for sh in &s.sheets {
        let what = match &sh.skipped {
            Some(reason) => reason.clone(),
            None => format!(
                "表头在第{}行，{}行数据 / header on row {}, {} data rows",
                sh.header_row.unwrap_or(0),
                sh.data_rows,
                sh.header_row.unwrap_or(0),
                sh.data_rows
            ),
        };
        lines.push((format!("工作表 Sheet “{}”", sh.name), what));
        if !sh.ignored_columns.is_empty() {
            lines.push((
                format!("“{}”未识别的列 Ignored columns", sh.name),
                sh.ignored_columns.join("、"),
            ));
        }
    }

    // Cells and headers of every row an issue names.
    let mut cells: HashMap<(&str, u32), &Vec<String>> = HashMap::new();
    for r in &parsed.rows {
        match r {
            RowOutcome::Resident(r) => cells.insert((r.sheet.as_str(), r.row), &r.cells),
            RowOutcome::Rejected(r) => {
                cells.insert((r.issue.sheet.as_str(), r.issue.row), &r.cells)
            }
        };
    }
    let mut by_sheet: BTreeMap<usize, (String, BTreeMap<u32, Vec<&RowIssue>>)> = BTreeMap::new();
    for issue in &s.issues {
        if !cells.contains_key(&(issue.sheet.as_str(), issue.row)) {
            // About a sheet, not one of its rows (a header with two name
            // columns, a hidden sheet holding people): said in the summary.
            lines.push((
                format!(
                    "工作表 Sheet “{}” 第{}行 row {}",
                    issue.sheet, issue.row, issue.row
                ),
                format!(
                    "{}{}{}",
                    issue.column,
                    if issue.column.is_empty() { "" } else { ": " },
                    issue.reason
                ),
            ));
            continue;
        }
        let order = s
            .sheets
            .iter()
            .position(|x| x.name == issue.sheet)
            .unwrap_or(usize::MAX);
        by_sheet
            .entry(order)
            .or_insert_with(|| (issue.sheet.clone(), BTreeMap::new()))
            .1
            .entry(issue.row)
            .or_default()
            .push(issue);
    }

    // Rows a problem sheet can hold under its header.
    let room = ROWS_MAX - 1;
    for (name, rows) in by_sheet.values() {
        if rows.len() > room {
            lines.push((
                format!("工作表 Sheet “{name}”"),
                format!(
                    "问题行超过 Excel 的行数上限，报告只列出前 {room} 行，另有 {more} 行未列出：请修改后重新导入以得到其余的行 / more problem rows than an Excel sheet holds: the first {room} are listed, {more} are not; fix these and import again for the rest",
                    more = rows.len() - room
                ),
            ));
        }
    }

    let summary = wb.add_worksheet();
    summary
        .set_name(sheet_name("说明 Summary", &mut taken))
        .map_err(err)?;
    summary.set_column_width(0, 28).map_err(err)?;
    summary.set_column_width(1, 60).map_err(err)?;
    // Room for the line saying the summary was cut.
    let summary_rows = ROWS_MAX - 1;
    for (i, (k, v)) in lines.iter().take(summary_rows).enumerate() {
        summary
            .write_string_with_format(i as u32, 0, fit_cell(k), &bold)
            .map_err(err)?;
        summary
            .write_string(i as u32, 1, fit_cell(v))
            .map_err(err)?;
    }
    if lines.len() > summary_rows {
        summary
            .write_string(
                summary_rows as u32,
                0,
                format!(
                    "…另有 {} 条未列出 / {} more not listed",
                    lines.len() - summary_rows,
                    lines.len() - summary_rows
                ),
            )
            .map_err(err)?;
    }

    // Columns a row can keep after the four leading ones.
    let width = COLUMNS_MAX - LEAD_HEADERS.len();
    for (order, (original, rows)) in by_sheet {
        let headers = s
            .sheets
            .get(order)
            .map(|x| x.headers.clone())
            .unwrap_or_default();
        let ws = wb.add_worksheet();
        let wanted = if original.starts_with("说明") {
            format!("{original}_")
        } else {
            original.clone()
        };
        ws.set_name(sheet_name(&wanted, &mut taken)).map_err(err)?;
        for (c, h) in LEAD_HEADERS
            .iter()
            .map(|h| h.to_string())
            .chain(headers.iter().take(width).cloned())
            .enumerate()
        {
            ws.write_string_with_format(0, c as u16, fit_cell(&h), &bold)
                .map_err(err)?;
        }
        ws.set_column_width(0, 50).map_err(err)?;
        for (i, (row, issues)) in rows.iter().take(room).enumerate() {
            let r = i as u32 + 1;
            let mut reasons: Vec<String> = issues.iter().map(|x| x.reason.clone()).collect();
            let columns: Vec<String> = issues
                .iter()
                .map(|x| x.column.clone())
                .filter(|c| !c.is_empty())
                .collect();
            let worst = issues
                .iter()
                .map(|x| x.severity)
                .max()
                .unwrap_or(Severity::Warning);
            let values = cells.get(&(original.as_str(), *row));
            if let Some(values) = values.filter(|v| v.len() > width) {
                let past = values[width..].iter().filter(|v| !v.is_empty()).count();
                if past > 0 {
                    reasons.push(format!(
                        "本行第 {width} 列以后还有 {past} 个有内容的单元格，超出 Excel 的列数上限，未写入报告（原文件中不变）/ {past} cells with values past column {width} are beyond Excel's last column: not in this report (the original file is unchanged)"
                    ));
                }
            }
            ws.write_string(r, 0, fit_cell(&reasons.join("；")))
                .map_err(err)?;
            ws.write_string(r, 1, severity_label(worst)).map_err(err)?;
            ws.write_string(r, 2, fit_cell(&columns.join("、")))
                .map_err(err)?;
            ws.write_number(r, 3, f64::from(*row)).map_err(err)?;
            if let Some(values) = values {
                for (c, v) in values.iter().take(width).enumerate() {
                    if !v.is_empty() {
                        ws.write_string(r, (c + LEAD_HEADERS.len()) as u16, fit_cell(v))
                            .map_err(err)?;
                    }
                }
            }
        }
    }
    wb.save_to_buffer().map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cell_is_cut_to_what_a_workbook_holds_and_says_so() {
        let short = "王秀兰";
        assert_eq!(fit_cell(short), short);
        let exact = "x".repeat(CELL_MAX);
        assert_eq!(fit_cell(&exact), exact);
        // Astral characters count twice, as Excel counts them.
        let long = "𠀀".repeat(20_000);
        let cut = fit_cell(&long);
        assert!(utf16_len(&cut) <= CELL_MAX, "{}", utf16_len(&cut));
        assert!(cut.starts_with("𠀀") && cut.contains("已截断") && cut.contains("20000"));
    }

    #[test]
    fn sheet_names_are_made_valid_and_distinct() {
        let mut taken = HashSet::new();
        assert_eq!(sheet_name("3号楼", &mut taken), "3号楼");
        assert_eq!(sheet_name("名单[1]", &mut taken), "名单_1_");
        assert_eq!(sheet_name("'引号'", &mut taken), "引号");
        assert_eq!(sheet_name("3号楼", &mut taken), "3号楼~2");
        let long = "很".repeat(40);
        let a = sheet_name(&long, &mut taken);
        let b = sheet_name(&long, &mut taken);
        assert!(
            utf16_len(&a) <= 31 && utf16_len(&b) <= 31 && a != b,
            "{a} {b}"
        );
        assert_eq!(sheet_name("", &mut taken), "Sheet");
    }
}
