//! Supplies, packing and hand-off, pure parts: what a point was issued (tubes by
//! barcode range or batch, kits, protective gear), the bag capacity rule, and the
//! count reconciliation (数据统计校对) along the chain point → bag → box →
//! hand-off → lab receipt.
//!
//! A tube's life ([`crate::testing::TubeState`]) follows the chain: closed at the
//! point, `sealed` when packed into a sealed bag (密封袋), `boxed` when its bag goes
//! into a transport box (转运箱), `handed_over` when the transporter takes the box,
//! `received` when the lab scans it.

use serde::Serialize;
use std::collections::HashMap;

/// Tubes to a bag unless the round says otherwise.
pub const DEFAULT_BAG_CAPACITY: u32 = 20;
/// The largest bag capacity a round may set.
pub const MAX_BAG_CAPACITY: u32 = 100;

/// What a point can be issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SupplyKind {
    /// 采样管: by barcode range or by batch.
    Tubes,
    /// 采样试剂盒 / swab kits.
    Kits,
    /// 防护用品: gowns, masks, gloves, face shields.
    ProtectiveGear,
}

impl SupplyKind {
    pub const ALL: [SupplyKind; 3] = [
        SupplyKind::Tubes,
        SupplyKind::Kits,
        SupplyKind::ProtectiveGear,
    ];
    pub fn code(self) -> &'static str {
        match self {
            SupplyKind::Tubes => "tubes",
            SupplyKind::Kits => "kits",
            SupplyKind::ProtectiveGear => "protective_gear",
        }
    }
    pub fn from_code(s: &str) -> Option<SupplyKind> {
        SupplyKind::ALL.into_iter().find(|k| k.code() == s.trim())
    }
    pub fn label_zh(self) -> &'static str {
        match self {
            SupplyKind::Tubes => "采样管",
            SupplyKind::Kits => "采样试剂盒",
            SupplyKind::ProtectiveGear => "防护用品",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SupplyError {
    #[error("条码段首尾须同长、同前缀、以数字结尾，且首不大于尾：{0} … {1} / a barcode range needs two barcodes of the same length and prefix ending in digits, first ≤ last: {0} … {1}")]
    BadRange(String, String),
    #[error("条码段 {0} 支，超过上限 {1} / the range holds {0} tubes, more than the limit {1}")]
    RangeTooLarge(u128, u64),
    #[error("批次号须为 2–20 位字母或数字（条码的前几位）/ a batch is 2–20 letters or digits (the barcodes' first characters): {0}")]
    BadBatch(String),
    #[error("数量须为正数 / the quantity must be positive")]
    Quantity,
    #[error("采样管须按条码段或批次发放 / tubes are issued by barcode range or by batch")]
    TubesNeedRangeOrBatch,
    #[error("只有采样管有条码段或批次 / only tubes have a barcode range or batch")]
    NotTubes,
    #[error("条码段 {range} 支与数量 {quantity} 不符 / the range holds {range} tubes, the quantity says {quantity}")]
    QuantityDiffers { range: u64, quantity: u64 },
    #[error("本街道的采样管条码带校验位（Luhn），{0} 或 {1} 的校验位不对 / this street's tube barcodes end in a Luhn check digit: {0} or {1} does not")]
    CheckDigit(String, String),
}

/// The largest range one issue may cover.
pub const MAX_RANGE: u64 = 1_000_000;

fn split_digits(s: &str) -> (&str, &str) {
    let i = s
        .bytes()
        .rposition(|b| !b.is_ascii_digit())
        .map_or(0, |i| i + 1);
    s.split_at(i)
}

/// Tubes issued by barcode range: `first` … `last`, the same prefix, numbered
/// tails of the same width. Under a street's check-digit rule (Luhn) a
/// barcode is a serial number and its check digit: the range numbers the
/// serials (`…0100x` to `…0199x` is 100 tubes, not about 1,000 numbers), and
/// holds only barcodes whose check digit is right.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BarcodeRange {
    pub first: String,
    pub last: String,
    /// The last digit is a Luhn check digit, not part of the number.
    pub check_digit: bool,
}

impl BarcodeRange {
    /// A range as entered (or stored): `check_digit` is the street's rule.
    pub fn parse(first: &str, last: &str, check_digit: bool) -> Result<BarcodeRange, SupplyError> {
        let a = crate::text::squeeze(first).to_uppercase();
        let b = crate::text::squeeze(last).to_uppercase();
        let bad = || SupplyError::BadRange(a.clone(), b.clone());
        if a.len() != b.len() || !a.bytes().all(|c| c.is_ascii_alphanumeric()) {
            return Err(bad());
        }
        if check_digit
            && !(a.bytes().all(|c| c.is_ascii_digit())
                && b.bytes().all(|c| c.is_ascii_digit())
                && crate::testing::luhn_ok(&a)
                && crate::testing::luhn_ok(&b))
        {
            return Err(SupplyError::CheckDigit(a.clone(), b.clone()));
        }
        let r = BarcodeRange {
            first: a.clone(),
            last: b.clone(),
            check_digit,
        };
        let (sa, sb) = (r.serial(&r.first), r.serial(&r.last));
        let (_, da) = split_digits(sa);
        let (_, db) = split_digits(sb);
        if da.is_empty() || db.is_empty() || da.len() > 38 {
            return Err(bad());
        }
        // The shorter digit tail decides where the number starts.
        let width = da.len().min(db.len());
        if sa[..sa.len() - width] != sb[..sb.len() - width] {
            return Err(bad());
        }
        let (_, _, na, nb) = r.parts();
        if na > nb {
            return Err(bad());
        }
        let n = nb - na + 1;
        if n > u128::from(MAX_RANGE) {
            return Err(SupplyError::RangeTooLarge(n, MAX_RANGE));
        }
        Ok(r)
    }

    /// A barcode without its check digit.
    fn serial<'a>(&self, barcode: &'a str) -> &'a str {
        if self.check_digit && !barcode.is_empty() {
            &barcode[..barcode.len() - 1]
        } else {
            barcode
        }
    }

    fn parts(&self) -> (&str, usize, u128, u128) {
        let (first, last) = (self.serial(&self.first), self.serial(&self.last));
        let (_, da) = split_digits(first);
        let (_, db) = split_digits(last);
        let width = da.len().min(db.len());
        let prefix = &first[..first.len() - width];
        let lo = first[first.len() - width..].parse().unwrap_or(0);
        let hi = last[last.len() - width..].parse().unwrap_or(0);
        (prefix, width, lo, hi)
    }

    /// How many tubes the range holds.
    pub fn len(&self) -> u64 {
        let (_, _, lo, hi) = self.parts();
        u64::try_from(hi.saturating_sub(lo) + 1).unwrap_or(u64::MAX)
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    /// Whether the two ranges share a barcode (one range's end lies in the
    /// other: ranges are intervals of one prefix).
    pub fn overlaps(&self, other: &BarcodeRange) -> bool {
        self.contains(&other.first) || self.contains(&other.last) || other.contains(&self.first)
    }

    /// Whether some barcode of the range starts with `start` (a batch
    /// code, upper-case).
    pub fn has_barcode_starting(&self, start: &str) -> bool {
        let (prefix, width, lo, hi) = self.parts();
        if start.len() <= prefix.len() {
            return prefix.starts_with(start);
        }
        let Some(rest) = start.strip_prefix(prefix) else {
            return false;
        };
        let (digits, check) = rest.split_at(rest.len().min(width));
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
        let Ok(head) = digits.parse::<u128>() else {
            return false;
        };
        // The numbers whose padded digits begin with `digits`.
        let scale = 10u128.pow(u32::try_from(width - digits.len()).unwrap_or(0));
        let (from, to) = (head * scale, head * scale + scale - 1);
        if from > hi || to < lo {
            return false;
        }
        match check {
            "" => true,
            // Into the check digit: one barcode, which must be the range's.
            c if self.check_digit && c.len() == 1 => self.contains(start),
            _ => false,
        }
    }

    /// Whether `barcode` (already upper-case) is in the range.
    pub fn contains(&self, barcode: &str) -> bool {
        if barcode.len() != self.first.len() {
            return false;
        }
        if self.check_digit
            && !(barcode.bytes().all(|b| b.is_ascii_digit()) && crate::testing::luhn_ok(barcode))
        {
            return false;
        }
        let (prefix, width, lo, hi) = self.parts();
        let serial = self.serial(barcode);
        if !serial.starts_with(prefix) {
            return false;
        }
        let tail = &serial[serial.len() - width..];
        if !tail.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
        tail.parse::<u128>().is_ok_and(|n| (lo..=hi).contains(&n))
    }
}

/// How tubes were issued to a point.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum TubeIssue {
    Range(BarcodeRange),
    /// A manufacturer's batch: its barcodes start with the batch code.
    Batch {
        batch: String,
    },
}

impl TubeIssue {
    pub fn batch(raw: &str) -> Result<TubeIssue, SupplyError> {
        let b = crate::text::squeeze(raw).to_uppercase();
        if !(2..=20).contains(&b.len()) || !b.bytes().all(|c| c.is_ascii_alphanumeric()) {
            return Err(SupplyError::BadBatch(b));
        }
        Ok(TubeIssue::Batch { batch: b })
    }
    pub fn contains(&self, barcode: &str) -> bool {
        match self {
            TubeIssue::Range(r) => r.contains(barcode),
            TubeIssue::Batch { batch } => barcode.starts_with(batch.as_str()),
        }
    }

    /// Whether the two issues can hold the same barcode (a tube belongs to
    /// one point).
    pub fn overlaps(&self, other: &TubeIssue) -> bool {
        use TubeIssue::*;
        match (self, other) {
            (Range(a), Range(b)) => a.overlaps(b),
            (Batch { batch: a }, Batch { batch: b }) => {
                a.starts_with(b.as_str()) || b.starts_with(a.as_str())
            }
            (Range(r), Batch { batch }) | (Batch { batch }, Range(r)) => {
                r.has_barcode_starting(batch)
            }
        }
    }

    /// The issue as people write it, `(中文, English)`: `A–B`, or
    /// `批次 X` / `batch X`.
    pub fn describe(&self) -> (String, String) {
        match self {
            TubeIssue::Range(r) => {
                let t = format!("{}–{}", r.first, r.last);
                (t.clone(), t)
            }
            TubeIssue::Batch { batch } => (format!("批次 {batch}"), format!("batch {batch}")),
        }
    }
}

/// Whether any of a point's tube issues covers `barcode`.
pub fn issued(issues: &[TubeIssue], barcode: &str) -> bool {
    issues.iter().any(|i| i.contains(barcode))
}

/// The quantity a tube issue stands for: a range counts itself (a quantity,
/// when given, must agree); a batch needs its quantity.
pub fn tube_issue_quantity(issue: &TubeIssue, quantity: Option<u64>) -> Result<u64, SupplyError> {
    match (issue, quantity) {
        (TubeIssue::Range(r), None) => Ok(r.len()),
        (TubeIssue::Range(r), Some(q)) if q == r.len() => Ok(q),
        (TubeIssue::Range(r), Some(q)) => Err(SupplyError::QuantityDiffers {
            range: r.len(),
            quantity: q,
        }),
        (TubeIssue::Batch { .. }, Some(q)) if q > 0 => Ok(q),
        (TubeIssue::Batch { .. }, _) => Err(SupplyError::Quantity),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PackError {
    #[error("一袋最多 {capacity} 管，本袋扫入 {tubes} 管 / a bag holds at most {capacity} tubes; {tubes} were scanned into this one")]
    OverCapacity { capacity: u32, tubes: usize },
    #[error("袋（箱）内没有扫入任何条码 / nothing was scanned into the bag (box)")]
    Empty,
    #[error("条码 {0} 扫了两次 / barcode {0} was scanned twice")]
    Twice(String),
    #[error("每袋管数须在 1 到 {MAX_BAG_CAPACITY} 之间 / a bag capacity must be 1 to {MAX_BAG_CAPACITY}")]
    BadCapacity,
    #[error("逐箱清点的管数合计为 {per_box}，实验室清点管数却为 {total}：请核对后重填，未记录 / the per-box counts add up to {per_box}, the total says {total}: check them and enter again; nothing was recorded")]
    LabTotalDiffers { per_box: i64, total: i64 },
    #[error("逐箱清点的箱已有 {per_box} 管，多于实验室清点管数 {total}：请核对后重填，未记录 / the boxes counted one by one hold {per_box} tubes, more than the total of {total}: check them and enter again; nothing was recorded")]
    LabTotalBelowBoxes { per_box: i64, total: i64 },
}

/// Whether a capacity setting is allowed.
pub fn check_capacity(capacity: u32) -> Result<u32, PackError> {
    if (1..=MAX_BAG_CAPACITY).contains(&capacity) {
        Ok(capacity)
    } else {
        Err(PackError::BadCapacity)
    }
}

/// Checks what was scanned into one bag (or box): not empty, no barcode twice,
/// at most `capacity` (bags only).
pub fn check_packing(barcodes: &[String], capacity: Option<u32>) -> Result<(), PackError> {
    if barcodes.is_empty() {
        return Err(PackError::Empty);
    }
    let mut seen = std::collections::BTreeSet::new();
    for b in barcodes {
        if !seen.insert(b.as_str()) {
            return Err(PackError::Twice(b.clone()));
        }
    }
    match capacity {
        Some(c) if barcodes.len() > c as usize => Err(PackError::OverCapacity {
            capacity: c,
            tubes: barcodes.len(),
        }),
        _ => Ok(()),
    }
}

/// The lab's counts agree with each other before they are stored: the
/// tubes counted box by box (`per_box`, for some or all of the `boxes`
/// received) add up to the total counted when every box was counted on its
/// own, and never to more than it. Two counts of the same tubes that
/// contradict each other cannot both be right, and a stored contradiction
/// only moves the question to whoever reads the reconciliation later.
pub fn check_lab_counts(boxes: usize, per_box: &[i64], total: i64) -> Result<(), PackError> {
    let sum: i64 = per_box.iter().sum();
    if per_box.len() >= boxes && boxes > 0 && sum != total {
        return Err(PackError::LabTotalDiffers {
            per_box: sum,
            total,
        });
    }
    if sum > total {
        return Err(PackError::LabTotalBelowBoxes {
            per_box: sum,
            total,
        });
    }
    Ok(())
}

/// Steps of the chain, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Point,
    Bag,
    Box,
    HandOff,
    Lab,
}

impl Step {
    pub fn label_zh(self) -> &'static str {
        match self {
            Step::Point => "采样点",
            Step::Bag => "装袋",
            Step::Box => "装箱",
            Step::HandOff => "交接",
            Step::Lab => "实验室接收",
        }
    }
    pub fn label_en(self) -> &'static str {
        match self {
            Step::Point => "point",
            Step::Bag => "bagging",
            Step::Box => "boxing",
            Step::HandOff => "hand-over",
            Step::Lab => "lab receipt",
        }
    }
}

/// What is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    Tubes,
    /// Swabs (人份) in the tubes.
    People,
    Bags,
    Boxes,
}

impl Measure {
    /// What is counted, in Chinese and English (`人份 swabs`).
    pub fn label(self) -> &'static str {
        match self {
            Measure::Tubes => "管数 tubes",
            Measure::People => "人份 swabs",
            Measure::Bags => "袋数 bags",
            Measure::Boxes => "箱数 boxes",
        }
    }
}

/// Tubes and the swabs in them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    pub tubes: i64,
    pub people: i64,
}

impl std::ops::AddAssign for Tally {
    fn add_assign(&mut self, o: Tally) {
        self.tubes += o.tubes;
        self.people += o.people;
    }
}

/// A point's tubes that are closed (or further along), and those still open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PointLink {
    pub point: String,
    pub closed: Tally,
    pub open_tubes: i64,
    /// Once sampling is over: the open tubes that hold swabs (and the swabs),
    /// which nobody will seal now unless told (none while sampling runs).
    pub left_open: Tally,
    /// Barcodes of the point's tubes past `open` that are in no bag, for a
    /// break at the bag step to name (may be left empty).
    pub unbagged: Vec<String>,
    /// The tubes of `left_open`, each with the swabs in it, for the break at
    /// the point to name (may be left empty).
    pub left_open_tubes: Vec<(String, i64)>,
}

/// A bag: what the system holds in it and what the packer counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BagLink {
    pub barcode: String,
    pub point: String,
    pub system: Tally,
    pub counted_tubes: i64,
    pub in_box: Option<String>,
}

/// A box: its counts as packed, and where it went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoxLink {
    pub barcode: String,
    pub point: String,
    pub counted_bags: i64,
    pub counted_tubes: i64,
    pub handoff: Option<String>,
    pub receipt: Option<String>,
    /// The tubes the lab counted in this box when it received it, when it
    /// counted box by box (the receipt's count covers all its boxes).
    pub lab_tubes: Option<i64>,
    /// Its hand-over was recorded only after the lab had received it (a
    /// transporter's sheet entered late): the chain of custody has a hole the
    /// late record does not fill.
    pub handed_after_receipt: bool,
}

/// A hand-over as written on the hand-over sheet (交接单).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandOffLink {
    pub id: String,
    pub point: String,
    pub counted_boxes: i64,
    pub counted_tubes: i64,
    pub counted_people: Option<i64>,
}

/// A lab receipt with the lab's own counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptLink {
    pub id: String,
    pub counted_boxes: Option<i64>,
    pub counted_tubes: i64,
    pub counted_people: Option<i64>,
}

/// Everything reconciliation needs about one round (or part of one).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Chain {
    pub points: Vec<PointLink>,
    pub bags: Vec<BagLink>,
    pub boxes: Vec<BoxLink>,
    pub handoffs: Vec<HandOffLink>,
    pub receipts: Vec<ReceiptLink>,
}

/// One count that does not match: at `step`, at `at` (a point, bag, box,
/// hand-off or receipt), `expected` (what the step before, or the system, says)
/// against `found`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mismatch {
    pub step: Step,
    /// `point`, `bag`, `box`, `handoff` or `receipt`.
    pub kind: &'static str,
    pub at: String,
    /// `at` as people name it: a bag's or box's barcode as it is; a point, a
    /// hand-over sheet or a lab receipt as its caller names it (see
    /// [`Mismatch::named`]); `at` until then.
    pub label: String,
    /// The point it belongs to (for a lab receipt, only when all its boxes
    /// came from one point).
    pub point: Option<String>,
    pub measure: Measure,
    pub expected: i64,
    pub found: i64,
    /// `found - expected`: negative means missing.
    pub diff: i64,
    pub note: &'static str,
    /// What a break is made of, where the chain knows it: for a point the
    /// tubes left open with swabs, the tubes in no bag, the bags in no box,
    /// the boxes not handed over; for a lab receipt its boxes.
    pub items: Vec<String>,
    /// For the tubes left open at a point (the break at [`Step::Point`]):
    /// the swabs in each of `items`, in the same order; empty otherwise.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub item_swabs: Vec<i64>,
    /// The point of a bag's, box's, hand-over's or receipt's break as people
    /// name it (see [`Mismatch::named`]), for a reader of many points.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub point_label: Option<String>,
}

impl Mismatch {
    /// This break with `at` named by `name` (a point's, a hand-over sheet's
    /// or a receipt's key to what people call it), for the kinds whose `at`
    /// is a key; bags and boxes keep their barcodes. The point of a break
    /// elsewhere than at a point is named too (`name("point", key)`).
    pub fn named(mut self, name: impl Fn(&str, &str) -> Option<String>) -> Mismatch {
        if matches!(self.kind, "point" | "handoff" | "receipt") {
            if let Some(n) = name(self.kind, &self.at) {
                self.label = n;
            }
        }
        if self.kind != "point" {
            self.point_label = self.point.as_deref().and_then(|p| name("point", p));
        }
        self
    }
}

struct Out(Vec<Mismatch>);

impl Out {
    #[allow(clippy::too_many_arguments)]
    fn check(
        &mut self,
        step: Step,
        kind: &'static str,
        at: &str,
        point: Option<&str>,
        measure: Measure,
        expected: i64,
        found: i64,
        note: &'static str,
    ) {
        if expected != found {
            self.0.push(Mismatch {
                step,
                kind,
                at: at.to_string(),
                label: at.to_string(),
                point: point.map(str::to_string),
                measure,
                expected,
                found,
                diff: found - expected,
                note,
                items: Vec::new(),
                item_swabs: Vec::new(),
                point_label: None,
            });
        }
    }
    #[allow(clippy::too_many_arguments)]
    fn tally(
        &mut self,
        step: Step,
        kind: &'static str,
        at: &str,
        point: Option<&str>,
        expected: Tally,
        found: Tally,
        note: &'static str,
    ) {
        self.check(
            step,
            kind,
            at,
            point,
            Measure::Tubes,
            expected.tubes,
            found.tubes,
            note,
        );
        self.check(
            step,
            kind,
            at,
            point,
            Measure::People,
            expected.people,
            found.people,
            note,
        );
    }
}

/// Per-point system totals at each step.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StepTotals {
    pub point: String,
    pub open_tubes: i64,
    pub closed: Tally,
    pub bagged: Tally,
    pub boxed: Tally,
    pub handed_over: Tally,
    pub received: Tally,
    pub bags: i64,
    pub boxes: i64,
    pub boxes_handed_over: i64,
    pub boxes_received: i64,
}

/// What the system holds at each step, per point.
pub fn totals(chain: &Chain) -> Vec<StepTotals> {
    let mut out: Vec<StepTotals> = chain
        .points
        .iter()
        .map(|p| StepTotals {
            point: p.point.clone(),
            open_tubes: p.open_tubes,
            closed: p.closed,
            ..StepTotals::default()
        })
        .collect();
    let boxes: std::collections::HashMap<&str, &BoxLink> = chain
        .boxes
        .iter()
        .map(|b| (b.barcode.as_str(), b))
        .collect();
    for bag in &chain.bags {
        let Some(t) = out.iter_mut().find(|t| t.point == bag.point) else {
            continue;
        };
        t.bags += 1;
        t.bagged += bag.system;
        if let Some(b) = bag.in_box.as_deref().and_then(|x| boxes.get(x)) {
            t.boxed += bag.system;
            if b.handoff.is_some() {
                t.handed_over += bag.system;
            }
            if b.receipt.is_some() {
                t.received += bag.system;
            }
        }
    }
    for b in &chain.boxes {
        if let Some(t) = out.iter_mut().find(|t| t.point == b.point) {
            t.boxes += 1;
            t.boxes_handed_over += i64::from(b.handoff.is_some());
            t.boxes_received += i64::from(b.receipt.is_some());
        }
    }
    out
}

/// Every count along the chain that does not match, with the step where it
/// broke and by how much, in chain order.
pub fn reconcile(chain: &Chain) -> Vec<Mismatch> {
    let mut out = Out(Vec::new());
    // What the system holds in each box and each hand-over / receipt.
    let mut in_box: HashMap<&str, (i64, Tally)> = HashMap::new();
    for bag in &chain.bags {
        if let Some(b) = &bag.in_box {
            let e = in_box.entry(b.as_str()).or_default();
            e.0 += 1;
            e.1 += bag.system;
        }
    }
    let box_tally = |b: &BoxLink| in_box.get(b.barcode.as_str()).copied().unwrap_or_default();
    let mut handed: HashMap<&str, (i64, Tally)> = HashMap::new();
    let mut handed_received: HashMap<&str, (i64, Tally)> = HashMap::new();
    let mut received: HashMap<&str, (i64, Tally)> = HashMap::new();
    for b in &chain.boxes {
        let (_, t) = box_tally(b);
        if let Some(h) = &b.handoff {
            let e = handed.entry(h.as_str()).or_default();
            e.0 += 1;
            e.1 += t;
            if b.receipt.is_some() {
                let e = handed_received.entry(h.as_str()).or_default();
                e.0 += 1;
                e.1 += t;
            }
        }
        if let Some(r) = &b.receipt {
            let e = received.entry(r.as_str()).or_default();
            e.0 += 1;
            e.1 += t;
        }
    }
    let steps = totals(chain);

    // At the point: sampling is over, and tubes holding swabs were never sealed.
    for p in &chain.points {
        out.tally(
            Step::Point,
            "point",
            &p.point,
            Some(&p.point),
            Tally::default(),
            p.left_open,
            "采样已结束，仍有装着样本的采样管未封：请封管装袋，否则这些人没有结果 / sampling is over and tubes holding swabs are still open: seal and bag them, or these people get no result",
        );
    }

    // Point → bag: closed tubes not in any bag.
    for t in &steps {
        out.tally(
            Step::Bag,
            "point",
            &t.point,
            Some(&t.point),
            t.closed,
            t.bagged,
            "已封管未装袋 / closed at the point, not in a bag",
        );
    }
    // Each bag: the packer's count against the system's.
    for bag in &chain.bags {
        out.check(
            Step::Bag,
            "bag",
            &bag.barcode,
            Some(&bag.point),
            Measure::Tubes,
            bag.system.tubes,
            bag.counted_tubes,
            "袋内清点数与系统不符 / the bag's counted tubes differ from the system",
        );
    }
    // Bag → box: bags not in any box.
    for t in &steps {
        out.tally(
            Step::Box,
            "point",
            &t.point,
            Some(&t.point),
            t.bagged,
            t.boxed,
            "已装袋未装箱 / bagged, not in a box",
        );
    }
    for b in &chain.boxes {
        let (bags, t) = box_tally(b);
        out.check(
            Step::Box,
            "box",
            &b.barcode,
            Some(&b.point),
            Measure::Bags,
            bags,
            b.counted_bags,
            "箱内清点袋数与系统不符 / the box's counted bags differ from the system",
        );
        out.check(
            Step::Box,
            "box",
            &b.barcode,
            Some(&b.point),
            Measure::Tubes,
            t.tubes,
            b.counted_tubes,
            "箱内清点管数与系统不符 / the box's counted tubes differ from the system",
        );
    }
    // Box → hand-off: boxes not handed over; boxes at the lab with no hand-over.
    for t in &steps {
        out.check(
            Step::HandOff,
            "point",
            &t.point,
            Some(&t.point),
            Measure::Boxes,
            t.boxes,
            t.boxes_handed_over,
            "已装箱未交接 / boxed, not handed over",
        );
        out.tally(
            Step::HandOff,
            "point",
            &t.point,
            Some(&t.point),
            t.boxed,
            t.handed_over,
            "已装箱未交接 / boxed, not handed over",
        );
    }
    for b in chain.boxes.iter().filter(|b| b.receipt.is_some()) {
        let note = if b.handoff.is_none() {
            "实验室已接收此箱，但它从未登记交接 / received at the lab, but never handed over (no hand-over record)"
        } else if b.handed_after_receipt {
            "交接记录在实验室接收之后才补录 / the hand-over was recorded only after the lab received the box"
        } else {
            continue;
        };
        out.check(
            Step::HandOff,
            "box",
            &b.barcode,
            Some(&b.point),
            Measure::Boxes,
            0,
            1,
            note,
        );
    }
    for h in &chain.handoffs {
        let (boxes, t) = handed.get(h.id.as_str()).copied().unwrap_or_default();
        let note = "交接单清点数与系统不符 / the hand-over sheet differs from the system";
        out.check(
            Step::HandOff,
            "handoff",
            &h.id,
            Some(&h.point),
            Measure::Boxes,
            boxes,
            h.counted_boxes,
            note,
        );
        out.check(
            Step::HandOff,
            "handoff",
            &h.id,
            Some(&h.point),
            Measure::Tubes,
            t.tubes,
            h.counted_tubes,
            note,
        );
        if let Some(p) = h.counted_people {
            out.check(
                Step::HandOff,
                "handoff",
                &h.id,
                Some(&h.point),
                Measure::People,
                t.people,
                p,
                note,
            );
        }
    }
    // Hand-off → lab: boxes handed over and not received; the lab's own counts.
    for h in &chain.handoffs {
        let (boxes, t) = handed.get(h.id.as_str()).copied().unwrap_or_default();
        let (rb, rt) = handed_received
            .get(h.id.as_str())
            .copied()
            .unwrap_or_default();
        let note = "已交接未被实验室接收 / handed over, not received by the lab";
        out.check(
            Step::Lab,
            "handoff",
            &h.id,
            Some(&h.point),
            Measure::Boxes,
            boxes,
            rb,
            note,
        );
        out.tally(Step::Lab, "handoff", &h.id, Some(&h.point), t, rt, note);
    }
    for r in &chain.receipts {
        let (boxes, t) = received.get(r.id.as_str()).copied().unwrap_or_default();
        let note = "实验室清点数与系统不符 / the lab's count differs from the system";
        if let Some(b) = r.counted_boxes {
            out.check(
                Step::Lab,
                "receipt",
                &r.id,
                None,
                Measure::Boxes,
                boxes,
                b,
                note,
            );
        }
        out.check(
            Step::Lab,
            "receipt",
            &r.id,
            None,
            Measure::Tubes,
            t.tubes,
            r.counted_tubes,
            note,
        );
        if let Some(p) = r.counted_people {
            out.check(
                Step::Lab,
                "receipt",
                &r.id,
                None,
                Measure::People,
                t.people,
                p,
                note,
            );
        }
    }
    // A box the lab counted on its own: which box the receipt's break is in.
    for b in chain.boxes.iter().filter(|b| b.receipt.is_some()) {
        if let Some(n) = b.lab_tubes {
            out.check(
                Step::Lab,
                "box",
                &b.barcode,
                Some(&b.point),
                Measure::Tubes,
                box_tally(b).1.tubes,
                n,
                "实验室逐箱清点管数与系统不符 / the lab's count of this box differs from the system",
            );
        }
    }
    // A point's break names what it is made of.
    for m in out.0.iter_mut().filter(|m| m.kind == "point") {
        let point = chain.points.iter().find(|p| p.point == m.at);
        if m.step == Step::Point {
            let open = point.map(|p| p.left_open_tubes.as_slice()).unwrap_or(&[]);
            m.items = open.iter().map(|(b, _)| b.clone()).collect();
            m.item_swabs = open.iter().map(|(_, n)| *n).collect();
            continue;
        }
        m.items = match m.step {
            Step::Bag => point.map(|p| p.unbagged.clone()).unwrap_or_default(),
            Step::Box => chain
                .bags
                .iter()
                .filter(|b| b.point == m.at && b.in_box.is_none())
                .map(|b| b.barcode.clone())
                .collect(),
            Step::HandOff => chain
                .boxes
                .iter()
                .filter(|b| b.point == m.at && b.handoff.is_none())
                .map(|b| b.barcode.clone())
                .collect(),
            _ => Vec::new(),
        };
    }
    // A hand-over the lab has not received whole names the boxes it lacks.
    for m in out
        .0
        .iter_mut()
        .filter(|m| m.kind == "handoff" && m.step == Step::Lab)
    {
        m.items = chain
            .boxes
            .iter()
            .filter(|b| b.handoff.as_deref() == Some(m.at.as_str()) && b.receipt.is_none())
            .map(|b| b.barcode.clone())
            .collect();
    }
    // A lab receipt's break names its boxes, and its point when they all
    // came from one (the lab counts a delivery, which may span points).
    for m in out.0.iter_mut().filter(|m| m.kind == "receipt") {
        let boxes: Vec<&BoxLink> = chain
            .boxes
            .iter()
            .filter(|b| b.receipt.as_deref() == Some(m.at.as_str()))
            .collect();
        m.items = boxes.iter().map(|b| b.barcode.clone()).collect();
        if let Some(first) = boxes.first() {
            if boxes.iter().all(|b| b.point == first.point) {
                m.point = Some(first.point.clone());
            }
        }
    }
    out.0
}

/// How far a round has got, for telling a break from work still on its way
/// (see [`on_its_way`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Planned or open: tubes are sealed, bagged, boxed and handed over as
    /// the day goes.
    Sampling,
    /// Sampling closed: everything should be packed and on its way.
    Packing,
    /// Results complete, or the round closed: everything should have
    /// reached the lab.
    Done,
}

impl Stage {
    /// The stage of a round in `state` (a round's state code).
    pub fn of_round(state: &str) -> Stage {
        match state {
            "planned" | "open" => Stage::Sampling,
            "sampling_closed" => Stage::Packing,
            _ => Stage::Done,
        }
    }
}

/// When the things along a round's chain were made (ms): tubes sealed,
/// bags and boxes packed, by barcode; each point's hand-overs.
#[derive(Debug, Clone, Default)]
pub struct Made {
    pub tubes: HashMap<String, i64>,
    pub bags: HashMap<String, i64>,
    pub boxes: HashMap<String, i64>,
    /// When each hand-over of a point (by its key) was recorded.
    pub handoffs: HashMap<String, Vec<i64>>,
}

/// Whether what [`reconcile`] found is only work still on its way, not a
/// break: while sampling runs, a point's sealed tubes not yet in a bag, bags
/// not yet in a box and boxes not yet handed over are waiting for the next
/// step, unless the point has handed boxes over since they were made (then
/// they were left behind, a break). A hand-over of which the lab has
/// received nothing yet is in transit until the results are complete.
/// Anything found over what the step before holds is always a break.
pub fn on_its_way(m: &Mismatch, stage: Stage, made: &Made) -> bool {
    if m.diff >= 0 {
        return false;
    }
    match (m.kind, m.step) {
        ("point", Step::Bag | Step::Box | Step::HandOff) => {
            if stage != Stage::Sampling {
                return false;
            }
            let times = match m.step {
                Step::Bag => &made.tubes,
                Step::Box => &made.bags,
                _ => &made.boxes,
            };
            let Some(last) = made.handoffs.get(&m.at).and_then(|h| h.iter().max()) else {
                return true;
            };
            m.items
                .iter()
                .all(|i| times.get(i).is_some_and(|&t| t >= *last))
        }
        ("handoff", Step::Lab) => stage != Stage::Done && m.found == 0,
        _ => false,
    }
}

/// [`reconcile`]'s findings split into breaks and work on its way (see
/// [`on_its_way`]), each in chain order.
pub fn split_on_its_way(
    found: Vec<Mismatch>,
    stage: Stage,
    made: &Made,
) -> (Vec<Mismatch>, Vec<Mismatch>) {
    found.into_iter().partition(|m| !on_its_way(m, stage, made))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn a_hand_over_the_lab_lacks_names_the_boxes_not_received() {
        let box_ = |barcode: &str, receipt: Option<&str>| BoxLink {
            barcode: barcode.into(),
            point: "P".into(),
            counted_bags: 0,
            counted_tubes: 0,
            handoff: Some("H1".into()),
            receipt: receipt.map(Into::into),
            lab_tubes: None,
            handed_after_receipt: false,
        };
        let chain = Chain {
            boxes: vec![
                box_("BOX1", Some("R1")),
                box_("BOX2", None),
                box_("BOX3", Some("R1")),
            ],
            handoffs: vec![HandOffLink {
                id: "H1".into(),
                point: "P".into(),
                counted_boxes: 3,
                counted_tubes: 0,
                counted_people: None,
            }],
            receipts: vec![ReceiptLink {
                id: "R1".into(),
                counted_boxes: Some(2),
                counted_tubes: 0,
                counted_people: None,
            }],
            ..Chain::default()
        };
        let m = reconcile(&chain);
        let lab: Vec<&Mismatch> = m
            .iter()
            .filter(|m| m.step == Step::Lab && m.kind == "handoff")
            .collect();
        assert_eq!(lab.len(), 1, "{m:?}");
        assert_eq!((lab[0].expected, lab[0].found), (3, 2));
        assert_eq!(lab[0].items, ["BOX2"]);
        // Named as people know them: the sheet by the caller's name for it,
        // a box by its barcode whatever the caller says.
        let named: Vec<Mismatch> = m
            .into_iter()
            .map(|m| m.named(|kind, at| Some(format!("{kind}:{at} named"))))
            .collect();
        for n in &named {
            match n.kind {
                "handoff" | "receipt" => assert_eq!(n.label, format!("{}:{} named", n.kind, n.at)),
                _ => assert_eq!(n.label, n.at, "{n:?}"),
            }
        }
        assert!(named.iter().any(|n| n.kind == "handoff"), "{named:?}");
        let a_box = Mismatch {
            kind: "box",
            at: "BOX2".into(),
            label: "BOX2".into(),
            ..named[0].clone()
        };
        assert_eq!(a_box.named(|_, _| Some("x".into())).label, "BOX2");
    }

    #[test]
    fn ranges_overlap_when_they_share_a_barcode() {
        let r = |a: &str, b: &str| BarcodeRange::parse(a, b, false).unwrap();
        let a = r("TB00001000", "TB00001099");
        assert!(a.overlaps(&r("TB00001050", "TB00001060")), "inside");
        assert!(r("TB00001050", "TB00001060").overlaps(&a), "around");
        assert!(a.overlaps(&r("TB00001099", "TB00001200")), "one shared end");
        assert!(a.overlaps(&r("TB00000900", "TB00002000")), "covering");
        assert!(!a.overlaps(&r("TB00001100", "TB00001199")), "next to it");
        assert!(
            !a.overlaps(&r("TC00001000", "TC00001099")),
            "another prefix"
        );
        // Under the Luhn rule, by serial.
        let l = |a: &str, b: &str| BarcodeRange::parse(a, b, true).unwrap();
        assert!(l("10000001007", "10000001999").overlaps(&l("10000001502", "10000001601")));
        assert!(!l("10000001007", "10000001999").overlaps(&l("10000002005", "10000002005")));
    }

    #[test]
    fn ranges_hold_what_they_say() {
        let r = BarcodeRange::parse("tb00000100", "TB00000199", false).unwrap();
        assert_eq!(r.len(), 100);
        assert!(r.contains("TB00000100") && r.contains("TB00000150") && r.contains("TB00000199"));
        assert!(!r.contains("TB00000200") && !r.contains("TB00000099"));
        assert!(!r.contains("TC00000150"), "another prefix");
        assert!(!r.contains("TB0000150"), "another length");
        // Digits all the way: the number is the whole tail of the shorter run.
        let d = BarcodeRange::parse("2200000100", "2200000109", false).unwrap();
        assert_eq!(d.len(), 10);
        assert!(d.contains("2200000105") && !d.contains("2200000110"));
        // Across a carry into a letter-free prefix.
        let c = BarcodeRange::parse("A1999", "A2001", false).unwrap();
        assert_eq!(c.len(), 3);
        assert!(c.contains("A2000"));
        for (a, b) in [
            ("TB0199", "TB0100"),
            ("TB0100", "TB00199"),
            ("TBX", "TBY"),
            ("TA0100", "TB0199"),
        ] {
            assert!(
                matches!(
                    BarcodeRange::parse(a, b, false),
                    Err(SupplyError::BadRange(..))
                ),
                "{a}..{b}"
            );
        }
        assert!(matches!(
            BarcodeRange::parse("T0000000", "T9999999", false),
            Err(SupplyError::RangeTooLarge(..))
        ));
    }

    /// `serial` followed by its Luhn check digit.
    fn with_check(serial: &str) -> String {
        (0..10)
            .map(|d| format!("{serial}{d}"))
            .find(|b| crate::testing::luhn_ok(b))
            .unwrap()
    }

    #[test]
    fn check_digit_ranges_number_the_serials() {
        let (a, b) = (with_check("22000100"), with_check("22000199"));
        let r = BarcodeRange::parse(&a, &b, true).unwrap();
        assert_eq!(r.len(), 100, "{a}..{b}");
        assert!(r.contains(&a) && r.contains(&b) && r.contains(&with_check("22000150")));
        assert!(!r.contains(&with_check("22000200")) && !r.contains(&with_check("22000099")));
        // A misread check digit is not a tube of the range.
        let mid = with_check("22000150");
        let wrong = format!(
            "{}{}",
            &mid[..mid.len() - 1],
            (mid.as_bytes()[mid.len() - 1] - b'0' + 1) % 10
        );
        assert!(!r.contains(&wrong), "{wrong}");
        // Ends whose check digits are wrong are refused.
        assert!(matches!(
            BarcodeRange::parse(&wrong, &b, true),
            Err(SupplyError::CheckDigit(..))
        ));
        assert!(matches!(
            BarcodeRange::parse("TB0100", "TB0199", true),
            Err(SupplyError::CheckDigit(..))
        ));
        assert_eq!(
            tube_issue_quantity(&TubeIssue::Range(r), Some(100)),
            Ok(100)
        );
    }

    #[test]
    fn batches_and_quantities() {
        let b = TubeIssue::batch(" lot22a ").unwrap();
        assert!(b.contains("LOT22A000123") && !b.contains("LOT22B000123"));
        assert!(TubeIssue::batch("L").is_err());
        assert!(TubeIssue::batch("LOT-1").is_err());
        assert_eq!(tube_issue_quantity(&b, Some(500)), Ok(500));
        assert_eq!(tube_issue_quantity(&b, None), Err(SupplyError::Quantity));
        let r = TubeIssue::Range(BarcodeRange::parse("TB0100", "TB0119", false).unwrap());
        assert_eq!(tube_issue_quantity(&r, None), Ok(20));
        assert_eq!(
            tube_issue_quantity(&r, Some(30)),
            Err(SupplyError::QuantityDiffers {
                range: 20,
                quantity: 30
            })
        );
        assert!(issued(&[b.clone(), r.clone()], "TB0105"));
        assert!(!issued(&[b, r], "TB0120"));
        assert!(!issued(&[], "TB0105"));
    }

    #[test]
    fn bag_capacity_rule() {
        let tubes: Vec<String> = (0..21).map(|i| format!("T{i:04}")).collect();
        assert_eq!(check_packing(&tubes[..20], Some(20)), Ok(()));
        assert_eq!(
            check_packing(&tubes, Some(DEFAULT_BAG_CAPACITY)),
            Err(PackError::OverCapacity {
                capacity: 20,
                tubes: 21
            })
        );
        assert_eq!(check_packing(&tubes[..10], Some(10)), Ok(()));
        assert_eq!(check_packing(&tubes, None), Ok(()), "boxes have no cap");
        assert_eq!(check_packing(&[], Some(20)), Err(PackError::Empty));
        let twice = vec!["T1".to_string(), "T2".into(), "T1".into()];
        assert_eq!(
            check_packing(&twice, Some(20)),
            Err(PackError::Twice("T1".into()))
        );
        assert_eq!(check_capacity(0), Err(PackError::BadCapacity));
        assert_eq!(check_capacity(20), Ok(20));
        assert_eq!(
            check_capacity(MAX_BAG_CAPACITY + 1),
            Err(PackError::BadCapacity)
        );
    }

    fn t(tubes: i64, people: i64) -> Tally {
        Tally { tubes, people }
    }

    /// One point, two bags in one box, handed over and received, all counts right.
    fn good_chain() -> Chain {
        Chain {
            points: vec![PointLink {
                left_open: Tally::default(),
                unbagged: Vec::new(),
                left_open_tubes: Vec::new(),
                point: "P1".into(),
                closed: t(3, 25),
                open_tubes: 1,
            }],
            bags: vec![
                BagLink {
                    barcode: "BAG1".into(),
                    point: "P1".into(),
                    system: t(2, 20),
                    counted_tubes: 2,
                    in_box: Some("BOX1".into()),
                },
                BagLink {
                    barcode: "BAG2".into(),
                    point: "P1".into(),
                    system: t(1, 5),
                    counted_tubes: 1,
                    in_box: Some("BOX1".into()),
                },
            ],
            boxes: vec![BoxLink {
                barcode: "BOX1".into(),
                point: "P1".into(),
                counted_bags: 2,
                counted_tubes: 3,
                handoff: Some("H1".into()),
                receipt: Some("R1".into()),
                lab_tubes: None,
                handed_after_receipt: false,
            }],
            handoffs: vec![HandOffLink {
                id: "H1".into(),
                point: "P1".into(),
                counted_boxes: 1,
                counted_tubes: 3,
                counted_people: Some(25),
            }],
            receipts: vec![ReceiptLink {
                id: "R1".into(),
                counted_boxes: Some(1),
                counted_tubes: 3,
                counted_people: None,
            }],
        }
    }

    #[test]
    fn a_lab_receipts_break_names_its_boxes_and_their_point() {
        let mut c = good_chain();
        c.receipts[0].counted_tubes = 2;
        let m = reconcile(&c);
        assert_eq!(m.len(), 1, "{m:?}");
        assert_eq!(
            (m[0].kind, m[0].point.as_deref(), m[0].items.clone()),
            ("receipt", Some("P1"), vec!["BOX1".to_string()])
        );
    }

    #[test]
    fn the_labs_count_of_one_box_names_that_box() {
        let mut c = good_chain();
        c.boxes[0].lab_tubes = Some(3);
        assert_eq!(reconcile(&c), vec![], "the box's own count agrees");
        c.boxes[0].lab_tubes = Some(2);
        let m = reconcile(&c);
        assert_eq!(m.len(), 1, "{m:?}");
        assert_eq!(
            (
                m[0].step,
                m[0].kind,
                m[0].at.as_str(),
                m[0].expected,
                m[0].found
            ),
            (Step::Lab, "box", "BOX1", 3, 2)
        );
        // A box not received yet is not checked at the lab.
        c.boxes[0].receipt = None;
        assert!(reconcile(&c)
            .iter()
            .all(|m| m.kind != "box" || m.step != Step::Lab));
    }

    #[test]
    fn a_matching_chain_has_no_mismatch() {
        let c = good_chain();
        assert_eq!(reconcile(&c), vec![]);
        let s = totals(&c);
        assert_eq!(s[0].received, t(3, 25));
        assert_eq!(s[0].open_tubes, 1);
        assert_eq!((s[0].bags, s[0].boxes, s[0].boxes_received), (2, 1, 1));
    }

    #[test]
    fn a_tube_left_open_with_swabs_after_sampling_breaks_at_the_point() {
        let mut c = good_chain();
        c.points[0].left_open = t(1, 3);
        c.points[0].left_open_tubes = vec![("T9".into(), 3)];
        let m = reconcile(&c);
        assert_eq!(m.len(), 2, "{m:?}");
        assert!(m
            .iter()
            .all(|m| m.step == Step::Point && m.at == "P1" && m.expected == 0));
        assert_eq!((m[0].measure, m[0].found), (Measure::Tubes, 1));
        assert_eq!((m[1].measure, m[1].found), (Measure::People, 3));
        assert!(m[0].note.contains("still open"));
        // The break names the tube left open, with the swabs in it.
        assert!(
            m.iter().all(|m| m.items == ["T9"] && m.item_swabs == [3]),
            "{m:?}"
        );
    }

    #[test]
    fn the_labs_box_counts_and_its_total_must_agree() {
        // Every box counted on its own: the total is their sum.
        assert_eq!(check_lab_counts(2, &[3, 4], 7), Ok(()));
        assert_eq!(
            check_lab_counts(1, &[3], 2),
            Err(PackError::LabTotalDiffers {
                per_box: 3,
                total: 2
            })
        );
        assert_eq!(
            check_lab_counts(2, &[3, 4], 8),
            Err(PackError::LabTotalDiffers {
                per_box: 7,
                total: 8
            })
        );
        // Some boxes counted on their own: never more than the total.
        assert_eq!(check_lab_counts(3, &[3, 4], 9), Ok(()));
        assert_eq!(
            check_lab_counts(3, &[3, 4], 6),
            Err(PackError::LabTotalBelowBoxes {
                per_box: 7,
                total: 6
            })
        );
        assert_eq!(check_lab_counts(2, &[], 5), Ok(()), "none counted alone");
        let text = PackError::LabTotalDiffers {
            per_box: 3,
            total: 2,
        }
        .to_string();
        assert!(
            text.starts_with("逐箱清点的管数合计为 3，实验室清点管数却为 2")
                && text.contains("add up to 3, the total says 2"),
            "{text}"
        );
    }

    #[test]
    fn a_short_hand_over_sheet_breaks_at_the_hand_off() {
        let mut c = good_chain();
        c.handoffs[0].counted_tubes = 2;
        let m = reconcile(&c);
        assert_eq!(m.len(), 1, "{m:?}");
        assert_eq!(
            (m[0].step, m[0].kind, m[0].at.as_str(), m[0].measure),
            (Step::HandOff, "handoff", "H1", Measure::Tubes)
        );
        assert_eq!((m[0].expected, m[0].found, m[0].diff), (3, 2, -1));
    }

    /// A chain whose point P1 sealed T4 (at 200) and has it in no bag, its
    /// bag BAG3 (packed at 300) in no box and box BOX2 (packed at 400) not
    /// handed over; H1 was handed over at `handed`.
    fn waiting_chain(handed: i64) -> (Chain, Made) {
        let mut c = good_chain();
        c.points[0].closed = t(5, 31);
        c.points[0].unbagged = vec!["T4".into()];
        c.bags.push(BagLink {
            barcode: "BAG3".into(),
            point: "P1".into(),
            system: t(1, 1),
            counted_tubes: 1,
            in_box: None,
        });
        c.boxes.push(BoxLink {
            barcode: "BOX2".into(),
            point: "P1".into(),
            counted_bags: 0,
            counted_tubes: 0,
            handoff: None,
            receipt: None,
            lab_tubes: None,
            handed_after_receipt: false,
        });
        let made = Made {
            tubes: HashMap::from([("T4".to_string(), 200)]),
            bags: HashMap::from([("BAG3".to_string(), 300)]),
            boxes: HashMap::from([("BOX2".to_string(), 400)]),
            handoffs: HashMap::from([("P1".to_string(), vec![50, handed])]),
        };
        (c, made)
    }

    #[test]
    fn mid_round_what_waits_for_the_next_step_is_on_its_way_not_a_break() {
        let (c, made) = waiting_chain(100);
        let found = reconcile(&c);
        let steps: Vec<Step> = found.iter().map(|m| m.step).collect();
        assert!(
            steps.contains(&Step::Bag)
                && steps.contains(&Step::Box)
                && steps.contains(&Step::HandOff),
            "{found:?}"
        );
        let (breaks, waiting) = split_on_its_way(found.clone(), Stage::Sampling, &made);
        assert!(breaks.is_empty(), "{breaks:?}");
        assert_eq!(waiting, found);
        // Once sampling is over, the same counts are breaks.
        for stage in [Stage::Packing, Stage::Done] {
            let (breaks, waiting) = split_on_its_way(found.clone(), stage, &made);
            assert!(waiting.is_empty(), "{stage:?}: {waiting:?}");
            assert_eq!(breaks, found);
        }
    }

    #[test]
    fn what_a_later_hand_over_left_behind_is_a_break_mid_round() {
        // Handed over at 250: T4 (sealed at 200) was left behind; BAG3 and
        // BOX2 were packed after it and wait for the next transporter.
        let (c, made) = waiting_chain(250);
        let (breaks, waiting) = split_on_its_way(reconcile(&c), Stage::Sampling, &made);
        assert!(!breaks.is_empty());
        assert!(
            breaks
                .iter()
                .all(|m| m.step == Step::Bag && m.items == ["T4"]),
            "{breaks:?}"
        );
        assert!(waiting.iter().all(|m| m.step != Step::Bag), "{waiting:?}");
        assert!(waiting.iter().any(|m| m.step == Step::Box));
        // At 500 all three were left behind.
        let (c, made) = waiting_chain(500);
        let (breaks, waiting) = split_on_its_way(reconcile(&c), Stage::Sampling, &made);
        assert!(waiting.is_empty(), "{waiting:?}");
        assert_eq!(breaks.len(), reconcile(&c).len());
        // A tube whose sealing time is unknown counts as left behind.
        let (c, mut made) = waiting_chain(100);
        made.tubes.clear();
        let (breaks, _) = split_on_its_way(reconcile(&c), Stage::Sampling, &made);
        assert!(breaks.iter().all(|m| m.step == Step::Bag) && !breaks.is_empty());
    }

    #[test]
    fn a_count_over_what_the_step_before_holds_is_always_a_break() {
        let mut c = good_chain();
        c.bags[0].counted_tubes = 3;
        let (breaks, waiting) = split_on_its_way(reconcile(&c), Stage::Sampling, &Made::default());
        assert!(waiting.is_empty());
        assert_eq!(breaks.len(), 1);
        // A packer's count short of the system is a break too: it is no step
        // still to be taken.
        let mut c = good_chain();
        c.bags[0].counted_tubes = 1;
        let (breaks, waiting) = split_on_its_way(reconcile(&c), Stage::Sampling, &Made::default());
        assert!(waiting.is_empty() && breaks.len() == 1, "{breaks:?}");
    }

    #[test]
    fn a_hand_over_is_in_transit_until_the_lab_receives_part_of_it_or_results_are_in() {
        let mut c = good_chain();
        c.boxes[0].receipt = None;
        c.receipts.clear();
        let found = reconcile(&c);
        assert!(found
            .iter()
            .all(|m| m.kind == "handoff" && m.step == Step::Lab));
        assert!(!found.is_empty());
        for stage in [Stage::Sampling, Stage::Packing] {
            let (breaks, waiting) = split_on_its_way(found.clone(), stage, &Made::default());
            assert!(breaks.is_empty(), "{stage:?}");
            assert_eq!(waiting.len(), found.len());
        }
        let (breaks, _) = split_on_its_way(found.clone(), Stage::Done, &Made::default());
        assert_eq!(breaks.len(), found.len());
        // Two boxes handed over, one received: the other is missing.
        let mut c = good_chain();
        c.boxes.push(BoxLink {
            barcode: "BOX9".into(),
            handoff: Some("H1".into()),
            receipt: None,
            ..c.boxes[0].clone()
        });
        c.handoffs[0].counted_boxes = 2;
        let (breaks, waiting) = split_on_its_way(reconcile(&c), Stage::Sampling, &Made::default());
        assert!(waiting.is_empty(), "{waiting:?}");
        assert!(breaks
            .iter()
            .any(|m| m.kind == "handoff" && m.step == Step::Lab && m.items == ["BOX9"]));
    }

    #[test]
    fn stage_follows_the_round_state() {
        assert_eq!(Stage::of_round("planned"), Stage::Sampling);
        assert_eq!(Stage::of_round("open"), Stage::Sampling);
        assert_eq!(Stage::of_round("sampling_closed"), Stage::Packing);
        assert_eq!(Stage::of_round("results_complete"), Stage::Done);
        assert_eq!(Stage::of_round("closed"), Stage::Done);
    }

    #[test]
    fn each_break_is_found_where_it_happens() {
        // A closed tube never bagged: the bag step at the point, tubes and people.
        let mut c = good_chain();
        c.points[0].closed = t(4, 30);
        c.points[0].unbagged = vec!["T4".into()];
        let m = reconcile(&c);
        assert_eq!(m.len(), 2, "{m:?}");
        assert!(m
            .iter()
            .all(|x| x.step == Step::Bag && x.kind == "point" && x.diff < 0));
        assert_eq!(m[1].measure, Measure::People);
        assert_eq!(m[1].diff, -5);
        assert!(m.iter().all(|x| x.items == ["T4"]), "named: {m:?}");

        // A packer who counted 3 tubes into a 2-tube bag.
        let mut c = good_chain();
        c.bags[0].counted_tubes = 3;
        let m = reconcile(&c);
        assert_eq!(m.len(), 1);
        assert_eq!(
            (m[0].step, m[0].at.as_str(), m[0].diff),
            (Step::Bag, "BAG1", 1)
        );

        // A bag left out of the box: the box step at the point, and the box's own counts.
        let mut c = good_chain();
        c.bags[1].in_box = None;
        let m = reconcile(&c);
        assert_eq!(m[0].items, ["BAG2"], "the bag in no box, named");
        let steps: Vec<_> = m.iter().map(|x| (x.step, x.kind, x.measure)).collect();
        assert_eq!(
            steps[..4],
            [
                (Step::Box, "point", Measure::Tubes),
                (Step::Box, "point", Measure::People),
                (Step::Box, "box", Measure::Bags),
                (Step::Box, "box", Measure::Tubes),
            ]
        );
        // Downstream the physical counts (3 tubes) keep disagreeing with the
        // system (2): each later step says so too.
        assert!(m[4..]
            .iter()
            .all(|x| x.step > Step::Box && x.kind != "point"));
        // The box counted 2 bags but holds 1: +1 found.
        assert_eq!(m[2].diff, 1);

        // A box handed over but never received.
        let mut c = good_chain();
        c.boxes[0].receipt = None;
        c.receipts.clear();
        let m = reconcile(&c);
        assert!(
            m.iter().all(|x| x.step == Step::Lab && x.at == "H1"),
            "{m:?}"
        );
        assert_eq!(m.len(), 3);

        // The lab counts one tube fewer than the system: the receipt, with
        // the point its one box came from.
        let mut c = good_chain();
        c.receipts[0].counted_tubes = 2;
        let m = reconcile(&c);
        assert_eq!(m.len(), 1);
        assert_eq!(
            (m[0].step, m[0].kind, m[0].point.as_deref()),
            (Step::Lab, "receipt", Some("P1"))
        );

        // A box received with no hand-over.
        let mut c = good_chain();
        c.boxes[0].handoff = None;
        c.handoffs.clear();
        let m = reconcile(&c);
        assert!(m.iter().all(|x| x.step == Step::HandOff), "{m:?}");
        assert!(m.iter().any(|x| x.kind == "box" && x.at == "BOX1"));

        // Its hand-over entered after the receipt does not make the hole go
        // away: the box is still named, with what happened.
        let mut c = good_chain();
        c.boxes[0].handed_after_receipt = true;
        let m = reconcile(&c);
        assert_eq!(m.len(), 1, "{m:?}");
        assert_eq!(
            (m[0].step, m[0].kind, m[0].at.as_str()),
            (Step::HandOff, "box", "BOX1")
        );
        assert!(m[0].note.contains("after the lab received"), "{m:?}");
    }

    #[test]
    fn mismatches_come_in_chain_order() {
        let mut c = good_chain();
        c.receipts[0].counted_tubes = 1;
        c.bags[0].counted_tubes = 1;
        c.boxes[0].counted_tubes = 4;
        let m = reconcile(&c);
        let steps: Vec<Step> = m.iter().map(|x| x.step).collect();
        let mut sorted = steps.clone();
        sorted.sort();
        assert_eq!(steps, sorted);
        assert_eq!(steps, vec![Step::Bag, Step::Box, Step::Lab]);
    }

    #[test]
    fn a_batch_overlaps_a_range_holding_a_barcode_it_starts() {
        let range = |a: &str, b: &str, luhn: bool| {
            TubeIssue::Range(BarcodeRange::parse(a, b, luhn).unwrap())
        };
        let batch = |b: &str| TubeIssue::batch(b).unwrap();
        let r = range("GZ2026000001", "GZ2026000100", false);
        for (b, overlaps) in [
            ("GZ", true),
            ("GZ2026", true),
            ("GZ20260001", true),
            ("GZ2026000100", true),
            ("GZ2026000101", false),
            ("GZ2026001", false),
            ("GZ2027", false),
            ("HB777", false),
            ("GZ2026X", false),
        ] {
            assert_eq!(r.overlaps(&batch(b)), overlaps, "{b}");
            assert_eq!(batch(b).overlaps(&r), overlaps, "{b}");
        }
        assert!(batch("HB77").overlaps(&batch("HB777")));
        assert!(batch("HB777").overlaps(&batch("HB77")));
        assert!(!batch("HB777").overlaps(&batch("HB778")));
        // With a Luhn check digit: into the check digit only the range's own.
        let first = format!("1000000{}", check_of("1000000"));
        let last = format!("1000009{}", check_of("1000009"));
        let l = range(&first, &last, true);
        assert!(l.overlaps(&batch("100000")));
        assert!(l.overlaps(&batch(&first)));
        let wrong = format!("1000000{}", (check_of("1000000") + 1) % 10);
        assert!(!l.overlaps(&batch(&wrong)));
        assert!(!l.overlaps(&batch("100001")));
    }

    fn check_of(body: &str) -> u32 {
        (0..10)
            .find(|d| crate::testing::luhn_ok(&format!("{body}{d}")))
            .unwrap()
    }

    #[test]
    fn kinds_round_trip() {
        for k in SupplyKind::ALL {
            assert_eq!(SupplyKind::from_code(k.code()), Some(k));
        }
        assert_eq!(SupplyKind::from_code("masks"), None);
    }
}
