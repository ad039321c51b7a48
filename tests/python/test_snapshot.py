"""Tests of Snapshot (create, write, load, filters), TakeSnapshot and the file format."""
from __future__ import absolute_import

import os
import pickle
import re
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "support"))
import tmsupport  # noqa: E402 (must come first: chooses the package and the engine)
from tmsupport import tracemalloc  # noqa: E402

# Set by _mark_code_ran(): a malicious pickle would call it if loading ran code.
CODE_RAN = []


def _mark_code_ran(*args):
    CODE_RAN.append(args)
    return "ran"


class Malicious(object):
    """Pickles as a call of *func* with *args*: what an attacker would put in a file."""

    def __init__(self, func, args):
        self.func = func
        self.args = args

    def __reduce__(self):
        return (self.func, self.args)


def sample_snapshot():
    stats = {
        "/usr/lib/python2.7/a/b.py": {10: (10240, 10), 20: (500, 5)},
        "/usr/lib/python2.7/c.py": {1: (2 ** 40, 3)},
        "<unknown>": {0: (32, 1)},
    }
    return tracemalloc.Snapshot(stats, "2013-03-04 01:01:55", 4242, 10 * 1024 ** 2,
                                23 * 1024, [("Video memory", "size", 234902)])


def snapshot_data(snapshot):
    return (snapshot.stats, snapshot.timestamp, snapshot.pid, snapshot.process_memory,
            snapshot.tracemalloc_memory, snapshot.user_data)


def valid_data():
    return {
        "format": "pytracemalloc.snapshot", "version": 1, "pid": 1, "timestamp": "x",
        "stats": {"a.py": {1: (2, 3)}}, "process_memory": None,
        "tracemalloc_memory": None, "user_data": [],
    }


class TempDirMixin(object):
    def setUp(self):
        super(TempDirMixin, self).setUp()
        self.tmpdir = tempfile.mkdtemp(prefix="tracemalloc-test-")

    def tearDown(self):
        shutil.rmtree(self.tmpdir)
        super(TempDirMixin, self).tearDown()

    def path(self, name):
        return os.path.join(self.tmpdir, name)

    def write_bytes(self, name, data):
        path = self.path(name)
        with open(path, "wb") as fp:
            fp.write(data)
        return path


class SnapshotTests(tmsupport.FakeEngineMixin, TempDirMixin, unittest.TestCase):
    def test_create(self):
        self.engine.tracing = True
        self.engine.stats = {"/x/y.py": {1: (100, 2)}}
        self.engine.tracemalloc_memory = 777
        self.process_memory = 123456
        snapshot = tracemalloc.Snapshot.create(lambda: [["Cache", "size", 10]])
        self.assertEqual(snapshot.stats, {"/x/y.py": {1: (100, 2)}})
        self.assertEqual(snapshot.pid, os.getpid())
        self.assertTrue(re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$", snapshot.timestamp))
        self.assertEqual(snapshot.process_memory, 123456)
        self.assertEqual(snapshot.tracemalloc_memory, 777)
        self.assertEqual(snapshot.user_data, [("Cache", "size", 10)])

    def test_create_not_tracing(self):
        snapshot = tracemalloc.Snapshot.create()
        self.assertEqual(snapshot.stats, {})
        self.assertEqual(snapshot.user_data, [])

    def test_round_trip(self):
        snapshot = sample_snapshot()
        path = self.path("snap.pickle")
        snapshot.write(path)
        loaded = tracemalloc.Snapshot.load(path)
        self.assertEqual(snapshot_data(loaded), snapshot_data(snapshot))
        self.assertEqual(os.listdir(self.tmpdir), ["snap.pickle"])  # no temporary file left

    def test_file_format(self):
        # the default is the compact format (a binary header with a version field)
        path = self.path("snap.pickle")
        sample_snapshot().write(path)
        with open(path, "rb") as fp:
            raw = fp.read()
        self.assertEqual(raw[:8], b"\x89TMS\r\n\x1a\n")
        # format="pickle": a protocol 2 pickle of a dict of builtins, version 2
        sample_snapshot().write(path, format="pickle")
        with open(path, "rb") as fp:
            raw = fp.read()
        self.assertEqual(raw[:2], b"\x80\x02")
        data = pickle.loads(raw)
        self.assertEqual(data["format"], "pytracemalloc.snapshot")
        self.assertEqual(data["version"], 2)
        self.assertEqual(sorted(data), sorted([
            "format", "version", "pid", "timestamp", "stats", "process_memory",
            "tracemalloc_memory", "user_data", "traces", "traceback_limit", "attributes"]))

    def test_write_replaces_atomically(self):
        path = self.path("snap.pickle")
        sample_snapshot().write(path)
        other = tracemalloc.Snapshot({}, "2000-01-01 00:00:00", 1)
        other.write(path)
        self.assertEqual(tracemalloc.Snapshot.load(path).pid, 1)
        self.assertEqual(os.listdir(self.tmpdir), ["snap.pickle"])

    def test_write_failure_leaves_nothing(self):
        # a failure or an interruption while writing: the previous file is intact and no
        # temporary file remains
        path = self.path("snap.pickle")
        sample_snapshot().write(path)
        saved_fsync = os.fsync
        for exc in (OSError(5, "Input/output error"), KeyboardInterrupt()):
            def failing_fsync(fd):
                raise exc
            os.fsync = failing_fsync
            try:
                self.assertRaises(type(exc), tracemalloc.Snapshot({}, "x", 1).write, path)
            finally:
                os.fsync = saved_fsync
            self.assertEqual(os.listdir(self.tmpdir), ["snap.pickle"])
            self.assertEqual(tracemalloc.Snapshot.load(path).pid, 4242)

    def test_write_invalid(self):
        snapshot = tracemalloc.Snapshot({"a.py": {1: [1, 2]}}, "x", 1)
        path = self.path("bad.pickle")
        with self.assertRaises(tracemalloc.SnapshotError) as cm:
            snapshot.write(path)
        self.assertIn("(size, count) tuple", str(cm.exception))
        self.assertFalse(os.path.exists(path))
        snapshot = tracemalloc.Snapshot({}, "x", 1, user_data=[("t", "size", object())])
        self.assertRaises(tracemalloc.SnapshotError, snapshot.write, path)

    def test_filter_filenames(self):
        def files(include, patterns):
            snapshot = sample_snapshot()
            self.assertIsNone(snapshot.filter_filenames(patterns, include))
            return sorted(snapshot.stats)
        self.assertEqual(files(True, "*/a/*"), ["/usr/lib/python2.7/a/b.py"])
        self.assertEqual(files(True, ["*/a/*", "<*>"]), ["/usr/lib/python2.7/a/b.py",
                                                         "<unknown>"])
        self.assertEqual(files(False, "*/a/*"), ["/usr/lib/python2.7/c.py", "<unknown>"])
        self.assertEqual(files(False, ["*.py", "<unknown>"]), [])
        self.assertEqual(files(True, []), [])
        self.assertEqual(files(False, []), ["/usr/lib/python2.7/a/b.py",
                                            "/usr/lib/python2.7/c.py", "<unknown>"])
        self.assertEqual(files(True, "*/c.py"), ["/usr/lib/python2.7/c.py"])
        # the line stats are kept as they are
        snapshot = sample_snapshot()
        snapshot.filter_filenames("*/c.py", True)
        self.assertEqual(snapshot.stats, {"/usr/lib/python2.7/c.py": {1: (2 ** 40, 3)}})


class LoadErrorTests(TempDirMixin, unittest.TestCase):
    def setUp(self):
        super(LoadErrorTests, self).setUp()
        del CODE_RAN[:]

    def assert_load_error(self, path, *fragments):
        with self.assertRaises(tracemalloc.SnapshotError) as cm:
            tracemalloc.Snapshot.load(path)
        exc = cm.exception
        self.assertTrue(isinstance(exc, ValueError))
        self.assertEqual(exc.filename, path)
        message = str(exc)
        self.assertTrue(message.startswith(path + ": "), message)
        self.assertNotIn("\n", message)
        for fragment in fragments:
            self.assertIn(fragment, message)
        self.assertEqual(CODE_RAN, [])
        return message

    def test_missing(self):
        self.assert_load_error(self.path("missing.pickle"), "No such file or directory")

    def test_directory(self):
        self.assert_load_error(self.tmpdir, "cannot read the file")

    def test_empty(self):
        self.assert_load_error(self.write_bytes("empty.pickle", b""), "empty file")

    def test_truncated(self):
        path = self.path("snap.pickle")
        sample_snapshot().write(path)
        with open(path, "rb") as fp:
            raw = fp.read()
        for size in (2, 3, len(raw) // 2, len(raw) - 1):
            self.assert_load_error(self.write_bytes("truncated.pickle", raw[:size]),
                                   "truncated file")

    def test_trailing_garbage(self):
        path = self.path("snap.pickle")
        sample_snapshot().write(path)
        with open(path, "ab") as fp:
            fp.write(b"garbage")
        self.assert_load_error(path, "7 bytes of garbage")

    def test_not_a_pickle(self):
        self.assert_load_error(self.write_bytes("text.pickle", b"hello world\n"),
                               "not a snapshot file")
        self.assert_load_error(self.write_bytes("junk.pickle", b"\x80\x02\xff\xfe\x00junk"),
                               "corrupt pickle data")
        # another pickle protocol
        self.assert_load_error(self.write_bytes("p0.pickle", pickle.dumps(valid_data(), 0)),
                               "not a snapshot file")

    def test_global_protocol_2(self):
        marker = self.path("pwned")
        payloads = [
            pickle.dumps(os.system, 2),
            pickle.dumps(Malicious(os.system, ("touch %s" % marker,)), 2),
            pickle.dumps(Malicious(_mark_code_ran, ("x",)), 2),
            # hidden in a valid-looking snapshot
            pickle.dumps(dict(valid_data(), user_data=[Malicious(_mark_code_ran, ())]), 2),
        ]
        for payload in payloads:
            path = self.write_bytes("global.pickle", payload)
            self.assert_load_error(path, "refused to load")
        self.assertFalse(os.path.exists(marker))

    def test_global_other_protocols(self):
        marker = self.path("pwned")
        for protocol in (0, 1):
            payload = pickle.dumps(Malicious(os.system, ("touch %s" % marker,)), protocol)
            self.assert_load_error(self.write_bytes("global.pickle", payload),
                                   "not a snapshot file")
        self.assertFalse(os.path.exists(marker))

    def test_extension_code_and_persistent_id(self):
        # EXT1 code 1 and BINPERSID: neither may resolve to an object
        self.assert_load_error(self.write_bytes("ext.pickle", b"\x80\x02\x82\x01."))
        self.assert_load_error(self.write_bytes("persid.pickle", b"\x80\x02K\x01Q."))

    def test_wrong_version(self):
        data = dict(valid_data(), version=3)
        path = self.write_bytes("v3.pickle", pickle.dumps(data, 2))
        self.assert_load_error(path, "unsupported snapshot format version 3")

    def test_wrong_format(self):
        data = dict(valid_data(), format="something.else")
        self.assert_load_error(self.write_bytes("f.pickle", pickle.dumps(data, 2)),
                               "not a pytracemalloc snapshot", "something.else")
        data = valid_data()
        del data["format"]
        self.assert_load_error(self.write_bytes("f.pickle", pickle.dumps(data, 2)),
                               "not a pytracemalloc snapshot (format missing)")
        self.assert_load_error(self.write_bytes("list.pickle", pickle.dumps([1, 2], 2)),
                               "not a pytracemalloc snapshot", "list")
        # the format of pytracemalloc 0.9 (format_version key)
        old = {"format_version": 1, "stats": {}, "timestamp": "x", "pid": 1}
        self.assert_load_error(self.write_bytes("old.pickle", pickle.dumps(old, 2)),
                               "not a pytracemalloc snapshot")

    def test_wrong_structure(self):
        cases = [
            (dict(valid_data(), pid="1"), "pid must be an int"),
            (dict(valid_data(), pid=True), "pid must be an int"),
            (dict(valid_data(), timestamp=1), "timestamp must be a str"),
            (dict(valid_data(), stats=[]), "stats must be a dict"),
            (dict(valid_data(), stats={1: {}}), "a filename in stats must be a str"),
            (dict(valid_data(), stats={"a.py": [(1, 2)]}), "stats['a.py'] must be a dict"),
            (dict(valid_data(), stats={"a.py": {"1": (1, 2)}}), "must be an int"),
            (dict(valid_data(), stats={"a.py": {1: (1, 2, 3)}}), "(size, count) tuple"),
            (dict(valid_data(), stats={"a.py": {1: (1, "2")}}), "(size, count) tuple"),
            (dict(valid_data(), process_memory="1"), "process_memory must be an int or None"),
            (dict(valid_data(), tracemalloc_memory=1.5), "tracemalloc_memory must be"),
            (dict(valid_data(), user_data={}), "user_data must be a list"),
            (dict(valid_data(), user_data=[("a", "size")]), "user_data[0] must be a"),
            (dict(valid_data(), user_data=[("a", "size", "1")]), "user_data[0] must be a"),
            (dict(valid_data(), extra=1), "unknown keys: 'extra'"),
        ]
        missing = valid_data()
        del missing["stats"]
        cases.append((missing, "missing keys: stats"))
        for data, fragment in cases:
            path = self.write_bytes("bad.pickle", pickle.dumps(data, 2))
            self.assert_load_error(path, "invalid snapshot", fragment)

    def test_valid_minimal(self):
        path = self.write_bytes("ok.pickle", pickle.dumps(valid_data(), 2))
        snapshot = tracemalloc.Snapshot.load(path)
        self.assertEqual(snapshot.stats, {"a.py": {1: (2, 3)}})


CROSS_SCRIPT = r"""
import sys
sys.path.insert(0, sys.argv[1])
import tmsupport
tracemalloc = tmsupport.tracemalloc
name = u"/tmp/\u00e9t\u00e9.py"
if sys.version_info[0] == 2:
    name = name.encode("utf-8")
expected = tracemalloc.Snapshot(
    {name: {1: (10, 1), 7: (2 ** 40, 3)}, "<unknown>": {0: (32, 1)}},
    "2013-03-04 01:01:55", 4242, 10485760, None, [("Video memory", "size", 234902)])
if sys.argv[2] == "write":
    expected.write(sys.argv[3])
else:
    loaded = tracemalloc.Snapshot.load(sys.argv[3])
    got = (loaded.stats, loaded.timestamp, loaded.pid, loaded.process_memory,
           loaded.tracemalloc_memory, loaded.user_data)
    want = (expected.stats, expected.timestamp, expected.pid, expected.process_memory,
            expected.tracemalloc_memory, expected.user_data)
    if got != want:
        sys.stdout.write("MISMATCH %r != %r\n" % (got, want))
        sys.exit(1)
    # the loaded strings are native str on both versions
    for value in list(loaded.stats) + [loaded.timestamp, loaded.user_data[0][0]]:
        if type(value) is not str:
            sys.stdout.write("NOT STR %r\n" % (value,))
            sys.exit(1)
    sys.stdout.write("OK\n")
"""


class CrossVersionTests(TempDirMixin, unittest.TestCase):
    """A snapshot written by Python 2 loads on Python 3 and the reverse."""

    @classmethod
    def setUpClass(cls):
        cls.other = tmsupport.find_other_python()

    def setUp(self):
        super(CrossVersionTests, self).setUp()
        if self.other is None:
            self.skipTest("no interpreter of the other major version found (set "
                          "TRACEMALLOC_TEST_OTHER_PYTHON)")
        if not os.path.isdir(os.path.join(tmsupport.MODULE_DIR, "tracemalloc")):
            self.skipTest("the source tree (module/tracemalloc) is not available")
        self.script = self.path("cross.py")
        with open(self.script, "w") as fp:
            fp.write(CROSS_SCRIPT)

    def run_script(self, executable, mode, path):
        if executable == sys.executable:
            env = tmsupport.child_env()  # the package under test, engine included
        else:
            # The other interpreter has no engine of ours: the sources with a fake one.
            env = tmsupport.child_env(TRACEMALLOC_TEST_INPLACE="1")
            env.pop("TRACEMALLOC_TEST_REQUIRE_ENGINE", None)
        return tmsupport.run_python([self.script, tmsupport.SUPPORT_DIR, mode, path],
                                    executable=executable, env=env)

    def test_other_writes_we_load(self):
        path = self.path("other.pickle")
        code, out, err = self.run_script(self.other, "write", path)
        self.assertEqual(code, 0, err)
        code, out, err = self.run_script(sys.executable, "check", path)
        self.assertEqual((code, out.strip()), (0, "OK"), out + err)

    def test_we_write_other_loads(self):
        path = self.path("ours.pickle")
        code, out, err = self.run_script(sys.executable, "write", path)
        self.assertEqual(code, 0, err)
        code, out, err = self.run_script(self.other, "check", path)
        self.assertEqual((code, out.strip()), (0, "OK"), out + err)


class TakeSnapshotTests(tmsupport.FakeEngineMixin, TempDirMixin, unittest.TestCase):
    def setUp(self):
        super(TakeSnapshotTests, self).setUp()
        self.engine.tracing = True
        self.engine.stats = {"/x/y.py": {1: (100, 2)}}

    def test_defaults(self):
        take = tracemalloc.TakeSnapshot()
        self.assertEqual(take.filename_template, "tracemalloc-$pid-$counter.pickle")
        self.assertEqual(take.counter, 1)
        self.assertIsNone(take.user_data_callback)

    def test_default_template_in_current_directory(self):
        cwd = os.getcwd()
        os.chdir(self.tmpdir)
        try:
            snapshot, filename = tracemalloc.TakeSnapshot().take_snapshot()
        finally:
            os.chdir(cwd)
        self.assertEqual(filename, "tracemalloc-%d-0001.pickle" % os.getpid())
        self.assertEqual(os.listdir(self.tmpdir), [filename])

    def test_variables(self):
        take = tracemalloc.TakeSnapshot()
        take.filename_template = self.path("snap-$pid-$timestamp-$counter-$$-$other.pickle")
        take.user_data_callback = lambda: [("Cache", "size", 10)]
        snapshot, filename = take.take_snapshot()
        stamp = re.sub(r"^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)$", r"\1\2\3-\4\5\6",
                       snapshot.timestamp)
        self.assertTrue(re.match(r"^\d{8}-\d{6}$", stamp), stamp)
        self.assertEqual(filename, self.path("snap-%d-%s-0001-$-$other.pickle"
                                             % (os.getpid(), stamp)))
        self.assertEqual(take.counter, 2)
        loaded = tracemalloc.Snapshot.load(filename)
        self.assertEqual(snapshot_data(loaded), snapshot_data(snapshot))
        self.assertEqual(loaded.user_data, [("Cache", "size", 10)])

    def test_counter(self):
        take = tracemalloc.TakeSnapshot()
        take.filename_template = self.path("snap-$counter.pickle")
        names = [os.path.basename(take.take_snapshot()[1]) for _ in range(3)]
        self.assertEqual(names, ["snap-0001.pickle", "snap-0002.pickle", "snap-0003.pickle"])
        self.assertEqual(sorted(os.listdir(self.tmpdir)), names)
        take.counter = 12345
        self.assertEqual(os.path.basename(take.take_snapshot()[1]), "snap-12345.pickle")

    def test_timer_task(self):
        take = tracemalloc.TakeSnapshot()
        take.filename_template = self.path("snap-$counter.pickle")
        take.start(60)
        self.assertEqual(list(self.engine.timers.values())[0][:3], (60, take._task, ()))
        with tmsupport.captured("stderr") as stderr:
            self.engine.fire_timers()
        self.assertTrue(os.path.exists(self.path("snap-0001.pickle")))
        self.assertTrue(re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d: Write a snapshot of memory "
                                 r"allocations into .*snap-0001.pickle\n$", stderr.getvalue()),
                        stderr.getvalue())
        take.stop()
        self.assertEqual(self.engine.timers, {})


if __name__ == "__main__":
    unittest.main()
