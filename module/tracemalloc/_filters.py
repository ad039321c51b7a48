"""The filters of Snapshot.filter_traces(), BaseFilter, Filter and DomainFilter (the stdlib's
classes), and filtering raw traces with them: the engine's C loop filter_traces() when the C
loops are in use (tracemalloc/_accel.py) and every filter is a plain Filter or DomainFilter,
else the filters' own _match() in Python.
"""
from __future__ import absolute_import

import fnmatch
import os

from tracemalloc import _accel
from tracemalloc._compat import _INT_TYPES

__all__ = ["BaseFilter", "Filter", "DomainFilter"]


def _normalize_filename(filename):
    """os.path.normcase(), and "x.pyc" matches as "x.py" (not ".pyo", as of 3.5)."""
    filename = os.path.normcase(filename)
    if filename.endswith(".pyc"):
        filename = filename[:-1]
    return filename


class BaseFilter(object):
    """Base class of Filter and DomainFilter: ``inclusive`` (bool)."""

    __module__ = "tracemalloc"

    def __init__(self, inclusive):
        self.inclusive = inclusive

    def _match(self, trace):
        raise NotImplementedError


class Filter(BaseFilter):
    """Filter on the traces of memory blocks, for Snapshot.filter_traces().

    *inclusive*: True keeps the matching traces, False drops them. *filename_pattern*: an
    fnmatch pattern of the filename (normalized: normcase, ".pyc" as ".py"). *lineno*: a line
    number, or None for any. *all_frames*: match any frame of the traceback, not only the
    most recent one. *domain*: an address space (int), or None for any.
    """

    __module__ = "tracemalloc"

    def __init__(self, inclusive, filename_pattern, lineno=None, all_frames=False,
                 domain=None):
        super(Filter, self).__init__(inclusive)
        self.inclusive = inclusive
        self._filename_pattern = _normalize_filename(filename_pattern)
        self.lineno = lineno
        self.all_frames = all_frames
        self.domain = domain

    @property
    def filename_pattern(self):
        return self._filename_pattern

    def _match_filename(self, filename):
        return fnmatch.fnmatch(_normalize_filename(filename), self._filename_pattern)

    def _match_frame_impl(self, filename, lineno):
        if not self._match_filename(filename):
            return False
        if self.lineno is None:
            return True
        return lineno == self.lineno

    def _match_frame(self, filename, lineno):
        return self._match_frame_impl(filename, lineno) ^ (not self.inclusive)

    def _match_traceback(self, traceback):
        if self.all_frames:
            if any(self._match_frame_impl(filename, lineno) for filename, lineno in traceback):
                return self.inclusive
            return not self.inclusive
        filename, lineno = traceback[0]
        return self._match_frame(filename, lineno)

    def _match(self, trace):
        domain, size, traceback, total_nframe = trace
        result = self._match_traceback(traceback)
        if self.domain is not None:
            if self.inclusive:
                return result and domain == self.domain
            return result or domain != self.domain
        return result


class DomainFilter(BaseFilter):
    """Filter on the domain (address space) of the traces: *inclusive* and *domain*."""

    __module__ = "tracemalloc"

    def __init__(self, inclusive, domain):
        super(DomainFilter, self).__init__(inclusive)
        self._domain = domain

    @property
    def domain(self):
        return self._domain

    def _match(self, trace):
        domain, size, traceback, total_nframe = trace
        return (domain == self.domain) ^ (not self.inclusive)


def _filter_traces_py(traces, include_filters, exclude_filters):
    def keep(trace):
        if include_filters and not any(trace_filter._match(trace)
                                       for trace_filter in include_filters):
            return False
        if exclude_filters and any(not trace_filter._match(trace)
                                   for trace_filter in exclude_filters):
            return False
        return True
    return [trace for trace in traces if keep(trace)]


def _c_filter_spec(trace_filter):
    """The tuple describing a filter to the C loop filter_traces, or None if the filter is not
    exactly a Filter or a DomainFilter with plain values (then Python decides)."""
    def plain(value):
        return value is None or (type(value) in _INT_TYPES)
    if type(trace_filter) is Filter:
        if not plain(trace_filter.lineno) or not plain(trace_filter.domain):
            return None
        return (0, bool(trace_filter.inclusive), trace_filter._match_filename,
                trace_filter.lineno, bool(trace_filter.all_frames), trace_filter.domain)
    if type(trace_filter) is DomainFilter:
        if type(trace_filter.domain) not in _INT_TYPES:
            return None
        return (1, bool(trace_filter.inclusive), None, None, False, trace_filter.domain)
    return None


def _filter_traces(traces, include_filters, exclude_filters):
    if _accel.use_c(stats=True):
        include = [_c_filter_spec(item) for item in include_filters]
        exclude = [_c_filter_spec(item) for item in exclude_filters]
        if None not in include and None not in exclude:
            result = _accel.filter_traces(traces, include, exclude)
            if result is not None:
                return result
    return _filter_traces_py(traces, include_filters, exclude_filters)
