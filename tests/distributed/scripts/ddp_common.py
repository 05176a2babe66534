"""Helpers for the DDP / DistributedOptimizer rank scripts: small models (tensor ops, or
F.linear), data, replica hashes, a single-process reference.
"""
import copy
import hashlib

import numpy as np

import distgrad as dg
import distgrad.distributed as dist
import distgrad.nn as nn
import distgrad.nn.functional as F


class Dense(nn.Module):
    """x @ W.T + b from tensor ops, or (``fused``) with F.linear, whose backward computes the
    gradients straight into DDP's bucket views."""

    def __init__(self, fan_in, fan_out, dtype=dg.float64, fused=False):
        super().__init__()
        self.weight = nn.Parameter(dg.randn(fan_out, fan_in, dtype=dtype) * (1.0 / fan_in ** 0.5))
        self.bias = nn.Parameter(dg.randn(fan_out, dtype=dtype) * 0.1)
        self.fused = fused

    def forward(self, x):
        if self.fused:
            return F.linear(x, self.weight, self.bias)
        return x @ self.weight.T + self.bias


class MLP(nn.Module):
    """Dense layers with tanh between them (biases everywhere)."""

    def __init__(self, sizes, dtype=dg.float64, fused=False):
        super().__init__()
        self.layers = nn.ModuleList([Dense(a, b, dtype, fused)
                                     for a, b in zip(sizes[:-1], sizes[1:])])

    def forward(self, x):
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = x.tanh()
        return x


def data(seed, batch, fan_in, fan_out, dtype=np.float64):
    rng = np.random.default_rng(seed)
    x = dg.tensor(rng.standard_normal((batch, fan_in)).astype(dtype))
    y = dg.tensor(rng.standard_normal((batch, fan_out)).astype(dtype))
    return x, y


def mse(out, y):
    return ((out - y) ** 2).mean()


def shard(t, rank, world):
    n = t.shape[0] // world
    return t[rank * n:(rank + 1) * n]


def params_hash(module):
    h = hashlib.sha256()
    for name, p in module.named_parameters():
        h.update(name.encode())
        h.update(np.ascontiguousarray(p.detach().numpy()).tobytes())
    return h.hexdigest()


def assert_identical_replicas(module, what=""):
    hashes = [None] * dist.get_world_size()
    dist.all_gather_object(hashes, params_hash(module))
    assert len(set(hashes)) == 1, f"replicas differ {what}: {hashes}"


def assert_close(module, ref, tol, what=""):
    for (n, p), (_, q) in zip(module.named_parameters(), ref.named_parameters()):
        d = float(np.max(np.abs(p.detach().numpy() - q.detach().numpy())))
        assert d <= tol, f"{what}: parameter {n} differs from the reference by {d:.3e}"


def clone(module):
    return copy.deepcopy(module)


def reference_train(model, x, y, steps, lr=0.05, momentum=0.9, loss_fn=mse):
    """Train a copy of ``model`` in this one process on the whole batch; return the copy and its
    parameters after every step."""
    ref = clone(model)
    opt = dg.optim.SGD(ref.parameters(), lr=lr, momentum=momentum)
    trace = []
    for _ in range(steps):
        opt.zero_grad()
        loss_fn(ref(x), y).backward()
        opt.step()
        trace.append([p.detach().numpy().copy() for p in ref.parameters()])
    return ref, trace


def max_diff_to(module, params):
    return max(float(np.max(np.abs(p.detach().numpy() - q)))
               for p, q in zip(module.parameters(), params))
