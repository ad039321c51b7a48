"""End-to-end tests with the real engine tracemalloc._engine (see doc/internals.rst).

Every test is skipped when the C extension cannot be imported (the fake engine of tmsupport is
in use). Run them with the patched interpreter, e.g.

    TRACEMALLOC_TEST_INPLACE=1 /path/to/patched/python tests/python/run.py 'test_engine*'

once the extension is built into module/tracemalloc/ (or with the installed package).
"""
from __future__ import absolute_import

import errno
import os
import signal
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "support"))
import tmsupport  # noqa: E402 (must come first: chooses the package and the engine)
from tmsupport import tracemalloc  # noqa: E402

engine = tmsupport.REAL_ENGINE
POINTER_SIZE = tuple.__itemsize__


# The helpers below allocate on known lines: the tests compute the line numbers from
# co_firstlineno, so keep each body exactly as it is (first body line = allocation).

def allocate_bytes(size):
    return b"x" * size


class Allocated(object):
    pass


def allocate_instance():
    return Allocated()


def nested_1():
    return nested_2()


def nested_2():
    return nested_3()


def nested_3():
    return allocate_bytes(1000)


def grow_bytearray(chunks):
    data = bytearray()
    extend = data.extend
    chunk = b"y" * 100
    for _ in range(chunks):
        extend(chunk)
    return data


def grow_list(items):
    result = []
    append = result.append
    for _ in range(items):
        append(None)
    return result


CODE = allocate_bytes.__code__
FILENAME = CODE.co_filename
BYTES_LINE = CODE.co_firstlineno + 1
INSTANCE_LINE = allocate_instance.__code__.co_firstlineno + 1
EXTEND_LINE = grow_bytearray.__code__.co_firstlineno + 5
APPEND_LINE = grow_list.__code__.co_firstlineno + 4


def line_of(func, offset):
    return func.__code__.co_firstlineno + offset


# How long to wait for a timer due in 10 ms: generous, a loaded shared machine may not run
# this process for seconds; a timer that never fires still fails the test.
WAIT_SECONDS = 60


def churn(seconds, until=None):
    """Allocate and run bytecode (timers fire from the allocator, at a safe point) for up to
    *seconds*, or until until() is true."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        junk = [object() for _ in range(50)]
        del junk
        if until is not None and until():
            return True
        time.sleep(0.001)
    return until() if until is not None else True


@unittest.skipIf(tmsupport.USING_FAKE_ENGINE, tmsupport.SKIP_REASON)
class EngineTestCase(unittest.TestCase):
    """Each test starts with tracing off and the state of the process is restored after it."""

    def setUp(self):
        self.was_tracing = engine.is_tracing()
        self.limit = engine.get_traceback_limit() if self.was_tracing else 1
        engine.stop()

    def tearDown(self):
        engine.stop_timer(None)
        engine.stop()
        if self.was_tracing:
            engine.start(self.limit)


class AttributionTests(EngineTestCase):
    def test_object_traceback_bytes(self):
        tracemalloc.start(1)
        obj = allocate_bytes(100000)
        self.assertEqual(engine.get_object_traceback(obj), ((FILENAME, BYTES_LINE),))
        traceback = tracemalloc.get_object_traceback(obj)
        self.assertEqual(len(traceback), 1)
        self.assertEqual(traceback[-1], tracemalloc.Frame((FILENAME, BYTES_LINE)))

    def test_object_traceback_gc_object(self):
        tracemalloc.start(1)
        obj = allocate_instance()
        self.assertEqual(engine.get_object_traceback(obj), ((FILENAME, INSTANCE_LINE),))

    def test_not_traced(self):
        obj = allocate_bytes(1000)  # allocated before tracing starts
        tracemalloc.start(1)
        self.assertIsNone(tracemalloc.get_object_traceback(obj))
        tracemalloc.stop()
        self.assertIsNone(tracemalloc.get_object_traceback(allocate_bytes(1000)))

    def test_get_stats(self):
        tracemalloc.start(1)
        objs = [allocate_bytes(100000) for _ in range(3)]
        stats = engine.get_stats()
        size, count = stats[FILENAME][BYTES_LINE]
        self.assertEqual(count, 3)
        self.assertTrue(3 * 100000 <= size < 3 * 100000 + 3 * 1024, size)
        for filename, lines in stats.items():
            for lineno, (line_size, line_count) in lines.items():
                self.assertTrue(line_size >= 0 and line_count >= 1)
        del objs

    def test_snapshot_and_display_top(self):
        tracemalloc.start(1)
        obj = allocate_bytes(5 * 1024 * 1024)
        snapshot = tracemalloc.Snapshot.create()
        self.assertEqual(snapshot.stats[FILENAME][BYTES_LINE][1], 1)
        self.assertTrue(snapshot.tracemalloc_memory > 0)
        stream = tmsupport.text_stream()
        top = tracemalloc.DisplayTop(3, file=stream, group_per_file=False)
        top.filename_parts = 0
        top.display()
        self.assertIn("#1: %s:%d: size=5120 KiB, count=1, average=5120 KiB"
                      % (FILENAME, BYTES_LINE), stream.getvalue())
        del obj

    def test_nframe(self):
        tracemalloc.start(5)
        self.assertEqual(tracemalloc.get_traceback_limit(), 5)
        obj = nested_1()
        expected_line = line_of(self.test_nframe, 3)
        expected = (
            (FILENAME, BYTES_LINE),
            (FILENAME, line_of(nested_3, 1)),
            (FILENAME, line_of(nested_2, 1)),
            (FILENAME, line_of(nested_1, 1)),
            (FILENAME, expected_line),
        )
        self.assertEqual(engine.get_object_traceback(obj), expected)
        traceback = tracemalloc.get_object_traceback(obj)
        self.assertEqual(traceback[-1].lineno, BYTES_LINE)
        self.assertEqual(traceback[0].lineno, expected_line)

        # the limit only applies to new traces
        tracemalloc.start(2)
        self.assertEqual(len(engine.get_object_traceback(obj)), 5)
        self.assertEqual(engine.get_object_traceback(nested_1()), expected[:2])

    def test_nframe_range(self):
        self.assertRaises(ValueError, tracemalloc.start, 0)
        self.assertRaises(ValueError, tracemalloc.start, 65536)
        self.assertFalse(tracemalloc.is_tracing())
        tracemalloc.start(65535)
        self.assertEqual(tracemalloc.get_traceback_limit(), 65535)

    def test_tracebacks_are_shared(self):
        tracemalloc.start(3)
        objs = [allocate_bytes(100) for _ in range(10)]
        traces = engine.get_traces()
        self.assertTrue(traces)
        seen = {}
        for domain, size, traceback, total_nframe in traces:
            self.assertTrue(size >= 0)
            self.assertTrue(1 <= len(traceback) <= 3)
            self.assertTrue(total_nframe >= len(traceback))
            for filename, lineno in traceback:
                self.assertTrue(isinstance(filename, str) and isinstance(lineno, int))
            self.assertIs(seen.setdefault(traceback, traceback), traceback)
        del objs


class LineCacheTests(EngineTestCase):
    """The engine caches the line of each (code object, instruction) it saw: a code object
    that dies and a new one built at the same address must not inherit its lines."""

    def check_generated_code(self, make_source, runs=50):
        wrong = []
        addresses = set()
        for i in range(runs):
            code = compile(make_source(i), "<generated>", "exec")
            addresses.add(id(code))
            namespace = {}
            exec(code, namespace)
            del code
            traceback = engine.get_object_traceback(namespace["x"])
            if traceback != (("<generated>", i + 1),):
                wrong.append((i + 1, traceback))
        self.assertEqual(wrong, [])
        return addresses

    def test_code_at_a_reused_address(self):
        if tmsupport.address_sanitizer():
            self.skipTest(tmsupport.ASAN_SKIP_REASON)
        if tmsupport.valgrind():
            self.skipTest(tmsupport.VALGRIND_SKIP_REASON)
        tracemalloc.start(1)
        # the same instructions on another line each time: only the line table differs
        addresses = self.check_generated_code(lambda i: "\n" * i + "x = bytearray(1000)\n")
        # the point of the test: code objects came back at an address seen before
        self.assertTrue(len(addresses) < 50, len(addresses))

    def test_cache_emptied_by_start(self):
        # a code object whose lines were cached may die while nothing is traced
        wrong = []
        for i in range(20):
            tracemalloc.start(1)
            code = compile("\n" * i + "x = bytearray(1000)\n", "<generated>", "exec")
            exec(code, {})
            tracemalloc.stop()
            del code  # dies unseen
            tracemalloc.start(1)
            namespace = {}
            exec(compile("\n" * (i + 1) + "x = bytearray(1000)\n", "<generated>", "exec"),
                 namespace)
            traceback = engine.get_object_traceback(namespace["x"])
            if traceback != (("<generated>", i + 2),):
                wrong.append((i + 2, traceback))
            tracemalloc.stop()
        self.assertEqual(wrong, [])

    def test_many_instructions_of_one_code_object(self):
        # more allocating instructions in one function than a cache set holds
        tracemalloc.start(1)
        lines = ["def f():", "    r = []"]
        for i in range(20):
            lines.append("    r.append(bytearray(%d))" % (100 + i))
        lines.append("    return r")
        namespace = {}
        exec(compile("\n".join(lines) + "\n", "<many>", "exec"), namespace)
        for _ in range(3):
            result = namespace["f"]()
            self.assertEqual([engine.get_object_traceback(item) for item in result],
                             [(("<many>", 3 + i),) for i in range(20)])


class CounterTests(EngineTestCase):
    def test_alloc_and_free(self):
        tracemalloc.start(1)
        before, _ = tracemalloc.get_traced_memory()
        data = allocate_bytes(1000000)
        current, peak = tracemalloc.get_traced_memory()
        self.assertTrue(current >= before + 1000000, (before, current))
        self.assertTrue(peak >= current)
        self.assertEqual(engine.get_stats()[FILENAME][BYTES_LINE][1], 1)
        del data
        after, peak2 = tracemalloc.get_traced_memory()
        self.assertTrue(after <= current - 1000000 + 64 * 1024, (current, after))
        self.assertTrue(peak2 >= current)
        self.assertNotIn(BYTES_LINE, engine.get_stats().get(FILENAME, {}))
        tracemalloc.reset_peak()
        current3, peak3 = tracemalloc.get_traced_memory()
        self.assertTrue(peak3 < peak2)
        self.assertTrue(peak3 >= current3)

    def test_clear_traces(self):
        tracemalloc.start(1)
        obj = allocate_bytes(100000)
        tracemalloc.clear_traces()
        self.assertTrue(tracemalloc.is_tracing())
        self.assertIsNone(tracemalloc.get_object_traceback(obj))
        self.assertNotIn(BYTES_LINE, engine.get_stats().get(FILENAME, {}))
        obj2 = allocate_bytes(100000)
        self.assertIsNotNone(tracemalloc.get_object_traceback(obj2))

    def test_stop_forgets_everything(self):
        tracemalloc.start(1)
        obj = allocate_bytes(100000)
        self.assertTrue(tracemalloc.get_tracemalloc_memory() > 0)
        tracemalloc.stop()
        self.assertFalse(tracemalloc.is_tracing())
        self.assertEqual(engine.get_stats(), {})
        self.assertEqual(engine.get_traces(), [])
        self.assertIsNone(tracemalloc.get_object_traceback(obj))
        self.assertEqual(tracemalloc.get_traced_memory()[0], 0)

    def test_realloc_bytearray_keeps_one_trace(self):
        tracemalloc.start(1)
        data = grow_bytearray(1000)  # 1000 reallocations of the same buffer
        size, count = engine.get_stats()[FILENAME][EXTEND_LINE]
        self.assertEqual(count, 1)
        self.assertTrue(100000 <= size < 3 * 100000, size)
        del data
        self.assertNotIn(EXTEND_LINE, engine.get_stats().get(FILENAME, {}))

    def test_realloc_list_keeps_one_trace(self):
        tracemalloc.start(1)
        items = grow_list(10000)
        size, count = engine.get_stats()[FILENAME][APPEND_LINE]
        self.assertEqual(count, 1)
        self.assertTrue(10000 * POINTER_SIZE <= size < 3 * 10000 * POINTER_SIZE, size)
        del items
        self.assertNotIn(APPEND_LINE, engine.get_stats().get(FILENAME, {}))


def _malloc_trim():
    """glibc's malloc_trim(), or None: it hands the free pages of the C heap back to the
    system, so that what the C allocator keeps for reuse does not count as resident."""
    try:
        import ctypes
        return ctypes.CDLL(None).malloc_trim
    except (ImportError, OSError, AttributeError):
        return None


MALLOC_TRIM = _malloc_trim()


def process_rss():
    """The resident memory of this process, in bytes, once the C heap was trimmed."""
    if MALLOC_TRIM is not None:
        MALLOC_TRIM(0)
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class RawWithoutGilTests(EngineTestCase):
    """PyMem_RawMalloc called by threads that do not hold the GIL (ctypes.CDLL releases it)."""

    def setUp(self):
        super(RawWithoutGilTests, self).setUp()
        try:
            import ctypes
        except ImportError:
            ctypes = None
        tmsupport.require(self, ctypes is not None, "the ctypes module is missing")
        libc = ctypes.CDLL(None)  # calls through CDLL release the GIL
        self.raw_malloc = libc.PyMem_RawMalloc
        self.raw_malloc.restype = ctypes.c_void_p
        self.raw_malloc.argtypes = [ctypes.c_size_t]
        self.raw_free = libc.PyMem_RawFree
        self.raw_free.restype = None
        self.raw_free.argtypes = [ctypes.c_void_p]

    def unknown_size(self, size=None):
        """Bytes traced with no Python frame (RAW allocations made without the GIL)."""
        return sum(s for domain, s, traceback, total in engine.get_traces()
                   if traceback == (("<unknown>", 0),) and size in (None, s))

    def test_traced_with_unknown_traceback_and_freed(self):
        tracemalloc.start(5)
        before = self.unknown_size()
        ptr = self.raw_malloc(123457)
        self.assertTrue(ptr)
        self.assertEqual(self.unknown_size() - before, 123457)
        self.raw_free(ptr)
        self.assertEqual(self.unknown_size(), before)

    def test_threads_without_gil_while_main_allocates(self):
        tracemalloc.start(3)
        nthreads, nblocks, cycles = 4, 50, 20
        # a size of its own per thread, that nothing else allocates
        sizes = [64 * 1024 + 8 * i + 1 for i in range(nthreads)]
        self.assertEqual([self.unknown_size(size) for size in sizes], [0] * nthreads)
        errors = []
        holding = [threading.Event() for _ in range(nthreads)]
        release = threading.Event()

        def worker(index):
            try:
                size = sizes[index]
                for _ in range(cycles):  # churn: blocks allocated and freed without the GIL
                    ptrs = [self.raw_malloc(size) for _ in range(nblocks)]
                    for ptr in ptrs:
                        self.raw_free(ptr)
                ptrs = [self.raw_malloc(size) for _ in range(nblocks)]
                if not all(ptrs):
                    errors.append("allocation failed")
                holding[index].set()
                release.wait(WAIT_SECONDS)
                for ptr in ptrs:
                    self.raw_free(ptr)
            except Exception as exc:  # pragma: no cover (reported below)
                errors.append(exc)
                holding[index].set()

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(nthreads)]
        for thread in threads:
            thread.start()
        try:
            junk = [allocate_bytes(50) for _ in range(20000)]
            for event in holding:
                self.assertTrue(event.wait(WAIT_SECONDS), "a worker never got its blocks")
            # while the workers hold their blocks, each one of them is traced, with its size
            # and no frame (without the GIL the thread's frames cannot be read)
            held = {}
            for domain, size, traceback, total in engine.get_traces():
                if size in sizes:
                    held.setdefault(size, []).append((domain, traceback, total))
            for size in sizes:
                self.assertEqual(held.get(size), [(0, (("<unknown>", 0),), 0)] * nblocks,
                                 size)
            del junk
        finally:
            release.set()
            for thread in threads:
                thread.join(WAIT_SECONDS)
        self.assertEqual([thread.is_alive() for thread in threads], [False] * nthreads)
        self.assertEqual(errors, [])
        # every raw block of theirs was freed: none is left in the tables
        self.assertEqual([self.unknown_size(size) for size in sizes], [0] * nthreads)
        self.assertTrue(tracemalloc.is_tracing())

    def test_frame_limit_changed_while_threads_allocate_without_gil(self):
        # start() with a new limit and stop() swap the capture buffer under the GIL while
        # hooks without it run: those record no frame and must not read the buffer, not even
        # its address (a data race that tools/sanitize's tsan step reported on 3.13 with a
        # subinterpreter's thread, and reports here without the fix).
        tracemalloc.start(1)
        nthreads, nblocks = 2, 20
        sizes = [56 * 1024 + 8 * i + 5 for i in range(nthreads)]
        errors = []
        cycles = [0] * nthreads
        running = [threading.Event() for _ in range(nthreads)]
        stop = []

        def worker(index):
            try:
                while not stop:
                    ptrs = [self.raw_malloc(sizes[index]) for _ in range(nblocks)]
                    if not all(ptrs):
                        errors.append("allocation failed")
                    for ptr in ptrs:
                        self.raw_free(ptr)
                    cycles[index] += 1
                    running[index].set()
            except Exception as exc:  # pragma: no cover (reported below)
                errors.append(exc)
                running[index].set()

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(nthreads)]
        for thread in threads:
            thread.start()
        try:
            for event in running:
                self.assertTrue(event.wait(WAIT_SECONDS), "a worker never ran")
            for i in range(1000):
                tracemalloc.start(1 + i % 25)
                if i % 100 == 49:
                    tracemalloc.stop()
                time.sleep(0)  # let the workers in between
        finally:
            stop.append(True)
            for thread in threads:
                thread.join(WAIT_SECONDS)
        self.assertEqual([thread.is_alive() for thread in threads], [False] * nthreads)
        self.assertEqual(errors, [])
        self.assertTrue(all(cycles), cycles)
        self.assertTrue(tracemalloc.is_tracing())
        self.assertEqual(tracemalloc.get_traceback_limit(), 25)
        # every block of theirs was freed; a new one is traced with no frame
        self.assertEqual([self.unknown_size(size) for size in sizes], [0] * nthreads)
        ptr = self.raw_malloc(sizes[0])
        try:
            self.assertEqual(self.unknown_size(sizes[0]), sizes[0])
        finally:
            self.raw_free(ptr)


def load_ctypes(testcase):
    try:
        import ctypes
    except ImportError:
        ctypes = None
    tmsupport.require(testcase, ctypes is not None, "the ctypes module is missing")
    return ctypes


def traced_memory():
    return engine.get_traced_memory()[0]


class CApiAllocatorTests(EngineTestCase):
    """PyMem_* and PyObject_* called through ctypes.pythonapi (the GIL stays held): the edge
    cases of realloc and calloc. 2.7's patch series adds PyMem_Calloc and PyObject_Calloc."""

    def functions(self, prefix):
        ctypes = load_ctypes(self)
        api = ctypes.pythonapi
        malloc = getattr(api, prefix + "_Malloc")
        malloc.restype, malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
        calloc = getattr(api, prefix + "_Calloc")
        calloc.restype, calloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t, ctypes.c_size_t]
        realloc = getattr(api, prefix + "_Realloc")
        realloc.restype, realloc.argtypes = ctypes.c_void_p, [ctypes.c_void_p, ctypes.c_size_t]
        free = getattr(api, prefix + "_Free")
        free.restype, free.argtypes = None, [ctypes.c_void_p]
        if tmsupport.PY2:
            # Fill 2.7's int free list (which never gives memory back), so that the ints the
            # calls return do not allocate a new 1000-byte int block in the middle of a
            # measure (on "plain", where that list is not hooked, the counter would see it).
            ints = list(range(100000, 120000))
            del ints
        return malloc, calloc, realloc, free

    def sizes_at(self, line, sizes):
        """The sizes among *sizes* of the traces made on *line* of this file (the calls'
        lines also trace the int each call returns, of another size)."""
        return sorted(size for domain, size, traceback, total in engine.get_traces()
                      if traceback[0] == (FILENAME, line) and size in sizes)

    def check_realloc_to_zero(self, prefix):
        malloc, calloc, realloc, free = self.functions(prefix)
        tracemalloc.start(1)
        ptr = malloc(1000)
        malloc_line = sys._getframe().f_lineno - 1
        other = malloc(1000)
        self.assertTrue(ptr and other)
        self.assertEqual(self.sizes_at(malloc_line, (0, 1000)), [1000])
        # the cost of a call in the counter, once warmed up, with a realloc that keeps the size
        for _ in range(3):
            before = traced_memory()
            other = realloc(other, 1000)
            baseline = traced_memory() - before
        # (called here, not through a helper or a lambda: the trace's line is this one, and
        # no new frame is allocated on the way, see cost())
        before = traced_memory()
        ptr = realloc(ptr, 0)
        realloc_line = sys._getframe().f_lineno - 1
        delta = traced_memory() - before
        self.assertTrue(ptr)  # realloc(p, 0) returns a block, not NULL
        # the old trace went, the new block is traced with the size asked for, as the stock
        # tracemalloc does, and the counter lost exactly the 1000 bytes
        self.assertEqual(self.sizes_at(malloc_line, (0, 1000)), [])
        self.assertEqual(self.sizes_at(realloc_line, (0, 1000)), [0])
        # (within the size of a small object: the int the call returns, and on 2.7 the int
        # free list's bookkeeping, are traced too; the sizes above are exact)
        self.assertTrue(abs(delta - baseline + 1000) <= 64, (delta, baseline))
        free(ptr)
        free(other)
        self.assertEqual(self.sizes_at(realloc_line, (0, 1000)), [])

    def test_pymem_realloc_to_zero(self):
        self.check_realloc_to_zero("PyMem")

    def test_pyobject_realloc_to_zero(self):
        self.check_realloc_to_zero("PyObject")

    def check_calloc_failure(self, prefix):
        malloc, calloc, realloc, free = self.functions(prefix)
        half = 1 << (8 * ctypes_sizeof_size_t() - 1)
        tracemalloc.start(1)
        for nelem, elsize in ((half + 1, 2),  # nelem * elsize wraps around to 2
                              (half // 3, 4),  # wraps around to a large size
                              (1 << 20, half // (1 << 21))):  # no overflow, too big to get
            self.assertIsNone(calloc(nelem, elsize), (nelem, elsize))
            line = sys._getframe().f_lineno - 1
            # no trace of the size asked for, wrapped or not (on "plain", a block the call's
            # argument handling put on a free list keeps its trace at this line: not a calloc)
            wrapped = (nelem * elsize) % (1 << (8 * ctypes_sizeof_size_t()))
            self.assertEqual([t for t in engine.get_traces() if t[2][0] == (FILENAME, line)
                              and t[1] in (wrapped, nelem * elsize)], [], (nelem, elsize))
            # the counter does not grow with the number of failed calls (after a first round
            # that warms up what the calls themselves allocate through ctypes)
            repeat(calloc, (nelem, elsize), 1000)
            few, _ = cost(repeat, calloc, (nelem, elsize), 10)
            many, _ = cost(repeat, calloc, (nelem, elsize), 1000)
            self.assertEqual(many, few, (nelem, elsize))
        # and a calloc that succeeds is traced with nelem * elsize
        ptr = calloc(10, 100)
        line = sys._getframe().f_lineno - 1
        self.assertTrue(ptr)
        self.assertEqual(self.sizes_at(line, (1000,)), [1000])
        free(ptr)
        self.assertEqual(self.sizes_at(line, (1000,)), [])

    def test_pymem_calloc_overflow(self):
        self.check_calloc_failure("PyMem")

    def test_pyobject_calloc_overflow(self):
        self.check_calloc_failure("PyObject")


def repeat(func, args, count):
    # A counter, not range(): on 2.7 a list of *count* ints would be allocated, and new int
    # blocks (kept by 2.7's int free list) would count as the cost of the calls.
    while count:
        func(*args)
        count -= 1


def cost(func, *args):
    """(change of the traced memory across func(*args), its result). The function is called
    from here, not through a lambda: on 2.7 the first call of each new code object allocates
    the frame it then keeps (its zombie frame), which "plain" traces and never frees."""
    before = traced_memory()
    result = func(*args)
    return traced_memory() - before, result


def ctypes_sizeof_size_t():
    import ctypes
    return ctypes.sizeof(ctypes.c_size_t)


# The worker threads of TrackWithoutGilTests call PyTraceMalloc_Track on line 2 of this body.

def track_blocks(track, domain, addresses, size, results):
    for address in addresses:
        results.append(track(domain, address, size))


TRACK_LINE = line_of(track_blocks, 2)
TRACK_DOMAIN = 31337


@unittest.skipIf(sys.version_info[0] < 3, "Python 2.7 has no PyTraceMalloc_Track() (the 2.7 "
                 "patch series does not add it)")
@unittest.skipIf(tmsupport.STOCK_INTERPRETER, "a stock interpreter routes PyTraceMalloc_Track() "
                 "to its own tracemalloc, not to this engine")
class TrackWithoutGilTests(EngineTestCase):
    """PyTraceMalloc_Track/Untrack called through ctypes.CDLL, which releases the GIL, from
    several threads while the main thread allocates."""

    def setUp(self):
        super(TrackWithoutGilTests, self).setUp()
        ctypes = load_ctypes(self)
        libc = ctypes.CDLL(None)
        self.track = libc.PyTraceMalloc_Track
        self.track.restype = ctypes.c_int
        self.track.argtypes = [ctypes.c_uint, ctypes.c_size_t, ctypes.c_size_t]
        self.untrack = libc.PyTraceMalloc_Untrack
        self.untrack.restype = ctypes.c_int
        self.untrack.argtypes = [ctypes.c_uint, ctypes.c_size_t]

    def domain_traces(self):
        return sorted((size, traceback[0]) for domain, size, traceback, total
                      in engine.get_traces() if domain == TRACK_DOMAIN)

    def test_not_tracing(self):
        self.assertEqual(self.track(TRACK_DOMAIN, 0x1000, 10), -2)
        self.assertEqual(self.untrack(TRACK_DOMAIN, 0x1000), -2)

    def test_threads_track_and_untrack(self):
        tracemalloc.start(5)
        nthreads, count = 4, 500
        errors = []
        results = [[] for _ in range(nthreads)]
        untracked = [[] for _ in range(nthreads)]

        def addresses(index):
            return [0x10000000 * (index + 1) + 16 * k for k in range(count)]

        def worker(index):
            try:
                track_blocks(self.track, TRACK_DOMAIN, addresses(index), 100 + index,
                             results[index])
                for address in addresses(index)[::2]:
                    untracked[index].append(self.untrack(TRACK_DOMAIN, address))
            except Exception as exc:  # pragma: no cover (reported below)
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(nthreads)]
        for thread in threads:
            thread.start()
        junk = [allocate_bytes(50) for _ in range(20000)]
        for thread in threads:
            thread.join(WAIT_SECONDS)
        self.assertEqual([thread.is_alive() for thread in threads], [False] * nthreads)
        del junk
        self.assertEqual(errors, [])
        self.assertEqual(results, [[0] * count] * nthreads)
        self.assertEqual(untracked, [[0] * (count // 2)] * nthreads)
        # exactly the odd addresses stay, each with the size its thread gave and the frame of
        # the thread that tracked it (the engine takes the GIL to read it)
        expected = sorted((100 + index, (FILENAME, TRACK_LINE))
                          for index in range(nthreads) for _ in range(count // 2))
        self.assertEqual(self.domain_traces(), expected)
        for index in range(nthreads):
            for address in addresses(index)[1::2]:
                self.assertEqual(self.untrack(TRACK_DOMAIN, address), 0)
        self.assertEqual(self.domain_traces(), [])


def expected_interpreter():
    """(version, variant) that tools/run-tests says this interpreter is, from the environment
    variable TRACEMALLOC_TEST_EXPECT ("VERSION:VARIANT", e.g. "3.11.2:track"), or None."""
    value = os.environ.get("TRACEMALLOC_TEST_EXPECT")
    if not value:
        return None
    version, _, variant = value.partition(":")
    return version, variant


def child_traces_from_startup():
    """Whether a child started with PYTRACEMALLOC=1 traces an object built on its first
    line (the child must succeed either way)."""
    code = ("import sys, tracemalloc\n"
            "obj = b'z' * 100000\n"
            "sys.stdout.write(str(tracemalloc.get_object_traceback(obj) is not None))\n")
    status, out, err = tmsupport.run_python(["-c", code],
                                            env=tmsupport.child_env(PYTRACEMALLOC="1"))
    if status != 0 or out not in ("True", "False"):
        raise AssertionError("child failed (%s): %r %s" % (status, out, err))
    return out == "True"


# The two helpers build floats on their line 2 (keep the bodies as they are).

def floats_first(holder, n):
    for k in range(n):
        holder[k] = k + 0.5


def floats_again(holder, n):
    for k in range(n):
        holder[k] = k + 0.25


FLOATS_FIRST_LINE = line_of(floats_first, 2)
FLOATS_AGAIN_LINE = line_of(floats_again, 2)
FLOAT_SIZE = sys.getsizeof(0.5)
FLOATS = 50


class InterpreterInfoTests(EngineTestCase):
    """get_interpreter_info() against what the interpreter does, never against the variant
    name that it is computed from."""

    def test_expected_interpreter(self):
        expected = expected_interpreter()
        if expected is None:
            self.skipTest("TRACEMALLOC_TEST_EXPECT is not set (tools/run-tests sets it to "
                          "VERSION:VARIANT of the interpreter it built)")
        version, variant = expected
        self.assertEqual("%d.%d.%d" % sys.version_info[:3], version)
        # e.g. a "track" entry of the matrix whose interpreter was built from another series
        self.assertEqual(engine.PATCH_VARIANT, variant)
        self.assertEqual(tracemalloc.get_interpreter_info()["variant"], variant)

    def test_startup_tracing(self):
        self.assertEqual(tracemalloc.get_interpreter_info()["startup_tracing"],
                         child_traces_from_startup())

    def free_list_behaviour(self):
        """What tracing shows of FLOATS floats that die and of the floats built after them:
        (freed: their traces went; new_line: the new floats are traced at the line that built
        them; parked: how get_freelist_memory() changed when they died, None without free-list
        hooks; released: how many pymalloc blocks the deaths gave back, None on 2.7)."""
        n = FLOATS
        drain = [None] * 300
        holder = [None] * n
        tracemalloc.start(1)
        floats_first(drain, 300)  # empties the float free list (100 floats at most on 3.x)
        floats_first(holder, n)
        # (map, not a list comprehension: on 2.7 its variable would keep a float alive)
        # Without free-list hooks a float may come from a free list filled before start()
        # (2.7's float blocks are never given back), and have no trace at all.
        first_traced = (list(map(engine.get_object_traceback, holder))
                        == [((FILENAME, FLOATS_FIRST_LINE),)] * n)
        count_before = engine.get_stats().get(FILENAME, {}).get(FLOATS_FIRST_LINE, (0, 0))[1]
        parked_before = engine.get_freelist_memory()
        blocks = getattr(sys, "getallocatedblocks", None)
        blocks_before = blocks() if blocks is not None else 0
        for k in range(n):
            holder[k] = None
        blocks_after = blocks() if blocks is not None else 0
        parked_after = engine.get_freelist_memory()
        count_after = engine.get_stats().get(FILENAME, {}).get(FLOATS_FIRST_LINE, (0, 0))[1]
        floats_again(holder, n)
        new_line = (list(map(engine.get_object_traceback, holder))
                    == [((FILENAME, FLOATS_AGAIN_LINE),)] * n)
        parked = None
        if parked_before is not None:
            parked = (parked_after[0] - parked_before[0], parked_after[1] - parked_before[1])
        else:
            self.assertIsNone(parked_after)
        released = blocks_before - blocks_after if blocks is not None else None
        return first_traced and count_before - count_after == n, new_line, parked, released

    def test_free_lists_tracked(self):
        info = tracemalloc.get_interpreter_info()
        freed, new_line, parked, released = self.free_list_behaviour()
        what = (info, freed, new_line, parked, released)
        # a dead float's trace goes, and a new float is traced where it is built
        self.assertEqual(info["free_lists_tracked"], freed and new_line, what)
        if parked is not None:
            # free-list hooks: the dead floats are parked, with their size
            self.assertTrue(info["free_lists_tracked"], what)
            self.assertTrue(abs(parked[0] - FLOATS * FLOAT_SIZE) <= 256
                            and abs(parked[1] - FLOATS) <= 4, what)
            if released is not None:
                self.assertTrue(abs(released) <= 4, what)  # kept by the free list
        elif info["free_lists_tracked"] and released is not None:
            # tracked without hooks: there is no free list, a dead float gives its block back
            self.assertTrue(abs(released - FLOATS) <= 4, what)

    def test_limitations(self):
        info = tracemalloc.get_interpreter_info()
        freed, new_line, parked, released = self.free_list_behaviour()
        startup = child_traces_from_startup()
        limitations = info["limitations"]
        self.assertEqual(limitations == [], startup and freed and new_line,
                         (limitations, startup, freed, new_line))
        if not (freed and new_line):
            self.assertTrue(any("free lists" in text for text in limitations), limitations)
        if not startup:
            self.assertTrue(any("PYTRACEMALLOC" in text for text in limitations), limitations)

    def test_freelist_memory_only_with_hooks(self):
        tracemalloc.start(1)
        memory = tracemalloc.get_freelist_memory()
        if engine.PATCH_VARIANT == "track":
            self.assertEqual(len(memory), 2)
        else:
            self.assertIsNone(memory)


class StartStopTests(EngineTestCase):
    def test_stop_releases_the_memory(self):
        if tmsupport.address_sanitizer():
            self.skipTest(tmsupport.ASAN_SKIP_REASON)
        # Tracing 200k blocks costs megabytes; after stop, none of it may stay.
        def cycle():
            tracemalloc.start(10)
            data = [allocate_bytes(10) for _ in range(200000)]
            held = tracemalloc.get_tracemalloc_memory()
            tracemalloc.stop()
            del data
            self.assertEqual(tracemalloc.get_tracemalloc_memory(), 0)
            return held

        held = cycle()
        self.assertTrue(held > 200000 * 8, held)
        rss = process_rss()
        for _ in range(5):
            cycle()
        # Five more cycles would leave 5 * held bytes behind if stop leaked the tables. (glibc
        # may keep a freed table of one cycle in its heap, malloc_trim() or not, when a block
        # above it pins the heap's top: held and the pages around it; seen as held + 2 KiB.)
        growth = process_rss() - rss
        self.assertTrue(growth < 2 * held, (growth, held))


class TimerTests(EngineTestCase):
    def test_several_timers(self):
        tracemalloc.start(1)
        calls = []
        first = tracemalloc.start_timer(0.01, calls.append, ("a",))
        second = tracemalloc.start_timer(0.01, calls.append, args=("b",))
        third = tracemalloc.start_timer(0.01, lambda **kw: calls.append(kw["c"]),
                                        kwargs={"c": "c"})
        self.assertEqual(len(set([first, second, third])), 3)
        self.assertTrue(churn(WAIT_SECONDS, lambda: set("abc") <= set(calls) and len(calls) >= 6),
                        calls)

    def test_display_top_and_take_snapshot_together(self):
        tracemalloc.start(1)
        stream = tmsupport.text_stream()
        top = tracemalloc.DisplayTop(3, file=stream)
        taken = []

        class Take(tracemalloc.TakeSnapshot):
            def take_snapshot(self):  # no file: only count the calls
                taken.append(1)
                return tracemalloc.Snapshot({}, "2000-01-01 00:00:00", 1), "nowhere"
        take = Take()
        with tmsupport.captured("stderr") as stderr:
            top.start(0.01)
            take.start(0.01)
            self.assertNotEqual(top._timer_id, take._timer_id)
            try:
                self.assertTrue(churn(WAIT_SECONDS, lambda: taken and "Top" in stream.getvalue()))
            finally:
                top.stop()
                take.stop()
        self.assertIn("Write a snapshot of memory allocations into nowhere", stderr.getvalue())

    def test_stop_inside_callback(self):
        tracemalloc.start(1)
        calls = []

        def callback():
            calls.append(1)
            tracemalloc.stop_timer(timer_id[0])
        timer_id = [tracemalloc.start_timer(0.01, callback)]
        self.assertTrue(churn(WAIT_SECONDS, lambda: calls))
        churn(0.2)
        self.assertEqual(calls, [1])

    def test_exception_is_reported_and_timer_goes_on(self):
        tracemalloc.start(1)
        calls = []

        def callback():
            calls.append(1)
            raise ValueError("timer callback failure")
        with tmsupport.captured("stderr") as stderr:
            tracemalloc.start_timer(0.01, callback)
            fired = churn(WAIT_SECONDS, lambda: len(calls) >= 3)
            tracemalloc.stop_timer()
        self.assertTrue(fired, calls)
        self.assertIn("timer callback failure", stderr.getvalue())
        self.assertIn("ValueError", stderr.getvalue())

    def test_never_fires_after_stop(self):
        tracemalloc.start(1)
        calls = []
        timer_id = tracemalloc.start_timer(0.01, calls.append, (1,))
        self.assertTrue(churn(WAIT_SECONDS, lambda: calls))
        tracemalloc.stop_timer(timer_id)
        count = len(calls)
        churn(0.3)
        self.assertEqual(len(calls), count)
        tracemalloc.stop_timer(timer_id)  # already stopped: ignored
        tracemalloc.stop_timer(123456789)  # unknown: ignored

    def test_stop_all(self):
        tracemalloc.start(1)
        calls = []
        tracemalloc.start_timer(0.01, calls.append, (1,))
        tracemalloc.start_timer(0.01, calls.append, (2,))
        tracemalloc.stop_timer()
        churn(0.3)
        self.assertEqual(calls, [])

    def test_disable_stops_timers(self):
        tracemalloc.enable()
        calls = []
        tracemalloc.start_timer(0.01, calls.append, (1,))
        tracemalloc.disable()
        tracemalloc.enable()
        churn(0.3)
        self.assertEqual(calls, [])


class TimerStateTests(EngineTestCase):
    """Timer callbacks that stop tracing or clear the traces, and stop() from another thread
    while timers run: no crash, no deadlock, and the state documented afterwards."""

    def check_stopped(self, calls):
        # stop() and disable(): tracing off, every trace forgotten, every timer stopped
        self.assertFalse(tracemalloc.is_tracing())
        self.assertEqual(engine.get_traces(), [])
        self.assertEqual(engine.get_traced_memory(), (0, 0))
        count = len(calls)
        tracemalloc.start(1)  # a stopped timer does not come back with tracing
        churn(0.3)
        self.assertEqual(len(calls), count)

    def test_callback_calls_stop(self):
        tracemalloc.start(1)
        calls = []

        def callback():
            calls.append(1)
            tracemalloc.stop()
        tracemalloc.start_timer(0.01, callback)
        tracemalloc.start_timer(0.01, calls.append, (2,))  # the other timer goes as well
        self.assertTrue(churn(WAIT_SECONDS, lambda: not tracemalloc.is_tracing()))
        churn(0.3)
        self.assertEqual(calls.count(1), 1, calls)
        self.check_stopped(calls)

    def test_callback_calls_disable(self):
        tracemalloc.enable()
        calls = []

        def callback():
            calls.append(1)
            tracemalloc.disable()
        tracemalloc.start_timer(0.01, callback)
        self.assertTrue(churn(WAIT_SECONDS, lambda: not tracemalloc.is_enabled()))
        churn(0.3)
        self.assertEqual(calls, [1])
        self.check_stopped(calls)

    def test_callback_calls_clear_traces(self):
        tracemalloc.start(1)
        calls = []
        obj = allocate_bytes(100000)
        self.assertIsNotNone(engine.get_object_traceback(obj))

        def callback():
            calls.append(1)
            tracemalloc.clear_traces()
        tracemalloc.start_timer(0.01, callback)
        self.assertTrue(churn(WAIT_SECONDS, lambda: len(calls) >= 3), calls)
        # tracing goes on, and so does the timer; what was traced before is forgotten
        self.assertTrue(tracemalloc.is_tracing())
        self.assertIsNone(engine.get_object_traceback(obj))
        obj2 = allocate_bytes(100000)
        self.assertEqual(engine.get_object_traceback(obj2), ((FILENAME, BYTES_LINE),))
        tracemalloc.stop_timer()

    def test_stop_from_another_thread_while_timers_run(self):
        tracemalloc.start(1)
        calls = []

        def callback(name):
            calls.append(name)
            junk = [allocate_bytes(100) for _ in range(100)]  # allocates: polls the timers
            del junk
        for name in "abc":
            tracemalloc.start_timer(0.001, callback, (name,))
        errors = []

        def stopper():
            try:
                deadline = time.time() + WAIT_SECONDS
                while len(calls) < 20 and time.time() < deadline:
                    time.sleep(0.001)
                tracemalloc.stop()
            except Exception as exc:  # pragma: no cover (reported below)
                errors.append(exc)
        thread = threading.Thread(target=stopper)
        thread.start()
        try:
            stopped = churn(WAIT_SECONDS, lambda: not tracemalloc.is_tracing())
        finally:
            thread.join(WAIT_SECONDS)
        self.assertFalse(thread.is_alive(), "stop() from a thread never returned")
        self.assertEqual(errors, [])
        self.assertTrue(stopped)
        self.assertTrue(len(calls) >= 20, calls)
        self.check_stopped(calls)


# The allocating threads of SnapshotThreadTests: Python objects on line 2 of this body.

def allocate_until(stop, size, keep):
    while not stop:
        keep.append(b"s" * size)
        if len(keep) > 50:
            del keep[:25]


class SnapshotThreadTests(EngineTestCase):
    def test_snapshot_from_a_thread_while_others_allocate(self):
        ctypes = load_ctypes(self)
        libc = ctypes.CDLL(None)  # RAW blocks allocated really in parallel, without the GIL
        raw_malloc, raw_free = libc.PyMem_RawMalloc, libc.PyMem_RawFree
        raw_malloc.restype, raw_malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
        raw_free.restype, raw_free.argtypes = None, [ctypes.c_void_p]
        limit = 4
        tracemalloc.start(limit)
        stop = []
        errors = []
        raw_sizes = [48 * 1024 + 8 * i + 3 for i in range(2)]
        held_at_most = 8

        def raw_worker(size):
            try:
                held = []
                while not stop:
                    held.append(raw_malloc(size))
                    if len(held) == held_at_most:
                        for ptr in held:
                            raw_free(ptr)
                        held = []
                for ptr in held:
                    raw_free(ptr)
            except Exception as exc:  # pragma: no cover (reported below)
                errors.append(exc)

        snapshots = []

        def taker():
            try:
                for _ in range(5):
                    snapshots.append(tracemalloc.take_snapshot())
            except Exception as exc:  # pragma: no cover (reported below)
                errors.append(exc)

        threads = [threading.Thread(target=raw_worker, args=(size,)) for size in raw_sizes]
        threads += [threading.Thread(target=allocate_until, args=(stop, 1000 + i, []))
                    for i in range(2)]
        for thread in threads:
            thread.start()
        take = threading.Thread(target=taker)
        try:
            take.start()
            take.join(WAIT_SECONDS)
        finally:
            stop.append(True)
            for thread in threads:
                thread.join(WAIT_SECONDS)
        self.assertEqual([t.is_alive() for t in threads + [take]], [False] * (len(threads) + 1))
        self.assertEqual(errors, [])
        self.assertEqual(len(snapshots), 5)
        python_line = (FILENAME, line_of(allocate_until, 2))
        for snapshot in snapshots:
            traces = snapshot.traces
            self.assertEqual(snapshot.traceback_limit, limit)
            total = sum(trace.size for trace in traces)
            # the snapshot's totals are the sums of its traces
            stats = snapshot.statistics("filename")
            self.assertEqual(sum(stat.size for stat in stats), total)
            self.assertEqual(sum(stat.count for stat in stats), len(traces))
            self.assertEqual(sum(size for lines in snapshot.stats.values()
                                 for size, count in lines.values()), total)
            raw_counts = dict((size, 0) for size in raw_sizes)
            python_count = 0
            for domain, size, traceback, total_nframe in traces._traces:
                # every traceback is well-formed
                self.assertTrue(isinstance(traceback, tuple) and 1 <= len(traceback) <= limit,
                                traceback)
                for filename, lineno in traceback:
                    self.assertTrue(isinstance(filename, str) and isinstance(lineno, int)
                                    and lineno >= 0, traceback)
                if traceback == (("<unknown>", 0),):
                    self.assertEqual(total_nframe, 0)
                else:
                    self.assertTrue(total_nframe >= len(traceback), (traceback, total_nframe))
                if size in raw_counts:
                    self.assertEqual((domain, traceback), (0, (("<unknown>", 0),)))
                    raw_counts[size] += 1
                if traceback[0] == python_line:
                    python_count += 1
            # a worker never holds more blocks than it allocated at once
            for size, count in raw_counts.items():
                self.assertTrue(count <= held_at_most, (size, count))
            self.assertTrue(python_count <= 2 * 51 + 2, python_count)


# Recursion deeper than the traceback limit: recurse() allocates on line 4 of its body.

def recurse(depth, out):
    if depth:
        return recurse(depth - 1, out)
    out.append(stack_depth())
    return bytearray(1000)


RECURSE_LINE = line_of(recurse, 4)


def stack_depth():
    """The number of Python frames of the caller's thread, the caller's frame included,
    counted by walking the frames."""
    frame = sys._getframe(1)
    depth = 0
    while frame is not None:
        depth += 1
        frame = frame.f_back
    return depth


class DeepStackTests(EngineTestCase):
    def test_deeper_than_the_limit(self):
        tracemalloc.start(5)
        out = []
        obj = recurse(50, out)
        # the bytearray's buffer (the object has a trace of its own, smaller)
        traces = [trace for trace in engine.get_traces()
                  if trace[2][0] == (FILENAME, RECURSE_LINE) and trace[1] >= 1000]
        self.assertEqual(len(traces), 1, traces)
        domain, size, traceback, total_nframe = traces[0]
        self.assertEqual(size, 1001)  # 1000 bytes and the final NUL
        self.assertEqual(engine.get_object_traceback(obj), traceback)
        # exactly 5 frames, the most recent first: the allocation and four recursive calls
        self.assertEqual(traceback, ((FILENAME, RECURSE_LINE),)
                         + ((FILENAME, line_of(recurse, 2)),) * 4)
        # the depth of the whole stack: the 51 frames of recurse and those below this test
        self.assertEqual(total_nframe, out[0])
        self.assertTrue(total_nframe > 51, total_nframe)
        tb = tracemalloc.Traceback(traceback, total_nframe=total_nframe)
        self.assertEqual((len(tb), tb.total_nframe), (5, out[0]))


CHILD_CODE = (
    "import sys, tracemalloc\n"
    "obj = b'z' * 100000\n"
    "traced = tracemalloc.get_object_traceback(obj) is not None\n"
    "limit = tracemalloc.get_traceback_limit() if tracemalloc.is_enabled() else 0\n"
    "sys.stdout.write('%s %s %s' % (tracemalloc.is_enabled(), limit, traced))\n"
)


def clean_stderr(text):
    """Drop the "[N refs]" lines that debug builds of Python 2 write at exit."""
    return "".join(line for line in text.splitlines(True)
                   if not (line.startswith("[") and line.rstrip().endswith(" refs]")))


@unittest.skipIf(tmsupport.USING_FAKE_ENGINE, tmsupport.SKIP_REASON)
@unittest.skipIf(tmsupport.STOCK_INTERPRETER, tmsupport.STOCK_REASON)
class StartupTests(unittest.TestCase):
    """PYTRACEMALLOC=N in a child process of this (patched) interpreter."""

    def run_child(self, value, options=()):
        env = tmsupport.child_env()
        if value is not None:
            env["PYTRACEMALLOC"] = value
        code = CHILD_CODE
        if "-E" in options:
            # -E ignores PYTHONPATH too: find the package under test by hand
            package_parent = os.path.dirname(os.path.dirname(os.path.abspath(
                tracemalloc.__file__)))
            code = "import sys; sys.path.insert(0, %r)\n%s" % (package_parent, code)
        code, out, err = tmsupport.run_python(list(options) + ["-c", code], env=env)
        return code, out, clean_stderr(err)

    def test_enabled(self):
        code, out, err = self.run_child("1")
        self.assertEqual((code, out), (0, "True 1 True"), err)
        self.assertEqual(err, "tracemalloc enabled\n")

    def test_nframe(self):
        code, out, err = self.run_child("25")
        self.assertEqual((code, out), (0, "True 25 True"), err)
        self.assertEqual(err, "tracemalloc enabled\n")

    def test_off(self):
        for value in ("0", "", None):
            code, out, err = self.run_child(value)
            self.assertEqual((code, out, err), (0, "False 0 False", ""), value)

    def test_invalid(self):
        for value in ("abc", "-1", "65536", "1073741824", "1.5"):
            code, out, err = self.run_child(value)
            self.assertEqual(code, 2, (value, out, err))
            self.assertEqual(out, "")
            lines = err.splitlines()
            self.assertEqual(len(lines), 1, err)
            self.assertIn("PYTRACEMALLOC", lines[0])
            self.assertIn(repr(value), lines[0])
            self.assertNotIn("Traceback", err)
            self.assertNotIn("Fatal Python error", err)

    def test_ignore_environment(self):
        code, out, err = self.run_child("1", options=["-E"])
        self.assertEqual((code, out, err), (0, "False 0 False", ""))


def wait_child(pid, timeout):
    """waitpid() with a timeout: kill the child and return None if it hangs."""
    deadline = time.time() + timeout
    while True:
        try:
            done, status = os.waitpid(pid, os.WNOHANG)
        except OSError as exc:
            if exc.errno == errno.EINTR:
                continue
            raise
        if done:
            return status
        if time.time() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return None
        time.sleep(0.01)


def child_checks():
    """Run in a forked child: exit status 0 if tracing goes on, else a code saying why."""
    if not tracemalloc.is_enabled():
        return 10
    obj = allocate_bytes(100000)
    if engine.get_object_traceback(obj) != ((FILENAME, BYTES_LINE),):
        return 11
    if engine.get_stats()[FILENAME][BYTES_LINE][1] < 1:
        return 12
    return 0


@unittest.skipUnless(hasattr(os, "fork"), "needs os.fork()")
class ForkTests(EngineTestCase):
    def fork_and_check(self):
        pid = os.fork()
        if pid == 0:
            status = 13
            try:
                status = child_checks()
            finally:
                os._exit(status)
        status = wait_child(pid, 120)
        self.assertIsNotNone(status, "the child hung (deadlock on the engine lock?)")
        self.assertTrue(os.WIFEXITED(status), status)
        return os.WEXITSTATUS(status)

    def test_fork_keeps_tracing(self):
        tracemalloc.start(1)
        obj = allocate_bytes(100000)
        self.assertEqual(self.fork_and_check(), 0)
        # the parent is unaffected
        self.assertEqual(engine.get_object_traceback(obj), ((FILENAME, BYTES_LINE),))

    def test_fork_while_another_thread_allocates(self):
        tracemalloc.start(1)
        stop = []

        def worker():
            while not stop:
                junk = [bytearray(100) for _ in range(100)]
                del junk
                time.sleep(0)
        thread = threading.Thread(target=worker)
        thread.start()
        try:
            for _ in range(10):
                self.assertEqual(self.fork_and_check(), 0)
        finally:
            stop.append(True)
            thread.join()


if __name__ == "__main__":
    unittest.main()
