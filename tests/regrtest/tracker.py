"""The stress test's Track/Untrack caller beside CPython's regression tests.

run-subset --tracker imports this module in the regrtest process of its traced run, before
the suite starts, and calls start(COUNT_FILE): a daemon thread then calls
PyTraceMalloc_Track and PyTraceMalloc_Untrack through ctypes (which releases the GIL), with
load_track() of tests/python/data/stress_races.py (test_stress's races program), on blocks
of a domain of its own at addresses no allocator gives, in rounds of ROUND calls each, with
a pause of PAUSE seconds between rounds, while the tests run traced. At exit the thread is
stopped and joined, and the number of calls it made is written to COUNT_FILE: -1 where the
interpreter has no PyTraceMalloc_Track (2.7, whose patches do not add it), which starts no
thread. run-subset fails a run whose count is 0 or missing.
"""
from __future__ import absolute_import

import atexit
import os
import sys
import threading
import time

DOMAIN = 4243
BASE = 0x7E5700000000  # far from the heap and the mappings of x86-64 Linux
ROUND = 200
PAUSE = 0.002


def _load_track():
    data = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "python", "data")
    sys.path.insert(0, data)
    try:
        import stress_races
    finally:
        sys.path.remove(data)
    return stress_races.load_track()


def start(count_file):
    """Start the thread (if the interpreter has PyTraceMalloc_Track); True if started."""
    funcs = _load_track()
    state = {"calls": 0, "stop": False}

    def run(track, untrack):
        while not state["stop"]:
            for i in range(ROUND):
                track(DOMAIN, BASE + 64 * i, 64 + i)
            for i in range(ROUND):
                untrack(DOMAIN, BASE + 64 * i)
            state["calls"] += 2 * ROUND
            time.sleep(PAUSE)

    thread = None
    if funcs is not None:
        thread = threading.Thread(target=run, args=funcs, name="tracker")
        thread.daemon = True
        thread.start()

    def finish():
        if thread is not None:
            state["stop"] = True
            thread.join(10)
        with open(count_file, "w") as fp:
            fp.write("%d\n" % (state["calls"] if thread is not None else -1))

    atexit.register(finish)
    return thread is not None
