"""``affine_grid`` and ``grid_sample`` against PyTorch (values, gradients, warnings and errors),
finite differences (``gradcheck``) and a spatial-transformer round trip."""
import itertools
import warnings

import numpy as np
import pytest

import distgrad as dg
import distgrad.nn.functional as F
from distgrad.autograd import gradcheck
from distgrad.testing import fake_cupy

PADDING_MODES = ("zeros", "border", "reflection")
ALIGN_WARNING = "Default grid_sample and affine_grid behavior has changed to align_corners=False"


@pytest.fixture
def th():
    return pytest.importorskip("torch")


def _cases():
    """(dim, mode, padding_mode, align_corners): every combination PyTorch supports."""
    for dim in (2, 3):
        modes = ("bilinear", "nearest", "bicubic") if dim == 2 else ("bilinear", "nearest")
        for mode, padding, align in itertools.product(modes, PADDING_MODES, (True, False)):
            yield dim, mode, padding, align


def _run(lib, fn, arrays, weights):
    """``fn(lib, *tensors)`` on float tensors (requiring grad) made from ``arrays``, its output
    contracted with ``weights`` and backpropagated: the output, the gradients and the
    ``grad_fn`` name."""
    ins = [lib.tensor(a.copy(), requires_grad=True) for a in arrays]
    out = fn(lib, *ins)
    (out * lib.tensor(weights)).sum().backward()
    return (out.detach().numpy(), [t.grad.numpy() for t in ins], out.grad_fn.name())


def _compare(th, fn, arrays, atol=1e-12):
    """Outputs, gradients and node names of ``fn`` on distgrad and PyTorch agree."""
    def f_torch(lib, *t):
        return fn(th.nn.functional, *t)

    def f_dg(lib, *t):
        return fn(F, *t)

    weights = np.random.default_rng(7).standard_normal(
        f_dg(dg, *[dg.tensor(a) for a in arrays]).shape)
    out_t, grads_t, name_t = _run(th, f_torch, arrays, weights)
    out_d, grads_d, name_d = _run(dg, f_dg, arrays, weights)
    assert name_d == name_t
    np.testing.assert_allclose(out_d, out_t, rtol=1e-10, atol=atol)
    for i, (a, b) in enumerate(zip(grads_d, grads_t)):
        assert a.dtype == b.dtype
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=atol, err_msg=f"grad of input {i}")


# --------------------------------------------------------------------------------------------
# grid_sample against PyTorch
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dim, mode, padding_mode, align_corners", list(_cases()))
def test_grid_sample_matches_torch(th, dim, mode, padding_mode, align_corners):
    rng = np.random.default_rng(dim)
    spatial, out_spatial = ((4, 5), (6, 7)) if dim == 2 else ((3, 4, 5), (3, 4, 2))
    x = rng.standard_normal((2, 3, *spatial))
    grid = rng.uniform(-1.7, 1.7, (2, *out_spatial, dim))  # reaches well outside [-1, 1]
    _compare(th, lambda F_, x, g: F_.grid_sample(x, g, mode=mode, padding_mode=padding_mode,
                                                 align_corners=align_corners), [x, grid])


@pytest.mark.parametrize("spatial", [(1, 1), (1, 4), (5, 1)])
@pytest.mark.parametrize("mode", ["bilinear", "nearest", "bicubic"])
def test_grid_sample_unit_axes_float32(th, spatial, mode):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, *spatial)).astype(np.float32)
    grid = rng.uniform(-2, 2, (2, 4, 3, 2)).astype(np.float32)
    for padding_mode, align_corners in itertools.product(PADDING_MODES, (True, False)):
        _compare(th, lambda F_, x, g: F_.grid_sample(x, g, mode=mode, padding_mode=padding_mode,
                                                     align_corners=align_corners),
                 [x, grid], atol=1e-5)


@pytest.mark.parametrize("mode", ["bilinear", "nearest", "bicubic"])
def test_grid_sample_non_finite_coordinates(th, mode):
    x = np.random.default_rng(4).standard_normal((1, 2, 3, 3))
    grid = np.array([[[[np.nan, 0.0], [np.inf, 0.5], [-np.inf, 0.2], [0.3, np.nan]]]])
    for padding_mode, align_corners in itertools.product(PADDING_MODES, (True, False)):
        kw = dict(mode=mode, padding_mode=padding_mode, align_corners=align_corners)
        expected = th.nn.functional.grid_sample(th.tensor(x), th.tensor(grid), **kw).numpy()
        got = F.grid_sample(dg.tensor(x), dg.tensor(grid), **kw).numpy()
        np.testing.assert_allclose(got, expected, rtol=1e-12, equal_nan=True, err_msg=str(kw))


@pytest.mark.parametrize("x_shape, grid_shape", [((0, 3, 4, 5), (0, 6, 7, 2)),
                                                 ((2, 0, 4, 5), (2, 6, 7, 2)),
                                                 ((2, 3, 4, 5), (2, 0, 7, 2))])
def test_grid_sample_empty(x_shape, grid_shape):
    x = dg.zeros(*x_shape, requires_grad=True)
    grid = dg.zeros(*grid_shape, requires_grad=True)
    out = F.grid_sample(x, grid, align_corners=False)
    out.sum().backward()
    assert out.shape == (x_shape[0], x_shape[1], *grid_shape[1:-1])
    assert x.grad.shape == x_shape and grid.grad.shape == grid_shape


def test_grid_sample_grad_of_one_argument(th):
    rng = np.random.default_rng(5)
    x, grid = rng.standard_normal((1, 2, 3, 4)), rng.uniform(-1.2, 1.2, (1, 3, 2, 2))
    for needs_x, needs_grid in ((True, False), (False, True)):
        xd = dg.tensor(x, requires_grad=needs_x)
        gd = dg.tensor(grid, requires_grad=needs_grid)
        F.grid_sample(xd, gd, align_corners=True).sum().backward()
        assert (xd.grad is None) != needs_x and (gd.grad is None) != needs_grid


# --------------------------------------------------------------------------------------------
# affine_grid against PyTorch
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [(2, 3, 4, 5), (2, 1, 1, 6), (2, 3, 3, 4, 5), (2, 1, 2, 1, 3)])
@pytest.mark.parametrize("align_corners", [True, False])
def test_affine_grid_matches_torch(th, size, align_corners):
    dim = len(size) - 2
    theta = np.random.default_rng(6).standard_normal((size[0], dim, dim + 1))
    with warnings.catch_warnings():  # unit-size grids with align_corners=True warn
        warnings.simplefilter("ignore")
        _compare(th, lambda F_, t: F_.affine_grid(t, size, align_corners=align_corners), [theta])


def test_affine_grid_float32(th):
    theta = np.random.default_rng(8).standard_normal((2, 2, 3)).astype(np.float32)
    _compare(th, lambda F_, t: F_.affine_grid(t, (2, 1, 7, 9), align_corners=False), [theta],
             atol=1e-6)


def test_spatial_transformer_matches_torch(th):
    """``grid_sample(x, affine_grid(theta))``: gradients flow to ``theta`` and ``x``."""
    rng = np.random.default_rng(9)
    theta = np.tile(np.eye(2, 3), (2, 1, 1)) + 0.2 * rng.standard_normal((2, 2, 3))
    x = rng.standard_normal((2, 3, 5, 6))

    def transform(F_, t, x):
        return F_.grid_sample(x, F_.affine_grid(t, (2, 3, 4, 7), align_corners=False),
                              padding_mode="border", align_corners=False)

    _compare(th, transform, [theta, x])


# --------------------------------------------------------------------------------------------
# finite differences
# --------------------------------------------------------------------------------------------
def _grid_away_from_kinks(rng, spatial, out_spatial, align_corners):
    """A grid whose pixel positions (up to two pixels outside the input) have fractions in
    [0.1, 0.4]: away from integers (where the taps change), and from the borders and
    reflection points (integers or half-integers) where padding bends the position."""
    coords = []
    for size in spatial[::-1]:  # grid component k runs along spatial axis -1 - k
        pos = rng.integers(-2, size + 2, out_spatial) + rng.uniform(0.1, 0.4, out_spatial)
        coords.append(2 * pos / (size - 1) - 1 if align_corners else (2 * pos + 1) / size - 1)
    return np.stack(coords, axis=-1)[None]


@pytest.mark.parametrize("dim, mode, padding_mode, align_corners",
                         [c for c in _cases() if c[1] != "nearest"])
def test_grid_sample_gradcheck(dim, mode, padding_mode, align_corners):
    rng = np.random.default_rng(10)
    spatial, out_spatial = ((3, 4), (3, 2)) if dim == 2 else ((2, 3, 3), (2, 2, 2))
    x = dg.tensor(rng.standard_normal((1, 2, *spatial)), requires_grad=True)
    grid = dg.tensor(_grid_away_from_kinks(rng, spatial, out_spatial, align_corners),
                     requires_grad=True)
    assert gradcheck(lambda x, g: F.grid_sample(x, g, mode=mode, padding_mode=padding_mode,
                                                align_corners=align_corners), (x, grid))


@pytest.mark.parametrize("size", [(2, 1, 3, 4), (1, 1, 2, 3, 2)])
def test_affine_grid_gradcheck(size):
    dim = len(size) - 2
    theta = dg.tensor(np.random.default_rng(11).standard_normal((size[0], dim, dim + 1)),
                      requires_grad=True)
    assert gradcheck(lambda t: F.affine_grid(t, size, align_corners=False), (theta,))


def test_affine_grid_double_backward():
    theta = dg.tensor(np.random.default_rng(12).standard_normal((1, 2, 3)), requires_grad=True)
    out = F.affine_grid(theta, (1, 1, 3, 4), align_corners=True)
    (g,) = dg.autograd.grad((out ** 2).sum(), theta, create_graph=True)
    (gg,) = dg.autograd.grad(g.sum(), theta)
    xs, ys = np.meshgrid(np.linspace(-1, 1, 4), np.linspace(-1, 1, 3))
    base = np.stack([xs, ys, np.ones((3, 4))], axis=-1).reshape(-1, 3)
    # g[i, j] = 2 sum_m (base_m . theta_i) base_mj, so d(sum g) / d theta_il is the same for
    # every row i: 2 sum_m base_ml sum_j base_mj
    np.testing.assert_allclose(gg.numpy()[0], np.tile(2 * base.T @ base.sum(1), (2, 1)))


# --------------------------------------------------------------------------------------------
# spatial-transformer round trip
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("size, modes", [((2, 3, 5, 6), ("bilinear", "nearest", "bicubic")),
                                         ((2, 3, 3, 4, 5), ("bilinear", "nearest"))])
def test_identity_theta_reproduces_input(size, modes):
    dim = len(size) - 2
    x = dg.tensor(np.random.default_rng(13).standard_normal(size))
    theta = dg.tensor(np.tile(np.eye(dim, dim + 1), (size[0], 1, 1)))
    grid = F.affine_grid(theta, size, align_corners=True)
    for mode, padding_mode in itertools.product(modes, PADDING_MODES):
        out = F.grid_sample(x, grid, mode=mode, padding_mode=padding_mode, align_corners=True)
        np.testing.assert_allclose(out.numpy(), x.numpy(), atol=1e-12)


def test_nearest_grid_gradient_is_zero():
    x = dg.tensor(np.ones((1, 1, 3, 3)), requires_grad=True)
    grid = dg.tensor(np.full((1, 2, 2, 2), 0.3), requires_grad=True)
    F.grid_sample(x, grid, mode="nearest", align_corners=False).sum().backward()
    assert grid.grad.shape == grid.shape and not grid.grad.numpy().any()
    assert x.grad.numpy().sum() == 4


@pytest.mark.parametrize("dim, mode, padding_mode", [(2, "bicubic", "reflection"),
                                                      (2, "bilinear", "border"),
                                                      (3, "nearest", "zeros"),
                                                      (3, "bilinear", "reflection")])
def test_device_path_matches_cpu(dim, mode, padding_mode):
    """The CuPy code path (through the fake CuPy) gives the CPU's values and gradients."""
    rng = np.random.default_rng(14)
    size = (2, 3) + (4,) * dim
    theta, x = rng.standard_normal((2, dim, dim + 1)), rng.standard_normal(size)
    results = []
    with fake_cupy.installed(n_devices=1):
        for device in ("cpu", "cuda"):
            t = dg.tensor(theta, device=device, requires_grad=True)
            xd = dg.tensor(x, device=device, requires_grad=True)
            out = F.grid_sample(xd, F.affine_grid(t, size, align_corners=False), mode=mode,
                                padding_mode=padding_mode, align_corners=False)
            (out * out).sum().backward()
            assert out.device == t.grad.device == xd.grad.device == dg.device(device)
            results.append([a.detach().cpu().numpy() for a in (out, t.grad, xd.grad)])
        with pytest.raises(RuntimeError, match="expected input and grid to be on same device"):
            F.grid_sample(xd, dg.zeros(2, *(4,) * dim, dim), align_corners=False)
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------------------------
# warnings and errors against PyTorch
# --------------------------------------------------------------------------------------------
def _warnings(fn):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fn()
    return [str(w.message) for w in caught]


def test_warnings_match_torch(th):
    def calls(F_, m):
        x, grid = m.zeros(1, 1, 2, 2), m.zeros(1, 2, 2, 2)
        return [lambda: F_.grid_sample(x, grid), lambda: F_.affine_grid(m.zeros(1, 2, 3),
                                                                        (1, 1, 2, 2)),
                lambda: F_.affine_grid(m.zeros(1, 2, 3), (1, 1, 1, 4), align_corners=True)]

    for ours, theirs in zip(calls(F, dg), calls(th.nn.functional, th)):
        assert _warnings(ours) == _warnings(theirs) != []
    assert ALIGN_WARNING in _warnings(calls(F, dg)[0])[0]


def _error_cases(F_, m):
    """Calls that PyTorch rejects, by name."""
    x4, g4 = m.zeros(2, 3, 4, 5), m.zeros(2, 6, 7, 2)
    x5, g5 = m.zeros(2, 3, 4, 5, 6), m.zeros(2, 6, 7, 8, 3)
    theta = m.zeros(2, 2, 3)
    gs, ag = F_.grid_sample, F_.affine_grid
    return {
        "mode": lambda: gs(x4, g4, mode="linear", align_corners=False),
        "padding_mode": lambda: gs(x4, g4, padding_mode="wrap", align_corners=False),
        "input type": lambda: gs(1, g4, align_corners=False),
        "grid type": lambda: gs(x4, [1], align_corners=False),
        "batch": lambda: gs(x4, g4[:1], align_corners=False),
        "last dim": lambda: gs(x4, g5, align_corners=False),
        "last dim 5-D": lambda: gs(x5, g4, align_corners=False),
        "3-D input": lambda: gs(m.zeros(2, 3, 4), m.zeros(2, 4, 2), align_corners=False),
        "empty spatial": lambda: gs(m.zeros(2, 3, 0, 5), g4, align_corners=False),
        "grid rank": lambda: gs(x4, m.zeros(2, 6, 7, 8, 2), align_corners=False),
        "6-D input": lambda: gs(m.zeros(1, 1, 2, 2, 2, 2), m.zeros(1, 2, 2, 2, 2, 4),
                                align_corners=False),
        "bicubic 5-D": lambda: gs(x5, g5, mode="bicubic", align_corners=False),
        "integer input": lambda: gs(x4.long(), g4.long(), align_corners=False),
        "integer input 5-D": lambda: gs(x5.long(), g5.long(), align_corners=False),
        "dtype": lambda: gs(x4.double(), g4, align_corners=False),
        "theta dtype": lambda: ag(theta.long(), (2, 3, 4, 5), align_corners=False),
        "theta shape": lambda: ag(m.zeros(2, 3, 4), (2, 3, 4, 5), align_corners=False),
        "theta shape 5-D": lambda: ag(theta, (2, 3, 4, 5, 6), align_corners=False),
        "theta rank": lambda: ag(m.zeros(2, 3), [2, 3, 4, 5], align_corners=False),
        "size length": lambda: ag(theta, (2, 3, 4), align_corners=False),
        "zero size": lambda: ag(theta, (2, 3, 0, 5), align_corners=True),
        "negative size": lambda: ag(theta, [2, 3, -1, 5], align_corners=False),
        "theta batch": lambda: ag(theta, (3, 3, 4, 5), align_corners=False),
    }


@pytest.mark.parametrize("case", list(_error_cases(F, dg)))
def test_errors_match_torch(th, case):
    with pytest.raises(Exception) as theirs:
        _error_cases(th.nn.functional, th)[case]()
    with pytest.raises(type(theirs.value)) as ours:
        _error_cases(F, dg)[case]()
    assert str(ours.value) == str(theirs.value).replace("torch.", "distgrad.")
