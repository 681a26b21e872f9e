/*
 * A ctest test that checks config_parse for leaks with memtrace.h's region
 * API: everything allocated between memtrace_region_begin() and
 * memtrace_region_end() and still live at the end is a leak, reported with
 * its stack on standard error.
 *
 * Run under the tracer (CMakeLists.txt sets LD_PRELOAD for it); without the
 * tracer it returns 77, which ctest counts as skipped.
 */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "memtrace.h"

static int failures;

static void expect(int ok, const char *what) {
    if (!ok) {
        fprintf(stderr, "FAILED: %s\n", what);
        failures++;
    }
}

int main(void) {
    if (!memtrace_is_tracing()) {
        fprintf(stderr, "config_test: not running under the memtrace tracer (LD_PRELOAD=libtrace.so): skipped\n");
        return 77;
    }

    memtrace_region_begin();
    struct config *config = config_parse("name=demo\nlevel=1\nlevel=2\nlevel=3\n");
    expect(strcmp(config_get(config, "name"), "demo") == 0, "name is demo");
    expect(strcmp(config_get(config, "level"), "3") == 0, "the last level wins");
    config_free(config);
    long leaked = memtrace_region_end("config_parse");
    expect(leaked == 0, "config_parse leaves nothing behind");

    if (failures == 0) printf("config_test: all checks passed\n");
    return failures == 0 ? 0 : 1;
}
