"""Reading a process tree for ``tracemalloc.process_tree``: which processes descend from a
root process, and the values of each (RSS, USS, page faults, CPU times, context switches,
threads, status, open files, network connections), from Linux's /proc or from psutil.

Two sources with one interface, ProcSource and PsutilSource:

- ``identify(pid)``: the key of a live process, ``(pid, start)``, where *start* tells two
  processes of the same PID apart (its start time); None if there is no such process;
- ``sample(root_key)``: the processes of the tree in tree order (the root, then each child
  and its subtree, children by PID), each a dict (``RECORD_KEYS``), or None when the root is
  gone: exited (a zombie counts as exited), or its PID taken by another process.

Descendants are found through parent links (/proc/PID/stat of every process, or psutil's
``children(recursive=True)``, which reads the same): a process whose parent exited is
adopted by init (or a subreaper) and so leaves the tree, as in pymemtrace. A process that
vanishes while it is read is left out of that sample, never an error; a value that cannot be
read (another user's process) is None. Nothing here writes or prints.
"""
from __future__ import absolute_import

import errno
import os
import stat

from tracemalloc._compat import _PY2

# The values a caller may ask for beside those every sample has (pid, ppid, name, cmdline,
# depth, rss, cpu): the options of pymemtrace's process_tree that name them.
FIELDS = ("uss", "page_faults", "cpu_times", "ctx_switches", "threads", "status",
          "open_files", "net_connections")

# What each field adds to a record (None where it cannot be read):
#   uss: int bytes, the memory private to the process (smaps_rollup: Private_*)
#   page_faults: int, minor + major since the process started; major_page_faults: int
#   cpu_times: cpu_user, cpu_system: float seconds
#   ctx_switches: int, voluntary + involuntary
#   threads: int; status: str ("running", "sleeping", ...); open_files: int, regular files
#   net_connections: int (psutil only)
FIELD_KEYS = {
    "uss": ("uss",),
    "page_faults": ("page_faults", "major_page_faults"),
    "cpu_times": ("cpu_user", "cpu_system"),
    "ctx_switches": ("ctx_switches",),
    "threads": ("threads",),
    "status": ("status",),
    "open_files": ("open_files",),
    "net_connections": ("net_connections",),
}

# Every record: pid, ppid (int), name (str: the kernel's name of the command, as psutil's
# name(), completed from the command line when the kernel cut it at 15 characters),
# cmdline (list of str; empty for a kernel thread), depth (0 for the root), key ((pid,
# start)), rss (int bytes), cpu (float seconds of user + system time, or None).
RECORD_KEYS = ("pid", "ppid", "name", "cmdline", "depth", "key", "rss", "cpu")

# The letters of the state in /proc/PID/stat, named as psutil names them.
_STATES = {
    "R": "running", "S": "sleeping", "D": "disk-sleep", "T": "stopped",
    "t": "tracing-stop", "Z": "zombie", "X": "dead", "x": "dead", "K": "wake-kill",
    "W": "waking", "I": "idle", "P": "parked",
}

# A process that is gone: it exited and was reaped, or it is a zombie (exited, its parent has
# not read its exit status yet: it holds no memory and its children were adopted).
_GONE_STATES = ("Z", "X", "x")

_VANISHED = (errno.ENOENT, errno.ESRCH)


class _Vanished(Exception):
    """The process went away while it was read."""


def _complete_name(name, cmdline):
    """The kernel keeps 15 characters of a command's name: complete it from the command
    line when that starts with it, as psutil does."""
    if len(name) >= 15 and cmdline:
        first = os.path.basename(cmdline[0])
        if first.startswith(name):
            return first
    return name


if _PY2:
    def _decode(data):
        return data  # the native str of Python 2 is bytes
else:
    def _decode(data):
        # as os.fsdecode() on Linux: a byte that is not UTF-8 is kept as a surrogate
        return data.decode("utf-8", "surrogateescape")


def _read(path, once=False):
    """The whole content of a /proc file as bytes. EnvironmentError as os.open raises it.
    With *once*, one read of 4 KiB: a stat file (under 1 KiB) is made whole at the first
    read, and a second read only finds its end."""
    fd = os.open(path, os.O_RDONLY)
    try:
        chunk = os.read(fd, 4096)
        if once and len(chunk) < 4096:
            return chunk
        chunks = [chunk]
        while chunk:
            chunk = os.read(fd, 65536)
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks)


def proc_available(proc="/proc"):
    """True if *proc* is a Linux /proc this module can read."""
    try:
        _read(os.path.join(proc, "self", "stat"))
        return True
    except EnvironmentError:
        return False


class ProcSource(object):
    """The values of /proc (Linux), read with no module beyond the standard library.

    Per sample: the stat file of every process (the parent links; it also holds the page
    faults, CPU times, threads and state), and of each process of the tree its statm (the
    RSS) and command line, plus what the fields ask for: status (context switches),
    smaps_rollup (USS, or smaps on a kernel older than 4.14), the fd directory (open files).
    The RSS is statm's, as psutil's and status's VmRSS: the rss field of stat is the kernel's
    approximate per-CPU counter since Linux 6.2 (124 kB below the others for an idle
    interpreter, here).
    """

    name = "/proc"

    def __init__(self, fields=(), proc="/proc"):
        unknown = set(fields) - set(FIELDS)
        if unknown:
            raise ValueError("unknown fields: %s" % ", ".join(sorted(unknown)))
        if "net_connections" in fields:
            raise ValueError("/proc gives no network connections per process here: "
                             "they need psutil")
        self.fields = frozenset(fields)
        self.proc = proc
        self.clock_ticks = float(os.sysconf("SC_CLK_TCK"))
        self.page_size = os.sysconf("SC_PAGE_SIZE")

    def _path(self, pid, name):
        return "%s/%d/%s" % (self.proc, pid, name)

    def _stat(self, pid):
        """The fields of /proc/PID/stat that tell the tree (state, ppid, start) and the
        others, unparsed ("fields", "data", "close"); None if the process is gone. The scan
        reads every process's: only what the tree needs is parsed here (_parse_stat())."""
        try:
            data = _read(self._path(pid, "stat"), once=True)
        except EnvironmentError:
            return None  # gone, or not a process we may read
        # "PID (COMM) STATE PPID ...": COMM may hold spaces and parentheses
        close = data.rfind(b")")
        fields = data[close + 2:].split(None, 21)
        try:
            return {"state": fields[0].decode("ascii"), "ppid": int(fields[1]),
                    "start": int(fields[19]), "fields": fields, "data": data,
                    "close": close}
        except (IndexError, ValueError, UnicodeDecodeError):
            return None

    @staticmethod
    def _parse_stat(stat_fields):
        """The rest of _stat()'s fields: comm, minflt, majflt, utime, stime, threads."""
        fields = stat_fields["fields"]
        data = stat_fields["data"]
        return {"comm": _decode(data[data.find(b"(") + 1:stat_fields["close"]]),
                "minflt": int(fields[7]), "majflt": int(fields[9]), "utime": int(fields[11]),
                "stime": int(fields[12]), "threads": int(fields[17])}

    def identify(self, pid):
        stat_fields = self._stat(pid)
        if stat_fields is None:
            return None
        return (pid, stat_fields["start"])

    def _scan(self):
        """{pid: stat fields} of every process we can read."""
        stats = {}
        try:
            names = os.listdir(self.proc)
        except EnvironmentError:
            return stats
        for entry in names:
            if entry.isdigit():
                pid = int(entry)
                stat_fields = self._stat(pid)
                if stat_fields is not None:
                    stats[pid] = stat_fields
        return stats

    def sample(self, root_key):
        root_pid, root_start = root_key
        stats = self._scan()
        root = stats.get(root_pid)
        if root is None or root["start"] != root_start or root["state"] in _GONE_STATES:
            return None
        children = {}
        for pid, stat_fields in stats.items():
            children.setdefault(stat_fields["ppid"], []).append(pid)
        records = []
        stack = [(root_pid, 0)]
        while stack:
            pid, depth = stack.pop()
            stat_fields = stats[pid]
            if stat_fields["state"] in _GONE_STATES:
                continue
            try:
                records.append(self._record(pid, stat_fields, depth))
            except _Vanished:
                pass  # its children, still listed under it, are read all the same
            stack.extend((child, depth + 1)
                         for child in sorted(children.get(pid, ()), reverse=True))
        return records

    def _read_optional(self, pid, name):
        """The content of /proc/PID/NAME, None if we may not read it; _Vanished if the
        process is gone."""
        try:
            return _read(self._path(pid, name))
        except EnvironmentError as exc:
            if exc.errno in _VANISHED:
                raise _Vanished()
            return None

    def _record(self, pid, stat_fields, depth):
        stat_fields = dict(stat_fields, **self._parse_stat(stat_fields))
        statm = self._read_optional(pid, "statm")
        data = self._read_optional(pid, "cmdline")
        cmdline = [_decode(arg) for arg in data.split(b"\0")[:-1]] if data else []
        ticks = self.clock_ticks
        record = {
            "pid": pid,
            "ppid": stat_fields["ppid"],
            "name": _complete_name(stat_fields["comm"], cmdline),
            "cmdline": cmdline,
            "depth": depth,
            "key": (pid, stat_fields["start"]),
            "rss": int(statm.split()[1]) * self.page_size if statm else None,
            "cpu": (stat_fields["utime"] + stat_fields["stime"]) / ticks,
        }
        fields = self.fields
        if "page_faults" in fields:
            record["page_faults"] = stat_fields["minflt"] + stat_fields["majflt"]
            record["major_page_faults"] = stat_fields["majflt"]
        if "cpu_times" in fields:
            record["cpu_user"] = stat_fields["utime"] / ticks
            record["cpu_system"] = stat_fields["stime"] / ticks
        if "threads" in fields:
            record["threads"] = stat_fields["threads"]
        if "status" in fields:
            record["status"] = _STATES.get(stat_fields["state"], stat_fields["state"])
        if "ctx_switches" in fields:
            record["ctx_switches"] = self._ctx_switches(pid)
        if "uss" in fields:
            record["uss"] = self._uss(pid)
        if "open_files" in fields:
            record["open_files"] = self._open_files(pid)
        return record

    def _ctx_switches(self, pid):
        data = self._read_optional(pid, "status")
        if data is None:
            return None
        total = None
        for line in data.splitlines():
            if line.startswith(b"voluntary_ctxt_switches:") or \
                    line.startswith(b"nonvoluntary_ctxt_switches:"):
                total = (total or 0) + int(line.split()[1])
        return total

    def _uss(self, pid):
        """The Private_* lines of smaps_rollup (Linux 4.14+, else of smaps), as psutil's
        memory_full_info().uss."""
        try:
            data = _read(self._path(pid, "smaps_rollup"))
        except EnvironmentError as exc:
            if exc.errno != errno.ENOENT:
                if exc.errno == errno.ESRCH:
                    raise _Vanished()
                return None  # not ours to read
            data = self._read_optional(pid, "smaps")  # no smaps_rollup, or gone
            if data is None:
                return None
        return sum(int(line.split()[1]) * 1024 for line in data.splitlines()
                   if line.startswith(b"Private_"))

    def _open_files(self, pid):
        """The open regular files, as len(psutil's open_files()): the descriptors whose
        target is an absolute path naming a regular file."""
        directory = self._path(pid, "fd")
        try:
            fds = os.listdir(directory)
        except EnvironmentError as exc:
            if exc.errno in _VANISHED:
                raise _Vanished()
            return None
        count = 0
        for fd in fds:
            try:
                target = os.readlink(os.path.join(directory, fd))
                if target.startswith("/") and stat.S_ISREG(os.stat(target).st_mode):
                    count += 1
            except EnvironmentError:
                pass  # closed meanwhile, or a file we may not see
        return count


class PsutilSource(object):
    """The values of psutil, on any system it supports. Page faults come from psutil's
    ``page_faults()`` where it has one, else from ``memory_info().pfaults`` (macOS), else
    from /proc/PID/stat (Linux: psutil 5.9 has none)."""

    name = "psutil"

    def __init__(self, psutil, fields=(), proc="/proc"):
        unknown = set(fields) - set(FIELDS)
        if unknown:
            raise ValueError("unknown fields: %s" % ", ".join(sorted(unknown)))
        self.psutil = psutil
        self.fields = frozenset(fields)
        self._errors = (psutil.NoSuchProcess, psutil.AccessDenied)
        self._proc = ProcSource(proc=proc) if proc_available(proc) else None

    def page_faults_available(self):
        """True if this psutil, or /proc beside it, gives page faults."""
        return (hasattr(self.psutil.Process, "page_faults") or self._proc is not None
                or hasattr(self.psutil.Process(os.getpid()).memory_info(), "pfaults"))

    def identify(self, pid):
        try:
            return (pid, self.psutil.Process(pid).create_time())
        except self._errors:
            return None

    def _gone(self, process):
        return process.status() in (self.psutil.STATUS_ZOMBIE,
                                    getattr(self.psutil, "STATUS_DEAD", "dead"))

    def sample(self, root_key):
        psutil = self.psutil
        root_pid, root_start = root_key
        try:
            root = psutil.Process(root_pid)
            if root.create_time() != root_start or self._gone(root):
                return None
            processes = [root] + root.children(recursive=True)
        except psutil.NoSuchProcess:
            return None
        except psutil.AccessDenied:
            processes = [root]
        records = {}
        for process in processes:
            try:
                record = self._record(process)
            except self._errors:  # gone, or not even its name can be read
                continue
            if record is not None:
                records[record["pid"]] = record
        children = {}
        for record in records.values():
            children.setdefault(record["ppid"], []).append(record["pid"])
        ordered = []
        stack = [(root_pid, 0)]
        while stack:
            pid, depth = stack.pop()
            record = records.get(pid)
            if record is None:
                continue
            record["depth"] = depth
            ordered.append(record)
            stack.extend((child, depth + 1)
                         for child in sorted(children.get(pid, ()), reverse=True))
        return ordered if ordered and ordered[0]["pid"] == root_pid else None

    def _value(self, function, *args):
        """function(*args), None if we may not read it (NoSuchProcess goes through)."""
        try:
            return function(*args)
        except self.psutil.AccessDenied:
            return None

    def _record(self, process):
        """The record of *process*, None if it is a zombie. NoSuchProcess if it is gone."""
        fields = self.fields
        with process.oneshot():
            if self._gone(process):
                return None
            cmdline = self._value(process.cmdline) or []
            cpu = self._value(process.cpu_times)
            memory = self._value(process.memory_info)
            record = {
                "pid": process.pid,
                "ppid": process.ppid(),
                "name": process.name(),
                "cmdline": list(cmdline),
                "depth": None,
                "key": (process.pid, process.create_time()),
                "rss": memory.rss if memory is not None else None,
                "cpu": cpu.user + cpu.system if cpu is not None else None,
            }
            if "cpu_times" in fields:
                record["cpu_user"] = cpu.user if cpu is not None else None
                record["cpu_system"] = cpu.system if cpu is not None else None
            if "page_faults" in fields:
                record["page_faults"], record["major_page_faults"] = \
                    self._page_faults(process, memory)
            if "threads" in fields:
                record["threads"] = self._value(process.num_threads)
            if "status" in fields:
                record["status"] = self._value(process.status)
            if "ctx_switches" in fields:
                switches = self._value(process.num_ctx_switches)
                record["ctx_switches"] = (switches.voluntary + switches.involuntary
                                          if switches is not None else None)
            if "uss" in fields:
                full = self._value(process.memory_full_info)
                record["uss"] = getattr(full, "uss", None)
            if "open_files" in fields:
                files = self._value(process.open_files)
                record["open_files"] = len(files) if files is not None else None
            if "net_connections" in fields:
                connections = getattr(process, "net_connections", None) or process.connections
                found = self._value(connections)
                record["net_connections"] = len(found) if found is not None else None
        return record

    def _page_faults(self, process, memory):
        """(minor + major, major), or (None, None)."""
        page_faults = getattr(process, "page_faults", None)
        if page_faults is not None:  # psutil 7: (minor, major)
            faults = self._value(page_faults)
            if faults is None:
                return None, None
            return faults[0] + faults[1], faults[1]
        if memory is not None and hasattr(memory, "pfaults"):  # macOS
            return memory.pfaults, getattr(memory, "pageins", None)
        if self._proc is not None:
            stat_fields = self._proc._stat(process.pid)
            if stat_fields is not None:
                stat_fields = self._proc._parse_stat(stat_fields)
                return (stat_fields["minflt"] + stat_fields["majflt"],
                        stat_fields["majflt"])
        return None, None
