#!/bin/sh
# prepare-space.sh -- the free-space check of `strata prepare` asks for about
# what the dataset will take: its estimate (logged at debug level) is
# 1.0-1.5x the size of the written file, for a small and a larger corpus
# (the larger one spans several 1 MiB chunks), on 1 and 2 ranks; and a
# ~185 KB dataset is written under a 600 KB file size limit (the old
# estimate asked for 1.2 MB).
. "$top_srcdir/tests/lib.sh"

moby="$top_srcdir/tests/data/moby-60k.txt"
i=0
while [ $i -lt 20 ]; do cat "$moby"; i=$((i + 1)); done >"$T/moby20.txt"

# check NAME NP CORPUS SETTINGS...
check() {
    name=$1 np=$2 corpus=$3
    shift 3
    expect_exit 0 "$name on $np rank(s): prepared" -- $MPIRUN -np "$np" "$STRATA" prepare --log-level debug \
        "$@" --output "$T/$name.h5" "$corpus"
    est=$(sed -n 's/.*estimated dataset file size \([0-9][0-9]*\) bytes.*/\1/p' "$T/err" | head -1)
    real=$(stat -c %s "$T/$name.h5" 2>/dev/null || echo 0)
    if [ -n "$est" ] && [ "$real" -gt 0 ] && awk -v e="$est" -v r="$real" 'BEGIN { exit !(e >= r && e <= 1.5 * r) }'; then
        ok "$name on $np rank(s): estimate $est is 1.0-1.5x the file ($real bytes)"
    else
        not_ok "$name on $np rank(s): estimate '${est:-none}' is 1.0-1.5x the file ($real bytes)"
    fi
    rm -f "$T/$name.h5"
}

check small 1 "$moby"
check small-ctx32 1 "$moby" --set data.ctx=32 --set tokenizer.vocab_size=600 --set tokenizer.ngrams=200
check larger 1 "$T/moby20.txt"
check larger 2 "$T/moby20.txt"
check larger-ctx32 2 "$T/moby20.txt" --set data.ctx=32 --set tokenizer.vocab_size=600 --set tokenizer.ngrams=200

# 107 KB of text give a dataset of about 185 KB.  bash's ulimit -f counts
# KiB; the limit applies inside the rank only (mpirun needs its shared memory).
head -c 107000 "$T/moby20.txt" >"$T/c185.txt"
expect_exit 0 "a ~185 KB dataset fits under a 600 KB file size limit" -- $MPIRUN -np 1 bash -c \
    "trap '' XFSZ; ulimit -f 600; exec '$STRATA' prepare --output '$T/c185.h5' '$T/c185.txt'"
size=$(stat -c %s "$T/c185.h5" 2>/dev/null || echo 0)
[ "$size" -gt 150000 ] && [ "$size" -lt 220000 ] && ok "the dataset is between 150 and 220 KB ($size bytes)" \
    || not_ok "the dataset is between 150 and 220 KB ($size bytes)"
finish
