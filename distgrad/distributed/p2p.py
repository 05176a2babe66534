"""Point-to-point messages between two ranks, PyTorch style: ``send``, ``recv``, ``isend``,
``irecv``, ``batch_isend_irecv`` with ``P2POp``, and ``send_object_list``/``recv_object_list``.

``dst``/``src`` are global ranks and ``group_dst``/``group_src`` ranks within ``group`` (give
one of the two), as in PyTorch. Arrays travel through MPI's buffer calls, never pickled;
``tag`` matches a send with a receive. A blocking ``send``/``recv`` with this process's own rank
is refused (it could never complete); ``isend``/``irecv`` to and from oneself work. Waits are
watched by the stall watchdog like collectives, but are not part of the collective sequence
that ``DISTGRAD_DEBUG=1`` compares (only two ranks take part). With GPU arrays the message is
staged through host memory.
"""

from __future__ import annotations

import pickle

import numpy as np

from . import process_group as _pgm
from .collectives import Work, _check_dtype, _guarded, _wire, _recv_buffer
from .staging import _array, _to_host

__all__ = ["send", "recv", "isend", "irecv", "P2POp", "batch_isend_irecv", "send_object_list",
           "recv_object_list"]


def _group_peer(pg, rank, group_rank, fn, what):
    """The peer's rank in ``pg`` from exactly one of its global rank or group rank."""
    if group_rank is not None:
        if rank is not None:
            raise ValueError(f"Can't specify both group_{what} and {what}")
        if not 0 <= group_rank < pg.size():
            raise ValueError(f"{fn}: group_{what}={group_rank} is not a rank of this group "
                             f"(group ranks 0..{pg.size() - 1})")
        return int(group_rank)
    if rank is None:
        raise ValueError(f"{fn}: Must specify {what} or group_{what}")
    try:
        return pg.group_rank(int(rank))
    except ValueError:
        raise ValueError(f"{fn}: {what}={rank} is not a rank of this group (global ranks "
                         f"{list(pg.world_ranks)})") from None


def _not_self(pg, peer, kind):
    if peer == pg.rank():
        raise ValueError(f"Invalid {kind} rank: {kind} rank should not be the same as the rank "
                         "of the current process.")


def _message(tensor, fn):
    arr = _array(tensor)
    _check_dtype(arr, fn)
    return arr


def _start_send(pg, tensor, peer, tag):
    arr = _message(tensor, "isend")
    return pg._backend.isend(_wire(_to_host(arr)), peer, int(tag))


def _start_recv(pg, tensor, peer, tag):
    """Post a receive into ``tensor``; returns ``(request, finish)``."""
    buf, finish = _recv_buffer("irecv", _message(tensor, "irecv"), tensor, "tensor")
    return pg._backend.irecv(_wire(buf), peer, int(tag)), finish


def _name(fn, peer_word, pg, peer):
    return f"{fn} ({peer_word} rank {'any' if peer is None else pg.world_ranks[peer]})"


def isend(tensor, dst=None, group=None, tag=0, group_dst=None):
    """Start sending ``tensor`` to rank ``dst``; returns a :class:`Work` (``wait()`` before
    changing ``tensor``), or None on a rank outside ``group``."""
    pg = _pgm._resolve(group)
    if pg._backend is None:
        return None
    peer = _group_peer(pg, dst, group_dst, "isend", "dst")
    return Work(pg, None, _name("isend", "to", pg, peer), _start_send(pg, tensor, peer, tag),
                None)


def irecv(tensor, src=None, group=None, tag=0, group_src=None):
    """Start receiving into ``tensor`` from rank ``src`` (any rank when neither ``src`` nor
    ``group_src`` is given); returns a :class:`Work`, or None outside ``group``."""
    pg = _pgm._resolve(group)
    if pg._backend is None:
        return None
    peer = None if src is None and group_src is None else _group_peer(pg, src, group_src,
                                                                        "irecv", "src")
    req, finish = _start_recv(pg, tensor, peer, tag)
    return Work(pg, None, _name("irecv", "from", pg, peer), req, finish)


def send(tensor, dst=None, group=None, tag=0, group_dst=None) -> None:
    """Send ``tensor`` to rank ``dst`` and wait until it has been handed over."""
    pg = _pgm._resolve(group)
    if pg._backend is None:
        return None
    peer = _group_peer(pg, dst, group_dst, "send", "dst")
    _not_self(pg, peer, "destination")
    Work(pg, None, _name("send", "to", pg, peer), _start_send(pg, tensor, peer, tag),
         None).wait()
    return None


def recv(tensor, src=None, group=None, tag=0, group_src=None) -> int:
    """Receive into ``tensor`` from rank ``src`` (any rank when not given); returns the
    sender's global rank (-1 on a rank outside ``group``)."""
    pg = _pgm._resolve(group)
    if pg._backend is None:
        return -1
    peer = None if src is None and group_src is None else _group_peer(pg, src, group_src,
                                                                        "recv", "src")
    if peer is not None:
        _not_self(pg, peer, "source")
    req, finish = _start_recv(pg, tensor, peer, tag)
    backend = pg._backend
    source = _guarded(_pgm._state.watchdog, pg, None, _name("recv", "from", pg, peer),
                      lambda: backend.wait_source(req))
    if finish is not None:
        finish()
    return pg.world_ranks[source]


class P2POp:
    """One point-to-point operation for :func:`batch_isend_irecv`: ``op`` is :func:`isend` or
    :func:`irecv`, ``peer`` a global rank (or ``group_peer`` a rank in ``group``)."""

    def __init__(self, op, tensor, peer=None, group=None, tag=0, group_peer=None):
        if op not in (isend, irecv):
            raise ValueError("Invalid ``op``. Expected ``op`` to be of type "
                             "``distgrad.distributed.isend`` or ``distgrad.distributed.irecv``.")
        self.op, self.tensor, self.tag = op, tensor, tag
        self.group = _pgm._resolve(group)
        which = "dst" if op is isend else "src"
        self.group_peer = _group_peer(self.group, peer, group_peer, "P2POp", which)
        self.peer = self.group.world_ranks[self.group_peer]

    def __repr__(self):
        return (f"P2POp(op={self.op.__name__}, peer={self.peer}, tag={self.tag}, "
                f"shape={tuple(_array(self.tensor).shape)})")


def batch_isend_irecv(p2p_op_list) -> list:
    """Start every operation of ``p2p_op_list`` (a list of :class:`P2POp`); returns their
    :class:`Work` handles, to ``wait()`` on."""
    if not p2p_op_list or not all(isinstance(p, P2POp) for p in p2p_op_list):
        raise ValueError("Invalid ``p2p_op_list``. Each op is expected to to be of type "
                         "``distgrad.distributed.P2POp``.")
    return [p.op(p.tensor, group=p.group, tag=p.tag, **{
        ("group_dst" if p.op is isend else "group_src"): p.group_peer}) for p in p2p_op_list]


def send_object_list(object_list, dst=None, group=None, device=None, group_dst=None) -> None:
    """Send the picklable objects of ``object_list`` to rank ``dst`` (pickled, as in PyTorch:
    only use it with trusted peers)."""
    data = np.frombuffer(pickle.dumps(list(object_list), protocol=pickle.HIGHEST_PROTOCOL),
                         np.uint8)
    send(np.array([data.size], np.int64), dst, group, group_dst=group_dst)
    send(data, dst, group, group_dst=group_dst)


def recv_object_list(object_list, src=None, group=None, device=None, group_src=None) -> int:
    """Fill ``object_list`` with the objects a :func:`send_object_list` of rank ``src`` (any
    rank when not given) sent; returns the sender's global rank."""
    size = np.zeros(1, np.int64)
    sender = recv(size, src, group, group_src=group_src)
    data = np.empty(int(size[0]), np.uint8)
    recv(data, sender, group)
    objs = pickle.loads(data.tobytes())
    if len(objs) != len(object_list):
        raise ValueError(f"recv_object_list: rank {sender} sent {len(objs)} objects but "
                         f"object_list has {len(object_list)} entries")
    object_list[:] = objs
    return sender
