/* Allocator-driven timers: see doc/internals.rst, "start_timer". All functions need the GIL. */
#ifndef PYTRACEMALLOC_TIMER_H
#define PYTRACEMALLOC_TIMER_H

#include "compat.h"
#include <glib.h>

/* Start a timer calling func(*args, **kwargs) every delay seconds. Returns its id (> 0), or
 * -1 with an exception set. args must be a tuple, kwargs a dict or NULL. */
long tm_timer_start(double delay, PyObject *func, PyObject *args, PyObject *kwargs);

/* Stop timer id (ignored if unknown or stopped), or every timer if id is 0. */
void tm_timer_stop(long id);

/* Number of timers that have not been stopped. */
guint tm_timer_count(void);

#endif /* PYTRACEMALLOC_TIMER_H */
