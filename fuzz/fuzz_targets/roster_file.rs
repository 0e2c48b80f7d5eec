//! Bytes → roster reader → sheets → parsed rows → import plan: no input panics.
#![no_main]

mod common;

use std::collections::HashMap;

use gw_domain::date::Date;
use gw_domain::roster::{parse_workbook, plan_import, ExistingResident, ParseOptions, RowOutcome};
use libfuzzer_sys::fuzz_target;

fuzz_target!(init: common::tolerate_third_party_panics(), |data: &[u8]| {
    let Some((name, bytes)) = common::named(data) else {
        return;
    };
    let Ok(sheets) = common::roster_file::read_roster_bytes(name, bytes) else {
        return;
    };
    let Some(today) = Date::new(2022, 4, 2) else {
        return;
    };
    let opts = ParseOptions {
        default_compound: "未填小区".into(),
        today,
    };
    let parsed = parse_workbook(&sheets, &opts);
    let rows: Vec<_> = parsed
        .rows
        .iter()
        .filter_map(|r| match r {
            RowOutcome::Resident(r) => Some(r.as_ref()),
            RowOutcome::Rejected(_) => None,
        })
        .collect();
    // Half the rows stand for residents already registered, so the planner's
    // matching by document and by name within a household is exercised too.
    let existing: Vec<ExistingResident> = rows
        .iter()
        .step_by(2)
        .enumerate()
        .map(|(i, r)| ExistingResident {
            id: i as i64,
            address: r.address.clone(),
            resident: r.resident.clone(),
        })
        .collect();
    let plan = plan_import(&rows, &existing, &HashMap::new());
    std::hint::black_box(plan);
});
