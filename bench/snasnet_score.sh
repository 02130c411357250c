#!/usr/bin/env bash
# SNASNet scoring speed (issue 7): `snnc search snasnet` against the PyTorch CPU scoring loop of
# bench/snasnet_score_torch.py, on the SAME candidates, interleaved round by round:
#   (a) CIFAR-10 partial, width 16, B = 256, R = 2, T = 5
#   (b) Fashion-MNIST,   width 32, B = 128, R = 2, T = 5
# Each round, snnc scores the next few candidates of its search (resuming its own log), then torch
# scores those same genotypes. Prints a markdown table: candidates/s, ratio, kernel share, and the
# rank correlation of the two sides' scores (different init/batch/dropout streams, so the numbers
# differ candidate by candidate).
# Each process's first candidate carries its warm-up (allocator, thread pools); the "warm" ratio
# leaves those candidates out on both sides.
# Env: PYTHON (with torch, default python3), DATA (default ../shared/data), ROUNDS (default 2),
# PER_A / PER_B (candidates per round, default 3 / 3), CELL (default backward), OUT (keep files).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
DATA="${DATA:-../shared/data}"
ROUNDS="${ROUNDS:-2}"
PER_A="${PER_A:-3}"
PER_B="${PER_B:-3}"
CELL="${CELL:-backward}"
export RAYON_NUM_THREADS=2 OMP_NUM_THREADS=2 MKL_NUM_THREADS=2
cargo build --release -p snnc -q
SNNC="${CARGO_TARGET_DIR:-target}/release/snnc"
OUT="${OUT:-$(mktemp -d)}"
mkdir -p "$OUT"
echo "files in $OUT; $(nproc) cores; load before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

# name dataset data-subdir width batch per-round
settings=(
    "a cifar10 cifar-10-partial 16 256 $PER_A"
    "b fashion-mnist fashion-mnist 32 128 $PER_B"
)
for round in $(seq "$ROUNDS"); do
    for s in "${settings[@]}"; do
        read -r name dataset sub width batch per <<<"$s"
        n=$((round * per))
        echo "round $round setting ($name): snnc candidates $((n - per))..$((n - 1))" >&2
        "$SNNC" search snasnet --dataset "$dataset" --data-dir "$DATA/$sub" --candidates "$n" \
            --cell "$CELL" --batch "$batch" --repeats 2 --timesteps 5 --width "$width" --seed 0 \
            --out "$OUT/$name" --quiet >"$OUT/$name.snnc.log"
        echo "round $round setting ($name): torch, same candidates" >&2
        "$PYTHON" bench/snasnet_score_torch.py --search-dir "$OUT/$name" --data-dir "$DATA/$sub" \
            --skip $((n - per)) --limit "$per" --seed "$round" >>"$OUT/$name.torch.jsonl"
    done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

"$PYTHON" - "$OUT" <<'PY'
import json, os, sys
out = sys.argv[1]
label = {"a": "(a) CIFAR-10 partial, w16, B256, R2, T5", "b": "(b) Fashion-MNIST, w32, B128, R2, T5"}

def ranks(xs):
    order = sorted(range(len(xs)), key=lambda i: xs[i])
    r = [0.0] * len(xs)
    for k, i in enumerate(order):
        r[i] = float(k)
    return r

def spearman(a, b):
    if len(a) < 3:
        return float("nan")
    ra, rb = ranks(a), ranks(b)
    ma, mb = sum(ra) / len(ra), sum(rb) / len(rb)
    num = sum((x - ma) * (y - mb) for x, y in zip(ra, rb))
    den = (sum((x - ma) ** 2 for x in ra) * sum((y - mb) ** 2 for y in rb)) ** 0.5
    return num / den if den else float("nan")

print("| setting | N | snnc cand/s | torch cand/s | snnc / torch | per-round | warm | snnc kernel | torch kernel | Spearman of scores |")
print("|---|---|---|---|---|---|---|---|---|---|")
details = []
for name in ("a", "b"):
    rust = {}
    for line in open(os.path.join(out, name, "candidates.jsonl")):
        if line.strip():
            r = json.loads(line)
            rust[r["index"]] = r
    runs = [json.loads(l) for l in open(os.path.join(out, name + ".torch.jsonl")) if l.strip()]
    torch_recs = [r for run in runs for r in run["records"]]
    idx = [r["index"] for r in torch_recs]
    rs = [rust[i] for i in idx]
    assert all(a["genotype"] == b["genotype"] for a, b in zip(rs, torch_recs)), "genotypes differ"
    rsec = sum(r["seconds"] for r in rs)
    tsec = sum(r["seconds"] for r in torch_recs)
    rker = sum(r["kernel_seconds"] for r in rs)
    tker = sum(r["kernel_seconds"] for r in torch_recs)
    per_round = []
    firsts = {run["records"][0]["index"] for run in runs if run["records"]}
    warm = [i for i in idx if i not in firsts]
    wr = sum(rust[i]["seconds"] for i in warm)
    wt = sum(r["seconds"] for r in torch_recs if r["index"] in warm)
    warm_ratio = f"{wt / wr:.2f}x" if wr > 0 else "-"
    for run in runs:
        ids = [r["index"] for r in run["records"]]
        rr = sum(rust[i]["seconds"] for i in ids)
        tt = sum(r["seconds"] for r in run["records"])
        per_round.append(f"{tt / rr:.2f}")
    rho = spearman([r["score"] for r in rs], [r["score"] for r in torch_recs])
    print(f"| {label[name]} | {len(idx)} | {len(idx) / rsec:.3f} | {len(idx) / tsec:.3f} | "
          f"**{tsec / rsec:.2f}x** | {', '.join(per_round)} | {warm_ratio} | {100 * rker / rsec:.1f} % | "
          f"{100 * tker / tsec:.1f} % | {rho:.2f} |")
    for a, b in zip(rs, torch_recs):
        details.append(f"  ({name}) #{a['index']} {a['genotype']}  lif calls {a['lif_calls']}/{b['lif_calls']}  "
                       f"snnc {a['seconds']:.2f} s (kernel {a['kernel_seconds']:.2f}) score {a['score']:.2f}  |  "
                       f"torch {b['seconds']:.2f} s (kernel {b['kernel_seconds']:.2f}) score {b['score']:.2f}")
print()
print("per candidate:")
print("\n".join(details))
PY
