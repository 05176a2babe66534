"""distgrad.checkpoint: safe (no pickle), atomic save/load of tensors and nested state."""
import io
import json
import math
import zipfile
from collections import OrderedDict

import numpy as np
import pytest

import distgrad as dg
from distgrad import checkpoint
from distgrad.checkpoint import CheckpointError, load, save

DTYPES = [np.float16, np.float32, np.float64, np.int8, np.int16, np.int32, np.int64, np.uint8,
          np.uint16, np.uint32, np.uint64, np.bool_, np.complex64]


def roundtrip(obj, tmp_path, **kw):
    path = tmp_path / "ckpt.npz"
    save(obj, path)
    return load(path, **kw)


def test_tensor_dtypes_and_shapes(tmp_path):
    shapes = [(), (0,), (2, 0, 3), (3,), (2, 3, 4)]
    arrays = {f"{np.dtype(d).name}{s}": (np.arange(int(np.prod(s))) % 3).astype(d).reshape(s)
              for d in DTYPES for s in shapes}
    arrays["fortran"] = np.asfortranarray(np.arange(6.0).reshape(2, 3))
    arrays["strided"] = np.arange(10)[::3]
    out = roundtrip({"tensors": {k: dg.from_numpy(a) for k, a in arrays.items()}, "arrays": arrays},
                    tmp_path)
    for key, arr in arrays.items():
        t, a = out["tensors"][key], out["arrays"][key]
        assert isinstance(t, dg.Tensor) and not t.requires_grad
        assert t.dtype == arr.dtype and t.shape == arr.shape, key
        np.testing.assert_array_equal(t._data, arr)
        assert type(a) is np.ndarray and a.dtype == arr.dtype and a.shape == arr.shape
        np.testing.assert_array_equal(a, arr)


def test_requires_grad_and_shared_tensors(tmp_path):
    w = dg.tensor(np.random.rand(3, 2).astype(np.float32), requires_grad=True)
    out = roundtrip({"w": w, "tied": w, "frozen": w.detach()}, tmp_path)
    assert out["w"].requires_grad and out["w"].is_leaf and out["w"].grad_fn is None
    assert out["tied"] is out["w"]
    assert not out["frozen"].requires_grad
    np.testing.assert_array_equal(out["w"]._data, w._data)
    with zipfile.ZipFile(tmp_path / "ckpt.npz") as z:  # the tied tensor is stored once
        assert len([n for n in z.namelist() if n.endswith(".npy")]) == 2


def test_nested_structures_and_scalars(tmp_path):
    obj = {
        "model": OrderedDict([("z.weight", dg.ones(2, 2)), ("a.bias", dg.zeros(2))]),
        "epoch": 3, "step": 1200, "lr": 1e-3, "neg_zero": -0.0,
        "specials": [math.inf, -math.inf, math.nan], "flags": (True, False, None),
        "name": "run ✓", "empty": {}, "empty_list": [], "empty_tuple": (),
        7: {0: "int keys", "mixed": 1}, "nested": [(1, [2, (3,)])],
        "np_scalars": [np.float32(1.5), np.int64(7), np.bool_(True), np.float64(0.1)],
        "big": 2 ** 100, "rng": dg.get_rng_state(),
    }
    out = roundtrip(obj, tmp_path)
    assert isinstance(out["model"], OrderedDict) and list(out["model"]) == ["z.weight", "a.bias"]
    assert type(out["empty"]) is dict
    assert out["epoch"] == 3 and out["step"] == 1200 and out["lr"] == 1e-3
    assert math.copysign(1, out["neg_zero"]) == -1
    inf, ninf, nan = out["specials"]
    assert inf == math.inf and ninf == -math.inf and math.isnan(nan)
    assert out["flags"] == (True, False, None) and isinstance(out["flags"], tuple)
    assert out["name"] == "run ✓" and out["empty_list"] == [] and out["empty_tuple"] == ()
    assert out[7] == {0: "int keys", "mixed": 1} and 0 in out[7]
    assert out["nested"] == [(1, [2, (3,)])]
    for a, b in zip(out["np_scalars"], obj["np_scalars"]):
        assert type(a) is type(b) and a == b
    assert out["big"] == 2 ** 100
    assert list(out) == list(obj)  # key order kept
    dg.set_rng_state(out["rng"])  # the RNG state restores the stream
    x = dg.rand(3)
    dg.set_rng_state(obj["rng"])
    np.testing.assert_array_equal(x._data, dg.rand(3)._data)


def test_optimizer_like_state_dict(tmp_path):
    state = {"state": {0: {"step": dg.tensor(10.0), "exp_avg": dg.randn(3, 2),
                           "exp_avg_sq": dg.rand(3, 2)},
                       1: {"step": dg.tensor(10.0), "momentum_buffer": None}},
             "param_groups": [{"lr": 0.01, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0,
                               "amsgrad": False, "params": [0, 1]}]}
    out = roundtrip(state, tmp_path)
    assert set(out["state"]) == {0, 1}
    np.testing.assert_array_equal(out["state"][0]["exp_avg"]._data, state["state"][0]["exp_avg"]._data)
    assert out["state"][1]["momentum_buffer"] is None
    assert out["param_groups"] == state["param_groups"]
    assert out["param_groups"][0]["betas"] == (0.9, 0.999)


def test_unsupported_objects(tmp_path):
    with pytest.raises(TypeError, match=r"obj\['bad'\]"):
        save({"bad": object()}, tmp_path / "x.npz")
    with pytest.raises(TypeError, match="object"):
        save(np.array([1, "a"], dtype=object), tmp_path / "x.npz")
    with pytest.raises(TypeError, match="keys"):
        save({(1, 2): 3}, tmp_path / "x.npz")
    cyclic = []
    cyclic.append(cyclic)
    with pytest.raises(ValueError, match="cycle"):
        save(cyclic, tmp_path / "x.npz")
    assert not list(tmp_path.iterdir())  # nothing written


def test_map_location(tmp_path):
    path = tmp_path / "c.npz"
    save({"w": dg.ones(2, requires_grad=True)}, path)
    assert load(path, map_location="cpu")["w"].device == "cpu"
    assert load(path, map_location=dg.device("cpu"))["w"].requires_grad
    seen = []

    def mover(t, location):
        seen.append(location)
        return t * 2
    out = load(path, map_location=mover)
    assert seen == ["cpu"] and out["w"].tolist() == [2.0, 2.0] and out["w"].requires_grad


def test_file_is_npz_with_json_metadata(tmp_path):
    path = tmp_path / "c.npz"
    save({"x": dg.ones(2), "n": 1}, path)
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(z["distgrad.json"])
    assert meta["format"] == "distgrad-checkpoint" and meta["version"] == 1
    first = path.read_bytes()
    save({"x": dg.ones(2), "n": 1}, path)
    assert path.read_bytes() == first  # deterministic bytes


def _craft(path, meta, arrays):
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("distgrad.json", json.dumps(meta))
        for name, arr in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, arr, allow_pickle=True)
            z.writestr(name + ".npy", buf.getvalue())


def test_refuses_pickled_object_arrays(tmp_path):
    path = tmp_path / "evil.npz"
    meta = {"format": "distgrad-checkpoint", "version": 1, "object": {"$": "ndarray", "key": "a0"}}
    _craft(path, meta, {"a0": np.array([{"x": 1}], dtype=object)})
    with pytest.raises(CheckpointError, match="allow_pickle"):
        load(path)


def test_atomic_write_keeps_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    save({"step": 1, "w": dg.ones(100)}, path)
    before = path.read_bytes()

    def crash(f, arrays, meta):
        f.write(b"PK\x03\x04 partial data")
        raise KeyboardInterrupt("simulated crash mid-write")
    monkeypatch.setattr(checkpoint, "_write_archive", crash)
    with pytest.raises(KeyboardInterrupt):
        save({"step": 2, "w": dg.zeros(100)}, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.npz"]  # no temp file left
    monkeypatch.undo()
    assert load(path)["step"] == 1


def test_truncated_file(tmp_path):
    path = tmp_path / "ckpt.npz"
    save({"w": dg.ones(1000)}, path)
    data = path.read_bytes()
    for cut in (len(data) // 2, len(data) - 10, 2):
        path.write_bytes(data[:cut])
        with pytest.raises(CheckpointError, match=r"ckpt\.npz.*truncated or corrupted"):
            load(path)
    path.write_bytes(b"")
    with pytest.raises(CheckpointError, match="truncated or corrupted"):
        load(path)


def test_foreign_files(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello world")
    with pytest.raises(CheckpointError, match=r"notes\.txt: not a distgrad checkpoint"):
        load(text)
    plain = tmp_path / "plain.npz"
    np.savez(plain, x=np.ones(2))
    with pytest.raises(CheckpointError, match="not a distgrad checkpoint"):
        load(plain)
    other = tmp_path / "other.npz"
    _craft(other, {"format": "something-else"}, {})
    with pytest.raises(CheckpointError, match="not a distgrad checkpoint"):
        load(other)
    newer = tmp_path / "newer.npz"
    _craft(newer, {"format": "distgrad-checkpoint", "version": 99, "object": 1}, {})
    with pytest.raises(CheckpointError, match="newer"):
        load(newer)
    bad = tmp_path / "bad.npz"
    _craft(bad, {"format": "distgrad-checkpoint", "version": 1, "object": {"$": "code"}}, {})
    with pytest.raises(CheckpointError, match="unknown type tag"):
        load(bad)
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "missing.npz")


@pytest.mark.gpu
def test_gpu_tensor_saved_via_host(tmp_path):
    cp = pytest.importorskip("cupy")
    if cp.cuda.runtime.getDeviceCount() == 0:
        pytest.skip("no GPU")
    t = dg.tensor([1.0, 2.0], device="cuda")
    path = tmp_path / "g.npz"
    save({"t": t}, path)
    assert load(path)["t"].device == "cpu"
    assert load(path, map_location="cuda")["t"].device == "cuda"
