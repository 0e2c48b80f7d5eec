//! Supplies issued to points, bags, boxes, hand-overs and lab receipts, and the
//! counts reconciliation reads. Each packing step is one transaction that also
//! moves the tubes one state along (closed → sealed → boxed → handed_over →
//! received) and refuses, as a conflict, anything another request took first.

use sqlx::{QueryBuilder, Row};

use gw_domain::testing::TubeState;

use crate::audit::AuditRecord;
use crate::import::{tx_run, RowLock};
use crate::{db_run, push_ids, Result, Store, StoreError};

/// Supplies to record.
#[derive(Debug, Clone)]
pub struct SupplyWrite<'a> {
    pub street: i64,
    pub round: i64,
    pub point: i64,
    pub kind: &'a str,
    pub quantity: i64,
    pub first_barcode: Option<&'a str>,
    pub last_barcode: Option<&'a str>,
    pub batch: Option<&'a str>,
    pub received_by: &'a str,
    pub issued_by: &'a str,
    pub now_ms: i64,
}

#[derive(Debug, Clone)]
pub struct SupplyRow {
    pub id: i64,
    pub point_id: i64,
    pub kind: String,
    pub quantity: i64,
    pub first_barcode: Option<String>,
    pub last_barcode: Option<String>,
    pub batch: Option<String>,
    pub received_by: String,
    pub issued_by: String,
    pub issued_ms: i64,
}

/// A tube as packing needs it.
#[derive(Debug, Clone)]
pub struct PackTube {
    pub id: i64,
    pub point_id: i64,
    pub barcode: String,
    pub state: String,
    pub bag: Option<String>,
}

/// A bag as packing needs it, with what the system holds in it.
#[derive(Debug, Clone)]
pub struct PackBag {
    pub id: i64,
    pub point_id: i64,
    pub barcode: String,
    pub box_id: Option<i64>,
    /// The label of the box it is in.
    pub box_barcode: Option<String>,
    pub tubes: i64,
    pub people: i64,
}

/// A box as hand-over and receipt need it.
#[derive(Debug, Clone)]
pub struct PackBox {
    pub id: i64,
    pub point_id: i64,
    pub barcode: String,
    pub handoff_id: Option<i64>,
    pub receipt_id: Option<i64>,
    pub bags: i64,
    pub tubes: i64,
    pub people: i64,
}

/// A hand-over to record.
#[derive(Debug, Clone)]
pub struct HandOffWrite<'a> {
    pub street: i64,
    pub round: i64,
    pub point: i64,
    pub transporter_name: &'a str,
    pub transporter_phone: &'a str,
    pub transporter_account: &'a str,
    pub counted_boxes: i64,
    pub counted_tubes: i64,
    pub counted_people: Option<i64>,
    pub by: &'a str,
    pub now_ms: i64,
}

/// A lab receipt to record.
#[derive(Debug, Clone)]
pub struct ReceiptWrite<'a> {
    pub street: i64,
    pub round: i64,
    pub counted_boxes: Option<i64>,
    pub counted_tubes: i64,
    pub counted_people: Option<i64>,
    /// `(box id, tubes)` the lab counted box by box (any of the boxes, or none).
    pub box_tubes: &'a [(i64, i64)],
    pub by: &'a str,
    pub now_ms: i64,
}

/// What reconciliation reads about a round, as stored.
#[derive(Debug, Clone, Default)]
pub struct ChainRows {
    pub points: Vec<PointCount>,
    pub bags: Vec<BagCount>,
    pub boxes: Vec<BoxCount>,
    pub handoffs: Vec<HandOffRow>,
    pub receipts: Vec<ReceiptRow>,
}

/// Which tubes past `open` are expected in a bag (`t` the tube): all but a
/// closed tube whose swabs were all taken back (fill 0: left from before the
/// take-back of a closed tube's last swab withdrew it, see
/// [`Store::void_registration`]; closing it again withdraws it). A tube in a
/// bag is counted whatever it holds: it is there.
const EXPECTED: &str = "NOT (t.state = 'closed' AND t.fill = 0)";

/// A point's closed tubes (and the swabs in them) and its open tubes.
#[derive(Debug, Clone)]
pub struct PointCount {
    pub id: i64,
    pub name: String,
    pub closed_tubes: i64,
    pub closed_people: i64,
    pub open_tubes: i64,
    /// Open pooled tubes holding swabs, and the swabs in them (retest and
    /// re-sample tubes are filled after sampling closes).
    pub open_filled_tubes: i64,
    pub open_people: i64,
}

#[derive(Debug, Clone)]
pub struct BagCount {
    pub id: i64,
    pub barcode: String,
    pub point_id: i64,
    pub tubes: i64,
    pub people: i64,
    pub counted_tubes: i64,
    pub box_barcode: Option<String>,
    pub packed_ms: i64,
}

#[derive(Debug, Clone)]
pub struct BoxCount {
    pub id: i64,
    pub barcode: String,
    pub point_id: i64,
    pub counted_bags: i64,
    pub counted_tubes: i64,
    pub handoff_id: Option<i64>,
    pub receipt_id: Option<i64>,
    /// The tubes the lab counted in this box, when it counted box by box.
    pub lab_tubes: Option<i64>,
    pub packed_ms: i64,
}

#[derive(Debug, Clone)]
pub struct ReceiptRow {
    pub id: i64,
    pub counted_boxes: Option<i64>,
    pub counted_tubes: i64,
    pub counted_people: Option<i64>,
    pub received_by: String,
    pub created_ms: i64,
}

#[derive(Debug, Clone)]
pub struct HandOffRow {
    pub id: i64,
    pub point_id: i64,
    pub counted_boxes: i64,
    pub counted_tubes: i64,
    pub counted_people: Option<i64>,
    pub transporter_name: String,
    pub transporter_phone: String,
    pub transporter_account: String,
    pub handed_by: String,
    pub created_ms: i64,
}

fn push_texts<'a, DB: sqlx::Database>(qb: &mut QueryBuilder<'a, DB>, items: &'a [String])
where
    String: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    qb.push("(");
    let mut sep = qb.separated(", ");
    for s in items {
        sep.push_bind(s.clone());
    }
    sep.push_unseparated(")");
}

/// The supplies of a round (`$1` street, `$2` round), of one point (`$3`) or all.
const SUPPLIES: &str = "SELECT id, point_id, kind, quantity, first_barcode, last_barcode, batch, received_by, issued_by, issued_ms FROM supply_issue \
     WHERE street_id = $1 AND round_id = $2 AND ($3 IS NULL OR point_id = $3)";

fn supply_row<R: sqlx::Row>(r: &R) -> std::result::Result<SupplyRow, sqlx::Error>
where
    usize: sqlx::ColumnIndex<R>,
    i64: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    String: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    Option<String>: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    Ok(SupplyRow {
        id: r.try_get(0)?,
        point_id: r.try_get(1)?,
        kind: r.try_get(2)?,
        quantity: r.try_get(3)?,
        first_barcode: r.try_get(4)?,
        last_barcode: r.try_get(5)?,
        batch: r.try_get(6)?,
        received_by: r.try_get(7)?,
        issued_by: r.try_get(8)?,
        issued_ms: r.try_get(9)?,
    })
}

/// Another request took `(zh, en)` (采样管, tube …) first.
fn taken((zh, en): (&str, &str)) -> StoreError {
    StoreError::Conflict(format!(
        "{zh}已被另一操作处理，请刷新后重试 / the {en} was taken by another request first: reload and retry"
    ))
}

/// `UPDATE tube SET state = TO WHERE state IN (what TO comes from) AND
/// street_id = `, the street and the tubes to follow: moves as
/// [`TubeState::comes_from`] says.
fn moved_to(to: TubeState) -> String {
    format!(
        "UPDATE tube SET state = '{}' WHERE state IN {} AND street_id = ",
        to.name(),
        to.comes_from_sql()
    )
}

impl Store {
    pub async fn set_bag_capacity(
        &self,
        street: i64,
        round: i64,
        capacity: i32,
        audit: &AuditRecord,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        let n = tx_run!(tx, conn, DB => sqlx::query("UPDATE testing_round SET bag_capacity = $3 WHERE street_id = $1 AND id = $2")
            .bind(street).bind(round).bind(capacity).execute(&mut *conn).await?.rows_affected());
        if n != 1 {
            return Err(StoreError::NotFound(format!("round {street}-{round}")));
        }
        tx.audit(&audit.write()).await?;
        tx.commit().await
    }

    pub async fn bag_capacity(&self, street: i64, round: i64) -> Result<i32> {
        let c: Option<i32> = db_run!(self, pool => sqlx::query_scalar("SELECT bag_capacity FROM testing_round WHERE street_id = $1 AND id = $2")
            .bind(street).bind(round).fetch_optional(pool).await?);
        c.ok_or_else(|| StoreError::NotFound(format!("round {street}-{round}")))
    }

    /// Stores a supply issue in one transaction that holds its round: a
    /// close, or another issue of the same round, at the same moment waits
    /// (PostgreSQL: the round's row locked for update; SQLite: the write lock
    /// `begin` took). Refused (Conflict) if the round is closed, or if `check`
    /// refuses what the round was issued so far (read in the transaction).
    pub async fn insert_supply(
        &self,
        w: &SupplyWrite<'_>,
        check: impl FnOnce(&[SupplyRow]) -> Result<()>,
        audit: &AuditRecord,
    ) -> Result<i64> {
        let mut tx = self.begin().await?;
        let state = tx.round_state(w.street, w.round, RowLock::Update).await?;
        crate::testing::refuse_settled(
            w.street,
            w.round,
            &state,
            ("，不再发放物资", ": no more supplies"),
        )?;
        let issued = tx_run!(tx, conn, DB => {
            let rows = sqlx::query(&format!("{SUPPLIES} ORDER BY id"))
                .bind(w.street).bind(w.round).bind(None::<i64>).fetch_all(&mut *conn).await?;
            rows.iter().map(supply_row).collect::<std::result::Result<Vec<_>, sqlx::Error>>()?
        });
        check(&issued)?;
        let id = tx_run!(tx, conn, DB => sqlx::query_scalar(
            "INSERT INTO supply_issue (street_id, round_id, point_id, kind, quantity, first_barcode, last_barcode, batch, received_by, issued_by, issued_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id")
            .bind(w.street).bind(w.round).bind(w.point).bind(w.kind).bind(w.quantity).bind(w.first_barcode).bind(w.last_barcode)
            .bind(w.batch).bind(w.received_by).bind(w.issued_by).bind(w.now_ms).fetch_one(&mut *conn).await?);
        tx.audit(&audit.write()).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Supplies issued in a round, of one point or all, oldest first.
    pub async fn supplies(
        &self,
        street: i64,
        round: i64,
        point: Option<i64>,
    ) -> Result<Vec<SupplyRow>> {
        Ok(db_run!(self, pool => {
            let rows = sqlx::query(&format!("{SUPPLIES} ORDER BY id"))
                .bind(street).bind(round).bind(point).fetch_all(pool).await?;
            rows.iter().map(supply_row).collect::<std::result::Result<Vec<_>, sqlx::Error>>()?
        }))
    }

    /// A round's tubes past `open` that are in no bag: `(point, barcode)`,
    /// in the order they were opened. A closed tube whose swabs were all
    /// taken back (fill 0) is not one: nothing in it is expected in a bag
    /// (closing it again withdraws it); bagged anyway, it is counted.
    pub async fn unbagged_tubes(&self, street: i64, round: i64) -> Result<Vec<(i64, String, i64)>> {
        Ok(db_run!(self, pool => {
            sqlx::query(&format!("SELECT t.point_id, t.barcode, COALESCE(t.closed_ms, t.opened_ms) FROM tube t WHERE t.street_id = $1 AND t.round_id = $2 AND t.state <> 'open' AND {EXPECTED} \
                         AND NOT EXISTS (SELECT 1 FROM bag_tube bt WHERE bt.street_id = t.street_id AND bt.tube_id = t.id) ORDER BY t.id"))
                .bind(street).bind(round).fetch_all(pool).await?
                .iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
                .collect::<std::result::Result<Vec<_>, sqlx::Error>>()?
        }))
    }

    /// A round's open pooled tubes holding swabs: `(point, barcode, swabs)`,
    /// in the order they were opened (what the chain's point counts as
    /// left open once sampling is over).
    pub async fn open_filled_tubes(
        &self,
        street: i64,
        round: i64,
    ) -> Result<Vec<(i64, String, i64)>> {
        Ok(db_run!(self, pool => {
            sqlx::query("SELECT t.point_id, t.barcode, CAST(t.fill AS BIGINT) FROM tube t WHERE t.street_id = $1 AND t.round_id = $2 \
                         AND t.state = 'open' AND t.tube_use = 'pool' AND t.fill > 0 ORDER BY t.id")
                .bind(street).bind(round).fetch_all(pool).await?
                .iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
                .collect::<std::result::Result<Vec<_>, sqlx::Error>>()?
        }))
    }

    /// A point's closed tubes not yet in a bag, oldest first, each with the
    /// swabs in it: what is waiting to be sealed into a bag. A tube the lab
    /// resulted before it was bagged (a retest tube carried over by hand) is
    /// among them: the reconciliation counts it unbagged until it is. A
    /// closed tube whose swabs were all taken back is not (see
    /// [`Store::unbagged_tubes`]).
    pub async fn tubes_to_bag(&self, street: i64, point: i64) -> Result<Vec<(String, i64)>> {
        Ok(db_run!(self, pool => {
            sqlx::query(&format!("SELECT t.barcode, (SELECT COUNT(*) FROM registration r WHERE r.street_id = t.street_id AND r.tube_id = t.id) \
                         FROM tube t WHERE t.street_id = $1 AND t.point_id = $2 AND t.state IN ('closed', 'resulted') AND {EXPECTED} \
                         AND NOT EXISTS (SELECT 1 FROM bag_tube bt WHERE bt.street_id = t.street_id AND bt.tube_id = t.id) ORDER BY t.id"))
                .bind(street).bind(point).fetch_all(pool).await?
                .iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                .collect::<std::result::Result<Vec<_>, sqlx::Error>>()?
        }))
    }

    /// Tubes of a round with these barcodes, and the bag each is in.
    pub async fn tubes_for_packing(
        &self,
        street: i64,
        round: i64,
        barcodes: &[String],
    ) -> Result<Vec<PackTube>> {
        if barcodes.is_empty() {
            return Ok(Vec::new());
        }
        Ok(db_run!(self, pool, DB => {
            let mut qb = QueryBuilder::<DB>::new(
                "SELECT t.id, t.point_id, t.barcode, t.state, g.barcode FROM tube t \
                 LEFT JOIN bag_tube bt ON bt.street_id = t.street_id AND bt.tube_id = t.id \
                 LEFT JOIN sample_bag g ON g.street_id = bt.street_id AND g.id = bt.bag_id WHERE t.street_id = ");
            qb.push_bind(street).push(" AND t.round_id = ").push_bind(round).push(" AND t.barcode IN ");
            push_texts(&mut qb, barcodes);
            let rows = qb.build().fetch_all(pool).await?;
            rows.iter().map(|r| Ok(PackTube { id: r.try_get(0)?, point_id: r.try_get(1)?, barcode: r.try_get(2)?, state: r.try_get(3)?, bag: r.try_get(4)? }))
                .collect::<std::result::Result<Vec<_>, sqlx::Error>>()?
        }))
    }

    /// Makes a bag holding these tubes, all of them `closed` now; they become
    /// `sealed` (also after the round closed: its retests travel the chain).
    #[allow(clippy::too_many_arguments)]
    pub async fn pack_bag(
        &self,
        street: i64,
        round: i64,
        point: i64,
        barcode: &str,
        tubes: &[i64],
        counted: i64,
        by: &str,
        now_ms: i64,
        audit: &AuditRecord,
    ) -> Result<i64> {
        let mut tx = self.begin().await?;
        let id = tx_run!(tx, conn, DB => {
            let id: i64 = sqlx::query_scalar("INSERT INTO sample_bag (street_id, round_id, point_id, barcode, counted_tubes, packed_by, created_ms) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id")
                .bind(street).bind(round).bind(point).bind(barcode).bind(counted).bind(by).bind(now_ms).fetch_one(&mut *conn).await
                .map_err(|e| match StoreError::from(e) {
                    StoreError::Conflict(_) => StoreError::Conflict(format!("袋条码 {barcode} 本轮已使用 / bag {barcode} is already used in this round")),
                    other => other,
                })?;
            let mut qb = QueryBuilder::<DB>::new("INSERT INTO bag_tube (street_id, tube_id, bag_id) ");
            qb.push_values(tubes.iter(), |mut v, t| {
                v.push_bind(street).push_bind(*t).push_bind(id);
            });
            qb.build().execute(&mut *conn).await.map_err(|e| match StoreError::from(e) {
                StoreError::Conflict(_) => taken(("采样管", "tube")),
                other => other,
            })?;
            // A tube the lab has resulted already is recorded in the bag (the
            // point packs after the fact what it sent) and keeps its state.
            let mut qb = QueryBuilder::<DB>::new("SELECT COUNT(*) FROM tube WHERE state = 'resulted' AND street_id = ");
            qb.push_bind(street).push(" AND id IN ");
            push_ids(&mut qb, tubes);
            let resulted: i64 = qb.build_query_scalar().fetch_one(&mut *conn).await?;
            let mut qb = QueryBuilder::<DB>::new(moved_to(TubeState::Sealed));
            qb.push_bind(street).push(" AND id IN ");
            push_ids(&mut qb, tubes);
            if qb.build().execute(&mut *conn).await?.rows_affected() + resulted as u64 != tubes.len() as u64 {
                return Err(taken(("采样管", "tube")));
            }
            id
        });
        tx.audit(&audit.write()).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Bags of a round with these barcodes, with the tubes and swabs in each.
    pub async fn bags_for_packing(
        &self,
        street: i64,
        round: i64,
        barcodes: &[String],
    ) -> Result<Vec<PackBag>> {
        if barcodes.is_empty() {
            return Ok(Vec::new());
        }
        Ok(db_run!(self, pool, DB => {
            let mut qb = QueryBuilder::<DB>::new(
                "SELECT g.id, g.point_id, g.barcode, g.box_id, x.barcode, \
                 (SELECT COUNT(*) FROM bag_tube bt WHERE bt.street_id = g.street_id AND bt.bag_id = g.id), \
                 (SELECT COUNT(*) FROM bag_tube bt JOIN registration r ON r.street_id = bt.street_id AND r.tube_id = bt.tube_id WHERE bt.street_id = g.street_id AND bt.bag_id = g.id) \
                 FROM sample_bag g LEFT JOIN transport_box x ON x.street_id = g.street_id AND x.id = g.box_id WHERE g.street_id = ");
            qb.push_bind(street).push(" AND g.round_id = ").push_bind(round).push(" AND g.barcode IN ");
            push_texts(&mut qb, barcodes);
            let rows = qb.build().fetch_all(pool).await?;
            rows.iter().map(|r| Ok(PackBag { id: r.try_get(0)?, point_id: r.try_get(1)?, barcode: r.try_get(2)?, box_id: r.try_get(3)?, box_barcode: r.try_get(4)?, tubes: r.try_get(5)?, people: r.try_get(6)? }))
                .collect::<std::result::Result<Vec<_>, sqlx::Error>>()?
        }))
    }

    /// Whether `label` is a bag's or a box's label of round `round` (read
    /// where a tube's barcode goes), in one read.
    pub async fn is_packing_label(&self, street: i64, round: i64, label: &str) -> Result<bool> {
        let found: Option<i64> = db_run!(self, pool => sqlx::query_scalar(
            "SELECT CAST(1 AS BIGINT) FROM sample_bag WHERE street_id = $1 AND round_id = $2 AND barcode = $3 \
             UNION ALL SELECT CAST(1 AS BIGINT) FROM transport_box WHERE street_id = $1 AND round_id = $2 AND barcode = $3 LIMIT 1")
            .bind(street).bind(round).bind(label).fetch_optional(pool).await?);
        Ok(found.is_some())
    }

    /// Makes a box holding these bags (none in a box yet); their tubes become `boxed`.
    #[allow(clippy::too_many_arguments)]
    pub async fn pack_box(
        &self,
        street: i64,
        round: i64,
        point: i64,
        barcode: &str,
        bags: &[i64],
        counted: (i64, i64),
        by: &str,
        now_ms: i64,
        audit: &AuditRecord,
    ) -> Result<i64> {
        let mut tx = self.begin().await?;
        let id = tx_run!(tx, conn, DB => {
            let id: i64 = sqlx::query_scalar("INSERT INTO transport_box (street_id, round_id, point_id, barcode, counted_bags, counted_tubes, packed_by, created_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id")
                .bind(street).bind(round).bind(point).bind(barcode).bind(counted.0).bind(counted.1).bind(by).bind(now_ms).fetch_one(&mut *conn).await
                .map_err(|e| match StoreError::from(e) {
                    StoreError::Conflict(_) => StoreError::Conflict(format!("箱条码 {barcode} 本轮已使用 / box {barcode} is already used in this round")),
                    other => other,
                })?;
            let mut qb = QueryBuilder::<DB>::new("UPDATE sample_bag SET box_id = ");
            qb.push_bind(id).push(" WHERE box_id IS NULL AND street_id = ").push_bind(street).push(" AND id IN ");
            push_ids(&mut qb, bags);
            if qb.build().execute(&mut *conn).await?.rows_affected() != bags.len() as u64 {
                return Err(taken(("袋", "bag")));
            }
            let mut qb = QueryBuilder::<DB>::new(moved_to(TubeState::Boxed));
            qb.push_bind(street).push(" AND id IN (SELECT tube_id FROM bag_tube WHERE street_id = ").push_bind(street).push(" AND bag_id IN ");
            push_ids(&mut qb, bags);
            qb.push(")");
            qb.build().execute(&mut *conn).await?;
            id
        });
        tx.audit(&audit.write()).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// A packer's new physical count of round `round`'s bag or box
    /// `barcode` (`bags` for a box only), taken only while that box (the
    /// bag's box) is neither handed over nor received by the lab (a box
    /// can reach the lab with no hand-over recorded): a miscount is corrected where the
    /// bag is, not after it has left. Returns its id and the counts it had
    /// (tubes, and bags for a box). NotFound: no such bag or box; Conflict:
    /// it left.
    pub async fn recount(
        &self,
        street: i64,
        round: i64,
        barcode: &str,
        tubes: i64,
        bags: Option<i64>,
        audit: impl FnOnce(i64, Option<i64>) -> AuditRecord,
    ) -> Result<(i64, i64, Option<i64>)> {
        let mut tx = self.begin().await?;
        // The bag or box is locked for update as it is read (two recounts
        // at once: the second reads the first's count), and the box it is
        // in for share: a hand-over or receipt of that box at this moment
        // waits for this transaction, or this one sees it and refuses.
        let (update, share) = (tx.row_lock(RowLock::Update), tx.row_lock(RowLock::Share));
        // Also once the round is closed: packing goes on after the close (a
        // correction's retests), and so does correcting its miscounts.
        let before = tx_run!(tx, conn, DB => {
            let read = match bags {
                None => format!("SELECT id, counted_tubes, CAST(NULL AS BIGINT), box_id FROM sample_bag WHERE street_id = $1 AND round_id = $2 AND barcode = $3{update}"),
                Some(_) => format!("SELECT id, counted_tubes, counted_bags, id FROM transport_box WHERE street_id = $1 AND round_id = $2 AND barcode = $3{update}"),
            };
            let row: Option<(i64, i64, Option<i64>, Option<i64>)> = sqlx::query_as(&read)
                .bind(street).bind(round).bind(barcode).fetch_optional(&mut *conn).await?;
            let Some((id, before_tubes, before_bags, in_box)) = row else {
                return Err(StoreError::NotFound(format!(
                    "本轮没有袋或箱 {barcode} / no bag or box {barcode} in this round"
                )));
            };
            if let Some(x) = in_box {
                let left: Option<(Option<i64>, Option<i64>)> = sqlx::query_as(&format!(
                    "SELECT handoff_id, receipt_id FROM transport_box WHERE street_id = $1 AND id = $2{share}"))
                    .bind(street).bind(x).fetch_optional(&mut *conn).await?;
                if let Some((Some(_), _) | (_, Some(_))) = left {
                    return Err(StoreError::Conflict(format!(
                        "{barcode} 已离开采样点（已交接或实验室已接收），清点数不能再改 / {barcode} has left the point (handed over or received by the lab): its count is no longer changed"
                    )));
                }
            }
            match bags {
                None => sqlx::query("UPDATE sample_bag SET counted_tubes = $3 WHERE street_id = $1 AND id = $2")
                    .bind(street).bind(id).bind(tubes).execute(&mut *conn).await?,
                Some(n) => sqlx::query("UPDATE transport_box SET counted_tubes = $3, counted_bags = $4 WHERE street_id = $1 AND id = $2")
                    .bind(street).bind(id).bind(tubes).bind(n).execute(&mut *conn).await?,
            };
            (id, before_tubes, before_bags)
        });
        tx.audit(&audit(before.1, before.2).write()).await?;
        tx.commit().await?;
        Ok(before)
    }

    /// Boxes of a round with these barcodes, with what the system holds in each.
    pub async fn boxes_for_packing(
        &self,
        street: i64,
        round: i64,
        barcodes: &[String],
    ) -> Result<Vec<PackBox>> {
        if barcodes.is_empty() {
            return Ok(Vec::new());
        }
        Ok(db_run!(self, pool, DB => {
            let mut qb = QueryBuilder::<DB>::new(
                "SELECT x.id, x.point_id, x.barcode, x.handoff_id, x.receipt_id, \
                 (SELECT COUNT(*) FROM sample_bag g WHERE g.street_id = x.street_id AND g.box_id = x.id), \
                 (SELECT COUNT(*) FROM sample_bag g JOIN bag_tube bt ON bt.street_id = g.street_id AND bt.bag_id = g.id WHERE g.street_id = x.street_id AND g.box_id = x.id), \
                 (SELECT COUNT(*) FROM sample_bag g JOIN bag_tube bt ON bt.street_id = g.street_id AND bt.bag_id = g.id JOIN registration r ON r.street_id = bt.street_id AND r.tube_id = bt.tube_id WHERE g.street_id = x.street_id AND g.box_id = x.id) \
                 FROM transport_box x WHERE x.street_id = ");
            qb.push_bind(street).push(" AND x.round_id = ").push_bind(round).push(" AND x.barcode IN ");
            push_texts(&mut qb, barcodes);
            let rows = qb.build().fetch_all(pool).await?;
            rows.iter().map(|r| Ok(PackBox { id: r.try_get(0)?, point_id: r.try_get(1)?, barcode: r.try_get(2)?, handoff_id: r.try_get(3)?, receipt_id: r.try_get(4)?, bags: r.try_get(5)?, tubes: r.try_get(6)?, people: r.try_get(7)? }))
                .collect::<std::result::Result<Vec<_>, sqlx::Error>>()?
        }))
    }

    /// Records a hand-over of these boxes (none handed over yet); their tubes
    /// become `handed_over`.
    pub async fn hand_over(
        &self,
        w: &HandOffWrite<'_>,
        boxes: &[i64],
        audit: impl FnOnce(i64) -> AuditRecord,
    ) -> Result<i64> {
        let street = w.street;
        let mut tx = self.begin().await?;
        let id = tx_run!(tx, conn, DB => {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO handoff (street_id, round_id, point_id, transporter_name, transporter_phone, transporter_account, counted_boxes, counted_tubes, counted_people, handed_by, created_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id")
                .bind(street).bind(w.round).bind(w.point).bind(w.transporter_name).bind(w.transporter_phone).bind(w.transporter_account)
                .bind(w.counted_boxes).bind(w.counted_tubes).bind(w.counted_people).bind(w.by).bind(w.now_ms).fetch_one(&mut *conn).await?;
            let mut qb = QueryBuilder::<DB>::new("UPDATE transport_box SET handoff_id = ");
            qb.push_bind(id).push(" WHERE handoff_id IS NULL AND street_id = ").push_bind(street).push(" AND id IN ");
            push_ids(&mut qb, boxes);
            if qb.build().execute(&mut *conn).await?.rows_affected() != boxes.len() as u64 {
                return Err(taken(("箱", "box")));
            }
            let mut qb = QueryBuilder::<DB>::new(moved_to(TubeState::HandedOver));
            qb.push_bind(street).push(" AND id IN (SELECT bt.tube_id FROM bag_tube bt JOIN sample_bag g ON g.street_id = bt.street_id AND g.id = bt.bag_id WHERE bt.street_id = ")
                .push_bind(street).push(" AND g.box_id IN ");
            push_ids(&mut qb, boxes);
            qb.push(")");
            qb.build().execute(&mut *conn).await?;
            id
        });
        tx.audit(&audit(id).write()).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Records the lab's receipt of these boxes (none received yet); their
    /// tubes become `received` (a tube that already has a result keeps it).
    pub async fn receive(
        &self,
        w: &ReceiptWrite<'_>,
        boxes: &[i64],
        audit: impl FnOnce(i64) -> AuditRecord,
    ) -> Result<i64> {
        let street = w.street;
        let mut tx = self.begin().await?;
        let id = tx_run!(tx, conn, DB => {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO lab_receipt (street_id, round_id, counted_boxes, counted_tubes, counted_people, received_by, created_ms) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id")
                .bind(street).bind(w.round).bind(w.counted_boxes).bind(w.counted_tubes).bind(w.counted_people).bind(w.by).bind(w.now_ms).fetch_one(&mut *conn).await?;
            let mut qb = QueryBuilder::<DB>::new("UPDATE transport_box SET receipt_id = ");
            qb.push_bind(id).push(" WHERE receipt_id IS NULL AND street_id = ").push_bind(street).push(" AND id IN ");
            push_ids(&mut qb, boxes);
            if qb.build().execute(&mut *conn).await?.rows_affected() != boxes.len() as u64 {
                return Err(taken(("箱", "box")));
            }
            for &(b, n) in w.box_tubes {
                sqlx::query("UPDATE transport_box SET lab_tubes = $3 WHERE street_id = $1 AND id = $2")
                    .bind(street).bind(b).bind(n).execute(&mut *conn).await?;
            }
            let mut qb = QueryBuilder::<DB>::new(moved_to(TubeState::Received));
            qb.push_bind(street).push(" AND id IN (SELECT bt.tube_id FROM bag_tube bt JOIN sample_bag g ON g.street_id = bt.street_id AND g.id = bt.bag_id WHERE bt.street_id = ")
                .push_bind(street).push(" AND g.box_id IN ");
            push_ids(&mut qb, boxes);
            qb.push(")");
            qb.build().execute(&mut *conn).await?;
            id
        });
        tx.audit(&audit(id).write()).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// `(point id, barcode)` of every tube opened in a round.
    pub async fn round_tube_barcodes(&self, street: i64, round: i64) -> Result<Vec<(i64, String)>> {
        Ok(db_run!(self, pool => {
            let rows = sqlx::query("SELECT point_id, barcode FROM tube WHERE street_id = $1 AND round_id = $2 ORDER BY point_id, barcode")
                .bind(street).bind(round).fetch_all(pool).await?;
            rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect::<std::result::Result<Vec<_>, sqlx::Error>>()?
        }))
    }

    /// Everything reconciliation reads about a round.
    pub async fn chain(&self, street: i64, round: i64) -> Result<ChainRows> {
        Ok(db_run!(self, pool => {
            let points = sqlx::query(&format!(
                "SELECT p.id, p.name, \
                 (SELECT COUNT(*) FROM tube t WHERE t.street_id = p.street_id AND t.point_id = p.id AND t.state <> 'open' AND {EXPECTED}), \
                 (SELECT COUNT(*) FROM registration r JOIN tube t ON t.street_id = r.street_id AND t.id = r.tube_id WHERE r.street_id = p.street_id AND r.point_id = p.id AND t.state <> 'open'), \
                 (SELECT COUNT(*) FROM tube t WHERE t.street_id = p.street_id AND t.point_id = p.id AND t.state = 'open'), \
                 (SELECT COUNT(*) FROM tube t WHERE t.street_id = p.street_id AND t.point_id = p.id AND t.state = 'open' AND t.tube_use = 'pool' AND t.fill > 0), \
                 (SELECT CAST(COALESCE(SUM(t.fill), 0) AS BIGINT) FROM tube t WHERE t.street_id = p.street_id AND t.point_id = p.id AND t.state = 'open' AND t.tube_use = 'pool') \
                 FROM testing_point p WHERE p.street_id = $1 AND p.round_id = $2 ORDER BY p.id"))
                .bind(street).bind(round).fetch_all(pool).await?
                .iter().map(|r| Ok(PointCount { id: r.try_get(0)?, name: r.try_get(1)?, closed_tubes: r.try_get(2)?, closed_people: r.try_get(3)?, open_tubes: r.try_get(4)?, open_filled_tubes: r.try_get(5)?, open_people: r.try_get(6)? }))
                .collect::<std::result::Result<Vec<_>, sqlx::Error>>()?;
            let bags = sqlx::query(
                "SELECT g.barcode, g.point_id, \
                 (SELECT COUNT(*) FROM bag_tube bt WHERE bt.street_id = g.street_id AND bt.bag_id = g.id), \
                 (SELECT COUNT(*) FROM bag_tube bt JOIN registration r ON r.street_id = bt.street_id AND r.tube_id = bt.tube_id WHERE bt.street_id = g.street_id AND bt.bag_id = g.id), \
                 g.counted_tubes, x.barcode, g.id, g.created_ms FROM sample_bag g LEFT JOIN transport_box x ON x.street_id = g.street_id AND x.id = g.box_id \
                 WHERE g.street_id = $1 AND g.round_id = $2 ORDER BY g.id")
                .bind(street).bind(round).fetch_all(pool).await?
                .iter().map(|r| Ok(BagCount { id: r.try_get(6)?, barcode: r.try_get(0)?, point_id: r.try_get(1)?, tubes: r.try_get(2)?, people: r.try_get(3)?, counted_tubes: r.try_get(4)?, box_barcode: r.try_get(5)?, packed_ms: r.try_get(7)? }))
                .collect::<std::result::Result<Vec<_>, sqlx::Error>>()?;
            let boxes = sqlx::query(
                "SELECT barcode, point_id, counted_bags, counted_tubes, handoff_id, receipt_id, lab_tubes, id, created_ms FROM transport_box WHERE street_id = $1 AND round_id = $2 ORDER BY id")
                .bind(street).bind(round).fetch_all(pool).await?
                .iter().map(|r| Ok(BoxCount { id: r.try_get(7)?, barcode: r.try_get(0)?, point_id: r.try_get(1)?, counted_bags: r.try_get(2)?, counted_tubes: r.try_get(3)?, handoff_id: r.try_get(4)?, receipt_id: r.try_get(5)?, lab_tubes: r.try_get(6)?, packed_ms: r.try_get(8)? }))
                .collect::<std::result::Result<Vec<_>, sqlx::Error>>()?;
            let handoffs = sqlx::query(
                "SELECT id, point_id, counted_boxes, counted_tubes, counted_people, transporter_name, transporter_phone, transporter_account, handed_by, created_ms \
                 FROM handoff WHERE street_id = $1 AND round_id = $2 ORDER BY id")
                .bind(street).bind(round).fetch_all(pool).await?
                .iter().map(|r| Ok(HandOffRow { id: r.try_get(0)?, point_id: r.try_get(1)?, counted_boxes: r.try_get(2)?, counted_tubes: r.try_get(3)?, counted_people: r.try_get(4)?,
                    transporter_name: r.try_get(5)?, transporter_phone: r.try_get(6)?, transporter_account: r.try_get(7)?, handed_by: r.try_get(8)?, created_ms: r.try_get(9)? }))
                .collect::<std::result::Result<Vec<_>, sqlx::Error>>()?;
            let receipts = sqlx::query(
                "SELECT id, counted_boxes, counted_tubes, counted_people, received_by, created_ms FROM lab_receipt WHERE street_id = $1 AND round_id = $2 ORDER BY id")
                .bind(street).bind(round).fetch_all(pool).await?
                .iter().map(|r| Ok(ReceiptRow { id: r.try_get(0)?, counted_boxes: r.try_get(1)?, counted_tubes: r.try_get(2)?, counted_people: r.try_get(3)?, received_by: r.try_get(4)?, created_ms: r.try_get(5)? }))
                .collect::<std::result::Result<Vec<_>, sqlx::Error>>()?;
            ChainRows { points, bags, boxes, handoffs, receipts }
        }))
    }
}

/// A bag or box of a point as packed, with what the system holds in it (labels).
#[derive(Debug, Clone)]
pub struct PackedItem {
    /// `box` or `bag`.
    pub kind: &'static str,
    pub barcode: String,
    pub packed_ms: i64,
    /// Bags in a box (none for a bag).
    pub bags: Option<i64>,
    pub tubes: i64,
    pub people: i64,
    /// The box a bag is in.
    pub in_box: Option<String>,
}

/// Tubes of one point in one state.
#[derive(Debug, Clone)]
pub struct TubeStateCount {
    pub point_id: i64,
    pub community_id: i64,
    pub state: String,
    pub tubes: i64,
}

impl Store {
    /// A point's boxes then bags, each in packing order, with the system's counts.
    pub async fn packed_at_point(
        &self,
        street: i64,
        round: i64,
        point: i64,
    ) -> Result<Vec<PackedItem>> {
        Ok(db_run!(self, pool => {
            let boxes = sqlx::query(
                "SELECT x.barcode, x.created_ms, \
                 (SELECT COUNT(*) FROM sample_bag g WHERE g.street_id = x.street_id AND g.box_id = x.id), \
                 (SELECT COUNT(*) FROM sample_bag g JOIN bag_tube bt ON bt.street_id = g.street_id AND bt.bag_id = g.id WHERE g.street_id = x.street_id AND g.box_id = x.id), \
                 (SELECT COUNT(*) FROM sample_bag g JOIN bag_tube bt ON bt.street_id = g.street_id AND bt.bag_id = g.id JOIN registration r ON r.street_id = bt.street_id AND r.tube_id = bt.tube_id WHERE g.street_id = x.street_id AND g.box_id = x.id) \
                 FROM transport_box x WHERE x.street_id = $1 AND x.round_id = $2 AND x.point_id = $3 ORDER BY x.id")
                .bind(street).bind(round).bind(point).fetch_all(pool).await?;
            let bags = sqlx::query(
                "SELECT g.barcode, g.created_ms, \
                 (SELECT COUNT(*) FROM bag_tube bt WHERE bt.street_id = g.street_id AND bt.bag_id = g.id), \
                 (SELECT COUNT(*) FROM bag_tube bt JOIN registration r ON r.street_id = bt.street_id AND r.tube_id = bt.tube_id WHERE bt.street_id = g.street_id AND bt.bag_id = g.id), \
                 x.barcode FROM sample_bag g LEFT JOIN transport_box x ON x.street_id = g.street_id AND x.id = g.box_id \
                 WHERE g.street_id = $1 AND g.round_id = $2 AND g.point_id = $3 ORDER BY g.id")
                .bind(street).bind(round).bind(point).fetch_all(pool).await?;
            let mut out = Vec::with_capacity(boxes.len() + bags.len());
            for r in &boxes {
                out.push(PackedItem { kind: "box", barcode: r.try_get(0)?, packed_ms: r.try_get(1)?, bags: Some(r.try_get(2)?), tubes: r.try_get(3)?, people: r.try_get(4)?, in_box: None });
            }
            for r in &bags {
                out.push(PackedItem { kind: "bag", barcode: r.try_get(0)?, packed_ms: r.try_get(1)?, bags: None, tubes: r.try_get(2)?, people: r.try_get(3)?, in_box: r.try_get(4)? });
            }
            out
        }))
    }

    /// Tubes of a round per point and state.
    pub async fn tube_states(&self, street: i64, round: i64) -> Result<Vec<TubeStateCount>> {
        Ok(db_run!(self, pool => {
            let rows = sqlx::query(
                "SELECT t.point_id, p.community_id, t.state, COUNT(*) FROM tube t \
                 JOIN testing_point p ON p.street_id = t.street_id AND p.id = t.point_id \
                 WHERE t.street_id = $1 AND t.round_id = $2 GROUP BY t.point_id, p.community_id, t.state ORDER BY t.point_id, t.state")
                .bind(street).bind(round).fetch_all(pool).await?;
            rows.iter().map(|r| Ok(TubeStateCount { point_id: r.try_get(0)?, community_id: r.try_get(1)?, state: r.try_get(2)?, tubes: r.try_get(3)? }))
                .collect::<std::result::Result<Vec<_>, sqlx::Error>>()?
        }))
    }
}
