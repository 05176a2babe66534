"""No launcher: a world of one that never imports mpi4py, running every collective."""
import sys

import numpy as np

import distgrad
import distgrad.distributed as dist

try:
    dist.get_rank()
except RuntimeError as e:
    assert str(e) == ("Default process group has not been initialized, please make sure to "
                      "call init_process_group."), str(e)
else:
    raise AssertionError("get_rank before init must raise")
dist.init_process_group()
assert dist.get_rank() == 0 and dist.get_world_size() == 1 and dist.get_backend() == "single"
assert dist.get_local_rank() == 0 and dist.get_local_world_size() == 1
a = np.arange(4.0)
dist.all_reduce(a, op=dist.ReduceOp.AVG)
dist.all_reduce(distgrad.tensor([1.0, 2.0]))
dist.broadcast(a, 0)
outs = [np.zeros(4)]
dist.all_gather(outs, a)
assert (outs[0] == a).all()
dist.barrier()
dist.all_reduce(a, async_op=True).wait()
objs = [None]
dist.all_gather_object(objs, {"x": 1})
assert objs == [{"x": 1}]
g = dist.new_group([0])
dist.all_reduce(a, group=g)
assert sys.excepthook is sys.__excepthook__, "a world of one installs no hooks"
assert "mpi4py" not in sys.modules, sorted(m for m in sys.modules if "mpi" in m)
dist.destroy_process_group()
print("OK rank 0", flush=True)
