/* The sampling mode: the decision, the weights and the filter of sampled addresses (the
 * contract is in sample.h, the reasoning in doc/internals.rst, "Sampling"). */
#include "engine.h"
#include "sample.h"

#include <math.h>
#include <string.h>

gsize tm_sample_bytes;
guint tm_sample_epoch = 1;  /* a new thread (epoch 0) draws before its first decision */
guint64 tm_sample_filter[(1u << TM_SAMPLE_FILTER_LOG2) / 64];

__thread guint64 tm_sample_left __attribute__((tls_model("initial-exec")));
__thread guint tm_sample_thread_epoch __attribute__((tls_model("initial-exec")));
/* The calling thread's xorshift64* state; never 0 once seeded. */
static __thread guint64 tm_sample_rng __attribute__((tls_model("initial-exec")));

/* Written by tm_sample_start() with the GIL held before the hooks are installed. */
static guint64 tm_sample_seed;
/* Threads that drew their first countdown in this mode: each mixes its number into the seed,
 * so that two threads never share a sequence. Atomic increments. */
static guint tm_sample_threads;

/* Protected by tm_lock: the number of bits set in tm_sample_filter. */
static guint tm_sample_filter_bits;

/* splitmix64: spreads a seed over the 64 bits of a xorshift state. */
static guint64
tm_sample_mix(guint64 x)
{
    x += G_GUINT64_CONSTANT(0x9E3779B97F4A7C15);
    x = (x ^ (x >> 30)) * G_GUINT64_CONSTANT(0xBF58476D1CE4E5B9);
    x = (x ^ (x >> 27)) * G_GUINT64_CONSTANT(0x94D049BB133111EB);
    return x ^ (x >> 31);
}

/* A uniform double in [0, 1) from the calling thread's generator. */
static double
tm_sample_uniform(void)
{
    guint64 x = tm_sample_rng;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    tm_sample_rng = x;
    return (double)((x * G_GUINT64_CONSTANT(0x2545F4914F6CDD1D)) >> 11) * (1.0 / 9007199254740992.0);
}

/* A countdown: ceil(X) for X exponential of mean n, at least 1. P(countdown <= s) is then
 * exactly 1 - exp(-s/n) for every whole s, and what remains of it after s bytes that did not
 * reach it has the same law as a fresh one. */
static guint64
tm_sample_draw(gsize n)
{
    double x = -(double)n * log1p(-tm_sample_uniform());

    if (!(x >= 1.0))
        return 1;
    if (x >= 9.0e18)
        return G_GUINT64_CONSTANT(9000000000000000000);
    return (guint64)ceil(x);
}

gsize
tm_sample_weight(gsize size, gsize n)
{
    double ratio, weighted;

    if (size == 0)
        return n;
    ratio = (double)size / (double)n;
    if (ratio > 40.0)  /* exp(-40) < 2**-53: p(size) is 1 */
        return size;
    weighted = (double)size / -expm1(-ratio);
    return (gsize)(weighted + 0.5);
}

gboolean
tm_sample_decide(gsize size, gsize *weighted)
{
    gsize n = __atomic_load_n(&tm_sample_bytes, __ATOMIC_RELAXED);
    guint epoch = __atomic_load_n(&tm_sample_epoch, __ATOMIC_RELAXED);

    if (n == 0) {
        /* Exact: everything is recorded, and the countdown stays 0 so that the fast path
         * never skips. */
        tm_sample_thread_epoch = epoch;
        tm_sample_left = 0;
        *weighted = size;
        return TRUE;
    }
    if (tm_sample_thread_epoch != epoch) {
        /* A countdown of an earlier mode, or none: draw one for this mode, then decide. */
        guint serial = __atomic_fetch_add(&tm_sample_threads, 1, __ATOMIC_RELAXED);

        tm_sample_rng = tm_sample_mix(__atomic_load_n(&tm_sample_seed, __ATOMIC_RELAXED)
                                      ^ tm_sample_mix(serial));
        if (tm_sample_rng == 0)
            tm_sample_rng = 1;
        tm_sample_thread_epoch = epoch;
        tm_sample_left = tm_sample_draw(n);
        if (size < tm_sample_left) {
            tm_sample_left -= size;
            return FALSE;
        }
    }
    /* The countdown ran out within this block: it is sampled; the next countdown starts
     * afresh after it. */
    tm_sample_left = tm_sample_draw(n);
    *weighted = tm_sample_weight(size, n);
    return TRUE;
}

void
tm_sample_start(gsize n, guint64 seed)
{
    if (seed == 0)
        seed = (guint64)g_get_real_time() ^ ((guint64)g_get_monotonic_time() << 20)
               ^ (guint64)(guintptr)&seed;
    __atomic_store_n(&tm_sample_seed, seed, __ATOMIC_RELAXED);
    __atomic_store_n(&tm_sample_threads, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&tm_sample_bytes, n, __ATOMIC_RELAXED);
    __atomic_add_fetch(&tm_sample_epoch, 1, __ATOMIC_RELAXED);
    /* No hook runs our code (not tracing): the filter can be emptied in place. */
    memset(tm_sample_filter, 0, sizeof(tm_sample_filter));
    tm_sample_filter_bits = 0;
}

/* Set the bit of ptr; TRUE if it was clear. tm_lock held. */
static gboolean
tm_sample_set_bit_locked(const void *ptr)
{
    guint h = tm_sample_hash(ptr);
    guint64 word = __atomic_load_n(&tm_sample_filter[h / 64], __ATOMIC_RELAXED);
    guint64 bit = G_GUINT64_CONSTANT(1) << (h % 64);

    if (word & bit)
        return FALSE;
    __atomic_store_n(&tm_sample_filter[h / 64], word | bit, __ATOMIC_RELAXED);
    tm_sample_filter_bits++;
    return TRUE;
}

void
tm_sample_mark_locked(const void *ptr)
{
    gsize live;

    if (!tm_sample_active() || !tm_sample_set_bit_locked(ptr))
        return;
    /* Bits of blocks freed since they were set pile up (a free never clears one: another
     * block may share it). Once they are many more than the blocks recorded, rebuild: the
     * filter lets through about one free in (2**16 / bits set). */
    live = (tm_store != NULL ? tm_store_count(tm_store) : 0) + tm_own_count;
    if (tm_sample_filter_bits > 2048 && tm_sample_filter_bits > 4 * live)
        tm_sample_rebuild_locked();
}

static guint64 tm_sample_next[(1u << TM_SAMPLE_FILTER_LOG2) / 64];  /* tm_lock */

static gboolean
tm_sample_add_next(guintptr ptr, const TmTrace *trace, gpointer user_data)
{
    guint h;

    (void)user_data;
    if (trace->domain == TM_DEFAULT_DOMAIN) {
        h = tm_sample_hash((const void *)ptr);
        tm_sample_next[h / 64] |= G_GUINT64_CONSTANT(1) << (h % 64);
    }
    return TRUE;
}

void
tm_sample_rebuild_locked(void)
{
    guint i, bits = 0;

    memset(tm_sample_next, 0, sizeof(tm_sample_next));
    if (tm_store != NULL)
        tm_store_foreach(tm_store, tm_sample_add_next, NULL);
    tm_own_foreach_locked(tm_sample_add_next, NULL);
    /* Word by word: a hook reading without the lock sees the old word (a superset) or the new
     * one, and both have the bit of every block still recorded (none is added or removed
     * meanwhile: that takes tm_lock). */
    for (i = 0; i < G_N_ELEMENTS(tm_sample_filter); i++) {
        __atomic_store_n(&tm_sample_filter[i], tm_sample_next[i], __ATOMIC_RELAXED);
        bits += (guint)__builtin_popcountll(tm_sample_next[i]);
    }
    tm_sample_filter_bits = bits;
}
