//! Versioned migrations, embedded, one folder per backend with the same file
//! names. Applied at start and by `gridwarden migrate`; an older database
//! upgrades in place, a newer one is refused.

use crate::{db_run, Backend, Result, Store, StoreError};

pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

macro_rules! migrations {
    ($dir:literal: $($v:literal $name:literal),* $(,)?) => {
        &[$(Migration { version: $v, name: $name, sql: include_str!(concat!("../migrations/", $dir, "/", $name)) }),*]
    };
}

pub const SQLITE: &[Migration] = migrations!("sqlite":
    1 "0001_territory.sql",
    2 "0002_residents.sql",
    3 "0003_control_audit.sql",
    4 "0004_access.sql",
    5 "0005_personal_codes.sql",
    6 "0006_testing_rounds.sql",
    7 "0007_station_tokens.sql",
    8 "0008_results_alerts.sql",
    9 "0009_exemptions.sql",
    10 "0010_registration_point_index.sql",
    11 "0011_round_territory_alerts.sql",
    12 "0012_point_schedule.sql",
    13 "0013_supplies_handoff.sql",
    14 "0014_resident_updated_index.sql",
    15 "0015_swab_counters.sql",
    16 "0016_scan_writes.sql",
    17 "0017_channel_secret.sql",
    18 "0018_testing_settings.sql",
    19 "0019_tube_use.sql",
    20 "0020_control_alert.sql",
    21 "0021_flagged_swabs.sql",
    22 "0022_round_added.sql",
    23 "0023_first_sampling_swab.sql",
    24 "0024_point_name.sql",
    25 "0025_follow_up_resident.sql",
    26 "0026_box_lab_count.sql",
    27 "0027_voided_swab.sql",
    28 "0028_void_race.sql",
    29 "0029_audit_target.sql",
    30 "0030_notification_expiry.sql",
    31 "0031_resident_id_floor.sql",
    32 "0032_code_reissued.sql",
    33 "0033_point_id_floor.sql",
    34 "0034_registry_version.sql",
    35 "0035_tube_id_floor.sql",
    36 "0036_resident_left.sql",
    37 "0037_notification_kind.sql",
    38 "0038_control_notice_due.sql",
);

pub const POSTGRES: &[Migration] = migrations!("postgres":
    1 "0001_territory.sql",
    2 "0002_residents.sql",
    3 "0003_control_audit.sql",
    4 "0004_access.sql",
    5 "0005_personal_codes.sql",
    6 "0006_testing_rounds.sql",
    7 "0007_station_tokens.sql",
    8 "0008_results_alerts.sql",
    9 "0009_exemptions.sql",
    10 "0010_registration_point_index.sql",
    11 "0011_round_territory_alerts.sql",
    12 "0012_point_schedule.sql",
    13 "0013_supplies_handoff.sql",
    14 "0014_resident_updated_index.sql",
    15 "0015_swab_counters.sql",
    16 "0016_scan_writes.sql",
    17 "0017_channel_secret.sql",
    18 "0018_testing_settings.sql",
    19 "0019_tube_use.sql",
    20 "0020_control_alert.sql",
    21 "0021_flagged_swabs.sql",
    22 "0022_round_added.sql",
    23 "0023_first_sampling_swab.sql",
    24 "0024_point_name.sql",
    25 "0025_follow_up_resident.sql",
    26 "0026_box_lab_count.sql",
    27 "0027_voided_swab.sql",
    28 "0028_void_race.sql",
    29 "0029_audit_target.sql",
    30 "0030_notification_expiry.sql",
    31 "0031_resident_id_floor.sql",
    32 "0032_code_reissued.sql",
    33 "0033_point_id_floor.sql",
    34 "0034_registry_version.sql",
    35 "0035_tube_id_floor.sql",
    36 "0036_resident_left.sql",
    37 "0037_notification_kind.sql",
    38 "0038_control_notice_due.sql",
);

pub fn for_backend(b: Backend) -> &'static [Migration] {
    match b {
        Backend::Sqlite => SQLITE,
        Backend::Postgres => POSTGRES,
    }
}

impl Store {
    /// Versions already applied.
    pub async fn applied_migrations(&self) -> Result<Vec<i64>> {
        self.ensure_migration_table().await?;
        let v: Vec<i64> = db_run!(self, pool => sqlx::query_scalar("SELECT version FROM schema_migrations ORDER BY version").fetch_all(pool).await?);
        Ok(v)
    }

    async fn ensure_migration_table(&self) -> Result<()> {
        db_run!(self, pool => {
            sqlx::query("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_ms BIGINT NOT NULL)")
                .execute(pool).await?;
        });
        Ok(())
    }

    /// Applies every pending migration; returns the versions applied now.
    pub async fn migrate(&self) -> Result<Vec<i64>> {
        self.migrate_to(i64::MAX).await
    }

    /// Applies pending migrations up to `target` (tests use it to make an
    /// "older" database).
    pub async fn migrate_to(&self, target: i64) -> Result<Vec<i64>> {
        let all = for_backend(self.backend());
        let applied = self.applied_migrations().await?;
        if let Some(v) = applied
            .iter()
            .find(|v| !all.iter().any(|m| m.version == **v))
        {
            return Err(StoreError::NewerSchema(*v));
        }
        let mut done = Vec::new();
        for m in all
            .iter()
            .filter(|m| m.version <= target && !applied.contains(&m.version))
        {
            db_run!(self, pool => {
                let mut tx = pool.begin().await?;
                if self.backend() == Backend::Postgres {
                    // Two servers starting at once must not both migrate.
                    sqlx::query("SELECT pg_advisory_xact_lock(7460001)").execute(&mut *tx).await?;
                    let again: Option<i64> = sqlx::query_scalar("SELECT version FROM schema_migrations WHERE version = $1")
                        .bind(m.version).fetch_optional(&mut *tx).await?;
                    if again.is_some() {
                        continue;
                    }
                }
                sqlx::raw_sql(m.sql).execute(&mut *tx).await?;
                sqlx::query("INSERT INTO schema_migrations (version, name, applied_ms) VALUES ($1, $2, $3)")
                    .bind(m.version).bind(m.name).bind(0_i64)
                    .execute(&mut *tx).await?;
                tx.commit().await?;
            });
            tracing::info!(version = m.version, name = m.name, "migration applied");
            done.push(m.version);
        }
        Ok(done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn both_backends_have_the_same_migration_list() {
        let a: Vec<_> = SQLITE.iter().map(|m| (m.version, m.name)).collect();
        let b: Vec<_> = POSTGRES.iter().map(|m| (m.version, m.name)).collect();
        assert_eq!(a, b);
        // And the folders hold exactly those files.
        for dir in ["sqlite", "postgres"] {
            let mut files: Vec<String> = std::fs::read_dir(
                concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/").to_string() + dir,
            )
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
            files.sort();
            let names: Vec<String> = a.iter().map(|(_, n)| n.to_string()).collect();
            assert_eq!(files, names, "{dir}");
        }
        // Versions run 1, 2, 3… with no gap and match their file names.
        for (i, m) in SQLITE.iter().enumerate() {
            assert_eq!(m.version, i as i64 + 1, "{}", m.name);
        }
        for m in SQLITE {
            assert_eq!(m.name[..4].parse::<i64>().unwrap(), m.version, "{}", m.name);
        }
    }
}
