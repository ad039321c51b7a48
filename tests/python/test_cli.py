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
                     "example:", "NO_COLOR", "--traceback", "--cumulative", "--json", "--peak",
                     "needs snapshots with traces", "progress line"):
            self.assertIn(text, out)


# Raw traces (domain, size, frames most recent first, total_nframe) of two snapshots: from
# the first to the second, the list built by main.py:5 through b.py:10 grows, a.py:20
# called from main.py:7 appears, c.py:1 goes.
MAIN = LIB + "/app/main.py"
A = LIB + "/app/a.py"
C = LIB + "/app/c.py"
TRACES1 = [
    (0, 1000, ((A, 10), (MAIN, 5)), 2),
    (0, 1000, ((A, 10), (MAIN, 5)), 2),
    (0, 300, ((A, 10), (MAIN, 6)), 2),
    (0, 64, ((C, 1),), 1),
]
TRACES2 = [
    (0, 1000, ((A, 10), (MAIN, 5)), 2),
    (0, 1000, ((A, 10), (MAIN, 5)), 2),
    (0, 3000, ((A, 10), (MAIN, 5)), 2),
    (0, 300, ((A, 10), (MAIN, 6)), 2),
    (0, 500, ((A, 20), (MAIN, 7)), 2),
]


class TracesCliTests(CliTests):
    """--traceback, --cumulative and --json on snapshots with traces, and what they need."""

    def setUp(self):
        CliTests.setUp(self)
        self.traces1 = self.write_traces("traces1.tms", TRACES1, "2013-03-04 01:00:55")
        self.traces2 = self.write_traces("traces2.tms", TRACES2, "2013-03-04 01:01:55")

    def write_traces(self, name, traces, timestamp, pid=1234):
        path = self.path(name)
        tracemalloc.Snapshot(traces, 2, timestamp=timestamp, pid=pid).write(path)
        return path

    def test_traceback(self):
        status, out, err = self.run_cli("--traceback", "-P", "2", self.traces1, self.traces2)
        self.assertEqual((status, err), (0, ""))
        self.assertEqual(out, (
            "%s (2013-03-04 01:00:55): Top 3 allocations per traceback\n"
            "#1: .../app/a.py:10: size=2000 B, count=2, average=1000 B\n"
            "    .../app/main.py:5\n"
            "#2: .../app/a.py:10: size=300 B, count=1, average=300 B\n"
            "    .../app/main.py:6\n"
            "#3: .../app/c.py:1: size=64 B, count=1, average=64 B\n"
            "Total Python memory: size=2364 B, count=4, average=591 B\n"
            "\n"
            "%s (2013-03-04 01:01:55): Top 4 allocations per traceback (compared to %s)\n"
            "#1: .../app/a.py:10: size=5000 B (+3000 B), count=3 (+1), average=1666 B\n"
            "    .../app/main.py:5\n"
            "#2: .../app/a.py:20: size=500 B (+500 B), count=1 (+1), average=500 B\n"
            "    .../app/main.py:7\n"
            "#3: .../app/c.py:1: size=0 B (-64 B), count=0 (-1)\n"
            "#4: .../app/a.py:10: size=300 B (+0 B), count=1 (+0), average=300 B\n"
            "    .../app/main.py:6\n"
            "Total Python memory: size=5800 B (+3436 B), count=5 (+1), average=1160 B\n"
            "\n") % (self.traces1, self.traces2, self.traces1))

    def test_cumulative(self):
        status, out, err = self.run_cli("--cumulative", "-l", "-n", "2", "-P", "2",
                                        self.traces2)
        self.assertEqual((status, err), (0, ""))
        # every frame counts: main.py:5 holds the 5000 B it called a.py:10 for
        self.assertEqual(out.splitlines(), [
            "%s (2013-03-04 01:01:55): Top 2 allocations per file and line (cumulative)"
            % self.traces2,
            "#1: .../app/a.py:10: size=5300 B, count=4, average=1325 B",
            "#2: .../app/main.py:5: size=5000 B, count=3, average=1666 B",
            "3 more",  # no sums: an allocation is in several entries
            "Total Python memory: size=5800 B, count=5, average=1160 B",  # counted once
            ""])
        status, out, err = self.run_cli("--cumulative", "-P", "2", self.traces1, self.traces2)
        self.assertEqual((status, err), (0, ""))
        lines = out.splitlines()
        second = lines.index([line for line in lines if "compared to" in line][0])
        self.assertEqual(lines[second:], [
            "%s (2013-03-04 01:01:55): Top 3 allocations per file (cumulative) (compared to %s)"
            % (self.traces2, self.traces1),
            "#1: .../app/a.py: size=5800 B (+3500 B), count=5 (+2), average=1160 B",
            "#2: .../app/main.py: size=5800 B (+3500 B), count=5 (+2), average=1160 B",
            "#3: .../app/c.py: size=0 B (-64 B), count=0 (-1)",
            "Total Python memory: size=5800 B (+3436 B), count=5 (+1), average=1160 B",
            ""])

    def test_options_need_traces(self):
        # a snapshot of statistics only cannot serve --traceback or --cumulative: a usage
        # error naming the file, what it lacks and how to get it, before any output
        for option in ("--traceback", "--cumulative"):
            for args in ([option, self.traces1, self.snap1],
                         [option, "--json", self.snap1, self.traces1]):
                status, out, err = self.run_cli(*args)
                self.assertEqual((status, out), (2, ""), args)
                self.assertEqual(err.count("\n"), 1, err)
                self.assertTrue(err.startswith(ERROR + self.snap1 + ": " + option
                                               + " needs the traces"), err)
                self.assertIn("TakeSnapshot.traces = True", err)
        # not both at once (argparse)
        status, out, err = self.run_cli("--traceback", "--cumulative", self.traces1)
        self.assertEqual(status, 2)
        self.assertIn("not allowed with argument", err)

    def test_domain(self):
        # --domain keeps the traces of its domains only: by name (python, native) or number
        native = tracemalloc.NATIVE_DOMAIN
        traces = [(0, 100, (("app/a.py", 1),)), (native, 8000, (("app/a.py", 2),)),
                  (389047, 640, (("app/b.py", 3),)), (native, 2000, (("app/c.py", 4),))]
        path = self.write_traces("domains.tms", traces, "2013-03-04 01:00:55")

        def top(*domains):
            args = ["-l", "-P", "2"]
            for domain in domains:
                args += ["--domain", domain]
            status, out, err = self.run_cli(*(args + [path]))
            self.assertEqual((status, err), (0, ""), domains)
            return [line for line in out.splitlines() if line.startswith(("#", "Total"))]

        self.assertEqual(top("native"), [
            "#1: app/a.py:2: size=8000 B, count=1, average=8000 B",
            "#2: app/c.py:4: size=2000 B, count=1, average=2000 B",
            "Total Python memory: size=10000 B, count=2, average=5000 B"])
        self.assertEqual(top("python"), [
            "#1: app/a.py:1: size=100 B, count=1, average=100 B",
            "Total Python memory: size=100 B, count=1, average=100 B"])
        self.assertEqual(top("389047", "PYTHON"), top("0x5efb7", "0"))
        self.assertEqual(len(top("389047", "python")), 3)
        self.assertEqual(len(top()), 5)  # every domain
        # a bad domain: a usage error; a snapshot without traces cannot serve it; --leaks
        # and --html do not take it
        for value in ("bogus", "-1", "0x100000000"):
            status, out, err = self.run_cli("--domain", value, path)
            self.assertEqual((status, out), (2, ""), value)
            self.assertIn("argument --domain: not a domain", err)
        status, out, err = self.run_cli("--domain", "native", path, self.snap1)
        self.assertEqual((status, out), (2, ""))
        self.assertTrue(err.startswith(ERROR + self.snap1 + ": --domain needs the traces"),
                        err)
        status, out, err = self.run_cli("--domain", "native", "--leaks", path, path, path)
        self.assertEqual(status, 2)
        self.assertIn("--domain does not apply to --leaks", err)

    def json_of(self, *args):
        import json
        status, out, err = self.run_cli(*(("--json",) + args))
        self.assertEqual((status, err), (0, ""))
        self.assertTrue(out.endswith("}\n"), out)
        return json.loads(out)

    def test_json_per_file(self):
        path = self.write_snapshot(
            "meta.tms", {LIB + "/a/b.py": {10: (15360, 15)}}, "2013-03-04 01:03:55",
            pid=5678, process_memory=10 * 1024 ** 2, tracemalloc_memory=23 * 1024,
            user_data=[("Video memory", "size", 234902)])
        document = self.json_of("-n", "2", self.snap1, self.snap2, path)
        self.assertEqual(
            dict((key, value) for key, value in document.items() if key != "snapshots"),
            {"format": "pytracemalloc.top", "version": 1, "group_by": "filename",
             "cumulative": False, "compare_to": "previous", "number": 2, "peak": False})
        first, second, third = document["snapshots"]
        self.assertEqual(first, {
            "file": self.snap1, "compared_to": None,
            "metadata": {"timestamp": "2013-03-04 01:00:55", "pid": 1234,
                         "process_memory": None, "tracemalloc_memory": None,
                         "traceback_limit": None, "lost_traces": None,
                         "freelist_memory": None, "has_traces": False, "peak": False,
                         "sample_bytes": 0, "user_data": [], "memory_breakdown": None},
            "warnings": [],
            "top": [{"filename": LIB + "/a/b.py", "lineno": None, "size": 10740,
                     "count": 15, "size_diff": None, "count_diff": None},
                    {"filename": LIB + "/c.py", "lineno": None, "size": 2048, "count": 2,
                     "size_diff": None, "count_diff": None}],
            "other": {"entries": 1, "size": 32, "count": 1, "size_diff": None,
                      "count_diff": None},
            "total": {"size": 12820, "count": 18, "size_diff": None, "count_diff": None}})
        # compared to the previous one: the order of the text top, a file gone has size 0
        self.assertEqual(second["compared_to"], self.snap1)
        self.assertEqual(second["top"], [
            {"filename": LIB + "/a/b.py", "lineno": None, "size": 20980, "count": 25,
             "size_diff": 10240, "count_diff": 10},
            {"filename": LIB + "/c.py", "lineno": None, "size": 0, "count": 0,
             "size_diff": -2048, "count_diff": -2}])
        self.assertEqual(second["other"], {"entries": 2, "size": 132, "count": 2,
                                           "size_diff": 100, "count_diff": 1})
        self.assertEqual(second["total"], {"size": 21112, "count": 27, "size_diff": 8292,
                                           "count_diff": 9})
        self.assertEqual(third["warnings"], [
            "WARNING: %s (pid 5678) and %s (pid 1234) come from different processes"
            % (path, self.snap2)])
        self.assertEqual(third["metadata"]["process_memory"], 10 * 1024 ** 2)
        self.assertEqual(third["metadata"]["tracemalloc_memory"], 23 * 1024)
        self.assertEqual(third["metadata"]["user_data"],
                         [{"title": "Video memory", "format": "size", "value": 234902}])
        # --first: every snapshot compared to the first one
        document = self.json_of("--first", "-l", "-n", "1", self.snap1, self.snap2, self.snap3)
        self.assertEqual(document["compare_to"], "first")
        self.assertEqual(document["group_by"], "lineno")
        self.assertEqual([item["compared_to"] for item in document["snapshots"]],
                         [None, self.snap1, self.snap1])
        self.assertEqual(document["snapshots"][2]["top"], [
            {"filename": LIB + "/a/b.py", "lineno": 10, "size": 30720, "count": 30,
             "size_diff": 20480, "count_diff": 20}])

    def test_json_traces(self):
        document = self.json_of("--traceback", "-n", "1", self.traces1, self.traces2)
        self.assertEqual(document["group_by"], "traceback")
        second = document["snapshots"][1]
        self.assertEqual(second["top"], [
            {"filename": A, "lineno": 10, "size": 5000, "count": 3, "size_diff": 3000,
             "count_diff": 1,
             "traceback": [{"filename": A, "lineno": 10}, {"filename": MAIN, "lineno": 5}]}])
        self.assertEqual(second["metadata"]["has_traces"], True)
        self.assertEqual(second["metadata"]["traceback_limit"], 2)
        document = self.json_of("--cumulative", "-l", "-n", "1", self.traces2)
        self.assertTrue(document["cumulative"])
        only = document["snapshots"][0]
        self.assertEqual(only["top"], [{"filename": A, "lineno": 10, "size": 5300, "count": 4,
                                        "size_diff": None, "count_diff": None}])
        self.assertEqual(only["other"], {"entries": 4, "size": None, "count": None,
                                         "size_diff": None, "count_diff": None})
        self.assertEqual(only["total"], {"size": 5800, "count": 5, "size_diff": None,
                                         "count_diff": None})

    def test_json_lost_traces_and_filters(self):
        snapshot = tracemalloc.Snapshot({LIB + "/a.py": {1: (10, 1)}, LIB + "/b.py": {2: (5, 1)}},
                                        "2013-03-04 01:00:55", 1234)
        snapshot.lost_traces = 3
        snapshot.freelist_memory = (4096, 12)
        path = self.path("lost.tms")
        snapshot.write(path)
        document = self.json_of("--exclude", "*/b.py", path)
        only = document["snapshots"][0]
        self.assertEqual(only["warnings"], ["WARNING: 3 traces were lost for lack of memory: "
                                            "the statistics below are incomplete"])
        self.assertEqual(only["metadata"]["lost_traces"], 3)
        self.assertEqual(only["metadata"]["freelist_memory"], {"size": 4096, "count": 12})
        self.assertEqual([item["filename"] for item in only["top"]], [LIB + "/a.py"])

    def test_json_file_names_not_utf8(self):
        # a byte that is not UTF-8 is written as U+DC80 + byte by Python 2 and 3 alike
        if tmsupport.PY2:
            name = "/caf\xe9/d\xc3\xa9j\xc3\xa0.py"
        else:
            name = "/caf\udce9/d\xe9j\xe0.py"
        path = self.write_snapshot("names.tms", {name: {1: (10, 1)}}, "2013-03-04 01:00:55")
        status, out, err = self.run_cli("--json", path)
        self.assertEqual((status, err), (0, ""))
        self.assertIn('"filename": "/caf\\udce9/d\\u00e9j\\u00e0.py"', out)
        out.encode("ascii")  # ASCII only: any stdout can take it

    def test_json_errors(self):
        missing = self.path("missing.tms")
        self.assert_error(["--json", self.snap1, missing],
                          missing + ": cannot read the file: No such file or directory")

    def write_peak(self, name, timestamp, groups, traces=True, pid=1234):
        """A snapshot file of TRACES1 holding a peak of *groups*, (domain, size, count,
        frames, total_nframe), as TakeSnapshot(peak=True) writes them."""
        snapshot = tracemalloc.Snapshot(TRACES1, 2, timestamp=timestamp, pid=pid)
        stats = {}
        for domain, size, count, frames, total_nframe in groups:
            old = stats.setdefault(frames[0][0], {}).get(frames[0][1], (0, 0))
            stats[frames[0][0]][frames[0][1]] = (old[0] + size, old[1] + count)
        snapshot.peak_stats = stats
        if traces:
            snapshot.peak_traces = groups
        path = self.path(name)
        snapshot.write(path)
        return path

    def test_peak(self):
        peak1 = self.write_peak("peak1.tms", "2013-03-04 01:00:55", [
            (0, 9000, 3, ((A, 10), (MAIN, 5)), 2), (0, 64, 1, ((C, 1),), 1)])
        peak2 = self.write_peak("peak2.tms", "2013-03-04 01:01:55", [
            (0, 9300, 4, ((A, 10), (MAIN, 5)), 2), (0, 700, 7, ((A, 20), (MAIN, 7)), 2)])
        status, out, err = self.run_cli("--peak", "-l", "-P", "2", peak1, peak2)
        self.assertEqual((status, err), (0, ""))
        self.assertEqual(out, (
            "%s (2013-03-04 01:00:55): Top 2 allocations per file and line at the peak\n"
            "#1: .../app/a.py:10: size=9000 B, count=3, average=3000 B\n"
            "#2: .../app/c.py:1: size=64 B, count=1, average=64 B\n"
            "Total Python memory: size=9064 B, count=4, average=2266 B\n"
            "\n"
            "%s (2013-03-04 01:01:55): Top 3 allocations per file and line at the peak "
            "(compared to %s)\n"
            "#1: .../app/a.py:20: size=700 B (+700 B), count=7 (+7), average=100 B\n"
            "#2: .../app/a.py:10: size=9300 B (+300 B), count=4 (+1), average=2325 B\n"
            "#3: .../app/c.py:1: size=0 B (-64 B), count=0 (-1)\n"
            "Total Python memory: size=10000 B (+936 B), count=11 (+7), average=909 B\n"
            "\n") % (peak1, peak2, peak1))
        # the peak's traces serve --traceback, and --json says it is the peak
        status, out, err = self.run_cli("--peak", "--traceback", "-n", "1", "-P", "2", peak2)
        self.assertEqual(out.splitlines()[1:3], [
            "#1: .../app/a.py:10: size=9300 B, count=4, average=2325 B",
            "    .../app/main.py:5"])
        document = self.json_of("--peak", "--cumulative", "-n", "1", peak1, peak2)
        self.assertTrue(document["peak"])
        self.assertEqual([item["metadata"]["peak"] for item in document["snapshots"]],
                         [True, True])
        self.assertEqual(document["snapshots"][1]["top"], [
            {"filename": A, "lineno": None, "size": 10000, "count": 11, "size_diff": 1000,
             "count_diff": 8}])
        self.assertEqual(document["snapshots"][1]["total"], {
            "size": 10000, "count": 11, "size_diff": 936, "count_diff": 7})
        self.assertFalse(self.json_of(self.traces1)["peak"])

    def test_peak_needed(self):
        # a file without a peak, a peak without traces for --traceback: usage errors naming
        # the file and what to write
        stats_peak = self.write_peak("stats-peak.tms", "2013-03-04 01:00:55",
                                     [(0, 9000, 3, ((A, 10), (MAIN, 5)), 2)], traces=False)
        peak = self.write_peak("peak.tms", "2013-03-04 01:00:55",
                               [(0, 9000, 3, ((A, 10), (MAIN, 5)), 2)])
        for args, message in [
                (["--peak", peak, self.traces1],
                 self.traces1 + ": --peak needs the peak of traced memory recorded in the "
                 "file, and this snapshot holds none (write snapshots with TakeSnapshot.peak "
                 "= True)"),
                (["--peak", "--json", self.snap1], self.snap1 + ": --peak needs the peak"),
                (["--peak", "--cumulative", peak, stats_peak],
                 stats_peak + ": --cumulative needs the traces of the allocations, and the "
                 "peak recorded in this snapshot holds statistics per line only (write "
                 "snapshots with TakeSnapshot.peak = True and TakeSnapshot.traces = True)")]:
            status, out, err = self.run_cli(*args)
            self.assertEqual((status, out), (2, ""), args)
            self.assertEqual(err.count("\n"), 1, err)
            self.assertTrue(err.startswith(ERROR + message), err)
        # without --traceback, a peak per line is enough
        status, out, err = self.run_cli("--peak", "-l", stats_peak)
        self.assertEqual((status, err), (0, ""))
        self.assertIn("/app/a.py:10: size=9000 B, count=3, average=3000 B", out)

    def test_progress_line(self):
        # on a terminal, a line tells which file is loading once loading lasts, and is
        # erased; never in a pipe (the other tests check that stderr stays empty)
        class Terminal(tmsupport.text_stream().__class__):
            def isatty(self):
                return True

        saved = tracemalloc._cli.PROGRESS_DELAY, sys.stderr
        tracemalloc._cli.PROGRESS_DELAY = 0  # a step shows at once
        sys.stderr = Terminal()
        try:
            with tmsupport.captured("stdout") as stdout:
                status = cli.main([self.snap1, self.snap2])
            err = sys.stderr.getvalue()
            sys.stderr = Terminal()
            missing = self.path("missing.tms")
            with tmsupport.captured("stdout"):
                error_status = cli.main([self.snap1, missing])
            error_err = sys.stderr.getvalue()
        finally:
            tracemalloc._cli.PROGRESS_DELAY, sys.stderr = saved
        self.assertEqual(status, 0)
        self.assertIn("Top 3 allocations", stdout.getvalue())
        clear = "\r\x1b[K"
        self.assertEqual(err, clear + "python -m tracemalloc: loading 1/2: " + self.snap1
                         + clear + "python -m tracemalloc: loading 2/2: " + self.snap2
                         + clear)
        # erased before the error line, which stays alone on its line
        self.assertEqual(error_status, 1)
        self.assertTrue(error_err.endswith(clear + ERROR + missing + ": cannot read the file: "
                                           "No such file or directory\n"), error_err)

    def test_progress_waits(self):
        # a quick load prints nothing, even on a terminal; a large file shows it at once
        stream = tmsupport.text_stream()
        stream.isatty = lambda: True
        now = [100.0]
        progress = tracemalloc._output._Progress(stream, delay=0.5, clock=lambda: now[0])
        progress.step("one")
        now[0] += 0.4
        progress.step("two")
        self.assertEqual(stream.getvalue(), "")
        progress.step("big", long_step=True)
        now[0] += 0.2
        progress.step("four")
        progress.done()
        self.assertEqual(stream.getvalue(), "\r\x1b[Kbig\r\x1b[Kfour\r\x1b[K")
        quiet = tmsupport.text_stream()
        progress = tracemalloc._output._Progress(quiet, delay=0)
        progress.step("pipe", long_step=True)
        progress.done()
        self.assertEqual(quiet.getvalue(), "")


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

    def test_json_and_needs_traces(self):
        import json
        path = os.path.join(self.tmpdir, "snap.tms")
        tracemalloc.Snapshot({"/a.py": {1: (10, 1)}}, "2013-03-04 01:00:55", 1).write(path)
        code, out, err = self.run_main("--json", path)
        self.assertEqual(code, 0, err)
        self.assertEqual(json.loads(out)["snapshots"][0]["top"][0]["size"], 10)
        code, out, err = self.run_main("--cumulative", path)
        self.assertEqual((code, out), (2, ""))
        err_lines = [line for line in err.splitlines() if not line.startswith("tests: ")]
        self.assertEqual(len(err_lines), 1, err)
        self.assertTrue(err_lines[0].startswith(ERROR + path + ": --cumulative needs the "
                                                "traces"), err)


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
            if tmsupport.address_sanitizer():
                self.skipTest(tmsupport.ASAN_SKIP_REASON)
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
