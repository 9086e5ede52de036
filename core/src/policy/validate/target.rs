//! `[target]`: what a policy scales, and which keys each backend needs or refuses.

use crate::policy::checker::Checker;
use crate::policy::file::{Located, TargetFile};
use crate::policy::model::{Backend, Target};

pub fn target(c: &mut Checker, raw: &Located<TargetFile>) -> Target {
    let t = raw.get();
    let backend = *t.backend.get();
    let require = |c: &mut Checker, field: &Option<Located<String>>, key: &str| -> String {
        match field {
            Some(v) if !v.get().trim().is_empty() => v.get().trim().to_string(),
            Some(v) => {
                c.error(v.span(), format!("target.{key} must not be empty"));
                String::new()
            }
            None => {
                c.error(raw.span(), format!("target with backend \"{backend}\" needs `{key}`"));
                String::new()
            }
        }
    };
    let forbid = |c: &mut Checker, fields: &[(&Option<Located<String>>, &str)]| {
        for (field, key) in fields {
            if let Some(v) = field {
                c.error(v.span(), format!("`{key}` does not apply to backend \"{backend}\""));
            }
        }
    };
    match backend {
        Backend::Aws => {
            forbid(c, &[(&t.pool, "pool")]);
            let optional = |v: &Option<Located<String>>| v.as_ref().map(|r| r.get().trim().to_string());
            Target::Aws {
                cluster: require(c, &t.cluster, "cluster"),
                service: require(c, &t.service, "service"),
                region: optional(&t.region),
                target_group: optional(&t.target_group),
                load_balancer: optional(&t.load_balancer),
            }
        }
        Backend::Local => {
            forbid(
                c,
                &[
                    (&t.target_group, "target_group"),
                    (&t.load_balancer, "load_balancer"),
                    (&t.cluster, "cluster"),
                    (&t.service, "service"),
                    (&t.region, "region"),
                ],
            );
            Target::Local {
                pool: require(c, &t.pool, "pool"),
            }
        }
        Backend::Sim => {
            forbid(
                c,
                &[
                    (&t.target_group, "target_group"),
                    (&t.load_balancer, "load_balancer"),
                    (&t.cluster, "cluster"),
                    (&t.pool, "pool"),
                    (&t.region, "region"),
                ],
            );
            Target::Sim {
                service: require(c, &t.service, "service"),
            }
        }
    }
}
