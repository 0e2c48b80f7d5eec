//! Gridwarden storage: the only code that knows SQL.
//!
//! [`Store`] is concrete and wraps one of two pools; [`db_run!`] expands a body
//! into both match arms, so every query is written once (with `$N`
//! placeholders, which both SQLite and PostgreSQL accept) and compiled for
//! both backends. Dates, masking and arithmetic stay in Rust.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

pub mod access;
pub mod alerts;
pub mod audit;
pub mod codes;
pub mod control;
pub mod coverage;
pub mod handoff;
pub mod import;
pub mod migrate;
pub mod registry;
pub mod schedule;
pub mod testing;

/// Expands `$body` once per backend with `$pool` bound to the concrete pool
/// and `$db` to its sqlx database type.
#[macro_export]
macro_rules! db_run {
    ($store:expr, $pool:ident, $db:ident => $body:expr) => {
        match &$store.pool {
            $crate::Pool::Sqlite($pool) => {
                #[allow(dead_code)]
                type $db = sqlx::Sqlite;
                $body
            }
            $crate::Pool::Postgres($pool) => {
                #[allow(dead_code)]
                type $db = sqlx::Postgres;
                $body
            }
        }
    };
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.pool {
            $crate::Pool::Sqlite($pool) => $body,
            $crate::Pool::Postgres($pool) => $body,
        }
    };
}

#[derive(Debug, Clone)]
pub enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// What a NotFound says: its own words when they speak Chinese already
/// (`本轮没有袋或箱 X / no bag or box X`), else 找不到 first (`tube 1-9`).
fn not_found_text(m: &str) -> String {
    if m.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)) {
        m.to_string()
    } else {
        format!("找不到：{m} / not found: {m}")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{}", not_found_text(.0))]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("database URL not understood: {0} (use a file path, sqlite://FILE or postgres://…)")]
    BadUrl(String),
    #[error(
        "the database was made by a newer Gridwarden (migration {0} is unknown to this binary)"
    )]
    NewerSchema(i64),
    /// Input the database refuses as text (PostgreSQL: a NUL character).
    #[error("invalid input: {0}")]
    Invalid(String),
    #[error("database error: {0}")]
    Other(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::RowNotFound => StoreError::NotFound("row".into()),
            sqlx::Error::Database(d) if d.is_unique_violation() => {
                StoreError::Conflict(d.message().to_string())
            }
            sqlx::Error::Database(d) if d.is_foreign_key_violation() => {
                StoreError::Conflict(d.message().to_string())
            }
            // 22021 character_not_in_repertoire: PostgreSQL text cannot hold NUL.
            sqlx::Error::Database(d) if d.code().as_deref() == Some("22021") => {
                StoreError::Invalid(format!(
                    "文本含有不允许的字符（如 NUL）/ the text holds a character that cannot be stored (such as NUL): {}",
                    d.message()
                ))
            }
            _ => StoreError::Other(e.to_string()),
        }
    }
}

/// Whether a [`StoreError::Conflict`]'s text is the database's refusal of a
/// second row with a unique key (SQLite's or PostgreSQL's words), as opposed
/// to a missing row a foreign key names or a conflict the store words itself.
pub fn is_unique_violation(message: &str) -> bool {
    message.contains("UNIQUE constraint failed")
        || message.contains("duplicate key value violates unique constraint")
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// The one store over both backends.
#[derive(Debug, Clone)]
pub struct Store {
    pub pool: Pool,
}

async fn pg_pool(opts: PgConnectOptions, max: u32) -> Result<PgPool> {
    Ok(PgPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(Duration::from_secs(30))
        // No ping before each use: it doubled every query's round trips. A
        // connection the server dropped fails its next query instead (that
        // request is answered with an error and sqlx discards the connection).
        .test_before_acquire(false)
        .connect_with(opts)
        .await?)
}

async fn sqlite_pool(opts: SqliteConnectOptions, max: u32) -> Result<SqlitePool> {
    Ok(SqlitePoolOptions::new()
        .max_connections(max)
        .acquire_timeout(Duration::from_secs(30))
        // No ping before each use (sqlx's default): a SQLite connection does
        // not go away by itself, and the ping was a second trip to the
        // connection's worker thread for every query.
        .test_before_acquire(false)
        // SQLite may end a transaction by itself on an I/O error (a full
        // disk); sqlx then still counts it open, and the connection's next
        // "transaction" becomes a savepoint whose release commits nothing,
        // so a scan would be acknowledged and never stored. A connection
        // that comes back still counted in a transaction is closed instead
        // of reused (the ping first lets a queued rollback finish; a
        // connection not counted in a transaction needs no ping, which
        // spares every plain query a second trip to the worker thread).
        .after_release(|conn, _| {
            Box::pin(async move {
                if !sqlx::Connection::is_in_transaction(&*conn) {
                    return Ok(true);
                }
                sqlx::Connection::ping(&mut *conn).await?;
                Ok(!sqlx::Connection::is_in_transaction(&*conn))
            })
        })
        .connect_with(opts)
        .await?)
}

/// The file of a SQLite database URL (`FILE`, `sqlite://FILE`,
/// `sqlite:FILE`); `None` for PostgreSQL or a URL of another kind.
pub fn sqlite_file(url: &str) -> Option<&str> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return None;
    }
    let path = if let Some(p) = url.strip_prefix("sqlite://") {
        p
    } else if let Some(p) = url.strip_prefix("sqlite:") {
        p
    } else if url.contains("://") {
        return None;
    } else {
        url
    };
    (!path.is_empty()).then_some(path)
}

impl Store {
    /// Connects to `url`: `postgres://…` / `postgresql://…`, or SQLite as
    /// `sqlite://FILE`, `sqlite:FILE` or a plain file path. Anything else with
    /// a scheme is refused.
    ///
    /// SQLite runs in WAL mode with `synchronous=FULL` (an acknowledged write
    /// survives a power cut, not only a crash), foreign keys on and a busy
    /// timeout; PostgreSQL with `synchronous_commit=on`.
    pub async fn connect(url: &str) -> Result<Store> {
        let pool = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let opts = PgConnectOptions::from_str(url)
                .map_err(|e| StoreError::BadUrl(format!("{url}: {e}")))?
                .options([("synchronous_commit", "on")]);
            Pool::Postgres(pg_pool(opts, 16).await?)
        } else {
            let path = sqlite_file(url).ok_or_else(|| StoreError::BadUrl(url.to_string()))?;
            let opts = SqliteConnectOptions::from_str(&format!("sqlite://{path}"))
                .map_err(|e| StoreError::BadUrl(format!("{url}: {e}")))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .foreign_keys(true)
                // Statement journals and the rows a RETURNING gathers stay in
                // memory: on disk each was a file made, written and deleted
                // in every scan writer's commit.
                .pragma("temp_store", "memory")
                .busy_timeout(Duration::from_secs(30));
            Pool::Sqlite(sqlite_pool(opts, 8).await?)
        };
        Ok(Store { pool })
    }

    /// The same database over a pool of its own with one connection: a task
    /// that writes all the time (the scan writer) never waits behind readers
    /// for a connection.
    pub async fn dedicated(&self) -> Result<Store> {
        self.separate(1).await
    }

    /// The same database over a pool of its own with up to `n` connections.
    pub async fn separate(&self, n: u32) -> Result<Store> {
        let pool = match &self.pool {
            Pool::Sqlite(p) => Pool::Sqlite(sqlite_pool((*p.connect_options()).clone(), n).await?),
            Pool::Postgres(p) => Pool::Postgres(pg_pool((*p.connect_options()).clone(), n).await?),
        };
        Ok(Store { pool })
    }

    /// SQLite: the same database over one connection of its own that
    /// overwrites what it deletes with zeros (`secure_delete`) and builds a
    /// `VACUUM`'s copy in a temporary file rather than in memory (a city's
    /// database may not fit). `None` on PostgreSQL.
    pub(crate) async fn scrubbing(&self) -> Result<Option<(SqlitePool, std::path::PathBuf)>> {
        match &self.pool {
            Pool::Sqlite(p) => {
                let opts = (*p.connect_options()).clone();
                let file = opts.get_filename().to_path_buf();
                let opts = opts
                    .pragma("secure_delete", "on")
                    .pragma("temp_store", "file");
                Ok(Some((sqlite_pool(opts, 1).await?, file)))
            }
            Pool::Postgres(_) => Ok(None),
        }
    }

    /// Connects and applies pending migrations.
    pub async fn open(url: &str) -> Result<Store> {
        let store = Store::connect(url).await?;
        store.migrate().await?;
        Ok(store)
    }

    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> Result<()> {
        db_run!(self, pool => { sqlx::query("SELECT 1").execute(pool).await?; });
        Ok(())
    }

    pub async fn close(&self) {
        db_run!(self, pool => pool.close().await)
    }

    /// The durability settings in force, as the database reports them
    /// (`synchronous`, `journal_mode` / `synchronous_commit`).
    pub async fn durability(&self) -> Result<Vec<(String, String)>> {
        Ok(match &self.pool {
            Pool::Sqlite(pool) => {
                let sync: i64 = sqlx::query_scalar("PRAGMA synchronous")
                    .fetch_one(pool)
                    .await?;
                let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
                    .fetch_one(pool)
                    .await?;
                let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
                    .fetch_one(pool)
                    .await?;
                let sync = match sync {
                    0 => "OFF",
                    1 => "NORMAL",
                    2 => "FULL",
                    3 => "EXTRA",
                    _ => "?",
                };
                vec![
                    ("synchronous".into(), sync.into()),
                    ("journal_mode".into(), journal),
                    ("foreign_keys".into(), fk.to_string()),
                ]
            }
            Pool::Postgres(pool) => {
                let sc: String = sqlx::query_scalar("SHOW synchronous_commit")
                    .fetch_one(pool)
                    .await?;
                let fsync: String = sqlx::query_scalar("SHOW fsync").fetch_one(pool).await?;
                vec![("synchronous_commit".into(), sc), ("fsync".into(), fsync)]
            }
        })
    }
}

/// `(street, id)` pairs for an `IN` list, and similar helpers.
pub(crate) fn push_ids<'a, DB: sqlx::Database>(qb: &mut sqlx::QueryBuilder<'a, DB>, ids: &'a [i64])
where
    i64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    qb.push("(");
    let mut sep = qb.separated(", ");
    for id in ids {
        sep.push_bind(*id);
    }
    sep.push_unseparated(")");
}

/// The same PostgreSQL URL pointing at another database (benchmarks and tests
/// make fresh databases beside the one they are given).
pub fn with_database(url: &str, db: &str) -> String {
    let (head, query) = match url.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (url, None),
    };
    let scheme_end = head.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match head[scheme_end..].find('/') {
        Some(i) => &head[..scheme_end + i],
        None => head,
    };
    match query {
        Some(q) => format!("{base}/{db}?{q}"),
        None => format!("{base}/{db}"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn with_database_swaps_the_name() {
        assert_eq!(
            super::with_database("postgres://u@h:5432/test", "x"),
            "postgres://u@h:5432/x"
        );
        assert_eq!(
            super::with_database("postgres://u@h/test?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
        assert_eq!(
            super::with_database("postgres://u@h", "x"),
            "postgres://u@h/x"
        );
    }
}

#[cfg(test)]
mod unique_tests {
    use super::is_unique_violation;

    #[test]
    fn both_backends_words_for_a_second_row_of_a_key() {
        assert!(is_unique_violation(
            "UNIQUE constraint failed: document_registry.doc_kind, document_registry.doc_number"
        ));
        assert!(is_unique_violation(
            "duplicate key value violates unique constraint \"compound_street_id_community_id_name_key\""
        ));
        assert!(!is_unique_violation("FOREIGN KEY constraint failed"));
        assert!(!is_unique_violation(
            "insert or update on table \"resident\" violates foreign key constraint \"resident_household_fkey\""
        ));
    }
}
