"""Tests of the function layer (enable, timers, process memory, Frame, Traceback), fake engine;
the traces lost for lack of memory with the real engine, in a child process."""
from __future__ import absolute_import

import os
import shutil
import signal
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "support"))
import tmsupport  # noqa: E402 (must come first: chooses the package and the engine)
from tmsupport import tracemalloc  # noqa: E402


class FunctionTests(tmsupport.FakeEngineMixin, unittest.TestCase):
    def test_version(self):
        self.assertEqual(tracemalloc.__version__, "1.0.0.dev0")

    def test_all(self):
        for name in tracemalloc.__all__:
            self.assertTrue(hasattr(tracemalloc, name), name)

    def test_enable_disable(self):
        self.assertFalse(tracemalloc.is_enabled())
        tracemalloc.enable()
        self.assertTrue(tracemalloc.is_enabled())
        self.assertEqual(self.engine.nframe, 1)
        tracemalloc.start_timer(1, len, ("x",))
        tracemalloc.disable()
        self.assertFalse(tracemalloc.is_enabled())
        self.assertEqual(self.engine.timers, {})

    def test_enable_keeps_the_limit(self):
        tracemalloc.start(25)
        tracemalloc.enable()
        self.assertEqual(tracemalloc.get_traceback_limit(), 25)
        self.assertEqual(self.engine.calls, [("start", 25)])

    def test_disable_at_exit(self):
        tracemalloc._disable_at_exit()  # not tracing: nothing to do
        self.assertEqual(self.engine.calls, [])
        tracemalloc.enable()
        tracemalloc._disable_at_exit()
        self.assertFalse(self.engine.tracing)

    def test_startup(self):
        with tmsupport.captured("stderr") as stderr:
            tracemalloc._startup(25)
        self.assertEqual(stderr.getvalue(), "tracemalloc enabled\n")
        self.assertTrue(self.engine.tracing)
        self.assertEqual(self.engine.nframe, 25)

    def test_startup_quiet(self):
        # -X tracemalloc=N and PYTHONTRACEMALLOC=N on 3.x: as silent as the stock module
        with tmsupport.captured("stderr") as stderr:
            tracemalloc._startup(5, quiet=True)
        self.assertEqual(stderr.getvalue(), "")
        self.assertEqual((self.engine.tracing, self.engine.nframe), (True, 5))

    def test_startup_error(self):
        with tmsupport.captured("stderr") as stderr:
            self.assertRaises(ValueError, tracemalloc._startup, 0)
        self.assertEqual(stderr.getvalue(), "")

    def test_timers(self):
        calls = []

        def func(*args, **kwargs):
            calls.append((args, kwargs))
        first = tracemalloc.start_timer(1.5, func, [1, 2], {"a": 3})
        second = tracemalloc.start_timer(2, func)
        self.assertNotEqual(first, second)
        self.assertEqual(self.engine.timers[first], (1.5, func, (1, 2), {"a": 3}))
        self.assertEqual(self.engine.timers[second], (2, func, (), None))
        self.engine.fire_timers()
        self.assertEqual(calls, [((1, 2), {"a": 3}), ((), {})])
        tracemalloc.stop_timer(first)
        self.assertEqual(list(self.engine.timers), [second])
        tracemalloc.stop_timer(first)  # already stopped: ignored
        tracemalloc.stop_timer()
        self.assertEqual(self.engine.timers, {})

    def test_engine_passthrough(self):
        self.engine.traced = [100, 200]
        self.engine.tracemalloc_memory = 42
        tracemalloc.start(3)
        self.assertTrue(tracemalloc.is_tracing())
        self.assertEqual(tracemalloc.get_traceback_limit(), 3)
        self.assertEqual(tracemalloc.get_traced_memory(), (100, 200))
        tracemalloc.reset_peak()
        self.assertEqual(tracemalloc.get_traced_memory(), (100, 100))
        self.assertEqual(tracemalloc.get_tracemalloc_memory(), 42)
        self.engine.stats = {"a.py": {1: (1, 1)}}
        tracemalloc.clear_traces()
        self.assertEqual(self.engine.stats, {})
        self.assertTrue(tracemalloc.is_tracing())
        tracemalloc.stop()
        self.assertFalse(tracemalloc.is_tracing())
        self.assertRaises(ValueError, tracemalloc.start, 0)

    def test_get_lost_traces(self):
        self.assertIn("get_lost_traces", tracemalloc.__all__)
        self.assertEqual(tracemalloc.get_lost_traces(), 0)
        self.engine.lost_traces = 12
        self.assertEqual(tracemalloc.get_lost_traces(), 12)
        # a counter of the run, not a property of the interpreter
        self.assertNotIn("lost_traces", tracemalloc.get_interpreter_info())

    def test_get_object_traceback(self):
        obj = object()
        self.assertIsNone(tracemalloc.get_object_traceback(obj))
        self.engine.object_tracebacks[id(obj)] = (("b.py", 2), ("a.py", 1))
        traceback = tracemalloc.get_object_traceback(obj)
        self.assertIsInstance(traceback, tracemalloc.Traceback)
        # oldest frame first, as in the stdlib since Python 3.7
        self.assertEqual([(f.filename, f.lineno) for f in traceback], [("a.py", 1), ("b.py", 2)])
        self.assertEqual(str(traceback[-1]), "b.py:2")


# Run by a child with TRACEMALLOC_ENGINE_FAIL_ALLOC=2: the engine's store fails its second
# allocation once, which loses exactly one trace. Prints "OK" at the end.
LOST_TRACES_CHILD = """
import os, sys, tracemalloc
assert tracemalloc.get_lost_traces() == 0, tracemalloc.get_lost_traces()
tracemalloc.start(5)
data = [object() for index in range(100)]
assert tracemalloc.get_lost_traces() == 1, tracemalloc.get_lost_traces()
snapshot = tracemalloc.take_snapshot()
assert snapshot.lost_traces == 1, snapshot.lost_traces
snapshot.dump(sys.argv[1])
tracemalloc.DisplayTop(3).display()
tracemalloc.clear_traces()
assert tracemalloc.get_lost_traces() == 1, tracemalloc.get_lost_traces()
tracemalloc.stop()
assert tracemalloc.get_lost_traces() == 1, tracemalloc.get_lost_traces()
# start() reads the switch again: without it, nothing fails in the next run
del os.environ["TRACEMALLOC_ENGINE_FAIL_ALLOC"]
tracemalloc.start(5)
assert tracemalloc.get_lost_traces() == 0, tracemalloc.get_lost_traces()
more = [object() for index in range(100)]
assert tracemalloc.get_lost_traces() == 0, tracemalloc.get_lost_traces()
tracemalloc.DisplayTop(3).display()
tracemalloc.stop()
print("OK")
"""

LOST_WARNING = ("WARNING: 1 trace was lost for lack of memory: the statistics below are "
                "incomplete")


class LostTracesTests(unittest.TestCase):
    """The real engine failing an allocation of its own: get_lost_traces(), the snapshot's
    lost_traces, and the warning of DisplayTop and of the command line."""

    def setUp(self):
        tmsupport.require(self, not tmsupport.USING_FAKE_ENGINE, tmsupport.SKIP_REASON)
        self.tmpdir = tempfile.mkdtemp(prefix="tracemalloc-lost-")

    def tearDown(self):
        shutil.rmtree(self.tmpdir)

    def test_lost_trace(self):
        snap = os.path.join(self.tmpdir, "snap.tms")
        code, out, err = tmsupport.run_python(
            ["-c", LOST_TRACES_CHILD, snap],
            env=tmsupport.child_env(TRACEMALLOC_ENGINE_FAIL_ALLOC="2"))
        self.assertEqual((code, err), (0, ""), out)
        lines = out.splitlines()
        self.assertEqual(lines[-1], "OK")
        # the first top (1 trace lost) warns, right after its header; the second (after a
        # new start()) does not
        self.assertEqual(lines.count(LOST_WARNING), 1, out)
        self.assertEqual(lines[lines.index(LOST_WARNING) - 1][-len("per file"):], "per file")
        self.assertEqual(len([line for line in lines if "WARNING" in line]), 1, out)

        self.assertEqual(tracemalloc.Snapshot.load(snap).lost_traces, 1)
        code, out, err = tmsupport.run_python(["-m", "tracemalloc", "--no-color", snap])
        self.assertEqual((code, err), (0, ""))
        self.assertEqual(out.splitlines()[1], LOST_WARNING)

    def test_nothing_lost(self):
        code, out, err = tmsupport.run_python(
            ["-c", "import tracemalloc\n"
                   "tracemalloc.start(5)\n"
                   "data = [object() for index in range(100)]\n"
                   "print(tracemalloc.get_lost_traces())\n"
                   "print(tracemalloc.take_snapshot().lost_traces)\n"
                   "tracemalloc.DisplayTop(3).display()\n"])
        self.assertEqual((code, err), (0, ""))
        self.assertEqual(out.splitlines()[:2], ["0", "0"])
        self.assertNotIn("WARNING", out)


class FrameTracebackTests(unittest.TestCase):
    def test_frame(self):
        frame = tracemalloc.Frame(("a.py", 3))
        self.assertEqual(frame.filename, "a.py")
        self.assertEqual(frame.lineno, 3)
        self.assertEqual(str(frame), "a.py:3")
        self.assertEqual(repr(frame), "<Frame filename='a.py' lineno=3>")
        self.assertEqual(frame, tracemalloc.Frame(("a.py", 3)))
        self.assertFalse(frame != tracemalloc.Frame(("a.py", 3)))
        self.assertNotEqual(frame, tracemalloc.Frame(("a.py", 4)))
        self.assertTrue(frame < tracemalloc.Frame(("a.py", 4)))
        self.assertTrue(tracemalloc.Frame(("a.py", 4)) > frame)
        self.assertEqual(hash(frame), hash(tracemalloc.Frame(("a.py", 3))))

    def test_traceback(self):
        traceback = tracemalloc.Traceback((("b.py", 2), ("a.py", 1)), total_nframe=5)
        self.assertEqual(len(traceback), 2)
        self.assertEqual(traceback[0], tracemalloc.Frame(("a.py", 1)))
        self.assertEqual(traceback[-1], tracemalloc.Frame(("b.py", 2)))
        self.assertEqual(traceback[:1], (tracemalloc.Frame(("a.py", 1)),))
        self.assertIn(tracemalloc.Frame(("b.py", 2)), traceback)
        self.assertNotIn(tracemalloc.Frame(("c.py", 2)), traceback)
        self.assertEqual(traceback.total_nframe, 5)
        self.assertEqual(str(traceback), "a.py:1")
        self.assertEqual(repr(traceback), "<Traceback (<Frame filename='a.py' lineno=1>, "
                                          "<Frame filename='b.py' lineno=2>) total_nframe=5>")
        same = tracemalloc.Traceback((("b.py", 2), ("a.py", 1)))
        self.assertEqual(traceback, same)
        self.assertFalse(traceback != same)
        self.assertEqual(hash(traceback), hash(same))
        self.assertEqual(repr(same)[-1:], ">")
        self.assertNotIn("total_nframe", repr(same))

    def test_traceback_format(self):
        # this file, at known lines
        here = os.path.abspath(__file__)
        if here.endswith((".pyc", ".pyo")):
            here = here[:-1]
        with open(here) as fp:
            source = fp.read().splitlines()
        line_a = source.index("class FunctionTests(tmsupport.FakeEngineMixin, "
                              "unittest.TestCase):") + 1
        line_b = line_a + 1
        traceback = tracemalloc.Traceback(((here, line_b), (here, line_a)))
        self.assertEqual(traceback.format(), [
            '  File "%s", line %d' % (here, line_a),
            "    class FunctionTests(tmsupport.FakeEngineMixin, unittest.TestCase):",
            '  File "%s", line %d' % (here, line_b),
            "    def test_version(self):",
        ])
        self.assertEqual(traceback.format(limit=1), traceback.format()[2:])
        self.assertEqual(traceback.format(limit=-1), traceback.format()[:2])
        self.assertEqual(traceback.format(most_recent_first=True),
                         traceback.format()[2:] + traceback.format()[:2])
        missing = tracemalloc.Traceback((("<unknown>", 0),))
        self.assertEqual(missing.format(), ['  File "<unknown>", line 0'])


class ProcessMemoryTests(unittest.TestCase):
    def setUp(self):
        self.saved_psutil = tracemalloc._psutil
        self.saved_import_psutil = tracemalloc._import_psutil

    def tearDown(self):
        tracemalloc._psutil = self.saved_psutil
        tracemalloc._import_psutil = self.saved_import_psutil

    def test_proc_fallback(self):
        if not os.path.exists("/proc/self/statm"):
            self.skipTest("no /proc/self/statm")
        tracemalloc._import_psutil = lambda: None  # psutil not importable: /proc is used
        memory = tracemalloc.get_process_memory()
        self.assertTrue(isinstance(memory, int) and memory > 1024 * 1024, memory)

    def test_psutil(self):
        class FakeProcess(object):
            def __init__(self, pid):
                self.pid = pid

            def memory_info(self):
                class Info(object):
                    rss = 1000 + self.pid
                return Info()

        class FakePsutil(object):
            Process = FakeProcess
        tracemalloc._psutil = FakePsutil()
        # the pid is read at each call (nothing is cached): right after a fork
        self.assertEqual(tracemalloc.get_process_memory(), 1000 + os.getpid())

    def test_psutil_failure(self):
        class BrokenPsutil(object):
            def Process(self, pid):
                raise RuntimeError("no access")
        tracemalloc._psutil = BrokenPsutil()
        memory = tracemalloc.get_process_memory()
        if os.path.exists("/proc/self/statm"):
            self.assertTrue(memory > 0)
        else:
            self.assertIsNone(memory)

    @unittest.skipUnless(hasattr(os, "fork"), "needs os.fork()")
    def test_after_fork(self):
        if tmsupport.address_sanitizer():
            self.skipTest(tmsupport.ASAN_SKIP_REASON)
        # In the child, the value is the child's own: the child grows by GROWTH bytes and its
        # value grows with it, agrees with its /proc/self/statm, and leaves the parent's
        # value where it was.
        if not os.path.exists("/proc/self/statm"):
            self.skipTest("no /proc/self/statm to compare with")
        tracemalloc.get_process_memory()  # psutil imported (or not) before the fork
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:
            status = 1
            try:
                os.close(read_fd)
                before = tracemalloc.get_process_memory()
                grown = b"x" * GROWTH  # every page written: resident
                after = tracemalloc.get_process_memory()
                statm = statm_rss()
                os.write(write_fd, ("%d %d %d" % (before, after, statm)).encode("ascii"))
                del grown
                status = 0
            finally:
                os._exit(status)
        os.close(write_fd)
        killer = threading.Timer(CHILD_TIMEOUT, os.kill, (pid, signal.SIGKILL))
        killer.start()
        try:
            data = read_all(read_fd)
            _, status = os.waitpid(pid, 0)
        finally:
            killer.cancel()
            killer.join()
            os.close(read_fd)
        self.assertEqual(status, 0, "the child failed or hung: status %r" % status)
        before, after, statm = [int(value) for value in data.split()]
        parent = tracemalloc.get_process_memory()
        self.assertTrue(GROWTH - SLACK <= after - before <= GROWTH + SLACK, (before, after))
        self.assertTrue(abs(after - statm) <= SLACK, (after, statm))
        self.assertTrue(after - parent >= GROWTH - SLACK, (parent, after))


GROWTH = 64 * 1024 * 1024
# The child's RSS before the growth may hold heap pages the 64 MiB then reuse (seen: 56 MiB
# of growth on 3.13); a value that is not the child's own is off by far more.
SLACK = 16 * 1024 * 1024
CHILD_TIMEOUT = 120.0


def statm_rss():
    """The resident memory of this process from /proc/self/statm, in bytes."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def read_all(fd):
    chunks = []
    while True:
        chunk = os.read(fd, 4096)
        if not chunk:
            return b"".join(chunks).decode("ascii")
        chunks.append(chunk)


if __name__ == "__main__":
    unittest.main()
