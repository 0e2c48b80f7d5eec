//! Packing at a testing point from the browser (seal tubes into a bag, bags
//! into a box, hand the boxes over), the lab's receipt on the reconciliation
//! page, and a round's abnormal pools with what was done about each. Thin over
//! `gw_app::handoff` and `gw_app::alerts`: the same use-cases as the API.
//!
//! Barcode boxes are textareas: a USB scanner types a code and Enter, so each
//! code lands on its own line. Single-line barcode inputs move on to the next
//! field on Enter instead of sending the form.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Extension;
use gw_app::access::AuthError;
use gw_app::handoff::{Counted, Packed, PackingView, Transporter};
use gw_domain::access::Action;
use gw_domain::handoff::{Measure, Mismatch, Step};
use gw_domain::ids::Key;
use gw_store::StoreError;

use super::registry::full_names;
use super::{parse_key, Fields, Lang, Page};
use crate::{html_escape as esc, AppState, Auth, WebError};

// ----- form reading -------------------------------------------------------------------

/// Barcodes typed or scanned into a box: one a line (commas and spaces too).
fn codes(text: &str) -> Vec<String> {
    text.split(|c: char| c.is_whitespace() || matches!(c, ',' | '，' | ';' | '；' | '、'))
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(String::from)
        .collect()
}

/// The lab's box list: one box a line, a line may add the tubes counted in
/// that box after its barcode (`BOX0001 38`; a count has at most four
/// digits, a barcode more). Returns the boxes and the counts given.
fn boxes_and_counts(text: &str) -> (Vec<String>, Vec<(String, i64)>) {
    let mut boxes = Vec::new();
    let mut counts = Vec::new();
    for line in text.lines() {
        let line = gw_domain::text::to_half_width(line);
        let mut parts = codes(&line);
        let count = match parts.as_slice() {
            [_, n] if n.len() <= 4 && n.chars().all(|c| c.is_ascii_digit()) => n.parse().ok(),
            _ => None,
        };
        if let Some(n) = count {
            parts.truncate(1);
            counts.push((parts[0].clone(), n));
        }
        boxes.extend(parts);
    }
    (boxes, counts)
}

/// A count as typed (full-width digits too): none when left empty.
/// `what` is `(中文, English)`.
fn number(v: &str, what: (&str, &str)) -> Result<Option<i64>, String> {
    let (zh, en) = what;
    let v = gw_domain::text::to_half_width(v);
    let v = v.trim();
    if v.is_empty() {
        return Ok(None);
    }
    match v.parse::<i64>() {
        Ok(n) if n >= 0 => Ok(Some(n)),
        _ => Err(format!(
            "{zh}应为 0 或正整数，请改正 / {en}: type a whole number, 0 or more"
        )),
    }
}

fn required(v: &str, what: (&str, &str)) -> Result<i64, String> {
    let (zh, en) = what;
    number(v, what)?.ok_or_else(|| format!("请填写{zh} / enter {en}"))
}

/// What the use-case refused, as the form shows it; anything else is a page error.
fn form_error(e: AuthError) -> Result<String, WebError> {
    match e {
        AuthError::Invalid(m) => Ok(m),
        AuthError::Store(StoreError::Conflict(m)) => Ok(m),
        other => Err(other.into()),
    }
}

fn error_html(msg: &str) -> String {
    let lines: Vec<String> = msg
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| format!("<li>{}</li>", esc(l)))
        .collect();
    format!(
        r#"<div class="card alerts" role="alert" id="form-error"><ul class="error">{}</ul></div>"#,
        lines.join("")
    )
}

// ----- mismatches -----------------------------------------------------------------------

fn step_label(l: Lang, s: Step) -> &'static str {
    l.t(s.label_zh(), s.label_en())
}

fn kind_label(l: Lang, kind: &str) -> &'static str {
    match kind {
        "point" => l.t("采样点", "point"),
        "bag" => l.t("袋", "bag"),
        "box" => l.t("箱", "box"),
        "handoff" => l.t("交接单", "hand-over sheet"),
        "receipt" => l.t("实验室接收单", "lab receipt"),
        _ => "",
    }
}

fn measure_label(l: Lang, m: Measure) -> &'static str {
    match m {
        Measure::Tubes => l.t("管数", "tubes"),
        Measure::People => l.t("人份", "swabs"),
        Measure::Bags => l.t("袋数", "bags"),
        Measure::Boxes => l.t("箱数", "boxes"),
    }
}

/// Work still on its way (not a break): the step it waits for, where, how
/// many, and what it is made of.
pub(super) fn waiting_line(l: Lang, m: &Mismatch) -> String {
    let note = m
        .note
        .split(" / ")
        .nth(usize::from(l == Lang::En))
        .unwrap_or(m.note);
    let at = match (&m.point_label, l) {
        (Some(p), Lang::Zh) => format!("{}（采样点 {p}）", m.label),
        (Some(p), Lang::En) => format!("{} (point {p})", m.label),
        (None, _) => m.label.clone(),
    };
    let text = match l {
        Lang::Zh => format!(
            "{}环节 · {} {at}：{} {} 待下一步 — {note}",
            step_label(l, m.step),
            kind_label(l, m.kind),
            measure_label(l, m.measure),
            -m.diff
        ),
        Lang::En => format!(
            "At {} · {} {at}: {} {} waiting for the next step — {note}",
            step_label(l, m.step),
            kind_label(l, m.kind),
            m.diff.abs(),
            measure_label(l, m.measure)
        ),
    };
    format!(
        "<li>{}{}</li>",
        esc(&text),
        items_text(l, &m.items, &m.item_swabs)
    )
}

/// Where a count broke: the step, the bag/box/sheet, what was counted against
/// what the system holds, and by how much.
pub(super) fn mismatch_line(l: Lang, m: &Mismatch) -> String {
    let (more, less) = (l.t("多", "over by"), l.t("少", "short by"));
    let by = if m.diff > 0 { more } else { less };
    // What the break means, in the reader's language (a box still on its
    // way reads "handed over, not received by the lab", not only "0 counted").
    let note = m
        .note
        .split(" / ")
        .nth(usize::from(l == Lang::En))
        .unwrap_or(m.note);
    let colon = l.t("：", ": ");
    // A bag, box or sheet with its point, for a reader of many points.
    let at = match (&m.point_label, l) {
        (Some(p), Lang::Zh) => format!("{}（采样点 {p}）", m.label),
        (Some(p), Lang::En) => format!("{} (point {p})", m.label),
        (None, _) => m.label.clone(),
    };
    let text = if m.step == Step::Point {
        // Not a count against a count: what is left undone, said in words
        // (the step is the point itself: named once).
        format!(
            "{} {}{colon}{} {} — {note}",
            kind_label(l, m.kind),
            m.label,
            measure_label(l, m.measure),
            m.found
        )
    } else if m.step == Step::HandOff && m.kind == "box" {
        // A box at the lab with no hand-over (or one recorded after): a
        // custody hole, said in words rather than as "boxes 0, counted 1".
        match l {
            Lang::Zh => format!(
                "{}环节 · {} {at}{colon}{note}",
                step_label(l, m.step),
                kind_label(l, m.kind)
            ),
            Lang::En => format!(
                "At {} · {} {at}{colon}{note}",
                step_label(l, m.step),
                kind_label(l, m.kind)
            ),
        }
    } else {
        match l {
            Lang::Zh => format!(
                "{}环节 · {} {at}：{}系统为 {}，清点为 {}（{}{}）— {note}",
                step_label(l, m.step),
                kind_label(l, m.kind),
                measure_label(l, m.measure),
                m.expected,
                m.found,
                by,
                m.diff.abs()
            ),
            Lang::En => format!(
                "At {} · {} {at}: {} {} in the system, {} counted ({} {}) — {note}",
                step_label(l, m.step),
                kind_label(l, m.kind),
                measure_label(l, m.measure),
                m.expected,
                m.found,
                by,
                m.diff.abs()
            ),
        }
    };
    format!(
        r#"<li class="warn">{}{}</li>"#,
        esc(&text),
        items_text(l, &m.items, &m.item_swabs)
    )
}

/// What a break is made of, named (the first twenty); `swabs`, when given,
/// the swabs in each (the tubes left open at a point).
fn items_text(l: Lang, items: &[String], swabs: &[i64]) -> String {
    if items.is_empty() {
        return String::new();
    }
    let shown: Vec<String> = items
        .iter()
        .take(20)
        .enumerate()
        .map(|(i, b)| match swabs.get(i) {
            Some(n) => match l {
                Lang::Zh => format!("{b}（{n} 人份）"),
                Lang::En => format!("{b} ({})", counted(l, *n, "人份", "swab", "swabs")),
            },
            None => b.clone(),
        })
        .collect();
    let more = items.len().saturating_sub(shown.len());
    let tail = if more > 0 {
        match l {
            Lang::Zh => format!(" 等 {} 个", items.len()),
            Lang::En => format!(" and {more} more"),
        }
    } else {
        String::new()
    };
    format!(
        r#"<br><span class="muted items">{}{}</span>"#,
        esc(&shown.join(" ")),
        esc(&tail)
    )
}

/// `n` things as the page's language says them: `3 管`, `1 tube`, `3 tubes`.
fn counted(l: Lang, n: i64, zh: &str, one: &str, many: &str) -> String {
    match l {
        Lang::Zh => format!("{n} {zh}"),
        Lang::En if n == 1 => format!("{n} {one}"),
        Lang::En => format!("{n} {many}"),
    }
}

/// The answer to a packing step: what was recorded and, when a count differs,
/// a red warning saying where.
fn packed_html(l: Lang, what: &str, p: &Packed) -> String {
    packed_html_at(l, what, p, true)
}

/// [`packed_html`]; `at_point`: the bag or box is still at the point, so a
/// miscount can be recounted there (not after a hand-over, nor at the lab).
fn packed_html_at(l: Lang, what: &str, p: &Packed, at_point: bool) -> String {
    let mut out = format!(
        r#"<section class="card" id="result"><p class="notice">{what} · {tubes} · {people}</p>"#,
        tubes = counted(l, p.tubes, "管", "tube", "tubes"),
        people = counted(l, p.people, "人份", "swab", "swabs"),
    );
    if p.replay {
        out.push_str(&format!(
            r#"<p class="notice" id="replayed">{}</p>"#,
            l.t(
                "此前已记录过：这次提交与已记录的完全相同，没有重复记录。",
                "Recorded already: this was the same as what is stored, so nothing was recorded twice."
            )
        ));
    }
    if !p.counts_match {
        let lines: String = p.mismatches.iter().map(|m| mismatch_line(l, m)).collect();
        out.push_str(&format!(
            r#"<div class="card alerts" role="alert" id="mismatch"><p class="error">{}</p><ul class="list">{lines}</ul><p class="hint">{}</p></div>"#,
            l.t(
                "清点数与系统不符！已按清点数记录，请立即复核。",
                "The count differs from the system! It was recorded as counted: check it now."
            ),
            if at_point {
                l.t(
                    "请核对实物：是清点数错了，就在下方“重新清点”中按实数更正（交接前）；是系统少了或多了管，请报告街道，数据统计校对会一直标出此处不符。",
                    "Check what is really there: if the count was wrong, correct it under \"Recount\" below (before the hand-over); if the system has tubes too few or too many, tell the street: the reconciliation keeps showing this mismatch."
                )
            } else {
                l.t(
                    "请核对实物并报告街道：已记录的清点数不再修改，数据统计校对会一直标出此处不符。",
                    "Check what is really there and tell the street: the recorded count stands, and the reconciliation keeps showing this mismatch."
                )
            },
        ));
    }
    for w in &p.warnings {
        out.push_str(&format!(r#"<p class="warn">{}</p>"#, esc(w)));
    }
    out.push_str("</section>");
    out
}

// ----- the packing page -----------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Which {
    Bag,
    Box,
    Recount,
    HandOff,
}

/// What the page shows besides the tables: the form being fixed (with the
/// values typed), or the result of the last post (the page a successful
/// form is sent on to says which).
#[derive(Default)]
struct Outcome {
    failed: Option<(Which, String, Fields)>,
    done: Option<Done>,
}

/// A packing step just recorded, as the address after a form says it
/// (`?done=bag&label=BAG0001`, `?done=handoff&id=1-5`; `&again=1` when the
/// form repeated a record exactly).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Done {
    which: Which,
    /// A bag's or box's label, or a hand-over's id.
    at: String,
    again: bool,
}

impl Done {
    /// The page to send the browser to after a form made (or repeated) a
    /// record: the packing page saying so, so a refresh posts nothing.
    fn location(&self, point: &str) -> String {
        let what = match self.which {
            Which::Bag => "bag",
            Which::Box => "box",
            Which::Recount => "recount",
            Which::HandOff => "handoff",
        };
        let key = if self.which == Which::HandOff {
            "id"
        } else {
            "label"
        };
        format!(
            "/points/{point}/packing?done={what}&{key}={}{}",
            query_value(&self.at),
            if self.again { "&again=1" } else { "" }
        )
    }

    /// What [`Done::location`] wrote, read back from a page's query.
    fn read(query: &str) -> Option<Done> {
        let q = Some(query);
        let which = match super::query_param(q, "done")?.as_str() {
            "bag" => Which::Bag,
            "box" => Which::Box,
            "recount" => Which::Recount,
            "handoff" => Which::HandOff,
            _ => return None,
        };
        let key = if which == Which::HandOff {
            "id"
        } else {
            "label"
        };
        Some(Done {
            which,
            at: super::query_param(q, key)?,
            again: super::query_param(q, "again").as_deref() == Some("1"),
        })
    }
}

/// A value for an address's query: letters, digits and `-` as they are
/// (labels and ids are made of them), anything else percent-encoded.
fn query_value(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' => char::from(b).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A barcode input that a scanner's Enter moves on from, rather than sending the form.
const SCAN_SCRIPT: &str = r#"<script>document.querySelectorAll('input[data-scan]').forEach(function(i){i.addEventListener('keydown',function(e){if(e.key!=='Enter')return;e.preventDefault();var f=Array.prototype.slice.call(i.form.elements),n=f[f.indexOf(i)+1];if(n)n.focus();});});</script>"#;

pub async fn packing(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    page: Page,
    Path(id): Path<String>,
) -> Response {
    let out = Outcome {
        failed: None,
        done: Done::read(&page.query),
    };
    packing_page(&s, &a, &page, &id, StatusCode::OK, out).await
}

/// The result of the step [`Done`] names, as the form's answer said it: what
/// was recorded and, when a count differs, the red warning. Empty when it
/// cannot be read (another point's, or gone).
async fn done_html(s: &AppState, a: &Auth, l: Lang, v: &PackingView, d: &Done) -> String {
    use gw_app::handoff::Record;
    let Ok(point) = v.point.parse::<Key>() else {
        return String::new();
    };
    let handoff =
        d.at.parse::<Key>()
            .ok()
            .filter(|k| k.street == point.street);
    let rec = match d.which {
        Which::Bag => Record::Bag(&d.at),
        Which::Box => Record::Box(&d.at),
        Which::Recount if v.bags.iter().any(|b| b.barcode == d.at) => Record::Bag(&d.at),
        Which::Recount => Record::Box(&d.at),
        Which::HandOff => match handoff {
            Some(k) => Record::HandOff(k.id),
            None => return String::new(),
        },
    };
    let Ok(p) = gw_app::handoff::packed_at(&s.store, &s.clock, &a.principal, point, rec).await
    else {
        return String::new();
    };
    let p = gw_app::handoff::Packed {
        replay: d.again,
        ..p
    };
    let label = esc(&p.barcode);
    match d.which {
        Which::Bag => packed_html(l, &format!("{} {label}", l.t("已封袋", "Bag sealed:")), &p),
        Which::Box => packed_html(
            l,
            &format!(
                "{} {label} · {}",
                l.t("已装箱", "Box packed:"),
                counted(l, p.bags.unwrap_or(0), "袋", "bag", "bags")
            ),
            &p,
        ),
        Which::Recount => packed_html(
            l,
            &format!("{} {label}", l.t("已重新清点", "Recounted:")),
            &p,
        ),
        Which::HandOff => {
            let to = v
                .handoffs
                .iter()
                .find(|h| h.id == p.id)
                .map_or("", |h| h.transporter.as_str());
            packed_html_at(
                l,
                &format!(
                    "{} {} → {}",
                    l.t("已交接", "Handed over:"),
                    counted(l, p.boxes.unwrap_or(0), "箱", "box", "boxes"),
                    esc(to)
                ),
                &p,
                false,
            )
        }
    }
}

async fn packing_page(
    s: &AppState,
    a: &Auth,
    page: &Page,
    id: &str,
    status: StatusCode,
    out: Outcome,
) -> Response {
    let l = page.lang;
    let v = match parse_key(l, id) {
        Ok(k) => gw_app::handoff::packing(&s.store, &s.clock, &a.principal, k)
            .await
            .map_err(WebError::from),
        Err(e) => Err(e),
    };
    match v {
        Ok(v) => {
            // Where this point's counts broke along the chain, up to the lab's
            // receipt (for those who may read the point's logistics). All of
            // this point: its name is said once, in the title.
            let breaks = match (v.round.parse(), v.point.parse()) {
                (Ok(round), Ok(point)) => {
                    gw_app::handoff::report(&s.store, &s.clock, &a.principal, round, Some(point))
                        .await
                        .ok()
                        .map(|r| {
                            r.mismatches
                                .into_iter()
                                .map(|m| Mismatch {
                                    point_label: None,
                                    ..m
                                })
                                .collect::<Vec<_>>()
                        })
                }
                _ => None,
            };
            // The point's disinfection task after an abnormal pool, while the
            // staff are at the point.
            let disinfection = match v.point.parse() {
                Ok(point) => point_disinfection_section(s, a, page, point, "packing")
                    .await
                    .unwrap_or_default(),
                Err(_) => String::new(),
            };
            let done = match &out.done {
                Some(d) => done_html(s, a, l, &v, d).await,
                None => String::new(),
            };
            let body = packing_body(l, a, &v, &out, &done, breaks.as_deref(), &disinfection);
            page.render(
                status,
                &format!("{} · {}", v.point_name, l.t("装袋装箱交接", "packing")),
                &body,
            )
        }
        Err(e) => page.error(e),
    }
}

/// The values typed into one form and what to fix, when that form failed.
fn typed<'a>(out: &'a Outcome, empty: &'a Fields, w: Which) -> (&'a Fields, String) {
    match &out.failed {
        Some((f, msg, fields)) if *f == w => (fields, error_html(msg)),
        _ => (empty, String::new()),
    }
}

fn packing_body(
    l: Lang,
    a: &Auth,
    v: &PackingView,
    out: &Outcome,
    done: &str,
    breaks: Option<&[Mismatch]>,
    disinfection: &str,
) -> String {
    let empty = Fields::default();
    let csrf = esc(&a.csrf);
    let k = &v.point;
    // Closed tubes waiting for a bag.
    let waiting: Vec<String> = v
        .tubes_to_bag
        .iter()
        .map(|t| {
            format!(
                r#"<li class="row2"><span>{}</span><span class="muted">{}</span></li>"#,
                esc(&t.barcode),
                counted(l, t.people, "人份", "swab", "swabs")
            )
        })
        .collect();
    let loose_bags: Vec<String> = v
        .bags
        .iter()
        .filter(|b| b.in_box.is_none())
        .map(|b| {
            format!(
                r#"<li class="row2"><span>{}</span><span class="muted">{}</span></li>"#,
                esc(&b.barcode),
                counted(l, b.tubes, "管", "tube", "tubes")
            )
        })
        .collect();
    let waiting_boxes: Vec<String> = v
        .boxes
        .iter()
        .filter(|b| b.handoff.is_none())
        .map(|b| {
            format!(
                r#"<li class="row2"><span>{}</span><span class="muted">{} · {}</span></li>"#,
                esc(&b.barcode),
                counted(l, b.bags, "袋", "bag", "bags"),
                counted(l, b.tubes, "管", "tube", "tubes")
            )
        })
        .collect();
    let list = |items: &[String], id: &str, none: &str| {
        if items.is_empty() {
            format!(r#"<p class="muted" id="{id}">{}</p>"#, esc(none))
        } else {
            format!(r#"<ul class="list" id="{id}">{}</ul>"#, items.join(""))
        }
    };
    let (bt, be) = typed(out, &empty, Which::Bag);
    let bag_form = format!(
        r#"<section class="card" id="bag"><h2>{h}</h2>{be}
<form method="post" action="/points/{k}/bags" class="stack"><input type="hidden" name="csrf" value="{csrf}">
<label>{lb}<input name="barcode" data-scan autocomplete="off" required value="{bv}"></label>
<label>{lt}<textarea name="tubes" rows="6" autocomplete="off" required>{tv}</textarea></label>
<label>{lc}<input name="counted_tubes" inputmode="numeric" autocomplete="off" required value="{cv}"></label>
<button class="primary" type="submit">{sb}</button></form>
<h3>{wh} <span class="tag">{wn}</span></h3>{wl}</section>"#,
        h = l.t("① 封袋", "① Seal a bag"),
        lb = l.t("袋条码（先扫袋）", "Bag barcode (scan the bag first)"),
        bv = esc(bt.get("barcode")),
        lt = l.t(
            "管条码（逐支扫入，一行一个）",
            "Tube barcodes (scan each, one a line)"
        ),
        tv = esc(bt.get("tubes")),
        lc = l.t(
            "清点管数（数一数袋里的管）",
            "Tubes counted (count what is in the bag)"
        ),
        cv = esc(bt.get("counted_tubes")),
        sb = l.t("封袋", "Seal the bag"),
        wh = l.t("待装袋（已封管）", "Closed tubes waiting for a bag"),
        wn = v.tubes_to_bag.len(),
        wl = list(
            &waiting,
            "tubes-to-bag",
            l.t("没有待装袋的管。", "No tube is waiting.")
        ),
    );
    let (xt, xe) = typed(out, &empty, Which::Box);
    let box_form = format!(
        r#"<section class="card" id="box"><h2>{h}</h2>{xe}
<form method="post" action="/points/{k}/boxes" class="stack"><input type="hidden" name="csrf" value="{csrf}">
<label>{lb}<input name="barcode" data-scan autocomplete="off" required value="{bv}"></label>
<label>{lt}<textarea name="bags" rows="4" autocomplete="off" required>{tv}</textarea></label>
<label>{lcb}<input name="counted_bags" inputmode="numeric" autocomplete="off" required value="{cbv}"></label>
<label>{lct}<input name="counted_tubes" inputmode="numeric" autocomplete="off" required value="{ctv}"></label>
<button class="primary" type="submit">{sb}</button></form>
<h3>{wh} <span class="tag">{wn}</span></h3>{wl}</section>"#,
        h = l.t("② 装箱", "② Pack a box"),
        lb = l.t("箱条码", "Box barcode"),
        bv = esc(xt.get("barcode")),
        lt = l.t("袋条码（一行一个）", "Bag barcodes (one a line)"),
        tv = esc(xt.get("bags")),
        lcb = l.t("清点袋数", "Bags counted"),
        cbv = esc(xt.get("counted_bags")),
        lct = l.t("清点管数", "Tubes counted"),
        ctv = esc(xt.get("counted_tubes")),
        sb = l.t("装箱", "Pack the box"),
        wh = l.t("已封袋未装箱", "Sealed bags not yet boxed"),
        wn = loose_bags.len(),
        wl = list(
            &loose_bags,
            "bags-to-box",
            l.t("没有待装箱的袋。", "No bag is waiting.")
        ),
    );
    let (rt, re) = typed(out, &empty, Which::Recount);
    let recount_form = format!(
        r#"<section class="card" id="recount"><h2>{h}</h2>{re}<p class="hint">{hint}</p>
<form method="post" action="/points/{k}/recount" class="stack"><input type="hidden" name="csrf" value="{csrf}">
<label>{lb}<input name="barcode" data-scan autocomplete="off" required value="{bv}"></label>
<label>{lct}<input name="counted_tubes" inputmode="numeric" autocomplete="off" required value="{ctv}"></label>
<label>{lcb}<input name="counted_bags" inputmode="numeric" autocomplete="off" value="{cbv}"></label>
<label>{lr}<input name="reason" autocomplete="off" required value="{rv}"></label>
<button type="submit">{sb}</button></form></section>"#,
        h = l.t("重新清点（数错时）", "Recount (a miscount)"),
        hint = l.t(
            "袋或箱交接前，可按实物重新清点并记录原因；原数、新数和原因记入审计日志。",
            "Before a bag or box is handed over, count it again and record why: the old and new counts and the reason go to the audit log."
        ),
        lb = l.t("袋或箱条码", "Bag or box barcode"),
        bv = esc(rt.get("barcode")),
        lct = l.t("实数管数", "Tubes counted"),
        ctv = esc(rt.get("counted_tubes")),
        lcb = l.t("实数袋数（箱才填）", "Bags counted (a box only)"),
        cbv = esc(rt.get("counted_bags")),
        lr = l.t("原因", "Reason"),
        rv = esc(rt.get("reason")),
        sb = l.t("记录重新清点", "Record the recount"),
    );
    let (ht, he) = typed(out, &empty, Which::HandOff);
    let handoff_form = format!(
        r#"<section class="card" id="handoff"><h2>{h}</h2>{he}
<form method="post" action="/points/{k}/handoffs" class="stack"><input type="hidden" name="csrf" value="{csrf}">
<label>{ln}<input name="name" autocomplete="off" required value="{nv}"></label>
<label>{lp}<input name="phone" type="tel" inputmode="tel" autocomplete="off" required value="{pv}"></label>
<label>{lt}<textarea name="boxes" rows="3" autocomplete="off" required>{tv}</textarea></label>
<label>{lcb}<input name="counted_boxes" inputmode="numeric" autocomplete="off" value="{cbv}"></label>
<label>{lct}<input name="counted_tubes" inputmode="numeric" autocomplete="off" required value="{ctv}"></label>
<label>{lcp}<input name="counted_people" inputmode="numeric" autocomplete="off" value="{cpv}"></label>
<button class="primary" type="submit">{sb}</button></form>
<h3>{wh} <span class="tag">{wn}</span></h3>{wl}</section>"#,
        h = l.t("③ 交接转运", "③ Hand over to the transporter"),
        ln = l.t("转运人员姓名", "Transporter's name"),
        nv = esc(ht.get("name")),
        lp = l.t("转运人员电话", "Transporter's phone"),
        pv = esc(ht.get("phone")),
        lt = l.t("箱条码（一行一个）", "Box barcodes (one a line)"),
        tv = esc(ht.get("boxes")),
        lcb = l.t(
            "交接单箱数（不填按扫入数）",
            "Boxes on the sheet (empty: as scanned)"
        ),
        cbv = esc(ht.get("counted_boxes")),
        lct = l.t("交接单管数", "Tubes on the sheet"),
        ctv = esc(ht.get("counted_tubes")),
        lcp = l.t("交接单人份（可不填）", "Swabs on the sheet (optional)"),
        cpv = esc(ht.get("counted_people")),
        sb = l.t("确认交接", "Record the hand-over"),
        wh = l.t("已装箱未交接", "Boxes not yet handed over"),
        wn = waiting_boxes.len(),
        wl = list(
            &waiting_boxes,
            "boxes-to-hand",
            l.t("没有待交接的箱。", "No box is waiting.")
        ),
    );
    // Every bag and box of the point with the system's and the counted figures.
    let mut bags = String::new();
    for b in &v.bags {
        let cls = if b.counted_tubes != b.tubes {
            " class=\"warn\""
        } else {
            ""
        };
        bags.push_str(&format!(
            r#"<tr{cls}><td>{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td>{}</td></tr>"#,
            esc(&b.barcode),
            b.tubes,
            b.people,
            b.counted_tubes,
            esc(b.in_box.as_deref().unwrap_or("")),
        ));
    }
    let mut boxes = String::new();
    for b in &v.boxes {
        let cls = if b.counted_tubes != b.tubes || b.counted_bags != b.bags {
            " class=\"warn\""
        } else {
            ""
        };
        let state = if b.received {
            l.t("实验室已收", "at the lab")
        } else if b.handoff.is_some() {
            l.t("已交接", "handed over")
        } else {
            l.t("在本点", "at the point")
        };
        boxes.push_str(&format!(
            r#"<tr{cls}><td>{}</td><td class="n">{}/{}</td><td class="n">{}/{}</td><td class="n">{}</td><td>{}</td></tr>"#,
            esc(&b.barcode),
            b.bags,
            b.counted_bags,
            b.tubes,
            b.counted_tubes,
            b.people,
            esc(state),
        ));
    }
    let mut handoffs = String::new();
    for h in &v.handoffs {
        // The sheet's counts against what the system holds in its boxes:
        // red when any differs, swabs included.
        let (boxes, tubes, people) = v
            .boxes
            .iter()
            .filter(|b| b.handoff.as_deref() == Some(h.id.as_str()))
            .fold((0, 0, 0), |(n, t, p), b| (n + 1, t + b.tubes, p + b.people));
        let differs = h.counted_boxes != boxes
            || h.counted_tubes != tubes
            || h.counted_people.is_some_and(|p| p != people);
        let mut sheet = vec![
            counted(l, h.counted_boxes, "箱", "box", "boxes"),
            counted(l, h.counted_tubes, "管", "tube", "tubes"),
        ];
        if let Some(p) = h.counted_people {
            sheet.push(counted(l, p, "人份", "swab", "swabs"));
        }
        let system = if differs {
            format!(
                " · {} {}",
                l.t("系统为", "system:"),
                [
                    counted(l, boxes, "箱", "box", "boxes"),
                    counted(l, tubes, "管", "tube", "tubes"),
                    counted(l, people, "人份", "swab", "swabs"),
                ]
                .join(" · ")
            )
        } else {
            String::new()
        };
        handoffs.push_str(&format!(
            r#"<li class="row2{cls}" id="handoff-{id}"><span>{} {} · {}</span><span class="muted">{}{}</span></li>"#,
            esc(&gw_domain::notify::clock_text(h.created_ms)),
            esc(&h.transporter),
            esc(&h.transporter_phone),
            esc(&sheet.join(" · ")),
            esc(&system),
            cls = if differs { " warn" } else { "" },
            id = esc(&h.id),
        ));
    }
    let tables = format!(
        r#"<section class="card"><h2>{hb}</h2><div class="scroll"><table id="bags"><thead><tr><th>{lb}</th><th>{lt}</th><th>{lp}</th><th>{lc}</th><th>{lx}</th></tr></thead><tbody>{bags}</tbody></table></div>
<h2>{hx}</h2><div class="scroll"><table id="boxes"><thead><tr><th>{lx}</th><th>{lbb}</th><th>{ltt}</th><th>{lp}</th><th>{ls}</th></tr></thead><tbody>{boxes}</tbody></table></div>
<h2>{hh}</h2><ul class="list" id="handoffs">{handoffs}</ul><p class="hint">{hint}</p></section>"#,
        hb = l.t("本点的袋", "This point's bags"),
        lb = l.t("袋", "Bag"),
        lt = l.t("系统管数", "Tubes (system)"),
        lp = l.t("人份", "Swabs"),
        lc = l.t("清点管数", "Tubes counted"),
        lx = l.t("箱", "Box"),
        hx = l.t("本点的箱", "This point's boxes"),
        lbb = l.t("袋 系统/清点", "Bags system/counted"),
        ltt = l.t("管 系统/清点", "Tubes system/counted"),
        ls = l.t("去向", "Where"),
        hh = l.t("交接记录", "Hand-overs"),
        hint = l.t(
            "红色行：清点数与系统不符。转运人员电话已脱敏。",
            "Red rows: the count differs from the system. Transporters' phones are masked."
        ),
    );
    let failed_which = out.failed.as_ref().map(|(w, _, _)| *w);
    // The form being fixed comes first, so its message is in view.
    let mut forms = vec![
        (Which::Bag, bag_form),
        (Which::Box, box_form),
        (Which::HandOff, handoff_form),
        (Which::Recount, recount_form),
    ];
    if let Some(w) = failed_which {
        forms.sort_by_key(|(x, _)| *x != w);
    }
    let forms: String = forms.into_iter().map(|(_, f)| f).collect();
    let breaks = match breaks {
        None => String::new(),
        Some([]) => format!(
            r#"<section class="card"><h2>{h}</h2><p class="notice" id="point-breaks">{ok}</p></section>"#,
            h = l.t("本点数据统计校对", "This point's count check"),
            ok = l.t(
                "从本点到实验室，各环节数量一致。",
                "Every count from this point to the lab agrees."
            ),
        ),
        Some(list) => format!(
            r#"<section class="card alerts"><h2>{h}</h2><ul class="list" id="point-breaks">{lines}</ul><p class="hint">{hint}</p></section>"#,
            h = l.t("本点数据统计校对", "This point's count check"),
            lines = list.iter().map(|m| mismatch_line(l, m)).collect::<String>(),
            hint = l.t(
                "从封管到实验室接收，本点每一处数量不符或未完成的环节都列在这里，直到查清。",
                "Every count of this point that disagrees, or step left undone, from sealing to the lab's receipt, stays listed here until it is settled."
            ),
        ),
    };
    // A refused form comes first, its refusal at the top of the page (on a
    // phone the red reconciliation box would push it out of sight); else
    // what is left to settle comes before the forms.
    let middle = if failed_which.is_some() {
        format!("{forms}{disinfection}{breaks}")
    } else {
        format!("{disinfection}{breaks}{forms}")
    };
    format!(
        r#"<p><a href="/">← {home}</a></p><h1>{name} · {h}</h1><p class="muted">{round} · {cap}</p>{done}
<section class="stats"><div><b id="n-tubes">{nt}</b><span>{lt}</span></div><div><b id="n-bags">{nb}</b><span>{lb}</span></div><div><b id="n-boxes">{nx}</b><span>{lx}</span></div></section>
{middle}{tables}{SCAN_SCRIPT}"#,
        home = l.t("首页", "Home"),
        name = esc(&v.point_name),
        h = l.t("装袋 · 装箱 · 交接", "bag · box · hand over"),
        round = esc(&v.round_name),
        cap = esc(&match l {
            Lang::Zh => format!("每袋最多 {} 管", v.bag_capacity),
            Lang::En => format!("at most {} tubes a bag", v.bag_capacity),
        }),
        nt = v.tubes_to_bag.len(),
        lt = l.t("管待装袋", "tubes to bag"),
        nb = loose_bags.len(),
        lb = l.t("袋待装箱", "bags to box"),
        nx = waiting_boxes.len(),
        lx = l.t("箱待交接", "boxes to hand over"),
    )
}

/// After a post: on to the page saying what was recorded (303, so a
/// refresh posts nothing again), or this page with the form to fix (400).
async fn answer(
    s: &AppState,
    a: &Auth,
    page: &Page,
    point: Key,
    which: Which,
    fields: Fields,
    r: Result<Done, String>,
) -> Response {
    match r {
        Ok(done) => super::redirect(&done.location(&point.to_string())),
        Err(msg) => {
            let out = Outcome {
                failed: Some((which, msg, fields)),
                done: None,
            };
            packing_page(s, a, page, &point.to_string(), StatusCode::BAD_REQUEST, out).await
        }
    }
}

/// Seals tubes into a bag (as POST /api/v1/points/{id}/bags).
pub async fn pack_bag(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    page: Page,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let l = page.lang;
    let point = match parse_key(l, &id) {
        Ok(k) => k,
        Err(e) => return page.error(e),
    };
    let f = Fields::parse(&body);
    let r = match required(f.get("counted_tubes"), ("清点管数", "the tubes counted")) {
        Err(m) => Err(m),
        Ok(counted) => {
            let tubes = codes(f.get("tubes"));
            match gw_app::handoff::pack_bag(
                &s.store,
                &s.clock,
                &a.principal,
                point,
                f.get("barcode"),
                &tubes,
                counted,
            )
            .await
            {
                Ok(p) => Ok(Done {
                    which: Which::Bag,
                    at: p.barcode,
                    again: p.replay,
                }),
                Err(e) => match form_error(e) {
                    Ok(m) => Err(m),
                    Err(e) => return page.error(e),
                },
            }
        }
    };
    answer(&s, &a, &page, point, Which::Bag, f, r).await
}

/// Packs bags into a box (as POST /api/v1/points/{id}/boxes).
pub async fn pack_box(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    page: Page,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let l = page.lang;
    let point = match parse_key(l, &id) {
        Ok(k) => k,
        Err(e) => return page.error(e),
    };
    let f = Fields::parse(&body);
    let counted = required(f.get("counted_bags"), ("清点袋数", "the bags counted")).and_then(|b| {
        required(f.get("counted_tubes"), ("清点管数", "the tubes counted")).map(|t| (b, t))
    });
    let r = match counted {
        Err(m) => Err(m),
        Ok(counted) => {
            let bags = codes(f.get("bags"));
            match gw_app::handoff::pack_box(
                &s.store,
                &s.clock,
                &a.principal,
                point,
                f.get("barcode"),
                &bags,
                counted,
            )
            .await
            {
                Ok(p) => Ok(Done {
                    which: Which::Box,
                    at: p.barcode,
                    again: p.replay,
                }),
                Err(e) => match form_error(e) {
                    Ok(m) => Err(m),
                    Err(e) => return page.error(e),
                },
            }
        }
    };
    answer(&s, &a, &page, point, Which::Box, f, r).await
}

/// A bag or box counted again (as POST /api/v1/points/{id}/recounts).
pub async fn recount(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    page: Page,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let l = page.lang;
    let point = match parse_key(l, &id) {
        Ok(k) => k,
        Err(e) => return page.error(e),
    };
    let f = Fields::parse(&body);
    let counted =
        required(f.get("counted_tubes"), ("实数管数", "the tubes counted")).and_then(|t| {
            number(f.get("counted_bags"), ("实数袋数", "the bags counted")).map(|b| (t, b))
        });
    let r = match counted {
        Err(m) => Err(m),
        Ok((tubes, bags)) => match gw_app::handoff::recount(
            &s.store,
            &s.clock,
            &a.principal,
            point,
            f.get("barcode"),
            tubes,
            bags,
            f.get("reason"),
        )
        .await
        {
            Ok(p) => Ok(Done {
                which: Which::Recount,
                at: p.barcode,
                again: false,
            }),
            Err(e) => match form_error(e) {
                Ok(m) => Err(m),
                Err(e) => return page.error(e),
            },
        },
    };
    answer(&s, &a, &page, point, Which::Recount, f, r).await
}

/// Hands boxes over to a transporter (as POST /api/v1/points/{id}/handoffs).
pub async fn hand_over(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    page: Page,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let l = page.lang;
    let point = match parse_key(l, &id) {
        Ok(k) => k,
        Err(e) => return page.error(e),
    };
    let f = Fields::parse(&body);
    let counted = (|| {
        Ok::<_, String>(Counted {
            boxes: number(
                f.get("counted_boxes"),
                ("交接单箱数", "the boxes on the sheet"),
            )?,
            tubes: required(
                f.get("counted_tubes"),
                ("交接单管数", "the tubes on the sheet"),
            )?,
            people: number(
                f.get("counted_people"),
                ("交接单人份", "the people on the sheet"),
            )?,
            per_box: Vec::new(),
        })
    })();
    let r = match counted {
        Err(m) => Err(m),
        Ok(counted) => {
            let boxes = codes(f.get("boxes"));
            let t = Transporter {
                name: f.get("name"),
                phone: f.get("phone"),
                account: "",
            };
            match gw_app::handoff::hand_over(
                &s.store,
                &s.clock,
                &a.principal,
                point,
                &boxes,
                &t,
                &counted,
            )
            .await
            {
                Ok(p) => Ok(Done {
                    which: Which::HandOff,
                    at: p.id,
                    again: p.replay,
                }),
                Err(e) => match form_error(e) {
                    Ok(m) => Err(m),
                    Err(e) => return page.error(e),
                },
            }
        }
    };
    answer(&s, &a, &page, point, Which::HandOff, f, r).await
}

// ----- the lab's receipt (on the reconciliation page) ---------------------------------------

/// The lab's receipt form for the reconciliation page: empty unless the
/// caller may receive for the round's street; with the last result or the
/// error and typed values after a post.
pub(super) async fn receipt_section(
    s: &AppState,
    a: &Auth,
    l: Lang,
    round: Key,
    after: Option<(&Fields, Result<String, String>)>,
) -> Result<String, WebError> {
    let place = gw_app::access::place_of(
        &s.store,
        "street",
        Key {
            street: round.street,
            id: round.street,
        },
    )
    .await?;
    if !a.principal.can(Action::Receive, &place, s.clock.now_ms()) {
        return Ok(String::new());
    }
    let empty = Fields::default();
    let (typed, top) = match &after {
        Some((f, Err(m))) => (*f, error_html(m)),
        Some((_, Ok(done))) => (&empty, done.clone()),
        None => (&empty, String::new()),
    };
    Ok(format!(
        r#"{top}<section class="card" id="receipt"><h2>{h}</h2>
<form method="post" action="/rounds/{round}/receipts" class="stack"><input type="hidden" name="csrf" value="{csrf}">
<label>{lb}<textarea name="boxes" rows="4" autocomplete="off" required>{bv}</textarea></label>
<label>{lt}<input name="counted_tubes" inputmode="numeric" autocomplete="off" required value="{tv}"></label>
<label>{lx}<input name="counted_boxes" inputmode="numeric" autocomplete="off" value="{xv}"></label>
<button class="primary" type="submit">{sb}</button></form><p class="hint">{hint}</p></section>"#,
        h = l.t("实验室接收", "Lab receipt"),
        csrf = esc(&a.csrf),
        lb = l.t(
            "收到的箱条码（逐箱扫入，一行一个；可在条码后写该箱清点管数，如 BOX0001 38）",
            "Box barcodes received (scan each, one a line; a line may add the tubes counted in that box, as BOX0001 38)"
        ),
        bv = esc(typed.get("boxes")),
        lt = l.t("实验室清点管数", "Tubes the lab counted"),
        tv = esc(typed.get("counted_tubes")),
        lx = l.t("清点箱数（可不填）", "Boxes counted (optional)"),
        xv = esc(typed.get("counted_boxes")),
        sb = l.t("确认接收", "Record the receipt"),
        hint = l.t(
            "清点数与交接单或系统不符时会标红，并记入数据统计校对。",
            "A count that differs from the hand-over sheet or the system is shown in red and kept in the reconciliation."
        ),
    ))
}

/// The lab receives boxes (as POST /api/v1/rounds/{id}/receipts).
pub async fn receive(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    page: Page,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let l = page.lang;
    let round = match parse_key(l, &id) {
        Ok(k) => k,
        Err(e) => return page.error(e),
    };
    let f = Fields::parse(&body);
    let (boxes, per_box) = boxes_and_counts(f.get("boxes"));
    let counted = (|| {
        Ok::<_, String>(Counted {
            boxes: number(f.get("counted_boxes"), ("清点箱数", "the boxes counted"))?,
            tubes: required(
                f.get("counted_tubes"),
                ("实验室清点管数", "the tubes counted"),
            )?,
            people: None,
            per_box,
        })
    })();
    let r = match counted {
        Err(m) => Err(m),
        Ok(counted) => {
            match gw_app::handoff::receive(
                &s.store,
                &s.clock,
                &a.principal,
                round,
                &boxes,
                &counted,
            )
            .await
            {
                // On to the reconciliation page saying so: a refresh posts nothing.
                Ok(p) => {
                    return super::redirect(&format!(
                        "/rounds/{round}/reconciliation?received={}{}",
                        query_value(&p.id),
                        if p.replay { "&again=1" } else { "" }
                    ))
                }
                Err(e) => match form_error(e) {
                    Ok(m) => Err(m),
                    Err(e) => return page.error(e),
                },
            }
        }
    };
    let section = match receipt_section(&s, &a, l, round, Some((&f, r))).await {
        Ok(h) => h,
        Err(e) => return page.error(e),
    };
    match super::rounds::reconciliation_body(&s, &a, l, &id, Some(section)).await {
        Ok((title, body)) => page.render(StatusCode::BAD_REQUEST, &title, &body),
        Err(e) => page.error(e),
    }
}

/// The receipt form of the reconciliation page the receipt form leads to
/// (`?received=RECEIPT`, `&again=1` for a receipt repeated exactly): the
/// receipt as recorded above the empty form. `None` for any other address,
/// or a receipt the reader may not see.
pub(super) async fn receipt_after_post(
    s: &AppState,
    a: &Auth,
    page: &Page,
    round: &str,
) -> Option<String> {
    let l = page.lang;
    let q = Some(page.query.as_str());
    let receipt: Key = super::query_param(q, "received")?.parse().ok()?;
    let round: Key = round.parse().ok()?;
    let p = gw_app::handoff::receipt_at(&s.store, &s.clock, &a.principal, round, receipt)
        .await
        .ok()?;
    let p = gw_app::handoff::Packed {
        replay: super::query_param(q, "again").as_deref() == Some("1"),
        ..p
    };
    let done = packed_html_at(
        l,
        &format!(
            "{} {}",
            l.t("实验室已接收", "Received at the lab:"),
            counted(l, p.boxes.unwrap_or(0), "箱", "box", "boxes")
        ),
        &p,
        false,
    );
    receipt_section(s, a, l, round, Some((&Fields::default(), Ok(done))))
        .await
        .ok()
}

// ----- abnormal pools and what was done -------------------------------------------------------

pub(super) fn alert_state(l: Lang, kind: &str, state: &str) -> (&'static str, &'static str) {
    match state {
        // A single-tube retest came back abnormal: nothing left to retest.
        "open" | "confirmed" if kind == "confirmed" => (
            "bad",
            l.t(
                "已确认 · 单管复检异常，待转运和流调",
                "confirmed · a single-tube retest was abnormal: transfer and tracing",
            ),
        ),
        "open" => ("bad", l.t("处置中 · 待复检", "open · retests pending")),
        "cleared" => (
            "open",
            l.t("已排除 · 复检均阴性", "cleared · every retest negative"),
        ),
        "confirmed" => (
            "bad",
            l.t("已确认 · 复检有异常", "confirmed · a retest was abnormal"),
        ),
        "withdrawn" => (
            "",
            l.t(
                "已撤销 · 实验室更正了结果",
                "withdrawn · the lab corrected the result",
            ),
        ),
        _ => ("", l.t("未知", "unknown")),
    }
}

/// What was done about an alert, in the words its state calls for (the
/// round's page, the lab's upload summary, a correction's answer and the
/// alerts page say it alike): a pool still being dealt with, whom it traced,
/// the households under temporary control and the retests still to take; a
/// cleared one, that every retest came back negative (never "0 to retest");
/// a confirmed or withdrawn one, so.
pub(super) fn alert_done(l: Lang, al: &gw_app::testing::AlertView) -> String {
    let (n, h, r) = (
        al.member_count,
        al.households_under_control,
        al.retests_open,
    );
    if al.kind == "confirmed" {
        return match l {
            Lang::Zh => format!("单管复检异常，{n} 人确认，{h} 户临时管控"),
            Lang::En => format!(
                "a single-tube retest abnormal: {n} confirmed, {h} households under temporary control"
            ),
        };
    }
    match al.state.as_str() {
        "cleared" => match l {
            Lang::Zh => format!("{n} 人单管复检均阴性，已排除"),
            Lang::En => format!("{n} people retested in single tubes, all negative: cleared"),
        },
        "withdrawn" => l
            .t(
                "实验室更正了结果，已撤销",
                "the lab corrected the result: withdrawn",
            )
            .to_string(),
        "confirmed" => match l {
            Lang::Zh => format!("已追踪 {n} 人，单管复检有异常，已确认；{h} 户临时管控"),
            Lang::En => format!(
                "{n} people traced, a single-tube retest abnormal: confirmed; {h} households under temporary control"
            ),
        },
        _ => {
            let exempt = match (l, al.retests_exempt) {
                (_, 0) => String::new(),
                (Lang::Zh, e) => format!("（另有 {e} 人免检，未复检）"),
                (Lang::En, e) => format!(" ({e} more exempt, not retested)"),
            };
            // Swabbed already, waiting for the result: not to retest.
            let swabbed = match (l, al.retests_swabbed) {
                (_, 0) => String::new(),
                (Lang::Zh, w) => format!("，{w} 人已采待结果"),
                (Lang::En, w) => format!(", {w} swabbed, result pending"),
            };
            match l {
                Lang::Zh => format!(
                    "已追踪 {n} 人，{h} 户临时管控，{r} 人待单管复检{swabbed}{exempt}"
                ),
                Lang::En => format!(
                    "{n} people traced, {h} households under temporary control, {r} to retest in single tubes{swabbed}{exempt}"
                ),
            }
        }
    }
}

/// An alert in one line: `混管异常 X（点）：` and what was done about it.
pub(super) fn alert_line(l: Lang, al: &gw_app::testing::AlertView, point: &str) -> String {
    let kind = if al.kind == "confirmed" {
        l.t("单管复检异常", "Single-tube retest abnormal")
    } else {
        l.t("混管异常", "Abnormal pool")
    };
    let done = if al.kind == "confirmed" {
        match l {
            Lang::Zh => format!("{} 人确认", al.member_count),
            Lang::En => format!("{} people confirmed", al.member_count),
        }
    } else {
        alert_done(l, al)
    };
    match l {
        Lang::Zh => format!("{kind} {}（{point}）：{done}", al.barcode),
        Lang::En => format!("{kind} {} ({point}): {done}", al.barcode),
    }
}

fn retest_state(l: Lang, state: &str) -> (&'static str, &'static str) {
    match state {
        "open" => ("", l.t("待复检", "retest open")),
        "cleared" => ("open", l.t("复检阴性", "negative")),
        "confirmed" => ("bad", l.t("复检异常", "abnormal")),
        "withdrawn" => (
            "",
            l.t("已取消（结果更正）", "cancelled (result corrected)"),
        ),
        _ => ("", l.t("未知", "unknown")),
    }
}

fn delivery_state(l: Lang, state: &str) -> (&'static str, &'static str) {
    match state {
        "delivered" => ("open", l.t("已送达", "delivered")),
        "pending" => ("", l.t("发送中（重试）", "sending (retrying)")),
        "failed" => ("bad", l.t("发送失败", "failed")),
        "expired" => ("bad", l.t("已过期，未发送", "expired, not sent")),
        _ => ("", l.t("未知", "unknown")),
    }
}

pub async fn alerts(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    page: Page,
    Path(id): Path<String>,
) -> Response {
    page.answer(alerts_body(&s, &a, page.lang, &id, &Default::default()).await)
}

/// Shows the full phone numbers of one alert's members (form field `alert`)
/// to whoever may reveal phones where they live; each read is in the audit
/// log. Members outside the caller's reveal right stay masked.
pub async fn alerts_reveal_phones(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    page: Page,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let l = page.lang;
    let alert = Fields::parse(&body).get("alert").to_string();
    let revealed = async {
        let round = parse_key(l, &id)?;
        let list = gw_app::alerts::details(&s.store, &s.clock, &a.principal, round).await?;
        let d = list
            .iter()
            .find(|d| d.alert.alert == alert)
            .ok_or_else(|| WebError::not_found(l.t("没有这条预警", "No such alert")))?;
        let ids: Vec<&str> = d.alert.members.iter().map(|m| m.id.as_str()).collect();
        super::reveal_phones(&s, &a, l, &ids).await
    }
    .await;
    let revealed = match revealed {
        Ok(r) => r,
        Err(e) => return page.error(e),
    };
    page.answer(alerts_body(&s, &a, l, &id, &revealed).await)
}

/// `revealed`: full phone numbers by member id, for the members just revealed.
async fn alerts_body(
    s: &AppState,
    a: &Auth,
    l: Lang,
    id: &str,
    revealed: &std::collections::HashMap<String, Vec<String>>,
) -> Result<(String, String), WebError> {
    let round = parse_key(l, id)?;
    let r = s.store.round(round.street, round.id).await?;
    let list = gw_app::alerts::details(&s.store, &s.clock, &a.principal, round).await?;
    let full = full_names(s, a);
    let now = s.clock.now_ms();
    let may_reveal = a.principal.can_somewhere(
        gw_domain::access::Action::Reveal(gw_domain::access::Field::Phone),
        now,
    );
    let mut out = String::new();
    for d in &list {
        let al = &d.alert;
        let (cls, label) = alert_state(l, &al.kind, &al.state);
        let kind = match al.kind.as_str() {
            "confirmed" => l.t("单管复检异常", "single-tube retest abnormal"),
            _ => l.t("混管异常", "abnormal pool"),
        };
        let mut members = String::new();
        for m in &al.members {
            let retest =
                d.retests
                    .iter()
                    .find(|t| t.resident == m.id)
                    .map_or_else(String::new, |t| {
                        let (c, lbl) = if t.exempt {
                            ("", l.t("免检（未复检）", "exempt (not retested)"))
                        } else if t.swabbed {
                            ("", l.t("已采，待结果", "swabbed, result pending"))
                        } else {
                            retest_state(l, &t.state)
                        };
                        format!(r#" <span class="tag {c}">{}</span>"#, esc(lbl))
                    });
            let phones: Vec<&str> = match revealed.get(&m.id) {
                Some(full) => full.iter().map(String::as_str).collect(),
                None => m.phones.iter().map(|p| p.number.as_str()).collect(),
            };
            members.push_str(&person_row(
                &m.name,
                full,
                m.address.as_deref(),
                &phones.join(" "),
                &retest,
            ));
        }
        let mut households = String::new();
        for h in &d.households {
            let status = match (l, h.status_zh, h.status) {
                (Lang::Zh, Some(zh), _) => zh.to_string(),
                (Lang::En, _, Some(code)) => code.replace('_', " "),
                _ => l.t("已解除", "lifted").to_string(),
            };
            households.push_str(&format!(
                r#"<li class="row2"><a href="/households/{hk}">{addr}</a><span class="tag {c}">{st}</span></li>"#,
                hk = esc(&h.household),
                addr = esc(h.address.as_deref().unwrap_or(&h.household)),
                c = if h.status.is_some() { "bad" } else { "" },
                st = esc(&status),
            ));
        }
        // Swabbed, waiting for the result, apart from those still to swab.
        let (open, swabbed, neg, abn) =
            d.retests
                .iter()
                .fold((0, 0, 0, 0), |(o, w, n, x), t| match t.state.as_str() {
                    "open" if t.swabbed => (o, w + 1, n, x),
                    "open" => (o + 1, w, n, x),
                    "cleared" => (o, w, n + 1, x),
                    "confirmed" => (o, w, n, x + 1),
                    _ => (o, w, n, x),
                });
        let retests = if d.retests.is_empty() {
            l.t("无单管复检。", "No single-tube retest.").to_string()
        } else if al.state == "cleared" && al.kind != "confirmed" {
            // Said as the round's page says it: nothing is still to retest.
            alert_done(l, al)
        } else {
            match l {
                Lang::Zh => format!(
                    "待复检 {open} 人 · 已采待结果 {swabbed} 人 · 阴性 {neg} 人 · 异常 {abn} 人"
                ),
                Lang::En => format!(
                    "{open} open · {swabbed} swabbed, result pending · {neg} negative · {abn} abnormal"
                ),
            }
        };
        let disinfection = match &d.disinfection {
            Some(t) if t.state == "done" => format!(
                r#"<span class="tag open">{} {}</span>"#,
                l.t("消杀已完成", "disinfected"),
                esc(&gw_domain::notify::clock_text(
                    t.done_ms.unwrap_or(t.created_ms)
                ))
            ),
            Some(t) if t.state == "withdrawn" => format!(
                r#"<span class="tag">{}</span>"#,
                l.t(
                    "消杀已撤销：结果更正为非异常",
                    "disinfection withdrawn: the result was corrected"
                )
            ),
            Some(_) => format!(
                r#"<span class="tag bad">{}</span> <a href="/rounds/{round}/disinfection">{}</a>"#,
                l.t("消杀未完成", "not disinfected yet"),
                l.t("去消杀任务", "disinfection tasks")
            ),
            // The point is outside the reader's area: the task is there,
            // its state is the point's and the street's to read.
            None if d.disinfection_elsewhere => format!(
                r#"<span class="muted disinfection-elsewhere">{}</span>"#,
                l.t(
                    "已派消杀任务：采样点不在您的辖区内，由采样点和街道跟进",
                    "A disinfection task was opened: the point is outside your area, its staff and the street follow it up"
                )
            ),
            None => format!(
                r#"<span class="muted">{}</span> <a href="/rounds/{round}/disinfection">{}</a>"#,
                l.t("无消杀任务", "no task"),
                l.t("消杀任务", "disinfection tasks")
            ),
        };
        let notifications = match &d.notifications {
            None => String::new(),
            Some(ns) if ns.is_empty() => format!(
                r#"<h3>{}</h3><p class="muted">{}</p>"#,
                l.t("群通知", "Group messages"),
                l.t(
                    "未发送：本街道没有配置预警群机器人。",
                    "None sent: the street has no alert channel."
                )
            ),
            Some(ns) => {
                let mut li = String::new();
                for n in ns {
                    let (c, lbl) = delivery_state(l, &n.notification.state);
                    li.push_str(&format!(
                        r#"<li class="row2" data-what="{w}"><span><b>{what}</b> {kind} <span class="muted">{at} · {tries} {lt}</span></span><span class="tag {c}">{lbl}</span></li>"#,
                        w = esc(n.notification.what),
                        what = esc(super::channels::what_label(l, n.notification.what)),
                        kind = esc(&super::channels::kind_label(l, &n.channel_kind)),
                        at = esc(&gw_domain::notify::clock_text(
                            n.notification.delivered_ms.unwrap_or(n.notification.created_ms)
                        )),
                        tries = n.notification.attempts,
                        lt = l.t("次尝试", "attempts"),
                        lbl = esc(lbl),
                    ));
                }
                format!(
                    r#"<h3>{}</h3><ul class="list notifications">{li}</ul>"#,
                    l.t("群通知", "Group messages")
                )
            }
        };
        out.push_str(&format!(
            r#"<section class="card alerts" id="alert-{ak}"><h2>{lt} {barcode} <span class="tag {cls}">{label}</span></h2>
<p class="muted">{kind} · {point} · {at}</p>
<h3>{lm} ({nm})</h3><ul class="list members">{members}</ul>{reveal}{unidentified}
<h3>{lh} ({nh})</h3><ul class="list households">{households}</ul>
<h3>{lr}</h3><p class="retests">{retests}</p>
<h3>{ld}</h3><p class="disinfection">{disinfection}</p>{notifications}</section>"#,
            ak = esc(&al.alert),
            lt = l.t("异常管", "Tube"),
            barcode = esc(&al.barcode),
            label = esc(label),
            kind = esc(kind),
            point = esc(&d.point_name),
            at = esc(&gw_domain::notify::clock_text(al.created_ms)),
            lm = if al.kind == "confirmed" {
                l.t("被检人员", "Person tested")
            } else {
                l.t("混管人员", "Members")
            },
            reveal = if may_reveal && !al.members.is_empty() && !al.members.iter().any(|m| revealed.contains_key(&m.id)) {
                format!(
                    r#"<form method="post" action="/rounds/{round}/alerts#alert-{ak}" class="noprint"><input type="hidden" name="csrf" value="{csrf}"><input type="hidden" name="alert" value="{ak}"><button type="submit" class="reveal-phones">{b}</button></form>"#,
                    ak = esc(&al.alert),
                    csrf = esc(&a.csrf),
                    b = l.t("显示成员完整电话（记入审计日志）", "Show the members' full phone numbers (audited)"),
                )
            } else {
                String::new()
            },
            nm = if al.members.len() == al.member_count {
                al.member_count.to_string()
            } else {
                format!("{}/{}", al.members.len(), al.member_count)
            },
            unidentified = if al.member_count == 0 && al.unidentified == 0 && al.kind != "confirmed" {
                format!(
                    r#"<p class="error unidentified">{}</p>"#,
                    l.t(
                        "此管没有登记到任何人：请立即核对采样点的纸质记录和扫码设备，找出管内的人",
                        "Nobody is registered in this tube: check the point's paper records and stations now to find who is in it"
                    )
                )
            } else if al.unidentified > 0 {
                let owners: Vec<String> = al
                    .revoked_code_owners
                    .iter()
                    .map(|m| person_row(&m.name, full, m.address.as_deref(), "", ""))
                    .collect();
                let owners = if al.revoked_code_count > 0 {
                    format!(
                        r#"<p class="muted">{}</p><ul class="list revoked-owners">{}</ul>"#,
                        esc(&match l {
                            Lang::Zh => format!(
                                "其中 {} 份用的是已作废的旧码，旧码原属以下居民，请核实是否本人：",
                                al.revoked_code_count
                            ),
                            Lang::En => format!(
                                "{} of them used a revoked code; it was issued to these residents: check whether it was them:",
                                al.revoked_code_count
                            ),
                        }),
                        owners.join("")
                    )
                } else {
                    String::new()
                };
                format!(
                    r#"<p class="error unidentified">{}</p>{owners}"#,
                    esc(&match l {
                        Lang::Zh => format!(
                            "另有 {} 份样本对应不到人（码无效或无法识别），请按采样点记录核查",
                            al.unidentified
                        ),
                        Lang::En => format!(
                            "{} more swabs name nobody (a bad or unreadable code): check the point's records",
                            al.unidentified
                        ),
                    })
                )
            } else {
                String::new()
            },
            lh = l.t("临时管控的住户", "Households under temporary control"),
            nh = d.households.len(),
            lr = l.t("单管复检", "Single-tube retests"),
            ld = l.t("采样点消杀", "Disinfection of the point"),
        ));
    }
    if out.is_empty() {
        out = format!(
            r#"<section class="card"><p class="notice" id="no-alerts">{}</p></section>"#,
            l.t("本轮暂无异常管。", "No abnormal pool in this round.")
        );
    }
    let body = format!(
        r#"<p><a href="/rounds/{round}">← {back}</a></p><h1>{h}</h1><p class="muted">{n} {ln} · {masked}</p>{out}"#,
        back = esc(&r.name),
        h = l.t("异常管与处置", "Abnormal pools and what was done"),
        n = list.len(),
        ln = l.t("条", "alerts"),
        masked = if revealed.is_empty() {
            l.t(
                "只列出您辖区内的人员；证件号和电话已脱敏",
                "only the people of your area are listed; document numbers and phones are masked",
            )
        } else {
            l.t(
                "只列出您辖区内的人员；证件号已脱敏，此处显示的完整电话已记入审计日志",
                "only the people of your area are listed; document numbers are masked, the full phone numbers shown here are in the audit log",
            )
        },
    );
    Ok((format!("{} · {}", r.name, l.t("异常处置", "alerts")), body))
}

/// One person of an alert as a list row: the name (masked unless `full`),
/// the address and `detail` (their phones) muted beside it, `tail` (a tag)
/// at the right.
fn person_row(name: &str, full: bool, address: Option<&str>, detail: &str, tail: &str) -> String {
    let name = if full {
        name.to_string()
    } else {
        gw_domain::mask::name(name)
    };
    let muted = match (address.unwrap_or(""), detail) {
        (a, "") => esc(a),
        (a, d) => format!("{} {}", esc(a), esc(d)),
    };
    format!(
        r#"<li class="row2"><span>{} <span class="muted">{muted}</span></span>{tail}</li>"#,
        esc(&name)
    )
}

/// A point's disinfection tasks on its own pages (the point's page and its
/// packing page): open ones first, each with the 消杀完成 button for whoever
/// manages the point's stations. `from` (`point` or `packing`): the page the
/// button comes back to. Empty when the point has none, or for a reader the
/// point's tasks are not for.
pub(super) async fn point_disinfection_section(
    s: &AppState,
    a: &Auth,
    page: &Page,
    point: Key,
    from: &str,
) -> Result<String, WebError> {
    let l = page.lang;
    let d = match gw_app::alerts::point_disinfection(&s.store, &s.clock, &a.principal, point).await
    {
        Ok(d) => d,
        Err(AuthError::Forbidden(_)) => return Ok(String::new()),
        Err(e) => return Err(e.into()),
    };
    let mut tasks = d.tasks;
    tasks.sort_by_key(|t| (t.state != "open", t.created_ms));
    let round = if tasks.is_empty() {
        0
    } else {
        s.store.point(point.street, point.id).await?.round_id
    };
    let tubes = super::rounds::alert_tubes(
        s,
        Key {
            street: point.street,
            id: round,
        },
    )
    .await?;
    let mut li = String::new();
    for t in &tasks {
        // Which pool: two tasks of one point (one withdrawn by a correction)
        // otherwise read the same.
        let after = format!(
            "{} {}{}",
            l.t("异常管后派发", "opened after an abnormal pool,"),
            gw_domain::notify::clock_text(t.created_ms),
            super::rounds::tube_of(l, &tubes, &t.alert),
        );
        let (what, action) = match t.state.as_str() {
            "open" => (
                format!(r#"<b class="warn">{}</b>"#, l.t("待消杀", "to disinfect")),
                if d.may_mark_done {
                    format!(
                        r#"<form method="post" action="/disinfection/{task}/done" class="inline"><input type="hidden" name="csrf" value="{csrf}"><input type="hidden" name="from" value="{from}"><input type="hidden" name="point" value="{point}"><button class="primary" type="submit">{b}</button></form>"#,
                        task = esc(&t.task),
                        csrf = esc(&a.csrf),
                        from = esc(from),
                        b = l.t("消杀完成", "Mark done"),
                    )
                } else {
                    format!(
                        r#"<span class="tag bad">{}</span>"#,
                        l.t("待负责人标记完成", "for the manager to mark done")
                    )
                },
            ),
            "done" => (
                format!("<b>{}</b>", l.t("消杀已完成", "Disinfected")),
                format!(
                    r#"<span class="tag open">{}</span>"#,
                    esc(&gw_domain::notify::clock_text(
                        t.done_ms.unwrap_or(t.created_ms)
                    ))
                ),
            ),
            _ => (
                format!("<b>{}</b>", l.t("消杀已撤销", "Disinfection withdrawn")),
                format!(
                    r#"<span class="tag">{}</span>"#,
                    l.t("结果更正为非异常", "the result was corrected")
                ),
            ),
        };
        li.push_str(&format!(
            r#"<li class="row2 task-{state}"><span>{what} <span class="muted">{after}</span></span>{action}</li>"#,
            state = esc(&t.state),
            after = esc(&after),
        ));
    }
    if li.is_empty() {
        return Ok(String::new());
    }
    let open = tasks.iter().any(|t| t.state == "open");
    Ok(format!(
        r#"<section class="card{cls}" id="disinfection"><h2>{h}</h2>{already}<ul class="list" id="point-disinfection">{li}</ul>{hint}</section>"#,
        already = super::rounds::done_already(page),
        cls = if open { " alerts" } else { "" },
        h = l.t("采样点消杀", "Disinfection of this point"),
        hint = if open {
            format!(
                r#"<p class="hint">{}</p>"#,
                l.t(
                    "本点有混管异常：按规范对采样场地消杀后，由采样点负责人点“消杀完成”。",
                    "A pool from this point was abnormal: disinfect the site as the rules say, then the point's manager marks it done."
                )
            )
        } else {
            String::new()
        },
    ))
}
