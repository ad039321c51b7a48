"""The tracer out of its own picture: the package's work runs with tracing suspended in its
thread (doc/internals.rst, "Suspension"), so that none of it is traced and what it keeps is
counted by get_tracemalloc_memory(); what the user takes and keeps stays traced.

The engine tests need the real engine; SuspendedWorkTests checks the package's side with the
fake engine of tmsupport (and runs everywhere).
"""
from __future__ import absolute_import

import gc
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "support"))
import tmsupport  # noqa: E402 (must come first: chooses the package and the engine)
from tmsupport import tracemalloc  # noqa: E402
import tracemalloc.__main__ as cli  # noqa: E402 (imported before tracing: its code is no trace)

engine = tmsupport.REAL_ENGINE
PACKAGE_DIR = os.path.dirname(os.path.abspath(tracemalloc.__file__)) + os.sep
NFRAME = 50  # every frame of the test's stacks: a package frame anywhere is seen


# The functions below allocate on known lines: the tests compute the line numbers from
# co_firstlineno, so keep each body exactly as it is (first body line = allocation).

def allocate_bytes(size):
    return b"x" * size


def allocate_bytearray(size):
    return bytearray(size)


def make_tuple(items):
    return tuple(items)


def extend(data, chunk):
    data.extend(chunk)


FILENAME = allocate_bytes.__code__.co_filename
BYTES_LINE = allocate_bytes.__code__.co_firstlineno + 1
BYTEARRAY_LINE = allocate_bytearray.__code__.co_firstlineno + 1
TUPLE_LINE = make_tuple.__code__.co_firstlineno + 1
EXTEND_LINE = extend.__code__.co_firstlineno + 1

# How long to wait for a timer due in 1 ms: generous, a loaded shared machine may not run
# this process for seconds; a timer that never fires still fails the test.
WAIT_SECONDS = 60


def churn(until, seconds=WAIT_SECONDS):
    """Allocate and run bytecode (timers fire from the allocator, at a safe point) until
    until() is true or *seconds* passed; return until()."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        junk = [object() for _ in range(50)]
        del junk
        if until():
            return True
        time.sleep(0.0005)
    return until()


def is_package_file(filename):
    return os.path.abspath(filename).startswith(PACKAGE_DIR)


def package_frames(raw_traces):
    """The (size, traceback) of every raw trace with a frame, any frame, in a file of the
    package."""
    return [(size, traceback) for domain, size, traceback, total in raw_traces
            if any(is_package_file(filename) for filename, lineno in traceback)]


def objects_at(tracebacks):
    """The repr of the objects known to the GC whose trace has one of *tracebacks* (to
    explain a failure)."""
    wanted = set(tracebacks)
    return [repr(obj)[:200] for obj in gc.get_objects()
            if tracemalloc._get_object_traceback(obj) in wanted][:5]


def own_memory():
    return engine._get_own_memory()


def warm_up(tmpdir):
    """Run every entry point of the package's tools once, with tracing suspended. On 3.12+,
    once a profiler ran in the process (test_freelists runs cProfile), a code object gets
    its instrumentation data (64 bytes) at its next first call, at its entry: before its body
    can suspend tracing (doc/internals.rst, "Suspension", limits). Called suspended, that is
    the tracer's memory like the rest."""
    with tracemalloc._suspended():
        stream = tmsupport.text_stream()
        filename = os.path.join(tmpdir, "warm-up")
        top = tracemalloc.DisplayTop(1, file=stream)
        top.display()
        top.display_snapshot(tracemalloc.Snapshot.create())
        top.start(60)
        top.stop()
        take = tracemalloc.TakeSnapshot(filename)
        with tmsupport.captured("stderr"):
            take._task()
        take.start(60)
        take.stop()
        tracemalloc.DisplayGarbage(file=stream).display()
        with tmsupport.captured("stdout"):
            cli.main([filename])
        os.unlink(filename)


class Sink(object):
    """A stream that keeps nothing: what the tools write costs no memory of the test's."""

    def write(self, text):
        return len(text)

    def flush(self):
        pass

    def isatty(self):
        return False


@unittest.skipIf(tmsupport.USING_FAKE_ENGINE, tmsupport.SKIP_REASON)
class SuspendTestCase(unittest.TestCase):
    """Each test starts tracing NFRAME frames deep; the state of the process is restored."""

    @classmethod
    def setUpClass(cls):
        tmpdir = tempfile.mkdtemp()
        try:
            warm_up(tmpdir)
        finally:
            shutil.rmtree(tmpdir)

    def setUp(self):
        self.was_tracing = engine.is_tracing()
        self.limit = engine.get_traceback_limit() if self.was_tracing else 1
        engine.stop()
        self.tmpdir = tempfile.mkdtemp()
        gc.collect()
        tracemalloc.start(NFRAME)

    def tearDown(self):
        # a failed test may leave its thread suspended: the next tests must be traced
        while engine.is_suspended():
            engine.resume()
        engine.stop_timer(None)
        engine.stop()
        shutil.rmtree(self.tmpdir)
        if self.was_tracing:
            engine.start(self.limit)

    def assertNoPackageFrame(self, raw_traces, what):
        found = package_frames(raw_traces)
        if found:
            found.sort(key=lambda item: -item[0])
            self.fail("%s: %d traces with a frame of the package (%d bytes), e.g. %r; "
                      "objects of the GC there: %r"
                      % (what, len(found), sum(size for size, _ in found), found[:3],
                         objects_at([traceback for size, traceback in found])))

    def assertProcessClean(self):
        gc.collect()
        self.assertNoPackageFrame(engine.get_traces(), "the traces of the process")

    def trace_at(self, line, min_size=0):
        """The raw traces whose most recent frame is (this file, *line*), of *min_size*
        bytes at least."""
        return [trace for trace in engine.get_traces()
                if trace[2][0] == (FILENAME, line) and trace[1] >= min_size]


class EngineTests(SuspendTestCase):
    def test_suspended_blocks_are_the_tracers(self):
        traced = tracemalloc.get_traced_memory()[0]
        tm_memory = tracemalloc.get_tracemalloc_memory()
        own = own_memory()
        size = 4 << 20
        engine.suspend()
        try:
            self.assertTrue(engine.is_suspended())
            data = allocate_bytearray(size)
        finally:
            engine.resume()
        self.assertFalse(engine.is_suspended())
        self.assertIsNone(tracemalloc.get_object_traceback(data))
        self.assertEqual(self.trace_at(BYTEARRAY_LINE), [])
        # (the "plain" variant's free lists make the rest of the test's traces move a little)
        self.assertLess(tracemalloc.get_traced_memory()[0] - traced, 65536)
        grown = tracemalloc.get_tracemalloc_memory() - tm_memory
        self.assertGreaterEqual(grown, size)
        self.assertLess(grown, size + (256 << 10))
        self.assertGreaterEqual(own_memory()[0] - own[0], size)
        self.assertGreaterEqual(own_memory()[1] - own[1], 1)
        # freed by the user (not suspended): it leaves the tracer's memory
        del data
        self.assertLess(own_memory()[0] - own[0], 4096)
        self.assertLess(tracemalloc.get_tracemalloc_memory() - tm_memory, 256 << 10)

    def test_traced_again_after_resume(self):
        with tracemalloc._suspended():
            hidden = allocate_bytes(100000)
        shown = allocate_bytes(100000)
        self.assertIsNone(tracemalloc.get_object_traceback(hidden))
        traceback = tracemalloc.get_object_traceback(shown)
        self.assertIsNotNone(traceback)
        self.assertEqual((traceback[-1].filename, traceback[-1].lineno), (FILENAME, BYTES_LINE))

    def test_user_block_freed_by_suspended_code(self):
        data = allocate_bytes(200000)
        self.assertEqual(len(self.trace_at(BYTES_LINE, 200000)), 1)
        traced = tracemalloc.get_traced_memory()[0]
        own = own_memory()
        with tracemalloc._suspended():
            del data
        self.assertEqual(self.trace_at(BYTES_LINE, 200000), [])
        self.assertLess(tracemalloc.get_traced_memory()[0], traced - 200000 + 65536)
        self.assertLess(abs(own_memory()[0] - own[0]), 4096)

    def test_user_block_resized_by_suspended_code(self):
        data = allocate_bytearray(1000)
        chunk = b"y" * 300000
        own = own_memory()
        with tracemalloc._suspended():
            extend(data, chunk)
        # the user's block moved, with its traceback and its new size
        traces = self.trace_at(BYTEARRAY_LINE, 301000)
        self.assertEqual(len(traces), 1, traces)
        self.assertLess(abs(own_memory()[0] - own[0]), 4096)
        # and a block of the tracer's resized by the user becomes the user's
        with tracemalloc._suspended():
            hidden = bytearray(1000)
        before = own_memory()
        extend(hidden, chunk)
        self.assertLessEqual(own_memory()[1], before[1] - 1)
        self.assertEqual(len(self.trace_at(EXTEND_LINE, 301000)), 1)

    def test_nesting(self):
        engine.suspend()
        engine.suspend()
        engine.resume()
        self.assertTrue(engine.is_suspended())
        hidden = allocate_bytes(50000)
        engine.resume()
        self.assertFalse(engine.is_suspended())
        shown = allocate_bytes(50000)
        self.assertIsNone(tracemalloc.get_object_traceback(hidden))
        self.assertIsNotNone(tracemalloc.get_object_traceback(shown))
        self.assertRaises(RuntimeError, engine.resume)
        with tracemalloc._suspended():
            with tracemalloc._suspended():
                self.assertTrue(engine.is_suspended())
            self.assertTrue(engine.is_suspended())
        self.assertFalse(engine.is_suspended())

    def test_exception_in_suspended_block(self):
        def fail():
            with tracemalloc._suspended():
                with tracemalloc._suspended():
                    raise ValueError("in the tracer's work")
        self.assertRaises(ValueError, fail)
        self.assertFalse(engine.is_suspended())
        self.assertIsNotNone(tracemalloc.get_object_traceback(allocate_bytes(1000)))

    def test_exception_in_a_tool(self):
        class Broken(Sink):
            def write(self, text):
                raise IOError("disk full")
        top = tracemalloc.DisplayTop(5, file=Broken())
        self.assertRaises(IOError, top.display)
        self.assertFalse(engine.is_suspended())

        def callback():
            raise KeyError("user data")
        take = tracemalloc.TakeSnapshot(os.path.join(self.tmpdir, "x-$counter"), callback)
        self.assertRaises(KeyError, take.take_snapshot)
        self.assertFalse(engine.is_suspended())

    def test_suspension_is_per_thread(self):
        results = {}
        ready = threading.Event()
        go = threading.Event()

        def worker():
            results["suspended"] = engine.is_suspended()
            ready.set()
            go.wait(WAIT_SECONDS)
            results["data"] = allocate_bytes(150000)

        thread = threading.Thread(target=worker)
        thread.start()
        ready.wait(WAIT_SECONDS)
        own = own_memory()
        with tracemalloc._suspended():
            go.set()
            thread.join(WAIT_SECONDS)
            suspended_in_main = engine.is_suspended()
        self.assertTrue(suspended_in_main)
        self.assertFalse(results["suspended"])
        # the other thread allocated during the suspended region: traced, the user's
        traceback = tracemalloc.get_object_traceback(results["data"])
        self.assertIsNotNone(traceback)
        self.assertEqual((traceback[-1].filename, traceback[-1].lineno), (FILENAME, BYTES_LINE))
        self.assertLess(own_memory()[0] - own[0], 150000)

    def test_user_snapshot_is_traced(self):
        # The Snapshot objects are checked (instances come from no free list: their trace is
        # right on the "plain" variant too).
        snapshot = tracemalloc.take_snapshot()
        line = sys._getframe().f_lineno - 1
        traceback = tracemalloc.get_object_traceback(snapshot)
        self.assertIsNotNone(traceback)
        self.assertIn((FILENAME, line), [(f.filename, f.lineno) for f in traceback])
        created = tracemalloc.Snapshot.create()
        line = sys._getframe().f_lineno - 1
        traceback = tracemalloc.get_object_traceback(created)
        self.assertIsNotNone(traceback)
        self.assertIn((FILENAME, line), [(f.filename, f.lineno) for f in traceback])
        # the next snapshot holds them, at the user's line
        later = tracemalloc.take_snapshot()
        self.assertTrue(any(frame.filename == FILENAME and frame.lineno == line
                            for stat in later.statistics("traceback")
                            for frame in stat.traceback))
        # taken with tracing suspended: the tracer's
        with tracemalloc._suspended():
            hidden = tracemalloc.take_snapshot()
        self.assertIsNone(tracemalloc.get_object_traceback(hidden))

    def test_clear_traces_keeps_and_stop_frees_the_tracers_memory(self):
        with tracemalloc._suspended():
            hidden = allocate_bytes(100000)
        own = own_memory()
        self.assertGreaterEqual(own[0], 100000)
        tracemalloc.clear_traces()
        self.assertEqual(own_memory(), own)
        self.assertGreaterEqual(tracemalloc.get_tracemalloc_memory(), own[0])
        tracemalloc.stop()
        self.assertEqual(own_memory(), (0, 0))
        tracemalloc.start(NFRAME)
        self.assertEqual(own_memory(), (0, 0))
        del hidden  # unknown to the new run: nothing to forget
        self.assertEqual(own_memory(), (0, 0))
        # suspended before tracing starts: the thread's depth is kept
        tracemalloc.stop()
        with tracemalloc._suspended():
            tracemalloc.start(NFRAME)
            hidden = allocate_bytes(100000)
        self.assertGreaterEqual(own_memory()[0], 100000)
        self.assertIsNone(tracemalloc.get_object_traceback(hidden))

    def test_user_timer_traced_inside_suspended_work(self):
        # A user's timer that fires while the tracer works (suspended) is traced; the
        # tracer's work goes on suspended after it.
        seen = []

        def user_callback():
            seen.append((engine.is_suspended(), allocate_bytes(60000)))

        timer_id = tracemalloc.start_timer(0.001, user_callback)
        with tracemalloc._suspended():
            fired = churn(lambda: len(seen) > 0)
            still_suspended = engine.is_suspended()
        tracemalloc.stop_timer(timer_id)
        self.assertTrue(fired, "the user's timer never fired")
        self.assertTrue(still_suspended)
        self.assertFalse(seen[0][0])
        traceback = tracemalloc.get_object_traceback(seen[0][1])
        self.assertIsNotNone(traceback)
        self.assertEqual((traceback[-1].filename, traceback[-1].lineno), (FILENAME, BYTES_LINE))

    def test_free_lists(self):
        # A block of the tracer's parked on a free list is nobody's; reused by the user it is
        # the user's. A block of the user's freed by the tracer's work is parked; reused by
        # the tracer's work it is the tracer's. The tuples have 7 items: a free list of
        # their own, which nothing else of the test uses.
        info = tracemalloc.get_interpreter_info()
        items = list(range(1000, 1007))
        with tracemalloc._suspended():
            hidden = make_tuple(items)
        address = id(hidden)
        own = own_memory()
        self.assertIsNone(tracemalloc.get_object_traceback(hidden))
        del hidden
        mine = make_tuple(items)
        if info["free_lists_tracked"]:
            # "track": pushed (parked) then popped; "disabled": freed then allocated
            if info["variant"] == "track":
                self.assertEqual(id(mine), address, "the tuple was not reused")
            self.assertEqual(own_memory()[1], own[1] - 1)
            traceback = tracemalloc.get_object_traceback(mine)
            self.assertIsNotNone(traceback)
            self.assertEqual((traceback[-1].filename, traceback[-1].lineno),
                             (FILENAME, TUPLE_LINE))
        else:
            # without free-list hooks the block stays the tracer's, and its reuse is
            # untraced: "reused objects keep the line that first allocated them" (README)
            self.assertEqual(id(mine), address, "the tuple was not reused from the free list")
            self.assertEqual(own_memory()[1], own[1])
            self.assertIsNone(tracemalloc.get_object_traceback(mine))
            return
        address = id(mine)
        own = own_memory()
        with tracemalloc._suspended():
            del mine
        # parked (or freed): nobody's, neither a trace nor the tracer's
        self.assertEqual(self.trace_at(TUPLE_LINE), [])
        self.assertEqual(own_memory()[1], own[1])
        with tracemalloc._suspended():
            reused = make_tuple(items)
        if info["variant"] == "track":
            self.assertEqual(id(reused), address, "the tuple was not reused from the free list")
        self.assertIsNone(tracemalloc.get_object_traceback(reused))
        self.assertEqual(own_memory()[1], own[1] + 1)
        del reused
        self.assertEqual(own_memory()[1], own[1])

    def test_psutil_import_is_the_tracers(self):
        # get_process_memory() imports psutil at its first call, also in the user's
        # take_snapshot(): the module is the tracer's memory.
        with open(os.path.join(self.tmpdir, "psutil.py"), "w") as module_file:
            module_file.write("DATA = bytearray(200000)\n")
        saved = tracemalloc._psutil, sys.modules.pop("psutil", None)
        tracemalloc._psutil = None
        sys.path.insert(0, self.tmpdir)
        own = own_memory()
        try:
            module = tracemalloc._import_psutil()
        finally:
            sys.path.remove(self.tmpdir)
            tracemalloc._psutil = saved[0]
            sys.modules.pop("psutil", None)
            if saved[1] is not None:
                sys.modules["psutil"] = saved[1]
        self.assertEqual(module.__file__[:len(self.tmpdir)], self.tmpdir)
        self.assertIsNone(tracemalloc.get_object_traceback(module.DATA))
        self.assertGreaterEqual(own_memory()[0] - own[0], 200000)
        self.assertFalse(engine.is_suspended())

    @unittest.skipUnless(hasattr(os, "fork"), "needs os.fork()")
    def test_fork(self):
        # The child inherits both stores and the depth of the forking thread.
        with tracemalloc._suspended():
            kept = allocate_bytes(1 << 20)
            pid = os.fork()
            if pid == 0:
                status = 1
                try:
                    checks = [engine.is_suspended()]
                    before = own_memory()[0]
                    checks.append(before >= 1 << 20)
                    hidden = allocate_bytes(300000)
                    checks.append(tracemalloc.get_object_traceback(hidden) is None
                                  and own_memory()[0] >= before + 300000)
                    engine.resume()
                    shown = allocate_bytes(300000)
                    checks.append(tracemalloc.get_object_traceback(shown) is not None)
                    del kept
                    checks.append(own_memory()[0] <= before + 300000 - (1 << 20) + 65536)
                    # exit status 2 + a bit per failed check
                    status = 0 if all(checks) else 2 + sum(1 << i for i, ok in
                                                           enumerate(checks) if not ok)
                finally:
                    os._exit(status)
        killer = threading.Timer(tmsupport.CHILD_TIMEOUT, os.kill, (pid, signal.SIGKILL))
        killer.start()
        try:
            _, status = os.waitpid(pid, 0)
        finally:
            killer.cancel()
            killer.join()
        self.assertTrue(os.WIFEXITED(status), status)
        self.assertEqual(os.WEXITSTATUS(status), 0)
        self.assertGreaterEqual(own_memory()[0], 1 << 20)
        del kept


class ToolTests(SuspendTestCase):
    """After DisplayTop, TakeSnapshot and DisplayGarbage ran, by hand and by their timers, no
    trace of the process and no trace of the snapshots they wrote has a frame in the
    package."""

    def check_files(self, pattern_prefix):
        names = sorted(name for name in os.listdir(self.tmpdir)
                       if name.startswith(pattern_prefix))
        self.assertTrue(names)
        for name in names:
            snapshot = tracemalloc.Snapshot.load(os.path.join(self.tmpdir, name))
            self.assertIsNotNone(snapshot.traces, name)
            self.assertNoPackageFrame(snapshot.traces._traces, name)
            frames = [frame for stat in snapshot.statistics("traceback")
                      for frame in stat.traceback if is_package_file(frame.filename)]
            self.assertEqual(frames, [], name)
        return names

    def test_by_hand(self):
        stream = tmsupport.text_stream()
        top = tracemalloc.DisplayTop(10, file=stream)
        take = tracemalloc.TakeSnapshot(os.path.join(self.tmpdir, "hand-$counter"))
        take.traces = True
        garbage = tracemalloc.DisplayGarbage(file=stream)
        data = [allocate_bytes(1000) for _ in range(20)]  # something of the user's
        for _ in range(3):
            top.display()
            take.take_snapshot()
            garbage.display()
        with tmsupport.captured("stderr"):
            take._task()
        self.assertIn("Top", stream.getvalue())
        self.assertProcessClean()
        # the user's lines are there
        self.assertTrue(self.trace_at(BYTES_LINE, 1000))
        self.assertEqual(len(self.check_files("hand-")), 4)
        del data

    def test_by_timers(self):
        stream = tmsupport.text_stream()
        top = tracemalloc.DisplayTop(10, file=stream)
        take = tracemalloc.TakeSnapshot(os.path.join(self.tmpdir, "timer-$counter"))
        take.traces = True
        data = [allocate_bytes(1000) for _ in range(20)]
        with tmsupport.captured("stderr") as err:
            top.start(0.001)
            take.start(0.001)
            fired = churn(lambda: take.counter > 10 and stream.getvalue().count("Top") >= 5)
            top.stop()
            take.stop()
        self.assertTrue(fired, "the timers did not fire enough (%d snapshots, %d tops)"
                        % (take.counter - 1, stream.getvalue().count("Top")))
        self.assertIn("Write a snapshot", err.getvalue())
        self.assertProcessClean()
        self.assertGreaterEqual(len(self.check_files("timer-")), 10)
        del data

    def ticks(self, suspend):
        """Run 50 ticks of TakeSnapshot and 10 of DisplayTop (at least) by their timers;
        return the growth of the traced memory. *suspend* False: the control run, with a
        proxy engine that does not suspend (the package as it was without suspension)."""
        real = tracemalloc._engine
        if not suspend:
            tracemalloc._engine = NoSuspendEngine(real)
        saved_stderr = sys.stderr
        # The user's memory, on 200 lines: the tops that DisplayTop keeps have their size.
        user_data = {}
        exec(MANY_LINES, user_data)
        try:
            gc.collect()
            before = tracemalloc.get_traced_memory()[0]
            sys.stderr = Sink()
            top = tracemalloc.DisplayTop(10, file=Sink())
            take = tracemalloc.TakeSnapshot(os.path.join(self.tmpdir, "tick-$counter"))
            displayed = []
            top.user_data_callback = lambda: displayed.append(1) or []
            top.start(0.001)
            take.start(0.001)
            fired = churn(lambda: take.counter > 50 and len(displayed) >= 10)
            take.stop()
            top.stop()
            sys.stderr = saved_stderr
            del displayed[:]
            gc.collect()
            growth = tracemalloc.get_traced_memory()[0] - before
        finally:
            sys.stderr = saved_stderr
            tracemalloc._engine = real
        self.assertTrue(fired, "the timers did not fire enough: %d snapshots" % take.counter)
        self.kept = (top, take)
        return growth

    def test_ticks_leave_traced_memory_flat(self):
        control = self.ticks(suspend=False)
        del self.kept
        self.assertFalse(engine.is_suspended())
        tracemalloc.stop()
        tracemalloc.start(NFRAME)
        own_before = own_memory()
        growth = self.ticks(suspend=True)
        own = own_memory()
        # The tools and what they keep (the top to compare with) are the tracer's memory;
        # the traced memory holds only the two objects the test created.
        self.assertLess(growth, 2048, "traced memory grew by %d bytes over the ticks "
                        "(%d without suspension)" % (growth, control))
        self.assertGreater(control, growth + 4096,
                           "the control run without suspension did not grow: the test "
                           "cannot tell (%d, %d)" % (control, growth))
        self.assertGreater(own[0], own_before[0])
        self.assertGreaterEqual(tracemalloc.get_tracemalloc_memory(), own[0])
        # What the tools keep goes with them, out of the tracer's memory.
        top, take = self.kept
        kept_stats = top._previous[0].stats
        del self.kept, top, take
        gc.collect()
        freed = own[0] - own_memory()[0]
        self.assertGreater(freed, sys.getsizeof(kept_stats) - 1)
        self.assertProcessClean()


MANY_LINES = compile("\n".join("x%d = [%d] * 8" % (i, i) for i in range(200)), "<lines>",
                     "exec")


class NoSuspendEngine(object):
    """The real engine, but suspend() and resume() do nothing (the control run)."""

    def __init__(self, real):
        self._real = real

    def __getattr__(self, name):
        return getattr(self._real, name)

    def suspend(self):
        pass

    def resume(self):
        pass


class CommandLineTests(SuspendTestCase):
    def test_main_runs_suspended(self):
        filename = os.path.join(self.tmpdir, "cli.tms")
        with tracemalloc._suspended():
            # not the user's: its first call may leave caches (os.sysconf on 3.13)
            tracemalloc.take_snapshot().write(filename)
        states = []
        real_load = tracemalloc.Snapshot.__dict__["load"]

        def load(filename):
            states.append(engine.is_suspended())
            return real_load.__get__(None, tracemalloc.Snapshot)(filename)
        tracemalloc.Snapshot.load = staticmethod(load)
        try:
            with tmsupport.captured("stdout") as out:
                status = cli.main([filename, filename])
        finally:
            tracemalloc.Snapshot.load = real_load
        self.assertEqual(status, 0)
        self.assertIn("Top", out.getvalue())
        self.assertEqual(states, [True, True])
        self.assertFalse(engine.is_suspended())
        self.assertProcessClean()


class SuspendedWorkTests(tmsupport.FakeEngineMixin, unittest.TestCase):
    """The package's side, with the fake engine: each tool suspends tracing around its work
    (and resumes it, also on error); a user's timer callback does not run suspended."""

    def depth_seen(self):
        """A user data callback that records the depth it runs at."""
        seen = []

        def callback():
            seen.append(self.engine.suspend_depth)
            return []
        return seen, callback

    def test_tools(self):
        self.engine.tracing = True
        seen, callback = self.depth_seen()
        top = tracemalloc.DisplayTop(3, file=tmsupport.text_stream())
        top.user_data_callback = callback
        top.display()
        top.start(1)
        self.engine.fire_timers()
        top.stop()
        tmpdir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, tmpdir)
        take = tracemalloc.TakeSnapshot(os.path.join(tmpdir, "t-$counter"), callback)
        take.take_snapshot()
        take.start(1)
        with tmsupport.captured("stderr"):
            self.engine.fire_timers()
        take.stop()
        self.assertEqual(len(seen), 4)
        self.assertTrue(all(depth >= 1 for depth in seen), seen)
        self.assertEqual(self.engine.suspend_depth, 0)

    def test_garbage_and_write(self):
        depths = []
        real_get = tracemalloc.get_object_traceback
        tracemalloc.get_object_traceback = lambda obj: depths.append(
            self.engine.suspend_depth)
        try:
            gc.garbage.append(object())
            tracemalloc.DisplayGarbage(file=tmsupport.text_stream()).display()
        finally:
            gc.garbage.pop()
            tracemalloc.get_object_traceback = real_get
        self.assertTrue(depths)
        self.assertEqual(set(depths), set([1]))
        snapshot = tracemalloc.Snapshot(stats={})
        snapshot.extra = object()  # refused by write(): an error inside the suspension
        tmpdir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, tmpdir)
        self.assertRaises(tracemalloc.SnapshotError, snapshot.write,
                          os.path.join(tmpdir, "bad"))
        self.assertEqual(self.engine.suspend_depth, 0)
        self.assertEqual(self.engine.max_suspend_depth, 1)

    def test_user_timer_not_suspended(self):
        seen = []
        tracemalloc.start_timer(1, lambda: seen.append(self.engine.suspend_depth))
        with tracemalloc._suspended():
            self.engine.fire_timers()
        self.assertEqual(seen, [0])
        self.assertEqual(self.engine.suspend_depth, 0)

    def test_user_snapshots_not_suspended(self):
        self.engine.tracing = True
        tracemalloc.take_snapshot()
        tracemalloc.Snapshot.create()
        self.assertEqual(self.engine.max_suspend_depth, 0)

    def test_context_manager_allocates_no_bound_method(self):
        # __enter__ and __exit__ are found on the type without a bound method to create
        manager = tracemalloc._suspended()
        self.assertIs(manager, tracemalloc._suspended())
        self.assertIs(type(manager).__dict__["__enter__"].__get__(manager, type(manager)),
                      type(manager).__dict__["__enter__"].__get__(None, type(manager)))


if __name__ == "__main__":
    unittest.main()
