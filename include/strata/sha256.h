/* sha256.h -- SHA-256 (FIPS 180-4): content hashes of tokenizers and font
 * files, and the bitwise fingerprints of `strata inspect --sha256`.
 *
 * Pure: no MPI, no allocation; a sha256_ctx lives wherever the caller puts
 * it.  Hex digests are 64 lower-case digits plus the NUL.
 */
#ifndef STRATA_SHA256_H
#define STRATA_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "strata/error.h"

typedef struct sha256_ctx {
    uint32_t h[8];
    uint64_t nbytes;
    uint8_t buf[64];
    size_t nbuf;
} sha256_ctx;
void sha256_init(sha256_ctx *c);
void sha256_update(sha256_ctx *c, const void *data, size_t len);
void sha256_final(sha256_ctx *c, uint8_t out[32]);
void sha256_hex(const uint8_t digest[32], char hex[65]);
/* Digest of a whole file as hex; ST_EUSAGE when it cannot be opened. */
st_status sha256_file(const char *path, char hex[65]);

#endif
