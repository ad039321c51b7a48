/* The line cache: (code object, instruction offset) -> line, so that a capture does not walk a
 * line table again for an instruction it already saw (the walk was the biggest cost of a
 * capture).
 *
 * A line is a function of the code object and the offset, so an entry is right for as long as
 * its code object lives: the OBJ free and realloc hooks forget the entries of a block that goes
 * (tm_linecache_forget), and tm_capture_start() empties the cache, since code objects die
 * unseen while nothing is traced. The sets of TM_LINE_WAYS entries (two cache lines) are chosen
 * by the code object alone, so that forgetting one looks at a single set; a miss replaces the
 * entries of a set in turn (tm_line_victim), so that a loop allocating on up to TM_LINE_WAYS
 * instructions of one function never misses (most recently used first, with 4 ways, a loop
 * over 5 sites missed every time).
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

#define TM_LINE_SETS_LOG2 10
#define TM_LINE_WAYS 8

typedef struct {
    const void *code;  /* NULL: an empty entry */
    int addr;
    int lineno;
} TmLineEntry;

G_STATIC_ASSERT(TM_LINE_WAYS <= G_MAXUINT8);

static TmLineEntry tm_lines[1u << TM_LINE_SETS_LOG2][TM_LINE_WAYS]
    __attribute__((aligned(64)));
/* The entry of each set that the next miss replaces. */
static guint8 tm_line_victim[1u << TM_LINE_SETS_LOG2];
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
}

static inline guint
tm_line_set(const void *code)
{
    guint64 h = (guint64)(guintptr)code * G_GUINT64_CONSTANT(0x9E3779B97F4A7C15);
    return (guint)(h >> (64 - TM_LINE_SETS_LOG2));
}

int
tm_linecache_lineno(TmPyFrame *frame)
{
    PyCodeObject *code;
    int addr, lineno;
    TmLineEntry *set;
    guint index, i;

    if (!tm_frame_position(frame, &code, &addr))
        return tm_frame_lineno(frame);
    if (tm_sample_active())
        return tm_code_lineno(code, addr);
    index = tm_line_set(code);
    set = tm_lines[index];
    for (i = 0; i < TM_LINE_WAYS; i++) {
        if (set[i].code == code && set[i].addr == addr)
            return set[i].lineno;
    }
    lineno = tm_code_lineno(code, addr);
    i = tm_line_victim[index];
    tm_line_victim[index] = (guint8)((i + 1) % TM_LINE_WAYS);
    set[i].code = code;
    set[i].addr = addr;
    set[i].lineno = lineno;
    return lineno;
}

void
tm_linecache_forget(void *ptr)
{
    const void *code = (const char *)ptr + tm_code_offset;
    TmLineEntry *set;
    guint i;

    set = tm_lines[tm_line_set(code)];
    for (i = 0; i < TM_LINE_WAYS; i++) {
        if (set[i].code == code)
            set[i].code = NULL;
    }
}
