/* The libFuzzer target of the pickle scanner (module/engine/pickle_scan.c), built without an
 * interpreter by tests/fuzz/run (clang -fsanitize=fuzzer,address,undefined): it includes the
 * scanner's source with TM_PICKLE_SCAN_NO_PYTHON, which leaves out the module function, and
 * calls tm_scan() on each input with the loader's nesting limit.
 *
 * Besides what the sanitizers catch (a read past the buffer, an overflow, a leak), each result
 * must keep the scanner's contract: a known status; after TM_SCAN_OK, an end within the input
 * just after a STOP opcode; after a refusal or a corrupt pickle, a reason of one line of
 * printable ASCII (it goes into the loader's one-line SnapshotError).
 */
#define TM_PICKLE_SCAN_NO_PYTHON
#include "../../module/engine/pickle_scan.c"

#include <stdint.h>
#include <stdlib.h>

#define FUZZ_MAX_NESTING 1000  /* MAX_NESTING of tracemalloc/_pickle_scan.py */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int initialized = 0;
    TmScanResult res;
    size_t i, length;

    if (!initialized) {
        tm_opcodes_init();
        initialized = 1;
    }
    memset(&res, 0x5a, sizeof(res));  /* what the scanner does not set is garbage */
    tm_scan(data, size, FUZZ_MAX_NESTING, &res);
    switch (res.status) {
    case TM_SCAN_OK:
        if (res.end <= 0 || (size_t)res.end > size || data[res.end - 1] != '.')
            abort();
        break;
    case TM_SCAN_TRUNCATED:
        break;
    case TM_SCAN_CORRUPT:
    case TM_SCAN_REFUSED:
        length = strnlen(res.detail, sizeof(res.detail));
        if (length == 0 || length == sizeof(res.detail))
            abort();
        for (i = 0; i < length; i++) {
            if (res.detail[i] < 0x20 || res.detail[i] > 0x7e)
                abort();
        }
        break;
    default:
        abort();
    }
    return 0;
}
