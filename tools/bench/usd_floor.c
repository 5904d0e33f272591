// The floor under tools/bench/usd: the least work any scan of its generated stage must do, in
// plain C with nothing kept but the output. Every layer is opened, read and searched for @paths@;
// each path is joined to the stage's folders (the generator's two shapes only) and stat'ed for
// its size; a JSON entry as long as `buildcat scan --json`'s is written for it. No reference
// records, no resolver rules, no error handling: a bound, not a scanner.
//
// Usage: usd_floor STAGE_DIR [THREADS]
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { layerCount = 2000 };
static const char *stage;
static char *output;
static atomic_long outputLength;
static atomic_int nextLayer;

static void *scanLayers(void *unused) {
    (void)unused;
    static __thread char layer[1 << 16], entries[1 << 15];
    char path[1024], joined[1024];
    struct stat status;
    for (;;) {
        int index = atomic_fetch_add(&nextLayer, 1);
        if (index > layerCount) break;
        if (index == layerCount) snprintf(path, sizeof path, "%s/root.usda", stage);
        else snprintf(path, sizeof path, "%s/layers/layer_%04d.usda", stage, index);
        int descriptor = open(path, O_RDONLY | O_CLOEXEC);
        if (descriptor < 0 || fstat(descriptor, &status) != 0) { perror(path); exit(1); }
        long length = read(descriptor, layer, sizeof layer);
        close(descriptor);
        long written = 0;
        for (long at = 0; at < length; at++) {
            if (layer[at] != '@') continue;
            long end = at + 1;
            while (end < length && layer[end] != '@') end++;
            const char *raw = layer + at + 1;
            int rawLength = (int)(end - at - 1);
            // `../textures/x.png` from a layer, `./layers/x.usda` from the root, `./x.usda` beside.
            if (rawLength > 3 && raw[0] == '.' && raw[1] == '.') snprintf(joined, sizeof joined, "%s/%.*s", stage, rawLength - 3, raw + 3);
            else if (index == layerCount) snprintf(joined, sizeof joined, "%s/%.*s", stage, rawLength - 2, raw + 2);
            else snprintf(joined, sizeof joined, "%s/layers/%.*s", stage, rawLength - 2, raw + 2);
            long size = stat(joined, &status) == 0 ? (long)status.st_size : -1;
            written += snprintf(entries + written, sizeof entries - written,
                                "{\"path\":\"%s\",\"size\":%ld,\"kind\":\"asset\",\"raw\":\"%.*s\",\"scene\":\"%s\",\"block\":\"line %ld\",\"field\":\"inputs:file\"},",
                                joined, size, rawLength, raw, path, at);
            at = end;
        }
        memcpy(output + atomic_fetch_add(&outputLength, written), entries, written);
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: usd_floor STAGE_DIR [THREADS]\n"); return 64; }
    stage = argv[1];
    int threads = argc > 2 ? atoi(argv[2]) : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (threads < 1 || threads > 64) threads = 1;
    output = malloc(64 << 20);
    pthread_t workers[64];
    for (int i = 0; i < threads; i++) pthread_create(&workers[i], NULL, scanLayers, NULL);
    for (int i = 0; i < threads; i++) pthread_join(workers[i], NULL);
    fwrite(output, 1, (size_t)outputLength, stdout);
    return 0;
}
