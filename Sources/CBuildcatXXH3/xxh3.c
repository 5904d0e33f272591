#include "CBuildcatXXH3.h"

#include <stdatomic.h>
#include <string.h>

#if defined(__x86_64__)
// Every variant's vector code is compiled here, each function for the target it needs (the
// header's own switches for this: XXH_X86DISPATCH and the XXH_TARGET_* attributes); the rest
// of the file is built for plain x86-64, where xxHash picks SSE2. The intrinsics of every
// width are declared by the compiler's header whatever the build's target.
#include <immintrin.h>
#define XXH_X86DISPATCH
#define XXH_DISPATCH_AVX2 1
#define XXH_DISPATCH_AVX512 1
#define XXH_TARGET_SSE2 __attribute__((target("sse2")))
#define XXH_TARGET_AVX2 __attribute__((target("avx2")))
#define XXH_TARGET_AVX512 __attribute__((target("avx512f")))
#endif
#define XXH_INLINE_ALL
#include <xxhash.h>

#if defined(__x86_64__)

/// In order of width: a processor that runs one runs those before it.
enum Variant { unknown, sse2, avx2, avx512 };

// Long inputs (over 240 bytes) are where the vector code runs: a long input's hash, and a
// stream's update, for one variant. The secret is xxHash's default, as in the one-shot call.
#define BUILDCAT_XXH3_VARIANT(name, feature)                                                        \
    __attribute__((target(feature), noinline)) static XXH128_hash_t hashLong128_##name(            \
        const void *input, size_t length, XXH64_hash_t seed, const void *secret, size_t secretLength) { \
        (void)seed; (void)secret; (void)secretLength;                                              \
        return XXH3_hashLong_128b_internal(input, length, XXH3_kSecret, sizeof XXH3_kSecret,       \
                                           XXH3_accumulate_512_##name, XXH3_scrambleAcc_##name);   \
    }                                                                                              \
    __attribute__((target(feature), noinline)) static void update_##name(                           \
        XXH3_state_t *state, const void *input, size_t length) {                                   \
        XXH3_update(state, (const xxh_u8 *)input, length, XXH3_accumulate_512_##name,               \
                    XXH3_scrambleAcc_##name);                                                      \
    }

BUILDCAT_XXH3_VARIANT(sse2, "sse2")
BUILDCAT_XXH3_VARIANT(avx2, "avx2")
BUILDCAT_XXH3_VARIANT(avx512, "avx512f")

/// The widest variant this processor runs, and the system saves the registers of (the
/// compiler's feature test checks both), decided at the first call.
static enum Variant variant(void) {
    static _Atomic(enum Variant) chosen = unknown;
    enum Variant found = atomic_load_explicit(&chosen, memory_order_relaxed);
    if (found != unknown) return found;
    __builtin_cpu_init();
    found = __builtin_cpu_supports("avx512f") ? avx512 : __builtin_cpu_supports("avx2") ? avx2 : sse2;
    atomic_store_explicit(&chosen, found, memory_order_relaxed);
    return found;
}

static XXH128_hash_t hash128(enum Variant variant, const void *input, size_t length) {
    XXH3_hashLong128_f hashLong;
    switch (variant) {
    case avx512: hashLong = hashLong128_avx512; break;
    case avx2: hashLong = hashLong128_avx2; break;
    default: hashLong = hashLong128_sse2; break;
    }
    return XXH3_128bits_internal(input, length, 0, XXH3_kSecret, sizeof XXH3_kSecret, hashLong);
}

static void update(enum Variant variant, void *state, const void *input, size_t length) {
    if (length == 0) return;
    switch (variant) {
    case avx512: update_avx512(state, input, length); break;
    case avx2: update_avx2(state, input, length); break;
    default: update_sse2(state, input, length); break;
    }
}

buildcat_xxh3_128_hash buildcat_xxh3_128(const void *input, size_t length) {
    XXH128_hash_t hash = hash128(variant(), input, length);
    return (buildcat_xxh3_128_hash){.low = hash.low64, .high = hash.high64};
}

void buildcat_xxh3_128_state_update(void *state, const void *input, size_t length) {
    update(variant(), state, input, length);
}

int buildcat_xxh3_128_checked(const char *name, const void *input, size_t length, size_t piece,
                              buildcat_xxh3_128_hash *whole, buildcat_xxh3_128_hash *streamed) {
    enum Variant forced = strcmp(name, "avx512") == 0 ? avx512 : strcmp(name, "avx2") == 0 ? avx2
                        : strcmp(name, "sse2") == 0 ? sse2 : unknown;
    if (forced == unknown || forced > variant() || piece == 0) return 0;
    XXH128_hash_t hash = hash128(forced, input, length);
    *whole = (buildcat_xxh3_128_hash){.low = hash.low64, .high = hash.high64};
    XXH3_state_t *state = buildcat_xxh3_128_state_create();
    if (state == NULL) return 0;
    for (size_t done = 0; done < length; done += piece) {
        update(forced, state, (const char *)input + done, length - done < piece ? length - done : piece);
    }
    *streamed = buildcat_xxh3_128_state_digest(state);
    XXH3_freeState(state);
    return 1;
}

const char *buildcat_xxh3_variant(void) {
    switch (variant()) {
    case avx512: return "avx512";
    case avx2: return "avx2";
    default: return "sse2";
    }
}

#else

buildcat_xxh3_128_hash buildcat_xxh3_128(const void *input, size_t length) {
    XXH128_hash_t hash = XXH3_128bits(input, length);
    return (buildcat_xxh3_128_hash){.low = hash.low64, .high = hash.high64};
}

void buildcat_xxh3_128_state_update(void *state, const void *input, size_t length) {
    if (length > 0) XXH3_128bits_update(state, input, length);
}

const char *buildcat_xxh3_variant(void) { return XXH_VECTOR == XXH_SCALAR ? "scalar" : "native"; }

int buildcat_xxh3_128_checked(const char *name, const void *input, size_t length, size_t piece,
                              buildcat_xxh3_128_hash *whole, buildcat_xxh3_128_hash *streamed) {
    (void)name; (void)input; (void)length; (void)piece; (void)whole; (void)streamed;
    return 0;
}

#endif

uint64_t buildcat_xxh3_64(const void *input, size_t length, uint64_t seed) {
    // Keys and paths: short inputs, which no variant hashes with vector code (that is for inputs
    // over 240 bytes; a rare longer one goes through the SSE2 code).
    return XXH3_64bits_withSeed(input, length, seed);
}

void *buildcat_xxh3_128_state_create(void) {
    XXH3_state_t *state = XXH3_createState();
    if (state != NULL) XXH3_128bits_reset(state);
    return state;
}

void buildcat_xxh3_128_state_free(void *state) { XXH3_freeState(state); }

void buildcat_xxh3_128_state_reset(void *state) { XXH3_128bits_reset(state); }

buildcat_xxh3_128_hash buildcat_xxh3_128_state_digest(void *state) {
    XXH128_hash_t hash = XXH3_128bits_digest(state);
    return (buildcat_xxh3_128_hash){.low = hash.low64, .high = hash.high64};
}
