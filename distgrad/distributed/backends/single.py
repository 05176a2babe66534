"""The world of one: every collective is a local copy (or nothing). Imports no MPI."""

from __future__ import annotations

import collections


def _copy(send, recv):
    """The one rank's data movement: ``send``'s elements into ``recv``, in order."""
    recv.reshape(-1)[...] = send.reshape(-1)


class SingleBackend:
    """The backend of a one-process world: every collective is a no-op."""

    name = "single"
    rank = 0
    size = 1

    def __init__(self):
        self._mailbox = {}

    def allreduce(self, buf, op, async_op):
        return None

    def bcast(self, buf, root, async_op):
        return None

    def allgather(self, send, recv, async_op):
        return _copy(send, recv)

    def reduce_scatter(self, send, recv, op, async_op):
        return _copy(send, recv)

    def reduce(self, buf, root, op, async_op):
        return None

    def gather(self, send, recv, root, async_op):
        return _copy(send, recv)

    def scatter(self, send, recv, root, async_op):
        return _copy(send, recv)

    def alltoallv(self, send, send_counts, recv, recv_counts, async_op):
        return _copy(send, recv)

    def barrier(self, async_op):
        return None

    # point-to-point: only with oneself, through a mailbox of copies (one queue per tag)
    def isend(self, buf, dst, tag):
        self._mailbox.setdefault(tag, collections.deque()).append(buf.copy())
        return None

    def irecv(self, buf, src, tag):
        queue = self._mailbox.get(tag)
        if not queue:
            raise RuntimeError(f"irecv: no message with tag {tag} is waiting: in a world of one "
                               "a rank receives only what it has sent itself with isend before")
        _copy(queue.popleft(), buf)
        return None

    @staticmethod
    def wait_source(req) -> int:
        return 0

    def bcast_bytes(self, data, root):
        return bytes(data)

    def allgather_bytes(self, data):
        return [bytes(data)]

    def gather_bytes(self, data, root):
        return [bytes(data)]

    def scatter_bytes(self, parts, root):
        return bytes(parts[0])

    def split(self, world_ranks):
        return SingleBackend() if 0 in world_ranks else None

    def free(self):
        pass

