#include "config.h"

#include <stdlib.h>
#include <string.h>

struct entry {
    char *key;
    char *value;
    struct entry *next;
};

struct config {
    struct entry *entries;
};

static char *copy(const char *start, size_t length) {
    char *out = malloc(length + 1);
    memcpy(out, start, length);
    out[length] = '\0';
    return out;
}

static struct entry *find(const struct config *config, const char *key) {
    for (struct entry *e = config->entries; e; e = e->next)
        if (strcmp(e->key, key) == 0) return e;
    return NULL;
}

struct config *config_parse(const char *text) {
    struct config *config = calloc(1, sizeof *config);
    while (*text) {
        const char *end = strchr(text, '\n');
        if (!end) end = text + strlen(text);
        const char *equals = memchr(text, '=', (size_t)(end - text));
        if (equals) {
            char *key = copy(text, (size_t)(equals - text));
            char *value = copy(equals + 1, (size_t)(end - equals - 1));
            struct entry *existing = find(config, key);
            if (existing) {
#ifdef FIX_LEAK
                free(existing->value);
#endif
                existing->value = value; /* the planted leak: the old value is dropped */
                free(key);
            } else {
                struct entry *e = malloc(sizeof *e);
                *e = (struct entry){key, value, config->entries};
                config->entries = e;
            }
        }
        text = *end ? end + 1 : end;
    }
    return config;
}

const char *config_get(const struct config *config, const char *key) {
    const struct entry *e = find(config, key);
    return e ? e->value : NULL;
}

void config_free(struct config *config) {
    struct entry *e = config->entries;
    while (e) {
        struct entry *next = e->next;
        free(e->key);
        free(e->value);
        free(e);
        e = next;
    }
    free(config);
}
