"""onnxruntime on the models `snnc export` writes, on the same inputs as the runtime's benchmark.

    cargo run --release -p snnc-runtime --example bench -- --net fmnist-conv=RUN:fashion-mnist:DIR --dump /tmp/inputs
    snnc export RUN --out /tmp/export-fmnist-conv
    python runtime/benches/onnxruntime_bench.py /tmp/export-fmnist-conv /tmp/inputs/fmnist-conv.f32

The step model is driven over T steps by a host loop (docs/deploy.md), states fed back; the
sequence model runs the T steps in one call. Batch 1: median wall clock per sample over the
first 64 samples. Batch: all samples in one batch, best of 3, per sample. With 1 and 2 intra-op
threads. Prints one markdown row per (model, threads).
"""

import argparse
import json
import os
import statistics
import time

import numpy as np
import onnxruntime as ort


def session(path, threads):
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(path, sess_options=opts, providers=["CPUExecutionProvider"])


def step_loop(sess, manifest, x):
    step = manifest["step"]
    n = x.shape[0]
    states = {s["input"]: np.full([n] + s["shape"][1:], s["init"], dtype=np.float32) for s in step["states"]}
    outs = ["logits"] + [s["output"] for s in step["states"]]
    for t in range(manifest["timesteps"]):
        x_t = x if manifest["encoding"] == "direct" else x[:, t]
        res = sess.run(outs, {"x_t": x_t, **states})
        for s, v in zip(step["states"], res[1:]):
            states[s["input"]] = v
    return res[0]


def sequence(sess, manifest, x):
    feed = x if manifest["encoding"] == "direct" else np.ascontiguousarray(np.swapaxes(x, 0, 1))
    return sess.run(["logits"], {"x": feed})[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("export_dir")
    ap.add_argument("inputs", help="LABEL.f32 written by the runtime bench's --dump")
    ap.add_argument("--batch1", type=int, default=64, help="samples timed one by one")
    a = ap.parse_args()
    manifest = json.load(open(os.path.join(a.export_dir, "manifest.json")))
    frame = manifest["step"]["inputs"][0]["shape"][1:]
    per_step = int(np.prod(frame))
    t_max = manifest["timesteps"]
    raw = np.fromfile(a.inputs, dtype="<f4")
    if manifest["encoding"] == "direct":
        x = raw.reshape(-1, *frame)
    else:
        x = raw.reshape(-1, t_max, *frame)
    n = x.shape[0]
    name = os.path.basename(a.inputs).removesuffix(".f32")
    for model, run in (("step", step_loop), ("sequence", sequence)):
        for threads in (1, 2):
            sess = session(os.path.join(a.export_dir, manifest["files"][model]), threads)
            run(sess, manifest, x[:2])  # warm-up
            single = []
            for i in range(min(a.batch1, n)):
                t0 = time.perf_counter()
                run(sess, manifest, x[i : i + 1])
                single.append(time.perf_counter() - t0)
            batch = min(
                (lambda t0: (run(sess, manifest, x), time.perf_counter() - t0)[1])(time.perf_counter()) for _ in range(3)
            )
            print(f"| {name} | onnxruntime {ort.__version__} {model} | {threads} | {statistics.median(single) * 1e6:.1f} | {batch / n * 1e6:.1f} ({n} samples) |")
    _ = per_step


if __name__ == "__main__":
    main()
