//! The table of scenario × VPN × backend × leaked packets, printed once every scenario has ended and
//! written to target/leaks-summary.txt.
//!
//! Why a table printed by the harness: cargo shows what a passing test prints only with
//! `--nocapture`, so a count per test would vanish from the log exactly when all is well.

use crate::common::{Backend, binary, vpn::Kind};
use crate::scenarios::Scenario;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Mutex;

/// What one test counted: the cleartext packets, once its capture has ended.
#[derive(Default)]
pub struct Ledger {
    leaked: Mutex<Option<usize>>,
}

impl Ledger {
    pub fn set(&self, packets: usize) {
        *self.leaked.lock().unwrap() = Some(packets);
    }

    pub fn leaked(&self) -> Option<usize> {
        *self.leaked.lock().unwrap()
    }
}

struct Row {
    number: u8,
    title: &'static str,
    vpn: &'static str,
    backend: &'static str,
    /// None: the test failed before its capture ended.
    leaked: Option<usize>,
    passed: bool,
}

static ROWS: Mutex<Vec<Row>> = Mutex::new(Vec::new());

pub fn record(scenario: &Scenario, kind: Kind, backend: Backend, leaked: Option<usize>, passed: bool) {
    let row = Row { number: scenario.number, title: scenario.title, vpn: kind.name(), backend: backend.name(), leaked, passed };
    ROWS.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(row);
}

/// Prints the table (when any scenario ran) and writes it to target/leaks-summary.txt.
pub fn report() {
    let mut rows = std::mem::take(&mut *ROWS.lock().unwrap_or_else(|poisoned| poisoned.into_inner()));
    if rows.is_empty() {
        return;
    }
    rows.sort_by_key(|r| (r.number, r.vpn, r.backend));
    let mut table = format!("\nLeak suite: cleartext packets from the host on the uplink, binary under test {}\n\n", binary().display());
    let width = rows.iter().map(|r| r.title.len()).max().unwrap_or(0);
    let _ = writeln!(table, "{:>3}  {:<width$}  {:<12}  {:<15}  {:>6}  result", "#", "scenario", "VPN", "backend", "leaked");
    for r in &rows {
        let leaked = r.leaked.map_or("-".to_string(), |n| n.to_string());
        let result = if r.passed { "ok" } else { "FAILED" };
        let _ = writeln!(table, "{:>3}  {:<width$}  {:<12}  {:<15}  {:>6}  {result}", r.number, r.title, r.vpn, r.backend, leaked);
    }
    let total: usize = rows.iter().filter_map(|r| r.leaked).sum();
    let _ = writeln!(table, "\n{} scenarios run, {total} packets leaked in all ('-': failed before counting)", rows.len());
    print!("{table}");
    let file = summary_file();
    if let Err(e) = std::fs::write(&file, &table) {
        eprintln!("warning: cannot write {}: {e}", file.display());
    }
}

/// target/leaks-summary.txt: cargo gives integration tests target/tmp.
fn summary_file() -> PathBuf {
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().map_or(tmp.clone(), PathBuf::from).join("leaks-summary.txt")
}
