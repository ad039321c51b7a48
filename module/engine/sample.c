/* The sampling mode: the decision, the weights and the filter of sampled addresses (the
 * contract is in sample.h, the reasoning in doc/internals.rst, "Sampling"). */
#include "engine.h"
#include "sample.h"

#include <math.h>
#include <string.h>

gsize tm_sample_bytes;
guint tm_sample_epoch = 1;  /* a new thread (epoch 0) draws before its first decision */
guint64 tm_sample_filter[(1u << TM_SAMPLE_FILTER_LOG2) / 64];

/* The calling thread's xorshift64* state; never 0 once seeded. */
static __thread guint64 tm_sample_rng __attribute__((tls_model("initial-exec")));

/* Written by tm_sample_start() with the GIL held before the hooks are installed. */
static guint64 tm_sample_seed;
/* Threads that drew their first countdown in this mode: each mixes its number into the seed,
 * so that two threads never share a sequence. Atomic increments. */
static guint tm_sample_threads;

/* Protected by tm_lock: the addresses counted in the filter (a set of pointers, created on
 * first use), and per bit of the filter the number of them that hash to it (allocated by
 * tm_sample_start() while sampling only). A bit is set while its count is not 0. */
static GHashTable *tm_sample_set;
static guint32 *tm_sample_counts;
#define TM_SAMPLE_COUNTS_SIZE (sizeof(guint32) << TM_SAMPLE_FILTER_LOG2)

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
    x = (x * G_GUINT64_CONSTANT(0x2545F4914F6CDD1D)) >> 11;  /* 53 random bits */
    return (double)x * (1.0 / 9007199254740992.0);
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
        tm_thread.sample_epoch = epoch;
        tm_thread.sample_left = 0;
        *weighted = size;
        return TRUE;
    }
    if (tm_thread.sample_epoch != epoch) {
        /* A countdown of an earlier mode, or none: draw one for this mode, then decide. */
        guint serial = __atomic_fetch_add(&tm_sample_threads, 1, __ATOMIC_RELAXED);

        tm_sample_rng = tm_sample_mix(__atomic_load_n(&tm_sample_seed, __ATOMIC_RELAXED)
                                      ^ tm_sample_mix(serial));
        if (tm_sample_rng == 0)
            tm_sample_rng = 1;
        tm_thread.sample_epoch = epoch;
        tm_thread.sample_left = tm_sample_draw(n);
        if (size < tm_thread.sample_left) {
            tm_thread.sample_left -= size;
            return FALSE;
        }
    }
    /* The countdown ran out within this block: it is sampled; the next countdown starts
     * afresh after it. */
    tm_thread.sample_left = tm_sample_draw(n);
    *weighted = tm_sample_weight(size, n);
    return TRUE;
}

void
tm_sample_start(gsize n, guint64 seed)
{
    GHashTable *set;
    guint32 *counts, *old_counts;

    if (seed == 0)
        seed = (guint64)g_get_real_time() ^ ((guint64)g_get_monotonic_time() << 20)
               ^ (guint64)(guintptr)&seed;
    __atomic_store_n(&tm_sample_seed, seed, __ATOMIC_RELAXED);
    __atomic_store_n(&tm_sample_threads, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&tm_sample_bytes, n, __ATOMIC_RELAXED);
    __atomic_add_fetch(&tm_sample_epoch, 1, __ATOMIC_RELAXED);
    /* Not tracing: no hook marks or forgets; a RAW hook still running in a thread without
     * the GIL only reads the filter, which may be emptied under it (a block of a stopped
     * session needs no lookup). */
    counts = n != 0 ? g_malloc0(TM_SAMPLE_COUNTS_SIZE) : NULL;  /* zero pages until used */
    tm_lock_acquire();
    set = tm_sample_set;
    tm_sample_set = NULL;
    old_counts = tm_sample_counts;
    tm_sample_counts = counts;
    /* Exact: every block may be recorded, every bit is set (sample.h). */
    memset(tm_sample_filter, n == 0 ? 0xff : 0, sizeof(tm_sample_filter));
    tm_lock_release();
    if (set != NULL)
        g_hash_table_destroy(set);
    g_free(old_counts);
}

gsize
tm_sample_memory_locked(void)
{
    if (tm_sample_counts == NULL)
        return 0;
    /* The filter, its counts, and the set: a glib hash table of pointers holds a key, a hash
     * and a value pointer per slot, with about twice as many slots as entries. */
    return sizeof(tm_sample_filter) + TM_SAMPLE_COUNTS_SIZE
           + (tm_sample_set != NULL ? g_hash_table_size(tm_sample_set) * 2 * 20 : 0);
}

/* Count ptr in the filter's bit h, or uncount it (delta -1); the bit follows. tm_lock held. */
static void
tm_sample_count_locked(const void *ptr, int delta)
{
    guint h = tm_sample_hash(ptr);
    guint64 word = __atomic_load_n(&tm_sample_filter[h / 64], __ATOMIC_RELAXED);
    guint64 bit = G_GUINT64_CONSTANT(1) << (h % 64);

    if (delta > 0) {
        if (tm_sample_counts[h]++ == 0)
            __atomic_store_n(&tm_sample_filter[h / 64], word | bit, __ATOMIC_RELAXED);
    }
    else {
        g_assert(tm_sample_counts[h] > 0);
        if (--tm_sample_counts[h] == 0)
            __atomic_store_n(&tm_sample_filter[h / 64], word & ~bit, __ATOMIC_RELAXED);
    }
}

void
tm_sample_mark_locked(const void *ptr)
{
    if (!tm_sample_active())
        return;
    if (tm_sample_set == NULL)
        tm_sample_set = g_hash_table_new(NULL, NULL);
    if (g_hash_table_add(tm_sample_set, (gpointer)ptr))
        tm_sample_count_locked(ptr, 1);
}

/* Whether a store has the block ptr of the default domain. tm_lock held. */
static gboolean
tm_sample_recorded_locked(const void *ptr)
{
    guintptr address = (guintptr)ptr;

    return (tm_store != NULL && tm_store_get(tm_store, TM_DEFAULT_DOMAIN, address) != NULL)
           || tm_own_has_locked(TM_DEFAULT_DOMAIN, address);
}

void
tm_sample_forget_locked(const void *ptr)
{
    if (tm_sample_set == NULL || tm_sample_recorded_locked(ptr))
        return;
    if (g_hash_table_remove(tm_sample_set, ptr))
        tm_sample_count_locked(ptr, -1);
}

static gboolean
tm_sample_stale(gpointer key, gpointer value, gpointer user_data)
{
    (void)value;
    (void)user_data;
    if (tm_sample_recorded_locked(key))
        return FALSE;
    tm_sample_count_locked(key, -1);
    return TRUE;
}

void
tm_sample_prune_locked(void)
{
    if (tm_sample_set != NULL)
        g_hash_table_foreach_remove(tm_sample_set, tm_sample_stale, NULL);
}
