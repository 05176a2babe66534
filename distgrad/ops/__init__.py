"""Differentiable operations, grouped by kind, and the table that installs them as ``Tensor``
methods and operators."""
from __future__ import annotations

from types import ModuleType as _ModuleType

from ..tensor import Tensor
from . import creation, elementwise, index, inplace, linalg, reduce, scan, shape, sorting
from .binning import bincount, bucketize, histc, searchsorted
from .complex_ops import complex, conj, imag, real, view_as_complex, view_as_real
from .creation import (arange, as_tensor, bernoulli, empty, empty_like, eye, from_numpy, full,
                       full_like, linspace, logspace, ones, ones_like, rand, rand_like, randint,
                       randint_like, randn, randn_like, randperm, tensor, zeros, zeros_like)
from .elementwise import (abs, acos, acosh, add, addcdiv, addcmul, allclose, asin, asinh, atan,
                          atan2, atanh, bitwise_not, ceil, clamp, clamp_max, clamp_min, copysign,
                          cos, cosh, digamma, div, eq, equal, erf, erfc, erfinv, exp, exp2,
                          expm1, float_power, floor, floor_divide, fmax, fmin, fmod, frac, ge,
                          gelu, gt, hypot, isclose, isfinite, isinf, isnan, le, lerp, lgamma, log,
                          log1p, log2, log10, log_softmax, logaddexp, logaddexp2, logical_and,
                          logical_not, logical_or, logical_xor, logit, lt, maximum, minimum, mul,
                          nan_to_num, ne, neg, pow, reciprocal, relu, remainder, round, rsqrt,
                          rsub, sgn, sigmoid, sign, signbit, sin, sinh, softmax, sqrt, square,
                          sub, tan, tanh, trunc, where, xlogy)
from .index import (gather, index_add, index_copy, index_fill, index_put, index_select,
                    masked_fill, masked_scatter, masked_select, scatter, scatter_add,
                    scatter_reduce, take, take_along_dim)
from .linalg import (addbmm, addmm, addmv, baddbmm, bmm, cdist, det, dot, einsum, inverse, kron,
                     matmul, mm, mv, outer, slogdet, tensordot)
from .linalg import legacy_cross as cross  # distgrad.linalg.cross is the torch.linalg one
from .reduce import (all, amax, amin, aminmax, any, argmax, argmin, corrcoef, count_nonzero, cov,
                     logsumexp, max, mean, min, nanmean, nansum, norm, prod, std, std_mean, sum,
                     var, var_mean)
from .scan import cummax, cummin, cumprod, cumsum, logcumsumexp
from .shape import (atleast_1d, atleast_2d, atleast_3d, block_diag, broadcast_shapes,
                    broadcast_tensors, broadcast_to, cartesian_prod, cat, chunk, clone,
                    column_stack, combinations, concat, concatenate, diag, diag_embed, diagonal,
                    diff, dsplit, dstack, flatten, flip, fliplr, flipud, hsplit, hstack, meshgrid,
                    moveaxis, movedim, narrow, permute, repeat_interleave, reshape, roll, rot90,
                    row_stack, select, split, squeeze, stack, swapaxes, swapdims, t,
                    tensor_split, tile, trace, transpose, tril, triu, unbind, unflatten,
                    unsqueeze, vander, vsplit, vstack)
from .sorting import (argsort, kthvalue, median, mode, multinomial, nanmedian, nanquantile,
                      nonzero, quantile, sort, topk, unique, unique_consecutive)

clip = clamp
multiply = mul
divide = div
subtract = sub
negative = neg
true_divide = div
absolute = abs
arcsin, arccos, arctan, arctan2 = asin, acos, atan, atan2
arcsinh, arccosh, arctanh = asinh, acosh, atanh
greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne


def argwhere(input) -> Tensor:
    """The indices of the non-zero elements, one row per element (``nonzero(input)``)."""
    return nonzero(input)


def _inplace_of(fn):
    """``x.fn_(...)``: the out-of-place ``fn`` applied in place."""
    def method(self, *args, **kwargs):
        if kwargs:
            return inplace.apply_inplace(self, lambda s, *a: fn(s, *a, **kwargs), *args)
        return inplace.apply_inplace(self, fn, *args)
    method.__name__ = fn.__name__ + "_"
    method.__doc__ = f"In-place version of ``{fn.__name__}``."
    return method


def _bernoulli_(self, p=0.5, *, generator=None):
    """``x.bernoulli_(p=0.5)``: each element becomes 1 with probability ``p`` (a number or a
    tensor), else 0."""
    return inplace.apply_inplace(self, lambda s, q: bernoulli(s, q, generator=generator), p)


def _iop(fn):
    def method(self, other):
        return inplace.apply_inplace(self, fn, other)
    return method


def _operator_eq(self, other):
    """``t == other``; ``t == None`` is False, as in PyTorch (not an elementwise comparison)."""
    return False if other is None else eq(self, other)


def _operator_ne(self, other):
    """``t != other``; ``t != None`` is True, as in PyTorch."""
    return True if other is None else ne(self, other)


def _reflected(fn):
    def method(self, other):
        return fn(self, other)
    return method


def _install_methods():
    T = Tensor
    methods = {
        # arithmetic and math
        "add": add, "sub": sub, "mul": mul, "div": div, "pow": pow, "neg": neg, "abs": abs,
        "exp": exp, "log": log, "sqrt": sqrt, "sin": sin, "cos": cos, "tanh": tanh,
        "sigmoid": sigmoid, "relu": relu, "clamp": clamp, "clip": clamp, "maximum": maximum,
        "minimum": minimum, "sign": sign, "floor": floor, "ceil": ceil, "round": round,
        "trunc": trunc, "remainder": remainder, "floor_divide": floor_divide,
        "multiply": mul, "divide": div, "subtract": sub, "negative": neg,
        "eq": eq, "ne": ne, "lt": lt, "le": le, "gt": gt, "ge": ge, "isnan": isnan,
        "isinf": isinf, "isfinite": isfinite, "logical_not": logical_not,
        "logical_and": logical_and, "logical_or": logical_or, "equal": equal,
        "allclose": allclose, "isclose": isclose, "where": lambda self, cond, other: where(cond, self, other),
        "log1p": log1p, "expm1": expm1, "erf": erf, "erfc": erfc, "erfinv": erfinv,
        "rsqrt": rsqrt, "square": square, "reciprocal": reciprocal, "log2": log2,
        "log10": log10, "exp2": exp2, "tan": tan, "asin": asin, "acos": acos, "atan": atan,
        "sinh": sinh, "cosh": cosh, "asinh": asinh, "acosh": acosh, "atanh": atanh,
        "arcsin": asin, "arccos": acos, "arctan": atan, "arcsinh": asinh, "arccosh": acosh,
        "arctanh": atanh, "atan2": atan2, "arctan2": atan2, "hypot": hypot, "lerp": lerp,
        "logit": logit, "frac": frac, "sgn": sgn, "softmax": softmax,
        "log_softmax": log_softmax, "bernoulli": bernoulli, "bernoulli_": _bernoulli_,
        "fmod": fmod, "copysign": copysign, "fmax": fmax, "fmin": fmin, "xlogy": xlogy,
        "conj": conj,
        "addcmul": addcmul, "addcdiv": addcdiv, "clamp_min": clamp_min, "clamp_max": clamp_max,
        "logaddexp": logaddexp, "logaddexp2": logaddexp2, "nan_to_num": nan_to_num,
        "lgamma": lgamma, "digamma": digamma, "float_power": float_power,
        "float_power_": elementwise.float_power_, "signbit": signbit,
        # reductions
        "sum": sum, "mean": mean, "var": var, "std": std, "max": max, "min": min, "amax": amax,
        "amin": amin, "argmax": argmax, "argmin": argmin, "logsumexp": logsumexp, "prod": prod,
        "all": all, "any": any, "norm": norm, "cumsum": cumsum, "cumprod": cumprod,
        "count_nonzero": count_nonzero, "nansum": nansum, "nanmean": nanmean, "median": median,
        "kthvalue": kthvalue, "cummax": cummax, "cummin": cummin, "logcumsumexp": logcumsumexp,
        "argwhere": argwhere,
        "aminmax": aminmax, "quantile": quantile, "nanquantile": nanquantile,
        "nanmedian": nanmedian, "mode": mode, "cov": cov, "corrcoef": corrcoef,
        # shape
        "reshape": reshape, "view": shape.view, "flatten": flatten, "unflatten": unflatten,
        "permute": permute, "transpose": transpose, "t": t, "expand": shape.expand,
        "expand_as": shape.expand_as, "broadcast_to": broadcast_to, "squeeze": squeeze,
        "unsqueeze": unsqueeze, "split": split, "chunk": chunk, "unbind": unbind,
        "narrow": narrow, "flip": flip, "to": shape.to, "contiguous": shape.contiguous,
        "clone": clone, "view_as": lambda self, other: shape.view(self, other.shape),
        "reshape_as": lambda self, other: reshape(self, other.shape),
        "repeat": shape.repeat, "tile": lambda self, *dims: tile(self, dims),
        "tril": tril, "triu": triu, "diag": diag, "diagonal": diagonal, "diag_embed": diag_embed,
        "trace": trace, "fill_diagonal_": shape.fill_diagonal_, "roll": roll, "diff": diff,
        "movedim": movedim, "moveaxis": movedim, "swapaxes": swapaxes, "swapdims": swapaxes,
        "select": select, "unfold": shape.unfold, "repeat_interleave": repeat_interleave,
        "tensor_split": tensor_split, "hsplit": hsplit, "vsplit": vsplit, "dsplit": dsplit,
        "rot90": rot90, "fliplr": fliplr, "flipud": flipud, "cross": cross,
        # sorting and sampling
        "sort": sort, "argsort": argsort, "topk": topk, "unique": unique,
        "unique_consecutive": unique_consecutive, "nonzero": nonzero,
        "multinomial": multinomial,
        # indexing and linear algebra
        "gather": gather, "index_select": index_select, "masked_fill": masked_fill,
        "scatter": scatter, "scatter_add": scatter_add, "masked_select": masked_select,
        "take_along_dim": take_along_dim, "bincount": bincount, "histc": histc,
        "index_add": index_add, "index_copy": index_copy, "index_fill": index_fill,
        "index_put": index_put, "take": take, "masked_scatter": masked_scatter,
        "masked_scatter_": index.masked_scatter_, "scatter_reduce": scatter_reduce,
        "matmul": matmul, "mm": mm, "bmm": bmm, "mv": mv, "dot": dot, "outer": outer,
        "det": det, "inverse": inverse, "slogdet": slogdet, "kron": kron,
        "addmm": addmm, "addmv": addmv, "baddbmm": baddbmm, "addbmm": addbmm,
        "addmm_": _inplace_of(linalg.keeping_shape(addmm)),
        "addmv_": _inplace_of(linalg.keeping_shape(addmv)),
        "baddbmm_": _inplace_of(linalg.keeping_shape(baddbmm)),
        "addbmm_": _inplace_of(linalg.keeping_shape(addbmm)),
        # in place
        "fill_": inplace.fill_, "zero_": inplace.zero_, "uniform_": inplace.uniform_,
        "normal_": inplace.normal_, "copy_": inplace.copy_,
        "__getitem__": index.getitem, "__setitem__": inplace.setitem,
        # operators
        "__add__": add, "__radd__": _reflected(add), "__sub__": sub, "__rsub__": rsub,
        "__mul__": mul, "__rmul__": _reflected(mul), "__truediv__": div,
        "__rtruediv__": elementwise.rdiv, "__floordiv__": floor_divide,
        "__rfloordiv__": elementwise.rfloordiv,
        "__mod__": remainder, "__rmod__": elementwise.rremainder,
        "__pow__": pow, "__rpow__": elementwise.rpow, "__matmul__": matmul,
        "__rmatmul__": lambda self, other: matmul(as_tensor(other), self),
        "__neg__": neg, "__pos__": lambda self: self, "__abs__": abs,
        "__eq__": _operator_eq, "__ne__": _operator_ne, "__lt__": lt, "__le__": le, "__gt__": gt, "__ge__": ge,
        "__and__": elementwise.bitwise_and, "__or__": elementwise.bitwise_or,
        "__xor__": elementwise.bitwise_xor, "__invert__": bitwise_not,
        "__rand__": elementwise.bitwise_and, "__ror__": elementwise.bitwise_or,
        "__iadd__": _iop(add), "__isub__": _iop(sub), "__imul__": _iop(mul),
        "__itruediv__": _iop(div), "__ipow__": _iop(pow),
        "__ifloordiv__": _iop(floor_divide), "__imod__": _iop(remainder),
        "__iand__": _iop(elementwise.bitwise_and), "__ior__": _iop(elementwise.bitwise_or),
        "__ixor__": _iop(elementwise.bitwise_xor), "__rxor__": elementwise.bitwise_xor,
        # conversions
        "float": lambda self: shape.to(self, "float32"),
        "double": lambda self: shape.to(self, "float64"),
        "half": lambda self: shape.to(self, "float16"),
        "long": lambda self: shape.to(self, "int64"),
        "int": lambda self: shape.to(self, "int32"),
        "bool": lambda self: shape.to(self, "bool"),
        "type_as": lambda self, other: shape.to(self, other.dtype),
        "cpu": lambda self: shape.to(self, device="cpu"),
        "cuda": lambda self, device=None: shape.to(self, device=_cuda_device(device)),
        "new_zeros": lambda self, *s, **kw: zeros(*s, **_new_kwargs(self, kw)),
        "new_ones": lambda self, *s, **kw: ones(*s, **_new_kwargs(self, kw)),
        "new_empty": lambda self, *s, **kw: empty(*s, **_new_kwargs(self, kw)),
        "new_full": lambda self, s, v, **kw: full(s, v, **_new_kwargs(self, kw)),
        "new_tensor": lambda self, data, **kw: tensor(data, **_new_kwargs(self, kw)),
    }
    for name in ("add", "sub", "mul", "div", "pow", "clamp", "clip", "neg", "abs", "exp", "log",
                 "sqrt", "sin", "cos", "tanh", "sigmoid", "relu", "floor", "ceil", "round",
                 "trunc", "remainder", "masked_fill", "maximum", "minimum", "floor_divide",
                 "tril", "triu", "cumsum", "cumprod", "scatter", "scatter_add",
                 "index_add", "index_copy", "index_fill", "index_put", "scatter_reduce",
                 "sign", "sgn", "log1p", "expm1", "erf", "erfc", "erfinv", "rsqrt", "square",
                 "reciprocal", "log2", "log10", "exp2", "tan", "asin", "acos", "atan", "sinh",
                 "cosh", "asinh", "acosh", "atanh", "arcsin", "arccos", "arctan", "arcsinh",
                 "arccosh", "arctanh", "atan2", "arctan2", "hypot", "lerp", "logit", "frac",
                 "fmod", "copysign", "xlogy",
                 "addcmul", "addcdiv", "clamp_min", "clamp_max", "nan_to_num", "lgamma",
                 "digamma"):
        methods[name + "_"] = _inplace_of(methods[name])
    for name, fn in methods.items():
        setattr(T, name, fn)
    T.T = property(shape.T)
    T.mT = property(lambda self: transpose(self, -2, -1))
    T.real = property(real)
    T.imag = property(imag)


def _new_kwargs(t, kw):
    kw.setdefault("dtype", t.dtype)
    kw.setdefault("device", t.device)
    return kw


def _cuda_device(device):
    if device is None:
        return "cuda"
    return device if not isinstance(device, int) else f"cuda:{device}"


_install_methods()

# ``from distgrad.ops import *`` exports the operations, not the submodules: their names (such
# as ``linalg``) belong to distgrad's own modules
__all__ = [_name for _name, _value in globals().items()
           if not _name.startswith("_") and not isinstance(_value, _ModuleType)]
