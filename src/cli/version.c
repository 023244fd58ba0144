/* version.c -- `strata --version`: what was built, from which source, with
 * which libraries.  The source description (git describe, or the package
 * version in a tarball) and the build options are recorded at build time
 * in version_info.h (src/cli/local.mk); the library versions are asked of
 * the libraries strata actually loaded, so a module swap on a cluster shows. */
#include <cblas.h>
#include <ft2build.h>
#include FT_FREETYPE_H
#include <hdf5.h>
#include <mpi.h>
#include <stdio.h>
#include <string.h>

#include "help_gen.h"
#include "strata_build.h"
#include "src/cli/version_info.h" /* generated in the build tree */

void cli_print_version(FILE *f)
{
    fprintf(f, "strata %s\n", STRATA_SOURCE_VERSION);

    /* MPI_Get_library_version may be called before MPI_Init (MPI-3.1 8.1.1). */
    char mpi[MPI_MAX_LIBRARY_VERSION_STRING] = "";
    int len = 0, major = 0, minor = 0;
    MPI_Get_library_version(mpi, &len);
    MPI_Get_version(&major, &minor);
    mpi[strcspn(mpi, ",\n")] = '\0'; /* "Open MPI v4.1.4, package: ..." -> first part */
    fprintf(f, "MPI:       %s (MPI %d.%d)\n", mpi, major, minor);

    unsigned h1 = 0, h2 = 0, h3 = 0;
    H5get_libversion(&h1, &h2, &h3);
    fprintf(f, "HDF5:      %u.%u.%u%s\n", h1, h2, h3,
#ifdef H5_HAVE_PARALLEL
            " (parallel)"
#else
            ""
#endif
    );

    fprintf(f, "OpenBLAS:  %s, core %s\n", openblas_get_config(), openblas_get_corename());

    FT_Library ft;
    if (FT_Init_FreeType(&ft) == 0) {
        FT_Int a = 0, b = 0, c = 0;
        FT_Library_Version(ft, &a, &b, &c);
        fprintf(f, "FreeType:  %d.%d.%d\n", (int)a, (int)b, (int)c);
        FT_Done_FreeType(ft);
    }
    fprintf(f, "configure: %s\n", STRATA_CONFIGURE_ARGS[0] ? STRATA_CONFIGURE_ARGS : "(no options)");
    fprintf(f, "compiler:  %s %s\n", STRATA_BUILD_CC, STRATA_BUILD_CFLAGS);
    fprintf(f, "sanitizers: %s\n", STRATA_BUILD_SANITIZERS[0] ? STRATA_BUILD_SANITIZERS : "none");
    fprintf(f, "unifont:   %s\n", STRATA_UNIFONT_DIR);
}
