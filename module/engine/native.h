/* The native domain (native.c): the blocks that C code takes straight from malloc & co., seen
 * through the preloadable library tracemalloc-native.so (module/native/preload.c), traced in
 * TM_NATIVE_DOMAIN with the Python traceback of the moment. For tracer.c (install when tracing
 * starts, uninstall when it stops), capi.c (a block handed to PyTraceMalloc_Track leaves the
 * native domain) and module.c (the engine's own calls, not traced). */
#ifndef PYTRACEMALLOC_NATIVE_H
#define PYTRACEMALLOC_NATIVE_H

#include "compat.h"

/* The domain of the native blocks: 0x4e415456, "NATV" in ASCII. PyTraceMalloc_Track users
 * number their domains from 0 (the default domain, 0, is Python's own) or take a small
 * arbitrary constant (numpy's 389047, 0x5EFB7); a value above 2**30 that spells a word
 * collides with neither. */
#define TM_NATIVE_DOMAIN 0x4e415456u

/* Depth of the engine's own work in the calling thread (module.c, around the functions that
 * allocate with glib outside a hook and outside tm_lock: snapshots' copies, timers, a new
 * store): the native hooks let such calls through untraced. */
extern __thread guint tm_native_engine_depth __attribute__((tls_model("initial-exec")));

#define TM_NATIVE_ENGINE_BEGIN() (tm_native_engine_depth++)
#define TM_NATIVE_ENGINE_END() (tm_native_engine_depth--)

/* When tracing starts (GIL held, tm_tracing already TRUE): if PYTRACEMALLOC_NATIVE is set to
 * a non-empty value other than "0" and the library is loaded (LD_PRELOAD), register the
 * hooks with it. Returns TRUE if the native domain is now traced. */
gboolean tm_native_install(void);

/* When tracing stops (GIL held, before tm_tracing goes FALSE): take the hooks back. A thread
 * still inside one finds tm_tracing FALSE and only calls glibc. */
void tm_native_uninstall(void);

/* The native domain is traced. Written with the GIL held by install and uninstall (relaxed
 * atomic store), read by any thread. */
gboolean tm_native_active(void);

/* The C call stack (PYTRACEMALLOC_NATIVE_STACK=N): up to N frames of C code, most recent
 * first, come before the Python frames of a native block's traceback. In the store, such a
 * frame is the filename tm_native_frame_filename (a str "<native>", owned by native.c for the
 * life of the process, never counted in the store's filenames) with, as its line, an index
 * into the table of return addresses. The Python views (export.c) show it as
 * ("<native> SYMBOL+0xOFFSET (LIBRARY)", 0): tm_native_frame_name(). */
extern PyObject *tm_native_frame_filename;

/* The name of the C frame of index index: a new reference, NULL with an exception set. GIL
 * held, tm_lock not held. */
PyObject *tm_native_frame_name(guint index);

/* The block ptr, given to PyTraceMalloc_Track() for another domain, leaves the native domain
 * (numpy's buffers come from malloc, then are tracked in their own domain: never twice).
 * tm_lock held, tm_tracing TRUE. */
void tm_native_forget_locked(guintptr ptr);

#endif /* PYTRACEMALLOC_NATIVE_H */
