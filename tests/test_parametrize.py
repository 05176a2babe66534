"""``distgrad.nn.utils.parametrize``, ``parametrizations`` (weight_norm, spectral_norm,
orthogonal) and the older hook-based ``weight_norm`` / ``spectral_norm`` against PyTorch: the
same state dict keys (PyTorch's state dict loads as it is), values and gradients in float64,
and PyTorch's error messages."""
import copy
import warnings

import numpy as np
import pytest

import distgrad as dg
from distgrad import nn
from distgrad.autograd import gradcheck
from distgrad.nn.utils import parametrizations, parametrize

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.torch


def _symmetric(lib):
    class Symmetric(lib.nn.Module):
        def forward(self, x):
            return x.triu() + x.triu(1).mT

        def right_inverse(self, a):
            return a.triu()
    return Symmetric()


def _scaled(lib):
    """A parametrization of two tensors: ``original0 * original1``."""
    class Scaled(lib.nn.Module):
        def forward(self, scale, x):
            return scale * x

        def right_inverse(self, w):
            return w.abs().max().reshape(1), w / w.abs().max()
    return Scaled()


def _shape_changing(lib):
    class FirstRow(lib.nn.Module):
        def forward(self, x):
            return x[:1]
    return FirstRow()


def _twins(make, parametrize_with):
    """The same float64 module from both libraries, parametrized by
    ``parametrize_with(lib, utils, module)``, with PyTorch's state dict loaded into distgrad's
    (its keys must be the same)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        ref = parametrize_with(torch, torch.nn.utils, make(torch.nn).double())
        mine = parametrize_with(dg, nn.utils, make(nn).double())
    state = ref.state_dict()
    assert list(mine.state_dict()) == list(state)
    mine.load_state_dict({k: dg.tensor(v.numpy()) for k, v in state.items()})
    return mine, ref


def _assert_close(mine, ref, rtol=1e-10):
    np.testing.assert_allclose(mine.detach().numpy(), ref.detach().numpy(), rtol=rtol,
                               atol=1e-12)


def _run_both(mine, ref, x, modes=(True, False, True)):
    """Forward both (in the given train/eval modes, in turn), backpropagate the sums, and
    compare outputs, gradients of every parameter and the final state dicts."""
    for training in modes:
        mine.train(training)
        ref.train(training)
        out_ref, out = ref(torch.tensor(x)), mine(dg.tensor(x))
        _assert_close(out, out_ref)
        out_ref.sum().backward()
        out.sum().backward()
    for (name, p), (ref_name, p_ref) in zip(mine.named_parameters(), ref.named_parameters()):
        assert name == ref_name
        _assert_close(p.grad, p_ref.grad)
    for value, ref_value in zip(mine.state_dict().values(), ref.state_dict().values()):
        _assert_close(value, ref_value)


# -- parametrize ---------------------------------------------------------------------------------

def test_register_parametrization_matches_torch():
    def symmetric(lib, utils, m):
        return utils.parametrize.register_parametrization(m, "weight", _symmetric(lib))

    mine, ref = _twins(lambda n: n.Linear(3, 3), symmetric)
    assert type(mine).__name__ == "ParametrizedLinear"
    assert parametrize.type_before_parametrizations(mine) is nn.Linear
    assert parametrize.is_parametrized(mine) and parametrize.is_parametrized(mine, "weight")
    assert not parametrize.is_parametrized(mine, "bias")
    assert list(mine.state_dict()) == ["bias", "parametrizations.weight.original"]
    _run_both(mine, ref, np.random.default_rng(0).standard_normal((2, 3)))
    w = mine.weight
    _assert_close(w, w.mT)
    with parametrize.cached():
        assert mine.weight is mine.weight
    assert mine.weight is not mine.weight

    target = np.arange(9.0).reshape(3, 3) + np.arange(9.0).reshape(3, 3).T
    mine.weight = dg.tensor(target)  # stored through right_inverse
    np.testing.assert_array_equal(mine.parametrizations.weight.original.detach().numpy(),
                                  np.triu(target))
    original = mine.parametrizations.weight.original
    parametrize.remove_parametrizations(mine, "weight")
    assert type(mine) is nn.Linear and list(mine.state_dict()) == ["bias", "weight"]
    assert mine.weight is original  # the parameter object survives (optimizers keep it)
    np.testing.assert_array_equal(mine.weight.detach().numpy(), target)


def test_chained_and_several_originals_match_torch():
    def chained(lib, utils, m):
        utils.parametrize.register_parametrization(m, "weight", _symmetric(lib))
        return utils.parametrize.register_parametrization(m, "weight", _symmetric(lib))

    mine, ref = _twins(lambda n: n.Linear(3, 3), chained)
    assert len(mine.parametrizations.weight) == 2
    _run_both(mine, ref, np.random.default_rng(1).standard_normal((2, 3)))

    def two_tensors(lib, utils, m):
        return utils.parametrize.register_parametrization(m, "weight", _scaled(lib))

    mine, ref = _twins(lambda n: n.Linear(3, 2), two_tensors)
    assert list(mine.state_dict()) == ["bias", "parametrizations.weight.original0",
                                       "parametrizations.weight.original1"]
    _run_both(mine, ref, np.random.default_rng(2).standard_normal((2, 3)))
    with pytest.raises(ValueError, match="Cannot leave unparametrized"):
        parametrize.remove_parametrizations(mine, "weight", leave_parametrized=False)
    weight = mine.weight.detach().numpy()
    parametrize.remove_parametrizations(mine, "weight")
    assert isinstance(mine.weight, nn.Parameter)
    np.testing.assert_allclose(mine.weight.detach().numpy(), weight)


def test_buffers_removal_copy_and_transfer():
    holder = nn.Module()
    holder.register_buffer("table", dg.eye(3))
    parametrize.register_parametrization(holder, "table", _symmetric(dg))
    assert list(holder.state_dict()) == ["parametrizations.table.original"]
    assert not isinstance(holder.parametrizations.table.original, nn.Parameter)

    lin = nn.Linear(3, 3)
    parametrize.register_parametrization(lin, "weight", _symmetric(dg))
    twin = copy.deepcopy(lin)
    assert type(twin).__name__ == "ParametrizedLinear" and twin.weight is not lin.weight
    _assert_close(twin.weight, lin.weight)
    original = lin.parametrizations.weight.original.detach().numpy().copy()
    parametrize.remove_parametrizations(lin, "weight", leave_parametrized=False)
    np.testing.assert_array_equal(lin.weight.detach().numpy(), original)

    other = parametrize.transfer_parametrizations_and_params(twin, nn.Linear(3, 3))
    assert parametrize.is_parametrized(other, "weight")
    assert other.parametrizations.weight.original is twin.parametrizations.weight.original


def test_parametrize_errors_match_torch():
    for lib, utils in ((torch, torch.nn.utils), (dg, nn.utils)):
        p = utils.parametrize
        m = lib.nn.Linear(3, 3)
        with pytest.raises(ValueError, match=r"may not change the shape of the tensor, unless "
                                             r"`unsafe` flag is enabled.\nunparametrized shape"):
            p.register_parametrization(m, "weight", _shape_changing(lib))
        with pytest.raises(ValueError, match="does not have a parameter, a buffer, or a "
                                             "parametrized element with name 'foo'"):
            p.register_parametrization(m, "foo", _symmetric(lib))
        with pytest.raises(ValueError, match="does not have a parametrization on weight"):
            p.remove_parametrizations(m, "weight")
        p.register_parametrization(m, "weight", _shape_changing(lib), unsafe=True)
        assert tuple(m.weight.shape) == (1, 3)
        m = p.register_parametrization(lib.nn.Linear(3, 3), "weight", _symmetric(lib))
        with pytest.raises(ValueError, match=r"unless the `unsafe` flag is enabled.\n"
                                             r"module.weight.shape"):
            p.register_parametrization(m, "weight", _shape_changing(lib))
        m.parametrizations.weight.append(_shape_changing(lib).__class__())
        with pytest.raises(RuntimeError, match="parametrization FirstRow does not implement "
                                               "right_inverse."):
            m.weight = lib.eye(3)
    with pytest.raises(RuntimeError, match="Serialization of parametrized modules is only "
                                           "supported through state_dict()"):
        m.__getstate__()


# -- parametrizations ----------------------------------------------------------------------------

LAYERS = {
    "Linear": (lambda n: n.Linear(3, 4), (2, 3)),
    "Conv2d": (lambda n: n.Conv2d(2, 3, 2), (2, 2, 4, 4)),
    "ConvTranspose2d": (lambda n: n.ConvTranspose2d(2, 3, 2), (2, 2, 3, 3)),
}


@pytest.mark.parametrize("layer", list(LAYERS))
@pytest.mark.parametrize("dim", [0, 1, None, -1])
@pytest.mark.parametrize("kind", ["parametrizations", "hooks"])
def test_weight_norm_matches_torch(layer, dim, kind):
    make, shape = LAYERS[layer]

    def apply(lib, utils, m):
        form = utils.parametrizations if kind == "parametrizations" else utils
        return form.weight_norm(m, dim=dim)

    mine, ref = _twins(make, apply)
    _run_both(mine, ref, np.random.default_rng(3).standard_normal(shape))


@pytest.mark.parametrize("layer", list(LAYERS))
@pytest.mark.parametrize("dim", [None, 1])
@pytest.mark.parametrize("kind", ["parametrizations", "hooks"])
def test_spectral_norm_matches_torch(layer, dim, kind):
    make, shape = LAYERS[layer]

    def apply(lib, utils, m):
        form = utils.parametrizations if kind == "parametrizations" else utils
        return form.spectral_norm(m, dim=dim, n_power_iterations=2)

    mine, ref = _twins(make, apply)
    _run_both(mine, ref, np.random.default_rng(4).standard_normal(shape))


def test_norms_gradcheck_and_removal():
    lin = parametrizations.weight_norm(nn.Linear(3, 2, dtype=dg.float64))
    g, v = lin.parametrizations.weight.original0, lin.parametrizations.weight.original1
    x = dg.randn(2, 3, dtype=dg.float64)
    assert gradcheck(lambda g_, v_: lin.parametrizations.weight[0](g_, v_), (g, v))
    sn = parametrizations.spectral_norm(nn.Linear(3, 2, dtype=dg.float64)).eval()
    assert gradcheck(lambda w: sn.parametrizations.weight[0](w),
                     (sn.parametrizations.weight.original,))

    with pytest.warns(FutureWarning, match="weight_norm` is deprecated"):
        old = nn.utils.weight_norm(nn.Linear(3, 2, dtype=dg.float64))
    assert list(old.state_dict()) == ["bias", "weight_g", "weight_v"]
    with pytest.raises(RuntimeError, match="Cannot register two weight_norm hooks"), \
            pytest.warns(FutureWarning):
        nn.utils.weight_norm(old)
    expected = old(x)
    nn.utils.remove_weight_norm(old)
    assert list(old.state_dict()) == ["bias", "weight"]
    _assert_close(old(x), expected)
    with pytest.raises(ValueError, match="weight_norm of 'weight' not found in"):
        nn.utils.remove_weight_norm(old)

    old_sn = nn.utils.spectral_norm(nn.Linear(3, 2, dtype=dg.float64)).eval()
    assert list(old_sn.state_dict()) == ["bias", "weight_orig", "weight_u", "weight_v"]
    with pytest.raises(RuntimeError, match="Cannot register two spectral_norm hooks"):
        nn.utils.spectral_norm(old_sn)
    expected = old_sn(x)
    nn.utils.remove_spectral_norm(old_sn)
    assert list(old_sn.state_dict()) == ["bias", "weight"]
    _assert_close(old_sn(x), expected)


def test_weight_norm_loads_old_state_dicts():
    with pytest.warns(FutureWarning):
        old = nn.utils.weight_norm(nn.Linear(3, 2))
    new = parametrizations.weight_norm(nn.Linear(3, 2))
    new.load_state_dict(old.state_dict())
    _assert_close(new.weight, old.weight)


def test_norm_errors_match_torch():
    for lib, utils in ((torch, torch.nn.utils), (dg, nn.utils)):
        with pytest.raises(ValueError, match="Expected n_power_iterations to be positive"):
            utils.parametrizations.spectral_norm(lib.nn.Linear(2, 2), n_power_iterations=0)
        with pytest.raises(IndexError, match=r"Dimension out of range \(expected to be in range "
                                             r"of \[-2, 1\] but got 2\)"):
            utils.parametrizations.spectral_norm(lib.nn.Linear(2, 2), dim=2)
        with pytest.raises(ValueError, match="has no parameter or buffer with name 'w'"):
            utils.parametrizations.spectral_norm(lib.nn.Linear(2, 2), name="w")


@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (3, 5), (2, 4, 3)])
@pytest.mark.parametrize("orthogonal_map,use_trivialization", [
    ("matrix_exp", True), ("cayley", True), ("householder", True), ("householder", False)])
def test_orthogonal_matches_torch(shape, orthogonal_map, use_trivialization):
    rng = np.random.default_rng(5)

    def apply(lib, utils, m):
        m.register_parameter("weight", lib.nn.Parameter(lib.tensor(rng.standard_normal(shape))))
        return utils.parametrizations.orthogonal(m, orthogonal_map=orthogonal_map,
                                                 use_trivialization=use_trivialization)

    mine, ref = _twins(lambda n: n.Module(), apply)
    state = dict(ref.state_dict())  # a random original exercises the whole map
    state["parametrizations.weight.original"] = torch.tensor(3 * rng.standard_normal(shape))
    ref.load_state_dict(state)
    mine.load_state_dict({k: dg.tensor(v.numpy()) for k, v in state.items()})
    weights = rng.standard_normal(shape)
    for lib, module in ((torch, ref), (dg, mine)):
        (module.weight * lib.tensor(weights)).sum().backward()
    _assert_close(mine.weight, ref.weight, rtol=1e-9)
    _assert_close(mine.parametrizations.weight.original.grad,
                  ref.parametrizations.weight.original.grad, rtol=1e-8)

    q = np.linalg.qr(rng.standard_normal((*shape[:-2], max(shape[-2:]), min(shape[-2:]))))[0]
    target = q.swapaxes(-1, -2) if shape[-2] < shape[-1] else q
    with torch.no_grad():
        ref.weight = torch.tensor(target)
    mine.weight = dg.tensor(target)
    np.testing.assert_allclose(mine.weight.detach().numpy(), target, atol=1e-10)
    if not use_trivialization:
        _assert_close(mine.parametrizations.weight.original, ref.parametrizations.weight.original)


def test_orthogonal_gradcheck_and_errors():
    lin = parametrizations.orthogonal(nn.Linear(3, 3, dtype=dg.float64))
    x = dg.randn(3, 3, dtype=dg.float64, requires_grad=True)
    assert gradcheck(lambda t: lin.parametrizations.weight[0](t), (x,))
    for lib, utils in ((torch, torch.nn.utils), (dg, nn.utils)):
        with pytest.raises(ValueError, match="Expected a matrix or batch of matrices. Got a "
                                             "tensor of 1 dimensions."):
            utils.parametrizations.orthogonal(lib.nn.Linear(3, 3), name="bias")
        with pytest.raises(ValueError, match='orthogonal_map has to be one of "matrix_exp", '
                                             '"cayley", "householder". Got: qr'):
            utils.parametrizations.orthogonal(lib.nn.Linear(3, 3), orthogonal_map="qr")
        m = utils.parametrizations.orthogonal(lib.nn.Linear(3, 3), use_trivialization=False)
        with pytest.raises(NotImplementedError, match="It is not possible to assign to the "
                                                      "matrix exponential"):
            m.weight = lib.eye(3)
