//! Roles, cost types, account scopes and what each role may do.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// A user's role in an organization, strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// An MSP's customer: sees only its own accounts, and only the cost types granted.
    Customer,
    /// Reads costs and connections.
    Viewer,
    /// Reads, and runs syncs and ingestions.
    Member,
    /// Manages connections, secrets and users (not Owners).
    Admin,
    /// Everything, including Owners and the organization itself.
    Owner,
}

impl Role {
    /// Every role, weakest first.
    pub const ALL: [Role; 5] = [
        Role::Customer,
        Role::Viewer,
        Role::Member,
        Role::Admin,
        Role::Owner,
    ];

    /// The role's name as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Customer => "customer",
            Role::Viewer => "viewer",
            Role::Member => "member",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }

    /// Whether the role allows `permission`.
    pub fn allows(self, permission: Permission) -> bool {
        use Permission::*;
        match permission {
            ReadCosts | ManageOwnTokens => true,
            ReadConnections | ReadIngestions => self >= Role::Viewer,
            RunIngestion => self >= Role::Member,
            ManageConnections | ManageUsers | ReadAudit => self >= Role::Admin,
            // CreateOrganizations also needs the default organization (see the store).
            ManageOwners | ManageOrganization | RotateKeys | CreateOrganizations => {
                self == Role::Owner
            }
        }
    }

    /// The cost types a new membership of this role sees unless granted others: a customer
    /// sees what it is billed, never the provider's cost.
    pub fn default_cost_types(self) -> CostTypes {
        match self {
            Role::Customer => CostTypes::from_iter([CostType::Billed]),
            _ => CostTypes::ALL,
        }
    }

    /// Whether members of this role see only the accounts listed for them.
    pub fn is_account_scoped(self) -> bool {
        self == Role::Customer
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                Error::invalid(
                    "role",
                    format!(
                        "{s:?} is not a role; expected owner, admin, member, viewer or customer"
                    ),
                )
            })
    }
}

/// Something a request may do; each endpoint and command names the one it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Permission {
    /// Cost queries and exports (within the caller's accounts and cost types).
    ReadCosts,
    /// Create and revoke one's own API tokens (never above one's role).
    ManageOwnTokens,
    /// List connections and their status (never secrets).
    ReadConnections,
    /// Ingestion history and reconciliation.
    ReadIngestions,
    /// Run a sync or an ingestion.
    RunIngestion,
    /// Create, change, test and delete connections and their secrets.
    ManageConnections,
    /// Add users, grant roles up to Admin, revoke memberships and tokens.
    ManageUsers,
    /// Read the audit log.
    ReadAudit,
    /// Grant or revoke the Owner role.
    ManageOwners,
    /// Rename or delete the organization.
    ManageOrganization,
    /// Rotate the master key of the secrets.
    RotateKeys,
    /// Create organizations: Owners of the default organization, the instance's operators.
    CreateOrganizations,
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Permission::ReadCosts => "read costs",
            Permission::ManageOwnTokens => "manage their own API tokens",
            Permission::ReadConnections => "read connections",
            Permission::ReadIngestions => "read ingestions",
            Permission::RunIngestion => "run ingestions",
            Permission::ManageConnections => "manage connections and secrets",
            Permission::ManageUsers => "manage users",
            Permission::ReadAudit => "read the audit log",
            Permission::ManageOwners => "grant or revoke the owner role",
            Permission::ManageOrganization => "manage the organization",
            Permission::RotateKeys => "rotate the master key",
            Permission::CreateOrganizations => {
                "create organizations (the Owners of the default organization operate the instance)"
            }
        })
    }
}

/// One of the four ways Billow presents cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CostType {
    /// As the provider billed it (FOCUS BilledCost of the provider).
    Provider,
    /// At public on-demand prices (FOCUS ListCost).
    List,
    /// After Billow's billing rules, without amortization.
    Billed,
    /// After the rules, with commitments amortized (FOCUS EffectiveCost).
    Effective,
}

impl CostType {
    /// Every cost type.
    pub const ALL: [CostType; 4] = [
        CostType::Provider,
        CostType::List,
        CostType::Billed,
        CostType::Effective,
    ];

    /// The name as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            CostType::Provider => "provider",
            CostType::List => "list",
            CostType::Billed => "billed",
            CostType::Effective => "effective",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl fmt::Display for CostType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CostType {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        CostType::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                Error::invalid(
                    "cost_types",
                    format!(
                        "{s:?} is not a cost type; expected provider, list, billed or effective"
                    ),
                )
            })
    }
}

/// A set of cost types (what a membership may see).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct CostTypes(u8);

impl CostTypes {
    /// All four.
    pub const ALL: CostTypes = CostTypes(0b1111);

    /// Whether `cost_type` is in the set.
    pub fn contains(self, cost_type: CostType) -> bool {
        self.0 & cost_type.bit() != 0
    }

    /// The members, in [`CostType::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = CostType> {
        CostType::ALL.into_iter().filter(move |c| self.contains(*c))
    }

    /// Whether no cost type is in the set.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The types in both sets.
    pub fn intersection(self, other: CostTypes) -> CostTypes {
        CostTypes(self.0 & other.0)
    }
}

impl FromIterator<CostType> for CostTypes {
    fn from_iter<I: IntoIterator<Item = CostType>>(iter: I) -> Self {
        CostTypes(iter.into_iter().fold(0, |bits, c| bits | c.bit()))
    }
}

impl fmt::Display for CostTypes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.iter().map(CostType::as_str).collect();
        f.write_str(&names.join(","))
    }
}

impl FromStr for CostTypes {
    type Err = Error;
    /// A comma-separated list, or `all`.
    fn from_str(s: &str) -> Result<Self> {
        if s.trim().eq_ignore_ascii_case("all") {
            return Ok(CostTypes::ALL);
        }
        let set: CostTypes = s
            .split(',')
            .filter(|p| !p.trim().is_empty())
            .map(str::parse)
            .collect::<Result<Vec<CostType>>>()?
            .into_iter()
            .collect();
        if set.is_empty() {
            return Err(Error::invalid(
                "cost_types",
                "at least one cost type is needed (provider, list, billed, effective)",
            ));
        }
        Ok(set)
    }
}

impl Serialize for CostTypes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

/// Which accounts' costs a membership sees.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "accounts", rename_all = "lowercase")]
pub enum AccountScope {
    /// Every account of the organization.
    All,
    /// Only rows whose billing account or sub account is one of these.
    Only(BTreeSet<String>),
}

impl AccountScope {
    /// Whether a row of this billing account and sub account is visible.
    pub fn allows(&self, billing_account: &str, sub_account: Option<&str>) -> bool {
        match self {
            AccountScope::All => true,
            AccountScope::Only(ids) => {
                ids.contains(billing_account) || sub_account.is_some_and(|s| ids.contains(s))
            }
        }
    }
}
