"""Export a trained snnc network and run it in onnxruntime from Python: the step model in a host
loop, and the sequence model in one call; print the predictions and check them against `snnc run`.

    python examples/onnx_host_loop.py tests/fixtures/trained/fmnist-conv --data-dir ../shared/data/fashion-mnist

The first argument is a training output folder (network.json + weights.safetensors), which the
script exports with `snnc export` into a temporary folder, or a folder `snnc export` already
wrote. The export folder holds step.onnx, sequence.onnx, manifest.json (inputs,
outputs and every state tensor with its shape and initial value) and network.snnir + weights
(what `snnc run` loads). Samples are MNIST / Fashion-MNIST test images, mapped the way snnc's
trainer and runtime map them (scale to [0, 1], normalise, zero-pad to the input size).

With an `snnc` binary (--snnc, or target/release|debug/snnc of this checkout, or on PATH), the
script also runs `snnc run` on the same samples and exits non-zero unless the accuracy and every
layer's spike count per timestep are the same. Needs onnxruntime and numpy (docs/deploy.md).
"""

import argparse
import gzip
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

import numpy as np
import onnxruntime as ort

# Per-dataset normalisation constants, as snnc-datasets fixes them (datasets/src/transform/norm.rs).
NORMALIZATION = {"mnist": (0.1307, 0.3081), "fashion-mnist": (0.2860, 0.3530)}


def read_idx(path):
    with gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb") as f:
        data = f.read()
    magic, n = struct.unpack(">II", data[:8])
    if magic == 2051:  # images
        rows, cols = struct.unpack(">II", data[8:16])
        return np.frombuffer(data, dtype=np.uint8, offset=16).reshape(n, rows, cols)
    if magic == 2049:  # labels
        return np.frombuffer(data, dtype=np.uint8, offset=8)
    raise ValueError(f"{path}: not an IDX image or label file (magic {magic})")


def find(data_dir, stem):
    for name in (stem + ".gz", stem):
        p = os.path.join(data_dir, name)
        if os.path.exists(p):
            return p
    raise FileNotFoundError(f"{data_dir}: no {stem}[.gz]")


def test_samples(dataset, data_dir, frame, count):
    """The first `count` test images as the model's input frames, float32 [count, *frame]."""
    if dataset not in NORMALIZATION:
        sys.exit(f"this example reads MNIST-style images; the network was trained on {dataset}")
    images = read_idx(find(data_dir, "t10k-images-idx3-ubyte"))[:count]
    labels = read_idx(find(data_dir, "t10k-labels-idx1-ubyte"))[:count]
    mean, std = (np.float32(v) for v in NORMALIZATION[dataset])
    # Same float32 arithmetic as the Rust pipeline: v = pixel * (1 / (255 std)) - mean / std.
    scale = np.float32(1.0) / (np.float32(255.0) * std)
    offset = mean / std
    x = images.astype(np.float32) * scale - offset
    n, h, w = x.shape
    if len(frame) == 1:  # a flat input reads the image row-major
        return x.reshape(n, h * w), labels
    c, fh, fw = frame
    if (c, fh, fw) != (1, h, w):  # a larger input is zero-padded around the centred image
        top, left = (fh - h) // 2, (fw - w) // 2
        padded = np.zeros((n, 1, fh, fw), dtype=np.float32)
        padded[:, 0, top : top + h, left : left + w] = x
        return padded, labels
    return x.reshape(n, 1, h, w), labels


def session(path):
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    return ort.InferenceSession(path, sess_options=opts, providers=["CPUExecutionProvider"])


def run_step_model(path, manifest, x):
    """The host loop of docs/deploy.md: states from their init values, feed back every *.next."""
    step = manifest["step"]
    t_max = manifest["timesteps"]
    n = x.shape[0]
    sess = session(path)
    # An init is a number, or (a per-neuron v_reset or rest) nested lists of the state's shape
    # without the batch axis: np.full broadcasts either over [n, ...].
    states = {s["input"]: np.full([n] + s["shape"][1:], s["init"], dtype=np.float32) for s in step["states"]}
    spikes = {layer: np.zeros((t_max, n), dtype=np.int64) for layer in manifest["layers"]}
    out_names = [o.name for o in sess.get_outputs()]
    for t in range(t_max):
        # Direct encoding: the same frame at every step; event frames: frame t.
        x_t = x if manifest["encoding"] == "direct" else x[:, t]
        out = dict(zip(out_names, sess.run(out_names, {"x_t": x_t, **states})))
        for s in step["states"]:
            states[s["input"]] = out[s["output"]]
        for layer in spikes:
            spikes[layer][t] = out["spike_count." + layer]
    return out["logits"], spikes


def run_sequence_model(path, manifest, x):
    sess = session(path)
    feed = x if manifest["encoding"] == "direct" else np.swapaxes(x, 0, 1)
    names = ["logits"] + ["spike_count." + layer for layer in manifest["layers"]]
    out = dict(zip(names, sess.run(names, {"x": feed})))
    return out["logits"], {layer: out["spike_count." + layer] for layer in manifest["layers"]}


def find_snnc(explicit):
    if explicit:
        return explicit
    here = os.path.dirname(os.path.abspath(__file__))
    for build in ("release", "debug"):
        p = os.path.join(here, "..", "target", build, "snnc")
        if os.path.exists(p):
            return p
    return shutil.which("snnc")


def snnc_run(snnc, folder, manifest, dataset, data_dir, count):
    with tempfile.TemporaryDirectory() as tmp:
        report = os.path.join(tmp, "report.json")
        ir = os.path.join(folder, manifest["files"]["ir"])
        cmd = [snnc, "run", ir, "--dataset", dataset, "--data-dir", data_dir, "--samples", str(count), "--report", report, "--quiet"]
        subprocess.run(cmd, check=True)
        return json.load(open(report))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("source", help="a training output folder, or a folder written by `snnc export`")
    ap.add_argument("--data-dir", required=True, help="the dataset's folder (IDX files)")
    ap.add_argument("--dataset", help="mnist or fashion-mnist (default: the network's meta.dataset)")
    ap.add_argument("--samples", type=int, default=16)
    ap.add_argument("--snnc", help="the snnc binary to compare with (default: this checkout's, or PATH)")
    a = ap.parse_args()

    snnc = find_snnc(a.snnc)
    with tempfile.TemporaryDirectory() as tmp:
        if os.path.exists(os.path.join(a.source, "manifest.json")):
            export_dir = a.source
        else:
            if snnc is None:
                sys.exit(f"{a.source} is not an export folder, and no snnc binary was found to export it (pass --snnc)")
            export_dir = os.path.join(tmp, "export")
            subprocess.run([snnc, "export", a.source, "--out", export_dir], check=True)
        sys.exit(0 if run(a, export_dir, snnc) else 1)


def run(a, export_dir, snnc):
    manifest = json.load(open(os.path.join(export_dir, "manifest.json")))
    dataset = a.dataset or (manifest.get("meta") or {}).get("dataset")
    if not dataset:
        sys.exit("the manifest names no dataset; pass --dataset")
    frame = manifest["step"]["inputs"][0]["shape"][1:]
    x, labels = test_samples(dataset, a.data_dir, frame, a.samples)

    logits, spikes = run_step_model(os.path.join(export_dir, manifest["files"]["step"]), manifest, x)
    seq_logits, seq_spikes = run_sequence_model(os.path.join(export_dir, manifest["files"]["sequence"]), manifest, x)
    pred = logits.argmax(axis=1)
    print(f"{manifest['module']}: {manifest['timesteps']} timesteps, {len(labels)} {dataset} test samples, onnxruntime {ort.__version__}")
    print("sample  label  prediction")
    for i, (l, p) in enumerate(zip(labels, pred)):
        print(f"{i:>6}  {l:>5}  {p:>10}")
    accuracy = float((pred == labels).mean())
    print(f"accuracy {int((pred == labels).sum())}/{len(labels)} = {accuracy:.4f}")

    ok = True
    # The two models are the same network: same predictions, same spikes.
    if not (seq_logits.argmax(axis=1) == pred).all() or any((seq_spikes[k] != spikes[k]).any() for k in spikes):
        print("the sequence model disagrees with the step model")
        ok = False
    else:
        print("sequence model: same predictions and spike counts as the step model")

    if snnc is None:
        print("no snnc binary found (build it, or pass --snnc): skipped the comparison with `snnc run`")
    else:
        report = snnc_run(snnc, export_dir, manifest, dataset, a.data_dir, a.samples)
        by_name = {layer["name"]: layer for layer in report["layers"]}
        same_acc = abs(report["accuracy"] - accuracy) < 1e-12
        theirs_pred = np.array(report["predictions"])
        same_pred = theirs_pred.shape == pred.shape and bool((theirs_pred == pred).all())
        print("snnc run predictions: " + ("the same on every sample" if same_pred
              else f"differ on samples {np.nonzero(theirs_pred != pred)[0].tolist()}"))
        mismatched = []
        for layer, counts in spikes.items():
            theirs = np.array(by_name[layer]["spikes_per_timestep"]) * report["samples"]
            if not np.allclose(theirs, counts.sum(axis=1), atol=1e-6):
                mismatched.append(layer)
        print(f"snnc run: accuracy {report['accuracy']:.4f}; spikes per layer and timestep "
              + ("equal" if not mismatched else f"differ in {mismatched}"))
        if not same_acc or not same_pred or mismatched:
            ok = False
    return ok


if __name__ == "__main__":
    main()
