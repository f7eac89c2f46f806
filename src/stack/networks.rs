//! The project's networks as a command's plan sees them: which ones the services use (their
//! Compose keys resolved to managed definitions or external names), whether each exists (an
//! external one must), and what creating or refreshing one does. `up` and `run` both plan
//! their network steps from here and leave the walking to [`super::executor`].

use std::collections::BTreeMap;

use indexmap::IndexMap;

use super::executor::{self, NetworkOps};
use super::{invalid, project_name, Ctx, Reporter, StackError};
use crate::engine::network::manager::{NetworkDef, Networks};
use crate::model::types::resources::Project;
use crate::planner::network::{self as netplan, NetworkChoice, ServiceNetMode};
use crate::planner::reconcile::{Plan, Resource};

/// The project's networks the given services use, keyed by their Compose key.
pub(super) fn used_networks(
    project: &Project,
    name: &str,
    services: &[String],
) -> Result<IndexMap<String, NetworkChoice>, StackError> {
    let mut out = IndexMap::new();
    for s in services {
        if let ServiceNetMode::Networks(keys) = netplan::net_mode(s, &project.services[s])? {
            for k in keys {
                if out.contains_key(&k) {
                    continue;
                }
                let cfg = project.networks.get(&k).ok_or_else(|| {
                    invalid(format!("service {s} refers to undefined network {k}"))
                })?;
                out.insert(k.clone(), netplan::network_choice(name, &k, cfg)?);
            }
        }
    }
    Ok(out)
}

/// Whether each managed network of `choices` exists, for the plan; an external network that
/// does not is an error, before anything changes.
pub(super) fn observe<'a>(
    nets: &Networks,
    choices: impl IntoIterator<Item = &'a NetworkChoice>,
) -> Result<Vec<Resource>, StackError> {
    let mut out = Vec::new();
    for choice in choices {
        match choice {
            NetworkChoice::External(n) => {
                if nets.get(n)?.is_none() {
                    return Err(invalid(format!(
                        "network {n} declared as external, but could not be found"
                    )));
                }
            }
            NetworkChoice::Managed(def) => out.push(Resource {
                name: def.name.clone(),
                exists: nets.get(&def.name)?.is_some(),
            }),
        }
    }
    Ok(out)
}

/// What a plan's network steps do on this host, for the managed networks a command uses.
pub(super) struct ProjectNetworks<'a> {
    nets: &'a Networks,
    /// By name.
    managed: BTreeMap<&'a str, &'a NetworkDef>,
}

impl<'a> ProjectNetworks<'a> {
    pub(super) fn new(
        nets: &'a Networks,
        choices: impl IntoIterator<Item = &'a NetworkChoice>,
    ) -> ProjectNetworks<'a> {
        let managed = choices
            .into_iter()
            .filter_map(|c| match c {
                NetworkChoice::Managed(def) => Some((def.name.as_str(), def)),
                NetworkChoice::External(_) => None,
            })
            .collect();
        ProjectNetworks { nets, managed }
    }

    fn network(&self, name: &str) -> Result<&NetworkDef, StackError> {
        self.managed
            .get(name)
            .copied()
            .ok_or_else(|| invalid(format!("network {name} is not in the plan")))
    }
}

impl NetworkOps for ProjectNetworks<'_> {
    fn create_network(&self, name: &str, rep: &mut dyn Reporter) -> Result<(), StackError> {
        let def = self.network(name)?;
        rep.event("Network", name, "Creating");
        self.nets.ensure(def)?;
        rep.event("Network", name, "Created");
        Ok(())
    }

    fn ensure_network(&self, name: &str) -> Result<(), StackError> {
        self.nets.ensure(self.network(name)?)?;
        Ok(())
    }
}

/// `run`'s networks: the networks `services` use, planned as `up` plans them (created when
/// missing, made to match their definition otherwise, external ones checked) and walked by
/// the executor; returns the handle the container's endpoints are made with.
pub fn prepare_networks(
    ctx: &Ctx,
    project: &Project,
    services: &[String],
    rep: &mut dyn Reporter,
) -> Result<Networks, StackError> {
    let name = project_name(project)?;
    let nets = Networks::open(&ctx.root)?;
    let choices = used_networks(project, &name, services)?;
    let plan = Plan::default().with_resources(&observe(&nets, choices.values())?, &[]);
    executor::execute_networks(
        &plan.networks,
        &ProjectNetworks::new(&nets, choices.values()),
        rep,
    )?;
    Ok(nets)
}
