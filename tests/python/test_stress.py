"""Stress tests of the engine: races between threads and the calls that change the engine's
state, fork while threads allocate, and many start/stop cycles. Each runs in a child
interpreter with a time limit, so that a crash or a deadlock fails the test instead of
hanging the suite, and each is bounded by a number of operations, not by time.

TRACEMALLOC_TEST_STRESS=N multiplies every count by N (README, "Reliability"): the default
of 1 takes seconds; the runs recorded in the README used larger values.
"""
from __future__ import absolute_import

import json
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "support"))
import tmsupport  # noqa: E402 (must come first: chooses the package and the engine)

DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
RACES = os.path.join(DATA_DIR, "stress_races.py")


def scale():
    try:
        return max(1, int(os.environ.get("TRACEMALLOC_TEST_STRESS", "1")))
    except ValueError:
        return 1


def run_child(test, args, timeout):
    """Run the package's interpreter on args; return its last stdout line as JSON, after
    checking that it exited with 0 (a crash, a deadlock killed by the time limit, or a
    failed check all fail *test* with the child's stderr)."""
    status, out, err = tmsupport.run_python(args, timeout=timeout)
    test.assertEqual(status, 0, "exit status %s\nstdout: %s\nstderr: %s" % (status, out, err))
    lines = out.strip().splitlines()
    test.assertTrue(lines, "no output; stderr: %s" % err)
    return json.loads(lines[-1])


@unittest.skipIf(tmsupport.USING_FAKE_ENGINE, tmsupport.SKIP_REASON)
class RaceTests(unittest.TestCase):
    def test_threads_race_the_engine_calls(self):
        operations = 2000 * scale()
        for seed in (1, 2):
            result = run_child(self, [RACES, str(operations), str(seed)], 120 * scale())
            self.assertEqual(result["errors"], [])
            self.assertEqual(result["traced"], result["sum"])
            self.assertGreater(result["traced"], 0)
            self.assertEqual(result["lost"], 0)
            counts = result["counts"]
            # every operation of the threads and of the main thread happened
            self.assertEqual(sum(n for what, n in counts.items() if what.startswith("thread ")),
                             8 * operations)
            for what in ("restart", "snapshot", "clear", "reset_peak", "object_traceback",
                         "timer", "thread allocate", "thread free", "thread realloc"):
                self.assertGreater(counts.get(what, 0), 0, what)
            py3 = sys.version_info[0] >= 3
            self.assertEqual(result["subinterpreters"], py3)
            if py3:
                self.assertGreater(counts.get("thread subinterpreter", 0), 0)
            self.assertEqual(result["track"], py3 and not tmsupport.STOCK_INTERPRETER)
            if result["track"]:
                self.assertGreater(counts.get("thread track", 0), 0)
                self.assertGreater(counts.get("thread untrack", 0), 0)


FORK_CHILD = r"""
import json, os, sys, threading, time, warnings
import tracemalloc

forks = int(sys.argv[1])
stop = []

def allocate():
    held = []
    while not stop:
        held.append(b"t" * 300)
        held.append([1] * 20)
        if len(held) > 200:
            del held[:100]

tracemalloc.start(10)
threads = [threading.Thread(target=allocate) for _ in range(4)]
for thread in threads:
    thread.start()
failures = []
with warnings.catch_warnings():
    # 3.12+ warns that fork() in a process with threads may deadlock: that is what we test.
    warnings.simplefilter("ignore", DeprecationWarning)
    for i in range(forks):
        pid = os.fork()
        if pid == 0:
            status = 1
            try:
                obj = b"c" * 5000
                ok = (tracemalloc.is_tracing()
                      and tracemalloc.get_object_traceback(obj) is not None
                      and tracemalloc.get_traced_memory()[0] >= 5000)
                snapshot = tracemalloc.take_snapshot()
                ok = ok and snapshot.statistics("lineno")
                traced = tracemalloc.get_traced_memory()[0]
                total = sum(t.size for t in snapshot.traces)
                ok = ok and traced > 0 and total > 0
                tracemalloc.stop()
                status = 0 if ok else 3
            finally:
                os._exit(status)
        deadline = time.time() + 30
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if time.time() > deadline:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
                status = "deadlock"
                break
            time.sleep(0.001)
        if status != 0:
            failures.append((i, status))
stop.append(True)
for thread in threads:
    thread.join()
tracemalloc.stop()
print(json.dumps({"forks": forks, "failures": failures}))
"""


@unittest.skipIf(tmsupport.USING_FAKE_ENGINE, tmsupport.SKIP_REASON)
class ForkTests(unittest.TestCase):
    def test_fork_while_threads_allocate(self):
        forks = 100 * scale()
        result = run_child(self, ["-c", FORK_CHILD, str(forks)], 60 + 60 * scale())
        self.assertEqual(result, {"forks": forks, "failures": []})


SUBINTERPRETERS_CHILD = r"""
import sys, threading, time
import tracemalloc
try:
    import _interpreters as interpreters
except ImportError:
    import _xxsubinterpreters as interpreters

count = int(sys.argv[1])
done = []

def churn():
    for i in range(count):
        interp = interpreters.create()
        interpreters.run_string(interp, "x = [str(i) for i in range(2000)]\nclass A: pass\n")
        interpreters.destroy(interp)
    done.append(True)

threads = [threading.Thread(target=churn) for _ in range(2)]
for thread in threads:
    thread.start()
cycles = 0
while len(done) < len(threads):
    tracemalloc.start(1)
    tracemalloc.stop()
    cycles += 1
    if cycles % 50 == 0:
        time.sleep(0.001)  # 3.11's subinterpreters share the GIL: let them on
for thread in threads:
    thread.join()
print('{"subinterpreters": %d, "cycles": %d}' % (2 * count, cycles))
"""


@unittest.skipIf(tmsupport.USING_FAKE_ENGINE, tmsupport.SKIP_REASON)
@unittest.skipIf(sys.version_info[0] < 3, "Python 2.7 has no subinterpreters module")
class SubinterpreterTests(unittest.TestCase):
    def test_hooks_installed_while_subinterpreters_run(self):
        # 3.13's subinterpreters have a GIL of their own: one of them freed through our OBJ
        # hook with pymalloc's NULL ctx, read while start() installed the hook (a crash in 2
        # runs of 3 before the hooks stopped reading their ctx).
        count = 100 * scale()
        result = run_child(self, ["-c", SUBINTERPRETERS_CHILD, str(count)], 120 * scale())
        self.assertEqual(result["subinterpreters"], 2 * count)
        self.assertGreater(result["cycles"], 0)


RESTART_CHILD = r"""
import json, sys
import tracemalloc

cycles = int(sys.argv[1])

def rss():
    with open("/proc/self/statm") as stream:
        return int(stream.read().split()[1]) * 4096

def cycle(i):
    tracemalloc.start(1 + i % 30)
    held = [b"x" * (i % 700) for _ in range(10)]
    held.append({i: str(i)})
    tracemalloc.get_traced_memory()
    tracemalloc.get_object_traceback(held[0])
    tracemalloc.stop()

def fresh_store_memory():
    # the second of two fresh stores: the first after a run of cycles may still hold what
    # the last one left (3,888 B once on 2.7 "plain", then never again)
    for _ in range(2):
        tracemalloc.start(1)
        memory = tracemalloc.get_tracemalloc_memory()
        tracemalloc.stop()
    return memory

warmup = min(1000, cycles // 10)
for i in range(warmup):
    cycle(i)
memory_before = fresh_store_memory()
rss_before = rss()
i = 0
while i < cycles:  # no range(): on 2.7 a list of every int would grow the RSS
    cycle(i)
    i += 1
rss_after = rss()
memory_after = fresh_store_memory()
print(json.dumps({"rss_before": rss_before, "rss_after": rss_after,
                  "memory_before": memory_before, "memory_after": memory_after}))
"""


@unittest.skipIf(tmsupport.USING_FAKE_ENGINE, tmsupport.SKIP_REASON)
class RestartTests(unittest.TestCase):
    def test_start_stop_cycles_keep_memory_flat(self):
        if tmsupport.address_sanitizer():
            self.skipTest(tmsupport.ASAN_SKIP_REASON)
        cycles = 10000 * scale()
        result = run_child(self, ["-c", RESTART_CHILD, str(cycles)], 120 * scale())
        growth = result["rss_after"] - result["rss_before"]
        self.assertLess(growth, 1024 * 1024, result)
        # no table kept growing: a fresh store takes what it took after the warm-up
        self.assertEqual(result["memory_after"], result["memory_before"], result)


if __name__ == "__main__":
    unittest.main()
