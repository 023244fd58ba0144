#!/bin/sh
# ensemble.sh -- composition that helps (issue 10, item 4): two specialists,
# English (Moby-Dick) and Russian (Debian fortunes-ru), grown on ONE shared
# tokenizer and ONE glyph substrate, merged three ways (mean-logits,
# mean-probs, posterior; docs/MODEL.md "Ensembles") and evaluated with each
# member alone on held-out English, held-out Russian and a text that
# alternates between the two languages paragraph by paragraph.
#
# Target: posterior within 0.05 bits/char of the best member on each
# language, and better than both members on the alternating text.
#
# Usage: bench/ensemble.sh (from a build dir via `make bench`, or with
# top_builddir/top_srcdir set).  Needs fortunes-ru (bash tools/deps.sh
# fortunes-ru).  BENCH_STEPS (steps per stage, default 300), BENCH_DIM (64),
# BENCH_NP (MPI ranks, 2) and BENCH_KEEP=DIR (keep the work directory) size it.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
STRATA=${STRATA:-$top_builddir/strata}
STEPS=${BENCH_STEPS:-300}
DIM=${BENCH_DIM:-64}
NP=${BENCH_NP:-2}
if [ -n "${BENCH_KEEP:-}" ]; then
    W=$BENCH_KEEP
    mkdir -p "$W"
else
    W=$(mktemp -d "${TMPDIR:-/tmp}/strata-bench.XXXXXX")
    trap 'rm -rf "$W"' EXIT
fi
RU=/usr/share/games/fortunes/ru
if [ ! -d "$RU" ]; then
    echo "ensemble.sh: needs the Russian fortunes: bash tools/deps.sh fortunes-ru" >&2
    exit 77
fi
EN=/work/ref/moby-dick.txt
[ -s "$EN" ] || EN=$top_srcdir/data/moby-dick.txt
[ -s "$EN" ] || EN=$top_srcdir/tests/data/moby-60k.txt
t0=$(date +%s)

# ---- corpora: train on the head, test on the tail; paragraphs alternate ---
# English: the first 85 % of the lines train, the last 10 % test.
n=$(wc -l <"$EN")
head -n $((n * 85 / 100)) "$EN" >"$W/en-train.txt"
tail -n $((n / 10)) "$EN" >"$W/en-test.txt"
# Russian: the fortune files (not the .dat indexes or .u8 links), '%'
# separators become blank lines; the same share of lines train / test.
for f in $(ls "$RU" | sort); do
    case $f in *.dat | *.u8) continue ;; esac
    [ -f "$RU/$f" ] && [ ! -L "$RU/$f" ] && sed 's/^%$//' "$RU/$f"
done >"$W/ru-all.txt"
# as many Russian bytes as English ones in training (the fortunes are larger;
# Cyrillic takes 2 bytes a character, so about 0.6 as many characters)
enc=$(wc -c <"$W/en-train.txt")
LC_ALL=C awk -v cap="$enc" '{ c += length($0) + 1; if (c > cap) exit; print }' "$W/ru-all.txt" >"$W/ru-train.txt"
m=$(wc -l <"$W/ru-all.txt")
tail -n $((m / 20)) "$W/ru-all.txt" >"$W/ru-test.txt"
# alternating: paragraph i of English, then paragraph i of Russian, ...
awk 'BEGIN { RS = "" }
     FNR == NR { en[++ne] = $0; next }
     { ru[++nr] = $0 }
     END { for (i = 1; i <= ne && i <= nr; i++) printf "%s\n\n%s\n\n", en[i], ru[i] }' \
    "$W/en-test.txt" "$W/ru-test.txt" | head -c 120000 >"$W/mix-test.txt"
# keep the test texts to 120 kB each (the tail of the novel, the last fortunes)
for x in en ru; do head -c 120000 "$W/$x-test.txt" >"$W/$x-test.cut" && mv "$W/$x-test.cut" "$W/$x-test.txt"; done
for x in en-train ru-train en-test ru-test mix-test; do
    echo "# corpus $x: $(wc -m <"$W/$x.txt") characters"
done

cat >"$W/bench.ini" <<EOF
[run]
dir = $W/ck
seed = 11
[data]
ctx = 128
val_fraction = 0.05
[tokenizer]
mode = compact
vocab_size = 2048
ngram_max = 4
ngrams = 1200
[substrate]
kind = glyph
file = $W/substrate.h5
dim = $DIM
cell = 16
[model]
n_layers = 2
n_heads = 4
d_ff = $((DIM * 4))
[train]
batch = 16
lr = 3e-3
min_lr = 3e-4
warmup = 20
[grow]
steps = $STEPS
[eval]
interval = 1000
batches = 4
[ckpt]
interval = 100000
keep = 1
[log]
interval = 1000
EOF
cfg="--config $W/bench.ini --log-level warn"
P() { nice mpirun -np "$NP" "$STRATA" "$@"; }

# ---- one tokenizer, five datasets, one substrate, two specialists --------
P tokenizer learn $cfg --output "$W/tok.h5" "$W/en-train.txt" "$W/ru-train.txt" >/dev/null
for x in en-train ru-train en-test ru-test mix-test; do
    P prepare $cfg --tokenizer "$W/tok.h5" --output "$W/$x.h5" "$W/$x.txt" >/dev/null
done
for x in en ru; do
    P grow $cfg --set run.name=$x --set data.dataset="$W/$x-train.h5" --set data.tokenizer="$W/tok.h5" \
        --log-level info >/dev/null 2>"$W/$x-grow.log" || { cat "$W/$x-grow.log" >&2; exit 1; }
done
echo "# $(lscpu | grep 'Model name' | tr -s ' '); $(grep -o 'OpenBLAS core [^,]*' "$W/en-grow.log" | head -1)"
t1=$(date +%s)
EN_CK=$W/ck/en/stage-002.h5
RU_CK=$W/ck/ru/stage-002.h5
P merge --combine posterior --output "$W/ens.h5" "$EN_CK" "$RU_CK" 2>/dev/null

# ---- evaluation: every member and every mode on every test text ---------
for x in en ru mix; do
    for mode in mean-logits mean-probs posterior; do
        P eval "$W/ens.h5" --dataset "$W/$x-test.h5" --split all --combine $mode --batch 16 --log-level warn \
            --output "$W/$x-$mode.csv" >"$W/$x-$mode.out"
    done
done
t2=$(date +%s)
sed 's/^/#   /' "$W/mix-posterior.out"

# final depth (2): bits/char of member 1 (en), member 2 (ru), each mode
bpc() { awk -F, -v who="$2" 'NR > 1 && $1 == who && $2 == 2 { print $4 }' "$1"; }
echo "# bits/char at depth 2 (held-out text; $STEPS steps per stage, d=$DIM, 2 blocks, ctx 128)"
printf '%-5s %9s %9s %12s %11s %10s %10s\n' text en-expert ru-expert mean-logits mean-probs posterior post-best
for x in en ru mix; do
    e=$(bpc "$W/$x-posterior.csv" 1)
    r=$(bpc "$W/$x-posterior.csv" 2)
    ml=$(bpc "$W/$x-mean-logits.csv" ensemble)
    mp=$(bpc "$W/$x-mean-probs.csv" ensemble)
    po=$(bpc "$W/$x-posterior.csv" ensemble)
    awk -v x=$x -v e="$e" -v r="$r" -v ml="$ml" -v mp="$mp" -v po="$po" 'BEGIN {
        b = e < r ? e : r
        printf "%-5s %9.4f %9.4f %12.4f %11.4f %10.4f %+10.4f\n", x, e, r, ml, mp, po, po - b }'
done | tee "$W/table"
awk '$1 == "en" || $1 == "ru" { if ($7 > 0.05) bad = 1; printf "# %s: posterior - best member = %+.4f bits/char (target <= +0.05): %s\n", $1, $7, ($7 <= 0.05 ? "met" : "MISSED") }
     $1 == "mix" { printf "# mix: posterior - best member = %+.4f bits/char (target < 0): %s\n", $7, ($7 < 0 ? "met" : "MISSED") }
     $1 == "en" { mle = $4 - ($2 < $3 ? $2 : $3) } $1 == "ru" { mlr = $4 - ($2 < $3 ? $2 : $3) }
     END { printf "# mean-logits - best member: en %+.4f, ru %+.4f bits/char\n", mle, mlr }' "$W/table"
echo "# wall: train $((t1 - t0)) s, merge + 9 evaluations $((t2 - t1)) s; $(uptime | sed 's/.*load/load/')"
