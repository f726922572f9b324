//! Debian's own tools on the package: piuparts (install, purge, and the upgrade from 0.1.0 to
//! this version, checking for files left behind) and autopkgtest (debian/tests), each on a copy
//! of a clean chroot of the package's release.
//!
//! Both run with the chroot's maintainer scripts as root, so each runs as a whole in a network
//! namespace of its own, without network (`unshare --net`, with private mount and PID
//! namespaces): what they load into the kernel, mount or leave running ends with it. apt
//! installs the dependencies from the chroot's apt cache (for piuparts: a local repository of
//! it, with 0.1.0).

use crate::deb::build::{built, first_release};
use crate::deb::chroot::{Chroot, Release};
use crate::deb::{describe, scratch, succeed};
use crate::sandbox::tool;
use std::process::{Command, Output, Stdio};

per_release!(
    piuparts:
    trixie_piuparts_installs_upgrades_from_0_1_0_and_purges_cleanly,
    bookworm_piuparts_installs_upgrades_from_0_1_0_and_purges_cleanly
);

fn piuparts(release: Release) {
    let chroot = Chroot::new(release);
    // The chroot's only apt source: a repository of its apt cache (piuparts empties the cache)
    // and 0.1.0, as if from the archive, for piuparts' upgrade test.
    let repository = chroot.path("/var/local/repository");
    std::fs::create_dir_all(&repository).expect("create the repository");
    let cache = chroot.path("/var/cache/apt/archives");
    for entry in std::fs::read_dir(&cache).expect("list the apt cache").flatten() {
        if entry.file_name().to_string_lossy().ends_with(".deb") {
            std::fs::rename(entry.path(), repository.join(entry.file_name())).expect("move a package into the repository");
        }
    }
    let old = first_release();
    std::fs::copy(old, repository.join(old.file_name().expect("a file name"))).expect("copy 0.1.0 in");
    let packages =
        succeed(Command::new(tool("dpkg-scanpackages", "dpkg-dev")).args(["--multiversion", "."]).current_dir(&repository)).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(repository.join("Packages"), packages).expect("write Packages");
    std::fs::write(chroot.path("/etc/apt/sources.list"), "deb [trusted=yes] file:/var/local/repository ./\n").expect("write sources.list");

    let deb = &built(release).deb;
    let out = isolated(
        Command::new(tool("piuparts", "piuparts"))
            .arg("--existing-chroot")
            .arg(chroot.root())
            .args(["--distribution", release.suite(), "--keep-sources-list", "--do-not-verify-signatures"])
            // Trixie's debconf leaves this directory behind whatever is installed; this
            // machine's piuparts (bookworm's) predates it.
            .arg("--ignore=/var/cache/debconf/tmp.ci/")
            .arg("--tmpdir")
            .arg(scratch())
            .arg(deb),
    );
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{}", describe("piuparts", &out));
    let version = env!("CARGO_PKG_VERSION");
    assert!(said.contains(&format!("Unpacking vpn-firewall ({version}) over (0.1.0)")), "piuparts did not upgrade from 0.1.0:\n{said}");
    for test in ["Installation and purging test.", "Installation, upgrade and purging tests.", "All tests."] {
        assert!(said.contains(&format!("PASS: {test}")), "piuparts did not pass {test}:\n{said}");
    }
}

per_release!(
    autopkgtest:
    trixie_autopkgtest_passes_debian_tests,
    bookworm_autopkgtest_passes_debian_tests
);

fn autopkgtest(release: Release) {
    let chroot = Chroot::new(release);
    let deb = &built(release).deb;
    let output = tempfile::Builder::new().prefix("autopkgtest-").tempdir_in(scratch()).expect("temporary directory");
    // The source tree as autopkgtest reads it: debian/ is all it needs (it copies the whole
    // tree into the testbed, target/ included, were it given the worktree).
    let source = output.path().join("source");
    std::fs::create_dir_all(&source).expect("create the source directory");
    succeed(Command::new(tool("cp", "coreutils")).arg("-a").arg(concat!(env!("CARGO_MANIFEST_DIR"), "/debian")).arg(&source)).unwrap_or_else(|e| panic!("{e}"));
    let out = isolated(
        Command::new(tool("sh", "dash"))
            .arg("-c")
            .arg(
                // autopkgtest-virt-chroot expects /proc in the chroot, and the chroot's root must be
                // a mount point for `ip netns` and `unshare --mount` in it (they change its
                // propagation). These mounts end with the mount namespace. selftest needs
                // /dev/net/tun, which a machine has and debootstrap does not make.
                r#"mount --bind "$1" "$1" && mount -t proc proc "$1/proc" &&
            mkdir -p "$1/dev/net" && { [ -e "$1/dev/net/tun" ] || mknod -m 666 "$1/dev/net/tun" c 10 200; } &&
            exec autopkgtest --output-dir "$2/out" "$3" "$4" -- chroot "$1""#,
            )
            .arg("sh")
            .arg(chroot.root())
            .arg(output.path())
            .arg(deb)
            .arg(&source),
    );
    let summary = std::fs::read_to_string(output.path().join("out/summary")).unwrap_or_default();
    assert!(out.status.success(), "{}\nsummary:\n{summary}", describe("autopkgtest", &out));
    for test in ["kill-switch", "selftest"] {
        assert!(summary.lines().any(|l| l.starts_with(test) && l.contains("PASS")), "{test} did not pass:\n{summary}");
    }
}

/// `cmd` in new network (without network), mount and PID namespaces, for at most half an hour.
fn isolated(cmd: &mut Command) -> Output {
    let mut wrapped = Command::new(tool("timeout", "coreutils"));
    wrapped
        .args(["--kill-after=10", "1800"])
        .arg(tool("unshare", "util-linux"))
        .args(["--net", "--mount", "--pid", "--fork", "--kill-child", "--mount-proc"])
        .arg(cmd.get_program())
        .args(cmd.get_args())
        .stdin(Stdio::null());
    wrapped.output().unwrap_or_else(|e| panic!("cannot run {wrapped:?}: {e}"))
}
