"""Engine overhead: distgrad against hand-written NumPy and PyTorch, side by side in one run.

Workloads (float32, softmax cross-entropy, plain SGD lr 0.01; figures in the README, "Benchmarks"):
  mlp-digits  MLP 64-256-256-10, batch 64
  mlp-wide    MLP 784-1024-1024-10, batch 128
  cnn-digits  1x8x8 -> Conv(1,16,3,p1)-ReLU-Conv(16,32,3,p1)-ReLU-MaxPool(2)-Linear(512,10), batch 64
  chain       1000 small elementwise ops on a 16-element tensor, forward + backward (us per op)

Systems are interleaved block by block (about 0.15 s each) so that they see the same machine
conditions; each time is the median over rounds of a round's median block time, and each ratio
the median over rounds of the ratio within a round. Run: python benchmarks/engine.py [--rounds N]
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import distgrad as dg  # noqa: E402
import distgrad.nn.functional as F  # noqa: E402
from distgrad import nn, optim  # noqa: E402

try:
    import torch
except ImportError:  # torch is optional: its columns are left out
    torch = None

LR = 0.01
TORCH_SYSTEMS = {"torch-1t": 1, "torch-2t": 2}  # PyTorch with 1 and 2 intra-op threads


# ------------------------------------------------------------------------------ data and weights
def _batches(shape, classes, batch, n=8, seed=0):
    rng = np.random.default_rng(seed)
    xs = [rng.standard_normal((batch, *shape)).astype(np.float32) for _ in range(n)]
    ys = [rng.integers(0, classes, batch) for _ in range(n)]
    return xs, ys


def _uniform(rng, shape, fan_in):
    bound = 1 / np.sqrt(fan_in)
    return rng.uniform(-bound, bound, shape).astype(np.float32)


def mlp_weights(sizes, seed=1):
    rng = np.random.default_rng(seed)
    return [(_uniform(rng, (o, i), i), _uniform(rng, (o,), i)) for i, o in zip(sizes, sizes[1:])]


def cnn_weights(seed=1):
    rng = np.random.default_rng(seed)
    return [(_uniform(rng, (16, 1, 3, 3), 9), _uniform(rng, (16,), 9)),
            (_uniform(rng, (32, 16, 3, 3), 144), _uniform(rng, (32,), 144)),
            (_uniform(rng, (10, 512), 512), _uniform(rng, (10,), 512))]


# ------------------------------------------------------------------------------ hand-written NumPy
def numpy_mlp_step(weights):
    """A training step written by hand: forward, backward and SGD on raw arrays."""
    def step(x, y):
        acts = [x]
        h = x
        for i, (w, b) in enumerate(weights):
            h = h @ w.T + b
            if i < len(weights) - 1:
                h = np.maximum(h, 0)
            acts.append(h)
        z = h - h.max(axis=1, keepdims=True)
        e = np.exp(z)
        p = e / e.sum(axis=1, keepdims=True)
        g = p
        g[np.arange(len(y)), y] -= 1
        g /= len(y)
        for i in range(len(weights) - 1, -1, -1):
            w, b = weights[i]
            a = acts[i]
            gw = g.T @ a
            gb = g.sum(axis=0)
            if i:
                g = (g @ w) * (a > 0)
            w -= LR * gw
            b -= LR * gb
    return step


def _im2col(x, k, pad):
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    win = np.lib.stride_tricks.sliding_window_view(xp, (k, k), axis=(2, 3))  # n c h w k k
    return win.transpose(0, 2, 3, 1, 4, 5).reshape(n * h * w, c * k * k)


def _col2im(cols, shape, k, pad):
    n, c, h, w = shape
    cols = cols.reshape(n, h, w, c, k, k)
    out = np.zeros((n, c, h + 2 * pad, w + 2 * pad), dtype=cols.dtype)
    for i in range(k):
        for j in range(k):
            out[:, :, i:i + h, j:j + w] += cols[:, :, :, :, i, j].transpose(0, 3, 1, 2)
    return out[:, :, pad:pad + h, pad:pad + w]


def numpy_cnn_step(weights):
    """The CNN step by hand with im2col + matmul (the 'naive NumPy' baseline)."""
    (w1, b1), (w2, b2), (w3, b3) = weights

    def conv(x, w, b):
        n, _, h, wd = x.shape
        cols = _im2col(x, 3, 1)
        out = cols @ w.reshape(w.shape[0], -1).T + b
        return out.reshape(n, h, wd, -1).transpose(0, 3, 1, 2), cols

    def conv_back(g, x_shape, cols, w):
        n, o, h, wd = g.shape
        g2 = g.transpose(0, 2, 3, 1).reshape(-1, o)
        gw = (g2.T @ cols).reshape(w.shape)
        gb = g2.sum(axis=0)
        gx = _col2im(g2 @ w.reshape(o, -1), x_shape, 3, 1)
        return gx, gw, gb

    def step(x, y):
        h1, c1 = conv(x, w1, b1)
        r1 = np.maximum(h1, 0)
        h2, c2 = conv(r1, w2, b2)
        r2 = np.maximum(h2, 0)
        n = x.shape[0]
        win = r2.reshape(n, 32, 4, 2, 4, 2)
        p = win.max(axis=(3, 5))
        flat = p.reshape(n, -1)
        z = flat @ w3.T + b3
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        g = e / e.sum(axis=1, keepdims=True)
        g[np.arange(n), y] -= 1
        g /= n
        gw3, gb3 = g.T @ flat, g.sum(axis=0)
        gp = (g @ w3).reshape(n, 32, 4, 1, 4, 1)
        mask = win == p.reshape(n, 32, 4, 1, 4, 1)
        gr2 = (mask * gp).reshape(r2.shape) * (h2 > 0)
        gr1, gw2, gb2 = conv_back(gr2, r1.shape, c2, w2)
        _, gw1, gb1 = conv_back(gr1 * (h1 > 0), x.shape, c1, w1)
        for (w, b), gw, gb in (((w1, b1), gw1, gb1), ((w2, b2), gw2, gb2), ((w3, b3), gw3, gb3)):
            w -= LR * gw
            b -= LR * gb
    return step


# ------------------------------------------------------------------------------ distgrad
def _load(module, weights):
    layers = [m for m in module.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    with dg.no_grad():
        for layer, (w, b) in zip(layers, weights):
            layer.weight.copy_(dg.from_numpy(w))
            layer.bias.copy_(dg.from_numpy(b))
    return module


def distgrad_mlp(sizes, weights):
    layers = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return _load(nn.Sequential(*layers), weights)


def distgrad_cnn(weights):
    model = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 32, 3, padding=1),
                          nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(512, 10))
    return _load(model, weights)


def distgrad_step(model):
    opt = optim.SGD(model.parameters(), lr=LR)

    def step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(dg.from_numpy(x)), dg.from_numpy(y))
        loss.backward()
        opt.step()
    return step


# ------------------------------------------------------------------------------ PyTorch
def torch_network(kind, sizes):
    """The PyTorch twin of ``distgrad_cnn`` (kind "cnn") or ``distgrad_mlp`` (kind "mlp")."""
    tnn = torch.nn
    if kind == "cnn":
        return tnn.Sequential(tnn.Conv2d(1, 16, 3, padding=1), tnn.ReLU(), tnn.Conv2d(16, 32, 3, padding=1),
                              tnn.ReLU(), tnn.MaxPool2d(2), tnn.Flatten(), tnn.Linear(512, 10))
    layers = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers.append(tnn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(tnn.ReLU())
    return tnn.Sequential(*layers)


def torch_model(kind, sizes, weights):
    tnn = torch.nn
    model = torch_network(kind, sizes)
    layers = [m for m in model.modules() if isinstance(m, (tnn.Linear, tnn.Conv2d))]
    with torch.no_grad():
        for layer, (w, b) in zip(layers, weights):
            layer.weight.copy_(torch.from_numpy(w))
            layer.bias.copy_(torch.from_numpy(b))
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    tf = torch.nn.functional

    def step(x, y):
        opt.zero_grad()
        loss = tf.cross_entropy(model(torch.from_numpy(x)), torch.from_numpy(y))
        loss.backward()
        opt.step()
    return step


# ------------------------------------------------------------------------------ chain
def chain_systems():
    rng = np.random.default_rng(0)
    x0 = rng.standard_normal(16).astype(np.float32)
    w0 = rng.standard_normal(16).astype(np.float32)

    def numpy_chain():
        x, saved = x0, []
        for _ in range(250):
            a = x * 1.0001
            b = a + 0.001
            c = np.tanh(b)
            saved.append(c)
            x = c * w0
        g, gw = np.ones_like(x), np.zeros_like(w0)
        for c in reversed(saved):
            gw += g * c
            g = g * w0
            g = g * (1 - c * c)
            g = g * 1.0001
        return gw

    def distgrad_chain():
        w = dg.from_numpy(w0).requires_grad_()
        y = dg.from_numpy(x0).requires_grad_()
        for _ in range(250):
            y = dg.tanh(y * 1.0001 + 0.001) * w
        y.sum().backward()

    systems = {"numpy": numpy_chain, "distgrad": distgrad_chain}
    if torch is not None:
        def torch_chain():
            w = torch.from_numpy(w0).requires_grad_()
            y = torch.from_numpy(x0).requires_grad_()
            for _ in range(250):
                y = torch.tanh(y * 1.0001 + 0.001) * w
            y.sum().backward()
        for label in TORCH_SYSTEMS:
            systems[label] = torch_chain
    return systems


# ------------------------------------------------------------------------------ timing
def _time_block(fn, args_cycle, seconds):
    n, start = 0, time.perf_counter()
    while True:
        fn(*args_cycle[n % len(args_cycle)])
        n += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return elapsed / n


def _use_threads(name):
    if name in TORCH_SYSTEMS:
        torch.set_num_threads(TORCH_SYSTEMS[name])


def measure(name, fn, args_cycle, blocks=5, block_s=0.15):
    """Median time per call of ``fn`` over ``blocks`` timed blocks, after a warm-up."""
    _use_threads(name)
    _time_block(fn, args_cycle, 0.2)  # warm-up
    return statistics.median(_time_block(fn, args_cycle, block_s) for _ in range(blocks))


def measure_side_by_side(systems, args_cycle, blocks=5, block_s=0.15):
    """``{name: median time per call}`` of every system, its timed blocks interleaved with the
    other systems' (block 1 of each, then block 2 of each, ...) so that all see the same
    machine conditions, after a warm-up of each."""
    for name, fn in systems.items():
        _use_threads(name)
        _time_block(fn, args_cycle, 0.2)
    times = {name: [] for name in systems}
    for _ in range(blocks):
        for name, fn in systems.items():
            _use_threads(name)
            times[name].append(_time_block(fn, args_cycle, block_s))
    return {name: statistics.median(t) for name, t in times.items()}


def workloads():
    out = {}
    for name, sizes, batch in (("mlp-digits", [64, 256, 256, 10], 64),
                               ("mlp-wide", [784, 1024, 1024, 10], 128)):
        xs, ys = _batches((sizes[0],), 10, batch)
        systems = {
            "numpy": lambda s=sizes: numpy_mlp_step([(w.copy(), b.copy()) for w, b in mlp_weights(s)]),
            "distgrad": lambda s=sizes: distgrad_step(distgrad_mlp(s, mlp_weights(s))),
        }
        for label in TORCH_SYSTEMS if torch is not None else ():
            systems[label] = lambda s=sizes: torch_model("mlp", s, mlp_weights(s))
        out[name] = (systems, list(zip(xs, ys)))
    xs, ys = _batches((1, 8, 8), 10, 64)
    systems = {
        "numpy": lambda: numpy_cnn_step([(w.copy(), b.copy()) for w, b in cnn_weights()]),
        "distgrad": lambda: distgrad_step(distgrad_cnn(cnn_weights())),
    }
    for label in TORCH_SYSTEMS if torch is not None else ():
        systems[label] = lambda: torch_model("cnn", None, cnn_weights())
    out["cnn-digits"] = (systems, list(zip(xs, ys)))
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", nargs="*", help="workloads to run (default: all)")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)

    results = {}
    loads = workloads()
    steps = {name: {sys_name: make() for sys_name, make in systems.items()}
             for name, (systems, _) in loads.items() if not args.only or name in args.only}
    chain = chain_systems() if not args.only or "chain" in args.only else {}
    work = {name: (systems, loads[name][1], 1e3) for name, systems in steps.items()}
    if chain:
        work["chain"] = (chain, [()], 1e6 / 1000)
    for r in range(args.rounds):
        for name, (systems, args_cycle, scale) in work.items():
            order = list(systems)
            order = order[r % len(order):] + order[:r % len(order)]  # rotate the order per round
            times = measure_side_by_side({s: systems[s] for s in order}, args_cycle)
            for sys_name, t in times.items():
                results.setdefault(name, {}).setdefault(sys_name, []).append(t * scale)

    summary = {w: {s: statistics.median(v) for s, v in d.items()} for w, d in results.items()}
    print(f"distgrad engine benchmark, {args.rounds} rounds of interleaved blocks (median); python "
          f"{platform.python_version()} ({sys.executable}), numpy {np.__version__} (BLAS threads as "
          f"configured)"
          + (f", torch {torch.__version__}" if torch else ""))
    for w, d in summary.items():
        unit = "us/op (fwd+bwd)" if w == "chain" else "ms/step"
        cells = "  ".join(f"{s} {v:.3f}" for s, v in d.items())
        ratios = [f"distgrad/{s} {_paired_ratio(results[w], s):.2f}x" for s in d
                  if s != "distgrad" and not (s == "numpy" and w == "chain")]
        print(f"{w:11s} {unit}: {cells}   ({', '.join(ratios)})")
    if args.json:
        Path(args.json).write_text(json.dumps({"median": summary, "rounds": results}, indent=1))
    return summary


def _paired_ratio(times, other):
    """The median over rounds of distgrad's time / ``other``'s time in the same round."""
    return statistics.median(a / b for a, b in zip(times["distgrad"], times[other]))


if __name__ == "__main__":
    main()
