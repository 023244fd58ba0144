/* cli_config.h -- settings of a command from defaults, --config and --set. */
#ifndef STRATA_CLI_CONFIG_H
#define STRATA_CLI_CONFIG_H

#include "cli.h"
#include "strata/config.h"

/* Defaults, then the --config file, then every --set in order; validated. */
st_status cli_load_config(const cli_args *a, st_config *cfg);

#endif
