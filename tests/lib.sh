# lib.sh -- TAP helpers for strata's shell tests.  Source it, check with the
# helpers below, end with `finish` (prints the plan last, so nobody has to
# count).  Every test works in a temp dir $T that is removed on exit.
set -u
: "${STRATA:=strata}"
tap_n=0
tap_failed=0
T=$(mktemp -d "${TMPDIR:-/tmp}/strata-test.XXXXXX")
trap 'rm -rf "$T"' EXIT

ok() { tap_n=$((tap_n + 1)); echo "ok $tap_n - $1"; }
not_ok() { tap_n=$((tap_n + 1)); tap_failed=1; echo "not ok $tap_n - $1"; }

# expect_exit CODE DESCRIPTION -- CMD...: run CMD, compare its exit code,
# keep stdout in $T/out and stderr in $T/err.
expect_exit() {
    want=$1 desc=$2
    shift 3
    "$@" >"$T/out" 2>"$T/err"
    got=$?
    if [ "$got" -eq "$want" ]; then ok "$desc"; else
        not_ok "$desc (exit $got, wanted $want)"
        sed 's/^/# /' "$T/err" | head -20
    fi
}

# expect_grep PATTERN FILE DESCRIPTION
expect_grep() {
    if grep -q -- "$1" "$2"; then ok "$3"; else
        not_ok "$3 (no '$1' in $(basename "$2"))"
        sed 's/^/# /' "$2" | head -20
    fi
}

# run NP -- strata args...: the strata binary under mpirun with NP ranks.
run() {
    np=$1
    shift 2
    timeout 300 "${MPIRUN:-mpirun}" -np "$np" "$STRATA" "$@"
}

# tiny_config FILE: settings of a 3-block model that grows in seconds on
# tests/data/moby-60k.txt; checkpoints, dataset and substrate go under $T.
tiny_config() {
    cat >"$1" <<EOF
[run]
dir = $T/ck
seed = 7
[data]
corpus = $top_srcdir/tests/data/moby-60k.txt
dataset = $T/data.h5
ctx = 16
val_fraction = 0.1
[tokenizer]
mode = compact
vocab_size = 400
ngrams = 40
[substrate]
kind = glyph
file = $T/sub.h5
dim = 32
cell = 16
[model]
n_layers = 3
n_heads = 2
d_ff = 64
[train]
batch = 6
lr = 1e-2
min_lr = 1e-3
warmup = 3
[grow]
steps = 12
[eval]
interval = 4
batches = 2
[ckpt]
interval = 5
keep = 2
EOF
}

# sha CHECKPOINT: the SHA-256 of every tensor, a line each (strata inspect)
sha() { "$STRATA" inspect --sha256 "$1" 2>/dev/null; }

# col FILE COLUMN / dcol FILE COLUMN: one column of /metrics/steps or
# /metrics/depth, a value a line, as the exact decimal text strata prints
col() { metrics_col steps "$@"; }
dcol() { metrics_col depth "$@"; }
metrics_col() {
    "$STRATA" metrics --table "$1" "$2" | awk -F, -v want="$3" '
        NR == 1 { for (i = 1; i <= NF; i++) if ($i == want) c = i; next }
        { print $c }'
}

finish() {
    echo "1..$tap_n"
    exit "$tap_failed"
}
