#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is a panic
//! The one integration test binary. Every test runs on SQLite by default and
//! on PostgreSQL when GRIDWARDEN_TEST_POSTGRES is set (a fresh database per
//! test); the same code either way.

mod access;
mod api;
mod codes;
mod durability;
mod harness;
mod import;
mod replay;
mod storage;
mod testing;
