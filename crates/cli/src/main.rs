//! `gridwarden`: the one binary. Serve, load the demo, migrate, import and
//! export rosters, set control status, benchmark.

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use gw_app::Clock;
use gw_store::Store;

mod bench;
mod bench_alert;
mod bench_coverage;
mod bench_field;
mod bench_load;
mod bench_results;
mod bench_scan;
mod handoff_cmd;
mod resident_cmd;
mod round;
mod round_cmd;
mod tube_cmd;

#[derive(Parser)]
#[command(
    name = "gridwarden",
    version,
    about = "网格卫士 Gridwarden: community-level emergency operations (registry, rosters, testing rounds)"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Args, Clone)]
pub(crate) struct DbArg {
    /// Database: a SQLite file path (sqlite://FILE also works) or postgres://… URL.
    #[arg(long, env = "GRIDWARDEN_DB", default_value = "gridwarden.db")]
    db: String,
}

#[derive(Args, Clone)]
struct BindArg {
    /// Address to listen on.
    #[arg(long, env = "GRIDWARDEN_BIND", default_value = "127.0.0.1:8080")]
    bind: SocketAddr,
    /// Seconds a request's body may stall (no data) before it is cut off
    /// with 408, nothing of it stored; headers are due within 30 s, or this
    /// if shorter (an idle connection is closed after as long).
    #[arg(long, value_name = "SECONDS", default_value_t = gw_web::listen::DEFAULT_REQUEST_TIMEOUT.as_secs(), value_parser = clap::value_parser!(u64).range(1..=86_400))]
    request_timeout: u64,
}

#[derive(Args, Clone)]
struct TlsArgs {
    /// Serve https: stations' cameras and offline mode need it off localhost.
    /// Without --cert/--key a self-signed certificate is made once and kept.
    #[arg(long)]
    tls: bool,
    /// PEM certificate (chain) to serve, with --key.
    #[arg(long, requires = "tls", requires = "key", value_name = "FILE")]
    cert: Option<PathBuf>,
    /// PEM private key of --cert.
    #[arg(long, requires = "tls", requires = "cert", value_name = "FILE")]
    key: Option<PathBuf>,
    /// Another host name or address the generated certificate covers (repeatable).
    #[arg(long = "tls-name", requires = "tls", value_name = "NAME")]
    tls_names: Vec<String>,
    /// Folder of the generated certificate (default: next to the SQLite file
    /// as FILE.tls/, or ./gridwarden.tls/ on PostgreSQL).
    #[arg(long, requires = "tls", value_name = "DIR")]
    tls_dir: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Serve an existing database over HTTP (JSON API under /api/v1).
    Serve {
        #[command(flatten)]
        db: DbArg,
        #[command(flatten)]
        bind: BindArg,
        #[command(flatten)]
        tls: TlsArgs,
    },
    /// Build a realistic demo street (deterministic for a seed) and serve it.
    Demo {
        /// Residents in all; more than 40,000 adds streets of the same shape.
        #[arg(long, default_value_t = 40_000)]
        residents: u64,
        /// Seed of the generator.
        #[arg(long, default_value_t = 2022)]
        seed: u64,
        #[command(flatten)]
        db: DbArg,
        #[command(flatten)]
        bind: BindArg,
        /// Load the data and exit without serving (the admin account and
        /// its one-time password come at the first `serve`).
        #[arg(long)]
        no_serve: bool,
        #[command(flatten)]
        tls: TlsArgs,
    },
    /// Apply pending database migrations and exit.
    Migrate {
        #[command(flatten)]
        db: DbArg,
    },
    /// Import residents from a file.
    #[command(subcommand)]
    Import(ImportCmd),
    /// Export residents to a file.
    #[command(subcommand)]
    Export(ExportCmd),
    /// Print the territory tree with counts.
    Territory {
        #[command(flatten)]
        db: DbArg,
        /// One JSON object on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Set or show control status (封控/管控/防范/临时管控) of a compound, building, unit or household.
    #[command(subcommand)]
    Control(ControlCmd),
    /// Show the audit log (who read, exported or changed personal data).
    Audit {
        #[command(flatten)]
        db: DbArg,
        /// Actor, e.g. user:wang or cli:root (a bare name means user:NAME).
        #[arg(long)]
        user: Option<String>,
        /// Resident id (STREET-ID).
        #[arg(long)]
        resident: Option<String>,
        /// Only events at or after this date (YYYY-MM-DD, China time).
        #[arg(long)]
        since: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
    /// Measure performance against raw limits.
    #[command(subcommand)]
    Bench(bench::BenchCmd),
    /// Testing rounds (全员核酸): create, list, move, points, plan and simulate, coverage, missed, compare, alerts.
    #[command(subcommand)]
    Round(round_cmd::RoundCmd),
    /// Alert channels (WeCom, DingTalk, Feishu group robots): add, list, test.
    #[command(subcommand)]
    Alerts(round_cmd::AlertsCmd),
    /// Personal codes (个人码): show, verify, rotate or retire signing keys.
    #[command(subcommand)]
    Codes(CodesCmd),
    /// Manage accounts and their role grants.
    #[command(subcommand)]
    User(UserCmd),
    /// When the emergency ends: anonymise personal data last changed before DATE (counts survive), then rewrite the database's files so the cleared values are gone from them too (VACUUM; run it when no round is sampling); prints what it cannot reach (backups, exports, PostgreSQL WAL).
    Purge {
        /// YYYY-MM-DD (China time).
        #[arg(long)]
        before: String,
        /// Required: purging cannot be undone.
        #[arg(long)]
        yes: bool,
        #[command(flatten)]
        db: DbArg,
    },
    /// Write sample files to try the importer on.
    #[command(subcommand)]
    Sample(SampleCmd),
    /// Lab results (检测结果) of a testing round.
    #[command(subcommand)]
    Results(ResultsCmd),
    /// Supplies issued to testing points (采样管、试剂盒、防护用品).
    #[command(subcommand)]
    Supplies(handoff_cmd::SuppliesCmd),
    /// Bags, boxes, hand-over and lab receipt (装袋、装箱、交接、实验室接收) and the count reconciliation (数据统计校对).
    #[command(subcommand)]
    Handoff(handoff_cmd::HandoffCmd),
    /// Scanning stations of a testing point: issue an enrolment code, revoke.
    #[command(subcommand)]
    Station(handoff_cmd::StationCmd),
    /// A station's work by hand: open a tube at a point, register swabs into it, close it.
    #[command(subcommand)]
    Tube(tube_cmd::TubeCmd),
    /// Walk-ins on no roster (pending residents) and matching them to the registry.
    #[command(subcommand)]
    Resident(resident_cmd::ResidentCmd),
    /// Buildings: place one in a grid of its community.
    #[command(subcommand)]
    Building(BuildingCmd),
}

#[derive(Subcommand)]
enum BuildingCmd {
    /// Place a building in a grid of its community (one a roster brought in
    /// lands in 未分配网格): its residents go with it; audited.
    Grid {
        /// The building, STREET-ID (as the API and its page show it).
        building: String,
        /// The grid: STREET-ID, or its name or code within the building's community.
        #[arg(long)]
        grid: String,
        #[command(flatten)]
        db: DbArg,
    },
}

#[derive(Subcommand)]
enum ResultsCmd {
    /// Record a lab's results file (.xlsx, .xls or .csv: tube barcode and result per row); all or nothing.
    Upload {
        /// The round, STREET-ID.
        #[arg(long)]
        round: String,
        /// The lab's file.
        file: PathBuf,
        /// Largest file accepted, in bytes.
        #[arg(long, default_value_t = gw_app::roster_file::DEFAULT_MAX_SIZE)]
        max_size: u64,
        /// Print exactly one JSON object on stdout.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: DbArg,
    },
    /// Correct a pooled tube's recorded result (the lab's corrected report), with the reason:
    /// an abnormal pool's alert is withdrawn and its controls end, or the new abnormal result traces the pool.
    Correct {
        /// The round, STREET-ID.
        #[arg(long)]
        round: String,
        /// The tube's barcode.
        #[arg(long)]
        barcode: String,
        /// negative, abnormal (positive) or invalid (阴性, 阳性, 无效 …).
        #[arg(long)]
        result: String,
        /// Why (the lab's corrected report): recorded in the audit log.
        #[arg(long)]
        reason: String,
        /// Print exactly one JSON object on stdout.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: DbArg,
    },
}

#[derive(Subcommand)]
enum CodesCmd {
    /// Print a resident's current personal code.
    Show {
        /// Resident id, STREET-ID.
        resident: String,
        #[command(flatten)]
        db: DbArg,
    },
    /// Check a scanned code: whose it is, or why it is refused.
    Verify {
        code: String,
        #[command(flatten)]
        db: DbArg,
    },
    /// Add a signing key: new codes use it, codes signed with older keys stay valid.
    RotateKey {
        #[command(flatten)]
        db: DbArg,
    },
    /// Retire a signing key: codes signed with it stop verifying (reprint
    /// them); a swab taken before the retirement and synced later from a
    /// station's offline queue still counts for its person, flagged. Without
    /// --yes it only tells how many residents were scanned with such codes
    /// in the last 30 days.
    RetireKey {
        id: i64,
        /// Retire it (without this, nothing changes).
        #[arg(long)]
        yes: bool,
        #[command(flatten)]
        db: DbArg,
    },
    /// Reissue a resident's code (a lost or copied card): the old one is
    /// revoked at once; prints the new one.
    Reissue {
        /// Resident id, STREET-ID.
        resident: String,
        #[command(flatten)]
        db: DbArg,
    },
    /// Make a household's link: its members' codes on a phone, no login.
    /// Prints the page's path (append it to the server's address).
    Link {
        /// Household id, STREET-ID.
        household: String,
        #[command(flatten)]
        db: DbArg,
    },
    /// Revoke every link of a household.
    Unlink {
        /// Household id, STREET-ID.
        household: String,
        #[command(flatten)]
        db: DbArg,
    },
}

#[derive(Subcommand)]
enum UserCmd {
    /// Add an account; prints its one-time password once.
    Add {
        username: String,
        #[arg(long, default_value = "")]
        name: String,
        #[command(flatten)]
        db: DbArg,
    },
    /// Grant a role on a territory node: --street/--community/--grid NAME|CODE, --district ID, or --city.
    Grant {
        username: String,
        /// admin, street_commander, community_secretary, grid_leader, point_manager, volunteer, lab, cdc_liaison
        #[arg(long)]
        role: String,
        #[arg(long)]
        city: bool,
        #[arg(long)]
        district: Option<i64>,
        #[arg(long)]
        street: Option<String>,
        #[arg(long)]
        community: Option<String>,
        #[arg(long)]
        grid: Option<String>,
        /// A testing point, STREET-ID (volunteers, point managers).
        #[arg(long)]
        point: Option<String>,
        /// Last day of the appointment (YYYY-MM-DD, China time); open-ended when absent.
        #[arg(long)]
        until: Option<String>,
        /// The previous holder this appointment takes over from (their grant on the node ends now).
        #[arg(long)]
        handover_from: Option<String>,
        #[command(flatten)]
        db: DbArg,
    },
    /// End a grant (it stays in the history).
    Revoke {
        grant_id: i64,
        #[command(flatten)]
        db: DbArg,
    },
    /// List accounts and their grants.
    List {
        #[command(flatten)]
        db: DbArg,
    },
    /// Reset a password; prints a one-time password once.
    Passwd {
        username: String,
        #[command(flatten)]
        db: DbArg,
    },
}

#[derive(Subcommand)]
enum SampleCmd {
    /// A messy roster as property companies send them (title rows, merged cells, mangled IDs, a summary sheet, totals).
    Roster {
        #[arg(long, default_value = "3号楼.xlsx")]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
enum ImportCmd {
    /// Import a roster (.xlsx, .xls or .csv) into a community; writes a report of every problem row.
    #[command(after_help = IMPORT_EXIT_CODES)]
    Roster(ImportRosterArgs),
}

/// What `import roster`'s exit status says.
const IMPORT_EXIT_CODES: &str = "Exit status 退出码:
  0  imported: at least one row added, updated or found unchanged (rows refused or warned are in the report) / 已导入
  1  nothing imported: the file cannot be read, the community is not found, or the database refused it; nothing stored / 出错，未导入
  2  usage error (an option missing or mistyped); nothing stored / 参数错误
  3  no row imported: every row was refused, or the file has no data rows under its header; the report and the summary say why / 没有任何一行导入";

/// `import roster`'s exit status when no row of the file was imported.
const NOTHING_IMPORTED_EXIT: i32 = 3;

#[derive(Args)]
struct ImportRosterArgs {
    /// The roster file.
    file: PathBuf,
    /// Community (name or 12-digit code); created on a database with no territory yet.
    #[arg(long)]
    community: Option<String>,
    /// Grid (name or code) that buildings new to the registry join (default: the community's 未分配网格).
    #[arg(long)]
    grid: Option<String>,
    /// Street (name or code), to disambiguate or to create the community under.
    #[arg(long)]
    street: Option<String>,
    /// Compound for rows that name none (default: the one compound of the community that has the building they name; a building several have is refused; a new one goes to 未填小区).
    #[arg(long)]
    compound: Option<String>,
    /// Largest file accepted, in bytes.
    #[arg(long, default_value_t = gw_app::roster_file::DEFAULT_MAX_SIZE)]
    max_size: u64,
    /// Where to write the report (default: NAME.report.xlsx beside the file).
    #[arg(long)]
    report: Option<PathBuf>,
    /// Print exactly one JSON object on stdout.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    db: DbArg,
}

#[derive(Subcommand)]
enum ExportCmd {
    /// Export the roster of a grid, community or street to .xlsx (masked unless --unmasked, which is audited).
    Roster {
        /// The grid: its id (STREET-ID, as `territory` and the round commands
        /// show it), its code, or its name with --community (or --street)
        /// when several communities have a grid of that name.
        #[arg(long)]
        grid: Option<String>,
        #[arg(long)]
        community: Option<String>,
        #[arg(long)]
        street: Option<String>,
        #[arg(long)]
        out: PathBuf,
        /// Write full document numbers, phones and health flags (recorded in the audit log).
        #[arg(long)]
        unmasked: bool,
        #[command(flatten)]
        db: DbArg,
    },
}

#[derive(Subcommand)]
enum ControlCmd {
    /// Put a compound, building, unit or household under a control status.
    Set {
        /// compound, building, unit or household
        #[arg(long)]
        kind: String,
        /// Its id, STREET-ID (as the API shows it).
        #[arg(long)]
        id: String,
        /// sealed (封控), controlled (管控), precaution (防范) or temporary (临时管控)
        #[arg(long)]
        status: String,
        #[arg(long)]
        reason: String,
        /// End date (YYYY-MM-DD, China time); open-ended when absent.
        #[arg(long)]
        until: Option<String>,
        #[command(flatten)]
        db: DbArg,
    },
    /// Show the control-status history of one target.
    Show {
        #[arg(long)]
        kind: String,
        #[arg(long)]
        id: String,
        #[command(flatten)]
        db: DbArg,
    },
}

/// `default`: what is logged unless `GRIDWARDEN_LOG` says otherwise.
fn init_logs(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("GRIDWARDEN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

#[tokio::main]
async fn main() {
    quiet_on_closed_pipe();
    let cli = Cli::parse();
    // A benchmark's in-process server does not write a line per request (as
    // `bench load` starts its server); everything else logs requests.
    init_logs(if matches!(cli.cmd, Cmd::Bench(_)) {
        "warn"
    } else {
        "info,sqlx=warn"
    });
    if let Err(e) = run(cli).await {
        eprintln!("错误 error: {e:#}");
        std::process::exit(1);
    }
}

/// `gridwarden round missed … | head`: when the reader goes away, printing
/// stops quietly (as a shell tool's would, status 141), instead of a panic
/// with a backtrace. Rust ignores SIGPIPE, so `println!` panics on it.
fn quiet_on_closed_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let msg = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("");
        if msg.starts_with("failed printing to stdout") && msg.contains("Broken pipe") {
            std::process::exit(141);
        }
        default(info);
    }));
}

pub(crate) async fn open(db: &DbArg) -> Result<Store> {
    // A mistyped path must not pass for an empty street in silence.
    if let Some(file) = gw_store::sqlite_file(&db.db) {
        if !std::path::Path::new(file).exists() {
            eprintln!(
                "注意：数据库文件 {file} 不存在，已新建一个空数据库（若是路径写错，请用 --db 指向已有的文件）/ note: {file} did not exist: a new, empty database was made (if the path is mistyped, point --db at the existing file)"
            );
        }
    }
    open_creating(db).await
}

/// [`open`] for the commands whose work is to make a database (`demo`,
/// `migrate`): a new file is what they are for.
pub(crate) async fn open_creating(db: &DbArg) -> Result<Store> {
    Store::open(&db.db)
        .await
        .with_context(|| format!("打开数据库失败 / cannot open database {}", redact(&db.db)))
}

/// A database URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// The console operator as the audit log records them: `cli:NAME`.
pub(crate) fn actor() -> String {
    let var = |k: &str| std::env::var(k).ok();
    let passwd = std::fs::read_to_string("/etc/passwd").ok();
    format!(
        "cli:{}",
        operator_name(
            var("USER"),
            var("LOGNAME"),
            passwd.as_deref(),
            process_uid()
        )
    )
}

/// The real uid of this process, from `/proc/self/status` (no `unsafe`
/// call to `getuid`); `None` where there is no such file.
fn process_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Who runs the command: `$USER`, else `$LOGNAME` (a cron job or a service
/// unit may set neither), else the account of `uid` in `passwd` (the text of
/// `/etc/passwd`), else `uid:N`; `unknown` only when even the uid is.
fn operator_name(
    user: Option<String>,
    logname: Option<String>,
    passwd: Option<&str>,
    uid: Option<u32>,
) -> String {
    let set = |v: Option<String>| v.map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    if let Some(name) = set(user).or_else(|| set(logname)) {
        return name;
    }
    let Some(uid) = uid else {
        return "unknown".into();
    };
    passwd
        .and_then(|p| {
            p.lines().find_map(|l| {
                let mut f = l.split(':');
                let name = f.next()?;
                let id: u32 = f.nth(1)?.parse().ok()?;
                (id == uid && !name.is_empty()).then(|| name.to_string())
            })
        })
        .unwrap_or_else(|| format!("uid:{uid}"))
}

/// A progress bar on stderr when it is a terminal, nothing otherwise.
fn progress_bar() -> impl Fn(&str, u64, u64) + Sync {
    let tty = std::io::stderr().is_terminal();
    move |stage: &str, done: u64, total: u64| {
        if !tty {
            return;
        }
        const WIDTH: u64 = 30;
        let filled = (done.min(total) * WIDTH)
            .checked_div(total)
            .unwrap_or(WIDTH) as usize;
        eprint!(
            "\r{stage:<16} [{}{}] {done}/{total}   ",
            "#".repeat(filled),
            " ".repeat(WIDTH as usize - filled)
        );
        if done >= total {
            eprintln!();
        }
        let _ = std::io::stderr().flush();
    }
}

/// The certificate to serve under --tls: given by path, or generated once
/// and kept next to the database.
fn tls_material(db: &DbArg, args: &TlsArgs) -> Result<gw_web::tls::Material> {
    if let (Some(cert), Some(key)) = (&args.cert, &args.key) {
        return Ok(gw_web::tls::load(cert, key)?);
    }
    let dir = match &args.tls_dir {
        Some(d) => d.clone(),
        None if db.db.starts_with("postgres://") || db.db.starts_with("postgresql://") => {
            PathBuf::from("gridwarden.tls")
        }
        None => {
            let file = db
                .db
                .strip_prefix("sqlite://")
                .or_else(|| db.db.strip_prefix("sqlite:"))
                .unwrap_or(&db.db);
            let file = file.split('?').next().unwrap_or(file);
            PathBuf::from(format!("{file}.tls"))
        }
    };
    let names = gw_web::tls::local_names(&args.tls_names);
    Ok(gw_web::tls::load_or_generate(
        &dir,
        &names,
        Clock::System.now_ms(),
    )?)
}

async fn serve(store: Store, bind_arg: &BindArg, db: &DbArg, tls_args: &TlsArgs) -> Result<()> {
    let bind = bind_arg.bind;
    // Certificate first: a bad --cert fails before the port is taken.
    let tls = if tls_args.tls {
        Some(tls_material(db, tls_args)?)
    } else {
        None
    };
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .with_context(|| format!("cannot listen on {bind}"))?;
    // A crash between a tube's last swab and its closing leaves it open: close it
    // before saying we serve.
    let closed = store.close_full_tubes(Clock::System.now_ms()).await?;
    if closed > 0 {
        tracing::warn!(
            closed,
            "full tubes left open by an interrupted run were closed"
        );
    }
    let addr = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    println!("网格卫士 Gridwarden serving on {scheme}://{addr}/  (API: {scheme}://{addr}/api/v1/territory, backend: {})", store.backend().name());
    // Listening on all interfaces: stations on the LAN use the first
    // non-loopback IPv4 address.
    let lan_origin = addr
        .ip()
        .is_unspecified()
        .then(gw_web::tls::lan_ipv4)
        .flatten()
        .map(|ip| format!("{scheme}://{ip}:{}", addr.port()));
    if let Some(t) = &tls {
        let origin = lan_origin
            .clone()
            .unwrap_or_else(|| format!("https://{addr}"));
        let covers = if t.names.is_empty() {
            String::new()
        } else {
            format!(
                "  (服务器证书 server certificate{} for {})",
                if t.renewed { " 已更新 renewed" } else { "" },
                t.names.join(", ")
            )
        };
        if t.generated {
            println!(
                "已生成自签名根证书 self-signed CA made: {}{covers}",
                t.cert_path.display()
            );
        } else {
            println!("证书 certificate: {}{covers}", t.cert_path.display());
        }
        if !t.refused.is_empty() {
            println!(
                "注意：已有的自签名根证书不能为 {names} 作证，服务器证书不含这些名称，扫码设备用这些名称访问会报证书错误；如需这些名称，请删除证书文件夹 {dir} 后重启（会生成新的根证书，各扫码设备须重新安装）/ note: the kept CA may not vouch for {names}: the server certificate leaves them out and stations using them get a certificate error; to add them, remove {dir} and start again (a new CA is made, and every station installs it again)",
                names = t.refused.join(", "),
                dir = t.cert_path.parent().map_or_else(String::new, |d| d.display().to_string()),
            );
        }
        println!("证书指纹 SHA-256 fingerprint: {}", t.served.fingerprint);
        if t.server_fingerprint != t.served.fingerprint {
            println!(
                "服务器证书指纹 server certificate SHA-256: {}",
                t.server_fingerprint
            );
        }
        println!("让扫码设备信任此证书 to make a station trust it: 在设备上打开 open {origin}/tls/cert.pem，安装为受信任的 CA 证书 and install it as a trusted CA certificate (Android: 设置→安全→加密与凭据→安装证书→CA 证书 Settings→Security→Encryption & credentials→Install a certificate→CA certificate; iPhone: 安装描述文件后在 通用→关于本机→证书信任设置 中开启 install the profile, then turn it on in General→About→Certificate Trust Settings), 并核对指纹与上面一致 checking the fingerprint above; 只接受浏览器警告不够：证书出错时浏览器不启用离线扫码 accepting the browser's warning is not enough: browsers refuse offline scanning (service workers) on a certificate error");
    }
    if let Some(o) = &lan_origin {
        println!("扫码设备地址 stations open: {o}/station");
    }
    if let Some((user, password)) =
        gw_app::access::ensure_first_admin(&store, &Clock::System).await?
    {
        println!("首次启动：已创建管理员账号 first start: admin account created: username {user}, one-time password {password}  (shown once; change it after logging in)");
    }
    let _ = std::io::stdout().flush();
    let secure_cookies =
        tls.is_some() || std::env::var("GRIDWARDEN_SECURE_COOKIES").is_ok_and(|v| v == "1");
    // Stay-home notices (暂停下楼) a crash left owing: now and every minute.
    gw_app::held_calls::start_sweeper(store.clone(), Clock::System);
    let state = gw_web::AppState::new(gw_web::Services {
        scans: gw_app::testing::ScanWriter::start(store.clone()),
        stations: Default::default(),
        alerts: gw_app::notify::Dispatcher::start(store.clone(), Clock::System),
        store,
        clock: Clock::System,
        secure_cookies,
        tls: tls.as_ref().map(|t| t.served.clone()),
        lan_origin,
        request_timeout: std::time::Duration::from_secs(bind_arg.request_timeout),
    });
    match tls {
        Some(t) => gw_web::tls::serve_tls(listener, state, t.config).await?,
        None => gw_web::serve(listener, state).await?,
    }
    Ok(())
}

async fn run(cli: Cli) -> Result<()> {
    let clock = Clock::System;
    match cli.cmd {
        Cmd::Serve { db, bind, tls } => {
            let store = open(&db).await?;
            serve(store, &bind, &db, &tls).await
        }
        Cmd::Demo {
            residents,
            seed,
            db,
            bind,
            no_serve,
            tls,
        } => {
            if residents == 0 {
                bail!("--residents must be at least 1");
            }
            let started = std::time::Instant::now();
            let store = open_creating(&db).await?;
            let spec = gw_domain::demo::DemoSpec {
                residents,
                seed,
                today: clock.today(),
            };
            let sum = gw_app::demo::load(&store, &clock, &spec, &progress_bar()).await?;
            if sum.skipped_streets > 0 && sum.streets == 0 {
                println!("演示数据已存在，直接启动 / demo data already in {}: {} street(s) kept as they are", redact(&db.db), sum.skipped_streets);
            } else {
                println!(
                    "演示数据 demo: {} streets, {} communities, {} grids, {} buildings, {} households, {} residents in {:.1}s ({})",
                    sum.streets, sum.communities, sum.grids, sum.buildings, sum.households, sum.residents, started.elapsed().as_secs_f64(), redact(&db.db)
                );
            }
            if no_serve {
                if store.users().await?.is_empty() {
                    println!("管理员账号在首次 serve 时创建，并显示其一次性密码 / the admin account is made, and its one-time password shown, at the first serve (or add accounts with `gridwarden user add`)");
                }
                return Ok(());
            }
            serve(store, &bind, &db, &tls).await
        }
        Cmd::Migrate { db } => {
            let store = Store::connect(&db.db).await?;
            let applied = store.migrate().await?;
            let all = store.applied_migrations().await?;
            println!(
                "migrations applied now: {applied:?}; database at version {}",
                all.last().copied().unwrap_or(0)
            );
            Ok(())
        }
        Cmd::Import(ImportCmd::Roster(a)) => import_roster(a, &clock).await,
        Cmd::Export(ExportCmd::Roster {
            grid,
            community,
            street,
            out,
            unmasked,
            db,
        }) => {
            let store = open(&db).await?;
            let scope = resolve_scope(&store, grid, community, street).await?;
            let n = gw_app::export::export_roster(&store, &clock, &scope, &out, unmasked, &actor())
                .await?;
            println!(
                "导出 exported {n} residents of {} to {}{}",
                scope.label,
                out.display(),
                if unmasked {
                    " (UNMASKED: recorded in the audit log)"
                } else {
                    " (masked)"
                }
            );
            Ok(())
        }
        Cmd::Territory { db, json } => {
            let store = open(&db).await?;
            let tree = gw_app::registry::territory_tree(&store).await?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string(&serde_json::json!({ "streets": tree }))?
                );
                return Ok(());
            }
            for s in &tree {
                println!(
                    "{} [{}]  楼栋 {}  户 {}  居民 {}",
                    s.name, s.id, s.buildings, s.households, s.residents
                );
                for c in &s.children {
                    println!(
                        "  {} [{}] {}  楼栋 {}  户 {}  居民 {}",
                        c.name,
                        c.id,
                        c.code.clone().unwrap_or_default(),
                        c.buildings,
                        c.households,
                        c.residents
                    );
                    for g in &c.children {
                        println!(
                            "    {} [{}]  楼栋 {}  户 {}  居民 {}",
                            g.name, g.id, g.buildings, g.households, g.residents
                        );
                    }
                }
            }
            Ok(())
        }
        Cmd::Control(c) => control(c, &clock).await,
        Cmd::Audit {
            db,
            user,
            resident,
            since,
            limit,
        } => {
            let user = user.map(|u| {
                if u.contains(':') {
                    u
                } else {
                    format!("user:{u}")
                }
            });
            let store = open(&db).await?;
            let since_ms = match since {
                Some(s) => Some(day_start_ms(&s).context("--since")?),
                None => None,
            };
            for e in store
                .audit_events(user.as_deref(), resident.as_deref(), since_ms, limit)
                .await?
            {
                println!(
                    "{}:{:02}\t{}\t{}\t{}:{}\t{}",
                    gw_domain::notify::clock_text(e.at_ms),
                    e.at_ms.rem_euclid(60_000) / 1_000,
                    e.actor,
                    e.action,
                    e.target_kind,
                    e.target_id,
                    e.detail
                );
            }
            Ok(())
        }
        Cmd::Bench(b) => bench::run(b).await,
        Cmd::Round(r) => round_cmd::round_cmd(r, &clock).await,
        Cmd::Alerts(a) => round_cmd::alerts_cmd(a, &clock).await,
        Cmd::User(u) => user_cmd(u, &clock).await,
        Cmd::Codes(c) => codes_cmd(c, &clock).await,
        Cmd::Building(c) => building_cmd(c, &clock).await,
        Cmd::Supplies(c) => handoff_cmd::supplies_cmd(c, &clock).await,
        Cmd::Handoff(c) => handoff_cmd::handoff_cmd(c, &clock).await,
        Cmd::Station(c) => handoff_cmd::station_cmd(c, &clock).await,
        Cmd::Tube(c) => tube_cmd::tube_cmd(c, &clock).await,
        Cmd::Resident(c) => resident_cmd::resident_cmd(c, &clock).await,
        Cmd::Purge { before, yes, db } => {
            if !yes {
                bail!("purging cannot be undone: add --yes");
            }
            let store = open(&db).await?;
            let before_ms = day_start_ms(&before)?;
            let p = gw_app::access::purge(&store, &clock, &actor(), before_ms).await?;
            let c = &p.counts;
            println!(
                "已清除 purged: {} residents anonymised, {} phones and {} document numbers deleted, {} household links revoked, {} scanned codes of swabs cleared, {} control and {} exemption reasons and {} transporters' names and phones, {} supply receivers' names and {} reasons and file names in the audit log cleared (recorded in the audit log)",
                c.residents, c.phones, c.documents, c.household_links, c.scanned_codes, c.control_reasons, c.exemption_reasons, c.transporters, c.supply_receivers, c.audit_reasons
            );
            if let Some(kept) = p.kept_text(&before) {
                println!("{kept}");
            }
            if p.gaps.is_empty() {
                println!("{}", p.files_text());
            }
            println!("{}", p.beyond_reach_text());
            store.close().await;
            if let Some(gaps) = p.gaps_text() {
                bail!("{gaps}");
            }
            Ok(())
        }
        Cmd::Results(ResultsCmd::Upload {
            round,
            file,
            max_size,
            json,
            db,
        }) => upload_results(&round, &file, max_size, json, &db, &clock).await,
        Cmd::Results(ResultsCmd::Correct {
            round,
            barcode,
            result,
            reason,
            json,
            db,
        }) => {
            let round: gw_domain::ids::Key = round.parse().map_err(|_| {
                anyhow::anyhow!("--round 应为“街道-编号” / --round must be STREET-ID, e.g. 1-42")
            })?;
            let store = open(&db).await?;
            let p = gw_app::access::Principal::operator(&actor());
            let c = gw_app::testing::correct_result(
                &store, &clock, &p, round, &barcode, &result, &reason,
            )
            .await
            .map_err(round_cmd::app_err)?;
            let zh = |code: &str| {
                gw_domain::lab::LabResult::from_word(code).map_or("", |r| r.label_zh())
            };
            if json {
                println!("{}", serde_json::to_string(&c)?);
            } else if !c.changed {
                println!(
                    "采样管 {} 已是{}，未改动 / tube {} is {} already: nothing changed",
                    c.barcode,
                    zh(&c.after),
                    c.barcode,
                    c.after
                );
            } else {
                println!(
                    "已更正 {}：{} → {} / corrected {}: {} → {}",
                    c.barcode,
                    zh(&c.before),
                    zh(&c.after),
                    c.barcode,
                    c.before,
                    c.after
                );
                if let Some(a) = &c.withdrawn_alert {
                    println!(
                        "  预警 {a} 已撤销：{} 户解除临时管控，{} 个待做的复检/重采取消 / alert withdrawn: {} households released, {} open retests or re-samples cancelled",
                        c.released, c.cancelled, c.released, c.cancelled
                    );
                    if c.disinfection_withdrawn {
                        println!(
                            "  采样点消杀任务已撤销 / the point's disinfection task is called off"
                        );
                    }
                } else if c.cancelled > 0 {
                    println!(
                        "  {} 个待做的重采取消 / {} open re-samples cancelled",
                        c.cancelled, c.cancelled
                    );
                }
                if let Some(a) = &c.alert {
                    println!(
                        "  混管异常 {}：追踪到 {} 人，{} 户已临时管控 / abnormal pool {}: {} people traced, {} households under temporary control",
                        a.barcode,
                        a.member_count,
                        a.households_under_control,
                        a.barcode,
                        a.member_count,
                        a.households_under_control
                    );
                }
                println!(
                    "  已通知预警渠道 {} 条 / {} messages queued for the alert channels",
                    c.notifications, c.notifications
                );
                held_calls_line(c.held);
            }
            Ok(())
        }
        Cmd::Sample(SampleCmd::Roster { out }) => {
            gw_app::fixtures::write_xlsx(&out, &gw_app::fixtures::messy_building_roster())
                .map_err(|e| anyhow::anyhow!("{}: {e}", out.display()))?;
            println!("示例花名册 sample roster written: {} (try: gridwarden import roster {} --community 东风社区; 在演示数据库上加 --compound 百合小区：示例名单没有小区列，而东风社区有多个小区都有3号楼 / on the demo database add --compound 百合小区: the sample names no compound and 东风社区 has a 3号楼 in several)", out.display(), out.display());
            Ok(())
        }
    }
}

/// What the stay-home notice (暂停下楼) of results' temporary control told
/// the groups, as `control set` says it.
fn held_calls_line(held: gw_app::held_calls::Told) {
    let gw_app::held_calls::Told {
        calls_held,
        groups_told,
        notice_failed,
        ..
    } = held;
    if notice_failed {
        eprintln!("  警告：暂停下楼通知未能排队；运行中的服务器将在几分钟内重发，情况紧急请电话通知相关楼栋 / warning: the stay-home notice was not queued; a running server tells it again within minutes (if urgent, phone the buildings called)");
    } else if calls_held > 0 {
        println!(
            "  暂停下楼：{calls_held} 个已推送的叫号，已通知 {groups_told} 个群 / calls held: {calls_held}, groups told: {groups_told}"
        );
    }
}

async fn upload_results(
    round: &str,
    file: &std::path::Path,
    max_size: u64,
    json: bool,
    db: &DbArg,
    clock: &Clock,
) -> Result<()> {
    use gw_app::lab::UploadError;
    let round: gw_domain::ids::Key = round.parse().map_err(|_| {
        anyhow::anyhow!("--round 应为“街道-编号” / --round must be STREET-ID, e.g. 1-42")
    })?;
    let sheets = gw_app::roster_file::read_roster_file(file, max_size)?;
    let store = open(db).await?;
    let p = gw_app::access::Principal::operator(&actor());
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| file.display().to_string());
    match gw_app::lab::upload_sheets(&store, clock, &p, round, &name, &sheets).await {
        Ok(done) => {
            if json {
                println!("{}", serde_json::to_string(&done)?);
                return Ok(());
            }
            let s = &done.summary;
            println!(
                "已记录 recorded {} of {} tubes from {}: {} negative, {} abnormal, {} invalid; {} already had a result",
                s.recorded,
                done.rows,
                done.file,
                s.negative,
                s.alerts.len(),
                s.invalid,
                s.already.len()
            );
            for sheet in &done.skipped_sheets {
                println!("  跳过工作表 skipped sheet “{sheet}” (no barcode/result header)");
            }
            if !s.still_open.is_empty() {
                println!(
                    "  注意：这些采样管仍在采样点使用中，实验室不可能收到，请核对条码 / WARNING: these tubes are still open at their point (being filled): the lab cannot have them; check the barcodes: {}",
                    s.still_open.join(", ")
                );
            }
            let closed: Vec<&String> = s
                .unpacked
                .iter()
                .filter(|b| !s.still_open.contains(b))
                .collect();
            if !closed.is_empty() {
                println!(
                    "  未装袋即出结果 resulted but never packed at their point (record their bag after the fact: gridwarden handoff bag): {}",
                    closed.iter().map(|b| b.as_str()).collect::<Vec<_>>().join(", ")
                );
            }
            if !s.not_received.is_empty() {
                println!(
                    "  实验室未登记接收其所在箱即出结果，请核对条码或补登接收 / resulted though the lab never recorded receiving their box: check the barcodes, or record the receipt (gridwarden handoff receive): {}",
                    s.not_received.join(", ")
                );
            }
            for a in &s.alerts {
                if a.kind == "confirmed" {
                    println!(
                        "  单管复检异常 retest abnormal {} (tube {}, point {}): {} people confirmed",
                        a.barcode,
                        a.tube,
                        a.point,
                        a.members.len()
                    );
                } else {
                    println!(
                        "  混管异常 abnormal pool {} (tube {}, point {}): {} people traced, {} households under temporary control",
                        a.barcode,
                        a.tube,
                        a.point,
                        a.members.len(),
                        a.households_under_control
                    );
                }
            }
            if s.retests_resolved > 0 || s.households_released > 0 {
                println!(
                    "  复检 retests: {} resolved; {} 户解除临时管控 households released from temporary control",
                    s.retests_resolved, s.households_released
                );
            }
            held_calls_line(s.held);
            Ok(())
        }
        Err(UploadError::Rows(issues)) => {
            let message = format!(
                "结果文件有 {} 处错误，未做任何记录 / the results file has {} problem(s): nothing was recorded",
                issues.len(),
                issues.len()
            );
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "code": "bad_rows", "message": message, "issues": issues })
                );
            } else {
                for i in &issues {
                    eprintln!("{i}");
                }
            }
            bail!(message)
        }
        Err(e) => Err(e.into()),
    }
}

async fn resolve_scope(
    store: &Store,
    grid: Option<String>,
    community: Option<String>,
    street: Option<String>,
) -> Result<gw_app::export::ExportScope> {
    let street_id = match &street {
        Some(s) => match store.find_streets(s).await?.as_slice() {
            [one] => Some(one.id),
            [] => bail!("找不到街道 street not found: {s}"),
            _ => bail!("街道不唯一 street is ambiguous: {s}"),
        },
        None => None,
    };
    if let Some(g) = grid {
        let found = match g.parse::<gw_domain::ids::Key>() {
            // Its id, as every other command shows it.
            Ok(k) => match store.grid(k.street, k.id).await {
                Ok(one) => vec![one],
                Err(gw_store::StoreError::NotFound(_)) => Vec::new(),
                Err(e) => return Err(e.into()),
            },
            Err(_) => {
                // By code or name, within the community when one is given.
                let within = match &community {
                    Some(c) => match store.communities(Some(c), street_id).await?.as_slice() {
                        [one] => Some((one.street_id, one.id)),
                        [] => bail!("找不到社区 community not found: {c}"),
                        _ => bail!("社区不唯一，请加 --street / community is ambiguous: {c}"),
                    },
                    None => None,
                };
                store.grids(Some(&g), within).await?
            }
        };
        let found: Vec<_> = found
            .into_iter()
            .filter(|x| street_id.is_none_or(|s| x.street_id == s))
            .collect();
        return match found.as_slice() {
            [one] => Ok(gw_app::export::ExportScope {
                street: Some(one.street_id),
                community: None,
                grid: Some(one.id),
                label: format!("{}{}", one.community_name, one.name),
            }),
            [] => bail!("找不到网格 grid not found: {g} (give its id STREET-ID, its code, or its name with --community)"),
            _ => bail!("网格不唯一，请加 --community，或用网格编号 / grid is ambiguous: {g}: add --community, or give its id (STREET-ID)"),
        };
    }
    if let Some(c) = community {
        return match store.communities(Some(&c), street_id).await?.as_slice() {
            [one] => Ok(gw_app::export::ExportScope {
                street: Some(one.street_id),
                community: Some(one.id),
                grid: None,
                label: one.name.clone(),
            }),
            [] => bail!("找不到社区 community not found: {c}"),
            _ => bail!("社区不唯一，请加 --street / community is ambiguous: {c}"),
        };
    }
    match street_id {
        Some(s) => Ok(gw_app::export::ExportScope {
            street: Some(s),
            community: None,
            grid: None,
            label: store.street_name(s).await?,
        }),
        None => {
            bail!("请指定 --grid、--community 或 --street / name a --grid, --community or --street")
        }
    }
}

async fn import_roster(a: ImportRosterArgs, clock: &Clock) -> Result<()> {
    let store = open(&a.db).await?;
    let opts = gw_app::import::ImportOptions {
        community: a.community,
        grid: a.grid,
        street: a.street,
        compound: a.compound,
        max_size: a.max_size,
        report_path: a.report,
        actor: actor(),
        // The console operator: city-wide, as elsewhere on the command line.
        principal: None,
    };
    let bar = progress_bar();
    let result = gw_app::import::import_roster_file(&store, clock, &a.file, &opts, &bar).await;
    let s = match result {
        Ok(s) => s,
        Err(e) => {
            if a.json {
                println!(
                    "{}",
                    serde_json::json!({ "error": e.to_string(), "file": a.file.display().to_string() })
                );
            }
            bail!("{e}");
        }
    };
    // No row of the file imported: every one refused, or none under the header.
    let nothing = s.added + s.updated + s.unchanged == 0;
    let exit = |code: i32| {
        let _ = std::io::stdout().flush();
        std::process::exit(code)
    };
    if a.json {
        println!(
            "{}",
            serde_json::json!({
                "file": s.file, "street": s.street, "community": s.community,
                "added": s.added, "updated": s.updated, "unchanged": s.unchanged, "rejected": s.rejected, "warnings": s.warnings,
                "data_rows": s.data_rows, "new_buildings": s.new_buildings, "new_buildings_grid": s.new_buildings_grid, "report": s.report, "sheets": s.sheets, "issues": s.issues,
            })
        );
        if nothing {
            exit(NOTHING_IMPORTED_EXIT);
        }
        return Ok(());
    }
    println!("导入 {} → {} {}", s.file, s.street, s.community);
    for sh in &s.sheets {
        match &sh.skipped {
            Some(why) => println!("  工作表 sheet “{}”: {why}", sh.name),
            None => println!(
                "  工作表 sheet “{}”: 表头第{}行 header row {}, {} 行数据 data rows",
                sh.name,
                sh.header_row.unwrap_or(0),
                sh.header_row.unwrap_or(0),
                sh.data_rows
            ),
        }
        if !sh.ignored_columns.is_empty() {
            println!(
                "    未识别的列（已忽略）ignored columns: {}",
                sh.ignored_columns.join("、")
            );
        }
    }
    println!(
        "新增 added {}  更新 updated {}  未变 unchanged {}  未导入 rejected {}  警告 warnings {}",
        s.added, s.updated, s.unchanged, s.rejected, s.warnings
    );
    if !s.new_buildings.is_empty() {
        match &s.new_buildings_grid {
            Some(g) => println!(
                "新楼栋（已加入{g}）new buildings (joined {g}): {}",
                s.new_buildings.join("、")
            ),
            None => println!(
                "新楼栋（在{}，请社区书记分配网格）new buildings (waiting in {}: the community secretary places them in a grid): {}",
                gw_app::import::UNASSIGNED_GRID,
                gw_app::import::UNASSIGNED_GRID,
                s.new_buildings.join("、")
            ),
        }
    }
    for i in s.issues.iter().take(30) {
        let sev = match i.severity {
            gw_domain::roster::Severity::Warning => "警告",
            gw_domain::roster::Severity::Rejected => "未导入",
        };
        println!(
            "  [{sev}] {} 第{}行 row {}{}: {}",
            i.sheet,
            i.row,
            i.row,
            if i.column.is_empty() {
                String::new()
            } else {
                format!(" {}", i.column)
            },
            i.reason
        );
    }
    if s.issues.len() > 30 {
        println!(
            "  … 另有 {} 条 and {} more",
            s.issues.len() - 30,
            s.issues.len() - 30
        );
    }
    if let Some(r) = &s.report {
        println!("问题清单 report: {r}");
    }
    if s.data_rows == 0 {
        println!("没有导入：表头下面没有数据行，请检查是否选错了文件或工作表 / nothing imported: no data rows under the header (the wrong file or sheet?)");
        exit(NOTHING_IMPORTED_EXIT);
    }
    if nothing {
        println!("没有导入：每一行都未通过，原因见上面和问题清单 / nothing imported: every row was refused (see above and the report)");
        exit(NOTHING_IMPORTED_EXIT);
    }
    Ok(())
}

async fn building_cmd(c: BuildingCmd, clock: &Clock) -> Result<()> {
    match c {
        BuildingCmd::Grid { building, grid, db } => {
            let store = open(&db).await?;
            let b = round_cmd::key(&building, "building")?;
            let row = store.building(b.street, b.id).await?;
            let g = match grid.parse::<gw_domain::ids::Key>() {
                Ok(k) => k,
                Err(_) => {
                    let found = store
                        .grids(Some(grid.trim()), Some((b.street, row.community_id)))
                        .await?;
                    let Some(g) = found.first() else {
                        bail!(
                            "{}没有网格“{grid}” / {} has no grid “{grid}”",
                            row.community,
                            row.community
                        );
                    };
                    gw_domain::ids::Key {
                        street: g.street_id,
                        id: g.id,
                    }
                }
            };
            let after =
                gw_app::registry::assign_building(&store, clock, &round_cmd::operator(), b, g)
                    .await
                    .map_err(round_cmd::app_err)?;
            println!(
                "{} {}：{} → {} / building {b} moved from grid {} to {}",
                after.compound, after.name, row.grid, after.grid, row.grid, after.grid
            );
            Ok(())
        }
    }
}

async fn control(c: ControlCmd, clock: &Clock) -> Result<()> {
    use gw_domain::territory::{ControlStatus, ControlTarget};
    match c {
        ControlCmd::Set {
            kind,
            id,
            status,
            reason,
            until,
            db,
        } => {
            let store = open(&db).await?;
            let target = ControlTarget::from_code(&kind)
                .context("--kind: compound, building, unit or household")?;
            let status = ControlStatus::from_code(&status)
                .context("--status: sealed, controlled, precaution or temporary")?;
            let key: gw_domain::ids::Key = id.parse()?;
            let until_ms = match until {
                Some(u) => Some(day_start_ms(&u).context("--until")?),
                None => None,
            };
            let set = gw_app::registry::set_control(
                &store,
                clock,
                &round_cmd::operator(),
                &gw_app::registry::ControlAsk {
                    target,
                    key,
                    status,
                    from_ms: None,
                    until_ms,
                    reason: &reason,
                },
                "",
            )
            .await
            .map_err(round_cmd::app_err)?;
            println!(
                "{} {} → {} ({}), order {}",
                target.code(),
                key,
                status.label_zh(),
                status.code(),
                set.order,
            );
            let held = set.held;
            if held.notice_failed {
                eprintln!("警告：暂停下楼通知未能排队；运行中的服务器将在几分钟内重发，情况紧急请电话通知相关楼栋 / warning: the stay-home notice was not queued; a running server tells it again within minutes (if urgent, phone the buildings called)");
            } else if held.calls_held > 0 {
                println!(
                    "暂停下楼：{} 个已推送的叫号，已通知 {} 个群 / calls held: {}, groups told: {}",
                    held.calls_held, held.groups_told, held.calls_held, held.groups_told
                );
            }
            Ok(())
        }
        ControlCmd::Show { kind, id, db } => {
            let store = open(&db).await?;
            let target = ControlTarget::from_code(&kind)
                .context("--kind: compound, building, unit or household")?;
            let key: gw_domain::ids::Key = id.parse()?;
            for r in store.control_history(key.street, target, key.id).await? {
                println!(
                    "{}\t{}\tfrom {}\tuntil {}\t{}\t{}",
                    r.id,
                    r.order.status.label_zh(),
                    gw_domain::notify::clock_text(r.order.from_ms),
                    r.order
                        .until_ms
                        .map(gw_domain::notify::clock_text)
                        .unwrap_or("-".into()),
                    r.set_by,
                    r.reason
                );
            }
            Ok(())
        }
    }
}

/// Midnight of a China-time date, in Unix milliseconds.
fn day_start_ms(s: &str) -> Result<i64> {
    Ok(gw_domain::date::Date::parse(s)
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .start_ms_cst())
}

async fn user_id(store: &Store, username: &str) -> Result<i64> {
    Ok(store
        .user_by_name(username)
        .await?
        .with_context(|| format!("no user {username}"))?
        .id)
}

async fn user_cmd(c: UserCmd, clock: &Clock) -> Result<()> {
    use gw_domain::access::{Node, Role};
    match c {
        UserCmd::Add { username, name, db } => {
            let store = open(&db).await?;
            let display = if name.is_empty() {
                username.clone()
            } else {
                name
            };
            let (id, password) =
                gw_app::access::add_user(&store, clock, &actor(), &username, &display, None)
                    .await?;
            println!("用户 user {username} (#{id}) created; one-time password: {password}  (shown once; must be changed at first login)");
            Ok(())
        }
        UserCmd::Grant {
            username,
            role,
            city,
            district,
            street,
            community,
            grid,
            point,
            until,
            handover_from,
            db,
        } => {
            let store = open(&db).await?;
            let role = Role::from_code(&role).with_context(|| format!("unknown role {role}"))?;
            let uid = user_id(&store, &username).await?;
            let street_id = match &street {
                Some(s) => match store.find_streets(s).await?.as_slice() {
                    [one] => Some(one.id),
                    [] => bail!("找不到街道 street not found: {s}"),
                    _ => bail!("街道不唯一 street is ambiguous: {s}"),
                },
                None => None,
            };
            let community_key = match &community {
                Some(c) => match store.communities(Some(c), street_id).await?.as_slice() {
                    [one] => Some((one.street_id, one.id)),
                    [] => bail!("找不到社区 community not found: {c}"),
                    _ => bail!("社区不唯一，请加 --street / community is ambiguous: {c}"),
                },
                None => None,
            };
            let node = if let Some(pt) = point {
                let k: gw_domain::ids::Key = pt.parse()?;
                store.point(k.street, k.id).await?;
                Node::Point {
                    street: k.street,
                    id: k.id,
                }
            } else if let Some(g) = grid {
                let found: Vec<_> = store
                    .grids(Some(&g), community_key)
                    .await?
                    .into_iter()
                    .filter(|x| street_id.is_none_or(|s| x.street_id == s))
                    .collect();
                match found.as_slice() {
                    [one] => Node::Grid {
                        street: one.street_id,
                        id: one.id,
                    },
                    [] => bail!("找不到网格 grid not found: {g}"),
                    _ => bail!("网格不唯一，请加 --community / grid is ambiguous: {g}"),
                }
            } else if let Some((street, id)) = community_key {
                Node::Community { street, id }
            } else if let Some(s) = street_id {
                Node::Street { id: s }
            } else if let Some(d) = district {
                Node::District { id: d }
            } else if city {
                Node::City
            } else {
                bail!("name the node: --grid, --community, --street, --district or --city");
            };
            let until_ms = match until {
                Some(u) => Some(day_start_ms(&u)? + 86_400_000),
                None => None,
            };
            let prev = match handover_from {
                Some(p) => Some(user_id(&store, &p).await?),
                None => None,
            };
            let id =
                gw_app::access::grant(&store, clock, &actor(), uid, role, node, until_ms, prev)
                    .await?;
            println!(
                "授权 grant #{id}: {username} is {} ({}) on {node}",
                role.label_zh(),
                role.code()
            );
            Ok(())
        }
        UserCmd::Revoke { grant_id, db } => {
            let store = open(&db).await?;
            gw_app::access::revoke(&store, clock, &actor(), grant_id).await?;
            println!("授权 #{grant_id} 已撤销 / grant #{grant_id} revoked");
            Ok(())
        }
        UserCmd::List { db } => {
            let store = open(&db).await?;
            let grants = store.grants(None).await?;
            let now = clock.now_ms();
            for u in store.users().await? {
                println!(
                    "{} #{} {}{}",
                    u.username,
                    u.id,
                    u.display_name,
                    if u.disabled { " (disabled)" } else { "" }
                );
                for g in grants.iter().filter(|g| g.user_id == u.id) {
                    let state = if g.grant.in_force(now) {
                        "in force"
                    } else {
                        "ended"
                    };
                    println!(
                        "  grant #{} {} on {} [{state}] by {} {}",
                        g.id,
                        g.grant.role.code(),
                        g.grant.node,
                        g.granted_by,
                        g.note
                    );
                }
            }
            Ok(())
        }
        UserCmd::Passwd { username, db } => {
            let store = open(&db).await?;
            let p = gw_app::access::reset_password(&store, clock, &actor(), &username).await?;
            println!("{username} 的新一次性密码 / new one-time password for {username}: {p}\n（只显示这一次；该用户的所有会话已结束 / shown once; every session of the user ended）");
            Ok(())
        }
    }
}

async fn codes_cmd(c: CodesCmd, clock: &Clock) -> Result<()> {
    match c {
        CodesCmd::Show { resident, db } => {
            let store = open(&db).await?;
            let key: gw_domain::ids::Key = resident.parse()?;
            println!(
                "{}",
                gw_app::codes::code_for(&store, clock, key).await?.text()
            );
            Ok(())
        }
        CodesCmd::Verify { code, db } => {
            let store = open(&db).await?;
            let key = gw_app::codes::verify(&store, &code).await?;
            println!("有效 valid: 居民 resident {key}");
            Ok(())
        }
        CodesCmd::RotateKey { db } => {
            let store = open(&db).await?;
            let id = gw_app::codes::rotate_key(&store, clock).await?;
            store
                .audit(&gw_store::audit::AuditWrite {
                    street_id: 0,
                    at_ms: clock.now_ms(),
                    actor: &actor(),
                    action: "rotate_signing_key",
                    target_kind: "signing_key",
                    target_id: &id.to_string(),
                    detail: "",
                    address: "",
                })
                .await?;
            println!("签名密钥 {id} 已添加：此后发的码用它签名，旧码照常有效 / signing key {id} added: new codes use it, older codes stay valid");
            Ok(())
        }
        CodesCmd::RetireKey { id, yes, db } => {
            let store = open(&db).await?;
            store.retirable_signing_key(id).await?;
            let since = clock.now_ms() - 30 * 86_400_000;
            let (residents, streets) = store.residents_scanned_with_key(id, since).await?;
            let in_use = format!(
                "近 30 天有 {residents} 位居民（{streets} 个街道）用密钥 {id} 签发的码扫码采样，停用后须重新打印其码单 / {residents} residents in {streets} streets were scanned with codes of key {id} in the last 30 days: their sheets must be reprinted once it is retired"
            );
            if !yes {
                println!("{in_use}");
                return Err(anyhow::anyhow!(
                    "未停用：确认后加 --yes 再运行 / not retired: run again with --yes to retire signing key {id}"
                ));
            }
            store.retire_signing_key(id, clock.now_ms()).await?;
            store
                .audit(&gw_store::audit::AuditWrite {
                    street_id: 0,
                    at_ms: clock.now_ms(),
                    actor: &actor(),
                    action: "retire_signing_key",
                    target_kind: "signing_key",
                    target_id: &id.to_string(),
                    detail: &format!("residents_scanned_30d={residents}"),
                    address: "",
                })
                .await?;
            println!("{in_use}");
            println!(
                "密钥 {id} 已停用：此后用它签发的码不再有效；停用前采样、尚在站点离线队列中的扫码上传后仍计入本人（标注）/ signing key {id} retired: codes signed with it no longer verify; a swab taken before now and still in a station's offline queue counts for its person when it arrives (flagged)"
            );
            Ok(())
        }
        CodesCmd::Reissue { resident, db } => {
            let store = open(&db).await?;
            let key = round_cmd::key(&resident, "resident")?;
            let code = gw_app::codes::reissue(&store, clock, &round_cmd::operator(), key)
                .await
                .map_err(round_cmd::app_err)?;
            println!("{}", code.text());
            eprintln!("居民 {key} 的旧码已作废 / the old code of resident {key} is revoked");
            Ok(())
        }
        CodesCmd::Link { household, db } => {
            let store = open(&db).await?;
            let key = round_cmd::key(&household, "household")?;
            let token =
                gw_app::access::create_household_link(&store, clock, &round_cmd::operator(), key)
                    .await
                    .map_err(round_cmd::app_err)?;
            println!("/h/{token}");
            Ok(())
        }
        CodesCmd::Unlink { household, db } => {
            let store = open(&db).await?;
            let key = round_cmd::key(&household, "household")?;
            let n =
                gw_app::access::revoke_household_links(&store, clock, &round_cmd::operator(), key)
                    .await
                    .map_err(round_cmd::app_err)?;
            println!("住户 household {key}: {n} 个链接已撤销 / link(s) revoked");
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::operator_name;

    #[test]
    fn the_operator_is_user_then_logname_then_the_uid_s_account() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\nops:x:1000:1000::/home/ops:/bin/sh\n";
        let s = |v: &str| Some(v.to_string());
        assert_eq!(
            operator_name(s("li"), s("ops"), Some(passwd), Some(0)),
            "li"
        );
        assert_eq!(operator_name(None, s("ops"), Some(passwd), Some(0)), "ops");
        assert_eq!(
            operator_name(s(""), s(" "), Some(passwd), Some(1000)),
            "ops"
        );
        assert_eq!(operator_name(None, None, Some(passwd), Some(0)), "root");
        assert_eq!(
            operator_name(None, None, Some(passwd), Some(1234)),
            "uid:1234"
        );
        assert_eq!(operator_name(None, None, None, Some(7)), "uid:7");
        assert_eq!(operator_name(None, None, None, None), "unknown");
    }
}
