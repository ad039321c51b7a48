/* Micro benchmark of the trace store (not a test): N traces added then removed, in random order,
 * and in address order (as an allocator carves its pools: the order a program mostly allocates
 * in).
 *
 *   gcc -O2 -g -Wall -Wextra -Werror -std=gnu11 $(pkg-config --cflags glib-2.0) -Imodule/engine \
 *       bench/store.c module/engine/store.c $(pkg-config --libs glib-2.0) \
 *       -o /tmp/bench-store && /tmp/bench-store [N]
 *
 * Prints ns per operation for the calls a hook makes (intern a known traceback, add, get, move,
 * remove) and the bytes per live trace, both as the store counts them (tm_store_memory()/count)
 * and as the resident set size grew (from /proc/self/statm). */
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define N_TRACEBACKS 1000
#define NFRAME 10

static double
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Resident set size in bytes, or 0 if /proc is not there. */
static gsize
rss_bytes(void)
{
    unsigned long size = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");

    if (f == NULL)
        return 0;
    if (fscanf(f, "%lu %lu", &size, &resident) != 2)
        resident = 0;
    fclose(f);
    return (gsize)resident * (gsize)sysconf(_SC_PAGESIZE);
}

static void
shuffle(guintptr *a, gsize n, GRand *rand)
{
    gsize i;

    for (i = n - 1; i > 0; i--) {
        gsize j = (gsize)g_rand_int_range(rand, 0, (gint32)(i + 1));
        guintptr t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

static void
report(const char *what, double t0, double t1, gsize n)
{
    printf("%-28s %7.1f ns/op\n", what, (t1 - t0) / (double)n);
}

int
main(int argc, char **argv)
{
    static const char filenames[][8] = {"a.py", "b.py", "c.py", "d.py"};
    gsize n = argc > 1 ? (gsize)g_ascii_strtoull(argv[1], NULL, 10) : 1000000;
    GRand *rand = g_rand_new_with_seed(42);
    guintptr *addresses = g_new(guintptr, n);
    guintptr *in_order = g_new(guintptr, n);
    TmFrame(*frames)[NFRAME] = g_malloc_n(N_TRACEBACKS, sizeof(*frames));
    const TmTraceback **tbs = g_new(const TmTraceback *, N_TRACEBACKS);
    gsize i, j, rss0, rss1, mem0, mem1, sink = 0;
    TmStore *store;
    double t0, t1;

    if (n < 2 || n > G_MAXINT32) {
        fprintf(stderr, "usage: %s [N], 2 <= N < 2^31\n", argv[0]);
        return 2;
    }
    /* Addresses as malloc hands out small blocks: 16-byte aligned, 32 to 96 bytes apart. */
    addresses[0] = (guintptr)G_GUINT64_CONSTANT(0x7f3a12340000);
    for (i = 1; i < n; i++)
        addresses[i] = addresses[i - 1] + 16 * (guintptr)g_rand_int_range(rand, 2, 7);
    memcpy(in_order, addresses, n * sizeof(guintptr));
    shuffle(addresses, n, rand);
    for (i = 0; i < N_TRACEBACKS; i++) {
        for (j = 0; j < NFRAME; j++) {
            frames[i][j].filename = filenames[(i + j) % G_N_ELEMENTS(filenames)];
            frames[i][j].lineno = (guint)(i * 31 + j);
        }
    }

    rss0 = rss_bytes();
    store = tm_store_new(NULL, NULL);
    for (i = 0; i < G_N_ELEMENTS(filenames); i++)
        tm_store_intern_filename(store, filenames[i]);
    for (i = 0; i < N_TRACEBACKS; i++)
        tbs[i] = tm_store_intern_traceback(store, frames[i], NFRAME, NFRAME);
    mem0 = tm_store_memory(store);

    t0 = now_ns();
    for (i = 0; i < n; i++)
        sink += (gsize)tm_store_intern_traceback(store, frames[i % N_TRACEBACKS], NFRAME, NFRAME);
    t1 = now_ns();
    report("intern known traceback", t0, t1, n);

    t0 = now_ns();
    for (i = 0; i < n; i++) {
        if (tm_store_add(store, TM_DEFAULT_DOMAIN, addresses[i], 16 + i % 200,
                         tbs[i % N_TRACEBACKS])
            < 0) {
            fprintf(stderr, "out of memory\n");
            return 1;
        }
    }
    t1 = now_ns();
    report("add (random order)", t0, t1, n);
    rss1 = rss_bytes();
    mem1 = tm_store_memory(store);

    shuffle(addresses, n, rand);
    t0 = now_ns();
    for (i = 0; i < n; i++)
        sink += tm_store_get(store, TM_DEFAULT_DOMAIN, addresses[i])->size;
    t1 = now_ns();
    report("get (hit, random order)", t0, t1, n);

    /* Realloc in place, the usual case of a growing list or string. */
    t0 = now_ns();
    for (i = 0; i < n; i++)
        sink += (gsize)tm_store_move(store, TM_DEFAULT_DOMAIN, addresses[i], addresses[i], i % 300);
    t1 = now_ns();
    report("move in place", t0, t1, n);

    shuffle(addresses, n, rand);
    t0 = now_ns();
    for (i = 0; i < n; i++)
        sink += (gsize)tm_store_remove(store, TM_DEFAULT_DOMAIN, addresses[i], NULL);
    t1 = now_ns();
    report("remove (random order)", t0, t1, n);
    if (tm_store_count(store) != 0) {
        fprintf(stderr, "count is %zu after removing everything\n", (size_t)tm_store_count(store));
        return 1;
    }

    t0 = now_ns();
    for (i = 0; i < n; i++)
        tm_store_add(store, TM_DEFAULT_DOMAIN, in_order[i], 32, tbs[i % N_TRACEBACKS]);
    t1 = now_ns();
    report("add (address order)", t0, t1, n);
    t0 = now_ns();
    for (i = 0; i < n; i++)
        sink += (gsize)tm_store_remove(store, TM_DEFAULT_DOMAIN, in_order[i], NULL);
    t1 = now_ns();
    report("remove (address order)", t0, t1, n);

    /* Steady state: a working set of n/2 live traces, one add and one remove per step. */
    for (i = 0; i < n / 2; i++)
        tm_store_add(store, TM_DEFAULT_DOMAIN, addresses[i], 32, tbs[i % N_TRACEBACKS]);
    t0 = now_ns();
    for (i = n / 2; i < n; i++) {
        tm_store_remove(store, TM_DEFAULT_DOMAIN, addresses[i - n / 2], NULL);
        tm_store_add(store, TM_DEFAULT_DOMAIN, addresses[i], 32, tbs[i % N_TRACEBACKS]);
    }
    t1 = now_ns();
    report("steady remove+add pair", t0, t1, n - n / 2);

    printf("live traces                  %zu\n", (size_t)n);
    printf("tm_store_memory() / count    %7.1f B (all, with %d tracebacks of %d frames)\n",
           (double)mem1 / (double)n, N_TRACEBACKS, NFRAME);
    printf("tm_store_memory() growth     %7.1f B per trace (the tables alone)\n",
           (double)(mem1 - mem0) / (double)n);
    printf("RSS growth per trace         %7.1f B (store created, tracebacks interned, adds)\n",
           (double)(rss1 - rss0) / (double)n);
    printf("(checksum %zu)\n", (size_t)(sink & 0xff));

    tm_store_free(store);
    g_free(tbs);
    g_free(frames);
    g_free(addresses);
    g_free(in_order);
    g_rand_free(rand);
    return 0;
}
