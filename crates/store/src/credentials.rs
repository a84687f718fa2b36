//! API tokens and login sessions. A credential's secret is shown once, at creation; the
//! store keeps only its SHA-256. The role in force is the membership's at each use, capped
//! by the credential's, so removing a member or lowering their role takes effect at once.

use base64::Engine;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::model::{Permission, Role};
use crate::{Access, Error, Result, Store, Via, new_id, now_micros};

/// Prefix of every credential secret, so leaked ones are easy to recognise and scan for.
const SECRET_PREFIX: &str = "billow_";
const MICROS_PER_DAY: i64 = 86_400_000_000;
/// How long a login session lasts.
pub const SESSION_HOURS: i64 = 12;
/// The longest life an API token may have.
pub const MAX_TOKEN_DAYS: i64 = 366;

/// What a credential is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CredentialKind {
    /// A named API token for scripts.
    Token,
    /// A browser login.
    Session,
}

impl CredentialKind {
    fn as_str(self) -> &'static str {
        match self {
            CredentialKind::Token => "token",
            CredentialKind::Session => "session",
        }
    }
}

/// A credential as listed (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Credential {
    /// Its id (what revoking names).
    pub id: String,
    /// Token or session.
    pub kind: CredentialKind,
    /// The user's email.
    pub email: String,
    /// The token's name.
    pub name: String,
    /// The strongest role it acts with.
    pub max_role: Role,
    /// Created, µs since the epoch.
    pub created_at: i64,
    /// Expires, µs since the epoch.
    pub expires_at: i64,
    /// Revoked, µs since the epoch.
    pub revoked_at: Option<i64>,
    /// Last used, µs since the epoch.
    pub last_used_at: Option<i64>,
}

fn new_secret() -> String {
    use argon2::password_hash::rand_core::{OsRng, RngCore};
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    format!(
        "{SECRET_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

impl Store {
    /// Creates an API token for the caller (or, with [`Permission::ManageUsers`], for
    /// another member) acting with at most `max_role` (default: the member's role), valid
    /// for `days`. Returns the token and its secret, which is shown only now.
    pub async fn create_token(
        &self,
        access: &Access,
        for_email: Option<&str>,
        name: &str,
        max_role: Option<Role>,
        days: i64,
    ) -> Result<(Credential, String)> {
        access.require(Permission::ManageOwnTokens)?;
        let name = name.trim();
        if name.is_empty() || name.len() > 100 {
            return Err(Error::invalid(
                "name",
                "a token's name is 1 to 100 characters",
            ));
        }
        if !(1..=MAX_TOKEN_DAYS).contains(&days) {
            return Err(Error::invalid(
                "days",
                format!(
                    "a token lives 1 to {MAX_TOKEN_DAYS} days; create a new one before it expires"
                ),
            ));
        }
        let member = match for_email {
            Some(email) => self.member(access, email).await?,
            None if matches!(access.via, Via::Local) => {
                return Err(Error::invalid(
                    "user",
                    "the local CLI is not a user: name the member the token is for",
                ));
            }
            None => {
                let members = self.member_by_id(access, &access.user_id).await?;
                members.ok_or_else(|| Error::not_found("your membership"))?
            }
        };
        if member.user_id != access.user_id {
            access.require(Permission::ManageUsers)?;
        }
        let max_role = max_role.unwrap_or(member.role);
        if max_role > member.role || max_role > access.role {
            return Err(Error::invalid(
                "role",
                format!(
                    "a token acts with at most its user's role ({}) and yours ({})",
                    member.role, access.role
                ),
            ));
        }
        let secret = new_secret();
        let now = now_micros();
        let credential = Credential {
            id: new_id(),
            kind: CredentialKind::Token,
            email: member.email.clone(),
            name: name.to_string(),
            max_role,
            created_at: now,
            expires_at: now + days * MICROS_PER_DAY,
            revoked_at: None,
            last_used_at: None,
        };
        let mut tx = self.begin().await?;
        insert(&mut tx, access, &member.user_id, &credential, &secret).await?;
        crate::audit::record(
            &mut tx,
            access,
            "token.create",
            &credential.id,
            serde_json::json!({"user": member.email, "name": name, "max_role": max_role, "days": days}),
        )
        .await?;
        tx.commit().await?;
        Ok((credential, secret))
    }

    /// Logs in: checks the password, picks the organization (by name, or the user's only
    /// one) and opens a session. Returns the caller's access and the session's secret.
    pub async fn login(
        &self,
        email: &str,
        password: &str,
        organization: Option<&str>,
    ) -> Result<(Access, String)> {
        let user_id = self.check_password(email, password).await?;
        let orgs: Vec<(String, String)> = sqlx::query(
            "SELECT o.id, o.name FROM memberships m JOIN organizations o ON o.id = m.org_id \
             WHERE m.user_id = $1 ORDER BY o.name",
        )
        .bind(&user_id)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect::<Result<_>>()?;
        let org_id = match (organization, orgs.as_slice()) {
            (Some(name), _) => orgs
                .iter()
                .find(|(_, n)| n == name)
                .map(|(id, _)| id.clone())
                .ok_or(Error::Unauthenticated(
                    "you are not a member of that organization",
                ))?,
            (None, [(id, _)]) => id.clone(),
            (None, []) => {
                return Err(Error::Unauthenticated(
                    "you are not a member of any organization",
                ));
            }
            (None, _) => {
                return Err(Error::invalid(
                    "organization",
                    format!(
                        "you belong to several organizations; name one of: {}",
                        orgs.iter()
                            .map(|(_, n)| n.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
        };
        let role: String =
            sqlx::query_scalar("SELECT role FROM memberships WHERE org_id = $1 AND user_id = $2")
                .bind(&org_id)
                .bind(&user_id)
                .fetch_one(&self.pool)
                .await?;
        let now = now_micros();
        let credential = Credential {
            id: new_id(),
            kind: CredentialKind::Session,
            email: email.trim().to_ascii_lowercase(),
            name: "login".into(),
            max_role: role.parse()?,
            created_at: now,
            expires_at: now + SESSION_HOURS * 3_600_000_000,
            revoked_at: None,
            last_used_at: None,
        };
        let secret = new_secret();
        let mut tx = self.begin().await?;
        let access = Access {
            org_id: org_id.clone(),
            user_id: user_id.clone(),
            actor: credential.email.clone(),
            role: credential.max_role,
            cost_types: crate::CostTypes::default(),
            accounts: crate::AccountScope::All,
            via: Via::Session(credential.id.clone()),
        };
        insert(&mut tx, &access, &user_id, &credential, &secret).await?;
        crate::audit::record(
            &mut tx,
            &access,
            "session.login",
            &credential.id,
            serde_json::json!({}),
        )
        .await?;
        tx.commit().await?;
        let access = self.authenticate(&secret).await?;
        Ok((access, secret))
    }

    /// The access a token's or session's secret gives, or [`Error::Unauthenticated`].
    pub async fn authenticate(&self, secret: &str) -> Result<Access> {
        const UNKNOWN: Error = Error::Unauthenticated("unknown, expired or revoked credential");
        if !secret.starts_with(SECRET_PREFIX) || secret.len() > 128 {
            return Err(UNKNOWN);
        }
        let row = sqlx::query(
            "SELECT c.id, c.kind, c.org_id, c.user_id, c.max_role, c.expires_at, c.revoked_at, \
             m.role, m.cost_types, u.email, u.disabled, c.last_used_at \
             FROM credentials c \
             JOIN memberships m ON m.org_id = c.org_id AND m.user_id = c.user_id \
             JOIN users u ON u.id = c.user_id \
             WHERE c.secret_hash = $1",
        )
        .bind(secret_hash(secret))
        .fetch_optional(&self.pool)
        .await?
        .ok_or(UNKNOWN)?;
        let now = now_micros();
        let expires_at: i64 = row.try_get(5)?;
        let revoked_at: Option<i64> = row.try_get(6)?;
        let disabled = row.try_get::<i64, _>(10)? != 0;
        if expires_at <= now || revoked_at.is_some() || disabled {
            return Err(UNKNOWN);
        }
        let id: String = row.try_get(0)?;
        let kind: String = row.try_get(1)?;
        let org_id: String = row.try_get(2)?;
        let user_id: String = row.try_get(3)?;
        let max_role: Role = row.try_get::<String, _>(4)?.parse()?;
        let member_role: Role = row.try_get::<String, _>(7)?.parse()?;
        let role = max_role.min(member_role);
        let last_used: Option<i64> = row.try_get(11)?;
        // Recording every use would make each request a write: once a minute is enough.
        if last_used.is_none_or(|t| now - t > 60_000_000) {
            sqlx::query("UPDATE credentials SET last_used_at = $1 WHERE id = $2")
                .bind(now)
                .bind(&id)
                .execute(&self.pool)
                .await?;
        }
        let accounts = self.accounts_of(&org_id, &user_id, member_role).await?;
        Ok(Access {
            org_id,
            user_id,
            actor: row.try_get(9)?,
            role,
            cost_types: row.try_get::<String, _>(8)?.parse()?,
            accounts,
            via: if kind == CredentialKind::Session.as_str() {
                Via::Session(id)
            } else {
                Via::Token(id)
            },
        })
    }

    /// Revokes a credential: one's own, or any of the organization's with
    /// [`Permission::ManageUsers`].
    pub async fn revoke(&self, access: &Access, credential_id: &str) -> Result<()> {
        let owner: Option<String> =
            sqlx::query_scalar("SELECT user_id FROM credentials WHERE id = $1 AND org_id = $2")
                .bind(credential_id)
                .bind(&access.org_id)
                .fetch_optional(&self.pool)
                .await?;
        let owner = owner.ok_or_else(|| Error::not_found(format!("credential {credential_id}")))?;
        if owner != access.user_id {
            access.require(Permission::ManageUsers)?;
        }
        let mut tx = self.begin().await?;
        sqlx::query("UPDATE credentials SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(now_micros())
            .bind(credential_id)
            .execute(&mut *tx)
            .await?;
        crate::audit::record(
            &mut tx,
            access,
            "credential.revoke",
            credential_id,
            serde_json::json!({}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The caller's own tokens, or with [`Permission::ManageUsers`] every token of the
    /// organization (`all`). Sessions are not listed.
    pub async fn tokens(&self, access: &Access, all: bool) -> Result<Vec<Credential>> {
        if all {
            access.require(Permission::ManageUsers)?;
        }
        let rows = sqlx::query(
            "SELECT c.id, u.email, c.name, c.max_role, c.created_at, c.expires_at, c.revoked_at, \
             c.last_used_at FROM credentials c JOIN users u ON u.id = c.user_id \
             WHERE c.org_id = $1 AND c.kind = 'token' AND ($2 = 1 OR c.user_id = $3) \
             ORDER BY c.created_at",
        )
        .bind(&access.org_id)
        .bind(i64::from(all))
        .bind(&access.user_id)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(Credential {
                    id: r.try_get(0)?,
                    kind: CredentialKind::Token,
                    email: r.try_get(1)?,
                    name: r.try_get(2)?,
                    max_role: r.try_get::<String, _>(3)?.parse()?,
                    created_at: r.try_get(4)?,
                    expires_at: r.try_get(5)?,
                    revoked_at: r.try_get(6)?,
                    last_used_at: r.try_get(7)?,
                })
            })
            .collect()
    }

    async fn member_by_id(&self, access: &Access, user_id: &str) -> Result<Option<crate::Member>> {
        let email: Option<String> = sqlx::query_scalar("SELECT email FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await?;
        match email {
            Some(email) => Ok(Some(self.member(access, &email).await?)),
            None => Ok(None),
        }
    }
}

async fn insert(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    access: &Access,
    user_id: &str,
    c: &Credential,
    secret: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO credentials (id, kind, org_id, user_id, name, secret_hash, max_role, \
         created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&c.id)
    .bind(c.kind.as_str())
    .bind(&access.org_id)
    .bind(user_id)
    .bind(&c.name)
    .bind(secret_hash(secret))
    .bind(c.max_role.as_str())
    .bind(c.created_at)
    .bind(c.expires_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
