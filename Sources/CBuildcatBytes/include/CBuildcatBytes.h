// Byte scans over megabytes of scene text and paths, sixteen bytes at a time with SSE2 (every
// x86-64 processor has it; elsewhere a byte at a time), and a prefetch hint: what Swift cannot
// say, or its compiler does not vectorize (counting a USD stage's line feeds in Swift, eight
// bytes at a time, was a twentieth of its scan).
#ifndef CBUILDCAT_BYTES_H
#define CBUILDCAT_BYTES_H

#include <stddef.h>

/// How many of the `count` bytes at `bytes` equal `byte`.
size_t buildcat_count_byte(const void *bytes, size_t count, unsigned char byte);

/// Whether every one of the `count` bytes at `bytes` is printable ASCII (0x20…0x7E) other than
/// `"` and `\`: a string JSON holds as it is, without escapes.
int buildcat_is_plain_json(const void *bytes, size_t count);

/// `count` bytes at `bytes`: one piece of text.
typedef struct {
    const void *bytes;
    size_t count;
} buildcat_text;

/// The most bytes `buildcat_json_plain_asset` writes: its texts' bytes, its labels and a size.
#define BUILDCAT_JSON_ASSET_OVERHEAD 96

/// Writes a scan's asset entry at `out` —
/// `{"path":"…","size":…,"kind":"…","raw":"…","scene":"…","block":"…","field":"…"}` — when none of
/// its texts needs escaping in JSON (`buildcat_is_plain_json`), and returns its length; returns
/// 0 otherwise (what was written is of no use). `out` has room for the texts' bytes and
/// `BUILDCAT_JSON_ASSET_OVERHEAD` more.
size_t buildcat_json_plain_asset(unsigned char *out, buildcat_text path, long long size, buildcat_text kind, buildcat_text raw,
                                 buildcat_text scene, buildcat_text block, buildcat_text field);

/// One asset path of a USD text layer: `@…@` or `@@@…@@@`, outside strings and comments.
typedef struct {
    /// Where the text between the delimiters is in the layer.
    size_t start, end;
    /// Where the name it is the value of is (`subLayers`, `inputs:file`; empty for none).
    size_t key_start, key_end;
    /// Written `@@@…@@@`.
    unsigned char triple_delimited;
    /// Holds `\@@@`, an escaped delimiter: the path is the text with each one unescaped.
    unsigned char escaped;
} buildcat_usda_asset_path;

/// Why a layer's asset paths could not all be found.
typedef enum {
    BUILDCAT_USDA_NO_ERROR,
    BUILDCAT_USDA_STRING_NEVER_CLOSED,
    BUILDCAT_USDA_STRING_NOT_CLOSED_ON_ITS_LINE,
    BUILDCAT_USDA_PRIM_PATH_NEVER_CLOSED,
    BUILDCAT_USDA_PATH_NEVER_CLOSED,
    BUILDCAT_USDA_PATH_NOT_CLOSED_ON_ITS_LINE,
    BUILDCAT_USDA_TRIPLE_PATH_NEVER_CLOSED,
    BUILDCAT_USDA_TRIPLE_PATH_NOT_CLOSED_ON_ITS_LINE,
    BUILDCAT_USDA_OUT_OF_MEMORY,
} buildcat_usda_error;

/// The asset paths of a layer, in order (`count` at `paths`, malloc'ed: `buildcat_usda_free`), or
/// the first error and the offset of what it is about (the paths before it are kept).
typedef struct {
    buildcat_usda_asset_path *paths;
    size_t count;
    buildcat_usda_error error;
    size_t error_offset;
} buildcat_usda_lexed;

/// Finds the asset paths of the USD text layer of `count` bytes at `bytes` (see `USDALexer`).
void buildcat_usda_asset_paths(const void *bytes, size_t count, buildcat_usda_lexed *out);

/// Frees what `buildcat_usda_asset_paths` made.
void buildcat_usda_free(buildcat_usda_lexed *lexed);

/// Tells the processor the caller is spinning on a flag another thread will set (x86 `pause`).
static inline void buildcat_spin_pause(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/// The index of the last of the `count` bytes at `bytes` that equals `byte`, or -1 if none does.
long buildcat_last_index_of(const void *bytes, size_t count, unsigned char byte);

/// Asks the processor to bring the cache line at `address` into its caches, for a read soon.
static inline void buildcat_prefetch(const void *address) { __builtin_prefetch(address, 0, 3); }

#endif
