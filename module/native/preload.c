/* The native domain's preloadable library (LD_PRELOAD=.../tracemalloc-native.so): interposes
 * malloc, calloc, realloc, reallocarray, free, posix_memalign, aligned_alloc, memalign, valloc
 * and pvalloc, and sends each call to the engine's hooks once the engine has registered them
 * (preload.h), or straight to glibc before that, after it, and in a process without Python.
 *
 * What is safe here: this file links with nothing but libc and allocates nothing. It reaches
 * glibc's allocator through its exported __libc_malloc & co. rather than
 * dlsym(RTLD_NEXT, "malloc"): dlsym itself calls calloc, which would land back here before
 * the pointer it looks up exists, and dlsym cannot run before ld.so has finished relocating
 * us, when the first malloc already comes. A call without hooks costs one atomic load and a
 * branch. */
#define _GNU_SOURCE
#include "preload.h"

#include <errno.h>
#include <stdint.h>
#include <unistd.h>

#define TM_EXPORT __attribute__((visibility("default")))

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t nelem, size_t elsize);
extern void *__libc_realloc(void *ptr, size_t size);
extern void __libc_free(void *ptr);
extern void *__libc_memalign(size_t alignment, size_t size);

/* The engine's hooks, NULL when not tracing natively. Written by the engine with the GIL held
 * (release store), read by every allocation of every thread (acquire load). */
static const TmNativeAllocator *tm_hooks;

static inline const TmNativeAllocator *
tm_get_hooks(void)
{
    return __atomic_load_n(&tm_hooks, __ATOMIC_ACQUIRE);
}

TM_EXPORT void
pytracemalloc_native_set_hooks(const TmNativeAllocator *hooks, TmNativeAllocator *real)
{
    if (real != NULL) {
        real->malloc = __libc_malloc;
        real->calloc = __libc_calloc;
        real->realloc = __libc_realloc;
        real->free = __libc_free;
        real->memalign = __libc_memalign;
    }
    __atomic_store_n(&tm_hooks, hooks, __ATOMIC_RELEASE);
}

TM_EXPORT void *
malloc(size_t size)
{
    const TmNativeAllocator *hooks = tm_get_hooks();
    return hooks != NULL ? hooks->malloc(size) : __libc_malloc(size);
}

TM_EXPORT void *
calloc(size_t nelem, size_t elsize)
{
    const TmNativeAllocator *hooks = tm_get_hooks();
    return hooks != NULL ? hooks->calloc(nelem, elsize) : __libc_calloc(nelem, elsize);
}

TM_EXPORT void *
realloc(void *ptr, size_t size)
{
    const TmNativeAllocator *hooks = tm_get_hooks();
    return hooks != NULL ? hooks->realloc(ptr, size) : __libc_realloc(ptr, size);
}

/* glibc's own reallocarray calls its realloc internally, past this library: check the
 * product here and go through our realloc. */
TM_EXPORT void *
reallocarray(void *ptr, size_t nelem, size_t elsize)
{
    size_t size;

    if (__builtin_mul_overflow(nelem, elsize, &size)) {
        errno = ENOMEM;
        return NULL;
    }
    return realloc(ptr, size);
}

TM_EXPORT void
free(void *ptr)
{
    const TmNativeAllocator *hooks = tm_get_hooks();

    if (hooks != NULL)
        hooks->free(ptr);
    else
        __libc_free(ptr);
}

TM_EXPORT void *
memalign(size_t alignment, size_t size)
{
    const TmNativeAllocator *hooks = tm_get_hooks();
    return hooks != NULL ? hooks->memalign(alignment, size) : __libc_memalign(alignment, size);
}

static inline int
tm_power_of_two(size_t n)
{
    return n != 0 && (n & (n - 1)) == 0;
}

/* As glibc: EINVAL unless alignment is a power of two multiple of sizeof(void *); *memptr
 * untouched on failure. */
TM_EXPORT int
posix_memalign(void **memptr, size_t alignment, size_t size)
{
    void *ptr;
    int saved_errno = errno;

    if (alignment % sizeof(void *) != 0 || !tm_power_of_two(alignment))
        return EINVAL;
    ptr = memalign(alignment, size);
    if (ptr == NULL) {
        errno = saved_errno;
        return ENOMEM;
    }
    *memptr = ptr;
    return 0;
}

/* glibc 2.36 accepts any power of two (C17); EINVAL otherwise. */
TM_EXPORT void *
aligned_alloc(size_t alignment, size_t size)
{
    if (!tm_power_of_two(alignment)) {
        errno = EINVAL;
        return NULL;
    }
    return memalign(alignment, size);
}

static size_t
tm_page_size(void)
{
    long page = sysconf(_SC_PAGESIZE);
    return page > 0 ? (size_t)page : 4096;
}

TM_EXPORT void *
valloc(size_t size)
{
    return memalign(tm_page_size(), size);
}

/* The size rounded up to whole pages, as glibc does. */
TM_EXPORT void *
pvalloc(size_t size)
{
    size_t page = tm_page_size();
    size_t rounded;

    if (__builtin_add_overflow(size, page - 1, &rounded)) {
        errno = ENOMEM;
        return NULL;
    }
    return memalign(page, rounded & ~(page - 1));
}
