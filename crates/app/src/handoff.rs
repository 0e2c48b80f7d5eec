//! Supplies, packing, hand-off and lab receipt, and the count reconciliation
//! (数据统计校对): what each person counted is stored beside what the system
//! holds, and the report lists every count that does not match with the step
//! where it broke.

use std::collections::{BTreeMap, HashMap};

use gw_domain::access::Action;
use gw_domain::handoff::{
    self as rules, BagLink, BarcodeRange, BoxLink, Chain, HandOffLink, Mismatch, PointLink,
    ReceiptLink, StepTotals, SupplyKind, Tally, TubeIssue,
};
use gw_domain::ids::Key;
use gw_domain::testing::{BarcodeRule, TubeBarcode};
use gw_store::handoff::{ChainRows, HandOffWrite, ReceiptWrite, SupplyRow, SupplyWrite};
use gw_store::{Store, StoreError};
use serde::Serialize;

use crate::access::{self, AuthError, Principal};
use crate::testing::point_place;
use crate::Clock;

fn invalid(e: impl std::fmt::Display) -> AuthError {
    AuthError::Invalid(e.to_string())
}

/// A bag's or box's label, or (with the street's rule) a tube's barcode.
fn barcode_by(rule: &BarcodeRule, raw: &str) -> Result<String, AuthError> {
    TubeBarcode::parse(raw, rule)
        .map(|b| b.as_str().to_string())
        .map_err(|e| AuthError::Invalid(format!("{}: {e}", raw.trim())))
}

/// A bag's or box's label: printed for the packing, not under the street's
/// tube rule, so any 4 to 40 letters or digits (`BOX1A01`).
fn barcode(raw: &str) -> Result<String, AuthError> {
    barcode_by(&BarcodeRule::lookup(), raw)
}

fn barcodes_by(rule: &BarcodeRule, raw: &[String]) -> Result<Vec<String>, AuthError> {
    raw.iter().map(|b| barcode_by(rule, b)).collect()
}

fn barcodes(raw: &[String]) -> Result<Vec<String>, AuthError> {
    barcodes_by(&BarcodeRule::lookup(), raw)
}

/// More than any bag, box, hand-over or lab receipt holds: a count over it
/// is a typing slip (a barcode typed into a count field).
pub const MAX_COUNT: i64 = 1_000_000;

/// A count entered by hand; `what` is `(中文, English)`.
fn count(n: i64, what: (&str, &str)) -> Result<i64, AuthError> {
    let (zh, en) = what;
    if n < 0 {
        return Err(AuthError::Invalid(format!(
            "{zh}不能为负数 / {en} cannot be negative"
        )));
    }
    if n > MAX_COUNT {
        return Err(AuthError::Invalid(format!(
            "{zh}超过 {MAX_COUNT}，请核对 / {en} over {MAX_COUNT}: check it"
        )));
    }
    Ok(n)
}

/// Refuses with every problem found, one line per barcode.
fn refuse(problems: Vec<String>) -> Result<(), AuthError> {
    if problems.is_empty() {
        Ok(())
    } else {
        Err(AuthError::Invalid(problems.join("\n")))
    }
}

/// The tube issues of supply rows; `check_digit`: the street's tube barcodes
/// end in a Luhn check digit.
fn tube_issues(rows: &[SupplyRow], check_digit: bool) -> Vec<TubeIssue> {
    rows.iter()
        .filter(|r| r.kind == SupplyKind::Tubes.code())
        .filter_map(|r| match (&r.first_barcode, &r.last_barcode, &r.batch) {
            // Under the street's rule, else as numbers (a range issued
            // before the street took a check digit).
            (Some(a), Some(b), _) => BarcodeRange::parse(a, b, check_digit)
                .or_else(|_| BarcodeRange::parse(a, b, false))
                .ok()
                .map(TubeIssue::Range),
            (_, _, Some(batch)) => TubeIssue::batch(batch).ok(),
            _ => None,
        })
        .collect()
}

// ----- supplies -------------------------------------------------------------------

/// Supplies handed to a point, as the issuer enters them.
#[derive(Debug, Clone, Default)]
pub struct NewSupply<'a> {
    pub kind: &'a str,
    pub quantity: Option<u64>,
    /// Tubes by barcode range: first and last barcode.
    pub range: Option<(&'a str, &'a str)>,
    /// Tubes by batch: the batch code their barcodes start with.
    pub batch: Option<&'a str>,
    /// Who took them at the point.
    pub received_by: &'a str,
}

#[derive(Debug, Clone, Serialize)]
pub struct SupplyView {
    pub id: String,
    pub point: String,
    pub kind: String,
    pub kind_zh: &'static str,
    pub quantity: i64,
    pub first_barcode: Option<String>,
    pub last_barcode: Option<String>,
    pub batch: Option<String>,
    pub received_by: String,
    pub issued_by: String,
    pub issued_ms: i64,
}

fn supply_view(street: i64, r: SupplyRow) -> SupplyView {
    let kind_zh = SupplyKind::from_code(&r.kind).map_or("", SupplyKind::label_zh);
    SupplyView {
        id: Key { street, id: r.id }.to_string(),
        point: Key {
            street,
            id: r.point_id,
        }
        .to_string(),
        kind: r.kind,
        kind_zh,
        quantity: r.quantity,
        first_barcode: r.first_barcode,
        last_barcode: r.last_barcode,
        batch: r.batch,
        received_by: r.received_by,
        issued_by: r.issued_by,
        issued_ms: r.issued_ms,
    }
}

/// Records supplies issued to a point: tubes by barcode range or batch, kits,
/// protective gear, with their quantity.
pub async fn issue_supplies(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    point: Key,
    s: &NewSupply<'_>,
) -> Result<SupplyView, AuthError> {
    let pt = store.point(point.street, point.id).await?;
    access::authorize(
        p,
        clock,
        Action::IssueSupplies,
        &point_place(store, &pt).await?,
    )?;
    let kind = SupplyKind::from_code(s.kind).ok_or_else(|| {
        AuthError::Invalid(format!(
            "物资种类应为 tubes / kits / protective_gear（采样管、试剂盒、防护用品）/ kind must be tubes, kits or protective_gear, not {}",
            s.kind
        ))
    })?;
    let issue = match (kind, s.range, s.batch) {
        (SupplyKind::Tubes, Some((a, b)), None) => {
            // Both ends must be tube barcodes of the street.
            let rule = crate::testing::settings_of(store, point.street).await?.tube;
            for end in [a, b] {
                gw_domain::testing::TubeBarcode::parse(end, &rule).map_err(|e| {
                    AuthError::Invalid(format!("{}: {e}", gw_domain::text::squeeze(end)))
                })?;
            }
            Some(TubeIssue::Range(
                BarcodeRange::parse(a, b, rule.luhn).map_err(invalid)?,
            ))
        }
        (SupplyKind::Tubes, None, Some(batch)) => {
            let issue = TubeIssue::batch(batch).map_err(invalid)?;
            // A batch code no barcode of the street can start with would
            // leave every tube of it "not issued".
            let rule = crate::testing::settings_of(store, point.street).await?.tube;
            if let TubeIssue::Batch { batch } = &issue {
                if rule.luhn && !batch.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(AuthError::Invalid(format!(
                        "批次 {batch}：本街道的采样管条码带 Luhn 校验位，只有数字，没有条码能以此开头 / batch {batch}: this street's tube barcodes carry a Luhn check digit and are digits only, so none can start with it"
                    )));
                }
                if batch.len() >= rule.max_len {
                    return Err(AuthError::Invalid(format!(
                        "批次 {batch} 不短于条码最大长度 {} 位，没有条码能以此开头 / batch {batch} is no shorter than the longest barcode ({} characters): none can start with it",
                        rule.max_len, rule.max_len
                    )));
                }
            }
            Some(issue)
        }
        (SupplyKind::Tubes, _, _) => {
            return Err(invalid(rules::SupplyError::TubesNeedRangeOrBatch))
        }
        (_, None, None) => None,
        _ => return Err(invalid(rules::SupplyError::NotTubes)),
    };
    let quantity = match &issue {
        Some(i) => rules::tube_issue_quantity(i, s.quantity).map_err(invalid)?,
        None => match s.quantity {
            Some(q) if q > 0 => q,
            _ => return Err(invalid(rules::SupplyError::Quantity)),
        },
    };
    let (first, last, batch) = match &issue {
        Some(TubeIssue::Range(r)) => (Some(r.first.as_str()), Some(r.last.as_str()), None),
        Some(TubeIssue::Batch { batch }) => (None, None, Some(batch.as_str())),
        None => (None, None, None),
    };
    let quantity = i64::try_from(quantity).map_err(|_| invalid(rules::SupplyError::Quantity))?;
    let actor = p.actor();
    let now = clock.now_ms();
    // A tube belongs to one point: a range given out already (in part) is
    // refused, naming where it went, and so is a batch sharing barcodes with
    // another point's range or batch (the same batch delivered to one point
    // in two lots is one issue); checked in the issue's transaction.
    let here = pt.id;
    let luhn = crate::testing::settings_of(store, point.street)
        .await?
        .tube
        .luhn;
    // The round's points by name, for a refusal inside the transaction.
    let names: std::collections::HashMap<i64, String> = store
        .points_with_counts(point.street, pt.round_id)
        .await?
        .into_iter()
        .map(|(p, _)| (p.id, p.name))
        .collect();
    let no_overlap = |issued: &[SupplyRow]| -> Result<(), StoreError> {
        let Some(new) = &issue else {
            return Ok(());
        };
        for row in issued {
            let Some(had) = tube_issues(std::slice::from_ref(row), luhn).pop() else {
                continue;
            };
            let both_ranges = matches!((new, &had), (TubeIssue::Range(_), TubeIssue::Range(_)));
            if (both_ranges || row.point_id != here) && had.overlaps(new) {
                let ((nz, ne), (hz, he)) = (new.describe(), had.describe());
                let at = point_label(
                    point.street,
                    row.point_id,
                    names.get(&row.point_id).map(String::as_str),
                );
                return Err(StoreError::Conflict(format!(
                    "{nz} 与已发给采样点{at}的 {hz} 有相同条码 / {ne} shares barcodes with {he}, issued to point {at}: a tube belongs to one point"
                )));
            }
        }
        Ok(())
    };
    let id = store
        .insert_supply(
            &SupplyWrite {
                street: point.street,
                round: pt.round_id,
                point: pt.id,
                kind: kind.code(),
                quantity,
                first_barcode: first,
                last_barcode: last,
                batch,
                received_by: s.received_by.trim(),
                issued_by: &actor,
                now_ms: now,
            },
            no_overlap,
            &access::audit_record(
                clock,
                p,
                "issue_supplies",
                (point.street, "point", &point.to_string()),
                &format!("kind={} quantity={quantity}", kind.code()),
            ),
        )
        .await?;
    Ok(SupplyView {
        id: Key {
            street: point.street,
            id,
        }
        .to_string(),
        point: point.to_string(),
        kind: kind.code().into(),
        kind_zh: kind.label_zh(),
        quantity,
        first_barcode: first.map(String::from),
        last_barcode: last.map(String::from),
        batch: batch.map(String::from),
        received_by: s.received_by.trim().into(),
        issued_by: actor,
        issued_ms: now,
    })
}

/// Why a tube just opened at `point` was not issued to it, if the round
/// tracks tube supplies at all (a round with no tube issue recorded is not checked).
pub async fn issue_warning(
    store: &Store,
    street: i64,
    round: i64,
    point: i64,
    barcode: &str,
) -> Result<Option<String>, StoreError> {
    let rows = store.supplies(street, round, None).await?;
    if !rows.iter().any(|r| r.kind == SupplyKind::Tubes.code()) {
        return Ok(None);
    }
    let here: Vec<SupplyRow> = rows
        .iter()
        .filter(|r| r.point_id == point)
        .cloned()
        .collect();
    let luhn = crate::testing::settings_of(store, street).await?.tube.luhn;
    if rules::issued(&tube_issues(&here, luhn), barcode) {
        return Ok(None);
    }
    let elsewhere = rows
        .iter()
        .filter(|r| r.point_id != point)
        .find(|r| rules::issued(&tube_issues(std::slice::from_ref(r), luhn), barcode));
    Ok(Some(match elsewhere {
        Some(r) => {
            let at = point_named(store, street, r.point_id).await;
            format!(
                "采样管 {barcode} 发放给了采样点{at}，不是本点 / tube {barcode} was issued to point {at}, not this one"
            )
        }
        None => format!(
            "采样管 {barcode} 不在发放给本点的条码段或批次内 / tube {barcode} is in no range or batch issued to this point"
        ),
    }))
}

/// Whether `barcode` is in a tube range or batch issued to any point of the round.
pub async fn issued_in_round(
    store: &Store,
    street: i64,
    round: i64,
    barcode: &str,
) -> Result<bool, StoreError> {
    let luhn = crate::testing::settings_of(store, street).await?.tube.luhn;
    let rows = store.supplies(street, round, None).await?;
    Ok(rules::issued(&tube_issues(&rows, luhn), barcode))
}

/// What a label read where a person's code goes is, if it is one of the
/// round's: a tube's barcode (a tube opened in the round, under whatever
/// rule the street had then, or one issued to a point) or a bag's or box's
/// label. The refusal's words, `None` for anything else.
pub async fn label_in_round(
    store: &Store,
    street: i64,
    round: i64,
    code: &str,
) -> Result<Option<&'static str>, StoreError> {
    // The shape of any label: the street's rule may have changed since
    // the round's first tubes were opened.
    let Ok(barcode) = TubeBarcode::parse(code, &gw_domain::testing::BarcodeRule::lookup()) else {
        return Ok(None);
    };
    let barcode = barcode.as_str();
    const TUBE: &str = "这是采样管条码，不是个人码：请扫描此人的个人码或证件 / this is a tube barcode, not a person's code: scan the person's code or document";
    if store
        .tube_by_barcode(street, round, barcode)
        .await?
        .is_some()
    {
        return Ok(Some(TUBE));
    }
    if store.is_packing_label(street, round, barcode).await? {
        return Ok(Some("这是本轮一个袋或箱的标签，不是个人码：请扫描此人的个人码或证件 / this is a bag's or box's label in this round, not a person's code: scan the person's code or document"));
    }
    Ok(issued_in_round(store, street, round, barcode)
        .await?
        .then_some(TUBE))
}

/// A round's bag capacity as set, and the bags already holding more tubes
/// than it allows (they stay as they are: the rule is for bags sealed from
/// now on).
#[derive(Debug, Clone, Serialize)]
pub struct BagCapacity {
    pub capacity: u32,
    /// `(bag, tubes)` of the bags over the capacity.
    pub over: Vec<(String, i64)>,
}

/// Sets how many tubes go into one bag in a round (20 unless set).
pub async fn set_bag_capacity(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    round: Key,
    capacity: u32,
) -> Result<BagCapacity, AuthError> {
    let place = store.place_of(round.street, "street", round.street).await?;
    access::authorize(p, clock, Action::ManageRounds, &place)?;
    let c = rules::check_capacity(capacity).map_err(invalid)?;
    // Packing goes on after the close (a correction's retests travel the
    // chain too), but a closed round's rules are its record.
    if store.round(round.street, round.id).await?.state == "closed" {
        return Err(StoreError::Conflict(format!(
            "轮次 {round} 已结束，装袋数不再更改 / round {round} is closed: its bag capacity no longer changes"
        ))
        .into());
    }
    let audit = access::audit_record(
        clock,
        p,
        "set_bag_capacity",
        (round.street, "round", &round.to_string()),
        &format!("bag_capacity={c}"),
    );
    store
        .set_bag_capacity(round.street, round.id, c as i32, &audit)
        .await?;
    let over = store
        .chain(round.street, round.id)
        .await?
        .bags
        .into_iter()
        .filter(|b| b.tubes > i64::from(c))
        .map(|b| (b.barcode, b.tubes))
        .collect();
    Ok(BagCapacity { capacity: c, over })
}

// ----- packing --------------------------------------------------------------------

/// What a packing step answers: the system's count, the person's, and any mismatch.
#[derive(Debug, Clone, Serialize)]
pub struct Packed {
    pub id: String,
    pub barcode: String,
    pub bags: Option<i64>,
    pub boxes: Option<i64>,
    pub tubes: i64,
    pub people: i64,
    /// True when every count entered matches the system.
    pub counts_match: bool,
    pub mismatches: Vec<Mismatch>,
    /// Stored, but worth a look (a box at the lab that was never handed over).
    pub warnings: Vec<String>,
    /// The request repeated exactly what is stored (a double tap, a retried
    /// request): answered from the record, nothing written again.
    pub replay: bool,
}

/// A packing step's record, to answer from what is stored: a bag or box by
/// its label, a hand-over or a lab receipt by its id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record<'a> {
    Bag(&'a str),
    Box(&'a str),
    HandOff(i64),
    Receipt(i64),
}

/// A packing step of a point as stored, answered as when it was made (the
/// page a packing form leads to): a bag or box for whoever may pack at the
/// point, a hand-over for whoever may hand over there. NotFound when the
/// point has no such record.
pub async fn packed_at(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    point: Key,
    rec: Record<'_>,
) -> Result<Packed, AuthError> {
    let pt = store.point(point.street, point.id).await?;
    let action = match rec {
        Record::HandOff(_) => Action::HandOver,
        _ => Action::Pack,
    };
    access::authorize(p, clock, action, &point_place(store, &pt).await?)?;
    let rows = store.chain(point.street, pt.round_id).await?;
    let here = match rec {
        Record::Bag(l) => rows
            .bags
            .iter()
            .any(|b| b.barcode == l && b.point_id == pt.id),
        Record::Box(l) => rows
            .boxes
            .iter()
            .any(|x| x.barcode == l && x.point_id == pt.id),
        Record::HandOff(id) => rows
            .handoffs
            .iter()
            .any(|h| h.id == id && h.point_id == pt.id),
        Record::Receipt(_) => false,
    };
    here.then(|| answer_of(point.street, &rows, rec))
        .flatten()
        .ok_or_else(|| {
            let k = |id| Key {
                street: point.street,
                id,
            };
            let (zh, en) = match rec {
                Record::Bag(l) => (format!("袋 {l}"), format!("bag {l}")),
                Record::Box(l) => (format!("箱 {l}"), format!("box {l}")),
                Record::HandOff(id) | Record::Receipt(id) => {
                    (format!("交接单 {}", k(id)), format!("hand-over {}", k(id)))
                }
            };
            StoreError::NotFound(format!("本点没有{zh} / this point has no {en}")).into()
        })
}

/// A lab receipt of a round as stored, answered as when it was made (the
/// page the receipt form leads to), for whoever may receive there.
pub async fn receipt_at(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    round: Key,
    receipt: Key,
) -> Result<Packed, AuthError> {
    let place = store.place_of(round.street, "street", round.street).await?;
    access::authorize(p, clock, Action::Receive, &place)?;
    let rows = store.chain(round.street, round.id).await?;
    (receipt.street == round.street)
        .then(|| answer_of(round.street, &rows, Record::Receipt(receipt.id)))
        .flatten()
        .ok_or_else(|| {
            StoreError::NotFound(format!(
                "本轮没有实验室接收单 {receipt} / no lab receipt {receipt} in this round"
            ))
            .into()
        })
}

/// Tubes and swabs of some bags, and how many bags.
fn bag_sums<'a>(bags: impl Iterator<Item = &'a gw_store::handoff::BagCount>) -> (i64, i64, i64) {
    bags.fold((0, 0, 0), |(n, t, p), b| (n + 1, t + b.tubes, p + b.people))
}

/// A box the lab received before its hand-over was recorded.
fn late_hand_over(barcode: &str) -> String {
    format!(
        "{barcode}: 实验室已先接收此箱，交接为补录，核对表将标出 / the lab received this box before this hand-over was recorded; the reconciliation will flag it"
    )
}

/// A box received with no hand-over recorded.
fn never_handed_over(barcode: &str) -> String {
    format!("{barcode}: 没有交接记录 / no hand-over was recorded for this box")
}

/// The answer a packing step gave, read back from the round's chain as
/// stored (a repeated request, the page a form leads to): the system's
/// counts, the record's breaks as the reconciliation finds them, its
/// warnings. `None` when the round has no such record.
fn answer_of(street: i64, rows: &ChainRows, rec: Record<'_>) -> Option<Packed> {
    use rules::Step;
    let pkey = |id: i64| Key { street, id }.to_string();
    let breaks = rules::reconcile(&chain_links(street, rows));
    let in_boxes = |boxes: &[&str]| {
        bag_sums(
            rows.bags
                .iter()
                .filter(|b| b.box_barcode.as_deref().is_some_and(|x| boxes.contains(&x))),
        )
    };
    let (id, barcode, bags, boxes, (tubes, people), mismatches, warnings) = match rec {
        Record::Bag(label) => {
            let b = rows.bags.iter().find(|b| b.barcode == label)?;
            let m = breaks
                .into_iter()
                .filter(|m| m.kind == "bag" && m.at == label)
                .collect();
            (b.id, label, None, None, (b.tubes, b.people), m, Vec::new())
        }
        Record::Box(label) => {
            let x = rows.boxes.iter().find(|x| x.barcode == label)?;
            let (n, t, pe) = in_boxes(&[label]);
            let m = breaks
                .into_iter()
                .filter(|m| m.kind == "box" && m.at == label && m.step == Step::Box)
                .collect();
            (x.id, label, Some(n), None, (t, pe), m, Vec::new())
        }
        Record::HandOff(id) => {
            rows.handoffs.iter().find(|h| h.id == id)?;
            let hid = pkey(id);
            let mine: Vec<&str> = rows
                .boxes
                .iter()
                .filter(|x| x.handoff_id == Some(id))
                .map(|x| x.barcode.as_str())
                .collect();
            let (_, t, pe) = in_boxes(&mine);
            let late: Vec<String> = breaks
                .iter()
                .filter(|m| {
                    m.kind == "box" && m.step == Step::HandOff && mine.contains(&m.at.as_str())
                })
                .map(|m| late_hand_over(&m.at))
                .collect();
            let m = breaks
                .into_iter()
                .filter(|m| m.kind == "handoff" && m.at == hid && m.step == Step::HandOff)
                .collect();
            (id, "", None, Some(mine.len() as i64), (t, pe), m, late)
        }
        Record::Receipt(id) => {
            rows.receipts.iter().find(|r| r.id == id)?;
            let rid = pkey(id);
            let mine: Vec<&gw_store::handoff::BoxCount> = rows
                .boxes
                .iter()
                .filter(|x| x.receipt_id == Some(id))
                .collect();
            let labels: Vec<&str> = mine.iter().map(|x| x.barcode.as_str()).collect();
            let (_, t, pe) = in_boxes(&labels);
            let m = breaks
                .into_iter()
                .filter(|m| {
                    (m.kind == "receipt" && m.at == rid)
                        || (m.kind == "box"
                            && matches!(m.step, Step::HandOff | Step::Lab)
                            && labels.contains(&m.at.as_str()))
                })
                .collect();
            let w = mine
                .iter()
                .filter(|x| x.handoff_id.is_none())
                .map(|x| never_handed_over(&x.barcode))
                .collect();
            (id, "", None, Some(mine.len() as i64), (t, pe), m, w)
        }
    };
    let mismatches: Vec<Mismatch> = mismatches;
    Some(Packed {
        id: pkey(id),
        barcode: barcode.to_string(),
        bags,
        boxes,
        tubes,
        people,
        counts_match: mismatches.is_empty(),
        mismatches,
        warnings,
        replay: false,
    })
}

/// [`answer_of`] for a request that repeated the record exactly.
fn replayed(street: i64, rows: &ChainRows, rec: Record<'_>) -> Option<Packed> {
    answer_of(street, rows, rec).map(|p| Packed { replay: true, ..p })
}

/// A bag asked for again as it is stored (the same label, point, tubes and
/// count): its answer, else `None`.
#[allow(clippy::too_many_arguments)]
async fn bag_replay(
    store: &Store,
    street: i64,
    round: i64,
    point: i64,
    bag: &str,
    codes: &[String],
    found: &[gw_store::handoff::PackTube],
    counted: i64,
) -> Result<Option<Packed>, StoreError> {
    let all_in = codes.iter().all(|c| {
        found
            .iter()
            .any(|t| &t.barcode == c && t.bag.as_deref() == Some(bag))
    });
    if codes.is_empty() || !all_in {
        return Ok(None);
    }
    let rows = store.chain(street, round).await?;
    let same = rows.bags.iter().any(|b| {
        b.barcode == bag
            && b.point_id == point
            && b.tubes == codes.len() as i64
            && b.counted_tubes == counted
    });
    Ok(if same {
        replayed(street, &rows, Record::Bag(bag))
    } else {
        None
    })
}

/// A box asked for again as it is stored (the same label, point, bags and
/// counts): its answer, else `None`.
#[allow(clippy::too_many_arguments)]
async fn box_replay(
    store: &Store,
    street: i64,
    round: i64,
    point: i64,
    box_code: &str,
    codes: &[String],
    found: &[gw_store::handoff::PackBag],
    counted: (i64, i64),
) -> Result<Option<Packed>, StoreError> {
    let all_in = codes.iter().all(|c| {
        found
            .iter()
            .any(|b| &b.barcode == c && b.box_barcode.as_deref() == Some(box_code))
    });
    if codes.is_empty() || !all_in {
        return Ok(None);
    }
    let rows = store.chain(street, round).await?;
    let inside = rows
        .bags
        .iter()
        .filter(|b| b.box_barcode.as_deref() == Some(box_code))
        .count();
    let same = inside == codes.len()
        && rows.boxes.iter().any(|x| {
            x.barcode == box_code
                && x.point_id == point
                && (x.counted_bags, x.counted_tubes) == counted
        });
    Ok(if same {
        replayed(street, &rows, Record::Box(box_code))
    } else {
        None
    })
}

/// Whether `label` is the barcode of a tube of the round (a bag or box label
/// scanned off a tube by mistake).
async fn is_tube_of_round(
    store: &Store,
    street: i64,
    round: i64,
    label: &str,
) -> Result<bool, StoreError> {
    Ok(store
        .tube_and_result_by_barcode(street, round, label)
        .await?
        .is_some())
}

/// Why `code`, scanned where a bag's label goes, is no bag of the round:
/// a box's label, a tube's barcode, or nothing of the round.
async fn not_a_bag(
    store: &Store,
    street: i64,
    round: i64,
    code: &str,
) -> Result<String, StoreError> {
    Ok(
        if !store
            .boxes_for_packing(street, round, &[code.to_string()])
            .await?
            .is_empty()
        {
            format!("{code}: 这是本轮一个箱的箱码，不是袋码 / that is a box's label in this round, not a bag's")
        } else if is_tube_of_round(store, street, round, code).await? {
            format!("{code}: 这是本轮一支采样管的条码，不是袋码：请扫袋上的条码 / that is a tube's barcode in this round, not a bag's label: scan the label on the bag")
        } else {
            format!("{code}: 本轮没有这个袋 / no such bag in this round")
        },
    )
}

/// Packs closed tubes into a sealed bag: the bag's barcode, then the tubes'
/// barcodes, then the number of tubes the packer counted. Over the round's bag
/// capacity, or any tube unknown, elsewhere, not closed or already bagged: refused,
/// nothing stored. A count that differs is stored and flagged.
pub async fn pack_bag(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    point: Key,
    bag: &str,
    tubes: &[String],
    counted: i64,
) -> Result<Packed, AuthError> {
    let pt = store.point(point.street, point.id).await?;
    access::authorize(p, clock, Action::Pack, &point_place(store, &pt).await?)?;
    let bag = barcode(bag)?;
    let codes = barcodes_by(&BarcodeRule::lookup(), tubes)?;
    let counted = count(counted, ("清点管数", "counted tubes"))?;
    let capacity = store.bag_capacity(point.street, pt.round_id).await?;
    rules::check_packing(&codes, Some(capacity.max(1) as u32)).map_err(invalid)?;
    // A label this point's tube shares with another point's (kept as
    // `BASE~POINT` when an offline station opened it here) means this
    // point's tube.
    let marked = |c: &String| format!("{c}~{}", pt.id);
    let asked: Vec<String> = codes
        .iter()
        .cloned()
        .chain(codes.iter().filter(|c| !c.contains('~')).map(marked))
        .collect();
    let found = store
        .tubes_for_packing(point.street, pt.round_id, &asked)
        .await?;
    let by_code: HashMap<&str, &gw_store::handoff::PackTube> =
        found.iter().map(|t| (t.barcode.as_str(), t)).collect();
    let codes: Vec<String> = codes
        .into_iter()
        .map(|c| {
            let m = marked(&c);
            if by_code.contains_key(m.as_str()) {
                m
            } else {
                c
            }
        })
        .collect();
    // The same bag sent again (a double tap, a retried request, a form
    // posted twice): answered from the record, nothing written twice.
    if let Some(p) = bag_replay(
        store,
        point.street,
        pt.round_id,
        pt.id,
        &bag,
        &codes,
        &found,
        counted,
    )
    .await?
    {
        return Ok(p);
    }
    let mut problems = Vec::new();
    // Bag and box labels share one printing: a box's label read as a bag's
    // would make a bag the chain never sees again.
    if !store
        .boxes_for_packing(point.street, pt.round_id, std::slice::from_ref(&bag))
        .await?
        .is_empty()
    {
        problems.push(format!(
            "{bag}: 这是本轮一个箱的箱码，不是袋码 / that is a box's label in this round, not a bag's"
        ));
    }
    if is_tube_of_round(store, point.street, pt.round_id, &bag).await? {
        problems.push(format!(
            "{bag}: 这是本轮一支采样管的条码，不是袋码 / that is a tube's barcode in this round, not a bag's label"
        ));
    }
    for c in &codes {
        match by_code.get(c.as_str()) {
            None => problems.push(format!(
                "{c}: 本轮没有这支采样管 / no such tube in this round"
            )),
            Some(t) if t.point_id != pt.id => {
                let at = point_named(store, point.street, t.point_id).await;
                problems.push(format!(
                    "{c}: 属于采样点{at}，不是本点 / belongs to point {at}, not this one"
                ))
            }
            Some(t) if t.bag.is_some() => problems.push(format!(
                "{c}: 已装入袋 {} / already in bag {}",
                t.bag.as_deref().unwrap_or(""),
                t.bag.as_deref().unwrap_or("")
            )),
            // A resulted tube the point never bagged: the lab has it, and the
            // bag's record is made after the fact (its count then matches).
            Some(t) if t.state != "closed" && t.state != "resulted" => problems.push(format!(
                "{c}: 采样管{}，须先封管 / the tube is {}; close it first",
                gw_domain::testing::TubeState::parse(&t.state)
                    .map_or(t.state.as_str(), |s| s.label_zh()),
                t.state.replace('_', " ")
            )),
            Some(_) => {}
        }
    }
    refuse(problems)?;
    let ids: Vec<i64> = codes
        .iter()
        .filter_map(|c| by_code.get(c.as_str()).map(|t| t.id))
        .collect();
    let id = match store
        .pack_bag(
            point.street,
            pt.round_id,
            pt.id,
            &bag,
            &ids,
            counted,
            &p.actor(),
            clock.now_ms(),
            &access::audit_record(
                clock,
                p,
                "pack_bag",
                (point.street, "point", &point.to_string()),
                &format!("bag={bag} tubes={} counted={counted}", ids.len()),
            ),
        )
        .await
    {
        Ok(id) => id,
        // The same bag sent twice at once: the first one made it.
        Err(e @ StoreError::Conflict(_)) => {
            let found = store
                .tubes_for_packing(point.street, pt.round_id, &codes)
                .await?;
            return match bag_replay(
                store,
                point.street,
                pt.round_id,
                pt.id,
                &bag,
                &codes,
                &found,
                counted,
            )
            .await?
            {
                Some(p) => Ok(p),
                None => Err(e.into()),
            };
        }
        Err(e) => return Err(e.into()),
    };
    let sys = store
        .bags_for_packing(point.street, pt.round_id, std::slice::from_ref(&bag))
        .await?;
    let (tubes_n, people) = sys.first().map_or((0, 0), |b| (b.tubes, b.people));
    let mismatches = step_checked(
        point,
        &bag,
        &[(
            bag.clone(),
            Tally {
                tubes: tubes_n,
                people,
            },
        )],
        Counting::Bag(counted),
    );
    Ok(Packed {
        id: Key {
            street: point.street,
            id,
        }
        .to_string(),
        barcode: bag,
        bags: None,
        boxes: None,
        tubes: tubes_n,
        people,
        counts_match: mismatches.is_empty(),
        mismatches,
        warnings: Vec::new(),
        replay: false,
    })
}

/// Packs sealed bags of a point into a transport box, with the bags and tubes
/// the packer counted (`counted = (bags, tubes)`).
pub async fn pack_box(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    point: Key,
    box_code: &str,
    bags: &[String],
    counted: (i64, i64),
) -> Result<Packed, AuthError> {
    let (counted_bags, counted_tubes) = counted;
    let pt = store.point(point.street, point.id).await?;
    access::authorize(p, clock, Action::Pack, &point_place(store, &pt).await?)?;
    let box_code = barcode(box_code)?;
    let codes = barcodes(bags)?;
    let counted_bags = count(counted_bags, ("清点袋数", "counted bags"))?;
    let counted_tubes = count(counted_tubes, ("清点管数", "counted tubes"))?;
    rules::check_packing(&codes, None).map_err(invalid)?;
    let found = store
        .bags_for_packing(point.street, pt.round_id, &codes)
        .await?;
    let by_code: HashMap<&str, &gw_store::handoff::PackBag> =
        found.iter().map(|b| (b.barcode.as_str(), b)).collect();
    // The same box sent again: answered from the record.
    if let Some(p) = box_replay(
        store,
        point.street,
        pt.round_id,
        pt.id,
        &box_code,
        &codes,
        &found,
        (counted_bags, counted_tubes),
    )
    .await?
    {
        return Ok(p);
    }
    let mut problems = Vec::new();
    if !store
        .bags_for_packing(point.street, pt.round_id, std::slice::from_ref(&box_code))
        .await?
        .is_empty()
    {
        problems.push(format!(
            "{box_code}: 这是本轮一个袋的袋码，不是箱码 / that is a bag's label in this round, not a box's"
        ));
    }
    if is_tube_of_round(store, point.street, pt.round_id, &box_code).await? {
        problems.push(format!(
            "{box_code}: 这是本轮一支采样管的条码，不是箱码 / that is a tube's barcode in this round, not a box's label"
        ));
    }
    for c in &codes {
        match by_code.get(c.as_str()) {
            None => problems.push(not_a_bag(store, point.street, pt.round_id, c).await?),
            Some(b) if b.point_id != pt.id => {
                let at = point_named(store, point.street, b.point_id).await;
                problems.push(format!(
                    "{c}: 属于采样点{at}，不是本点 / belongs to point {at}, not this one"
                ))
            }
            Some(b) if b.box_id.is_some() => {
                let x = b.box_barcode.as_deref().unwrap_or("");
                problems.push(format!("{c}: 已装入箱 {x} / already in box {x}"))
            }
            Some(_) => {}
        }
    }
    refuse(problems)?;
    let ids: Vec<i64> = found.iter().map(|b| b.id).collect();
    let (tubes_n, people) = found
        .iter()
        .fold((0, 0), |(t, pe), b| (t + b.tubes, pe + b.people));
    let id = match store
        .pack_box(
            point.street,
            pt.round_id,
            pt.id,
            &box_code,
            &ids,
            (counted_bags, counted_tubes),
            &p.actor(),
            clock.now_ms(),
            &access::audit_record(
                clock,
                p,
                "pack_box",
                (point.street, "point", &point.to_string()),
                &format!(
                    "box={box_code} bags={} tubes={tubes_n} counted_bags={counted_bags} counted_tubes={counted_tubes}",
                    ids.len()
                ),
            ),
        )
        .await
    {
        Ok(id) => id,
        // The same box sent twice at once: the first one made it.
        Err(e @ StoreError::Conflict(_)) => {
            let found = store
                .bags_for_packing(point.street, pt.round_id, &codes)
                .await?;
            return match box_replay(
                store,
                point.street,
                pt.round_id,
                pt.id,
                &box_code,
                &codes,
                &found,
                (counted_bags, counted_tubes),
            )
            .await?
            {
                Some(p) => Ok(p),
                None => Err(e.into()),
            };
        }
        Err(e) => return Err(e.into()),
    };
    let inside: Vec<(String, Tally)> = found
        .iter()
        .map(|b| {
            (
                b.barcode.clone(),
                Tally {
                    tubes: b.tubes,
                    people: b.people,
                },
            )
        })
        .collect();
    let mismatches = step_checked(
        point,
        &box_code,
        &inside,
        Counting::Box {
            bags: counted_bags,
            tubes: counted_tubes,
        },
    );
    Ok(Packed {
        id: Key {
            street: point.street,
            id,
        }
        .to_string(),
        barcode: box_code,
        bags: Some(ids.len() as i64),
        boxes: None,
        tubes: tubes_n,
        people,
        counts_match: mismatches.is_empty(),
        mismatches,
        warnings: Vec::new(),
        replay: false,
    })
}

/// The longest reason a recount or a correction keeps (characters).
pub const REASON_MAX: usize = 500;

/// A packer's recount of a bag or box still at the point (before its box
/// is handed over): the physical count typed at packing was wrong, or the
/// bag was counted again. `bags` is for a box (required there, refused for
/// a bag); `reason` is required. The old and new counts and the reason go
/// to the audit log; the answer is the packing step's, checked again.
#[allow(clippy::too_many_arguments)]
pub async fn recount(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    point: Key,
    label: &str,
    tubes: i64,
    bags: Option<i64>,
    reason: &str,
) -> Result<Packed, AuthError> {
    let pt = store.point(point.street, point.id).await?;
    access::authorize(p, clock, Action::Pack, &point_place(store, &pt).await?)?;
    let label = barcode(label)?;
    let tubes = count(tubes, ("清点管数", "counted tubes"))?;
    let bags = bags
        .map(|n| count(n, ("清点袋数", "counted bags")))
        .transpose()?;
    let reason = gw_domain::text::reason(reason, REASON_MAX).map_err(|e| match e {
        gw_domain::text::NoteError::Empty => invalid(
            "重新清点须写明原因（如：封袋时数错）/ a recount needs a reason (say: miscounted when sealing)",
        ),
        e => invalid(e),
    })?;
    let rows = store.chain(point.street, pt.round_id).await?;
    let bag = rows.bags.iter().find(|b| b.barcode == label);
    let boxed = rows.boxes.iter().find(|b| b.barcode == label);
    let at = match (bag.map(|b| b.point_id), boxed.map(|b| b.point_id)) {
        (None, None) => {
            let tube = store
                .tube_by_barcode(point.street, pt.round_id, &label)
                .await?;
            return Err(invalid(match tube {
                Some(_) => format!(
                    "{label}: 这是采样管条码，请重新清点它所在的袋 / that is a tube's barcode: recount the bag it is in"
                ),
                None => format!("{label}: 本轮没有这个袋或箱 / no such bag or box in this round"),
            }));
        }
        (Some(at), _) | (None, Some(at)) => at,
    };
    if at != pt.id {
        let at = point_named(store, point.street, at).await;
        return Err(invalid(format!(
            "{label}: 属于采样点{at}，不是本点 / belongs to point {at}, not this one"
        )));
    }
    let kind = if bag.is_some() { "bag" } else { "box" };
    match (kind, bags) {
        ("bag", Some(_)) => {
            return Err(invalid(format!(
                "{label} 是袋：只清点管数 / {label} is a bag: count its tubes only"
            )))
        }
        ("box", None) => {
            return Err(invalid(format!(
                "{label} 是箱：请填清点袋数和管数 / {label} is a box: give the bags and the tubes counted"
            )))
        }
        _ => {}
    }
    // Its record names the counts it had, read in the recount's transaction.
    let audit = access::audit_record(
        clock,
        p,
        "recount",
        (point.street, "point", &point.to_string()),
        "",
    );
    let (id, _, _) = store
        .recount(
            point.street,
            pt.round_id,
            &label,
            tubes,
            bags,
            |before_tubes, before_bags| {
                audit.with_detail(format!(
                    "{kind}={label} tubes={before_tubes}->{tubes}{} reason={reason}",
                    match (before_bags, bags) {
                        (Some(a), Some(b)) => format!(" bags={a}->{b}"),
                        _ => String::new(),
                    }
                ))
            },
        )
        .await?;
    // The step checked again with the new count, as packing checked it.
    let inside: Vec<(String, Tally)> = rows
        .bags
        .iter()
        .filter(|b| match bag {
            Some(_) => b.barcode == label,
            None => b.box_barcode.as_deref() == Some(label.as_str()),
        })
        .map(|b| {
            (
                b.barcode.clone(),
                Tally {
                    tubes: b.tubes,
                    people: b.people,
                },
            )
        })
        .collect();
    let mismatches = step_checked(
        point,
        &label,
        &inside,
        match bags {
            None => Counting::Bag(tubes),
            Some(n) => Counting::Box { bags: n, tubes },
        },
    );
    let (system_tubes, people) = inside
        .iter()
        .fold((0, 0), |(t, pe), (_, b)| (t + b.tubes, pe + b.people));
    Ok(Packed {
        id: Key {
            street: point.street,
            id,
        }
        .to_string(),
        barcode: label,
        bags: (kind == "box").then_some(inside.len() as i64),
        boxes: None,
        tubes: system_tubes,
        people,
        counts_match: mismatches.is_empty(),
        mismatches,
        warnings: Vec::new(),
        replay: false,
    })
}

/// What a packer counted at a packing step.
#[derive(Debug, Clone, Copy)]
enum Counting {
    /// The tubes in a bag.
    Bag(i64),
    /// The bags and the tubes in a box.
    Box { bags: i64, tubes: i64 },
}

/// One packing step checked as the reconciliation checks it: bag or box
/// `label` of `point`, holding `bags` (each with what the system holds; a
/// bag's own counts are taken as right inside a box), against what the
/// packer counted. The mismatches of that bag or box only.
fn step_checked(
    point: Key,
    label: &str,
    bags: &[(String, Tally)],
    counting: Counting,
) -> Vec<Mismatch> {
    let (kind, in_box) = match counting {
        Counting::Bag(_) => ("bag", None),
        Counting::Box { .. } => ("box", Some(label.to_string())),
    };
    let chain = Chain {
        bags: bags
            .iter()
            .map(|(barcode, system)| BagLink {
                barcode: barcode.clone(),
                point: point.to_string(),
                system: *system,
                counted_tubes: match counting {
                    Counting::Bag(n) => n,
                    Counting::Box { .. } => system.tubes,
                },
                in_box: in_box.clone(),
            })
            .collect(),
        boxes: match counting {
            Counting::Bag(_) => Vec::new(),
            Counting::Box { bags, tubes } => vec![BoxLink {
                barcode: label.to_string(),
                point: point.to_string(),
                counted_bags: bags,
                counted_tubes: tubes,
                handoff: None,
                receipt: None,
                lab_tubes: None,
                handed_after_receipt: false,
            }],
        },
        ..Chain::default()
    };
    rules::reconcile(&chain)
        .into_iter()
        .filter(|m| m.kind == kind)
        .collect()
}

/// Who takes the boxes: a name and phone, or an account.
#[derive(Debug, Clone, Default)]
pub struct Transporter<'a> {
    pub name: &'a str,
    pub phone: &'a str,
    pub account: &'a str,
}

/// The counts on the hand-over sheet (交接单). Boxes default to the number scanned.
#[derive(Debug, Clone, Default)]
pub struct Counted {
    pub boxes: Option<i64>,
    pub tubes: i64,
    pub people: Option<i64>,
    /// At the lab: tubes counted box by box, `(box barcode, tubes)`, for any
    /// of the boxes received (a break then names its box).
    pub per_box: Vec<(String, i64)>,
}

async fn boxes_found(
    store: &Store,
    street: i64,
    round: i64,
    raw: &[String],
) -> Result<(Vec<String>, Vec<gw_store::handoff::PackBox>), AuthError> {
    let codes = barcodes(raw)?;
    rules::check_packing(&codes, None).map_err(invalid)?;
    let found = store.boxes_for_packing(street, round, &codes).await?;
    let mut missing = Vec::new();
    for c in codes
        .iter()
        .filter(|c| !found.iter().any(|b| &b.barcode == *c))
    {
        // A box of another round (a delivery sorted into the wrong round)
        // is named as that.
        let elsewhere = store.box_in_other_rounds(street, round, c).await?;
        missing.push(match elsewhere.first() {
            Some((id, name)) => {
                let other = Key { street, id: *id };
                format!("{c}: 这是另一轮次 {other} {name} 的箱 / a box of another round, {other} {name}")
            }
            // A bag's label or a tube's barcode scanned where a box's goes.
            None if !store
                .bags_for_packing(street, round, std::slice::from_ref(c))
                .await?
                .is_empty() =>
            {
                format!("{c}: 这是本轮一个袋的袋码，不是箱码：请扫箱上的条码 / that is a bag's label in this round, not a box's: scan the label on the box")
            }
            None if is_tube_of_round(store, street, round, c).await? => {
                format!("{c}: 这是本轮一支采样管的条码，不是箱码：请扫箱上的条码 / that is a tube's barcode in this round, not a box's label: scan the label on the box")
            }
            None => format!("{c}: 本轮没有这个箱 / no such box in this round"),
        });
    }
    refuse(missing)?;
    Ok((codes, found))
}

/// Hands boxes of a point to a transporter: the transporter's boxes are scanned,
/// the sheet's counts entered; the boxes, tubes and people go on record.
pub async fn hand_over(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    point: Key,
    boxes: &[String],
    t: &Transporter<'_>,
    counted: &Counted,
) -> Result<Packed, AuthError> {
    let pt = store.point(point.street, point.id).await?;
    access::authorize(p, clock, Action::HandOver, &point_place(store, &pt).await?)?;
    let name = t.name.trim();
    let account = t.account.trim();
    if name.is_empty() && account.is_empty() {
        return Err(invalid(
            "请填写转运人员姓名和电话，或其账号 / give the transporter's name and phone, or their account",
        ));
    }
    let phone = if t.phone.trim().is_empty() {
        String::new()
    } else {
        gw_domain::phone::Phone::parse(t.phone)
            .map_err(|e| {
                AuthError::Invalid(gw_domain::text::labelled(
                    "转运人员电话",
                    "transporter phone",
                    &e.to_string(),
                ))
            })?
            .as_str()
            .to_string()
    };
    if account.is_empty() && phone.is_empty() {
        return Err(invalid(
            "请填写转运人员电话 / the transporter's phone is needed (or their account)",
        ));
    }
    // The chain of custody names someone who exists: an account given is one.
    if !account.is_empty() && store.user_by_name(account).await?.is_none() {
        return Err(AuthError::Invalid(format!(
            "没有账号“{account}”：请核对，或填写转运人员姓名和电话 / no account “{account}”: check it, or give the transporter's name and phone"
        )));
    }
    let counted_tubes = count(counted.tubes, ("交接管数", "counted tubes"))?;
    let (codes, found) = boxes_found(store, point.street, pt.round_id, boxes).await?;
    let counted_boxes = count(
        counted.boxes.unwrap_or(found.len() as i64),
        ("交接箱数", "counted boxes"),
    )?;
    let counted_people = counted
        .people
        .map(|n| count(n, ("交接人份", "counted people")))
        .transpose()?;
    let w = HandOffWrite {
        street: point.street,
        round: pt.round_id,
        point: pt.id,
        transporter_name: if name.is_empty() { account } else { name },
        transporter_phone: &phone,
        transporter_account: account,
        counted_boxes,
        counted_tubes,
        counted_people,
        by: &p.actor(),
        now_ms: clock.now_ms(),
    };
    // The same hand-over sent again: answered from the record.
    if let Some(p) = hand_over_replay(store, &w, &found).await? {
        return Ok(p);
    }
    let mut problems = Vec::new();
    for b in &found {
        if b.point_id != pt.id {
            let at = point_named(store, point.street, b.point_id).await;
            problems.push(format!(
                "{}: 属于采样点{at}，不是本点 / belongs to point {at}, not this one",
                b.barcode
            ));
        } else if let Some(h) = b.handoff_id {
            let h = Key {
                street: point.street,
                id: h,
            };
            problems.push(format!(
                "{}: 已交接（交接单 {h}）/ already handed over (hand-over {h})",
                b.barcode
            ));
        }
    }
    refuse(problems)?;
    let ids: Vec<i64> = found.iter().map(|b| b.id).collect();
    let audit = access::audit_record(
        clock,
        p,
        "hand_over",
        (point.street, "point", &point.to_string()),
        "",
    );
    let (tubes_n, people) = found
        .iter()
        .fold((0, 0), |(t, pe), b| (t + b.tubes, pe + b.people));
    let handed = |id: i64| {
        audit.with_detail(format!(
            "handoff={} boxes={} tubes={tubes_n}",
            Key {
                street: point.street,
                id
            },
            ids.len()
        ))
    };
    let id = match store.hand_over(&w, &ids, handed).await {
        Ok(id) => id,
        // The same hand-over sent twice at once: the first one made it.
        Err(e @ StoreError::Conflict(_)) => {
            let found = store
                .boxes_for_packing(point.street, pt.round_id, &codes)
                .await?;
            return match hand_over_replay(store, &w, &found).await? {
                Some(p) => Ok(p),
                None => Err(e.into()),
            };
        }
        Err(e) => return Err(e.into()),
    };
    let hid = Key {
        street: point.street,
        id,
    }
    .to_string();
    let chain = chain_of_boxes(point.street, &found, Some(&hid), None);
    let chain = Chain {
        handoffs: vec![HandOffLink {
            id: hid.clone(),
            point: point.to_string(),
            counted_boxes,
            counted_tubes,
            counted_people,
        }],
        ..chain
    };
    let mismatches: Vec<Mismatch> = rules::reconcile(&chain)
        .into_iter()
        .filter(|m| m.kind == "handoff" && m.step == rules::Step::HandOff)
        .collect();
    Ok(Packed {
        id: hid,
        barcode: String::new(),
        bags: None,
        boxes: Some(ids.len() as i64),
        tubes: tubes_n,
        people,
        counts_match: mismatches.is_empty(),
        mismatches,
        warnings: found
            .iter()
            .filter(|b| b.receipt_id.is_some())
            .map(|b| late_hand_over(&b.barcode))
            .collect(),
        replay: false,
    })
}

/// A hand-over asked for again as it is stored (the same point, boxes,
/// transporter and sheet): its answer, else `None`.
async fn hand_over_replay(
    store: &Store,
    w: &HandOffWrite<'_>,
    found: &[gw_store::handoff::PackBox],
) -> Result<Option<Packed>, StoreError> {
    let Some(h) = found.first().and_then(|b| b.handoff_id) else {
        return Ok(None);
    };
    if !found.iter().all(|b| b.handoff_id == Some(h)) {
        return Ok(None);
    }
    let rows = store.chain(w.street, w.round).await?;
    let boxes = rows
        .boxes
        .iter()
        .filter(|x| x.handoff_id == Some(h))
        .count();
    let same = boxes == found.len()
        && rows.handoffs.iter().any(|r| {
            r.id == h
                && r.point_id == w.point
                && r.transporter_name == w.transporter_name
                && r.transporter_phone == w.transporter_phone
                && r.transporter_account == w.transporter_account
                && r.counted_boxes == w.counted_boxes
                && r.counted_tubes == w.counted_tubes
                && r.counted_people == w.counted_people
        });
    Ok(if same {
        replayed(w.street, &rows, Record::HandOff(h))
    } else {
        None
    })
}

/// A lab receipt asked for again as it is stored (the same boxes, counts
/// and boxes counted on their own): its answer, else `None`.
async fn receipt_replay(
    store: &Store,
    w: &ReceiptWrite<'_>,
    found: &[gw_store::handoff::PackBox],
) -> Result<Option<Packed>, StoreError> {
    let Some(r) = found.first().and_then(|b| b.receipt_id) else {
        return Ok(None);
    };
    if !found.iter().all(|b| b.receipt_id == Some(r)) {
        return Ok(None);
    }
    let rows = store.chain(w.street, w.round).await?;
    let mine: Vec<&gw_store::handoff::BoxCount> = rows
        .boxes
        .iter()
        .filter(|x| x.receipt_id == Some(r))
        .collect();
    let lab_tubes = |id: i64| w.box_tubes.iter().find(|(b, _)| *b == id).map(|(_, n)| *n);
    let same = mine.len() == found.len()
        && mine.iter().all(|x| x.lab_tubes == lab_tubes(x.id))
        && rows.receipts.iter().any(|x| {
            x.id == r
                && x.counted_boxes == w.counted_boxes
                && x.counted_tubes == w.counted_tubes
                && x.counted_people == w.counted_people
        });
    Ok(if same {
        replayed(w.street, &rows, Record::Receipt(r))
    } else {
        None
    })
}

/// Boxes with bags whose counts are taken as right (for one step's check).
fn chain_of_boxes(
    street: i64,
    found: &[gw_store::handoff::PackBox],
    handoff: Option<&str>,
    receipt: Option<&str>,
) -> Chain {
    // Each box's own point (a lab receipt spans points).
    let point = |b: &gw_store::handoff::PackBox| {
        Key {
            street,
            id: b.point_id,
        }
        .to_string()
    };
    Chain {
        bags: found
            .iter()
            .map(|b| BagLink {
                barcode: format!("{}#bags", b.barcode),
                point: point(b),
                system: Tally {
                    tubes: b.tubes,
                    people: b.people,
                },
                counted_tubes: b.tubes,
                in_box: Some(b.barcode.clone()),
            })
            .collect(),
        boxes: found
            .iter()
            .map(|b| BoxLink {
                barcode: b.barcode.clone(),
                point: point(b),
                counted_bags: 1,
                counted_tubes: b.tubes,
                handoff: handoff
                    .map(String::from)
                    .or(b.handoff_id.map(|h| Key { street, id: h }.to_string())),
                receipt: receipt.map(String::from),
                lab_tubes: None,
                handed_after_receipt: handoff.is_some() && b.receipt_id.is_some(),
            })
            .collect(),
        ..Chain::default()
    }
}

/// The lab receives boxes: scans them, enters the tubes (and people) it counted.
/// A box never handed over is received and flagged.
pub async fn receive(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    round: Key,
    boxes: &[String],
    counted: &Counted,
) -> Result<Packed, AuthError> {
    let place = store.place_of(round.street, "street", round.street).await?;
    access::authorize(p, clock, Action::Receive, &place)?;
    store.round(round.street, round.id).await?;
    let counted_tubes = count(counted.tubes, ("实验室清点管数", "counted tubes"))?;
    let counted_boxes = counted
        .boxes
        .map(|n| count(n, ("实验室清点箱数", "counted boxes")))
        .transpose()?;
    let counted_people = counted
        .people
        .map(|n| count(n, ("实验室清点人份", "counted people")))
        .transpose()?;
    let (codes, found) = boxes_found(store, round.street, round.id, boxes).await?;
    let mut per_box: BTreeMap<String, i64> = BTreeMap::new();
    let mut problems = Vec::new();
    for (raw, n) in &counted.per_box {
        let code = barcode(raw)?;
        let n = count(*n, ("实验室逐箱清点管数", "tubes counted in a box"))?;
        if !found.iter().any(|b| b.barcode == code) {
            problems.push(format!(
                "{code}: 不在本次接收的箱中 / not among the boxes received"
            ));
        } else if per_box.insert(code.clone(), n).is_some() {
            problems.push(format!("{code}: 清点数写了两次 / counted twice"));
        }
    }
    refuse(problems)?;
    // The lab's box-by-box counts and its total are of the same tubes.
    rules::check_lab_counts(
        found.len(),
        &per_box.values().copied().collect::<Vec<_>>(),
        counted_tubes,
    )
    .map_err(invalid)?;
    let box_tubes: Vec<(i64, i64)> = found
        .iter()
        .filter_map(|b| per_box.get(&b.barcode).map(|n| (b.id, *n)))
        .collect();
    let w = ReceiptWrite {
        street: round.street,
        round: round.id,
        counted_boxes,
        counted_tubes,
        counted_people,
        box_tubes: &box_tubes,
        by: &p.actor(),
        now_ms: clock.now_ms(),
    };
    // The same receipt sent again: answered from the record.
    if let Some(p) = receipt_replay(store, &w, &found).await? {
        return Ok(p);
    }
    refuse(
        found
            .iter()
            .filter_map(|b| {
                let r = Key {
                    street: round.street,
                    id: b.receipt_id?,
                };
                Some(format!(
                    "{}: 实验室已接收（接收单 {r}）/ already received (lab receipt {r})",
                    b.barcode
                ))
            })
            .collect(),
    )?;
    let warnings: Vec<String> = found
        .iter()
        .filter(|b| b.handoff_id.is_none())
        .map(|b| never_handed_over(&b.barcode))
        .collect();
    let ids: Vec<i64> = found.iter().map(|b| b.id).collect();
    let audit = access::audit_record(
        clock,
        p,
        "lab_receive",
        (round.street, "round", &round.to_string()),
        "",
    );
    let (tubes_n, people) = found
        .iter()
        .fold((0, 0), |(t, pe), b| (t + b.tubes, pe + b.people));
    let received = |id: i64| {
        audit.with_detail(format!(
            "receipt={} boxes={} tubes={tubes_n}",
            Key {
                street: round.street,
                id
            },
            ids.len()
        ))
    };
    let id = match store.receive(&w, &ids, received).await {
        Ok(id) => id,
        // The same receipt sent twice at once: the first one made it.
        Err(e @ StoreError::Conflict(_)) => {
            let found = store
                .boxes_for_packing(round.street, round.id, &codes)
                .await?;
            return match receipt_replay(store, &w, &found).await? {
                Some(p) => Ok(p),
                None => Err(e.into()),
            };
        }
        Err(e) => return Err(e.into()),
    };
    let rid = Key {
        street: round.street,
        id,
    }
    .to_string();
    let mut chain = Chain {
        receipts: vec![ReceiptLink {
            id: rid.clone(),
            counted_boxes,
            counted_tubes,
            counted_people,
        }],
        ..chain_of_boxes(round.street, &found, None, Some(&rid))
    };
    for b in &mut chain.boxes {
        b.lab_tubes = per_box.get(&b.barcode).copied();
    }
    let mismatches: Vec<Mismatch> = rules::reconcile(&chain)
        .into_iter()
        .filter(|m| {
            m.kind == "receipt"
                || (m.kind == "box" && matches!(m.step, rules::Step::HandOff | rules::Step::Lab))
        })
        .collect();
    Ok(Packed {
        id: rid,
        barcode: String::new(),
        bags: None,
        boxes: Some(ids.len() as i64),
        tubes: tubes_n,
        people,
        counts_match: mismatches.is_empty(),
        mismatches,
        warnings,
        replay: false,
    })
}

/// The bags, boxes, hand-overs and receipts of a round as the rules read
/// them (no points: the report adds them).
fn chain_links(street: i64, rows: &ChainRows) -> Chain {
    let pkey = |id: i64| Key { street, id }.to_string();
    let handed_ms: HashMap<i64, i64> = rows.handoffs.iter().map(|h| (h.id, h.created_ms)).collect();
    let received_ms: HashMap<i64, i64> =
        rows.receipts.iter().map(|r| (r.id, r.created_ms)).collect();
    Chain {
        points: Vec::new(),
        bags: rows
            .bags
            .iter()
            .map(|b| BagLink {
                barcode: b.barcode.clone(),
                point: pkey(b.point_id),
                system: Tally {
                    tubes: b.tubes,
                    people: b.people,
                },
                counted_tubes: b.counted_tubes,
                in_box: b.box_barcode.clone(),
            })
            .collect(),
        boxes: rows
            .boxes
            .iter()
            .map(|b| BoxLink {
                barcode: b.barcode.clone(),
                point: pkey(b.point_id),
                counted_bags: b.counted_bags,
                counted_tubes: b.counted_tubes,
                handoff: b.handoff_id.map(pkey),
                receipt: b.receipt_id.map(pkey),
                lab_tubes: b.lab_tubes,
                handed_after_receipt: match (b.handoff_id, b.receipt_id) {
                    (Some(h), Some(r)) => handed_ms.get(&h) > received_ms.get(&r),
                    _ => false,
                },
            })
            .collect(),
        handoffs: rows
            .handoffs
            .iter()
            .map(|h| HandOffLink {
                id: pkey(h.id),
                point: pkey(h.point_id),
                counted_boxes: h.counted_boxes,
                counted_tubes: h.counted_tubes,
                counted_people: h.counted_people,
            })
            .collect(),
        receipts: rows
            .receipts
            .iter()
            .map(|r| ReceiptLink {
                id: pkey(r.id),
                counted_boxes: r.counted_boxes,
                counted_tubes: r.counted_tubes,
                counted_people: r.counted_people,
            })
            .collect(),
    }
}

// ----- the report -----------------------------------------------------------------

/// Supplies and their use at one point.
#[derive(Debug, Clone, Serialize)]
pub struct PointSupplies {
    pub point: String,
    pub name: String,
    /// Quantity issued per kind.
    pub issued: BTreeMap<String, i64>,
    pub tubes_opened: i64,
    /// Tubes opened here that no range or batch issued to this point covers
    /// (only when the round records tube issues).
    pub not_issued: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HandOffView {
    pub id: String,
    pub point: String,
    pub transporter: String,
    /// Masked.
    pub transporter_phone: String,
    pub transporter_account: String,
    pub counted_boxes: i64,
    pub counted_tubes: i64,
    pub counted_people: Option<i64>,
    pub handed_by: String,
    pub created_ms: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepView {
    pub name: String,
    #[serde(flatten)]
    pub totals: StepTotals,
}

/// The count reconciliation (数据统计校对) of a round, or of one point.
#[derive(Debug, Clone, Serialize)]
pub struct Reconciliation {
    pub round: String,
    pub point: Option<String>,
    pub bag_capacity: i32,
    /// True when nothing along the chain is broken (work still on its way
    /// may be waiting).
    pub matched: bool,
    /// The breaks: counts that disagree, and what was left behind.
    pub mismatches: Vec<Mismatch>,
    /// Counts that differ only because the work is still on its way while
    /// sampling runs (sealed tubes waiting for a bag, bags for a box, boxes
    /// for the transporter, since the point's last hand-over) or because a
    /// hand-over is on the road to the lab (see `rules::on_its_way`).
    pub waiting: Vec<Mismatch>,
    pub steps: Vec<StepView>,
    pub supplies: Vec<PointSupplies>,
    pub handoffs: Vec<HandOffView>,
}

/// The reconciliation report: the whole round (street-wide readers), or one
/// point (`ReadLogistics` at that point).
pub async fn report(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    round: Key,
    point: Option<Key>,
) -> Result<Reconciliation, AuthError> {
    let street = round.street;
    match point {
        Some(k) => {
            let pt = store.point(k.street, k.id).await?;
            if k.street != street || pt.round_id != round.id {
                return Err(invalid(
                    "采样点不属于该轮次 / the point is not in this round",
                ));
            }
            access::authorize(
                p,
                clock,
                Action::ReadLogistics,
                &point_place(store, &pt).await?,
            )?;
        }
        None => {
            let place = store.place_of(street, "street", street).await?;
            access::authorize(p, clock, Action::ReadLogistics, &place)?;
        }
    }
    let capacity = store.bag_capacity(street, round.id).await?;
    let rows = store.chain(street, round.id).await?;
    // Once sampling is over, a tube still open with swabs in it is a break,
    // and so is anything not yet packed.
    let stage = rules::Stage::of_round(&store.round(street, round.id).await?.state);
    let sampling_over = stage != rules::Stage::Sampling;
    let pkey = |id: i64| Key { street, id }.to_string();
    let names: HashMap<String, String> = rows
        .points
        .iter()
        .map(|p| (pkey(p.id), p.name.clone()))
        .collect();
    let box_points: HashMap<String, String> = rows
        .boxes
        .iter()
        .map(|b| (b.barcode.clone(), pkey(b.point_id)))
        .collect();
    let unbagged = store.unbagged_tubes(street, round.id).await?;
    let left_open = if sampling_over {
        store.open_filled_tubes(street, round.id).await?
    } else {
        Vec::new()
    };
    let chain = Chain {
        points: rows
            .points
            .iter()
            .map(|p| PointLink {
                unbagged: unbagged
                    .iter()
                    .filter(|(pt, _, _)| *pt == p.id)
                    .map(|(_, b, _)| b.clone())
                    .collect(),
                left_open_tubes: left_open
                    .iter()
                    .filter(|(pt, _, _)| *pt == p.id)
                    .map(|(_, b, n)| (b.clone(), *n))
                    .collect(),
                point: pkey(p.id),
                closed: Tally {
                    tubes: p.closed_tubes,
                    people: p.closed_people,
                },
                open_tubes: p.open_tubes,
                left_open: if sampling_over {
                    Tally {
                        tubes: p.open_filled_tubes,
                        people: p.open_people,
                    }
                } else {
                    Tally::default()
                },
            })
            .collect(),
        ..chain_links(street, &rows)
    };
    let only = point.map(|k| k.to_string());
    let keep = |pt: &str| only.as_deref().is_none_or(|o| o == pt);
    // A receipt belongs to the points whose boxes it holds.
    let receipt_points: HashMap<String, Vec<String>> =
        chain.boxes.iter().fold(HashMap::new(), |mut m, b| {
            if let (Some(r), Some(pt)) = (&b.receipt, box_points.get(&b.barcode)) {
                m.entry(r.clone()).or_default().push(pt.clone());
            }
            m
        });
    // A point by its name, a hand-over sheet by its transporter and time, a
    // receipt by who received it and when, each with its key.
    let hhmm = gw_domain::schedule::hhmm;
    let sheets: HashMap<String, String> = rows
        .handoffs
        .iter()
        .map(|h| {
            (
                pkey(h.id),
                format!(
                    "{} {}（{}）",
                    gw_domain::mask::name(&h.transporter_name),
                    hhmm(h.created_ms),
                    pkey(h.id)
                ),
            )
        })
        .collect();
    // A receipt's receiver by the account's display name, not its audit id.
    let mut receivers: HashMap<&str, String> = HashMap::new();
    for r in &rows.receipts {
        if !receivers.contains_key(r.received_by.as_str()) {
            let who = actor_named(store, &r.received_by).await?;
            receivers.insert(&r.received_by, who);
        }
    }
    let receipts: HashMap<String, String> = rows
        .receipts
        .iter()
        .map(|r| {
            let who = receivers
                .get(r.received_by.as_str())
                .map_or(r.received_by.as_str(), String::as_str);
            (
                pkey(r.id),
                format!("{who} {}（{}）", hhmm(r.created_ms), pkey(r.id)),
            )
        })
        .collect();
    let name = |kind: &str, at: &str| match kind {
        "point" => names.get(at).map(|n| format!("「{n}」（{at}）")),
        "handoff" => sheets.get(at).cloned(),
        "receipt" => receipts.get(at).cloned(),
        _ => None,
    };
    let found: Vec<Mismatch> = rules::reconcile(&chain)
        .into_iter()
        .filter(|m| match &m.point {
            Some(pt) => keep(pt),
            None => receipt_points
                .get(&m.at)
                .is_none_or(|pts| pts.iter().any(|pt| keep(pt))),
        })
        .map(|m| m.named(name))
        .collect();
    let made = rules::Made {
        tubes: unbagged.iter().map(|(_, b, ms)| (b.clone(), *ms)).collect(),
        bags: rows
            .bags
            .iter()
            .map(|b| (b.barcode.clone(), b.packed_ms))
            .collect(),
        boxes: rows
            .boxes
            .iter()
            .map(|b| (b.barcode.clone(), b.packed_ms))
            .collect(),
        handoffs: rows.handoffs.iter().fold(HashMap::new(), |mut m, h| {
            m.entry(pkey(h.point_id))
                .or_insert_with(Vec::new)
                .push(h.created_ms);
            m
        }),
    };
    let (mismatches, waiting) = rules::split_on_its_way(found, stage, &made);
    let steps = rules::totals(&chain)
        .into_iter()
        .filter(|t| keep(&t.point))
        .map(|t| StepView {
            name: names.get(&t.point).cloned().unwrap_or_default(),
            totals: t,
        })
        .collect();
    // Supplies and tubes not issued.
    let supply_rows = store.supplies(street, round.id, None).await?;
    let luhn = crate::testing::settings_of(store, street).await?.tube.luhn;
    let tubes = store.round_tube_barcodes(street, round.id).await?;
    let supplies = rows
        .points
        .iter()
        .filter(|p| keep(&pkey(p.id)))
        .map(|p| supplies_at(pkey(p.id), &p.name, p.id, &supply_rows, &tubes, luhn))
        .collect();
    let handoffs = rows
        .handoffs
        .iter()
        .filter(|h| keep(&pkey(h.point_id)))
        .map(|h| HandOffView {
            id: pkey(h.id),
            point: pkey(h.point_id),
            // Masked as a resident's name is: the lab and the street read
            // this report; the point that recorded the hand-over sees the
            // name in full on its packing page.
            transporter: gw_domain::mask::name(&h.transporter_name),
            transporter_phone: gw_domain::mask::phone(&h.transporter_phone),
            transporter_account: h.transporter_account.clone(),
            counted_boxes: h.counted_boxes,
            counted_tubes: h.counted_tubes,
            counted_people: h.counted_people,
            handed_by: h.handed_by.clone(),
            created_ms: h.created_ms,
        })
        .collect();
    Ok(Reconciliation {
        round: round.to_string(),
        point: only,
        bag_capacity: capacity,
        matched: mismatches.is_empty(),
        mismatches,
        waiting,
        steps,
        supplies,
        handoffs,
    })
}

/// Supplies issued to a point, oldest first.
pub async fn supplies(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    point: Key,
) -> Result<Vec<SupplyView>, AuthError> {
    let pt = store.point(point.street, point.id).await?;
    access::authorize(
        p,
        clock,
        Action::ReadLogistics,
        &point_place(store, &pt).await?,
    )?;
    Ok(store
        .supplies(point.street, pt.round_id, Some(pt.id))
        .await?
        .into_iter()
        .map(|r| supply_view(point.street, r))
        .collect())
}

/// The supplies issued to one point against its use: quantity per kind, the
/// tubes opened there so far and, when the round records tube issues, the
/// tubes opened there that no range or batch issued to it covers. What the
/// point's page shows its manager (`ReadLogistics` at the point).
pub async fn point_supplies(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    point: Key,
) -> Result<PointSupplies, AuthError> {
    let pt = store.point(point.street, point.id).await?;
    access::authorize(
        p,
        clock,
        Action::ReadLogistics,
        &point_place(store, &pt).await?,
    )?;
    let rows = store.supplies(point.street, pt.round_id, None).await?;
    let luhn = crate::testing::settings_of(store, point.street)
        .await?
        .tube
        .luhn;
    let tubes = store.round_tube_barcodes(point.street, pt.round_id).await?;
    Ok(supplies_at(
        point.to_string(),
        &pt.name,
        pt.id,
        &rows,
        &tubes,
        luhn,
    ))
}

/// What was issued to point `id` (named `key`, `name`) of a round against
/// its use: quantity per kind, the tubes opened there (of the round's
/// `(point, barcode)` list) and, when the round records tube issues (any
/// of `rows`, the round's supplies), those opened there that no range or
/// batch issued to it covers.
fn supplies_at(
    key: String,
    name: &str,
    id: i64,
    rows: &[SupplyRow],
    tubes: &[(i64, String)],
    luhn: bool,
) -> PointSupplies {
    let tracked = rows.iter().any(|r| r.kind == SupplyKind::Tubes.code());
    let mine: Vec<SupplyRow> = rows.iter().filter(|r| r.point_id == id).cloned().collect();
    let mut issued = BTreeMap::new();
    for r in &mine {
        *issued.entry(r.kind.clone()).or_insert(0) += r.quantity;
    }
    let issues = tube_issues(&mine, luhn);
    let opened: Vec<&String> = tubes
        .iter()
        .filter(|(pid, _)| *pid == id)
        .map(|(_, b)| b)
        .collect();
    PointSupplies {
        point: key,
        name: name.to_string(),
        issued,
        tubes_opened: opened.len() as i64,
        not_issued: if tracked {
            opened
                .into_iter()
                .filter(|b| !rules::issued(&issues, b))
                .cloned()
                .collect()
        } else {
            Vec::new()
        },
    }
}

// ----- a point's packing table --------------------------------------------------------

/// A closed tube waiting for a bag.
#[derive(Debug, Clone, Serialize)]
pub struct LooseTube {
    pub barcode: String,
    pub people: i64,
}

/// A bag of a point: what the system holds in it and what the packer counted.
#[derive(Debug, Clone, Serialize)]
pub struct BagView {
    pub barcode: String,
    pub tubes: i64,
    pub people: i64,
    pub counted_tubes: i64,
    pub in_box: Option<String>,
}

/// A box of a point with what the system holds in it and what was counted.
#[derive(Debug, Clone, Serialize)]
pub struct BoxView {
    pub barcode: String,
    pub bags: i64,
    pub tubes: i64,
    pub people: i64,
    pub counted_bags: i64,
    pub counted_tubes: i64,
    pub handoff: Option<String>,
    pub received: bool,
}

/// What a point's packers work from: closed tubes not yet bagged, bags not yet
/// boxed and every bag and box with system counts, the point's hand-overs.
#[derive(Debug, Clone, Serialize)]
pub struct PackingView {
    pub point: String,
    pub point_name: String,
    pub round: String,
    pub round_name: String,
    pub bag_capacity: i32,
    pub tubes_to_bag: Vec<LooseTube>,
    pub bags: Vec<BagView>,
    pub boxes: Vec<BoxView>,
    pub handoffs: Vec<HandOffView>,
}

/// The packing table of a point, for its staff (`Pack` at the point).
pub async fn packing(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    point: Key,
) -> Result<PackingView, AuthError> {
    let pt = store.point(point.street, point.id).await?;
    access::authorize(p, clock, Action::Pack, &point_place(store, &pt).await?)?;
    let street = point.street;
    let round = store.round(street, pt.round_id).await?;
    let capacity = store.bag_capacity(street, pt.round_id).await?;
    let tubes_to_bag = store
        .tubes_to_bag(street, pt.id)
        .await?
        .into_iter()
        .map(|(barcode, people)| LooseTube { barcode, people })
        .collect();
    let rows = store.chain(street, pt.round_id).await?;
    let bags: Vec<BagView> = rows
        .bags
        .iter()
        .filter(|b| b.point_id == pt.id)
        .map(|b| BagView {
            barcode: b.barcode.clone(),
            tubes: b.tubes,
            people: b.people,
            counted_tubes: b.counted_tubes,
            in_box: b.box_barcode.clone(),
        })
        .collect();
    let pkey = |id: i64| Key { street, id }.to_string();
    let boxes = rows
        .boxes
        .iter()
        .filter(|b| b.point_id == pt.id)
        .map(|x| {
            let inside = bags
                .iter()
                .filter(|b| b.in_box.as_deref() == Some(x.barcode.as_str()));
            let (n, tubes, people) = inside.fold((0, 0, 0), |(n, t, pe), b| {
                (n + 1, t + b.tubes, pe + b.people)
            });
            BoxView {
                barcode: x.barcode.clone(),
                bags: n,
                tubes,
                people,
                counted_bags: x.counted_bags,
                counted_tubes: x.counted_tubes,
                handoff: x.handoff_id.map(pkey),
                received: x.receipt_id.is_some(),
            }
        })
        .collect();
    let handoffs = rows
        .handoffs
        .iter()
        .filter(|h| h.point_id == pt.id)
        .map(|h| HandOffView {
            id: pkey(h.id),
            point: point.to_string(),
            transporter: h.transporter_name.clone(),
            transporter_phone: gw_domain::mask::phone(&h.transporter_phone),
            transporter_account: h.transporter_account.clone(),
            counted_boxes: h.counted_boxes,
            counted_tubes: h.counted_tubes,
            counted_people: h.counted_people,
            handed_by: h.handed_by.clone(),
            created_ms: h.created_ms,
        })
        .collect();
    Ok(PackingView {
        point: point.to_string(),
        point_name: pt.name,
        round: pkey(round.id),
        round_name: round.name,
        bag_capacity: capacity,
        tubes_to_bag,
        bags,
        boxes,
        handoffs,
    })
}

// ----- labels and tube states -------------------------------------------------------

/// What a point's tube-box labels print: its boxes, then its bags, as packed.
#[derive(Debug, Clone)]
pub struct Labels {
    pub round: String,
    pub round_name: String,
    pub point: String,
    pub point_name: String,
    pub items: Vec<gw_store::handoff::PackedItem>,
}

/// The labels of a point's boxes and bags, for whoever may pack there.
pub async fn labels(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    point: Key,
) -> Result<Labels, AuthError> {
    let pt = store.point(point.street, point.id).await?;
    access::authorize(p, clock, Action::Pack, &point_place(store, &pt).await?)?;
    let round = store.round(point.street, pt.round_id).await?;
    let items = store
        .packed_at_point(point.street, pt.round_id, pt.id)
        .await?;
    Ok(Labels {
        round: Key {
            street: point.street,
            id: pt.round_id,
        }
        .to_string(),
        round_name: round.name,
        point: point.to_string(),
        point_name: pt.name,
        items,
    })
}

/// Tubes of a round by state (open, closed, sealed, boxed, handed_over,
/// received …), counted over the points in communities the caller may read
/// or holds a grid of.
pub async fn tube_states(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    round: Key,
) -> Result<BTreeMap<String, i64>, AuthError> {
    store.round(round.street, round.id).await?;
    let now = clock.now_ms();
    // A reader of grids sees the tubes of their grids' communities' points,
    // as the coverage's point table shows those points (counts only).
    let mut readable: HashMap<i64, bool> = HashMap::new();
    let mut out = BTreeMap::new();
    for t in store.tube_states(round.street, round.id).await? {
        let ok = match readable.get(&t.community_id) {
            Some(ok) => *ok,
            None => {
                let ok = access::reaches_community(
                    store,
                    p,
                    Action::ReadRegistry,
                    round.street,
                    t.community_id,
                    now,
                )
                .await?;
                readable.insert(t.community_id, ok);
                ok
            }
        };
        if ok {
            *out.entry(t.state).or_insert(0) += t.tubes;
        }
    }
    Ok(out)
}

/// Who an audit actor is as people know them: an account (`user:NAME`) by
/// its display name (its name when it has none, or is gone), anything else
/// (the console operator `cli:USER`) as recorded.
async fn actor_named(store: &Store, actor: &str) -> Result<String, StoreError> {
    let Some(user) = actor.strip_prefix("user:") else {
        return Ok(actor.to_string());
    };
    Ok(match store.user_by_name(user).await? {
        Some(u) if !u.display_name.trim().is_empty() => u.display_name,
        _ => user.to_string(),
    })
}

/// A point as people know it: its name with its id, 「东风广场」（1-3）; the id
/// alone if it cannot be read.
async fn point_named(store: &Store, street: i64, id: i64) -> String {
    let name = store.point(street, id).await.ok().map(|p| p.name);
    point_label(street, id, name.as_deref())
}

fn point_label(street: i64, id: i64, name: Option<&str>) -> String {
    match name {
        Some(n) => format!("「{n}」（{street}-{id}）"),
        None => format!("{street}-{id}"),
    }
}
