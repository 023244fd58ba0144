/* test_agree.c -- st_agree / st_agree_root: one rank fails, every rank
 * returns its status and message (run on 1 and 3 ranks). */
#include <string.h>

#include "harness.h"
#include "strata/agree.h"

static void all_ok_is_ok_and_keeps_messages(void **state)
{
    (void)state;
    st_clear_error();
    ST_ASSERT_ALL(st_agree(ST_OK, MPI_COMM_WORLD) == ST_OK);
    ST_ASSERT_ALL(st_agree_root(ST_OK, MPI_COMM_WORLD) == ST_OK);
    ST_ASSERT_ALL(st_last_error()[0] == '\0');
}

/* The last rank fails: everybody gets its status, message and place. */
static void one_rank_fails_everybody_knows(void **state)
{
    (void)state;
    int rank = st_test_rank(), size = st_test_size();
    st_clear_error();
    st_status mine = ST_OK;
    if (rank == size - 1) mine = ST_ERROR(ST_EDATA, "rank %d cannot read shard.h5", rank);
    st_status st = st_agree(mine, MPI_COMM_WORLD);
    char want[64];
    snprintf(want, sizeof want, "rank %d cannot read shard.h5", size - 1);
    ST_ASSERT_ALL(st == ST_EDATA);
    ST_ASSERT_ALL(strcmp(st_last_error(), want) == 0);
    /* the place is the failing rank's, not agree.c's */
    ST_ASSERT_ALL(strncmp(st_last_error_where(), "test_agree.c:", 13) == 0);
}

/* Several ranks fail differently: the lowest failing rank's status wins,
 * on every rank, including the other failing ones. */
static void lowest_failing_rank_wins(void **state)
{
    (void)state;
    int rank = st_test_rank(), size = st_test_size();
    st_clear_error();
    st_status mine = ST_OK;
    int first = size > 1 ? 1 : 0;
    if (rank >= first) mine = ST_ERROR(rank == first ? ST_ENOMEM : ST_EIO, "failure on rank %d", rank);
    st_status st = st_agree(mine, MPI_COMM_WORLD);
    char want[64];
    snprintf(want, sizeof want, "failure on rank %d", first);
    ST_ASSERT_ALL(st == ST_ENOMEM);
    ST_ASSERT_ALL(strcmp(st_last_error(), want) == 0);
}

/* A long message arrives whole. */
static void long_message_arrives_whole(void **state)
{
    (void)state;
    char big[1800];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    st_clear_error();
    st_status mine = st_test_rank() == 0 ? ST_ERROR(ST_EIO, "%s", big) : ST_OK;
    ST_ASSERT_ALL(st_agree(mine, MPI_COMM_WORLD) == ST_EIO);
    ST_ASSERT_ALL(strcmp(st_last_error(), big) == 0);
}

/* Rank 0 did the work: its outcome is everybody's; the others' is ignored. */
static void root_decides(void **state)
{
    (void)state;
    int rank = st_test_rank();
    st_clear_error();
    st_status mine = rank == 0 ? ST_ERROR(ST_ECKPT, "checkpoint run/stage-001.h5 is corrupt") : ST_OK;
    ST_ASSERT_ALL(st_agree_root(mine, MPI_COMM_WORLD) == ST_ECKPT);
    ST_ASSERT_ALL(strcmp(st_last_error(), "checkpoint run/stage-001.h5 is corrupt") == 0);

    st_clear_error();
    mine = rank == 0 ? ST_OK : ST_ERROR(ST_EIO, "ignored");
    ST_ASSERT_ALL(st_agree_root(mine, MPI_COMM_WORLD) == ST_OK);
}

/* CHECK_AGREE jumps to out: on every rank. */
static st_status step(int fail_rank, int *cleaned)
{
    st_status st = ST_OK;
    int rank = st_test_rank();
    CHECK_AGREE(rank == fail_rank ? ST_ERROR(ST_EUSAGE, "bad setting on rank %d", rank) : ST_OK,
                MPI_COMM_WORLD);
    st = ST_ERR; /* not reached when a rank failed */
out:
    *cleaned = 1;
    return st;
}

static void check_agree_macro(void **state)
{
    (void)state;
    int cleaned = 0;
    ST_ASSERT_ALL(step(0, &cleaned) == ST_EUSAGE);
    ST_ASSERT_ALL(cleaned == 1);
    ST_ASSERT_ALL(strcmp(st_last_error(), "bad setting on rank 0") == 0);
}

/* On MPI_COMM_SELF the rank alone decides (serial use of library code). */
static void self_comm(void **state)
{
    (void)state;
    st_clear_error();
    st_status mine = ST_ERROR(ST_EDATA, "local only");
    ST_ASSERT_ALL(st_agree(mine, MPI_COMM_SELF) == ST_EDATA);
    ST_ASSERT_ALL(strcmp(st_last_error(), "local only") == 0);
    ST_ASSERT_ALL(st_agree(ST_OK, MPI_COMM_SELF) == ST_OK);
}

static const struct CMUnitTest agree_tests[] = {
    cmocka_unit_test(all_ok_is_ok_and_keeps_messages),
    cmocka_unit_test(one_rank_fails_everybody_knows),
    cmocka_unit_test(lowest_failing_rank_wins),
    cmocka_unit_test(long_message_arrives_whole),
    cmocka_unit_test(root_decides),
    cmocka_unit_test(check_agree_macro),
    cmocka_unit_test(self_comm),
};

ST_TEST_MAIN(agree_tests)
