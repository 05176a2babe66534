"""The same device-generic tests as ``test_fake_gpu.py``, on a real GPU with CuPy.

Marked ``gpu``; skipped (with the reason) where CuPy or a GPU is missing. ``benchmarks/
gpu_smoke.py`` runs them together with a DDP step and the engine timing on a GPU machine.
Tolerances are looser than on the fake: GPU kernels round differently from NumPy.
"""
from pathlib import Path

import numpy as np
import pytest

import distgrad as dg
import distgrad.nn.functional as F
import distgrad.optim  # noqa: F401
from distgrad import _backend

pytestmark = pytest.mark.gpu


def _gpu_reason():
    try:
        import cupy  # noqa: F401
    except ImportError as exc:
        return f"CuPy is not installed ({exc}); pip install 'distgrad[cuda12]' or '[cuda13]'"
    if not dg.cuda.is_available():
        try:
            _backend.cupy_module()
        except RuntimeError as exc:
            return str(exc)
    return None


REASON = _gpu_reason()
if REASON is not None:
    pytest.skip(f"no GPU: {REASON}", allow_module_level=True)

import cupy  # noqa: E402

from test_fake_gpu import (CASES, MIXED, OPTIMIZERS, R,  # noqa: E402
                           _assert_same_model, _digits_cnn, _is_dev, _mlp, _train, check, rng)

RTOL, ATOL = 2e-4, 2e-5


@pytest.fixture(autouse=True)
def _current_gpu():
    dg.cuda.set_device(0)
    yield
    dg.cuda.set_device(0)


def test_cuda_api_and_creation():
    assert dg.cuda.is_available() and dg.cuda.device_count() >= 1
    assert dg.cuda.current_device() == 0 and dg.cuda.get_device_name(0)
    t = dg.randn(3, 4, device="cuda")
    assert isinstance(t._data, cupy.ndarray) and t.device == dg.device("cuda:0")
    assert t.cpu().device.type == "cpu" and t.cpu().cuda().device.index == 0
    dg.manual_seed(0)
    a = dg.randn(5)
    dg.manual_seed(0)
    np.testing.assert_array_equal(dg.randn(5, device="cuda").cpu().numpy(), a.numpy())
    dg.cuda.synchronize()
    with pytest.raises(TypeError, match=r"Tensor\.cpu\(\)"):
        t.numpy()
    with pytest.raises(TypeError, match="Implicit conversion"):
        np.asarray(t._data)


@pytest.mark.parametrize("name,fn,arrays", CASES, ids=[c[0] for c in CASES])
def test_op_on_gpu_equals_cpu(name, fn, arrays):
    check(fn, *arrays, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("name", sorted(k for k in MIXED if not k.startswith("two_gpus")))
def test_mixed_devices_raise(name):
    with pytest.raises(RuntimeError, match=r"cuda:0 and cpu|cpu and cuda:0|indices should be"):
        MIXED[name]()


@pytest.mark.skipif(dg.cuda.device_count() < 2, reason="needs 2 GPUs")
def test_two_gpus():
    a = dg.ones(3, device="cuda:1")
    assert a.device.index == 1 and a.to("cuda:0").device.index == 0
    dg.cuda.set_device(1)
    assert (a * 2).device.index == 1


@pytest.mark.parametrize("opt", ["sgd", "adam"])
@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_training_on_gpu_equals_cpu(model, opt):
    make = _mlp if model == "mlp" else _digits_cnn
    x = R(16, 8) if model == "mlp" else R(8, 1, 8, 8)
    y = rng.integers(0, 4 if model == "mlp" else 10, len(x))
    cpu_model, cpu_losses = _train(make, OPTIMIZERS[opt], x, y, "cpu")
    gpu_model, gpu_losses = _train(make, OPTIMIZERS[opt], x, y, "cuda")
    np.testing.assert_allclose(gpu_losses, cpu_losses, rtol=1e-4)
    _assert_same_model(cpu_model, gpu_model, rtol=1e-3, atol=1e-4)


def test_checkpoint_from_gpu_loads_on_cpu(tmp_path):
    model = _mlp().to("cuda")
    dg.save(model.state_dict(), tmp_path / "m.npz")
    state = dg.load(tmp_path / "m.npz", map_location="cpu")
    assert all(t.device.type == "cpu" for t in state.values())
    back = dg.load(tmp_path / "m.npz", map_location="cuda")
    assert all(_is_dev(t) for t in back.values())


def test_collectives_and_staging_on_gpu(monkeypatch):
    import distgrad.distributed as dist
    from distgrad.distributed import staging
    arr = cupy.arange(6, dtype=cupy.float32)
    buf = staging._to_host(arr)
    assert type(buf) is np.ndarray and buf.tolist() == arr.tolist()
    buf *= 2
    staging._from_host(arr, buf)
    assert arr.tolist() == [0, 2, 4, 6, 8, 10]
    for backend in ("single", "nccl"):
        if backend == "nccl":
            from distgrad.distributed.backends import nccl
            if not nccl.is_available():
                continue
        dist.init_process_group(backend=backend)
        try:
            t = dg.arange(4, dtype=dg.float32, device="cuda")
            dist.all_reduce(t)
            dist.all_reduce(t, op=dist.ReduceOp.AVG)
            dist.broadcast(t, 0)
            assert _is_dev(t) and t.tolist() == [0.0, 1.0, 2.0, 3.0]
        finally:
            dist.destroy_process_group()


def test_ddp_step_on_gpu():
    import distgrad.distributed as dist
    from distgrad.nn.parallel import DistributedDataParallel as DDP
    dist.init_process_group()
    try:
        dg.manual_seed(0)
        model = DDP(_mlp().to("cuda"))
        opt = dg.optim.SGD(model.parameters(), lr=0.1)
        x, y = dg.randn(8, 8, device="cuda"), dg.randint(0, 4, (8,), device="cuda")
        for _ in range(2):
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()
        assert all(_is_dev(p.grad) for p in model.parameters())
    finally:
        dist.destroy_process_group()


GPU_DDP_JOB = Path(__file__).resolve().parent / "distributed" / "jobs" / "gpu_ddp.py"


@pytest.mark.mpi
@pytest.mark.parametrize("backend", ["mpi", "nccl"])
def test_two_ranks_on_gpus(backend):
    from mpi_helpers import assert_ok_lines, run_mpi
    if backend == "nccl" and dg.cuda.device_count() < 2:
        pytest.skip("NCCL needs one GPU per rank (2 GPUs)")
    res = run_mpi(2, GPU_DDP_JOB, backend, timeout=180, env={"DISTGRAD_NCCL": "0"}
                  if backend == "mpi" else None)
    assert_ok_lines(res, 2)


@pytest.mark.mpi
def test_two_ranks_point_to_point_on_one_gpu():
    """The automatic backend (NCCL where CuPy has it) sends GPU tensors point to point and
    all-to-all through host memory, so two ranks may share one GPU for them."""
    from mpi_helpers import assert_ok_lines, run_mpi
    assert_ok_lines(run_mpi(2, GPU_DDP_JOB, "", "p2p-only", timeout=180), 2)


def test_gpu_memory_is_released():
    if cupy.__version__.endswith("-fake"):  # a dry run on distgrad.testing.fake_cupy
        pytest.skip("the fake CuPy has no memory pool")
    before = dg.cuda.memory_allocated()
    x = dg.randn(1024, 1024, device="cuda")
    assert dg.cuda.memory_allocated() >= before + x.numel() * 4
    del x
    dg.cuda.empty_cache()
    assert dg.cuda.memory_allocated() <= before + 4096
