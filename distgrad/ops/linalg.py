"""Matrix products: ``matmul`` (with batch broadcasting and vectors), ``mm``, ``bmm``, ``dot``,
``mv``, ``outer``, ``einsum``; the norms of ``distgrad.linalg`` (``norm``, ``vector_norm``,
``matrix_norm``), composed of differentiable ops; ``cdist``; and ``inv``, ``det``, ``slogdet``,
``solve``, ``cholesky``, ``svd``, ``svdvals`` and ``cond`` (NumPy's/CuPy's LAPACK calls, with
PyTorch's errors)."""
from __future__ import annotations

import builtins
import math
import string
from collections import namedtuple

import numpy as np

from .. import _backend
from ..autograd.graph import FREED_MESSAGE, Node
from ..dtypes import as_dtype, int64
from ..tensor import Tensor, _from_node
from ._util import (_state, broadcast_error, c_type_name, check_devices, check_same_device,
                    maximum_zero, normalize_dims, torch_type_name, unbroadcast)

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
# Scaled updates by matrix products: addmm, addmv, baddbmm, addbmm (PyTorch's checks in its
# order, then differentiable ops)
# --------------------------------------------------------------------------------------------
def _size(t, dim) -> int:
    """``t.size(dim)``, with PyTorch's IndexError for a dim out of range."""
    return t.shape[normalize_dims(dim, t.ndim)[0]]


def _check_same_dtype(what, a, b):
    """PyTorch's error for the two operands ``what`` of an addmm of different dtypes."""
    if a._data.dtype != b._data.dtype:
        raise RuntimeError(f"{what} must have the same dtype, but got "
                           f"{torch_type_name(a._data.dtype)} and {torch_type_name(b._data.dtype)}")


def _zeroed(t) -> Tensor:
    """Zeros shaped like ``t``, through which ``t`` gets a zero gradient, whatever its values
    (NaN and inf included): an operand scaled by 0 is dropped, as BLAS does."""
    from .elementwise import where
    zeros = t._xp().zeros(t.shape, dtype=t._data.dtype)
    if not (_state.enabled and t._requires_grad):
        return _wrap(zeros)
    return where(_wrap(zeros.astype(bool)), t, _wrap(zeros))


def _blas_update(input, product, beta, alpha, kernel) -> Tensor:
    """``beta * input + alpha * product`` for ``input`` expanded to the product's shape, the
    scales cast to its dtype (``kernel`` names the bool error); an operand scaled by 0 is
    dropped."""
    from .elementwise import scale_for
    dtype = product._data.dtype
    beta, alpha = scale_for(beta, dtype, kernel), scale_for(alpha, dtype, kernel)
    if alpha != 1:
        product = _zeroed(product) if alpha == 0 else product * alpha
    if beta == 0:
        return product + _zeroed(input) if _state.enabled and input._requires_grad else product
    return (input if beta == 1 else input * beta) + product


def addmm(input, mat1, mat2, *, beta=1, alpha=1) -> Tensor:
    """``beta * input + alpha * (mat1 @ mat2)`` for matrices of ``input``'s dtype, ``input``
    broadcast to the product's shape (and ignored, NaN included, when ``beta`` is 0)."""
    from .elementwise import check_tensor_args
    from .shape import expand
    check_tensor_args("addmm", ("input", input), ("mat1", mat1), ("mat2", mat2))
    _check_same_dtype("self and mat2", input, mat2)
    _check_same_dtype("mat1 and mat2", mat1, mat2)
    for name, m in (("mat1", mat1), ("mat2", mat2)):
        if m.ndim != 2:
            raise RuntimeError(f"{name} must be a matrix, got {m.ndim}-D tensor")
    (n, k), (k2, p) = mat1.shape, mat2.shape
    if k != k2:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({n}x{k} and {k2}x{p})")
    return _blas_update(expand(input, (n, p)), matmul(mat1, mat2), beta, alpha,
                        "addmm_impl_cpu_")


def addmv(input, mat, vec, *, beta=1, alpha=1) -> Tensor:
    """``beta * input + alpha * (mat @ vec)`` for a matrix and a vector of ``input``'s dtype,
    ``input`` (at most 1-D) broadcast to the product's shape."""
    from .elementwise import check_tensor_args
    from .shape import expand
    check_tensor_args("addmv", ("input", input), ("mat", mat), ("vec", vec))
    if mat.ndim != 2 or vec.ndim != 1 or input.ndim > 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got {input.ndim}, {mat.ndim}, "
                           f"{vec.ndim}")
    (n, k), m = mat.shape, input.numel()
    if k != vec.shape[0] or (m != n and m != 1):
        raise RuntimeError(f"size mismatch, got input ({m}), mat ({n}x{k}), vec ({vec.shape[0]})")
    dtypes = [t._data.dtype for t in (input, mat, vec)]
    if len(set(dtypes)) > 1:
        a, b, c = [torch_type_name(d) for d in dtypes]
        raise RuntimeError(f"addmv input tensors must have the same dtype, but got {a}, {b}, "
                           f"and {c}")
    return _blas_update(expand(input, (n,)), matmul(mat, vec), beta, alpha, "addmv_impl_cpu")


def _check_batches(batch1, batch2):
    """PyTorch's errors for batched-product operands that are not 3-D."""
    for name, b in (("batch1", batch1), ("batch2", batch2)):
        if b.ndim != 3:
            raise RuntimeError(f"{name} must be a 3D tensor")


def baddbmm(input, batch1, batch2, *, beta=1, alpha=1) -> Tensor:
    """``beta * input + alpha * bmm(batch1, batch2)`` for 3-D batches of ``input``'s dtype,
    ``input`` broadcast to the product's shape."""
    from .elementwise import check_tensor_args
    from .shape import expand
    check_tensor_args("baddbmm", ("input", input), ("batch1", batch1), ("batch2", batch2))
    input = expand(input, (_size(batch1, 0), _size(batch1, 1), _size(batch2, 2)))
    _check_batches(batch1, batch2)
    b, _, k = batch1.shape
    if batch2.shape[:2] != (b, k):
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{b}, {k}] but got: [{batch2.shape[0]}, {batch2.shape[1]}].")
    if len({t._data.dtype for t in (input, batch1, batch2)}) > 1:
        a, b1, b2 = [c_type_name(t._data.dtype) for t in (input, batch1, batch2)]
        raise RuntimeError(f"Input dtypes must be the same, got: input {a}, batch1: {b1}, "
                           f"batch2: {b2}")
    return _blas_update(input, matmul(batch1, batch2), beta, alpha, "baddbmm")


def addbmm(input, batch1, batch2, *, beta=1, alpha=1) -> Tensor:
    """``beta * input + alpha * sum_b(batch1[b] @ batch2[b])`` for 3-D batches of ``input``'s
    dtype (one matrix product over the concatenated batches), ``input`` broadcast to the
    product's shape."""
    from .elementwise import check_tensor_args
    from .shape import expand
    check_tensor_args("addbmm", ("input", input), ("batch1", batch1), ("batch2", batch2))
    input = expand(input, (_size(batch1, 1), _size(batch2, 2)))
    _check_batches(batch1, batch2)
    (b, n, k), (b2, k2, p) = batch1.shape, batch2.shape
    if b != b2:
        raise RuntimeError(f"batch1 and batch2 must have same number of batches, got {b} and {b2}")
    if k != k2:
        raise RuntimeError(f"Incompatible matrix sizes for bmm ({n}x{k} and {k2}x{p})")
    _check_same_dtype("self and mat2", input, batch2)
    _check_same_dtype("mat1 and mat2", batch1, batch2)
    product = matmul(batch1.transpose(0, 1).reshape(n, b * k), batch2.reshape(b * k, p))
    return _blas_update(input, product, beta, alpha, "addmm_impl_cpu_")


def keeping_shape(fn):
    """``fn`` (``addmm`` and the like) checking that its result has ``input``'s shape, as the
    in-place variants require."""
    def checked(input, *args, **kwargs):
        out = fn(input, *args, **kwargs)
        if out.shape != input.shape:
            raise RuntimeError(f"Bad in-place call: input tensor size {list(input.shape)} and "
                               f"output tensor size {list(out.shape)} should match")
        return out
    checked.__name__ = checked.__qualname__ = fn.__name__
    checked.__doc__ = fn.__doc__
    return checked


def _tensordot_dims(dims, na, nb):
    """``tensordot``'s ``dims`` (a count, a pair of dim lists or a tensor) as two lists of
    non-negative dims of ``a`` and ``b``."""
    if isinstance(dims, Tensor):
        dims = dims.tolist()
    if isinstance(dims, (int, np.integer)):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        if dims > builtins.min(na, nb):
            raise RuntimeError(f"tensordot expects dims < ndim_a or ndim_b, but got dims={dims}")
        return list(range(na - dims, na)), list(range(dims))
    da, db = dims
    da = [da] if isinstance(da, (int, np.integer)) else list(da)
    db = [db] if isinstance(db, (int, np.integer)) else list(db)
    if len(da) != len(db):
        raise RuntimeError("both dimension lists should have same length")
    return ([normalize_dims(d, na)[0] for d in da], [normalize_dims(d, nb)[0] for d in db])


def tensordot(a, b, dims=2) -> Tensor:
    """Sum of products over the dims ``dims`` of ``a`` and ``b`` (the last ``dims`` of ``a``
    with the first ``dims`` of ``b`` for an int), by a permute, reshape and matmul."""
    da, db = _tensordot_dims(dims, a.ndim, b.ndim)
    for i, j in zip(da, db):
        if a.shape[i] != b.shape[j]:
            raise RuntimeError(f"contracted dimensions need to match, but first has size "
                               f"{a.shape[i]} in dim {i} and second has size {b.shape[j]} in dim {j}")
    free_a = [i for i in range(a.ndim) if i not in da]
    free_b = [j for j in range(b.ndim) if j not in db]
    k = _prod([a.shape[i] for i in da])
    am = a.permute(free_a + da).reshape(-1, k)
    bm = b.permute(db + free_b).reshape(k, -1)
    return mm(am, bm).reshape([a.shape[i] for i in free_a] + [b.shape[j] for j in free_b])


def kron(input, other) -> Tensor:
    """The Kronecker product: blocks ``input[i] * other`` laid out over ``input``'s shape (the
    tensors padded with leading dims of size 1 to the same rank)."""
    if not isinstance(other, Tensor):
        raise TypeError(f"kron(): argument 'other' (position 2) must be Tensor, not "
                        f"{type(other).__name__}")
    n = builtins.max(input.ndim, other.ndim)
    sa = (1,) * (n - input.ndim) + tuple(input.shape)
    sb = (1,) * (n - other.ndim) + tuple(other.shape)
    a = input.reshape([s for d in sa for s in (d, 1)])   # a's dims at the even positions
    b = other.reshape([s for d in sb for s in (1, d)])   # b's dims at the odd positions
    return (a * b).reshape([x * y for x, y in zip(sa, sb)])


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
    """The matrix norm over the two dims ``dim``: Frobenius (``'fro'``), nuclear (``'nuc'``: the
    sum of the singular values), spectral (``2``: the largest singular value; ``-2``: the
    smallest), the largest (``1``) or smallest (``-1``) absolute column sum, or the largest
    (``inf``) or smallest (``-inf``) absolute row sum."""
    from .elementwise import abs
    from .reduce import amax, amin, sum
    from .shape import squeeze
    given = A._data.dtype
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
        if given.itemsize < 4:
            raise RuntimeError(f"linalg.matrix_norm: Low precision dtypes not supported. Got "
                               f"{torch_type_name(given)}")
        return _singular_value_norm(A, ord, rows, cols, keepdim)
    raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")


def _singular_value_norm(A, ord, rows, cols, keepdim) -> Tensor:
    """The nuclear (``'nuc'``) or spectral (``2``, ``-2``) norm of the matrices of ``A`` over its
    dims ``rows`` and ``cols``, from their singular values."""
    from .creation import zeros
    from .reduce import amax, amin, sum
    if ord == 2 and A._data.size == 0:  # PyTorch's value for empty matrices (no gradient)
        shape = [1 if d in (rows, cols) else n for d, n in enumerate(A.shape)
                 if keepdim or d not in (rows, cols)]
        return zeros(shape, dtype=A._data.dtype, device=A.device)
    s = svdvals(A.movedim((rows, cols), (-2, -1)))
    out = sum(s, -1) if ord == "nuc" else (amax if ord == 2 else amin)(s, -1)
    if keepdim:
        for d in sorted((rows, cols)):
            out = out.unsqueeze(d)
    return out


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


# --------------------------------------------------------------------------------------------
# distances (``cdist``)
# --------------------------------------------------------------------------------------------
_CDIST_MODES = {"use_mm_for_euclid_dist_if_necessary": None, "use_mm_for_euclid_dist": True,
                "donot_use_mm_for_euclid_dist": False}


def _mT(a):
    """The matrices of the array ``a`` transposed (a view)."""
    return _backend.get_array_module(a).swapaxes(a, -1, -2)


def _cdist_weights(diff, dist, p, xp):
    """The derivative of the ``p``-norm distances ``dist`` (..., P, R, 1) with respect to the
    differences ``diff`` (..., P, R, M), for p other than 0 and 2: zero where the distance (or,
    for p < 1, the difference) is zero, as in PyTorch."""
    sign = xp.sign(diff)
    if p == 1:
        return sign
    size = xp.abs(diff)
    if p == math.inf:
        return sign * (size == dist)
    zero = dist == 0
    if p < 1:
        zero = zero | (diff == 0)
    return xp.where(zero, 0, sign * (xp.where(zero, 1, size) / xp.where(zero, 1, dist)) ** (p - 1))


class CdistBackward0(Node):
    """Backward of ``cdist``; a zero distance has a zero gradient, as in PyTorch. Double backward
    exists for p = 2 (PyTorch has it only for its matrix-product path)."""

    def backward(self, g):
        x1, x2 = [t._data for t in self.saved_tensors]
        dist = self.saved_output
        xp = _backend.get_array_module(g)
        if self.p == 0:
            g1, g2 = xp.zeros_like(x1), xp.zeros_like(x2)
        elif self.p == 2:
            ratio = xp.where(dist == 0, 0, g / xp.where(dist == 0, 1, dist))
            g1 = x1 * ratio.sum(-1, keepdims=True) - ratio @ x2
            g2 = x2 * ratio.sum(-2)[..., None] - _mT(ratio) @ x1
        else:
            diff = x1[..., :, None, :] - x2[..., None, :, :]
            w = _cdist_weights(diff, dist[..., None], self.p, xp) * g[..., None]
            g1, g2 = w.sum(-2), -w.sum(-3)
        n1, n2 = self.next_functions
        return (unbroadcast(g1, x1.shape).astype(x1.dtype, copy=False) if n1 else None,
                unbroadcast(g2, x2.shape).astype(x2.dtype, copy=False) if n2 else None)

    def graph_backward(self, g):
        from .elementwise import sum_to, where
        x1, x2 = self.saved_tensors
        if self.p != 2:  # gradients whose own backward raises, as in PyTorch
            node = CdistBackwardBackward0((g, x1, x2))
            grads = [None if a is None else _from_node(a, node) for a in self.backward(g._data)]
            if grads[1] is not None:
                grads[1]._output_nr = 1
            return tuple(grads)
        dist = self.saved_output_tensor()
        zero = dist == 0
        ratio = where(zero, 0.0, g / where(zero, 1.0, dist))
        g1 = x1 * ratio.sum(-1, keepdim=True) - ratio @ x2
        g2 = x2 * ratio.sum(-2).unsqueeze(-1) - ratio.mT @ x1
        return sum_to(g1, x1.shape), sum_to(g2, x2.shape)


class CdistBackwardBackward0(Node):
    """Node of the gradients of ``cdist`` (p other than 2) made with ``create_graph=True``:
    PyTorch has no derivative for them, so backward through them raises."""

    num_outputs = 2

    def backward(self, *grads):
        raise NotImplementedError("the derivative for '_cdist_backward' is not implemented.")

    graph_backward = backward


def _euclidean_by_products(a, b, xp):
    """Euclidean distances as PyTorch computes them for many rows: one matrix product of
    ``[-2 a, |a|^2, 1]`` and ``[b, 1, |b|^2]``, clamped at 0 before the square root."""
    na = (a * a).sum(-1, keepdims=True)
    nb = (b * b).sum(-1, keepdims=True)
    left = xp.concatenate([-2 * a, na, xp.ones_like(na)], -1)
    right = xp.concatenate([b, xp.ones_like(nb), nb], -1)
    return xp.sqrt(maximum_zero(left @ _mT(right)))


def _distances(a, b, p, xp):
    """The ``p``-norm distances between the rows of ``a`` and of ``b``, from their differences."""
    size = xp.abs(a[..., :, None, :] - b[..., None, :, :])
    if p == 0:
        return (size != 0).sum(-1).astype(a.dtype)
    if p == 1:
        return size.sum(-1)
    if p == 2:
        return xp.sqrt((size * size).sum(-1))
    if p == math.inf:
        return size.max(-1) if size.shape[-1] else xp.zeros(size.shape[:-1], dtype=a.dtype)
    return (size ** p).sum(-1) ** (1 / p)


def cdist(x1, x2, p=2.0, compute_mode="use_mm_for_euclid_dist_if_necessary") -> Tensor:
    """The ``p``-norm distances between each row of ``x1`` (..., P, M) and each row of ``x2``
    (..., R, M), as (..., P, R), the batch dims broadcast. For p = 2 with more than 25 rows (or
    ``compute_mode='use_mm_for_euclid_dist'``) they come from matrix products, as in PyTorch. A
    zero distance has a zero gradient."""
    if compute_mode not in _CDIST_MODES:
        raise ValueError(f"{compute_mode} is not a valid value for compute_mode")
    a, b = x1._data, x2._data
    for name, arr in (("X1", a), ("X2", b)):
        if arr.ndim < 2:
            raise RuntimeError(f"cdist only supports at least 2D tensors, {name} got: {arr.ndim}D")
    if a.shape[-1] != b.shape[-1]:
        raise RuntimeError(f"X1 and X2 must have the same number of columns. X1: {a.shape[-1]} "
                           f"X2: {b.shape[-1]}")
    for name, arr in (("X1", a), ("X2", b)):
        if arr.dtype.kind != "f":
            raise RuntimeError(f"cdist only supports floating-point dtypes, {name} got: "
                               f"{torch_type_name(arr.dtype)}")
    if p < 0:
        raise RuntimeError("cdist only supports non-negative p values")
    if a.dtype == np.float16:
        raise NotImplementedError("\"cdist\" not implemented for 'Half'")
    if a.dtype != b.dtype:
        raise RuntimeError(f"expected scalar type {torch_type_name(a.dtype)} but found "
                           f"{torch_type_name(b.dtype)}")
    try:
        np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ValueError:
        raise broadcast_error(a.shape[:-2], b.shape[:-2]) from None
    xp = x1._xp()
    p = float(p)
    mm = _CDIST_MODES[compute_mode]
    try:
        if p == 2 and (mm or (mm is None and builtins.max(a.shape[-2], b.shape[-2]) > 25)):
            out = _euclidean_by_products(a, b, xp)
        else:
            out = _distances(a, b, p, xp)
    except (TypeError, ValueError):
        check_devices(x1, x2)
        raise
    return _linalg_result(out, (x1, x2), CdistBackward0, save=(x1, x2), output=True, p=p)


# --------------------------------------------------------------------------------------------
# inverses, determinants, solves and Cholesky (``distgrad.linalg``)
# --------------------------------------------------------------------------------------------
class LinAlgError(RuntimeError):
    """A matrix that a ``linalg`` function cannot handle (singular, not positive-definite):
    PyTorch's ``torch.linalg.LinAlgError``, a ``RuntimeError``."""


slogdet_result = namedtuple("linalg_slogdet", ["sign", "logabsdet"])

_INV_SINGULAR = ("The diagonal element {} is zero, the inversion could not be completed because "
                 "the input matrix is singular.")
_SOLVE_SINGULAR = "The solver failed because the input matrix is singular."
_NOT_POSITIVE_DEFINITE = ("The factorization could not be completed because the input is not "
                          "positive-definite (the leading minor of order {} is not "
                          "positive-definite).")


def _linalg_result(out, inputs, node_cls, save=(), output=False, **attrs) -> Tensor:
    """``out`` as the result of an op on ``inputs``, recorded by a ``node_cls`` node that saves
    the tensors ``save`` (and the output with ``output``) and has ``attrs``."""
    if not (_state.enabled and builtins.any(t._requires_grad for t in inputs)):
        return _wrap(out)
    node = node_cls(inputs)
    node.save(*save)
    for k, v in attrs.items():
        setattr(node, k, v)
    result = _from_node(out, node)
    if output:
        node.save_output(result)
    return result


def _check_square(name, A):
    """PyTorch's shape checks of the matrix argument of the ``linalg`` function ``name``."""
    shape = A._data.shape
    if len(shape) < 2:
        raise RuntimeError(f"{name}: The input tensor A must have at least 2 dimensions.")
    if shape[-1] != shape[-2]:
        raise RuntimeError(f"{name}: A must be batches of square matrices, but they are "
                           f"{shape[-2]} by {shape[-1]} matrices")


def _check_float(name, A, kernel=None):
    """PyTorch's dtype checks of the matrix argument of the ``linalg`` function ``name``:
    float32/float64. float16 is refused by a RuntimeError, or by the NotImplementedError of the
    LAPACK ``kernel`` that PyTorch reaches first."""
    dtype = A._data.dtype
    if dtype.kind != "f":
        raise RuntimeError(f"{name}: Expected a floating point or complex tensor as input. Got "
                           f"{torch_type_name(dtype)}")
    if dtype.itemsize < 4:
        if kernel:
            raise NotImplementedError(f"\"{kernel}\" not implemented for "
                                      f"'{torch_type_name(dtype)}'")
        raise RuntimeError(f"{name}: Low precision dtypes not supported. Got "
                           f"{torch_type_name(dtype)}")


def _zero_pivot(m):
    """1 + the column of the first zero pivot in the LU factorisation with partial pivoting of
    the host matrix ``m`` (LAPACK's ``getrf`` info), or 0."""
    m = m.copy()
    for k in range(m.shape[0]):
        p = k + int(np.argmax(np.abs(m[k:, k])))
        if m[p, k] == 0:
            return k + 1
        m[[k, p]] = m[[p, k]]
        m[k + 1:, k:] -= np.outer(m[k + 1:, k] / m[k, k], m[k, k:])
    return 0


def _failed_minor(m):
    """The order of the first leading minor of the host matrix ``m`` (its lower triangle) that
    is not positive-definite (LAPACK's ``potrf`` info), or 0."""
    low = np.zeros_like(m)
    for j in range(m.shape[0]):
        pivot = m[j, j] - low[j, :j] @ low[j, :j]
        if not pivot > 0:
            return j + 1
        low[j, j] = math.sqrt(pivot)
        low[j + 1:, j] = (m[j + 1:, j] - low[j + 1:, :j] @ low[j, :j]) / low[j, j]
    return 0


def _lapack(fn, data, name, find, message):
    """``fn(data)`` (a NumPy/CuPy ``linalg`` call on the matrices ``data``: an array or a tuple
    of arrays) with a failure raised as PyTorch's LinAlgError ``name: (Batch element i):
    message`` (formatted with what the host check ``find`` reports for the first matrix that
    fails). NumPy raises on such a matrix; CuPy
    returns non-finite values (and NumPy does for a NaN pivot of a Cholesky factorisation)."""
    xp = _backend.get_array_module(data)
    try:
        out = fn(data)
    except np.linalg.LinAlgError as exc:
        _raise_failure(data, name, find, message)
        raise LinAlgError(f"{name}: {exc}") from None
    outs = out if isinstance(out, tuple) else (out,)
    if not builtins.all(bool(xp.isfinite(o).all()) for o in outs):
        _raise_failure(data, name, find, message)
    return out


def _raise_failure(data, name, find, message):
    """Raise the LinAlgError of ``_lapack`` for the first matrix of ``data`` that ``find`` fails."""
    host = _backend.to_device(data, _backend.CPU)
    for i, m in enumerate(host.reshape((-1,) + host.shape[-2:])):
        where = find(m)
        if where:
            batch = f"(Batch element {i}): " if host.ndim > 2 else ""
            raise LinAlgError(f"{name}: {batch}{message.format(where)}")


class LinalgInvExBackward0(Node):
    """Backward of ``linalg.inv``: ``-inv^T g inv^T``."""

    def backward(self, g):
        inv_t = _mT(self.saved_output)
        return (-(inv_t @ g @ inv_t),)

    def graph_backward(self, g):
        inv_t = self.saved_output_tensor().mT
        return (-(inv_t @ g @ inv_t),)


def inv(A) -> Tensor:
    """The inverse of each square matrix of ``A`` (..., n, n); a singular one raises
    ``LinAlgError``."""
    _check_square("linalg.inv", A)
    _check_float("linalg.inv", A)
    out = _lapack(A._xp().linalg.inv, A._data, "linalg.inv", _zero_pivot, _INV_SINGULAR)
    return _linalg_result(out, (A,), LinalgInvExBackward0, output=True)


inverse = inv


def _cofactors(a):
    """The cofactor matrices of the matrices ``a`` (the gradient of the determinant), right for
    singular ones too: with ``a = U S Vh``, ``det(U) det(Vh) U diag(s') Vh`` where ``s'[i]`` is
    the product of the singular values but the i-th."""
    xp = _backend.get_array_module(a)
    if a.shape[-1] == 0:
        return xp.zeros_like(a)
    u, s, vh = xp.linalg.svd(a)
    one = xp.ones(s.shape[:-1] + (1,), dtype=s.dtype)
    before = xp.cumprod(xp.concatenate([one, s[..., :-1]], -1), -1)
    after = xp.flip(xp.cumprod(xp.concatenate([one, xp.flip(s, -1)[..., :-1]], -1), -1), -1)
    scale = (xp.linalg.det(u) * xp.linalg.det(vh))[..., None] * before * after
    return (u * scale[..., None, :]) @ vh


class LinalgDetBackward0(Node):
    """Backward of ``linalg.det``: the gradient times the cofactor matrix. Double backward uses
    ``det(A) inv(A)^T``, so it needs an invertible matrix."""

    def backward(self, g):
        (a,) = self.saved_tensors
        return (g[..., None, None] * _cofactors(a._data),)

    def graph_backward(self, g):
        (a,) = self.saved_tensors
        return ((g * det(a))[..., None, None] * inv(a).mT,)


def det(A) -> Tensor:
    """The determinant of each square matrix of ``A`` (..., n, n)."""
    _check_square("linalg.det", A)
    _check_float("linalg.det", A, "lu_cpu")
    out = A._xp().linalg.det(A._data)
    return _linalg_result(out, (A,), LinalgDetBackward0, save=(A,))


class LinalgSlogdetBackward0(Node):
    """Backward of ``linalg.slogdet``: ``g inv(A)^T`` from the gradient of ``logabsdet``; the
    sign has none."""

    num_outputs = 2

    def backward(self, g_sign, g_log):
        if g_log is None:
            return (None,)
        (a,) = self.saved_tensors
        xp = _backend.get_array_module(g_log)
        inv_t = _mT(_lapack(xp.linalg.inv, a._data, "linalg.slogdet", _zero_pivot,
                            _INV_SINGULAR))
        return (g_log[..., None, None] * inv_t,)

    def graph_backward(self, g_sign, g_log):
        if g_log is None:
            return (None,)
        (a,) = self.saved_tensors
        return (g_log[..., None, None] * inv(a).mT,)


def slogdet(A):
    """``(sign, logabsdet)`` of the determinant of each square matrix of ``A``: ``det = sign *
    exp(logabsdet)`` without overflow (sign 0 and logabsdet -inf for a singular matrix)."""
    _check_square("linalg.slogdet", A)
    _check_float("linalg.slogdet", A)
    sign, logabsdet = A._xp().linalg.slogdet(A._data)
    if not (_state.enabled and A._requires_grad):
        return slogdet_result(_wrap(sign), _wrap(logabsdet))
    node = LinalgSlogdetBackward0((A,))
    node.save(A)
    logabsdet = _from_node(logabsdet, node)
    logabsdet._output_nr = 1
    return slogdet_result(_from_node(sign, node), logabsdet)


class LinalgSolveExBackward0(Node):
    """Backward of ``A X = B``: ``gB = solve(A^T, g)``, ``gA = -gB X^T`` (summed over broadcast
    batch dims)."""

    def backward(self, g):
        (a,) = self.saved_tensors
        a = _mT(a._data)
        xp = _backend.get_array_module(g)
        grad_b = xp.linalg.solve(xp.broadcast_to(a, g.shape[:-2] + a.shape[-2:]), g)
        grad_a = -(grad_b @ _mT(self.saved_output))
        return unbroadcast(grad_a, self.a_shape), unbroadcast(grad_b, self.b_shape)

    def graph_backward(self, g):
        from .elementwise import sum_to
        (a,) = self.saved_tensors
        grad_b = _solve(a.mT, g)
        grad_a = -(grad_b @ self.saved_output_tensor().mT)
        return sum_to(grad_a, self.a_shape), sum_to(grad_b, self.b_shape)


def _solve(A, B) -> Tensor:
    """``X`` with ``A X = B`` for square matrices ``A`` (..., n, n) and ``B`` (..., n, k) of one
    dtype, the batch dims broadcast."""
    a, b = A._data, B._data
    try:
        batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ValueError:
        raise broadcast_error(b.shape[:-2], a.shape[:-2]) from None
    xp = A._xp()
    b = xp.broadcast_to(b, batch + b.shape[-2:])
    out = _lapack(lambda m: xp.linalg.solve(xp.broadcast_to(m, batch + m.shape[-2:]), b), a,
                  "torch.linalg.solve", _zero_pivot, _SOLVE_SINGULAR)
    return _linalg_result(out, (A, B), LinalgSolveExBackward0, save=(A,), output=True,
                          a_shape=a.shape, b_shape=B._data.shape)


def solve(A, B, *, left=True) -> Tensor:
    """The solution ``X`` of ``A X = B`` (``X A = B`` with ``left=False``) for square matrices
    ``A`` (..., n, n) and matrices ``B`` (..., n, k), or vectors ``B`` (..., n); the batch dims
    broadcast. A singular ``A`` raises ``LinAlgError``."""
    _check_float("linalg.solve", A, "lu_cpu")
    _check_square("linalg.solve", A)
    if B._data.dtype != A._data.dtype:
        raise RuntimeError(f"linalg.solve: Expected A and B to have the same dtype, but found A of "
                           f"type {torch_type_name(A._data.dtype)} and B of type "
                           f"{torch_type_name(B._data.dtype)} instead")
    vector = B.ndim == 1 or (B.ndim == A.ndim - 1 and B.shape == A.shape[:-1])
    if not vector and B.ndim < 2:
        raise RuntimeError("linalg.solve: The input tensor B must have at least 2 dimensions.")
    matrices = B.unsqueeze(-1) if vector else B
    n, (rows, cols) = A.shape[-1], matrices.shape[-2:]
    if n != (rows if left else cols):
        raise RuntimeError(f"linalg.solve: Incompatible shapes of A and B for the equation "
                           f"{'AX = B' if left else 'XA = B'} ({n}x{n} and {rows}x{cols})")
    out = _solve(A, matrices) if left else _solve(A.mT, matrices.mT).mT
    return out.squeeze(-1) if vector else out


def _cholesky_grad(low, g, tril, mT, solve):
    """PyTorch's gradient of ``A`` for the Cholesky factor ``low`` and its gradient ``g`` (arrays
    or tensors, with ``tril``/``mT``/``solve`` of their kind): ``L^-T phi L^-1`` where ``phi`` is
    ``tril(L^T g)`` made symmetric from its lower triangle."""
    phi = tril(mT(low) @ g, 0)
    phi = 0.5 * (phi + mT(tril(phi, -1)))
    return mT(solve(mT(low), mT(solve(mT(low), phi))))


class LinalgCholeskyExBackward0(Node):
    """Backward of ``linalg.cholesky``."""

    def backward(self, g):
        low = self.saved_output
        if self.upper:
            low, g = _mT(low), _mT(g)
        xp = _backend.get_array_module(g)
        return (_cholesky_grad(low, g, xp.tril, _mT, xp.linalg.solve),)

    def graph_backward(self, g):
        from .shape import tril
        low = self.saved_output_tensor()
        if self.upper:
            low, g = low.mT, g.mT
        return (_cholesky_grad(low, g, tril, lambda t: t.mT, _solve),)


def cholesky(A, *, upper=False) -> Tensor:
    """The lower-triangular ``L`` with ``A = L L^T`` for each symmetric positive-definite matrix
    of ``A`` (only its lower triangle is read), or ``U = L^T`` from the upper triangle with
    ``upper=True``. A matrix that is not positive-definite raises ``LinAlgError``."""
    _check_square("linalg.cholesky", A)
    _check_float("linalg.cholesky", A, "cholesky_cpu")
    data = _mT(A._data) if upper else A._data
    out = _lapack(A._xp().linalg.cholesky, data, "linalg.cholesky", _failed_minor,
                  _NOT_POSITIVE_DEFINITE)
    return _linalg_result(_mT(out) if upper else out, (A,), LinalgCholeskyExBackward0,
                          output=True, upper=upper)


# --------------------------------------------------------------------------------------------
# singular values (``linalg.svd``, ``svdvals``, ``cond``)
# --------------------------------------------------------------------------------------------
svd_result = namedtuple("linalg_svd", ["U", "S", "Vh"])

_SVD_NON_FINITE = ("The algorithm failed to converge because the input matrix contained "
                   "non-finite values.")


def _non_finite(m):
    """Whether the host matrix ``m`` has a NaN or an infinity."""
    return not np.isfinite(m).all()


def _svd_grad(gU, gS, gVh, U, S, Vh, eye, mT):
    """PyTorch's gradient of ``A = U diag(S) Vh`` (the reduced SVD, ``k`` singular values) from
    those of the factors (None where they have none), on arrays or tensors: ``eye`` is the
    ``k x k`` identity and ``mT`` the matrix transpose of their kind. Singular vectors need
    distinct singular values (and, for a rectangular ``A``, full rank)."""
    m, n = U.shape[-2], Vh.shape[-1]
    if gU is None and gVh is None:  # singular values only: U diag(gS) Vh
        return U @ (gS[..., :, None] * Vh) if m >= n else (U * gS[..., None, :]) @ Vh
    s2 = S * S
    gA = 0
    if gU is not None:
        UhgU = mT(U) @ gU
        gA = (UhgU - mT(UhgU)) * S[..., None, :]
    if gVh is not None:
        VhgV = Vh @ mT(gVh)
        gA = gA + S[..., :, None] * (VhgV - mT(VhgV))
    gA = gA / (s2[..., None, :] - s2[..., :, None] + eye)  # the diagonal of gA is 0 here
    if gS is not None:
        gA = gA + gS[..., None, :] * eye
    if m > n and gU is not None:  # + (I - U U^T) gU S^-1 V^T
        gU_s = gU / S[..., None, :]
        return (U @ gA + gU_s - U @ (mT(U) @ gU_s)) @ Vh
    if m < n and gVh is not None:  # + U S^-1 gVh (I - V V^T)
        s_gVh = gVh / S[..., :, None]
        return U @ (gA @ Vh + s_gVh - (s_gVh @ mT(Vh)) @ Vh)
    return U @ (gA @ Vh) if m >= n else (U @ gA) @ Vh


class LinalgSvdBackward0(Node):
    """Backward of ``linalg.svd`` and ``svdvals`` (outputs ``U``, ``S``, ``Vh``); with
    ``full_matrices`` the extra columns of ``U`` and rows of ``Vh`` get no gradient, as in
    PyTorch."""

    num_outputs = 3
    factors = None  # (array, version counter, version) of U, S and Vh

    def release(self):
        super().release()
        self.factors = None

    def _factors(self):
        """The arrays ``U``, ``S``, ``Vh``, after the freed and in-place checks."""
        if self.factors is None:
            raise RuntimeError(FREED_MESSAGE)
        return [self._checked_output(saved, i) for i, saved in enumerate(self.factors)]

    @staticmethod
    def _reduced(gU, gVh, U, Vh, k):
        """The factors and their gradients cut to the ``k`` singular vectors of the reduced
        SVD."""
        if U.shape[-1] != k:
            U, gU = U[..., :k], None if gU is None else gU[..., :k]
        if Vh.shape[-2] != k:
            Vh, gVh = Vh[..., :k, :], None if gVh is None else gVh[..., :k, :]
        return gU, gVh, U, Vh

    def backward(self, gU, gS, gVh):
        U, S, Vh = self._factors()
        k = S.shape[-1]
        gU, gVh, U, Vh = self._reduced(gU, gVh, U, Vh, k)
        eye = _backend.get_array_module(S).eye(k, dtype=S.dtype)
        return (_svd_grad(gU, gS, gVh, U, S, Vh, eye, _mT),)

    def graph_backward(self, gU, gS, gVh):
        U, S, Vh = _node_outputs(self._factors(), self)
        k = S.shape[-1]
        gU, gVh, U, Vh = self._reduced(gU, gVh, U, Vh, k)
        eye = _wrap(_backend.get_array_module(S._data).eye(k, dtype=S.dtype))
        return (_svd_grad(gU, gS, gVh, U, S, Vh, eye, lambda t: t.mT),)


def _node_outputs(arrays, node):
    """The tensors of ``arrays``, outputs ``0, 1, ...`` of ``node``."""
    outputs = []
    for i, data in enumerate(arrays):
        t = _from_node(data, node)
        t._output_nr = i
        outputs.append(t)
    return outputs


def _svd(A, full_matrices):
    """``(U, S, Vh)`` tensors of the SVD of the matrices of ``A``, recorded by one node."""
    _check_float("linalg.svd", A, "linalg_svd_cpu")
    if A._data.ndim < 2:
        raise RuntimeError("linalg.svd: The input tensor A must have at least 2 dimensions.")
    xp = A._xp()
    factors = _lapack(lambda a: xp.linalg.svd(a, full_matrices=full_matrices), A._data,
                      "linalg.svd", _non_finite, _SVD_NON_FINITE)
    if not (_state.enabled and A._requires_grad):
        return [_wrap(f) for f in factors]
    node = LinalgSvdBackward0((A,))
    outputs = _node_outputs(factors, node)
    node.factors = tuple([(t._data, t._version_counter, t._version_counter[0]) for t in outputs])
    return outputs


def svd(A, full_matrices=True, *, driver=None):
    """``(U, S, Vh)`` with ``A = U diag(S) Vh`` for each matrix of ``A`` (..., m, n): the
    singular values ``S`` in descending order, ``U`` (..., m, m) and ``Vh`` (..., n, n), or
    (..., m, k) and (..., k, n) for ``k = min(m, n)`` with ``full_matrices=False``. Gradients
    through ``U`` or ``Vh`` need distinct singular values (and a loss that does not depend on
    their signs)."""
    if driver is not None and A.device.type == "cpu":
        raise RuntimeError("torch.linalg.svd: keyword argument `driver=` is only supported on "
                           "CUDA inputs with cuSOLVER backend.")
    return svd_result(*_svd(A, full_matrices))


def svdvals(A) -> Tensor:
    """The singular values of each matrix of ``A`` (..., m, n), in descending order."""
    return _svd(A, False)[1]


_COND_ORDS = (None, 2, -2, 1, -1, math.inf, -math.inf, "fro", "nuc")


def _regular_inverse(A):
    """``(inverse, singular)``: the inverses of the matrices of ``A``, the identity standing
    for each singular one, and a bool tensor of ``A``'s batch shape marking those (None when
    there are none)."""
    from .elementwise import where
    try:
        return inv(A), None
    except LinAlgError:
        pass
    host = _backend.to_device(A._data, _backend.CPU)
    singular = np.array([_zero_pivot(m) > 0 for m in host.reshape((-1,) + host.shape[-2:])])
    singular = _wrap(_backend.to_device(singular.reshape(host.shape[:-2]), A.device))
    eye = _wrap(A._xp().eye(A.shape[-1], dtype=A._data.dtype))
    return inv(where(singular[..., None, None], eye, A)), singular


def cond(A, p=None) -> Tensor:
    """The condition number of each matrix of ``A`` in the matrix norm ``p``: the ratio of the
    largest to the smallest singular value for ``p`` None or 2 (the inverse for -2), otherwise
    ``norm(A, p) * norm(inv(A), p)`` for square matrices (inf for a singular one, except for
    ``'nuc'``, computed from the singular values as in PyTorch)."""
    from .elementwise import isnan, where
    if A._data.ndim < 2:
        raise RuntimeError("linalg.cond: The input tensor must have at least 2 dimensions.")
    if p not in _COND_ORDS:
        raise RuntimeError(f"linalg.cond got an invalid norm type: {p}")
    if A._data.size == 0:
        return _wrap(A._xp().zeros(A.shape[:-2], dtype=A._data.dtype))
    if p in (None, 2, -2):
        s = svdvals(A)
        high, low = s[..., 0], s[..., -1]  # the singular values are in descending order
        return low / high if p == -2 else high / low
    if A.shape[-1] != A.shape[-2]:
        name = f"{p:f}" if isinstance(p, float) and math.isfinite(p) else p
        raise RuntimeError(f"linalg.cond(ord={name}): A must be batches of square matrices, but "
                           f"they are {A.shape[-2]} by {A.shape[-1]} matrices")
    if p == "nuc":  # as PyTorch: the nuclear norms of A and its inverse from A's singular values
        s = svdvals(A)
        return s.sum(-1) * s.reciprocal().sum(-1)
    inverse, singular = _regular_inverse(A)
    out = matrix_norm(A, p) * matrix_norm(inverse, p)
    if singular is not None:
        out = where(singular, math.inf, out)
    return where(isnan(out), math.inf, out)  # as PyTorch's nan_to_num (a NaN in A)


CROSS_DIM_WARNING = ("Using torch.cross without specifying the dim arg is deprecated.\n"
                     "Please either pass the dim explicitly or simply use torch.linalg.cross.\n"
                     "The default value of dim will change to agree with that of linalg.cross in "
                     "a future release.")


def cross(input, other, *, dim=-1) -> Tensor:
    """``distgrad.linalg.cross``: the cross products of the 3-vectors along dim ``dim`` of two
    tensors of one dtype and rank (the other dims broadcast)."""
    from .shape import dim_size, roll
    a, b = input._data, other._data
    if a.ndim != b.ndim:
        raise RuntimeError("linalg.cross: inputs must have the same number of dimensions.")
    na, nb = dim_size(input, dim), dim_size(other, dim)
    if na != 3 or nb != 3:
        raise RuntimeError(f"linalg.cross: inputs dimension {dim} must have length 3. Got {na} "
                           f"and {nb}")
    try:
        np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise broadcast_error(a.shape, b.shape) from None
    if a.dtype.kind == "b":
        raise NotImplementedError("\"cross\" not implemented for 'Bool'")
    if a.dtype != b.dtype:
        raise RuntimeError(f"expected scalar type {torch_type_name(a.dtype)} but found "
                           f"{torch_type_name(b.dtype)}")
    d = normalize_dims(dim, a.ndim)[0]
    # (a1 b2 - a2 b1, a2 b0 - a0 b2, a0 b1 - a1 b0): the components rolled into place
    return roll(input, -1, d) * roll(other, 1, d) - roll(input, 1, d) * roll(other, -1, d)


def legacy_cross(input, other, dim=None) -> Tensor:
    """``distgrad.cross`` (``Tensor.cross``): ``linalg.cross`` along ``dim``; without it
    (deprecated: it warns) along the first dim of size 3 of ``input``."""
    import warnings
    if dim is None:
        warnings.warn(CROSS_DIM_WARNING, UserWarning, stacklevel=2)
        dim = next((d for d, n in enumerate(input._data.shape) if n == 3), None)
        if dim is None:
            raise RuntimeError("no dimension of size 3 in input")
    return cross(input, other, dim=dim)
