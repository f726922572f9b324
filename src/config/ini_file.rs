//! One drop-in file: its INI text turned into assignments that remember their line.
//!
//! rust-ini parses the values (quotes, inline comments) but neither reports the line of a key
//! nor rejects a line that is neither a section nor `key = value` (it glues such a line onto the
//! next key). So each line is first classified here, with its number; rust-ini then parses a copy
//! in which comment lines are blanked, and its assignments are paired with ours one for one.

use super::{ConfigError, Origin};
use std::path::Path;

/// `key = value` as written in one file, at one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub section: Option<String>,
    pub key: String,
    pub value: String,
    pub origin: Origin,
}

enum Line {
    Blank,
    Section(String),
    Key(String),
}

fn classify(text: &str) -> Option<Line> {
    let t = text.trim();
    if t.is_empty() || t.starts_with('#') || t.starts_with(';') {
        return Some(Line::Blank);
    }
    if let Some(rest) = t.strip_prefix('[') {
        let end = rest.find(']')?;
        let after = rest[end + 1..].trim_start();
        if !(after.is_empty() || after.starts_with('#') || after.starts_with(';')) {
            return None;
        }
        return Some(Line::Section(rest[..end].trim().to_string()));
    }
    let end = t.find(['=', ':'])?;
    let key = t[..end].trim();
    (!key.is_empty()).then(|| Line::Key(key.to_string()))
}

/// Parses the text of `path` into its assignments, in file order.
pub fn parse(path: &Path, text: &str) -> Result<Vec<Assignment>, ConfigError> {
    let at = |line: usize| Origin { file: path.to_path_buf(), line };
    let mut keys = Vec::new();
    let mut cleaned = String::with_capacity(text.len());
    for (index, raw) in text.lines().enumerate() {
        match classify(raw) {
            Some(Line::Blank) => {}
            Some(Line::Section(name)) => {
                keys.push((None, at(index + 1), name));
                cleaned.push_str(raw.trim());
            }
            Some(Line::Key(key)) => {
                keys.push((Some(key), at(index + 1), String::new()));
                cleaned.push_str(raw.trim());
            }
            None => {
                return Err(ConfigError::at(
                    at(index + 1),
                    format!(
                        "cannot parse {:?} (expected `[section]`, `key = value` or a comment)",
                        raw.trim()
                    ),
                ));
            }
        }
        cleaned.push('\n');
    }

    let options = ini::ParseOption { enabled_escape: false, ..Default::default() };
    let parsed = ini::Ini::load_from_str_opt(&cleaned, options)
        .map_err(|e| ConfigError::at(at(e.line), format!("cannot parse: {}", e.msg)))?;

    let mut parsed_assignments = parsed
        .iter()
        .flat_map(|(section, props)| props.iter().map(move |(k, v)| (section, k, v)));
    let mut out = Vec::new();
    let mut section: Option<String> = None;
    for (key, origin, section_name) in keys {
        let Some(key) = key else {
            section = Some(section_name);
            continue;
        };
        match parsed_assignments.next() {
            Some((s, k, v)) if s == section.as_deref() && k == key => out.push(Assignment {
                section: section.clone(),
                key,
                value: v.to_string(),
                origin,
            }),
            _ => return Err(ConfigError::at(origin, format!("cannot parse the line of {key:?}"))),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str) -> Result<Vec<(Option<String>, String, String, usize)>, String> {
        parse(Path::new("t.conf"), text)
            .map(|v| v.into_iter().map(|a| (a.section, a.key, a.value, a.origin.line)).collect())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn keys_keep_their_lines_and_sections() {
        let got = parse_str("# c\nLOCAL_NET=\"10.0.0.0/8\"\n\n[tunnel]\n  ; note\n  user = vpn # who\n[lan]\nallow=\n").unwrap();
        assert_eq!(
            got,
            vec![
                (None, "LOCAL_NET".into(), "10.0.0.0/8".into(), 2),
                (Some("tunnel".into()), "user".into(), "vpn".into(), 6),
                (Some("lan".into()), "allow".into(), "".into(), 8),
            ]
        );
    }

    #[test]
    fn repeated_keys_and_sections_are_all_kept_in_order() {
        let got = parse_str("[lan]\ndns=yes\n[lan]\ndns=no\ndns=yes\n").unwrap();
        let values: Vec<_> = got.iter().map(|g| (g.2.as_str(), g.3)).collect();
        assert_eq!(values, vec![("yes", 2), ("no", 4), ("yes", 5)]);
    }

    #[test]
    fn malformed_lines_name_their_line() {
        assert_eq!(
            parse_str("[lan]\nallow 10.0.0.0/8\n").unwrap_err(),
            "t.conf:2: cannot parse \"allow 10.0.0.0/8\" (expected `[section]`, `key = value` or a comment)"
        );
        assert!(parse_str("[lan\n").unwrap_err().starts_with("t.conf:1: "));
        assert!(parse_str("x\n= 3\n").unwrap_err().starts_with("t.conf:1: "));
        assert!(parse_str("[lan] junk\n").unwrap_err().starts_with("t.conf:1: "));
    }
}
