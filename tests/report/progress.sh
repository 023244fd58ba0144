#!/bin/sh
# progress.sh -- log.progress under mpirun (stderr is a pipe there): `bar`
# redraws one line with \r, `lines` prints one line per log.interval, and the
# `val` column never shows an earlier stage's value.
. "$top_srcdir/tests/lib.sh"

tiny_config "$T/tiny.ini"
cfg="--config $T/tiny.ini"

# Enough steps for several redraws at the bar's 10 per second.
expect_exit 0 "grow with log.progress=bar under mpirun" -- run 1 -- grow $cfg --set run.name=bar --set log.progress=bar --set grow.steps=150
cr=$(tr -cd '\r' <"$T/err" | wc -c)
tr '\r' '\n' <"$T/err" | grep -q '^stage 3/3 step [0-9]*/150 loss' && ok "the bar shows the last stage after a \\r" || not_ok "no redrawn bar of stage 3"
[ "$cr" -ge 4 ] && ok "bar redraws with \\r through mpirun's pipe ($cr redraws)" || not_ok "bar: $cr carriage returns"
grep -q '^\[ *[0-9.]*s\] stage' "$T/err" && not_ok "bar printed plain progress lines" || ok "bar prints no plain lines"

expect_exit 0 "grow with log.progress=lines, a line every step" -- run 1 -- grow $cfg --set run.name=lines --set log.progress=lines --set log.interval=0
grep '^\[ *[0-9.]*s\] stage [0-9]/3 step' "$T/err" >"$T/lines"
[ "$(wc -l <"$T/lines")" -eq 36 ] && ok "lines: one line per step (interval 0), 3 x 12" ||
    not_ok "lines: $(wc -l <"$T/lines") lines"
[ "$(tr -cd '\r' <"$T/err" | wc -c)" -eq 0 ] && ok "lines: no carriage returns" || not_ok "lines: carriage returns"
# eval.interval = 4: steps 1-3 of a stage have no evaluation of that stage yet.
for k in 2 3; do
    grep -q "stage $k/3 step 1/12 .* val - " "$T/lines" && grep -q "stage $k/3 step 3/12 .* val - " "$T/lines" &&
        grep -q "stage $k/3 step 4/12 .* val [0-9]" "$T/lines" &&
        ok "stage $k: val is '-' until the stage's first evaluation" ||
        { not_ok "stage $k: stale val"; grep "stage $k/3 step [1-4]/" "$T/lines" | sed 's/^/# /'; }
done
expect_exit 0 "lines every 1000 s: one line only (the first)" -- run 1 -- grow $cfg --set run.name=sparse --set log.progress=lines --set log.interval=1000
[ "$(grep -c '^\[ *[0-9.]*s\] stage' "$T/err")" -eq 1 ] && ok "lines respect log.interval" || not_ok "lines ignore log.interval"
expect_exit 2 "log.progress must be auto, bar or lines" -- "$STRATA" grow $cfg --set run.name=x --set log.progress=fancy
expect_grep "log.progress" "$T/err" "the refusal names the key"
finish
