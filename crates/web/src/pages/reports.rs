//! Printable pages of a day's work: a point's tube-box labels (barcode as a QR
//! code, the system's counts, a line to sign), the daily report of a round
//! (numbers only, no personal data) and a building's page (units → floors →
//! households, masked residents, who is still missed). A4 through the print
//! stylesheet in app.css, like the household code sheet (`print.rs`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Extension;
use gw_domain::access::Action;
use gw_domain::ids::Key;
use gw_domain::territory::{ControlOrder, ControlStatus, ControlTarget};
use gw_store::coverage::Level;

use super::registry::{full_names, resident_table};
use super::{added_cell, date_text, parse_key, qr_svg, state_label, Lang, Page};
use crate::{html_escape as esc, AppState, Auth, WebError};

/// `2024-05-01 14:30` in China time.
fn when(ms: i64) -> String {
    gw_domain::notify::clock_text(ms)
}

fn print_button(l: Lang) -> String {
    format!(
        r#"<p class="noprint actions"><button type="button" class="primary" onclick="window.print()">{}</button></p>"#,
        l.t("打印（A4）", "Print (A4)")
    )
}

// ----- tube-box labels ------------------------------------------------------------------

pub async fn point_labels(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    page: Page,
    Path(id): Path<String>,
) -> Response {
    let r = labels_body(&s, &a, page.lang, &id).await;
    page.answer(r)
}

async fn labels_body(
    s: &AppState,
    a: &Auth,
    l: Lang,
    id: &str,
) -> Result<(String, String), WebError> {
    let k = parse_key(l, id)?;
    let lb = gw_app::handoff::labels(&s.store, &s.clock, &a.principal, k).await?;
    let mut sheets = String::new();
    for (kind, heading) in [
        ("box", l.t("转运箱标签", "Transport box labels")),
        ("bag", l.t("样本袋标签", "Sample bag labels")),
    ] {
        let mut cards = String::new();
        for it in lb.items.iter().filter(|i| i.kind == kind) {
            let what = if kind == "box" {
                "转运箱 Box"
            } else {
                "样本袋 Bag"
            };
            let counts = match it.bags {
                Some(b) => format!(
                    "{b} 袋 bags · {} 管 tubes · {} 人 people",
                    it.tubes, it.people
                ),
                None => format!("{} 管 tubes · {} 人 people", it.tubes, it.people),
            };
            let in_box = it
                .in_box
                .as_deref()
                .map(|b| format!("<small>装入箱 in box {}</small>", esc(b)))
                .unwrap_or_default();
            let _ = write!(
                cards,
                r#"<div class="label" data-barcode="{code}">{svg}<div><small>{what}</small><b class="label-code">{code}</b><small>{round} · {point}</small><small>封装 packed {at}</small><span class="label-counts">{counts}</span>{in_box}<span class="sign">核对人 / checked by:</span><span class="sign-line"></span></div></div>"#,
                svg = qr_svg(&it.barcode).unwrap_or_default(),
                code = esc(&it.barcode),
                round = esc(&lb.round_name),
                point = esc(&lb.point_name),
                at = esc(&when(it.packed_ms)),
            );
        }
        if !cards.is_empty() {
            let _ = write!(
                sheets,
                r#"<section class="label-sheet"><h2>{heading}</h2><div class="label-grid">{cards}</div></section>"#
            );
        }
    }
    let body = if sheets.is_empty() {
        format!(
            r#"<p class="noprint"><a href="/points/{p}/packing">← {rn} · {pk}</a></p><h1>{h}</h1><section class="card"><p class="muted" id="nothing-packed">{none}</p></section>"#,
            p = esc(&lb.point),
            rn = esc(&lb.round_name),
            pk = l.t("装袋装箱", "packing"),
            h = esc(&lb.point_name),
            none = l.t(
                "本采样点还没有装袋或装箱，没有可打印的标签。",
                "Nothing is packed at this point yet: there are no labels to print."
            ),
        )
    } else {
        format!(
            r#"<p class="noprint"><a href="/points/{p}/packing">← {rn} · {pk}</a></p><h1 class="noprint">{h} · {t}</h1>{print}<p class="hint">{hint}</p>{sheets}"#,
            p = esc(&lb.point),
            rn = esc(&lb.round_name),
            pk = l.t("装袋装箱", "packing"),
            h = esc(&lb.point_name),
            t = l.t("标签", "labels"),
            print = print_button(l),
            hint = l.t(
                "每个标签上的数量是系统记录的数；交接时核对实物，并在“核对人”处签名。",
                "The counts on each label are the system's; check them against what is in the box at hand-over and sign."
            ),
        )
    };
    Ok((
        format!("{} · {}", lb.point_name, l.t("标签", "labels")),
        body,
    ))
}

// ----- the daily report -------------------------------------------------------------

pub async fn round_report(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    page: Page,
    Path(id): Path<String>,
) -> Response {
    let r = report_body(&s, &a, page.lang, &id).await;
    page.answer(r)
}

fn coverage_row(name: &str, r: &gw_app::coverage::CoverageRow) -> String {
    // 未检 and the rate as the round's page and its coverage pages show them.
    let o = r.outstanding();
    format!(
        r#"<tr><td>{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}%</td></tr>"#,
        esc(name),
        r.expected,
        r.sampled,
        r.exempt,
        o.missed(),
        added_cell(r.added, r.added_sampled),
        o.percent()
    )
}

fn coverage_head(l: Lang, first: &str) -> String {
    format!(
        r#"<thead><tr><th>{first}</th><th class="n">{}</th><th class="n">{}</th><th class="n">{}</th><th class="n">{}</th><th class="n">{}</th><th class="n">{}</th></tr></thead>"#,
        l.t("应检", "Expected"),
        l.t("已检", "Sampled"),
        l.t("免检", "Exempt"),
        l.t("未检", "Missed"),
        l.t("新增", "Added"),
        l.t("覆盖率", "Coverage"),
    )
}

fn tube_state_label(l: Lang, state: &str) -> String {
    let t = match state {
        "open" => l.t("采样中（未封管）", "open"),
        "closed" => l.t("已封管", "closed"),
        "sealed" => l.t("已装袋", "bagged"),
        "boxed" => l.t("已装箱", "boxed"),
        "handed_over" => l.t("已交接转运", "handed over"),
        "received" => l.t("实验室已接收", "received by the lab"),
        "resulted" => l.t("已出结果", "resulted"),
        other => other,
    };
    t.to_string()
}

fn alert_state_label(l: Lang, kind: &str, state: &str) -> String {
    match state {
        "open" if kind == "confirmed" => {
            l.t("已确认（单管复检异常）", "confirmed (single-tube retest)")
        }
        "open" => l.t("待复检", "awaiting retests"),
        "cleared" => l.t("已排除", "cleared"),
        "confirmed" => l.t("已确认", "confirmed"),
        "withdrawn" => l.t("已撤销（结果更正）", "withdrawn (result corrected)"),
        other => other,
    }
    .to_string()
}

/// Mismatches along the hand-off chain the caller may read: the whole round
/// (`true`: the reconciliation page is theirs to open), else the points
/// where they read logistics; `None` when they read none.
async fn mismatches(s: &AppState, a: &Auth, round: Key) -> Result<Option<(usize, bool)>, WebError> {
    use gw_app::access::AuthError;
    match gw_app::handoff::report(&s.store, &s.clock, &a.principal, round, None).await {
        Ok(r) => return Ok(Some((r.mismatches.len(), true))),
        Err(AuthError::Forbidden(_)) => {}
        Err(e) => return Err(e.into()),
    }
    let now = s.clock.now_ms();
    let mut found: Vec<gw_domain::handoff::Mismatch> = Vec::new();
    let mut any = false;
    for (pt, _) in s.store.points_with_counts(round.street, round.id).await? {
        let mut place = gw_app::access::place_of(
            &s.store,
            "community",
            Key {
                street: pt.street_id,
                id: pt.community_id,
            },
        )
        .await?;
        place.point = Some(pt.id);
        if !a.principal.can(Action::ReadLogistics, &place, now) {
            continue;
        }
        any = true;
        let pk = Key {
            street: pt.street_id,
            id: pt.id,
        };
        let r = gw_app::handoff::report(&s.store, &s.clock, &a.principal, round, Some(pk)).await?;
        for m in r.mismatches {
            if !found.contains(&m) {
                found.push(m);
            }
        }
    }
    Ok(any.then_some((found.len(), false)))
}

async fn report_body(
    s: &AppState,
    a: &Auth,
    l: Lang,
    id: &str,
) -> Result<(String, String), WebError> {
    let k = parse_key(l, id)?;
    let p = &a.principal;
    let round = s.store.round(k.street, k.id).await?;
    let by_community =
        gw_app::coverage::coverage(&s.store, &s.clock, p, k, Level::Community, None).await?;
    let by_grid = gw_app::coverage::coverage(&s.store, &s.clock, p, k, Level::Grid, None).await?;
    let now = s.clock.now_ms();
    // A reader of no whole community (a grid leader) is answered by grid:
    // their rows are not communities and have no line in the community table.
    let whole_communities = by_community.by == "community";
    // Each grid by its own community's name and its own (the rows say which
    // community each lies in), each community by its name.
    let mut names: HashMap<String, String> = HashMap::new();
    let mut in_communities: BTreeSet<&str> = by_grid
        .rows
        .iter()
        .filter_map(|r| r.community.as_deref())
        .collect();
    if whole_communities {
        in_communities.extend(by_community.rows.iter().map(|r| r.key.as_str()));
    }
    let mut community_names: HashMap<String, String> = HashMap::new();
    for c in s.store.communities(None, Some(k.street)).await? {
        let ck = Key {
            street: c.street_id,
            id: c.id,
        }
        .to_string();
        if !in_communities.contains(ck.as_str()) {
            continue;
        }
        for g in s.store.grids(None, Some((c.street_id, c.id))).await? {
            names.insert(
                Key {
                    street: g.street_id,
                    id: g.id,
                }
                .to_string(),
                format!("{} · {}", c.name, g.name),
            );
        }
        community_names.insert(ck, c.name);
    }
    let name = |key: &str| names.get(key).cloned().unwrap_or_else(|| key.to_string());
    let community_name = |key: &str| {
        community_names
            .get(key)
            .cloned()
            .unwrap_or_else(|| key.to_string())
    };
    let t = &by_community.totals;
    let mut communities = String::new();
    if whole_communities {
        for r in &by_community.rows {
            communities.push_str(&coverage_row(&community_name(&r.key), r));
        }
    }
    if !communities.is_empty() {
        communities.push_str(&format!(
            r#"<tr class="total"><th>{}</th><th class="n">{}</th><th class="n">{}</th><th class="n">{}</th><th class="n">{}</th><th class="n">{}</th><th class="n">{}%</th></tr>"#,
            l.t("合计", "Total"),
            t.expected,
            t.sampled,
            t.exempt,
            t.outstanding().missed(),
            added_cell(t.added, t.added_sampled),
            t.outstanding().percent()
        ));
    }
    let mut grids = String::new();
    for r in &by_grid.rows {
        grids.push_str(&coverage_row(&name(&r.key), r));
    }
    let mut points = String::new();
    for pt in &by_community.points {
        let _ = write!(
            points,
            r#"<tr><td>{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td></tr>"#,
            esc(&pt.name),
            pt.people,
            pt.swabs,
            pt.tubes
        );
    }
    let states = gw_app::handoff::tube_states(&s.store, &s.clock, p, k).await?;
    let mut tubes = String::new();
    for (st, n) in &states {
        let _ = write!(
            tubes,
            r#"<tr data-state="{}"><td>{}</td><td class="n">{n}</td></tr>"#,
            esc(st),
            esc(&tube_state_label(l, st))
        );
    }
    let mism = mismatches(s, a, k).await?;
    let alerts = gw_app::testing::alerts(&s.store, &s.clock, p, k).await?;
    let point_names: HashMap<String, String> = s
        .store
        .points_with_counts(k.street, k.id)
        .await?
        .into_iter()
        .map(|(pt, _)| {
            (
                Key {
                    street: pt.street_id,
                    id: pt.id,
                }
                .to_string(),
                pt.name,
            )
        })
        .collect();
    let mut pools = String::new();
    for al in &alerts {
        let _ = write!(
            pools,
            r#"<tr><td>{}</td><td>{}</td><td>{}</td><td class="n">{}</td><td class="n">{}</td><td>{}</td></tr>"#,
            esc(&al.barcode),
            esc(point_names.get(&al.point).unwrap_or(&al.point)),
            esc(&if al.state != "open" && al.kind != "confirmed" {
                // A pool no longer open (cleared, confirmed by a retest, or
                // withdrawn by a corrected result; nothing left to retest:
                // "—" beside it) says what happened to it, as the round's
                // page says it, not "0 to retest".
                super::packing::alert_done(l, al)
            } else {
                alert_state_label(l, &al.kind, &al.state)
            }),
            if al.state == "open" {
                al.retests_open.to_string()
            } else {
                "—".to_string()
            },
            al.households_under_control,
            esc(&when(al.created_ms)),
        );
    }
    let retests: usize = alerts.iter().map(|al| al.retests_open).sum();
    let tasks = gw_app::testing::disinfection_tasks(&s.store, &s.clock, p, k).await?;
    // A task a corrected result called off is neither done nor due.
    let done = tasks.iter().filter(|t| t.state == "done").count();
    let open = tasks.iter().filter(|t| t.state == "open").count();
    let empty = |cols: usize, text: &str| {
        format!(
            r#"<tr><td colspan="{cols}" class="muted">{}</td></tr>"#,
            esc(text)
        )
    };
    let none = l.t("无", "None");
    let recon = match mism {
        Some((0, _)) => format!(
            r#"<b id="rep-mismatches">0</b> {}"#,
            l.t("处不一致：全部相符", "mismatches: everything matches")
        ),
        Some((n, whole)) => format!(
            r#"<b id="rep-mismatches" class="warn">{n}</b> {}{}"#,
            l.t("处数量不一致", "counts do not match"),
            // The page of the whole round's counts, for who may read them.
            if whole {
                format!(
                    r#" <a class="noprint" href="/rounds/{k}/reconciliation">{}</a>"#,
                    l.t("查看校对", "see the reconciliation")
                )
            } else {
                String::new()
            }
        ),
        None => format!(
            r#"<span class="muted">{}</span>"#,
            l.t(
                "您的岗位不查看交接数据。",
                "Your role does not read hand-off counts."
            )
        ),
    };
    let body = format!(
        r#"<div class="report"><p class="noprint"><a href="/rounds/{k}">← {name}</a></p>
<h1>{name} · {title}</h1><p class="muted">{asof} <b id="rep-time">{time}</b> {cst} · {state} · {pool} {pl}</p>{print}
<section class="stats"><div><b id="rep-expected">{e}</b><span>{le}</span></div><div><b id="rep-sampled">{sa}</b><span>{ls}</span></div><div><b id="rep-exempt">{x}</b><span>{lx}</span></div><div><b id="rep-missed">{m}</b><span>{lm}{mnote}</span></div><div><b id="rep-added">{added}</b><span>{la}</span></div><div><b>{pc}%</b><span>{lp}</span></div></section>
<section class="card"><h2>{hc}</h2><div class="scroll"><table id="rep-communities">{headc}<tbody>{communities}</tbody></table></div></section>
<section class="card"><h2>{hg}</h2><div class="scroll"><table id="rep-grids">{headg}<tbody>{grids}</tbody></table></div></section>
<section class="card"><h2>{hp}</h2><div class="scroll"><table id="rep-points"><thead><tr><th>{lpt}</th><th class="n">{lpeople}</th><th class="n">{lswabs}</th><th class="n">{ltubes}</th></tr></thead><tbody>{points}</tbody></table></div></section>
<section class="card"><h2>{ht}</h2><table id="rep-tubes"><thead><tr><th>{lstate}</th><th class="n">{ltubes}</th></tr></thead><tbody>{tubes}</tbody></table>
<p>{lrecon}: {recon}</p></section>
<section class="card"><h2>{ha}</h2><div class="scroll"><table id="rep-pools"><thead><tr><th>{lbar}</th><th>{lpt}</th><th>{lstate}</th><th>{lret}</th><th>{lhh}</th><th>{lat}</th></tr></thead><tbody>{pools}</tbody></table></div>
<p>{lretests}: <b id="rep-retests">{retests}</b> · {ldis}: <b id="rep-dis-open">{open}</b> {lopen}, <b id="rep-dis-done">{done}</b> {ldone}</p></section>
<p class="hint">{foot}</p></div>"#,
        name = esc(&round.name),
        title = l.t("日报", "daily report"),
        asof = l.t("截至", "As of"),
        time = esc(&when(now)),
        cst = l.t("（北京时间）", "(China time)"),
        state = esc(state_label(l, &round.state)),
        pool = round.pool_size,
        pl = l.t("人一管", "per tube"),
        print = print_button(l),
        e = t.expected,
        sa = t.sampled,
        x = t.exempt,
        m = t.outstanding().missed(),
        mnote = super::added_note(l, t.outstanding()),
        pc = t.outstanding().percent(),
        le = l.t("应检", "Expected"),
        ls = l.t("已检", "Sampled"),
        lx = l.t("免检", "Exempt"),
        lm = l.t("未检", "Missed"),
        added = added_cell(t.added, t.added_sampled),
        la = l.t("新增（未检）", "Added (missed)"),
        lp = l.t("覆盖率", "Coverage"),
        hc = l.t("各社区", "By community"),
        headc = coverage_head(l, l.t("社区", "Community")),
        communities = if !whole_communities {
            empty(
                7,
                l.t(
                    "您的查看范围不含整个社区，请看下方各网格。",
                    "You read no whole community: see by grid below.",
                ),
            )
        } else if communities.is_empty() {
            empty(7, none)
        } else {
            communities
        },
        hg = l.t("各网格", "By grid"),
        headg = coverage_head(l, l.t("网格", "Grid")),
        grids = if grids.is_empty() {
            empty(7, none)
        } else {
            grids
        },
        hp = l.t("各采样点", "By testing point"),
        lpt = l.t("采样点", "Point"),
        lpeople = l.t("人数", "People"),
        lswabs = l.t("采样人次", "Swabs"),
        ltubes = l.t("管数", "Tubes"),
        points = if points.is_empty() {
            empty(4, none)
        } else {
            points
        },
        ht = l.t("采样管状态", "Tubes by state"),
        lstate = l.t("状态", "State"),
        tubes = if tubes.is_empty() {
            empty(2, none)
        } else {
            tubes
        },
        lrecon = l.t("交接数据校对", "Hand-off reconciliation"),
        ha = l.t("异常混管与处置", "Abnormal pools"),
        lbar = l.t("管码", "Tube"),
        lret = l.t("待复检人数（整管）", "Retests open (whole tube)"),
        lhh = l.t("临时管控户数", "Households under control"),
        lat = l.t("发现时间", "Found"),
        pools = if pools.is_empty() {
            empty(6, none)
        } else {
            pools
        },
        lretests = l.t("待单管复检（整管）", "Open retests (whole tubes)"),
        ldis = l.t("消杀任务", "Disinfection tasks"),
        lopen = l.t("未完成", "open"),
        ldone = l.t("已完成", "done"),
        foot = l.t(
            "仅含统计数字，不含个人信息。范围为您有权查看的社区和网格；异常混管的待复检人数按整管计（管内可能有您辖区以外的人）。“新增”是开轮后登记或迁入的人，单独统计，括号内为其中未检的人，也算在“未检”里。",
            "Numbers only, no personal data; limited to the communities and grids you may read, except an abnormal pool's open retests, counted for the whole tube (it may hold people outside your area). “Added” are people registered or moved in after the round opened, counted apart; in brackets those not sampled, counted as missed too."
        ),
    );
    Ok((
        format!("{} · {}", round.name, l.t("日报", "daily report")),
        body,
    ))
}

// ----- a building ----------------------------------------------------------------

pub async fn building(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    page: Page,
    Path(id): Path<String>,
) -> Response {
    let r = building_body(&s, &a, page.lang, &id, None).await;
    page.answer(r)
}

/// What the control form sent, kept when it is refused.
#[derive(Default)]
pub(super) struct ControlTyped {
    status: String,
    reason: String,
    until: String,
    error: String,
}

/// The page path of a control target (`buildings`, `households`).
fn control_path(target: ControlTarget) -> &'static str {
    match target {
        ControlTarget::Household => "households",
        _ => "buildings",
    }
}

/// The control status of a building or household: the order in force and
/// the history, and for those who may change the registry there (as `POST
/// /api/v1/control` checks) a form setting a new order.
pub(super) async fn control_section(
    s: &AppState,
    a: &Auth,
    l: Lang,
    target: ControlTarget,
    k: Key,
    typed: Option<&ControlTyped>,
) -> Result<String, WebError> {
    let rows = s.store.control_history(k.street, target, k.id).await?;
    let now = s.clock.now_ms();
    let orders: Vec<ControlOrder> = rows.iter().map(|r| r.order.clone()).collect();
    let current = gw_domain::territory::control_in_force(&orders, now);
    let in_force = match current {
        Some(o) => control_tag(l, Some(o)),
        None => format!(
            r#" <span class="tag" data-control="none">{}</span>"#,
            l.t("无管控", "no control")
        ),
    };
    let mut history = String::new();
    for r in rows.iter().rev() {
        let _ = write!(
            history,
            r#"<tr><td>{st}</td><td>{from}</td><td>{until}</td><td>{reason}</td><td>{by}</td><td>{at}</td></tr>"#,
            st = esc(control_label(l, r.order.status)),
            from = esc(&gw_domain::notify::clock_text(r.order.from_ms)),
            until = r.order.until_ms.map_or_else(
                || l.t("不限期", "no end").to_string(),
                |u| esc(&gw_domain::notify::clock_text(u))
            ),
            reason = esc(&r.reason),
            by = esc(&r.set_by),
            at = esc(&gw_domain::notify::clock_text(r.created_ms)),
        );
    }
    let history = if history.is_empty() {
        format!(
            r#"<p class="muted">{}</p>"#,
            l.t("从未设置过管控。", "Never under control.")
        )
    } else {
        format!(
            r#"<div class="scroll"><table id="control-history"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>{history}</tbody></table></div>"#,
            l.t("状态", "Status"),
            l.t("开始", "From"),
            l.t("结束", "Until"),
            l.t("原因", "Reason"),
            l.t("设置人", "Set by"),
            l.t("设置时间", "Set at"),
        )
    };
    let place = s.store.place_of(k.street, target.code(), k.id).await?;
    let form = if a.principal.can(Action::WriteRegistry, &place, now) {
        let empty = ControlTyped::default();
        let t = typed.unwrap_or(&empty);
        let choices = [
            (
                ControlStatus::Sealed,
                l.t("封控区（入户采样）", "sealed (sampled at the door)"),
            ),
            (
                ControlStatus::Temporary,
                l.t(
                    "临时管控（入户采样）",
                    "temporary control (sampled at the door)",
                ),
            ),
            (ControlStatus::Controlled, l.t("管控区", "controlled area")),
            (
                ControlStatus::Precaution,
                l.t(
                    "解除封控/临时管控：转为防范区",
                    "lift sealing or temporary control: precaution area",
                ),
            ),
        ];
        let options: String = choices
            .iter()
            .map(|(st, label)| {
                format!(
                    r#"<option value="{c}"{sel}>{label}</option>"#,
                    c = st.code(),
                    sel = if t.status == st.code() {
                        " selected"
                    } else {
                        ""
                    },
                    label = esc(label),
                )
            })
            .collect();
        let error = if t.error.is_empty() {
            String::new()
        } else {
            format!(
                r#"<p class="error" role="alert" id="control-error">{}</p>"#,
                esc(&t.error)
            )
        };
        format!(
            r#"{error}<form method="post" action="/{path}/{k}/control" class="stack noprint"><input type="hidden" name="csrf" value="{csrf}">
<label>{ls}<select name="status" required><option value=""{none}>{pick}</option>{options}</select></label>
<label>{lr}<input name="reason" required maxlength="500" value="{reason}" placeholder="{pr}"></label>
<label>{lu}<input type="datetime-local" name="until" value="{until}"></label>
<p class="hint">{hint}</p><button type="submit" class="primary">{b}</button></form>"#,
            path = control_path(target),
            csrf = esc(&a.csrf),
            ls = l.t("新的管控状态（即时生效）", "New control status (in force now)"),
            // Nothing chosen until someone chooses: sealing a building is not a default.
            none = if t.status.is_empty() { " selected" } else { "" },
            pick = l.t("请选择", "Choose"),
            lr = l.t("原因（必填，记入历史）", "Reason (required, kept in the history)"),
            reason = esc(&t.reason),
            pr = l.t("如：密接者居住，街道通知封控", "e.g. a close contact lives here: sealed by the street"),
            lu = l.t("结束时间（北京时间，可不填：不限期）", "Until (China time; empty: no end)"),
            until = esc(&t.until),
            hint = l.t(
                "封控区和临时管控的楼栋或住户不再叫号下楼，改为入户采样；已排的时间表请重新排班。每次设置都记入审计日志。",
                "A sealed or temporarily controlled building or household is no longer called down but sampled at the door; re-plan a stored schedule. Every change is audited."
            ),
            b = l.t("设置管控状态", "Set the control status"),
        )
    } else {
        String::new()
    };
    Ok(format!(
        r#"<section class="card" id="control"><h2>{h}{in_force}</h2>{form}<h3>{hh}</h3>{history}</section>"#,
        h = l.t("管控状态", "Control status"),
        hh = l.t("管控记录", "History"),
    ))
}

/// The building's or household's page again with the control form as typed
/// and what to fix.
async fn control_refused(
    s: &AppState,
    a: &Auth,
    page: &Page,
    target: ControlTarget,
    id: &str,
    typed: &ControlTyped,
) -> Response {
    let r = match target {
        ControlTarget::Household => {
            super::registry::household_body(s, a, page.lang, id, Some(typed)).await
        }
        _ => building_body(s, a, page.lang, id, Some(typed)).await,
    };
    match r {
        Ok((t, b)) => page.render(StatusCode::BAD_REQUEST, &t, &b),
        Err(e) => page.error(e),
    }
}

/// Sets the building's control status from its page (form fields `status`,
/// `reason`, `until`), through the use-case the API uses; back to the
/// building, or the building with what to fix.
pub async fn building_control(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    page: Page,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    set_control(&s, &a, &page, ControlTarget::Building, &id, &body).await
}

/// The same for one household, from its page.
pub async fn household_control(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    page: Page,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    set_control(&s, &a, &page, ControlTarget::Household, &id, &body).await
}

async fn set_control(
    s: &AppState,
    a: &Auth,
    page: &Page,
    target: ControlTarget,
    id: &str,
    body: &[u8],
) -> Response {
    let l = page.lang;
    let k = match parse_key(l, id) {
        Ok(k) => k,
        Err(e) => return page.error(e),
    };
    let f = super::Fields::parse(body);
    let mut typed = ControlTyped {
        status: f.get("status").to_string(),
        reason: f.get("reason").to_string(),
        until: f.get("until").trim().to_string(),
        error: String::new(),
    };
    let status = ControlStatus::from_code(&typed.status);
    let until = if typed.until.is_empty() {
        Ok(None)
    } else {
        gw_domain::date::parse_minute_cst(&typed.until).map(Some)
    };
    let (Some(status), Ok(until_ms)) = (status, until) else {
        // Checked first: who may not set control here learns only that.
        let place = match s.store.place_of(k.street, target.code(), k.id).await {
            Ok(p) => p,
            Err(e) => return page.error(e.into()),
        };
        if !a
            .principal
            .can(Action::WriteRegistry, &place, s.clock.now_ms())
        {
            return page.error(
                gw_app::access::AuthError::Forbidden(
                    "无权设置此处的管控状态 / you may not set the control status here".into(),
                )
                .into(),
            );
        }
        typed.error = if status.is_none() {
            l.t("请选择管控状态。", "Choose a control status.")
                .to_string()
        } else {
            l.t(
                "结束时间无法识别，请用日期时间选择器填写。",
                "The end time is not understood: use the date and time picker.",
            )
            .to_string()
        };
        return control_refused(s, a, page, target, id, &typed).await;
    };
    let ask = gw_app::registry::ControlAsk {
        target,
        key: k,
        status,
        from_ms: None,
        until_ms,
        reason: &typed.reason,
    };
    match gw_app::registry::set_control(&s.store, &s.clock, &a.principal, &ask, &a.address).await {
        Ok(set) => {
            if set.held.messages > 0 {
                s.alerts.wake();
            }
            super::redirect(&format!("/{}/{k}#control", control_path(target)))
        }
        Err(e) => {
            let e: WebError = super::rounds::auth_err(l, e);
            if e.status != StatusCode::BAD_REQUEST {
                return page.error(e);
            }
            typed.error = e.message;
            control_refused(s, a, page, target, id, &typed).await
        }
    }
}

fn control_label(l: Lang, st: ControlStatus) -> &'static str {
    match l {
        Lang::Zh => st.label_zh(),
        Lang::En => match st {
            ControlStatus::Sealed => "sealed area",
            ControlStatus::Controlled => "controlled area",
            ControlStatus::Precaution => "precaution area",
            ControlStatus::Temporary => "temporary control",
        },
    }
}

/// The control status in force and its order: `临时管控 2024-05-01 起，至 2024-05-08`.
fn control_tag(l: Lang, o: Option<&ControlOrder>) -> String {
    let Some(o) = o else {
        return String::new();
    };
    let until = o.until_ms.map_or_else(
        || l.t("不限期", "no end").to_string(),
        |u| format!("{} {}", l.t("至", "until"), date_text(u)),
    );
    format!(
        r#" <span class="tag{bad}" data-control="{code}">{label} · {from} {since}，{until}</span>"#,
        bad = if o.status.door_to_door_only() {
            " bad"
        } else {
            ""
        },
        code = o.status.code(),
        label = esc(control_label(l, o.status)),
        from = esc(&date_text(o.from_ms)),
        since = l.t("起", "on"),
        until = esc(&until),
    )
}

/// Placing the building in one of its community's grids, for those who may
/// (the community's secretary, the street's commander).
async fn assign_form(
    s: &AppState,
    a: &Auth,
    l: Lang,
    k: Key,
    b: &gw_store::registry::BuildingRow,
) -> Result<String, WebError> {
    // Checked where the use-case checks it: the building's community.
    let community = gw_domain::access::Place {
        grid: None,
        ..s.store.place_of(k.street, "building", k.id).await?
    };
    if !a
        .principal
        .can(Action::AssignGrids, &community, s.clock.now_ms())
    {
        return Ok(String::new());
    }
    let options: String = s
        .store
        .grids(None, Some((k.street, b.community_id)))
        .await?
        .iter()
        .map(|g| {
            format!(
                r#"<option value="{v}"{sel}>{n}</option>"#,
                v = Key {
                    street: g.street_id,
                    id: g.id
                },
                sel = if g.id == b.grid_id { " selected" } else { "" },
                n = esc(&g.name),
            )
        })
        .collect();
    Ok(format!(
        r#"<section class="card noprint" id="assign-grid"><form method="post" action="/buildings/{k}/grid" class="stack"><input type="hidden" name="csrf" value="{csrf}"><label>{lg}<select name="grid">{options}</select></label><button type="submit">{sb}</button><p class="hint">{hint}</p></form></section>"#,
        csrf = esc(&a.csrf),
        lg = l.t("所属网格", "Grid"),
        sb = l.t("调整网格", "Move to this grid"),
        hint = l.t(
            "本楼居民随楼栋归入所选网格，由该网格长负责。",
            "The building's residents go with it: the chosen grid's leader looks after them."
        ),
    ))
}

/// Places a building in a grid from its page's form; back to the building.
pub async fn assign_building(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    page: Page,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let l = page.lang;
    let grid = super::Fields::parse(&body).get("grid").to_string();
    let (k, g) = match (parse_key(l, &id), parse_key(l, &grid)) {
        (Ok(k), Ok(g)) => (k, g),
        (Err(e), _) | (_, Err(e)) => return page.error(e),
    };
    match gw_app::registry::assign_building(&s.store, &s.clock, &a.principal, k, g).await {
        Ok(_) => super::redirect(&format!("/buildings/{k}")),
        Err(e) => page.error(e.into()),
    }
}

/// A unit's households by floor (`None`: a room that shows no floor).
type Floors<'a> = BTreeMap<Option<u32>, Vec<&'a gw_store::registry::BuildingHousehold>>;

async fn building_body(
    s: &AppState,
    a: &Auth,
    l: Lang,
    id: &str,
    control: Option<&ControlTyped>,
) -> Result<(String, String), WebError> {
    let k = parse_key(l, id)?;
    let d = gw_app::registry::building(&s.store, &s.clock, &a.principal, k).await?;
    let b = &d.building;
    let ctl = |kind: &str, id: i64| d.controls.get(&(kind.to_string(), id));
    // unit → floor → households
    let mut units: BTreeMap<(String, i64), Floors> = BTreeMap::new();
    for h in &d.households {
        units
            .entry((h.unit.clone(), h.unit_id))
            .or_default()
            .entry(gw_domain::territory::floor_of_room(&h.room))
            .or_default()
            .push(h);
    }
    let mut html = String::new();
    for ((unit, unit_id), floors) in &units {
        let unit_name = if unit.is_empty() {
            l.t("（无单元）", "(no unit)").to_string()
        } else {
            match l {
                Lang::Zh => format!("{unit}单元"),
                Lang::En => format!("Unit {unit}"),
            }
        };
        let mut rows = String::new();
        for (floor, hs) in floors {
            let floor = floor.map_or_else(
                || l.t("其他", "Other").to_string(),
                |f| format!("{f}{}", l.t("层", "F")),
            );
            let mut chips = String::new();
            for h in hs {
                let _ = write!(
                    chips,
                    r#"<a class="chip" href="/households/{hk}">{room} <small>{n}{people}</small></a>{tag}"#,
                    hk = Key {
                        street: k.street,
                        id: h.household_id
                    },
                    room = esc(&h.room),
                    n = h.people,
                    people = l.t("人", " ppl"),
                    tag = control_tag(l, ctl("household", h.household_id)),
                );
            }
            let _ = write!(
                rows,
                r#"<div class="floor"><b>{}</b><div class="chips">{chips}</div></div>"#,
                esc(&floor)
            );
        }
        let members: Vec<gw_store::registry::ResidentRow> = d
            .residents
            .iter()
            .filter(|r| {
                r.household_id.is_some_and(|h| {
                    d.households
                        .iter()
                        .any(|x| x.household_id == h && x.unit_id == *unit_id)
                })
            })
            .cloned()
            .collect();
        let table = if members.is_empty() {
            String::new()
        } else {
            format!(
                r#"<details class="more"><summary>{} {} {}</summary>{}</details>"#,
                l.t("居民", "Residents"),
                members.len(),
                l.t("人（已脱敏）", "(masked)"),
                resident_table(s, a, l, &members, true)
            )
        };
        let _ = write!(
            html,
            r#"<section class="card unit"><h2>{}{}</h2>{rows}{table}</section>"#,
            esc(&unit_name),
            control_tag(l, ctl("unit", *unit_id)),
        );
    }
    if html.is_empty() {
        html = format!(
            r#"<section class="card"><p class="muted">{}</p></section>"#,
            l.t(
                "本楼还没有登记住户。",
                "No households registered in this building yet."
            )
        );
    }
    // Open rounds in the street: who here is still missed, and who to sample at the door.
    let households: BTreeSet<String> = d
        .households
        .iter()
        .map(|h| {
            Key {
                street: k.street,
                id: h.household_id,
            }
            .to_string()
        })
        .collect();
    let full = full_names(s, a);
    let mut rounds_html = String::new();
    for r in s.store.rounds(k.street).await? {
        if r.state != "open" {
            continue;
        }
        let rk = Key {
            street: r.street_id,
            id: r.id,
        };
        let missed =
            gw_app::coverage::missed(&s.store, &s.clock, &a.principal, rk, (Level::Building, k))
                .await?;
        let door = gw_app::testing::door_to_door(
            &s.store,
            &s.clock,
            &a.principal,
            rk,
            Key {
                street: k.street,
                id: b.grid_id,
            },
        )
        .await?;
        let mut door_html = String::new();
        for f in &door {
            // Those not yet sampled: a retest or re-sample due is on the
            // door-to-door list, not among the missed.
            for v in f
                .residents
                .iter()
                .filter(|d| !d.sampled)
                .map(|d| &d.resident)
            {
                if !v.household().is_some_and(|h| households.contains(h)) {
                    continue;
                }
                let name = if full {
                    v.name().to_string()
                } else {
                    gw_domain::mask::name(v.name())
                };
                let _ = write!(
                    door_html,
                    r#"<li class="row2"><span>{}</span><span class="muted">{}</span></li>"#,
                    esc(&name),
                    esc(v.address().unwrap_or("")),
                );
            }
        }
        // The expected first, then those added since the round opened, then
        // those expected elsewhere who live here now.
        let missed: Vec<_> = missed
            .expected
            .into_iter()
            .chain(missed.added)
            .chain(missed.moved_in)
            .collect();
        let missed_html = if missed.is_empty() {
            format!(
                r#"<p class="muted">{}</p>"#,
                l.t(
                    "本楼应检人员均已采样或免检。",
                    "Everyone expected here is sampled or exempt."
                )
            )
        } else {
            format!(
                r#"<details class="more"><summary>{}</summary>{}</details>"#,
                l.t("未检名单（已脱敏）", "Who is missed (masked)"),
                resident_table(s, a, l, &missed, true)
            )
        };
        let door_html = if door_html.is_empty() {
            String::new()
        } else {
            format!(
                r#"<h3>{}</h3><ul class="list" id="door-to-door">{door_html}</ul>"#,
                l.t(
                    "需上门采样（行动不便或封控）",
                    "To sample at the door (cannot go down, or sealed)"
                )
            )
        };
        let _ = write!(
            rounds_html,
            r#"<section class="card alerts" id="missed-{rk}"><h2><a href="/rounds/{rk}">{name}</a> · {h} <span class="tag bad">{n}</span></h2>{missed_html}{door_html}</section>"#,
            name = esc(&r.name),
            h = l.t("本楼未检", "missed in this building"),
            n = missed.len(),
        );
    }
    let unassigned_tag = if b.grid_unassigned {
        format!(
            r#" <span class="tag bad">{}</span>"#,
            l.t("未分配网格", "in no grid yet")
        )
    } else {
        String::new()
    };
    let body = format!(
        r#"<p><a href="/grids/{gk}">← {community} · {grid}</a></p><h1>{compound} {name}{btag}{ctag}</h1>
<section class="stats"><div><b id="bldg-units">{nu}</b><span>{lu}</span></div><div><b id="bldg-households">{nh}</b><span>{lh}</span></div><div><b id="bldg-residents">{nr}</b><span>{lr}</span></div></section>
<p class="actions"><a class="button" href="/buildings/{k}/codes">{codes}</a></p>
{assign}{control}{rounds_html}{html}<p class="hint">{hint}</p>"#,
        assign = assign_form(s, a, l, k, b).await?,
        control = control_section(s, a, l, ControlTarget::Building, k, control).await?,
        codes = l.t(
            "打印整栋楼个人码（每户一页）",
            "Print the building's personal codes (a sheet per household)"
        ),
        gk = Key {
            street: k.street,
            id: b.grid_id
        },
        community = esc(&b.community),
        grid = esc(&b.grid),
        compound = esc(&b.compound),
        name = esc(&b.name),
        btag = unassigned_tag + &control_tag(l, ctl("building", b.id)),
        ctag = control_tag(l, ctl("compound", b.compound_id)),
        nu = units.len(),
        lu = l.t("单元", "Units"),
        nh = d.households.len(),
        lh = l.t("户", "Households"),
        nr = d.residents.len(),
        lr = l.t("居民", "Residents"),
        hint = l.t(
            "点门牌查看住户成员和个人码；证件号和电话已脱敏。",
            "Open a room for its members and codes; document numbers and phones are masked."
        ),
    );
    Ok((format!("{} {}", b.compound, b.name), body))
}
