//! Gridwarden domain: pure rules and types. No IO, no async, no SQL, no HTTP.
//!
//! Everything here is a function of its inputs; time comes in as a parameter
//! ([`date::Date`] for "today"), randomness as a seeded [`rng::Rng`].

pub mod access;
pub mod date;
pub mod demo;
pub mod handoff;
pub mod idnumber;
pub mod ids;
pub mod lab;
pub mod mask;
pub mod notify;
pub mod phone;
pub mod resident;
pub mod rng;
pub mod roster;
pub mod schedule;
pub mod territory;
pub mod testing;
pub mod text;
