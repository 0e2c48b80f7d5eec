//! The import report: an xlsx listing every rejected or warned row with sheet,
//! row, column and reason. Each problem sheet keeps its original name and
//! headers after four leading columns, so the grid leader fixes the cells and
//! re-imports this very file (the leading columns are ignored on import).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use gw_domain::roster::{ParsedRoster, RowOutcome, Severity};
use rust_xlsxwriter::{Format, Workbook};

use crate::import::ImportSummary;

pub const LEAD_HEADERS: [&str; 4] = ["问题 Issue", "级别 Severity", "列 Column", "原行号 Row"];

fn severity_label(s: Severity) -> &'static str {
    match s {
        Severity::Warning => "警告 warning",
        Severity::Rejected => "未导入 rejected",
    }
}

pub fn write_import_report(
    path: &Path,
    s: &ImportSummary,
    parsed: &ParsedRoster,
) -> Result<(), String> {
    let mut wb = Workbook::new();
    let bold = Format::new().set_bold();
    let err = |e: rust_xlsxwriter::XlsxError| e.to_string();

    let summary = wb.add_worksheet();
    summary.set_name("说明 Summary").map_err(err)?;
    summary.set_column_width(0, 28).map_err(err)?;
    summary.set_column_width(1, 60).map_err(err)?;
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
    for (i, (k, v)) in lines.iter().enumerate() {
        summary
            .write_string_with_format(i as u32, 0, k, &bold)
            .map_err(err)?;
        summary.write_string(i as u32, 1, v).map_err(err)?;
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
    let mut by_sheet: BTreeMap<usize, (String, BTreeMap<u32, Vec<&gw_domain::roster::RowIssue>>)> =
        BTreeMap::new();
    for issue in &s.issues {
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
    for (order, (sheet_name, rows)) in by_sheet {
        let headers = s
            .sheets
            .get(order)
            .map(|x| x.headers.clone())
            .unwrap_or_default();
        let ws = wb.add_worksheet();
        let name: String = if sheet_name.starts_with("说明") {
            format!("{sheet_name}_")
        } else {
            sheet_name.clone()
        };
        ws.set_name(name.chars().take(31).collect::<String>())
            .map_err(err)?;
        for (c, h) in LEAD_HEADERS
            .iter()
            .map(|h| h.to_string())
            .chain(headers.iter().cloned())
            .enumerate()
        {
            ws.write_string_with_format(0, c as u16, &h, &bold)
                .map_err(err)?;
        }
        ws.set_column_width(0, 50).map_err(err)?;
        for (i, (row, issues)) in rows.iter().enumerate() {
            let r = i as u32 + 1;
            let reasons: Vec<String> = issues.iter().map(|x| x.reason.clone()).collect();
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
            ws.write_string(r, 0, reasons.join("；")).map_err(err)?;
            ws.write_string(r, 1, severity_label(worst)).map_err(err)?;
            ws.write_string(r, 2, columns.join("、")).map_err(err)?;
            ws.write_number(r, 3, f64::from(*row)).map_err(err)?;
            if let Some(values) = cells.get(&(sheet_name.as_str(), *row)) {
                for (c, v) in values.iter().enumerate() {
                    if !v.is_empty() {
                        ws.write_string(r, (c + LEAD_HEADERS.len()) as u16, v)
                            .map_err(err)?;
                    }
                }
            }
        }
    }
    wb.save(path).map_err(err)
}
