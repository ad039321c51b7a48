/* The peak of every traceback: the live size and count of one group of traces (a traceback in
 * a domain), and their values when traced memory was last at its peak, kept exact in O(1) per
 * change without copying anything when a new peak is reached. Internal to the store
 * (store.c); pure C and glib, like it.
 *
 * A logical clock counts the store's events (an add, remove, park or move: each may change
 * traced memory); peak_clock is the clock of the event that set the current peak (or of the
 * last event before a reset). The value of a group at the peak is:
 *
 *   - its current value if it has not changed since (last_change <= peak_clock);
 *   - else the value it had just before its first change after peak_clock, which that change
 *     saved in peak_size/peak_count.
 *
 * So before each change at clock c a group saves its current values if last_change <=
 * peak_clock (they are its values at the peak), then changes and sets last_change = c; once
 * the event is over, if traced memory exceeds the peak, the peak moves there and peak_clock =
 * c: every group then reads its current value again, with nothing copied. A reset sets
 * peak_clock to the clock of the last event, with the same effect. Within one event the
 * removals come before the addition (a replaced trace, a realloc), so traced memory never
 * exceeds both its values before and after the event: checking the peak at the end of each
 * event sees every maximum.
 *
 * Cost per change: one comparison, two stores at most once per group and per peak, three
 * updates. Memory: sizeof(TmPeakCounts) per group. */
#ifndef PYTRACEMALLOC_PEAK_H
#define PYTRACEMALLOC_PEAK_H

#include <assert.h>
#include <glib.h>

/* The clock of a store. Invariant: peak_clock <= clock. */
typedef struct {
    guint64 clock;      /* the clock of the event in progress or last done; 0: none yet */
    guint64 peak_clock; /* the clock of the event that reached the current peak */
} TmPeakClock;

/* One group of traces. All zero: an empty group that never changed (what g_malloc0 gives). */
typedef struct {
    gsize size;          /* sum of the sizes of its live traces */
    gsize count;         /* number of its live traces */
    gsize peak_size;     /* its size and count at the peak; meaningful only while */
    gsize peak_count;    /* last_change > peak_clock */
    guint64 last_change; /* the clock of its last change; 0: never changed */
} TmPeakCounts;

/* A new event begins: changes from now on are made at the next clock value. */
static inline void
tm_peak_event(TmPeakClock *clock)
{
    clock->clock++;
}

/* Before a change of counts in the current event: save its values at the peak if they are
 * still its current values. */
static inline void
tm_peak_touch(TmPeakCounts *counts, const TmPeakClock *clock)
{
    if (counts->last_change <= clock->peak_clock) {
        counts->peak_size = counts->size;
        counts->peak_count = counts->count;
    }
    counts->last_change = clock->clock;
}

/* A trace of size bytes joins the group / leaves it, in the current event. */
static inline void
tm_peak_add(TmPeakCounts *counts, const TmPeakClock *clock, gsize size)
{
    tm_peak_touch(counts, clock);
    counts->size += size;
    counts->count++;
}

static inline void
tm_peak_remove(TmPeakCounts *counts, const TmPeakClock *clock, gsize size)
{
    assert(counts->count > 0 && counts->size >= size);
    tm_peak_touch(counts, clock);
    counts->size -= size;
    counts->count--;
}

/* At the end of an event that may have raised traced memory: a new peak? */
static inline void
tm_peak_check(TmPeakClock *clock, gsize traced, gsize *peak)
{
    if (traced > *peak) {
        *peak = traced;
        clock->peak_clock = clock->clock;
    }
}

/* The peak becomes the current state (reset_peak). */
static inline void
tm_peak_reset(TmPeakClock *clock, gsize traced, gsize *peak)
{
    *peak = traced;
    clock->peak_clock = clock->clock;
}

/* The size and count of the group when traced memory was at its peak. */
static inline void
tm_peak_read(const TmPeakCounts *counts, const TmPeakClock *clock, gsize *size, gsize *count)
{
    if (counts->last_change <= clock->peak_clock) {
        *size = counts->size;
        *count = counts->count;
    }
    else {
        *size = counts->peak_size;
        *count = counts->peak_count;
    }
}

#endif /* PYTRACEMALLOC_PEAK_H */
