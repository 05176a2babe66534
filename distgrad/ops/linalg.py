"""Matrix products: ``matmul`` (with batch broadcasting and vectors), ``mm``, ``bmm``, ``dot``,
``mv``, ``outer``, ``einsum``; and the norms of ``distgrad.linalg`` (``norm``, ``vector_norm``,
``matrix_norm``), composed of differentiable ops."""
from __future__ import annotations

import builtins
import math
import string

import numpy as np

from .. import _backend
from ..autograd.graph import Node
from ..dtypes import as_dtype, int64
from ..tensor import Tensor, _from_node
from ._util import (_state, broadcast_error, check_devices, check_same_device, normalize_dims,
                    torch_type_name, unbroadcast)

_wrap = Tensor._wrap


class MmBackward0(Node):
    """Backward of ``a @ b`` for 2-D operands (the common, fast case)."""

    def backward(self, g):
        a, b = self.saved_tensors
        na, nb = self.next_functions
        return (g @ b._data.T if na else None,
                a._data.T @ g if nb else None)

    def graph_backward(self, g):
        a, b = self.saved_tensors
        return g @ b.transpose(-1, -2), a.transpose(-1, -2) @ g


class MatmulBackward0(Node):
    """Backward of ``matmul`` for vectors and batched (broadcast) operands."""

    def backward(self, g):
        a, b = self.saved_tensors
        ad, bd = a._data, b._data
        na, nb = self.next_functions
        xp = _backend.get_array_module(g)
        if ad.ndim == 1 and bd.ndim == 1:
            return (g * bd if na else None, g * ad if nb else None)
        a2 = ad[None, :] if ad.ndim == 1 else ad
        b2 = bd[:, None] if bd.ndim == 1 else bd
        g2 = g
        if ad.ndim == 1:
            g2 = xp.expand_dims(g2, -2)
        if bd.ndim == 1:
            g2 = xp.expand_dims(g2, -1)
        ga = gb = None
        if na:
            ga = unbroadcast(g2 @ xp.swapaxes(b2, -1, -2), a2.shape).reshape(ad.shape)
        if nb:
            gb = unbroadcast(xp.swapaxes(a2, -1, -2) @ g2, b2.shape).reshape(bd.shape)
        return ga, gb

    def graph_backward(self, g):
        from .elementwise import sum_to
        a, b = self.saved_tensors
        if a.ndim == 1 and b.ndim == 1:
            return g * b, g * a
        a2 = a.unsqueeze(0) if a.ndim == 1 else a
        b2 = b.unsqueeze(-1) if b.ndim == 1 else b
        g2 = g
        if a.ndim == 1:
            g2 = g2.unsqueeze(-2)
        if b.ndim == 1:
            g2 = g2.unsqueeze(-1)
        ga = sum_to(g2 @ b2.transpose(-1, -2), a2.shape).reshape(a.shape)
        gb = sum_to(a2.transpose(-1, -2) @ g2, b2.shape).reshape(b.shape)
        return ga, gb


def matmul(input, other) -> Tensor:
    """Matrix product with NumPy/PyTorch semantics (vectors, matrices, broadcast batches)."""
    if not isinstance(other, Tensor):
        raise TypeError(f"matmul(): argument 'other' must be Tensor, not {type(other).__name__}")
    ad, bd = input._data, other._data
    try:
        out = ad @ bd
    except ValueError:
        check_same_device(input, other)  # CuPy: arrays on two GPUs raise ValueError
        raise RuntimeError(_matmul_error(ad.shape, bd.shape)) from None
    except TypeError:
        check_same_device(input, other)
        raise
    if ad.dtype is not bd.dtype and ad.dtype != bd.dtype:
        raise RuntimeError(_dtype_error(ad, bd))
    if _state.enabled and (input._requires_grad or other._requires_grad):
        cls = MmBackward0 if ad.ndim == 2 and bd.ndim == 2 else MatmulBackward0
        node = cls((input, other))
        node.save(input, other)
        return _from_node(out, node)
    return _wrap(out)


_C10_NAMES = {"float32": "float", "float64": "double", "float16": "c10::Half",
              "int64": "long int", "int32": "int", "int16": "short int", "int8": "signed char",
              "uint8": "unsigned char", "bool": "bool"}


def _dtype_error(ad, bd):
    """PyTorch's message for operands of different dtypes (it depends on the kernel)."""
    if ad.ndim == 1 and bd.ndim == 1:
        return (f"dot : expected both vectors to have same dtype, but found "
                f"{torch_type_name(ad.dtype)} and {torch_type_name(bd.dtype)}")
    if ad.ndim <= 2 and bd.ndim <= 2:
        return (f"expected m1 and m2 to have the same dtype, but got: "
                f"{_C10_NAMES.get(ad.dtype.name, ad.dtype.name)} != "
                f"{_C10_NAMES.get(bd.dtype.name, bd.dtype.name)}")
    return (f"expected scalar type {torch_type_name(ad.dtype)} but found "
            f"{torch_type_name(bd.dtype)}")


def _prod(shape):
    n = 1
    for s in shape:
        n *= s
    return n


def _matmul_error(sa, sb):
    """PyTorch's message for matmul operands whose shapes do not fit (by operand ranks)."""
    na, nb = len(sa), len(sb)
    if na == 0 or nb == 0:
        return f"both arguments to matmul need to be at least 1D, but they are {na}D and {nb}D"
    if na == 1 and nb == 1:
        return (f"inconsistent tensor size, expected tensor [{sa[0]}] and src [{sb[0]}] to have "
                f"the same number of elements, but got {sa[0]} and {sb[0]} elements respectively")
    if nb == 1:  # matrix (batches folded into rows) times vector
        rows = _prod(sa[:-1])
        return f"size mismatch, got input ({rows}), mat ({rows}x{sa[-1]}), vec ({sb[0]})"
    if nb == 2:  # batches of the first operand folded into rows
        rows = _prod(sa[:-1])
        return (f"mat1 and mat2 shapes cannot be multiplied ({rows}x{sa[-1]} and "
                f"{sb[0]}x{sb[1]})")
    batch_a, batch_b = tuple(sa[:-2]), tuple(sb[:-2])
    try:
        batch = np.broadcast_shapes(batch_a, batch_b)
    except ValueError:
        return str(broadcast_error(batch_a, batch_b))
    n = _prod(batch)
    return (f"Expected size for first two dimensions of batch2 tensor to be: [{n}, {sa[-1]}] "
            f"but got: [{n}, {sb[-2]}].")


def mm(input, mat2) -> Tensor:
    """Product of two matrices."""
    if input.ndim != 2 or mat2.ndim != 2:
        raise RuntimeError("mm(): both arguments must be 2-D matrices")
    return matmul(input, mat2)


def bmm(input, mat2) -> Tensor:
    """Batched product of 3-D tensors."""
    if input.ndim != 3 or mat2.ndim != 3:
        raise RuntimeError("bmm(): both arguments must be 3-D tensors")
    return matmul(input, mat2)


def mv(input, vec) -> Tensor:
    """Matrix-vector product."""
    return matmul(input, vec)


def dot(input, other) -> Tensor:
    """Dot product of two 1-D tensors."""
    if input.ndim != 1 or other.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {input.ndim}D and {other.ndim}D tensors")
    return matmul(input, other)


def outer(input, vec2) -> Tensor:
    """Outer product of two vectors."""
    return input.unsqueeze(-1) * vec2.unsqueeze(0)


# --------------------------------------------------------------------------------------------
# einsum
# --------------------------------------------------------------------------------------------
_LETTERS = string.ascii_uppercase + string.ascii_lowercase  # PyTorch's order of subscripts


def _check_einsum_chars(equation):
    """PyTorch's error for a character that is no subscript (letters, ``...``, ``,``, one
    ``->`` and spaces are allowed)."""
    arrow = equation.find("->")
    for pos, c in enumerate(equation):
        if (c in _LETTERS or c in " ." or (c == "," and (arrow < 0 or pos < arrow))
                or (arrow >= 0 and arrow <= pos <= arrow + 1)):
            continue
        raise RuntimeError(f"einsum(): invalid subscript given at index {pos} in the equation "
                           "string, subscripts must be in [a-zA-Z]")


def _ellipsis_size(term, ndim, where):
    """How many dims the ellipsis of ``term`` (an operand's subscripts, ``where`` naming it)
    stands for, with PyTorch's errors for misplaced dots and wrong numbers of subscripts."""
    letters = term.replace("...", "")
    if term.count("...") > 1:
        raise RuntimeError(f"einsum(): found '.' for {where} for which an ellipsis was already "
                           "found")
    if "." in letters:
        raise RuntimeError(f"einsum(): found '.' for {where} that is not part of any ellipsis")
    if "..." not in term:
        if len(letters) != ndim:
            raise RuntimeError(f"einsum(): the number of subscripts in the equation "
                               f"({len(letters)}) does not match the number of dimensions "
                               f"({ndim}) for {where} and no ellipsis was given")
        return 0
    if len(letters) > ndim:
        raise RuntimeError(f"einsum(): the number of subscripts in the equation ({len(letters)}) "
                           f"is more than the number of dimensions ({ndim}) for {where}")
    return ndim - len(letters)


def _check_einsum_sizes(terms, shapes):
    """PyTorch's errors for a subscript whose sizes differ (and do not broadcast)."""
    seen = {}
    for i, (term, shape) in enumerate(zip(terms, shapes)):
        mine = {}
        for c, n in zip(term, shape):
            if c in mine and mine[c] != n:
                raise RuntimeError(f"einsum(): subscript {c} is repeated for operand {i} but the "
                                   f"sizes don't match, {n} != {mine[c]}")
            mine[c] = n
            if seen.get(c, 1) != 1 and n != 1 and n != seen[c]:
                raise RuntimeError(f"einsum(): subscript {c} has size {n} for operand {i} which "
                                   f"does not broadcast with previously seen size {seen[c]}")
            if seen.get(c, 1) == 1:
                seen[c] = n


def _parse_einsum(equation, shapes):
    """``(inputs, output)``: the subscripts of each operand and of the result, with every
    ellipsis spelled out in letters the equation does not use and the output made explicit."""
    _check_einsum_chars(equation)
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise RuntimeError(f"einsum(): {'fewer' if len(terms) > len(shapes) else 'more'} operands "
                           "were provided than specified in the equation")
    dots = [_ellipsis_size(term, len(shape), f"operand {i}")
            for i, (term, shape) in enumerate(zip(terms, shapes))]
    unused = [c for c in _LETTERS if c not in eq]
    if builtins.max(dots) > len(unused):
        raise RuntimeError("einsum(): the equation and its ellipsis dims need more than the 52 "
                           "subscripts [a-zA-Z]")
    ell = "".join(unused[:builtins.max(dots)])
    terms = [term.replace("...", ell[len(ell) - n:]) for term, n in zip(terms, dots)]
    _check_einsum_sizes(terms, shapes)
    used = "".join(terms)
    if not arrow:  # implicit output: the ellipsis dims, then the letters used once, sorted
        return terms, ell + "".join(sorted(c for c in set(used) - set(ell)
                                           if used.count(c) == 1))
    if "." in rhs.replace("...", ""):
        raise RuntimeError("einsum(): found '.' for output that is not part of any ellipsis (...)")
    output = rhs.replace("...", ell)
    for c in output:
        if output.count(c) > 1:
            raise RuntimeError(f"einsum(): output subscript {c} appears more than once in the "
                               "output")
        if c not in used:
            raise RuntimeError(f"einsum(): output subscript {c} does not appear in the equation "
                               "for any input operand")
    return terms, output


def _einsum_arrays(equation, arrays):
    """``einsum`` on arrays (with BLAS contractions for several operands), as an array."""
    xp = _backend.get_array_module(arrays[0])
    out = xp.einsum(equation, *arrays, optimize=len(arrays) > 1)
    if len(arrays) == 1 and getattr(out, "base", None) is not None:
        out = out.copy()  # a view of the operand (a transpose, a diagonal) would share memory
    return xp.asarray(out)


def _einsum_tensors(equation, tensors):
    """``einsum`` on a list of tensors (differentiable, for double backward)."""
    return einsum(equation, *tensors)


class EinsumBackward0(Node):
    """Backward of ``einsum``: each operand's gradient is the einsum of the output's gradient
    with the other operands, summed over its broadcast dims and expanded over the letters that
    only it has."""

    def backward(self, g):
        operands = [t._data for t in self.saved_tensors]
        xp = _backend.get_array_module(g)
        return self._grads(g, operands, _einsum_arrays, xp.broadcast_to, unbroadcast)

    def graph_backward(self, g):
        from .elementwise import sum_to
        from .shape import expand
        return self._grads(g, list(self.saved_tensors), _einsum_tensors, expand, sum_to)

    def _grads(self, g, operands, einsum_fn, expand_fn, reduce_fn):
        grads = []
        for i, (edge, term) in enumerate(zip(self.next_functions, self.terms)):
            if edge is None:
                grads.append(None)
                continue
            if len(set(term)) != len(term):
                raise RuntimeError(f"einsum(): the gradient for operand {i} is not supported: "
                                   f"its subscripts '{term}' repeat a letter (a diagonal)")
            others = [t for j, t in enumerate(self.terms) if j != i]
            known = set(self.output).union(*others)
            target = "".join([c for c in term if c in known])
            grad = einsum_fn(",".join([self.output] + others) + "->" + target,
                             [g] + [op for j, op in enumerate(operands) if j != i])
            shape = operands[i].shape
            grad = grad.reshape(tuple([grad.shape[target.index(c)] if c in known else 1
                                       for c in term]))
            grad = reduce_fn(grad, shape)
            grads.append(grad if grad.shape == shape else expand_fn(grad, shape))
        return tuple(grads)


def einsum(equation, *operands) -> Tensor:
    """Einstein summation: ``einsum("ij,jk->ik", a, b)`` is ``a @ b``; ``...`` stands for
    broadcast dims; without ``->`` the output has the letters used once, sorted. The operands may
    also be given as one list. Differentiable for operands whose subscripts do not repeat a
    letter."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not operands:
        raise ValueError("einsum(): must specify the equation string and at least one operand, "
                         "or at least one operand and its subscripts list")
    terms, output = _parse_einsum(equation, [t.shape for t in operands])
    dt = operands[0]._data.dtype
    for t in operands[1:]:
        if t._data.dtype != dt:
            raise RuntimeError(f"expected scalar type {torch_type_name(dt)} but found "
                               f"{torch_type_name(t._data.dtype)}")
    arrays = [t._data for t in operands]
    if len(arrays) == 1 and dt.kind in "biu" and set(terms[0]) - set(output):
        arrays = [arrays[0].astype(int64)]  # a sum of integers, which PyTorch does in int64
    try:
        out = _einsum_arrays(",".join(terms) + "->" + output, arrays)
    except (TypeError, ValueError):
        check_devices(*operands)
        raise
    if _state.enabled and any(t._requires_grad for t in operands):
        node = EinsumBackward0(operands)
        node.save(*operands)
        node.terms, node.output = terms, output
        return _from_node(out, node)
    return _wrap(out)


# --------------------------------------------------------------------------------------------
# norms (``distgrad.linalg.norm``, ``vector_norm``, ``matrix_norm``)
# --------------------------------------------------------------------------------------------
def _safe_pow(base, exponent, at_zero) -> Tensor:
    """``base ** exponent``, but ``at_zero`` with a zero gradient where ``base`` is 0 (PyTorch's
    norms mask their gradients there, where a plain power gives inf or NaN)."""
    from .elementwise import where
    zero = base == 0
    return where(zero, at_zero, where(zero, 1.0, base) ** exponent)


def _norm_input(name, x, dtype) -> Tensor:
    """``x`` checked to be floating point and converted to ``dtype``, as PyTorch's norms do."""
    if x._data.dtype.kind != "f":
        raise RuntimeError(f"{name}: Expected a floating point or complex tensor as input. Got "
                           f"{torch_type_name(x._data.dtype)}")
    if dtype is None:
        return x
    dtype = as_dtype(dtype)
    if dtype.kind != "f":
        raise RuntimeError(f"{name}: dtype should be floating point or complex, but got "
                           f"{torch_type_name(dtype)}")
    if dtype.itemsize < x._data.dtype.itemsize:
        raise RuntimeError(f"{name}: the dtype of the input ({torch_type_name(x._data.dtype)}) "
                           "should be convertible without narrowing to the specified dtype "
                           f"({torch_type_name(dtype)})")
    return x.to(dtype)


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None) -> Tensor:
    """The ``ord``-norm over ``dim`` (all elements by default): ``sum(|x| ** ord) ** (1 / ord)``,
    the largest (``inf``) or smallest (``-inf``) ``|x|``, or the number of non-zero elements
    (``0``). The gradient is 0 where the norm is 0, as in PyTorch."""
    from .elementwise import abs
    from .reduce import amax, amin, sum
    x = _norm_input("linalg.vector_norm", x, dtype)
    ord = float(ord)
    if x._data.size == 0 and (ord < 0 or ord == math.inf):
        raise RuntimeError(f"linalg.vector_norm cannot compute the {ord:g} norm on an empty "
                           "tensor because the operation does not have an identity")
    a = abs(x)
    if ord == math.inf:
        return amax(a, dim, keepdim)
    if ord == -math.inf:
        return amin(a, dim, keepdim)
    if ord == 1:
        return sum(a, dim, keepdim)
    if ord == 2:
        total = sum(x * x, dim, keepdim)
    elif ord > 1:  # the gradient of |x| ** ord is 0 at x = 0
        total = sum(a ** ord, dim, keepdim)
    else:
        total = sum(_safe_pow(a, ord, 0.0 if ord >= 0 else math.inf), dim, keepdim)
    return total if ord == 0 else _safe_pow(total, 1.0 / ord, 0.0)


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None) -> Tensor:
    """The matrix norm over the two dims ``dim``: Frobenius (``'fro'``), the largest (``1``) or
    smallest (``-1``) absolute column sum, or the largest (``inf``) or smallest (``-inf``)
    absolute row sum. The norms of singular values (``'nuc'``, ``2``, ``-2``) are not
    supported."""
    from .elementwise import abs
    from .reduce import amax, amin, sum
    from .shape import squeeze
    A = _norm_input("linalg.matrix_norm", A, dtype)
    if A._data.ndim < 2:
        raise RuntimeError("linalg.matrix_norm: The input tensor A must have at least 2 "
                           "dimensions.")
    dims = list(dim) if isinstance(dim, (tuple, list)) else [dim]
    if len(dims) != 2:
        raise RuntimeError(f"linalg.matrix_norm: dim must be a 2-tuple. Got "
                           f"{' '.join(str(d) for d in dims)}")
    rows, cols = [normalize_dims(d, A._data.ndim)[0] for d in dims]
    if rows == cols:
        raise RuntimeError(f"linalg.matrix_norm: dims must be different. Got ({rows}, {cols})")
    if ord == "fro":
        return vector_norm(A, 2, (rows, cols), keepdim)
    if ord in (1, -1, math.inf, -math.inf):
        across, along = (rows, cols) if builtins.abs(ord) == 1 else (cols, rows)
        pick = amax if ord > 0 else amin
        out = pick(sum(abs(A), across, keepdim=True), along, keepdim=True)
        return out if keepdim else squeeze(out, (rows, cols))
    if ord in ("nuc", 2, -2):
        raise NotImplementedError(f"linalg.matrix_norm: ord={ord!r} needs singular values, which "
                                  "distgrad does not compute")
    raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")


def norm(A, ord=None, dim=None, keepdim=False, *, dtype=None) -> Tensor:
    """A vector or matrix norm (``torch.linalg.norm``): the matrix norm ``ord`` over two dims
    when ``dim`` has two, or when ``ord`` is given for a 2-D ``A`` without ``dim``; otherwise the
    vector ``ord``-norm (2 by default) over ``dim`` (all elements by default)."""
    ndim = A._data.ndim
    if dim is not None:
        dims = list(dim) if isinstance(dim, (tuple, list)) else [dim]
        if len(dims) not in (1, 2):
            raise RuntimeError(f"linalg.norm: If dim is specified, it must be of length 1 or 2. "
                               f"Got {dims}")
    elif ord is not None and ndim not in (1, 2):
        raise RuntimeError(f"linalg.norm: If dim is not specified but ord is, the input must be "
                           f"1D or 2D. Got {ndim}D.")
    if isinstance(ord, str) or (ord is not None and (len(dims) if dim is not None else ndim) == 2):
        return matrix_norm(A, ord, dims if dim is not None else (0, 1), keepdim, dtype=dtype)
    return vector_norm(A, 2 if ord is None else ord, dim, keepdim, dtype=dtype)
