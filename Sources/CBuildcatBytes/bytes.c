#include "CBuildcatBytes.h"

#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

size_t buildcat_count_byte(const void *bytes, size_t count, unsigned char byte) {
    const unsigned char *at = bytes;
    size_t total = 0, index = 0;
#ifdef __SSE2__
    const __m128i needle = _mm_set1_epi8((char)byte);
    while (index + 16 <= count) {
        // Each byte lane counts to at most 255 before the lanes are summed.
        size_t blocks = (count - index) / 16;
        if (blocks > 255) blocks = 255;
        __m128i lanes = _mm_setzero_si128();
        for (size_t block = 0; block < blocks; block++, index += 16) {
            __m128i chunk = _mm_loadu_si128((const __m128i *)(at + index));
            lanes = _mm_sub_epi8(lanes, _mm_cmpeq_epi8(chunk, needle));  // a match is -1
        }
        __m128i sums = _mm_sad_epu8(lanes, _mm_setzero_si128());
        total += (size_t)_mm_cvtsi128_si64(sums) + (size_t)_mm_cvtsi128_si64(_mm_unpackhi_epi64(sums, sums));
    }
#endif
    for (; index < count; index++) total += at[index] == byte;
    return total;
}

#ifdef __SSE2__
/// The lanes of `chunk` that hold a byte JSON must escape.
static int escaped_lanes(__m128i chunk) {
    const __m128i space = _mm_set1_epi8(0x20), delete = _mm_set1_epi8(0x7F);
    const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\');
    // Compared as signed bytes, 0x80…0xFF are below 0x20 too.
    __m128i escaped = _mm_or_si128(_mm_or_si128(_mm_cmplt_epi8(chunk, space), _mm_cmpeq_epi8(chunk, delete)),
                                   _mm_or_si128(_mm_cmpeq_epi8(chunk, quote), _mm_cmpeq_epi8(chunk, backslash)));
    return _mm_movemask_epi8(escaped);
}
#endif

int buildcat_is_plain_json(const void *bytes, size_t count) {
    const unsigned char *at = bytes;
#ifdef __SSE2__
    // The last (or only) block overlaps the one before: paths are short, and a byte at a time
    // the tail of each cost more than the rest.
    if (count >= 16) {
        for (size_t index = 0; index + 16 < count; index += 16) {
            if (escaped_lanes(_mm_loadu_si128((const __m128i *)(at + index))) != 0) return 0;
        }
        return escaped_lanes(_mm_loadu_si128((const __m128i *)(at + count - 16))) == 0;
    }
    if (count >= 8) {
        // Eight bytes load into the low lanes; the high ones are zero, escaped, and not looked at.
        return (escaped_lanes(_mm_loadl_epi64((const __m128i *)at)) & 0xFF) == 0
            && (escaped_lanes(_mm_loadl_epi64((const __m128i *)(at + count - 8))) & 0xFF) == 0;
    }
    // Fewer than eight, padded with spaces (plain).
    long long padded = 0x2020202020202020LL;
    memcpy(&padded, at, count);
    return (escaped_lanes(_mm_cvtsi64_si128(padded)) & 0xFF) == 0;
#else
    for (size_t index = 0; index < count; index++) {
        unsigned char byte = at[index];
        if (byte < 0x20 || byte >= 0x7F || byte == '"' || byte == '\\') return 0;
    }
    return 1;
#endif
}

/// Appends a label (a literal) at `*at`.
#define PUT_LABEL(at, label) (memcpy((at), (label), sizeof(label) - 1), (at) += sizeof(label) - 1)

/// Appends `text` at `*at` if JSON holds it as it is; 0 if not. Checked and copied in one pass,
/// sixteen bytes at a time (the last sixteen, or eight, overlapping the ones before: no byte
/// read or written past the text's).
static int put_plain(unsigned char **at, buildcat_text text) {
    const unsigned char *from = text.bytes;
    unsigned char *to = *at;
    size_t count = text.count;
#ifdef __SSE2__
    if (count >= 16) {
        int escaped = 0;
        for (size_t index = 0; index + 16 < count; index += 16) {
            __m128i chunk = _mm_loadu_si128((const __m128i *)(from + index));
            escaped |= escaped_lanes(chunk);
            _mm_storeu_si128((__m128i *)(to + index), chunk);
        }
        __m128i last = _mm_loadu_si128((const __m128i *)(from + count - 16));
        escaped |= escaped_lanes(last);
        _mm_storeu_si128((__m128i *)(to + count - 16), last);
        if (escaped != 0) return 0;
    } else if (count >= 8) {
        __m128i first = _mm_loadl_epi64((const __m128i *)from), last = _mm_loadl_epi64((const __m128i *)(from + count - 8));
        if (((escaped_lanes(first) | escaped_lanes(last)) & 0xFF) != 0) return 0;
        _mm_storel_epi64((__m128i *)to, first);
        _mm_storel_epi64((__m128i *)(to + count - 8), last);
    } else {
        if (!buildcat_is_plain_json(from, count)) return 0;
        for (size_t index = 0; index < count; index++) to[index] = from[index];
    }
#else
    if (count > 0 && !buildcat_is_plain_json(from, count)) return 0;
    memcpy(to, from, count);
#endif
    *at = to + count;
    return 1;
}

size_t buildcat_json_plain_asset(unsigned char *out, buildcat_text path, long long size, buildcat_text kind, buildcat_text raw,
                                 buildcat_text scene, buildcat_text block, buildcat_text field) {
    unsigned char *at = out;
    PUT_LABEL(at, "{\"path\":\"");
    if (!put_plain(&at, path)) return 0;
    PUT_LABEL(at, "\",\"size\":");
    // The size's digits, last first, then in order.
    char digits[24];
    int count = 0;
    unsigned long long magnitude = size < 0 ? 0ULL - (unsigned long long)size : (unsigned long long)size;
    do {
        digits[count++] = (char)('0' + magnitude % 10);
        magnitude /= 10;
    } while (magnitude > 0);
    if (size < 0) *at++ = '-';
    while (count > 0) *at++ = (unsigned char)digits[--count];
    PUT_LABEL(at, ",\"kind\":\"");
    if (!put_plain(&at, kind)) return 0;
    PUT_LABEL(at, "\",\"raw\":\"");
    if (!put_plain(&at, raw)) return 0;
    PUT_LABEL(at, "\",\"scene\":\"");
    if (!put_plain(&at, scene)) return 0;
    PUT_LABEL(at, "\",\"block\":\"");
    if (!put_plain(&at, block)) return 0;
    PUT_LABEL(at, "\",\"field\":\"");
    if (!put_plain(&at, field)) return 0;
    PUT_LABEL(at, "\"}");
    return (size_t)(at - out);
}

long buildcat_last_index_of(const void *bytes, size_t count, unsigned char byte) {
    const unsigned char *at = bytes;
    size_t end = count;
#ifdef __SSE2__
    // Sixteen bytes at a time from the end: a path's last '/' is a file name away from it.
    const __m128i needle = _mm_set1_epi8((char)byte);
    for (; end >= 16; end -= 16) {
        int lanes = _mm_movemask_epi8(_mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(at + end - 16)), needle));
        if (lanes != 0) return (long)(end - 16) + 31 - __builtin_clz((unsigned)lanes);
    }
#endif
    while (end > 0) {
        end--;
        if (at[end] == byte) return (long)end;
    }
    return -1;
}
