# strata.m4 -- configure helpers for strata.

# STRATA_REQUIRE_PKG(VARIABLE-PREFIX, PKG-CONFIG-NAME, DEBIAN-PACKAGES)
# Find a dependency through pkg-config or stop, naming what to install.
AC_DEFUN([STRATA_REQUIRE_PKG], [
  PKG_CHECK_MODULES([$1], [$2], [],
    [AC_MSG_ERROR([pkg-config cannot find '$2' ($$1_PKG_ERRORS).
Install it on Debian/Ubuntu with:  apt-get install $3])])
])

# STRATA_CHECK_LINK(DESCRIPTION, PROLOGUE, BODY, ERROR-MESSAGE)
# Compile and link BODY against all dependencies; stop with ERROR-MESSAGE if it fails.
AC_DEFUN([STRATA_CHECK_LINK], [
  AC_MSG_CHECKING([for $1])
  strata_save_CFLAGS=$CFLAGS
  strata_save_LIBS=$LIBS
  CFLAGS="$CFLAGS $DEPS_CFLAGS"
  LIBS="$DEPS_LIBS $LIBS"
  AC_LINK_IFELSE([AC_LANG_PROGRAM([[$2]], [[$3]])],
    [AC_MSG_RESULT([yes])],
    [AC_MSG_RESULT([no])
     AC_MSG_ERROR([$4])])
  CFLAGS=$strata_save_CFLAGS
  LIBS=$strata_save_LIBS
])
