"""Write the snapshot files of tests/python/data (the tests only read them).

    python make_fixtures.py stock DIR     # a STOCK Python 3 (its own tracemalloc module)
    python make_fixtures.py ours DIR      # Python 2.7 or 3 with our package importable

Every file holds the snapshot of RAW_TRACES (traceback limit 3) with the attributes
test_attr = "new" and extra = EXTRA, except the "real" one. Files made:

- stock: stock-X.Y.pickle (Snapshot.dump() of the stock module: pickle protocol 5 on
  3.8+), stock-X.Y-real.pickle (take_snapshot() of this script's own allocations),
  stock-3.5-layout.pickle and stock-3.8-layout.pickle (the traces as those versions stored
  them, (size, traceback) and (domain, size, traceback), with protocol 4 as they used);
- ours: pyN-compact.tms, pyN-pickle.pickle, pyN-stdlib.pickle (the three formats of
  Snapshot.write(), N the major version) and, with Python 2, py2-v1.pickle (the format of
  pytracemalloc 1.0.0.dev0: statistics only).

The fixtures were made with pyenv's stock 3.11.7 and 3.13.0 and with the patched 2.7.18 and
3.11.2 of build-aux/python-build. pyN-compact.tms are of version 1 of the compact format,
written before version 2: keep them (the tests load them as files of an earlier version);
the current writer's files are made by the tests themselves.
"""
from __future__ import absolute_import

import os
import pickle
import sys

PY2 = sys.version_info[0] == 2
NAME = u"/tmp/\xe9t\xe9.py"
if PY2:
    NAME = NAME.encode("utf-8")

RAW_TRACES = [
    (0, 10, (("a.py", 2), ("b.py", 4)), 3),
    (0, 10, (("a.py", 2), ("b.py", 4)), 3),
    (1, 2, (("a.py", 5), ("b.py", 4)), 3),
    (2, 66, (("b.py", 1),), 1),
    (3, 7, (("<unknown>", 0),), 1),
    (0, 2 ** 40, ((NAME, 7),), 1),
]
EXTRA = [1, 2.5, None, ("x", {"k": [True, -3]})]


def stock(directory):
    import tracemalloc
    assert not hasattr(tracemalloc, "DisplayTop"), "not the stock module"
    version = "%d.%d" % sys.version_info[:2]
    snapshot = tracemalloc.Snapshot(list(RAW_TRACES), 3)
    snapshot.test_attr = "new"
    snapshot.extra = EXTRA
    snapshot.dump(os.path.join(directory, "stock-%s.pickle" % version))

    tracemalloc.start(4)
    data = [bytes(100 + index) for index in range(20)]  # noqa: F841
    real = tracemalloc.take_snapshot()
    tracemalloc.stop()
    real = real.filter_traces([tracemalloc.Filter(True, os.path.abspath(__file__))])
    assert len(real.traces) >= 20, len(real.traces)
    real.dump(os.path.join(directory, "stock-%s-real.pickle" % version))

    for name, traces in (("3.5", [trace[1:3] for trace in RAW_TRACES]),
                         ("3.8", [trace[:3] for trace in RAW_TRACES])):
        old = tracemalloc.Snapshot(traces, 3)
        old.test_attr = "new"
        old.extra = EXTRA
        with open(os.path.join(directory, "stock-%s-layout.pickle" % name), "wb") as fp:
            pickle.dump(old, fp, 4)


def ours(directory):
    import tracemalloc
    assert hasattr(tracemalloc, "DisplayTop"), "not pytracemalloc"
    prefix = "py%d" % sys.version_info[0]
    snapshot = tracemalloc.Snapshot(list(RAW_TRACES), 3, timestamp="2013-03-04 01:01:55",
                                    pid=4242, process_memory=10485760, tracemalloc_memory=5,
                                    user_data=[("Video memory", "size", 234902)])
    snapshot.test_attr = "new"
    snapshot.extra = EXTRA
    for fmt, ext in (("compact", "tms"), ("pickle", "pickle"), ("stdlib", "pickle")):
        snapshot.write(os.path.join(directory, "%s-%s.%s" % (prefix, fmt, ext)), format=fmt)
    if PY2:
        v1 = {"format": "pytracemalloc.snapshot", "version": 1, "pid": 4242,
              "timestamp": "2013-03-04 01:01:55", "stats": snapshot.stats,
              "process_memory": 10485760, "tracemalloc_memory": None,
              "user_data": [("Video memory", "size", 234902)]}
        with open(os.path.join(directory, "py2-v1.pickle"), "wb") as fp:
            fp.write(pickle.dumps(v1, 2))


if __name__ == "__main__":
    {"stock": stock, "ours": ours}[sys.argv[1]](sys.argv[2])
