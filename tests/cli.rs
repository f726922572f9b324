//! The command line as the contract fixes it: exit codes, messages, `check` and `show` output,
//! the configuration directory, help and argument errors.
//!
//! Every invocation runs in a fresh, empty network namespace (see `sandbox`): these commands do
//! not touch the kernel, but should a regression make one of them do so, it touches a throwaway
//! firewall, never the one of the machine running the tests. The one kernel command tested,
//! `start` (and its kin) without root, runs there as an unprivileged user.

#[path = "cli/clients.rs"]
mod clients;
#[path = "cli/qubes.rs"]
mod qubes;
mod sandbox;

use assert_cmd::Command;
use predicates::prelude::*;
use std::path::{Path, PathBuf};
use tempfile::TempDir;
use vpn_firewall::accounts::SystemAccounts;
use vpn_firewall::config::RawConfig;
use vpn_firewall::config::schema::KEYS;
use vpn_firewall::policy::Policy;
use vpn_firewall::render_iptables::{ipsets, render_all};
use vpn_firewall::render_nft::render_nft;
use vpn_firewall::settings::Settings;

const BIN: &str = env!("CARGO_BIN_EXE_vpn-firewall");

/// `vpn-firewall ARGS` in a fresh network namespace, with no configuration directory (nor test
/// root) from the environment unless the test sets one.
fn vpn_firewall(args: &[&str]) -> Command {
    let mut cmd = Command::from_std(sandbox::in_netns(BIN));
    cmd.args(args).env_remove("VPN_FIREWALL_CONFIG_DIR").env_remove("VPN_FIREWALL_ROOT");
    cmd
}

/// `vpn-firewall --config-dir DIR ARGS`.
fn with_config(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = vpn_firewall(&["--config-dir", dir.to_str().expect("UTF-8 temporary path")]);
    cmd.args(args);
    cmd
}

/// The shipped configuration directory, etc/vpn-firewall of the source tree.
fn shipped() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("etc/vpn-firewall")
}

/// A configuration directory holding `files` (name, text).
fn config_dir(files: &[(&str, &str)]) -> TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("write a drop-in");
    }
    dir
}

/// One `key = value  # note` line of `check`'s output, with the section it stands in.
#[derive(Debug)]
struct Effective {
    section: String,
    key: String,
    value: String,
    note: String,
}

fn parse_check(stdout: &str) -> Vec<Effective> {
    let mut section = String::new();
    let mut out = Vec::new();
    for line in stdout.lines().filter(|l| !l.is_empty() && !l.starts_with('#')) {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_string();
            continue;
        }
        let (setting, note) = line.split_once(" # ").unwrap_or_else(|| panic!("no origin in {line:?}"));
        let (key, value) = setting.split_once('=').unwrap_or_else(|| panic!("not key = value: {line:?}"));
        out.push(Effective { section: section.clone(), key: key.trim().to_string(), value: value.trim().to_string(), note: note.to_string() });
    }
    out
}

/// Runs `check`, which must succeed, and returns the settings it printed.
fn effective(mut check: Command) -> Vec<Effective> {
    let out = check.assert().code(0).get_output().stdout.clone();
    parse_check(&String::from_utf8(out).expect("UTF-8 output"))
}

/// `check` of `dir`'s settings.
fn check(dir: &Path) -> Vec<Effective> {
    effective(with_config(dir, &["check"]))
}

fn find<'a>(all: &'a [Effective], section: &str, key: &str) -> &'a Effective {
    all.iter().find(|e| e.section == section && e.key == key).unwrap_or_else(|| panic!("check printed no [{section}] {key}: {all:?}"))
}

#[test]
fn check_of_the_shipped_configuration_prints_every_key_as_default() {
    let all = check(&shipped());
    assert_eq!(all.len(), KEYS.len(), "one line per known key: {all:?}");
    // The default VPN user exists only where the package (or the leak suite) created it; where
    // it does not, the effective value is empty: no process is exempt.
    let default_user_exists = nix::unistd::User::from_name("tunnel").expect("reading the user database").is_some();
    for spec in KEYS {
        let e = find(&all, spec.section, spec.key);
        let missing_user = (spec.section, spec.key) == ("tunnel", "user") && !default_user_exists;
        let expected = if missing_user { "" } else { spec.default };
        if (spec.section, spec.key) == ("lan", "dhcp_users") {
            // The DHCP clients' users that exist here; the others are skipped.
            let exists = |n: &&str| nix::unistd::User::from_name(n).expect("reading the user database").is_some();
            assert_eq!(e.value, spec.default.split(' ').filter(exists).collect::<Vec<_>>().join(" "), "{e:?}");
            continue;
        }
        assert_eq!(e.value, expected, "[{}] {}", spec.section, spec.key);
        if missing_user {
            assert!(e.note.starts_with("default; does not exist"), "{e:?}");
        }
        // The default user's note adds its uid, or that it does not exist on this machine.
        assert!(e.note == "default" || e.note.starts_with("default; "), "{e:?}");
    }
}

#[test]
fn check_names_the_file_and_line_of_each_value_and_ignores_other_files() {
    let dir = config_dir(&[
        ("10-early.conf", "[lan]\nallow = 10.0.0.0/8\n"),
        ("50-local.conf", "# mine\n[lan]\nallow = 192.168.1.0/24\n\n[firewall]\nlog = no\n"),
        ("60-old.conf.dpkg-old", "[lan]\nallow = 203.0.113.0/24\n"),
        ("70-backup.conf~", "not even INI\n"),
    ]);
    let all = check(dir.path());
    let local = dir.path().join("50-local.conf");
    let allow = find(&all, "lan", "allow");
    assert_eq!((allow.value.as_str(), allow.note.clone()), ("192.168.1.0/24", format!("{}:3", local.display())));
    assert_eq!(find(&all, "firewall", "log").note, format!("{}:6", local.display()));
    assert_eq!(find(&all, "lan", "dns").note, "default");

    with_config(dir.path(), &["check"]).assert().stdout(
        predicate::str::contains(format!("# read {}", dir.path().join("10-early.conf").display()))
            .and(predicate::str::contains(format!("# read {}", local.display())))
            .and(predicate::str::contains("dpkg-old").not())
            .and(predicate::str::contains("backup").not()),
    );
}

#[test]
fn check_prints_the_dhcp_users_uids_skips_a_missing_default_and_refuses_a_missing_name() {
    let dir = config_dir(&[("50-dhcp.conf", "[lan]\ndhcp_users = root 4242\n")]);
    let users = find(&check(dir.path()), "lan", "dhcp_users").note.clone();
    assert_eq!(users, format!("{}:2; uids 0 4242", dir.path().join("50-dhcp.conf").display()));

    let dir = config_dir(&[("50-dhcp.conf", "[lan]\ndhcp_users =\n")]);
    assert!(find(&check(dir.path()), "lan", "dhcp_users").note.ends_with("; no process may send DHCP"));

    // The shipped default names dhcpcd's user, which exists only where dhcpcd is installed:
    // skipped without a warning (most machines run one of the clients), listed in the note.
    let has_dhcpcd = nix::unistd::User::from_name("dhcpcd").expect("reading the user database").is_some();
    with_config(&shipped(), &["check"]).assert().code(0).stderr(predicate::str::contains("dhcp_users").not());
    let note = find(&check(&shipped()), "lan", "dhcp_users").note.clone();
    assert_eq!(note.ends_with("; not on this machine, skipped: dhcpcd"), !has_dhcpcd, "{note}");

    let dir = config_dir(&[("50-dhcp.conf", "[lan]\ndhcp_users = root no-such-user-vpn-firewall\n")]);
    with_config(dir.path(), &["check"]).assert().code(2).stdout("").stderr(predicate::str::contains(format!(
        "vpn-firewall: error: {}:2: [lan] dhcp_users: user \"no-such-user-vpn-firewall\" does not exist",
        dir.path().join("50-dhcp.conf").display()
    )));
}

#[test]
fn check_names_legacy_keys_as_legacy() {
    let dir = config_dir(&[("50-old.conf", "VPN_INTERFACE=\"tun0\"\nLOCAL_NET=\"10.0.0.0/8 192.168.1.0/24\"\n")]);
    let all = check(dir.path());
    let file = dir.path().join("50-old.conf");
    let allow = find(&all, "lan", "allow");
    assert_eq!(allow.value, "10.0.0.0/8 192.168.1.0/24", "quotes stripped");
    assert_eq!(allow.note, format!("{}:2 (legacy LOCAL_NET)", file.display()));
    let interfaces = find(&all, "tunnel", "interfaces");
    assert_eq!(
        (interfaces.value.as_str(), interfaces.note.clone()),
        ("tun0", format!("{}:1 (legacy VPN_INTERFACE); only interfaces of link type link/none, link/ppp", file.display()))
    );
}

#[test]
fn check_says_which_link_types_count_as_the_tunnel() {
    let dir = config_dir(&[("50-tap.conf", "[tunnel]\ninterfaces = tap0\ntap = yes\n")]);
    let all = check(dir.path());
    let file = dir.path().join("50-tap.conf");
    assert_eq!(find(&all, "tunnel", "interfaces").note, format!("{}:2; only interfaces of link type link/none, link/ppp, link/ether", file.display()));
    assert_eq!((find(&all, "tunnel", "tap").value.as_str(), find(&all, "tunnel", "tap").note.clone()), ("yes", format!("{}:3", file.display())));
}

#[test]
fn show_prints_the_transaction_start_would_load() {
    let dir = config_dir(&[("50-local.conf", "[lan]\nallow = 192.168.1.0/24\n[tunnel]\nincoming = 22/tcp\n")]);
    let out = with_config(dir.path(), &["show"]).assert().code(0).get_output().stdout.clone();
    let text = String::from_utf8(out).expect("UTF-8 output");

    let statements: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).take(3).collect();
    assert_eq!(statements, ["table inet vpn_firewall", "delete table inet vpn_firewall", "table inet vpn_firewall {"]);

    // Exactly what the library renders for the same directory (with this machine's accounts).
    let raw = RawConfig::load(dir.path()).expect("valid");
    let settings = Settings::validate(&raw, &SystemAccounts).expect("valid").settings;
    assert_eq!(text, render_nft(&Policy::from_settings(&settings)));
}

/// `stderr` without its warning lines: the errors.
fn errors(stderr: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(stderr);
    text.lines().filter(|l| !l.starts_with("vpn-firewall: warning: ")).map(str::to_string).collect()
}

/// The line numbers of the errors, each of which must be `vpn-firewall: error: FILE:LINE: message`.
fn error_lines(errors: &[String], file: &Path) -> Vec<usize> {
    let prefix = format!("vpn-firewall: error: {}:", file.display());
    errors
        .iter()
        .map(|l| {
            let rest = l.strip_prefix(&prefix).unwrap_or_else(|| panic!("not `{prefix}LINE: ...`: {l:?}"));
            let (line, message) = rest.split_once(": ").unwrap_or_else(|| panic!("no message: {l:?}"));
            assert!(!message.is_empty(), "{l:?}");
            line.parse().unwrap_or_else(|_| panic!("no line number: {l:?}"))
        })
        .collect()
}

#[test]
fn an_invalid_configuration_exits_2_with_one_error_line_per_problem() {
    let cases: &[(&str, &[usize], &str)] = &[
        ("[lan]\nallow = 10.0.0.0/33\ndns = perhaps\n", &[2, 3], "perhaps"),
        ("[lan]\nallow 10.0.0.0/8\n", &[2], "cannot parse"),
        // Said once, at the section's own line, even when it holds no key.
        ("# typo\n[tunel]\nuser = x\ngroup = y\n", &[2], "did you mean [tunnel]?"),
        ("[lan]\n[tunel]\n# nothing else\n", &[2], "did you mean [tunnel]?"),
        ("[tunnel]\ninterface = tun0\n", &[2], "did you mean interfaces?"),
        ("[tunnel]\nuser = no-such-user-vpn-firewall\n", &[2], "does not exist"),
        ("[forward]\nenable = yes\n", &[2], "interfaces is empty"),
        ("LOCAL_NETS=10.0.0.0/8\n", &[1], "did you mean LOCAL_NET?"),
    ];
    for (text, lines, fragment) in cases {
        let dir = config_dir(&[("50-bad.conf", text)]);
        for command in ["check", "show"] {
            let assert = with_config(dir.path(), &[command]).assert().code(2).stdout("");
            let errors = errors(&assert.get_output().stderr);
            assert_eq!(error_lines(&errors, &dir.path().join("50-bad.conf")), *lines, "{command} of {text:?}: {errors:#?}");
            assert!(errors.iter().any(|e| e.contains(fragment)), "{command} of {text:?} does not say {fragment:?}: {errors:#?}");
        }
    }
}

#[test]
fn one_run_reports_unknown_names_and_malformed_values_together() {
    let dir = config_dir(&[("10-a.conf", "[lan]\nalow = 10.0.0.0/8\ndns = perhaps\n"), ("20-b.conf", "[tunnel]\nfwmark = 0\n[tunel]\nuser = x\n")]);
    let (a, b) = (dir.path().join("10-a.conf"), dir.path().join("20-b.conf"));
    for command in ["check", "show"] {
        let assert = with_config(dir.path(), &[command]).assert().code(2).stdout("");
        let errors = errors(&assert.get_output().stderr);
        // The names first, in file order, then the values, in file order.
        let want = [
            (&a, 2, "unknown key \"alow\" in [lan]; did you mean allow?"),
            (&b, 3, "unknown section [tunel]; did you mean [tunnel]?"),
            (&a, 3, "[lan] dns: \"perhaps\" is not a boolean"),
            (&b, 2, "[tunnel] fwmark: fwmark \"0\" would match every unmarked packet"),
        ];
        assert_eq!(errors.len(), want.len(), "{command}: {errors:#?}");
        for (error, (file, line, message)) in errors.iter().zip(want) {
            let prefix = format!("vpn-firewall: error: {}:{line}: {message}", file.display());
            assert!(error.starts_with(&prefix), "{command}: {error:?} is not {prefix:?}…");
        }
    }
}

#[test]
fn the_config_dir_comes_from_the_option_or_the_environment_and_the_option_wins() {
    let good = config_dir(&[("50-local.conf", "[lan]\ndns = yes\n")]);
    let bad = config_dir(&[("50-local.conf", "[lan]\ndns = perhaps\n")]);
    let origin = format!("{}:2", good.path().join("50-local.conf").display());

    let mut from_env = vpn_firewall(&["check"]);
    from_env.env("VPN_FIREWALL_CONFIG_DIR", good.path());
    assert_eq!(find(&effective(from_env), "lan", "dns").note, origin);
    assert_eq!(find(&check(good.path()), "lan", "dns").note, origin);

    with_config(good.path(), &["check"]).env("VPN_FIREWALL_CONFIG_DIR", bad.path()).assert().code(0);
    with_config(bad.path(), &["check"]).env("VPN_FIREWALL_CONFIG_DIR", good.path()).assert().code(2);
}

#[test]
fn a_missing_config_dir_exits_2_and_names_it() {
    let parent = tempfile::tempdir().expect("temporary directory");
    let missing = parent.path().join("missing");
    for command in ["check", "show"] {
        with_config(&missing, &[command])
            .assert()
            .code(2)
            .stdout("")
            .stderr(predicate::str::starts_with(format!("vpn-firewall: error: {}: cannot read the configuration directory", missing.display())));
    }
}

/// Longest `check` or `show` may take on a directory that holds something that blocks on read:
/// a regression then fails the test instead of hanging it.
const NO_HANG: std::time::Duration = std::time::Duration::from_secs(10);

/// Runs `check` and `show` on `dir`: each must exit 2 within `NO_HANG`, print nothing, and say
/// on an error line that `entry` is `says`.
fn assert_refused(dir: &Path, entry: &Path, says: &str, as_nobody: Option<&Path>) {
    for command in ["check", "show"] {
        let mut cmd = match as_nobody {
            Some(bin) => {
                let mut cmd = Command::from_std(sandbox::unprivileged_in_netns(bin));
                cmd.env_remove("VPN_FIREWALL_CONFIG_DIR").args(["--config-dir", dir.to_str().expect("UTF-8 path"), command]);
                cmd
            }
            None => with_config(dir, &[command]),
        };
        let begun = std::time::Instant::now();
        let out = cmd.timeout(NO_HANG).output().expect("cannot run vpn-firewall");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{command} with {} (after {:?}):\n{stderr}", entry.display(), begun.elapsed());
        assert!(out.stdout.is_empty(), "{command} printed a configuration or ruleset:\n{}", String::from_utf8_lossy(&out.stdout));
        let line = format!("vpn-firewall: error: {}: {says}", entry.display());
        assert!(stderr.lines().any(|l| l.starts_with(&line)), "{command} does not say {line:?}:\n{stderr}");
    }
}

#[test]
fn a_drop_in_that_is_no_readable_regular_file_exits_2_naming_it_and_never_hangs() {
    use std::os::unix::fs::symlink;
    // The drop-in that pins the VPN client to its servers, through a link to a mount that is
    // not there (yet): skipping it would let the client reach any address.
    let mount = tempfile::tempdir().expect("temporary directory");
    let target = mount.path().join("50-local.conf");
    std::fs::write(&target, "[tunnel]\nservers = 198.51.100.1:1194/udp\n").expect("write the target");
    let dir = config_dir(&[("10-base.conf", "[lan]\ndns = yes\n")]);
    let entry = dir.path().join("50-local.conf");
    symlink(&target, &entry).expect("symlink");
    with_config(dir.path(), &["check"]).assert().code(0);
    std::fs::remove_file(&target).expect("remove the target");
    assert_refused(dir.path(), &entry, &format!("is a dangling link to {} (its target does not exist)", target.display()), None);
    std::fs::remove_file(&entry).expect("remove the link");

    let fifo = dir.path().join("50-fifo.conf");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o644)).expect("mkfifo");
    // Blocks on open and on read: nothing writes to it.
    assert_refused(dir.path(), &fifo, "is a FIFO (named pipe)", None);
    std::fs::remove_file(&fifo).expect("remove the FIFO");

    type Make = fn(&Path);
    let cases: [(&str, Make, &str); 5] = [
        // Blocks on read, and takes from the system log what it returns.
        ("50-kmsg.conf", |p| symlink("/proc/kmsg", p).expect("symlink"), "is a link to /proc/kmsg, which is a file of the kernel's proc filesystem"),
        ("50-loop.conf", |p| symlink(p, p).expect("symlink"), "is a link to "),
        ("50-dir.conf", |p| std::fs::create_dir(p).expect("mkdir"), "is a directory"),
        ("50-zero.conf", |p| symlink("/dev/zero", p).expect("symlink"), "is a link to /dev/zero, which is a character device"),
        ("50-tty.conf", |p| symlink("/dev/tty", p).expect("symlink"), "is a link to /dev/tty, which is a character device"),
    ];
    for (name, make, says) in cases {
        let entry = dir.path().join(name);
        make(&entry);
        assert_refused(dir.path(), &entry, says, None);
        if entry.is_dir() { std::fs::remove_dir(&entry) } else { std::fs::remove_file(&entry) }.expect("remove the entry");
    }
    // Names that are no drop-ins are still ignored, whatever they are.
    symlink("/nonexistent/lock", dir.path().join(".#50-local.conf")).expect("symlink");
    symlink("/nonexistent/old", dir.path().join("50-local.conf.dpkg-old")).expect("symlink");
    with_config(dir.path(), &["check"]).assert().code(0);
}

#[test]
fn an_unreadable_drop_in_exits_2_naming_it() {
    // Root reads a mode 000 file, so the commands run as an unprivileged user, from a copy of
    // the binary that user may run.
    use std::os::unix::fs::PermissionsExt;
    let bin_dir = tempfile::tempdir().expect("temporary directory");
    let bin = bin_dir.path().join("vpn-firewall");
    std::fs::copy(BIN, &bin).expect("copy the binary");
    let dir = config_dir(&[("10-base.conf", "[lan]\ndns = yes\n"), ("50-secret.conf", "[tunnel]\nservers = 198.51.100.1:1194/udp\n")]);
    for (path, mode) in [(bin_dir.path(), 0o755), (dir.path(), 0o755), (&dir.path().join("10-base.conf"), 0o644), (&dir.path().join("50-secret.conf"), 0o000)] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }
    assert_refused(dir.path(), &dir.path().join("50-secret.conf"), "cannot open: Permission denied", Some(&bin));
}

#[test]
fn stop_and_save_exit_0_and_say_what_they_do_without_reading_the_configuration() {
    let parent = tempfile::tempdir().expect("temporary directory");
    let missing = parent.path().join("missing");
    with_config(&missing, &["stop"])
        .assert()
        .code(0)
        .stderr("")
        .stdout(predicate::str::contains("keeps the ruleset loaded").and(predicate::str::contains("vpn-firewall flush")));
    with_config(&missing, &["save"]).assert().code(0).stderr("").stdout(predicate::str::contains("nothing to save"));
}

#[test]
fn help_of_the_program_and_of_every_command_exits_0_and_shows_an_example() {
    let commands = ["start", "restart", "reload", "stop", "flush", "save", "status", "check", "show", "selftest"];
    let invocations = std::iter::once(vec!["--help"]).chain(commands.iter().map(|c| vec![*c, "--help"]));
    for args in invocations {
        vpn_firewall(&args).assert().code(0).stderr("").stdout(predicate::str::contains("Example"));
    }
    vpn_firewall(&["--help"]).assert().stdout(predicate::str::contains("Exit codes"));
}

#[test]
fn version_exits_0() {
    vpn_firewall(&["--version"]).assert().code(0).stdout(format!("vpn-firewall {}\n", env!("CARGO_PKG_VERSION")));
}

#[test]
fn usage_errors_exit_2_with_one_error_line() {
    let cases: &[(&[&str], &str)] = &[(&["bogus"], "bogus"), (&["--backend", "pf", "show"], "pf"), (&["check", "--frobnicate"], "--frobnicate")];
    for (args, fragment) in cases {
        let assert = vpn_firewall(args).assert().code(2).stdout("");
        let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
        assert_eq!(stderr.lines().count(), 1, "{args:?}:\n{stderr}");
        assert!(stderr.starts_with("vpn-firewall: error: ") && stderr.contains(fragment), "{args:?}:\n{stderr}");
    }
    // No command at all: the usage, on stderr.
    vpn_firewall(&[]).assert().code(2).stdout("").stderr(predicate::str::contains("Usage:"));
}

#[test]
fn show_prints_the_iptables_input_when_the_backend_is_iptables() {
    let plain = config_dir(&[("50-local.conf", "[lan]\nallow = 192.168.1.0/24\n")]);
    let configured = config_dir(&[("50-local.conf", "[lan]\nallow = 192.168.1.0/24\n[firewall]\nbackend = iptables\n")]);
    let outputs: Vec<String> = [with_config(plain.path(), &["--backend", "iptables", "show"]), with_config(configured.path(), &["show"])]
        .into_iter()
        .map(|mut cmd| String::from_utf8(cmd.assert().code(0).get_output().stdout.clone()).expect("UTF-8 output"))
        .collect();
    // Exactly what the library renders, as with ipset installed or not, as it is here.
    let raw = RawConfig::load(configured.path()).expect("valid");
    let policy = Policy::from_settings(&Settings::validate(&raw, &SystemAccounts).expect("valid").settings);
    let ipset_here = ["/usr/sbin/ipset", "/sbin/ipset"].iter().any(|p| Path::new(p).exists());
    assert_eq!(outputs[1], render_all(&policy, &ipsets(&policy, ipset_here)));
    assert_eq!(outputs[0], outputs[1], "--backend iptables and [firewall] backend = iptables show the same");
    let commits: Vec<&str> = outputs[0].lines().filter(|l| l.starts_with('*') || *l == "COMMIT").collect();
    assert_eq!(commits, ["*filter", "COMMIT", "*mangle", "COMMIT", "*filter", "COMMIT", "*mangle", "COMMIT"], "IPv4 then IPv6, each filter and mangle");
    assert!(outputs[0].contains("-A VPN_FIREWALL_OUTPUT -d 192.168.1.0/24 -m comment --comment \"the LAN\" -j ACCEPT"), "{}", outputs[0]);
    // --backend overrides the configuration.
    let nft = with_config(configured.path(), &["--backend", "nftables", "show"]).assert().code(0).get_output().stdout.clone();
    assert_eq!(String::from_utf8(nft).expect("UTF-8 output"), render_nft(&policy));
}

#[test]
fn kernel_commands_without_root_fail_saying_they_need_root() {
    // A copy any user may run, wherever the build tree is.
    let dir = tempfile::tempdir().expect("temporary directory");
    let bin = dir.path().join("vpn-firewall");
    std::fs::copy(BIN, &bin).expect("copy the binary");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");

    for (command, code) in [("start", 1), ("restart", 1), ("reload", 1), ("flush", 1), ("status", 4), ("selftest", 1)] {
        let mut cmd = Command::from_std(sandbox::unprivileged_in_netns(&bin));
        cmd.env_remove("VPN_FIREWALL_CONFIG_DIR").args(["--config-dir", shipped().to_str().expect("UTF-8 path"), command]);
        cmd.assert().code(code).stdout("").stderr(predicate::str::contains("needs root").and(predicate::str::starts_with("vpn-firewall: error: ")));
    }
}

#[test]
fn check_prints_values_as_they_take_effect() {
    let dir = config_dir(&[(
        "50-local.conf",
        "[lan]\nallow = 192.168.1.7/24, 10.0.0.0/9 10.128.0.0/9\nincoming = 22/tcp 22/tcp\n[tunnel]\nfwmark = 51820\nuser =\n",
    )]);
    let all = check(dir.path());
    assert_eq!(find(&all, "lan", "allow").value, "10.0.0.0/8 192.168.1.0/24", "host bits cleared, halves merged");
    assert_eq!(find(&all, "lan", "incoming").value, "22/tcp", "duplicates dropped");
    assert_eq!(find(&all, "tunnel", "fwmark").value, "0xca6c");
    assert_eq!(find(&all, "tunnel", "user").value, "", "emptied");
}
