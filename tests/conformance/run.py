"""Run CPython's own tests of tracemalloc against our package, on a patched 3.11 or 3.13.

    python tests/conformance/run.py [--python PY] [--lib DIR] [--work DIR] [--keep]
                                    [--exceptions FILE] [TEST ...]

The tests are taken from the pristine release tarball (Lib/test of Python-X.Y.Z.tgz or .tar.xz
in the cache, ~/.cache/pytracemalloc/tarballs or $PYTRACEMALLOC_CACHE/tarballs), not from
the interpreter's installation: test_tracemalloc and the other tests that exercise
tracemalloc (see TESTS). They run through regrtest (``python -m test``) with an "overlay"
of the interpreter: a directory with a hard link (or copy) of its binary and a
lib/pythonX.Y made of symbolic links to its standard library, except that ``tracemalloc``
is our package (--lib/tracemalloc, as built by ``make``, with the engine) and ``test`` is
the pristine Lib/test. So the child processes the tests start with ``-I`` or ``-E`` (which
ignore PYTHONPATH) import our package too, and nothing of the cached interpreter changes.

Each failure must be listed in tests/conformance/exceptions.txt (version, variant, test id,
subtest parameters, a regex of the failure's message, reason; see its header): a failure
of the same test with other subtest parameters or another message is not excused. README.rst
lists the exceptions with the test of our own covering the same behaviour. The output is
TAP for `make check` (automake's tap-driver.sh), with a human line beside each: a line per
test as each module's results are read ("ok N TEST-ID", "ok N TEST-ID # SKIP REASON", "ok N
... (excused by exceptions.txt line L)" for a listed failure, "not ok N ..." for an unlisted
failure or error), the plan "1..N" at the end and a comment "# N passed, N failed, N
skipped". These are failures too ("not ok", one each):
- regrtest's exit status not explained by the failures it had: a crash or a kill (negative
  status, or still running after MODULE_LIMIT seconds), a changed environment (it runs with
  --fail-env-changed: exit status 3), a failure status with no failed test in its output,
  any other non-zero status, no final "Tests result" line;
- a JUnit file that lists fewer test cases than regrtest says it ran, or no JUnit file;
- an exception that excused no failure, when the whole default list of tests ran (stale).

Exit status: 0 if nothing failed unexpectedly, 1 otherwise. When the interpreter is not one
to run them with (Python 2, a version other than 3.11/3.13, a stock interpreter: its stock
engine would answer -X tracemalloc) the plan is "1..0 # SKIP REASON" (automake: SKIP), exit
status 0. No engine built in --lib, an interpreter that does not run, a package that does
not import and no tarball in the cache skip too, unless TRACEMALLOC_TEST_REQUIRE_ENGINE is
set (make check sets it) or TRACEMALLOC_TEST_EXPECT is: then they are failures (exit status
1, one "not ok" line). TRACEMALLOC_TEST_EXPECT=VERSION:VARIANT (e.g. 3.11.2:track) is what
the interpreter must be: another version or PATCH_VARIANT is a failure.

Defaults: --python $TRACEMALLOC_TEST_PYTHON or this interpreter; --lib the PYTHONPATH
entry holding tracemalloc/_engine*; --work ./conformance-work; --exceptions
tests/conformance/exceptions.txt.
"""
from __future__ import absolute_import, print_function

import glob
import os
import re
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ElementTree

HERE = os.path.dirname(os.path.abspath(__file__))
# regrtest --timeout: the limit of one test; and the limit of one regrtest run (killed).
TEST_TIMEOUT = 900
MODULE_LIMIT = 1800

# The tests to run per minor version: CPython's tests that exercise tracemalloc.
TESTS = {
    "3.11": ["test_tracemalloc", "test_warnings", "test_capi.test_misc", "test_sys",
             "test_support", "test_embed"],
    "3.13": ["test_tracemalloc", "test_warnings", "test_capi.test_misc", "test_capi.test_mem",
             "test_sys", "test_support", "test_embed", "test_inspect"],
}

# The probe run by the target interpreter (with --lib on its path): one line of facts.
PROBE = r"""
import sys, sysconfig
v = sys.version_info
try:
    import tracemalloc
    variant = tracemalloc._engine.PATCH_VARIANT
    package = tracemalloc.__file__
except Exception as exc:
    variant = "none"
    package = "%s: %s" % (type(exc).__name__, exc)
print("%d.%d.%d|%s|%s|%s|%s" % (v[0], v[1], v[2], variant, sysconfig.get_paths()["stdlib"],
                                 sys.executable, package))
"""


# TAP on stdout: a line per test as its module's results are read, the plan at the end.
_tap_count = [0]


def tap(ok, description, directive=""):
    """One TAP line: "ok N DESCRIPTION", "not ok N ..." or "ok N ... # SKIP REASON"."""
    _tap_count[0] += 1
    print("%s %d %s%s" % ("ok" if ok else "not ok", _tap_count[0],
                          " ".join(description.split()).replace("#", "_"),
                          " # " + " ".join(directive.split()) if directive else ""))
    sys.stdout.flush()


def skip(reason):
    """The suite does not apply here: an empty plan with the reason (automake: SKIP)."""
    print("1..0 # SKIP %s" % " ".join(reason.split()))
    sys.stdout.flush()
    return 0


def fail(reason):
    print("1..1")
    tap(False, reason)
    return 1


def strict():
    """The reason why the conformance tests must run here (missing engine, interpreter,
    package or tarball are failures, not skips), or None."""
    if os.environ.get("TRACEMALLOC_TEST_REQUIRE_ENGINE"):
        return "TRACEMALLOC_TEST_REQUIRE_ENGINE is set"
    if os.environ.get("TRACEMALLOC_TEST_EXPECT"):
        return "TRACEMALLOC_TEST_EXPECT=%s" % os.environ["TRACEMALLOC_TEST_EXPECT"]
    return None


def skip_or_fail(reason):
    """A skip (77), or a failure when strict() says the tests must run."""
    why = strict()
    if why:
        return fail("%s (%s: a failure, not a skip)" % (reason, why))
    return skip(reason)


def find_lib(path):
    for entry in (path or "").split(os.pathsep):
        if entry and glob.glob(os.path.join(entry, "tracemalloc", "_engine*")):
            return os.path.abspath(entry)
    return None


def find_tarball(version):
    cache = os.environ.get("PYTRACEMALLOC_CACHE") or os.path.expanduser(
        "~/.cache/pytracemalloc")
    for ext in ("tgz", "tar.xz"):
        path = os.path.join(cache, "tarballs", "Python-%s.%s" % (version, ext))
        if os.path.isfile(path):
            return path
    return None


class Exception_(object):
    """One accepted failure of exceptions.txt."""

    def __init__(self, version, variant, test_id, lineno):
        self.version, self.variant, self.test_id = version, variant, test_id
        self.lineno = lineno
        self.subtest = self.message = self.reason = None
        self.pattern = None

    def matches(self, failure):
        return (failure.test_id == self.test_id and failure.subtest == self.subtest
                and self.pattern.search(failure.text) is not None)

    def __str__(self):
        return "%s%s" % (self.test_id, " (%s)" % self.subtest if self.subtest else "")


def read_exceptions(version, variant, path=None):
    """The exceptions of exceptions.txt for this X.Y and variant ("*" matches any): a list of
    Exception_. Raises ValueError on a malformed file."""
    path = path or os.path.join(HERE, "exceptions.txt")
    records = []
    current = None
    with open(path) as fp:
        for lineno, line in enumerate(fp, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            if not line[0].isspace():
                fields = line.split()
                if len(fields) != 3:
                    raise ValueError("%s:%d: expected MINOR VARIANT TEST-ID, got %r"
                                     % (path, lineno, line))
                current = Exception_(fields[0], fields[1], fields[2], lineno)
                records.append(current)
                continue
            key, sep, value = line.strip().partition(":")
            if current is None or not sep or key not in ("subtest", "message", "reason"):
                raise ValueError("%s:%d: expected an indented 'subtest:', 'message:' or "
                                 "'reason:' line after a MINOR VARIANT TEST-ID line, got %r"
                                 % (path, lineno, line))
            if getattr(current, key) is not None:
                raise ValueError("%s:%d: a second %r line for %s" % (path, lineno, key,
                                                                    current.test_id))
            setattr(current, key, value.strip())
    for record in records:
        for key in ("subtest", "message", "reason"):
            if not getattr(record, key):
                raise ValueError("%s:%d: %s has no %r line" % (path, record.lineno,
                                                               record.test_id, key))
        if record.subtest == "none":
            record.subtest = ""
        try:
            record.pattern = re.compile(record.message, re.M | re.S)
        except re.error as exc:
            raise ValueError("%s:%d: bad message regex %r: %s" % (path, record.lineno,
                                                                  record.message, exc))
    return [record for record in records
            if record.version in ("*", version) and record.variant in ("*", variant)]


def extract_tests(python, tarball, version, work):
    """Extract Lib/test of *tarball* once into work/Python-VERSION-test; return it."""
    target = os.path.join(work, "Python-%s-test" % version)
    if os.path.isdir(os.path.join(target, "test")):
        return os.path.join(target, "test")
    tmp = target + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    code = ("import sys, tarfile\n"
            "prefix = 'Python-%s/Lib/test/'\n"
            "with tarfile.open(sys.argv[1]) as tar:\n"
            "    members = [m for m in tar.getmembers() if m.name.startswith(prefix)]\n"
            "    for m in members:\n"
            "        m.name = 'test/' + m.name[len(prefix):]\n"
            "    kwargs = {'filter': 'data'} if hasattr(tarfile, 'data_filter') else {}\n"
            "    tar.extractall(sys.argv[2], members, **kwargs)\n" % version)
    subprocess.check_call([python, "-c", code, tarball, tmp])
    shutil.rmtree(target, ignore_errors=True)
    os.rename(tmp, target)
    return os.path.join(target, "test")


def build_overlay(python, stdlib, lib, tests, work, minor):
    """The overlay prefix: returns the path of its interpreter."""
    overlay = os.path.join(work, "overlay-%s" % minor)
    shutil.rmtree(overlay, ignore_errors=True)
    bindir = os.path.join(overlay, "bin")
    libdir = os.path.join(overlay, "lib", "python%s" % minor)
    os.makedirs(bindir)
    os.makedirs(libdir)
    real = os.path.realpath(python)
    exe = os.path.join(bindir, "python%s" % minor)
    try:
        os.link(real, exe)
    except OSError:  # another file system
        shutil.copy2(real, exe)
    os.symlink("python%s" % minor, os.path.join(bindir, "python3"))
    os.symlink("python%s" % minor, os.path.join(bindir, "python"))
    prefix = os.path.dirname(os.path.dirname(os.path.dirname(stdlib)))
    for name in ("include", "share"):
        if os.path.isdir(os.path.join(prefix, name)):
            os.symlink(os.path.join(prefix, name), os.path.join(overlay, name))
    for name in os.listdir(stdlib):
        if name in ("tracemalloc", "tracemalloc.py", "test", "__pycache__"):
            continue
        os.symlink(os.path.join(stdlib, name), os.path.join(libdir, name))
    os.symlink(os.path.join(lib, "tracemalloc"), os.path.join(libdir, "tracemalloc"))
    os.symlink(tests, os.path.join(libdir, "test"))
    return exe


SEPARATOR1 = "=" * 70
SEPARATOR2 = "-" * 70
# unittest's header of a failure: "FAIL: test_x (test.test_m.Class.test_x) (nframe=-1)"
FAILURE_HEADER = re.compile(r"^(FAIL|ERROR): (\w+) \(([\w.]+)\)(.*)$")


class Failure(object):
    """One failure or error: its test id, its subtest parameters ("" outside a subtest)
    and its text (the traceback and what the test printed with it)."""

    def __init__(self, test_id, subtest, kind, text):
        self.test_id, self.subtest, self.kind, self.text = test_id, subtest, kind, text

    def summary(self):
        """The first line of the exception that ended the test."""
        for line in self.text.splitlines():
            if line and not line[0].isspace() and not line.startswith("Traceback "):
                return line
        return self.kind

    def __str__(self):
        return "%s%s" % (self.test_id, " (%s)" % self.subtest if self.subtest else "")


def test_id_of(name, qualified):
    test_id = qualified if qualified.endswith("." + name) else qualified + "." + name
    return test_id if test_id.startswith("test.") else "test." + test_id


def subtest_of(suffix):
    suffix = suffix.strip()
    if suffix.startswith("(") and suffix.endswith(")"):
        return suffix[1:-1]
    return suffix


def parse_log(text):
    """What regrtest's verbose output says: a dict with "failures" (the FAIL:/ERROR: blocks
    of unittest, one per failed test or subtest), "ran" (the number of tests it says it ran,
    None if it says nothing), "result" (its last "Tests result:"/"Result:" line, None if
    it did not get there), "env_changed" (a reason or None) and "skipped" (the reason
    given when the whole module was skipped, or None)."""
    lines = text.splitlines()
    failures = []
    index = 1
    while index < len(lines) - 1:
        match = FAILURE_HEADER.match(lines[index])
        if match and lines[index - 1] == SEPARATOR1 and lines[index + 1] == SEPARATOR2:
            end = index + 2
            while end < len(lines) and lines[end] not in (SEPARATOR1, SEPARATOR2):
                end += 1
            failures.append(Failure(test_id_of(match.group(2), match.group(3)),
                                    subtest_of(match.group(4)), match.group(1),
                                    "\n".join(lines[index + 2:end]).strip("\n")))
            index = end
        else:
            index += 1
    ran = None
    totals = re.findall(r"^Total tests: run=([\d,]+)", text, re.M)  # 3.13
    if totals:
        ran = int(totals[-1].replace(",", ""))
    else:
        counts = re.findall(r"^Ran (\d+) tests? in ", text, re.M)  # unittest (3.11)
        if counts:
            ran = int(counts[-1])
    results = re.findall(r"^(?:== )?(?:Tests r|R)esult: (.*?)(?: ==)?$", text, re.M)
    env_changed = None
    match = re.search(r"^.*(?:failed \(env changed\)|Warning -- .* was modified by ).*$",
                      text, re.M)
    if match:
        env_changed = match.group(0).strip()
    elif results and "ENV CHANGED" in results[-1]:
        env_changed = "Tests result: %s" % results[-1]
    skipped = re.search(r"^(?:[\d:]+ load avg: [\d.]+ )?(test[\w.]*) skipped -- (.*)$",
                        text, re.M)
    return {"failures": failures, "ran": ran, "result": results[-1] if results else None,
            "env_changed": env_changed,
            "skipped": skipped.group(2).strip() if skipped else None}


def parse_junit(junit):
    """(number of test cases, {test id: (status, message)}, [Failure]) of regrtest's JUnit
    file, or None when there is none. Status is "passed", "failed" or "skipped". regrtest
    3.11 writes an empty <testcase/> (no name) for a test whose subtests failed: it counts
    as a test case, and the verbose log names it."""
    if not os.path.exists(junit):
        return None
    root = ElementTree.parse(junit).getroot()
    cases = 0
    statuses = {}
    failures = []
    for case in root.iter("testcase"):
        cases += 1
        name = case.get("name")
        if not name:
            continue
        test_id = name if name.startswith("test.") else "test." + name
        status, message = "passed", ""
        for child in case:
            text = (child.get("message") or "") + "\n" + (child.text or "")
            if child.tag in ("failure", "error"):
                status = "failed"
                failures.append(Failure(test_id, "", child.tag.upper(), text.strip()))
            elif child.tag == "skipped" and status != "failed":
                status, message = "skipped", text.strip()
        statuses[test_id] = (status, " ".join(message.splitlines()[:1]))
    return cases, statuses, failures


def run_limited(cmd, log, env, cwd, limit):
    """Run *cmd* with its output in *log*: its exit status (negative: killed by a signal),
    or None when it was still running after *limit* seconds (then killed)."""
    with open(log, "wb") as fp:
        proc = subprocess.Popen(cmd, stdout=fp, stderr=subprocess.STDOUT, env=env, cwd=cwd)
        deadline = time.time() + limit
        while proc.poll() is None:
            if time.time() > deadline:
                proc.kill()
                proc.wait()
                return None
            time.sleep(0.2)
        return proc.returncode


def check_module(name, status, junit, log, exceptions, used, label):
    """The counts of one regrtest run of module *name*: {"cases", "passed", "excepted",
    "failed", "skipped"}; prints a line per failure, accepted failure and problem. *used*
    receives the exceptions that excused a failure."""
    with open(log, "rb") as fp:
        info = parse_log(fp.read().decode("utf-8", "replace"))
    junit_info = parse_junit(junit)
    counts = {"cases": 0, "passed": 0, "excepted": 0, "failed": 0, "skipped": 0}
    problems = []
    failures = list(info["failures"])
    if junit_info is None:
        cases, statuses = 0, {}
    else:
        cases, statuses, junit_failures = junit_info
        logged = set(failure.test_id for failure in failures)
        failures += [failure for failure in junit_failures if failure.test_id not in logged]
    counts["cases"] = cases
    failed_ids = set(failure.test_id for failure in failures)
    for test_id, (result, message) in sorted(statuses.items()):
        if test_id not in failed_ids:
            counts[result] += 1
            # (tests/driver/tally compares the skips with tests/expected-skips)
            tap(True, test_id, "SKIP " + (message or "(no reason)")
                if result == "skipped" else "")
    for failure in failures:
        matching = [exc for exc in exceptions if exc.matches(failure)]
        if matching:
            used.update(matching)
            counts["excepted"] += 1
            print("%s   EXCEPTED %s: %s" % (label, failure, matching[0].reason))
            tap(True, "%s (excused by exceptions.txt line %d)" % (failure, matching[0].lineno))
            continue
        counts["failed"] += 1
        same_test = [exc for exc in exceptions if exc.test_id == failure.test_id]
        hint = ""
        if same_test:
            hint = " (not excused: exceptions.txt accepts %s with a message matching %r)" % (
                ", ".join("subtest %r" % exc.subtest if exc.subtest else "no subtest"
                          for exc in same_test), same_test[0].message)
        print("%s   FAILED %s: %s%s" % (label, failure, failure.summary(), hint))
        tap(False, "%s: %s%s" % (failure, failure.summary(), hint))

    module_skipped = (not failures and not statuses and info["skipped"] and status == 0)
    if module_skipped:
        counts["skipped"] += 1
        print("%s   SKIPPED %s: %s" % (label, name, info["skipped"]))
        tap(True, name, "SKIP " + info["skipped"])
    if junit_info is None:
        problems.append("regrtest wrote no JUnit file")
    if info["ran"] is None:
        if not module_skipped:
            problems.append("regrtest did not say how many tests it ran")
    elif cases < info["ran"]:
        problems.append("the JUnit file lists %d test cases, regrtest ran %d"
                        % (cases, info["ran"]))
    if status is None:
        problems.append("killed after %d s" % MODULE_LIMIT)
    elif status < 0:
        problems.append("regrtest was killed by signal %d" % -status)
    elif info["result"] is None:
        problems.append("regrtest did not finish (no 'Tests result' line), exit status %d"
                        % status)
    elif info["env_changed"] or status == 3:
        problems.append("the test changed the environment (regrtest exit status %d): %s"
                        % (status, info["env_changed"] or info["result"]))
    elif status == 2:
        # A failed test: acceptable only when each failure it had is accepted.
        if not failures:
            problems.append("regrtest exit status 2 (%s) but no failed test in its output"
                            % info["result"])
        elif info["result"] != "FAILURE":
            problems.append("regrtest exit status 2 with the result %r" % info["result"])
    elif status != 0:
        problems.append("regrtest exit status %d (%s)" % (status, info["result"]))
    elif info["result"] != "SUCCESS":
        problems.append("regrtest exit status 0 with the result %r" % info["result"])
    for problem in problems:
        print("%s   FAILED %s: %s" % (label, name, problem))
        tap(False, "%s: %s" % (name, problem))
    counts["failed"] += len(problems)
    return counts


def main(argv):
    args = list(argv)
    python = os.environ.get("TRACEMALLOC_TEST_PYTHON") or sys.executable
    lib = None
    work = os.path.abspath("conformance-work")
    keep = False
    tests = []
    exceptions_file = None
    while args:
        arg = args.pop(0)
        if arg == "--python":
            python = args.pop(0)
        elif arg == "--lib":
            lib = os.path.abspath(args.pop(0))
        elif arg == "--work":
            work = os.path.abspath(args.pop(0))
        elif arg == "--exceptions":
            exceptions_file = os.path.abspath(args.pop(0))
        elif arg == "--keep":
            keep = True
        elif arg in ("-h", "--help"):
            print(__doc__)
            return 0
        else:
            tests.append(arg)
    expect = os.environ.get("TRACEMALLOC_TEST_EXPECT")
    if expect and not re.match(r"^\d+\.\d+\.\d+:\w+$", expect):
        return fail("TRACEMALLOC_TEST_EXPECT=%s: expected VERSION:VARIANT, e.g. 3.11.2:track"
                    % expect)
    if lib is None:
        lib = find_lib(os.environ.get("PYTHONPATH"))
    if lib is None or not glob.glob(os.path.join(lib, "tracemalloc", "_engine*")):
        return skip_or_fail("no built engine %s: pass --lib DIR (DIR/tracemalloc/_engine*), "
                            "e.g. the check-lib directory of a build"
                            % ("in --lib %s" % lib if lib else "on PYTHONPATH"))

    env = dict(os.environ)
    for name in ("PYTHONPATH", "PYTRACEMALLOC", "PYTHONTRACEMALLOC", "PYTHONHOME",
                 "PYTHONMALLOC", "PYTHONWARNINGS", "PYTHONDEVMODE", "MALLOC_CHECK_",
                 "MALLOC_PERTURB_", "PYTHONFAULTHANDLER"):
        env.pop(name, None)
    probe_env = dict(env, PYTHONPATH=lib)
    try:
        out = subprocess.check_output([python, "-c", PROBE], env=probe_env)
        version, variant, stdlib, executable, package = \
            out.decode("utf-8", "replace").strip().split("|", 4)
    except (OSError, subprocess.CalledProcessError, ValueError) as exc:
        return skip_or_fail("cannot run %s: %s" % (python, exc))
    if expect and expect != "%s:%s" % (version, variant):
        return fail("TRACEMALLOC_TEST_EXPECT=%s but %s is CPython %s, PATCH_VARIANT '%s'%s"
                    % (expect, python, version, variant,
                       " (%s)" % package if variant == "none" else ""))
    if variant == "none":
        return skip_or_fail("%s cannot import the package of %s: %s" % (python, lib, package))
    minor = ".".join(version.split(".")[:2])
    if minor not in TESTS:
        return skip("CPython %s: the conformance tests are those of the stdlib tracemalloc "
                    "of a patched 3.11 or 3.13" % version)
    if variant == "stock":
        return skip("CPython %s is not patched (PATCH_VARIANT 'stock'): -X tracemalloc, "
                    "PYTHONTRACEMALLOC and the C API would use the stock engine; build a "
                    "patched one (build-aux/python-build --version %s)" % (version, version))
    tarball = find_tarball(version)
    if tarball is None:
        return skip_or_fail("no Python-%s tarball in the cache: build-aux/python-build "
                            "--version %s fetches it" % (version, version))
    try:
        exceptions = read_exceptions(minor, variant, exceptions_file)
    except (IOError, OSError, ValueError) as exc:
        return fail("exceptions file: %s" % exc)

    if not os.path.isdir(work):
        os.makedirs(work)
    test_dir = extract_tests(executable, tarball, version, work)
    exe = build_overlay(executable, stdlib, lib, test_dir, work, minor)
    check = subprocess.check_output(
        [exe, "-I", "-c", "import tracemalloc, sys; print(tracemalloc.__file__)"], env=env)
    if not check.decode().strip().startswith(os.path.join(lib, "tracemalloc")) and \
            os.path.realpath(check.decode().strip()) != os.path.realpath(
                os.path.join(lib, "tracemalloc", "__init__.py")):
        return fail("the overlay imports %s, not the package under test"
                    % check.decode().strip())

    label = "[%s %s]" % (version, variant)
    print("%s %s, tests from %s, package %s" % (label, executable, tarball, lib))
    passed = failed = skipped = 0
    used = set()
    for name in tests or TESTS[minor]:
        junit = os.path.join(work, "junit-%s-%s.xml" % (minor, name))
        if os.path.exists(junit):
            os.unlink(junit)
        tmpdir = os.path.join(work, "tmp-%s" % minor)
        shutil.rmtree(tmpdir, ignore_errors=True)
        os.makedirs(tmpdir)
        log = os.path.join(work, "log-%s-%s.txt" % (minor, name))
        status = run_limited([exe, "-m", "test", "-v", "--fail-env-changed", "--timeout",
                              str(TEST_TIMEOUT), "--tempdir", tmpdir, "--junit-xml", junit,
                              name], log, env, tmpdir, MODULE_LIMIT)
        counts = check_module(name, status, junit, log, exceptions, used, label)
        print("%s %s: ran %d, passed %d, excepted %d, failed %d, skipped %d (exit status %s, "
              "log: %s)" % (label, name, counts["cases"], counts["passed"],
                            counts["excepted"], counts["failed"], counts["skipped"],
                            "none: killed" if status is None else status, log))
        passed += counts["passed"] + counts["excepted"]
        failed += counts["failed"]
        skipped += counts["skipped"]
    for exc in exceptions:
        if exc in used:
            continue
        if not tests:
            # The whole default list ran: an exception that did not fail is stale.
            failed += 1
            print("%s   FAILED stale exception %s (exceptions.txt line %d): it did not fail "
                  "with a message matching %r; remove or correct it"
                  % (label, exc, exc.lineno, exc.message))
            tap(False, "stale exception %s (exceptions.txt line %d)" % (exc, exc.lineno))
        elif any(exc.test_id.startswith("test.%s." % name) for name in tests):
            print("%s   note: the exception %s (exceptions.txt line %d) did not fail"
                  % (label, exc, exc.lineno))
    if not keep:
        shutil.rmtree(os.path.join(work, "overlay-%s" % minor), ignore_errors=True)
    print("1..%d" % _tap_count[0])
    print("# %d passed, %d failed, %d skipped" % (passed, failed, skipped))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
