//! Rosters: the messy spreadsheets property companies and old grid leaders
//! send. A file reader (in `gw-app`) turns a file into [`Sheet`]s of [`Cell`]s;
//! this module turns sheets into residents with addresses, or precise
//! [`RowIssue`]s (sheet, row, column, reason). Pure: no IO.

use crate::date::Date;

/// One cell as a file holds it.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Empty,
    Text(String),
    /// A numeric cell. ID numbers Excel turned into numbers arrive here.
    Number(f64),
    /// A date-formatted cell.
    Date(Date),
    Bool(bool),
}

/// A rectangular merged region, zero-based and inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Merge {
    pub first_row: u32,
    pub first_col: u32,
    pub last_row: u32,
    pub last_col: u32,
}

/// One sheet: rows of cells (row 0 is the file's first row, so a row's
/// spreadsheet number is index + 1) and its merged regions, whose value sits
/// in their top-left cell only.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Sheet {
    pub name: String,
    pub rows: Vec<Vec<Cell>>,
    pub merges: Vec<Merge>,
}
