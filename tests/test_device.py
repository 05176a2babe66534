"""The device model without a GPU: ``distgrad.device``, ``distgrad.cuda`` and the errors that
say what to install when CUDA is asked for on a machine without CuPy or a GPU."""
import sys

import numpy as np
import pytest

import distgrad as dg
import distgrad.nn  # noqa: F401
from distgrad import _backend


@pytest.fixture
def no_cupy(monkeypatch):
    """A machine without CuPy (whatever this one has)."""
    monkeypatch.setattr(_backend, "_cupy", None)
    monkeypatch.setattr(_backend, "_cupy_error", None)
    monkeypatch.setitem(sys.modules, "cupy", None)  # import cupy -> ImportError
    yield
    _backend._cupy_error = None


def test_device_parsing_and_equality():
    d = dg.device("cuda:1")
    assert (d.type, d.index) == ("cuda", 1) and str(d) == "cuda:1"
    assert repr(d) == "device(type='cuda', index=1)"
    assert dg.device("cuda", 2) == dg.device("cuda:2") and dg.device(d) == d
    assert dg.device("cpu") == "cpu" and str(dg.device("cpu")) == "cpu"
    assert dg.device("cpu").index is None and dg.device("cuda").index is None
    assert repr(dg.device("cpu")) == "device(type='cpu')"
    assert dg.device("cuda") == dg.device("cuda:0")  # no index: any GPU
    assert dg.device("cuda:0") != dg.device("cuda:1") and dg.device("cpu") != "cuda"
    assert len({dg.device("cuda:0"), dg.device("cuda", 0)}) == 1
    with pytest.raises(RuntimeError, match="Expected one of cpu, cuda"):
        dg.device("tpu")
    with pytest.raises(RuntimeError, match="Invalid device string"):
        dg.device("cuda:x")
    with pytest.raises(RuntimeError, match="must not be negative"):
        dg.device("cuda", -1)
    with pytest.raises(TypeError):
        dg.device(3.0)
    with pytest.raises(ValueError, match="twice"):
        dg.device("cuda:0", 1)


def test_cpu_tensors_report_cpu_and_moves_to_cpu_are_free():
    t = dg.ones(2, 3)
    assert t.device == dg.device("cpu") and not t.is_cuda
    assert t.cpu() is t and t.to("cpu") is t and t.to(dg.device("cpu")) is t
    assert t.to("cpu", copy=True) is not t
    for make in (dg.zeros, dg.ones, dg.empty, dg.rand, dg.randn):
        assert make(2, device="cpu").device.type == "cpu"
    assert dg.arange(3, device=dg.device("cpu")).device.type == "cpu"


def test_without_cupy_cuda_says_what_to_install(no_cupy):
    assert not dg.cuda.is_available() and dg.cuda.device_count() == 0
    for fn in (lambda: dg.zeros(2, device="cuda"), lambda: dg.ones(2).cuda(),
               lambda: dg.tensor([1.0], device="cuda:0"), lambda: dg.ones(2).to("cuda"),
               lambda: dg.randn(3, device="cuda"), lambda: dg.arange(3, device="cuda"),
               lambda: dg.cuda.set_device(0), lambda: dg.cuda.synchronize(),
               lambda: dg.cuda.current_device(), lambda: dg.nn.Linear(2, 2).to("cuda")):
        with pytest.raises(RuntimeError) as info:
            fn()
        msg = str(info.value)
        assert "distgrad[cuda12]" in msg and "distgrad[cuda13]" in msg and "CuPy" in msg
    dg.manual_seed(3)  # seeding works without CuPy
    dg.cuda.empty_cache()
    assert dg.cuda.memory_allocated() == 0
    assert dg.ones(2).device.type == "cpu"  # everything else works


def test_without_cupy_nccl_backend_explains(no_cupy):
    import distgrad.distributed as dist
    with pytest.raises(RuntimeError, match=r"nccl.*distgrad\[cuda12\]"):
        dist.init_process_group(backend="nccl")
    assert not dist.is_initialized()
    with pytest.raises(RuntimeError, match=r"distgrad\[cuda12\]"):
        dist.init_process_group(backend="single", device_id="cuda:0")
    assert not dist.is_initialized()
    dist.init_process_group(backend="single")  # no GPU: nothing selected, still works
    try:
        t = dg.ones(3)
        dist.all_reduce(t)
        assert t.tolist() == [1.0] * 3
    finally:
        dist.destroy_process_group()


def test_numpy_of_cpu_tensor_shares_memory():
    t = dg.zeros(3)
    t.numpy()[0] = 1.0
    assert t.tolist() == [1.0, 0.0, 0.0] and np.shares_memory(np.asarray(t), t.numpy())


def test_checkpoint_records_device_and_loads_on_cpu(tmp_path):
    path = tmp_path / "c.npz"
    dg.save({"w": dg.ones(2)}, path)
    assert dg.load(path, map_location="cpu")["w"].device.type == "cpu"
    assert dg.load(path, map_location=dg.device("cpu"))["w"].tolist() == [1.0, 1.0]
    seen = []
    dg.load(path, map_location=lambda t, loc: seen.append(loc) or t)
    assert seen == ["cpu"]
