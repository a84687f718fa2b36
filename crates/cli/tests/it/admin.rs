//! `billow user`, `billow token`, `billow key`, `billow audit` through the real binary.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::{billow, text};

fn with_stdin(data: &std::path::Path, args: &[&str], input: &str) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_billow"))
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env_remove("BILLOW_DATA")
        .env_remove("BILLOW_MASTER_KEY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// Users, roles, tokens and key rotation from the terminal; secrets are printed once and
/// never again; bad input exits 2 with what to do; the metadata files are private.
#[test]
fn users_tokens_and_keys_from_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = with_stdin(
        &data,
        &[
            "user",
            "add",
            "ana@example.com",
            "--name",
            "Ana",
            "--role",
            "admin",
            "--password-stdin",
        ],
        "a long passphrase\n",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = billow(
        &data,
        &[
            "user",
            "add",
            "acme@example.com",
            "--role",
            "customer",
            "--account",
            "111122223333",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));

    // Mistakes exit 2 and say what to do.
    for (args, expected) in [
        (
            vec!["user", "add", "x@example.com", "--role", "customer"],
            "name at least one billing account",
        ),
        (
            vec!["user", "add", "not-an-email"],
            "is not an email address",
        ),
        (
            vec!["user", "add", "y@example.com", "--role", "boss"],
            "expected owner, admin, member, viewer or customer",
        ),
        (
            vec!["user", "grant", "nobody@example.com", "--role", "viewer"],
            "member nobody@example.com not found",
        ),
        (
            vec![
                "user",
                "add",
                "z@example.com",
                "--cost-types",
                "provider,retail",
            ],
            "expected provider, list, billed or effective",
        ),
    ] {
        let out = billow(&data, &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            text(&out.stderr).contains(expected),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    let out = with_stdin(
        &data,
        &["user", "add", "w@example.com", "--password-stdin"],
        "short\n",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("at least 12 characters"));

    let out = billow(&data, &["user", "list", "--json"]);
    let members: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let summary: Vec<(String, String, String)> = members
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["email"].as_str().unwrap().to_string(),
                m["role"].as_str().unwrap().to_string(),
                m["cost_types"].to_string(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                "acme@example.com".into(),
                "customer".into(),
                r#"["billed"]"#.into()
            ),
            (
                "ana@example.com".into(),
                "admin".into(),
                r#"["provider","list","billed","effective"]"#.into()
            ),
        ]
    );
    assert!(
        !text(&out.stdout).contains("argon2"),
        "no password hash is ever printed"
    );

    // A token's secret is printed once; the listing has its id, never the secret.
    let out = billow(
        &data,
        &[
            "token",
            "create",
            "--user",
            "ana@example.com",
            "--name",
            "ci",
            "--role",
            "viewer",
            "--json",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let token: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let secret = token["secret"].as_str().unwrap().to_string();
    let id = token["id"].as_str().unwrap().to_string();
    assert!(secret.starts_with("billow_") && secret.len() > 40);
    assert_eq!(token["max_role"], "viewer");
    let out = billow(&data, &["token", "list"]);
    assert!(text(&out.stdout).contains(&id) && !text(&out.stdout).contains(&secret));
    let out = billow(
        &data,
        &[
            "token",
            "create",
            "--user",
            "acme@example.com",
            "--name",
            "x",
            "--role",
            "admin",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("at most its user's role"));
    assert!(billow(&data, &["token", "revoke", &id]).status.success());
    assert!(text(&billow(&data, &["token", "list"]).stdout).contains("revoked"));

    // Key rotation replaces the key file and keeps the old one beside it.
    let shown = text(&billow(&data, &["key", "show"]).stdout);
    assert!(shown.contains("master.key"), "{shown}");
    let out = billow(&data, &["key", "rotate"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_ne!(text(&billow(&data, &["key", "show"]).stdout), shown);
    assert!(data.join("master.key.previous").exists());

    let audit = text(&billow(&data, &["audit"]).stdout);
    for action in [
        "member.add",
        "token.create",
        "credential.revoke",
        "key.rotate",
    ] {
        assert!(audit.contains(action), "{action}: {audit}");
    }
    assert!(!audit.contains(&secret) && !audit.contains("a long passphrase"));

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for file in ["billow.db", "master.key"] {
            let mode = std::fs::metadata(data.join(file))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "{file} is readable by others");
        }
    }
}
