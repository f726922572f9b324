//! The command line, as fixed by the contract. Kept free of behaviour so that the man page and
//! shell completions can be generated from it; `args` parses it and turns it into what the
//! commands take.

use crate::settings::BackendChoice;
use crate::values::{Interface, Proto};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::net::IpAddr;
use std::path::PathBuf;

pub const DEFAULT_CONFIG_DIR: &str = "/etc/vpn-firewall";

const ABOUT: &str = "Fail-closed VPN kill switch: nothing leaves the machine outside the VPN tunnel";

const LONG_ABOUT: &str = "\
Fail-closed VPN kill switch: nothing leaves the machine outside the VPN tunnel.

vpn-firewall reads the drop-in files /etc/vpn-firewall/*.conf and loads a policy-drop ruleset
atomically, with nftables or iptables. Only the VPN client (its user, group or firewall mark) may reach the
outside directly; everything else leaves through the tunnel interface or not at all. When the
VPN breaks, traffic stops instead of leaking.

Exit codes: 0 success; 1 could not apply (not root, nft or iptables missing, kernel refused), or
(selftest) a claim failed; 2 invalid configuration or command line; 3 (status) not loaded; 4
(status) cannot tell.";

const EXAMPLES: &str = "\
Examples:
  vpn-firewall check                 validate and print the effective settings
  vpn-firewall show                  print the ruleset start would load
  sudo vpn-firewall start            load it (replaces a loaded one atomically)
  sudo vpn-firewall status           loaded or not, tunnel up or down, blocked packets
  sudo vpn-firewall selftest         prove the configuration fails closed, in a sandbox
  sudo vpn-firewall flush            remove vpn-firewall's rules, nothing else";

#[derive(Debug, Parser)]
#[command(name = "vpn-firewall", version, about = ABOUT, long_about = LONG_ABOUT, after_help = EXAMPLES)]
pub struct Cli {
    /// Directory of the *.conf drop-in files, read in byte order of their names
    #[arg(long, global = true, value_name = "DIR", env = "VPN_FIREWALL_CONFIG_DIR", default_value = DEFAULT_CONFIG_DIR)]
    pub config_dir: PathBuf,

    /// Firewall backend, overriding [firewall] backend of the configuration
    #[arg(long, global = true, value_enum, value_name = "BACKEND")]
    pub backend: Option<BackendArg>,

    /// Test hook: the directory under which the Qubes OS files (/usr/lib/qubes,
    /// /rw/config/vpn-firewall, /var/run/qubes/qubes-ns) and the installed VPN clients' files
    /// (NetworkManager's VPN plugins) are looked for. Not the configuration directory, which
    /// --config-dir sets.
    #[arg(long, global = true, hide = true, value_name = "DIR", env = "VPN_FIREWALL_ROOT", default_value = "/")]
    pub root: PathBuf,

    #[command(subcommand)]
    pub command: Cmd,
}

/// `--backend`: the values of `[firewall] backend`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BackendArg {
    /// nftables when `nft` is found, else iptables
    Auto,
    Nftables,
    Iptables,
}

impl From<BackendArg> for BackendChoice {
    fn from(arg: BackendArg) -> BackendChoice {
        match arg {
            BackendArg::Auto => BackendChoice::Auto,
            BackendArg::Nftables => BackendChoice::Nftables,
            BackendArg::Iptables => BackendChoice::Iptables,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Validate the configuration and load its ruleset atomically (root)
    #[command(
        visible_aliases = ["restart", "reload"],
        long_about = "Validate the configuration, then load its ruleset in one atomic transaction that \
replaces a loaded one (with iptables, one per table and address family): there is no moment \
without rules, and connections through the tunnel keep flowing. What was loaded is read back and \
compared with what was sent. A switch of backend removes the other backend's rules once the new \
ones are loaded. Then net.ipv4.conf.all.arp_ignore is raised to 1 (if lower), so that the LAN cannot \
learn the tunnel's address by ARP; the value found is recorded for flush.\n\n\
If the configuration is invalid nothing of it is applied: a loaded ruleset stays exactly as it was; \
if none is loaded (first start, boot), the lockdown ruleset is loaded, which lets only loopback \
pass. Exit 0 loaded; 1 could not apply; 2 invalid configuration.",
        after_help = "Example:\n  sudo vpn-firewall start\n  sudo vpn-firewall --config-dir /tmp/try start"
    )]
    Start,

    /// Keep the rules loaded: a kill switch stays closed at shutdown
    #[command(
        long_about = "Does nothing but say so: the rules stay loaded so that nothing leaks while \
the VPN client and the network go down at shutdown. To remove them, use flush. Exit 0.",
        after_help = "Example:\n  vpn-firewall stop      # the rules stay; to remove them: sudo vpn-firewall flush"
    )]
    Stop,

    /// Remove every table, chain and rule vpn-firewall loaded, and nothing else (root)
    #[command(
        long_about = "Remove what vpn-firewall loaded, whichever backend loaded it: with \
nftables its table (inet vpn_firewall) and with it every chain, set and rule; with iptables its \
VPN_FIREWALL_* chains, the jumps to them and its ipsets, and the built-in chains' policies it set \
to DROP go back to ACCEPT where they were ACCEPT before; net.ipv4.conf.all.arp_ignore goes back to \
the value start found. Other tools' tables, chains and rules are not touched. Afterwards nothing \
of vpn-firewall protects the machine. Exit 0.",
        after_help = "Example:\n  sudo vpn-firewall flush"
    )]
    Flush,

    /// Nothing to save: the rules come from the configuration
    #[command(
        long_about = "Does nothing but say so: the ruleset is built from the configuration \
files at every start, so there is no kernel state to save. netfilter-persistent calls it on save. \
To change the rules, edit a drop-in in the configuration directory and reload. Exit 0.",
        after_help = "Example:\n  sudoedit /etc/vpn-firewall/50-local.conf && sudo vpn-firewall reload"
    )]
    Save,

    /// Show whether the ruleset is loaded, the tunnel interfaces and blocked packets (root)
    #[command(
        long_about = "Show whether the ruleset is loaded (and whether it is the lockdown \
ruleset, or one that differs from today's configuration), which backend holds it, whether the \
tunnel interfaces are up, and how many packets were blocked in each direction since it was loaded; \
with a guard running, also the guard's state and what its own table blocked. \
With iptables it warns when another rule comes before vpn-firewall's jump in a built-in chain (that \
rule can accept traffic vpn-firewall never sees; a reload puts the jump first again). Exit 0 \
loaded; 3 not loaded; 4 cannot tell (not root, neither nft nor iptables installed).",
        after_help = "Example:\n  sudo vpn-firewall status"
    )]
    Status,

    /// Validate the configuration and print the effective settings with their origins
    #[command(
        long_about = "Validate the configuration and print every effective setting with the \
file and line that set it (or \"default\"), like sshd -T with origins. Problems go to stderr, one \
line each, naming FILE:LINE; so do warnings, such as a [tunnel] user that an installed VPN client \
cannot match (user = nm-openvpn with NetworkManager-openvpn, whose socket stays root's), an \
OpenVPN mark in hex (OpenVPN reads it as 0) or a WireGuard interface marked otherwise than \
[tunnel] fwmark, with what to set instead. Needs no \
root and touches nothing. Exit 0 valid; 2 invalid.",
        after_help = "Example:\n  vpn-firewall check\n  vpn-firewall --config-dir ./etc/vpn-firewall check"
    )]
    Check,

    /// Print the exact ruleset start would load, without touching the kernel
    #[command(
        long_about = "Print the exact ruleset that start would load for the current \
configuration: with nftables the nft transaction; with iptables the ipset restore input for long \
lists, then the iptables-restore and ip6tables-restore input, as on a machine where nothing of \
vpn-firewall is loaded (start moves its jumps to the head of the built-in chains as it finds them, \
and keeps the built-in policies it recorded at the first start). Needs no root and touches \
nothing. Exit 0; 2 invalid configuration.",
        after_help = "Example:\n  vpn-firewall show > ruleset.nft && sudo nft -c -f ruleset.nft\n  vpn-firewall --backend iptables show"
    )]
    Show,

    /// Prove the configuration fails closed, in throwaway network namespaces (root)
    #[command(long_about = SELFTEST_ABOUT, after_help = SELFTEST_EXAMPLES)]
    Selftest(SelftestArgs),

    /// Keep the ruleset in force while other tools flush or change it (root; the systemd unit runs it)
    #[command(long_about = GUARD_ABOUT, after_help = GUARD_EXAMPLES)]
    Guard(GuardArgs),

    /// Internal to selftest: one probe packet from inside its sandbox
    #[command(name = "selftest-probe", hide = true)]
    SelftestProbe(ProbeArgs),
}

const SELFTEST_ABOUT: &str = "\
Prove that the configuration does what vpn-firewall promises, on this machine's kernel, without \
touching this machine's own firewall or interfaces.

selftest builds a sandbox of three throwaway network namespaces: a host, with an uplink to a \
network side (the LAN, the VPN server and \"the internet\") and a stand-in for the tunnel \
interface, named as [tunnel] interfaces says (tun0 for tun+): a pair of tun devices (point-to-point, \
as a VPN's) to a tunnel side that reaches the same internet address. The uplink is named like \
this machine's (the interface of its default route) and is Ethernet, so a tunnel pattern that \
matches the real uplink does not make it the tunnel (unless [tunnel] tap = yes: then it shows up as \
the leak it is). Then it \
sends probes without rules (each must arrive where its route sends it: the sandbox works), runs \
`vpn-firewall start` inside the host namespace with the configuration directory, exactly as start \
reads it, and sends the probes again: TCP connections and UDP datagrams, as root and as an \
ordinary user (uid 65534), and as the VPN client (its user, group or firewall mark), each \
from a source port of its own. What arrives on each side is counted on the wire, by a packet \
socket in each far namespace.

Each claim is printed PASS or FAIL with its evidence: every probe with the packets seen on each \
side and what its sender saw (LEAK: a probe that must be blocked arrived; MISS: one that must \
pass did not). The claims:
  - nothing reaches the internet outside the tunnel (VPN down, or a route pushed around it)
  - traffic through the tunnel passes
  - only the VPN client leaves outside the tunnel, and only to [tunnel] servers when set
  - [lan] allow is reachable; DNS to it only with [lan] dns = yes
  - IPv6 never leaves outside the tunnel, nor through it unless [tunnel] ipv6 = yes
  - after the tunnel interface is deleted, everything is still blocked
  - an Ethernet-type interface merely named like the tunnel is not the tunnel
  - a broken configuration keeps loaded rules as they are, and at boot loads the lockdown
  - while the guard runs (one is started in the sandbox, and paused), another process \
flushing the rules opens nothing, and the guard keeps or restores them

A configuration that leaks fails: with [lan] allow = 0.0.0.0/0 the internet is reachable outside \
the tunnel, and selftest says so. When the VPN client's user does not exist (the default user \
`tunnel` on a machine without it), no process is exempt: the strictest outcome, reported as such.

The namespaces (vpnfw-selftest-PID-host, -net, -tun) are removed at the end, on failure and on \
Ctrl-C; ones left by a killed run are removed by the next. Needs root, nft and ip. Exit 0 every \
claim holds; 1 a claim failed or the sandbox could not be built; 2 invalid configuration.";

const GUARD_ABOUT: &str = "\
Stay in the foreground and keep vpn-firewall's ruleset in force while other processes flush or \
change the ruleset (nft flush ruleset, systemctl stop nftables, iptables -F, a script that \
deletes the table or adds an accept rule). The unit vpn-firewall-guard.service runs it.

With nftables on Linux 6.9 or later, the guard owns table inet vpn_firewall itself, through its \
netlink socket, with the flags owner and persist: no other process can delete or change it \
(they get \"Operation not permitted\"), nft flush ruleset leaves it, and when the guard ends or \
is killed the kernel keeps it, no longer owned, with the rules start without a guard loads. \
It is one table: a packet passes it once, as without a guard.

Otherwise (iptables, Linux 5.12 to 6.8 such as bookworm's 6.1, or --second-table) the guard \
keeps two layers loaded, and a packet must pass both: the one start loads without a guard too \
(table inet vpn_firewall, or the iptables chains), and a table of its own, inet \
vpn_firewall_guard, with the same filter chains, owned by its socket: no other process can \
delete or change it, and nft flush ruleset leaves it. When another process deletes or changes \
the first layer, the guard loads it again within milliseconds (it listens to nf_tables' \
notifications; iptables-legacy sends none, so it reads its rules back every half second), and \
logs what changed and which process did it. When the guard is killed its own table goes with \
it and the first layer stays, as without a guard; systemd starts it again.

Either way it puts net.ipv4.conf.all.arp_ignore back to 1 within half a second when another \
process lowers it. It guards from the first start on, never before: started with nothing of \
vpn-firewall loaded (a fresh install, after flush) it stands by and loads nothing. Started with \
a ruleset loaded (at boot after netfilter-persistent, or restarted), it loads the configuration \
as start does. While it runs, start and flush act through it (its control socket, \
@vpn-firewall-guard in the network namespace, answers root only): start replaces what it holds, \
flush removes it and the guard stands by. status shows whether it runs, the table it owns (with \
a second table, the packets that table blocked in each hook: while another tool has removed the \
first layer, only it counts), and its restorations. SIGTERM (and stop) end it and leave the \
rules loaded.

A ruleset saved with nft list ruleset while the guard runs contains the table it owns, with \
flags owner: loading that file fails with \"Operation not permitted\" as long as the guard \
runs. Save other tools' rules without it (nft list table FAMILY NAME for each of theirs), or \
delete vpn-firewall's table blocks from the file. Exit: runs until signalled, then 0; 1 could \
not start (not root, another guard in this network namespace).";

const GUARD_EXAMPLES: &str = "\
Examples:
  sudo systemctl enable --now vpn-firewall-guard
  journalctl -u vpn-firewall-guard     what it restored, and which process changed the rules
  sudo vpn-firewall status             guard: running, restorations";

const SELFTEST_EXAMPLES: &str = "\
Examples:
  sudo vpn-firewall selftest
  sudo vpn-firewall --config-dir ./etc/vpn-firewall selftest
  sudo vpn-firewall selftest --uplink wlan0        name the sandbox's uplink after this one
  sudo vpn-firewall selftest --json | jq '.claims[] | select(.passed | not)'";

#[derive(Debug, Args)]
pub struct GuardArgs {
    /// Guard the nftables table with a second table of its own, as on kernels before 6.9, instead of owning it
    #[arg(long)]
    pub second_table: bool,
}

#[derive(Debug, Args)]
pub struct SelftestArgs {
    /// Print one JSON object (the claims, each with its probes) instead of the table
    #[arg(long)]
    pub json: bool,

    /// Name the sandbox's uplink like this interface [default: this machine's default-route interface, else eth0]
    #[arg(long, value_name = "NAME", value_parser = concrete_interface)]
    pub uplink: Option<Interface>,
}

/// An interface name without a `+` pattern, not loopback.
fn concrete_interface(value: &str) -> Result<Interface, String> {
    match crate::values::interface(value)? {
        i if i.prefix().1 => Err(format!("{value:?} is a pattern (expected one interface name, like eth0)")),
        _ if value == "lo" => Err("lo is loopback (expected the name of an uplink, like eth0)".into()),
        i => Ok(i),
    }
}

#[derive(Debug, Args)]
pub struct ProbeArgs {
    #[arg(value_enum)]
    pub proto: ProtoArg,
    pub addr: IpAddr,
    pub port: u16,
    /// Port to send from
    #[arg(long)]
    pub source_port: u16,
    /// User to send as (the probe drops root's privileges for it)
    #[arg(long, default_value_t = 0)]
    pub uid: u32,
    /// Group to send as
    #[arg(long, default_value_t = 0)]
    pub gid: u32,
    /// Firewall mark to put on the socket
    #[arg(long)]
    pub mark: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProtoArg {
    Tcp,
    Udp,
}

impl From<ProtoArg> for Proto {
    fn from(arg: ProtoArg) -> Proto {
        match arg {
            ProtoArg::Tcp => Proto::Tcp,
            ProtoArg::Udp => Proto::Udp,
        }
    }
}
