#!/bin/sh
# configure.sh -- a missing dependency stops configure and names the Debian
# package to install.
. "$top_srcdir/tests/lib.sh"
mkdir "$T/b"
(cd "$T/b" && PKG_CONFIG_LIBDIR=/nonexistent PKG_CONFIG_PATH= "$top_srcdir/configure" -q) >"$T/out" 2>"$T/err"
rc=$?
[ $rc -ne 0 ] && ok "configure stops when pkg-config finds nothing" || not_ok "configure passed without dependencies"
expect_grep "cannot find 'ompi-c'" "$T/err" "the message names the pkg-config module"
expect_grep "apt-get install libopenmpi-dev openmpi-bin" "$T/err" "the message names the Debian packages"
finish
