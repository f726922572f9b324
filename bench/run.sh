#!/bin/bash
# The performance benchmark of vpn-firewall, as root, from anywhere:
#
#     bash bench/run.sh [RUNS]        (RUNS: timed runs per measurement, at least 10; default 15)
#
# Measures (bench/measure.sh: raw results in target/bench/, every measurement in namespaces of
# its own), then writes docs/benchmark.md and checks the targets (bench/report.py; exit status
# 1 when one is missed). `python3 bench/report.py` alone rebuilds the page from the last results.
set -euo pipefail

RUNS=${1:-15}
[[ $RUNS =~ ^[0-9]+$ ]] && (( RUNS >= 10 )) || { echo "usage: bash bench/run.sh [RUNS >= 10]" >&2; exit 2; }
command -v python3 >/dev/null || { echo "bench/run.sh needs python3; install with: apt-get install -y python3" >&2; exit 2; }
BENCH=$(dirname "${BASH_SOURCE[0]}")
bash "$BENCH/measure.sh" "$RUNS"
python3 "$BENCH/report.py"
