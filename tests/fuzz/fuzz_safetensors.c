/* fuzz_safetensors.c -- the safetensors reader (strata import) on arbitrary
 * bytes.  Errors (ST_EDATA) are the expected outcome; crashes, leaks, UB and
 * hangs are findings, and so is a parse that succeeds on a file breaking the
 * format's rules: every tensor must then be retrievable with its own shape,
 * and the tensors' bytes must add up to the data part exactly.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "strata/safetensors.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_init(argc, argv);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sft_file *f = NULL;
    st_status st = sft_parse(data, size, "fuzz.safetensors", &f);
    FUZZ_ASSERT(st == ST_OK || st == ST_EDATA, "sft_parse returned %d", (int)st);
    if (st != ST_OK) {
        FUZZ_ASSERT(f == NULL, "a failed parse returned a file");
        return 0;
    }
    FUZZ_ASSERT(size >= 8, "a file of %zu bytes parsed", size);
    uint64_t hl = 0;
    for (int i = 0; i < 8; i++) hl |= (uint64_t)data[i] << (8 * i);
    FUZZ_ASSERT(hl <= size - 8, "header length %llu beyond the file", (unsigned long long)hl);
    (void)sft_meta(f, "format");
    uint64_t bytes = 0;
    for (int i = 0; i < sft_count(f); i++) {
        const char *name = sft_name(f, i);
        FUZZ_ASSERT(name && name[0] && strlen(name) < SFT_MAX_NAME, "tensor %d has a bad name", i);
        int64_t shape[SFT_MAX_RANK];
        int nd = sft_shape(f, i, shape);
        FUZZ_ASSERT(nd >= 0 && nd <= SFT_MAX_RANK, "tensor %d has rank %d", i, nd);
        uint64_t n = 4;
        for (int d = 0; d < nd; d++) {
            FUZZ_ASSERT(shape[d] >= 0, "tensor %s has a negative dimension", name);
            n *= (uint64_t)shape[d];
        }
        bytes += n;
        const float *p = NULL;
        st = sft_get(f, name, nd, shape, &p);
        FUZZ_ASSERT(st == ST_OK && p, "tensor %s is not found with its own shape", name);
        /* touch every value: inside the buffer (ASan) */
        volatile float sink = 0;
        for (uint64_t k = 0; k < n / 4; k++) sink += p[k];
        (void)sink;
    }
    FUZZ_ASSERT(bytes == size - 8 - hl, "tensors cover %llu of %llu data bytes", (unsigned long long)bytes,
                (unsigned long long)(size - 8 - hl));
    FUZZ_ASSERT(sft_unused(f) == NULL, "a tensor was left unused");
    sft_free(f);
    return 0;
}
