"""What a tensor or parameter carries through copies and checkpoints: class, requires_grad,
.grad and extra attributes (copy.copy, copy.deepcopy, distgrad.save/load)."""
import copy
import io
import json
import zipfile

import numpy as np
import pytest

import distgrad as dg
from distgrad import checkpoint, nn


def torch_or_skip():
    return pytest.importorskip("torch")


# -- copy.deepcopy / copy.copy ------------------------------------------------------------------
@pytest.mark.parametrize("make", [lambda m: m.randn(2, requires_grad=True),
                                  lambda m: m.nn.Parameter(m.randn(2))],
                         ids=["tensor", "parameter"])
def test_deepcopy_copies_data_grad_and_extra_attributes(make):
    t = make(dg)
    t.grad = dg.ones(2)
    t.tag = {"lr_scale": [1.0]}
    c = copy.deepcopy(t)
    assert type(c) is type(t) and c.is_leaf and c.requires_grad
    assert c.data_ptr() != t.data_ptr() and np.array_equal(c.numpy(force=True), t.numpy(force=True))
    assert c.grad is not t.grad and c.grad.tolist() == [1.0, 1.0]
    assert c.tag == t.tag and c.tag is not t.tag and c.tag["lr_scale"] is not t.tag["lr_scale"]


def test_deepcopy_of_a_tensor_with_extra_attributes_matches_pytorch():
    torch = torch_or_skip()
    for lib in (dg, torch):
        t = lib.randn(2, requires_grad=True)
        t.grad = lib.ones(2)
        t.tag = [1]
        c = copy.deepcopy(t)
        assert (c.tag, c.tag is t.tag, c.grad is t.grad, c.requires_grad) == ([1], False, False, True)


def test_deepcopy_keeps_sharing_within_one_call():
    p = nn.Parameter(dg.zeros(2))
    p.grad = dg.ones(2)
    p.me = p
    a, b, g = copy.deepcopy([p, p, p.grad])
    assert a is b and a.me is a and a.grad is g


def test_deepcopy_of_a_parameter_keeps_requires_grad_false_and_subclass_attributes():
    p = nn.Parameter(dg.zeros(2), requires_grad=False)
    assert not copy.deepcopy(p).requires_grad
    b = nn.Buffer(dg.zeros(2), persistent=False)
    c = copy.deepcopy(b)
    assert type(c) is nn.Buffer and c.persistent is False and c.data_ptr() != b.data_ptr()


def test_deepcopy_of_a_non_leaf_raises_pytorchs_error():
    y = dg.ones(2, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match=r"Only Tensors created explicitly by the user \(graph "
                                           r"leaves\) support the deepcopy protocol.*weight_norm"):
        copy.deepcopy(y)


def test_deepcopy_drops_graph_state_and_gradient_storage():
    lin = nn.Linear(2, 2)
    lin.weight.register_hook(lambda g: g)
    lin.weight._grad_dest = dg.zeros(2, 2)
    c = copy.deepcopy(lin.weight)
    assert c._hooks is None and c._grad_dest is None and c._version == 0


def test_deepcopy_of_an_inference_tensor_outside_inference_mode_is_a_normal_tensor():
    with dg.inference_mode():
        t = dg.ones(2)
    assert not copy.deepcopy(t).is_inference() and not copy.copy(t).is_inference()
    with dg.inference_mode():
        assert copy.deepcopy(t).is_inference()


def test_copy_shares_storage_and_extra_attributes():
    p = nn.Parameter(dg.zeros(2))
    p.grad = dg.ones(2)
    p.tag = [1]
    c = copy.copy(p)
    assert type(c) is nn.Parameter and c.requires_grad and c.grad is None
    assert c.data_ptr() == p.data_ptr() and c.tag is p.tag


def test_deepcopy_of_a_module_copies_parameter_attributes():
    lin = nn.Linear(2, 2)
    lin.weight.sequence_parallel = True
    c = copy.deepcopy(lin)
    assert c.weight is not lin.weight and c.weight.sequence_parallel is True
    assert isinstance(c.weight, nn.Parameter) and c.weight.requires_grad


# -- distgrad.save / distgrad.load ---------------------------------------------------------------
def roundtrip(lib, obj, **kw):
    buffer = io.BytesIO()
    lib.save(obj, buffer)
    buffer.seek(0)
    return lib.load(buffer, **kw)


def kinds(obj):
    """The class name and requires_grad of each tensor in a nested structure, in order."""
    if isinstance(obj, dict):
        return {k: kinds(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [kinds(v) for v in obj]
    return type(obj).__name__, obj.requires_grad


def saved_objects(lib):
    """Structures holding parameters, plain tensors and buffers, built with ``lib``."""
    lin = lib.nn.Linear(2, 2)
    p = lib.nn.Parameter(lib.ones(2))
    frozen = lib.nn.Parameter(lib.ones(2), requires_grad=False)
    return {"alone": p, "frozen": frozen, "nested": [p, {"p": frozen, "t": lib.ones(1)}],
            "parameters": list(lin.parameters()), "named": dict(lin.named_parameters()),
            "state_dict": lin.state_dict(), "buffer": lib.nn.Buffer(lib.ones(1)),
            "leaf": lib.ones(1, requires_grad=True)}


@pytest.mark.parametrize("weights_only", [True, False, None])
def test_parameters_load_back_as_parameters_like_pytorch(weights_only):
    torch = torch_or_skip()
    expected = kinds(roundtrip(torch, saved_objects(torch), weights_only=bool(weights_only)))
    loaded = roundtrip(dg, saved_objects(dg), weights_only=weights_only)
    assert kinds(loaded) == expected


def test_loaded_parameters_are_leaves_that_work_in_modules(tmp_path):
    lin = nn.Linear(3, 2)
    dg.save({"params": dict(lin.named_parameters())}, tmp_path / "p.pt")
    params = dg.load(tmp_path / "p.pt")["params"]
    assert all(type(p) is nn.Parameter and p.is_leaf and p.requires_grad for p in params.values())
    np.testing.assert_array_equal(params["weight"].numpy(force=True), lin.weight.numpy(force=True))
    other = nn.Linear(3, 2)
    other.weight = params["weight"]  # registers as a parameter
    assert other.weight is params["weight"] and "weight" in dict(other.named_parameters())
    other(dg.ones(1, 3)).sum().backward()
    assert other.weight.grad.shape == (2, 3)


def test_a_parameter_saved_twice_loads_as_one_object_and_keeps_map_location(tmp_path):
    p = nn.Parameter(dg.ones(2))
    dg.save([p, {"again": p}], tmp_path / "p.pt")
    a, b = dg.load(tmp_path / "p.pt", map_location="cpu")
    assert a is b["again"] and type(a) is nn.Parameter
    seen = []
    c, _ = dg.load(tmp_path / "p.pt", map_location=lambda t, where: seen.append(where) or t * 2)
    assert type(c) is nn.Parameter and c.is_leaf and c.tolist() == [2.0, 2.0] and seen == ["cpu"]


def test_the_saved_metadata_names_only_the_parameter_class(tmp_path):
    dg.save([nn.Parameter(dg.ones(1)), dg.ones(1), nn.Buffer(dg.ones(1))], tmp_path / "p.pt")
    with zipfile.ZipFile(tmp_path / "p.pt") as archive:
        meta = json.loads(archive.read("distgrad.json"))
    assert meta["version"] == 1
    assert [node.get("class") for node in meta["object"]] == ["Parameter", None, None]


def write_checkpoint(path, root):
    with open(path, "wb") as f:
        checkpoint._write_archive(f, {"a0": np.ones(2, np.float32)}, json.dumps(
            {"format": "distgrad-checkpoint", "version": 1, "object": root}).encode())


def test_files_written_before_tensor_classes_existed_still_load(tmp_path):
    write_checkpoint(tmp_path / "old.pt", [{"$": "tensor", "key": "a0", "requires_grad": True,
                                            "device": "cpu"}])
    (t,) = dg.load(tmp_path / "old.pt")
    assert type(t) is dg.Tensor and t.is_leaf and t.requires_grad and t.tolist() == [1.0, 1.0]


@pytest.mark.parametrize("kind", ["Buffer", "distgrad.nn.Parameter", "os.system", ""])
def test_a_checkpoint_naming_any_other_class_is_refused(tmp_path, kind):
    write_checkpoint(tmp_path / "evil.pt", {"$": "tensor", "key": "a0", "requires_grad": False,
                                            "device": "cpu", "class": kind})
    with pytest.raises(checkpoint.CheckpointError, match="unknown tensor class"):
        dg.load(tmp_path / "evil.pt", weights_only=True)
