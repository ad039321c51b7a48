# TM_PYTHON
# ---------
# Find the interpreter given with --with-python=PATH (default: python on PATH) and set:
#   PYTHON            the interpreter
#   PYTHON_VERSION    X.Y
#   PYTHON_CFLAGS     -I flags for Python.h
#   TM_PYTHON_PREFIX     sys.prefix
#   tmdir             where the package is installed: the interpreter's standard library
#                     directory, relative to ${prefix} (doc/internals.rst says why)
# and check that the interpreter has the allocator hooks (a patched 2.7, or 3.11/3.13).
AC_DEFUN([TM_PYTHON], [
AC_ARG_WITH([python],
  [AS_HELP_STRING([--with-python=PATH],
    [the CPython 2.7, 3.11 or 3.13 interpreter to build for (default: python on PATH);
     build a patched one with build-aux/python-build])],
  [PYTHON=$withval], [AC_PATH_PROGS([PYTHON], [python python3 python2], [no])])
AS_IF([test "x$PYTHON" = xno || ! "$PYTHON" -c 'pass' >/dev/null 2>&1],
  [AC_MSG_ERROR([no usable Python interpreter: pass --with-python=PATH])])

AC_MSG_CHECKING([the version of $PYTHON])
PYTHON_VERSION=`"$PYTHON" -c 'import sys; sys.stdout.write("%d.%d" % sys.version_info[[:2]])'`
AC_MSG_RESULT([$PYTHON_VERSION])
AS_CASE([$PYTHON_VERSION], [2.7|3.11|3.13], [],
  [AC_MSG_ERROR([CPython $PYTHON_VERSION is not supported: use 2.7, 3.11 or 3.13])])

TM_PYTHON_PREFIX=`"$PYTHON" -c 'import sys; sys.stdout.write(sys.prefix)'`
PYTHON_CFLAGS=`"$PYTHON" -c 'import sys, sysconfig
paths = sysconfig.get_paths()
sys.stdout.write(" ".join(sorted(set("-I" + paths[[k]] for k in ("include", "platinclude")))))'`
tmdir=`"$PYTHON" -c 'import sys, sysconfig
v = {"base": "@S|@{prefix}", "platbase": "@S|@{prefix}", "installed_base": "@S|@{prefix}",
     "installed_platbase": "@S|@{prefix}"}
sys.stdout.write(sysconfig.get_path("platstdlib", "posix_prefix", v))'`/tracemalloc

tm_save_CPPFLAGS=$CPPFLAGS
CPPFLAGS="$CPPFLAGS $PYTHON_CFLAGS"
AC_CHECK_HEADER([Python.h], [],
  [AC_MSG_ERROR([Python.h not found for $PYTHON (looked in $PYTHON_CFLAGS)])])
AC_CHECK_DECL([PyMem_SetAllocator], [],
  [AC_MSG_ERROR([$PYTHON has no PyMem_SetAllocator: it is a stock 2.7. Build a patched one with
  build-aux/python-build --print-python and pass it to --with-python])],
  [[#include <Python.h>]])
CPPFLAGS=$tm_save_CPPFLAGS

AC_ARG_VAR([PYTHON], [the Python interpreter])
AC_SUBST([PYTHON_VERSION])
AC_SUBST([PYTHON_CFLAGS])
AC_SUBST([TM_PYTHON_PREFIX])
AC_SUBST([tmdir])
])
