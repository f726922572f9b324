//! The guard's control socket: how `start`, `flush` and `status` reach a running guard. Only the
//! guard can replace its own table, so while it runs they ask it to.
//!
//! An abstract unix socket: it belongs to the network namespace it is bound in, as the rules
//! do, so a guard in each namespace has its own, and it vanishes with the guard (no file to
//! go stale). Anyone in the namespace can connect, so the guard answers only root (the peer's
//! credentials, SO_PEERCRED). One request per connection: a line of JSON, answered by one.

use crate::configuration::Options;
use crate::settings::BackendChoice;
use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener, UnixStream};
use std::path::PathBuf;
use std::time::Duration;

/// The abstract name, `@vpn-firewall-guard` in `ss -xl`.
pub const SOCKET_NAME: &str = "vpn-firewall-guard";

/// How long a command waits for the guard's answer: a start with iptables and long lists takes
/// seconds.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(120);

/// What a command asks the guard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Load the configuration these options name: what `start` does.
    Start(Options),
    /// Remove both layers and stand by.
    Flush,
    /// Say what the guard guards.
    Status,
}

/// The guard's answer: an exit code and the lines to print.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reply {
    pub code: i32,
    pub stdout: Vec<String>,
    pub stderr: Vec<String>,
}

impl Request {
    fn to_json(&self) -> Value {
        match self {
            Request::Start(o) => json!({
                "command": "start", "config_dir": o.config_dir, "root": o.root, "backend": o.backend.map(BackendChoice::name)
            }),
            Request::Flush => json!({"command": "flush"}),
            Request::Status => json!({"command": "status"}),
        }
    }

    fn from_json(v: &Value) -> Result<Request> {
        let text = |key: &str| v.get(key).and_then(Value::as_str);
        let path = |key: &str| text(key).map(PathBuf::from).with_context(|| format!("a request without {key}"));
        let backend = text("backend").map(|b| BackendChoice::parse(b).map_err(anyhow::Error::msg)).transpose()?;
        Ok(match text("command") {
            Some("start") => Request::Start(Options { config_dir: path("config_dir")?, root: path("root")?, backend }),
            Some("flush") => Request::Flush,
            Some("status") => Request::Status,
            other => bail!("an unknown request {other:?}"),
        })
    }
}

impl Reply {
    pub fn out(&mut self, line: impl Into<String>) {
        self.stdout.push(line.into());
    }

    pub fn err(&mut self, line: impl Into<String>) {
        self.stderr.push(line.into());
    }

    fn to_json(&self) -> Value {
        json!({"code": self.code, "stdout": self.stdout, "stderr": self.stderr})
    }

    fn from_json(v: &Value) -> Result<Reply> {
        let lines =
            |key: &str| -> Vec<String> { v.get(key).and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).map(str::to_string).collect() };
        let code = v.get("code").and_then(Value::as_i64).context("an answer without an exit code")?;
        Ok(Reply { code: i32::try_from(code)?, stdout: lines("stdout"), stderr: lines("stderr") })
    }

    /// Prints the lines as the command's own output.
    pub fn print(&self) {
        for line in &self.stdout {
            crate::output::say!("{line}");
        }
        for line in &self.stderr {
            crate::output::say_err!("{line}");
        }
    }
}

fn address() -> Result<SocketAddr> {
    SocketAddr::from_abstract_name(SOCKET_NAME).context("cannot name the guard's control socket")
}

/// The guard's end: bound, or an error when another guard holds the name in this namespace.
pub fn listen() -> Result<UnixListener> {
    let listener = UnixListener::bind_addr(&address()?).map_err(|e| match e.kind() {
        ErrorKind::AddrInUse => anyhow::anyhow!("another guard runs in this network namespace (its control socket @{SOCKET_NAME} is taken)"),
        _ => anyhow::Error::new(e).context(format!("cannot bind the control socket @{SOCKET_NAME}")),
    })?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// Refuses any peer but root.
pub fn check_peer(stream: &UnixStream) -> Result<()> {
    let peer = nix::sys::socket::getsockopt(stream, nix::sys::socket::sockopt::PeerCredentials)?;
    if peer.uid() != 0 {
        bail!("refused a request of uid {} (pid {}): only root may command the guard", peer.uid(), peer.pid());
    }
    Ok(())
}

/// The request a connection sent: one line of JSON.
pub fn parse(line: &[u8]) -> Result<Request> {
    Request::from_json(&serde_json::from_slice(line).context("a request that is not JSON")?)
}

/// Answers a request. The socket is non-blocking and the answer a few lines, which its buffer
/// takes at once: a client that does not read stalls nothing. A client gone before it reads is
/// an error here, never a SIGPIPE that ends the guard: std sends with MSG_NOSIGNAL.
pub fn answer(mut stream: &UnixStream, reply: &Reply) -> Result<()> {
    let mut text = reply.to_json().to_string();
    text.push('\n');
    stream.write_all(text.as_bytes()).context("cannot answer a request")
}

/// Sends a request to the guard of this network namespace: `None` when no guard runs here.
pub fn ask(request: &Request) -> Result<Option<Reply>> {
    let mut stream = match UnixStream::connect_addr(&address()?) {
        Ok(s) => s,
        Err(e) if matches!(e.kind(), ErrorKind::ConnectionRefused | ErrorKind::NotFound) => return Ok(None),
        Err(e) => return Err(e).context(format!("cannot reach the guard at @{SOCKET_NAME}")),
    };
    let what = || format!("the guard (@{SOCKET_NAME}) did not answer");
    stream.set_read_timeout(Some(ANSWER_TIMEOUT))?;
    let mut text = request.to_json().to_string();
    text.push('\n');
    stream.write_all(text.as_bytes()).with_context(what)?;
    let mut line = String::new();
    BufReader::new(&stream).read_line(&mut line).with_context(what)?;
    if line.is_empty() {
        bail!("{}: it closed the connection (see its log: journalctl -u vpn-firewall-guard)", what());
    }
    Ok(Some(Reply::from_json(&serde_json::from_str(&line).with_context(what)?)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_replies_survive_the_wire() {
        let requests = [
            Request::Start(Options { config_dir: "/etc/vpn-firewall".into(), root: "/".into(), backend: Some(BackendChoice::Iptables) }),
            Request::Start(Options { config_dir: "/tmp/a b".into(), root: "/".into(), backend: None }),
            Request::Flush,
            Request::Status,
        ];
        for r in requests {
            assert_eq!(Request::from_json(&r.to_json()).unwrap(), r);
        }
        let reply = Reply { code: 2, stdout: vec!["a".into()], stderr: vec!["b \"c\"".into(), "d".into()] };
        assert_eq!(Reply::from_json(&reply.to_json()).unwrap(), reply);
        assert!(Request::from_json(&json!({"command": "rm -rf"})).is_err());
        assert!(Request::from_json(&json!({"command": "start"})).is_err(), "a start without its directory");
        assert!(
            Request::from_json(&json!({"command": "start", "config_dir": "/etc/vpn-firewall", "root": "/", "backend": "pf"})).is_err(),
            "an unknown backend"
        );
    }
}
