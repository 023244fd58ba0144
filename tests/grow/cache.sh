#!/bin/sh
# cache.sh -- the sharded activation cache (cache.h) and the sharded data
# order (order.h) on runs whose stages visit a small part of the corpus:
# - cache memory, disk and off end bitwise equal on 2 ranks;
# - each rank caches only its share: rank 0 of 2 holds about half the chunks
#   of a 1-rank run, and every stage from 2 on brings exactly the chunks its
#   planned steps and those of the later stages read (and the evaluated
#   validation rows) to its depth, once, before its first step;
# - the trajectory stays that of 1 rank (within 1e-4) on 2 and 3 ranks, and
#   a resume mid-stage (its cache starts empty) ends bitwise equal;
# - grow.cache_dtype = bfloat16 trains to within 1e-3 of float32 without
#   being float32;
# - a cache that does not fit (memory or scratch disk, test hooks) is
#   refused up front with exit 2, naming the settings that help, and leaves
#   no checkpoint behind.
. "$top_srcdir/tests/lib.sh"

tiny_config "$T/tiny.ini"
cfg="--config $T/tiny.ini"
loss() { col "$1" train_loss; }
# entries DEPTH FILE: "BROUGHT CACHED" of the "brought to depth DEPTH" line
entries() { sed -n "s/.*activation cache: \([0-9]*\) of \([0-9]*\) entries brought to depth $1 .*/\1 \2/p" "$2" | head -1; }
chunks() { sed -n 's/.*activation cache: \([0-9]*\) chunks on this rank.*/\1/p' "$1" | head -1; }
# close A B: the files hold the same number of values, all within 1e-4 relative
close() {
    paste -d' ' "$1" "$2" | awk '
        function rel(a, b) { d = a - b; if (d < 0) d = -d; return d / (b < 0 ? -b : b) }
        NF != 2 { bad = 1 } { if (rel($1, $2) > m) m = rel($1, $2); n++ }
        END { printf "# %d values, max relative difference %.2g\n", n, m; exit !(n > 0 && !bad && m < 1e-4) }'
}

expect_exit 0 "1 rank, cache in memory" -- run 1 -- grow $cfg --set run.name=one
cp "$T/err" "$T/one.err"
expect_exit 0 "2 ranks, cache in memory" -- run 2 -- grow $cfg --set run.name=mem
cp "$T/err" "$T/mem.err"
expect_exit 0 "2 ranks, cache off" -- run 2 -- grow $cfg --set run.name=off --set grow.cache=off
expect_exit 0 "2 ranks, cache on disk" -- run 2 -- grow $cfg --set run.name=disk --set grow.cache=disk \
    --set grow.cache_dir="$T"
sha "$T/ck/mem/stage-003.h5" >"$T/mem.sha"
loss "$T/ck/mem/stage-003.h5" >"$T/mem.loss"
for other in off disk; do
    sha "$T/ck/$other/stage-003.h5" >"$T/$other.sha"
    loss "$T/ck/$other/stage-003.h5" >"$T/$other.loss"
    if [ -s "$T/mem.sha" ] && cmp -s "$T/mem.sha" "$T/$other.sha" && [ -s "$T/mem.loss" ] &&
        cmp -s "$T/mem.loss" "$T/$other.loss"; then
        ok "cache memory and $other: every tensor and loss bitwise equal"
    else
        not_ok "cache memory and $other differ"
    fi
done

# Sharding: what rank 0 holds, and what all ranks bring forward per stage.
one=$(chunks "$T/one.err")
two=$(chunks "$T/mem.err")
echo "# chunks cached: 1 rank $one, rank 0 of 2 $two"
[ -n "$one" ] && [ -n "$two" ] && [ "$two" -le $((one * 55 / 100)) ] && [ "$two" -ge $((one * 45 / 100)) ] &&
    ok "rank 0 of 2 caches about half the chunks of 1 rank ($two of $one)" || not_ok "the cache is not sharded ($two of $one)"
# The stage starting at depth d + 1 brings forward what the planned steps
# of stages d + 1 .. 3 read (12 steps x 6 chunks each, no chunk twice: the
# shards are longer than that) plus the 12 evaluated validation chunks,
# and nothing else, on 1 rank and summed over 2 alike.
for d in 1 2; do
    want=$(((3 - d) * 12 * 6 + 12))
    a=$(entries $d "$T/one.err")
    b=$(entries $d "$T/mem.err")
    [ "$a" = "$want $one" ] && [ "${b%% *}" = "$want" ] &&
        ok "depth $d: the $want chunks the planned steps read brought forward, of $one cached (1 and 2 ranks alike)" ||
        not_ok "depth $d: brought forward '$a' (1 rank) and '$b' (2 ranks), wanted $want of $one"
    n=$(grep -c "entries brought to depth $d " "$T/mem.err")
    [ "$n" -eq 1 ] && ok "depth $d: brought forward in one pass" || not_ok "depth $d: $n passes"
done

# The trajectory is the batch's, not the rank count's.
loss "$T/ck/one/stage-003.h5" >"$T/one.loss"
close "$T/mem.loss" "$T/one.loss" && ok "2 ranks train the losses of 1 rank (within 1e-4)" ||
    not_ok "2 ranks stray from 1 rank"
expect_exit 0 "3 ranks, cache in memory" -- run 3 -- grow $cfg --set run.name=three
loss "$T/ck/three/stage-003.h5" >"$T/three.loss"
close "$T/three.loss" "$T/one.loss" && ok "3 ranks train the losses of 1 rank (within 1e-4)" ||
    not_ok "3 ranks stray from 1 rank"

# A resume in stage 2: the new session's cache starts empty and fills from the tokens.
STRATA_TEST_STOP_AT_STEP=17 run 2 -- grow $cfg --set run.name=resume >/dev/null 2>"$T/err"
[ $? -eq 75 ] && ok "stopped at step 17 (stage 2)" || not_ok "no stop at step 17"
expect_exit 0 "resumed on 2 ranks" -- run 2 -- grow $cfg --set run.name=resume
sha "$T/ck/resume/stage-003.h5" | cmp -s - "$T/mem.sha" && ok "the resumed run ends bitwise equal" ||
    not_ok "the resumed run differs"

# bfloat16 entries: close to float32, and really rounded.
expect_exit 0 "2 ranks, cache_dtype = bfloat16" -- run 2 -- grow $cfg --set run.name=bf16 --set grow.cache_dtype=bfloat16
dcol "$T/ck/mem/stage-003.h5" val_loss | tail -1 >"$T/v32"
dcol "$T/ck/bf16/stage-003.h5" val_loss | tail -1 >"$T/v16"
paste -d' ' "$T/v16" "$T/v32" | awk '{ d = $1 - $2; if (d < 0) d = -d; r = d / $2; printf "# depth-3 val loss bf16 %s fp32 %s (relative %.2g)\n", $1, $2, r; exit !(NF == 2 && r < 1e-3 && r > 0) }' &&
    ok "bfloat16 cache: depth-3 validation loss within 1e-3 of float32 (and not equal)" ||
    not_ok "bfloat16 cache: validation loss off"

# Budgets, checked up front.  Rank 0 of 1 needs $one chunks x 16 x 32 x 4 bytes.
need=$((one * 16 * 32 * 4))
STRATA_TEST_MEM_AVAILABLE=$need expect_exit 2 "a cache beyond 80% of MemAvailable is refused (exit 2)" -- \
    run 1 -- grow $cfg --set run.name=nomem
for want in "grow.cache = disk" "grow.cache_dtype = bfloat16" "more ranks" "grow.cache = off" "GiB"; do
    expect_grep "$want" "$T/err" "the refusal names '$want'"
done
ls "$T/ck/nomem/"*.h5 >/dev/null 2>&1 && not_ok "a refused run left a checkpoint" || ok "a refused run leaves no checkpoint"
# bfloat16 halves it: now it fits (0.8 x 0.75 x need > need / 2)
STRATA_TEST_MEM_AVAILABLE=$((need * 3 / 4)) expect_exit 0 "the same room holds the bfloat16 cache" -- \
    run 1 -- grow $cfg --set run.name=fits --set grow.cache_dtype=bfloat16 --set grow.until_stage=2
STRATA_TEST_DISK_AVAILABLE=$((need / 2)) expect_exit 2 "a scratch disk too small is refused (exit 2)" -- \
    run 1 -- grow $cfg --set run.name=nodisk --set grow.cache=disk --set grow.cache_dir="$T"
expect_grep "grow.cache_dir" "$T/err" "the disk refusal names grow.cache_dir"
STRATA_TEST_MEM_AVAILABLE=1 expect_exit 0 "no budget applies with grow.cache = off" -- \
    run 1 -- grow $cfg --set run.name=offbudget --set grow.cache=off --set grow.until_stage=2
finish
