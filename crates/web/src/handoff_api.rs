//! Supplies, packing, hand-off, lab receipt and the count reconciliation:
//! thin handlers over `gw_app::handoff`.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use gw_app::handoff::{self, Counted, NewSupply, Packed, Reconciliation, SupplyView, Transporter};
use gw_domain::ids::Key;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::{AppState, Auth, WebError};

fn key(s: &str, what: &str) -> Result<Key, WebError> {
    s.parse::<Key>().map_err(|_| {
        WebError::bad_request(format!(
            "{what} 应为“街道-编号”，例如 1-42 / {what} must be STREET-ID, e.g. 1-42: {s}"
        ))
    })
}

#[derive(Debug, Deserialize)]
pub struct SupplyBody {
    pub kind: String,
    pub quantity: Option<u64>,
    pub first_barcode: Option<String>,
    pub last_barcode: Option<String>,
    pub batch: Option<String>,
    #[serde(default)]
    pub received_by: String,
}

pub async fn issue_supplies(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    Path(id): Path<String>,
    Json(b): Json<SupplyBody>,
) -> Result<(StatusCode, Json<SupplyView>), WebError> {
    let point = key(&id, "point")?;
    let range = match (&b.first_barcode, &b.last_barcode) {
        (Some(f), Some(l)) => Some((f.as_str(), l.as_str())),
        (None, None) => None,
        _ if b.kind != "tubes" => {
            return Err(WebError::bad_request(
                "只有采样管按条码发放；试剂盒和防护用品只填数量 / only tubes are issued by barcode: kits and protective gear take a quantity only",
            ))
        }
        _ => {
            return Err(WebError::bad_request(
                "条码段须同时给出首尾 / a range needs both first_barcode and last_barcode",
            ))
        }
    };
    let v = handoff::issue_supplies(
        &s.store,
        &s.clock,
        &a.principal,
        point,
        &NewSupply {
            kind: &b.kind,
            quantity: b.quantity,
            range,
            batch: b.batch.as_deref(),
            received_by: &b.received_by,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(v)))
}

pub async fn list_supplies(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    Path(id): Path<String>,
) -> Result<Json<Value>, WebError> {
    let point = key(&id, "point")?;
    let items = handoff::supplies(&s.store, &s.clock, &a.principal, point).await?;
    Ok(Json(json!({ "point": point.to_string(), "items": items })))
}

/// A point's packing table: closed tubes to bag, its bags and boxes with
/// the system's and the packers' counts, its hand-overs.
pub async fn packing(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    Path(id): Path<String>,
) -> Result<Json<Value>, WebError> {
    let point = key(&id, "point")?;
    Ok(Json(json!(
        handoff::packing(&s.store, &s.clock, &a.principal, point).await?
    )))
}

/// A packing step's answer: 201 when it made a record, 200 when the
/// request repeated one exactly (`replay`: nothing written again).
fn packed(v: Packed) -> (StatusCode, Json<Packed>) {
    let status = if v.replay {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    (status, Json(v))
}

#[derive(Debug, Deserialize)]
pub struct BagBody {
    pub barcode: String,
    pub tubes: Vec<String>,
    /// The number of tubes the packer counted into the bag.
    pub counted_tubes: i64,
}

pub async fn pack_bag(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    Path(id): Path<String>,
    Json(b): Json<BagBody>,
) -> Result<(StatusCode, Json<Packed>), WebError> {
    let point = key(&id, "point")?;
    let v = handoff::pack_bag(
        &s.store,
        &s.clock,
        &a.principal,
        point,
        &b.barcode,
        &b.tubes,
        b.counted_tubes,
    )
    .await?;
    Ok(packed(v))
}

#[derive(Debug, Deserialize)]
pub struct BoxBody {
    pub barcode: String,
    pub bags: Vec<String>,
    pub counted_bags: i64,
    pub counted_tubes: i64,
}

pub async fn pack_box(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    Path(id): Path<String>,
    Json(b): Json<BoxBody>,
) -> Result<(StatusCode, Json<Packed>), WebError> {
    let point = key(&id, "point")?;
    let v = handoff::pack_box(
        &s.store,
        &s.clock,
        &a.principal,
        point,
        &b.barcode,
        &b.bags,
        (b.counted_bags, b.counted_tubes),
    )
    .await?;
    Ok(packed(v))
}

#[derive(Debug, Deserialize)]
pub struct RecountBody {
    /// The bag's or box's label.
    pub barcode: String,
    pub counted_tubes: i64,
    /// A box's bags counted (absent for a bag).
    #[serde(default)]
    pub counted_bags: Option<i64>,
    pub reason: String,
}

/// A packer's recount of a bag or box not yet handed over.
pub async fn recount(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    Path(id): Path<String>,
    Json(b): Json<RecountBody>,
) -> Result<Json<Packed>, WebError> {
    let point = key(&id, "point")?;
    let v = handoff::recount(
        &s.store,
        &s.clock,
        &a.principal,
        point,
        &b.barcode,
        b.counted_tubes,
        b.counted_bags,
        &b.reason,
    )
    .await?;
    Ok(Json(v))
}

#[derive(Debug, Default, Deserialize)]
pub struct TransporterBody {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub phone: String,
    #[serde(default)]
    pub account: String,
}

#[derive(Debug, Deserialize)]
pub struct HandOffBody {
    pub boxes: Vec<String>,
    #[serde(default)]
    pub transporter: TransporterBody,
    pub counted_boxes: Option<i64>,
    pub counted_tubes: i64,
    pub counted_people: Option<i64>,
}

pub async fn hand_over(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    Path(id): Path<String>,
    Json(b): Json<HandOffBody>,
) -> Result<(StatusCode, Json<Packed>), WebError> {
    let point = key(&id, "point")?;
    let v = handoff::hand_over(
        &s.store,
        &s.clock,
        &a.principal,
        point,
        &b.boxes,
        &Transporter {
            name: &b.transporter.name,
            phone: &b.transporter.phone,
            account: &b.transporter.account,
        },
        &Counted {
            boxes: b.counted_boxes,
            tubes: b.counted_tubes,
            people: b.counted_people,
            ..Default::default()
        },
    )
    .await?;
    Ok(packed(v))
}

#[derive(Debug, Deserialize)]
pub struct ReceiptBody {
    pub boxes: Vec<String>,
    pub counted_boxes: Option<i64>,
    pub counted_tubes: i64,
    pub counted_people: Option<i64>,
    /// Tubes the lab counted box by box: `{"BOX0001": 38}` (any of the boxes).
    #[serde(default)]
    pub box_tubes: std::collections::BTreeMap<String, i64>,
}

pub async fn receive(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    Path(id): Path<String>,
    Json(b): Json<ReceiptBody>,
) -> Result<(StatusCode, Json<Packed>), WebError> {
    let round = key(&id, "round")?;
    let v = handoff::receive(
        &s.store,
        &s.clock,
        &a.principal,
        round,
        &b.boxes,
        &Counted {
            boxes: b.counted_boxes,
            tubes: b.counted_tubes,
            people: b.counted_people,
            per_box: b.box_tubes.into_iter().collect(),
        },
    )
    .await?;
    Ok(packed(v))
}

#[derive(Debug, Deserialize)]
pub struct CapacityBody {
    pub bag_capacity: u32,
}

pub async fn set_bag_capacity(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    Path(id): Path<String>,
    Json(b): Json<CapacityBody>,
) -> Result<Json<Value>, WebError> {
    let round = key(&id, "round")?;
    let c =
        handoff::set_bag_capacity(&s.store, &s.clock, &a.principal, round, b.bag_capacity).await?;
    let over: Vec<Value> = c
        .over
        .iter()
        .map(|(bag, tubes)| json!({ "bag": bag, "tubes": tubes }))
        .collect();
    Ok(Json(
        json!({ "round": round.to_string(), "bag_capacity": c.capacity, "over": over }),
    ))
}

#[derive(Debug, Deserialize)]
pub struct ReportQuery {
    pub point: Option<String>,
}

pub async fn reconciliation(
    State(s): State<AppState>,
    Extension(a): Extension<Auth>,
    Path(id): Path<String>,
    Query(q): Query<ReportQuery>,
) -> Result<Json<Reconciliation>, WebError> {
    let round = key(&id, "round")?;
    let point = q.point.as_deref().map(|p| key(p, "point")).transpose()?;
    Ok(Json(
        handoff::report(&s.store, &s.clock, &a.principal, round, point).await?,
    ))
}
