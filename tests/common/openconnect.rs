//! OpenConnect against ocserv: the server on the router (certificate authentication, so that
//! nothing has to be typed), the client on the host run as `tunnel` with CAP_NET_ADMIN from the
//! start, as README's recipe says. (With `-U`, openconnect would authenticate and connect as
//! root and switch users only once the tunnel is up: docs/vpn-clients.md.)
//!
//! The server pushes 0.0.0.0/1 and 128.0.0.0/1, as OpenVPN's `redirect-gateway def1` does, so
//! that the host's default route out of eth0 stays for whatever escapes the tunnel; Debian's
//! vpnc-script installs them, and the route to the server via the uplink.

use super::topology::VPN_SERVER;
use super::{Netns, require_tools};
use std::path::Path;

/// The programs, with their Debian packages.
const TOOLS: &[(&str, &str)] = &[("ocserv", "ocserv"), ("openconnect", "openconnect")];

/// Debian's routing script for openconnect (package vpnc-scripts, which openconnect depends on).
pub const VPNC_SCRIPT: &str = "/usr/share/vpnc-scripts/vpnc-script";

/// ocserv's port, TCP (TLS, CSTP) and UDP (DTLS).
pub const PORT: u16 = 443;

/// What a client's log says at every (re)connection of its TLS channel.
pub const CONNECTED: &str = "CSTP connected";

/// Fails the test, naming the package, when ocserv, openconnect or vpnc-script is missing.
pub fn require() {
    require_tools(TOOLS);
    assert!(Path::new(VPNC_SCRIPT).exists(), "{VPNC_SCRIPT} is missing: install the Debian package vpnc-scripts");
}

/// ocserv's command line, with its configuration written into `dir` (where `make_pki` put the
/// CA and the server's certificate): a client certificate of the test CA is the login.
pub fn server_args(dir: &Path) -> Vec<String> {
    let file = |name: &str| dir.join(name).display().to_string();
    let config = format!(
        "auth = \"certificate\"\n\
         ca-cert = {ca}\ncert-user-oid = 2.5.4.3\n\
         server-cert = {crt}\nserver-key = {key}\n\
         listen-host = {VPN_SERVER}\ntcp-port = {PORT}\nudp-port = {PORT}\n\
         socket-file = {socket}\nisolate-workers = false\nuse-occtl = false\n\
         max-clients = 16\nmax-same-clients = 0\n\
         keepalive = 30\ndpd = 5\ntry-mtu-discovery = false\ncookie-timeout = 300\n\
         device = vpns\nipv4-network = 192.0.2.0\nipv4-netmask = 255.255.255.0\n\
         route = 0.0.0.0/128.0.0.0\nroute = 128.0.0.0/128.0.0.0\n\
         cisco-client-compat = true\ndtls-legacy = true\n",
        ca = file("ca.crt"),
        crt = file("server.crt"),
        key = file("server.key"),
        socket = file("ocserv-socket"),
    );
    let path = dir.join("ocserv.conf");
    std::fs::write(&path, config).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    ["ocserv", "--foreground", "--debug", "1", "--config", &path.display().to_string()].map(String::from).into()
}

/// openconnect's command line: the client certificate, the server's key pinned (its certificate
/// names no address), the tunnel interface `interface`, Debian's vpnc-script.
pub fn client_args(ns: &Netns, dir: &Path, interface: &str) -> Vec<String> {
    let file = |name: &str| dir.join(name).display().to_string();
    let pin = pin_sha256(ns, &file("server.crt"));
    #[rustfmt::skip]
    let args = [
        "openconnect", "--protocol=anyconnect", "--non-inter",
        "--certificate", &file("client.crt"), "--sslkey", &file("client.key"),
        "--servercert", &format!("pin-sha256:{pin}"),
        "--interface", interface, "--script", VPNC_SCRIPT, VPN_SERVER,
    ];
    args.map(String::from).into()
}

/// The base64 SHA-256 of a certificate's public key, as openconnect's `--servercert` takes it.
fn pin_sha256(ns: &Netns, certificate: &str) -> String {
    let script = "openssl x509 -in \"$1\" -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64";
    ns.run("sh", &["-c", script, "sh", certificate], "").expect(0).stdout.trim().to_string()
}
