/* fuzz_config.c -- the settings parser on arbitrary bytes.
 *
 * The input is read as INI text (cfg_load_string, as for the /config of a
 * checkpoint from a stranger) and, separately, as one --set assignment.
 * Never a crash; the status is ST_OK or ST_EUSAGE; and when a load
 * succeeds the result must be a config strata could have produced itself:
 * every value passes the table's own checks again, cfg_validate answers
 * OK or EUSAGE, and the dump reads back as the same config.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "strata/config.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_init(argc, argv);
    return 0;
}

static void check_result(const st_config *c)
{
    /* Every value re-parses from its own text, within range. */
    st_config again;
    cfg_defaults(&again);
    for (size_t i = 0; i < cfg_nkeys; i++) {
        const cfg_key *k = &cfg_keys[i];
        char val[CFG_STR_MAX + 64];
        cfg_format_value(c, k, val, sizeof val);
        st_status st = cfg_set_value(&again, k->section, k->name, val, "fuzz");
        FUZZ_ASSERT(st == ST_OK, "%s.%s = '%s' was accepted but does not re-parse", k->section, k->name, val);
    }
    st_status st = cfg_validate(c);
    FUZZ_ASSERT(st == ST_OK || st == ST_EUSAGE, "cfg_validate returned %d", (int)st);
    /* The dump reads back unchanged. */
    char *text = cfg_dump(c);
    FUZZ_ASSERT(text != NULL, "cfg_dump returned NULL");
    st_config back;
    cfg_defaults(&back);
    st = cfg_load_string(&back, text, "dump");
    FUZZ_ASSERT(st == ST_OK, "the dump of an accepted config does not read back");
    char diff[512];
    FUZZ_ASSERT(cfg_diff(c, &back, false, diff, sizeof diff) == 0, "the dump reads back different: %s", diff);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A C string: text up to the first NUL (files with NULs are refused by
     * cfg_load_file; the string form stops there by definition). */
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = '\0';

    st_config c;
    cfg_defaults(&c);
    st_status st = cfg_load_string(&c, text, "fuzz.ini");
    FUZZ_ASSERT(st == ST_OK || st == ST_EUSAGE, "cfg_load_string returned %d", (int)st);
    if (st == ST_OK) check_result(&c);

    cfg_defaults(&c);
    st = cfg_set_assignment(&c, text);
    FUZZ_ASSERT(st == ST_OK || st == ST_EUSAGE, "cfg_set_assignment returned %d", (int)st);
    if (st == ST_OK) check_result(&c);
    free(text);
    return 0;
}
