#!/bin/sh
# Generate ./configure from a checkout. Needs autoconf, automake, libtool and pkg-config.
set -e
cd "$(dirname "$0")"
autoreconf --force --install --verbose
