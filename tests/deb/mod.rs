//! The Debian package, built once per test process the way README tells an administrator to:
//! `dpkg-buildpackage -us -uc -b`. It builds from a copy of the source tree, because its output
//! lands in the parent directory: the worktree stays clean and parallel runs do not collide.
//! cargo's target directory for it is kept under target/tmp, so later runs build incrementally.

pub mod chroot;

use crate::sandbox::tool;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Instant;

/// Where the tests keep what they build: cargo's directory for integration tests' data.
pub fn scratch() -> &'static Path {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
}

/// The files dpkg-buildpackage wrote.
pub struct Package {
    pub deb: PathBuf,
    pub dbgsym: PathBuf,
    pub changes: PathBuf,
}

/// The package, built on first use; a failed build fails every test that asks for it.
pub fn built() -> &'static Package {
    static PACKAGE: OnceLock<Result<Package, String>> = OnceLock::new();
    PACKAGE.get_or_init(build).as_ref().unwrap_or_else(|e| panic!("{e}"))
}

/// Entries of the source tree's top directory that are not part of the source.
const NOT_SOURCE: &[&str] = &["target", ".git"];

fn build() -> Result<Package, String> {
    let dpkg_buildpackage = tool("dpkg-buildpackage", "dpkg-dev");
    tool("dh", "debhelper");
    let out = build_dir();
    let source = out.join("vpn-firewall");
    std::fs::create_dir_all(&source).map_err(|e| format!("cannot create {}: {e}", source.display()))?;
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    for entry in std::fs::read_dir(manifest).map_err(|e| format!("cannot list {}: {e}", manifest.display()))? {
        let path = entry.map_err(|e| e.to_string())?.path();
        if !NOT_SOURCE.iter().any(|n| path == manifest.join(n)) {
            succeed(Command::new(tool("cp", "coreutils")).arg("-a").arg(&path).arg(&source))?;
        }
    }
    // Left by a build in the worktree; the build must make its own.
    let _ = std::fs::remove_dir_all(source.join("debian/generated"));

    let began = Instant::now();
    let log_path = out.join("build.log");
    let log = std::fs::File::create(&log_path).map_err(|e| format!("cannot create {}: {e}", log_path.display()))?;
    let status = Command::new(dpkg_buildpackage)
        .args(["-us", "-uc", "-b"])
        .current_dir(&source)
        .env("CARGO_TARGET_DIR", scratch().join("deb-target"))
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(|e| e.to_string())?)
        .stderr(log)
        .status()
        .map_err(|e| format!("cannot run dpkg-buildpackage: {e}"))?;
    if !status.success() {
        let text = std::fs::read_to_string(&log_path).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(30).collect::<Vec<_>>().into_iter().rev().collect();
        return Err(format!("dpkg-buildpackage failed ({status}); the end of {}:\n{}", log_path.display(), tail.join("\n")));
    }
    eprintln!("package built in {:.0?}", began.elapsed());

    let version = env!("CARGO_PKG_VERSION");
    let find = |prefix: &str, suffix: &str| -> Result<PathBuf, String> {
        let names: Vec<PathBuf> = std::fs::read_dir(&out)
            .map_err(|e| e.to_string())?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(prefix) && n.ends_with(suffix)))
            .collect();
        match names.as_slice() {
            [one] => Ok(one.clone()),
            _ => Err(format!("expected one {prefix}*{suffix} in {}, found {names:?}", out.display())),
        }
    };
    Ok(Package {
        deb: find(&format!("vpn-firewall_{version}_"), ".deb")?,
        dbgsym: find(&format!("vpn-firewall-dbgsym_{version}_"), ".deb")?,
        changes: find(&format!("vpn-firewall_{version}_"), ".changes")?,
    })
}

/// `deb-build-PID` under the scratch directory, after removing those of test processes that
/// have ended (the package is shared by the tests of one process through a static, which is
/// never dropped, so each process cleans up after its predecessors).
fn build_dir() -> PathBuf {
    const PREFIX: &str = "deb-build-";
    if let Ok(entries) = std::fs::read_dir(scratch()) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(pid) = name.strip_prefix(PREFIX) else { continue };
            if pid.parse::<u32>().is_ok() && !Path::new("/proc").join(pid).exists() {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    let dir = scratch().join(format!("{PREFIX}{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Runs `cmd` with no input; its standard output, or everything it said when it failed.
pub fn succeed(cmd: &mut Command) -> Result<String, String> {
    let out = cmd.stdin(Stdio::null()).output().map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(describe(&format!("{cmd:?}"), &out))
    }
}

/// What a finished command did, for a failure message.
pub fn describe(what: &str, out: &Output) -> String {
    format!(
        "$ {what}\n{}\n--- stdout\n{}--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `dpkg-deb ARGS`, which must succeed.
pub fn dpkg_deb(args: &[&std::ffi::OsStr]) -> String {
    succeed(Command::new(tool("dpkg-deb", "dpkg")).args(args)).unwrap_or_else(|e| panic!("{e}"))
}

/// One entry of `dpkg-deb --contents`: its mode string, owner and path (without the leading
/// dot).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub mode: String,
    pub owner: String,
    pub path: String,
}

pub fn contents(deb: &Path) -> Vec<Entry> {
    dpkg_deb(&["--contents".as_ref(), deb.as_os_str()])
        .lines()
        .map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            assert!(fields.len() >= 6, "unexpected dpkg-deb --contents line {line:?}");
            Entry {
                mode: fields[0].to_string(),
                owner: fields[1].to_string(),
                path: fields[5].trim_start_matches('.').trim_end_matches('/').to_string(),
            }
        })
        .collect()
}
