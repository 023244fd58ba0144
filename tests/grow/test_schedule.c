/* test_schedule.c -- stage-end decisions: steps, tokens, plateau, broadcast. */
#include <math.h>

#include "harness.h"
#include "strata/schedule.h"

static sched_cfg cfg_with(const char *stop)
{
    st_config c;
    cfg_defaults(&c);
    assert_int_equal(cfg_set_value(&c, "grow", "stop", stop, "test"), ST_OK);
    c.grow.steps = 10;
    c.grow.tokens = 1000;
    c.grow.min_steps = 4;
    c.grow.max_steps = 20;
    c.grow.patience = 2;
    c.grow.min_delta = 0.1;
    sched_cfg s;
    assert_int_equal(sched_cfg_from_config(&c, 1, &s), ST_OK);
    return s;
}

static void stops_after_steps_or_tokens(void **state)
{
    (void)state;
    sched_cfg c = cfg_with("steps");
    sched_state s;
    sched_stage_start(&s);
    for (int i = 0; i < 9; i++) {
        sched_record_step(&s, 100);
        assert_false(sched_stage_done(&s, &c));
    }
    sched_record_step(&s, 100);
    assert_true(sched_stage_done(&s, &c));

    c = cfg_with("tokens");
    sched_stage_start(&s);
    for (int i = 0; i < 3; i++) sched_record_step(&s, 300);
    assert_false(sched_stage_done(&s, &c));
    sched_record_step(&s, 300);
    assert_true(sched_stage_done(&s, &c));
    assert_int_equal(sched_planned_steps(&c, 300), 4);
}

static void plateau_waits_for_patience_within_bounds(void **state)
{
    (void)state;
    sched_cfg c = cfg_with("plateau");
    sched_state s;
    sched_stage_start(&s);
    const double vals[] = {5.0, 4.0, 3.95, 3.92};
    /* improvements of 1.0, then 0.05 and 0.03 (< min_delta 0.1): stale twice */
    for (int i = 0; i < 4; i++) {
        sched_record_step(&s, 1);
        sched_record_eval(&s, &c, vals[i]);
    }
    assert_int_equal(s.stale_evals, 2);
    assert_true(sched_stage_done(&s, &c)); /* 4 steps >= min_steps, patience 2 */

    /* the same losses before min_steps do not end the stage */
    sched_stage_start(&s);
    for (int i = 0; i < 3; i++) {
        sched_record_step(&s, 1);
        sched_record_eval(&s, &c, 5.0);
    }
    assert_false(sched_stage_done(&s, &c));
    /* a real improvement resets the count */
    sched_record_step(&s, 1);
    sched_record_eval(&s, &c, 4.0);
    assert_int_equal(s.stale_evals, 0);
    assert_false(sched_stage_done(&s, &c));
    /* max_steps ends it regardless */
    while (s.steps < 20) {
        sched_record_step(&s, 1);
        sched_record_eval(&s, &c, 4.0 - s.steps);
    }
    assert_true(sched_stage_done(&s, &c));
}

static void coordinator_decision_reaches_every_rank(void **state)
{
    (void)state;
    sched_cfg c = cfg_with("steps");
    sched_state s;
    sched_stage_start(&s);
    /* Only the coordinator has reached the budget: every rank must follow it. */
    s.steps = st_test_rank() == 0 ? 10 : 3;
    bool done = false;
    ST_ASSERT_OK(sched_decide(&s, &c, MPI_COMM_WORLD, &done));
    assert_true(done);
    s.steps = st_test_rank() == 0 ? 3 : 10;
    ST_ASSERT_OK(sched_decide(&s, &c, MPI_COMM_WORLD, &done));
    assert_false(done);
}

static const struct CMUnitTest schedule_tests[] = {
    cmocka_unit_test(stops_after_steps_or_tokens),
    cmocka_unit_test(plateau_waits_for_patience_within_bounds),
    cmocka_unit_test(coordinator_decision_reaches_every_rank),
};

ST_TEST_MAIN(schedule_tests)
