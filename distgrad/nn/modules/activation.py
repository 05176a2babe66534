"""Activation layers (``ReLU``, ``Tanh``, ``Sigmoid``, ``GELU``, ``Softmax``, ``LogSoftmax``,
``PReLU``, ``Hardswish``, ``CELU``, ``SELU``, ``GLU``, the shrinks, ...) and ``MultiheadAttention``, which PyTorch keeps among them."""
from __future__ import annotations

from ... import ops
from .. import functional as F
from .. import init
from ..parameter import Parameter
from .linear import NonDynamicallyQuantizableLinear
from .module import Module

__all__ = ["ReLU", "Tanh", "Sigmoid", "GELU", "Softmax", "LogSoftmax", "LeakyReLU", "SiLU", "ELU",
           "Softplus", "Hardtanh", "ReLU6", "Mish", "MultiheadAttention", "PReLU", "Hardswish",
           "Hardsigmoid", "Softsign", "Tanhshrink", "Softmin", "LogSigmoid", "CELU", "SELU", "GLU",
           "Hardshrink", "Softshrink", "Threshold", "RReLU", "Softmax2d"]


class _InplaceActivation(Module):
    """Base of the activations with an ``inplace`` option (overwrite the input; shown in the
    repr unless ``_repr_inplace`` is False, as PyTorch does for some). The attributes named in
    ``_options`` (set by the subclass before calling this constructor) come first in the repr,
    as ``name=value``."""

    _repr_inplace = True
    _options = ()

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def extra_repr(self) -> str:
        parts = [f"{name}={getattr(self, name)}" for name in self._options]
        if self.inplace and self._repr_inplace:
            parts.append("inplace=True")
        return ", ".join(parts)


class ReLU(_InplaceActivation):
    """``max(x, 0)``; ``inplace=True`` overwrites the input."""

    def forward(self, input):
        if self.inplace:
            return F.relu(input, inplace=True)
        return F.relu(input)


class Tanh(Module):
    """Hyperbolic tangent."""

    def forward(self, input):
        return F.tanh(input)


class Sigmoid(Module):
    """Logistic sigmoid ``1 / (1 + exp(-x))``."""

    def forward(self, input):
        return F.sigmoid(input)


class GELU(Module):
    """Gaussian error linear unit; ``approximate='tanh'`` uses the tanh approximation."""

    def __init__(self, approximate: str = "none"):
        super().__init__()
        self.approximate = approximate

    def forward(self, input):
        return F.gelu(input, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={repr(self.approximate)}"


class _SoftmaxBase(Module):
    """Base of ``Softmax`` and ``LogSoftmax``: a ``dim`` (None in modules pickled without it)."""

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def __setstate__(self, state):
        super().__setstate__(state)
        if not hasattr(self, "dim"):
            self.dim = None

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softmax(_SoftmaxBase):
    """Softmax along ``dim``."""

    def forward(self, input):
        return F.softmax(input, self.dim)


class LogSoftmax(_SoftmaxBase):
    """Log of the softmax along ``dim`` (numerically stable)."""

    def forward(self, input):
        return F.log_softmax(input, self.dim)


class Softmax2d(Module):
    """Softmax over the channels at every location of ``(N, C, H, W)`` or ``(C, H, W)``."""

    def forward(self, input):
        if input.ndim not in (3, 4):
            raise ValueError(f"Softmax2d: expected input to be 3D or 4D, got {input.ndim}D "
                             f"instead")
        return F.softmax(input, -3)


class Softmin(_SoftmaxBase):
    """Softmax of ``-x`` along ``dim``."""

    def forward(self, input):
        return F.softmin(input, self.dim)


class LeakyReLU(_InplaceActivation):
    """``x`` for ``x >= 0``, ``negative_slope * x`` otherwise."""

    _options = ("negative_slope",)

    def __init__(self, negative_slope: float = 1e-2, inplace: bool = False):
        self.negative_slope = negative_slope
        super().__init__(inplace)

    def forward(self, input):
        return F.leaky_relu(input, self.negative_slope, self.inplace)


class SiLU(_InplaceActivation):
    """``x * sigmoid(x)`` (swish)."""

    def forward(self, input):
        return F.silu(input, inplace=self.inplace)


class _AlphaActivation(_InplaceActivation):
    """Base of ``ELU`` and ``CELU``: an ``alpha`` and ``inplace``."""

    _options = ("alpha",)

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        self.alpha = alpha
        super().__init__(inplace)


class ELU(_AlphaActivation):
    """``x`` for ``x > 0``, ``alpha * (exp(x) - 1)`` otherwise."""

    def forward(self, input):
        return F.elu(input, self.alpha, self.inplace)


class CELU(_AlphaActivation):
    """``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))``."""

    def forward(self, input):
        return F.celu(input, self.alpha, self.inplace)


class SELU(_InplaceActivation):
    """``scale * elu(x, alpha)`` with the fixed self-normalising ``alpha`` and ``scale``."""

    def forward(self, input):
        return F.selu(input, self.inplace)


class Threshold(_InplaceActivation):
    """``x`` where ``x > threshold``, else ``value``."""

    _options = ("threshold", "value")

    def __init__(self, threshold: float, value: float, inplace: bool = False):
        self.threshold = threshold
        self.value = value
        super().__init__(inplace)

    def forward(self, input):
        return F.threshold(input, self.threshold, self.value, self.inplace)


class RReLU(_InplaceActivation):
    """Randomised leaky ReLU: in training each negative element gets a slope drawn uniformly
    from ``[lower, upper]``; in evaluation the slope is ``(lower + upper) / 2``."""

    _options = ("lower", "upper")

    def __init__(self, lower: float = 1.0 / 8, upper: float = 1.0 / 3, inplace: bool = False):
        self.lower = lower
        self.upper = upper
        super().__init__(inplace)

    def forward(self, input):
        return F.rrelu(input, self.lower, self.upper, self.training, self.inplace)


class _Shrink(Module):
    """Base of ``Hardshrink`` and ``Softshrink``: one threshold ``lambd`` (the whole repr)."""

    def __init__(self, lambd: float = 0.5):
        super().__init__()
        self.lambd = lambd

    def extra_repr(self) -> str:
        return f"{self.lambd}"


class Hardshrink(_Shrink):
    """``x`` where ``|x| > lambd``, else 0."""

    def forward(self, input):
        return F.hardshrink(input, self.lambd)


class Softshrink(_Shrink):
    """``x - lambd * sign(x)`` where ``|x| > lambd``, else 0."""

    def forward(self, input):
        return F.softshrink(input, self.lambd)


class GLU(Module):
    """Gated linear unit: ``a * sigmoid(b)``, where ``a`` and ``b`` are the halves of the input
    along ``dim``."""

    def __init__(self, dim: int = -1):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return F.glu(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softplus(Module):
    """``log(1 + exp(beta * x)) / beta`` (linear above ``threshold``)."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__()
        self.beta = beta
        self.threshold = threshold

    def forward(self, input):
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class Hardtanh(_InplaceActivation):
    """Clamp to ``[min_val, max_val]``."""

    _options = ("min_val", "max_val")

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False):
        self.min_val = min_val
        self.max_val = max_val
        super().__init__(inplace)
        if self.max_val <= self.min_val:
            raise AssertionError("max_val must be greater than min_val")

    def forward(self, input):
        return F.hardtanh(input, self.min_val, self.max_val, self.inplace)


class ReLU6(Hardtanh):
    """``min(max(x, 0), 6)``."""

    _options = ()

    def __init__(self, inplace: bool = False):
        super().__init__(0.0, 6.0, inplace)


class Mish(_InplaceActivation):
    """``x * tanh(softplus(x))``."""

    def forward(self, input):
        return F.mish(input, inplace=self.inplace)


class Hardswish(_InplaceActivation):
    """``x * relu6(x + 3) / 6``."""

    _repr_inplace = False

    def forward(self, input):
        return F.hardswish(input, self.inplace)


class Hardsigmoid(_InplaceActivation):
    """``relu6(x + 3) / 6``."""

    _repr_inplace = False

    def forward(self, input):
        return F.hardsigmoid(input, self.inplace)


class Softsign(Module):
    """``x / (1 + |x|)``."""

    def forward(self, input):
        return F.softsign(input)


class Tanhshrink(Module):
    """``x - tanh(x)``."""

    def forward(self, input):
        return F.tanhshrink(input)


class LogSigmoid(Module):
    """``log(sigmoid(x))``, computed stably."""

    def forward(self, input):
        return F.logsigmoid(input)


class PReLU(Module):
    """``max(0, x) + weight * min(0, x)`` with a learnable ``weight``: one slope, or
    ``num_parameters`` slopes (one per channel, dim 1), initialised to ``init``."""

    def __init__(self, num_parameters: int = 1, init: float = 0.25, device=None, dtype=None):
        self.num_parameters = num_parameters
        super().__init__()
        self.init = init
        self.weight = Parameter(ops.empty(num_parameters, device=device, dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.constant_(self.weight, self.init)

    def forward(self, input):
        return F.prelu(input, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"


class MultiheadAttention(Module):
    """Multi-head attention: ``out_proj(concat_h softmax(q_h k_h^T / sqrt(head_dim)) v_h)``.

    Parameters as in PyTorch (same state-dict keys): the packed ``in_proj_weight``
    ``(3 * embed_dim, embed_dim)``, or ``q_proj_weight``/``k_proj_weight``/``v_proj_weight`` when
    ``kdim``/``vdim`` differ from ``embed_dim``; ``in_proj_bias``; ``out_proj`` (a ``Linear``);
    ``bias_k``/``bias_v`` with ``add_bias_kv``. Initialised like PyTorch: Xavier-uniform
    projections, zero biases, Xavier-normal ``bias_k``/``bias_v``. Input is ``(L, N, E)``
    (``(N, L, E)`` with ``batch_first``) or unbatched ``(L, E)``.
    """

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False,
                 add_zero_attn=False, kdim=None, vdim=None, batch_first=False, device=None,
                 dtype=None):
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"embed_dim and num_heads must be greater than 0, got "
                             f"embed_dim={embed_dim} and num_heads={num_heads} instead")
        factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__()
        self.embed_dim = embed_dim
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.batch_first = batch_first
        self.head_dim = embed_dim // num_heads
        if self.head_dim * num_heads != self.embed_dim:
            raise AssertionError("embed_dim must be divisible by num_heads")

        def param(*shape):
            return Parameter(ops.empty(shape, **factory_kwargs))

        if self._qkv_same_embed_dim:
            self.in_proj_weight = param(3 * embed_dim, embed_dim)
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            self.q_proj_weight = param(embed_dim, embed_dim)
            self.k_proj_weight = param(embed_dim, self.kdim)
            self.v_proj_weight = param(embed_dim, self.vdim)
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = param(3 * embed_dim)
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = NonDynamicallyQuantizableLinear(embed_dim, embed_dim, bias=bias,
                                                        **factory_kwargs)
        if add_bias_kv:
            self.bias_k = param(1, 1, embed_dim)
            self.bias_v = param(1, 1, embed_dim)
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
        if self.bias_v is not None:
            init.xavier_normal_(self.bias_v)

    def forward(self, query, key, value, key_padding_mask=None, need_weights: bool = True,
                attn_mask=None, average_attn_weights: bool = True, is_causal: bool = False):
        """``(attn_output, attn_weights)``; the weights (averaged over heads with
        ``average_attn_weights``) are None without ``need_weights``. A boolean ``attn_mask`` or
        ``key_padding_mask`` is True where attention is not allowed; a float one is added."""
        batched = query.dim() == 3
        if self.batch_first and batched:
            # keep the identities (query is key is value) that select the packed projections
            if key is value:
                if query is key:
                    query = key = value = query.transpose(1, 0)
                else:
                    query, key = (x.transpose(1, 0) for x in (query, key))
                    value = key
            else:
                query, key, value = (x.transpose(1, 0) for x in (query, key, value))
        separate = {}
        if not self._qkv_same_embed_dim:
            separate = dict(use_separate_proj_weight=True, q_proj_weight=self.q_proj_weight,
                            k_proj_weight=self.k_proj_weight, v_proj_weight=self.v_proj_weight)
        attn_output, attn_output_weights = F.multi_head_attention_forward(
            query, key, value, self.embed_dim, self.num_heads, self.in_proj_weight,
            self.in_proj_bias, self.bias_k, self.bias_v, self.add_zero_attn, self.dropout,
            self.out_proj.weight, self.out_proj.bias, training=self.training,
            key_padding_mask=key_padding_mask, need_weights=need_weights, attn_mask=attn_mask,
            average_attn_weights=average_attn_weights, is_causal=is_causal, **separate)
        if self.batch_first and batched:
            attn_output = attn_output.transpose(1, 0)
        return attn_output, attn_output_weights
