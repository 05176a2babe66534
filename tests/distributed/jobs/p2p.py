"""Point-to-point messages and all-to-all on N ranks; asserts inside the ranks, prints
"OK rank r". With the argument ``deadlock`` ranks 0 and 1 both recv from each other (the
watchdog must end the job, naming the point-to-point wait).

Run: mpiexec -n 3 python -m mpi4py tests/distributed/jobs/p2p.py
"""
import sys

import numpy as np

import distgrad
import distgrad.distributed as dist

dist.init_process_group()
rank, n = dist.get_rank(), dist.get_world_size()
right, left = (rank + 1) % n, (rank - 1) % n

if sys.argv[1:] == ["deadlock"]:
    x = np.zeros(3)
    if rank < 2:
        dist.recv(x, src=1 - rank)
    else:
        dist.barrier()
    raise SystemExit("unreachable")

# a ring: send right, receive from the left; tensors and raw arrays, every dtype family
for dtype in ("float16", "float32", "float64", "int64", "uint8", "bool", "complex64"):
    payload = (np.arange(6).reshape(2, 3) + rank).astype(dtype)
    got = distgrad.zeros(2, 3, dtype=distgrad.float64).numpy().astype(dtype)
    reqs = [dist.isend(payload, dst=right), dist.irecv(got, src=left)]
    for w in reqs:
        assert w.wait() and w.is_completed()
    assert np.array_equal(got, (np.arange(6).reshape(2, 3) + left).astype(dtype)), (dtype, got)

# blocking send/recv from any source returns the sender; tags keep messages apart
t = distgrad.zeros(4)
if rank == 0:
    senders = set()
    for _ in range(n - 1):
        src = dist.recv(t, tag=7)
        assert t.tolist() == [float(src)] * 4, (src, t)
        senders.add(src)
    assert senders == set(range(1, n))
    assert t._version > 0
else:
    dist.send(distgrad.full((4,), float(rank)), dst=0, tag=7)

# non-contiguous receive buffers are written back
buf = np.zeros((3, 4))
w = dist.irecv(buf[:, ::2], src=left, tag=3)
dist.send(np.full((3, 2), rank + 0.5), dst=right, tag=3)
w.wait()
assert (buf[:, ::2] == left + 0.5).all() and (buf[:, 1::2] == 0).all()

# batch_isend_irecv with P2POp
a, b = np.full(5, rank, np.int32), np.zeros(5, np.int32)
ops = [dist.P2POp(dist.isend, a, right), dist.P2POp(dist.irecv, b, left)]
for w in dist.batch_isend_irecv(ops):
    w.wait()
assert (b == left).all()

# send to oneself: refused when blocking, allowed with isend/irecv
for fn, kind in ((dist.send, "destination"), (dist.recv, "source")):
    try:
        fn(np.zeros(1), rank)
        raise AssertionError("self send accepted")
    except ValueError as e:
        assert f"Invalid {kind} rank: {kind} rank should not be the same" in str(e), e
me = np.zeros(2)
ws = dist.isend(np.array([1.0, 2.0]), dst=rank, tag=9)
dist.irecv(me, src=rank, tag=9).wait()
ws.wait()
assert me.tolist() == [1.0, 2.0]

# a sub-group: global ranks in src/dst, group ranks in group_src/group_dst
if n >= 3:
    g = dist.new_group([0, 2])
    if rank in (0, 2):
        v = np.zeros(1)
        if rank == 0:
            dist.send(np.array([42.0]), dst=2, group=g)
            dist.send(np.array([43.0]), group=g, group_dst=1)
        else:
            assert dist.recv(v, src=0, group=g) == 0 and v[0] == 42.0
            assert dist.recv(v, group=g, group_src=0) == 0 and v[0] == 43.0
    else:
        assert dist.send(np.zeros(1), dst=0, group=g) is None

# objects
if rank == 0:
    for r in range(1, n):
        dist.send_object_list([{"to": r}, "hello", [r] * r], dst=r)
else:
    objs = [None, None, None]
    assert dist.recv_object_list(objs) == 0
    assert objs == [{"to": rank}, "hello", [rank] * rank], objs
# object gather and scatter: payloads of different sizes per rank (one empty), only the root
# receives (the others' lists stay untouched), the source's own entry comes back as a copy
gathered = [None] * n if rank == 1 else ["untouched"]
dist.gather_object({"rank": rank, "pad": "x" * (1000 * rank)}, gathered, dst=1)
assert gathered == ([{"rank": r, "pad": "x" * (1000 * r)} for r in range(n)] if rank == 1
                    else ["untouched"]), gathered
items = [list(range(100 * r)) for r in range(n)] if rank == n - 1 else None
out = [None]
dist.scatter_object_list(out, items, src=n - 1)
assert out == [list(range(100 * rank))], out
assert rank != n - 1 or out[0] is not items[rank]

# all_to_all_single: equal blocks, then uneven split sizes (rank r sends r + j + 1 rows to j)
x = distgrad.arange(n * 2 * 3, dtype=distgrad.float32).reshape(n * 2, 3) + 100 * rank
y = distgrad.zeros(n * 2, 3)
dist.all_to_all_single(y, x)
for j in range(n):
    assert np.array_equal(y.numpy()[2 * j:2 * j + 2],
                          np.arange(n * 6, dtype=np.float32).reshape(n * 2, 3)[2 * rank:2 * rank + 2]
                          + 100 * j)
in_splits = [rank + j + 1 for j in range(n)]
out_splits = [j + rank + 1 for j in range(n)]
src_rows = np.concatenate([np.full((k, 2), 10 * rank + j, np.int64) for j, k in enumerate(in_splits)])
dst_rows = np.zeros((sum(out_splits), 2), np.int64)
w = dist.all_to_all_single(dst_rows, src_rows, out_splits, in_splits, async_op=True)
w.wait()
expect = np.concatenate([np.full((k, 2), 10 * j + rank, np.int64) for j, k in enumerate(out_splits)])
assert np.array_equal(dst_rows, expect), dst_rows

# all_to_all with lists of differently shaped tensors
ins = [np.full((j + 1,), rank * 10 + j, np.float64) for j in range(n)]
outs = [distgrad.zeros(rank + 1, dtype=distgrad.float64) for _ in range(n)]
dist.all_to_all(outs, ins)
for j in range(n):
    assert outs[j].tolist() == [float(j * 10 + rank)] * (rank + 1), (j, outs[j])

# bad arguments fail with clear messages, before any communication
for call, text in (
        (lambda: dist.all_to_all_single(np.zeros(n + 1), np.zeros(n + 1)), "divisible"),
        (lambda: dist.all_to_all_single(np.zeros(n), np.zeros(n), None, [1] * (n + 1)), "split_sizes"),
        (lambda: dist.all_to_all([np.zeros(1)], [np.zeros(1)] * n), "output_tensor_list has 1"),
        (lambda: dist.send(np.zeros(1), dst=n), "is not a rank of this group"),
        (lambda: dist.send(np.zeros(1), dst=0, group_dst=0), "Can't specify both"),
        (lambda: dist.send(np.zeros(1)), "Must specify dst or group_dst")):
    try:
        call()
        raise AssertionError(f"accepted: {text}")
    except ValueError as e:
        assert text in str(e), (text, e)

dist.barrier()
print(f"OK rank {rank}", flush=True)
