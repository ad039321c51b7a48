"""The races program of test_stress (run in a child with a time limit, so that a deadlock
fails the test instead of hanging it): 8 threads allocate, free, resize, track and untrack
blocks (PyTraceMalloc_Track/Untrack through ctypes, which releases the GIL, where the
interpreter has them) and create and destroy subinterpreters (3.11 and 3.13), while the main
thread starts and stops tracing with different traceback limits, takes snapshots, clears the
traces, resets the peak, asks for object tracebacks and runs timers.

Usage: stress_races.py OPERATIONS [SEED]: OPERATIONS per thread (bounded by operations, not
by time). At the end tracing runs, the traced memory must equal the sum of every trace's size
(all domains), and the program prints one JSON line with what it did; the exit status is 0
only when every check held."""
from __future__ import absolute_import

import gc
import json
import random
import sys
import threading
import time

import tracemalloc
from tracemalloc import _engine

NTHREADS = 8
TRACK_DOMAIN = 4242
LIMITS = (1, 3, 10, 25, 100)


def load_track():
    """(track, untrack) of the interpreter through ctypes.CDLL (calls release the GIL), or
    None where there is no PyTraceMalloc_Track for this engine (2.7, a stock interpreter)."""
    if sys.version_info[0] < 3 or _engine.PATCH_VARIANT == "stock":
        return None
    import ctypes
    libc = ctypes.CDLL(None)
    track = libc.PyTraceMalloc_Track
    track.restype = ctypes.c_int
    track.argtypes = [ctypes.c_uint, ctypes.c_size_t, ctypes.c_size_t]
    untrack = libc.PyTraceMalloc_Untrack
    untrack.restype = ctypes.c_int
    untrack.argtypes = [ctypes.c_uint, ctypes.c_size_t]
    return track, untrack


def load_subinterpreters():
    """(create, run, destroy) of the private module of subinterpreters, or None (2.7)."""
    for name in ("_interpreters", "_xxsubinterpreters"):
        try:
            module = __import__(name)
        except ImportError:
            continue
        return module.create, module.run_string, module.destroy
    return None


class Worker(threading.Thread):
    def __init__(self, index, operations, seed, track, subinterpreters):
        threading.Thread.__init__(self, name="stress-%d" % index)
        self.index = index
        self.operations = operations
        self.random = random.Random(seed * 100 + index)
        self.track = track
        self.subinterpreters = subinterpreters
        self.counts = {}
        self.error = None
        self.progress = 0
        self.held = []  # kept to the end, so that the final check has traces to add up

    def count(self, what):
        self.counts[what] = self.counts.get(what, 0) + 1

    def run(self):
        try:
            self.work()
        except Exception as exc:  # reported by the main thread
            self.error = "%s: %r" % (self.name, exc)

    def work(self):
        rand = self.random
        held = self.held
        growing = bytearray()
        tracked = set()
        base = 0x10000000 * (self.index + 1)
        for op in range(self.operations):
            self.progress = op
            if op % 64 == 63:
                time.sleep(0)  # 2.7's GIL would leave the main thread few turns
            kind = rand.random()
            if kind < 0.35:
                held.append(b"s" * rand.randint(1, 3000))
                held.append([op] * rand.randint(0, 50))
                self.count("allocate")
            elif kind < 0.55:
                for _ in range(min(len(held), rand.randint(1, 6))):
                    del held[rand.randrange(len(held))]
                self.count("free")
            elif kind < 0.70:
                growing.extend(b"r" * rand.randint(1, 4096))
                if len(growing) > 200000:
                    growing = bytearray()
                self.count("realloc")
            elif kind < 0.95 and self.track is not None:
                track, untrack = self.track
                address = base + 16 * rand.randrange(256)
                if address in tracked and rand.random() < 0.5:
                    result = untrack(TRACK_DOMAIN, address)
                    tracked.discard(address)
                    self.count("untrack")
                else:
                    result = track(TRACK_DOMAIN, address, rand.randint(1, 1000))
                    tracked.add(address)
                    self.count("track")
                # 0 while tracing, -2 while not: the main thread stops and starts it.
                if result not in (0, -2):
                    raise AssertionError("PyTraceMalloc_(Un)Track returned %d" % result)
            elif kind >= 0.95 and self.subinterpreters is not None and self.index < 2 \
                    and self.counts.get("subinterpreter", 0) < self.operations // 200 + 1:
                create, run, destroy = self.subinterpreters
                interp = create()
                try:
                    run(interp, "data = [str(i) * 3 for i in range(300)]\ndel data\n")
                finally:
                    destroy(interp)
                self.count("subinterpreter")
            else:
                held.append({op: str(op)})
                self.count("allocate")
            if len(held) > 400:
                del held[:200]
        self.progress = self.operations


def timer_tick(ticks):
    ticks.append(tracemalloc.get_traced_memory()[0])


def consistent():
    """(traced, sum of the traces' sizes), read with tracing suspended in this thread and the
    garbage collector off, so that nothing of this thread enters or leaves the traces between
    the reads; (None, None) when nothing stays still (which the test reports)."""
    _engine.suspend()
    try:
        for _ in range(20):
            before = _engine.get_traced_memory()[0]
            total = sum(trace[1] for trace in _engine.get_traces())
            after = _engine.get_traced_memory()[0]
            if before == after:
                return before, total
        return None, None
    finally:
        _engine.resume()


def main():
    operations = int(sys.argv[1])
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    rand = random.Random(seed)
    track = load_track()
    subinterpreters = load_subinterpreters()
    ticks = []
    counts = {}

    def count(what):
        counts[what] = counts.get(what, 0) + 1

    tracemalloc.start(25)
    workers = [Worker(i, operations, seed, track, subinterpreters) for i in range(NTHREADS)]
    for worker in workers:
        worker.start()
    snapshots = []
    probe = [b"p" * 100]
    timer = None
    # The main thread makes 100 operations at least, so that each kind comes, even where the
    # threads ended first (2.7 on loaded cores: a dozen turns of the main thread, no restart).
    while any(worker.is_alive() for worker in workers) or sum(counts.values()) < 100:
        # In the last tenth, no restart or clear: the final check then adds up the traces of
        # blocks the threads allocated while everything else went on.
        # (and not before the main thread made 100 operations: each kind then comes)
        ending = (min(worker.progress for worker in workers) * 10 >= operations * 9
                  and sum(counts.values()) >= 100)
        kind = rand.random()
        if ending and kind < 0.38:
            kind += 0.38
        if kind < 0.10:
            tracemalloc.stop()
            timer = None
            tracemalloc.start(rand.choice(LIMITS))
            count("restart")
        elif kind < 0.15:
            # start() while tracing changes the limit only
            tracemalloc.start(rand.choice(LIMITS))
            count("limit")
        elif kind < 0.30:
            snapshots.append(tracemalloc.take_snapshot())
            del snapshots[:-2]
            count("snapshot")
        elif kind < 0.38:
            tracemalloc.clear_traces()
            count("clear")
        elif kind < 0.46:
            tracemalloc.reset_peak()
            current, peak = tracemalloc.get_traced_memory()
            count("reset_peak")
        elif kind < 0.65:
            probe.append(b"q" * rand.randint(1, 500))
            tracemalloc.get_object_traceback(probe[-1])
            tracemalloc.get_object_traceback(rand.choice(probe))
            del probe[1:-50]
            count("object_traceback")
        elif kind < 0.75:
            # one timer at a time, started and stopped here; stop() ends it too
            if timer is None or rand.random() < 0.3:
                tracemalloc.stop_timer(timer)
                timer = tracemalloc.start_timer(0.0005, timer_tick, (ticks,))
                count("timer")
            junk = [str(i) for i in range(200)]
            del junk
        elif kind < 0.80:
            _engine.get_peak_traces()
            count("peak_traces")
        elif kind < 0.85:
            _engine.get_stats()
            count("stats")
        else:
            junk = [b"m" * rand.randint(1, 1000) for _ in range(20)]
            del junk
            count("allocate")
        # a stop() just above may have ended every timer: restart tracing regularly
        if not tracemalloc.is_tracing():
            tracemalloc.start(25)
            timer = None
    for worker in workers:
        worker.join()
    # A timer's callback is traced even in a suspended thread: none may fire during the check.
    tracemalloc.stop_timer(None)
    errors = [worker.error for worker in workers if worker.error]
    if not tracemalloc.is_tracing():
        tracemalloc.start(25)
    gc.collect()
    gc.disable()
    traced, total = consistent()
    lost = _engine.get_lost_traces()
    for worker in workers:
        for what, n in worker.counts.items():
            counts["thread " + what] = counts.get("thread " + what, 0) + n
    result = {"errors": errors, "traced": traced, "sum": total, "lost": lost,
              "counts": counts, "timer_ticks": len(ticks),
              "track": track is not None, "subinterpreters": subinterpreters is not None}
    tracemalloc.stop()
    sys.stdout.write(json.dumps(result, sort_keys=True) + "\n")
    return 0 if not errors and traced == total and traced and lost == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
