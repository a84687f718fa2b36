use billow_store::{
    AccountScope, CostType, CostTypes, Error, Keyring, MasterKey, Permission, Role, Store, Via,
};

use crate::harness::{Db, on_every_backend, test_key};

const PASSWORD: &str = "correct horse battery";

fn cost_types(s: &str) -> Option<CostTypes> {
    Some(s.parse().unwrap())
}

/// Opening an existing database runs no migration twice and keeps what is in it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn migrations_run_once_and_data_survives_reopening() {
    on_every_backend(|db: Db| async move {
        let store = db.store().await;
        let owner = store.local_owner().await.unwrap();
        store
            .create_connection(
                &owner,
                "aws-main",
                "aws",
                serde_json::json!({"bucket": "b"}),
            )
            .await
            .unwrap();
        store.close().await;
        let again = db.store().await;
        let owner2 = again.local_owner().await.unwrap();
        assert_eq!(owner.org_id, owner2.org_id, "{}", db.name());
        let names: Vec<String> = again
            .connections(&owner2)
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.name)
            .collect();
        assert_eq!(names, ["aws-main"]);
        again.close().await;
    })
    .await;
}

/// Roles: who may add whom, an Admin never makes Owners, the last Owner stays, customers
/// need accounts, and nobody grants a cost type they cannot see.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn members_get_roles_within_the_granters_rights() {
    on_every_backend(|db: Db| async move {
        let store = db.store().await;
        let local = store.local_owner().await.unwrap();
        let ana = store
            .add_member(
                &local,
                "Ana@Example.com",
                "Ana",
                Some(PASSWORD),
                Role::Owner,
                None,
                &[],
            )
            .await
            .unwrap();
        assert_eq!(ana.email, "ana@example.com");
        assert_eq!(ana.cost_types, CostTypes::ALL);
        assert!(ana.has_password);
        store
            .add_member(
                &local,
                "bo@example.com",
                "Bo",
                Some(PASSWORD),
                Role::Admin,
                None,
                &[],
            )
            .await
            .unwrap();
        let (bo, _) = store.login("bo@example.com", PASSWORD, None).await.unwrap();
        assert_eq!(bo.role, Role::Admin);

        // An Admin adds Viewers but never Owners.
        store
            .add_member(
                &bo,
                "cy@example.com",
                "",
                Some(PASSWORD),
                Role::Viewer,
                None,
                &[],
            )
            .await
            .unwrap();
        let e = store
            .add_member(&bo, "dee@example.com", "", None, Role::Owner, None, &[])
            .await
            .unwrap_err();
        assert!(
            matches!(
                e,
                Error::Forbidden {
                    permission: Permission::ManageOwners,
                    ..
                }
            ),
            "{e}"
        );
        let e = store
            .grant(&bo, "ana@example.com", Role::Viewer, None, &[])
            .await
            .unwrap_err();
        assert!(matches!(e, Error::Forbidden { .. }), "{e}");

        // A Viewer manages nobody.
        let (cy, _) = store.login("cy@example.com", PASSWORD, None).await.unwrap();
        let e = store.members(&cy).await.unwrap_err();
        assert!(
            matches!(
                e,
                Error::Forbidden {
                    role: Role::Viewer,
                    ..
                }
            ),
            "{e}"
        );
        assert_eq!(
            store.member(&cy, "cy@example.com").await.unwrap().role,
            Role::Viewer
        );

        // A customer sees only its accounts, and Billed cost unless granted more.
        let e = store
            .add_member(&bo, "acme@example.com", "", None, Role::Customer, None, &[])
            .await
            .unwrap_err();
        assert!(
            matches!(
                e,
                Error::Invalid {
                    field: "accounts",
                    ..
                }
            ),
            "{e}"
        );
        let acme = store
            .add_member(
                &bo,
                "acme@example.com",
                "Acme",
                Some(PASSWORD),
                Role::Customer,
                None,
                &["111122223333".into(), "444455556666".into()],
            )
            .await
            .unwrap();
        assert_eq!(
            acme.cost_types.iter().collect::<Vec<_>>(),
            [CostType::Billed]
        );
        let (acme, _) = store
            .login("acme@example.com", PASSWORD, None)
            .await
            .unwrap();
        assert!(acme.sees(CostType::Billed) && !acme.sees(CostType::Provider));
        assert!(acme.accounts.allows("111122223333", None));
        assert!(acme.accounts.allows("999", Some("444455556666")));
        assert!(!acme.accounts.allows("999", Some("777")));
        let e = store
            .add_member(
                &bo,
                "eve@example.com",
                "",
                None,
                Role::Viewer,
                None,
                &["1".into()],
            )
            .await
            .unwrap_err();
        assert!(
            matches!(
                e,
                Error::Invalid {
                    field: "accounts",
                    ..
                }
            ),
            "{e}"
        );

        // Someone who sees only Billed cannot grant Provider (here: Bo limited to billed).
        store
            .grant(
                &local,
                "bo@example.com",
                Role::Admin,
                cost_types("billed,effective"),
                &[],
            )
            .await
            .unwrap();
        let (bo, _) = store.login("bo@example.com", PASSWORD, None).await.unwrap();
        let e = store
            .grant(
                &bo,
                "cy@example.com",
                Role::Viewer,
                cost_types("provider"),
                &[],
            )
            .await
            .unwrap_err();
        assert!(
            matches!(
                e,
                Error::Invalid {
                    field: "cost_types",
                    ..
                }
            ),
            "{e}"
        );

        // The last Owner stays an Owner.
        let e = store
            .grant(&local, "ana@example.com", Role::Admin, None, &[])
            .await
            .unwrap_err();
        assert!(e.to_string().contains("last owner"), "{e}");
        let e = store
            .remove_member(&local, "ana@example.com")
            .await
            .unwrap_err();
        assert!(e.to_string().contains("last owner"), "{e}");

        let members = store.members(&local).await.unwrap();
        let summary: Vec<(String, Role)> =
            members.iter().map(|m| (m.email.clone(), m.role)).collect();
        assert_eq!(
            summary,
            [
                ("acme@example.com".to_string(), Role::Customer),
                ("ana@example.com".to_string(), Role::Owner),
                ("bo@example.com".to_string(), Role::Admin),
                ("cy@example.com".to_string(), Role::Viewer),
            ],
            "{}",
            db.name()
        );
        store.close().await;
    })
    .await;
}

/// Tokens act with the lower of their cap and the member's current role, and stop working
/// when revoked, expired, or when the member leaves; sessions end when the password changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn credentials_follow_the_membership() {
    on_every_backend(|db: Db| async move {
        let store = db.store().await;
        let local = store.local_owner().await.unwrap();
        store
            .add_member(
                &local,
                "bo@example.com",
                "Bo",
                Some(PASSWORD),
                Role::Admin,
                None,
                &[],
            )
            .await
            .unwrap();

        // Wrong passwords and unknown emails get the same answer.
        for (email, password) in [
            ("bo@example.com", "wrong password!"),
            ("nobody@example.com", PASSWORD),
        ] {
            let e = store.login(email, password, None).await.unwrap_err();
            assert_eq!(e.to_string(), "not authenticated: wrong email or password");
        }
        let (bo, session) = store.login("bo@example.com", PASSWORD, None).await.unwrap();
        assert!(matches!(bo.via, Via::Session(_)));
        assert!(session.starts_with("billow_"));

        let (full, full_secret) = store.create_token(&bo, None, "ci", None, 30).await.unwrap();
        assert_eq!(full.max_role, Role::Admin);
        let (_, read_secret) = store
            .create_token(&bo, None, "dashboards", Some(Role::Viewer), 30)
            .await
            .unwrap();
        assert_eq!(
            store.authenticate(&full_secret).await.unwrap().role,
            Role::Admin
        );
        let reader = store.authenticate(&read_secret).await.unwrap();
        assert_eq!(reader.role, Role::Viewer);
        assert!(reader.require(Permission::ManageConnections).is_err());
        let e = store
            .create_token(&bo, None, "too strong", Some(Role::Owner), 30)
            .await
            .unwrap_err();
        assert!(matches!(e, Error::Invalid { field: "role", .. }), "{e}");
        let e = store
            .create_token(&bo, None, "forever", None, 10_000)
            .await
            .unwrap_err();
        assert!(matches!(e, Error::Invalid { field: "days", .. }), "{e}");

        // The listing never carries a secret.
        let listed = serde_json::to_string(&store.tokens(&bo, false).await.unwrap()).unwrap();
        assert!(!listed.contains(&full_secret[7..]) && listed.contains("dashboards"));

        // Lowering Bo's role lowers every token at once.
        store
            .grant(&local, "bo@example.com", Role::Viewer, None, &[])
            .await
            .unwrap();
        assert_eq!(
            store.authenticate(&full_secret).await.unwrap().role,
            Role::Viewer
        );

        // Revoked, expired, unknown: refused the same way.
        store.revoke(&local, &full.id).await.unwrap();
        assert!(matches!(
            store.authenticate(&full_secret).await,
            Err(Error::Unauthenticated(_))
        ));
        let raw = db.raw().await;
        sqlx::query("UPDATE credentials SET expires_at = 1 WHERE name = 'dashboards'")
            .execute(&raw)
            .await
            .unwrap();
        assert!(store.authenticate(&read_secret).await.is_err());
        assert!(store.authenticate("billow_unknown").await.is_err());
        assert!(store.authenticate("Bearer nonsense").await.is_err());

        // A new password ends sessions; leaving the organization ends tokens.
        assert!(store.authenticate(&session).await.is_ok());
        store
            .set_password(&local, "bo@example.com", "another long passphrase")
            .await
            .unwrap();
        assert!(store.authenticate(&session).await.is_err());
        let (_, session) = store
            .login("bo@example.com", "another long passphrase", None)
            .await
            .unwrap();
        let (_, last) = store
            .create_token(&local, Some("bo@example.com"), "made by the owner", None, 1)
            .await
            .unwrap();
        assert!(store.authenticate(&last).await.is_ok());
        store.remove_member(&local, "bo@example.com").await.unwrap();
        assert!(store.authenticate(&last).await.is_err());
        assert!(store.authenticate(&session).await.is_err());

        let e = store
            .set_password(&local, "bo@example.com", "short")
            .await
            .unwrap_err();
        assert!(matches!(e, Error::NotFound { .. }), "{e}");
        raw.close().await;
        store.close().await;
    })
    .await;
}

/// One organization never sees another's connections, members, secrets or audit entries,
/// whatever id it names, and its cost scope is its own connections.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn organizations_are_isolated() {
    on_every_backend(|db: Db| async move {
        let store = db.store().await;
        let local = store.local_owner().await.unwrap();
        let other = store.create_organization("globex").await.unwrap();
        // The local CLI bootstraps the other organization's first owner through the store
        // as that organization's operator would.
        let globex_operator = billow_store::Access {
            org_id: other.id.clone(),
            ..local.clone()
        };
        store
            .add_member(
                &globex_operator,
                "gus@globex.com",
                "Gus",
                Some(PASSWORD),
                Role::Owner,
                None,
                &[],
            )
            .await
            .unwrap();
        let (gus, _) = store.login("gus@globex.com", PASSWORD, None).await.unwrap();
        assert_eq!(gus.org_id, other.id);

        let mine = store
            .create_connection(&local, "aws", "aws", serde_json::json!({}))
            .await
            .unwrap();
        store
            .set_secret(&local, "aws", "secret_access_key", "AKIAsecretvalue123")
            .await
            .unwrap();
        // The same name in the other organization gets its own lake id.
        let theirs = store
            .create_connection(&gus, "aws", "aws", serde_json::json!({}))
            .await
            .unwrap();
        assert_eq!(mine.id, "aws");
        assert_ne!(theirs.id, mine.id);
        assert!(theirs.id.starts_with("aws-"));

        assert_eq!(
            store.connection_ids(&gus).await.unwrap(),
            std::slice::from_ref(&theirs.id)
        );
        assert_eq!(store.connection_ids(&local).await.unwrap(), ["aws"]);
        // Names resolve within the caller's organization: "aws" is Gus's own.
        assert_eq!(store.connection(&gus, "aws").await.unwrap().id, theirs.id);
        assert!(store.secrets(&gus, "aws").await.unwrap().is_empty());
        // Another organization's connection is "not found" by name and by id, for reading,
        // secrets and deletion alike.
        let azure = store
            .create_connection(&local, "azure-ea", "azure", serde_json::json!({}))
            .await
            .unwrap();
        store
            .set_secret(&local, "azure-ea", "client_secret", "s3cr3t-value")
            .await
            .unwrap();
        for name_or_id in [azure.id.as_str(), "azure-ea"] {
            assert!(matches!(
                store.connection(&gus, name_or_id).await,
                Err(Error::NotFound { .. })
            ));
            assert!(matches!(
                store.secrets(&gus, name_or_id).await,
                Err(Error::NotFound { .. })
            ));
            assert!(matches!(
                store
                    .set_secret(&gus, name_or_id, "client_secret", "overwrite")
                    .await,
                Err(Error::NotFound { .. })
            ));
            assert!(matches!(
                store.reveal_secret(&gus, name_or_id, "client_secret").await,
                Err(Error::NotFound { .. })
            ));
            assert!(matches!(
                store.delete_connection(&gus, name_or_id).await,
                Err(Error::NotFound { .. })
            ));
        }
        assert_eq!(
            store
                .reveal_secret(&local, "azure-ea", "client_secret")
                .await
                .unwrap()
                .expose(),
            "s3cr3t-value"
        );
        assert!(matches!(
            store.member(&gus, "gus@globex.com").await,
            Ok(m) if m.role == Role::Owner
        ));
        assert!(
            store
                .members(&gus)
                .await
                .unwrap()
                .iter()
                .all(|m| m.email == "gus@globex.com")
        );
        assert!(
            store
                .audit_log(&gus, 100, None)
                .await
                .unwrap()
                .iter()
                .all(|e| e.actor != "local" || e.action == "member.add")
        );
        assert!(
            store
                .audit_log(&local, 100, None)
                .await
                .unwrap()
                .iter()
                .all(|e| e.target != "gus@globex.com")
        );
        // A revoke of another organization's credential id is "not found".
        let (t, _) = store.create_token(&gus, None, "x", None, 1).await.unwrap();
        assert!(matches!(
            store.revoke(&local, &t.id).await,
            Err(Error::NotFound { .. })
        ));
        store.close().await;
    })
    .await;
}

/// Secrets are sealed (the value is nowhere in the database, listing shows a fingerprint),
/// bound to their row, opened only with the right key, and survive a key rotation.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn secrets_are_sealed_write_only_and_rotate() {
    on_every_backend(|db: Db| async move {
        const VALUE: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
        let store = db.store().await;
        let local = store.local_owner().await.unwrap();
        store
            .create_connection(&local, "aws", "aws", serde_json::json!({}))
            .await
            .unwrap();
        store
            .create_connection(&local, "gcp", "gcp", serde_json::json!({}))
            .await
            .unwrap();
        let info = store
            .set_secret(&local, "aws", "secret_access_key", VALUE)
            .await
            .unwrap();
        assert!(info.fingerprint.starts_with("sha256:") && info.fingerprint.len() == 19);
        let listed = store.secrets(&local, "aws").await.unwrap();
        assert_eq!(listed, std::slice::from_ref(&info));
        assert!(!serde_json::to_string(&listed).unwrap().contains(VALUE));
        assert_eq!(
            store
                .reveal_secret(&local, "aws", "secret_access_key")
                .await
                .unwrap()
                .expose(),
            VALUE
        );
        assert_eq!(
            format!(
                "{:?}",
                store
                    .reveal_secret(&local, "aws", "secret_access_key")
                    .await
                    .unwrap()
            ),
            "Revealed(<redacted>)"
        );
        let dump = db.dump().await;
        assert!(
            dump.contains("secret_access_key"),
            "the dump reads the secrets table"
        );
        assert!(
            !dump.contains(VALUE),
            "{}: the secret is stored in clear",
            db.name()
        );
        assert!(!dump.contains(&VALUE[..16]));

        // A sealed value moved to another connection does not open.
        let raw = db.raw().await;
        sqlx::query("UPDATE secrets SET connection_id = 'gcp' WHERE connection_id = 'aws'")
            .execute(&raw)
            .await
            .unwrap();
        let e = store
            .reveal_secret(&local, "gcp", "secret_access_key")
            .await
            .unwrap_err();
        assert!(e.to_string().contains("authentication failed"), "{e}");
        sqlx::query("UPDATE secrets SET connection_id = 'aws' WHERE connection_id = 'gcp'")
            .execute(&raw)
            .await
            .unwrap();

        // Another key opens nothing, and says which key is missing.
        let stranger = Store::open(&db.url, Keyring::with_key(MasterKey::generate()))
            .await
            .unwrap();
        let stranger_owner = stranger.local_owner().await.unwrap();
        let e = stranger
            .reveal_secret(&stranger_owner, "aws", "secret_access_key")
            .await
            .unwrap_err();
        assert!(e.to_string().contains("another master key"), "{e}");
        stranger.close().await;

        // Viewers see that a secret is set, never its value.
        store
            .add_member(
                &local,
                "cy@example.com",
                "",
                Some(PASSWORD),
                Role::Viewer,
                None,
                &[],
            )
            .await
            .unwrap();
        let (cy, _) = store.login("cy@example.com", PASSWORD, None).await.unwrap();
        assert_eq!(store.secrets(&cy, "aws").await.unwrap().len(), 1);
        assert!(matches!(
            store.reveal_secret(&cy, "aws", "secret_access_key").await,
            Err(Error::Forbidden { .. })
        ));
        assert!(store.set_secret(&cy, "aws", "x", "y").await.is_err());

        // Rotation re-seals every secret; only the local Owner may rotate.
        let next = MasterKey::generate();
        assert!(store.rotate_master_key(&cy, next.clone()).await.is_err());
        assert_eq!(
            store.rotate_master_key(&local, next.clone()).await.unwrap(),
            1
        );
        assert_eq!(store.master_key_id(), next.id());
        let key_ids: Vec<String> = sqlx::query_scalar("SELECT key_id FROM secrets")
            .fetch_all(&raw)
            .await
            .unwrap();
        assert_eq!(key_ids, [next.id().to_string()]);
        let rotated = Store::open(&db.url, Keyring::with_key(next)).await.unwrap();
        let owner = rotated.local_owner().await.unwrap();
        assert_eq!(
            rotated
                .reveal_secret(&owner, "aws", "secret_access_key")
                .await
                .unwrap()
                .expose(),
            VALUE
        );
        let old = Store::open(&db.url, Keyring::with_key(test_key()))
            .await
            .unwrap();
        assert!(
            old.reveal_secret(&owner, "aws", "secret_access_key")
                .await
                .is_err()
        );
        let audit = store.audit_log(&local, 100, None).await.unwrap();
        assert!(audit.iter().any(|e| e.action == "key.rotate"));
        assert!(!serde_json::to_string(&audit).unwrap().contains(VALUE));
        for s in [rotated, old, store] {
            s.close().await;
        }
        raw.close().await;
    })
    .await;
}

/// The key file: generated with mode 0600 on first use, reused after, replaced by a
/// rotation with the old key kept beside it; a malformed key is refused with what to do.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_key_file_is_private_and_rotation_moves_it() {
    let dir = tempfile::tempdir().unwrap();
    let ring = Keyring::load(dir.path()).unwrap();
    let path = dir.path().join(billow_store::KEY_FILE);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert_eq!(ring.source(), &billow_store::KeySource::File(path.clone()));
    let first = ring.current().id().to_string();
    assert_eq!(Keyring::load(dir.path()).unwrap().current().id(), first);

    let store = Store::open(&Store::sqlite_url(dir.path()), ring)
        .await
        .unwrap();
    let local = store.local_owner().await.unwrap();
    store
        .create_connection(&local, "do", "digitalocean", serde_json::json!({}))
        .await
        .unwrap();
    store
        .set_secret(&local, "do", "token", "dop_v1_abc")
        .await
        .unwrap();
    let next = MasterKey::generate();
    store.rotate_master_key(&local, next.clone()).await.unwrap();
    let reloaded = Keyring::load(dir.path()).unwrap();
    assert_eq!(reloaded.current().id(), next.id());
    assert!(dir.path().join("master.key.previous").exists());
    assert!(!dir.path().join("master.key.next").exists());
    let again = Store::open(&Store::sqlite_url(dir.path()), reloaded)
        .await
        .unwrap();
    let local = again.local_owner().await.unwrap();
    assert_eq!(
        again
            .reveal_secret(&local, "do", "token")
            .await
            .unwrap()
            .expose(),
        "dop_v1_abc"
    );

    std::fs::write(&path, "not a key").unwrap();
    let e = Keyring::load(dir.path()).unwrap_err();
    assert!(
        e.to_string().contains("master.key") && e.to_string().contains("base64"),
        "{e}"
    );
    std::fs::write(&path, "c2hvcnQ=").unwrap();
    let e = Keyring::load(dir.path()).unwrap_err();
    assert!(e.to_string().contains("exactly 32"), "{e}");
}

/// Changes are in the audit log with who made them and never a secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn changes_are_audited() {
    on_every_backend(|db: Db| async move {
        let store = db.store().await;
        let local = store.local_owner().await.unwrap();
        store
            .add_member(
                &local,
                "ana@example.com",
                "Ana",
                Some(PASSWORD),
                Role::Admin,
                None,
                &[],
            )
            .await
            .unwrap();
        let (ana, _) = store
            .login("ana@example.com", PASSWORD, None)
            .await
            .unwrap();
        store
            .create_connection(&ana, "oci", "oci", serde_json::json!({"tenancy": "t"}))
            .await
            .unwrap();
        store
            .set_secret(&ana, "oci", "private_key", "-----BEGIN PRIVATE KEY-----x")
            .await
            .unwrap();
        store.delete_connection(&ana, "oci").await.unwrap();
        let log = store.audit_log(&local, 10, None).await.unwrap();
        let actions: Vec<(&str, &str)> = log
            .iter()
            .map(|e| (e.actor.as_str(), e.action.as_str()))
            .collect();
        assert_eq!(
            actions,
            [
                ("ana@example.com", "connection.delete"),
                ("ana@example.com", "secret.set"),
                ("ana@example.com", "connection.create"),
                ("ana@example.com", "session.login"),
                ("local", "member.add"),
            ]
        );
        assert!(
            !serde_json::to_string(&log)
                .unwrap()
                .contains("BEGIN PRIVATE KEY")
        );
        assert!(store.audit_log(&ana, 10, None).await.is_ok());
        assert!(matches!(
            store.connections(&ana).await.map(|c| c.len()),
            Ok(0)
        ));
        assert_eq!(
            AccountScope::All,
            store
                .member(&local, "ana@example.com")
                .await
                .unwrap()
                .accounts
        );
        store.close().await;
    })
    .await;
}

/// Many writers at once (a server's concurrent requests) all succeed: on SQLite no
/// transaction fails with "database is locked".
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_all_succeed() {
    on_every_backend(|db: Db| async move {
        let store = db.store().await;
        let local = store.local_owner().await.unwrap();
        let mut tasks = Vec::new();
        for i in 0..16 {
            let (store, local) = (store.clone(), local.clone());
            tasks.push(tokio::spawn(async move {
                store
                    .add_member(
                        &local,
                        &format!("u{i}@example.com"),
                        "",
                        None,
                        Role::Viewer,
                        None,
                        &[],
                    )
                    .await?;
                store
                    .create_connection(&local, &format!("c{i}"), "aws", serde_json::json!({}))
                    .await?;
                store
                    .set_secret(&local, &format!("c{i}"), "token", "value")
                    .await
                    .map(|_| ())
            }));
        }
        for t in tasks {
            t.await
                .unwrap()
                .unwrap_or_else(|e| panic!("{}: {e}", db.name()));
        }
        assert_eq!(store.members(&local).await.unwrap().len(), 16);
        assert_eq!(store.connections(&local).await.unwrap().len(), 16);
        store.close().await;
    })
    .await;
}
