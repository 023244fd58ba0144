#!/bin/sh
# h5dump.sh -- a file written by the io helpers, as h5dump sees it: root
# attributes, a column table with units/long_name and a dimension scale,
# Fletcher32 on the datasets.
. "$top_srcdir/tests/lib.sh"
if [ -z "${H5DUMP:-}" ]; then
    echo "1..0 # SKIP h5dump not found (apt-get install hdf5-tools)"
    exit 0
fi
f=$T/sample.h5
expect_exit 0 "test_write_sample writes a file" -- "$top_builddir/tests/io/test_write_sample" "$f"
expect_grep "val_bits_per_char" "$T/out" "test_write_sample prints the per-depth table"

"$H5DUMP" -A "$f" >"$T/attrs" 2>&1
expect_grep 'ATTRIBUTE "format"' "$T/attrs" "root attribute format"
expect_grep '"strata"' "$T/attrs" "format is strata"
expect_grep '"checkpoint"' "$T/attrs" "kind is checkpoint"
for a in format_version strata_version created_utc; do
    expect_grep "ATTRIBUTE \"$a\"" "$T/attrs" "root attribute $a"
done

"$H5DUMP" -A -d /metrics/depth/val_loss "$f" >"$T/col" 2>&1
expect_grep 'ATTRIBUTE "units"' "$T/col" "column has units"
expect_grep '"nats/token"' "$T/col" "val_loss units are nats/token"
expect_grep 'ATTRIBUTE "long_name"' "$T/col" "column has long_name"
expect_grep 'ATTRIBUTE "DIMENSION_LIST"' "$T/col" "column is attached to a dimension scale"
"$H5DUMP" -A -d /metrics/depth/depth "$f" >"$T/scale" 2>&1
expect_grep '"DIMENSION_SCALE"' "$T/scale" "depth is a dimension scale"
expect_grep 'ATTRIBUTE "REFERENCE_LIST"' "$T/scale" "the scale lists its columns"

"$H5DUMP" -p -H -d /model/block_001/attn_qkv_w "$f" >"$T/props" 2>&1
expect_grep 'CHECKSUM FLETCHER32' "$T/props" "tensor has a Fletcher32 checksum"
expect_grep 'CHUNKED' "$T/props" "tensor is chunked"
"$H5DUMP" -p -H -d /metrics/steps/train_loss "$f" >"$T/props" 2>&1
expect_grep 'CHECKSUM FLETCHER32' "$T/props" "columns have Fletcher32 too"
expect_grep 'H5S_UNLIMITED' "$T/props" "columns are extendable"

"$H5DUMP" -d /metrics/depth/depth "$f" >"$T/data" 2>&1
expect_grep '1, 2, 3' "$T/data" "h5dump reads the depth column"
"$H5DUMP" -d /config "$f" >"$T/config" 2>&1
expect_grep 'n_layers = 3' "$T/config" "h5dump reads the config string"
finish
