#!/usr/bin/env bash
# snnc's main job in one command, on real Fashion-MNIST: SNASNet search (150 candidates scored at
# initialisation) -> train the best cell (width 16, T = 4, one epoch) -> compile and export (text
# IR, ONNX step and sequence models, runtime plan) -> event-driven run on 2,000 test samples with
# an energy report (45 nm fp32 table) -> summary. The small budget is sized for a 2-core machine
# (target: under 30 minutes). Run it again to resume: finished stages are skipped.
# Usage: examples/pipeline-fmnist.sh [OUT] [more snnc pipeline flags, e.g. --search autosnn --target loihi]
set -euo pipefail
cd "$(dirname "$0")/.."
DATA="${SNNC_DATA_DIR:-../shared/data}/fashion-mnist"
OUT="${1:-runs/pipeline-fmnist}"
shift || true
cargo build --release --bin snnc
./target/release/snnc pipeline --dataset fashion-mnist --data-dir "$DATA" --out "$OUT" \
    --search snasnet --budget small "$@"
echo "summary: $OUT/summary.json; report: $OUT/run/report.json, $OUT/run/report.svg; deployment folder: $OUT/export"
