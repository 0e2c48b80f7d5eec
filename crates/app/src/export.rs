//! Roster export: a sheet a person opens in Excel or WPS, one row per
//! resident, personal data masked unless explicitly asked (and audited).

use std::path::Path;

use gw_domain::ids::Key;
use gw_domain::mask;
use gw_store::audit::AuditWrite;
use gw_store::registry::ResidentFilter;
use gw_store::{Store, StoreError};
use rust_xlsxwriter::{Format, Workbook};

use crate::Clock;

#[derive(Debug, Clone)]
pub struct ExportScope {
    pub street: Option<i64>,
    pub community: Option<i64>,
    pub grid: Option<i64>,
    /// Human description for the title row.
    pub label: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("could not write {0}: {1}")]
    Write(String, String),
}

pub const HEADERS: [&str; 15] = [
    "社区",
    "网格",
    "小区",
    "楼栋",
    "单元",
    "门牌号",
    "姓名",
    "性别",
    "年龄",
    "证件类型",
    "证件号码",
    "联系电话",
    "人员类别",
    "特殊人群",
    "备注",
];

/// Writes the roster of a scope; returns the number of residents written.
pub async fn export_roster(
    store: &Store,
    clock: &Clock,
    scope: &ExportScope,
    out: &Path,
    unmasked: bool,
    actor: &str,
) -> Result<usize, ExportError> {
    let mut rows = Vec::new();
    loop {
        let page = store
            .residents(&ResidentFilter {
                street: scope.street,
                community: scope.community,
                grid: scope.grid,
                limit: 10_000,
                offset: rows.len() as i64,
                ..Default::default()
            })
            .await?;
        let n = page.len();
        rows.extend(page);
        if n < 10_000 {
            break;
        }
    }
    let today = clock.today();
    let mut wb = Workbook::new();
    let bold = Format::new().set_bold();
    let ws = wb.add_worksheet();
    let werr = |e: rust_xlsxwriter::XlsxError| {
        ExportError::Write(out.display().to_string(), e.to_string())
    };
    ws.set_name("居民名单").map_err(werr)?;
    let title = format!(
        "{}居民名单{}",
        scope.label,
        if unmasked {
            "（含完整个人信息，注意保密）"
        } else {
            "（个人信息已脱敏）"
        }
    );
    ws.write_string_with_format(0, 0, &title, &bold)
        .map_err(werr)?;
    for (c, h) in HEADERS.iter().enumerate() {
        ws.write_string_with_format(1, c as u16, *h, &bold)
            .map_err(werr)?;
    }
    for (i, r) in rows.iter().enumerate() {
        let p = &r.resident;
        let doc = p
            .document
            .as_ref()
            .map(|d| {
                if unmasked {
                    d.number.clone()
                } else {
                    mask::document(&d.number)
                }
            })
            .unwrap_or_default();
        let phones: Vec<String> = p
            .phones
            .iter()
            .map(|ph| {
                let n = if unmasked {
                    ph.phone.as_str().to_string()
                } else {
                    mask::phone(ph.phone.as_str())
                };
                match ph.relation {
                    gw_domain::phone::PhoneRelation::Own => n,
                    rel => format!("{}:{n}", rel.label_zh()),
                }
            })
            .collect();
        // Masked, health flags are left out, not hidden behind a placeholder:
        // that someone has one at all is health data.
        let flags: Vec<&str> = p
            .flags
            .iter()
            .filter(|f| unmasked || !crate::registry::is_health_flag(*f))
            .map(|f| f.label_zh())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let values = [
            r.community.clone().unwrap_or_default(),
            r.grid.clone().unwrap_or_default(),
            r.compound.clone().unwrap_or_default(),
            r.building.clone().unwrap_or_default(),
            r.unit.clone().unwrap_or_default(),
            r.room.clone().unwrap_or_default(),
            p.name.clone(),
            p.gender.label_zh().to_string(),
            p.birth_date
                .map(|b| b.age_on(today).to_string())
                .unwrap_or_default(),
            p.document
                .as_ref()
                .map(|d| d.kind.label_zh().to_string())
                .unwrap_or_default(),
            doc,
            phones.join(" / "),
            p.residence.label_zh().to_string(),
            flags.join("、"),
            // Masked, every row reads the placeholder: one only where a
            // note is (怀孕30周, 每周一三五透析) would mark who has health
            // data. An import reads it as no value.
            if unmasked {
                p.notes.clone()
            } else {
                gw_domain::roster::HIDDEN.into()
            },
        ];
        for (c, v) in values.iter().enumerate() {
            if !v.is_empty() {
                ws.write_string(i as u32 + 2, c as u16, v).map_err(werr)?;
            }
        }
    }
    for (c, w) in [10, 10, 12, 8, 6, 8, 10, 5, 5, 12, 22, 30, 8, 20, 30]
        .iter()
        .enumerate()
    {
        ws.set_column_width(c as u16, *w).map_err(werr)?;
    }
    ws.set_freeze_panes(2, 0).map_err(werr)?;
    // Recorded before the file exists: a failed audit write leaves no file
    // (a file that then fails to save leaves a record of an attempt).
    let now = clock.now_ms();
    let street = scope.street.unwrap_or(0);
    let target = match (scope.grid, scope.community) {
        (Some(g), _) => ("grid", Key { street, id: g }.to_string()),
        (None, Some(c)) => ("community", Key { street, id: c }.to_string()),
        _ => ("street", street.to_string()),
    };
    let detail = format!("residents={} unmasked={unmasked}", rows.len());
    store
        .audit(&AuditWrite {
            street_id: street,
            at_ms: now,
            actor,
            action: if unmasked {
                "export_roster_unmasked"
            } else {
                "export_roster"
            },
            target_kind: target.0,
            target_id: &target.1,
            detail: &detail,
            address: "",
        })
        .await?;
    wb.save(out).map_err(werr)?;
    Ok(rows.len())
}
