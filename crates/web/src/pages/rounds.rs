//! Round pages beyond coverage: the schedule with its call-down lists
//! (printable on A4), door-to-door lists, the lab upload, the reconciliation
//! report, disinfection tasks and round-over-round. Thin over `gw_app`.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::{Extension, Form};
use gw_domain::ids::Key;
use serde::Deserialize;

use super::registry::{full_names, pick, upload_script};
use super::{date_text, parse_key, redirect, Lang, Page};
use crate::{html_escape as esc, AppState, Auth, WebError};

/// `08:30` in China time.
fn hm(ms: i64) -> String {
    let m = (ms + 8 * 3_600_000).rem_euclid(86_400_000) / 60_000;
    format!("{:02}:{:02}", m / 60, m % 60)
}

/// The link back to the round's page, or home for a reader who may not
/// open it (point staff on their schedule, the lab on its reconciliation).
fn back(s: &AppState, a: &Auth, l: Lang, round: Key) -> String {
    if super::reads_rounds(s, a) {
        format!(
            r#"<p class="noprint"><a href="/rounds/{round}">← {}</a></p>"#,
            l.t("本轮覆盖情况", "This round's coverage")
        )
    } else {
        format!(
            r#"<p class="noprint"><a href="/">← {}</a></p>"#,
            l.t("首页", "Home")
        )
    }
}

pub(super) fn auth_err(l: Lang, e: gw_app::access::AuthError) -> WebError {
    let mut w: WebError = e.into();
    if w.code == "bad_request" {
        w.message = pick(l, &w.message);
    }
    w
}

// ----- schedule and call-down lists ----------------------------------------------

#[derive(Debug, Deserialize, Default)]
pub struct ScheduleQuery {
    /// `1`: show the group messages in full (long for a street).
    #[serde(default)]
    pub messages: Option<String>,
}

pub async fn schedule(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    page: Page,
    Path(id): Path<String>,
    Query(q): Query<ScheduleQuery>,
) -> Response {
    let full = q.messages.as_deref() == Some("1");
    let r = schedule_body(&s, &a, page.lang, &id, None, full).await;
    page.answer(r)
}

/// A refused plan form: what to fix and the values as typed.
struct Refused<'a> {
    message: &'a str,
    form: &'a PlanForm,
    /// A refused push: said at the top of the page, not under the plan form.
    push: bool,
}

async fn schedule_body(
    s: &AppState,
    a: &Auth,
    l: Lang,
    id: &str,
    refused: Option<Refused<'_>>,
    messages: bool,
) -> Result<(String, String), WebError> {
    let round = parse_key(l, id)?;
    let v = gw_app::schedule::view(&s.store, &s.clock, &a.principal, round)
        .await
        .map_err(|e| auth_err(l, e))?;
    let mut ordered: Vec<(&gw_domain::schedule::PointPlan, &gw_domain::schedule::Slot)> = v
        .plan
        .points
        .iter()
        .flat_map(|p| p.slots.iter().map(move |sl| (p, sl)))
        .filter(|(_, sl)| !sl.calls.is_empty())
        .collect();
    ordered.sort_by_key(|(p, sl)| (sl.starts_ms, p.point_id));
    // The round's managers push a slot's call-down from here: once per slot
    // (a slot already told says so; a slot begun is past pushing).
    // Only a round still to be sampled calls people down or is planned.
    let round_state = s.store.round(round.street, round.id).await?.state;
    let sampling = matches!(round_state.as_str(), "planned" | "open");
    let can_push = v.stored
        && a.principal.can(
            gw_domain::access::Action::ManageRounds,
            &s.store
                .place_of(round.street, "street", round.street)
                .await?,
            s.clock.now_ms(),
        );
    let pushes = &v.pushes;
    let now = s.clock.now_ms();
    let mut last_start = None;
    let mut slots = String::new();
    {
        for (p, sl) in ordered {
            let told: Vec<_> = pushes
                .iter()
                .filter(|x| x.slot_ms == sl.starts_ms)
                .collect();
            let push = if !can_push || last_start == Some(sl.starts_ms) {
                String::new()
            } else if !told.is_empty() {
                // Who told the groups and when; a deliberate second push
                // while the slot has not begun, confirmed with a tick.
                let who: String = told
                    .iter()
                    .map(|x| {
                        let at = esc(&gw_domain::notify::clock_text(x.at_ms));
                        // The console operator's name is in both languages.
                        let by = if x.actor.starts_with("cli:") {
                            pick(l, &x.by)
                        } else {
                            x.by.clone()
                        };
                        match l {
                            Lang::Zh => format!(
                                "<li>{at} 由 {} 推送（{} 条消息）</li>",
                                esc(&by),
                                x.messages
                            ),
                            Lang::En => {
                                format!("<li>{at} by {} ({} messages)</li>", esc(&by), x.messages)
                            }
                        }
                    })
                    .collect();
                let again = if sl.starts_ms < now || !sampling {
                    String::new()
                } else {
                    format!(
                        r#"<form method="post" action="/rounds/{round}/schedule/push" class="push-again"><input type="hidden" name="csrf" value="{csrf}"><input type="hidden" name="starts_ms" value="{t}"><label><input type="checkbox" name="again" value="1" required> {c}</label> <button type="submit">{b}</button></form>"#,
                        csrf = esc(&a.csrf),
                        t = sl.starts_ms,
                        c = l.t(
                            "确认再次推送（群里会再收到一次）",
                            "Yes, push again (the groups get it a second time)"
                        ),
                        b = l.t("再次推送", "Push again"),
                    )
                };
                format!(
                    r#"<span class="tag">{}</span><ul class="pushed">{who}</ul>{again}"#,
                    l.t("已推送", "pushed")
                )
            } else if sl.starts_ms < now || !sampling {
                String::new()
            } else {
                format!(
                    r#"<form method="post" action="/rounds/{round}/schedule/push"><input type="hidden" name="csrf" value="{csrf}"><input type="hidden" name="starts_ms" value="{t}"><button type="submit" class="push-slot">{b}</button></form>"#,
                    csrf = esc(&a.csrf),
                    t = sl.starts_ms,
                    b = l.t("推送叫号", "Push call-down"),
                )
            };
            // The slot's first row is where a push returns to.
            let anchor = if last_start == Some(sl.starts_ms) {
                String::new()
            } else {
                // In minutes: a long run of digits reads like a phone number.
                format!(r#" id="slot-{}""#, sl.starts_ms / 60_000)
            };
            last_start = Some(sl.starts_ms);
            let mut who = String::new();
            for c in &sl.calls {
                let units: Vec<String> = c
                    .units
                    .iter()
                    .map(|u| format!("{}{}（{}）", esc(&u.name), l.t("单元", ""), u.people))
                    .collect();
                // Sent away from their usual point: said beside the building.
                let away = c
                    .away
                    .map(|w| {
                        format!(
                            r#" <span class="tag away" style="background:#fde2e1;color:#8a1c1c;white-space:nowrap">{}</span>"#,
                            esc(&match l {
                                Lang::Zh => w.zh(),
                                Lang::En => w.en(),
                            })
                        )
                    })
                    .unwrap_or_default();
                who.push_str(&format!(
                    "<li><b>{}</b> {}{away}</li>",
                    esc(&c.building),
                    units.join("、")
                ));
            }
            // Its groups told to come down later (延迟下楼): said in its row.
            let point_key = gw_domain::ids::Key {
                street: v.street,
                id: p.point_id,
            }
            .to_string();
            let delayed = v
                .delays
                .iter()
                .filter(|d| d.covers(&point_key, sl.starts_ms))
                .max_by_key(|d| d.come_down_ms)
                .map_or(String::new(), |d| {
                    let after = hm(d.come_down_ms);
                    format!(
                        r#"<br><span class="tag delayed" style="background:#fff3cd;color:#6b4e00;white-space:nowrap">{}</span>"#,
                        esc(&match l {
                            Lang::Zh => format!("已通知推迟 {} 分钟（{after} 后）", d.minutes),
                            Lang::En => format!("told: {} min later (after {after})", d.minutes),
                        })
                    )
                });
            slots.push_str(&format!(
                r#"<tr{anchor}><td class="n">{}–{}{delayed}</td><td data-l="{lp}">{}</td><td class="n" data-l="{ln}">{}</td><td><ul class="calls">{who}</ul></td><td class="noprint">{push}</td></tr>"#,
                hm(sl.starts_ms),
                hm(sl.ends_ms),
                esc(&p.name),
                sl.arrivals,
                lp = l.t("采样点", "Point"),
                ln = l.t("人数", "People"),
            ));
        }
    }
    let slots = if slots.is_empty() {
        format!(
            r#"<p class="muted">{}</p>"#,
            l.t("还没有可下楼的时段。", "No call-down slots yet.")
        )
    } else {
        // On a phone each slot reads as a card (time, point, people, the
        // buildings at full width, the push button under them); a push
        // returns to its slot's card.
        let phone = "<style>#calldown tr[id]{scroll-margin-top:12px}#calldown tr:target{outline:3px solid #f2b705}\
@media screen and (max-width:640px){#calldown thead{display:none}#calldown,#calldown tbody,#calldown tr,#calldown td{display:block;width:auto}\
#calldown tr{border:1px solid #d0d7de;border-radius:8px;margin:0 0 10px;padding:8px 10px}#calldown td{border:0;padding:2px 0;white-space:normal;text-align:left}\
#calldown td:first-child{font-weight:700;font-size:1.1rem}#calldown td[data-l]::before{content:attr(data-l) \"：\";color:#57606a}\
#calldown td.noprint button{width:100%;min-height:44px;margin-top:6px}}</style>";
        format!(
            r#"{phone}<div class="scroll"><table id="calldown"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th class="noprint"></th></tr></thead><tbody>{slots}</tbody></table></div>"#,
            l.t("时段", "Slot"),
            l.t("采样点", "Point"),
            l.t("人数", "People"),
            l.t(
                "下楼的楼栋单元（人数）",
                "Buildings and units called (people)"
            ),
        )
    };
    // The group messages repeat the table in full: shown on demand (a
    // street's run to hundreds of kilobytes).
    let texts = if messages {
        let mut t = String::new();
        for c in &v.call_down {
            t.push_str(&format!(
                r#"<li><b>{}–{} {}</b><pre class="msg">{}</pre></li>"#,
                hm(c.starts_ms),
                hm(c.ends_ms),
                esc(&c.point_name),
                esc(&c.text)
            ));
        }
        format!(r#"<ul class="list">{t}</ul>"#)
    } else {
        format!(
            r#"<p><a class="button" href="/rounds/{round}/schedule?messages=1#messages">{}</a></p>"#,
            match l {
                Lang::Zh => format!("显示全部 {} 条群通知", v.call_down.len()),
                Lang::En => format!("Show all {} group messages", v.call_down.len()),
            }
        )
    };
    let points = points_table(l, &v);
    let mut sim = simulation_table(l, &v.simulation);
    // The simulation's longest queue past the plan's bound: said, not left
    // for the reader to compare.
    let bound = v.plan.params.max_queue;
    let told_over = !v.told_over_bound.is_empty();
    let over: Vec<String> = v
        .simulation
        .over_bound(bound)
        .iter()
        .map(|(id, q)| {
            let name = v
                .plan
                .points
                .iter()
                .find(|p| p.point_id == *id)
                .map_or_else(|| id.to_string(), |p| p.name.clone());
            match l {
                Lang::Zh => format!("{} 最长 {q} 人", esc(&name)),
                Lang::En => format!("{} up to {q}", esc(&name)),
            }
        })
        .collect();
    if !over.is_empty() {
        let note = match l {
            Lang::Zh => format!(
                "模拟中的最长队伍超过了排队上限 {bound:.0} 人：{}。上限约束的是预计的最长队伍，偶然仍会超出；{}",
                over.join("、"),
                if told_over {
                    "已推送或已开始的时段（见上）重新排班不会改动，居民已被通知：须即刻在该点加台，或通知相关群延迟下楼；尚未推送的时段可调低排队上限、缩短时段或加台后重新排班。"
                } else {
                    "可调低排队上限、缩短时段或加台后重新排班。"
                }
            ),
            Lang::En => format!(
                "The simulated longest queue exceeds the queue bound of {bound:.0}: {}. The bound holds the expected longest queue; chance can still go past it: {}",
                over.join("; "),
                if told_over {
                    "a re-plan does not change the slots pushed or begun (above): their people were told; add stations at the point now, or tell the groups of the delay. For slots not pushed yet, lower the bound, shorten the slots or add stations, and plan again."
                } else {
                    "lower the bound, shorten the slots or add stations, and plan again."
                }
            ),
        };
        sim = sim.replacen(
            "</table></div></section>",
            &format!(r#"</table></div><p class="error" id="sim-over-bound">{note}</p></section>"#),
            1,
        );
    }
    // Counted in what the caller sees, also when the list itself is not
    // theirs to read (a point's staff).
    let d2d = v.door_to_door_count;
    let mut problem = v
        .problem
        .as_deref()
        .map(|p| format!(r#"<p class="error" role="alert">{}</p>"#, esc(&pick(l, p))))
        .unwrap_or_default();
    // Hours changed since the plan: slots at a point not open then.
    if !v.out_of_hours.is_empty() {
        let items: String = v
            .out_of_hours
            .iter()
            .map(|o| {
                let told = if o.pushed {
                    l.t(
                        "（已推送：居民已被通知，请另行通知改期）",
                        " (pushed: its people were told to come; tell them again)",
                    )
                } else {
                    ""
                };
                format!(
                    "<li>{} {}–{}{} {} {}–{}{told}</li>",
                    esc(&o.point_name),
                    hm(o.starts_ms),
                    hm(o.ends_ms),
                    l.t("：", ":"),
                    l.t("开放时间", "open"),
                    esc(&gw_domain::notify::clock_text(o.opens_ms)),
                    hm(o.closes_ms),
                )
            })
            .collect();
        problem.push_str(&format!(
            r#"<div class="error" role="alert" id="out-of-hours"><p>{}</p><ul>{items}</ul></div>"#,
            l.t(
                "已存的时间表与采样点开放时间不再相符：以下时段的采样点未开放，不能推送叫号，请重新排班。",
                "The stored plan no longer fits the points' hours: these slots fall when their point is not open; they cannot be pushed. Plan again."
            )
        ));
    }
    // Buildings begun at a point that has closed, sent on to another.
    if !v.plan.moved.is_empty() {
        let items: String = v
            .plan
            .moved
            .iter()
            .map(|m| format!("<li>{}</li>", esc(&pick(l, &m.text))))
            .collect();
        problem.push_str(&format!(
            r#"<div class="warn" role="status" id="moved"><p>{}</p><ul>{items}</ul></div>"#,
            l.t(
                "以下楼栋原来的采样点已关闭或来不及，剩下的单元改到别的采样点，请通知居民：",
                "These buildings' first point has closed or cannot take the rest in time; their remaining units go to another point. Tell the residents:"
            )
        ));
    }
    // Under control (管控区) with no point in their compound: not called out.
    if !v.plan.warnings.is_empty() {
        let items: String = v
            .plan
            .warnings
            .iter()
            .map(|w| format!("<li>{}</li>", esc(&pick(l, w))))
            .collect();
        problem.push_str(&format!(
            r#"<div class="warn" role="status" id="confined"><p>{}</p><ul>{items}</ul></div>"#,
            l.t(
                "管控区人不出小区，以下楼栋所在小区没有采样点，未叫号下楼：",
                "Residents under control stay inside their compound; these have no point in theirs and are not called down:"
            )
        ));
    }
    // Slots already told whose queue is over the bound: a re-plan leaves
    // them as they are.
    if !v.told_over_bound.is_empty() {
        // Beside each slot not ended, the round's managers tell its groups
        // to come down later (延迟下楼).
        let delay_form = |t: &gw_app::schedule::ToldOverBound| -> String {
            use gw_domain::schedule::{delay_minutes_past, delayed_end, hhmm, DELAY_MINUTES};
            // The time these groups were last told, if a notice did: the
            // next must be later, and the slot ends as much later.
            let last = gw_app::call_delay::last_told(&v.delays, &t.point, t.starts_ms);
            if !can_push || !sampling || delayed_end(t.starts_ms, t.ends_ms, last) <= now {
                return String::new();
            }
            let least = delay_minutes_past(t.starts_ms, now, last.unwrap_or(i64::MIN));
            let from = if now > t.starts_ms {
                l.t("从现在起推迟（分钟）", "Delay from now (minutes)")
            } else {
                l.t(
                    "从时段开始推迟（分钟）",
                    "Delay from the slot's start (minutes)",
                )
            };
            let told = last.map_or(String::new(), |c| {
                let h = hhmm(c);
                format!(
                    "{} ",
                    l.t(
                        &format!("已通知 {h} 后下楼，新的时间须更晚；"),
                        &format!("told to come down after {h}; the new time must be later;")
                    )
                )
            });
            format!(
                r#"<form method="post" action="/rounds/{round}/schedule/delay" class="delay-slot"><input type="hidden" name="csrf" value="{csrf}"><input type="hidden" name="slot_ms" value="{t}"><input type="hidden" name="point" value="{p}">{told}<label>{m} <input type="number" name="minutes" value="{dflt}" min="{lo}" max="{hi}" step="1" required style="width:5em"></label> <label><input type="checkbox" name="confirm" value="1" required> {c}</label> <button type="submit">{b}</button></form>"#,
                csrf = esc(&a.csrf),
                t = t.starts_ms,
                p = esc(&t.point),
                told = esc(&told),
                m = from,
                // The schedule's suggestion: the time the point's
                // stations need to bring the line down to the bound.
                dflt = t.suggested_minutes.unwrap_or(least).min(DELAY_MINUTES.1),
                lo = least.min(DELAY_MINUTES.1),
                hi = DELAY_MINUTES.1,
                c = esc(l.t(
                    &format!("确认通知「{}」该时段的群", t.point_name),
                    &format!("send to the groups of {} in this slot", t.point_name)
                )),
                b = l.t("通知延迟下楼", "Tell the groups of a delay"),
            )
        };
        let items: String = v
            .told_over_bound
            .iter()
            .map(|t| {
                format!(
                    "<li>{}{}</li>",
                    esc(&pick(l, &t.text(bound))),
                    delay_form(t)
                )
            })
            .collect();
        problem.push_str(&format!(
            r#"<div class="error" role="alert" id="told-over-bound"><p>{}</p><ul>{items}</ul></div>"#,
            l.t(
                "以下已通知的时段排队会超过上限，重新排班改不了它们：",
                "These slots were already told and their queue will pass the bound; a re-plan does not change them:"
            )
        ));
    }
    // The delay notices sent: everyone reading the schedule sees which
    // groups were told to come down later.
    if !v.delays.is_empty() {
        let items: String = v
            .delays
            .iter()
            .map(|d| {
                let point = match &d.point {
                    Some(k) => v
                        .points
                        .iter()
                        .find(|p| p.id == *k)
                        .map_or_else(|| k.clone(), |p| p.name.clone()),
                    None => l.t("该时段各采样点", "every point of the slot").to_string(),
                };
                let by = if d.actor.starts_with("cli:") {
                    pick(l, &d.by)
                } else {
                    d.by.clone()
                };
                let slot = gw_domain::notify::clock_text(d.slot_ms);
                let at = gw_domain::notify::clock_text(d.at_ms);
                let new = gw_domain::schedule::hhmm(d.come_down_ms);
                let text = match l {
                    Lang::Zh => format!(
                        "{slot} 时段 · {point}：{at} 由 {by} 通知推迟约 {} 分钟（{new} 后）下楼（{} 条消息）",
                        d.minutes, d.messages
                    ),
                    Lang::En => format!(
                        "slot of {slot} · {point}: at {at} {by} told the groups to come down about {} minutes later, after {new} ({} messages)",
                        d.minutes, d.messages
                    ),
                };
                // The new time falls in a later slot of the point: the two
                // groups queue together.
                let overlap = d.overlap.as_ref().map_or(String::new(), |o| {
                    format!(
                        r#"<br><span class="error delay-overlap" role="alert">{}</span>"#,
                        esc(&pick(l, &o.text))
                    )
                });
                format!("<li>{}{overlap}</li>", esc(&text))
            })
            .collect();
        problem.push_str(&format!(
            r#"<div class="warn" role="status" id="delays"><p>{}</p><ul>{items}</ul></div>"#,
            l.t("已通知的延迟下楼：", "Delays the groups were told of:")
        ));
    }
    let pushed_error = refused
        .as_ref()
        .filter(|r| r.push)
        .map(|r| {
            format!(
                r#"<p class="error" role="alert" id="push-error">{}</p>"#,
                esc(r.message)
            )
        })
        .unwrap_or_default();
    let err = refused
        .as_ref()
        .filter(|r| !r.push)
        .map(|r| {
            format!(
                r#"<p class="error" role="alert" id="form-error">{}</p>"#,
                esc(r.message)
            )
        })
        .unwrap_or_default();
    // The form shows the stored plan's values (a preview's are the
    // defaults), or what was typed when it was refused.
    let (slot_value, queue_value) = match &refused {
        // (A refused push carries no plan form: the stored values.)
        Some(r) if !(r.form.slot_minutes.is_empty() && r.form.max_queue.is_empty()) => {
            (r.form.slot_minutes.clone(), r.form.max_queue.clone())
        }
        _ => (
            (v.plan.params.slot_ms / 60_000).to_string(),
            format!("{}", v.plan.params.max_queue.round() as i64),
        ),
    };
    let can_plan = sampling
        && a.principal
            .can_somewhere(gw_domain::access::Action::ManageRounds, s.clock.now_ms());
    let form = if can_plan {
        format!(
            r#"<section class="card noprint"><h2>{h}</h2>{err}<form method="post" action="/rounds/{round}/schedule" class="stack"><input type="hidden" name="csrf" value="{csrf}">
<label>{ls}<input name="slot_minutes" inputmode="numeric" value="{sv}"></label><label>{lq}<input name="max_queue" inputmode="numeric" value="{qv}"></label>
<button class="primary" type="submit">{b}</button></form></section>"#,
            h = l.t(
                "排班（重排保留已开始的时段）",
                "Plan (a re-plan keeps started slots)"
            ),
            csrf = esc(&a.csrf),
            sv = esc(&slot_value),
            qv = esc(&queue_value),
            ls = l.t("每个时段（分钟，5–240）", "Slot length (minutes, 5–240)"),
            lq = l.t("排队上限（人，1–1000）", "Queue bound (people, 1–1000)"),
            b = l.t("生成下楼时间表", "Make the call-down schedule"),
        )
    } else if !err.is_empty() {
        // A refusal still says why where there is no form (sampling is over).
        format!(r#"<section class="card noprint">{err}</section>"#)
    } else {
        String::new()
    };
    let status = if v.stored {
        let at = v.planned_ms.map(date_text).unwrap_or_default();
        match l {
            Lang::Zh => format!("第 {} 版 · {at}", v.revision.unwrap_or(0)),
            Lang::En => format!("revision {} · {at}", v.revision.unwrap_or(0)),
        }
    } else {
        l.t("尚未排班：以下为预览", "Not planned yet: a preview")
            .to_string()
    };
    let body = format!(
        r#"{back}<h1>{name} · {h}</h1>{pushed_error}<p class="muted">{status} · {people} {lp} · {d2d} {ld}</p>{problem}
{points}{sim}<section class="card"><h2>{hs}</h2>{slots}</section>
<section class="card noprint" id="messages"><h2>{ht}</h2>{texts}</section>
<p class="actions noprint"><button type="button" onclick="print()">{print}</button></p>{form}"#,
        back = back(s, a, l, round),
        name = esc(&v.round_name),
        h = l.t("下楼时间表", "Call-down schedule"),
        people = v.plan.people_called,
        lp = l.t("人已安排", "people called"),
        ld = l.t(
            "处管控楼栋或住户入户采样（行动不便者另见各网格的入户采样名单）",
            "buildings or households under control sampled at the door (people who cannot go downstairs: each grid's door-to-door list)"
        ),
        hs = l.t("各时段下楼名单", "Who comes down, slot by slot"),
        ht = l.t("企业微信群通知", "Messages for the WeCom group"),
        print = l.t("打印（A4）", "Print (A4)"),
    );
    Ok((
        format!("{} · {}", v.round_name, l.t("下楼时间表", "schedule")),
        body,
    ))
}

/// Each point the caller sees: stations, the rate configured, the rate its
/// scans show over the last hour, the rate a re-plan would use, and the
/// people called and not yet scanned.
fn points_table(l: Lang, v: &gw_app::schedule::ScheduleView) -> String {
    if v.points.is_empty() {
        return String::new();
    }
    let rows: String = v
        .points
        .iter()
        .map(|p| {
            let slow = p.stalled || p.measured_rate.is_some_and(|m| m < p.configured_rate * 0.8);
            format!(
                r#"<tr{cls}><td>{name}</td><td class="n">{st}</td><td class="n">{cr:.0}</td><td class="n">{mr}</td><td class="n">{pr:.0}</td><td class="n">{bl}</td></tr>"#,
                cls = if slow { r#" class="bad""# } else { "" },
                name = esc(&p.name),
                st = p.stations,
                cr = p.configured_rate,
                mr = match (p.measured_rate, p.stalled) {
                    (Some(m), true) => match l {
                        Lang::Zh => format!("{m:.0}（停滞：{} 次扫码，已叫未采 {} 人）", p.scans_recent, p.backlog),
                        Lang::En => format!("{m:.0} (stalled: {} scans, {} called and waiting)", p.scans_recent, p.backlog),
                    },
                    (Some(m), false) => format!("{m:.0}"),
                    (None, _) => l.t("（扫码太少）", "(too few scans)").to_string(),
                },
                pr = p.planning_rate,
                bl = p.backlog,
            )
        })
        .collect();
    format!(
        r#"<section class="card" id="point-rates"><h2>{h}</h2><p class="hint">{hint}</p><div class="scroll"><table><thead><tr><th>{c1}</th><th>{c2}</th><th>{c3}</th><th>{c4}</th><th>{c5}</th><th>{c6}</th></tr></thead><tbody>{rows}</tbody></table></div></section>"#,
        h = l.t("采样点速度", "Points and their pace"),
        hint = l.t(
            "每台每小时人数。实测为近一小时各台扫码的速度；慢于配置两成以上的标红：加台、延长开放或重新排班。已叫号 15 分钟以上、至少 10 人待采而扫码不足 10 次的点为停滞，也标红，按其实际扫码（每台每小时至少 6 人）排班。",
            "People per station per hour. Measured: each scanning station's pace over the last hour; red when over a fifth slower than configured: add stations, stay open longer, or re-plan. A point whose calls have run 15 minutes or more with at least 10 people waiting and fewer than 10 scans has stalled: red too, and planned at what it did scan (at least 6 per station per hour)."
        ),
        c1 = l.t("采样点", "Point"),
        c2 = l.t("台数", "Stations"),
        c3 = l.t("配置速度", "Configured"),
        c4 = l.t("实测速度", "Measured"),
        c5 = l.t("重排所用速度", "Used by a re-plan"),
        c6 = l.t("已叫未采", "Called, not yet swabbed"),
    )
}

/// The plan's queues beside calling everyone at once (the same seeded
/// simulation the API gives).
fn simulation_table(l: Lang, c: &gw_domain::schedule::Comparison) -> String {
    let row = |name: &str, s: &gw_domain::schedule::SimStats| {
        format!(
            r#"<tr><td>{}</td><td class="n">{}</td><td class="n">{:.1}</td><td class="n">{:.1}</td><td class="n">{}</td><td class="n">{}</td></tr>"#,
            esc(name),
            s.people,
            s.mean_wait_min,
            s.p95_wait_min,
            s.max_queue,
            s.finish_ms.map(hm).unwrap_or_default(),
        )
    };
    format!(
        r#"<section class="card" id="simulation"><h2>{h}</h2><div class="scroll"><table><thead><tr><th></th><th>{c1}</th><th>{c2}</th><th>{c3}</th><th>{c4}</th><th>{c5}</th></tr></thead><tbody>{a}{b}</tbody></table></div></section>"#,
        h = l.t(
            "排队模拟：按时段叫号与一次全叫",
            "Queue simulation: called by slot against everyone at once"
        ),
        c1 = l.t("人数", "People"),
        c2 = l.t("平均等待（分钟）", "Mean wait (min)"),
        c3 = l.t("95% 等待（分钟）", "95th percentile wait (min)"),
        c4 = l.t("最长队伍（人）", "Longest queue (people)"),
        c5 = l.t("采完时间", "Finished by"),
        a = row(l.t("按时段叫号", "Called by slot"), &c.plan.overall),
        b = row(l.t("一次全叫", "Everyone at once"), &c.all_at_once.overall),
    )
}

/// The schedule page again with what to fix, the form as it was typed.
async fn again(
    s: &AppState,
    a: &Auth,
    page: &Page,
    id: &str,
    msg: &str,
    form: &PlanForm,
) -> Response {
    again_with(s, a, page, id, msg, form, StatusCode::BAD_REQUEST, false).await
}

#[allow(clippy::too_many_arguments)]
/// [`again`] answering `status` (a refused push answers as the API does:
/// 409 for a slot pushed before; `push`: its refusal at the top).
async fn again_with(
    s: &AppState,
    a: &Auth,
    page: &Page,
    id: &str,
    msg: &str,
    form: &PlanForm,
    status: StatusCode,
    push: bool,
) -> Response {
    let refused = Refused {
        message: msg,
        form,
        push,
    };
    match schedule_body(s, a, page.lang, id, Some(refused), false).await {
        Ok((t, b)) => page.render(status, &t, &b),
        Err(e) => page.error(e),
    }
}

#[derive(Debug, Deserialize)]
pub struct PushForm {
    pub starts_ms: i64,
    /// `1`: a deliberate second push of a slot pushed before.
    #[serde(default)]
    pub again: String,
}

/// Pushes one slot's call-down to the street's alert channels from the
/// schedule page; back to the schedule, or the schedule with why not.
pub async fn push_slot(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    page: Page,
    Path(id): Path<String>,
    Form(f): Form<PushForm>,
) -> Response {
    let l = page.lang;
    let round = match parse_key(l, &id) {
        Ok(k) => k,
        Err(e) => return page.error(e),
    };
    match gw_app::notify::push_call_down(
        &s.store,
        &s.clock,
        &a.principal,
        round,
        Some(f.starts_ms),
        f.again == "1",
    )
    .await
    {
        Ok(_) => {
            s.alerts.wake();
            redirect(&format!(
                "/rounds/{round}/schedule#slot-{}",
                f.starts_ms.div_euclid(60_000)
            ))
        }
        Err(e) => {
            let e = auth_err(l, e);
            // What to fix (400) or what stands in the way (409, a slot
            // pushed before) on the schedule; anything else is an error page.
            if !matches!(e.status, StatusCode::BAD_REQUEST | StatusCode::CONFLICT) {
                return page.error(e);
            }
            let form = PlanForm {
                slot_minutes: String::new(),
                max_queue: String::new(),
            };
            // The API's "ask again" is this page's tick and button.
            let message = pick(l, &e.message)
                .replace(
                    "确需再次推送请加 again（命令行 --again）",
                    "确需再次推送，请在该时段勾选确认后按「再次推送」",
                )
                .replace(
                    "ask again to send it once more (`again`; on the command line --again)",
                    "to send it once more, tick the box at the slot and press Push again",
                );
            again_with(&s, &a, &page, &id, &message, &form, e.status, true).await
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct DelayForm {
    pub slot_ms: i64,
    /// The point told (`STREET-ID`).
    #[serde(default)]
    pub point: String,
    #[serde(default)]
    pub minutes: String,
}

/// Tells the groups of a slot already told to come down later, from the
/// schedule page; back to the schedule, or the schedule with why not.
pub async fn delay_slot(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    page: Page,
    Path(id): Path<String>,
    Form(f): Form<DelayForm>,
) -> Response {
    let l = page.lang;
    let round = match parse_key(l, &id) {
        Ok(k) => k,
        Err(e) => return page.error(e),
    };
    let form = PlanForm {
        slot_minutes: String::new(),
        max_queue: String::new(),
    };
    let point = match parse_key(l, f.point.trim()) {
        Ok(k) => k,
        Err(e) => return page.error(e),
    };
    // Not a number: the same refusal as a number out of range.
    let minutes = f.minutes.trim().parse::<u32>().unwrap_or(0);
    match gw_app::call_delay::delay_call_down(
        &s.store,
        &s.clock,
        &a.principal,
        round,
        gw_app::call_delay::SlotAt::Ms(f.slot_ms),
        point,
        Some(minutes),
    )
    .await
    {
        Ok(_) => {
            s.alerts.wake();
            redirect(&format!("/rounds/{round}/schedule#delays"))
        }
        Err(e) => {
            let e = auth_err(l, e);
            if !matches!(e.status, StatusCode::BAD_REQUEST | StatusCode::CONFLICT) {
                return page.error(e);
            }
            let message = pick(l, &e.message);
            again_with(&s, &a, &page, &id, &message, &form, e.status, true).await
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct PlanForm {
    #[serde(default)]
    pub slot_minutes: String,
    #[serde(default)]
    pub max_queue: String,
}

pub async fn plan(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    page: Page,
    Path(id): Path<String>,
    Form(f): Form<PlanForm>,
) -> Response {
    let l = page.lang;
    // A number or nothing here; the range is the plan's own check (the same
    // for the API and the command line).
    let num = |v: &str| -> Result<Option<u32>, ()> {
        let v = v.trim();
        if v.is_empty() {
            return Ok(None);
        }
        v.parse::<u32>().map(Some).map_err(|_| ())
    };
    let Ok(slot_minutes) = num(&f.slot_minutes) else {
        return again(
            &s,
            &a,
            &page,
            &id,
            l.t(
                "每个时段须为 5 到 240 之间的分钟数，请改正。",
                "The slot length must be a number of minutes from 5 to 240: correct it.",
            ),
            &f,
        )
        .await;
    };
    let Ok(max_queue) = num(&f.max_queue) else {
        return again(
            &s,
            &a,
            &page,
            &id,
            l.t(
                "排队上限须为 1 到 1000 之间的整数，请改正。",
                "The queue bound must be a whole number from 1 to 1000: correct it.",
            ),
            &f,
        )
        .await;
    };
    let round = match parse_key(l, &id) {
        Ok(k) => k,
        Err(e) => return page.error(e),
    };
    match gw_app::schedule::plan(
        &s.store,
        &s.clock,
        &a.principal,
        round,
        gw_app::schedule::PlanOptions {
            slot_minutes,
            max_queue,
        },
    )
    .await
    {
        Ok(_) => redirect(&format!("/rounds/{round}/schedule")),
        Err(gw_app::access::AuthError::Invalid(m)) => {
            again(&s, &a, &page, &id, &pick(l, &m), &f).await
        }
        Err(e) => page.error(e.into()),
    }
}

// ----- door to door -------------------------------------------------------------------

/// The door-to-door page's territory: one grid, a whole community, or
/// neither (the lists the reader may open).
#[derive(Debug, Deserialize)]
pub struct GridQuery {
    pub grid: Option<String>,
    pub community: Option<String>,
}

/// A list asked for no grid: the reader's grids, each a link.
struct GridIndex<'a> {
    heading: &'a str,
    round_name: &'a str,
    hint: &'a str,
    by_grid: &'a str,
    list_id: &'a str,
    /// The `<li>` items; none: `none` is said instead.
    items: &'a str,
    none_id: &'a str,
    none: &'a str,
}

fn grid_index(back: &str, g: GridIndex<'_>) -> String {
    let items = if g.items.is_empty() {
        format!(
            r#"<li class="muted" id="{}">{}</li>"#,
            g.none_id,
            esc(g.none)
        )
    } else {
        g.items.to_string()
    };
    format!(
        r#"{back}<h1>{h}</h1><p><b>{name}</b></p><p class="hint">{hint}</p><section class="card"><h2>{gh}</h2><ul class="list" id="{id}">{items}</ul></section>"#,
        h = g.heading,
        name = esc(g.round_name),
        hint = esc(g.hint),
        gh = g.by_grid,
        id = g.list_id,
    )
}

/// The door-to-door page asked for no grid: the communities whose whole
/// list the reader may open (the team's printed list), then the grids whose
/// lists the reader may open, each a link (a point's staff: their point's
/// community's).
async fn door_grids_body(
    s: &AppState,
    a: &Auth,
    l: Lang,
    round: Key,
) -> Result<(String, String), WebError> {
    let r = s.store.round(round.street, round.id).await?;
    let grids = gw_app::testing::door_list_grids(&s.store, &s.clock, &a.principal, round)
        .await
        .map_err(|e| auth_err(l, e))?;
    let communities =
        gw_app::testing::door_list_communities(&s.store, &s.clock, &a.principal, round)
            .await
            .map_err(|e| auth_err(l, e))?;
    let h = l.t("入户采样名单", "Door-to-door list");
    let mut li = String::new();
    for g in &grids {
        li.push_str(&format!(
            r#"<li><a class="row" href="/rounds/{round}/door-to-door?grid={k}"><span>{name}</span></a></li>"#,
            k = Key {
                street: g.street_id,
                id: g.id
            },
            name = esc(&format!("{} · {}", g.community_name, g.name)),
        ));
    }
    let mut body = grid_index(
        &back(s, a, l, round),
        GridIndex {
            heading: h,
            round_name: &r.name,
            hint: l.t(
                "请选择网格：名单按楼栋和楼层列出封控、临时管控或行动不便、须入户采样的人。",
                "Choose a grid: its list gives, by building and floor, the people sealed in, under temporary control or unable to go downstairs, to be sampled at their door.",
            ),
            by_grid: l.t("按网格", "By grid"),
            list_id: "door-grids",
            items: &li,
            none_id: "no-door-grids",
            none: l.t(
                "本轮没有您可查看的网格。",
                "No grid of this round is yours to read.",
            ),
        },
    );
    if !communities.is_empty() {
        let items: String = communities
            .iter()
            .map(|(k, name)| {
                format!(
                    r#"<li><a class="row" href="/rounds/{round}/door-to-door?community={k}"><span>{} · {}</span></a></li>"#,
                    esc(name),
                    l.t("全社区名单（按网格）", "the whole community's list, by grid")
                )
            })
            .collect();
        body.push_str(&format!(
            r#"<section class="card"><h2>{}</h2><p class="muted">{}</p><ul class="list" id="door-communities">{items}</ul></section>"#,
            l.t("按社区", "By community"),
            l.t(
                "一个社区的全部网格一张名单，按网格、楼栋和楼层排列，可打印给入户采样队。",
                "All of a community's grids on one list, by grid, building and floor: print it for the door-to-door team.",
            ),
        ));
    }
    Ok((format!("{} · {h}", r.name), body))
}

pub async fn door_to_door(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    page: Page,
    Path(id): Path<String>,
    Query(q): Query<GridQuery>,
) -> Response {
    let r = door_body(&s, &a, page.lang, &id, &q, None).await;
    page.answer(r)
}

/// The door-to-door list again with one listed resident's full phone
/// numbers (form field `resident`), for whoever may reveal phones there;
/// audited.
pub async fn door_to_door_reveal(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    page: Page,
    Path(id): Path<String>,
    Query(q): Query<GridQuery>,
    body: axum::body::Bytes,
) -> Response {
    let resident = super::Fields::parse(&body).get("resident").to_string();
    let r = door_body(&s, &a, page.lang, &id, &q, Some(&resident)).await;
    page.answer(r)
}

/// A resident revealed on a door-to-door page: who (name and address) and
/// the full numbers.
type Shown = Option<(String, Vec<String>)>;

/// The rows of a door-to-door list by building and floor: those not yet
/// sampled (`sampled` false) or the open retests and re-samples of those
/// held at home (`sampled` true). `may_reveal`: whether the reader may
/// reveal phones there. The HTML and how many people.
fn door_section(
    l: Lang,
    floors: &[gw_app::testing::DoorFloor],
    sampled: bool,
    may_reveal: bool,
    revealed: &std::collections::HashMap<String, Vec<String>>,
    shown: &mut Shown,
) -> (String, usize) {
    let mut html = String::new();
    let mut total = 0;
    let mut last_building: Option<(&str, Option<&str>)> = None;
    for f in floors {
        let rows: Vec<_> = f
            .residents
            .iter()
            .filter(|d| d.sampled == sampled)
            .collect();
        if rows.is_empty() {
            continue;
        }
        let this = (f.building.as_str(), f.building_id.as_deref());
        if last_building != Some(this) {
            if last_building.is_some() {
                html.push_str("</section>");
            }
            html.push_str(&format!(
                r#"<section class="card"><h2>{}</h2>"#,
                esc(&f.building)
            ));
            last_building = Some(this);
        }
        let mut li = String::new();
        for d in rows {
            let r = &d.resident;
            total += 1;
            // Masked by the use-case for a reader who does not see names.
            let name = r.name().to_string();
            let masked: Vec<&str> = r.phones().iter().map(|p| p.number.as_str()).collect();
            let id = r.id().filter(|_| may_reveal);
            let phones = match id.and_then(|id| revealed.get(id)) {
                Some(full) => {
                    *shown = Some((
                        format!("{name} {}", r.address().unwrap_or("")),
                        full.clone(),
                    ));
                    esc(&full.join(" "))
                }
                None => match id {
                    Some(id) if !masked.is_empty() => {
                        format!("{} {}", esc(&masked.join(" ")), super::reveal_button(l, id))
                    }
                    _ => esc(&masked.join(" ")),
                },
            };
            // Why at the door: the team knows whether to expect a sealed
            // door or someone who cannot walk down.
            let why: Vec<String> = d.reasons.iter().map(|w| pick(l, &w.text)).collect();
            // A retest or re-sample (one missed after an invalid tube
            // too): what is due and the tubes to use, one swab each.
            let due = if d.purpose != "door_to_door" {
                format!(
                    r#" <span class="tag warn" data-purpose="{purpose}">{due} · {tube}</span>"#,
                    purpose = d.purposes.join(" "),
                    due = esc(&pick(l, d.due)),
                    tube = d
                        .purposes
                        .iter()
                        .map(|p| if *p == "retest" {
                            l.t("用单管复检管（retest）", "retest tube (single swab)")
                        } else {
                            l.t("用重采管（resample）", "re-sample tube")
                        })
                        .collect::<Vec<_>>()
                        .join(l.t("，", ", ")),
                )
            } else {
                String::new()
            };
            // The household's code sheet, so a person without their phone's
            // code is scanned off it: for a registry reader of the grid
            // (who may open it), never for the team's masked rows.
            let sheet = r.household().map_or_else(String::new, |h| {
                format!(
                    r#" <a class="codes" href="/households/{}/codes">{}</a>"#,
                    esc(h),
                    l.t("码单", "codes")
                )
            });
            li.push_str(&format!(
                r#"<li><b>{}</b> {} <span class="tag">{}</span>{due} <span class="muted">{phones} {}</span>{sheet}</li>"#,
                esc(&name),
                esc(r.address().unwrap_or("")),
                esc(&why.join(l.t("、", ", "))),
                esc(&super::flags_label(l, r.flags())),
            ));
        }
        html.push_str(&format!(
            r#"<h3>{}</h3><ul class="list">{li}</ul>"#,
            f.floor.map_or_else(
                || l.t("楼层不明", "Floor unknown").to_string(),
                |n| format!("{n} {}", l.t("层", "floor"))
            )
        ));
    }
    if last_building.is_some() {
        html.push_str("</section>");
    }
    (html, total)
}

/// One grid's list as a page shows it: those not yet sampled (or `none`
/// said), then the retests and re-samples due at home under a heading of
/// their own (`follow_id` its id). The HTML, how many not yet sampled and
/// how many sampled with a follow-up due.
fn door_grid_html(
    l: Lang,
    floors: &[gw_app::testing::DoorFloor],
    may_reveal: bool,
    revealed: &std::collections::HashMap<String, Vec<String>>,
    shown: &mut Shown,
    none: &str,
    follow_id: &str,
) -> (String, usize, usize) {
    // Two sections by building and floor: those not yet sampled, then the
    // open retests and re-samples of those held at home (already sampled:
    // work at the door, not people missed).
    let (mut html, total) = door_section(l, floors, false, may_reveal, revealed, shown);
    let (follow_html, follow_total) = door_section(l, floors, true, may_reveal, revealed, shown);
    if total == 0 {
        html = format!(
            r#"<section class="card"><p class="muted">{}</p></section>"#,
            esc(none)
        );
    }
    if follow_total > 0 {
        html.push_str(&format!(
            r#"<h2 id="{follow_id}">{h} · {follow_total} {people}</h2><p class="muted">{note}</p>{follow_html}"#,
            h = l.t("待单管复检、待重采（居家）", "Retests and re-samples due at home"),
            people = l.t("人", "people"),
            note = l.t(
                "这些人本轮已采样，不是漏采：混管异常后的单管复检或无效管后的重采，因居家管控须上门采集。用所注明的采样管，登记后即从名单去掉。",
                "These people are already sampled in this round, not missed: a single-tube retest after an abnormal pool or a re-sample after an invalid tube, taken at their door because they are held at home. Use the tube named; they leave the list once the swab is registered."
            ),
        ));
    }
    (html, total, follow_total)
}

/// The preview notice of a round not yet begun (the evening before: the
/// list is the registry's as it is now); nothing once it began.
fn door_preview(l: Lang, state: &str) -> String {
    if state == "planned" {
        format!(
            r#"<p class="notice" id="door-preview">{}</p>"#,
            l.t(
                "预览：本轮尚未开始，名单按当前名册和管控情况生成；开始后以开始时的名单为准，并去掉已采样的人。",
                "Preview: the round has not begun, so the list follows the registry and the control orders as they are now; once it begins it follows the round's own list, less those already swabbed."
            )
        )
    } else {
        String::new()
    }
}

/// "N 人 · by building and floor; phones masked" (or the audited reveal).
fn door_summary(l: Lang, total: usize, shown: &Shown, by: (&str, &str)) -> String {
    format!(
        r#"<p class="muted">{total} {people} · {how}</p>"#,
        people = l.t("人", "people"),
        how = if shown.is_some() {
            format!(
                "{}{}",
                l.t(by.0, by.1),
                l.t(
                    "；此处显示的完整电话已记入审计日志",
                    "; the full phone shown here is in the audit log"
                )
            )
        } else {
            format!(
                "{}{}",
                l.t(by.0, by.1),
                l.t("；电话已脱敏", "; phones masked")
            )
        },
    )
}

/// `reveal`: a resident of the list whose full phone numbers to show.
async fn door_body(
    s: &AppState,
    a: &Auth,
    l: Lang,
    id: &str,
    q: &GridQuery,
    reveal: Option<&str>,
) -> Result<(String, String), WebError> {
    let round = parse_key(l, id)?;
    let grid = match (q.grid.as_deref(), q.community.as_deref()) {
        (Some(grid), None) => grid,
        (None, Some(community)) => {
            let community = parse_key(l, community)?;
            return door_community_body(s, a, l, round, community, reveal).await;
        }
        (None, None) => return door_grids_body(s, a, l, round).await,
        (Some(_), Some(_)) => {
            return Err(WebError::bad_request(l.t(
                "请只给出网格或社区之一",
                "Give a grid or a community, not both",
            )))
        }
    };
    let grid = parse_key(l, grid)?;
    let floors = gw_app::testing::door_to_door(&s.store, &s.clock, &a.principal, round, grid)
        .await
        .map_err(|e| auth_err(l, e))?;
    // A phone is revealed only for someone the list holds.
    let grid_place = gw_app::access::place_of(&s.store, "grid", grid).await?;
    let may_reveal = a.principal.can(
        gw_domain::access::Action::Reveal(gw_domain::access::Field::Phone),
        &grid_place,
        s.clock.now_ms(),
    );
    let revealed = match reveal {
        Some(id)
            if floors
                .iter()
                .any(|f| f.residents.iter().any(|d| d.resident.id() == Some(id))) =>
        {
            super::reveal_phones(s, a, l, &[id]).await?
        }
        _ => std::collections::HashMap::new(),
    };
    let mut shown: Shown = None;
    // Named on the page and on paper: the team at the door knows whose list it holds.
    let g = s.store.grid(grid.street, grid.id).await?;
    let round_row = s.store.round(round.street, round.id).await?;
    let round_name = round_row.name;
    let preview = door_preview(l, &round_row.state);
    let (html, total, _) = door_grid_html(
        l,
        &floors,
        may_reveal,
        &revealed,
        &mut shown,
        l.t(
            "本网格没有尚未采样、需要入户采样的人。",
            "Nobody in this grid still to be sampled is to be sampled at their door.",
        ),
        "door-follow-ups",
    );
    let reveal = if may_reveal {
        super::reveal_form(
            a,
            l,
            &format!("/rounds/{round}/door-to-door?grid={grid}"),
            shown.as_ref().map(|(w, n)| (w.as_str(), n.as_slice())),
        )
    } else {
        String::new()
    };
    // The grid's community's whole list, for whoever may read it.
    let community = Key {
        street: g.street_id,
        id: g.community_id,
    };
    let whole = if gw_app::testing::may_read_community_door_list(
        &s.store,
        &s.clock,
        &a.principal,
        round,
        community,
    )
    .await
    .is_ok()
    {
        format!(
            r#"<p class="noprint"><a id="door-community-link" href="/rounds/{round}/door-to-door?community={community}">{} · {}</a></p>"#,
            esc(&g.community_name),
            l.t(
                "全社区名单（按网格，可打印）",
                "the whole community's list (by grid, printable)"
            )
        )
    } else {
        String::new()
    };
    let body = format!(
        r#"{back}<h1>{h}</h1><p><b>{where_}</b></p>{summary}{whole}{preview}{reveal}{html}<p class="actions noprint"><button type="button" onclick="print()">{print}</button></p>"#,
        back = back(s, a, l, round),
        h = l.t("入户采样名单", "Door-to-door list"),
        where_ = esc(&format!("{round_name} · {} {}", g.community_name, g.name)),
        summary = door_summary(l, total, &shown, ("按楼栋和楼层", "by building and floor")),
        print = l.t("打印（A4）", "Print (A4)"),
    );
    Ok((
        format!("{} · {}", g.name, l.t("入户采样名单", "Door-to-door list")),
        body,
    ))
}

/// A whole community's door-to-door list (`community=`): every grid of it
/// in turn, each as its own list shows it, each grid starting a new sheet
/// when printed (`.door-grid`): the team the community sends out at dawn
/// carries one list.
async fn door_community_body(
    s: &AppState,
    a: &Auth,
    l: Lang,
    round: Key,
    community: Key,
    reveal: Option<&str>,
) -> Result<(String, String), WebError> {
    let grids =
        gw_app::testing::door_to_door_community(&s.store, &s.clock, &a.principal, round, community)
            .await
            .map_err(|e| auth_err(l, e))?;
    let now = s.clock.now_ms();
    // Phones are revealed per grid, as on the grid's own list.
    let cplace = gw_app::access::place_of(&s.store, "community", community).await?;
    let mut may_reveal = std::collections::HashMap::new();
    for g in &grids {
        let place = gw_domain::access::Place {
            grid: g.grid.parse::<Key>().ok().map(|k| k.id),
            ..cplace
        };
        may_reveal.insert(
            g.grid.clone(),
            a.principal.can(
                gw_domain::access::Action::Reveal(gw_domain::access::Field::Phone),
                &place,
                now,
            ),
        );
    }
    let revealed = match reveal {
        Some(id)
            if grids.iter().any(|g| {
                may_reveal[&g.grid]
                    && g.floors
                        .iter()
                        .any(|f| f.residents.iter().any(|d| d.resident.id() == Some(id)))
            }) =>
        {
            super::reveal_phones(s, a, l, &[id]).await?
        }
        _ => std::collections::HashMap::new(),
    };
    let mut shown: Shown = None;
    let mut html = String::new();
    let mut total = 0;
    for g in &grids {
        let (grid_html, n, _) = door_grid_html(
            l,
            &g.floors,
            may_reveal[&g.grid],
            &revealed,
            &mut shown,
            l.t(
                "本网格没有需要入户采样的人。",
                "Nobody in this grid is to be sampled at their door.",
            ),
            &format!("door-follow-ups-{}", g.grid),
        );
        total += n;
        html.push_str(&format!(
            r#"<section class="door-grid" data-grid="{k}"><h2 class="grid-head">{name} · {n} {people} <small class="noprint"><a href="/rounds/{round}/door-to-door?grid={k}">{one}</a></small></h2>{grid_html}</section>"#,
            k = esc(&g.grid),
            name = esc(&g.name),
            people = l.t("人", "people"),
            one = l.t("本网格名单", "this grid's list"),
        ));
    }
    if grids.is_empty() {
        html = format!(
            r#"<section class="card"><p class="muted">{}</p></section>"#,
            l.t("本社区没有网格。", "This community has no grid.")
        );
    }
    let reveal = if may_reveal.values().any(|m| *m) {
        super::reveal_form(
            a,
            l,
            &format!("/rounds/{round}/door-to-door?community={community}"),
            shown.as_ref().map(|(w, n)| (w.as_str(), n.as_slice())),
        )
    } else {
        String::new()
    };
    let c = s
        .store
        .communities(None, Some(community.street))
        .await?
        .into_iter()
        .find(|c| c.id == community.id)
        .map(|c| c.name)
        .unwrap_or_default();
    let round_row = s.store.round(round.street, round.id).await?;
    let body = format!(
        r#"{back}<h1>{h}</h1><p><b>{where_}</b></p>{summary}{preview}{reveal}<div id="door-community" data-community="{community}">{html}</div><p class="actions noprint"><button type="button" onclick="print()">{print}</button></p>"#,
        back = back(s, a, l, round),
        h = l.t(
            "入户采样名单（全社区）",
            "Door-to-door list (whole community)"
        ),
        where_ = esc(&format!("{} · {c}", round_row.name)),
        summary = door_summary(
            l,
            total,
            &shown,
            ("按网格、楼栋和楼层", "by grid, building and floor")
        ),
        preview = door_preview(l, &round_row.state),
        print = l.t(
            "打印（A4，每个网格另起一页）",
            "Print (A4, each grid on a new sheet)"
        ),
    );
    Ok((
        format!("{c} · {}", l.t("入户采样名单", "Door-to-door list")),
        body,
    ))
}

// ----- re-samples ------------------------------------------------------------------------

/// The territory a re-sample list is asked for: one of them, or none (the
/// reader's grids, each with its count).
#[derive(Debug, Deserialize, Default)]
pub struct ResampleQuery {
    pub community: Option<String>,
    pub grid: Option<String>,
    pub building: Option<String>,
}

/// The link to the round's re-sample list, for the round's page: only once
/// a tube came back invalid (the list is empty before).
pub(super) async fn resamples_link(s: &AppState, l: Lang, round: Key) -> Result<String, WebError> {
    let any = s
        .store
        .round_follow_ups(round.street, round.id)
        .await?
        .iter()
        .any(|f| f.kind == "resample");
    Ok(if any {
        format!(
            r#" <a class="button" href="/rounds/{round}/resamples" id="resamples-link">{}</a>"#,
            l.t("重采名单", "Re-sample list")
        )
    } else {
        String::new()
    })
}

pub async fn resamples(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    page: Page,
    Path(id): Path<String>,
    Query(q): Query<ResampleQuery>,
) -> Response {
    let r = resamples_body(&s, &a, page.lang, &id, &q, None).await;
    page.answer(r)
}

/// The re-sample list again with one listed resident's full phone numbers
/// (form field `resident`), for whoever may reveal phones there; audited.
pub async fn resamples_reveal(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    page: Page,
    Path(id): Path<String>,
    Query(q): Query<ResampleQuery>,
    body: axum::body::Bytes,
) -> Response {
    let resident = super::Fields::parse(&body).get("resident").to_string();
    let r = resamples_body(&s, &a, page.lang, &id, &q, Some(&resident)).await;
    page.answer(r)
}

/// A re-sample's state in words and its tag's class.
fn resample_state(l: Lang, state: &str) -> (&'static str, &'static str) {
    match state {
        "open" => ("bad", l.t("待重采", "to swab again")),
        "swabbed" => ("", l.t("已重采，待结果", "swabbed again, result to come")),
        "exempt" => (
            "",
            l.t("已免检，不再重采", "exempt: not to be swabbed again"),
        ),
        "resampled" => ("open", l.t("已重采", "swabbed again")),
        "withdrawn" => (
            "",
            l.t("已取消（结果更正）", "cancelled (result corrected)"),
        ),
        _ => ("", l.t("已结束", "ended")),
    }
}

/// The people of invalid tubes to swab again: per grid of the reader's area
/// without a territory, else the list of one community, grid or building
/// (masked as the API's; `reveal`: a listed resident whose full phone
/// numbers to show, audited).
async fn resamples_body(
    s: &AppState,
    a: &Auth,
    l: Lang,
    id: &str,
    q: &ResampleQuery,
    reveal: Option<&str>,
) -> Result<(String, String), WebError> {
    use gw_store::coverage::Level;
    let round = parse_key(l, id)?;
    let r = s.store.round(round.street, round.id).await?;
    let within = gw_app::coverage::within_of(
        q.community.as_deref(),
        q.grid.as_deref(),
        q.building.as_deref(),
    )
    .map_err(|e| WebError::bad_request(pick(l, &e)))?;
    let h = l.t("重采名单", "Re-sample list");
    let hint = l.t(
        "这些人所在的混管检测结果无效，须重新采样：请通知本人到采样点，扫码页选“重采（原管无效）”后扫码；住户被封控或临时管控的人不能下楼，由入户采样队上门重采（也在入户采样名单上）。重采管出结果后自动变为“已重采”。",
        "These people's pooled tube came back invalid: they must be swabbed again. Tell them to come to a point, where the station chooses “re-sample (tube was invalid)” before scanning; those whose household is sealed or under temporary control cannot come down: a door-to-door team swabs them again (they are on the door-to-door list too). Once that tube has a result they show as swabbed again.",
    );
    let Some(within) = within else {
        // The reader's grids, each with how many are still to swab again.
        let rows = gw_app::coverage::grid_rows(&s.store, &s.clock, &a.principal, round)
            .await
            .map_err(|e| auth_err(l, e))?;
        let any = s
            .store
            .round_follow_ups(round.street, round.id)
            .await?
            .iter()
            .any(|f| f.kind == "resample");
        let mut names: std::collections::HashMap<String, String> = Default::default();
        let mut li = String::new();
        if any {
            let mut communities: Vec<&str> = rows.iter().map(|r| r.community.as_str()).collect();
            communities.sort_unstable();
            communities.dedup();
            for c in communities {
                if let Ok(ck) = c.parse::<Key>() {
                    for g in s.store.grids(None, Some((ck.street, ck.id))).await? {
                        names.insert(
                            Key {
                                street: g.street_id,
                                id: g.id,
                            }
                            .to_string(),
                            format!("{} · {}", g.community_name, g.name),
                        );
                    }
                }
            }
            for row in &rows {
                let Ok(g) = row.grid.parse::<Key>() else {
                    continue;
                };
                let list = gw_app::coverage::resamples(
                    &s.store,
                    &s.clock,
                    &a.principal,
                    round,
                    (Level::Grid, g),
                )
                .await
                .map_err(|e| auth_err(l, e))?;
                if list.is_empty() {
                    continue;
                }
                let open = list.iter().filter(|x| x.state == "open").count();
                li.push_str(&format!(
                    r#"<li><a class="row" href="/rounds/{round}/resamples?grid={g}"><span>{name}</span><span class="tag {c}">{n}</span></a></li>"#,
                    name = esc(names.get(&row.grid).map_or(row.grid.as_str(), String::as_str)),
                    c = if open > 0 { "bad" } else { "open" },
                    n = esc(&match l {
                        Lang::Zh => format!("待重采 {open} / 共 {}", list.len()),
                        Lang::En => format!("{open} to swab again / {} in all", list.len()),
                    }),
                ));
            }
        }
        let body = grid_index(
            &back(s, a, l, round),
            GridIndex {
                heading: h,
                round_name: &r.name,
                hint,
                by_grid: l.t("按网格", "By grid"),
                list_id: "resample-grids",
                items: &li,
                none_id: "no-resamples",
                none: l.t(
                    "您的辖区本轮没有需要重采的人。",
                    "Nobody in your area is to be swabbed again in this round.",
                ),
            },
        );
        return Ok((format!("{} · {h}", r.name), body));
    };
    let (level, k) = within;
    let list = gw_app::coverage::resamples(&s.store, &s.clock, &a.principal, round, within)
        .await
        .map_err(|e| auth_err(l, e))?;
    let kind = gw_app::coverage::level_name(level);
    let place = gw_app::access::place_of(&s.store, kind, k).await?;
    let may_reveal = a.principal.can(
        gw_domain::access::Action::Reveal(gw_domain::access::Field::Phone),
        &place,
        s.clock.now_ms(),
    );
    let revealed = match reveal {
        Some(id) if list.iter().any(|x| key_of(&x.resident) == id) => {
            super::reveal_phones(s, a, l, &[id]).await?
        }
        _ => std::collections::HashMap::new(),
    };
    let where_ = super::territory_name(s, (level, k)).await?;
    let today = s.clock.today();
    let full = full_names(s, a);
    let mut shown: Option<(String, Vec<String>)> = None;
    let mut li = String::new();
    for x in &list {
        let v = x.masked(today);
        let p = &v.resident;
        let name = if full {
            p.name.clone()
        } else {
            gw_domain::mask::name(&p.name)
        };
        let masked: Vec<&str> = p.phones.iter().map(|ph| ph.number.as_str()).collect();
        let phones = match revealed.get(&p.id) {
            Some(numbers) => {
                shown = Some((
                    format!("{name} {}", p.address.as_deref().unwrap_or("")),
                    numbers.clone(),
                ));
                esc(&numbers.join(" "))
            }
            None if may_reveal && !masked.is_empty() && x.state == "open" => format!(
                "{} {}",
                esc(&masked.join(" ")),
                super::reveal_button(l, &p.id)
            ),
            None => esc(&masked.join(" ")),
        };
        let (c, st) = resample_state(l, &x.state);
        // Held at home: a door-to-door team swabs them again, nobody tells
        // them to come down.
        let held = match x.held_at_home {
            Some(status) if x.state == "open" => format!(
                r#" <span class="tag bad held-at-home">{}</span>"#,
                esc(&match l {
                    Lang::Zh => format!("住户{}：入户重采，勿叫下楼", status.label_zh()),
                    Lang::En => format!(
                        "household under {} control: re-sample at the door, do not call them down",
                        status.code()
                    ),
                })
            ),
            _ => String::new(),
        };
        li.push_str(&format!(
            r#"<li class="row2 resample-{state}"><span><b>{name}</b> {addr}{held} <span class="muted">{phones} · {lt} {tube} · {at}</span></span><span class="tag {c}">{st}</span></li>"#,
            state = esc(&x.state),
            name = esc(&name),
            addr = esc(p.address.as_deref().unwrap_or("")),
            lt = l.t("原管", "tube"),
            tube = esc(&x.tube),
            at = esc(&gw_domain::notify::clock_text(x.created_ms)),
        ));
    }
    if li.is_empty() {
        li = format!(
            r#"<li class="muted" id="no-resamples">{}</li>"#,
            l.t(
                "这里本轮没有需要重采的人。",
                "Nobody here is to be swabbed again in this round."
            )
        );
    }
    let open = list.iter().filter(|x| x.state == "open").count();
    let reveal_form = if may_reveal {
        super::reveal_form(
            a,
            l,
            &format!("/rounds/{round}/resamples?{kind}={k}"),
            shown.as_ref().map(|(w, n)| (w.as_str(), n.as_slice())),
        )
    } else {
        String::new()
    };
    let body = format!(
        r#"{back}<h1>{h}</h1><p><b>{where_}</b></p><p class="muted">{counts} · {masked}</p><p class="hint">{hint}</p>{reveal_form}<section class="card"><ul class="list" id="resamples">{li}</ul></section><p class="noprint"><a href="/rounds/{round}/resamples">{all}</a></p>"#,
        back = back(s, a, l, round),
        where_ = esc(&format!("{} · {where_}", r.name)),
        counts = esc(&match l {
            Lang::Zh => format!("待重采 {open} 人 · 共 {} 人", list.len()),
            Lang::En => format!("{open} to swab again · {} in all", list.len()),
        }),
        masked = if shown.is_some() {
            l.t(
                "证件号已脱敏；此处显示的完整电话已记入审计日志",
                "document numbers masked; the full phone shown here is in the audit log",
            )
        } else {
            l.t("证件号和电话已脱敏", "document numbers and phones masked")
        },
        all = l.t("← 各网格的重采名单", "← Every grid's re-sample list"),
    );
    Ok((format!("{} · {h}", r.name), body))
}

/// A listed resident's key, as the page's reveal button names them.
fn key_of(r: &gw_store::registry::ResidentRow) -> String {
    Key {
        street: r.street_id,
        id: r.id,
    }
    .to_string()
}

// ----- round over round ------------------------------------------------------------------

/// `?community=`, `?grid=` or `?building=`: the territory a page is about.
#[derive(Debug, Deserialize)]
pub struct TerritoryQuery {
    pub community: Option<String>,
    pub grid: Option<String>,
    pub building: Option<String>,
}

pub async fn compare(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    page: Page,
    Path(id): Path<String>,
    Query(q): Query<TerritoryQuery>,
) -> Response {
    let r = compare_body(&s, &a, page.lang, &id, &q).await;
    page.answer(r)
}

/// Round over round in a community, grid or building: the round compared
/// with by name, each building and point then and now, and the people
/// sampled then and not now, with their masked phones to call them.
async fn compare_body(
    s: &AppState,
    a: &Auth,
    l: Lang,
    id: &str,
    q: &TerritoryQuery,
) -> Result<(String, String), WebError> {
    let round = parse_key(l, id)?;
    let within = super::territory_of(
        l,
        q.community.as_deref(),
        q.grid.as_deref(),
        q.building.as_deref(),
    )?;
    let c = gw_app::coverage::compare(&s.store, &s.clock, &a.principal, round, within)
        .await
        .map_err(|e| auth_err(l, e))?;
    let where_ = super::territory_name(s, within).await?;
    let tq = super::territory_query(within);
    let this = s.store.round(round.street, round.id).await?;
    let before = match c.before.as_deref().map(str::parse::<Key>) {
        Some(Ok(b)) => Some(s.store.round(b.street, b.id).await?),
        _ => None,
    };
    let n = |v: i64| format!(r#"<td class="n">{v}</td>"#);
    let mut rows = String::new();
    let (mut e, mut sb, mut sn, mut lp) = (0, 0, 0, 0);
    for b in &c.buildings {
        e += b.expected;
        sb += b.sampled_before;
        sn += b.sampled;
        lp += b.lapsed;
        rows.push_str(&format!(
            r#"<tr><td><a href="/rounds/{round}/missed?building={k}">{name}</a></td><td class="n{}">{}</td>{}{}{}</tr>"#,
            if b.lapsed > 0 { " warn" } else { "" },
            b.lapsed,
            n(b.sampled_before),
            n(b.sampled),
            n(b.expected),
            k = esc(&b.building),
            name = esc(&b.name),
        ));
    }
    if !c.buildings.is_empty() {
        rows.push_str(&format!(
            r#"<tr class="total"><th>{}</th><th class="n">{lp}</th><th class="n">{sb}</th><th class="n">{sn}</th><th class="n">{e}</th></tr>"#,
            l.t("合计", "Total")
        ));
    }
    let mut points = String::new();
    let (mut pb, mut pn) = (0, 0);
    for p in &c.points {
        pb += p.people_before;
        pn += p.people;
        points.push_str(&format!(
            "<tr><td>{}</td>{}{}</tr>",
            esc(&p.name),
            n(p.people_before),
            n(p.people)
        ));
    }
    if !c.points.is_empty() {
        points.push_str(&format!(
            r#"<tr class="total"><th>{}</th><th class="n">{pb}</th><th class="n">{pn}</th></tr>"#,
            l.t("合计", "Total")
        ));
    }
    let none = |cols: usize| {
        format!(
            r#"<tr><td colspan="{cols}" class="muted">{}</td></tr>"#,
            l.t("无", "None")
        )
    };
    let full = full_names(s, a);
    const SHOWN: usize = 200;
    let mut lapsed = String::new();
    for r in c.lapsed.iter().take(SHOWN) {
        let name = if full {
            r.name.clone()
        } else {
            gw_domain::mask::name(&r.name)
        };
        let phones: Vec<&str> = r.phones.iter().map(|p| p.number.as_str()).collect();
        let phones = if phones.is_empty() {
            format!(r#"<span class="muted">{}</span>"#, l.t("无", "none"))
        } else {
            esc(&phones.join(" "))
        };
        lapsed.push_str(&format!(
            r#"<li><div><b>{}</b></div><div>{}</div><div>{}：{phones}</div></li>"#,
            esc(&name),
            esc(r.address.as_deref().unwrap_or("")),
            l.t("电话", "Phone"),
        ));
    }
    if c.lapsed.len() > SHOWN {
        lapsed.push_str(&format!(
            r#"<li class="muted">{}</li>"#,
            esc(&match l {
                Lang::Zh => format!("另有 {} 人未列出，见未检名单。", c.lapsed.len() - SHOWN),
                Lang::En => format!(
                    "{} more not listed: see the missed list.",
                    c.lapsed.len() - SHOWN
                ),
            })
        ));
    }
    let against = match &before {
        Some(b) => format!(
            r#"<p id="compare-rounds">{} <b>{}</b> {} <b id="compare-before">{}</b></p>"#,
            l.t("本轮", "This round"),
            esc(&this.name),
            l.t("对比上一轮", "against the round before,"),
            esc(&b.name)
        ),
        None => format!(
            r#"<p class="muted" id="compare-rounds">{}</p>"#,
            l.t(
                "本街道没有更早的、包含此处的轮次可比。",
                "The street has no earlier round over this place to compare with."
            )
        ),
    };
    let body = format!(
        r#"{back}<h1>{h}</h1><p><b>{where_}</b></p>{against}
<section class="card"><h2>{hb}</h2><div class="scroll"><table id="compare"><thead><tr><th>{lb}</th><th class="n">{ll}</th><th class="n">{lbf}</th><th class="n">{ln}</th><th class="n">{le}</th></tr></thead><tbody>{rows}</tbody></table></div></section>
<section class="card"><h2>{hp}</h2><div class="scroll"><table id="compare-points"><thead><tr><th>{lpt}</th><th class="n">{lpb}</th><th class="n">{lpn}</th></tr></thead><tbody>{points}</tbody></table></div><p class="hint">{hintp}</p></section>
<section class="card"><h2>{hl} <span class="tag">{nl}</span></h2><p class="hint">{hintl} <a href="/rounds/{round}/missed?{tq}">{lmissed}</a></p><ul class="list" id="lapsed">{lapsed}</ul></section>"#,
        back = back(s, a, l, round),
        h = l.t("与上一轮对比", "Round over round"),
        where_ = esc(&where_),
        hb = l.t("各楼栋", "By building"),
        lb = l.t("楼栋", "Building"),
        le = l.t("本轮应检", "Expected"),
        lbf = l.t("上轮已检", "Sampled before"),
        ln = l.t("本轮已检", "Sampled now"),
        ll = l.t("上轮检本轮未检", "Lapsed"),
        rows = if rows.is_empty() { none(5) } else { rows },
        hp = l.t("各采样点（人数）", "By testing point (people)"),
        lpt = l.t("采样点", "Point"),
        lpb = l.t("上轮", "Before"),
        lpn = l.t("本轮", "Now"),
        points = if points.is_empty() { none(3) } else { points },
        hintp = l.t(
            "本社区两轮的采样点，按名称对应；上轮有、本轮没有的点也列出，本轮计 0。",
            "The community's points in either round, matched by name; a point only the round before had is listed with 0 now."
        ),
        hl = l.t(
            "上轮检了、本轮尚未检的人",
            "Sampled last round, not yet this one"
        ),
        nl = c.lapsed.len(),
        hintl = l.t(
            "电话已脱敏；需要完整电话打电话催检，请到",
            "Phones are masked; for a full number to call them, use"
        ),
        lmissed = l.t("未检名单（查看记入审计日志）", "the missed list (each look audited)"),
        lapsed = if lapsed.is_empty() {
            format!(r#"<li class="muted">{}</li>"#, l.t("无", "None"))
        } else {
            lapsed
        },
    );
    Ok((
        format!("{where_} · {}", l.t("与上一轮对比", "Round over round")),
        body,
    ))
}

// ----- lab upload ---------------------------------------------------------------------

pub async fn lab_form(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    page: Page,
    Path(id): Path<String>,
) -> Response {
    let l = page.lang;
    let round = match parse_key(l, &id) {
        Ok(k) => k,
        Err(e) => return page.error(e),
    };
    // Results are posted street-wide (as `gw_app::lab` checks on upload).
    let allowed = async {
        let place = gw_app::access::place_of(
            &s.store,
            "street",
            Key {
                street: round.street,
                id: round.street,
            },
        )
        .await?;
        gw_app::access::authorize(
            &a.principal,
            &s.clock,
            gw_domain::access::Action::PostResults,
            &place,
        )?;
        Ok::<_, WebError>(s.store.round(round.street, round.id).await?)
    };
    let r = match allowed.await {
        Ok(r) => r,
        Err(e) => return page.error(e),
    };
    lab_page(&page, &a, round, &r.name, StatusCode::OK, "")
}

/// The lab's page: the results upload, then the correction form with
/// `correction` (what the last correction did, or the form to fix) above it.
fn lab_page(
    page: &Page,
    a: &Auth,
    round: Key,
    round_name: &str,
    status: StatusCode,
    correction: &str,
) -> Response {
    let l = page.lang;
    let body = format!(
        r#"<h1>{name} · {h}</h1><section class="card"><form id="upload" class="stack" method="post" action="/rounds/{round}/lab" data-csrf="{csrf}">
<label>{lf}<input type="file" name="file" id="file" accept=".xlsx,.xls,.csv" required></label>
<button class="primary" type="submit" id="go">{b}</button></form><p class="hint">{hint}</p><div id="progress" role="status" aria-live="polite"></div></section><div id="result"></div>{correction}{script}"#,
        name = esc(round_name),
        correction = if correction.is_empty() {
            correction_form(l, a, round, None, &[])
        } else {
            correction.to_string()
        },
        h = l.t("上传检测结果", "Upload test results"),
        csrf = esc(&a.csrf),
        lf = l.t("实验室结果文件（.xlsx、.xls 或 .csv）", "The lab's results file (.xlsx, .xls or .csv)"),
        b = l.t("上传", "Upload"),
        hint = l.t(
            "文件中有任何错误都不会记录任何结果：按提示的工作表、行和列改好后重新上传。",
            "Any problem in the file records nothing: fix the sheet, row and column shown and upload again."
        ),
        script = upload_script(
            l.t("正在上传", "Uploading"),
            l.t("正在核对结果…", "Checking the results…"),
            l.t("请先选择文件。", "Choose a file first."),
            l.t("网络中断，未记录任何结果，请重试。", "The network failed: nothing was recorded. Try again."),
            &format!("/rounds/{round}/lab"),
            false,
        ),
    );
    page.render(status, l.t("上传检测结果", "Upload test results"), &body)
}

/// The correction form (更正结果): barcode, the new result and the reason,
/// all required. `error`: what to fix, shown above it with `typed` (the
/// fields as sent) kept in it.
fn correction_form(
    l: Lang,
    a: &Auth,
    round: Key,
    error: Option<&str>,
    typed: &[(&str, &str)],
) -> String {
    let typed_of = |k: &str| typed.iter().find(|(n, _)| *n == k).map_or("", |(_, v)| *v);
    let options: String = [
        ("negative", l.t("阴性", "negative")),
        ("abnormal", l.t("异常（阳性）", "abnormal (positive)")),
        ("invalid", l.t("无效（需重采）", "invalid (swab again)")),
    ]
    .iter()
    .map(|(v, t)| {
        format!(
            r#"<option value="{v}"{sel}>{t}</option>"#,
            sel = if typed_of("result") == *v {
                " selected"
            } else {
                ""
            },
            t = esc(t)
        )
    })
    .collect();
    format!(
        r#"<section class="card" id="correction"><h2>{h}</h2>{error}<form method="post" action="/rounds/{round}/corrections#correction" class="stack"><input type="hidden" name="csrf" value="{csrf}">
<label>{lb}<input name="barcode" required autocomplete="off" autocapitalize="characters" spellcheck="false" value="{barcode}"></label>
<label>{lr}<select name="result" required><option value="">{pick}</option>{options}</select></label>
<label>{lw}<input name="reason" required maxlength="200" placeholder="{ph}" value="{reason}"></label>
<button class="primary" type="submit">{b}</button></form><p class="hint">{hint}</p></section>"#,
        h = l.t("更正结果", "Correct a result"),
        error = error
            .map(|e| format!(r#"<p class="error" role="alert" id="correction-error">{}</p>"#, esc(e)))
            .unwrap_or_default(),
        csrf = esc(&a.csrf),
        lb = l.t("采样管条码", "Tube barcode"),
        barcode = esc(typed_of("barcode")),
        lr = l.t("更正后的结果", "The corrected result"),
        pick = l.t("请选择", "Choose"),
        lw = l.t("原因（必填，如实验室更正报告编号）", "Reason (required: e.g. the lab's corrected report)"),
        ph = l.t("例如：实验室更正报告 2022-041", "e.g. the lab's corrected report 2022-041"),
        reason = esc(typed_of("reason")),
        b = l.t("更正结果", "Correct the result"),
        hint = l.t(
            "只用于已出结果的混管：原结果引起的处置（异常预警、临时管控、单管复检、消杀任务、重采）会撤销，新结果照常处置，并通知预警群。更正和原因记入审计日志。",
            "For a pooled tube that has a result: what the earlier result set in motion (the alert, temporary control, retests, disinfection, re-samples) is undone, the new result does what any result does, and the alert groups are told. The correction and its reason are in the audit log."
        ),
    )
}

/// The correction form's fields.
#[derive(Debug, Deserialize, Default)]
pub struct CorrectionForm {
    #[serde(default)]
    pub barcode: String,
    #[serde(default)]
    pub result: String,
    #[serde(default)]
    pub reason: String,
}

/// A correction from the lab's page: what the API's
/// `POST /api/v1/rounds/{id}/results/corrections` does, then the lab page
/// with what it undid and did, or the form to fix.
pub async fn lab_correct(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    page: Page,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let l = page.lang;
    let round = match parse_key(l, &id) {
        Ok(k) => k,
        Err(e) => return page.error(e),
    };
    let f = super::Fields::parse(&body);
    let form = CorrectionForm {
        barcode: f.get("barcode").to_string(),
        result: f.get("result").to_string(),
        reason: f.get("reason").to_string(),
    };
    let typed = [
        ("barcode", form.barcode.as_str()),
        ("result", form.result.as_str()),
        ("reason", form.reason.as_str()),
    ];
    let done = gw_app::testing::correct_result(
        &s.store,
        &s.clock,
        &a.principal,
        round,
        &form.barcode,
        &form.result,
        &form.reason,
    )
    .await;
    let (status, html) = match done {
        Ok(c) => {
            if c.notifications > 0 {
                s.alerts.wake();
            }
            let did = match correction_done(&s, &a, l, round, &c).await {
                Ok(h) => h,
                Err(e) => return page.error(e),
            };
            (
                StatusCode::OK,
                did + &correction_form(l, &a, round, None, &[]),
            )
        }
        // Not the caller's to do: the error page (no such round: below).
        Err(e @ gw_app::access::AuthError::Forbidden(_)) => return page.error(auth_err(l, e)),
        Err(e) => {
            let w = auth_err(l, e);
            (
                w.status,
                correction_form(l, &a, round, Some(&pick(l, &w.message)), &typed),
            )
        }
    };
    match s.store.round(round.street, round.id).await {
        Ok(r) => lab_page(&page, &a, round, &r.name, status, &html),
        Err(e) => page.error(e.into()),
    }
}

/// What a correction undid and did, as the API answers it.
async fn correction_done(
    s: &AppState,
    a: &Auth,
    l: Lang,
    round: Key,
    c: &gw_app::testing::Correction,
) -> Result<String, WebError> {
    let word = |r: &str| match r {
        "negative" => l.t("阴性", "negative"),
        "abnormal" => l.t("异常（阳性）", "abnormal (positive)"),
        "invalid" => l.t("无效", "invalid"),
        _ => l.t("无结果", "no result"),
    };
    if !c.changed {
        return Ok(format!(
            r#"<section class="card" id="correction-done"><p class="notice">{}</p></section>"#,
            esc(&match l {
                Lang::Zh => format!("{} 已是“{}”，未改动。", c.barcode, word(&c.after)),
                Lang::En => format!(
                    "{} already is {}: nothing changed.",
                    c.barcode,
                    word(&c.after)
                ),
            })
        ));
    }
    let see_alerts = super::reads_rounds(s, a);
    let mut undone = Vec::new();
    if c.withdrawn_alert.is_some() {
        undone.push(
            l.t("混管异常预警已撤销", "the abnormal-pool alert withdrawn")
                .to_string(),
        );
    }
    if c.released > 0 {
        undone.push(match l {
            Lang::Zh => format!("{} 户解除临时管控", c.released),
            Lang::En => format!("{} households released from temporary control", c.released),
        });
    }
    if c.cancelled > 0 {
        undone.push(match l {
            Lang::Zh => format!("{} 个未做的单管复检或重采已取消", c.cancelled),
            Lang::En => format!("{} open retests or re-samples cancelled", c.cancelled),
        });
    }
    if c.disinfection_withdrawn {
        undone.push(
            l.t(
                "未完成的消杀任务已撤销",
                "the disinfection task, not done, called off",
            )
            .to_string(),
        );
    }
    if undone.is_empty() {
        undone.push(
            l.t(
                "原结果没有需要撤销的处置",
                "the earlier result had set nothing in motion",
            )
            .to_string(),
        );
    }
    let mut did = Vec::new();
    if let Some(al) = &c.alert {
        let link = if see_alerts {
            format!(
                r#" <a href="/rounds/{round}/alerts#alert-{}">{}</a>"#,
                esc(&al.alert),
                l.t("异常处置", "alerts page")
            )
        } else {
            String::new()
        };
        did.push(
            esc(&match l {
                Lang::Zh => format!(
                    "新的混管异常：{}，已派消杀任务",
                    super::packing::alert_done(l, al)
                ),
                Lang::En => format!(
                    "A new abnormal pool: {}, a disinfection task opened",
                    super::packing::alert_done(l, al)
                ),
            }) + &link,
        );
    }
    if c.after == "invalid" {
        let link = if see_alerts {
            format!(
                r#" <a href="/rounds/{round}/resamples">{}</a>"#,
                l.t("重采名单", "re-sample list")
            )
        } else {
            String::new()
        };
        did.push(
            esc(&match l {
                Lang::Zh => format!("管内 {} 人须重新采样", c.resamples),
                Lang::En => format!("the tube's {} people are to be swabbed again", c.resamples),
            }) + &link,
        );
    }
    if c.notifications > 0 {
        did.push(esc(&match l {
            Lang::Zh => format!("已排队向预警群发送 {} 条通知（送达情况见预警群页）", c.notifications),
            Lang::En => format!(
                "{} messages queued for the alert channels (the alert channels page shows their delivery)",
                c.notifications
            ),
        }));
    }
    let li =
        |items: &[String]| -> String { items.iter().map(|t| format!("<li>{t}</li>")).collect() };
    Ok(format!(
        r#"<section class="card" id="correction-done"><h2>{h}</h2><p class="notice">{what}</p><h3>{lu}</h3><ul class="list" id="correction-undone">{u}</ul>{did}</section>"#,
        h = l.t("结果已更正", "Result corrected"),
        what = esc(&match l {
            Lang::Zh => format!(
                "{}：{} → {}（已记入审计日志）",
                c.barcode,
                word(&c.before),
                word(&c.after)
            ),
            Lang::En => format!(
                "{}: {} → {} (in the audit log)",
                c.barcode,
                word(&c.before),
                word(&c.after)
            ),
        }),
        lu = l.t("撤销了", "Undone"),
        u = li(&undone.iter().map(|t| esc(t)).collect::<Vec<_>>()),
        did = if did.is_empty() {
            String::new()
        } else {
            format!(
                r#"<h3>{}</h3><ul class="list" id="correction-did">{}</ul>"#,
                l.t("新结果的处置", "What the new result did"),
                li(&did)
            )
        },
    ))
}

pub async fn lab_submit(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    page: Page,
    Path(id): Path<String>,
    Query(q): Query<crate::api::ResultsFileQuery>,
    body: axum::body::Bytes,
) -> Response {
    let l = page.lang;
    let out = |status: StatusCode, html: String| {
        page.render(
            status,
            l.t("上传检测结果", "Upload test results"),
            &format!(r#"<div id="result"><section class="card">{html}</section></div>"#),
        )
    };
    let round = match parse_key(l, &id) {
        Ok(k) => k,
        Err(e) => return page.error(e),
    };
    let Some(name) = q.filename.filter(|f| !f.trim().is_empty()) else {
        return out(
            StatusCode::BAD_REQUEST,
            format!(
                r#"<p class="error" role="alert">{}</p>"#,
                l.t("请选择结果文件。", "Choose a results file.")
            ),
        );
    };
    use gw_app::lab::UploadError;
    match gw_app::lab::upload_results(&s.store, &s.clock, &a.principal, round, &name, &body).await {
        Ok(done) => {
            if done.summary.notifications > 0 {
                s.alerts.wake();
            }
            match lab_done(&s, &a, l, round, &done).await {
                Ok(html) => out(StatusCode::OK, html),
                Err(e) => page.error(e),
            }
        }
        Err(UploadError::Auth(e)) => page.error(auth_err(l, e)),
        Err(UploadError::File(e)) => out(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                r#"<p class="error" role="alert">{}</p>"#,
                esc(&reason_in(l, &e.to_string()))
            ),
        ),
        Err(UploadError::Rows(issues)) => {
            let mut rows = String::new();
            for i in &issues {
                rows.push_str(&format!(
                    r#"<tr><td>{}</td><td class="n">{}</td><td>{}</td><td>{}</td></tr>"#,
                    esc(&i.sheet),
                    i.row.map_or_else(String::new, |r| r.to_string()),
                    esc(&i.column),
                    esc(&reason_in(l, &i.reason))
                ));
            }
            out(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!(
                    r#"<h2 class="error" role="alert">{h}</h2><div class="scroll"><table id="lab-issues"><thead><tr><th>{ls}</th><th>{lr}</th><th>{lc}</th><th>{lw}</th></tr></thead><tbody>{rows}</tbody></table></div>"#,
                    h = match l {
                        Lang::Zh => format!("文件有 {} 处错误，未记录任何结果：请逐条改正后重新上传。", issues.len()),
                        Lang::En => format!("The file has {} problem(s) and nothing was recorded: fix each and upload again.", issues.len()),
                    },
                    ls = l.t("工作表", "Sheet"),
                    lr = l.t("行", "Row"),
                    lc = l.t("列", "Column"),
                    lw = l.t("怎么改", "What to fix"),
                ),
            )
        }
    }
}

/// A refusal's reason in the reader's language, each of its parts kept. A
/// reason can be two `中文 / English` parts in a row, the second a hint
/// (`条码 … 不是本轮次的试管 / barcode … is not a tube of this round（轮次或条码有误）/ (wrong round or misread barcode)`):
/// taking the halves at the first separator alone dropped the hint in
/// Chinese and mixed the languages in English.
pub(crate) fn reason_in(l: Lang, text: &str) -> String {
    let Some((first, mut rest)) = gw_domain::text::split_languages(text) else {
        return text.to_string();
    };
    let (mut zh, mut en) = (first.to_string(), String::new());
    // `rest`: an English half, then perhaps the next part's Chinese half,
    // which starts at its first character that is not ASCII.
    while let Some((both, next)) = gw_domain::text::split_languages(rest) {
        match both.find(|c: char| !c.is_ascii()).filter(|&at| at > 0) {
            Some(at) => {
                join_english(&mut en, &both[..at]);
                zh.push_str(both[at..].trim());
                rest = next;
            }
            None => return pick(l, text),
        }
    }
    join_english(&mut en, rest);
    match l {
        Lang::Zh => zh,
        Lang::En => en,
    }
}

/// Adds a part to an English sentence: a bracket after a space, another
/// clause after a semicolon.
fn join_english(en: &mut String, part: &str) {
    let part = part.trim().trim_start_matches(['；', ';']).trim();
    if en.is_empty() {
        en.push_str(part);
    } else if part.starts_with('(') {
        en.push(' ');
        en.push_str(part);
    } else {
        en.push_str("; ");
        en.push_str(part);
    }
}

/// A note's words, then the barcodes it is about (a space between in English).
fn listed(l: Lang, head: impl std::fmt::Display, list: &[String]) -> String {
    format!("{head}{}{}", l.t("", " "), barcodes(l, list))
}

/// Barcodes as a line: the first 20, then how many in all.
fn barcodes(l: Lang, list: &[String]) -> String {
    const SHOWN: usize = 20;
    let mut out = list
        .iter()
        .take(SHOWN)
        .map(|b| esc(b))
        .collect::<Vec<_>>()
        .join(l.t("、", ", "));
    if list.len() > SHOWN {
        out.push_str(&match l {
            Lang::Zh => format!(" …（共 {} 管）", list.len()),
            Lang::En => format!(" … ({} tubes in all)", list.len()),
        });
    }
    out
}

/// What an accepted results file did, as the API and the command line say
/// it: the counts by result, each abnormal pool traced (its page linked for
/// who may open it), the invalid tubes whose people are swabbed again, and
/// what the chain of counts says about the tubes (still open at their point,
/// never packed, never received).
async fn lab_done(
    s: &AppState,
    a: &Auth,
    l: Lang,
    round: Key,
    done: &gw_app::lab::LabUpload,
) -> Result<String, WebError> {
    let sum = &done.summary;
    let abnormal = sum.alerts.len();
    let mut html = format!(
        r#"<h2 id="lab-done">{h}</h2><p class="muted">{file}</p>
<section class="stats"><div><b id="lab-recorded">{rec}</b><span>{lrec}</span></div><div><b id="lab-negative">{neg}</b><span>{lneg}</span></div><div><b id="lab-abnormal" class="{ac}">{abnormal}</b><span>{labn}</span></div><div><b id="lab-invalid" class="{ic}">{inv}</b><span>{linv}</span></div></section>"#,
        h = l.t("结果已记录", "Results recorded"),
        file = esc(&match l {
            Lang::Zh => format!("{}：读取 {} 管", done.file, done.rows),
            Lang::En => format!("{}: {} tubes read", done.file, done.rows),
        }),
        rec = sum.recorded,
        lrec = l.t("本次记录", "recorded now"),
        neg = sum.negative,
        lneg = l.t("阴性", "negative"),
        ac = if abnormal > 0 { "warn" } else { "" },
        labn = l.t("异常", "abnormal"),
        inv = sum.invalid,
        ic = if sum.invalid > 0 { "warn" } else { "" },
        linv = l.t("无效（重采）", "invalid (swab again)"),
    );
    let mut notes = String::new();
    let mut note = |id: &str, cls: &str, text: String| {
        notes.push_str(&format!(r#"<li id="{id}" class="{cls}">{text}</li>"#));
    };
    if !sum.already.is_empty() {
        note(
            "lab-already",
            "muted",
            esc(&match l {
                Lang::Zh => format!("{} 管此前已记录同样结果，未改动。", sum.already.len()),
                Lang::En => format!(
                    "{} tubes already had this result: left as they were.",
                    sum.already.len()
                ),
            }),
        );
    }
    for sheet in &done.skipped_sheets {
        note(
            "lab-skipped",
            "muted",
            esc(&match l {
                Lang::Zh => format!("跳过工作表“{sheet}”（没有条码和结果列）。"),
                Lang::En => format!("Sheet “{sheet}” passed over (no barcode and result columns)."),
            }),
        );
    }
    // Each abnormal pool, traced in the same transaction as its result.
    let see_alerts = super::reads_rounds(s, a);
    let mut pools = String::new();
    for al in &sum.alerts {
        let point = match al.point.parse::<Key>() {
            Ok(k) => s
                .store
                .point(k.street, k.id)
                .await
                .map_or_else(|_| al.point.clone(), |p| p.name),
            Err(_) => al.point.clone(),
        };
        let what = super::packing::alert_line(l, al, &point);
        let link = if see_alerts {
            format!(
                r#" <a href="/rounds/{round}/alerts#alert-{}">{}</a>"#,
                esc(&al.alert),
                l.t("异常处置", "alerts page")
            )
        } else {
            String::new()
        };
        pools.push_str(&format!(r#"<li class="alert">{}{link}</li>"#, esc(&what)));
    }
    if !pools.is_empty() {
        html.push_str(&format!(
            r#"<h3>{}</h3><ul class="list" id="lab-alerts">{pools}</ul>"#,
            l.t("异常管与追踪", "Abnormal pools, traced")
        ));
    }
    if !sum.invalid_tubes.is_empty() {
        // The list of whom to swab again, for who may open it.
        let resamples = if see_alerts && sum.resamples > 0 {
            format!(
                r#" <a href="/rounds/{round}/resamples" id="lab-resamples">{}</a>"#,
                l.t("重采名单", "re-sample list")
            )
        } else {
            String::new()
        };
        note(
            "lab-invalid-tubes",
            "warn",
            listed(l, esc(&match l {
                    Lang::Zh => format!(
                        "无效 {} 管，其中 {} 人需重采（复检管无效的，复检仍待重新采样）：",
                        sum.invalid_tubes.len(),
                        sum.resamples
                    ),
                    Lang::En => format!(
                        "{} tubes invalid: {} people to be swabbed again (an invalid retest tube's retest stays open, to be swabbed again):",
                        sum.invalid_tubes.len(),
                        sum.resamples
                    ),
                }), &sum.invalid_tubes) + &resamples,
        );
    }
    if !sum.still_open.is_empty() {
        note(
            "lab-still-open",
            "error",
            listed(l, l.t(
                    "注意：这些采样管仍在采样点使用中，实验室不可能收到，请核对条码：",
                    "Warning: these tubes are still open at their point (being filled): the lab cannot have them; check the barcodes:"
                ), &sum.still_open),
        );
    }
    let never_packed: Vec<String> = sum
        .unpacked
        .iter()
        .filter(|b| !sum.still_open.contains(b))
        .cloned()
        .collect();
    if !never_packed.is_empty() {
        note(
            "lab-unpacked",
            "warn",
            listed(l, esc(&match l {
                    Lang::Zh => format!(
                        "{} 管未在采样点装袋即出结果（采样点可事后补登装袋）：",
                        never_packed.len()
                    ),
                    Lang::En => format!(
                        "{} tubes resulted but never packed at their point (the point can record their bag after the fact):",
                        never_packed.len()
                    ),
                }), &never_packed),
        );
    }
    if !sum.not_received.is_empty() {
        let place = s
            .store
            .place_of(round.street, "street", round.street)
            .await?;
        let receipt = if a.principal.can(
            gw_domain::access::Action::ReadLogistics,
            &place,
            s.clock.now_ms(),
        ) {
            format!(
                r#" <a href="/rounds/{round}/reconciliation">{}</a>"#,
                l.t("补登接收 · 数据校对", "record the receipt · reconciliation")
            )
        } else {
            String::new()
        };
        note(
            "lab-not-received",
            "warn",
            listed(l, esc(&match l {
                    Lang::Zh => format!(
                        "{} 管所在箱未登记实验室接收即出结果，请核对条码或补登接收：",
                        sum.not_received.len()
                    ),
                    Lang::En => format!(
                        "{} tubes resulted though the lab never recorded receiving their box: check the barcodes, or record the receipt:",
                        sum.not_received.len()
                    ),
                }), &sum.not_received) + &receipt,
        );
    }
    if sum.retests_resolved > 0 || sum.households_released > 0 {
        note(
            "lab-retests",
            "",
            esc(&match l {
                Lang::Zh => format!(
                    "单管复检：{} 人有了结果；{} 户解除临时管控。",
                    sum.retests_resolved, sum.households_released
                ),
                Lang::En => format!(
                    "Retests: {} resolved; {} households released from temporary control.",
                    sum.retests_resolved, sum.households_released
                ),
            }),
        );
    }
    // The abnormal pools' temporary control holds pushed call-downs (暂停下楼);
    // the groups told of it, or not (the results stand either way).
    if sum.held.notice_failed {
        note(
            "lab-held",
            "error",
            esc(l.t(
                "暂停下楼通知未能发出：异常管的临时管控已生效，但已推送叫号的群尚未被告知；服务器将在几分钟内重发，情况紧急请手动通知相关楼栋群。",
                "The stay-home notice could not be queued: the abnormal pools' temporary control stands, but the groups of the pushed call-downs were not told yet; the server tells them again within minutes (if urgent, tell them by hand).",
            )),
        );
    } else if sum.held.calls_held > 0 {
        note(
            "lab-held",
            "warn",
            esc(&match (l, sum.held.groups_told) {
                (Lang::Zh, 0) => format!(
                    "暂停下楼：{} 个已推送的叫号涉及临时管控的住户，已暂停；未配置预警群，未发通知。",
                    sum.held.calls_held
                ),
                (Lang::Zh, g) => format!(
                    "暂停下楼：{} 个已推送的叫号涉及临时管控的住户，已暂停，已通知 {g} 个群。",
                    sum.held.calls_held
                ),
                (Lang::En, 0) => format!(
                    "Calls held: {} pushed call-downs named households now under temporary control; no alert channel, no group told.",
                    sum.held.calls_held
                ),
                (Lang::En, g) => format!(
                    "Calls held: {} pushed call-downs named households now under temporary control; {g} groups told to stay home.",
                    sum.held.calls_held
                ),
            }),
        );
    }
    if sum.notifications > 0 {
        note(
            "lab-notified",
            "muted",
            esc(&match l {
                Lang::Zh => format!(
                    "已排队向预警群发送 {} 条通知（送达情况见预警群页）。",
                    sum.notifications
                ),
                Lang::En => format!(
                    "{} messages queued for the alert channels (the alert channels page shows their delivery).",
                    sum.notifications
                ),
            }),
        );
    }
    if !notes.is_empty() {
        html.push_str(&format!(
            r#"<h3>{}</h3><ul class="list" id="lab-notes">{notes}</ul>"#,
            l.t("提醒与说明", "Warnings and notes")
        ));
    }
    Ok(html)
}

// ----- reconciliation ------------------------------------------------------------------

pub async fn reconciliation(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    page: Page,
    Path(id): Path<String>,
) -> Response {
    // After the lab's receipt form: the receipt as recorded.
    let receipt = super::packing::receipt_after_post(&s, &a, &page, &id).await;
    let r = reconciliation_body(&s, &a, page.lang, &id, receipt).await;
    page.answer(r)
}

/// `receipt`: the lab's receipt form after a post (else drawn empty, for the lab only).
pub(super) async fn reconciliation_body(
    s: &AppState,
    a: &Auth,
    l: Lang,
    id: &str,
    receipt: Option<String>,
) -> Result<(String, String), WebError> {
    let round = parse_key(l, id)?;
    let rep = gw_app::handoff::report(&s.store, &s.clock, &a.principal, round, None)
        .await
        .map_err(|e| auth_err(l, e))?;
    let mut steps = String::new();
    for st in &rep.steps {
        let t = &st.totals;
        steps.push_str(&format!(
            r#"<tr><td>{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td></tr>"#,
            esc(&st.name),
            t.open_tubes,
            t.closed.tubes,
            t.bagged.tubes,
            t.boxed.tubes,
            t.handed_over.tubes,
            t.received.tubes,
        ));
    }
    // Each break as the packing page says it: the step, what was counted,
    // and the tubes, bags or boxes it is made of.
    let mism: String = rep
        .mismatches
        .iter()
        .map(|m| super::packing::mismatch_line(l, m))
        .collect();
    let verdict = if rep.matched {
        format!(
            r#"<p class="notice" id="matched">{}</p>"#,
            l.t("各环节数量一致。", "Every step's count agrees.")
        )
    } else {
        format!(
            r#"<p class="error" id="matched">{}</p><ul class="list">{mism}</ul>"#,
            l.t("以下环节数量不一致：", "These steps disagree:")
        )
    };
    // What is still on its way mid-round (or on the road to the lab): not a
    // break, said apart so the breaks stand out.
    let waiting = if rep.waiting.is_empty() {
        String::new()
    } else {
        let lines: String = rep
            .waiting
            .iter()
            .map(|m| super::packing::waiting_line(l, m))
            .collect();
        format!(
            r#"<section class="card"><h2>{}</h2><p class="hint">{}</p><ul class="list" id="waiting">{lines}</ul></section>"#,
            l.t("在途（尚未到下一环节）", "On its way (not yet at the next step)"),
            l.t(
                "采样仍在进行：这些管、袋、箱在本点上次交接之后才封好或装好，等待下一次装袋、装箱或交接；在途的交接单等待实验室接收。停止采样后仍未走完的，将列为不一致。",
                "Sampling is still running: these tubes, bags and boxes were sealed or packed after the point's last hand-over and wait for the next bag, box or transporter; hand-overs on the road wait for the lab. Whatever is still short once sampling closes is listed as a break."
            )
        )
    };
    let body = format!(
        r#"{back}<h1>{h}</h1>{receipt}<section class="card">{verdict}</section>{waiting}<section class="card"><h2>{hs}</h2><div class="scroll"><table id="steps"><thead><tr><th>{lp}</th><th>{lo}</th><th>{lc}</th><th>{lb}</th><th>{lx}</th><th>{lh}</th><th>{lr}</th></tr></thead><tbody>{steps}</tbody></table></div><p class="hint">{hint}</p></section>"#,
        back = back(s, a, l, round),
        receipt = match receipt {
            Some(r) => r,
            None => super::packing::receipt_section(s, a, l, round, None).await?,
        },
        h = l.t("数据统计校对", "Count reconciliation"),
        hs = l.t("各采样点（管数）", "By point (tubes)"),
        lp = l.t("采样点", "Point"),
        lo = l.t("未封管", "Open"),
        lc = l.t("已封管", "Closed"),
        lb = l.t("已装袋", "Bagged"),
        lx = l.t("已装箱", "Boxed"),
        lh = l.t("已交接", "Handed over"),
        lr = l.t("实验室已收", "Received"),
        hint = l.t("只含数量，不含个人信息。", "Counts only, no personal data."),
    );
    Ok((
        l.t("数据统计校对", "Count reconciliation").to_string(),
        body,
    ))
}

// ----- disinfection ---------------------------------------------------------------------

pub async fn disinfection(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    page: Page,
    Path(id): Path<String>,
) -> Response {
    let r = disinfection_body(&s, &a, &page, &id).await;
    page.answer(r)
}

/// The tube barcode of each of the round's alerts, by the alert's key.
pub(super) async fn alert_tubes(
    s: &AppState,
    round: Key,
) -> Result<std::collections::HashMap<String, String>, WebError> {
    if round.id == 0 {
        return Ok(Default::default());
    }
    Ok(s.store
        .alerts(round.street, round.id)
        .await?
        .into_iter()
        .map(|a| {
            (
                Key {
                    street: round.street,
                    id: a.id,
                }
                .to_string(),
                a.barcode,
            )
        })
        .collect())
}

/// ` · 混管 T0001` after a disinfection task: the pool it followed.
pub(super) fn tube_of(
    l: Lang,
    tubes: &std::collections::HashMap<String, String>,
    alert: &str,
) -> String {
    tubes
        .get(alert)
        .map(|b| format!(" · {}{b}", l.t("混管 ", "pool ")))
        .unwrap_or_default()
}

/// The notice on the page a 消杀完成 button came back to when the task was
/// done already (pressed twice, or by someone else meanwhile).
pub(super) fn done_already(page: &Page) -> String {
    if page.query.split('&').any(|kv| kv == "disinfected=already") {
        format!(
            r#"<p class="notice" id="done-already">{}</p>"#,
            page.lang.t(
                "此消杀任务已完成（或因结果更正已撤销），无需再次标记。",
                "This disinfection task was done already (or withdrawn by a corrected result): nothing more to mark."
            )
        )
    } else {
        String::new()
    }
}

async fn disinfection_body(
    s: &AppState,
    a: &Auth,
    page: &Page,
    id: &str,
) -> Result<(String, String), WebError> {
    let l = page.lang;
    let round = parse_key(l, id)?;
    let d = gw_app::alerts::round_disinfection(&s.store, &s.clock, &a.principal, round)
        .await
        .map_err(|e| auth_err(l, e))?;
    let tasks = d.tasks;
    let tubes = alert_tubes(s, round).await?;
    let mut li = String::new();
    for t in &tasks {
        let action = if t.state == "done" {
            format!(
                r#"<span class="tag open">{} {}</span>"#,
                l.t("已完成", "done"),
                t.done_ms.map(hm).unwrap_or_default()
            )
        } else if t.state == "withdrawn" {
            format!(
                r#"<span class="tag">{}</span>"#,
                l.t(
                    "已撤销：结果更正为非异常",
                    "withdrawn: the result was corrected"
                )
            )
        } else if !t.may_mark_done {
            // Read by a grid leader of the point's grid: the point's manager
            // (or the street) marks it done.
            format!(
                r#"<span class="tag bad">{}</span>"#,
                l.t(
                    "消杀未完成（由采样点负责人标记完成）",
                    "not disinfected yet (the point's manager marks it done)"
                )
            )
        } else {
            format!(
                r#"<form method="post" action="/disinfection/{}/done" class="inline"><input type="hidden" name="csrf" value="{}"><input type="hidden" name="round" value="{round}"><button class="primary" type="submit">{}</button></form>"#,
                esc(&t.task),
                esc(&a.csrf),
                l.t("消杀完成", "Mark done")
            )
        };
        li.push_str(&format!(
            r#"<li class="row2"><span><b>{}</b> <span class="muted">{} {}{}</span></span>{action}</li>"#,
            esc(&t.point_name),
            l.t("异常管后", "after an abnormal pool,"),
            gw_domain::notify::clock_text(t.created_ms),
            esc(&tube_of(l, &tubes, &t.alert)),
        ));
    }
    // Tasks at points outside the reader's area: counted, never named
    // (whose they are and how they stand is the point's and the street's).
    if d.elsewhere > 0 {
        li.push_str(&format!(
            r#"<li class="muted" id="tasks-elsewhere">{}</li>"#,
            esc(&match l {
                Lang::Zh => format!(
                    "另有 {} 个消杀任务在您辖区以外的采样点，由采样点和街道跟进。",
                    d.elsewhere
                ),
                Lang::En => format!(
                    "{} more disinfection task(s) at points outside your area: their staff and the street follow them up.",
                    d.elsewhere
                ),
            })
        ));
    }
    if li.is_empty() {
        li = format!(
            r#"<li class="muted">{}</li>"#,
            l.t("没有消杀任务。", "No disinfection task.")
        );
    }
    let body = format!(
        r#"{back}<h1>{h}</h1>{already}<section class="card"><ul class="list" id="tasks">{li}</ul></section>"#,
        back = back(s, a, l, round),
        already = done_already(page),
        h = l.t("采样点消杀", "Disinfection of points"),
    );
    Ok((l.t("采样点消杀", "Disinfection").to_string(), body))
}

#[derive(Debug, Deserialize)]
pub struct DoneForm {
    #[serde(default)]
    pub round: String,
    /// `point` or `packing`: the button was on that page of `point`.
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub point: String,
}

pub async fn disinfection_done(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    page: Page,
    Path(id): Path<String>,
    Form(f): Form<DoneForm>,
) -> Response {
    let l = page.lang;
    let task = match parse_key(l, &id) {
        Ok(k) => k,
        Err(e) => return page.error(e),
    };
    // The page the button was on (`query` added when it comes back with a notice).
    let back = |query: &str| match (
        f.from.as_str(),
        f.point.parse::<Key>(),
        f.round.parse::<Key>(),
    ) {
        ("point", Ok(p), _) => Some(format!("/points/{p}{query}#disinfection")),
        ("packing", Ok(p), _) => Some(format!("/points/{p}/packing{query}#disinfection")),
        (_, _, Ok(r)) => Some(format!("/rounds/{r}/disinfection{query}")),
        _ => None,
    };
    match gw_app::testing::disinfection_done(&s.store, &s.clock, &a.principal, task).await {
        Ok(()) => redirect(&back("").unwrap_or_else(|| "/".into())),
        // Pressed twice (or done meanwhile by someone else): back to the
        // page it was on, which says so and shows the task as it stands.
        Err(gw_app::access::AuthError::Store(gw_store::StoreError::Conflict(_)))
            if back("").is_some() =>
        {
            redirect(&back("?disinfected=already").unwrap_or_default())
        }
        Err(e) => match back("") {
            Some(b) => page.error_back(auth_err(l, e), &b),
            None => page.error(auth_err(l, e)),
        },
    }
}

// ----- coverage by community, grid or building ------------------------------------------

/// How many of the latest rounds the coverage page's record shows.
const HISTORY_ROUNDS: usize = 4;

/// One territory's record: rounds in a row that missed nobody, and each of
/// its latest rounds with how many it missed (a round still sampling says so).
fn history_row(l: Lang, name: &str, h: &gw_app::coverage::History) -> String {
    let rounds: String = h
        .rounds
        .iter()
        .map(|r| {
            let missed = r.totals.outstanding().missed();
            let (cls, what) = if r.nobody_missed {
                ("open", l.t("不落一人", "nobody missed").to_string())
            } else if r.state == "open" {
                (
                    "",
                    match l {
                        Lang::Zh => format!("采样中，未检 {missed}"),
                        Lang::En => format!("sampling, {missed} missed"),
                    },
                )
            } else {
                (
                    "bad",
                    match l {
                        Lang::Zh => format!("未检 {missed}"),
                        Lang::En => format!("{missed} missed"),
                    },
                )
            };
            format!(
                r#"<span class="tag {cls}" title="{}">{} · {}</span> "#,
                esc(&format!(
                    "{}/{} {}",
                    r.totals.sampled + r.totals.exempt,
                    r.totals.expected,
                    l.t("已检或免检", "sampled or exempt")
                )),
                esc(&r.name),
                esc(&what)
            )
        })
        .collect();
    format!(
        r#"<tr><td>{}</td><td class="n" data-label="{ln}"><b class="in-a-row">{}</b> {}</td><td data-label="{lr}">{}</td></tr>"#,
        esc(name),
        h.in_a_row,
        l.t("轮", "rounds"),
        if rounds.is_empty() {
            format!(
                r#"<span class="muted">{}</span>"#,
                l.t("尚无轮次", "no round yet")
            )
        } else {
            rounds
        },
        ln = l.t("连续不落一人", "In a row missing nobody"),
        lr = l.t("各轮", "Rounds"),
    )
}

#[derive(Debug, Deserialize)]
pub struct CoverageQuery {
    pub community: Option<String>,
    pub grid: Option<String>,
}

/// Coverage of a round per community; `?community=` per grid in it;
/// `?grid=` per building in it.
pub async fn coverage_by(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    page: Page,
    Path(id): Path<String>,
    Query(q): Query<CoverageQuery>,
) -> Response {
    let r = coverage_by_body(&s, &a, page.lang, &id, &q).await;
    page.answer(r)
}

async fn coverage_by_body(
    s: &AppState,
    a: &Auth,
    l: Lang,
    id: &str,
    q: &CoverageQuery,
) -> Result<(String, String), WebError> {
    use gw_store::coverage::Level;
    let round = parse_key(l, id)?;
    let (by, within) = match (&q.grid, &q.community) {
        (Some(g), _) => (Level::Building, Some((Level::Grid, parse_key(l, g)?))),
        (None, Some(c)) => (Level::Grid, Some((Level::Community, parse_key(l, c)?))),
        (None, None) => (Level::Community, None),
    };
    let cov = gw_app::coverage::coverage(&s.store, &s.clock, &a.principal, round, by, within)
        .await
        .map_err(|e| auth_err(l, e))?;
    // The rows' own level: a reader of no whole community (a grid leader)
    // is answered by grid, not with a street of zeros.
    let by = gw_app::coverage::parse_level(cov.by).unwrap_or(by);
    // Which round, and where in it (read once the caller was let in).
    let round_name = s.store.round(round.street, round.id).await?.name;
    let place = match within {
        Some(w) => Some(super::territory_name(s, w).await?),
        None => None,
    };
    let of = match &place {
        Some(p) => format!("{round_name} · {p}"),
        None => round_name.clone(),
    };
    // Names of the rows.
    let mut names: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    match by {
        Level::Community => {
            for c in s.store.communities(None, Some(round.street)).await? {
                names.insert(format!("{}-{}", c.street_id, c.id), c.name);
            }
        }
        Level::Grid => {
            for g in s.store.grids(None, None).await? {
                if g.street_id == round.street {
                    names.insert(format!("{}-{}", g.street_id, g.id), g.name);
                }
            }
        }
        Level::Building => {
            if let Some((_, g)) = within {
                for r in s
                    .store
                    .residents(&gw_store::registry::ResidentFilter {
                        street: Some(g.street),
                        grid: Some(g.id),
                        limit: 20_000,
                        scope: Some(gw_app::access::scope(
                            &a.principal,
                            &s.clock,
                            gw_domain::access::Action::ReadRegistry,
                        )),
                        ..Default::default()
                    })
                    .await?
                {
                    if let Some(b) = r.building_id {
                        names
                            .entry(format!("{}-{b}", r.street_id))
                            .or_insert_with(|| {
                                format!(
                                    "{} {}",
                                    r.compound.clone().unwrap_or_default(),
                                    r.building.clone().unwrap_or_default()
                                )
                            });
                    }
                }
            }
        }
    }
    let mut rows = String::new();
    for r in &cov.rows {
        let name = esc(names.get(&r.key).map_or(r.key.as_str(), String::as_str));
        let link = match by {
            Level::Community => format!(
                r#"<a href="/rounds/{round}/coverage?community={k}">{name}</a> · <a href="/rounds/{round}/missed?community={k}">{}</a>"#,
                l.t("未检名单", "missed"),
                k = esc(&r.key)
            ),
            Level::Grid => format!(
                r#"<a href="/rounds/{round}/coverage?grid={k}">{name}</a> · <a href="/rounds/{round}/missed?grid={k}">{}</a>"#,
                l.t("未检名单", "missed"),
                k = esc(&r.key)
            ),
            Level::Building => format!(
                r#"<a href="/rounds/{round}/missed?building={}">{name}</a>"#,
                esc(&r.key)
            ),
        };
        let o = r.outstanding();
        let pc = o.percent();
        rows.push_str(&format!(
            r#"<tr><td>{link}</td><td class="n" data-label="{le}">{}</td><td class="n" data-label="{ls}">{}</td><td class="n" data-label="{lx}">{}</td><td class="n{}" data-label="{lm}">{}</td><td class="n{}" data-label="{la}">{}</td><td data-label="{lp}"><span class="bar"><span style="width:{pc}%"></span></span> {pc}%</td></tr>"#,
            r.expected,
            r.sampled,
            r.exempt,
            if o.missed() > 0 { " warn" } else { "" },
            o.missed(),
            if o.added_missed() > 0 { " warn" } else { "" },
            super::added_cell(r.added, r.added_sampled),
            le = l.t("应检", "Expected"),
            ls = l.t("已检", "Sampled"),
            lx = l.t("免检", "Exempt"),
            lm = l.t("未检", "Missed"),
            la = l.t("新增（未检）", "Added (missed)"),
            lp = l.t("覆盖率", "Coverage"),
        ));
    }
    let t = &cov.totals;
    let total = t.outstanding();
    let level = match by {
        Level::Community => l.t("社区", "Community"),
        Level::Grid => l.t("网格", "Grid"),
        Level::Building => l.t("楼栋", "Building"),
    };
    // The record of rounds in a row that missed nobody, per row (and for
    // the reader's whole street at the top level).
    let mut record = String::new();
    if by == Level::Community && within.is_none() {
        let h = gw_app::coverage::history(
            &s.store,
            &s.clock,
            &a.principal,
            round.street,
            None,
            HISTORY_ROUNDS,
        )
        .await
        .map_err(|e| auth_err(l, e))?;
        record.push_str(&history_row(
            l,
            l.t("全部（您的辖区）", "All (your area)"),
            &h,
        ));
    }
    for r in &cov.rows {
        let Ok(k) = r.key.parse::<Key>() else {
            continue;
        };
        let h = gw_app::coverage::history(
            &s.store,
            &s.clock,
            &a.principal,
            round.street,
            Some((by, k)),
            HISTORY_ROUNDS,
        )
        .await
        .map_err(|e| auth_err(l, e))?;
        let name = names.get(&r.key).map_or(r.key.as_str(), String::as_str);
        record.push_str(&history_row(l, name, &h));
    }
    let record = if record.is_empty() {
        String::new()
    } else {
        format!(
            r#"<section class="card" id="history"><h2>{h}</h2><div class="scroll"><table id="history-table" class="cards"><thead><tr><th>{level}</th><th>{ln}</th><th>{lr}</th></tr></thead><tbody>{record}</tbody></table></div><p class="hint">{hint}</p></section>"#,
            h = match l {
                Lang::Zh => format!("不落一人 · 最近 {HISTORY_ROUNDS} 轮"),
                Lang::En => format!("Nobody missed · the last {HISTORY_ROUNDS} rounds"),
            },
            ln = l.t("连续不落一人", "Rounds in a row missing nobody"),
            lr = l.t("各轮未检人数（新近在前）", "Missed per round (newest first)"),
            hint = l.t(
                "不落一人：应检的人都已检或免检，开轮后新增的人都已检。仍在采样的一轮有人未检时，既不计入也不打断连续轮数，采样结束后才算。",
                "Nobody missed: everyone expected sampled or exempt, everyone added since the opening sampled. A round still sampling with people missed neither counts nor breaks the run until its sampling closes."
            ),
        )
    };
    let body = format!(
        r#"{back}<h1>{h} · {level}</h1>
<p id="coverage-of"><b>{of}</b></p>
<section class="stats"><div><b>{e}</b><span>{le}</span></div><div><b id="by-sampled">{sa}</b><span>{ls}</span></div><div><b>{x}</b><span>{lx}</span></div><div><b id="by-missed" class="{mc}">{m}</b><span>{lm}{mnote}</span></div><div><b id="by-added" class="{amc}">{added}</b><span>{lat}</span></div><div><b id="by-percent">{pc}%</b><span>{lp}</span></div></section>
<section class="card"><div class="scroll"><table id="coverage-by" class="cards"><thead><tr><th>{level}</th><th>{le}</th><th>{ls}</th><th>{lx}</th><th>{lm}</th><th>{lat}</th><th>{lp}</th></tr></thead><tbody>{rows}</tbody></table></div><p class="hint">{hint}</p></section>{record}"#,
        back = back(s, a, l, round),
        of = esc(&of),
        h = l.t("覆盖情况", "Coverage"),
        e = t.expected,
        sa = t.sampled,
        x = t.exempt,
        m = total.missed(),
        mc = if total.missed() > 0 { "warn" } else { "" },
        mnote = super::added_note(l, total),
        added = super::added_cell(t.added, t.added_sampled),
        amc = if total.added_missed() > 0 { "warn" } else { "" },
        pc = total.percent(),
        lat = l.t("新增（未检）", "Added (missed)"),
        le = l.t("应检", "Expected"),
        ls = l.t("已检", "Sampled"),
        lx = l.t("免检", "Exempt"),
        lm = l.t("未检", "Missed"),
        lp = l.t("覆盖率", "Coverage"),
        hint = if by == Level::Building {
            l.t(
                "“新增”是本轮开始后登记或迁入的人，单独统计，括号内为其中未检的人；他们也算在“未检”里、列在未检名单上，覆盖率也算上他们。点楼栋名看该楼的未检名单。",
                "“Added” are people registered or moved in after the round opened, counted apart; in brackets those not sampled, who count as missed, are on the missed list and in the coverage too. Open a building for its missed list."
            )
        } else {
            l.t(
                "“新增”是本轮开始后登记或迁入的人，单独统计，括号内为其中未检的人；他们也算在“未检”里、列在未检名单上，覆盖率也算上他们。点名称看下一级。",
                "“Added” are people registered or moved in after the round opened, counted apart; in brackets those not sampled, who count as missed, are on the missed list and in the coverage too. Open a name for the level below."
            )
        },
    );
    Ok((
        format!("{of} · {} · {level}", l.t("覆盖情况", "Coverage")),
        body,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_barcodes_reason_keeps_its_hint_in_either_language() {
        let wrong = "条码 Z9 不是本轮次的试管 / barcode Z9 is not a tube of this round（轮次或条码有误）/ (wrong round or misread barcode)";
        assert_eq!(
            reason_in(Lang::Zh, wrong),
            "条码 Z9 不是本轮次的试管（轮次或条码有误）"
        );
        assert_eq!(
            reason_in(Lang::En, wrong),
            "barcode Z9 is not a tube of this round (wrong round or misread barcode)"
        );
        let zeros = "条码 12 不是本轮次的试管 / barcode 12 is not a tube of this round；是否 Excel 去掉了前导零？本轮次有试管 0012 / did Excel drop leading zeros? This round has tube 0012";
        assert_eq!(
            reason_in(Lang::Zh, zeros),
            "条码 12 不是本轮次的试管；是否 Excel 去掉了前导零？本轮次有试管 0012"
        );
        assert_eq!(
            reason_in(Lang::En, zeros),
            "barcode 12 is not a tube of this round; did Excel drop leading zeros? This round has tube 0012"
        );
        let other = "条码 T1 不是本轮次的试管 / barcode T1 is not a tube of this round；它是另一轮次的试管：1-2 全员核酸第1轮 / it is a tube of another round: 1-2 全员核酸第1轮";
        assert_eq!(
            reason_in(Lang::Zh, other),
            "条码 T1 不是本轮次的试管；它是另一轮次的试管：1-2 全员核酸第1轮"
        );
        assert_eq!(
            reason_in(Lang::En, other),
            "barcode T1 is not a tube of this round; it is a tube of another round: 1-2 全员核酸第1轮"
        );
        // One part: its half, as before.
        assert_eq!(
            reason_in(Lang::En, "文件是空的 / the file is empty"),
            "the file is empty"
        );
        assert_eq!(reason_in(Lang::Zh, "no split here"), "no split here");
    }
}
