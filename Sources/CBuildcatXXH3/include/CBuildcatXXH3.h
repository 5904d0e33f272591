// XXH3 (64- and 128-bit) compiled into Buildcat from Debian's xxhash.h (libxxhash-dev), with
// the widest vector code the processor runs picked once at run time: AVX-512, AVX2, or SSE2,
// which every x86-64 processor has. Debian's libxxhash.so picks the same way, but its static
// archive has no such entry points, and a release build of Buildcat links everything
// statically (tools/build-release). The hashes are xxHash's own: `xxhsum -H2` is the oracle.
#ifndef CBUILDCAT_XXH3_H
#define CBUILDCAT_XXH3_H

#include <stddef.h>
#include <stdint.h>

/// An XXH3-128 hash as xxHash returns it: `high` holds the first 16 hex digits `xxhsum -H2` prints.
typedef struct {
    uint64_t low;
    uint64_t high;
} buildcat_xxh3_128_hash;

/// XXH3-128 of `length` bytes at `input` (which may be NULL when `length` is 0).
buildcat_xxh3_128_hash buildcat_xxh3_128(const void *input, size_t length);

/// XXH3-64 of `length` bytes at `input`, with `seed` (0: xxHash's default secret).
uint64_t buildcat_xxh3_64(const void *input, size_t length, uint64_t seed);

/// Streaming XXH3-128: a state made ready for its first input, or NULL when out of memory.
void *buildcat_xxh3_128_state_create(void);
void buildcat_xxh3_128_state_free(void *state);
/// Starts the state again from no input.
void buildcat_xxh3_128_state_reset(void *state);
void buildcat_xxh3_128_state_update(void *state, const void *input, size_t length);
/// The hash of everything given since the last reset; the state can go on.
buildcat_xxh3_128_hash buildcat_xxh3_128_state_digest(void *state);

/// The vector code picked on this processor: "avx512", "avx2" or "sse2" on x86-64.
const char *buildcat_xxh3_variant(void);

/// For tests: XXH3-128 of the input with the named variant's code ("sse2", "avx2", "avx512")
/// in one call (`whole`) and as a stream given `piece` bytes at a time (`streamed`). 0, with
/// nothing written, when this processor does not run that variant (nor one wider).
int buildcat_xxh3_128_checked(const char *name, const void *input, size_t length, size_t piece,
                              buildcat_xxh3_128_hash *whole, buildcat_xxh3_128_hash *streamed);

#endif
