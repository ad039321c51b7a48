"""Snapshot files: the entry points.

read() reads a file with bounds (regular files and pipes only: its size or its header bounds
what is read), tells the formats apart by their first bytes and returns the checked content;
every problem is SnapshotError, nothing else. encode() makes the bytes of a file of a format;
atomic_write() writes them through a temporary file renamed over the target.

The formats (doc/internals.rst, "Snapshot files", has the byte layout), each in a module of
its own:

- ``compact`` (written by default, tracemalloc/_compact.py): a binary file of our own, a
  header with a version field then zlib-compressed columns and a small pickle of builtins for
  the metadata;
- ``pickle`` and ``stdlib`` (tracemalloc/_pickle_format.py): a pickle of a dict of builtins,
  and a pickle of the Snapshot object, what the stock ``Snapshot.dump()`` of Python 3.4+
  writes (written, the file loads with the stock module too).

Every pickle is first walked by the scanner (tracemalloc/_pickle_scan.py, or its C twin),
then loaded by the restricted unpickler (tracemalloc/_unpickler.py), which never runs code
from the file; every value is checked (tracemalloc/_checks.py) before a Snapshot is built
from it. This module returns and takes plain dicts (see _checks._new_data()); Snapshot
(tracemalloc/_snapshot.py) turns them into objects.
"""
from __future__ import absolute_import

import errno
import os
import pickle
import select
import stat
import time

from tracemalloc._compact import (COMPACT_MAGIC, COMPACT_VERSION, _HEADER, _NotCompact,
                                  _compact_header, _read_compact, _write_compact)
from tracemalloc._compat import _PY2, _RecursionError, _dumps
from tracemalloc._errors import SnapshotError, _Problem, _one_line
from tracemalloc._pickle_format import _from_builtins, _from_stock, _write_pickle
from tracemalloc._unpickler import _Stub, _StubSnapshot, _load_pickle


FORMATS = ("compact", "pickle", "stdlib")
DEFAULT_FORMAT = "compact"



# How long a pipe may stay silent before read() gives up: a FIFO that nobody writes to would
# otherwise block the reader forever. Module-level so that a caller can change it.
PIPE_TIMEOUT = 5.0
_PIPE_CHUNK = 1 << 20


def _kind(mode):
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "neither a regular file nor a pipe"


def _check_start(head):
    """Refuse *head*, the first bytes of a file (the whole file when shorter than a compact
    header), if no snapshot starts like that. Return the number of bytes the whole file must
    have when its header says so (compact format), else None."""
    if len(head) < _HEADER.size:
        return None  # the whole file: _read_raw() says what is wrong with it
    if head[:len(COMPACT_MAGIC)] == COMPACT_MAGIC:
        return _HEADER.size + _compact_header(head)[3]
    _check_pickle_start(head)
    return None


def _check_pickle_start(raw):
    # Every pickle a snapshot can be starts with PROTO 2 to 5; a stock dump is of protocol 4
    # (Python 3.4-3.7) or 5 (3.8+).
    head = bytearray(raw[:2])
    if len(head) < 2 or head[0] != 0x80 or not 2 <= head[1] <= 5:
        if len(head) == 1 and head[0] == 0x80:
            raise _Problem("truncated file (incomplete pickle data)")
        raise _Problem("not a snapshot file (neither the compact format nor a pickle of "
                       "protocol 2 to 5)")
    return head[1]


def _read_upto(fd, size):
    """Up to *size* bytes of the regular file *fd*: fewer only at its end."""
    data = os.read(fd, size) if size else b""
    if len(data) == size or not data:
        return data
    # a short read (Linux reads at most 2 GiB at once): read the rest in pieces
    chunks = [data]
    missing = size - len(data)
    while missing:
        chunk = os.read(fd, min(missing, 1 << 30))
        if not chunk:
            break
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks)


def _read_regular(fd, size):
    """The content of the regular file *fd* whose size is *size*: the size bounds what is
    read, so that a huge or growing file is not read to its (moving) end."""
    # The header first: a file that is no snapshot (a 10 GB file of zeros) is refused after
    # reading a few bytes, and a compact header tells the exact size of the whole file.
    head = _read_upto(fd, _HEADER.size)
    if len(head) > size:
        raise _Problem("the file grew while being read (more than its %d bytes)" % size)
    expected = _check_start(head)
    if expected is not None:
        if size > expected:
            raise _Problem("corrupt file (%d bytes of garbage after the data)"
                           % (size - expected))
        if size < expected:
            raise _Problem("truncated file (%d of %d bytes)" % (size, expected))
    if len(head) < _HEADER.size:
        data = head
    else:
        # From the start again, in one read, so that the file is in memory once (not as
        # pieces joined in a copy).
        os.lseek(fd, 0, os.SEEK_SET)
        data = _read_upto(fd, size)
    if len(data) < size:
        raise _Problem("the file shrank while being read (%d of its %d bytes)"
                       % (len(data), size))
    # Nothing must follow: a file still being written would be cut at a random place.
    if os.read(fd, 1):
        raise _Problem("the file grew while being read (more than its %d bytes)" % size)
    return data


def _read_pipe(fd):
    """The content of the pipe or FIFO *fd* (opened non-blocking): there is no size, so it
    is read in chunks, waiting at most PIPE_TIMEOUT seconds for each, and the first bytes are
    checked before the rest is read. A compact header bounds the read to its declared size;
    a pickle is read to the end of the pipe."""
    poller = select.poll() if hasattr(select, "poll") else None
    if poller is not None:
        poller.register(fd, select.POLLIN)
    chunks = []
    total = 0
    expected = None
    checked = False
    while True:
        if expected is not None and total >= expected:
            # Everything the header announced is there: more data is garbage. A writer that
            # keeps the pipe open without writing is not waited for longer.
            if _pipe_chunk(fd, poller, 1, wait_error=False):
                raise _Problem("corrupt file (garbage after the data)")
            break
        want = _PIPE_CHUNK if expected is None else min(_PIPE_CHUNK, expected - total)
        chunk = _pipe_chunk(fd, poller, want)
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
        if not checked and total >= _HEADER.size:
            chunks = [b"".join(chunks)]
            expected = _check_start(chunks[0])
            checked = True
    return b"".join(chunks)


def _pipe_chunk(fd, poller, size, wait_error=True):
    """Up to *size* bytes from the pipe *fd*; b"" at its end, or when nothing came within
    PIPE_TIMEOUT seconds if not *wait_error* (else _Problem)."""
    deadline = None
    while True:
        if poller is not None:
            if deadline is None:
                deadline = _monotonic() + PIPE_TIMEOUT
            remaining = deadline - _monotonic()
            events = []
            if remaining > 0:
                try:
                    events = poller.poll(int(remaining * 1000) + 1)
                except (select.error, EnvironmentError) as exc:
                    # Python 2 and 3.4- do not retry after a signal (PEP 475)
                    if exc.args and exc.args[0] == errno.EINTR:
                        continue
                    raise
            if not events:
                if not wait_error:
                    return b""
                raise _Problem("cannot read the file: no data within %g seconds (a pipe "
                               "without a writer?)" % PIPE_TIMEOUT)
        try:
            return os.read(fd, size)
        except EnvironmentError as exc:
            if exc.errno in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EINTR):
                continue
            raise


def _monotonic():
    clock = getattr(time, "monotonic", None)
    return clock() if clock is not None else time.time()


def _read_bounded(filename):
    """The bytes of the file *filename*, read with bounds: only regular files and pipes
    (FIFOs, /dev/fd/N of a shell's process substitution) are read; a directory, a device
    (/dev/zero would be read forever), a socket is refused before it is opened."""
    mode = os.stat(filename).st_mode
    if not (stat.S_ISREG(mode) or stat.S_ISFIFO(mode)):
        raise _Problem("cannot read the file: it is %s" % _kind(mode))
    # O_NONBLOCK: opening a FIFO for reading blocks until a writer opens it, possibly never;
    # a writerless FIFO rather fails after PIPE_TIMEOUT seconds in _read_pipe().
    flags = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0)
    fd = os.open(filename, flags)
    try:
        # The file opened may not be the one stat() saw (replaced in between): check again.
        st = os.fstat(fd)
        if stat.S_ISREG(st.st_mode):
            return _read_regular(fd, st.st_size)
        if stat.S_ISFIFO(st.st_mode):
            return _read_pipe(fd)
        raise _Problem("cannot read the file: it is %s" % _kind(st.st_mode))
    finally:
        os.close(fd)


def read(filename, reserved):
    """Read the snapshot file *filename*; return its data (see _new_data()) and a short
    description of the format, or raise SnapshotError(filename, reason).

    *reserved*: names that cannot be extra attributes (the Snapshot class's own).
    """
    try:
        raw = _read_bounded(filename)
    except EnvironmentError as exc:
        raise SnapshotError(filename, "cannot read the file: %s" % (exc.strerror or exc))
    except _Problem as exc:
        raise SnapshotError(filename, str(exc))
    except MemoryError:
        raise SnapshotError(filename, "cannot read the file: out of memory")
    try:
        return _read_raw(raw, reserved)
    except _Problem as exc:
        raise SnapshotError(filename, str(exc))
    except _RecursionError as exc:
        raise SnapshotError(filename, "corrupt file (%s)" % _one_line(str(exc)))
    except MemoryError:
        raise SnapshotError(filename, "corrupt file (out of memory while loading)")
    except Exception as exc:
        # A check above missed a case: still one exception type for the caller. The tests
        # look for "internal error" in the messages of their corrupt files.
        raise SnapshotError(filename, "corrupt file (internal error, please report: %s: %s)"
                            % (type(exc).__name__, _one_line(str(exc))))


def _read_raw(raw, reserved):
    if not raw:
        raise _Problem("empty file, not a snapshot")
    if raw[:len(COMPACT_MAGIC)] == COMPACT_MAGIC:
        return _read_compact(raw, reserved), "compact %d" % COMPACT_VERSION
    if raw[:1] == COMPACT_MAGIC[:1] and COMPACT_MAGIC.startswith(raw[:len(COMPACT_MAGIC)]):
        raise _Problem("truncated file (incomplete header)")
    protocol = _check_pickle_start(raw)
    value = _load_pickle(raw)
    if isinstance(value, _StubSnapshot):
        return _from_stock(value, reserved), "stdlib pickle protocol %d" % protocol
    if isinstance(value, _Stub):
        raise _Problem("not a snapshot (a pickled %s object)" % type(value).__name__[5:])
    result, version = _from_builtins(value, reserved)
    return result, "pickle version %d" % version


def encode(data, fmt, stdlib_object=None):
    """The bytes of a snapshot file of format *fmt* holding *data* (already checked).

    "compact" falls back to "pickle" when a value is out of the compact format's ranges
    (sizes of 64 bits, domains of 32 bits, line numbers and total_nframe of 31). "stdlib"
    pickles *stdlib_object* (a Snapshot holding only traces, traceback_limit and the extra
    attributes) with the highest protocol, like the stock Snapshot.dump().
    """
    if fmt == "compact":
        try:
            return _write_compact(data)
        except _NotCompact:
            fmt = "pickle"
    if fmt == "pickle":
        return _write_pickle(data)
    if fmt == "stdlib":
        return _dumps(stdlib_object, pickle.HIGHEST_PROTOCOL)
    raise ValueError("unknown snapshot format %r: expected one of %s"
                     % (fmt, ", ".join(FORMATS)))


def unicode_traces(traces):
    """Python 2: the traces with unicode filenames (bytes that are not UTF-8 become
    U+DC80..U+DCFF, as Python 3 escapes them), for a "stdlib" file that the stock module of
    Python 3 loads (its pickle.load() would not decode str of Python 2). Python 3: *traces*."""
    if not _PY2:
        return traces
    cache = {}

    def text(value):
        if isinstance(value, unicode):  # noqa: F821 (Python 2 only)
            return value
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return u"".join(unichr(ord(char)) if ord(char) < 128  # noqa: F821
                            else unichr(0xdc00 + ord(char)) for char in value)  # noqa: F821

    result = []
    for domain, size, frames, total_nframe in traces:
        converted = cache.get(id(frames))
        if converted is None or converted[0] is not frames:
            converted = cache[id(frames)] = (
                frames, tuple((text(filename), lineno) for filename, lineno in frames))
        result.append((domain, size, converted[1], total_nframe))
    return result


def atomic_write(filename, payload):
    """Write *payload* into *filename* through a temporary file in the same directory,
    renamed over it: a crash never leaves a partial file under *filename*."""
    directory = os.path.dirname(os.path.abspath(filename))
    base = os.path.basename(filename)
    counter = 0
    while True:
        tmp = os.path.join(directory, ".%s.%d-%d.tmp" % (base, os.getpid(), counter))
        try:
            # 0o666 and the umask, as for a file created by open()
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                         0o666)
            break
        except OSError as exc:
            if exc.errno != errno.EEXIST:
                raise
            counter += 1
    try:
        with os.fdopen(fd, "wb") as fp:
            fp.write(payload)
            fp.flush()
            os.fsync(fp.fileno())
        if hasattr(os, "replace"):
            os.replace(tmp, filename)
        else:  # Python 2: rename() replaces an existing file on POSIX
            os.rename(tmp, filename)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
