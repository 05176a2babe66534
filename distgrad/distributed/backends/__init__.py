"""Transports behind a process group.

A backend moves contiguous buffers; the collectives layer (``..collectives``) does everything
else (validation, staging, dtype handling, AVG, watchdog, debug checks), so every backend
behaves the same. Interface (``async_op=True`` returns a request with ``Test()``/``Wait()``;
otherwise the call blocks and returns None):

* ``rank``, ``size``; ``allreduce(buf, op, async_op)`` in place; ``bcast(buf, root, async_op)``
* ``allgather(send, recv, async_op)`` (``recv`` holds ``size`` blocks of ``send.size``)
* ``reduce_scatter(send, recv, op, async_op)`` (``send`` holds ``size`` blocks)
* ``reduce(buf, root, op, async_op)`` (in place at the root), ``gather(send, recv|None, root,
  async_op)``, ``scatter(send|None, recv, root, async_op)``, ``barrier(async_op)``
* ``bcast_bytes(data|None, root) -> bytes``, ``allgather_bytes(data) -> list[bytes]``,
  ``gather_bytes(data, root) -> list[bytes]|None`` (None off the root),
  ``scatter_bytes(parts|None, root) -> bytes`` (rank i gets ``parts[i]`` of the root)
* ``split(world_ranks) -> backend or None`` (collective over this backend's members)
* ``free()``

``op`` is one of the MPI operation names: SUM PROD MAX MIN LAND LOR LXOR BAND BOR BXOR.
Group ranks are used throughout (``root`` too); the collectives layer translates global ranks.

The world of one (``single``) needs no MPI library; ``mpi`` uses mpi4py's buffer-based
(uppercase) calls. ``nccl`` (``backends/nccl.py``) wraps one of them: device (CuPy) buffers go
through a CuPy NCCL communicator on a side stream, host buffers through the wrapped backend.
"""

def divide(src, n, out, xp):
    """``out = src / n`` (``xp``: the arrays' module), computed as ``src * (1 / n)`` when that
    is exact, i.e. ``n`` is a power of two (faster than dividing; same bits)."""
    if n & (n - 1) == 0:
        xp.multiply(src, 1.0 / n, out=out)
    else:
        xp.divide(src, n, out=out)
