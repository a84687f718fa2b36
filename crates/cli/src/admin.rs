//! `billow user`, `billow token`, `billow key`, `billow audit`: the metadata store from the
//! terminal, acting as the Owner of the default organization.

use std::io::{BufRead, Write};
use std::path::Path;

use anyhow::{Context, Result, bail};
use billow_store::{CostTypes, KeySource, Keyring, MasterKey, Role, Store};
use clap::{Args, Subcommand};

/// Where the metadata lives: `--database-url`, or `billow.db` in the data directory.
#[derive(Args, Clone)]
pub(crate) struct StoreArgs {
    /// Metadata database: `postgres://user:password@host/db`, or `sqlite://<file>`. Default:
    /// billow.db in the data directory.
    #[arg(long, global = true, env = "BILLOW_DATABASE_URL")]
    database_url: Option<String>,
}

impl StoreArgs {
    pub(crate) async fn open(&self, data_dir: &Path) -> Result<Store> {
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("creating the data directory {}", data_dir.display()))?;
        let keyring = Keyring::load(data_dir)?;
        let url = self
            .database_url
            .clone()
            .unwrap_or_else(|| Store::sqlite_url(data_dir));
        Store::open(&url, keyring).await.with_context(|| {
            // The URL may carry a password: name the database without it.
            match url.split_once('@') {
                Some((_, host)) => format!("opening the metadata database at {host}"),
                None => format!("opening the metadata database {url}"),
            }
        })
    }
}

#[derive(Subcommand)]
pub(crate) enum UserCommand {
    /// Add a user to the default organization (an existing user keeps their password).
    Add(UserAddArgs),
    /// The organization's users, roles, cost types and accounts.
    List(JsonArg),
    /// Change a user's role, cost types or accounts.
    Grant(GrantArgs),
    /// Remove a user from the organization (their tokens and sessions end).
    Remove {
        /// The user's email.
        email: String,
    },
    /// Set a user's password, read from the first line of standard input.
    Passwd {
        /// The user's email.
        email: String,
    },
}

#[derive(Args)]
pub(crate) struct JsonArg {
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub(crate) struct Membership {
    /// owner, admin, member, viewer, or customer (an MSP customer: sees only --account).
    #[arg(long, default_value = "viewer")]
    role: String,
    /// Cost types the user may see, comma-separated (provider, list, billed, effective) or
    /// `all`. Default: all, or `billed` for a customer.
    #[arg(long)]
    cost_types: Option<String>,
    /// A billing account or sub account a customer sees (repeat for several).
    #[arg(long = "account")]
    accounts: Vec<String>,
}

impl Membership {
    fn parse(&self) -> Result<(Role, Option<CostTypes>)> {
        let role: Role = self.role.parse()?;
        let cost_types = self
            .cost_types
            .as_deref()
            .map(str::parse::<CostTypes>)
            .transpose()?;
        Ok((role, cost_types))
    }
}

#[derive(Args)]
pub(crate) struct UserAddArgs {
    /// The user's email (their login name).
    email: String,
    /// Display name.
    #[arg(long, default_value = "")]
    name: String,
    #[command(flatten)]
    membership: Membership,
    /// Read the password from the first line of standard input (without it the user signs
    /// in with API tokens only until `billow user passwd`).
    #[arg(long)]
    password_stdin: bool,
}

#[derive(Args)]
pub(crate) struct GrantArgs {
    /// The user's email.
    email: String,
    #[command(flatten)]
    membership: Membership,
}

#[derive(Subcommand)]
pub(crate) enum TokenCommand {
    /// Create an API token; its secret is printed once, on standard output.
    Create(TokenCreateArgs),
    /// The organization's tokens (never their secrets).
    List(JsonArg),
    /// Revoke a token by id.
    Revoke {
        /// The token's id (from `billow token list`).
        id: String,
    },
}

#[derive(Args)]
pub(crate) struct TokenCreateArgs {
    /// The user the token acts for.
    #[arg(long)]
    user: String,
    /// What the token is for.
    #[arg(long)]
    name: String,
    /// The strongest role it acts with (never above the user's). Default: the user's role.
    #[arg(long)]
    role: Option<String>,
    /// Days until it expires.
    #[arg(long, default_value_t = 90)]
    days: i64,
    /// Print JSON (the secret included, once).
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
pub(crate) enum KeyCommand {
    /// Show which master key seals the secrets, and where it comes from.
    Show,
    /// Re-seal every secret under a new master key. With the key file, the file is replaced
    /// (the old key kept as master.key.previous). With BILLOW_MASTER_KEY, the new key is
    /// read from BILLOW_NEW_MASTER_KEY, or generated and printed: set BILLOW_MASTER_KEY to it
    /// before the next start.
    Rotate,
}

fn read_password() -> Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    let password = line.trim_end_matches(['\r', '\n']).to_string();
    if password.is_empty() {
        bail!(
            "no password on standard input: echo 'a long passphrase' | billow user ... --password-stdin"
        );
    }
    Ok(password)
}

fn when(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

fn print_json(value: &impl serde::Serialize) -> Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}

fn print_member(m: &billow_store::Member) -> Result<()> {
    let accounts = match &m.accounts {
        billow_store::AccountScope::All => "all".to_string(),
        billow_store::AccountScope::Only(ids) => ids.iter().cloned().collect::<Vec<_>>().join(","),
    };
    writeln!(
        std::io::stdout(),
        "{:32} {:9} {:28} {}{}",
        m.email,
        m.role,
        m.cost_types,
        accounts,
        if m.has_password {
            ""
        } else {
            "  (no password: tokens only)"
        }
    )?;
    Ok(())
}

pub(crate) async fn user(store: &Store, command: UserCommand, quiet: bool) -> Result<()> {
    let owner = store.local_owner().await?;
    match command {
        UserCommand::Add(args) => {
            let (role, cost_types) = args.membership.parse()?;
            let password = args.password_stdin.then(read_password).transpose()?;
            let member = store
                .add_member(
                    &owner,
                    &args.email,
                    &args.name,
                    password.as_deref(),
                    role,
                    cost_types,
                    &args.membership.accounts,
                )
                .await?;
            if !quiet {
                print_member(&member)?;
            }
        }
        UserCommand::List(JsonArg { json }) => {
            let members = store.members(&owner).await?;
            if json {
                print_json(&members)?;
            } else {
                for m in &members {
                    print_member(m)?;
                }
            }
        }
        UserCommand::Grant(args) => {
            let (role, cost_types) = args.membership.parse()?;
            let member = store
                .grant(
                    &owner,
                    &args.email,
                    role,
                    cost_types,
                    &args.membership.accounts,
                )
                .await?;
            if !quiet {
                print_member(&member)?;
            }
        }
        UserCommand::Remove { email } => {
            store.remove_member(&owner, &email).await?;
            if !quiet {
                eprintln!("{email} removed");
            }
        }
        UserCommand::Passwd { email } => {
            let password = read_password()?;
            store.set_password(&owner, &email, &password).await?;
            if !quiet {
                eprintln!("password of {email} set; their sessions ended");
            }
        }
    }
    Ok(())
}

pub(crate) async fn token(store: &Store, command: TokenCommand, quiet: bool) -> Result<()> {
    let owner = store.local_owner().await?;
    match command {
        TokenCommand::Create(args) => {
            let role = args.role.as_deref().map(str::parse::<Role>).transpose()?;
            let (token, secret) = store
                .create_token(&owner, Some(&args.user), &args.name, role, args.days)
                .await?;
            if args.json {
                let mut value = serde_json::to_value(&token)?;
                value["secret"] = secret.into();
                print_json(&value)?;
            } else {
                writeln!(std::io::stdout(), "{secret}")?;
                if !quiet {
                    eprintln!(
                        "token {} for {} ({}, expires {}): the secret above is shown only once",
                        token.id,
                        token.email,
                        token.max_role,
                        when(token.expires_at)
                    );
                }
            }
        }
        TokenCommand::List(JsonArg { json }) => {
            let tokens = store.tokens(&owner, true).await?;
            if json {
                print_json(&tokens)?;
            } else {
                let mut out = std::io::stdout().lock();
                for t in &tokens {
                    let state = match t.revoked_at {
                        Some(at) => format!("revoked {}", when(at)),
                        None => format!("expires {}", when(t.expires_at)),
                    };
                    writeln!(
                        out,
                        "{}  {:28} {:20} {:9} {}",
                        t.id, t.email, t.name, t.max_role, state
                    )?;
                }
            }
        }
        TokenCommand::Revoke { id } => {
            store.revoke(&owner, &id).await?;
            if !quiet {
                eprintln!("token {id} revoked");
            }
        }
    }
    Ok(())
}

pub(crate) async fn key(store: &Store, command: KeyCommand) -> Result<()> {
    let owner = store.local_owner().await?;
    let source = store.master_key_source();
    let describe = |source: &KeySource| match source {
        KeySource::Environment => format!("${}", billow_store::MASTER_KEY_ENV),
        KeySource::File(path) => path.display().to_string(),
        KeySource::Given => "given by the caller".into(),
    };
    match command {
        KeyCommand::Show => {
            writeln!(
                std::io::stdout(),
                "master key {} from {}",
                store.master_key_id(),
                describe(&source)
            )?;
        }
        KeyCommand::Rotate => {
            let (new, generated) = match (&source, std::env::var("BILLOW_NEW_MASTER_KEY")) {
                (KeySource::Environment, Ok(text)) => (
                    MasterKey::parse(&text).context("BILLOW_NEW_MASTER_KEY")?,
                    false,
                ),
                _ => (MasterKey::generate(), true),
            };
            let count = store.rotate_master_key(&owner, new.clone()).await?;
            eprintln!("{count} secrets re-sealed under master key {}", new.id());
            if source == KeySource::Environment {
                if generated {
                    writeln!(std::io::stdout(), "{}", new.encoded())?;
                    eprintln!(
                        "set {} to the key printed above before Billow starts again",
                        billow_store::MASTER_KEY_ENV
                    );
                } else {
                    eprintln!(
                        "set {} to the value of BILLOW_NEW_MASTER_KEY before Billow starts again",
                        billow_store::MASTER_KEY_ENV
                    );
                }
            }
        }
    }
    Ok(())
}

/// Registers in the default organization every lake connection no organization has yet
/// (what the CLI ingested), with the provider of its source format.
pub(crate) async fn adopt_lake_connections(store: &Store, lake: &billow_lake::Lake) -> Result<()> {
    let owner = store.local_owner().await?;
    let batches = lake
        .sql("SELECT connection_id, MIN(source_format) FROM ingestions GROUP BY 1")
        .await?;
    for b in &batches {
        let (ids, formats) = (
            billow_lake::string_column(b, 0)?,
            billow_lake::string_column(b, 1)?,
        );
        for (id, format) in ids.iter().zip(formats.iter()) {
            if let (Some(id), Some(format)) = (id, format) {
                let provider = billow_store::provider_of_source_format(format);
                store.adopt_connection(&owner, id, provider).await?;
            }
        }
    }
    Ok(())
}

pub(crate) async fn audit(store: &Store, limit: i64, json: bool) -> Result<()> {
    let owner = store.local_owner().await?;
    let entries = store.audit_log(&owner, limit, None).await?;
    if json {
        return print_json(&entries);
    }
    let mut out = std::io::stdout().lock();
    for e in entries.iter().rev() {
        writeln!(
            out,
            "{}  {:24} {:18} {} {}",
            when(e.at),
            e.actor,
            e.action,
            e.target,
            e.detail
        )?;
    }
    Ok(())
}
