//! One test per rule of the decision contract (DESIGN.md, "Decision semantics").

mod common;

use autoscaler_core::decide::{
    Action, Capacity, Controller, History, LimitKind, MissingCause, Outcome, Reading, Sample, Vote, decide,
};
use common::*;

fn cpu(v: f64) -> [(&'static str, Sample); 1] {
    cpu_at(v, t0())
}

/// A fresh CPU datapoint as seen at `now`.
fn cpu_at(v: f64, now: chrono::DateTime<chrono::Utc>) -> [(&'static str, Sample); 1] {
    [("cpu", value(v, now))]
}

#[test]
fn utilization_proposes_ceil_of_base_times_ratio() {
    let p = cpu_policy(1, 20, "");
    let d = decide(&p, &obs(steady(4), &cpu(100.0)), &seasoned(), t0());
    // ceil(4 * 100 / 70) = ceil(5.71) = 6
    assert_eq!(d.desired, 6);
    assert_eq!(d.action, Action::ScaleOut);
    assert_eq!(d.rules[0].proposal, Some(6));
    assert_eq!(d.rules[0].vote, Vote::Out);
}

#[test]
fn exact_ratios_do_not_round_up_on_float_noise() {
    let p = cpu_policy(1, 20, "");
    // 3 tasks at 140 % of a 70 % target need exactly 6 tasks, not 7.
    let d = decide(&p, &obs(steady(3), &cpu(140.0)), &seasoned(), t0());
    assert_eq!(d.desired, 6);
}

#[test]
fn base_is_running_tasks_not_pending_ones() {
    let p = cpu_policy(1, 20, "");
    let cap = Capacity {
        desired: 4,
        running: 2,
        pending: 2,
        deployment_in_progress: false,
        revision: 0,
    };
    // 2 running tasks at 140 / 70 need 4: the 2 pending ones already cover it.
    let d = decide(&p, &obs(cap, &cpu(140.0)), &seasoned(), t0());
    assert_eq!(d.action, Action::Hold);
    assert!(d.limited_by(LimitKind::PendingCapacity), "{}", d.explain());
    // A reading that says which tasks produced it is used as-is.
    let with_base = [(
        "cpu",
        Sample::Value(Reading {
            value: 140.0,
            at: t0() - secs(60),
            base: Some(3),
        }),
    )];
    let d = decide(&p, &obs(cap, &with_base), &seasoned(), t0());
    assert_eq!(d.desired, 6);
}

#[test]
fn inside_the_tolerance_band_nothing_changes() {
    let p = cpu_policy(1, 20, "");
    for v in [63.5, 70.0, 76.9] {
        let d = decide(&p, &obs(steady(4), &cpu(v)), &seasoned(), t0());
        assert_eq!(d.action, Action::Hold, "cpu {v}: {}", d.explain());
        assert!(d.rules[0].within_tolerance);
        assert!(d.limited_by(LimitKind::Tolerance));
    }
    let d = decide(&p, &obs(steady(4), &cpu(78.0)), &seasoned(), t0());
    assert_eq!(d.action, Action::ScaleOut);
}

#[test]
fn latency_above_target_scales_out_bounded_by_the_max_factor() {
    let p = policy(&format!("min = 1\nmax = 50\n{P99}"));
    let slow = [("p99", value(0.300, t0()))];
    let d = decide(&p, &obs(steady(4), &slow), &seasoned(), t0());
    assert_eq!(d.desired, 8, "2x the running count: {}", d.explain());
    let very_slow = [("p99", value(3.0, t0()))];
    let d = decide(&p, &obs(steady(4), &very_slow), &seasoned(), t0());
    assert_eq!(d.desired, 8, "20x above target is still capped at 2x");
    let barely = [("p99", value(0.151, t0()))];
    let d = decide(&p, &obs(steady(4), &barely), &seasoned(), t0());
    assert_eq!(d.desired, 5, "just above target still adds a task");
}

#[test]
fn latency_measured_before_new_tasks_came_into_service_waits_for_fresh_data() {
    let p = policy(&format!("min = 1\nmax = 50\n{P99}"));
    // measured on 2 tasks, 4 run now: the measurement predates the new capacity
    let stale_capacity = [(
        "p99",
        Sample::Value(Reading {
            value: 0.400,
            at: t0() - secs(10),
            base: Some(2),
        }),
    )];
    let d = decide(&p, &obs(steady(4), &stale_capacity), &seasoned(), t0());
    assert_eq!(d.action, Action::Hold, "{}", d.explain());
    assert!(d.explain().contains("waiting for a fresh measurement"));
    // measured on all 4: scale out
    let fresh = [(
        "p99",
        Sample::Value(Reading {
            value: 0.400,
            at: t0() - secs(10),
            base: Some(4),
        }),
    )];
    let d = decide(&p, &obs(steady(4), &fresh), &seasoned(), t0());
    assert_eq!(d.desired, 8);
}

#[test]
fn latency_near_target_vetoes_scale_in() {
    let p = policy(&format!("min = 1\nmax = 20\n{P99}{CPU}"));
    let m = [("p99", value(0.120, t0())), ("cpu", value(20.0, t0()))];
    let d = decide(&p, &obs(steady(6), &m), &seasoned(), t0());
    assert_eq!(d.action, Action::Hold, "{}", d.explain());
    assert_eq!(d.rules[0].vote, Vote::VetoIn);
}

#[test]
fn latency_well_below_target_lets_the_others_scale_in() {
    let p = policy(&format!("min = 1\nmax = 20\n{P99}{CPU}"));
    let m = [("p99", value(0.050, t0())), ("cpu", value(35.0, t0()))];
    let d = decide(&p, &obs(steady(6), &m), &seasoned(), t0());
    assert_eq!(d.rules[0].vote, Vote::NoObjection);
    assert_eq!(d.desired, 3, "ceil(6 * 35 / 70): {}", d.explain());
}

#[test]
fn any_rule_asking_out_wins_with_the_largest_proposal() {
    let p = policy(&format!(
        "min = 1\nmax = 50\n{CPU}[[rule]]\nname = \"mem\"\nmetric = \"ecs_memory\"\ntarget = 50\n"
    ));
    let m = [("cpu", value(20.0, t0())), ("mem", value(100.0, t0()))];
    let d = decide(&p, &obs(steady(4), &m), &seasoned(), t0());
    assert_eq!(d.desired, 8, "{}", d.explain());
}

#[test]
fn scale_in_needs_every_rule_and_goes_to_the_largest_proposal() {
    let p = policy(&format!(
        "min = 1\nmax = 50\n{CPU}[[rule]]\nname = \"mem\"\nmetric = \"ecs_memory\"\ntarget = 50\n"
    ));
    let m = [("cpu", value(35.0, t0())), ("mem", value(37.5, t0()))];
    let d = decide(&p, &obs(steady(8), &m), &seasoned(), t0());
    // cpu asks for 4, memory for 6: the larger wins
    assert_eq!(d.desired, 6, "{}", d.explain());
    let m = [("cpu", value(35.0, t0())), ("mem", value(50.0, t0()))];
    let d = decide(&p, &obs(steady(8), &m), &seasoned(), t0());
    assert_eq!(d.action, Action::Hold, "memory holds, so no scale-in");
}

#[test]
fn missing_or_stale_data_never_scales_in() {
    let p = policy(&format!("min = 1\nmax = 20\n{P99}{CPU}"));
    let low_cpu = ("cpu", value(10.0, t0()));
    let cases = [
        vec![low_cpu.clone()],
        vec![
            low_cpu.clone(),
            (
                "p99",
                Sample::Missing {
                    cause: MissingCause::ReadFailed,
                    reason: "GetMetricData failed".into(),
                },
            ),
        ],
        vec![
            low_cpu.clone(),
            (
                "p99",
                Sample::Value(Reading {
                    value: 0.01,
                    at: t0() - secs(600),
                    base: None,
                }),
            ),
        ],
        vec![
            low_cpu.clone(),
            (
                "p99",
                Sample::Value(Reading {
                    value: f64::NAN,
                    at: t0(),
                    base: None,
                }),
            ),
        ],
        vec![
            low_cpu.clone(),
            (
                "p99",
                Sample::Value(Reading {
                    value: -1.0,
                    at: t0(),
                    base: None,
                }),
            ),
        ],
        vec![
            low_cpu.clone(),
            (
                "p99",
                Sample::Value(Reading {
                    value: 0.01,
                    at: t0() + secs(3600),
                    base: None,
                }),
            ),
        ],
    ];
    for m in cases {
        let d = decide(&p, &obs(steady(8), &m), &seasoned(), t0());
        assert_eq!(d.action, Action::Hold, "{}", d.explain());
        assert_eq!(d.rules[0].vote, Vote::Missing);
        assert!(d.limited_by(LimitKind::MissingData));
    }
}

#[test]
fn missing_data_does_not_block_a_scale_out() {
    let p = policy(&format!("min = 1\nmax = 20\n{P99}{CPU}"));
    let m = [("cpu", value(140.0, t0()))];
    let d = decide(&p, &obs(steady(4), &m), &seasoned(), t0());
    assert_eq!(d.desired, 8, "{}", d.explain());
}

#[test]
fn fallback_raises_after_a_run_of_blindness_and_never_lowers() {
    let p = cpu_policy(
        2,
        10,
        "[missing_data]\naction = \"fallback\"\nfallback_count = 6\nafter = \"2m\"\n",
    );
    let mut c = seasoned_controller(p);
    let blind = obs(steady(3), &[]);
    assert_eq!(c.evaluate(&blind, t0()).action, Action::Hold);
    assert_eq!(c.evaluate(&blind, t0() + secs(60)).action, Action::Hold);
    let d = c.evaluate(&blind, t0() + secs(120));
    assert_eq!(d.desired, 6, "{}", d.explain());
    assert!(d.limited_by(LimitKind::Fallback));
    let d = c.evaluate(&obs(steady(9), &[]), t0() + secs(180));
    assert_eq!(d.action, Action::Hold, "the fallback never scales in");
    // data comes back: the blindness streak resets
    c.evaluate(
        &obs(steady(9), &[("cpu", value(70.0, t0() + secs(240)))]),
        t0() + secs(240),
    );
    assert_eq!(c.history.blind_since, None);
}

#[test]
fn scale_in_goes_to_the_highest_recommendation_in_the_stabilization_window() {
    // Evaluated every 100 s: an interval of 60 s makes that an unbroken run.
    let p = cpu_policy(
        1,
        20,
        "interval = \"60s\"\n[scale_in]\ncooldown = \"1s\"\nstabilization = \"300s\"\n",
    );
    let mut c = seasoned_controller(p);
    // recommendations 8, then 6, then 4 within the window
    c.evaluate(&obs(steady(8), &cpu(70.0)), t0());
    c.evaluate(&obs(steady(8), &cpu_at(52.5, t0() + secs(100))), t0() + secs(100));
    let d = c.evaluate(&obs(steady(8), &cpu_at(35.0, t0() + secs(200))), t0() + secs(200));
    assert_eq!(d.action, Action::Hold, "8 was recommended 200s ago: {}", d.explain());
    assert!(d.limited_by(LimitKind::Stabilization));
    // at t0+301 the 8 has left the window; 6 (t0+100) is the highest left
    let d = c.evaluate(&obs(steady(8), &cpu_at(35.0, t0() + secs(301))), t0() + secs(301));
    assert_eq!(d.desired, 6, "{}", d.explain());
}

/// Load that came back right after a scale-in makes the next scale-ins wait for the longer
/// `patience` window, for as long as the load keeps coming back; a plain policy is unchanged.
#[test]
fn a_reversed_scale_in_makes_scale_in_patient_while_the_load_keeps_returning() {
    let p = cpu_policy(
        1,
        20,
        "interval = \"10s\"\n[scale_out]\ncooldown = \"1s\"\n[scale_in]\ncooldown = \"1s\"\nstabilization = \"60s\"\npatience = \"10m\"\n",
    );
    let mut c = seasoned_controller(p);
    let mut now = t0();
    let mut desired = 8;
    let step = |c: &mut Controller, v: f64, now: chrono::DateTime<chrono::Utc>, desired: &mut u32| {
        let d = c.evaluate(&obs(steady(*desired), &cpu_at(v, now - secs(1))), now);
        if d.should_apply() {
            c.settle(&d, Outcome::Applied, d.at);
            *desired = d.desired;
        }
        d
    };
    // Low load for 70 s: after the 60 s window it scales in (8 -> 4).
    for _ in 0..8 {
        step(&mut c, 35.0, now, &mut desired);
        now += secs(10);
    }
    assert_eq!(desired, 4, "the plain window applies before any reversal");
    // The load comes back within 5 minutes: a reversal (4 -> 8). (Evaluations stay within
    // a minute of each other: a longer gap would restart the observed run.)
    now += secs(50);
    step(&mut c, 140.0, now, &mut desired);
    assert_eq!(desired, 8);
    assert_eq!(c.history.reversed_at, Some(now));
    // Low again for 3 minutes, where the plain window would have scaled in after 60 s, and
    // the load returns: a reversal avoided, which renews the patience.
    now += secs(10);
    for _ in 0..18 {
        let d = step(&mut c, 35.0, now, &mut desired);
        assert_eq!(desired, 8, "{}", d.explain());
        now += secs(10);
    }
    step(&mut c, 70.0, now, &mut desired);
    let renewed = c.history.reversed_at.unwrap();
    assert_eq!(renewed, now, "renewed by the return");
    // A long lull: held for the 10-minute patience window, then given back.
    now += secs(10);
    let low_from = now;
    while now < low_from + secs(9 * 60) {
        let d = step(&mut c, 35.0, now, &mut desired);
        assert_eq!(
            desired,
            8,
            "patient at +{}s: {}",
            (now - low_from).num_seconds(),
            d.explain()
        );
        if now > low_from + secs(60) {
            assert!(d.explain().contains("patience"), "{}", d.explain());
        }
        now += secs(10);
    }
    while desired == 8 && now < low_from + secs(11 * 60) {
        step(&mut c, 35.0, now, &mut desired);
        now += secs(10);
    }
    assert_eq!(desired, 4, "given back once the patience window passed");
    assert_eq!(
        c.history.reversed_at,
        Some(renewed),
        "a lull longer than a reversal renews nothing"
    );
    // An hour after the last return the policy is plain again: a scale-in after 60 s.
    now = renewed + secs(3600);
    step(&mut c, 140.0, now, &mut desired);
    assert_eq!(desired, 8);
    now += secs(10);
    let calm_from = now;
    while desired == 8 && now < calm_from + secs(120) {
        step(&mut c, 35.0, now, &mut desired);
        now += secs(10);
    }
    assert_eq!(desired, 4, "plain again an hour after the last return");
}

#[test]
fn cooldowns_are_separate_and_scale_out_cuts_scale_in_cooldown_short() {
    let p = cpu_policy(
        1,
        20,
        "[scale_out]\ncooldown = \"60s\"\n[scale_in]\ncooldown = \"300s\"\nstabilization = \"1s\"\n",
    );
    let mut c = seasoned_controller(p);
    // Datapoints measured just before each evaluation: fresh after every change.
    let cpu = |v: f64, now| {
        [(
            "cpu",
            Sample::Value(Reading {
                value: v,
                at: now - secs(1),
                base: None,
            }),
        )]
    };
    let d = c.evaluate(&obs(steady(8), &cpu(35.0, t0())), t0());
    assert_eq!(d.desired, 4);
    c.settle(&d, Outcome::Applied, d.at);
    // inside the scale-in cooldown: no further scale-in...
    let d = c.evaluate(&obs(steady(4), &cpu(17.5, t0() + secs(30))), t0() + secs(30));
    assert_eq!(d.action, Action::Hold, "{}", d.explain());
    assert!(d.limited_by(LimitKind::Cooldown));
    // ...but a scale-out is allowed and ends that cooldown
    let d = c.evaluate(&obs(steady(4), &cpu(140.0, t0() + secs(40))), t0() + secs(40));
    assert_eq!(d.desired, 8);
    c.settle(&d, Outcome::Applied, d.at);
    assert_eq!(c.history.last_scale_in, None);
    // inside the scale-out cooldown, neither another scale-out...
    let d = c.evaluate(&obs(steady(8), &cpu(140.0, t0() + secs(70))), t0() + secs(70));
    assert_eq!(d.action, Action::Hold);
    assert!(d.limited_by(LimitKind::Cooldown));
    // ...nor a scale-in
    let d = c.evaluate(&obs(steady(8), &cpu(17.5, t0() + secs(80))), t0() + secs(80));
    assert_eq!(d.action, Action::Hold);
    // after it, both are free again
    let d = c.evaluate(&obs(steady(8), &cpu(140.0, t0() + secs(101))), t0() + secs(101));
    assert_eq!(d.desired, 16);
}

#[test]
fn step_limits_apply_by_count_and_percent() {
    let p = cpu_policy(
        1,
        100,
        "[scale_out]\nmax_step = 3\n[scale_in]\nmax_step = \"25%\"\nstabilization = \"1s\"\n",
    );
    let d = decide(&p, &obs(steady(4), &cpu(210.0)), &seasoned(), t0());
    assert_eq!(d.desired, 7, "{}", d.explain());
    assert!(d.limited_by(LimitKind::Step));
    let d = decide(&p, &obs(steady(20), &cpu(7.0)), &seasoned(), t0());
    assert_eq!(d.desired, 15, "25% of 20 is 5: {}", d.explain());
    let d = decide(&p, &obs(steady(2), &cpu(7.0)), &seasoned(), t0());
    assert_eq!(d.desired, 1, "a percent step allows at least one task");
}

#[test]
fn bounds_hold_even_outside_them_and_without_data() {
    let p = cpu_policy(2, 5, "[scale_out]\ncooldown = \"1h\"\n");
    let h = History {
        last_scale_out: Some(t0() - secs(10)),
        ..seasoned()
    };
    let d = decide(&p, &obs(steady(1), &[]), &h, t0());
    assert_eq!(d.desired, 2, "below min with no data and in cooldown: {}", d.explain());
    assert!(d.limited_by(LimitKind::Bounds));
    let d = decide(&p, &obs(steady(9), &[]), &h, t0());
    assert_eq!(d.desired, 5, "above max is brought down even without data");
    let d = decide(&p, &obs(steady(4), &cpu(700.0)), &seasoned(), t0());
    assert_eq!(d.desired, 5);
}

#[test]
fn schedules_change_bounds_for_their_window() {
    let p = cpu_policy(
        1,
        4,
        "[[schedule]]\nname = \"business-hours\"\ncron = \"0 8 * * Mon-Fri\"\nduration = \"10h\"\nmin = 6\nmax = 12\n",
    );
    // Monday 10:00 is inside the window: min 6 applies
    let d = decide(&p, &obs(steady(3), &cpu(70.0)), &seasoned(), t0());
    assert_eq!(d.desired, 6, "{}", d.explain());
    assert_eq!(d.bounds.schedules, vec!["business-hours".to_string()]);
    assert!(d.limited_by(LimitKind::Schedule));
    // Monday 19:00 is past it: the policy's 1..4
    let d = decide(&p, &obs(steady(6), &cpu(70.0)), &seasoned(), t0() + secs(9 * 3600));
    assert_eq!(d.desired, 4);
    assert!(d.bounds.schedules.is_empty());
    // Saturday 10:00: no window
    let d = decide(&p, &obs(steady(3), &cpu(70.0)), &seasoned(), t0() + secs(5 * 86400));
    assert_eq!(d.action, Action::Hold);
}

#[test]
fn no_scale_in_during_a_deployment() {
    let p = cpu_policy(1, 20, "[scale_in]\nstabilization = \"1s\"\n");
    let cap = Capacity {
        deployment_in_progress: true,
        revision: 0,
        ..steady(8)
    };
    let d = decide(&p, &obs(cap, &cpu(20.0)), &seasoned(), t0());
    assert_eq!(d.action, Action::Hold);
    assert!(d.limited_by(LimitKind::Deployment));
    let d = decide(&p, &obs(cap, &cpu(140.0)), &seasoned(), t0());
    assert_eq!(d.action, Action::ScaleOut, "a deployment does not block scale-out");
}

#[test]
fn an_outside_change_is_noticed_and_becomes_the_baseline() {
    let p = cpu_policy(1, 20, "");
    let mut c = seasoned_controller(p);
    let d = c.evaluate(&obs(steady(4), &cpu(70.0)), t0());
    assert_eq!(d.external_change, None);
    let d = c.evaluate(&obs(steady(7), &cpu(70.0)), t0() + secs(15));
    let x = d.external_change.expect("change noticed");
    assert_eq!((x.expected, x.observed), (4, 7));
    assert!(d.explain().contains("changed outside the autoscaler"));
    assert_eq!(d.desired, 7, "in tolerance: the new count is kept");
    let d = c.evaluate(&obs(steady(7), &cpu(70.0)), t0() + secs(30));
    assert_eq!(d.external_change, None, "reported once");
}

#[test]
fn dry_run_computes_everything_and_changes_nothing() {
    let p = cpu_policy(1, 20, "dry_run = true\n");
    let mut c = seasoned_controller(p);
    let d = c.evaluate(&obs(steady(4), &cpu(140.0)), t0());
    assert_eq!(d.desired, 8);
    assert_eq!(d.action, Action::ScaleOut);
    assert!(!d.should_apply());
    assert!(d.limited_by(LimitKind::DryRun));
    // Even told it was applied, the core records no action from a dry run.
    c.settle(&d, Outcome::Applied, d.at);
    assert_eq!(c.history.last_scale_out, None, "no cooldown starts without a change");
}

#[test]
fn spare_tasks_are_kept_above_what_the_metrics_ask() {
    let p = cpu_policy(1, 20, "spare = 1\n");
    let d = decide(&p, &obs(steady(2), &cpu(105.0)), &seasoned(), t0());
    // ceil(2 * 1.5) = 3, plus one spare
    assert_eq!(d.desired, 4, "{}", d.explain());
    assert!(d.limited_by(LimitKind::Spare));
    // 4 tasks carrying the load of 3 at target: no further change
    let d = decide(&p, &obs(steady(4), &cpu(52.5)), &seasoned(), t0());
    assert_eq!(d.action, Action::Hold, "{}", d.explain());
}

#[test]
fn a_fresh_or_lost_state_waits_one_observed_stabilization_window_before_scaling_in() {
    let p = cpu_policy(1, 20, "interval = \"10s\"\n[scale_in]\nstabilization = \"300s\"\n");
    let mut c = Controller::new(p);
    // No state: 6 tasks at 10 % CPU would go to 1 at once; they wait for a window instead.
    for i in 0..30 {
        let now = t0() + secs(10 * i);
        let d = c.evaluate(&obs(steady(6), &cpu_at(10.0, now)), now);
        assert_eq!(d.action, Action::Hold, "at {}s: {}", 10 * i, d.explain());
        assert!(d.limited_by(LimitKind::Conservative), "{}", d.explain());
        let until = d.gates.scale_in.as_ref().and_then(|b| b.until).unwrap();
        assert_eq!(until, t0() + secs(300), "the gate says when");
    }
    let now = t0() + secs(300);
    let d = c.evaluate(&obs(steady(6), &cpu_at(10.0, now)), now);
    assert_eq!(d.action, Action::ScaleIn, "a whole window observed: {}", d.explain());

    // A gap in evaluations (the daemon was down) breaks the observed run.
    let mut c = seasoned_controller((*c.policy).clone());
    let later = t0() + secs(3600);
    let d = c.evaluate(&obs(steady(6), &cpu_at(10.0, later)), later);
    assert!(d.limited_by(LimitKind::Conservative), "{}", d.explain());
    let d = c.evaluate(&obs(steady(6), &cpu_at(140.0, later + secs(10))), later + secs(10));
    assert_eq!(d.action, Action::ScaleOut, "scale-out is never held back");
}

#[test]
fn no_rule_acts_twice_on_one_datapoint() {
    // One unchanged CPU datapoint must not drive 2 -> 4 -> 8 -> 16 as cooldowns expire.
    let p = cpu_policy(1, 64, "[scale_out]\ncooldown = \"60s\"\n");
    let mut c = seasoned_controller(p);
    let reading = [("cpu", value(140.0, t0()))];
    let d = c.evaluate(&obs(steady(2), &reading), t0());
    assert_eq!(d.desired, 4);
    c.settle(&d, Outcome::Applied, d.at);
    for later in [70, 130, 180] {
        let now = t0() + secs(later);
        let d = c.evaluate(&obs(steady(4), &reading), now);
        assert_eq!(d.action, Action::Hold, "{}", d.explain());
        assert!(
            d.rules[0].reason.contains("before the count changed"),
            "{}",
            d.explain()
        );
    }
    // A datapoint measured since the change acts.
    let now = t0() + secs(240);
    let d = c.evaluate(&obs(steady(4), &[("cpu", value(140.0, now))]), now);
    assert_eq!(d.desired, 8, "{}", d.explain());
}

#[test]
fn the_explanation_names_rules_values_and_limits() {
    let p = policy(&format!("min = 1\nmax = 20\n{P99}{CPU}"));
    let m = [("cpu", value(20.0, t0()))];
    let d = decide(&p, &obs(steady(8), &m), &seasoned(), t0());
    let text = d.explain();
    assert!(text.starts_with("hold at 8"), "{text}");
    assert!(text.contains("p99: no data"), "{text}");
    assert!(text.contains("cpu: 20 vs target 70 on 8 task(s) asks for 3"), "{text}");
    assert!(text.contains("no scale-in while p99 has no usable data"), "{text}");
}

/// Failures guard like latency: above the target one more task (none while tasks are
/// starting), at least half the target vetoes scale-in, a trickle below lets the other
/// rules decide.
#[test]
fn failed_requests_add_a_task_and_veto_scale_in() {
    let p = policy(
        "min = 1\nmax = 20\n[scale_in]\nstabilization = \"1s\"\n[[rule]]\nname = \"cpu\"\nmetric = \"ecs_cpu\"\ntarget = 70\n\
         [[rule]]\nname = \"errors\"\nmetric = \"error_rate\"\ntarget = 1\nnamespace = \"S\"\nmetric_name = \"ErrorCount\"\nperiod = \"10s\"\n",
    );
    let errors = |v: f64, base: u32| {
        Sample::Value(Reading {
            value: v,
            at: t0() - secs(5),
            base: Some(base),
        })
    };
    let d = decide(
        &p,
        &obs(steady(4), &[("cpu", value(70.0, t0())), ("errors", errors(5.0, 4))]),
        &seasoned(),
        t0(),
    );
    assert_eq!((d.action, d.desired), (Action::ScaleOut, 5), "{}", d.explain());
    assert!(
        d.explain().contains("5 failed requests/s per task above 1"),
        "{}",
        d.explain()
    );
    let starting = Capacity {
        running: 2,
        pending: 2,
        ..steady(4)
    };
    let d = decide(
        &p,
        &obs(starting, &[("cpu", value(70.0, t0())), ("errors", errors(5.0, 2))]),
        &seasoned(),
        t0(),
    );
    assert_eq!(d.action, Action::Hold, "tasks starting already: {}", d.explain());
    assert!(d.explain().contains("2 task(s) starting already"), "{}", d.explain());
    let d = decide(
        &p,
        &obs(steady(4), &[("cpu", value(20.0, t0())), ("errors", errors(0.5, 4))]),
        &seasoned(),
        t0(),
    );
    assert_eq!(
        d.action,
        Action::Hold,
        "half the target vetoes the scale-in cpu asks for: {}",
        d.explain()
    );
    let d = decide(
        &p,
        &obs(steady(4), &[("cpu", value(20.0, t0())), ("errors", errors(0.1, 4))]),
        &seasoned(),
        t0(),
    );
    assert_eq!(
        d.action,
        Action::ScaleIn,
        "a trickle does not hold capacity: {}",
        d.explain()
    );
}

const LEARNING_DEMAND: &str = "[[rule]]\nname = \"demand\"\nmetric = \"request_rate\"\ntarget = 1400\n\
    namespace = \"S\"\nmetric_name = \"ArrivalCount\"\nperiod = \"10s\"\nmax_age = \"60s\"\nlearn_from = \"p99\"\n";
const ERRORS: &str = "[[rule]]\nname = \"errors\"\nmetric = \"error_rate\"\ntarget = 1\n\
    namespace = \"S\"\nmetric_name = \"ErrorCount\"\nperiod = \"10s\"\nmax_age = \"60s\"\n";

fn learning_policy() -> autoscaler_core::policy::Policy {
    policy(&format!("min = 1\nmax = 50\n{P99}\n{LEARNING_DEMAND}\n{ERRORS}"))
}

/// Watched for an hour, `n` tasks in service all along.
fn serving(n: u32) -> History {
    History {
        serving: Some((n, t0() - secs(3600))),
        ..seasoned()
    }
}

/// One window's readings, measured over the 10 s before `now`.
fn window(rate: f64, p99: f64, errors: f64, now: chrono::DateTime<chrono::Utc>) -> [(&'static str, Sample); 3] {
    let at = now - secs(10);
    let v = |value| Sample::Value(Reading { value, at, base: None });
    [("demand", v(rate)), ("p99", v(p99)), ("errors", v(errors))]
}

/// An M/M/1 task of 2,000 requests/s: p99 = 2 ms + ln(100) / (2000 − r). The SLO of
/// 150 ms is reached at 1,969 requests/s per task.
fn mm1(rate: f64) -> f64 {
    0.002 + 100f64.ln() / (2000.0 - rate).max(1e-3)
}

/// Feeds a controller on four tasks steady windows every 10 s from `from`, the rate
/// creeping from `low` to `high` (a steady load at each moment); returns the last decision.
fn feed(c: &mut Controller, from: i64, rounds: i64, low: f64, high: f64) -> autoscaler_core::decide::Decision {
    let mut last = None;
    for i in 0..rounds {
        let now = t0() + secs(from + 10 * i);
        let rate = low + (high - low) * (i as f64) / ((rounds - 1).max(1) as f64);
        last = Some(c.evaluate(&obs(steady(4), &window(rate, mm1(rate), 0.0, now)), now));
    }
    last.expect("at least one round")
}

fn learner() -> Controller {
    Controller {
        policy: learning_policy().into(),
        history: serving(4),
    }
}

#[test]
fn one_window_above_the_slo_teaches_no_knee() {
    // The old rule: the last window wins. One window that broke at 1,000 requests/s per
    // task (a backlog, a straddled step, a slow moment) must not rule for a day.
    let mut c = learner();
    let d = c.evaluate(&obs(steady(4), &window(1000.0, 0.300, 0.0, t0())), t0());
    let demand = d.rules.iter().find(|v| v.rule == "demand").unwrap();
    assert_eq!(demand.target, 1400.0, "{}", demand.reason);
    assert!(demand.reason.contains("target as written"), "{}", demand.reason);
    assert!(d.knees["demand"].knee.is_none(), "{:?}", d.knees);
}

#[test]
fn steady_windows_on_both_sides_of_the_slo_set_the_target_to_a_share_of_the_knee() {
    let mut c = learner();
    // A slow climb from 1,200 to 1,990 requests/s per task: the SLO breaks near the end.
    let d = feed(&mut c, 0, 60, 1200.0, 1990.0);
    let k = d.knees["demand"].knee.expect("a knee from 60 windows");
    assert!((k.per_task / 1969.0 - 1.0).abs() < 0.05, "{k:?}");
    let demand = d.rules.iter().find(|v| v.rule == "demand").unwrap();
    assert!((demand.target - 0.7 * k.usable()).abs() < 1e-6, "{demand:?}");
    assert!(demand.reason.contains("req/s per task from"), "{}", demand.reason);
}

#[test]
fn windows_far_below_the_knee_never_claim_more_than_the_curve_and_what_held() {
    let mut c = learner();
    let d = feed(&mut c, 0, 60, 600.0, 900.0);
    let k = d.knees["demand"].knee.expect("a knee from 60 windows");
    assert_eq!(k.basis, autoscaler_core::decide::Basis::Extrapolated);
    assert!(k.low >= 890.0 && k.per_task <= 900.0 * 1.5 + 1e-6, "{k:?}");
}

#[test]
fn a_shedding_service_is_no_evidence_that_it_copes() {
    // Latency of what is served stays low while requests fail: not capacity.
    let mut c = learner();
    for i in 0..30 {
        let now = t0() + secs(10 * i);
        let d = c.evaluate(&obs(steady(4), &window(3000.0, 0.050, 5.0, now)), now);
        if i > 0 {
            assert_eq!(
                d.knees["demand"].refused,
                Some(autoscaler_core::decide::Refusal::Failing)
            );
        }
    }
    assert!(c.history.learning["demand"].model.weight(t0() + secs(300)) == 0.0);
}

#[test]
fn a_crash_is_no_evidence_that_the_rate_breaks_the_slo() {
    // A task killed mid-window: requests fail and p99 breaks at a rate the tasks serve
    // easily (the running count recovers before the next read). Not the knee.
    let mut c = learner();
    for i in 0..30 {
        let now = t0() + secs(10 * i);
        let d = c.evaluate(&obs(steady(4), &window(600.0, 0.400, 5.0, now)), now);
        if i > 0 {
            assert_eq!(
                d.knees["demand"].refused,
                Some(autoscaler_core::decide::Refusal::Failing)
            );
        }
    }
    assert!(c.history.learning["demand"].model.weight(t0() + secs(300)) == 0.0);
}

#[test]
fn readings_of_a_fleet_that_just_changed_teach_nothing() {
    let p = learning_policy();
    // Four tasks have served for only 5 s: the window (10 s) was measured on three.
    let fresh = History {
        serving: Some((4, t0() - secs(5))),
        ..seasoned()
    };
    let d = decide(&p, &obs(steady(4), &window(1000.0, 0.300, 0.0, t0())), &fresh, t0());
    assert_eq!(
        d.knees["demand"].refused,
        Some(autoscaler_core::decide::Refusal::FleetChanged)
    );
    let mut c = learner();
    feed(&mut c, 0, 3, 1000.0, 1000.0);
    let starting = Capacity {
        desired: 6,
        running: 4,
        pending: 2,
        deployment_in_progress: true,
        revision: 0,
    };
    let now = t0() + secs(30);
    let d = c.evaluate(&obs(starting, &window(1000.0, 0.010, 0.0, now)), now);
    assert_eq!(
        d.knees["demand"].refused,
        Some(autoscaler_core::decide::Refusal::Rollout)
    );
}

#[test]
fn what_was_learned_is_kept_for_hours_and_fades_within_a_day() {
    let mut c = learner();
    let d = feed(&mut c, 0, 60, 1200.0, 1990.0);
    let learned = d.knees["demand"].knee.unwrap().per_task;
    // A quiet hour later (no readings): the knee is kept.
    let later = t0() + secs(600 + 3600);
    let quiet = [("cpu", value(50.0, later))];
    let d = c.evaluate(&obs(steady(4), &quiet), later);
    assert_eq!(d.knees["demand"].knee.map(|k| k.per_task), Some(learned));
    // A day on, the evidence has faded and the target is the policy's again.
    let day = later + secs(24 * 3600);
    let d = c.evaluate(&obs(steady(4), &[("cpu", value(50.0, day))]), day);
    assert!(d.knees["demand"].knee.is_none(), "{:?}", d.knees);
}

#[test]
fn a_new_revision_starts_a_new_estimate_with_the_old_knee_as_its_prior() {
    let mut c = learner();
    let d = feed(&mut c, 0, 60, 1200.0, 1990.0);
    let old = d.knees["demand"].knee.unwrap();
    let now = t0() + secs(610);
    let deployed = Capacity {
        revision: 2,
        ..steady(4)
    };
    let d = c.evaluate(&obs(deployed, &window(1000.0, mm1(1000.0), 0.0, now)), now);
    let prior = d.knees["demand"].knee.unwrap();
    assert_eq!(prior.basis, autoscaler_core::decide::Basis::Prior);
    assert_eq!(prior.per_task, old.per_task);
    assert_eq!(c.history.learning["demand"].model.revision, 2);
}

#[test]
fn a_learned_knee_gives_back_the_tasks_the_load_does_not_need() {
    // Eight tasks, 500 requests/s each, a knee near 1,969: the demand rule asks for
    // ceil(8 × 500 / (0.7 × knee)) = 3, latency is far below its SLO.
    let p = policy(&format!(
        "min = 1\nmax = 50\n[scale_in]\nstabilization = \"60s\"\ncooldown = \"60s\"\n{P99}\n{LEARNING_DEMAND}\n{ERRORS}"
    ));
    let mut c = Controller {
        policy: p.into(),
        history: serving(4),
    };
    feed(&mut c, 0, 60, 1200.0, 1990.0);
    c.history.serving = Some((8, t0()));
    let mut d = None;
    for i in 0..20 {
        let now = t0() + secs(700 + 10 * i);
        d = Some(c.evaluate(&obs(steady(8), &window(500.0, mm1(500.0), 0.0, now)), now));
        if d.as_ref().is_some_and(|d| d.action == Action::ScaleIn) {
            break;
        }
    }
    let d = d.unwrap();
    assert_eq!((d.action, d.desired), (Action::ScaleIn, 3), "{}", d.explain());
    // The same load on the three tasks left: the model's own scale-in is never reversed.
    c.history.serving = Some((3, d.at));
    for i in 1..=60 {
        let now = d.at + secs(10 * i);
        let per_task = 8.0 * 500.0 / 3.0;
        let next = c.evaluate(&obs(steady(3), &window(per_task, mm1(per_task), 0.0, now)), now);
        assert_ne!(next.action, Action::ScaleOut, "{}", next.explain());
    }
}

#[test]
fn cpu_lets_readings_far_below_the_knee_size_the_fleet() {
    // The demo's case: four tasks at a third of what they serve, p99 flat. Without CPU the
    // knee is only a lower bound and the written target stands; with a CPU line the
    // knee is anchored where a task saturates and the target follows it.
    let p = policy(&format!("min = 1\nmax = 50\n{P99}\n{LEARNING_DEMAND}\n{ERRORS}\n{CPU}"));
    let mut c = Controller {
        policy: p.into(),
        history: serving(4),
    };
    let mut d = None;
    for i in 0..90 {
        let now = t0() + secs(10 * i);
        // The load wanders 500..900 per task; CPU idles at 10 % and saturates at 2,000.
        let rate = 700.0 + 200.0 * ((i as f64) / 6.0).sin();
        let at = now - secs(10);
        let v = |value| Sample::Value(Reading { value, at, base: None });
        let readings = [
            ("demand", v(rate)),
            ("p99", v(mm1(rate))),
            ("errors", v(0.0)),
            ("cpu", v(10.0 + 90.0 * rate / 2000.0)),
        ];
        d = Some(c.evaluate(&obs(steady(4), &readings), now));
    }
    let d = d.unwrap();
    let k = d.knees["demand"].knee.expect("a knee");
    assert_eq!(k.basis, autoscaler_core::decide::Basis::Anchored, "{k:?}");
    assert!((k.per_task / 1969.0 - 1.0).abs() < 0.1, "{k:?}");
    let demand = d.rules.iter().find(|v| v.rule == "demand").unwrap();
    assert!((demand.target - 0.7 * k.per_task).abs() < 1e-6, "{}", demand.reason);
}

#[test]
fn a_decision_withheld_for_another_scaler_is_shown_and_not_applied() {
    let mut c = seasoned_controller(cpu_policy(1, 20, ""));
    let withheld = autoscaler_core::decide::Observation {
        withheld: Some("not acting: AWS Application Auto Scaling also scales this service".into()),
        ..obs(steady(4), &cpu(140.0))
    };
    let d = c.evaluate(&withheld, t0());
    assert_eq!(
        (d.action, d.desired),
        (Action::ScaleOut, 8),
        "the decision is still made"
    );
    assert!(!d.should_apply());
    assert!(d.limited_by(LimitKind::OtherScaler));
    assert!(
        d.explain().contains("not acting: AWS Application Auto Scaling"),
        "{}",
        d.explain()
    );
    // Holding needs no reason: nothing would change anyway.
    let hold = autoscaler_core::decide::Observation {
        withheld: Some("x".into()),
        ..obs(steady(4), &cpu(70.0))
    };
    assert!(!c.evaluate(&hold, t0() + secs(30)).limited_by(LimitKind::OtherScaler));
}

const QUEUE: &str = "[[rule]]\nname = \"backlog\"\nmetric = \"queue_backlog\"\nqueue = \"orders\"\n";

#[test]
fn a_queue_backlog_is_shared_by_the_running_tasks_even_none() {
    let p = policy(&format!("min = 0\nmax = 50\n{QUEUE}target = 100\n"));
    // 1,000 messages on 4 tasks: 250 per task against 100 asks for ceil(1000 / 100) = 10.
    let d = decide(
        &p,
        &obs(steady(4), &[("backlog", value(1000.0, t0()))]),
        &seasoned(),
        t0(),
    );
    assert_eq!(d.desired, 10, "{}", d.rules[0].reason);
    assert!(
        d.rules[0].reason.contains("250 vs target 100 on 4 task(s)"),
        "{}",
        d.rules[0].reason
    );
    // A fleet scaled to zero has no task to produce a value, and still wakes for a backlog.
    let d = decide(
        &p,
        &obs(steady(0), &[("backlog", value(350.0, t0()))]),
        &seasoned(),
        t0(),
    );
    assert_eq!((d.action, d.desired), (Action::ScaleOut, 4));
}

#[test]
fn with_an_acceptable_wait_a_keeping_up_fleet_is_sized_by_its_arrivals() {
    let p = policy(&format!(
        "min = 1\nmax = 50\n{QUEUE}acceptable_latency = \"1m\"\nprocessing_rate = 10\n"
    ));
    // No backlog, 50 messages/s arriving: 5 tasks at 10/s keep up, whatever runs now.
    let keeping_up = |running| {
        let metrics = [
            ("backlog.visible", value(0.0, t0())),
            ("backlog.sent", value(50.0, t0())),
        ];
        decide(&p, &obs(steady(running), &metrics), &seasoned(), t0()).desired
    };
    assert_eq!((keeping_up(12), keeping_up(5), keeping_up(2)), (5, 5, 5));
    // A backlog of 6,000 adds the tasks that drain it within the minute: 6,000 / 600 = 10.
    let metrics = [
        ("backlog.visible", value(6000.0, t0())),
        ("backlog.sent", value(50.0, t0())),
    ];
    assert_eq!(decide(&p, &obs(steady(5), &metrics), &seasoned(), t0()).desired, 15);
    // Without the arrivals the rule has no value, and says which operand is missing.
    let metrics = [
        ("backlog.visible", value(0.0, t0())),
        (
            "backlog.sent",
            Sample::missing(MissingCause::NotPublished, "no datapoints in the query window"),
        ),
    ];
    let d = decide(&p, &obs(steady(5), &metrics), &seasoned(), t0());
    assert_eq!(d.rules[0].vote, Vote::Missing);
    assert!(
        d.rules[0].reason.contains("sent: no datapoints"),
        "{}",
        d.rules[0].reason
    );
}
