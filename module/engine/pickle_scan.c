/* The scanner of the pickles in snapshot files: the C twin of scan_pickle_py() in
 * tracemalloc/_pickle_scan.py (same rules, same results, same messages; the tests compare them
 * on thousands of mutated files).
 *
 * It walks the opcodes of a pickle without building anything, and simulates the unpickler's
 * stack with, for each item, how deeply hashable containers (tuples, frozensets) nest in it
 * (a mutable container counts 0: hashing stops there). It refuses what the unpicklers would
 * turn into a crash, a huge allocation or a call: a tuple nested a million times (hashed as
 * a dict key, it overflows the C stack), a memo index of 2**31 (CPython's C unpickler grows
 * its memo array to twice that), lengths beyond the data, persistent ids, extension codes,
 * INST/OBJ, out-of-band buffers, a million open MARKs (2.7's cPickle grows its marks 20 by
 * 20). Global names are left to the loader's find_class.
 *
 * Runs without the GIL: it only reads the buffer. tm_scan() needs neither Python nor its
 * headers: tests/fuzz/pickle_scan_fuzz.c includes this file with TM_PICKLE_SCAN_NO_PYTHON
 * defined, which leaves out the module function, to fuzz the scanner without an interpreter.
 */
#ifdef TM_PICKLE_SCAN_NO_PYTHON
#include <string.h>
#include <glib.h>
#else
#include "pickle_scan.h"
#endif
#include "lebytes.h"

#define TM_SCAN_MAX_INT_BYTES 4096  /* MAX_INT_BYTES of _pickle_scan.py */
#define TM_SCAN_MAX_NUMBER_LINE 64
#define TM_SCAN_MAX_NAME_LINE 1024

enum { TM_SCAN_OK, TM_SCAN_TRUNCATED, TM_SCAN_CORRUPT, TM_SCAN_REFUSED };

enum { ARG_UNKNOWN = 0, ARG_NONE, ARG_FIXED, ARG_LEN, ARG_LINE, ARG_LINES2 };

typedef struct {
    unsigned char kind;
    unsigned short size;  /* bytes of a fixed argument or of a length; line limit, 0: none */
    const char *refused;  /* why the opcode is refused, or NULL */
} TmOpcode;

static TmOpcode tm_opcodes[256];

static void
tm_opcodes_init(void)
{
    static const char none[] = "(.012NRabd}el o]st)uQ\x81\x85\x86\x87\x88\x89\x8f\x90\x91"
                               "\x92\x93\x94\x97\x98";
    static const struct { char code; unsigned short size; } fixed[] = {
        { 'J', 4 }, { 'K', 1 }, { 'M', 2 }, { 'h', 1 }, { 'j', 4 }, { 'q', 1 }, { 'r', 4 },
        { 'G', 8 }, { '\x80', 1 }, { '\x82', 1 }, { '\x83', 2 }, { '\x84', 4 }, { '\x95', 8 },
    }, lengths[] = {
        { 'T', 4 }, { 'U', 1 }, { 'X', 4 }, { '\x8a', 1 }, { '\x8b', 4 }, { 'B', 4 },
        { 'C', 1 }, { '\x8c', 1 }, { '\x8d', 8 }, { '\x8e', 8 }, { '\x96', 8 },
    }, lines[] = {
        { 'F', TM_SCAN_MAX_NUMBER_LINE }, { 'I', TM_SCAN_MAX_NUMBER_LINE },
        { 'L', TM_SCAN_MAX_NUMBER_LINE }, { 'P', 0 }, { 'S', 0 }, { 'V', 0 },
        { 'g', TM_SCAN_MAX_NUMBER_LINE }, { 'p', TM_SCAN_MAX_NUMBER_LINE },
    };
    size_t i;

    for (i = 0; i < sizeof(none) - 1; i++) {
        if (none[i] != ' ')
            tm_opcodes[(unsigned char)none[i]].kind = ARG_NONE;
    }
    for (i = 0; i < G_N_ELEMENTS(fixed); i++) {
        tm_opcodes[(unsigned char)fixed[i].code].kind = ARG_FIXED;
        tm_opcodes[(unsigned char)fixed[i].code].size = fixed[i].size;
    }
    for (i = 0; i < G_N_ELEMENTS(lengths); i++) {
        tm_opcodes[(unsigned char)lengths[i].code].kind = ARG_LEN;
        tm_opcodes[(unsigned char)lengths[i].code].size = lengths[i].size;
    }
    for (i = 0; i < G_N_ELEMENTS(lines); i++) {
        tm_opcodes[(unsigned char)lines[i].code].kind = ARG_LINE;
        tm_opcodes[(unsigned char)lines[i].code].size = lines[i].size;
    }
    tm_opcodes['c'].kind = tm_opcodes['i'].kind = ARG_LINES2;
    tm_opcodes['c'].size = tm_opcodes['i'].size = TM_SCAN_MAX_NAME_LINE;
    tm_opcodes['P'].refused = tm_opcodes['Q'].refused = "uses a persistent id";
    tm_opcodes[0x82].refused = tm_opcodes[0x83].refused = tm_opcodes[0x84].refused =
        "uses an extension code";
    tm_opcodes['i'].refused = "creates an instance with INST (protocol 0)";
    tm_opcodes['o'].refused = "creates an instance with OBJ (protocol 1)";
    tm_opcodes[0x97].refused = tm_opcodes[0x98].refused = "uses an out-of-band buffer";
}

typedef struct {
    int status;
    gint64 end;       /* TM_SCAN_OK: offset after STOP */
    char detail[96];  /* TM_SCAN_CORRUPT, TM_SCAN_REFUSED */
} TmScanResult;

/* A memo index of a GET/PUT line: decimal digits only, at most 10 (-1 otherwise). */
static gint64
tm_parse_index(const unsigned char *p, gsize length)
{
    gint64 value = 0;
    gsize i;

    if (length == 0 || length > 10)
        return -1;
    for (i = 0; i < length; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        value = value * 10 + (p[i] - '0');
    }
    return value;
}

#define CORRUPT(...) \
    do { \
        res->status = TM_SCAN_CORRUPT; \
        g_snprintf(res->detail, sizeof(res->detail), __VA_ARGS__); \
        goto done; \
    } while (0)
#define TRUNCATED() do { res->status = TM_SCAN_TRUNCATED; goto done; } while (0)
#define UNDERFLOW() CORRUPT("stack underflow at offset %" G_GINT64_FORMAT, start)
#define TOP() g_array_index(stack, gint32, stack->len - 1)

static void
tm_scan(const unsigned char *buf, gsize end, int max_nesting, TmScanResult *res)
{
    GArray *stack = g_array_new(FALSE, FALSE, sizeof(gint32));  /* nesting per item */
    GArray *marks = g_array_new(FALSE, FALSE, sizeof(guint));   /* stack lengths */
    GArray *memo = g_array_new(FALSE, FALSE, sizeof(gint32));   /* -1: not set */
    guint memo_set = 0;  /* entries set */
    guint64 puts = 0;    /* PUT and MEMOIZE seen */
    gsize pos = 0;

    res->status = TM_SCAN_OK;
    for (;;) {
        gint64 start = (gint64)pos;
        unsigned char op;
        const TmOpcode *spec;
        guint64 arg = 0;
        const unsigned char *line = NULL;
        gsize line_length = 0;
        guint fence;
        gint32 zero = 0;

        if (pos >= end)
            TRUNCATED();
        op = buf[pos++];
        spec = &tm_opcodes[op];
        if (spec->kind == ARG_UNKNOWN)
            CORRUPT("unknown opcode 0x%02x at offset %" G_GINT64_FORMAT, op, start);
        if (spec->refused != NULL) {
            res->status = TM_SCAN_REFUSED;
            g_strlcpy(res->detail, spec->refused, sizeof(res->detail));
            goto done;
        }
        if (spec->kind == ARG_FIXED) {
            if (spec->size > end - pos)
                TRUNCATED();
            arg = tm_le_get(buf + pos, spec->size);
            pos += spec->size;
        }
        else if (spec->kind == ARG_LEN) {
            guint64 length;

            if (spec->size > end - pos)
                TRUNCATED();
            length = tm_le_get(buf + pos, spec->size);
            pos += spec->size;
            if ((op == 'T' || op == 0x8b) && length >= G_GUINT64_CONSTANT(0x80000000))
                CORRUPT("negative length at offset %" G_GINT64_FORMAT, start);
            if ((op == 0x8a || op == 0x8b) && length > TM_SCAN_MAX_INT_BYTES)
                CORRUPT("integer of %" G_GUINT64_FORMAT " bytes at offset %" G_GINT64_FORMAT,
                        length, start);
            if (length > end - pos)
                TRUNCATED();
            pos += length;
        }
        else if (spec->kind == ARG_LINE || spec->kind == ARG_LINES2) {
            int count = spec->kind == ARG_LINES2 ? 2 : 1;

            while (count-- > 0) {
                const unsigned char *newline = memchr(buf + pos, '\n', end - pos);

                if (newline == NULL)
                    TRUNCATED();
                line = buf + pos;
                line_length = newline - line;
                if (spec->size && line_length > spec->size)
                    CORRUPT("line too long at offset %" G_GINT64_FORMAT, start);
                pos += line_length + 1;
            }
        }

        fence = marks->len ? g_array_index(marks, guint, marks->len - 1) : 0;

        switch (op) {
        case '.':  /* STOP */
            if (stack->len <= fence)
                UNDERFLOW();
            res->end = (gint64)pos;
            goto done;
        case '(':  /* MARK */
            /* cPickle of 2.7 grows its array of marks 20 by 20: a million MARKs took
             * minutes under MALLOC_CHECK_ */
            if (marks->len >= (guint)max_nesting)
                CORRUPT("more than %d open MARKs at offset %" G_GINT64_FORMAT, max_nesting,
                        start);
            g_array_append_val(marks, stack->len);
            break;
        case 0x80:  /* PROTO */
            if (arg > 5)
                CORRUPT("unsupported pickle protocol %" G_GUINT64_FORMAT, arg);
            break;
        case 0x95:  /* FRAME */
            /* The unpickler allocates a frame's declared length before reading it: a lying
             * length made a 279-byte file cost gigabytes (seconds under MALLOC_PERTURB_). */
            if (arg > end - pos)
                TRUNCATED();
            break;
        case 'J': case 'K': case 'M': case 'G':  /* ints and floats */
        case 'T': case 'U': case 'X': case 0x8a: case 0x8b: case 'B': case 'C':
        case 0x8c: case 0x8d: case 0x8e: case 0x96:  /* str, bytes, bytearray, long */
        case 'F': case 'I': case 'L': case 'S': case 'V': case 'N': case 0x88: case 0x89:
        case ']': case '}': case 0x8f: case 'c':  /* mutable containers, a global */
            g_array_append_val(stack, zero);
            break;
        case ')': {  /* EMPTY_TUPLE */
            gint32 one = 1;

            g_array_append_val(stack, one);
            break;
        }
        case '0':  /* POP */
            if (marks->len && g_array_index(marks, guint, marks->len - 1) == stack->len)
                g_array_set_size(marks, marks->len - 1);
            else if (stack->len > fence)
                g_array_set_size(stack, stack->len - 1);
            else
                UNDERFLOW();
            break;
        case '1':  /* POP_MARK */
            if (!marks->len)
                CORRUPT("no MARK for POP_MARK at offset %" G_GINT64_FORMAT, start);
            g_array_set_size(stack, fence);
            g_array_set_size(marks, marks->len - 1);
            break;
        case '2': {  /* DUP */
            gint32 top;

            if (stack->len <= fence)
                UNDERFLOW();
            top = TOP();
            g_array_append_val(stack, top);
            break;
        }
        case 'g': case 'h': case 'j': {  /* GET, BINGET, LONG_BINGET */
            gint64 index;
            gint32 value;

            if (op == 'g') {
                index = tm_parse_index(line, line_length);
                if (index < 0)
                    CORRUPT("invalid memo index at offset %" G_GINT64_FORMAT, start);
            }
            else {
                index = (gint64)arg;
            }
            if (index >= (gint64)memo->len || g_array_index(memo, gint32, index) < 0)
                CORRUPT("memo entry %" G_GINT64_FORMAT " not set at offset %" G_GINT64_FORMAT,
                        index, start);
            value = g_array_index(memo, gint32, index);
            g_array_append_val(stack, value);
            break;
        }
        case 'p': case 'q': case 'r': case 0x94: {  /* PUT, BINPUT, LONG_BINPUT, MEMOIZE:
                                                      * the entry at memo_set, as CPython's
                                                      * unpickler */
            gint64 index;
            gint32 top;

            if (stack->len <= fence)
                UNDERFLOW();
            if (op == 0x94) {
                index = memo_set;
            }
            else if (op == 'p') {
                index = tm_parse_index(line, line_length);
                if (index < 0)
                    CORRUPT("invalid memo index at offset %" G_GINT64_FORMAT, start);
            }
            else {
                index = (gint64)arg;
            }
            /* at most one more than the puts so far (cPickle numbers from 1, pickle from
             * 0): the unpickler's memo array grows linearly */
            if ((guint64)index > puts + 1)
                CORRUPT("memo index %" G_GINT64_FORMAT " out of order at offset %"
                        G_GINT64_FORMAT, index, start);
            puts++;
            top = TOP();
            if (index >= (gint64)memo->len) {
                gint32 unset = -1;

                while ((gint64)memo->len <= index)
                    g_array_append_val(memo, unset);
            }
            if (g_array_index(memo, gint32, index) < 0)
                memo_set++;
            g_array_index(memo, gint32, index) = top;
            break;
        }
        case 0x85: case 0x86: case 0x87: {  /* TUPLE1, TUPLE2, TUPLE3 */
            guint count = op - 0x84, i;
            gint32 depth = 0;

            if (stack->len < fence + count)
                UNDERFLOW();
            for (i = stack->len - count; i < stack->len; i++)
                depth = MAX(depth, g_array_index(stack, gint32, i));
            depth++;
            if (depth > max_nesting)
                CORRUPT("nesting deeper than %d at offset %" G_GINT64_FORMAT, max_nesting,
                        start);
            g_array_set_size(stack, stack->len - count);
            g_array_append_val(stack, depth);
            break;
        }
        case 't': case 'l': case 'd': case 0x91:  /* TUPLE, LIST, DICT, FROZENSET */
        case 'e': case 'u': case 0x90: {          /* APPENDS, SETITEMS, ADDITEMS */
            guint mark, i;
            gint32 depth = 0;

            if (!marks->len)
                CORRUPT("no MARK at offset %" G_GINT64_FORMAT, start);
            mark = fence;
            g_array_set_size(marks, marks->len - 1);
            if ((op == 'd' || op == 'u') && (stack->len - mark) % 2)
                CORRUPT("odd number of items at offset %" G_GINT64_FORMAT, start);
            for (i = mark; i < stack->len; i++)
                depth = MAX(depth, g_array_index(stack, gint32, i));
            g_array_set_size(stack, mark);
            if (op == 't' || op == 0x91) {
                depth++;
                if (depth > max_nesting)
                    CORRUPT("nesting deeper than %d at offset %" G_GINT64_FORMAT, max_nesting,
                            start);
                g_array_append_val(stack, depth);
            }
            else if (op == 'l' || op == 'd') {
                g_array_append_val(stack, zero);
            }
            else if (mark <= (marks->len ? g_array_index(marks, guint, marks->len - 1) : 0)) {
                UNDERFLOW();  /* no container below the mark */
            }
            break;
        }
        case 'a': case 's': case 'b':  /* APPEND, SETITEM, BUILD: pop, keep the object */
        case 'R': case 0x81: case 0x93: case 0x92: {  /* REDUCE, NEWOBJ, STACK_GLOBAL, _EX */
            guint pops = (op == 's' || op == 'R' || op == 0x81 || op == 0x93) ? 2
                         : op == 0x92 ? 3 : 1;
            int keep = (op == 'a' || op == 's' || op == 'b');

            if (stack->len < fence + pops + (keep ? 1 : 0))
                UNDERFLOW();
            g_array_set_size(stack, stack->len - pops);
            if (!keep)
                g_array_append_val(stack, zero);
            break;
        }
        default:
            CORRUPT("unhandled opcode 0x%02x", op);
        }
    }

done:
    g_array_free(stack, TRUE);
    g_array_free(marks, TRUE);
    g_array_free(memo, TRUE);
}

#ifndef TM_PICKLE_SCAN_NO_PYTHON
PyObject *
tm_pickle_scan(PyObject *self, PyObject *args)
{
    static int initialized = 0;
    Py_buffer data;
    int max_nesting;
    TmScanResult res;

    (void)self;
    if (!PyArg_ParseTuple(args, TM_BUFFER_FORMAT "i:scan_pickle", &data, &max_nesting))
        return NULL;
    if (!initialized) {  /* under the GIL */
        tm_opcodes_init();
        initialized = 1;
    }
    Py_BEGIN_ALLOW_THREADS
    tm_scan((const unsigned char *)data.buf, (gsize)data.len, max_nesting, &res);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&data);
    switch (res.status) {
    case TM_SCAN_OK:
        return Py_BuildValue("(iL)", res.status, (long long)res.end);
    case TM_SCAN_TRUNCATED:
        return Py_BuildValue("(iO)", res.status, Py_None);
    default:
        return Py_BuildValue("(is)", res.status, res.detail);
    }
}
#endif /* TM_PICKLE_SCAN_NO_PYTHON */
