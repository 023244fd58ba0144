/* utf8.c -- strict UTF-8 decoding, character classes and safe breaks. */
#include "strata/utf8.h"

static inline bool is_cont(uint8_t b) { return (b & 0xC0) == 0x80; }

size_t utf8_decode(const uint8_t *s, size_t n, uint32_t *cp)
{
    if (n == 0) return 0;
    uint8_t b0 = s[0];
    if (b0 < 0x80) {
        *cp = b0;
        return 1;
    }
    if (b0 < 0xC2) return 0; /* continuation byte or overlong 2-byte lead */
    if (b0 < 0xE0) {
        if (n < 2 || !is_cont(s[1])) return 0;
        *cp = ((uint32_t)(b0 & 0x1F) << 6) | (s[1] & 0x3F);
        return 2;
    }
    if (b0 < 0xF0) {
        if (n < 3) return 0;
        uint8_t lo = 0x80, hi = 0xBF;
        if (b0 == 0xE0) lo = 0xA0;      /* overlong */
        if (b0 == 0xED) hi = 0x9F;      /* surrogates */
        if (s[1] < lo || s[1] > hi || !is_cont(s[2])) return 0;
        *cp = ((uint32_t)(b0 & 0x0F) << 12) | ((uint32_t)(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
        return 3;
    }
    if (b0 < 0xF5) {
        if (n < 4) return 0;
        uint8_t lo = 0x80, hi = 0xBF;
        if (b0 == 0xF0) lo = 0x90;      /* overlong */
        if (b0 == 0xF4) hi = 0x8F;      /* above U+10FFFF */
        if (s[1] < lo || s[1] > hi || !is_cont(s[2]) || !is_cont(s[3])) return 0;
        *cp = ((uint32_t)(b0 & 0x07) << 18) | ((uint32_t)(s[1] & 0x3F) << 12) |
              ((uint32_t)(s[2] & 0x3F) << 6) | (s[3] & 0x3F);
        return 4;
    }
    return 0;
}

size_t utf8_encode(uint32_t cp, uint8_t out[4])
{
    if (cp < 0x80) {
        out[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (uint8_t)(0xC0 | (cp >> 6));
        out[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp >= 0xD800 && cp <= 0xDFFF) return 0;
    if (cp < 0x10000) {
        out[0] = (uint8_t)(0xE0 | (cp >> 12));
        out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    if (cp > UTF8_MAX_CP) return 0;
    out[0] = (uint8_t)(0xF0 | (cp >> 18));
    out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

size_t utf8_count(const uint8_t *s, size_t n, size_t *invalid)
{
    size_t units = 0, bad = 0, i = 0;
    uint32_t cp;
    while (i < n) {
        if (s[i] < 0x80) {
            i++;
        } else {
            size_t k = utf8_decode(s + i, n - i, &cp);
            if (k == 0) {
                bad++;
                k = 1;
            }
            i += k;
        }
        units++;
    }
    if (invalid) *invalid = bad;
    return units;
}

/* Ranges are [lo, hi] inclusive, sorted; code points in none of them are
 * OTHER.  The table is an approximation of Unicode's letter/digit and
 * ideograph properties that is good enough to keep n-grams inside words;
 * it is part of the tokenizer's definition (changing it changes what a
 * corpus learns), so it is versioned with the dataset format. */
typedef struct cls_range {
    uint32_t lo, hi;
    uint8_t cls;
} cls_range;

static const cls_range ranges[] = {
    {0x30, 0x39, UTF8_WORD},     {0x41, 0x5A, UTF8_WORD},     {0x61, 0x7A, UTF8_WORD},
    {0xAA, 0xAA, UTF8_WORD},     {0xB5, 0xB5, UTF8_WORD},     {0xBA, 0xBA, UTF8_WORD},
    {0xC0, 0xD6, UTF8_WORD},     {0xD8, 0xF6, UTF8_WORD},     {0xF8, 0x37D, UTF8_WORD},
    {0x37F, 0x386, UTF8_WORD},   {0x388, 0x559, UTF8_WORD},   {0x560, 0x588, UTF8_WORD},
    {0x58B, 0x5BD, UTF8_WORD},   {0x5BF, 0x5BF, UTF8_WORD},   {0x5C1, 0x5C2, UTF8_WORD},
    {0x5C4, 0x5C5, UTF8_WORD},   {0x5C7, 0x5F2, UTF8_WORD},   {0x610, 0x61A, UTF8_WORD},
    {0x620, 0x669, UTF8_WORD},   {0x66E, 0x6D3, UTF8_WORD},   {0x6D5, 0x963, UTF8_WORD},
    {0x966, 0x96F, UTF8_WORD},   {0x971, 0xE4E, UTF8_WORD},   {0xE50, 0xE59, UTF8_WORD},
    {0xE5C, 0x10FA, UTF8_WORD},  {0x10FC, 0x10FF, UTF8_WORD}, {0x1100, 0x11FF, UTF8_CJK},
    {0x1200, 0x135F, UTF8_WORD}, {0x1369, 0x166C, UTF8_WORD}, {0x166F, 0x167F, UTF8_WORD},
    {0x1681, 0x169A, UTF8_WORD}, {0x16A0, 0x16EA, UTF8_WORD}, {0x16EE, 0x17D3, UTF8_WORD},
    {0x17DB, 0x17FF, UTF8_WORD}, {0x180B, 0x1FFF, UTF8_WORD}, {0x2C00, 0x2DFF, UTF8_WORD},
    {0x2E80, 0x2FDF, UTF8_CJK},  {0x3005, 0x3007, UTF8_CJK},  {0x3021, 0x3029, UTF8_CJK},
    {0x3031, 0x3035, UTF8_CJK},  {0x3038, 0x303C, UTF8_CJK},  {0x3041, 0x30FA, UTF8_CJK},
    {0x30FC, 0x31FF, UTF8_CJK},  {0x3400, 0x4DBF, UTF8_CJK},  {0x4E00, 0x9FFF, UTF8_CJK},
    {0xA000, 0xA4CF, UTF8_CJK},  {0xA4D0, 0xA4FD, UTF8_WORD}, {0xA500, 0xA60C, UTF8_WORD},
    {0xA610, 0xA6F1, UTF8_WORD}, {0xA700, 0xA95F, UTF8_WORD}, {0xA960, 0xA97F, UTF8_CJK},
    {0xA980, 0xABFF, UTF8_WORD}, {0xAC00, 0xD7FF, UTF8_CJK},  {0xF900, 0xFAFF, UTF8_CJK},
    {0xFB00, 0xFD3D, UTF8_WORD}, {0xFD40, 0xFDFB, UTF8_WORD}, {0xFE70, 0xFEFE, UTF8_WORD},
    {0xFF10, 0xFF19, UTF8_WORD}, {0xFF21, 0xFF3A, UTF8_WORD}, {0xFF41, 0xFF5A, UTF8_WORD},
    {0xFF66, 0xFFDC, UTF8_CJK},  {0x10000, 0x1CFFF, UTF8_WORD}, {0x1D250, 0x1EFFF, UTF8_WORD},
    {0x20000, 0x3FFFF, UTF8_CJK},
};
enum { NRANGES = sizeof ranges / sizeof ranges[0] };

utf8_class utf8_class_of(uint32_t cp)
{
    if (cp < 0x80) {
        /* ASCII is by far the most common: no search. */
        if ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z') return UTF8_WORD;
        return (cp >= '0' && cp <= '9') ? UTF8_WORD : UTF8_OTHER;
    }
    size_t lo = 0, hi = NRANGES;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cp < ranges[mid].lo)
            hi = mid;
        else if (cp > ranges[mid].hi)
            lo = mid + 1;
        else
            return (utf8_class)ranges[mid].cls;
    }
    return UTF8_OTHER;
}

/* Class of the unit that starts at p (valid char or invalid byte). */
static utf8_class class_at(const uint8_t *s, size_t n, size_t p)
{
    uint32_t cp;
    return utf8_decode(s + p, n - p, &cp) ? utf8_class_of(cp) : UTF8_OTHER;
}

bool utf8_is_break(const uint8_t *s, size_t n, size_t p, bool at_start, bool at_end)
{
    if (p == 0) return at_start;
    if (p >= n) return p == n && at_end;
    /* Need 4 bytes of context either side unless the buffer edge is a file edge. */
    if ((p < 4 && !at_start) || (n - p < 4 && !at_end)) return false;
    uint32_t cp;
    /* Is p inside a valid sequence that starts at p-1..p-3?  A lead byte is
     * always a unit start, so checking the leads before p is enough. */
    for (size_t k = 1; k <= 3 && k <= p; k++) {
        if (is_cont(s[p - k])) continue;
        size_t len = utf8_decode(s + p - k, n - (p - k), &cp);
        if (len > k) return false;
        break; /* a non-continuation byte ends the search */
    }
    /* The unit that ends at p: a valid sequence [p-k, p) or the byte s[p-1]. */
    utf8_class prev = UTF8_OTHER;
    for (size_t k = 1; k <= 4 && k <= p; k++) {
        if (is_cont(s[p - k])) continue;
        if (utf8_decode(s + p - k, n - (p - k), &cp) == k) prev = utf8_class_of(cp);
        break;
    }
    if (prev == UTF8_OTHER) return true;
    return class_at(s, n, p) != prev;
}

size_t utf8_next_break(const uint8_t *s, size_t n, size_t from, bool at_start, bool at_end)
{
    for (size_t p = from; p <= n; p++) {
        /* Fast path: after an ASCII space or punctuation byte every position is a break. */
        if (p > 0 && p < n && s[p - 1] < 0x80 && utf8_class_of(s[p - 1]) == UTF8_OTHER) return p;
        if (utf8_is_break(s, n, p, at_start, at_end)) return p;
    }
    return SIZE_MAX;
}
