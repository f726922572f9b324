//! vpn-firewall: a fail-closed VPN kill switch.
//!
//! The data flows one way: drop-in files ([`config`]) → validated [`settings`] → a
//! backend-neutral [`policy`] → a rendered ruleset ([`render_nft`]) → one atomic apply ([`nft`]).
//! Only [`nft`] touches the kernel; [`commands`] ties the steps together for each command.

pub mod accounts;
pub mod cli;
pub mod commands;
pub mod config;
pub mod forwarding;
pub mod lock;
pub mod nft;
pub mod policy;
pub mod qubes;
pub mod render_nft;
pub mod selftest;
pub mod settings;
pub mod tools;
pub mod values;
