"""Shared helpers of the Python tests: importing the package under test and a fake engine.

Import this module first in every test file. It:

- puts the source package directory ``module/`` first on sys.path when the environment
  variable TRACEMALLOC_TEST_INPLACE is set (to a non-empty value); otherwise the installed
  package is used;
- imports ``tracemalloc`` with its real C extension ``tracemalloc._engine`` when that can be
  imported (``make check`` sets TRACEMALLOC_TEST_REQUIRE_ENGINE: then it must), and otherwise
  installs a FakeEngine as ``sys.modules['tracemalloc._engine']``
  before importing it, saying so once on stderr. USING_FAKE_ENGINE tells which happened; the
  tests that need the real engine skip themselves with a clear reason.
"""
from __future__ import absolute_import

import contextlib
import io
import os
import subprocess
import sys
import threading

# tests/python/support (this module and the version data of test_freelists), tests/python
SUPPORT_DIR = os.path.dirname(os.path.abspath(__file__))
TESTS_DIR = os.path.dirname(SUPPORT_DIR)
SOURCE_ROOT = os.path.dirname(os.path.dirname(TESTS_DIR))
MODULE_DIR = os.path.join(SOURCE_ROOT, "module")
INPLACE = bool(os.environ.get("TRACEMALLOC_TEST_INPLACE"))
PY2 = sys.version_info[0] == 2
# Set by `make check`: the real engine must be there, and a feature that the engine or the
# interpreter must have is a failure when it is missing, never a skip (see require()).
REQUIRE_ENGINE = bool(os.environ.get("TRACEMALLOC_TEST_REQUIRE_ENGINE"))


class FakeEngine(object):
    """A pure Python stand-in for tracemalloc._engine, with the same functions.

    Tests set ``stats``, ``object_tracebacks`` ({id(obj): frames}), ``tracemalloc_memory``,
    ``peak_traces`` (the groups of get_peak_traces()), ``peak_stats`` and ``lost_traces``
    (what get_lost_traces() returns; start() resets it to 0 when it starts tracing, as the
    engine does) directly. Timers are recorded in ``timers``
    ({id: (delay, func, args, kwargs)}) and only fire when a test calls fire_timers().
    ``suspend_depth`` counts suspend() minus resume() (one thread: the tests'), and
    ``max_suspend_depth`` the deepest it went, so a test sees that work ran suspended.
    """

    PATCH_VARIANT = "fake"
    MAX_NFRAME = 65535

    def __init__(self):
        self.tracing = False
        self.nframe = 1
        self.sample_bytes = 0
        self.stats = {}
        self.peak_traces = []
        self.peak_stats = {}
        self.object_tracebacks = {}
        self.tracemalloc_memory = 0
        self.freelist_memory = None  # (size, count) on the "track" variant
        self.lost_traces = 0
        self.traced = [0, 0]
        self.timers = {}
        self._next_timer_id = 1
        self.calls = []
        self.suspend_depth = 0
        self.max_suspend_depth = 0

    def start(self, nframe=1, sample_bytes=0):
        self.calls.append(("start", nframe))
        if not 1 <= nframe <= self.MAX_NFRAME:
            raise ValueError("the number of frames must be in range [1; 65535]")
        if self.tracing and sample_bytes != self.sample_bytes:
            raise ValueError("tracing is already started with sample_bytes=%d"
                             % self.sample_bytes)
        if not self.tracing:
            self.lost_traces = 0
        self.tracing = True
        self.nframe = nframe
        self.sample_bytes = sample_bytes

    def get_sample_bytes(self):
        return self.sample_bytes

    def stop(self):
        self.calls.append(("stop",))
        self.tracing = False
        self.sample_bytes = 0
        self.timers.clear()
        self.stats = {}
        self.peak_traces = []
        self.peak_stats = {}
        self.object_tracebacks = {}

    def is_tracing(self):
        return self.tracing

    def clear_traces(self):
        self.stats = {}
        self.peak_traces = []
        self.peak_stats = {}
        self.object_tracebacks = {}

    def get_traceback_limit(self):
        return self.nframe

    def get_traced_memory(self):
        return tuple(self.traced)

    def reset_peak(self):
        self.traced[1] = self.traced[0]

    def get_tracemalloc_memory(self):
        return self.tracemalloc_memory

    def get_freelist_memory(self):
        return self.freelist_memory

    def get_lost_traces(self):
        return self.lost_traces

    def debug_malloc_stats(self):
        # nothing traces through a fake engine: the interpreter's function as it is
        func = getattr(sys, "_debugmallocstats", None)
        if func is None:
            return False
        func()
        return True

    def get_object_traceback(self, obj):
        return self.object_tracebacks.get(id(obj))

    def get_traces(self):
        return []

    def get_stats(self):
        # a copy, as the engine builds a new dict at each call
        return dict((filename, dict(lines)) for filename, lines in self.stats.items())

    def get_peak_traces(self):
        return list(self.peak_traces)

    def get_peak_stats(self):
        return dict((filename, dict(lines)) for filename, lines in self.peak_stats.items())

    def start_timer(self, delay, func, args=(), kwargs=None):
        if not isinstance(args, tuple):
            raise TypeError("args must be a tuple")
        if kwargs is not None and not isinstance(kwargs, dict):
            raise TypeError("kwargs must be a dict or None")
        timer_id = self._next_timer_id
        self._next_timer_id += 1
        self.timers[timer_id] = (delay, func, args, kwargs)
        return timer_id

    def suspend(self):
        self.suspend_depth += 1
        self.max_suspend_depth = max(self.max_suspend_depth, self.suspend_depth)

    def resume(self):
        if not self.suspend_depth:
            raise RuntimeError("tracing is not suspended in this thread")
        self.suspend_depth -= 1

    def is_suspended(self):
        return self.suspend_depth > 0

    def _get_own_memory(self):
        return (0, 0)

    def stop_timer(self, timer_id=None):
        if timer_id is None:
            self.timers.clear()
        else:
            self.timers.pop(timer_id, None)

    def fire_timers(self):
        for timer_id in sorted(self.timers):
            if timer_id in self.timers:
                delay, func, args, kwargs = self.timers[timer_id]
                # as the engine's runner: every callback starts traced
                saved, self.suspend_depth = self.suspend_depth, 0
                try:
                    func(*args, **(kwargs or {}))
                finally:
                    self.suspend_depth = saved


def _import_tracemalloc():
    if INPLACE and (not sys.path or sys.path[0] != MODULE_DIR):
        sys.path.insert(0, MODULE_DIR)
    # On Python 3 the stdlib has its own tracemalloc module (the warnings module may have
    # imported it already): it is not the package under test.
    module = sys.modules.get("tracemalloc")
    if module is not None and not hasattr(module, "DisplayTop"):
        del sys.modules["tracemalloc"]
    fake = False
    try:
        import tracemalloc
    except ImportError as exc:
        if "_engine" not in str(exc) or os.environ.get("TRACEMALLOC_TEST_REQUIRE_ENGINE"):
            raise
        for name in ("tracemalloc", "tracemalloc._engine"):
            sys.modules.pop(name, None)
        sys.modules["tracemalloc._engine"] = FakeEngine()
        sys.stderr.write("tests: the C extension tracemalloc._engine cannot be imported (%s): "
                         "using a fake engine; the tests that need the real one are "
                         "skipped\n" % exc)
        import tracemalloc
        fake = True
    if not hasattr(tracemalloc, "DisplayTop"):
        raise ImportError("%s is not pytracemalloc (the stdlib module?): install the package "
                          "or set TRACEMALLOC_TEST_INPLACE=1" % tracemalloc.__file__)
    return tracemalloc, fake


if "tracemalloc" in sys.modules and hasattr(sys.modules["tracemalloc"], "DisplayTop"):
    tracemalloc = sys.modules["tracemalloc"]
    USING_FAKE_ENGINE = isinstance(sys.modules.get("tracemalloc._engine"), FakeEngine)
else:
    tracemalloc, USING_FAKE_ENGINE = _import_tracemalloc()

REAL_ENGINE = None if USING_FAKE_ENGINE else tracemalloc._engine
# A stock (unpatched) 3.x: the engine traces through PEP 445, without startup tracing.
STOCK_INTERPRETER = REAL_ENGINE is not None and REAL_ENGINE.PATCH_VARIANT == "stock"
STOCK_REASON = "a stock interpreter has no PYTRACEMALLOC startup tracing (not patched)"
# The short runs of the reliability campaigns (the soak, the sanitizers: test_soak.py,
# test_sanitizers.py) depend little on the interpreter and take a minute: tools/run-tests runs
# them once per run, after the matrix, with TRACEMALLOC_TEST_CAMPAIGNS=1; the matrix's entries
# skip them (tests/expected-skips).
CAMPAIGNS = bool(os.environ.get("TRACEMALLOC_TEST_CAMPAIGNS"))
CAMPAIGN_SKIP_REASON = ("a campaign's short run: tools/run-tests runs it once, after the matrix "
                        "(TRACEMALLOC_TEST_CAMPAIGNS=1)")

SKIP_REASON = ("the real C extension tracemalloc._engine is not available (a fake engine is "
               "in use): build the engine and run the tests with the patched interpreter")


class FakeEngineMixin(object):
    """unittest mixin: replaces tracemalloc._engine by a new FakeEngine for each test."""

    def setUp(self):
        super(FakeEngineMixin, self).setUp()
        self.engine = FakeEngine()
        self._saved_engine = tracemalloc._engine
        tracemalloc._engine = self.engine
        self._saved_get_process_memory = tracemalloc.get_process_memory
        self.process_memory = None
        tracemalloc.get_process_memory = lambda: self.process_memory

    def tearDown(self):
        tracemalloc._engine = self._saved_engine
        tracemalloc.get_process_memory = self._saved_get_process_memory
        super(FakeEngineMixin, self).tearDown()


# Why a test that measures memory cannot apply under AddressSanitizer (tools/sanitize).
ASAN_SKIP_REASON = ("AddressSanitizer keeps freed memory in its quarantine and reserves "
                    "terabytes of shadow address space: RSS and address-space limits "
                    "measure it, not us")


# Why the native domain cannot apply under AddressSanitizer (tools/sanitize).
ASAN_PRELOAD_REASON = ("the native domain preloads its library, and AddressSanitizer's runtime "
                       "must come first in the preloaded libraries")
# Why the pymalloc reports cannot apply to an interpreter built with AddressSanitizer.
ASAN_PYMALLOC_REASON = ("an interpreter built with --with-address-sanitizer reports no pymalloc "
                        "arenas")


def _mapped(name):
    """True when a file whose path holds *name* is mapped into this process."""
    try:
        with open("/proc/self/maps") as maps:
            return any(name in line for line in maps)
    except (IOError, OSError):
        return False


def built_with_address_sanitizer():
    """True for an interpreter configured --with-address-sanitizer (build-aux/python-build
    --sanitize address)."""
    import sysconfig
    return "--with-address-sanitizer" in (sysconfig.get_config_var("CONFIG_ARGS") or "")


def address_sanitizer():
    """True when AddressSanitizer's runtime is mapped into this process: an interpreter built
    with it or its runtime preloaded (tools/sanitize). The children of the tests inherit it."""
    return _mapped('libasan')


# Why the native domain cannot apply under ThreadSanitizer's preloaded runtime (tools/sanitize,
# its tsan step).
TSAN_PRELOAD_REASON = ("the native domain's library replaces malloc by glibc's own, which "
                       "ThreadSanitizer does not see (it would not forget a freed block), and "
                       "must come before its runtime in LD_PRELOAD, whose start then crashes")
# Why a test of address-space limits cannot apply under ThreadSanitizer.
TSAN_SKIP_REASON = ("ThreadSanitizer maps terabytes of shadow address space: RLIMIT_AS "
                    "measures it, not us")


def thread_sanitizer():
    """True when ThreadSanitizer's runtime is mapped into this process (its runtime preloaded
    by tools/sanitize's tsan step). The children of the tests inherit it."""
    return _mapped('libtsan')


# Why a test of address reuse or address-space limits cannot apply under valgrind.
VALGRIND_SKIP_REASON = ("valgrind delays the reuse of freed blocks and needs address space of "
                        "its own: address reuse and RLIMIT_AS measure it, not us")


def valgrind():
    """True when this process runs under valgrind (tools/sanitize): its preloaded core is
    mapped in."""
    return _mapped('vgpreload')


def require(testcase, available, reason):
    """Skip *testcase* with *reason* when *available* is false, or fail it when the real
    engine is required (TRACEMALLOC_TEST_REQUIRE_ENGINE, set by `make check`): there, a
    missing engine function, _testcapi function or helper interpreter means the build is
    broken, and a skip would hide it."""
    if available:
        return
    if REQUIRE_ENGINE:
        testcase.fail("required but missing: %s" % reason)
    testcase.skipTest(reason)


def _listed_interpreters(name):
    """The interpreters listed in the environment variable *name* (os.pathsep-separated),
    or None when it is not set. tools/run-tests sets it, so that the tests use the
    interpreters it built, the same on a cold and a warm cache, and never whatever happens
    to be on PATH or in pyenv."""
    value = os.environ.get(name)
    if value is None:
        return None
    return [path for path in value.split(os.pathsep) if path]


def stock_interpreters():
    """Stock (unpatched) Python 3 interpreters with their own tracemalloc module: those of
    TRACEMALLOC_TEST_STOCK_PYTHONS when it is set, else those of pyenv and the cache."""
    import glob
    listed = _listed_interpreters("TRACEMALLOC_TEST_STOCK_PYTHONS")
    if listed is not None:
        return listed
    found = []
    pyenv = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    cache = os.environ.get("PYTRACEMALLOC_CACHE") or os.path.expanduser("~/.cache/pytracemalloc")
    for stdlib in sorted(glob.glob(os.path.join(pyenv, "versions", "3.*", "lib", "python3.*",
                                                "tracemalloc.py"))
                         + glob.glob(os.path.join(cache, "builds", "3.*-stock-*", "prefix",
                                                  "lib", "python3.*", "tracemalloc.py"))):
        prefix = os.path.dirname(os.path.dirname(os.path.dirname(stdlib)))
        python = os.path.join(prefix, "bin", "python3")
        if os.access(python, os.X_OK):
            found.append(python)
    return found


def cpu_time():
    """CPU seconds used by this process (user + system). Bounds on the cost of an operation
    are checked against it rather than the wall clock: the load of other processes on a
    shared machine does not count, a quadratic or runaway loop still does."""
    times = os.times()
    return times[0] + times[1]


def text_stream():
    """A file-like object accepting native str on Python 2 and 3."""
    if PY2:
        import StringIO
        return StringIO.StringIO()
    return io.StringIO()


def take_text(stream):
    """What was written to the text_stream() *stream*, which is emptied."""
    text = stream.getvalue()
    stream.seek(0)
    stream.truncate()
    return text


def written_and_loaded(snapshot, name):
    """Write *snapshot* into a file *name* of a new temporary directory (its extension
    picks the format, as for Snapshot.write()), load it back, remove the directory, and
    return the loaded snapshot."""
    import shutil
    import tempfile
    directory = tempfile.mkdtemp()
    try:
        filename = os.path.join(directory, name)
        snapshot.write(filename)
        return snapshot.load(filename)
    finally:
        shutil.rmtree(directory)


# Debian's packages of Python modules (python3-pytest, python3-psutil...): built for its
# python3 (3.11 on Debian 12), they load into our patched interpreter of the same version.
DEBIAN_DIST_PACKAGES = "/usr/lib/python3/dist-packages"
_debian_envs = {}  # (module, probe) -> the environment found, or None


def debian_module_env(module, probe, extra=None):
    """The environment of a child interpreter that imports *module* and this package, or
    None if it cannot: the child's own sys.path first, else Debian's dist-packages after the
    package under test (so that its tracemalloc comes first). PYTHONPATH is made absolute
    (children may run in another directory). *probe*: code that must run in the child
    (e.g. "import pytest"); *extra*: more variables for the child. Found once per
    (module, probe)."""
    key = (module, probe)
    if key not in _debian_envs:
        found = None
        base = child_env(**(extra or {}))
        base["PYTHONPATH"] = os.pathsep.join(
            os.path.abspath(entry) for entry in base.get("PYTHONPATH", "").split(os.pathsep)
            if entry)
        candidates = [dict(base)]
        debian_python = "/usr/lib/python%d.%d" % sys.version_info[:2]
        if (sys.version_info[0] == 3 and os.path.isdir(debian_python)
                and os.path.isdir(os.path.join(DEBIAN_DIST_PACKAGES, module))):
            env = dict(base)
            path = env.get("PYTHONPATH")
            env["PYTHONPATH"] = (path + os.pathsep if path else "") + DEBIAN_DIST_PACKAGES
            candidates.append(env)
        for env in candidates:
            code, out, err = run_python(["-c", probe], env=env)
            if code == 0:
                found = env
                break
        _debian_envs[key] = found
    return _debian_envs[key]


def run_readme_example(testcase, first_line):
    """Run the README's literal block that starts with *first_line* (there must be one) in a
    child interpreter, in a temporary directory; it must exit with status 0 and write
    nothing on stderr. Returns (its stdout, the text of the README's next literal block,
    which shows that output)."""
    import shutil
    import tempfile
    if TESTS_DIR not in sys.path:
        sys.path.insert(0, TESTS_DIR)
    from test_readme import README, literal_blocks
    with io.open(README, encoding="utf-8") as fp:
        blocks = literal_blocks(fp.read())
    index = [i for i, block in enumerate(blocks) if block.startswith(first_line)]
    testcase.assertEqual(len(index), 1, first_line)
    code, shown = blocks[index[0]], blocks[index[0] + 1]
    tmpdir = tempfile.mkdtemp()
    try:
        status, out, err = run_python(["-c", code], cwd=tmpdir)
    finally:
        shutil.rmtree(tmpdir)
    testcase.assertEqual((status, err), (0, ""))
    return out, shown


@contextlib.contextmanager
def captured(name):
    """Replace sys.stdout or sys.stderr by a text stream for the block."""
    saved = getattr(sys, name)
    stream = text_stream()
    setattr(sys, name, stream)
    try:
        yield stream
    finally:
        setattr(sys, name, saved)


def child_env(**extra):
    """Environment for a child interpreter that must import the same package."""
    env = dict(os.environ)
    env.pop("PYTRACEMALLOC", None)
    env.pop("PYTRACEMALLOC_SAMPLE", None)
    if INPLACE:
        path = env.get("PYTHONPATH")
        env["PYTHONPATH"] = MODULE_DIR + (os.pathsep + path if path else "")
    env.update(extra)
    return env


# A child interpreter that runs longer than this is killed, and the test sees it fail.
CHILD_TIMEOUT = 300


def run_python(args, executable=None, env=None, timeout=CHILD_TIMEOUT, **kwargs):
    """Run a Python interpreter; return (returncode, stdout, stderr) as native str.

    A child still running after *timeout* seconds is killed (returncode -9) and a line
    saying so ends its stderr, so that a hang fails the test instead of the whole suite."""
    proc = subprocess.Popen([executable or sys.executable] + list(args),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env if env is not None else child_env(), **kwargs)
    killed = []

    def kill():
        killed.append(True)
        try:
            proc.kill()
        except OSError:
            pass
    timer = threading.Timer(timeout, kill)
    timer.daemon = True
    timer.start()
    try:
        out, err = proc.communicate()
    finally:
        # Joined, not only cancelled: a timer thread still winding down would allocate
        # (frames, on 2.7 a polling wait) during the next test, whose exact counts and
        # free-list states it would disturb.
        timer.cancel()
        timer.join()
    if not PY2:
        out = out.decode("utf-8", "replace")
        err = err.decode("utf-8", "replace")
    if killed:
        err += "\n[run_python: killed after %d s]\n" % timeout
    return proc.returncode, out, err


def find_other_python():
    """An interpreter of the other major version (2 <-> 3), or None.

    When TRACEMALLOC_TEST_OTHER_PYTHON is set (tools/run-tests sets it), only that one;
    otherwise looked up on PATH, then in pyenv's versions.
    """
    candidates = _listed_interpreters("TRACEMALLOC_TEST_OTHER_PYTHON")
    if candidates is not None:
        for path in candidates:
            if not os.access(path, os.X_OK):
                raise RuntimeError("TRACEMALLOC_TEST_OTHER_PYTHON=%s is not an executable"
                                   % path)
        return candidates[0] if candidates else None
    candidates = []
    names = ["python3", "python3.13", "python3.11"] if PY2 else ["python2.7", "python2"]
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        for name in names:
            candidates.append(os.path.join(directory, name))
    pyenv_root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    versions = os.path.join(pyenv_root, "versions")
    if os.path.isdir(versions):
        for version in sorted(os.listdir(versions), reverse=True):
            if version.startswith("2.") == (not PY2):
                candidates.append(os.path.join(versions, version, "bin", "python"))
    want = 3 if PY2 else 2
    for path in candidates:
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            continue
        try:
            code, out, err = run_python(["-c", "import sys; print(sys.version_info[0])"],
                                        executable=path, env=dict(os.environ))
        except OSError:
            continue
        if code == 0 and out.strip() == str(want):
            return path
    return None
