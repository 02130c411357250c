#!/usr/bin/env bash
# The pipeline on N-MNIST event data (the 1,000 + 100 sample subset in ../shared/data/nmnist-small,
# binned into T event frames, centre-cropped 34 -> 32 for training): SNASNet search -> train the
# best cell for 8 epochs at T = 5 -> compile and export -> event-driven run on the 100 test samples
# with an energy report -> summary. Run it again to resume: finished stages are skipped.
# Usage: examples/pipeline-nmnist.sh [OUT] [more snnc pipeline flags]
set -euo pipefail
cd "$(dirname "$0")/.."
DATA="${SNNC_DATA_DIR:-../shared/data}/nmnist-small"
OUT="${1:-runs/pipeline-nmnist}"
shift || true
cargo build --release --bin snnc
./target/release/snnc pipeline --dataset nmnist --data-dir "$DATA" --out "$OUT" \
    --search snasnet --budget small --candidates 100 --timesteps 5 --epochs 8 --samples 100 "$@"
echo "summary: $OUT/summary.json; report: $OUT/run/report.json, $OUT/run/report.svg; deployment folder: $OUT/export"
