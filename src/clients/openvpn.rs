//! OpenVPN's `mark` in the configurations systemd starts (`/etc/openvpn/client/*.conf` for
//! `openvpn-client@`, `/etc/openvpn/*.conf` for `openvpn@`). OpenVPN reads the number with
//! atoi: `mark 0xca6d` is mark 0, no mark at all, and nothing says so (measured with 2.6.14:
//! docs/vpn-clients.md). A mark other than `[tunnel] fwmark` misses too. Unreadable files (check
//! run without root) say nothing.

use super::read_files;
use crate::settings::Settings;
use std::path::Path;

const DIRS: [&str; 2] = ["etc/openvpn/client", "etc/openvpn"];

/// Warnings for OpenVPN configurations whose `mark` cannot be `[tunnel] fwmark`.
pub fn warnings(settings: &Settings, root: &Path) -> Vec<String> {
    let files = DIRS.iter().flat_map(|d| read_files(&root.join(d), "conf"));
    files.filter_map(|(file, text)| mark_line(&text).and_then(|(line, mark)| problem(&file, line, mark, settings.tunnel.fwmark))).collect()
}

fn problem(file: &Path, line: usize, mark: &str, fwmark: Option<u32>) -> Option<String> {
    let at = format!("{}:{line}", file.display());
    let hex = mark.strip_prefix("0x").or_else(|| mark.strip_prefix("0X"));
    if let Some(digits) = hex {
        let decimal = u32::from_str_radix(digits, 16).map_or_else(|_| "a decimal number".to_string(), |m| m.to_string());
        return Some(format!(
            "OpenVPN's mark {mark} ({at}) is no mark at all: OpenVPN reads it as a decimal number, which \
             makes it 0, so its packets are unmarked and [tunnel] fwmark cannot match them; write mark {decimal}"
        ));
    }
    let value: u32 = mark.parse().ok()?;
    match fwmark {
        Some(f) if f != value => Some(format!("OpenVPN marks its packets {value} ({at}), but [tunnel] fwmark = {f:#x} ({f}): set one of them to the other")),
        _ => None,
    }
}

/// The line number and value of the last `mark` option of an OpenVPN configuration.
fn mark_line(text: &str) -> Option<(usize, &str)> {
    let options = text.lines().enumerate().filter_map(|(i, line)| {
        let line = line.trim_start();
        if line.starts_with('#') || line.starts_with(';') {
            return None;
        }
        let mut words = line.split_whitespace();
        // OpenVPN accepts options in its files with or without the leading `--`.
        let option = words.next()?.trim_start_matches("--");
        (option == "mark").then(|| words.next().map(|v| (i + 1, v))).flatten()
    });
    options.last()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_mark_option_is_found_with_its_line_comments_skipped() {
        assert_eq!(mark_line("client\n# mark 1\n;mark 2\nmark 51821\nremote x 1194\n"), Some((4, "51821")));
        assert_eq!(mark_line("--mark 7\nmark 8 # a comment\n"), Some((2, "8")));
        assert_eq!(mark_line("remark 5\nmark\n"), None);
    }

    #[test]
    fn a_hex_mark_is_named_no_mark_with_its_decimal_value() {
        let w = problem(Path::new("/etc/openvpn/client/vpn.conf"), 3, "0xca6d", Some(51821)).unwrap();
        assert!(w.starts_with("OpenVPN's mark 0xca6d (/etc/openvpn/client/vpn.conf:3) is no mark at all"), "{w}");
        assert!(w.ends_with("write mark 51821"), "{w}");
    }

    #[test]
    fn a_decimal_mark_other_than_fwmark_is_named_and_an_equal_or_unconfigured_one_is_not() {
        let w = problem(Path::new("/etc/openvpn/vpn.conf"), 1, "51821", Some(51820)).unwrap();
        assert_eq!(w, "OpenVPN marks its packets 51821 (/etc/openvpn/vpn.conf:1), but [tunnel] fwmark = 0xca6c (51820): set one of them to the other");
        assert_eq!(problem(Path::new("f"), 1, "51821", Some(51821)), None);
        // Without fwmark the mark may serve routing, and the client be exempt by its user.
        assert_eq!(problem(Path::new("f"), 1, "51821", None), None);
    }
}
