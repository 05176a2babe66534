"""Process groups: the default (world) group, ``new_group``, and the rank/size queries."""

from __future__ import annotations

import atexit
import datetime
import os
import threading
import warnings

from . import env as _env
from . import faults as _faults
from . import staging as _staging
from . import threads as _threads

__all__ = [
    "ProcessGroup", "init_process_group", "destroy_process_group", "is_initialized",
    "is_available", "is_mpi_available", "get_rank", "get_world_size", "get_local_rank",
    "get_local_world_size", "get_backend", "new_group", "get_process_group_ranks",
    "get_global_rank", "get_group_rank", "group", "DEFAULT_TIMEOUT",
]

DEFAULT_TIMEOUT = datetime.timedelta(minutes=30)

_NOT_INITIALIZED = ("Default process group has not been initialized, please make sure to call "
                    "init_process_group.")


class ProcessGroup:
    """A set of ranks that run collectives together (the world, or one made by ``new_group``).

    ``rank()``/``size()`` are this process's rank in the group and the group's size (-1 on a
    rank that is not a member). ``world_ranks`` lists the members' global ranks in group-rank
    order. ``gid`` is the same on every rank (groups are created by all ranks in the same order).
    """

    def __init__(self, backend, gid: int, world_ranks, backend_name: str):
        self._backend = backend  # None on a rank that is not a member
        self.gid = gid
        self.world_ranks = tuple(world_ranks)
        self.backend_name = backend_name
        self._seq = 0  # collectives started on this group by this rank
        self._destroyed = False
        self._group_rank_of = {g: i for i, g in enumerate(self.world_ranks)}

    @property
    def is_member(self) -> bool:
        """True when this process is a member of the group."""
        return self._backend is not None

    def rank(self) -> int:
        """This process's rank in the group (-1 if it is not a member)."""
        return self._backend.rank if self._backend is not None else -1

    def size(self) -> int:
        """The number of ranks in the group (-1 on a rank that is not a member)."""
        return self._backend.size if self._backend is not None else -1

    def group_rank(self, global_rank: int) -> int:
        """The group rank of global rank ``global_rank`` (ValueError if not a member)."""
        try:
            return self._group_rank_of[global_rank]
        except KeyError:
            raise ValueError(f"global rank {global_rank} is not part of {self!r}") from None

    def __repr__(self):
        name = "default group" if self.gid == 0 else f"group {self.gid}"
        return f"<distgrad ProcessGroup {name}, {self.backend_name}, ranks {list(self.world_ranks)}>"


class _State:
    def __init__(self):
        self.default = None  # ProcessGroup
        self.groups = {}  # gid -> ProcessGroup (live; the watchdog reads it)
        self.next_gid = 1
        self.timeout = DEFAULT_TIMEOUT.total_seconds()
        self.debug = False
        self.local_rank = 0
        self.local_size = 1
        self.device = None  # this rank's GPU index (None: no GPU selected)
        self.watchdog = None
        self.ctl_comm = None
        self.lock = threading.Lock()


_state = _State()
_default = None  # == _state.default; a module global for the fast path
_atexit_registered = False


def is_available() -> bool:
    """True: the distributed package is always available."""
    return True


def is_mpi_available() -> bool:
    """True when mpi4py is installed (checked without importing it, which would start MPI)."""
    return _mpi4py_importable()


def is_initialized() -> bool:
    """True once the default process group exists."""
    return _default is not None


def _require_default() -> ProcessGroup:
    if _default is None:
        raise RuntimeError(_NOT_INITIALIZED)
    return _default


def _timeout_seconds(timeout) -> float:
    if timeout is None:
        value = os.environ.get("DISTGRAD_TIMEOUT", "").strip()
        if value:
            try:
                return float(value)
            except ValueError:
                raise ValueError(f"DISTGRAD_TIMEOUT={value!r} is not a number of seconds") from None
        return DEFAULT_TIMEOUT.total_seconds()
    if isinstance(timeout, datetime.timedelta):
        return timeout.total_seconds()
    return float(timeout)


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def init_process_group(backend=None, init_method=None, timeout=None, world_size: int = -1,
                       rank: int = -1, **kwargs) -> None:
    """Create the default process group.

    ``backend``: None (auto: MPI when a launcher started this process, else a world of one;
    with several ranks, CuPy, a GPU and NCCL, GPU tensors then go through NCCL, see below),
    ``"mpi"``, ``"single"`` or ``"nccl"`` (GPU buffers through an NCCL communicator made at
    once, everything else through MPI or the world of one). GPUs: each rank makes GPU
    ``local_rank % device_count()`` current, or ``device_id`` (an index, ``"cuda:N"`` or a
    ``distgrad.device``; or the ``DISTGRAD_DEVICE`` variable; ``"cpu"`` skips it).
    ``DISTGRAD_NCCL=0`` keeps the automatic choice on MPI (GPU buffers staged through pinned
    host memory, or handed to MPI with ``DISTGRAD_CUDA_AWARE_MPI=1``). ``timeout`` (a
    ``datetime.timedelta`` or seconds; default ``DISTGRAD_TIMEOUT`` seconds or 30 minutes) is
    how long a collective may wait before the stall watchdog reports and aborts the job; zero
    or less turns the watchdog off. ``world_size``/``rank``, when given, are checked against
    what MPI reports. ``init_method`` and other PyTorch arguments are accepted and ignored (MPI
    needs no rendezvous).
    """
    global _default, _atexit_registered
    with _state.lock:
        if _default is not None:
            raise ValueError("trying to initialize the default process group twice!")
        name = None if backend is None else str(backend).lower()
        want_nccl = name == "nccl"
        if want_nccl:
            name = None  # NCCL for GPU buffers, beside the host transport chosen as for None
            from .backends import nccl as _nccl

            if not _nccl.is_available():
                raise RuntimeError(_nccl_missing_message())
        if name not in (None, "mpi", "single"):
            raise ValueError(f"unknown backend {backend!r}: use None, 'mpi', 'nccl' or 'single'")
        info = _env.detect_launch()
        _state.timeout = _timeout_seconds(timeout)
        debug = _env_flag("DISTGRAD_DEBUG")

        if name is None:
            if not info.launched:
                name = "single"
            elif (info.world_size or 0) > 1 or info.world_size is None:
                name = "mpi"
                if not _mpi4py_importable():
                    raise RuntimeError(
                        f"distgrad: this process was started by a launcher for a job of "
                        f"{info.world_size or 'several'} processes ({info.describe()}), but "
                        f"mpi4py cannot be imported. Install it with `pip install mpi4py mpich` "
                        f"(or `pip install distgrad[mpi]`).")
            else:  # a launcher with one process: MPI if it is there, else the world of one
                name = "mpi" if _mpi4py_importable() else "single"

        if name == "single":
            if info.launched and (info.world_size or 1) > 1:
                raise RuntimeError(
                    f"distgrad: backend='single' is a world of one, but the launcher started "
                    f"{info.world_size} processes ({info.describe()}); use backend='mpi'")
            from .backends.single import SingleBackend

            pg = ProcessGroup(SingleBackend(), 0, (0,), "single")
            _state.local_rank, _state.local_size = 0, 1
            _state.debug = debug
        else:
            pg = _init_mpi(info, debug)

        for label, want, got in (("world_size", world_size, pg.size()), ("rank", rank, pg.rank())):
            if want is not None and want != -1 and want != got:
                raise ValueError(f"init_process_group({label}={want}), but MPI says {got}")
        try:
            _state.device = _select_device(kwargs.get("device_id"), _state.local_rank)
            if want_nccl or (backend is None and pg.size() > 1 and _state.device is not None
                             and _auto_nccl()):
                from .backends.nccl import NCCLBackend

                pg._backend = NCCLBackend(pg._backend, eager=want_nccl)
                pg.backend_name = "nccl"
        except BaseException:
            _abandon(pg)
            raise
        _staging.set_device_transport(pg.backend_name in ("nccl", "single"))
        _state.default = _default = pg
        _state.groups.clear()  # the same dict object the watchdog holds
        _state.groups[0] = pg
        _state.next_gid = 1
        if not _atexit_registered:
            atexit.register(_shutdown_at_exit)
            _atexit_registered = True


def _stop_control_plane() -> None:
    """Stop the watchdog, free the control communicator, and restore the excepthook and the BLAS
    thread count (the process-wide state of the default group)."""
    if _state.watchdog is not None:
        _state.watchdog.stop()
        _state.watchdog = None
    if _state.ctl_comm is not None:
        try:
            _state.ctl_comm.Free()
        except Exception:
            pass
        _state.ctl_comm = None
    _faults.uninstall_excepthook()
    _threads.restore_blas_threads()


def _free_backend(pg) -> None:
    """Release ``pg``'s communication backend, if it still holds one."""
    if pg._backend is not None:
        pg._backend.free()
        pg._backend = None


def _abandon(pg) -> None:
    """Undo a default group that init_process_group could not finish."""
    _stop_control_plane()
    _free_backend(pg)
    _state.groups.clear()


def _nccl_missing_message() -> str:
    from .. import _backend

    try:
        _backend.cupy_module()
    except RuntimeError as exc:
        return f"distgrad: backend='nccl' needs GPUs: {exc}"
    return ("distgrad: backend='nccl' needs CuPy built with NCCL (cupy.cuda.nccl is not "
            "available); use backend='mpi'")


def _auto_nccl() -> bool:
    if os.environ.get("DISTGRAD_NCCL", "").strip().lower() in ("0", "false", "no", "off"):
        return False
    from .backends import nccl as _nccl

    return _nccl.is_available()


def _select_device(device_id, local_rank: int):
    """Make this rank's GPU current; returns its index, or None (no GPU, or "cpu" asked)."""
    from .. import _backend

    spec = device_id
    if spec is None:
        spec = os.environ.get("DISTGRAD_DEVICE", "").strip() or None
    if isinstance(spec, str):
        if spec.lower() in ("cpu", "none", "off"):
            return None
        spec = int(spec) if spec.isdigit() else spec
    if spec is None:
        if not _backend.cuda_available():
            return None
        dev = _backend.device("cuda")
    else:
        dev = _backend.as_device(spec)
        if dev.type != "cuda":
            return None
    cp = _backend.cupy_module()  # raises with the install hint when a GPU was asked for
    index = dev.index
    if index is None:
        index = local_rank % int(cp.cuda.runtime.getDeviceCount())
    index = _backend.device_index(_backend.device("cuda", index))
    cp.cuda.Device(index).use()
    return index


def _mpi4py_importable() -> bool:
    import importlib.util

    return importlib.util.find_spec("mpi4py") is not None


def _init_mpi(info, debug: bool) -> ProcessGroup:
    from .backends import mpi as _mpi

    rank, size, local_rank, local_size, multiple = _mpi.world_info()
    if size == 1 and info.world_size is not None and info.world_size > 1:
        raise RuntimeError(_env.singleton_trap_message(info, size, _mpi.library_version()))
    if info.world_size is not None and info.world_size != size:
        warnings.warn(f"distgrad: the launcher variables say {info.world_size} processes "
                      f"({info.describe()}) but MPI reports {size}; using MPI's world",
                      RuntimeWarning, stacklevel=3)
    backend = _mpi.MPIBackend(_mpi.dup_world())
    # the debug checks add a collective; every rank must agree on them
    debug = bool(_mpi.allreduce_max_int(backend.comm, int(debug))) if size > 1 else debug
    _state.debug = debug
    _state.local_rank, _state.local_size = local_rank, local_size
    pg = ProcessGroup(backend, 0, range(size), "mpi")
    _state.groups.clear()
    _state.groups[0] = pg
    if size > 1:
        _threads.limit_blas_threads(local_size)
        _faults.install_excepthook(rank)
        if _state.timeout > 0:
            _state.ctl_comm = _mpi.dup_world()
            _state.watchdog = _faults.Watchdog(_state.ctl_comm, _state.timeout, _state.groups,
                                               multiple)
            _state.watchdog.start()
    return pg


def _shutdown_at_exit():
    # stop the watchdog thread before mpi4py finalizes MPI (it may be inside an MPI call)
    wd = _state.watchdog
    if wd is not None:
        wd.stop()


def destroy_process_group(group=None) -> None:
    """Destroy ``group`` (default: the default group and every group made from it)."""
    global _default
    with _state.lock:
        if group is not None and group is not _default:
            _free_backend(group)
            group._destroyed = True
            _state.groups.pop(group.gid, None)
            return
        if _default is None:
            raise RuntimeError(_NOT_INITIALIZED)
        _stop_control_plane()
        for pg in list(_state.groups.values()):
            _free_backend(pg)
            pg._destroyed = True
        _state.groups.clear()
        _staging.set_device_transport(False)
        _state.default = _default = None


def _resolve(group) -> ProcessGroup:
    """The group to use (the default for None); raises before init."""
    if group is None:
        if _default is None:
            raise RuntimeError(_NOT_INITIALIZED)
        return _default
    if not isinstance(group, ProcessGroup):
        raise TypeError(f"group must be a ProcessGroup from new_group() or None, got "
                        f"{type(group).__name__}")
    if _default is None:
        raise RuntimeError(_NOT_INITIALIZED)
    if group._destroyed:
        raise RuntimeError(f"{group!r} has been destroyed (destroy_process_group)")
    return group


def get_rank(group=None) -> int:
    """This process's rank in ``group`` (default: the world); -1 if it is not a member."""
    return _resolve(group).rank()


def get_world_size(group=None) -> int:
    """The number of processes in ``group`` (default: the world); -1 on a non-member."""
    return _resolve(group).size()


def get_local_rank() -> int:
    """Rank among the processes on this node (from MPI_COMM_TYPE_SHARED, not host names)."""
    _require_default()
    return _state.local_rank


def get_local_world_size() -> int:
    """Number of processes on this node."""
    _require_default()
    return _state.local_size


def get_backend(group=None) -> str:
    """The backend name of ``group`` (default: the default group)."""
    return _resolve(group).backend_name


def get_process_group_ranks(group) -> list:
    """The global ranks of the members of ``group``."""
    return list(_resolve(group).world_ranks)


def get_global_rank(group, group_rank: int) -> int:
    """The global rank of ``group``'s member ``group_rank``."""
    return _resolve(group).world_ranks[group_rank]


def get_group_rank(group, global_rank: int) -> int:
    """The rank within ``group`` of global rank ``global_rank``."""
    return _resolve(group).group_rank(global_rank)


def new_group(ranks=None, timeout=None, backend=None, **kwargs) -> ProcessGroup:
    """A group of the given global ranks (sorted; default all). Every rank must call it, in the
    same order as the other ranks' ``new_group`` calls (like PyTorch). On a rank that is not in
    ``ranks`` the returned group is not usable for collectives (they return None there)."""
    from . import collectives as _coll

    world = _require_default()
    members = sorted(set(range(world.size()) if ranks is None else (int(r) for r in ranks)))
    for r in members:
        if not 0 <= r < world.size():
            raise ValueError(f"new_group: rank {r} is not in the world of {world.size()} ranks")
    with _state.lock:
        gid = _state.next_gid
        _state.next_gid += 1
    sub = _coll._run_blocking(world, "new_group", lambda: world._backend.split(members),
                              extra=("number of ranks", len(members)))
    pg = ProcessGroup(sub, gid, members, world.backend_name)
    _state.groups[gid] = pg
    return pg


class _GroupNamespace:
    """``group.WORLD``: the default process group (like ``torch.distributed.group.WORLD``)."""

    @property
    def WORLD(self):
        return _default


group = _GroupNamespace()
