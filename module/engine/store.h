/* The trace store: traces keyed by block address, interned tracebacks and filenames, counters.
 *
 * Pure C and glib: it knows nothing of Python, so the GTest suite exercises it without an
 * interpreter. Filenames are opaque pointers chosen by the caller (the engine passes the
 * co_filename str object, on which it holds a reference while the store knows the pointer).
 *
 * Memory: everything comes from glib (g_malloc / g_slice / glib tables), i.e. the system
 * allocator, or from mmap (trace tables of 2 MiB and more), never from a Python allocator
 * domain, so the tracer never traces itself.
 *
 * Locking: none inside. The engine calls every function on a store reachable from its hooks
 * (but the hint tm_store_prefetch) with its table lock held (tm_lock, a spin lock: engine.h);
 * a store it has detached, it uses without the lock. The tests are single-threaded.
 *
 * Out of memory: the trace tables, the traceback and node sets and vectors (and the groups of
 * the domains other than the default one) are allocated with g_try_*, and a function that
 * fails for lack of them returns -1 (or NULL) with the store unchanged, as its comment says;
 * the small glib hash tables (domains, filenames, sizes of 4 GiB and more, the index of the
 * groups of a domain) abort on out of memory as glib does. Counts (1/0) and lookups never
 * fail. */
#ifndef PYTRACEMALLOC_STORE_H
#define PYTRACEMALLOC_STORE_H

#include <glib.h>

G_BEGIN_DECLS

/* The largest number of frames a traceback can hold. */
#define TM_MAX_NFRAME 65535

/* Domain of the blocks seen by the Python allocator hooks. PyTraceMalloc_Track may add others. */
#define TM_DEFAULT_DOMAIN 0u

typedef struct {
    gconstpointer filename; /* interned with tm_store_intern_filename(); NULL: unknown */
    guint lineno;           /* 0: unknown */
} TmFrame;

/* An interned traceback: immutable, owned by the store, alive until tm_store_clear()/free().
 * Two equal frame arrays (with the same total_nframe) are the same TmTraceback, so pointers
 * compare. Its frames are kept in the store, shared with the tracebacks that have the same
 * callers: read them with tm_traceback_iter_init()/tm_traceback_iter_next() or
 * tm_store_traceback_frames(). The fields ending in _ are the store's. */
typedef struct {
    guint32 node_;        /* the store's: its most recent frame; 0 iff nframe is 0 */
    guint32 index_;       /* the store's: its position */
    guint32 hash_;        /* the store's: hash of its frames and counts */
    guint16 nframe;       /* frames stored, most recent first; 0 means "no Python frame" */
    guint16 total_nframe; /* frames the stack really had (>= nframe, saturated at 65535) */
} TmTraceback;

/* A walk over the frames of a traceback, most recent first: on the stack, no allocation. */
typedef struct {
    gconstpointer nodes_;
    guint32 node_;
} TmFrameIter;

typedef struct {
    guint domain;
    gsize size;                  /* requested size in bytes */
    const TmTraceback *traceback;
} TmTrace;

typedef struct TmStore TmStore;

/* Called once for every interned filename when the store forgets it (clear or free). */
typedef void (*TmFilenameRelease)(gconstpointer filename, gpointer user_data);

/* Iteration callback: return FALSE to stop. The trace is valid only during the call;
 * the callback must not modify the store. */
typedef gboolean (*TmTraceFunc)(guintptr ptr, const TmTrace *trace, gpointer user_data);

/* Callback of tm_store_foreach_group: the traces of traceback in domain, count of them (> 0)
 * whose sizes sum to size. Return FALSE to stop; the callback must not modify the store. */
typedef gboolean (*TmGroupFunc)(guint domain, const TmTraceback *traceback, gsize size,
                                gsize count, gpointer user_data);

/* Create an empty store. release (may be NULL) is called for each filename forgotten.
 * Returns NULL on out of memory (of the store itself). */
TmStore *tm_store_new(TmFilenameRelease release, gpointer user_data);

/* Forget everything (as tm_store_clear) and free the store. NULL is accepted. */
void tm_store_free(TmStore *store);

/* Remove every trace, parked block, traceback and filename; the counters return to 0. The
 * release callback runs once per filename at the end, on an empty store. Never fails. */
void tm_store_clear(TmStore *store);

/* Intern a filename pointer. Returns TRUE if the store did not know it before: the caller then
 * owns the duty to keep it alive until the release callback is called for it. A filename only
 * enters the store this way; frames passed to tm_store_intern_traceback() must use interned
 * filenames (or NULL). NULL itself is never recorded: it returns FALSE and is never released.
 * Never fails (the filename set is a glib hash table). */
gboolean tm_store_intern_filename(TmStore *store, gconstpointer filename);

/* Return the interned traceback equal to frames[0..nframe) with that total_nframe, creating it
 * if needed. nframe <= TM_MAX_NFRAME. total_nframe is saturated at TM_MAX_NFRAME and raised to
 * nframe if lower. Frames are compared field by field (their padding is ignored). Returns NULL
 * on out of memory (nothing changed). */
const TmTraceback *tm_store_intern_traceback(TmStore *store, const TmFrame *frames,
                                             guint nframe, guint total_nframe);

/* Start a walk over the frames of traceback (from store). The walk is valid until the store
 * is next modified (the engine: while tm_lock is held). Never fails. */
void tm_traceback_iter_init(TmFrameIter *iter, const TmStore *store,
                            const TmTraceback *traceback);

/* The next frame of the walk into *frame: TRUE, or FALSE after the last (nframe of them). */
gboolean tm_traceback_iter_next(TmFrameIter *iter, TmFrame *frame);

/* Copy the frames of traceback (from store), most recent first, into frames, which has room
 * for traceback->nframe of them; returns that number. Never fails. */
guint tm_store_traceback_frames(const TmStore *store, const TmTraceback *traceback,
                                TmFrame *frames);

/* Record that the block ptr of size bytes in domain was allocated with traceback (from
 * tm_store_intern_traceback of the same store). If ptr already has a trace in that domain it
 * is replaced (counters adjusted); a parked entry of ptr becomes the trace. Updates traced,
 * count and peak. Returns 0, or -1 on out of memory (nothing changed). */
int tm_store_add(TmStore *store, guint domain, guintptr ptr, gsize size,
                 const TmTraceback *traceback);

/* A hint, before an add, remove, park or move of ptr in the default domain: start loading the
 * slots of the trace table where its entry is, so that the cache miss overlaps the caller's
 * work (the capture of a traceback, the allocator's free). Changes nothing, reads nothing
 * but the table's address and size. May be called without the lock by a thread that keeps
 * the store alive otherwise (the engine: a hook holding the GIL of the tracing interpreter,
 * which start, stop and clear hold too): a table resized meanwhile only makes the hint
 * useless, since a prefetch never faults. */
void tm_store_prefetch(const TmStore *store, guintptr ptr);

/* Forget the trace of ptr in domain, or its parked entry. Returns TRUE and stores its size in
 * *size (if not NULL) when there was a trace, FALSE otherwise. Never fails. */
gboolean tm_store_remove(TmStore *store, guint domain, guintptr ptr, gsize *size);

/* Undo the store's last event if it was the tm_store_add() of ptr in domain into an entry
 * that held no trace (a new address, or a block reused from a free list): the trace goes, and
 * traced memory, the count and the peak (value and groups) are what they would be had the
 * block never been traced; its parked entry, if it had one, does not come back. Returns TRUE
 * and the size in *size (if not NULL), or FALSE with nothing changed: another event came
 * after that add, the add replaced a trace, or ptr is not the block it added (the caller may
 * then tm_store_remove() it). Never fails. */
gboolean tm_store_retract(TmStore *store, guint domain, guintptr ptr, gsize *size);

/* The block ptr (default domain) of size bytes goes onto a free list: its trace, if any, goes
 * and the block is parked, an entry that is no trace (tm_store_get and tm_store_foreach do not
 * see it; tm_store_add of ptr turns it into a trace again, tm_store_remove forgets it and
 * returns FALSE). Returns 1 if ptr had a trace, 0 if not, -1 on out of memory (nothing
 * changed). */
int tm_store_park(TmStore *store, guintptr ptr, gsize size);

/* The sum of sizes and the number of parked blocks. */
void tm_store_parked(const TmStore *store, gsize *size, gsize *count);

/* Park in dst every block parked in src (src unchanged). Returns 0, or -1 on out of memory
 * (some may be parked in dst already: the call is not undone). */
int tm_store_take_parked(TmStore *dst, const TmStore *src);

/* Move the trace of old_ptr to new_ptr with new_size, keeping its traceback (realloc that kept
 * the origin of the block); a trace already at new_ptr is replaced. Returns 1 if moved, 0 if
 * old_ptr had no trace (a parked entry of old_ptr is forgotten, else nothing changed). Never
 * fails. */
int tm_store_move(TmStore *store, guint domain, guintptr old_ptr, guintptr new_ptr,
                  gsize new_size);

/* Look up a trace; NULL if none. Valid until the store is next modified. */
const TmTrace *tm_store_get(TmStore *store, guint domain, guintptr ptr);

/* Counters over all domains. */
gsize tm_store_traced(const TmStore *store);  /* sum of sizes of live traces */
gsize tm_store_peak(const TmStore *store);    /* max of traced since creation/clear/reset */
gsize tm_store_count(const TmStore *store);   /* number of live traces */
void tm_store_reset_peak(TmStore *store);     /* peak = traced: the peak's groups are now's */

/* The traces grouped by (domain, traceback): call func for each group with at least one
 * trace, until it returns FALSE; the default domain first, in no given order. at_peak FALSE:
 * the live traces (the same sums as tm_store_foreach). at_peak TRUE: the traces that were
 * live when traced memory reached tm_store_peak(), the first time it reached that value since
 * the store was created, cleared or its peak reset (a reset makes the peak the current state);
 * their sizes sum to tm_store_peak() exactly. Adds, removes, parks and moves keep it in O(1)
 * each (peak.h); this call costs O(tracebacks + groups of the other domains). Never fails. */
void tm_store_foreach_group(TmStore *store, gboolean at_peak, TmGroupFunc func,
                            gpointer user_data);

/* Bytes of memory the store holds: tables, traces, tracebacks (an honest estimate from the
 * sizes it allocated, including table capacity, not just entries). */
gsize tm_store_memory(const TmStore *store);

/* Number of interned tracebacks / nodes of their tree (distinct frames with their callers) /
 * filenames (for tests and diagnostics). */
guint tm_store_traceback_count(const TmStore *store);
guint tm_store_node_count(const TmStore *store);
guint tm_store_filename_count(const TmStore *store);

/* Call func for each trace (every domain, unspecified order) until it returns FALSE. */
void tm_store_foreach(TmStore *store, TmTraceFunc func, gpointer user_data);

/* The g_try_* allocations made for a store: its own, and the copies that export.c makes of
 * it under tm_lock. They are the sites of tm_store_fail_allocation(); the glib hash tables
 * and arrays (which abort on out of memory) are not among them. */
typedef enum {
    TM_ALLOC_TRACE_TABLE,     /* the slots of a trace table, as it is created or grows */
    TM_ALLOC_DOMAIN_TABLE,    /* the table of a domain's first trace */
    TM_ALLOC_TRACEBACK_VEC,   /* the vector of the tracebacks' groups, as it grows */
    TM_ALLOC_TRACEBACK_SET,   /* the traceback set, as it grows */
    TM_ALLOC_TRACEBACK,       /* a chunk of tracebacks (the 17th, 49th, 113th... traceback) */
    TM_ALLOC_NODE_VEC,        /* the nodes of the traceback tree, and the copy of the last
                               * traceback's frames and nodes, as they grow */
    TM_ALLOC_NODE_SET,        /* the set of the nodes, as it grows */
    TM_ALLOC_DOMAIN_GROUP,    /* the peak counts of a traceback in a domain other than 0 */
    TM_ALLOC_COPY_TRACEBACK,  /* a traceback copied out of the store (export.c) */
    TM_ALLOC_COPY_ITEMS,      /* the array of traces or groups copied out (export.c) */
    TM_ALLOC_COPY_LINE,       /* a line of the statistics summed under the lock (export.c) */
    TM_ALLOC_NSITES
} TmAllocSite;

/* The name of a site ("trace table", ...), for the tests. */
const char *tm_store_alloc_site_name(TmAllocSite site);

/* Whether the allocation for site that the caller is about to make may be attempted: FALSE
 * once, when the countdown of tm_store_fail_allocation() runs out, and the site is then
 * recorded (tm_store_failed_sites). Every g_try_* allocation for the store asks first. The
 * caller owns the store as it does for a modification (tm_lock held for the engine's). */
gboolean tm_store_try_alloc(TmStore *store, TmAllocSite site);

/* For the tests of out-of-memory paths: the n-th allocation attempted for the store (the
 * calls of tm_store_try_alloc) from now on fails, as if memory ran out, once (n = 0: none). */
void tm_store_fail_allocation(TmStore *store, guint n);

/* The sites whose allocation tm_store_fail_allocation() made fail (bit 1 << site each), and
 * the number of allocations attempted, since the store was created. */
guint tm_store_failed_sites(const TmStore *store);
guint64 tm_store_alloc_attempts(const TmStore *store);

G_END_DECLS

#endif /* PYTRACEMALLOC_STORE_H */
