//! `gridwarden tube …`: a station's work from the command line (open a tube
//! at a point, register swabs into it, close it), as the machine's operator
//! (audited as `cli:USER`). The same use cases as the station's API: a swab
//! is always stored, a problem is said, not refused (but for a blank read or
//! a tube's label in the person's place), and a client id makes a retried
//! command apply once.

use anyhow::Result;
use clap::Subcommand;
use gw_app::testing::{ScanWriter, TubeUse};
use gw_app::Clock;

use crate::open;
use crate::round_cmd::{app_err, key, operator};
use crate::DbArg;

#[derive(Subcommand)]
pub enum TubeCmd {
    /// Open a tube at a testing point by its barcode. Prints the tube's id.
    Open {
        /// Testing point id, STREET-ID.
        #[arg(long)]
        point: String,
        #[arg(long)]
        barcode: String,
        /// routine, door_to_door, retest or resample (a retest tube holds one swab).
        #[arg(long, default_value = "routine")]
        purpose: String,
        /// Opened earlier while offline: an open tube of this barcode at the point
        /// is answered again, and one opened after sampling closed is kept, flagged.
        #[arg(long)]
        reuse: bool,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: DbArg,
    },
    /// Register one swab into an open tube: a personal code, a document number
    /// typed by hand, or (with --walk-in-name) a walk-in on no roster.
    Scan {
        /// Tube id, STREET-ID (as `tube open` printed it).
        tube: String,
        /// The personal code or document number (or --walk-in-name instead).
        #[arg(
            long,
            required_unless_present = "walk_in_name",
            conflicts_with = "walk_in_name"
        )]
        code: Option<String>,
        /// routine, door_to_door, retest or resample.
        #[arg(long, default_value = "routine")]
        purpose: String,
        /// The registration's id: the same id again applies nothing twice
        /// (a new one is made when not given).
        #[arg(long)]
        client_id: Option<String>,
        /// A walk-in's name (registered as a pending resident).
        #[arg(long)]
        walk_in_name: Option<String>,
        /// A walk-in's phone.
        #[arg(long, requires = "walk_in_name")]
        walk_in_phone: Option<String>,
        /// Who took the swab (a station's label).
        #[arg(long, default_value = "cli")]
        station: String,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: DbArg,
    },
    /// Close a tube by hand (a full tube closes by itself); a tube with no swab in it (none scanned, or all taken back) is withdrawn instead (its barcode free again).
    Close {
        /// Tube id, STREET-ID.
        tube: String,
        #[command(flatten)]
        db: DbArg,
    },
    /// Take back a swab registered by mistake (a wrong code scanned, a person
    /// scanned and not swabbed) while its tube is still open or closed at the
    /// point: it leaves every count, and a tube that closed itself when full
    /// opens again (one closed by hand stays closed). The reason is kept with
    /// the swab; the audit log records who and when.
    Void {
        /// Registration id, STREET-ID (as `tube scan` printed it).
        registration: String,
        /// Why (required).
        #[arg(long)]
        reason: String,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: DbArg,
    },
}

pub async fn tube_cmd(cmd: TubeCmd, clock: &Clock) -> Result<()> {
    let op = operator();
    match cmd {
        TubeCmd::Open {
            point,
            barcode,
            purpose,
            reuse,
            json,
            db,
        } => {
            let store = open(&db).await?;
            let writer = ScanWriter::start(store.clone());
            let point = key(&point, "--point")?;
            let use_ = TubeUse::of_purpose(&purpose).map_err(app_err)?;
            let (k, new, warning) = if reuse {
                gw_app::testing::open_tube_reusing(
                    &store, clock, &op, &writer, point, &barcode, use_,
                )
                .await
                .map_err(app_err)?
            } else {
                let (k, w) = gw_app::testing::open_tube(
                    &store, clock, &op, &writer, point, &barcode, use_, false,
                )
                .await
                .map_err(app_err)?;
                (k, true, w)
            };
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "id": k.to_string(), "state": "open", "reused": !new, "warning": warning })
                );
            } else {
                println!(
                    "采样管 tube {k} {}",
                    if new {
                        "已开 / opened"
                    } else {
                        "已在用 / already open here"
                    }
                );
                if let Some(w) = warning {
                    println!("注意 warning: {w}");
                }
            }
        }
        TubeCmd::Scan {
            tube,
            code,
            purpose,
            client_id,
            walk_in_name,
            walk_in_phone,
            station,
            json,
            db,
        } => {
            let store = open(&db).await?;
            let writer = ScanWriter::start(store.clone());
            let client_id = client_id.unwrap_or_else(|| format!("cli-{}", gw_app::new_uid()));
            let scan = gw_app::testing::Scan {
                tube: key(&tube, "tube")?,
                client_id: &client_id,
                code: code.as_deref().unwrap_or(""),
                purpose: &purpose,
                station: &station,
                scanned_ms: clock.now_ms(),
                sent_ms: None,
                walk_in: walk_in_name
                    .as_deref()
                    .map(|n| (n, walk_in_phone.as_deref())),
            };
            let o = gw_app::testing::scan(&store, clock, &op, &writer, &scan)
                .await
                .map_err(app_err)?;
            if json {
                println!("{}", serde_json::to_string(&o)?);
            } else {
                println!(
                    "登记 registration {}{}: {} 管内 {}/{} in the tube, 本点 {} at the point",
                    o.registration,
                    if o.replay {
                        "（重放 / replay）"
                    } else {
                        ""
                    },
                    o.resident.as_deref().unwrap_or("—"),
                    o.tube_fill,
                    o.pool_size,
                    o.point_count
                );
                if let Some(first) = &o.duplicate_of {
                    println!(
                        "重复采样 second swab: 首次采样在「{}」（{}），{} / the first is registration {} at {} ({})",
                        first.point_name,
                        first.point,
                        gw_domain::notify::clock_text(first.scanned_ms),
                        first.registration,
                        first.point_name,
                        first.point
                    );
                }
                if !o.problem.is_empty() {
                    println!("问题 problem: {}", o.problem);
                }
                match o.follow_up.as_deref() {
                    Some("retest") => println!(
                        "该管已出结果（混管异常）：已开单管复检，其户已临时管控 / the tube's result is in (abnormal pool): a single-tube retest is open and the household is under temporary control"
                    ),
                    Some("resample") => println!(
                        "该管已出结果：此人须重采 / the tube's result is in: this person must be swabbed again"
                    ),
                    _ => {}
                }
            }
        }
        TubeCmd::Close { tube, db } => {
            let store = open(&db).await?;
            let k = key(&tube, "tube")?;
            match gw_app::testing::close_tube(&store, clock, &op, k)
                .await
                .map_err(app_err)?
            {
                gw_app::testing::Closed::Closed => println!("采样管 tube {k} 已封 / closed"),
                gw_app::testing::Closed::Withdrawn => println!(
                    "采样管 tube {k} 未装样本，已作废，条码可再用 / held no swab: withdrawn, its barcode free again"
                ),
            }
        }
        TubeCmd::Void {
            registration,
            reason,
            json,
            db,
        } => {
            let store = open(&db).await?;
            let k = key(&registration, "registration")?;
            let v = gw_app::testing::void_swab(&store, clock, &op, k, &reason)
                .await
                .map_err(app_err)?;
            if json {
                println!("{}", serde_json::to_string(&v)?);
            } else {
                println!("样本 registration {k}：{}", v.message);
                if let Some(p) = &v.promoted {
                    println!(
                        "此人在本轮的首个样本现为 {p} / their first swab in the round is now {p}"
                    );
                }
            }
        }
    }
    Ok(())
}
