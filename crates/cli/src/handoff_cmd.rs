//! `gridwarden supplies …`, `gridwarden handoff …` and `gridwarden station …`:
//! supplies issued to points, packing tubes into bags and boxes, the hand-over
//! to the transporter, the lab's receipt and the count reconciliation (数据统计校对),
//! and the scanning stations of a point, from the command line as the
//! machine's operator (audited as `cli:USER`).

use anyhow::{Context, Result};
use clap::Subcommand;
use gw_app::Clock;

use crate::open;
use crate::round_cmd::{key, operator};
use crate::DbArg;

/// The exit code of a count that differs (stored and flagged): not 2, which
/// is a usage error (a flag mistyped: nothing stored), nor 1 (refused).
const MISMATCH_EXIT: i32 = 3;

#[derive(Subcommand)]
pub enum SuppliesCmd {
    /// Record supplies issued to a point: tubes by barcode range (--first/--last) or
    /// --batch, kits, protective gear.
    Issue {
        /// Testing point id, STREET-ID.
        #[arg(long)]
        point: String,
        /// tubes, kits or protective_gear.
        #[arg(long)]
        kind: String,
        /// How many (a barcode range counts itself).
        #[arg(long)]
        quantity: Option<u64>,
        /// First barcode of a range of tubes.
        #[arg(long, requires = "last")]
        first: Option<String>,
        /// Last barcode of a range of tubes.
        #[arg(long, requires = "first")]
        last: Option<String>,
        /// A batch of tubes: the code their barcodes start with.
        #[arg(long, conflicts_with = "first")]
        batch: Option<String>,
        /// Who took them at the point.
        #[arg(long, default_value = "")]
        received_by: String,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: DbArg,
    },
    /// List supplies issued to a point.
    List {
        #[arg(long)]
        point: String,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: DbArg,
    },
}

#[derive(Subcommand)]
pub enum HandoffCmd {
    /// Every count along point → bag → box → hand-off → lab that does not match,
    /// with the step where it broke. Exits 3 when any count does not match (1 on errors).
    Report {
        /// Round id, STREET-ID.
        #[arg(long)]
        round: String,
        /// Only this point (STREET-ID).
        #[arg(long)]
        point: Option<String>,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: DbArg,
    },
    /// A point's packing table: closed tubes not yet bagged, its bags and boxes
    /// with the system's and the packers' counts, its hand-overs.
    Packing {
        /// Testing point id, STREET-ID.
        #[arg(long)]
        point: String,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: DbArg,
    },
    /// Pack closed tubes into a sealed bag (装袋): the bag's barcode, the tubes'
    /// barcodes and how many tubes the packer counted. A tube unknown, elsewhere,
    /// open or already bagged, or more than the bag holds: refused, nothing stored.
    /// A count that differs is stored and flagged (exit 3).
    Bag {
        #[arg(long)]
        point: String,
        /// The bag's barcode.
        #[arg(long)]
        bag: String,
        /// Tube barcodes (repeat, or separate by commas or spaces).
        #[arg(long = "tube", required = true, num_args = 1..)]
        tubes: Vec<String>,
        /// Tubes the packer counted in the bag.
        #[arg(long)]
        counted: i64,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: DbArg,
    },
    /// Pack sealed bags into a box (装箱), with the bags and tubes counted.
    /// A count that differs is stored and flagged (exit 3).
    Box {
        #[arg(long)]
        point: String,
        /// The box's barcode.
        #[arg(long = "box")]
        box_code: String,
        /// Bag barcodes (repeat, or separate by commas or spaces).
        #[arg(long = "bag", required = true, num_args = 1..)]
        bags: Vec<String>,
        /// Bags counted in the box.
        #[arg(long)]
        counted_bags: i64,
        /// Tubes counted in the box.
        #[arg(long)]
        counted_tubes: i64,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: DbArg,
    },
    /// Count a bag or box of the point again (重新清点), before its box is
    /// handed over: the count typed at packing was wrong. The reason is
    /// required and audited with the old and new counts; the step is checked
    /// again (exit 3 when it still differs).
    Recount {
        #[arg(long)]
        point: String,
        /// The bag's or box's barcode.
        #[arg(long)]
        barcode: String,
        /// Tubes counted.
        #[arg(long)]
        counted_tubes: i64,
        /// Bags counted (a box only).
        #[arg(long)]
        counted_bags: Option<i64>,
        /// Why (say: miscounted when sealing).
        #[arg(long)]
        reason: String,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: DbArg,
    },
    /// Hand a point's boxes to the transporter (交接): the boxes scanned, who
    /// takes them (--transporter NAME --phone P, or --account USER) and the
    /// hand-over sheet's counts. A count that differs is stored and flagged
    /// (exit 3). The same hand-over given again is answered from the record.
    HandOver {
        #[arg(long)]
        point: String,
        /// Box barcodes (repeat, or separate by commas or spaces).
        #[arg(long = "box", required = true, num_args = 1..)]
        boxes: Vec<String>,
        /// The transporter's name (required with --phone, unless --account).
        #[arg(long, required_unless_present = "account")]
        transporter: Option<String>,
        /// The transporter's phone (required unless --account).
        #[arg(long, required_unless_present = "account")]
        phone: Option<String>,
        /// The transporter's account (a user of this system), instead of or
        /// beside a name and phone.
        #[arg(long)]
        account: Option<String>,
        /// Boxes on the sheet (default: the number scanned).
        #[arg(long)]
        counted_boxes: Option<i64>,
        /// Tubes on the sheet.
        #[arg(long)]
        counted_tubes: i64,
        /// People on the sheet.
        #[arg(long)]
        counted_people: Option<i64>,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: DbArg,
    },
    /// The lab's receipt (实验室接收): the boxes it scanned and the tubes it
    /// counted. A count that differs is stored and flagged (exit 3).
    Receive {
        /// Round id, STREET-ID.
        #[arg(long)]
        round: String,
        /// Box barcodes (repeat, or separate by commas or spaces).
        #[arg(long = "box", required = true, num_args = 1..)]
        boxes: Vec<String>,
        /// Boxes the lab counted (default: the number scanned).
        #[arg(long)]
        counted_boxes: Option<i64>,
        /// Tubes the lab counted.
        #[arg(long)]
        counted_tubes: i64,
        /// Tubes counted in one box, BOX=N (repeat for each box counted on its own).
        #[arg(long = "box-tubes", value_name = "BOX=N")]
        box_tubes: Vec<String>,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: DbArg,
    },
    /// Set how many tubes go into one bag in a round (20 unless set); bags
    /// already holding more are named (they stay as they are).
    BagCapacity {
        #[arg(long)]
        round: String,
        #[arg(long)]
        tubes: u32,
        #[command(flatten)]
        db: DbArg,
    },
}

pub async fn supplies_cmd(c: SuppliesCmd, clock: &Clock) -> Result<()> {
    match c {
        SuppliesCmd::Issue {
            point,
            kind,
            quantity,
            first,
            last,
            batch,
            received_by,
            json,
            db,
        } => {
            let store = open(&db).await?;
            let point = key(&point, "--point")?;
            let range = first.as_deref().zip(last.as_deref());
            let v = gw_app::handoff::issue_supplies(
                &store,
                clock,
                &operator(),
                point,
                &gw_app::handoff::NewSupply {
                    kind: &kind,
                    quantity,
                    range,
                    batch: batch.as_deref(),
                    received_by: &received_by,
                },
            )
            .await?;
            if json {
                println!("{}", serde_json::to_string(&v)?);
            } else {
                let what = match (&v.first_barcode, &v.last_barcode, &v.batch) {
                    (Some(a), Some(b), _) => format!(" {a} … {b}"),
                    (_, _, Some(b)) => format!(" 批次 batch {b}"),
                    _ => String::new(),
                };
                println!(
                    "已发放 issued {} {} {}{what} → 采样点 point {}（发放记录 supply {}）",
                    v.quantity, v.kind_zh, v.kind, v.point, v.id
                );
            }
            Ok(())
        }
        SuppliesCmd::List { point, json, db } => {
            let store = open(&db).await?;
            let point = key(&point, "--point")?;
            let items = gw_app::handoff::supplies(&store, clock, &operator(), point).await?;
            if json {
                println!("{}", serde_json::to_string(&items)?);
            } else {
                print!("{}", supplies_table(&items));
            }
            Ok(())
        }
    }
}

/// How many columns `s` takes in a terminal: a Chinese character (or a
/// full-width form) two, anything else one.
fn cols(s: &str) -> usize {
    s.chars()
        .map(|c| if (c as u32) >= 0x2E80 { 2 } else { 1 })
        .sum()
}

/// `s` padded with spaces to `w` columns.
fn pad(s: &str, w: usize) -> String {
    format!("{s}{}", " ".repeat(w.saturating_sub(cols(s))))
}

/// `gridwarden supplies list`: a header (Chinese first), one aligned row per
/// issue, then the total issued of each kind.
fn supplies_table(items: &[gw_app::handoff::SupplyView]) -> String {
    use gw_domain::handoff::SupplyKind;
    if items.is_empty() {
        return "尚未发放物资 / nothing issued yet\n".to_string();
    }
    let kind = |code: &str| {
        SupplyKind::from_code(code).map_or(code.to_string(), |k| {
            format!("{} {}", k.label_zh(), k.code())
        })
    };
    let head = [
        "发放记录 supply",
        "物资 kind",
        "数量 quantity",
        "条码段或批次 range/batch",
        "接收人 received by",
        "发放时间 issued",
    ];
    let mut rows: Vec<[String; 6]> = vec![head.map(String::from)];
    for v in items {
        let what = match (&v.first_barcode, &v.last_barcode, &v.batch) {
            (Some(a), Some(b), _) => format!("{a} … {b}"),
            (_, _, Some(b)) => format!("批次 batch {b}"),
            _ => "—".into(),
        };
        rows.push([
            v.id.clone(),
            kind(&v.kind),
            v.quantity.to_string(),
            what,
            if v.received_by.is_empty() {
                "—".into()
            } else {
                v.received_by.clone()
            },
            gw_domain::notify::clock_text(v.issued_ms),
        ]);
    }
    let body = rows.len();
    // The total of each kind, in the kinds' order.
    for k in SupplyKind::ALL {
        let issued: Vec<&gw_app::handoff::SupplyView> =
            items.iter().filter(|v| v.kind == k.code()).collect();
        if issued.is_empty() {
            continue;
        }
        let total: i64 = issued.iter().map(|v| v.quantity).sum();
        rows.push([
            "合计 total".into(),
            kind(k.code()),
            total.to_string(),
            format!("{} 次发放 issues", issued.len()),
            String::new(),
            String::new(),
        ]);
    }
    let mut width = [0usize; 6];
    for r in &rows {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(cols(c));
        }
    }
    let line = |r: &[String; 6]| {
        let cells: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if i == 2 {
                    // Quantities right-aligned.
                    format!("{}{c}", " ".repeat(width[i].saturating_sub(cols(c))))
                } else {
                    pad(c, width[i])
                }
            })
            .collect();
        format!("{}\n", cells.join("  ").trim_end())
    };
    let mut out = String::new();
    for (i, r) in rows.iter().enumerate() {
        if i == body {
            let total: usize = width.iter().sum::<usize>() + 2 * (width.len() - 1);
            out.push_str(&"-".repeat(total));
            out.push('\n');
        }
        out.push_str(&line(r));
    }
    out
}

pub async fn handoff_cmd(c: HandoffCmd, clock: &Clock) -> Result<()> {
    match c {
        HandoffCmd::Report {
            round,
            point,
            json,
            db,
        } => {
            let store = open(&db).await?;
            let round = key(&round, "--round")?;
            let point: Option<gw_domain::ids::Key> = point
                .map(|p| p.parse().context("--point STREET-ID"))
                .transpose()?;
            let r = gw_app::handoff::report(&store, clock, &operator(), round, point).await?;
            if json {
                println!("{}", serde_json::to_string(&r)?);
            } else {
                println!(
                    "轮次 round {}（每袋最多 {} 管 / bag capacity {}）：采样点 point  未封管 open  已封管 closed  已装袋 bagged  已装箱 boxed  已交接 handed over  实验室已收 received（管/人份 tubes/swabs）",
                    r.round, r.bag_capacity, r.bag_capacity
                );
                for s in &r.steps {
                    let t = &s.totals;
                    let f = |x: &gw_domain::handoff::Tally| format!("{}/{}", x.tubes, x.people);
                    println!(
                        "  {} {}  {}  {}  {}  {}  {}  {}",
                        t.point,
                        s.name,
                        t.open_tubes,
                        f(&t.closed),
                        f(&t.bagged),
                        f(&t.boxed),
                        f(&t.handed_over),
                        f(&t.received)
                    );
                }
                for s in &r.supplies {
                    if !s.not_issued.is_empty() {
                        println!(
                            "  {}：{} 支采样管未发放给本点 / {} tube(s) not issued to the point: {}",
                            s.point,
                            s.not_issued.len(),
                            s.not_issued.len(),
                            s.not_issued.join(" ")
                        );
                    }
                }
                if r.matched {
                    println!("全部数量一致 / every count matches");
                } else {
                    println!(
                        "数量不符 / counts that do not match: {}",
                        r.mismatches.len()
                    );
                    for m in &r.mismatches {
                        print_mismatch(m);
                    }
                }
                if !r.waiting.is_empty() {
                    println!(
                        "在途，尚未到下一环节（不算不符）/ on its way, not yet at the next step (not a break): {}",
                        r.waiting.len()
                    );
                    for m in &r.waiting {
                        print_mismatch(m);
                    }
                }
            }
            if !r.matched {
                std::process::exit(MISMATCH_EXIT);
            }
            Ok(())
        }
        HandoffCmd::Packing { point, json, db } => {
            let store = open(&db).await?;
            let point = key(&point, "--point")?;
            let v = gw_app::handoff::packing(&store, clock, &operator(), point).await?;
            if json {
                println!("{}", serde_json::to_string(&v)?);
                return Ok(());
            }
            println!(
                "{} {} · {} {}（每袋最多 {} 管 / bag capacity {}）",
                v.point, v.point_name, v.round, v.round_name, v.bag_capacity, v.bag_capacity
            );
            println!("待装袋 / closed tubes not bagged: {}", v.tubes_to_bag.len());
            for t in &v.tubes_to_bag {
                println!("  管 tube {}\t{} 人份 swabs", t.barcode, t.people);
            }
            for b in &v.bags {
                println!(
                    "  袋 bag {}\t{} 管 tubes（清点 counted {}）\t{} 人份 swabs\t{}",
                    b.barcode,
                    b.tubes,
                    b.counted_tubes,
                    b.people,
                    b.in_box
                        .as_deref()
                        .map(|x| format!("在箱 in box {x}"))
                        .unwrap_or_else(|| "待装箱 / not boxed".into())
                );
            }
            for b in &v.boxes {
                println!(
                    "  箱 box {}\t{} 袋 bags（清点 counted {}）\t{} 管 tubes（清点 counted {}）\t{} 人份 swabs\t{}{}",
                    b.barcode,
                    b.bags,
                    b.counted_bags,
                    b.tubes,
                    b.counted_tubes,
                    b.people,
                    b.handoff
                        .as_deref()
                        .map(|h| format!("已交接 handed over ({h})"))
                        .unwrap_or_else(|| "待交接 / not handed over".into()),
                    if b.received {
                        "，实验室已收 / received"
                    } else {
                        ""
                    }
                );
            }
            for h in &v.handoffs {
                println!(
                    "  交接 hand-over {} → {} {}：{} 箱 boxes，{} 管 tubes{}",
                    h.id,
                    h.transporter,
                    h.transporter_account,
                    h.counted_boxes,
                    h.counted_tubes,
                    h.counted_people
                        .map(|p| format!("，{p} 人份 swabs"))
                        .unwrap_or_default()
                );
            }
            Ok(())
        }
        HandoffCmd::Bag {
            point,
            bag,
            tubes,
            counted,
            json,
            db,
        } => {
            let store = open(&db).await?;
            let point = key(&point, "--point")?;
            let tubes = split_list(&tubes);
            let v =
                gw_app::handoff::pack_bag(&store, clock, &operator(), point, &bag, &tubes, counted)
                    .await?;
            packed("袋 / bag", &v, json)
        }
        HandoffCmd::Box {
            point,
            box_code,
            bags,
            counted_bags,
            counted_tubes,
            json,
            db,
        } => {
            let store = open(&db).await?;
            let point = key(&point, "--point")?;
            let bags = split_list(&bags);
            let v = gw_app::handoff::pack_box(
                &store,
                clock,
                &operator(),
                point,
                &box_code,
                &bags,
                (counted_bags, counted_tubes),
            )
            .await?;
            packed("箱 / box", &v, json)
        }
        HandoffCmd::Recount {
            point,
            barcode,
            counted_tubes,
            counted_bags,
            reason,
            json,
            db,
        } => {
            let store = open(&db).await?;
            let point = key(&point, "--point")?;
            let v = gw_app::handoff::recount(
                &store,
                clock,
                &operator(),
                point,
                &barcode,
                counted_tubes,
                counted_bags,
                &reason,
            )
            .await?;
            let what = if v.bags.is_some() {
                "箱 / box"
            } else {
                "袋 / bag"
            };
            packed(what, &v, json)
        }
        HandoffCmd::HandOver {
            point,
            boxes,
            transporter,
            phone,
            account,
            counted_boxes,
            counted_tubes,
            counted_people,
            json,
            db,
        } => {
            let store = open(&db).await?;
            let point = key(&point, "--point")?;
            let boxes = split_list(&boxes);
            let v = gw_app::handoff::hand_over(
                &store,
                clock,
                &operator(),
                point,
                &boxes,
                &gw_app::handoff::Transporter {
                    name: transporter.as_deref().unwrap_or_default(),
                    phone: phone.as_deref().unwrap_or_default(),
                    account: account.as_deref().unwrap_or_default(),
                },
                &gw_app::handoff::Counted {
                    boxes: counted_boxes,
                    tubes: counted_tubes,
                    people: counted_people,
                    per_box: Vec::new(),
                },
            )
            .await?;
            packed("交接 / hand-over", &v, json)
        }
        HandoffCmd::Receive {
            round,
            boxes,
            counted_boxes,
            counted_tubes,
            box_tubes,
            json,
            db,
        } => {
            let per_box = box_tubes
                .iter()
                .map(|bt| {
                    bt.split_once('=')
                        .and_then(|(b, n)| Some((b.trim().to_string(), n.trim().parse().ok()?)))
                        .ok_or_else(|| {
                            anyhow::anyhow!(
                                "--box-tubes {bt}: 应为 箱码=管数 / expected BOX=N (say BOX0001=38)"
                            )
                        })
                })
                .collect::<Result<Vec<(String, i64)>>>()?;
            let store = open(&db).await?;
            let round = key(&round, "--round")?;
            let boxes = split_list(&boxes);
            let v = gw_app::handoff::receive(
                &store,
                clock,
                &operator(),
                round,
                &boxes,
                &gw_app::handoff::Counted {
                    boxes: counted_boxes,
                    tubes: counted_tubes,
                    people: None,
                    per_box,
                },
            )
            .await?;
            packed("实验室接收 / lab receipt", &v, json)
        }
        HandoffCmd::BagCapacity { round, tubes, db } => {
            let store = open(&db).await?;
            let round = key(&round, "--round")?;
            let c =
                gw_app::handoff::set_bag_capacity(&store, clock, &operator(), round, tubes).await?;
            println!(
                "轮次 {round}：每袋最多 {} 管 / round {round}: at most {} tubes to a bag",
                c.capacity, c.capacity
            );
            if !c.over.is_empty() {
                let bags: Vec<String> = c
                    .over
                    .iter()
                    .map(|(b, n)| format!("{b}（{n} 管 tubes）"))
                    .collect();
                println!(
                    "  注意 / warning: {} 个已封的袋超过新的上限，保持原样 / {} bag(s) already sealed hold more than that and stay as they are: {}",
                    c.over.len(),
                    c.over.len(),
                    bags.join(" ")
                );
            }
            Ok(())
        }
    }
}

/// Barcodes given as repeated flags, or separated by commas or spaces in one.
fn split_list(items: &[String]) -> Vec<String> {
    items
        .iter()
        .flat_map(|i| i.split([',', ' ', '\n', '\t', '，']))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// What a break is about, Chinese then English (`袋 bag`).
fn kind_label(kind: &str) -> &'static str {
    match kind {
        "point" => "采样点 point",
        "bag" => "袋 bag",
        "box" => "箱 box",
        "handoff" => "交接单 hand-over sheet",
        "receipt" => "实验室接收单 lab receipt",
        _ => "",
    }
}

fn print_mismatch(m: &gw_domain::handoff::Mismatch) {
    let point = match &m.point_label {
        Some(p) => format!("（采样点 point {p}）"),
        None => match (&m.point, m.kind) {
            (Some(p), k) if k != "point" => format!("（采样点 point {p}）"),
            _ => String::new(),
        },
    };
    println!(
        "  {} {} · {} {}{point}：{} 系统 expected {}，清点 found {}（{:+}）— {}",
        m.step.label_zh(),
        m.step.label_en(),
        kind_label(m.kind),
        m.label,
        m.measure.label(),
        m.expected,
        m.found,
        m.diff,
        m.note
    );
    if !m.items.is_empty() {
        let items: Vec<String> = m
            .items
            .iter()
            .enumerate()
            .map(|(i, b)| match m.item_swabs.get(i) {
                Some(n) => format!("{b}（{n} 人份 swabs）"),
                None => b.clone(),
            })
            .collect();
        println!("    {}", items.join(" "));
    }
}

/// Prints a packing step's answer; a count that does not match exits 3 (it is stored).
fn packed(what: &str, v: &gw_app::handoff::Packed, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string(v)?);
    } else {
        let mut counts = Vec::new();
        if let Some(b) = v.boxes {
            counts.push(format!("{b} 箱 boxes"));
        }
        if let Some(b) = v.bags {
            counts.push(format!("{b} 袋 bags"));
        }
        counts.push(format!("{} 管 tubes", v.tubes));
        counts.push(format!("{} 人份 swabs", v.people));
        // A hand-over or receipt has no label of its own: its id names it.
        if v.barcode.is_empty() {
            println!("{what} {}：{}", v.id, counts.join("，"));
        } else {
            println!("{what} {}（{}）：{}", v.barcode, v.id, counts.join("，"));
        }
        if v.replay {
            println!("已记录过，与记录完全相同，未重复记录 / recorded already: the same as the record, nothing recorded twice");
        }
        for w in &v.warnings {
            println!("  注意 / warning: {w}");
        }
        if v.counts_match {
            println!("数量一致 / counts match");
        } else {
            println!("数量不符，已记录 / counts do not match, recorded:");
            for m in &v.mismatches {
                print_mismatch(m);
            }
        }
    }
    if !v.counts_match {
        std::process::exit(MISMATCH_EXIT);
    }
    Ok(())
}

#[derive(Subcommand)]
pub enum StationCmd {
    /// Issue a scanning station for a point: prints a one-time enrolment code,
    /// entered on the station page (/station?code=…) of the phone or laptop.
    Issue {
        /// Testing point id, STREET-ID.
        #[arg(long)]
        point: String,
        /// What the station is called (default: the point's name and "-station").
        #[arg(long, default_value = "")]
        label: String,
        /// The server's address, to print the enrolment link (e.g. https://10.0.0.5:8443).
        #[arg(long)]
        origin: Option<String>,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: DbArg,
    },
    /// Revoke a station (a lost phone): its token stops working; a running
    /// server that checked it lately lets it go within 5 seconds.
    Revoke {
        /// Station id, STREET-ID.
        station: String,
        #[command(flatten)]
        db: DbArg,
    },
}

pub async fn station_cmd(c: StationCmd, clock: &Clock) -> Result<()> {
    match c {
        StationCmd::Issue {
            point,
            label,
            origin,
            json,
            db,
        } => {
            let store = open(&db).await?;
            let point = key(&point, "--point")?;
            let v = gw_app::stations::issue(&store, clock, &operator(), point, &label).await?;
            if json {
                println!("{}", serde_json::to_string(&v)?);
            } else {
                println!(
                    "station {} issued; enrolment code (once) / 登记码（仅一次）: {}",
                    v.station, v.enroll_code
                );
                if let Some(o) = origin {
                    println!(
                        "enrolment link / 登记链接: {}/station?code={}",
                        o.trim_end_matches('/'),
                        v.enroll_code
                    );
                }
                println!(
                    "valid until / 有效至 {}",
                    gw_domain::notify::clock_text(v.expires_ms)
                );
            }
            Ok(())
        }
        StationCmd::Revoke { station, db } => {
            let store = open(&db).await?;
            let station = key(&station, "station")?;
            gw_app::stations::revoke(&store, clock, &operator(), station).await?;
            println!("采样台 {station} 已停用 / station {station} revoked");
            Ok(())
        }
    }
}
