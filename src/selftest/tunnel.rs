//! The stand-in tunnel: a point-to-point link like a VPN's. Two tun devices (no link-layer
//! header, as tun and WireGuard devices have), one in the host namespace named as the tunnel and
//! one in the tunnel namespace, and a thread that copies each packet from one to the other, as
//! a VPN client and its server would. Dropping it closes both devices: they disappear, as a tun
//! device does when its VPN client dies.

use super::sandbox::Netns;
use anyhow::{Context, Result, bail};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

/// How often the copying thread looks whether it should stop.
const STOP_CHECK_MS: u16 = 100;

pub struct TunPair {
    stop: Arc<AtomicBool>,
    relay: Option<JoinHandle<()>>,
}

impl TunPair {
    /// The device `near` in `host` and `far` in `peer`, neither addressed nor up yet.
    pub fn new(host: &Netns, near: &str, peer: &Netns, far: &str) -> Result<TunPair> {
        let a = host.within(|| open_tun(near)).with_context(|| format!("cannot create the tun device {near} in {}", host.name))?;
        let b = peer.within(|| open_tun(far)).with_context(|| format!("cannot create the tun device {far} in {}", peer.name))?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let relay = std::thread::spawn(move || relay(a, b, &stopping));
        Ok(TunPair { stop, relay: Some(relay) })
    }
}

impl Drop for TunPair {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(relay) = self.relay.take() {
            let _ = relay.join();
        }
    }
}

/// A new tun device named `name` in the calling thread's network namespace, its packets without
/// the packet-information header.
fn open_tun(name: &str) -> Result<File> {
    let file = std::fs::OpenOptions::new().read(true).write(true).open("/dev/net/tun").context("cannot open /dev/net/tun")?;
    // SAFETY: an all-zero ifreq is valid: an empty name and no flags.
    let mut request: libc::ifreq = unsafe { std::mem::zeroed() };
    if name.len() >= request.ifr_name.len() {
        bail!("{name} is longer than an interface name may be");
    }
    for (slot, byte) in request.ifr_name.iter_mut().zip(name.bytes()) {
        *slot = byte as libc::c_char;
    }
    request.ifr_ifru.ifru_flags = (libc::IFF_TUN | libc::IFF_NO_PI) as libc::c_short;
    // SAFETY: TUNSETIFF reads and writes one ifreq, which `request` is.
    if unsafe { libc::ioctl(file.as_raw_fd(), libc::TUNSETIFF, &raw mut request) } != 0 {
        return Err(std::io::Error::last_os_error()).context("TUNSETIFF failed");
    }
    Ok(file)
}

/// Copies packets both ways until told to stop or either device goes.
fn relay(a: File, b: File, stop: &AtomicBool) {
    let files = [a, b];
    let mut packet = vec![0u8; 65536];
    while !stop.load(Ordering::Relaxed) {
        let mut fds = [PollFd::new(files[0].as_fd(), PollFlags::POLLIN), PollFd::new(files[1].as_fd(), PollFlags::POLLIN)];
        if poll(&mut fds, PollTimeout::from(STOP_CHECK_MS)).is_err() {
            return;
        }
        let ready: Vec<(usize, PollFlags)> = fds.iter().enumerate().filter_map(|(i, fd)| fd.revents().map(|r| (i, r))).collect();
        for (from, revents) in ready {
            if revents.intersects(PollFlags::POLLERR | PollFlags::POLLHUP | PollFlags::POLLNVAL) {
                return;
            }
            if !revents.contains(PollFlags::POLLIN) {
                continue;
            }
            let Ok(n) = (&files[from]).read(&mut packet) else { return };
            // A packet the other side cannot take (it is down) is lost, as on a real link.
            let _ = (&files[1 - from]).write(&packet[..n]);
        }
    }
}
