/* corpus.h -- corpus preparation: UTF-8 text -> tokenizer + token chunks in
 * one HDF5 dataset file (schema: docs/FORMAT-dataset.md).
 *
 * Chunk rule (cached activations depend on it, so it never changes within a
 * format version): the documents are encoded one after another, each
 * followed by <|eos|>, into one token stream t[0..T).  Chunk c holds
 * t[c*ctx .. c*ctx + ctx], i.e. ctx+1 tokens; consecutive chunks share one
 * boundary token (the last target of chunk c is the first input of chunk
 * c+1), so every token after t[0] is a prediction target exactly once.
 * n_chunks = (T - 1) / ctx; the tail that does not fill a chunk is dropped.
 * Chunk c's character count is the number of characters its targets
 * t[c*ctx+1 .. c*ctx+ctx] decode to (invalid bytes count one each), for
 * bits per character.
 *
 * Split: n_val = round(val_fraction * n_chunks) chunks (at least 1 when
 * val_fraction > 0 and n_chunks >= 2, and never all) are chosen by a
 * Fisher-Yates shuffle of 0..n_chunks-1 driven by rng(split_seed, rank 0,
 * RNG_DATA); the first n_val of the shuffle are validation.  It depends only
 * on n_chunks and the seed (split rule "random", data.split = random).
 * Split rule "tail" (data.split = tail): a document is one input file;
 * chunk c belongs to the document that holds its first target token
 * t[c*ctx+1], so each document owns a contiguous run of m chunks, and its
 * last round(val_fraction * m) chunks (never all m) are validation: "train
 * on the first 90 %, test on the last 10 %" of every document.  When that
 * gives no validation chunk at all (every document too short) but
 * val_fraction > 0 and n_chunks >= 2, the corpus's last chunk is.
 *
 * Parallelism: the concatenated input is cut into one byte range per rank
 * at safe breaks (utf8.h), so counting, n-gram learning and encoding give
 * the same tokens for any number of ranks; chunks are written with one
 * collective row-distributed write.
 *
 * Errors: a missing or unreadable path, an empty corpus or one too small for
 * one chunk is ST_EDATA (exit 3); an existing output without `force`, or an
 * output directory that cannot be written, is ST_EUSAGE (exit 2); a failing
 * write (disk full: the estimated size is reserved before HDF5 writes) is
 * ST_EIO (exit 1).  The file is written under a
 * temporary name in the output's directory and renamed when complete; on
 * failure the temporary file is removed.  Files that are mostly NUL/control
 * bytes or invalid UTF-8 are skipped with a warning and counted.
 */
#ifndef STRATA_CORPUS_H
#define STRATA_CORPUS_H

#include <mpi.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "strata/error.h"
#include "strata/tokenizer.h"

struct st_config;
struct h5_file;

/* A file counts as binary when more than this share of its first 64 KiB is
 * NUL, other control bytes (not TAB, LF, VT, FF, CR) or invalid UTF-8. */
#define CORPUS_BINARY_SHARE 0.30
#define CORPUS_FORMAT_VERSION 1

/* Inputs that are not plain text files (docs/FORMAT-dataset.md "Inputs"):
 * gzip-compressed files (recognised by their magic bytes), `-` for stdin
 * (rank 0 reads it) and JSON Lines (each line an object whose field
 * jsonl_field is one document).  Rank 0 decodes them into a spool file in
 * the output's directory (or $TMPDIR without an output), removed once every
 * rank has read its range.  Invalid JSON Lines lines (bad JSON, not an
 * object, the field missing or not a string, invalid UTF-8) are skipped with
 * a warning naming the first few line numbers and counted in /corpus
 * jsonl_invalid_lines; a corpus with no valid document is ST_EDATA. */
typedef struct corpus_ingest {
    const char *jsonl_field; /* NULL or "": "text", and stdin is plain text */
    uint64_t inflate_limit;  /* bytes one gzip input or stdin may decode to (0: 16 GiB) */
} corpus_ingest;

void corpus_ingest_from_config(const struct st_config *c, corpus_ingest *g);

typedef struct corpus_options {
    int ctx;              /* tokens of context; chunks hold ctx+1 */
    double val_fraction;  /* share of chunks held out */
    uint64_t split_seed;
    bool split_tail;      /* split rule "tail" instead of "random" (see Split) */
    tok_options tok;      /* learning, when tokenizer_path is NULL */
    /* a strata file whose /tokenizer encodes the corpus instead of a new
     * one (data.tokenizer; NULL or "" = learn); borrowed */
    const char *tokenizer_path;
    bool force;           /* overwrite an existing output */
    const char *config_text; /* resolved INI stored as /config, or NULL */
    corpus_ingest ingest;
} corpus_options;

void corpus_options_from_config(const struct st_config *c, corpus_options *o);

typedef struct corpus_stats {
    uint64_t files;        /* regular files found */
    uint64_t files_binary; /* skipped as binary */
    uint64_t jsonl_docs;   /* documents read from JSON Lines inputs */
    uint64_t jsonl_invalid; /* JSON Lines lines skipped as invalid */
    uint64_t bytes;        /* bytes of the files prepared */
    uint64_t chars;        /* characters (each invalid byte counts one) */
    uint64_t invalid;      /* bytes not part of valid UTF-8 */
    uint64_t tokens;       /* tokens in the stream, <|eos|> included */
    uint64_t text_tokens;  /* tokens without the <|eos|> separators */
    uint64_t byte_tokens;  /* byte-fallback tokens */
    uint64_t n_chunks, n_train, n_val;
    double chars_per_token; /* chars / text_tokens */
    double byte_fallback_rate; /* byte_tokens / text_tokens */
} corpus_stats;

/* Collective over comm: prepare the text files and directories in
 * paths[0..npaths) (directories recursively, names sorted) into the dataset
 * file `output`.  stats (may be NULL) is filled on every rank. */
st_status corpus_prepare(const char *const *paths, int npaths, const char *output,
                         const corpus_options *o, MPI_Comm comm, corpus_stats *stats);

/* Collective over comm: learn a tokenizer from the files and directories in
 * paths[0..npaths) like corpus_prepare does, from the first sample_bytes of
 * each file (cut at the next safe break; 0 = whole files), so one
 * tokenizer can cover several corpora of different sizes.  *sources (may
 * be NULL) gets a malloc'd list "bytes<TAB>path\n" of the parts used.
 * ing (may be NULL: defaults) as for corpus_prepare. */
st_status corpus_learn_tokenizer(const char *const *paths, int npaths, uint64_t sample_bytes,
                                 const tok_options *o, const corpus_ingest *ing, MPI_Comm comm,
                                 tokenizer **out, char **sources);

/* The tail split (see Split above): documents end at stream positions
 * doc_end[0..n_docs) (exclusive, increasing; the last may lie beyond the
 * chunks); *is_val malloc'd [n_chunks], *n_val its count.  Pure. */
st_status corpus_split_tail(uint64_t n_chunks, int ctx, const uint64_t *doc_end, size_t n_docs, double frac,
                            uint8_t **is_val, uint64_t *n_val);

/* Split a comma-separated list (the data.corpus setting) into a malloc'd
 * array of malloc'd strings, empty items dropped; free with corpus_free_list. */
st_status corpus_split_list(const char *list, char ***items, int *n);
void corpus_free_list(char **items, int n);

/* Human summary of an open dataset file (counts, chunks, split, tokenizer
 * and the start of the first chunk).  Call on every rank of f's
 * communicator; only ranks with out != NULL print. */
struct h5_file;
st_status corpus_describe(struct h5_file *f, FILE *out);

#endif
