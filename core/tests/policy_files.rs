//! Policy files: the shipped examples, every kind of diagnostic, and the shipped schema.

use std::path::Path;

use autoscaler_core::policy::{self, Goal, Measure, Metric, MissingAction, StepLimit, Target};

fn errors(source: &str) -> Vec<String> {
    match policy::parse(Path::new("p.toml"), source) {
        Ok(p) => panic!("expected errors, got a policy: {p:?}"),
        Err(e) => e.0.iter().map(ToString::to_string).collect(),
    }
}

const HEAD: &str = "min = 1\nmax = 4\n[target]\nbackend = \"sim\"\nservice = \"s\"\n";

fn with_rule(rule: &str) -> String {
    format!("{HEAD}[[rule]]\n{rule}\n")
}

#[test]
fn every_shipped_policy_is_valid() {
    let mut files = policy::files_in(Path::new("../policies")).unwrap();
    files.extend(policy::files_in(Path::new("../policies/examples")).unwrap());
    assert!(
        files.len() >= 5,
        "expected the shipped and example policies, found {files:?}"
    );
    for f in files {
        policy::load(&f).unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn the_latency_example_guards_p99_with_demand_and_cpu() {
    let p = policy::load(Path::new("../policies/latency-slo.toml")).unwrap();
    assert_eq!(p.rules.len(), 4);
    assert!(matches!(p.rules[0].goal, Goal::LatencyGuard { target, .. } if (target - 0.150).abs() < 1e-9));
    assert!(matches!(&p.rules[0].metric, Metric::Custom { name, scale, .. } if name == "LatencyP99" && *scale == 1e-3));
    assert_eq!(p.rules[0].measures, Measure::Latency { quantile: 0.99 });
    // ArrivalCount per 10 s period and task, read as requests per second.
    assert!(
        matches!(&p.rules[1].metric, Metric::Custom { name, scale, .. } if name == "ArrivalCount" && *scale == 0.1)
    );
    assert_eq!(p.rules[1].measures, Measure::RequestRate);
    assert!(matches!(p.rules[1].goal, Goal::Track { target, .. } if target == 1400.0));
    assert!(matches!(p.rules[2].goal, Goal::Track { target, .. } if target == 70.0));
    assert_eq!(p.rules[2].measures, Measure::Cpu);
    assert!(matches!(p.rules[3].goal, Goal::ErrorGuard { target } if target == 1.0));
    assert_eq!(p.rules[3].measures, Measure::ErrorRate);
    assert_eq!(p.scale_in.patience, std::time::Duration::from_secs(900));
    assert_eq!(p.scale_in.max_step, Some(StepLimit::Percent(75.0)));
}

#[test]
fn defaults_are_filled_in() {
    let p = policy::parse(
        Path::new("svc.toml"),
        &with_rule("name = \"cpu\"\nmetric = \"ecs_cpu\"\ntarget = 70"),
    )
    .unwrap();
    assert_eq!(p.name, "svc", "name defaults to the file stem");
    assert_eq!(p.interval.as_secs(), 15);
    assert_eq!(p.scale_out.cooldown.as_secs(), 60);
    assert_eq!(p.scale_in.cooldown.as_secs(), 300);
    assert_eq!(p.scale_in.stabilization.as_secs(), 300);
    assert_eq!(p.missing_data.action, MissingAction::Hold);
    assert_eq!(p.rules[0].period.as_secs(), 60);
    assert_eq!(p.rules[0].max_age.as_secs(), 240);
    assert!(matches!(p.rules[0].goal, Goal::Track { tolerance, .. } if tolerance == 0.1));
    assert_eq!(p.target, Target::Sim { service: "s".into() });
}

#[test]
fn unknown_keys_are_located() {
    assert_eq!(
        errors(&format!("colour = 1\n{HEAD}"))[0],
        "p.toml:1:1: unknown field `colour`, expected one of `name`, `target`, `min`, `max`, `interval`, `dry_run`, `takeover`, `spare`, `scale_out`, `scale_in`, `missing_data`, `rule`, `schedule`, `predict`; see policies/policy.schema.json or the README for what is allowed here"
    );
    let e = errors(&format!("intervall = \"10s\"\n{HEAD}"));
    assert!(
        e.iter()
            .any(|d| d.starts_with("p.toml:1:1:") && d.ends_with("did you mean `interval`?")),
        "{e:?}"
    );
    let e = errors(&format!("{HEAD}colour = 1\n"));
    assert!(
        e.iter()
            .any(|d| d.starts_with("p.toml:6:1: unknown field `colour`, expected one of `backend`")),
        "{e:?}"
    );
    let e = errors(&with_rule(
        "name = \"cpu\"\nmetric = \"ecs_cpu\"\ntarget = 70\ntargte = 3",
    ));
    assert!(e[0].starts_with("p.toml:10:1: unknown field `targte`"), "{e:?}");
}

#[test]
fn min_above_max_points_at_min() {
    let e = errors(
        "min = 5\nmax = 3\n[target]\nbackend = \"sim\"\nservice = \"s\"\n[[rule]]\nname = \"c\"\nmetric = \"ecs_cpu\"\ntarget = 70\n",
    );
    assert_eq!(e, vec!["p.toml:1:7: min (5) is greater than max (3)"]);
}

#[test]
fn non_positive_targets_are_rejected() {
    let e = errors(&with_rule("name = \"cpu\"\nmetric = \"ecs_cpu\"\ntarget = 0"));
    assert_eq!(e, vec!["p.toml:9:10: target must be greater than zero, found 0"]);
    let e = errors(&with_rule("name = \"cpu\"\nmetric = \"ecs_cpu\"\ntarget = 170"));
    assert!(e[0].contains("percentage"), "{e:?}");
}

#[test]
fn bad_cron_is_located() {
    let src = format!(
        "{}[[schedule]]\nname = \"s\"\ncron = \"0 25 * * *\"\nduration = \"1h\"\nmin = 2\n",
        with_rule("name = \"cpu\"\nmetric = \"ecs_cpu\"\ntarget = 70")
    );
    let e = errors(&src);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].starts_with("p.toml:12:8: bad cron expression \"0 25 * * *\""),
        "{e:?}"
    );
}

#[test]
fn zero_interval_and_unitless_durations_are_rejected() {
    let e = errors(&format!(
        "interval = \"0s\"\n{}",
        with_rule("name = \"c\"\nmetric = \"ecs_cpu\"\ntarget = 70")
    ));
    assert_eq!(e, vec!["p.toml:1:12: interval must be greater than zero"]);
    let e = errors(&format!(
        "interval = \"15\"\n{}",
        with_rule("name = \"c\"\nmetric = \"ecs_cpu\"\ntarget = 70")
    ));
    assert!(e[0].contains("has no unit"), "{e:?}");
}

#[test]
fn duplicate_rule_names_are_rejected() {
    let e = errors(&format!(
        "{}[[rule]]\nname = \"cpu\"\nmetric = \"ecs_memory\"\ntarget = 80\n",
        with_rule("name = \"cpu\"\nmetric = \"ecs_cpu\"\ntarget = 70")
    ));
    assert_eq!(e, vec!["p.toml:11:8: duplicate rule name \"cpu\""]);
}

#[test]
fn a_policy_needs_a_rule() {
    assert_eq!(errors(HEAD), vec!["p.toml:1:1: a policy needs at least one [[rule]]"]);
}

#[test]
fn target_fields_must_fit_the_backend() {
    let e = errors(
        "min = 1\nmax = 2\n[target]\nbackend = \"aws\"\ncluster = \"c\"\npool = \"p\"\n[[rule]]\nname = \"c\"\nmetric = \"ecs_cpu\"\ntarget = 70\n",
    );
    assert!(
        e.iter()
            .any(|m| m.starts_with("p.toml:3:1: target with backend \"aws\" needs `service`")),
        "{e:?}"
    );
    assert!(
        e.iter().any(|m| m.starts_with("p.toml:6:8: `pool` does not apply")),
        "{e:?}"
    );
}

#[test]
fn latency_rules_want_durations_and_sane_factors() {
    let e = errors(&with_rule(
        "name = \"p99\"\nmetric = \"latency\"\ntarget = 150\nscale_in_headroom = 1.5\nmax_scale_out_factor = 0.5",
    ));
    assert_eq!(e.len(), 3, "{e:?}");
    assert!(e[0].contains("must be a duration such as \"150ms\""));
    assert!(e[1].contains("scale_in_headroom must be in (0, 1]"));
    assert!(e[2].contains("max_scale_out_factor must be in (1, 100]"));
}

#[test]
fn options_of_other_rule_kinds_are_refused() {
    let e = errors(&with_rule(
        "name = \"c\"\nmetric = \"ecs_cpu\"\ntarget = 70\npercentile = \"p99\"",
    ));
    assert_eq!(e, vec!["p.toml:10:14: `percentile` applies only to latency rules"]);
    let e = errors(&with_rule(
        "name = \"c\"\nmetric = \"custom\"\ntarget = 70\nnamespace = \"N\"",
    ));
    assert!(e[0].contains("needs `metric_name`"), "{e:?}");
}

#[test]
fn a_custom_latency_rule_guards_the_percentile_it_names_or_is_refused() {
    let rule = |extra: &str| {
        with_rule(&format!(
            "name = \"p\"\nmetric = \"latency\"\nsource = \"custom\"\nnamespace = \"S\"\nmetric_name = \"LatencyP90\"\ntarget = \"80ms\"\n{extra}"
        ))
    };
    // `percentile` says which quantile the metric holds: the simulator and the local
    // backend produce that one.
    let p = policy::parse(Path::new("p.toml"), &rule("percentile = \"p90\"")).unwrap();
    assert_eq!(p.rules[0].modelled(), Ok(Measure::Latency { quantile: 0.9 }));
    let p = policy::parse(Path::new("p.toml"), &rule("statistic = \"p95\"")).unwrap();
    assert_eq!(p.rules[0].modelled(), Ok(Measure::Latency { quantile: 0.95 }));
    // Two percentiles that disagree are refused, never one of them silently dropped.
    let e = errors(&rule("percentile = \"p90\"\nstatistic = \"p99\""));
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].contains("percentile \"p90\" disagrees with statistic p99"),
        "{e:?}"
    );
}

#[test]
fn step_limits_take_counts_or_percentages() {
    let ok = format!(
        "{}[scale_out]\nmax_step = \"50%\"\n[scale_in]\nmax_step = 2\n",
        with_rule("name = \"c\"\nmetric = \"ecs_cpu\"\ntarget = 70")
    );
    let p = policy::parse(Path::new("p.toml"), &ok).unwrap();
    assert_eq!(p.scale_out.max_step, Some(StepLimit::Percent(50.0)));
    assert_eq!(p.scale_in.max_step, Some(StepLimit::Count(2)));
    let bad = ok
        .replace("\"50%\"", "\"fifty\"")
        .replace("max_step = 2", "max_step = 0");
    let e = errors(&bad);
    assert!(e[0].contains("percentage like \"50%\""), "{e:?}");
    assert!(e[1].contains("must be at least 1 task"), "{e:?}");
}

#[test]
fn fallback_count_must_lie_within_bounds() {
    let src = format!(
        "{}[missing_data]\naction = \"fallback\"\nfallback_count = 9\n",
        with_rule("name = \"c\"\nmetric = \"ecs_cpu\"\ntarget = 70")
    );
    assert_eq!(
        errors(&src),
        vec!["p.toml:12:18: fallback_count (9) must lie within min..max (1..4)"]
    );
}

#[test]
fn malformed_toml_is_located() {
    // Every problem in one run: the malformed line and what is missing besides it.
    let e = errors("min = 1\nmax = \n");
    assert_eq!(e.len(), 2, "{e:?}");
    assert!(
        e[0].starts_with("p.toml:1:1: missing field `target`; add a [target] table"),
        "{e:?}"
    );
    assert!(
        e[1].starts_with("p.toml:2:7: string values must be quoted") && e[1].contains("`max` has no value"),
        "{e:?}"
    );
}

/// A file with a mistake on many lines, of every kind the TOML layer finds, reports them
/// all with their fixes; the checks after it (bounds, rules) still run on the rest.
#[test]
fn every_problem_of_a_file_is_reported_at_once_with_its_fix() {
    let src = "name = \"svc\"\nmin = \"2\"\nmax = 1\ninterval = 30\n[target]\nbackend = \"sim\"\nservice = \"s\"\n\
               [[rule]]\nname = \"cpu\"\nmetric = \"ecs_cpu\"\ntarget = 170\nperiod = 60\n\
               [scale_in]\ncooldown = \"five minutes\"\nstabilisation = \"5m\"\n";
    let e = errors(src);
    let has = |line: usize, text: &str| {
        e.iter()
            .any(|d| d.starts_with(&format!("p.toml:{line}:")) && d.contains(text))
    };
    assert!(has(2, "write the number without quotes: min = 2"), "{e:#?}");
    assert!(has(4, "write interval = \"30s\""), "{e:#?}");
    assert!(has(12, "write period = \"60s\""), "{e:#?}");
    assert!(has(15, "did you mean `stabilization`?"), "{e:#?}");
    // Beyond the TOML layer: a rule's target out of range, a duration that does not parse.
    assert!(has(11, "170"), "{e:#?}");
    assert!(has(14, "five minutes"), "{e:#?}");
}

#[test]
fn the_shipped_schema_matches_the_code() {
    let shipped: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string("../policies/policy.schema.json").unwrap()).unwrap();
    assert_eq!(
        shipped,
        policy::file::json_schema(),
        "../policies/policy.schema.json is out of date: regenerate with `ecs-autoscaler schema > policies/policy.schema.json`"
    );
    let props = shipped["properties"].as_object().unwrap();
    for key in [
        "min",
        "max",
        "target",
        "rule",
        "schedule",
        "scale_in",
        "scale_out",
        "spare",
        "missing_data",
    ] {
        assert!(props.contains_key(key), "schema lacks {key}");
    }
}

#[test]
fn alb_rules_on_aws_need_their_dimensions() {
    let src = "min = 1\nmax = 4\n[target]\nbackend = \"aws\"\ncluster = \"c\"\nservice = \"s\"\n\
               [[rule]]\nname = \"rpt\"\nmetric = \"alb_requests_per_target\"\ntarget = 50\n\
               [[rule]]\nname = \"p99\"\nmetric = \"latency\"\ntarget = \"150ms\"\n";
    let e = errors(src);
    assert_eq!(e.len(), 3, "{e:?}");
    assert!(
        e[0].starts_with("p.toml:9:10: rule \"rpt\" reads an ALB metric: [target] needs `target_group`"),
        "{e:?}"
    );
    assert!(e[2].contains("needs `load_balancer`"), "{e:?}");
    let ok = src.replace(
        "service = \"s\"\n",
        "service = \"s\"\ntarget_group = \"targetgroup/t/1\"\nload_balancer = \"app/l/1\"\n",
    );
    assert!(policy::parse(Path::new("p.toml"), &ok).is_ok());
}

#[test]
fn request_rate_and_patience_are_checked_where_they_are_written() {
    let err = |text: &str| policy::parse(Path::new("p.toml"), text).unwrap_err().to_string();
    let e = err(&with_rule(
        "name = \"demand\"\nmetric = \"request_rate\"\ntarget = 1400",
    ));
    assert!(
        e.contains("rule \"demand\" reads a custom metric and needs `namespace`"),
        "{e}"
    );
    let e = err(&with_rule(
        "name = \"demand\"\nmetric = \"request_rate\"\ntarget = 1400\nsource = \"custom\"\nnamespace = \"S\"\nmetric_name = \"ArrivalCount\"",
    ));
    assert!(e.contains("`source` applies only to latency rules"), "{e}");
    let e = err(&with_rule(
        "name = \"demand\"\nmetric = \"request_rate\"\ntarget = 1400\nstatistic = \"sum\"\nnamespace = \"S\"\nmetric_name = \"ArrivalCount\"",
    ));
    assert!(e.contains("statistic must be \"average\""), "{e}");
    // A 60 s period of 10 s records is still read per second: the count window decides.
    let p = policy::parse(
        Path::new("p.toml"),
        &with_rule("name = \"demand\"\nmetric = \"request_rate\"\ntarget = 1400\nperiod = \"60s\"\nnamespace = \"S\"\nmetric_name = \"ArrivalCount\""),
    )
    .unwrap();
    assert!(matches!(&p.rules[0].metric, Metric::Custom { scale, .. } if *scale == 0.1));
    let text = format!(
        "{}[scale_in]\nstabilization = \"10m\"\npatience = \"5m\"\n",
        with_rule("name = \"cpu\"\nmetric = \"ecs_cpu\"\ntarget = 70")
    );
    let e = err(&text);
    assert!(
        e.contains("p.toml:") && e.contains("patience") && e.contains("at least the stabilization (600s)"),
        "{e}"
    );
}

#[test]
fn a_learned_demand_target_must_name_a_latency_rule_of_its_policy() {
    let demand =
        "name = \"demand\"\nmetric = \"request_rate\"\ntarget = 1400\nnamespace = \"S\"\nmetric_name = \"A\"\n";
    let e = errors(&with_rule(&format!("{demand}learn_from = \"cpu\"")));
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].starts_with("p.toml:12:14: learn_from names \"cpu\", which is not a latency rule")
            && e[0].contains("add a latency rule"),
        "{e:?}"
    );
    let e = errors(&format!(
        "{}[[rule]]\nname = \"p99\"\nmetric = \"latency\"\ntarget = \"150ms\"\n",
        with_rule(&format!("{demand}learn_from = \"p95\"\nlearned_share = 1.5"))
    ));
    assert_eq!(e.len(), 2, "{e:?}");
    assert!(e[0].contains("latency rules in this policy: p99"), "{e:?}");
    assert!(e[1].contains("learned_share must be in (0, 1], found 1.5"), "{e:?}");
    let e = errors(&with_rule(
        "name = \"cpu\"\nmetric = \"ecs_cpu\"\ntarget = 70\nlearn_from = \"p99\"",
    ));
    assert!(
        e[0].contains("`learn_from` applies only to request_rate rules"),
        "{e:?}"
    );
    let ok = policy::parse(
        Path::new("p.toml"),
        &format!(
            "{}[[rule]]\nname = \"p99\"\nmetric = \"latency\"\ntarget = \"150ms\"\n",
            with_rule(&format!("{demand}learn_from = \"p99\""))
        ),
    )
    .unwrap();
    let learn = ok.rules[0].learn.as_ref().unwrap();
    assert_eq!((learn.from.as_str(), learn.share), ("p99", 0.7));
}

#[test]
fn every_measure_shows_its_unit() {
    assert_eq!(Measure::Latency { quantile: 0.99 }.show(0.15), "150 ms");
    assert_eq!(Measure::Latency { quantile: 0.99 }.show(0.0042), "4.2 ms");
    assert_eq!(Measure::Cpu.show(70.0), "70.0 %");
    assert_eq!(Measure::RequestRate.show(1400.0), "1400 req/s per task");
    assert_eq!(Measure::ErrorRate.show(0.5), "0.50 failed/s per task");
    assert_eq!(Measure::RequestsPerTarget.show(900.0), "900 requests per target");
    assert_eq!(Measure::QueueBacklog.show(12.34), "12.3 messages per task");
    assert_eq!(Measure::QueueArrivals.show(5.0), "5.0 messages/s");
}

#[test]
fn predict_sections_are_checked_where_they_are_written() {
    const CPU: &str = "[[rule]]\nname = \"cpu\"\nmetric = \"ecs_cpu\"\ntarget = 70\n";
    const P99: &str = "[[rule]]\nname = \"p99\"\nmetric = \"latency\"\ntarget = \"150ms\"\n";
    let with = |predict: &str| format!("{HEAD}{CPU}{P99}[predict]\n{predict}\n");
    let cases = [
        ("mode = \"sometimes\"", "p.toml:15:8: unknown variant `sometimes`"),
        (
            "rule = \"nope\"",
            "p.toml:15:8: predict rule \"nope\" is not a rule of this policy",
        ),
        (
            "rule = \"p99\"",
            "p.toml:15:8: predict rule \"p99\" does not measure load",
        ),
        (
            "history = \"2h\"",
            "p.toml:15:11: predict history must be at least \"1d\"",
        ),
        ("history = \"60d\"", "p.toml:15:11:"),
        ("lead = \"soon\"", "p.toml:15:8:"),
        ("max_error = 0", "p.toml:15:13: max_error must be in (0, 1], found 0"),
        (
            "max_share_above = -1.0",
            "p.toml:15:19: max_share_above must be greater than 0",
        ),
        ("max_tasks_above = 0", "p.toml:15:19:"),
        (
            "confident_share = 1.0",
            "p.toml:15:19: confident_share must be in (0, 1), found 1",
        ),
    ];
    for (line, want) in cases {
        let e = errors(&with(line));
        assert!(e.iter().any(|m| m.starts_with(want)), "{line}: {e:?}");
    }
    // Without a load rule there is nothing to forecast.
    let e = errors(&format!("{HEAD}{P99}[predict]\nmode = \"scale\"\n"));
    assert!(
        e.iter()
            .any(|m| m.contains("[predict] needs a rule that measures load")),
        "{e:?}"
    );
    // Defaults: forecast only, on the first load rule, 14 days, the measured lead.
    let p = policy::parse(Path::new("p.toml"), &with("")).unwrap();
    let predict = p.predict.unwrap();
    assert_eq!(predict.mode, policy::PredictMode::ForecastOnly);
    assert_eq!(predict.rule, "cpu");
    assert_eq!(predict.history, std::time::Duration::from_secs(14 * 86_400));
    assert_eq!(predict.lead, policy::Lead::Auto);
}

#[test]
fn queue_backlog_rules_name_their_queue_and_one_way_to_their_target() {
    let rule = |body: &str| with_rule(&format!("name = \"q\"\nmetric = \"queue_backlog\"\n{body}"));
    let p = policy::parse(Path::new("p.toml"), &rule("queue = \"orders.fifo\"\ntarget = 500")).unwrap();
    let r = &p.rules[0];
    assert_eq!((r.measures, r.goal.target()), (Measure::QueueBacklog, 500.0));
    match &r.metric {
        Metric::Custom {
            namespace,
            name,
            dimensions,
            ..
        } => {
            assert_eq!(
                (namespace.as_str(), name.as_str()),
                ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
            );
            assert_eq!(dimensions.get("QueueName").map(String::as_str), Some("orders.fifo"));
        }
        m => panic!("{m:?}"),
    }
    let derived = policy::parse(
        Path::new("p.toml"),
        &rule("queue = \"orders\"\nacceptable_latency = \"90s\"\nprocessing_rate = 4"),
    )
    .unwrap();
    assert_eq!(derived.rules[0].goal.target(), 360.0, "90 s × 4 messages/s");
    let keys: Vec<&str> = derived.rules[0].reads().iter().map(|r| r.key).collect();
    assert_eq!(
        keys,
        ["q.visible", "q.sent"],
        "the arrivals are read beside the backlog"
    );

    assert_eq!(
        errors(&rule("target = 5")),
        vec!["p.toml:7:8: rule \"q\" reads an SQS queue and needs `queue`"]
    );
    assert!(errors(&rule("queue = \"my queue\"\ntarget = 5"))[0].contains("is not an SQS queue name"));
    assert!(
        errors(&rule(
            "queue = \"q\"\ntarget = 5\nacceptable_latency = \"1m\"\nprocessing_rate = 2"
        ))[0]
            .contains("not both")
    );
    assert!(errors(&rule("queue = \"q\"\nacceptable_latency = \"1m\""))[0].contains("needs `processing_rate`"));
    assert!(errors(&rule("queue = \"q\"\nprocessing_rate = 2"))[0].contains("needs `acceptable_latency`"));
    assert!(
        errors(&rule("queue = \"q\"\nacceptable_latency = \"1m\"\nprocessing_rate = 0"))[0]
            .contains("must be above zero, found 0")
    );
    assert!(errors(&rule("queue = \"q\""))[0].contains("needs `target` (messages per task), or `acceptable_latency`"));
    assert_eq!(
        errors(&with_rule(
            "name = \"c\"\nmetric = \"ecs_cpu\"\ntarget = 70\nqueue = \"q\""
        )),
        vec!["p.toml:10:9: `queue` applies only to queue_backlog rules"]
    );
}

#[test]
fn metric_math_names_only_its_metrics_and_says_where_it_breaks() {
    let rule = |expression: &str| {
        with_rule(&format!(
            "name = \"m\"\nmetric = \"custom\"\ntarget = 5\nexpression = \"{expression}\"\n\
             [rule.metrics.errors]\nnamespace = \"App\"\nmetric_name = \"Errors\"\nstatistic = \"sum\"\n\
             [rule.metrics.requests]\nnamespace = \"App\"\nmetric_name = \"Requests\"\nstatistic = \"sum\""
        ))
    };
    let p = policy::parse(Path::new("p.toml"), &rule("errors / requests * 100")).unwrap();
    let keys: Vec<&str> = p.rules[0].reads().iter().map(|r| r.key).collect();
    assert_eq!(keys, ["m.errors", "m.requests"]);
    assert!(
        p.rules[0].modelled().unwrap_err().contains("App/Errors"),
        "App's metrics exist only in CloudWatch"
    );
    // The column of the name it does not know: after `expression = "` and `errors / `.
    assert_eq!(
        errors(&rule("errors / sent")),
        vec!["p.toml:10:24: expression: \"sent\" is not one of this rule's metrics (errors, requests)"]
    );
    assert!(errors(&rule("errors /"))[0].contains("found the end"));
    let no_metrics = with_rule("name = \"m\"\nmetric = \"custom\"\ntarget = 5\nexpression = \"a / b\"");
    assert!(errors(&no_metrics)[0].contains("`expression` needs `metrics`"));
    let on_cpu = with_rule("name = \"c\"\nmetric = \"ecs_cpu\"\ntarget = 70\nexpression = \"a\"");
    assert!(errors(&on_cpu)[0].contains("`expression` applies only to custom rules"));
    // Operands the simulator knows make the rule run there too.
    let sqs = with_rule(
        "name = \"m\"\nmetric = \"custom\"\ntarget = 5\nexpression = \"sent\"\n\
         [rule.metrics.sent]\nnamespace = \"AWS/SQS\"\nmetric_name = \"NumberOfMessagesSent\"\nstatistic = \"sum\"",
    );
    let p = policy::parse(Path::new("p.toml"), &sqs).unwrap();
    assert!(p.rules[0].modelled().is_ok());
}
