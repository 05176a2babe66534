"""``distgrad.distributions`` against ``torch.distributions``: values, gradients, shapes,
sampling, KL divergences and argument validation."""
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.distributions as TD  # noqa: E402

import distgrad as dg  # noqa: E402
import distgrad.distributions as DD  # noqa: E402

RNG = np.random.default_rng(0)


def _positive(*shape):
    return RNG.uniform(0.5, 2.0, shape)


def _probs(*shape):
    p = RNG.uniform(0.1, 1.0, shape)
    return p / p.sum(-1, keepdims=True)


def _spd(*shape):
    a = RNG.normal(size=shape)
    return a @ np.swapaxes(a, -1, -2) + shape[-1] * np.eye(shape[-1])


def _one_hot(index, k):
    return np.eye(k)[index]


# name: (builder(D, params), params, value, has cdf/icdf)
CASES = {
    "normal": (lambda D, p: D.Normal(p["loc"], p["scale"]),
               {"loc": RNG.normal(size=(3, 1)), "scale": _positive(4)},
               RNG.normal(size=(2, 3, 4)), True),
    "uniform": (lambda D, p: D.Uniform(p["low"], p["high"]),
                {"low": RNG.uniform(-1, 0, (3, 1)), "high": RNG.uniform(1, 2, 4)},
                RNG.uniform(0, 1, (3, 4)), True),
    "exponential": (lambda D, p: D.Exponential(p["rate"]), {"rate": _positive(3)},
                    _positive(2, 3), True),
    "laplace": (lambda D, p: D.Laplace(p["loc"], p["scale"]),
                {"loc": RNG.normal(size=(3, 1)), "scale": _positive(4)},
                RNG.normal(size=(3, 4)), True),
    "bernoulli_probs": (lambda D, p: D.Bernoulli(probs=p["probs"]),
                        {"probs": RNG.uniform(0.1, 0.9, 3)},
                        RNG.integers(0, 2, (2, 3)).astype(float), False),
    "bernoulli_logits": (lambda D, p: D.Bernoulli(logits=p["logits"]),
                         {"logits": RNG.normal(size=(2, 3))},
                         RNG.integers(0, 2, (4, 1, 3)).astype(float), False),
    "categorical_probs": (lambda D, p: D.Categorical(probs=p["probs"]),
                          {"probs": _probs(2, 4)}, RNG.integers(0, 4, (3, 2)), False),
    "categorical_logits": (lambda D, p: D.Categorical(logits=p["logits"]),
                           {"logits": RNG.normal(size=(2, 4))}, RNG.integers(0, 4, (3, 1)),
                           False),
    "onehot_probs": (lambda D, p: D.OneHotCategorical(probs=p["probs"]),
                     {"probs": _probs(2, 4)}, _one_hot(RNG.integers(0, 4, (3, 2)), 4), False),
    "onehot_logits": (lambda D, p: D.OneHotCategorical(logits=p["logits"]),
                      {"logits": RNG.normal(size=(4,))}, _one_hot(RNG.integers(0, 4, 5), 4),
                      False),
    "mvn_covariance": (lambda D, p: D.MultivariateNormal(p["loc"], covariance_matrix=p["cov"]),
                       {"loc": RNG.normal(size=(2, 3)), "cov": _spd(3, 3)},
                       RNG.normal(size=(4, 2, 3)), False),
    "mvn_precision": (lambda D, p: D.MultivariateNormal(p["loc"], precision_matrix=p["prec"]),
                      {"loc": RNG.normal(size=3), "prec": _spd(2, 3, 3)},
                      RNG.normal(size=(4, 1, 3)), False),
    "mvn_scale_tril": (lambda D, p: D.MultivariateNormal(p["loc"], scale_tril=p["tril"]),
                       {"loc": RNG.normal(size=(2, 3)), "tril": np.linalg.cholesky(_spd(3, 3))},
                       RNG.normal(size=3), False),
    "independent": (lambda D, p: D.Independent(D.Normal(p["loc"], p["scale"]), 1),
                    {"loc": RNG.normal(size=(2, 3)), "scale": _positive(3)},
                    RNG.normal(size=(5, 2, 3)), False),
}


def _leaves(lib, params):
    """The parameters as float64 leaves that require grad, in ``lib`` (distgrad or torch)."""
    return {k: lib.tensor(v, dtype=lib.float64, requires_grad=True) for k, v in params.items()}


def _value(lib, value):
    return lib.tensor(value, dtype=lib.int64 if value.dtype.kind == "i" else lib.float64)


def _pair(name):
    """The case's distribution in distgrad and in torch, with their parameter leaves."""
    build, params, value, has_cdf = CASES[name]
    dp, tp = _leaves(dg, params), _leaves(torch, params)
    return build(DD, dp), dp, build(TD, tp), tp, value, has_cdf


def _close(ours, theirs, rtol=1e-9, atol=1e-10):
    theirs = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else theirs
    ours = ours.detach().numpy() if isinstance(ours, dg.Tensor) else ours
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol)


def _quantiles(d):
    return np.linspace(0.05, 0.95, int(np.prod(d.batch_shape))).reshape(d.batch_shape)


@pytest.mark.parametrize("name", CASES)
def test_statistics_against_torch(name):
    d, _, t, _, value, has_cdf = _pair(name)
    assert d.batch_shape == tuple(t.batch_shape) and d.event_shape == tuple(t.event_shape)
    _close(d.log_prob(_value(dg, value)), t.log_prob(_value(torch, value)))
    for attr in ("mean", "mode", "variance", "stddev"):
        _close(getattr(d, attr), getattr(t, attr))
    _close(d.entropy(), t.entropy())
    if has_cdf:
        _close(d.cdf(_value(dg, value)), t.cdf(_value(torch, value)))
        q = _quantiles(d)
        _close(d.icdf(dg.tensor(q, dtype=dg.float64)), t.icdf(torch.tensor(q)))
    assert d.has_rsample == t.has_rsample


@pytest.mark.parametrize("name", CASES)
def test_gradients_against_torch(name):
    d, dp, t, tp, value, has_cdf = _pair(name)
    losses = []
    for dist, lib in ((d, dg), (t, torch)):
        loss = dist.log_prob(_value(lib, value)).sum() + dist.entropy().sum()
        if has_cdf:
            q = lib.tensor(_quantiles(d), dtype=lib.float64)
            loss = loss + dist.cdf(_value(lib, value)).sum() + dist.icdf(q).sum()
        loss.backward()
        losses.append(loss)
    _close(losses[0], losses[1])
    for k in dp:
        _close(dp[k].grad, tp[k].grad, rtol=1e-7, atol=1e-9)


# rsample: torch's transform of the same noise (standard normal or uniform draws)
RSAMPLE = {
    "normal": (dg.randn, lambda t, eps: t.loc + t.scale * eps),
    "uniform": (dg.rand, lambda t, u: t.icdf(u)),
    "exponential": (dg.rand, lambda t, u: t.icdf(u)),
    "laplace": (dg.rand, lambda t, u: t.icdf(u)),
    "mvn_covariance": (dg.randn, lambda t, eps: t.loc + (t.scale_tril @ eps[..., None])[..., 0]),
    "mvn_precision": (dg.randn, lambda t, eps: t.loc + (t.scale_tril @ eps[..., None])[..., 0]),
    "mvn_scale_tril": (dg.randn, lambda t, eps: t.loc + (t.scale_tril @ eps[..., None])[..., 0]),
    "independent": (dg.randn, lambda t, eps: t.base_dist.loc + t.base_dist.scale * eps),
}


@pytest.mark.parametrize("name", RSAMPLE)
def test_rsample_against_torch_transform(name):
    draw, transform = RSAMPLE[name]
    d, dp, t, tp, _, _ = _pair(name)
    shape = (5,) + d.batch_shape + d.event_shape
    dg.manual_seed(3)
    noise = draw(shape, dtype=dg.float64).numpy()
    dg.manual_seed(3)
    x = d.rsample((5,))
    y = transform(t, torch.tensor(noise))
    _close(x, y)
    (x.sin().sum()).backward()
    (y.sin().sum()).backward()
    for k in dp:
        _close(dp[k].grad, tp[k].grad, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("name", CASES)
def test_sample_shape_dtype_and_seed(name):
    d, _, t, _, _, _ = _pair(name)
    dg.manual_seed(7)
    a = d.sample((2, 3))
    dg.manual_seed(7)
    b = d.sample((2, 3))
    c = d.sample((2, 3))
    ts = t.sample((2, 3))
    assert a.shape == tuple(ts.shape)
    assert str(a.dtype) == str(ts.dtype).replace("torch.", "")
    assert not a.requires_grad
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert not np.array_equal(a.numpy(), c.numpy())
    assert d.sample().shape == d.batch_shape + d.event_shape


SAMPLE_STATS = {
    "normal": lambda: DD.Normal(dg.tensor([0.5, -1.0]), dg.tensor([1.0, 2.0])),
    "uniform": lambda: DD.Uniform(dg.tensor([-1.0, 0.0]), dg.tensor([1.0, 3.0])),
    "exponential": lambda: DD.Exponential(dg.tensor([0.5, 2.0])),
    "laplace": lambda: DD.Laplace(dg.tensor([1.0]), dg.tensor([0.5])),
    "bernoulli": lambda: DD.Bernoulli(dg.tensor([0.2, 0.7])),
    "onehot": lambda: DD.OneHotCategorical(dg.tensor([0.1, 0.2, 0.7])),
    "mvn": lambda: DD.MultivariateNormal(dg.tensor([1.0, -1.0]),
                                         dg.tensor([[2.0, 0.6], [0.6, 1.0]])),
}


@pytest.mark.parametrize("name", SAMPLE_STATS)
def test_sample_moments(name):
    d = SAMPLE_STATS[name]()
    dg.manual_seed(0)
    x = d.sample((40000,)).numpy().astype(np.float64)
    scale = np.sqrt(d.variance.numpy())
    np.testing.assert_allclose(x.mean(0), d.mean.numpy(), atol=0.03 * scale.max())
    np.testing.assert_allclose(x.var(0), d.variance.numpy(), rtol=0.05, atol=0.01)


def test_categorical_sample_frequencies_and_mvn_covariance():
    probs = np.array([[0.1, 0.6, 0.3], [0.5, 0.25, 0.25]])
    dg.manual_seed(1)
    x = DD.Categorical(dg.tensor(probs)).sample((40000,)).numpy()
    freq = np.stack([(x == k).mean(0) for k in range(3)], -1)
    np.testing.assert_allclose(freq, probs, atol=0.01)
    cov = np.array([[2.0, 0.6], [0.6, 1.0]])
    y = DD.MultivariateNormal(dg.zeros(2, dtype=dg.float64), dg.tensor(cov)).sample((40000,))
    np.testing.assert_allclose(np.cov(y.numpy().T), cov, atol=0.06)


def test_expand_matches_torch():
    for name in ("normal", "categorical_probs", "mvn_scale_tril", "bernoulli_logits",
                 "independent"):
        d, _, t, _, _, _ = _pair(name)
        shape = (5,) + d.batch_shape
        de, te = d.expand(shape), t.expand(shape)
        assert de.batch_shape == tuple(te.batch_shape) and de.event_shape == d.event_shape
        value = de.sample().numpy()
        _close(de.log_prob(_value(dg, value)), te.log_prob(_value(torch, value)))
        assert de.sample().shape == tuple(te.sample().shape)


def test_enumerate_support_matches_torch():
    for name in ("bernoulli_probs", "categorical_probs", "onehot_probs"):
        d, _, t, _, _, _ = _pair(name)
        for expand in (True, False):
            ours, theirs = d.enumerate_support(expand), t.enumerate_support(expand)
            np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


# KL pairs: (p case builder, q case builder) over shared parameter values
def _normal(D, p, s=""):
    return D.Normal(p["loc" + s], p["scale" + s])


KL_CASES = {
    "normal_normal": (lambda D, p: (_normal(D, p), _normal(D, p, "2")), ("loc", "scale")),
    "uniform_uniform": (lambda D, p: (D.Uniform(p["low"], p["high"]),
                                      D.Uniform(p["low2"], p["high2"])), ("low", "high")),
    "bernoulli": (lambda D, p: (D.Bernoulli(p["probs"]), D.Bernoulli(logits=p["logits"])), ()),
    "categorical": (lambda D, p: (D.Categorical(p["cprobs"]), D.Categorical(logits=p["clogits"])),
                    ()),
    "onehot": (lambda D, p: (D.OneHotCategorical(p["cprobs"]),
                             D.OneHotCategorical(logits=p["clogits"])), ()),
    "exponential": (lambda D, p: (D.Exponential(p["rate"]), D.Exponential(p["rate2"])), ()),
    "laplace": (lambda D, p: (D.Laplace(p["loc"], p["scale"]), D.Laplace(p["loc2"], p["scale2"])),
                ()),
    "mvn": (lambda D, p: (D.MultivariateNormal(p["mloc"], scale_tril=p["tril"]),
                          D.MultivariateNormal(p["mloc2"], covariance_matrix=p["cov"])), ()),
    "independent": (lambda D, p: (D.Independent(_normal(D, p), 1),
                                  D.Independent(_normal(D, p, "2"), 1)), ()),
    "exponential_normal": (lambda D, p: (D.Exponential(p["rate"]), _normal(D, p)), ()),
    "laplace_normal": (lambda D, p: (D.Laplace(p["loc"], p["scale"]), _normal(D, p, "2")), ()),
    "normal_laplace": (lambda D, p: (_normal(D, p), D.Laplace(p["loc2"], p["scale2"])), ()),
    "uniform_normal": (lambda D, p: (D.Uniform(p["low"], p["high"]), _normal(D, p)), ()),
    "uniform_exponential": (lambda D, p: (D.Uniform(p["low"], p["high"]),
                                          D.Exponential(p["rate"])), ()),
    "normal_uniform": (lambda D, p: (_normal(D, p), D.Uniform(p["low"], p["high"])), ()),
    "laplace_exponential": (lambda D, p: (D.Laplace(p["loc"], p["scale"]),
                                          D.Exponential(p["rate"])), ()),
}

KL_PARAMS = {
    "loc": RNG.normal(size=(2, 3)), "scale": _positive(3), "loc2": RNG.normal(size=3),
    "scale2": _positive(2, 1), "low": np.array([-1.0, 0.2, 0.1]), "high": np.array([1.0, 2.0, 0.5]),
    "low2": np.array([-2.0, 0.5, 0.0]), "high2": np.array([2.0, 3.0, 0.4]),
    "probs": np.array([0.0, 0.3, 0.9]), "logits2": RNG.normal(size=(2, 3)),
    "logits": RNG.normal(size=3), "cprobs": np.array([[0.0, 0.2, 0.8], [0.3, 0.3, 0.4]]),
    "clogits": RNG.normal(size=3), "rate": _positive(3), "rate2": _positive(2, 3),
    "mloc": RNG.normal(size=(2, 3)), "mloc2": RNG.normal(size=3),
    "tril": np.linalg.cholesky(_spd(2, 3, 3)), "cov": _spd(3, 3),
}


@pytest.mark.parametrize("name", KL_CASES)
def test_kl_divergence_against_torch(name):
    build = KL_CASES[name][0]
    dp, tp = _leaves(dg, KL_PARAMS), _leaves(torch, KL_PARAMS)
    ours, theirs = DD.kl_divergence(*build(DD, dp)), TD.kl_divergence(*build(TD, tp))
    _close(ours, theirs)
    finite_ours = dg.where(ours.isfinite(), ours, 0.0).sum()
    finite_theirs = torch.where(theirs.isfinite(), theirs, 0.0).sum()
    if finite_theirs.requires_grad:
        finite_ours.backward()
        finite_theirs.backward()
        for k in dp:
            if tp[k].grad is not None:
                _close(dp[k].grad, tp[k].grad, rtol=1e-7, atol=1e-9)


def test_kl_registry_dispatch_and_errors():
    with pytest.raises(NotImplementedError, match="No KL"):
        DD.kl_divergence(DD.Bernoulli(0.3), DD.Normal(0.0, 1.0))

    class MyNormal(DD.Normal):
        """A subclass that gets a KL of its own."""

    p = MyNormal(0.0, 1.0)
    q = DD.Normal(1.0, 2.0)
    np.testing.assert_allclose(DD.kl_divergence(p, q).item(),
                               DD.kl_divergence(DD.Normal(0.0, 1.0), q).item())
    DD.register_kl(MyNormal, DD.Normal)(lambda p, q: dg.tensor(-1.0))
    assert DD.kl_divergence(p, q).item() == -1.0
    assert DD.kl_divergence(q, p).item() != -1.0
    with pytest.raises(TypeError):
        DD.register_kl(int, DD.Normal)
    with pytest.raises(ValueError, match="different event shapes"):
        DD.kl_divergence(DD.MultivariateNormal(dg.zeros(2), dg.eye(2)),
                         DD.MultivariateNormal(dg.zeros(3), dg.eye(3)))


# invalid arguments: (builder(D, tensor), phrase that both PyTorch's and our message contain)
INVALID = [
    (lambda D, T: D.Normal(T([0.0, 1.0]), T([1.0, -1.0])),
     "Expected parameter scale (Tensor of shape (2,)) of distribution Normal("),
    (lambda D, T: D.Normal(T([0.0, 1.0]), T([1.0, -1.0])),
     "to satisfy the constraint GreaterThan(lower_bound=0.0), but found invalid values"),
    (lambda D, T: D.Uniform(T([1.0, 0.0]), T([0.0, 1.0])), "constraint LessThan(upper_bound="),
    (lambda D, T: D.Exponential(T([0.0])), "Expected parameter rate"),
    (lambda D, T: D.Laplace(T(float("nan")), T(1.0)),
     "to satisfy the constraint Real(), but found invalid values"),
    (lambda D, T: D.Bernoulli(T([1.5])),
     "the constraint Interval(lower_bound=0.0, upper_bound=1.0)"),
    (lambda D, T: D.Bernoulli(), "Either `probs` or `logits` must be specified, but not both."),
    (lambda D, T: D.Bernoulli(T(0.5), T(0.0)), "Either `probs` or `logits` must be specified"),
    (lambda D, T: D.Categorical(T([1.5, -0.5])), "the constraint Simplex()"),
    (lambda D, T: D.Categorical(T(0.5)), "`probs` parameter must be at least one-dimensional."),
    (lambda D, T: D.MultivariateNormal(T([0.0, 0.0])),
     "Exactly one of covariance_matrix or precision_matrix or scale_tril may be specified."),
    (lambda D, T: D.MultivariateNormal(T(0.0), T([[1.0]])), "loc must be at least one-dimensional"),
    (lambda D, T: D.MultivariateNormal(T([0.0, 0.0]), scale_tril=T([[1.0, 1.0], [0.0, 1.0]])),
     "the constraint LowerCholesky()"),
    (lambda D, T: D.MultivariateNormal(T([0.0, 0.0]), T([[1.0, 2.0], [2.0, 1.0]])),
     "the constraint PositiveDefinite()"),
    (lambda D, T: D.Independent(D.Normal(T([0.0]), T([1.0])), 2),
     "Expected reinterpreted_batch_ndims <= len(base_distribution.batch_shape), actual 2 vs 1"),
    (lambda D, T: D.Exponential(T([1.0, 1.0])).log_prob(T([-1.0, 1.0])),
     "Expected value argument (Tensor of shape (2,)) to be within the support "
     "(GreaterThanEq(lower_bound=0.0)) of the distribution Exponential(rate: "),
    (lambda D, T: D.Bernoulli(T([0.5])).log_prob(T([0.5])), "to be within the support (Boolean())"),
    (lambda D, T: D.Categorical(T([0.5, 0.5])).log_prob(T(2)),
     "within the support (IntegerInterval(lower_bound=0, upper_bound=1))"),
    (lambda D, T: D.OneHotCategorical(T([0.5, 0.5])).log_prob(T([1.0, 1.0])),
     "within the support (OneHot())"),
    (lambda D, T: D.Uniform(T(0.0), T(1.0)).log_prob(T(2.0)),
     "to be within the support (Interval(lower_bound="),
    (lambda D, T: D.Normal(T([0.0, 0.0]), T(1.0)).log_prob(T([0.0, 0.0, 0.0])),
     "Value is not broadcastable with batch_shape+event_shape:"),
    (lambda D, T: D.MultivariateNormal(T([0.0, 0.0]), T([[1.0, 0.0], [0.0, 1.0]])).log_prob(
        T([0.0, 0.0, 0.0])), "The right-most size of value must match event_shape:"),
    (lambda D, T: D.Normal(T(0.0), T(1.0)).log_prob(1.0),
     "The value argument to log_prob must be a Tensor"),
]


@pytest.mark.parametrize("case", range(len(INVALID)))
def test_validation_errors_match_torch(case):
    build, phrase = INVALID[case]
    for D, lib in ((DD, dg), (TD, torch)):
        with pytest.raises(ValueError) as info:
            build(D, lambda v: lib.tensor(v, dtype=lib.float64 if isinstance(v, (list, float))
                                          else lib.int64))
        assert phrase in str(info.value), (lib.__name__, str(info.value))


def test_set_default_validate_args():
    for D in (DD, TD):
        try:
            D.Distribution.set_default_validate_args(False)
            D.Normal(0.0, -1.0)  # accepted without validation
            D.Exponential(1.0).log_prob(D.Normal(0.0, 1.0).loc - 1)
        finally:
            D.Distribution.set_default_validate_args(True)
        with pytest.raises(ValueError):
            D.Normal(0.0, -1.0)
        D.Normal(0.0, -1.0, validate_args=False)
        with pytest.raises(ValueError):
            D.Distribution.set_default_validate_args(3)


def test_non_reparameterisable_and_repr():
    d = DD.Bernoulli(dg.tensor([0.3], requires_grad=True))
    with pytest.raises(NotImplementedError):
        d.rsample()
    assert not d.has_rsample and DD.Normal(0.0, 1.0).has_rsample
    assert repr(DD.Normal(0.0, 1.0)) == "Normal(loc: 0.0, scale: 1.0)"
    assert repr(DD.Exponential(dg.ones(3))) == "Exponential(rate: distgrad.Size([3]))"
    assert DD.Normal(0.0, 1.0).mean.dtype == dg.float32
    assert DD.Normal(dg.zeros(2, dtype=dg.float64), 1.0).loc.dtype == dg.float64
