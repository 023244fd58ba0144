/* safetensors.h -- the safetensors file format (Hugging Face): write and a
 * validating read, for `strata export` / `strata import` (export.h).
 *
 * Layout: 8 bytes little-endian u64 N, then N bytes of JSON
 *     {"NAME": {"dtype": "F32", "shape": [..], "data_offsets": [BEGIN, END]},
 *      ..., "__metadata__": {"KEY": "VALUE", ...}}
 * (padded with spaces to a multiple of 8), then the data: every tensor's
 * little-endian row-major values at [BEGIN, END) of the data part.
 *
 * strata writes F32 only and reads F32 only (another dtype is refused by
 * name).  Reading checks, before allocating anything from the file's
 * numbers: N within the file and at most SFT_MAX_HEADER; the JSON
 * well-formed (no duplicate keys), an object of objects with exactly the
 * three fields; shapes of at most SFT_MAX_RANK non-negative dims whose
 * product times the element size is END - BEGIN without overflow; the
 * tensors' byte ranges inside the data part, not overlapping and covering it
 * exactly (so the file size is exact); metadata values strings.  Every
 * failure is ST_EDATA naming the file and the tensor or key.
 */
#ifndef STRATA_SAFETENSORS_H
#define STRATA_SAFETENSORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strata/error.h"

#define SFT_MAX_HEADER (100u << 20) /* the reference implementation's limit */
#define SFT_MAX_RANK 8
#define SFT_MAX_NAME 256

/* One tensor to write (float32, row-major). */
typedef struct sft_tensor {
    const char *name;
    int ndim;
    int64_t shape[SFT_MAX_RANK];
    const float *data;
} sft_tensor;

/* Write tensors t[0..n) (in that order) with metadata pairs
 * meta[2i] -> meta[2i+1] (i < n_meta) to path (created or truncated, then
 * fsync'd; the caller publishes it). */
st_status sft_write(const char *path, const sft_tensor *t, int n, const char *const *meta, int n_meta);

/* A parsed file: every tensor validated, its data converted to host floats. */
typedef struct sft_file sft_file;

/* Parse buf[0..len) as the file `name` (for messages). */
st_status sft_parse(const uint8_t *buf, size_t len, const char *name, sft_file **out);
/* Read and parse the file at path (its size is checked before reading). */
st_status sft_read(const char *path, sft_file **out);
void sft_free(sft_file *f);

int sft_count(const sft_file *f);
const char *sft_name(const sft_file *f, int i);
/* Shape of tensor i into shape[SFT_MAX_RANK]; returns its rank. */
int sft_shape(const sft_file *f, int i, int64_t *shape);
/* Metadata value of key, or NULL. */
const char *sft_meta(const sft_file *f, const char *key);
/* The tensor `name` with exactly the shape given (ndim dims): *data points
 * into f (valid until sft_free).  Missing tensor or another shape ->
 * ST_EDATA naming the file, the tensor and both shapes.  Marks it used. */
st_status sft_get(sft_file *f, const char *name, int ndim, const int64_t *shape, const float **data);
/* Name of the first tensor sft_get never asked for, or NULL. */
const char *sft_unused(const sft_file *f);

#endif
