"""``distgrad.nn.functional``: PyTorch's ``torch.nn.functional`` on distgrad tensors.

Every function takes and returns ``Tensor``s with PyTorch's signature; the heavy ones (linear,
the convolutions and transposed convolutions, unfold/fold, pooling, softmax/log_softmax, the
losses, normalisation, embedding, dropout, interpolate) are single autograd nodes with
hand-written backward formulas on raw arrays (see ``distgrad/ops/nn/``); attention is composed
of them.
This module imports nothing from ``distgrad.nn.modules``.
"""
from __future__ import annotations

from ..ops import elementwise as _elementwise
from ..ops import shape as _shape
from ..ops.nn import (adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d,  # noqa: F401
                      adaptive_max_pool1d, adaptive_max_pool2d, adaptive_max_pool3d, alpha_dropout,
                      avg_pool1d, avg_pool2d, avg_pool3d, batch_norm, bilinear,
                      binary_cross_entropy, binary_cross_entropy_with_logits, celu, channel_shuffle,
                      conv1d, conv2d, conv3d, conv_transpose1d, conv_transpose2d, conv_transpose3d,
                      cosine_embedding_loss, cosine_similarity, cross_entropy, dropout, dropout1d,
                      dropout2d, dropout3d, elu, embedding, feature_alpha_dropout, fold,
                      gaussian_nll_loss, glu, group_norm, gumbel_softmax, hardshrink, hardsigmoid,
                      hardswish, hardtanh, hinge_embedding_loss, huber_loss, instance_norm,
                      interpolate, kl_div, l1_loss, layer_norm, leaky_relu, linear,
                      local_response_norm, log_softmax, logsigmoid, lp_pool1d, lp_pool2d, lp_pool3d,
                      margin_ranking_loss, max_pool1d, max_pool2d, max_pool2d_with_indices,
                      max_pool3d, max_pool3d_with_indices, max_unpool1d, max_unpool2d, max_unpool3d,
                      mish, mse_loss, multi_head_attention_forward, multi_margin_loss,
                      multilabel_margin_loss, multilabel_soft_margin_loss, nll_loss, normalize,
                      one_hot, pad, pairwise_distance, pdist, pixel_shuffle, pixel_unshuffle,
                      poisson_nll_loss, prelu, relu6, rms_norm, rrelu, scaled_dot_product_attention,
                      selu, silu, smooth_l1_loss, soft_margin_loss, softmax, softmin, softplus,
                      softshrink, softsign, tanhshrink, threshold, triplet_margin_loss,
                      triplet_margin_with_distance_loss, unfold, upsample, upsample_bilinear,
                      upsample_nearest)
from ..ops.nn.attention import _canonical_mask  # noqa: F401
from ..ops.nn.ctc import ctc_loss  # noqa: F401
from ..ops.nn.embedding import embedding_bag  # noqa: F401
from ..ops.nn.sampling import affine_grid, grid_sample  # noqa: F401
from ..tensor import Tensor as _Tensor

flatten = _shape.flatten
unflatten = _shape.unflatten


def relu(input, inplace=False):
    """``max(x, 0)``."""
    if inplace:
        return input.relu_()
    return _elementwise.relu(input)


def relu_(input):
    """In-place ``relu``."""
    return input.relu_()


def gelu(input, approximate="none"):
    """Gaussian error linear unit (exact, or ``approximate='tanh'``)."""
    return _elementwise.gelu(input, approximate=approximate)


def tanh(input):
    """Hyperbolic tangent."""
    return _elementwise.tanh(input)


def sigmoid(input):
    """Logistic sigmoid."""
    return _elementwise.sigmoid(input)


def hardtanh_(input, min_val=-1.0, max_val=1.0):
    """In-place ``hardtanh``."""
    return hardtanh(input, min_val, max_val, True)


def elu_(input, alpha=1.0):
    """In-place ``elu``."""
    return elu(input, alpha, True)


def leaky_relu_(input, negative_slope=0.01):
    """In-place ``leaky_relu``."""
    return leaky_relu(input, negative_slope, True)


def _none_or_dtype(input):
    """The dtype of ``input``, or None for None (the mask checks compare mask dtypes)."""
    if input is None:
        return None
    if isinstance(input, _Tensor):
        return input.dtype
    raise RuntimeError("input to _none_or_dtype() must be None or torch.Tensor")


__all__ = [name for name in dir() if not name.startswith("_") and name != "annotations"]
