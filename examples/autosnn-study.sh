#!/usr/bin/env bash
# Issue 8's study on Fashion-MNIST at the documented reduced budget: one supernet, three searches
# on it (spike-aware, accuracy-only, energy-aware on the 45 nm table), then each winner retrained
# with the same budget and two seeds, and profiled on the event-driven runtime. Every step is
# resumable: run the script again after an interruption and finished steps are skipped.
# Outputs go to runs/autosnn-study (or the folder given as $1); the summary table is printed last
# and written to summary.md. EPOCHS and TRAIN_LIMIT set a longer retraining budget, kept apart in
# retrain-e<EPOCHS>-n<TRAIN_LIMIT>/ and summary-e<EPOCHS>-n<TRAIN_LIMIT>.md.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA="${SNNC_DATA_DIR:-../shared/data}/fashion-mnist"
OUT="${1:-runs/autosnn-study}"
SNNC="${SNNC:-./target/release/snnc}"
TARGET=cmos45-fp32
# Retraining budget, the same for every architecture and seed.
EPOCHS="${EPOCHS:-1}"
TRAIN_LIMIT="${TRAIN_LIMIT:-30000}"
SEEDS="1 2"
# Trainings at once (JOBS=2 on 2 cores trains the two seeds side by side; same results).
JOBS="${JOBS:-1}"
[ -n "${SNNC_SKIP_BUILD:-}" ] || cargo build --release --bin snnc
mkdir -p "$OUT"
RETRAIN=retrain
SUMMARY=summary.md
if [ "$EPOCHS" != 1 ] || [ "$TRAIN_LIMIT" != 30000 ]; then
    RETRAIN="retrain-e$EPOCHS-n$TRAIN_LIMIT"
    SUMMARY="summary-e$EPOCHS-n$TRAIN_LIMIT.md"
fi

for fitness in spikes accuracy energy; do
    if [ ! -f "$OUT/$fitness/best.json" ]; then
        $SNNC search autosnn --dataset fashion-mnist --data-dir "$DATA" --out "$OUT/$fitness" \
            --supernet "$OUT/supernet" --fitness "$fitness" --target "$TARGET" --quiet
    fi
done

retrain() {
    local fitness=$1 seed=$2
    local run="$OUT/$RETRAIN/$fitness-seed$seed"
    if ! grep -q "\"epoch\":$EPOCHS," "$run/metrics.jsonl" 2>/dev/null; then
        local resume=()
        [ -f "$run/checkpoint/state.json" ] && resume=(--resume)
        $SNNC train --arch "$OUT/$fitness/best_arch.json" --dataset fashion-mnist \
            --data-dir "$DATA" --epochs "$EPOCHS" --train-limit "$TRAIN_LIMIT" --seed "$seed" \
            --out "$run" --quiet "${resume[@]}"
    fi
    if [ ! -f "$run/report.json" ]; then
        $SNNC run "$run" --dataset fashion-mnist --data-dir "$DATA" --samples 2000 \
            --target "$TARGET" --report "$run/report.json" --quiet
    fi
}
for fitness in spikes accuracy energy; do
    if [ "$JOBS" -ge 2 ]; then
        # The seeds side by side, one thread each (1.7x the throughput of one 2-thread run).
        pids=()
        for seed in $SEEDS; do
            RAYON_NUM_THREADS=1 retrain "$fitness" "$seed" &
            pids+=($!)
        done
        for pid in "${pids[@]}"; do wait "$pid"; done
    else
        for seed in $SEEDS; do retrain "$fitness" "$seed"; done
    fi
done

python3 - "$OUT" "$SEEDS" "$RETRAIN" "$SUMMARY" <<'PY'
import json, statistics, sys
out, seeds, retrain, summary = sys.argv[1], sys.argv[2].split(), sys.argv[3], sys.argv[4]
rows = ["| search | architecture | test accuracy (%) | spikes / sample | energy / sample (µJ, runtime) |",
        "|---|---|---|---|---|"]
for fitness in ["spikes", "accuracy", "energy"]:
    best = json.load(open(f"{out}/{fitness}/best.json"))
    acc, spk, en = [], [], []
    for seed in seeds:
        run = f"{out}/{retrain}/{fitness}-seed{seed}"
        last = [json.loads(l) for l in open(f"{run}/metrics.jsonl") if l.strip()][-1]
        acc.append(100 * last["test_accuracy"])
        spk.append(last["spikes_per_sample"])
        en.append(1e6 * json.load(open(f"{run}/report.json"))["energy"]["total_j"])
    fmt = lambda v, d: f"{statistics.mean(v):.{d}f} ± {statistics.pstdev(v):.{d}f}"
    rows.append(f"| {fitness} | {best['best_blocks']} | {fmt(acc, 2)} | {fmt(spk, 0)} | {fmt(en, 3)} |")
text = "\n".join(rows) + "\n"
open(f"{out}/{summary}", "w").write(text)
print(text)
PY
