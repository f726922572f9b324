//! vpn-firewall.conf(5) is written by hand; the keys it documents must be the schema's, each
//! under its own section and with the default the program really uses.

use std::collections::BTreeMap;
use vpn_firewall::config::schema::{KEYS, LEGACY};

const PAGE: &str = include_str!("../man/vpn-firewall.conf.5");

/// Every `.BI "KEY = " VALUE` entry, by the `.SS [section]` it stands under and its key, with the
/// text of its `Default:` line.
fn documented_keys() -> BTreeMap<(String, String), Option<String>> {
    let mut keys = BTreeMap::new();
    let mut section = None;
    let mut current: Option<(String, String)> = None;
    for line in PAGE.lines() {
        if line.starts_with(".SH") || line.starts_with(".SS") {
            current = None;
            section = line.strip_prefix(".SS [").and_then(|s| s.strip_suffix(']')).map(str::to_string);
        } else if let (Some(section), Some(rest)) = (&section, line.strip_prefix(".BI \"")) {
            let key = rest.split_once(" = ").map_or(rest, |(k, _)| k).to_string();
            let previous = keys.insert((section.clone(), key.clone()), None);
            assert!(previous.is_none(), "[{section}] {key} is documented twice");
            current = Some((section.clone(), key));
        } else if let (Some(at), Some(default)) = (&current, line.strip_prefix("Default: ")) {
            let plain = default.replace("\\fB", "").replace("\\fR", "").replace("\\-", "-");
            *keys.get_mut(at).expect("entry was inserted") = Some(plain);
        }
    }
    keys
}

#[test]
fn every_key_of_the_schema_is_documented_under_its_section_with_its_default() {
    let documented = documented_keys();
    for spec in KEYS {
        let entry = documented
            .get(&(spec.section.to_string(), spec.key.to_string()))
            .unwrap_or_else(|| panic!("[{}] {} is not documented in man/vpn-firewall.conf.5", spec.section, spec.key));
        let default = entry.as_deref().unwrap_or_else(|| panic!("[{}] {} has no Default: line", spec.section, spec.key));
        let expected = if spec.default.is_empty() { "empty" } else { spec.default };
        assert!(
            default.split(" (").next() == Some(expected),
            "[{}] {}: the page says the default is {default:?}, the program uses {expected:?}",
            spec.section,
            spec.key
        );
    }
}

#[test]
fn the_page_documents_no_key_the_program_does_not_know() {
    for (section, key) in documented_keys().keys() {
        assert!(
            KEYS.iter().any(|k| k.section == section && k.key == key),
            "man/vpn-firewall.conf.5 documents [{section}] {key}, which the schema does not have"
        );
    }
}

#[test]
fn every_legacy_alias_is_documented_with_the_key_it_stands_for() {
    let lines: Vec<&str> = PAGE.lines().collect();
    for (alias, key) in LEGACY {
        let (section, key) = (key.spec().section, key.spec().key);
        let at = lines.iter().position(|l| *l == format!(".B {alias}")).unwrap_or_else(|| panic!("legacy key {alias} is not documented"));
        assert_eq!(lines.get(at + 1), Some(&format!(".B \"[{section}] {key}\"").as_str()), "{alias}");
    }
}
