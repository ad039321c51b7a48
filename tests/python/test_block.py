"""Tests of the measured block, tracemalloc.trace_block() (tracemalloc/_block.py), and of the
engine's parts of it (tracer_method and own_object, module/engine/method.c and suspend.c):
exact net allocations and peaks, an empty block at 0 every time, nesting, tracing started
and stopped, exceptions, the decorator, threads, limit_memory around and inside.

Every test needs the real engine but those of WorkTests (the fake engine of tmsupport) and
CompareTests, which run everywhere.
"""
from __future__ import absolute_import

import functools
import gc
import os
import sys
import threading
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "support"))
import tmsupport  # noqa: E402 (must come first: chooses the package and the engine)
from tmsupport import tracemalloc  # noqa: E402

engine = tmsupport.REAL_ENGINE
MiB = 1024 ** 2
NFRAME = 5
COUNT = 1000
SIZE = 1000  # bytes of each object's content
WAIT_SECONDS = 60
# 2.7's range() makes every int at once: a new block of ints (992 B) when the int free list
# runs short, traced in this file where free lists are not seen; xrange() makes one at a time
try:
    _irange = xrange  # noqa: F821 (Python 2.7)
except NameError:
    _irange = range


# The functions below allocate on known lines: the tests compute the line numbers from
# co_firstlineno (the *_LINE names below), so keep each body exactly as it is.

def fill(holder, size=SIZE):
    for index in _irange(len(holder)):
        holder[index] = b"\0" * size


def make_list(count, size=SIZE):
    items = []
    for _ in range(count):
        item = b"\0" * size
        items.append(item)
    return items


def transient(size):
    data = b"\0" * size
    del data


def allocate(size):
    return b"\0" * size


FILENAME = fill.__code__.co_filename
if FILENAME.endswith((".pyc", ".pyo")):
    FILENAME = FILENAME[:-1]
FILL_LINE = fill.__code__.co_firstlineno + 2
LIST_LINE = make_list.__code__.co_firstlineno + 1
ITEM_LINE = make_list.__code__.co_firstlineno + 3
APPEND_LINE = make_list.__code__.co_firstlineno + 4
TRANSIENT_LINE = transient.__code__.co_firstlineno + 1
ALLOCATE_LINE = allocate.__code__.co_firstlineno + 1

# Bytes of one object of fill(): a bytes (str on 2.7) object is one memory block of the size
# sys.getsizeof() gives (no GC header, its content inside).
OBJECT_SIZE = sys.getsizeof(b"\0" * SIZE)

# Whether the interpreter tells the tracer about its free lists ("track" and "disabled"): on
# the others ("plain", a stock twin) an object parked on a free list counts as live and a
# reused one keeps its first line (README, "Free lists and the three variants"), so that a
# block's other lines can show the ints of a loop, a frame, a dict reused... The lines of the
# objects a test allocates are exact everywhere, and the empty block too; the totals are
# checked where the free lists are seen.
FREE_LISTS_SEEN = (engine is not None
                   and tracemalloc.get_interpreter_info()["free_lists_tracked"])


def warm_up():
    """Call every function measured below once: a first call may leave memory for good
    (3.13 gives a code object its instrumentation data at its first call once a profiler
    ran in the process), which is no allocation of the measured code."""
    holder = [None] * 3
    fill(holder)
    make_list(3)
    transient(10)
    allocate(10)


def lines_of(statistics):
    """{(filename, lineno): (size_diff, count_diff)} of StatisticDiff, by the most recent
    frame of each (a Traceback lists its frames oldest first)."""
    return dict(((stat.traceback[-1].filename, stat.traceback[-1].lineno),
                 (stat.size_diff, stat.count_diff)) for stat in statistics)


class BlockTestCase(unittest.TestCase):
    """Each test starts tracing NFRAME frames deep, with nothing collectable left; the state
    of the process is restored."""

    def setUp(self):
        tmsupport.require(self, not tmsupport.USING_FAKE_ENGINE, tmsupport.SKIP_REASON)
        self.was_tracing = engine.is_tracing()
        self.limit = engine.get_traceback_limit() if self.was_tracing else 1
        engine.stop()
        warm_up()
        gc.collect()
        tracemalloc.start(NFRAME)

    def tearDown(self):
        while engine.is_suspended():
            engine.resume()
        engine.stop()
        if self.was_tracing:
            engine.start(self.limit)

    def assertEmpty(self, block):
        self.assertEqual((block.diff, block.count_diff, block.peak, block.statistics,
                          block.peak_statistics), (0, 0, 0, [], []))

    def assertConsistent(self, block):
        """The figures are the sums of the lines (exact, with nothing left out)."""
        self.assertEqual(block.diff, sum(stat.size_diff for stat in block.statistics))
        self.assertEqual(block.count_diff, sum(stat.count_diff for stat in block.statistics))
        self.assertEqual(block.peak, sum(stat.size_diff for stat in block.peak_statistics))


class EngineTests(BlockTestCase):
    """tracer_method and own_object, the engine's parts of the block."""

    def test_tracer_method_signature(self):
        # inspect.signature() follows __wrapped__ (CPython's test_inspect requires a
        # signature of the module's methods, TraceBlock.__enter__ and __exit__ included)
        def method(self, first, second=2):
            pass

        class Thing(object):
            wrapped = engine.tracer_method(method)

        self.assertIs(Thing.wrapped.__wrapped__, method)
        if sys.version_info[0] >= 3:
            import inspect
            self.assertEqual(str(inspect.signature(Thing.wrapped)), "(self, first, second=2)")
            self.assertEqual(str(inspect.signature(Thing().wrapped)), "(first, second=2)")
            for name in ("__enter__", "__exit__"):
                inspect.signature(getattr(tracemalloc.TraceBlock, name))

    def test_tracer_method_runs_suspended(self):
        seen = []

        class Thing(object):
            def method(self, *args, **kwargs):
                seen.append((self, args, kwargs, engine.is_suspended()))
                return "result"
            wrapped = engine.tracer_method(method)

        thing = Thing()
        self.assertFalse(engine.is_suspended())
        self.assertEqual(thing.wrapped(1, 2, key=3), "result")
        self.assertEqual(thing.wrapped(*[4]), "result")
        self.assertEqual(Thing.wrapped(thing, 5), "result")  # through the class: unbound
        self.assertEqual(seen, [(thing, (1, 2), {"key": 3}, True), (thing, (4,), {}, True),
                                (thing, (5,), {}, True)])
        self.assertFalse(engine.is_suspended())
        self.assertIs(Thing.__dict__["wrapped"].__func__, Thing.__dict__["method"])
        self.assertIs(thing.wrapped.__self__, thing)
        self.assertIsNone(Thing.wrapped.__self__)
        # the bound method is the tracer's memory
        self.assertIsNone(tracemalloc.get_object_traceback(thing.wrapped))
        self.assertRaises(TypeError, engine.tracer_method, 42)

    def test_tracer_method_restores_the_depth(self):
        def fail(*args):
            engine.resume()  # unbalanced on purpose: the depth is put back all the same
            raise KeyError("inside")
        method = engine.tracer_method(fail)
        engine.suspend()
        try:
            self.assertRaises(KeyError, method, 1)
            self.assertTrue(engine.is_suspended())
        finally:
            engine.resume()
        self.assertRaises(KeyError, method)
        self.assertFalse(engine.is_suspended())

    def test_own_object_undoes_the_last_allocation(self):
        size = 3 * MiB
        own = engine._get_own_memory()
        engine.reset_peak()
        data = b"\0" * size
        taken = engine.own_object(data)
        current, peak = engine.get_traced_memory()  # (the engine's: no frame on 2.7)
        # as if it had never been traced: the peak is where it was before it
        self.assertTrue(taken)
        self.assertEqual(peak, current)
        self.assertIsNone(tracemalloc.get_object_traceback(data))
        self.assertEqual(engine._get_own_memory()[1], own[1] + 1)
        self.assertFalse(engine.own_object(data))  # the tracer's already
        del data
        self.assertEqual(engine._get_own_memory()[1], own[1])

    def test_own_object_after_other_allocations(self):
        size = 3 * MiB
        engine.reset_peak()
        first = b"\0" * size
        second = b"\0" * size
        taken = engine.own_object(first)
        current, peak = engine.get_traced_memory()
        # not the last allocation: its trace goes, the peak it helped make stays
        self.assertTrue(taken)
        self.assertEqual(peak - current, sys.getsizeof(first))
        self.assertIsNone(tracemalloc.get_object_traceback(first))
        self.assertIsNotNone(tracemalloc.get_object_traceback(second))
        del first, second
        tracemalloc.stop()
        self.assertFalse(engine.own_object(b"\0" * size))  # not tracing

    def test_stats_add_up_equal_filenames(self):
        # Two code objects of one file name in distinct str objects (2.7 makes one per
        # compile()): the lines of get_stats() add both up, and sum to traced memory.
        name = os.path.join(os.path.dirname(FILENAME), "equal-names.py")
        codes = [compile("data%d = [None] * 1000\n" % index, "".join(list(name)), "exec")
                 for index in range(2)]
        if tmsupport.PY2:
            self.assertIsNot(codes[0].co_filename, codes[1].co_filename)
        namespace = {"data0": None, "data1": None}
        for code in codes:
            exec(code, namespace)
        engine.suspend()
        try:
            stats = engine.get_stats()
            peak_stats = engine.get_peak_stats()
            current, peak = engine.get_traced_memory()
        finally:
            engine.resume()
        size, count = stats[name][1]
        # each list: its array of pointers, and its object unless reused from a free list
        self.assertGreaterEqual(size, 2 * 1000 * 8)
        self.assertGreaterEqual(count, 2)
        self.assertEqual(sum(size for lines in stats.values() for size, count
                             in lines.values()), current)
        self.assertEqual(sum(size for lines in peak_stats.values() for size, count
                             in lines.values()), peak)


class NetTests(BlockTestCase):
    def test_objects_exact(self):
        # 1000 objects of known size, in a list allocated before the block
        for key_type in ("lineno", "filename", "traceback"):
            holder = [None] * COUNT
            with tracemalloc.trace_block(key_type=key_type) as block:
                fill(holder)
            if FREE_LISTS_SEEN:
                self.assertEqual((block.diff, block.count_diff),
                                 (COUNT * OBJECT_SIZE, COUNT), key_type)
                self.assertEqual(len(block.statistics), 1, block.statistics)
            stat = [stat for stat in block.statistics
                    if stat.traceback[-1].lineno in (0, FILL_LINE)][0]
            self.assertEqual((stat.size_diff, stat.count_diff), (COUNT * OBJECT_SIZE, COUNT))
            frame = stat.traceback[-1]
            self.assertEqual((frame.filename, frame.lineno),
                             (FILENAME, 0 if key_type == "filename" else FILL_LINE))
            if key_type != "filename":
                # nothing else on that line (per file: the whole file, its lists too)
                self.assertEqual((stat.size, stat.count), (COUNT * OBJECT_SIZE, COUNT))
            if key_type == "traceback":
                # the caller is there too: this test, at its call of fill()
                self.assertGreater(len(stat.traceback), 1)
                self.assertEqual(stat.traceback[-2].filename, FILENAME)
            # the peak: the objects, and what fill() had alive at its last allocation (on
            # 2.7 its frame, the list of range() and its ints)
            if key_type == "lineno":
                self.assertEqual(lines_of(block.peak_statistics)[(FILENAME, FILL_LINE)],
                                 (COUNT * OBJECT_SIZE, COUNT))
            self.assertGreaterEqual(block.peak, block.diff)
            self.assertLess(block.peak, block.diff + 64 * 1024)
            self.assertConsistent(block)
            del holder

    def test_objects_and_their_list(self):
        # the list built inside the block: the objects exactly on their line, the list's
        # array of pointers on the line that grew it, the list object on its own line
        with tracemalloc.trace_block() as block:
            data = make_list(COUNT)
        lines = lines_of(block.statistics)
        self.assertEqual(lines.pop((FILENAME, ITEM_LINE)), (COUNT * OBJECT_SIZE, COUNT))
        self.assertEqual(lines.pop((FILENAME, APPEND_LINE)),
                         (sys.getsizeof(data) - sys.getsizeof([]), 1))
        list_object = lines.pop((FILENAME, LIST_LINE), None)
        if FREE_LISTS_SEEN:
            self.assertEqual(list_object, (sys.getsizeof([]), 1))
            self.assertEqual(lines, {})
        else:
            # a list object reused from the free list keeps the line that first allocated it
            self.assertIn(list_object, (None, (sys.getsizeof([]), 1)))
        self.assertConsistent(block)

    def test_freed_objects_count_negative(self):
        holder = [None] * COUNT
        fill(holder)
        with tracemalloc.trace_block() as block:
            del holder[:500]
        self.assertEqual((block.diff, block.count_diff), (-500 * OBJECT_SIZE, -500))
        self.assertEqual(lines_of(block.statistics),
                         {(FILENAME, FILL_LINE): (-500 * OBJECT_SIZE, -500)})
        # the peak: what the deletion of a slice allocates for a moment (its line only)
        self.assertConsistent(block)
        for stat in block.peak_statistics:
            self.assertEqual(stat.traceback[-1].filename, FILENAME)
            self.assertGreater(stat.size_diff, 0)

    def test_empty_block_is_empty_every_time(self):
        for key_type, cumulative, runs in (("lineno", False, 100), ("filename", False, 20),
                                           ("traceback", False, 20), ("lineno", True, 20)):
            blocks = []
            for _ in range(runs):
                with tracemalloc.trace_block(key_type, cumulative) as block:
                    pass
                blocks.append(block)
            for block in blocks:
                self.assertEmpty(block)
        self.assertTrue(tracemalloc.is_tracing())

    def test_empty_block_starting_tracing(self):
        tracemalloc.stop()
        for _ in range(100):
            with tracemalloc.trace_block() as block:
                tracing = engine.is_tracing()  # (the engine's: no frame on 2.7)
            self.assertTrue(tracing)
            self.assertFalse(tracemalloc.is_tracing())
            self.assertEmpty(block)

    def test_blocks_are_the_tracers_memory(self):
        # The blocks and their results stay out of the traced memory: 50 blocks kept grow it
        # as much as 50 None kept.
        def run(with_blocks):
            kept = [None] * 50
            before = tracemalloc.get_traced_memory()
            for index in range(50):
                if with_blocks:
                    with tracemalloc.trace_block() as block:
                        pass
                    kept[index] = block
            after = tracemalloc.get_traced_memory()
            return after[0] - before[0], kept
        control, _ = run(False)
        growth, kept = run(True)
        if FREE_LISTS_SEEN:
            # (elsewhere a block that the tracer's work put on a free list and the user's
            # code reused is not traced: README, "A measured block")
            self.assertEqual(growth, control)
        self.assertIsNone(tracemalloc.get_object_traceback(kept[-1]))
        self.assertIsNone(tracemalloc.get_object_traceback(kept[-1].statistics))

    def test_gc_does_not_run_in_the_blocks_work(self):
        # Garbage of the user's waiting, and the collector set to run at every allocation:
        # the block's own work (its snapshots allocate) pauses it, so that nothing is
        # collected between the snapshots of a measure and the empty block stays empty.
        # (WorkTests checks the pause itself.)
        class Node(object):
            pass
        threshold = gc.get_threshold()
        enabled = gc.isenabled()
        gc.disable()
        try:
            for _ in range(200):
                node = Node()
                node.self = node
                node.data = allocate(500)
            del node
            gc.set_threshold(1)
            gc.enable()
            with tracemalloc.trace_block() as block:
                pass
        finally:
            gc.set_threshold(*threshold)
            if not enabled:
                gc.disable()
        self.assertEmpty(block)


class PeakTests(BlockTestCase):
    def test_transient_peak(self):
        with tracemalloc.trace_block() as block:
            transient(10 * MiB)
        self.assertEqual((block.diff, block.count_diff, block.statistics), (0, 0, []))
        lines = lines_of(block.peak_statistics)
        self.assertEqual(lines[(FILENAME, TRANSIENT_LINE)],
                         (10 * MiB + OBJECT_SIZE - SIZE, 1))
        self.assertEqual(block.peak_statistics[0].traceback[0].lineno, TRANSIENT_LINE)
        self.assertGreaterEqual(block.peak, 10 * MiB)
        self.assertLess(block.peak, 10 * MiB + 4096)  # 2.7: the frame of transient()
        self.assertConsistent(block)

    def test_user_peak_after_a_block(self):
        # documented: the block resets the peak at its start
        transient(20 * MiB)
        self.assertGreaterEqual(tracemalloc.get_traced_memory()[1], 20 * MiB)
        with tracemalloc.trace_block():
            pass
        self.assertLess(tracemalloc.get_traced_memory()[1], 20 * MiB)


class Nothing(object):
    """A context manager that allocates nothing of the user's, to compare a block with an
    inner block to the same code without it."""
    __slots__ = ()
    __enter__ = engine.tracer_method(lambda self: None) if engine is not None else None
    __exit__ = (engine.tracer_method(lambda self, *exc_info: False) if engine is not None
                else None)


NOTHING = Nothing()


class NestedTests(BlockTestCase):
    def run_outer(self, nest, where):
        """An outer block that makes a transient peak of 10 MiB before, inside or after an
        inner block (or the same code with a context manager that does nothing), and keeps
        100 + 200 + 200 objects; the inner keeps 200 and makes a transient peak of 1 MiB
        (10 MiB when "inside"). "freeing": the outer only runs the inner, which frees 100
        objects made before: the frame of 2.7's trace_block() call would be the outer's peak if
        it were not the tracer's."""
        holders = [[None] * 100, [None] * 200, [None] * 200]
        if where == "freeing":
            fill(holders[0])
        gc.collect()
        with tracemalloc.trace_block() as outer:
            if where == "before":
                transient(10 * MiB)
            if where != "freeing":
                fill(holders[0])
            with (tracemalloc.trace_block() if nest else NOTHING) as inner:
                if where == "freeing":
                    del holders[0][:]
                else:
                    fill(holders[1])
                    transient(10 * MiB if where == "inside" else MiB)
            if where != "freeing":
                fill(holders[2])
            if where == "after":
                transient(10 * MiB)
        return outer, inner

    def test_inner_block_costs_the_outer_nothing(self):
        for where in ("before", "inside", "after", "freeing"):
            plain, nothing = self.run_outer(False, where)
            outer, inner = self.run_outer(True, where)
            self.assertIsNone(nothing)
            self.assertEqual(lines_of(outer.statistics), lines_of(plain.statistics), where)
            self.assertEqual((outer.diff, outer.count_diff), (plain.diff, plain.count_diff))
            self.assertEqual(outer.peak, plain.peak, where)
            self.assertEqual(lines_of(outer.peak_statistics), lines_of(plain.peak_statistics),
                             where)
            self.assertConsistent(outer)
            self.assertConsistent(inner)
            if where == "freeing":
                for block in (outer, inner):
                    self.assertEqual(lines_of(block.statistics)[(FILENAME, FILL_LINE)],
                                     (-100 * OBJECT_SIZE, -100))
                # (what the deletion of a slice allocates for a moment: the same peak)
                self.assertEqual(inner.peak, outer.peak)
                continue
            self.assertEqual(lines_of(outer.statistics)[(FILENAME, FILL_LINE)],
                             (500 * OBJECT_SIZE, 500))
            if FREE_LISTS_SEEN:
                self.assertEqual((outer.diff, outer.count_diff), (500 * OBJECT_SIZE, 500))
            lines = lines_of(outer.peak_statistics)
            self.assertEqual(lines[(FILENAME, TRANSIENT_LINE)],
                             (10 * MiB + OBJECT_SIZE - SIZE, 1), where)
            # the inner block: its 200 objects, its own peak
            self.assertEqual(lines_of(inner.statistics)[(FILENAME, FILL_LINE)],
                             (200 * OBJECT_SIZE, 200))
            self.assertEqual(lines_of(inner.peak_statistics)[(FILENAME, TRANSIENT_LINE)],
                             ((10 * MiB if where == "inside" else MiB) + OBJECT_SIZE - SIZE,
                              1))

    def test_three_levels(self):
        with tracemalloc.trace_block() as first:
            transient(3 * MiB)
            with tracemalloc.trace_block() as second:
                transient(2 * MiB)
                with tracemalloc.trace_block() as third:
                    transient(MiB)
                    data = allocate(1234)
        for block, peak in ((first, 3 * MiB), (second, 2 * MiB), (third, MiB)):
            self.assertConsistent(block)
            self.assertEqual(lines_of(block.statistics)[(FILENAME, ALLOCATE_LINE)],
                             (sys.getsizeof(data), 1))
            self.assertEqual(lines_of(block.peak_statistics)[(FILENAME, TRANSIENT_LINE)][0],
                             peak + OBJECT_SIZE - SIZE)

    def test_limit_memory_around_and_inside(self):
        with tracemalloc.limit_memory("50 MB"):
            transient(5 * MiB)
            with tracemalloc.trace_block() as block:
                transient(MiB)
                with tracemalloc.limit_memory("50 MB"):
                    transient(2 * MiB)
        self.assertEqual(lines_of(block.peak_statistics)[(FILENAME, TRANSIENT_LINE)][0],
                         2 * MiB + OBJECT_SIZE - SIZE)
        self.assertConsistent(block)
        # the limit around saw the 5 MiB before the block reset the peak
        self.assertRaises(AssertionError, self.limited, "4 MB")
        self.limited("6 MB")

    def limited(self, limit):
        with tracemalloc.limit_memory(limit):
            transient(5 * MiB)
            with tracemalloc.trace_block():
                transient(MiB)


class TracingTests(BlockTestCase):
    def test_starts_and_stops_tracing(self):
        tracemalloc.stop()
        state = [None, None]
        with tracemalloc.trace_block(nframe=7) as block:
            state[0] = tracemalloc.is_tracing()
            state[1] = tracemalloc.get_traceback_limit()
            data = allocate(5000)
        self.assertEqual(state, [True, 7])
        self.assertFalse(tracemalloc.is_tracing())
        lines = lines_of(block.statistics)
        self.assertEqual(lines[(FILENAME, ALLOCATE_LINE)], (sys.getsizeof(data), 1))
        if FREE_LISTS_SEEN:
            self.assertEqual(len(lines), 1, lines)
        # already tracing: the limit in use stays, and tracing goes on
        tracemalloc.start(3)
        with tracemalloc.trace_block(nframe=9):
            limit = tracemalloc.get_traceback_limit()
        self.assertEqual((limit, tracemalloc.is_tracing()), (3, True))

    def test_exception(self):
        # The exception goes on; the block has its results, with the objects exactly (the
        # exception and its traceback, alive at the end, are in them too); the tracing
        # that the block started is stopped.
        holder = [None] * COUNT
        tracemalloc.stop()
        block = tracemalloc.trace_block()
        try:
            with block:
                fill(holder)
                raise ValueError("in the block")
        except ValueError as exc:
            self.assertEqual(str(exc), "in the block")
        else:
            self.fail("the exception did not propagate")
        self.assertFalse(tracemalloc.is_tracing())
        self.assertEqual(lines_of(block.statistics)[(FILENAME, FILL_LINE)],
                         (COUNT * OBJECT_SIZE, COUNT))
        self.assertGreater(block.diff, COUNT * OBJECT_SIZE)
        self.assertConsistent(block)

    def test_tracing_stopped_inside(self):
        def stop_inside():
            with tracemalloc.trace_block():
                tracemalloc.stop()
        self.assertRaises(RuntimeError, stop_inside)
        try:
            stop_inside()
        except RuntimeError as exc:
            self.assertIn("tracing was stopped inside the block", str(exc))

    def test_bad_arguments(self):
        for kwargs, error in (({"key_type": "line"}, ValueError),
                              ({"key_type": "traceback", "cumulative": True}, ValueError),
                              ({"nframe": 0}, ValueError), ({"nframe": 70000}, ValueError),
                              ({"nframe": True}, ValueError), ({"nframe": "5"}, ValueError),
                              ({"callback": 42}, TypeError)):
            try:
                tracemalloc.trace_block(**kwargs)
            except error as exc:
                message = str(exc)
            else:
                self.fail("no %s for %r" % (error.__name__, kwargs))
            self.assertTrue(message.startswith("trace_block: "), message)
            self.assertNotIn("\n", message)
        self.assertFalse(engine.is_suspended())
        self.assertRaises(TypeError, tracemalloc.trace_block(), 42)

    def test_misuse(self):
        block = tracemalloc.trace_block()
        self.assertRaises(RuntimeError, block.format)

        def twice():
            with block:
                with block:
                    pass
        self.assertRaises(RuntimeError, twice)
        self.assertFalse(engine.is_suspended())
        self.assertRaises(RuntimeError, block.__exit__, None, None, None)
        self.assertFalse(engine.is_suspended())

        def with_callback():
            with tracemalloc.trace_block(callback=lambda block: None):
                pass
        self.assertRaises(ValueError, with_callback)
        # a block runs again, one with statement at a time
        kept = [None, None]
        for index in range(2):
            with block:
                kept[index] = allocate(100 + index)
            self.assertEqual(lines_of(block.statistics), {(FILENAME, ALLOCATE_LINE):
                                                          (sys.getsizeof(kept[index]), 1)})


class DecoratorTests(BlockTestCase):
    def test_decorator(self):
        seen = []

        @tracemalloc.trace_block(callback=seen.append)
        def measured(holder, size=SIZE):
            fill(holder, size)
            return "result"

        self.assertEqual(measured.__name__, "measured")
        self.assertIsNone(measured.last_block)
        holders = [[None] * COUNT, [None] * 10]
        self.assertEqual(measured(holders[0]), "result")
        self.assertEqual(measured(holders[1], size=SIZE), "result")  # keywords too
        self.assertEqual(len(seen), 2)
        self.assertIs(measured.last_block, seen[1])
        for block, count in zip(seen, (COUNT, 10)):
            lines = lines_of(block.statistics)
            self.assertEqual(lines[(FILENAME, FILL_LINE)], (count * OBJECT_SIZE, count))
            if FREE_LISTS_SEEN:
                self.assertEqual(len(lines), 1, lines)
            self.assertConsistent(block)

        # any callable, also without a __name__
        partial = tracemalloc.trace_block()(functools.partial(allocate, 10))
        result = partial()
        # what the function returns is alive at the end of its block: in its results
        self.assertEqual(lines_of(partial.last_block.statistics)[(FILENAME, ALLOCATE_LINE)],
                         (sys.getsizeof(result), 1))

        @tracemalloc.trace_block(key_type="filename", callback=seen.append)
        def failing():
            allocate(100)
            raise KeyError("in the function")
        self.assertRaises(KeyError, failing)
        self.assertIs(failing.last_block, seen[2])
        self.assertEqual(failing.last_block.key_type, "filename")
        self.assertConsistent(failing.last_block)

    def test_empty_function(self):
        @tracemalloc.trace_block()
        def nothing():
            pass
        for _ in range(20):
            nothing()
            block = nothing.last_block
            self.assertConsistent(block)
            if not FREE_LISTS_SEEN:
                continue  # (2.7's frame of the call comes from its free list)
            self.assertEqual((block.diff, block.count_diff, block.statistics), (0, 0, []))
            if not tmsupport.PY2:
                # 2.7 allocates the frame of the call: in the peak of the call
                self.assertEqual((block.peak, block.peak_statistics), (0, []))

    def test_recursion(self):
        @tracemalloc.trace_block()
        def depth(level):
            data = allocate(100)
            if level:
                return [data] + depth(level - 1)
            return [data]
        result = depth(3)
        self.assertEqual(len(result), 4)
        self.assertEqual(lines_of(depth.last_block.statistics)[(FILENAME, ALLOCATE_LINE)],
                         (4 * sys.getsizeof(result[0]), 4))
        self.assertConsistent(depth.last_block)


class ThreadTests(BlockTestCase):
    def test_other_threads_count(self):
        # documented: the engine does not record which thread allocated a block
        started = threading.Event()
        go = threading.Event()
        done = threading.Event()
        holder = [None] * 100

        def worker():
            started.set()
            go.wait(WAIT_SECONDS)
            fill(holder)
            done.set()

        thread = threading.Thread(target=worker)
        thread.start()
        try:
            started.wait(WAIT_SECONDS)
            with tracemalloc.trace_block() as block:
                go.set()
                done.wait(WAIT_SECONDS)
        finally:
            go.set()
            thread.join(WAIT_SECONDS)
        self.assertTrue(done.is_set())
        self.assertEqual(lines_of(block.statistics)[(FILENAME, FILL_LINE)],
                         (100 * OBJECT_SIZE, 100))


class TextTests(BlockTestCase):
    def test_format(self):
        holder = [None] * COUNT
        with tracemalloc.trace_block() as block:
            fill(holder)
            transient(2 * MiB)
        text = block.format()
        lines = text.splitlines()
        self.assertEqual(lines[0], "Measured block: +%d KiB in %+d blocks, peak %d KiB above "
                         "the start" % (block.diff // 1024, block.count_diff,
                                        block.peak // 1024))
        if FREE_LISTS_SEEN:
            self.assertEqual(block.count_diff, COUNT)
        self.assertEqual(lines[1], "Net allocations per file and line: %d changed"
                         % len(block.statistics))
        # the biggest change first, the file name shortened to its last 3 parts
        self.assertEqual(lines[2], "#1: .../tests/python/%s:%d: size=%d KiB (+%d KiB), "
                         "count=%d (+%d), average=%d B"
                         % (os.path.basename(FILENAME), FILL_LINE,
                            COUNT * OBJECT_SIZE // 1024, COUNT * OBJECT_SIZE // 1024, COUNT,
                            COUNT, OBJECT_SIZE))
        peak_title = 2 + min(len(block.statistics), 10) + (len(block.statistics) > 10)
        self.assertEqual(lines[peak_title], "At the peak, per file and line (from the start): "
                         "%d changed" % len(block.peak_statistics))
        self.assertTrue(lines[peak_title + 1].startswith(
            "#1: .../tests/python/%s:%d: size=2048 KiB (+2048 KiB), count=1 (+1)"
            % (os.path.basename(FILENAME), TRANSIENT_LINE)), lines[peak_title + 1])
        short = block.format(limit=1)
        self.assertIn("\n%d more: size=" % (len(block.peak_statistics) - 1), short)
        stream = tmsupport.text_stream()
        block.display(file=stream)
        self.assertEqual(stream.getvalue(), text)
        self.assertIn("diff=%+d B count_diff=%+d peak=%d B" % (block.diff, block.count_diff,
                                                              block.peak), repr(block))

    def test_format_traceback(self):
        with tracemalloc.trace_block(key_type="traceback") as block:
            data = allocate(100)
        lines = block.format().splitlines()
        self.assertTrue(lines[2].startswith("#1: ") and (":%d: " % ALLOCATE_LINE) in lines[2],
                        lines)
        # its caller, indented: this test
        self.assertTrue(lines[3].startswith("    .../") and os.path.basename(FILENAME)
                        in lines[3], lines)
        del data


class ReadmeTests(unittest.TestCase):
    """The examples of README's "A measured block" run, and print what it shows."""

    def setUp(self):
        tmsupport.require(self, not tmsupport.USING_FAKE_ENGINE, tmsupport.SKIP_REASON)

    def run_example(self, first_line):
        """(the lines it prints, the lines README shows) of the example *first_line*."""
        out, shown = tmsupport.run_readme_example(self, first_line)
        return out.splitlines(), shown.splitlines()

    def test_block_example(self):
        lines, shown = self.run_example("# a measured block example")
        self.assertTrue(lines[0].startswith("Measured block: +"), lines)
        # the rows kept first (with the ints of 2.7's range() where free lists are not seen)
        self.assertEqual(lines[2].split(" size=")[0], shown[2].split(" size=")[0])
        if FREE_LISTS_SEEN:
            self.assertEqual(lines[1], shown[1])  # the rows kept, the slice that holds them
            self.assertIn(" count=100 (+100), average=", lines[2])
        peak = [line for line in lines if line.startswith("At the peak")][0]
        first = lines[lines.index(peak) + 1]
        self.assertTrue(first.startswith("#1: <string>:5: size="), first)
        net = lines[-1].split()
        self.assertEqual(net[0], "net")
        self.assertGreaterEqual(int(net[-2]), 10000 * 1000)  # the peak: the 10000 rows

    def test_function_example(self):
        lines, shown = self.run_example("# a measured function example")
        self.assertTrue(lines[0].startswith("<TraceBlock key_type='lineno' diff=+"), lines)
        self.assertEqual(lines[3].split(" size=")[0], shown[3].split(" size=")[0])
        if FREE_LISTS_SEEN:
            # 600 words, the list and its array
            self.assertIn("count_diff=+602 ", lines[0])
            self.assertIn(": size=%s (+%s), count=602 (+602), average="
                          % ((lines[3].split("size=")[1].split(" (")[0],) * 2), lines[3])


class WorkTests(tmsupport.FakeEngineMixin, unittest.TestCase):
    """The block's side, with the fake engine (runs everywhere): its work runs suspended and
    with the collector paused, the figures come from the engine's statistics, tracing is
    started and stopped, the state is restored on error."""

    def setUp(self):
        super(WorkTests, self).setUp()
        self.seen = []
        self.fail_in = None
        get_stats = self.engine.get_stats

        def recording_get_stats():
            self.seen.append((self.engine.suspend_depth, gc.isenabled()))
            if self.fail_in is not None and len(self.seen) == self.fail_in:
                raise KeyError("in the block's work")
            return get_stats()
        self.engine.get_stats = recording_get_stats
        self.collecting = gc.isenabled()

    def tearDown(self):
        if self.collecting:
            gc.enable()
        else:
            gc.disable()
        super(WorkTests, self).tearDown()

    def test_work_suspended_and_collector_paused(self):
        gc.enable()
        engine = self.engine
        engine.stats = {"x.py": {1: (40, 1)}}
        engine.traced = [40, 70]
        with tracemalloc.trace_block(nframe=3) as block:
            engine.stats = {"x.py": {1: (140, 3), 2: (8, 1)}}
            engine.peak_stats = {"x.py": {1: (240, 5)}}
            engine.traced = [148, 240]
        self.assertEqual(self.seen, [(1, False), (1, False)])
        self.assertTrue(gc.isenabled())
        self.assertEqual(engine.suspend_depth, 0)
        self.assertEqual(engine.calls, [("start", 3), ("stop",)])
        self.assertEqual((block.diff, block.count_diff, block.peak), (108, 3, 200))
        self.assertEqual([(stat.traceback[-1].lineno, stat.size_diff, stat.count_diff)
                          for stat in block.statistics], [(1, 100, 2), (2, 8, 1)])
        self.assertEqual([(stat.traceback[-1].lineno, stat.size_diff, stat.count_diff)
                          for stat in block.peak_statistics], [(1, 200, 4)])
        # a collector switched off stays off
        gc.disable()
        with tracemalloc.trace_block():
            pass
        self.assertFalse(gc.isenabled())

    def test_error_in_the_work(self):
        gc.enable()
        self.fail_in = 1

        def run():
            with tracemalloc.trace_block():
                pass
        self.assertRaises(KeyError, run)
        self.assertEqual(self.engine.calls, [("start", 1), ("stop",)])
        self.assertTrue(gc.isenabled())
        self.assertEqual(self.engine.suspend_depth, 0)
        # in the work of the exit: the block ends all the same
        self.fail_in = 2
        self.seen = []
        self.assertRaises(KeyError, run)
        self.assertFalse(self.engine.tracing)
        self.assertTrue(gc.isenabled())
        self.assertEqual(self.engine.suspend_depth, 0)


class CompareTests(unittest.TestCase):
    """The block's comparison gives the entries of Snapshot.compare_to() that changed, in
    its order, from traces or from statistics per line as the block takes them (pure
    Python: runs everywhere)."""

    def test_same_as_compare_to(self):
        def trace(size, *frames):
            return (0, size, tuple(frames), len(frames))
        a, b, c, d = ("a.py", 1), ("b.py", 2), ("c.py", 3), ("a.py", 4)
        old = [trace(10, a), trace(10, a), trace(5, b, a), trace(7, c), trace(1, b),
               trace(4, d)]
        new = [trace(10, a), trace(30, b, a), trace(7, c), trace(2, c, b), trace(3, a, c),
               trace(9, d)]
        for key_type, cumulative in (("lineno", False), ("filename", False),
                                     ("traceback", False), ("lineno", True),
                                     ("filename", True)):
            block = tracemalloc.TraceBlock(key_type, cumulative)
            old_snapshot = tracemalloc.Snapshot(old, 5)
            new_snapshot = tracemalloc.Snapshot(new, 5)
            expected = [stat for stat in new_snapshot.compare_to(old_snapshot, key_type,
                                                                 cumulative)
                        if stat.size_diff or stat.count_diff]
            if block._with_traces():
                taken = (old, new)
            else:
                taken = (old_snapshot.stats, new_snapshot.stats)
            changes = tracemalloc._block._changes(block._groups(taken[1]),
                                                  block._groups(taken[0]))
            self.assertEqual(changes, expected, (key_type, cumulative))
            self.assertTrue(len(expected) >= 3, expected)


if __name__ == "__main__":
    unittest.main()
