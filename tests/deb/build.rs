//! The Debian package, built once per test process and release the way README tells a builder
//! to: `debian/rules vendor` (the one step with network), then `dpkg-buildpackage -us -uc -b`
//!
//! - for trixie inside a trixie chroot that has only what `apt-get build-dep ./` installs
//!   (Debian's rustc and cargo, no rustup), in a network namespace without network;
//! - for bookworm on this machine (bookworm) with rustup's toolchain, through the build profile
//!   pkg.vpn-firewall.rustup.
//!
//! Each builds from a copy of the source tree, because the output lands in the parent
//! directory: the worktree stays clean and parallel runs do not collide. cargo's target
//! directories are kept under target/tmp, so later runs build incrementally.
//!
//! The upgrade tests also need the package of 0.1.0, built once per machine from its git commit
//! (with its own debian/rules: rustup and the network) and cached by commit.

use super::chroot::{CACHE, Chroot, Release};
use super::{describe, scratch, succeed};
use crate::sandbox::tool;
use nix::fcntl::{Flock, FlockArg};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Instant;

/// The files dpkg-buildpackage wrote.
pub struct Package {
    pub deb: PathBuf,
    pub dbgsym: PathBuf,
    pub changes: PathBuf,
}

/// The package of this source for `release`, built on first use; a failed build fails every
/// test that asks for it.
pub fn built(release: Release) -> &'static Package {
    static TRIXIE: OnceLock<Result<Package, String>> = OnceLock::new();
    static BOOKWORM: OnceLock<Result<Package, String>> = OnceLock::new();
    match release {
        Release::Trixie => TRIXIE.get_or_init(build_in_trixie),
        Release::Bookworm => BOOKWORM.get_or_init(build_with_rustup),
    }
    .as_ref()
    .unwrap_or_else(|e| panic!("{e}"))
}

/// The commit of version 0.1.0, the first release: what the upgrade tests upgrade from.
pub const FIRST_RELEASE: (&str, &str) = ("0.1.0", "5ccf86c");

/// The .deb of 0.1.0.
pub fn first_release() -> &'static Path {
    static DEB: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    DEB.get_or_init(first_release_cached_or_built).as_ref().unwrap_or_else(|e| panic!("{e}"))
}

/// Entries of the source tree's top directory that are not part of the source (vendor/ is
/// copied from `vendored()`).
const NOT_SOURCE: &[&str] = &["target", ".git", "vendor"];

/// Copies the source tree into `dest`, with the vendored crates.
fn source_copy(dest: &Path) -> Result<(), String> {
    copy_tree(dest)?;
    succeed(Command::new(tool("cp", "coreutils")).arg("-a").arg(vendored()?).arg(dest))?;
    Ok(())
}

fn copy_tree(dest: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dest).map_err(|e| format!("cannot create {}: {e}", dest.display()))?;
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    for entry in std::fs::read_dir(manifest).map_err(|e| format!("cannot list {}: {e}", manifest.display()))? {
        let path = entry.map_err(|e| e.to_string())?.path();
        if !NOT_SOURCE.iter().any(|n| path == manifest.join(n)) {
            succeed(Command::new(tool("cp", "coreutils")).arg("-a").arg(&path).arg(dest))?;
        }
    }
    // Left by a build in the worktree; the build must make its own.
    let _ = std::fs::remove_dir_all(dest.join("debian/generated"));
    let _ = std::fs::remove_dir_all(dest.join("debian/cargo-home"));
    Ok(())
}

/// vendor/ as `debian/rules vendor` makes it, once per test process. Its CARGO_HOME (the
/// registry cache it downloads into) is kept under target/tmp.
fn vendored() -> Result<&'static Path, String> {
    static VENDOR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    VENDOR
        .get_or_init(|| {
            let source = build_dir("vendor").join("vpn-firewall");
            copy_tree(&source)?;
            succeed(
                Command::new(source.join("debian/rules"))
                    .arg("vendor")
                    .current_dir(&source)
                    .env("DEB_BUILD_PROFILES", "pkg.vpn-firewall.rustup")
                    .env("CARGO_HOME", scratch().join("deb-cargo-home")),
            )
            .map_err(|e| format!("debian/rules vendor failed:\n{e}"))?;
            Ok(source.join("vendor"))
        })
        .as_ref()
        .map(PathBuf::as_path)
        .map_err(Clone::clone)
}

/// In a trixie chroot with the build dependencies, without network; the output is copied out.
fn build_in_trixie() -> Result<Package, String> {
    let out = build_dir("trixie");
    let chroot = Chroot::for_building();
    source_copy(&chroot.path("/build/vpn-firewall"))?;
    // cargo's target directory, kept between runs: moved in, and back out after the build.
    let kept = scratch().join("deb-target-trixie");
    let inside = chroot.path("/build/target");
    if kept.is_dir() {
        std::fs::rename(&kept, &inside).map_err(|e| format!("cannot move {} into the chroot: {e}", kept.display()))?;
    }
    let began = Instant::now();
    let session = chroot.run_for(3600, "cd /build/vpn-firewall\nCARGO_TARGET_DIR=/build/target dpkg-buildpackage -us -uc -b > /build/build.log 2>&1");
    if inside.is_dir() {
        let _ = std::fs::remove_dir_all(&kept);
        std::fs::rename(&inside, &kept).map_err(|e| format!("cannot move the target directory out of the chroot: {e}"))?;
    }
    let log = out.join("build.log");
    std::fs::copy(chroot.path("/build/build.log"), &log).map_err(|e| format!("no build log: {e}"))?;
    if !session.out.status.success() {
        return Err(format!("dpkg-buildpackage failed in the trixie chroot:\n{session}\n{}", tail(&log)));
    }
    eprintln!("trixie package built in {:.0?}", began.elapsed());
    for entry in std::fs::read_dir(chroot.path("/build")).map_err(|e| e.to_string())?.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_file()) {
            std::fs::copy(entry.path(), out.join(entry.file_name())).map_err(|e| e.to_string())?;
        }
    }
    found(&out)
}

/// On this machine, which must be bookworm (as CI's is), with rustup's toolchain.
fn build_with_rustup() -> Result<Package, String> {
    let os_release = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    if !os_release.lines().any(|l| l == "VERSION_CODENAME=bookworm") {
        return Err("the bookworm package is built on this machine, which is not Debian bookworm (/etc/os-release)".into());
    }
    let out = build_dir("bookworm");
    let source = out.join("vpn-firewall");
    source_copy(&source)?;
    let began = Instant::now();
    let log = out.join("build.log");
    dpkg_buildpackage(&source, &["-Ppkg.vpn-firewall.rustup"], &scratch().join("deb-target"), &log)?;
    eprintln!("bookworm package built in {:.0?}", began.elapsed());
    found(&out)
}

/// `dpkg-buildpackage -us -uc -b EXTRA` in `source`, on this machine.
fn dpkg_buildpackage(source: &Path, extra: &[&str], target: &Path, log_path: &Path) -> Result<(), String> {
    let dpkg_buildpackage = tool("dpkg-buildpackage", "dpkg-dev");
    tool("dh", "debhelper");
    let log = std::fs::File::create(log_path).map_err(|e| format!("cannot create {}: {e}", log_path.display()))?;
    let status = Command::new(dpkg_buildpackage)
        .args(["-us", "-uc", "-b"])
        .args(extra)
        .current_dir(source)
        .env("CARGO_TARGET_DIR", target)
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(|e| e.to_string())?)
        .stderr(log)
        .status()
        .map_err(|e| format!("cannot run dpkg-buildpackage: {e}"))?;
    if !status.success() {
        return Err(format!("dpkg-buildpackage failed ({status}) in {}:\n{}", source.display(), tail(log_path)));
    }
    Ok(())
}

/// The end of a build log.
fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    format!("the end of {}:\n{}", log.display(), lines[lines.len().saturating_sub(30)..].join("\n"))
}

/// The package files of this version in `out`.
fn found(out: &Path) -> Result<Package, String> {
    let version = env!("CARGO_PKG_VERSION");
    Ok(Package {
        deb: one_file(out, &format!("vpn-firewall_{version}_"), ".deb")?,
        dbgsym: one_file(out, &format!("vpn-firewall-dbgsym_{version}_"), ".deb")?,
        changes: one_file(out, &format!("vpn-firewall_{version}_"), ".changes")?,
    })
}

fn one_file(dir: &Path, prefix: &str, suffix: &str) -> Result<PathBuf, String> {
    let names: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| e.to_string())?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(prefix) && n.ends_with(suffix)))
        .collect();
    match names.as_slice() {
        [one] => Ok(one.clone()),
        _ => Err(format!("expected one {prefix}*{suffix} in {}, found {names:?}", dir.display())),
    }
}

/// The 0.1.0 package in CACHE/first-release-COMMIT/, built from `git archive COMMIT` when
/// missing: a commit's tree never changes, so neither does what it builds.
fn first_release_cached_or_built() -> Result<PathBuf, String> {
    let (version, commit) = FIRST_RELEASE;
    let dir = Path::new(CACHE).join(format!("first-release-{commit}"));
    std::fs::create_dir_all(CACHE).map_err(|e| format!("cannot create {CACHE}: {e}"))?;
    let lock = std::fs::File::create(Path::new(CACHE).join("first-release.lock")).map_err(|e| e.to_string())?;
    let _lock = Flock::lock(lock, FlockArg::LockExclusive).map_err(|(_, e)| format!("cannot lock: {e}"))?;
    if let Ok(deb) = one_file(&dir, &format!("vpn-firewall_{version}_"), ".deb") {
        return Ok(deb);
    }
    let work = build_dir("first-release");
    let source = work.join("vpn-firewall");
    std::fs::create_dir_all(&source).map_err(|e| e.to_string())?;
    let archive = Command::new(tool("git", "git"))
        .args(["archive", "--format=tar", commit])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if !archive.status.success() {
        return Err(format!("cannot take {version} from git (a shallow clone lacks its commit):\n{}", describe("git archive", &archive)));
    }
    let tar = work.join("source.tar");
    std::fs::write(&tar, &archive.stdout).map_err(|e| e.to_string())?;
    succeed(Command::new(tool("tar", "tar")).arg("-C").arg(&source).arg("-xf").arg(&tar))?;
    let began = Instant::now();
    dpkg_buildpackage(&source, &[], &scratch().join("deb-target-first-release"), &work.join("build.log"))?;
    eprintln!("built {version} from {commit} in {:.0?}", began.elapsed());
    let deb = one_file(&work, &format!("vpn-firewall_{version}_"), ".deb")?;
    let staging = tempfile::Builder::new().prefix("making-").tempdir_in(CACHE).map_err(|e| e.to_string())?;
    std::fs::copy(&deb, staging.path().join(deb.file_name().expect("a file name"))).map_err(|e| e.to_string())?;
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::rename(staging.keep(), &dir).map_err(|e| format!("cannot move the package into {}: {e}", dir.display()))?;
    one_file(&dir, &format!("vpn-firewall_{version}_"), ".deb")
}

/// `deb-build-WHAT-PID` under the scratch directory, after removing those of test processes
/// that have ended (the packages are shared by the tests of one process through statics, which
/// are never dropped, so each process cleans up after its predecessors).
fn build_dir(what: &str) -> PathBuf {
    const PREFIX: &str = "deb-build-";
    if let Ok(entries) = std::fs::read_dir(scratch()) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(pid) = name.strip_prefix(PREFIX).and_then(|rest| rest.rsplit('-').next()) else { continue };
            if pid.parse::<u32>().is_ok() && !Path::new("/proc").join(pid).exists() {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    let dir = scratch().join(format!("{PREFIX}{what}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create a build directory");
    dir
}
