//! Real VPNs across an `Uplink`: the server on the router, the client on the host, running as
//! the `tunnel` user with CAP_NET_ADMIN and nothing else, as the package's systemd drop-in runs
//! it. The client reaches its server only because `tunnel.user` lets it. Two more clients, for
//! the scenarios about telling the VPN client apart (docs/vpn-clients.md): OpenVPN started as
//! root that drops to `tunnel` after opening its socket (as NetworkManager-openvpn starts it),
//! identified by its `--mark` instead; OpenConnect against ocserv, run as `tunnel`; and
//! wg-quick as root, with wireguard-go as its userspace WireGuard (this kernel has no WireGuard
//! module), identified by the mark wg-quick picks itself.
//!
//! ```text
//!  router ns                                    host ns (firewalled)
//!  VPN server on 203.0.113.1 (lo)   <- eth0 ->  VPN client, uid tunnel
//!    OpenVPN udp/1194, WireGuard udp/51820        tun0 (OpenVPN) or wg0 (WireGuard) 192.0.2.2/24
//!    tun0 or wg0 192.0.2.1/24                     routes 0.0.0.0/1 and 128.0.0.0/1 into it,
//!  internet 203.0.113.10, 2001:db8:ff::10 (lo)    203.0.113.1/32 via 198.51.100.1 (eth0)
//! ```
//!
//! Traffic through the tunnel reaches the "internet" address inside the router after
//! decryption; traffic that escapes the tunnel crosses eth0 in cleartext, where `capture`
//! sees it.

use super::capture::NotALeak;
use super::openconnect;
use super::topology::{INTERNET, Probe, ROUTER, Uplink, VPN_SERVER};
use super::{Background, Netns, poll, require_tools, wait_for};
use nix::sys::signal::Signal;
use nix::unistd::User;
use std::ffi::OsStr;
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

/// The tools the VPNs need, with their Debian packages.
const TOOLS: &[(&str, &str)] = &[
    ("openvpn", "openvpn"),
    ("wireguard-go", "wireguard-go"),
    ("wg", "wireguard-tools"),
    ("wg-quick", "wireguard-tools"),
    ("openssl", "openssl"),
    ("mount", "mount"),
    ("mknod", "coreutils"),
    ("useradd", "passwd"),
];

/// The user the package runs the VPN client as (and `tunnel.user`'s default).
pub const TUNNEL_USER: &str = "tunnel";

/// The `tunnel` system user, created as the package creates it when it does not exist yet.
pub fn tunnel_user() -> &'static User {
    static USER: OnceLock<User> = OnceLock::new();
    USER.get_or_init(|| {
        require_tools(TOOLS);
        let lookup = || User::from_name(TUNNEL_USER).unwrap_or_else(|e| panic!("cannot look up the user {TUNNEL_USER}: {e}"));
        if let Some(user) = lookup() {
            return user;
        }
        let mut useradd = Command::new("useradd");
        useradd.args(["--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", TUNNEL_USER]);
        let run = super::run(useradd, "");
        // Another test process may have created it in the meantime: then useradd fails, and
        // the user exists all the same.
        lookup().unwrap_or_else(|| panic!("cannot create the system user {TUNNEL_USER}:\n{run}"))
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// OpenVPN run as `tunnel` from the start (the package's drop-in).
    OpenVpn,
    /// wireguard-go run as `tunnel`.
    WireGuard,
    /// OpenVPN started as root with `--user tunnel --group tunnel`: its socket stays root's,
    /// so it is told apart by `--mark CLIENT_MARK` and `[tunnel] fwmark`, with `user` empty.
    OpenVpnRoot,
    /// OpenConnect run as `tunnel` with CAP_NET_ADMIN, against ocserv.
    OpenConnect,
    /// `wg-quick up` as root with a default route and no `FwMark`: wg-quick marks the packets
    /// with `WG_QUICK_MARK` itself, which wireguard-go puts on its socket as the kernel would.
    WgQuick,
}

/// The mark wg-quick picks for the first interface with a default route.
pub const WG_QUICK_MARK: u32 = 51820;

/// The mark OpenVPN-root puts on its socket. OpenVPN reads `--mark` with atoi: decimal only.
pub const CLIENT_MARK: u32 = 51821;

/// The tunnel's addresses, on the router's and the host's side (the WireGuard ones; OpenVPN's
/// server hands out addresses from the same network).
const SERVER_TUNNEL: &str = "192.0.2.1";
const CLIENT_TUNNEL: &str = "192.0.2.2";

/// Where traffic through the tunnel is checked: a TCP listener on the router's "internet".
pub const TUNNEL_CHECK_PORT: u16 = 7000;

/// How long a client may take to bring its tunnel up.
const CONNECT: Duration = Duration::from_secs(20);

impl Kind {
    /// The two VPNs most scenarios run with.
    pub const BOTH: [Kind; 2] = [Kind::OpenVpn, Kind::WireGuard];

    pub fn name(self) -> &'static str {
        match self {
            Kind::OpenVpn => "OpenVPN",
            Kind::WireGuard => "WireGuard",
            Kind::OpenVpnRoot => "OpenVPN-root",
            Kind::OpenConnect => "OpenConnect",
            Kind::WgQuick => "wg-quick",
        }
    }

    /// The client's tunnel interface (and the server's, in the router, but for ocserv's).
    pub fn interface(self) -> &'static str {
        match self {
            Kind::OpenVpn | Kind::OpenVpnRoot | Kind::OpenConnect => "tun0",
            Kind::WireGuard | Kind::WgQuick => "wg0",
        }
    }

    /// The server's UDP port (ocserv's is TCP too).
    pub fn port(self) -> u16 {
        match self {
            Kind::OpenVpn | Kind::OpenVpnRoot => 1194,
            Kind::WireGuard | Kind::WgQuick => 51820,
            Kind::OpenConnect => openconnect::PORT,
        }
    }

    /// The `[tunnel]` lines that identify this client to vpn-firewall, after `interfaces`.
    pub fn identity(self) -> String {
        match self {
            Kind::OpenVpnRoot => format!("user =\nfwmark = {CLIENT_MARK}\n"),
            Kind::WgQuick => format!("user =\nfwmark = {WG_QUICK_MARK}\n"),
            Kind::OpenVpn | Kind::WireGuard | Kind::OpenConnect => String::new(),
        }
    }

    /// Whether it is told apart by a mark rather than by the user `tunnel` (so that `tunnel`'s
    /// other processes are not exempt).
    pub fn marked(self) -> bool {
        matches!(self, Kind::OpenVpnRoot | Kind::WgQuick)
    }

    /// Whether its log says when it has connected (OpenVPN, OpenConnect).
    fn logs_connections(self) -> bool {
        matches!(self, Kind::OpenVpn | Kind::OpenVpnRoot | Kind::OpenConnect)
    }

    /// Whether a signal makes it reconnect with new sockets (`Vpn::reconnect`).
    pub fn reconnects(self) -> bool {
        self.logs_connections()
    }

    /// What the client's log says each time it has (re)connected.
    fn connected_marker(self) -> &'static str {
        match self {
            Kind::OpenConnect => openconnect::CONNECTED,
            _ => "Initialization Sequence Completed",
        }
    }

    /// The VPN's own traffic on the wire: UDP to its server's port that starts like a message
    /// of its protocol. OpenVPN's first byte holds an opcode, 1 to 11, in its top five bits;
    /// WireGuard's first four bytes are a message type, 1 to 4, and three zero bytes. Anything
    /// else sent to the server's port (a probe by another user, TunnelCrack ServerIP) counts.
    /// OpenConnect's DTLS records start with a content type, 20 to 23; its TLS over TCP cannot
    /// be told from other TCP to port 443 on the wire, so every TCP segment to the server's
    /// port passes, and scenarios check TCP probes there by their outcome instead.
    pub fn own_traffic(self) -> NotALeak {
        let port = self.port();
        let to_server = format!("ip dst host {VPN_SERVER} and udp dst port {port}");
        let header = match self {
            Kind::OpenVpn | Kind::OpenVpnRoot => "udp[8] >> 3 >= 1 and udp[8] >> 3 <= 11",
            Kind::WireGuard | Kind::WgQuick => "udp[8] >= 1 and udp[8] <= 4 and udp[9:2] = 0 and udp[11] = 0",
            Kind::OpenConnect => {
                let filter = format!("ip dst host {VPN_SERVER} and (tcp dst port {port} or (udp dst port {port} and udp[8] >= 20 and udp[8] <= 23))");
                return NotALeak::new("the VPN's own traffic to its server", filter);
            }
        };
        NotALeak::new("the VPN's own traffic to its server", format!("{to_server} and {header}"))
    }
}

/// A VPN server running on the router, and its client on the host when connected.
pub struct Vpn {
    kind: Kind,
    // Dropped in this order: the processes end before their files go.
    client: Option<Background>,
    server: Background,
    /// Keys, certificates, configuration and logs.
    dir: tempfile::TempDir,
    /// How often the OpenVPN client has said it completed its initialisation.
    connections: usize,
}

impl Vpn {
    /// Generates the keys (an EC PKI for OpenVPN, key pairs for WireGuard) and starts the
    /// server on the router.
    pub fn serve(net: &Uplink, kind: Kind) -> Vpn {
        let tunnel = tunnel_user();
        let dir = tempfile::Builder::new().prefix("vpnfwl-vpn").tempdir().expect("temporary directory");
        // The client, running as tunnel, reads its certificate and key here.
        chmod(dir.path(), 0o755);
        let server = match kind {
            Kind::OpenConnect => {
                openconnect::require();
                make_pki(&net.router, dir.path(), tunnel);
                let log = dir.path().join("server.log");
                let server = sandboxed(&net.router, None, log.clone(), &openconnect::server_args(dir.path()));
                let listening = || std::fs::read_to_string(&log).unwrap_or_default().contains("listening (UDP)");
                wait_for_or_show("ocserv to listen", &log, listening);
                server
            }
            Kind::OpenVpn | Kind::OpenVpnRoot => {
                make_pki(&net.router, dir.path(), tunnel);
                let log = dir.path().join("server.log");
                let server = sandboxed(&net.router, None, log.clone(), &openvpn_server_args(dir.path()));
                wait_for_or_show("the OpenVPN server to start", &log, || connections(&log, "Initialization Sequence Completed") > 0);
                server
            }
            Kind::WireGuard | Kind::WgQuick => {
                for side in ["server", "client"] {
                    let private = net.router.run("wg", &["genkey"], "").expect(0).stdout;
                    let public = net.router.run("wg", &["pubkey"], &private).expect(0).stdout;
                    write(&dir.path().join(format!("{side}.key")), private.trim());
                    write(&dir.path().join(format!("{side}.pub")), public.trim());
                }
                let server = sandboxed(&net.router, None, dir.path().join("server.log"), &["wireguard-go", "-f", "wg0"]);
                let config = format!(
                    "[Interface]\nPrivateKey = {}\nListenPort = {}\n[Peer]\nPublicKey = {}\nAllowedIPs = {CLIENT_TUNNEL}/32\n",
                    read(&dir.path().join("server.key")),
                    kind.port(),
                    read(&dir.path().join("client.pub"))
                );
                configure_wireguard(&server, &config);
                net.router.ip(&format!("addr add {SERVER_TUNNEL}/24 dev wg0"));
                net.router.ip("link set wg0 up");
                server
            }
        };
        net.router.listen_tcp(TUNNEL_CHECK_PORT);
        Vpn { kind, dir, server, client: None, connections: 0 }
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Starts the client (as the tunnel user, or as root for OpenVPN-root); returns once traffic
    /// flows through the tunnel.
    pub fn connect(&mut self, net: &Uplink) {
        self.launch(net);
        if self.kind.logs_connections() {
            self.await_connection();
        }
        self.await_traffic(net);
    }

    /// Starts the client and returns at once (but for wireguard-go, which is configured first).
    pub fn launch(&mut self, net: &Uplink) {
        assert!(self.client.is_none(), "the {} client is already running", self.kind.name());
        let log = self.client_log();
        match self.kind {
            Kind::OpenVpn => {
                let client = sandboxed(&net.host, Some(tunnel_user()), log, &openvpn_client_args(self.dir.path()));
                self.client = Some(client);
            }
            Kind::OpenVpnRoot => {
                let mut args = openvpn_client_args(self.dir.path());
                let mark = CLIENT_MARK.to_string();
                // What NetworkManager-openvpn passes, plus the mark that identifies the client.
                args.extend(["--user", TUNNEL_USER, "--group", TUNNEL_USER, "--persist-tun", "--persist-key", "--mark", &mark].map(String::from));
                self.client = Some(sandboxed(&net.host, None, log, &args));
            }
            Kind::OpenConnect => {
                let args = openconnect::client_args(&net.host, self.dir.path(), self.kind.interface());
                self.client = Some(sandboxed(&net.host, Some(tunnel_user()), log, &args));
            }
            Kind::WgQuick => {
                // No FwMark: wg-quick picks WG_QUICK_MARK for the default route itself.
                let config = format!(
                    "[Interface]\nPrivateKey = {}\nAddress = {CLIENT_TUNNEL}/24\n[Peer]\nPublicKey = {}\nEndpoint = {VPN_SERVER}:{}\nAllowedIPs = 0.0.0.0/0\nPersistentKeepalive = 25\n",
                    read(&self.dir.path().join("client.key")),
                    read(&self.dir.path().join("server.pub")),
                    self.kind.port()
                );
                let file = self.dir.path().join("wg0.conf");
                write(&file, &config);
                let up = "wg-quick up \"$1\" && exec sleep infinity";
                let command =
                    ["env", "WG_QUICK_USERSPACE_IMPLEMENTATION=wireguard-go", "bash", "-c", up, "bash", &file.display().to_string()].map(String::from);
                // Its own PID namespace: wireguard-go daemonizes, and ends with the rest when the
                // client is killed, as a client that dies takes its interface along.
                self.client = Some(sandboxed_in(&net.host, &["--pid", "--fork", "--kill-child"], None, log, &command));
                let link = || net.host.has_link("wg0");
                wait_for_or_show("wg-quick to bring wg0 up", &self.client_log(), link);
            }
            Kind::WireGuard => {
                let client = sandboxed(&net.host, Some(tunnel_user()), log, &["wireguard-go", "-f", "wg0"]);
                let config = format!(
                    "[Interface]\nPrivateKey = {}\n[Peer]\nPublicKey = {}\nEndpoint = {VPN_SERVER}:{}\nAllowedIPs = 0.0.0.0/0\nPersistentKeepalive = 25\n",
                    read(&self.dir.path().join("client.key")),
                    read(&self.dir.path().join("server.pub")),
                    self.kind.port()
                );
                configure_wireguard(&client, &config);
                self.client = Some(client);
                // What wg-quick would do; OpenVPN does it itself for redirect-gateway def1.
                net.host.ip(&format!("addr add {CLIENT_TUNNEL}/24 dev wg0"));
                net.host.ip("link set wg0 up");
                net.host.ip(&format!("route replace {VPN_SERVER}/32 via {ROUTER} dev eth0"));
                net.host.ip("route replace 0.0.0.0/1 dev wg0");
                net.host.ip("route replace 128.0.0.0/1 dev wg0");
            }
        }
    }

    /// Waits for the OpenVPN or OpenConnect client's next connection (its log says so).
    fn await_connection(&mut self) {
        let log = self.client_log();
        let before = self.connections;
        let marker = self.kind.connected_marker();
        let what = format!("the {} client to connect (connection {})", self.kind.name(), before + 1);
        wait_for_or_show(&what, &log, || connections(&log, marker) > before);
        self.connections = connections(&log, marker);
    }

    /// How often the client has connected so far (OpenVPN, OpenConnect).
    pub fn connections(&self) -> usize {
        connections(&self.client_log(), self.kind.connected_marker())
    }

    /// Waits until a TCP connection from the host reaches the router's "internet" address
    /// through the tunnel (a WireGuard handshake happens on the first packet).
    pub fn await_traffic(&self, net: &Uplink) {
        let probe = Probe::tcp(INTERNET, TUNNEL_CHECK_PORT);
        let what = format!("a TCP connection through the {} tunnel", self.kind.name());
        wait_for_or_show(&what, &self.client_log(), || probe.send(&net.host).code == 0);
    }

    /// Kills the client with `signal` and waits until it has ended and its interface is gone.
    pub fn kill(&mut self, net: &Uplink, signal: Signal) {
        let mut client = self.client.take().expect("the client runs");
        client.signal(signal);
        client.wait_exit(Duration::from_secs(10));
        let interface = self.kind.interface();
        wait_for(&format!("{interface} to disappear"), Duration::from_secs(5), || !net.host.has_link(interface));
    }

    /// A reconnect with new sockets: SIGUSR1 makes OpenVPN close its connection and connect
    /// again (as the user it dropped to, for OpenVPN-root), SIGUSR2 OpenConnect.
    pub fn reconnect(&mut self, net: &Uplink) {
        let signal = match self.kind {
            Kind::OpenVpn | Kind::OpenVpnRoot => Signal::SIGUSR1,
            Kind::OpenConnect => Signal::SIGUSR2,
            Kind::WireGuard | Kind::WgQuick => panic!("wireguard-go does not reconnect on a signal"),
        };
        self.client.as_mut().expect("the client runs").signal(signal);
        self.await_connection();
        self.await_traffic(net);
    }

    /// Stops the client the way its service manager does (SIGTERM) and starts it again.
    pub fn restart(&mut self, net: &Uplink) {
        self.kill(net, Signal::SIGTERM);
        self.connect(net);
    }

    fn client_log(&self) -> PathBuf {
        self.dir.path().join("client.log")
    }
}

/// Runs `command` in `ns` as a VPN daemon does: with a tun device it may open and a runtime
/// directory of its own, as `user` with only CAP_NET_ADMIN (or as root), its output appended
/// to `log`.
///
/// A private mount namespace gives it both without changing this machine: a fresh /run (where
/// wireguard-go puts its control socket, which would otherwise clash between tests and be
/// root's), and a /dev/net/tun node with Debian's usual mode 0666 (some machines, containers
/// among them, have it 0600, which CAP_NET_ADMIN does not override).
fn sandboxed(ns: &Netns, user: Option<&User>, log: PathBuf, command: &[impl AsRef<OsStr>]) -> Background {
    sandboxed_in(ns, &[], user, log, command)
}

/// `sandboxed`, with more namespaces for `unshare` to make (`--pid --fork --kill-child`).
fn sandboxed_in(ns: &Netns, unshare: &[&str], user: Option<&User>, log: PathBuf, command: &[impl AsRef<OsStr>]) -> Background {
    let setup = "set -e; owner=$1; shift; \
                 mount -t tmpfs -o mode=0755 vpnfwl-run /run; \
                 mknod -m 0666 /run/tun c 10 200; mount --bind /run/tun /dev/net/tun; \
                 mkdir -m 0755 /run/wireguard /run/vpnc; chown \"$owner\" /run/wireguard /run/vpnc; \
                 exec \"$@\"";
    let mut cmd = ns.command("unshare");
    cmd.args(["--mount", "--propagation", "private"]).args(unshare).args(["sh", "-c", setup, "sh"]);
    match user {
        Some(u) => {
            let gid = u.gid.to_string();
            cmd.args([&u.uid.to_string(), "setpriv", "--reuid", &u.name, "--regid", &gid, "--init-groups"]);
            cmd.args(["--inh-caps", "-all,+net_admin", "--ambient-caps", "-all,+net_admin", "--bounding-set", "-all,+net_admin"]);
        }
        None => {
            cmd.arg("0");
        }
    }
    cmd.args(command);
    let out = OpenOptions::new().create(true).append(true).open(&log).unwrap_or_else(|e| panic!("cannot open {}: {e}", log.display()));
    let err = out.try_clone().expect("a second handle on the log");
    cmd.stdin(Stdio::null()).stdout(out).stderr(err);
    Background::spawn(cmd)
}

/// Hands a configuration to a running wireguard-go (`wg setconf`, through its control socket
/// in the daemon's own /run).
fn configure_wireguard(daemon: &Background, config: &str) {
    let socket = format!("/proc/{}/root/run/wireguard/wg0.sock", daemon.pid());
    wait_for("wireguard-go's control socket", CONNECT, || Path::new(&socket).exists());
    daemon.run_inside("wg", &["setconf", "wg0", "/dev/stdin"], config).expect(0);
}

/// A CA, a server and a client certificate, P-256 keys: made in milliseconds, valid for a
/// day, never stored in the repository. The client's key belongs to `tunnel`.
fn make_pki(ns: &Netns, dir: &Path, tunnel: &User) {
    let path = |name: &str| dir.join(name).to_str().expect("temporary paths are UTF-8").to_string();
    let new_key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"];
    let (ca_key, ca_crt) = (path("ca.key"), path("ca.crt"));
    let mut ca = vec!["req", "-x509", "-subj", "/CN=vpn-firewall test CA", "-keyout", &ca_key, "-out", &ca_crt];
    ca.extend(new_key);
    ns.run("openssl", &ca, "").expect(0);
    for (name, usage) in [("server", "serverAuth"), ("client", "clientAuth")] {
        let (key, crt, cn, eku) = (path(&format!("{name}.key")), path(&format!("{name}.crt")), format!("/CN={name}"), format!("extendedKeyUsage={usage}"));
        let mut args = vec!["req", "-x509", "-subj", &cn, "-keyout", &key, "-out", &crt, "-CA", &ca_crt, "-CAkey", &ca_key];
        args.extend(["-addext", "basicConstraints=CA:FALSE", "-addext", "keyUsage=digitalSignature", "-addext", &eku]);
        args.extend(new_key);
        ns.run("openssl", &args, "").expect(0);
    }
    nix::unistd::chown(&dir.join("client.key"), Some(tunnel.uid), Some(tunnel.gid)).expect("cannot give the client key to tunnel");
}

fn openvpn_server_args(dir: &Path) -> Vec<String> {
    let file = |name: &str| dir.join(name).display().to_string();
    let port = Kind::OpenVpn.port().to_string();
    #[rustfmt::skip]
    let args = [
        "openvpn", "--mode", "server", "--tls-server", "--dev", "tun0", "--dev-type", "tun",
        "--proto", "udp", "--local", VPN_SERVER, "--lport", &port,
        "--ca", &file("ca.crt"), "--cert", &file("server.crt"), "--key", &file("server.key"), "--dh", "none",
        "--topology", "subnet", "--ifconfig", SERVER_TUNNEL, "255.255.255.0", "--ifconfig-pool", CLIENT_TUNNEL, "192.0.2.200",
        // The client sends everything through the tunnel: 0.0.0.0/1 and 128.0.0.0/1 into it,
        // the server's address via the uplink's gateway.
        "--push", "topology subnet", "--push", &format!("route-gateway {SERVER_TUNNEL}"), "--push", "redirect-gateway def1",
        "--keepalive", "1", "5", "--verb", "3", "--mute", "3",
    ];
    args.map(String::from).into()
}

fn openvpn_client_args(dir: &Path) -> Vec<String> {
    let file = |name: &str| dir.join(name).display().to_string();
    let port = Kind::OpenVpn.port().to_string();
    #[rustfmt::skip]
    let args = [
        // --nobind: a new source port for each connection (the server does not answer a fast
        // reconnect from the port of a session it still holds).
        "openvpn", "--client", "--dev", "tun0", "--dev-type", "tun", "--proto", "udp", "--nobind",
        "--remote", VPN_SERVER, &port, "--connect-retry", "1",
        "--ca", &file("ca.crt"), "--cert", &file("client.crt"), "--key", &file("client.key"),
        "--remote-cert-tls", "server",
        // --mute: OpenVPN logs every failed read, in a busy loop, when its tun device is deleted.
        "--verb", "3", "--mute", "3",
    ];
    args.map(String::from).into()
}

/// How often a client's log says `marker`.
fn connections(log: &Path, marker: &str) -> usize {
    std::fs::read_to_string(log).unwrap_or_default().matches(marker).count()
}

/// `wait_for`, with the end of `log` in the panic message when it times out.
fn wait_for_or_show(what: &str, log: &Path, ready: impl FnMut() -> bool) {
    if !poll(CONNECT, ready) {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(25)..].join("\n");
        panic!("timed out waiting for {what}; the end of {}:\n{tail}", log.display());
    }
}

fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap_or_else(|e| panic!("cannot chmod {}: {e}", path.display()));
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}
