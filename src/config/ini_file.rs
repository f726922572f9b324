//! One drop-in file: its INI text turned into sections and assignments that remember their line.
//!
//! rust-ini parses the values (quotes, inline comments), but it neither reports the line of a
//! key nor rejects a line that is neither a section nor `key = value` (it glues such a line onto
//! the next key), and an unclosed quote makes it read on to the end of the file. So the lines are
//! split and classified here, and rust-ini parses each `key = value` line on its own.

use super::{ConfigError, Origin};
use std::path::Path;

/// A line of a drop-in file that means something.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Section { name: String, origin: Origin },
    Assignment { key: String, value: String, origin: Origin },
}

/// Lines end in LF, CRLF or a lone CR (as some old editors save them).
fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.split('\n').flat_map(|l| l.strip_suffix('\r').unwrap_or(l).split('\r'))
}

fn is_comment(t: &str) -> bool {
    t.starts_with('#') || t.starts_with(';')
}

/// Parses the text of `path` into its sections and assignments, in file order.
pub fn parse(path: &Path, text: &str) -> Result<Vec<Item>, ConfigError> {
    let mut items = Vec::new();
    for (index, raw) in lines(text).enumerate() {
        let origin = Origin { file: path.to_path_buf(), line: index + 1 };
        let t = raw.trim();
        if t.is_empty() || is_comment(t) {
            continue;
        }
        if let Some(rest) = t.strip_prefix('[') {
            let section = rest.split_once(']').filter(|(_, after)| {
                let after = after.trim_start();
                after.is_empty() || is_comment(after)
            });
            let Some((name, _)) = section else {
                return Err(ConfigError::at(origin, format!("cannot parse {t:?} (expected `[section]`)")));
            };
            items.push(Item::Section { name: name.trim().to_string(), origin });
            continue;
        }
        let key = t.find(['=', ':']).map(|end| t[..end].trim()).filter(|k| !k.is_empty());
        let Some(key) = key else {
            return Err(ConfigError::at(origin, format!("cannot parse {t:?} (expected `[section]`, `key = value` or a comment)")));
        };
        let options = ini::ParseOption { enabled_escape: false, ..Default::default() };
        let parsed =
            ini::Ini::load_from_str_opt(t, options).map_err(|e| ConfigError::at(origin.clone(), format!("cannot parse the value of {key}: {}", e.msg)))?;
        let value = parsed.general_section().get(key).unwrap_or_default().to_string();
        items.push(Item::Assignment { key: key.to_string(), value, origin });
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str) -> Result<Vec<(String, String, usize)>, String> {
        let items = parse(Path::new("t.conf"), text).map_err(|e| e.to_string())?;
        Ok(items
            .into_iter()
            .map(|i| match i {
                Item::Section { name, origin } => (format!("[{name}]"), String::new(), origin.line),
                Item::Assignment { key, value, origin } => (key, value, origin.line),
            })
            .collect())
    }

    fn owned(items: &[(&str, &str, usize)]) -> Vec<(String, String, usize)> {
        items.iter().map(|(k, v, l)| (k.to_string(), v.to_string(), *l)).collect()
    }

    #[test]
    fn items_keep_their_lines() {
        let got = parse_str("# c\nLOCAL_NET=\"10.0.0.0/8\"\n\n[tunnel] # t\n  ; note\n  user = vpn # who\n[lan]\nallow=\nq = 'a b' ; c\n").unwrap();
        let want = [("LOCAL_NET", "10.0.0.0/8", 2), ("[tunnel]", "", 4), ("user", "vpn", 6), ("[lan]", "", 7), ("allow", "", 8), ("q", "a b", 9)];
        assert_eq!(got, owned(&want));
    }

    #[test]
    fn crlf_and_lone_cr_end_lines() {
        let want = owned(&[("[lan]", "", 2), ("allow", "0.0.0.0/0", 3)]);
        assert_eq!(parse_str("# c\r\n[lan]\r\nallow = 0.0.0.0/0\r\n").unwrap(), want);
        assert_eq!(parse_str("# c\r[lan]\rallow = 0.0.0.0/0\r").unwrap(), want);
    }

    #[test]
    fn malformed_lines_name_their_line() {
        assert_eq!(
            parse_str("[lan]\nallow 10.0.0.0/8\n").unwrap_err(),
            "t.conf:2: cannot parse \"allow 10.0.0.0/8\" (expected `[section]`, `key = value` or a comment)"
        );
        assert!(parse_str("[lan\n").unwrap_err().starts_with("t.conf:1: "));
        assert!(parse_str("x = 1\n= 3\n").unwrap_err().starts_with("t.conf:2: "));
        assert!(parse_str("[lan] junk\n").unwrap_err().starts_with("t.conf:1: "));
        assert!(parse_str("[lan]\nallow = \"10.0.0.0/8\ndns = yes\n").unwrap_err().starts_with("t.conf:2: cannot parse the value of allow"));
    }
}
