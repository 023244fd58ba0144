/* tokenizer.h -- lossless Unicode tokenizer: characters, learned character
 * n-grams and byte fallback.
 *
 * Two id layouts (docs/FORMAT-dataset.md has the table):
 *  - bmp:     65,536 ids; id = code point for U+0000-U+FFFF except the
 *             surrogates U+D800-U+DFFF and private use U+E000-U+F8FF.  Those
 *             ranges hold the specials (U+E000..), the 256 byte tokens
 *             (U+E100 + byte) and learned n-grams (U+E200-U+F8FF, then
 *             U+D800-U+DFFF: at most TOK_BMP_NGRAM_CAP).  Ids of these ranges
 *             that are not used are TOK_UNUSED.
 *  - compact: dense ids: specials 0..TOK_N_SPECIALS-1, the 256 byte tokens,
 *             the code points seen in the corpus at least min_count times
 *             (ascending code point), then the learned n-grams (by rank).
 * Every byte string encodes and decodes back to itself: bytes that are not
 * valid UTF-8, and characters without an id, become byte tokens.  Encoding
 * is greedy longest match over the learned n-grams, then the character,
 * then its bytes.  Specials never come out of tok_encode and decode to
 * nothing.
 *
 * Learning: tok_counts collects character counts and character n-gram
 * counts (n = 2..ngram_max, runs of WORD or CJK characters, see utf8.h) of
 * text segments that start and end at safe breaks; tok_learn reduces them
 * over a communicator and picks the top K n-grams by count x (n - 1) (ties:
 * byte-wise smaller string first; an n-gram must occur at least twice).  The
 * result is identical for any number of ranks as long as the segments
 * partition the same text.
 *
 * Ownership: a tokenizer is immutable after tok_learn/tok_load and may be
 * shared read-only by threads; tok_free releases it.  Pointers returned by
 * tok_render_text stay valid until tok_free.  tok_buf is owned by the
 * caller (tok_buf_free).
 */
#ifndef STRATA_TOKENIZER_H
#define STRATA_TOKENIZER_H

#include <mpi.h>
#include <stdint.h>
#include <stdio.h>

#include "strata/error.h"

struct h5_file;
struct st_config;

typedef struct tokenizer tokenizer; /* opaque */
typedef struct tok_counts tok_counts; /* opaque */

typedef enum tok_kind { TOK_SPECIAL, TOK_BYTE, TOK_CHAR, TOK_NGRAM, TOK_UNUSED } tok_kind;
typedef enum tok_mode { TOK_MODE_BMP, TOK_MODE_COMPACT } tok_mode;

/* Specials, in id order (compact: ids 0..2; bmp: U+E000..U+E002). */
typedef enum tok_special { TOK_PAD = 0, TOK_BOS = 1, TOK_EOS = 2, TOK_N_SPECIALS = 3 } tok_special;

#define TOK_BMP_VOCAB 65536
#define TOK_BMP_SPECIAL_BASE 0xE000
#define TOK_BMP_BYTE_BASE 0xE100
#define TOK_BMP_NGRAM_BASE 0xE200 /* U+E200..U+F8FF, then U+D800..U+DFFF */
#define TOK_BMP_NGRAM_CAP ((0xF900 - 0xE200) + (0xE000 - 0xD800))
#define TOK_MAX_NGRAM 16 /* longest n-gram, in characters */

typedef struct tok_options {
    tok_mode mode;
    int vocab_size;  /* compact: at most this many ids in all */
    long min_count;  /* compact: least count for a character to get an id */
    int ngram_max;   /* longest n-gram in characters (1 = no n-grams) */
    int ngrams;      /* K: n-grams to learn (fewer when the vocabulary is full) */
} tok_options;

/* Options from the [tokenizer] settings. */
void tok_options_from_config(const struct st_config *c, tok_options *o);

/* ---- learning ---------------------------------------------------------- */

st_status tok_counts_init(tok_counts **out, int ngram_max);
/* Count the characters and n-grams of text[0..n), a segment that starts and
 * ends at safe breaks (a whole file always does). */
st_status tok_counts_add(tok_counts *c, const uint8_t *text, size_t n);
void tok_counts_free(tok_counts *c);

/* Collective over comm: reduce every rank's counts and build the tokenizer
 * (the same on every rank).  The counts are consumed (left empty). */
st_status tok_learn(tok_counts *c, const tok_options *o, MPI_Comm comm, tokenizer **out);

/* ---- queries ----------------------------------------------------------- */

int tok_vocab_size(const tokenizer *t);
tok_mode tok_mode_of(const tokenizer *t);
tok_kind tok_kind_of(const tokenizer *t, int id);
/* What the substrate renders for an id: the UTF-8 characters for CHAR and
 * NGRAM, the literal name for SPECIAL (e.g. "<|bos|>") and BYTE (e.g.
 * "<0xAB>"); NULL for UNUSED (and ids out of range).  *len (may be NULL)
 * gets the length in bytes; the text is also NUL-terminated. */
const char *tok_render_text(const tokenizer *t, int id, size_t *len);
int tok_special_id(const tokenizer *t, tok_special s);
int tok_byte_id(const tokenizer *t, uint8_t b);
/* Id of a single character, or -1 when it has none (it then encodes as bytes). */
int tok_char_id(const tokenizer *t, uint32_t cp);
/* Characters an id stands for: CHAR 1, NGRAM n, SPECIAL/UNUSED 0, BYTE 1
 * (a byte token alone; see tok_buf.chars for bytes of one character). */
int tok_id_chars(const tokenizer *t, int id);
/* Corpus count recorded when the id was learned (0 when unknown). */
uint64_t tok_id_count(const tokenizer *t, int id);
int tok_n_ngrams(const tokenizer *t);
int tok_n_chars(const tokenizer *t);
int tok_ngram_max(const tokenizer *t);
/* Content hash: SHA-256 (lower-case hex) of the tokenizer's definition --
 * mode, vocabulary size, and every id's kind and text in id order, not the
 * learning counts (the byte layout is in docs/FORMAT-dataset.md).  Two
 * tokenizers with the same hash encode every text to the same ids. */
void tok_hash(const tokenizer *t, char hex[65]);

/* ---- encoding ---------------------------------------------------------- */

/* Growable token buffer: ids[i] and the number of characters token i
 * completes (chars[i]): CHAR 1, NGRAM n, an invalid byte 1, the bytes of a
 * valid character without an id 1 on the first byte and 0 on the others.
 * So the sum of chars over any token range is the characters it decodes to
 * (counting every invalid byte as one character). */
typedef struct tok_buf {
    int32_t *ids;
    uint8_t *chars;
    size_t n, cap;
} tok_buf;

void tok_buf_init(tok_buf *b);
void tok_buf_free(tok_buf *b);
/* Append one token (e.g. TOK_EOS) with `chars` characters. */
st_status tok_buf_push(tok_buf *b, int32_t id, uint8_t chars);

typedef struct tok_stats {
    uint64_t bytes;   /* input bytes */
    uint64_t chars;   /* characters, counting each invalid byte as one */
    uint64_t invalid; /* bytes that are not part of a valid UTF-8 sequence */
    uint64_t tokens;  /* tokens appended */
    uint64_t byte_tokens; /* of which byte tokens */
} tok_stats;

/* Encode text[0..n) and append to out; stats (may be NULL) are added to. */
st_status tok_encode(const tokenizer *t, const uint8_t *text, size_t n, tok_buf *out,
                     tok_stats *stats);
/* Decode ids into a malloc'd buffer *out (NUL-terminated; *len bytes without
 * the NUL).  Ids out of range or UNUSED -> ST_EDATA naming the id. */
st_status tok_decode(const tokenizer *t, const int32_t *ids, size_t n, char **out, size_t *len);

/* ---- files ------------------------------------------------------------- */

/* Write / read the tokenizer as group `group` of f (a path from the file's
 * root, e.g. "tokenizer" or "model/tok").  Collective when the file is open
 * on several ranks; every rank passes the same tokenizer.  Saving stores
 * the content hash as the group's attribute `sha256`.  Loading validates
 * the group, recomputes the hash and fails with ST_EDATA naming the problem
 * -- also when the group has a `sha256` attribute that differs (a
 * tokenizer edited after it was written; files without the attribute are
 * older and accepted). */
struct h5_file;
st_status tok_save(struct h5_file *f, const char *group, const tokenizer *t);
st_status tok_load(struct h5_file *f, const char *group, tokenizer **out);

/* Collective over comm: the /tokenizer group of any strata file (dataset,
 * checkpoint, ensemble or tokenizer file).  A file that is missing, not a
 * strata file or has no valid tokenizer is ST_EDATA naming it. */
st_status tok_load_file(const char *path, MPI_Comm comm, tokenizer **out);

/* Collective over comm: write a tokenizer file (root kind "tokenizer":
 * /tokenizer, /config = config_text when not NULL, /sources = sources when
 * not NULL), published atomically (publish.h).  The caller guards the
 * output (outguard.h). */
st_status tok_write_file(const char *path, const tokenizer *t, const char *config_text,
                         const char *sources, MPI_Comm comm);

/* Build a tokenizer from its definition (what tok_hash covers): for every
 * id its kind, its text (text[id] of len[id] bytes; ignored for UNUSED) and
 * its learning count (count may be NULL: 0).  Inconsistent definitions
 * (unknown kind, repeated or missing special/byte, bad UTF-8, bmp ids that
 * are not their code points) -> ST_EDATA naming the id.  Used to read a
 * tokenizer back from an export (strata import). */
st_status tok_from_def(tok_mode mode, int vocab, int ngram_max, const uint8_t *kind, const char *const *text,
                        const size_t *len, const uint64_t *count, tokenizer **out);

/* Human summary (mode, sizes, most frequent n-grams). */
void tok_describe(const tokenizer *t, FILE *out);

void tok_free(tokenizer *t);

#endif
