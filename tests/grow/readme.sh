#!/bin/sh
# readme.sh -- the README's walk-through "Grow an existing model deeper",
# run as a doc test: every `strata` command of that section, in order, in a
# scratch copy of the tree's layout (jobs/, tests/data/), with fewer steps
# per stage (grow.steps=STEPS appended to each `strata grow`) so it takes
# seconds; then the outcomes the section promises.
. "$top_srcdir/tests/lib.sh"

STEPS=${README_STEPS:-30}
H5DUMP=${H5DUMP:-h5dump}
# The section: from its title to the next underlined title (or the end).
awk '{ l[NR] = $0 } END {
         for (i = 1; i < NR; i++) if (l[i] == "Grow an existing model deeper" && l[i + 1] ~ /^-+$/) break
         for (j = i + 2; j <= NR; j++) { if (j < NR && l[j] != "" && l[j + 1] ~ /^-+$/) break; print l[j] } }' \
    "$top_srcdir/README" >"$T/section"
grep '^    strata ' "$T/section" | sed 's/^    //; s/ *#.*$//' >"$T/cmds"
n=$(wc -l <"$T/cmds")
[ "$n" -ge 5 ] && ok "the README section has $n strata commands" || { not_ok "only $n commands in the section"; finish; }
grep -q -- '--from' "$T/cmds" && grep -q 'n_layers' "$T/cmds" && ok "it grows deeper and branches" ||
    not_ok "the section lacks --from or model.n_layers"

top=$(cd "$top_srcdir" && pwd)
real=$(command -v "$STRATA")
case $real in /*) ;; *) real=$PWD/$real ;; esac
mkdir -p "$T/tree/tests"
ln -s "$top/jobs" "$T/tree/jobs"
ln -s "$top/tests/data" "$T/tree/tests/data"
strata() {
    if [ "$1" = grow ]; then timeout 120 "$real" "$@" --set grow.steps="$STEPS" --set eval.interval=10
    else "$real" "$@"; fi
}
cd "$T/tree" || exit 1
i=0
while IFS= read -r c; do
    i=$((i + 1))
    eval "$c" >"$T/out.$i" 2>"$T/err.$i"
    rc=$?
    [ $rc -eq 0 ] && ok "README command $i: $c" || { not_ok "README command $i (exit $rc): $c"; sed 's/^/# /' "$T/err.$i" | tail -5; }
done <"$T/cmds"

[ "$(cat checkpoints/smoke/LATEST 2>/dev/null)" = stage-005.h5 ] && ok "the run grew to 5 blocks" ||
    not_ok "checkpoints/smoke/LATEST is '$(cat checkpoints/smoke/LATEST 2>/dev/null)'"
sum=$(sha256sum checkpoints/smoke/stage-002.h5 | cut -d' ' -f1)
cat "$T"/out.* | grep -q "sha256 $sum" && ok "inspect shows the parent's SHA-256" || not_ok "no 'sha256 $sum' in inspect"
"$real" inspect --sha256 checkpoints/smoke/stage-002.h5 | grep 'block_00[12]' >"$T/p.sha"
[ -s "$T/p.sha" ] && "$real" inspect --sha256 checkpoints/smoke-b/stage-003.h5 | grep 'block_00[12]' | cmp -s - "$T/p.sha" &&
    ok "the branch keeps the parent's blocks 1-2 bit for bit" || not_ok "the branch's blocks 1-2 differ"
finish
