"""Every collective, op and dtype on N ranks; asserts inside the ranks, prints "OK rank r".

Run: mpiexec -n 3 python -m mpi4py tests/distributed/jobs/collectives.py
"""
import io
import logging
import sys

import numpy as np

import distgrad
import distgrad.distributed as dist
from distgrad.distributed import ReduceOp

dist.init_process_group("mpi")  # host MPI even where CuPy would make the default NCCL
rank, n = dist.get_rank(), dist.get_world_size()
assert dist.is_initialized() and dist.get_backend() == "mpi"
assert dist.get_local_rank() == rank and dist.get_local_world_size() == n  # one node

FLOATS = ["float16", "float32", "float64"]
INTS = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"]
DTYPES = FLOATS + INTS + ["bool", "complex64", "complex128"]
SHAPE = (2, 3)


def value(dtype, r, salt=0):
    """Deterministic per-rank data (small values: products of N ranks fit in int8)."""
    base = (np.arange(6).reshape(SHAPE) + r + salt) % 3 + 1
    if dtype == "bool":
        return (np.arange(6).reshape(SHAPE) + r + salt) % 2 == 0
    if dtype.startswith("complex"):
        return (base + 1j * (base % 2)).astype(dtype)
    return base.astype(dtype)


def expected(dtype, op):
    stack = np.stack([value(dtype, r) for r in range(n)])
    if dtype == "bool":
        f = {ReduceOp.SUM: np.any, ReduceOp.MAX: np.any, ReduceOp.BOR: np.any,
             ReduceOp.PRODUCT: np.all, ReduceOp.MIN: np.all, ReduceOp.BAND: np.all,
             ReduceOp.BXOR: lambda a, axis: np.logical_xor.reduce(a, axis=axis)}[op]
        return f(stack, axis=0)
    f = {ReduceOp.SUM: np.sum, ReduceOp.PRODUCT: np.prod, ReduceOp.MAX: np.max,
         ReduceOp.MIN: np.min, ReduceOp.AVG: lambda a, axis: np.sum(a, axis=axis) / n,
         ReduceOp.BAND: lambda a, axis: np.bitwise_and.reduce(a, axis=axis),
         ReduceOp.BOR: lambda a, axis: np.bitwise_or.reduce(a, axis=axis),
         ReduceOp.BXOR: lambda a, axis: np.bitwise_xor.reduce(a, axis=axis)}[op]
    return f(stack.astype(np.float64) if dtype == "float16" else stack, axis=0).astype(dtype)


def ops_for(dtype):
    if dtype in FLOATS:
        return [ReduceOp.SUM, ReduceOp.AVG, ReduceOp.PRODUCT, ReduceOp.MIN, ReduceOp.MAX]
    if dtype.startswith("complex"):
        return [ReduceOp.SUM, ReduceOp.AVG, ReduceOp.PRODUCT]
    return [ReduceOp.SUM, ReduceOp.PRODUCT, ReduceOp.MIN, ReduceOp.MAX, ReduceOp.BAND,
            ReduceOp.BOR, ReduceOp.BXOR]


def check(got, want, what):
    got = np.asarray(got)
    assert got.dtype == want.dtype, (what, got.dtype, want.dtype)
    if want.dtype.kind in "fc":
        tol = 1e-3 if want.dtype == np.float16 else 1e-6
        ok = np.allclose(got, want, rtol=tol, atol=tol)
    else:
        ok = np.array_equal(got, want)
    assert ok, f"rank {rank}: {what}: got {got!r}, want {want!r}"


def raises(exc, fn, *words):
    try:
        fn()
    except exc as e:
        for w in words:
            assert w in str(e), (w, str(e))
        return
    raise AssertionError(f"{fn} did not raise {exc.__name__}")


# ---- all_reduce: every dtype x op, blocking and async, arrays and Tensors
for dt in DTYPES:
    for op in ops_for(dt):
        a = value(dt, rank)
        assert dist.all_reduce(a, op=op) is None
        check(a, expected(dt, op), f"all_reduce {dt} {op}")
        b = value(dt, rank)
        work = dist.all_reduce(b, op=op, async_op=True)
        assert work.wait() is True and work.is_completed()
        check(b, expected(dt, op), f"async all_reduce {dt} {op}")
    if dt not in FLOATS and not dt.startswith("complex"):
        raises(TypeError, lambda: dist.all_reduce(value(dt, rank), op=ReduceOp.AVG), "AVG",
               "floating-point", dt)
raises(TypeError, lambda: dist.all_reduce(value("complex64", rank), op=ReduceOp.MAX), "complex")
raises(TypeError, lambda: dist.all_reduce(value("float32", rank), op=ReduceOp.BAND), "integer")

t = distgrad.tensor(value("float32", rank))
v0 = t._version
dist.all_reduce(t)
check(t.numpy(), expected("float32", ReduceOp.SUM), "all_reduce Tensor")
assert t._version == v0 + 1, "an in-place collective bumps the tensor's version"

big = np.zeros((4, 6), np.float64)  # non-contiguous view: written back in place
view = big[:, ::2]
view[...] = rank + 1
dist.all_reduce(view)
assert (big[:, ::2] == n * (n + 1) / 2).all() and (big[:, 1::2] == 0).all()

s = np.array(rank + 1.0)  # 0-d
dist.all_reduce(s, op=ReduceOp.MAX)
assert float(s) == n

raises(ValueError, lambda: dist.all_reduce(np.broadcast_to(np.ones(1), (3,))), "read-only")
raises(TypeError, lambda: dist.all_reduce(np.ones(3, ">f4" if sys.byteorder == "little" else "<f4")),
       "unsupported dtype")
raises(TypeError, lambda: dist.all_reduce(np.ones(3), op="sum"), "ReduceOp")
raises(TypeError, lambda: dist.all_reduce([1.0, 2.0]), "distgrad.Tensor")

# async: poll is_completed() until done (progress by Test)
x = np.full(1 << 16, rank + 1.0, np.float32)
work = dist.all_reduce(x, async_op=True)
for _ in range(1_000_000):
    if work.is_completed():
        break
assert work.is_completed() and work.wait()
assert (x == n * (n + 1) / 2).all()

# ---- broadcast from every source
for dt in DTYPES:
    for src in range(n):
        a = value(dt, rank, salt=src) if rank == src else np.zeros(SHAPE, dt)
        dist.broadcast(a, src=src)
        check(a, value(dt, src, salt=src), f"broadcast {dt} from {src}")
tb = distgrad.tensor(np.full(5, float(rank), np.float32))
dist.broadcast(tb, src=n - 1, async_op=True).wait()
assert (tb.numpy() == n - 1).all()
raises(ValueError, lambda: dist.broadcast(np.zeros(2), src=n), "src")

# ---- all_gather / all_gather_into_tensor
for dt in DTYPES:
    outs = [np.zeros(SHAPE, dt) for _ in range(n)]
    dist.all_gather(outs, value(dt, rank))
    for r in range(n):
        check(outs[r], value(dt, r), f"all_gather {dt} [{r}]")
    stacked = np.zeros((n,) + SHAPE, dt)
    dist.all_gather_into_tensor(stacked, value(dt, rank))
    flat = np.zeros((n * SHAPE[0], SHAPE[1]), dt)
    dist.all_gather_into_tensor(flat, value(dt, rank), async_op=True).wait()
    for r in range(n):
        check(stacked[r], value(dt, r), f"all_gather_into_tensor {dt}")
        check(flat[r * SHAPE[0]:(r + 1) * SHAPE[0]], value(dt, r), f"all_gather_into_tensor cat {dt}")
tl = [distgrad.zeros(3) for _ in range(n)]
dist.all_gather(tl, distgrad.tensor(np.full(3, float(rank), np.float32)))
assert [float(u.numpy()[0]) for u in tl] == list(range(n))
raises(ValueError, lambda: dist.all_gather([np.zeros(3)] * (n + 1), np.zeros(3)), "entries", str(n))
raises(ValueError, lambda: dist.all_gather([np.zeros(4)] * n, np.zeros(3)), "tensor_list[0]",
       "shape")
raises(ValueError, lambda: dist.all_gather_into_tensor(np.zeros(5), np.zeros(3)), "elements")

# ---- reduce_scatter / reduce_scatter_tensor
for dt in ["float16", "float32", "float64", "int32", "int64", "uint8", "bool"]:
    for op in [o for o in ops_for(dt) if o in (ReduceOp.SUM, ReduceOp.MAX, ReduceOp.AVG)]:
        ins = [value(dt, rank, salt=j) for j in range(n)]
        out = np.zeros(SHAPE, dt)
        dist.reduce_scatter(out, ins, op=op)
        stack = np.stack([value(dt, r, salt=rank) for r in range(n)])
        if dt == "bool":
            want = stack.any(axis=0)
        elif op is ReduceOp.SUM:
            want = stack.sum(axis=0, dtype=np.float64 if dt == "float16" else None).astype(dt)
        elif op is ReduceOp.MAX:
            want = stack.max(axis=0)
        else:
            want = (stack.astype(np.float64).sum(axis=0) / n).astype(dt)
        check(out, want, f"reduce_scatter {dt} {op}")
        out2 = np.zeros(SHAPE, dt)
        dist.reduce_scatter_tensor(out2, np.stack(ins), op=op, async_op=True).wait()
        check(out2, want, f"reduce_scatter_tensor {dt} {op}")

# ---- reduce to every destination
for dt in ["float16", "float32", "int64", "bool"]:
    for dst in range(n):
        a = value(dt, rank)
        dist.reduce(a, dst=dst, op=ReduceOp.SUM)
        if rank == dst:
            check(a, expected(dt, ReduceOp.SUM), f"reduce {dt} to {dst}")
        else:
            check(a, value(dt, rank), f"reduce {dt}: non-dst unchanged")
a = np.full(3, rank + 1.0)
dist.reduce(a, dst=0, op=ReduceOp.AVG, async_op=True).wait()
if rank == 0:
    assert np.allclose(a, (n + 1) / 2)

# ---- gather / scatter
for dt in ["float16", "float64", "int8", "bool", "complex64"]:
    for root in range(n):
        gl = [np.zeros(SHAPE, dt) for _ in range(n)] if rank == root else None
        dist.gather(value(dt, rank), gl, dst=root)
        if rank == root:
            for r in range(n):
                check(gl[r], value(dt, r), f"gather {dt} to {root}")
        sl = [value(dt, j, salt=root) for j in range(n)] if rank == root else None
        out = np.zeros(SHAPE, dt)
        dist.scatter(out, sl, src=root)
        check(out, value(dt, rank, salt=root), f"scatter {dt} from {root}")
gl = [np.zeros(2) for _ in range(n)] if rank == 0 else None
dist.gather(np.full(2, float(rank)), gl, dst=0, async_op=True).wait()
if rank == 0:
    assert [g[0] for g in gl] == list(range(n))
raises(ValueError, lambda: dist.gather(np.zeros(2), [np.zeros(2)] * n, dst=(rank + 1) % n),
       "must not be given")

# ---- barrier
dist.barrier()
dist.barrier(async_op=True).wait()

# ---- objects (pickled, as in PyTorch)
objs = [{"rank": rank, "s": "x" * (rank * 1000)}, None, 3] if rank == 1 else [None, None, None]
dist.broadcast_object_list(objs, src=1)
assert objs == [{"rank": 1, "s": "x" * 1000}, None, 3], objs
gathered = [None] * n
dist.all_gather_object(gathered, {"r": rank, "data": list(range(rank))})
assert gathered == [{"r": r, "data": list(range(r))} for r in range(n)], gathered
raises(ValueError, lambda: dist.all_gather_object([None] * (n + 1), 1), "entries")

# ---- groups
g = dist.new_group([n - 1, 0])  # sorted: group rank 0 = global 0, group rank 1 = global n-1
everyone = dist.new_group()
assert dist.get_world_size(everyone) == n and dist.get_rank(everyone) == rank
assert dist.get_process_group_ranks(g) == [0, n - 1]
if rank in (0, n - 1):
    assert dist.get_world_size(g) == 2 and dist.get_rank(g) == (0 if rank == 0 else 1)
    assert dist.get_global_rank(g, 1) == n - 1 and dist.get_group_rank(g, n - 1) == 1
    a = np.full(4, rank + 1.0)
    dist.all_reduce(a, group=g)
    assert (a == 1 + n).all(), a
    b = np.full(2, float(rank))
    dist.broadcast(b, src=n - 1, group=g)  # src is a global rank, as in PyTorch
    assert (b == n - 1).all()
    outs = [np.zeros(1) for _ in range(2)]
    dist.all_gather(outs, np.array([float(rank)]), group=g)
    assert [o[0] for o in outs] == [0.0, n - 1.0]
    dist.barrier(group=g)
    objs2 = [None]
    dist.all_gather_object(objs2 * 2, rank, group=g)
    if n > 2:
        raises(ValueError, lambda: dist.broadcast(np.zeros(1), src=1, group=g), "not a rank")
else:
    assert dist.get_rank(g) == -1 and dist.get_world_size(g) == -1
    assert dist.all_reduce(np.ones(2), group=g) is None  # not a member: nothing happens
    assert dist.barrier(group=g) is None
a = np.full(3, 1.0)
dist.all_reduce(a, group=everyone)
assert (a == n).all()
dist.destroy_process_group(g)
raises(RuntimeError, lambda: dist.all_reduce(np.ones(1), group=g), "destroyed")

# ---- BLAS threads: each rank got its share of the cores
from threadpoolctl import threadpool_info  # noqa: E402

from distgrad.distributed.threads import USER_VARIABLES, blas_thread_share  # noqa: E402

import os  # noqa: E402

if not any(os.environ.get(v) for v in USER_VARIABLES):
    for pool in threadpool_info():
        if pool.get("user_api") == "blas":
            assert pool["num_threads"] == blas_thread_share(n), (pool, blas_thread_share(n))

# ---- rank-aware output
dist.print0("PRINT0 once")
log = dist.get_logger("jobtest")
log.info("INFO only rank 0")
log.warning("WARN from %d", rank)
buf = io.StringIO()
log2 = dist.get_logger("jobtest.buffered", stream=buf)
log2.info("x")
log2.error("y")
text = buf.getvalue()
if rank == 0:
    assert text == "[rank 0] INFO jobtest.buffered: x\n[rank 0] ERROR jobtest.buffered: y\n", text
else:
    assert text == f"[rank {rank}] ERROR jobtest.buffered: y\n", text
assert logging.getLogger("jobtest") is log

# ---- every rank ran the same number of collectives on the world group
seqs = [None] * n
dist.all_gather_object(seqs, dist.group.WORLD._seq)
assert len(set(seqs)) == 1, seqs

dist.barrier()
print(f"OK rank {rank}", flush=True)
dist.destroy_process_group()
assert not dist.is_initialized()
dist.init_process_group("mpi")  # again, after destroy
a = np.ones(2)
dist.all_reduce(a)
assert (a == n).all() and dist.get_rank() == rank
dist.destroy_process_group()
