//! Looking up the users and groups the configuration names.
//!
//! Behind a trait so that rendering can be tested with a fixed account database: the rendered
//! ruleset carries numeric ids, which differ from machine to machine.

pub trait Accounts {
    fn uid(&self, name: &str) -> Option<u32>;
    fn gid(&self, name: &str) -> Option<u32>;
}

/// The system's own database (NSS: /etc/passwd, /etc/group, and whatever else is configured).
pub struct SystemAccounts;

impl Accounts for SystemAccounts {
    fn uid(&self, name: &str) -> Option<u32> {
        nix::unistd::User::from_name(name).ok().flatten().map(|u| u.uid.as_raw())
    }

    fn gid(&self, name: &str) -> Option<u32> {
        nix::unistd::Group::from_name(name).ok().flatten().map(|g| g.gid.as_raw())
    }
}

/// A fixed table of accounts, for tests and for rendering reproducible examples.
pub struct FixedAccounts(pub &'static [(&'static str, u32)]);

impl Accounts for FixedAccounts {
    fn uid(&self, name: &str) -> Option<u32> {
        self.0.iter().find(|(n, _)| *n == name).map(|(_, id)| *id)
    }

    fn gid(&self, name: &str) -> Option<u32> {
        self.uid(name)
    }
}
