"""Attention: ``scaled_dot_product_attention`` and ``multi_head_attention_forward``, composed of
engine ops (matmul, softmax, dropout, linear, cat, pad), so both differentiate twice.

Masks follow PyTorch: for ``scaled_dot_product_attention`` a boolean mask marks the positions
that take part (True) and a float mask is added to the scores; for ``multi_head_attention_forward``
a boolean ``attn_mask``/``key_padding_mask`` marks the positions to leave out (True).
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from ...tensor import Tensor
from ..shape import cat
from ._util import check_tensor, size_str
from .activation import dropout, softmax
from .._util import c_type_name
from .linear import linear
from .padding import pad

_wrap = Tensor._wrap
_NEG_INF = float("-inf")


# --------------------------------------------------------------------------------------------
# scaled dot-product attention
# --------------------------------------------------------------------------------------------
def _score_bias(attn_mask, is_causal, L, S, query):
    """What is added to the scores: the causal mask (``-inf`` above the diagonal), a boolean
    mask as ``0``/``-inf``, or the float mask itself (None for no mask)."""
    xp = query._xp()
    if is_causal:
        keep = xp.tril(xp.ones((L, S), dtype=bool))
    elif attn_mask is None or attn_mask.dtype != np.bool_:
        return attn_mask
    else:
        keep = attn_mask._data
    return _wrap(xp.where(keep, 0.0, _NEG_INF).astype(query.dtype))


def _safe_softmax(scores):
    """Softmax over the last dim, with rows that are ``-inf`` throughout giving zeros instead of
    NaN (PyTorch's ``_safe_softmax``)."""
    dead = (scores._data == _NEG_INF).all(axis=-1, keepdims=True)
    if not bool(dead.any()):
        return softmax(scores, -1)
    dead = _wrap(dead)
    return softmax(scores.masked_fill(dead, 0.0), -1).masked_fill(dead, 0.0)


def _repeat_heads(t, heads):
    """``t.repeat_interleave(heads // t.size(-3), -3)`` (grouped-query attention)."""
    shape = t.shape
    if t.ndim < 3 or heads % shape[-3]:
        raise RuntimeError("Number of heads in key and value must divide the number of heads in "
                           "query")
    rep = heads // shape[-3]
    if rep == 1:
        return t
    return (t.unsqueeze(-3).expand(*shape[:-2], rep, *shape[-2:])
            .reshape(*shape[:-3], heads, *shape[-2:]))


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0,
                                 is_causal=False, scale=None, enable_gqa=False) -> Tensor:
    """``softmax(query @ key.mT * scale + mask) @ value`` for ``(..., L, E)`` queries and
    ``(..., S, E)``/``(..., S, Ev)`` keys and values; ``scale`` defaults to ``1/sqrt(E)``. A bool
    ``attn_mask`` is True where a query may attend, a float one is added; ``is_causal`` keeps
    the lower triangle; rows with nothing to attend give zeros. ``dropout_p`` applies dropout to
    the weights (always, as in PyTorch)."""
    for name, t in (("query", query), ("key", key), ("value", value)):
        check_tensor(t, name, "scaled_dot_product_attention")
    if not query.dtype == key.dtype == value.dtype:
        raise RuntimeError(f"Expected query, key, and value to have the same dtype, but got "
                           f"query.dtype: {c_type_name(query.dtype)} "
                           f"key.dtype: {c_type_name(key.dtype)} "
                           f"and value.dtype: {c_type_name(value.dtype)} instead.")
    if is_causal and attn_mask is not None:
        raise RuntimeError("_scaled_dot_product_attention: Explicit attn_mask should not be set "
                           "when is_causal=True")
    if enable_gqa and query.ndim >= 3:
        key = _repeat_heads(key, query.shape[-3])
        value = _repeat_heads(value, query.shape[-3])
    factor = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    scores = query.matmul(key.transpose(-2, -1)) * factor
    bias = _score_bias(attn_mask, is_causal, query.shape[-2], key.shape[-2], query)
    if bias is None:
        weights = softmax(scores, -1)
    else:
        weights = _safe_softmax(scores + bias)
    return dropout(weights, dropout_p).matmul(value)


# --------------------------------------------------------------------------------------------
# multi-head attention
# --------------------------------------------------------------------------------------------
def _mha_shape_check(query, key, value, key_padding_mask, attn_mask, num_heads) -> bool:
    """PyTorch's checks of the ranks; True for batched (3-D) input, False for 2-D."""
    if query.ndim not in (2, 3):
        raise AssertionError(f"query should be unbatched 2D or batched 3D tensor but received "
                             f"{query.ndim}-D query tensor")
    batched = query.ndim == 3
    kind = "batched (3-D)" if batched else "unbatched (2-D)"
    if key.ndim != query.ndim or value.ndim != query.ndim:
        raise AssertionError(f"For {kind} `query`, expected `key` and `value` to be "
                             f"{query.ndim}-D but found {key.ndim}-D and {value.ndim}-D tensors "
                             f"respectively")
    if key_padding_mask is not None and key_padding_mask.ndim != query.ndim - 1:
        raise AssertionError(f"For {kind} `query`, expected `key_padding_mask` to be `None` or "
                             f"{query.ndim - 1}-D but found {key_padding_mask.ndim}-D tensor "
                             f"instead")
    if attn_mask is not None:
        if attn_mask.ndim not in (2, 3):
            raise AssertionError(f"For {kind} `query`, expected `attn_mask` to be `None`, 2-D or "
                                 f"3-D but found {attn_mask.ndim}-D tensor instead")
        expected = (num_heads, query.shape[0], key.shape[0])
        if not batched and attn_mask.ndim == 3 and tuple(attn_mask.shape) != expected:
            raise AssertionError(f"Expected `attn_mask` shape to be {expected} but got "
                                 f"{size_str(attn_mask.shape)}")
    return batched


def _canonical_mask(mask, mask_name, other_type, other_name, target_type, check_other=True):
    """A float mask as it is; a boolean one as ``-inf`` where True and ``0`` elsewhere."""
    if mask is None:
        return None
    is_float = mask.is_floating_point()
    if mask.dtype != np.bool_ and not is_float:
        raise AssertionError(f"only bool and floating types of {mask_name} are supported")
    if check_other and other_type is not None and mask.dtype != other_type:
        warnings.warn(f"Support for mismatched {mask_name} and {other_name} is deprecated. Use "
                      f"same type for both instead.", UserWarning, stacklevel=3)
    if is_float:
        return mask
    xp = mask._xp()
    return _wrap(xp.where(mask._data, _NEG_INF, 0.0).astype(target_type))


def _in_projection_packed(q, k, v, w, b=None):
    """``q``, ``k``, ``v`` projected by the thirds of the packed ``w`` (and ``b``), with one
    matmul for self-attention and two when ``k is v``."""
    E = q.shape[-1]
    if k is v:
        if q is k:
            return linear(q, w, b).chunk(3, -1)
        w_q, w_kv = w.split([E, 2 * E])
        b_q, b_kv = (None, None) if b is None else b.split([E, 2 * E])
        return (linear(q, w_q, b_q),) + tuple(linear(k, w_kv, b_kv).chunk(2, -1))
    w_q, w_k, w_v = w.chunk(3)
    b_q, b_k, b_v = (None,) * 3 if b is None else b.chunk(3)
    return linear(q, w_q, b_q), linear(k, w_k, b_k), linear(v, w_v, b_v)


def _in_projection(q, k, v, w_q, w_k, w_v, b_q=None, b_k=None, b_v=None):
    """``q``, ``k``, ``v`` projected by their own weights (``kdim``/``vdim`` may differ)."""
    Eq, Ek, Ev = q.shape[-1], k.shape[-1], v.shape[-1]
    for what, t, shape in (("query weights", w_q, (Eq, Eq)), ("key weights", w_k, (Eq, Ek)),
                           ("value weights", w_v, (Eq, Ev)), ("query bias", b_q, (Eq,)),
                           ("key bias", b_k, (Eq,)), ("value bias", b_v, (Eq,))):
        if t is not None and tuple(t.shape) != shape:
            raise AssertionError(f"expecting {what} shape of {shape}, but got "
                                 f"{size_str(t.shape)}")
    return linear(q, w_q, b_q), linear(k, w_k, b_k), linear(v, w_v, b_v)


def _check_3d_mask(attn_mask, tgt_len, src_len, bsz, num_heads):
    """``attn_mask`` as ``(1 or bsz * num_heads, tgt_len, src_len)``."""
    if attn_mask.ndim == 2:
        if tuple(attn_mask.shape) != (tgt_len, src_len):
            raise RuntimeError(f"The shape of the 2D attn_mask is {size_str(attn_mask.shape)}, "
                               f"but should be {(tgt_len, src_len)}.")
        return attn_mask.unsqueeze(0)
    if attn_mask.ndim == 3:
        if tuple(attn_mask.shape) != (bsz * num_heads, tgt_len, src_len):
            raise RuntimeError(f"The shape of the 3D attn_mask is {size_str(attn_mask.shape)}, "
                               f"but should be {(bsz * num_heads, tgt_len, src_len)}.")
        return attn_mask
    raise RuntimeError(f"attn_mask's dimension {attn_mask.ndim} is not supported")


def _pad_masks(attn_mask, key_padding_mask):
    """Both masks with one more key position (0: attend), for an appended key."""
    return (None if attn_mask is None else pad(attn_mask, (0, 1)),
            None if key_padding_mask is None else pad(key_padding_mask, (0, 1)))


def _heads(t, length, bsz, num_heads, head_dim, static=None, name="static_k"):
    """``(length, bsz, E)`` -> ``(bsz * num_heads, length, head_dim)``, or the given static
    projection (checked)."""
    if static is None:
        return t.reshape(length, bsz * num_heads, head_dim).transpose(0, 1)
    if static.shape[0] != bsz * num_heads:
        raise AssertionError(f"expecting {name}.size(0) of {bsz * num_heads}, but got "
                             f"{static.shape[0]}")
    if static.shape[2] != head_dim:
        raise AssertionError(f"expecting {name}.size(2) of {head_dim}, but got {static.shape[2]}")
    return static


def multi_head_attention_forward(query, key, value, embed_dim_to_check, num_heads,
                                 in_proj_weight, in_proj_bias, bias_k, bias_v, add_zero_attn,
                                 dropout_p, out_proj_weight, out_proj_bias, training=True,
                                 key_padding_mask=None, need_weights=True, attn_mask=None,
                                 use_separate_proj_weight=False, q_proj_weight=None,
                                 k_proj_weight=None, v_proj_weight=None, static_k=None,
                                 static_v=None, average_attn_weights=True, is_causal=False):
    """The computation of ``nn.MultiheadAttention`` on sequence-first ``(L, N, E)`` input (or
    unbatched ``(L, E)``): returns ``(attn_output, attn_weights)``, the weights averaged over
    heads with ``average_attn_weights`` and None without ``need_weights``."""
    batched = _mha_shape_check(query, key, value, key_padding_mask, attn_mask, num_heads)
    if not batched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    tgt_len, bsz, embed_dim = query.shape
    src_len = key.shape[0]
    key_padding_mask = _canonical_mask(key_padding_mask, "key_padding_mask",
                                       None if attn_mask is None else attn_mask.dtype,
                                       "attn_mask", query.dtype)
    if is_causal and attn_mask is None:
        raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the "
                           "Transformer module method `generate_square_subsequent_mask` to "
                           "create this mask.")
    if is_causal and key_padding_mask is None and not need_weights:
        attn_mask = None  # SDPA applies the causal mask itself
    else:
        attn_mask = _canonical_mask(attn_mask, "attn_mask", None, "", query.dtype,
                                    check_other=False)
        if key_padding_mask is not None:
            is_causal = False
    if embed_dim != embed_dim_to_check:
        raise AssertionError(f"was expecting embedding dimension of {embed_dim_to_check}, but "
                             f"got {embed_dim}")
    head_dim = embed_dim // num_heads
    if head_dim * num_heads != embed_dim:
        raise AssertionError(f"embed_dim {embed_dim} not divisible by num_heads {num_heads}")
    if use_separate_proj_weight:
        if tuple(key.shape[:2]) != tuple(value.shape[:2]):
            raise AssertionError(f"key's sequence and batch dims {size_str(key.shape[:2])} do not "
                                 f"match value's {size_str(value.shape[:2])}")
        for name, w in (("q", q_proj_weight), ("k", k_proj_weight), ("v", v_proj_weight)):
            if w is None:
                raise AssertionError(f"use_separate_proj_weight is True but {name}_proj_weight "
                                     f"is None")
        biases = (None,) * 3 if in_proj_bias is None else in_proj_bias.chunk(3)
        q, k, v = _in_projection(query, key, value, q_proj_weight, k_proj_weight, v_proj_weight,
                                 *biases)
    else:
        if tuple(key.shape) != tuple(value.shape):
            raise AssertionError(f"key shape {size_str(key.shape)} does not match value shape "
                                 f"{size_str(value.shape)}")
        if in_proj_weight is None:
            raise AssertionError("use_separate_proj_weight is False but in_proj_weight is None")
        q, k, v = _in_projection_packed(query, key, value, in_proj_weight, in_proj_bias)
    if attn_mask is not None:
        attn_mask = _check_3d_mask(attn_mask, tgt_len, src_len, bsz, num_heads)

    if bias_k is not None and bias_v is not None:
        if static_k is not None:
            raise AssertionError("bias cannot be added to static key.")
        if static_v is not None:
            raise AssertionError("bias cannot be added to static value.")
        k = cat([k, bias_k.expand(1, bsz, embed_dim)])
        v = cat([v, bias_v.expand(1, bsz, embed_dim)])
        attn_mask, key_padding_mask = _pad_masks(attn_mask, key_padding_mask)
    elif bias_k is not None or bias_v is not None:
        raise AssertionError("bias_k is set but bias_v is None" if bias_k is not None
                             else "bias_v is set but bias_k is None")

    q = _heads(q, tgt_len, bsz, num_heads, head_dim)
    k = _heads(k, k.shape[0], bsz, num_heads, head_dim, static_k, "static_k")
    v = _heads(v, v.shape[0], bsz, num_heads, head_dim, static_v, "static_v")
    if add_zero_attn:
        zeros = k.new_zeros((bsz * num_heads, 1, head_dim))
        k = cat([k, zeros], 1)
        v = cat([v, zeros], 1)
        attn_mask, key_padding_mask = _pad_masks(attn_mask, key_padding_mask)
    src_len = k.shape[1]

    if key_padding_mask is not None:
        if tuple(key_padding_mask.shape) != (bsz, src_len):
            bad = 0 if key_padding_mask.shape[0] != bsz else 1
            raise AssertionError(f"Expected key_padded_mask.shape[{bad}] to be "
                                 f"{(bsz, src_len)[bad]}, but got {key_padding_mask.shape[bad]}")
        key_padding_mask = (key_padding_mask.reshape(bsz, 1, 1, src_len)
                            .expand(bsz, num_heads, 1, src_len)
                            .reshape(bsz * num_heads, 1, src_len))
        attn_mask = key_padding_mask if attn_mask is None else attn_mask + key_padding_mask
    if not training:
        dropout_p = 0.0

    if need_weights:
        if is_causal and attn_mask is None:
            raise AssertionError("FIXME: is_causal not implemented for need_weights")
        scores = (q * math.sqrt(1.0 / float(head_dim))).matmul(k.transpose(-2, -1))
        if attn_mask is not None:
            scores = attn_mask + scores
        weights = dropout(softmax(scores, -1), dropout_p)
        out = weights.matmul(v).transpose(0, 1)                 # (L, N * heads, head_dim)
    else:
        if attn_mask is not None:
            attn_mask = (attn_mask.unsqueeze(0) if attn_mask.shape[0] == 1
                         else attn_mask.reshape(bsz, num_heads, -1, src_len))
        out = scaled_dot_product_attention(q.reshape(bsz, num_heads, tgt_len, head_dim),
                                           k.reshape(bsz, num_heads, src_len, head_dim),
                                           v.reshape(bsz, num_heads, src_len, head_dim),
                                           attn_mask, dropout_p, is_causal)
        out = out.permute(2, 0, 1, 3)                          # (L, N, heads, head_dim)
        weights = None
    out = linear(out.reshape(tgt_len * bsz, embed_dim), out_proj_weight, out_proj_bias)
    out = out.reshape(tgt_len, bsz, out.shape[1])
    if weights is not None:
        weights = weights.reshape(bsz, num_heads, tgt_len, src_len)
        if average_attn_weights:
            weights = weights.mean(dim=1)
    if not batched:
        out = out.squeeze(1)
        weights = None if weights is None else weights.squeeze(0)
    return out, weights
