"""Free lists under tracing, and the three patch variants (doc/internals.rst, "Free-list hooks
and variants").

A free list keeps the memory of dead objects to build later objects without calling the
allocator, so an allocator hook alone sees neither the death nor the reuse. Without free-list
hooks (our "plain" variant; the stock tracemalloc of Python 3 behaves alike) a tracer:

  (a) counts the objects sitting on free lists as live, at the line that last built them;
  (b) charges a reused block to the line that first allocated it;
  (c) never traces an object reused from a free list filled before tracing started;
  (d) does not capture exactly one traceback per new object (the stock 3.x engine captures a
      second one for every new object; 2.7's plain variant captures one per int or float
      *block* and none for a reused object).

The "track" variant calls push/pop hooks from every free list; the "disabled" variant has no
free lists at all. The tests:

- FixedTests: (a)-(d) asserting the exact behaviour. They need the track variant and skip on
  the others; TRACEMALLOC_TEST_FREELIST_ANY_VARIANT=1 runs them anyway (to see them fail on
  plain).
- DefectTests: (a)-(d) on every variant, asserting what that variant does: exact on track and
  disabled, the stale numbers on plain. They fail if plain stops showing the defect too.
- FreeListTests: one test per hooked free list of this Python version (track only): the push
  (the trace goes, the block is parked with its size) and the pop (traced at the line of the
  reuse with the size a new object has), and get_object_traceback() of the reused object.
- VariantTests: the variant the engine reports is the interpreter's.

Every test is skipped when the fake engine of tmsupport is in use. The machinery (Kind,
FreeListTests.check(), the scenarios) is version-neutral; what differs between versions comes
from a version data module: Py27Data below for 2.7, support/freelists_3_11.py and
support/freelists_3_13.py for 3.x. A version data module provides:

  kinds(Kind, gc_head, make) a list of Kind, one per free list reachable from Python; make
                             holds this module's make_tuples, make_floats, make_lists and
                             make_dicts, for the lists every version has
                             (FreeListTests gets a test_<name> per kind);
  SCENARIO_C                 (kind name, n) pairs for (c), n at most the list's capacity;
  check_stale_a(test, tuples, floats)
                             what (a) shows without free-list hooks (plain, stock);
  check_stale_d(test, n, stats)
                             the same for (d).

The helpers allocate on known lines: the tests compute the line numbers from co_firstlineno
(line 2 of the body) and the filename from the function's code, so keep each body exactly as
it is.
"""
from __future__ import absolute_import

import collections
import gc
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "support"))
import tmsupport  # noqa: E402 (must come first: chooses the package and the engine)
from tmsupport import tracemalloc  # noqa: E402

engine = tmsupport.REAL_ENGINE
VARIANT = engine.PATCH_VARIANT if engine is not None else None
PY2 = sys.version_info[0] == 2
VERSION = sys.version_info[:2]
ANY_VARIANT = bool(os.environ.get("TRACEMALLOC_TEST_FREELIST_ANY_VARIANT"))
POINTER_SIZE = tuple.__itemsize__
# The GC header in front of every GC object (and the pre-header, on 3.12+; a tuple has none).
GC_HEAD = sys.getsizeof(()) - tuple.__basicsize__
if PY2:
    irange = xrange  # noqa: F821 (Python 2 only)
else:
    irange = range

# Without hooks a free list behaves like this on these variants ("stock": an unpatched 3.x).
STALE_VARIANTS = ("plain", "stock")
TUPLE2_SIZE = sys.getsizeof((None, None))
FLOAT_SIZE = sys.getsizeof(0.5)

needs_engine = unittest.skipIf(tmsupport.USING_FAKE_ENGINE, tmsupport.SKIP_REASON)
needs_track = unittest.skipUnless(
    VARIANT == "track" or ANY_VARIANT,
    "needs the 'track' variant (free-list hooks); this interpreter is %r: DefectTests check "
    "what it does (TRACEMALLOC_TEST_FREELIST_ANY_VARIANT=1 runs this test anyway)" % VARIANT)


# ------------------------------------------------------------------ allocating helpers
# Each make_* function allocates one object per item of ks into holder, on its line 2 (the
# second line of its body): iterating over a list of existing ints and storing into an
# existing list allocate nothing else.

def make_tuples(holder, ks, a):
    for k in ks:
        holder[k] = (a, a, a, a, a, a, a)


def make_floats(holder, ks, b):
    for k in ks:
        holder[k] = k + b


def make_ints(holder, ks, b):
    for k in ks:
        holder[k] = k + b


def make_strings(holder, ks, a, b):
    for k in ks:
        holder[k] = a + b


def make_lists(holder, ks):
    for k in ks:
        holder[k] = []


def make_dicts(holder, ks):
    for k in ks:
        holder[k] = {}


def make_sets(holder, ks):
    for k in ks:
        holder[k] = set()


def make_frozensets(holder, ks, s):
    for k in ks:
        holder[k] = frozenset(s)


def make_methods(holder, ks, obj):
    for k in ks:
        holder[k] = obj.method


def make_cfunctions(holder, ks, obj):
    for k in ks:
        holder[k] = obj.append


def make_generators(holder, ks):
    for k in ks:
        holder[k] = generator()


def make_own_generators(holder, ks, functions):
    for k in ks:
        holder[k] = functions[k]()


def make_deques(holder, ks):
    for k in ks:
        holder[k] = collections.deque()


def generator():
    yield 1


class WithMethod(object):
    def method(self):
        pass


def line_of(func):
    """The allocating line of a make_* function."""
    return func.__code__.co_firstlineno + 2


FILENAME = make_tuples.__code__.co_filename


def frame_block(code):
    """The block of a frame of code: GC header + _PyObject_VAR_SIZE(&PyFrame_Type, extras)."""
    frame_type = type(sys._getframe())
    extras = (code.co_stacksize + code.co_nlocals + len(code.co_cellvars)
              + len(code.co_freevars))
    size = frame_type.__basicsize__ + extras * frame_type.__itemsize__
    return GC_HEAD + ((size + POINTER_SIZE - 1) & ~(POINTER_SIZE - 1))


OWN_GENERATOR = "def own_generator():\n    yield 1\n"


def functions_with_own_code(count):
    """count generator functions, each with a code object of its own, hence a zombie frame of
    its own. (A generator keeps its frame alive without keeping its caller's frame alive.)"""
    functions = []
    for _ in irange(count):
        namespace = {}
        exec(compile(OWN_GENERATOR, "<freelist-test>", "exec"), namespace)
        functions.append(namespace["own_generator"])
    return functions


# ------------------------------------------------------------------ the free lists

class Kind(object):
    """One free list, exercised through a make_* function.

    n objects at a time; drain: how many to keep alive first so that the free list is empty
    (its capacity and then some; 0 for an unbounded list); size, count: what one object
    allocates on the make_* line (bytes, blocks), as a new object would; parked, parked_count:
    what one dead object puts onto free lists. block_object(obj) is the object whose block is
    reused (get_object_traceback() looks it up), key(obj) tells reused blocks apart.
    finish(holder), if given, is called on every batch before it is dropped, outside the
    measures of the parked memory (for objects that must not die as they are, such as the
    asend awaitables of 3.13 that were never awaited: they warn).
    """

    def __init__(self, name, make, args, n, drain, size, count=1, parked=None,
                 parked_count=None, block_object=None, key=id, finish=None):
        self.name = name
        self.make = make
        self.args = args
        self.n = n
        self.drain = drain
        self.size = size
        self.count = count
        self.parked = size if parked is None else parked
        self.parked_count = count if parked_count is None else parked_count
        self.block_object = block_object or (lambda obj: obj)
        self.key = key
        self.finish = finish or (lambda holder: None)
        self.line = line_of(make)
        self.filename = make.__code__.co_filename


def fill(kind, holder, ks):
    """holder[k] = a new object of kind, for k in ks."""
    kind.make(holder, ks, *kind.args)


def _kinds_27(Kind, gc_head, make):
    strings = (u"a", u"b")            # short: the free list keeps the buffer too
    long_strings = (u"abcde", u"fghij")  # KEEPALIVE_SIZE_LIMIT (9) characters or more
    string_object = type(u"").__basicsize__
    gen_frame = frame_block(generator.__code__)
    own_code = compile(OWN_GENERATOR, "<freelist-test>", "exec").co_consts[0]
    own_frame = frame_block(own_code)
    deque_block = sys.getsizeof(collections.deque()) - collections.deque.__basicsize__ - gc_head
    return [
        Kind("tuple", make_tuples, (None,), 1000, 2100, sys.getsizeof((None,) * 7)),
        Kind("float", make_floats, (0.5,), 1000, 0, sys.getsizeof(0.5)),
        Kind("int", make_ints, (10 ** 6,), 1000, 0, sys.getsizeof(10 ** 6)),
        Kind("unicode", make_strings, strings, 500, 1100,
             sys.getsizeof(strings[0] + strings[1]), count=2),
        Kind("unicode_long", make_strings, long_strings, 500, 1100,
             sys.getsizeof(long_strings[0] + long_strings[1]), count=2,
             parked=string_object, parked_count=1),
        Kind("list", make_lists, (), 60, 100, sys.getsizeof([])),
        Kind("dict", make_dicts, (), 60, 100, sys.getsizeof({})),
        Kind("set", make_sets, (), 60, 100, sys.getsizeof(set())),
        Kind("frozenset", make_frozensets, (set([1]),), 60, 100,
             sys.getsizeof(frozenset([1]))),
        Kind("method", make_methods, (WithMethod(),), 200, 300,
             sys.getsizeof(WithMethod().method)),
        Kind("cfunction", make_cfunctions, ([],), 200, 300, sys.getsizeof([].append)),
        Kind("frame", make_generators, (), 100, 250, sys.getsizeof(generator()) + gen_frame,
             count=2, parked=gen_frame, parked_count=1,
             block_object=lambda gen: gen.gi_frame, key=lambda gen: id(gen.gi_frame)),
        Kind("zombie_frame", make_own_generators, (functions_with_own_code(100),), 100, 250,
             sys.getsizeof(generator()) + own_frame, count=2, parked=own_frame,
             parked_count=1, block_object=lambda gen: gen.gi_frame,
             key=lambda gen: id(gen.gi_frame)),
        Kind("deque_block", make_deques, (), 8, 12, sys.getsizeof(collections.deque()),
             count=2, parked=deque_block, parked_count=1, key=None),
    ]


def _check_stale_a_27(test, tuples, floats):
    # the 2000 2-tuples of the free list stay charged to the line that built them, and so
    # does every float block that line needed
    test.assertEqual(tuples, (2000 * TUPLE2_SIZE, 2000))
    test.assertTrue(floats is not None and floats[1] >= 1, floats)
    test.assertEqual(floats[0] % floats[1], 0)
    test.assertTrue(floats[0] // floats[1] > 40 * FLOAT_SIZE, floats)  # whole blocks


def _check_stale_d_27(test, n, stats):
    # no trace (floats from the free list) or one per new block of floats
    test.assertTrue(stats[1] < n // 40 + 1, stats)


class Py27Data(object):
    """The version data of Python 2.7 (see the module's docstring)."""
    kinds = staticmethod(_kinds_27)
    SCENARIO_C = (("tuple", 200), ("float", 200), ("dict", 40), ("method", 100))
    check_stale_a = staticmethod(_check_stale_a_27)
    check_stale_d = staticmethod(_check_stale_d_27)


def _version_data():
    if PY2:
        return Py27Data, None
    name = "freelists_%d_%d" % VERSION
    try:
        return __import__(name), None
    except ImportError as exc:
        return None, "no version data module support/%s.py for Python %d.%d (%s)" % (
            (name,) + VERSION + (exc,))


DATA, NO_DATA = _version_data()
# the helpers that the version data modules share with 2.7
COMMON_MAKE = dict(make_tuples=make_tuples, make_floats=make_floats, make_lists=make_lists,
                   make_dicts=make_dicts)
KINDS = (dict((kind.name, kind) for kind in DATA.kinds(Kind, GC_HEAD, COMMON_MAKE))
         if DATA else {})
needs_data = unittest.skipIf(DATA is None, NO_DATA)
# Kinds that drain the frame free list with generators rather than with their own objects.
FRAME_DRAIN = ("frame", "zombie_frame")


# ------------------------------------------------------------------ test bases

@needs_engine
class FreeListTestCase(unittest.TestCase):
    """Each test starts with tracing off; the state of the process is restored after it."""

    longMessage = True  # both the values and the message (Python 2.7's default is False)

    def setUp(self):
        self.was_tracing = engine.is_tracing()
        self.limit = engine.get_traceback_limit() if self.was_tracing else 1
        engine.stop()
        self.keep = new_keep()

    def tearDown(self):
        engine.stop()
        del self.keep
        if self.was_tracing:
            engine.start(self.limit)

    def assertParkedDelta(self, delta, size, count, what):
        """The parked memory changed by delta == (size, count), within what
        get_freelist_memory() itself takes from the free lists (a 2-tuple and two ints: 3
        blocks, less than 256 bytes)."""
        self.assertTrue(abs(delta[0] - size) <= 256 and abs(delta[1] - count) <= 4,
                        "%s: parked memory changed by %r, expected about %r"
                        % (what, delta, (size, count)))


def sub(a, b):
    return (a[0] - b[0], a[1] - b[1])


# While a test measures, these helpers allocate nothing but the engine's result (no bound
# method, no dict), and keep it alive in keep (a list from new_keep(): keep[0] is the next free
# slot) until the end of the test: dropping it would put dicts, tuples and ints onto the free
# lists under test.

def new_keep():
    keep = [None] * 64
    keep[0] = 1
    return keep


def traced_on(line, keep, filename=FILENAME):
    """(size, count) traced on line of filename (this file by default), (0, 0) if none."""
    stats = engine.get_stats()
    keep[keep[0]] = stats
    keep[0] += 1
    if filename not in stats or line not in stats[filename]:
        return (0, 0)
    return stats[filename][line]


def parked_memory(keep):
    """get_freelist_memory(), (0, 0) without free-list hooks."""
    memory = engine.get_freelist_memory()
    keep[keep[0]] = memory
    keep[0] += 1
    return memory if memory is not None else (0, 0)


# ------------------------------------------------------------------ one test per free list

@needs_track
class FreeListTests(FreeListTestCase):
    """For each free list: a dead object's block is pushed (its trace goes, the block is
    parked with its size) and popped by a new object (traced at the new line, with the size a
    new object has), and get_object_traceback() finds the reused object."""

    def check(self, name):
        if name not in KINDS:
            self.skipTest("no %s free list on Python %d.%d" % ((name,) + VERSION))
        kind = KINDS[name]
        n = kind.n
        ks = list(irange(n))
        holder = [None] * n
        drained = [None] * kind.drain
        dks = list(irange(kind.drain))
        if name in FRAME_DRAIN:
            drain_kind = KINDS["frame"]
        else:
            drain_kind = kind
        keep = self.keep
        # Warm up before tracing: the make_* code and the helpers have zombie frames, and the
        # int free list has room for what the engine's results need (no int block is allocated
        # meanwhile).
        fill(kind, holder, ks)
        traced_on(kind.line, keep, kind.filename)
        parked_memory(keep)
        reservoir = list(irange(10 ** 6, 10 ** 6 + 2000))
        del reservoir
        kind.finish(holder)
        for k in ks:
            holder[k] = None

        engine.start(1)
        fill(drain_kind, drained, dks)  # empty the free list: the first batch is new
        base = traced_on(kind.line, keep, kind.filename)
        fill(kind, holder, ks)
        first = sub(traced_on(kind.line, keep, kind.filename), base)
        keys = set(kind.key(obj) for obj in holder) if kind.key else set()
        kind.finish(holder)
        # Forget every trace, so that only a pop can trace a reused object on the line (the
        # parked blocks stay parked).
        engine.clear_traces()
        base = traced_on(kind.line, keep, kind.filename)
        # Nothing but the objects under test between the measures of the parked memory.
        parked0 = parked_memory(keep)
        for k in ks:
            holder[k] = None
        parked1 = parked_memory(keep)
        fill(kind, holder, ks)
        parked2 = parked_memory(keep)
        second = sub(traced_on(kind.line, keep, kind.filename), base)
        reused = len(keys & set(kind.key(obj) for obj in holder)) if kind.key else n
        traceback = engine.get_object_traceback(kind.block_object(holder[-1]))
        frames = tracemalloc.get_object_traceback(kind.block_object(holder[0]))
        frames = [(frame.filename, frame.lineno) for frame in frames or ()]
        kind.finish(holder)
        for k in ks:
            holder[k] = None
        after_push = sub(traced_on(kind.line, keep, kind.filename), base)
        drain_kind.finish(drained)

        expected = (n * kind.size, n * kind.count)
        self.assertEqual(first, expected, "new objects: (size, count) on the line")
        self.assertTrue(reused >= n * 9 // 10, "only %d of %d blocks reused" % (reused, n))
        self.assertEqual(second, expected, "pop: reused objects traced on the new line")
        self.assertEqual(traceback, ((kind.filename, kind.line),))
        self.assertEqual(frames, [(kind.filename, kind.line)])
        self.assertEqual(after_push, (0, 0), "push: the traces of the dead objects are gone")
        self.assertParkedDelta(sub(parked1, parked0), n * kind.parked, n * kind.parked_count,
                               "push")
        self.assertParkedDelta(sub(parked2, parked1), -n * kind.parked,
                               -n * kind.parked_count, "pop")

    @needs_data
    def test_kinds_known(self):
        # the track variant hooks free lists that the version data must exercise
        self.assertTrue(KINDS, "no free-list kinds for Python %d.%d" % VERSION)


def _add_kind_tests():
    """One test_<name> per kind of this version."""
    def make_test(name):
        def test(self):
            self.check(name)
        test.__name__ = "test_" + name
        return test
    for name in sorted(KINDS):
        setattr(FreeListTests, "test_" + name, make_test(name))


_add_kind_tests()


# Python/dtoa.c: float <-> str conversions keep their Bigints (of up to 2**Kmax digits) on free
# lists. Only the Bigints that came from PyMem_Malloc (once a static pool is used up) are
# traced: they live within one conversion, so the pop is seen as the peak of the traced memory
# during a conversion, and the push as no Bigint left traced after the conversions. A child
# process starts from pristine pools. float(s) allocates nothing else but the float, after its
# Bigints are gone: a peak above the size of a float is a traced Bigint.
DTOA_CHILD = r"""
import sys
import tracemalloc
engine = tracemalloc._engine
engine.start(1)
strings = ['7' * n + 'e-%d' % (n + 310) for n in range(10, 700, 7)]
strings += ['1.%se%d' % ('3' * n, e) for n in (5, 17, 30, 45) for e in (-300, -20, 0, 20, 300)]

def convert(s):
    return float(s)

def to_string(x, digits):
    return '%.*e' % (digits, x)

for s in strings:  # fills the free lists (and uses up the static pool)
    x = to_string(convert(s), len(s))

def conversion_peak():
    # the highest traced peak over float(s) of every string; current is first a traced int
    # like the ones below: storing the next one frees it, so that even the first iteration
    # measures the conversion alone
    peak = 0
    current = int('1000001')
    for s in strings:
        current = engine.get_traced_memory()[0]
        engine.reset_peak()
        x = convert(s)
        peak = max(peak, engine.get_traced_memory()[1] - current)
    return peak

conversion_peak()  # the same conversions: they need no new Bigint after this
peak = conversion_peak()

def bigints(func):
    # traces of the sizes of Bigints of 1 to 128 digits on the line of func
    where = (func.__code__.co_filename, func.__code__.co_firstlineno + 1)
    return sorted(size for domain, size, traceback, total in engine.get_traces()
                  if traceback[0] == where and size in (32, 40, 48, 64, 96, 160, 288, 544))
sys.stdout.write(repr((engine.PATCH_VARIANT, peak, bigints(convert), bigints(to_string))))
"""


def run_child(code):
    """Run code in a child interpreter; return the value it writes (a literal)."""
    import ast
    status, out, err = tmsupport.run_python(["-c", code])
    if status != 0:
        raise AssertionError("child failed (%s): %s" % (status, err))
    return ast.literal_eval(out)


@needs_engine
class DtoaTests(unittest.TestCase):
    longMessage = True

    @needs_track
    def test_bigint_freelist(self):
        variant, peak, converted, formatted = run_child(DTOA_CHILD)
        # pop: a reused Bigint is traced while a conversion runs (more than the float)
        self.assertTrue(peak > FLOAT_SIZE, "traced peak during a conversion: %d bytes" % peak)
        # push: no Bigint is left traced on the lines of the conversions
        self.assertEqual((converted, formatted), ([], []))

    def test_bigint_freelist_by_variant(self):
        variant, peak, converted, formatted = run_child(DTOA_CHILD)
        if variant in STALE_VARIANTS:
            # reused Bigints are never traced (at most the float is), and those allocated
            # while tracing stay charged to the conversion that allocated them
            self.assertTrue(peak <= FLOAT_SIZE, peak)
            self.assertTrue(formatted, "no stale Bigint trace")
        else:
            self.assertTrue(peak > FLOAT_SIZE, peak)
            if variant == "track":
                self.assertEqual((converted, formatted), ([], []))
            # "disabled": the cache of powers of 5 is traced, where it was computed


# ------------------------------------------------------------------ (a)-(d)

# (a): a function that builds and drops 5000 2-tuples and 1000 floats. A child process starts
# with small free lists, so that the numbers of the plain variant are deterministic.
BUILD_AND_DROP_CHILD = r"""
import sys
import tracemalloc
engine = tracemalloc._engine

def build_and_drop(ks5000, ks1000, b):
    tuples = [None] * len(ks5000)
    for k in ks5000:
        tuples[k] = (k, k)
    floats = [None] * len(ks1000)
    for k in ks1000:
        floats[k] = k + b

ks5000 = list(range(5000))
ks1000 = ks5000[:1000]
engine.start(1)
build_and_drop(ks5000, ks1000, 0.5)
code = build_and_drop.__code__
lines = engine.get_stats().get(code.co_filename, {})
tuple_line, float_line = code.co_firstlineno + 3, code.co_firstlineno + 6
parked = engine.get_freelist_memory()
sys.stdout.write(repr((engine.PATCH_VARIANT, lines.get(tuple_line), lines.get(float_line),
                       parked)))
"""
# (b): dicts of one str key: on 3.x both the dict and its keys block come from free lists.
def drain_dicts(holder, ks):
    for k in ks:
        holder[k] = {"a": k}


def first_dicts(holder, ks):
    for k in ks:
        holder[k] = {"a": k}


def second_dicts(holder, ks):
    for k in ks:
        holder[k] = {"a": k}


def make_floats_again(holder, ks, b):
    for k in ks:
        holder[k] = k + b


class ScenarioMixin(object):
    """The (a)-(d) scenarios; each returns what the tracer saw."""

    def scenario_a(self):
        return run_child(BUILD_AND_DROP_CHILD)

    def scenario_b(self):
        """A reused dict: which line is it charged to? (On 3.x the dict's keys block too.)
        Returns n, what n new dicts traced, what stays on the first line once they were
        dropped and their blocks reused by the second line, what the second line has, and the
        traceback of a reused dict."""
        n = 40
        ks = list(irange(n))
        holder = [None] * n
        drained = [None] * 100
        first_dicts(holder, ks)
        second_dicts(holder, ks)
        for k in ks:
            holder[k] = None
        engine.start(1)
        drain_dicts(drained, list(irange(100)))  # empty the dict (and keys) free lists
        first_dicts(holder, ks)
        new = traced_on(line_of(first_dicts), self.keep)
        for k in ks:
            holder[k] = None
        second_dicts(holder, ks)
        first = traced_on(line_of(first_dicts), self.keep)
        second = traced_on(line_of(second_dicts), self.keep)
        traceback = engine.get_object_traceback(holder[0])
        return n, new, first, second, traceback

    def assertNewDicts(self, n, new):
        # a dict and, on 3.x, its keys block: sys.getsizeof() counts both and the GC header
        self.assertEqual(new[0], n * sys.getsizeof({"a": 0}), new)
        self.assertIn(new[1], (n, 2 * n), new)

    def scenario_c(self):
        """Objects reused from free lists filled before tracing started: traced or not?"""
        results = {}
        # at most the capacity of each free list
        for name, n in DATA.SCENARIO_C:
            kind = KINDS[name]
            ks = list(irange(n))
            holder = [None] * n
            fill(kind, holder, ks)
            kind.finish(holder)
            for k in ks:
                holder[k] = None  # the free list holds them: before tracing
            engine.start(1)
            fill(kind, holder, ks)
            results[name] = (traced_on(kind.line, self.keep, kind.filename),
                             engine.get_object_traceback(kind.block_object(holder[0])),
                             (n * kind.size, n * kind.count), ((kind.filename, kind.line),))
            engine.stop()
            kind.finish(holder)
            for k in ks:
                holder[k] = None
        return results

    def scenario_d(self):
        """New floats, from the float free list or from new blocks: how many traces?"""
        n = 1000
        ks = list(irange(n))
        holder = [None] * n
        engine.start(1)
        make_floats_again(holder, ks, 0.25)
        return n, traced_on(line_of(make_floats_again), self.keep)


@needs_data
class FixedTests(ScenarioMixin, FreeListTestCase):
    """(a)-(d): the exact behaviour, with free-list hooks."""

    @needs_track
    def test_a_free_lists_not_counted_as_live(self):
        variant, tuples, floats, parked = self.scenario_a()
        self.assertEqual((tuples, floats), (None, None),
                         "(size, count) of the 2-tuples and of the floats still traced on the "
                         "lines of the function that dropped them")
        # the tuples and at least the 100 floats a float free list keeps (2.7 keeps them all)
        self.assertTrue(parked[0] >= 2000 * TUPLE2_SIZE + 100 * FLOAT_SIZE, parked)

    @needs_track
    def test_b_reused_block_charged_to_new_line(self):
        n, new, first, second, traceback = self.scenario_b()
        self.assertNewDicts(n, new)
        self.assertEqual(first, (0, 0))
        self.assertEqual(second, new)
        self.assertEqual(traceback, ((FILENAME, line_of(second_dicts)),))

    @needs_track
    def test_c_lists_filled_before_tracing(self):
        for name, (stats, traceback, expected, where) in sorted(self.scenario_c().items()):
            self.assertEqual((stats, traceback), (expected, where), name)

    @needs_track
    def test_d_one_trace_per_new_object(self):
        # Each new float has a trace of its own, of its own size: one capture per object
        # (the plain variant traces whole blocks of 41 floats, or nothing for a reused one).
        n, stats = self.scenario_d()
        self.assertEqual(stats, (n * FLOAT_SIZE, n))

    @needs_track
    def test_d_one_capture_per_new_object(self):
        # The count of traceback captures is the direct proof; it needs an engine counter.
        counter = getattr(engine, "_get_capture_count", None)
        tmsupport.require(self, counter is not None,
                          "the engine has no capture counter (_engine._get_capture_count)")
        n = 500
        ks = list(irange(n))
        holder = [None] * n
        drained = [None] * 2100
        empty = []
        # a collection that new objects trigger allocates too (3.13: an object stack chunk)
        gc_was_enabled = gc.isenabled()
        gc.disable()
        self.addCleanup(lambda: gc_was_enabled and gc.enable())
        engine.start(1)
        make_tuples(drained, list(irange(2100)), None)  # new tuples, then reused ones
        make_tuples(holder, empty, None)  # the call alone (its frame is a reused zombie)
        before = counter()
        make_tuples(holder, empty, None)
        overhead = counter() - before
        before = counter()
        make_tuples(holder, ks, None)
        new = counter() - before - overhead
        for k in ks:
            holder[k] = None
        before = counter()
        make_tuples(holder, ks, None)
        reused = counter() - before - overhead
        self.assertEqual((new, reused), (n, n))


@needs_data
class DefectTests(ScenarioMixin, FreeListTestCase):
    """(a)-(d) on every variant: exact on track and disabled, stale on plain."""

    def test_a(self):
        variant, tuples, floats, parked = self.scenario_a()
        if variant in STALE_VARIANTS:
            DATA.check_stale_a(self, tuples, floats)
            self.assertIsNone(parked)
        else:
            self.assertEqual((tuples, floats), (None, None))
            self.assertEqual(parked is not None, variant == "track")

    def test_b(self):
        n, new, first, second, traceback = self.scenario_b()
        self.assertNewDicts(n, new)
        if VARIANT in STALE_VARIANTS:
            self.assertEqual(first, new)
            self.assertEqual(second, (0, 0))
            self.assertEqual(traceback, ((FILENAME, line_of(first_dicts)),))
        else:
            self.assertEqual((first, second), ((0, 0), new))
            self.assertEqual(traceback, ((FILENAME, line_of(second_dicts)),))

    def test_c(self):
        for name, (stats, traceback, expected, where) in sorted(self.scenario_c().items()):
            if VARIANT in STALE_VARIANTS:
                self.assertEqual((stats, traceback), ((0, 0), None), name)
            else:
                self.assertEqual((stats, traceback), (expected, where), name)

    def test_d(self):
        n, stats = self.scenario_d()
        if VARIANT in STALE_VARIANTS:
            DATA.check_stale_d(self, n, stats)
        else:
            self.assertEqual(stats, (n * FLOAT_SIZE, n))


# ------------------------------------------------------------------ deque blocks

def deque_fill(d, ks):
    for k in ks:
        d.append(k)


def deque_refill(d, ks):
    for k in ks:
        d.append(k)


@needs_track
@unittest.skipIf(PY2, "2.7 keeps one block free list for every deque: "
                      "FreeListTests.test_deque_block")
class DequeBlockTests(FreeListTestCase):
    """collections.deque on 3.x keeps up to 16 of the blocks it empties for its next appends:
    popleft() pushes a block, a later append() pops it."""

    def test_blocks_pushed_by_popleft_and_popped_by_append(self):
        block = sys.getsizeof(collections.deque()) - collections.deque.__basicsize__ - GC_HEAD
        nblock = 8
        ks = list(irange(64 * nblock))  # 64 items per block
        d = collections.deque()
        deque_fill(d, ks)  # warm up (the code, the caches)
        d.clear()
        d = collections.deque()
        keep = self.keep
        fill_line, refill_line = line_of(deque_fill), line_of(deque_refill)
        engine.start(1)
        deque_fill(d, ks)
        new = traced_on(fill_line, keep)
        parked0 = parked_memory(keep)
        for _ in ks:
            d.popleft()
        parked1 = parked_memory(keep)
        after_push = traced_on(fill_line, keep)
        deque_refill(d, ks)
        parked2 = parked_memory(keep)
        reused = traced_on(refill_line, keep)
        self.assertTrue(nblock - 1 <= new[1] <= nblock and new[0] == new[1] * block, new)
        # every emptied block but the one the deque still uses is parked (the deque's first
        # block too), then reused by the appends
        self.assertTrue(after_push[1] <= 1, after_push)
        pushed = sub(parked1, parked0)
        self.assertTrue(new[1] - after_push[1] <= pushed[1] <= new[1] + 1, (new, pushed))
        self.assertParkedDelta(pushed, pushed[1] * block, pushed[1], "push")
        self.assertTrue(nblock - 1 <= reused[1] <= pushed[1], (reused, pushed))
        self.assertEqual(reused[0], reused[1] * block, "pop: traced on the line of reuse")
        self.assertParkedDelta(sub(parked2, parked1), -reused[0], -reused[1], "pop")


# cProfile: a profiler keeps the context of every call that returned (ProfilerContext: two
# 64-bit times and two pointers) on a free list of its own, without limit, until it is cleared.
PROFILER_CONTEXT_SIZE = 16 + 2 * POINTER_SIZE


def descend(depth, probe, keep):
    if depth:
        return descend(depth - 1, probe, keep)
    return probe(keep)


def probe_descend(keep):
    """At the bottom of descend(): the parked memory, then every trace."""
    parked = parked_memory(keep)
    keep[keep[0]] = (parked, engine.get_traces())
    keep[0] += 1


def contexts_on_descend(traces):
    """How many traces of the size of a ProfilerContext are on the lines of descend()."""
    code = descend.__code__
    lines = irange(code.co_firstlineno, code.co_firstlineno + 4)
    count = 0
    for domain, size, traceback, total in traces:
        if (size == PROFILER_CONTEXT_SIZE and traceback
                and traceback[0][0] == code.co_filename and traceback[0][1] in lines):
            count += 1
    return count


@needs_track
@unittest.skipIf(PY2, "2.7's _lsprof takes its call contexts from malloc(), which is not "
                      "traced: there is nothing to hook")
class ProfilerContextTests(FreeListTestCase):
    """ptrace_leave_call() pushes the context of the call that returns, ptrace_enter_call()
    pops one for the next call."""

    DEPTH = 50

    def profile(self, profiler):
        """Run descend(DEPTH) under profiler; return the parked memory and the number of
        contexts traced on descend()'s lines at the bottom of the calls, then both again
        once the calls returned."""
        keep = self.keep
        profiler.enable()
        descend(self.DEPTH, probe_descend, keep)
        profiler.disable()
        parked_after = parked_memory(keep)
        traces_after = engine.get_traces()
        keep[keep[0]] = traces_after
        keep[0] += 1
        parked_during, traces_during = keep[keep[0] - 3]
        return (parked_during, contexts_on_descend(traces_during),
                parked_after, contexts_on_descend(traces_after))

    def test_lsprof_contexts(self):
        import cProfile
        calls = self.DEPTH + 1  # the calls of descend(); the probe's context is on its line
        size = PROFILER_CONTEXT_SIZE
        profiler = cProfile.Profile(builtins=False)
        self.profile(profiler)  # not tracing: the code and the profiler's entries
        profiler.clear()
        engine.start(1)
        unused, new, parked_before, new_after = self.profile(profiler)  # new contexts
        parked_during, reused, parked_after, reused_after = self.profile(profiler)
        # pop: the contexts of the calls leave the free list and are traced on the line of the
        # call, with their size, as new ones are
        self.assertEqual((new, reused), (calls, calls))
        self.assertParkedDelta(sub(parked_during, parked_before), -(calls + 1) * size,
                               -(calls + 1), "pop")
        # push: once the calls returned, their contexts are parked, no longer traced
        self.assertEqual((new_after, reused_after), (0, 0))
        self.assertParkedDelta(sub(parked_after, parked_during), (calls + 1) * size,
                               calls + 1, "push")
        parked_before = parked_memory(self.keep)
        profiler.clear()  # frees the parked contexts
        parked_cleared = parked_memory(self.keep)
        self.assertParkedDelta(sub(parked_before, parked_cleared), (calls + 1) * size,
                               calls + 1, "clear")


# An async generator wraps each value it yields (a value wrapper: the GC header and three
# pointers) and the awaitable of asend() unwraps it at once: the wrapper only lives between
# the yield's wrapping and the yield. An opcode trace function sees it there.
VALUE_WRAPPER_SIZE = GC_HEAD + 3 * POINTER_SIZE


if not PY2:
    exec("""
async def wrapping_agen(value):
    while True:
        yield value
""")


def wrapper_watch(keep, line):
    """A trace function: at each opcode of wrapping_agen(), what is traced on line and the
    parked memory (in keep, as (traced, parked) pairs from keep[1])."""
    code = wrapping_agen.__code__

    def local(frame, event, arg):
        if event == "opcode":
            traced = traced_on(line, keep, code.co_filename)
            parked = parked_memory(keep)
            keep[keep[0]] = (traced, parked)
            keep[0] += 1
        return local

    def trace(frame, event, arg):
        if frame.f_code is code:
            frame.f_trace = local  # first: 3.12+ turns opcode events on for a traced frame
            frame.f_trace_opcodes = True
            return local
        return None
    return trace


@needs_track
@unittest.skipIf(PY2, "no async generators on 2.7")
class AsyncGenValueWrapperTests(FreeListTestCase):
    """async_gen_wrapped_val_dealloc() pushes the wrapper, _PyAsyncGenValueWrapperNew() pops
    it for the next value."""

    def test_value_wrapper(self):
        code = wrapping_agen.__code__
        line = code.co_firstlineno + 2  # the yield
        agen = wrapping_agen(None)
        for _ in irange(100):  # warm up: the free list holds wrappers
            try:
                agen.asend(None).send(None)
            except StopIteration:
                pass
        step = agen.asend(None)
        keep = [None] * 200
        keep[0] = 1
        engine.start(1)
        sys.settrace(wrapper_watch(keep, line))
        try:
            step.send(None)
        except StopIteration:
            pass
        finally:
            sys.settrace(None)
        after = traced_on(line, keep, code.co_filename)
        parked_after = parked_memory(keep)
        seen = [item for item in keep[1:] if isinstance(item, tuple) and len(item) == 2
                and isinstance(item[0], tuple)]
        self.assertTrue(seen, "the trace function saw no opcode of the generator")
        # pop: the wrapper of the yielded value is traced on the yield, with its size (on top
        # of the frame object that the trace function needs), and has left the parked memory
        first_traced, first_parked = seen[0]
        deltas = [(sub(traced, first_traced), parked) for traced, parked in seen]
        with_wrapper = [parked for traced, parked in deltas if traced == (VALUE_WRAPPER_SIZE, 1)]
        self.assertTrue(with_wrapper, deltas)
        self.assertParkedDelta(sub(with_wrapper[0], first_parked), -VALUE_WRAPPER_SIZE, -1,
                               "pop")
        # push: once unwrapped, it is parked again and no longer traced (what stays is what
        # was there before the wrapping)
        self.assertEqual(after, first_traced)
        self.assertParkedDelta(sub(parked_after, with_wrapper[0]), VALUE_WRAPPER_SIZE, 1,
                               "push")


# ------------------------------------------------------------------ parked memory, variant

@needs_track
class ParkedMemoryTests(FreeListTestCase):
    def test_grows_when_parked_and_shrinks_when_reused(self):
        self.assertEqual(engine.get_freelist_memory(), (0, 0))  # not tracing
        kind = KINDS.get("tuple")
        tmsupport.require(self, kind is not None,
                          "the version data has no tuple kind for Python %d.%d" % VERSION)
        n = 500
        ks = list(irange(n))
        holder = [None] * n
        engine.start(1)
        fill(kind, holder, ks)
        before = parked_memory(self.keep)
        for k in ks:
            holder[k] = None
        parked = parked_memory(self.keep)
        fill(kind, holder, ks)
        after = parked_memory(self.keep)
        self.assertParkedDelta(sub(parked, before), n * kind.size, n, "parked")
        self.assertParkedDelta(sub(after, parked), -n * kind.size, -n, "reused")
        engine.stop()
        self.assertEqual(engine.get_freelist_memory(), (0, 0))


@needs_engine
class VariantTests(unittest.TestCase):
    def test_variant(self):
        self.assertIn(VARIANT, ("plain", "track", "disabled", "stock"))
        memory = engine.get_freelist_memory()
        if VARIANT == "track":
            self.assertEqual(len(memory), 2)
        else:
            self.assertIsNone(memory)

    def test_variant_is_the_interpreters(self):
        # The interpreter names its patch series in _Py_tracemalloc_variant.
        try:
            import ctypes
        except ImportError:
            ctypes = None
        tmsupport.require(self, ctypes is not None, "the ctypes module is missing")
        try:
            # a char array: its first character, whose address is the string's
            first = ctypes.c_char.in_dll(ctypes.pythonapi, "_Py_tracemalloc_variant")
        except ValueError:  # no such symbol
            self.assertEqual(VARIANT, "stock")
            return
        name = ctypes.string_at(ctypes.addressof(first)).decode("ascii")
        self.assertEqual(name, VARIANT)


if __name__ == "__main__":
    unittest.main()
