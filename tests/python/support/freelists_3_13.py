"""The free lists of Python 3.13, for test_freelists.py (see its docstring: the version data
module of Python 3.13, imported on 3.13 only).

patches/3.13/series.track hooks (0102-0114): the free lists of struct _Py_object_freelists
(tuples of 1 to 20 items, up to 2000 each; floats, 100; lists, dicts and dict keys, 80 each;
one slice; contexts, 255; async generator value wrappers and asend objects, 80 each; object
stack chunks, free-threaded build only), the MemoryError instances of the exception state
(16, preallocated at startup), the future iterators of _asyncio (255), the Bigints of dtoa.c,
the block cache of each collections.deque (16 blocks) and the call contexts of cProfile.

A kind below per free list whose objects Python code can keep alive one per line, with the
size sys.getsizeof() gives (the allocated block: the GC header included); the asend objects
are run to their end before they die (one never awaited warns). Tested by test_freelists
itself: the async generator value wrappers (a wrapper never outlives the yield:
AsyncGenValueWrapperTests), the Bigints of dtoa.c (DtoaTests), the cProfile contexts
(ProfilerContextTests) and the deque blocks (each deque keeps its own: DequeBlockTests). Not
tested: the object stack chunks, which only the free-threaded build uses (the default build
never calls _PyObjectStackChunk_New()).

The helpers allocate on known lines: the tests compute the line numbers from co_firstlineno
(line 2 of the body) and the filename from the function's code, so keep each body exactly as
it is.
"""
import contextvars
import sys

FLOAT_SIZE = sys.getsizeof(0.5)
TUPLE2_SIZE = sys.getsizeof((None, None))


# ------------------------------------------------------------------ allocating helpers

def make_keyed_dicts(holder, ks):
    for k in ks:
        holder[k] = {"a": k}


def make_slices(holder, ks, obj, a, b, c):
    for k in ks:
        holder[k] = obj[a:b:c]


def make_contexts(holder, ks, context):
    for k in ks:
        holder[k] = context()


def make_memory_errors(holder, ks, error):
    for k in ks:
        holder[k] = error()


def make_future_iters(holder, ks, future):
    for k in ks:
        holder[k] = iter(future)


def make_asends(holder, ks, agen):
    for k in ks:
        holder[k] = agen.asend(None)


async def _agen():
    while True:
        yield 1


def finish_asends(holder):
    """Run each asend awaitable to its end: one that was never awaited warns as it dies."""
    for asend in holder:
        try:
            asend.send(None)
        except StopIteration:
            pass


class Subscript(object):
    """obj[a:b:c] builds a slice (BUILD_SLICE) and returns it: a slice per line, and nothing
    else (the __getitem__ frame lives on the interpreter's data stack)."""

    def __getitem__(self, key):
        return key


def new_future():
    """A _asyncio.Future (its __iter__ is future_new_iter()); the loop is closed at once, the
    future only needs to be initialised."""
    import asyncio
    loop = asyncio.new_event_loop()
    try:
        return loop.create_future()
    finally:
        loop.close()


# ------------------------------------------------------------------ the version data

def kinds(Kind, gc_head, make):
    future = new_future()
    agen = _agen()
    asend = agen.asend(None)
    finish_asends([asend])
    return [
        Kind("tuple", make["make_tuples"], (None,), 1000, 2100, sys.getsizeof((None,) * 7)),
        Kind("float", make["make_floats"], (0.5,), 100, 150, FLOAT_SIZE),
        Kind("list", make["make_lists"], (), 60, 100, sys.getsizeof([])),
        Kind("dict", make["make_dicts"], (), 60, 100, sys.getsizeof({})),
        # the dict and its keys block (unicode keys of the minimum size): two free lists
        Kind("dict_keys", make_keyed_dicts, (), 60, 100, sys.getsizeof({"a": 0}), count=2),
        Kind("slice", make_slices, (Subscript(), 1, 2, 3), 1, 3, sys.getsizeof(slice(1, 2, 3))),
        Kind("context", make_contexts, (contextvars.Context,), 200, 300,
             sys.getsizeof(contextvars.Context())),
        Kind("memoryerror", make_memory_errors, (MemoryError,), 16, 20,
             sys.getsizeof(MemoryError())),
        Kind("future_iter", make_future_iters, (future,), 200, 300,
             sys.getsizeof(iter(future))),
        Kind("async_gen_asend", make_asends, (agen,), 60, 100, sys.getsizeof(asend),
             finish=finish_asends),
    ]


SCENARIO_C = (("tuple", 200), ("float", 100), ("dict", 40), ("dict_keys", 40), ("list", 40),
              ("context", 100), ("memoryerror", 16), ("future_iter", 100),
              ("async_gen_asend", 40))


def check_stale_a(test, tuples, floats):
    # The 2000 2-tuples and the 100 floats the free lists keep stay charged to the lines that
    # built them (measured on the plain variant: a child starts with empty lists).
    test.assertEqual(tuples, (2000 * TUPLE2_SIZE, 2000))
    test.assertEqual(floats, (100 * FLOAT_SIZE, 100))


def check_stale_d(test, n, stats):
    # One trace per float from the allocator, none for the (up to 100) floats reused from the
    # free list filled before tracing started.
    test.assertEqual(stats[0], stats[1] * FLOAT_SIZE)
    test.assertTrue(n - 100 <= stats[1] < n, stats)
