#!/usr/bin/env bash
# Issue 7's training study on Fashion-MNIST, one fixed budget for every cell: the correlation
# study (K sampled backward cells scored with SAHD and plain Hamming, each trained, Kendall tau),
# and the best cells of the 1,000-candidate backward and forward searches (docs/results-data/)
# trained the same way, compared with the median of the study's first 10 random cells.
# Resumable: run it again after an interruption. Outputs: runs/snasnet-study (or $1), summary.md.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA="${SNNC_DATA_DIR:-../shared/data}/fashion-mnist"
OUT="${1:-runs/snasnet-study}"
SNNC="${SNNC:-./target/release/snnc}"
K="${K:-20}"
# The fixed budget (the correlate command's training settings: Adam 1e-3, cosine, CE, SNASNet
# init, batch 64; width 16 and T = 5 as in the searches).
EPOCHS="${EPOCHS:-1}"
TRAIN_LIMIT="${TRAIN_LIMIT:-10000}"
TEST_LIMIT="${TEST_LIMIT:-2000}"
# Cells trained at once (one training gains a third from a second thread, two trainings side by
# side 1.7x: JOBS=2 on 2 cores; the results are the same).
JOBS="${JOBS:-1}"
[ -n "${SNNC_SKIP_BUILD:-}" ] || cargo build --release --bin snnc
mkdir -p "$OUT"

$SNNC search snasnet-correlate --dataset fashion-mnist --data-dir "$DATA" --candidates "$K" \
    --cell backward --batch 128 --repeats 2 --timesteps 5 --width 16 --seed 0 \
    --epochs "$EPOCHS" --train-batch 64 --lr 1e-3 --train-limit "$TRAIN_LIMIT" \
    --test-limit "$TEST_LIMIT" --jobs "$JOBS" --out "$OUT/correlate" --quiet

train_best() {
    local cell=$1
    local run="$OUT/best-$cell" genotype
    # The network is rebuilt from the genotype with the study's macro-network settings (the
    # correlation cells' own), so the comparison cannot drift from them.
    genotype=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["cnt_mat"])' \
        "docs/results-data/snasnet-fmnist-$cell/best_genotype.json")
    mkdir -p "$run"
    $SNNC arch snasnet --genotype "$genotype" --dataset fashion-mnist --width 16 --timesteps 5 \
        -o "$OUT/best-$cell.arch.json" >/dev/null
    if ! grep -q "\"epoch\":$EPOCHS," "$run/metrics.jsonl" 2>/dev/null; then
        local resume=()
        [ -f "$run/checkpoint/state.json" ] && resume=(--resume)
        $SNNC train --arch "$OUT/best-$cell.arch.json" \
            --dataset fashion-mnist --data-dir "$DATA" --epochs "$EPOCHS" --batch-size 64 \
            --optimizer adam --lr 1e-3 --loss ce --init snasnet --seed 0 \
            --train-limit "$TRAIN_LIMIT" --test-limit "$TEST_LIMIT" --out "$run" --quiet "${resume[@]}"
    fi
}
if [ "$JOBS" -ge 2 ]; then
    RAYON_NUM_THREADS=1 train_best backward &
    backward=$!
    RAYON_NUM_THREADS=1 train_best forward
    wait "$backward"
else
    train_best backward
    train_best forward
fi

python3 - "$OUT" <<'PY'
import json, statistics, sys
out = sys.argv[1]
cells = [json.loads(l) for l in open(f"{out}/correlate/correlate.jsonl") if l.strip()]
report = json.load(open(f"{out}/correlate/report.json"))
random10 = sorted(100 * c["test_accuracy"] for c in cells[:10])
lines = [f"random cells (first 10 of the study): median {statistics.median(random10):.2f} %, "
         f"range {random10[0]:.2f}-{random10[-1]:.2f} %"]
for cell in ["backward", "forward"]:
    last = [json.loads(l) for l in open(f"{out}/best-{cell}/metrics.jsonl") if l.strip()][-1]
    lines.append(f"best {cell} cell of the 1,000-candidate search: {100 * last['test_accuracy']:.2f} %")
lines.append(f"Kendall tau over {report['cells']} cells: SAHD {report['tau_sahd']}, "
             f"plain Hamming {report['tau_hamming']}")
text = "\n".join(lines) + "\n"
open(f"{out}/summary.md", "w").write(text)
print(text)
PY
