//! Builds the web dashboard (`web/`, TypeScript + Vite) into `OUT_DIR` and lists its files for
//! `include_bytes!`, so the binary serves every asset itself: no CDN, no files beside it.
//! `npm ci` runs when `node_modules` is missing or older than the lock file; the build runs
//! again only when something under `web/` changed. `BILLOW_WEB_DIST=<dir>` embeds a dashboard
//! built elsewhere instead (packagers without Node.js).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let web = manifest.join("../../web");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    println!("cargo:rerun-if-env-changed=BILLOW_WEB_DIST");
    let dist = match std::env::var_os("BILLOW_WEB_DIST") {
        Some(dir) => PathBuf::from(dir),
        None => {
            for input in [
                "src",
                "index.html",
                "package.json",
                "package-lock.json",
                "vite.config.ts",
                "tsconfig.json",
            ] {
                println!("cargo:rerun-if-changed={}", web.join(input).display());
            }
            let dist = out.join("web");
            build(&web, &dist);
            dist
        }
    };
    let mut files = Vec::new();
    collect(&dist, &dist, &mut files);
    files.sort();
    if !files.iter().any(|(name, _)| name == "index.html") {
        fail(&format!(
            "{} has no index.html: the dashboard did not build",
            dist.display()
        ));
    }
    let mut code = String::from(
        "/// The dashboard's files: (path under `/`, bytes).\npub(crate) static ASSETS: &[(&str, &[u8])] = &[\n",
    );
    for (name, path) in &files {
        let _ = writeln!(
            code,
            "    ({name:?}, include_bytes!({:?})),",
            path.display().to_string()
        );
    }
    code.push_str("];\n");
    if let Err(e) = std::fs::write(out.join("web_assets.rs"), code) {
        fail(&format!("writing the asset list: {e}"));
    }
}

fn build(web: &Path, dist: &Path) {
    let npm = if cfg!(windows) { "npm.cmd" } else { "npm" };
    let lock = web.join("package-lock.json");
    let installed = web.join("node_modules/.package-lock.json");
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    if modified(&installed).is_none() || modified(&installed) < modified(&lock) {
        run(
            Command::new(npm)
                .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                .current_dir(web),
            "npm ci",
        );
    }
    run(
        Command::new(npm)
            .args(["run", "--silent", "build"])
            .env("BILLOW_WEB_OUT", dist)
            .current_dir(web),
        "npm run build",
    );
}

fn run(command: &mut Command, what: &str) {
    match command.status() {
        Ok(status) if status.success() => {}
        Ok(status) => fail(&format!(
            "`{what}` in web/ failed ({status}); its output is above"
        )),
        Err(e) => fail(&format!(
            "`{what}` could not start ({e}): the dashboard is built with Node.js 20.19+ and npm (Debian: apt install nodejs npm), or set BILLOW_WEB_DIST to a built web/dist"
        )),
    }
}

fn collect(root: &Path, dir: &Path, files: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        fail(&format!("{} cannot be read", dir.display()));
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(root, &path, files);
        } else if let Ok(relative) = path.strip_prefix(root) {
            let name = relative.to_string_lossy().replace('\\', "/");
            files.push((name, path.canonicalize().unwrap_or(path)));
        }
    }
}

fn fail(message: &str) -> ! {
    eprintln!("error: {message}");
    std::process::exit(1);
}
