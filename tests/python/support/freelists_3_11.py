"""The free lists of CPython 3.11 for test_freelists.py (its docstring describes this module).

The make_* helpers allocate on line 2 of their body (the tests compute the line from
co_firstlineno and take the filename from the code): keep each body exactly as it is.

Hooked by patches/3.11/series.track and reachable from Python here: float, tuple, list,
dict (the object), dict keys (the keys block of a dict of str keys, minimal size), slice
(the cache of one), contextvars.Context, the async generator asend awaitable, MemoryError,
and asyncio's future iterator. Tested by test_freelists itself: the blocks of
collections.deque (a free list per deque: DequeBlockTests), the async generator value wrapper
(it lives between the wrapping and the yield: AsyncGenValueWrapperTests), the Bigint pools of
dtoa.c (DtoaTests) and the call contexts of _lsprof (ProfilerContextTests).
"""
import contextvars
import sys

POINTER_SIZE = tuple.__itemsize__


# ------------------------------------------------------------------ allocating helpers

def make_keyed_dicts(holder, ks, key):
    for k in ks:
        holder[k] = {key: k}


def make_slices(holder, ks, a):
    for k in ks:
        holder[k] = slice(a, k)


def make_contexts(holder, ks):
    for k in ks:
        holder[k] = contextvars.Context()


def make_asends(holder, ks, agen):
    for k in ks:
        holder[k] = agen.asend(None)


def make_memory_errors(holder, ks, cls):
    for k in ks:
        holder[k] = cls()


def make_future_iters(holder, ks, future):
    for k in ks:
        holder[k] = future.__await__()


async def _agen():
    yield 1


def _future_iter_class():
    try:
        import _asyncio
    except ImportError:
        return None
    return _asyncio


def kinds(Kind, gc_head, make):
    result = [
        Kind("tuple", make["make_tuples"], (None,), 1000, 2100, sys.getsizeof((None,) * 7)),
        Kind("float", make["make_floats"], (0.5,), 100, 150, sys.getsizeof(0.5)),
        Kind("list", make["make_lists"], (), 60, 100, sys.getsizeof([])),
        # an empty dict has no keys block of its own (the shared empty keys)
        Kind("dict", make["make_dicts"], (), 60, 100, sys.getsizeof({})),
        # a dict of one str key: the dict (from its free list) and its keys block (from
        # the keys free list); sys.getsizeof() counts both and the GC header
        Kind("dict_keys", make_keyed_dicts, ("a",), 60, 100, sys.getsizeof({"a": 0}),
             count=2),
        # the cache keeps one slice
        Kind("slice", make_slices, (None,), 1, 2, sys.getsizeof(slice(None, 0))),
        Kind("context", make_contexts, (), 200, 300, sys.getsizeof(contextvars.Context())),
        Kind("memory_error", make_memory_errors, (MemoryError,), 10, 20,
             gc_head + MemoryError.__basicsize__),
    ]
    agen = _agen()
    result.append(Kind("async_gen_asend", make_asends, (agen,), 60, 100,
                       sys.getsizeof(agen.asend(None))))
    asyncio = _future_iter_class()
    if asyncio is not None:
        import asyncio as aio
        loop = aio.new_event_loop()
        future = asyncio.Future(loop=loop)
        it = future.__await__()
        result.append(Kind("future_iter", make_future_iters, (future,), 200, 300,
                           sys.getsizeof(it)))
        del it
        loop.close()
    return result


# (c): at most the capacity of each list
SCENARIO_C = (("tuple", 200), ("float", 100), ("list", 40), ("dict", 40),
              ("context", 100), ("async_gen_asend", 40), ("future_iter", 100))


TUPLE2_SIZE = sys.getsizeof((None, None))
FLOAT_SIZE = sys.getsizeof(0.5)


def check_stale_a(test, tuples, floats):
    # Without hooks (plain, stock), the 2000 2-tuples that the tuple free list keeps stay
    # traced on the line that built them, and so do the 100 floats of the float free list.
    test.assertEqual(tuples, (2000 * TUPLE2_SIZE, 2000))
    test.assertEqual(floats, (100 * FLOAT_SIZE, 100))


def check_stale_d(test, n, stats):
    # Without hooks, the floats reused from the free list are not traced: only the new
    # ones are, one trace each (3.11 allocates one block per float).
    test.assertTrue(stats is not None and stats[1] < n, stats)
    test.assertEqual(stats[0], stats[1] * FLOAT_SIZE, stats)
