//! A command whose reader went away (`vpn-firewall status | head -1`) does all its work and ends
//! quietly, with its own exit code: no panic, no backtrace. So does one whose stderr's reader
//! went away, which could end a first `start` before it loaded the lockdown. SIGPIPE stays
//! ignored (a write to an `nft` that died must be an error `start` handles, not a signal that
//! kills it), so every write handles the broken pipe. And the guard outlives clients that go
//! away before they read its answer. On the real kernel, in a namespace of its own.

mod common;

use assert_cmd::prelude::*;
use common::guard::Guard;
use common::{Backend, ConfigDir, Netns, binary, config};
use std::io::Write;
use std::process::{Output, Stdio};
use std::time::Duration;

/// Runs vpn-firewall `command` in `ns` with its stdout a pipe whose reading end is closed: its
/// first write fails with EPIPE.
fn with_closed_stdout(ns: &Netns, conf: &ConfigDir, command: &str) -> Output {
    closed(ns, conf, command, false)
}

/// As `with_closed_stdout`, with stderr on the same closed pipe (`vpn-firewall start 2>&1 |
/// head -1` after head has gone).
fn with_closed_output(ns: &Netns, conf: &ConfigDir, command: &str) -> Output {
    closed(ns, conf, command, true)
}

fn closed(ns: &Netns, conf: &ConfigDir, command: &str, stderr_too: bool) -> Output {
    let (reading, writing) = nix::unistd::pipe().expect("a pipe");
    drop(reading);
    let mut cmd = ns.command(binary());
    ns.backend().select(&mut cmd);
    cmd.arg("--config-dir").arg(conf.path()).arg(command);
    let stderr = if stderr_too { Stdio::from(writing.try_clone().expect("dup the pipe")) } else { Stdio::piped() };
    cmd.stdin(Stdio::null()).stdout(Stdio::from(writing)).stderr(stderr);
    cmd.output().expect("cannot run vpn-firewall")
}

/// `start`, `status` and `flush`, by themselves and through a guard, with nobody reading.
#[test]
fn commands_whose_reader_went_away_finish_quietly() {
    let ns = Netns::host("pipe", Backend::Nftables);
    let conf = ConfigDir::new(config(""));
    let mut guard: Option<Guard> = None;
    for _ in 0..2 {
        let through = if guard.is_some() { "through the guard" } else { "by itself" };
        with_closed_stdout(&ns, &conf, "start").assert().code(0).stderr("");
        let tables = ns.tables();
        assert!(tables.iter().any(|t| t == "inet vpn_firewall"), "start {through} did not load its table: {tables:?}");
        let owned = ns.nft(&["list", "table", "inet", "vpn_firewall"]).contains("flags owner");
        assert_eq!(owned, guard.is_some(), "start {through}: {tables:?}");
        with_closed_stdout(&ns, &conf, "status").assert().code(0).stderr("");
        with_closed_stdout(&ns, &conf, "flush").assert().code(0).stderr("");
        assert!(!ns.tables().iter().any(|t| t.contains("vpn_firewall")), "flush {through} left tables: {:?}", ns.tables());
        with_closed_stdout(&ns, &conf, "status").assert().code(3).stderr("");
        // Started with nothing loaded, it stands by; the next round goes through it.
        guard.get_or_insert_with(|| Guard::start(&ns, &conf));
    }
}

/// A client that sends its request and closes at once: the guard's answer meets a closed
/// socket (EPIPE), which must not end the guard (no SIGPIPE: it sends with MSG_NOSIGNAL).
#[test]
fn the_guard_outlives_clients_that_leave_before_its_answer() {
    let ns = Netns::host("gpipe", Backend::Nftables);
    let conf = ConfigDir::new(config(""));
    let mut guard = Guard::start(&ns, &conf);
    ns.firewall(conf.path(), "start").expect(0);
    for _ in 0..5 {
        let mut client = common::guard::connect(&ns);
        client.write_all(b"{\"command\": \"status\"}\n").expect("cannot send a request");
    }
    let unanswered = || guard.log().matches("cannot answer a request").count();
    assert!(common::poll(Duration::from_secs(2), || unanswered() >= 1), "the guard met no closed client (the test proves nothing); its log:\n{}", guard.log());
    assert_eq!(guard.process.exited(), None, "the guard ended; its log:\n{}", guard.log());
    let status = ns.firewall(conf.path(), "status").expect(0);
    assert!(status.stdout.contains("guard:     running"), "{status}");
}

/// An invalid configuration at the first start, with nobody reading stderr: its errors are said
/// first, and a write that fails there must not end `start` before it loads the lockdown
/// ruleset (a panic would leave the machine open with nothing loaded).
#[test]
fn an_invalid_first_start_whose_reader_went_away_still_locks_down() {
    let ns = Netns::host("epipe", Backend::Nftables);
    let conf = ConfigDir::new("[lan]\nallow = 198.51.100.0/33\n");
    let run = with_closed_output(&ns, &conf, "start");
    let tables = ns.nft(&["list", "tables"]);
    let table = if tables.contains("inet vpn_firewall") { ns.nft(&["list", "table", "inet", "vpn_firewall"]) } else { tables };
    assert!(table.contains("comment \"vpn-firewall lockdown"), "no lockdown after an invalid first start with stderr closed ({:?}):\n{table}", run.status);
    run.assert().code(2);
    ns.firewall(conf.path(), "flush").expect(0);
    let conf = ConfigDir::new(config(""));
    with_closed_output(&ns, &conf, "start").assert().code(0);
    with_closed_output(&ns, &conf, "flush").assert().code(0);
    assert!(!ns.tables().iter().any(|t| t.contains("vpn_firewall")), "flush left tables: {:?}", ns.tables());
}
