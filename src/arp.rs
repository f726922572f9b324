//! ARP answers only for the receiving interface's own addresses, while vpn-firewall is loaded.
//!
//! Linux answers an ARP request for any of its addresses on any interface (the weak host
//! model): asked on the uplink for the tunnel's address, it answers with the uplink's MAC, and the
//! LAN learns which VPN address is here (the first step of CVE-2019-14899). ARP is not IP, so no
//! IPv4 or IPv6 rule sees it; `net.ipv4.conf.all.arp_ignore = 1` makes every interface answer
//! only for addresses configured on it. The kernel uses the larger of `all` and an interface's
//! own value, so raising `all` covers every interface, those that appear later as well, and the
//! uplink keeps answering for its own addresses. The tunnel interfaces have no ARP at all.
//!
//! `start` records the value it found before it first raised it, and `flush` restores that and
//! removes the record. The record is a file under /run/vpn-firewall, named by the network
//! namespace's cookie (unique since boot: namespaces share /run, and each has its own sysctl),
//! and written before the value changes, so a crash in between leaves nothing unrestorable. /run
//! is emptied at boot, when the sysctl is back to its boot-time value anyway.

use anyhow::{Context, Result};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// The sysctl, per network namespace.
pub const SYSCTL: &str = "/proc/sys/net/ipv4/conf/all/arp_ignore";

/// Reply only when the target address is configured on the interface the request came in on.
const ANSWER_OWN_ONLY: u8 = 1;

/// Where the values found before vpn-firewall raised them are kept.
pub const RECORDS: &str = "/run/vpn-firewall";

/// What `protect` or `restore` did, for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Done {
    /// Set to 1; it was this before.
    Raised(u8),
    /// Already 1 or stricter (by vpn-firewall's earlier start, or the admin's choice).
    AlreadyStrict,
    /// Set back to this value.
    Restored(u8),
    /// No record: vpn-firewall did not change it.
    NothingToRestore,
}

/// Raises `arp_ignore` to 1 unless it is 1 or more, first recording the value found, unless a
/// record is kept already (an earlier start raised it).
pub fn protect() -> Result<Done> {
    protect_at(Path::new(SYSCTL), &record_path()?)
}

/// Sets `arp_ignore` back to the value recorded before vpn-firewall raised it, and removes the
/// record; nothing when there is none.
pub fn restore() -> Result<Done> {
    restore_at(Path::new(SYSCTL), &record_path()?)
}

/// `protect`, for every path that loads rules (`start`, the guard): what it did, as a line for
/// the user. A failure leaves the loaded rules as they are, closed.
pub fn protect_said() -> Result<Option<String>> {
    let done = protect().context("cannot keep the LAN from learning the tunnel's address by ARP")?;
    Ok(match done {
        Done::Raised(before) => Some(format!("vpn-firewall: set {SYSCTL} to 1 (it was {before}): ARP answers only for each interface's own addresses")),
        _ => None,
    })
}

/// `restore`, for every path that removes the rules (`flush`, the guard): what it did, as a
/// line for the user.
pub fn restore_said() -> Result<Option<String>> {
    Ok(match restore()? {
        Done::Restored(before) => Some(format!("vpn-firewall: set {SYSCTL} back to {before}")),
        _ => None,
    })
}

/// Removes this network namespace's record without restoring anything: for a namespace about
/// to be deleted (selftest's sandbox), whose sysctl goes with it and whose record would stay.
pub fn forget() -> Result<()> {
    let record = record_path()?;
    match std::fs::remove_file(&record) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e).with_context(|| format!("cannot remove {}", record.display())),
        _ => Ok(()),
    }
}

fn protect_at(sysctl: &Path, record: &Path) -> Result<Done> {
    let now = read_value(sysctl)?;
    if now >= ANSWER_OWN_ONLY {
        return Ok(Done::AlreadyStrict);
    }
    if !record.exists() {
        let dir = record.parent().expect("a record path has a directory");
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        // Whole or not at all: a torn record would restore nonsense.
        let partial = record.with_extension("new");
        std::fs::write(&partial, format!("{now}\n")).with_context(|| format!("cannot write {}", partial.display()))?;
        std::fs::rename(&partial, record).with_context(|| format!("cannot write {}", record.display()))?;
    }
    std::fs::write(sysctl, format!("{ANSWER_OWN_ONLY}\n")).with_context(|| format!("cannot set {} to {ANSWER_OWN_ONLY}", sysctl.display()))?;
    Ok(Done::Raised(now))
}

fn restore_at(sysctl: &Path, record: &Path) -> Result<Done> {
    let before = match std::fs::read_to_string(record) {
        Ok(text) => parse(&text).with_context(|| format!("{} does not hold an arp_ignore value: {text:?}", record.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Done::NothingToRestore),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", record.display())),
    };
    std::fs::write(sysctl, format!("{before}\n")).with_context(|| format!("cannot set {} back to {before}", sysctl.display()))?;
    std::fs::remove_file(record).with_context(|| format!("cannot remove {}", record.display()))?;
    Ok(Done::Restored(before))
}

fn read_value(path: &Path) -> Result<u8> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    parse(&text).with_context(|| format!("{} holds {text:?}, not a number", path.display()))
}

fn parse(text: &str) -> Option<u8> {
    text.trim().parse().ok()
}

/// The record of this network namespace.
fn record_path() -> Result<PathBuf> {
    Ok(Path::new(RECORDS).join(format!("arp_ignore.netns-{}", netns_cookie()?)))
}

/// The cookie of the network namespace this process is in: never reused before a reboot, unlike
/// the namespace's inode number (Linux 5.14 and later).
pub fn netns_cookie() -> Result<u64> {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).context("cannot open a socket to identify the network namespace")?;
    let mut cookie: u64 = 0;
    let mut len = std::mem::size_of::<u64>() as libc::socklen_t;
    // SAFETY: the kernel writes at most `len` bytes into `cookie`, which is that large.
    let rc = unsafe { libc::getsockopt(socket.as_raw_fd(), libc::SOL_SOCKET, libc::SO_NETNS_COOKIE, (&raw mut cookie).cast(), &raw mut len) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error()).context("cannot read the network namespace's cookie (SO_NETNS_COOKIE, Linux 5.14 or later)");
    }
    Ok(cookie)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(sysctl: &str) -> (tempfile::TempDir, PathBuf, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let (value, record) = (dir.path().join("arp_ignore"), dir.path().join("records/arp_ignore.netns-7"));
        std::fs::write(&value, sysctl).unwrap();
        (dir, value, record)
    }

    #[test]
    fn the_value_before_the_first_raise_is_what_flush_restores() {
        let (_dir, value, record) = files("0\n");
        assert_eq!(protect_at(&value, &record).unwrap(), Done::Raised(0));
        assert_eq!(std::fs::read_to_string(&value).unwrap(), "1\n");
        assert_eq!(protect_at(&value, &record).unwrap(), Done::AlreadyStrict, "a reload");
        // Lowered by someone while loaded: raised again, and the record of the first value kept.
        std::fs::write(&value, "0\n").unwrap();
        assert_eq!(protect_at(&value, &record).unwrap(), Done::Raised(0));
        assert_eq!(restore_at(&value, &record).unwrap(), Done::Restored(0));
        assert_eq!(std::fs::read_to_string(&value).unwrap(), "0\n");
        assert!(!record.exists());
        assert_eq!(restore_at(&value, &record).unwrap(), Done::NothingToRestore, "a second flush");
    }

    #[test]
    fn a_stricter_value_is_left_alone_and_never_restored() {
        let (_dir, value, record) = files("2\n");
        assert_eq!(protect_at(&value, &record).unwrap(), Done::AlreadyStrict);
        assert!(!record.exists());
        assert_eq!(restore_at(&value, &record).unwrap(), Done::NothingToRestore);
        assert_eq!(std::fs::read_to_string(&value).unwrap(), "2\n");
    }

    #[test]
    fn a_damaged_record_is_an_error_naming_it() {
        let (_dir, value, record) = files("1\n");
        std::fs::create_dir_all(record.parent().unwrap()).unwrap();
        std::fs::write(&record, "x").unwrap();
        let e = format!("{:#}", restore_at(&value, &record).unwrap_err());
        assert!(e.contains("arp_ignore.netns-7") && e.contains("\"x\""), "{e}");
    }

    #[test]
    fn this_namespace_has_a_cookie() {
        assert!(netns_cookie().unwrap() > 0);
    }
}
