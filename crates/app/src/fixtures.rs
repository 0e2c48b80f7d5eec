//! Ugly roster files for tests and benchmarks: real `.xlsx` written with
//! rust_xlsxwriter, CSVs the way Excel on Chinese Windows saves them (GB18030),
//! and a stand-in for a password-protected workbook. The rosters mimic what
//! property companies actually send: titles merged across the sheet, headers
//! on row 4, IDs typed with full-width digits or turned into numbers by Excel,
//! totals and signatures under the data.

use gw_domain::date::Date;
use gw_domain::idnumber::IdNumber;
use gw_domain::rng::Rng;
use rust_xlsxwriter::{ExcelDateTime, Format, FormatAlign, Workbook, Worksheet};
use std::collections::HashSet;
use std::path::Path;

/// One sheet of a fixture workbook.
#[derive(Debug, Clone, PartialEq)]
pub struct FixtureSheet {
    pub name: String,
    pub rows: Vec<Vec<FixtureCell>>,
    /// Merged regions: `(first_row, first_col, last_row, last_col)`, zero-based
    /// and inclusive. The value is taken from the top-left cell; the other
    /// cells of the region are left blank, as Excel does.
    pub merges: Vec<(u32, u16, u32, u16)>,
}

/// One cell as the fixture writes it.
#[derive(Debug, Clone, PartialEq)]
pub enum FixtureCell {
    Empty,
    Text(String),
    Number(f64),
    /// A real Excel date (serial number with a date format): year, month, day.
    Date(u16, u8, u8),
}

/// What a correct importer must make of [`messy_building_roster`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expectations {
    /// Person-ish rows after the header in resident sheets (rejected and
    /// duplicate rows included; blank, 合计 and signature rows excluded).
    pub data_rows: usize,
    /// Distinct people imported: `data_rows - rejected - duplicates`.
    pub residents: usize,
    /// Rows not imported (no name, or no address).
    pub rejected: usize,
    /// Rows that repeat a person already seen in the file.
    pub duplicates: usize,
    /// Rows imported with at least one warning (the duplicate row itself
    /// not counted).
    pub warned_rows: usize,
}

// ---------------------------------------------------------------------------
// Writers

fn cell_pos(r: usize, c: usize) -> Result<(u32, u16), String> {
    let row = u32::try_from(r).map_err(|_| format!("row {r} out of range"))?;
    let col = u16::try_from(c).map_err(|_| format!("column {c} out of range"))?;
    Ok((row, col))
}

fn write_cell(
    ws: &mut Worksheet,
    row: u32,
    col: u16,
    cell: &FixtureCell,
    date_fmt: &Format,
) -> Result<(), String> {
    match cell {
        FixtureCell::Empty => {}
        FixtureCell::Text(s) => {
            ws.write_string(row, col, s.as_str())
                .map_err(|e| e.to_string())?;
        }
        FixtureCell::Number(f) => {
            ws.write_number(row, col, *f).map_err(|e| e.to_string())?;
        }
        FixtureCell::Date(y, m, d) => {
            let dt = ExcelDateTime::from_ymd(*y, *m, *d).map_err(|e| e.to_string())?;
            ws.write_datetime_with_format(row, col, &dt, date_fmt)
                .map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

/// Writes a real `.xlsx` with one worksheet per [`FixtureSheet`], in order.
pub fn write_xlsx(path: &Path, sheets: &[FixtureSheet]) -> Result<(), String> {
    let mut wb = Workbook::new();
    let date_fmt = Format::new().set_num_format("yyyy-mm-dd");
    let merge_fmt = Format::new()
        .set_align(FormatAlign::Center)
        .set_align(FormatAlign::VerticalCenter);
    let merge_date_fmt = merge_fmt.clone().set_num_format("yyyy-mm-dd");
    for sheet in sheets {
        let ws = wb.add_worksheet();
        ws.set_name(sheet.name.as_str())
            .map_err(|e| e.to_string())?;
        let covered = |r: u32, c: u16| {
            sheet.merges.iter().any(|&(r0, c0, r1, c1)| {
                (r0..=r1).contains(&r) && (c0..=c1).contains(&c) && (r, c) != (r0, c0)
            })
        };
        for (r, cells) in sheet.rows.iter().enumerate() {
            for (c, cell) in cells.iter().enumerate() {
                let (row, col) = cell_pos(r, c)?;
                if sheet
                    .merges
                    .iter()
                    .any(|&(r0, c0, _, _)| (r0, c0) == (row, col))
                    || covered(row, col)
                {
                    continue; // written with its merge below
                }
                write_cell(ws, row, col, cell, &date_fmt)?;
            }
        }
        for &(r0, c0, r1, c1) in &sheet.merges {
            let top_left = sheet
                .rows
                .get(r0 as usize)
                .and_then(|r| r.get(c0 as usize))
                .unwrap_or(&FixtureCell::Empty);
            let text = match top_left {
                FixtureCell::Text(s) => s.as_str(),
                _ => "",
            };
            ws.merge_range(r0, c0, r1, c1, text, &merge_fmt)
                .map_err(|e| e.to_string())?;
            // A number or date in a merge: overwrite the top-left cell, as the
            // rust_xlsxwriter documentation shows.
            match top_left {
                FixtureCell::Number(f) => {
                    ws.write_number_with_format(r0, c0, *f, &merge_fmt)
                        .map_err(|e| e.to_string())?;
                }
                FixtureCell::Date(..) => write_cell(ws, r0, c0, top_left, &merge_date_fmt)?,
                FixtureCell::Empty | FixtureCell::Text(_) => {}
            }
        }
    }
    wb.save(path)
        .map_err(|e| format!("{}: {e}", path.display()))
}

fn csv_text(rows: &[Vec<String>]) -> Result<String, String> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .flexible(true)
        .from_writer(Vec::new());
    for row in rows {
        w.write_record(row).map_err(|e| e.to_string())?;
    }
    let bytes = w.into_inner().map_err(|e| e.to_string())?;
    String::from_utf8(bytes).map_err(|e| e.to_string())
}

/// A CSV the way Excel on Chinese Windows saves "CSV (逗号分隔)": commas, CRLF,
/// quotes only where needed, and GB18030 (GBK) bytes, not UTF-8.
pub fn write_csv_gbk(path: &Path, rows: &[Vec<String>]) -> Result<(), String> {
    let text = csv_text(rows)?;
    let (bytes, _, had_errors) = encoding_rs::GB18030.encode(&text);
    if had_errors {
        return Err("text not representable in GB18030".into());
    }
    std::fs::write(path, &bytes).map_err(|e| format!("{}: {e}", path.display()))
}

/// A UTF-8 CSV (commas, CRLF), with the byte-order mark Excel's
/// "CSV UTF-8" writes when `bom` is set.
pub fn write_csv_utf8(path: &Path, rows: &[Vec<String>], bom: bool) -> Result<(), String> {
    let text = csv_text(rows)?;
    let mut bytes = Vec::with_capacity(text.len() + 3);
    if bom {
        bytes.extend_from_slice(b"\xEF\xBB\xBF");
    }
    bytes.extend_from_slice(text.as_bytes());
    std::fs::write(path, &bytes).map_err(|e| format!("{}: {e}", path.display()))
}

/// Writes what a password-protected `.xlsx` looks like from outside.
///
/// Office encrypts an `.xlsx` by wrapping it in an OLE compound file (CFB)
/// holding the streams `EncryptionInfo` and `EncryptedPackage`. This is a
/// MINIMAL container carrying those markers: a version-3 CFB header (the
/// magic `D0 CF 11 E0 A1 B1 1A E1`, 512-byte sectors), one directory sector
/// (Root Entry, `EncryptionInfo`, `EncryptedPackage`, both empty) and one FAT
/// sector. It is structurally plausible but NOT a decryptable file: there is
/// no encryption header and no package.
pub fn write_fake_encrypted_xlsx(path: &Path) -> Result<(), String> {
    const END_OF_CHAIN: u32 = 0xFFFF_FFFE;
    const FREE: u32 = 0xFFFF_FFFF;
    const FAT_SECT: u32 = 0xFFFF_FFFD;
    const NO_STREAM: u32 = 0xFFFF_FFFF;

    let mut out = Vec::with_capacity(512 * 3);
    // Header (sector -1).
    out.extend_from_slice(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]);
    out.extend_from_slice(&[0; 16]); // CLSID
    out.extend_from_slice(&0x003Eu16.to_le_bytes()); // minor version
    out.extend_from_slice(&0x0003u16.to_le_bytes()); // major version 3
    out.extend_from_slice(&0xFFFEu16.to_le_bytes()); // byte order: little-endian
    out.extend_from_slice(&9u16.to_le_bytes()); // sector size 2^9
    out.extend_from_slice(&6u16.to_le_bytes()); // mini sector size 2^6
    out.extend_from_slice(&[0; 6]); // reserved
    out.extend_from_slice(&0u32.to_le_bytes()); // directory sectors (0 in v3)
    out.extend_from_slice(&1u32.to_le_bytes()); // FAT sectors
    out.extend_from_slice(&0u32.to_le_bytes()); // first directory sector
    out.extend_from_slice(&0u32.to_le_bytes()); // transaction signature
    out.extend_from_slice(&4096u32.to_le_bytes()); // mini stream cutoff
    out.extend_from_slice(&END_OF_CHAIN.to_le_bytes()); // first mini FAT sector
    out.extend_from_slice(&0u32.to_le_bytes()); // mini FAT sectors
    out.extend_from_slice(&END_OF_CHAIN.to_le_bytes()); // first DIFAT sector
    out.extend_from_slice(&0u32.to_le_bytes()); // DIFAT sectors
    out.extend_from_slice(&1u32.to_le_bytes()); // DIFAT[0]: the FAT is sector 1
    while out.len() < 512 {
        out.extend_from_slice(&FREE.to_le_bytes());
    }

    // Sector 0: the directory, four 128-byte entries.
    let entry = |name: &str, kind: u8, left: u32, right: u32, child: u32| -> Vec<u8> {
        let mut e = Vec::with_capacity(128);
        let units: Vec<u16> = name.encode_utf16().collect();
        for u in &units {
            e.extend_from_slice(&u.to_le_bytes());
        }
        e.resize(64, 0);
        let name_len = if name.is_empty() {
            0
        } else {
            (units.len() as u16 + 1) * 2
        };
        e.extend_from_slice(&name_len.to_le_bytes());
        e.push(kind); // 0 unused, 1 storage, 2 stream, 5 root
        e.push(1); // colour: black
        e.extend_from_slice(&left.to_le_bytes());
        e.extend_from_slice(&right.to_le_bytes());
        e.extend_from_slice(&child.to_le_bytes());
        e.extend_from_slice(&[0; 16]); // CLSID
        e.extend_from_slice(&[0; 4]); // state bits
        e.extend_from_slice(&[0; 16]); // creation and modification times
        let start = if kind == 0 { 0 } else { END_OF_CHAIN };
        e.extend_from_slice(&start.to_le_bytes());
        e.extend_from_slice(&0u64.to_le_bytes()); // stream size
        e
    };
    out.extend(entry("Root Entry", 5, NO_STREAM, NO_STREAM, 1));
    out.extend(entry("EncryptionInfo", 2, NO_STREAM, 2, NO_STREAM));
    out.extend(entry(
        "EncryptedPackage",
        2,
        NO_STREAM,
        NO_STREAM,
        NO_STREAM,
    ));
    out.extend(entry("", 0, NO_STREAM, NO_STREAM, NO_STREAM));

    // Sector 1: the FAT.
    out.extend_from_slice(&END_OF_CHAIN.to_le_bytes()); // sector 0: directory, one sector
    out.extend_from_slice(&FAT_SECT.to_le_bytes()); // sector 1: this FAT
    while out.len() < 512 * 3 {
        out.extend_from_slice(&FREE.to_le_bytes());
    }
    std::fs::write(path, &out).map_err(|e| format!("{}: {e}", path.display()))
}

// ---------------------------------------------------------------------------
// The messy roster

fn t(s: &str) -> FixtureCell {
    if s.is_empty() {
        FixtureCell::Empty
    } else {
        FixtureCell::Text(s.to_string())
    }
}

fn n(f: f64) -> FixtureCell {
    FixtureCell::Number(f)
}

fn texts(cells: &[&str]) -> Vec<FixtureCell> {
    cells.iter().map(|s| t(s)).collect()
}

/// A valid 18-digit number for area 220102. The dates used here are real, so
/// `compose` cannot fail; an empty string would make the fixture tests fail
/// loudly rather than panic here.
fn id(y: i32, m: u8, d: u8, seq: u16) -> String {
    Date::new(y, m, d)
        .and_then(|b| IdNumber::compose(AREA, b, seq))
        .map(|n| n.to_string())
        .unwrap_or_default()
}

const AREA: &str = "220102";

/// The first valid number for that birth date whose check character is `X`.
fn id_ending_in_x(y: i32, m: u8, d: u8) -> String {
    (0..1000u16)
        .map(|seq| id(y, m, d, seq))
        .find(|s| s.ends_with('X'))
        .unwrap_or_default()
}

/// `２２０１０２ １９５８０６１２ ０３１x`: full-width digits, spaces between
/// the groups, a lower-case x (how some people type it on a phone).
fn messy_typed(id18: &str) -> String {
    let mut out = String::new();
    for (i, c) in id18.chars().enumerate() {
        if i == 6 || i == 14 {
            out.push(' ');
        }
        out.push(match c {
            '0'..='9' => char::from_u32(c as u32 + 0xFEE0).unwrap_or(c),
            'X' => 'x',
            other => other,
        });
    }
    out
}

/// The same number with a wrong check character (a mistyped digit).
fn with_bad_check(id18: &str) -> String {
    let mut s = id18.to_string();
    let last = s.pop();
    s.push(if last == Some('0') { '1' } else { '0' });
    s
}

/// The ugly real-world roster several tests use; see
/// [`messy_building_roster_expectations`] for what an importer must make of it.
pub fn messy_building_roster() -> Vec<FixtureSheet> {
    vec![
        summary_sheet(),
        building3_sheet(),
        building5_sheet(),
        english_sheet(),
    ]
}

/// `汇总`: a title and counts, no 姓名 header, no person rows; a real date cell.
fn summary_sheet() -> FixtureSheet {
    FixtureSheet {
        name: "汇总".into(),
        rows: vec![
            vec![
                t("东风社区各楼栋人数汇总"),
                FixtureCell::Empty,
                FixtureCell::Empty,
            ],
            texts(&["楼栋", "户数", "人数"]),
            vec![t("3号楼"), n(40.0), n(120.0)],
            vec![t("5号楼"), n(2.0), n(6.0)],
            vec![t("7号楼"), n(2.0), n(3.0)],
            vec![t("合计"), n(44.0), n(129.0)],
            vec![],
            vec![t("统计日期"), FixtureCell::Date(2022, 3, 18)],
        ],
        merges: vec![(0, 0, 0, 2)],
    }
}

/// `3号楼`: title merged A1:J1, a blank row, a 填报单位 line, the header on row
/// 4 (no building column: the building is the sheet name), 13 person rows, a
/// blank row among them, then 合计 and the signatures.
fn building3_sheet() -> FixtureSheet {
    let e = FixtureCell::Empty;
    // The duplicated person: a clean row, pasted twice.
    let sun_li = vec![
        n(7.0),
        t("孙丽"),
        t(&id(1990, 2, 14, 46)),
        t("15812345678"),
        t("1单元"),
        t("601"),
        t("常住"),
        t("否"),
        t("孕妇"),
        e.clone(),
    ];
    FixtureSheet {
        name: "3号楼".into(),
        rows: vec![
            // Row 1: the title, merged across all ten columns.
            vec![t("鸿城街道东风社区3号楼居民花名册")],
            // Row 2: blank.
            vec![],
            // Row 3: who filled it in, and when.
            vec![t("填报单位：XX物业 2022年3月18日")],
            // Row 4: the header.
            texts(&[
                "序号",
                "姓名",
                "身份证号码",
                "联系电话",
                "单元",
                "门牌号",
                "人员类别",
                "是否行动不便",
                "特殊人群",
                "备注",
            ]),
            // Row 5: clean; phone with spaces; unit and room as numbers; immobile, lives alone.
            vec![
                n(1.0),
                t("王秀兰"),
                t(&id(1941, 5, 12, 24)),
                t("138 1234 5678"),
                n(1.0),
                n(301.0),
                t("常住"),
                t("是"),
                t("独居老人"),
                t("子女在外地"),
            ],
            // Row 6: clean; ID typed with full-width digits, spaces and a lower-case x; phone with dashes.
            vec![
                n(2.0),
                t("李建国"),
                t(&messy_typed(&id_ending_in_x(1958, 6, 12))),
                t("139-0431-0000"),
                t("1单元"),
                t("302室"),
                t("常住"),
                t("否"),
                e.clone(),
                e.clone(),
            ],
            // Row 7: WARNING: the ID cell is a number, Excel dropped its last digits.
            vec![
                n(3.0),
                t("张伟"),
                n(2.20102199003e17),
                t("13612345678"),
                t("2单元"),
                n(401.0),
                t("暂住"),
                e.clone(),
                e.clone(),
                t("租户"),
            ],
            // Row 8: clean; a 15-digit first-generation ID; a landline; dialysis.
            vec![
                n(4.0),
                t("刘淑珍"),
                t("220102480315022"),
                t("0431-88881234"),
                t("2单元"),
                n(402.0),
                t("常住"),
                t("否"),
                t("透析"),
                t("每周一三五透析"),
            ],
            // Row 9: WARNING: a mistyped check character.
            vec![
                n(5.0),
                t("陈明"),
                t(&with_bad_check(&id(1975, 3, 8, 13))),
                t("13712345678"),
                n(2.0),
                t("501"),
                t("常住"),
                e.clone(),
                e.clone(),
                e.clone(),
            ],
            // Row 10: WARNING: a 10-digit mobile.
            vec![
                n(6.0),
                t("赵磊"),
                t(&id(1988, 11, 23, 35)),
                t("1391234567"),
                t("2单元"),
                t("502室"),
                t("暂住"),
                e.clone(),
                e.clone(),
                e.clone(),
            ],
            // Row 11: clean.
            sun_li.clone(),
            // Row 12: DUPLICATE: the same row pasted again.
            sun_li,
            // Row 13: blank.
            vec![],
            // Row 14: REJECTED: a name but no room.
            vec![
                n(8.0),
                t("周强"),
                t(&id(1965, 9, 30, 57)),
                t("18612345678"),
                t("1单元"),
                e.clone(),
                t("常住"),
                e.clone(),
                e.clone(),
                t("房号待核实"),
            ],
            // Row 15: REJECTED: a room but no name.
            vec![
                n(9.0),
                e.clone(),
                e.clone(),
                t("13012345678"),
                t("2单元"),
                t("602"),
                e.clone(),
                e.clone(),
                e.clone(),
                t("姓名未填"),
            ],
            // Row 16: clean.
            vec![
                n(10.0),
                t("吴芳"),
                t(&id(1982, 7, 7, 68)),
                t("13312345678"),
                n(1.0),
                t("701"),
                t("暂住"),
                e.clone(),
                e.clone(),
                e.clone(),
            ],
            // Row 17: clean; a child, no phone.
            vec![
                n(11.0),
                t("郑浩"),
                t(&id(2015, 4, 1, 79)),
                e.clone(),
                n(1.0),
                t("701"),
                t("暂住"),
                e.clone(),
                e.clone(),
                t("吴芳之子"),
            ],
            // Row 18: clean.
            vec![
                n(12.0),
                t("王小明"),
                t(&id(1949, 12, 1, 81)),
                t("15012345678"),
                t("2单元"),
                t("702"),
                t("常住"),
                t("否"),
                t("慢性病"),
                e.clone(),
            ],
            // Row 19: the total.
            vec![t("合计"), t("120人")],
            // Row 20: the signatures.
            vec![t("制表人：张三    审核：李四")],
        ],
        merges: vec![(0, 0, 0, 9)],
    }
}

/// `5号楼`: header on row 1 with other names and order; the 楼栋 cell of one
/// household merged vertically (F2:F4), `5栋` typed plainly below; a passport
/// holder and an infant without a document.
fn building5_sheet() -> FixtureSheet {
    let e = FixtureCell::Empty;
    FixtureSheet {
        name: "5号楼".into(),
        rows: vec![
            texts(&[
                "姓名",
                "性别",
                "证件类型",
                "证件号码",
                "手机号",
                "楼栋",
                "单元",
                "房号",
                "备注",
            ]),
            // Rows 2-4: one household; 楼栋 merged F2:F4, value in F2 only.
            vec![
                t("马德胜"),
                t("男"),
                t("身份证"),
                t(&id(1968, 4, 2, 91)),
                t("13500001111"),
                t("5号楼"),
                n(1.0),
                n(101.0),
                t("户主"),
            ],
            vec![
                t("马丽"),
                t("女"),
                t("居民身份证"),
                t(&id(1970, 8, 19, 102)),
                t("13500002222"),
                e.clone(),
                n(1.0),
                n(101.0),
                e.clone(),
            ],
            vec![
                t("马小宝"),
                t("男"),
                e.clone(),
                e.clone(),
                e.clone(),
                e.clone(),
                n(1.0),
                n(101.0),
                t("婴儿，未办证"),
            ],
            // Rows 5-7: 5栋 written plainly.
            vec![
                t("金敏洙"),
                t("男"),
                t("护照"),
                t("E12345678"),
                t("13600003333"),
                t("5栋"),
                n(2.0),
                n(201.0),
                t("韩国籍"),
            ],
            vec![
                t("黄桂英"),
                t("女"),
                t("身份证"),
                t(&id(1946, 1, 25, 114)),
                t("13700004444"),
                t("5栋"),
                n(2.0),
                n(202.0),
                t("独居老人"),
            ],
            vec![
                t("林涛"),
                t("男"),
                t("身份证"),
                t(&id(1985, 10, 3, 125)),
                t("15800005555"),
                t("5栋"),
                n(2.0),
                n(203.0),
                e,
            ],
        ],
        merges: vec![(1, 5, 3, 5)],
    }
}

/// `English`: English headers, building `7`.
fn english_sheet() -> FixtureSheet {
    FixtureSheet {
        name: "English".into(),
        rows: vec![
            texts(&[
                "Name",
                "ID Number",
                "Phone",
                "Building",
                "Unit",
                "Room",
                "Notes",
            ]),
            vec![
                t("Wang Fang"),
                t(&id(1979, 8, 8, 102)),
                t("13911112222"),
                n(7.0),
                n(1.0),
                n(101.0),
                FixtureCell::Empty,
            ],
            vec![
                t("Li Lei"),
                t(&id(1980, 1, 1, 111)),
                t("+86 139 1111 3333"),
                n(7.0),
                n(1.0),
                n(102.0),
                t("lives alone"),
            ],
            vec![
                t("张建华"),
                t(&id(1955, 10, 10, 123)),
                t("13911114444"),
                t("7"),
                t("2"),
                t("201"),
                t("dialysis"),
            ],
        ],
        merges: vec![],
    }
}

/// What a correct importer makes of [`messy_building_roster`].
pub fn messy_building_roster_expectations() -> Expectations {
    Expectations {
        // 汇总 has no 姓名 header: 0. 3号楼: rows 5-12 and 14-18 = 13 (row 13
        // blank, rows 19-20 合计 and signatures). 5号楼: rows 2-7 = 6.
        // English: rows 2-4 = 3. 13 + 6 + 3 = 22.
        data_rows: 22,
        // 22 - 2 rejected - 1 duplicate.
        residents: 19,
        // 3号楼 row 14 (周强: no room) and row 15 (no name).
        rejected: 2,
        // 3号楼 row 12 repeats row 11 (孙丽, same ID).
        duplicates: 1,
        // 3号楼 row 7 (ID stored as a number: digits lost), row 9 (bad check
        // character), row 10 (10-digit phone). Everything else is clean: the
        // full-width ID, the 15-digit ID, the phone with spaces or dashes, the
        // +86 prefix, the passport, the infant without a document, the genders
        // (consistent with the ID numbers).
        warned_rows: 3,
    }
}

// ---------------------------------------------------------------------------
// A large clean roster for benchmarks

const SURNAMES: [&str; 24] = [
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "胡", "朱", "高", "林",
    "何", "郭", "马", "罗", "梁", "宋", "郑", "谢",
];
const GIVEN: [&str; 32] = [
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
    "超", "秀兰", "霞", "平", "刚", "桂英", "建华", "玉兰", "志强", "淑珍", "海燕", "建国", "小红",
    "文", "浩", "欣怡",
];
const COMPOUNDS: [&str; 4] = ["东风小区", "鸿城花园", "幸福家园", "春华新村"];
const AREAS: [&str; 4] = ["220102", "220103", "220104", "220105"];
const SPECIAL: [&str; 6] = ["独居老人", "行动不便", "透析", "孕妇", "低保", "慢性病"];

/// A clean roster of `n` residents in households across compounds and
/// buildings, with valid unique ID numbers; the same seed gives the same rows.
/// One sheet, header `姓名,身份证号码,联系电话,小区,楼栋,单元,门牌号,特殊人群`.
pub fn large_roster(n: usize, seed: u64) -> Vec<FixtureSheet> {
    let mut rng = Rng::new(seed);
    let mut rows: Vec<Vec<FixtureCell>> = Vec::with_capacity(n + 1);
    rows.push(texts(&[
        "姓名",
        "身份证号码",
        "联系电话",
        "小区",
        "楼栋",
        "单元",
        "门牌号",
        "特殊人群",
    ]));
    let first_day = Date::new(1935, 1, 1).map(Date::to_days).unwrap_or(-12_784);
    let last_day = Date::new(2021, 12, 31).map(Date::to_days).unwrap_or(18_992);
    let mut used: HashSet<(u8, i64, u16)> = HashSet::with_capacity(n);
    // Address counters: 25 buildings per compound, 3 units, 18 floors, 4 doors.
    let (mut building, mut unit, mut floor, mut door) = (0usize, 1u32, 1u32, 0u32);
    let mut address = (String::new(), String::new(), String::new(), String::new());
    let mut left_in_household = 0;
    while rows.len() <= n {
        if left_in_household == 0 {
            door += 1;
            if door > 4 {
                door = 1;
                floor += 1;
            }
            if floor > 18 {
                floor = 1;
                unit += 1;
            }
            if unit > 3 || address.0.is_empty() {
                unit = 1;
                building += 1;
            }
            let k = (building - 1) / 25;
            let compound = if k < COMPOUNDS.len() {
                COMPOUNDS[k].to_string()
            } else {
                format!(
                    "{}{}期",
                    COMPOUNDS[k % COMPOUNDS.len()],
                    k / COMPOUNDS.len() + 1
                )
            };
            address = (
                compound,
                format!("{}号楼", (building - 1) % 25 + 1),
                unit.to_string(),
                format!("{floor}{door:02}"),
            );
            left_in_household = rng.range(1, 4);
        }
        left_in_household -= 1;
        let number = loop {
            let area = rng.below(AREAS.len() as u64) as u8;
            let day = rng.range(first_day, last_day);
            let seq = rng.below(1000) as u16;
            if !used.insert((area, day, seq)) {
                continue;
            }
            if let Some(id) =
                Date::from_days(day).and_then(|b| IdNumber::compose(AREAS[area as usize], b, seq))
            {
                break id.to_string();
            }
        };
        let given = if rng.chance(0.3) {
            format!("{}{}", rng.pick(&GIVEN), rng.pick(&GIVEN))
        } else {
            rng.pick(&GIVEN).to_string()
        };
        let name = format!("{}{}", rng.pick(&SURNAMES), given);
        let phone = format!(
            "1{}{:09}",
            rng.pick(&["3", "5", "7", "8", "9"]),
            rng.below(1_000_000_000)
        );
        let special = if rng.chance(0.1) {
            rng.pick(&SPECIAL).to_string()
        } else {
            String::new()
        };
        rows.push(vec![
            FixtureCell::Text(name),
            FixtureCell::Text(number),
            FixtureCell::Text(phone),
            FixtureCell::Text(address.0.clone()),
            FixtureCell::Text(address.1.clone()),
            FixtureCell::Text(address.2.clone()),
            FixtureCell::Text(address.3.clone()),
            t(&special),
        ]);
    }
    vec![FixtureSheet {
        name: "居民花名册".into(),
        rows,
        merges: Vec::new(),
    }]
}
