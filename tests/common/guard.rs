//! A guard (`vpn-firewall guard`) running in a test's namespace, for the guard tests and the
//! leak suite: started, asked, killed by its pid.

use super::{Background, ConfigDir, Netns, binary, poll};
use std::process::Stdio;
use std::time::Duration;

/// A guard running in a namespace, its log (stderr) in a file; killed by its pid when dropped.
pub struct Guard {
    pub process: Background,
    log: tempfile::NamedTempFile,
}

impl Guard {
    /// Starts `vpn-firewall guard` in `ns` and waits until it answers `status`.
    pub fn start(ns: &Netns, conf: &ConfigDir) -> Guard {
        Guard::spawn(ns, conf, false)
    }

    /// As `start`, in a PID namespace of its own (a container's guard): the kernel names the
    /// processes of its notices by their pids outside it. `unshare --kill-child` ends the
    /// guard when it is killed itself.
    pub fn start_in_pid_namespace(ns: &Netns, conf: &ConfigDir) -> Guard {
        Guard::spawn(ns, conf, true)
    }

    fn spawn(ns: &Netns, conf: &ConfigDir, pid_namespace: bool) -> Guard {
        let log = tempfile::Builder::new().prefix("vpnfwk-guard").tempfile().expect("a temporary file");
        let mut cmd = if pid_namespace {
            super::require_tools(&[("unshare", "util-linux")]);
            let mut cmd = ns.command("unshare");
            cmd.args(["--pid", "--fork", "--kill-child"]).arg(binary());
            cmd
        } else {
            ns.command(binary())
        };
        ns.backend().host_iptables(&mut cmd);
        ns.backend().select(&mut cmd);
        cmd.arg("--config-dir").arg(conf.path()).arg("guard").args(ns.backend().guard_args());
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(log.reopen().expect("the log file"));
        let mut guard = Guard { process: Background::spawn(cmd), log };
        // Before it answers it takes the lock that every vpn-firewall on the machine shares,
        // whatever its namespace (see src/lock.rs, which gives up after 30 s): beside the other
        // tests' loads of 30 000 networks by a debug build it may wait for seconds.
        let answered = poll(Duration::from_secs(30), || {
            assert_eq!(guard.process.exited(), None, "the guard ended at once; its log:\n{}", guard.log());
            ns.firewall(conf.path(), "status").stdout.contains("guard:     running")
        });
        assert!(answered, "the guard did not answer status within 30 s; its log:\n{}", guard.log());
        guard
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }

    pub fn restorations(&self) -> usize {
        self.log().lines().filter(|l| l.starts_with("vpn-firewall guard: restored")).count()
    }
}

/// What another process runs to turn vpn-firewall's rules off: `nft flush ruleset`, and with
/// iptables also the flush of the filter and mangle chains and an ACCEPT policy on OUTPUT,
/// IPv4 and IPv6.
pub fn tampering(backend: super::Backend) -> Vec<Vec<String>> {
    let mut commands = vec![vec!["nft".to_string(), "flush".into(), "ruleset".into()]];
    if backend.is_iptables() {
        for program in [backend.iptables(false), backend.iptables(true)] {
            for args in [&["-w", "-F"][..], &["-w", "-t", "mangle", "-F"], &["-w", "-P", "OUTPUT", "ACCEPT"]] {
                commands.push(std::iter::once(program.clone()).chain(args.iter().map(|a| a.to_string())).collect());
            }
        }
    }
    commands
}

/// A connection to the guard's control socket in `ns`, made as root from a thread that entered
/// the namespace (an abstract socket belongs to its network namespace), nothing sent yet.
pub fn connect(ns: &Netns) -> std::os::unix::net::UnixStream {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::{SocketAddr, UnixStream};
    let path = format!("/run/netns/{}", ns.name());
    std::thread::spawn(move || {
        let netns = std::fs::File::open(&path).unwrap_or_else(|e| panic!("cannot open {path}: {e}"));
        nix::sched::setns(&netns, nix::sched::CloneFlags::CLONE_NEWNET).expect("cannot enter the namespace");
        let address = SocketAddr::from_abstract_name("vpn-firewall-guard").expect("the guard's address");
        UnixStream::connect_addr(&address).expect("cannot connect to the guard")
    })
    .join()
    .expect("the connecting thread panicked")
}

/// A stand-in for a guard that dies half-way: bound at the guard's address in `ns`, it takes
/// each connection, reads the request and closes without an answer. It stays until the test
/// binary ends (its thread blocks in accept; the namespace goes with the test).
pub fn dying_before_it_answers(ns: &Netns) {
    use std::io::BufRead;
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::{SocketAddr, UnixListener};
    let path = format!("/run/netns/{}", ns.name());
    let listener = std::thread::spawn(move || {
        let netns = std::fs::File::open(&path).unwrap_or_else(|e| panic!("cannot open {path}: {e}"));
        nix::sched::setns(&netns, nix::sched::CloneFlags::CLONE_NEWNET).expect("cannot enter the namespace");
        let address = SocketAddr::from_abstract_name("vpn-firewall-guard").expect("the guard's address");
        UnixListener::bind_addr(&address).expect("cannot bind the guard's address")
    })
    .join()
    .expect("the binding thread panicked");
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut request = String::new();
            let _ = std::io::BufReader::new(&stream).read_line(&mut request);
        }
    });
}
