//! What a backend reports as loaded, and the label that says which kind of policy it is: the
//! renderers write the label into the kernel, `status` and selftest read it back.

use super::{Hook, Kind};

/// Every label starts with it.
const LABEL_START: &str = "vpn-firewall";

impl Kind {
    /// The label of a policy of this kind whose rules hash to `digest`:
    /// `vpn-firewall ruleset DIGEST` or `vpn-firewall lockdown DIGEST`.
    pub fn label(self, digest: &str) -> String {
        let word = match self {
            Kind::Configured => "ruleset",
            Kind::Lockdown => "lockdown",
        };
        format!("{LABEL_START} {word} {digest}")
    }
}

/// What a backend has loaded, as `status` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    /// What was loaded: see [`Kind::label`].
    pub label: Option<String>,
    /// Packets blocked in each hook since the load.
    pub blocked: Vec<(Hook, Option<u64>)>,
    /// What lets traffic past the rules: another rule before iptables' jump, say.
    pub warnings: Vec<String>,
}

/// The packets blocked in each hook, as `status` says them for either table:
/// `input 0 packets, output 12 packets, ...` (`?` for a counter that is missing).
pub fn blocked_said(blocked: &[(Hook, Option<u64>)]) -> String {
    blocked.iter().map(|(hook, packets)| format!("{} {}", hook.name(), packets.map_or("?".into(), |p| format!("{p} packets")))).collect::<Vec<_>>().join(", ")
}

impl Loaded {
    pub fn is_lockdown(&self) -> bool {
        let lockdown = Kind::Lockdown.label("");
        self.label.as_deref().is_some_and(|l| l.starts_with(&lockdown))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lockdown_is_told_by_its_label() {
        let loaded = |label: String| Loaded { label: Some(label), blocked: Vec::new(), warnings: Vec::new() };
        assert!(loaded(Kind::Lockdown.label("0123abcd")).is_lockdown());
        assert!(!loaded(Kind::Configured.label("0123abcd")).is_lockdown());
        assert!(!Loaded { label: None, blocked: Vec::new(), warnings: Vec::new() }.is_lockdown());
    }
}
