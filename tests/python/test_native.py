"""The native domain: blocks that C code takes straight from malloc & co., traced through the
preloadable library in NATIVE_DOMAIN to the calling Python line, never twice (tracemalloc/
_native.py, tracemalloc/native.py, module/engine/native.c, module/native/preload.c).

Each test runs a child interpreter with the library preloaded (it must be there at exec) and
a small C library that the test compiles with cc; the child prints a JSON document that the
test checks."""
from __future__ import absolute_import

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "support"))
import tmsupport  # noqa: E402 (must come first: chooses the package and the engine)
from tmsupport import tracemalloc  # noqa: E402

# The C library of the tests: each function allocates straight from the C allocator.
C_SOURCE = r"""
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

void *nt_malloc(size_t n) { char *p = malloc(n); if (p != NULL) memset(p, 1, n); return p; }
void *nt_calloc(size_t n) { return calloc(n, 1); }
void *nt_realloc(void *p, size_t n) { return realloc(p, n); }
void *nt_posix_memalign(size_t n) { void *p = NULL; return posix_memalign(&p, 64, n) ? NULL : p; }
void *nt_aligned_alloc(size_t n) { return aligned_alloc(4096, n); }
void *nt_memalign(size_t n) { return memalign(256, n); }
void *nt_valloc(size_t n) { return valloc(n); }
void *nt_pvalloc(size_t n) { return pvalloc(n); }
void nt_free(void *p) { free(p); }
/* n turns of 8 blocks allocated, resized and freed; the last turn's blocks kept in keep[8]. */
void nt_churn(int n, void **keep)
{
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < 8; j++) {
            void *p = malloc(16 + 64 * j);
            p = realloc(p, 32 + 128 * j);
            if (i == n - 1)
                keep[j] = p;
            else
                free(p);
        }
    }
}
"""

# The child's prologue: the library twice, through PyDLL (the calls keep the GIL, so the
# Python line of the call is known) and CDLL (the calls release it: no Python frame may be
# read, the empty traceback), and the helpers that describe the native traces.
CHILD_PROLOGUE = r"""
import ctypes, json, os, sys
import tracemalloc

def load(cls):
    lib = cls(os.environ["NT_LIBRARY"])
    for name in ("malloc", "calloc", "posix_memalign", "aligned_alloc", "memalign",
                 "valloc", "pvalloc"):
        func = getattr(lib, "nt_" + name)
        func.restype = ctypes.c_void_p
        func.argtypes = [ctypes.c_size_t]
    lib.nt_realloc.restype = ctypes.c_void_p
    lib.nt_realloc.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    lib.nt_free.argtypes = [ctypes.c_void_p]
    lib.nt_churn.argtypes = [ctypes.c_int, ctypes.c_void_p]
    return lib

lib = load(ctypes.PyDLL)
nogil = load(ctypes.CDLL)
D = tracemalloc.NATIVE_DOMAIN

def native(min_size):
    # [(size, [(filename, lineno), ...]), ...] of the native traces of min_size bytes or more
    return sorted((t.size, [(os.path.basename(f.filename), f.lineno) for f in t.traceback])
                  for t in tracemalloc.take_snapshot().traces
                  if t.domain == D and t.size >= min_size)

result = {"native": tracemalloc.is_native_tracing()}
"""

CHILD_EPILOGUE = r"""
sys.stdout.write(json.dumps(result) + "\n")
"""

MB = 1 << 20


def marker_line(script, marker):
    """The line number of the script's line that ends with the comment '# marker'."""
    lines = script.splitlines()
    found = [i + 1 for i, line in enumerate(lines) if line.rstrip().endswith("# " + marker)]
    assert len(found) == 1, marker
    return found[0]


def have_cc():
    try:
        return subprocess.call(["cc", "--version"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE) == 0
    except OSError:
        return False


@unittest.skipIf(tmsupport.USING_FAKE_ENGINE, tmsupport.SKIP_REASON)
class NativeTestCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmpdir = tempfile.mkdtemp()
        cls.library = None
        if have_cc():
            source = os.path.join(cls.tmpdir, "nt.c")
            with open(source, "w") as fp:
                fp.write(C_SOURCE)
            cls.library = os.path.join(cls.tmpdir, "libnt.so")
            subprocess.check_call(["cc", "-shared", "-fPIC", "-O1", "-w", "-o", cls.library,
                                   source])

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmpdir)

    def setUp(self):
        if tmsupport.address_sanitizer():
            self.skipTest(tmsupport.ASAN_PRELOAD_REASON)
        if tmsupport.thread_sanitizer():
            self.skipTest(tmsupport.TSAN_PRELOAD_REASON)
        if self.library is None:
            self.skipTest("no C compiler (cc) to build the test's C library")
        from tracemalloc import _native
        self.preload = _native.preload_library()
        self.assertTrue(os.path.exists(self.preload), self.preload)

    def env(self, base=None, **extra):
        from tracemalloc import _native
        env = _native.native_environ(base if base is not None else tmsupport.child_env())
        env["NT_LIBRARY"] = self.library
        env.update(extra)
        return env

    def run_child(self, body, env=None, args=()):
        """Run the prologue, body and epilogue in a child; its JSON result and the script."""
        script = CHILD_PROLOGUE + textwrap.dedent(body) + CHILD_EPILOGUE
        path = os.path.join(self.tmpdir, "child.py")
        with open(path, "w") as fp:
            fp.write(script)
        code, out, err = tmsupport.run_python([path] + list(args),
                                              env=env if env is not None else self.env())
        self.assertEqual(code, 0, err)
        return json.loads(out.splitlines()[-1]), script


class ApiTests(NativeTestCase):
    def test_constant(self):
        # "NATV" in ASCII: neither the default domain nor numpy's.
        self.assertEqual(tracemalloc.NATIVE_DOMAIN, 0x4E415456)
        self.assertEqual(tracemalloc._engine.NATIVE_DOMAIN, tracemalloc.NATIVE_DOMAIN)
        self.assertIn("NATIVE_DOMAIN", tracemalloc.__all__)
        self.assertIn("is_native_tracing", tracemalloc.__all__)

    def test_off_without_the_library_or_the_variable(self):
        # Not tracing: never native.
        self.assertFalse(tracemalloc.is_native_tracing())
        body = """
        tracemalloc.start()
        p = lib.nt_malloc(8 << 20)
        result["native"] = tracemalloc.is_native_tracing()
        result["traces"] = native(1)
        lib.nt_free(p)
        """
        # The variable without the library, then the library without the variable.
        env = tmsupport.child_env(PYTRACEMALLOC_NATIVE="1", NT_LIBRARY=self.library)
        env.pop("LD_PRELOAD", None)
        result, _ = self.run_child(body, env=env)
        self.assertEqual((result["native"], result["traces"]), (False, []))
        result, _ = self.run_child(body, env=self.env(PYTRACEMALLOC_NATIVE="0"))
        self.assertEqual((result["native"], result["traces"]), (False, []))


class TracedTests(NativeTestCase):
    def test_malloc_traced_to_the_line_and_gone_on_free(self):
        body = """
        tracemalloc.start(5)
        result["native"] = tracemalloc.is_native_tracing()
        before = tracemalloc.get_traced_memory()[0]
        p = lib.nt_malloc(8 << 20)  # malloc
        result["traced"] = tracemalloc.get_traced_memory()[0] - before
        result["with"] = native(8 << 20)
        snapshot = tracemalloc.take_snapshot()
        only = snapshot.filter_traces([tracemalloc.DomainFilter(True, D)])
        top = only.statistics("lineno")[0]
        result["top"] = [os.path.basename(top.traceback[0].filename), top.traceback[0].lineno,
                         top.size]
        python = snapshot.filter_traces([tracemalloc.DomainFilter(False, D)])
        result["python_max"] = max(t.size for t in python.traces)
        snapshot.dump(sys.argv[1])
        class Text(object):
            def __init__(self):
                self.parts = []
            def write(self, text):
                self.parts.append(text)
            def flush(self):
                pass
        text = Text()
        tracemalloc.DisplayTop(3, file=text, group_per_file=False).display()
        result["display"] = "".join(text.parts)
        lib.nt_free(p)
        result["without"] = native(8 << 20)
        """
        dump = os.path.join(self.tmpdir, "native.pickle")
        result, script = self.run_child(body, args=[dump])
        line = marker_line(script, "malloc")
        self.assertTrue(result["native"])
        self.assertEqual(result["with"], [[8 * MB, [["child.py", line]]]])
        self.assertEqual(result["top"], ["child.py", line, 8 * MB])
        self.assertTrue(8 * MB <= result["traced"] < 8 * MB + 64 * 1024, result["traced"])
        self.assertLess(result["python_max"], 8 * MB)
        self.assertEqual(result["without"], [])
        self.assertIn("/child.py:%d: size=8192 KiB" % line, result["display"].splitlines()[1])
        # The command line shows the line from the snapshot file.
        code, out, err = tmsupport.run_python(["-m", "tracemalloc", "-l", "-n", "3", dump])
        self.assertEqual((code, err), (0, ""))
        self.assertIn("child.py:%d: size=8192 KiB" % line, out)

    def test_every_function(self):
        body = """
        tracemalloc.start(1)
        out = {}
        for name in ("malloc", "calloc", "posix_memalign", "aligned_alloc", "memalign",
                     "valloc", "pvalloc"):
            p = getattr(lib, "nt_" + name)(3 << 20 | 5)  # alloc
            out[name] = native(3 << 20)
            lib.nt_free(p)
            out[name + " freed"] = native(3 << 20)
        p = lib.nt_malloc(3 << 20)  # alloc small
        p = lib.nt_realloc(p, 5 << 20)  # grow
        out["realloc"] = native(3 << 20)
        p = lib.nt_realloc(p, 0)  # realloc(p, 0) frees
        out["realloc 0"] = native(3 << 20)
        result["out"] = out
        """
        result, script = self.run_child(body)
        out = result["out"]
        alloc = marker_line(script, "alloc")
        page = os.sysconf("SC_PAGESIZE")
        for name in ("malloc", "calloc", "posix_memalign", "aligned_alloc", "memalign",
                     "valloc", "pvalloc"):
            size = 3 * MB + 5
            if name == "pvalloc":
                size = (size + page - 1) // page * page
            self.assertEqual(out[name], [[size, [["child.py", alloc]]]], name)
            self.assertEqual(out[name + " freed"], [], name)
        # A moved or grown block is traced once, to the line that resized it.
        self.assertEqual(out["realloc"], [[5 * MB, [["child.py", marker_line(script, "grow")]]]])
        self.assertEqual(out["realloc 0"], [])

    def test_thread_without_the_gil_gets_the_empty_traceback(self):
        body = """
        tracemalloc.start(5)
        p = nogil.nt_malloc(8 << 20)  # the call releases the GIL
        result["traces"] = native(8 << 20)
        nogil.nt_free(p)
        result["freed"] = native(8 << 20)
        """
        result, _ = self.run_child(body)
        self.assertEqual(result["traces"], [[8 * MB, [["<unknown>", 0]]]])
        self.assertEqual(result["freed"], [])

    def test_c_call_stack(self):
        # PYTRACEMALLOC_NATIVE_STACK=3: three C frames, most recent first (the test library's
        # function, then ctypes' libffi), before the Python line of the call.
        body = """
        tracemalloc.start(5)
        p = lib.nt_malloc(8 << 20)  # c stack
        result["traces"] = native(8 << 20)
        result["stats"] = sorted(name for name in tracemalloc._engine.get_stats()
                                 if name.startswith("<native> nt_malloc+"))
        lib.nt_free(p)
        result["freed"] = native(8 << 20)
        """
        from tracemalloc import _native
        env = _native.native_environ(tmsupport.child_env(), stack=3)
        env["NT_LIBRARY"] = self.library
        result, script = self.run_child(body, env=env)
        [[size, tb]] = result["traces"]
        tb = tb[::-1]  # a Traceback iterates from the oldest frame: most recent first here
        self.assertEqual(size, 8 * MB)
        self.assertEqual(len(tb), 4, tb)
        self.assertTrue(tb[0][0].startswith("<native> nt_malloc+0x"), tb)
        self.assertTrue(tb[0][0].endswith(" (libnt.so)"), tb)
        for name, lineno in tb[:3]:
            self.assertTrue(name.startswith("<native> "), tb)
            self.assertEqual(lineno, 0)
        self.assertEqual(tb[3], ["child.py", marker_line(script, "c stack")])
        self.assertEqual(result["stats"], [tb[0][0]])
        self.assertEqual(result["freed"], [])

    def test_engine_work_not_traced(self):
        # A timer and snapshots are the engine's work: nothing of theirs in the domain.
        body = """
        tracemalloc.start(1)
        before = native(1)
        timer = tracemalloc._engine.start_timer(1000.0, len, ([],))  # timer
        for i in range(3):
            tracemalloc.take_snapshot()  # snapshot
            tracemalloc._engine.get_traces()  # traces
        after = native(1)
        lines = set(tb[0][1] for size, tb in after if tb) - set(tb[0][1] for size, tb in before if tb)
        result["lines"] = sorted(lines)
        tracemalloc._engine.stop_timer(timer)
        """
        result, script = self.run_child(body)
        for marker in ("timer", "snapshot", "traces"):
            self.assertNotIn(marker_line(script, marker), result["lines"], marker)

    def test_reference_tracing_work_not_traced(self):
        # Reference tracing's tables (a row per new type, in its tracer), its log and the
        # pickle scanner are the engine's work too: nothing of theirs in the domain.
        body = """
        import pickle
        import tracemalloc.memtrace
        tracemalloc.start(1)
        before = native(1)
        if tracemalloc.memtrace.ReferenceTracing.is_available():
            log = os.path.join(os.path.dirname(os.path.abspath(__file__)), "refs.log")
            rt = tracemalloc.memtrace.ReferenceTracing(filepath=log)  # start
            rt.__enter__()
            kinds = [type("Kind%d" % i, (object,), {}) for i in range(50)]
            objects = [kind() for kind in kinds]  # objects
            rt.__exit__(None, None, None)  # stop
        tracemalloc._engine.scan_pickle(pickle.dumps([1, 2, (3, 4)], 2), 100)  # scan
        after = native(1)
        lines = set(tb[0][1] for size, tb in after if tb) - set(tb[0][1] for size, tb in before if tb)
        result["lines"] = sorted(lines)
        """
        result, script = self.run_child(body)
        for marker in ("start", "objects", "stop", "scan"):
            self.assertNotIn(marker_line(script, marker), result["lines"], marker)

    def test_threads_with_and_without_the_gil(self):
        # Threads allocating from C, some while holding the GIL and some not, while the
        # main thread takes snapshots, clears the traces, stops and starts: no deadlock, no
        # crash, and at the end exactly the blocks still held are traced.
        body = """
        import threading
        tracemalloc.start(3)
        keeps = [(ctypes.c_void_p * 8)() for i in range(6)]
        def work(i):
            (lib if i % 2 else nogil).nt_churn(4000, keeps[i])
        threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        for i in range(20):
            tracemalloc.take_snapshot()
            if i % 5 == 4:
                tracemalloc.clear_traces()
            if i == 10:
                tracemalloc.stop()
                tracemalloc.start(3)
        for t in threads:
            t.join()
        result["alive"] = tracemalloc.is_native_tracing()
        tracemalloc.clear_traces()
        for i in range(6):
            (lib if i % 2 else nogil).nt_churn(50, keeps[i])  # again
        sizes = [32 + 128 * j for j in range(8)]
        result["traced"] = sorted(t for t in native(1) if t[0] in sizes)
        for keep in keeps:
            for p in keep:
                lib.nt_free(p)
        """
        result, script = self.run_child(body)
        self.assertTrue(result["alive"])
        # Each thread keeps the 8 blocks of its last turn (the old traces were cleared): with
        # the line of the call where the call kept the GIL, the empty traceback otherwise.
        again = [["child.py", marker_line(script, "again")]]
        expected = sorted([32 + 128 * j, tb] for j in range(8) for tb in [again, [["<unknown>", 0]]]
                          for i in range(3))
        self.assertEqual(result["traced"], expected)

    def test_stop_and_start_again(self):
        body = """
        tracemalloc.start(1)
        p = lib.nt_malloc(8 << 20)
        tracemalloc.stop()
        result["stopped"] = tracemalloc.is_native_tracing()
        lib.nt_free(p)
        q = lib.nt_malloc(8 << 20)
        tracemalloc.start(1)
        result["again"] = tracemalloc.is_native_tracing()
        r = lib.nt_malloc(8 << 20)  # again
        lib.nt_free(q)  # allocated while not tracing: ignored
        result["traces"] = native(8 << 20)
        lib.nt_free(r)
        """
        result, script = self.run_child(body)
        self.assertEqual((result["stopped"], result["again"]), (False, True))
        self.assertEqual(result["traces"], [[8 * MB, [["child.py", marker_line(script, "again")]]]])

    def test_fork_child_keeps_tracing(self):
        body = """
        tracemalloc.start(1)
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            p = lib.nt_malloc(8 << 20)  # in the child
            os.write(w, json.dumps(native(8 << 20)).encode())
            lib.nt_free(p)
            os._exit(0)
        os.close(w)
        data = b""
        while True:
            chunk = os.read(r, 65536)
            if not chunk:
                break
            data += chunk
        result["status"] = os.waitpid(pid, 0)[1]
        result["child"] = json.loads(data.decode())
        p = lib.nt_malloc(8 << 20)  # in the parent
        result["parent"] = native(8 << 20)
        """
        result, script = self.run_child(body)
        self.assertEqual(result["status"], 0)
        self.assertEqual(result["child"],
                         [[8 * MB, [["child.py", marker_line(script, "in the child")]]]])
        self.assertEqual(result["parent"],
                         [[8 * MB, [["child.py", marker_line(script, "in the parent")]]]])

    def test_startup_tracing_with_nframe(self):
        if tmsupport.STOCK_INTERPRETER:
            self.skipTest(tmsupport.STOCK_REASON)
        script = os.path.join(self.tmpdir, "startup.py")
        with open(script, "w") as fp:
            fp.write("import tracemalloc\n"
                     "print('%s %s' % (tracemalloc.is_native_tracing(), "
                     "tracemalloc.get_traceback_limit()))\n")
        env = tmsupport.child_env()
        code, out, err = tmsupport.run_python(
            ["-m", "tracemalloc.native", "--nframe", "3", "--", sys.executable, script],
            env=env)
        # (The patched interpreter says "tracemalloc enabled" on stderr.)
        self.assertEqual((code, out.strip()), (0, "True 3"), err)


class NeverTwiceTests(NativeTestCase):
    def test_domains_sum_to_what_malloc_handed_out(self):
        # Large blocks, so that the allocator's chunk headers stay far under 1%: Python's
        # (PyMem_RawMalloc under the allocator hooks: the default domain only), the C
        # library's (native), on the heap and mmap()ed.
        body = """
        class Mallinfo2(ctypes.Structure):
            _fields_ = [(name, ctypes.c_size_t) for name in (
                "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
                "uordblks", "fordblks", "keepcost")]
        libc = ctypes.CDLL(None)
        libc.mallinfo2.restype = Mallinfo2

        def in_use():
            info = libc.mallinfo2()
            return info.uordblks + info.hblkhd

        tracemalloc.start(1)
        keep = []
        m0, t0 = in_use(), tracemalloc.get_traced_memory()[0]
        for i in range(40):
            keep.append(b"x" * (200 * 1024 + i))
            keep.append(lib.nt_malloc(200 * 1024 + i))
            keep.append(bytearray(300 * 1024))
        for i in range(3):
            keep.append(lib.nt_calloc(4 << 20))
            keep.append(b"y" * (4 << 20))
        m1, t1 = in_use(), tracemalloc.get_traced_memory()[0]
        snapshot = tracemalloc.take_snapshot()
        by_domain = {}
        for t in snapshot.traces:
            by_domain[t.domain] = by_domain.get(t.domain, 0) + t.size
        result["malloc"] = m1 - m0
        result["traced"] = t1 - t0
        result["native"] = by_domain.get(D, 0)
        """
        result, _ = self.run_child(body)
        expected = 40 * (200 * 1024 * 2 + 300 * 1024) + 3 * (4 << 20) * 2
        self.assertGreater(result["malloc"], expected)
        self.assertLess(abs(result["traced"] - result["malloc"]), result["malloc"] / 100.0,
                        result)
        # The C library's half is native, Python's is not.
        native_expected = 40 * 200 * 1024 + 3 * (4 << 20)
        self.assertTrue(native_expected <= result["native"] < native_expected * 1.01, result)

    def test_numpy_buffers_tracked_once(self):
        env = tmsupport.debian_module_env("numpy", "import numpy")
        if env is None:
            self.skipTest("numpy is not importable by this interpreter (Debian's "
                          "python3-numpy serves its python3 only: 3.11 on Debian 12)")
        body = """
        import numpy
        tracemalloc.start(1)
        result["native"] = tracemalloc.is_native_tracing()
        a = numpy.ones(4 << 20)  # numpy
        sizes = {}
        for t in tracemalloc.take_snapshot().traces:
            if t.size >= (32 << 20):
                sizes[str(t.domain)] = sizes.get(str(t.domain), 0) + t.size
        result["sizes"] = sizes
        result["variant"] = tracemalloc._engine.PATCH_VARIANT
        """
        result, _ = self.run_child(body, env=self.env(base=env))
        self.assertTrue(result["native"])
        # Patched: numpy tracks its buffer in its domain, 389047 (PyTraceMalloc_Track), and
        # the native domain lets it go. Stock: no C-API hooks, so the native domain has it.
        domain = tracemalloc.NATIVE_DOMAIN if result["variant"] == "stock" else 389047
        self.assertEqual(result["sizes"], {str(domain): 32 * MB})


class LauncherTests(NativeTestCase):
    def launch(self, args, env=None):
        return tmsupport.run_python(["-m", "tracemalloc.native"] + args,
                                    env=env if env is not None else tmsupport.child_env())

    def test_help(self):
        code, out, err = self.launch(["--help"])
        self.assertEqual((code, err), (0, ""))
        self.assertIn("LD_PRELOAD", out)
        self.assertIn("NATIVE_DOMAIN", out)

    def test_library(self):
        code, out, err = self.launch(["--library"])
        self.assertEqual((code, out.strip(), err), (0, self.preload, ""))

    def test_usage_errors(self):
        for args, status, message in [
                ([], 2, "no command to run: give it after --"),
                (["--"], 2, "no command to run: give it after --"),
                (["--nframe", "0", "--", "true"], 2, "--nframe must be in range [1; 65535], not 0"),
                (["--stack", "65", "--", "true"], 2, "--stack must be in range [1; 64], not 65"),
                (["--", os.path.join(self.tmpdir, "nowhere")], 127,
                 os.path.join(self.tmpdir, "nowhere") + ": No such file or directory")]:
            code, out, err = self.launch(args)
            self.assertEqual((code, out, err),
                             (status, "", "python -m tracemalloc.native: error: %s\n" % message),
                             args)

    def test_harmless_in_a_program_that_is_not_python(self):
        code, out, err = self.launch(["--", "/bin/sh", "-c",
                                      "echo \"$PYTRACEMALLOC_NATIVE $LD_PRELOAD\"; "
                                      "sort </dev/null; echo done"])
        self.assertEqual((code, err), (0, ""))
        self.assertEqual(out, "1 %s\ndone\n" % self.preload)


if __name__ == "__main__":
    unittest.main()
