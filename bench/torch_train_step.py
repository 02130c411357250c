"""PyTorch CPU reference for `snnc bench train-step`: the same network, input and update.

conv 1->32 3x3 p1 -> LIF -> conv 32->64 3x3 s2 p1 -> LIF -> fc 12544->10 (bias), T steps,
Bernoulli(0.2) spike input, LIF beta 0.9 with subtract reset of a detached spike, ATan surrogate
(alpha 2), cross-entropy on the time-mean of the fc output, AdamW(lr 1e-3, wd 0.01).
Prints one JSON line like the Rust side.
"""
import argparse
import json
import math
import time

import torch


class SpikeATan(torch.autograd.Function):
    @staticmethod
    def forward(ctx, v):
        ctx.save_for_backward(v)
        return (v >= 1.0).float()

    @staticmethod
    def backward(ctx, g):
        (v,) = ctx.saved_tensors
        return g / (1.0 + (math.pi * (v - 1.0)) ** 2)


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 32, 3, padding=1, bias=False)
        self.conv2 = torch.nn.Conv2d(32, 64, 3, stride=2, padding=1, bias=False)
        self.fc = torch.nn.Linear(12544, 10)

    @staticmethod
    def lif(v, x):
        h = 0.9 * v + x
        s = SpikeATan.apply(h)
        return s, h - s.detach()

    def forward(self, x):  # x: [B, T, 1, 28, 28]
        b, t = x.shape[:2]
        v1 = torch.zeros(b, 32, 28, 28)
        v2 = torch.zeros(b, 64, 14, 14)
        acc = 0
        for step in range(t):
            s1, v1 = self.lif(v1, self.conv1(x[:, step]))
            s2, v2 = self.lif(v2, self.conv2(s1))
            acc = acc + self.fc(s2.flatten(1))
        return acc / t


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--timesteps", type=int, default=5)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--inference", action="store_true")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(7)
    net = Net()
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=0.01)
    x = (torch.rand(a.batch, a.timesteps, 1, 28, 28) < 0.2).float()
    y = torch.arange(a.batch) % 10
    times = []
    for i in range(a.steps + 3):
        start = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
        if i >= 3:
            times.append((time.perf_counter() - start) * 1e3)
    inference = []
    if a.inference:
        for b, reps in ((1, 30), (a.batch, 5)):
            t = []
            with torch.inference_mode():
                for i in range(reps + 2):
                    start = time.perf_counter()
                    net(x[:b])
                    if i >= 2:
                        t.append((time.perf_counter() - start) * 1e3)
            inference.append({"batch": b, "ms": median(t)})
    print(json.dumps({"bench": "train_step", "impl": "torch", "batch": a.batch, "timesteps": a.timesteps,
                      "median_ms": median(times), "all_ms": times, "inference": inference,
                      "torch": torch.__version__, "threads": a.threads}))


if __name__ == "__main__":
    main()
