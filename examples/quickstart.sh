#!/usr/bin/env bash
# The short path without a search, on real Fashion-MNIST: train a conv SNN (BPTT) -> evaluate -> compile and export (event IR, ONNX
# step and sequence models) -> profile it on the event-driven runtime with an energy report.
# About 10 minutes on 2 cores. Outputs go to runs/quickstart (or the folder given as $1).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA="${SNNC_DATA_DIR:-../shared/data}/fashion-mnist"
OUT="${1:-runs/quickstart}"
SNNC=./target/release/snnc
cargo build --release --bin snnc
$SNNC train --arch examples/architectures/conv-snn-28.json --dataset fashion-mnist --data-dir "$DATA" \
    --epochs 2 --timesteps 4 --batch-size 64 --seed 1 --out "$OUT/train"
$SNNC eval --run "$OUT/train" --dataset fashion-mnist --data-dir "$DATA"
$SNNC export "$OUT/train" --out "$OUT/export"
$SNNC run "$OUT/export/network.snnir" --dataset fashion-mnist --data-dir "$DATA" --samples 2000 \
    --target cmos45-fp32 --report "$OUT/report.json" --csv "$OUT/tables" --plot "$OUT/report.svg"
echo "outputs: $OUT/train (network, weights, metrics), $OUT/export (IR, ONNX, manifest), $OUT/report.json, $OUT/report.svg"
