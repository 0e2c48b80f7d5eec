//! `gridwarden bench …`: performance measured against the raw limits of the
//! same machine, in the same run, through the same driver.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Subcommand;
use gw_app::Clock;
use gw_domain::roster::{ParseOptions, RowOutcome};
use gw_store::import::ResidentWrite;
use gw_store::Store;
use serde_json::json;

/// Where a benchmark runs, and how it reports: every benchmark takes these.
#[derive(clap::Args)]
pub struct RunArgs {
    /// Where fresh databases are made: a directory for SQLite (default: a temp dir) or a postgres:// URL
    /// (fresh databases are created beside it and dropped).
    #[arg(long, env = "GRIDWARDEN_BENCH_DB")]
    pub db: Option<String>,
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// One JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand)]
pub enum BenchCmd {
    /// Import a generated roster into a fresh database; compare with reading alone and inserting alone.
    Import {
        #[arg(long, default_value_t = 100_000)]
        residents: usize,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Scan registrations per second over HTTP on loopback from concurrent stations,
    /// against the HTTP floor and the raw durable-insert limit measured in the same run.
    Scan {
        #[arg(long, default_value_t = 100_000)]
        residents: u64,
        #[arg(long, default_value_t = 20)]
        stations: usize,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        #[command(flatten)]
        run: RunArgs,
    },
    /// From a lab's abnormal result to a local group-robot receiver: latency over N alerts.
    Alert {
        #[arg(long, default_value_t = 20)]
        alerts: usize,
        #[command(flatten)]
        run: RunArgs,
    },
    /// A lab's whole results file recorded (one transaction) while stations go on
    /// scanning: how long the file takes and the scans' latency before and during it.
    Results {
        /// Tubes in the file (ten swabs each; one in 200 abnormal, one in 100 invalid).
        #[arg(long, default_value_t = 2_000)]
        tubes: usize,
        /// Stations scanning beside the file (in process, through the group-commit writer).
        #[arg(long, default_value_t = 4)]
        stations: usize,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Median time for one grid's coverage and one building's missed list in a round over N
    /// residents (demo-shaped streets, each in a round with 90% sampled).
    Coverage {
        #[arg(long, default_value_t = 100_000)]
        residents: u64,
        /// Queries of each kind (medians are reported).
        #[arg(long, default_value_t = 50)]
        queries: usize,
        /// Keep the database after the run and print where it is (to time the queries again
        /// with --on, or to look at the plans).
        #[arg(long)]
        keep: bool,
        /// Time the queries on a database a --keep run left (an SQLite file or a postgres://
        /// URL), without loading a city; --residents is then read from it.
        #[arg(long, conflicts_with = "keep")]
        on: Option<String>,
        #[command(flatten)]
        run: RunArgs,
    },
    /// The scan endpoint held at a target rate for a bounded time from enrolled
    /// stations while coverage and missed lists are read; the server runs as a
    /// second process on loopback. Fails on any error or a rate below 90% of the target.
    Load {
        #[arg(long, default_value_t = 20_000)]
        residents: u64,
        #[arg(long, default_value_t = 20)]
        stations: usize,
        /// Length of the run (at most 3600).
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        /// Target scans per second, all stations together.
        #[arg(long, default_value_t = 500.0)]
        rate: f64,
        /// Coverage and missed-list reads per second (alternating).
        #[arg(long, default_value_t = 5.0)]
        reads: f64,
        #[command(flatten)]
        run: RunArgs,
    },
}

/// Fresh databases for one benchmark run, removed at the end.
pub(crate) struct Fresh {
    base: Option<String>,
    dir: PathBuf,
    made: Vec<String>,
}

impl Fresh {
    pub(crate) fn new(base: Option<String>) -> Result<Fresh> {
        let dir = std::env::temp_dir().join(format!("gridwarden-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        Ok(Fresh {
            base: base.filter(|b| b.starts_with("postgres")),
            dir,
            made: Vec::new(),
        })
    }

    pub(crate) async fn make(&mut self, name: &str) -> Result<Store> {
        let url = self.make_url(name).await?;
        Ok(Store::open(&url).await?)
    }

    /// A fresh, empty database; its URL (for a second process to open).
    pub(crate) async fn make_url(&mut self, name: &str) -> Result<String> {
        Ok(match &self.base {
            Some(base) => {
                let db = format!("gw_bench_{}_{}", name, std::process::id());
                let admin = Store::connect(base).await?;
                if let gw_store::Pool::Postgres(p) = &admin.pool {
                    sqlx::query(&format!("DROP DATABASE IF EXISTS {db}"))
                        .execute(p)
                        .await?;
                    sqlx::query(&format!("CREATE DATABASE {db}"))
                        .execute(p)
                        .await?;
                }
                admin.close().await;
                self.made.push(db.clone());
                gw_store::with_database(base, &db)
            }
            None => self.dir.join(format!("{name}.db")).display().to_string(),
        })
    }

    /// Leave the databases made so far in place (they are not dropped at cleanup);
    /// where each one is.
    pub(crate) fn keep(&mut self) -> Vec<String> {
        let kept: Vec<String> = match &self.base {
            Some(base) => self
                .made
                .drain(..)
                .map(|db| gw_store::with_database(base, &db))
                .collect(),
            None => {
                let kept = self.dir.clone();
                self.dir = PathBuf::new();
                std::fs::read_dir(&kept)
                    .into_iter()
                    .flatten()
                    .flatten()
                    .map(|e| e.path().display().to_string())
                    .filter(|p| p.ends_with(".db"))
                    .collect()
            }
        };
        kept
    }

    pub(crate) async fn cleanup(self) -> Result<()> {
        if let Some(base) = &self.base {
            let admin = Store::connect(base).await?;
            if let gw_store::Pool::Postgres(p) = &admin.pool {
                for db in &self.made {
                    sqlx::query(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
                        .execute(p)
                        .await?;
                }
            }
        }
        if !self.dir.as_os_str().is_empty() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
        Ok(())
    }
}

pub(crate) fn machine() -> serde_json::Value {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_default();
    json!({ "cores": cores, "cpu": cpu, "os": std::env::consts::OS })
}

pub async fn run(cmd: BenchCmd) -> Result<()> {
    match cmd {
        BenchCmd::Import {
            residents,
            run: RunArgs { db, seed, json },
        } => bench_import(residents, db, seed, json).await,
        BenchCmd::Scan {
            residents,
            stations,
            seconds,
            run: RunArgs { db, seed, json },
        } => crate::bench_scan::run(residents, stations, seconds, db, seed, json).await,
        BenchCmd::Alert {
            alerts,
            run: RunArgs { db, seed, json },
        } => crate::bench_alert::run(alerts, db, seed, json).await,
        BenchCmd::Results {
            tubes,
            stations,
            run: RunArgs { db, seed, json },
        } => crate::bench_results::run(tubes, stations, db, seed, json).await,
        BenchCmd::Coverage {
            residents,
            queries,
            keep,
            on,
            run: RunArgs { db, seed, json },
        } => {
            crate::bench_coverage::run(crate::bench_coverage::CoverageArgs {
                residents,
                queries,
                keep,
                on,
                db,
                seed,
                json,
            })
            .await
        }
        BenchCmd::Load {
            residents,
            stations,
            seconds,
            rate,
            reads,
            run: RunArgs { db, seed, json },
        } => {
            crate::bench_load::run(crate::bench_load::LoadArgs {
                residents,
                stations,
                seconds,
                rate,
                reads_per_second: reads,
                db,
                seed,
                json,
            })
            .await
        }
    }
}

async fn bench_import(n: usize, db: Option<String>, seed: u64, json_out: bool) -> Result<()> {
    let clock = Clock::System;
    let mut fresh = Fresh::new(db)?;
    let file = fresh.dir.join("roster.xlsx");
    let sheets = gw_app::fixtures::large_roster(n, seed);
    gw_app::fixtures::write_xlsx(&file, &sheets).map_err(|e| anyhow::anyhow!(e))?;
    let size = std::fs::metadata(&file)?.len();

    // R: the spreadsheet read alone (file → cells).
    let t = Instant::now();
    let read = gw_app::roster_file::read_roster_file(&file, u64::MAX)?;
    let read_s = t.elapsed().as_secs_f64();

    // I: the same residents inserted alone, through the same driver, durable, best batching.
    let parsed = gw_domain::roster::parse_workbook(
        &read,
        &ParseOptions {
            default_compound: "小区".into(),
            today: clock.today(),
        },
    );
    let people: Vec<_> = parsed
        .rows
        .iter()
        .filter_map(|r| match r {
            RowOutcome::Resident(r) => Some(r.resident.clone()),
            RowOutcome::Rejected(_) => None,
        })
        .collect();
    let raw = fresh.make("raw").await?;
    let backend = raw.backend().name();
    let city = raw.ensure_city("本市", None).await?;
    let district = raw.ensure_district(city, "本区", None).await?;
    let street = raw.ensure_street(district, "基准街道", None).await?;
    let writes: Vec<ResidentWrite> = people
        .iter()
        .map(|p| ResidentWrite {
            uid: gw_app::new_uid(),
            household_id: None,
            resident: p,
            status: "active",
        })
        .collect();
    let t = Instant::now();
    let mut tx = raw.begin().await?;
    tx.insert_residents(street, &writes, clock.now_ms()).await?;
    tx.commit().await?;
    let insert_s = t.elapsed().as_secs_f64();
    raw.close().await;

    // The import itself, end to end, into another fresh database.
    let imp = fresh.make("import").await?;
    let opts = gw_app::import::ImportOptions {
        community: Some("基准社区".into()),
        street: Some("基准街道".into()),
        report_path: Some(fresh.dir.join("report.xlsx")),
        actor: "bench".into(),
        ..Default::default()
    };
    let t = Instant::now();
    let summary =
        gw_app::import::import_roster_file(&imp, &clock, &file, &opts, &|_, _, _| {}).await?;
    let import_s = t.elapsed().as_secs_f64();
    imp.close().await;
    fresh
        .cleanup()
        .await
        .context("cleaning up benchmark databases")?;

    let r = n as f64 / read_s;
    let i = people.len() as f64 / insert_s;
    let rate = n as f64 / import_s;
    let raw_limit = 1.0 / (1.0 / r + 1.0 / i);
    let ratio = rate / raw_limit;
    let out = json!({
        "bench": "import",
        "backend": backend,
        "residents": n,
        "file_bytes": size,
        "added": summary.added,
        "read_rate": r,
        "insert_rate": i,
        "rate": rate,
        "raw_limit": raw_limit,
        "ratio": ratio,
        "seconds": { "read": read_s, "insert": insert_s, "import": import_s },
        "durability": if backend == "sqlite" { "WAL, synchronous=FULL" } else { "synchronous_commit=on" },
        "machine": machine(),
    });
    if json_out {
        println!("{out}");
    } else {
        println!(
            "bench import ({backend}, {n} residents, {:.1} MB xlsx)",
            size as f64 / 1e6
        );
        println!("  read alone      R = {r:>10.0} rows/s ({read_s:.2}s)");
        println!("  insert alone    I = {i:>10.0} rows/s ({insert_s:.2}s)");
        println!("  raw limit 1/(1/R+1/I) = {raw_limit:>8.0} rows/s");
        println!("  import            = {rate:>10.0} rows/s ({import_s:.2}s)  ratio {ratio:.2}");
    }
    Ok(())
}
