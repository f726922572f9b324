//! A probe: one TCP connection attempt or one UDP datagram from the host namespace, sent by a
//! process of the given user, group and firewall mark, from a source port of its own. Each probe
//! is this very binary, re-executed as `vpn-firewall selftest-probe` by a thread inside the host
//! namespace, so that it is a real process of that user and nothing of it runs in the machine's
//! own namespace.

use crate::output::say;
use crate::values::Proto;
use anyhow::{Context, Result};
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::socket::{ControlMessageOwned, MsgFlags, SockaddrStorage, recvmsg, setsockopt, sockopt};
use nix::unistd::{Gid, Uid, setgid, setgroups, setuid};
use socket2::{Domain, SockAddr, Socket, Type};
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsFd, AsRawFd};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// This binary; it works even when the file was replaced since it started.
pub const SELF: &str = "/proc/self/exe";

/// How long a TCP probe waits for an answer: one rejected gets it at once, one answered in
/// microseconds; only a silently dropped one waits this long.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(1500);

/// Who sends a probe.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Sender {
    pub label: String,
    pub uid: u32,
    pub gid: u32,
    pub mark: Option<u32>,
}

impl Sender {
    pub fn root() -> Sender {
        Sender { label: "root".into(), uid: 0, gid: 0, mark: None }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Probe {
    pub proto: Proto,
    pub addr: IpAddr,
    pub port: u16,
    pub sender: Sender,
}

impl Probe {
    pub fn new(proto: Proto, addr: IpAddr, port: u16, sender: &Sender) -> Probe {
        Probe { proto, addr, port, sender: sender.clone() }
    }

    /// `TCP 203.0.113.10:40001`, `UDP [2001:db8::1]:53`.
    pub fn target(&self) -> String {
        format!("{} {}", self.proto.name().to_uppercase(), SocketAddr::new(self.addr, self.port))
    }

    /// Starts the probe process from `source_port`. Call it inside the host namespace (the
    /// process inherits the calling thread's namespace).
    pub fn spawn(&self, source_port: u16) -> Result<Child> {
        let mut cmd = Command::new(SELF);
        cmd.args(["selftest-probe", self.proto.name(), &self.addr.to_string(), &self.port.to_string()]);
        cmd.args(["--source-port", &source_port.to_string()]);
        cmd.args(["--uid", &self.sender.uid.to_string(), "--gid", &self.sender.gid.to_string()]);
        if let Some(mark) = self.sender.mark {
            cmd.args(["--mark", &mark.to_string()]);
        }
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        cmd.spawn().context("cannot run the probe process")
    }
}

impl fmt::Display for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} as {}", self.target(), self.sender.label)
    }
}

/// What the sending process reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// `connected`, `refused` (the far side answered), `sent`, or the error.
    pub said: String,
    /// The packet left the sending process: connected, refused or sent.
    pub left: bool,
    /// An answer came back: connected or refused.
    pub answered: bool,
}

impl Outcome {
    /// Waits for a probe process to end and reads what it said.
    pub fn of(child: Child) -> Result<Outcome> {
        let out = child.wait_with_output().context("the probe process did not finish")?;
        let said = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let said = if said.is_empty() { format!("no answer ({}): {}", out.status, String::from_utf8_lossy(&out.stderr).trim()) } else { said };
        let answered = out.status.success() && ["connected", "refused"].contains(&said.as_str());
        let left = answered || (out.status.success() && said == "sent");
        Ok(Outcome { said, left, answered })
    }
}

/// `vpn-firewall selftest-probe`: sends one probe from `source_port` and prints what happened;
/// exit 0 when it left, 1 when the sending call failed.
pub fn probe_command(probe: &Probe, source_port: u16) -> i32 {
    let (target, sender) = (SocketAddr::new(probe.addr, probe.port), &probe.sender);
    let result = become_sender(sender.uid, sender.gid).and_then(|()| {
        socket(target, probe.proto, source_port, sender.mark).and_then(|s| match probe.proto {
            Proto::Tcp => connect(&s, target),
            Proto::Udp => s.send_to(b"vpn-firewall selftest\n", &SockAddr::from(target)).map(|_| "sent"),
        })
    });
    match result {
        Ok(word) => {
            say!("{word}");
            0
        }
        Err(e) => {
            say!("{e}");
            1
        }
    }
}

/// Drops root's privileges for those of `uid` and `gid`, without supplementary groups. Done
/// here rather than before exec so that the binary need not be executable by that user.
fn become_sender(uid: u32, gid: u32) -> io::Result<()> {
    if (uid, gid) != (0, 0) {
        setgroups(&[])?;
        setgid(Gid::from_raw(gid))?;
        setuid(Uid::from_raw(uid))?;
    }
    Ok(())
}

/// Connects; `refused` means the far side answered with a reset. An ICMP error that the kernel
/// only notes while the connection is being made (IPv6's, until the SYN is retransmitted a
/// second later) is read from the socket's error queue at once.
fn connect(socket: &Socket, target: SocketAddr) -> io::Result<&'static str> {
    socket.set_nonblocking(true)?;
    if target.is_ipv4() {
        setsockopt(socket, sockopt::Ipv4RecvErr, &true)?;
    } else {
        setsockopt(socket, sockopt::Ipv6RecvErr, &true)?;
    }
    match socket.connect(&SockAddr::from(target)) {
        Ok(()) => return Ok("connected"),
        Err(e) if e.raw_os_error() == Some(Errno::EINPROGRESS as i32) => {}
        Err(e) => return Err(e),
    }
    let deadline = Instant::now() + CONNECT_TIMEOUT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let mut fds = [PollFd::new(socket.as_fd(), PollFlags::POLLOUT)];
        let ready = poll(&mut fds, PollTimeout::try_from(left).unwrap_or(PollTimeout::MAX))?;
        if ready == 0 {
            return Err(io::Error::new(io::ErrorKind::TimedOut, format!("no answer within {} ms", CONNECT_TIMEOUT.as_millis())));
        }
        match socket.take_error()? {
            Some(e) if e.kind() == io::ErrorKind::ConnectionRefused => return Ok("refused"),
            Some(e) => return Err(e),
            None => {}
        }
        let events = fds[0].revents().unwrap_or(PollFlags::empty());
        if events.contains(PollFlags::POLLERR) {
            return Err(queued_error(socket)?);
        }
        if events.contains(PollFlags::POLLOUT) {
            return Ok("connected");
        }
    }
}

/// The error an ICMP message left in the socket's error queue.
fn queued_error(socket: &Socket) -> io::Result<io::Error> {
    let mut space = nix::cmsg_space!(libc::sock_extended_err, libc::sockaddr_in6);
    let mut data = [0u8; 64];
    let mut iov = [io::IoSliceMut::new(&mut data)];
    let msg = recvmsg::<SockaddrStorage>(socket.as_raw_fd(), &mut iov, Some(&mut space), MsgFlags::MSG_ERRQUEUE)?;
    let errno = msg.cmsgs()?.find_map(|c| match c {
        ControlMessageOwned::Ipv4RecvErr(e, _) | ControlMessageOwned::Ipv6RecvErr(e, _) => Some(e.ee_errno),
        _ => None,
    });
    let errno = errno.ok_or_else(|| io::Error::other("an error without a cause in the socket's error queue"))?;
    let cause = io::Error::from_raw_os_error(errno as i32);
    Ok(io::Error::new(cause.kind(), format!("{cause}, by ICMP")))
}

/// A socket bound to `source_port` (on any address: the route picks it), so that its packets
/// can be told from every other probe's on the wire.
fn socket(target: SocketAddr, proto: Proto, source_port: u16, mark: Option<u32>) -> io::Result<Socket> {
    let (kind, protocol) = match proto {
        Proto::Tcp => (Type::STREAM, socket2::Protocol::TCP),
        Proto::Udp => (Type::DGRAM, socket2::Protocol::UDP),
    };
    let socket = Socket::new(Domain::for_address(target), kind, Some(protocol))?;
    if let Some(mark) = mark {
        socket.set_mark(mark)?;
    }
    let any: IpAddr = if target.is_ipv4() { Ipv4Addr::UNSPECIFIED.into() } else { Ipv6Addr::UNSPECIFIED.into() };
    socket.set_reuse_address(true)?;
    socket.bind(&SockAddr::from(SocketAddr::new(any, source_port)))?;
    Ok(socket)
}
