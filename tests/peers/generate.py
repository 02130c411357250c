"""Run small networks in the frameworks that define their neurons and write what they computed.

Usage (outside CI; needs the pinned peers of requirements.txt in a venv):
    python tests/peers/generate.py DATA_DIR OUT_DIR [CASE...]
(with CASE names, only those cases are written)

Each case is written to OUT_DIR/<case>/ as
    network.json          the network in snnc's format (docs/network-format.md)
    weights.safetensors   its parameters, named <node>.<role> as the format says
    peer.safetensors      input   f32 [S, numel] (direct) or [S, T * numel] (event frames)
                          spikes.<layer>    u8  [S, T, neurons]: the framework's spikes
                          membrane.<layer>  f32 [S, T, neurons]: the membrane it exposes
                                            (snnTorch: before any reset; SpikingJelly and
                                            Norse: after)
                          readout f32 [S, classes]: the readout node's spikes summed over T;
                                  for a leaky-integrator readout (`li` / `cuba_li`, no spikes
                                  of its own) its membrane reduced over T as the framework
                                  reduces it (last, mean or max)
    case.json             framework, versions, neuron settings, what the inputs are

The Rust tests (runtime/tests/it/peers.rs, compiler/tests/it/onnx_peers.rs, tests/cli/ir_candle.rs) run each network in
snnc and compare spike for spike, so CI needs no torch. Everything is seeded: a rerun with the
same versions on the same kind of CPU writes the same bytes. On another CPU torch's matrix
products may sum in another order (MKL picks its kernels by instruction set), so the membranes
recorded after a dense layer may differ in their last bits; inputs, weights, networks and spikes
do not (regenerated on an AVX-512 machine, every committed fixture kept its spikes and changed
only such membranes). So a new case is written by naming it; the committed ones stay as they
are. Before writing a case, the generator runs the written network through its own float32
transcription of snnc's arithmetic (`snnc_spikes`) and prints how many spikes differ from the
framework's: a check of the mapping, not a replacement for the Rust tests.

A neuron parameter given per channel or per neuron (`Leaky(beta=<tensor>)`, a Norse
`LIFParameters` of tensors) is written as snnc writes it: the node's field names a tensor of
weights.safetensors, `<node>.<field>`, in the shape the framework broadcasts it with (`[C, 1,
1]` for a conv layer's channels, `[N]` for a dense layer's neurons).
"""

import gzip
import json
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn

import snntorch
import spikingjelly
from spikingjelly.activation_based import functional as sj_functional
from spikingjelly.activation_based import neuron as sj_neuron

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)


# --- data -------------------------------------------------------------------------------------


def digits(data_dir, count):
    """scikit-learn digits, pixels / 16 as float32 [count, 64], from the gzip CSV as shipped."""
    path = os.path.join(data_dir, "sklearn-digits", "digits.csv.gz")
    with gzip.open(path, "rt") as f:
        rows = [line.strip().split(",") for line in f if line.strip()]
    x = np.array([[float(v) for v in r[:64]] for r in rows[:count]], dtype=np.float32)
    return x / np.float32(16.0)


def fashion_mnist(data_dir, count):
    """Fashion-MNIST test images / 255 as float32 [count, 1, 28, 28], from the IDX gzip."""
    path = os.path.join(data_dir, "fashion-mnist", "t10k-images-idx3-ubyte.gz")
    with gzip.open(path, "rb") as f:
        magic, n, h, w = struct.unpack(">IIII", f.read(16))
        assert magic == 0x803 and (h, w) == (28, 28)
        pixels = np.frombuffer(f.read(count * h * w), dtype=np.uint8)
    return (pixels.reshape(count, 1, h, w).astype(np.float32) / np.float32(255.0)).copy()


def spike_trains(seed, samples, steps, shape, rate):
    """Random binary event frames float32 [samples, steps, *shape] (Bernoulli(rate))."""
    g = torch.Generator().manual_seed(seed)
    return (torch.rand((samples, steps) + tuple(shape), generator=g) < rate).float().numpy()


# --- safetensors ------------------------------------------------------------------------------

DTYPES = {np.dtype(np.float32): "F32", np.dtype(np.uint8): "U8"}


def write_safetensors(path, tensors):
    """The safetensors layout: u64 header length, JSON header, then the raw little-endian data."""
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name])
        data = a.astype(a.dtype.newbyteorder("<")).tobytes()
        header[name] = {
            "dtype": DTYPES[a.dtype],
            "shape": list(a.shape),
            "data_offsets": [offset, offset + len(data)],
        }
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


# --- networks ---------------------------------------------------------------------------------


NEURON_OPS = ("lif", "if", "cuba_lif")
INTEGRATOR_OPS = ("li", "cuba_li")


class Case:
    """A feed-forward stack of (name, torch layer, snnc node) run for T steps."""

    def __init__(self, name, framework, timesteps, input_shape, encoding, layers, settings,
                 readout="spike_count", samples=None):
        self.name = name
        self.samples = samples  # None: the input's usual count (`inputs`)
        self.readout = readout
        self.framework = framework
        self.timesteps = timesteps
        self.input_shape = input_shape
        self.encoding = encoding
        self.layers, self.tensors = named_neuron_tensors(layers)
        self.settings = settings

    def network(self, num_classes):
        nodes = [{"name": "input", "op": "input"}]
        for name, _, node in self.layers:
            nodes.append(dict({"name": name}, **node))
        edges = [{"from": a["name"], "to": b["name"]} for a, b in zip(nodes, nodes[1:])]
        return {
            "format_version": 1,
            "name": self.name,
            "timesteps": self.timesteps,
            "num_classes": num_classes,
            "input": {"shape": list(self.input_shape), "encoding": self.encoding},
            "readout": {"node": self.layers[-1][0], "kind": self.readout},
            "nodes": nodes,
            "edges": edges,
            "meta": {"peer": self.framework, "settings": self.settings},
        }

    def weights(self):
        out = {}
        for name, module, _ in self.layers:
            if isinstance(module, (nn.Linear, nn.Conv2d)):
                out[f"{name}.weight"] = module.weight.detach().numpy().astype(np.float32)
                if module.bias is not None:
                    out[f"{name}.bias"] = module.bias.detach().numpy().astype(np.float32)
        out.update(self.tensors)
        return out

    def neuron_layers(self):
        return [name for name, _, node in self.layers if node["op"] in NEURON_OPS]

    def integrator_layer(self):
        """The leaky-integrator readout node, if the case ends in one."""
        name, _, node = self.layers[-1]
        return name if node["op"] in INTEGRATOR_OPS else None

    def module(self, layer):
        return next(m for name, m, _ in self.layers if name == layer)


def named_neuron_tensors(layers):
    """`layers` ([(name, module or None, snnc node dict)]) with every neuron field that holds an
    array (a per-channel or per-neuron parameter) replaced by the name of a weights tensor,
    `<node>.<field>`, and those tensors: the snnc form of `Leaky(beta=<tensor>)`."""
    named, tensors = [], {}
    for name, module, node in layers:
        node = dict(node)
        for field, value in node.items():
            if isinstance(value, np.ndarray):
                tensors[f"{name}.{field}"] = value.astype(np.float32)
                node[field] = f"{name}.{field}"
        named.append((name, module, node))
    return named, tensors


def run_snntorch(case, x):
    """x: [S, *frame] (direct) or [S, T, *frame]; returns spikes and membranes per layer (a
    `Leaky` read out by its membrane, op `li`: its membrane only, its spikes unused)."""
    spikes = {n: [] for n in case.neuron_layers()}
    mems = {n: [] for n in case.neuron_layers() + [case.integrator_layer()] if n}
    state = {}
    with torch.no_grad():
        for name, module, node in case.layers:
            if node["op"] in ("lif", "cuba_lif", "li"):
                state[name] = module.reset_mem()
        for t in range(case.timesteps):
            h = torch.from_numpy(x[:, t] if case.encoding == "event_frames" else x)
            for name, module, node in case.layers:
                if node["op"] == "li":
                    h, state[name] = module(h, state[name])
                    mems[name].append(state[name].flatten(1).numpy().astype(np.float32))
                    continue
                if node["op"] == "lif":
                    h, state[name] = module(h, state[name])
                    mem = state[name]
                elif node["op"] == "cuba_lif":  # Synaptic: (syn, mem) in, (spk, syn, mem) out
                    h, syn, mem = module(h, *state[name])
                    state[name] = (syn, mem)
                else:
                    h = module(h)
                    continue
                spikes[name].append(h.flatten(1).numpy().astype(np.uint8))
                mems[name].append(mem.flatten(1).numpy().astype(np.float32))
    return spikes, mems


def run_spikingjelly(case, x):
    spikes = {n: [] for n in case.neuron_layers()}
    mems = {n: [] for n in case.neuron_layers()}
    model = nn.Sequential(*[m for _, m, _ in case.layers])
    sj_functional.reset_net(model)
    with torch.no_grad():
        for t in range(case.timesteps):
            h = torch.from_numpy(x[:, t] if case.encoding == "event_frames" else x)
            for name, module, node in case.layers:
                h = module(h)
                if node["op"] in ("if", "lif"):
                    spikes[name].append(h.flatten(1).numpy().astype(np.uint8))
                    v = module.v
                    v = v if torch.is_tensor(v) else torch.full_like(h, float(v))
                    mems[name].append(v.flatten(1).numpy().astype(np.float32))
    return spikes, mems


def run_sinabs(case, x):
    """Sinabs layers take whole sequences [S, T, ...]: each layer runs over all steps at once."""
    spikes, mems = {}, {}
    with torch.no_grad():
        h = torch.from_numpy(x if case.encoding == "event_frames" else
                             np.repeat(x[:, None], case.timesteps, axis=1))
        for name, module, node in case.layers:
            if node["op"] in ("lif", "if"):
                module.reset_states()
                h = module(h)
                spikes[name] = list(h.flatten(2).numpy().astype(np.uint8).transpose(1, 0, 2))
                v = module.recordings["v_mem"]
                mems[name] = list(v.flatten(2).numpy().astype(np.float32).transpose(1, 0, 2))
            else:
                s, t = h.shape[:2]
                h = module(h.reshape((s * t,) + tuple(h.shape[2:])))
                h = h.reshape((s, t) + tuple(h.shape[1:]))
    return spikes, mems


class NorseLIFBox:
    """Norse's current-free LIF (`lif_box_feed_forward_step`) with its state kept here."""

    def __init__(self, reset_method, v_leak):
        from norse.torch.functional.lif_box import LIFBoxParameters

        self.p = LIFBoxParameters(reset_method=reset_method, v_leak=torch.as_tensor(v_leak))
        self.v = None

    def reset(self):
        self.v = None

    def __call__(self, x):
        from norse.torch.functional.lif_box import (LIFBoxFeedForwardState,
                                                    lif_box_feed_forward_step)

        state = LIFBoxFeedForwardState(v=torch.zeros_like(x) if self.v is None else self.v)
        z, state = lif_box_feed_forward_step(x, state, self.p, dt=0.001)
        self.v = state.v
        return z


class NorseLIF:
    """Norse's current-based `LIFCell` (`lif_feed_forward_step`), its state kept here.

    `LIFCell` starts from `v = v_leak` (`initial_state`); snnc starts from `v_reset`, so where the
    two differ the cell is given a first state at `v_reset` (and a zero current) instead. `p`
    replaces the default `LIFParameters` (its fields may be per-neuron tensors, which Norse
    broadcasts against the `[S, N]` state)."""

    def __init__(self, v_leak=0.0, p=None):
        from norse.torch.functional.lif import LIFParameters
        from norse.torch.module.lif import LIFCell

        self.cell = LIFCell(p if p is not None else LIFParameters(v_leak=torch.as_tensor(v_leak)))
        self.state = None

    @property
    def p(self):
        return self.cell.p

    @p.setter
    def p(self, value):
        self.cell.p = value

    @property
    def v(self):
        return self.state.v

    def reset(self):
        self.state = None

    def __call__(self, x):
        from norse.torch.functional.lif import LIFFeedForwardState

        state = self.state
        if state is None and bool((self.p.v_leak != self.p.v_reset).any()):
            state = LIFFeedForwardState(v=torch.zeros_like(x) + self.p.v_reset,
                                        i=torch.zeros_like(x))
        z, self.state = self.cell(x, state)
        return z


class NorseLI:
    """Norse's leaky integrators as cells: `LICell` (`li_feed_forward_step`, a current and a
    membrane) or, with `box`, `LIBoxCell` (`li_box_feed_forward_step`, the membrane alone). Both
    start from their own `initial_state` (`v = v_leak`, `i = 0`), which is snnc's: an integrator
    starts at its rest. Their output is the new membrane."""

    def __init__(self, box=False):
        if box:
            from norse.torch.module.leaky_integrator_box import LIBoxCell

            self.cell = LIBoxCell()
        else:
            from norse.torch.module.leaky_integrator import LICell

            self.cell = LICell()
        self.state = None

    @property
    def v(self):
        return self.state.v

    def reset(self):
        self.state = None

    def __call__(self, x):
        v, self.state = self.cell(x, self.state)
        return v


def run_norse(case, x):
    spikes = {n: [] for n in case.neuron_layers()}
    mems = {n: [] for n in case.neuron_layers() + [case.integrator_layer()] if n}
    for _, module, node in case.layers:
        if node["op"] in NEURON_OPS + INTEGRATOR_OPS:
            module.reset()
    with torch.no_grad():
        for t in range(case.timesteps):
            h = torch.from_numpy(x[:, t] if case.encoding == "event_frames" else x)
            for name, module, node in case.layers:
                h = module(h)
                if node["op"] in NEURON_OPS:
                    spikes[name].append(h.flatten(1).numpy().astype(np.uint8))
                if node["op"] in NEURON_OPS + INTEGRATOR_OPS:
                    mems[name].append(module.v.flatten(1).numpy().astype(np.float32))
    return spikes, mems


def framework_readout(case, mems):
    """The readout as the framework's users compute it: spikes summed over T, or a leaky
    integrator's membranes `[T][S, classes]` reduced over T by torch (`mem_rec[-1]`,
    `mem_rec.mean(0)`, `torch.max(mem_rec, 0)`, the snnTorch and Norse tutorials' readouts)."""
    layer = case.integrator_layer()
    rec = torch.from_numpy(np.stack(mems[layer]))
    reduced = {"membrane_last": lambda: rec[-1], "membrane_mean": lambda: rec.mean(0),
               "membrane_max": lambda: rec.max(0).values}[case.readout]()
    return reduced.numpy().astype(np.float32)


def norse_box(subtract, v_leak=0.0):
    """Norse LIFBox with its defaults (tau_mem_inv 100, dt 0.001: leak 0.1 per step, v_th 1),
    starting from v = v_reset = 0."""
    from norse.torch.functional.reset import reset_subtract, reset_value

    module = NorseLIFBox(reset_subtract if subtract else reset_value, v_leak)
    node = {"op": "lif", "tau": 10.0, "decay_input": True,
            "reset": "subtract" if subtract else "hard", "compare": "gt"}
    if v_leak != 0.0:
        node["v_leak"] = v_leak
    return module, node


def norse_lif(v_leak=0.0):
    """Norse `LIFCell` with its defaults (dt 0.001, tau_mem_inv 100, tau_syn_inv 200, v_th 1,
    v_reset 0). Its factors in float32: dt * tau_mem_inv = f32(0.1) = snnc's gain 1/tau,
    1 - that = f32(0.9) = snnc's beta, 1 + (-dt * tau_syn_inv) = f32(0.8) = snnc's
    1 - 1/tau_syn: `tau: 10` and `tau_syn: 5` give Norse's numbers exactly."""
    module = NorseLIF(v_leak)
    node = {"op": "cuba_lif", "tau": 10.0, "tau_syn": 5.0, "decay_input": True,
            "reset": "hard", "compare": "gt"}
    if v_leak != 0.0:
        node["v_leak"] = v_leak
    return module, node


def norse_lif_per_neuron(seed, neurons):
    """Norse `LIFCell` whose `LIFParameters` are per-neuron tensors `[N]`: `tau_mem_inv` in
    [50, 200), `tau_syn_inv` in [100, 400), `v_th` in [0.5, 1.5), `v_leak` in [-0.2, 0.3) and
    `v_reset` in [-0.3, 0) (Norse broadcasts each against the `[S, N]` state,
    `functional/lif.py:337-345`). Mapped as `norse_lif` maps its numbers: `tau = 1 / (dt
    tau_mem_inv)`, `tau_syn = 1 / (dt tau_syn_inv)` (in float64, written as float32 tensors),
    `v_th` is `threshold`, `v_leak` and `v_reset` as they are; the cell starts at `v_reset`."""
    from norse.torch.functional.lif import LIFParameters

    dt = 0.001
    tau_mem_inv = per_neuron(seed, [neurons], 50.0, 200.0)
    tau_syn_inv = per_neuron(seed + 1, [neurons], 100.0, 400.0)
    v_th = per_neuron(seed + 2, [neurons], 0.5, 1.5)
    v_leak = per_neuron(seed + 3, [neurons], -0.2, 0.3)
    v_reset = per_neuron(seed + 4, [neurons], -0.3, 0.0)
    p = LIFParameters(tau_syn_inv=as_torch(tau_syn_inv), tau_mem_inv=as_torch(tau_mem_inv),
                      v_leak=as_torch(v_leak), v_th=as_torch(v_th), v_reset=as_torch(v_reset))
    inverse = lambda rate: (1.0 / (dt * rate.astype(np.float64))).astype(np.float32)  # noqa: E731
    node = {"op": "cuba_lif", "tau": inverse(tau_mem_inv), "tau_syn": inverse(tau_syn_inv),
            "decay_input": True, "threshold": v_th, "v_reset": v_reset, "v_leak": v_leak,
            "reset": "hard", "compare": "gt"}
    return NorseLIF(p=p), node


def linear(seed, n_in, n_out, gain, grid=None):
    """A seeded nn.Linear scaled by `gain`; with `grid`, weights rounded to multiples of it, so
    sums of binary inputs are exact and land on the threshold itself: the compare then matters."""
    torch.manual_seed(seed)
    m = nn.Linear(n_in, n_out)
    with torch.no_grad():
        m.weight.mul_(gain)
        m.bias.mul_(gain)
        if grid is not None:
            m.weight.copy_(torch.round(m.weight / grid) * grid)
            m.bias.copy_(torch.round(m.bias / grid) * grid)
    return m


def conv(seed, c_in, c_out, k, gain):
    torch.manual_seed(seed)
    m = nn.Conv2d(c_in, c_out, k, bias=True)
    with torch.no_grad():
        m.weight.mul_(gain)
        m.bias.mul_(gain)
    return m


def per_neuron(seed, shape, low, high):
    """Seeded values uniform in [low, high), float32 of `shape`: a per-channel or per-neuron
    parameter (its own generator, so the global seeds of the weights are untouched)."""
    g = torch.Generator().manual_seed(seed)
    return (low + (high - low) * torch.rand(tuple(shape), generator=g)).numpy()


def as_torch(value):
    """A neuron parameter as the framework takes it: a number as it is, an array as a tensor."""
    return torch.from_numpy(value.copy()) if isinstance(value, np.ndarray) else value


def leaky(beta, reset, threshold=1.0):
    """snnTorch Leaky with its defaults but for the reset mechanism, and its snnc node. `beta`
    and `threshold` may be arrays (per channel `[C, 1, 1]` or per neuron `[N]`): snnTorch
    broadcasts them in `beta.clamp(0, 1) * mem` and `mem - threshold` (`leaky.py:239`,
    `neurons.py:80, 105`), and the node names them as tensors."""
    import snntorch as snn

    module = snn.Leaky(beta=as_torch(beta), threshold=as_torch(threshold),
                       reset_mechanism=reset)
    snnc_reset = {"subtract": "subtract_next", "zero": "hard", "none": "none"}[reset]
    node = {
        "op": "lif",
        "beta": beta,
        "threshold": threshold,
        "decay_input": False,
        "reset": snnc_reset,
        "compare": "gt",
    }
    return module, node


def synaptic(alpha, beta, reset, threshold=1.0):
    """snnTorch Synaptic with its defaults but for the reset mechanism, and its snnc node;
    `alpha`, `beta` and `threshold` may be arrays, as for `leaky` (`synaptic.py:267-268`)."""
    import snntorch as snn

    module = snn.Synaptic(alpha=as_torch(alpha), beta=as_torch(beta),
                          threshold=as_torch(threshold), reset_mechanism=reset)
    node = {
        "op": "cuba_lif",
        "alpha": alpha,
        "beta": beta,
        "threshold": threshold,
        "decay_input": False,
        "reset": {"subtract": "subtract_next", "zero": "zero_next", "none": "none"}[reset],
        "compare": "gt",
    }
    return module, node


def leaky_membrane(beta):
    """snnTorch `Leaky(reset_mechanism="none")` whose membrane is read and whose spikes are not:
    `mem = beta.clamp(0, 1) * mem + input_` (`_base_int`, `leaky.py:238-240, 249-250`), which
    no spike ever touches (`reset_delay=True`, no reset mechanism): snnc `li` with `beta` and
    `decay_input: false`, whose `0 + beta * (v - 0) + 1 * x` is the same operations."""
    import snntorch as snn

    module = snn.Leaky(beta=as_torch(beta), reset_mechanism="none")
    return module, {"op": "li", "beta": beta, "decay_input": False}


def norse_li(box=False):
    """Norse `LICell` (default `LIParameters`: dt 0.001, tau_mem_inv 100, tau_syn_inv 200,
    v_leak 0): snnc `cuba_li` with `tau: 10`, `tau_syn: 5` (the factors as for `norse_lif`); with
    `box`, `LIBoxCell` (no current): `li` with `tau: 10`."""
    node = {"op": "li", "tau": 10.0, "decay_input": True}
    if not box:
        node = {"op": "cuba_li", "tau": 10.0, "tau_syn": 5.0, "decay_input": True}
    return NorseLI(box), node


def integrate_and_fire(v_reset, threshold=1.0):
    """SpikingJelly IFNode (v_reset None: soft reset) and its snnc node."""
    module = sj_neuron.IFNode(v_threshold=threshold, v_reset=v_reset)
    node = {
        "op": "if",
        "threshold": threshold,
        "reset": "subtract" if v_reset is None else "hard",
        "v_reset": 0.0 if v_reset is None else v_reset,
        "compare": "ge",
    }
    return module, node


def sinabs_neuron(kind, tau_mem=None, min_v_mem=None):
    """A single-spike Sinabs layer (`IAF`, or `LIF` with `norm_input`) and its snnc node."""
    import sinabs.layers as sl
    from sinabs.activation import MembraneReset, MembraneSubtract, SingleSpike

    reset = MembraneReset() if kind == "iaf_reset" else MembraneSubtract()
    if kind == "lif":
        module = sl.LIF(tau_mem=as_torch(tau_mem), spike_fn=SingleSpike, reset_fn=reset,
                        norm_input=True, min_v_mem=min_v_mem, record_states=True)
        # Sinabs decays with alpha = exp(-1/tau_mem), computed in float32: written exactly (a
        # `tau_mem` tensor gives one alpha per neuron, `lif.py:121`, written as a tensor).
        alpha = module.alpha_mem_calculated.detach()
        beta = alpha.numpy().copy() if alpha.dim() > 0 else float(alpha)
        node = {"op": "lif", "beta": beta, "decay_input": True}
    else:
        module = sl.IAF(spike_fn=SingleSpike, reset_fn=reset, min_v_mem=min_v_mem,
                        record_states=True)
        node = {"op": "if"}
    node.update({"threshold": 1.0, "reset": "hard" if kind == "iaf_reset" else "subtract",
                 "compare": "ge"})
    if min_v_mem is not None:
        node["v_min"] = min_v_mem
    return module, node


def sj_lif(tau, decay_input, v_reset):
    """SpikingJelly LIFNode and its snnc node."""
    module = sj_neuron.LIFNode(tau=tau, decay_input=decay_input, v_reset=v_reset)
    node = {"op": "lif", "tau": tau, "decay_input": decay_input,
            "reset": "subtract" if v_reset is None else "hard",
            "v_reset": 0.0 if v_reset is None else v_reset, "compare": "ge"}
    return module, node


def layer_neurons(neuron):
    """The two neuron layers' (module, node) of a case: `neuron` is one factory for both, or a
    pair, one per layer (per-neuron parameters differ in shape and value between layers)."""
    first, second = neuron if isinstance(neuron, tuple) else (neuron, neuron)
    return first(), second()


def mlp_case(name, framework, neuron, timesteps, settings, gain=2.0, hidden=32):
    (n1, node1), (n2, node2) = layer_neurons(neuron)
    layers = [
        ("fc1", linear(1, 64, hidden, gain), {"op": "linear", "in_features": 64,
                                              "out_features": hidden, "bias": True}),
        ("neuron1", n1, node1),
        ("fc2", linear(2, hidden, 10, gain), {"op": "linear", "in_features": hidden,
                                              "out_features": 10, "bias": True}),
        ("neuron2", n2, node2),
    ]
    return Case(name, framework, timesteps, [64], "direct", layers, settings)


def mlp_readout_case(name, framework, neuron, integrator, readout, timesteps, settings,
                     gain=2.0, hidden=32):
    """`mlp_case`'s network (the same seeds) with a leaky integrator in place of its second
    neuron layer: the class scores are that integrator's membrane, reduced over T by
    `readout`."""
    n1, node1 = neuron()
    n2, node2 = integrator()
    layers = [
        ("fc1", linear(1, 64, hidden, gain), {"op": "linear", "in_features": 64,
                                              "out_features": hidden, "bias": True}),
        ("neuron1", n1, node1),
        ("fc2", linear(2, hidden, 10, gain), {"op": "linear", "in_features": hidden,
                                              "out_features": 10, "bias": True}),
        ("out", n2, node2),
    ]
    return Case(name, framework, timesteps, [64], "direct", layers, settings, readout=readout)


def conv_case(name, framework, neuron, timesteps, settings, gains=(2.0, 3.0), samples=None):
    (n1, node1), (n2, node2) = layer_neurons(neuron)
    layers = [
        ("conv1", conv(3, 1, 4, 5, gains[0]), {"op": "conv2d", "in_channels": 1,
                                               "out_channels": 4, "kernel": 5, "stride": 1,
                                               "bias": True}),
        ("neuron1", n1, node1),
        ("pool1", nn.AvgPool2d(4), {"op": "avg_pool", "kernel": 4}),
        ("flatten", nn.Flatten(), {"op": "flatten"}),
        ("fc2", linear(4, 4 * 6 * 6, 10, gains[1]), {"op": "linear", "in_features": 144,
                                                     "out_features": 10, "bias": True}),
        ("neuron2", n2, node2),
    ]
    return Case(name, framework, timesteps, [1, 28, 28], "direct", layers, settings,
                samples=samples)


def event_case(name, framework, neuron, timesteps, settings, grid=None, gain=3.0):
    (n1, node1), (n2, node2) = layer_neurons(neuron)
    layers = [
        ("flatten", nn.Flatten(), {"op": "flatten"}),
        ("fc1", linear(5, 32, 24, gain, grid), {"op": "linear", "in_features": 32,
                                               "out_features": 24, "bias": True}),
        ("neuron1", n1, node1),
        ("fc2", linear(6, 24, 10, gain, grid), {"op": "linear", "in_features": 24,
                                               "out_features": 10, "bias": True}),
        ("neuron2", n2, node2),
    ]
    return Case(name, framework, timesteps, [2, 4, 4], "event_frames", layers, settings)


class RecurrentCase(Case):
    """fc1 -> RLeaky (a recurrent nn.Linear of its own spikes) -> fc2 -> Leaky, on digits; with
    `alpha`, RSynaptic -> Synaptic, whose recurrent term enters the current (`rsynaptic.py`,
    `_base_state_function`), so the same feedback edge into the `cuba_lif` node expresses it.
    Both layers take `reset` (snnTorch's `reset_mechanism`): with `"zero"`, RLeaky / RSynaptic
    and Synaptic are snnc `zero_next`, while the second layer's `Leaky` is snnc `hard`. `gains`
    scale fc1, the recurrent matrix and fc2."""

    def __init__(self, name, beta, timesteps, alpha=None, reset="subtract",
                 gains=(2.0, 1.0, 2.0), one_to_one=False):
        import snntorch as snn

        self.alpha = alpha
        self.one_to_one = one_to_one
        self.fc1 = linear(11, 64, 32, gains[0])
        if one_to_one:
            # `all_to_all=False`: the recurrent term is `spk * V` (`RecurrentOneToOne`,
            # `rleaky.py:484-490`), one weight per neuron. snnc writes it as a `linear` node
            # holding diag(V), no bias: a spike adds its own V and exact zeros elsewhere.
            torch.manual_seed(12)
            self.v_diag = (torch.randn(32) * 0.6 * gains[1]).float()
            self.rlif = snn.RLeaky(beta=beta, V=self.v_diag.clone(), all_to_all=False,
                                   learn_recurrent=False, reset_mechanism=reset)
        elif alpha is None:
            self.rlif = snn.RLeaky(beta=beta, linear_features=32, reset_mechanism=reset)
        else:
            self.rlif = snn.RSynaptic(alpha=alpha, beta=beta, linear_features=32,
                                      reset_mechanism=reset)
        if not one_to_one:
            torch.manual_seed(12)
            with torch.no_grad():  # a recurrent matrix strong enough to matter
                self.rlif.recurrent.weight.copy_(torch.randn(32, 32) * (0.3 * gains[1]))
                self.rlif.recurrent.bias.copy_(torch.randn(32) * (0.1 * gains[1]))
        self.fc2 = linear(13, 32, 10, gains[2])
        if alpha is None:
            self.lif2, node2 = leaky(0.9, reset)
            node1 = dict(node2, beta=beta, reset={"zero": "zero_next"}.get(reset, node2["reset"]))
            rleaky = {"beta": beta, "all_to_all": not one_to_one}
            if not one_to_one:
                rleaky["linear_features"] = 32
            settings = {"RLeaky": dict(rleaky, reset_mechanism=reset)}
            if reset != "subtract":
                settings["Leaky"] = {"beta": 0.9, "reset_mechanism": reset}
        else:
            self.lif2, node2 = synaptic(alpha, beta, reset)
            node1 = dict(node2)
            settings = {"RSynaptic": {"alpha": alpha, "beta": beta, "all_to_all": True,
                                      "linear_features": 32, "reset_mechanism": reset},
                        "Synaptic": {"alpha": alpha, "beta": beta,
                                     "reset_mechanism": reset}}
        dense = lambda a, b: {"op": "linear", "in_features": a, "out_features": b,  # noqa: E731
                              "bias": True}
        rec = dict(dense(32, 32), bias=False) if one_to_one else dense(32, 32)
        layers = [("fc1", self.fc1, dense(64, 32)), ("neuron1", self.rlif, node1),
                  ("rec", self.rlif.recurrent, rec), ("fc2", self.fc2, dense(32, 10)),
                  ("neuron2", self.lif2, node2)]
        super().__init__(name, "snntorch_recurrent", timesteps, [64], "direct", layers, settings)

    def weights(self):
        out = super().weights()
        if self.one_to_one:
            out["rec.weight"] = torch.diag(self.v_diag).numpy().astype(np.float32)
        return out

    def network(self, num_classes):
        net = super().network(num_classes)
        # neuron1's input is fc1 plus the recurrent map of its own last spikes: the delay sits on
        # the edge into `rec`, whose bias then reaches neuron1 from step 0, as in snnTorch.
        net["edges"] = [
            {"from": "input", "to": "fc1"}, {"from": "fc1", "to": "neuron1"},
            {"from": "neuron1", "to": "rec", "delay": 1}, {"from": "rec", "to": "neuron1"},
            {"from": "neuron1", "to": "fc2"}, {"from": "fc2", "to": "neuron2"},
        ]
        return net


def run_recurrent(case, x):
    spikes = {"neuron1": [], "neuron2": []}
    mems = {"neuron1": [], "neuron2": []}
    with torch.no_grad():
        if case.alpha is None:
            spk1, mem1 = case.rlif.init_rleaky()
            mem2 = case.lif2.reset_mem()
        else:
            spk1, syn1, mem1 = case.rlif.reset_mem()
            syn2, mem2 = case.lif2.reset_mem()
        for t in range(case.timesteps):
            cur1 = case.fc1(torch.from_numpy(x))
            if case.alpha is None:
                spk1, mem1 = case.rlif(cur1, spk1, mem1)
                spk2, mem2 = case.lif2(case.fc2(spk1), mem2)
            else:
                spk1, syn1, mem1 = case.rlif(cur1, spk1, syn1, mem1)
                spk2, syn2, mem2 = case.lif2(case.fc2(spk1), syn2, mem2)
            for name, spk, mem in (("neuron1", spk1, mem1), ("neuron2", spk2, mem2)):
                spikes[name].append(spk.numpy().astype(np.uint8))
                mems[name].append(mem.numpy().astype(np.float32))
    return spikes, mems


def cases():
    yield mlp_case("norse_lif_box_v_leak_digits", "norse", lambda: norse_box(False, 0.3), 12,
                   {"LIFBox": {"tau_mem_inv": 100.0, "dt": 0.001, "v_leak": 0.3}},
                   gain=8.0)
    yield mlp_case("norse_lif_box_hard_digits", "norse", lambda: norse_box(False), 12,
                   {"LIFBox": {"tau_mem_inv": 100.0, "dt": 0.001, "reset": "reset_value"}},
                   gain=12.0)
    yield mlp_case("norse_lif_box_subtract_digits", "norse", lambda: norse_box(True), 12,
                   {"LIFBox": {"tau_mem_inv": 100.0, "dt": 0.001, "reset": "reset_subtract"}},
                   gain=12.0)
    yield RecurrentCase("snntorch_rleaky_subtract_digits", 0.9, 12)
    yield RecurrentCase("snntorch_rleaky_one_to_one_digits", 0.9, 12, one_to_one=True)
    # `_base_zero` (`rleaky.py:405-408`): the charge where the stored membrane fired is
    # `f - 1 * f = 0`: snnc `zero_next`; its second layer, `Leaky(reset_mechanism="zero")`, is `hard`.
    yield RecurrentCase("snntorch_rleaky_zero_digits", 0.9, 12, reset="zero")
    yield from more_cases()
    yield from first_cases()
    yield from cuba_cases()
    yield from integrator_cases()
    yield from per_neuron_cases()


def more_cases():
    iaf = lambda: sinabs_neuron("iaf")  # noqa: E731
    iaf_reset = lambda: sinabs_neuron("iaf_reset")  # noqa: E731
    lif = lambda: sinabs_neuron("lif", tau_mem=5.0)  # noqa: E731
    yield mlp_case("sinabs_iaf_subtract_digits", "sinabs", iaf, 12,
                   {"IAF": {"spike_fn": "SingleSpike", "reset_fn": "MembraneSubtract"}})
    yield mlp_case("sinabs_iaf_reset_digits", "sinabs", iaf_reset, 12,
                   {"IAF": {"spike_fn": "SingleSpike", "reset_fn": "MembraneReset"}})
    yield mlp_case("sinabs_lif_digits", "sinabs", lif, 12,
                   {"LIF": {"tau_mem": 5.0, "spike_fn": "SingleSpike", "norm_input": True}},
                   gain=8.0)
    iaf_floor = lambda: sinabs_neuron("iaf", min_v_mem=-0.5)  # noqa: E731
    lif_floor = lambda: sinabs_neuron("lif", tau_mem=5.0, min_v_mem=-0.25)  # noqa: E731
    # Random events: currents change sign from step to step, so the floor changes spikes.
    yield event_case("sinabs_iaf_min_v_mem_events", "sinabs", iaf_floor, 16,
                     {"IAF": {"spike_fn": "SingleSpike", "min_v_mem": -0.5}})
    yield event_case("sinabs_lif_min_v_mem_events", "sinabs", lif_floor, 16,
                     {"LIF": {"tau_mem": 5.0, "spike_fn": "SingleSpike", "min_v_mem": -0.25}},
                     gain=12.0)
    sj_decay = lambda: sj_lif(2.0, True, 0.0)  # noqa: E731  SpikingJelly's defaults
    sj_soft = lambda: sj_lif(3.0, False, None)  # noqa: E731
    yield mlp_case("spikingjelly_lif_hard_digits", "spikingjelly", sj_decay, 12,
                   {"LIFNode": {"tau": 2.0, "decay_input": True, "v_reset": 0.0}}, gain=5.0)
    yield mlp_case("spikingjelly_lif_soft_digits", "spikingjelly", sj_soft, 12,
                   {"LIFNode": {"tau": 3.0, "decay_input": False, "v_reset": None}})


def first_cases():
    sub = lambda: leaky(0.9, "subtract")  # noqa: E731  snnTorch's defaults
    zero = lambda: leaky(0.8, "zero")  # noqa: E731
    none = lambda: leaky(0.7, "none")  # noqa: E731
    if_hard = lambda: integrate_and_fire(0.0)  # noqa: E731  SpikingJelly's defaults
    if_soft = lambda: integrate_and_fire(None)  # noqa: E731
    yield mlp_case("snntorch_leaky_subtract_digits", "snntorch", sub, 12,
                   {"Leaky": {"beta": 0.9, "reset_mechanism": "subtract", "reset_delay": True}})
    yield mlp_case("snntorch_leaky_zero_digits", "snntorch", zero, 12,
                   {"Leaky": {"beta": 0.8, "reset_mechanism": "zero", "reset_delay": True}})
    yield mlp_case("snntorch_leaky_none_digits", "snntorch", none, 8,
                   {"Leaky": {"beta": 0.7, "reset_mechanism": "none"}}, gain=1.2)
    yield conv_case("snntorch_leaky_subtract_fmnist_conv", "snntorch", sub, 8,
                    {"Leaky": {"beta": 0.9, "reset_mechanism": "subtract"}})
    yield event_case("snntorch_leaky_subtract_events", "snntorch", sub, 16,
                     {"Leaky": {"beta": 0.9, "reset_mechanism": "subtract"}})
    yield mlp_case("spikingjelly_if_hard_digits", "spikingjelly", if_hard, 12,
                   {"IFNode": {"v_threshold": 1.0, "v_reset": 0.0}})
    yield mlp_case("spikingjelly_if_soft_digits", "spikingjelly", if_soft, 12,
                   {"IFNode": {"v_threshold": 1.0, "v_reset": None}})
    yield conv_case("spikingjelly_if_soft_fmnist_conv", "spikingjelly", if_soft, 8,
                    {"IFNode": {"v_threshold": 1.0, "v_reset": None}})
    yield event_case("spikingjelly_if_hard_events", "spikingjelly", if_hard, 16,
                     {"IFNode": {"v_threshold": 1.0, "v_reset": 0.0}})
    # Weights on a grid of 1/8 (beta 0.5 keeps the leak exact too): membranes land exactly on
    # the threshold, where `>=` (SpikingJelly) and `>` (snnTorch) part ways.
    half = lambda: leaky(0.5, "subtract")  # noqa: E731
    yield event_case("snntorch_leaky_subtract_events_exact_ties", "snntorch", half, 16,
                     {"Leaky": {"beta": 0.5, "reset_mechanism": "subtract"}}, grid=0.125)
    yield event_case("spikingjelly_if_hard_events_exact_ties", "spikingjelly", if_hard, 16,
                     {"IFNode": {"v_threshold": 1.0, "v_reset": 0.0}}, grid=0.125)


def cuba_cases():
    """Current-based neurons (snnc `cuba_lif`): snnTorch `Synaptic` / `RSynaptic`, Norse `LIF`."""
    syn = lambda: synaptic(0.8, 0.9, "subtract")  # noqa: E731  reset_delay=True, the default
    syn_settings = {"Synaptic": {"alpha": 0.8, "beta": 0.9, "reset_mechanism": "subtract",
                                 "reset_delay": True}}
    yield mlp_case("snntorch_synaptic_subtract_digits", "snntorch", syn, 12, syn_settings, gain=0.7)
    yield conv_case("snntorch_synaptic_subtract_fmnist_conv", "snntorch", syn, 8, syn_settings,
                    gains=(1.0, 1.5))
    yield event_case("snntorch_synaptic_subtract_events", "snntorch", syn, 16, syn_settings,
                     gain=1.5)
    # alpha = beta = 0.5 and weights on a 1/8 grid: every current and membrane is exact (at most
    # 3 + T fraction bits), so membranes land on the threshold itself and `gt` decides.
    half = lambda: synaptic(0.5, 0.5, "subtract")  # noqa: E731
    yield event_case("snntorch_synaptic_subtract_events_exact_ties", "snntorch", half, 16,
                     {"Synaptic": {"alpha": 0.5, "beta": 0.5, "reset_mechanism": "subtract"}},
                     grid=0.125, gain=2.0)
    none = lambda: synaptic(0.7, 0.8, "none")  # noqa: E731
    yield mlp_case("snntorch_synaptic_none_digits", "snntorch", none, 8,
                   {"Synaptic": {"alpha": 0.7, "beta": 0.8, "reset_mechanism": "none"}}, gain=0.5)
    yield RecurrentCase("snntorch_rsynaptic_subtract_digits", 0.9, 12, alpha=0.8)
    # `_base_zero` (`synaptic.py:281-286`, `rsynaptic.py:441-448`): where the stored membrane
    # fired, the charged membrane is `f - 1 * f = 0` and the current is left as it is: `zero_next`.
    zero = lambda: synaptic(0.8, 0.9, "zero")  # noqa: E731
    yield mlp_case("snntorch_synaptic_zero_digits", "snntorch", zero, 12,
                   {"Synaptic": {"alpha": 0.8, "beta": 0.9, "reset_mechanism": "zero",
                                 "reset_delay": True}}, gain=1.0)
    yield RecurrentCase("snntorch_rsynaptic_zero_digits", 0.9, 12, alpha=0.8, reset="zero")
    norse_settings = {"LIF": {"tau_syn_inv": 200.0, "tau_mem_inv": 100.0, "dt": 0.001,
                              "v_th": 1.0, "v_reset": 0.0, "v_leak": 0.0}}
    yield mlp_case("norse_lif_digits", "norse", norse_lif, 12, norse_settings, gain=5.0)
    leak = dict(norse_settings["LIF"], v_leak=0.3, initial_v="v_reset (LIFCell: v_leak)")
    yield mlp_case("norse_lif_v_leak_digits", "norse", lambda: norse_lif(0.3), 12,
                   {"LIF": leak}, gain=5.0)
    yield event_case("norse_lif_events", "norse", norse_lif, 16, norse_settings, gain=8.0)


def integrator_cases():
    """Leaky integrators read out by their membrane (snnc `li` / `cuba_li`, the readout node)."""
    lif_settings = {"tau_syn_inv": 200.0, "tau_mem_inv": 100.0, "dt": 0.001, "v_th": 1.0,
                    "v_reset": 0.0, "v_leak": 0.0}
    li_settings = {"tau_syn_inv": 200.0, "tau_mem_inv": 100.0, "dt": 0.001, "v_leak": 0.0}
    yield mlp_readout_case("norse_li_max_digits", "norse", norse_lif, norse_li, "membrane_max",
                           12, {"LIF": lif_settings, "LI": li_settings,
                                "readout": "max over t of LICell's v"}, gain=5.0)
    yield mlp_readout_case("norse_li_box_last_digits", "norse", norse_lif,
                           lambda: norse_li(box=True), "membrane_last", 12,
                           {"LIF": lif_settings,
                            "LIBox": {"tau_mem_inv": 100.0, "dt": 0.001, "v_leak": 0.0},
                            "readout": "LIBoxCell's v at the last step"}, gain=5.0)
    sub = lambda: leaky(0.9, "subtract")  # noqa: E731
    hidden = {"beta": 0.9, "reset_mechanism": "subtract", "reset_delay": True}
    out = {"beta": 0.8, "reset_mechanism": "none", "output": "membrane"}
    yield mlp_readout_case("snntorch_li_last_digits", "snntorch", sub,
                           lambda: leaky_membrane(0.8), "membrane_last", 12,
                           {"Leaky": hidden, "readout_Leaky": out,
                            "readout": "mem_rec[-1]"})
    yield mlp_readout_case("snntorch_li_mean_digits", "snntorch", sub,
                           lambda: leaky_membrane(0.8), "membrane_mean", 12,
                           {"Leaky": hidden, "readout_Leaky": out,
                            "readout": "mem_rec.mean(0)"})


def per_neuron_cases():
    """Per-channel and per-neuron parameters: a framework parameter given as a tensor, written
    as a weights tensor the node names (`<node>.<field>`). Each draws its values from its own
    seeded generator (`per_neuron`), so the networks' weights are those of the scalar cases."""
    beta = lambda seed, shape: per_neuron(seed, shape, 0.5, 0.95)  # noqa: E731
    threshold = lambda seed, shape: per_neuron(seed, shape, 0.5, 1.5)  # noqa: E731
    channel_beta = (lambda: leaky(beta(41, [4, 1, 1]), "subtract"),
                    lambda: leaky(beta(42, [10]), "subtract"))
    # 4 samples, not 8: the conv layer's record is most of a fixture's bytes.
    yield conv_case("snntorch_leaky_beta_channel_fmnist_conv", "snntorch", channel_beta, 8,
                    {"Leaky": {"beta": "conv layer per channel [4, 1, 1], dense layer per "
                               "neuron [10], uniform in [0.5, 0.95), torch seeds 41, 42",
                               "reset_mechanism": "subtract", "reset_delay": True}},
                    gains=(2.0, 4.0), samples=4)
    neuron_threshold = (lambda: leaky(beta(43, [32]), "subtract", threshold(44, [32])),
                        lambda: leaky(beta(45, [10]), "subtract", threshold(46, [10])))
    yield mlp_case("snntorch_leaky_threshold_neuron_digits", "snntorch", neuron_threshold, 12,
                   {"Leaky": {"beta": "per neuron, uniform in [0.5, 0.95), torch seeds 43, 45",
                              "threshold": "per neuron, uniform in [0.5, 1.5), torch seeds "
                                           "44, 46",
                              "reset_mechanism": "subtract", "reset_delay": True}})
    alpha = lambda seed, shape: per_neuron(seed, shape, 0.5, 0.9)  # noqa: E731
    neuron_alpha = (lambda: synaptic(alpha(47, [32]), beta(48, [32]), "subtract"),
                    lambda: synaptic(alpha(49, [10]), beta(50, [10]), "subtract"))
    yield mlp_case("snntorch_synaptic_alpha_neuron_digits", "snntorch", neuron_alpha, 12,
                   {"Synaptic": {"alpha": "per neuron, uniform in [0.5, 0.9), torch seeds 47, 49",
                                 "beta": "per neuron, uniform in [0.5, 0.95), torch seeds "
                                         "48, 50",
                                 "reset_mechanism": "subtract", "reset_delay": True}}, gain=0.7)
    yield mlp_case("norse_lif_tensor_digits", "norse",
                   (lambda: norse_lif_per_neuron(51, 32), lambda: norse_lif_per_neuron(56, 10)),
                   12, {"LIF": {"dt": 0.001, "per_neuron": "tau_mem_inv in [50, 200), "
                                "tau_syn_inv in [100, 400), v_th in [0.5, 1.5), v_leak in "
                                "[-0.2, 0.3), v_reset in [-0.3, 0), torch seeds 51-55 (layer 1) "
                                "and 56-60 (layer 2)", "initial_v": "v_reset (LIFCell: v_leak)"}},
                   gain=5.0)
    tau_mem = lambda seed, shape: per_neuron(seed, shape, 3.0, 8.0)  # noqa: E731
    yield mlp_case("sinabs_lif_tau_neuron_digits", "sinabs",
                   (lambda: sinabs_neuron("lif", tau_mem=tau_mem(61, [32])),
                    lambda: sinabs_neuron("lif", tau_mem=tau_mem(62, [10]))), 12,
                   {"LIF": {"tau_mem": "per neuron, uniform in [3, 8), torch seeds 61, 62",
                            "spike_fn": "SingleSpike", "norm_input": True}}, gain=10.0)
    yield mlp_readout_case("snntorch_li_beta_neuron_mean_digits", "snntorch",
                           lambda: leaky(0.9, "subtract"),
                           lambda: leaky_membrane(per_neuron(63, [10], 0.6, 0.95)),
                           "membrane_mean", 12,
                           {"Leaky": {"beta": 0.9, "reset_mechanism": "subtract",
                                      "reset_delay": True},
                            "readout_Leaky": {"beta": "per neuron [10], uniform in [0.6, 0.95), "
                                                      "torch seed 63",
                                              "reset_mechanism": "none", "output": "membrane"},
                            "readout": "mem_rec.mean(0)"})


def on_threshold_count(case, run, x, layer):
    """How often a layer's pre-spike membrane equals its threshold exactly (where the compare
    decides), found by rerunning with the threshold nudged: the spikes that change are those."""
    module = case.module(layer)
    spikes, _ = run(case, x)
    entry = {"snntorch": ("threshold", 1 - 1e-6),
             "snntorch_recurrent": ("threshold", 1 - 1e-6),
             "spikingjelly": ("v_threshold", 1 + 1e-6),
             "sinabs": ("spike_threshold", 1 + 1e-6)}.get(case.framework)
    if entry is None:  # Norse: the threshold sits in an immutable parameter tuple (`>`)
        saved = module.p
        module.p = saved._replace(v_th=saved.v_th * (1 - 1e-6))
        nudged, _ = run(case, x)
        module.p = saved
        return first_differences(spikes[layer], nudged[layer])
    attr, nudge = entry
    # `>` (snnTorch): a membrane on the threshold fires once it is lower; `>=`: it stops
    # firing once the threshold is higher.
    saved = getattr(module, attr)
    if isinstance(saved, torch.nn.Parameter):
        with torch.no_grad():
            saved = saved.detach().clone()
            getattr(module, attr).mul_(nudge)
            nudged, _ = run(case, x)
            getattr(module, attr).copy_(saved)
    else:
        setattr(module, attr, saved * nudge)
        nudged, _ = run(case, x)
        setattr(module, attr, saved)
    return first_differences(spikes[layer], nudged[layer])


def first_differences(spikes, nudged):
    """Samples whose spikes change at all: only the first difference in a sample is a tie at the
    threshold; later ones follow from it."""
    a, b = np.stack(spikes), np.stack(nudged)
    first = 0
    for s in range(a.shape[1]):
        d = np.nonzero((a[:, s] != b[:, s]).any(axis=1))[0]
        first += int(len(d) > 0)
    return first


# --- snnc's arithmetic, transcribed: the generator's own check --------------------------------


def snnc_spikes(net, weights, x):
    """Per neuron layer, the `[S, T, neurons]` spikes of `snnc_run`."""
    return snnc_run(net, weights, x)[0]


def snnc_run(net, weights, x):
    """Run a written network the way snnc states it (`ir::Spiking`, `ir::Integrator`, in float32,
    each product rounded before it is added, as every back end does): per neuron layer, its
    `[S, T, neurons]` spikes, and per integrator node its `[S, T, neurons]` membrane.
    Projections are summed in float64 and rounded once (another order than torch's): a spike
    that differs from the framework's is a membrane within rounding of the threshold, or a
    transcription the framework does not compute."""
    steps = net["timesteps"]
    nodes = {n["name"]: n for n in net["nodes"]}
    incoming = {n: [e for e in net["edges"] if e["to"] == n] for n in nodes}
    order = schedule(net)
    out = {n: [] for n in nodes}  # per step, each node's output [S, ...] float32
    state = {n: None for n in nodes}
    for t in range(steps):
        for name in order:
            node = nodes[name]
            if node["op"] == "input":
                frame = x[:, t] if net["input"]["encoding"] == "event_frames" else x
                out[name].append(frame.astype(np.float32))
                continue
            h = None
            for e in incoming[name]:
                step = t - e.get("delay", 0)
                if step < 0:
                    continue
                v = out[e["from"]][step]
                h = v if h is None else h + v
            if h is None:  # every input still delayed (a feedback `linear`): it sees zeros
                h = np.zeros((x.shape[0], node["in_features"]), dtype=np.float32)
            if node["op"] in NEURON_OPS:
                h, state[name] = neuron_step(node, weights, state[name], h)
            elif node["op"] in INTEGRATOR_OPS:
                h, state[name] = integrator_step(node, weights, state[name], h)
            else:
                h = project(node, weights, name, h)
            out[name].append(h)
    trace = lambda n: np.stack([o.reshape(o.shape[0], -1) for o in out[n]], axis=1)  # noqa: E731
    spikes = {n: trace(n) for n in order if nodes[n]["op"] in NEURON_OPS}
    membranes = {n: trace(n) for n in order if nodes[n]["op"] in INTEGRATOR_OPS}
    return spikes, membranes


def snnc_readout(net, weights, x):
    """The readout of a leaky-integrator node as snnc reduces its membranes `y` over T
    (`reference::{reduce, finish_reduction}`), in float32: the sum adds step by step, the mean
    divides that sum by T, last takes step T-1, max the largest."""
    y = snnc_run(net, weights, x)[1][net["readout"]["node"]]
    kind = net["readout"]["kind"]
    if kind == "membrane_last":
        return y[:, -1]
    if kind == "membrane_max":
        return y.max(axis=1)
    total = y[:, 0].copy()
    for t in range(1, y.shape[1]):
        total = total + y[:, t]
    return total / np.float32(y.shape[1]) if kind in ("membrane_mean", "time_mean") else total


def schedule(net):
    """Nodes in an order that respects every zero-delay edge, ties in file order."""
    names = [n["name"] for n in net["nodes"]]
    deps = {n: {e["from"] for e in net["edges"] if e["to"] == n and e.get("delay", 0) == 0}
            for n in names}
    order = []
    while len(order) < len(names):
        ready = next(n for n in names if n not in order and deps[n] <= set(order))
        order.append(ready)
    return order


def project(node, weights, name, h):
    """A stateless node on its summed input `h`: sums in float64, one rounding to float32."""
    f64 = h.astype(np.float64)
    if node["op"] == "linear":
        y = (f64 @ weights[f"{name}.weight"].astype(np.float64).T).astype(np.float32)
        return y + weights[f"{name}.bias"] if node.get("bias") else y
    if node["op"] == "conv2d":
        assert node.get("stride", 1) == 1 and node.get("padding", 0) == 0
        w = weights[f"{name}.weight"].astype(np.float64)
        k = w.shape[-1]
        windows = np.lib.stride_tricks.sliding_window_view(f64, (k, k), axis=(2, 3))
        y = np.einsum("schwij,ocij->sohw", windows, w).astype(np.float32)
        return y + weights[f"{name}.bias"][:, None, None] if node.get("bias") else y
    if node["op"] == "avg_pool":
        k = node["kernel"]
        s, c, hh, ww = f64.shape
        y = f64.reshape(s, c, hh // k, k, ww // k, k).mean(axis=(3, 5))
        return y.astype(np.float32)
    if node["op"] == "flatten":
        return h.reshape(h.shape[0], -1)
    raise ValueError(f"the transcription has no `{node['op']}`")


def neuron_param(node, weights, field, shape, default=None):
    """A neuron field's value for a population of `shape`: the number as written (`default` when
    absent), or, when the field names a weights tensor, its float32 values expanded to one per
    neuron as snnc's lowering does (`network::neuron_values`): `[]` / `[1]` one value, `[C]` or
    `[C, 1, 1]` per channel (neuron `i` of `[C, H, W]` has channel `i / (H W)`), the
    population's own shape per neuron."""
    value = node.get(field, default)
    if not isinstance(value, str):
        return value
    t = np.asarray(weights[value], dtype=np.float32)
    shape = tuple(shape)
    if t.shape == shape:
        return t
    if t.shape in ((), (1,)):
        return np.full(shape, t.reshape(-1)[0], dtype=np.float32)
    channels = shape[0]
    if t.shape == (channels,) or (t.shape == (channels, 1, 1) and len(shape) == 3):
        per_channel = t.reshape((channels,) + (1,) * (len(shape) - 1))
        return np.broadcast_to(per_channel, shape).astype(np.float32)
    raise ValueError(f"`{field}` names `{value}` of shape {list(t.shape)}, which does not fit "
                     f"the population {list(shape)}")


def wide(value):
    """A parameter in float64 for the lowering's formulas: a number stays one, an array widens."""
    return value.astype(np.float64) if isinstance(value, np.ndarray) else value


def f32(value):
    """A parameter as the back ends hold it: a number rounded to float32 once, an array
    element-wise."""
    return value.astype(np.float32) if isinstance(value, np.ndarray) else np.float32(value)


def leak(node, weights, shape):
    """A node's canonical factors (`beta` on the old membrane, `gain` on the input), as the
    lowering derives them from `tau` or `beta` and `decay_input`, in float64 and then rounded
    to float32 once, per neuron where the field names a tensor."""
    tau = wide(neuron_param(node, weights, "tau", shape))
    beta = wide(neuron_param(node, weights, "beta", shape))
    k = 1.0 / tau if tau is not None else (1.0 - beta if beta is not None else 0.0)
    old = beta if beta is not None else 1.0 - k
    gain = k if node.get("decay_input", True) and (tau is not None or beta is not None) else 1.0
    return f32(old), f32(gain)


def synaptic_current(node, weights, current, x):
    """`i = alpha * i + w_in * x`: two rounded products, then the add."""
    shape = x.shape[1:]
    alpha = neuron_param(node, weights, "alpha", shape)
    if alpha is None:
        alpha = 1.0 - 1.0 / wide(neuron_param(node, weights, "tau_syn", shape))
    w_in = neuron_param(node, weights, "w_in", shape, 1.0)
    return f32(alpha) * current + f32(w_in) * x


def at_start(value, x):
    """A layer's first membrane: `value` (a number or one per neuron) for every sample."""
    return np.broadcast_to(f32(value), x.shape).astype(np.float32)


def integrator_step(node, weights, state, x):
    """One step of an `li` / `cuba_li` readout node (`ir::Integrator`): state (current,
    membrane) -> its new membrane, which is the step's value. Both start at 0 and at rest."""
    old, gain = leak(node, weights, x.shape[1:])
    rest = f32(neuron_param(node, weights, "v_leak", x.shape[1:], 0.0))
    current, v = state if state is not None else (np.zeros_like(x), at_start(rest, x))
    if node["op"] == "cuba_li":
        current = synaptic_current(node, weights, current, x)
        x = current
    v = ((rest + old * (v - rest)) + gain * x).astype(np.float32)
    return v, (current, v)


def neuron_step(node, weights, state, x):
    """One step of a `lif` / `if` / `cuba_lif` layer: state (current, membrane) -> output."""
    shape = x.shape[1:]

    def param(field, default=None):
        return neuron_param(node, weights, field, shape, default)

    old, gain = leak(node, weights, shape)
    v_reset = f32(param("v_reset", 0.0))
    v_leak = param("v_leak")
    rest = v_reset if v_leak is None else f32(v_leak)
    threshold = f32(param("threshold", 1.0))
    fires = (lambda u: u > threshold) if node.get("compare", "ge") == "gt" else \
        (lambda u: u >= threshold)
    current, v = state if state is not None else (np.zeros_like(x), at_start(v_reset, x))
    if node["op"] == "cuba_lif":
        current = synaptic_current(node, weights, current, x)
        x = current
    u = (rest + old * (v - rest)) + gain * x
    reset = node.get("reset", "hard")
    if reset == "subtract_next":
        u = np.where(fires(v), u - threshold, u)
    elif reset == "zero_next":  # the charge where the stored (unreset) membrane fired: v_reset
        u = np.where(fires(v), v_reset, u)
    spikes = fires(u)
    if reset == "hard":
        v = np.where(spikes, v_reset, u)
    elif reset == "subtract":
        v = np.where(spikes, u - threshold, u)
    else:
        v = u
    if "v_min" in node:
        lo = f32(param("v_min"))
        v = np.maximum(v - lo, np.float32(0.0)) + lo
    return spikes.astype(np.float32), (current, v.astype(np.float32))


def differing_spikes(net, weights, x, peer):
    """Spikes of snnc's transcribed arithmetic that differ from the framework's, per layer."""
    ours = snnc_spikes(net, weights, x)
    return {l: int((ours[l].astype(np.uint8) != peer[f"spikes.{l}"]).sum()) for l in ours}


def relative_gap(ours, peer):
    """Largest `|ours - peer|` over the readout, relative to the largest `|peer|` of the same
    sample (a membrane that crosses zero would make an element-wise ratio meaningless)."""
    scale = np.maximum(np.abs(peer).max(axis=1, keepdims=True), np.float32(1e-30))
    return float((np.abs(ours.astype(np.float64) - peer) / scale).max())


def lava_dl_cuba_gap(data_dir, scale=4096):
    """Lava-dl's CUBA neuron against snnc's `cuba_lif`: no fixture, a measurement.

    Lava-dl does not install here (Python 3.11), so its forward is transcribed from
    `lava-dl: src/lava/lib/dl/slayer/neuron/cuba.py` (`Neuron.dynamics`, `Neuron.spike`) and
    `slayer/neuron/dynamics/leaky_integrator.py` (`_li_dynamics_fwd`): the current and then the
    voltage are leaky integrators on integers scaled by `s_scale = 64 * 64 = 4096`; each step
    `y = right_shift_to_zero(y * (4096 - decay), 12) + int(4096 * x)` (the input truncated
    toward zero), decays rounded to integers out of 4096, spike where `v >= threshold +
    0.01 / 4096`, and a spike zeroes the stored voltage. That is snnc's `cuba_lif` with
    `alpha = 1 - i_decay/4096`, `beta = 1 - v_decay/4096`, `decay_input: false`, `reset: hard`
    and `compare: gt`, in fixed point: the truncations are not float arithmetic, so snnc can
    only approximate it until the integer formats (Loihi 2's arithmetic) land. Prints how many
    spikes differ; run with a much finer grid (`scale`), the same transcription must agree with
    snnc exactly, which checks the mapping itself."""
    i_decay, v_decay, threshold = round(0.2 * 4096), round(0.1 * 4096), 1.0

    def integrate(x, decay, spike_at):
        y = np.zeros(x.shape[0:1] + x.shape[2:], dtype=np.int64)
        out = []
        for t in range(x.shape[1]):
            kept = y * (4096 - decay)
            new = np.sign(kept) * (np.abs(kept) >> 12) + np.trunc(x[:, t] * scale).astype(np.int64)
            y = new if spike_at is None else np.where(new >= spike_at * scale, 0, new)
            out.append(new / scale)
        return np.stack(out, axis=1)

    def lava_layer(x):
        current = integrate(x, i_decay, None)
        voltage = integrate(current, v_decay, threshold + 0.01 / scale)
        return (voltage >= threshold + 0.01 / scale).astype(np.uint8)

    node = {"op": "cuba_lif", "alpha": 1 - i_decay / 4096, "beta": 1 - v_decay / 4096,
            "threshold": threshold, "decay_input": False, "reset": "hard", "compare": "gt"}
    case = mlp_case("lava_dl_cuba_digits", "lava-dl (transcribed)", lambda: (None, dict(node)),
                    12, {}, gain=0.7)
    x, _ = inputs(case, data_dir)
    steps = case.timesteps
    with torch.no_grad():
        fc1 = case.module("fc1")(torch.from_numpy(x)).numpy()
        s1 = lava_layer(np.repeat(fc1[:, None], steps, axis=1))
        fc2 = case.module("fc2")(torch.from_numpy(s1.astype(np.float32))).numpy()
        s2 = lava_layer(fc2)
    peer = {"spikes.neuron1": s1, "spikes.neuron2": s2}
    differing = differing_spikes(case.network(10), case.weights(), x, peer)
    totals = {"neuron1": int(s1.sum()), "neuron2": int(s2.sum())}
    print(f"lava-dl CUBA (transcribed, fixed point, grid 1/{scale}) vs snnc cuba_lif in float: "
          f"spikes {totals}, differing {differing}")


def inputs(case, data_dir):
    if case.encoding == "event_frames":
        x = spike_trains(7, 24, case.timesteps, case.input_shape, 0.3)
        return x, "random binary event frames, Bernoulli(0.3), torch seed 7"
    if case.input_shape == [64]:
        return digits(data_dir, 48), "scikit-learn digits 0..47, pixels / 16"
    count = case.samples or 8
    return (fashion_mnist(data_dir, count),
            f"Fashion-MNIST test images 0..{count - 1}, pixels / 255")


def main():
    data_dir, out_dir = sys.argv[1], sys.argv[2]
    import norse
    import sinabs

    versions = {"norse": norse.__version__, "torch": torch.__version__, "snntorch": snntorch.__version__,
                "sinabs": sinabs.__version__,
                "spikingjelly": getattr(spikingjelly, "__version__", "2.0.0"),
                "numpy": np.__version__}
    only = set(sys.argv[3:])
    differing_cases = []
    for case in cases():
        if only and case.name not in only:
            continue
        x, what = inputs(case, data_dir)
        run = {"snntorch": run_snntorch, "spikingjelly": run_spikingjelly,
               "sinabs": run_sinabs, "snntorch_recurrent": run_recurrent,
               "norse": run_norse}[case.framework]
        spikes, mems = run(case, x)
        peer = {"input": x.reshape(x.shape[0], -1).astype(np.float32)}
        for layer in case.neuron_layers():
            peer[f"spikes.{layer}"] = np.stack(spikes[layer], axis=1)
            peer[f"membrane.{layer}"] = np.stack(mems[layer], axis=1)
        if case.integrator_layer():
            peer["readout"] = framework_readout(case, mems)
        else:
            last = case.neuron_layers()[-1]
            peer["readout"] = peer[f"spikes.{last}"].sum(axis=1).astype(np.float32)
        folder = os.path.join(out_dir, case.name)
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "network.json"), "w") as f:
            json.dump(case.network(10), f, indent=1)
            f.write("\n")
        write_safetensors(os.path.join(folder, "weights.safetensors"), case.weights())
        write_safetensors(os.path.join(folder, "peer.safetensors"), peer)
        totals = {l: int(peer[f"spikes.{l}"].sum()) for l in case.neuron_layers()}
        floor = next((n.get("v_min") for _, _, n in case.layers if "v_min" in n), None)
        at_floor = None if floor is None else {
            l: int((peer[f"membrane.{l}"] == np.float32(floor)).sum()) for l in case.neuron_layers()}
        on_threshold = {l: int(on_threshold_count(case, run, x, l)) for l in case.neuron_layers()}
        record = {"framework": case.framework, "versions": versions, "inputs": what,
                  "settings": case.settings, "spikes": totals,
                  "membranes_exactly_at_threshold": on_threshold,
                  "membranes_held_at_v_min": at_floor}
        readout_gap = None
        if case.integrator_layer():
            ours = snnc_readout(case.network(10), case.weights(), x)
            readout_gap = relative_gap(ours, peer["readout"])
            equal = int((ours == peer["readout"]).sum())
            record["readout"] = {"node": case.integrator_layer(), "kind": case.readout,
                                 "max_relative_difference_from_snnc": readout_gap,
                                 "values_equal_to_snnc": f"{equal} of {ours.size}"}
        with open(os.path.join(folder, "case.json"), "w") as f:
            json.dump(record, f, indent=1)
            f.write("\n")
        differing = differing_spikes(case.network(10), case.weights(), x, peer)
        if any(differing.values()):
            differing_cases.append(case.name)
        gap = "" if readout_gap is None else (
            f", readout max relative difference {readout_gap:.3g} "
            f"({record['readout']['values_equal_to_snnc']} equal)")
        print(f"{case.name}: {x.shape[0]} samples, spikes {totals}, at threshold {on_threshold}, "
              f"at v_min {at_floor}, differing from snnc's arithmetic {differing}{gap}")
    print(f"cases whose spikes differ from snnc's arithmetic: {differing_cases or 'none'}")
    if not only or "lava_dl_cuba" in only:
        lava_dl_cuba_gap(data_dir)
        lava_dl_cuba_gap(data_dir, scale=2**40)


if __name__ == "__main__":
    main()
