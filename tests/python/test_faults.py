"""Faults: the engine's own allocations failing one at a time (the test-only switch
_engine._fail_allocation), a program running out of memory under tracing, and a process
killed while TakeSnapshot writes its file. Nothing may crash or deadlock, tracing goes on,
the lost traces are counted and shown, and the counters stay consistent.
"""
from __future__ import absolute_import

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "support"))
import tmsupport  # noqa: E402 (must come first: chooses the package and the engine)
from tmsupport import tracemalloc  # noqa: E402

engine = tmsupport.REAL_ENGINE
DOMAIN = 4343

# The sites of the engine's allocations (TmAllocSite, module/engine/store.h).
STORE_SITES = {"trace table", "domain table", "traceback vector", "traceback set",
               "traceback", "node vector", "node set", "domain group"}
COPY_SITES = {"copy traceback", "copy items", "copy line"}
# Sites that only a domain other than 0 reaches: PyTraceMalloc_Track (3.x, patched).
DOMAIN_SITES = {"domain table", "domain group"}


def load_track():
    if sys.version_info[0] < 3 or tmsupport.STOCK_INTERPRETER:
        return None
    import ctypes
    track = ctypes.pythonapi.PyTraceMalloc_Track
    track.restype = ctypes.c_int
    track.argtypes = [ctypes.c_uint, ctypes.c_size_t, ctypes.c_size_t]
    return track


def allocate_at_depth(depth, size=64):
    """A block whose traceback has depth + 1 frames: a distinct traceback per depth."""
    if depth:
        return allocate_at_depth(depth - 1, size)
    return b"d" * size


def consistent():
    """(traced memory, sum of every trace's size) read with tracing suspended here."""
    engine.suspend()
    try:
        for _ in range(20):
            before = engine.get_traced_memory()[0]
            total = sum(trace[1] for trace in engine.get_traces())
            if engine.get_traced_memory()[0] == before:
                return before, total
        return None, None
    finally:
        engine.resume()


@unittest.skipIf(tmsupport.USING_FAKE_ENGINE, tmsupport.SKIP_REASON)
class FailAllocationTests(unittest.TestCase):
    """Sweep the switch over every allocation of a workload: each run makes the n-th one
    fail, for n from 1 to the number the workload makes."""

    def setUp(self):
        self.was_tracing = engine.is_tracing()
        self.limit = engine.get_traceback_limit() if self.was_tracing else 1
        engine.stop()
        self.track = load_track()

    def tearDown(self):
        engine.stop()
        if self.was_tracing:
            engine.start(self.limit)

    def workload(self, held):
        """Allocations that reach every site; returns the calls that raised MemoryError
        (a copy for Python failed) after retrying each once, which must then succeed."""
        failed_calls = []
        for depth in range(40):
            held.append(allocate_at_depth(depth))
        held.extend(b"t" * (i % 300) for i in range(3000))
        if self.track is not None:
            for i in range(40):
                self.assertIn(self.track(DOMAIN, 0x7000000 + 16 * i, 10 + i), (0, -1))
        for name, call in (("snapshot", tracemalloc.take_snapshot),
                           ("traceback", lambda: engine.get_object_traceback(held[0])),
                           ("stats", engine.get_stats),
                           ("peak traces", engine.get_peak_traces)):
            try:
                call()
            except MemoryError:
                failed_calls.append(name)
                call()
        return failed_calls

    def test_every_site_fails_once(self):
        # how many allocations the workload makes, without a failure
        engine.start(25)
        held = []
        self.assertEqual(self.workload(held), [])
        attempts, sites = engine._get_allocation_faults()
        self.assertEqual(sites, [])
        engine.stop()
        del held[:]

        hit = set()
        for n in range(1, attempts + 1):
            engine.start(25)
            engine._fail_allocation(n)
            failed_calls = self.workload(held)
            self.assertTrue(engine.is_tracing())
            # read with tracing suspended here, so that the switch, if it has not fired yet,
            # does not fire in between (a suspended thread's blocks are not in the traces)
            engine.suspend()
            try:
                made, sites = engine._get_allocation_faults()
                lost = engine.get_lost_traces()
                engine._fail_allocation(0)
            finally:
                engine.resume()
            sites = set(sites)
            self.assertLessEqual(len(sites), 1, (n, sites))
            hit |= sites
            if sites & STORE_SITES:
                # a trace lost, counted, and shown by the snapshot taken since
                self.assertGreaterEqual(lost, 1, (n, sites))
                self.assertEqual(tracemalloc.take_snapshot().lost_traces, lost)
            else:
                self.assertEqual(lost, 0, (n, sites))
            self.assertEqual(bool(failed_calls), bool(sites & COPY_SITES), (n, sites))
            traced, total = consistent()
            self.assertEqual(traced, total, (n, sites))
            # tracing goes on: a new object is traced
            obj = allocate_at_depth(3)
            self.assertIsNotNone(engine.get_object_traceback(obj), (n, sites))
            engine.stop()
            del held[:]
        expected = STORE_SITES | COPY_SITES
        if self.track is None:
            expected -= DOMAIN_SITES
        self.assertEqual(sorted(hit), sorted(expected))

    def test_not_tracing(self):
        self.assertRaises(RuntimeError, engine._fail_allocation, 1)
        self.assertIsNone(engine._get_allocation_faults())

    def test_zero_cancels(self):
        engine.start(1)
        engine._fail_allocation(1000000)
        engine._fail_allocation(0)
        held = [allocate_at_depth(depth) for depth in range(20)]
        self.assertEqual(engine._get_allocation_faults()[1], [])
        self.assertEqual(engine.get_lost_traces(), 0)
        del held


OUT_OF_MEMORY = r"""
import resource, sys
limit = int(sys.argv[1])
if sys.argv[2] == "traced":
    import tracemalloc
    tracemalloc.start(10)
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
results = []
try:
    b"x" * (2 * limit)
except MemoryError as exc:
    results.append(type(exc).__name__)
held = []
try:
    while True:
        held.append(bytearray(1 << 20))
        held.append([len(held)] * 1000)
except MemoryError as exc:
    results.append(type(exc).__name__)
del held[:]
# the process goes on once memory is back
data = [str(i) for i in range(10000)]
results.append(len(data))
if sys.argv[2] == "traced":
    results.append(tracemalloc.is_tracing())
    results.append(tracemalloc.get_object_traceback(data[-1]) is not None)
sys.stdout.write("%r\n" % (results,))
"""


@unittest.skipIf(tmsupport.USING_FAKE_ENGINE, tmsupport.SKIP_REASON)
class OutOfMemoryTests(unittest.TestCase):
    def run_limited(self, mode):
        # the interpreter's address space after startup is far below this
        limit = 600 * 1024 * 1024
        status, out, err = tmsupport.run_python(["-c", OUT_OF_MEMORY, str(limit), mode],
                                                timeout=120)
        self.assertEqual(status, 0, "%s: exit status %s\n%s%s" % (mode, status, out, err))
        return out.strip()

    def test_same_memory_error_traced_and_not(self):
        if tmsupport.address_sanitizer():
            self.skipTest(tmsupport.ASAN_SKIP_REASON)
        if tmsupport.thread_sanitizer():
            self.skipTest(tmsupport.TSAN_SKIP_REASON)
        if tmsupport.valgrind():
            self.skipTest(tmsupport.VALGRIND_SKIP_REASON)
        plain = self.run_limited("plain")
        traced = self.run_limited("traced")
        self.assertEqual(plain, "['MemoryError', 'MemoryError', 10000]")
        self.assertEqual(traced, "['MemoryError', 'MemoryError', 10000, True, True]")


WRITER = r"""
import os, sys, time
import tracemalloc
filename, mode = sys.argv[1], sys.argv[2]
real_fsync = os.fsync

def fsync(fd):
    # the temporary file is written and about to be synced: say so, and wait for the kill
    if mode == "fsync":
        sys.stdout.write("fsync\n")
        sys.stdout.flush()
        time.sleep(60)
    real_fsync(fd)

os.fsync = fsync
tracemalloc.start(5)
held = [b"x" * (2 + i % 20000) for i in range(int(sys.argv[3]))]
task = tracemalloc.TakeSnapshot(filename)
task.traces = True
sys.stdout.write("ready\n")
sys.stdout.flush()
while True:
    task.take_snapshot()
"""

TRACES = 100000


@unittest.skipIf(tmsupport.USING_FAKE_ENGINE, tmsupport.SKIP_REASON)
class KilledWriterTests(unittest.TestCase):
    """SIGKILL while TakeSnapshot writes a big snapshot (100,000 traces): the file's final
    name is absent, the old file or a complete new one, never a truncated one."""

    def setUp(self):
        self.directory = tempfile.mkdtemp(prefix="test_faults-")
        self.filename = os.path.join(self.directory, "big.tms")

    def tearDown(self):
        shutil.rmtree(self.directory)

    def start_writer(self, mode):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, self.filename, mode,
                                 str(TRACES)], stdout=subprocess.PIPE,
                                env=tmsupport.child_env())
        self.addCleanup(self.kill, proc)
        self.assertEqual(proc.stdout.readline().strip(), b"ready")
        return proc

    def kill(self, proc):
        if proc.returncode is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            proc.stdout.close()

    def final_file(self):
        """None if absent, else its content, after checking it loads completely."""
        if not os.path.exists(self.filename):
            return None
        snapshot = tracemalloc.Snapshot.load(self.filename)
        self.assertGreaterEqual(len(snapshot.traces), TRACES)
        with open(self.filename, "rb") as stream:
            return stream.read()

    def temporary_files(self):
        return [name for name in os.listdir(self.directory) if name.endswith(".tmp")]

    def test_kill_while_the_temporary_file_is_written(self):
        for previous in (None, "complete"):
            before = self.final_file()
            self.assertEqual(before is None, previous is None)
            temporary = self.temporary_files()
            proc = self.start_writer("fsync")
            self.assertEqual(proc.stdout.readline().strip(), b"fsync")
            self.assertEqual(len(self.temporary_files()), len(temporary) + 1)
            self.kill(proc)
            # the final name is as it was: absent, or the complete file of before
            self.assertEqual(self.final_file(), before)
            if previous is None:
                # a complete file for the second round
                proc = self.start_writer("plain")
                while not os.path.exists(self.filename):
                    time.sleep(0.01)
                self.kill(proc)

    def test_kill_at_several_moments(self):
        # before the first file is complete, or after: the final name is absent or complete
        for delay in (0.0, 0.01, 0.03, 0.06, 0.1, 0.2, 0.4):
            proc = self.start_writer("plain")
            time.sleep(delay)
            self.kill(proc)
            self.final_file()
        # over a complete file, whatever a loaded machine makes of the delays above
        proc = self.start_writer("plain")
        deadline = time.time() + 60
        while not os.path.exists(self.filename) and time.time() < deadline:
            time.sleep(0.01)
        self.kill(proc)
        self.assertIsNotNone(self.final_file())
        for delay in (0.0, 0.02, 0.05, 0.1, 0.2):
            proc = self.start_writer("plain")
            time.sleep(delay)
            self.kill(proc)
            self.assertIsNotNone(self.final_file())


if __name__ == "__main__":
    unittest.main()
