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

/// The index of the first byte from `from` on, of the `count` bytes at `bytes`, that a USD text
/// layer's lexer stops at — `#`, `"`, `'`, `<`, `@`, `=` or a bracket (`[({])}`) — or `count`;
/// `*last_identifier_start` becomes the index of the last byte before it that can start an
/// identifier (a letter, `_`, a byte of a multi-byte character), and is left as it is if none does.
size_t buildcat_usda_next_stop(const void *bytes, size_t count, size_t from, size_t *last_identifier_start);

/// The index of the first byte from `from` on, of the `count` bytes at `bytes`, that is `a`, `b`
/// or `c`, or `count`.
size_t buildcat_next_of_three(const void *bytes, size_t count, size_t from, unsigned char a, unsigned char b, unsigned char c);

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
