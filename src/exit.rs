//! The exit codes of the contract, one place for every command.

pub const OK: i32 = 0;
/// Could not apply (not root, a tool missing, the kernel refused), or a selftest claim failed.
pub const FAILED: i32 = 1;
/// An invalid configuration or command line.
pub const INVALID: i32 = 2;
/// `status`: nothing of vpn-firewall is loaded.
pub const NOT_LOADED: i32 = 3;
/// `status`: cannot tell.
pub const UNKNOWN: i32 = 4;
