//! Storage: durability settings, migrations, demo determinism, URL handling.

use gw_store::Store;

use crate::harness::TestEnv;

#[tokio::test]
async fn durability_settings_are_in_force() {
    let env = TestEnv::new().await;
    let store = env.store().await;
    let d = store.durability().await.unwrap();
    let get = |k: &str| {
        d.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap()
    };
    match env.backend {
        "sqlite" => {
            assert_eq!(get("synchronous"), "FULL");
            assert_eq!(get("journal_mode"), "wal");
            assert_eq!(get("foreign_keys"), "1");
        }
        _ => assert_eq!(get("synchronous_commit"), "on"),
    }
}

#[tokio::test]
async fn an_older_database_upgrades_in_place() {
    let env = TestEnv::new().await;
    let store = Store::connect(&env.url).await.unwrap();
    assert_eq!(store.migrate_to(1).await.unwrap(), vec![1]);
    let city = store.ensure_city("长春市", None).await.unwrap();
    let d = store.ensure_district(city, "南关区", None).await.unwrap();
    let s = store.ensure_street(d, "鸿城街道", None).await.unwrap();
    store.ensure_community(s, "东风社区", None).await.unwrap();
    store.close().await;
    // `gridwarden migrate` brings it up to date and keeps the data.
    let out = env.cli_ok(&["migrate"]);
    let all: Vec<i64> = gw_store::migrate::SQLITE
        .iter()
        .map(|m| m.version)
        .collect();
    let rest: Vec<String> = all[1..].iter().map(|v| v.to_string()).collect();
    assert!(out.contains(&format!("[{}]", rest.join(", "))), "{out}");
    let store = env.store().await;
    assert_eq!(store.applied_migrations().await.unwrap(), all);
    assert_eq!(
        store
            .communities(Some("东风社区"), None)
            .await
            .unwrap()
            .len(),
        1
    );
    // Running it again applies nothing.
    assert!(env.cli_ok(&["migrate"]).contains("[]"));
}

#[tokio::test]
async fn a_newer_database_is_refused() {
    let env = TestEnv::new().await;
    let store = env.store().await;
    if let gw_store::Pool::Sqlite(p) = &store.pool {
        sqlx::query("INSERT INTO schema_migrations (version, name, applied_ms) VALUES (999, 'future.sql', 0)").execute(p).await.unwrap();
    }
    if let gw_store::Pool::Postgres(p) = &store.pool {
        sqlx::query("INSERT INTO schema_migrations (version, name, applied_ms) VALUES (999, 'future.sql', 0)").execute(p).await.unwrap();
    }
    let out = env.cli(&["migrate"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("newer"));
}

#[tokio::test]
async fn unknown_url_schemes_are_refused() {
    let e = Store::connect("mysql://root@localhost/test")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("not understood"), "{e}");
}

/// A command given a SQLite file that does not exist says it made a new,
/// empty one (a mistyped path read as an empty street in silence); `demo`,
/// whose work is to make one, does not.
#[tokio::test]
async fn a_missing_database_file_is_said_to_be_new() {
    let dir = tempfile::tempdir().unwrap();
    let typo = dir.path().join("typo.db");
    let out = std::process::Command::new(crate::harness::BIN)
        .args(["territory", "--db", typo.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("不存在，已新建一个空数据库"), "{err}");
    let again = std::process::Command::new(crate::harness::BIN)
        .args(["territory", "--db", typo.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&again.stderr).contains("不存在"));
    let fresh = dir.path().join("demo.db");
    let demo = std::process::Command::new(crate::harness::BIN)
        .args([
            "demo",
            "--residents",
            "50",
            "--no-serve",
            "--db",
            fresh.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(demo.status.success());
    assert!(!String::from_utf8_lossy(&demo.stderr).contains("不存在"));
}

#[tokio::test]
async fn demo_is_deterministic_and_idempotent() {
    let a = TestEnv::new().await;
    let b = TestEnv::new().await;
    a.cli_ok(&["demo", "--residents", "1500", "--seed", "5", "--no-serve"]);
    b.cli_ok(&["demo", "--residents", "1500", "--seed", "5", "--no-serve"]);
    let fa = gw_store::registry::ResidentFilter {
        limit: 5000,
        ..Default::default()
    };
    let ra = a.store().await.residents(&fa).await.unwrap();
    let rb = b.store().await.residents(&fa).await.unwrap();
    assert_eq!(ra.len(), 1500);
    let key = |r: &gw_store::registry::ResidentRow| {
        (
            r.uid.clone(),
            r.resident.name.clone(),
            r.resident.document.clone(),
            r.building.clone(),
            r.room.clone(),
        )
    };
    assert_eq!(
        ra.iter().map(key).collect::<Vec<_>>(),
        rb.iter().map(key).collect::<Vec<_>>()
    );
    // A second run on the same database keeps what is there.
    let out = a.cli_ok(&["demo", "--residents", "1500", "--seed", "5", "--no-serve"]);
    assert!(out.contains("already"), "{out}");
    assert_eq!(a.store().await.resident_count().await.unwrap(), 1500);
}

#[tokio::test]
async fn a_larger_demo_adds_streets_not_a_giant_street() {
    let env = TestEnv::new().await;
    env.cli_ok(&["demo", "--residents", "40100", "--seed", "1", "--no-serve"]);
    let store = env.store().await;
    let streets = store.streets().await.unwrap();
    assert_eq!(streets.len(), 2);
    let tree = gw_app::registry::territory_tree(&store).await.unwrap();
    assert_eq!(tree[0].residents, 40_000);
    assert_eq!(tree[1].residents, 100);
    assert_eq!(tree[0].children.len(), 7);
}
