//! `gridwarden round …` and `gridwarden alerts …`: testing rounds and alert
//! channels from the command line, acting as the machine's operator
//! (recorded in the audit log as `cli:USER`).

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use gw_app::access::Principal;
use gw_app::Clock;
use gw_domain::ids::Key;
use gw_store::coverage::Level;
use gw_store::Store;
use serde_json::json;

use crate::{open, DbArg};

/// A point's hours and configured rate.
#[derive(Args, Clone, Default)]
pub struct PointHours {
    /// Opens, "YYYY-MM-DD HH:MM" China time.
    #[arg(long)]
    opens: Option<String>,
    /// Closes, "YYYY-MM-DD HH:MM" China time.
    #[arg(long)]
    closes: Option<String>,
    /// People per station per hour (100 unless set).
    #[arg(long)]
    rate: Option<u32>,
    /// The compound the point stands in (STREET-ID), or `outside` (out of
    /// any compound: it serves every compound); not given: a new point
    /// stands outside, a changed one stays where it is.
    #[arg(long)]
    compound: Option<String>,
    /// Where the point stands, metres east on the street's map (with --y):
    /// the planner calls each building down to a point near it.
    #[arg(long, requires = "y", allow_hyphen_values = true)]
    x: Option<i32>,
    /// Metres north on the street's map (with --x).
    #[arg(long, requires = "x", allow_hyphen_values = true)]
    y: Option<i32>,
}

fn is_outside(compound: &str) -> bool {
    matches!(compound.trim(), "" | "outside")
}

impl PointHours {
    fn schedule(&self) -> Result<gw_app::schedule::PointSchedule> {
        Ok(gw_app::schedule::PointSchedule {
            compound: self
                .compound
                .as_deref()
                .filter(|c| !is_outside(c))
                .map(|c| key(c, "--compound"))
                .transpose()?,
            outside: self.compound.as_deref().is_some_and(is_outside),
            pos: self.x.zip(self.y),
            opens_ms: self.opens.as_deref().map(moment).transpose()?,
            closes_ms: self.closes.as_deref().map(moment).transpose()?,
            rate_per_station_h: self.rate,
        })
    }
}

/// At most one of --community, --grid, --building (ids STREET-ID).
#[derive(Args, Clone, Default)]
pub struct TerritoryArg {
    #[arg(long)]
    community: Option<String>,
    #[arg(long)]
    grid: Option<String>,
    #[arg(long)]
    building: Option<String>,
}

impl TerritoryArg {
    /// The one community, grid or building a list is read in (required).
    fn required(&self) -> Result<(Level, Key)> {
        self.within()?
            .context("give --community, --grid or --building")
    }

    fn within(&self) -> Result<Option<(Level, Key)>> {
        gw_app::coverage::within_of(
            self.community.as_deref(),
            self.grid.as_deref(),
            self.building.as_deref(),
        )
        .map_err(|e| anyhow::anyhow!(e))
    }
}

#[derive(Subcommand)]
pub enum RoundCmd {
    /// The call-down schedule: plan (or re-plan) and simulate.
    #[command(flatten)]
    Schedule(crate::round::RoundCmd),
    /// Create a planned round over a street (or some of its communities).
    Create {
        /// Street code or name.
        #[arg(long)]
        street: String,
        #[arg(long)]
        name: String,
        /// Start, "YYYY-MM-DD HH:MM" China time.
        #[arg(long)]
        starts: String,
        /// End, "YYYY-MM-DD HH:MM" China time.
        #[arg(long)]
        ends: String,
        /// People per tube: 1, 5, 10 or 20.
        #[arg(long, default_value_t = 10)]
        pool: u32,
        /// A community the round covers (id STREET-ID, code or name); repeat for more; none: the whole street.
        #[arg(long)]
        community: Vec<String>,
        /// An earlier round of the street (STREET-ID) whose testing points the
        /// new one takes over (names, places, stations, rates; hours moved to
        /// the new round's day; no supplies), with their volunteers' and
        /// point managers' grants.
        #[arg(long, value_name = "ROUND")]
        points_from: Option<String>,
        #[command(flatten)]
        db: DbArg,
    },
    /// List a street's rounds.
    List {
        #[arg(long)]
        street: String,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: DbArg,
    },
    /// A street's testing settings: tube barcode lengths and check character,
    /// the largest pool its lab accepts. Prints them; changes what is given,
    /// and warns of each round still sampling that pools more than the lab accepts.
    Settings {
        /// Street code or name.
        #[arg(long)]
        street: String,
        /// Tube barcode lengths, MIN-MAX (e.g. 8-20) or one length.
        #[arg(long)]
        tube_length: Option<String>,
        /// The tube barcode's check character: none or luhn.
        #[arg(long)]
        tube_check: Option<String>,
        /// The largest pool the lab accepts: 1, 5, 10 or 20.
        #[arg(long)]
        lab_max_pool: Option<u32>,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: DbArg,
    },
    /// Pool-size advice (Dorfman) from the street's latest results (the newest rounds
    /// up to 1,000 swabs), within its lab's limit.
    PoolAdvice {
        #[arg(long)]
        street: String,
        /// A smaller limit than the street's lab accepts (its testing settings).
        #[arg(long)]
        lab_max: Option<u32>,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: DbArg,
    },
    /// Move a round one step: open, sampling_closed, results_complete, closed; or cancel a planned one (cancelled).
    State {
        round: String,
        to: String,
        #[command(flatten)]
        db: DbArg,
    },
    /// Add a testing point in a community.
    Point {
        round: String,
        #[arg(long)]
        name: String,
        /// The community: its id (STREET-ID), code or name.
        #[arg(long)]
        community: String,
        /// Sampling stations (as the API: 2 unless given).
        #[arg(long, default_value_t = 2)]
        stations: u32,
        #[command(flatten)]
        hours: PointHours,
        #[command(flatten)]
        db: DbArg,
    },
    /// Change a running point: stations, hours, rate, compound, position (then `round plan` re-plans), or its name.
    PointSet {
        /// Point id, STREET-ID.
        point: String,
        #[arg(long)]
        stations: Option<u32>,
        /// A new name (unique among the round's points of its community).
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        hours: PointHours,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: DbArg,
    },
    /// Remove a point added by mistake (refused once anything happened at it:
    /// a tube, a swab, a station, supplies, an alert, a bag or a hand-over).
    PointRemove {
        /// Point id, STREET-ID.
        point: String,
        #[command(flatten)]
        db: DbArg,
    },
    /// Coverage: expected, sampled, exempt, missed, added — per community, grid or building.
    Coverage {
        round: String,
        /// community, grid or building (default: one level below the territory given).
        #[arg(long)]
        by: Option<String>,
        #[command(flatten)]
        within: TerritoryArg,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: DbArg,
    },
    /// The missed list of a community, grid or building (masked); 待重采（原管无效） beside whoever was swabbed only into tubes the lab found invalid (no result: missed until re-sampled).
    Missed {
        round: String,
        #[command(flatten)]
        within: TerritoryArg,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: DbArg,
    },
    /// Exempt a resident from a round: away, in_hospital, isolated_tested_there,
    /// deceased; none lifts an exemption.
    Exempt {
        round: String,
        /// Resident id, STREET-ID.
        #[arg(long)]
        resident: String,
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        db: DbArg,
    },
    /// Who a door-to-door team samples in a grid, or in a whole community (by grid: the team's one printed list), by building and floor (masked): those held at home not yet sampled (a re-sample due after an invalid tube among them), and the retests and re-samples due of those held at home already sampled (with the tube purposes to use; one line per person).
    DoorToDoor {
        round: String,
        /// Grid id, STREET-ID.
        #[arg(
            long,
            required_unless_present = "community",
            conflicts_with = "community"
        )]
        grid: Option<String>,
        /// Community id, STREET-ID: every grid's list of the community, grid by grid (for whoever may read every grid's list of it).
        #[arg(long)]
        community: Option<String>,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: DbArg,
    },
    /// Who is exempt from the round in a community, grid or building, and why (masked).
    Exemptions {
        round: String,
        #[command(flatten)]
        within: TerritoryArg,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: DbArg,
    },
    /// Members of invalid tubes to swab again in a community, grid or building (masked).
    Resamples {
        round: String,
        #[command(flatten)]
        within: TerritoryArg,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: DbArg,
    },
    /// Push one slot's call-down messages to the street's alert channels
    /// (a round planned or open; a slot not begun, pushed once unless --again).
    Push {
        round: String,
        /// The slot's start, "YYYY-MM-DD HH:MM" China time (default: the next slot).
        #[arg(long)]
        starts: Option<String>,
        /// Push a slot that was pushed before once more.
        #[arg(long)]
        again: bool,
        #[command(flatten)]
        db: DbArg,
    },
    /// 通知延迟下楼：告诉某采样点已推送（或已开始）时段的群推迟若干分钟下楼（排队较长时）；新的时间落在该点下一时段内时照常发送，并提示两批居民会同时排队 /
    /// Tell the groups one point calls in a slot already pushed (or begun) to
    /// come down some minutes later (when its line is long): one message per
    /// channel. The minutes count from the slot's start (from now once it has
    /// begun); a further notice must give a later time than the last one.
    /// A new time that falls in the point's next slot is told all the same,
    /// with a warning: the two groups will queue together.
    Delay {
        round: String,
        /// 时段开始时间："YYYY-MM-DD HH:MM"、"HH:MM"（本轮时间表中在该钟点开始的那个时段，跨午夜也可；有两个则列出日期并拒绝）（北京时间），或 Unix 毫秒 /
        /// the slot's start: "YYYY-MM-DD HH:MM", "HH:MM" (the one slot of the round's plan starting at that clock time, whatever its date, past midnight too; refused, listing their dates, when two do) (China time), or Unix ms.
        #[arg(long, alias = "starts")]
        slot: String,
        /// 排队较长的采样点（STREET-ID），只通知该点的群 / the point whose line is long (STREET-ID): only its groups are told.
        #[arg(long)]
        point: String,
        /// 推迟的分钟数（5–240）；不填则用时间表的建议值（该点各台把排队降到上限所需的时间，取 5 的倍数）/
        /// the delay in minutes (5 to 240); without it, the schedule's suggestion (the time the point's stations need to bring the line down to the bound, a multiple of 5).
        #[arg(long)]
        minutes: Option<u32>,
        #[command(flatten)]
        db: DbArg,
    },
    /// The latest rounds over the street, or a community, grid or building:
    /// each round's totals and how many in a row missed nobody (不落一人).
    History {
        /// Street code or name.
        #[arg(long)]
        street: String,
        #[command(flatten)]
        within: TerritoryArg,
        #[arg(long, default_value_t = 4)]
        rounds: usize,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: DbArg,
    },
    /// Round over round for a community, grid or building.
    Compare {
        round: String,
        #[command(flatten)]
        within: TerritoryArg,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: DbArg,
    },
    /// Abnormal pools and confirmed retests, with what was done, and the
    /// points' disinfection tasks.
    Alerts {
        round: String,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: DbArg,
    },
    /// Swabs the server flagged (a bad code, a closed or over-full tube, a
    /// purpose that does not fit the tube, a clock ahead, a second swab), newest first.
    Flagged {
        round: String,
        /// Only this point (STREET-ID).
        #[arg(long)]
        point: Option<String>,
        #[arg(long, default_value_t = 500)]
        limit: i64,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: DbArg,
    },
    /// Mark a point's disinfection task (opened by an abnormal pool) done.
    DisinfectionDone {
        /// Task id, STREET-ID (see `round alerts`).
        task: String,
        #[command(flatten)]
        db: DbArg,
    },
}

#[derive(Subcommand)]
pub enum AlertsCmd {
    /// Add a group-robot webhook for a street: wecom, dingtalk, feishu or json.
    Add {
        #[arg(long)]
        street: String,
        #[arg(long)]
        kind: String,
        #[arg(long)]
        url: String,
        /// The robot's signing secret (DingTalk and Feishu 加签), when its
        /// security setting asks for signed messages.
        #[arg(
            long,
            env = "GRIDWARDEN_ALERT_SECRET",
            default_value = "",
            hide_env_values = true
        )]
        secret: String,
        #[command(flatten)]
        db: DbArg,
    },
    /// List a street's channels and their recent messages.
    List {
        #[arg(long)]
        street: String,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: DbArg,
    },
    /// Send a test message to a channel now and say whether it arrived.
    Test {
        channel: String,
        #[command(flatten)]
        db: DbArg,
    },
    /// Remove a channel: nothing more is pushed to it.
    Remove {
        channel: String,
        #[command(flatten)]
        db: DbArg,
    },
}

/// The operator at the machine: every right, every action audited as `cli:USER`.
pub(crate) fn operator() -> Principal {
    Principal::operator(&crate::actor())
}

pub(crate) async fn street_id(store: &Store, s: &str) -> Result<i64> {
    match store.find_streets(s).await?.as_slice() {
        [one] => Ok(one.id),
        [] => bail!("找不到街道 street not found: {s}"),
        _ => bail!("街道不唯一 street is ambiguous: {s}"),
    }
}

/// A community of `street` by its id (STREET-ID), its code or its name, as
/// `territory` shows them.
async fn community_in(store: &Store, street: i64, s: &str) -> Result<Key> {
    if let Ok(k) = s.parse::<Key>() {
        return Ok(k);
    }
    match store.communities(Some(s), Some(street)).await?.as_slice() {
        [one] => Ok(Key {
            street: one.street_id,
            id: one.id,
        }),
        [] => bail!("本街道找不到社区 {s}（请用 territory 所列的编号、代码或名称）/ no community {s} in the street (give its id, code or name as territory lists them)"),
        _ => bail!("社区 {s} 不唯一，请用编号 STREET-ID / community {s} is ambiguous: give its id (STREET-ID)"),
    }
}

pub(crate) fn key(s: &str, what: &str) -> Result<Key> {
    s.parse()
        .map_err(|_| anyhow::anyhow!("{what} 应为 STREET-ID / {what} must be STREET-ID: {s}"))
}

/// "YYYY-MM-DD HH:MM" (or "YYYY-MM-DD") in China time → Unix ms.
fn moment(s: &str) -> Result<i64> {
    gw_domain::date::parse_minute_cst(s).map_err(|e| {
        anyhow::anyhow!(
            "{e}: 应为 YYYY-MM-DD HH:MM（北京时间）/ expected YYYY-MM-DD HH:MM (China time)"
        )
    })
}

/// A slot named on the command line: "YYYY-MM-DD HH:MM" (China time), Unix
/// ms, or "HH:MM" alone: its clock time, found among the round's slots
/// whatever their date (a round running past midnight names its 00:30).
fn slot_at(s: &str) -> Result<gw_app::call_delay::SlotAt> {
    use gw_app::call_delay::SlotAt;
    let s = s.trim();
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()) {
        return Ok(SlotAt::Ms(s.parse().context("ms")?));
    }
    if s.len() <= 5 && s.contains(':') {
        return SlotAt::clock(s).ok_or_else(|| {
            anyhow::anyhow!("{s}: 应为 HH:MM（北京时间）/ expected HH:MM (China time)")
        });
    }
    Ok(SlotAt::Ms(moment(s)?))
}

pub(crate) fn app_err(e: gw_app::access::AuthError) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

pub async fn round_cmd(cmd: RoundCmd, clock: &Clock) -> Result<()> {
    let op = operator();
    match cmd {
        RoundCmd::Schedule(c) => return crate::round::run(c, clock, &crate::actor()).await,
        RoundCmd::Create {
            street,
            name,
            starts,
            ends,
            pool,
            community,
            points_from,
            db,
        } => {
            let store = open(&db).await?;
            let street = street_id(&store, &street).await?;
            let mut communities = Vec::new();
            for c in &community {
                communities.push(community_in(&store, street, c).await?);
            }
            let points_from = points_from
                .as_deref()
                .map(|f| key(f, "--points-from"))
                .transpose()?;
            let made = gw_app::testing::create_round_carrying(
                &store,
                clock,
                &op,
                &gw_app::testing::NewRound {
                    street,
                    name: &name,
                    starts_ms: moment(&starts).context("--starts")?,
                    ends_ms: moment(&ends).context("--ends")?,
                    pool_size: pool,
                    communities,
                },
                points_from,
            )
            .await
            .map_err(app_err)?;
            println!("轮次 round {} 已创建（计划中）/ created (planned)", made.id);
            if let Some(c) = &made.carried {
                println!("{}", c.summary());
                for p in &c.points {
                    println!(
                        "  采样点 point {} {} ← {}（授权 {} 项 grants）",
                        p.id, p.name, p.from, p.grants
                    );
                }
            }
        }
        RoundCmd::List { street, json, db } => {
            let store = open(&db).await?;
            let street = street_id(&store, &street).await?;
            let rounds = gw_app::testing::rounds(&store, clock, &op, street)
                .await
                .map_err(app_err)?;
            if json {
                println!("{}", json!({ "rounds": rounds }));
            } else {
                if rounds.is_empty() {
                    println!("本街道还没有检测轮次 / no testing round in this street yet: gridwarden round create …");
                }
                for r in rounds {
                    println!(
                        "{:<8} {:<18} {} → {}  {}混1  {}{}",
                        r.id,
                        r.state,
                        gw_domain::notify::clock_text(r.starts_ms),
                        gw_domain::notify::clock_text(r.ends_ms),
                        r.pool_size,
                        r.name,
                        if r.communities.is_empty() {
                            String::new()
                        } else {
                            format!("  社区 communities {}", r.communities.join(","))
                        }
                    );
                }
            }
        }
        RoundCmd::Settings {
            street,
            tube_length,
            tube_check,
            lab_max_pool,
            json,
            db,
        } => {
            let store = open(&db).await?;
            let street = street_id(&store, &street).await?;
            let (tube_min_len, tube_max_len) = match tube_length.as_deref().map(str::trim) {
                None => (None, None),
                Some(t) => {
                    let (a, b) = t.split_once('-').unwrap_or((t, t));
                    let n = |x: &str| {
                        x.trim()
                            .parse::<usize>()
                            .with_context(|| format!("--tube-length {t}: MIN-MAX, e.g. 8-20"))
                    };
                    (Some(n(a)?), Some(n(b)?))
                }
            };
            let v = if tube_min_len.is_none() && tube_check.is_none() && lab_max_pool.is_none() {
                gw_app::testing::testing_settings(&store, clock, &op, street).await
            } else {
                let change = gw_app::testing::SettingsChange {
                    tube_min_len,
                    tube_max_len,
                    tube_check,
                    lab_max_pool,
                };
                gw_app::testing::set_testing_settings(&store, clock, &op, street, &change).await
            }
            .map_err(app_err)?;
            if json {
                println!("{}", json!(v));
            } else {
                println!(
                    "街道 street {}: 管码 tube barcodes {}–{} 位 characters, 校验 check {}; 实验室最多 lab accepts up to {} 混1",
                    v.street, v.tube_min_len, v.tube_max_len, v.tube_check, v.lab_max_pool
                );
                for w in &v.warnings {
                    println!("  注意 warning: {w}");
                }
            }
        }
        RoundCmd::PoolAdvice {
            street,
            lab_max,
            json,
            db,
        } => {
            let store = open(&db).await?;
            let street = street_id(&store, &street).await?;
            let v = gw_app::testing::pool_advice(&store, clock, &op, street, lab_max)
                .await
                .map_err(app_err)?;
            if json {
                println!("{}", json!(v));
            } else {
                match (&v.advice, v.prevalence) {
                    (Some(a), Some(p)) => println!(
                        "{} 管结果 tubes seen; 估计阳性率 estimated rate {:.4}%; 建议 advice {} 混1 (每人 {:.3} 次检测 tests per person, 节省 saving {:.0}%; 实验室上限 lab limit {})",
                        v.tubes_seen,
                        p * 100.0,
                        a.pool_size,
                        a.tests_per_person,
                        a.saving * 100.0,
                        v.lab_max
                    ),
                    (None, Some(p)) => println!(
                        "{} 管 {} 人的结果（估计阳性率 {:.4}%）太少，不足以建议混采规模（至少 {} 人）/ {} tubes of {} swabs (estimated rate {:.4}%) are too few to advise on (at least {})",
                        v.tubes_seen,
                        v.swabs_seen,
                        p * 100.0,
                        gw_domain::testing::MIN_SWABS_FOR_ADVICE,
                        v.tubes_seen,
                        v.swabs_seen,
                        p * 100.0,
                        gw_domain::testing::MIN_SWABS_FOR_ADVICE
                    ),
                    _ => println!("尚无检测结果可依 / no results to go on yet"),
                }
                if !v.rounds.is_empty() {
                    println!(
                        "依据最近的轮次 from the latest rounds: {}（{} 管 tubes，{} 人次 swabs，异常 {} 管 abnormal；最近 {} 轮，不足 {} 人次则再往前 / the newest {} rounds, more until {} swabs）",
                        v.rounds.join(", "),
                        v.tubes_seen,
                        v.swabs_seen,
                        v.abnormal_seen,
                        gw_domain::testing::ADVICE_ROUNDS,
                        gw_domain::testing::ADVICE_WINDOW_SWABS,
                        gw_domain::testing::ADVICE_ROUNDS,
                        gw_domain::testing::ADVICE_WINDOW_SWABS
                    );
                }
            }
        }
        RoundCmd::State { round, to, db } => {
            let store = open(&db).await?;
            let round = key(&round, "round")?;
            let s = gw_app::testing::advance_round(&store, clock, &op, round, &to)
                .await
                .map_err(app_err)?;
            println!("轮次 round {round} → {s}");
            for w in gw_app::testing::move_warnings(&store, clock, &op, round, &s).await {
                println!("  注意 warning: {w}");
            }
        }
        RoundCmd::Point {
            round,
            name,
            community,
            stations,
            hours,
            db,
        } => {
            let store = open(&db).await?;
            let round = key(&round, "round")?;
            let community = community_in(&store, round.street, &community).await?;
            let p = gw_app::schedule::add_point(
                &store,
                clock,
                &op,
                round,
                &name,
                community,
                stations,
                hours.schedule()?,
            )
            .await
            .map_err(app_err)?;
            println!("采样点 point {p} 已添加 / added");
        }
        RoundCmd::PointRemove { point, db } => {
            let store = open(&db).await?;
            let point = key(&point, "point")?;
            gw_app::schedule::remove_point(&store, clock, &op, point)
                .await
                .map_err(app_err)?;
            println!("采样点 {point} 已删除 / point {point} removed (plan the round again if it was planned)");
        }
        RoundCmd::PointSet {
            point,
            stations,
            name,
            hours,
            json,
            db,
        } => {
            let store = open(&db).await?;
            let v = gw_app::schedule::change_point(
                &store,
                clock,
                &op,
                key(&point, "point")?,
                stations,
                name.as_deref(),
                hours.schedule()?,
            )
            .await
            .map_err(app_err)?;
            if json {
                println!("{}", serde_json::to_string(&v)?);
            } else {
                let hours = match (v.opens_ms, v.closes_ms) {
                    (None, None) => "按轮次时间 the round's window".to_string(),
                    (o, c) => format!(
                        "{} – {}",
                        o.map_or(
                            "轮次开始 the round's start".into(),
                            gw_domain::notify::clock_text
                        ),
                        c.map_or(
                            "轮次结束 the round's end".into(),
                            gw_domain::notify::clock_text
                        )
                    ),
                };
                println!(
                    "采样点 {} {}: {} 台 stations, {} 人/台/时 per station per hour, {hours}",
                    v.id, v.name, v.stations, v.rate_per_station_h,
                );
            }
            for w in &v.warnings {
                eprintln!("{w}");
            }
        }
        RoundCmd::Coverage {
            round,
            by,
            within,
            json,
            db,
        } => {
            let store = open(&db).await?;
            let within = within.within()?;
            let by = match by.as_deref() {
                Some(b) => {
                    gw_app::coverage::parse_level(b).context("--by: community, grid or building")?
                }
                None => match within {
                    None | Some((Level::Community, _)) => Level::Grid,
                    Some(_) => Level::Building,
                },
            };
            let c =
                gw_app::coverage::coverage(&store, clock, &op, key(&round, "round")?, by, within)
                    .await
                    .map_err(app_err)?;
            if json {
                println!("{}", serde_json::to_string(&json!(c))?);
            } else {
                let t = &c.totals;
                println!(
                    "轮次 round {}: 应检 expected {}  已采 sampled {}  免检 exempt {}  漏检 missed {}  开轮后迁出本轮范围 moved out {}  新增 added {} (已采 sampled {}；另有免检 exempt besides {})",
                    c.round, t.expected, t.sampled, t.exempt, t.missed, t.moved_out, t.added, t.added_sampled, t.added_exempt
                );
                // Names for the rows' keys (the key stays: other commands take it).
                let mut names: std::collections::HashMap<(&str, String), String> =
                    Default::default();
                for g in store.grids(None, None).await? {
                    names.insert(
                        ("grid", format!("{}-{}", g.street_id, g.id)),
                        format!("{} {}", g.community_name, g.name),
                    );
                }
                for r in c.rows.iter().filter(|r| r.level == "building") {
                    if let Ok(k) = r.key.parse::<gw_domain::ids::Key>() {
                        let b = store.building(k.street, k.id).await?;
                        names.insert(
                            ("building", r.key.clone()),
                            format!("{} {}", b.compound, b.name),
                        );
                    }
                }
                for cm in store.communities(None, None).await? {
                    names.insert(
                        ("community", format!("{}-{}", cm.street_id, cm.id)),
                        cm.name,
                    );
                }
                // Each row adds up as the totals do: 应检 = 已采 + 免检 + 漏检 + 迁出.
                println!(
                    "  {:<10} {:>6} {:>6} {:>5} {:>6} {:>5} {:>5}  名称 name",
                    "id", "应检", "已采", "免检", "漏检", "迁出", "新增"
                );
                for r in &c.rows {
                    println!(
                        "  {:<10} {:>8} {:>8} {:>7} {:>8} {:>7} {:>7}  {}",
                        r.key,
                        r.expected,
                        r.sampled,
                        r.exempt,
                        r.missed,
                        r.moved_out,
                        r.added,
                        names
                            .get(&(r.level, r.key.clone()))
                            .map_or(r.level, String::as_str)
                    );
                }
                for p in &c.points {
                    // The point's own territory, once a call-down plan gives it one.
                    let territory = match (p.expected, p.sampled, p.exempt, p.missed) {
                        (Some(e), Some(s), Some(x), Some(m)) => format!(
                            "；所辖 {} 栋楼 its {} buildings: 应检 expected {e}  已采 sampled {s}  免检 exempt {x}  漏检 missed {m}  迁出 moved out {}",
                            p.buildings, p.buildings, p.moved_out.unwrap_or(0)
                        ),
                        _ => String::new(),
                    };
                    println!(
                        "  采样点 point {} {}: 本点采 {} 人 people swabbed here, {} 管 tubes{territory}",
                        p.point, p.name, p.people, p.tubes
                    );
                }
            }
        }
        RoundCmd::Missed {
            round,
            within,
            json,
            db,
        } => {
            let store = open(&db).await?;
            let within = within.required()?;
            let round = key(&round, "round")?;
            let m = gw_app::coverage::missed(&store, clock, &op, round, within)
                .await
                .map_err(app_err)?;
            let today = clock.today();
            let masked = |rows: &[gw_store::registry::ResidentRow]| -> Vec<_> {
                rows.iter()
                    .map(|r| gw_app::registry::ResidentView::masked(r, today))
                    .collect()
            };
            let (views, added, moved_in) = (
                m.views(&m.expected, today),
                m.views(&m.added, today),
                m.views(&m.moved_in, today),
            );
            // A person swabbed into invalid tubes only: why they are listed.
            let line = |v: &gw_app::coverage::MissedView| match v.reason {
                Some(why) => format!("{} · {why}", person_line(&v.resident)),
                None => person_line(&v.resident),
            };
            if json {
                println!(
                    "{}",
                    json!({ "items": views, "added": added, "moved_away": m.moved_away, "moved_out": m.moved_out.len() + m.moved_out_hidden, "moved_in": moved_in })
                );
            } else {
                println!("漏检 missed: {}", views.len());
                for v in &views {
                    println!("  {}", line(v));
                }
                println!(
                    "新增未采 added since the round opened, not swabbed: {}",
                    added.len()
                );
                for v in &added {
                    println!("  {}", line(v));
                }
                if !moved_in.is_empty() {
                    println!(
                        "开轮后迁入，未采（计在原登记处）/ moved in since the round opened, not swabbed (counted where they lived then): {}",
                        moved_in.len()
                    );
                    for v in &moved_in {
                        println!("  {}", line(v));
                    }
                }
                let moved_out = m.moved_out.len() + m.moved_out_hidden;
                if moved_out > 0 {
                    println!(
                        "开轮后迁出本轮范围 {moved_out} 人，不算本处漏检，另行统计 / {moved_out} moved out of the round's communities since it opened: not missed here, counted apart{}",
                        if m.moved_out_hidden > 0 {
                            format!("（其中 {} 人的现住址您无权查看 / {} live where you may not read)", m.moved_out_hidden, m.moved_out_hidden)
                        } else {
                            String::new()
                        }
                    );
                    for v in masked(&m.moved_out) {
                        println!("  {}", person_line(&v));
                    }
                }
                if m.moved_away > 0 {
                    println!(
                        "另有 {} 人已迁往您无权查看的网格，未列出 / {} more have moved to a grid you do not cover: not listed",
                        m.moved_away, m.moved_away
                    );
                }
            }
        }
        RoundCmd::Exempt {
            round,
            resident,
            reason,
            db,
        } => {
            let store = open(&db).await?;
            let round = key(&round, "round")?;
            let resident = key(&resident, "resident")?;
            gw_app::testing::exempt(&store, clock, &op, round, resident, &reason)
                .await
                .map_err(app_err)?;
            println!("轮次 round {round}: {resident} → {reason}");
        }
        RoundCmd::DoorToDoor {
            round,
            grid,
            community,
            json,
            db,
        } => {
            let store = open(&db).await?;
            let round = key(&round, "round")?;
            let grids = match (grid, community) {
                (Some(grid), _) => {
                    let floors = gw_app::testing::door_to_door(
                        &store,
                        clock,
                        &op,
                        round,
                        key(&grid, "grid")?,
                    )
                    .await
                    .map_err(app_err)?;
                    if json {
                        println!("{}", json!({ "floors": floors }));
                        return Ok(());
                    }
                    vec![(None, floors)]
                }
                (None, Some(community)) => {
                    let community = key(&community, "community")?;
                    let grids = gw_app::testing::door_to_door_community(
                        &store, clock, &op, round, community,
                    )
                    .await
                    .map_err(app_err)?;
                    if json {
                        println!(
                            "{}",
                            json!({ "community": community.to_string(), "grids": grids })
                        );
                        return Ok(());
                    }
                    grids
                        .into_iter()
                        .map(|g| (Some((g.grid, g.name)), g.floors))
                        .collect()
                }
                (None, None) => anyhow::bail!("give --grid or --community"),
            };
            for (grid, floors) in grids {
                if let Some((k, name)) = grid {
                    println!("网格 grid {name} ({k})");
                }
                print_door_floors(&floors);
            }
        }
        RoundCmd::Exemptions {
            round,
            within,
            json,
            db,
        } => {
            let store = open(&db).await?;
            let within = within.required()?;
            let rows =
                gw_app::coverage::exemptions(&store, clock, &op, key(&round, "round")?, within)
                    .await
                    .map_err(app_err)?;
            let today = clock.today();
            let items: Vec<_> = rows.iter().map(|r| r.masked(today)).collect();
            if json {
                println!("{}", json!({ "items": items }));
            } else {
                println!("免检 exempt: {}", items.len());
                for i in &items {
                    println!(
                        "  {}  {} · {} · {}",
                        person_line(&i.resident),
                        gw_domain::testing::exemption_label(&i.reason),
                        i.set_by,
                        gw_domain::notify::clock_text(i.created_ms)
                    );
                }
            }
        }
        RoundCmd::Resamples {
            round,
            within,
            json,
            db,
        } => {
            let store = open(&db).await?;
            let within = within.required()?;
            let rows =
                gw_app::coverage::resamples(&store, clock, &op, key(&round, "round")?, within)
                    .await
                    .map_err(app_err)?;
            let today = clock.today();
            let items: Vec<_> = rows.iter().map(|r| r.masked(today)).collect();
            if json {
                println!("{}", json!({ "items": items }));
            } else {
                let open_now = rows.iter().filter(|r| r.state == "open").count();
                println!("待重采 to re-sample: {open_now} (of {})", rows.len());
                for i in &items {
                    let held = match i.held_at_home {
                        Some(h) if i.state == "open" => {
                            format!("  住户管控，入户重采 held at home ({h}): at the door")
                        }
                        _ => String::new(),
                    };
                    println!(
                        "  {}  {} {}{held}",
                        person_line(&i.resident),
                        i.tube,
                        i.state
                    );
                }
            }
        }
        RoundCmd::Push {
            round,
            starts,
            again,
            db,
        } => {
            let store = open(&db).await?;
            let starts = starts
                .as_deref()
                .map(|s| moment(s).context("--starts"))
                .transpose()?;
            let n = gw_app::notify::push_call_down(
                &store,
                clock,
                &op,
                key(&round, "round")?,
                starts,
                again,
            )
            .await
            .map_err(app_err)?;
            println!(
                "已排队 queued {n} 条叫号消息 call-down message(s); 运行中的服务器发送 the running server delivers them"
            );
        }
        RoundCmd::Delay {
            round,
            slot,
            point,
            minutes,
            db,
        } => {
            let store = open(&db).await?;
            let slot = slot_at(&slot).context("--slot")?;
            let point = key(&point, "point")?;
            let d = gw_app::call_delay::delay_call_down(
                &store,
                clock,
                &op,
                key(&round, "round")?,
                slot,
                point,
                minutes,
            )
            .await
            .map_err(app_err)?;
            let (szh, sen) = if d.suggested {
                ("（建议值）", " (suggested)")
            } else {
                ("", "")
            };
            println!(
                "已排队 queued {} 条延迟下楼消息 delay message(s) for {} · {}: 推迟 {} 分钟{szh}，{} 后下楼 come down {} minutes later{sen}, after {}; 运行中的服务器发送 the running server delivers them",
                d.queued,
                d.points.join("、"),
                gw_domain::notify::clock_text(d.slot_ms),
                d.minutes,
                gw_domain::schedule::hhmm(d.come_down_ms),
                d.minutes,
                gw_domain::schedule::hhmm(d.come_down_ms),
            );
            // Sent all the same: what to look out for.
            for w in &d.warnings {
                println!("注意 warning: {w}");
            }
        }
        RoundCmd::Compare {
            round,
            within,
            json,
            db,
        } => {
            let store = open(&db).await?;
            let within = within.required()?;
            let c = gw_app::coverage::compare(&store, clock, &op, key(&round, "round")?, within)
                .await
                .map_err(app_err)?;
            if json {
                println!("{}", json!(c));
                return Ok(());
            }
            let Some(before) = &c.before else {
                println!(
                    "轮次 {} 之前没有可比的轮次 / no earlier round to compare {} with",
                    c.round, c.round
                );
                return Ok(());
            };
            println!(
                "轮次 round {} 对比 against {} ({}):",
                c.round, before, c.within
            );
            println!(
                "  楼栋 building\t应检 expected\t本轮 sampled\t上轮 before\t上轮采本轮未采 lapsed"
            );
            for b in &c.buildings {
                println!(
                    "  {}\t{}\t{}\t{}\t{}",
                    b.name, b.expected, b.sampled, b.sampled_before, b.lapsed
                );
            }
            // Points serve a whole community: their figures are the
            // community's, also when a grid or building was asked about.
            println!("  采样点（全社区）point (whole community)\t本轮 people\t上轮 before");
            for p in &c.points {
                println!("  {}\t{}\t{}", p.name, p.people, p.people_before);
            }
            println!(
                "上轮采、本轮未采 sampled last round, not this one: {}",
                c.lapsed.len()
            );
            for v in &c.lapsed {
                println!("  {}", person_line(v));
            }
        }
        RoundCmd::Alerts { round, json, db } => {
            let store = open(&db).await?;
            let round = key(&round, "round")?;
            // With each member's retest and how it came back.
            let a = gw_app::alerts::details(&store, clock, &op, round)
                .await
                .map_err(app_err)?;
            let d = gw_app::testing::disinfection_tasks(&store, clock, &op, round)
                .await
                .map_err(app_err)?;
            if json {
                println!("{}", json!({ "alerts": a, "disinfection": d }));
                return Ok(());
            }
            println!("预警 alerts: {}", a.len());
            for detail in &a {
                let al = &detail.alert;
                let what = if al.kind == "confirmed" {
                    "单管复检异常 retest abnormal"
                } else {
                    "混管异常 abnormal pool"
                };
                println!(
                    "  {} {what} {} · {} · {} · {} 人 people ({} 待复检 retests open{}{}) · {} 户管控 households under control",
                    al.alert,
                    al.barcode,
                    al.state,
                    gw_domain::notify::clock_text(al.created_ms),
                    al.member_count,
                    al.retests_open,
                    if al.retests_swabbed > 0 {
                        format!(
                            ", {} 人已采待结果 swabbed, result pending",
                            al.retests_swabbed
                        )
                    } else {
                        String::new()
                    },
                    if al.retests_exempt > 0 {
                        format!(", {} 人免检未复检 exempt, not retested", al.retests_exempt)
                    } else {
                        String::new()
                    },
                    al.households_under_control
                );
                for m in &al.members {
                    let retest =
                        detail
                            .retests
                            .iter()
                            .find(|r| r.resident == m.id)
                            .map_or("", |r| match r.state.as_str() {
                                "open" if r.exempt => "  免检未复检 exempt, not retested",
                                "open" if r.swabbed => "  已采，待结果 swabbed, result pending",
                                "open" => "  待复检 retest open",
                                "cleared" => "  复检阴性 retest negative",
                                "confirmed" => "  复检阳性 retest positive",
                                "withdrawn" => "  复检已撤销 retest withdrawn",
                                _ => "",
                            });
                    println!("    {}{retest}", person_line(m));
                }
                if al.unidentified > 0 {
                    println!(
                        "    另有 {} 份样本对应不到人 / {} more swabs name nobody",
                        al.unidentified, al.unidentified
                    );
                }
                if al.revoked_code_count > 0 {
                    println!(
                        "    其中 {} 份用了已作废的码，码的主人 / {} taken with a revoked code, whose owners are (trace them):",
                        al.revoked_code_count, al.revoked_code_count
                    );
                    for m in &al.revoked_code_owners {
                        println!("      {}", person_line(m));
                    }
                }
            }
            println!("消杀 disinfection tasks: {}", d.len());
            for t in &d {
                println!(
                    "  {} {} {} {} (预警 alert {})",
                    t.task,
                    t.point_name,
                    t.state,
                    gw_domain::notify::clock_text(t.done_ms.unwrap_or(t.created_ms)),
                    t.alert
                );
            }
        }
        RoundCmd::Flagged {
            round,
            point,
            limit,
            json,
            db,
        } => {
            let store = open(&db).await?;
            let round = key(&round, "round")?;
            let point = point.map(|p| key(&p, "--point")).transpose()?;
            let items = gw_app::testing::flagged(&store, clock, &op, round, point, limit)
                .await
                .map_err(app_err)?;
            if json {
                println!("{}", serde_json::to_string(&items)?);
            } else {
                println!("待核查的采样 / flagged swabs: {}", items.len());
                for f in &items {
                    let what = match (&f.duplicate_of, f.problem.is_empty()) {
                        (Some(first), true) => {
                            format!("重复采样，首次为采样记录 {first} / second swab: the first is registration {first}")
                        }
                        (Some(first), false) => {
                            format!(
                                "{} (首次为采样记录 {first} / the first is registration {first})",
                                f.problem
                            )
                        }
                        (None, _) => f.problem.clone(),
                    };
                    println!(
                        "  {}\t{} {}\ttube {}\t{}\t{}\t{}",
                        f.registration,
                        f.point,
                        f.point_name,
                        f.tube,
                        gw_domain::notify::clock_text(f.scanned_ms),
                        f.name.as_deref().or(f.resident.as_deref()).unwrap_or("—"),
                        what
                    );
                }
            }
        }
        RoundCmd::History {
            street,
            within,
            rounds,
            json,
            db,
        } => {
            let store = open(&db).await?;
            let street = street_id(&store, &street).await?;
            let h = gw_app::coverage::history(&store, clock, &op, street, within.within()?, rounds)
                .await
                .map_err(app_err)?;
            if json {
                println!("{}", serde_json::to_string(&h)?);
            } else {
                println!(
                    "连续 {} 轮不落一人 / {} round(s) in a row with nobody missed",
                    h.in_a_row, h.in_a_row
                );
                for r in &h.rounds {
                    let t = &r.totals;
                    println!(
                        "  {} {} ({}): 应检 expected {} 已采 sampled {} 免检 exempt {} 漏检 missed {} 新增已采 added sampled {}/{} {}",
                        r.round,
                        r.name,
                        r.state,
                        t.expected,
                        t.sampled,
                        t.exempt,
                        t.missed,
                        t.added_sampled,
                        t.added,
                        if r.nobody_missed { "✓" } else { "" }
                    );
                }
            }
        }
        RoundCmd::DisinfectionDone { task, db } => {
            let store = open(&db).await?;
            let task = key(&task, "task")?;
            gw_app::testing::disinfection_done(&store, clock, &op, task)
                .await
                .map_err(app_err)?;
            println!("消杀任务 {task} 已完成 / disinfection task done");
        }
    }
    Ok(())
}

pub async fn alerts_cmd(cmd: AlertsCmd, clock: &Clock) -> Result<()> {
    let op = operator();
    match cmd {
        AlertsCmd::Add {
            street,
            kind,
            url,
            secret,
            db,
        } => {
            let store = open(&db).await?;
            let street = street_id(&store, &street).await?;
            let k = gw_app::notify::add_channel(&store, clock, &op, street, &kind, &url, &secret)
                .await
                .map_err(app_err)?;
            println!("告警渠道 channel {k} 已添加 / added");
        }
        AlertsCmd::List { street, json, db } => {
            let store = open(&db).await?;
            let street = street_id(&store, &street).await?;
            let c = gw_app::notify::channels(&store, clock, &op, street)
                .await
                .map_err(app_err)?;
            let n = gw_app::notify::notifications(&store, clock, &op, street)
                .await
                .map_err(app_err)?;
            if json {
                println!("{}", json!({ "channels": c, "notifications": n }));
                return Ok(());
            }
            println!("渠道 channels: {}", c.len());
            for ch in &c {
                println!(
                    "  {} {} {}{}{}",
                    ch.channel,
                    ch.kind,
                    ch.url,
                    if ch.signed { " (加签 signed)" } else { "" },
                    if ch.active { "" } else { " (停用 inactive)" }
                );
            }
            println!("最近消息 recent messages: {}", n.len());
            for m in &n {
                println!(
                    "  {} → {} {} · {} 次 attempts · {}{}",
                    m.notification,
                    m.channel,
                    m.state,
                    m.attempts,
                    gw_domain::notify::clock_text(m.delivered_ms.unwrap_or(m.created_ms)),
                    if m.last_error.is_empty() {
                        String::new()
                    } else {
                        format!(" · {}", m.last_error)
                    }
                );
            }
        }
        AlertsCmd::Test { channel, db } => {
            let store = open(&db).await?;
            let channel = key(&channel, "channel")?;
            let n = gw_app::notify::test_channel(&store, clock, &op, channel)
                .await
                .map_err(app_err)?;
            // Deliver it now, from here, and report.
            match gw_app::notify::deliver_now(&store, clock, n)
                .await
                .map_err(app_err)?
            {
                Ok(()) => println!("已送达 delivered to channel {channel}"),
                Err(e) => bail!("送达失败 / delivery failed: {e}"),
            }
        }
        AlertsCmd::Remove { channel, db } => {
            let store = open(&db).await?;
            let channel = key(&channel, "channel")?;
            gw_app::notify::remove_channel(&store, clock, &op, channel)
                .await
                .map_err(app_err)?;
            println!("告警渠道 channel {channel} 已移除 / removed");
        }
    }
    Ok(())
}

/// One resident as a list line (masked as the view is): id, name, gender and
/// age, address, phones, flags.
/// A door-to-door row's person: the registry's line, or the team's.
/// One grid's door-to-door list: those not yet sampled, then the retests
/// and re-samples due at home (already sampled: work to do, not missed).
fn print_door_floors(floors: &[gw_app::testing::DoorFloor]) {
    for sampled in [false, true] {
        let n: usize = floors
            .iter()
            .map(|f| f.residents.iter().filter(|r| r.sampled == sampled).count())
            .sum();
        if sampled {
            if n == 0 {
                continue;
            }
            println!("待单管复检、待重采（居家，已采样，非漏采） retests and re-samples due at home (already sampled, not missed): {n}");
        } else {
            println!("入户采样 door-to-door: {n}");
        }
        for f in floors {
            let rows: Vec<_> = f
                .residents
                .iter()
                .filter(|r| r.sampled == sampled)
                .collect();
            if rows.is_empty() {
                continue;
            }
            let floor = f.floor.map_or_else(|| "?".to_string(), |x| x.to_string());
            println!("  {} {floor}层 floor:", f.building);
            for r in rows {
                let why: Vec<&str> = r.reasons.iter().map(|w| w.text.as_str()).collect();
                let due = if r.purpose != "door_to_door" {
                    format!(" {} (--purpose {})", r.due, r.purposes.join(", --purpose "))
                } else {
                    String::new()
                };
                println!("    {} [{}]{due}", door_line(&r.resident), why.join("; "));
            }
        }
    }
}

fn door_line(p: &gw_app::testing::DoorPerson) -> String {
    match p {
        gw_app::testing::DoorPerson::Registry(v) => person_line(v),
        gw_app::testing::DoorPerson::Team(t) => {
            let phones: Vec<&str> = t.phones.iter().map(|p| p.number.as_str()).collect();
            format!(
                "{}  {}  {}  {}",
                t.name,
                t.address.as_deref().unwrap_or("-"),
                if phones.is_empty() {
                    "-".to_string()
                } else {
                    phones.join(" ")
                },
                t.flags.join(" ")
            )
            .trim_end()
            .to_string()
        }
    }
}

fn person_line(v: &gw_app::registry::ResidentView) -> String {
    let phones: Vec<&str> = v.phones.iter().map(|p| p.number.as_str()).collect();
    let age = v.age.map_or_else(String::new, |a| format!(" {a}岁"));
    let mut line = format!(
        "{}  {}  {}{age}  {}  {}",
        v.id,
        v.name,
        v.gender,
        v.address.as_deref().unwrap_or("-"),
        if phones.is_empty() {
            "-".to_string()
        } else {
            phones.join(" ")
        }
    );
    if !v.flags.is_empty() {
        line.push_str("  ");
        line.push_str(&v.flags.join(" "));
    }
    line
}
