//! `gridwarden round …`: the testing-point schedule from the operator's seat.

use anyhow::{Context, Result};
use clap::Subcommand;
use gw_app::schedule::{PlanOptions, ScheduleView};
use gw_app::Clock;
use gw_domain::schedule::{hhmm, SimStats};

use crate::DbArg;

#[derive(Subcommand)]
pub enum RoundCmd {
    /// Plan the round's call-down schedule (or re-plan the slots neither started nor pushed) and print it.
    Plan {
        /// Round id, STREET-ID.
        #[arg(long)]
        round: String,
        /// Slot length in minutes, 5–240 (left out: the stored plan's, else 30).
        #[arg(long)]
        slot_minutes: Option<u32>,
        /// Bound on the expected longest queue at any point, people waiting, 1–1000 (left out: the stored plan's, else 30).
        #[arg(long)]
        max_queue: Option<u32>,
        /// One JSON object on stdout.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: DbArg,
    },
    /// Print the stored plan (or a preview) and simulate it against calling everyone at once.
    Simulate {
        #[arg(long)]
        round: String,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: DbArg,
    },
}

pub async fn run(c: RoundCmd, clock: &Clock, actor: &str) -> Result<()> {
    let (json, view) = match c {
        RoundCmd::Plan {
            round,
            slot_minutes,
            max_queue,
            json,
            db,
        } => {
            let store = crate::open(&db).await?;
            let key: gw_domain::ids::Key = round.parse().context("--round STREET-ID")?;
            let v = gw_app::schedule::plan_as(
                &store,
                clock,
                actor,
                key,
                PlanOptions {
                    slot_minutes,
                    max_queue,
                },
            )
            .await?;
            (json, v)
        }
        RoundCmd::Simulate { round, json, db } => {
            let store = crate::open(&db).await?;
            let key: gw_domain::ids::Key = round.parse().context("--round STREET-ID")?;
            let v = gw_app::schedule::view_as(&store, clock, key, &|_| true).await?;
            (json, v)
        }
    };
    if json {
        println!("{}", serde_json::to_string(&view)?);
    } else {
        print!("{}", render(&view));
    }
    Ok(())
}

fn stats(s: &SimStats) -> String {
    format!(
        "最长排队 max queue {} 人, 平均等待 mean wait {:.1} 分钟 min, P95 {:.1} 分钟 min, 完成 done {}",
        s.max_queue,
        s.mean_wait_min,
        s.p95_wait_min,
        s.finish_ms.map_or("-".to_string(), hhmm)
    )
}

/// The call-down list per slot, the door-to-door list and the simulation.
pub fn render(v: &ScheduleView) -> String {
    let mut out = String::new();
    let head = match (v.stored, v.revision) {
        (true, Some(r)) => format!("第 {r} 版 revision {r}"),
        _ => "预览（未保存）preview, not stored".to_string(),
    };
    out.push_str(&format!(
        "轮次 round {} {} · {} · 下楼 {} 人 called, 预计完成 expected done {}\n",
        v.round,
        v.round_name,
        head,
        v.plan.people_called,
        v.plan.finish_ms.map_or("-".to_string(), hhmm)
    ));
    if let Some(p) = &v.problem {
        out.push_str(&format!("无法排班 cannot plan: {p}\n"));
    }
    if !v.out_of_hours.is_empty() {
        out.push_str("已存的时间表与采样点开放时间不再相符，请重新排班 the stored plan no longer fits the points' hours: plan again\n");
        for o in &v.out_of_hours {
            out.push_str(&format!(
                "  {} {}–{}: 开放 open {} – {}{}\n",
                o.point_name,
                hhmm(o.starts_ms),
                hhmm(o.ends_ms),
                gw_domain::notify::clock_text(o.opens_ms),
                gw_domain::notify::clock_text(o.closes_ms),
                if o.pushed {
                    " · 已推送 pushed: 居民已被通知 its people were told"
                } else {
                    ""
                }
            ));
        }
    }
    if !v.plan.moved.is_empty() {
        out.push_str("原采样点已关闭或来不及，以下单元改到别的采样点，请通知居民 sent on from a point that has closed: tell the residents\n");
        for m in &v.plan.moved {
            out.push_str(&format!("  {}\n", m.text));
        }
    }
    if !v.plan.warnings.is_empty() {
        out.push_str("管控区人不出小区，所在小区没有采样点，未叫号 under control with no point in their compound: not called down\n");
        for w in &v.plan.warnings {
            out.push_str(&format!("  {w}\n"));
        }
    }
    let bound = v.plan.params.max_queue;
    if !v.told_over_bound.is_empty() {
        out.push_str("已通知的时段排队超过上限，重新排班改不了 slots already told with a queue over the bound: a re-plan does not change them\n");
        for t in &v.told_over_bound {
            out.push_str(&format!("  {}\n", t.text(bound)));
        }
    }
    if !v.delays.is_empty() {
        out.push_str("已通知的延迟下楼 delays the groups were told of:\n");
        for d in &v.delays {
            out.push_str(&format!(
                "  {} 时段 slot · {} · 推迟 delay {} 分钟 min → {} · {} 由 by {}（{} 条 messages）\n",
                gw_domain::notify::clock_text(d.slot_ms),
                d.point_name
                    .as_deref()
                    .or(d.point.as_deref())
                    .unwrap_or("各点 all points"),
                d.minutes,
                hhmm(d.come_down_ms),
                gw_domain::notify::clock_text(d.at_ms),
                d.by,
                d.messages
            ));
            if let Some(o) = &d.overlap {
                out.push_str(&format!(
                    "    注意 warning: {}
",
                    o.text
                ));
            }
        }
    }
    for (info, p) in v.points.iter().zip(&v.plan.points) {
        out.push_str(&format!(
            "\n采样点 point {} {}: {} 台 stations × {} 人/台/时 per station-hour (配置 configured {}, 实测 measured {}), {} 栋楼 buildings, {} 人, 预计排队 ≤ {} 人, 完成 done {}\n",
            info.id,
            p.name,
            p.stations,
            p.rate_per_station_h,
            info.configured_rate,
            match (info.measured_rate, info.stalled) {
                (Some(m), true) => format!("{m} 停滞 stalled"),
                (Some(m), false) => format!("{m}"),
                (None, _) => "-".to_string(),
            },
            p.buildings.len(),
            p.people,
            p.max_expected_queue,
            p.finish_ms.map_or("-".to_string(), hhmm)
        ));
        for s in &p.slots {
            let calls: Vec<String> = s
                .calls
                .iter()
                .map(|c| {
                    let units: Vec<&str> = c.units.iter().map(|u| u.name.as_str()).collect();
                    let away = c
                        .away
                        .map(|a| format!(" [!{} / {}]", a.zh(), a.en()))
                        .unwrap_or_default();
                    format!(
                        "{} {}单元 ({}人){away}",
                        c.building,
                        units.join("、"),
                        c.people
                    )
                })
                .collect();
            let told: String = v
                .pushes
                .iter()
                .filter(|x| x.slot_ms == s.starts_ms)
                .map(|x| {
                    format!(
                        " · 已推送 pushed {} 由 by {}（{} 条 messages）",
                        gw_domain::notify::clock_text(x.at_ms),
                        x.by,
                        x.messages
                    )
                })
                .collect();
            let stuck = v
                .told_over_bound
                .iter()
                .any(|t| t.point_name == p.name && t.starts_ms == s.starts_ms);
            let told = if stuck {
                format!("{told} · 超过上限，已通知，重排改不了：加台或通知延迟 over the bound, already told, a re-plan cannot change it: add stations or tell of the delay")
            } else {
                told
            };
            // Its groups told to come down later (延迟下楼).
            let told = match v
                .delays
                .iter()
                .filter(|d| d.covers(&info.id, s.starts_ms))
                .max_by_key(|d| d.come_down_ms)
            {
                Some(d) => format!(
                    "{told} · 已通知推迟 {} 分钟（{} 后）told: {} min later (after {})",
                    d.minutes,
                    hhmm(d.come_down_ms),
                    d.minutes,
                    hhmm(d.come_down_ms)
                ),
                None => told,
            };
            out.push_str(&format!(
                "  {}–{}  {}  · 到达 arrivals {} / 能力 capacity {:.0}, 预计排队 queue ≤ {}{told}\n",
                hhmm(s.starts_ms),
                hhmm(s.ends_ms),
                calls.join("; "),
                s.arrivals,
                s.capacity,
                s.expected_queue
            ));
        }
    }
    if !v.plan.door_to_door.is_empty() {
        out.push_str("\n入户采样 door-to-door (不叫下楼 not called down):\n");
        for d in &v.plan.door_to_door {
            let place = match (&d.unit, &d.room) {
                (Some(u), Some(r)) => format!("{} {}单元 {}室", d.building, u, r),
                (Some(u), None) => format!("{} {}单元", d.building, u),
                _ => d.building.clone(),
            };
            out.push_str(&format!(
                "  {place} · {} · {} 人\n",
                d.status.label_zh(),
                d.people
            ));
        }
    }
    let sim = &v.simulation;
    out.push_str(&format!(
        "\n仿真 simulation (seed {}):\n  分时段叫号 plan:            {}\n  一次全部下楼 all at once:   {}\n",
        sim.seed,
        stats(&sim.plan.overall),
        stats(&sim.all_at_once.overall)
    ));
    for (id, q) in sim.over_bound(bound) {
        let name = v
            .plan
            .points
            .iter()
            .find(|p| p.point_id == id)
            .map_or_else(|| id.to_string(), |p| p.name.clone());
        out.push_str(&format!(
            "  注意 note: {name} 模拟最长排队 {q} 人，超过排队上限 {bound:.0} 人 / the simulated longest queue, {q}, exceeds the queue bound of {bound:.0}\n"
        ));
    }
    out
}
