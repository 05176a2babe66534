"""Weak scaling on this machine: DDP on 2 ranks (one BLAS thread each) against 1 rank.

Workload: the wide MLP 784-1024-1024-10 (``nn.Linear``, ReLU, ``F.cross_entropy``, float32,
plain SGD lr 0.01), batch 128 *per rank* (weak scaling: the global batch grows with the ranks), synthetic
data (8 fixed batches per rank, cycled). samples/s = ranks x batch x steps / time of the slowest
rank; efficiency = samples/s(2 ranks) / (2 x samples/s(1 rank)); the goal is >= 90%. The CPU
time per step of the slowest rank is also shown (MPI waits spin, so they count as CPU time);
its ratio estimates the efficiency when other processes compete for the cores.

The driver launches the workers itself (``mpiexec -n 1`` and ``-n 2``, ``python -m mpi4py``),
alternating the configurations ``--trials`` times; each worker times ``--windows`` windows of
``--steps`` steps and the best window is kept (the machine may be shared: the least disturbed
window estimates the speed with the cores to itself; the median window is shown too). With 2
ranks on a 2-core machine each rank has a core to itself only if nothing else runs, and MPI
progress cannot overlap with compute (mpi.md section 5.4): the all-reduce of the 7.5 MB of
gradients adds to every step.

The "no communication" row runs 2 ranks that each train their own model (no DDP): the
contention of two ranks for the machine alone, the ceiling any all-reduce adds to.

Run: python benchmarks/scaling.py [--trials 3 --windows 8 --steps 10]
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SIZES = (784, 1024, 1024, 10)


def worker(args):
    import numpy as np

    import distgrad as dg
    import distgrad.distributed as dist
    import distgrad.nn.functional as F
    import distgrad.optim  # noqa: F401
    from distgrad import nn
    from distgrad.nn.parallel import DistributedDataParallel as DDP

    def mlp():
        layers = []
        for i, (a, b) in enumerate(zip(SIZES[:-1], SIZES[1:])):
            layers.append(nn.Linear(a, b))
            if i < len(SIZES) - 2:
                layers.append(nn.ReLU())
        return nn.Sequential(*layers)

    dist.init_process_group()
    from mpi4py import MPI

    rank, world = dist.get_rank(), dist.get_world_size()
    dg.manual_seed(0)
    # overlap "none": no DDP at all, so the ranks only compete for the machine (the ceiling)
    model = mlp() if args.overlap == "none" else DDP(mlp(), overlap=args.overlap == "on")
    opt = dg.optim.SGD(model.parameters(), lr=0.01)
    rng = np.random.default_rng(rank)
    batches = [(dg.tensor(rng.standard_normal((args.batch, SIZES[0])).astype(np.float32)),
                dg.tensor(rng.integers(0, SIZES[-1], args.batch)))
               for _ in range(8)]

    def step(i):
        x, y = batches[i % len(batches)]
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()

    for i in range(5):
        step(i)
    comm = MPI.COMM_WORLD
    windows = []  # (wall, cpu) of the slowest rank per window of args.steps steps
    for _ in range(args.windows):
        comm.Barrier()
        t0, c0 = time.perf_counter(), time.process_time()
        for i in range(args.steps):
            step(i)
        windows.append((comm.allreduce(time.perf_counter() - t0, op=MPI.MAX),
                        comm.allreduce(time.process_time() - c0, op=MPI.MAX)))
    dt, dc = min(windows)  # the least disturbed window
    med = sorted(w for w, _ in windows)[len(windows) // 2]
    if rank == 0:
        print(f"RESULT world={world} samples_per_s={world * args.batch * args.steps / dt:.1f} "
              f"step_ms={dt / args.steps * 1e3:.2f} cpu_ms={dc / args.steps * 1e3:.2f} "
              f"median_step_ms={med / args.steps * 1e3:.2f}", flush=True)


def mpiexec():
    for name in ("mpiexec", "mpirun"):
        cand = Path(sys.executable).parent / name
        if cand.is_file():
            return str(cand)
    return "mpiexec"


def run(n, args, overlap):
    env = dict(os.environ)
    for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[k] = "1"
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    cmd = [mpiexec(), "-n", str(n), sys.executable, "-m", "mpi4py", __file__, "--worker",
           "--steps", str(args.steps), "--windows", str(args.windows), "--batch", str(args.batch),
           "--overlap", overlap]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    m = re.search(r"RESULT world=(\d+) samples_per_s=([\d.]+) step_ms=([\d.]+) cpu_ms=([\d.]+) "
                  r"median_step_ms=([\d.]+)", out.stdout)
    if out.returncode != 0 or m is None:
        raise RuntimeError(f"worker failed ({' '.join(cmd)}):\n{out.stdout}\n{out.stderr}")
    return float(m.group(2)), float(m.group(3)), float(m.group(4)), float(m.group(5))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--worker", action="store_true")
    ap.add_argument("--steps", type=int, default=10, help="steps per timed window")
    ap.add_argument("--windows", type=int, default=8, help="timed windows per trial")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument("--overlap", default="on", choices=["on", "off", "none"])
    args = ap.parse_args()
    if args.worker:
        return worker(args)
    configs = [(1, "on"), (2, "on"), (2, "off"), (2, "none")]
    best, medians = {}, {}
    load0 = os.getloadavg()[0]
    for _ in range(args.trials):
        for n, overlap in configs:
            sps, ms, cpu, med = run(n, args, overlap)
            if (n, overlap) not in best or sps > best[(n, overlap)][0]:
                best[(n, overlap)] = (sps, ms, cpu)
            medians.setdefault((n, overlap), []).append(med)
    load1 = os.getloadavg()[0]
    one, one_ms, one_cpu = best[(1, "on")]
    one_med = min(medians[(1, "on")])
    print(f"# weak scaling, MLP {'-'.join(map(str, SIZES))}, batch {args.batch}/rank, float32, "
          f"SGD, 1 BLAS thread per rank, {os.cpu_count()} cores; best window of {args.steps} "
          f"steps over {args.trials} trials x {args.windows} windows (median window in "
          f"brackets); load average {load0:.2f} before, {load1:.2f} after")
    print(f"{'configuration':28s} {'samples/s':>10s} {'step ms':>16s} {'speedup':>8s} "
          f"{'efficiency':>10s} {'cpu ms/step':>12s} {'eff. by cpu':>11s}")
    for (n, overlap), (sps, ms, cpu) in best.items():
        label = ("1 rank" if n == 1 else f"{n} ranks, no communication" if overlap == "none"
                 else f"{n} ranks, DDP overlap={overlap}")
        med = min(medians[(n, overlap)])
        print(f"{label:28s} {sps:10.1f} {ms:7.2f} [{med:6.2f}] {sps / one:7.2f}x "
              f"{sps / (n * one):9.1%} [{one_med / med:5.1%}] {cpu:7.2f} {one_cpu / cpu:11.1%}")
    if load0 > 0.5:
        print(f"# note: the machine was busy (load {load0:.2f} before the run): with 2 ranks on "
              f"{os.cpu_count()} cores, other processes take cores from the ranks; the best "
              f"window is the least disturbed one.")


if __name__ == "__main__":
    main()
