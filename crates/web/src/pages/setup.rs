//! Setting up a round from the browser alone: the new-round form, the round's
//! next state, adding testing points, supplies issued to a point and
//! exemptions from the missed list. Thin over the same `gw_app` use-cases as
//! the API routes (`POST /api/v1/rounds`, `/state`, `/points`,
//! `/api/v1/points/{id}/supplies`, `/exemptions`).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Extension;
use gw_app::access::AuthError;
use gw_app::handoff::{NewSupply, SupplyView};
use gw_domain::access::{Action, Place};
use gw_domain::date::parse_minute_cst;
use gw_domain::ids::Key;
use gw_domain::notify::clock_text;
use gw_domain::testing::{EXEMPTION_REASONS, POOL_SIZES, ROUND_STATES};
use gw_store::testing::RoundRow;

use super::registry::pick;
use super::rounds::auth_err;
use super::{parse_key, point_place, redirect, state_label, Fields, Lang, Page};
use crate::{html_escape as esc, AppState, Auth, WebError};

/// A `datetime-local` value (`2026-11-23T06:00`) of a moment, in China time.
fn local_input(ms: i64) -> String {
    clock_text(ms).replacen(' ', "T", 1)
}

fn error_html(error: &str) -> String {
    if error.is_empty() {
        String::new()
    } else {
        format!(
            r#"<p class="error" role="alert" id="form-error">{}</p>"#,
            esc(error)
        )
    }
}

fn selected(on: bool) -> &'static str {
    if on {
        " selected"
    } else {
        ""
    }
}

/// A button to the new-round form, for the home page of those who may use it.
pub(super) fn new_round_link(l: Lang) -> String {
    format!(
        r#"<p class="actions"><a class="button primary" id="new-round" href="/rounds/new">{}</a></p>"#,
        l.t("新建检测轮次", "Set up a testing round")
    )
}

// ----- a new round -----------------------------------------------------------------

#[derive(Default)]
struct RoundForm {
    name: String,
    street: String,
    communities: Vec<String>,
    starts: String,
    ends: String,
    pool: String,
    /// An earlier round (STREET-ID) whose points to carry over; empty: none.
    points_from: String,
}

/// The new-round form's choice of an earlier round whose points (and their
/// staff's grants) the new round takes over: each street's rounds, newest
/// first, cancelled ones left out; "none" first and by default.
async fn carry_choice(
    s: &AppState,
    l: Lang,
    streets: &[(
        gw_store::registry::StreetRow,
        Vec<gw_store::registry::CommunityRow>,
    )],
    chosen: &str,
) -> Result<String, WebError> {
    let mut options = format!(
        r#"<option value=""{}>{}</option>"#,
        selected(chosen.is_empty()),
        l.t(
            "不沿用：新轮次不带采样点",
            "none: the round starts with no points"
        )
    );
    for (st, _) in streets {
        let mut group = String::new();
        for r in s
            .store
            .rounds(st.id)
            .await?
            .into_iter()
            .filter(|r| r.state != "cancelled")
            .take(20)
        {
            let k = Key {
                street: r.street_id,
                id: r.id,
            }
            .to_string();
            let (zh, en) = gw_domain::testing::round_state_words(&r.state);
            group.push_str(&format!(
                r#"<option value="{k}"{}>{} · {} · {}</option>"#,
                selected(chosen == k),
                esc(&r.name),
                esc(&k),
                esc(l.t(zh, en))
            ));
        }
        if !group.is_empty() {
            options.push_str(&format!(
                r#"<optgroup label="{}">{group}</optgroup>"#,
                esc(&st.name)
            ));
        }
    }
    Ok(format!(
        r#"<label>{}<select name="points_from" id="points-from">{options}</select></label><p class="hint">{}</p>"#,
        l.t("沿用上一轮的采样点", "Carry the points of an earlier round"),
        l.t(
            "同名、同地点、同工作台数和速率，开放时间顺延到新轮次的日期；原采样点的志愿者和采样点负责人获得新采样点的同样授权（记入审计）；物资不沿用，须重新发放。",
            "Same names, places, stations and rates, the hours moved to the new round's day; the old points' volunteers and point managers get the same grant at the new points (audited); supplies are not carried: issue them anew."
        )
    ))
}

/// The street's pool-size advice (Dorfman, from its earlier rounds' abnormal
/// rate, capped at what its lab accepts) with its basis and the saving, as
/// `GET /api/v1/streets/{id}/pool-advice` gives it.
pub(super) fn advice_html(
    l: Lang,
    v: &gw_app::testing::PoolAdviceView,
    street: &str,
    id: &str,
) -> String {
    let basis = match l {
        Lang::Zh => format!(
            "依据最近 {} 轮的 {} 管（{} 人次）",
            v.rounds.len(),
            v.tubes_seen,
            v.swabs_seen
        ),
        Lang::En => format!(
            "from the last {} round(s): {} tubes ({} swabs)",
            v.rounds.len(),
            v.tubes_seen,
            v.swabs_seen
        ),
    };
    let text = match (&v.advice, v.prevalence) {
        (Some(a), Some(p)) => match l {
            Lang::Zh => format!(
                "建议 <b data-advice=\"{k}\">{k} 混 1</b>：{basis}，异常率约 {rate:.3}%；比单采节省约 {save:.0}% 的检测（每人 {tpp:.3} 次检测）。实验室上限 {max} 混 1。",
                k = a.pool_size,
                rate = p * 100.0,
                save = a.saving * 100.0,
                tpp = a.tests_per_person,
                max = v.lab_max,
            ),
            Lang::En => format!(
                "Advised: <b data-advice=\"{k}\">{k} per tube</b>, {basis}, abnormal rate about {rate:.3}%; about {save:.0}% fewer tests than one tube each ({tpp:.3} tests per person). The lab takes at most {max} per tube.",
                k = a.pool_size,
                rate = p * 100.0,
                save = a.saving * 100.0,
                tpp = a.tests_per_person,
                max = v.lab_max,
            ),
        },
        _ => match l {
            Lang::Zh => format!(
                "暂无建议：以往轮次的结果不足 {} 人次（{basis}）。实验室上限 {} 混 1。",
                gw_domain::testing::MIN_SWABS_FOR_ADVICE,
                v.lab_max
            ),
            Lang::En => format!(
                "No advice yet: earlier rounds' results cover fewer than {} swabs ({basis}). The lab takes at most {} per tube.",
                gw_domain::testing::MIN_SWABS_FOR_ADVICE,
                v.lab_max
            ),
        },
    };
    format!(
        r#"<p class="hint pool-advice" id="pool-advice-{id}">{label}{street}：{text}</p>"#,
        label = l.t("混采建议 · ", "Pool advice · "),
        street = esc(street),
    )
}

/// The streets where the caller may set up rounds, with their communities.
async fn round_streets(
    s: &AppState,
    a: &Auth,
) -> Result<
    Vec<(
        gw_store::registry::StreetRow,
        Vec<gw_store::registry::CommunityRow>,
    )>,
    WebError,
> {
    let now = s.clock.now_ms();
    let mut out = Vec::new();
    for st in s.store.streets().await? {
        let place = s.store.place_of(st.id, "street", st.id).await?;
        if a.principal.can(Action::ManageRounds, &place, now) {
            let communities = s.store.communities(None, Some(st.id)).await?;
            out.push((st, communities));
        }
    }
    Ok(out)
}

async fn round_form_page(
    s: &AppState,
    a: &Auth,
    page: &Page,
    status: StatusCode,
    f: &RoundForm,
    error: &str,
) -> Response {
    let l = page.lang;
    let streets = match round_streets(s, a).await {
        Ok(v) => v,
        Err(e) => return page.error(e),
    };
    let title = l.t("新建检测轮次", "Set up a testing round");
    if streets.is_empty() {
        let body = format!(
            r#"<h1>{title}</h1><section class="card"><p>{}</p></section>"#,
            l.t(
                "您没有可以组织检测轮次的街道：轮次须由街道或以上的授权创建。",
                "You have no street to set up rounds in: a round needs a grant on a street or above."
            )
        );
        return page.render(status, title, &body);
    }
    let street_field = if let [(st, _)] = streets.as_slice() {
        format!(
            r#"<input type="hidden" name="street" value="{}"><p>{} <b>{}</b></p>"#,
            st.id,
            l.t("街道：", "Street:"),
            esc(&st.name)
        )
    } else {
        let options: String = streets
            .iter()
            .map(|(st, _)| {
                format!(
                    r#"<option value="{}"{}>{}</option>"#,
                    st.id,
                    selected(f.street == st.id.to_string()),
                    esc(&st.name)
                )
            })
            .collect();
        format!(
            r#"<label>{}<select name="street" required>{options}</select></label>"#,
            l.t("街道", "Street")
        )
    };
    let several = streets.len() > 1;
    // Each street's advice; the pool size defaults to the chosen (or only,
    // or first) street's advised size when there is one.
    let chosen = streets
        .iter()
        .position(|(st, _)| f.street == st.id.to_string())
        .unwrap_or(0);
    let mut advice = String::new();
    let mut advised = None;
    // The largest pool any of the streets' labs accepts: larger sizes are
    // not offered (the round would be refused).
    let mut lab_max = 0;
    for (i, (st, _)) in streets.iter().enumerate() {
        let v = match gw_app::testing::pool_advice(&s.store, &s.clock, &a.principal, st.id, None)
            .await
        {
            Ok(v) => v,
            Err(e) => return page.error(e.into()),
        };
        if i == chosen {
            advised = v.advice.as_ref().map(|x| x.pool_size);
        }
        lab_max = lab_max.max(v.lab_max);
        advice.push_str(&advice_html(l, &v, &st.name, &st.id.to_string()));
    }
    let mut checks = String::new();
    for (st, communities) in &streets {
        if several {
            checks.push_str(&format!(r#"<p class="muted">{}</p>"#, esc(&st.name)));
        }
        for c in communities {
            let k = Key {
                street: c.street_id,
                id: c.id,
            }
            .to_string();
            checks.push_str(&format!(
                r#"<label><input type="checkbox" name="community" value="{k}"{}> {}</label>"#,
                if f.communities.contains(&k) {
                    " checked"
                } else {
                    ""
                },
                esc(&c.name)
            ));
        }
    }
    let carry = match carry_choice(s, l, &streets, &f.points_from).await {
        Ok(c) => c,
        Err(e) => return page.error(e),
    };
    let offered: Vec<u32> = POOL_SIZES
        .iter()
        .copied()
        .filter(|p| *p <= lab_max.max(1))
        .collect();
    // Ten to a tube when there is no advice, or the largest accepted below it.
    let default = advised.unwrap_or_else(|| {
        offered
            .iter()
            .copied()
            .filter(|p| *p <= 10)
            .max()
            .unwrap_or(1)
    });
    let pool: String = offered
        .iter()
        .map(|p| {
            let v = p.to_string();
            // The size the form came back with, if it is still offered.
            let on = if offered.iter().any(|o| o.to_string() == f.pool) {
                f.pool == v
            } else {
                *p == default
            };
            format!(
                r#"<option value="{v}"{}>{}</option>"#,
                selected(on),
                match (l, p) {
                    (Lang::Zh, 1) => "1（单采）".to_string(),
                    (Lang::En, 1) => "1 (single)".to_string(),
                    (Lang::Zh, _) => format!("{p} 混 1"),
                    (Lang::En, _) => format!("{p} per tube"),
                }
            )
        })
        .collect();
    let body = format!(
        r#"<p><a href="/">← {home}</a></p><h1>{title}</h1><section class="card">{err}
<form method="post" action="/rounds/new" class="stack" id="round-form"><input type="hidden" name="csrf" value="{csrf}">
<label>{ln}<input name="name" required maxlength="60" value="{name}" placeholder="{lnp}"></label>
{street_field}
<fieldset class="checks"><legend>{lc}</legend>{checks}</fieldset>
<label>{ls}<input type="datetime-local" name="starts" required value="{starts}"></label>
<label>{le}<input type="datetime-local" name="ends" required value="{ends}"></label>
<label>{lp}<select name="pool">{pool}</select></label>{advice}
{carry}
<button class="primary" type="submit">{b}</button></form>
<p class="hint">{hint}</p></section>"#,
        home = l.t("首页", "Home"),
        err = error_html(error),
        csrf = esc(&a.csrf),
        ln = l.t("轮次名称", "Name"),
        name = esc(&f.name),
        lnp = l.t("例如：第3轮全员核酸", "e.g. round 3, everyone"),
        lc = l.t(
            "范围：勾选社区；都不勾选即全街道",
            "Communities covered: none ticked means the whole street"
        ),
        ls = l.t("开始时间（北京时间）", "Starts (China time)"),
        starts = esc(&f.starts),
        le = l.t("结束时间（北京时间）", "Ends (China time)"),
        ends = esc(&f.ends),
        lp = l.t("混采（每管人数）", "Pooling (people per tube)"),
        b = l.t("创建轮次（计划中）", "Create the round (planned)"),
        hint = l.t(
            "创建后轮次为“计划中”：在轮次页面添加采样点，准备好后点“开始采样”，届时锁定应检人员名单。",
            "A new round is planned: add its testing points on the round page, then open it, which fixes who is expected."
        ),
    );
    page.render(status, title, &body)
}

pub async fn round_form(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    page: Page,
) -> Response {
    // By default: from the next full hour, for twelve hours.
    let starts = (s.clock.now_ms() / 3_600_000 + 1) * 3_600_000;
    let f = RoundForm {
        starts: local_input(starts),
        ends: local_input(starts + 12 * 3_600_000),
        ..RoundForm::default()
    };
    round_form_page(&s, &a, &page, StatusCode::OK, &f, "").await
}

pub async fn round_create(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    page: Page,
    body: Bytes,
) -> Response {
    let l = page.lang;
    let fields = Fields::parse(&body);
    let f = RoundForm {
        name: fields.get("name").to_string(),
        street: fields.get("street").to_string(),
        communities: fields.all("community"),
        starts: fields.get("starts").to_string(),
        ends: fields.get("ends").to_string(),
        pool: fields.get("pool").to_string(),
        points_from: fields.get("points_from").to_string(),
    };
    let again = |msg: &str| {
        let msg = msg.to_string();
        let (s, a, page, f) = (&s, &a, &page, &f);
        async move { round_form_page(s, a, page, StatusCode::BAD_REQUEST, f, &msg).await }
    };
    if f.name.is_empty() {
        return again(l.t("请填写轮次名称。", "Give the round a name.")).await;
    }
    let Ok(street) = f.street.parse::<i64>() else {
        return again(l.t("请选择街道。", "Choose the street.")).await;
    };
    let bad_time = l.t(
        "时间无效：请按“年-月-日 时:分”（北京时间）填写开始和结束时间。",
        "A time is not valid: give the start and the end as year-month-day hour:minute (China time).",
    );
    let (Ok(starts_ms), Ok(ends_ms)) = (parse_minute_cst(&f.starts), parse_minute_cst(&f.ends))
    else {
        return again(bad_time).await;
    };
    if ends_ms <= starts_ms {
        return again(l.t(
            "结束时间须晚于开始时间，请改正。",
            "The end must be after the start: correct it.",
        ))
        .await;
    }
    let pool_size = match f.pool.parse::<u32>() {
        Ok(p) if POOL_SIZES.contains(&p) => p,
        _ => {
            return again(l.t(
                "混采数只能是 1、5、10 或 20。",
                "Pooling must be 1, 5, 10 or 20.",
            ))
            .await
        }
    };
    let Ok(communities) = f
        .communities
        .iter()
        .map(|c| c.parse::<Key>())
        .collect::<Result<Vec<_>, _>>()
    else {
        return again(l.t(
            "社区选择无效，请重新勾选。",
            "A community ticked is not valid: tick them again.",
        ))
        .await;
    };
    let points_from = if f.points_from.is_empty() {
        None
    } else {
        match f.points_from.parse::<Key>() {
            Ok(k) => Some(k),
            Err(_) => {
                return again(l.t(
                    "沿用的轮次无效，请重新选择。",
                    "The round to carry points from is not valid: choose it again.",
                ))
                .await
            }
        }
    };
    match gw_app::testing::create_round_carrying(
        &s.store,
        &s.clock,
        &a.principal,
        &gw_app::testing::NewRound {
            street,
            name: &f.name,
            starts_ms,
            ends_ms,
            pool_size,
            communities,
        },
        points_from,
    )
    .await
    {
        Ok(made) => match made.carried {
            None => redirect(&format!("/rounds/{}", made.id)),
            // What was carried is said once, here, with the way on.
            Some(c) => carried_page(&page, l, &f.name, &made.id.to_string(), &c),
        },
        Err(AuthError::Invalid(m)) => again(&pick(l, &m)).await,
        Err(e) => page.error(e.into()),
    }
}

/// The answer to a round created with an earlier round's points: what was
/// carried (points, grants by role, supplies not), and the round's page.
fn carried_page(
    page: &Page,
    l: Lang,
    name: &str,
    round: &str,
    c: &gw_app::testing::CarriedView,
) -> Response {
    let title = l.t("轮次已创建", "Round created");
    let rows: String = c
        .points
        .iter()
        .map(|p| {
            format!(
                r#"<tr><td>{}</td><td>{}</td><td>{}</td><td class="num">{}</td></tr>"#,
                esc(&p.name),
                esc(&p.id),
                esc(&p.from),
                p.grants
            )
        })
        .collect();
    let said = match l {
        Lang::Zh => format!(
            "已沿用「{}」（{}）的 {} 个采样点，开放时间顺延 {} 天；为 {} 项授权重新授权（志愿者 {}，采样点负责人 {}），已记入审计日志。物资未沿用：请为各采样点重新发放。{}",
            c.from_name,
            c.from,
            c.points.len(),
            c.days,
            c.grants,
            c.volunteers,
            c.point_managers,
            if c.left_behind.is_empty() {
                String::new()
            } else {
                format!("另有 {} 个采样点不在本轮社区内，未沿用。", c.left_behind.len())
            }
        ),
        Lang::En => format!(
            "Carried {} point(s) of {} ({}), hours moved {} day(s); {} grant(s) given again ({} volunteer, {} point manager), in the audit log. Supplies are not carried: issue them to each point anew.{}",
            c.points.len(),
            c.from_name,
            c.from,
            c.days,
            c.grants,
            c.volunteers,
            c.point_managers,
            if c.left_behind.is_empty() {
                String::new()
            } else {
                format!(" {} point(s) outside the round's communities were left.", c.left_behind.len())
            }
        ),
    };
    let body = format!(
        r#"<h1>{title}</h1><section class="card" id="carried"><p><b>{name}</b></p><p class="notice">{said}</p>
<table><thead><tr><th>{h1}</th><th>{h2}</th><th>{h3}</th><th>{h4}</th></tr></thead><tbody>{rows}</tbody></table>
<p><a class="button primary" href="/rounds/{round}">{go}</a></p></section>"#,
        name = esc(name),
        said = esc(&said),
        h1 = l.t("采样点", "Point"),
        h2 = l.t("新编号", "New id"),
        h3 = l.t("原采样点", "From"),
        h4 = l.t("授权", "Grants"),
        round = esc(round),
        go = l.t("打开轮次页面", "Open the round's page"),
    );
    page.render(StatusCode::OK, title, &body)
}

// ----- the round page: next state, add a point ----------------------------------------

/// What a refused point form held, and why it was refused.
#[derive(Default)]
pub(super) struct PointForm {
    name: String,
    community: String,
    compound: String,
    x: String,
    y: String,
    opens: String,
    closes: String,
    stations: String,
    rate: String,
    error: String,
}

/// The next step of a round and its button, with the question asked first.
fn next_step(l: Lang, state: &str) -> Option<(&'static str, &'static str, &'static str)> {
    let i = ROUND_STATES.iter().position(|s| *s == state)?;
    let to = *ROUND_STATES.get(i + 1)?;
    let (button, confirm) = match to {
        "open" => (
            l.t("开始采样", "Open: start sampling"),
            l.t(
                "开始采样后将锁定应检人员名单，确定吗？",
                "Opening fixes who is expected. Open the round?",
            ),
        ),
        "sampling_closed" => (
            l.t("结束采样", "Close sampling"),
            l.t(
                "结束采样后再扫码会被标记为异常，确定吗？",
                "Swabs after this are flagged. Close sampling?",
            ),
        ),
        "results_complete" => (
            l.t("标记结果已齐", "Mark results complete"),
            l.t(
                "确定本轮检测结果已全部收到吗？",
                "Have all of the round's results arrived?",
            ),
        ),
        _ => (
            l.t("结束本轮", "Close the round"),
            l.t("确定结束本轮吗？", "Close the round?"),
        ),
    };
    Some((to, button, confirm))
}

/// For those who manage the round: its next state and the form adding a
/// point (with what a refused form held). Empty for everyone else.
pub(super) async fn round_tools(
    s: &AppState,
    a: &Auth,
    l: Lang,
    round: &RoundRow,
    refused: Option<&PointForm>,
    missed: i64,
) -> Result<String, WebError> {
    let place = s
        .store
        .place_of(round.street_id, "street", round.street_id)
        .await?;
    let now = s.clock.now_ms();
    // The round's managers run it; a community's secretary adds her
    // community's points (the form offers those communities only).
    let manager = a.principal.can(Action::ManageRounds, &place, now);
    let covered = s.store.round_communities(round.street_id, round.id).await?;
    let mut communities = Vec::new();
    for c in s.store.communities(None, Some(round.street_id)).await? {
        if !covered.is_empty() && !covered.contains(&c.id) {
            continue;
        }
        let at = s.store.place_of(c.street_id, "community", c.id).await?;
        if a.principal.can(Action::ManagePoints, &at, now) {
            communities.push(c);
        }
    }
    if !manager && (communities.is_empty() || gw_domain::testing::round_settled(&round.state)) {
        return Ok(String::new());
    }
    let k = Key {
        street: round.street_id,
        id: round.id,
    };
    let csrf = esc(&a.csrf);
    let state = match next_step(l, &round.state) {
        Some((to, button, confirm)) => format!(
            r#"<form method="post" action="/rounds/{k}/state" id="state-form" onsubmit="return confirm(this.dataset.q)" data-q="{q}"><input type="hidden" name="csrf" value="{csrf}"><input type="hidden" name="to" value="{to}"><button class="primary" type="submit">{b}</button></form>"#,
            // Ending sampling or the round while people are missed: say how many.
            q = esc(
                &if missed > 0 && matches!(to, "sampling_closed" | "closed") {
                    match l {
                        Lang::Zh => format!("仍有 {missed} 人未检（不含免检）。{confirm}"),
                        Lang::En => format!(
                            "{missed} people are still missed (exempt ones aside). {confirm}"
                        ),
                    }
                } else {
                    confirm.to_string()
                }
            ),
            b = esc(button),
        ),
        None if round.state == gw_domain::testing::CANCELLED => format!(
            r#"<p class="muted">{}</p>"#,
            l.t("本轮已取消。", "This round was cancelled.")
        ),
        None => format!(
            r#"<p class="muted">{}</p>"#,
            l.t("本轮已结束。", "This round is closed.")
        ),
    };
    // A planned round made by mistake (or twice) is called off, not left
    // "planned" on everyone's home page for ever.
    let state = if round.state == "planned" {
        format!(
            r#"{state}<form method="post" action="/rounds/{k}/state" id="cancel-form" onsubmit="return confirm(this.dataset.q)" data-q="{q}"><input type="hidden" name="csrf" value="{csrf}"><input type="hidden" name="to" value="{to}"><button type="submit">{b}</button></form>"#,
            to = gw_domain::testing::CANCELLED,
            q = esc(l.t(
                "取消本轮？取消后不能再开始采样。",
                "Cancel this round? It can never open after that."
            )),
            b = esc(l.t("取消本轮", "Cancel this round")),
        )
    } else {
        state
    };
    let steps: Vec<String> = ROUND_STATES
        .iter()
        .map(|st| {
            let label = esc(state_label(l, st));
            if *st == round.state {
                format!("<b>{label}</b>")
            } else {
                label
            }
        })
        .collect();
    if gw_domain::testing::round_settled(&round.state) {
        // A closed round's points are its record (a cancelled one's never
        // began): no form to add one.
        return Ok(format!(
            r#"<section class="card" id="round-state"><h2>{}</h2><p>{}</p>{state}</section>"#,
            l.t("轮次状态", "Round state"),
            steps.join(" → ")
        ));
    }
    // The pooling chosen beside the street's advice (from its earlier
    // rounds' results), for the round's managers.
    let advice = if manager {
        Some(
            gw_app::testing::pool_advice(&s.store, &s.clock, &a.principal, round.street_id, None)
                .await
                .map_err(WebError::from)?,
        )
    } else {
        None
    };
    let street_name = s
        .store
        .streets()
        .await?
        .into_iter()
        .find(|st| st.id == round.street_id)
        .map(|st| st.name)
        .unwrap_or_default();
    let pooling = format!(
        r#"<p id="round-pool">{} <b>{}</b></p>{}"#,
        l.t("本轮混采：", "This round pools:"),
        match l {
            Lang::Zh => format!("{} 混 1", round.pool_size),
            Lang::En => format!("{} per tube", round.pool_size),
        },
        advice.as_ref().map_or(String::new(), |v| advice_html(
            l,
            v,
            &street_name,
            &round.street_id.to_string()
        )),
    );
    let state = format!("{pooling}{state}");
    let empty = PointForm::default();
    let f = refused.unwrap_or(&empty);
    // The communities of the round's territory (all of the street's when it
    // covers the whole street) the reader may add points in: a point
    // elsewhere is refused.
    let community_options: String = communities
        .iter()
        .map(|c| {
            let v = Key {
                street: c.street_id,
                id: c.id,
            }
            .to_string();
            format!(
                r#"<option value="{v}"{}>{}</option>"#,
                selected(f.community == v),
                esc(&c.name)
            )
        })
        .collect();
    let mut compound_options = format!(
        r#"<option value="">{}</option>"#,
        l.t(
            "在小区外（服务所有小区）",
            "Outside any compound (serves all)"
        )
    );
    let mut open_group: Option<i64> = None;
    for (community, id, name) in s.store.street_compounds(round.street_id).await? {
        if !communities.iter().any(|c| c.id == community) {
            continue;
        }
        if open_group != Some(community) {
            if open_group.is_some() {
                compound_options.push_str("</optgroup>");
            }
            let cname = communities
                .iter()
                .find(|c| c.id == community)
                .map_or("", |c| c.name.as_str());
            compound_options.push_str(&format!(r#"<optgroup label="{}">"#, esc(cname)));
            open_group = Some(community);
        }
        let v = Key {
            street: round.street_id,
            id,
        }
        .to_string();
        compound_options.push_str(&format!(
            r#"<option value="{v}"{}>{}</option>"#,
            selected(f.compound == v),
            esc(&name)
        ));
    }
    if open_group.is_some() {
        compound_options.push_str("</optgroup>");
    }
    let stations = if f.stations.is_empty() {
        "2"
    } else {
        f.stations.as_str()
    };
    let round_state = if manager {
        format!(
            r#"<section class="card" id="round-state"><h2>{}</h2><p>{}</p>{state}</section>"#,
            l.t("轮次状态", "Round state"),
            steps.join(" → ")
        )
    } else {
        String::new()
    };
    Ok(format!(
        r#"{round_state}
<section class="card" id="add-point"><h2>{ph}</h2>{err}<form method="post" action="/rounds/{k}/points" class="stack"><input type="hidden" name="csrf" value="{csrf}">
<label>{ln}<input name="name" required maxlength="60" value="{name}" placeholder="{lnp}"></label>
<label>{lc}<select name="community" required>{community_options}</select></label>
<label>{lcp}<select name="compound">{compound_options}</select></label>
<label>{lst}<input name="stations" inputmode="numeric" value="{stations}"></label>
<label>{lr}<input name="rate" inputmode="numeric" value="{rate}" placeholder="100"></label>
<label>{lo}<input type="datetime-local" name="opens" value="{opens}"></label>
<label>{lcl}<input type="datetime-local" name="closes" value="{closes}"></label>
<label>{lx}<input name="x" type="number" step="1" value="{x}"></label>
<label>{ly}<input name="y" type="number" step="1" value="{y}"></label>
<p class="hint">{hint}</p>
<button class="primary" type="submit">{b}</button></form></section>"#,
        ph = l.t("添加采样点", "Add a testing point"),
        err = error_html(&f.error),
        ln = l.t("采样点名称", "Point name"),
        name = esc(&f.name),
        lnp = l.t("例如：东风小区北门", "e.g. north gate"),
        lc = l.t("所在社区", "Community"),
        lcp = l.t("位置", "Where"),
        lst = l.t("采样台数（1–50）", "Stations (1–50)"),
        stations = esc(stations),
        lr = l.t(
            "每台每小时采样人数（不填为 100）",
            "People per station per hour (default 100)"
        ),
        rate = esc(&f.rate),
        lo = l.t("开放时间（不填为本轮开始）", "Opens (default: the round's start)"),
        opens = esc(&f.opens),
        lcl = l.t("关闭时间（不填为本轮结束）", "Closes (default: the round's end)"),
        closes = esc(&f.closes),
        lx = l.t("位置：向东（米，可不填）", "Position east (metres, optional)"),
        x = esc(&f.x),
        ly = l.t("位置：向北（米，可不填）", "Position north (metres, optional)"),
        y = esc(&f.y),
        hint = esc(&match l {
            Lang::Zh => format!(
                "本轮时间：{} 至 {}（北京时间）。位置是距街道原点的米数，用于排班时就近安排楼栋。",
                clock_text(round.starts_ms),
                clock_text(round.ends_ms)
            ),
            Lang::En => format!(
                "The round runs {} to {} (China time). The position, in metres from the street's origin, lets the schedule send buildings to a point near them.",
                clock_text(round.starts_ms),
                clock_text(round.ends_ms)
            ),
        }),
        b = l.t("添加采样点", "Add the point"),
    ))
}

pub async fn round_state(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    page: Page,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let l = page.lang;
    let round = match parse_key(l, &id) {
        Ok(k) => k,
        Err(e) => return page.error(e),
    };
    let fields = Fields::parse(&body);
    let to = fields.get("to");
    match gw_app::testing::advance_round(&s.store, &s.clock, &a.principal, round, to).await {
        // The round's page says what the move leaves unsettled.
        Ok(state) => redirect(&format!("/rounds/{round}?moved={state}#moved")),
        Err(e) => page.error(auth_err(l, e)),
    }
}

pub async fn point_create(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    page: Page,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let l = page.lang;
    let round = match parse_key(l, &id) {
        Ok(k) => k,
        Err(e) => return page.error(e),
    };
    let fields = Fields::parse(&body);
    let mut f = PointForm {
        name: fields.get("name").to_string(),
        community: fields.get("community").to_string(),
        compound: fields.get("compound").to_string(),
        x: fields.get("x").to_string(),
        y: fields.get("y").to_string(),
        opens: fields.get("opens").to_string(),
        closes: fields.get("closes").to_string(),
        stations: fields.get("stations").to_string(),
        rate: fields.get("rate").to_string(),
        error: String::new(),
    };
    f.error = match point_fields(l, &f) {
        Err(msg) => msg,
        Ok((community, stations, schedule)) => match gw_app::schedule::add_point(
            &s.store,
            &s.clock,
            &a.principal,
            round,
            &f.name,
            community,
            stations,
            schedule,
        )
        .await
        {
            Ok(_) => return redirect(&format!("/rounds/{round}#points")),
            Err(AuthError::Invalid(m)) => pick(l, &m),
            Err(e) => return page.error(e.into()),
        },
    };
    match super::coverage_body(&s, &a, &page, &id, Some(&f)).await {
        Ok((title, body)) => page.render(StatusCode::BAD_REQUEST, &title, &body),
        Err(e) => page.error(e),
    }
}

/// The point form read and checked: what to fix, in the reader's language.
fn point_fields(
    l: Lang,
    f: &PointForm,
) -> Result<(Key, u32, gw_app::schedule::PointSchedule), String> {
    let fail = |zh: &str, en: &str| Err(l.t(zh, en).to_string());
    if f.name.is_empty() {
        return fail("请填写采样点名称。", "Give the point a name.");
    }
    let Ok(community) = f.community.parse::<Key>() else {
        return fail("请选择采样点所在社区。", "Choose the point's community.");
    };
    let compound = if f.compound.is_empty() {
        None
    } else {
        match f.compound.parse::<Key>() {
            Ok(k) => Some(k),
            Err(_) => {
                return fail(
                    "位置（小区）选择无效。",
                    "The compound chosen is not valid.",
                )
            }
        }
    };
    let stations = form_stations(l, &f.stations)?.unwrap_or(2);
    let rate = form_rate(l, &f.rate)?;
    let pos = match (f.x.is_empty(), f.y.is_empty()) {
        (true, true) => None,
        (false, false) => match (f.x.parse::<i32>(), f.y.parse::<i32>()) {
            (Ok(x), Ok(y)) => Some((x, y)),
            _ => return fail("位置须为整数米数。", "The position must be whole metres."),
        },
        _ => {
            return fail(
                "位置须同时填写向东、向北两个数，或都不填。",
                "Give both position numbers (east and north), or neither.",
            )
        }
    };
    let opens_ms = form_time(l, &f.opens)?;
    let closes_ms = form_time(l, &f.closes)?;
    Ok((
        community,
        stations,
        gw_app::schedule::PointSchedule {
            compound,
            // A new point with no compound stands outside.
            outside: false,
            pos,
            opens_ms,
            closes_ms,
            rate_per_station_h: rate,
        },
    ))
}

/// A point form's stations (1–50; empty: `None`), or what to fix.
fn form_stations(l: Lang, v: &str) -> Result<Option<u32>, String> {
    form_number(
        v,
        1..=50,
        l.t(
            "采样台数须为 1 到 50 之间的整数。",
            "Stations must be a whole number from 1 to 50.",
        ),
    )
}

/// A point form's people per station per hour (1–2000; empty: `None`).
fn form_rate(l: Lang, v: &str) -> Result<Option<u32>, String> {
    form_number(
        v,
        1..=2000,
        l.t(
            "每台每小时采样人数须为 1 到 2000 之间的整数。",
            "People per station per hour must be a whole number from 1 to 2000.",
        ),
    )
}

/// A whole number typed into a form: empty is `None`; not one, or outside
/// `range`, is `fix`.
fn form_number(
    v: &str,
    range: std::ops::RangeInclusive<u32>,
    fix: &str,
) -> Result<Option<u32>, String> {
    let v = v.trim();
    if v.is_empty() {
        return Ok(None);
    }
    match v.parse::<u32>() {
        Ok(n) if range.contains(&n) => Ok(Some(n)),
        _ => Err(fix.to_string()),
    }
}

/// An opening or closing time typed into a point form (`datetime-local`,
/// China time): empty is `None`.
fn form_time(l: Lang, v: &str) -> Result<Option<i64>, String> {
    let v = v.trim();
    if v.is_empty() {
        return Ok(None);
    }
    parse_minute_cst(v).map(Some).map_err(|_| {
        l.t(
            "开放或关闭时间无效：请按“年-月-日 时:分”（北京时间）填写，或不填。",
            "An opening or closing time is not valid: give year-month-day hour:minute (China time), or leave it empty.",
        )
        .to_string()
    })
}

// ----- a running point changed ------------------------------------------------------------

/// The form that changes a running point (its name, stations, hours and
/// rate), filled with what stands, for the round's managers while the round
/// is not closed; `error`: what to fix from the last try.
pub(super) async fn point_change_section(
    s: &AppState,
    a: &Auth,
    l: Lang,
    k: Key,
    round: &RoundRow,
    error: Option<&str>,
) -> Result<String, WebError> {
    let pt = s.store.point(k.street, k.id).await?;
    let community = s
        .store
        .place_of(k.street, "community", pt.community_id)
        .await?;
    if gw_domain::testing::round_settled(&round.state)
        || !a
            .principal
            .can(Action::ManagePoints, &community, s.clock.now_ms())
    {
        return Ok(String::new());
    }
    let Some(p) = s
        .store
        .schedule_points(k.street, round.id)
        .await?
        .into_iter()
        .find(|p| p.id == k.id)
    else {
        return Ok(String::new());
    };
    let rk = Key {
        street: k.street,
        id: round.id,
    };
    Ok(format!(
        r#"<section class="card noprint" id="change-point"><h2>{h}</h2>{err}<form method="post" action="/points/{k}/change" class="stack"><input type="hidden" name="csrf" value="{csrf}">
<label>{ln}<input name="name" required maxlength="60" value="{name}"></label>
<label>{lst}<input name="stations" type="number" min="1" max="50" value="{stations}"></label>
<label>{lr}<input name="rate" type="number" min="1" max="2000" value="{rate}"></label>
<label>{lo}<input type="datetime-local" name="opens" value="{opens}"></label>
<label>{lc}<input type="datetime-local" name="closes" value="{closes}"></label>
<button class="primary" type="submit" id="change-point-submit">{b}</button></form>
<p class="hint">{hint} <a href="/rounds/{rk}/schedule">{ls}</a></p></section>"#,
        h = l.t("调整采样点", "Change this point"),
        err = error_html(error.unwrap_or("")),
        csrf = esc(&a.csrf),
        ln = l.t("名称", "Name"),
        name = esc(&p.name),
        lst = l.t("采样台数（1–50）", "Sampling stations (1–50)"),
        stations = p.stations,
        lr = l.t("每台每小时采样人数", "People per station per hour"),
        rate = p.rate_per_station_h,
        lo = l.t("开放时间（北京时间）", "Opens (China time)"),
        opens = p.opens_ms.map(local_input).unwrap_or_default(),
        lc = l.t("关闭时间（北京时间）", "Closes (China time)"),
        closes = p.closes_ms.map(local_input).unwrap_or_default(),
        b = l.t("保存", "Save"),
        hint = l.t(
            "采样点慢了就加台或延长时间，然后重新排班：",
            "A point running slow gets more stations or longer hours; then plan again:",
        ),
        ls = l.t("排班与叫号", "schedule and call-downs"),
    ))
}

/// What the point page says of its change form's last post.
pub(super) enum PointChange<'a> {
    /// Refused: what to fix, at the form.
    Refused(&'a str),
    /// Saved, with the warnings of hours leaving out a pushed call-down.
    Warned(&'a [String]),
}

/// Changes a running point from its page's form; back to the point, or the
/// page again with what to fix.
pub async fn point_change(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    page: Page,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let l = page.lang;
    let k = match parse_key(l, &id) {
        Ok(k) => k,
        Err(e) => return page.error(e),
    };
    let f = Fields::parse(&body);
    let read = || -> Result<_, String> {
        Ok((
            form_stations(l, f.get("stations"))?,
            form_rate(l, f.get("rate"))?,
            form_time(l, f.get("opens"))?,
            form_time(l, f.get("closes"))?,
        ))
    };
    let outcome: Result<(), String> = match read() {
        Err(msg) => Err(msg),
        Ok((stations, rate, opens_ms, closes_ms)) => {
            let d = gw_app::schedule::PointSchedule {
                opens_ms,
                closes_ms,
                rate_per_station_h: rate,
                ..Default::default()
            };
            match gw_app::schedule::change_point(
                &s.store,
                &s.clock,
                &a.principal,
                k,
                stations,
                Some(f.get("name")),
                d,
            )
            .await
            {
                Ok(done) if done.warnings.is_empty() => {
                    return redirect(&format!("/points/{k}#change-point"))
                }
                // Saved, but the new hours leave out call-downs already
                // pushed: the page again, the warning on top (a redirect
                // would drop it).
                Ok(done) => {
                    return match super::point_body(
                        &s,
                        &a,
                        &page,
                        &id,
                        None,
                        None,
                        Some(PointChange::Warned(&done.warnings)),
                    )
                    .await
                    {
                        Ok((title, body)) => page.render(StatusCode::OK, &title, &body),
                        Err(e) => page.error(e),
                    }
                }
                Err(AuthError::Invalid(m))
                | Err(AuthError::Store(gw_store::StoreError::Conflict(m))) => Err(pick(l, &m)),
                Err(e) => return page.error(auth_err(l, e)),
            }
        }
    };
    let error = outcome.err().unwrap_or_default();
    match super::point_body(
        &s,
        &a,
        &page,
        &id,
        None,
        None,
        Some(PointChange::Refused(&error)),
    )
    .await
    {
        Ok((title, body)) => page.render(StatusCode::BAD_REQUEST, &title, &body),
        Err(e) => page.error(e),
    }
}

// ----- supplies at a point -------------------------------------------------------------

/// What a refused supplies form held.
#[derive(Default)]
pub(super) struct SupplyForm {
    kind: String,
    first: String,
    last: String,
    batch: String,
    quantity: String,
    received_by: String,
}

/// The answer to a supplies form: what was issued, or what to fix.
pub(super) enum SupplyOutcome {
    Issued(SupplyView),
    Refused(SupplyForm, String),
}

fn supply_label(l: Lang, code: &str) -> &'static str {
    match code {
        "tubes" => l.t("采样管", "tubes"),
        "kits" => l.t("采样试剂盒", "swab kits"),
        "protective_gear" => l.t("防护用品", "protective gear"),
        _ => "",
    }
}

fn supply_what(v: &SupplyView) -> String {
    match (&v.first_barcode, &v.last_barcode, &v.batch) {
        (Some(f), Some(t), _) => format!("{f} – {t}"),
        (_, _, Some(b)) => b.clone(),
        _ => String::new(),
    }
}

/// How many opened tubes outside every issue the point's page names.
const NOT_ISSUED_SHOWN: usize = 20;

/// Per kind, what was issued to the point and, for tubes, how many were
/// opened there against it: 「采样管：发放 500 支，已用 137 支，余 363 支」,
/// marked when few are left, and the tubes opened there that no issue covers.
fn supply_use_html(l: Lang, u: &gw_app::handoff::PointSupplies, items: &[SupplyView]) -> String {
    use gw_domain::handoff::SupplyKind;
    let mut rows = String::new();
    for k in SupplyKind::ALL {
        let code = k.code();
        let issued = u.issued.get(code).copied().unwrap_or(0);
        let is_tubes = k == SupplyKind::Tubes;
        if issued == 0 && !(is_tubes && u.tubes_opened > 0) {
            continue;
        }
        let unit = match k {
            SupplyKind::Tubes => "支",
            SupplyKind::Kits => "份",
            SupplyKind::ProtectiveGear => "件",
        };
        let mut text = if issued > 0 {
            match l {
                Lang::Zh => format!("发放 {issued} {unit}"),
                Lang::En => format!("issued {issued}"),
            }
        } else {
            l.t("未登记发放", "none issued").to_string()
        };
        let mut tag = String::new();
        if is_tubes {
            // What is left of the issued stock: the tubes opened from it
            // (one that no issue covers came from elsewhere).
            let used = u.tubes_opened;
            let outside = u.not_issued.len() as i64;
            let left = issued - (used - outside);
            text.push_str(&match (l, outside) {
                (Lang::Zh, 0) => format!("，已用 {used} 支"),
                (Lang::En, 0) => format!(", {used} opened"),
                (Lang::Zh, n) => format!("，已用 {used} 支（{n} 支不在发放范围内）"),
                (Lang::En, n) => format!(", {used} opened ({n} outside the issues)"),
            });
            if issued > 0 && left >= 0 {
                text.push_str(&match l {
                    Lang::Zh => format!("，余 {left} 支"),
                    Lang::En => format!(", {left} left"),
                });
            }
            if issued > 0 && left < 0 {
                tag = format!(
                    r#" <span class="tag warn" id="tubes-over">{}</span>"#,
                    l.t(
                        "已用超过发放数，请补登发放",
                        "more opened than issued: record the issue"
                    )
                );
            } else if issued > 0 && left * 5 <= issued {
                tag = format!(
                    r#" <span class="tag warn" id="tubes-low">{}</span>"#,
                    l.t("余量不足，请申请补发", "running low: ask for more")
                );
            }
        }
        let ranges: Vec<String> = items
            .iter()
            .filter(|v| v.kind == code)
            .map(|v| match (&v.first_barcode, &v.batch) {
                (None, Some(b)) => format!("{}{b}", l.t("批次 ", "batch ")),
                _ => supply_what(v),
            })
            .filter(|w| !w.is_empty())
            .collect();
        let ranges = if ranges.is_empty() {
            String::new()
        } else {
            format!(
                r#"<br><span class="muted">{}</span>"#,
                esc(&ranges.join(l.t("；", "; ")))
            )
        };
        rows.push_str(&format!(
            r#"<li id="use-{code}"><b>{}</b>{}{tag}{ranges}</li>"#,
            esc(supply_label(l, code)),
            l.t("：", ": ").to_string() + &esc(&text),
        ));
    }
    if !u.not_issued.is_empty() {
        let n = u.not_issued.len();
        let shown: Vec<&str> = u
            .not_issued
            .iter()
            .take(NOT_ISSUED_SHOWN)
            .map(String::as_str)
            .collect();
        let more = if n > NOT_ISSUED_SHOWN { " …" } else { "" };
        rows.push_str(&format!(
            r#"<li class="warn" id="tubes-not-issued">{}{}{more}</li>"#,
            esc(&match l {
                Lang::Zh => format!("已用的采样管中有 {n} 支不在发放给本点的条码段或批次内："),
                Lang::En => format!(
                    "{n} tubes opened here are in no range or batch issued to this point: "
                ),
            }),
            esc(&shown.join(l.t("、", ", "))),
        ));
    }
    if rows.is_empty() {
        return String::new();
    }
    format!(r#"<ul class="list" id="supply-use">{rows}</ul>"#)
}

/// The supplies issued to a point and, for those who may while its round
/// is not closed, the form issuing more.
pub(super) async fn supplies_section(
    s: &AppState,
    a: &Auth,
    l: Lang,
    point: Key,
    place: &Place,
    round: &RoundRow,
    outcome: Option<&SupplyOutcome>,
) -> Result<String, WebError> {
    let now = s.clock.now_ms();
    let mut out = String::new();
    let notice = match outcome {
        Some(SupplyOutcome::Issued(v)) => format!(
            r#"<p class="notice" id="supply-issued">{} {} {} {}</p>"#,
            l.t("已发放：", "Issued:"),
            esc(supply_label(l, &v.kind)),
            v.quantity,
            esc(&supply_what(v))
        ),
        Some(SupplyOutcome::Refused(_, msg)) => error_html(msg),
        None => String::new(),
    };
    if a.principal.can(Action::ReadLogistics, place, now) {
        let items = gw_app::handoff::supplies(&s.store, &s.clock, &a.principal, point).await?;
        let rows: String = items
            .iter()
            .map(|v| {
                format!(
                    r#"<tr><td>{}</td><td class="n">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
                    esc(supply_label(l, &v.kind)),
                    v.quantity,
                    esc(&supply_what(v)),
                    esc(&v.received_by),
                    esc(&clock_text(v.issued_ms)),
                )
            })
            .collect();
        let list = if items.is_empty() {
            format!(
                r#"<p class="muted">{}</p>"#,
                l.t("尚未发放物资。", "Nothing issued yet.")
            )
        } else {
            format!(
                r#"<div class="scroll"><table id="supplies"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>{rows}</tbody></table></div>"#,
                l.t("物资", "Kind"),
                l.t("数量", "Quantity"),
                l.t("条码段或批次", "Range or batch"),
                l.t("接收人", "Received by"),
                l.t("发放时间", "Issued"),
            )
        };
        let usage =
            gw_app::handoff::point_supplies(&s.store, &s.clock, &a.principal, point).await?;
        out.push_str(&supply_use_html(l, &usage, &items));
        out.push_str(&list);
    }
    if a.principal.can(Action::IssueSupplies, place, now)
        && gw_domain::testing::round_settled(&round.state)
    {
        out.push_str(&format!(
            r#"<p class="muted" id="supplies-closed">{}</p>"#,
            l.t(
                "本轮已结束或已取消，不再发放物资。",
                "The round is closed or cancelled: no more supplies are issued."
            )
        ));
    } else if a.principal.can(Action::IssueSupplies, place, now) {
        let empty = SupplyForm::default();
        let f = match outcome {
            Some(SupplyOutcome::Refused(f, _)) => f,
            _ => &empty,
        };
        let kinds: String = gw_domain::handoff::SupplyKind::ALL
            .iter()
            .map(|k| {
                format!(
                    r#"<option value="{}"{}>{}</option>"#,
                    k.code(),
                    selected(f.kind == k.code()),
                    esc(supply_label(l, k.code()))
                )
            })
            .collect();
        out.push_str(&format!(
            r#"<form method="post" action="/points/{point}/supplies" class="stack" id="supply-form"><input type="hidden" name="csrf" value="{csrf}">
<label>{lk}<select name="kind">{kinds}</select></label>
<p class="hint">{hint}</p>
<label>{lf}<input name="first_barcode" value="{first}" autocomplete="off"></label>
<label>{ll}<input name="last_barcode" value="{last}" autocomplete="off"></label>
<label>{lb}<input name="batch" value="{batch}" autocomplete="off"></label>
<label>{lq}<input name="quantity" inputmode="numeric" value="{quantity}"></label>
<label>{lr}<input name="received_by" maxlength="40" value="{received}"></label>
<button class="primary" type="submit">{b}</button></form>"#,
            csrf = esc(&a.csrf),
            lk = l.t("物资", "Kind"),
            hint = l.t(
                "采样管按条码段（首、尾条码，数量可不填）或按批次号加数量发放；试剂盒和防护用品只填数量。",
                "Tubes go by barcode range (first and last; the quantity optional) or by batch with its quantity; kits and protective gear by quantity only."
            ),
            lf = l.t("首条码", "First barcode"),
            first = esc(&f.first),
            ll = l.t("尾条码", "Last barcode"),
            last = esc(&f.last),
            lb = l.t("或：批次号", "Or: batch"),
            batch = esc(&f.batch),
            lq = l.t("数量", "Quantity"),
            quantity = esc(&f.quantity),
            lr = l.t("接收人（可不填）", "Received by (optional)"),
            received = esc(&f.received_by),
            b = l.t("登记发放", "Record the issue"),
        ));
    }
    if out.is_empty() {
        return Ok(String::new());
    }
    Ok(format!(
        r#"<section class="card" id="point-supplies"><h2>{}</h2>{notice}{out}</section>"#,
        l.t("物资发放", "Supplies")
    ))
}

pub async fn supplies_issue(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    page: Page,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let l = page.lang;
    let point = match parse_key(l, &id) {
        Ok(k) => k,
        Err(e) => return page.error(e),
    };
    // The caller's access to the point first; the form after.
    let allowed = async {
        let pt = s.store.point(point.street, point.id).await?;
        let place = point_place(&s, &pt).await?;
        gw_app::access::authorize(&a.principal, &s.clock, Action::IssueSupplies, &place)?;
        Ok::<_, WebError>(())
    };
    if let Err(e) = allowed.await {
        return page.error(e);
    }
    let fields = Fields::parse(&body);
    let f = SupplyForm {
        kind: fields.get("kind").to_string(),
        first: fields.get("first_barcode").to_string(),
        last: fields.get("last_barcode").to_string(),
        batch: fields.get("batch").to_string(),
        quantity: fields.get("quantity").to_string(),
        received_by: fields.get("received_by").to_string(),
    };
    let outcome = match supply_issue(&s, &a, l, point, &f).await {
        Ok(Ok(v)) => SupplyOutcome::Issued(v),
        Ok(Err(msg)) => SupplyOutcome::Refused(f, msg),
        Err(e) => return page.error(e),
    };
    let status = match outcome {
        SupplyOutcome::Issued(_) => StatusCode::CREATED,
        SupplyOutcome::Refused(..) => StatusCode::BAD_REQUEST,
    };
    match super::point_body(&s, &a, &page, &id, None, Some(&outcome), None).await {
        Ok((title, body)) => page.render(status, &title, &body),
        Err(e) => page.error(e),
    }
}

/// Issues what the form says: the issue, what to fix, or an error page's error.
async fn supply_issue(
    s: &AppState,
    a: &Auth,
    l: Lang,
    point: Key,
    f: &SupplyForm,
) -> Result<Result<SupplyView, String>, WebError> {
    let range = match (f.first.is_empty(), f.last.is_empty()) {
        (true, true) => None,
        (false, false) => Some((f.first.as_str(), f.last.as_str())),
        _ => {
            return Ok(Err(l
                .t(
                    "条码段须同时填写首条码和尾条码。",
                    "A barcode range needs both the first and the last barcode.",
                )
                .to_string()))
        }
    };
    let quantity = if f.quantity.is_empty() {
        None
    } else {
        match f.quantity.parse::<u64>() {
            Ok(q) => Some(q),
            Err(_) => {
                return Ok(Err(l
                    .t("数量须为正整数。", "The quantity must be a whole number.")
                    .to_string()))
            }
        }
    };
    let batch = (!f.batch.is_empty()).then_some(f.batch.as_str());
    match gw_app::handoff::issue_supplies(
        &s.store,
        &s.clock,
        &a.principal,
        point,
        &NewSupply {
            kind: &f.kind,
            quantity,
            range,
            batch,
            received_by: &f.received_by,
        },
    )
    .await
    {
        Ok(v) => Ok(Ok(v)),
        Err(AuthError::Invalid(m)) => Ok(Err(pick(l, &m))),
        Err(e) => Err(e.into()),
    }
}

// ----- exemptions from the missed list ----------------------------------------------------

fn reason_label(l: Lang, reason: &str) -> &'static str {
    match reason {
        "away" => l.t("不在本市", "away from the city"),
        "in_hospital" => l.t("住院", "in hospital"),
        "isolated_tested_there" => l.t("已隔离并在隔离点检测", "isolated and tested there"),
        "deceased" => l.t("已故", "deceased"),
        _ => "",
    }
}

/// The exemption form over one page of a missed list: `people` are
/// (resident id, what the list shows of them). Empty for those who may not,
/// and once the round is closed (its exemptions no longer change).
pub(super) fn exempt_form(
    s: &AppState,
    a: &Auth,
    l: Lang,
    r: &RoundRow,
    grid: Key,
    people: &[(String, String)],
) -> String {
    let round = Key {
        street: r.street_id,
        id: r.id,
    };
    if people.is_empty()
        || gw_domain::testing::round_settled(&r.state)
        || !a
            .principal
            .can_somewhere(Action::WriteRegistry, s.clock.now_ms())
    {
        return String::new();
    }
    let residents: String = people
        .iter()
        .map(|(id, shown)| format!(r#"<option value="{}">{}</option>"#, esc(id), esc(shown)))
        .collect();
    let reasons: String = EXEMPTION_REASONS
        .iter()
        .map(|r| {
            format!(
                r#"<option value="{r}">{}</option>"#,
                esc(reason_label(l, r))
            )
        })
        .collect();
    format!(
        r#"<section class="card" id="exempt"><h2>{h}</h2><form method="post" action="/rounds/{round}/exemptions" class="stack"><input type="hidden" name="csrf" value="{csrf}"><input type="hidden" name="grid" value="{grid}">
<label>{lr}<select name="resident" required>{residents}</select></label>
<label>{lw}<select name="reason" required>{reasons}</select></label>
<button type="submit">{b}</button></form></section>"#,
        h = l.t("登记免检", "Record an exemption"),
        csrf = esc(&a.csrf),
        lr = l.t("居民", "Resident"),
        lw = l.t("原因", "Reason"),
        b = l.t("登记免检（移出未检名单）", "Exempt (off the missed list)"),
    )
}

/// The residents of a missed list's grid who are exempt, and why, each with
/// a button that lifts a mistaken exemption (for those who may change the
/// registry, while the round is not closed). `names` shows a name as the
/// missed list does.
pub(super) fn exempt_list(
    s: &AppState,
    a: &Auth,
    l: Lang,
    (r, grid): (&RoundRow, Key),
    rows: &[gw_app::coverage::Exemption],
    names: &dyn Fn(&str) -> String,
) -> String {
    let round = Key {
        street: r.street_id,
        id: r.id,
    };
    let writer = a
        .principal
        .can_somewhere(Action::WriteRegistry, s.clock.now_ms());
    let may_lift = writer && !gw_domain::testing::round_settled(&r.state);
    let today = s.clock.today();
    let list: String = rows
        .iter()
        .map(|x| {
            let v = gw_app::registry::ResidentView::masked(&x.resident, today);
            let lift = if may_lift {
                format!(
                    r#"<form method="post" action="/rounds/{round}/exemptions" class="inline"><input type="hidden" name="csrf" value="{csrf}"><input type="hidden" name="grid" value="{grid}"><input type="hidden" name="resident" value="{id}"><input type="hidden" name="reason" value="none"><button type="submit">{b}</button></form>"#,
                    csrf = esc(&a.csrf),
                    id = esc(&v.id),
                    b = l.t("取消免检", "Lift"),
                )
            } else {
                String::new()
            };
            let reason = match reason_label(l, &x.reason) {
                "" => x.reason.as_str(),
                known => known,
            };
            format!(
                r#"<tr><td>{}</td><td data-label="{la}">{}</td><td data-label="{lr}">{}</td><td data-label="{lb}">{}</td><td data-label="{lw}">{}</td><td>{lift}</td></tr>"#,
                esc(&names(&v.name)),
                esc(v.address.as_deref().unwrap_or("")),
                esc(reason),
                esc(&x.set_by),
                esc(&clock_text(x.created_ms)),
                la = l.t("住址", "Address"),
                lr = l.t("原因", "Reason"),
                lb = l.t("登记人", "By"),
                lw = l.t("时间", "When"),
            )
        })
        .collect();
    format!(
        r#"<section class="card" id="exempt-list"><h2>{h} ({n})</h2>{closed}{body}</section>"#,
        h = l.t("已免检", "Exempt"),
        n = rows.len(),
        closed = if writer && gw_domain::testing::round_settled(&r.state) {
            format!(
                r#"<p class="muted" id="exemptions-closed">{}</p>"#,
                l.t(
                    "本轮已结束，免检不再登记或取消。",
                    "The round is closed: its exemptions no longer change."
                )
            )
        } else {
            String::new()
        },
        body = if rows.is_empty() {
            format!(
                r#"<p class="muted">{}</p>"#,
                l.t(
                    "本网格本轮无人免检。",
                    "Nobody in this grid is exempt from the round."
                )
            )
        } else {
            format!(
                r#"<div class="scroll"><table class="cards" id="exempt-table"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th></th></tr></thead><tbody>{list}</tbody></table></div>"#,
                l.t("姓名", "Name"),
                l.t("住址", "Address"),
                l.t("原因", "Reason"),
                l.t("登记人", "By"),
                l.t("时间", "When"),
            )
        },
    )
}

pub async fn exempt(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    page: Page,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let l = page.lang;
    let round = match parse_key(l, &id) {
        Ok(k) => k,
        Err(e) => return page.error(e),
    };
    let fields = Fields::parse(&body);
    let Ok(resident) = fields.get("resident").parse::<Key>() else {
        return page.error(WebError::bad_request(
            l.t("请选择要登记免检的居民。", "Choose the resident to exempt."),
        ));
    };
    let reason = fields.get("reason");
    match gw_app::testing::exempt(&s.store, &s.clock, &a.principal, round, resident, reason).await {
        Ok(()) => match fields.get("grid").parse::<Key>() {
            Ok(g) if reason == gw_app::testing::NO_EXEMPTION => redirect(&format!(
                "/rounds/{round}/missed?grid={g}&lifted=1#exempt-list"
            )),
            Ok(g) => redirect(&format!("/rounds/{round}/missed?grid={g}&exempted=1")),
            Err(_) => redirect(&format!("/rounds/{round}")),
        },
        Err(e) => page.error(auth_err(l, e)),
    }
}
