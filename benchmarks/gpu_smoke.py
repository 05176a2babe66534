"""GPU smoke test: the GPU tests, a DDP step on ``cuda`` and the engine timing on a GPU.

Run on a machine with a GPU and CuPy (``pip install "distgrad[cuda12]"`` or ``[cuda13]``)::

    python benchmarks/gpu_smoke.py [--rounds N] [--skip-tests] [--json out.json]

It prints a short report: the GPU, ``tests/test_gpu.py`` (pytest), a DDP training step on
``cuda`` in a world of one and, when mpiexec is there, on 2 ranks (host-staged MPI, and NCCL
with 2 GPUs), and milliseconds per training step of the engine benchmark's workloads
(``benchmarks/engine.py``) on the CPU, on the GPU, and with PyTorch on the GPU when it has CUDA.
Without a GPU it says so and exits 0. The exit status is 1 when a check failed.
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(ROOT / "benchmarks"))

import distgrad as dg  # noqa: E402
from distgrad import _backend  # noqa: E402


def gpu_status():
    """(True, description) with a GPU, else (False, why not)."""
    try:
        cp = _backend.cupy_module()
    except RuntimeError as exc:
        return False, str(exc)
    n = dg.cuda.device_count()
    try:
        runtime = cp.cuda.runtime.runtimeGetVersion()
        cuda = f"CUDA runtime {runtime // 1000}.{runtime % 1000 // 10}"
    except Exception:  # pragma: no cover - informational only
        cuda = "CUDA runtime ?"
    names = ", ".join(dg.cuda.get_device_name(i) for i in range(n))
    return True, f"{n} GPU(s): {names} (CuPy {cp.__version__}, {cuda})"


def run_gpu_tests():
    """pytest tests/test_gpu.py; returns (ok, summary line, seconds)."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "pytest", "tests/test_gpu.py", "-q", "-rs",
                           "-p", "no:cacheprovider"], cwd=ROOT, capture_output=True, text=True)
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    summary = lines[-1].strip("= ") if lines else "(no output)"
    if proc.returncode != 0:
        print(proc.stdout[-6000:], proc.stderr[-3000:], sep="\n")
    return proc.returncode == 0, summary, time.perf_counter() - start


def ddp_step_world_of_one():
    """Two DDP training steps on cuda in a world of one; returns the losses."""
    import distgrad.distributed as dist
    import distgrad.nn.functional as F
    from distgrad import nn, optim
    from distgrad.nn.parallel import DistributedDataParallel as DDP

    dist.init_process_group()
    try:
        dg.manual_seed(0)
        model = DDP(nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10)).to("cuda"))
        opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        x, y = dg.randn(32, 64, device="cuda"), dg.randint(0, 10, (32,), device="cuda")
        losses = []
        for _ in range(2):
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        assert all(p.grad.is_cuda for p in model.parameters())
        return losses, dist.get_backend()
    finally:
        dist.destroy_process_group()


# one all-reduce and a DDP step on 2 GPUs (the job tests/test_gpu.py runs too)
GPU_DDP_JOB = ROOT / "tests" / "distributed" / "jobs" / "gpu_ddp.py"


def ddp_two_ranks(backend):
    """A DDP step on 2 ranks with mpiexec; returns (status, detail)."""
    sys.path.insert(0, str(ROOT / "tests"))
    try:
        from mpi_helpers import run_mpi
    except Exception as exc:  # pragma: no cover
        return "skipped", f"tests/mpi_helpers: {exc}"
    if shutil.which("mpiexec") is None:
        return "skipped", "no mpiexec"
    try:
        res = run_mpi(2, GPU_DDP_JOB, backend, timeout=240)
    except BaseException as exc:  # MPITimeout or pytest.skip (Skipped is a BaseException)
        return "FAILED", f"{type(exc).__name__}: {str(exc)[-500:]}"
    ok = res.returncode == 0 and res.output.count("OK rank") == 2
    detail = "; ".join(ln for ln in res.output.splitlines() if ln.startswith("OK rank"))
    return ("ok" if ok else "FAILED"), (detail if ok else res.output[-2000:])


def _ms(seconds):
    return f"{seconds * 1e3:8.3f}"


def engine_on_gpu(rounds):
    """ms per training step (SGD, cross entropy) of the engine benchmark's workloads."""
    import engine  # benchmarks/engine.py
    import distgrad.nn.functional as F
    from distgrad import optim

    def distgrad_step(model, device):
        model.to(device)
        opt = optim.SGD(model.parameters(), lr=engine.LR)
        sync = dg.cuda.synchronize if device == "cuda" else (lambda: None)

        def step(x, y):
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()
            sync()
        return step

    rows = []
    specs = [("mlp-digits", "mlp", [64, 256, 256, 10], 64),
             ("mlp-wide", "mlp", [784, 1024, 1024, 10], 128), ("cnn-digits", "cnn", None, 64)]
    for name, kind, sizes, batch in specs:
        shape = (sizes[0],) if kind == "mlp" else (1, 8, 8)
        xs, ys = engine._batches(shape, 10, batch)
        row = {"workload": name}
        for device in ("cpu", "cuda"):
            weights = engine.mlp_weights(sizes) if kind == "mlp" else engine.cnn_weights()
            model = (engine.distgrad_mlp(sizes, weights) if kind == "mlp"
                     else engine.distgrad_cnn(weights))
            data = [(dg.tensor(x, device=device), dg.tensor(y, device=device))
                    for x, y in zip(xs, ys)]
            step = distgrad_step(model, device)
            row[f"distgrad-{device}"] = statistics.median(
                engine.measure("distgrad", step, data) for _ in range(rounds))
        row["torch-cuda"] = _torch_cuda(kind, sizes, xs, ys, rounds)
        rows.append(row)
    return rows


def _torch_cuda(kind, sizes, xs, ys, rounds):
    try:
        import torch
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return None
    import engine
    model = engine.torch_network(kind, sizes).cuda()
    opt = torch.optim.SGD(model.parameters(), lr=engine.LR)
    data = [(torch.from_numpy(x).cuda(), torch.from_numpy(y).cuda()) for x, y in zip(xs, ys)]

    def step(x, y):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
        torch.cuda.synchronize()
    return statistics.median(engine.measure("torch-cuda", step, data) for _ in range(rounds))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-tests", action="store_true", help="leave out tests/test_gpu.py")
    parser.add_argument("--json", help="also write the report to this JSON file")
    args = parser.parse_args(argv)

    print("distgrad GPU smoke test")
    present, detail = gpu_status()
    if not present:
        print(f"  no GPU present: {detail}")
        print("  nothing to run (the device-generic path is tested on the CPU by "
              "tests/test_fake_gpu.py)")
        return 0
    print(f"  {detail}")
    report = {"gpu": detail}
    failed = False

    if not args.skip_tests:
        ok, summary, secs = run_gpu_tests()
        failed |= not ok
        report["tests"] = {"ok": ok, "summary": summary, "seconds": round(secs, 1)}
        print(f"  tests/test_gpu.py: {'ok' if ok else 'FAILED'} ({summary})")

    try:
        losses, backend = ddp_step_world_of_one()
        report["ddp_world_of_one"] = {"ok": True, "losses": losses, "backend": backend}
        print(f"  DDP on cuda, world of one ({backend}): ok, losses "
              + ", ".join(f"{v:.4f}" for v in losses))
    except Exception as exc:
        failed = True
        report["ddp_world_of_one"] = {"ok": False, "error": repr(exc)}
        print(f"  DDP on cuda, world of one: FAILED {exc!r}")

    backends = ["mpi"] + (["nccl"] if dg.cuda.device_count() >= 2 else [])
    for backend in backends:
        status, info = ddp_two_ranks(backend)
        failed |= status == "FAILED"
        report[f"ddp_2_ranks_{backend}"] = {"status": status, "detail": info}
        print(f"  DDP on cuda, 2 ranks, backend {backend}: {status} ({info[:300]})")
    if len(backends) == 1:
        print("  DDP with NCCL on 2 ranks: skipped (needs 2 GPUs)")

    try:
        rows = engine_on_gpu(args.rounds)
        report["engine_ms_per_step"] = [{k: (v * 1e3 if isinstance(v, float) else v)
                                         for k, v in r.items()} for r in rows]
        print("  engine, ms per training step (SGD):")
        print(f"    {'workload':12s} {'cpu':>8s} {'cuda':>8s} {'torch-cuda':>10s}")
        for r in rows:
            torch_ms = _ms(r["torch-cuda"]) if r["torch-cuda"] is not None else "       -"
            print(f"    {r['workload']:12s} {_ms(r['distgrad-cpu'])} {_ms(r['distgrad-cuda'])} "
                  f"  {torch_ms}")
    except Exception as exc:
        failed = True
        report["engine"] = {"error": repr(exc)}
        print(f"  engine benchmark on the GPU: FAILED {exc!r}")

    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    print("  result:", "FAILED" if failed else "ok")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
