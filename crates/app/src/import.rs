//! Roster import: a file → sheets → residents and issues → a plan against the
//! registry → one transaction → a report the grid leader can fix and re-import.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use gw_domain::access::{Action as Can, Field, Place};
use gw_domain::idnumber::DocKind;
use gw_domain::roster::{
    self, Action, Elsewhere, ExistingResident, ParseOptions, ParsedRoster, RejectedRow, RosterRow,
    RowIssue, RowOutcome, Severity, Sheet, SheetSummary,
};
use gw_store::audit::AuditWrite;
use gw_store::import::{BuildingWrite, ResidentWrite};
use gw_store::{Store, StoreError};
use serde::Serialize;

use crate::roster_file::{self, FileError};
use crate::Clock;

/// The grid that buildings new to the registry join when no grid is named.
pub const UNASSIGNED_GRID: &str = "未分配网格";
/// The street a first import creates when none is named.
pub const DEFAULT_STREET: &str = "默认街道";
/// The compound of rows that name none.
pub const DEFAULT_COMPOUND: &str = "未填小区";
/// How often an import plans again when another import into its street
/// wrote between its reading and its writing.
const PLAN_ATTEMPTS: usize = 5;
/// How many document numbers an importer who may not see them can find
/// registered (refused with `roster::DOC_CONFLICT`) before the whole file is
/// refused: a roster's typos, not a search.
pub const CONFLICTS_ALLOWED: usize = 3;
/// What an import says when, planned again that often, it still found the
/// registry changed under it, or the database refused a row as one already
/// there: never the database's own words.
pub const IMPORTED_MEANWHILE: &str = "同一份名单（或其中的居民、小区）正在同时导入（另一个窗口、另一位同事或命令行），本次未导入任何内容：请重新导入 / the same roster (or residents or compounds in it) was being imported at the same moment (another tab, a colleague or the command line): nothing was imported; import again";

#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Community name or official code.
    pub community: Option<String>,
    /// Grid name or code: buildings new to the registry join it.
    pub grid: Option<String>,
    /// Street name or code (to disambiguate, or to create on first import).
    pub street: Option<String>,
    /// Compound for rows that name none.
    pub compound: Option<String>,
    pub max_size: u64,
    /// Where to write the report (default: beside the roster, `NAME.report.xlsx`).
    pub report_path: Option<PathBuf>,
    /// Who imports (for the audit log).
    pub actor: String,
    /// The account importing (the web upload): rows about residents or
    /// buildings it may not change are refused, and a document registered
    /// where it may not read is not told where. `None`: the console operator.
    pub principal: Option<crate::access::Principal>,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    File(#[from] FileError),
    #[error("{0}")]
    Territory(String),
    #[error("{file}: 没有找到居民名单（任何工作表都没有含“姓名”的表头）/ no resident sheet: no sheet has a header row with a 姓名 (name) column")]
    NoResidentSheet { file: String },
    #[error("{file}: 居民名单只在隐藏的工作表（{}）中，未导入：请在 Excel 中取消隐藏后重新导入 / the people are only on hidden sheets ({}): nothing imported; unhide them in Excel and import again", .sheets.join("、"), .sheets.join(", "))]
    OnlyHidden { file: String, sheets: Vec<String> },
    #[error("写入数据库失败，数据库未作任何改动 / the database refused the import and is unchanged: {0}")]
    Store(#[from] StoreError),
    /// The report file (the command line's) could not be written.
    #[error("报告写入失败，数据库未作任何改动 / could not write the report {path}, the database is unchanged: {reason}")]
    Report { path: String, reason: String },
    /// The report could not be made (it is made in memory: never a server's path).
    #[error("问题报告生成失败，数据库未作任何改动 / could not make the report, the database is unchanged: {reason}")]
    ReportMade { reason: String },
    /// The caller may not import into that community or grid.
    #[error(transparent)]
    Auth(#[from] crate::access::AuthError),
    /// More rows than [`CONFLICTS_ALLOWED`] name documents registered where
    /// the importer may not see them: nothing imported, audited.
    #[error("名单中有{rows}行的证件号与已登记信息不符（超过{allowed}个号码），本次未导入任何内容：如果名单含有其他网格或社区的居民，请只导入本网格的行，或请社区书记核对后导入 / {rows} rows name document numbers that do not match what is registered (more than {allowed} numbers): nothing was imported; if the roster holds residents of other grids or communities, import only your own grid's rows, or ask the community secretary to check and import it", allowed = CONFLICTS_ALLOWED)]
    TooManyConflicts { rows: usize },
}

/// What an import did. `added + updated + unchanged + rejected` equals the
/// data rows read; a duplicate row counts as unchanged.
#[derive(Debug, Clone, Serialize)]
pub struct ImportSummary {
    pub file: String,
    pub street: String,
    pub community: String,
    pub added: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub rejected: usize,
    /// Warning entries (a row may carry several).
    pub warnings: usize,
    pub data_rows: usize,
    pub sheets: Vec<SheetSummary>,
    pub new_buildings: Vec<String>,
    /// The grid new buildings joined; `None`: the community's
    /// [`UNASSIGNED_GRID`], where they wait for the secretary to place them.
    pub new_buildings_grid: Option<String>,
    pub report: Option<String>,
    pub issues: Vec<RowIssue>,
}

/// Progress reported while an import runs: `(stage, done, total)`.
pub type Progress<'a> = &'a (dyn Fn(&str, u64, u64) + Sync);

/// Imports a roster file.
pub async fn import_roster_file(
    store: &Store,
    clock: &Clock,
    path: &Path,
    opts: &ImportOptions,
    progress: Progress<'_>,
) -> Result<ImportSummary, ImportError> {
    progress("读取 reading", 0, 1);
    let sheets = roster_file::read_roster_file(
        path,
        if opts.max_size == 0 {
            roster_file::DEFAULT_MAX_SIZE
        } else {
            opts.max_size
        },
    )?;
    progress("读取 reading", 1, 1);
    let report = opts
        .report_path
        .clone()
        .unwrap_or_else(|| default_report_path(path));
    let (summary, _) = import_sheets(
        store,
        clock,
        &path.display().to_string(),
        &sheets,
        opts,
        Some(&report),
        progress,
    )
    .await?;
    Ok(summary)
}

/// Imports an uploaded roster (the web page) into a community or grid the
/// caller may import into, checked before the file is read. Returns the
/// summary and the report workbook's bytes (made in memory).
#[allow(clippy::too_many_arguments)]
pub async fn import_upload(
    store: &Store,
    clock: &Clock,
    p: &crate::access::Principal,
    community: gw_domain::ids::Key,
    grid: Option<gw_domain::ids::Key>,
    compound: Option<&str>,
    name: &str,
    bytes: &[u8],
) -> Result<(ImportSummary, Vec<u8>), ImportError> {
    let place = match grid {
        Some(g) => store.place_of(g.street, "grid", g.id).await?,
        None => {
            store
                .place_of(community.street, "community", community.id)
                .await?
        }
    };
    if place.community != Some(community.id) || place.street != community.street {
        return Err(ImportError::Territory(
            "网格不在所选社区 / the grid is not in the chosen community".into(),
        ));
    }
    crate::access::authorize(p, clock, gw_domain::access::Action::ImportRoster, &place)?;
    let sheets = roster_file::read_roster_bytes(name, bytes)?;
    let c = store
        .communities(None, Some(community.street))
        .await?
        .into_iter()
        .find(|c| c.id == community.id)
        .ok_or_else(|| {
            ImportError::Territory(format!("没有社区 {community} / no community {community}"))
        })?;
    let grid_name = match grid {
        Some(g) => store
            .grids(None, Some((community.street, community.id)))
            .await?
            .into_iter()
            .find(|r| r.id == g.id)
            .map(|r| r.code.unwrap_or(r.name)),
        None => None,
    };
    let opts = ImportOptions {
        community: Some(c.code.clone().unwrap_or_else(|| c.name.clone())),
        grid: grid_name,
        street: Some(c.street_name.clone()),
        compound: compound
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(String::from),
        actor: p.actor(),
        principal: Some(p.clone()),
        ..Default::default()
    };
    // The report is made in memory: no file of the server's to name or leave.
    import_sheets(store, clock, name, &sheets, &opts, None, &|_, _, _| {}).await
}

pub fn default_report_path(roster: &Path) -> PathBuf {
    let stem = roster
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_else(|| "roster".into());
    roster.with_file_name(format!("{stem}.report.xlsx"))
}

/// The community an import goes into, resolved from the options.
#[derive(Debug, Clone)]
pub struct Target {
    pub street_id: i64,
    pub street: String,
    pub community_id: i64,
    pub community: String,
    /// The named grid, if any, and its name.
    pub grid_id: Option<i64>,
    pub grid_name: Option<String>,
}

/// Finds (or, on a database with no territory yet, creates) the community.
pub async fn resolve_target(store: &Store, opts: &ImportOptions) -> Result<Target, ImportError> {
    let streets = store.streets().await?;
    let street = match &opts.street {
        Some(s) => {
            let found = store.find_streets(s).await?;
            match found.as_slice() {
                [one] => Some(one.clone()),
                [] => None,
                _ => {
                    return Err(ImportError::Territory(format!(
                        "街道“{s}”不唯一 / street {s} is ambiguous"
                    )))
                }
            }
        }
        None => None,
    };
    let street_id = street.as_ref().map(|s| s.id);
    if let Some(g) = &opts.grid {
        let community = match &opts.community {
            Some(c) => Some(one_community(store, c, street_id).await?),
            None => None,
        };
        let grids = store
            .grids(Some(g), community.as_ref().map(|c| (c.street_id, c.id)))
            .await?;
        let grid = match grids.as_slice() {
            [one] => one.clone(),
            [] => {
                return Err(ImportError::Territory(format!(
                    "找不到网格“{g}”（请给网格的名称、编码或编号，编号如 territory 所示的 1-3）/ grid {g} not found (give its name, code or id as `territory` shows it, e.g. 1-3)"
                )))
            }
            many => {
                let list: Vec<String> = many
                    .iter()
                    .map(|g| format!("{}/{}", g.community_name, g.name))
                    .collect();
                return Err(ImportError::Territory(format!(
                    "网格“{g}”不唯一，请用 --community 指定社区 / grid {g} is ambiguous: {}",
                    list.join(", ")
                )));
            }
        };
        return Ok(Target {
            street_id: grid.street_id,
            street: store.street_name(grid.street_id).await?,
            community_id: grid.community_id,
            community: grid.community_name,
            grid_id: Some(grid.id),
            grid_name: Some(grid.name.clone()),
        });
    }
    let Some(cname) = &opts.community else {
        let all = store.communities(None, street_id).await?;
        return match all.as_slice() {
            [one] => Ok(Target { street_id: one.street_id, street: one.street_name.clone(), community_id: one.id, community: one.name.clone(), grid_id: None, grid_name: None }),
            [] => Err(ImportError::Territory("数据库中还没有社区，请用 --community 社区名 指定 / no community yet: name one with --community NAME".into())),
            many => {
                let list: Vec<String> = many.iter().map(|c| c.name.clone()).collect();
                Err(ImportError::Territory(format!("请用 --community 指定社区 / name the community with --community: {}", list.join(", "))))
            }
        };
    };
    let found = store.communities(Some(cname), street_id).await?;
    match found.as_slice() {
        [one] => Ok(Target { street_id: one.street_id, street: one.street_name.clone(), community_id: one.id, community: one.name.clone(), grid_id: None, grid_name: None }),
        [] if streets.is_empty() || opts.street.is_some() => {
            // A grid leader's first import: create the territory in one go.
            let sid = match street {
                Some(s) => s.id,
                None => {
                    let city = store.ensure_city("本市", None).await?;
                    let district = store.ensure_district(city, "本区", None).await?;
                    store.ensure_street(district, opts.street.as_deref().unwrap_or(DEFAULT_STREET), None).await?
                }
            };
            let code = gw_domain::territory::AreaCode::parse(cname).ok().map(|c| c.as_str().to_string());
            let cid = store.ensure_community(sid, cname, code.as_deref()).await?;
            Ok(Target { street_id: sid, street: store.street_name(sid).await?, community_id: cid, community: cname.clone(), grid_id: None, grid_name: None })
        }
        [] => {
            let known: Vec<String> = store.communities(None, street_id).await?.into_iter().map(|c| c.name).collect();
            Err(ImportError::Territory(format!(
                "找不到社区“{cname}”；已有：{}。如要在某个街道新建这个社区，请加 --street 街道名 / community {cname} not found; there are: {} (add --street NAME to create it in that street)",
                known.join("、"),
                known.join(", ")
            )))
        }
        _ => Err(ImportError::Territory(format!("社区“{cname}”在多个街道都有，请用 --street 指定 / community {cname} exists in several streets: add --street"))),
    }
}

async fn one_community(
    store: &Store,
    key: &str,
    street: Option<i64>,
) -> Result<gw_store::registry::CommunityRow, ImportError> {
    let found = store.communities(Some(key), street).await?;
    match found.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(ImportError::Territory(format!(
            "找不到社区“{key}”（请给社区的名称、编码或编号，编号如 territory 所示的 1-1）/ community {key} not found (give its name, code or id as `territory` shows it, e.g. 1-1)"
        ))),
        _ => Err(ImportError::Territory(format!(
            "社区“{key}”不唯一，请用 --street 指定 / community {key} is ambiguous: add --street"
        ))),
    }
}

/// Imports sheets already read (the web upload reads bytes, the CLI a file);
/// returns the summary and the report's bytes, also written to
/// `report_path` (before the commit) when one is given.
pub async fn import_sheets(
    store: &Store,
    clock: &Clock,
    file: &str,
    sheets: &[Sheet],
    opts: &ImportOptions,
    report_path: Option<&Path>,
    progress: Progress<'_>,
) -> Result<(ImportSummary, Vec<u8>), ImportError> {
    if let Some(c) = opts
        .compound
        .as_deref()
        .filter(|c| c.chars().count() > roster::COMPOUND_MAX)
    {
        let n = c.chars().count();
        let max = roster::COMPOUND_MAX;
        return Err(ImportError::Territory(format!(
            "所填小区名称超过{max}个字（共{n}个字），未导入 / the compound given is longer than {max} characters ({n}): nothing imported"
        )));
    }
    let default_compound = opts
        .compound
        .clone()
        .unwrap_or_else(|| DEFAULT_COMPOUND.to_string());
    let parsed = roster::parse_workbook(
        sheets,
        &ParseOptions {
            default_compound,
            today: clock.today(),
        },
    );
    if parsed.sheets.iter().all(|s| s.skipped.is_some()) {
        let hidden: Vec<String> = parsed.issues.iter().map(|i| i.sheet.clone()).collect();
        if !hidden.is_empty() {
            return Err(ImportError::OnlyHidden {
                file: file.to_string(),
                sheets: hidden,
            });
        }
        return Err(ImportError::NoResidentSheet {
            file: file.to_string(),
        });
    }
    let target = resolve_target(store, opts).await?;
    for _ in 0..PLAN_ATTEMPTS {
        if let Some(summary) = import_once(
            store,
            clock,
            file,
            &parsed,
            opts,
            &target,
            report_path,
            progress,
        )
        .await?
        {
            return Ok(summary);
        }
    }
    Err(ImportError::Store(StoreError::Conflict(
        IMPORTED_MEANWHILE.into(),
    )))
}

/// One plan against the registry as it is now, and its write: `None`, with
/// nothing written, when another import into the street wrote between this
/// one's reading and its writing (the registry version moved), or the
/// database refused a row as one already there: plan again.
#[allow(clippy::too_many_arguments)]
async fn import_once(
    store: &Store,
    clock: &Clock,
    file: &str,
    parsed: &ParsedRoster,
    opts: &ImportOptions,
    target: &Target,
    report_path: Option<&Path>,
    progress: Progress<'_>,
) -> Result<Option<(ImportSummary, Vec<u8>)>, ImportError> {
    let now = clock.now_ms();
    let mut parsed = parsed.clone();
    progress("核对 matching", 0, 1);
    let now_ms = now;
    // Read before anything the plan rests on; moved on by the write below
    // only if no other import moved it meanwhile.
    let version = store.registry_version(target.street_id).await?;
    let community_place = store
        .place_of(target.street_id, "community", target.community_id)
        .await?;
    // Whether the importer may change what is in a grid of the community.
    let writable = |grid: i64| {
        opts.principal.as_ref().is_none_or(|p| {
            let place = Place {
                grid: Some(grid),
                ..community_place
            };
            p.can(Can::ImportRoster, &place, now_ms)
        })
    };
    // Whether the importer may reveal a document held by someone at `place`:
    // who may not is told one thing of every row naming such a document
    // (`roster::DOC_CONFLICT`), whoever holds it and wherever.
    let reveals = |place: &Place| {
        opts.principal
            .as_ref()
            .is_none_or(|p| p.can(Can::Reveal(Field::Document), place, now_ms))
    };

    let snap = store
        .community_snapshot(target.street_id, target.community_id)
        .await?;
    if opts.compound.is_none() {
        place_rows_without_compound(&mut parsed.rows, &snap, target.grid_id);
    }
    let rows: Vec<&RosterRow> = parsed
        .rows
        .iter()
        .filter_map(|r| match r {
            RowOutcome::Resident(r) => Some(r.as_ref()),
            RowOutcome::Rejected(_) => None,
        })
        .collect();
    let existing: Vec<ExistingResident> = snap
        .residents
        .iter()
        .map(|(id, address, resident)| ExistingResident {
            id: *id,
            address: address.clone(),
            resident: resident.clone(),
        })
        .collect();
    let docs: Vec<(DocKind, String)> = rows
        .iter()
        .filter_map(|r| {
            r.resident
                .document
                .as_ref()
                .map(|d| (d.kind, d.number.clone()))
        })
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    // Who holds each document the file names (for the audit of a refused
    // row: ids, never the number).
    let mut holders: HashMap<(DocKind, String), gw_domain::ids::Key> = existing
        .iter()
        .filter_map(|e| {
            let d = e.resident.document.as_ref()?;
            Some((
                (d.kind, d.number.clone()),
                gw_domain::ids::Key {
                    street: target.street_id,
                    id: e.id,
                },
            ))
        })
        .collect();
    let mut elsewhere = HashMap::new();
    for owner in store.document_owners(&docs).await? {
        let ours =
            owner.street_id == target.street_id && owner.community_id == Some(target.community_id);
        if ours {
            continue;
        }
        let key = gw_domain::ids::Key {
            street: owner.street_id,
            id: owner.resident_id,
        };
        holders.insert((owner.kind, owner.number.clone()), key);
        // The place, or the walk-in to merge, only to whoever may read it:
        // the number alone must not tell a grid leader where somebody lives
        // or that they were swabbed as a walk-in. Who may not reveal the
        // document there is told nothing at all (the row is refused).
        let (readable, revealed) = match &opts.principal {
            None => (true, true),
            Some(p) => {
                let place = store
                    .place_of(owner.street_id, "resident", owner.resident_id)
                    .await?;
                (p.can(Can::ReadRegistry, &place, now_ms), reveals(&place))
            }
        };
        let told = if !revealed {
            Elsewhere::Sealed
        } else if owner.pending && readable && owner.street_id == target.street_id {
            Elsewhere::Told {
                zh: format!("属于待核实人员 {key}（在采样点登记、不在任何名单上）：导入后请用 resident match 把 {key} 合并到本行居民"),
                en: format!("belongs to pending walk-in {key} (sampled at a point, on no roster): after the import, merge {key} into this row's resident with resident match"),
            }
        } else if readable && !owner.pending {
            Elsewhere::Told {
                zh: format!("已在{}登记", owner.place),
                en: format!("already registered elsewhere ({})", owner.place),
            }
        } else if owner.street_id == target.street_id {
            Elsewhere::Told {
                zh: "已在本街道其他地方登记".into(),
                en: "already registered elsewhere in this street".into(),
            }
        } else {
            Elsewhere::Told {
                zh: "已在本市其他街道登记".into(),
                en: "already registered elsewhere in the city".into(),
            }
        };
        elsewhere.insert((owner.kind, owner.number.clone()), told);
    }
    // What the importer sees of each registered resident's document here:
    // revealed where they may reveal it; else a row of the same name is the
    // resident only in a grid they may change (their own), and any other
    // row naming it is refused with the one message.
    let grid_of_resident: HashMap<i64, i64> = existing
        .iter()
        .filter_map(|e| {
            let c = snap.compounds.get(&e.address.compound)?;
            let (_, g) = snap.buildings.get(&(*c, e.address.building.clone()))?;
            Some((e.id, *g))
        })
        .collect();
    let sight = |id: i64| {
        let grid = grid_of_resident.get(&id).copied();
        let place = Place {
            grid,
            ..community_place
        };
        if reveals(&place) {
            roster::Sight::Reveals
        } else if grid.is_some_and(writable) {
            roster::Sight::SameNameOnly
        } else {
            roster::Sight::Sealed
        }
    };
    let mut plan = roster::plan_import_for(&rows, &existing, &elsewhere, &sight);
    // The rows refused for a document the importer may not see: each one
    // audited (ids, never the number), so that probing shows; more than
    // CONFLICTS_ALLOWED numbers refuse the whole file, saying how many rows,
    // not which.
    let conflicts: Vec<(&RosterRow, Option<gw_domain::ids::Key>)> = plan
        .conflicts
        .iter()
        .map(|i| {
            let row = rows[*i];
            let holder = row
                .resident
                .document
                .as_ref()
                .and_then(|d| holders.get(&(d.kind, d.number.clone())).copied());
            (row, holder)
        })
        .collect();
    let numbers: BTreeSet<(DocKind, &str)> = conflicts
        .iter()
        .filter_map(|(r, _)| r.resident.document.as_ref())
        .map(|d| (d.kind, d.number.as_str()))
        .collect();
    if numbers.len() > CONFLICTS_ALLOWED {
        let mut tx = store.begin().await?;
        audit_conflicts(&mut tx, opts, target, file, now, &conflicts).await?;
        let detail = format!(
            "refused conflicting_rows={} conflicting_numbers={}{}{}",
            conflicts.len(),
            numbers.len(),
            gw_store::audit::FILE,
            file_name(file)
        );
        tx.audit(&AuditWrite {
            street_id: target.street_id,
            at_ms: now,
            actor: &opts.actor,
            action: "import_roster_refused",
            target_kind: "community",
            target_id: &gw_domain::ids::Key {
                street: target.street_id,
                id: target.community_id,
            }
            .to_string(),
            detail: &detail,
            address: "",
        })
        .await?;
        tx.commit().await?;
        return Err(ImportError::TooManyConflicts {
            rows: conflicts.len(),
        });
    }

    // An import touches only what the importer may change: a row that would
    // add to a building, or update or move a resident, of a grid it may not
    // write is refused and reported (without saying whom or where).
    // The buildings whose grid the check below relied on, with that grid:
    // checked again inside the write transaction.
    let mut relied: std::collections::BTreeMap<i64, i64> = Default::default();
    if opts.principal.is_some() {
        let building_at = |a: &roster::Address| {
            snap.compounds
                .get(&a.compound)
                .and_then(|c| snap.buildings.get(&(*c, a.building.clone())))
                .copied()
        };
        let grid_of = |a: &roster::Address| building_at(a).map(|(_, g)| g);
        let existing_at: HashMap<i64, &roster::Address> =
            existing.iter().map(|e| (e.id, &e.address)).collect();
        for action in plan.actions.iter_mut() {
            let row = rows[action.row()];
            let (from, to) = match action {
                Action::Add { .. } => (None, grid_of(&row.address)),
                Action::Update { id, .. } => (
                    existing_at.get(id).and_then(|a| grid_of(a)),
                    grid_of(&row.address),
                ),
                Action::Unchanged { id: Some(id), .. } => {
                    (existing_at.get(id).and_then(|a| grid_of(a)), None)
                }
                Action::Unchanged { id: None, .. } | Action::Refused { .. } => continue,
            };
            if [from, to].into_iter().flatten().all(writable) {
                let addresses = match action {
                    Action::Update { id, .. } | Action::Unchanged { id: Some(id), .. } => {
                        vec![existing_at.get(id).copied(), Some(&row.address)]
                    }
                    _ => vec![Some(&row.address)],
                };
                for (b, g) in addresses.into_iter().flatten().filter_map(building_at) {
                    relied.insert(b, g);
                }
                continue;
            }
            plan.warnings.push(RowIssue {
                sheet: row.sheet.clone(),
                row: row.row,
                column: String::new(),
                severity: Severity::Rejected,
                reason: "本行的居民或住址在您无权修改的网格，未导入：请由其所在网格或社区导入 / this row's resident or address is in a grid you may not change: not imported (their own grid or community may import it)".into(),
            });
            *action = Action::Refused { row: action.row() };
        }
    }
    progress("核对 matching", 1, 1);

    // Territory the plan needs that does not exist yet.
    let needs_address = |a: &Action| match a {
        Action::Add { row, .. } | Action::Update { row, .. } => Some(*row),
        Action::Unchanged { .. } | Action::Refused { .. } => None,
    };
    let addresses: BTreeSet<&roster::Address> = plan
        .actions
        .iter()
        .filter_map(needs_address)
        .map(|i| &rows[i].address)
        .collect();
    // New buildings join the named grid, else the community's 未分配网格,
    // made only when a building is new (an import that adds none leaves no
    // empty grid behind).
    let new_building = addresses.iter().any(|a| {
        snap.compounds
            .get(&a.compound)
            .is_none_or(|c| !snap.buildings.contains_key(&(*c, a.building.clone())))
    });
    let grid_for_new = match target.grid_id {
        Some(g) => g,
        None if !new_building => 0,
        None => {
            store
                .ensure_grid(
                    target.street_id,
                    target.community_id,
                    UNASSIGNED_GRID,
                    None,
                    true,
                )
                .await?
        }
    };

    let total = plan.actions.len() as u64;
    let mut tx = store.begin().await?;
    let street = target.street_id;
    if !tx.bump_registry_version(street, version).await? {
        tx.rollback().await?;
        return Ok(None);
    }
    // A building moved to another grid since the check (by the community, at
    // this moment): nothing is written, and the importer is asked to import
    // again, checked against where the buildings are now.
    if !relied.is_empty() {
        let ids: Vec<i64> = relied.keys().copied().collect();
        let now = tx.building_grids(street, &ids).await?;
        if now.iter().any(|(b, g)| relied.get(b) != Some(g)) {
            return Err(ImportError::Store(StoreError::Conflict(
                "导入期间有楼栋刚被调整到别的网格，本次未导入任何内容：请重新导入 / a building was moved to another grid while this import ran: nothing was imported; import again".into(),
            )));
        }
    }
    audit_conflicts(&mut tx, opts, target, file, now, &conflicts).await?;
    let written = write_plan(
        &mut tx,
        target,
        &snap,
        &addresses,
        &plan,
        &rows,
        grid_for_new,
        now,
        progress,
    )
    .await;
    let Written {
        added,
        updated,
        unchanged,
        refused,
        new_buildings: new_building_names,
    } = match written {
        Ok(w) => w,
        // A row the database already holds (a compound, a document): written
        // by another at this moment, past the version (a walk-in's number
        // registered at a station). Nothing of this attempt stays.
        Err(StoreError::Conflict(m)) if gw_store::is_unique_violation(&m) => {
            tx.rollback().await?;
            return Ok(None);
        }
        // Anything else is no race to plan again for: said as it is.
        Err(StoreError::Conflict(m)) => {
            tx.rollback().await?;
            return Err(ImportError::Store(StoreError::Conflict(format!(
                "数据库拒绝了本次导入的写入，未导入任何内容：{m} / the database refused the import's write, nothing was imported: {m}"
            ))));
        }
        Err(e) => return Err(e.into()),
    };

    let mut issues: Vec<RowIssue> = Vec::new();
    let mut rejected = refused;
    for r in &parsed.rows {
        match r {
            RowOutcome::Resident(r) => issues.extend(r.warnings.iter().cloned()),
            RowOutcome::Rejected(r) => {
                rejected += 1;
                issues.push(r.issue.clone());
            }
        }
    }
    issues.extend(plan.warnings.iter().cloned());
    issues.extend(parsed.issues.iter().cloned());
    issues.sort_by(|a, b| {
        (sheet_order(&parsed.sheets, &a.sheet), a.row, &a.column).cmp(&(
            sheet_order(&parsed.sheets, &b.sheet),
            b.row,
            &b.column,
        ))
    });
    let warnings = issues
        .iter()
        .filter(|i| i.severity == Severity::Warning)
        .count();

    // The file's name last: it may name a family (张三家.xlsx), so a purge
    // clears it as it clears a reason (gw_store::audit::FILE).
    let detail = format!(
        "added={added} updated={updated} unchanged={unchanged} rejected={rejected} warnings={warnings}{}{}",
        gw_store::audit::FILE,
        file_name(file)
    );
    tx.audit(&AuditWrite {
        street_id: street,
        at_ms: now,
        actor: &opts.actor,
        action: "import_roster",
        target_kind: "community",
        target_id: &gw_domain::ids::Key {
            street,
            id: target.community_id,
        }
        .to_string(),
        detail: &detail,
        address: "",
    })
    .await?;

    let mut summary = ImportSummary {
        file: file.to_string(),
        street: target.street.clone(),
        community: target.community.clone(),
        added,
        updated,
        unchanged,
        rejected,
        warnings,
        data_rows: parsed.data_rows(),
        sheets: parsed.sheets.clone(),
        new_buildings_grid: target.grid_name.clone(),
        new_buildings: new_building_names,
        report: None,
        issues,
    };
    // The report is made and written before the commit: a report file that
    // cannot be written fails the import, and the database stays as it was.
    // (Its cells are cut to what a workbook holds, so no roster's content
    // can fail it.)
    let report = crate::report::import_report(&summary, &parsed)
        .map_err(|reason| ImportError::ReportMade { reason })?;
    if let Some(path) = report_path {
        std::fs::write(path, &report).map_err(|e| ImportError::Report {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        summary.report = Some(path.display().to_string());
    }
    tx.commit().await?;
    progress("完成 done", total, total);
    Ok(Some((summary, report)))
}

/// Writes one audit event per row refused for a document the importer may
/// not see (`import_document_conflict`, naming the document's holder by id,
/// and the file, sheet and row: never the number).
async fn audit_conflicts(
    tx: &mut gw_store::import::StoreTx,
    opts: &ImportOptions,
    target: &Target,
    file: &str,
    now: i64,
    conflicts: &[(&RosterRow, Option<gw_domain::ids::Key>)],
) -> Result<(), StoreError> {
    for (row, holder) in conflicts {
        // The file's and the sheet's names last: a purge clears them.
        let detail = format!(
            "row={}{}{} sheet={}",
            row.row,
            gw_store::audit::FILE,
            file_name(file),
            row.sheet
        );
        let target_id = holder.map(|k| k.to_string()).unwrap_or_default();
        tx.audit(&AuditWrite {
            street_id: target.street_id,
            at_ms: now,
            actor: &opts.actor,
            action: "import_document_conflict",
            target_kind: "resident",
            target_id: &target_id,
            detail: &detail,
            address: "",
        })
        .await?;
    }
    Ok(())
}

/// What [`write_plan`] did.
struct Written {
    added: usize,
    updated: usize,
    unchanged: usize,
    refused: usize,
    new_buildings: Vec<String>,
}

/// Writes a plan in the import's transaction: the territory it needs, then
/// the residents added and updated.
#[allow(clippy::too_many_arguments)]
async fn write_plan(
    tx: &mut gw_store::import::StoreTx,
    target: &Target,
    snap: &gw_store::registry::CommunitySnapshot,
    addresses: &BTreeSet<&roster::Address>,
    plan: &roster::Plan,
    rows: &[&RosterRow],
    grid_for_new: i64,
    now: i64,
    progress: Progress<'_>,
) -> Result<Written, StoreError> {
    let street = target.street_id;
    let total = plan.actions.len() as u64;
    let mut compounds = snap.compounds.clone();
    let new_compounds: Vec<(i64, String)> = addresses
        .iter()
        .map(|a| a.compound.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .filter(|c| !compounds.contains_key(c))
        .map(|c| (target.community_id, c))
        .collect();
    for ((_, name), id) in tx.insert_compounds(street, &new_compounds).await? {
        compounds.insert(name, id);
    }
    let compound_of = |a: &roster::Address| {
        compounds
            .get(&a.compound)
            .copied()
            .ok_or_else(|| StoreError::Other(format!("compound {} missing", a.compound)))
    };

    let mut buildings: HashMap<(i64, String), i64> = snap
        .buildings
        .iter()
        .map(|(k, (id, _))| (k.clone(), *id))
        .collect();
    let mut new_buildings = Vec::new();
    let mut seen = BTreeSet::new();
    for a in addresses {
        let key = (compound_of(a)?, a.building.clone());
        if !buildings.contains_key(&key) && seen.insert(key.clone()) {
            new_buildings.push(BuildingWrite {
                compound_id: key.0,
                grid_id: grid_for_new,
                name: key.1.clone(),
                floors: None,
                elevator: None,
            });
        }
    }
    let new_building_names: Vec<String> = new_buildings.iter().map(|b| b.name.clone()).collect();
    buildings.extend(tx.insert_buildings(street, &new_buildings).await?);
    let building_of = |a: &roster::Address| -> Result<i64, StoreError> {
        buildings
            .get(&(compound_of(a)?, a.building.clone()))
            .copied()
            .ok_or_else(|| StoreError::Other(format!("building {} missing", a.building)))
    };

    let mut units = snap.units.clone();
    let mut new_units = BTreeSet::new();
    for a in addresses {
        let key = (building_of(a)?, a.unit.clone());
        if !units.contains_key(&key) {
            new_units.insert(key);
        }
    }
    units.extend(
        tx.insert_units(street, &new_units.into_iter().collect::<Vec<_>>())
            .await?,
    );
    let unit_of = |a: &roster::Address| -> Result<i64, StoreError> {
        units
            .get(&(building_of(a)?, a.unit.clone()))
            .copied()
            .ok_or_else(|| StoreError::Other(format!("unit {} missing", a.unit)))
    };

    let mut households = snap.households.clone();
    let mut new_households = BTreeSet::new();
    for a in addresses {
        let key = (unit_of(a)?, a.room.clone());
        if !households.contains_key(&key) {
            new_households.insert(key);
        }
    }
    households.extend(
        tx.insert_households(street, &new_households.into_iter().collect::<Vec<_>>())
            .await?,
    );
    let household_of = |a: &roster::Address| -> Result<i64, StoreError> {
        households
            .get(&(unit_of(a)?, a.room.clone()))
            .copied()
            .ok_or_else(|| StoreError::Other(format!("household {} missing", a.room)))
    };

    let (mut added, mut updated, mut unchanged, mut refused) = (0, 0, 0, 0);
    let mut adds = Vec::new();
    for action in &plan.actions {
        match action {
            Action::Add { row, resident } => {
                adds.push(ResidentWrite {
                    uid: crate::new_uid(),
                    household_id: Some(household_of(&rows[*row].address)?),
                    resident,
                    status: "active",
                });
                added += 1;
            }
            Action::Update { row, id, resident } => {
                tx.update_resident(
                    street,
                    *id,
                    Some(household_of(&rows[*row].address)?),
                    resident,
                    now,
                )
                .await?;
                updated += 1;
                if updated % 200 == 0 {
                    progress("写入 writing", updated as u64, total);
                }
            }
            Action::Unchanged { .. } => unchanged += 1,
            Action::Refused { .. } => refused += 1,
        }
    }
    for (i, chunk) in adds.chunks(2_000).enumerate() {
        tx.insert_residents(street, chunk, now).await?;
        progress(
            "写入 writing",
            (updated + i * 2_000 + chunk.len()) as u64,
            total,
        );
    }

    Ok(Written {
        added,
        updated,
        unchanged,
        refused,
        new_buildings: new_building_names,
    })
}
/// Rows whose roster names no compound (they carry [`DEFAULT_COMPOUND`])
/// take the compound of the target's one building of their name: in the
/// target grid first, else in the community. A building name several
/// compounds have refuses the row rather than guess, naming them; a name no
/// compound has stays a new building of [`DEFAULT_COMPOUND`].
fn place_rows_without_compound(
    rows: &mut [RowOutcome],
    snap: &gw_store::registry::CommunitySnapshot,
    grid: Option<i64>,
) {
    let compound_name: HashMap<i64, &str> = snap
        .compounds
        .iter()
        .map(|(name, id)| (*id, name.as_str()))
        .collect();
    for outcome in rows.iter_mut() {
        let RowOutcome::Resident(r) = outcome else {
            continue;
        };
        if r.address.compound != DEFAULT_COMPOUND {
            continue;
        }
        let holding = |in_grid: Option<i64>| -> Vec<&str> {
            let mut names: Vec<&str> = snap
                .buildings
                .iter()
                .filter(|((_, b), (_, g))| {
                    *b == r.address.building && in_grid.is_none_or(|x| x == *g)
                })
                .filter_map(|((c, _), _)| compound_name.get(c).copied())
                .collect();
            names.sort_unstable();
            names
        };
        let mut found = grid.map(|g| holding(Some(g))).unwrap_or_default();
        if found.is_empty() {
            found = holding(None);
        }
        // A building an earlier roster without compounds brought in stays
        // the one such a roster means, whatever other compound has one so
        // named since.
        if found.contains(&DEFAULT_COMPOUND) {
            continue;
        }
        match found.as_slice() {
            [] => {}
            [one] => r.address.compound = one.to_string(),
            many => {
                let list = many.join("、");
                let issue = RowIssue {
                    sheet: r.sheet.clone(),
                    row: r.row,
                    column: String::new(),
                    severity: Severity::Rejected,
                    reason: format!(
                        "名单没有小区，而{b}在本社区的多个小区都有（{list}）：未导入，请加一列“小区”，或导入时指定小区 / the roster names no compound and {b} is in several compounds here ({list}): not imported; add a 小区 column or choose the compound when importing",
                        b = r.address.building
                    ),
                };
                let cells = std::mem::take(&mut r.cells);
                *outcome = RowOutcome::Rejected(RejectedRow { issue, cells });
            }
        }
    }
}

fn sheet_order(sheets: &[SheetSummary], name: &str) -> usize {
    sheets
        .iter()
        .position(|s| s.name == name)
        .unwrap_or(usize::MAX)
}

fn file_name(path: &str) -> String {
    Path::new(path)
        .file_name()
        .map(|f| f.to_string_lossy().to_string())
        .unwrap_or_else(|| path.to_string())
}
