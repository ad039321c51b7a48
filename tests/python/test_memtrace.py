"""tracemalloc.memtrace: Profile and Trace (module/engine/memtrace.c, tracemalloc/_memtrace.py),
their logs (rows, triggers, messages, nesting) and ``python -m tracemalloc.memtrace summary``
(tracemalloc/_memtrace_summary.py).

The logs that must show an allocation are written by a fresh child interpreter: in this
process, memory freed by earlier tests may be resident already, and a new block then raises
no RSS.
"""
from __future__ import absolute_import

import json
import os
import re
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "support"))
import tmsupport  # noqa: E402 (must come first: chooses the package and the engine)
from tmsupport import tracemalloc  # noqa: E402
import tracemalloc.memtrace  # noqa: E402
from tracemalloc import _memtrace_summary  # noqa: E402

MB = 1024 * 1024

# argv: KIND (Profile, Trace) TRACING (1, 0) D_RSS D_TRACED (an int or "none") DIR.
# The line marked "# 10 MB" allocates 10 MiB (filled: it becomes RSS) through a C method
# call, so that a Profile sees it (c_call, c_return) as well as a Trace (line events).
CHILD = r'''
import sys
import tracemalloc
import tracemalloc.memtrace

def trigger(text):
    return None if text == "none" else int(text)

def small():
    return [str(i) for i in range(200)]

def allocate_10mb():
    data = b" ".ljust(10 * 1024 * 1024)  # 10 MB
    return data

kind, tracing, d_rss, d_traced, directory = sys.argv[1:6]
if tracing == "1":
    tracemalloc.start()
cls = getattr(tracemalloc.memtrace, kind)
with cls(d_rss_trigger=trigger(d_rss), d_traced_trigger=trigger(d_traced),
         message="child run", filepath=directory) as log:
    small()
    keep = allocate_10mb()
    small()
print(log.log_file_path)
print(tracemalloc.is_tracing())
print(log.events)
'''


def child_line(marker):
    for number, line in enumerate(CHILD.splitlines()):
        if marker in line:
            return number + 1
    raise AssertionError(marker)


ALLOC_LINE = child_line("# 10 MB")


@unittest.skipIf(tmsupport.USING_FAKE_ENGINE, tmsupport.SKIP_REASON)
class MemtraceTestCase(unittest.TestCase):
    def setUp(self):
        self.tmpdir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.tmpdir)
        self.script = os.path.join(self.tmpdir, "child.py")
        with open(self.script, "w") as fp:
            fp.write(CHILD)

    def run_child(self, kind, tracing=True, d_rss="-1", d_traced="none"):
        """Run CHILD; return (log path, tracing, events, the log as read_log() reads it)."""
        status, out, err = tmsupport.run_python(
            [self.script, kind, "1" if tracing else "0", d_rss, d_traced, self.tmpdir],
            cwd=self.tmpdir)
        self.assertEqual((status, err), (0, ""))
        path, traced, events = out.splitlines()
        self.assertTrue(os.path.isfile(path), path)
        return path, traced == "True", int(events), _memtrace_summary.read_log(path)

    def where(self, entry):
        return (entry["file"], entry.get("line"))

    def check_top_line(self, kind, tracing):
        path, traced, events, log = self.run_child(kind, tracing,
                                                   d_traced="4096" if tracing else "none")
        self.assertEqual(traced, tracing)  # every variant traces (and stock 3.x)
        self.assertTrue(log["complete"])
        summary = _memtrace_summary.summarize(log, top=3)
        top_rss = summary["lines"]["rss"][0]
        self.assertEqual(self.where(top_rss), (self.script, ALLOC_LINE), summary)
        self.assertGreaterEqual(top_rss["rss"], 10 * MB - 64 * 1024)
        function = "ljust" if kind == "Profile" else "allocate_10mb"
        self.assertEqual((summary["functions"]["rss"][0]["file"],
                          summary["functions"]["rss"][0]["function"]),
                         (self.script, function))
        if traced:
            top = summary["lines"]["traced"][0]
            self.assertEqual(self.where(top), (self.script, ALLOC_LINE), summary)
            self.assertGreaterEqual(top["traced"], 10 * MB)
            self.assertLess(top["traced"], 10 * MB + 4096)
            self.assertEqual(summary["functions"]["traced"][0]["function"], function)
            self.assertTrue(all(row["traced"] is not None for row in log["rows"]))
        else:
            self.assertEqual(summary["lines"]["traced"], [])
            self.assertTrue(all(row["traced"] is None and row["d_traced"] is None
                                for row in log["rows"]))
        return log


class TopLineTests(MemtraceTestCase):
    """The line that allocates 10 MB is the summary's top line, by traced memory and RSS."""

    def test_profile(self):
        log = self.check_top_line("Profile", True)
        whats = set(row["what"] for row in log["rows"])
        self.assertIn("c_call", whats)   # C functions are seen...
        self.assertNotIn("line", whats)  # ...lines are not

    def test_trace(self):
        log = self.check_top_line("Trace", True)
        whats = set(row["what"] for row in log["rows"])
        self.assertIn("line", whats)
        self.assertFalse(whats & set(["c_call", "c_return"]))

    def test_profile_not_tracing(self):
        self.check_top_line("Profile", False)

    def test_trace_not_tracing(self):
        self.check_top_line("Trace", False)

    def test_command(self):
        path = self.run_child("Trace", True, d_traced="4096")[0]
        status, out, err = tmsupport.run_python(["-m", "tracemalloc.memtrace", "summary", path,
                                                 "--top", "2"])
        self.assertEqual((status, err), (0, ""))
        lines = out.splitlines()
        self.assertTrue(lines[0].startswith(path + ": Trace, "), lines[0])
        title = lines.index("Lines with the largest RSS increase (top 2):")
        self.assertTrue(lines[title + 2].endswith(" %s:%d allocate_10mb"
                                                  % (self.script, ALLOC_LINE)), out)
        self.assertIn(" MiB", lines[title + 2])
        status, out, err = tmsupport.run_python(["-m", "tracemalloc.memtrace", "summary", path,
                                                 "--json"])
        self.assertEqual((status, err), (0, ""))
        document = json.loads(out)
        self.assertEqual(document["kind"], "Trace")
        self.assertEqual(document["lines"]["rss"][0]["line"], ALLOC_LINE)
        self.assertEqual(document["messages"], [])


class TriggerTests(MemtraceTestCase):
    """d_rss_trigger and d_traced_trigger: 0 logs every event, N logs a move of N bytes."""

    def event_rows(self, log):
        return [row for row in log["rows"] if row["kind"] in ("FRST", "NEXT", "PREV")]

    def test_every_event(self):
        path, traced, events, log = self.run_child("Profile", d_rss="0")
        rows = log["rows"]
        # one row per event (FRST, then NEXT), none skipped, then LAST
        self.assertEqual([row["kind"] for row in rows],
                         ["FRST"] + ["NEXT"] * (events - 1) + ["LAST"])
        self.assertEqual([row["event"] for row in rows], list(range(events + 1)))
        self.assertGreater(events, 8)

    def test_rss_threshold(self):
        path, traced, events, log = self.run_child("Trace", d_rss=str(MB))
        nexts = [row for row in log["rows"] if row["kind"] == "NEXT"]
        self.assertTrue(nexts)
        self.assertTrue(all(abs(row["d_rss"]) >= MB for row in nexts), nexts)
        self.assertLess(len(log["rows"]), events / 2)
        # each NEXT follows the event just before it (a PREV row when events were skipped)
        rows = log["rows"]
        for index, row in enumerate(rows):
            if row["kind"] == "NEXT":
                self.assertEqual(rows[index - 1]["event"], row["event"] - 1)

    def test_traced_threshold(self):
        path, traced, events, log = self.run_child("Profile", d_rss="none", d_traced=str(MB))
        self.assertTrue(traced)
        nexts = [row for row in log["rows"] if row["kind"] == "NEXT"]
        self.assertEqual(len(nexts), 1, log["rows"])  # the 10 MB, nothing else
        self.assertGreaterEqual(nexts[0]["d_traced"], 10 * MB)
        # RSS is no trigger: read for the rows written, not for the PREV row's event
        prev = [row for row in log["rows"] if row["kind"] == "PREV"]
        self.assertEqual([row["rss"] for row in prev], [None])
        self.assertIsNotNone(nexts[0]["rss"])
        self.assertIsNotNone(log["rows"][0]["rss"])  # FRST

    def test_huge_trigger(self):
        path, traced, events, log = self.run_child("Trace", d_rss=str(1 << 40),
                                                   d_traced=str(1 << 40))
        self.assertEqual([row["kind"] for row in log["rows"]], ["FRST", "LAST"])
        self.assertEqual(log["rows"][-1]["event"], events)
        self.assertGreaterEqual(log["rows"][-1]["d_rss"], 10 * MB - 64 * 1024)


class LogTests(unittest.TestCase):
    """Messages, nesting, file names, errors of the context managers (in this process)."""

    def setUp(self):
        self.tmpdir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.tmpdir)

    @unittest.skipIf(tmsupport.USING_FAKE_ENGINE, tmsupport.SKIP_REASON)
    def test_messages(self):
        path = os.path.join(self.tmpdir, "m.log")
        with tracemalloc.memtrace.Trace(message="opening line", filepath=path) as tracer:
            tracer.write_message_to_log("one\ntwo")
            tracer.write_to_log(u"three \u00e9")
        self.assertEqual(tracer.log_file_path, path)
        log = _memtrace_summary.read_log(path)
        self.assertEqual(log["header"], ["opening line"])
        texts = ["one", "two", u"three \u00e9"]
        if sys.version_info[0] == 2:
            texts = [text.encode("utf-8") for text in texts]
            log["messages"] = [text.encode("utf-8") for text in log["messages"]]
        self.assertEqual(log["messages"], texts)
        with open(path) as fp:
            lines = fp.read().splitlines()
        self.assertEqual(lines[:3][:2], ["opening line", "SOF"])
        self.assertTrue(lines[2].startswith("HDR: Event "), lines[2])
        self.assertEqual(lines[-1], "EOF")
        self.assertTrue(re.match(r"MSG:  \d+ +\+\d+ +\d+\.\d{6} +# one$", [
            line for line in lines if line.endswith("# one")][0]))
        self.assertRaises(ValueError, tracer.write_message_to_log, "closed")

    @unittest.skipIf(tmsupport.USING_FAKE_ENGINE, tmsupport.SKIP_REASON)
    def test_nesting(self):
        with tracemalloc.memtrace.Profile(filepath=self.tmpdir) as outer:
            [str(i) for i in range(10)]
            with tracemalloc.memtrace.Profile(filepath=self.tmpdir) as inner:
                [str(i) for i in range(10)]
                with tracemalloc.memtrace.Trace(filepath=self.tmpdir) as tracer:
                    pass
            # the outer one runs again after the inner one
            events = outer.events
            [str(i) for i in range(10)]
            self.assertGreater(outer.events, events)
            outer.write_message_to_log("after")
        paths = [outer.log_file_path, inner.log_file_path, tracer.log_file_path]
        self.assertEqual(len(set(paths)), 3)
        self.assertEqual(sorted(os.listdir(self.tmpdir)),
                         sorted(os.path.basename(path) for path in paths))
        pattern = r"\d{8}_\d{6}_\d+_%d_%s_%d_PY%s\.log$"
        version = re.escape(sys.version.split()[0])
        for path, kind, depth in zip(paths, "PPT", (0, 1, 0)):
            self.assertTrue(re.match(pattern % (os.getpid(), kind, depth, version),
                                     os.path.basename(path)), path)
        messages = _memtrace_summary.read_log(outer.log_file_path)["messages"]
        self.assertEqual(messages, [
            "Detaching this profile file wrapper. New file: %s" % os.path.abspath(paths[1]),
            "Re-attaching this profile file wrapper.", "after"])
        self.assertEqual(_memtrace_summary.read_log(paths[1])["messages"], [])
        self.assertTrue(_memtrace_summary.read_log(paths[1])["complete"])

    @unittest.skipIf(tmsupport.USING_FAKE_ENGINE, tmsupport.SKIP_REASON)
    def test_detached_after(self):
        before = sys.getprofile() if hasattr(sys, "getprofile") else None
        with tracemalloc.memtrace.Profile(filepath=self.tmpdir) as profiler:
            events = profiler.events
        self.assertGreater(profiler.events, events)
        count = profiler.events
        [str(i) for i in range(10)]
        self.assertEqual(profiler.events, count)  # no longer called
        if hasattr(sys, "getprofile"):
            self.assertEqual(sys.getprofile(), before)
        self.assertRaises(RuntimeError, profiler.__enter__)

    @unittest.skipIf(tmsupport.USING_FAKE_ENGINE, tmsupport.SKIP_REASON)
    def test_block_raises(self):
        path = os.path.join(self.tmpdir, "r.log")
        profiler = tracemalloc.memtrace.Profile(filepath=path)
        try:
            with profiler:
                raise KeyError("in the block")
        except KeyError:
            pass
        else:
            self.fail("the exception was swallowed")
        log = _memtrace_summary.read_log(path)
        self.assertTrue(log["complete"])
        self.assertEqual(log["rows"][-1]["kind"], "LAST")
        count = profiler.events
        [str(i) for i in range(10)]
        self.assertEqual(profiler.events, count)

    def test_bad_arguments(self):
        for kwargs in ({"d_rss_trigger": -2}, {"d_rss_trigger": 1.5},
                       {"d_traced_trigger": "1"}, {"d_rss_trigger": None},
                       {"d_rss_trigger": True}):
            self.assertRaises(ValueError, tracemalloc.memtrace.Profile, **kwargs)
        self.assertRaises(TypeError, tracemalloc.memtrace.Trace, message=1)

    @unittest.skipIf(tmsupport.USING_FAKE_ENGINE, tmsupport.SKIP_REASON)
    def test_unwritable(self):
        path = os.path.join(self.tmpdir, "no", "such", "dir.log")
        profiler = tracemalloc.memtrace.Profile(filepath=path)
        self.assertRaises(EnvironmentError, profiler.__enter__)
        self.assertFalse(os.path.exists(path))


class CommandErrorTests(unittest.TestCase):
    """python -m tracemalloc.memtrace: one line, a non-zero status, no traceback."""

    PREFIX = "python -m tracemalloc.memtrace: error: "

    def setUp(self):
        self.tmpdir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.tmpdir)

    def command(self, *args):
        return tmsupport.run_python(["-m", "tracemalloc.memtrace"] + list(args),
                                    cwd=self.tmpdir)

    def check_error(self, args, status, text):
        got_status, out, err = self.command(*args)
        self.assertEqual((got_status, out), (status, ""), err)
        self.assertEqual(len(err.splitlines()), 1, err)
        self.assertTrue(err.startswith(self.PREFIX), err)
        self.assertIn(text, err)

    def write(self, name, text):
        path = os.path.join(self.tmpdir, name)
        with open(path, "w") as fp:
            fp.write(text)
        return path

    def test_missing(self):
        self.check_error(["summary", "missing.log"], 1,
                         "missing.log: No such file or directory")

    def test_empty(self):
        self.check_error(["summary", self.write("empty.log", "")], 1, "empty file")

    def test_wrong_kind(self):
        self.check_error(["summary", self.write("notes.txt", "hello\nworld\n")], 1,
                         "not a memory log")
        self.check_error(["summary", self.tmpdir], 1, "is a directory")
        self.check_error(["summary", self.write("bad.log", "SOF\nHDR: Event dEvent Clock What "
                                                "File Line Function RSS dRSS\nNEXT: 1 +1 x\n")],
                         1, "bad.log:3: not an event row")

    def test_usage(self):
        self.check_error([], 2, "a command is required")
        self.check_error(["summary"], 2, "(see --help)")
        self.check_error(["summary", "x.log", "--top", "0"], 2, "at least 1")
        self.check_error(["report", "x.log"], 2, "invalid choice")

    def test_help(self):
        status, out, err = self.command("summary", "--help")
        self.assertEqual((status, err), (0, ""))
        self.assertIn("--json", out)
        self.assertIn("goes to that earlier row's line", " ".join(out.split()))

    def test_pymemtrace_log(self):
        # pymemtrace's own format (no traced columns, capital event names) is read too
        path = self.write("pmt.log", "\n".join([
            "SOF",
            "HDR: Event        dEvent  Clock        What     File    Line Function   RSS  dRSS",
            "FRST: 0            +0      0.000001     LINE     /a b/x.py   10 <module>  1000  1000",
            "PREV: 4            +4      0.000002     C_CALL   /a b/x.py   12 join      1000     0",
            "NEXT: 5            +1      0.000003     C_RETURN /a b/x.py   12 join      9000  8000",
            "LAST: 6            +1      0.000004     LINE     /a b/x.py   13 <module>  9000     0",
            "EOF", ""]))
        log = _memtrace_summary.read_log(path)
        summary = _memtrace_summary.summarize(log)
        self.assertEqual(summary["lines"]["rss"], [
            {"file": "/a b/x.py", "line": 12, "function": "join", "traced": 0, "rss": 8000,
             "rows": 3}])
        self.assertEqual(summary["lines"]["traced"], [])


if __name__ == "__main__":
    unittest.main()
