#!/bin/sh
# cli.sh -- strata's command line: help, version, config errors and dumps.
. "$top_srcdir/tests/lib.sh"


expect_exit 0 "--help exits 0" -- "$STRATA" --help
expect_grep "Commands:" "$T/out" "--help lists the commands"
expect_exit 0 "--version exits 0" -- "$STRATA" --version
expect_grep "^strata [0-9]" "$T/out" "--version prints the version"
expect_exit 2 "no arguments is bad usage" -- "$STRATA"
expect_exit 2 "unknown command is bad usage" -- "$STRATA" frobnicate
expect_grep "unknown command 'frobnicate'" "$T/err" "unknown command is named"

# Every command in DESIGN.md has --help; commands not built yet say so and exit 2.
all_help=0
for c in prepare tokenizer substrate grow eval generate merge metrics inspect config; do
    "$STRATA" "$c" --help >"$T/h" 2>&1 || all_help=1
    grep -q "Usage: strata $c" "$T/h" || all_help=1
done
[ $all_help -eq 0 ] && ok "every command has --help" || not_ok "every command has --help"
# A command marked "(not built yet)" in --help must refuse to run: exit 2, say so.
"$STRATA" --help >"$T/h" 2>&1
honest=0
for c in $(awk '/not built yet/ {print $1}' "$T/h"); do
    "$STRATA" "$c" >"$T/o" 2>&1
    rc=$?
    [ $rc -eq 2 ] && grep -q "not built yet" "$T/o" || { honest=1; echo "# $c: exit $rc"; }
done
[ $honest -eq 0 ] && ok "commands not built yet exit 2 and say so" || not_ok "commands not built yet exit 2 and say so"
"$STRATA" grow --help >"$T/h" 2>&1
expect_grep "train.lr" "$T/h" "grow --help lists settings with defaults"
expect_grep "default: 3e-3" "$T/h" "settings help shows defaults"

# Config: dump, file, overrides, and every kind of bad value.
expect_exit 0 "config --dump with defaults" -- "$STRATA" config --dump
expect_grep "^n_layers = 4" "$T/out" "dump shows defaults"
cp "$T/out" "$T/dump.ini"
expect_exit 0 "a dump reads back as a config" -- "$STRATA" config --config "$T/dump.ini"
cmp -s "$T/out" "$T/dump.ini" && ok "dump round-trips unchanged" || not_ok "dump round-trips unchanged"

printf '[model]\nn_layers = 6\n[train]\nlr = 1e-3\n' >"$T/a.ini"
expect_exit 0 "--config and --set" -- "$STRATA" config --config "$T/a.ini" --set model.n_heads=8
expect_grep "^n_layers = 6" "$T/out" "value from the INI file"
expect_grep "^n_heads = 8" "$T/out" "value from --set"

printf '[model]\n\nn_layerz = 6\n' >"$T/b.ini"
expect_exit 2 "unknown key exits 2" -- "$STRATA" config --config "$T/b.ini"
expect_grep "b.ini:3: unknown key 'n_layerz' in section \[model\]" "$T/err" "unknown key names file:line and key"
expect_grep "n_layers" "$T/err" "unknown key lists what is allowed"

printf '[model]\nn_layers = four\n' >"$T/c.ini"
expect_exit 2 "wrong type exits 2" -- "$STRATA" config --config "$T/c.ini"
expect_grep "c.ini:2: model.n_layers = 'four' is not an integer" "$T/err" "wrong type names file:line, key, value"

expect_exit 2 "out of range exits 2" -- "$STRATA" config --set model.n_layers=0
expect_grep "model.n_layers = 0 is out of range (allowed: integer in \[1, 1024\])" "$T/err" "range error says what is allowed"

expect_exit 2 "bad choice exits 2" -- "$STRATA" config --set grow.schedule=sideways
expect_grep "allowed: progressive|monolithic" "$T/err" "choice error lists the choices"

# Numbers are decimal only; --config must name a regular file.
expect_exit 0 "leading zeros are decimal" -- "$STRATA" config --set data.ctx=0064
expect_grep "^ctx = 64$" "$T/out" "data.ctx=0064 is 64, not octal"
expect_exit 2 "hexadecimal integer exits 2" -- "$STRATA" config --set data.ctx=0x40
expect_grep "hexadecimal is not accepted (allowed: decimal integer in \[4, 65536\]" "$T/err" "hex error says what is allowed"
printf '[train]\nlr = nan\n' >"$T/n.ini"
expect_exit 2 "nan exits 2" -- "$STRATA" config --config "$T/n.ini"
expect_grep "n.ini:2: train.lr = 'nan' is not a number" "$T/err" "nan error names file:line, key, value"
expect_exit 2 "--config /tmp (a directory) exits 2" -- "$STRATA" config --config /tmp
expect_grep "config file '/tmp' is a directory" "$T/err" "a directory is named"
mkfifo "$T/fifo.ini"
expect_exit 2 "--config FIFO exits 2 without blocking" -- timeout 20 "$STRATA" config --config "$T/fifo.ini"
expect_grep "is not a regular file but a FIFO" "$T/err" "a FIFO is named"
finish
