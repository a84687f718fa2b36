//! The audit log: who changed what, when. Written in the same transaction as the change.

use serde::Serialize;
use sqlx::Row;

use crate::model::Permission;
use crate::{Access, Result, Store, new_id, now_micros};

/// One audited change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    /// The entry's id (a page cursor: the next page is the entries before it).
    pub id: String,
    /// When, µs since the epoch.
    pub at: i64,
    /// Who: an email, or `local` for the CLI.
    pub actor: String,
    /// What, as `area.verb` (`member.add`, `secret.set`…).
    pub action: String,
    /// On what (an email, a connection, a token id).
    pub target: String,
    /// Details (never a secret value).
    pub detail: serde_json::Value,
}

pub(crate) async fn record(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    access: &Access,
    action: &str,
    target: &str,
    detail: serde_json::Value,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO audit_log (id, org_id, actor, action, target, detail, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(new_id())
    .bind(&access.org_id)
    .bind(&access.actor)
    .bind(action)
    .bind(target)
    .bind(detail.to_string())
    .bind(now_micros())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl Store {
    /// The caller's organization's audit entries, newest first: at most `limit`, and only
    /// those older than the entry `before` (an id from a previous page) when given. An id
    /// that is not the organization's is not found, as any other organization's row.
    pub async fn audit_log(
        &self,
        access: &Access,
        limit: i64,
        before: Option<&str>,
    ) -> Result<Vec<AuditEntry>> {
        access.require(Permission::ReadAudit)?;
        let cursor = match before {
            Some(id) => {
                let row = sqlx::query("SELECT at FROM audit_log WHERE org_id = $1 AND id = $2")
                    .bind(&access.org_id)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?
                    .ok_or_else(|| crate::Error::not_found(format!("audit entry {id:?}")))?;
                Some((row.try_get::<i64, _>(0)?, id.to_string()))
            }
            None => None,
        };
        // Ordered by (at, id), so entries of the same microsecond page in a stable order.
        let (at, id) = cursor.unwrap_or((i64::MAX, String::new()));
        let rows = sqlx::query(
            "SELECT id, at, actor, action, target, detail FROM audit_log WHERE org_id = $1 \
             AND (at < $2 OR (at = $2 AND id < $3) OR $4 = 0) \
             ORDER BY at DESC, id DESC LIMIT $5",
        )
        .bind(&access.org_id)
        .bind(at)
        .bind(id)
        .bind(i64::from(before.is_some()))
        .bind(limit.clamp(1, 10_000))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                let detail: String = r.try_get(5)?;
                Ok(AuditEntry {
                    id: r.try_get(0)?,
                    at: r.try_get(1)?,
                    actor: r.try_get(2)?,
                    action: r.try_get(3)?,
                    target: r.try_get(4)?,
                    detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::Null),
                })
            })
            .collect()
    }
}
