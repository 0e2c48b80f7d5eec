//! `gridwarden resident …`: walk-ins sampled at a point who were on no roster
//! (pending residents), and matching one to the registered resident they
//! are, as the machine's operator (audited as `cli:USER`).

use anyhow::Result;
use clap::Subcommand;
use gw_app::Clock;

use crate::round_cmd::{key, operator, street_id};
use crate::{open, DbArg};

#[derive(Subcommand)]
pub enum ResidentCmd {
    /// A street's pending residents (walk-ins on no roster), masked.
    Pending {
        /// Street code or name.
        #[arg(long)]
        street: String,
        /// How many to list, oldest first (the text says the total and how
        /// many more there are when it cuts the list; --json lists these).
        #[arg(long, default_value_t = 200)]
        limit: i64,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: DbArg,
    },
    /// Match a pending walk-in to the registered resident they are: their
    /// swabs, retests, re-samples and exemptions pass over (a second sampling
    /// swab becomes a duplicate) and the pending record goes.
    Match {
        /// The pending resident, STREET-ID.
        pending: String,
        /// The registered resident, STREET-ID.
        #[arg(long)]
        target: String,
        /// Merge although the names differ (the walk-in's name was mistyped).
        #[arg(long)]
        despite_name: bool,
        #[command(flatten)]
        db: DbArg,
    },
    /// Record that a resident left (deceased 离世, moved_out 迁出本街道),
    /// or undo a mistaken record with --undo; audited. Their data stays;
    /// rounds still sampling exempt them with the reason.
    Leave {
        /// The resident, STREET-ID.
        resident: String,
        /// deceased or moved_out.
        #[arg(long, required_unless_present = "undo")]
        reason: Option<String>,
        /// The day they left, YYYY-MM-DD (today when not given).
        #[arg(long)]
        on: Option<String>,
        /// Undo a mistaken record: registered (active) again.
        #[arg(long, conflicts_with_all = ["reason", "on"])]
        undo: bool,
        #[command(flatten)]
        db: DbArg,
    },
    /// Move one resident to another household of the street; audited.
    Move {
        /// The resident, STREET-ID.
        resident: String,
        /// The household they move to, STREET-ID.
        #[arg(long)]
        household: String,
        #[command(flatten)]
        db: DbArg,
    },
    /// Set and clear flags of one resident (cannot_go_downstairs,
    /// elderly_alone, dialysis, chronic_treatment, pregnant, low_income,
    /// child_alone, no_smartphone); audited, health flags counted, not named.
    Flags {
        /// The resident, STREET-ID.
        resident: String,
        /// A flag to set (repeatable).
        #[arg(long)]
        set: Vec<String>,
        /// A flag to clear (repeatable).
        #[arg(long)]
        clear: Vec<String>,
        #[command(flatten)]
        db: DbArg,
    },
}

pub async fn resident_cmd(c: ResidentCmd, clock: &Clock) -> Result<()> {
    match c {
        ResidentCmd::Pending {
            street,
            limit,
            json,
            db,
        } => {
            let store = open(&db).await?;
            let street = street_id(&store, &street).await?;
            // All of them are read (a street's walk-ins are hundreds, not
            // more), so the total is said even when the list is cut.
            let all =
                gw_app::registry::pending(&store, clock, &operator(), street, 100_000).await?;
            let shown = &all[..all
                .len()
                .min(usize::try_from(limit.max(1)).unwrap_or(usize::MAX))];
            if json {
                println!("{}", serde_json::to_string(&shown)?);
            } else {
                println!("待核实人员 / pending residents: {}", all.len());
                if shown.len() < all.len() {
                    println!(
                        "  只列出前 {} 位，另有 {} 位：用 --limit 加大 / the first {} listed, {} more: raise --limit",
                        shown.len(),
                        all.len() - shown.len(),
                        shown.len(),
                        all.len() - shown.len()
                    );
                }
                for r in shown {
                    let phones: Vec<&str> = r.phones.iter().map(|p| p.number.as_str()).collect();
                    println!("  {}\t{}\t{}", r.id, r.name, phones.join(" "));
                }
            }
            Ok(())
        }
        ResidentCmd::Match {
            pending,
            target,
            despite_name,
            db,
        } => {
            let store = open(&db).await?;
            let pending = key(&pending, "pending")?;
            let target = key(&target, "--target")?;
            gw_app::registry::match_walk_in(
                &store,
                clock,
                &operator(),
                pending,
                target,
                despite_name,
                "",
            )
            .await?;
            println!("{pending} 已并入 / merged into {target}");
            Ok(())
        }
        ResidentCmd::Leave {
            resident,
            reason,
            on,
            undo,
            db,
        } => {
            let store = open(&db).await?;
            let k = key(&resident, "resident")?;
            let left = if undo {
                gw_app::registry::unleave(&store, clock, &operator(), k).await
            } else {
                let text = reason.unwrap_or_default();
                let reason = gw_domain::resident::LeaveReason::parse(&text).ok_or_else(|| {
                    anyhow::anyhow!("--reason 应为 deceased 或 moved_out / --reason must be deceased or moved_out: {text}")
                })?;
                let on = on
                    .map(|d| gw_domain::date::Date::parse(&d).map_err(|_| anyhow::anyhow!("--on 应为 YYYY-MM-DD / --on must be YYYY-MM-DD: {d}")))
                    .transpose()?;
                gw_app::registry::leave(&store, clock, &operator(), k, reason, on).await
            }
            .map_err(crate::round_cmd::app_err)?;
            if undo {
                println!("{k} 已撤销离开登记，恢复在册 / leaving undone, registered again");
            } else {
                println!(
                    "{k} 已登记离开（{}，{}）/ recorded as left ({}, {})",
                    left.reason,
                    left.on.as_deref().unwrap_or(""),
                    left.reason,
                    left.on.as_deref().unwrap_or("")
                );
            }
            if !left.rounds.is_empty() {
                println!(
                    "轮次 {} 的免检已{} / exemption {} in rounds {}",
                    left.rounds.join(", "),
                    if undo { "撤销" } else { "登记" },
                    if undo { "lifted" } else { "recorded" },
                    left.rounds.join(", ")
                );
            }
            Ok(())
        }
        ResidentCmd::Move {
            resident,
            household,
            db,
        } => {
            let store = open(&db).await?;
            let k = key(&resident, "resident")?;
            let h = key(&household, "--household")?;
            gw_app::registry::move_resident(&store, clock, &operator(), k, h)
                .await
                .map_err(crate::round_cmd::app_err)?;
            println!("{k} 已迁入户 / moved into household {h}");
            Ok(())
        }
        ResidentCmd::Flags {
            resident,
            set,
            clear,
            db,
        } => {
            let store = open(&db).await?;
            let k = key(&resident, "resident")?;
            let parse = |codes: &[String]| {
                gw_domain::resident::Flag::from_codes(codes).map_err(anyhow::Error::msg)
            };
            let flags = gw_app::registry::set_flags(
                &store,
                clock,
                &operator(),
                k,
                &parse(&set)?,
                &parse(&clear)?,
            )
            .await
            .map_err(crate::round_cmd::app_err)?;
            println!(
                "{k}: {} （健康信息不显示 / health flags not shown)",
                if flags.is_empty() {
                    "无标记 / no flags".to_string()
                } else {
                    flags.join(", ")
                }
            );
            Ok(())
        }
    }
}
