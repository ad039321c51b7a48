/* The line cache: (code object, instruction offset) -> line, so that a capture does not walk a
 * line table again for an instruction it already saw (the walk was the biggest cost of a
 * capture).
 *
 * A line is a function of the code object and the offset, so an entry is right for as long as
 * its code object lives: the OBJ free and realloc hooks forget the entries of a block that goes
 * (tm_linecache_forget), and tm_capture_start() empties the cache, since code objects die
 * unseen while nothing is traced. The sets are chosen by the code object alone, so that
 * forgetting one looks at a single set (TM_LINE_BUCKETS * TM_LINE_WAYS entries, eight cache
 * lines); inside its set, an instruction has a bucket of TM_LINE_WAYS entries (one cache
 * line) chosen by its offset, and a miss replaces the entries of the bucket in turn
 * (tm_line_victim). A loop allocating on many instructions of one function thus finds them
 * spread over the buckets: with one bucket of 8 entries replaced in turn, the 16 allocating
 * instructions of bench/child.py's churn loop missed every time (PyCode_Addr2Line was half of
 * its traced time on 3.11); most recently used first, with 4 entries, a loop over 5 sites did.
 *
 * While sampling (sample.h) the cache is not used: a capture is rare, and the frees that go
 * unseen (not sampled) could not make it forget a code object; the line is read from the line
 * table each time. tm_capture_start() empties the cache when tracing starts again, in either
 * mode.
 *
 * Protected by the GIL of tm_interp: captures happen only in that interpreter, and so do the
 * forgets (a code object of the cache dies in the interpreter that ran it). */
#include "engine.h"
#include "sample.h"

#include <string.h>

#define TM_LINE_SETS_LOG2 9
#define TM_LINE_BUCKETS_LOG2 3
#define TM_LINE_BUCKETS (1u << TM_LINE_BUCKETS_LOG2)
#define TM_LINE_WAYS 4

typedef struct {
    const void *code;  /* NULL: an empty entry */
    int addr;
    int lineno;
} TmLineEntry;

G_STATIC_ASSERT(TM_LINE_WAYS <= G_MAXUINT8);

G_STATIC_ASSERT(sizeof(TmLineEntry) * TM_LINE_WAYS <= 64);  /* a bucket in a cache line */

static TmLineEntry tm_lines[1u << TM_LINE_SETS_LOG2][TM_LINE_BUCKETS][TM_LINE_WAYS]
    __attribute__((aligned(64)));
/* The entry of each bucket that the next miss replaces. */
static guint8 tm_line_victim[1u << TM_LINE_SETS_LOG2][TM_LINE_BUCKETS];
/* For each set, a bit per code object that may have entries in it (tm_line_tag): most blocks
 * that tm_linecache_forget() sees go are no code object, and their bit is clear, so it looks at
 * one word instead of the set's 32 entries (2% of a traced compileall on 2.7). A bit may stay
 * set for a code object that no longer has entries (or share it with another): the set is
 * then scanned for nothing, and the scan sets the bits again from what it leaves. */
static guint64 tm_line_tags[1u << TM_LINE_SETS_LOG2];
/* Bytes from the memory block of a code object to the object, and the smallest block of a code
 * object. Written by tm_linecache_init(), at module init. */
static size_t tm_code_offset;
size_t tm_code_min_block;

void
tm_linecache_init(void)
{
    tm_code_offset = tm_type_block_offset(&PyCode_Type);
    tm_code_min_block = tm_code_offset + (size_t)PyCode_Type.tp_basicsize;
}

void
tm_linecache_reset(void)
{
    memset(tm_lines, 0, sizeof(tm_lines));
    memset(tm_line_victim, 0, sizeof(tm_line_victim));
    memset(tm_line_tags, 0, sizeof(tm_line_tags));
}

static inline guint64
tm_line_hash(const void *code)
{
    return (guint64)(guintptr)code * G_GUINT64_CONSTANT(0x9E3779B97F4A7C15);
}

static inline guint
tm_line_set(const void *code)
{
    return (guint)(tm_line_hash(code) >> (64 - TM_LINE_SETS_LOG2));
}

/* The bit of code in its set's tag word: the 6 bits of the hash below those of the set. */
static inline guint64
tm_line_tag(const void *code)
{
    return G_GUINT64_CONSTANT(1) << ((tm_line_hash(code) >> (64 - TM_LINE_SETS_LOG2 - 6)) & 63u);
}

/* The bucket of an instruction in the set of its code object. */
static inline guint
tm_line_bucket(int addr)
{
    return ((guint)addr * 0x9E3779B1u) >> (32 - TM_LINE_BUCKETS_LOG2);
}

int
tm_linecache_lineno(TmPyFrame *frame)
{
    PyCodeObject *code;
    int addr, lineno;
    TmLineEntry *bucket;
    guint index, b, i;

    if (!tm_frame_position(frame, &code, &addr))
        return tm_frame_lineno(frame);
    if (tm_sample_active())
        return tm_code_lineno(code, addr);
    index = tm_line_set(code);
    b = tm_line_bucket(addr);
    bucket = tm_lines[index][b];
    for (i = 0; i < TM_LINE_WAYS; i++) {
        if (bucket[i].code == code && bucket[i].addr == addr)
            return bucket[i].lineno;
    }
    lineno = tm_code_lineno(code, addr);
    i = tm_line_victim[index][b];
    tm_line_victim[index][b] = (guint8)((i + 1) % TM_LINE_WAYS);
    bucket[i].code = code;
    bucket[i].addr = addr;
    bucket[i].lineno = lineno;
    tm_line_tags[index] |= tm_line_tag(code);
    return lineno;
}

void
tm_linecache_forget(void *ptr)
{
    const void *code = (const char *)ptr + tm_code_offset;
    guint index = tm_line_set(code), i;
    TmLineEntry *set;
    guint64 tags = 0;

    if (G_LIKELY((tm_line_tags[index] & tm_line_tag(code)) == 0))
        return;
    set = tm_lines[index][0];
    for (i = 0; i < TM_LINE_BUCKETS * TM_LINE_WAYS; i++) {
        if (set[i].code == code)
            set[i].code = NULL;
        else if (set[i].code != NULL)
            tags |= tm_line_tag(set[i].code);
    }
    tm_line_tags[index] = tags;
}
