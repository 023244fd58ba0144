#!/bin/sh
# text-bench.sh [FILE] -- tokenizer encode throughput against `wc -m` on the
# same file (default: a 10 MB file made by bench/text-mkcorpus.sh).
# Run from the build directory after `make bench-text`:
#   sh $top_srcdir/bench/text-bench.sh [FILE]
# Prints both speeds and their ratio (target >= 0.3), best of 5 runs each.
# Also times `strata prepare` of the file on 1 and 2 ranks.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${top_builddir:-.}
file=${1:-}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/strata-textbench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
if [ -z "$file" ]; then
    file="$tmp/corpus.txt"
    sh "$here/text-mkcorpus.sh" "$file" 10
fi
bytes=$(wc -c <"$file")

# wc -m needs a UTF-8 locale to count characters (in C it counts bytes).
loc=C.UTF-8
best_wc=
for i in 1 2 3 4 5; do
    s=$(date +%s.%N)
    LC_ALL=$loc wc -m "$file" >"$tmp/wc.out"
    e=$(date +%s.%N)
    best_wc=$(awk -v s="$s" -v e="$e" -v b="$best_wc" 'BEGIN { t = e - s; print (b == "" || t < b) ? t : b }')
done
chars=$(awk '{print $1}' "$tmp/wc.out")
wc_mbps=$(awk -v n="$bytes" -v t="$best_wc" 'BEGIN { print n / t / 1e6 }')

"$build/bench/text-encode" "$file" compact 4096 1024 4 5 >"$tmp/enc.out"
"$build/bench/text-encode" "$file" bmp 65536 4096 4 5 >"$tmp/bmp.out"
get() { awk -v k="$2" '$1 == k {print $2}' "$1"; }

printf 'file            %s (%s bytes, %s characters by wc -m)\n' "$file" "$bytes" "$chars"
printf 'tokenizer chars %s (must equal wc -m for valid UTF-8)\n' "$(get "$tmp/enc.out" chars)"
printf 'wc -m           %.1f MB/s (best of 5, LC_ALL=%s)\n' "$wc_mbps" "$loc"
for m in enc bmp; do
    f="$tmp/$m.out"
    r=$(awk -v a="$(get "$f" encode_MBps)" -v b="$wc_mbps" 'BEGIN { print a / b }')
    printf 'encode %-7s  %.1f MB/s, ratio to wc -m %.2f (vocab %s, %s n-grams, %s chars/token, count %ss, learn %ss, lossless %s)\n' \
        "$(get "$f" mode)" "$(get "$f" encode_MBps)" "$r" "$(get "$f" vocab)" "$(get "$f" ngrams)" \
        "$(get "$f" chars_per_token)" "$(get "$f" count_s)" "$(get "$f" learn_s)" "$(get "$f" lossless)"
done

if [ -x "$build/strata" ] && command -v mpirun >/dev/null 2>&1; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
    for np in 1 2; do
        s=$(date +%s.%N)
        mpirun -np $np "$build/strata" prepare --log-level warn --output "$tmp/ds$np.h5" "$file"
        e=$(date +%s.%N)
        printf 'prepare -np %d   %.2f s (wall, including MPI start-up)\n' "$np" "$(awk -v s="$s" -v e="$e" 'BEGIN { print e - s }')"
    done
fi
