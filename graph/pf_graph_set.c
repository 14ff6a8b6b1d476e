#include "pf_graph_set.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Copy a parsed scalar, array or list value into dst (a fresh setting of the same type). */
static int copy_value(config_setting_t *dst, const config_setting_t *src)
{
    switch (config_setting_type(src)) {
    case CONFIG_TYPE_INT: return config_setting_set_int(dst, config_setting_get_int(src)) == CONFIG_TRUE;
    case CONFIG_TYPE_INT64: return config_setting_set_int64(dst, config_setting_get_int64(src)) == CONFIG_TRUE;
    case CONFIG_TYPE_FLOAT: return config_setting_set_float(dst, config_setting_get_float(src)) == CONFIG_TRUE;
    case CONFIG_TYPE_BOOL: return config_setting_set_bool(dst, config_setting_get_bool(src)) == CONFIG_TRUE;
    case CONFIG_TYPE_STRING: return config_setting_set_string(dst, config_setting_get_string(src)) == CONFIG_TRUE;
    case CONFIG_TYPE_ARRAY:
    case CONFIG_TYPE_LIST:
        for (int i = 0; i < config_setting_length(src); i++) {
            const config_setting_t *e = config_setting_get_elem(src, (unsigned)i);
            config_setting_t *d = config_setting_add(dst, NULL, config_setting_type(e));
            if (!d || !copy_value(d, e)) return 0;
        }
        return 1;
    default: return 0; /* groups are not parameter values */
    }
}

static config_setting_t *find_node(config_t *cfg, const char *name)
{
    config_setting_t *nodes = config_lookup(cfg, "nodes");
    for (int i = 0; nodes && i < config_setting_length(nodes); i++) {
        config_setting_t *n = config_setting_get_elem(nodes, (unsigned)i);
        const char *nm = NULL;
        if (config_setting_is_group(n) && config_setting_lookup_string(n, "name", &nm) && !strcmp(nm, name)) return n;
    }
    return NULL;
}

int pf_graph_apply_sets(config_t *cfg, const char *path, const char *const *set, int n, pf_diag *dg)
{
    int bad = 0;
    for (int i = 0; i < n; i++) {
        const char *o = set[i], *eq = strchr(o, '=');
        char lhs[256];
        if (!eq || eq == o || (size_t)(eq - o) >= sizeof lhs) {
            pf_diag_add(dg, "--set %s: expected NODE.PARAM=VALUE or KEY=VALUE", o);
            bad++;
            continue;
        }
        memcpy(lhs, o, (size_t)(eq - o));
        lhs[eq - o] = 0;
        char *dot = strchr(lhs, '.'), *key = dot ? dot + 1 : lhs;
        if (dot) *dot = 0;
        if (!*key || !strcmp(key, "name") || !strcmp(key, "kind") || (!dot && (!strcmp(key, "nodes") || !strcmp(key, "edges")))) {
            pf_diag_add(dg, "--set %s: '%s' cannot be overridden", o, *key ? key : "(empty)");
            bad++;
            continue;
        }
        config_setting_t *group = dot ? find_node(cfg, lhs) : config_root_setting(cfg);
        if (!group) {
            pf_diag_add(dg, "--set %s: %s has no node named '%s'", o, path, lhs);
            bad++;
            continue;
        }
        /* the value, parsed by libconfig as if written in the file */
        size_t len = strlen(eq + 1) + 16;
        char *text = malloc(len);
        config_t tmp;
        config_init(&tmp);
        snprintf(text, len, "v = %s;", eq + 1);
        config_setting_t *v = NULL;
        if (config_read_string(&tmp, text) == CONFIG_TRUE) v = config_lookup(&tmp, "v");
        if (!v || config_setting_is_group(v)) {
            pf_diag_add(dg, "--set %s: '%s' is not a value as the config file writes them (\"text\", 12, 0.5, true, [\"a\", \"b\"])%s%s",
                        o, eq + 1, v ? "" : ": ", v ? "" : config_error_text(&tmp));
            bad++;
        } else {
            config_setting_remove(group, key);
            config_setting_t *d = config_setting_add(group, key, config_setting_type(v));
            if (!d || !copy_value(d, v)) {
                pf_diag_add(dg, "--set %s: cannot set '%s' (not a valid setting name?)", o, key);
                bad++;
            }
        }
        config_destroy(&tmp);
        free(text);
    }
    return bad;
}
