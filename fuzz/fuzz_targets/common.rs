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

/// libfuzzer-sys aborts in its panic hook, before any `catch_unwind` runs. The
/// reader deliberately turns a panic inside the third-party workbook parser
/// into a refusal (calamine 0.38 overflows on a cell reference such as
/// `AAAAAAAAA1`), so a panic raised in calamine or the zip and XML crates under
/// it is left to unwind to that boundary; a panic anywhere else, in our code,
/// still aborts and is reported.
pub fn tolerate_third_party_panics() {
    let abort_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let file = info.location().map(|l| l.file()).unwrap_or_default();
        let third_party = [
            "/calamine-",
            "/zip-",
            "/quick-xml-",
            "/codepage-",
            "/encoding_rs-",
        ]
        .iter()
        .any(|c| file.contains(c));
        if !third_party {
            abort_hook(info);
        }
    }));
}
