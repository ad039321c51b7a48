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

/* Let the timers notice their deadlines: schedule the due callbacks with Py_AddPendingCall.
 * Allocates nothing and touches no Python object. Called by the allocator and free-list hooks
 * after an allocation, with the GIL of the tracing interpreter held (engine.h,
 * tm_tracing_tstate()). */
void tm_timer_poll(void);

#endif /* PYTRACEMALLOC_TIMER_H */
