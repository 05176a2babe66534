"""An alpha-beta model of data-parallel training, checked against published scaling figures.

Communication: a ring all-reduce of n bytes on p ranks takes

    t_ar(n, p) = 2 (p - 1) alpha + 2 (p - 1) / p * n / B

(alpha: latency per ring step; B: the bandwidth of the slowest link in the ring, for a ring over
several nodes the network card of a node). Gradients are reduced in buckets; bucket k can start
when the backward pass has produced all its gradients *and* bucket k-1 is done (buckets go in a
fixed order, as in DDP). Overlap with the backward pass then follows from a small simulation:

    start_k = max(ready_k, end_{k-1}),  end_k = start_k + t_ar(size_k, p)
    step    = t_forward + max(t_backward, end_last) + t_update
    weak-scaling efficiency = step(1 rank) / step(p ranks)

so step ~ compute + max(0, comm - overlappable part). Without overlap (``overlap=False``, or a
machine where MPI cannot progress during compute) step = compute + t_ar(all gradients, p).

Assumptions are stated in the tables below (``SCENARIOS``): network parameters, per-GPU compute
time and where the gradients sit in the backward pass. Published figures (quoted in
/work/shared/reference/data-parallel-anchors.md section 4):

* Horovod README: 90% scaling efficiency for Inception V3 and ResNet-101, 68% for VGG-16, on
  128 servers x 4 Pascal GPUs (512 GPUs) over 25 Gbit/s RoCE.
* PyTorch DDP (Li et al., VLDB 2020): "near-linear scalability using 256 GPUs" (ResNet-50 and
  BERT are the paper's workloads; its per-model numbers are not quoted in the anchors document,
  so the check is qualitative: >= 90% is read as near-linear).

The compute times are *assumptions* (approximate single-GPU throughputs of that hardware
generation), not figures from those papers; the point is whether a two-parameter network model
plus bucketed overlap explains the published efficiencies, and how efficiency falls from 8 to
512 GPUs. A last section applies the model to this machine with measured inputs (mpi.md's MPI
figures and a step of the wide MLP timed here) and predicts ``benchmarks/scaling.py``.

Run: python benchmarks/alpha_beta.py [--no-measure]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

MB = 1e6
MiB = 1024 * 1024


@dataclass
class Network:
    name: str
    alpha: float  # seconds per ring step
    bandwidth: float  # bytes/s of the bottleneck link
    note: str


@dataclass
class Model:
    name: str
    params: float  # number of parameters (fp32 gradients: 4 bytes each)
    t_compute: float  # forward + backward seconds per step per GPU
    bwd_share: float = 2 / 3  # share of t_compute spent in backward
    t_update: float = 0.0
    # gradient arrival: list of (fraction of the gradient bytes, fraction of the backward pass by
    # which they are all produced); produced uniformly within each segment
    arrival: list = field(default_factory=lambda: [(1.0, 1.0)])
    note: str = ""

    @property
    def nbytes(self):
        return 4 * self.params


def t_allreduce(nbytes, p, net):
    if p <= 1:
        return 0.0
    return 2 * (p - 1) * net.alpha + 2 * (p - 1) / p * nbytes / net.bandwidth


def buckets(nbytes, cap, first):
    sizes, left = [], nbytes
    if first and left > 0:
        sizes.append(min(first, left))
        left -= sizes[-1]
    while left > 0:
        sizes.append(min(cap, left))
        left -= sizes[-1]
    return sizes


def ready_time(model, produced_bytes):
    """When the backward pass has produced ``produced_bytes`` of gradient (seconds into it)."""
    t_b = model.t_compute * model.bwd_share
    frac = produced_bytes / model.nbytes
    t_prev, acc = 0.0, 0.0
    for share, until in model.arrival:
        if frac <= acc + share + 1e-12:
            within = (frac - acc) / share if share else 1.0
            return t_b * (t_prev + within * (until - t_prev))
        acc += share
        t_prev = until
    return t_b


def step_time(model, p, net, overlap=True, cap=25 * MiB, first=1 * MiB, launch_delay=0.0):
    t_b = model.t_compute * model.bwd_share
    t_f = model.t_compute - t_b
    if p <= 1:
        return model.t_compute + model.t_update
    if not overlap:
        return model.t_compute + model.t_update + t_allreduce(model.nbytes, p, net)
    end, produced = 0.0, 0.0
    for size in buckets(model.nbytes, cap, first):
        produced += size
        start = max(ready_time(model, produced) + launch_delay, end)
        end = start + t_allreduce(size, p, net)
    return t_f + max(t_b, end) + model.t_update


def efficiency(model, p, net, **kw):
    return step_time(model, 1, net, **kw) / step_time(model, p, net, **kw)


# --------------------------------------------------------------------------- the scenarios

HOROVOD_NET = Network(
    "25 Gbit/s RoCE, 4 GPUs/server",
    alpha=10e-6, bandwidth=25e9 / 8 * 0.9,
    note="assumed: alpha 10 us per ring step (NCCL over RoCE); B = 90% of the 25 Gbit/s line "
         "rate (each server's NIC carries one edge of the ring; NVLink/PCIe inside is faster)")
HOROVOD_KW = dict(cap=64 * MB, first=0, launch_delay=2.5e-3)  # 64 MB fusion, 5 ms cycle (avg 2.5)
HOROVOD_MODELS = [
    (Model("Inception V3", 23.9e6, 64 / 142,
           note="assumed 142 img/s per P100 at batch 64"), 0.90),
    (Model("ResNet-101", 44.5e6, 64 / 128,
           note="assumed 128 img/s per P100 at batch 64"), 0.90),
    (Model("VGG-16", 138.4e6, 64 / 150,
           # 89% of the parameters are in the three FC layers at the end: ready in the first 5%
           # of the backward pass; the convolutions' 11% arrive over the rest
           arrival=[(0.893, 0.05), (0.107, 1.0)],
           note="assumed 150 img/s per P100 at batch 64; FC gradients arrive first"), 0.68),
]

DDP_NET = Network(
    "100 Gbit/s network, 8 V100/server (NVLink)",
    alpha=5e-6, bandwidth=100e9 / 8 * 0.9,
    note="assumed: alpha 5 us per ring step (NCCL over InfiniBand/RoCE); B = 90% of a 100 Gbit/s "
         "NIC per server")
DDP_KW = dict(cap=25 * MiB, first=1 * MiB)  # DDP's defaults
DDP_MODELS = [
    (Model("ResNet-50", 25.6e6, 32 / 360,
           note="assumed 360 img/s per V100 (fp32) at batch 32"), "near-linear"),
    (Model("BERT-base", 110e6, 0.25,
           note="assumed 0.25 s per step per V100 (batch 32, seq 128, fp32); the paper's BERT "
                "size and batch are not quoted in the anchors document"), "near-linear"),
]

GPUS = [8, 16, 32, 64, 128, 256, 512]


def table(title, net, models, kw, published_p):
    print(f"\n## {title}")
    print(f"network: {net.name}: alpha = {net.alpha * 1e6:.0f} us, B = {net.bandwidth / 1e9:.2f} "
          f"GB/s ({net.note})")
    cap, first = kw.get("cap", 25 * MiB), kw.get("first", MiB)
    unit, div = ("MiB", MiB) if cap % MiB == 0 else ("MB", MB)
    print(f"buckets: {cap / div:g} {unit}" + (f", first bucket {first / div:g} {unit}" if first
                                              else "")
          + (f"; launch delay {kw['launch_delay'] * 1e3:g} ms (half the fusion cycle time)"
             if kw.get("launch_delay") else ""))
    head = f"{'model':14s} {'grads MB':>8s} {'compute':>8s} " + " ".join(
        f"{p:>6d}" for p in GPUS) + f"  {'published @' + str(published_p):>16s}"
    print(head)
    for model, published in models:
        effs = [efficiency(model, p, net, **kw) for p in GPUS]
        pub = f"{published:.0%}" if isinstance(published, float) else published
        pred = efficiency(model, published_p, net, **kw)
        print(f"{model.name:14s} {model.nbytes / MB:8.0f} {model.t_compute * 1e3:6.0f}ms "
              + " ".join(f"{e:6.0%}" for e in effs)
              + f"  {pub:>9s} vs {pred:4.0%}")
    for model, _ in models:
        print(f"  {model.name}: {model.note}")
    worst = min((m for m, _ in models), key=lambda m: efficiency(m, published_p, net, **kw))
    sens = []
    for a in (0.5, 1.0, 2.5):
        n2 = Network(net.name, net.alpha * a, net.bandwidth, net.note)
        sens.append(f"alpha {n2.alpha * 1e6:g} us: {efficiency(worst, published_p, n2, **kw):.0%}")
    for b in (0.7, 1.3):
        n2 = Network(net.name, net.alpha, net.bandwidth * b, net.note)
        e = efficiency(worst, published_p, n2, **kw)
        sens.append(f"B {n2.bandwidth / 1e9:.2f} GB/s: {e:.0%}")
    print(f"  sensitivity of {worst.name} at {published_p} GPUs: " + ", ".join(sens))
    print("  without overlap (one all-reduce after backward) at "
          f"{published_p} GPUs: " + ", ".join(
              f"{m.name} {efficiency(m, published_p, net, overlap=False, **kw):.0%}"
              for m, _ in models))


def measure_wide_mlp(steps=15, batch=128):
    """Seconds per training step of the wide MLP 784-1024-1024-10 in this process (1 rank)."""
    import numpy as np

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import distgrad as dg
    import distgrad.optim  # noqa: F401
    from distgrad import nn

    class Dense(nn.Module):
        def __init__(self, i, o):
            super().__init__()
            self.weight = nn.Parameter(dg.rand(o, i) * (2 / i ** 0.5) - 1 / i ** 0.5)
            self.bias = nn.Parameter(dg.zeros(o))

        def forward(self, x):
            return x @ self.weight.T + self.bias

    layers = [Dense(784, 1024), Dense(1024, 1024), Dense(1024, 10)]
    params = [p for layer in layers for p in layer.parameters()]
    opt = dg.optim.SGD(params, lr=0.01)
    rng = np.random.default_rng(0)
    x = dg.tensor(rng.standard_normal((batch, 784)).astype(np.float32))
    y = dg.tensor(rng.integers(0, 10, batch))

    def step():
        opt.zero_grad()
        h = layers[1](layers[0](x).relu()).relu()
        out = layers[2](h)
        (out.logsumexp(1) - out.gather(1, y.unsqueeze(1)).squeeze(1)).mean().backward()
        opt.step()

    for _ in range(3):
        step()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2], sum(p._data.size for p in params)


def this_machine(measure):
    print("\n## this machine (2 ranks on 2 cores, MPICH shared memory)")
    # mpi.md section 5.1: 4 KB in 5.5 us on 2 ranks (2 ring steps) -> alpha ~ 2.75 us;
    # busbw 4.5 GB/s at 16 MB, 1.78 GB/s at 64 MB (memory-bound)
    net16 = Network("MPICH shm", 2.75e-6, 4.5e9, "mpi.md: 4 KB 5.5 us; 16 MB busbw 4.5 GB/s")
    net64 = Network("MPICH shm", 2.75e-6, 1.78e9, "mpi.md: 64 MB busbw 1.78 GB/s")
    if measure:
        t, nparams = measure_wide_mlp()
        src = "measured here (1 process, 1 BLAS thread)"
    else:
        t, nparams = 0.045, 1_863_690
        src = "assumed 45 ms (typical of scaling.py's 1-rank run)"
    model = Model("MLP 784-1024-1024-10", nparams, t, note=f"step {t * 1e3:.1f} ms: {src}")
    print(f"model: {model.name}, {model.nbytes / MB:.1f} MB of gradients, batch 128/rank; "
          f"{model.note}")
    print("no overlap is possible here (each rank's core also runs MPI's copies, mpi.md 5.4):")
    for net in (net16, net64):
        e = efficiency(model, 2, net, overlap=False)
        print(f"  B = {net.bandwidth / 1e9:.2f} GB/s ({net.note}): predicted 2-rank weak-scaling "
              f"efficiency {e:.1%} (step {step_time(model, 2, net, overlap=False) * 1e3:.1f} ms "
              f"vs {t * 1e3:.1f} ms)")
    print("  compare: python benchmarks/scaling.py (measured efficiency; the machine must be idle,"
          " as 2 ranks need both cores)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-measure", action="store_true",
                    help="do not time the wide MLP here (use an assumed step time)")
    args = ap.parse_args()
    if not args.no_measure:
        for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(k, "1")
    print("# alpha-beta model: weak-scaling efficiency (step(1) / step(p)) for p GPUs")
    table("Horovod (TensorFlow, 512 P100 = 128 servers x 4, 25 Gbit/s RoCE)", HOROVOD_NET,
          HOROVOD_MODELS, HOROVOD_KW, 512)
    table("PyTorch DDP (VLDB 2020: near-linear to 256 GPUs)", DDP_NET, DDP_MODELS, DDP_KW, 256)
    this_machine(not args.no_measure)


if __name__ == "__main__":
    main()
