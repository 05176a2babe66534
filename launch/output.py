"""Rank-tagged output: split the launcher's merged output back into ranks and prefix each line.

mpiexec/srun tag every rank's output in their own way (see ``launch.mpi.TAG_*``). A *demuxer*
turns raw bytes from one stream into ``(rank, line)`` pairs; :class:`Relay` writes them as
``[rank r] line`` (or only rank 0's lines, untagged, with ``rank0_only``). In an interactive
job (``show_prompts``), an unfinished line that stays unfinished while the stream is idle is
shown as it is: it is a prompt (pdb's ``(Pdb) ``, ``input()``'s), and what the rank prints after
the answer starts a line of its own, with its prefix.
"""

from __future__ import annotations

import collections
import os
import re
import select
import threading

from .mpi import TAG_HYDRA, TAG_NONE, TAG_OPENMPI, TAG_SRUN

RS, US = b"\x1e", b"\x1f"  # the hydra marker: RS rank US chunk
MAX_LINE = 1 << 16  # a longer unfinished line is passed on in pieces
_MARK = re.compile(rb"\x1e(\d{1,15})\x1f")
_MARK_MAX = 18  # the longest marker
IDLE_S = 0.1  # an unfinished line is shown after the stream has been idle this long


def split_segments(buf: bytes) -> tuple[list, bytes]:
    """Split ``buf`` after every '\\n' or '\\r'; returns (complete segments, unfinished rest).
    A segment keeps its terminator; a lone '\\r' segment (tqdm's redraw) is dropped."""
    if b"\r" not in buf:  # the common case, fast
        *lines, rest = buf.split(b"\n")
        return [ln + b"\n" for ln in lines], rest
    segs = _SEGMENT.findall(buf)
    rest = buf[sum(map(len, segs)):]
    return [s for s in segs if s != b"\r"], rest


_SEGMENT = re.compile(rb"[^\r\n]*[\r\n]")


class HydraDemux:
    """Demultiplex MPICH hydra output made with ``-prepend-pattern '\\x1e%r\\x1f'``.

    Hydra puts the marker before every chunk it forwards, chunks of different ranks
    interleave anywhere (even mid-line), so each rank gets its own line buffer.
    """

    def __init__(self):
        self._pending = b""  # bytes not yet attributed (an incomplete marker)
        self._rank = None  # rank of the chunk being read
        self._buf: dict = collections.defaultdict(bytes)

    def _take(self, rank, data: bytes, out: list):
        buf = self._buf[rank] + data
        if b"\n" not in data and b"\r" not in data and len(buf) <= MAX_LINE:
            self._buf[rank] = buf
            return
        segs, rest = split_segments(buf)
        if len(rest) > MAX_LINE:
            segs, rest = segs + [rest], b""
        self._buf[rank] = rest
        out.extend((rank, s) for s in segs)

    def feed(self, data: bytes) -> list:
        """Consume bytes; return the complete ``(rank, line)`` pairs (rank None: untagged)."""
        data, self._pending = self._pending + data, b""
        i = data.rfind(RS)
        if i >= 0 and len(data) - i < _MARK_MAX and US not in data[i:]:
            data, self._pending = data[:i], data[i:]  # a marker cut by the read: wait for the rest
        parts = _MARK.split(data)
        out: list = []
        if parts[0]:
            self._take(self._rank, parts[0], out)
        for k in range(1, len(parts), 2):
            self._rank = int(parts[k])
            if parts[k + 1]:
                self._take(self._rank, parts[k + 1], out)
        return out

    def unfinished(self) -> bool:
        """Whether some rank's line is unfinished."""
        return any(self._buf.values())

    def partial(self) -> list:
        """The unfinished lines as they are, ``(rank, text)``, taken out of the buffers."""
        out = [(rank, rest) for rank, rest in self._buf.items() if rest]
        self._buf.clear()
        return out

    def flush(self) -> list:
        """At end of stream: the unfinished lines of every rank, each given a newline."""
        out = []
        if self._pending:
            self._take(self._rank, self._pending, out)
            self._pending = b""
        for rank, rest in list(self._buf.items()):
            if rest:
                out.append((rank, rest + b"\n"))
        self._buf.clear()
        return out


class LineDemux:
    """Demultiplex line-tagged output (Open MPI ``--output tag``, ``srun --label``) by a regex
    whose group 1 is the rank and group 2 the line's text; other lines are untagged."""

    PATTERNS = {
        TAG_OPENMPI: re.compile(rb"^\[\d+,(\d+)\]<std(?:out|err)>: ?(.*)$", re.S),
        TAG_SRUN: re.compile(rb"^ *(\d+): ?(.*)$", re.S),
        TAG_NONE: None,
    }

    def __init__(self, tag_format: str):
        self._re = self.PATTERNS[tag_format]
        self._buf = b""
        self._continues = False  # the buffer continues a line passed on unfinished
        self._continued_rank = None  # the rank of that line

    def _parse(self, line: bytes):
        if self._continues:  # the rest of a line passed on in pieces: no tag of its own
            self._continues = False
            return self._continued_rank, line
        if self._re is not None:
            m = self._re.match(line)
            if m:
                return int(m.group(1)), m.group(2)
        return None, line

    def _piece(self):
        """Pass the unfinished buffer on; what follows continues its line."""
        rank, text = self._parse(self._buf)
        self._buf, self._continues, self._continued_rank = b"", True, rank
        return rank, text

    def feed(self, data: bytes) -> list:
        """Consume bytes; return the complete ``(rank, line)`` pairs (rank None: untagged)."""
        *lines, self._buf = (self._buf + data).split(b"\n")
        out = [self._parse(ln + b"\n") for ln in lines]
        if len(self._buf) > MAX_LINE:
            out.append(self._piece())
        return out

    def unfinished(self) -> bool:
        """Whether the last line is unfinished."""
        return bool(self._buf)

    def partial(self) -> list:
        """The unfinished line as it is, taken out of the buffer."""
        return [self._piece()] if self._buf else []

    def flush(self) -> list:
        """At end of stream: the unfinished last line, if any."""
        rest, self._buf = self._buf, b""
        return [self._parse(rest + b"\n")] if rest else []


def make_demux(tag_format: str):
    """The demuxer for a tag format (one of ``launch.mpi.TAG_*``)."""
    return HydraDemux() if tag_format == TAG_HYDRA else LineDemux(tag_format)


def format_line(rank, line: bytes, tagged: bool = True) -> bytes:
    """``[rank r] line``; every '\\r'-separated part gets the prefix so progress bars redraw
    with it. Untagged lines (rank None) or ``tagged=False`` are returned as they are."""
    if rank is None or not tagged:
        return line
    prefix = b"[rank %d] " % rank
    if b"\r" not in line:
        return prefix + line if line != b"\n" else line
    parts = line.split(b"\r")
    return b"\r".join(prefix + p if p not in (b"", b"\n") else p for p in parts)


class Relay:
    """Copy one stream of a launcher (its stdout or stderr) to a file object, rank-tagged.

    With ``rank0_only`` only rank 0's lines (untagged) and the launcher's own untagged lines
    are shown; the last ``keep`` lines of every other rank are kept for :meth:`hidden_tail`.
    With ``show_prompts`` (an interactive job), :meth:`pump` shows unfinished lines when the
    stream idles.
    """

    def __init__(self, tag_format: str, dest, rank0_only: bool = False, keep: int = 20,
                 lock: threading.Lock | None = None, show_prompts: bool = False):
        self.demux = make_demux(tag_format)
        self.dest = dest
        self.rank0_only = rank0_only
        self.lock = lock or threading.Lock()
        self.hidden: dict = collections.defaultdict(lambda: collections.deque(maxlen=keep))
        self.show_prompts = show_prompts

    def _emit(self, pairs: list):
        chunks = []
        for rank, line in pairs:
            if self.rank0_only and rank not in (None, 0):
                self.hidden[rank].append(line)
            else:
                chunks.append(format_line(rank, line, tagged=not self.rank0_only))
        if chunks and self.dest is not None:
            with self.lock:
                try:
                    self.dest.write(b"".join(chunks))
                    self.dest.flush()
                except (OSError, ValueError):  # e.g. a closed pipe: keep draining, drop output
                    self.dest = None

    def feed(self, data: bytes):
        """Relay a chunk of raw launcher output."""
        self._emit(self.demux.feed(data))

    def close(self):
        """Relay what is left at end of stream."""
        self._emit(self.demux.flush())

    def show_unfinished(self):
        """Relay the unfinished lines as they are (the stream is idle: they may be prompts)."""
        self._emit(self.demux.partial())

    def pump(self, fd: int):
        """Read ``fd`` until end of file, relaying everything (run it in a thread). The pipe is
        drained even when the destination is gone, so the launcher never blocks on it."""
        try:
            while True:
                try:
                    if (self.show_prompts and self.demux.unfinished()
                            and not select.select([fd], [], [], IDLE_S)[0]):
                        self.show_unfinished()
                        continue
                    data = os.read(fd, 65536)
                except InterruptedError:
                    continue
                if not data:
                    break
                self.feed(data)
        except OSError:
            pass
        finally:
            self.close()

    def hidden_tail(self) -> bytes:
        """The kept lines of the hidden ranks, each tagged, for a report after a failure."""
        out = []
        for rank in sorted(self.hidden):
            out.extend(format_line(rank, ln) for ln in self.hidden[rank])
        return b"".join(out)
