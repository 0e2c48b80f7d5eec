//! A lab's result file (tube barcode → result) uploaded in one go: read
//! (`roster_file`), parsed (`gw_domain::lab`), every barcode checked against
//! the round, then applied through [`crate::testing::post_results`], so an
//! abnormal pool is traced exactly as when the lab posts JSON. A file with any
//! problem is refused whole: nothing is applied and every problem is reported.

use gw_domain::access::Action;
use gw_domain::ids::Key;
use gw_domain::lab::{parse_lab_sheets, LabIssue, LabResult};
use gw_domain::roster::Sheet;
use gw_domain::testing::BarcodeRule;
use gw_store::Store;
use serde::Serialize;

use crate::access::{self, AuthError, Principal};
use crate::roster_file::{read_roster_bytes, FileError};
use crate::testing::{post_results, ResultsSummary, TubeResult};
use crate::Clock;

#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    File(#[from] FileError),
    /// The file was read but rows are wrong: nothing was applied.
    #[error("结果文件有 {} 处错误，未做任何记录 / the results file has {} problem(s): nothing was recorded", .0.len(), .0.len())]
    Rows(Vec<LabIssue>),
}

impl From<gw_store::StoreError> for UploadError {
    fn from(e: gw_store::StoreError) -> Self {
        UploadError::Auth(AuthError::Store(e))
    }
}

/// What an accepted file did.
#[derive(Debug, Clone, Serialize)]
pub struct LabUpload {
    pub file: String,
    /// Rows read (each barcode once).
    pub rows: usize,
    /// Rows repeating a barcode with the same result.
    pub repeated: usize,
    /// Sheets passed over: no barcode/result header (a summary sheet, a cover).
    pub skipped_sheets: Vec<String>,
    #[serde(flatten)]
    pub summary: ResultsSummary,
}

/// Reads an uploaded file (`name` gives its type) and records its results.
pub async fn upload_results(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    round: Key,
    name: &str,
    bytes: &[u8],
) -> Result<LabUpload, UploadError> {
    // Who may post results is checked before the file is even read.
    authorize(store, clock, p, round).await?;
    let sheets = read_roster_bytes(name, bytes)?;
    upload_sheets(store, clock, p, round, name, &sheets).await
}

async fn authorize(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    round: Key,
) -> Result<(), UploadError> {
    let place = store.place_of(round.street, "street", round.street).await?;
    access::authorize(p, clock, Action::PostResults, &place)?;
    store.round(round.street, round.id).await?;
    Ok(())
}

/// Records the results in sheets already read from the file `name`.
pub async fn upload_sheets(
    store: &Store,
    clock: &Clock,
    p: &Principal,
    round: Key,
    name: &str,
    sheets: &[Sheet],
) -> Result<LabUpload, UploadError> {
    authorize(store, clock, p, round).await?;
    // Every barcode must be a tube of the round (checked below), opened under
    // the street's rule then in force: the file's are only read for shape.
    let parsed = parse_lab_sheets(name, sheets, &BarcodeRule::lookup());
    let mut issues = parsed.issues;
    // Every barcode must be a tube of this round, and a result once recorded
    // is never changed: both checked before anything is applied.
    for r in &parsed.rows {
        let place = |reason: String| LabIssue {
            file: name.to_string(),
            sheet: r.sheet.clone(),
            row: Some(r.row),
            column: r.column.clone(),
            reason,
        };
        match store
            .tube_and_result_by_barcode(round.street, round.id, r.barcode.as_str())
            .await?
        {
            None => issues.push(place(
                crate::testing::unknown_tube_reason(store, round, r.barcode.as_str()).await?,
            )),
            Some((_, earlier)) => {
                if let Some(e) = earlier.filter(|e| e != r.result.code()) {
                    let shown = match e.as_str() {
                        "negative" => LabResult::Negative.label_zh(),
                        "abnormal" => LabResult::Abnormal.label_zh(),
                        "invalid" => LabResult::Invalid.label_zh(),
                        other => other,
                    };
                    issues.push(place(format!(
                        "试管 {} 已记录为{shown}，文件中为{}；上传不改动已有结果，实验室更正请用“更正结果”并写明原因 / tube {} already has the result {e}, the file says {}: an upload does not change it (for a corrected report use the correction, with a reason)",
                        r.barcode.as_str(),
                        r.result.label_zh(),
                        r.barcode.as_str(),
                        r.result.code()
                    )));
                }
            }
        }
    }
    if !issues.is_empty() {
        // In the file's order (the parse's problems came first, then the
        // round's): each sheet as it first appears, its rows top to bottom.
        let mut sheets: Vec<String> = Vec::new();
        for i in &issues {
            if !sheets.contains(&i.sheet) {
                sheets.push(i.sheet.clone());
            }
        }
        issues.sort_by_key(|i| (sheets.iter().position(|s| *s == i.sheet), i.row));
        tracing::warn!(round = %round, problems = issues.len(), "lab file refused");
        return Err(UploadError::Rows(issues));
    }
    let results: Vec<TubeResult> = parsed
        .rows
        .iter()
        .map(|r| TubeResult {
            barcode: r.barcode.as_str().to_string(),
            result: r.result.code().to_string(),
        })
        .collect();
    let summary = post_results(store, clock, p, round, &results, Some(name)).await?;
    Ok(LabUpload {
        file: name.to_string(),
        rows: parsed.rows.len(),
        repeated: parsed.repeated,
        skipped_sheets: parsed.skipped_sheets,
        summary,
    })
}
