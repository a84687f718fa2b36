//! Connection secrets, sealed with AES-256-GCM under a master key that never enters the
//! database: `BILLOW_MASTER_KEY` (base64 of 32 bytes), or a key file generated in the data
//! directory with mode 0600. Secrets are write-only: listing shows that a secret is set and
//! its fingerprint, and only a connector that runs a sync unseals one.

use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::model::Permission;
use crate::{Access, Error, Result, Store, now_micros};

/// The environment variable that holds the master key (base64 of 32 random bytes).
pub const MASTER_KEY_ENV: &str = "BILLOW_MASTER_KEY";
/// The key file's name in the data directory when no environment key is given.
pub const KEY_FILE: &str = "master.key";
/// A rotation's new key, written before any secret is re-sealed with it.
const NEXT_KEY_FILE: &str = "master.key.next";
/// The key a finished rotation replaced, kept until the next rotation.
const PREVIOUS_KEY_FILE: &str = "master.key.previous";

/// One AES-256 key and its id (the first 16 hex digits of its SHA-256, stored beside each
/// sealed secret so the right key is known and a wrong one is named).
#[derive(Clone)]
pub struct MasterKey {
    id: String,
    cipher: Aes256Gcm,
    encoded: String,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MasterKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl MasterKey {
    /// A new random key.
    pub fn generate() -> MasterKey {
        let key = Aes256Gcm::generate_key(OsRng);
        MasterKey::from_bytes(key.as_slice())
    }

    fn from_bytes(bytes: &[u8]) -> MasterKey {
        let key = Key::<Aes256Gcm>::from_slice(bytes);
        MasterKey {
            id: hex::encode(&Sha256::digest(bytes)[..8]),
            cipher: Aes256Gcm::new(key),
            encoded: BASE64.encode(bytes),
        }
    }

    /// Parses base64 of exactly 32 bytes (what [`MasterKey::encoded`] gives).
    pub fn parse(text: &str) -> Result<MasterKey> {
        let bytes = BASE64.decode(text.trim()).map_err(|_| {
            Error::MasterKey(
                "not base64; generate a key with `head -c 32 /dev/urandom | base64`".into(),
            )
        })?;
        if bytes.len() != 32 {
            return Err(Error::MasterKey(format!(
                "{} bytes; AES-256 needs exactly 32 (`head -c 32 /dev/urandom | base64`)",
                bytes.len()
            )));
        }
        Ok(MasterKey::from_bytes(&bytes))
    }

    /// The key's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The key as base64, to hand to the operator once (a rotation of an environment key).
    pub fn encoded(&self) -> &str {
        &self.encoded
    }
}

/// Where the current master key comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// The `BILLOW_MASTER_KEY` environment variable.
    Environment,
    /// A key file in the data directory.
    File(PathBuf),
    /// Given by the caller (tests, embedding).
    Given,
}

/// The current master key, and the keys of an unfinished or just finished rotation, which
/// can still open secrets sealed before it.
#[derive(Debug, Clone)]
pub struct Keyring {
    current: MasterKey,
    others: Vec<MasterKey>,
    source: KeySource,
}

fn read_key_file(path: &Path) -> Result<Option<MasterKey>> {
    match std::fs::read_to_string(path) {
        Ok(text) => MasterKey::parse(&text)
            .map(Some)
            .map_err(|e| Error::MasterKey(format!("{}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(Error::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Writes a key file readable by its owner only, atomically (temporary file, fsync, rename).
fn write_key_file(path: &Path, key: &MasterKey) -> Result<()> {
    use std::io::Write;
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let temporary = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&temporary).map_err(io)?;
    file.write_all(key.encoded.as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)?;
    std::fs::rename(&temporary, path).map_err(io)
}

impl Keyring {
    /// The key from `BILLOW_MASTER_KEY`, or else the data directory's key file (generated,
    /// mode 0600, when missing), plus any keys a rotation left beside it.
    pub fn load(data_dir: &Path) -> Result<Keyring> {
        let mut others = Vec::new();
        for name in [NEXT_KEY_FILE, PREVIOUS_KEY_FILE] {
            others.extend(read_key_file(&data_dir.join(name))?);
        }
        if let Ok(text) = std::env::var(MASTER_KEY_ENV) {
            let current = MasterKey::parse(&text)
                .map_err(|e| Error::MasterKey(format!("{MASTER_KEY_ENV}: {e}")))?;
            return Ok(Keyring {
                current,
                others,
                source: KeySource::Environment,
            });
        }
        let path = data_dir.join(KEY_FILE);
        let current = match read_key_file(&path)? {
            Some(key) => {
                #[cfg(unix)]
                {
                    use std::os::unix::fs::PermissionsExt;
                    let mode = std::fs::metadata(&path)
                        .map_err(|source| Error::Io {
                            path: path.clone(),
                            source,
                        })?
                        .permissions()
                        .mode();
                    if mode & 0o077 != 0 {
                        tracing::warn!(
                            path = %path.display(),
                            "the master key file is readable by others; run chmod 600 on it"
                        );
                    }
                }
                key
            }
            None => {
                std::fs::create_dir_all(data_dir).map_err(|source| Error::Io {
                    path: data_dir.to_path_buf(),
                    source,
                })?;
                let key = MasterKey::generate();
                write_key_file(&path, &key)?;
                key
            }
        };
        Ok(Keyring {
            current,
            others,
            source: KeySource::File(path),
        })
    }

    /// A keyring of one given key.
    pub fn with_key(key: MasterKey) -> Keyring {
        Keyring {
            current: key,
            others: Vec::new(),
            source: KeySource::Given,
        }
    }

    /// The key new secrets are sealed with.
    pub fn current(&self) -> &MasterKey {
        &self.current
    }

    /// Where the current key comes from.
    pub fn source(&self) -> &KeySource {
        &self.source
    }

    fn key(&self, id: &str) -> Option<&MasterKey> {
        std::iter::once(&self.current)
            .chain(&self.others)
            .find(|k| k.id == id)
    }
}

/// A secret as listed: never its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecretInfo {
    /// The secret's name (`secret_access_key`, `private_key`…).
    pub name: String,
    /// `sha256:` and the first 12 hex digits of a salted SHA-256 of the value: enough to
    /// tell whether two secrets are the same, not to recover or test guesses of a key.
    pub fingerprint: String,
    /// Set or replaced, µs since the epoch.
    pub updated_at: i64,
}

/// An unsealed secret value. Its `Debug` does not show it, so it cannot reach a log by a
/// stray `{:?}`.
pub struct Revealed(String);

impl Revealed {
    /// The value.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Revealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Revealed(<redacted>)")
    }
}

fn fingerprint(value: &str) -> String {
    let digest = Sha256::new()
        .chain_update(b"billow secret fingerprint\0")
        .chain_update(value.as_bytes())
        .finalize();
    format!("sha256:{}", &hex::encode(digest)[..12])
}

/// The associated data binds a sealed value to its row: moving a ciphertext to another
/// connection or name makes it fail to open.
fn associated_data(org_id: &str, connection_id: &str, name: &str) -> Vec<u8> {
    [org_id, connection_id, name].join("\0").into_bytes()
}

struct Sealed {
    key_id: String,
    nonce: String,
    ciphertext: String,
}

fn seal(key: &MasterKey, aad: &[u8], value: &str) -> Result<Sealed> {
    let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
    let ciphertext = key
        .cipher
        .encrypt(
            &nonce,
            Payload {
                msg: value.as_bytes(),
                aad,
            },
        )
        .map_err(|_| Error::MasterKey("encryption failed".into()))?;
    Ok(Sealed {
        key_id: key.id.clone(),
        nonce: BASE64.encode(nonce),
        ciphertext: BASE64.encode(ciphertext),
    })
}

fn unseal(
    keyring: &Keyring,
    aad: &[u8],
    sealed: &Sealed,
) -> std::result::Result<String, &'static str> {
    let key = keyring
        .key(&sealed.key_id)
        .ok_or("it was sealed with another master key (see `billow secrets key`)")?;
    let nonce = BASE64.decode(&sealed.nonce).map_err(|_| "damaged nonce")?;
    if nonce.len() != 12 {
        return Err("damaged nonce");
    }
    let ciphertext = BASE64
        .decode(&sealed.ciphertext)
        .map_err(|_| "damaged ciphertext")?;
    let plain = key
        .cipher
        .decrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: &ciphertext,
                aad,
            },
        )
        .map_err(|_| "authentication failed (damaged or moved row)")?;
    String::from_utf8(plain).map_err(|_| "not text")
}

impl Store {
    fn keyring(&self) -> Keyring {
        // A poisoned lock means a panic mid-rotation; the keyring itself is still whole.
        match self.keyring.read() {
            Ok(k) => k.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Id of the master key new secrets are sealed with.
    pub fn master_key_id(&self) -> String {
        self.keyring().current.id.clone()
    }

    /// Where the master key comes from.
    pub fn master_key_source(&self) -> KeySource {
        self.keyring().source.clone()
    }

    /// Sets (or replaces) a secret of one of the caller's connections.
    pub async fn set_secret(
        &self,
        access: &Access,
        connection: &str,
        name: &str,
        value: &str,
    ) -> Result<SecretInfo> {
        access.require(Permission::ManageConnections)?;
        let connection = self.connection(access, connection).await?;
        let name = name.trim();
        if name.is_empty()
            || name.len() > 64
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(Error::invalid(
                "name",
                "a secret's name is 1 to 64 letters, digits, '_' or '-'",
            ));
        }
        if value.is_empty() || value.len() > 64 * 1024 {
            return Err(Error::invalid("value", "a secret is 1 byte to 64 KiB"));
        }
        let sealed = seal(
            self.keyring().current(),
            &associated_data(&access.org_id, &connection.id, name),
            value,
        )?;
        let info = SecretInfo {
            name: name.to_string(),
            fingerprint: fingerprint(value),
            updated_at: now_micros(),
        };
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM secrets WHERE connection_id = $1 AND name = $2")
            .bind(&connection.id)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO secrets (org_id, connection_id, name, key_id, nonce, ciphertext, \
             fingerprint, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&access.org_id)
        .bind(&connection.id)
        .bind(name)
        .bind(&sealed.key_id)
        .bind(&sealed.nonce)
        .bind(&sealed.ciphertext)
        .bind(&info.fingerprint)
        .bind(info.updated_at)
        .execute(&mut *tx)
        .await?;
        crate::audit::record(
            &mut tx,
            access,
            "secret.set",
            &format!("{}/{name}", connection.name),
            serde_json::json!({"fingerprint": info.fingerprint}),
        )
        .await?;
        tx.commit().await?;
        Ok(info)
    }

    /// The secrets a connection has: names and fingerprints, never values.
    pub async fn secrets(&self, access: &Access, connection: &str) -> Result<Vec<SecretInfo>> {
        access.require(Permission::ReadConnections)?;
        let connection = self.connection(access, connection).await?;
        let rows = sqlx::query(
            "SELECT name, fingerprint, updated_at FROM secrets \
             WHERE org_id = $1 AND connection_id = $2 ORDER BY name",
        )
        .bind(&access.org_id)
        .bind(&connection.id)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(SecretInfo {
                    name: r.try_get(0)?,
                    fingerprint: r.try_get(1)?,
                    updated_at: r.try_get(2)?,
                })
            })
            .collect()
    }

    /// Unseals a secret for a connector about to use it. Never for display.
    pub async fn reveal_secret(
        &self,
        access: &Access,
        connection: &str,
        name: &str,
    ) -> Result<Revealed> {
        access.require(Permission::RunIngestion)?;
        let connection = self.connection(access, connection).await?;
        let row = sqlx::query(
            "SELECT key_id, nonce, ciphertext FROM secrets \
             WHERE org_id = $1 AND connection_id = $2 AND name = $3",
        )
        .bind(&access.org_id)
        .bind(&connection.id)
        .bind(name)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| {
            Error::not_found(format!("secret {name} of connection {}", connection.name))
        })?;
        let sealed = Sealed {
            key_id: row.try_get(0)?,
            nonce: row.try_get(1)?,
            ciphertext: row.try_get(2)?,
        };
        unseal(
            &self.keyring(),
            &associated_data(&access.org_id, &connection.id, name),
            &sealed,
        )
        .map(Revealed)
        .map_err(|reason| Error::Unseal {
            connection: connection.name.clone(),
            name: name.to_string(),
            reason,
        })
    }

    /// Re-seals every secret of every organization under `new` in one transaction, then
    /// makes it the current key. With a key file, the new key is written first as
    /// `master.key.next` and becomes `master.key` after the commit (the old one stays as
    /// `master.key.previous`), so a crash at any point leaves every secret openable. With
    /// `BILLOW_MASTER_KEY`, the operator sets the variable to the new key afterwards.
    /// Returns how many secrets were re-sealed.
    pub async fn rotate_master_key(&self, access: &Access, new: MasterKey) -> Result<usize> {
        access.require(Permission::RotateKeys)?;
        if !matches!(access.via, crate::Via::Local) {
            return Err(Error::Forbidden {
                role: access.role,
                permission: Permission::RotateKeys,
            });
        }
        let mut keyring = self.keyring();
        if let KeySource::File(path) = keyring.source() {
            write_key_file(&path.with_file_name(NEXT_KEY_FILE), &new)?;
        }
        keyring.others.push(new.clone());
        let mut tx = self.begin().await?;
        let rows = sqlx::query(
            "SELECT org_id, connection_id, name, key_id, nonce, ciphertext FROM secrets",
        )
        .fetch_all(&mut *tx)
        .await?;
        let mut count = 0;
        for r in rows {
            let (org_id, connection_id, name): (String, String, String) =
                (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?);
            let sealed = Sealed {
                key_id: r.try_get(3)?,
                nonce: r.try_get(4)?,
                ciphertext: r.try_get(5)?,
            };
            let aad = associated_data(&org_id, &connection_id, &name);
            let value = unseal(&keyring, &aad, &sealed).map_err(|reason| Error::Unseal {
                connection: connection_id.clone(),
                name: name.clone(),
                reason,
            })?;
            let resealed = seal(&new, &aad, &value)?;
            sqlx::query(
                "UPDATE secrets SET key_id = $1, nonce = $2, ciphertext = $3 \
                 WHERE connection_id = $4 AND name = $5",
            )
            .bind(&resealed.key_id)
            .bind(&resealed.nonce)
            .bind(&resealed.ciphertext)
            .bind(&connection_id)
            .bind(&name)
            .execute(&mut *tx)
            .await?;
            count += 1;
        }
        crate::audit::record(
            &mut tx,
            access,
            "key.rotate",
            new.id(),
            serde_json::json!({"secrets": count, "previous": keyring.current.id}),
        )
        .await?;
        tx.commit().await?;
        if let KeySource::File(path) = keyring.source() {
            let io = |source| Error::Io {
                path: path.clone(),
                source,
            };
            std::fs::rename(path, path.with_file_name(PREVIOUS_KEY_FILE)).map_err(io)?;
            std::fs::rename(path.with_file_name(NEXT_KEY_FILE), path).map_err(io)?;
        }
        let previous = std::mem::replace(&mut keyring.current, new);
        keyring.others.retain(|k| k.id != keyring.current.id);
        keyring.others.push(previous);
        match self.keyring.write() {
            Ok(mut k) => *k = keyring,
            Err(poisoned) => *poisoned.into_inner() = keyring,
        }
        Ok(count)
    }
}
