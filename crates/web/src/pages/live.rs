//! The live command picture of a round: coverage, swabs per point over time and
//! open alerts, pushed as server-sent events and drawn as SVG on the server
//! (the page's script only swaps numbers and pictures in).

use std::convert::Infallible;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use gw_app::access::Principal;
use gw_domain::ids::Key;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{parse_key, Lang, Page};
use crate::{html_escape as esc, AppState, Auth, WebError};

/// How often the picture is sent again.
pub const TICK: Duration = Duration::from_secs(2);
/// A stream ends after this; the browser reconnects (and is authenticated again).
pub const STREAM_LIFE: Duration = Duration::from_secs(3600);
const BUCKET_MS: i64 = 10 * 60_000;
const BUCKETS: i64 = 12;
const COLORS: [&str; 8] = [
    "#0b57d0", "#b3261e", "#1e8e3e", "#b06000", "#8e24aa", "#00838f", "#5f6b76", "#d81b60",
];

pub async fn live(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    page: Page,
    Path(id): Path<String>,
) -> Response {
    let l = page.lang;
    let snap = match parse_key(l, &id) {
        Ok(k) => snapshot(&s, &a.principal, l, k).await.map(|v| (k, v)),
        Err(e) => Err(e),
    };
    let (k, v) = match snap {
        Ok(x) => x,
        Err(e) => return page.error(e),
    };
    let body = format!(
        r#"<div class="live" data-events="/rounds/{k}/events"><h1>{name} <span id="live-state" class="tag open">{live}</span></h1>
<section class="stats big"><div><b id="live-expected">{e}</b><span>{le}</span></div><div><b id="live-sampled">{sa}</b><span>{ls}</span></div><div><b id="live-missed" class="warn">{m}</b><span>{lm}</span></div><div><b id="live-added_missed" class="warn">{am}</b><span>{lam}</span></div><div><b id="live-coverage">{pc}%</b><span>{lp}</span></div><div><b id="live-alerts" class="warn">{al}</b><span>{la}</span></div></section>
<div class="charts"><section class="card"><h2>{th}</h2><div id="chart-time">{svg_time}</div><div id="legend-time">{legend_time}</div></section>
<section class="card"><h2>{gh}</h2><div id="chart-grids">{svg_grids}</div></section></div>
<p class="hint"><a href="/rounds/{k}">{back}</a> · <a href="/rounds/{k}/alerts">{la}</a> · <span id="live-at">{at}</span></p></div>
<script>(function(){{var d=document.querySelector('.live'),es=new EventSource(d.dataset.events);
es.addEventListener('snapshot',function(m){{var v=JSON.parse(m.data);['expected','sampled','missed','added_missed','alerts'].forEach(function(k){{document.getElementById('live-'+k).textContent=v[k];}});
document.getElementById('live-coverage').textContent=v.coverage+'%';document.getElementById('chart-time').innerHTML=v.svg_time;document.getElementById('legend-time').innerHTML=v.legend_time;document.getElementById('chart-grids').innerHTML=v.svg_grids;
document.getElementById('live-at').textContent=v.at;document.getElementById('live-state').className='tag open';}});
es.onerror=function(){{document.getElementById('live-state').className='tag';}};}})();</script>"#,
        name = esc(v["name"].as_str().unwrap_or("")),
        live = l.t("实时", "live"),
        e = v["expected"],
        sa = v["sampled"],
        m = v["missed"],
        am = v["added_missed"],
        lam = l.t("其中新增未检", "Of them added"),
        pc = v["coverage"],
        al = v["alerts"],
        le = l.t("应检", "Expected"),
        ls = l.t("已检", "Sampled"),
        lm = l.t("未检", "Missed"),
        lp = l.t("覆盖率", "Coverage"),
        la = l.t("异常管", "Abnormal pools"),
        th = l.t(
            "各采样点每10分钟采样人次",
            "Swabs per point, every 10 minutes"
        ),
        gh = l.t("各网格覆盖率", "Coverage by grid"),
        svg_time = v["svg_time"].as_str().unwrap_or(""),
        legend_time = v["legend_time"].as_str().unwrap_or(""),
        svg_grids = v["svg_grids"].as_str().unwrap_or(""),
        back = l.t("覆盖情况表", "Coverage table"),
        at = esc(v["at"].as_str().unwrap_or("")),
    );
    page.render(StatusCode::OK, l.t("指挥大屏", "Command picture"), &body)
}

#[derive(Debug, Deserialize)]
pub struct EventsQuery {
    /// One picture, then the stream ends (for tools and tests).
    pub once: Option<u8>,
}

pub async fn events(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    page: Page,
    Path(id): Path<String>,
    Query(q): Query<EventsQuery>,
) -> Response {
    let l = page.lang;
    let k = match parse_key(l, &id) {
        Ok(k) => k,
        Err(e) => return page.error(e),
    };
    // Refused before the stream starts, as a page.
    if let Err(e) = snapshot(&s, &a.principal, l, k).await {
        return page.error(e);
    }
    let once = q.once.unwrap_or(0) == 1;
    let started = Instant::now();
    let principal = a.principal.clone();
    let stream = futures_util::stream::unfold(
        (s, principal, 0u64),
        move |(s, p, n): (AppState, Arc<Principal>, u64)| async move {
            if n > 0 {
                if once || started.elapsed() > STREAM_LIFE {
                    return None;
                }
                tokio::time::sleep(TICK).await;
            }
            let ev = match snapshot(&s, &p, l, k).await {
                Ok(v) => Event::default().event("snapshot").data(v.to_string()),
                // A refusal or a database hiccup ends this stream; the browser retries.
                Err(_) => return None,
            };
            Some((Ok::<Event, Infallible>(ev), (s, p, n + 1)))
        },
    );
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// The picture: counts, the two charts as SVG, the time.
async fn snapshot(s: &AppState, p: &Principal, l: Lang, k: Key) -> Result<Value, WebError> {
    let rows = gw_app::coverage::grid_rows(&s.store, &s.clock, p, k).await?;
    let round = s.store.round(k.street, k.id).await?;
    let now = s.clock.now_ms();
    let t = gw_app::coverage::grid_totals(&rows);
    let (e, sa, x) = (t.expected, t.sampled, t.exempt);
    // 未检 as the round's page and its coverage pages count it.
    let total = t.outstanding();
    // Alerts that are cases (a withdrawn one, a corrected result, is not).
    let alerts = gw_app::testing::alerts(&s.store, &s.clock, p, k)
        .await?
        .iter()
        .filter(|a| a.state != "withdrawn")
        .count();
    // Grid names, with their community's when the round spans several
    // (every community has its 第1网格).
    let mut names = std::collections::HashMap::new();
    let mut communities: Vec<&str> = rows.iter().map(|r| r.community.as_str()).collect();
    communities.sort_unstable();
    communities.dedup();
    let community_names: std::collections::HashMap<i64, String> = s
        .store
        .communities(None, Some(k.street))
        .await?
        .into_iter()
        .map(|c| (c.id, c.name))
        .collect();
    let several = communities.len() > 1;
    for c in communities {
        if let Ok(ck) = c.parse::<Key>() {
            for g in s.store.grids(None, Some((ck.street, ck.id))).await? {
                let name = match community_names.get(&ck.id) {
                    Some(cn) if several => format!("{cn} {}", g.name),
                    _ => g.name,
                };
                names.insert(
                    Key {
                        street: g.street_id,
                        id: g.id,
                    }
                    .to_string(),
                    name,
                );
            }
        }
    }
    let grids: Vec<(String, i64)> = rows
        .iter()
        .map(|r| {
            (
                names
                    .get(&r.grid)
                    .cloned()
                    .unwrap_or_else(|| r.grid.clone()),
                r.outstanding().percent(),
            )
        })
        .collect();
    // The points in communities the reader sees grids of, and their swabs over time.
    let mut points = Vec::new();
    for (pt, _) in s.store.points_with_counts(k.street, k.id).await? {
        let community = Key {
            street: pt.street_id,
            id: pt.community_id,
        }
        .to_string();
        if rows.iter().any(|r| r.community == community) {
            points.push((pt.id, pt.name));
        }
    }
    let swabs = s.store.swabs_over_time(k.street, k.id, BUCKET_MS).await?;
    let last = now.div_euclid(BUCKET_MS);
    let first = first_bucket(
        round.starts_ms,
        swabs.iter().map(|(_, b, _)| *b).min(),
        last,
    );
    let mut series: Vec<Vec<i64>> = vec![vec![0; BUCKETS as usize]; points.len()];
    for (point, b, n) in swabs {
        if let (Some(i), true) = (
            points.iter().position(|(id, _)| *id == point),
            (first..=last).contains(&b),
        ) {
            series[i][(b - first) as usize] = n;
        }
    }
    // Buckets drawn: up to now (the axis runs on past it while the round is
    // younger than the chart; none before a round that has not started).
    let drawn = (last - first + 1).clamp(0, BUCKETS) as usize;
    Ok(json!({
        "name": round.name,
        "expected": e,
        "sampled": sa,
        "exempt": x,
        // Everyone missed, those added since the opening and not swabbed
        // included; of them, the added.
        "missed": total.missed(),
        "added_missed": total.added_missed(),
        "coverage": total.percent(),
        "alerts": alerts,
        "svg_time": time_chart(l, &points, &series, first, drawn),
        "legend_time": legend(&points),
        "svg_grids": grid_chart(l, &grids),
        "at": format!("{} {}", l.t("更新于", "updated"), clock_text(now)),
    }))
}

fn clock_text(ms: i64) -> String {
    // China time, hours and minutes.
    let m = (ms + 8 * 3_600_000).rem_euclid(86_400_000) / 60_000;
    format!(
        "{:02}:{:02}:{:02}",
        m / 60,
        m % 60,
        (ms / 1000).rem_euclid(60)
    )
}

/// The chart's first bucket: the round's start, or its first swab when one
/// came before it (a station that began early), never an empty hour before
/// either; once the round is older than the chart, the last [`BUCKETS`] up to
/// now.
fn first_bucket(starts_ms: i64, first_swab: Option<i64>, last: i64) -> i64 {
    let start = starts_ms.div_euclid(BUCKET_MS);
    let start = first_swab.map_or(start, |b| b.min(start));
    start.max(last - BUCKETS + 1)
}

/// A point's line: its colour and, past the eighth point, a dash, so the
/// ninth is not taken for the first.
fn line_style(i: usize) -> (&'static str, &'static str) {
    const DASHES: [&str; 4] = ["", "9 5", "2 4", "9 4 2 4"];
    (
        COLORS[i % COLORS.len()],
        DASHES[(i / COLORS.len()) % DASHES.len()],
    )
}

fn dash_attr(dash: &str) -> String {
    if dash.is_empty() {
        String::new()
    } else {
        format!(r#" stroke-dasharray="{dash}""#)
    }
}

/// Swabs per point and 10-minute bucket from `first`: one line per point,
/// drawn over the first `drawn` buckets (up to now), its newest value a dot
/// (a round's first minutes are one bucket, no line yet). The key is
/// [`legend`], outside the picture, so it covers no line.
fn time_chart(
    l: Lang,
    points: &[(i64, String)],
    series: &[Vec<i64>],
    first: i64,
    drawn: usize,
) -> String {
    let (w, h, left, bottom, top) = (480.0, 220.0, 30.0, 24.0, 10.0);
    let max = series.iter().flatten().copied().max().unwrap_or(0).max(1) as f64;
    let n = BUCKETS as f64;
    let x = |i: usize| left + (w - left - 10.0) * (i as f64) / (n - 1.0);
    let y = |v: i64| top + (h - top - bottom) * (1.0 - v as f64 / max);
    let mut svg = format!(
        r#"<svg viewBox="0 0 {w} {h}" role="img" aria-label="{}" class="chart">"#,
        l.t("各采样点采样人次", "swabs per point")
    );
    for t in [0.0, 0.5, 1.0] {
        let v = (max * t).round() as i64;
        let _ = write!(
            svg,
            r##"<line x1="{left}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#e3e7eb"/><text x="{}" y="{:.1}" font-size="13" text-anchor="end" fill="#5f6b76">{v}</text>"##,
            w - 10.0,
            left - 4.0,
            y(v) + 4.0,
            y = y(v)
        );
    }
    for i in (0..BUCKETS as usize).step_by(3) {
        let _ = write!(
            svg,
            r##"<text x="{:.1}" y="{}" font-size="13" text-anchor="middle" fill="#5f6b76">{}</text>"##,
            x(i),
            h - 8.0,
            &clock_text((first + i as i64) * BUCKET_MS)[..5]
        );
    }
    for (i, ((_, name), data)) in points.iter().zip(series).enumerate() {
        let Some(newest) = data.get(..drawn).and_then(|d| d.last()) else {
            continue;
        };
        let (color, dash) = line_style(i);
        let pts: Vec<String> = data[..drawn]
            .iter()
            .enumerate()
            .map(|(j, v)| format!("{:.1},{:.1}", x(j), y(*v)))
            .collect();
        let _ = write!(
            svg,
            r#"<polyline fill="none" stroke="{color}" stroke-width="3" stroke-linejoin="round"{} points="{}"><title>{name}</title></polyline><circle cx="{:.1}" cy="{:.1}" r="3.5" fill="{color}"><title>{name}</title></circle>"#,
            dash_attr(dash),
            pts.join(" "),
            x(drawn - 1),
            y(*newest),
            name = esc(name),
        );
    }
    svg.push_str("</svg>");
    svg
}

/// The time chart's key, under the picture rather than over its lines: a
/// list that wraps (on a phone, a line or several beneath the chart).
fn legend(points: &[(i64, String)]) -> String {
    if points.is_empty() {
        return String::new();
    }
    let mut out = String::from(r#"<ul class="legend">"#);
    for (i, (_, name)) in points.iter().enumerate() {
        let (color, dash) = line_style(i);
        let _ = write!(
            out,
            r#"<li><svg viewBox="0 0 28 10" class="swatch" aria-hidden="true"><line x1="1" y1="5" x2="27" y2="5" stroke="{color}" stroke-width="3"{}/></svg>{}</li>"#,
            dash_attr(dash),
            esc(name)
        );
    }
    out.push_str("</ul>");
    out
}

/// Coverage per grid: one bar per grid.
fn grid_chart(l: Lang, grids: &[(String, i64)]) -> String {
    let row = 28.0;
    let (w, label) = (480.0, 150.0);
    let h = row * grids.len().max(1) as f64 + 8.0;
    let mut svg = format!(
        r#"<svg viewBox="0 0 {w} {h}" role="img" aria-label="{}" class="chart">"#,
        l.t("各网格覆盖率", "coverage by grid")
    );
    for (i, (name, pc)) in grids.iter().enumerate() {
        let y = 4.0 + row * i as f64;
        let bw = (w - label - 60.0) * (*pc as f64) / 100.0;
        let color = if *pc >= 100 {
            "#1e8e3e"
        } else if *pc >= 80 {
            "#0b57d0"
        } else {
            "#b06000"
        };
        let _ = write!(
            svg,
            r##"<text x="{:.1}" y="{:.1}" font-size="15" text-anchor="end">{}</text><rect x="{label}" y="{y:.1}" width="{:.1}" height="20" fill="#e3e7eb"/><rect x="{label}" y="{y:.1}" width="{bw:.1}" height="20" fill="{color}"/><text x="{:.1}" y="{:.1}" font-size="15">{pc}%</text>"##,
            label - 6.0,
            y + 15.0,
            esc(name),
            w - label - 60.0,
            label + (w - label - 60.0) + 6.0,
            y + 15.0,
        );
    }
    svg.push_str("</svg>");
    svg
}
