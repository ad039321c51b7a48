/* The trace store: see store.h for the API and its contracts.
 *
 * Layout, chosen for the hot path (one add and one remove per Python allocation) and for memory
 * per live trace:
 *
 * - Traces live in TraceTable, an open-addressing hash table with linear probing (in a table
 *   of 2 MiB or more, the blocks of a 256-byte chunk of memory have neighbouring homes:
 *   table_home), a power-of-two capacity, a maximum load of 3/4 (1/2 under 2 MiB) and
 *   backward-shift deletion (no tombstones, so a long run of adds and removes never degrades
 *   lookups). Entries are stored inline: no allocation per trace.
 *   An entry is 16 bytes on a 64-bit platform: the block address, the size as 32 bits and the
 *   traceback as a 32-bit index into the store's tracebacks. A size that does not fit in 32 bits (a
 *   block of 4 GiB or more, rare) is kept in a per-table side GHashTable.
 * - A block parked on a free list (tm_store_park) keeps its entry in the default domain's
 *   table, with TB_PARKED for a traceback: parking and reusing it are one lookup each, and the
 *   entry is not a trace (counted apart, invisible to get and foreach).
 * - TM_DEFAULT_DOMAIN has its table inside TmStore; other domains get one each, created on their
 *   first trace, in the GHashTable TmStore.domains.
 * - Tracebacks are a tree of frames that share their callers (as memray and heaptrack keep
 *   them): a node is a frame and the node of the frames older than it (TbNode, 16 bytes, in
 *   the vector TmStore.nodes, interned by frame and parent in the open-addressing set of
 *   32-bit indexes TmStore.node_set), and a traceback is the node of its most recent frame
 *   with its nframe and total_nframe (TmTraceback, 16 bytes, in chunks that never move,
 *   interned in TmStore.tb_set by the hash of its frames, compared by a walk of its nodes).
 *   At 25 frames a traceback cost ~500 bytes as one flat allocation; now 16 bytes, its
 *   slots in the set and the group vector, and the nodes of the frames it does not share
 *   with one seen before. The traceback interned last keeps its frames flat: the same
 *   traceback again (the common case) is one comparison of frame arrays, no hash; a miss
 *   tries a small cache of recent tracebacks, then one lookup by the hash of the frames;
 *   only a new traceback looks its nodes up one by one (those of the oldest frames it
 *   shares with the last one are known). Nothing is allocated on a hit.
 * - Filenames are a GHashTable set of pointers.
 * - The peak (peak.h): every group of traces, a traceback in a domain, has its live size and
 *   count and their values at the peak. The default domain's are in the vector
 *   TmStore.tb_counts, indexed like the tracebacks (the slot a free reads is the one it
 *   updates); those of the
 *   other domains are in a GHashTable of their table, created on the group's first trace.
 *   Every function that changes traced memory is one event of the peak clock.
 *
 * All memory comes from glib (g_malloc family), but trace tables of 2 MiB and more, mapped with
 * mmap (slots_alloc). The trace tables, the traceback and node sets and vectors come
 * from g_try_* (or mmap), through store_try_alloc(), so that running out of
 * memory fails the call and leaves the store unchanged (so do the groups of the other domains);
 * the small glib hash tables (domains, filenames, big sizes, the index of the groups of a
 * domain) abort on out of memory as glib does. */
#include "store.h"
#include "peak.h"

#include <assert.h>
#include <string.h>
#include <sys/mman.h>

/* ---- Trace tables ------------------------------------------------------------------------- */

/* One slot of a TraceTable. A slot is empty iff tb == 0 (g_malloc0 gives empty tables). */
typedef struct {
    guintptr ptr; /* block address, the key */
    guint32 size; /* requested size, or SIZE_BIG: the size is in TraceTable.big */
    guint32 tb;   /* 1 + index of the traceback in the store; 0: empty slot; TB_PARKED */
} TraceEntry;

/* TraceEntry.tb of a block parked on a free list: not a trace. */
#define TB_PARKED G_MAXUINT32

/* The size field cannot hold this value or more; the real size goes to the side table. */
#define SIZE_BIG G_MAXUINT32

/* Smallest non-zero capacity of a trace table (a power of two). */
#define TABLE_MIN_CAPACITY 16

G_STATIC_ASSERT(sizeof(TraceEntry) == sizeof(guintptr) + 2 * sizeof(guint32));
G_STATIC_ASSERT((TABLE_MIN_CAPACITY & (TABLE_MIN_CAPACITY - 1)) == 0);

typedef struct {
    TraceEntry *slots; /* capacity slots; NULL iff capacity == 0 */
    gsize capacity;    /* 0 or a power of two >= TABLE_MIN_CAPACITY */
    guint shift;       /* 64 - log2(capacity): the hash keeps the high bits of the product */
    gsize count;       /* used slots (traces and parked blocks): trace_table_over_limit */
    GHashTable *big;   /* ptr -> size of the entries whose size is SIZE_BIG; NULL if none yet */
    /* Domains other than the default one: TraceEntry.tb -> TmPeakCounts of the traces of
     * that traceback in this table (owned), created on its first trace and kept until clear;
     * NULL if none yet. The default domain keeps them in TmStore.tb_counts. */
    GHashTable *groups;
} TraceTable;

/* ---- Interned tracebacks ------------------------------------------------------------------ */

/* A node of the traceback tree: a frame and the node of the frames older than it (its caller
 * and theirs), so that tracebacks which share their callers share those nodes. Interned by
 * (filename, lineno, parent) in TmStore.node_set: one node per distinct path from the oldest
 * stored frame. 16 bytes, the size of a TmFrame: the parent fills the frame's padding. */
typedef struct {
    gconstpointer filename;
    guint32 lineno;
    guint32 parent; /* 1 + index in TmStore.nodes of the next older frame's node; 0: none */
} TbNode;

G_STATIC_ASSERT(TM_MAX_NFRAME <= G_MAXUINT16);

/* Tracebacks live in chunks that never move, so that the pointers the caller holds stay valid
 * while the store grows: chunk k holds TB_CHUNK0 << k tracebacks, so a small store (a
 * suspended thread's, tm_own_store) takes little and a big one few chunks. */
#define TB_CHUNK0_SHIFT 4
#define TB_CHUNK0 (1u << TB_CHUNK0_SHIFT)
#define TB_NCHUNK 32

/* TmStore.tb_recent, a cache of the tracebacks interned lately: TB_RECENT buckets of 2 ways
 * (two places that alternate and hash to one bucket still both hit). */
#define TB_RECENT_SHIFT 6
#define TB_RECENT (1u << TB_RECENT_SHIFT)
#define TB_RECENT_WAYS 2
G_STATIC_ASSERT(TB_RECENT_WAYS == 2); /* tb_intern_slow() moves way 0 to way 1 */

/* Most tracebacks the store can hold: entry.tb stores index + 1 in 32 bits, below TB_PARKED. */
#define TB_MAX_COUNT (G_MAXUINT32 - 2u)

/* Smallest non-zero capacity of the traceback set and vector. */
#define TB_MIN_CAPACITY 64

struct TmStore {
    TraceTable traces;    /* TM_DEFAULT_DOMAIN */
    GHashTable *domains;  /* other domains: guint domain -> TraceTable* (owned); NULL if none */
    gsize slot_bytes;     /* sum over all tables of capacity * sizeof(TraceEntry) */

    /* Interned tracebacks, owned by the store until tm_store_clear(). A traceback is its
     * node (the most recent frame's) and its total_nframe; the nodes form a tree, the root
     * side being the oldest frames (see TbNode). */
    guint tb_nchunk;         /* chunks of tracebacks: tb_chunks, at the end */
    guint32 *tb_set;       /* open addressing by TmTraceback.hash_: 1 + index, 0: empty;
                            * NULL iff capacity 0 */
    gsize tb_set_capacity; /* 0 or a power of two; tb_count <= tb_set_capacity * 3/4 */
    TmPeakCounts *tb_counts; /* index -> the live traces of the default domain with it */
    gsize tb_counts_capacity;
    guint tb_count;
    TbNode *nodes;           /* node_count used */
    gsize nodes_capacity;
    gsize node_count;
    guint32 *node_set;       /* open addressing by the node's key: 1 + index, 0: empty */
    gsize node_set_capacity; /* 0 or a power of two; node_count <= capacity * 3/4 */
    /* The traceback interned last, or NULL: consecutive allocations mostly come from the same
     * line, and comparing with it first saves the hash and the probes. Its frames are kept
     * flat in last_frames (last_nframe of them) with the node of each in last_path (the
     * node of last_frames[k..]): a miss reuses the nodes of the oldest frames they share.
     * last_spare: the path being built by the next miss. Each of capacity last_capacity. */
    const TmTraceback *tb_last;
    TmFrame *last_frames;
    guint last_nframe;
    guint last_total_nframe; /* tb_last's, beside it: the fast path reads only this line */
    guint32 *last_path;
    guint32 *last_spare;
    gsize last_capacity;

    /* Interned filenames: a set of caller pointers, each released once when forgotten. */
    GHashTable *filenames;
    TmFilenameRelease release;
    gpointer release_data;

    /* Counters over all domains. Invariants: traced == sum of live sizes, count == number of
     * live traces, peak >= traced; parked_size and parked_count: the same for parked blocks.
     * Every group's size and count are those of its live traces, and its sizes at the peak
     * (peak.h, read with clock) sum to peak. */
    gsize traced;
    gsize peak;
    TmPeakClock clock;
    gsize count;
    gsize parked_size;
    gsize parked_count;

    /* The last tm_store_add() that filled an entry holding no trace, for tm_store_retract():
     * its clock (0: none, or the last add replaced a trace), domain and address. */
    guint64 last_add_clock;
    guint last_add_domain;
    guintptr last_add_ptr;

    /* What tm_store_get() returns; valid until the next modification. */
    TmTrace get_result;

    /* Tests: store_try_alloc() fails when it brings this down to 0; 0: never. The sites it
     * made fail (bit 1 << TmAllocSite) and the allocations attempted. */
    guint fail_countdown;
    guint failed_sites;
    guint64 alloc_attempts;

    /* Big arrays at the end, past the fields of the hot path. */
    TmTraceback *tb_chunks[TB_NCHUNK]; /* tb_nchunk used, chunk k of TB_CHUNK0 << k */
    /* A program's allocations alternate between a few places (a loop allocating on three
     * lines): before the lookup of each frame, a miss of tb_last tries the traceback last
     * interned with the same most recent frame and counts, checked by a walk of its nodes. */
    const TmTraceback *tb_recent[TB_RECENT][TB_RECENT_WAYS];
};

/* ---- Memory estimates --------------------------------------------------------------------- */

/* Heap bytes that one malloc(n) really takes with glibc: the request plus the chunk header,
 * rounded up to 16 bytes, at least 32. An estimate on other allocators. */
static gsize
alloc_bytes(gsize n)
{
    gsize chunk = (n + sizeof(gsize) + 15u) & ~(gsize)15u;
    return MAX(chunk, (gsize)32);
}

/* Resident bytes of a vector of capacity items of size bytes, count of them used: all of a
 * small one (a heap chunk among others), the pages up to the last used item of a big one,
 * since a vector grown by realloc() (doubling) leaves its tail untouched until it fills,
 * and untouched pages take no memory. get_tracemalloc_memory() is compared with the RSS the
 * tracing costs (bench/run.py): counting the capacities overstated it by a quarter at 25
 * frames on the workload "real". */
static gsize
vec_bytes(gsize count, gsize capacity, gsize size)
{
    if (capacity * size < ((gsize)128 << 10))
        return capacity * size;
    return (count * size + 4095u) & ~(gsize)4095u;
}

/* Estimate of the bytes of a GHashTable: glib keeps a power-of-two array of hashes (guint) and
 * of keys, plus values unless the table is a set; it resizes to about twice the number of
 * nodes. The struct itself is about 100 bytes. */
static gsize
ghash_bytes(GHashTable *table, gboolean is_set)
{
    gsize n, capacity = 8;
    gsize slot = sizeof(guint) + sizeof(gpointer) * (is_set ? 1 : 2);

    if (table == NULL)
        return 0;
    n = g_hash_table_size(table);
    while (capacity < 2 * n)
        capacity *= 2;
    return alloc_bytes(100) + 3 * alloc_bytes(0) + capacity * slot;
}

/* Whether the next g_try_* allocation, for site, may be attempted: FALSE once, when the
 * countdown of tm_store_fail_allocation() runs out (store.h). */
static inline gboolean
store_try_alloc(TmStore *store, TmAllocSite site)
{
    store->alloc_attempts++;
    if (G_LIKELY(store->fail_countdown == 0) || --store->fail_countdown != 0)
        return TRUE;
    store->failed_sites |= 1u << site;
    return FALSE;
}

/* ---- TraceTable --------------------------------------------------------------------------- */

/* The home slot of a block in a big table: the blocks of one 256-byte chunk of memory have
 * homes in one run of 16 consecutive slots (a quarter of a KiB of slots: four cache lines),
 * in the order of their addresses, and the run starts at a slot chosen by Fibonacci hashing
 * of the chunk number (multiply by an odd 64-bit constant, keep the high bits, which depend
 * on every bit of it). Allocators hand out neighbouring blocks one after the other (pymalloc
 * carves its pools in address order), so the adds and removes of a program touch the table
 * where they touched it last, where a hash of the whole address made each one a cache miss
 * once the table outgrew the cache (1.5 million traces: a 32 MB table). Longer runs cluster:
 * with runs of 256 slots (a 4 KiB page), a page of 16-byte blocks filled its run and linear
 * probing then took 19 probes per lookup on bench/child.py's compile workload and 46 on
 * live (about 2 with the hash of the whole address; 2.1 and 3.2 with runs of 16). */
#define TABLE_CHUNK_SHIFT 8
#define TABLE_SLOT_SHIFT 4

/* A smaller table stays in the cache, where the runs only cost their longer clusters: it
 * hashes the whole address (Fibonacci hashing, as above). The churn workload of the
 * "disabled" variant (every object through the allocator, a small table) walked 4.5 entries
 * per backward-shift deletion with runs and 3.7 without, and was 8% slower with them. A
 * table of 2 MiB (TABLE_BIG_CAPACITY slots) or more is a big table: runs, huge pages
 * (slots_alloc) and the prefetch hint (tm_store_prefetch). */
#define SLOTS_HUGE_BYTES ((gsize)2 << 20)
#define TABLE_BIG_CAPACITY (SLOTS_HUGE_BYTES / sizeof(TraceEntry))

static inline gsize
slot_home(guintptr ptr, guint shift, gsize capacity)
{
    guint64 chunk;
    gsize run, offset;

    if (capacity < TABLE_BIG_CAPACITY)
        return (gsize)(((guint64)ptr * G_GUINT64_CONSTANT(0x9E3779B97F4A7C15)) >> shift);
    chunk = (guint64)(ptr >> TABLE_CHUNK_SHIFT);
    run = (gsize)((chunk * G_GUINT64_CONSTANT(0x9E3779B97F4A7C15)) >> shift);
    offset = (gsize)((ptr >> TABLE_SLOT_SHIFT)
                     & ((1u << (TABLE_CHUNK_SHIFT - TABLE_SLOT_SHIFT)) - 1u));
    return (run + offset) & (capacity - 1);
}

static inline gsize
table_home(const TraceTable *table, guintptr ptr)
{
    return slot_home(ptr, table->shift, table->capacity);
}

/* TRUE if a table of capacity slots may not hold count entries (load above 3/4). */
static inline gboolean
table_over_limit(gsize capacity, gsize count)
{
    return count > capacity - capacity / 4;
}

/* The same for a trace table: a small table (under TABLE_BIG_CAPACITY slots) holds at most
 * half its capacity. Its clusters are shorter, and so are the walks of the backward-shift
 * deletion: on the "disabled" variant's churn, where every object goes through the allocator
 * and the table stays small, table_delete was 13% of the traced time at a load up to 3/4;
 * at 1/2, that churn took 0.63 s instead of 0.82 s (one A/B run of 4), the other workloads
 * the same within the noise. The cost, 2 MiB of slots at most, is nothing beside a big
 * table, which keeps 3/4 (the memory per trace of a program with millions of them). */
static inline gboolean
trace_table_over_limit(gsize capacity, gsize count)
{
    if (capacity < TABLE_BIG_CAPACITY)
        return count > capacity / 2;
    return table_over_limit(capacity, count);
}

/* Return the entry of ptr, or NULL. */
static inline TraceEntry *
table_lookup(const TraceTable *table, guintptr ptr)
{
    gsize mask, i;

    if (table->count == 0)
        return NULL;
    mask = table->capacity - 1;
    for (i = table_home(table, ptr);; i = (i + 1) & mask) {
        TraceEntry *entry = &table->slots[i];
        if (entry->tb == 0)
            return NULL;
        if (entry->ptr == ptr)
            return entry;
    }
}

/* Return the entry of ptr if there is one, else the empty slot where it belongs. The table must
 * have at least one empty slot. */
static inline TraceEntry *
table_probe(const TraceTable *table, guintptr ptr)
{
    gsize mask = table->capacity - 1, i;

    assert(table->count < table->capacity);
    for (i = table_home(table, ptr);; i = (i + 1) & mask) {
        TraceEntry *entry = &table->slots[i];
        if (entry->tb == 0 || entry->ptr == ptr)
            return entry;
    }
}

static inline gsize
table_entry_size(const TraceTable *table, const TraceEntry *entry)
{
    if (G_LIKELY(entry->size != SIZE_BIG))
        return entry->size;
    return GPOINTER_TO_SIZE(g_hash_table_lookup(table->big, (gpointer)entry->ptr));
}

/* Set the size of the live or just claimed entry (its ptr already set). A claimed slot has
 * size 0, so it never has a side-table record to drop. */
static inline void
table_entry_set_size(TraceTable *table, TraceEntry *entry, gsize size)
{
    if (G_LIKELY(size < SIZE_BIG)) {
        if (G_UNLIKELY(entry->size == SIZE_BIG))
            g_hash_table_remove(table->big, (gpointer)entry->ptr);
        entry->size = (guint32)size;
        return;
    }
    if (table->big == NULL)
        table->big = g_hash_table_new(g_direct_hash, g_direct_equal);
    g_hash_table_insert(table->big, (gpointer)entry->ptr, GSIZE_TO_POINTER(size));
    entry->size = SIZE_BIG;
}

/* Empty the slot of a live entry, shifting back the entries of its cluster that may move
 * closer to their home slot, so that lookups never need tombstones. */
static void
table_delete(TraceTable *table, TraceEntry *entry)
{
    gsize mask = table->capacity - 1;
    gsize hole = (gsize)(entry - table->slots);
    gsize i;

    if (G_UNLIKELY(entry->size == SIZE_BIG))
        g_hash_table_remove(table->big, (gpointer)entry->ptr);
    for (i = (hole + 1) & mask; table->slots[i].tb != 0; i = (i + 1) & mask) {
        gsize home = table_home(table, table->slots[i].ptr);
        /* The entry at i may fill the hole iff the hole lies cyclically in [home, i). */
        if (((i - home) & mask) >= ((i - hole) & mask)) {
            table->slots[hole] = table->slots[i];
            hole = i;
        }
    }
    memset(&table->slots[hole], 0, sizeof(TraceEntry));
    assert(table->count > 0);
    table->count--;
}

/* The slots of a big table come from mmap, aligned to 2 MiB and marked for transparent huge
 * pages where the system has them (madvise mode): the lookups of a table of millions of
 * traces each missed the TLB too, and each 4 KiB page of a new table was one page fault as
 * the rehash touched it. Smaller tables come from glib. Both are zeroed: empty slots. */
static TraceEntry *
slots_alloc(gsize capacity)
{
    gsize bytes = capacity * sizeof(TraceEntry);
#ifdef MADV_HUGEPAGE
    if (bytes >= SLOTS_HUGE_BYTES) {
        /* bytes is a power of two, a multiple of the alignment: map one more, trim the rest. */
        char *map = mmap(NULL, bytes + SLOTS_HUGE_BYTES, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        char *start;
        gsize head;

        if (map == MAP_FAILED)
            return NULL;
        start = (char *)(((guintptr)map + SLOTS_HUGE_BYTES - 1)
                         & ~(guintptr)(SLOTS_HUGE_BYTES - 1));
        head = (gsize)(start - map);
        if (head != 0)
            munmap(map, head);
        munmap(start + bytes, SLOTS_HUGE_BYTES - head);
        (void)madvise(start, bytes, MADV_HUGEPAGE);
        return (TraceEntry *)start;
    }
#endif
    return g_try_malloc0_n(capacity, sizeof(TraceEntry));
}

/* Free the slots of slots_alloc(capacity). NULL is accepted. */
static void
slots_free(TraceEntry *slots, gsize capacity)
{
#ifdef MADV_HUGEPAGE
    if (slots != NULL && capacity * sizeof(TraceEntry) >= SLOTS_HUGE_BYTES) {
        munmap(slots, capacity * sizeof(TraceEntry));
        return;
    }
#endif
    g_free(slots);
}

/* Rehash table into capacity slots (a power of two >= TABLE_MIN_CAPACITY, able to hold count).
 * Returns 0, or -1 on out of memory with the table unchanged. */
static int
table_resize(TmStore *store, TraceTable *table, gsize capacity)
{
    TraceEntry *slots;
    TraceTable resized;
    guint bits = 0;
    gsize i;

    assert(capacity >= TABLE_MIN_CAPACITY && (capacity & (capacity - 1)) == 0);
    assert(!trace_table_over_limit(capacity, table->count));
    slots = store_try_alloc(store, TM_ALLOC_TRACE_TABLE) ? slots_alloc(capacity) : NULL;
    if (slots == NULL)
        return -1;
    while (((gsize)1 << bits) < capacity)
        bits++;

    resized = *table;
    resized.slots = slots;
    resized.capacity = capacity;
    resized.shift = 64 - bits;
    for (i = 0; i < table->capacity; i++) {
        const TraceEntry *entry = &table->slots[i];
        if (entry->tb != 0)
            *table_probe(&resized, entry->ptr) = *entry;
    }
    slots_free(table->slots, table->capacity);
    store->slot_bytes = store->slot_bytes - table->capacity * sizeof(TraceEntry)
                        + capacity * sizeof(TraceEntry);
    *table = resized;
    return 0;
}

/* After a removal: give memory back when the load falls under 1/32, down to a load of 1/2. Out
 * of memory only means the table stays big. Under 1/8, as before, a program whose blocks rise
 * and fall by more than 8x, again and again (the compile workload: each module's tree, built
 * and freed), paid a shrink and a growth each time, a fresh zeroed table and a rehash: the
 * compile workload at 1 frame was 2.20x untraced on 2.7 and 1.73x with 1/32 (one A/B run of
 * 3), 1.72x and 1.53x on 3.11; 1/64 did no better. The cost: a table up to 32 times bigger
 * than its traces need (512 bytes per trace, counted by tm_store_memory) after most of them
 * went. */
static void
table_maybe_shrink(TmStore *store, TraceTable *table)
{
    gsize capacity = table->capacity;

    if (capacity <= TABLE_MIN_CAPACITY || table->count >= capacity / 32)
        return;
    while (capacity > TABLE_MIN_CAPACITY && table->count <= capacity / 4)
        capacity /= 2;
    (void)table_resize(store, table, capacity);
}

/* Free the slots and side table; the table is then empty with capacity 0. */
static void
table_reset(TmStore *store, TraceTable *table)
{
    store->slot_bytes -= table->capacity * sizeof(TraceEntry);
    slots_free(table->slots, table->capacity);
    if (table->big != NULL)
        g_hash_table_unref(table->big);
    if (table->groups != NULL)
        g_hash_table_unref(table->groups);
    memset(table, 0, sizeof(*table));
}

/* The table of domain, or NULL if that domain never had a trace. */
static inline TraceTable *
store_table(const TmStore *store, guint domain)
{
    if (G_LIKELY(domain == TM_DEFAULT_DOMAIN))
        return (TraceTable *)&store->traces;
    if (store->domains == NULL)
        return NULL;
    return g_hash_table_lookup(store->domains, GUINT_TO_POINTER(domain));
}

/* The table of domain, created if needed. Returns NULL on out of memory. */
static TraceTable *
store_table_create(TmStore *store, guint domain)
{
    TraceTable *table = store_table(store, domain);

    if (G_LIKELY(table != NULL))
        return table;
    table = store_try_alloc(store, TM_ALLOC_DOMAIN_TABLE) ? g_try_new0(TraceTable, 1) : NULL;
    if (table == NULL)
        return NULL;
    if (store->domains == NULL)
        store->domains = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
    g_hash_table_insert(store->domains, GUINT_TO_POINTER(domain), table);
    return table;
}

/* ---- Tracebacks --------------------------------------------------------------------------- */

/* The chunk of the traceback at index, and its offset in it: chunk k starts at index
 * TB_CHUNK0 * (2^k - 1). */
static inline guint
tb_chunk_of(guint32 index)
{
    /* the highest bit set (glib's g_bit_nth_msf loops over the bits) */
    return 31u - (guint)__builtin_clz((index >> TB_CHUNK0_SHIFT) + 1);
}

static inline TmTraceback *
tb_at(const TmStore *store, guint32 index)
{
    guint k = tb_chunk_of(index);

    return &store->tb_chunks[k][index - ((TB_CHUNK0 << k) - TB_CHUNK0)];
}

/* The value stored in TraceEntry.tb for traceback, which must come from this store. */
static inline guint32
tb_ref(const TmStore *store, const TmTraceback *traceback)
{
    guint32 index = traceback->index_;

    assert(index < store->tb_count && tb_at(store, index) == traceback);
    (void)store;
    return index + 1;
}

static inline const TmTraceback *
tb_deref(const TmStore *store, guint32 tb)
{
    assert(tb != 0 && tb <= store->tb_count);
    return tb_at(store, tb - 1);
}

/* splitmix64's finaliser: the low bits used by the sets depend on every bit of h. */
static inline guint
mix64(guint64 h)
{
    h ^= h >> 30;
    h *= G_GUINT64_CONSTANT(0xBF58476D1CE4E5B9);
    h ^= h >> 27;
    h *= G_GUINT64_CONSTANT(0x94D049BB133111EB);
    h ^= h >> 31;
    return (guint)h;
}

/* Hash of a node's key: its frame (field by field: TmFrame has padding the caller need not
 * clear) and its parent. */
static inline guint
node_hash(gconstpointer filename, guint lineno, guint32 parent)
{
    guint64 h = ((guint64)(guintptr)filename * G_GUINT64_CONSTANT(0x9E3779B97F4A7C15))
                ^ ((guint64)lineno << 32 | parent);
    /* the high half of the product depends on every bit of h: cheaper than mix64 */
    return (guint)((h * G_GUINT64_CONSTANT(0xBF58476D1CE4E5B9)) >> 32);
}

/* Hash of a traceback's frames and counts, field by field: TmFrame has padding the caller
 * need not clear. */
static guint
tb_hash(const TmFrame *frames, guint nframe, guint total_nframe)
{
    guint64 h = G_GUINT64_CONSTANT(0xcbf29ce484222325) ^ ((guint64)total_nframe << 16) ^ nframe;
    guint i;

    /* One multiply per frame on the chain through h (the frame's own product does not wait
     * for it): a miss at 25 frames hashes 25 of them. */
    for (i = 0; i < nframe; i++) {
        guint64 x = (guint64)(guintptr)frames[i].filename
                    + (guint64)frames[i].lineno * G_GUINT64_CONSTANT(0xBF58476D1CE4E5B9);
        h = (h ^ x) * G_GUINT64_CONSTANT(0x9E3779B97F4A7C15);
    }
    return mix64(h);
}

/* Does traceback hold these frames (and counts)? If so, path[k] gets the node of frames[k..]
 * for each k. A walk of its nodes, most recent first. */
static inline gboolean
tb_walk_equal(const TmStore *store, const TmTraceback *traceback, const TmFrame *frames,
              guint nframe, guint total_nframe, guint32 *path)
{
    guint32 at = traceback->node_;
    guint k;

    if (traceback->nframe != nframe || traceback->total_nframe != total_nframe)
        return FALSE;
    for (k = 0; k < nframe; k++) {
        const TbNode *seen = &store->nodes[at - 1];
        if (seen->filename != frames[k].filename || seen->lineno != frames[k].lineno)
            return FALSE;
        path[k] = at;
        at = seen->parent;
    }
    return TRUE;
}

/* The bucket of TmStore.tb_recent for these frames: by the most recent frame and the counts. */
static inline guint
tb_recent_slot(const TmFrame *frames, guint nframe, guint total_nframe)
{
    guint64 h = ((guint64)nframe << 48) ^ ((guint64)total_nframe << 32);

    if (nframe > 0)
        h ^= ((guint64)(guintptr)frames[0].filename * G_GUINT64_CONSTANT(0x9E3779B97F4A7C15))
             ^ frames[0].lineno;
    return (guint)((h * G_GUINT64_CONSTANT(0xBF58476D1CE4E5B9)) >> (64 - TB_RECENT_SHIFT));
}

/* The slot of node_set holding the node (filename, lineno, parent), or the empty slot where it
 * belongs. The set must have a capacity. */
static inline guint32 *
node_set_probe(const TbNode *nodes, guint32 *set, gsize capacity, gconstpointer filename,
               guint lineno, guint32 parent)
{
    gsize mask = capacity - 1, i;

    for (i = node_hash(filename, lineno, parent) & mask;; i = (i + 1) & mask) {
        const TbNode *node;
        if (set[i] == 0)
            return &set[i];
        node = &nodes[set[i] - 1];
        if (node->filename == filename && node->lineno == lineno && node->parent == parent)
            return &set[i];
    }
}

/* The slot of tb_set holding the traceback of these frames (hash: their tb_hash), filling
 * path as tb_walk_equal() does, or the empty slot where it belongs. The set must have a
 * capacity. frames NULL: only the empty slot for a traceback known to be absent. */
static inline guint32 *
tb_set_probe(const TmStore *store, guint32 *set, gsize capacity, guint hash,
             const TmFrame *frames, guint nframe, guint total_nframe, guint32 *path)
{
    gsize mask = capacity - 1, i;

    for (i = hash & mask;; i = (i + 1) & mask) {
        const TmTraceback *tb;
        if (set[i] == 0)
            return &set[i];
        tb = tb_at(store, set[i] - 1);
        if (frames != NULL && tb->hash_ == hash
            && tb_walk_equal(store, tb, frames, nframe, total_nframe, path))
            return &set[i];
    }
}

/* Grow *vec (of *capacity items of item_size bytes) to hold needed items, doubling from
 * min_capacity. Returns 0, or -1 on out of memory with *vec unchanged. */
static int
vec_reserve(TmStore *store, TmAllocSite site, gpointer *vec, gsize *capacity, gsize needed,
            gsize min_capacity, gsize item_size)
{
    gsize grown = MAX(*capacity, min_capacity);
    gpointer mem;

    if (needed <= *capacity)
        return 0;
    while (grown < needed)
        grown *= 2;
    mem = store_try_alloc(store, site) ? g_try_realloc_n(*vec, grown, item_size) : NULL;
    if (mem == NULL)
        return -1;
    *vec = mem;
    *capacity = grown;
    return 0;
}

/* Make room for nnode more nodes and one more traceback, and for a last traceback of nframe
 * frames. Returns 0, or -1 on out of memory (the store unchanged but for capacities). */
static int
tb_reserve(TmStore *store, gsize nnode, guint nframe)
{
    gsize needed = (gsize)store->tb_count + 1;
    gsize nodes_needed = store->node_count + nnode;
    gsize capacity, i;

    if (needed > TB_MAX_COUNT || nodes_needed > TB_MAX_COUNT)
        return -1;
    if (vec_reserve(store, TM_ALLOC_TRACEBACK_VEC, (gpointer *)&store->tb_counts,
                    &store->tb_counts_capacity, needed, TB_MIN_CAPACITY,
                    sizeof(TmPeakCounts)) < 0)
        return -1;
    if (tb_chunk_of(store->tb_count) == store->tb_nchunk) {
        TmTraceback *chunk;
        assert(store->tb_nchunk < TB_NCHUNK);
        chunk = store_try_alloc(store, TM_ALLOC_TRACEBACK)
                    ? g_try_new(TmTraceback, (gsize)TB_CHUNK0 << store->tb_nchunk) : NULL;
        if (chunk == NULL)
            return -1;
        store->tb_chunks[store->tb_nchunk++] = chunk;
    }
    if (store->tb_set_capacity == 0 || table_over_limit(store->tb_set_capacity, needed)) {
        guint32 *set;
        capacity = MAX(store->tb_set_capacity * 2, (gsize)TB_MIN_CAPACITY);
        set = store_try_alloc(store, TM_ALLOC_TRACEBACK_SET)
                  ? g_try_malloc0_n(capacity, sizeof(guint32)) : NULL;
        if (set == NULL)
            return -1;
        for (i = 0; i < store->tb_count; i++) {
            const TmTraceback *tb = tb_at(store, (guint32)i);
            *tb_set_probe(store, set, capacity, tb->hash_, NULL, 0, 0, NULL) = (guint32)i + 1;
        }
        g_free(store->tb_set);
        store->tb_set = set;
        store->tb_set_capacity = capacity;
    }
    if (vec_reserve(store, TM_ALLOC_NODE_VEC, (gpointer *)&store->nodes,
                    &store->nodes_capacity, nodes_needed, TB_MIN_CAPACITY,
                    sizeof(TbNode)) < 0)
        return -1;
    if (store->node_set_capacity == 0
        || table_over_limit(store->node_set_capacity, nodes_needed)) {
        guint32 *set;
        capacity = MAX(store->node_set_capacity, (gsize)TB_MIN_CAPACITY);
        while (table_over_limit(capacity, nodes_needed))
            capacity *= 2;
        set = store_try_alloc(store, TM_ALLOC_NODE_SET)
                  ? g_try_malloc0_n(capacity, sizeof(guint32)) : NULL;
        if (set == NULL)
            return -1;
        for (i = 0; i < store->node_count; i++) {
            const TbNode *node = &store->nodes[i];
            *node_set_probe(store->nodes, set, capacity, node->filename, node->lineno,
                            node->parent) = (guint32)i + 1;
        }
        g_free(store->node_set);
        store->node_set = set;
        store->node_set_capacity = capacity;
    }
    if (nframe > store->last_capacity) {
        gsize grown = MAX(store->last_capacity * 2, (gsize)32);
        TmFrame *frames;
        guint32 *path, *spare;
        while (grown < nframe)
            grown *= 2;
        if (!store_try_alloc(store, TM_ALLOC_NODE_VEC))
            return -1;
        frames = g_try_new(TmFrame, grown);
        path = g_try_new(guint32, grown);
        spare = g_try_new(guint32, grown);
        if (frames == NULL || path == NULL || spare == NULL) {
            g_free(frames);
            g_free(path);
            g_free(spare);
            return -1;
        }
        if (store->last_nframe > 0) {
            memcpy(frames, store->last_frames, store->last_nframe * sizeof(TmFrame));
            memcpy(path, store->last_path, store->last_nframe * sizeof(guint32));
        }
        g_free(store->last_frames);
        g_free(store->last_path);
        g_free(store->last_spare);
        store->last_frames = frames;
        store->last_path = path;
        store->last_spare = spare;
        store->last_capacity = grown;
    }
    return 0;
}

/* Forget every traceback and node. */
static void
tb_reset(TmStore *store)
{
    gsize i;

    for (i = 0; i < store->tb_nchunk; i++) {
        g_free(store->tb_chunks[i]);
        store->tb_chunks[i] = NULL;
    }
    g_free(store->tb_counts);
    g_free(store->tb_set);
    g_free(store->nodes);
    g_free(store->node_set);
    g_free(store->last_frames);
    g_free(store->last_path);
    g_free(store->last_spare);
    store->tb_counts = NULL;
    store->tb_set = NULL;
    store->nodes = NULL;
    store->node_set = NULL;
    store->last_frames = NULL;
    store->last_path = store->last_spare = NULL;
    store->tb_nchunk = 0;
    store->tb_counts_capacity = store->tb_set_capacity = 0;
    store->nodes_capacity = store->node_set_capacity = 0;
    store->last_capacity = 0;
    store->node_count = 0;
    store->tb_count = 0;
    store->tb_last = NULL;
    memset(store->tb_recent, 0, sizeof(store->tb_recent));
    store->last_nframe = 0;
}

/* ---- Public API --------------------------------------------------------------------------- */

TmStore *
tm_store_new(TmFilenameRelease release, gpointer user_data)
{
    TmStore *store = g_try_new0(TmStore, 1);

    if (store == NULL)
        return NULL;
    store->filenames = g_hash_table_new(g_direct_hash, g_direct_equal);
    store->release = release;
    store->release_data = user_data;
    return store;
}

void
tm_store_free(TmStore *store)
{
    if (store == NULL)
        return;
    tm_store_clear(store);
    g_hash_table_unref(store->filenames);
    g_free(store);
}

/* The release callback is called once per filename at the end, when the store is already empty
 * and consistent: a callback that ends up back in the store (dropping the last reference to a
 * filename frees memory) finds no trace and does not disturb the iteration. */
void
tm_store_clear(TmStore *store)
{
    GHashTableIter iter;
    gpointer key, value;
    GHashTable *filenames;

    table_reset(store, &store->traces);
    if (store->domains != NULL) {
        g_hash_table_iter_init(&iter, store->domains);
        while (g_hash_table_iter_next(&iter, NULL, &value))
            table_reset(store, value);
        g_hash_table_unref(store->domains);
        store->domains = NULL;
    }
    assert(store->slot_bytes == 0);

    tb_reset(store);

    store->traced = store->peak = store->count = 0;
    memset(&store->clock, 0, sizeof(store->clock));
    store->parked_size = store->parked_count = 0;
    store->last_add_clock = 0;

    filenames = store->filenames;
    store->filenames = g_hash_table_new(g_direct_hash, g_direct_equal);
    if (store->release != NULL) {
        g_hash_table_iter_init(&iter, filenames);
        while (g_hash_table_iter_next(&iter, &key, NULL))
            store->release(key, store->release_data);
    }
    g_hash_table_unref(filenames);
}

gboolean
tm_store_intern_filename(TmStore *store, gconstpointer filename)
{
    if (filename == NULL)
        return FALSE;
    return g_hash_table_add(store->filenames, (gpointer)filename);
}

/* tm_store_intern_traceback() but for its fast path (the same as the last traceback), kept
 * out of line: the fast path's function stays small (a prologue of a few registers). */
static G_GNUC_NO_INLINE const TmTraceback *
tb_intern_slow(TmStore *store, const TmFrame *frames, guint nframe, guint total_nframe)
{
    const TmTraceback *last = store->tb_last;
    const TmTraceback **recent;
    TmTraceback *traceback;
    guint32 *slot, *path, node;
    guint shared = 0, hash, k;

    /* The ones in its bucket of tb_recent: walk their nodes, filling the path on the way. */
    recent = store->tb_recent[tb_recent_slot(frames, nframe, total_nframe)];
    path = store->last_spare;
    if (G_LIKELY(nframe <= store->last_capacity)) {
        guint way;
        for (way = 0; way < TB_RECENT_WAYS; way++) {
            if (recent[way] != NULL
                && tb_walk_equal(store, recent[way], frames, nframe, total_nframe, path)) {
                traceback = (TmTraceback *)recent[way];
                goto remember;
            }
        }
    }

    /* Known frames (the common case): one lookup by the hash of the frames, adding nothing. */
    hash = tb_hash(frames, nframe, total_nframe);
    if (G_LIKELY(nframe <= store->last_capacity && store->tb_set_capacity != 0)) {
        slot = tb_set_probe(store, store->tb_set, store->tb_set_capacity, hash, frames, nframe,
                            total_nframe, path);
        if (*slot != 0)
            goto found;
    }

    /* The oldest frames this traceback shares with the last one: their nodes are known. */
    if (last != NULL && nframe > 0 && store->last_nframe > 0) {
        /* (either may be the empty traceback, whose frame array may be NULL) */
        const TmFrame *seen = store->last_frames + store->last_nframe;
        const TmFrame *mine = frames + nframe;
        guint most = MIN(nframe, store->last_nframe);
        while (shared < most && seen[-1 - (gint)shared].filename == mine[-1 - (gint)shared].filename
               && seen[-1 - (gint)shared].lineno == mine[-1 - (gint)shared].lineno)
            shared++;
    }

    /* Something new: make room for it all first, so that nothing fails half-way. */
    if (tb_reserve(store, nframe - shared, nframe) < 0)
        return NULL;
    path = store->last_spare;
    for (k = nframe; k-- > 0;) {
        guint32 parent = k + 1 < nframe ? path[k + 1] : 0;
        if (nframe - k <= shared) {
            path[k] = store->last_path[store->last_nframe - (nframe - k)];
            continue;
        }
        slot = node_set_probe(store->nodes, store->node_set, store->node_set_capacity,
                              frames[k].filename, frames[k].lineno, parent);
        if (*slot == 0) {
            TbNode *added = &store->nodes[store->node_count];
            added->filename = frames[k].filename;
            added->lineno = frames[k].lineno;
            added->parent = parent;
            *slot = (guint32)++store->node_count;
        }
        path[k] = *slot;
    }
    node = nframe > 0 ? path[0] : 0;

    /* absent (the lookup above, or no set then): the empty slot where it goes */
    slot = tb_set_probe(store, store->tb_set, store->tb_set_capacity, hash, NULL, 0, 0, NULL);
    {
        traceback = tb_at(store, store->tb_count);
        traceback->node_ = node;
        traceback->hash_ = hash;
        traceback->index_ = store->tb_count;
        traceback->nframe = (guint16)nframe;
        traceback->total_nframe = (guint16)total_nframe;
        memset(&store->tb_counts[store->tb_count], 0, sizeof(TmPeakCounts));
        *slot = ++store->tb_count;
    }
found:
    traceback = tb_at(store, *slot - 1);
    /* the most recent way first: the other keeps the one before */
    recent[1] = recent[0];
    recent[0] = traceback;

remember:
    /* Remember the frames and their nodes for the next call. */
    for (k = 0; k < nframe; k++)
        store->last_frames[k] = frames[k];
    store->last_spare = store->last_path;
    store->last_path = path;
    store->last_nframe = nframe;
    store->last_total_nframe = total_nframe;
    store->tb_last = traceback;
    return traceback;
}

const TmTraceback *
tm_store_intern_traceback(TmStore *store, const TmFrame *frames, guint nframe,
                          guint total_nframe)
{
    const TmTraceback *last = store->tb_last;
    guint i;

    g_return_val_if_fail(nframe <= TM_MAX_NFRAME, NULL);
    g_return_val_if_fail(nframe == 0 || frames != NULL, NULL);
    total_nframe = CLAMP(total_nframe, nframe, TM_MAX_NFRAME);
    /* The fast path: the frames of the last traceback are kept flat, compared without a hash
     * or a walk of the nodes. */
    if (last != NULL && store->last_nframe == nframe && store->last_total_nframe == total_nframe) {
        const TmFrame *seen = store->last_frames;
        for (i = 0; i < nframe; i++) {
            if (seen[i].filename != frames[i].filename || seen[i].lineno != frames[i].lineno)
                break;
        }
        if (i == nframe)
            return last;
    }
    return tb_intern_slow(store, frames, nframe, total_nframe);
}

void
tm_traceback_iter_init(TmFrameIter *iter, const TmStore *store, const TmTraceback *traceback)
{
    assert(traceback->nframe == 0 || traceback->node_ != 0);
    iter->nodes_ = store->nodes;
    iter->node_ = traceback->node_;
}

gboolean
tm_traceback_iter_next(TmFrameIter *iter, TmFrame *frame)
{
    const TbNode *node;

    if (iter->node_ == 0)
        return FALSE;
    node = &((const TbNode *)iter->nodes_)[iter->node_ - 1];
    frame->filename = node->filename;
    frame->lineno = node->lineno;
    iter->node_ = node->parent;
    return TRUE;
}

guint
tm_store_traceback_frames(const TmStore *store, const TmTraceback *traceback, TmFrame *frames)
{
    TmFrameIter iter;
    guint n = 0;

    tm_traceback_iter_init(&iter, store, traceback);
    while (n < traceback->nframe && tm_traceback_iter_next(&iter, &frames[n]))
        n++;
    assert(n == traceback->nframe);
    return n;
}

/* ---- Groups (peak.h) ---------------------------------------------------------------------- */

/* The group of the traces of traceback tb (a TraceEntry.tb) in table, which has one of them. */
static inline TmPeakCounts *
group_of(TmStore *store, const TraceTable *table, guint32 tb)
{
    TmPeakCounts *counts;

    if (G_LIKELY(table == &store->traces))
        return &store->tb_counts[tb - 1];
    counts = g_hash_table_lookup(table->groups, GUINT_TO_POINTER(tb));
    assert(counts != NULL);
    return counts;
}

/* The group of traceback tb in table, created empty if needed. NULL on out of memory. */
static TmPeakCounts *
group_claim(TmStore *store, TraceTable *table, guint32 tb)
{
    TmPeakCounts *counts;

    if (G_LIKELY(table == &store->traces))
        return &store->tb_counts[tb - 1];
    if (table->groups == NULL)
        table->groups = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
    counts = g_hash_table_lookup(table->groups, GUINT_TO_POINTER(tb));
    if (counts == NULL) {
        counts = store_try_alloc(store, TM_ALLOC_DOMAIN_GROUP) ? g_try_new0(TmPeakCounts, 1) : NULL;
        if (counts == NULL)
            return NULL;
        g_hash_table_insert(table->groups, GUINT_TO_POINTER(tb), counts);
    }
    return counts;
}

/* The entry of ptr in table: its live or parked entry, else a slot claimed for it (ptr set, tb
 * and size 0, counted in table->count), growing the table if it would exceed its load. NULL on
 * out of memory, with nothing changed. */
static TraceEntry *
table_claim(TmStore *store, TraceTable *table, guintptr ptr)
{
    TraceEntry *entry = NULL;

    if (G_LIKELY(table->capacity != 0)) {
        entry = table_probe(table, ptr);
        if (entry->tb != 0)
            return entry;
    }
    if (G_UNLIKELY(entry == NULL || trace_table_over_limit(table->capacity, table->count + 1))) {
        gsize capacity = MAX(table->capacity * 2, (gsize)TABLE_MIN_CAPACITY);
        if (table_resize(store, table, capacity) < 0)
            return NULL;
        entry = table_probe(table, ptr);
    }
    entry->ptr = ptr;
    table->count++;
    return entry;
}

/* The counters before a trace is written into entry: a claimed slot (tb 0) adds a trace, a
 * parked block reused becomes one, a trace replaced (a block never seen freed) gives its size
 * back, to its group too. In an event of the peak clock; the caller then sets the size and the
 * traceback. */
static void
entry_becomes_trace(TmStore *store, TraceTable *table, const TraceEntry *entry)
{
    gsize old_size;

    if (entry->tb == 0) {
        store->count++;
        return;
    }
    old_size = table_entry_size(table, entry);
    if (entry->tb == TB_PARKED) {
        assert(store->parked_size >= old_size && store->parked_count > 0);
        store->parked_size -= old_size;
        store->parked_count--;
        store->count++;
    }
    else {
        assert(store->traced >= old_size);
        store->traced -= old_size;
        tm_peak_remove(group_of(store, table, entry->tb), &store->clock, old_size);
    }
}

int
tm_store_add(TmStore *store, guint domain, guintptr ptr, gsize size,
             const TmTraceback *traceback)
{
    guint32 tb = tb_ref(store, traceback);
    TraceTable *table = store_table_create(store, domain);
    TmPeakCounts *group;
    TraceEntry *entry;

    if (G_UNLIKELY(table == NULL))
        return -1;
    /* An empty group left behind by a failure below changes nothing. */
    group = group_claim(store, table, tb);
    if (G_UNLIKELY(group == NULL))
        return -1;
    entry = table_claim(store, table, ptr);
    if (G_UNLIKELY(entry == NULL))
        return -1;
    tm_peak_event(&store->clock);
    /* A trace replaced is not given back by tm_store_retract(): only a new trace is undone. */
    store->last_add_clock = entry->tb == 0 || entry->tb == TB_PARKED ? store->clock.clock : 0;
    store->last_add_domain = domain;
    store->last_add_ptr = ptr;
    entry_becomes_trace(store, table, entry);
    table_entry_set_size(table, entry, size);
    entry->tb = tb;
    store->traced += size;
    tm_peak_add(group, &store->clock, size);
    tm_peak_check(&store->clock, store->traced, &store->peak);
    return 0;
}

gboolean
tm_store_retract(TmStore *store, guint domain, guintptr ptr, gsize *size)
{
    TraceTable *table;
    TraceEntry *entry;
    gsize old_size;

    if (store->last_add_clock == 0 || store->last_add_clock != store->clock.clock
        || store->last_add_domain != domain || store->last_add_ptr != ptr)
        return FALSE;
    table = store_table(store, domain);
    entry = table != NULL ? table_lookup(table, ptr) : NULL;
    assert(entry != NULL && entry->tb != TB_PARKED);
    if (G_UNLIKELY(entry == NULL || entry->tb == TB_PARKED))
        return FALSE;
    old_size = table_entry_size(table, entry);
    store->last_add_clock = 0;
    /* The same event, undone: the peak first, so that the group saves nothing. */
    tm_peak_undo_add(&store->clock, old_size, &store->peak);
    tm_peak_remove(group_of(store, table, entry->tb), &store->clock, old_size);
    table_delete(table, entry);
    assert(store->count > 0 && store->traced >= old_size);
    store->count--;
    store->traced -= old_size;
    table_maybe_shrink(store, table);
    if (size != NULL)
        *size = old_size;
    return TRUE;
}

/* Smaller tables stay in the cache: a prefetch would only cost its instructions (measured:
 * compile and json, whose tables stay small, were 2-4% slower with it). */
#define PREFETCH_MIN_CAPACITY TABLE_BIG_CAPACITY

/* Relaxed loads: without the lock, a resize may be writing these fields (store.h). */
void
tm_store_prefetch(const TmStore *store, guintptr ptr)
{
    const TraceTable *table = &store->traces;
    TraceEntry *slots = __atomic_load_n(&table->slots, __ATOMIC_RELAXED);
    gsize capacity = __atomic_load_n(&table->capacity, __ATOMIC_RELAXED);
    guint shift = __atomic_load_n(&table->shift, __ATOMIC_RELAXED);
    gsize home;

    /* A torn read of a table being resized may pair fields of two tables: the slot is still
     * computed in range of the capacity read, and a prefetch of a wrong address is harmless. */
    if (slots == NULL || capacity < PREFETCH_MIN_CAPACITY || shift == 0 || shift >= 64)
        return;
    home = slot_home(ptr, shift, capacity);
    __builtin_prefetch(&slots[home], 1);
}

/* The table may shrink; if that fails it keeps its capacity. */
gboolean
tm_store_remove(TmStore *store, guint domain, guintptr ptr, gsize *size)
{
    TraceTable *table = store_table(store, domain);
    TraceEntry *entry;
    gsize old_size;

    if (G_UNLIKELY(table == NULL))
        return FALSE;
    entry = table_lookup(table, ptr);
    if (entry == NULL)
        return FALSE;
    old_size = table_entry_size(table, entry);
    if (G_UNLIKELY(entry->tb == TB_PARKED)) {
        /* A parked block really freed: no longer parked, and it was no trace. */
        table_delete(table, entry);
        assert(store->parked_count > 0 && store->parked_size >= old_size);
        store->parked_count--;
        store->parked_size -= old_size;
        table_maybe_shrink(store, table);
        return FALSE;
    }
    tm_peak_event(&store->clock);
    tm_peak_remove(group_of(store, table, entry->tb), &store->clock, old_size);
    table_delete(table, entry);
    assert(store->count > 0 && store->traced >= old_size);
    store->count--;
    store->traced -= old_size;
    table_maybe_shrink(store, table);
    if (size != NULL)
        *size = old_size;
    return TRUE;
}

int
tm_store_park(TmStore *store, guintptr ptr, gsize size)
{
    TraceTable *table = &store->traces;
    TraceEntry *entry = table_claim(store, table, ptr);
    int had_trace = 0;

    if (G_UNLIKELY(entry == NULL))
        return -1;
    if (entry->tb == TB_PARKED) {
        /* Parked twice without a reuse seen in between: keep one entry. */
        gsize old_size = table_entry_size(table, entry);
        assert(store->parked_size >= old_size && store->parked_count > 0);
        store->parked_size -= old_size;
        store->parked_count--;
    }
    else if (entry->tb != 0) {
        gsize old_size = table_entry_size(table, entry);
        assert(store->traced >= old_size && store->count > 0);
        tm_peak_event(&store->clock);
        tm_peak_remove(group_of(store, table, entry->tb), &store->clock, old_size);
        store->traced -= old_size;
        store->count--;
        had_trace = 1;
    }
    table_entry_set_size(table, entry, size);
    entry->tb = TB_PARKED;
    store->parked_size += size;
    store->parked_count++;
    return had_trace;
}

void
tm_store_parked(const TmStore *store, gsize *size, gsize *count)
{
    *size = store->parked_size;
    *count = store->parked_count;
}

int
tm_store_take_parked(TmStore *dst, const TmStore *src)
{
    const TraceTable *table = &src->traces;
    gsize i;

    for (i = 0; i < table->capacity; i++) {
        const TraceEntry *entry = &table->slots[i];
        if (entry->tb == TB_PARKED
            && tm_store_park(dst, entry->ptr, table_entry_size(table, entry)) < 0)
            return -1;
    }
    return 0;
}

/* Needs no g_try_* allocation: the old slot is freed before the new one is taken. */
int
tm_store_move(TmStore *store, guint domain, guintptr old_ptr, guintptr new_ptr,
              gsize new_size)
{
    TraceTable *table = store_table(store, domain);
    TmPeakCounts *group;
    TraceEntry *entry;
    gsize old_size;
    guint32 tb;

    if (table == NULL)
        return 0;
    entry = table_lookup(table, old_ptr);
    if (entry == NULL)
        return 0;
    if (G_UNLIKELY(entry->tb == TB_PARKED)) {
        /* Not a trace: a parked block that moves is no longer on its free list. */
        tm_store_remove(store, domain, old_ptr, NULL);
        return 0;
    }
    old_size = table_entry_size(table, entry);
    assert(store->traced >= old_size);
    /* One event: the trace leaves its group, a trace at new_ptr is replaced, then the trace
     * comes back with its new size. */
    tm_peak_event(&store->clock);
    group = group_of(store, table, entry->tb);
    tm_peak_remove(group, &store->clock, old_size);
    store->traced -= old_size;
    if (old_ptr != new_ptr) {
        tb = entry->tb;
        table_delete(table, entry);
        store->count--;
        entry = table_probe(table, new_ptr);
        if (entry->tb == 0) {
            entry->ptr = new_ptr;
            table->count++;
        }
        entry_becomes_trace(store, table, entry);
        entry->tb = tb;
    }
    table_entry_set_size(table, entry, new_size);
    store->traced += new_size;
    tm_peak_add(group, &store->clock, new_size);
    tm_peak_check(&store->clock, store->traced, &store->peak);
    return 1;
}

const TmTrace *
tm_store_get(TmStore *store, guint domain, guintptr ptr)
{
    TraceTable *table = store_table(store, domain);
    TraceEntry *entry;

    if (table == NULL)
        return NULL;
    entry = table_lookup(table, ptr);
    if (entry == NULL || entry->tb == TB_PARKED)
        return NULL;
    store->get_result.domain = domain;
    store->get_result.size = table_entry_size(table, entry);
    store->get_result.traceback = tb_deref(store, entry->tb);
    return &store->get_result;
}

gsize
tm_store_traced(const TmStore *store)
{
    return store->traced;
}

gsize
tm_store_peak(const TmStore *store)
{
    return store->peak;
}

gsize
tm_store_count(const TmStore *store)
{
    return store->count;
}

void
tm_store_reset_peak(TmStore *store)
{
    tm_peak_reset(&store->clock, store->traced, &store->peak);
}

/* Traceback allocations count with their malloc overhead, glib hash tables from their sizes. */
gsize
tm_store_memory(const TmStore *store)
{
    gsize bytes = alloc_bytes(sizeof(TmStore));
    guint i;

    bytes += store->slot_bytes;
    bytes += ghash_bytes(store->traces.big, FALSE);
    if (store->domains != NULL) {
        GHashTableIter iter;
        gpointer value;

        bytes += ghash_bytes(store->domains, FALSE);
        g_hash_table_iter_init(&iter, store->domains);
        while (g_hash_table_iter_next(&iter, NULL, &value)) {
            TraceTable *table = value;
            bytes += alloc_bytes(sizeof(TraceTable));
            bytes += ghash_bytes(table->big, FALSE);
            if (table->groups != NULL)
                bytes += ghash_bytes(table->groups, FALSE)
                         + g_hash_table_size(table->groups) * alloc_bytes(sizeof(TmPeakCounts));
        }
    }
    bytes += store->tb_set_capacity * sizeof(guint32);
    bytes += vec_bytes(store->tb_count, store->tb_counts_capacity, sizeof(TmPeakCounts));
    for (i = 0; i < store->tb_nchunk; i++)
        bytes += vec_bytes(MIN((gsize)TB_CHUNK0 << i,
                               store->tb_count - (((gsize)TB_CHUNK0 << i) - TB_CHUNK0)),
                           (gsize)TB_CHUNK0 << i, sizeof(TmTraceback));
    bytes += vec_bytes(store->node_count, store->nodes_capacity, sizeof(TbNode));
    bytes += store->node_set_capacity * sizeof(guint32);
    bytes += store->last_capacity * (sizeof(TmFrame) + 2 * sizeof(guint32));
    bytes += ghash_bytes(store->filenames, TRUE);
    return bytes;
}

guint
tm_store_traceback_count(const TmStore *store)
{
    return store->tb_count;
}

guint
tm_store_node_count(const TmStore *store)
{
    return (guint)store->node_count;
}

guint
tm_store_filename_count(const TmStore *store)
{
    return g_hash_table_size(store->filenames);
}

/* Visit the live entries of one table; FALSE if func asked to stop. */
static gboolean
table_foreach(TmStore *store, guint domain, const TraceTable *table, TmTraceFunc func,
              gpointer user_data)
{
    TmTrace trace;
    gsize i;

    trace.domain = domain;
    for (i = 0; i < table->capacity; i++) {
        const TraceEntry *entry = &table->slots[i];
        if (entry->tb == 0 || entry->tb == TB_PARKED)
            continue;
        trace.size = table_entry_size(table, entry);
        trace.traceback = tb_deref(store, entry->tb);
        if (!func(entry->ptr, &trace, user_data))
            return FALSE;
    }
    return TRUE;
}

/* The default domain first, then the others in glib's order. */
void
tm_store_foreach(TmStore *store, TmTraceFunc func, gpointer user_data)
{
    GHashTableIter iter;
    gpointer key, value;

    if (!table_foreach(store, TM_DEFAULT_DOMAIN, &store->traces, func, user_data))
        return;
    if (store->domains == NULL)
        return;
    g_hash_table_iter_init(&iter, store->domains);
    while (g_hash_table_iter_next(&iter, &key, &value)) {
        if (!table_foreach(store, GPOINTER_TO_UINT(key), value, func, user_data))
            return;
    }
}

/* The groups of one table with traces (now or at the peak); FALSE if func asked to stop. */
static gboolean
table_foreach_group(TmStore *store, guint domain, const TraceTable *table, gboolean at_peak,
                    TmGroupFunc func, gpointer user_data)
{
    GHashTableIter iter;
    gpointer key, value;
    gsize size, count;

    if (table == &store->traces) {
        guint i;
        for (i = 0; i < store->tb_count; i++) {
            const TmPeakCounts *counts = &store->tb_counts[i];
            if (at_peak)
                tm_peak_read(counts, &store->clock, &size, &count);
            else
                size = counts->size, count = counts->count;
            if (count > 0 && !func(domain, tb_at(store, i), size, count, user_data))
                return FALSE;
        }
        return TRUE;
    }
    if (table->groups == NULL)
        return TRUE;
    g_hash_table_iter_init(&iter, table->groups);
    while (g_hash_table_iter_next(&iter, &key, &value)) {
        const TmPeakCounts *counts = value;
        if (at_peak)
            tm_peak_read(counts, &store->clock, &size, &count);
        else
            size = counts->size, count = counts->count;
        if (count > 0
            && !func(domain, tb_deref(store, GPOINTER_TO_UINT(key)), size, count, user_data))
            return FALSE;
    }
    return TRUE;
}

/* The default domain first, then the others in glib's order. */
void
tm_store_foreach_group(TmStore *store, gboolean at_peak, TmGroupFunc func, gpointer user_data)
{
    GHashTableIter iter;
    gpointer key, value;

    if (!table_foreach_group(store, TM_DEFAULT_DOMAIN, &store->traces, at_peak, func,
                             user_data))
        return;
    if (store->domains == NULL)
        return;
    g_hash_table_iter_init(&iter, store->domains);
    while (g_hash_table_iter_next(&iter, &key, &value)) {
        if (!table_foreach_group(store, GPOINTER_TO_UINT(key), value, at_peak, func,
                                 user_data))
            return;
    }
}

void
tm_store_fail_allocation(TmStore *store, guint n)
{
    store->fail_countdown = n;
}

gboolean
tm_store_try_alloc(TmStore *store, TmAllocSite site)
{
    return store_try_alloc(store, site);
}

guint
tm_store_failed_sites(const TmStore *store)
{
    return store->failed_sites;
}

guint64
tm_store_alloc_attempts(const TmStore *store)
{
    return store->alloc_attempts;
}

G_STATIC_ASSERT(TM_ALLOC_NSITES <= 32);  /* failed_sites has a bit for each */

const char *
tm_store_alloc_site_name(TmAllocSite site)
{
    static const char *const names[TM_ALLOC_NSITES] = {
        "trace table", "domain table", "traceback vector", "traceback set", "traceback",
        "node vector", "node set",
        "domain group", "copy traceback", "copy items", "copy line",
    };

    return (guint)site < TM_ALLOC_NSITES ? names[site] : NULL;
}
