//! What follows a container's exit: its names withdrawn, its veths deleted, its cgroup removed
//! and the end recorded. The monitor does the network part after each exit; a command that
//! finds the monitor gone (killed, or a reboot) does all of it ([`Container::clean_up_orphan`]).

use std::os::fd::AsFd;
use std::time::Duration;

use rustix::process::Signal;

use super::{pidfd, Container, ContainerError};
use crate::engine::cgroups::Layout;
use crate::engine::network::endpoints;
use crate::engine::network::link::Netlink;
use crate::engine::state::{self, Status};
use crate::engine::timestamp::now_rfc3339_nanos;

impl Container {
    /// Undoes a start's network side: names withdrawn, host ends of the veths deleted (the
    /// container ends go with them). Idempotent. `nl` is the caller's netlink socket, if it has
    /// one.
    pub fn release_network(&self, nl: Option<&mut Netlink>) {
        let rec = &self.record;
        let mut errors = endpoints::withdraw_names(&self.name_store(), &rec.id, &rec.endpoints);
        if !rec.endpoints.is_empty() {
            match nl {
                Some(nl) => errors.extend(endpoints::disconnect(nl, &rec.endpoints)),
                None => match Netlink::new() {
                    Ok(mut nl) => errors.extend(endpoints::disconnect(&mut nl, &rec.endpoints)),
                    Err(e) => self.warn(&format!("opening netlink to delete its veths: {e}")),
                },
            }
        }
        for e in errors {
            self.warn(&e.to_string());
        }
    }

    /// [`Container::release_network`] for a container whose network namespace ends with it,
    /// the foreground `run`'s: its names are withdrawn, and its veth pairs are left to the
    /// kernel, which deletes each pair with the namespace once nothing holds it (its processes
    /// are gone, and the caller has dropped its resolver, the last descriptor of ours in it).
    /// Deleting them here (`RTM_DELLINK`) waits for RCU grace periods, 10–30 ms on these
    /// machines: most of what a network added to `run --rm`. A namespace that something else
    /// still holds (an `nsenter` into it) keeps its pair until it lets go; its address is free
    /// again meanwhile, which is harmless as addresses are handed out serially, never a
    /// just-released one.
    pub fn release_network_with_namespace(&self) {
        let rec = &self.record;
        for e in endpoints::withdraw_names(&self.name_store(), &rec.id, &rec.endpoints) {
            self.warn(&e.to_string());
        }
    }

    /// What the monitor would have done after the container's exit, for a container whose
    /// monitor is gone: kill what is left, withdraw its names, remove its veths and cgroup,
    /// record the end.
    pub fn clean_up_orphan(&self) -> Result<(), ContainerError> {
        // Removed meanwhile (`rm`, `down` in another command): nothing left to record.
        if state::read_record(&self.root, &self.record.id)?.is_none() {
            return Ok(());
        }
        let mut st = self.recorded_state();
        if st.boot_id == state::boot_id() {
            if let Some(fd) = pidfd::open(st.pid, st.pid_start) {
                // Already gone is fine: the wait below returns at once.
                if let Err(e) = pidfd::signal(fd.as_fd(), Signal::KILL) {
                    self.warn(&format!("killing what is left of it: {e}"));
                }
                pidfd::wait(fd.as_fd(), Some(Duration::from_secs(10)));
            }
        }
        self.release_network(None);
        // No cgroup hierarchy, or no cgroup left: nothing to remove.
        if let Ok(layout) = Layout::detect() {
            if let Ok(m) = self.cgroup_manager(&layout) {
                if let Ok(cg) = m.open(self.record.cgroup_group(), &self.record.id) {
                    if let Err(e) = cg.kill_all(Signal::KILL).and_then(|()| cg.remove()) {
                        self.warn(&format!("removing its cgroup: {e}"));
                    }
                }
            }
        }
        if matches!(st.status, Status::Running | Status::Restarting) || st.pid.is_some() {
            st.status = Status::Exited;
            st.exit_code = st.exit_code.or(Some(137));
            st.pid = None;
            st.pid_start = None;
            st.monitor_pid = None;
            st.monitor_start = None;
            st.finished_at = Some(now_rfc3339_nanos());
            st.boot_id = state::boot_id();
            state::write_state(&self.dir, &st)?;
        }
        Ok(())
    }
}
