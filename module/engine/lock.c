/* The table lock, tm_lock, and the state it protects (tm_store, tm_tracing, tm_lost; it also
 * guards the tracer's store, defined in suspend.c): its slow path and the fork handlers that
 * keep it consistent across fork(). Why a spin lock, and the rules of each variable:
 * engine.h. */
#include "engine.h"

#include <pthread.h>
#include <sched.h>
#include <time.h>

int tm_lock;
__thread int tm_lock_owned __attribute__((tls_model("initial-exec")));
TmStore *tm_store;
gboolean tm_tracing;
guint64 tm_lost;

void
tm_lock_wait(void)
{
    guint spins = 0;

    do {
        if (spins < 64) {
#if defined(__x86_64__) || defined(__i386__)
            __builtin_ia32_pause();
#endif
        }
        else if (spins < 128) {
            sched_yield();
        }
        else {
            struct timespec pause = { 0, 50000 };  /* 50 us */
            nanosleep(&pause, NULL);
        }
        spins++;
    } while (__atomic_load_n(&tm_lock, __ATOMIC_RELAXED) || !tm_lock_try());
}

static void
tm_fork_prepare(void)
{
    tm_lock_acquire();
}

static void
tm_fork_parent(void)
{
    tm_lock_release();
}

/* Only the forking thread survives in the child; it held tm_lock across fork(), so the
 * tables it inherits are consistent, the tracer's store with them (and the thread's
 * suspension depth, thread-local, with the thread). */
static void
tm_fork_child(void)
{
    tm_lock_release();
}

/* Protected by the GIL. */
static gboolean tm_fork_registered;

int
tm_lock_register_fork(void)
{
    if (tm_fork_registered)
        return 0;
    if (pthread_atfork(tm_fork_prepare, tm_fork_parent, tm_fork_child) != 0)
        return -1;
    tm_fork_registered = TRUE;
    return 0;
}
