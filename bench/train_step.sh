#!/usr/bin/env bash
# One run, interleaved rounds: snnc's training step (fast conv and Candle conv) vs PyTorch CPU on
# the toolchain-notes.md §2 network. Prints every measurement and the median ratios.
# Needs a Python with torch (PYTHON=..., default python3); 2 threads everywhere.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
ROUNDS="${ROUNDS:-3}"
export RAYON_NUM_THREADS=2 OMP_NUM_THREADS=2
cargo build --release --bin snnc -q
out=$(mktemp)
for r in $(seq "$ROUNDS"); do
    ./target/release/snnc bench train-step --json --inference >> "$out"
    "$PYTHON" bench/torch_train_step.py --inference >> "$out"
    ./target/release/snnc bench train-step --json --conv candle --steps 5 >> "$out"
done
"$PYTHON" - "$out" <<'PY'
import json, sys, statistics as st
rows = [json.loads(l) for l in open(sys.argv[1])]
by = {}
for r in rows:
    by.setdefault(r["impl"], []).append(r)
def med(impl, key=lambda r: r["median_ms"]):
    return st.median(key(r) for r in by[impl])
torch = med("torch")
for impl in by:
    m = med(impl)
    print(f"{impl:12s} train step median {m:8.1f} ms   ratio to torch {m / torch:5.2f}x   rounds {[round(r['median_ms'],1) for r in by[impl]]}")
for b in sorted({i["batch"] for r in rows for i in r["inference"]}):
    cells = []
    for impl in by:
        vals = [i["ms"] for r in by[impl] for i in r["inference"] if i["batch"] == b]
        if vals:
            cells.append(f"{impl} {st.median(vals):.2f} ms")
    print(f"inference B={b}: " + ", ".join(cells))
PY
