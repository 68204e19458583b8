//! What a run does, decided from what the engine has and the spec alone: no engine here, so
//! every case the integration tests drive against a real engine is also a unit test.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use super::super::spec::StackSpec;

/// What a run did to one service (or a network).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "lowercase")]
pub(crate) enum Action {
    Create {
        service: String,
    },
    Replace {
        service: String,
        rolling: bool,
    },
    Start {
        service: String,
    },
    Remove {
        service: String,
    },
    /// A network made again with the spec's settings: its containers went with it.
    Network {
        network: String,
    },
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Create { service } => write!(f, "+ {service} (created)"),
            Action::Replace {
                service,
                rolling: true,
            } => write!(
                f,
                "~ {service} (configuration changed; replaced, the new one healthy before the old stopped)"
            ),
            Action::Replace { service, .. } => {
                write!(f, "~ {service} (configuration changed; replaced)")
            }
            Action::Start { service } => write!(f, "~ {service} (was stopped; started)"),
            Action::Remove { service } => {
                write!(f, "- {service} (no longer in the stack; removed)")
            }
            Action::Network { network } => write!(
                f,
                "~ network {network} (its settings changed; made again, with every container on it)"
            ),
        }
    }
}

/// A container of the stack, as the engine has it (the lock is not one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Existing {
    pub(crate) id: String,
    pub(crate) service: String,
    /// Its configuration hash label.
    pub(crate) hash: String,
    pub(crate) running: bool,
}

/// One thing the executor does, in order; it checks the lock before each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    /// The one-shot `migrate` run (its service is about to be created or replaced).
    Migrate,
    /// Start a stopped container whose configuration is the spec's.
    Start { service: String, id: String },
    /// A container of the spec's configuration that an interrupted run left beside the old
    /// one: wait for its health; if it never turns healthy, remove it and stop the run (the
    /// old one keeps serving).
    TakeOver { service: String, id: String },
    /// Stop (with the service's grace period) and remove a container.
    Remove {
        service: String,
        id: String,
        grace: u32,
    },
    /// Create a container of the service under `name`, start it and wait for its health; if it
    /// never turns healthy, remove it and stop the run (`old_keeps_serving`: the old one is
    /// still running, a rolling replacement).
    Launch {
        service: String,
        name: String,
        old_keeps_serving: bool,
    },
}

/// The steps of a run and what it will have done once they all succeed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Plan {
    pub(crate) steps: Vec<Step>,
    pub(crate) actions: Vec<Action>,
}

/// How long a removed service's containers get to stop.
const REMOVED_GRACE: u32 = 10;

/// What makes the engine's `existing` containers the `spec`'s services: in service order, for
/// each service the steps that keep the old one serving longest; the migration first when the
/// service it belongs to is about to change; services no longer in the spec last.
pub(crate) fn plan(spec: &StackSpec, existing: &[Existing]) -> Plan {
    let mut by_service: BTreeMap<&str, Vec<&Existing>> = BTreeMap::new();
    for container in existing {
        by_service
            .entry(container.service.as_str())
            .or_default()
            .push(container);
    }
    let mut plan = Plan::default();
    if let Some(run) = &spec.migrate
        && let Some(service) = spec.services.get(&run.service)
    {
        let hash = service.hash();
        let current = by_service.get(run.service.as_str());
        if !current.is_some_and(|c| c.iter().any(|c| c.hash == hash)) {
            plan.steps.push(Step::Migrate);
        }
    }
    for (name, service) in &spec.services {
        let hash = service.hash();
        let current = by_service.remove(name.as_str()).unwrap_or_default();
        let (matching, stale): (Vec<&Existing>, Vec<&Existing>) =
            current.into_iter().partition(|c| c.hash == hash);
        let remove = |c: &Existing| Step::Remove {
            service: name.clone(),
            id: c.id.clone(),
            grace: service.stop_grace_seconds,
        };
        if let Some(keep) = matching.first() {
            let mut action = None;
            if !keep.running {
                plan.steps.push(Step::Start {
                    service: name.clone(),
                    id: keep.id.clone(),
                });
                action = Some(Action::Start {
                    service: name.clone(),
                });
            }
            // A run interrupted mid-replacement left the new container beside the old: it takes
            // over only once healthy.
            if !stale.is_empty() {
                plan.steps.push(Step::TakeOver {
                    service: name.clone(),
                    id: keep.id.clone(),
                });
                action = Some(Action::Replace {
                    service: name.clone(),
                    rolling: service.rolling,
                });
            }
            plan.steps
                .extend(matching.iter().skip(1).chain(&stale).map(|c| remove(c)));
            plan.actions.extend(action);
            continue;
        }
        let container = if service.rolling {
            format!("{}-{name}-{}", spec.stack, &hash[..12])
        } else {
            format!("{}-{name}", spec.stack)
        };
        // A rolling service's old container serves until the new one is healthy; any other
        // stops first (it may hold a port or a volume the new one needs).
        if !service.rolling {
            plan.steps.extend(stale.iter().map(|c| remove(c)));
        }
        plan.steps.push(Step::Launch {
            service: name.clone(),
            name: container,
            old_keeps_serving: service.rolling && !stale.is_empty(),
        });
        if service.rolling {
            plan.steps.extend(stale.iter().map(|c| remove(c)));
        }
        plan.actions.push(if stale.is_empty() {
            Action::Create {
                service: name.clone(),
            }
        } else {
            Action::Replace {
                service: name.clone(),
                rolling: service.rolling,
            }
        });
    }
    for (name, containers) in by_service {
        plan.steps
            .extend(containers.into_iter().map(|c| Step::Remove {
                service: name.to_owned(),
                id: c.id.clone(),
                grace: REMOVED_GRACE,
            }));
        plan.actions.push(Action::Remove {
            service: name.to_owned(),
        });
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(services: &str) -> StackSpec {
        StackSpec::parse(&format!("stack: demo\nservices:\n{services}"), "test").unwrap()
    }

    const WEB: &str = "  web:\n    image: web:1\n    rolling: true\n    stop_grace_seconds: 5\n";
    const WORKER: &str = "  worker:\n    image: worker:1\n";

    /// A container of `service` with the spec's configuration (or `stale`).
    fn container(
        spec: &StackSpec,
        service: &str,
        id: &str,
        stale: bool,
        running: bool,
    ) -> Existing {
        Existing {
            id: id.into(),
            service: service.into(),
            hash: if stale {
                "an older configuration".into()
            } else {
                spec.services[service].hash()
            },
            running,
        }
    }

    fn launch(service: &str, name: &str, old_keeps_serving: bool) -> Step {
        Step::Launch {
            service: service.into(),
            name: name.into(),
            old_keeps_serving,
        }
    }

    fn remove(service: &str, id: &str, grace: u32) -> Step {
        Step::Remove {
            service: service.into(),
            id: id.into(),
            grace,
        }
    }

    #[test]
    fn an_empty_engine_gets_every_service_created() {
        let spec = spec(&format!("{WEB}{WORKER}"));
        let plan = plan(&spec, &[]);
        let web = format!("demo-web-{}", &spec.services["web"].hash()[..12]);
        assert_eq!(
            plan.steps,
            [
                launch("web", &web, false),
                launch("worker", "demo-worker", false)
            ]
        );
        assert_eq!(
            plan.actions,
            [
                Action::Create {
                    service: "web".into()
                },
                Action::Create {
                    service: "worker".into()
                }
            ]
        );
    }

    #[test]
    fn running_containers_of_the_spec_s_configuration_are_left_alone() {
        let spec = spec(&format!("{WEB}{WORKER}"));
        let existing = [
            container(&spec, "web", "w1", false, true),
            container(&spec, "worker", "k1", false, true),
        ];
        assert_eq!(plan(&spec, &existing), Plan::default());
    }

    #[test]
    fn a_rolling_service_starts_its_new_container_before_the_old_one_stops() {
        let spec = spec(&format!("{WEB}{WORKER}"));
        let existing = [
            container(&spec, "web", "old", true, true),
            container(&spec, "worker", "k1", false, true),
        ];
        let plan = plan(&spec, &existing);
        let web = format!("demo-web-{}", &spec.services["web"].hash()[..12]);
        // The launch comes first: if the new container never turns healthy, the run stops there
        // and the old one is still serving.
        assert_eq!(
            plan.steps,
            [launch("web", &web, true), remove("web", "old", 5)]
        );
        assert_eq!(
            plan.actions,
            [Action::Replace {
                service: "web".into(),
                rolling: true
            }]
        );
    }

    #[test]
    fn any_other_service_stops_before_its_new_container_starts() {
        let spec = spec(WORKER);
        let existing = [container(&spec, "worker", "old", true, true)];
        let plan = plan(&spec, &existing);
        assert_eq!(
            plan.steps,
            [
                remove("worker", "old", 10),
                launch("worker", "demo-worker", false)
            ]
        );
        assert_eq!(
            plan.actions,
            [Action::Replace {
                service: "worker".into(),
                rolling: false
            }]
        );
    }

    #[test]
    fn a_stopped_container_is_started_and_a_removed_service_removed() {
        let spec = spec(WORKER);
        let existing = [
            container(&spec, "worker", "k1", false, false),
            Existing {
                id: "c1".into(),
                service: "cache".into(),
                hash: "whatever".into(),
                running: true,
            },
        ];
        let plan = plan(&spec, &existing);
        assert_eq!(
            plan.steps,
            [
                Step::Start {
                    service: "worker".into(),
                    id: "k1".into()
                },
                remove("cache", "c1", REMOVED_GRACE)
            ]
        );
        assert_eq!(
            plan.actions,
            [
                Action::Start {
                    service: "worker".into()
                },
                Action::Remove {
                    service: "cache".into()
                }
            ]
        );
    }

    #[test]
    fn a_replacement_cut_short_is_finished_once_the_new_container_is_healthy() {
        // A killed run left the new web beside the old one, and a duplicate of the new one.
        let spec = spec(WEB);
        let existing = [
            container(&spec, "web", "old", true, true),
            container(&spec, "web", "new", false, true),
            container(&spec, "web", "twin", false, true),
        ];
        let plan = plan(&spec, &existing);
        assert_eq!(
            plan.steps,
            [
                Step::TakeOver {
                    service: "web".into(),
                    id: "new".into()
                },
                remove("web", "twin", 5),
                remove("web", "old", 5),
            ]
        );
        assert_eq!(
            plan.actions,
            [Action::Replace {
                service: "web".into(),
                rolling: true
            }]
        );
    }

    #[test]
    fn the_migration_runs_only_before_its_service_changes() {
        let spec = StackSpec::parse(
            &format!("stack: demo\nmigrate: {{service: web, command: [migrate]}}\nservices:\n{WEB}{WORKER}"),
            "test",
        )
        .unwrap();
        // Created: the migration first.
        assert_eq!(plan(&spec, &[]).steps[0], Step::Migrate);
        // Replaced: the same.
        let existing = [
            container(&spec, "web", "old", true, true),
            container(&spec, "worker", "k1", true, true),
        ];
        assert_eq!(plan(&spec, &existing).steps[0], Step::Migrate);
        // Only another service changes: no migration.
        let existing = [
            container(&spec, "web", "w1", false, true),
            container(&spec, "worker", "k1", true, true),
        ];
        let steps = plan(&spec, &existing).steps;
        assert!(!steps.contains(&Step::Migrate), "{steps:?}");
        assert_eq!(steps.len(), 2, "{steps:?}");
    }
}
