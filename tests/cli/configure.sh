#!/bin/sh
# configure.sh -- a missing dependency stops configure and names the Debian
# package to install.
. "$top_srcdir/tests/lib.sh"
# configure runs from a copy of what it needs before its dependency checks
# (configure, build-aux/, the AC_CONFIG_SRCDIR file): the source tree itself
# may be configured already (an in-tree `./configure && make check`), and
# configure refuses to build out of a configured tree.
mkdir -p "$T/b" "$T/src/src/cli"
cp "$top_srcdir/configure" "$T/src/" && cp -R "$top_srcdir/build-aux" "$T/src/" &&
    cp "$top_srcdir/src/cli/main.c" "$T/src/src/cli/" || not_ok "copy configure's inputs"
(cd "$T/b" && PKG_CONFIG_LIBDIR=/nonexistent PKG_CONFIG_PATH= "$T/src/configure" -q) >"$T/out" 2>"$T/err"
rc=$?
[ $rc -ne 0 ] && ok "configure stops when pkg-config finds nothing" || not_ok "configure passed without dependencies"
expect_grep "cannot find 'ompi-c'" "$T/err" "the message names the pkg-config module"
expect_grep "apt-get install libopenmpi-dev openmpi-bin" "$T/err" "the message names the Debian packages"
finish
