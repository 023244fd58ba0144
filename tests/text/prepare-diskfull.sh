#!/bin/sh
# prepare-diskfull.sh -- `strata prepare` when the disk fills up (simulated by
# a file size limit) on 1 and 3 ranks: exit 1, a message naming the output,
# no output and no temporary file left.
. "$top_srcdir/tests/lib.sh"

mkdir -p "$T/in"
awk 'BEGIN { for (i = 0; i < 3000; i++) printf "line %d: the theory of there and then, Ωmega 日本語のテキスト x%d\n", i, i % 37 }' >"$T/in/a.txt"
SET="--set data.ctx=32 --set tokenizer.vocab_size=600 --set tokenizer.ngrams=200"

# Disk full: a file size limit makes writes fail with EFBIG (SIGXFSZ ignored).
# The limit is set inside the ranks only: mpirun itself needs its shared memory.
# It also stops the ranks' shared-memory transport (vader's ftruncate fails
# with EFBIG), so they talk over loopback TCP.
for np in 1 3; do
    expect_exit 1 "disk full on $np rank(s) exits 1" -- env OMPI_MCA_btl=self,tcp $MPIRUN -np $np sh -c \
        "trap '' XFSZ; ulimit -f 40; exec '$STRATA' prepare $SET --output '$T/full.h5' '$T/in'"
    expect_grep "writing '$T/full.h5' failed" "$T/err" "disk full on $np rank(s): the message names the output"
    left=$(ls "$T" | grep -c '^full\.h5')
    [ "$left" -eq 0 ] && ok "disk full on $np rank(s): no output or temporary file left" \
        || not_ok "disk full on $np rank(s): no output or temporary file left ($left left)"
done
finish
