"""DISTGRAD_DEBUG=1: mismatched collectives raise CollectiveMismatchError on every rank."""
import numpy as np

import distgrad.distributed as dist

dist.init_process_group()
rank, n = dist.get_rank(), dist.get_world_size()
caught = []


def expect_mismatch(fn, *words):
    try:
        fn()
    except dist.CollectiveMismatchError as e:
        msg = str(e)
        for w in words:
            assert w in msg, (w, msg)
        caught.append(msg)
        return
    raise AssertionError("no CollectiveMismatchError")


# shape differs on the last rank
shape = (5,) if rank == n - 1 else (4,)
expect_mismatch(lambda: dist.all_reduce(np.ones(shape, np.float32)),  # CALLSITE-SHAPE
                "shape", f"rank {n - 1}: all_reduce(shape=(5,)", "rank 0: all_reduce(shape=(4,)",
                f"ranks that differ from rank 0: [{n - 1}]", "debug_mismatch.py:")
# dtype differs
expect_mismatch(lambda: dist.broadcast(np.ones(3, np.float64 if rank == 1 else np.float32)),
                "dtype", "float64", "float32")
# different collectives
if rank == 0:
    expect_mismatch(lambda: dist.all_reduce(np.ones(2)), "collective kind", "barrier",
                    "all_reduce")
else:
    expect_mismatch(lambda: dist.barrier(), "collective kind", "barrier", "all_reduce")
# op differs
expect_mismatch(lambda: dist.all_reduce(np.ones(2), op=dist.ReduceOp.MAX if rank else
                                        dist.ReduceOp.SUM), "op", "MAX", "SUM")
# the group still works after the errors (nobody entered the mismatched collectives)
a = np.ones(3)
dist.all_reduce(a)
assert (a == n).all()
assert "CALLSITE-SHAPE" not in caught[0]  # the call site is file:line, not source text
print(f"OK rank {rank}: {len(caught)} mismatches caught", flush=True)
if rank == 0:
    print(caught[0], flush=True)
