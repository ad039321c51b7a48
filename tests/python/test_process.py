"""tracemalloc.process: the memory log of a process (its logger thread, add_label(), the
records and their JSON lines, the figures of /proc, the picture) and the command ``python -m
tracemalloc.process`` (-- CMD, -p PID, --json, --plot, --from-json, labels, errors, Ctrl-C).

Nothing here depends on how fast the machine is: the records a test looks at are those of
the labels (taken when the label is added) and of the start and the stop; a child that
must be seen holding its memory waits until the log shows its label.
"""
from __future__ import absolute_import

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import xml.dom.minidom

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "support"))
import tmsupport  # noqa: E402 (must come first: chooses the package and the engine)
from tmsupport import tracemalloc  # noqa: E402
import tracemalloc.process  # noqa: E402 (imported before tracing: its code is no trace)
from tracemalloc import _process_cli, _process_log, _process_plot, _procmem  # noqa: E402

PACKAGE_DIR = os.path.dirname(os.path.abspath(tracemalloc.__file__)) + os.sep
MB = 1024 * 1024
# How long a child may wait for what the test or the command does: generous (a loaded
# shared machine), and a child that waits in vain still fails the test.
WAIT_SECONDS = 120

# A program allocating 100 MB in its phase "phase 2": tracing when argv[2] is "trace"; it
# logs itself into argv[1] (in-process logger), or, with argv[1] "-", only labels (for the
# command, which reads the labels from TRACEMALLOC_PROCESS_LABELS); with argv[3], a file of
# the command's JSON lines, it keeps the memory until that log shows "phase 3".
PHASES_PROGRAM = r'''
import os, sys, time
import tracemalloc
import tracemalloc.process

path, trace = sys.argv[1], sys.argv[2] == "trace"
watched = sys.argv[3] if len(sys.argv) > 3 else None
if trace:
    tracemalloc.start()

def wait_for_label(label):
    deadline = time.time() + %(wait)d
    while watched and time.time() < deadline:
        if os.path.exists(watched):
            with open(watched) as fp:
                if '"label": "%%s"' %% label in fp.read():
                    return
        time.sleep(0.01)

def phases(log):
    log("phase 1")
    log("phase 2")
    wait_for_label("phase 2")  # the command samples a label when it reads it
    data = [b"x" * (1024 * 1024) for _ in range(100)]
    log("phase 3")  # the 100 MB are held
    wait_for_label("phase 3")
    del data
    log("phase 4")

if path == "-":
    phases(tracemalloc.process.add_label)
else:
    with tracemalloc.process.log_process(interval=0.05, file=path) as logger:
        phases(logger.add_label)
''' % {"wait": WAIT_SECONDS}


def read_jsonl(path):
    """The records of a JSON lines file; every line must be a JSON object."""
    records = []
    with open(path) as fp:
        for line in fp:
            records.append(json.loads(line))
            assert isinstance(records[-1], dict), line
    return records


def labelled(records, label):
    found = [record for record in records if record["label"] == label]
    assert len(found) == 1, (label, [record["label"] for record in records])
    return found[0]


class _TempDirMixin(object):
    def setUp(self):
        super(_TempDirMixin, self).setUp()
        self.tmpdir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.tmpdir, True)

    def path(self, name):
        return os.path.join(self.tmpdir, name)


def check_record_shape(testcase, records):
    """Every record has every key, the log starts with a start record (format, version)
    and ends with a stop record, and its times never go back."""
    for record in records:
        missing = set(_process_log.RECORD_KEYS) - set(record)
        testcase.assertFalse(missing, record)
        testcase.assertIn(record["event"], _process_log.EVENTS)
    testcase.assertEqual(records[0]["event"], "start")
    testcase.assertEqual((records[0]["format"], records[0]["version"]),
                         ("pytracemalloc.process", 1))
    testcase.assertEqual(records[-1]["event"], "stop")
    testcase.assertEqual([record["event"] for record in records].count("start"), 1)
    times = [record["elapsed_time"] for record in records]
    testcase.assertEqual(times, sorted(times))


@unittest.skipIf(tmsupport.USING_FAKE_ENGINE, tmsupport.SKIP_REASON)
class PhaseTests(_TempDirMixin, unittest.TestCase):
    """A program that allocates 100 MB in its phase "phase 2": its log shows the rise."""

    def run_phases(self, trace):
        script = self.path("phases.py")
        with open(script, "w") as fp:
            fp.write(PHASES_PROGRAM)
        log = self.path("phases.jsonl")
        status, out, err = tmsupport.run_python(
            [script, log, "trace" if trace else "no"], cwd=self.tmpdir)
        self.assertEqual((status, err), (0, ""))
        records = read_jsonl(log)
        check_record_shape(self, records)
        return records

    def test_traced(self):
        records = self.run_phases(trace=True)
        before, held, after = [labelled(records, label)
                               for label in ("phase 2", "phase 3", "phase 4")]
        self.assertEqual(held["event"], "label")
        self.assertGreaterEqual(held["rss"] - before["rss"], 90 * MB)
        self.assertGreaterEqual(held["peak_rss"], held["rss"])
        # the 100 bytes objects of 1 MiB each, exactly traced
        self.assertGreaterEqual(held["traced"] - before["traced"], 100 * MB)
        self.assertLess(held["traced"] - before["traced"], 101 * MB)
        self.assertGreaterEqual(held["traced_peak"], held["traced"])
        self.assertLess(after["traced"], held["traced"] - 99 * MB)
        self.assertGreaterEqual(after["traced_peak"], held["traced"])
        for record in records:
            self.assertIs(record["tracing"], True)
            self.assertGreater(record["tracemalloc_memory"], 0)
            self.assertEqual(record["pid"], records[0]["pid"])
        info = tracemalloc.get_interpreter_info()
        if info["variant"] == "track":
            self.assertTrue(all(isinstance(record["freelist_memory"], list)
                                for record in records))
        else:
            self.assertTrue(all(record["freelist_memory"] is None for record in records))

    def test_untraced(self):
        records = self.run_phases(trace=False)
        before, held = labelled(records, "phase 2"), labelled(records, "phase 3")
        self.assertGreaterEqual(held["rss"] - before["rss"], 90 * MB)
        for record in records:
            self.assertIs(record["tracing"], False)
            for key in ("traced", "traced_peak", "freelist_memory", "tracemalloc_memory"):
                self.assertIsNone(record[key], key)


@unittest.skipIf(tmsupport.USING_FAKE_ENGINE, tmsupport.SKIP_REASON)
class LoggerTests(_TempDirMixin, unittest.TestCase):
    """ProcessLogger in this process: where the records go, labels, errors."""

    def tearDown(self):
        if tracemalloc.is_tracing():
            tracemalloc.stop()
        super(LoggerTests, self).tearDown()

    def test_records_in_memory(self):
        with tracemalloc.process.log_process(interval=0.01) as logger:
            logger.add_label("a")
            tracemalloc.process.add_label("b")
        records = logger.records
        check_record_shape(self, records)
        self.assertEqual([record["label"] for record in records if record["label"]],
                         ["a", "b"])
        self.assertIs(logger.last_record, records[-1])
        self.assertEqual(records[0]["pid"], os.getpid())
        self.assertIsNone(logger.error)
        if _procmem.HAVE_PROC:
            self.assertTrue(all(record["rss"] > 0 for record in records))
        # after the stop, a label is ignored
        logger.add_label("late")
        self.assertEqual(logger.records[-1]["event"], "stop")

    def test_breakdown(self):
        # breakdown=True: each record says where its RSS goes; off, the key is None
        from tracemalloc import _breakdown
        tracemalloc.start()
        with tracemalloc.process.log_process(interval=0.01, breakdown=True) as logger:
            data = [bytearray(1000) for index in range(1000)]
            logger.add_label("allocated")
        del data
        records = logger.records
        check_record_shape(self, records)
        for record in records:
            parts = record["breakdown"]
            self.assertEqual(sorted(parts), sorted(_breakdown.MemoryBreakdown._fields), record)
            values = [parts[name] for name in _breakdown.PARTS]
            if None not in values:
                self.assertEqual(sum(values), parts["rss"], record)
            self.assertTrue(parts["traced"] > 0, record)
        label = [record for record in records if record["label"] == "allocated"][0]
        self.assertGreaterEqual(label["breakdown"]["traced"], 1000 * 1000)
        with tracemalloc.process.log_process(interval=0.01) as logger:
            pass
        self.assertEqual([record["breakdown"] for record in logger.records],
                         [None] * len(logger.records))

    def test_file_object_and_path(self):
        stream = tmsupport.text_stream()
        with tracemalloc.process.ProcessLogger(0.01, file=stream) as logger:
            logger.add_message_to_queue("pymemtrace's name")
        lines = stream.getvalue().splitlines()
        records = [json.loads(line) for line in lines]
        check_record_shape(self, records)
        self.assertIsNone(logger.records)
        self.assertEqual(labelled(records, "pymemtrace's name")["event"], "label")
        path = self.path("log.jsonl")
        with open(path, "w") as fp:
            fp.write("old content\n")
        with tracemalloc.process.log_process(0.01, file=path):
            pass
        check_record_shape(self, read_jsonl(path))  # rewritten

    def test_logging(self):
        stream = tmsupport.text_stream()
        handler = logging.StreamHandler(stream)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        log = logging.getLogger("test_process.logging")
        log.addHandler(handler)
        log.setLevel(logging.DEBUG)
        log.propagate = False
        self.addCleanup(log.removeHandler, handler)
        with tracemalloc.process.log_process(0.01, logger="test_process.logging",
                                             level=logging.WARNING) as logger:
            logger.add_label("phase 2")
        text = stream.getvalue()
        self.assertIn(" WARNING process memory: {", text)
        records = tracemalloc.process.read_records(
            text.splitlines(), "log")
        check_record_shape(self, records)
        self.assertEqual(labelled(records, "phase 2")["event"], "label")

    def test_decorator(self):
        path = self.path("dec.jsonl")

        @tracemalloc.process.log_process_dec(interval=0.01, file=path)
        def work(value):
            tracemalloc.process.add_label("inside")
            return value * 2

        self.assertEqual(work.__name__, "work")
        self.assertEqual(work(21), 42)
        records = read_jsonl(path)
        check_record_shape(self, records)
        labelled(records, "inside")

    def test_bad_arguments(self):
        for interval in (0, -1, float("inf"), float("nan"), "abc", None):
            self.assertRaises(ValueError, tracemalloc.process.ProcessLogger, interval)
        logger = tracemalloc.process.ProcessLogger(0.01)
        self.assertRaises(TypeError, logger.add_label, 42)
        self.assertRaises(TypeError, tracemalloc.process.add_label, None)
        logger.start()
        try:
            self.assertRaises(RuntimeError, logger.start)
        finally:
            logger.stop()
        logger.stop()  # twice: nothing
        self.assertRaises(EnvironmentError, tracemalloc.process.ProcessLogger(
            file=os.path.join(self.tmpdir, "missing", "log.jsonl")).start)

    def test_write_error_stops_the_thread(self):
        class Broken(object):
            def write(self, text):
                raise IOError("disk full")

            def flush(self):
                pass
        with tmsupport.captured("stderr") as err:
            with tracemalloc.process.ProcessLogger(0.01, file=Broken()) as logger:
                pass
        self.assertIsInstance(logger.error, IOError)
        self.assertEqual(err.getvalue(),
                         "tracemalloc.process: the process log stopped: %s: disk full\n"
                         % type(logger.error).__name__)

    def test_psutil_fields(self):
        # psutil's memory_info() and cpu_times() as dicts, with a stand-in of psutil
        import collections
        memory = collections.namedtuple("pmem", "rss vms")
        cpu = collections.namedtuple("pcputimes", "user system")

        class Process(object):
            def __init__(self, pid):
                self.pid = pid

            def memory_info(self):
                return memory(1234, 5678)

            def cpu_times(self):
                return cpu(1.5, 0.25)

        class FakePsutil(object):
            pass
        fake = FakePsutil()
        fake.Process = Process
        saved = tracemalloc._import_psutil
        tracemalloc._import_psutil = lambda: fake
        try:
            with tracemalloc.process.log_process(0.01) as logger:
                pass
        finally:
            tracemalloc._import_psutil = saved
        for record in logger.records:
            self.assertEqual(record["memory_info"], {"rss": 1234, "vms": 5678})
            self.assertEqual(record["cpu_times"], {"user": 1.5, "system": 0.25})
        table = _process_cli.Table(logger.records)
        self.assertIn("CPU", table.header())
        # "0.01 16 MiB 16 MiB 0%": the process used no CPU, says the stand-in
        self.assertEqual(table.row(logger.records[1], logger.records[0]).split()[5], "0%")

    def test_logger_cpu(self):
        with tracemalloc.process.log_process(0.01) as logger:
            pass
        if _procmem.thread_cpu() is None:
            self.assertIsNone(logger.cpu_time)
        else:
            self.assertGreaterEqual(logger.cpu_time, 0)
            self.assertEqual(logger.records[-1]["logger_cpu"], logger.cpu_time)

    def test_never_in_the_traces(self):
        # the logger's work is the tracer's memory: no trace of the package's files, and
        # the records it keeps have no traceback. Warmed up untraced first: on 3.12+, once
        # a profiler ran in the process (test_freelists runs cProfile), a code object gets
        # its instrumentation data at its next first call, at its entry, before its body
        # suspends tracing (doc/internals.rst, "Suspension", limits).
        with tracemalloc.process.log_process(0.001) as logger:
            logger.add_label("warm-up")
            tracemalloc.process.add_label("warm-up")
            time.sleep(0.01)
        tracemalloc._get_traces()  # the test's own calls below
        tracemalloc.get_object_traceback(logger)
        tracemalloc.start(25)
        with tracemalloc._suspended():  # the int is no trace of the package's file either
            before = tracemalloc.get_traced_memory()[0]
        logger = tracemalloc.process.ProcessLogger(0.005)
        logger.start()
        for index in range(20):
            logger.add_label("label %d" % index)
        deadline = time.time() + WAIT_SECONDS
        while len(logger.records) < 30 and time.time() < deadline:
            time.sleep(0.01)
        self.assertGreaterEqual(len(logger.records), 30)
        raw = tracemalloc._get_traces()
        in_package = [(size, traceback) for domain, size, traceback, total in raw
                      if any(os.path.abspath(filename).startswith(PACKAGE_DIR)
                             for filename, lineno in traceback)]
        self.assertEqual(in_package, [])
        self.assertIsNone(tracemalloc.get_object_traceback(logger.records[5]))
        logger.stop()
        del raw, in_package
        # 30+ records of ~20 keys each would be tens of KiB of traced memory
        self.assertLess(tracemalloc.get_traced_memory()[0] - before, 16 * 1024)

    def test_add_label_writes_the_labels_file(self):
        path = self.path("labels")
        saved = os.environ.get(_process_log.LABELS_ENV)
        os.environ[_process_log.LABELS_ENV] = path
        try:
            tracemalloc.process.add_label("one")
            tracemalloc.process.add_label(u"two \u00e9")
        finally:
            if saved is None:
                del os.environ[_process_log.LABELS_ENV]
            else:
                os.environ[_process_log.LABELS_ENV] = saved
        reader = _process_cli._LabelReader(path)
        labels = reader.read()
        self.assertEqual([entry["label"] for entry in labels][:1], ["one"])
        self.assertEqual(len(labels), 2)
        for entry in labels:
            self.assertIsInstance(entry["time"], float)
            self.assertIs(entry["tracing"], False)
            if _procmem.HAVE_PROC:
                self.assertGreater(entry["rss"], 0)
        self.assertEqual(reader.read(), [])
        with open(path, "a") as fp:
            fp.write('not json\n{"label": 42}\n{"label": "three"')  # the last one is cut
        self.assertEqual(reader.read(), [])
        with open(path, "a") as fp:
            fp.write(', "time": 5}\n')
        self.assertEqual(reader.read(), [{"label": "three", "time": 5}])


class ProcMemTests(unittest.TestCase):
    """The figures of the operating system."""

    @unittest.skipUnless(_procmem.HAVE_PROC, "/proc/PID/status is Linux's")
    def test_proc(self):
        rss, peak = _procmem.memory()
        self.assertGreater(rss, 0)
        self.assertGreaterEqual(peak, rss)
        child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                                 stdin=subprocess.PIPE)
        try:
            self.assertTrue(_procmem.is_running(child.pid))
            rss, peak = _procmem.memory(child.pid)
            self.assertGreater(rss, 0)
        finally:
            child.stdin.close()
        # exited, not yet waited for: a zombie has exited
        deadline = time.time() + WAIT_SECONDS
        while _procmem.is_running(child.pid) and time.time() < deadline:
            time.sleep(0.01)
        self.assertFalse(_procmem.is_running(child.pid))
        self.assertEqual(_procmem.memory(child.pid), (None, None))
        child.wait()
        self.assertFalse(_procmem.is_running(child.pid))
        self.assertRaises(_procmem.NoSuchProcess, _procmem.memory, child.pid)


class PlotTests(unittest.TestCase):
    """The picture of a log (no process involved)."""

    RECORDS = [
        dict(dict.fromkeys(_process_log.RECORD_KEYS), event=event, elapsed_time=time_,
             label=label, rss=rss, peak_rss=rss, pid=7, timestamp="2026-12-07 10:00:00.5",
             traced=traced)
        for event, time_, label, rss, traced in [
            ("start", 0.0, None, 10 * MB, None),
            ("label", 0.5, u"phase <2> & \u00e9", 11 * MB, 1000),
            ("interval", 1.0, None, 120 * MB, 100 * MB),
            ("stop", 1.2, None, None, None)]]

    def test_svg(self):
        text = _process_plot.render(self.RECORDS)
        document = xml.dom.minidom.parseString(text.encode("utf-8"))
        texts = [node.firstChild.data for node in document.getElementsByTagName("text")
                 if node.firstChild is not None]
        self.assertIn(u"phase <2> & \u00e9", texts)
        self.assertIn(u"Memory of process 7 over time (4 records)", texts)
        marks = [group for group in document.getElementsByTagName("g")
                 if group.getAttribute("class") == "mark"]
        self.assertEqual(len(marks), 1)
        series = [group.getAttribute("id") for group in document.getElementsByTagName("g")
                  if group.getAttribute("class") == "series"]
        self.assertEqual(series, ["series-peak_rss", "series-rss", "series-traced"])
        self.assertTrue(any(u"the start of the log (2026-12-07 10:00:00)" in value
                            for value in texts))

    def test_without_marks_the_picture_is_unchanged(self):
        # the report's picture (the optional keys absent) keeps its title and axis
        report = _process_plot.report(self.RECORDS)
        for key in ("heading", "x_origin", "marks"):
            del report[key]
        text = _process_plot._report_svg.render(report)
        self.assertIn(u">Memory over time (4 snapshots)</text>", text)
        self.assertIn(u"time since the first snapshot (2026-12-07 10:00:00), s", text)
        self.assertNotIn(u'class="mark"', text)

    def test_last_run(self):
        records = self.RECORDS + self.RECORDS[:2]
        run, count = _process_plot.last_run(records)
        self.assertEqual((run, count), (self.RECORDS[:2], 2))


@unittest.skipIf(tmsupport.USING_FAKE_ENGINE, tmsupport.SKIP_REASON)
class CommandTests(_TempDirMixin, unittest.TestCase):
    """python -m tracemalloc.process."""

    def command(self, args, **kwargs):
        return tmsupport.run_python(["-m", "tracemalloc.process"] + list(args),
                                    cwd=self.tmpdir, **kwargs)

    def write_script(self, name, text):
        path = self.path(name)
        with open(path, "w") as fp:
            fp.write(text)
        return path

    def test_command(self):
        script = self.write_script("phases.py", PHASES_PROGRAM + "\nsys.exit(3)\n")
        log, svg = self.path("log.jsonl"), self.path("log.svg")
        status, out, err = self.command(
            ["-i", "0.05", "--json", log, "--plot", svg, "--", sys.executable, script, "-",
             "trace", log])
        self.assertEqual((status, err), (3, ""))
        records = read_jsonl(log)
        check_record_shape(self, records)
        self.assertEqual(records[0]["command"], [sys.executable, script, "-", "trace", log])
        before, held = labelled(records, "phase 2"), labelled(records, "phase 3")
        self.assertGreaterEqual(held["rss"] - before["rss"], 90 * MB)
        # the labels carry what the program knows of itself
        self.assertGreaterEqual(held["traced"] - before["traced"], 100 * MB)
        self.assertLess(held["traced"] - before["traced"], 101 * MB)
        stop = records[-1]
        self.assertEqual(stop["exit_status"], 3)
        self.assertGreaterEqual(stop["peak_rss"], 100 * MB)  # the child's whole run
        for record in records:
            if record["event"] == "label":
                self.assertIs(record["tracing"], True)
                self.assertGreater(record["tracemalloc_memory"], 0)
            else:
                self.assertIsNone(record["tracing"])  # cannot be known from outside
                self.assertIsNone(record["traced"])
            self.assertEqual(record["pid"], records[0]["pid"])
        # the table: a header and a line per record
        lines = out.splitlines()
        self.assertEqual(len(lines), len(records) + 1)
        self.assertEqual(lines[0].split(), ["time", "(s)", "RSS", "peak", "RSS", "event"])
        self.assertTrue(lines[-1].endswith("stop (exit status 3)"))
        self.assertTrue([line for line in lines if line.endswith("label: phase 2")])
        document = xml.dom.minidom.parse(svg)
        texts = [node.firstChild.data for node in document.getElementsByTagName("text")]
        for label in ("phase 1", "phase 2", "phase 3", "phase 4"):
            self.assertIn(label, texts)

    def test_pid(self):
        # a process started elsewhere with its labels file; the command sees it end (a
        # zombie until this test waits for it)
        labels, log, svg = self.path("labels"), self.path("pid.jsonl"), self.path("pid.svg")
        script = self.write_script("waiter.py", (
            "import os, sys, time\n"
            "import tracemalloc.process\n"
            "deadline = time.time() + %d\n"
            "while not os.path.exists(sys.argv[1]) and time.time() < deadline:\n"
            "    time.sleep(0.01)\n"
            "tracemalloc.process.add_label('going')\n"
            "while '\"going\"' not in open(sys.argv[2]).read() and time.time() < deadline:\n"
            "    time.sleep(0.01)\n" % WAIT_SECONDS))
        go = self.path("go")
        child = subprocess.Popen([sys.executable, script, go, log],
                                 env=tmsupport.child_env(TRACEMALLOC_PROCESS_LABELS=labels))
        try:
            monitor = subprocess.Popen(
                [sys.executable, "-m", "tracemalloc.process", "-i", "0.05", "-p",
                 str(child.pid), "--labels", labels, "--json", log, "--plot", svg],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=tmsupport.child_env())
            self.wait_for_records(log)
            open(go, "w").close()
            out, err = monitor.communicate()
        finally:
            child.wait()
        self.assertEqual((monitor.returncode, err), (0, b""))
        records = read_jsonl(log)
        check_record_shape(self, records)
        self.assertEqual(records[0]["pid"], child.pid)
        self.assertNotIn("command", records[0])
        self.assertEqual(labelled(records, "going")["event"], "label")
        self.assertIsNone(records[-1]["rss"])
        document = xml.dom.minidom.parse(svg)
        self.assertIn("going", [node.firstChild.data
                                for node in document.getElementsByTagName("text")])

    def wait_for_records(self, path, count=1):
        deadline = time.time() + WAIT_SECONDS
        while time.time() < deadline:
            if os.path.exists(path):
                with open(path) as fp:
                    if len([line for line in fp if line.endswith("\n")]) >= count:
                        return
            time.sleep(0.01)
        self.fail("no record in %s" % path)

    def test_ctrl_c_pid(self):
        # Ctrl-C stops the log of a process given by -p: a stop record, status 130
        child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                                 stdin=subprocess.PIPE)
        log = self.path("ctrl-c.jsonl")
        try:
            monitor = subprocess.Popen(
                [sys.executable, "-m", "tracemalloc.process", "-i", "0.05", "-p",
                 str(child.pid), "--json", log],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=tmsupport.child_env())
            self.wait_for_records(log, 3)
            monitor.send_signal(signal.SIGINT)
            out, err = monitor.communicate()
        finally:
            child.stdin.close()
            child.wait()
        self.assertEqual((monitor.returncode, err), (130, b""))
        records = read_jsonl(log)
        check_record_shape(self, records)
        self.assertIsNotNone(records[-1]["rss"])  # the process still ran

    def test_ctrl_c_command(self):
        # Ctrl-C reaches the command too (same process group): logged until it exits, with
        # its exit status
        # the command says when its handler is in place: a Ctrl-C before it (a slow start,
        # under a sanitizer) would end it otherwise
        ready = self.path("ready")
        script = self.write_script("interrupted.py", (
            "import signal, sys, time\n"
            "signal.signal(signal.SIGINT, lambda *args: sys.exit(5))\n"
            "open(%r, 'w').close()\n"
            "time.sleep(%d)\n" % (ready, WAIT_SECONDS)))
        log = self.path("ctrl-c.jsonl")
        monitor = subprocess.Popen(
            [sys.executable, "-m", "tracemalloc.process", "-i", "0.05", "--json", log, "--",
             sys.executable, script],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=tmsupport.child_env(),
            preexec_fn=os.setsid)
        try:
            self.wait_for_records(log, 3)
            deadline = time.time() + WAIT_SECONDS
            while not os.path.exists(ready) and time.time() < deadline:
                time.sleep(0.01)
        finally:
            os.killpg(monitor.pid, signal.SIGINT)
        out, err = monitor.communicate()
        self.assertEqual((monitor.returncode, err), (5, b""))
        records = read_jsonl(log)
        check_record_shape(self, records)
        self.assertEqual(records[-1]["exit_status"], 5)

    def test_killed_command(self):
        status, out, err = self.command(
            ["--", sys.executable, "-c",
             "import os, signal; os.kill(os.getpid(), signal.SIGTERM)"])
        self.assertEqual((status, err), (128 + signal.SIGTERM, ""))
        self.assertTrue(out.splitlines()[-1].endswith(
            "stop (exit status %d)" % (128 + signal.SIGTERM)))

    def test_from_json(self):
        # the log of a program (in-process logger, tracing): the table and the picture
        script = self.write_script("phases.py", PHASES_PROGRAM)
        log, svg = self.path("app.jsonl"), self.path("app.svg")
        status, out, err = tmsupport.run_python([script, log, "trace"], cwd=self.tmpdir)
        self.assertEqual((status, err), (0, ""))
        status, out, err = self.command(["--from-json", log, "--plot", svg])
        self.assertEqual((status, err), (0, ""))
        lines = out.splitlines()
        self.assertEqual(len(lines), len(read_jsonl(log)) + 1)
        self.assertEqual(lines[0].split()[:6], ["time", "(s)", "RSS", "peak", "RSS", "traced"])
        self.assertTrue(lines[-1].endswith("stop"))
        document = xml.dom.minidom.parse(svg)
        texts = [node.firstChild.data for node in document.getElementsByTagName("text")]
        self.assertIn("phase 3", texts)
        self.assertIn("traced memory", texts)
        # twice the log in one file (appended): the last one, and a note
        with open(log) as fp:
            text = fp.read()
        with open(log, "a") as fp:
            fp.write(text)
        status, out2, err = self.command(["--from-json", log])
        self.assertEqual((status, out2), (0, out))
        self.assertEqual(err, "python -m tracemalloc.process: %s holds 2 logs: the last one "
                              "is shown\n" % log)

    def test_from_json_of_logging(self):
        log = self.path("app.log")
        with open(log, "w") as fp:
            fp.write("2026-12-07 10:00:00 INFO starting\n")
            for record in PlotTests.RECORDS:
                fp.write("2026-12-07 10:00:00 INFO process memory: %s\n"
                         % _process_log.dumps(record))
        status, out, err = self.command(["--from-json", log])
        self.assertEqual((status, err), (0, ""))
        self.assertEqual(len(out.splitlines()), len(PlotTests.RECORDS) + 1)

    def test_usage_errors(self):
        # one line, status 2, no traceback
        missing = self.path("missing")
        for args, message in [
                (["-i", "0", "--", "true"], "argument -i/--interval: must be a number of "
                                            "seconds above 0: '0'"),
                (["-i", "abc", "--", "true"], "argument -i/--interval: not a number of "
                                              "seconds: 'abc'"),
                (["-i", "inf", "--", "true"], "argument -i/--interval: must be a number of "
                                              "seconds above 0: 'inf'"),
                (["-p", "abc"], "argument -p/--pid: not a process ID: 'abc'"),
                (["-p", "0"], "argument -p/--pid: not a process ID (1 or more): '0'"),
                ([], "nothing to log: give -p PID, a command after --, or --from-json"),
                (["--"], "no command after --"),
                (["-p", "1", "--", "true"], "give one of -p PID, a command after -- and "
                                            "--from-json, not -p and a command"),
                (["sleep", "1"], "unexpected argument 'sleep': a command goes after --, "
                                 "e.g. python -m tracemalloc.process -- sleep 1"),
                (["--from-json", missing, "--json", missing], "--json does not apply to "
                                                              "--from-json"),
                (["--labels", missing], "nothing to log: give -p PID, a command after --, "
                                        "or --from-json"),
                (["--bogus"], "unrecognized arguments: --bogus")]:
            status, out, err = self.command(args)
            self.assertEqual((status, out, err),
                             (2, "", "python -m tracemalloc.process: error: %s (see --help)\n"
                              % message), args)

    def test_problems(self):
        # the process, a file or a log that cannot be used: one line, status 1 (126, 127
        # for a command that cannot run)
        gone = subprocess.Popen([sys.executable, "-c", "pass"])
        gone.wait()
        directory = self.path("dir")
        os.mkdir(directory)
        not_a_log = self.write_script("notalog.txt", "hello\n")
        bad_json = self.write_script("bad.jsonl", '{"event": "start", "elapsed_time": 0}\n{x\n')
        for args, status_, message in [
                (["-p", str(gone.pid)], 1, "no process %d" % gone.pid),
                (["--json", os.path.join(directory, "no", "x"), "--", "true"], 1,
                 "cannot write %s: No such file or directory"
                 % os.path.join(directory, "no", "x")),
                (["--plot", directory, "--", "true"], 1,
                 "cannot write %s: Is a directory" % directory),
                (["--from-json", self.path("missing")], 1,
                 "%s: No such file or directory" % self.path("missing")),
                (["--from-json", not_a_log], 1,
                 "%s: no record of a process log in this file" % not_a_log),
                (["--", self.path("no-such-command")], 127,
                 "%s: command not found" % self.path("no-such-command")),
                (["--", not_a_log], 126, "%s: cannot run: Permission denied" % not_a_log)]:
            status, out, err = self.command(args)
            self.assertEqual((status, err),
                             (status_, "python -m tracemalloc.process: error: %s\n" % message),
                             args)
        status, out, err = self.command(["--from-json", bad_json])
        self.assertEqual(status, 1)
        self.assertTrue(err.startswith("python -m tracemalloc.process: error: %s: line 2: "
                                       "not JSON (" % bad_json), err)
        self.assertEqual(len(err.splitlines()), 1)
        # the picture's path was checked before the command ran: nothing created
        self.assertEqual(os.listdir(directory), [])

    def test_help(self):
        status, out, err = self.command(["--help"])
        self.assertEqual((status, err), (0, ""))
        for text in ("examples:", "-- make -j2", "--from-json app.jsonl --plot app.svg",
                     "TRACEMALLOC_PROCESS_LABELS", "traced memory: from outside",
                     "log_process(", "exit status:"):
            self.assertIn(text, out)


if __name__ == "__main__":
    unittest.main()
