/* Allocator-driven timers.
 *
 * The allocator hooks call tm_timer_poll() after each allocation made with the GIL of the
 * tracing interpreter held (the timers belong to it and to its GIL). When
 * the earliest deadline has passed, the poll schedules tm_timer_run() with Py_AddPendingCall:
 * the callbacks run later in the main thread, at the interpreter's next safe point, never
 * inside the allocator. The poll allocates nothing and touches no Python object.
 *
 * A timer is never re-entered (its callback may allocate and so poll), is removed from the
 * list as soon as it is stopped (unless its callback is running: then the runner removes it
 * when the callback returns), and never fires after stop. Deadlines use the monotonic clock.
 * Every callback runs with tracing not suspended in the thread (tracer.h): a callback of the
 * package suspends it itself.
 */
#include "timer.h"
#include "tracer.h"

typedef struct {
    long id;
    gint64 interval;   /* microseconds, > 0 */
    gint64 deadline;   /* g_get_monotonic_time() value of the next call */
    guint64 round;     /* last run round in which the timer fired */
    gboolean running;  /* its callback is on the stack */
    gboolean stopped;
    PyObject *func, *args, *kwargs;  /* strong references; kwargs may be NULL */
} TmTimer;

/* Protected by the GIL. */
static GPtrArray *tm_timers;   /* of TmTimer*, in start order */
static long tm_timer_last_id;
static guint64 tm_timer_round;

/* The earliest deadline of a live timer, G_MAXINT64 when there is none. Written with the GIL
 * held by start/stop/run; read by tm_timer_poll(), which also runs with the GIL held. */
static gint64 tm_next_deadline = G_MAXINT64;
/* TRUE from the moment the poll scheduled tm_timer_run() until it starts. GIL. */
static gboolean tm_run_pending;

static void
tm_timer_free(TmTimer *timer)
{
    Py_DECREF(timer->func);
    Py_DECREF(timer->args);
    Py_XDECREF(timer->kwargs);
    g_free(timer);
}

static void
tm_timer_update_deadline(void)
{
    gint64 next = G_MAXINT64;

    if (tm_timers != NULL) {
        for (guint i = 0; i < tm_timers->len; i++) {
            TmTimer *timer = g_ptr_array_index(tm_timers, i);
            if (!timer->stopped && timer->deadline < next)
                next = timer->deadline;
        }
    }
    tm_next_deadline = next;
}

/* The pending call: run every due timer once. */
static int
tm_timer_run(void *arg)
{
    guint64 round = ++tm_timer_round;
    gint64 now = g_get_monotonic_time();

    (void)arg;
    tm_run_pending = FALSE;
    for (;;) {
        TmTimer *timer = NULL;
        PyObject *result;
        guint depth;

        /* Rescan after every callback: callbacks may start and stop timers. */
        for (guint i = 0; tm_timers != NULL && i < tm_timers->len; i++) {
            TmTimer *t = g_ptr_array_index(tm_timers, i);
            if (!t->stopped && !t->running && t->round != round && t->deadline <= now) {
                timer = t;
                break;
            }
        }
        if (timer == NULL)
            break;
        timer->round = round;
        timer->running = TRUE;
        /* The pending call may run inside the tracer's work, where tracing is suspended: a
         * user's callback is traced all the same (the package's suspend themselves). */
        depth = tm_engine_suspend_depth();
        tm_engine_set_suspend_depth(0);
        result = PyObject_Call(timer->func, timer->args, timer->kwargs);
        if (result == NULL)
            PyErr_WriteUnraisable(timer->func);
        Py_XDECREF(result);
        tm_engine_set_suspend_depth(depth);
        timer->running = FALSE;
        if (timer->stopped) {
            g_ptr_array_remove(tm_timers, timer);
            tm_timer_free(timer);
        }
        else {
            timer->deadline = g_get_monotonic_time() + timer->interval;
        }
    }
    tm_timer_update_deadline();
    return 0;
}

void
tm_timer_poll(void)
{
    if (G_LIKELY(tm_next_deadline == G_MAXINT64) || tm_run_pending)
        return;
    if (g_get_monotonic_time() < tm_next_deadline)
        return;
    tm_run_pending = TRUE;
    if (Py_AddPendingCall(tm_timer_run, NULL) < 0)
        tm_run_pending = FALSE;  /* the queue is full: try again at the next allocation */
}

long
tm_timer_start(double delay, PyObject *func, PyObject *args, PyObject *kwargs)
{
    TmTimer *timer;

    if (!(delay > 0) || delay > 1e9) {
        PyErr_SetString(PyExc_ValueError, "delay must be a number of seconds > 0");
        return -1;
    }
    if (!PyCallable_Check(func)) {
        PyErr_SetString(PyExc_TypeError, "func must be callable");
        return -1;
    }
    if (tm_timers == NULL)
        tm_timers = g_ptr_array_new();
    timer = g_new0(TmTimer, 1);
    timer->id = ++tm_timer_last_id;
    timer->interval = (gint64)(delay * G_USEC_PER_SEC);
    if (timer->interval < 1)
        timer->interval = 1;
    timer->deadline = g_get_monotonic_time() + timer->interval;
    Py_INCREF(func);
    timer->func = func;
    Py_INCREF(args);
    timer->args = args;
    Py_XINCREF(kwargs);
    timer->kwargs = kwargs;
    g_ptr_array_add(tm_timers, timer);
    tm_timer_update_deadline();
    return timer->id;
}

void
tm_timer_stop(long id)
{
    GPtrArray *dead = g_ptr_array_new();

    for (guint i = 0; tm_timers != NULL && i < tm_timers->len;) {
        TmTimer *timer = g_ptr_array_index(tm_timers, i);
        if ((id == 0 || timer->id == id) && !timer->stopped) {
            timer->stopped = TRUE;
            if (!timer->running) {
                g_ptr_array_remove_index(tm_timers, i);
                g_ptr_array_add(dead, timer);
                continue;
            }
        }
        i++;
    }
    tm_timer_update_deadline();
    /* Drop the references last: a finaliser may start or stop timers. */
    for (guint i = 0; i < dead->len; i++)
        tm_timer_free(g_ptr_array_index(dead, i));
    g_ptr_array_free(dead, TRUE);
}

guint
tm_timer_count(void)
{
    guint count = 0;

    for (guint i = 0; tm_timers != NULL && i < tm_timers->len; i++)
        if (!((TmTimer *)g_ptr_array_index(tm_timers, i))->stopped)
            count++;
    return count;
}
