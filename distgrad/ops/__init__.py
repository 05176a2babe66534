"""Differentiable operations, grouped by kind, and the table that installs them as ``Tensor``
methods and operators."""
from __future__ import annotations

from ..tensor import Tensor
from . import creation, elementwise, index, inplace, linalg, reduce, scan, shape, sorting
from .creation import (arange, as_tensor, empty, empty_like, eye, from_numpy, full, full_like,
                       linspace, ones, ones_like, rand, rand_like, randint, randint_like, randn,
                       randn_like, randperm, tensor, zeros, zeros_like)
from .elementwise import (abs, add, allclose, bitwise_not, ceil, clamp, cos, div, eq, equal, exp,
                          floor, floor_divide, ge, gelu, gt, isclose, isfinite, isinf, isnan, le,
                          log, logical_and, logical_not, logical_or, logical_xor, lt, maximum,
                          minimum, mul, ne, neg, pow, relu, remainder, round, rsub, sigmoid, sign,
                          sin, sqrt, sub, tanh, trunc, where)
from .index import gather, index_select, masked_fill, scatter, scatter_add
from .linalg import bmm, dot, einsum, matmul, mm, mv, outer
from .reduce import (all, amax, amin, any, argmax, argmin, logsumexp, max, mean, min, norm, prod,
                     std, sum, var)
from .scan import cumprod, cumsum
from .shape import (broadcast_to, cat, chunk, clone, concat, concatenate, flatten, flip, narrow,
                    permute, reshape, split, squeeze, stack, t, tile, transpose, tril, triu,
                    unbind, unflatten, unsqueeze)
from .sorting import argsort, multinomial, nonzero, sort, topk, unique

clip = clamp
multiply = mul
divide = div
subtract = sub
negative = neg
true_divide = div
absolute = abs
greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne


def _inplace_of(fn):
    """``x.fn_(...)``: the out-of-place ``fn`` applied in place."""
    def method(self, *args, **kwargs):
        if kwargs:
            return inplace.apply_inplace(self, lambda s, *a: fn(s, *a, **kwargs), *args)
        return inplace.apply_inplace(self, fn, *args)
    method.__name__ = fn.__name__ + "_"
    method.__doc__ = f"In-place version of ``{fn.__name__}``."
    return method


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
        # reductions
        "sum": sum, "mean": mean, "var": var, "std": std, "max": max, "min": min, "amax": amax,
        "amin": amin, "argmax": argmax, "argmin": argmin, "logsumexp": logsumexp, "prod": prod,
        "all": all, "any": any, "norm": norm, "cumsum": cumsum, "cumprod": cumprod,
        # shape
        "reshape": reshape, "view": shape.view, "flatten": flatten, "unflatten": unflatten,
        "permute": permute, "transpose": transpose, "t": t, "expand": shape.expand,
        "expand_as": shape.expand_as, "broadcast_to": broadcast_to, "squeeze": squeeze,
        "unsqueeze": unsqueeze, "split": split, "chunk": chunk, "unbind": unbind,
        "narrow": narrow, "flip": flip, "to": shape.to, "contiguous": shape.contiguous,
        "clone": clone, "view_as": lambda self, other: shape.view(self, other.shape),
        "reshape_as": lambda self, other: reshape(self, other.shape),
        "repeat": shape.repeat, "tile": lambda self, *dims: tile(self, dims),
        "tril": tril, "triu": triu,
        # sorting and sampling
        "sort": sort, "argsort": argsort, "topk": topk, "unique": unique, "nonzero": nonzero,
        "multinomial": multinomial,
        # indexing and linear algebra
        "gather": gather, "index_select": index_select, "masked_fill": masked_fill,
        "scatter": scatter, "scatter_add": scatter_add,
        "matmul": matmul, "mm": mm, "bmm": bmm, "mv": mv, "dot": dot, "outer": outer,
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
                 "tril", "triu", "cumsum", "cumprod", "scatter", "scatter_add"):
        methods[name + "_"] = _inplace_of(methods[name])
    for name, fn in methods.items():
        setattr(T, name, fn)
    T.T = property(shape.T)
    T.mT = property(lambda self: transpose(self, -2, -1))


def _new_kwargs(t, kw):
    kw.setdefault("dtype", t.dtype)
    kw.setdefault("device", t.device)
    return kw


def _cuda_device(device):
    if device is None:
        return "cuda"
    return device if not isinstance(device, int) else f"cuda:{device}"


_install_methods()
