//! Accounts, grants, sessions, household links, places of things (for
//! authorisation), and the purge of personal data.

use gw_domain::access::{Grant, Node, Place, Role};
use sqlx::{QueryBuilder, Row};

use crate::{db_run, Result, Store, StoreError};

#[derive(Debug, Clone)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub password_hash: String,
    pub must_change: bool,
    pub failed_logins: i32,
    pub locked_until_ms: i64,
    pub disabled: bool,
}

#[derive(Debug, Clone)]
pub struct GrantRow {
    pub id: i64,
    pub user_id: i64,
    pub grant: Grant,
    pub granted_by: String,
    pub handover_from: Option<i64>,
    pub note: String,
    pub revoked_ms: Option<i64>,
}

pub struct GrantWrite<'a> {
    pub user_id: i64,
    pub role: Role,
    pub node: Node,
    pub from_ms: i64,
    pub until_ms: Option<i64>,
    pub granted_by: &'a str,
    pub handover_from: Option<i64>,
    pub note: &'a str,
    pub now_ms: i64,
}

const USER_COLS: &str = "id, username, display_name, password_hash, must_change, failed_logins, locked_until_ms, disabled";

macro_rules! user_row {
    ($r:expr) => {
        UserRow {
            id: $r.try_get(0)?,
            username: $r.try_get(1)?,
            display_name: $r.try_get(2)?,
            password_hash: $r.try_get(3)?,
            must_change: $r.try_get(4)?,
            failed_logins: $r.try_get(5)?,
            locked_until_ms: $r.try_get(6)?,
            disabled: $r.try_get(7)?,
        }
    };
}

/// What a purge did.
#[derive(Debug, Clone, Default)]
pub struct PurgeCounts {
    pub residents: i64,
    pub phones: i64,
    pub documents: i64,
    pub household_links: i64,
    pub control_reasons: i64,
    /// Registrations whose scanned or typed text (a document number typed
    /// by hand is one) was cleared.
    pub scanned_codes: i64,
    /// Exemptions whose reason (in hospital, deceased …) was cleared.
    pub exemption_reasons: i64,
    /// Hand-overs whose transporter's name, phone and account were cleared.
    pub transporters: i64,
    /// Supply issues whose receiver's name was cleared.
    pub supply_receivers: i64,
    /// Audit events whose free-text reason (a corrected result's, a
    /// recount's) was cleared.
    pub audit_reasons: i64,
}

impl Store {
    pub async fn user_count(&self) -> Result<i64> {
        Ok(
            db_run!(self, pool => sqlx::query_scalar("SELECT COUNT(*) FROM app_user").fetch_one(pool).await?),
        )
    }

    pub async fn create_user(
        &self,
        username: &str,
        display: &str,
        hash: &str,
        must_change: bool,
        now_ms: i64,
    ) -> Result<i64> {
        Ok(db_run!(self, pool => sqlx::query_scalar(
            "INSERT INTO app_user (username, display_name, password_hash, must_change, created_ms) VALUES ($1, $2, $3, $4, $5) RETURNING id")
            .bind(username).bind(display).bind(hash).bind(must_change).bind(now_ms).fetch_one(pool).await?))
    }

    pub async fn user_by_name(&self, username: &str) -> Result<Option<UserRow>> {
        Ok(db_run!(self, pool => {
            let q = format!("SELECT {USER_COLS} FROM app_user WHERE username = $1");
            match sqlx::query(&q).bind(username).fetch_optional(pool).await? {
                Some(r) => Some(user_row!(r)),
                None => None,
            }
        }))
    }

    pub async fn user(&self, id: i64) -> Result<UserRow> {
        let u = db_run!(self, pool => {
            let q = format!("SELECT {USER_COLS} FROM app_user WHERE id = $1");
            match sqlx::query(&q).bind(id).fetch_optional(pool).await? {
                Some(r) => Some(user_row!(r)),
                None => None,
            }
        });
        u.ok_or_else(|| StoreError::NotFound(format!("user {id}")))
    }

    pub async fn users(&self) -> Result<Vec<UserRow>> {
        Ok(db_run!(self, pool => {
            let q = format!("SELECT {USER_COLS} FROM app_user ORDER BY id");
            let rows = sqlx::query(&q).fetch_all(pool).await?;
            rows.iter().map(|r| Ok(user_row!(r))).collect::<std::result::Result<Vec<_>, sqlx::Error>>()?
        }))
    }

    pub async fn set_password(&self, user: i64, hash: &str, must_change: bool) -> Result<()> {
        db_run!(self, pool => {
            sqlx::query("UPDATE app_user SET password_hash = $2, must_change = $3, failed_logins = 0, locked_until_ms = 0 WHERE id = $1")
                .bind(user).bind(hash).bind(must_change).execute(pool).await?;
        });
        Ok(())
    }

    /// Claims the right to check one password of `user` now: one check at a
    /// time per account, and none while it is locked. The claim is a short
    /// lease in `locked_until_ms`, released by [`Store::finish_password_check`].
    pub async fn claim_password_check(
        &self,
        user: i64,
        now_ms: i64,
        lease_ms: i64,
    ) -> Result<bool> {
        let n = db_run!(self, pool => sqlx::query("UPDATE app_user SET locked_until_ms = $2 + $3 WHERE id = $1 AND locked_until_ms <= $2")
            .bind(user).bind(now_ms).bind(lease_ms).execute(pool).await?.rows_affected());
        Ok(n == 1)
    }

    /// Ends a claimed check: a success clears the failures; a failure adds one
    /// atomically and locks the account for `lock_ms(failures)`. Returns the failures.
    pub async fn finish_password_check(
        &self,
        user: i64,
        ok: bool,
        now_ms: i64,
        lock_ms: impl Fn(i32) -> i64,
    ) -> Result<i32> {
        if ok {
            db_run!(self, pool => { sqlx::query("UPDATE app_user SET failed_logins = 0, locked_until_ms = 0 WHERE id = $1").bind(user).execute(pool).await?; });
            return Ok(0);
        }
        let failures: i32 = db_run!(self, pool => sqlx::query_scalar("UPDATE app_user SET failed_logins = failed_logins + 1 WHERE id = $1 RETURNING failed_logins")
            .bind(user).fetch_one(pool).await?);
        let wait = lock_ms(failures);
        db_run!(self, pool => {
            sqlx::query("UPDATE app_user SET locked_until_ms = $2 WHERE id = $1").bind(user).bind(if wait > 0 { now_ms + wait } else { 0 }).execute(pool).await?;
        });
        Ok(failures)
    }

    pub async fn add_grant(&self, w: &GrantWrite<'_>) -> Result<i64> {
        let (kind, street, node) = w.node.parts();
        Ok(db_run!(self, pool => sqlx::query_scalar(
            "INSERT INTO user_grant (user_id, role, node_kind, street_id, node_id, from_ms, until_ms, granted_by, handover_from, note, created_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id")
            .bind(w.user_id).bind(w.role.code()).bind(kind).bind(street).bind(node).bind(w.from_ms).bind(w.until_ms)
            .bind(w.granted_by).bind(w.handover_from).bind(w.note).bind(w.now_ms).fetch_one(pool).await?))
    }

    /// Ends a grant now; it stays in the history.
    pub async fn revoke_grant(&self, id: i64, now_ms: i64) -> Result<()> {
        let n = db_run!(self, pool => sqlx::query("UPDATE user_grant SET revoked_ms = $2 WHERE id = $1 AND revoked_ms IS NULL")
            .bind(id).bind(now_ms).execute(pool).await?.rows_affected());
        if n == 0 {
            return Err(StoreError::NotFound(format!(
                "grant {id} (or already revoked)"
            )));
        }
        Ok(())
    }

    /// A user's grants (all of them, `None` for every user), revoked ones included.
    pub async fn grants(&self, user: Option<i64>) -> Result<Vec<GrantRow>> {
        Ok(db_run!(self, pool => {
            let rows = sqlx::query(
                "SELECT id, user_id, role, node_kind, street_id, node_id, from_ms, until_ms, granted_by, handover_from, note, revoked_ms \
                 FROM user_grant WHERE ($1 IS NULL OR user_id = $1) ORDER BY id")
                .bind(user).fetch_all(pool).await?;
            let mut out = Vec::new();
            for r in rows {
                let role: String = r.try_get(2)?;
                let kind: String = r.try_get(3)?;
                let (Some(role), Some(node)) = (Role::from_code(&role), Node::from_parts(&kind, r.try_get(4)?, r.try_get(5)?)) else { continue };
                let revoked: Option<i64> = r.try_get(11)?;
                let until: Option<i64> = r.try_get(7)?;
                // A revoked grant ends when it was revoked.
                let until = match (until, revoked) {
                    (Some(u), Some(v)) => Some(u.min(v)),
                    (u, v) => u.or(v),
                };
                out.push(GrantRow {
                    id: r.try_get(0)?, user_id: r.try_get(1)?,
                    grant: Grant { role, node, from_ms: r.try_get(6)?, until_ms: until },
                    granted_by: r.try_get(8)?, handover_from: r.try_get(9)?, note: r.try_get(10)?, revoked_ms: revoked,
                });
            }
            out
        }))
    }

    pub async fn create_session(
        &self,
        token_hash: &str,
        user: i64,
        csrf: &str,
        now_ms: i64,
        expires_ms: i64,
        address: &str,
    ) -> Result<()> {
        db_run!(self, pool => {
            sqlx::query("INSERT INTO user_session (token_hash, user_id, csrf, created_ms, expires_ms, address) VALUES ($1, $2, $3, $4, $5, $6)")
                .bind(token_hash).bind(user).bind(csrf).bind(now_ms).bind(expires_ms).bind(address).execute(pool).await?;
        });
        Ok(())
    }

    /// `(user, csrf, expires_ms)` of a session.
    pub async fn session(&self, token_hash: &str) -> Result<Option<(i64, String, i64)>> {
        Ok(db_run!(self, pool => {
            match sqlx::query("SELECT user_id, csrf, expires_ms FROM user_session WHERE token_hash = $1").bind(token_hash).fetch_optional(pool).await? {
                Some(r) => Some((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)),
                None => None,
            }
        }))
    }

    pub async fn delete_session(&self, token_hash: &str) -> Result<()> {
        db_run!(self, pool => { sqlx::query("DELETE FROM user_session WHERE token_hash = $1").bind(token_hash).execute(pool).await?; });
        Ok(())
    }

    pub async fn delete_sessions_of(&self, user: i64) -> Result<()> {
        db_run!(self, pool => { sqlx::query("DELETE FROM user_session WHERE user_id = $1").bind(user).execute(pool).await?; });
        Ok(())
    }

    pub async fn create_household_link(
        &self,
        street: i64,
        household: i64,
        token_hash: &str,
        by: &str,
        now_ms: i64,
    ) -> Result<()> {
        db_run!(self, pool => {
            sqlx::query("INSERT INTO household_link (street_id, token_hash, household_id, created_ms, created_by) VALUES ($1, $2, $3, $4, $5)")
                .bind(street).bind(token_hash).bind(household).bind(now_ms).bind(by).execute(pool).await?;
        });
        Ok(())
    }

    /// The household a live link opens.
    pub async fn household_of_link(&self, street: i64, token_hash: &str) -> Result<Option<i64>> {
        Ok(
            db_run!(self, pool => sqlx::query_scalar("SELECT household_id FROM household_link WHERE street_id = $1 AND token_hash = $2 AND revoked_ms IS NULL")
            .bind(street).bind(token_hash).fetch_optional(pool).await?),
        )
    }

    /// Revokes every live link of a household; returns how many.
    pub async fn revoke_household_links(
        &self,
        street: i64,
        household: i64,
        now_ms: i64,
    ) -> Result<u64> {
        Ok(
            db_run!(self, pool => sqlx::query("UPDATE household_link SET revoked_ms = $3 WHERE street_id = $1 AND household_id = $2 AND revoked_ms IS NULL")
            .bind(street).bind(household).bind(now_ms).execute(pool).await?.rows_affected()),
        )
    }

    /// Where a grid, building, unit or household is (by its grid).
    pub async fn place_of(&self, street: i64, kind: &str, id: i64) -> Result<Place> {
        let grid_sql = match kind {
            "grid" => "SELECT g.id FROM grid g WHERE g.street_id = $1 AND g.id = $2",
            "building" => "SELECT b.grid_id FROM building b WHERE b.street_id = $1 AND b.id = $2",
            "unit" => "SELECT b.grid_id FROM unit u JOIN building b ON b.street_id = u.street_id AND b.id = u.building_id WHERE u.street_id = $1 AND u.id = $2",
            "household" => "SELECT b.grid_id FROM household h JOIN unit u ON u.street_id = h.street_id AND u.id = h.unit_id \
                            JOIN building b ON b.street_id = u.street_id AND b.id = u.building_id WHERE h.street_id = $1 AND h.id = $2",
            "resident" => "SELECT b.grid_id FROM resident r LEFT JOIN household h ON h.street_id = r.street_id AND h.id = r.household_id \
                           LEFT JOIN unit u ON u.street_id = h.street_id AND u.id = h.unit_id \
                           LEFT JOIN building b ON b.street_id = u.street_id AND b.id = u.building_id WHERE r.street_id = $1 AND r.id = $2",
            _ => "",
        };
        let district: Option<i64> = db_run!(self, pool => sqlx::query_scalar("SELECT district_id FROM street WHERE id = $1").bind(street).fetch_optional(pool).await?);
        let Some(district) = district else {
            return Err(StoreError::NotFound(format!("street {street}")));
        };
        let mut place = Place {
            district: Some(district),
            street,
            community: None,
            grid: None,
            point: None,
        };
        match kind {
            "street" => return Ok(place),
            "community" => {
                let n: i64 = db_run!(self, pool => sqlx::query_scalar("SELECT COUNT(*) FROM community WHERE street_id = $1 AND id = $2").bind(street).bind(id).fetch_one(pool).await?);
                if n == 0 {
                    return Err(StoreError::NotFound(format!("community {street}-{id}")));
                }
                place.community = Some(id);
                return Ok(place);
            }
            "compound" => {
                let c: Option<i64> = db_run!(self, pool => sqlx::query_scalar("SELECT community_id FROM compound WHERE street_id = $1 AND id = $2").bind(street).bind(id).fetch_optional(pool).await?);
                place.community =
                    Some(c.ok_or_else(|| StoreError::NotFound(format!("compound {street}-{id}")))?);
                return Ok(place);
            }
            _ => {}
        }
        if grid_sql.is_empty() {
            return Err(StoreError::NotFound(format!("{kind} {street}-{id}")));
        }
        let grid: Option<Option<i64>> = db_run!(self, pool => sqlx::query_scalar(grid_sql).bind(street).bind(id).fetch_optional(pool).await?);
        let Some(grid) = grid else {
            return Err(StoreError::NotFound(format!("{kind} {street}-{id}")));
        };
        if let Some(g) = grid {
            let c: i64 = db_run!(self, pool => sqlx::query_scalar("SELECT community_id FROM grid WHERE street_id = $1 AND id = $2").bind(street).bind(g).fetch_one(pool).await?);
            place.grid = Some(g);
            place.community = Some(c);
        }
        Ok(place)
    }

    /// Deletes or anonymises the personal data of residents last changed
    /// before `before_ms`: names become `已清除`, documents, birth dates,
    /// phones, flags and notes go, household links are revoked; the text
    /// scanned or typed for swabs, control orders' and exemptions' reasons,
    /// transporters' names and phones and the free-text reasons audit events
    /// carry (see [`crate::audit::REASON`]) from before then are cleared. Rows (and
    /// so counts per grid and household) remain.
    pub async fn purge_before(&self, before_ms: i64, now_ms: i64) -> Result<PurgeCounts> {
        let mut c = PurgeCounts::default();
        let mut tx = self.begin().await?;
        tx.purge(before_ms, now_ms, &mut c).await?;
        tx.commit().await?;
        Ok(c)
    }
}

impl crate::import::StoreTx {
    pub(crate) async fn purge(
        &mut self,
        before_ms: i64,
        now_ms: i64,
        c: &mut PurgeCounts,
    ) -> Result<()> {
        let sel = "SELECT street_id, id FROM resident WHERE updated_ms < $1 AND status <> 'purged'";
        c.phones = self.exec_ms(&format!("DELETE FROM resident_phone WHERE EXISTS (SELECT 1 FROM ({sel}) p WHERE p.street_id = resident_phone.street_id AND p.id = resident_phone.resident_id)"), before_ms).await? as i64;
        c.documents = self.exec_ms(&format!("DELETE FROM document_registry WHERE EXISTS (SELECT 1 FROM ({sel}) p WHERE p.street_id = document_registry.street_id AND p.id = document_registry.resident_id)"), before_ms).await? as i64;
        c.household_links = self
            .exec_ms2(
                &format!("UPDATE household_link SET revoked_ms = $2 WHERE revoked_ms IS NULL AND EXISTS (SELECT 1 FROM ({sel}) p JOIN resident r ON r.street_id = p.street_id AND r.id = p.id \
                          WHERE r.street_id = household_link.street_id AND r.household_id = household_link.household_id)"),
                before_ms,
                now_ms,
            )
            .await? as i64;
        // A swab's scanned text may be a document number typed by hand, and
        // its problem text may quote one (a mistyped birth date); the swab
        // itself (who, which tube, when, whether a duplicate) stays for the counts.
        c.scanned_codes = self
            .exec_ms(
                "UPDATE registration SET raw_code = '', problem = CASE WHEN problem = '' THEN '' ELSE '已清除' END \
                 WHERE stored_ms < $1 AND (raw_code <> '' OR (problem <> '' AND problem <> '已清除'))",
                before_ms,
            )
            .await? as i64;
        // Swabs taken back: the same, and why (a reason may name the person).
        c.scanned_codes += self
            .exec_ms(
                "UPDATE voided_swab SET raw_code = '', problem = CASE WHEN problem = '' THEN '' ELSE '已清除' END, reason = '已清除' \
                 WHERE stored_ms < $1 AND (raw_code <> '' OR reason <> '已清除')",
                before_ms,
            )
            .await? as i64;
        // Free-text reasons may name people or illnesses; the orders themselves stay.
        c.control_reasons = self.exec_ms("UPDATE control_order SET reason = '已清除' WHERE created_ms < $1 AND reason <> '已清除'", before_ms).await? as i64;
        // Why someone was exempt (in hospital, deceased …) is health data;
        // that they were exempt stays for the counts.
        c.exemption_reasons = self.exec_ms("UPDATE round_exemption SET reason = '已清除' WHERE created_ms < $1 AND reason <> '已清除'", before_ms).await? as i64;
        // The transporter who took the boxes: a name and a phone number.
        c.transporters = self
            .exec_ms(
                "UPDATE handoff SET transporter_name = '已清除', transporter_phone = '', transporter_account = '' \
                 WHERE created_ms < $1 AND (transporter_name <> '已清除' OR transporter_phone <> '' OR transporter_account <> '')",
                before_ms,
            )
            .await? as i64;
        // Who took the supplies at the point: a name typed in.
        c.supply_receivers = self
            .exec_ms(
                "UPDATE supply_issue SET received_by = '已清除' WHERE issued_ms < $1 AND received_by <> '' AND received_by <> '已清除'",
                before_ms,
            )
            .await? as i64;
        c.audit_reasons = self.purge_audit_reasons(before_ms).await?;
        c.residents = self
            .exec_ms2(
                "UPDATE resident SET name = '已清除', doc_kind = NULL, doc_number = NULL, birth_date = NULL, flags = 0, notes = '', status = 'purged', updated_ms = $2 \
                 WHERE updated_ms < $1 AND status <> 'purged'",
                before_ms,
                now_ms,
            )
            .await? as i64;
        Ok(())
    }
}

/// Narrows a resident query to the nodes a caller may see (`r`, `g`, `cm`
/// are the resident, grid and community aliases of the registry query).
pub(crate) fn push_scope<'a, DB: sqlx::Database>(qb: &mut QueryBuilder<'a, DB>, nodes: &'a [Node])
where
    i64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    if nodes.iter().any(|n| matches!(n, Node::City)) {
        return;
    }
    qb.push(" AND (1 = 0");
    for n in nodes {
        match *n {
            Node::City | Node::Point { .. } => {}
            Node::District { id } => {
                qb.push(" OR r.street_id IN (SELECT s.id FROM street s WHERE s.district_id = ")
                    .push_bind(id)
                    .push(")");
            }
            Node::Street { id } => {
                qb.push(" OR r.street_id = ").push_bind(id);
            }
            Node::Community { street, id } => {
                qb.push(" OR (r.street_id = ")
                    .push_bind(street)
                    .push(" AND cm.id = ")
                    .push_bind(id)
                    .push(")");
            }
            Node::Grid { street, id } => {
                qb.push(" OR (r.street_id = ")
                    .push_bind(street)
                    .push(" AND g.id = ")
                    .push_bind(id)
                    .push(")");
            }
        }
    }
    qb.push(")");
}
