//! A street's alert channels from the browser alone (real HTTP, session
//! cookie and CSRF field): add a group robot, a form error that keeps what was
//! typed, a test message that reaches a real local robot, removal; who gets
//! the page.

use std::time::Duration;

use crate::alerts::robot;
use crate::harness::TestEnv;
use crate::round_pages::{error_code, location, Browser};

#[tokio::test]
async fn a_street_commander_sets_up_the_group_robot_from_the_browser() {
    let env = TestEnv::new().await;
    env.cli_ok(&["demo", "--residents", "200", "--seed", "3", "--no-serve"]);
    let store = env.store().await;
    let c = store.communities(None, None).await.unwrap().remove(0);
    let street = c.street_id;
    let grid = store
        .grids(None, Some((street, c.id)))
        .await
        .unwrap()
        .remove(0);
    let chief_pw = env.account("chief", "street_commander", &["--street", &c.street_name]);
    let leader_pw = env.account(
        "leader",
        "grid_leader",
        &[
            "--street",
            &c.street_name,
            "--community",
            &c.name,
            "--grid",
            &grid.name,
        ],
    );
    let srv = env.serve();
    srv.login("chief", &chief_pw);
    srv.login("leader", &leader_pw);
    let chief = Browser::login(&srv, "chief", &format!("{chief_pw}-changed"));
    let page = format!("/streets/{street}/alert-channels");

    // The home page leads to the page; nothing is configured yet.
    let home = chief.get("/");
    assert!(
        home.body.contains(&format!(r#"href="{page}""#)),
        "{}",
        home.body
    );
    let empty = chief.get(&page);
    assert_eq!(empty.status, 200, "{}", empty.body);
    assert!(empty.body.contains("尚未配置"), "{}", empty.body);

    // A wrong address: the form again, in Chinese, with what was typed kept.
    let bad = chief.post(&page, &[("kind", "wecom"), ("url", "not-an-address")]);
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(bad.body.contains(r#"id="form-error""#), "{}", bad.body);
    assert!(
        bad.body.contains(r#"value="not-an-address""#),
        "{}",
        bad.body
    );
    assert!(bad.body.contains(r#"<option value="wecom" selected>"#));
    // A signing secret for a robot that does not sign: refused, and the
    // secret is not sent back in the form.
    let unsigned = chief.post(
        &page,
        &[
            ("kind", "wecom"),
            ("url", "https://example.com/hook"),
            ("secret", "SECnot-for-wecom"),
        ],
    );
    assert_eq!(unsigned.status, 400, "{}", unsigned.body);
    assert!(unsigned.body.contains("钉钉和飞书"), "{}", unsigned.body);
    assert!(!unsigned.body.contains("SECnot-for-wecom"));
    assert!(unsigned.body.contains(r#"name="secret" type="password""#));
    assert!(store.channels(street).await.unwrap().is_empty());

    // A real robot on loopback: added, its secret key never shown, tested.
    let (url, arrivals) = robot();
    let url = format!("{url}?key=secret-robot-key");
    let added = chief.post(&page, &[("kind", "wecom"), ("url", &url)]);
    assert_eq!(added.status, 303, "{}", added.body);
    let listed = chief.get(&format!("{page}?done=added"));
    assert!(
        listed.body.contains(r#"id="channel-done""#),
        "{}",
        listed.body
    );
    assert!(listed.body.contains("企业微信群机器人"));
    assert!(!listed.body.contains("secret-robot-key"), "{}", listed.body);
    let channel = store.channels(street).await.unwrap().remove(0);
    let key = format!("{street}-{}", channel.id);
    let tested = chief.post(&format!("/alert-channels/{key}/test"), &[]);
    assert_eq!(tested.status, 303, "{}", tested.body);
    let (_, body) = arrivals
        .recv_timeout(Duration::from_secs(10))
        .expect("the test message reaches the robot");
    assert!(body.contains("msgtype"), "{body}");
    // The page it leads to says at once that the robot took it, and which.
    let told = chief.get(&location(&tested));
    let done = notice(&told.body);
    assert!(done.contains("测试消息已送达"), "{done}");
    assert!(done.contains("企业微信群机器人"), "{done}");
    assert!(told
        .body
        .contains(r#"<p class="notice" id="channel-done">"#));

    // A robot that answers 200 with an error code (a WeCom key revoked):
    // the page says at once it did not arrive, with the robot's answer, and
    // the log row names the channel, the message, the state and the error.
    let refusing = refusing_robot();
    let added = chief.post(&page, &[("kind", "wecom"), ("url", &refusing)]);
    assert_eq!(added.status, 303, "{}", added.body);
    let bad = store
        .channels(street)
        .await
        .unwrap()
        .into_iter()
        .max_by_key(|c| c.id)
        .unwrap();
    let bad_key = format!("{street}-{}", bad.id);
    let tested = chief.post(&format!("/alert-channels/{bad_key}/test"), &[]);
    assert_eq!(tested.status, 303, "{}", tested.body);
    let told = chief.get(&location(&tested));
    let done = notice(&told.body);
    assert!(done.contains("测试消息未送达"), "{done}");
    assert!(done.contains("93000"), "{done}");
    assert!(
        told.body
            .contains(r#"<p class="error" role="alert" id="channel-done">"#),
        "{}",
        told.body
    );
    let n = location(&tested);
    let n = n.split("n=").nth(1).unwrap();
    let row = log_row(&told.body, n);
    assert!(row.contains("企业微信群机器人"), "{row}");
    assert!(row.contains("/cgi-bin/webhook/send?…"), "{row}");
    assert!(row.contains("测试消息"), "{row}");
    assert!(row.contains("待发送（将重试）"), "{row}");
    assert!(row.contains(r#"<td class="num">1</td>"#), "{row}");
    assert!(row.contains("93000"), "{row}");
    // A call-down push's message is named as one.
    let now = gw_app::Clock::System.now_ms();
    let call = store
        .queue_notification(
            street,
            bad.id,
            r#"{"msgtype":"text","text":{"content":"【核酸检测下楼通知】第1轮\n采样点：一号点"}}"#,
            "call_down",
            now,
            now + 60_000,
        )
        .await
        .unwrap();
    let listed = chief.get(&page);
    let row = log_row(&listed.body, &format!("{street}-{call}"));
    assert!(row.contains("叫号推送"), "{row}");
    // The delivered test is named too, on the working robot.
    assert!(listed.body.contains("已送达"));

    // A grid leader gets neither the page nor the forms, and changes nothing.
    let leader = Browser::login(&srv, "leader", &format!("{leader_pw}-changed"));
    assert!(!leader.get("/").body.contains("alert-channels"));
    for r in [
        leader.get(&page),
        leader.post(&page, &[("kind", "json"), ("url", "http://127.0.0.1:9/x")]),
        leader.post(&format!("/alert-channels/{key}/test"), &[]),
        leader.post(&format!("/alert-channels/{key}/remove"), &[]),
    ] {
        assert_eq!(r.status, 403, "{}", r.body);
        assert_eq!(error_code(&r).as_deref(), Some("forbidden"));
    }
    assert_eq!(store.channels(street).await.unwrap().len(), 2);

    // Removed: no longer listed, no longer sent to.
    for k in [&key, &bad_key] {
        let removed = chief.post(&format!("/alert-channels/{k}/remove"), &[]);
        assert_eq!(removed.status, 303, "{}", removed.body);
    }
    assert!(chief.get(&page).body.contains("尚未配置"));

    // A DingTalk robot set to sign (加签): marked so, its secret never shown.
    let signed = chief.post(
        &page,
        &[
            ("kind", "dingtalk"),
            ("url", &url),
            ("secret", "SECpage-secret"),
        ],
    );
    assert_eq!(signed.status, 303, "{}", signed.body);
    let listed = chief.get(&page);
    assert!(
        listed.body.contains(r#"<span class="tag">加签</span>"#),
        "{}",
        listed.body
    );
    assert!(!listed.body.contains("SECpage-secret"));
}

/// A WeCom robot whose key was revoked: HTTP 200 with an error code.
fn refusing_robot() -> String {
    crate::alerts::robot_answering(
        r#"{"errcode":93000,"errmsg":"invalid webhook url"}"#,
        "revoked-key",
    )
    .0
}

/// The text of the page's notice after a form.
fn notice(body: &str) -> String {
    let at = body
        .find(r#"id="channel-done">"#)
        .unwrap_or_else(|| panic!("no notice: {body}"));
    let rest = &body[at..];
    rest[..rest.find("</p>").unwrap()].to_string()
}

/// The delivery log's row of message `key`.
fn log_row(body: &str, key: &str) -> String {
    let at = body
        .find(&format!(r#"<tr data-message="{key}">"#))
        .unwrap_or_else(|| panic!("no row for {key}: {body}"));
    let rest = &body[at..];
    rest[..rest.find("</tr>").unwrap()].to_string()
}
