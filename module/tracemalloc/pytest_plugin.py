"""The pytest plugin of pytracemalloc: ``pytest -p tracemalloc.pytest_plugin``.

PYTEST_DONT_REWRITE (pytest leaves this module's asserts alone: it has none to rewrite, and
the package lives in the standard library directory.)

Markers, checked by the code of tracemalloc/_limits.py (README, "Limits in test suites"):

- ``@pytest.mark.limit_memory("24 MB")``: the test fails when the peak of traced memory
  during the test function, above the traced memory at its start, is more than the size;
- ``@pytest.mark.limit_leaks("1 KB", filter_fn=None, warmup=True)``: the test fails when
  the test function leaves allocated more than the size; it runs twice and the second run
  is measured (``warmup=False``: once; ``warmup=N``: N warm-up runs);

and the options ``--tracemalloc-top=N`` (after the run, the N tests whose call had the
highest peak of traced memory; 0: all) and ``--tracemalloc-frames=N`` (the frames per
trace when the plugin starts tracing, default 1). Sizes are checked at collection: a bad
one is a usage error of pytest. Tracing starts after collection if a collected test has a
marker or --tracemalloc-top is given, unless something traces already, and then stops at
the end of the run. A failure's message names the limit, the measure and the top lines.
"""
from __future__ import absolute_import

import inspect

import pytest

import tracemalloc
from tracemalloc import _limits
from tracemalloc._types import _format_size

_MARKERS = {
    "limit_memory": ("limit_memory(size): fail the test when the peak of traced memory "
                     "during the test function, above its start, is more than size, e.g. "
                     "'24 MB' (KB, MB, GB: powers of 1024) (tracemalloc.pytest_plugin)"),
    "limit_leaks": ("limit_leaks(size, filter_fn=None, warmup=True): fail the test when the "
                    "test function leaves allocated more than size, e.g. '1 KB'; the "
                    "function runs twice and the second run is measured (warmup=False: "
                    "once, warmup=N: N runs before); filter_fn(traceback) returns False for "
                    "memory not to count (tracemalloc.pytest_plugin)"),
}


class _State(object):
    """What the plugin keeps for a run (config._tracemalloc_state)."""

    def __init__(self, top, nframe):
        self.top = top  # None: no top
        self.nframe = nframe
        self.started_tracing = False
        self.peaks = []  # (peak, held, nodeid) of each test function run


def _state(config):
    return getattr(config, "_tracemalloc_state", None)


def pytest_addoption(parser):
    group = parser.getgroup("tracemalloc", "memory limits and top of pytracemalloc")
    group.addoption("--tracemalloc-top", metavar="N", default=None,
                    help="after the run, show the N tests whose test function had the "
                         "highest peak of traced memory (0: every test)")
    group.addoption("--tracemalloc-frames", metavar="N", default="1",
                    help="frames kept per trace when the plugin starts tracing (default 1; "
                         "more for filter_fn of limit_leaks)")


def _int_option(config, name, low, high):
    value = config.getoption(name)
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError:
        number = None
    if number is None or not low <= number <= high:
        raise pytest.UsageError("--%s=%s: expected an integer from %d to %d"
                                % (name.replace("_", "-"), value, low, high))
    return number


def pytest_configure(config):
    for name, text in _MARKERS.items():
        config.addinivalue_line("markers", text)
    top = _int_option(config, "tracemalloc_top", 0, 2 ** 31)
    nframe = _int_option(config, "tracemalloc_frames", 1, 65535)
    config._tracemalloc_state = _State(top, nframe)


def _limits_of(item):
    """{"memory": size, "leaks": size, "filter_fn": ..., "warmup": ...} of the markers of
    *item* (empty without markers); pytest.UsageError for a marker that is written wrong."""
    limits = {}
    for name, key in (("limit_memory", "memory"), ("limit_leaks", "leaks")):
        marker = item.get_closest_marker(name)
        if marker is None:
            continue
        kwargs = dict(marker.kwargs)
        allowed = ("size",) if name == "limit_memory" else ("size", "filter_fn", "warmup")
        try:
            if len(marker.args) > 1 or set(kwargs) - set(allowed):
                raise ValueError("takes %s" % ", ".join(allowed))
            if marker.args:
                if "size" in kwargs:
                    raise ValueError("size given twice")
                kwargs["size"] = marker.args[0]
            if "size" not in kwargs:
                raise ValueError("needs a size, e.g. %s('24 MB')" % name)
            _limits.parse_size(kwargs["size"])
            filter_fn = kwargs.get("filter_fn")
            if filter_fn is not None and not callable(filter_fn):
                raise ValueError("filter_fn must be callable")
            _limits.warmup_runs(kwargs.get("warmup", True))
        except ValueError as exc:
            raise pytest.UsageError("%s: %s: %s" % (item.nodeid, name, exc))
        limits[key] = kwargs.pop("size")
        if name == "limit_leaks":
            limits["filter_fn"] = kwargs.get("filter_fn")
            limits["warmup"] = kwargs.get("warmup", True)
    return limits


def pytest_collection_modifyitems(session, config, items):
    state = _state(config)
    limited = False
    for item in items:
        if _limits_of(item):
            limited = True
    if (limited or state.top is not None) and not tracemalloc.is_tracing():
        tracemalloc.start(state.nframe)
        state.started_tracing = True


def pytest_unconfigure(config):
    state = _state(config)
    if state is not None and state.started_tracing:
        state.started_tracing = False
        tracemalloc.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    """With --tracemalloc-top: the peak of each test's call (the test function, around its
    limits; the fixtures are set up and torn down outside)."""
    state = _state(item.config)
    if state is None or state.top is None or not tracemalloc.is_tracing():
        yield
        return
    meter = _limits._PeakMeter()
    meter.start()
    try:
        yield
    finally:
        peak, held = meter.stop()
        state.peaks.append((peak, held, item.nodeid))


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem):
    """Run a test function that has limits (twice for limit_leaks) and check them."""
    limits = _limits_of(pyfuncitem)
    if not limits:
        return None  # pytest calls it
    function = pyfuncitem.obj
    if getattr(inspect, "iscoroutinefunction", lambda function: False)(function):
        pytest.fail("limit_memory and limit_leaks do not apply to coroutine functions",
                    pytrace=False)
    arguments = dict((name, pyfuncitem.funcargs[name])
                     for name in pyfuncitem._fixtureinfo.argnames)
    failure = None
    try:
        _limits.run_limited(function, (), arguments, nframe=_state(pyfuncitem.config).nframe,
                            **limits)
    except _limits._LimitExceeded as exc:
        failure = str(exc)
    if failure is not None:  # out of the except block: no "During handling of ..." chain
        pytest.fail(failure, pytrace=False)
    return True


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    state = _state(config)
    if state is None or state.top is None:
        return
    peaks = sorted(state.peaks, key=lambda entry: (-entry[0], entry[2]))
    if state.top:
        peaks = peaks[:state.top]
    terminalreporter.write_sep("=", "tracemalloc: the %d tests with the highest peak of traced "
                                    "memory" % len(peaks))
    for peak, held, nodeid in peaks:
        terminalreporter.write_line("%10s peak, %10s held after: %s"
                                    % (_format_size(peak), _format_size(held, True), nodeid))
