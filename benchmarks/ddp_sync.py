"""DDP's gradient synchronization cost against one raw MPI Allreduce of the same bytes.

Model: a deep MLP of ``--layers`` Linear(width, width) layers with biases (default 120 x 256x256,
240 parameter tensors, 31.6 MB of float32 gradients), batch ``--batch`` per rank.

DDP and DistributedOptimizer keep their gradient buffers in node shared memory when all ranks
share one node, and all-reduce them there (distgrad/distributed/backends/shm.py); run with
``DISTGRAD_SHM_ALLREDUCE=0`` to measure them over MPI's Allreduce instead.

Figures (every sample starts after a Barrier and is the slowest rank's time; the measurements
are interleaved round by round, so that all see the same machine conditions; the value shown is
the median):

* ``raw Allreduce``: ``MPI.COMM_WORLD.Allreduce(IN_PLACE, buf)`` of one float32 buffer holding
  all the gradient bytes: the floor.
* ``per-tensor Allreduce``: one Allreduce per gradient tensor (what bucketing avoids).
* ``DDP sync only``: DDP's synchronization of a backward pass whose gradients are all ready at
  its end: the communication path alone. Over shared memory, one all-reduce of the flat buffer
  that also averages; over MPI, bucket launches in order and waits (the per-parameter divide by
  the world size that the hooks then do on cache-hot gradients is left out).
* ``DDP sync per step``: (forward + backward with DDP) - (the same inside ``no_sync()`` right
  after it), median of the paired differences: what synchronization adds to a training step,
  hooks and waits included. Noisy on a loaded machine:
  the step is ~5x the sync, and with one core per rank nothing overlaps (mpi.md §5.4).
* ``DistributedOptimizer.synchronize``: one all-reduce of its flat buffer, where backward put
  the gradients (gradients held elsewhere would be copied in and out).

busbw = 2(n-1)/n * bytes / t. The reference figures of mpi.md (MPICH, 2 ranks on 2 cores): 16 MB
3.7 ms (4.5 GB/s), 64 MB 37.8 ms (1.8 GB/s).

Run: mpiexec -n 2 python -m mpi4py benchmarks/ddp_sync.py [--layers 120 --width 256 --rounds 8]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import distgrad as dg  # noqa: E402
import distgrad.distributed as dist  # noqa: E402
import distgrad.optim  # noqa: E402,F401
from distgrad import nn  # noqa: E402
from distgrad.distributed.optimizer import DistributedOptimizer  # noqa: E402
from distgrad.nn.parallel import DistributedDataParallel as DDP  # noqa: E402


class Dense(nn.Module):
    """Linear(fan_in, fan_out) from tensor ops (the same matmul + bias as nn.Linear)."""

    def __init__(self, fan_in, fan_out):
        super().__init__()
        bound = (6 / fan_in) ** 0.5  # He-uniform: activations keep their scale through many
        # ReLU layers (with PyTorch's default init they shrink to denormals and the matmuls of
        # the backward slow down 10-20x)
        self.weight = nn.Parameter(dg.rand(fan_out, fan_in) * (2 * bound) - bound)
        self.bias = nn.Parameter(dg.zeros(fan_out))

    def forward(self, x):
        return x @ self.weight.T + self.bias


class Deep(nn.Module):
    def __init__(self, layers, width):
        super().__init__()
        self.layers = nn.ModuleList([Dense(width, width) for _ in range(layers)])

    def forward(self, x):
        for layer in self.layers:
            x = layer(x).relu()
        return x


def timer(comm):
    """fn -> the slowest rank's time of one call of fn (seconds), after a Barrier."""
    from mpi4py import MPI

    def once(fn):
        comm.Barrier()
        t0 = time.perf_counter()
        fn()
        dt = np.array([time.perf_counter() - t0])
        comm.Allreduce(MPI.IN_PLACE, dt, op=MPI.MAX)
        return float(dt[0])
    return once


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--layers", type=int, default=120)
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3, help="per measurement and round")
    ap.add_argument("--bucket-cap-mb", type=float, default=25)
    args = ap.parse_args()

    dist.init_process_group()
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    once = timer(comm)
    rank, world = dist.get_rank(), dist.get_world_size()
    dg.manual_seed(0)
    model = Deep(args.layers, args.width)
    params = list(model.parameters())
    nbytes = sum(p._data.nbytes for p in params)
    x = dg.randn(args.batch, args.width)

    raw = np.ones(nbytes // 4, np.float32)
    grads = [np.ones(p._data.shape, np.float32) for p in params]

    def raw_allreduce():
        comm.Allreduce(MPI.IN_PLACE, raw, op=MPI.SUM)

    def per_tensor():
        for g in grads:
            comm.Allreduce(MPI.IN_PLACE, g, op=MPI.SUM)

    ddp = DDP(model, bucket_cap_mb=args.bucket_cap_mb)
    r = ddp._reducer

    def step():
        ddp.zero_grad()
        (ddp(x) ** 2).mean().backward()

    def local_step():
        ddp.zero_grad()
        with ddp.no_sync():
            (ddp(x) ** 2).mean().backward()

    def sync_only():  # the synchronization of a backward whose gradients are all ready at its end
        r._new_round()
        for i, p in enumerate(r.params):  # mark ready (the hooks' divide is left out: in a
            r.ready[i] = r.round            # real step it runs on cache-hot gradients)
            r.num_ready += 1
            r.bucket_of[i].pending -= 1
        try:
            r._finish_round()
        finally:
            r.active = False

    mode = ("all-reduce per bucket, launched during backward" if r.overlap else
            "one all-reduce of the buffer, shared memory" if not r.divide_early else
            "one all-reduce of the buffer")

    ddp.zero_grad()
    with ddp.no_sync():
        (ddp(x) ** 2).mean().backward()
    # DistributedOptimizer on its own copy of the model: after its first synchronize() the
    # gradients of a backward land in its flat buffer, and synchronize() reduces them in place
    dg.manual_seed(0)
    twin = Deep(args.layers, args.width)
    dopt = DistributedOptimizer(dg.optim.SGD(twin.parameters(), lr=0.0))
    dopt._remove_hooks()
    for _ in range(2):
        dopt.zero_grad()
        (twin(x) ** 2).mean().backward()
        dopt.synchronize()

    cases = [
        ("raw Allreduce, one buffer (MPI.COMM_WORLD.Allreduce)", raw_allreduce, True),
        (f"per-tensor Allreduce ({len(grads)} calls)", per_tensor, True),
        (f"DDP sync only ({mode})", sync_only, True),
        ("DistributedOptimizer.synchronize (gradients in its buffer)", dopt.synchronize, True),
        ("step fwd+bwd, DDP", step, False),
        ("step fwd+bwd inside no_sync() (no communication)", local_step, False),
    ]
    times = {name: [] for name, _, _ in cases}
    diffs = []  # paired samples: a DDP step minus the no_sync step after it
    for _ in range(args.rounds):  # interleaved: every case sees the same machine conditions
        for name, fn, _ in cases:
            fn()  # warm-up
            for _ in range(args.repeats):
                times[name].append(once(fn))
        for _ in range(args.repeats):
            t_sync = once(step)
            t_local = once(local_step)
            diffs.append(t_sync - t_local)
    med = {name: statistics.median(v) for name, v in times.items()}
    t_raw = med[cases[0][0]]
    rows = [(name, med[name], comm_only) for name, _, comm_only in cases]
    rows.insert(5, ("  => DDP sync per step (paired step - no_sync step)",
                    statistics.median(diffs), True))

    if rank == 0:
        print(f"# DDP sync benchmark: {world} ranks, {len(params)} parameter tensors, "
              f"{nbytes / 1e6:.1f} MB float32 gradients, {len(r.buckets)} buckets "
              f"(bucket_cap_mb={args.bucket_cap_mb}), batch {args.batch}/rank; median of "
              f"{args.rounds} x {args.repeats} interleaved samples, slowest rank")
        print(f"{'measurement':62s} {'time ms':>9s} {'busbw GB/s':>11s} {'vs raw':>7s}")
        for name, t, comm_only in rows:
            bw = f"{2 * (world - 1) / world * nbytes / t / 1e9:11.2f}" if comm_only else " " * 11
            ratio = f"{t / t_raw:6.2f}x" if comm_only else ""
            print(f"{name:62s} {t * 1e3:9.2f} {bw} {ratio}")
        print("# reference, mpi.md (MPICH, 2 ranks on 2 cores, float32 Allreduce): 16 MB 3.74 ms "
              "(4.5 GB/s), 64 MB 37.8 ms (1.78 GB/s)")


if __name__ == "__main__":
    main()
