"""A program with three leaks, five caches and noise, for find_leaks() and
``python -m tracemalloc --leaks`` (tests/python/test_leaks.py, the README's example).

    python leaky_program.py [--traces] [--ticks N] [--nframe N] [--format FORMAT] DIRECTORY

Each tick runs the work below, then TakeSnapshot.take_snapshot() writes
DIRECTORY/tracemalloc-PID-NNNN.pickle (NNNN: the tick, from 0001; DIRECTORY is created if
missing): 36 ticks by default, 20 ms apart. Each tick the program also takes a snapshot with
take_snapshot() and keeps it until the next tick, as a program that looks at its own memory
would. Python 2.7 and 3.x do the same work (a seeded random generator, used through random()
only, whose sequence is the same on both).

- leaks: steady (16 KiB every tick), slow (about 300 bytes every tick), stepped (64 KiB
  every 5 ticks);
- caches that fill, then plateau: an LRU-like dict of 300 entries, a list that stops at 500
  items, a memo of 150 results, a set of 400 names seen, a pool of 8 buffers;
- noise: a queue that rises for 15 ticks then drains, temporaries of random size kept
  until the next tick, a buffer cleared every 6 ticks, one spike of 512 KiB at tick 20.

Each leak and each cache allocates its memory on one line of its own, marked "# leak:" or
"# cache:"; the tests find the lines by their marks. It prints nothing.
"""
import os
import random
import sys
import time

import tracemalloc

STEADY = []
SLOW = []
STEPPED = []

LRU = {}
LRU_ORDER = []
RING = []
MEMO = {}
SEEN = set()
POOL = []

QUEUE = []
TEMPORARIES = []
SAWTOOTH = []
SPIKE = []

RNG = random.Random(20131008)


def lru_put(key):
    if key in LRU:
        return
    LRU_ORDER.append(key)
    if len(LRU_ORDER) > 300:
        del LRU[LRU_ORDER.pop(0)]
    LRU[key] = "entry %08d " % key * 8  # cache: LRU-like dict


def fib(n):
    if n < 2:
        return n
    entry = MEMO.get(n)
    if entry is None:
        entry = MEMO[n] = (fib(n - 1) + fib(n - 2), "fib(%d) " % n * 12)  # cache: memo
    return entry[0]


def tick(i):
    STEADY.append(bytearray(16 * 1024))  # leak: steady
    SLOW.append(" slow %06d" % i * 24)  # leak: slow
    if i % 5 == 4:
        STEPPED.append(bytearray(64 * 1024))  # leak: stepped

    for j in range(40):
        lru_put(i * 40 + j)
    if len(RING) < 500:
        RING.extend(["ring item %08d" % (i * 25 + j) for j in range(25)])  # cache: ring
    for j in range(10):
        fib(2 + (i * 10 + j) % 150)
    for j in range(100):
        SEEN.add("name %08d" % int(RNG.random() * 400))  # cache: names seen
    if len(POOL) < 8:
        POOL.append(bytearray(32 * 1024))  # cache: pool

    if i < 15:
        QUEUE.extend(bytearray(1024) for _ in range(20))
    else:
        del QUEUE[:20]
    del TEMPORARIES[:]
    TEMPORARIES.extend(bytearray(int(RNG.random() * 4096)) for _ in range(20))
    if i % 6 == 5:
        del SAWTOOTH[:]
    else:
        SAWTOOTH.append(bytearray(8 * 1024))
    if i == 20:
        SPIKE.append(bytearray(512 * 1024))
    elif i == 21:
        del SPIKE[:]


def main(argv):
    traces = "--traces" in argv
    args = [arg for arg in argv if arg != "--traces"]
    ticks = 36
    nframe = 1
    fmt = None
    while args and args[0].startswith("--"):
        option, value = args[0], args[1]
        del args[:2]
        if option == "--ticks":
            ticks = int(value)
        elif option == "--nframe":
            nframe = int(value)
        elif option == "--format":
            fmt = value
        else:
            sys.stderr.write("leaky_program: unknown option %s\n" % option)
            return 2
    if len(args) != 1:
        sys.stderr.write(__doc__)
        return 2
    directory = args[0]
    if not os.path.isdir(directory):
        os.makedirs(directory)
    tracemalloc.start(nframe)
    take = tracemalloc.TakeSnapshot(os.path.join(directory, "tracemalloc-$pid-$counter.pickle"))
    take.traces = traces
    take.format = fmt
    last = None
    for i in range(ticks):
        tick(i)
        take.take_snapshot()
        # The program looks at its own memory, and keeps what it saw until the next tick:
        # a snapshot it takes is traced, its list of traces lives at the package's lines
        # while the next one is taken, and it grows with the traces of the leaks.
        last = tracemalloc.take_snapshot()
        time.sleep(0.02)
    del last
    tracemalloc.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
