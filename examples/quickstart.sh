#!/usr/bin/env bash
# The README's main job until `snnc pipeline` lands: train the example conv SNN on real
# Fashion-MNIST, then evaluate it (accuracy and spikes per layer). About 10 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA="${SNNC_DATA_DIR:-../shared/data}"
OUT="${1:-runs/quickstart}"
cargo build --release --bin snnc
./target/release/snnc train --arch examples/architectures/conv-snn-28.json \
    --dataset fashion-mnist --data-dir "$DATA/fashion-mnist" \
    --epochs 2 --timesteps 4 --batch-size 64 --seed 1 --out "$OUT"
./target/release/snnc eval --run "$OUT" --dataset fashion-mnist --data-dir "$DATA/fashion-mnist"
