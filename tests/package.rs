//! The Debian package as an administrator gets it, for each supported release: built with
//! dpkg-buildpackage (for trixie inside a trixie chroot with Debian's toolchain and no network,
//! for bookworm with rustup), checked with both releases' lintian and with dpkg-deb, then
//! installed with apt into a clean chroot of its release, run through netfilter-persistent,
//! upgraded (from 0.1.0 too: upgrade.rs), downgraded, removed and purged.
//!
//! Safety: every command in a chroot runs in a throwaway network namespace (see deb/chroot.rs):
//! maintainer scripts, netfilter-persistent and vpn-firewall never touch this machine's firewall,
//! and nothing of the package runs in this machine's own root.

/// Two tests of `check(release)`: `$trixie` and `$bookworm`.
macro_rules! per_release {
    ($check:ident: $trixie:ident, $bookworm:ident) => {
        #[test]
        fn $trixie() {
            $check(Release::Trixie);
        }

        #[test]
        fn $bookworm() {
            $check(Release::Bookworm);
        }
    };
}

mod deb;
mod sandbox;
// Tests in files of their own, in this test binary so that they share its package builds.
#[path = "package/debian_tools.rs"]
mod debian_tools;
#[path = "package/iptables_persistent_save.rs"]
mod iptables_persistent_save;
#[path = "package/upgrade.rs"]
mod upgrade;

use clap::CommandFactory;
use deb::build::built;
use deb::chroot::{Chroot, Release};
use deb::{Entry, contents, dpkg_deb, succeed};
use sandbox::tool;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;

/// Every file of the package (directories aside), with its mode.
pub(crate) const FILES: &[(&str, &str)] = &[
    ("/etc/vpn-firewall/30-default.conf", "-rw-r--r--"),
    ("/usr/lib/systemd/system/netfilter-persistent.service.d/vpn-firewall.conf", "-rw-r--r--"),
    ("/usr/lib/systemd/system/openvpn-client@.service.d/vpn-firewall.conf", "-rw-r--r--"),
    ("/usr/lib/systemd/system/openvpn@.service.d/vpn-firewall.conf", "-rw-r--r--"),
    ("/usr/lib/systemd/system/qubes-firewall.service.d/50-vpn-firewall.conf", "-rw-r--r--"),
    ("/usr/lib/systemd/system/qubes-iptables.service.d/50-vpn-firewall.conf", "-rw-r--r--"),
    ("/usr/lib/systemd/system/vpn-firewall-guard.service", "-rw-r--r--"),
    ("/usr/lib/tmpfiles.d/vpn-firewall.conf", "-rw-r--r--"),
    ("/usr/sbin/vpn-firewall", "-rwxr-xr-x"),
    ("/usr/share/bash-completion/completions/vpn-firewall", "-rw-r--r--"),
    ("/usr/share/doc/vpn-firewall/changelog.gz", "-rw-r--r--"),
    ("/usr/share/doc/vpn-firewall/copyright", "-rw-r--r--"),
    ("/usr/share/fish/vendor_completions.d/vpn-firewall.fish", "-rw-r--r--"),
    ("/usr/share/man/man5/vpn-firewall.conf.5.gz", "-rw-r--r--"),
    ("/usr/share/man/man8/vpn-firewall.8.gz", "-rw-r--r--"),
    ("/usr/share/netfilter-persistent/plugins.d/35-vpn-firewall", "-rwxr-xr-x"),
    ("/usr/share/zsh/vendor-completions/_vpn-firewall", "-rw-r--r--"),
];

const RELEASES: [Release; 2] = [Release::Trixie, Release::Bookworm];

#[test]
fn the_package_holds_the_listed_files_owned_by_root_and_one_conffile() {
    for release in RELEASES {
        holds_the_listed_files(release);
    }
}

fn holds_the_listed_files(release: Release) {
    let package = built(release);
    let entries = contents(&package.deb);
    let mut files: Vec<(&str, &str)> = entries.iter().filter(|e| !e.mode.starts_with('d')).map(|e| (e.path.as_str(), e.mode.as_str())).collect();
    files.sort();
    assert_eq!(files, FILES);
    let not_root: Vec<&Entry> = entries.iter().filter(|e| e.owner != "root/root").collect();
    assert!(not_root.is_empty(), "not owned by root: {not_root:?}");

    let conffiles = dpkg_deb(&["--info".as_ref(), package.deb.as_os_str(), "conffiles".as_ref()]);
    assert_eq!(conffiles.trim(), "/etc/vpn-firewall/30-default.conf");

    let field = |name: &str| dpkg_deb(&["--field".as_ref(), package.deb.as_os_str(), name.as_ref()]).trim().to_string();
    assert_eq!(field("Version"), env!("CARGO_PKG_VERSION"), "debian/changelog and Cargo.toml disagree");
    // "nftables | iptables" only when the binary has an iptables backend: apt would otherwise
    // install it next to iptables alone, and nothing would load at boot.
    let iptables = sandbox::in_netns(env!("CARGO_BIN_EXE_vpn-firewall"))
        .args(["--config-dir", concat!(env!("CARGO_MANIFEST_DIR"), "/etc/vpn-firewall"), "--backend", "iptables", "show"])
        .output()
        .expect("cannot run vpn-firewall");
    let backends = if iptables.status.success() { "nftables | iptables" } else { "nftables" };
    let depends = field("Depends");
    assert!(depends.starts_with(&format!("netfilter-persistent, {backends}, adduser, ")), "{depends}");
    assert!(depends.contains("libc6 (>= "), "${{shlibs:Depends}} is missing: {depends}");
}

#[test]
fn the_manual_pages_and_completions_are_generated_from_the_command_line() {
    for release in RELEASES {
        has_generated_pages(release);
    }
}

fn has_generated_pages(release: Release) {
    let package = built(release);
    let dir = tempfile::Builder::new().prefix("deb-contents-").tempdir_in(deb::scratch()).expect("temporary directory");
    dpkg_deb(&["--extract".as_ref(), package.deb.as_os_str(), dir.path().as_os_str()]);
    let gunzip = |path: &str| succeed(Command::new(tool("gzip", "gzip")).arg("-dc").arg(dir.path().join(path))).unwrap_or_else(|e| panic!("{e}"));
    let command_page = gunzip("usr/share/man/man8/vpn-firewall.8.gz");
    let completions: Vec<(&str, String)> = [
        "usr/share/bash-completion/completions/vpn-firewall",
        "usr/share/zsh/vendor-completions/_vpn-firewall",
        "usr/share/fish/vendor_completions.d/vpn-firewall.fish",
    ]
    .into_iter()
    .map(|p| (p, std::fs::read_to_string(dir.path().join(p)).expect("read a completion")))
    .collect();
    for command in vpn_firewall::cli::Cli::command().get_subcommands().filter(|c| !c.is_hide_set()) {
        let name = command.get_name();
        assert!(command_page.contains(&format!(".TP\n\\fB{name}\\fR")), "vpn-firewall(8) does not describe {name}");
        for (path, text) in &completions {
            assert!(text.contains(name), "{path} does not complete {name}");
        }
    }
    assert!(command_page.contains("\n.SH VPN CLIENTS\n"), "the hand-written sections are missing");
    let config_page = gunzip("usr/share/man/man5/vpn-firewall.conf.5.gz");
    assert_eq!(config_page, include_str!("../man/vpn-firewall.conf.5"));
}

/// `lintian --fail-on error,warning` of both packages, by this machine's lintian (bookworm's).
#[test]
fn bookworms_lintian_reports_no_error_and_no_warning() {
    for release in RELEASES {
        let out = Command::new(tool("lintian", "lintian"))
            .args(["--fail-on", "error,warning", "--display-info"])
            .arg(&built(release).changes)
            .output()
            .expect("cannot run lintian");
        let report = deb::describe(&format!("lintian of the {release:?} package"), &out);
        eprintln!("{report}");
        assert!(out.status.success(), "{report}");
    }
}

/// The same by trixie's lintian, run in the trixie build chroot.
#[test]
fn trixies_lintian_reports_no_error_and_no_warning() {
    let chroot = Chroot::for_building();
    for release in RELEASES {
        let package = built(release);
        let dir = package.changes.parent().expect("in a directory");
        let mut inside = Vec::new();
        for path in [&package.changes, &package.changes.with_extension("buildinfo"), &package.deb, &package.dbgsym] {
            inside.push(chroot.copy_in(path));
        }
        let session = chroot.run(&format!("lintian --fail-on error,warning --display-info {}", inside[0]));
        eprintln!("{session}");
        assert!(session.out.status.success(), "trixie's lintian of the {release:?} package ({}):\n{session}", dir.display());
        chroot.run(&format!("rm {}", inside.join(" "))).ok();
    }
}

/// debian/copyright is what examples/debian-copyright.rs writes from Cargo.lock: every locked
/// crate, each under a licence debian/copyright-licenses holds (those compatible with GPL-3+).
#[test]
fn the_copyright_file_lists_every_locked_crate_under_a_licence_compatible_with_gpl_3() {
    let out = Command::new(env!("CARGO"))
        .args(["run", "--quiet", "--locked", "--example", "debian-copyright"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cannot run cargo");
    assert!(out.status.success(), "{}", deb::describe("cargo run --example debian-copyright", &out));
    let committed = include_str!("../debian/copyright");
    assert!(
        String::from_utf8_lossy(&out.stdout) == committed,
        "debian/copyright is not what Cargo.lock makes: run cargo run --locked --example debian-copyright > debian/copyright"
    );
    let lock = include_str!("../Cargo.lock");
    let crates = lock.matches("\n[[package]]\n").count() - 1;
    assert_eq!(committed.matches("\nFiles: vendor/").count(), crates, "one paragraph per locked crate but vpn-firewall");
}

#[test]
fn the_dbgsym_package_holds_the_line_tables_of_the_stripped_binary() {
    for release in RELEASES {
        has_line_tables(release);
    }
}

fn has_line_tables(release: Release) {
    let package = built(release);
    let dir = tempfile::Builder::new().prefix("deb-dbgsym-").tempdir_in(deb::scratch()).expect("temporary directory");
    dpkg_deb(&["--extract".as_ref(), package.deb.as_os_str(), dir.path().as_os_str()]);
    dpkg_deb(&["--extract".as_ref(), package.dbgsym.as_os_str(), dir.path().as_os_str()]);
    let readelf = |args: &[&str], file: &Path| succeed(Command::new(tool("readelf", "binutils")).args(args).arg(file)).unwrap_or_else(|e| panic!("{e}"));
    let binary = dir.path().join("usr/sbin/vpn-firewall");
    let notes = readelf(&["--notes"], &binary);
    let build_id = notes.lines().find_map(|l| l.trim().strip_prefix("Build ID: ")).unwrap_or_else(|| panic!("the binary has no build id:\n{notes}"));
    let debug = dir.path().join(format!("usr/lib/debug/.build-id/{}/{}.debug", &build_id[..2], &build_id[2..]));
    assert!(debug.is_file(), "the dbgsym package has no {}", debug.display());
    assert!(readelf(&["--section-headers"], &debug).contains(".debug_line"), "no line tables in {}", debug.display());
    assert!(!readelf(&["--section-headers"], &binary).contains(".debug_line"), "the shipped binary is not stripped");
}

/// Shell functions for the chroot scripts.
const PRELUDE: &str = r#"
fail() { echo "FAIL: $*" >&2; exit 1; }
loaded() { nft list table inet vpn_firewall >/dev/null 2>&1; }
"#;

pub(crate) fn run(chroot: &Chroot, script: &str) -> String {
    chroot.run(&format!("{PRELUDE}{script}")).ok()
}

/// The fields of `name`'s line in the chroot's /etc/passwd or /etc/group.
fn account(chroot: &Chroot, file: &str, name: &str) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(chroot.path(file)).expect("read an account database");
    text.lines().map(|l| l.split(':').map(str::to_string).collect::<Vec<_>>()).find(|f| f[0] == name)
}

per_release!(
    lifecycle:
    trixie_apt_installs_it_netfilter_persistent_runs_it_and_remove_and_purge_clean_up,
    bookworm_apt_installs_it_netfilter_persistent_runs_it_and_remove_and_purge_clean_up
);

fn lifecycle(release: Release) {
    let chroot = Chroot::new(release);
    let package = built(release);
    let deb = chroot.copy_in(&package.deb);

    // A fresh install creates the user, loads nothing and says how to.
    let install = run(&chroot, &format!("apt-get install -y --no-install-recommends {deb}\n! loaded || fail 'a fresh install loaded the ruleset'"));
    assert!(install.contains("To enable the kill switch"), "no hint on a fresh install:\n{install}");
    let user = account(&chroot, "/etc/passwd", "tunnel").expect("no user tunnel");
    let group = account(&chroot, "/etc/group", "tunnel").expect("no group tunnel");
    assert_eq!((user[3].as_str(), user[5].as_str(), user[6].as_str()), (group[2].as_str(), "/nonexistent", "/usr/sbin/nologin"));
    assert!(user[2].parse::<u32>().expect("numeric uid") < 1000, "tunnel is not a system user: {user:?}");
    for (path, _) in FILES {
        assert!(chroot.path(path).is_file(), "{path} is not installed");
    }
    // The guard's unit is enabled (dh_installsystemd, through deb-systemd-helper); in the
    // chroot no systemd runs to start it.
    let wants = "/etc/systemd/system/multi-user.target.wants/vpn-firewall-guard.service";
    let enabled = run(&chroot, &format!("readlink {wants} || true"));
    // Bookworm's debhelper links the unit's /lib name, trixie's its /usr/lib name: one file.
    let targets = ["/lib/systemd/system/vpn-firewall-guard.service", "/usr/lib/systemd/system/vpn-firewall-guard.service"];
    assert!(enabled.lines().any(|l| targets.contains(&l)), "the guard's unit is not enabled ({wants}):\n{enabled}");

    // netfilter-persistent drives the plugin: start loads, save keeps, flush removes; an invalid
    // configuration fails start (and loads the lockdown ruleset); the plugin reads
    // /etc/default/netfilter-persistent.
    let plugin = run(
        &chroot,
        r#"
        netfilter-persistent start
        loaded || fail "netfilter-persistent start did not load the ruleset"
        netfilter-persistent save
        loaded || fail "netfilter-persistent save removed the ruleset"
        netfilter-persistent flush
        ! loaded || fail "netfilter-persistent flush left the ruleset"

        printf '[tunnel]\nbogus = 1\n' > /etc/vpn-firewall/60-broken.conf
        ! netfilter-persistent start || fail "start succeeded with an invalid configuration"
        vpn-firewall status | grep LOCKDOWN || fail "an invalid configuration at start did not lock down"
        rm /etc/vpn-firewall/60-broken.conf
        netfilter-persistent flush

        mkdir /etc/vpn-firewall-elsewhere
        printf '[tunnel]\nbogus = 1\n' > /etc/vpn-firewall-elsewhere/50-x.conf
        cp /etc/default/netfilter-persistent /tmp/default
        echo VPN_FIREWALL_CONFIG_DIR=/etc/vpn-firewall-elsewhere >> /etc/default/netfilter-persistent
        ! netfilter-persistent start 2> /tmp/stderr || fail "VPN_FIREWALL_CONFIG_DIR was ignored"
        grep '/etc/vpn-firewall-elsewhere/50-x.conf:2' /tmp/stderr || fail "no FILE:LINE of the other directory"
        mv /tmp/default /etc/default/netfilter-persistent
        rm -r /etc/vpn-firewall-elsewhere
        "#,
    );
    assert!(plugin.contains("35-vpn-firewall exited with return code 2"), "run-parts did not see exit 2:\n{plugin}");

    // An upgrade reloads a loaded ruleset (and does not fail when that fails), and loads none
    // where none was loaded.
    let upgrade = run(
        &chroot,
        &format!(
            r#"
            netfilter-persistent start > /dev/null
            apt-get install -y --reinstall {deb} > /tmp/loaded.log
            loaded || fail "the upgrade removed the ruleset"
            printf '[tunnel]\nbogus = 1\n' > /etc/vpn-firewall/60-broken.conf
            apt-get install -y --reinstall {deb} > /tmp/broken.log 2>&1 || fail "a failed reload failed the upgrade"
            loaded || fail "a failed reload removed the ruleset"
            rm /etc/vpn-firewall/60-broken.conf
            netfilter-persistent flush > /dev/null
            apt-get install -y --reinstall {deb} > /tmp/unloaded.log
            ! loaded || fail "the upgrade loaded a ruleset that was not loaded"
            for log in loaded broken unloaded; do echo "== $log"; cat /tmp/$log.log; done
            "#
        ),
    );
    let log = |name: &str| upgrade.split(&format!("== {name}\n")).nth(1).unwrap_or_default().split("== ").next().unwrap_or_default();
    assert!(log("loaded").contains("vpn-firewall: loaded table inet vpn_firewall"), "the upgrade did not reload:\n{upgrade}");
    assert!(log("broken").contains("warning: reloading the ruleset failed"), "{upgrade}");
    assert!(log("unloaded").contains("To enable the kill switch"), "{upgrade}");

    // Remove takes vpn-firewall's table out, and only it; the configuration stays until purge.
    run(
        &chroot,
        r#"
        netfilter-persistent start > /dev/null
        nft add table inet bystander
        nft add chain inet bystander output '{ type filter hook output priority 0; policy accept; }'
        apt-get remove -y vpn-firewall
        ! loaded || fail "remove left the ruleset loaded"
        nft list chain inet bystander output > /dev/null || fail "remove touched another table"
        "#,
    );
    assert!(!chroot.path("/usr/sbin/vpn-firewall").exists());
    assert!(chroot.path("/etc/vpn-firewall/30-default.conf").is_file(), "remove deleted the conffile");

    // Purge leaves nothing of the package; the user stays (policy: its files may remain).
    std::fs::write(chroot.path("/etc/vpn-firewall/50-local.conf"), "[lan]\ndns = no\n").expect("write a drop-in");
    let directories: Vec<String> = contents(&package.deb).into_iter().filter(|e| e.mode.starts_with('d') && !e.path.is_empty()).map(|e| e.path).collect();
    run(
        &chroot,
        &format!(
            r#"
            apt-get purge -y vpn-firewall
            for dir in {}; do
                [ ! -e "$dir" ] || dpkg-query --search "$dir" > /dev/null || fail "purge left $dir, which no other package has"
            done
            ! dpkg-query --status vpn-firewall 2> /dev/null || fail "dpkg still knows vpn-firewall"
            "#,
            directories.join(" ")
        ),
    );
    for path in FILES.iter().map(|(p, _)| *p).chain(["/etc/vpn-firewall", "/run/vpn-firewall.lock"]) {
        assert!(std::fs::symlink_metadata(chroot.path(path)).is_err(), "purge left {path}");
    }
    assert!(account(&chroot, "/etc/passwd", "tunnel").is_some(), "purge removed the user tunnel");
}

per_release!(
    with_iptables_persistent:
    trixie_with_iptables_persistent_its_plugins_run_first_and_the_ruleset_is_in_place_after_them,
    bookworm_with_iptables_persistent_its_plugins_run_first_and_the_ruleset_is_in_place_after_them
);

fn with_iptables_persistent(release: Release) {
    let chroot = Chroot::new(release);
    let package = built(release);
    let deb = chroot.copy_in(&package.deb);
    let output = run(
        &chroot,
        &format!(
            r#"
            apt-get install -y --no-install-recommends iptables-persistent {deb} > /tmp/install.log
            for v in 4 6; do
                printf '*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -o lo -j ACCEPT\nCOMMIT\n' > /etc/iptables/rules.v$v
            done
            for action in start reload; do
                netfilter-persistent $action
                vpn-firewall status > /dev/null || fail "no vpn-firewall ruleset after netfilter-persistent $action"
                iptables -S OUTPUT | grep -x -- '-A OUTPUT -o lo -j ACCEPT' || fail "iptables-persistent's IPv4 rules are missing"
                ip6tables -S OUTPUT | grep -x -- '-A OUTPUT -o lo -j ACCEPT' || fail "iptables-persistent's IPv6 rules are missing"
            done
            vpn-firewall status
            netfilter-persistent flush
            status=0; vpn-firewall status > /dev/null || status=$?
            [ $status -eq 3 ] || fail "after netfilter-persistent flush, vpn-firewall status exits $status, not 3"
            "#
        ),
    );
    let position = |plugin: &str| {
        output
            .find(&format!("run-parts: executing /usr/share/netfilter-persistent/plugins.d/{plugin} start"))
            .unwrap_or_else(|| panic!("{plugin} did not run:\n{output}"))
    };
    assert!(position("15-ip4tables") < position("25-ip6tables"), "{output}");
    assert!(position("25-ip6tables") < position("35-vpn-firewall"), "{output}");
    assert!(output.contains("the configuration's ruleset, up to date"), "{output}");
}

per_release!(
    openvpn_sandboxed:
    trixie_openvpn_runs_as_tunnel_with_cap_net_admin_alone_in_a_sandbox,
    bookworm_openvpn_runs_as_tunnel_with_cap_net_admin_alone_in_a_sandbox
);

fn openvpn_sandboxed(release: Release) {
    let chroot = Chroot::new(release);
    let package = built(release);
    let deb = chroot.copy_in(&package.deb);
    run(&chroot, &format!("apt-get install -y --no-install-recommends openvpn iproute2 {deb} > /tmp/install.log"));

    // The units with the package's drop-ins, as systemd would load them: at the default log
    // level systemd says only what is wrong; at debug level it also names the drop-ins it read.
    let analyze = |unit: &str, log_level: &str| {
        let out = Command::new(tool("systemd-analyze", "systemd"))
            .args(["security", "--offline=true"])
            .arg("--root")
            .arg(chroot.root())
            .arg(unit)
            .env("SYSTEMD_LOG_LEVEL", log_level)
            .output()
            .expect("cannot run systemd-analyze");
        let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        (said, deb::describe(&format!("systemd-analyze security {unit}"), &out))
    };
    for unit in ["openvpn-client@test.service", "openvpn@test.service", "netfilter-persistent.service"] {
        let (said, report) = analyze(unit, "info");
        let complaints: Vec<&str> = said.lines().filter(|l| l.contains("vpn-firewall.conf:")).collect();
        assert!(complaints.is_empty(), "systemd complains about the drop-in of {unit}: {complaints:#?}");
        let (debug, _) = analyze(unit, "debug");
        let drop_in = format!("{}.d/vpn-firewall.conf", unit.replace("@test", "@"));
        assert!(debug.lines().any(|l| l.contains("DropIn Path:") && l.ends_with(&drop_in)), "{drop_in} is not used:\n{debug}");
        if unit.starts_with("openvpn") {
            assert!(said.contains("✓ User=/DynamicUser="), "{unit} runs as root:\n{report}");
            let capabilities: Vec<&str> = said.lines().filter(|l| l.starts_with("✗ CapabilityBoundingSet=")).collect();
            assert!(capabilities.len() == 1 && capabilities[0].contains("~CAP_NET_ADMIN "), "{unit}: {capabilities:#?}");
            let exposure = said
                .lines()
                .find_map(|l| l.strip_prefix(&format!("→ Overall exposure level for {unit}: ")))
                .unwrap_or_else(|| panic!("no exposure level:\n{report}"));
            let level: f64 = exposure.split_whitespace().next().and_then(|n| n.parse().ok()).expect("a number");
            assert!(level <= 2.5, "{unit} is exposed at {exposure} (the stock unit is at 7.4)");
        } else {
            assert!(debug.contains("Command Line: /usr/sbin/netfilter-persistent reload"), "no ExecReload:\n{debug}");
        }
    }

    // The tmpfiles entries give tunnel OpenVPN's runtime directories, after openvpn's own.
    succeed(Command::new(tool("systemd-tmpfiles", "systemd")).arg("--root").arg(chroot.root()).args(["--create", "openvpn.conf", "vpn-firewall.conf"]))
        .unwrap_or_else(|e| panic!("{e}"));
    let gid: u32 = account(&chroot, "/etc/group", "tunnel").expect("group tunnel")[2].parse().expect("numeric gid");
    for (dir, mode) in [("/run/openvpn", 0o775), ("/run/openvpn-client", 0o770)] {
        let meta = std::fs::metadata(chroot.path(dir)).unwrap_or_else(|e| panic!("{dir}: {e}"));
        assert_eq!((meta.uid(), meta.gid(), meta.permissions().mode() & 0o7777), (0, gid, mode), "{dir}");
    }

    // OpenVPN itself, as tunnel with CAP_NET_ADMIN and nothing else, brings its tunnel up: it
    // creates tun0 and sets its address. Without the capability it cannot.
    let bring_up = |capabilities: &str| {
        chroot.run(&format!(
            r#"
            [ -e /dev/net/tun ] || {{ mkdir -p /dev/net && mknod -m 666 /dev/net/tun c 10 200; }}
            setpriv --reuid=tunnel --regid=tunnel --init-groups --no-new-privs \
                --inh-caps=-all{capabilities} --ambient-caps=-all{capabilities} --bounding-set=-all{capabilities} \
                openvpn --dev tun0 --dev-type tun --ifconfig 192.0.2.1 192.0.2.2 --remote 198.51.100.7 1194 udp \
                --verb 3 > /tmp/openvpn.log 2>&1 &
            for i in $(seq 50); do ip -4 addr show dev tun0 2> /dev/null | grep -q 'inet 192.0.2.1' && break; sleep 0.1; done
            cat /tmp/openvpn.log
            ip -4 addr show dev tun0 | grep 'inet 192.0.2.1 peer 192.0.2.2'
            "#
        ))
    };
    let up = bring_up(",+net_admin");
    assert!(up.out.status.success(), "OpenVPN could not bring tun0 up with CAP_NET_ADMIN:\n{up}");
    let down = bring_up("");
    assert!(!down.out.status.success() && down.output().contains("Operation not permitted"), "{down}");
}
