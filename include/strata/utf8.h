/* utf8.h -- strict UTF-8 decoding, character classes and safe break points.
 *
 * Decoding is strict (RFC 3629): overlong forms, surrogates (U+D800-U+DFFF)
 * and values above U+10FFFF are invalid.  A byte that does not start a valid
 * sequence is one "invalid unit" of length 1; decoding resumes at the next
 * byte.  Text is therefore a sequence of *units*: valid characters and
 * invalid bytes.  Every byte string has exactly one such decomposition.
 *
 * Character classes decide where learned n-grams may live: an n-gram is a
 * run of 2+ characters of the same class, WORD (letters and digits of any
 * script) or CJK (Han, kana, Hangul).  A *safe break* is a unit start where
 * the unit before and the unit after are not both WORD or both CJK, so no
 * n-gram can cross it.  Corpus preparation cuts the text between ranks only
 * at safe breaks, which makes counting and greedy encoding independent of
 * the number of ranks.
 */
#ifndef STRATA_UTF8_H
#define STRATA_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UTF8_MAX_CP 0x10FFFFu

typedef enum utf8_class {
    UTF8_OTHER = 0, /* space, punctuation, symbols, controls, invalid bytes */
    UTF8_WORD = 1,  /* letters and digits (any non-CJK script) */
    UTF8_CJK = 2,   /* Han ideographs, hiragana, katakana, Hangul syllables */
} utf8_class;

/* Decode one character at s[0..n).  Returns its length 1..4 and sets *cp,
 * or 0 when s[0] does not start a valid sequence (n == 0 also returns 0). */
size_t utf8_decode(const uint8_t *s, size_t n, uint32_t *cp);

/* Encode cp (<= U+10FFFF, not a surrogate) into out; returns 1..4, 0 when
 * cp cannot be encoded. */
size_t utf8_encode(uint32_t cp, uint8_t out[4]);

/* Number of units (characters + invalid bytes) and invalid bytes in s[0..n). */
size_t utf8_count(const uint8_t *s, size_t n, size_t *invalid);

/* Class of a code point (see top). */
utf8_class utf8_class_of(uint32_t cp);

/* Is byte position p of s[0..n) a safe break?  p == 0 and p == n are breaks
 * only when `at_start` / `at_end` say the buffer starts / ends there (a file
 * boundary); otherwise the answer needs the 4 bytes either side of p, and
 * positions closer than that to a buffer edge that is not a file edge are
 * reported as not breaks. */
bool utf8_is_break(const uint8_t *s, size_t n, size_t p, bool at_start, bool at_end);

/* Smallest safe break p with from <= p <= n (see utf8_is_break), or
 * SIZE_MAX when there is none in the buffer. */
size_t utf8_next_break(const uint8_t *s, size_t n, size_t from, bool at_start, bool at_end);

#endif
