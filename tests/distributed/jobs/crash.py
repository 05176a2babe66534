"""Rank 1 raises while rank 0 waits in a barrier. Launched WITHOUT `-m mpi4py`: distgrad's
excepthook must abort the whole job."""
import time

import distgrad.distributed as dist

dist.init_process_group()
if dist.get_rank() == 1:
    time.sleep(0.5)
    raise RuntimeError("boom on purpose")
dist.barrier()
print("rank 0 passed the barrier: the job was not aborted", flush=True)
