/* A tiny key=value configuration parser: the code under test. */
#ifndef CONFIG_H
#define CONFIG_H

struct config;

/* Parses lines of `key=value`; a later line with the same key replaces the value. */
struct config *config_parse(const char *text);
/* The value of `key`, or NULL. */
const char *config_get(const struct config *config, const char *key);
void config_free(struct config *config);

#endif
