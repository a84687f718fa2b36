//! Connections (one billing source of one organization) and their sync state.

use serde::Serialize;
use sqlx::Row;

use crate::error::conflict_on_unique;
use crate::model::Permission;
use crate::{Access, Error, Result, Store, now_micros};

/// The providers a connection can be for.
pub const PROVIDERS: [&str; 10] = [
    "aws",
    "azure",
    "gcp",
    "oci",
    "digitalocean",
    "datadog",
    "snowflake",
    "openai",
    "mongodb",
    "focus",
];

/// The provider of a lake `x_SourceFormat` (`aws-cur1`, `gcp-billing-export`…); `focus`
/// for FOCUS files and anything else.
pub fn provider_of_source_format(source_format: &str) -> &'static str {
    PROVIDERS
        .iter()
        .find(|p| source_format.starts_with(*p) || source_format.contains(*p))
        .copied()
        .unwrap_or("focus")
}

/// A connection as listed (settings are not secret; secrets are listed apart).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Connection {
    /// Its id: the lake's `x_ConnectionId`, unique across organizations.
    pub id: String,
    /// Its name, unique in the organization.
    pub name: String,
    /// `aws`, `azure`, `gcp`…
    pub provider: String,
    /// Where the exports are and how to read them (bucket, prefix, report name…).
    pub settings: serde_json::Value,
    /// Created, µs since the epoch.
    pub created_at: i64,
}

impl Connection {
    /// Where the connection's exports arrive (`settings.source`: a folder or file on the
    /// server), which a sync reads again; `None` when data only comes by upload or CLI.
    pub fn source(&self) -> Option<&str> {
        self.settings
            .get("source")
            .and_then(serde_json::Value::as_str)
    }
}

/// The last sync of a connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct SyncState {
    /// Last attempt, µs since the epoch.
    pub last_attempt_at: Option<i64>,
    /// Last success, µs since the epoch.
    pub last_success_at: Option<i64>,
    /// Export version last ingested.
    pub last_version: Option<String>,
    /// What went wrong last time, if it did.
    pub last_error: Option<String>,
}

/// A connection's name also names folders (lake partitions, rollups): letters, digits, `.`,
/// `_`, `-`, starting with a letter or digit.
fn check_name(name: &str) -> Result<&str> {
    let name = name.trim();
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(name)
    } else {
        Err(Error::invalid(
            "name",
            format!(
                "{name:?}: a connection's name is 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"
            ),
        ))
    }
}

impl Store {
    /// Creates a connection in the caller's organization. Its lake id is its name when no
    /// other organization uses it, else the name with a short unique suffix.
    pub async fn create_connection(
        &self,
        access: &Access,
        name: &str,
        provider: &str,
        settings: serde_json::Value,
    ) -> Result<Connection> {
        access.require(Permission::ManageConnections)?;
        let name = check_name(name)?;
        let provider = provider.trim().to_ascii_lowercase();
        if !PROVIDERS.contains(&provider.as_str()) {
            return Err(Error::invalid(
                "provider",
                format!("{provider:?}: expected one of {}", PROVIDERS.join(", ")),
            ));
        }
        if !settings.is_object() {
            return Err(Error::invalid("settings", "a JSON object"));
        }
        let taken: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM connections WHERE id = $1")
            .bind(name)
            .fetch_one(&self.pool)
            .await?;
        let id = if taken == 0 {
            name.to_string()
        } else {
            format!("{name}-{}", &uuid::Uuid::new_v4().simple().to_string()[..8])
        };
        let connection = Connection {
            id,
            name: name.to_string(),
            provider,
            settings,
            created_at: now_micros(),
        };
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO connections (id, org_id, name, provider, settings, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&connection.id)
        .bind(&access.org_id)
        .bind(&connection.name)
        .bind(&connection.provider)
        .bind(connection.settings.to_string())
        .bind(connection.created_at)
        .execute(&mut *tx)
        .await
        .map_err(|e| conflict_on_unique(e, || format!("connection {name:?}")))?;
        crate::audit::record(
            &mut tx,
            access,
            "connection.create",
            &connection.name,
            serde_json::json!({"id": connection.id, "provider": connection.provider}),
        )
        .await?;
        tx.commit().await?;
        Ok(connection)
    }

    /// Registers a connection the local CLI ingested (its lake id is its name) in the
    /// caller's organization, unless a connection of that id exists in any organization.
    /// Returns whether it was added.
    pub async fn adopt_connection(
        &self,
        access: &Access,
        id: &str,
        provider: &str,
    ) -> Result<bool> {
        access.require(Permission::ManageConnections)?;
        let id = check_name(id)?;
        let taken: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM connections WHERE id = $1")
            .bind(id)
            .fetch_one(&self.pool)
            .await?;
        if taken > 0 {
            return Ok(false);
        }
        let provider = if PROVIDERS.contains(&provider) {
            provider
        } else {
            "focus"
        };
        let mut tx = self.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO connections (id, org_id, name, provider, settings, created_at) \
             VALUES ($1, $2, $1, $3, '{}', $4)",
        )
        .bind(id)
        .bind(&access.org_id)
        .bind(provider)
        .bind(now_micros())
        .execute(&mut *tx)
        .await;
        match inserted {
            Ok(_) => {}
            // Another process adopted it, or the organization has a connection of that name.
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => return Ok(false),
            Err(e) => return Err(e.into()),
        }
        crate::audit::record(
            &mut tx,
            access,
            "connection.adopt",
            id,
            serde_json::json!({"provider": provider}),
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The caller's organization's connections, by name.
    pub async fn connections(&self, access: &Access) -> Result<Vec<Connection>> {
        access.require(Permission::ReadConnections)?;
        let rows = sqlx::query(
            "SELECT id, name, provider, settings, created_at FROM connections \
             WHERE org_id = $1 ORDER BY name",
        )
        .bind(&access.org_id)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(connection_of).collect()
    }

    /// The lake ids of the caller's organization's connections: what every cost query of
    /// the caller is restricted to. Needs no permission beyond being a member.
    pub async fn connection_ids(&self, access: &Access) -> Result<Vec<String>> {
        access.require(Permission::ReadCosts)?;
        Ok(
            sqlx::query_scalar("SELECT id FROM connections WHERE org_id = $1 ORDER BY id")
                .bind(&access.org_id)
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// The provider of each of the caller's organization's connections, as (lake id, name,
    /// provider): what a dashboard labels costs with, so any member may read it.
    pub async fn connection_providers(
        &self,
        access: &Access,
    ) -> Result<Vec<(String, String, String)>> {
        access.require(Permission::ReadCosts)?;
        let rows =
            sqlx::query("SELECT id, name, provider FROM connections WHERE org_id = $1 ORDER BY id")
                .bind(&access.org_id)
                .fetch_all(&self.pool)
                .await?;
        rows.into_iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
            .collect()
    }

    /// The lake id of one of the caller's organization's connections, by name or id: a cost
    /// filter, so any member may resolve it.
    pub async fn connection_in_scope(&self, access: &Access, name_or_id: &str) -> Result<String> {
        access.require(Permission::ReadCosts)?;
        sqlx::query_scalar(
            "SELECT id FROM connections WHERE org_id = $1 AND (name = $2 OR id = $2) \
             ORDER BY CASE WHEN name = $2 THEN 0 ELSE 1 END LIMIT 1",
        )
        .bind(&access.org_id)
        .bind(name_or_id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| Error::not_found(format!("connection {name_or_id:?}")))
    }

    /// One of the caller's organization's connections, by name or id.
    pub async fn connection(&self, access: &Access, name_or_id: &str) -> Result<Connection> {
        access.require(Permission::ReadConnections)?;
        let row = sqlx::query(
            "SELECT id, name, provider, settings, created_at FROM connections \
             WHERE org_id = $1 AND (name = $2 OR id = $2) \
             ORDER BY CASE WHEN name = $2 THEN 0 ELSE 1 END LIMIT 1",
        )
        .bind(&access.org_id)
        .bind(name_or_id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| Error::not_found(format!("connection {name_or_id:?}")))?;
        connection_of(row)
    }

    /// Replaces a connection's settings (where its exports are and how to read them).
    pub async fn set_connection_settings(
        &self,
        access: &Access,
        name_or_id: &str,
        settings: serde_json::Value,
    ) -> Result<Connection> {
        access.require(Permission::ManageConnections)?;
        if !settings.is_object() {
            return Err(Error::invalid("settings", "a JSON object"));
        }
        let mut connection = self.connection(access, name_or_id).await?;
        let mut tx = self.begin().await?;
        sqlx::query("UPDATE connections SET settings = $1 WHERE id = $2 AND org_id = $3")
            .bind(settings.to_string())
            .bind(&connection.id)
            .bind(&access.org_id)
            .execute(&mut *tx)
            .await?;
        crate::audit::record(
            &mut tx,
            access,
            "connection.update",
            &connection.name,
            serde_json::json!({"id": connection.id, "settings": settings}),
        )
        .await?;
        tx.commit().await?;
        connection.settings = settings;
        Ok(connection)
    }

    /// Every connection of every organization that has a `source` to sync from, each with
    /// the access the server's scheduler syncs it as (an Owner of its organization, seen in
    /// the audit log as `scheduler`).
    pub async fn scheduled_connections(&self) -> Result<Vec<(Access, Connection)>> {
        let rows = sqlx::query(
            "SELECT id, name, provider, settings, created_at, org_id FROM connections \
             ORDER BY org_id, name",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut scheduled = Vec::new();
        for row in rows {
            let org_id: String = row.try_get(5)?;
            let connection = connection_of(row)?;
            if connection.source().is_some() {
                let access = Access {
                    org_id,
                    user_id: String::new(),
                    actor: "scheduler".into(),
                    role: crate::Role::Owner,
                    cost_types: crate::CostTypes::ALL,
                    accounts: crate::AccountScope::All,
                    via: crate::Via::Scheduler,
                };
                scheduled.push((access, connection));
            }
        }
        Ok(scheduled)
    }

    /// Deletes a connection, its secrets and its sync state (its cost rows stay in the lake
    /// until purged).
    pub async fn delete_connection(&self, access: &Access, name_or_id: &str) -> Result<()> {
        access.require(Permission::ManageConnections)?;
        let connection = self.connection(access, name_or_id).await?;
        let mut tx = self.begin().await?;
        for table in ["secrets", "sync_state"] {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE connection_id = $1"
            )))
            .bind(&connection.id)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("DELETE FROM connections WHERE id = $1 AND org_id = $2")
            .bind(&connection.id)
            .bind(&access.org_id)
            .execute(&mut *tx)
            .await?;
        crate::audit::record(
            &mut tx,
            access,
            "connection.delete",
            &connection.name,
            serde_json::json!({"id": connection.id}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records a sync attempt's outcome (`error` `None` for success).
    pub async fn record_sync(
        &self,
        access: &Access,
        name_or_id: &str,
        version: Option<&str>,
        error: Option<&str>,
    ) -> Result<()> {
        access.require(Permission::RunIngestion)?;
        let connection = self.connection(access, name_or_id).await?;
        let now = now_micros();
        let mut tx = self.begin().await?;
        let previous = sync_state_of(&mut tx, &connection.id).await?;
        sqlx::query("DELETE FROM sync_state WHERE connection_id = $1")
            .bind(&connection.id)
            .execute(&mut *tx)
            .await?;
        let succeeded = error.is_none();
        sqlx::query(
            "INSERT INTO sync_state (connection_id, org_id, last_attempt_at, last_success_at, \
             last_version, last_error) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&connection.id)
        .bind(&access.org_id)
        .bind(now)
        .bind(if succeeded {
            Some(now)
        } else {
            previous.last_success_at
        })
        .bind(if succeeded {
            version.map(str::to_string)
        } else {
            previous.last_version
        })
        .bind(error)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A connection's last sync.
    pub async fn sync_state(&self, access: &Access, name_or_id: &str) -> Result<SyncState> {
        let connection = self.connection(access, name_or_id).await?;
        let mut conn = self.pool.acquire().await?;
        sync_state_of(&mut conn, &connection.id).await
    }
}

async fn sync_state_of(conn: &mut sqlx::AnyConnection, connection_id: &str) -> Result<SyncState> {
    let row = sqlx::query(
        "SELECT last_attempt_at, last_success_at, last_version, last_error FROM sync_state \
         WHERE connection_id = $1",
    )
    .bind(connection_id)
    .fetch_optional(&mut *conn)
    .await?;
    match row {
        None => Ok(SyncState::default()),
        Some(r) => Ok(SyncState {
            last_attempt_at: r.try_get(0)?,
            last_success_at: r.try_get(1)?,
            last_version: r.try_get(2)?,
            last_error: r.try_get(3)?,
        }),
    }
}

fn connection_of(row: sqlx::any::AnyRow) -> Result<Connection> {
    let settings: String = row.try_get(3)?;
    Ok(Connection {
        id: row.try_get(0)?,
        name: row.try_get(1)?,
        provider: row.try_get(2)?,
        settings: serde_json::from_str(&settings).map_err(|e| {
            Error::invalid("settings", format!("stored settings are not JSON: {e}"))
        })?,
        created_at: row.try_get(4)?,
    })
}
