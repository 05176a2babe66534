"""Instructions per training step, counted by valgrind's callgrind: engine overhead free of noise.

Wall-clock ratios on a shared VM move with the host's load (engine.py interleaves the systems
for that reason, and its figures still drift between runs); instruction counts do not: repeated
runs agree within about 0.5%. Each (workload, system) runs in a fresh process under callgrind
twice, with a short and a long loop of steps, and the difference divided by the extra steps is
the count per step, free of imports and setup. BLAS runs on one thread (a second, spinning
thread would count its waiting). Instructions are not time: the Python interpreter retires far
fewer of them per cycle than BLAS kernels, so an overhead costs more time than its share of
instructions suggests; but a change that removes instructions removes work.

Workloads: mlp-digits (as in engine.py) and overhead (the same MLP shrunk to 4-4-4-4, batch 2:
NumPy's arithmetic is almost nil, what is left is the fixed cost per step).
Run: python benchmarks/instructions.py [--torch] (needs valgrind: apt-get install valgrind;
PyTorch takes minutes to import under callgrind, hence opt-in).
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

WORKLOADS = {  # name: (MLP sizes, batch, short loop, long loop)
    "overhead": ([4, 4, 4, 4], 2, 100, 1100),
    "mlp-digits": ([64, 256, 256, 10], 64, 20, 120),
}
WARMUP = 20


def _step(system, sizes, batch):
    """The training step of ``system`` on the workload, and its batches (engine.py's code)."""
    if system != "torch-1t":
        sys.modules["torch"] = None  # engine.py then leaves PyTorch out: no import cost
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import engine

    xs, ys = engine._batches((sizes[0],), sizes[-1], batch)
    weights = engine.mlp_weights(sizes)
    if system == "numpy":
        step = engine.numpy_mlp_step(weights)
    elif system == "distgrad":
        step = engine.distgrad_step(engine.distgrad_mlp(sizes, weights))
    else:
        engine.torch.set_num_threads(1)
        step = engine.torch_model("mlp", sizes, weights)
    return step, list(zip(xs, ys))


def _child(workload, system, steps):
    sizes, batch = WORKLOADS[workload][:2]
    step, batches = _step(system, sizes, batch)
    for i in range(WARMUP + steps):
        step(*batches[i % len(batches)])


def _count(workload, system, steps):
    """Instructions executed by a child process that runs ``steps`` steps after the warm-up."""
    env = dict(os.environ, PYTHONHASHSEED="0", OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
               MKL_NUM_THREADS="1")
    cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable,
           __file__, "--child", workload, system, str(steps)]
    res = subprocess.run(cmd, capture_output=True, text=True, env=env)
    found = re.search(r"Collected : (\d+)", res.stderr)
    if res.returncode or not found:
        raise RuntimeError(f"{workload}/{system} failed under callgrind:\n{res.stderr[-2000:]}")
    return int(found.group(1))


def per_step(workload, system, pool):
    """Instructions per step: (long loop - short loop) / the extra steps."""
    short, long = WORKLOADS[workload][2:]
    a, b = pool.map(lambda n: _count(workload, system, n), (short, long))
    return (b - a) / (long - short)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--torch", action="store_true", help="also count PyTorch (1 thread)")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        workload, system, steps = args.child
        return _child(workload, system, int(steps))
    if shutil.which("valgrind") is None:
        sys.exit("instructions.py needs valgrind (Debian: apt-get install valgrind)")
    systems = ["numpy", "distgrad"] + (["torch-1t"] if args.torch else [])
    import numpy as np
    print(f"instructions per training step (callgrind, 1 BLAS thread; numpy {np.__version__})")
    with ThreadPoolExecutor(2) as pool:
        for workload in WORKLOADS:
            counts = {s: per_step(workload, s, pool) for s in systems}
            cells = "  ".join(f"{s} {c / 1e6:.3f} M" for s, c in counts.items())
            extra = counts["distgrad"] - counts["numpy"]
            ratios = ", ".join(f"distgrad/{s} {counts['distgrad'] / counts[s]:.2f}x"
                               for s in systems if s != "distgrad")
            print(f"{workload:11s} {cells}   ({ratios}; distgrad - numpy {extra / 1e6:+.3f} M)")


if __name__ == "__main__":
    main()
