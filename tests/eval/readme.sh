#!/bin/sh
# readme.sh -- the README walk-through "Two specialists, one tokenizer,
# merged" runs as written: its commands are taken from the README's code
# block, run in a scratch copy of the source layout, and the claims of the
# text are checked on its output (the posterior ensemble within 0.05
# bits/char of the best member on each language; the mean of logits
# further away).  SKIP without the Russian fortunes (tools/deps.sh fortunes-ru).
. "$top_srcdir/tests/lib.sh"

if [ ! -d /usr/share/games/fortunes/ru ]; then
    echo "1..0 # SKIP fortunes-ru is not installed (bash tools/deps.sh fortunes-ru)"
    exit 0
fi
# the indented block after the section title, up to the next prose line
awk '/^Two specialists, one tokenizer, merged$/ { on = 1; next }
     on && /^    / { code = 1; print substr($0, 5); next }
     on && code && NF { exit }' "$top_srcdir/README" >"$T/walk.sh"
[ "$(grep -c '^strata \|^    strata ' "$T/walk.sh")" -ge 8 ] && ok "the README section has its commands" ||
    not_ok "no walk-through found in README ($(wc -l <"$T/walk.sh") lines)"
mkdir -p "$T/src/tests"
ln -s "$top_srcdir/tests/data" "$T/src/tests/data"
bindir=$(cd "$(dirname "$STRATA")" && pwd)
(cd "$T/src" && PATH="$bindir:$PATH" OPENBLAS_NUM_THREADS=1 timeout 300 sh -e "$T/walk.sh") >"$T/out" 2>"$T/err"
rc=$?
[ "$rc" -eq 0 ] && ok "the walk-through runs as written" || {
    not_ok "the walk-through failed (exit $rc)"
    sed 's/^/# /' "$T/err" | tail -20
}
# the three evaluations: ru posterior, en posterior, en mean-logits; the
# final depth's ensemble line says "+X bits/char vs the best member"
grep ' 2 ensemble ' "$T/out" | sed 's/.* \([-+][0-9.]*\) bits\/char vs the best member.*/\1/' >"$T/gaps"
sed 's/^/# gap to the best member: /' "$T/gaps"
[ "$(wc -l <"$T/gaps")" -eq 3 ] && ok "three ensemble tables" || not_ok "expected 3 ensemble tables"
ru=$(sed -n 1p "$T/gaps") en=$(sed -n 2p "$T/gaps") ml=$(sed -n 3p "$T/gaps")
awk -v g="$ru" 'BEGIN { exit !(g != "" && g <= 0.05) }' && ok "posterior within 0.05 bits/char of the Russian expert" ||
    not_ok "posterior is $ru bits/char from the Russian expert"
awk -v g="$en" 'BEGIN { exit !(g != "" && g <= 0.05) }' && ok "posterior within 0.05 bits/char of the English expert" ||
    not_ok "posterior is $en bits/char from the English expert"
awk -v g="$ml" -v p="$en" 'BEGIN { exit !(g != "" && g > p + 0.1) }' && ok "the mean of logits is further from the expert" ||
    not_ok "mean-logits ($ml) is not worse than posterior ($en)"
expect_grep "combine = mean-logits" "$T/out" "the last table is the mean of logits"
finish
