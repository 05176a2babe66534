"""LSTM with projections (``proj_size``), ``unique(dim=...)``, and the singular-value linear
algebra (``linalg.svd``/``svdvals``, the nuclear and spectral matrix norms, ``linalg.cond``)
against PyTorch on the same float64 inputs; gradients also by finite differences."""
import math

import numpy as np
import pytest

import distgrad as dg
from distgrad import nn
from distgrad.autograd import gradcheck, gradgradcheck
from distgrad.testing import fake_cupy

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.torch


def _numpy(t):
    return t.detach().numpy()


def _errors_match(fn):
    """``fn(torch)`` and ``fn(distgrad)`` raise the same exception type and message."""
    with pytest.raises(Exception) as expected:
        fn(torch)
    with pytest.raises(Exception) as got:
        fn(dg)
    assert isinstance(got.value, expected.type) or (
        type(expected.value).__name__.endswith("LinAlgError")
        and isinstance(got.value, dg.linalg.LinAlgError))
    assert str(got.value) == str(expected.value).split("\n")[0]


# -- LSTM(proj_size=...) ---------------------------------------------------------------------
def _lstm_twins(**kwargs):
    ref = torch.nn.LSTM(**kwargs).double()
    mine = nn.LSTM(**kwargs, dtype=dg.float64)
    state = {k: dg.tensor(_numpy(v)) for k, v in ref.state_dict().items()}
    assert [(k, tuple(v.shape)) for k, v in mine.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in ref.state_dict().items()]
    mine.load_state_dict(state)
    return mine, ref


def _run_both(mine, ref, make_input, states, rng):
    """Outputs and gradients (input, initial states, every parameter) of both modules, with the
    outputs contracted with the same random weights."""
    results, weights = [], None
    for lib, module in ((torch, ref), (dg, mine)):
        x = lib.tensor(make_input.data, requires_grad=True)
        hx = None if states is None else tuple(lib.tensor(s, requires_grad=True) for s in states)
        out, (h, c) = module(make_input.wrap(lib, x), hx)
        outs = [make_input.unwrap(out), h, c]
        if weights is None:
            weights = [rng.standard_normal(tuple(o.shape)) for o in outs]
        sum((o * lib.tensor(w)).sum() for o, w in zip(outs, weights)).backward()
        grads = [x.grad] + ([] if hx is None else [s.grad for s in hx])
        grads += [p.grad for _, p in module.named_parameters()]
        results.append([_numpy(t) for t in outs + grads])
    for a, b in zip(*results):
        assert a.shape == b.shape
        np.testing.assert_allclose(b, a, rtol=1e-10, atol=1e-12)


class _Padded:
    """A plain (L, N, H) or (N, L, H) input."""

    def __init__(self, data):
        self.data = data

    @staticmethod
    def wrap(lib, x):
        return x

    @staticmethod
    def unwrap(out):
        return out


class _Packed(_Padded):
    """A padded batch packed with unsorted lengths."""

    def __init__(self, data, lengths):
        super().__init__(data)
        self.lengths = lengths

    def wrap(self, lib, x):
        utils = torch.nn.utils.rnn if lib is torch else nn.utils.rnn
        return utils.pack_padded_sequence(x, self.lengths, enforce_sorted=False)

    @staticmethod
    def unwrap(out):
        return out.data


@pytest.mark.parametrize("num_layers,bidirectional,batch_first",
                         [(1, False, False), (2, False, True), (2, True, False), (3, True, True)])
def test_lstm_proj_size_matches_torch(num_layers, bidirectional, batch_first):
    rng = np.random.default_rng(num_layers + 2 * bidirectional)
    mine, ref = _lstm_twins(input_size=3, hidden_size=5, num_layers=num_layers,
                            bidirectional=bidirectional, batch_first=batch_first, proj_size=2)
    directions = 2 if bidirectional else 1
    states = (rng.standard_normal((num_layers * directions, 4, 2)),
              rng.standard_normal((num_layers * directions, 4, 5)))
    _run_both(mine, ref, _Padded(rng.standard_normal((4, 6, 3) if batch_first else (6, 4, 3))),
              states, rng)
    _run_both(mine, ref, _Padded(rng.standard_normal((6, 4, 3) if not batch_first else (4, 6, 3))),
              None, rng)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_lstm_proj_size_packed_input(bidirectional):
    rng = np.random.default_rng(7)
    mine, ref = _lstm_twins(input_size=3, hidden_size=4, num_layers=2,
                            bidirectional=bidirectional, proj_size=3)
    directions = 2 if bidirectional else 1
    states = (rng.standard_normal((2 * directions, 3, 3)),
              rng.standard_normal((2 * directions, 3, 4)))
    packed = _Packed(rng.standard_normal((5, 3, 3)), [3, 5, 2])
    _run_both(mine, ref, packed, states, rng)
    _run_both(mine, ref, packed, None, rng)


def test_lstm_proj_size_unbatched_and_gradcheck():
    rng = np.random.default_rng(8)
    mine, ref = _lstm_twins(input_size=2, hidden_size=3, proj_size=1, bidirectional=True)
    x = rng.standard_normal((4, 2))
    out, (h, c) = mine(dg.tensor(x))
    t_out, (t_h, t_c) = ref(torch.tensor(x))
    assert out.shape == (4, 2) and h.shape == (2, 1) and c.shape == (2, 3)
    for a, b in ((t_out, out), (t_h, h), (t_c, c)):
        np.testing.assert_allclose(_numpy(b), _numpy(a), rtol=1e-10, atol=1e-12)

    def run(inp, *weights):  # the weights are perturbed in place by gradcheck
        output, (h_n, c_n) = mine(inp)
        return output, h_n, c_n

    assert gradcheck(run, (dg.tensor(rng.standard_normal((3, 2, 2)), requires_grad=True),
                           mine.weight_hr_l0, mine.weight_hh_l0_reverse))


def test_lstm_proj_size_errors_and_repr():
    lstm = nn.LSTM(3, 4, num_layers=2, proj_size=2, bidirectional=True)
    assert repr(lstm) == repr(torch.nn.LSTM(3, 4, num_layers=2, proj_size=2, bidirectional=True))
    assert lstm.proj_size == 2 and nn.LSTM(3, 4).proj_size == 0
    assert [tuple(w.shape) for w in lstm.all_weights[2]] == [(16, 4), (16, 2), (16,), (16,),
                                                              (2, 4)]
    x = np.zeros((5, 2, 3), dtype=np.float32)
    _errors_match(lambda lib: lib.nn.LSTM(3, 4, proj_size=2)(
        lib.tensor(x), (lib.zeros(1, 2, 4), lib.zeros(1, 2, 4))))
    _errors_match(lambda lib: lib.nn.LSTM(3, 4, proj_size=2)(
        lib.tensor(x), (lib.zeros(1, 2, 2), lib.zeros(1, 2, 2))))
    for kwargs in ({"proj_size": -1}, {"proj_size": 4}, {"proj_size": 5}):
        _errors_match(lambda lib: lib.nn.LSTM(3, 4, **kwargs))
    for name in ("RNN", "GRU"):
        for size in (0, 2):
            _errors_match(lambda lib: getattr(lib.nn, name)(3, 4, proj_size=size))


# -- unique(dim=...) -------------------------------------------------------------------------
def _compare_unique(x, **kwargs):
    expected = torch.unique(torch.tensor(x), **kwargs)
    got = dg.unique(dg.tensor(x), **kwargs)
    expected = expected if isinstance(expected, tuple) else (expected,)
    got = got if isinstance(got, tuple) else (got,)
    assert len(got) == len(expected)
    for a, b in zip(expected, got):
        assert tuple(b.shape) == tuple(a.shape)
        assert b.dtype.name == str(a.dtype).replace("torch.", "")
        np.testing.assert_array_equal(_numpy(b), a.numpy())


@pytest.mark.parametrize("shape", [(7, 3), (5, 2, 3), (6,), (30, 2)])
@pytest.mark.parametrize("dtype", [np.int64, np.float32, np.bool_])
def test_unique_dim_matches_torch(shape, dtype):
    x = np.random.default_rng(len(shape)).integers(0, 2, shape).astype(dtype)
    for dim in range(-len(shape), len(shape)):
        for inverse in (False, True):
            for counts in (False, True):
                _compare_unique(x, dim=dim, return_inverse=inverse, return_counts=counts)
                _compare_unique(x, sorted=False, dim=dim, return_inverse=inverse,
                                return_counts=counts)


def test_unique_dim_signed_zero_nan_and_empty():
    x = np.array([[0.0, 1], [-0.0, 1], [np.nan, 1], [np.nan, 1], [-np.inf, 2]])
    _compare_unique(x, dim=0, return_inverse=True, return_counts=True)
    for shape, dim in (((0, 3), 0), ((3, 0), 1), ((2, 0, 2), 1)):
        _compare_unique(np.zeros(shape), dim=dim, return_inverse=True, return_counts=True)


def test_unique_dim_method_errors_and_no_derivative():
    x = dg.tensor([[1.0, 2.0], [1.0, 2.0], [0.0, 5.0]], requires_grad=True)
    values, counts = x.unique(dim=0, return_counts=True)
    assert values.tolist() == [[0.0, 5.0], [1.0, 2.0]] and counts.tolist() == [1, 2]
    assert values.requires_grad and values.grad_fn.name() == "UniqueDimBackward0"
    with pytest.raises(NotImplementedError, match="derivative for 'unique_dim' is not "
                                                  "implemented"):
        values.sum().backward()
    for shape, dim in (((0, 3), 1), ((3, 0), 0), ((), 0), ((3, 2), 2), ((3, 2), -3)):
        _errors_match(lambda lib: lib.unique(lib.zeros(shape), dim=dim))


# -- svd, svdvals, matrix norms, cond --------------------------------------------------------
SHAPES = [(4, 3), (3, 5), (3, 3), (2, 3, 3), (2, 1, 4, 2)]


def _matrices(shape, seed=0):
    """float64 matrices with distinct singular values (random normal entries)."""
    return np.random.default_rng(seed).standard_normal(shape)


def _twin_leaves(a):
    return torch.tensor(a, requires_grad=True), dg.tensor(a, requires_grad=True)


def _sign_free_loss(lib, weights, U, S, Vh, k):
    """A loss of the SVD factors that does not depend on the signs of the singular vectors."""
    U, Vh = U[..., :, :k], Vh[..., :k, :]
    low_rank = (U * lib.tensor(weights)[..., None, :]) @ Vh
    return (low_rank ** 2).sum() + (U ** 4).sum() + (Vh ** 2 * Vh[..., :, :1] ** 2).sum() \
        + (S ** 3).sum()


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("full_matrices", [True, False])
def test_svd_matches_torch(shape, full_matrices):
    a = _matrices(shape)
    ta, da = _twin_leaves(a)
    expected = torch.linalg.svd(ta, full_matrices=full_matrices)
    got = dg.linalg.svd(da, full_matrices=full_matrices)
    assert got._fields == ("U", "S", "Vh") and got.S.grad_fn.name() == "LinalgSvdBackward0"
    for x, y in zip(expected, got):
        assert tuple(y.shape) == tuple(x.shape)
    np.testing.assert_allclose(_numpy(got.S), _numpy(expected.S), rtol=1e-12)
    k = min(shape[-2:])
    reconstructed = (got.U[..., :, :k] * got.S[..., None, :]) @ got.Vh[..., :k, :]
    np.testing.assert_allclose(_numpy(reconstructed), a, atol=1e-12)
    weights = np.random.default_rng(1).standard_normal(shape[:-2] + (k,))
    _sign_free_loss(torch, weights, *expected, k).backward()
    _sign_free_loss(dg, weights, *got, k).backward()
    np.testing.assert_allclose(_numpy(da.grad), _numpy(ta.grad), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("shape", SHAPES)
def test_svdvals_matches_torch_and_gradchecks(shape):
    a = _matrices(shape, seed=2)
    ta, da = _twin_leaves(a)
    t_s, d_s = torch.linalg.svdvals(ta), dg.linalg.svdvals(da)
    np.testing.assert_allclose(_numpy(d_s), _numpy(t_s), rtol=1e-12)
    (t_s * torch.arange(1.0, t_s.shape[-1] + 1, dtype=torch.float64)).sum().backward()
    (d_s * dg.arange(1.0, d_s.shape[-1] + 1, dtype=dg.float64)).sum().backward()
    np.testing.assert_allclose(_numpy(da.grad), _numpy(ta.grad), rtol=1e-10, atol=1e-12)
    leaf = dg.tensor(a, requires_grad=True)
    assert gradcheck(dg.linalg.svdvals, (leaf,))
    assert gradgradcheck(dg.linalg.svdvals, (leaf,))
    k = min(shape[-2:])

    def squared_factors(x):  # squares do not depend on the signs of the singular vectors
        U, S, Vh = dg.linalg.svd(x, full_matrices=False)
        return U[..., :, :k] ** 2, S, Vh[..., :k, :] ** 2

    assert gradcheck(squared_factors, (leaf,))
    assert gradgradcheck(squared_factors, (leaf,))


@pytest.mark.parametrize("ord", ["nuc", 2, -2])
@pytest.mark.parametrize("shape", SHAPES)
def test_singular_value_norms_match_torch(ord, shape):
    a = _matrices(shape, seed=3)
    ta, da = _twin_leaves(a)
    t_n, d_n = torch.linalg.matrix_norm(ta, ord), dg.linalg.matrix_norm(da, ord)
    np.testing.assert_allclose(_numpy(d_n), _numpy(t_n), rtol=1e-12)
    t_n.sum().backward()
    d_n.sum().backward()
    np.testing.assert_allclose(_numpy(da.grad), _numpy(ta.grad), rtol=1e-10, atol=1e-12)
    assert gradcheck(lambda x: dg.linalg.matrix_norm(x, ord), (dg.tensor(a, requires_grad=True),))


@pytest.mark.parametrize("ord", ["nuc", 2, -2])
def test_singular_value_norms_dims_keepdim_and_entry_points(ord):
    a = _matrices((3, 4, 5), seed=4)
    ta, da = torch.tensor(a), dg.tensor(a)
    for dim in ((0, 2), (2, 0), (-1, 1), (1, 0)):
        for keepdim in (False, True):
            pairs = [(torch.linalg.matrix_norm(ta, ord, dim, keepdim),
                      dg.linalg.matrix_norm(da, ord, dim, keepdim)),
                     (torch.linalg.norm(ta, ord, dim, keepdim),
                      dg.linalg.norm(da, ord, dim, keepdim))]
            if ord == "nuc":
                pairs += [(ta.norm(ord, dim, keepdim), da.norm(ord, dim, keepdim)),
                          (torch.norm(ta, ord, dim, keepdim), dg.norm(da, ord, dim, keepdim))]
            for t, d in pairs:
                assert tuple(d.shape) == tuple(t.shape)
                np.testing.assert_allclose(_numpy(d), _numpy(t), rtol=1e-12)
    np.testing.assert_allclose(_numpy(dg.linalg.norm(da[0], ord)),
                               _numpy(torch.linalg.norm(ta[0], ord)), rtol=1e-12)
    f32 = dg.linalg.matrix_norm(dg.tensor(a[0], dtype=dg.float32), ord)
    assert f32.dtype == dg.float32
    as64 = dg.linalg.matrix_norm(dg.tensor(a[0], dtype=dg.float32), ord, dtype=dg.float64)
    assert as64.dtype == dg.float64


def test_singular_value_norms_of_empty_matrices():
    for shape in ((0, 3), (3, 0), (2, 0, 0)):
        for ord in ("nuc", 2):
            t = torch.linalg.matrix_norm(torch.zeros(shape), ord)
            d = dg.linalg.matrix_norm(dg.zeros(shape), ord)
            assert tuple(d.shape) == tuple(t.shape) and _numpy(d).tolist() == t.tolist()
    with pytest.raises(IndexError, match="amin\\(\\): Expected reduction dim"):
        dg.linalg.matrix_norm(dg.zeros(0, 3), -2)
    for shape, full in (((2, 0, 3), True), ((2, 0, 3), False), ((3, 0), True), ((3, 0), False)):
        expected = torch.linalg.svd(torch.zeros(shape), full_matrices=full)
        got = dg.linalg.svd(dg.zeros(shape), full_matrices=full)
        assert [tuple(x.shape) for x in got] == [tuple(x.shape) for x in expected]


@pytest.mark.parametrize("p", [None, 2, -2, 1, -1, math.inf, -math.inf, "fro", "nuc"])
def test_cond_matches_torch(p):
    a = _matrices((3, 3, 3), seed=5)
    a[1] = [[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [0.0, 0.0, 1.0]]  # singular
    t_c = torch.linalg.cond(torch.tensor(a), p)
    d_c = dg.linalg.cond(dg.tensor(a), p)
    regular = [0, 2]
    np.testing.assert_allclose(_numpy(d_c)[regular], _numpy(t_c)[regular], rtol=1e-10)
    if p in (None, 2, "nuc"):
        assert _numpy(d_c)[1] > 1e15
    elif p == -2:
        assert _numpy(d_c)[1] < 1e-15
    else:
        assert _numpy(d_c)[1] == math.inf
    leaf = dg.tensor(a[regular], requires_grad=True)
    assert gradcheck(lambda x: dg.linalg.cond(x, p), (leaf,))
    if p in (None, 2, -2, "nuc"):  # PyTorch's cond has no gradient for the other orders
        ta, da = _twin_leaves(a[regular])
        torch.linalg.cond(ta, p).sum().backward()
        dg.linalg.cond(da, p).sum().backward()
        np.testing.assert_allclose(_numpy(da.grad), _numpy(ta.grad), rtol=1e-9)


def test_cond_rectangular_empty_and_nan():
    a = _matrices((2, 4, 3), seed=6)
    for p in (None, 2, -2):
        np.testing.assert_allclose(_numpy(dg.linalg.cond(dg.tensor(a), p)),
                                   _numpy(torch.linalg.cond(torch.tensor(a), p)), rtol=1e-10)
    for shape in ((0, 0), (2, 0, 0), (3, 0)):
        assert dg.linalg.cond(dg.zeros(shape)).shape == tuple(torch.linalg.cond(
            torch.zeros(shape)).shape)
    nan = [[1.0, math.nan], [0.0, 1.0]]
    assert dg.linalg.cond(dg.tensor(nan), 1).item() == torch.linalg.cond(torch.tensor(nan),
                                                                        1).item()


@pytest.mark.parametrize("fn", [
    lambda lib: lib.linalg.svd(lib.zeros(3)),
    lambda lib: lib.linalg.svdvals(lib.zeros(3)),
    lambda lib: lib.linalg.svd(lib.zeros(3, 3, dtype=lib.float16)),
    lambda lib: lib.linalg.svdvals(lib.zeros(3, 3, dtype=lib.int64)),
    lambda lib: lib.linalg.svd(lib.eye(3), driver="gesvd"),
    lambda lib: lib.linalg.svdvals(lib.tensor([[[1.0, 0], [0, 1]], [[1, math.nan], [0, 1]]])),
    lambda lib: lib.linalg.matrix_norm(lib.zeros(3, 3, dtype=lib.float16), 2),
    lambda lib: lib.linalg.matrix_norm(lib.zeros(3, 3, dtype=lib.float16), "nuc",
                                       dtype=lib.float32),
    lambda lib: lib.linalg.matrix_norm(lib.zeros(3, 3, dtype=lib.int64), "nuc"),
    lambda lib: lib.linalg.matrix_norm(lib.zeros(3, 3), 3),
    lambda lib: lib.linalg.cond(lib.zeros(3)),
    lambda lib: lib.linalg.cond(lib.eye(3), 3),
    lambda lib: lib.linalg.cond(lib.zeros(3, 2), 1),
    lambda lib: lib.linalg.cond(lib.zeros(3, 2), 1.0),
    lambda lib: lib.linalg.cond(lib.zeros(3, 2), "fro"),
    lambda lib: lib.linalg.cond(lib.zeros(3, 2), -math.inf),
])
def test_singular_value_errors_match_torch(fn):
    _errors_match(fn)


def test_svd_saved_factors_checked_and_freed():
    a = _matrices((3, 3))
    A = dg.tensor(a, requires_grad=True)
    U, S, _ = dg.linalg.svd(A)
    U.mul_(2)
    with pytest.raises(RuntimeError, match="output 0 of LinalgSvd, is at version 1; expected "
                                           "version 0"):
        (U.sum() + S.sum()).backward()
    S = dg.linalg.svdvals(dg.tensor(a, requires_grad=True))
    S.sum().backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        S.sum().backward()


def test_fake_gpu_unique_dim_svd_norms_and_cond():
    a = _matrices((2, 3, 3), seed=9)
    a[1] = [[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [0.0, 0.0, 1.0]]
    ints = np.array([[1, 2], [0, 0], [1, 2]])

    def run(device):
        x = dg.tensor(a, device=device, requires_grad=True)
        outs = [*dg.unique(dg.tensor(ints, device=device), dim=0, return_inverse=True,
                           return_counts=True),
                dg.linalg.matrix_norm(x, "nuc"), dg.linalg.matrix_norm(x, -2),
                dg.linalg.cond(x, 1), dg.linalg.svd(x).S]
        (outs[3].sum() + outs[4].sum() + outs[6].sum()).backward()
        return outs + [x.grad]

    expected = run("cpu")
    with fake_cupy.installed():
        got = run("cuda")
        for c, d in zip(expected, got):
            assert d.device.type == "cuda" and d.dtype == c.dtype
            np.testing.assert_allclose(_numpy(d.cpu()), _numpy(c), rtol=1e-12, atol=1e-12)
