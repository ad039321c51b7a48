"""The C API routed to our engine on a patched 3.x: PyTraceMalloc_Track/Untrack,
_PyTraceMalloc_GetTraceback, _PyMem_DumpTraceback (PYTHONMALLOC=debug reports), and the
stdlib users of tracemalloc (the warnings module's "Object allocated at")."""
from __future__ import absolute_import

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tmsupport  # noqa: E402 (must come first: chooses the package and the engine)
from tmsupport import tracemalloc  # noqa: E402

engine = tmsupport.REAL_ENGINE
PATCHED_3X = (engine is not None and sys.version_info[0] >= 3
              and not tmsupport.STOCK_INTERPRETER)

try:
    import _testcapi
except ImportError:
    _testcapi = None

DOMAIN = 7


@unittest.skipUnless(PATCHED_3X, "needs a patched 3.x interpreter (the C API is routed there)")
class TrackApiTests(unittest.TestCase):
    def setUp(self):
        if _testcapi is None or not hasattr(_testcapi, "tracemalloc_track"):
            self.skipTest("_testcapi.tracemalloc_track is missing")
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


@unittest.skipUnless(PATCHED_3X, "needs a patched 3.x interpreter")
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

    def test_debug_allocator_report_names_the_allocation(self):
        if _testcapi is None or not hasattr(_testcapi, "pymem_buffer_overflow"):
            self.skipTest("_testcapi.pymem_buffer_overflow is missing")
        env = tmsupport.child_env(PYTHONMALLOC="debug")
        code = "import _testcapi\n_testcapi.pymem_buffer_overflow()\n"
        status, out, err = tmsupport.run_python(["-X", "tracemalloc=5", "-c", code], env=env)
        self.assertNotEqual(status, 0)
        self.assertIn("bad trailing pad byte", err)
        self.assertIn("Memory block allocated at (most recent call first):\n"
                      '  File "<string>", line 2\n', err)

    def test_debug_allocator_without_tracing(self):
        if _testcapi is None or not hasattr(_testcapi, "pymem_buffer_overflow"):
            self.skipTest("_testcapi.pymem_buffer_overflow is missing")
        env = tmsupport.child_env(PYTHONMALLOC="debug")
        code = "import _testcapi\n_testcapi.pymem_buffer_overflow()\n"
        status, out, err = tmsupport.run_python(["-c", code], env=env)
        self.assertIn("Enable tracemalloc to get the memory block allocation traceback", err)


def subinterpreters_module():
    for name in ("_interpreters", "_xxsubinterpreters"):
        try:
            return __import__(name)
        except ImportError:
            pass
    return None


@unittest.skipIf(engine is None or sys.version_info[0] < 3, "needs the engine on 3.x")
class SubinterpreterTests(unittest.TestCase):
    """Stock 3.12/3.13 crashed when a subinterpreter came and went while tracing
    (gh-134604, gh-144172); its objects must also leave no reference in our tables."""

    CODE = ("exec(compile('import json\\n"
            "data = [str(i) * 3 for i in range(20000)]\\n"
            "kept = json.dumps(data)\\n', 'subinterpreter-code', 'exec'))\n")

    def run_in_child(self, body):
        code = ("import sys, tracemalloc\n"
                "mod = %r\n"
                "sub = __import__(mod)\n"
                "tracemalloc.start(10)\n" % subinterpreters_module().__name__) + body
        status, out, err = tmsupport.run_python(["-c", code])
        self.assertEqual((status, err), (0, ""), out)
        return out

    def setUp(self):
        if subinterpreters_module() is None:
            self.skipTest("no subinterpreter module")

    def test_create_run_destroy_while_tracing(self):
        out = self.run_in_child(
            "for i in range(5):\n"
            "    interp = sub.create()\n"
            "    sub.run_string(interp, %r)\n"
            "    sub.destroy(interp)\n"
            "import gc; gc.collect()\n"
            "traces = tracemalloc._engine.get_traces()\n"
            "files = set(f for t in traces for f, l in t[2])\n"
            "sys.stdout.write('%%d %%s' %% (len(traces), 'subinterpreter-code' in files))\n"
            "tracemalloc.stop()\n" % self.CODE)
        count, seen = out.split()
        self.assertTrue(int(count) > 0)
        # the subinterpreters' allocations carry no frame: no filename object of theirs
        self.assertEqual(seen, "False")

    def test_subinterpreter_in_a_thread_while_main_allocates(self):
        self.run_in_child(
            "import threading\n"
            "def worker():\n"
            "    interp = sub.create()\n"
            "    for i in range(3):\n"
            "        sub.run_string(interp, %r)\n"
            "    sub.destroy(interp)\n"
            "threads = [threading.Thread(target=worker) for i in range(2)]\n"
            "for t in threads: t.start()\n"
            "junk = [dict(a=i) for i in range(100000)]\n"
            "for t in threads: t.join()\n"
            "tracemalloc.take_snapshot() if hasattr(tracemalloc, 'take_snapshot') else None\n"
            "tracemalloc.stop()\n" % self.CODE)


if __name__ == "__main__":
    unittest.main()
