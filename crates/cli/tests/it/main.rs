#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is a panic
//! The one integration test binary. Every test runs on SQLite by default and
//! on PostgreSQL when GRIDWARDEN_TEST_POSTGRES is set (a fresh database per
//! test); the same code either way.

mod access;
mod alert_pages;
mod alerts;
mod api;
mod browser;
mod call_delay;
mod carry;
mod channel_pages;
mod codes;
mod coverage_pages;
mod d2d_community;
mod d2d_controlled;
mod d2d_retest;
mod durability;
mod handoff;
mod harness;
mod held_calls;
mod held_notice_crash;
mod held_pool;
mod import;
mod invalid_exempt;
mod lab;
mod lab_page_held;
mod leave;
mod links;
mod notify_kind;
mod packing2;
mod packing_pages;
mod page_polish;
mod pages;
mod pages4;
mod pages5;
mod pages6;
mod planfix;
mod print_pages;
mod replay;
mod resample_due;
mod round_figures;
mod round_pages;
mod sched2;
mod schedule;
mod schedule2;
mod schema;
mod settings_warn;
mod station_scans;
mod storage;
mod territory;
mod testing;
mod tls;
mod tube_empty;
mod tube_takeback_closed;
mod unavailable;
mod web_polish;
