//! Serializes invocations that change the kernel's rules: two `start`s (a boot-time service and
//! an admin, say) must never interleave their read-load-verify steps.

use anyhow::{Context, Result, bail};
use nix::fcntl::{Flock, FlockArg};
use std::fs::{File, OpenOptions};
use std::time::{Duration, Instant};

pub const LOCK_PATH: &str = "/run/vpn-firewall.lock";

/// Held until dropped: the flock is released when the guard closes the file.
pub struct Lock {
    _held: Flock<File>,
}

/// Waits up to 30 seconds for the lock.
pub fn acquire() -> Result<Lock> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut file =
        OpenOptions::new().create(true).truncate(false).write(true).open(LOCK_PATH).with_context(|| format!("cannot open the lock file {LOCK_PATH}"))?;
    loop {
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(held) => return Ok(Lock { _held: held }),
            Err((f, nix::errno::Errno::EWOULDBLOCK)) if Instant::now() < deadline => {
                file = f;
                std::thread::sleep(Duration::from_millis(50));
            }
            Err((_, nix::errno::Errno::EWOULDBLOCK)) => {
                bail!("another vpn-firewall has held {LOCK_PATH} for 30 seconds; try again when it has finished")
            }
            Err((_, e)) => bail!("cannot lock {LOCK_PATH}: {e}"),
        }
    }
}
