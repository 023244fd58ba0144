/* cli_config.c -- resolve a command's settings: defaults, --config, --set. */
#include "cli_config.h"

st_status cli_load_config(const cli_args *a, st_config *cfg)
{
    st_status st = ST_OK;
    cfg_defaults(cfg);
    const char *file = cli_value(a, "config");
    if (file) CHECK(cfg_load_file(cfg, file));
    const char *const *sets;
    int n = cli_list(a, "set", &sets);
    for (int i = 0; i < n; i++) CHECK(cfg_set_assignment(cfg, sets[i]));
    CHECK(cfg_validate(cfg));
out:
    return st;
}
