"""The memory of a process as the operating system tells it, for tracemalloc.process: its
resident set size (RSS) and peak RSS (/proc/PID/status VmRSS and VmHWM on Linux, psutil or
getrusage() elsewhere), psutil's memory_info() and cpu_times() when psutil can be
imported, whether a process still runs, and the CPU time of the calling thread.

Nothing here allocates much or keeps anything per process but the psutil.Process objects
that the callers hold: a sample is a read of one small file.
"""
from __future__ import absolute_import

import errno
import os
import sys

try:
    import resource
except ImportError:  # not POSIX
    resource = None

import tracemalloc

# /proc/PID/status exists (Linux): the rest of this module prefers it.
HAVE_PROC = os.path.exists("/proc/self/status")

# getrusage(RUSAGE_THREAD) (Linux 2.6.26+): the CPU time of the calling thread only.
# Python 2.7 does not name the constant; the value is 1 on Linux.
_RUSAGE_THREAD = getattr(resource, "RUSAGE_THREAD", 1 if sys.platform.startswith("linux")
                         else None)

# ru_maxrss is in KiB on Linux and the BSDs, in bytes on macOS.
_MAXRSS_UNIT = 1 if sys.platform == "darwin" else 1024


class NoSuchProcess(Exception):
    """The process does not exist (or no longer): args are (pid,)."""


def _read_status(pid):
    """The lines of /proc/PID/status as {name: value} for the fields this module reads
    (VmRSS, VmHWM, State). NoSuchProcess when the process is gone."""
    path = "/proc/%s/status" % ("self" if pid is None else pid)
    try:
        with open(path, "rb") as fp:
            data = fp.read()
    except EnvironmentError as exc:
        if exc.errno in (errno.ENOENT, errno.ESRCH):
            raise NoSuchProcess(pid)
        raise
    fields = {}
    for line in data.splitlines():
        if line.startswith((b"VmRSS:", b"VmHWM:", b"State:")):
            name, _, value = line.partition(b":")
            fields[name.decode("ascii")] = value.split()
    return fields


def _kib(fields, name):
    value = fields.get(name)
    if not value:
        return None  # a zombie or a kernel thread has no memory fields
    return int(value[0]) * 1024


def memory(pid=None, process=None):
    """(rss, peak_rss) in bytes of the process *pid* (None: this one), each None when it
    cannot be known. *process*: a psutil.Process of it, used without /proc.

    Linux: VmRSS and VmHWM of /proc/PID/status. Elsewhere, psutil's memory_info().rss, and
    for this process the peak from getrusage() (ru_maxrss). NoSuchProcess when the process
    does not exist."""
    if HAVE_PROC:
        fields = _read_status(pid)
        return _kib(fields, "VmRSS"), _kib(fields, "VmHWM")
    rss = None
    if process is not None:
        try:
            rss = process.memory_info().rss
        except Exception as exc:
            if type(exc).__name__ == "NoSuchProcess":
                raise NoSuchProcess(pid)
    peak = None
    if (pid is None or pid == os.getpid()) and resource is not None:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * _MAXRSS_UNIT
        if rss is None:
            rss = tracemalloc.get_process_memory()
    return rss, peak


def is_running(pid):
    """True while the process *pid* exists and has not exited (a zombie, dead but not yet
    waited for by its parent, has exited)."""
    if HAVE_PROC:
        try:
            state = _read_status(pid).get("State")
        except NoSuchProcess:
            return False
        return not state or state[0] not in (b"Z", b"X")
    try:
        os.kill(pid, 0)
    except OSError as exc:
        return exc.errno == errno.EPERM  # it exists, and belongs to someone else
    return True


def psutil_process(pid=None):
    """A psutil.Process of *pid* (None: this process), or None when psutil cannot be
    imported (tracemalloc._import_psutil(), which imports it with tracing suspended).
    NoSuchProcess when the process does not exist."""
    psutil = tracemalloc._import_psutil()
    if psutil is None:
        return None
    try:
        return psutil.Process(os.getpid() if pid is None else pid)
    except Exception as exc:
        if type(exc).__name__ == "NoSuchProcess":
            raise NoSuchProcess(pid)
        return None


def psutil_fields(process):
    """{"memory_info": {...}, "cpu_times": {...}} of a psutil.Process (psutil's named
    tuples as dicts, as pymemtrace logs them); a value is None when psutil cannot tell."""
    fields = {}
    for name in ("memory_info", "cpu_times"):
        value = None
        if process is not None:
            try:
                value = dict(getattr(process, name)()._asdict())
            except Exception:
                value = None
        fields[name] = value
    return fields


def thread_cpu():
    """CPU seconds (user + system) used by the calling thread, or None where the system
    cannot tell (getrusage(RUSAGE_THREAD) is Linux's)."""
    if resource is None or _RUSAGE_THREAD is None:
        return None
    try:
        usage = resource.getrusage(_RUSAGE_THREAD)
    except (ValueError, EnvironmentError):
        return None
    return usage.ru_utime + usage.ru_stime
