/* A small hash map of the Python layer's C loops (export.c, columns.c, stats.c): keys of two
 * 64-bit words (an object's address, or the fields of a trace), values of one word, open
 * addressing with linear probing, inline so that a lookup per trace of a million costs a few
 * nanoseconds (a GHashTable lookup calls its hash and equality functions through pointers).
 *
 * Memory comes from glib's g_try_* (the engine's own memory, never traced); a map is used by
 * one call, under the GIL, and freed before it returns. No deletion. */
#ifndef PYTRACEMALLOC_KEYMAP_H
#define PYTRACEMALLOC_KEYMAP_H

#include <glib.h>

typedef struct {
    guint64 k1, k2;
    guint32 value;    /* the caller's values; meaningful only when used */
    guint32 used;
    gint64 value2;
} TmKeySlot;

G_STATIC_ASSERT(sizeof(TmKeySlot) == 32);  /* two slots per cache line */

typedef struct {
    TmKeySlot *slots;  /* capacity slots, a power of two; owned */
    gsize mask;        /* capacity - 1 */
    gsize len;         /* slots used; at most half the capacity */
} TmKeyMap;

static inline gsize
tm_keymap_hash(guint64 k1, guint64 k2)
{
    guint64 h = (k1 ^ (k2 * G_GUINT64_CONSTANT(0x9E3779B97F4A7C15))) * G_GUINT64_CONSTANT(0xBF58476D1CE4E5B9);
    return (gsize)(h ^ (h >> 31));
}

/* An empty map with room for about *expected* keys before it grows: 0, or -1 on out of
 * memory (the map is then empty and tm_keymap_free() may still be called). */
static inline int
tm_keymap_init(TmKeyMap *map, gsize expected)
{
    gsize capacity = 16;

    while (capacity < expected * 2 && capacity < ((gsize)1 << (sizeof(gsize) * 8 - 2)))
        capacity *= 2;
    map->slots = g_try_new0(TmKeySlot, capacity);
    map->mask = map->slots != NULL ? capacity - 1 : 0;
    map->len = 0;
    return map->slots != NULL ? 0 : -1;
}

static inline void
tm_keymap_free(TmKeyMap *map)
{
    g_free(map->slots);
    map->slots = NULL;
    map->mask = map->len = 0;
}

static inline int
tm_keymap_grow(TmKeyMap *map)
{
    gsize capacity = (map->mask + 1) * 2, i;
    TmKeySlot *slots = capacity > map->mask + 1 ? g_try_new0(TmKeySlot, capacity) : NULL;

    if (slots == NULL)
        return -1;
    for (i = 0; i <= map->mask; i++) {
        TmKeySlot *old = &map->slots[i];
        gsize j;

        if (!old->used)
            continue;
        for (j = tm_keymap_hash(old->k1, old->k2) & (capacity - 1); slots[j].used;
             j = (j + 1) & (capacity - 1))
            ;
        slots[j] = *old;
    }
    g_free(map->slots);
    map->slots = slots;
    map->mask = capacity - 1;
    return 0;
}

/* The slot of the key (k1, k2), or NULL if it is not in the map: the lookup of the loops'
 * common case, small enough to be inlined. */
static inline G_GNUC_UNUSED TmKeySlot *
tm_keymap_find(const TmKeyMap *map, guint64 k1, guint64 k2)
{
    gsize i;

    for (i = tm_keymap_hash(k1, k2) & map->mask; map->slots[i].used; i = (i + 1) & map->mask) {
        if (map->slots[i].k1 == k1 && map->slots[i].k2 == k2)
            return &map->slots[i];
    }
    return NULL;
}

/* The slot of the key (k1, k2), added (used, values 0, *added set to TRUE) if it was not in
 * the map; NULL on out of memory (nothing changed). The slot stays valid until the next call
 * that adds a key. */
static inline TmKeySlot *
tm_keymap_slot(TmKeyMap *map, guint64 k1, guint64 k2, gboolean *added)
{
    gsize i;

    *added = FALSE;
    for (i = tm_keymap_hash(k1, k2) & map->mask; map->slots[i].used; i = (i + 1) & map->mask) {
        if (map->slots[i].k1 == k1 && map->slots[i].k2 == k2)
            return &map->slots[i];
    }
    if ((map->len + 1) * 2 > map->mask + 1) {
        if (tm_keymap_grow(map) < 0)
            return NULL;
        for (i = tm_keymap_hash(k1, k2) & map->mask; map->slots[i].used;
             i = (i + 1) & map->mask)
            ;
    }
    map->slots[i].k1 = k1;
    map->slots[i].k2 = k2;
    map->slots[i].value = 0;
    map->slots[i].value2 = 0;
    map->slots[i].used = TRUE;
    map->len++;
    *added = TRUE;
    return &map->slots[i];
}

#endif /* PYTRACEMALLOC_KEYMAP_H */
