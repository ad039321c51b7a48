"""The pieces the package's commands share to read their arguments: a parser whose usage
errors are an exception (UsageError, which each command prints as one line, exit status 2)
and the types of its options (seconds, a process ID, an integer with a minimum, a trace
domain).

Used by python -m tracemalloc (tracemalloc/__main__.py), tracemalloc.process
(tracemalloc/_process_cli.py) and tracemalloc.process_tree.
"""
from __future__ import absolute_import

import argparse
import math

from tracemalloc._native import NATIVE_DOMAIN


class UsageError(Exception):
    """A mistake in the command line: one line, exit status 2."""


class Parser(argparse.ArgumentParser):
    """An ArgumentParser that raises UsageError instead of printing and exiting, so that
    the command writes the error as its own one line."""

    def error(self, message):
        raise UsageError(message)


def seconds(text):
    """A duration in seconds, above 0 and finite."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("not a number of seconds: %r" % text)
    if not value > 0 or math.isinf(value):  # also NaN
        raise argparse.ArgumentTypeError("must be a number of seconds above 0: %r" % text)
    return value


def int_at_least(minimum):
    """The type of an integer option of at least *minimum* (0 or 1)."""
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError("invalid integer: %r" % text)
        if value < minimum:
            raise argparse.ArgumentTypeError(
                ("must be at least 1: %r" if minimum == 1 else "must be 0 or more: %r") % text)
        return value
    return parse


def pid(text):
    """A process ID: an integer of 1 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("not a process ID: %r" % text)
    if value < 1:
        raise argparse.ArgumentTypeError("not a process ID (1 or more): %r" % text)
    return value


# The domains that have a name on the command line (--domain).
DOMAIN_NAMES = {"python": 0, "native": NATIVE_DOMAIN}


def domain(text):
    """A trace domain: "python" (0, Python's own allocators), "native" (NATIVE_DOMAIN, C
    libraries' malloc) or a number of 0 to 2**32 - 1 (a PyTraceMalloc_Track() domain, e.g.
    numpy's 389047), decimal or 0x hexadecimal."""
    if text.lower() in DOMAIN_NAMES:
        return DOMAIN_NAMES[text.lower()]
    try:
        value = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(
            "not a domain: %r (python, native or a number)" % text)
    if not 0 <= value < 2 ** 32:
        raise argparse.ArgumentTypeError("not a domain (0 to 2**32 - 1): %r" % text)
    return value
