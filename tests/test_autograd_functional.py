"""distgrad.autograd.functional (vjp, jvp, jacobian, hessian, vhp, hvp): results against finite
differences (float64) and PyTorch's torch.autograd.functional on the same inputs, structures of
the results, strict mode, create_graph, and the argument errors."""
import numpy as np
import pytest

import distgrad as dg
from distgrad.autograd import functional as AF

RNG = np.random.default_rng(0)
A = RNG.standard_normal((3, 4))
X = RNG.standard_normal(4)
Y = RNG.standard_normal((2, 3))
V_OUT = RNG.standard_normal(3)
V_IN = RNG.standard_normal(4)


def f_single(lib):
    a = lib.tensor(A)
    return lambda x: (a @ x).tanh() * x[:3]


def f_pair(lib):
    return lambda x, y: ((x[:3] * y).sum(0).exp(), (y ** 2).sum() * x.sin().sum())


def f_scalar(lib):
    a = lib.tensor(A)
    return lambda x, y: ((a @ x).sin() * y[0]).sum() + (x ** 3).sum() * y.sum()


def _numpy(r):
    if isinstance(r, tuple):
        return tuple(_numpy(t) for t in r)
    return r.detach().numpy()


def _both(fn_name, make, args, **kwargs):
    torch = pytest.importorskip("torch")
    out = []
    for lib, mod in ((dg, AF), (torch, torch.autograd.functional)):
        conv = {k: (tuple(lib.tensor(x) for x in v) if isinstance(v, tuple) else lib.tensor(v))
                for k, v in kwargs.items()}
        inputs = tuple(lib.tensor(a) for a in args) if isinstance(args, tuple) else lib.tensor(args)
        out.append(_numpy(getattr(mod, fn_name)(make(lib), inputs, **conv)))
    return out


def _assert_same(a, b):
    if isinstance(a, tuple):
        assert isinstance(b, tuple) and len(a) == len(b)
        for x, y in zip(a, b):
            _assert_same(x, y)
        return
    assert a.shape == b.shape
    np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("fn_name, make, args, kwargs", [
    ("jacobian", f_single, X, {}),
    ("jacobian", f_pair, (X, Y), {}),
    ("vjp", f_single, X, {"v": V_OUT}),
    ("vjp", f_pair, (X, Y), {"v": (RNG.standard_normal(3), np.array(0.7))}),
    ("jvp", f_single, X, {"v": V_IN}),
    ("jvp", f_pair, (X, Y), {"v": (V_IN, RNG.standard_normal((2, 3)))}),
    ("hessian", f_scalar, (X, Y), {}),
    ("hessian", lambda lib: (lambda x: (x.sin() * x).sum()), X, {}),
    ("vhp", f_scalar, (X, Y), {"v": (V_IN, RNG.standard_normal((2, 3)))}),
    ("hvp", f_scalar, (X, Y), {"v": (V_IN, RNG.standard_normal((2, 3)))}),
])
def test_matches_pytorch(fn_name, make, args, kwargs):
    ours, theirs = _both(fn_name, make, args, **kwargs)
    _assert_same(ours, theirs)


def test_jacobian_against_finite_differences():
    x = X.copy()
    jac = AF.jacobian(f_single(dg), dg.tensor(x)).numpy()
    eps = 1e-6
    f = f_single(dg)
    for k in range(4):
        d = np.zeros(4)
        d[k] = eps
        col = (f(dg.tensor(x + d)).numpy() - f(dg.tensor(x - d)).numpy()) / (2 * eps)
        np.testing.assert_allclose(jac[:, k], col, rtol=1e-7, atol=1e-9)


def test_inputs_are_not_accumulated_into_and_create_graph_keeps_the_graph():
    x = dg.tensor(X, requires_grad=True)
    jac = AF.jacobian(lambda t: t ** 3, x)
    assert x.grad is None and not jac.requires_grad
    jac = AF.jacobian(lambda t: t ** 3, x, create_graph=True)
    assert jac.requires_grad
    jac.sum().backward()  # the Jacobian is diag(3 x^2): d/dx of its sum is 6 x
    np.testing.assert_allclose(x.grad.numpy(), 6 * X)


def test_independent_outputs_strict_mode_and_argument_errors():
    x = dg.tensor(X)
    np.testing.assert_array_equal(AF.jacobian(lambda t: dg.ones(2), x).numpy(), np.zeros((2, 4)))
    with pytest.raises(RuntimeError, match="does not require gradients"):
        AF.jacobian(lambda t: dg.ones(2), x, strict=True)
    with pytest.raises(RuntimeError, match="independent of input 1"):
        AF.vjp(lambda a, b: a * 2, (x, x), v=dg.ones(4), strict=True)
    with pytest.raises(RuntimeError, match="v can only be None if the user-provided function"):
        AF.vjp(lambda t: t * 2, x)
    with pytest.raises(RuntimeError, match="v can only be None if the input"):
        AF.jvp(lambda t: t * 2, x)
    with pytest.raises(RuntimeError, match=r"Entry 0 in v has invalid size: should be "
                                           r"distgrad.Size\(\[4\]\) but got distgrad.Size\(\[3\]\)"):
        AF.vjp(lambda t: t * 2, x, v=dg.ones(3))
    with pytest.raises(TypeError, match="must be either a Tensor or a tuple of Tensors but the "
                                        "given outputs of the user-provided function has type"):
        AF.jacobian(lambda t: 3, x)
    with pytest.raises(TypeError, match="the value at index 1 has type"):
        AF.jacobian(lambda a, b: a, (x, 2.0))
    with pytest.raises(RuntimeError, match="should contain a single element"):
        AF.hessian(lambda t: t * 2, x)
    with pytest.raises(ValueError, match="Expected strategy"):
        AF.jacobian(lambda t: t, x, strategy="sideways")
    np.testing.assert_allclose(AF.jacobian(lambda t: t * 2, x, strategy="forward-mode").numpy(),
                               2 * np.eye(4))
    out, g = AF.vjp(lambda t: (t ** 2).sum(), dg.tensor(3.0, dtype=dg.float64))
    assert out.item() == 9.0 and g.item() == 6.0
