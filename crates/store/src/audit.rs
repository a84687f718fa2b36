//! The audit log: who changed what, when. Written in the same transaction as the change.

use serde::Serialize;
use sqlx::Row;

use crate::model::Permission;
use crate::{Access, Result, Store, new_id, now_micros};

/// One audited change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
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
    /// The caller's organization's newest audit entries, newest first.
    pub async fn audit_log(&self, access: &Access, limit: i64) -> Result<Vec<AuditEntry>> {
        access.require(Permission::ReadAudit)?;
        let rows = sqlx::query(
            "SELECT at, actor, action, target, detail FROM audit_log WHERE org_id = $1 \
             ORDER BY at DESC, id DESC LIMIT $2",
        )
        .bind(&access.org_id)
        .bind(limit.clamp(1, 10_000))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                let detail: String = r.try_get(4)?;
                Ok(AuditEntry {
                    at: r.try_get(0)?,
                    actor: r.try_get(1)?,
                    action: r.try_get(2)?,
                    target: r.try_get(3)?,
                    detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::Null),
                })
            })
            .collect()
    }
}
