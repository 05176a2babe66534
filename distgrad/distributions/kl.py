"""``kl_divergence(p, q)`` and ``register_kl``: the Kullback-Leibler divergence KL(p || q)
between two distributions, dispatched on their types."""
from __future__ import annotations

import functools
import math

from .. import ops
from ..ops.nn.activation import softplus
from .bernoulli import Bernoulli
from .categorical import Categorical
from .distribution import Distribution
from .exponential import Exponential
from .independent import Independent, sum_rightmost
from .laplace import Laplace
from .multivariate_normal import MultivariateNormal, half_log_det, solve_lower
from .normal import Normal
from .one_hot_categorical import OneHotCategorical
from .uniform import Uniform

__all__ = ["kl_divergence", "register_kl"]

_KL_REGISTRY: dict = {}
_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def register_kl(type_p, type_q):
    """Decorator that registers ``fn(p, q)`` as KL(p || q) for instances of ``type_p`` and
    ``type_q`` (and their subclasses, unless a more specific pair is registered)."""
    for name, cls in (("type_p", type_p), ("type_q", type_q)):
        if not (isinstance(cls, type) and issubclass(cls, Distribution)):
            raise TypeError(f"Expected {name} to be a Distribution subclass but got {cls}")

    def decorator(fn):
        _KL_REGISTRY[type_p, type_q] = fn
        _dispatch.cache_clear()
        return fn
    return decorator


@functools.lru_cache(maxsize=None)
def _dispatch(type_p, type_q):
    """The registered function of the most specific pair of base classes (the one closest to
    ``type_p`` first, then to ``type_q``), or None."""
    mro_p, mro_q = type_p.__mro__, type_q.__mro__
    matches = [(mro_p.index(p), mro_q.index(q), fn) for (p, q), fn in _KL_REGISTRY.items()
               if p in mro_p and q in mro_q]
    return min(matches, key=lambda m: m[:2])[2] if matches else None


def kl_divergence(p: Distribution, q: Distribution):
    """KL(p || q), of the broadcast batch shape of ``p`` and ``q``; differentiable w.r.t. both
    distributions' parameters."""
    fn = _dispatch(type(p), type(q))
    if fn is None:
        raise NotImplementedError(f"No KL(p || q) is implemented for p type "
                                  f"{type(p).__name__} and q type {type(q).__name__}")
    return fn(p, q)


def _inf_where(condition, value):
    """``value`` with ``inf`` where ``condition`` holds."""
    return ops.where(condition, float("inf"), value)


def _zero_where(condition, value):
    """``value`` with 0 where ``condition`` holds."""
    return ops.where(condition, 0.0, value)


@register_kl(Normal, Normal)
def _kl_normal_normal(p, q):
    var_ratio = (p.scale / q.scale).pow(2)
    t1 = ((p.loc - q.loc) / q.scale).pow(2)
    return 0.5 * (var_ratio + t1 - 1 - var_ratio.log())


@register_kl(Uniform, Uniform)
def _kl_uniform_uniform(p, q):
    result = ((q.high - q.low) / (p.high - p.low)).log()
    return _inf_where((q.low > p.low) | (q.high < p.high), result)


@register_kl(Bernoulli, Bernoulli)
def _kl_bernoulli_bernoulli(p, q):
    t1 = p.probs * (softplus(-q.logits) - softplus(-p.logits))
    t1 = _zero_where(p.probs == 0, _inf_where(q.probs == 0, t1))
    t2 = (1 - p.probs) * (softplus(q.logits) - softplus(p.logits))
    t2 = _zero_where(p.probs == 1, _inf_where(q.probs == 1, t2))
    return t1 + t2


@register_kl(Categorical, Categorical)
def _kl_categorical_categorical(p, q):
    t = p.probs * (p.logits - q.logits)
    return _zero_where(p.probs == 0, _inf_where(q.probs == 0, t)).sum(-1)


@register_kl(OneHotCategorical, OneHotCategorical)
def _kl_onehotcategorical_onehotcategorical(p, q):
    return _kl_categorical_categorical(p._categorical, q._categorical)


@register_kl(Exponential, Exponential)
def _kl_exponential_exponential(p, q):
    rate_ratio = q.rate / p.rate
    return rate_ratio - rate_ratio.log() - 1


@register_kl(Laplace, Laplace)
def _kl_laplace_laplace(p, q):
    scale_ratio = p.scale / q.scale
    loc_abs_diff = (p.loc - q.loc).abs()
    return (-scale_ratio.log() + loc_abs_diff / q.scale
            + scale_ratio * (-loc_abs_diff / p.scale).exp() - 1)


@register_kl(MultivariateNormal, MultivariateNormal)
def _kl_multivariatenormal_multivariatenormal(p, q):
    if p.event_shape != q.event_shape:
        raise ValueError("KL-divergence between two Multivariate Normals with different event "
                         "shapes cannot be computed")
    p_low, q_low = p._unbroadcasted_scale_tril, q._unbroadcasted_scale_tril
    half_term1 = half_log_det(q_low) - half_log_det(p_low)
    term2 = solve_lower(q_low, p_low).pow(2).sum((-2, -1))
    diff = (q.loc - p.loc).unsqueeze(-1)
    term3 = solve_lower(q_low, diff).pow(2).sum((-2, -1))
    n = p.event_shape[0]
    return half_term1 + 0.5 * (term2 + term3 - n)


@register_kl(Independent, Independent)
def _kl_independent_independent(p, q):
    if p.reinterpreted_batch_ndims != q.reinterpreted_batch_ndims:
        raise NotImplementedError
    return sum_rightmost(kl_divergence(p.base_dist, q.base_dist), p.reinterpreted_batch_ndims)


def _normal_expected_log(q, second_moment_about_loc):
    """``-E_p[log q(x)]`` for a normal ``q``, given ``E_p[(x - q.loc)^2]``."""
    return q.scale.log() + _HALF_LOG_2PI + second_moment_about_loc / (2 * q.scale.pow(2))


@register_kl(Exponential, Normal)
def _kl_exponential_normal(p, q):
    mean = p.rate.reciprocal()
    second_moment = 2 * mean.pow(2) - 2 * q.loc * mean + q.loc.pow(2)
    return -p.entropy() + _normal_expected_log(q, second_moment)


@register_kl(Laplace, Normal)
def _kl_laplace_normal(p, q):
    second_moment = 2 * p.scale.pow(2) + (p.loc - q.loc).pow(2)
    return -p.entropy() + _normal_expected_log(q, second_moment)


@register_kl(Uniform, Normal)
def _kl_uniform_normal(p, q):
    width = p.high - p.low
    second_moment = ((p.high - q.loc).pow(3) - (p.low - q.loc).pow(3)) / (3 * width)
    return -p.entropy() + _normal_expected_log(q, second_moment)


@register_kl(Normal, Laplace)
def _kl_normal_laplace(p, q):
    delta = p.loc - q.loc
    mean_abs = (p.scale * math.sqrt(2 / math.pi) * (-delta.pow(2) / (2 * p.variance)).exp()
                + delta * ops.erf(delta / (p.scale * math.sqrt(2))))
    return -p.entropy() + (2 * q.scale).log() + mean_abs / q.scale


@register_kl(Uniform, Exponential)
def _kl_uniform_exponential(p, q):
    result = -p.entropy() - q.rate.log() + q.rate * (p.high + p.low) / 2
    return _inf_where(p.low < 0, result)


def _kl_infinity(p, q):
    """Infinite: ``p``'s support is not inside ``q``'s."""
    like = p.mean
    return ops.full(like.shape, float("inf"), dtype=like.dtype, device=like.device)


for _pair in ((Exponential, Uniform), (Laplace, Uniform), (Laplace, Exponential),
              (Normal, Uniform), (Normal, Exponential)):
    register_kl(*_pair)(_kl_infinity)
