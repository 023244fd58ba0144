#!/bin/sh
# arch.sh -- the layers of docs/ARCHITECTURE.md hold: every #include
# "strata/X.h" in a folder's sources and in the public headers it owns points
# at the folder itself or at one it may use (the table below, the same as the
# doc's).  A header belongs to the folder whose local.mk lists it.  Also: no
# file under src/io includes a header above io, and grow_run stays private.
. "$top_srcdir/tests/lib.sh"
cd "$top_srcdir" || exit 1

may_use() { # may_use FOLDER: the folders FOLDER may include from
    case $1 in
    util) echo "" ;;
    config | io | dist | nn) echo "util" ;;
    text) echo "util config io" ;;
    data) echo "util io text" ;;
    substrate) echo "util config io text" ;;
    store) echo "util config io dist nn text" ;;
    eval) echo "util dist nn text data store" ;;
    grow) echo "util config io dist nn text data substrate store eval" ;;
    cli) echo "util config io dist nn text data substrate store eval grow" ;;
    *) echo "UNKNOWN" ;;
    esac
}

# header -> owning folder, from the local.mk fragments
grep -o 'include/strata/[a-z_0-9]*\.h' src/*/local.mk | sed 's|^src/\([a-z]*\)/local.mk:include/strata/\(.*\)\.h$|\2 \1|' |
    sort -u >"$T/owners"
owner() { awk -v h="$1" '$1 == h { print $2; exit }' "$T/owners"; }

n_checked=0
bad=0
check_file() { # check_file FILE FOLDER
    for h in $(sed -n 's/^#include "strata\/\([a-z_0-9]*\)\.h".*/\1/p' "$1"); do
        g=$(owner "$h")
        n_checked=$((n_checked + 1))
        if [ -z "$g" ]; then
            echo "# $1: strata/$h.h is listed in no local.mk"
            bad=1
            continue
        fi
        [ "$g" = "$2" ] && continue
        case " $(may_use "$2") " in
        *" $g "*) ;;
        *) echo "# $1 ($2) includes strata/$h.h of $g, which $2 may not use"; bad=1 ;;
        esac
    done
}
for d in src/*/; do
    f=$(basename "$d")
    [ "$(may_use "$f")" = UNKNOWN ] && { echo "# folder $f is not in the layer table"; bad=1; continue; }
    for file in "$d"*.c "$d"*.h; do [ -f "$file" ] && check_file "$file" "$f"; done
done
while read -r h f; do check_file "include/strata/$h.h" "$f"; done <"$T/owners"
[ "$bad" -eq 0 ] && ok "every include points down the layer table ($n_checked includes)" || not_ok "an include points up or sideways"

ls include/strata/*.h | while read -r h; do
    grep -q "$(basename "$h")" src/*/local.mk || echo "# $h"
done >"$T/orphans"
[ ! -s "$T/orphans" ] && ok "every public header belongs to one folder" || { not_ok "headers without a folder"; cat "$T/orphans"; }

grep -l "grow_run" include/strata/*.h >"$T/leak" 2>/dev/null
[ ! -s "$T/leak" ] && ok "grow_run is private to src/grow" || { not_ok "grow_run in a public header"; sed 's/^/# /' "$T/leak"; }

grep -ln '#include *<hdf5\.h>\|hid_t' include/strata/tokenizer.h include/strata/corpus.h include/strata/substrate.h >"$T/hid" 2>/dev/null
[ ! -s "$T/hid" ] && ok "text and substrate headers take strata types, not hid_t" || { not_ok "hid_t in a public header"; sed 's/^/# /' "$T/hid"; }

# cmocka's skip() reports "not ok # SKIP", an Automake FAIL: tests use ST_SKIP.
grep -n '[^_A-Za-z]skip()' tests/*/*.c >"$T/skips" 2>/dev/null
[ ! -s "$T/skips" ] && ok "no C test calls cmocka's skip() (ST_SKIP in tests/harness.h)" || { not_ok "cmocka skip() in a test"; sed 's/^/# /' "$T/skips"; }

# The table itself: a planted upward include is caught (the check can fail).
printf '#include "strata/grow.h"\n' >"$T/planted.c"
bad=0
check_file "$T/planted.c" io >/dev/null
[ "$bad" -eq 1 ] && ok "a planted io -> grow include is refused" || not_ok "the check accepts io -> grow"

finish
