//! A clean Debian release (trixie or bookworm) in a directory, to install the package into with
//! apt; and trixie with the package's build dependencies, to build it with Debian's toolchain.
//!
//! Safety: the chroot shares this machine's kernel, so a maintainer script, netfilter-persistent
//! or vpn-firewall run in it could change this machine's firewall. Every command in a chroot
//! therefore runs through `Chroot::run`: in a new, empty network namespace, a private mount
//! namespace and a PID namespace (`unshare --net --mount --pid --fork`), so that what it loads
//! into the kernel, mounts or leaves running ends with it. A policy-rc.d in the chroot forbids
//! starting services. Nothing of the package ever runs in this machine's own root.
//!
//! Each chroot is made once per machine with debootstrap and kept as a tarball in
//! /var/cache/vpn-firewall-tests, named after what went into it; each test unpacks its own copy.

use super::{describe, scratch, succeed};
use crate::sandbox::tool;
use nix::fcntl::{Flock, FlockArg};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Instant;
use tempfile::TempDir;

pub const CACHE: &str = "/var/cache/vpn-firewall-tests";

/// The Debian releases the package is built for and tested on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Release {
    Trixie,
    Bookworm,
}

impl Release {
    pub fn suite(self) -> &'static str {
        match self {
            Release::Trixie => "trixie",
            Release::Bookworm => "bookworm",
        }
    }
}

/// What a chroot holds besides debootstrap's minimal base.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// The apt cache of DOWNLOADED, to install the package with.
    Clean(Release),
    /// Trixie with `apt-get build-dep` of the source and lintian installed.
    Building,
}

/// Downloaded into the chroot's apt cache, not installed: apt installs them offline in the tests
/// (in a network namespace of their own, where the maintainer scripts cannot reach anything).
/// dpkg-dev and apt-utils are autopkgtest's: it builds a package of the tests' dependencies and a
/// repository of the package under test in the testbed.
const DOWNLOADED: &[&str] = &["nftables", "netfilter-persistent", "adduser", "iptables", "iptables-persistent", "openvpn", "iproute2", "dpkg-dev", "apt-utils"];

/// Bump when the way the chroot is made changes, so that a cached one is made anew.
const RECIPE: &str = "minbase, policy-rc.d 101, apt cache of DOWNLOADED";

/// `PATH` inside the chroot.
const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Longest any one command in a chroot may take (a package build may take longer).
const TIMEOUT: u32 = 600;

/// An unpacked copy of the cached chroot, deleted when dropped.
pub struct Chroot {
    dir: Option<TempDir>,
}

impl Chroot {
    /// A clean `release`, with the package's dependencies in its apt cache.
    pub fn new(release: Release) -> Chroot {
        Chroot::unpacked(tarball(Kind::Clean(release)))
    }

    /// Trixie with everything `apt-get build-dep` of the source brings, and lintian.
    pub fn for_building() -> Chroot {
        Chroot::unpacked(tarball(Kind::Building))
    }

    fn unpacked(tarball: &Path) -> Chroot {
        let dir = tempfile::Builder::new().prefix("deb-chroot-").tempdir_in(scratch()).expect("temporary directory");
        succeed(Command::new(tool("tar", "tar")).arg("-C").arg(dir.path()).arg("-xf").arg(tarball))
            .unwrap_or_else(|e| panic!("cannot unpack the chroot:\n{e}"));
        Chroot { dir: Some(dir) }
    }

    pub fn root(&self) -> &Path {
        self.dir.as_ref().expect("kept until dropped").path()
    }

    /// A path inside the chroot, as seen from outside.
    pub fn path(&self, inside: &str) -> PathBuf {
        self.root().join(inside.trim_start_matches('/'))
    }

    /// Copies `file` into the chroot's /tmp; its path inside.
    pub fn copy_in(&self, file: &Path) -> String {
        let name = file.file_name().expect("a file").to_string_lossy();
        std::fs::copy(file, self.path("/tmp").join(&*name)).expect("copy into the chroot");
        format!("/tmp/{name}")
    }

    /// Runs `script` with `sh -e` inside the chroot, in throwaway network, mount and PID
    /// namespaces (see the module's safety note), without network access.
    pub fn run(&self, script: &str) -> Session {
        self.run_for(TIMEOUT, script)
    }

    /// `run`, for at most `seconds`.
    pub fn run_for(&self, seconds: u32, script: &str) -> Session {
        let out = in_namespaces(self.root(), &["--net"], seconds, &format!("set -e\n{script}"));
        Session { script: script.to_string(), out }
    }
}

/// What a script in the chroot did.
pub struct Session {
    script: String,
    pub out: Output,
}

impl Session {
    /// Panics with the whole transcript unless the script succeeded; its output otherwise.
    pub fn ok(self) -> String {
        assert!(self.out.status.success(), "{self}");
        self.output()
    }

    /// Standard output and error together.
    pub fn output(&self) -> String {
        format!("{}{}", String::from_utf8_lossy(&self.out.stdout), String::from_utf8_lossy(&self.out.stderr))
    }
}

impl std::fmt::Display for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&describe(&format!("chroot sh -e -c '{}'", self.script), &self.out))
    }
}

impl Drop for Chroot {
    /// Deletes the copy, unless something is still mounted inside it: removing files through a
    /// mount could reach this machine's own. The namespaces make that impossible; this is the
    /// second line of defence.
    fn drop(&mut self) {
        let dir = self.dir.take().expect("dropped once");
        if let Some(mount) = mounted_under(dir.path()) {
            eprintln!("warning: {mount} is mounted inside the chroot {}: not deleting it", dir.path().display());
            let _ = dir.keep();
        }
    }
}

/// `sh -c SCRIPT` in the chroot at `root`, in new mount and PID namespaces (so its mounts and
/// processes end with it), and in the namespaces `extra` asks for, with a minimal environment.
fn in_namespaces(root: &Path, extra: &[&str], seconds: u32, script: &str) -> Output {
    let mut cmd = Command::new(tool("timeout", "coreutils"));
    cmd.args(["--kill-after=10".to_string(), seconds.to_string()])
        .arg(tool("unshare", "util-linux"))
        .args(extra)
        .args(["--mount", "--pid", "--fork", "--kill-child"])
        .arg(format!("--mount-proc={}", root.join("proc").display()))
        .arg(tool("chroot", "coreutils"))
        .arg(root)
        .args(["/bin/sh", "-c", script])
        .env_clear()
        .env("PATH", PATH)
        .env("HOME", "/root")
        .env("LC_ALL", "C.UTF-8")
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdin(Stdio::null());
    cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

/// The first mount point at or below `dir`, if any.
fn mounted_under(dir: &Path) -> Option<String> {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").expect("read /proc/self/mountinfo");
    let dir = dir.to_string_lossy();
    mounts.lines().filter_map(|l| l.split(' ').nth(4)).find(|m| *m == dir || m.starts_with(&format!("{dir}/"))).map(str::to_string)
}

/// The cached tarball of `kind`, made when missing. A lock file serializes test processes that
/// would make one at the same time.
fn tarball(kind: Kind) -> &'static Path {
    static TARBALLS: [OnceLock<Result<PathBuf, String>>; 3] = [OnceLock::new(), OnceLock::new(), OnceLock::new()];
    let slot = match kind {
        Kind::Clean(Release::Trixie) => 0,
        Kind::Clean(Release::Bookworm) => 1,
        Kind::Building => 2,
    };
    TARBALLS[slot].get_or_init(|| cached_or_made(kind)).as_ref().unwrap_or_else(|e| panic!("{e}"))
}

/// The package's Build-Depends, as debian/control lists them: a build chroot is made anew when
/// they change.
fn build_depends() -> String {
    let control = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/debian/control")).expect("read debian/control");
    let start = control.find("\nBuild-Depends:").expect("debian/control has Build-Depends");
    let field: Vec<&str> = control[start + 1..].lines().enumerate().take_while(|(i, l)| *i == 0 || l.starts_with(' ')).map(|(_, l)| l).collect();
    field.join("\n")
}

fn cached_or_made(kind: Kind) -> Result<PathBuf, String> {
    let (release, base) = match kind {
        Kind::Clean(release) => (release, None),
        Kind::Building => (Release::Trixie, Some(tarball(Kind::Clean(Release::Trixie)).to_path_buf())),
    };
    std::fs::create_dir_all(CACHE).map_err(|e| format!("cannot create {CACHE}: {e}"))?;
    let lock = std::fs::File::create(Path::new(CACHE).join("lock")).map_err(|e| format!("cannot create the lock in {CACHE}: {e}"))?;
    let _lock = Flock::lock(lock, FlockArg::LockExclusive).map_err(|(_, e)| format!("cannot lock {CACHE}/lock: {e}"))?;

    let mirror = debian_mirror()?;
    let suite = release.suite();
    let (prefix, recipe) = match &base {
        None => (format!("{suite}-clean-"), format!("{suite} {mirror} {DOWNLOADED:?} {RECIPE}")),
        Some(base) => (format!("{suite}-build-"), format!("{} {}", base.display(), build_depends())),
    };
    let key = Sha256::digest(recipe);
    let name = format!("{prefix}{}.tar", key.iter().take(6).map(|b| format!("{b:02x}")).collect::<String>());
    let tarball = Path::new(CACHE).join(&name);
    if tarball.exists() {
        return Ok(tarball);
    }
    let began = Instant::now();
    let staging = tempfile::Builder::new().prefix("making-").tempdir_in(CACHE).map_err(|e| e.to_string())?;
    let root = staging.path().join("root");
    let made = match &base {
        None => make(&root, suite, &mirror),
        Some(base) => make_for_building(&root, base),
    }
    .and_then(|()| {
        let partial = staging.path().join(&name);
        succeed(Command::new(tool("tar", "tar")).arg("-C").arg(&root).arg("-cf").arg(&partial).arg("."))?;
        std::fs::rename(&partial, &tarball).map_err(|e| format!("cannot move the chroot tarball into {CACHE}: {e}"))
    });
    if let Some(mount) = mounted_under(staging.path()) {
        let _ = staging.keep();
        return Err(format!("{mount} is still mounted in the chroot being made; left it in place"));
    }
    made?;
    for old in std::fs::read_dir(CACHE).map_err(|e| e.to_string())?.flatten() {
        let old_name = old.file_name().to_string_lossy().into_owned();
        if old_name.starts_with(&prefix) && old_name != name {
            let _ = std::fs::remove_file(old.path());
        }
    }
    eprintln!("made the chroot {} in {:.0?}", tarball.display(), began.elapsed());
    Ok(tarball)
}

/// debootstrap, then the apt cache. Only debootstrap's base packages are configured here, in
/// this machine's network namespace: none of them touches a firewall. Everything else is only
/// downloaded.
fn make(root: &Path, suite: &str, mirror: &str) -> Result<(), String> {
    let debootstrap = tool("debootstrap", "debootstrap");
    // Its own mount namespace: the /proc and /sys it mounts in the chroot vanish with it.
    let mut cmd = Command::new(tool("timeout", "coreutils"));
    cmd.args(["--kill-after=10".to_string(), TIMEOUT.to_string()])
        .arg(tool("unshare", "util-linux"))
        .arg("--mount")
        .arg(debootstrap)
        .args(["--variant=minbase", suite])
        .arg(root)
        .arg(mirror);
    succeed(&mut cmd).map_err(|e| format!("debootstrap failed:\n{e}"))?;

    // invoke-rc.d asks this before starting a service: 101, never.
    let policy = root.join("usr/sbin/policy-rc.d");
    std::fs::write(&policy, "#!/bin/sh\n# No service starts in this test chroot.\nexit 101\n").map_err(|e| e.to_string())?;
    succeed(Command::new(tool("chmod", "coreutils")).arg("755").arg(&policy))?;

    let download =
        format!("set -e\napt-get update -qq\napt-get clean\napt-get install -qq -y --no-install-recommends --download-only {}", DOWNLOADED.join(" "));
    let out = in_namespaces(root, &[], TIMEOUT, &download);
    if !out.status.success() {
        return Err(format!("cannot fill the chroot's apt cache:\n{}", describe(&download, &out)));
    }
    Ok(())
}

/// The clean trixie of `base`, then what `apt-get build-dep ./` of the source installs (exactly
/// as README tells a builder), and lintian. None of these packages touches a firewall.
fn make_for_building(root: &Path, base: &Path) -> Result<(), String> {
    std::fs::create_dir_all(root).map_err(|e| e.to_string())?;
    succeed(Command::new(tool("tar", "tar")).arg("-C").arg(root).arg("-xf").arg(base))?;
    let debian = root.join("tmp/build-dep/debian");
    std::fs::create_dir_all(&debian).map_err(|e| e.to_string())?;
    for file in ["control", "changelog"] {
        let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("debian").join(file);
        std::fs::copy(&from, debian.join(file)).map_err(|e| format!("cannot copy {}: {e}", from.display()))?;
    }
    let install = "set -e\napt-get update -qq\ncd /tmp/build-dep\napt-get build-dep -qq -y ./\napt-get install -qq -y --no-install-recommends lintian\napt-get clean\ncd /\nrm -r /tmp/build-dep";
    let out = in_namespaces(root, &[], TIMEOUT, install);
    if !out.status.success() {
        return Err(format!("cannot install the build dependencies in the trixie chroot:\n{}", describe(install, &out)));
    }
    Ok(())
}

/// The Debian archive this machine's apt uses (not the security archive), for debootstrap.
fn debian_mirror() -> Result<String, String> {
    let deb822 = std::fs::read_to_string("/etc/apt/sources.list.d/debian.sources").unwrap_or_default();
    let from_deb822 = deb822.split("\n\n").find_map(|stanza| {
        let field = |name: &str| stanza.lines().find_map(|l| l.strip_prefix(name)).map(str::trim);
        let suites = field("Suites:")?;
        let is_main_archive = field("Types:")?.split_whitespace().any(|t| t == "deb") && suites.split_whitespace().any(|s| !s.contains('-'));
        is_main_archive.then(|| field("URIs:")?.split_whitespace().next().map(str::to_string)).flatten()
    });
    let list = std::fs::read_to_string("/etc/apt/sources.list").unwrap_or_default();
    let from_list = || {
        list.lines().find_map(|line| {
            // `deb [OPTIONS] URI SUITE COMPONENTS`
            let rest = line.strip_prefix("deb ")?;
            let rest = rest.split_once(']').map_or(rest, |(_, after)| after);
            match rest.split_whitespace().collect::<Vec<_>>().as_slice() {
                [uri, suite, ..] if !suite.contains('-') => Some(uri.to_string()),
                _ => None,
            }
        })
    };
    from_deb822.or_else(from_list).ok_or_else(|| "no Debian archive found in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list".into())
}
