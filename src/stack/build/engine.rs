//! The real [`ImageBuilder`]: makes the build's network ready (a project network, the default
//! one included, is created as `up` creates it; an external one must exist), then runs
//! [`crate::build::build`] with base images fetched by the stack's pull machinery.

use std::collections::HashMap;
use std::sync::Arc;

use super::request::network_def;
use super::ImageBuilder;
use crate::build::{BaseImages, BuildNetwork, BuildProgress, BuildRequest, BuiltImage};
use crate::engine::image::{ImageStore, Reference};
use crate::engine::network::manager::Networks;
use crate::engine::registry::{PullProgress, PullRequest};
use crate::model::types::resources::Project;
use crate::planner::network::NetworkChoice;
use crate::stack::build::BuildSetupError;
use crate::stack::pull::{pull_references, SilentPull};
use crate::stack::{Ctx, StackError};

/// Builds with the engine. Runs under the project's lock: it may create the project's networks.
pub struct EngineBuilder<'a> {
    ctx: &'a Ctx,
    project: &'a Project,
    project_name: &'a str,
    nets: &'a Networks,
    store: &'a ImageStore,
    pull_progress: Arc<dyn PullProgress>,
    progress: Box<dyn BuildProgress>,
}

impl<'a> EngineBuilder<'a> {
    /// `None` progress shows nothing.
    pub fn new(
        ctx: &'a Ctx,
        project: &'a Project,
        project_name: &'a str,
        nets: &'a Networks,
        store: &'a ImageStore,
        pull_progress: Option<Arc<dyn PullProgress>>,
        progress: Option<Box<dyn BuildProgress>>,
    ) -> EngineBuilder<'a> {
        EngineBuilder {
            ctx,
            project,
            project_name,
            nets,
            store,
            pull_progress: pull_progress.unwrap_or_else(|| Arc::new(SilentPull)),
            progress: progress.unwrap_or_else(|| Box::new(crate::build::progress::Silent)),
        }
    }

    /// The project network a build uses, created when missing: the one `build.network` names,
    /// or the project's default network when it names none (as `up` would create it for the
    /// service); its engine name. `none` and `host` need nothing.
    fn prepare_network(
        &self,
        service: &str,
        request: &BuildRequest,
    ) -> Result<Option<String>, StackError> {
        let key = match &request.network {
            BuildNetwork::None | BuildNetwork::Host => return Ok(None),
            BuildNetwork::Default => "default",
            BuildNetwork::Network(_) => self
                .project
                .services
                .get(service)
                .and_then(|s| s.build.as_ref())
                .and_then(|b| b.network.as_deref())
                .unwrap_or("default"),
        };
        let Some(choice) = network_def(self.project, self.project_name, key) else {
            // No default network (every service names its own): the builder's default.
            return Ok(None);
        };
        let choice = choice.map_err(|e| BuildSetupError::Invalid {
            service: service.to_string(),
            key: "build.network".into(),
            message: e.to_string(),
        })?;
        match choice {
            NetworkChoice::Managed(def) => {
                self.nets
                    .ensure(&def)
                    .map_err(|error| StackError::BuildNetwork {
                        service: service.to_string(),
                        network: def.name.clone(),
                        error: Box::new(error),
                    })?;
                Ok(Some(def.name))
            }
            NetworkChoice::External(name) => {
                let found = self
                    .nets
                    .get(&name)
                    .map_err(|error| StackError::BuildNetwork {
                        service: service.to_string(),
                        network: name.clone(),
                        error: Box::new(error),
                    })?;
                if found.is_none() {
                    return Err(StackError::BuildNetworkMissing {
                        service: service.to_string(),
                        network: name,
                    });
                }
                Ok(Some(name))
            }
        }
    }
}

impl ImageBuilder for EngineBuilder<'_> {
    fn build(&mut self, service: &str, request: &BuildRequest) -> Result<BuiltImage, StackError> {
        let mut request = request.clone();
        if let Some(network) = self.prepare_network(service, &request)? {
            request.network = BuildNetwork::Network(network);
        }
        request.cgroup_parent = self.ctx.cgroup_parent.clone();
        let request = &request;
        let mut bases = StoreBases {
            store: self.store,
            progress: self.pull_progress.clone(),
        };
        Ok(crate::build::build(
            &self.ctx.root,
            request,
            &mut bases,
            &mut *self.progress,
        )?)
    }
}

/// Base images the store lacks, pulled for this machine's platform as `up` pulls them.
struct StoreBases<'a> {
    store: &'a ImageStore,
    progress: Arc<dyn PullProgress>,
}

impl BaseImages for StoreBases<'_> {
    fn fetch(&mut self, reference: &Reference) -> Result<(), String> {
        let request = PullRequest {
            reference: reference.to_string(),
            platform: None,
        };
        let results = pull_references(
            self.store,
            std::slice::from_ref(&request),
            HashMap::new(),
            self.progress.clone(),
        )
        .map_err(|e| e.to_string())?;
        match results.into_iter().next() {
            Some(Ok(_)) => Ok(()),
            Some(Err(e)) => Err(e.to_string()),
            None => Err(format!("no pull result for {reference}")),
        }
    }
}
