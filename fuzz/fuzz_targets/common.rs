//! Shared by the file targets: the roster reader, compiled from its own
//! source so the fuzz build does not pull in gw-app's database stack, and how
//! a fuzz input names its file type.

#[path = "../../crates/app/src/roster_file.rs"]
#[allow(dead_code)]
pub mod roster_file;

/// The first byte picks the name the bytes are uploaded under (the name gives
/// the type, but zip and OLE content is read as a workbook whatever the name).
pub fn named(data: &[u8]) -> Option<(&'static str, &[u8])> {
    let (first, rest) = data.split_first()?;
    let name = match first % 4 {
        0 => "名单.csv",
        1 => "名单.xlsx",
        2 => "名单.xls",
        _ => "名单.txt",
    };
    Some((name, rest))
}
