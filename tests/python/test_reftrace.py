"""Reference tracing (tracemalloc.memtrace.ReferenceTracing, tracemalloc/_reftrace.py and
module/engine/reftrace.c): exact counts of the objects a function creates and deletes, per
type, the filters, suspension, the log's rows, the summary, and tracing at the same time.

ReferenceTracingTests need the interpreter's reference tracer: 3.13, and 2.7 and 3.11 built
with the reftracer-hook patch (every variant); a stock 3.11 has none and skips them
(tests/expected-skips). AvailabilityTests run everywhere.
"""
from __future__ import absolute_import

import gc
import os
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "support"))
import tmsupport  # noqa: E402 (must come first: chooses the package and the engine)
from tmsupport import tracemalloc  # noqa: E402
import tracemalloc.memtrace  # noqa: E402
from tracemalloc import _reftrace  # noqa: E402

engine = tmsupport.REAL_ENGINE
HAVE_HOOK = engine is not None and engine.reftrace_available()
NO_HOOK_REASON = "this interpreter has no reference tracer (stock 3.11)"
ReferenceTracing = tracemalloc.memtrace.ReferenceTracing


class Widget(object):
    pass


class Gadget(object):
    pass


# make() creates its Widgets on its first body line: the log's rows say so.
def make(count, deleted):
    objs = [Widget() for _ in range(count)]
    del objs[:deleted]
    return objs


MAKE_LINE = make.__code__.co_firstlineno + 1
FILENAME = make.__code__.co_filename


def gadgets(count):
    return [Gadget() for _ in range(count)]


def float_work(count):
    total = 0.0
    for i in range(count):
        total = total + 0.5 * i
    return total


def str_work(count):
    text = ""
    for i in range(count):
        text += "ab"  # resized in place: the interpreter moves the object with realloc()
    return len(text)


def expected_hook():
    """Must this interpreter have the reference tracer? 3.13 always; 2.7 and 3.11 when
    patched (the engine names a variant other than "stock")."""
    return sys.version_info[:2] >= (3, 13) or engine.PATCH_VARIANT != "stock"


@unittest.skipIf(engine is None, tmsupport.SKIP_REASON)
@unittest.skipUnless(HAVE_HOOK, NO_HOOK_REASON)
class ReferenceTracingTests(unittest.TestCase):
    def setUp(self):
        self.tmpdir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.tmpdir)
        self.log = os.path.join(self.tmpdir, "refs.log")
        gc.collect()

    def trace(self, **kwargs):
        kwargs.setdefault("filepath", self.log)
        return ReferenceTracing(**kwargs)

    def test_counts_created_and_deleted(self):
        with self.trace() as rt:
            kept = make(1000, 600)
            gadgets(10)
        self.assertEqual(len(kept), 400)
        self.assertEqual(rt.new_counts["Widget"], 1000)
        self.assertEqual(rt.deleted_counts["Widget"], 600)
        self.assertEqual(rt.live_counts["Widget"], 400)
        self.assertEqual(rt.counts()["Gadget"], (10, 10))
        self.assertEqual(rt.live_counts["Gadget"], 0)

    def test_counts_while_running(self):
        with self.trace() as rt:
            kept = make(30, 10)
            self.assertEqual(rt.counts()["Widget"], (30, 10))
            del kept
            self.assertEqual(rt.counts()["Widget"], (30, 30))
        self.assertEqual(rt.counts()["Widget"], (30, 30))

    def test_objects_made_before_count_as_deleted(self):
        before = make(20, 0)
        with self.trace() as rt:
            del before[:5]
        self.assertEqual(rt.counts()["Widget"], (0, 5))
        self.assertEqual(rt.live_counts["Widget"], -5)
        self.assertEqual(rt.grown_types(), [])

    def test_builtins_excluded_by_default(self):
        with self.trace() as rt:
            kept = make(100, 0)
            data = [dict(a=i) for i in range(50)]
        del kept, data
        builtins = set(["list", "dict", "int", "tuple", "str", "function", "frame", "code"])
        self.assertEqual(set(rt.counts()) & builtins, set())
        self.assertEqual(rt.new_counts["Widget"], 100)

    def test_include_builtins(self):
        with self.trace(include_builtins=True) as rt:
            data = [dict(a=i) for i in range(50)]
        del data
        self.assertGreaterEqual(rt.new_counts["dict"], 50)
        self.assertGreaterEqual(rt.new_counts["list"], 1)

    def test_every_path_balanced(self):
        # Temporaries die through the interpreter's inlined and specialized decrefs (float
        # arithmetic) and strings are resized in place (str +=): every object created is
        # seen destroyed, so that nothing is left alive at the end.
        with self.trace(include_types=[float, str]) as rt:
            result = float_work(2000)
            length = str_work(500)
            del result
        self.assertEqual(length, 1000)
        new, deleted = rt.counts()["float"]
        self.assertGreaterEqual(new, 2000)
        self.assertEqual(new, deleted)
        new, deleted = rt.counts()["str"]
        self.assertGreaterEqual(new, 1)
        self.assertEqual(new, deleted)

    def test_include_types(self):
        with self.trace(include_types=["Widget"]) as rt:
            kept = make(100, 40)
            gadgets(5)
        del kept
        self.assertEqual(rt.counts(), {"Widget": (100, 40)})

    def test_include_a_builtin_type(self):
        # An included builtin type is traced without include_builtins.
        with self.trace(include_types=[dict, Gadget]) as rt:
            data = [dict(a=i) for i in range(50)]
            gadgets(5)
            make(10, 0)
        del data
        self.assertEqual(set(rt.counts()), set(["dict", "Gadget"]))
        self.assertGreaterEqual(rt.new_counts["dict"], 50)
        self.assertEqual(rt.counts()["Gadget"], (5, 5))

    def test_exclude_types(self):
        with self.trace(exclude_types=[Widget]) as rt:
            make(100, 40)
            gadgets(7)
        self.assertNotIn("Widget", rt.counts())
        self.assertEqual(rt.counts()["Gadget"], (7, 7))

    def test_dotted_name_matches_last_part(self):
        import collections
        with self.trace(include_types=["OrderedDict"]) as rt:
            data = [collections.OrderedDict() for _ in range(3)]
            del data
        names = list(rt.counts())
        self.assertEqual(len(names), 1, names)
        self.assertTrue(names[0].endswith("OrderedDict"), names)
        self.assertEqual(rt.counts()[names[0]], (3, 3))

    def test_suspend_resume(self):
        with self.trace() as rt:
            rt.suspend()
            first = make(100, 0)
            rt.suspend()
            make(10, 0)
            rt.resume()
            gadgets(3)
            rt.resume()
            second = make(50, 20)
        self.assertEqual(rt.counts()["Widget"], (50, 20))
        self.assertNotIn("Gadget", rt.counts())
        del first, second

    def test_package_work_not_counted(self):
        # What a thread does with tracing suspended (the package's own work) is not seen.
        from tracemalloc._suspend import _suspended
        with self.trace() as rt:
            with _suspended():
                hidden = make(100, 0)
            shown = make(10, 0)
        self.assertEqual(rt.counts()["Widget"], (10, 0))
        del hidden, shown

    def test_log_rows(self):
        with self.trace() as rt:
            kept = make(1000, 600)
        self.assertEqual(rt.log_file_path, self.log)
        with open(self.log) as fp:
            lines = fp.read().splitlines()
        self.assertEqual(tuple(lines[0].split("\t")), _reftrace.LOG_COLUMNS)
        rows = [line.split("\t") for line in lines[1:]]
        self.assertTrue(all(len(row) == len(_reftrace.LOG_COLUMNS) for row in rows))
        widgets = [row for row in rows if row[4] == "Widget"]
        new = [row for row in widgets if row[0] == "NEW"]
        deleted = [row for row in widgets if row[0] == "DEL"]
        self.assertEqual((len(new), len(deleted)), (1000, 600))
        self.assertEqual(len(widgets), len(rows))
        # NEW rows: the live count climbs 1..1000, at make()'s line; DEL rows bring it to 400
        self.assertEqual([int(row[3]) for row in new], list(range(1, 1001)))
        self.assertEqual([int(row[3]) for row in deleted], list(range(999, 399, -1)))
        for row in new:
            self.assertEqual(row[5], FILENAME)
            self.assertEqual(int(row[6]), MAKE_LINE)
            self.assertIn(row[7], ("make", "<listcomp>"))
        # every deleted object is one made in the block, and the kept ones were not deleted
        new_addresses = set(row[2] for row in new)
        deleted_addresses = set(row[2] for row in deleted)
        self.assertTrue(deleted_addresses <= new_addresses)
        kept_addresses = set("%x" % id(obj) for obj in kept)
        self.assertEqual(set(int(a, 16) for a in new_addresses - deleted_addresses),
                         set(int(a, 16) for a in kept_addresses))
        # the clock never goes back; RSS is a size, and DRSS the difference of two rows
        clocks = [float(row[1]) for row in rows]
        self.assertEqual(clocks, sorted(clocks))
        rss = [int(row[8]) for row in rows]
        self.assertTrue(all(value > 0 for value in rss))
        self.assertEqual([int(row[9]) for row in rows[1:]],
                         [b - a for a, b in zip(rss, rss[1:])])

    def test_fork(self):
        # The rows buffered before fork() are written once; then both processes add theirs.
        with self.trace() as rt:
            first = make(3, 0)
            pid = os.fork()
            if pid == 0:
                try:
                    make(5, 0)
                    rt.__exit__(None, None, None)
                finally:
                    os._exit(0)
            os.waitpid(pid, 0)
            second = make(2, 0)
        self.assertEqual(rt.counts()["Widget"], (5, 0))
        with open(self.log) as fp:
            rows = [line.split("\t") for line in fp.read().splitlines()[1:]]
        widgets = [row[2] for row in rows if row[0] == "NEW" and row[4] == "Widget"]
        self.assertEqual(len(widgets), 3 + 5 + 2)
        self.assertEqual(len(set(widgets[:3])), 3)
        del first, second

    def test_default_log_file(self):
        with ReferenceTracing() as rt:
            make(3, 3)
        self.addCleanup(os.remove, rt.log_file_path)
        self.assertTrue(os.path.basename(rt.log_file_path).startswith("reftrace-"))
        with open(rt.log_file_path) as fp:
            self.assertEqual(len(fp.read().splitlines()), 1 + 6)

    def test_gc_collect_at_exit(self):
        with self.trace(gc_collect_at_exit=True) as rt:
            a, b = Widget(), Widget()
            a.other, b.other = b, a
            del a, b
        self.assertEqual(rt.counts()["Widget"], (2, 2))

    def test_summary_of_grown_types(self):
        with self.trace() as rt:
            widgets = make(1000, 600)
            more = gadgets(25)
            gadgets(5)
        self.assertEqual(rt.grown_types(), [("Widget", 400), ("Gadget", 25)])
        lines = rt.summary().splitlines()
        self.assertEqual(lines[0], "Types whose live count grew: 2")
        self.assertEqual(lines[2].split(), ["+400", "1000", "600", "Widget"])
        self.assertEqual(lines[3].split(), ["+25", "30", "5", "Gadget"])
        del widgets, more

    def test_summary_nothing_grew(self):
        with self.trace() as rt:
            make(10, 10)
        self.assertEqual(rt.summary(), "No type's live count grew.")

    def test_with_tracemalloc_tracing(self):
        # The allocator hooks and the reference tracer run together, each exact.
        was_tracing = tracemalloc.is_tracing()
        if not was_tracing:
            tracemalloc.start()
            self.addCleanup(tracemalloc.stop)
        self.assertTrue(tracemalloc.is_tracing())
        with self.trace() as rt:
            kept = make(1000, 600)
        snapshot = tracemalloc.take_snapshot()
        self.assertEqual(rt.counts()["Widget"], (1000, 600))
        traced = [stat for stat in snapshot.statistics("lineno")
                  if stat.traceback[0].filename == FILENAME
                  and stat.traceback[0].lineno == MAKE_LINE]
        self.assertTrue(traced, "make()'s line is not in the snapshot")
        self.assertGreaterEqual(traced[0].count, 400)
        del kept

    def test_one_at_a_time(self):
        with self.trace():
            other = ReferenceTracing(filepath=os.path.join(self.tmpdir, "other.log"))
            with self.assertRaises(RuntimeError) as cm:
                other.__enter__()
        self.assertIn("already running", str(cm.exception))
        with self.trace() as rt:  # and usable again after
            make(2, 2)
        self.assertEqual(rt.counts()["Widget"], (2, 2))

    def test_unwritable_log(self):
        path = os.path.join(self.tmpdir, "missing-dir", "refs.log")
        with self.assertRaises(EnvironmentError):
            with ReferenceTracing(filepath=path):
                pass
        self.assertFalse(engine.reftrace_is_active())


@unittest.skipIf(engine is None, tmsupport.SKIP_REASON)
@unittest.skipUnless(HAVE_HOOK, NO_HOOK_REASON)
class ReadmeExampleTests(unittest.TestCase):
    """The README's example runs as written and prints what it shows; its log starts with the
    rows shown (times, addresses and sizes aside)."""

    def test_example(self):
        import io
        if tmsupport.TESTS_DIR not in sys.path:
            sys.path.insert(0, tmsupport.TESTS_DIR)
        from test_readme import README, literal_blocks
        tmpdir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, tmpdir)
        with io.open(README, encoding="utf-8") as fp:
            blocks = literal_blocks(fp.read())
        index = [i for i, block in enumerate(blocks)
                 if block.startswith("# reference tracing example")]
        self.assertEqual(len(index), 1)
        code, shown, head = blocks[index[0]:index[0] + 3]
        status, out, err = tmsupport.run_python(["-c", code], cwd=tmpdir)
        self.assertEqual((status, err), (0, ""))
        self.assertEqual(out.splitlines(), shown.splitlines())
        head = head.splitlines()
        self.assertEqual(head[0], "$ head -3 refs.log")
        with open(os.path.join(tmpdir, "refs.log")) as fp:
            rows = [fp.readline().rstrip("\n").split("\t") for _ in range(3)]
        self.assertEqual(rows[0], head[1].split())
        for row, line in zip(rows[1:], head[2:]):
            shown_row = line.split()
            self.assertEqual(len(row), len(shown_row))
            # EVENT, LIVE, TYPE, FILE, LINE, FUNCTION as shown
            for column in (0, 3, 4, 5, 6, 7):
                self.assertEqual(row[column], shown_row[column], (row, shown_row))


@unittest.skipIf(engine is None, tmsupport.SKIP_REASON)
class AvailabilityTests(unittest.TestCase):
    def test_hook_where_expected(self):
        self.assertEqual(bool(engine.reftrace_available()), expected_hook())

    def test_clear_error_without_hook(self):
        # On this interpreter when it has no hook; else through an engine that says so.
        saved = tracemalloc._engine
        if engine.reftrace_available():
            tracemalloc._engine = _NoHookEngine()
        try:
            with self.assertRaises(RuntimeError) as cm:
                with ReferenceTracing(filepath=os.devnull):
                    pass
        finally:
            tracemalloc._engine = saved
        message = str(cm.exception)
        self.assertEqual(len(message.splitlines()), 1)
        self.assertIn("PyRefTracer_SetTracer", message)


class ArgumentTests(unittest.TestCase):
    def test_type_names(self):
        rt = ReferenceTracing(include_types=[Widget, "Gadget"], exclude_types="Widget")
        self.assertEqual(rt.include_types, ("Widget", "Gadget"))
        self.assertEqual(rt.exclude_types, ("Widget",))
        self.assertEqual(ReferenceTracing().include_types, ())

    def test_bad_type_names(self):
        with self.assertRaises(TypeError):
            ReferenceTracing(include_types=[3])


class _NoHookEngine(object):
    @staticmethod
    def reftrace_available():
        return False


if __name__ == "__main__":
    unittest.main()
