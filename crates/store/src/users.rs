//! Organizations, users, memberships (role, cost types, accounts) and passwords.

use std::collections::BTreeSet;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use serde::Serialize;
use sqlx::Row;

use crate::error::conflict_on_unique;
use crate::model::{AccountScope, CostTypes, Permission, Role};
use crate::{Access, Error, Result, Store, Via, new_id, now_micros};

/// The organization the local CLI acts in.
pub const DEFAULT_ORGANIZATION: &str = "default";
const MIN_PASSWORD_CHARS: usize = 12;

/// An organization: the unit every cost, connection and user belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Organization {
    /// Its id.
    pub id: String,
    /// Its unique name.
    pub name: String,
    /// Created, µs since the epoch.
    pub created_at: i64,
}

/// A user's membership of the caller's organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Member {
    /// The user's id.
    pub user_id: String,
    /// Their email (the login name).
    pub email: String,
    /// Their display name.
    pub name: String,
    /// Their role here.
    pub role: Role,
    /// The cost types they see here.
    pub cost_types: CostTypes,
    /// The accounts they see here.
    pub accounts: AccountScope,
    /// Whether the user may log in at all.
    pub disabled: bool,
    /// Whether a password is set (the hash itself never leaves the store).
    pub has_password: bool,
}

fn check_email(email: &str) -> Result<String> {
    let email = email.trim().to_ascii_lowercase();
    let ok = email.len() <= 254
        && email.split_once('@').is_some_and(|(user, domain)| {
            !user.is_empty() && domain.contains('.') && !domain.starts_with('.')
        })
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(email)
    } else {
        Err(Error::invalid(
            "email",
            format!("{email:?} is not an email address (name@example.com)"),
        ))
    }
}

fn hash_password(password: &str) -> Result<String> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(Error::invalid(
            "password",
            format!("use at least {MIN_PASSWORD_CHARS} characters (a passphrase is easiest)"),
        ));
    }
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    // Argon2id with the crate's defaults (19 MiB, 2 passes): OWASP's recommended minimum.
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::invalid("password", e.to_string()))
}

/// A hash of a password nobody has, verified when the email is unknown so that a login's
/// timing does not tell which emails exist.
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password(&new_id()).unwrap_or_default())
}

async fn insert_accounts(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    org_id: &str,
    user_id: &str,
    accounts: &BTreeSet<String>,
) -> Result<()> {
    for account in accounts {
        sqlx::query(
            "INSERT INTO membership_accounts (org_id, user_id, account_id) VALUES ($1, $2, $3)",
        )
        .bind(org_id)
        .bind(user_id)
        .bind(account)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

fn parse_accounts(accounts: &[String]) -> Result<BTreeSet<String>> {
    accounts
        .iter()
        .map(|a| {
            let a = a.trim();
            if a.is_empty() || a.len() > 256 {
                Err(Error::invalid(
                    "accounts",
                    "an account id is 1 to 256 characters (a billing account or sub account id)",
                ))
            } else {
                Ok(a.to_string())
            }
        })
        .collect()
}

impl Store {
    /// The default organization (created on first use), where the local CLI acts.
    pub async fn default_organization(&self) -> Result<Organization> {
        if let Some(org) = self.organization_named(DEFAULT_ORGANIZATION).await? {
            return Ok(org);
        }
        match self.create_organization(DEFAULT_ORGANIZATION).await {
            Ok(org) => Ok(org),
            // Another process created it first.
            Err(Error::Conflict { .. }) => self
                .organization_named(DEFAULT_ORGANIZATION)
                .await?
                .ok_or_else(|| Error::not_found("the default organization")),
            Err(e) => Err(e),
        }
    }

    /// The Owner of the default organization: what the CLI on the data directory's machine
    /// acts as.
    pub async fn local_owner(&self) -> Result<Access> {
        let org = self.default_organization().await?;
        Ok(Access {
            org_id: org.id,
            user_id: String::new(),
            actor: "local".into(),
            role: Role::Owner,
            cost_types: CostTypes::ALL,
            accounts: AccountScope::All,
            via: Via::Local,
        })
    }

    /// Creates an organization (the server's operator or the CLI; no user owns the call).
    pub async fn create_organization(&self, name: &str) -> Result<Organization> {
        let name = name.trim();
        if name.is_empty() || name.len() > 100 {
            return Err(Error::invalid(
                "name",
                "an organization's name is 1 to 100 characters",
            ));
        }
        let org = Organization {
            id: new_id(),
            name: name.to_string(),
            created_at: now_micros(),
        };
        sqlx::query("INSERT INTO organizations (id, name, created_at) VALUES ($1, $2, $3)")
            .bind(&org.id)
            .bind(&org.name)
            .bind(org.created_at)
            .execute(&self.pool)
            .await
            .map_err(|e| conflict_on_unique(e, || format!("organization {name:?}")))?;
        Ok(org)
    }

    /// Creates an organization on behalf of the instance's operator (an Owner of the
    /// default organization). The calling user becomes its Owner, so they can sign in to it
    /// and add its members; the change is audited in both organizations.
    pub async fn create_organization_as(
        &self,
        access: &Access,
        name: &str,
    ) -> Result<Organization> {
        access.require(Permission::CreateOrganizations)?;
        if access.org_id != self.default_organization().await?.id {
            return Err(Error::Forbidden {
                role: access.role,
                permission: Permission::CreateOrganizations,
            });
        }
        let org = self.create_organization(name).await?;
        let created = Access {
            org_id: org.id.clone(),
            ..access.clone()
        };
        let mut tx = self.begin().await?;
        if !access.user_id.is_empty() {
            sqlx::query(
                "INSERT INTO memberships (org_id, user_id, role, cost_types, created_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&org.id)
            .bind(&access.user_id)
            .bind(Role::Owner.as_str())
            .bind(CostTypes::ALL.to_string())
            .bind(now_micros())
            .execute(&mut *tx)
            .await?;
        }
        let detail = serde_json::json!({"organization_id": org.id, "name": org.name});
        crate::audit::record(
            &mut tx,
            access,
            "organization.create",
            &org.name,
            detail.clone(),
        )
        .await?;
        crate::audit::record(&mut tx, &created, "organization.create", &org.name, detail).await?;
        tx.commit().await?;
        Ok(org)
    }

    /// The organizations the caller's user belongs to, with their role in each (the local
    /// CLI: its own organization).
    pub async fn organizations(&self, access: &Access) -> Result<Vec<(Organization, Role)>> {
        if access.user_id.is_empty() {
            return Ok(vec![(self.organization(access).await?, access.role)]);
        }
        let rows = sqlx::query(
            "SELECT o.id, o.name, o.created_at, m.role FROM organizations o \
             JOIN memberships m ON m.org_id = o.id WHERE m.user_id = $1 ORDER BY o.name",
        )
        .bind(&access.user_id)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                let role: String = r.try_get(3)?;
                Ok((
                    Organization {
                        id: r.try_get(0)?,
                        name: r.try_get(1)?,
                        created_at: r.try_get(2)?,
                    },
                    role.parse()?,
                ))
            })
            .collect()
    }

    /// Renames the caller's organization.
    pub async fn rename_organization(&self, access: &Access, name: &str) -> Result<Organization> {
        access.require(Permission::ManageOrganization)?;
        let name = name.trim();
        if name.is_empty() || name.len() > 100 {
            return Err(Error::invalid(
                "name",
                "an organization's name is 1 to 100 characters",
            ));
        }
        let before = self.organization(access).await?;
        if before.name == DEFAULT_ORGANIZATION && name != DEFAULT_ORGANIZATION {
            return Err(Error::invalid(
                "name",
                format!(
                    "the {DEFAULT_ORGANIZATION:?} organization is where the local CLI acts; its name stays"
                ),
            ));
        }
        let mut tx = self.begin().await?;
        sqlx::query("UPDATE organizations SET name = $1 WHERE id = $2")
            .bind(name)
            .bind(&access.org_id)
            .execute(&mut *tx)
            .await
            .map_err(|e| conflict_on_unique(e, || format!("organization {name:?}")))?;
        crate::audit::record(
            &mut tx,
            access,
            "organization.rename",
            name,
            serde_json::json!({"from": before.name}),
        )
        .await?;
        tx.commit().await?;
        self.organization(access).await
    }

    /// The organization of this name, if any.
    pub async fn organization_named(&self, name: &str) -> Result<Option<Organization>> {
        let row = sqlx::query("SELECT id, name, created_at FROM organizations WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok(Organization {
                id: r.try_get(0)?,
                name: r.try_get(1)?,
                created_at: r.try_get(2)?,
            })
        })
        .transpose()
    }

    /// The caller's organization.
    pub async fn organization(&self, access: &Access) -> Result<Organization> {
        let row = sqlx::query("SELECT id, name, created_at FROM organizations WHERE id = $1")
            .bind(&access.org_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| Error::not_found("organization"))?;
        Ok(Organization {
            id: row.try_get(0)?,
            name: row.try_get(1)?,
            created_at: row.try_get(2)?,
        })
    }

    /// Adds a user to the caller's organization with `role` (a new user is created; an
    /// existing one, known by email, keeps their password). `cost_types` defaults to the
    /// role's ([`Role::default_cost_types`]); `accounts` is required for account-scoped roles.
    #[allow(clippy::too_many_arguments)]
    pub async fn add_member(
        &self,
        access: &Access,
        email: &str,
        name: &str,
        password: Option<&str>,
        role: Role,
        cost_types: Option<CostTypes>,
        accounts: &[String],
    ) -> Result<Member> {
        access.require(Permission::ManageUsers)?;
        if role == Role::Owner {
            access.require(Permission::ManageOwners)?;
        }
        let email = check_email(email)?;
        let accounts = self.check_scope(role, accounts)?;
        let cost_types = self.check_cost_types(access, role, cost_types)?;
        let hash = password.map(hash_password).transpose()?;
        let mut tx = self.begin().await?;
        let existing: Option<String> = sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
            .bind(&email)
            .fetch_optional(&mut *tx)
            .await?;
        let user_id = match existing {
            Some(id) => {
                if hash.is_some() {
                    return Err(Error::invalid(
                        "password",
                        format!(
                            "{email} already has an account; add them without a password (they keep theirs)"
                        ),
                    ));
                }
                id
            }
            None => {
                let id = new_id();
                let display = if name.trim().is_empty() {
                    email.clone()
                } else {
                    name.trim().to_string()
                };
                sqlx::query(
                    "INSERT INTO users (id, email, name, password_hash, disabled, created_at) \
                     VALUES ($1, $2, $3, $4, 0, $5)",
                )
                .bind(&id)
                .bind(&email)
                .bind(display)
                .bind(hash)
                .bind(now_micros())
                .execute(&mut *tx)
                .await
                .map_err(|e| conflict_on_unique(e, || format!("user {email}")))?;
                id
            }
        };
        sqlx::query(
            "INSERT INTO memberships (org_id, user_id, role, cost_types, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&access.org_id)
        .bind(&user_id)
        .bind(role.as_str())
        .bind(cost_types.to_string())
        .bind(now_micros())
        .execute(&mut *tx)
        .await
        .map_err(|e| conflict_on_unique(e, || format!("{email}'s membership")))?;
        insert_accounts(&mut tx, &access.org_id, &user_id, &accounts).await?;
        crate::audit::record(
            &mut tx,
            access,
            "member.add",
            &email,
            serde_json::json!({"role": role, "cost_types": cost_types.to_string(), "accounts": accounts}),
        )
        .await?;
        tx.commit().await?;
        self.member(access, &email).await
    }

    /// Changes a member's role, cost types and (for account-scoped roles) accounts.
    pub async fn grant(
        &self,
        access: &Access,
        email: &str,
        role: Role,
        cost_types: Option<CostTypes>,
        accounts: &[String],
    ) -> Result<Member> {
        access.require(Permission::ManageUsers)?;
        let email = check_email(email)?;
        let current = self.member(access, &email).await?;
        if role == Role::Owner || current.role == Role::Owner {
            access.require(Permission::ManageOwners)?;
        }
        let accounts = self.check_scope(role, accounts)?;
        let cost_types = self.check_cost_types(access, role, cost_types)?;
        let mut tx = self.begin().await?;
        if current.role == Role::Owner && role != Role::Owner {
            self.keep_an_owner(&mut tx, access, &current.user_id)
                .await?;
        }
        sqlx::query(
            "UPDATE memberships SET role = $1, cost_types = $2 WHERE org_id = $3 AND user_id = $4",
        )
        .bind(role.as_str())
        .bind(cost_types.to_string())
        .bind(&access.org_id)
        .bind(&current.user_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM membership_accounts WHERE org_id = $1 AND user_id = $2")
            .bind(&access.org_id)
            .bind(&current.user_id)
            .execute(&mut *tx)
            .await?;
        insert_accounts(&mut tx, &access.org_id, &current.user_id, &accounts).await?;
        crate::audit::record(
            &mut tx,
            access,
            "member.grant",
            &email,
            serde_json::json!({"role": role, "cost_types": cost_types.to_string(), "accounts": accounts}),
        )
        .await?;
        tx.commit().await?;
        self.member(access, &email).await
    }

    /// Removes a member from the caller's organization (their tokens and sessions here end
    /// with it). The last Owner cannot be removed.
    pub async fn remove_member(&self, access: &Access, email: &str) -> Result<()> {
        access.require(Permission::ManageUsers)?;
        let email = check_email(email)?;
        let current = self.member(access, &email).await?;
        if current.role == Role::Owner {
            access.require(Permission::ManageOwners)?;
        }
        let mut tx = self.begin().await?;
        if current.role == Role::Owner {
            self.keep_an_owner(&mut tx, access, &current.user_id)
                .await?;
        }
        for table in ["membership_accounts", "credentials", "memberships"] {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE org_id = $1 AND user_id = $2"
            )))
            .bind(&access.org_id)
            .bind(&current.user_id)
            .execute(&mut *tx)
            .await?;
        }
        crate::audit::record(
            &mut tx,
            access,
            "member.remove",
            &email,
            serde_json::json!({}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Sets a user's password: their own, or (Owner only) anyone's in the organization.
    pub async fn set_password(&self, access: &Access, email: &str, password: &str) -> Result<()> {
        let email = check_email(email)?;
        let member = self.member_unchecked(access, &email).await?;
        if member.user_id != access.user_id {
            access.require(Permission::ManageOwners)?;
        }
        let hash = hash_password(password)?;
        let mut tx = self.begin().await?;
        sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(hash)
            .bind(&member.user_id)
            .execute(&mut *tx)
            .await?;
        // A changed password ends every login session of the user.
        sqlx::query("DELETE FROM credentials WHERE user_id = $1 AND kind = 'session'")
            .bind(&member.user_id)
            .execute(&mut *tx)
            .await?;
        crate::audit::record(
            &mut tx,
            access,
            "user.password",
            &email,
            serde_json::json!({}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The members of the caller's organization, by email.
    pub async fn members(&self, access: &Access) -> Result<Vec<Member>> {
        access.require(Permission::ManageUsers)?;
        self.members_where(access, None).await
    }

    /// One member of the caller's organization (the caller themself needs no permission).
    pub async fn member(&self, access: &Access, email: &str) -> Result<Member> {
        let email = check_email(email)?;
        let member = self.member_unchecked(access, &email).await?;
        if member.user_id != access.user_id {
            access.require(Permission::ManageUsers)?;
        }
        Ok(member)
    }

    async fn member_unchecked(&self, access: &Access, email: &str) -> Result<Member> {
        self.members_where(access, Some(email))
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| Error::not_found(format!("member {email}")))
    }

    async fn members_where(&self, access: &Access, email: Option<&str>) -> Result<Vec<Member>> {
        let rows = sqlx::query(
            "SELECT u.id, u.email, u.name, m.role, m.cost_types, u.disabled, \
             CASE WHEN u.password_hash IS NULL THEN 0 ELSE 1 END \
             FROM memberships m JOIN users u ON u.id = m.user_id \
             WHERE m.org_id = $1 AND ($2 = '' OR u.email = $2) ORDER BY u.email",
        )
        .bind(&access.org_id)
        .bind(email.unwrap_or(""))
        .fetch_all(&self.pool)
        .await?;
        let mut members = Vec::with_capacity(rows.len());
        for r in rows {
            let user_id: String = r.try_get(0)?;
            let role: Role = r.try_get::<String, _>(3)?.parse()?;
            let accounts = self.accounts_of(&access.org_id, &user_id, role).await?;
            members.push(Member {
                user_id,
                email: r.try_get(1)?,
                name: r.try_get(2)?,
                role,
                cost_types: r.try_get::<String, _>(4)?.parse()?,
                accounts,
                disabled: r.try_get::<i64, _>(5)? != 0,
                has_password: r.try_get::<i64, _>(6)? != 0,
            });
        }
        Ok(members)
    }

    pub(crate) async fn accounts_of(
        &self,
        org_id: &str,
        user_id: &str,
        role: Role,
    ) -> Result<AccountScope> {
        if !role.is_account_scoped() {
            return Ok(AccountScope::All);
        }
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT account_id FROM membership_accounts WHERE org_id = $1 AND user_id = $2",
        )
        .bind(org_id)
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(AccountScope::Only(ids.into_iter().collect()))
    }

    /// The user of this email and password, or why not. Unknown emails take as long as
    /// wrong passwords.
    pub(crate) async fn check_password(&self, email: &str, password: &str) -> Result<String> {
        let email =
            check_email(email).map_err(|_| Error::Unauthenticated("wrong email or password"))?;
        let row = sqlx::query("SELECT id, password_hash, disabled FROM users WHERE email = $1")
            .bind(&email)
            .fetch_optional(&self.pool)
            .await?;
        let (user_id, hash, disabled) = match row {
            Some(r) => (
                r.try_get::<String, _>(0)?,
                r.try_get::<Option<String>, _>(1)?,
                r.try_get::<i64, _>(2)? != 0,
            ),
            None => (String::new(), None, true),
        };
        let hash = hash.unwrap_or_else(|| decoy_hash().to_string());
        let verified = PasswordHash::new(&hash)
            .map(|h| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &h)
                    .is_ok()
            })
            .unwrap_or(false);
        if verified && !disabled && !user_id.is_empty() {
            Ok(user_id)
        } else {
            Err(Error::Unauthenticated("wrong email or password"))
        }
    }

    fn check_scope(&self, role: Role, accounts: &[String]) -> Result<BTreeSet<String>> {
        let accounts = parse_accounts(accounts)?;
        match (role.is_account_scoped(), accounts.is_empty()) {
            (true, true) => Err(Error::invalid(
                "accounts",
                format!(
                    "a {role} sees only the accounts listed for them: name at least one billing account or sub account id"
                ),
            )),
            (false, false) => Err(Error::invalid(
                "accounts",
                format!(
                    "a {role} sees every account of the organization; accounts apply to the customer role only"
                ),
            )),
            _ => Ok(accounts),
        }
    }

    fn check_cost_types(
        &self,
        access: &Access,
        role: Role,
        cost_types: Option<CostTypes>,
    ) -> Result<CostTypes> {
        let cost_types = cost_types.unwrap_or_else(|| role.default_cost_types());
        // Nobody grants a cost type they cannot see themselves.
        if cost_types.intersection(access.cost_types) != cost_types {
            return Err(Error::invalid(
                "cost_types",
                format!(
                    "you may grant only cost types you see yourself ({})",
                    access.cost_types
                ),
            ));
        }
        Ok(cost_types)
    }

    async fn keep_an_owner(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        access: &Access,
        leaving: &str,
    ) -> Result<()> {
        let others: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM memberships WHERE org_id = $1 AND role = 'owner' AND user_id <> $2",
        )
        .bind(&access.org_id)
        .bind(leaving)
        .fetch_one(&mut **tx)
        .await?;
        if others == 0 {
            return Err(Error::invalid(
                "role",
                "this is the organization's last owner: make someone else owner first",
            ));
        }
        Ok(())
    }
}
