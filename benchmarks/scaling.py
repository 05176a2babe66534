"""Weak scaling on this machine: DDP on 2 ranks (one BLAS thread each) against 1 rank.

Workload: the wide MLP 784-1024-1024-10 (``nn.Linear``, ReLU, ``F.cross_entropy``, float32,
plain SGD lr 0.01), batch 128 *per rank* (weak scaling: the global batch grows with the ranks),
synthetic data (8 fixed batches per rank, cycled).

One ``mpiexec -n 2`` job measures every configuration, interleaved window by window, so that
they all see the machine in the same state (on a shared VM its speed drifts by tens of percent
over minutes, which made separate runs per configuration incomparable):

* ``1 rank``: rank 0 trains alone (a plain model, no DDP: the single-process step) while rank 1
  sleeps; ``1 rank, on rank 1's core``: the same with the roles swapped. The ranks are bound to
  one core each (``-bind-to core``): the two cores of a VM need not run at the same speed, and a
  synchronous 2-rank step can only go at the pace of the slower one;
* ``2 ranks, DDP``: the default, gradients averaged through node shared memory;
* ``2 ranks, DDP over MPI Allreduce``: ``DISTGRAD_SHM_ALLREDUCE=0`` when the DDP was built;
* ``2 ranks, no communication``: each rank trains its own model (no DDP): the contention of two
  ranks for the machine alone, the ceiling any all-reduce adds to.

A window is ``--steps`` steps; its time is the slowest rank's. In each round every configuration
runs one window (in a rotating order); the efficiency of a 2-rank configuration in a round is
the ``1 rank`` step time over its step time (samples/s of 2 ranks over twice those of 1 rank);
the goal is >= 90%. The table gives the median over the rounds and the range, and the
efficiency against the slower core alone (what is left once the cores' difference is taken out).

Run: python benchmarks/scaling.py [--rounds 15 --steps 8]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SIZES = (784, 1024, 1024, 10)
CONFIGS = ("1 rank", "1 rank, on rank 1's core", "2 ranks, DDP",
           "2 ranks, DDP over MPI Allreduce", "2 ranks, no communication")
ALONE = {CONFIGS[0]: 0, CONFIGS[1]: 1}  # single-rank configurations: which rank trains


def worker(args):
    import numpy as np
    from mpi4py import MPI

    import distgrad as dg
    import distgrad.distributed as dist
    import distgrad.nn.functional as F
    import distgrad.optim  # noqa: F401
    from distgrad import nn
    from distgrad.nn.parallel import DistributedDataParallel as DDP

    def mlp():
        dg.manual_seed(0)
        layers = []
        for i, (a, b) in enumerate(zip(SIZES[:-1], SIZES[1:])):
            layers.append(nn.Linear(a, b))
            if i < len(SIZES) - 2:
                layers.append(nn.ReLU())
        return nn.Sequential(*layers)

    def over_mpi():
        os.environ["DISTGRAD_SHM_ALLREDUCE"] = "0"  # read when DDP allocates its buffer
        try:
            return DDP(mlp())
        finally:
            del os.environ["DISTGRAD_SHM_ALLREDUCE"]

    dist.init_process_group()
    comm = MPI.COMM_WORLD
    rank = comm.Get_rank()
    assert comm.Get_size() == 2, "run the driver: python benchmarks/scaling.py"
    models = {CONFIGS[0]: mlp(), CONFIGS[1]: mlp(), CONFIGS[2]: DDP(mlp()),
              CONFIGS[3]: over_mpi(), CONFIGS[4]: mlp()}
    opts = {name: dg.optim.SGD(m.parameters(), lr=0.01) for name, m in models.items()}
    rng = np.random.default_rng(rank)
    batches = [(dg.tensor(rng.standard_normal((args.batch, SIZES[0])).astype(np.float32)),
                dg.tensor(rng.integers(0, SIZES[-1], args.batch)))
               for _ in range(8)]

    def window(name, steps):
        model, opt = models[name], opts[name]
        t0 = time.perf_counter()
        for i in range(steps):
            x, y = batches[i % len(batches)]
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()
        return time.perf_counter() - t0

    def timed(name, steps):
        """Seconds per step of one window of ``name`` (the slowest rank's)."""
        if name in ALONE:  # one rank alone; the other sleeps until it is done
            alone = ALONE[name]
            dt = window(name, steps) if rank == alone else 0.0
            req = comm.Ibarrier()
            while not req.Test():
                time.sleep(0.0005)
            return comm.bcast(dt, root=alone) / steps
        comm.Barrier()
        return comm.allreduce(window(name, steps), op=MPI.MAX) / steps

    for name in CONFIGS:
        timed(name, 3)  # warm up
    per_step = {name: [] for name in CONFIGS}
    for r in range(args.rounds):
        for k in range(len(CONFIGS)):
            name = CONFIGS[(r + k) % len(CONFIGS)]
            per_step[name].append(timed(name, args.steps))
    if rank == 0:
        report(args, per_step)


def report(args, per_step):
    one = per_step[CONFIGS[0]]
    slower = [max(a, b) for a, b in zip(one, per_step[CONFIGS[1]])]
    print(f"# weak scaling, MLP {'-'.join(map(str, SIZES))}, batch {args.batch}/rank, float32, "
          f"SGD, 1 BLAS thread per rank, {os.cpu_count()} cores; {args.rounds} rounds of "
          f"interleaved {args.steps}-step windows; load average {os.getloadavg()[0]:.2f}")
    print(f"{'configuration':34s} {'step ms (median)':>16s} {'samples/s':>10s} "
          f"{'efficiency: median':>19s} {'range':>15s} {'vs slower core':>15s}")
    for name in CONFIGS:
        steps = per_step[name]
        ranks = 1 if name in ALONE else 2
        med = statistics.median(steps)
        sps = ranks * args.batch / med
        eff = sorted(o / s for o, s in zip(one, steps))
        vs_slower = statistics.median(w / s for w, s in zip(slower, steps))
        if ranks == 1:
            print(f"{name:34s} {med * 1e3:16.2f} {sps:10.1f} {statistics.median(eff):19.1%}")
            continue
        print(f"{name:34s} {med * 1e3:16.2f} {sps:10.1f} {statistics.median(eff):19.1%} "
              f"{eff[0]:7.1%}-{eff[-1]:.1%} {vs_slower:15.1%}")


def mpiexec():
    for name in ("mpiexec", "mpirun"):
        cand = Path(sys.executable).parent / name
        if cand.is_file():
            return str(cand)
    return "mpiexec"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--worker", action="store_true")
    ap.add_argument("--steps", type=int, default=8, help="steps per timed window")
    ap.add_argument("--rounds", type=int, default=15, help="rounds of one window per config")
    ap.add_argument("--batch", type=int, default=128)
    args = ap.parse_args()
    if args.worker:
        return worker(args)
    env = dict(os.environ)
    for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[k] = "1"
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    job = [sys.executable, "-m", "mpi4py", __file__, "--worker", "--steps", str(args.steps),
           "--rounds", str(args.rounds), "--batch", str(args.batch)]
    bound = subprocess.run([mpiexec(), "-bind-to", "core", "-n", "2", *job], env=env,
                           timeout=1800)
    if bound.returncode != 0:  # an MPI whose mpiexec does not know -bind-to: unbound
        print("# (mpiexec -bind-to core failed: running the ranks unbound)", flush=True)
        sys.exit(subprocess.run([mpiexec(), "-n", "2", *job], env=env, timeout=1800).returncode)


if __name__ == "__main__":
    main()
