"""Tests of ``python -m tracemalloc.process_tree`` (tracemalloc/process_tree.py) and of its
readers of processes (tracemalloc/_proctree.py), from /proc and from psutil.

The main test runs a parent with three children that allocate 20, 40 and 60 MiB, hold it
until the test lets them go, one by one, and reads what the command reports, in its table
and in its JSON lines: each child with its amount, and each leaving. The test decides when
the children exit by watching the JSON lines as they come, so no test depends on timing.

psutil is taken from the interpreter's own path, else from Debian's python3-psutil
(/usr/lib/python3/dist-packages) when Debian's python3 is this version (3.11 on Debian 12):
its modules then run on the interpreter under test. Elsewhere (2.7, 3.13 on Debian 12) the
tests of the psutil source skip: tests/expected-skips lists them. The /proc source is tested
on every interpreter (these tests need Linux, the system the project supports).
"""
from __future__ import absolute_import

import errno
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "support"))
import tmsupport  # noqa: E402 (must come first: chooses the package and the engine)
from tracemalloc import _proctree  # noqa: E402

# The command runs in a child interpreter, which imports the package with its engine.
needs_engine = unittest.skipIf(tmsupport.USING_FAKE_ENGINE, tmsupport.SKIP_REASON)

DEBIAN_DIST_PACKAGES = tmsupport.DEBIAN_DIST_PACKAGES
MIB = 1024 * 1024
SIZES = (20, 40, 60)  # MiB, one child each
# How long the test waits for what it waits for before it fails (never reached when the
# command works: the wait ends as soon as the JSON shows it).
DEADLINE = 120

NO_PSUTIL = ("psutil is not importable by this interpreter (Debian's python3-psutil serves "
             "its python3 only: 3.11 on Debian 12)")

# The tolerance of the amounts. The children run the same program; they differ only in the
# size of one bytes object, which b"x" * n fills, so that every page of it is resident. Their
# RSS (and USS) then differ by that size, give or take the rounding of its mapping to pages
# and the pages of the interpreter's files that one child touched and another did not
# (measured on 2.7, 3.11 and 3.13: within 170 KiB for the RSS, 40 KiB for the USS). 1 MiB
# is a twentieth of the smallest difference (20 MiB): a tool that mixed the children up, or
# read another process, fails.
TOLERANCE = 1 * MIB
# What a child holds beside its bytes object: the interpreter (RSS 7.4 to 11.4 MiB, USS 3.4
# to 4.8 MiB measured on 2.7, 3.11 and 3.13). Bounded at 32 MiB, above which a child would
# also hold another child's amount.
BASELINE_MAX = 32 * MIB

WORKLOAD = textwrap.dedent("""\
    import os
    import subprocess
    import sys
    import time

    SIZES = (20, 40, 60)


    def child(directory, index, size):
        data = b"x" * (size * 1024 * 1024)  # every page written: resident
        open(os.path.join(directory, "ready-%d" % index), "w").close()
        while not os.path.exists(os.path.join(directory, "exit-%d" % index)):
            time.sleep(0.02)
        sys.exit(0 if len(data) == size * 1024 * 1024 else 1)


    def parent(directory):
        children = [subprocess.Popen([sys.executable, __file__, "child", directory,
                                      str(index), str(size)])
                    for index, size in enumerate(SIZES)]
        codes = [process.wait() for process in children]
        sys.exit(3 if codes == [0, 0, 0] else 4)


    if sys.argv[1] == "child":
        child(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        parent(sys.argv[2])
""")

def psutil_env():
    """The environment of a child that imports psutil and this package, or None."""
    return tmsupport.debian_module_env(
        "psutil", "import psutil, tracemalloc; psutil.Process().memory_full_info()")


def import_psutil():
    """The psutil module in this process (found as psutil_env() finds it), or None."""
    env = psutil_env()
    if env is None:
        return None
    added = DEBIAN_DIST_PACKAGES in env["PYTHONPATH"].split(os.pathsep)
    if added:
        sys.path.append(DEBIAN_DIST_PACKAGES)  # last: nothing else is taken from there
    try:
        import psutil
    finally:
        if added:
            sys.path.remove(DEBIAN_DIST_PACKAGES)
    return psutil


def command(args):
    return ["-m", "tracemalloc.process_tree"] + list(args)


def start_python(args, env=None, **kwargs):
    """Popen of the interpreter under test, SIGINT at its default (the test may run with
    SIGINT ignored, which a child would inherit)."""
    def default_sigint():
        signal.signal(signal.SIGINT, signal.SIG_DFL)
    return subprocess.Popen([sys.executable] + list(args),
                            env=env if env is not None else tmsupport.child_env(),
                            preexec_fn=default_sigint, **kwargs)


def read_records(path):
    """The complete JSON lines of *path* (a line still being written is left out)."""
    try:
        with open(path) as fp:
            text = fp.read()
    except IOError as exc:
        if exc.errno == errno.ENOENT:
            return []
        raise
    return [json.loads(line) for line in text.split("\n")[:-1]]


def samples_of(records):
    return [record for record in records if record["record"] == "sample"]


def child_index(process, directory):
    """The index of a child of the workload (0, 1, 2), or None for the parent."""
    cmdline = process["cmdline"]
    if len(cmdline) >= 4 and cmdline[-4:-2] == ["child", directory]:
        return int(cmdline[-2])
    return None


class WaitMixin(object):
    def wait_for(self, condition, what, process=None):
        """Poll *condition* until it is true; fail after DEADLINE seconds or if *process*
        ended meanwhile."""
        deadline = time.time() + DEADLINE
        while not condition():
            if process is not None and process.poll() is not None:
                self.fail("process_tree ended (status %s) before %s" % (process.returncode,
                                                                        what))
            if time.time() > deadline:
                self.fail("no %s after %d s" % (what, DEADLINE))
            time.sleep(0.05)


class ChildrenTests(WaitMixin):
    """The parent and its three children, from one source (the subclasses')."""

    source = None

    def env(self):
        return tmsupport.child_env()

    def setUp(self):
        self.tmpdir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.tmpdir)
        self.script = os.path.join(self.tmpdir, "workload.py")
        with open(self.script, "w") as fp:
            fp.write(WORKLOAD)
        self.json_path = os.path.join(self.tmpdir, "tree.jsonl")

    def release(self, index):
        open(os.path.join(self.tmpdir, "exit-%d" % index), "w").close()

    def run_workload(self):
        """Run the command on the workload; return (status, stdout, stderr, records, hold):
        *hold* the indexes of the samples taken while the three children held their
        memory."""
        out_path = os.path.join(self.tmpdir, "out.txt")
        err_path = os.path.join(self.tmpdir, "err.txt")
        with open(out_path, "w") as out, open(err_path, "w") as err:
            logger = start_python(
                command(["-i", "0.1", "-u", "--cmdline", "--source", self.source,
                         "--json", self.json_path, "--", sys.executable, self.script,
                         "parent", self.tmpdir]),
                env=self.env(), stdout=out, stderr=err)
        try:
            def count():
                return len(samples_of(read_records(self.json_path)))
            ready = [os.path.join(self.tmpdir, "ready-%d" % index) for index in range(3)]
            self.wait_for(lambda: all(os.path.exists(path) for path in ready),
                          "children ready", logger)
            # the sample being taken when the last child was ready may have read it before
            first = count() + 1
            self.wait_for(lambda: count() >= first + 2, "two samples of the children",
                          logger)
            for index in range(3):
                if index == 0:
                    hold = range(first, count())  # every sample taken before the release
                self.release(index)

                def gone(index=index):
                    samples = samples_of(read_records(self.json_path))
                    pids = set(process["pid"] for sample in samples
                               for process in sample["processes"]
                               if child_index(process, self.tmpdir) == index)
                    return any(process["pid"] in pids
                               for sample in samples for process in sample["gone"])
                self.wait_for(gone, "child %d gone" % index, logger)
            self.wait_for(lambda: logger.poll() is not None, "end of process_tree")
        finally:
            if logger.poll() is None:
                logger.kill()
                logger.wait()
            for index in range(3):
                self.release(index)  # never leave a child waiting
        with open(out_path) as fp:
            stdout = fp.read()
        with open(err_path) as fp:
            stderr = fp.read()
        return logger.returncode, stdout, stderr, read_records(self.json_path), list(hold)

    def test_children_amounts_and_exits(self):
        if tmsupport.address_sanitizer():
            self.skipTest(tmsupport.ASAN_SKIP_REASON)
        status, stdout, stderr, records, hold = self.run_workload()
        self.assertEqual((status, stderr), (3, ""), stdout)  # the command's exit status
        self.assertNotIn("Traceback", stdout)
        start, summary = records[0], records[-1]
        self.assertEqual((start["record"], start["format"], start["version"]),
                         ("start", "pytracemalloc.process_tree", 1))
        self.assertEqual(start["source"], {"proc": "/proc", "psutil": "psutil"}[self.source])
        self.assertEqual(start["fields"], ["uss"])
        self.assertEqual(summary["record"], "summary")
        self.assertEqual((summary["end"], summary["exit_status"]), ("exited", 3))
        samples = samples_of(records)
        self.assertEqual([sample["index"] for sample in samples], list(range(len(samples))))
        self.assertEqual(summary["samples"], len(samples))
        root_pid = start["pid"]

        # while they hold their memory: every child, with its amount
        self.assertGreaterEqual(len(hold), 2)
        pids = {}
        for index in hold:
            sample = samples[index]
            children = {}
            for process in sample["processes"]:
                which = child_index(process, self.tmpdir)
                if which is None:
                    self.assertEqual((process["pid"], process["depth"]), (root_pid, 0))
                else:
                    self.assertEqual((process["ppid"], process["depth"]), (root_pid, 1))
                    children[which] = process
            self.assertEqual(sorted(children), [0, 1, 2], sample)
            for which, process in children.items():
                pids.setdefault(which, process["pid"])
                self.assertEqual(process["pid"], pids[which])
                for key in ("rss", "uss"):
                    self.assertGreaterEqual(process[key], SIZES[which] * MIB, (key, process))
                    self.assertLess(process[key], SIZES[which] * MIB + BASELINE_MAX,
                                    (key, process))
            for key in ("rss", "uss"):
                for small, big in ((0, 1), (0, 2), (1, 2)):
                    grown = children[big][key] - children[small][key]
                    expected = (SIZES[big] - SIZES[small]) * MIB
                    self.assertLess(abs(grown - expected), TOLERANCE,
                                    (key, small, big, grown, sample))
            self.assertEqual(sample["total"]["rss"],
                             sum(process["rss"] for process in sample["processes"]))
            self.assertEqual(sample["total"]["processes"], 4)

        # they leave one by one, in the order they were let go, and never come back
        gone_at = {}
        for sample in samples:
            for process in sample["gone"]:
                for which, pid in pids.items():
                    if process["pid"] == pid:
                        self.assertNotIn(which, gone_at)
                        gone_at[which] = sample["index"]
                if process["pid"] == root_pid:
                    gone_at["root"] = sample["index"]
        self.assertLess(gone_at[0], gone_at[1])
        self.assertLess(gone_at[1], gone_at[2])
        self.assertLessEqual(gone_at[2], gone_at["root"])
        self.assertEqual(gone_at["root"], len(samples) - 1)  # the root's exit ends the log
        self.assertEqual(samples[-1]["processes"], [])
        for which, pid in pids.items():
            later = samples[gone_at[which]:]
            self.assertEqual([s["index"] for s in later
                              if pid in [p["pid"] for p in s["processes"]]], [])

        # the summary: each child's peak, when it was seen and gone; the tree's peak
        entries = dict((entry["pid"], entry) for entry in summary["processes"])
        self.assertEqual(sorted(entries), sorted([root_pid] + list(pids.values())))
        by_time = dict((sample["index"], sample["time"]) for sample in samples)
        for which, pid in pids.items():
            entry = entries[pid]
            self.assertGreaterEqual(entry["peak_rss"], SIZES[which] * MIB)
            self.assertLess(entry["peak_rss"], SIZES[which] * MIB + BASELINE_MAX)
            self.assertGreaterEqual(entry["peak_uss"], SIZES[which] * MIB)
            self.assertEqual(entry["gone"], by_time[gone_at[which]])
            self.assertLess(entry["seen"], entry["gone"])
        self.assertEqual(entries[root_pid]["gone"], by_time[gone_at["root"]])
        peak = summary["peak"]
        self.assertGreaterEqual(peak["rss"], sum(SIZES) * MIB)
        self.assertEqual(peak["processes"], 4)
        self.assertEqual(peak["rss"], max(sample["total"]["rss"] for sample in samples))
        self.assertEqual(samples[peak["index"]]["total"]["rss"], peak["rss"])

        # the table says the same: each child's line in the summary with its peak, named by
        # its command line, a "-" line when it left, the exit status
        lines = stdout.splitlines()
        self.assertTrue(lines[0].startswith("process_tree: PID %d (" % root_pid), lines[0])
        self.assertIn("The command exited with status 3.", lines)
        summary_at = lines.index([line for line in lines if line.startswith("Summary: ")][0])
        self.assertEqual(lines[summary_at], "Summary: 4 processes in %d samples over %.2f s"
                         % (len(samples), summary["time"]))
        self.assertIn("Peak of the tree: %.1f MiB RSS at %.2f s (4 processes)"
                      % (peak["rss"] / float(MIB), peak["time"]), lines)
        for which, pid in pids.items():
            mine = [line.split() for line in lines[summary_at:]
                    if line.split()[:1] == [str(pid)]]
            self.assertEqual(len(mine), 1, lines[summary_at:])
            fields = mine[0]
            self.assertEqual(fields[1], str(root_pid))
            self.assertEqual(fields[2], "%.1f" % (entries[pid]["peak_rss"] / float(MIB)))
            self.assertEqual(fields[-3:], [self.tmpdir, str(which), str(SIZES[which])])
            leaving = [line for line in lines[:summary_at]
                       if re.match(r"^ +- +%d +%d +- " % (pid, root_pid), line)]
            self.assertEqual(len(leaving), 1, stdout)
            self.assertTrue(leaving[0].endswith(" %d %d" % (which, SIZES[which])), leaving)
        # the rows of the samples held: RSS as the JSON has it, rounded to 0.1 MiB
        blocks = [line for line in lines[:summary_at] if re.match(r"^ *\d+\.\d\d ", line)]
        self.assertEqual(len(blocks), len(samples))
        for index in hold:
            for process in samples[index]["processes"]:
                self.assertIn(" %d %7d %8.1f " % (process["pid"], process["ppid"],
                                                 process["rss"] / float(MIB)), stdout)


@needs_engine
class ProcChildrenTests(ChildrenTests, unittest.TestCase):
    source = "proc"


@needs_engine
class PsutilChildrenTests(ChildrenTests, unittest.TestCase):
    source = "psutil"

    def env(self):
        env = psutil_env()
        if env is None:
            self.skipTest(NO_PSUTIL)
        return env


class SourceTests(WaitMixin, unittest.TestCase):
    """The readers of _proctree on a real tree: a parent and a child, both blocked on
    reading their stdin (idle: their values do not change while the test reads them)."""

    TREE = textwrap.dedent("""\
        import os, subprocess, sys, time
        data = b"y" * (8 * 1024 * 1024)
        kept = open(__file__)  # an open regular file
        if sys.argv[1] == "parent":
            ready = sys.argv[2] + ".child"
            child = subprocess.Popen([sys.executable, __file__, "child", ready, "one two"],
                                     stdin=subprocess.PIPE)
            while not os.path.exists(ready):
                time.sleep(0.01)
            open(sys.argv[2], "w").close()
            sys.stdin.read()
            child.stdin.close()
            child.wait()
        else:
            open(sys.argv[2], "w").close()
            sys.stdin.read()
    """)

    def setUp(self):
        self.tmpdir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.tmpdir)
        script = os.path.join(self.tmpdir, "tree.py")
        with open(script, "w") as fp:
            fp.write(self.TREE)
        ready = os.path.join(self.tmpdir, "ready")
        self.parent = start_python([script, "parent", ready], stdin=subprocess.PIPE)
        self.addCleanup(self.stop_parent)
        self.script = script
        self.wait_for(lambda: os.path.exists(ready), "the tree ready", self.parent)

    def stop_parent(self):
        if self.parent.poll() is None:
            self.parent.stdin.close()
            self.parent.wait()

    def sample(self, source):
        """The two records of the tree, once two samples in a row are the same (both
        processes blocked on their stdin, having written their ready file)."""
        key = source.identify(self.parent.pid)
        self.assertIsNotNone(key)
        records = [None]

        def stable():
            previous, records[0] = records[0], source.sample(key)
            return (previous == records[0] and len(records[0]) == 2
                    and all(record.get("status", "sleeping") == "sleeping"
                            for record in records[0]))
        self.wait_for(stable, "a tree at rest")
        return records[0]

    def check_tree(self, records):
        parent, child = records
        self.assertEqual((parent["pid"], parent["ppid"], parent["depth"]),
                         (self.parent.pid, os.getpid(), 0))
        self.assertEqual((child["ppid"], child["depth"]), (self.parent.pid, 1))
        self.assertEqual(parent["cmdline"][1:], [self.script, "parent",
                                                 os.path.join(self.tmpdir, "ready")])
        self.assertEqual(child["cmdline"][1:], [self.script, "child",
                                                os.path.join(self.tmpdir, "ready.child"),
                                                "one two"])
        for record in records:
            self.assertEqual(record["key"][0], record["pid"])
            self.assertGreaterEqual(record["rss"], 8 * MIB)
            self.assertGreaterEqual(record["cpu"], 0)
            self.assertTrue(record["name"].startswith("python"), record["name"])

    def test_proc_tree(self):
        fields = [name for name in _proctree.FIELDS if name != "net_connections"]
        records = self.sample(_proctree.ProcSource(fields))
        self.check_tree(records)
        for record in records:
            self.assertGreaterEqual(record["uss"], 8 * MIB)
            self.assertLessEqual(record["uss"], record["rss"])
            self.assertGreater(record["page_faults"], 100)  # an interpreter's start
            self.assertLessEqual(record["major_page_faults"], record["page_faults"])
            self.assertEqual(record["threads"], 1)
            self.assertEqual(record["status"], "sleeping")
            self.assertGreater(record["ctx_switches"], 0)
            self.assertGreaterEqual(record["open_files"], 1)  # the script, kept open
            self.assertAlmostEqual(record["cpu_user"] + record["cpu_system"], record["cpu"])

    def test_proc_and_psutil_agree(self):
        psutil = import_psutil()
        if psutil is None:
            self.skipTest(NO_PSUTIL)
        fields = [name for name in _proctree.FIELDS if name != "net_connections"]
        proc_source = _proctree.ProcSource(fields)
        from_proc = self.sample(proc_source)
        from_psutil = self.sample(_proctree.PsutilSource(psutil, list(_proctree.FIELDS)))
        again = proc_source.sample(proc_source.identify(self.parent.pid))
        self.check_tree(from_psutil)
        # USS counts the pages mapped by this process alone: a page of a shared library
        # becomes private when the last other process mapping it exits (other interpreters
        # on the machine come and go), so it may move a little while the tree is at rest
        uss_slack = 1 * MIB
        for mine, theirs, later in zip(from_proc, from_psutil, again):
            self.assertEqual(theirs["net_connections"], 0)
            for key in ("pid", "ppid", "depth", "name", "cmdline", "rss", "cpu",
                        "page_faults", "major_page_faults", "cpu_user", "cpu_system",
                        "ctx_switches", "threads", "status", "open_files"):
                self.assertEqual(mine[key], theirs[key], key)
                self.assertEqual(mine[key], later[key], key)  # still at rest
            self.assertLessEqual(abs(mine["uss"] - theirs["uss"]), uss_slack)
            self.assertLessEqual(abs(mine["uss"] - later["uss"]), uss_slack)
        self.assertEqual(len(again), len(from_proc))

    def test_gone_root(self):
        source = _proctree.ProcSource()
        key = source.identify(self.parent.pid)
        self.assertIsNotNone(source.sample(key))
        # the same PID with another start time: another process
        self.assertIsNone(source.sample((key[0], key[1] + 1)))
        self.parent.stdin.close()
        self.wait_for(lambda: self.parent.poll() is not None, "the end of the tree")
        self.assertIsNone(source.sample(key))
        self.assertIsNone(source.identify(self.parent.pid))

    def test_zombie_root_is_gone(self):
        process = start_python(["-c", "pass"])
        source = _proctree.ProcSource()
        key = source.identify(process.pid)  # alive, or already a zombie
        self.assertIsNotNone(key)

        def zombie():
            stat_fields = source._stat(process.pid)
            return stat_fields is not None and stat_fields["state"] == "Z"
        try:
            self.wait_for(zombie, "a zombie")  # not reaped yet: poll() is not called
            self.assertIsNone(source.sample(key))
        finally:
            process.wait()


class FakeProcTests(unittest.TestCase):
    """ProcSource on a /proc written by the test: parsing, processes that vanish between
    the listing and the reading, values that cannot be read."""

    def setUp(self):
        self.proc = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.proc)

    def add(self, pid, ppid, comm="proc", state="S", cmdline=(b"prog",), rss_pages=10,
            start=1000):
        directory = os.path.join(self.proc, str(pid))
        os.mkdir(directory)
        fields = [state, str(ppid)] + ["0"] * 5 + ["11", "0", "2", "0", "30", "40"] + \
            ["0"] * 4 + ["3", "0", str(start), "123456", "1"] + ["0"] * 20
        with open(os.path.join(directory, "stat"), "wb") as fp:
            fp.write(("%d (%s) " % (pid, comm)).encode("utf-8") + " ".join(fields).encode())
        with open(os.path.join(directory, "statm"), "wb") as fp:
            fp.write(("100 %d 5 1 0 50 0\n" % rss_pages).encode())
        with open(os.path.join(directory, "cmdline"), "wb") as fp:
            fp.write(b"".join(arg + b"\0" for arg in cmdline))
        with open(os.path.join(directory, "status"), "wb") as fp:
            fp.write(b"Name:\tproc\nvoluntary_ctxt_switches:\t5\n"
                     b"nonvoluntary_ctxt_switches:\t2\n")
        with open(os.path.join(directory, "smaps_rollup"), "wb") as fp:
            fp.write(b"Rss: 40 kB\nPrivate_Clean: 4 kB\nPrivate_Dirty: 8 kB\n"
                     b"Private_Hugetlb: 0 kB\nShared_Clean: 28 kB\n")
        os.mkdir(os.path.join(directory, "fd"))
        return directory

    def source(self, fields=("uss", "page_faults", "cpu_times", "ctx_switches", "threads",
                             "status", "open_files")):
        return _proctree.ProcSource(fields, proc=self.proc)

    def test_tree_order_and_values(self):
        self.add(10, 1, comm="a (b) c", cmdline=(b"python", b"x y"))
        self.add(12, 10)
        self.add(11, 10, comm="kworker", cmdline=())
        self.add(13, 11, comm="z" * 15, cmdline=(b"/usr/bin/" + b"z" * 20, b"-q"))
        self.add(14, 12, state="Z")  # a zombie: exited
        self.add(15, 1)  # not in the tree
        source = self.source()
        records = source.sample(source.identify(10))
        self.assertEqual([(r["pid"], r["ppid"], r["depth"]) for r in records],
                         [(10, 1, 0), (11, 10, 1), (13, 11, 2), (12, 10, 1)])
        root = records[0]
        self.assertEqual((root["name"], root["cmdline"]), ("a (b) c", ["python", "x y"]))
        self.assertEqual((records[1]["name"], records[1]["cmdline"]), ("kworker", []))
        self.assertEqual(records[2]["name"], "z" * 20)  # completed from the command line
        page = os.sysconf("SC_PAGE_SIZE")
        ticks = float(os.sysconf("SC_CLK_TCK"))
        self.assertEqual(root["rss"], 10 * page)
        self.assertEqual(root["key"], (10, 1000))
        self.assertEqual((root["page_faults"], root["major_page_faults"]), (13, 2))
        self.assertEqual((root["cpu_user"], root["cpu_system"]), (30 / ticks, 40 / ticks))
        self.assertEqual(root["cpu"], 70 / ticks)
        self.assertEqual((root["threads"], root["status"]), (3, "sleeping"))
        self.assertEqual((root["ctx_switches"], root["uss"], root["open_files"]),
                         (7, 12 * 1024, 0))

    def test_vanished_and_unreadable(self):
        self.add(10, 1)
        self.add(11, 10)
        self.add(12, 10)
        self.add(13, 10)
        self.add(14, 11)
        # 11 vanished after its stat was read: its other files are gone (its child, still
        # listed under it, is kept); 12 vanished before: a directory without stat; 13's
        # status and smaps_rollup cannot be read (not files)
        directory = os.path.join(self.proc, "11")
        for name in ("statm", "cmdline", "status", "smaps_rollup"):
            os.remove(os.path.join(directory, name))
        os.rmdir(os.path.join(directory, "fd"))
        os.remove(os.path.join(self.proc, "12", "stat"))
        for name in ("status", "smaps_rollup"):
            os.remove(os.path.join(self.proc, "13", name))
            os.mkdir(os.path.join(self.proc, "13", name))
        source = self.source()
        records = source.sample(source.identify(10))
        self.assertEqual([(r["pid"], r["depth"]) for r in records], [(10, 0), (14, 2), (13, 1)])
        self.assertEqual((records[2]["ctx_switches"], records[2]["uss"]), (None, None))

    def test_gone_root(self):
        self.add(10, 1, state="Z")
        source = self.source()
        self.assertEqual(source.identify(10), (10, 1000))
        self.assertIsNone(source.sample((10, 1000)))
        self.assertIsNone(source.identify(11))
        self.assertIsNone(source.sample((11, 1000)))

    def test_open_files(self):
        directory = self.add(10, 1)
        regular = os.path.join(self.proc, "file")
        open(regular, "w").close()
        os.symlink(regular, os.path.join(directory, "fd", "3"))
        os.symlink(self.proc, os.path.join(directory, "fd", "4"))  # a directory
        os.symlink("pipe:[1234]", os.path.join(directory, "fd", "5"))
        os.symlink(os.path.join(self.proc, "deleted"), os.path.join(directory, "fd", "6"))
        source = self.source(["open_files"])
        self.assertEqual(source.sample((10, 1000))[0]["open_files"], 1)

    def test_net_connections_need_psutil(self):
        self.assertRaises(ValueError, _proctree.ProcSource, ["net_connections"])


@needs_engine
class CommandTests(WaitMixin, unittest.TestCase):
    """The command line: errors, --help, Ctrl-C, processes that come and go fast."""

    def setUp(self):
        self.tmpdir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.tmpdir)

    def run_tree(self, args, env=None):
        return tmsupport.run_python(command(args), env=env, cwd=self.tmpdir)

    def check_error(self, args, status, *words):
        code, out, err = self.run_tree(args)
        self.assertEqual((code, out), (status, ""), (args, err))
        self.assertEqual(len(err.splitlines()), 1, err)
        self.assertTrue(err.startswith("python -m tracemalloc.process_tree: error: "), err)
        for word in words:
            self.assertIn(word, err)
        return err

    def test_help(self):
        code, out, err = self.run_tree(["--help"])
        self.assertEqual((code, err), (0, ""))
        for text in ("-- COMMAND", "-p PID", "--json PATH", "example:", "exit status:",
                     "--uss", "--net-connections", "needs psutil"):
            self.assertIn(text, out)

    def test_usage_errors(self):
        for interval in ("0", "-1", "abc", "nan", "inf"):
            self.check_error(["--interval=" + interval, "--", "true"], 2, "-i/--interval",
                             repr(interval))
        self.check_error([], 2, "give either -p PID or a command after --")
        self.check_error(["-p", "1", "--", "true"], 2, "give either")
        self.check_error(["--"], 2, "no command after --")
        self.check_error(["-p", "x"], 2, "not a process ID")
        self.check_error(["-p", "0"], 2, "not a process ID")
        self.check_error(["true"], 2, "unrecognized arguments: true")
        self.check_error(["--source", "proc", "-n", "--", "true"], 2,
                         "-n/--net-connections needs psutil")
        self.check_error(["--bogus", "--", "true"], 2, "--bogus")

    def test_no_such_pid(self):
        with open("/proc/sys/kernel/pid_max") as fp:
            pid = int(fp.read()) + 1  # above every PID the kernel gives
        self.check_error(["-p", str(pid)], 1, "no process with PID %d" % pid)

    def test_unwritable_json(self):
        path = os.path.join(self.tmpdir, "missing", "tree.jsonl")
        marker = os.path.join(self.tmpdir, "ran")
        self.check_error(["--json", path, "--", sys.executable, "-c",
                          "open(%r, 'w').close()" % marker], 1, "--json %s" % path)
        self.assertFalse(os.path.exists(marker))  # nothing was run

    def test_command_not_found(self):
        path = os.path.join(self.tmpdir, "no-such-command")
        self.check_error(["--", path], 127, "cannot run %s" % path)
        os.mkdir(path)
        self.check_error(["--", path], 126, "cannot run %s" % path)

    def test_source_psutil(self):
        code, out, err = self.run_tree(["--source", "psutil", "-i", "0.05", "--", "true"])
        if tmsupport.run_python(["-c", "import psutil"])[0] == 0:
            self.assertEqual((code, err), (0, ""))
            self.assertIn("values from psutil", out)
        else:
            self.assertEqual((code, out), (2, ""))
            self.assertIn("--source psutil: psutil cannot be imported", err)
        env = psutil_env()
        if env is not None:
            code, out, err = self.run_tree(["--source", "psutil", "-a", "--", "true"], env)
            self.assertEqual((code, err), (0, ""))
            self.assertIn("values from psutil", out.splitlines()[0])
            self.assertIn(" Net ", out)

    def test_all_without_psutil(self):
        code, out, err = self.run_tree(["--source", "proc", "-a", "-i", "0.05", "--", "true"])
        self.assertEqual(code, 0, err)
        self.assertIn("note: -a without psutil leaves out the network connections", err)
        header = out.splitlines()[1].split()
        for column in ("PFaults", "User(s)", "Sys(s)", "Thrds", "Status", "Files"):
            self.assertIn(column, header)
        self.assertNotIn("Net", header)

    def test_exit_status_of_the_command(self):
        for code, expected in ((0, 0), (5, 5)):
            status, out, err = self.run_tree(
                ["-i", "0.05", "--", sys.executable, "-c", "import sys; sys.exit(%d)" % code])
            self.assertEqual((status, err), (expected, ""))
            self.assertIn("The command exited with status %d." % expected, out)
        status, out, err = self.run_tree(
            ["-i", "0.05", "--", sys.executable, "-c",
             "import os, signal; os.kill(os.getpid(), signal.SIGTERM)"])
        self.assertEqual((status, err), (128 + signal.SIGTERM, ""))

    def test_sep_and_omit_first(self):
        json_path = os.path.join(self.tmpdir, "tree.jsonl")
        status, out, err = self.run_tree(["--sep", ",", "-1", "-t", "-i", "0.05", "--json",
                                          json_path, "--", sys.executable, "-c",
                                          "import time; time.sleep(0.3)"])
        self.assertEqual((status, err), (0, ""))
        lines = out.splitlines()
        self.assertEqual(lines[1], "Time(s),,PID,PPID,RSS(MiB),dRSS(MiB),CPU(%),Thrds,Name")
        samples = samples_of(read_records(json_path))
        self.assertEqual(samples[0]["index"], 1)  # the first one was taken, not written
        rows = [line.split(",") for line in lines[2:lines.index("")]
                if line.split(",")[0] != ""]  # the first line of each sample
        self.assertEqual(len(rows), len(samples))
        self.assertTrue(rows[0][0].startswith("0."), rows)
        self.assertEqual(rows[0][2], str(samples[0]["processes"][0]["pid"]))

    def interrupt(self, args, env=None):
        """Run the command, send it SIGINT once its JSON has two samples; return (status,
        stdout, stderr, records)."""
        json_path = os.path.join(self.tmpdir, "tree.jsonl")
        logger = start_python(command(["-i", "0.05", "--json", json_path] + args),
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            self.wait_for(lambda: len(samples_of(read_records(json_path))) >= 2,
                          "two samples", logger)
            logger.send_signal(signal.SIGINT)
            out, err = logger.communicate()
        finally:
            if logger.poll() is None:
                logger.kill()
                logger.wait()
        if not tmsupport.PY2:
            out, err = out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
        return logger.returncode, out, err, read_records(json_path)

    def test_ctrl_c_with_a_command(self):
        # SIGINT to process_tree only (a terminal's Ctrl-C would reach the command too): the
        # command gets it from process_tree after the grace second, and its status is ours
        status, out, err, records = self.interrupt(
            ["--", sys.executable, "-c",
             "import sys, time\ntry:\n    time.sleep(600)\nexcept KeyboardInterrupt:\n"
             "    sys.exit(7)\n"])
        self.assertEqual((status, err), (7, ""))
        self.assertIn("Interrupted; the command exited with status 7.", out.splitlines())
        summary = records[-1]
        self.assertEqual((summary["record"], summary["end"], summary["exit_status"]),
                         ("summary", "interrupted", 7))
        self.assertEqual(summary["processes"][0]["gone"], None)  # running when interrupted

    def test_ctrl_c_with_a_pid(self):
        sleeper = start_python(["-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
        try:
            status, out, err, records = self.interrupt(["-p", str(sleeper.pid)])
            self.assertEqual(sleeper.poll(), None)  # left alone
        finally:
            sleeper.stdin.close()
            sleeper.wait()
        self.assertEqual((status, err), (0, ""))
        self.assertIn("Interrupted: PID %d may still be running." % sleeper.pid,
                      out.splitlines())
        self.assertEqual((records[-1]["end"], records[-1]["exit_status"]),
                         ("interrupted", None))

    def check_churn(self, env=None, source="proc"):
        # 200 short-lived children while process_tree reads every value it can, every 10 ms:
        # processes vanish between the listing and the reading
        code = ("import subprocess\n"
                "for i in range(200):\n"
                "    subprocess.Popen(['sleep', '0.02'])\n")
        json_path = os.path.join(self.tmpdir, "churn.jsonl")
        status, out, err = self.run_tree(["-i", "0.01", "-a", "-u", "-x", "--cmdline",
                                          "--source", source, "--json", json_path, "--",
                                          sys.executable, "-c", code], env)
        self.assertEqual(status, 0, err)
        self.assertNotIn("Traceback", err)
        records = read_records(json_path)
        self.assertEqual((records[0]["record"], records[-1]["record"]), ("start", "summary"))
        self.assertGreaterEqual(len(records[-1]["processes"]), 1)

    def test_processes_that_come_and_go_proc(self):
        self.check_churn()

    def test_processes_that_come_and_go_psutil(self):
        env = psutil_env()
        if env is None:
            self.skipTest(NO_PSUTIL)
        self.check_churn(env, "psutil")

    def test_traced_interpreter(self):
        # under PYTRACEMALLOC=1 the command's work is the tracer's, suspended: it runs
        code, out, err = self.run_tree(["-i", "0.05", "--", "true"],
                                       tmsupport.child_env(PYTRACEMALLOC="1"))
        self.assertEqual(code, 0, err)
        self.assertIn("The command exited with status 0.", out)


@needs_engine
class ReadmeTests(unittest.TestCase):
    """The README's example of process_tree runs as written and shows what it shows."""

    def test_readme_example(self):
        from test_readme import README, literal_blocks
        with open(README) as fp:
            blocks = literal_blocks(fp.read())
        script = [block for block in blocks if block.startswith("# process tree example")]
        runs = [block for block in blocks
                if block.startswith("$ python -m tracemalloc.process_tree ")]
        self.assertEqual((len(script), len(runs)), (1, 1))
        tmpdir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, tmpdir)
        with open(os.path.join(tmpdir, "work.py"), "w") as fp:
            fp.write(script[0] + "\n")
        shown = runs[0].splitlines()
        args = [sys.executable if arg == "python" else arg for arg in shown[0].split()[2:]]
        status, out, err = tmsupport.run_python(args, cwd=tmpdir)
        self.assertEqual((status, err), (0, ""))
        lines = out.splitlines()

        def shape(lines):
            """The columns, the names in the summary (indented: the tree) and its end."""
            at = [line.startswith("Summary: ") for line in lines].index(True)
            column = lines[at + 2].index("  Name") + 2
            names = [line[column:] for line in lines[at + 3:-1]]
            return lines[1], names, lines[-1]
        self.assertEqual(shape(lines), shape(shown[1:]))
        # the children's peaks, the three biggest of the summary, hold their amounts
        self.assertIn("for size in %r]" % (SIZES,), script[0])
        at = [line.startswith("Summary: ") for line in lines].index(True)
        peaks = sorted(float(line.split()[2]) for line in lines[at + 3:-1])
        self.assertEqual(len(peaks), 4)
        for peak, size in zip(peaks[1:], SIZES):
            self.assertGreaterEqual(peak, size)


if __name__ == "__main__":
    unittest.main()
