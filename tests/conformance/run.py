"""Run CPython's own tests of tracemalloc against our package, on a patched 3.11 or 3.13.

    python tests/conformance/run.py [--python PY] [--lib DIR] [--work DIR] [--keep]
                                    [TEST ...]

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
reason); README.rst lists them with the test of our own covering the same behaviour. The
output ends with a line "N passed, N failed, N skipped": a test that passed, a listed
failure ("excepted", counted as passed and shown), an unlisted failure or error, a skipped
test. Exit status: 0 if nothing failed unexpectedly, 1 otherwise, 77 (skipped, for
automake) when the interpreter cannot run them: Python 2, a version other than 3.11/3.13,
a stock interpreter (PATCH_VARIANT "stock": its stock engine would answer -X tracemalloc),
no tarball, or no engine built in --lib.

Defaults: --python $TRACEMALLOC_TEST_PYTHON or this interpreter; --lib the PYTHONPATH
entry holding tracemalloc/_engine*; --work ./conformance-work.
"""
from __future__ import absolute_import, print_function

import glob
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ElementTree

HERE = os.path.dirname(os.path.abspath(__file__))
SKIP = 77

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


def skip(reason):
    print("SKIP: %s" % reason)
    print("0 passed, 0 failed, 1 skipped")
    sys.stdout.flush()
    return SKIP


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


def read_exceptions(version, variant):
    """{test id: reason} of exceptions.txt for this X.Y and variant ("*" matches any)."""
    result = {}
    with open(os.path.join(HERE, "exceptions.txt")) as fp:
        for line in fp:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            fields = line.split(None, 3)
            if len(fields) < 4:
                continue
            ex_version, ex_variant, test_id, reason = fields
            if ex_version in ("*", version) and ex_variant in ("*", variant):
                result[test_id] = reason
    return result


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


def parse_results(junit, log):
    """[(test id, status, message)] of one regrtest run; status is "passed", "failed" or
    "skipped". The JUnit file lists the tests; regrtest leaves subtest failures out of it,
    so the "FAIL:"/"ERROR:" headers of the verbose log are read too."""
    results = {}
    order = []
    if os.path.exists(junit):
        root = ElementTree.parse(junit).getroot()
        for case in root.iter("testcase"):
            name = case.get("name", "")
            test_id = name if name.startswith("test.") else "test." + name
            status, message = "passed", ""
            for child in case:
                if child.tag in ("failure", "error"):
                    status, message = "failed", (child.get("message") or child.text or "")
                elif child.tag == "skipped":
                    status, message = "skipped", (child.get("message") or child.text or "")
            if test_id not in results:
                order.append(test_id)
            results[test_id] = (status, " ".join(message.strip().splitlines()[:1]))
    if os.path.exists(log):
        with open(log, "rb") as fp:
            text = fp.read().decode("utf-8", "replace")
        for match in re.finditer(r"^(?:FAIL|ERROR): (\w+) \(([\w.]+)\)(.*)$", text, re.M):
            test_id = match.group(2)
            if not test_id.endswith("." + match.group(1)):
                test_id += "." + match.group(1)
            if not test_id.startswith("test."):
                test_id = "test." + test_id
            if test_id not in results:
                order.append(test_id)
            previous = results.get(test_id, ("", ""))
            detail = match.group(3).strip() or previous[1]
            if previous[0] == "failed" and previous[1]:
                detail = previous[1]
            results[test_id] = ("failed", detail)
    return [(test_id,) + results[test_id] for test_id in order]


def main(argv):
    args = list(argv)
    python = os.environ.get("TRACEMALLOC_TEST_PYTHON") or sys.executable
    lib = None
    work = os.path.abspath("conformance-work")
    keep = False
    tests = []
    while args:
        arg = args.pop(0)
        if arg == "--python":
            python = args.pop(0)
        elif arg == "--lib":
            lib = os.path.abspath(args.pop(0))
        elif arg == "--work":
            work = os.path.abspath(args.pop(0))
        elif arg == "--keep":
            keep = True
        elif arg in ("-h", "--help"):
            print(__doc__)
            return 0
        else:
            tests.append(arg)
    if lib is None:
        lib = find_lib(os.environ.get("PYTHONPATH"))
    if lib is None or not glob.glob(os.path.join(lib, "tracemalloc", "_engine*")):
        return skip("no built engine: pass --lib DIR (DIR/tracemalloc/_engine*), e.g. the "
                    "check-lib directory of a build")

    env = dict(os.environ)
    for name in ("PYTHONPATH", "PYTRACEMALLOC", "PYTHONTRACEMALLOC", "PYTHONHOME",
                 "PYTHONMALLOC", "PYTHONWARNINGS", "PYTHONDEVMODE", "MALLOC_CHECK_",
                 "MALLOC_PERTURB_"):
        env.pop(name, None)
    probe_env = dict(env, PYTHONPATH=lib)
    try:
        out = subprocess.check_output([python, "-c", PROBE], env=probe_env)
    except (OSError, subprocess.CalledProcessError) as exc:
        return skip("cannot run %s: %s" % (python, exc))
    version, variant, stdlib, executable, package = \
        out.decode("utf-8", "replace").strip().split("|", 4)
    minor = ".".join(version.split(".")[:2])
    if minor not in TESTS:
        return skip("CPython %s: the conformance tests are those of the stdlib tracemalloc "
                    "of a patched 3.11 or 3.13" % version)
    if variant == "none":
        return skip("%s cannot import the package of %s: %s" % (python, lib, package))
    if variant == "stock":
        return skip("CPython %s is not patched (PATCH_VARIANT 'stock'): -X tracemalloc, "
                    "PYTHONTRACEMALLOC and the C API would use the stock engine; build a "
                    "patched one (build-aux/python-build --version %s)" % (version, version))
    tarball = find_tarball(version)
    if tarball is None:
        return skip("no Python-%s tarball in the cache: build-aux/python-build --version %s "
                    "fetches it" % (version, version))

    if not os.path.isdir(work):
        os.makedirs(work)
    test_dir = extract_tests(executable, tarball, version, work)
    exe = build_overlay(executable, stdlib, lib, test_dir, work, minor)
    check = subprocess.check_output(
        [exe, "-I", "-c", "import tracemalloc, sys; print(tracemalloc.__file__)"], env=env)
    if not check.decode().strip().startswith(os.path.join(lib, "tracemalloc")) and \
            os.path.realpath(check.decode().strip()) != os.path.realpath(
                os.path.join(lib, "tracemalloc", "__init__.py")):
        print("the overlay imports %s, not the package under test" % check.decode().strip())
        return 1

    exceptions = read_exceptions(minor, variant)
    label = "[%s %s]" % (version, variant)
    print("%s %s, tests from %s, package %s" % (label, executable, tarball, lib))
    passed = failed = skipped = 0
    seen_exceptions = set()
    for name in tests or TESTS[minor]:
        junit = os.path.join(work, "junit-%s-%s.xml" % (minor, name))
        if os.path.exists(junit):
            os.unlink(junit)
        tmpdir = os.path.join(work, "tmp-%s" % minor)
        shutil.rmtree(tmpdir, ignore_errors=True)
        os.makedirs(tmpdir)
        log = os.path.join(work, "log-%s-%s.txt" % (minor, name))
        with open(log, "wb") as fp:
            status = subprocess.call([exe, "-m", "test", "-v", "--timeout", "900",
                                      "--tempdir", tmpdir, "--junit-xml", junit, name],
                                     stdout=fp, stderr=subprocess.STDOUT, env=env, cwd=tmpdir)
        results = parse_results(junit, log)
        counts = {"passed": 0, "excepted": 0, "failed": 0, "skipped": 0}
        for test_id, result, message in results:
            if result == "failed":
                if test_id in exceptions:
                    seen_exceptions.add(test_id)
                    counts["excepted"] += 1
                    print("%s   EXCEPTED %s: %s" % (label, test_id, exceptions[test_id]))
                else:
                    counts["failed"] += 1
                    print("%s   FAILED %s: %s" % (label, test_id, message))
            else:
                counts[result] += 1
        if not results:
            counts["failed"] += 1
            print("%s   %s did not run (exit status %d): see %s" % (label, name, status, log))
        print("%s %s: ran %d, passed %d, excepted %d, failed %d, skipped %d (log: %s)"
              % (label, name, len(results), counts["passed"], counts["excepted"],
                 counts["failed"], counts["skipped"], log))
        passed += counts["passed"] + counts["excepted"]
        failed += counts["failed"]
        skipped += counts["skipped"]
    for test_id in sorted(set(exceptions) - seen_exceptions):
        if not tests:
            print("%s   note: the exception %s did not fail (fixed? remove it from "
                  "exceptions.txt)" % (label, test_id))
    if not keep:
        shutil.rmtree(os.path.join(work, "overlay-%s" % minor), ignore_errors=True)
    print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
