//! The reconciler: what `up` must do to turn the networks, volumes and containers that exist
//! into the ones the project describes, as one [`Plan`] that `up --dry-run` prints and `up`
//! then executes (`stack::executor`). Pure (no I/O): it compares each service's configuration
//! hash (the one `config --hash` prints) and replica count with what is recorded on the
//! existing containers, as Docker Compose's convergence does, and returns ordered steps.
//!
//! Rules:
//! - a network the services use is created when missing, else ensured (its bridge and rules
//!   put back as recorded, which a reboot or an `nft flush` loses); a named volume they mount
//!   is created when missing (external ones are the user's);
//! - a missing replica is created; a replica above the wanted count is removed (highest first);
//! - a container whose hash differs is recreated (`--force-recreate`: all; `--no-recreate`:
//!   none), and so are the containers of services that name a replaced one's container
//!   (`network_mode`/`ipc`/`pid: service:X`, `volumes_from: X`: Docker Compose resolves those
//!   to X's container id before hashing, so a new X changes their hash) and, with
//!   `--always-recreate-deps`, every dependent of a recreated service;
//! - a running, unchanged dependent with `depends_on.<svc>.restart: true` on a recreated
//!   service is restarted, not recreated: Docker Compose's convergence stops it before the
//!   dependency is replaced and starts the same container after (its writable layer kept);
//! - an unchanged container is kept: running ones untouched, stopped ones (a one-shot service
//!   that completed included) started again, never recreated;
//! - containers of services no longer in the project are orphans: removed with
//!   `--remove-orphans`, reported otherwise.

use indexmap::IndexMap;

/// An existing container, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Existing {
    pub id: String,
    pub name: String,
    pub service: String,
    pub number: u32,
    pub hash: String,
    /// Running (or restarting) now.
    pub running: bool,
}

/// What the project wants of one service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    pub hash: String,
    pub replicas: u32,
    /// Services this one depends on with `restart: true`.
    pub restart_with: Vec<String>,
    /// Services whose (first) container this one's configuration names: `service:X`
    /// namespaces and `volumes_from`. A new container there means a new one here.
    pub shares_with: Vec<String>,
    /// Every service this one depends on (for `--always-recreate-deps`).
    pub depends_on: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    pub force_recreate: bool,
    pub no_recreate: bool,
    pub always_recreate_deps: bool,
    pub remove_orphans: bool,
}

/// One step, in execution order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Create {
        service: String,
        number: u32,
    },
    /// Stop and remove `id`, then create the replica anew.
    Recreate {
        service: String,
        number: u32,
        id: String,
        name: String,
    },
    Start {
        service: String,
        id: String,
        name: String,
    },
    /// Running and unchanged, but a `restart: true` dependency is recreated: stopped before
    /// any container is replaced, started again at its turn (the same container).
    Restart {
        service: String,
        id: String,
        name: String,
    },
    /// Running and unchanged.
    Keep {
        service: String,
        id: String,
        name: String,
    },
    /// A replica above the wanted count or a duplicate (`service` set), or an orphan's
    /// container (`None`: its service is gone from the project).
    Remove {
        id: String,
        name: String,
        service: Option<String>,
    },
}

/// A network or named volume the services use, and whether it exists now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    pub name: String,
    pub exists: bool,
}

/// What `up` does to a network before any container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetworkStep {
    Create {
        name: String,
    },
    /// It exists: made to match its recorded definition again, silently.
    Ensure {
        name: String,
    },
}

/// The plan: networks, then volumes, then containers (in dependency order), and what deserves
/// a warning (orphans kept).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub networks: Vec<NetworkStep>,
    /// Named volumes to create.
    pub volumes: Vec<String>,
    pub actions: Vec<Action>,
    pub orphans: Vec<String>,
}

impl Plan {
    /// Adds the steps for the networks and named volumes the services use.
    pub fn with_resources(mut self, networks: &[Resource], volumes: &[Resource]) -> Plan {
        self.networks = networks
            .iter()
            .map(|n| match n.exists {
                false => NetworkStep::Create {
                    name: n.name.clone(),
                },
                true => NetworkStep::Ensure {
                    name: n.name.clone(),
                },
            })
            .collect();
        self.volumes = volumes
            .iter()
            .filter(|v| !v.exists)
            .map(|v| v.name.clone())
            .collect();
        self
    }
}

/// Plans `up` for the services in `order` (dependencies first). `all_services` are every
/// service of the project (for orphans: a service not selected is not an orphan).
pub fn plan(
    order: &[String],
    wanted: &IndexMap<String, Wanted>,
    all_services: &[String],
    existing: &[Existing],
    opts: Options,
) -> Plan {
    let mut out = Plan::default();
    for e in existing {
        if !all_services.contains(&e.service) {
            if opts.remove_orphans {
                out.actions.push(Action::Remove {
                    id: e.id.clone(),
                    name: e.name.clone(),
                    service: None,
                });
            } else {
                out.orphans.push(e.name.clone());
            }
        }
    }
    // Services with a container created or recreated (for `--always-recreate-deps`), with one
    // recreated (`restart: true`), and whose first container is new (`service:X` sharers).
    let mut changed_any: Vec<&str> = Vec::new();
    let mut recreated: Vec<&str> = Vec::new();
    let mut first_new: Vec<&str> = Vec::new();
    for s in order {
        let Some(w) = wanted.get(s) else { continue };
        let mut mine: Vec<&Existing> = existing.iter().filter(|e| &e.service == s).collect();
        mine.sort_by_key(|e| std::cmp::Reverse(e.number));
        for e in mine.iter().filter(|e| e.number > w.replicas) {
            out.actions.push(Action::Remove {
                id: e.id.clone(),
                name: e.name.clone(),
                service: Some(s.clone()),
            });
        }
        let hit = |list: &[&str], deps: &[String]| list.iter().any(|r| deps.iter().any(|d| d == r));
        let deps_recreated = hit(&first_new, &w.shares_with)
            || (opts.always_recreate_deps && hit(&changed_any, &w.depends_on));
        let restart = hit(&recreated, &w.restart_with);
        let (mut any, mut any_recreated) = (false, false);
        for n in 1..=w.replicas {
            // The lowest-numbered duplicate wins; others (a crash mid-recreate) go.
            let same: Vec<&&Existing> = mine.iter().filter(|e| e.number == n).collect();
            for extra in same.iter().skip(1) {
                out.actions.push(Action::Remove {
                    id: extra.id.clone(),
                    name: extra.name.clone(),
                    service: Some(s.clone()),
                });
            }
            match same.first() {
                None => {
                    out.actions.push(Action::Create {
                        service: s.clone(),
                        number: n,
                    });
                    any = true;
                    if n == 1 {
                        first_new.push(s.as_str());
                    }
                }
                Some(e) => {
                    let changed = opts.force_recreate || e.hash != w.hash || deps_recreated;
                    if changed && !opts.no_recreate {
                        out.actions.push(Action::Recreate {
                            service: s.clone(),
                            number: n,
                            id: e.id.clone(),
                            name: e.name.clone(),
                        });
                        any = true;
                        any_recreated = true;
                        if n == 1 {
                            first_new.push(s.as_str());
                        }
                    } else if e.running && restart {
                        out.actions.push(Action::Restart {
                            service: s.clone(),
                            id: e.id.clone(),
                            name: e.name.clone(),
                        });
                    } else if e.running {
                        out.actions.push(Action::Keep {
                            service: s.clone(),
                            id: e.id.clone(),
                            name: e.name.clone(),
                        });
                    } else {
                        out.actions.push(Action::Start {
                            service: s.clone(),
                            id: e.id.clone(),
                            name: e.name.clone(),
                        });
                    }
                }
            }
        }
        if any {
            changed_any.push(s.as_str());
        }
        if any_recreated {
            recreated.push(s.as_str());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wanted(specs: &[(&str, &str, u32, &[&str])]) -> IndexMap<String, Wanted> {
        specs
            .iter()
            .map(|(s, h, n, restart)| {
                (
                    s.to_string(),
                    Wanted {
                        hash: h.to_string(),
                        replicas: *n,
                        restart_with: restart.iter().map(|r| r.to_string()).collect(),
                        shares_with: Vec::new(),
                        depends_on: restart.iter().map(|r| r.to_string()).collect(),
                    },
                )
            })
            .collect()
    }

    fn ex(service: &str, n: u32, hash: &str, running: bool) -> Existing {
        Existing {
            id: format!("{service}{n}"),
            name: format!("p-{service}-{n}"),
            service: service.into(),
            number: n,
            hash: hash.into(),
            running,
        }
    }

    fn strs(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn fresh_project_creates_everything_in_order() {
        let w = wanted(&[("db", "h1", 1, &[]), ("web", "h2", 2, &[])]);
        let p = plan(
            &strs(&["db", "web"]),
            &w,
            &strs(&["db", "web"]),
            &[],
            Options::default(),
        );
        assert_eq!(
            p.actions,
            vec![
                Action::Create {
                    service: "db".into(),
                    number: 1
                },
                Action::Create {
                    service: "web".into(),
                    number: 1
                },
                Action::Create {
                    service: "web".into(),
                    number: 2
                },
            ]
        );
    }

    #[test]
    fn unchanged_is_kept_or_started_never_recreated() {
        let w = wanted(&[("db", "h1", 1, &[]), ("job", "h3", 1, &[])]);
        let existing = [ex("db", 1, "h1", true), ex("job", 1, "h3", false)];
        let p = plan(
            &strs(&["db", "job"]),
            &w,
            &strs(&["db", "job"]),
            &existing,
            Options::default(),
        );
        assert!(matches!(p.actions[0], Action::Keep { .. }));
        assert!(matches!(p.actions[1], Action::Start { .. }));
        assert_eq!(p.actions.len(), 2);
    }

    #[test]
    fn a_changed_service_is_recreated_and_only_dependents_with_restart_are_restarted() {
        let w = wanted(&[
            ("db", "NEW", 1, &[]),
            ("api", "h2", 1, &["db"]),
            ("web", "h3", 1, &[]),
        ]);
        let existing = [
            ex("db", 1, "old", true),
            ex("api", 1, "h2", true),
            ex("web", 1, "h3", true),
        ];
        let all = strs(&["db", "api", "web"]);
        let p = plan(&all, &w, &all, &existing, Options::default());
        assert!(matches!(&p.actions[0], Action::Recreate { service, .. } if service == "db"));
        // Docker Compose stops and starts a `restart: true` dependent; it is not recreated.
        assert!(matches!(&p.actions[1], Action::Restart { service, .. } if service == "api"));
        assert!(matches!(&p.actions[2], Action::Keep { service, .. } if service == "web"));
        // A stopped one is started, as every stopped container of the project.
        let stopped = [
            ex("db", 1, "old", true),
            ex("api", 1, "h2", false),
            ex("web", 1, "h3", true),
        ];
        let p = plan(&all, &w, &all, &stopped, Options::default());
        assert!(matches!(&p.actions[1], Action::Start { service, .. } if service == "api"));
        // A changed dependent is recreated all the same.
        let mut w2 = w.clone();
        w2["api"].hash = "h2-new".into();
        let p = plan(&all, &w2, &all, &existing, Options::default());
        assert!(matches!(&p.actions[1], Action::Recreate { service, .. } if service == "api"));
        // --no-recreate keeps all; --force-recreate recreates all.
        let opts = Options {
            no_recreate: true,
            ..Options::default()
        };
        let p = plan(&all, &w, &all, &existing, opts);
        assert!(p.actions.iter().all(|a| matches!(a, Action::Keep { .. })));
        let opts = Options {
            force_recreate: true,
            ..Options::default()
        };
        let p = plan(&all, &w, &all, &existing, opts);
        assert!(p
            .actions
            .iter()
            .all(|a| matches!(a, Action::Recreate { .. })));
    }

    #[test]
    fn scaling_down_removes_the_highest_numbers_and_orphans_are_reported() {
        let w = wanted(&[("web", "h", 1, &[])]);
        let existing = [
            ex("web", 1, "h", true),
            ex("web", 2, "h", true),
            ex("web", 3, "h", true),
            ex("gone", 1, "x", true),
        ];
        let p = plan(
            &strs(&["web"]),
            &w,
            &strs(&["web"]),
            &existing,
            Options::default(),
        );
        assert_eq!(p.orphans, strs(&["p-gone-1"]));
        let removed: Vec<&str> = p
            .actions
            .iter()
            .filter_map(|a| match a {
                Action::Remove { name, .. } => Some(name.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(removed, vec!["p-web-3", "p-web-2"]);
        let p = plan(
            &strs(&["web"]),
            &w,
            &strs(&["web"]),
            &existing,
            Options {
                remove_orphans: true,
                ..Options::default()
            },
        );
        assert!(p.orphans.is_empty());
        assert!(p
            .actions
            .iter()
            .any(|a| matches!(a, Action::Remove { name, .. } if name == "p-gone-1")));
    }

    #[test]
    fn a_service_not_selected_is_no_orphan_and_duplicates_are_removed() {
        let w = wanted(&[("web", "h", 1, &[])]);
        let existing = [
            ex("web", 1, "h", true),
            Existing {
                id: "dup".into(),
                ..ex("web", 1, "h", false)
            },
            ex("db", 1, "h", true),
        ];
        let p = plan(
            &strs(&["web"]),
            &w,
            &strs(&["web", "db"]),
            &existing,
            Options::default(),
        );
        assert!(p.orphans.is_empty());
        assert_eq!(p.actions.len(), 2);
        assert!(matches!(&p.actions[0], Action::Remove { id, .. } if id == "dup"));
    }

    /// Docker Compose resolves `network_mode: service:db` (and `ipc`, `pid`, `volumes_from`) to
    /// db's first container id before hashing: a new first container of db recreates the sharer;
    /// a scaled-up db (replica 2 created) leaves it alone.
    #[test]
    fn sharers_follow_a_new_first_container_only() {
        let mut w = wanted(&[("db", "NEW", 1, &[]), ("app", "h2", 1, &[])]);
        w["app"].shares_with = vec!["db".into()];
        let all = strs(&["db", "app"]);
        let existing = [ex("db", 1, "old", true), ex("app", 1, "h2", true)];
        let p = plan(&all, &w, &all, &existing, Options::default());
        assert!(matches!(&p.actions[1], Action::Recreate { service, .. } if service == "app"));
        // db's first container created anew (it was removed): app follows too.
        let p = plan(&all, &w, &all, &existing[1..], Options::default());
        assert!(matches!(&p.actions[0], Action::Create { service, .. } if service == "db"));
        assert!(matches!(&p.actions[1], Action::Recreate { service, .. } if service == "app"));
        // Scaling db to 2 adds a replica; app still names replica 1.
        w["db"].hash = "old".into();
        w["db"].replicas = 2;
        let p = plan(&all, &w, &all, &existing, Options::default());
        assert!(matches!(&p.actions[1], Action::Create { number: 2, .. }));
        assert!(matches!(&p.actions[2], Action::Keep { service, .. } if service == "app"));
    }

    #[test]
    fn missing_networks_and_volumes_are_created_existing_networks_ensured() {
        let r = |name: &str, exists| Resource {
            name: name.into(),
            exists,
        };
        let p = Plan::default().with_resources(
            &[r("p_default", false), r("p_back", true)],
            &[r("p_data", false), r("p_cache", true)],
        );
        assert_eq!(
            p.networks,
            vec![
                NetworkStep::Create {
                    name: "p_default".into()
                },
                NetworkStep::Ensure {
                    name: "p_back".into()
                },
            ]
        );
        assert_eq!(p.volumes, strs(&["p_data"]));
    }

    /// A fresh project: every network and volume, then every replica created, dependencies
    /// first; an unchanged one: no step that changes anything.
    #[test]
    fn a_fresh_project_creates_everything_an_unchanged_one_nothing() {
        let w = wanted(&[("db", "h1", 1, &[]), ("web", "h2", 1, &["db"])]);
        let all = strs(&["db", "web"]);
        let net = |exists| Resource {
            name: "p_default".into(),
            exists,
        };
        let vol = |exists| Resource {
            name: "p_data".into(),
            exists,
        };
        let fresh = plan(&all, &w, &all, &[], Options::default())
            .with_resources(&[net(false)], &[vol(false)]);
        assert_eq!(
            fresh.networks,
            vec![NetworkStep::Create {
                name: "p_default".into()
            }]
        );
        assert_eq!(fresh.volumes, strs(&["p_data"]));
        let created: Vec<&str> = fresh
            .actions
            .iter()
            .map(|a| match a {
                Action::Create { service, .. } => service.as_str(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(created, vec!["db", "web"]);
        let existing = [ex("db", 1, "h1", true), ex("web", 1, "h2", true)];
        let same = plan(&all, &w, &all, &existing, Options::default())
            .with_resources(&[net(true)], &[vol(true)]);
        assert!(same.volumes.is_empty());
        assert!(same
            .networks
            .iter()
            .all(|n| matches!(n, NetworkStep::Ensure { .. })));
        assert!(same
            .actions
            .iter()
            .all(|a| matches!(a, Action::Keep { .. })));
    }

    /// A changed service is recreated, and with `--always-recreate-deps` its dependents too
    /// (Docker Compose's convergence); an orphan's removal names no service.
    #[test]
    fn a_changed_service_takes_its_dependents_with_always_recreate_deps() {
        let w = wanted(&[("db", "NEW", 1, &[]), ("web", "h2", 1, &[])]);
        let mut w = w;
        w["web"].depends_on = vec!["db".into()];
        let all = strs(&["db", "web"]);
        let existing = [
            ex("db", 1, "old", true),
            ex("web", 1, "h2", true),
            ex("gone", 1, "x", false),
        ];
        let opts = Options {
            always_recreate_deps: true,
            remove_orphans: true,
            ..Options::default()
        };
        let p = plan(&all, &w, &all, &existing, opts);
        assert!(
            matches!(&p.actions[0], Action::Remove { service: None, name, .. } if name == "p-gone-1")
        );
        assert!(matches!(&p.actions[1], Action::Recreate { service, .. } if service == "db"));
        assert!(matches!(&p.actions[2], Action::Recreate { service, .. } if service == "web"));
        let p = plan(&all, &w, &all, &existing, Options::default());
        assert!(matches!(&p.actions[1], Action::Keep { service, .. } if service == "web"));
    }
}
