"""In-place ops on views made under no_grad or inference_mode: refused in grad mode when autograd
would record them, with PyTorch's errors; allowed otherwise."""
import pytest

import distgrad as dg

NO_GRAD = ("A view was created in no_grad mode and is being modified inplace with grad mode "
           "enabled. Given that this use case is ambiguous and error-prone, it is forbidden. You "
           "can clarify your code by moving both the view and the inplace either both inside the "
           "no_grad block (if you don't want the inplace to be tracked) or both outside (if you "
           "want the inplace to be tracked).")
INFERENCE = ("A view was created in inference mode and is being modified inplace in normal mode. "
             "Given that this use case is ambiguous and error-prone, it is forbidden. You can "
             "clarify your code by moving both the view and the inplace either both inside the "
             "inference_mode block (if you don't want the inplace to be tracked) or both outside "
             "(if you want the inplace to be tracked).")


def outcome(fn, lib):
    """The error message ``fn(lib)`` raises (the first sentence), or None."""
    try:
        fn(lib)
    except RuntimeError as exc:
        return str(exc).split(". ")[0]
    return None


def views_then_inplace(make_view, inplace, requires_grad=True, view_mode="no_grad"):
    """A scenario: a view of ``x * 2`` made in ``view_mode``, changed by ``inplace`` in grad mode."""
    def run(lib):
        x = lib.ones(3, 4, requires_grad=requires_grad)
        y = x * 2
        with lib.no_grad() if view_mode == "no_grad" else lib.inference_mode():
            v = make_view(y)
        inplace(v, lib)
    return run


VIEWS = {"select": lambda y: y[0], "slice": lambda y: y[1:], "row-slice": lambda y: y[0, 1:],
         "full-slices": lambda y: y[:, :], "ellipsis": lambda y: y[...], "none": lambda y: y[None],
         "view": lambda y: y.view(12), "reshape": lambda y: y.reshape(2, 6),
         "flatten": lambda y: y.flatten(), "permute": lambda y: y.permute(1, 0),
         "expand": lambda y: y[0].expand(2, 4), "diagonal": lambda y: y.diagonal(),
         "narrow": lambda y: y.narrow(1, 1, 2), "split": lambda y: y.split(1)[0],
         "unbind": lambda y: y.unbind(1)[2]}
INPLACE = {"add_": lambda v, lib: v.add_(1), "mul_": lambda v, lib: v.mul_(2),
           "zero_": lambda v, lib: v.zero_(), "fill_": lambda v, lib: v.fill_(3),
           "copy_": lambda v, lib: v.copy_(lib.zeros(v.shape)),
           "setitem-all": lambda v, lib: v.__setitem__(..., 5.0),
           "setitem-mask": lambda v, lib: v.__setitem__(v > 100, 5.0),
           "+=": lambda v, lib: v.__iadd__(1)}


@pytest.mark.parametrize("view", VIEWS)
@pytest.mark.parametrize("inplace", INPLACE)
def test_inplace_on_a_no_grad_view_of_a_tensor_that_requires_grad_raises(view, inplace):
    with pytest.raises(RuntimeError) as info:
        views_then_inplace(VIEWS[view], INPLACE[inplace])(dg)
    assert str(info.value) == NO_GRAD


@pytest.mark.parametrize("view", ["select", "slice", "view", "permute", "diagonal"])
def test_no_grad_views_match_pytorch(view):
    torch = pytest.importorskip("torch")
    for inplace in INPLACE.values():
        run = views_then_inplace(VIEWS[view], inplace)
        assert outcome(run, dg) == outcome(run, torch)


def test_the_refused_op_changes_nothing():
    x = dg.ones(2, 2, requires_grad=True)
    y = x * 2
    with dg.no_grad():
        v = y[0]
    with pytest.raises(RuntimeError, match="A view was created in no_grad mode"):
        v.add_(1)
    assert y.tolist() == [[2.0, 2.0], [2.0, 2.0]] and y._version == 0 and v.grad_fn is None


def test_a_leaf_view_gets_the_no_grad_error_first():
    x = dg.nn.Parameter(dg.ones(3))
    with dg.no_grad():
        v = x[:2]
    with pytest.raises(RuntimeError, match="^A view was created in no_grad mode"):
        v.mul_(2)


ALLOWED = {
    "in-place under no_grad": lambda lib: _in(lib, lambda v: _no_grad(lib, lambda: v.add_(1))),
    "base needs no grad": lambda lib: _in(lib, lambda v: v.add_(1), requires_grad=False),
    "view under enable_grad": lambda lib: _enable_grad_view(lib),
    "detach() view": lambda lib: (lib.ones(2, requires_grad=True) * 2).detach()[0].add_(1),
    ".data view": lambda lib: (lib.ones(2, requires_grad=True) * 2).data[0].add_(1),
    "base changed, not the view": lambda lib: _in(lib, lambda v: None, base_inplace=True),
    "inference view, base needs no grad": lambda lib: _in(lib, lambda v: v.add_(1), False,
                                                          mode="inference"),
    "inference view, in-place under no_grad": lambda lib: _in(
        lib, lambda v: _no_grad(lib, lambda: v.add_(1)), mode="inference"),
    "inference view, in-place in inference_mode": lambda lib: _in(
        lib, lambda v: _inference(lib, lambda: v.add_(1)), mode="inference"),
}
REFUSED = {
    "an argument requires grad": lambda lib: _in(lib, lambda v: v.add_(
        lib.ones(4, requires_grad=True)), requires_grad=False),
    "setitem of a value that requires grad": lambda lib: _in(lib, lambda v: v.__setitem__(
        0, lib.ones((), requires_grad=True)), requires_grad=False),
    "base requires grad since": lambda lib: _in(lib, lambda v: v.add_(1), requires_grad=False,
                                                later_requires_grad=True),
    "view of an inference view": lambda lib: _in(lib, lambda v: v[1:].add_(1), mode="inference"),
    "no_grad view of an inference view": lambda lib: _in(
        lib, lambda v: _no_grad(lib, lambda: v[1:]).add_(1), mode="inference"),
    "inference view of a no_grad view": lambda lib: _in(
        lib, lambda v: _inference(lib, lambda: v[1:]).add_(1)),
    "no_grad view of a view": lambda lib: _grad_view_then_no_grad_subview(lib),
    "view of a no_grad view, base needs no grad": lambda lib: _in(
        lib, lambda v: v[1:].add_(lib.ones(3, requires_grad=True)), requires_grad=False),
}


def _in(lib, act, requires_grad=True, mode="no_grad", base_inplace=False,
        later_requires_grad=False):
    x = lib.ones(3, 4, requires_grad=requires_grad)
    y = x * 2 if requires_grad else x
    with lib.no_grad() if mode == "no_grad" else lib.inference_mode():
        v = y[0]
    if later_requires_grad:
        y.requires_grad_()
    if base_inplace:
        y.add_(1)
    act(v)


def _no_grad(lib, fn):
    with lib.no_grad():
        return fn()


def _inference(lib, fn):
    with lib.inference_mode():
        return fn()


def _enable_grad_view(lib):
    y = lib.ones(3, requires_grad=True) * 2
    with lib.no_grad():
        with lib.enable_grad():
            v = y[1:]
    v.add_(1)


def _grad_view_then_no_grad_subview(lib):
    y = lib.ones(3, 4, requires_grad=True) * 2
    v = y[0]
    with lib.no_grad():
        w = v[1:]
    w.add_(1)


@pytest.mark.parametrize("case", ALLOWED)
def test_allowed_like_pytorch(case):
    assert outcome(ALLOWED[case], dg) is None
    torch = pytest.importorskip("torch")
    assert outcome(ALLOWED[case], torch) is None


@pytest.mark.parametrize("case", REFUSED)
def test_refused_like_pytorch(case):
    message = outcome(REFUSED[case], dg)
    assert message is not None and "modified inplace" in message
    torch = pytest.importorskip("torch")
    assert message == outcome(REFUSED[case], torch)


def test_inference_mode_view_of_a_normal_tensor_is_a_normal_tensor():
    x = dg.ones(3, requires_grad=True)
    with dg.inference_mode():
        v = x[:2]
        w = dg.ones(3)[:2]
    assert not v.is_inference() and w.is_inference()
    with pytest.raises(RuntimeError) as info:
        v.mul_(2)
    assert str(info.value) == INFERENCE
    (v * x[:2]).sum().backward()  # a normal tensor: it can be saved for backward
    assert x.grad.tolist() == [1.0, 1.0, 0.0]
    with pytest.raises(RuntimeError, match="Inplace update to inference tensor outside"):
        w.add_(1)


VIEW_OF_VIEW_KEYS = [0, -1, slice(1, None), slice(None), slice(0, 3), (0, slice(1, None)),
                     (slice(None), 0), (slice(None), slice(None)), (Ellipsis, 0), (0, Ellipsis),
                     (None, 0), (0, None), (slice(None), None), None, Ellipsis, (Ellipsis,),
                     (slice(0, 3),), (0, 1), [0, 1], (0, [1, 2]), ([0, 1], 0),
                     (slice(1, None), [1, 2])]


@pytest.mark.parametrize("key", VIEW_OF_VIEW_KEYS, ids=repr)
def test_views_of_no_grad_views_and_setitem_name_the_view_like_pytorch(key):
    torch = pytest.importorskip("torch")

    def view_of_view(lib):
        y = lib.ones(3, 4, requires_grad=True) * 2
        with lib.no_grad():
            v = y[:, :]
        v[key].add_(1)

    def setitem(lib):
        y = lib.ones(3, 4, requires_grad=True) * 2
        with lib.no_grad():
            v = y[:, :]
        v[key] = 5.0

    for scenario in (view_of_view, setitem):
        assert outcome(scenario, dg) == outcome(scenario, torch)


@pytest.mark.parametrize("make, name", [(lambda v: v.view(-1), "View"),
                                        (lambda v: v.expand(2, 3, 4), "Expand"),
                                        (lambda v: v.diagonal(), "Diagonal"),
                                        (lambda v: v.permute(1, 0), "Permute")])
def test_a_view_of_a_no_grad_view_names_its_op(make, name):
    y = dg.ones(3, 4, requires_grad=True) * 2
    with dg.no_grad():
        v = y[:, :]
    with pytest.raises(RuntimeError, match=f"^Output 0 of {name} is a view of a view which was "
                                           "created in no_grad mode and is being modified"):
        make(v).mul_(1)


def test_copies_of_a_no_grad_view_are_not_views():
    import copy
    with dg.no_grad():
        v = dg.ones(3)[:2]
    for c in (copy.copy(v), copy.deepcopy(v), v.clone(), v.detach()):
        c.add_(dg.ones(2, requires_grad=True))
