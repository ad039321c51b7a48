/* GTest suite of the trace store (module/engine/store.c) and of its peak (peak.h: the cases
 * under /store/peak, with a brute-force model); no Python interpreter needed.
 *
 * Standalone build and run from the top of the tree, until the Makefile.am integration:
 *
 *   gcc -O2 -g -Wall -Wextra -Werror -std=gnu11 $(pkg-config --cflags glib-2.0) -Imodule/engine \
 *       tests/c/test-store.c module/engine/store.c $(pkg-config --libs glib-2.0) \
 *       -o /tmp/test-store && /tmp/test-store --tap
 *
 * Also worth running as
 *   MALLOC_CHECK_=3 MALLOC_PERTURB_=165 /tmp/test-store --tap
 *   valgrind --leak-check=full --error-exitcode=1 /tmp/test-store --tap
 *
 * The assertions are g_assert_cmp*() and g_assert_true(), which G_DISABLE_ASSERT does not
 * compile out. */
#include "store.h"

#include <string.h>

/* Filenames are opaque pointers for the store: the addresses of these strings. */
static const char FILENAMES[][16] = {"a.py", "b.py", "c.py", "d.py", "e.py", "f.py", "g.py"};
#define N_FILENAMES G_N_ELEMENTS(FILENAMES)

/* Base of fake block addresses: 16-byte aligned, in the range of a 64-bit heap when possible. */
#if GLIB_SIZEOF_VOID_P == 8
#define BASE ((guintptr)G_GUINT64_CONSTANT(0x7f3a12340000))
#else
#define BASE ((guintptr)0x10000000u)
#endif

static TmStore *
new_store(void)
{
    TmStore *store = tm_store_new(NULL, NULL);
    gsize i;

    g_assert_nonnull(store);
    for (i = 0; i < N_FILENAMES; i++)
        g_assert_cmpint(tm_store_intern_filename(store, FILENAMES[i]), ==, TRUE);
    return store;
}

/* A one-frame traceback. */
static const TmTraceback *
tb1(TmStore *store, guint file, guint lineno)
{
    TmFrame frame = {FILENAMES[file % N_FILENAMES], lineno};
    const TmTraceback *tb = tm_store_intern_traceback(store, &frame, 1, 1);

    g_assert_nonnull(tb);
    return tb;
}

static void
assert_counters(TmStore *store, gsize traced, gsize count, gsize peak)
{
    g_assert_cmpuint(tm_store_traced(store), ==, traced);
    g_assert_cmpuint(tm_store_count(store), ==, count);
    g_assert_cmpuint(tm_store_peak(store), ==, peak);
}

static void
test_add_get_remove(void)
{
    TmStore *store = new_store();
    const TmTraceback *tb = tb1(store, 0, 10);
    const TmTrace *trace;
    gsize size = 0;

    g_assert_null(tm_store_get(store, TM_DEFAULT_DOMAIN, BASE));
    g_assert_cmpint(tm_store_add(store, TM_DEFAULT_DOMAIN, BASE, 100, tb), ==, 0);
    trace = tm_store_get(store, TM_DEFAULT_DOMAIN, BASE);
    g_assert_nonnull(trace);
    g_assert_cmpuint(trace->domain, ==, TM_DEFAULT_DOMAIN);
    g_assert_cmpuint(trace->size, ==, 100);
    g_assert_true(trace->traceback == tb);
    g_assert_null(tm_store_get(store, TM_DEFAULT_DOMAIN, BASE + 16));
    assert_counters(store, 100, 1, 100);

    g_assert_true(tm_store_remove(store, TM_DEFAULT_DOMAIN, BASE, &size));
    g_assert_cmpuint(size, ==, 100);
    g_assert_null(tm_store_get(store, TM_DEFAULT_DOMAIN, BASE));
    assert_counters(store, 0, 0, 100);

    /* Size 0 is a real trace (malloc(0) returns a unique pointer). */
    g_assert_cmpint(tm_store_add(store, TM_DEFAULT_DOMAIN, BASE, 0, tb), ==, 0);
    trace = tm_store_get(store, TM_DEFAULT_DOMAIN, BASE);
    g_assert_nonnull(trace);
    g_assert_cmpuint(trace->size, ==, 0);
    g_assert_cmpuint(tm_store_count(store), ==, 1);
    size = 42;
    g_assert_true(tm_store_remove(store, TM_DEFAULT_DOMAIN, BASE, &size));
    g_assert_cmpuint(size, ==, 0);
    /* The size pointer may be NULL. */
    g_assert_cmpint(tm_store_add(store, TM_DEFAULT_DOMAIN, BASE, 5, tb), ==, 0);
    g_assert_true(tm_store_remove(store, TM_DEFAULT_DOMAIN, BASE, NULL));
    assert_counters(store, 0, 0, 100);
    tm_store_free(store);
}

static void
test_replace(void)
{
    TmStore *store = new_store();
    const TmTraceback *tb_a = tb1(store, 0, 1), *tb_b = tb1(store, 1, 2);
    const TmTrace *trace;

    g_assert_cmpint(tm_store_add(store, TM_DEFAULT_DOMAIN, BASE, 100, tb_a), ==, 0);
    g_assert_cmpint(tm_store_add(store, TM_DEFAULT_DOMAIN, BASE + 16, 7, tb_a), ==, 0);
    g_assert_cmpint(tm_store_add(store, TM_DEFAULT_DOMAIN, BASE, 30, tb_b), ==, 0);
    assert_counters(store, 37, 2, 107);
    trace = tm_store_get(store, TM_DEFAULT_DOMAIN, BASE);
    g_assert_nonnull(trace);
    g_assert_cmpuint(trace->size, ==, 30);
    g_assert_true(trace->traceback == tb_b);
    g_assert_cmpint(tm_store_add(store, TM_DEFAULT_DOMAIN, BASE, 500, tb_b), ==, 0);
    assert_counters(store, 507, 2, 507);
    tm_store_free(store);
}

static void
test_move(void)
{
    TmStore *store = new_store();
    const TmTraceback *tb_a = tb1(store, 0, 1), *tb_b = tb1(store, 1, 2);
    const TmTrace *trace;

    g_assert_cmpint(tm_store_add(store, TM_DEFAULT_DOMAIN, BASE, 100, tb_a), ==, 0);

    /* Shrink in place. */
    g_assert_cmpint(tm_store_move(store, TM_DEFAULT_DOMAIN, BASE, BASE, 40), ==, 1);
    assert_counters(store, 40, 1, 100);
    trace = tm_store_get(store, TM_DEFAULT_DOMAIN, BASE);
    g_assert_nonnull(trace);
    g_assert_cmpuint(trace->size, ==, 40);
    g_assert_true(trace->traceback == tb_a);

    /* Move elsewhere: the traceback of the origin stays. */
    g_assert_cmpint(tm_store_move(store, TM_DEFAULT_DOMAIN, BASE, BASE + 4096, 300), ==, 1);
    assert_counters(store, 300, 1, 300);
    g_assert_null(tm_store_get(store, TM_DEFAULT_DOMAIN, BASE));
    trace = tm_store_get(store, TM_DEFAULT_DOMAIN, BASE + 4096);
    g_assert_nonnull(trace);
    g_assert_cmpuint(trace->size, ==, 300);
    g_assert_true(trace->traceback == tb_a);

    /* Unknown old pointer: nothing changes. */
    g_assert_cmpint(tm_store_move(store, TM_DEFAULT_DOMAIN, BASE, BASE + 32, 1), ==, 0);
    g_assert_cmpint(tm_store_move(store, 5, BASE + 4096, BASE + 32, 1), ==, 0);
    g_assert_null(tm_store_get(store, TM_DEFAULT_DOMAIN, BASE + 32));
    assert_counters(store, 300, 1, 300);

    /* Move onto a stale trace: it is replaced. */
    g_assert_cmpint(tm_store_add(store, TM_DEFAULT_DOMAIN, BASE + 64, 1000, tb_b), ==, 0);
    assert_counters(store, 1300, 2, 1300);
    g_assert_cmpint(tm_store_move(store, TM_DEFAULT_DOMAIN, BASE + 4096, BASE + 64, 10), ==, 1);
    assert_counters(store, 10, 1, 1300);
    trace = tm_store_get(store, TM_DEFAULT_DOMAIN, BASE + 64);
    g_assert_nonnull(trace);
    g_assert_cmpuint(trace->size, ==, 10);
    g_assert_true(trace->traceback == tb_a);
    g_assert_null(tm_store_get(store, TM_DEFAULT_DOMAIN, BASE + 4096));
    tm_store_free(store);
}

static void
test_remove_unknown(void)
{
    TmStore *store = new_store();
    const TmTraceback *tb = tb1(store, 0, 1);
    gsize size = 1234;

    /* Empty store, default and never seen domains. */
    g_assert_false(tm_store_remove(store, TM_DEFAULT_DOMAIN, BASE, &size));
    g_assert_false(tm_store_remove(store, 3, BASE, &size));
    g_assert_cmpuint(size, ==, 1234);

    g_assert_cmpint(tm_store_add(store, TM_DEFAULT_DOMAIN, BASE, 8, tb), ==, 0);
    g_assert_false(tm_store_remove(store, TM_DEFAULT_DOMAIN, BASE + 16, &size));
    g_assert_false(tm_store_remove(store, 3, BASE, &size));
    g_assert_cmpuint(size, ==, 1234);
    assert_counters(store, 8, 1, 8);
    g_assert_true(tm_store_remove(store, TM_DEFAULT_DOMAIN, BASE, &size));
    g_assert_false(tm_store_remove(store, TM_DEFAULT_DOMAIN, BASE, &size));
    assert_counters(store, 0, 0, 8);
    tm_store_free(store);
}

static void
test_counters(void)
{
    TmStore *store = new_store();
    const TmTraceback *tb = tb1(store, 0, 1);
    guint i;

    assert_counters(store, 0, 0, 0);
    for (i = 0; i < 10; i++)
        g_assert_cmpint(tm_store_add(store, TM_DEFAULT_DOMAIN, BASE + 16 * i, i + 1, tb), ==, 0);
    assert_counters(store, 55, 10, 55);
    for (i = 5; i < 10; i++)
        g_assert_true(tm_store_remove(store, TM_DEFAULT_DOMAIN, BASE + 16 * i, NULL));
    assert_counters(store, 15, 5, 55);

    tm_store_reset_peak(store);
    assert_counters(store, 15, 5, 15);
    g_assert_cmpint(tm_store_add(store, TM_DEFAULT_DOMAIN, BASE + 1024, 20, tb), ==, 0);
    assert_counters(store, 35, 6, 35);
    g_assert_true(tm_store_remove(store, TM_DEFAULT_DOMAIN, BASE + 1024, NULL));
    g_assert_cmpint(tm_store_add(store, TM_DEFAULT_DOMAIN, BASE + 1024, 5, tb), ==, 0);
    assert_counters(store, 20, 6, 35);

    /* Other domains count in the same counters. */
    g_assert_cmpint(tm_store_add(store, 9, BASE, 100, tb), ==, 0);
    assert_counters(store, 120, 7, 120);
    g_assert_true(tm_store_remove(store, 9, BASE, NULL));
    assert_counters(store, 20, 6, 120);
    tm_store_free(store);
}

typedef struct {
    GHashTable *released; /* filename -> number of release calls */
} ReleaseLog;

static void
log_release(gconstpointer filename, gpointer user_data)
{
    ReleaseLog *log = user_data;
    guint n = GPOINTER_TO_UINT(g_hash_table_lookup(log->released, filename));

    g_hash_table_insert(log->released, (gpointer)filename, GUINT_TO_POINTER(n + 1));
}

static void
test_clear(void)
{
    ReleaseLog log = {g_hash_table_new(g_direct_hash, g_direct_equal)};
    TmStore *store = tm_store_new(log_release, &log);
    const TmTraceback *tb;
    gsize i;

    for (i = 0; i < N_FILENAMES; i++)
        g_assert_cmpint(tm_store_intern_filename(store, FILENAMES[i]), ==, TRUE);
    /* Interning again does not make a second record (nor a second release). */
    g_assert_cmpint(tm_store_intern_filename(store, FILENAMES[0]), ==, FALSE);
    g_assert_cmpint(tm_store_intern_filename(store, NULL), ==, FALSE);
    g_assert_cmpuint(tm_store_filename_count(store), ==, N_FILENAMES);

    for (i = 0; i < 1000; i++) {
        tb = tb1(store, (guint)i, (guint)i % 17);
        g_assert_cmpint(tm_store_add(store, (guint)i % 3, BASE + 16 * i, 10, tb), ==, 0);
    }
    /* (i % 7, i % 17) takes 7 * 17 distinct values over 1000 consecutive i. */
    g_assert_cmpuint(tm_store_traceback_count(store), ==, 7 * 17);
    assert_counters(store, 10000, 1000, 10000);

    tm_store_clear(store);
    assert_counters(store, 0, 0, 0);
    g_assert_cmpuint(tm_store_traceback_count(store), ==, 0);
    g_assert_cmpuint(tm_store_filename_count(store), ==, 0);
    g_assert_cmpuint(g_hash_table_size(log.released), ==, N_FILENAMES);
    for (i = 0; i < N_FILENAMES; i++)
        g_assert_cmpuint(GPOINTER_TO_UINT(g_hash_table_lookup(log.released, FILENAMES[i])), ==,
                         1);
    for (i = 0; i < 1000; i++)
        g_assert_null(tm_store_get(store, (guint)i % 3, BASE + 16 * i));

    /* The store is usable after clear; a filename is new again, released again by free. */
    g_assert_cmpint(tm_store_intern_filename(store, FILENAMES[2]), ==, TRUE);
    tb = tb1(store, 2, 5);
    g_assert_cmpint(tm_store_add(store, TM_DEFAULT_DOMAIN, BASE, 3, tb), ==, 0);
    assert_counters(store, 3, 1, 3);
    tm_store_clear(store);
    tm_store_clear(store); /* Clearing an empty store is fine. */
    g_assert_cmpuint(GPOINTER_TO_UINT(g_hash_table_lookup(log.released, FILENAMES[2])), ==, 2);

    g_assert_cmpint(tm_store_intern_filename(store, FILENAMES[3]), ==, TRUE);
    tm_store_free(store);
    g_assert_cmpuint(GPOINTER_TO_UINT(g_hash_table_lookup(log.released, FILENAMES[3])), ==, 2);
    g_assert_cmpuint(GPOINTER_TO_UINT(g_hash_table_lookup(log.released, FILENAMES[4])), ==, 1);
    g_hash_table_unref(log.released);

    tm_store_free(NULL);
}

typedef struct {
    TmStore *store;
    guint calls;
} ReentrantLog;

/* A release callback that looks at the store, as an engine whose Py_DECREF frees memory would
 * (through its hooks): the store must already be empty and usable. */
static void
reentrant_release(gconstpointer filename, gpointer user_data)
{
    ReentrantLog *log = user_data;
    const TmTraceback *tb;

    (void)filename;
    log->calls++;
    g_assert_cmpuint(tm_store_traced(log->store), ==, 0);
    g_assert_cmpuint(tm_store_count(log->store), ==, 0);
    g_assert_false(tm_store_remove(log->store, TM_DEFAULT_DOMAIN, BASE, NULL));
    g_assert_null(tm_store_get(log->store, 1, BASE));
    if (log->calls == 1) {
        g_assert_cmpuint(tm_store_peak(log->store), ==, 0);
        g_assert_cmpuint(tm_store_traceback_count(log->store), ==, 0);
        g_assert_cmpuint(tm_store_filename_count(log->store), ==, 0);
        /* Interning and adding from the callback works and survives the clear. */
        g_assert_cmpint(tm_store_intern_filename(log->store, FILENAMES[6]), ==, TRUE);
        tb = tb1(log->store, 6, 1);
        g_assert_cmpint(tm_store_add(log->store, TM_DEFAULT_DOMAIN, BASE + 4096, 1, tb), ==, 0);
        assert_counters(log->store, 1, 1, 1);
        g_assert_true(tm_store_remove(log->store, TM_DEFAULT_DOMAIN, BASE + 4096, NULL));
    }
}

static void
test_clear_reentrant(void)
{
    ReentrantLog log = {NULL, 0};
    TmStore *store = tm_store_new(reentrant_release, &log);
    gsize i;

    log.store = store;
    for (i = 0; i < 3; i++)
        g_assert_cmpint(tm_store_intern_filename(store, FILENAMES[i]), ==, TRUE);
    for (i = 0; i < 100; i++)
        g_assert_cmpint(tm_store_add(store, (guint)i % 2, BASE + 16 * i, 1, tb1(store, 0, 1)), ==,
                        0);
    tm_store_clear(store);
    g_assert_cmpuint(log.calls, ==, 3);
    g_assert_cmpuint(tm_store_filename_count(store), ==, 1); /* the one the callback added */
    g_assert_cmpuint(tm_store_traceback_count(store), ==, 1);
    tm_store_free(store);
    g_assert_cmpuint(log.calls, ==, 4);
}

static void
test_traceback_intern(void)
{
    TmStore *store = new_store();
    TmFrame frames[3], other[3], out[3];
    const TmTraceback *tb, *tb2;

    /* Fill the padding of one copy with garbage: it must not matter. */
    memset(frames, 0, sizeof(frames));
    memset(other, 0xA5, sizeof(other));
    frames[0] = (TmFrame){FILENAMES[0], 10};
    frames[1] = (TmFrame){FILENAMES[1], 20};
    frames[2] = (TmFrame){NULL, 0};
    memcpy(other, frames, sizeof(frames));
    memset((char *)&other[1] + G_STRUCT_OFFSET(TmFrame, lineno) + sizeof(guint), 0x5A,
           sizeof(TmFrame) - G_STRUCT_OFFSET(TmFrame, lineno) - sizeof(guint));

    tb = tm_store_intern_traceback(store, frames, 3, 7);
    g_assert_nonnull(tb);
    g_assert_cmpuint(tb->nframe, ==, 3);
    g_assert_cmpuint(tb->total_nframe, ==, 7);
    g_assert_cmpuint(tm_store_traceback_frames(store, tb, out), ==, 3);
    g_assert_true(out[0].filename == FILENAMES[0]);
    g_assert_cmpuint(out[0].lineno, ==, 10);
    g_assert_true(out[1].filename == FILENAMES[1]);
    g_assert_cmpuint(out[1].lineno, ==, 20);
    g_assert_null(out[2].filename);
    g_assert_cmpuint(out[2].lineno, ==, 0);
    g_assert_cmpuint(tm_store_traceback_count(store), ==, 1);

    /* Equal frames: the same pointer, nothing new. */
    g_assert_true(tm_store_intern_traceback(store, other, 3, 7) == tb);
    g_assert_cmpuint(tm_store_traceback_count(store), ==, 1);

    /* Each difference makes another traceback. */
    other[1].lineno = 21;
    tb2 = tm_store_intern_traceback(store, other, 3, 7);
    g_assert_true(tb2 != tb);
    other[1].lineno = 20;
    other[1].filename = FILENAMES[2];
    g_assert_true(tm_store_intern_traceback(store, other, 3, 7) != tb);
    other[1].filename = FILENAMES[1];
    g_assert_true(tm_store_intern_traceback(store, other, 3, 7) == tb);
    g_assert_true(tm_store_intern_traceback(store, other, 3, 8) != tb);
    g_assert_true(tm_store_intern_traceback(store, other, 2, 7) != tb);
    g_assert_cmpuint(tm_store_traceback_count(store), ==, 5);
    g_assert_true(tm_store_intern_traceback(store, other, 3, 21) == tm_store_intern_traceback(
                      store, other, 3, 21));
    g_assert_true(tm_store_intern_traceback(store, frames, 3, 7) == tb);
    g_assert_true(tb2 != tm_store_intern_traceback(store, frames, 3, 7));

    /* total_nframe saturates at TM_MAX_NFRAME and is at least nframe. */
    tb2 = tm_store_intern_traceback(store, frames, 2, 100000);
    g_assert_cmpuint(tb2->total_nframe, ==, TM_MAX_NFRAME);
    g_assert_true(tm_store_intern_traceback(store, frames, 2, TM_MAX_NFRAME) == tb2);
    tb2 = tm_store_intern_traceback(store, frames, 2, 1);
    g_assert_cmpuint(tb2->total_nframe, ==, 2);
    g_assert_true(tm_store_intern_traceback(store, frames, 2, 2) == tb2);
    tm_store_free(store);
}

static void
test_traceback_many(void)
{
    /* Enough tracebacks to grow the set several times; all stay distinct and findable. */
    TmStore *store = new_store();
    const guint n = 20000;
    const TmTraceback **tbs = g_new(const TmTraceback *, n);
    TmFrame frames[2], out[2];
    guint i;

    for (i = 0; i < n; i++) {
        frames[0] = (TmFrame){FILENAMES[i % N_FILENAMES], i};
        frames[1] = (TmFrame){FILENAMES[0], i / 7};
        tbs[i] = tm_store_intern_traceback(store, frames, 2, 2 + i % 3);
        g_assert_nonnull(tbs[i]);
    }
    g_assert_cmpuint(tm_store_traceback_count(store), ==, n);
    for (i = 0; i < n; i++) {
        frames[0] = (TmFrame){FILENAMES[i % N_FILENAMES], i};
        frames[1] = (TmFrame){FILENAMES[0], i / 7};
        g_assert_true(tm_store_intern_traceback(store, frames, 2, 2 + i % 3) == tbs[i]);
        g_assert_cmpuint(tm_store_traceback_frames(store, tbs[i], out), ==, 2);
        g_assert_cmpuint(out[0].lineno, ==, i);
        g_assert_cmpuint(out[1].lineno, ==, i / 7);
    }
    g_assert_cmpuint(tm_store_traceback_count(store), ==, n);
    g_free(tbs);
    tm_store_free(store);
}

/* The frames of traceback, walked, equal frames[0..nframe). */
static void
assert_walk(TmStore *store, const TmTraceback *tb, const TmFrame *frames, guint nframe)
{
    TmFrameIter iter;
    TmFrame frame;
    guint i = 0;

    g_assert_cmpuint(tb->nframe, ==, nframe);
    tm_traceback_iter_init(&iter, store, tb);
    while (tm_traceback_iter_next(&iter, &frame)) {
        g_assert_cmpuint(i, <, nframe);
        g_assert_true(frame.filename == frames[i].filename);
        g_assert_cmpuint(frame.lineno, ==, frames[i].lineno);
        i++;
    }
    g_assert_cmpuint(i, ==, nframe);
    g_assert_false(tm_traceback_iter_next(&iter, &frame));  /* stays at the end */
}

/* Tracebacks are a tree of nodes shared by the tracebacks with the same callers. */
static void
test_traceback_tree(void)
{
    TmStore *store = new_store();
    /* most recent first: a, b, c, d; e called from b, c, d */
    TmFrame abcd[4] = {{FILENAMES[0], 1}, {FILENAMES[1], 2}, {FILENAMES[2], 3}, {FILENAMES[3], 4}};
    TmFrame ebcd[4] = {{FILENAMES[0], 5}, {FILENAMES[1], 2}, {FILENAMES[2], 3}, {FILENAMES[3], 4}};
    TmFrame xabcd[5] = {{FILENAMES[4], 9}, {FILENAMES[0], 1}, {FILENAMES[1], 2},
                        {FILENAMES[2], 3}, {FILENAMES[3], 4}};
    TmFrame rec[3] = {{FILENAMES[0], 7}, {FILENAMES[0], 7}, {FILENAMES[0], 7}};
    const TmTraceback *a, *e, *cd, *bc, *a10, *x;
    gsize memory;

    a = tm_store_intern_traceback(store, abcd, 4, 4);
    g_assert_cmpuint(tm_store_node_count(store), ==, 4);
    assert_walk(store, a, abcd, 4);
    memory = tm_store_memory(store);

    /* Sharing three callers: one node more. */
    e = tm_store_intern_traceback(store, ebcd, 4, 4);
    g_assert_true(e != a);
    g_assert_cmpuint(tm_store_node_count(store), ==, 5);
    assert_walk(store, e, ebcd, 4);
    assert_walk(store, a, abcd, 4);

    /* Equal tracebacks are one pointer, also when not the last one interned. */
    g_assert_true(tm_store_intern_traceback(store, abcd, 4, 4) == a);
    g_assert_true(tm_store_intern_traceback(store, ebcd, 4, 4) == e);
    g_assert_true(tm_store_intern_traceback(store, abcd, 4, 4) == a);
    g_assert_cmpuint(tm_store_traceback_count(store), ==, 2);
    g_assert_cmpuint(tm_store_node_count(store), ==, 5);

    /* The oldest frames alone (c, d) are nodes already: a traceback more, no node. */
    cd = tm_store_intern_traceback(store, abcd + 2, 2, 2);
    g_assert_cmpuint(tm_store_node_count(store), ==, 5);
    g_assert_cmpuint(tm_store_traceback_count(store), ==, 3);
    assert_walk(store, cd, abcd + 2, 2);

    /* A truncated traceback (b, c of 4): its oldest stored frame is a root, so new nodes. */
    bc = tm_store_intern_traceback(store, abcd + 1, 2, 4);
    g_assert_cmpuint(tm_store_node_count(store), ==, 7);
    assert_walk(store, bc, abcd + 1, 2);
    g_assert_cmpuint(bc->total_nframe, ==, 4);

    /* The same frames with another total_nframe: another traceback, the same nodes. */
    a10 = tm_store_intern_traceback(store, abcd, 4, 10);
    g_assert_true(a10 != a);
    g_assert_cmpuint(a10->total_nframe, ==, 10);
    g_assert_cmpuint(tm_store_node_count(store), ==, 7);
    assert_walk(store, a10, abcd, 4);
    g_assert_true(tm_store_intern_traceback(store, abcd, 4, 4) == a);
    g_assert_true(tm_store_intern_traceback(store, abcd, 4, 10) == a10);

    /* A deeper call from a: one node on top of a's. */
    x = tm_store_intern_traceback(store, xabcd, 5, 5);
    g_assert_cmpuint(tm_store_node_count(store), ==, 8);
    assert_walk(store, x, xabcd, 5);
    g_assert_true(tm_store_intern_traceback(store, xabcd + 1, 4, 4) == a);

    /* Recursion: equal frames, each with its own callers, so three nodes. */
    assert_walk(store, tm_store_intern_traceback(store, rec, 3, 3), rec, 3);
    g_assert_cmpuint(tm_store_node_count(store), ==, 11);
    assert_walk(store, tm_store_intern_traceback(store, rec, 2, 2), rec, 2);
    g_assert_cmpuint(tm_store_node_count(store), ==, 11);

    g_assert_cmpuint(tm_store_memory(store), >=, memory);
    tm_store_clear(store);
    g_assert_cmpuint(tm_store_node_count(store), ==, 0);
    g_assert_cmpuint(tm_store_traceback_count(store), ==, 0);
    a = tm_store_intern_traceback(store, abcd, 4, 4);
    assert_walk(store, a, abcd, 4);
    g_assert_cmpuint(tm_store_node_count(store), ==, 4);
    tm_store_free(store);
}

/* Random tracebacks against a model: the same frames and total give the same pointer, the
 * walk gives the frames back, and the nodes are the distinct paths from the oldest frame. */
static void
test_traceback_tree_model(void)
{
    TmStore *store = new_store();
    GHashTable *model = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    GHashTable *paths = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    guint round;

    for (round = 0; round < 20000; round++) {
        TmFrame frames[12];
        guint nframe = (guint)g_test_rand_int_range(0, 12), total, i;
        const TmTraceback *tb;
        GString *key = g_string_new(NULL);

        for (i = 0; i < nframe; i++) {
            frames[i].filename = FILENAMES[g_test_rand_int_range(0, 2)];
            frames[i].lineno = (guint)g_test_rand_int_range(0, 3);
        }
        total = nframe + (guint)g_test_rand_int_range(0, 2);
        tb = tm_store_intern_traceback(store, frames, nframe, total);
        g_assert_nonnull(tb);
        assert_walk(store, tb, frames, nframe);
        g_assert_cmpuint(tb->total_nframe, ==, total);
        /* the model: one key per traceback, one per suffix of its frames for the nodes */
        for (i = nframe; i-- > 0;) {
            g_string_append_printf(key, "%p:%u/", frames[i].filename, frames[i].lineno);
            g_hash_table_add(paths, g_strdup(key->str));
        }
        g_string_append_printf(key, "#%u", total);
        if (g_hash_table_contains(model, key->str))
            g_assert_true(g_hash_table_lookup(model, key->str) == tb);
        else
            g_hash_table_insert(model, g_strdup(key->str), (gpointer)tb);
        g_string_free(key, TRUE);
        g_assert_cmpuint(tm_store_traceback_count(store), ==, g_hash_table_size(model));
        g_assert_cmpuint(tm_store_node_count(store), ==, g_hash_table_size(paths));
    }
    g_hash_table_unref(model);
    g_hash_table_unref(paths);
    tm_store_free(store);
}

/* Every allocation of a run of tracebacks fails once in turn: the call returns NULL with the
 * tracebacks and nodes unchanged, the same call then succeeds, and every traceback site of
 * the store is reached. */
static void
test_traceback_fail_sweep(void)
{
    const guint ntb = 300;
    guint sites = 0, n;
    gboolean failed = TRUE;

    for (n = 1; failed; n++) {
        TmStore *store = new_store();
        const TmTraceback **tbs = g_new(const TmTraceback *, ntb);
        TmFrame frames[40];
        guint i, j;

        failed = FALSE;
        tm_store_fail_allocation(store, n);
        for (i = 0; i < ntb; i++) {
            guint nframe = 1 + (i * 7) % 40, before_tb, before_node;
            for (j = 0; j < nframe; j++)
                frames[j] = (TmFrame){FILENAMES[(i + j) % N_FILENAMES], (i % 13) * 100 + j};
            before_tb = tm_store_traceback_count(store);
            before_node = tm_store_node_count(store);
            tbs[i] = tm_store_intern_traceback(store, frames, nframe, nframe + i % 2);
            if (tbs[i] == NULL) {
                g_assert_false(failed);
                failed = TRUE;
                g_assert_cmpuint(tm_store_traceback_count(store), ==, before_tb);
                g_assert_cmpuint(tm_store_node_count(store), ==, before_node);
                tbs[i] = tm_store_intern_traceback(store, frames, nframe, nframe + i % 2);
                g_assert_nonnull(tbs[i]);
            }
            assert_walk(store, tbs[i], frames, nframe);
        }
        tm_store_fail_allocation(store, 0);  /* n past the allocations made: none failed */
        for (i = 0; i < ntb; i++) {  /* all still there, and found again */
            guint nframe = 1 + (i * 7) % 40;
            for (j = 0; j < nframe; j++)
                frames[j] = (TmFrame){FILENAMES[(i + j) % N_FILENAMES], (i % 13) * 100 + j};
            g_assert_true(tm_store_intern_traceback(store, frames, nframe, nframe + i % 2)
                          == tbs[i]);
            assert_walk(store, tbs[i], frames, nframe);
        }
        g_assert_cmpuint(failed, ==, tm_store_failed_sites(store) != 0);
        sites |= tm_store_failed_sites(store);
        g_free(tbs);
        tm_store_free(store);
    }
    g_assert_cmpuint(sites, ==, (1u << TM_ALLOC_TRACEBACK_VEC) | (1u << TM_ALLOC_TRACEBACK_SET)
                                    | (1u << TM_ALLOC_TRACEBACK) | (1u << TM_ALLOC_NODE_VEC)
                                    | (1u << TM_ALLOC_NODE_SET));
}

static void
test_traceback_empty(void)
{
    TmStore *store = new_store();
    TmFrame frame = {FILENAMES[0], 1};
    const TmTraceback *tb = tm_store_intern_traceback(store, NULL, 0, 0);
    const TmTrace *trace;

    g_assert_nonnull(tb);
    g_assert_cmpuint(tb->nframe, ==, 0);
    g_assert_cmpuint(tb->total_nframe, ==, 0);
    g_assert_true(tm_store_intern_traceback(store, &frame, 0, 0) == tb);
    g_assert_true(tm_store_intern_traceback(store, NULL, 0, 3) != tb);
    g_assert_true(tm_store_intern_traceback(store, &frame, 1, 1) != tb);
    g_assert_cmpuint(tm_store_traceback_count(store), ==, 3);

    g_assert_cmpint(tm_store_add(store, TM_DEFAULT_DOMAIN, BASE, 9, tb), ==, 0);
    trace = tm_store_get(store, TM_DEFAULT_DOMAIN, BASE);
    g_assert_nonnull(trace);
    g_assert_true(trace->traceback == tb);
    tm_store_free(store);
}

static void
test_filenames(void)
{
    TmStore *store = tm_store_new(NULL, NULL);

    g_assert_cmpuint(tm_store_filename_count(store), ==, 0);
    g_assert_cmpint(tm_store_intern_filename(store, FILENAMES[0]), ==, TRUE);
    g_assert_cmpint(tm_store_intern_filename(store, FILENAMES[0]), ==, FALSE);
    g_assert_cmpint(tm_store_intern_filename(store, FILENAMES[1]), ==, TRUE);
    g_assert_cmpint(tm_store_intern_filename(store, NULL), ==, FALSE);
    g_assert_cmpuint(tm_store_filename_count(store), ==, 2);
    tm_store_free(store);
}

static void
test_domains(void)
{
    TmStore *store = new_store();
    const TmTraceback *tb_a = tb1(store, 0, 1), *tb_b = tb1(store, 1, 1), *tb_c = tb1(store, 2, 1);
    const TmTrace *trace;
    gsize size;

    g_assert_cmpint(tm_store_add(store, TM_DEFAULT_DOMAIN, BASE, 1, tb_a), ==, 0);
    g_assert_cmpint(tm_store_add(store, 1, BASE, 20, tb_b), ==, 0);
    g_assert_cmpint(tm_store_add(store, G_MAXUINT, BASE, 300, tb_c), ==, 0);
    /* Address 0 is a valid key for tracked blocks of other domains. */
    g_assert_cmpint(tm_store_add(store, 1, 0, 4000, tb_c), ==, 0);
    assert_counters(store, 4321, 4, 4321);

    trace = tm_store_get(store, TM_DEFAULT_DOMAIN, BASE);
    g_assert_nonnull(trace);
    g_assert_cmpuint(trace->size, ==, 1);
    g_assert_true(trace->traceback == tb_a);
    trace = tm_store_get(store, 1, BASE);
    g_assert_nonnull(trace);
    g_assert_cmpuint(trace->domain, ==, 1);
    g_assert_cmpuint(trace->size, ==, 20);
    g_assert_true(trace->traceback == tb_b);
    trace = tm_store_get(store, G_MAXUINT, BASE);
    g_assert_nonnull(trace);
    g_assert_cmpuint(trace->domain, ==, G_MAXUINT);
    g_assert_cmpuint(trace->size, ==, 300);
    trace = tm_store_get(store, 1, 0);
    g_assert_nonnull(trace);
    g_assert_cmpuint(trace->size, ==, 4000);
    g_assert_null(tm_store_get(store, 2, BASE));
    g_assert_null(tm_store_get(store, TM_DEFAULT_DOMAIN, 0));

    /* A move stays in its domain. */
    g_assert_cmpint(tm_store_move(store, 1, BASE, BASE + 16, 25), ==, 1);
    g_assert_null(tm_store_get(store, TM_DEFAULT_DOMAIN, BASE + 16));
    g_assert_nonnull(tm_store_get(store, TM_DEFAULT_DOMAIN, BASE));
    assert_counters(store, 4326, 4, 4326);

    g_assert_true(tm_store_remove(store, 1, BASE + 16, &size));
    g_assert_cmpuint(size, ==, 25);
    g_assert_true(tm_store_remove(store, 1, 0, &size));
    g_assert_cmpuint(size, ==, 4000);
    g_assert_nonnull(tm_store_get(store, TM_DEFAULT_DOMAIN, BASE));
    g_assert_nonnull(tm_store_get(store, G_MAXUINT, BASE));
    assert_counters(store, 301, 2, 4326);
    tm_store_free(store);
}

static void
test_big_size(void)
{
    /* Sizes that do not fit the 32-bit size field of an entry. */
    TmStore *store = new_store();
    const TmTraceback *tb = tb1(store, 0, 1);
    const gsize big = G_MAXSIZE / 4, big2 = G_MAXUINT32;
    const TmTrace *trace;
    gsize size;

    if (sizeof(gsize) < 8) {
        /* The sums below would overflow; and 32-bit sizes always fit an entry but one. */
        g_test_skip("needs a 64-bit gsize");
        tm_store_free(store);
        return;
    }
    g_assert_cmpint(tm_store_add(store, TM_DEFAULT_DOMAIN, BASE, big, tb), ==, 0);
    g_assert_cmpint(tm_store_add(store, 4, BASE, big2, tb), ==, 0);
    g_assert_cmpint(tm_store_add(store, TM_DEFAULT_DOMAIN, BASE + 16, 10, tb), ==, 0);
    assert_counters(store, big + big2 + 10, 3, big + big2 + 10);
    trace = tm_store_get(store, TM_DEFAULT_DOMAIN, BASE);
    g_assert_nonnull(trace);
    g_assert_cmpuint(trace->size, ==, big);
    trace = tm_store_get(store, 4, BASE);
    g_assert_nonnull(trace);
    g_assert_cmpuint(trace->size, ==, big2);

    /* Big to small, small to big, big to big, in place and moved. */
    g_assert_cmpint(tm_store_move(store, TM_DEFAULT_DOMAIN, BASE, BASE, 5), ==, 1);
    g_assert_cmpuint(tm_store_get(store, TM_DEFAULT_DOMAIN, BASE)->size, ==, 5);
    g_assert_cmpint(tm_store_add(store, TM_DEFAULT_DOMAIN, BASE, big2, tb), ==, 0);
    g_assert_cmpint(tm_store_move(store, TM_DEFAULT_DOMAIN, BASE, BASE + 32, big), ==, 1);
    g_assert_cmpuint(tm_store_get(store, TM_DEFAULT_DOMAIN, BASE + 32)->size, ==, big);
    g_assert_null(tm_store_get(store, TM_DEFAULT_DOMAIN, BASE));
    g_assert_cmpint(tm_store_move(store, TM_DEFAULT_DOMAIN, BASE + 32, BASE + 16, big2), ==, 1);
    g_assert_cmpuint(tm_store_get(store, TM_DEFAULT_DOMAIN, BASE + 16)->size, ==, big2);
    g_assert_cmpint(tm_store_move(store, TM_DEFAULT_DOMAIN, BASE + 16, BASE + 48, 7), ==, 1);
    g_assert_cmpuint(tm_store_get(store, TM_DEFAULT_DOMAIN, BASE + 48)->size, ==, 7);
    assert_counters(store, big2 + 7, 2, big + big2 + 10);

    g_assert_true(tm_store_remove(store, 4, BASE, &size));
    g_assert_cmpuint(size, ==, big2);
    g_assert_true(tm_store_remove(store, TM_DEFAULT_DOMAIN, BASE + 48, &size));
    g_assert_cmpuint(size, ==, 7);
    assert_counters(store, 0, 0, big + big2 + 10);
    tm_store_free(store);
}

/* Addresses of the growth test: aligned like malloc's, sequential or scattered. */
static guintptr
growth_address(guint i, gboolean scattered)
{
    if (scattered)
        return BASE + (guintptr)(((guint64)i * 2654435761u) % G_GUINT64_CONSTANT(0x100000000)) * 16;
    return BASE + (guintptr)i * 16;
}

static void
growth_run(gboolean scattered)
{
    const guint n = 1000000;
    TmStore *store = new_store();
    const TmTraceback *tbs[8];
    gsize baseline, grown, expected = 0, size;
    guint i;

    for (i = 0; i < G_N_ELEMENTS(tbs); i++)
        tbs[i] = tb1(store, i, i);
    baseline = tm_store_memory(store);
    for (i = 0; i < n; i++) {
        g_assert_cmpint(tm_store_add(store, TM_DEFAULT_DOMAIN, growth_address(i, scattered),
                                     i % 1000, tbs[i % 8]),
                        ==, 0);
        expected += i % 1000;
    }
    assert_counters(store, expected, n, expected);
    grown = tm_store_memory(store);
    /* At least a key per trace, and not more than 64 bytes per trace. */
    g_assert_cmpuint(grown, >=, baseline + (gsize)n * sizeof(guintptr));
    g_assert_cmpuint(grown, <=, baseline + (gsize)n * 64);

    for (i = 0; i < n; i++) {
        const TmTrace *trace = tm_store_get(store, TM_DEFAULT_DOMAIN, growth_address(i, scattered));
        if (trace == NULL || trace->size != i % 1000 || trace->traceback != tbs[i % 8])
            g_error("trace %u is wrong", i);
    }
    g_assert_null(tm_store_get(store, TM_DEFAULT_DOMAIN, growth_address(n, scattered)));

    /* Remove every other one, check the rest, then remove them all. */
    for (i = 0; i < n; i += 2) {
        if (!tm_store_remove(store, TM_DEFAULT_DOMAIN, growth_address(i, scattered), &size)
            || size != i % 1000)
            g_error("remove %u failed", i);
        expected -= size;
    }
    assert_counters(store, expected, n / 2, tm_store_peak(store));
    for (i = 0; i < n; i++) {
        const TmTrace *trace = tm_store_get(store, TM_DEFAULT_DOMAIN, growth_address(i, scattered));
        if ((trace != NULL) != (i % 2 == 1))
            g_error("trace %u: wrong presence after removing the even ones", i);
    }
    for (i = 1; i < n; i += 2) {
        if (!tm_store_remove(store, TM_DEFAULT_DOMAIN, growth_address(i, scattered), &size)
            || size != i % 1000)
            g_error("remove %u failed", i);
        expected -= size;
    }
    g_assert_cmpuint(expected, ==, 0);
    assert_counters(store, 0, 0, tm_store_peak(store));
    /* The table shrank back: only a small fraction of the grown memory is left. */
    g_assert_cmpuint(tm_store_memory(store), <, baseline + 4096);
    for (i = 0; i < n; i += 997)
        g_assert_null(tm_store_get(store, TM_DEFAULT_DOMAIN, growth_address(i, scattered)));
    tm_store_free(store);
}

/* Blocks packed 16 bytes apart (every slot of their chunks' runs taken) beside blocks one per
 * page at the same offset (homes spread by the hash of their chunk), with the prefetch hint
 * before every add and remove: every trace is found, the hint changes nothing, and it is safe
 * on a store without a table and on one just cleared. */
static guintptr
dense_address(guint i)
{
    return i % 2 == 0 ? BASE + (guintptr)(i / 2) * 16 : BASE + 0x40000000u + (guintptr)i * 4096;
}

static void
test_dense_and_prefetch(void)
{
    const guint n = 300000;  /* a table of 2^19 slots: 8 MiB, over the prefetch's threshold */
    TmStore *store = new_store();
    const TmTraceback *tb = tb1(store, 0, 1);
    gsize expected = 0, size;
    guint i;

    tm_store_prefetch(store, BASE);
    for (i = 0; i < n; i++) {
        tm_store_prefetch(store, dense_address(i));
        g_assert_cmpint(tm_store_add(store, TM_DEFAULT_DOMAIN, dense_address(i), 1 + i % 7, tb),
                        ==, 0);
        expected += 1 + i % 7;
    }
    assert_counters(store, expected, n, expected);
    for (i = 0; i < n; i++) {
        const TmTrace *trace = tm_store_get(store, TM_DEFAULT_DOMAIN, dense_address(i));
        if (trace == NULL || trace->size != 1 + i % 7)
            g_error("trace %u is wrong", i);
    }
    for (i = 0; i < n; i += 3) {
        tm_store_prefetch(store, dense_address(i));
        if (!tm_store_remove(store, TM_DEFAULT_DOMAIN, dense_address(i), &size)
            || size != 1 + i % 7)
            g_error("remove %u failed", i);
        expected -= size;
    }
    for (i = 0; i < n; i++) {
        const TmTrace *trace = tm_store_get(store, TM_DEFAULT_DOMAIN, dense_address(i));
        if ((trace != NULL) != (i % 3 != 0))
            g_error("trace %u: wrong presence after the removals", i);
    }
    g_assert_cmpuint(tm_store_traced(store), ==, expected);
    tm_store_clear(store);
    tm_store_prefetch(store, dense_address(1));
    assert_counters(store, 0, 0, 0);
    tm_store_free(store);
}

static void
test_growth_sequential(void)
{
    growth_run(FALSE);
}

static void
test_growth_scattered(void)
{
    growth_run(TRUE);
}

typedef struct {
    GHashTable *seen; /* "domain:ptr" -> number of visits */
    guint visits;
    guint stop_after; /* 0: never stop */
} ForeachLog;

static gboolean
log_trace(guintptr ptr, const TmTrace *trace, gpointer user_data)
{
    ForeachLog *log = user_data;
    gchar *key = g_strdup_printf("%u:%" G_GSIZE_MODIFIER "x", trace->domain, (gsize)ptr);
    guint n = GPOINTER_TO_UINT(g_hash_table_lookup(log->seen, key));

    /* The size was chosen from the address and domain when added. */
    g_assert_cmpuint(trace->size, ==, (gsize)(ptr - BASE) / 16 + trace->domain);
    g_hash_table_insert(log->seen, key, GUINT_TO_POINTER(n + 1));
    log->visits++;
    return log->stop_after == 0 || log->visits < log->stop_after;
}

static void
test_foreach(void)
{
    TmStore *store = new_store();
    const TmTraceback *tb = tb1(store, 0, 1);
    ForeachLog log = {g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL), 0, 0};
    const guint domains[] = {TM_DEFAULT_DOMAIN, 1, 2, 77};
    GHashTableIter iter;
    gpointer value;
    guint i, d, expected = 0;

    tm_store_foreach(store, log_trace, &log);
    g_assert_cmpuint(log.visits, ==, 0);

    for (d = 0; d < G_N_ELEMENTS(domains); d++) {
        for (i = 0; i < 100 * (d + 1); i++) {
            g_assert_cmpint(tm_store_add(store, domains[d], BASE + 16 * i, i + domains[d], tb), ==,
                            0);
            expected++;
        }
    }
    /* Remove some so that the tables have holes. */
    for (i = 0; i < 100; i += 3) {
        g_assert_true(tm_store_remove(store, 2, BASE + 16 * i, NULL));
        expected--;
    }

    tm_store_foreach(store, log_trace, &log);
    g_assert_cmpuint(log.visits, ==, expected);
    g_assert_cmpuint(g_hash_table_size(log.seen), ==, expected);
    g_hash_table_iter_init(&iter, log.seen);
    while (g_hash_table_iter_next(&iter, NULL, &value))
        g_assert_cmpuint(GPOINTER_TO_UINT(value), ==, 1);
    for (i = 0; i < 100; i++) {
        gchar *key = g_strdup_printf("2:%" G_GSIZE_MODIFIER "x", (gsize)(BASE + 16 * i));
        g_assert_cmpint(g_hash_table_contains(log.seen, key), ==, i % 3 != 0);
        g_free(key);
    }

    /* Stop on FALSE: in the first table, and in a later one. */
    g_hash_table_remove_all(log.seen);
    log.visits = 0;
    log.stop_after = 5;
    tm_store_foreach(store, log_trace, &log);
    g_assert_cmpuint(log.visits, ==, 5);
    log.visits = 0;
    log.stop_after = expected - 10;
    tm_store_foreach(store, log_trace, &log);
    g_assert_cmpuint(log.visits, ==, expected - 10);

    g_hash_table_unref(log.seen);
    tm_store_free(store);
}

static void
test_memory(void)
{
    TmStore *store = new_store();
    const TmTraceback *tb = tb1(store, 0, 1);
    TmFrame frames[10];
    gsize baseline, after_tb, m10k, m100k;
    guint i, j;

    baseline = tm_store_memory(store);
    g_assert_cmpuint(baseline, >, 0);

    /* Tracebacks count with their frames. */
    for (i = 0; i < 1000; i++) {
        for (j = 0; j < G_N_ELEMENTS(frames); j++)
            frames[j] = (TmFrame){FILENAMES[j % N_FILENAMES], i * 100 + j};
        g_assert_nonnull(tm_store_intern_traceback(store, frames, 10, 10));
    }
    after_tb = tm_store_memory(store);
    g_assert_cmpuint(after_tb, >=, baseline + 1000 * 10 * sizeof(TmFrame));

    for (i = 0; i < 10000; i++)
        g_assert_cmpint(tm_store_add(store, TM_DEFAULT_DOMAIN, BASE + 16 * i, 1, tb), ==, 0);
    m10k = tm_store_memory(store);
    g_assert_cmpuint(m10k, >=, after_tb + 10000 * sizeof(guintptr));
    for (; i < 100000; i++)
        g_assert_cmpint(tm_store_add(store, TM_DEFAULT_DOMAIN, BASE + 16 * i, 1, tb), ==, 0);
    m100k = tm_store_memory(store);
    g_assert_cmpuint(m100k, >=, m10k + 90000 * sizeof(guintptr));
    /* Other domains and big sizes cost something too. */
    g_assert_cmpint(tm_store_add(store, 5, BASE, G_MAXSIZE / 4, tb), ==, 0);
    g_assert_cmpuint(tm_store_memory(store), >, m100k);

    /* Back near the baseline after clear (the filenames are gone too). */
    tm_store_clear(store);
    g_assert_cmpuint(tm_store_memory(store), <=, baseline);
    g_assert_cmpuint(tm_store_memory(store), >, 0);
    tm_store_free(store);
}

/* ---- Differential test against a plain GHashTable model ----------------------------------- */

typedef struct {
    gsize size;
    const TmTraceback *traceback;
} ModelTrace;

/* Model key: domain index (0..3) in the top bits, address below. */
static const guint RANDOM_DOMAINS[] = {TM_DEFAULT_DOMAIN, 1, 42, G_MAXUINT};

static gint64 *
model_key(guint domain_index, guintptr ptr)
{
    gint64 *key = g_new(gint64, 1);

    *key = (gint64)(((guint64)domain_index << 56) | (guint64)ptr);
    return key;
}

typedef struct {
    GHashTable *model;
    guint visits;
} ModelCheck;

static gboolean
check_against_model(guintptr ptr, const TmTrace *trace, gpointer user_data)
{
    ModelCheck *check = user_data;
    guint d;
    gint64 *key;
    ModelTrace *expected;

    for (d = 0; d < G_N_ELEMENTS(RANDOM_DOMAINS); d++) {
        if (RANDOM_DOMAINS[d] == trace->domain)
            break;
    }
    g_assert_cmpuint(d, <, G_N_ELEMENTS(RANDOM_DOMAINS));
    key = model_key(d, ptr);
    expected = g_hash_table_lookup(check->model, key);
    g_free(key);
    g_assert_nonnull(expected);
    g_assert_cmpuint(trace->size, ==, expected->size);
    g_assert_true(trace->traceback == expected->traceback);
    check->visits++;
    return TRUE;
}

/* Blocks parked on free lists: entries of the default domain that are no traces. */
static void
assert_parked(TmStore *store, gsize size, gsize count)
{
    gsize parked_size = 1, parked_count = 1;

    tm_store_parked(store, &parked_size, &parked_count);
    g_assert_cmpuint(parked_size, ==, size);
    g_assert_cmpuint(parked_count, ==, count);
}

static gboolean
count_visits(guintptr ptr, const TmTrace *trace, gpointer user_data)
{
    (void)ptr;
    (void)trace;
    (*(guint *)user_data)++;
    return TRUE;
}

static void
test_park(void)
{
    TmStore *store = new_store();
    TmStore *other = new_store();
    const TmTraceback *tb = tb1(store, 0, 10);
    const TmTraceback *tb2 = tb1(store, 1, 20);
    guint visits = 0;
    gsize size = 0;

    /* A traced block goes onto a free list: no trace any more, parked with its size. */
    g_assert_cmpint(tm_store_add(store, TM_DEFAULT_DOMAIN, BASE, 100, tb), ==, 0);
    g_assert_cmpint(tm_store_park(store, BASE, 96), ==, 1);
    g_assert_null(tm_store_get(store, TM_DEFAULT_DOMAIN, BASE));
    assert_counters(store, 0, 0, 100);
    assert_parked(store, 96, 1);
    /* A block that had no trace (allocated before tracing) parks too. */
    g_assert_cmpint(tm_store_park(store, BASE + 16, 48), ==, 0);
    assert_parked(store, 144, 2);
    /* Parked twice without a reuse in between: one entry, the last size. */
    g_assert_cmpint(tm_store_park(store, BASE + 16, 64), ==, 0);
    assert_parked(store, 160, 2);
    tm_store_foreach(store, count_visits, &visits);
    g_assert_cmpuint(visits, ==, 0);

    /* Reuse: the parked entry becomes a trace with the new traceback. */
    g_assert_cmpint(tm_store_add(store, TM_DEFAULT_DOMAIN, BASE, 80, tb2), ==, 0);
    g_assert_true(tm_store_get(store, TM_DEFAULT_DOMAIN, BASE)->traceback == tb2);
    assert_counters(store, 80, 1, 100);
    assert_parked(store, 64, 1);
    /* Another domain at the same address is a trace of its own. */
    g_assert_cmpint(tm_store_add(store, 7, BASE + 16, 10, tb), ==, 0);
    assert_parked(store, 64, 1);
    g_assert_true(tm_store_remove(store, 7, BASE + 16, NULL));

    /* Parked blocks survive in the copy that clear_traces() makes. */
    g_assert_cmpint(tm_store_take_parked(other, store), ==, 0);
    assert_parked(other, 64, 1);
    assert_counters(other, 0, 0, 0);
    assert_parked(store, 64, 1);

    /* A parked block really freed: forgotten, and it was no trace. */
    g_assert_false(tm_store_remove(store, TM_DEFAULT_DOMAIN, BASE + 16, &size));
    assert_parked(store, 0, 0);
    assert_counters(store, 80, 1, 100);
    /* Reallocating a parked block forgets it; moving a trace onto one replaces it. */
    g_assert_cmpint(tm_store_park(store, BASE + 32, 40), ==, 0);
    g_assert_cmpint(tm_store_move(store, TM_DEFAULT_DOMAIN, BASE + 32, BASE + 48, 40), ==, 0);
    assert_parked(store, 0, 0);
    g_assert_null(tm_store_get(store, TM_DEFAULT_DOMAIN, BASE + 48));
    g_assert_cmpint(tm_store_park(store, BASE + 48, 40), ==, 0);
    g_assert_cmpint(tm_store_move(store, TM_DEFAULT_DOMAIN, BASE, BASE + 48, 90), ==, 1);
    assert_parked(store, 0, 0);
    assert_counters(store, 90, 1, 100);
    g_assert_cmpuint(tm_store_get(store, TM_DEFAULT_DOMAIN, BASE + 48)->size, ==, 90);

    /* Many parked blocks grow the table like traces; clear forgets them. */
    for (guint i = 0; i < 10000; i++)
        g_assert_cmpint(tm_store_park(store, BASE + 4096 + 16 * i, 24), ==, 0);
    assert_parked(store, 240000, 10000);
    assert_counters(store, 90, 1, 100);
    g_assert_nonnull(tm_store_get(store, TM_DEFAULT_DOMAIN, BASE + 48));
    tm_store_clear(store);
    assert_parked(store, 0, 0);
    tm_store_free(store);
    tm_store_free(other);
}

/* Forget ptr in the parked model; returns its size, 0 if it was not parked. Keys and values
 * are stored plus one (address 0 and size 0 are in the pool). */
static gsize
model_unpark(GHashTable *parked, guintptr ptr)
{
    gpointer value = g_hash_table_lookup(parked, (gpointer)(ptr + 1));

    if (value == NULL)
        return 0;
    g_hash_table_remove(parked, (gpointer)(ptr + 1));
    return GPOINTER_TO_SIZE(value) - 1;
}

static void
test_random(void)
{
    const guint n_ops = 100000;
    TmStore *store = new_store();
    GHashTable *model = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
    /* The parked blocks (default domain): address -> size. */
    GHashTable *parked = g_hash_table_new(g_direct_hash, g_direct_equal);
    gsize traced = 0, peak = 0, parked_size = 0;
    const TmTraceback *tbs[64];
    guint op, n_pool = 64, n_tb = 0;

    for (op = 0; op < n_ops; op++) {
        guint d = g_test_rand_int_range(0, 10) < 7 ? 0 : (guint)g_test_rand_int_range(1, 4);
        guint domain = RANDOM_DOMAINS[d];
        /* The pool of addresses breathes so that tables grow and shrink; address 0 is in it. */
        guintptr ptr = (guintptr)g_test_rand_int_range(0, (gint32)n_pool) * 16;
        guint choice = (guint)g_test_rand_int_range(0, 100);
        gint64 *key = model_key(d, ptr);
        ModelTrace *expected = g_hash_table_lookup(model, key);
        const TmTrace *trace;
        gsize size;

        if (op % 5000 == 0)
            n_pool = (guint)g_test_rand_int_range(16, 40000);
        if (n_tb < G_N_ELEMENTS(tbs) || choice < 5) {
            /* Intern (or find again) a traceback; keep the 64 most recent. */
            TmFrame frames[3];
            guint nframe = (guint)g_test_rand_int_range(0, 4), i;
            for (i = 0; i < nframe; i++) {
                frames[i].filename = FILENAMES[g_test_rand_int_range(0, N_FILENAMES)];
                frames[i].lineno = (guint)g_test_rand_int_range(0, 50);
            }
            tbs[n_tb++ % G_N_ELEMENTS(tbs)] = tm_store_intern_traceback(store, frames, nframe,
                                                                        nframe);
            g_assert_nonnull(tbs[(n_tb - 1) % G_N_ELEMENTS(tbs)]);
        }

        if (choice < 45) {
            /* Add or replace. */
            ModelTrace *value = g_new(ModelTrace, 1);
            size = (gsize)g_test_rand_int_range(0, 100000);
            if (choice == 0 && sizeof(gsize) == 8)
                size += (gsize)G_MAXUINT32 - 50000; /* around the 32-bit boundary */
            value->size = size;
            value->traceback = tbs[g_test_rand_int_range(0, (gint32)MIN(n_tb, G_N_ELEMENTS(tbs)))];
            g_assert_cmpint(tm_store_add(store, domain, ptr, size, value->traceback), ==, 0);
            if (expected != NULL)
                traced -= expected->size;
            if (d == 0)
                parked_size -= model_unpark(parked, ptr);
            traced += size;
            g_hash_table_replace(model, key, value);
            key = NULL;
        }
        else if (choice < 55 && d == 0) {
            /* Onto a free list. */
            size = (gsize)g_test_rand_int_range(0, 100000);
            g_assert_cmpint(tm_store_park(store, ptr, size), ==, expected != NULL);
            if (expected != NULL) {
                traced -= expected->size;
                g_hash_table_remove(model, key);
            }
            parked_size -= model_unpark(parked, ptr);
            g_hash_table_insert(parked, (gpointer)(ptr + 1), GSIZE_TO_POINTER(size + 1));
            parked_size += size;
        }
        else if (choice < 85) {
            gboolean removed = tm_store_remove(store, domain, ptr, &size);
            g_assert_cmpint(removed, ==, expected != NULL);
            if (expected != NULL) {
                g_assert_cmpuint(size, ==, expected->size);
                traced -= size;
                g_hash_table_remove(model, key);
            }
            else if (d == 0)
                parked_size -= model_unpark(parked, ptr);
        }
        else if (choice < 97) {
            /* Realloc: in place or to another address of the pool. */
            guintptr new_ptr = choice % 3 == 0
                                   ? ptr
                                   : (guintptr)g_test_rand_int_range(0, (gint32)n_pool) * 16;
            gsize new_size = (gsize)g_test_rand_int_range(0, 100000);
            int moved = tm_store_move(store, domain, ptr, new_ptr, new_size);
            g_assert_cmpint(moved, ==, expected != NULL);
            if (expected == NULL && d == 0)
                parked_size -= model_unpark(parked, ptr);  /* a parked block moved: forgotten */
            if (expected != NULL && d == 0)
                parked_size -= model_unpark(parked, new_ptr);
            if (expected != NULL) {
                gint64 *new_key = model_key(d, new_ptr);
                ModelTrace *value = g_new(ModelTrace, 1);
                ModelTrace *replaced;
                value->size = new_size;
                value->traceback = expected->traceback;
                traced -= expected->size;
                g_hash_table_remove(model, key);
                replaced = g_hash_table_lookup(model, new_key);
                if (replaced != NULL)
                    traced -= replaced->size;
                traced += new_size;
                g_hash_table_replace(model, new_key, value);
            }
        }
        else if (choice < 99) {
            tm_store_reset_peak(store);
            peak = traced;
        }
        else if (g_test_rand_int_range(0, 50) == 0) {
            /* Rarely: clear. Tracebacks die with it, so the pool is rebuilt. */
            tm_store_clear(store);
            g_hash_table_remove_all(model);
            g_hash_table_remove_all(parked);
            traced = peak = parked_size = 0;
            n_tb = 0;
            g_assert_cmpuint(tm_store_traceback_count(store), ==, 0);
            {
                gsize i;
                for (i = 0; i < N_FILENAMES; i++)
                    g_assert_cmpint(tm_store_intern_filename(store, FILENAMES[i]), ==, TRUE);
            }
        }
        g_free(key);
        peak = MAX(peak, traced);

        /* Compare counters after every operation and one lookup. */
        assert_counters(store, traced, g_hash_table_size(model), peak);
        assert_parked(store, parked_size, g_hash_table_size(parked));
        key = model_key(d, ptr);
        expected = g_hash_table_lookup(model, key);
        g_free(key);
        trace = tm_store_get(store, domain, ptr);
        g_assert_cmpint(trace != NULL, ==, expected != NULL);
        if (trace != NULL) {
            g_assert_cmpuint(trace->size, ==, expected->size);
            g_assert_true(trace->traceback == expected->traceback);
            g_assert_cmpuint(trace->domain, ==, domain);
        }

        /* Now and then, compare everything both ways. */
        if (op % 10000 == 9999) {
            ModelCheck check = {model, 0};
            tm_store_foreach(store, check_against_model, &check);
            g_assert_cmpuint(check.visits, ==, g_hash_table_size(model));
        }
    }
    g_hash_table_unref(model);
    g_hash_table_unref(parked);
    tm_store_free(store);
}

/* tm_store_fail_allocation(): each call that needs memory fails once, cleanly, and succeeds
 * when tried again. */
static void
test_fail_allocation(void)
{
    TmStore *store = new_store();
    TmFrame frame = {FILENAMES[0], 1};
    const TmTraceback *tb;
    guint n;

    /* The first traceback: its vector is the first allocation. */
    g_assert_cmpuint(tm_store_failed_sites(store), ==, 0);
    g_assert_cmpuint(tm_store_alloc_attempts(store), ==, 0);
    tm_store_fail_allocation(store, 1);
    g_assert_null(tm_store_intern_traceback(store, &frame, 1, 1));
    g_assert_cmpuint(tm_store_traceback_count(store), ==, 0);
    g_assert_cmpuint(tm_store_failed_sites(store), ==, 1u << TM_ALLOC_TRACEBACK_VEC);
    g_assert_cmpuint(tm_store_alloc_attempts(store), ==, 1);
    tb = tm_store_intern_traceback(store, &frame, 1, 1);
    g_assert_nonnull(tb);
    g_assert_cmpuint(tm_store_traceback_count(store), ==, 1);

    /* The first trace: its table is the first allocation. */
    tm_store_fail_allocation(store, 1);
    g_assert_cmpint(tm_store_add(store, TM_DEFAULT_DOMAIN, BASE, 10, tb), ==, -1);
    assert_counters(store, 0, 0, 0);
    g_assert_true(tm_store_failed_sites(store) & (1u << TM_ALLOC_TRACE_TABLE));
    g_assert_null(tm_store_get(store, TM_DEFAULT_DOMAIN, BASE));
    g_assert_cmpint(tm_store_add(store, TM_DEFAULT_DOMAIN, BASE, 10, tb), ==, 0);
    assert_counters(store, 10, 1, 10);

    /* A new domain's table, then a block parked on a free list. */
    tm_store_fail_allocation(store, 1);
    g_assert_cmpint(tm_store_add(store, 7, BASE, 20, tb), ==, -1);
    g_assert_null(tm_store_get(store, 7, BASE));
    g_assert_true(tm_store_failed_sites(store) & (1u << TM_ALLOC_DOMAIN_TABLE));
    assert_counters(store, 10, 1, 10);
    g_assert_cmpint(tm_store_add(store, 7, BASE, 20, tb), ==, 0);
    assert_counters(store, 30, 2, 30);

    /* The n-th allocation, not the first: adds and tracebacks that need none do not count. */
    tm_store_fail_allocation(store, 2);
    for (n = 1; n < 8; n++)  /* fit in the first table: half of its 16 slots, a small one's */
        g_assert_cmpint(tm_store_add(store, TM_DEFAULT_DOMAIN, BASE + 16 * n, 1, tb), ==, 0);
    for (n = 2; n <= 48; n++) {  /* the 17th needs the 2nd chunk of tracebacks: the 1st */
        frame.lineno = n;
        g_assert_nonnull(tm_store_intern_traceback(store, &frame, 1, 1));
    }
    /* The 49th needs the 3rd chunk (the 2nd allocation): it fails. */
    frame.lineno = 49;
    g_assert_null(tm_store_intern_traceback(store, &frame, 1, 1));
    g_assert_cmpuint(tm_store_traceback_count(store), ==, 48);
    g_assert_cmpuint(tm_store_node_count(store), ==, 48);
    g_assert_nonnull(tm_store_intern_traceback(store, &frame, 1, 1));  /* then no more */
    g_assert_cmpuint(tm_store_traceback_count(store), ==, 49);
    g_assert_true(tm_store_failed_sites(store) & (1u << TM_ALLOC_TRACEBACK));

    /* Sites outside the store (export.c's copies) ask the same countdown. */
    tm_store_fail_allocation(store, 2);
    g_assert_true(tm_store_try_alloc(store, TM_ALLOC_COPY_ITEMS));
    g_assert_false(tm_store_try_alloc(store, TM_ALLOC_COPY_LINE));
    g_assert_true(tm_store_try_alloc(store, TM_ALLOC_COPY_LINE));
    g_assert_true(tm_store_failed_sites(store) & (1u << TM_ALLOC_COPY_LINE));
    g_assert_false(tm_store_failed_sites(store) & (1u << TM_ALLOC_COPY_ITEMS));
    g_assert_cmpstr(tm_store_alloc_site_name(TM_ALLOC_COPY_LINE), ==, "copy line");
    g_assert_null(tm_store_alloc_site_name(TM_ALLOC_NSITES));

    tm_store_free(store);
}

/* ---- The peak of every group (peak.h) ----------------------------------------------------- */

typedef struct {
    guint domain;
    const TmTraceback *traceback;
    gsize size, count; /* found */
    gsize sum_size, sum_count, groups; /* over every group */
} GroupProbe;

static gboolean
probe_group(guint domain, const TmTraceback *traceback, gsize size, gsize count,
            gpointer user_data)
{
    GroupProbe *probe = user_data;

    g_assert_cmpuint(count, >, 0);
    if (domain == probe->domain && traceback == probe->traceback) {
        g_assert_cmpuint(probe->count, ==, 0); /* each group once */
        probe->size = size;
        probe->count = count;
    }
    probe->sum_size += size;
    probe->sum_count += count;
    probe->groups++;
    return TRUE;
}

/* The group (domain, traceback) now or at the peak is (size, count); (0, 0): none. Also checks
 * that the groups at the peak sum to the peak, and now to traced and count. */
static void
assert_group(TmStore *store, gboolean at_peak, guint domain, const TmTraceback *traceback,
             gsize size, gsize count)
{
    GroupProbe probe = {domain, traceback, 0, 0, 0, 0, 0};

    tm_store_foreach_group(store, at_peak, probe_group, &probe);
    g_assert_cmpuint(probe.size, ==, size);
    g_assert_cmpuint(probe.count, ==, count);
    if (at_peak) {
        g_assert_cmpuint(probe.sum_size, ==, tm_store_peak(store));
    }
    else {
        g_assert_cmpuint(probe.sum_size, ==, tm_store_traced(store));
        g_assert_cmpuint(probe.sum_count, ==, tm_store_count(store));
    }
}

static guint
group_count(TmStore *store, gboolean at_peak)
{
    GroupProbe probe = {0, NULL, 0, 0, 0, 0, 0};

    tm_store_foreach_group(store, at_peak, probe_group, &probe);
    return (guint)probe.groups;
}

#define PEAK(domain, tb, size, count) assert_group(store, TRUE, domain, tb, size, count)
#define NOW(domain, tb, size, count) assert_group(store, FALSE, domain, tb, size, count)
#define D0 TM_DEFAULT_DOMAIN

/* A peak reached, left, reached again at the same value (the first time stays) and exceeded. */
static void
test_peak_reached_left_reached(void)
{
    TmStore *store = new_store();
    const TmTraceback *a = tb1(store, 0, 1), *b = tb1(store, 1, 2);

    g_assert_cmpuint(group_count(store, TRUE), ==, 0);
    g_assert_cmpint(tm_store_add(store, D0, BASE, 100, a), ==, 0);
    g_assert_cmpint(tm_store_add(store, D0, BASE + 16, 50, b), ==, 0);
    PEAK(D0, a, 100, 1);
    PEAK(D0, b, 50, 1);

    /* Left: the peak keeps what was live then. */
    g_assert_true(tm_store_remove(store, D0, BASE, NULL));
    g_assert_cmpint(tm_store_add(store, D0, BASE + 32, 30, b), ==, 0);
    assert_counters(store, 80, 2, 150);
    PEAK(D0, a, 100, 1);
    PEAK(D0, b, 50, 1);
    NOW(D0, a, 0, 0);
    NOW(D0, b, 80, 2);

    /* Reached again, not exceeded: the peak is the first moment it was reached. */
    g_assert_cmpint(tm_store_add(store, D0, BASE + 48, 70, a), ==, 0);
    assert_counters(store, 150, 3, 150);
    PEAK(D0, a, 100, 1);
    PEAK(D0, b, 50, 1);

    /* Exceeded by one byte: the new peak is the current state. */
    g_assert_cmpint(tm_store_add(store, D0, BASE + 64, 1, a), ==, 0);
    PEAK(D0, a, 71, 2);
    PEAK(D0, b, 80, 2);
    g_assert_true(tm_store_remove(store, D0, BASE + 48, NULL));
    g_assert_true(tm_store_remove(store, D0, BASE + 64, NULL));
    PEAK(D0, a, 71, 2);
    NOW(D0, a, 0, 0);

    /* A peak made by one group only: the other has none at it. */
    g_assert_cmpint(tm_store_add(store, D0, BASE + 80, 200, b), ==, 0);
    assert_counters(store, 280, 3, 280);
    PEAK(D0, a, 0, 0);
    PEAK(D0, b, 280, 3);
    g_assert_cmpuint(group_count(store, TRUE), ==, 1);
    tm_store_free(store);
}

/* A group untouched since the peak reads its current value, however much the others change. */
static void
test_peak_untouched(void)
{
    TmStore *store = new_store();
    const TmTraceback *a = tb1(store, 0, 1), *c = tb1(store, 2, 3);
    guint i;

    g_assert_cmpint(tm_store_add(store, D0, BASE, 10, c), ==, 0);
    g_assert_cmpint(tm_store_add(store, D0, BASE + 16, 100, a), ==, 0);
    for (i = 0; i < 1000; i++) {
        g_assert_true(tm_store_remove(store, D0, BASE + 16, NULL));
        g_assert_cmpint(tm_store_add(store, D0, BASE + 16, i % 100, a), ==, 0);
    }
    assert_counters(store, 10 + 999 % 100, 2, 110);
    PEAK(D0, c, 10, 1);
    PEAK(D0, a, 100, 1);
    NOW(D0, a, 99, 1);
    tm_store_free(store);
}

/* reset_peak: the peak is now; then it is left and exceeded as before. */
static void
test_peak_reset(void)
{
    TmStore *store = new_store();
    const TmTraceback *a = tb1(store, 0, 1), *b = tb1(store, 1, 2);

    g_assert_cmpint(tm_store_add(store, D0, BASE, 1000, a), ==, 0);
    g_assert_true(tm_store_remove(store, D0, BASE, NULL));
    g_assert_cmpint(tm_store_add(store, D0, BASE + 16, 10, b), ==, 0);
    PEAK(D0, a, 1000, 1);
    tm_store_reset_peak(store);
    assert_counters(store, 10, 1, 10);
    PEAK(D0, a, 0, 0);
    PEAK(D0, b, 10, 1);

    g_assert_true(tm_store_remove(store, D0, BASE + 16, NULL));
    PEAK(D0, b, 10, 1);
    g_assert_cmpint(tm_store_add(store, D0, BASE + 16, 5, a), ==, 0);
    PEAK(D0, a, 0, 0);
    PEAK(D0, b, 10, 1);
    g_assert_cmpint(tm_store_add(store, D0, BASE + 32, 6, a), ==, 0);
    PEAK(D0, a, 11, 2);
    PEAK(D0, b, 0, 0);

    /* A reset with nothing traced: no group at the peak until something is. */
    g_assert_true(tm_store_remove(store, D0, BASE + 16, NULL));
    g_assert_true(tm_store_remove(store, D0, BASE + 32, NULL));
    tm_store_reset_peak(store);
    g_assert_cmpuint(group_count(store, TRUE), ==, 0);
    tm_store_free(store);
}

/* A trace replaced at the same address (a block never seen freed) leaves its group. */
static void
test_peak_replace(void)
{
    TmStore *store = new_store();
    const TmTraceback *a = tb1(store, 0, 1), *b = tb1(store, 1, 2);

    g_assert_cmpint(tm_store_add(store, D0, BASE, 100, a), ==, 0);
    g_assert_cmpint(tm_store_add(store, D0, BASE, 40, b), ==, 0);
    assert_counters(store, 40, 1, 100);
    PEAK(D0, a, 100, 1);
    PEAK(D0, b, 0, 0);
    NOW(D0, a, 0, 0);
    NOW(D0, b, 40, 1);
    /* Replaced by a bigger one of the same group: a new peak. */
    g_assert_cmpint(tm_store_add(store, D0, BASE, 200, b), ==, 0);
    assert_counters(store, 200, 1, 200);
    PEAK(D0, a, 0, 0);
    PEAK(D0, b, 200, 1);
    tm_store_free(store);
}

/* realloc: in place, to another address, over another trace. */
static void
test_peak_move(void)
{
    TmStore *store = new_store();
    const TmTraceback *a = tb1(store, 0, 1), *b = tb1(store, 1, 2);

    g_assert_cmpint(tm_store_add(store, D0, BASE, 100, a), ==, 0);
    g_assert_cmpint(tm_store_move(store, D0, BASE, BASE + 16, 300), ==, 1);
    PEAK(D0, a, 300, 1);
    g_assert_cmpint(tm_store_move(store, D0, BASE + 16, BASE + 16, 50), ==, 1);
    assert_counters(store, 50, 1, 300);
    PEAK(D0, a, 300, 1);
    NOW(D0, a, 50, 1);
    /* Over a trace of another group, which goes. */
    g_assert_cmpint(tm_store_add(store, D0, BASE + 32, 20, b), ==, 0);
    g_assert_cmpint(tm_store_move(store, D0, BASE + 16, BASE + 32, 400), ==, 1);
    assert_counters(store, 400, 1, 400);
    PEAK(D0, a, 400, 1);
    PEAK(D0, b, 0, 0);
    NOW(D0, b, 0, 0);
    /* In another domain. */
    g_assert_cmpint(tm_store_add(store, 9, BASE, 10, b), ==, 0);
    g_assert_cmpint(tm_store_move(store, 9, BASE, BASE + 48, 1000), ==, 1);
    PEAK(9, b, 1000, 1);
    PEAK(D0, a, 400, 1);
    g_assert_cmpint(tm_store_move(store, 9, BASE + 48, BASE + 48, 1), ==, 1);
    PEAK(9, b, 1000, 1);
    NOW(9, b, 1, 1);
    tm_store_free(store);
}

/* Free lists: a parked block is no trace; its reuse is one. */
static void
test_peak_park(void)
{
    TmStore *store = new_store();
    const TmTraceback *a = tb1(store, 0, 1), *b = tb1(store, 1, 2);

    g_assert_cmpint(tm_store_add(store, D0, BASE, 100, a), ==, 0);
    g_assert_cmpint(tm_store_park(store, BASE, 100), ==, 1);
    assert_counters(store, 0, 0, 100);
    PEAK(D0, a, 100, 1);
    NOW(D0, a, 0, 0);
    g_assert_cmpint(tm_store_add(store, D0, BASE, 60, b), ==, 0);
    PEAK(D0, a, 100, 1);
    NOW(D0, b, 60, 1);
    /* Parked twice, then freed: nothing traced changes. */
    g_assert_cmpint(tm_store_park(store, BASE, 60), ==, 1);
    g_assert_cmpint(tm_store_park(store, BASE, 60), ==, 0);
    g_assert_false(tm_store_remove(store, D0, BASE, NULL));
    PEAK(D0, a, 100, 1);
    g_assert_cmpuint(group_count(store, FALSE), ==, 0);
    /* A peak made in two domains. */
    g_assert_cmpint(tm_store_add(store, D0, BASE, 60, b), ==, 0);
    g_assert_cmpint(tm_store_add(store, 7, BASE, 500, a), ==, 0);
    PEAK(D0, b, 60, 1);
    PEAK(7, a, 500, 1);
    PEAK(D0, a, 0, 0);
    g_assert_cmpuint(group_count(store, TRUE), ==, 2);
    /* clear: no group, now or at the peak. */
    tm_store_clear(store);
    g_assert_cmpuint(group_count(store, TRUE), ==, 0);
    g_assert_cmpuint(group_count(store, FALSE), ==, 0);
    assert_counters(store, 0, 0, 0);
    tm_store_free(store);
}

/* tm_store_retract(): the last add undone, as if the block had never been traced. */
static void
test_peak_retract(void)
{
    TmStore *store = new_store();
    const TmTraceback *a = tb1(store, 0, 1), *b = tb1(store, 1, 2);
    gsize size = 0;

    /* The first event: nothing at the peak afterwards. */
    g_assert_cmpint(tm_store_add(store, D0, BASE, 100, a), ==, 0);
    g_assert_true(tm_store_retract(store, D0, BASE, &size));
    g_assert_cmpuint(size, ==, 100);
    assert_counters(store, 0, 0, 0);
    g_assert_cmpuint(group_count(store, TRUE), ==, 0);
    g_assert_null(tm_store_get(store, D0, BASE));
    /* Done once: undone, it is no longer the last add. */
    g_assert_false(tm_store_retract(store, D0, BASE, NULL));

    /* An add below the peak: the peak stays, with its groups. */
    g_assert_cmpint(tm_store_add(store, D0, BASE, 100, a), ==, 0);
    g_assert_cmpint(tm_store_add(store, D0, BASE + 16, 50, b), ==, 0);
    g_assert_true(tm_store_remove(store, D0, BASE, NULL));
    g_assert_cmpint(tm_store_add(store, D0, BASE + 32, 60, a), ==, 0);
    g_assert_cmpint(tm_store_add(store, D0, BASE + 48, 30, b), ==, 0);
    assert_counters(store, 140, 3, 150);
    g_assert_true(tm_store_retract(store, D0, BASE + 48, NULL));
    assert_counters(store, 110, 2, 150);
    PEAK(D0, a, 100, 1);
    PEAK(D0, b, 50, 1);
    NOW(D0, b, 50, 1);

    /* An add that made a new peak: the peak before it comes back, each group as it was then
     * (b changed since, a did not change in between). */
    g_assert_cmpint(tm_store_add(store, D0, BASE + 48, 80, b), ==, 0);
    assert_counters(store, 190, 3, 190);
    PEAK(D0, b, 130, 2);
    g_assert_true(tm_store_retract(store, D0, BASE + 48, NULL));
    assert_counters(store, 110, 2, 150);
    PEAK(D0, a, 100, 1);
    PEAK(D0, b, 50, 1);
    NOW(D0, a, 60, 1);
    NOW(D0, b, 50, 1);
    /* ... and the next events go on from there. */
    g_assert_cmpint(tm_store_add(store, D0, BASE + 64, 41, b), ==, 0);
    assert_counters(store, 151, 3, 151);
    PEAK(D0, a, 60, 1);
    PEAK(D0, b, 91, 2);

    /* Not the last event: refused, nothing changed. */
    g_assert_cmpint(tm_store_add(store, D0, BASE + 80, 5, a), ==, 0);
    g_assert_cmpint(tm_store_add(store, D0, BASE + 96, 5, a), ==, 0);
    g_assert_false(tm_store_retract(store, D0, BASE + 80, NULL));
    g_assert_false(tm_store_retract(store, 7, BASE + 96, NULL));
    assert_counters(store, 161, 5, 161);
    g_assert_true(tm_store_retract(store, D0, BASE + 96, NULL));
    g_assert_false(tm_store_retract(store, D0, BASE + 80, NULL));
    assert_counters(store, 156, 4, 156);
    PEAK(D0, a, 65, 2);
    g_assert_true(tm_store_remove(store, D0, BASE + 80, NULL));
    g_assert_false(tm_store_retract(store, D0, BASE + 80, NULL));

    /* A replaced trace is not undone. */
    g_assert_cmpint(tm_store_add(store, D0, BASE + 64, 7, a), ==, 0);
    g_assert_false(tm_store_retract(store, D0, BASE + 64, NULL));
    assert_counters(store, 117, 3, 156);
    tm_store_free(store);
}

/* Retracting after a reset, a block reused from a free list, another domain. */
static void
test_peak_retract_reset_park(void)
{
    TmStore *store = new_store();
    const TmTraceback *a = tb1(store, 0, 1), *b = tb1(store, 1, 2);
    gsize size, count;

    /* A reset after the add: the peak is the state without it. */
    g_assert_cmpint(tm_store_add(store, D0, BASE, 50, a), ==, 0);
    g_assert_cmpint(tm_store_add(store, D0, BASE + 16, 20, b), ==, 0);
    tm_store_reset_peak(store);
    g_assert_true(tm_store_retract(store, D0, BASE + 16, NULL));
    assert_counters(store, 50, 1, 50);
    PEAK(D0, a, 50, 1);
    PEAK(D0, b, 0, 0);
    /* A reset before the add, which then made the peak: back to the reset's peak. */
    g_assert_cmpint(tm_store_add(store, D0, BASE + 16, 20, b), ==, 0);
    g_assert_true(tm_store_retract(store, D0, BASE + 16, NULL));
    assert_counters(store, 50, 1, 50);
    PEAK(D0, a, 50, 1);
    PEAK(D0, b, 0, 0);

    /* A parked block reused: retracted, it is neither a trace nor parked. */
    g_assert_cmpint(tm_store_park(store, BASE, 50), ==, 1);
    g_assert_cmpint(tm_store_add(store, D0, BASE, 40, b), ==, 0);
    g_assert_true(tm_store_retract(store, D0, BASE, &size));
    g_assert_cmpuint(size, ==, 40);
    tm_store_parked(store, &size, &count);
    g_assert_cmpuint(size, ==, 0);
    g_assert_cmpuint(count, ==, 0);
    g_assert_false(tm_store_remove(store, D0, BASE, NULL));
    assert_counters(store, 0, 0, 50);
    PEAK(D0, a, 50, 1);

    /* Another domain. */
    g_assert_cmpint(tm_store_add(store, 7, BASE, 500, a), ==, 0);
    PEAK(7, a, 500, 1);
    g_assert_true(tm_store_retract(store, 7, BASE, NULL));
    assert_counters(store, 0, 0, 50);
    PEAK(7, a, 0, 0);
    PEAK(D0, a, 50, 1);
    g_assert_cmpint(tm_store_add(store, 7, BASE, 60, a), ==, 0);
    PEAK(7, a, 60, 1);
    /* clear forgets the last add. */
    tm_store_clear(store);
    g_assert_false(tm_store_retract(store, 7, BASE, NULL));
    tm_store_free(store);
}

/* A new group of a domain other than the default one is an allocation: out of memory, the add
 * fails with nothing changed. */
static void
test_peak_fail_allocation(void)
{
    TmStore *store = new_store();
    const TmTraceback *a = tb1(store, 0, 1), *b = tb1(store, 1, 2);

    g_assert_cmpint(tm_store_add(store, 7, BASE, 10, a), ==, 0);
    tm_store_fail_allocation(store, 1);
    g_assert_cmpint(tm_store_add(store, 7, BASE + 16, 5, b), ==, -1);
    g_assert_null(tm_store_get(store, 7, BASE + 16));
    assert_counters(store, 10, 1, 10);
    PEAK(7, b, 0, 0);
    g_assert_cmpint(tm_store_add(store, 7, BASE + 16, 5, b), ==, 0);
    assert_counters(store, 15, 2, 15);
    PEAK(7, b, 5, 1);
    NOW(7, a, 10, 1);
    tm_store_free(store);
}

/* Brute force, the proof of exactness: random operations against a model that keeps the
 * size and count of every group and copies the whole table at each new peak. */

#define PEAK_N_TB 24
#define PEAK_N_DOMAINS G_N_ELEMENTS(RANDOM_DOMAINS)

typedef struct {
    gsize size[PEAK_N_DOMAINS][PEAK_N_TB];
    gsize count[PEAK_N_DOMAINS][PEAK_N_TB];
} GroupTable;

typedef struct {
    guint d, tb; /* domain index, traceback index */
    gsize size;
} PeakModelTrace;

typedef struct {
    GHashTable *tb_index; /* traceback -> index + 1 */
    GroupTable seen;
} GroupCollect;

static gboolean
collect_group(guint domain, const TmTraceback *traceback, gsize size, gsize count,
              gpointer user_data)
{
    GroupCollect *collect = user_data;
    guint d, i = GPOINTER_TO_UINT(g_hash_table_lookup(collect->tb_index, traceback));

    for (d = 0; d < PEAK_N_DOMAINS && RANDOM_DOMAINS[d] != domain; d++)
        ;
    g_assert_cmpuint(d, <, PEAK_N_DOMAINS);
    g_assert_cmpuint(i, >, 0);
    g_assert_cmpuint(count, >, 0);
    g_assert_cmpuint(collect->seen.count[d][i - 1], ==, 0); /* each group once */
    collect->seen.size[d][i - 1] = size;
    collect->seen.count[d][i - 1] = count;
    return TRUE;
}

static void
assert_groups(TmStore *store, gboolean at_peak, GHashTable *tb_index, const GroupTable *expected)
{
    GroupCollect collect;
    guint d, i;

    memset(&collect, 0, sizeof(collect));
    collect.tb_index = tb_index;
    tm_store_foreach_group(store, at_peak, collect_group, &collect);
    for (d = 0; d < PEAK_N_DOMAINS; d++) {
        for (i = 0; i < PEAK_N_TB; i++) {
            g_assert_cmpuint(collect.seen.size[d][i], ==, expected->size[d][i]);
            g_assert_cmpuint(collect.seen.count[d][i], ==, expected->count[d][i]);
        }
    }
}

static void
peak_intern_pool(TmStore *store, const TmTraceback **tbs, GHashTable *tb_index)
{
    guint i;

    g_hash_table_remove_all(tb_index);
    for (i = 0; i < PEAK_N_TB; i++) {
        TmFrame frames[2] = {{FILENAMES[i % N_FILENAMES], i}, {FILENAMES[0], 1}};
        tbs[i] = tm_store_intern_traceback(store, frames, i % 3, i % 3 + (i / 12));
        g_assert_nonnull(tbs[i]);
        /* i % 3 frames, i / 12 more below: some tracebacks are equal to earlier ones */
        if (g_hash_table_lookup(tb_index, tbs[i]) == NULL)
            g_hash_table_insert(tb_index, (gpointer)tbs[i], GUINT_TO_POINTER(i + 1));
    }
}

static void
test_peak_random(void)
{
    const guint n_ops = 200000;
    TmStore *store = new_store();
    /* (domain index, address) -> PeakModelTrace; parked blocks are not traces */
    GHashTable *model = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
    GHashTable *tb_index = g_hash_table_new(g_direct_hash, g_direct_equal);
    const TmTraceback *tbs[PEAK_N_TB];
    GroupTable now, at_peak;
    gsize traced = 0, peak = 0;
    guint op, n_pool = 64, peaks = 0, resets = 0, retracts = 0;

    memset(&now, 0, sizeof(now));
    memset(&at_peak, 0, sizeof(at_peak));
    peak_intern_pool(store, tbs, tb_index);
    for (op = 0; op < n_ops; op++) {
        guint d = g_test_rand_int_range(0, 10) < 7 ? 0 : (guint)g_test_rand_int_range(1, 4);
        guint domain = RANDOM_DOMAINS[d];
        guintptr ptr = (guintptr)g_test_rand_int_range(0, (gint32)n_pool) * 16;
        guint choice = (guint)g_test_rand_int_range(0, 1000);
        gint64 *key = model_key(d, ptr);
        PeakModelTrace *old = g_hash_table_lookup(model, key);

        /* The pool breathes: phases of growth and of shrinking make peaks left and reached
         * again. */
        if (op % 2000 == 0)
            n_pool = (guint)g_test_rand_int_range(4, 3000);
        if (choice < 450) {
            /* Add, or replace a trace. */
            PeakModelTrace *value = g_new(PeakModelTrace, 1);
            guint i = (guint)g_test_rand_int_range(0, PEAK_N_TB);
            value->d = d;
            value->tb = GPOINTER_TO_UINT(g_hash_table_lookup(tb_index, tbs[i])) - 1;
            value->size = (gsize)g_test_rand_int_range(0, 1000);
            if (choice == 0 && sizeof(gsize) == 8)
                value->size += (gsize)G_MAXUINT32; /* a big size (side table) */
            g_assert_cmpint(tm_store_add(store, domain, ptr, value->size, tbs[value->tb]), ==, 0);
            if (old == NULL && choice % 8 == 0) {
                /* A new trace, undone at once: the model does not change. */
                gsize size = 0;
                g_assert_true(tm_store_retract(store, domain, ptr, &size));
                g_assert_cmpuint(size, ==, value->size);
                g_assert_false(tm_store_retract(store, domain, ptr, NULL));
                g_free(value);
                retracts++;
            }
            else if (old != NULL) {
                traced -= old->size;
                now.size[old->d][old->tb] -= old->size;
                now.count[old->d][old->tb]--;
            }
            if (old != NULL || choice % 8 != 0) {
                traced += value->size;
                now.size[d][value->tb] += value->size;
                now.count[d][value->tb]++;
                g_hash_table_replace(model, key, value);
                key = NULL;
            }
        }
        else if (choice < 550 && d == 0) {
            /* Onto a free list. */
            g_assert_cmpint(tm_store_park(store, ptr, 64), ==, old != NULL);
            if (old != NULL) {
                traced -= old->size;
                now.size[d][old->tb] -= old->size;
                now.count[d][old->tb]--;
                g_hash_table_remove(model, key);
            }
        }
        else if (choice < 850) {
            g_assert_cmpint(tm_store_remove(store, domain, ptr, NULL), ==, old != NULL);
            if (old != NULL) {
                traced -= old->size;
                now.size[d][old->tb] -= old->size;
                now.count[d][old->tb]--;
                g_hash_table_remove(model, key);
            }
        }
        else if (choice < 985) {
            /* realloc, in place or to another address (maybe over a trace) */
            guintptr new_ptr = choice % 3 == 0
                                   ? ptr
                                   : (guintptr)g_test_rand_int_range(0, (gint32)n_pool) * 16;
            gsize new_size = (gsize)g_test_rand_int_range(0, 2000);
            g_assert_cmpint(tm_store_move(store, domain, ptr, new_ptr, new_size), ==,
                            old != NULL);
            if (old != NULL) {
                gint64 *new_key = model_key(d, new_ptr);
                PeakModelTrace *value = g_new(PeakModelTrace, 1), *replaced;
                *value = *old;
                value->size = new_size;
                traced -= old->size;
                now.size[d][old->tb] -= old->size;
                g_hash_table_remove(model, key);
                replaced = g_hash_table_lookup(model, new_key);
                if (replaced != NULL) {
                    traced -= replaced->size;
                    now.size[d][replaced->tb] -= replaced->size;
                    now.count[d][replaced->tb]--;
                }
                traced += new_size;
                now.size[d][value->tb] += new_size;
                g_hash_table_replace(model, new_key, value);
            }
        }
        else if (choice < 995) {
            tm_store_reset_peak(store);
            peak = traced;
            at_peak = now;
            resets++;
        }
        else if (g_test_rand_int_range(0, 20) == 0) {
            tm_store_clear(store);
            g_hash_table_remove_all(model);
            traced = peak = 0;
            memset(&now, 0, sizeof(now));
            memset(&at_peak, 0, sizeof(at_peak));
            {
                gsize i;
                for (i = 0; i < N_FILENAMES; i++)
                    g_assert_true(tm_store_intern_filename(store, FILENAMES[i]));
            }
            peak_intern_pool(store, tbs, tb_index);
        }
        g_free(key);
        if (traced > peak) {
            /* the model's copy of every group at each new peak */
            peak = traced;
            at_peak = now;
            peaks++;
        }
        assert_counters(store, traced, g_hash_table_size(model), peak);
        if (op % 7 == 0 || op > n_ops - 100) {
            assert_groups(store, TRUE, tb_index, &at_peak);
            assert_groups(store, FALSE, tb_index, &now);
        }
    }
    /* The run made many peaks and resets, in every domain. */
    g_assert_cmpuint(peaks, >, 1000);
    g_assert_cmpuint(resets, >, 100);
    g_assert_cmpuint(retracts, >, 1000);
    g_hash_table_unref(model);
    g_hash_table_unref(tb_index);
    tm_store_free(store);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/store/add-get-remove", test_add_get_remove);
    g_test_add_func("/store/replace", test_replace);
    g_test_add_func("/store/move", test_move);
    g_test_add_func("/store/remove-unknown", test_remove_unknown);
    g_test_add_func("/store/counters", test_counters);
    g_test_add_func("/store/clear", test_clear);
    g_test_add_func("/store/clear-reentrant", test_clear_reentrant);
    g_test_add_func("/store/filenames", test_filenames);
    g_test_add_func("/store/traceback/intern", test_traceback_intern);
    g_test_add_func("/store/traceback/many", test_traceback_many);
    g_test_add_func("/store/traceback/empty", test_traceback_empty);
    g_test_add_func("/store/traceback/tree", test_traceback_tree);
    g_test_add_func("/store/traceback/tree-model", test_traceback_tree_model);
    g_test_add_func("/store/traceback/fail-sweep", test_traceback_fail_sweep);
    g_test_add_func("/store/domains", test_domains);
    g_test_add_func("/store/big-size", test_big_size);
    g_test_add_func("/store/growth/sequential", test_growth_sequential);
    g_test_add_func("/store/growth/scattered", test_growth_scattered);
    g_test_add_func("/store/dense-and-prefetch", test_dense_and_prefetch);
    g_test_add_func("/store/foreach", test_foreach);
    g_test_add_func("/store/memory", test_memory);
    g_test_add_func("/store/park", test_park);
    g_test_add_func("/store/random", test_random);
    g_test_add_func("/store/fail-allocation", test_fail_allocation);
    g_test_add_func("/store/peak/reached-left-reached", test_peak_reached_left_reached);
    g_test_add_func("/store/peak/untouched", test_peak_untouched);
    g_test_add_func("/store/peak/reset", test_peak_reset);
    g_test_add_func("/store/peak/replace", test_peak_replace);
    g_test_add_func("/store/peak/move", test_peak_move);
    g_test_add_func("/store/peak/park", test_peak_park);
    g_test_add_func("/store/peak/retract", test_peak_retract);
    g_test_add_func("/store/peak/retract-reset-park", test_peak_retract_reset_park);
    g_test_add_func("/store/peak/fail-allocation", test_peak_fail_allocation);
    g_test_add_func("/store/peak/random", test_peak_random);
    return g_test_run();
}
