//! Replays and races over real HTTP: one batch sent by several clients at
//! once is applied once; two stations scanning the same resident at the same
//! moment store both swabs, exactly one flagged as the duplicate, and each
//! station is told which it holds.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Barrier};

use gw_domain::rng::Rng;
use serde_json::json;

use crate::durability::{ack, call, check, field, open_tube, send, stored, Ack, Job};
use crate::harness::TestEnv;

#[tokio::test]
async fn one_batch_replayed_by_five_clients_at_once_is_applied_once() {
    let (f, srv) = field(TestEnv::new().await, 100).await;
    let tubes: Vec<String> = (0..3)
        .map(|t| open_tube(&srv.addr, &f.token, &f.points[0], &format!("Y{t:07}")))
        .collect();
    // An offline station's queue of thirty scans, synced by five senders at
    // once (the phone, its retry, a second sync, ...), each in its own order.
    let batch: Vec<Job> = (0..30)
        .map(|i| Job {
            client: format!("batch-{i}"),
            tube: tubes[i / 10].clone(),
            code: f.codes[i].clone(),
        })
        .collect();
    let go = Arc::new(Barrier::new(5));
    let senders: Vec<_> = (0..5u64)
        .map(|s| {
            let mut order = batch.clone();
            let mut rng = Rng::new(s);
            for i in (1..order.len()).rev() {
                order.swap(i, rng.below(i as u64 + 1) as usize);
            }
            let (addr, token, go) = (srv.addr.clone(), f.token.clone(), go.clone());
            std::thread::spawn(move || {
                go.wait();
                order
                    .iter()
                    .map(|j| {
                        let (st, v) = send(&addr, &token, j).unwrap();
                        assert_eq!(st, 200, "{v}");
                        (j.client.clone(), ack(j, &v))
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut answers: HashMap<String, Vec<Ack>> = HashMap::new();
    for s in senders {
        for (c, a) in s.join().unwrap() {
            answers.entry(c).or_default().push(a);
        }
    }
    assert_eq!(answers.len(), 30);
    for (c, a) in &answers {
        assert_eq!(a.len(), 5);
        assert!(
            a.iter().all(|x| x.registration == a[0].registration),
            "{c}: every sender is told the same registration: {a:?}"
        );
        assert_eq!(
            a.iter().filter(|x| !x.replay).count(),
            1,
            "{c}: applied by exactly one sender, the others told it is a replay: {a:?}"
        );
    }
    let (rows, tubes_now) = stored(&f.env).await;
    let acked: HashMap<String, Ack> = answers
        .into_iter()
        .map(|(c, mut a)| (c, a.remove(0)))
        .collect();
    let sent: HashSet<String> = batch.iter().map(|j| j.client.clone()).collect();
    check(&rows, &tubes_now, &acked, &sent);
    assert_eq!(rows.len(), 30, "the batch applied exactly once");
    for t in &tubes {
        assert_eq!(rows.iter().filter(|r| &r.tube == t).count(), 10, "{t}");
    }
}

#[tokio::test]
async fn a_client_id_sent_again_with_another_tube_code_or_purpose_is_refused_and_tells_nothing() {
    let (f, srv) = field(TestEnv::new().await, 20).await;
    let here = open_tube(&srv.addr, &f.token, &f.points[0], "Q0000001");
    let there = open_tube(&srv.addr, &f.token, &f.points[1], "Q0000002");
    let job = |tube: &str, code: &str| Job {
        client: "reused-1".into(),
        tube: tube.to_string(),
        code: code.to_string(),
    };
    let (st, first) = send(&srv.addr, &f.token, &job(&here, &f.codes[0])).unwrap();
    assert_eq!(st, 200, "{first}");
    // The same id with another point's tube: not a replay, and the answer
    // does not name the swab it was used for.
    let (st, v) = send(&srv.addr, &f.token, &job(&there, &f.codes[0])).unwrap();
    assert_eq!(st, 409, "{v}");
    assert!(v.to_string().contains("another tube"), "{v}");
    assert!(
        v.get("registration").is_none() && v.get("resident").is_none(),
        "{v}"
    );
    // The same id in the same tube with another person's code: refused, so
    // the station learns the second person was not stored.
    let (st, v) = send(&srv.addr, &f.token, &job(&here, &f.codes[1])).unwrap();
    assert_eq!(st, 409, "{v}");
    assert!(v.to_string().contains("another code"), "{v}");
    // The same id, tube and code sent as a door-to-door swab: the stored one
    // is a pooled swab at the point, so this is another swab, refused.
    let (st, v) = call(
        &srv.addr,
        &f.token,
        "POST",
        &format!("/api/v1/tubes/{here}/scans"),
        &json!({ "client_id": "reused-1", "code": f.codes[0], "purpose": "door_to_door" })
            .to_string(),
    )
    .unwrap();
    assert_eq!(st, 409, "{v}");
    assert!(
        v.to_string().contains("another purpose (pooled sampling)")
            && v.to_string().contains("（混采）"),
        "{v}"
    );
    // A walk-in's swab under another id, then a resident's code sent with
    // that id: refused, so the resident is not lost as a "replay".
    let walk_in = |code: &str| {
        call(
            &srv.addr,
            &f.token,
            "POST",
            &format!("/api/v1/tubes/{here}/scans"),
            &json!({ "client_id": "reused-w", "code": code, "walk_in": { "name": "过路人" } })
                .to_string(),
        )
        .unwrap()
    };
    let (st, v) = walk_in("");
    assert_eq!(st, 200, "{v}");
    let (st, v) = call(
        &srv.addr,
        &f.token,
        "POST",
        &format!("/api/v1/tubes/{here}/scans"),
        &json!({ "client_id": "reused-w", "code": f.codes[2] }).to_string(),
    )
    .unwrap();
    assert_eq!(st, 409, "{v}");
    assert!(v.to_string().contains("walk-in's swab"), "{v}");
    let (st, v) = walk_in("");
    assert_eq!((st, &v["replay"]), (200, &json!(true)), "{v}");
    // Another walk-in under that id is another person: refused.
    let (st, v) = call(
        &srv.addr,
        &f.token,
        "POST",
        &format!("/api/v1/tubes/{here}/scans"),
        &json!({ "client_id": "reused-w", "walk_in": { "name": "王小三" } }).to_string(),
    )
    .unwrap();
    assert_eq!(st, 409, "{v}");
    assert!(v.to_string().contains("another walk-in's swab"), "{v}");
    // A code and a walk-in in one scan: which person? Refused.
    let (st, v) = call(
        &srv.addr,
        &f.token,
        "POST",
        &format!("/api/v1/tubes/{here}/scans"),
        &json!({ "client_id": "both", "code": f.codes[3], "walk_in": { "name": "过路人" } })
            .to_string(),
    )
    .unwrap();
    assert_eq!(st, 400, "{v}");
    assert!(v.to_string().contains("not both"), "{v}");
    // The true replay is answered as before.
    let (st, v) = send(&srv.addr, &f.token, &job(&here, &f.codes[0])).unwrap();
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["replay"], true, "{v}");
    assert_eq!(v["registration"], first["registration"], "{v}");
    let (rows, _) = stored(&f.env).await;
    assert_eq!(rows.len(), 2, "one swab and one walk-in's stored");
}

#[tokio::test]
async fn two_stations_scanning_one_resident_at_one_moment_store_both_and_flag_one() {
    let (f, srv) = field(TestEnv::new().await, 100).await;
    // Two enrolled stations, one at each point.
    let stations: Vec<(String, String)> = f
        .points
        .iter()
        .map(|p| {
            let issued = srv.post(
                &format!("/api/v1/points/{p}/stations"),
                &json!({ "label": "台" }),
            );
            assert_eq!(issued.status, 201, "{}", issued.body);
            let code = issued.json()["enroll_code"].as_str().unwrap().to_string();
            let (st, v) = call(
                &srv.addr,
                "",
                "POST",
                "/api/v1/enroll",
                &json!({ "code": code }).to_string(),
            )
            .unwrap();
            assert_eq!(st, 200, "{v}");
            (p.clone(), v["token"].as_str().unwrap().to_string())
        })
        .collect();
    let n = 20;
    let go = Arc::new(Barrier::new(2));
    let workers: Vec<_> = stations
        .iter()
        .enumerate()
        .map(|(s, (point, token))| {
            let tubes: Vec<String> = (0..n / 10)
                .map(|t| open_tube(&srv.addr, token, point, &format!("Z{s}{t:06}")))
                .collect();
            let (addr, token, go, codes) =
                (srv.addr.clone(), token.clone(), go.clone(), f.codes.clone());
            std::thread::spawn(move || {
                (0..n)
                    .map(|i| {
                        let j = Job {
                            client: format!("st{s}-{i}"),
                            tube: tubes[i / 10].clone(),
                            code: codes[i].clone(),
                        };
                        go.wait(); // both stations scan resident i at the same moment
                        let (st, v) = send(&addr, &token, &j).unwrap();
                        assert_eq!(st, 200, "{v}");
                        (j, v)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let answers: Vec<Vec<_>> = workers.into_iter().map(|w| w.join().unwrap()).collect();
    let mut acked = HashMap::new();
    let mut sent = HashSet::new();
    let mut firsts = [0, 0];
    for ((ja, a), (jb, b)) in answers[0].iter().zip(&answers[1]) {
        assert_eq!(a["resident"], b["resident"], "one resident");
        assert!(a["resident"].is_string());
        let (dup_a, dup_b) = (!a["duplicate_of"].is_null(), !b["duplicate_of"].is_null());
        assert!(
            dup_a ^ dup_b,
            "exactly one of the two is the duplicate: {a} / {b}"
        );
        // The duplicate's station is told which swab came first, where and when;
        // the other station is told its swab is the first.
        let (first, (second, second_point)) = if dup_b { (a, (b, 1)) } else { (b, (a, 0)) };
        firsts[1 - second_point] += 1;
        assert_eq!(
            second["duplicate_of"]["registration"],
            first["registration"]
        );
        assert_eq!(
            second["duplicate_of"]["point"].as_str().unwrap(),
            stations[1 - second_point].0
        );
        assert!(second["duplicate_of"]["scanned_ms"].as_i64().unwrap() > 0);
        assert!(first["duplicate_of"].is_null());
        for (j, v) in [(ja, a), (jb, b)] {
            sent.insert(j.client.clone());
            acked.insert(j.client.clone(), ack(j, v));
        }
    }
    let (rows, tubes) = stored(&f.env).await;
    check(&rows, &tubes, &acked, &sent);
    assert_eq!(rows.len(), 2 * n, "both swabs stored every time");
    assert_eq!(rows.iter().filter(|r| r.duplicate_of.is_some()).count(), n);
    announce_firsts(firsts);
}

fn announce_firsts(firsts: [usize; 2]) {
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "[gridwarden tests] simultaneous scans: station 0 first {} times, station 1 first {} times",
        firsts[0],
        firsts[1]
    );
}
