/* Little-endian integers in byte buffers: the one reader and writer of the engine (the pickle
 * scanner reads opcode arguments, the compact snapshot columns are written and read). */
#ifndef PYTRACEMALLOC_LEBYTES_H
#define PYTRACEMALLOC_LEBYTES_H

#include <glib.h>

/* The unsigned integer in the size bytes at p (size <= 8), least significant byte first. */
static inline guint64
tm_le_get(const unsigned char *p, unsigned size)
{
    guint64 value = 0;

    while (size-- > 0)
        value = (value << 8) | p[size];
    return value;
}

/* Store the size low bytes of value at p (size <= 8), least significant byte first. */
static inline void
tm_le_put(unsigned char *p, guint64 value, unsigned size)
{
    for (unsigned i = 0; i < size; i++, value >>= 8)
        p[i] = (unsigned char)(value & 0xff);
}

#endif /* PYTRACEMALLOC_LEBYTES_H */
