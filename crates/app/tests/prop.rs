#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code
//! Property tests of the file reader: any bytes under any name are read or
//! refused with a reason, never a panic; a CSV written by Excel's rules reads
//! back cell for cell, row for row (quoted commas, quotes, line breaks inside
//! cells), in UTF-8 with or without a BOM and in GBK.

use gw_app::roster_file::read_roster_bytes;
use gw_domain::roster::Cell;
use proptest::prelude::*;

fn csv_bytes(rows: &[Vec<String>]) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .flexible(true)
        .from_writer(Vec::new());
    for r in rows {
        w.write_record(r).unwrap();
    }
    w.into_inner().unwrap()
}

/// Cells as rosters hold them; no tabs or semicolons (they would rightly
/// change the sniffed delimiter) and at least one non-blank cell per row.
fn rows() -> impl Strategy<Value = Vec<Vec<String>>> {
    let cell = "[a-zA-Z0-9 ,\"\\n张王李三号楼单元室阴阳性０-９（）-]{0,12}";
    prop::collection::vec(
        prop::collection::vec(cell, 1..6).prop_filter("a row with something in it", |r| {
            r.iter().any(|c| !c.trim().is_empty())
        }),
        1..20,
    )
}

fn expected(rows: &[Vec<String>]) -> Vec<Vec<Cell>> {
    rows.iter()
        .map(|r| {
            r.iter()
                .map(|c| {
                    if c.trim().is_empty() {
                        Cell::Empty
                    } else {
                        Cell::Text(c.clone())
                    }
                })
                .collect()
        })
        .collect()
}

/// What a file may start with: nothing special, a zip (xlsx), an OLE container
/// (xls), the UTF-8, UTF-16LE and UTF-16BE byte-order marks.
const PREFIXES: &[&[u8]] = &[
    b"",
    b"PK\x03\x04",
    b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1",
    b"\xEF\xBB\xBF",
    b"\xFF\xFE",
    b"\xFE\xFF",
];

proptest! {
    #[test]
    fn any_bytes_under_any_name_are_read_or_refused(
        name in prop::sample::select(&["名单.csv", "名单.xlsx", "名单.xls", "名单.txt", "名单.pdf", "名单"][..]),
        prefix in prop::sample::select(PREFIXES),
        body in prop::collection::vec(any::<u8>(), 0..2048),
    ) {
        let mut bytes = prefix.to_vec();
        bytes.extend(body);
        if let Ok(sheets) = read_roster_bytes(name, &bytes) {
            prop_assert!(!sheets.is_empty());
            prop_assert!(sheets.iter().any(|s| !s.rows.is_empty()));
        }
    }

    #[test]
    fn a_utf8_csv_reads_back_cell_for_cell(rows in rows(), bom in any::<bool>()) {
        let mut bytes = if bom { b"\xEF\xBB\xBF".to_vec() } else { Vec::new() };
        bytes.extend(csv_bytes(&rows));
        let sheets = read_roster_bytes("3号楼.csv", &bytes).unwrap();
        prop_assert_eq!(sheets.len(), 1);
        prop_assert_eq!(&sheets[0].name, "3号楼");
        prop_assert_eq!(&sheets[0].rows, &expected(&rows));
    }

    #[test]
    fn a_gbk_csv_reads_back_cell_for_cell(rows in rows()) {
        let text = String::from_utf8(csv_bytes(&rows)).unwrap();
        let (gbk, _, unmappable) = encoding_rs::GB18030.encode(&text);
        prop_assert!(!unmappable);
        // A short GBK text can happen to be valid UTF-8 too; it is then read as UTF-8.
        prop_assume!(std::str::from_utf8(&gbk).is_err());
        let sheets = read_roster_bytes("名单.csv", &gbk).unwrap();
        prop_assert_eq!(&sheets[0].rows, &expected(&rows));
    }
}

/// Found by the `roster_file` fuzz target: a cell reference with nine column
/// letters (`AAAAAAAAA1`) overflows calamine 0.38's column arithmetic, a panic
/// in a build with overflow checks. The reader refuses the file instead.
#[test]
fn an_absurd_cell_reference_is_refused_not_a_panic() {
    let bytes = include_bytes!("data/cell-ref-overflow.xlsx");
    let r = read_roster_bytes("坏.xlsx", bytes);
    if cfg!(debug_assertions) {
        let e = r.unwrap_err().to_string();
        assert!(e.contains("坏.xlsx") && e.contains("damaged"), "{e}");
    }
}
