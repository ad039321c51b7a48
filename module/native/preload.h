/* The contract between the preloadable library (preload.c, LD_PRELOAD) and the engine
 * (module/engine/native.c): the only thing they share. Neither links with the other: the
 * engine finds the library's entry point with dlsym(RTLD_DEFAULT, TM_NATIVE_SET_HOOKS_SYMBOL)
 * when tracing starts, and hands it a table of allocator functions; the library calls them
 * instead of glibc's own until the table is taken back (NULL). */
#ifndef PYTRACEMALLOC_PRELOAD_H
#define PYTRACEMALLOC_PRELOAD_H

#include <stddef.h>

/* An allocator: the engine's hooks, or glibc's own functions. memalign stands for the whole
 * aligned family (posix_memalign, aligned_alloc, memalign, valloc, pvalloc), whose argument
 * checks and errno the library does before the call. */
typedef struct {
    void *(*malloc)(size_t size);
    void *(*calloc)(size_t nelem, size_t elsize);
    void *(*realloc)(void *ptr, size_t size);
    void (*free)(void *ptr);
    void *(*memalign)(size_t alignment, size_t size);
} TmNativeAllocator;

/* The library's entry point, of type TmNativeSetHooks: install hooks (NULL: glibc's own
 * again) and, if real is not NULL, fill it with glibc's functions, which the hooks call to
 * allocate. hooks must stay valid for as long as the process runs: a thread may still be
 * inside a hook after it was replaced. */
typedef void (*TmNativeSetHooks)(const TmNativeAllocator *hooks, TmNativeAllocator *real);
#define TM_NATIVE_SET_HOOKS_SYMBOL "pytracemalloc_native_set_hooks"

#endif /* PYTRACEMALLOC_PRELOAD_H */
