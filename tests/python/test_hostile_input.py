"""Tests of hostile input: the short CI versions of the fuzzing campaigns of tests/fuzz (the
long ones run with tools/fuzz), and the commands given missing, empty, unreadable, huge,
hostile and wrong-kind files.

- The mutation fuzzer of the snapshot readers (tests/fuzz/snapshot_fuzz.py): a few thousand
  mutants of each format, no finding.
- The libFuzzer target of the C pickle scanner (tests/fuzz/pickle_scan_fuzz.c), built with
  clang's fuzzer, address and undefined sanitizers, for a bounded number of runs over the kept
  corpus (skipped where clang is missing; tools/run-tests installs it).
- python -m tracemalloc (the top, --peak, --json, --html, --plot, --leaks) and python -m
  tracemalloc.process (--from-json, --plot, --labels), each in a child under a memory limit:
  a bad file gives one line on stderr, a non-zero status, no traceback, within a time bound.
"""
from __future__ import absolute_import

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import unittest

try:
    import resource
except ImportError:  # not on Windows
    resource = None

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "support"))
import tmsupport  # noqa: E402 (must come first: chooses the package and the engine)
from tmsupport import tracemalloc  # noqa: E402

TOP = tmsupport.SOURCE_ROOT
FUZZ_DIR = os.path.join(TOP, "tests", "fuzz")
# Inputs of the CI runs: seconds each, bounded by count rather than time.
SNAPSHOT_INPUTS = int(os.environ.get("TRACEMALLOC_FUZZ_INPUTS", "3000"))
LIBFUZZER_RUNS = 30000
# What a child reading a hostile file may use: more would be a blow-up.
MEMORY_LIMIT = 1024 ** 3
# A sparse file larger than MEMORY_LIMIT: reading it whole would fail.
HUGE_SIZE = 2 * 1024 ** 3
CHILD_TIMEOUT = 60


def _which(name):
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        path = os.path.join(directory, name)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


class SnapshotFuzzTests(unittest.TestCase):
    def test_short_campaign(self):
        status, out, err = tmsupport.run_python(
            [os.path.join(FUZZ_DIR, "snapshot_fuzz.py"), "--inputs", str(SNAPSHOT_INPUTS),
             "--seed", "20261207", "--json"])
        self.assertEqual(status, 0, out + err)
        summaries = json.loads(out)
        self.assertEqual([summary["format"] for summary in summaries],
                         ["compact", "pickle", "stdlib"])
        for summary in summaries:
            self.assertEqual(summary["findings"], [], summary["format"])
            self.assertEqual(summary["loaded"] + summary["refused"], SNAPSHOT_INPUTS)
            # the mutants reach both outcomes: structure kept, and broken
            self.assertGreater(summary["loaded"], SNAPSHOT_INPUTS // 100, summary)
            self.assertGreater(summary["refused"], SNAPSHOT_INPUTS // 2, summary)

    def test_replay_is_the_same_input(self):
        script = os.path.join(FUZZ_DIR, "snapshot_fuzz.py")
        outputs = [subprocess.check_output([sys.executable, script, "--replay", "compact",
                                            "3", "1234"], env=tmsupport.child_env())
                   for _ in range(2)]
        self.assertEqual(outputs[0], outputs[1])
        self.assertTrue(outputs[0])


class PickleScanLibFuzzerTests(unittest.TestCase):
    def test_short_run(self):
        clang = _which("clang")
        pkg_config = _which("pkg-config")
        if clang is None or pkg_config is None:
            self.skipTest("clang or pkg-config is not installed (libFuzzer target)")
        tmpdir = tempfile.mkdtemp(prefix="tracemalloc-libfuzzer-")
        try:
            binary = os.path.join(tmpdir, "pickle_scan_fuzz")
            flags = subprocess.check_output([pkg_config, "--cflags", "--libs", "glib-2.0"])
            build = subprocess.Popen(
                [clang, "-g", "-O1", "-fsanitize=fuzzer,address,undefined",
                 "-fno-sanitize-recover=undefined",
                 os.path.join(FUZZ_DIR, "pickle_scan_fuzz.c"), "-o", binary]
                + flags.decode("ascii").split(),
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            output = build.communicate()[0].decode("utf-8", "replace")
            if build.returncode and "libclang_rt.fuzzer" in output:
                self.skipTest("clang without libFuzzer (libclang-rt-dev)")
            self.assertEqual(build.returncode, 0, output)
            corpus = os.path.join(tmpdir, "corpus")
            shutil.copytree(os.path.join(FUZZ_DIR, "corpus", "pickle_scan"), corpus)
            env = dict(os.environ)
            for name in ("MALLOC_CHECK_", "MALLOC_PERTURB_", "LD_PRELOAD"):
                env.pop(name, None)
            run = subprocess.Popen([binary, "-runs=%d" % LIBFUZZER_RUNS, "-seed=1",
                                    "-max_len=4096", "-timeout=10", "-rss_limit_mb=1024",
                                    corpus], cwd=tmpdir, env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            output = run.communicate()[0].decode("utf-8", "replace")
            self.assertEqual(run.returncode, 0, output[-3000:])
            self.assertIn("Done %d runs" % LIBFUZZER_RUNS, output)
        finally:
            shutil.rmtree(tmpdir)


def _limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


class CommandHostileFileTests(unittest.TestCase):
    """Every command that reads a file, given every kind of bad file."""

    @classmethod
    def setUpClass(cls):
        cls.tmpdir = tempfile.mkdtemp(prefix="tracemalloc-hostile-")
        path = cls.path

        def write(name, data):
            with open(path(name), "wb") as fp:
                fp.write(data)
            return path(name)

        cls.good = path("good.tms")
        tracemalloc.Snapshot([(0, 10, (("a.py", 1),), 1)], 1).write(cls.good)
        cls.good_log = write("good.jsonl", b'{"event": "start", "elapsed_time": 0, '
                                           b'"rss": 4096}\n')
        cls.files = {
            "missing": path("missing"),
            "empty": write("empty", b""),
            "directory": path("directory"),
            "device": "/dev/zero",
            "fifo": path("fifo"),
            "huge": path("huge"),
            "hostile pickle": write("hostile.pickle",
                                    b"\x80\x02cos\nsystem\nX\x04\x00\x00\x00trueK\x01\x85R."),
            "deep pickle": write("deep.pickle", b"\x80\x02" + b")" + b"\x85" * 100000 + b"."),
            "deep JSON": write("deep.jsonl", b'{"event": ' + b"[" * 100000 + b"]" * 100000
                               + b"}\n"),
            "huge number": write("number.jsonl", b'{"event": "start", "elapsed_time": 0, '
                                                 b'"rss": 1' + b"0" * 400 + b"}\n"),
            "binary": write("binary", bytes(bytearray(range(256))) * 64),
            "log for a snapshot": cls.good_log,
            "snapshot for a log": cls.good,
            "unreadable": path("unreadable"),
        }
        os.mkdir(path("directory"))
        os.mkfifo(path("fifo"))
        with open(path("huge"), "wb") as fp:
            fp.truncate(HUGE_SIZE)  # sparse
        if os.getuid() == 0:
            # root reads a file of mode 000: a path through a regular file cannot be read
            cls.files["unreadable"] = os.path.join(cls.good, "x")
        else:
            write("unreadable", b"\x80\x02N.")
            os.chmod(path("unreadable"), 0)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmpdir)

    @classmethod
    def path(cls, name):
        return os.path.join(cls.tmpdir, name)

    def run_command(self, args):
        if tmsupport.address_sanitizer():
            self.skipTest(tmsupport.ASAN_SKIP_REASON)
        return tmsupport.run_python(args, timeout=CHILD_TIMEOUT,
                                    preexec_fn=_limit_memory if resource else None)

    def check(self, args, kind):
        status, out, err = self.run_command(args)
        what = "%s with the %s file: status %s, stderr %r" % (" ".join(args[1:]), kind,
                                                               status, err[-2000:])
        self.assertGreater(status, 0, what)  # an error, not a signal
        self.assertNotIn("Traceback", err, what)
        self.assertEqual(len(err.strip().splitlines()), 1, what)
        self.assertTrue(err.startswith("python -m tracemalloc"), what)  # the command's own

    def commands(self, name):
        out_html, out_svg = self.path("out.html"), self.path("out.svg")
        snapshot_commands = [
            ["-m", "tracemalloc", name],
            ["-m", "tracemalloc", "--peak", name],
            ["-m", "tracemalloc", "--json", name],
            ["-m", "tracemalloc", "--html", out_html, name],
            ["-m", "tracemalloc", "--plot", out_svg, name],
            ["-m", "tracemalloc", "--leaks", self.good, self.good, name],
        ]
        log_commands = [
            ["-m", "tracemalloc.process", "--from-json", name],
            ["-m", "tracemalloc.process", "--from-json", name, "--plot", out_svg],
        ]
        return snapshot_commands, log_commands

    def test_snapshot_commands(self):
        for kind, name in sorted(self.files.items()):
            if kind in ("snapshot for a log", "huge number", "deep JSON"):
                continue  # valid, or not a snapshot the same way as "binary"
            commands = self.commands(name)[0]
            if kind == "fifo":
                commands = commands[:1]  # each waits PIPE_TIMEOUT for a writer
            for args in commands:
                self.check(args, kind)

    def test_process_log_commands(self):
        for kind, name in sorted(self.files.items()):
            if kind == "log for a snapshot":
                continue  # valid
            for args in self.commands(name)[1]:
                self.check(args, kind)

    def test_process_labels(self):
        # --labels: a file the process appends its labels to, read as they come
        for name in ("/dev/zero", self.path("directory")):
            self.check(["-m", "tracemalloc.process", "--labels", name, "--", sys.executable,
                        "-c", "pass"], name)

    def test_output_paths(self):
        for args in (["-m", "tracemalloc", "--html", self.path("directory"), self.good],
                     ["-m", "tracemalloc", "--plot", self.path("no/such/dir.svg"), self.good],
                     ["-m", "tracemalloc.process", "--from-json", self.good_log, "--plot",
                      self.path("directory")],
                     ["-m", "tracemalloc.process_tree", "--json", self.path("directory"), "--",
                      sys.executable, "-c", "pass"]):
            self.check(args, "output")

    def test_huge_log_in_bounded_memory(self):
        # a file of 2 GiB of NUL bytes, no newline, under a memory limit of 1 GiB: read a
        # line of at most MAX_LINE characters at a time
        self.assertGreater(HUGE_SIZE, MEMORY_LIMIT)
        status, out, err = self.run_command(["-m", "tracemalloc.process", "--from-json",
                                             self.files["huge"]])
        self.assertEqual((status, err.strip()),
                         (1, "python -m tracemalloc.process: error: %s: no record of a "
                             "process log in this file" % self.files["huge"]))

    def test_overlong_record_line(self):
        # a line that starts like a record and is longer than MAX_LINE is not read whole
        from tracemalloc import _process_log
        name = self.path("long.jsonl")
        with open(name, "wb") as fp:
            fp.write(b'{"event": "start", "elapsed_time": 0, "label": "'
                     + b"x" * _process_log.MAX_LINE + b'"}\n')
        with _process_log.open_log(name) as fp:
            with self.assertRaises(_process_log.LogFormatError) as cm:
                _process_log.read_records(fp, name)
        self.assertIn("line 1: longer than %d characters" % _process_log.MAX_LINE,
                      str(cm.exception))
        # an iterable of lines (the API) is still read as it is
        self.assertEqual(len(_process_log.read_records(
            ['{"event": "start", "elapsed_time": 0}\n'], "lines")), 1)

    def test_record_values_are_checked(self):
        for line, key in ((b'"rss": 1e999', "rss"), (b'"rss": "big"', "rss"),
                          (b'"cpu_times": {"user": 1' + b"0" * 400 + b"}", "cpu_times"),
                          (b'"label": [1]', "label"), (b'"freelist_memory": 5',
                                                       "freelist_memory")):
            name = self.path("record.jsonl")
            with open(name, "wb") as fp:
                fp.write(b'{"event": "start", "elapsed_time": 0, ' + line + b"}\n")
            status, out, err = self.run_command(["-m", "tracemalloc.process", "--from-json",
                                                 name])
            self.assertEqual(status, 1, err)
            self.assertIn("line 1: not a record of a process log (%s: " % key, err)


if __name__ == "__main__":
    unittest.main()
