"""Tensor creation: factories with varargs/tuple/list sizes, ``dtype=`` and ``requires_grad=``,
``*_like``, default dtypes, ``tensor``/``as_tensor``/``from_numpy`` (copying or sharing memory),
and ``manual_seed`` reproducibility of every random function."""
import numpy as np
import pytest

import distgrad as dg

SIZED = {
    "zeros": lambda *s, **kw: dg.zeros(*s, **kw),
    "ones": lambda *s, **kw: dg.ones(*s, **kw),
    "empty": lambda *s, **kw: dg.empty(*s, **kw),
    "rand": lambda *s, **kw: dg.rand(*s, **kw),
    "randn": lambda *s, **kw: dg.randn(*s, **kw),
}


# -- sizes -------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(SIZED))
@pytest.mark.parametrize("args,shape", [((4,), (4,)), ((2, 5), (2, 5)), (((2, 5),), (2, 5)),
                                        (([2, 5],), (2, 5)), (((),), ()), (((0, 3),), (0, 3)),
                                        ((1, 2, 3), (1, 2, 3)), ((np.int64(3),), (3,)),
                                        (([],), ())], ids=str)
def test_sizes_as_varargs_tuple_or_list(name, args, shape):
    t = SIZED[name](*args)
    assert isinstance(t, dg.Tensor)
    assert t.shape == shape and t.size() == shape
    assert t.dtype == dg.float32
    assert not t.requires_grad and t.is_leaf


def test_size_from_tensor_and_shape():
    x = dg.ones(2, 3)
    assert dg.zeros(x.shape).shape == (2, 3)
    assert dg.zeros(x.size()).shape == (2, 3)
    assert dg.ones(*x.shape).shape == (2, 3)


def test_values_of_constant_factories():
    assert dg.zeros(2, 3).tolist() == [[0.0] * 3] * 2
    assert dg.ones([2]).tolist() == [1.0, 1.0]
    assert dg.full((2, 2), 7.5).tolist() == [[7.5, 7.5], [7.5, 7.5]]
    assert dg.full([3], -1).tolist() == [-1, -1, -1]
    assert dg.eye(3).tolist() == [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    assert dg.eye(2, 3).shape == (2, 3) and dg.eye(2, 3).sum().item() == 2.0
    assert dg.arange(5).tolist() == [0, 1, 2, 3, 4]
    assert dg.arange(2, 8, 2).tolist() == [2, 4, 6]
    assert dg.arange(5, 0, -2).tolist() == [5, 3, 1]
    np.testing.assert_allclose(dg.arange(0, 1, 0.25).numpy(), [0, 0.25, 0.5, 0.75])
    np.testing.assert_allclose(dg.linspace(0, 1, 5).numpy(), [0, 0.25, 0.5, 0.75, 1.0])
    assert dg.linspace(-1, 1, 1).tolist() == [-1.0]


# -- dtypes ------------------------------------------------------------------------------------
def test_default_dtypes():
    assert dg.zeros(2).dtype == dg.float32
    assert dg.tensor(1.5).dtype == dg.float32
    assert dg.tensor([1, 2.5]).dtype == dg.float32
    assert dg.tensor(3).dtype == dg.int64
    assert dg.tensor([[1, 2], [3, 4]]).dtype == dg.int64
    assert dg.tensor(True).dtype == dg.bool
    assert dg.tensor([True, False]).dtype == dg.bool
    assert dg.tensor([]).dtype == dg.float32 and dg.tensor([]).shape == (0,)
    assert dg.arange(5).dtype == dg.int64
    assert dg.arange(5.0).dtype == dg.float32
    assert dg.arange(0, 1, 0.5).dtype == dg.float32
    assert dg.linspace(0, 1, 3).dtype == dg.float32
    assert dg.eye(2).dtype == dg.float32
    assert dg.full((2,), 1).dtype == dg.int64
    assert dg.full((2,), 1.0).dtype == dg.float32
    assert dg.full((2,), True).dtype == dg.bool
    assert dg.rand(2).dtype == dg.float32 and dg.randn(2).dtype == dg.float32
    assert dg.randint(0, 5, (3,)).dtype == dg.int64
    assert dg.randperm(4).dtype == dg.int64
    assert dg.get_default_dtype() == dg.float32


def test_set_default_dtype_changes_float_defaults():
    dg.set_default_dtype(dg.float64)
    try:
        assert dg.tensor(1.5).dtype == dg.float64
        assert dg.zeros(2).dtype == dg.float64 and dg.randn(2).dtype == dg.float64
        assert dg.tensor(1).dtype == dg.int64
        assert (dg.tensor([1, 2]) / 2).dtype == dg.float64
    finally:
        dg.set_default_dtype(dg.float32)
    assert dg.zeros(2).dtype == dg.float32


DTYPES = [dg.float64, dg.float32, dg.float16, dg.int32, dg.int64, dg.bool]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: str(d))
def test_dtype_argument_of_every_factory(dtype):
    made = [dg.zeros(2, 3, dtype=dtype), dg.ones((2, 3), dtype=dtype),
            dg.empty([2, 3], dtype=dtype), dg.full((2, 3), 1, dtype=dtype),
            dg.tensor([[1, 0, 1], [0, 1, 1]], dtype=dtype), dg.as_tensor([[1, 0, 1]], dtype=dtype),
            dg.arange(6, dtype=dtype) if dtype != dg.bool else dg.zeros(6, dtype=dtype),
            dg.eye(3, dtype=dtype), dg.linspace(0, 1, 3, dtype=dtype) if dtype != dg.bool else
            dg.ones(3, dtype=dtype)]
    if dtype in (dg.int32, dg.int64):
        made.append(dg.randint(0, 4, (2, 3), dtype=dtype))
        made.append(dg.randperm(5, dtype=dtype))
    if dtype.kind == "f":
        made += [dg.rand(2, 3, dtype=dtype), dg.randn(2, 3, dtype=dtype)]
    for t in made:
        assert t.dtype == dtype
    assert dg.zeros(2, dtype=dtype).tolist() == [0, 0]
    assert dg.ones(2, dtype=dtype).tolist() == [1, 1]


def test_dtype_given_as_python_types_and_strings():
    assert dg.zeros(2, dtype=float).dtype == dg.float64
    assert dg.zeros(2, dtype=int).dtype == dg.int64
    assert dg.zeros(2, dtype=bool).dtype == dg.bool
    assert dg.tensor([1, 2], dtype=dg.float).dtype == dg.float32
    assert dg.tensor([1.7, -2.7], dtype=dg.int32).tolist() == [1, -2]


@pytest.mark.parametrize("name", ["zeros", "ones", "empty", "rand", "randn"])
def test_requires_grad_argument(name):
    t = SIZED[name](2, 3, requires_grad=True)
    assert t.requires_grad and t.is_leaf and t.grad_fn is None
    (t * 2).sum().backward()
    assert t.grad.tolist() == [[2.0] * 3] * 2
    t64 = SIZED[name](2, dtype=dg.float64, requires_grad=True)
    assert t64.requires_grad and t64.dtype == dg.float64


def test_requires_grad_argument_other_factories():
    for t in (dg.full((2,), 1.5, requires_grad=True), dg.tensor([1.0], requires_grad=True),
              dg.arange(0.0, 3.0, requires_grad=True), dg.linspace(0, 1, 3, requires_grad=True),
              dg.eye(2, requires_grad=True), dg.zeros_like(dg.ones(2), requires_grad=True),
              dg.ones_like(dg.ones(2), requires_grad=True),
              dg.rand_like(dg.ones(2), requires_grad=True),
              dg.randn_like(dg.ones(2), requires_grad=True),
              dg.full_like(dg.ones(2), 3.0, requires_grad=True),
              dg.empty_like(dg.ones(2), requires_grad=True)):
        assert t.requires_grad and t.is_leaf


def test_requires_grad_needs_a_float_dtype():
    message = "Only Tensors of floating point and complex dtype can require gradients"
    for make in (lambda: dg.tensor([1, 2], requires_grad=True),
                 lambda: dg.zeros(2, dtype=dg.int64, requires_grad=True),
                 lambda: dg.ones(2, dtype=dg.bool, requires_grad=True),
                 lambda: dg.arange(3, requires_grad=True),
                 lambda: dg.full((2,), 1, requires_grad=True)):
        with pytest.raises(RuntimeError) as info:
            make()
        assert str(info.value) == message


def test_factories_ignore_no_grad():
    with dg.no_grad():
        t = dg.ones(2, requires_grad=True)
        u = dg.tensor([1.0], requires_grad=True)
        assert t.requires_grad and u.requires_grad
        assert not (t * 2).requires_grad


def test_random_factories_reject_integer_dtypes():
    with pytest.raises(RuntimeError, match="not implemented for 'Long'"):
        dg.rand(2, dtype=dg.int64)
    with pytest.raises(RuntimeError, match="not implemented for 'Int'"):
        dg.randn(2, dtype=dg.int32)


# -- *_like ------------------------------------------------------------------------------------
LIKE = {
    "zeros_like": lambda x, **kw: dg.zeros_like(x, **kw),
    "ones_like": lambda x, **kw: dg.ones_like(x, **kw),
    "empty_like": lambda x, **kw: dg.empty_like(x, **kw),
    "full_like": lambda x, **kw: dg.full_like(x, 3, **kw),
    "rand_like": lambda x, **kw: dg.rand_like(x, **kw),
    "randn_like": lambda x, **kw: dg.randn_like(x, **kw),
}


@pytest.mark.parametrize("name", list(LIKE))
@pytest.mark.parametrize("dtype", [dg.float32, dg.float64, dg.float16], ids=str)
def test_like_factories_keep_shape_and_dtype(name, dtype):
    x = dg.ones(2, 3, dtype=dtype, requires_grad=True)
    t = LIKE[name](x)
    assert t.shape == (2, 3) and t.dtype == dtype
    assert not t.requires_grad and t.is_leaf  # the history and requires_grad are not copied
    other = dg.float64 if dtype != dg.float64 else dg.float32
    assert LIKE[name](x, dtype=other).dtype == other
    assert LIKE[name](x, requires_grad=True).requires_grad


def test_like_factories_values_and_integer_inputs():
    x = dg.tensor([[1, 2], [3, 4]])
    assert dg.zeros_like(x).tolist() == [[0, 0], [0, 0]] and dg.zeros_like(x).dtype == dg.int64
    assert dg.ones_like(x, dtype=dg.float32).tolist() == [[1.0, 1.0], [1.0, 1.0]]
    assert dg.full_like(x, 7).tolist() == [[7, 7], [7, 7]]
    r = dg.randint_like(x, 10)
    assert r.shape == (2, 2) and r.dtype == dg.int64 and r.min() >= 0 and r.max() < 10
    r = dg.randint_like(x, 3, 5)
    assert ((r >= 3) & (r < 5)).all()
    assert dg.zeros_like(dg.ones(())).shape == ()


# -- tensor / as_tensor / from_numpy -------------------------------------------------------------
def test_tensor_from_nested_lists():
    t = dg.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert t.shape == (2, 2) and t.dtype == dg.float32
    assert t.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert dg.tensor([[[1], [2]]]).shape == (1, 2, 1)
    assert dg.tensor(((1, 2), (3, 4))).tolist() == [[1, 2], [3, 4]]
    assert dg.tensor(2.5).shape == () and dg.tensor(2.5).item() == 2.5


def test_tensor_from_ragged_lists_raises():
    with pytest.raises(ValueError, match=r"expected sequence of length 2 at dim 1 \(got 1\)"):
        dg.tensor([[1, 2], [3]])
    with pytest.raises(ValueError, match=r"expected sequence of length 1 at dim 2 \(got 2\)"):
        dg.tensor([[[1], [2, 3]]])


@pytest.mark.parametrize("dtype", ["float64", "float32", "float16", "int64", "int32", "int16",
                                   "int8", "uint8", "bool"])
def test_tensor_from_numpy_array_keeps_dtype_and_copies(dtype):
    a = np.ones((2, 3), dtype=dtype)
    t = dg.tensor(a)
    assert t.dtype == np.dtype(dtype) and t.shape == (2, 3)
    assert not np.shares_memory(t.numpy(), a)
    a[0, 0] = 0
    assert t.tolist()[0][0] == 1


def test_tensor_from_numpy_scalars_keeps_dtype():
    assert dg.tensor(np.float64(1.5)).dtype == dg.float64
    assert dg.tensor(np.int32(3)).dtype == dg.int32
    assert dg.tensor(np.float32(2.0)).dtype == dg.float32
    assert dg.tensor(np.bool_(True)).dtype == dg.bool


def test_tensor_from_tensors():
    x = dg.tensor([1.0, 2.0], dtype=dg.float64, requires_grad=True)
    t = dg.tensor(x)
    assert t.dtype == dg.float64 and not t.requires_grad and t.is_leaf
    assert not np.shares_memory(t.numpy(), x.detach().numpy())
    assert dg.tensor(x, dtype=dg.float32).dtype == dg.float32
    s = dg.tensor([dg.tensor(1.0, dtype=dg.float64), dg.tensor(2.0, dtype=dg.float64)])
    assert s.dtype == dg.float64 and s.tolist() == [1.0, 2.0]
    assert dg.tensor([dg.tensor(1), dg.tensor(2)]).dtype == dg.int64


def test_from_numpy_shares_memory_both_ways():
    a = np.arange(6, dtype=np.float64).reshape(2, 3)
    t = dg.from_numpy(a)
    assert t.dtype == dg.float64 and t.shape == (2, 3)
    a[0, 0] = 100.0
    assert t[0, 0].item() == 100.0
    t[1, 2] = -1.0
    assert a[1, 2] == -1.0
    t.add_(1)
    assert a[0, 0] == 101.0
    for dtype in (np.int32, np.float16, np.bool_, np.uint8):
        assert dg.from_numpy(np.zeros(2, dtype=dtype)).dtype == np.dtype(dtype)
    with pytest.raises(TypeError):
        dg.from_numpy([1, 2])


def test_as_tensor_shares_when_possible():
    a = np.arange(4, dtype=np.float32)
    t = dg.as_tensor(a)
    assert np.shares_memory(t.numpy(), a)
    a[0] = 9
    assert t[0].item() == 9
    c = dg.as_tensor(a, dtype=dg.float64)  # a conversion copies
    assert c.dtype == dg.float64 and not np.shares_memory(c.numpy(), a)
    x = dg.ones(3)
    assert dg.as_tensor(x) is x
    assert dg.as_tensor(x, dtype=dg.float32) is x
    assert dg.as_tensor(x, dtype=dg.float64).dtype == dg.float64
    lst = dg.as_tensor([1.0, 2.0])
    assert lst.dtype == dg.float32 and lst.tolist() == [1.0, 2.0]
    assert dg.as_tensor(3).dtype == dg.int64


# -- manual_seed reproducibility ---------------------------------------------------------------
RANDOM = {
    "rand": lambda: dg.rand(3, 4),
    "randn": lambda: dg.randn((3, 4)),
    "randint": lambda: dg.randint(0, 100, (3, 4)),
    "randint_high": lambda: dg.randint(100, [5]),
    "randperm": lambda: dg.randperm(20),
    "normal_": lambda: dg.empty(3, 4).normal_(),
    "normal_args": lambda: dg.empty(5).normal_(2.0, 0.5),
    "uniform_": lambda: dg.empty(3, 4).uniform_(),
    "uniform_args": lambda: dg.zeros(5).uniform_(-3, -1),
    "rand_like": lambda: dg.rand_like(dg.ones(2, 2)),
    "randn_like": lambda: dg.randn_like(dg.ones(2, 2, dtype=dg.float64)),
    "randint_like": lambda: dg.randint_like(dg.ones(4), 0, 50),
}


@pytest.mark.parametrize("name", list(RANDOM))
def test_manual_seed_makes_random_functions_reproducible(name):
    fn = RANDOM[name]
    dg.manual_seed(1234)
    first = [fn().tolist() for _ in range(3)]
    dg.manual_seed(1234)
    second = [fn().tolist() for _ in range(3)]
    assert first == second
    assert first[0] != first[1]  # the generator advances
    dg.manual_seed(4321)
    assert fn().tolist() != first[0]


def test_manual_seed_covers_all_random_functions_together():
    def draw():
        return (dg.rand(2).tolist(), dg.randn(2).tolist(), dg.randint(0, 9, (3,)).tolist(),
                dg.randperm(5).tolist(), dg.empty(2).normal_().tolist(),
                dg.empty(2).uniform_().tolist())
    dg.manual_seed(7)
    a = draw()
    dg.manual_seed(7)
    assert draw() == a


def test_generator_argument_and_rng_state():
    g = dg.Generator().manual_seed(5)
    a = dg.rand(4, generator=g).tolist()
    g.manual_seed(5)
    assert dg.rand(4, generator=g).tolist() == a
    dg.manual_seed(0)
    state = dg.get_rng_state()
    b = dg.randn(3).tolist()
    dg.set_rng_state(state)
    assert dg.randn(3).tolist() == b


def test_random_value_ranges():
    dg.manual_seed(0)
    u = dg.rand(1000)
    assert 0.0 <= u.min().item() and u.max().item() < 1.0
    n = dg.randn(20000, dtype=dg.float64)
    assert abs(n.mean().item()) < 0.05 and abs(n.std().item() - 1) < 0.05
    r = dg.randint(3, 7, (1000,))
    assert r.min().item() == 3 and r.max().item() == 6
    assert sorted(dg.randperm(10).tolist()) == list(range(10))
    v = dg.empty(1000).uniform_(-2, -1)
    assert -2.0 <= v.min().item() and v.max().item() < -1.0


def test_creation_matches_torch():
    torch = pytest.importorskip("torch")
    for fn in (lambda m: m.arange(5), lambda m: m.arange(1, 2.5, 0.5), lambda m: m.arange(-3, 3, 2),
               lambda m: m.linspace(-1, 1, 7), lambda m: m.eye(2, 4), lambda m: m.full((2,), 2.5),
               lambda m: m.tensor([[1, 2], [3, 4]]), lambda m: m.tensor([0.1, 2]),
               lambda m: m.zeros(2, 0), lambda m: m.ones((), dtype=m.int32),
               lambda m: m.tensor(np.float64(2.0)),
               lambda m: m.tensor(np.arange(3, dtype=np.int16))):
        t, d = fn(torch), fn(dg)
        assert str(t.dtype).replace("torch.", "") == dg.dtypes.dtype_name(d.dtype)
        assert tuple(t.shape) == d.shape
        np.testing.assert_allclose(d.numpy(), t.numpy(), rtol=1e-6, atol=1e-6)
