"""PyTorch CPU reference for `snnc search snasnet`: the official SNASNet scoring loop (snasnet.md §4).

Scores the candidates a Rust search wrote (OUT/search.json + OUT/candidates.jsonl), so both sides
score identical genotypes with the same macro network (snasnet.md §3, snnc's SnasnetConfig: stem
conv3x3 -> BN once, then per step cell(C) -> BN-LIF-conv3x3(C->2C)-BN -> avgpool2 -> cell(2C) ->
BN-LIF -> avgpool2 -> dropout(0.5, mask fixed over t) -> fc(1024, no bias) -> LIF -> fc(10*10) ->
vote), the same init (conv kaiming_uniform a=2, linear N(0, 0.01), BN 1/0), the same LIF
(v <- v + (x - v)/tau, tau 4/3, fire at v >= 1, hard reset to 0), the same input pipeline
(Fashion-MNIST: /255, (x - 0.2860)/0.3530, 28x28 as is; CIFAR-10: random crop pad 4 + flip,
per-channel normalisation) and the official scoring loop: train mode under no_grad, a forward hook
on every LIF module, per call c = 1[out > 0], d_H = c(1-c)^T + (1-c)c^T and the SAHD kernel
N - 0.5 d_H / (E + 1e-3) as float32 matmuls, accumulated into a float64 numpy array, mean over
calls, numpy slogdet per pass, mean over passes.

The random streams (init, batches, dropout) are torch's/numpy's, not snnc's, so the scores differ
from the Rust ones candidate by candidate; only their ranking should roughly agree.

Prints one JSON line: seconds per candidate, kernel share (time inside the LIF hooks, as the Rust
side counts it) and every score.
"""
import argparse
import gzip
import json
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

TAU = 4.0 / 3.0
NORM = {
    "fashion-mnist": ([0.2860], [0.3530]),
    "mnist": ([0.1307], [0.3081]),
    "cifar10": ([0.4914, 0.4822, 0.4465], [0.2470, 0.2435, 0.2616]),
}


# ----------------------------------------------------------------------------------------- data
def load_train(dataset, data_dir):
    """uint8 images [N, C, H, W] of the training split."""
    if dataset in ("fashion-mnist", "mnist"):
        with gzip.open(os.path.join(data_dir, "train-images-idx3-ubyte.gz"), "rb") as f:
            raw = f.read()
        n, h, w = (int.from_bytes(raw[i:i + 4], "big") for i in (4, 8, 12))
        return np.frombuffer(raw, np.uint8, offset=16).reshape(n, 1, h, w)
    if dataset == "cifar10":
        names = sorted(p for p in os.listdir(data_dir) if p.startswith("data_batch") and p.endswith(".bin"))
        recs = np.concatenate([np.fromfile(os.path.join(data_dir, p), np.uint8).reshape(-1, 3073) for p in names])
        return recs[:, 1:].reshape(-1, 3, 32, 32)
    raise SystemExit(f"dataset {dataset} is not supported here")


class Batches:
    """One fresh shuffled batch per pass, with the dataset's train-time augmentation."""

    def __init__(self, dataset, images, batch, rng):
        self.images, self.batch, self.rng = images, batch, rng
        mean, std = NORM[dataset]
        c = images.shape[1]
        self.mean = torch.tensor(mean * (c // len(mean))).view(1, c, 1, 1)
        self.std = torch.tensor(std * (c // len(std))).view(1, c, 1, 1)
        self.augment = dataset == "cifar10"

    def next(self):
        idx = self.rng.permutation(len(self.images))[: self.batch]
        x = self.images[idx]
        if self.augment:  # RandomCrop(32, padding=4) + RandomHorizontalFlip
            b, c, h, w = x.shape
            pad = np.zeros((b, c, h + 8, w + 8), np.uint8)
            pad[:, :, 4:4 + h, 4:4 + w] = x
            oy = self.rng.integers(0, 9, b)
            ox = self.rng.integers(0, 9, b)
            flip = self.rng.random(b) < 0.5
            out = np.empty_like(x)
            for i in range(b):
                crop = pad[i, :, oy[i]:oy[i] + h, ox[i]:ox[i] + w]
                out[i] = crop[:, :, ::-1] if flip[i] else crop
            x = out
        x = torch.from_numpy(np.ascontiguousarray(x)).float().div_(255.0)
        return (x - self.mean) / self.std


# -------------------------------------------------------------------------------------- network
class LIF(nn.Module):
    """SpikingJelly LIFNode(tau=4/3, v_th=1, v_reset=0, decay_input=True), hard reset."""

    def __init__(self):
        super().__init__()
        self.v = 0.0

    def reset(self):
        self.v = 0.0

    def forward(self, x):
        v = self.v + (x - self.v) / TAU
        s = (v >= 1.0).float()
        self.v = v * (1.0 - s)
        return s


class FixedDropout(nn.Module):
    """SpikingJelly layer.Dropout: one mask per forward pass, reused at every step."""

    def __init__(self, p):
        super().__init__()
        self.p, self.mask = p, None

    def reset(self):
        self.mask = None

    def forward(self, x):
        if not self.training:
            return x
        if self.mask is None:
            self.mask = F.dropout(torch.ones_like(x), self.p, training=True)
        return x * self.mask


class Zero(nn.Module):
    def forward(self, x):
        return x * 0.0


def edge_op(op, c):
    if op == 0:
        return Zero()
    if op == 1:
        return nn.Identity()
    if op in (2, 3):
        k = 1 if op == 2 else 3
        return nn.Sequential(LIF(), nn.Conv2d(c, c, k, 1, k // 2, bias=False), nn.BatchNorm2d(c))
    return nn.AvgPool2d(3, 1, 1)  # count_include_pad=True, as in the official code


def parse_cnt_mat(text):
    rows = text.split()
    return np.array([[int(ch) for ch in r] for r in rows], dtype=np.int64)


def prune(m):
    """The official validity pruning (snasnet.md §2.6): drop nodes 1, 2 that lie on no input->output path."""
    a = (m != 0).astype(np.int64)
    g = a + a @ a + a @ a @ a + a @ a @ a @ a
    m = m.copy()
    for n in range(3):
        if g[n, 3] == 0:
            m[n, :] = 0
            m[:, n] = 0
    for n in range(1, 4):
        if g[0, n] == 0:
            m[n, :] = 0
            m[:, n] = 0
    return m


class Cell(nn.Module):
    """4-node cell; m[i, j] with i < j a same-step edge, i > j an edge delivered at t+1 (snasnet.md §2.4-2.5)."""

    FWD = [(0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3)]
    BWD = [(1, 0), (2, 0), (3, 0), (2, 1), (3, 1), (3, 2)]

    def __init__(self, m, c):
        super().__init__()
        self.backward_cell = any(m[i, j] for i, j in self.BWD)
        self.fwd = nn.ModuleList(edge_op(int(m[i, j]), c) for i, j in self.FWD)
        self.bwd = nn.ModuleList(edge_op(int(m[i, j]), c) for i, j in self.BWD) if self.backward_cell else None
        self.reset()

    def reset(self):
        self.m0 = self.m1 = self.m2 = 0.0

    def forward(self, x0):
        f = self.fwd
        if not self.backward_cell:
            x1 = f[0](x0)
            x2 = f[1](x0) + f[2](x1)
            return f[3](x0) + f[4](x1) + f[5](x2)
        b = self.bwd
        z0 = x0 + self.m0
        z1 = f[0](z0) + self.m1
        z2 = f[1](z0) + f[2](z1) + self.m2
        x3 = f[3](z0) + f[4](z1) + f[5](z2)
        self.m0 = b[0](z1) + b[1](z2) + b[2](x3)
        self.m1 = b[3](z2) + b[4](x3)
        self.m2 = b[5](x3)
        return x3


class SNASNet(nn.Module):
    def __init__(self, m, in_ch, side, classes, width, timesteps, hidden=1024, vote=10, second_pool=2):
        super().__init__()
        c = width
        self.t = timesteps
        self.stem = nn.Sequential(nn.Conv2d(in_ch, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c))
        self.cell1 = Cell(m, c)
        self.down = nn.Sequential(nn.BatchNorm2d(c), LIF(), nn.Conv2d(c, 2 * c, 3, 1, 1, bias=False),
                                  nn.BatchNorm2d(2 * c), nn.AvgPool2d(2, 2))
        self.cell2 = Cell(m, 2 * c)
        self.last = nn.Sequential(nn.BatchNorm2d(2 * c), LIF(), nn.AvgPool2d(second_pool, second_pool))
        s3 = side // 2 // second_pool
        self.head = nn.Sequential(nn.Flatten(), FixedDropout(0.5), nn.Linear(2 * c * s3 * s3, hidden, bias=False),
                                  LIF(), nn.Linear(hidden, classes * vote))
        self.vote = nn.AvgPool1d(vote, vote)
        for mod in self.modules():  # snasnet.md §3.3
            if isinstance(mod, nn.Conv2d):
                nn.init.kaiming_uniform_(mod.weight, a=2)
            elif isinstance(mod, nn.Linear):
                nn.init.normal_(mod.weight, 0.0, 0.01)
                if mod.bias is not None:
                    nn.init.zeros_(mod.bias)
            elif isinstance(mod, nn.BatchNorm2d):
                nn.init.ones_(mod.weight)
                nn.init.zeros_(mod.bias)

    def reset(self, everything):
        """Feedback buffers always restart at 0; LIF membranes and dropout masks only if `everything`."""
        for mod in self.modules():
            if isinstance(mod, Cell) or (everything and isinstance(mod, (LIF, FixedDropout))):
                mod.reset()

    def forward(self, x):
        static = self.stem(x)
        out = 0.0
        for _ in range(self.t):
            y = self.down(self.cell1(static))
            y = self.last(self.cell2(y))
            out = out + self.vote(self.head(y).unsqueeze(1)).squeeze(1)
        return out / self.t


# ---------------------------------------------------------------------------------------- score
class KernelHook:
    """The official per-call SAHD kernel, float32 matmuls, accumulated in float64 numpy."""

    def __init__(self, batch):
        self.k = np.zeros((batch, batch))
        self.calls = 0
        self.seconds = 0.0

    def __call__(self, module, inp, out):
        start = time.perf_counter()
        c = (out.reshape(out.shape[0], -1) > 0).float()
        n = c.shape[1]
        nc = 1.0 - c
        d_h = c @ nc.t() + nc @ c.t()
        r = c.mean(1, keepdim=True)
        e = n * (r * (1.0 - r.t()) + (1.0 - r) * r.t())
        k = n - 0.5 * d_h / (e + 1e-3)
        self.k += k.numpy()
        self.calls += 1
        self.seconds += time.perf_counter() - start


def score_candidate(geno, s, geom, batches):
    m = prune(parse_cnt_mat(geno))
    in_ch, side, classes = geom
    net = SNASNet(m, in_ch, side, classes, s["width"], s["timesteps"])
    net.train()
    per_pass, kernel_s, calls = [], 0.0, 0
    with torch.no_grad():
        for r in range(s["repeats"]):
            x = batches.next()
            net.reset(everything=(r == 0 or not s.get("carry_state", False)))
            hook = KernelHook(x.shape[0])
            handles = [mod.register_forward_hook(hook) for mod in net.modules() if isinstance(mod, LIF)]
            net(x)
            for h in handles:
                h.remove()
            per_pass.append(float(np.linalg.slogdet(hook.k / hook.calls)[1]))
            kernel_s += hook.seconds
            calls = hook.calls
    return per_pass, kernel_s, calls


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--search-dir", required=True, help="a `snnc search snasnet --out` folder")
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--limit", type=int, default=None, help="score only the first N candidates")
    ap.add_argument("--skip", type=int, default=0, help="skip the first N candidates (warm-up elsewhere)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    s = json.load(open(os.path.join(a.search_dir, "search.json")))
    if s.get("kernel", "sahd") != "sahd":
        raise SystemExit("only the sahd kernel is implemented here")
    recs = [json.loads(l) for l in open(os.path.join(a.search_dir, "candidates.jsonl")) if l.strip()]
    recs = recs[a.skip:]
    if a.limit is not None:
        recs = recs[: a.limit]
    images = load_train(s["dataset"], a.data_dir)
    geom = (images.shape[1], images.shape[2], 10)
    batches = Batches(s["dataset"], images, s["batch"], np.random.default_rng(a.seed))
    out = []
    for rec in recs:
        start = time.perf_counter()
        per_pass, kernel_s, calls = score_candidate(rec["genotype"], s, geom, batches)
        secs = time.perf_counter() - start
        out.append({"index": rec["index"], "genotype": rec["genotype"], "score": sum(per_pass) / len(per_pass),
                    "per_pass": per_pass, "lif_calls": calls, "seconds": secs, "kernel_seconds": kernel_s})
    total = sum(r["seconds"] for r in out)
    kern = sum(r["kernel_seconds"] for r in out)
    print(json.dumps({"impl": "torch", "torch": torch.__version__, "threads": torch.get_num_threads(),
                      "dataset": s["dataset"], "width": s["width"], "batch": s["batch"], "repeats": s["repeats"],
                      "timesteps": s["timesteps"], "candidates": len(out),
                      "seconds_per_candidate": total / max(len(out), 1),
                      "candidates_per_second": len(out) / total if total > 0 else None,
                      "kernel_share": kern / total if total > 0 else None, "records": out}))


if __name__ == "__main__":
    main()
