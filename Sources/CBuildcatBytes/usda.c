// The asset paths of a USD text layer, found in one pass: the lexer of `USDALexer`.
//
// The layer is classified sixty-four bytes at a time into two bit masks, the bytes the lexer
// stops at and the bytes that can start an identifier, and the lexer goes from stop to stop
// through the masks. A layer written by a tool stops every dozen bytes (a name, a `=`, a string,
// a bracket); found sixteen bytes at a time from each stop anew, and handled in Swift, finding
// them was a fifth of the instructions of a large stage's scan.
#include "CBuildcatBytes.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>

/// The lanes of `chunk` that hold `#"'<@=[({])}`: bytes that differ in one bit are compared in
/// pairs, that bit cleared (`"#`, `()`, `<=`, `[{`, `]}`), seven comparisons for twelve bytes.
static unsigned stop_lanes(__m128i chunk) {
    const __m128i pairs = _mm_and_si128(chunk, _mm_set1_epi8((char)0xFE));     // "# () <=
    const __m128i brackets = _mm_and_si128(chunk, _mm_set1_epi8((char)0xDF));  // [{ ]}
    __m128i stops = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(pairs, _mm_set1_epi8('"')), _mm_cmpeq_epi8(pairs, _mm_set1_epi8('('))),
                                 _mm_or_si128(_mm_cmpeq_epi8(pairs, _mm_set1_epi8('<')), _mm_cmpeq_epi8(chunk, _mm_set1_epi8('\''))));
    stops = _mm_or_si128(stops, _mm_or_si128(_mm_cmpeq_epi8(chunk, _mm_set1_epi8('@')),
                                             _mm_or_si128(_mm_cmpeq_epi8(brackets, _mm_set1_epi8('[')), _mm_cmpeq_epi8(brackets, _mm_set1_epi8(']')))));
    return (unsigned)_mm_movemask_epi8(stops);
}

/// The lanes of `chunk` that hold a byte that starts an identifier: a letter, `_`, or any byte
/// of a multi-byte character.
static unsigned identifier_start_lanes(__m128i chunk) {
    const __m128i folded = _mm_or_si128(chunk, _mm_set1_epi8(0x20));  // A-Z to a-z
    const __m128i letters = _mm_and_si128(_mm_cmpgt_epi8(folded, _mm_set1_epi8('a' - 1)), _mm_cmplt_epi8(folded, _mm_set1_epi8('z' + 1)));
    return (unsigned)(_mm_movemask_epi8(_mm_or_si128(letters, _mm_cmpeq_epi8(chunk, _mm_set1_epi8('_')))) | _mm_movemask_epi8(chunk));
}
#endif

#ifndef __SSE2__
static int is_stop(unsigned char byte) {
    switch (byte) {
    case '#': case '"': case '\'': case '<': case '@': case '=':
    case '[': case '(': case '{': case ']': case ')': case '}':
        return 1;
    default:
        return 0;
    }
}
#endif

static int starts_identifier(unsigned char byte) {
    return ((byte | 0x20) >= 'a' && (byte | 0x20) <= 'z') || byte == '_' || byte >= 0x80;
}

/// Inside an identifier after its first byte: one that starts one, a digit, `:` or `.`.
static int continues_identifier(unsigned char byte) {
    return starts_identifier(byte) || (byte >= '0' && byte <= '9') || byte == ':' || byte == '.';
}

/// The masks of one block of sixty-four bytes (bit n: the byte at `start + n`).
typedef struct {
    size_t start;
    uint64_t stops;
    uint64_t identifier_starts;
} block_masks;

/// Classifies the sixty-four bytes from `start`; past the end (the last block) as NUL, which
/// is neither.
static void classify(const unsigned char *bytes, size_t count, size_t start, block_masks *block) {
    unsigned char padded[64];
    const unsigned char *at = bytes + start;
    if (count - start < 64) {
        memset(padded, 0, sizeof padded);
        memcpy(padded, at, count - start);
        at = padded;
    }
    block->start = start;
#ifdef __SSE2__
    uint64_t stops = 0, starts = 0;
    for (int lane = 0; lane < 4; lane++) {
        const __m128i chunk = _mm_loadu_si128((const __m128i *)(at + 16 * lane));
        stops |= (uint64_t)stop_lanes(chunk) << (16 * lane);
        starts |= (uint64_t)identifier_start_lanes(chunk) << (16 * lane);
    }
    block->stops = stops;
    block->identifier_starts = starts;
#else
    block->stops = block->identifier_starts = 0;
    for (int index = 0; index < 64; index++) {
        block->stops |= (uint64_t)is_stop(at[index]) << index;
        block->identifier_starts |= (uint64_t)starts_identifier(at[index]) << index;
    }
#endif
}

/// The index of the first stop from `from` on, or `count`; `*last_start` becomes the index of
/// the last byte before it that can start an identifier, if one does.
static size_t next_stop(const unsigned char *bytes, size_t count, size_t from, block_masks *block, size_t *last_start) {
    while (from < count) {
        if (from < block->start || from - block->start >= 64) classify(bytes, count, from & ~(size_t)63, block);
        const uint64_t after = ~(uint64_t)0 << (from - block->start);
        const uint64_t stops = block->stops & after;
        uint64_t starts = block->identifier_starts & after;
        if (stops != 0) starts &= (stops & -stops) - 1;  // before the stop
        if (starts != 0) *last_start = block->start + 63 - (size_t)__builtin_clzll(starts);
        if (stops != 0) return block->start + (size_t)__builtin_ctzll(stops);
        from = block->start + 64;
    }
    return count;
}

/// The index of the first byte from `from` on that is `a`, `b` or `c`, or `count`.
static size_t next_of_three(const unsigned char *bytes, size_t count, size_t from, unsigned char a, unsigned char b, unsigned char c) {
#ifdef __SSE2__
    const __m128i wantA = _mm_set1_epi8((char)a), wantB = _mm_set1_epi8((char)b), wantC = _mm_set1_epi8((char)c);
    for (; from + 16 <= count; from += 16) {
        const __m128i chunk = _mm_loadu_si128((const __m128i *)(bytes + from));
        const unsigned lanes = (unsigned)_mm_movemask_epi8(
            _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(chunk, wantA), _mm_cmpeq_epi8(chunk, wantB)), _mm_cmpeq_epi8(chunk, wantC)));
        if (lanes != 0) return from + (size_t)__builtin_ctz(lanes);
    }
#endif
    while (from < count && bytes[from] != a && bytes[from] != b && bytes[from] != c) from++;
    return from;
}

static size_t next_byte(const unsigned char *bytes, size_t count, size_t from, unsigned char byte) {
    const unsigned char *found = from < count ? memchr(bytes + from, byte, count - from) : NULL;
    return found ? (size_t)(found - bytes) : count;
}

/// The identifier that holds the byte at `index`, which can start one: from the first byte of
/// its run that can start one (`1.5abc` holds `abc`) to the run's end.
static void identifier_around(const unsigned char *bytes, size_t count, size_t index, size_t *start, size_t *end) {
    size_t last = index + 1;
    while (last < count && continues_identifier(bytes[last])) last++;
    size_t first = index;
    while (first > 0 && continues_identifier(bytes[first - 1])) first--;
    while (!starts_identifier(bytes[first])) first++;
    *start = first;
    *end = last;
}

/// The paths found so far (in `out`), and how many `out->paths` has room for.
typedef struct {
    buildcat_usda_lexed *out;
    size_t capacity;
} found_paths;

static int add_path(found_paths *found, buildcat_usda_asset_path path) {
    buildcat_usda_lexed *out = found->out;
    if (out->count == found->capacity) {
        const size_t capacity = found->capacity * 2 + 16;
        buildcat_usda_asset_path *grown = realloc(out->paths, capacity * sizeof *grown);
        if (grown == NULL) return 0;
        out->paths = grown;
        found->capacity = capacity;
    }
    out->paths[out->count++] = path;
    return 1;
}

static int fail(buildcat_usda_lexed *out, buildcat_usda_error error, size_t offset) {
    out->error = error;
    out->error_offset = offset;
    return 0;
}

/// Skips the string that starts at `start`; the index after it in `*end`.
static int skip_string(const unsigned char *bytes, size_t count, size_t start, size_t *end, buildcat_usda_lexed *out) {
    const unsigned char quote = bytes[start];
    const int triple = start + 2 < count && bytes[start + 1] == quote && bytes[start + 2] == quote;
    size_t index = start + (triple ? 3 : 1);
    for (;;) {
        // The next byte that may end the string, escapes one, or (on one line) is an error.
        index = next_of_three(bytes, count, index < count ? index : count, quote, '\\', triple ? quote : '\n');
        if (index >= count) return fail(out, BUILDCAT_USDA_STRING_NEVER_CLOSED, start);
        if (bytes[index] == '\\') {
            index += 2;
        } else if (bytes[index] == '\n') {
            return fail(out, BUILDCAT_USDA_STRING_NOT_CLOSED_ON_ITS_LINE, start);
        } else if (!triple) {
            *end = index + 1;
            return 1;
        } else if (index + 2 < count && bytes[index + 1] == quote && bytes[index + 2] == quote) {
            *end = index + 3;
            return 1;
        } else {
            index += 1;
        }
    }
}

/// Reads the asset path that starts at `start` (its first `@`); the index after it in `*end`.
static int asset_path(const unsigned char *bytes, size_t count, size_t start, buildcat_usda_asset_path *path, size_t *end,
                      buildcat_usda_lexed *out) {
    const int triple = start + 2 < count && bytes[start + 1] == '@' && bytes[start + 2] == '@';
    path->triple_delimited = triple;
    path->escaped = 0;
    if (!triple) {
        // `@…@`: no `@` inside, on one line.
        const size_t close = next_byte(bytes, count, start + 1, '@');
        const size_t newline = next_byte(bytes, close, start + 1, '\n');
        if (newline < close) return fail(out, BUILDCAT_USDA_PATH_NOT_CLOSED_ON_ITS_LINE, start);
        if (close == count) return fail(out, BUILDCAT_USDA_PATH_NEVER_CLOSED, start);
        path->start = start + 1;
        path->end = close;
        *end = close + 1;
        return 1;
    }
    // `@@@…@@@`: may hold `@`; `\@@@` is an escaped delimiter.
    for (size_t index = start + 3; index < count;) {
        if (bytes[index] == '\\' && index + 3 < count && bytes[index + 1] == '@' && bytes[index + 2] == '@' && bytes[index + 3] == '@') {
            path->escaped = 1;
            index += 4;
        } else if (bytes[index] == '@' && index + 2 < count && bytes[index + 1] == '@' && bytes[index + 2] == '@') {
            // A run of more than three `@` closes at its last three.
            size_t close = index;
            while (close + 3 < count && bytes[close + 3] == '@') close++;
            path->start = start + 3;
            path->end = close;
            *end = close + 3;
            return 1;
        } else if (bytes[index] == '\n') {
            return fail(out, BUILDCAT_USDA_TRIPLE_PATH_NOT_CLOSED_ON_ITS_LINE, start);
        } else {
            index += 1;
        }
    }
    return fail(out, BUILDCAT_USDA_TRIPLE_PATH_NEVER_CLOSED, start);
}

/// The key in force inside each open bracket, innermost last, as the byte its identifier was
/// found from (SIZE_MAX: none): worked out into the identifier only for a path, as layers give
/// twice as many values as paths. On the stack for the few levels layers nest, on the heap beyond.
typedef struct {
    size_t *keys;
    size_t count;
    size_t capacity;
    size_t inline_keys[32];
} key_stack;

static int push_key(key_stack *stack) {
    if (stack->count == stack->capacity) {
        const size_t capacity = stack->capacity * 2;
        size_t *grown = stack->keys == stack->inline_keys ? malloc(capacity * sizeof *grown) : realloc(stack->keys, capacity * sizeof *grown);
        if (grown == NULL) return 0;
        if (stack->keys == stack->inline_keys) memcpy(grown, stack->inline_keys, sizeof stack->inline_keys);
        stack->keys = grown;
        stack->capacity = capacity;
    }
    stack->keys[stack->count] = stack->keys[stack->count - 1];
    stack->count++;
    return 1;
}

static int lex(const unsigned char *bytes, size_t count, found_paths *found, key_stack *keys) {
    buildcat_usda_lexed *out = found->out;
    block_masks block = {.start = SIZE_MAX};
    // The last byte outside strings, comments and paths that can start an identifier (none:
    // SIZE_MAX): the name a `=` gives a value is worked out from it only when a `=` comes.
    size_t identifier_start = SIZE_MAX;
    // The last key worked out: a layer's paths come in runs of one key.
    size_t last_key = SIZE_MAX, last_key_start = 0, last_key_end = 0;
    size_t index = 0;
    while (index < count) {
        index = next_stop(bytes, count, index, &block, &identifier_start);
        if (index >= count) break;
        size_t *key = &keys->keys[keys->count - 1];
        switch (bytes[index]) {
        case '#':
            index = next_byte(bytes, count, index, '\n') + 1;
            break;
        case '"': case '\'':
            if (!skip_string(bytes, count, index, &index, out)) return 0;
            break;
        case '<': {
            // A path (`</World/Set>`, `<../Other.attr>`): may hold `@` in variant selections.
            const size_t close = next_byte(bytes, count, index, '>');
            if (close >= count) return fail(out, BUILDCAT_USDA_PRIM_PATH_NEVER_CLOSED, index);
            index = close + 1;
            break;
        }
        case '@': {
            if (*key != last_key) {
                last_key = *key;
                if (last_key == SIZE_MAX) last_key_start = last_key_end = 0;
                else identifier_around(bytes, count, last_key, &last_key_start, &last_key_end);
            }
            buildcat_usda_asset_path path = {.key_start = last_key_start, .key_end = last_key_end};
            if (!asset_path(bytes, count, index, &path, &index, out)) return 0;
            if (!add_path(found, path)) return fail(out, BUILDCAT_USDA_OUT_OF_MEMORY, index);
            break;
        }
        case '=':
            *key = identifier_start;
            index += 1;
            break;
        case '[': case '(': case '{':
            if (!push_key(keys)) return fail(out, BUILDCAT_USDA_OUT_OF_MEMORY, index);
            index += 1;
            break;
        default:  // `]`, `)`, `}`
            if (keys->count > 1) keys->count--;
            index += 1;
        }
    }
    return 1;
}

void buildcat_usda_asset_paths(const void *bytes, size_t count, buildcat_usda_lexed *out) {
    out->paths = NULL;
    out->count = 0;
    out->error = BUILDCAT_USDA_NO_ERROR;
    out->error_offset = 0;
    // Room for a path every 64 bytes, more than most layers hold (a text layer written by a tool
    // spends over a hundred bytes a path).
    found_paths found = {.out = out, .capacity = count / 64 + 4};
    out->paths = malloc(found.capacity * sizeof *out->paths);
    if (out->paths == NULL) {
        fail(out, BUILDCAT_USDA_OUT_OF_MEMORY, 0);
        return;
    }
    key_stack keys = {.count = 1, .capacity = 32};
    keys.keys = keys.inline_keys;
    keys.keys[0] = SIZE_MAX;
    lex(bytes, count, &found, &keys);
    if (keys.keys != keys.inline_keys) free(keys.keys);
}

void buildcat_usda_free(buildcat_usda_lexed *lexed) {
    free(lexed->paths);
    lexed->paths = NULL;
    lexed->count = 0;
}
