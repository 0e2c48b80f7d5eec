//! Rosters: the messy spreadsheets property companies and old grid leaders
//! send. A file reader (in `gw-app`) turns a file into [`Sheet`]s of [`Cell`]s;
//! this module turns sheets into residents with addresses, or precise
//! [`RowIssue`]s (sheet, row, column, reason). Pure: no IO.

use crate::date::Date;

/// One cell as a file holds it.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Empty,
    Text(String),
    /// A numeric cell. ID numbers Excel turned into numbers arrive here.
    Number(f64),
    /// A date-formatted cell.
    Date(Date),
    Bool(bool),
}

/// A rectangular merged region, zero-based and inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Merge {
    pub first_row: u32,
    pub first_col: u32,
    pub last_row: u32,
    pub last_col: u32,
}

/// One sheet: rows of cells (row 0 is the file's first row, so a row's
/// spreadsheet number is index + 1) and its merged regions, whose value sits
/// in their top-left cell only.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Sheet {
    pub name: String,
    pub rows: Vec<Vec<Cell>>,
    pub merges: Vec<Merge>,
    /// Hidden in Excel: skipped and reported (often an old copy kept out of sight).
    pub hidden: bool,
}

use crate::idnumber::{DocKind, Document, IdNumberError};
use crate::phone::{split_phones, Phone, PhoneRelation};
use crate::resident::{yes_no, Flag, Flags, Gender, NewResident, ResidenceType, ResidentPhone};
use crate::territory::{building_from_sheet_name, building_name, room_name, unit_name};
use crate::text::{clean, squeeze};
use std::collections::HashMap;

/// What a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    Seq,
    Name,
    /// 户主姓名: the household head's name, not the person's (a household
    /// file lists every member beside it). The name only when no column is
    /// the person's own.
    HeadName,
    Gender,
    DocKind,
    DocNumber,
    /// The resident's own phone(s).
    Phone,
    /// Somebody else's phone for this resident (子女电话, 邻居电话).
    OtherPhone(PhoneRelation),
    Compound,
    Building,
    Unit,
    Room,
    /// A whole address in one cell: `3号楼2单元301室`.
    Address,
    BirthDate,
    Age,
    Residence,
    /// 是否行动不便: yes/no.
    Immobile,
    /// A yes/no column for one flag (是否独居老人, 是否低保 …).
    FlagColumn(Flag),
    /// 是否有智能手机: yes means the flag is NOT set.
    HasSmartphone,
    /// 特殊人群: free text scanned for flags.
    Special,
    Notes,
}

impl Field {
    /// Bilingual label used in reports and exports.
    pub fn label(self) -> &'static str {
        match self {
            Field::Seq => "序号",
            Field::Name => "姓名",
            Field::HeadName => "户主姓名",
            Field::Gender => "性别",
            Field::DocKind => "证件类型",
            Field::DocNumber => "证件号码",
            Field::Phone => "联系电话",
            Field::OtherPhone(_) => "其他电话",
            Field::Compound => "小区",
            Field::Building => "楼栋",
            Field::Unit => "单元",
            Field::Room => "门牌号",
            Field::Address => "地址",
            Field::BirthDate => "出生日期",
            Field::Age => "年龄",
            Field::Residence => "人员类别",
            Field::Immobile => "是否行动不便",
            Field::FlagColumn(_) => "特殊标记",
            Field::HasSmartphone => "是否有智能手机",
            Field::Special => "特殊人群",
            Field::Notes => "备注",
        }
    }
}

/// A header cell reduced to what names it: half-width, no whitespace, lower
/// case, bracketed hints (身份证号(必填), 电话（手机）) and required-column stars dropped.
pub(crate) fn header_key(header: &str) -> String {
    let mut t = squeeze(header).to_lowercase();
    for (open, close) in [('(', ')'), ('（', '）'), ('[', ']'), ('【', '】')] {
        while let (Some(a), Some(b)) = (t.find(open), t.find(close)) {
            if b <= a {
                break;
            }
            t.replace_range(a..b + close.len_utf8(), "");
        }
    }
    t.trim_matches(|c: char| c == '*' || c == ':' || c == '：')
        .to_string()
}

/// Recognises a header cell, Chinese or English, with the usual variants.
pub fn field_of_header(header: &str) -> Option<Field> {
    let t = header_key(header);
    let is = |words: &[&str]| words.contains(&t.as_str());
    let has = |words: &[&str]| words.iter().any(|w| t.contains(w));
    if t.is_empty() {
        return None;
    }
    if is(&["序号", "编号", "no", "no.", "#", "seq", "序"]) {
        return Some(Field::Seq);
    }
    if has(&[
        "证件类型",
        "证件种类",
        "document type",
        "doctype",
        "id type",
        "idtype",
    ]) {
        return Some(Field::DocKind);
    }
    if has(&[
        "身份证",
        "证件号",
        "证件编号",
        "idnumber",
        "id number",
        "idno",
        "id no",
        "idcard",
        "id card",
        "passport",
    ]) || is(&["id", "证件"])
    {
        return Some(Field::DocNumber);
    }
    if has(&["电话", "手机", "联系方式", "phone", "mobile", "tel"]) {
        if t.contains("有智能手机") || t.contains("智能手机") {
            return Some(Field::HasSmartphone);
        }
        return Some(match PhoneRelation::from_text(&t) {
            Some(PhoneRelation::Own) | None => Field::Phone,
            Some(r) => Field::OtherPhone(r),
        });
    }
    if has(&["户主"]) && (has(&["姓名", "名字"]) || is(&["户主"])) {
        return Some(Field::HeadName);
    }
    if has(&["联系人", "监护人", "紧急"]) && has(&["姓名", "名字"]) {
        // Somebody else's name (an emergency contact's): not the person.
        return None;
    }
    if has(&["姓名", "名字", "fullname", "full name"]) || is(&["name", "居民", "人员"]) {
        return Some(Field::Name);
    }
    if has(&["小区", "compound", "estate"]) {
        return Some(Field::Compound);
    }
    if has(&["楼栋", "楼号", "楼宇", "building", "bldg"])
        || is(&["楼", "栋", "楼栋号", "幢", "楼座"])
    {
        return Some(Field::Building);
    }
    if has(&["单元", "unit"]) {
        return Some(Field::Unit);
    }
    if has(&["门牌", "房号", "房间", "户号", "室号", "room"]) || is(&["室", "房"]) {
        return Some(Field::Room);
    }
    if has(&["地址", "住址", "address", "居住地"]) {
        return Some(Field::Address);
    }
    if has(&["性别", "gender", "sex"]) {
        return Some(Field::Gender);
    }
    if has(&["出生", "生日", "birth"]) {
        return Some(Field::BirthDate);
    }
    if has(&["年龄", "age"]) {
        return Some(Field::Age);
    }
    if has(&[
        "人员类别",
        "居住类型",
        "户籍类型",
        "人口类型",
        "居住状态",
        "人员类型",
        "residence",
        "常住",
        "暂住",
    ]) {
        return Some(Field::Residence);
    }
    if has(&[
        "行动不便",
        "不能下楼",
        "能否下楼",
        "卧床",
        "immobile",
        "cannot go downstairs",
    ]) {
        return Some(Field::Immobile);
    }
    if let Some(rest) = t.strip_prefix("是否") {
        if let Some(flag) = Flag::ALL
            .into_iter()
            .find(|f| f.keywords().iter().any(|k| rest.contains(k)) || rest.contains(f.label_zh()))
        {
            return Some(Field::FlagColumn(flag));
        }
    }
    if has(&["特殊人群", "特殊情况", "重点人群", "人群类别", "special"]) {
        return Some(Field::Special);
    }
    if has(&["备注", "说明", "情况", "notes", "note", "remark", "comment"]) {
        return Some(Field::Notes);
    }
    None
}

/// `A`, `B`, … `Z`, `AA` for a zero-based column.
pub fn column_letter(col: usize) -> String {
    let mut n = col + 1;
    let mut s = Vec::new();
    while n > 0 {
        let r = (n - 1) % 26;
        s.push((b'A' + r as u8) as char);
        n = (n - 1) / 26;
    }
    s.iter().rev().collect()
}

/// The longest a person's name may be, in characters: a longer one is a
/// cell pasted into the wrong column (or a probe), and refuses the row.
pub const NAME_MAX: usize = 50;
/// The longest a compound's name may be.
pub const COMPOUND_MAX: usize = 50;
/// The longest a building's, a unit's or a room's name may be.
pub const ADDRESS_PART_MAX: usize = 30;
/// The longest one free-text cell (备注, 特殊人群, an unrecognised 人员类别 or
/// 行动不便) may be, and all of a row's notes together.
pub const NOTE_MAX: usize = 500;
pub const NOTES_MAX: usize = 2_000;
/// How much of a cell a reason or a column label quotes.
const QUOTE_MAX: usize = 40;

/// `text` as a reason quotes it: at most [`QUOTE_MAX`] characters, an
/// ellipsis saying more was there.
pub fn quote(text: &str) -> String {
    match text.char_indices().nth(QUOTE_MAX) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The resident was imported; a value was kept out or is doubtful.
    Warning,
    /// The row was not imported.
    Rejected,
}

/// What was wrong with one row, exactly where.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RowIssue {
    pub sheet: String,
    /// The row number as the spreadsheet shows it (1-based).
    pub row: u32,
    /// `C 身份证号码`, or empty when the whole row is meant.
    pub column: String,
    pub severity: Severity,
    pub reason: String,
}

/// Where a resident lives, in canonical names.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct Address {
    pub compound: String,
    pub building: String,
    pub unit: String,
    pub room: String,
}

/// A row that names a person and an address: imported, perhaps with warnings.
#[derive(Debug, Clone, PartialEq)]
pub struct RosterRow {
    pub sheet: String,
    pub row: u32,
    pub address: Address,
    pub resident: NewResident,
    /// Flags the row denies in a yes/no column (是否孕妇 = 否): a re-import
    /// clears them. Flags it does not mention stay as registered.
    pub flags_cleared: Flags,
    /// The document's column (`C 身份证号码`), for issues about the document.
    pub doc_column: String,
    pub warnings: Vec<RowIssue>,
    /// The row's cells as text, aligned with its sheet's headers (for the report).
    pub cells: Vec<String>,
}

/// A row that could not be imported.
#[derive(Debug, Clone, PartialEq)]
pub struct RejectedRow {
    pub issue: RowIssue,
    pub cells: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RowOutcome {
    Resident(Box<RosterRow>),
    Rejected(RejectedRow),
}

/// How one sheet was read.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SheetSummary {
    pub name: String,
    /// Why the sheet was skipped (no header naming people: a summary sheet).
    pub skipped: Option<String>,
    /// 1-based row of the header, when one was found.
    pub header_row: Option<u32>,
    pub headers: Vec<String>,
    /// Headers not understood, ignored (reported so a typo is visible).
    pub ignored_columns: Vec<String>,
    pub data_rows: usize,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ParsedRoster {
    pub sheets: Vec<SheetSummary>,
    pub rows: Vec<RowOutcome>,
    /// Warnings about a sheet rather than one of its rows (a hidden sheet
    /// holding people), placed on the sheet's header row.
    pub issues: Vec<RowIssue>,
}

impl ParsedRoster {
    pub fn data_rows(&self) -> usize {
        self.rows.len()
    }
}

/// Options the importer passes down.
#[derive(Debug, Clone)]
pub struct ParseOptions {
    /// Compound for rows that name none.
    pub default_compound: String,
    /// "Today", for ages and plausibility of birth dates.
    pub today: Date,
}

/// Text of a cell as a person would read it.
pub fn cell_text(c: &Cell) -> String {
    match c {
        Cell::Empty => String::new(),
        Cell::Text(s) => s.trim().to_string(),
        Cell::Number(f) => number_text(*f),
        Cell::Date(d) => d.to_string(),
        Cell::Bool(b) => if *b { "是" } else { "否" }.to_string(),
    }
}

fn number_text(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        // What Excel shows for a long number in a General cell.
        let s = format!("{f:E}");
        s.replace("E", "E+").replace("E+-", "E-")
    }
}

/// The sheet's rows with each merged region's value copied into all its
/// cells. Regions are clipped to the rows and the widest row the sheet has: a
/// region reaching to XFD1048576 costs no more than the cells that exist.
pub(crate) fn fill_merges(sheet: &Sheet) -> Vec<Vec<Cell>> {
    let mut rows = sheet.rows.clone();
    let last_row = rows.len().saturating_sub(1);
    let last_col = rows
        .iter()
        .map(Vec::len)
        .max()
        .unwrap_or(0)
        .saturating_sub(1);
    for m in &sheet.merges {
        let (r0, c0) = (m.first_row as usize, m.first_col as usize);
        let Some(v) = rows.get(r0).and_then(|r| r.get(c0)).cloned() else {
            continue;
        };
        for r in r0..=(m.last_row as usize).min(last_row) {
            for c in c0..=(m.last_col as usize).min(last_col) {
                if r == r0 && c == c0 {
                    continue;
                }
                if let Some(row) = rows.get_mut(r) {
                    if row.len() <= c {
                        row.resize(c + 1, Cell::Empty);
                    }
                    row[c] = v.clone();
                }
            }
        }
    }
    rows
}

const FOOTER_WORDS: [&str; 14] = [
    "合计",
    "总计",
    "小计",
    "共计",
    "总数",
    "制表",
    "填表",
    "审核",
    "签字",
    "签名",
    "负责人",
    "注：",
    "说明：",
    "填报",
];

/// Words of a signature line wherever they stand in its label.
const SIGNED_BY: [&str; 15] = [
    "签字",
    "签名",
    "审核人",
    "审核者",
    "负责人",
    "制表人",
    "填表人",
    "检验员",
    "检验者",
    "检验人",
    "检测人",
    "复核人",
    "报告人",
    "报告者",
    "批准人",
];

pub(crate) fn is_footer(cells: &[String]) -> bool {
    let first = cells.iter().find(|c| !c.is_empty());
    match first {
        Some(t) => {
            let t = squeeze(t);
            FOOTER_WORDS.iter().any(|w| t.starts_with(w))
                || t.starts_with("total")
                // "检验员签字：", "社区负责人（签名）:": a label for a signature.
                || (SIGNED_BY.iter().any(|w| t.contains(w))
                    && (t.contains('：') || t.contains(':') || SIGNED_BY.iter().any(|w| t.ends_with(w))))
        }
        None => false,
    }
}

fn find_header(rows: &[Vec<Cell>]) -> Option<(usize, Vec<Option<Field>>)> {
    let mut best: Option<(usize, usize, Vec<Option<Field>>)> = None;
    for (i, row) in rows.iter().enumerate().take(30) {
        let mut fields: Vec<Option<Field>> =
            row.iter().map(|c| field_of_header(&cell_text(c))).collect();
        if !fields.contains(&Some(Field::Name)) {
            // A household file with only the head's name: that is the name.
            match fields.iter().position(|f| *f == Some(Field::HeadName)) {
                Some(c) => fields[c] = Some(Field::Name),
                None => continue,
            }
        }
        let mut distinct: Vec<Field> = fields
            .iter()
            .flatten()
            .copied()
            .filter(|f| *f != Field::Seq)
            .collect();
        distinct.sort_by_key(|f| format!("{f:?}"));
        distinct.dedup();
        let score = distinct.len();
        if score >= 2 && best.as_ref().is_none_or(|(_, s, _)| score > *s) {
            best = Some((i, score, fields));
        }
    }
    best.map(|(i, _, f)| (i, f))
}

/// `3-2-301` (building, unit, room), all digits.
fn dashed_triple(t: &str) -> Option<(String, String, String)> {
    let dash: Vec<&str> = t.split(['-', '—']).collect();
    (dash.len() == 3
        && dash
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit())))
    .then(|| {
        (
            building_name(dash[0]),
            unit_name(dash[1]),
            room_name(dash[2]),
        )
    })
}

/// `2-302` (unit, room) or `1单元204室`: the unit written with the room.
pub fn split_unit_room(s: &str) -> Option<(String, String)> {
    let t = squeeze(s);
    let t = t.trim_start_matches(['-', '—']);
    if let Some(pos) = t.find("单元") {
        let (u, rm) = (&t[..pos + "单元".len()], &t[pos + "单元".len()..]);
        let rm = room_name(rm.trim_start_matches(['-', '—']));
        let u = unit_name(u);
        return (!u.is_empty() && !rm.is_empty() && !u.contains("单元")).then_some((u, rm));
    }
    let (u, rm) = t.split_once(['-', '—'])?;
    let rm = room_name(rm);
    (!u.is_empty() && !rm.is_empty() && u.chars().all(|c| c.is_ascii_digit()))
        .then(|| (unit_name(u), rm))
}

/// A compound's name without the street address written before it
/// (`东风路12号幸福家园` → `幸福家园`).
fn compound_without_street_address(c: &str) -> String {
    for road in ["路", "街", "大道", "道", "巷", "弄"] {
        if let Some(p) = c.find(road) {
            let after = &c[p + road.len()..];
            let digits = after.chars().take_while(|ch| ch.is_ascii_digit()).count();
            if digits > 0 && after[digits..].starts_with('号') {
                let rest = &after[digits + '号'.len_utf8()..];
                if !rest.is_empty() {
                    return rest.to_string();
                }
            }
        }
    }
    c.to_string()
}

/// Parses an address written in one cell: `虹馆小区3号楼2单元301室`,
/// `3-2-301`, `幸福家园8-2-304`, `幸福家园8栋2-302`.
pub fn parse_address_text(
    s: &str,
) -> (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
) {
    let t = squeeze(s);
    if t.is_empty() {
        return (None, None, None, None);
    }
    // 3-2-301
    if let Some((b, u, r)) = dashed_triple(&t) {
        return (None, Some(b), Some(u), Some(r));
    }
    let mut compound = None;
    let mut rest = t.as_str();
    for marker in ["小区", "花园", "家园", "公寓", "新村", "园"] {
        if let Some(pos) = rest.find(marker) {
            let end = pos + marker.len();
            compound = Some(compound_without_street_address(&rest[..end]));
            rest = &rest[end..];
            break;
        }
    }
    // 幸福家园8-2-304
    if let Some((b, u, r)) = dashed_triple(rest) {
        return (compound, Some(b), Some(u), Some(r));
    }
    let mut building = None;
    for marker in ["号楼", "栋", "幢", "楼", "#"] {
        if let Some(pos) = rest.find(marker) {
            let end = pos + marker.len();
            building = Some(building_name(&rest[..end]));
            rest = &rest[end..];
            break;
        }
    }
    // 8栋2-302, 8栋2单元302
    if building.is_some() {
        if let Some((u, r)) = split_unit_room(rest) {
            return (compound, building, Some(u), Some(r));
        }
    }
    let mut unit = None;
    if let Some(pos) = rest.find("单元") {
        let end = pos + "单元".len();
        unit = Some(unit_name(&rest[..end]));
        rest = &rest[end..];
    }
    let room = room_name(rest.trim_start_matches(['-', '—']));
    let room = (!room.is_empty()).then_some(room);
    (compound, building, unit, room)
}

/// The building a title row above the header names (`幸福家园5号楼居民花名册`):
/// only a title (a cell that calls itself a roster or a list) naming exactly
/// one building. A range (`1-5栋`), several buildings, or a note above the
/// header (`请到3栋门口集合`) names none: the rows then need their own.
fn building_from_title(rows: &[Vec<Cell>]) -> Option<String> {
    const TITLE: [&str; 7] = [
        "名单",
        "花名册",
        "名册",
        "台账",
        "信息表",
        "登记表",
        "统计表",
    ];
    const RANGE: [char; 7] = ['-', '—', '–', '~', '～', '至', '到'];
    let mut found: Vec<String> = Vec::new();
    for c in rows.iter().flatten() {
        let t = squeeze(&cell_text(c));
        if !TITLE.iter().any(|w| t.contains(w)) {
            continue;
        }
        let chars: Vec<(usize, char)> = t.char_indices().collect();
        for (i, &(at, ch)) in chars.iter().enumerate() {
            if !ch.is_ascii_digit() || (i > 0 && chars[i - 1].1.is_ascii_digit()) {
                continue;
            }
            let digits: String = t[at..].chars().take_while(char::is_ascii_digit).collect();
            let after = &t[at + digits.len()..];
            if ["号楼", "栋", "幢"].iter().any(|m| after.starts_with(m)) {
                // The end of a range: no one building.
                if i > 0 && RANGE.contains(&chars[i - 1].1) {
                    return None;
                }
                let name = building_name(&format!("{digits}号楼"));
                if !found.contains(&name) {
                    found.push(name);
                }
            }
        }
    }
    match found.as_slice() {
        [one] => Some(one.clone()),
        _ => None,
    }
}

struct RowCtx<'a> {
    sheet: &'a str,
    row: u32,
    headers: &'a [String],
    warnings: Vec<RowIssue>,
}

impl RowCtx<'_> {
    fn column(&self, col: usize) -> String {
        format!(
            "{} {}",
            column_letter(col),
            quote(self.headers.get(col).map(String::as_str).unwrap_or(""))
        )
        .trim_end()
        .to_string()
    }
    fn warn(&mut self, col: usize, reason: String) {
        let column = self.column(col);
        self.warnings.push(RowIssue {
            sheet: self.sheet.to_string(),
            row: self.row,
            column,
            severity: Severity::Warning,
            reason,
        });
    }
}

/// Parses every sheet of a workbook.
pub fn parse_workbook(sheets: &[Sheet], opts: &ParseOptions) -> ParsedRoster {
    let mut out = ParsedRoster::default();
    for sheet in sheets {
        parse_sheet(sheet, opts, &mut out);
    }
    out
}

fn parse_sheet(sheet: &Sheet, opts: &ParseOptions, out: &mut ParsedRoster) {
    if !sheet.hidden {
        parse_visible(sheet, opts, out);
        return;
    }
    // Read as if shown, to say whether people are on it; nothing of it is
    // imported.
    let mut seen = ParsedRoster::default();
    parse_visible(sheet, opts, &mut seen);
    let people = seen.rows.len();
    let header_row = seen.sheets.first().and_then(|s| s.header_row);
    let skipped = if people == 0 {
        "隐藏的工作表，已跳过；如需导入请在 Excel 中取消隐藏 / hidden sheet skipped: unhide it in Excel to import it".to_string()
    } else {
        format!("隐藏的工作表，已跳过，其中有{people}行居民没有导入；如需导入请在 Excel 中取消隐藏 / hidden sheet skipped: {people} rows of people on it were not imported; unhide it in Excel to import them")
    };
    if people > 0 {
        out.issues.push(RowIssue {
            sheet: sheet.name.clone(),
            row: header_row.unwrap_or(1),
            column: String::new(),
            severity: Severity::Warning,
            reason: skipped.clone(),
        });
    }
    out.sheets.push(SheetSummary {
        name: sheet.name.clone(),
        skipped: Some(skipped),
        header_row: None,
        headers: Vec::new(),
        ignored_columns: Vec::new(),
        data_rows: 0,
    });
}

/// People on a sheet that hides none of them: [`parse_sheet`]'s work.
fn parse_visible(sheet: &Sheet, opts: &ParseOptions, out: &mut ParsedRoster) {
    let rows = fill_merges(sheet);
    let Some((header_idx, fields)) = find_header(&rows) else {
        out.sheets.push(SheetSummary {
            name: sheet.name.clone(),
            skipped: Some("未找到含“姓名”的表头，不是居民名单，已跳过 / no header naming a 姓名 (name) column: not a resident sheet, skipped".into()),
            header_row: None,
            headers: Vec::new(),
            ignored_columns: Vec::new(),
            data_rows: 0,
        });
        return;
    };
    let headers: Vec<String> = rows[header_idx].iter().map(cell_text).collect();
    let ignored_columns = headers
        .iter()
        .zip(&fields)
        .filter(|(h, f)| f.is_none() && !h.is_empty())
        .map(|(h, _)| quote(h))
        .collect();
    let col_of = |want: Field| fields.iter().position(|f| *f == Some(want));
    // A field read from one column only, found in several (two 姓名
    // columns): the first is read, and the sheet says so.
    for field in [
        Field::Name,
        Field::DocKind,
        Field::DocNumber,
        Field::Compound,
        Field::Building,
        Field::Unit,
        Field::Room,
        Field::Address,
    ] {
        let cols: Vec<String> = fields
            .iter()
            .enumerate()
            .filter(|(_, f)| **f == Some(field))
            .map(|(c, _)| format!("{} {}", column_letter(c), quote(&headers[c])))
            .collect();
        if let [first, _, ..] = cols.as_slice() {
            let (n, label, list) = (cols.len(), field.label(), cols.join("、"));
            out.issues.push(RowIssue {
                sheet: sheet.name.clone(),
                row: header_idx as u32 + 1,
                column: list.clone(),
                severity: Severity::Warning,
                reason: format!("有{n}列都是“{label}”（{list}），只读取了第一列 {first}，其余的列没有导入：请删去或改名多余的列 / {n} columns are read as {label} ({}): only the first, {first}, was imported; remove or rename the others", cols.join(", ")),
            });
        }
    }
    // The building a sheet is about: its name (`3号楼`), else its title rows.
    let sheet_building = building_from_sheet_name(&sheet.name).or_else(|| {
        (col_of(Field::Building).is_none() && col_of(Field::Address).is_none())
            .then(|| building_from_title(&rows[..header_idx]))
            .flatten()
    });
    let mut data_rows = 0;
    let mut last_compound: Option<String> = None;
    for (i, row) in rows.iter().enumerate().skip(header_idx + 1) {
        let texts: Vec<String> = (0..headers.len().max(row.len()))
            .map(|c| row.get(c).map(cell_text).unwrap_or_default())
            .collect();
        let meaningful = texts
            .iter()
            .enumerate()
            .any(|(c, t)| !t.is_empty() && fields.get(c).copied().flatten() != Some(Field::Seq));
        if !meaningful || is_footer(&texts) {
            continue;
        }
        // A header repeated further down (sheets pasted together).
        if texts
            .iter()
            .zip(&headers)
            .filter(|(a, b)| !a.is_empty() && a == b)
            .count()
            >= 2
        {
            continue;
        }
        data_rows += 1;
        let mut ctx = RowCtx {
            sheet: &sheet.name,
            row: i as u32 + 1,
            headers: &headers,
            warnings: Vec::new(),
        };
        let get = |f: Field| col_of(f).map(|c| texts[c].clone()).unwrap_or_default();

        // Address.
        let (mut compound, mut building, mut unit, mut room) = (None, None, None, None);
        if let Some(c) = col_of(Field::Address) {
            (compound, building, unit, room) = parse_address_text(&texts[c]);
        }
        let nonempty = |s: String| (!s.is_empty()).then_some(s);
        if let Some(v) = nonempty(clean(&get(Field::Compound))) {
            compound = Some(v);
        }
        if let Some(v) = nonempty(building_name(&get(Field::Building))) {
            building = Some(v);
        }
        if let Some(v) = nonempty(unit_name(&get(Field::Unit))) {
            unit = Some(v);
        }
        let room_raw = get(Field::Room);
        if !room_raw.is_empty() {
            // `1-301` or `1单元301室` in a room column: unit and room (the
            // unit column, when it has a value, wins).
            match split_unit_room(&room_raw) {
                Some((u, rm)) if unit.is_none() || unit.as_deref() == Some(u.as_str()) => {
                    unit = Some(u);
                    room = Some(rm);
                }
                _ => room = Some(room_name(&room_raw)),
            }
        }
        let building = building.or_else(|| sheet_building.clone());
        if compound.is_some() {
            last_compound = compound.clone();
        }
        let compound = compound
            .or_else(|| last_compound.clone())
            .unwrap_or_else(|| opts.default_compound.clone());

        let name = clean(&get(Field::Name));
        let reject = |col: Option<usize>, reason: &str, ctx: &RowCtx<'_>| {
            RowOutcome::Rejected(RejectedRow {
                issue: RowIssue {
                    sheet: sheet.name.clone(),
                    row: ctx.row,
                    column: col.map(|c| ctx.column(c)).unwrap_or_default(),
                    severity: Severity::Rejected,
                    reason: reason.to_string(),
                },
                cells: texts.clone(),
            })
        };
        if name.is_empty() {
            out.rows.push(reject(
                col_of(Field::Name),
                "缺少姓名，未导入 / no name: row not imported",
                &ctx,
            ));
            continue;
        }
        let (Some(building), Some(room)) = (building.clone(), room.clone()) else {
            // Blame the cell that is missing: the building's (or the whole
            // row when no column, sheet name or title gives one), else the room's.
            let (col, reason) = if building.is_none() {
                (
                    col_of(Field::Building).or(col_of(Field::Address)),
                    "缺少楼栋（楼栋列、地址、工作表名和标题都没有写楼号），未导入 / no building (no building column, address, sheet name or title names one): row not imported",
                )
            } else {
                (
                    col_of(Field::Room).or(col_of(Field::Address)),
                    "缺少门牌号，未导入 / no room number: row not imported",
                )
            };
            out.rows.push(reject(col, reason, &ctx));
            continue;
        };
        let address = Address {
            compound,
            building,
            unit: unit.unwrap_or_default(),
            room,
        };
        // The column a value came from: the first of `cols` with a value.
        let from = |cols: &[Option<usize>]| {
            cols.iter()
                .flatten()
                .copied()
                .find(|c| !texts[*c].is_empty())
        };
        let (name_col, building_col, room_col) = (
            col_of(Field::Name),
            col_of(Field::Building),
            col_of(Field::Room),
        );
        let (address_col, unit_col) = (col_of(Field::Address), col_of(Field::Unit));
        let too_long = [
            (name.as_str(), NAME_MAX, "姓名", "name", from(&[name_col])),
            (
                address.compound.as_str(),
                COMPOUND_MAX,
                "小区名称",
                "compound",
                from(&[col_of(Field::Compound), address_col]),
            ),
            (
                address.building.as_str(),
                ADDRESS_PART_MAX,
                "楼栋",
                "building",
                from(&[building_col, address_col]),
            ),
            (
                address.unit.as_str(),
                ADDRESS_PART_MAX,
                "单元",
                "unit",
                from(&[unit_col, room_col, address_col]),
            ),
            (
                address.room.as_str(),
                ADDRESS_PART_MAX,
                "门牌号",
                "room",
                from(&[room_col, address_col]),
            ),
        ]
        .into_iter()
        .map(|(text, max, zh, en, col)| (text.chars().count(), max, zh, en, col))
        .chain(
            // Free text kept as notes: each cell on its own.
            fields
                .iter()
                .enumerate()
                .filter(|(_, f)| {
                    matches!(
                        f,
                        Some(Field::Notes | Field::Special | Field::Residence | Field::Immobile)
                    )
                })
                .map(|(c, _)| {
                    (
                        texts[c].chars().count(),
                        NOTE_MAX,
                        "这一格",
                        "cell",
                        Some(c),
                    )
                }),
        )
        .find(|(n, max, ..)| n > max);
        if let Some((n, max, zh, en, col)) = too_long {
            let reason = format!("{zh}超过{max}个字（共{n}个字），未导入：请检查这一格，是否粘进了别的内容 / the {en} is longer than {max} characters ({n}): row not imported; check the cell, something else may have been pasted into it");
            out.rows.push(reject(col, &reason, &ctx));
            continue;
        }

        let mut r = NewResident::named(&name);
        parse_document(&mut r, &mut ctx, row, &texts, &col_of);
        let flags_cleared = parse_person(&mut r, &mut ctx, row, &texts, &fields, opts);
        let doc_column = col_of(Field::DocNumber)
            .map(|c| ctx.column(c))
            .unwrap_or_default();
        let n = r.notes.chars().count();
        if n > NOTES_MAX {
            let reason = format!("备注等说明合计超过{NOTES_MAX}个字（共{n}个字），未导入：请精简 / the notes together are longer than {NOTES_MAX} characters ({n}): row not imported; shorten them");
            out.rows.push(reject(None, &reason, &ctx));
            continue;
        }
        out.rows.push(RowOutcome::Resident(Box::new(RosterRow {
            sheet: sheet.name.clone(),
            row: ctx.row,
            address,
            resident: r,
            flags_cleared,
            doc_column,
            warnings: ctx.warnings,
            cells: texts,
        })));
    }
    out.sheets.push(SheetSummary {
        name: sheet.name.clone(),
        skipped: None,
        header_row: Some(header_idx as u32 + 1),
        headers,
        ignored_columns,
        data_rows,
    });
}

fn parse_document(
    r: &mut NewResident,
    ctx: &mut RowCtx<'_>,
    row: &[Cell],
    texts: &[String],
    col_of: &dyn Fn(Field) -> Option<usize>,
) {
    let kind = col_of(Field::DocKind).and_then(|c| {
        let t = &texts[c];
        let k = DocKind::from_label(t);
        if k.is_none() && !t.is_empty() {
            ctx.warn(c, format!("不认识的证件类型“{}”，按号码判断 / unknown document type, guessed from the number", quote(t)));
        }
        k
    });
    let Some(c) = col_of(Field::DocNumber) else {
        return;
    };
    let text = &texts[c];
    if text.is_empty() || is_masked_number(text) {
        // A masked export's `220102********0018` is no value, not a bad one.
        return;
    }
    let parsed = match row.get(c) {
        // Excel turned the ID into a number: past 15 digits the tail is gone.
        Some(Cell::Number(f)) if f.abs() >= 1e15 || f.fract() != 0.0 => {
            Err(IdNumberError::DigitsLost(text.clone()))
        }
        _ => match kind {
            Some(k) => Document::parse(k, text),
            None => Document::guess(text),
        },
    };
    match parsed {
        Ok(d) => r.document = Some(d),
        Err(e) => ctx.warn(
            c,
            crate::text::labelled(
                &format!(
                    "证件号“{}”无效，未录入证件号，请核对后重新导入",
                    quote(text)
                ),
                "document number left out",
                &e.to_string(),
            ),
        ),
    }
}

fn parse_person(
    r: &mut NewResident,
    ctx: &mut RowCtx<'_>,
    row: &[Cell],
    texts: &[String],
    fields: &[Option<Field>],
    opts: &ParseOptions,
) -> Flags {
    let mut cleared = Flags::default();
    if let Some(Document {
        kind: DocKind::IdCard,
        number,
    }) = &r.document
    {
        if let Ok(id) = crate::idnumber::IdNumber::parse(number) {
            r.gender = id.gender();
            r.birth_date = id.birth_date();
        }
    }
    let mut notes: Vec<String> = Vec::new();
    for (c, field) in fields.iter().enumerate() {
        let Some(field) = *field else { continue };
        let text = texts.get(c).cloned().unwrap_or_default();
        if text.is_empty() || is_placeholder(&text) {
            // An export's "(已隐藏)" is no value: what is registered stays.
            continue;
        }
        match field {
            Field::Gender => match Gender::from_text(&text) {
                Some(g) if r.gender == Gender::Unknown => r.gender = g,
                Some(g) if g != r.gender => ctx.warn(c, format!("性别“{}”与身份证号不符，以证件为准 / gender disagrees with the ID number; the ID wins", quote(&text))),
                Some(_) => {}
                None => ctx.warn(c, format!("不认识的性别“{}” / gender not understood", quote(&text))),
            },
            Field::BirthDate if r.birth_date.is_none() => {
                let d = match row.get(c) {
                    Some(Cell::Date(d)) => Some(*d),
                    Some(Cell::Number(f)) if (10_000.0..80_000.0).contains(f) => Date::from_excel_serial(*f),
                    _ => Date::parse(&text).ok(),
                };
                match d {
                    Some(d) if d <= opts.today => r.birth_date = Some(d),
                    _ => ctx.warn(c, format!("出生日期“{}”无效 / birth date not understood", quote(&text))),
                }
            }
            Field::Phone | Field::OtherPhone(_) => {
                let base = match field {
                    Field::OtherPhone(rel) => rel,
                    _ => PhoneRelation::Own,
                };
                for part in split_phones(&text) {
                    let relation = PhoneRelation::from_text(part).unwrap_or(base);
                    let digits: String = part.chars().filter(|ch| !ch.is_alphabetic() || ch.is_ascii_alphabetic()).collect();
                    let digits = digits.trim_start_matches(|ch: char| !(ch.is_ascii_digit() || ch == '+' || ('０'..='９').contains(&ch)));
                    // A masked export's number (a relative's too, `家属:138****5678`): no value.
                    if is_masked_number(digits) {
                        continue;
                    }
                    match Phone::parse(digits) {
                        Ok(phone) if !r.phones.iter().any(|p| p.phone == phone) => r.phones.push(ResidentPhone { phone, relation }),
                        Ok(_) => {}
                        Err(e) => ctx.warn(c, crate::text::labelled(&format!("电话“{}”无效，未录入", quote(part)), "phone left out", &e.to_string())),
                    }
                }
            }
            Field::Residence => match ResidenceType::from_text(&text) {
                Some(t) => r.residence = t,
                None => notes.push(text),
            },
            Field::Immobile => match yes_no(&text) {
                Some(true) => r.flags.set(Flag::CannotGoDownstairs),
                Some(false) => cleared.set(Flag::CannotGoDownstairs),
                None => {
                    let f = Flag::scan_text(&text);
                    r.flags = r.flags.union(f);
                    add_note(&mut notes, text);
                }
            },
            Field::FlagColumn(flag) => match yes_no(&text) {
                Some(true) => r.flags.set(flag),
                Some(false) => cleared.set(flag),
                None => ctx.warn(c, format!("“{}”不是“是/否” / expected yes or no", quote(&text))),
            },
            Field::HasSmartphone => match yes_no(&text) {
                Some(false) => r.flags.set(Flag::NoSmartphone),
                Some(true) => cleared.set(Flag::NoSmartphone),
                None => ctx.warn(c, format!("“{}”不是“是/否” / expected yes or no", quote(&text))),
            },
            Field::Special => {
                r.flags = r.flags.union(Flag::scan_text(&text));
                // A cell of flag names only (as an export writes 特殊人群)
                // is said by the flags: kept as a note, every export and
                // import would add it to the notes once more.
                if !only_flag_names(&text) {
                    add_note(&mut notes, text);
                }
            }
            Field::Notes => {
                r.flags = r.flags.union(Flag::scan_text(&text));
                add_note(&mut notes, text);
            }
            _ => {}
        }
    }
    r.notes = notes.join("；");
    // What the row says wins over what it denies (是否孕妇 = 否, 备注 孕妇).
    Flags(cleared.0 & !r.flags.0)
}

/// What an export writes in place of a value it hides.
pub const HIDDEN: &str = "(已隐藏)";
/// What a masked export once wrote in 特殊人群 for each hidden health flag
/// (it now leaves them out): read as no value when such a file comes back.
pub const HIDDEN_HEALTH: &str = "健康信息(已隐藏)";

/// An export's placeholder for a hidden value (half- or full-width brackets).
pub fn is_placeholder(text: &str) -> bool {
    let t = squeeze(text);
    t == HIDDEN || t == "已隐藏" || t == HIDDEN_HEALTH
}

/// A number masked for display (`138****5678`, `220102********0018`).
pub fn is_masked_number(text: &str) -> bool {
    let t = squeeze(text);
    t.contains("**")
        && t.chars()
            .all(|c| c == '*' || c.is_ascii_alphanumeric() || c == '+' || c == '-')
}

/// A 特殊人群 cell made of flag names and placeholders only
/// (`行动不便、健康信息(已隐藏)`), or 无.
fn only_flag_names(text: &str) -> bool {
    let t = squeeze(text);
    t.split(['、', ',', '，', ';', '；', '/'])
        .filter(|p| !p.is_empty())
        .all(|p| p == "无" || is_placeholder(p) || Flag::ALL.iter().any(|f| f.label_zh() == p))
}

/// Adds a note unless the notes already say it.
fn add_note(notes: &mut Vec<String>, text: String) {
    let said = notes.iter().any(|n| n.contains(text.as_str()));
    if !said {
        notes.retain(|n| !text.contains(n.as_str()));
        notes.push(text);
    }
}

// ---------------------------------------------------------------------------
// Re-import planning: what to add, update or leave, matched against what the
// registry already holds for the importer's territory.

/// A resident already in the registry, as the planner needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct ExistingResident {
    pub id: i64,
    pub address: Address,
    pub resident: NewResident,
}

/// What to do with one imported row.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Add {
        row: usize,
        resident: NewResident,
    },
    Update {
        row: usize,
        id: i64,
        resident: NewResident,
    },
    Unchanged {
        row: usize,
        id: Option<i64>,
    },
    /// Not applied: the plan's issues say why (severity `Rejected`).
    Refused {
        row: usize,
    },
}

impl Action {
    pub fn row(&self) -> usize {
        match self {
            Action::Add { row, .. }
            | Action::Update { row, .. }
            | Action::Unchanged { row, .. }
            | Action::Refused { row } => *row,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plan {
    pub actions: Vec<Action>,
    /// Issues found while planning (duplicates, registered elsewhere, a
    /// document under another name); a refused row's has severity `Rejected`.
    pub warnings: Vec<RowIssue>,
    /// The rows (indexes into the planned rows) refused with [`DOC_CONFLICT`]:
    /// a document registered where the importer may not reveal documents.
    pub conflicts: Vec<usize>,
}

/// What an importer who may not reveal a registered document where its
/// holder lives is told of any row naming it, whatever the holder's name or
/// place: one message, so that a number typed beside a made-up name cannot
/// confirm whose it is or where they live.
pub const DOC_CONFLICT: &str = "证件号与已登记信息不符，本行未导入：请社区书记核对 / the document number does not match what is registered: row not imported; ask the community secretary to check it";

/// Where a document the importer cannot take is registered, as the
/// importer may be told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Elsewhere {
    /// To an importer who may reveal documents there: `zh` and `en`
    /// complete the sentence "证件号 X …" (`已在鸿城街道西湖社区登记` /
    /// `already registered elsewhere (…)`); the row's person is imported
    /// without the document.
    Told { zh: String, en: String },
    /// To one who may not: the row is refused with [`DOC_CONFLICT`].
    Sealed,
}

/// What an importer may see of a registered resident's document (the
/// document a row names is theirs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sight {
    /// May reveal it where they live: a row of another name is refused
    /// saying the number is registered under another name.
    Reveals,
    /// May not reveal it, but may change the registry where they live (a
    /// grid leader's own grid): a row of the same name is that resident;
    /// another name is refused with [`DOC_CONFLICT`].
    SameNameOnly,
    /// Neither: any row naming it is refused with [`DOC_CONFLICT`].
    Sealed,
}

fn doc_key(d: &Document) -> (DocKind, String) {
    (d.kind, d.number.clone())
}

/// Whether two names are the same person's as written (spaces, middle dots
/// and letter case aside: `John Smith`, `JOHN SMITH`, `阿依·买买提`).
pub fn same_name(a: &str, b: &str) -> bool {
    let key = |s: &str| {
        clean(s)
            .chars()
            .filter(|c| !c.is_whitespace() && !matches!(c, '·' | '•' | '.' | '・'))
            .flat_map(char::to_lowercase)
            .collect::<String>()
    };
    key(a) == key(b)
}

/// The roster's values laid over the registry's: a value the roster gives
/// wins; a value it leaves blank keeps what the registry had.
pub fn merge_resident(old: &NewResident, new: &NewResident) -> NewResident {
    NewResident {
        name: new.name.clone(),
        gender: if new.gender == Gender::Unknown {
            old.gender
        } else {
            new.gender
        },
        document: new.document.clone().or_else(|| old.document.clone()),
        birth_date: new.birth_date.or(old.birth_date),
        phones: if new.phones.is_empty() {
            old.phones.clone()
        } else {
            new.phones.clone()
        },
        residence: if new.residence == ResidenceType::Unknown {
            old.residence
        } else {
            new.residence
        },
        flags: if new.flags.is_empty() {
            old.flags
        } else {
            new.flags
        },
        notes: if new.notes.is_empty() {
            old.notes.clone()
        } else {
            new.notes.clone()
        },
    }
}

/// A roster row laid over the registered resident it matched: as
/// [`merge_resident`], except that the registered name stays (a match is by
/// the same name) and flags are added, never taken away by their absence: a
/// roster cannot show every flag (a masked export hides health flags), so a
/// flag goes only when the row denies it in a yes/no column.
pub fn merge_roster_row(old: &NewResident, row: &RosterRow) -> NewResident {
    let mut m = merge_resident(old, &row.resident);
    m.name = old.name.clone();
    m.flags = Flags((old.flags.0 & !row.flags_cleared.0) | row.resident.flags.0);
    m
}

/// `第4行` or, for another sheet, `工作表“2号楼”第4行`, both languages.
fn row_ref(sheet: &str, row: u32, this_sheet: &str) -> (String, String) {
    if sheet == this_sheet {
        (format!("第{row}行"), format!("row {row}"))
    } else {
        (
            format!("工作表“{sheet}”第{row}行"),
            format!("row {row} of sheet {sheet}"),
        )
    }
}

/// Matches parsed rows to existing residents: by document number, else by
/// name within the household. A document registered to someone of another
/// name refuses the row (nobody is renamed or moved by a wrong number), as
/// does a second person in the file with the same document. `elsewhere`
/// maps document numbers registered outside the importer's territory to
/// what the importer may be told of where. For an importer who may reveal
/// every registered document (see [`plan_import_for`]).
pub fn plan_import(
    rows: &[&RosterRow],
    existing: &[ExistingResident],
    elsewhere: &HashMap<(DocKind, String), Elsewhere>,
) -> Plan {
    plan_import_for(rows, existing, elsewhere, &|_| Sight::Reveals)
}

/// [`plan_import`] for an importer whose sight of each existing resident's
/// document (by the resident's id) is `sight`: where it does not reveal,
/// a row naming the document is refused with [`DOC_CONFLICT`] unless it is
/// the resident's own row in the importer's own grid (see [`Sight`]), and
/// listed in [`Plan::conflicts`].
pub fn plan_import_for(
    rows: &[&RosterRow],
    existing: &[ExistingResident],
    elsewhere: &HashMap<(DocKind, String), Elsewhere>,
    sight: &dyn Fn(i64) -> Sight,
) -> Plan {
    let mut by_doc: HashMap<(DocKind, String), usize> = HashMap::new();
    let mut by_name: HashMap<(Address, String), usize> = HashMap::new();
    for (i, e) in existing.iter().enumerate() {
        if let Some(d) = &e.resident.document {
            by_doc.insert(doc_key(d), i);
        }
        by_name
            .entry((e.address.clone(), e.resident.name.clone()))
            .or_insert(i);
    }
    let mut plan = Plan::default();
    // Rows already seen in this file: by document (with the name), and by
    // name in household.
    let mut seen_doc: HashMap<(DocKind, String), (&str, u32, &str)> = HashMap::new();
    let mut seen_name: HashMap<(Address, String), (&str, u32)> = HashMap::new();
    let mut claimed: HashMap<usize, (&str, u32)> = HashMap::new();
    for (idx, row) in rows.iter().enumerate() {
        let mut resident = row.resident.clone();
        let name_key = (row.address.clone(), resident.name.clone());
        let issue = |column: &str, severity: Severity, reason: String| RowIssue {
            sheet: row.sheet.clone(),
            row: row.row,
            column: column.to_string(),
            severity,
            reason,
        };
        // The row refused over its document: said with the number masked.
        let masked = row
            .resident
            .document
            .as_ref()
            .map(|d| crate::mask::document(&d.number))
            .unwrap_or_default();
        let refuse = |plan: &mut Plan, reason: String| {
            plan.warnings
                .push(issue(&row.doc_column, Severity::Rejected, reason));
            plan.actions.push(Action::Refused { row: idx });
        };
        let first = match &resident.document {
            Some(d) => seen_doc.get(&doc_key(d)).copied(),
            None => seen_name
                .get(&name_key)
                .map(|(sheet, r)| (*sheet, *r, resident.name.as_str())),
        };
        if let Some((sheet, first_row, first_name)) = first {
            let (zh, en) = row_ref(sheet, first_row, &row.sheet);
            if same_name(first_name, &resident.name) {
                plan.warnings.push(issue(
                    "",
                    Severity::Warning,
                    format!("与{zh}重复，只导入一次 / duplicate of {en}: imported once"),
                ));
                plan.actions.push(Action::Unchanged { row: idx, id: None });
            } else {
                refuse(&mut plan, format!("证件号 {masked} 与{zh}相同但姓名不同，本行未导入：请核实是谁的证件号 / document {masked} is the same as on {en} but the name differs: row not imported, check whose number it is"));
            }
            continue;
        }
        // Refused with the one message said of every such row.
        let conflict = |plan: &mut Plan| {
            plan.warnings.push(issue(
                &row.doc_column,
                Severity::Rejected,
                DOC_CONFLICT.into(),
            ));
            plan.actions.push(Action::Refused { row: idx });
            plan.conflicts.push(idx);
        };
        if let Some(d) = resident.document.clone() {
            match elsewhere.get(&doc_key(&d)) {
                Some(Elsewhere::Told { zh, en }) => {
                    let masked = crate::mask::document(&d.number);
                    plan.warnings.push(issue(
                        &row.doc_column,
                        Severity::Warning,
                        format!(
                            "证件号 {masked} {zh}，未迁移；本行居民已导入但未录入证件号，请核实 / document {masked} {en}: not moved; resident imported without it"
                        ),
                    ));
                    resident.document = None;
                }
                Some(Elsewhere::Sealed) => {
                    conflict(&mut plan);
                    continue;
                }
                None => {}
            }
        }
        let by_document = resident
            .document
            .as_ref()
            .and_then(|d| by_doc.get(&doc_key(d)).copied());
        if let Some(i) = by_document {
            let same = same_name(&existing[i].resident.name, &resident.name);
            match sight(existing[i].id) {
                Sight::Reveals if !same => {
                    refuse(&mut plan, format!("证件号 {masked} 已登记在另一姓名下，与本行姓名不同：本行未导入，登记的居民未改名、未迁移；请核实证件号 / document {masked} is registered to a person of another name: row not imported, nobody renamed or moved; check the number"));
                    continue;
                }
                Sight::SameNameOnly if !same => {
                    conflict(&mut plan);
                    continue;
                }
                Sight::Sealed => {
                    conflict(&mut plan);
                    continue;
                }
                Sight::Reveals | Sight::SameNameOnly => {}
            }
            // Taken by an earlier row of the file (by name in its
            // household): this row is the same person again.
            if let Some((sheet, first_row)) = claimed.get(&i).copied() {
                let (zh, en) = row_ref(sheet, first_row, &row.sheet);
                plan.warnings.push(issue(
                    "",
                    Severity::Warning,
                    format!("与{zh}是同一人，只导入一次 / the same person as {en}: imported once"),
                ));
                plan.actions.push(Action::Unchanged { row: idx, id: None });
                continue;
            }
        }
        // Seen only once taken: a later row is not a "duplicate" of a row
        // refused, and a later right one is not refused for it.
        if let Some(d) = &row.resident.document {
            seen_doc.insert(doc_key(d), (&row.sheet, row.row, &row.resident.name));
        }
        seen_name.insert(name_key.clone(), (&row.sheet, row.row));
        let matched = by_document
            .or_else(|| {
                by_name.get(&name_key).copied().filter(|i| {
                    // A name match must not contradict a document.
                    let e = &existing[*i];
                    match (&e.resident.document, &resident.document) {
                        (Some(a), Some(b)) => a == b,
                        _ => true,
                    }
                })
            })
            .filter(|i| !claimed.contains_key(i));
        match matched {
            Some(i) => {
                claimed.insert(i, (&row.sheet, row.row));
                let e = &existing[i];
                let mut taken = (*row).clone();
                taken.resident = resident;
                let merged = merge_roster_row(&e.resident, &taken);
                if merged == e.resident && e.address == row.address {
                    plan.actions.push(Action::Unchanged {
                        row: idx,
                        id: Some(e.id),
                    });
                } else {
                    plan.actions.push(Action::Update {
                        row: idx,
                        id: e.id,
                        resident: merged,
                    });
                }
            }
            None => plan.actions.push(Action::Add { row: idx, resident }),
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_lines_are_footers_wherever_the_word_stands() {
        let row = |cells: &[&str]| cells.iter().map(|c| c.to_string()).collect::<Vec<_>>();
        for footer in [
            &["检验员签字：", ""][..],
            &["", "社区负责人（签名）:", "王"][..],
            &["签字：王医生"][..],
            &["检验员：张三"][..],
            &["合计", "33"][..],
        ] {
            assert!(is_footer(&row(footer)), "{footer:?}");
        }
        for line in [
            &["张三", "3号楼"][..],
            &["TB00001001", "阴性"][..],
            &["负责任"][..],
        ] {
            assert!(!is_footer(&row(line)), "{line:?}");
        }
    }
    use crate::idnumber::IdNumber;

    fn t(s: &str) -> Cell {
        if s.is_empty() {
            Cell::Empty
        } else {
            Cell::Text(s.to_string())
        }
    }
    fn row(cells: &[&str]) -> Vec<Cell> {
        cells.iter().map(|c| t(c)).collect()
    }
    fn opts() -> ParseOptions {
        ParseOptions {
            default_compound: "未填小区".into(),
            today: Date::new(2022, 3, 18).unwrap(),
        }
    }
    fn id(seq: u16) -> String {
        IdNumber::compose("220102", Date::new(1950, 1, 2).unwrap(), seq)
            .unwrap()
            .to_string()
    }
    fn residents(p: &ParsedRoster) -> Vec<&RosterRow> {
        p.rows
            .iter()
            .filter_map(|r| match r {
                RowOutcome::Resident(r) => Some(r.as_ref()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn headers_in_chinese_and_english() {
        for (h, f) in [
            ("姓名", Field::Name),
            ("名字", Field::Name),
            ("身份证号", Field::DocNumber),
            ("身份证号码", Field::DocNumber),
            ("证件号码", Field::DocNumber),
            ("证件类型", Field::DocKind),
            ("联系电话", Field::Phone),
            ("手机号", Field::Phone),
            ("电话", Field::Phone),
            ("子女电话", Field::OtherPhone(PhoneRelation::Child)),
            ("小区", Field::Compound),
            ("楼栋", Field::Building),
            ("楼号", Field::Building),
            ("楼", Field::Building),
            ("单元", Field::Unit),
            ("门牌号", Field::Room),
            ("房号", Field::Room),
            ("室", Field::Room),
            ("人员类别", Field::Residence),
            ("是否行动不便", Field::Immobile),
            ("特殊人群", Field::Special),
            ("备注", Field::Notes),
            ("Name", Field::Name),
            ("ID Number", Field::DocNumber),
            ("Phone", Field::Phone),
            ("Building", Field::Building),
            ("Unit", Field::Unit),
            ("Room", Field::Room),
            ("Notes", Field::Notes),
            ("身份证号（必填）", Field::DocNumber),
            ("*姓名", Field::Name),
            ("是否独居老人", Field::FlagColumn(Flag::ElderlyAlone)),
            ("是否低保", Field::FlagColumn(Flag::LowIncome)),
            ("是否有智能手机", Field::HasSmartphone),
            ("详细地址", Field::Address),
            ("序号", Field::Seq),
        ] {
            assert_eq!(field_of_header(h), Some(f), "{h}");
        }
        assert_eq!(field_of_header("楼层"), None);
        assert_eq!(field_of_header("鸿城街道东风社区3号楼居民花名册"), None);
        assert_eq!(column_letter(0), "A");
        assert_eq!(column_letter(25), "Z");
        assert_eq!(column_letter(26), "AA");
    }

    #[test]
    fn title_merge_blank_rows_sheet_name_building_and_footer() {
        let sheet = Sheet {
            name: "3号楼".into(),
            rows: vec![
                row(&["东风社区3号楼花名册", "", "", ""]),
                row(&[]),
                row(&["序号", "姓名", "身份证号码", "单元", "门牌号", "特殊人群"]),
                row(&["1", "王小芳", &id(24), "1", "301", "独居老人"]),
                row(&["2", "李四", &id(13).to_lowercase(), "1单元", "302室", ""]),
                row(&["3", "", "", "", "", ""]),
                row(&["合计", "2人"]),
                row(&["制表人：张三"]),
            ],
            merges: vec![Merge {
                first_row: 0,
                first_col: 0,
                last_row: 0,
                last_col: 5,
            }],
            hidden: false,
        };
        let p = parse_workbook(&[sheet], &opts());
        assert_eq!(p.sheets[0].header_row, Some(3));
        assert_eq!(p.data_rows(), 2);
        let rs = residents(&p);
        assert_eq!(rs.len(), 2);
        assert_eq!(
            rs[0].address,
            Address {
                compound: "未填小区".into(),
                building: "3号楼".into(),
                unit: "1".into(),
                room: "301".into()
            }
        );
        assert_eq!(rs[1].address.room, "302");
        assert_eq!(rs[1].address.unit, "1");
        assert!(rs[0].resident.flags.has(Flag::ElderlyAlone));
        assert_eq!(rs[0].resident.birth_date, Date::new(1950, 1, 2));
        assert_eq!(rs[0].row, 4);
        assert!(rs.iter().all(|r| r.warnings.is_empty()), "{:?}", rs);
    }

    #[test]
    fn vertical_merge_gives_the_building() {
        let sheet = Sheet {
            name: "Sheet1".into(),
            rows: vec![
                row(&["姓名", "楼栋", "单元", "房号"]),
                row(&["甲", "5号楼", "1", "101"]),
                row(&["乙", "", "1", "101"]),
                row(&["丙", "5栋", "2", "201"]),
            ],
            merges: vec![Merge {
                first_row: 1,
                first_col: 1,
                last_row: 2,
                last_col: 1,
            }],
            hidden: false,
        };
        let p = parse_workbook(&[sheet], &opts());
        let rs = residents(&p);
        assert_eq!(rs.len(), 3);
        assert!(rs.iter().all(|r| r.address.building == "5号楼"));
    }

    #[test]
    fn a_merge_to_the_last_cell_of_a_sheet_costs_only_the_cells_that_exist() {
        // Regression: fill_merges walked every cell of the region (17 billion
        // for A1:XFD1048576), so one such merge hung the importer.
        let sheet = Sheet {
            name: "Sheet1".into(),
            rows: vec![row(&["姓名", "楼栋"]), row(&["甲", "5号楼"])],
            merges: vec![Merge {
                first_row: 0,
                first_col: 1,
                last_row: u32::MAX,
                last_col: u32::MAX,
            }],
            hidden: false,
        };
        let started = std::time::Instant::now();
        let rows = fill_merges(&sheet);
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        assert_eq!(rows.len(), 2);
        assert!(rows.iter().all(|r| r.len() == 2));
        assert_eq!(rows[1][1], t("楼栋"));
    }

    #[test]
    fn bad_values_warn_missing_name_or_address_reject() {
        let sheet = Sheet {
            name: "楼".into(),
            rows: vec![
                row(&["姓名", "身份证号", "电话", "楼栋", "门牌号"]),
                vec![
                    t("甲"),
                    Cell::Number(2.20102199003e17),
                    t("138 1234 5678"),
                    t("1"),
                    t("101"),
                ],
                row(&["乙", "220102195001020000", "1381234567", "1", "102"]),
                row(&["丙", "", "", "1", ""]),
                row(&["", "", "13812345678", "1", "103"]),
            ],
            merges: vec![],
            hidden: false,
        };
        let p = parse_workbook(&[sheet], &opts());
        assert_eq!(p.data_rows(), 4);
        let rs = residents(&p);
        assert_eq!(rs.len(), 2);
        assert_eq!(rs[0].resident.document, None);
        assert_eq!(rs[0].resident.phones[0].phone.as_str(), "13812345678");
        assert_eq!(rs[0].warnings.len(), 1);
        assert_eq!(rs[0].warnings[0].column, "B 身份证号");
        assert!(
            rs[0].warnings[0].reason.contains("Excel"),
            "{}",
            rs[0].warnings[0].reason
        );
        assert_eq!(rs[1].warnings.len(), 2, "{:?}", rs[1].warnings);
        let rejected: Vec<&RejectedRow> = p
            .rows
            .iter()
            .filter_map(|r| match r {
                RowOutcome::Rejected(r) => Some(r),
                _ => None,
            })
            .collect();
        assert_eq!(rejected.len(), 2);
        assert_eq!(rejected[0].issue.row, 4);
        assert_eq!(rejected[0].issue.column, "E 门牌号");
        assert_eq!(rejected[1].issue.column, "A 姓名");
    }

    #[test]
    fn value_warnings_keep_each_language_whole() {
        // Found by an end-to-end review: "证件号…无效… / document number left
        // out: 校验位错误… / check character…" split at its first " / " left
        // the Chinese page without the reason.
        let mut bad = id(11);
        let last = if bad.ends_with('1') { '2' } else { '1' };
        bad.pop();
        bad.push(last);
        let sheet = Sheet {
            name: "楼".into(),
            rows: vec![
                row(&["姓名", "身份证号", "电话", "楼栋", "门牌号"]),
                row(&["甲", &bad, "123", "1", "101"]),
            ],
            merges: vec![],
            hidden: false,
        };
        let p = parse_workbook(&[sheet], &opts());
        let rs = residents(&p);
        assert_eq!(rs[0].warnings.len(), 2);
        for w in &rs[0].warnings {
            assert_eq!(w.reason.matches(" / ").count(), 1, "{}", w.reason);
            let (zh, en) = w.reason.split_once(" / ").unwrap();
            assert!(zh.contains('：') && en.contains(": "), "{}", w.reason);
        }
        assert!(rs[0].warnings[0].reason.contains("校验位错误"));
        assert!(rs[0].warnings[0]
            .reason
            .split_once(" / ")
            .unwrap()
            .1
            .contains("check character"));
    }

    #[test]
    fn hidden_sheets_are_skipped_and_reported() {
        let sheet = Sheet {
            name: "旧名单".into(),
            rows: vec![row(&["姓名", "楼栋", "房号"]), row(&["甲", "1", "101"])],
            merges: vec![],
            hidden: true,
        };
        let p = parse_workbook(std::slice::from_ref(&sheet), &opts());
        assert_eq!(p.data_rows(), 0);
        let skipped = p.sheets[0].skipped.as_deref().unwrap();
        assert!(
            skipped.contains("hidden") && skipped.contains("有1行居民"),
            "{skipped}"
        );
        // People on it: a warning, on its header's row.
        assert_eq!(p.issues.len(), 1);
        assert_eq!(
            (p.issues[0].row, p.issues[0].severity),
            (1, Severity::Warning)
        );
        // Nobody on it: said, no warning.
        let empty = Sheet {
            rows: vec![row(&["说明"]), row(&["旧表，勿删"])],
            ..sheet
        };
        let p = parse_workbook(&[empty], &opts());
        assert!(p.issues.is_empty() && p.sheets[0].skipped.is_some());
    }

    #[test]
    fn summary_sheet_is_skipped() {
        let sheet = Sheet {
            name: "汇总".into(),
            rows: vec![row(&["楼栋", "人数"]), row(&["3号楼", "120"])],
            merges: vec![],
            hidden: false,
        };
        let p = parse_workbook(&[sheet], &opts());
        assert!(p.sheets[0].skipped.is_some());
        assert_eq!(p.data_rows(), 0);
    }

    #[test]
    fn addresses_in_one_cell() {
        assert_eq!(
            parse_address_text("虹馆小区3号楼2单元301室"),
            (
                Some("虹馆小区".into()),
                Some("3号楼".into()),
                Some("2".into()),
                Some("301".into())
            )
        );
        assert_eq!(
            parse_address_text("3-2-301"),
            (
                None,
                Some("3号楼".into()),
                Some("2".into()),
                Some("301".into())
            )
        );
    }

    fn rr(name: &str, doc: Option<&str>, room: &str, row: u32) -> RosterRow {
        let mut r = NewResident::named(name);
        r.document = doc.map(|d| Document::from(IdNumber::parse(d).unwrap()));
        RosterRow {
            sheet: "s".into(),
            row,
            address: Address {
                compound: "c".into(),
                building: "1号楼".into(),
                unit: "1".into(),
                room: room.into(),
            },
            resident: r,
            flags_cleared: Flags::default(),
            doc_column: "B 身份证号".into(),
            warnings: vec![],
            cells: vec![],
        }
    }

    #[test]
    fn planning_matches_by_document_then_name_and_flags_duplicates() {
        let a = id(11);
        let b = id(13);
        let existing = vec![
            ExistingResident {
                id: 1,
                address: rr("甲", Some(&a), "101", 0).address,
                resident: rr("甲", Some(&a), "101", 0).resident,
            },
            ExistingResident {
                id: 2,
                address: rr("乙", None, "102", 0).address,
                resident: rr("乙", None, "102", 0).resident,
            },
        ];
        let rows = [
            rr("甲", Some(&a), "101", 2),      // unchanged
            rr("乙", Some(&b), "102", 3),      // matched by name, gains a document: update
            rr("丙", None, "103", 4),          // new
            rr("丙", None, "103", 5),          // duplicate of row 4
            rr("丁", Some(&id(15)), "104", 6), // registered elsewhere
        ];
        let refs: Vec<&RosterRow> = rows.iter().collect();
        let mut elsewhere = HashMap::new();
        elsewhere.insert(
            (DocKind::IdCard, id(15)),
            Elsewhere::Told {
                zh: "已在全安街道登记".into(),
                en: "already registered elsewhere (全安街道)".into(),
            },
        );
        let plan = plan_import(&refs, &existing, &elsewhere);
        assert!(matches!(
            plan.actions[0],
            Action::Unchanged { id: Some(1), .. }
        ));
        assert!(
            matches!(&plan.actions[1], Action::Update { id: 2, resident, .. } if resident.document.is_some())
        );
        assert!(matches!(plan.actions[2], Action::Add { .. }));
        assert!(matches!(
            plan.actions[3],
            Action::Unchanged { id: None, .. }
        ));
        assert!(
            matches!(&plan.actions[4], Action::Add { resident, .. } if resident.document.is_none())
        );
        assert_eq!(plan.warnings.len(), 2);
        assert!(plan.warnings[0].reason.contains("row 4"));
        assert!(plan.warnings[1].reason.contains("elsewhere"));
    }

    fn existing(id_: i64, r: &RosterRow) -> ExistingResident {
        ExistingResident {
            id: id_,
            address: r.address.clone(),
            resident: r.resident.clone(),
        }
    }

    #[test]
    fn a_document_registered_under_another_name_refuses_the_row() {
        // Found by an end-to-end review: 张三丰 with 任伟健's ID renamed and
        // moved 任伟健; a passport turned 金敏洙 into "John Smith".
        let a = id(11);
        let registered = rr("任伟健", Some(&a), "101", 0);
        let rows = [rr("张三丰", Some(&a), "301", 2)];
        let refs: Vec<&RosterRow> = rows.iter().collect();
        let plan = plan_import(&refs, &[existing(7, &registered)], &HashMap::new());
        assert_eq!(plan.actions, vec![Action::Refused { row: 0 }]);
        let w = &plan.warnings[0];
        assert_eq!(
            (w.row, w.column.as_str(), w.severity),
            (2, "B 身份证号", Severity::Rejected)
        );
        assert!(w.reason.contains("another name"), "{}", w.reason);
        assert!(w.reason.contains(&crate::mask::document(&a)));
        assert!(!w.reason.contains(&a), "the number is masked: {}", w.reason);
        assert!(!w.reason.contains("任伟健"));
        // The same name written differently is the same person.
        let rows = [rr("任 伟健", Some(&a), "101", 2)];
        let refs: Vec<&RosterRow> = rows.iter().collect();
        let plan = plan_import(&refs, &[existing(7, &registered)], &HashMap::new());
        assert_eq!(
            plan.actions,
            vec![Action::Unchanged {
                row: 0,
                id: Some(7)
            }]
        );
        assert!(same_name("John Smith", "JOHN  SMITH"));
        assert!(!same_name("John Smith", "金敏洙"));
        // A refused row is not "seen": the right one after it is taken.
        let rows = [
            rr("张三丰", Some(&a), "301", 2),
            rr("任伟健", Some(&a), "101", 3),
        ];
        let refs: Vec<&RosterRow> = rows.iter().collect();
        let plan = plan_import(&refs, &[existing(7, &registered)], &HashMap::new());
        assert_eq!(
            plan.actions,
            vec![
                Action::Refused { row: 0 },
                Action::Unchanged {
                    row: 1,
                    id: Some(7)
                }
            ]
        );
    }

    #[test]
    fn two_people_with_one_document_in_a_file_is_a_conflict_not_a_duplicate() {
        let a = id(11);
        let rows = [
            rr("孙大宝", Some(&a), "101", 2),
            rr("孙二宝", Some(&a), "101", 3),
            rr("孙大宝", Some(&a), "101", 4),
        ];
        let refs: Vec<&RosterRow> = rows.iter().collect();
        let plan = plan_import(&refs, &[], &HashMap::new());
        assert!(matches!(plan.actions[0], Action::Add { .. }));
        assert_eq!(plan.actions[1], Action::Refused { row: 1 });
        assert_eq!(plan.actions[2], Action::Unchanged { row: 2, id: None });
        assert_eq!(plan.warnings[0].severity, Severity::Rejected);
        assert!(
            plan.warnings[0].reason.contains("第2行"),
            "{}",
            plan.warnings[0].reason
        );
        assert_eq!(plan.warnings[1].severity, Severity::Warning);
    }

    #[test]
    fn a_duplicate_on_another_sheet_names_the_sheet() {
        let mut first = rr("丙", None, "103", 4);
        first.sheet = "1号楼".into();
        let mut second = rr("丙", None, "103", 4);
        second.sheet = "2号楼".into();
        let rows = [first, second];
        let refs: Vec<&RosterRow> = rows.iter().collect();
        let plan = plan_import(&refs, &[], &HashMap::new());
        let reason = &plan.warnings[0].reason;
        assert!(reason.contains("工作表“1号楼”第4行"), "{reason}");
        assert!(reason.contains("row 4 of sheet 1号楼"), "{reason}");
    }

    #[test]
    fn flags_a_roster_cannot_show_stay_and_a_no_clears_one() {
        let mut old = rr("甲", None, "101", 0);
        old.resident.flags.set(Flag::Dialysis);
        old.resident.flags.set(Flag::ElderlyAlone);
        old.resident.flags.set(Flag::Pregnant);
        old.resident.notes = "每周二透析".into();
        // A masked export's row: non-health flags shown, health flags hidden,
        // notes hidden.
        let sheet = Sheet {
            name: "居民名单".into(),
            rows: vec![
                row(&[
                    "楼栋",
                    "单元",
                    "门牌号",
                    "姓名",
                    "特殊人群",
                    "备注",
                    "是否孕妇",
                    "联系电话",
                ]),
                row(&[
                    "1号楼",
                    "1",
                    "101",
                    "甲",
                    "独居老人、健康信息(已隐藏)",
                    "(已隐藏)",
                    "否",
                    "138****5678 / 家属:139****1234",
                ]),
            ],
            merges: vec![],
            hidden: false,
        };
        let mut p = parse_workbook(&[sheet], &opts());
        let RowOutcome::Resident(r) = p.rows.remove(0) else {
            panic!("a resident")
        };
        assert_eq!(r.resident.notes, "", "placeholders are no value");
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
        let mut r = *r;
        r.address.compound = "c".into();
        let merged = merge_roster_row(&old.resident, &r);
        assert!(
            merged.flags.has(Flag::Dialysis),
            "a hidden health flag stays"
        );
        assert!(merged.flags.has(Flag::ElderlyAlone));
        assert!(!merged.flags.has(Flag::Pregnant), "是否孕妇 = 否 clears it");
        assert_eq!(merged.notes, "每周二透析");
    }

    #[test]
    fn an_exports_flag_names_are_not_added_to_the_notes_again() {
        let sheet = Sheet {
            name: "居民名单".into(),
            rows: vec![
                row(&[
                    "楼栋",
                    "门牌号",
                    "姓名",
                    "特殊人群",
                    "备注",
                    "联系电话",
                    "证件号码",
                ]),
                row(&[
                    "1",
                    "101",
                    "甲",
                    "行动不便、独居老人",
                    "行动不便",
                    "138****5678",
                    "220102********0018",
                ]),
                row(&["1", "102", "乙", "行动不便，每周透析", "", "", ""]),
            ],
            merges: vec![],
            hidden: false,
        };
        let p = parse_workbook(&[sheet], &opts());
        let rs = residents(&p);
        assert_eq!(rs[0].resident.notes, "行动不便");
        assert!(rs[0].resident.flags.has(Flag::ElderlyAlone));
        // Masked numbers are no value, not a bad one.
        assert!(rs[0].warnings.is_empty(), "{:?}", rs[0].warnings);
        assert!(rs[0].resident.phones.is_empty() && rs[0].resident.document.is_none());
        assert_eq!(rs[1].resident.notes, "行动不便，每周透析");
    }

    #[test]
    fn the_person_s_name_column_beats_the_household_head_s() {
        // Found by an end-to-end review: 户主姓名 before 姓名 was taken as the
        // name, so 王小花 was stored as 李大山 and 李小山 dropped.
        assert_eq!(field_of_header("户主姓名"), Some(Field::HeadName));
        assert_eq!(field_of_header("紧急联系人姓名"), None);
        let sheet = Sheet {
            name: "户籍".into(),
            rows: vec![
                row(&["户主姓名", "与户主关系", "姓名", "楼栋", "单元", "房号"]),
                row(&["李大山", "本人", "李大山", "22栋", "1", "101"]),
                row(&["李大山", "妻子", "王小花", "22栋", "1", "101"]),
                row(&["李大山", "儿子", "李小山", "22栋", "1", "101"]),
            ],
            merges: vec![],
            hidden: false,
        };
        let p = parse_workbook(&[sheet], &opts());
        let names: Vec<&str> = residents(&p)
            .iter()
            .map(|r| r.resident.name.as_str())
            .collect();
        assert_eq!(names, ["李大山", "王小花", "李小山"]);
        // A household list with the head's name only: that is the name.
        let sheet = Sheet {
            name: "户".into(),
            rows: vec![
                row(&["户主姓名", "楼栋", "房号"]),
                row(&["李大山", "22", "101"]),
            ],
            merges: vec![],
            hidden: false,
        };
        assert_eq!(
            residents(&parse_workbook(&[sheet], &opts()))[0]
                .resident
                .name,
            "李大山"
        );
    }

    #[test]
    fn addresses_with_the_unit_beside_the_room() {
        let p = |s: &str| parse_address_text(s);
        let full = |c: &str, b: &str, u: &str, r: &str| {
            (
                Some(c.to_string()),
                Some(b.to_string()),
                Some(u.to_string()),
                Some(r.to_string()),
            )
        };
        assert_eq!(p("幸福家园8栋2-302"), full("幸福家园", "8号楼", "2", "302"));
        assert_eq!(p("幸福家园8-2-304"), full("幸福家园", "8号楼", "2", "304"));
        assert_eq!(
            p("幸福家园8#2单元303"),
            full("幸福家园", "8号楼", "2", "303")
        );
        assert_eq!(
            p("东风路12号幸福家园8栋2单元305"),
            full("幸福家园", "8号楼", "2", "305")
        );
        assert_eq!(
            p("幸福家园8幢201室"),
            (
                Some("幸福家园".into()),
                Some("8号楼".into()),
                None,
                Some("201".into())
            )
        );
        assert_eq!(
            split_unit_room("1单元204室"),
            Some(("1".into(), "204".into()))
        );
        assert_eq!(split_unit_room("204"), None);
        // A room column holding the unit too.
        let sheet = Sheet {
            name: "3号楼".into(),
            rows: vec![row(&["姓名", "房号"]), row(&["甲", "1单元204室"])],
            merges: vec![],
            hidden: false,
        };
        let p = parse_workbook(&[sheet], &opts());
        let a = &residents(&p)[0].address;
        assert_eq!((a.unit.as_str(), a.room.as_str()), ("1", "204"));
    }

    #[test]
    fn a_building_in_the_title_only_is_taken_and_a_missing_one_is_blamed_on_the_building() {
        let sheet = |title: &str| Sheet {
            name: "Sheet1".into(),
            rows: vec![
                row(&[title, "", ""]),
                row(&["姓名", "单元", "房号"]),
                row(&["题一", "1", "101"]),
            ],
            merges: vec![],
            hidden: false,
        };
        let p = parse_workbook(&[sheet("幸福家园5号楼居民花名册")], &opts());
        assert_eq!(residents(&p)[0].address.building, "5号楼");
        // A range, several buildings, or a note above the header: none taken.
        for title in [
            "幸福家园1-5栋居民名单",
            "第3栋、第5栋居民名单",
            "请到3栋门口集合",
        ] {
            let p = parse_workbook(&[sheet(title)], &opts());
            assert!(
                matches!(&p.rows[0], RowOutcome::Rejected(_)),
                "{title}: {:?}",
                p.rows[0]
            );
        }
        let p = parse_workbook(&[sheet("居民花名册")], &opts());
        let RowOutcome::Rejected(r) = &p.rows[0] else {
            panic!("rejected")
        };
        assert_eq!(r.issue.column, "", "no building column: the whole row");
        assert!(r.issue.reason.contains("no building"), "{}", r.issue.reason);
    }

    #[test]
    fn moving_household_within_territory_is_an_update() {
        let a = id(11);
        let old = rr("甲", Some(&a), "101", 0);
        let existing = vec![ExistingResident {
            id: 1,
            address: old.address.clone(),
            resident: old.resident.clone(),
        }];
        let rows = [rr("甲", Some(&a), "201", 2)];
        let refs: Vec<&RosterRow> = rows.iter().collect();
        let plan = plan_import(&refs, &existing, &HashMap::new());
        assert!(matches!(plan.actions[0], Action::Update { id: 1, .. }));
    }

    /// Found by a review acting as grid leaders: a name of 40,000 characters
    /// (or 5,000) was imported as it was. Free text has limits; a cell past
    /// one refuses its row, naming sheet, row, column and why.
    #[test]
    fn over_long_free_text_refuses_the_row_where_it_is() {
        let head = ["小区", "楼栋", "单元", "房号", "姓名", "性别", "备注"];
        let parse = |cells: [&str; 7]| {
            let sheet = Sheet {
                name: "楼".into(),
                rows: vec![row(&head), row(&cells)],
                merges: vec![],
                hidden: false,
            };
            parse_workbook(&[sheet], &opts()).rows.remove(0)
        };
        let name50 = "张".repeat(NAME_MAX);
        let ok = ["幸福家园", "1栋", "1", "101", name50.as_str(), "女", "一楼"];
        assert!(
            matches!(parse(ok), RowOutcome::Resident(_)),
            "50 characters is a name"
        );
        let long = "很".repeat(40_000);
        let cases: [(usize, &str, usize); 6] = [
            (4, "E 姓名", 51),
            (4, "E 姓名", 5_000),
            (0, "A 小区", 51),
            (1, "B 楼栋", 40),
            (3, "D 房号", 40),
            (6, "G 备注", 501),
        ];
        for (col, column, n) in cases {
            let mut cells = ok;
            let text = "很".repeat(n);
            cells[col] = &text;
            let RowOutcome::Rejected(r) = parse(cells) else {
                panic!("{column} of {n} characters: refused")
            };
            assert_eq!((r.issue.row, r.issue.column.as_str()), (2, column));
            assert!(
                r.issue.reason.contains(&format!("共{n}个字"))
                    && r.issue.reason.contains("longer than"),
                "{}",
                r.issue.reason
            );
        }
        // A long cell in a column that is parsed, not kept: the row stays,
        // and the warning quotes only the start of it.
        let mut cells = ok;
        cells[5] = &long;
        let RowOutcome::Resident(r) = parse(cells) else {
            panic!("kept")
        };
        assert!(
            r.warnings[0].reason.chars().count() < 200,
            "{}",
            r.warnings[0].reason
        );
        assert_eq!(quote("王秀兰"), "王秀兰");
        assert_eq!(quote(&long).chars().count(), 41);
    }

    /// Found by a review acting as grid leaders: a CSV with two 姓名
    /// columns imported the first without a word.
    #[test]
    fn two_columns_read_as_one_field_are_a_warning_naming_both() {
        let sheet = Sheet {
            name: "楼".into(),
            rows: vec![
                row(&["姓名", "楼栋", "姓名", "房号", "身份证号", "证件号码"]),
                row(&["甲", "1", "乙", "101", "", ""]),
            ],
            merges: vec![],
            hidden: false,
        };
        let p = parse_workbook(&[sheet], &opts());
        assert_eq!(residents(&p)[0].resident.name, "甲");
        assert_eq!(p.issues.len(), 2, "{:?}", p.issues);
        let name = &p.issues[0];
        assert_eq!(
            (
                name.sheet.as_str(),
                name.row,
                name.column.as_str(),
                name.severity
            ),
            ("楼", 1, "A 姓名、C 姓名", Severity::Warning)
        );
        assert!(
            name.reason.contains("只读取了第一列 A 姓名"),
            "{}",
            name.reason
        );
        assert_eq!(p.issues[1].column, "E 身份证号、F 证件号码");
        // Several phone or note columns are all read: no warning.
        let sheet = Sheet {
            name: "楼".into(),
            rows: vec![
                row(&["姓名", "楼栋", "房号", "电话", "手机", "备注", "说明"]),
                row(&["甲", "1", "101", "", "", "", ""]),
            ],
            merges: vec![],
            hidden: false,
        };
        assert!(parse_workbook(&[sheet], &opts()).issues.is_empty());
    }

    /// Found by a review acting as a privacy auditor: a grid leader (who may
    /// never see a full document number) typed the ~32 numbers a mask and an
    /// age leave beside made-up names, and the one registered answered
    /// "registered to a person of another name"; the answers also differed
    /// by the holder's name and place. To an importer who may not reveal a
    /// document where its holder lives, every row naming it gets one
    /// message, listed as a conflict.
    #[test]
    fn a_document_the_importer_may_not_see_answers_one_message_whoever_holds_it() {
        let (a, b, c) = (id(11), id(13), id(15));
        let registered = [
            existing(1, &rr("任伟健", Some(&a), "101", 0)),
            existing(2, &rr("王芳", Some(&b), "102", 0)),
        ];
        let sight = |id: i64| match id {
            1 => Sight::SameNameOnly, // the importer's own grid
            _ => Sight::Sealed,       // another grid
        };
        let mut elsewhere = HashMap::new();
        elsewhere.insert((DocKind::IdCard, c.clone()), Elsewhere::Sealed);
        let rows = [
            rr("张三丰", Some(&a), "301", 2), // another name, own grid
            rr("王芳", Some(&b), "102", 3),   // the same name, another grid
            rr("李四", Some(&b), "103", 4),   // another name, another grid
            rr("赵六", Some(&c), "104", 5),   // elsewhere
            rr("任伟健", Some(&a), "101", 6), // the resident's own row
        ];
        let refs: Vec<&RosterRow> = rows.iter().collect();
        let plan = plan_import_for(&refs, &registered, &elsewhere, &sight);
        assert_eq!(plan.conflicts, vec![0, 1, 2, 3]);
        assert_eq!(
            plan.actions[4],
            Action::Unchanged {
                row: 4,
                id: Some(1)
            }
        );
        let reasons: Vec<&str> = plan.warnings.iter().map(|w| w.reason.as_str()).collect();
        assert_eq!(reasons, vec![DOC_CONFLICT; 4]);
        assert!(plan
            .warnings
            .iter()
            .all(|w| w.column == "B 身份证号" && w.severity == Severity::Rejected));
        // Who may reveal it is told as before.
        let plan = plan_import_for(&refs[..1], &registered, &elsewhere, &|_| Sight::Reveals);
        assert!(plan.conflicts.is_empty());
        assert!(plan.warnings[0].reason.contains("another name"));
    }

    #[test]
    fn a_document_of_a_resident_an_earlier_row_took_by_name_is_the_same_person() {
        let a = id(11);
        let registered = [existing(1, &rr("甲", Some(&a), "101", 0))];
        let rows = [rr("甲", None, "101", 2), rr("甲", Some(&a), "101", 3)];
        let refs: Vec<&RosterRow> = rows.iter().collect();
        let plan = plan_import(&refs, &registered, &HashMap::new());
        assert!(
            matches!(plan.actions[1], Action::Unchanged { id: None, .. }),
            "not added again with a number the registry holds: {:?}",
            plan.actions
        );
        assert!(
            plan.warnings[0].reason.contains("row 2"),
            "{:?}",
            plan.warnings
        );
    }
}
