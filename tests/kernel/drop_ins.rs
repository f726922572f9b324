//! Drop-ins that are no readable regular files, at `start`: an error naming the file, exit 2,
//! in bounded time; a loaded ruleset stays exactly as it was, and with none loaded the lockdown
//! is. Skipping such a file would load a looser ruleset (its `servers` gone); reading a FIFO or
//! `/proc/kmsg` would hang `start` at boot with nothing loaded and the lock held.

use crate::common::{Backend, ConfigDir, Netns, Run, config};
use std::os::unix::fs::symlink;
use std::path::Path;
use std::time::{Duration, Instant};

/// Longer than any `start` on a good day, far shorter than the tests' own command timeout.
const BOUNDED: Duration = Duration::from_secs(15);

type Make = fn(&Path, &Path);

/// Each kind of entry, made at the path given (the second path: a directory that is not there,
/// as a mount that is not there yet at boot), and what the error says it is.
const ENTRIES: [(&str, Make, &str); 3] = [
    (
        "60-servers.conf",
        |entry, absent| symlink(absent.join("60-servers.conf"), entry).expect("symlink"),
        "is a dangling link to /nonexistent/vpn-firewall-mount/60-servers.conf",
    ),
    ("60-fifo.conf", |entry, _| nix::unistd::mkfifo(entry, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo"), "is a FIFO"),
    ("60-kmsg.conf", |entry, _| symlink("/proc/kmsg", entry).expect("symlink"), "kernel's proc filesystem"),
];

/// `start`, which must fail with exit 2 in bounded time, naming `entry` as `says` on an error line.
fn refused_start(ns: &Netns, conf: &ConfigDir, entry: &Path, says: &str) -> Run {
    let begun = Instant::now();
    let run = ns.firewall(conf.path(), "start");
    let took = begun.elapsed();
    assert!(took < BOUNDED, "start took {took:?} with {}:\n{run}", entry.display());
    let run = run.expect(2);
    let named = format!("vpn-firewall: error: {}: ", entry.display());
    assert!(run.error_lines().iter().any(|l| l.starts_with(&named) && l.contains(says)), "start does not say {named}...{says}:\n{run}");
    run
}

fn a_drop_in_that_is_no_regular_file_keeps_the_loaded_rules_or_locks_down(backend: Backend) {
    let ns = Netns::host("dropin", backend);
    let conf = ConfigDir::new(config(""));
    let absent = Path::new("/nonexistent/vpn-firewall-mount");
    for (name, make, says) in ENTRIES {
        let entry = conf.path().join(name);
        make(&entry, absent);
        let run = refused_start(&ns, &conf, &entry, says);
        assert_eq!(ns.firewall_objects(), backend.loaded_objects(), "no lockdown at a first start with {name}:\n{run}");
        let status = ns.firewall(conf.path(), "status").expect(0);
        assert!(status.stdout.contains("LOCKDOWN"), "status does not say LOCKDOWN with {name}:\n{status}");
        std::fs::remove_file(&entry).expect("remove the entry");

        ns.firewall(conf.path(), "start").expect(0);
        let before = ns.ruleset();
        make(&entry, absent);
        let run = refused_start(&ns, &conf, &entry, says);
        assert_eq!(ns.ruleset(), before, "start with {name} changed the loaded ruleset:\n{run}");
        let status = ns.firewall(conf.path(), "status").expect(0);
        assert!(!status.stdout.contains("LOCKDOWN"), "the loaded ruleset was replaced by the lockdown with {name}:\n{status}");
        std::fs::remove_file(&entry).expect("remove the entry");
        ns.firewall(conf.path(), "flush").expect(0);
    }
}

backend_tests! {
    every: [a_drop_in_that_is_no_regular_file_keeps_the_loaded_rules_or_locks_down],
    iptables: [],
}
