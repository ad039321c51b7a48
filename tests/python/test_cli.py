"""Tests of the command line python -m tracemalloc (tracemalloc.__main__.main)."""
from __future__ import absolute_import

import fcntl
import os
import pickle
import shutil
import sys
import tempfile
import threading
import unittest

try:
    import resource
except ImportError:  # not on Windows
    resource = None

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "support"))
import tmsupport  # noqa: E402 (must come first: chooses the package and the engine)
from tmsupport import tracemalloc  # noqa: E402
from tracemalloc import __main__ as cli  # noqa: E402

LIB = "/usr/lib/python2.7"
ERROR = "python -m tracemalloc: error: "
# What a child reading a file of unbounded or huge size may use: reading it whole would raise
# MemoryError (a traceback) instead of the one line of error.
MEMORY_LIMIT = 1024 ** 3
# A child that blocks (a FIFO without a writer) is killed after this many seconds; the
# reader waits at most PIPE_TIMEOUT (5) seconds for a silent pipe.
CHILD_TIMEOUT = 60


def _limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


class CliTests(unittest.TestCase):
    def setUp(self):
        self.tmpdir = tempfile.mkdtemp(prefix="tracemalloc-test-")
        self.saved_no_color = os.environ.pop("NO_COLOR", None)
        self.snap1 = self.write_snapshot("snap1.pickle", {
            LIB + "/a/b.py": {10: (10240, 10), 20: (500, 5)},
            LIB + "/c.py": {1: (2048, 2)},
            "<unknown>": {0: (32, 1)},
        }, "2013-03-04 01:00:55")
        self.snap2 = self.write_snapshot("snap2.pickle", {
            LIB + "/a/b.py": {10: (20480, 20), 20: (500, 5)},
            LIB + "/d.py": {3: (100, 1)},
            "<unknown>": {0: (32, 1)},
        }, "2013-03-04 01:01:55")
        self.snap3 = self.write_snapshot("snap3.pickle", {
            LIB + "/a/b.py": {10: (30720, 30), 20: (500, 5)},
        }, "2013-03-04 01:02:55")

    def tearDown(self):
        shutil.rmtree(self.tmpdir)
        if self.saved_no_color is not None:
            os.environ["NO_COLOR"] = self.saved_no_color
        else:
            os.environ.pop("NO_COLOR", None)

    def path(self, name):
        return os.path.join(self.tmpdir, name)

    def write_snapshot(self, name, stats, timestamp, pid=1234, **kwargs):
        path = self.path(name)
        tracemalloc.Snapshot(stats, timestamp, pid, **kwargs).write(path)
        return path

    def run_cli(self, *args):
        with tmsupport.captured("stdout") as stdout:
            with tmsupport.captured("stderr") as stderr:
                status = cli.main(list(args))
        return status, stdout.getvalue(), stderr.getvalue()

    def assert_error(self, args, expected_line):
        status, out, err = self.run_cli(*args)
        self.assertEqual(status, 1)
        self.assertEqual(out, "")
        self.assertEqual(err, ERROR + expected_line + "\n")
        self.assertNotIn("Traceback", err)

    def test_two_snapshots(self):
        status, out, err = self.run_cli(self.snap1, self.snap2)
        self.assertEqual((status, err), (0, ""))
        self.assertEqual(out, (
            "%s (2013-03-04 01:00:55): Top 3 allocations per file\n"
            "#1: .../python2.7/a/b.py: size=10 KiB, count=15, average=716 B\n"
            "#2: .../lib/python2.7/c.py: size=2048 B, count=2, average=1024 B\n"
            "#3: <unknown>: size=32 B, count=1, average=32 B\n"
            "Total Python memory: size=12 KiB, count=18, average=712 B\n"
            "\n"
            "%s (2013-03-04 01:01:55): Top 4 allocations per file (compared to %s)\n"
            "#1: .../python2.7/a/b.py: size=20 KiB (+10 KiB), count=25 (+10), average=839 B\n"
            "#2: .../lib/python2.7/c.py: size=0 B (-2048 B), count=0 (-2)\n"
            "#3: .../lib/python2.7/d.py: size=100 B (+100 B), count=1 (+1), average=100 B\n"
            "#4: <unknown>: size=32 B (+0 B), count=1 (+0), average=32 B\n"
            "Total Python memory: size=20 KiB (+8292 B), count=27 (+9), average=781 B\n"
            "\n") % (self.snap1, self.snap2, self.snap1))

    def headers_and_first_lines(self, out):
        lines = out.splitlines()
        return [(line, lines[index + 1]) for index, line in enumerate(lines) if "Top" in line]

    def test_compare_with_previous_or_first(self):
        status, out, err = self.run_cli("-n", "1", self.snap1, self.snap2, self.snap3)
        self.assertEqual(status, 0)
        tops = self.headers_and_first_lines(out)
        self.assertTrue(tops[2][0].endswith("(compared to %s)" % self.snap2))
        self.assertEqual(tops[2][1], "#1: .../python2.7/a/b.py: size=30 KiB (+10 KiB), "
                                     "count=35 (+10), average=892 B")

        status, out, err = self.run_cli("-n", "1", "--first", self.snap1, self.snap2, self.snap3)
        self.assertEqual(status, 0)
        tops = self.headers_and_first_lines(out)
        self.assertTrue(tops[1][0].endswith("(compared to %s)" % self.snap1))
        self.assertTrue(tops[2][0].endswith("(compared to %s)" % self.snap1))
        self.assertEqual(tops[2][1], "#1: .../python2.7/a/b.py: size=30 KiB (+20 KiB), "
                                     "count=35 (+20), average=892 B")

    def test_line_number_and_number(self):
        status, out, err = self.run_cli("-l", "-n", "2", self.snap1)
        self.assertEqual(status, 0)
        self.assertEqual(out.splitlines()[1:], [
            "#1: .../python2.7/a/b.py:10: size=10 KiB, count=10, average=1024 B",
            "#2: .../lib/python2.7/c.py:1: size=2048 B, count=2, average=1024 B",
            "2 more: size=532 B, count=6, average=88 B",
            "Total Python memory: size=12 KiB, count=18, average=712 B",
            ""])
        self.assertIn("Top 2 allocations per file and line", out.splitlines()[0])

    def test_include_exclude(self):
        status, out, err = self.run_cli("--include", "*/a/*", "--include", "<*>", self.snap1)
        self.assertEqual(out.splitlines()[1:4], [
            "#1: .../python2.7/a/b.py: size=10 KiB, count=15, average=716 B",
            "#2: <unknown>: size=32 B, count=1, average=32 B",
            "Total Python memory: size=10 KiB, count=16, average=673 B"])
        status, out, err = self.run_cli("--exclude", "*/a/*", "--exclude", "<*>", self.snap1)
        self.assertEqual(out.splitlines()[1:3], [
            "#1: .../lib/python2.7/c.py: size=2048 B, count=2, average=1024 B",
            "Total Python memory: size=2048 B, count=2, average=1024 B"])
        status, out, err = self.run_cli("--include", "*.py", "--exclude", "*/c.py", self.snap1)
        self.assertEqual(out.splitlines()[1:3], [
            "#1: .../python2.7/a/b.py: size=10 KiB, count=15, average=716 B",
            "Total Python memory: size=10 KiB, count=15, average=716 B"])

    def test_hide_and_filename_parts(self):
        status, out, err = self.run_cli("-S", "-A", "-P", "1", "-n", "1", self.snap1)
        self.assertEqual(out.splitlines()[1:3], ["#1: .../b.py: count=15", "2 more: count=3"])
        status, out, err = self.run_cli("--hide-count", "--filename-parts", "0", "-n", "1",
                                        self.snap1)
        self.assertEqual(out.splitlines()[1],
                         "#1: /usr/lib/python2.7/a/b.py: size=10 KiB, average=716 B")

    def test_colors(self):
        status, out, err = self.run_cli("--color", self.snap1)
        self.assertIn("\x1b[", out)
        status, out, err = self.run_cli("--no-color", self.snap1)
        self.assertNotIn("\x1b[", out)
        # default: not a terminal, so no colors
        status, out, err = self.run_cli(self.snap1)
        self.assertNotIn("\x1b[", out)
        os.environ["NO_COLOR"] = "1"
        status, out, err = self.run_cli("--color", self.snap1)
        self.assertIn("\x1b[", out)  # an explicit option wins over NO_COLOR
        status, out, err = self.run_cli("--color", "--no-color", self.snap1)
        self.assertEqual(status, 2)

    def test_process_memory_and_user_data(self):
        path = self.write_snapshot("mem.pickle", {}, "2013-03-04 01:00:55",
                                   process_memory=10 * 1024 ** 2 + 23 * 1024,
                                   tracemalloc_memory=23 * 1024,
                                   user_data=[("Video memory", "size", 234902)])
        status, out, err = self.run_cli(path)
        self.assertEqual(out.splitlines()[-3:], [
            "Total process memory: size=10 MiB (ignore tracemalloc: 23 KiB)",
            "Video memory: 229 KiB",
            ""])

    def test_different_pids(self):
        other = self.write_snapshot("other.pickle", {}, "2013-03-04 01:03:55", pid=5678)
        status, out, err = self.run_cli(self.snap1, self.snap2, other)
        self.assertEqual(status, 0)
        warnings = [line for line in out.splitlines() if line.startswith("WARNING")]
        self.assertEqual(warnings, [
            "WARNING: %s (pid 5678) and %s (pid 1234) come from different processes"
            % (other, self.snap2)])
        lines = out.splitlines()
        self.assertTrue(lines[lines.index(warnings[0]) + 1].startswith(other + " ("))

    def test_lost_traces(self):
        # the warning line of each snapshot whose tracer lost traces, in every format, and
        # only for those
        paths = []
        for index, (fmt, lost) in enumerate([("compact", 12), ("pickle", 0), ("pickle", 1),
                                             ("compact", None)]):
            snapshot = tracemalloc.Snapshot({LIB + "/a.py": {1: (10, 1)}},
                                            "2013-03-04 01:0%d:55" % index, 1234)
            if lost is not None:
                snapshot.lost_traces = lost
            path = self.path("lost%d.%s" % (index, fmt))
            snapshot.write(path, fmt)
            paths.append(path)
        status, out, err = self.run_cli(*paths)
        self.assertEqual((status, err), (0, ""))
        lines = out.splitlines()
        warnings = [(lines[index - 1].split(" (")[0], line) for index, line in enumerate(lines)
                    if line.startswith("WARNING")]
        self.assertEqual(warnings, [
            (paths[0], "WARNING: 12 traces were lost for lack of memory: the statistics below "
                       "are incomplete"),
            (paths[2], "WARNING: 1 trace was lost for lack of memory: the statistics below "
                       "are incomplete")])

    def test_missing_file(self):
        missing = self.path("missing.pickle")
        self.assert_error([self.snap1, missing],
                          missing + ": cannot read the file: No such file or directory")

    def test_bad_files(self):
        with open(self.snap1, "rb") as fp:
            raw = fp.read()
        cases = [
            ("empty.pickle", b"", "empty file, not a snapshot"),
            ("truncated.pickle", raw[:len(raw) // 2],
             "truncated file (%d of %d bytes)" % (len(raw) // 2, len(raw))),
            ("garbage.pickle", b"GIF89a\x00\x01", "not a snapshot file (neither the compact "
                                                  "format nor a pickle of protocol 2 to 5)"),
            ("foreign.pickle", pickle.dumps({"format_version": 1}, 2),
             "not a pytracemalloc snapshot (format missing)"),
        ]
        for name, data, problem in cases:
            path = self.path(name)
            with open(path, "wb") as fp:
                fp.write(data)
            self.assert_error([self.snap1, path], path + ": " + problem)

    def test_malicious_file(self):
        marker = self.path("pwned")

        class Malicious(object):
            def __reduce__(self):
                return (os.system, ("touch %s" % marker,))
        path = self.path("evil.pickle")
        with open(path, "wb") as fp:
            fp.write(pickle.dumps(Malicious(), 2))
        status, out, err = self.run_cli(path)
        self.assertEqual(status, 1)
        self.assertTrue(err.startswith(ERROR + path + ": refused to load"), err)
        self.assertEqual(err.count("\n"), 1)
        self.assertFalse(os.path.exists(marker))

    def test_usage_errors(self):
        for args in ([], ["--bogus", self.snap1], ["-n", "0", self.snap1],
                     ["-n", "x", self.snap1], ["-P", "-1", self.snap1]):
            status, out, err = self.run_cli(*args)
            self.assertEqual(status, 2, args)
            self.assertIn("usage: python -m tracemalloc", err)
            self.assertIn("python -m tracemalloc: error: ", err)
            self.assertNotIn("Traceback", err)

    def test_help(self):
        status, out, err = self.run_cli("--help")
        self.assertEqual(status, 0)
        for text in ("usage: python -m tracemalloc", "--line-number", "--first", "--include",
                     "--exclude", "--no-color", "--hide-size", "--filename-parts",
                     "example:", "NO_COLOR"):
            self.assertIn(text, out)


class CliProcessTests(unittest.TestCase):
    """The command line in a child process: exit status and stderr, never a traceback."""

    def setUp(self):
        self.tmpdir = tempfile.mkdtemp(prefix="tracemalloc-test-")

    def tearDown(self):
        shutil.rmtree(self.tmpdir)

    def run_main(self, *args):
        if tmsupport.USING_FAKE_ENGINE:
            # "python -m tracemalloc" cannot import the package without the engine: run
            # main() the same way, behind the fake engine.
            code = ("import sys; sys.path.insert(0, %r); import tmsupport; "
                    "from tracemalloc.__main__ import main; sys.exit(main())"
                    % tmsupport.SUPPORT_DIR)
            return tmsupport.run_python(["-c", code] + list(args))
        return tmsupport.run_python(["-m", "tracemalloc"] + list(args))

    def test_error_exit_status(self):
        missing = os.path.join(self.tmpdir, "missing.pickle")
        code, out, err = self.run_main(missing)
        self.assertEqual(code, 1)
        self.assertEqual(out, "")
        err_lines = [line for line in err.splitlines() if not line.startswith("tests: ")]
        self.assertEqual(err_lines, [ERROR + missing + ": cannot read the file: No such file "
                                     "or directory"])

    def test_success(self):
        path = os.path.join(self.tmpdir, "snap.pickle")
        tracemalloc.Snapshot({"/a.py": {1: (10, 1)}}, "2013-03-04 01:00:55", 1).write(path)
        code, out, err = self.run_main(path)
        self.assertEqual(code, 0, err)
        self.assertIn("#1: /a.py: size=10 B, count=1, average=10 B", out)

    def test_usage_error_status(self):
        code, out, err = self.run_main("--bogus")
        self.assertEqual(code, 2)
        self.assertNotIn("Traceback", err)


class BoundedReadTests(unittest.TestCase):
    """Files that are no snapshot and cannot be read whole (a device, a FIFO without a writer,
    a huge or growing file): one line of error and the exit status 1 within seconds, under a
    memory limit; a pipe holding a snapshot still loads."""

    def setUp(self):
        self.tmpdir = tempfile.mkdtemp(prefix="tracemalloc-test-")

    def tearDown(self):
        shutil.rmtree(self.tmpdir)

    def path(self, name):
        return os.path.join(self.tmpdir, name)

    def run_main(self, args, limit_memory=False, **kwargs):
        if limit_memory:
            tmsupport.require(self, resource is not None, "no resource module")
            kwargs["preexec_fn"] = _limit_memory
        if tmsupport.USING_FAKE_ENGINE:
            code = ("import sys; sys.path.insert(0, %r); import tmsupport; "
                    "from tracemalloc.__main__ import main; sys.exit(main())"
                    % tmsupport.SUPPORT_DIR)
            args = ["-c", code] + list(args)
        else:
            args = ["-m", "tracemalloc"] + list(args)
        return tmsupport.run_python(args, timeout=CHILD_TIMEOUT, **kwargs)

    def assert_one_error(self, result, path, problem):
        code, out, err = result
        err_lines = [line for line in err.splitlines() if not line.startswith("tests: ")]
        self.assertEqual(len(err_lines), 1, err)
        self.assertNotIn("Traceback", err)
        self.assertTrue(err_lines[0].startswith(ERROR + path + ": "), err)
        self.assertIn(problem, err_lines[0])
        self.assertEqual(code, 1, err)
        self.assertEqual(out, "")

    def test_directory(self):
        self.assert_one_error(self.run_main([self.tmpdir]), self.tmpdir,
                              ": cannot read the file: it is a directory")

    def test_devices(self):
        for device in ("/dev/zero", "/dev/urandom"):
            if not os.path.exists(device):
                continue
            self.assert_one_error(self.run_main([device], limit_memory=True), device,
                                  ": cannot read the file: it is a character device")

    def test_fifo_without_writer(self):
        path = self.path("fifo")
        os.mkfifo(path)
        self.assert_one_error(self.run_main([path]), path,
                              ": cannot read the file: no data within 5 seconds")

    def test_huge_sparse_file(self):
        path = self.path("sparse.tms")
        with open(path, "wb") as fp:
            fp.truncate(10 * 1024 ** 3)
        self.assert_one_error(self.run_main([path], limit_memory=True), path,
                              ": not a snapshot file (neither the compact format nor a pickle")

    def write_snapshot(self, name, format="compact"):
        path = self.path(name)
        tracemalloc.Snapshot({"/a.py": {1: (10, 1)}}, "2013-03-04 01:00:55", 1).dump(
            path, format)
        return path

    def test_growing_file(self):
        # A valid snapshot that a writer extends (sparse zeros: no disk space) as long as the
        # child runs, faster than any reader: the file's size at open bounds what is read.
        path = self.write_snapshot("growing.tms")
        size = os.path.getsize(path)
        stop = threading.Event()
        fd = os.open(path, os.O_WRONLY)
        step = 256 * 1024 ** 2

        def grow():
            end = size
            while not stop.is_set() and end < 2 ** 40:
                end += step
                try:
                    os.ftruncate(fd, end)
                except OSError:  # EFBIG: the file system's maximum size
                    break
                stop.wait(0.005)
        os.ftruncate(fd, size + 4 * step)  # already larger than the memory limit
        thread = threading.Thread(target=grow)
        thread.start()
        try:
            result = self.run_main([path], limit_memory=True)
        finally:
            stop.set()
            thread.join()
            os.close(fd)
        self.assert_one_error(result, path, "bytes of garbage after the data)")

    def test_size_understated(self):
        # A file whose size says 0 bytes but that has some (procfs): more than its size
        # follows, as with a file growing while it is read.
        path = "/proc/sys/kernel/pid_max"
        if not os.path.exists(path) or os.path.getsize(path) != 0:
            self.skipTest("no procfs (Linux)")
        self.assert_one_error(self.run_main([path]), path,
                              ": the file grew while being read (more than its 0 bytes)")

    def test_pipe_holding_a_snapshot(self):
        # bash: python -m tracemalloc <(cat snapshot): a path /dev/fd/N of a pipe
        if not os.path.exists("/dev/fd"):
            self.skipTest("no /dev/fd")
        for fmt in ("compact", "pickle"):
            path = self.write_snapshot("snap." + fmt, fmt)
            with open(path, "rb") as fp:
                data = fp.read()
            read_fd, write_fd = os.pipe()
            # only the read end goes to the child: the write end there would be a writer
            # that never closes
            fcntl.fcntl(write_fd, fcntl.F_SETFD,
                        fcntl.fcntl(write_fd, fcntl.F_GETFD) | fcntl.FD_CLOEXEC)
            kwargs = {"close_fds": False} if tmsupport.PY2 else {"pass_fds": (read_fd,)}

            def write():
                with os.fdopen(write_fd, "wb") as fp:
                    fp.write(data)
            writer = threading.Thread(target=write)
            writer.start()
            try:
                code, out, err = self.run_main(["/dev/fd/%d" % read_fd], **kwargs)
            finally:
                os.close(read_fd)
                writer.join()
            self.assertEqual(code, 0, err)
            self.assertNotIn("Traceback", err)
            self.assertIn("#1: /a.py: size=10 B, count=1, average=10 B", out)


# Run as the file whose name is tested: allocates, displays the top and the traceback of an
# object to stdout (an ASCII stream), writes a snapshot into sys.argv[1].
NAMED_SCRIPT = """\
from __future__ import print_function
import sys
import tracemalloc
tracemalloc.start(5)
data = [object() for index in range(5000)]  # the allocating line: 5
top = tracemalloc.DisplayTop(3, group_per_file=False)
top.filename_parts = 1
top.display_snapshot(tracemalloc.take_snapshot())
lines = tracemalloc.get_object_traceback(data[0]).format()
print(repr(lines) if sys.version_info[0] < 3 else ascii(lines))
tracemalloc.take_snapshot().write(sys.argv[1])
"""


class NonAsciiFilenameTests(unittest.TestCase):
    """Code run from a file whose name is not ASCII, or not even UTF-8: the top, the traceback
    and the command line displaying its snapshot, to a stdout that only takes ASCII."""

    def setUp(self):
        self.tmpdir = tempfile.mkdtemp(prefix="tracemalloc-test-")

    def tearDown(self):
        shutil.rmtree(self.tmpdir)

    def native_name(self, raw):
        """The native str of the file name made of the bytes *raw* (UTF-8 or not)."""
        if tmsupport.PY2:
            return raw
        return raw.decode(sys.getfilesystemencoding(), "surrogateescape")

    def escaped(self, name):
        """How the name must look in the output of the child: Python 2 writes the bytes as
        they are; Python 3 escapes what ASCII cannot hold (a byte that is not UTF-8, which
        it decoded to U+DC80..U+DCFF, as that byte: \\xNN)."""
        if tmsupport.PY2:
            return name
        return "".join(char if ord(char) < 128 else "\\x%02x" % (ord(char) - 0xdc00)
                       if 0xdc80 <= ord(char) <= 0xdcff else
                       "\\x%02x" % ord(char) if ord(char) < 256 else "\\u%04x" % ord(char)
                       for char in name)

    def check_name(self, raw):
        if not tmsupport.PY2 and sys.getfilesystemencoding().lower() not in ("utf-8", "utf8"):
            self.skipTest("the file system encoding is %s, not UTF-8"
                          % sys.getfilesystemencoding())
        tmsupport.require(self, not tmsupport.USING_FAKE_ENGINE, tmsupport.SKIP_REASON)
        name = self.native_name(raw)
        script = os.path.join(self.tmpdir, name)
        with open(script, "w") as fp:
            fp.write(NAMED_SCRIPT)
        snap = os.path.join(self.tmpdir, "snap.tms")
        env = tmsupport.child_env(PYTHONIOENCODING="ascii:strict")
        code, out, err = tmsupport.run_python([script, snap], env=env, timeout=CHILD_TIMEOUT)
        self.assertEqual((code, err), (0, ""))
        escaped = self.escaped(name)
        self.assertIn("#1: .../%s:5: size=" % escaped, out)
        # the traceback's lines hold the name and the line of source read from the file
        self.assertIn("data = [object() for index in range(5000)]", out)
        to_ascii = repr if tmsupport.PY2 else ascii  # noqa: F821 (Python 3 only)
        self.assertIn(to_ascii('  File "%s", line 5' % script)[1:-1], out)

        code, out, err = tmsupport.run_python(["-m", "tracemalloc", "-l", "-P", "1", snap],
                                              env=env, timeout=CHILD_TIMEOUT)
        self.assertEqual((code, err), (0, ""))
        # (the snapshot written last holds the allocations of the first one)
        self.assertIn(": .../%s:5: size=" % escaped, out)

    def test_unicode_names_of_a_snapshot(self):
        # A snapshot made by hand (or loaded from a file of Python 3) has names of type
        # unicode on Python 2: displayed to a pipe whose encoding is ASCII, then written,
        # loaded and displayed by the command line.
        tmsupport.require(self, not tmsupport.USING_FAKE_ENGINE, tmsupport.SKIP_REASON)
        snap = os.path.join(self.tmpdir, "snap.tms")
        code = ("import sys, tracemalloc\n"
                "names = [u'/d\\xe9j\\xe0.py', u'/caf\\udce9.py', u'/\\u20ac.py']\n"
                "stats = dict((name, {1: (10 * (1 + i), 1)}) for i, name in enumerate(names))\n"
                "tracemalloc.DisplayTop(3).display_snapshot(tracemalloc.Snapshot(stats, 't'))\n"
                "tracemalloc.Snapshot(stats, 't').write(sys.argv[1])\n")
        env = tmsupport.child_env(PYTHONIOENCODING="ascii:strict")
        results = [tmsupport.run_python(["-c", code, snap], env=env, timeout=CHILD_TIMEOUT),
                   tmsupport.run_python(["-m", "tracemalloc", snap], env=env,
                                        timeout=CHILD_TIMEOUT)]
        for code, out, err in results:
            self.assertEqual((code, err), (0, ""))
            if tmsupport.PY2:
                # as the native str of the other names: UTF-8, a surrogate as its byte
                expected = [u"/d\xe9j\xe0.py".encode("utf-8"), "/caf\xe9.py",
                            u"/\u20ac.py".encode("utf-8")]
            else:
                expected = ["/d\\xe9j\\xe0.py", "/caf\\xe9.py", "/\\u20ac.py"]
            self.assertEqual([line.split(": ")[1] for line in out.splitlines()[1:4]],
                             expected[::-1])

    def test_non_ascii_name(self):
        self.check_name(u"d\xe9j\xe0.py".encode("utf-8"))

    def test_non_utf8_name(self):
        self.check_name(b"caf\xe9.py")


if __name__ == "__main__":
    unittest.main()
