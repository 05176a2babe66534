"""Rank 1 sleeps while the other ranks all_reduce; DISTGRAD_TIMEOUT=2 must report rank 1 and
abort. argv[1] == "exit": rank 1 leaves with sys.exit(3) instead (no -m mpi4py), so only the
watchdog can end the job."""
import sys
import time

import numpy as np

import distgrad.distributed as dist

dist.init_process_group()
x = np.ones(1000, np.float32)
dist.all_reduce(x)  # collective #1 succeeds
if dist.get_rank() == 1:
    if sys.argv[1:] == ["exit"]:
        sys.exit(3)
    time.sleep(60)
if dist.get_rank() == 0:  # collective #2: rank 1 never arrives (rank 0 waits on a Work)
    dist.all_reduce(x, async_op=True).wait()
else:
    time.sleep(1.5)  # rank 0 times out well before rank 2, so rank 0 writes the report
    dist.all_reduce(x)
print(f"rank {dist.get_rank()} passed the stalled all_reduce", flush=True)
