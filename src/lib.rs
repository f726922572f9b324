//! vpn-firewall: a fail-closed VPN kill switch.
//!
//! The data flows one way: drop-in files ([`config`]) → validated [`settings`] (both read for a
//! run by [`configuration`]) → a backend-neutral [`policy`] → a rendered ruleset ([`render_nft`]
//! or [`render_iptables`]) → an atomic apply ([`nft`] or [`iptables`], behind one [`backend`]
//! face). Only [`nft`] and [`iptables`] touch the kernel, and [`arp`] one sysctl beside the
//! rules; [`commands`] ties the steps together for each command; [`args`] turns the command
//! line ([`cli`]) into what the commands take.

pub mod accounts;
pub mod args;
pub mod arp;
pub mod backend;
pub mod cli;
pub mod clients;
pub mod commands;
pub mod config;
pub mod configuration;
pub mod exit;
pub mod forwarding;
pub mod guard;
pub mod iptables;
pub mod lock;
pub mod nft;
pub mod output;
pub mod policy;
pub mod qubes;
pub mod render_common;
pub mod render_iptables;
pub mod render_netlink;
pub mod render_nft;
pub mod selftest;
pub mod settings;
pub mod tools;
pub mod uplink;
pub mod values;
