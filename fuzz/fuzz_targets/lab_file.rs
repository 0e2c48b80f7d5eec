//! Bytes → reader → lab result rows or placed issues: no input panics, and
//! every accepted barcode is unique with a valid tube barcode.
#![no_main]

mod common;

use gw_domain::lab::parse_lab_sheets;
use gw_domain::testing::{BarcodeRule, TubeBarcode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(init: common::tolerate_third_party_panics(), |data: &[u8]| {
    let Some((name, bytes)) = common::named(data) else {
        return;
    };
    let Ok(sheets) = common::roster_file::read_roster_bytes(name, bytes) else {
        return;
    };
    let rule = BarcodeRule::default();
    let lab = parse_lab_sheets(name, &sheets, &rule);
    let mut seen = std::collections::HashSet::new();
    for r in &lab.rows {
        assert!(seen.insert(r.barcode.clone()), "barcode accepted twice");
        assert_eq!(
            TubeBarcode::parse(r.barcode.as_str(), &rule).as_ref(),
            Ok(&r.barcode)
        );
    }
    assert!(lab.issues.iter().all(|i| i.file == name));
});
