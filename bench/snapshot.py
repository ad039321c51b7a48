"""Measure snapshot files and statistics on many traces (not a test: prints figures).

    python bench/snapshot.py [--traces N] [--nframe N] [--real]

Builds N raw traces shaped like the engine's (tracebacks shared, 2000 files, 20000
distinct tracebacks of up to --nframe frames; with --real, the traces of this process
after importing a few modules under tracing, repeated up to N), then times:

- write and load of each file format (compact, pickle, stdlib), and the file sizes;
- Snapshot.statistics() per key type, cumulative or not, compare_to() and filter_traces()
  with the engine's C loops and with the Python loops (the stdlib algorithm).

Run it with PYTHONPATH pointing to a build's check-lib (or TRACEMALLOC_TEST_INPLACE=1 for
the Python loops only).
"""
from __future__ import absolute_import, print_function

import os
import random
import sys
import tempfile
import time

# tmsupport chooses the package (installed, or module/ with TRACEMALLOC_TEST_INPLACE) and
# the engine (a fake one when the real one is missing), as in the tests.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "tests", "python", "support"))
import tmsupport  # noqa: E402
from tmsupport import tracemalloc  # noqa: E402


def synthetic_traces(count, nframe, seed=1):
    rng = random.Random(seed)
    files = ["/usr/lib/python3/%s/module%d.py" % (rng.choice("abcdefgh"), index)
             for index in range(2000)]
    frames = [(rng.choice(files), rng.randint(1, 3000)) for _ in range(30000)]
    tracebacks = [tuple(rng.choice(frames) for _ in range(rng.randint(1, nframe)))
                  for _ in range(20000)]
    traces = []
    for _ in range(count):
        frames_ = rng.choice(tracebacks)
        traces.append((rng.choice((0, 0, 0, 1)), rng.choice((16, 32, 48, 64, 100, 1000, 4096)),
                       frames_, len(frames_) + rng.randint(0, 3)))
    return traces


def real_traces(count, nframe):
    tracemalloc.start(nframe)
    import email.parser  # noqa: F401
    import json  # noqa: F401
    import xml.dom.minidom  # noqa: F401
    data = [dict((str(i), [i] * 3) for i in range(200)) for _ in range(200)]  # noqa: F841
    traces = tracemalloc._get_traces()
    tracemalloc.stop()
    result = []
    while len(result) < count:
        result.extend(traces[:count - len(result)])
    return result


def timed(func, repeat=1):
    best = None
    for _ in range(repeat):
        start = time.time()
        result = func()
        elapsed = time.time() - start
        best = elapsed if best is None else min(best, elapsed)
    return best, result


def main(argv):
    count = 1000000
    nframe = 5
    real = False
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg == "--traces":
            count = int(args.pop(0))
        elif arg == "--nframe":
            nframe = int(args.pop(0))
        elif arg == "--real":
            real = True
    traces = real_traces(count, nframe) if real else synthetic_traces(count, nframe)
    print("Python %s, %d traces (%s), engine %s" % (
        sys.version.split()[0], len(traces), "real" if real else "synthetic",
        "fake" if tmsupport.USING_FAKE_ENGINE else tracemalloc._engine.PATCH_VARIANT))
    snapshot = tracemalloc.Snapshot(traces, nframe)
    snapshot._checked = True
    tmpdir = tempfile.mkdtemp()
    try:
        for fmt in ("compact", "pickle", "stdlib"):
            path = os.path.join(tmpdir, "snap." + fmt)
            write_time, _ = timed(lambda: snapshot.dump(path, format=fmt))
            load_time, loaded = timed(lambda: tracemalloc.Snapshot.load(path))
            assert loaded.traces == snapshot.traces
            print("format %-8s size %6.1f MB  dump %5.2f s  load %5.2f s" % (
                fmt, os.path.getsize(path) / 1e6, write_time, load_time))
    finally:
        for name in os.listdir(tmpdir):
            os.unlink(os.path.join(tmpdir, name))
        os.rmdir(tmpdir)

    old = tracemalloc.Snapshot(traces[:len(traces) // 2], nframe)
    filters = [tracemalloc.Filter(False, "*/a/*"), tracemalloc.Filter(True, "*/module1*.py"),
               tracemalloc.Filter(True, "*/b/*", all_frames=True),
               tracemalloc.DomainFilter(False, 1)]
    cases = [("statistics %s%s" % (key, " cumulative" if cumulative else ""),
              lambda key=key, cumulative=cumulative: snapshot.statistics(key, cumulative))
             for key in ("filename", "lineno", "traceback") for cumulative in (False, True)
             if not (cumulative and key == "traceback")]
    cases.append(("compare_to lineno", lambda: snapshot.compare_to(old, "lineno")))
    cases.append(("filter_traces (4 filters)", lambda: snapshot.filter_traces(filters)))
    has_c = hasattr(tracemalloc._engine, "group_traces")
    for name, func in cases:
        tracemalloc._USE_C_STATS = False
        py_time, py_result = timed(func)
        if has_c:
            tracemalloc._USE_C_STATS = True
            c_time, c_result = timed(func)
            same = (c_result == py_result if not isinstance(c_result, tracemalloc.Snapshot)
                    else c_result.traces == py_result.traces)
            print("%-30s Python %6.2f s  C %6.2f s  x%5.1f  %s" % (
                name, py_time, c_time, py_time / max(c_time, 1e-6),
                "same result" if same else "DIFFERENT RESULT"))
        else:
            print("%-30s Python %6.2f s" % (name, py_time))
    tracemalloc._USE_C_STATS = True
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
