/* The sampling mode (sample.c): which allocations the hooks record when tracing started with
 * sample_bytes = N > 0, the weight of a recorded one, and the filter of sampled addresses that
 * lets a free skip the table lock. doc/internals.rst, "Sampling", has the reasoning.
 *
 * The decision: each thread counts down the bytes it allocates; the countdown is drawn from an
 * exponential distribution of mean N (rounded up to whole bytes), and the allocation that
 * brings it to zero or below is sampled, after which a fresh countdown is drawn. An
 * allocation of s bytes is then sampled with probability p(s) = 1 - exp(-s/N), independently
 * of the others (the exponential forgets what was consumed of it), as tcmalloc, jemalloc and
 * Go's heap profiler do. A sampled block is recorded in the store with the size
 * s / p(s) (its weighted size: the bytes it stands for, rounded to the nearest byte), so that
 * every sum of sizes (traced memory, its peak, each line's and each traceback's share) is an
 * unbiased estimate; the Python layer derives the blocks it stands for, 1 / p(s), from the
 * weighted size (tracemalloc/_sampling.py).
 *
 * In exact mode (N = 0) every allocation is recorded with its own size, as before; the fast
 * path costs it one failed compare.
 *
 * The per-thread state (tm_thread.sample_left and .sample_epoch, engine.h; tm_sample_rng) is
 * thread-local: only its own thread reads or writes it, from the hooks. The globals are
 * written only by tm_sample_start(), with the GIL held and before the hooks are installed, and
 * read by the hooks with relaxed atomic loads; the filter's words are written with tm_lock held
 * and read by the hooks without it. Nothing here allocates or touches a Python object. */
#ifndef PYTRACEMALLOC_SAMPLE_H
#define PYTRACEMALLOC_SAMPLE_H

#include "engine.h"  /* TmThread */

/* The mean sampling interval in bytes, 0 in exact mode. Written by tm_sample_start() only. */
extern TM_HIDDEN gsize tm_sample_bytes;
/* Incremented by each tm_sample_start(): a thread whose tm_thread.sample_epoch differs has a
 * countdown of an earlier mode (or none yet) and draws a new one. */
extern TM_HIDDEN guint tm_sample_epoch;

/* The calling thread's countdown and its epoch are tm_thread.sample_left and
 * tm_thread.sample_epoch (engine.h): the fast path finds them, the reentrancy flag and the
 * suspension from one address. */

/* The filter of sampled addresses: one bit per hash of an address, set while a block of the
 * default domain that hashes to it is in tm_store or the tracer's store (sampling only). The
 * hooks mark a block as it enters a store (tm_sample_mark_locked) and forget it once it left
 * both (tm_sample_forget_locked, which looks in the stores: a call where nothing left is
 * harmless, and a missing one only costs a needless lookup later). A clear bit means that no
 * store has the block: its free, resize or push onto a free list needs neither tm_lock nor a
 * lookup. A set bit costs the slow path: one free in about (2**16 / blocks recorded), and the
 * blocks recorded are few while sampling. In exact mode every bit is set, so that the hooks
 * need not ask for the mode before they look. Words written with tm_lock held (relaxed
 * atomic stores, each word from one correct value to another), read by the hooks without
 * it. */
#define TM_SAMPLE_FILTER_LOG2 16
G_STATIC_ASSERT(TM_SAMPLE_FILTER_LOG2 == 16);  /* tm_sample_hash() */
extern TM_HIDDEN guint64 tm_sample_filter[(1u << TM_SAMPLE_FILTER_LOG2) / 64];

/* Sampling: the hooks skip what is not sampled. Relaxed load, any thread. */
static inline gboolean
tm_sample_active(void)
{
    return __atomic_load_n(&tm_sample_bytes, __ATOMIC_RELAXED) != 0;
}

/* The bit of the block at ptr: bits 4 to 9 of the address pick the bit in its word, bits 10 to
 * 19 folded with 20 to 29 the word (TM_SAMPLE_FILTER_LOG2 is 16). Blocks within 1 MiB of each
 * other never share a bit, and those of one pymalloc pool share a few cache lines of the
 * filter, where a multiplicative hash sent each push to a line of its own: the free-list churn
 * touches a small set of addresses, over and over. */
static inline guint
tm_sample_hash(const void *ptr)
{
    guintptr p = (guintptr)ptr;

    return (guint)((((p >> 10) ^ (p >> 20)) & 1023) << 6 | ((p >> 4) & 63));
}

/* FALSE when no store can have a block at ptr (its bit is clear); TRUE: maybe. The bit of
 * tm_sample_hash(), with shifts the compiler need not recompute. */
static inline gboolean
tm_sample_maybe_recorded(const void *ptr)
{
    guintptr p = (guintptr)ptr;
    guint64 word = __atomic_load_n(&tm_sample_filter[((p >> 10) ^ (p >> 20)) & 1023],
                                   __ATOMIC_RELAXED);

    return (word >> ((p >> 4) & 63)) & 1;
}

/* The fast path of the decision, inlined in the hooks: the calling thread (not suspended,
 * not reentrant) allocates size bytes, and its countdown of the current mode does not run
 * out: the countdown is consumed and TRUE returned (not sampled). FALSE: the hook takes its
 * slow path and asks tm_sample_decide(). A compare and a subtraction of thread-local values;
 * never TRUE in exact mode (no countdown is of its epoch, or the countdown is 0). */
static inline gboolean
tm_sample_skip(gsize size)
{
    TmThread *thread = &tm_thread;

    if (G_LIKELY(thread->sample_epoch == __atomic_load_n(&tm_sample_epoch, __ATOMIC_RELAXED)
                 && size < thread->sample_left)) {
        thread->sample_left -= size;
        return TRUE;
    }
    return FALSE;
}

/* The slow path of the decision, after tm_sample_skip() returned FALSE for size: TRUE if the
 * block is to be recorded, with the size to record in *weighted (size itself in exact mode);
 * FALSE if it is not sampled after all (a thread's first countdown of the mode, just drawn,
 * did not run out). */
gboolean tm_sample_decide(gsize size, gsize *weighted);

/* The weighted size of a sampled block of size bytes at mean interval n > 0:
 * round(size / (1 - exp(-size/n))); n for size 0, size itself once p(size) is 1 in a double. */
gsize tm_sample_weight(gsize size, gsize n);

/* Set the mode for the next tracing session: n = 0 exact, else the mean interval; seed != 0
 * makes the threads' random sequences reproducible (for the tests), 0 seeds from the clock.
 * Empties the filter. GIL held, not tracing (tm_tracing FALSE); takes tm_lock. */
void tm_sample_start(gsize n, guint64 seed);

/* The block ptr of the default domain entered tm_store or the tracer's store: count it in the
 * filter (sampling only; exact mode does not read the filter). tm_lock held. */
void tm_sample_mark_locked(const void *ptr);

/* The block ptr of the default domain may have left the stores (freed, moved, pushed onto a
 * free list, untracked): if neither store has it, uncount it. tm_lock held. */
void tm_sample_forget_locked(const void *ptr);

/* Bytes of the sampling mode's tables (the filter, its counts, the set of addresses), 0 in
 * exact mode. tm_lock held. */
gsize tm_sample_memory_locked(void);

/* Uncount every block that left the stores unseen (clear_traces() dropped their traces).
 * tm_lock held. */
void tm_sample_prune_locked(void);

#endif /* PYTRACEMALLOC_SAMPLE_H */
