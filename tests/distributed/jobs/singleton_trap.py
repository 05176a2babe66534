"""Launched as plain `python` with Slurm variables saying 2 tasks: MPI's world is 1."""
import distgrad.distributed as dist

try:
    dist.init_process_group()
except RuntimeError as e:
    print("RAISED:", e, flush=True)
else:
    print("NOT RAISED: world size", dist.get_world_size(), flush=True)
