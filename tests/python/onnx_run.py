"""Check snnc's ONNX models with onnx.checker and run them in onnxruntime, for the Rust tests.

Usage: onnx_run.py JOBS.json RESULTS.json

JOBS.json: {"jobs": [{"model": "step.onnx", "input": "x.npy", "batch": 3}, ...]}
  input: float32, [S, *frame] for direct encoding, [S, T, *frame] for event frames.
  batch: samples per onnxruntime call (the models have a symbolic batch N); default all.
  spike_maps: true to also return every layer's spike map (the model must output them all).
RESULTS.json: {"versions": {...}, "results": [{"model", "kind", "logits": [[...]],
  "spikes": {layer: [[count at t for t in T] for each sample]}, "checker": "ok"}, ...]}
  With spike_maps, a result also has "spike_maps": {layer: [["0110..." (one character per
  neuron, flat) for t in T] for each sample]}.

The step model is driven the way docs/deploy.md describes: every state starts at its init value
from the model's `snnc.interface` metadata, and each `*.next` output is fed back at the next step.
Exit status 2 with a message on stderr if the checker or onnxruntime rejects a model.
"""

import json
import sys

import numpy as np
import onnx
import onnxruntime as ort


def metadata(model):
    return {p.key: p.value for p in model.metadata_props}


def session(path):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    return ort.InferenceSession(path, sess_options=opts, providers=["CPUExecutionProvider"])


def run_step(sess, iface, meta, x, spike_maps):
    """Host loop over T steps; returns logits [S, K], spike counts {layer: [S, T]} and, if asked,
    spike maps {layer: [S, T, neurons]}."""
    t_max = int(meta["snnc.timesteps"])
    events = meta["snnc.encoding"] == "event_frames"
    layers = json.loads(meta["snnc.layers"])
    n = x.shape[0]
    states = {
        s["input"]: np.full([n] + [d for d in s["shape"][1:]], s["init"], dtype=np.float32)
        for s in iface["states"]
    }
    counts = {l: np.zeros((n, t_max), dtype=np.int64) for l in layers}
    maps = {l: [] for l in layers}
    names = [o.name for o in sess.get_outputs()]
    logits = None
    for t in range(t_max):
        feed = dict(states)
        feed["x_t"] = np.ascontiguousarray(x[:, t] if events else x)
        out = dict(zip(names, sess.run(names, feed)))
        for s in iface["states"]:
            states[s["input"]] = out[s["output"]]
        for l in layers:
            counts[l][:, t] = out["spike_count." + l]
            if spike_maps:
                maps[l].append(out["spikes." + l].reshape(n, -1))
        logits = out["logits"]
    maps = {l: np.stack(per_t, axis=1) for l, per_t in maps.items()} if spike_maps else None
    return logits, counts, maps


def run_sequence(sess, meta, x, spike_maps):
    events = meta["snnc.encoding"] == "event_frames"
    layers = json.loads(meta["snnc.layers"])
    feed = {"x": np.ascontiguousarray(np.swapaxes(x, 0, 1) if events else x)}
    names = ["logits"] + ["spike_count." + l for l in layers]
    if spike_maps:
        names += ["spikes." + l for l in layers]
    out = dict(zip(names, sess.run(names, feed)))
    maps = None
    if spike_maps:
        # [T, N, *shape] -> [N, T, neurons]
        maps = {
            l: np.swapaxes(out["spikes." + l], 0, 1).reshape(x.shape[0], out["spikes." + l].shape[0], -1)
            for l in layers
        }
    return out["logits"], {l: out["spike_count." + l].T for l in layers}, maps


def bits(maps):
    """[S, T, neurons] of 0/1 as [[one character per neuron for each step] for each sample]."""
    flags = (maps > 0.5).astype(np.uint8) + ord("0")
    return [[row.tobytes().decode("ascii") for row in sample] for sample in flags]


def main():
    jobs = json.load(open(sys.argv[1]))["jobs"]
    results = []
    for job in jobs:
        model = onnx.load(job["model"])
        try:
            onnx.checker.check_model(model, full_check=True)
        except Exception as e:  # the checker's own exception types vary across versions
            print(f"{job['model']}: onnx.checker: {e}", file=sys.stderr)
            sys.exit(2)
        meta = metadata(model)
        iface = json.loads(meta["snnc.interface"])
        x = np.load(job["input"]).astype(np.float32)
        batch = int(job.get("batch") or x.shape[0])
        spike_maps = bool(job.get("spike_maps"))
        try:
            sess = session(job["model"])
            parts = []
            for start in range(0, x.shape[0], batch):
                chunk = x[start : start + batch]
                if iface["model"] == "step":
                    parts.append(run_step(sess, iface, meta, chunk, spike_maps))
                else:
                    parts.append(run_sequence(sess, meta, chunk, spike_maps))
        except Exception as e:
            print(f"{job['model']}: onnxruntime: {e}", file=sys.stderr)
            sys.exit(2)
        logits = np.concatenate([p[0] for p in parts])
        spikes = {l: np.concatenate([p[1][l] for p in parts]).tolist() for l in parts[0][1]}
        result = {
            "model": job["model"],
            "kind": iface["model"],
            "checker": "ok",
            "logits": logits.astype(np.float64).tolist(),
            "spikes": spikes,
        }
        if spike_maps:
            result["spike_maps"] = {
                l: bits(np.concatenate([p[2][l] for p in parts])) for l in parts[0][2]
            }
        results.append(result)
    versions = {"onnx": onnx.__version__, "onnxruntime": ort.__version__, "numpy": np.__version__}
    json.dump({"versions": versions, "results": results}, open(sys.argv[2], "w"))


if __name__ == "__main__":
    main()
