"""The C API routed to our engine on a patched 3.x: PyTraceMalloc_Track/Untrack,
_PyTraceMalloc_GetTraceback, _PyMem_DumpTraceback (PYTHONMALLOC=debug reports), and the
stdlib users of tracemalloc (the warnings module's "Object allocated at")."""
from __future__ import absolute_import

import json
import os
import signal
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "support"))
import tmsupport  # noqa: E402 (must come first: chooses the package and the engine)
from tmsupport import tracemalloc  # noqa: E402

engine = tmsupport.REAL_ENGINE
PATCHED_3X = (engine is not None and sys.version_info[0] >= 3
              and not tmsupport.STOCK_INTERPRETER)
if engine is None:
    NOT_PATCHED_3X = tmsupport.SKIP_REASON
elif sys.version_info[0] < 3:
    NOT_PATCHED_3X = "Python 2.7 has neither PyTraceMalloc_Track() nor these stdlib users"
else:
    NOT_PATCHED_3X = ("a stock interpreter routes the C API to its own tracemalloc, not to "
                      "this engine")

try:
    import _testcapi
except ImportError:
    _testcapi = None

DOMAIN = 7


@unittest.skipUnless(PATCHED_3X, NOT_PATCHED_3X)
class TrackApiTests(unittest.TestCase):
    def setUp(self):
        # the patched 3.x builds _testcapi, which has had these since 3.7
        tmsupport.require(self, _testcapi is not None, "the _testcapi module is missing")
        tmsupport.require(self, hasattr(_testcapi, "tracemalloc_track"),
                          "_testcapi.tracemalloc_track is missing")
        self.was_tracing = engine.is_tracing()
        tracemalloc.stop()

    def tearDown(self):
        tracemalloc.stop()
        if self.was_tracing:
            tracemalloc.start()

    def domain_traces(self):
        return [t for t in engine.get_traces() if t[0] == DOMAIN]

    def test_track_untrack(self):
        tracemalloc.start(5)
        self.assertIsNone(_testcapi.tracemalloc_track(DOMAIN, 0x12340, 1000))
        line = sys._getframe().f_lineno - 1
        traces = self.domain_traces()
        self.assertEqual(len(traces), 1)
        domain, size, traceback, total = traces[0]
        self.assertEqual(size, 1000)
        self.assertEqual(traceback[0], (__file__.replace(".pyc", ".py"), line))
        # 3.11's _testcapi exposes _PyTraceMalloc_GetTraceback; 3.13 dropped the function
        get_traceback = getattr(_testcapi, "tracemalloc_get_traceback", None)
        if get_traceback is not None:
            self.assertEqual(get_traceback(DOMAIN, 0x12340), traceback)
        self.assertIsNone(_testcapi.tracemalloc_untrack(DOMAIN, 0x12340))
        self.assertEqual(self.domain_traces(), [])
        if get_traceback is not None:
            self.assertIsNone(get_traceback(DOMAIN, 0x12340))

    def test_not_tracing(self):
        # the stock functions return -2 when not tracing: _testcapi raises for it
        self.assertRaises(RuntimeError, _testcapi.tracemalloc_track, DOMAIN, 0x12340, 10)
        self.assertRaises(RuntimeError, _testcapi.tracemalloc_untrack, DOMAIN, 0x12340)


@unittest.skipUnless(PATCHED_3X, NOT_PATCHED_3X)
class StdlibUsersTests(unittest.TestCase):
    def test_resource_warning_names_the_allocation(self):
        code = "f = open(%r)\ndel f\n" % os.devnull
        status, out, err = tmsupport.run_python(
            ["-X", "tracemalloc=5", "-W", "always", "-c", code])
        self.assertEqual(status, 0, err)
        self.assertIn("ResourceWarning: unclosed file", err)
        self.assertIn("Object allocated at (most recent call last):", err)
        self.assertIn('File "<string>", lineno 1', err)

    def test_asyncio_debug_unclosed_loop_names_the_allocation(self):
        code = ("import asyncio, gc\n"
                "loop = asyncio.new_event_loop()\n"
                "del loop\n"
                "gc.collect()\n")
        env = tmsupport.child_env(PYTHONASYNCIODEBUG="1")
        status, out, err = tmsupport.run_python(
            ["-X", "tracemalloc=5", "-W", "always", "-c", code], env=env)
        self.assertEqual(status, 0, err)
        self.assertIn("ResourceWarning: unclosed event loop", err)
        self.assertIn("Object allocated at (most recent call last):\n"
                      '  File "<string>", lineno 2\n', err)

    def require_buffer_overflow(self):
        tmsupport.require(self, _testcapi is not None and hasattr(_testcapi,
                                                                  "pymem_buffer_overflow"),
                          "_testcapi.pymem_buffer_overflow is missing")

    def test_debug_allocator_report_names_the_allocation(self):
        self.require_buffer_overflow()
        env = tmsupport.child_env(PYTHONMALLOC="debug")
        code = "import _testcapi\n_testcapi.pymem_buffer_overflow()\n"
        status, out, err = tmsupport.run_python(["-X", "tracemalloc=5", "-c", code], env=env)
        # the debug allocator's fatal error aborts the child
        self.assertEqual(status, -signal.SIGABRT, err)
        self.assertIn("bad trailing pad byte", err)
        self.assertIn("Memory block allocated at (most recent call first):\n"
                      '  File "<string>", line 2\n', err)

    def test_debug_allocator_without_tracing(self):
        self.require_buffer_overflow()
        env = tmsupport.child_env(PYTHONMALLOC="debug")
        code = "import _testcapi\n_testcapi.pymem_buffer_overflow()\n"
        status, out, err = tmsupport.run_python(["-c", code], env=env)
        self.assertEqual(status, -signal.SIGABRT, err)
        self.assertIn("bad trailing pad byte", err)
        self.assertIn("Enable tracemalloc to get the memory block allocation traceback", err)


def subinterpreters_module():
    for name in ("_interpreters", "_xxsubinterpreters"):
        try:
            return __import__(name)
        except ImportError:
            pass
    return None


# The child's helpers: run(interp, code) runs code in a subinterpreter and raises if it failed
# (3.11's _xxsubinterpreters.run_string raises RunFailedError; 3.13's _interpreters.run_string
# returns None or an exception snapshot); the code writes what it computed to the pipe wfd,
# read back with results().
SUBINTERPRETER_PRELUDE = """\
import os, sys, tracemalloc
sub = __import__(%r)
rfd, wfd = os.pipe()
def run(interp, code):
    result = sub.run_string(interp, code)
    if result is not None:
        raise RuntimeError("the subinterpreter failed: %%s"
                           %% (getattr(result, "formatted", None) or result,))
def results():
    os.close(wfd)
    chunks = []
    while True:
        chunk = os.read(rfd, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(rfd)
    return b"".join(chunks).decode("ascii").split()
interp = sub.create()
try:
    run(interp, "raise ValueError('expected failure')")
except Exception as exc:
    assert "expected failure" in str(exc), exc
else:
    raise AssertionError("a failure in the subinterpreter went unnoticed")
sub.destroy(interp)
tracemalloc.start(10)
"""


@unittest.skipIf(engine is None, tmsupport.SKIP_REASON)
@unittest.skipIf(sys.version_info[0] < 3, "Python 2.7 has no subinterpreter module")
class SubinterpreterTests(unittest.TestCase):
    """Stock 3.12/3.13 crashed when a subinterpreter came and went while tracing
    (gh-134604, gh-144172); its objects must also leave no reference in our tables."""

    # the code run in the subinterpreters: writes the length of its JSON document to the
    # pipe WFD (the child's wfd)
    SOURCE = ("import json, os\n"
              "data = [str(i) * 3 for i in range(20000)]\n"
              "kept = json.dumps(data)\n"
              "os.write(WFD, ('%d ' % len(kept)).encode('ascii'))\n")
    CODE = "exec(compile(%r, 'subinterpreter-code', 'exec'))\n" % SOURCE
    EXPECTED = str(len(json.dumps([str(i) * 3 for i in range(20000)])))

    def code(self):
        return "SUB_CODE = %r.replace('WFD', str(wfd))\n" % self.CODE

    def run_in_child(self, body):
        code = (SUBINTERPRETER_PRELUDE % subinterpreters_module().__name__) + self.code() + body
        status, out, err = tmsupport.run_python(["-c", code])
        self.assertEqual((status, err), (0, ""), out)
        return out

    def setUp(self):
        tmsupport.require(self, subinterpreters_module() is not None,
                          "no subinterpreter module (_interpreters, _xxsubinterpreters)")

    def test_create_run_destroy_while_tracing(self):
        out = self.run_in_child(
            "for i in range(5):\n"
            "    interp = sub.create()\n"
            "    run(interp, SUB_CODE)\n"
            "    sub.destroy(interp)\n"
            "import gc; gc.collect()\n"
            "traces = tracemalloc._engine.get_traces()\n"
            "files = set(f for t in traces for f, l in t[2])\n"
            "tracemalloc.stop()\n"
            "sys.stdout.write('%d %s %s' % (len(traces), 'subinterpreter-code' in files,\n"
            "                               ','.join(results())))\n")
        count, seen, ran = out.split()
        self.assertTrue(int(count) > 0)
        # the subinterpreters' allocations carry no frame: no filename object of theirs
        self.assertEqual(seen, "False")
        # the code ran to its end in each of the five subinterpreters
        self.assertEqual(ran.split(","), [self.EXPECTED] * 5)

    def test_subinterpreter_in_a_thread_while_main_allocates(self):
        out = self.run_in_child(
            "import threading\n"
            "errors = []\n"
            "def worker():\n"
            "    try:\n"
            "        interp = sub.create()\n"
            "        for i in range(3):\n"
            "            run(interp, SUB_CODE)\n"
            "        sub.destroy(interp)\n"
            "    except BaseException as exc:\n"
            "        errors.append(repr(exc))\n"
            "threads = [threading.Thread(target=worker) for i in range(2)]\n"
            "for t in threads: t.start()\n"
            "junk = [dict(a=i) for i in range(100000)]\n"
            "for t in threads: t.join(300)\n"
            "assert not any(t.is_alive() for t in threads), 'a worker hangs'\n"
            "assert not errors, errors\n"
            "snapshot = tracemalloc.take_snapshot()\n"
            "assert snapshot.traces, 'no trace'\n"
            "tracemalloc.stop()\n"
            "sys.stdout.write(','.join(results()))\n")
        self.assertEqual(out.split(","), [self.EXPECTED] * 6)


if __name__ == "__main__":
    unittest.main()
