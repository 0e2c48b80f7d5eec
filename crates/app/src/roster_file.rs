//! Reads a roster file (`.xlsx`/`.xlsm`, `.xls`, `.csv`/`.txt`) into
//! [`Sheet`]s for the importer in `gw_domain::roster`.
//!
//! Files are sniffed, not trusted: a legacy `.xls` renamed `.xlsx` is read as
//! `.xls`; a password-protected workbook (an OLE container holding
//! `EncryptionInfo`) is named as such instead of failing obscurely; CSVs are
//! decoded from UTF-8, GB18030/GBK (Excel on Chinese Windows) or UTF-16.
//!
//! Coordinates are absolute: `rows[0]` is spreadsheet row 1 and `rows[r][0]`
//! column A, whatever range the workbook's cells start at, so row numbers in
//! error reports match what the user sees. Rows are as wide as the sheet's
//! last column holding a value; a merged region of blank cells may reach
//! beyond it.

use calamine::{Data, Dimensions, Range, Reader, SheetType, Xls, XlsError, Xlsx, XlsxError};
use gw_domain::date::Date;
use gw_domain::roster::{Cell, Merge, Sheet};
use std::io::{Cursor, Read, Seek};
use std::path::Path;

/// Files above this size are refused before being read.
pub const DEFAULT_MAX_SIZE: u64 = 50 * 1024 * 1024;

/// A sheet whose absolute grid would hold more cells than this is refused
/// (a stray value in cell XFD1048576 would otherwise exhaust memory).
const MAX_CELLS_PER_SHEET: u64 = 10_000_000;

const CFB_MAGIC: [u8; 8] = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
const ZIP_MAGIC: [u8; 4] = *b"PK\x03\x04";
const UTF8_BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];
/// How far a CSV is looked at for NUL bytes (binary content).
const SNIFF_LEN: usize = 8 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum FileError {
    // The cause is said once, in the message (not also as a source, which
    // error chains print again).
    #[error("无法读取文件 {path} / cannot read {path}: {cause}")]
    Io { path: String, cause: std::io::Error },
    #[error("文件 {path} 太大（{}），上限为 {}，请删去无关内容或拆分后重试 / {path} is too large ({size} bytes; the limit is {max} bytes)", human_size(.size), human_size(.max))]
    TooLarge { path: String, size: u64, max: u64 },
    #[error("文件 {path} 是空的 / {path} is empty")]
    Empty { path: String },
    #[error("不支持的文件类型“{}”（{path}），请上传 .xlsx、.xls 或 .csv 文件 / unsupported file type “{}” ({path}): upload an .xlsx, .xls or .csv file", if .ext.is_empty() { "无扩展名" } else { .ext.as_str() }, if .ext.is_empty() { "none" } else { .ext.as_str() })]
    UnsupportedExtension {
        path: String,
        /// `.pdf`, or empty for none.
        ext: String,
    },
    #[error("文件 {path} 已加密，请在 Excel/WPS 中取消密码后另存为 .xlsx / the workbook {path} is password-protected: remove the password in Excel/WPS and save it again as .xlsx")]
    Encrypted { path: String },
    /// `reason` is `中文 / English`: each half is said on its side.
    #[error("{}", gw_domain::text::labelled(&format!("{path} 不是可读取的 Excel 或 CSV 表格"), &format!("{path} is not a spreadsheet"), .reason))]
    NotASpreadsheet { path: String, reason: String },
    /// A workbook cut short or corrupted (a download or copy not finished):
    /// not "not Excel". `detail` is the reader's own (English) words.
    #[error("{path} 已损坏或不完整（可能没有下载完或复制完），无法读取：请重新获取原文件，或在 Excel/WPS 中打开后另存为 .xlsx / {path} is damaged or incomplete (perhaps not fully downloaded or copied): get the file again, or open it in Excel/WPS and save it again as .xlsx ({detail})")]
    Damaged { path: String, detail: String },
}

fn human_size(bytes: &u64) -> String {
    let mb = *bytes as f64 / (1024.0 * 1024.0);
    if mb >= 1.0 {
        format!("{mb:.1} MB")
    } else {
        format!("{:.1} KB", *bytes as f64 / 1024.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Workbook,
    Csv,
}

/// The part of `name` after its last `/` or `\` (browsers may send
/// `C:\fakepath\3号楼.csv`).
fn base_name(name: &str) -> &str {
    name.rsplit(['/', '\\']).next().unwrap_or(name)
}

fn extension(name: &str) -> String {
    let base = base_name(name);
    match base.rfind('.') {
        Some(i) if i > 0 => base[i + 1..].to_lowercase(),
        _ => String::new(),
    }
}

/// `3号楼.csv` → `3号楼`: a CSV's only sheet is named after the file, since
/// the building may be given by the name alone.
fn stem(name: &str) -> String {
    let base = base_name(name);
    match base.rfind('.') {
        Some(i) if i > 0 => base[..i].to_string(),
        _ => base.to_string(),
    }
}

fn kind_of(path: &str) -> Result<Kind, FileError> {
    match extension(path).as_str() {
        "xlsx" | "xlsm" | "xls" => Ok(Kind::Workbook),
        "csv" | "txt" => Ok(Kind::Csv),
        ext => Err(FileError::UnsupportedExtension {
            path: path.to_string(),
            ext: if ext.is_empty() {
                String::new()
            } else {
                format!(".{ext}")
            },
        }),
    }
}

/// Reads a roster file. The size is checked before anything is read.
pub fn read_roster_file(path: &Path, max_size: u64) -> Result<Vec<Sheet>, FileError> {
    let shown = path.display().to_string();
    let kind = kind_of(&shown)?;
    let io = |cause| FileError::Io {
        path: shown.clone(),
        cause,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if meta.len() > max_size {
        return Err(FileError::TooLarge {
            path: shown,
            size: meta.len(),
            max: max_size,
        });
    }
    if meta.is_file() && meta.len() == 0 {
        return Err(FileError::Empty { path: shown });
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    let file = std::fs::File::open(path).map_err(io)?;
    // The file may have grown since: never read past the limit.
    file.take(max_size.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io)?;
    let size = bytes.len() as u64;
    if size > max_size {
        return Err(FileError::TooLarge {
            path: shown,
            size,
            max: max_size,
        });
    }
    read_kind(&shown, kind, &bytes)
}

/// Reads a roster already in memory (a web upload). `name` is the uploaded
/// file's name: it gives the type, the CSV sheet name and the messages.
pub fn read_roster_bytes(name: &str, bytes: &[u8]) -> Result<Vec<Sheet>, FileError> {
    let kind = kind_of(name)?;
    read_kind(name, kind, bytes)
}

fn read_kind(path: &str, kind: Kind, bytes: &[u8]) -> Result<Vec<Sheet>, FileError> {
    if bytes.is_empty() {
        return Err(FileError::Empty {
            path: path.to_string(),
        });
    }
    // A workbook named .csv (renamed, or "saved as" the wrong type) is still a workbook.
    if kind == Kind::Workbook || bytes.starts_with(&ZIP_MAGIC) || bytes.starts_with(&CFB_MAGIC) {
        // The workbook parser is third-party code reading untrusted bytes; a
        // panic in it (calamine 0.38 overflows on a cell reference such as
        // `AAAAAAAAA1`) refuses the file instead of ending the import or the
        // request. Found by the `roster_file` fuzz target.
        std::panic::catch_unwind(|| read_workbook(path, bytes)).unwrap_or_else(|_| {
            Err(FileError::Damaged {
                path: path.to_string(),
                detail: "the workbook reader gave up on its structure".into(),
            })
        })
    } else {
        read_csv(path, bytes)
    }
}

fn not_a_spreadsheet(path: &str, reason: impl Into<String>) -> FileError {
    FileError::NotASpreadsheet {
        path: path.to_string(),
        reason: reason.into(),
    }
}

// ---------------------------------------------------------------------------
// Workbooks

/// An OLE directory entry named `EncryptionInfo` (UTF-16LE) marks an
/// Office-encrypted package. Directory entries are 128 bytes and sectors
/// (512 or 4096 bytes, after a header of the same size) are multiples of 128,
/// so entry names start at offsets that are multiples of 128.
fn is_encrypted_package(bytes: &[u8]) -> bool {
    let needle: Vec<u8> = "EncryptionInfo"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    bytes.chunks(128).any(|entry| entry.starts_with(&needle))
}

fn describe_non_workbook(bytes: &[u8]) -> String {
    let head = &bytes[..bytes.len().min(SNIFF_LEN)];
    let text = head.strip_prefix(&UTF8_BOM).unwrap_or(head);
    let lower: Vec<u8> = text.iter().take(512).map(u8::to_ascii_lowercase).collect();
    let trimmed: &[u8] = {
        let start = lower
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .unwrap_or(lower.len());
        &lower[start..]
    };
    if head.starts_with(b"%PDF") {
        "这是 PDF 文件，请上传 Excel 原表 / this is a PDF: upload the original Excel file".into()
    } else if trimmed.starts_with(b"<") {
        "看起来是网页（HTML/XML）导出的“假 Excel”，请用 Excel/WPS 打开后另存为 .xlsx / looks like a web page (HTML/XML) saved with an Excel name: open it in Excel/WPS and save it as .xlsx".into()
    } else if !head.contains(&0) {
        "看起来是文本文件，若是逗号分隔的表格请改扩展名为 .csv / looks like a text file: if it is comma-separated, rename it to .csv".into()
    } else {
        "文件头既不是 .xlsx（zip）也不是 .xls，文件可能已损坏 / the file starts neither like an .xlsx (zip) nor an .xls: it may be damaged".into()
    }
}

/// Why an .xlsx cannot be read: a zip cut short or corrupted is damaged
/// (an unfinished download); a sound zip that is no workbook is not one.
fn xlsx_error(path: &str, e: XlsxError) -> FileError {
    match e {
        XlsxError::Zip(_) | XlsxError::Io(_) => FileError::Damaged {
            path: path.to_string(),
            detail: e.to_string(),
        },
        e => not_a_spreadsheet(
            path,
            format!("无法按 .xlsx 读取（压缩包里不是 Excel 工作簿）/ cannot be read as .xlsx (the zip holds no workbook): {e}"),
        ),
    }
}

/// Why an .xls cannot be read: a container or stream cut short is damaged.
fn xls_error(path: &str, e: XlsError) -> FileError {
    // calamine keeps its container error private: a container cut short
    // reads "I/O error…", a sector "beyond" the end, or "too small".
    let cut_short =
        |c: &str| c.contains("I/O error") || c.contains("beyond") || c.contains("too small");
    match e {
        XlsError::Io(_) | XlsError::EoStream(_) => FileError::Damaged {
            path: path.to_string(),
            detail: e.to_string(),
        },
        XlsError::Cfb(ref c) if cut_short(&c.to_string()) => FileError::Damaged {
            path: path.to_string(),
            detail: e.to_string(),
        },
        e => not_a_spreadsheet(
            path,
            format!("无法按 .xls 读取 / cannot be read as .xls: {e}"),
        ),
    }
}

fn read_workbook(path: &str, bytes: &[u8]) -> Result<Vec<Sheet>, FileError> {
    if bytes.starts_with(&CFB_MAGIC) {
        if is_encrypted_package(bytes) {
            return Err(FileError::Encrypted {
                path: path.to_string(),
            });
        }
        // A legacy .xls (perhaps renamed .xlsx).
        let mut wb = match Xls::new(Cursor::new(bytes)) {
            Ok(wb) => wb,
            Err(XlsError::Password) => {
                return Err(FileError::Encrypted {
                    path: path.to_string(),
                })
            }
            Err(e) => return Err(xls_error(path, e)),
        };
        let is_1904 = wb.has_1904_epoch();
        return read_sheets(path, &mut wb, is_1904, |wb, name| {
            wb.merge_cells_by_sheet_name(name)
                .map_err(|e| e.to_string())
        });
    }
    if bytes.starts_with(&ZIP_MAGIC) {
        let mut wb = Xlsx::new(Cursor::new(bytes)).map_err(|e| xlsx_error(path, e))?;
        let is_1904 = wb.has_1904_epoch();
        return read_sheets(path, &mut wb, is_1904, |wb, name| {
            wb.merge_cells_by_sheet_name(name)
                .map_err(|e| e.to_string())
        });
    }
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(FileError::Empty {
            path: path.to_string(),
        });
    }
    Err(not_a_spreadsheet(path, describe_non_workbook(bytes)))
}

fn read_sheets<RS, R>(
    path: &str,
    wb: &mut R,
    is_1904: bool,
    merges_of: impl Fn(&mut R, &str) -> Result<Vec<Dimensions>, String>,
) -> Result<Vec<Sheet>, FileError>
where
    RS: Read + Seek,
    R: Reader<RS>,
    R::Error: std::fmt::Display,
{
    // Worksheets only: chart sheets, dialog and macro sheets hold no rows.
    let names: Vec<(String, bool)> = wb
        .sheets_metadata()
        .iter()
        .filter(|s| s.typ == SheetType::WorkSheet)
        .map(|s| (s.name.clone(), s.visible != calamine::SheetVisible::Visible))
        .collect();
    let mut sheets = Vec::with_capacity(names.len());
    for (name, hidden) in names {
        let range = wb.worksheet_range(&name).map_err(|e| {
            not_a_spreadsheet(
                path,
                format!("工作表“{name}”无法读取 / sheet “{name}” cannot be read: {e}"),
            )
        })?;
        let rows = absolute_rows(&range, is_1904)
            .map_err(|cells| not_a_spreadsheet(path, format!("工作表“{name}”范围过大（约 {cells} 个单元格），请删除多余的行列后重试 / sheet “{name}” spans too many cells ({cells}): delete the stray rows and columns")))?;
        let merges = merges_of(wb, &name)
            .map_err(|e| not_a_spreadsheet(path, format!("工作表“{name}”的合并单元格无法读取 / merged cells of sheet “{name}” cannot be read: {e}")))?
            .into_iter()
            .map(|d| Merge { first_row: d.start.0, first_col: d.start.1, last_row: d.end.0, last_col: d.end.1 })
            .collect();
        sheets.push(Sheet {
            name,
            rows,
            merges,
            hidden,
        });
    }
    // A workbook without a single value is as empty as a 0-byte file.
    if sheets.iter().all(|s| s.rows.is_empty()) {
        return Err(FileError::Empty {
            path: path.to_string(),
        });
    }
    Ok(sheets)
}

/// The range laid out from A1: calamine's range starts at its first non-empty
/// cell, which may be C3. Trailing empty rows are dropped. `Err` carries the
/// cell count when the grid would be unreasonably large.
fn absolute_rows(range: &Range<Data>, is_1904: bool) -> Result<Vec<Vec<Cell>>, u64> {
    let (Some((r0, c0)), Some((r1, c1))) = (range.start(), range.end()) else {
        return Ok(Vec::new());
    };
    let cells = (u64::from(r1) + 1) * (u64::from(c1) + 1);
    if cells > MAX_CELLS_PER_SHEET {
        return Err(cells);
    }
    let width = c1 as usize + 1;
    let mut rows: Vec<Vec<Cell>> = Vec::with_capacity(r1 as usize + 1);
    rows.resize(r0 as usize, vec![Cell::Empty; width]);
    for src in range.rows() {
        let mut row = Vec::with_capacity(width);
        row.resize(c0 as usize, Cell::Empty);
        row.extend(src.iter().map(|d| convert(d, is_1904)));
        row.resize(width, Cell::Empty);
        rows.push(row);
    }
    while rows
        .last()
        .is_some_and(|r| r.iter().all(|c| *c == Cell::Empty))
    {
        rows.pop();
    }
    Ok(rows)
}

/// Days between the 1900 and 1904 date systems.
const EPOCH_1904_OFFSET: f64 = 1462.0;

fn convert(d: &Data, is_1904: bool) -> Cell {
    match d {
        Data::String(s) if s.is_empty() => Cell::Empty,
        Data::String(s) => Cell::Text(s.clone()),
        Data::Float(f) => Cell::Number(*f),
        Data::Int(i) => Cell::Number(*i as f64),
        Data::Bool(b) => Cell::Bool(*b),
        Data::DateTime(dt) => {
            let serial = dt.as_f64();
            let date = if dt.is_datetime() {
                Date::from_excel_serial(if is_1904 {
                    serial + EPOCH_1904_OFFSET
                } else {
                    serial
                })
            } else {
                None // a duration ([h]:mm), not a day
            };
            date.map_or(Cell::Number(serial), Cell::Date)
        }
        Data::DateTimeIso(s) | Data::DurationIso(s) if s.is_empty() => Cell::Empty,
        Data::DateTimeIso(s) | Data::DurationIso(s) => Cell::Text(s.clone()),
        Data::Error(_) | Data::Empty => Cell::Empty,
    }
}

// ---------------------------------------------------------------------------
// CSV

/// Decodes CSV bytes: UTF-16 with a BOM (Excel "Unicode text"), UTF-8 with or
/// without a BOM, else GB18030 (a superset of GBK, what Excel writes on
/// Chinese Windows).
fn decode_text(path: &str, bytes: &[u8]) -> Result<String, FileError> {
    if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        return Ok(encoding_rs::UTF_16LE
            .decode_without_bom_handling(rest)
            .0
            .into_owned());
    }
    if let Some(rest) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        return Ok(encoding_rs::UTF_16BE
            .decode_without_bom_handling(rest)
            .0
            .into_owned());
    }
    let body = bytes.strip_prefix(&UTF8_BOM).unwrap_or(bytes);
    if body[..body.len().min(SNIFF_LEN)].contains(&0) {
        return Err(not_a_spreadsheet(
            path,
            "含有二进制内容（NUL 字节），不是文本或 CSV 文件 / contains binary data (NUL bytes): not a text or CSV file",
        ));
    }
    Ok(match std::str::from_utf8(body) {
        Ok(s) => s.to_string(),
        Err(_) => encoding_rs::GB18030
            .decode_without_bom_handling(body)
            .0
            .into_owned(),
    })
}

/// Comma, unless the first non-empty line has more tabs (Excel "text") or
/// more semicolons (European Excel) than commas.
fn sniff_delimiter(text: &str) -> u8 {
    let Some(line) = text.lines().find(|l| !l.trim().is_empty()) else {
        return b',';
    };
    let count = |ch: char| line.chars().filter(|c| *c == ch).count();
    let (commas, tabs, semis) = (count(','), count('\t'), count(';'));
    if tabs > commas && tabs >= semis {
        b'\t'
    } else if semis > commas {
        b';'
    } else {
        b','
    }
}

fn read_csv(path: &str, bytes: &[u8]) -> Result<Vec<Sheet>, FileError> {
    let text = decode_text(path, bytes)?;
    if text.chars().all(|c| c.is_whitespace() || c == '\u{FEFF}') {
        return Err(FileError::Empty {
            path: path.to_string(),
        });
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(sniff_delimiter(&text))
        .from_reader(text.as_bytes());
    let mut rows: Vec<Vec<Cell>> = Vec::new();
    // The csv crate skips blank lines; Excel shows them as rows. Keep them so
    // row numbers in reports match what the user sees. A record's line is
    // counted from its first byte (the crate's own line count goes wrong over
    // blank CRLF lines): every `\n` before it, quoted ones included.
    let bytes = text.as_bytes();
    let (mut counted_to, mut line_at): (usize, u64) = (0, 1);
    let mut next_line: u64 = 1;
    for record in reader.records() {
        let record = record
            .map_err(|e| not_a_spreadsheet(path, format!("CSV 格式错误 / malformed CSV: {e}")))?;
        if let Some(start) = record.position().map(|p| p.byte() as usize) {
            // The crate's offset is where it began reading: the line breaks
            // (and blank lines) before the record are still ahead of it.
            let mut start = start.min(bytes.len());
            while start < bytes.len() && matches!(bytes[start], b'\r' | b'\n') {
                start += 1;
            }
            if start > counted_to {
                line_at += bytes[counted_to..start]
                    .iter()
                    .filter(|b| **b == b'\n')
                    .count() as u64;
                counted_to = start;
            }
            // A blank line is an empty row; a record spanning lines (a quoted
            // line break) is one row, as Excel shows them.
            while next_line < line_at {
                rows.push(Vec::new());
                next_line += 1;
            }
            let inner_newlines = record
                .iter()
                .map(|f| f.matches('\n').count() as u64)
                .sum::<u64>();
            next_line = line_at + 1 + inner_newlines;
        }
        rows.push(
            record
                .iter()
                .map(|f| {
                    if f.trim().is_empty() {
                        Cell::Empty
                    } else {
                        Cell::Text(f.to_string())
                    }
                })
                .collect(),
        );
    }
    while rows
        .last()
        .is_some_and(|r| r.iter().all(|c| *c == Cell::Empty))
    {
        rows.pop();
    }
    if rows.is_empty() {
        return Err(FileError::Empty {
            path: path.to_string(),
        });
    }
    Ok(vec![Sheet {
        name: stem(path),
        rows,
        merges: Vec::new(),
        hidden: false,
    }])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::*;
    use gw_domain::idnumber::IdNumber;

    fn text(s: &str) -> Cell {
        Cell::Text(s.to_string())
    }
    fn sheet<'a>(sheets: &'a [Sheet], name: &str) -> &'a Sheet {
        sheets
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no sheet {name}"))
    }
    fn merge(first_row: u32, first_col: u32, last_row: u32, last_col: u32) -> Merge {
        Merge {
            first_row,
            first_col,
            last_row,
            last_col,
        }
    }
    fn find_row<'a>(s: &'a Sheet, col: usize, value: &str) -> &'a Vec<Cell> {
        s.rows
            .iter()
            .find(|r| r.get(col) == Some(&text(value)))
            .unwrap_or_else(|| panic!("no row with {value}"))
    }
    fn strings(rows: &[&[&str]]) -> Vec<Vec<String>> {
        rows.iter()
            .map(|r| r.iter().map(|s| s.to_string()).collect())
            .collect()
    }

    #[test]
    fn messy_workbook_reads_back_with_absolute_merges() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("花名册.xlsx");
        write_xlsx(&path, &messy_building_roster()).unwrap();
        let sheets = read_roster_file(&path, DEFAULT_MAX_SIZE).unwrap();
        let names: Vec<&str> = sheets.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["汇总", "3号楼", "5号楼", "English"]);

        // 3号楼: the title merged across A1:J1, the header on row 4.
        let s3 = sheet(&sheets, "3号楼");
        assert_eq!(s3.merges, vec![merge(0, 0, 0, 9)]);
        assert_eq!(s3.rows[0][0], text("鸿城街道东风社区3号楼居民花名册"));
        assert!(s3.rows[0][1..].iter().all(|c| *c == Cell::Empty));
        assert!(s3.rows[1].iter().all(|c| *c == Cell::Empty));
        assert_eq!(s3.rows[2][0], text("填报单位：XX物业 2022年3月18日"));
        assert_eq!(s3.rows[3][1], text("姓名"));
        assert_eq!(s3.rows[3][9], text("备注"));
        assert_eq!(s3.rows[4][0], Cell::Number(1.0));
        assert_eq!(s3.rows[4][1], text("王秀兰"));
        // The ID Excel turned into a number stays a number.
        assert_eq!(find_row(s3, 1, "张伟")[2], Cell::Number(2.20102199003e17));
        // The full-width ID comes back as typed.
        let li = &find_row(s3, 1, "李建国")[2];
        assert!(
            matches!(li, Cell::Text(t) if t.starts_with('２') && t.ends_with('x') && t.contains(' ')),
            "{li:?}"
        );
        assert_eq!(
            s3.rows.last().unwrap()[0],
            text("制表人：张三    审核：李四")
        );
        assert_eq!(s3.rows.len(), 20);

        // 5号楼: 楼栋 merged F2:F4, the value in the top cell only.
        let s5 = sheet(&sheets, "5号楼");
        assert_eq!(s5.merges, vec![merge(1, 5, 3, 5)]);
        assert_eq!(s5.rows[1][5], text("5号楼"));
        assert_eq!(s5.rows[2][5], Cell::Empty);
        assert_eq!(s5.rows[3][5], Cell::Empty);
        assert_eq!(s5.rows[4][5], text("5栋"));
        assert_eq!(find_row(s5, 0, "金敏洙")[3], text("E12345678"));

        // 汇总: a real date cell.
        let sum = sheet(&sheets, "汇总");
        assert_eq!(
            find_row(sum, 0, "统计日期")[1],
            Cell::Date(Date::new(2022, 3, 18).unwrap())
        );
        assert_eq!(sum.merges, vec![merge(0, 0, 0, 2)]);

        let en = sheet(&sheets, "English");
        assert_eq!(en.rows[0][0], text("Name"));
        assert_eq!(en.rows[1][3], Cell::Number(7.0));
    }

    #[test]
    fn rows_are_absolute_when_the_used_range_starts_late() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("late.xlsm");
        let e = FixtureCell::Empty;
        let fs = FixtureSheet {
            name: "Sheet1".into(),
            rows: vec![
                vec![],
                vec![],
                vec![e.clone(), e.clone(), FixtureCell::Text("标题".into())],
                vec![
                    e.clone(),
                    e.clone(),
                    FixtureCell::Text("姓名".into()),
                    FixtureCell::Text("门牌号".into()),
                ],
                vec![
                    e.clone(),
                    e.clone(),
                    FixtureCell::Text("王五".into()),
                    FixtureCell::Number(301.0),
                ],
                vec![e.clone(), e, FixtureCell::Date(1950, 1, 2)],
            ],
            merges: vec![(2, 2, 2, 4)],
        };
        write_xlsx(&path, &[fs]).unwrap();
        let sheets = read_roster_file(&path, DEFAULT_MAX_SIZE).unwrap();
        let s = &sheets[0];
        assert_eq!(s.merges, vec![merge(2, 2, 2, 4)]);
        assert_eq!(s.rows.len(), 6);
        assert!(s.rows[0]
            .iter()
            .chain(&s.rows[1])
            .all(|c| *c == Cell::Empty));
        assert_eq!(s.rows[2][..3], [Cell::Empty, Cell::Empty, text("标题")]);
        // Calamine's range ends at the last value (column C): the blank merged
        // cells D3:E3 are not in it, so a merge may reach past a row's end.
        assert_eq!(s.rows[2].len(), 4);
        assert_eq!(s.rows[3][2], text("姓名"));
        assert_eq!(s.rows[4][3], Cell::Number(301.0));
        assert_eq!(s.rows[5][2], Cell::Date(Date::new(1950, 1, 2).unwrap()));
    }

    #[test]
    fn gbk_csv_decodes_and_is_named_after_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("3号楼.csv");
        let rows = strings(&[
            &["姓名", "身份证号码", "单元", "门牌号", "备注"],
            &[
                "王秀兰",
                "220102194105120248",
                "1单元",
                "301室",
                "独居老人，行动不便",
            ],
            &["李\"老\"四", "", "2", "302", "多行\n备注"],
            &["赵六", "", "2", "303", ""],
        ]);
        write_csv_gbk(&path, &rows).unwrap();
        let raw = std::fs::read(&path).unwrap();
        assert!(
            std::str::from_utf8(&raw).is_err(),
            "the fixture must not be UTF-8"
        );
        assert!(raw.windows(2).any(|w| w == b"\r\n"));

        let sheets = read_roster_file(&path, DEFAULT_MAX_SIZE).unwrap();
        assert_eq!(sheets.len(), 1);
        let s = &sheets[0];
        assert_eq!(s.name, "3号楼");
        assert!(s.merges.is_empty());
        assert_eq!(s.rows[0][0], text("姓名"));
        assert_eq!(s.rows[1][0], text("王秀兰"));
        assert_eq!(s.rows[1][4], text("独居老人，行动不便"));
        assert_eq!(s.rows[2][0], text("李\"老\"四"));
        assert_eq!(s.rows[2][1], Cell::Empty);
        assert_eq!(s.rows[2][4], text("多行\n备注"));
        // The record spanning two lines is one row, as in Excel.
        assert_eq!(s.rows[3][0], text("赵六"));
        assert_eq!(s.rows.len(), 4);

        // The same bytes uploaded through the web, with a Windows path.
        let up = read_roster_bytes("C:\\fakepath\\5栋.CSV", &raw).unwrap();
        assert_eq!(up[0].name, "5栋");
        assert_eq!(up[0].rows, s.rows);
    }

    #[test]
    fn crlf_blank_lines_keep_the_line_numbers_an_editor_shows() {
        // Found by a review: a person on line 6 after two blank CRLF lines was row 4.
        let raw = "姓名,楼栋,房号\r\n甲,1,101\r\n乙,1,102\r\n\r\n\r\n丙,1,103\r\n";
        let s = &read_roster_bytes("e.csv", raw.as_bytes()).unwrap()[0];
        assert_eq!(s.rows[5][0], text("丙"), "{:?}", s.rows);
        assert_eq!(s.rows.len(), 6);
        // A quoted cell holding a line break is one row (as in Excel), and
        // the blank lines after it still count.
        let raw = "姓名,备注,房号\r\n甲,\"两\r\n行\",101\r\n\r\n\r\n丙,,103\r\n";
        let s = &read_roster_bytes("e.csv", raw.as_bytes()).unwrap()[0];
        assert_eq!(s.rows[4][0], text("丙"), "{:?}", s.rows);
        assert_eq!(s.rows.len(), 5);
    }

    #[test]
    fn utf8_bom_csv_and_blank_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("名单.csv");
        write_csv_utf8(
            &path,
            &strings(&[&["姓名", "门牌号"], &[], &["王五", "101"], &["", ""]]),
            true,
        )
        .unwrap();
        assert!(std::fs::read(&path).unwrap().starts_with(&UTF8_BOM));
        let s = &read_roster_file(&path, DEFAULT_MAX_SIZE).unwrap()[0];
        assert_eq!(s.name, "名单");
        // No BOM glued to the first header.
        assert_eq!(s.rows[0], vec![text("姓名"), text("门牌号")]);
        // The blank line is kept, so 王五 is on row 3 as in Excel; the trailing empty row is dropped.
        assert!(s.rows[1].iter().all(|c| *c == Cell::Empty));
        assert_eq!(s.rows[2], vec![text("王五"), text("101")]);
        assert_eq!(s.rows.len(), 3);

        write_csv_utf8(
            &path,
            &strings(&[&["姓名", "门牌号"], &["王五", "101"]]),
            false,
        )
        .unwrap();
        assert_eq!(
            read_roster_file(&path, DEFAULT_MAX_SIZE).unwrap()[0].rows[1][0],
            text("王五")
        );
    }

    #[test]
    fn tab_and_semicolon_separated_and_utf16() {
        let tsv = "姓名\t门牌号\t备注\r\n王五\t101\t a, b \r\n";
        let s = &read_roster_bytes("list.txt", tsv.as_bytes()).unwrap()[0];
        assert_eq!(s.name, "list");
        assert_eq!(s.rows[1], vec![text("王五"), text("101"), text(" a, b ")]);

        let ssv = "姓名;门牌号\n王五;101\n";
        assert_eq!(
            read_roster_bytes("a.csv", ssv.as_bytes()).unwrap()[0].rows[1],
            vec![text("王五"), text("101")]
        );

        // Excel "Unicode text": UTF-16LE with a BOM, tab-separated.
        let mut utf16 = vec![0xFF, 0xFE];
        utf16.extend(tsv.encode_utf16().flat_map(u16::to_le_bytes));
        let s = &read_roster_bytes("unicode.txt", &utf16).unwrap()[0];
        assert_eq!(s.rows[0], vec![text("姓名"), text("门牌号"), text("备注")]);
        assert_eq!(s.rows[1][0], text("王五"));
    }

    #[test]
    fn empty_files() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["empty.csv", "empty.xlsx"] {
            let path = dir.path().join(name);
            std::fs::write(&path, b"").unwrap();
            let err = read_roster_file(&path, DEFAULT_MAX_SIZE).unwrap_err();
            assert!(matches!(err, FileError::Empty { .. }), "{name}: {err:?}");
            assert!(err.to_string().contains(name), "{err}");
        }
        let path = dir.path().join("blank.xlsx");
        let blank = FixtureSheet {
            name: "Sheet1".into(),
            rows: vec![vec![FixtureCell::Empty]],
            merges: vec![],
        };
        write_xlsx(&path, &[blank]).unwrap();
        assert!(matches!(
            read_roster_file(&path, DEFAULT_MAX_SIZE),
            Err(FileError::Empty { .. })
        ));
        for bytes in [
            &b"\xEF\xBB\xBF"[..],
            b"  \r\n\r\n",
            b"\xEF\xBB\xBF\r\n ",
            b",,\r\n,\r\n",
        ] {
            assert!(
                matches!(
                    read_roster_bytes("a.csv", bytes),
                    Err(FileError::Empty { .. })
                ),
                "{bytes:?}"
            );
        }
    }

    #[test]
    fn random_bytes_and_non_workbook_zips_are_not_spreadsheets() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("random.xlsx");
        let mut rng = gw_domain::rng::Rng::new(42);
        let bytes: Vec<u8> = (0..4096).map(|_| rng.below(256) as u8).collect();
        std::fs::write(&path, &bytes).unwrap();
        let err = read_roster_file(&path, DEFAULT_MAX_SIZE).unwrap_err();
        assert!(matches!(err, FileError::NotASpreadsheet { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(
            msg.contains("不是可读取的 Excel 或 CSV 表格")
                && msg.contains("not a spreadsheet")
                && msg.contains("random.xlsx"),
            "{msg}"
        );

        // A valid zip holding one empty file: not a workbook. Calamine's reason is passed on.
        let zip = tiny_zip();
        let err = read_roster_bytes("archive.xlsx", &zip).unwrap_err();
        assert!(
            matches!(&err, FileError::NotASpreadsheet { reason, .. } if reason.contains(".xlsx")),
            "{err:?}"
        );

        // HTML saved as .xls by some web systems.
        let err = read_roster_bytes(
            "export.xls",
            b"<html><table><tr><td>1</td></tr></table></html>",
        )
        .unwrap_err();
        assert!(
            matches!(&err, FileError::NotASpreadsheet { reason, .. } if reason.contains("HTML")),
            "{err:?}"
        );

        // Binary content named .csv.
        let err = read_roster_bytes("random.csv", &[b'a', 0, b'b', 0, 1, 2, 3]).unwrap_err();
        assert!(
            matches!(&err, FileError::NotASpreadsheet { reason, .. } if reason.contains("NUL")),
            "{err:?}"
        );
    }

    /// Found by a review acting as grid leaders: the Chinese page said only
    /// "不是 Excel 文件" where the English one said why (text to rename
    /// .csv, NUL bytes), and a workbook cut short was "not Excel". Each half
    /// says the whole reason; a workbook cut short is damaged or incomplete.
    #[test]
    fn each_language_says_why_a_file_cannot_be_read() {
        let halves = |e: &FileError| {
            let msg = e.to_string();
            let (zh, en) = gw_domain::text::split_languages(&msg).unwrap();
            (zh.to_string(), en.to_string())
        };
        let e = read_roster_bytes("名单.xlsx", "姓名,楼栋\n甲,1\n".as_bytes()).unwrap_err();
        let (zh, en) = halves(&e);
        assert!(
            zh.contains("看起来是文本文件") && zh.contains(".csv"),
            "{zh}"
        );
        assert!(
            en.contains("rename it to .csv") && !en.contains("文本"),
            "{en}"
        );
        let e = read_roster_bytes("名单.csv", &[b'a', 0, b'b', 0, 1]).unwrap_err();
        let (zh, en) = halves(&e);
        assert!(zh.contains("NUL") && zh.contains("不是文本"), "{zh}");
        assert!(en.contains("NUL bytes"), "{en}");
        let e = read_roster_bytes("x", b"a").unwrap_err();
        let (zh, en) = halves(&e);
        assert!(zh.contains("无扩展名") && !zh.contains("none"), "{zh}");
        assert!(en.contains("none") && !en.contains("无"), "{en}");
        // A workbook cut short: damaged, not "not Excel".
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("full.xlsx");
        write_xlsx(&path, &messy_building_roster()).unwrap();
        let whole = std::fs::read(&path).unwrap();
        for cut in [whole.len() / 2, whole.len() - 10] {
            let e = read_roster_bytes("名单.xlsx", &whole[..cut]).unwrap_err();
            assert!(matches!(e, FileError::Damaged { .. }), "{e:?}");
            let (zh, en) = halves(&e);
            assert!(
                zh.contains("已损坏或不完整") && !zh.contains("不是"),
                "{zh}"
            );
            assert!(en.contains("damaged or incomplete"), "{en}");
        }
    }

    /// A stored zip archive with one empty file `a.txt`.
    fn tiny_zip() -> Vec<u8> {
        let mut z = Vec::new();
        z.extend_from_slice(b"PK\x03\x04");
        z.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0, 0]); // version, flags, method, time, date
        z.extend_from_slice(&[0; 12]); // crc, sizes
        z.extend_from_slice(&5u16.to_le_bytes());
        z.extend_from_slice(&0u16.to_le_bytes());
        z.extend_from_slice(b"a.txt");
        let cd = z.len() as u32;
        z.extend_from_slice(b"PK\x01\x02");
        z.extend_from_slice(&[20, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0]); // versions, flags, method, time, date
        z.extend_from_slice(&[0; 12]); // crc, sizes
        z.extend_from_slice(&5u16.to_le_bytes()); // name length
        z.extend_from_slice(&[0; 12]); // extra, comment, disk, attributes
        z.extend_from_slice(&0u32.to_le_bytes()); // local header offset
        z.extend_from_slice(b"a.txt");
        let cd_len = z.len() as u32 - cd;
        z.extend_from_slice(b"PK\x05\x06");
        z.extend_from_slice(&[0, 0, 0, 0, 1, 0, 1, 0]);
        z.extend_from_slice(&cd_len.to_le_bytes());
        z.extend_from_slice(&cd.to_le_bytes());
        z.extend_from_slice(&0u16.to_le_bytes());
        z
    }

    #[test]
    fn encrypted_workbook_is_named_as_such() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("加密.xlsx");
        write_fake_encrypted_xlsx(&path).unwrap();
        let err = read_roster_file(&path, DEFAULT_MAX_SIZE).unwrap_err();
        assert!(matches!(err, FileError::Encrypted { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(
            msg.contains("已加密") && msg.contains("password") && msg.contains("加密.xlsx"),
            "{msg}"
        );

        // The same container without the marker is taken for a legacy .xls;
        // having no Workbook stream, it is not a spreadsheet.
        let mut bytes = std::fs::read(&path).unwrap();
        let needle: Vec<u8> = "EncryptionInfo"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        let pos = bytes
            .windows(needle.len())
            .position(|w| w == needle)
            .unwrap();
        bytes[pos] = b'X';
        let err = read_roster_bytes("old.xlsx", &bytes).unwrap_err();
        assert!(
            matches!(&err, FileError::NotASpreadsheet { reason, .. } if reason.contains(".xls")),
            "{err:?}"
        );
    }

    #[test]
    fn size_limit_missing_file_and_extension() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.csv");
        std::fs::write(&path, "姓名\n".repeat(100)).unwrap();
        let err = read_roster_file(&path, 64).unwrap_err();
        assert!(
            matches!(
                err,
                FileError::TooLarge {
                    size: 700,
                    max: 64,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("big.csv"));
        assert!(read_roster_file(&path, 700).is_ok());

        let err = read_roster_file(&dir.path().join("missing.xlsx"), DEFAULT_MAX_SIZE).unwrap_err();
        assert!(matches!(err, FileError::Io { .. }), "{err:?}");
        assert!(err.to_string().contains("missing.xlsx"));

        let pdf = dir.path().join("名单.PDF");
        std::fs::write(&pdf, b"%PDF-1.4").unwrap();
        let err = read_roster_file(&pdf, DEFAULT_MAX_SIZE).unwrap_err();
        assert!(
            matches!(&err, FileError::UnsupportedExtension { ext, .. } if ext == ".pdf"),
            "{err:?}"
        );
        assert!(matches!(
            read_roster_bytes("noext", b"x"),
            Err(FileError::UnsupportedExtension { .. })
        ));
    }

    #[test]
    fn workbook_named_csv_is_read_as_workbook() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.xlsx");
        write_xlsx(&path, &messy_building_roster()).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let sheets = read_roster_bytes("3号楼.csv", &bytes).unwrap();
        assert_eq!(sheets.len(), 4);
        assert_eq!(read_roster_bytes("3号楼.xls", &bytes).unwrap(), sheets);
    }

    #[test]
    fn fixture_ids_are_what_they_claim() {
        let sheets = messy_building_roster();
        let s3 = &sheets[1];
        let id_of = |name: &str| {
            let row = s3
                .rows
                .iter()
                .find(|r| r.get(1) == Some(&FixtureCell::Text(name.into())))
                .unwrap();
            match &row[2] {
                FixtureCell::Text(t) => t.clone(),
                other => panic!("{other:?}"),
            }
        };
        for name in ["王秀兰", "赵磊", "孙丽", "周强", "吴芳", "郑浩", "王小明"] {
            let id = id_of(name);
            assert_eq!(id.len(), 18, "{name}");
            assert_eq!(IdNumber::parse(&id).unwrap().as_str(), id, "{name}");
        }
        let li = IdNumber::parse(&id_of("李建国")).unwrap();
        assert!(li.as_str().ends_with('X'));
        assert!(matches!(
            IdNumber::parse(&id_of("陈明")),
            Err(gw_domain::idnumber::IdNumberError::BadCheck { .. })
        ));
        assert_eq!(
            IdNumber::parse(&id_of("刘淑珍")).unwrap().as_str().len(),
            18
        );
        let e = messy_building_roster_expectations();
        assert_eq!(e.residents, e.data_rows - e.rejected - e.duplicates);
    }

    #[test]
    fn large_roster_is_valid_unique_deterministic_and_fast() {
        let start = std::time::Instant::now();
        let big = large_roster(100_000, 7);
        let elapsed = start.elapsed();
        assert!(elapsed.as_secs_f64() < 5.0, "{elapsed:?}");
        assert_eq!(big.len(), 1);
        let rows = &big[0].rows;
        assert_eq!(rows.len(), 100_001);
        assert_eq!(rows[0][0], FixtureCell::Text("姓名".into()));
        let mut seen = std::collections::HashSet::new();
        for r in &rows[1..] {
            let FixtureCell::Text(id) = &r[1] else {
                panic!("{r:?}")
            };
            assert!(IdNumber::parse(id).is_ok(), "{id}");
            assert!(seen.insert(id.clone()), "duplicate {id}");
        }
        let buildings: std::collections::HashSet<_> = rows[1..]
            .iter()
            .map(|r| format!("{:?}{:?}", r[3], r[4]))
            .collect();
        assert!(buildings.len() > 50, "{}", buildings.len());
        assert_eq!(large_roster(500, 7)[0].rows[..], rows[..501]);
        assert_ne!(large_roster(50, 8), large_roster(50, 7));

        // And it round-trips through a file.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("large.xlsx");
        write_xlsx(&path, &large_roster(2_000, 1)).unwrap();
        let s = &read_roster_file(&path, DEFAULT_MAX_SIZE).unwrap()[0];
        assert_eq!(s.rows.len(), 2_001);
        assert!(s.rows.iter().all(|r| r.len() == 8));
    }

    #[test]
    fn hidden_sheets_are_marked_hidden() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hidden.xlsx");
        let mut wb = rust_xlsxwriter::Workbook::new();
        let a = wb.add_worksheet();
        a.set_name("3号楼").unwrap();
        a.write_string(0, 0, "姓名").unwrap();
        let b = wb.add_worksheet();
        b.set_name("旧名单").unwrap();
        b.write_string(0, 0, "姓名").unwrap();
        b.set_hidden(true);
        wb.save(&path).unwrap();
        let sheets = read_roster_file(&path, DEFAULT_MAX_SIZE).unwrap();
        assert_eq!(
            sheets
                .iter()
                .map(|s| (s.name.as_str(), s.hidden))
                .collect::<Vec<_>>(),
            vec![("3号楼", false), ("旧名单", true)]
        );
    }
}
