// libFuzzer target for the USD text lexer in C alone (tools/fuzz/run-usda-lexer), with
// AddressSanitizer and UndefinedBehaviorSanitizer over the C itself: tools/fuzz/run instruments
// the Swift code, not the C targets it links.
#include "CBuildcatBytes.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    // An exact-size copy: any read past the layer is a heap overflow ASan reports.
    uint8_t *copy = malloc(size ? size : 1);
    memcpy(copy, data, size);
    buildcat_usda_lexed lexed;
    buildcat_usda_asset_paths(copy, size, &lexed);
    for (size_t i = 0; i < lexed.count; i++) {
        if (lexed.paths[i].start > lexed.paths[i].end || lexed.paths[i].end > size || lexed.paths[i].key_end > size) abort();
    }
    buildcat_usda_free(&lexed);
    free(copy);
    return 0;
}
