//! What starting a container takes besides the runtime's own work, shared by the two processes
//! that start one: the detached monitor ([`Parent::Monitor`], `up`, `start`, `run -d`) and the
//! CLI in the foreground ([`Parent::Foreground`], `run`). Each keeps its own way of attending
//! the process (the monitor's poll loop, the CLI's terminal); what they share is here: the
//! init's configuration (its shared namespaces resolved against the containers they join now)
//! and the [`Placer`] that, while the set-up process waits in its handshake, connects its network
//! endpoints and brings up its DNS resolver (it is born in its cgroups: see
//! [`crate::engine::cgroups::Birthplace`]).

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags};
use rustix::process::Pid;

use super::Container;
use crate::engine::cgroups::{Birthplace, ContainerCgroup};
use crate::engine::network::dns::{Resolver, ResolverConfig};
use crate::engine::network::endpoints;
use crate::engine::network::link::{Netlink, NetlinkError};
use crate::engine::root::StateRoot;
use crate::engine::runtime::error::{InitError, Step};
use crate::engine::runtime::init::InitConfig;
use crate::engine::spec::{ContainerSpec, NetworkMode};
use crate::engine::state;

/// Which process is the container's parent and attends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parent {
    /// Its monitor: the container outlives the command that started it, and may be started
    /// again after a monitor that died left its veths behind.
    Monitor,
    /// The CLI (`run` in the foreground): the container dies with it.
    Foreground,
}

/// How to start it.
#[derive(Debug, Clone)]
pub struct StartOptions {
    pub parent: Parent,
    /// Whether its stdio is a terminal (`run` decides per invocation; the monitor follows the
    /// record).
    pub terminal: bool,
    /// The host path of that terminal, bound at its /dev/console.
    pub console: Option<PathBuf>,
}

/// A start being prepared: the init's configuration, the cgroup2 directory it is born in, and the
/// [`Placer`] for its hook.
pub struct Start<'c> {
    pub config: InitConfig,
    /// For [`crate::engine::runtime::process::spawn`]'s `cgroup2`.
    pub cgroup2: Option<OwnedFd>,
    pub placer: Placer<'c>,
}

/// Places the set-up process while it waits in its handshake (see
/// [`crate::engine::runtime::process::spawn`]'s `place`).
pub struct Placer<'c> {
    container: &'c Container,
    cgroup: &'c dyn ContainerCgroup,
    /// Whether the process must be moved into its cgroup: it is born there where the cgroup
    /// says how ([`ContainerCgroup::birthplace`]) and its cgroup2 directory could be opened.
    move_in: bool,
    netlink: Option<Netlink>,
    resolver: Option<Resolver>,
}

impl Container {
    /// Prepares a start in `cgroup` (made by [`Container::create_cgroup`]). Fails only when the
    /// netlink socket its endpoints need cannot be opened.
    pub fn prepare_start<'c>(
        &'c self,
        cgroup: &'c dyn ContainerCgroup,
        options: StartOptions,
    ) -> Result<Start<'c>, NetlinkError> {
        let mut spec = self.record.spec.clone();
        spec.process.terminal = options.terminal;
        resolve_shared_namespaces(&self.root, &mut spec);
        let birth = cgroup.birthplace();
        let cgroup2 = birth.cgroup2.as_deref().and_then(|dir| {
            rustix::fs::open(
                dir,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .ok()
        });
        let move_in =
            birth == Birthplace::default() || birth.cgroup2.is_some() != cgroup2.is_some();
        let config = InitConfig {
            spec,
            container_dir: self.dir.clone(),
            console: options.console,
            die_with_parent: options.parent == Parent::Foreground,
            cgroup_mounts: self.record.cgroup_mounts.clone(),
            join_cgroups: if move_in { Vec::new() } else { birth.v1_tasks },
        };
        let mut netlink = if self.record.endpoints.is_empty() {
            None
        } else {
            Some(Netlink::new()?)
        };
        if options.parent == Parent::Monitor {
            // Leftovers of a previous run whose monitor died would block the names.
            if let Some(nl) = netlink.as_mut() {
                for e in endpoints::disconnect(nl, &self.record.endpoints) {
                    self.warn(&e.to_string());
                }
            }
        }
        Ok(Start {
            config,
            cgroup2,
            placer: Placer {
                container: self,
                cgroup,
                move_in,
                netlink,
                resolver: None,
            },
        })
    }
}

impl Placer<'_> {
    /// Moves `pid` into its cgroup where it is not born there, and connects its endpoints; the resolver then answers before
    /// the command runs (the child still waits in its handshake): a lookup the command makes at
    /// once must not find 127.0.0.11 silent, as it did when the resolver came up after the
    /// start.
    pub fn place(&mut self, pid: Pid) -> Result<(), InitError> {
        let rec = &self.container.record;
        if self.move_in {
            self.cgroup
                .add_pid(pid.as_raw_nonzero().get())
                .map_err(|e| InitError::msg(Step::Cgroups, None, e.to_string()))?;
        }
        let Some(nl) = self.netlink.as_mut() else {
            return Ok(());
        };
        let ns = endpoints::connect(nl, &rec.endpoints, pid.as_raw_nonzero().get() as u32)
            .map_err(|e| InitError::msg(Step::Network, None, e.to_string()))?;
        if let Some(dns) = &rec.dns {
            let resolver = Resolver::bind(
                ns.as_fd(),
                self.container.name_store(),
                ResolverConfig {
                    networks: dns.networks.clone(),
                    links: dns.links.clone(),
                    upstreams: dns.upstreams.clone(),
                },
            )
            .map_err(|e| {
                InitError::msg(
                    Step::Network,
                    None,
                    format!("starting the embedded DNS resolver: {e}"),
                )
            })?;
            self.resolver = Some(resolver);
        }
        Ok(())
    }

    /// The resolver [`Placer::place`] brought up, for the caller to serve.
    pub fn take_resolver(&mut self) -> Option<Resolver> {
        self.resolver.take()
    }

    /// The netlink socket of its endpoints, if it has any, for the clean-up after it.
    pub fn netlink(&mut self) -> Option<&mut Netlink> {
        self.netlink.as_mut()
    }
}

/// Points `spec`'s joins (`network_mode: service:`/`container:`, `pid`/`ipc` of another
/// container) at the other containers' PID 1 as they run now: it changes with each of their
/// restarts. A paused one is joined too (entering its namespaces does not touch its cgroup).
pub fn resolve_shared_namespaces(root: &Path, spec: &mut ContainerSpec) {
    let live_pid = |id: &str| {
        state::read_state(&StateRoot::new(root).container(id))
            .observed()
            .live_pid()
    };
    if let NetworkMode::Join { container, netns } = &mut spec.network {
        *netns = live_pid(container).map(|p| PathBuf::from(format!("/proc/{p}/ns/net")));
    }
    crate::engine::runtime::namespaces::resolve_joins(&mut spec.namespaces, live_pid);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::cgroups::{CgroupStats, Result as CgResult};
    use crate::engine::spec::Resources;
    use std::sync::Mutex;

    /// A cgroup that records the processes moved into it, born where `birth` says.
    #[derive(Debug, Default)]
    struct Recording {
        pids: Mutex<Vec<i32>>,
        birth: Birthplace,
    }

    impl ContainerCgroup for Recording {
        fn update(&self, _: &Resources) -> CgResult<Vec<String>> {
            Ok(Vec::new())
        }
        fn add_pid(&self, pid: i32) -> CgResult<()> {
            self.pids.lock().expect("lock").push(pid);
            Ok(())
        }
        fn birthplace(&self) -> Birthplace {
            self.birth.clone()
        }
        fn pids(&self) -> CgResult<Vec<i32>> {
            Ok(self.pids.lock().expect("lock").clone())
        }
        fn stats(&self) -> CgResult<CgroupStats> {
            Ok(CgroupStats::default())
        }
        fn freeze(&self) -> CgResult<()> {
            Ok(())
        }
        fn thaw(&self) -> CgResult<()> {
            Ok(())
        }
        fn is_frozen(&self) -> CgResult<bool> {
            Ok(false)
        }
        fn oom_kills(&self) -> CgResult<u64> {
            Ok(0)
        }
        fn kill_all(&self, _: rustix::process::Signal) -> CgResult<()> {
            Ok(())
        }
        fn remove(&self) -> CgResult<()> {
            Ok(())
        }
        fn paths(&self) -> Vec<(String, PathBuf)> {
            Vec::new()
        }
    }

    fn options(parent: Parent, terminal: bool) -> StartOptions {
        StartOptions {
            parent,
            terminal,
            console: terminal.then(|| PathBuf::from("/dev/pts/7")),
        }
    }

    #[test]
    fn only_a_foreground_container_dies_with_its_parent() {
        let c = Container::of(Path::new("/r"), &super::super::tests::record("web"));
        let cg = Recording::default();
        let fg = c
            .prepare_start(&cg, options(Parent::Foreground, true))
            .unwrap();
        assert!(fg.config.die_with_parent);
        assert!(fg.config.spec.process.terminal);
        assert_eq!(fg.config.console, Some(PathBuf::from("/dev/pts/7")));
        assert_eq!(fg.config.container_dir, c.dir());
        let bg = c
            .prepare_start(&cg, options(Parent::Monitor, false))
            .unwrap();
        assert!(!bg.config.die_with_parent);
        assert!(!bg.config.spec.process.terminal);
    }

    #[test]
    fn a_process_born_in_its_cgroups_is_not_moved_there() {
        let c = Container::of(Path::new("/r"), &super::super::tests::record("web"));
        let dir = tempfile::tempdir().unwrap();
        let tasks = vec![
            PathBuf::from("/cg/cpu/p/web/tasks"),
            PathBuf::from("/cg/memory/p/web/tasks"),
        ];
        let cg = Recording {
            birth: Birthplace {
                cgroup2: Some(dir.path().to_path_buf()),
                v1_tasks: tasks.clone(),
            },
            ..Recording::default()
        };
        let mut start = c
            .prepare_start(&cg, options(Parent::Foreground, false))
            .unwrap();
        // Cloned into the cgroup2 directory; the v1 hierarchies it joins itself.
        assert!(start.cgroup2.is_some());
        assert_eq!(start.config.join_cgroups, tasks);
        start.placer.place(Pid::from_raw(4242).unwrap()).unwrap();
        assert!(cg.pids.lock().unwrap().is_empty(), "moved: {:?}", cg.pids);

        // A cgroup2 directory that cannot be opened: moved in, v1 included, the old way.
        let cg = Recording {
            birth: Birthplace {
                cgroup2: Some(dir.path().join("gone")),
                v1_tasks: tasks,
            },
            ..Recording::default()
        };
        let mut start = c
            .prepare_start(&cg, options(Parent::Foreground, false))
            .unwrap();
        assert!(start.cgroup2.is_none());
        assert!(start.config.join_cgroups.is_empty());
        start.placer.place(Pid::from_raw(4243).unwrap()).unwrap();
        assert_eq!(*cg.pids.lock().unwrap(), [4243]);
    }

    #[test]
    fn placing_puts_the_process_in_its_cgroup() {
        let c = Container::of(Path::new("/r"), &super::super::tests::record("web"));
        let cg = Recording::default();
        let mut start = c
            .prepare_start(&cg, options(Parent::Monitor, false))
            .unwrap();
        start.placer.place(Pid::from_raw(4242).unwrap()).unwrap();
        assert_eq!(*cg.pids.lock().unwrap(), [4242]);
        // No network: no resolver to serve.
        assert!(start.placer.take_resolver().is_none());
    }
}
