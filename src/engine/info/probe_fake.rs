//! A host described field by field that records which questions were asked, for the mapping's
//! tests.

use std::cell::RefCell;

use super::{CgroupFacts, CgroupVersion, HostProbe};

/// A host with everything the engine uses, until a test takes something away.
pub(super) struct FakeHost {
    pub kernel: Option<String>,
    pub cgroups: Option<CgroupFacts>,
    pub overlay: Option<Vec<String>>,
    pub mount_setattr: bool,
    pub user_namespaces: bool,
    pub seccomp: bool,
    pub nftables: bool,
    pub clone3: bool,
    pub pidfd: bool,
    pub criu: Option<String>,
    pub asked: RefCell<Vec<&'static str>>,
}

impl FakeHost {
    pub(super) fn complete() -> FakeHost {
        let controllers = ["cpu", "cpuset", "hugetlb", "io", "memory", "pids"];
        FakeHost {
            kernel: Some("6.1.0-test".into()),
            cgroups: Some(CgroupFacts {
                version: CgroupVersion::V2,
                controllers: controllers.iter().map(|c| c.to_string()).collect(),
            }),
            overlay: Some(vec!["redirect_dir=N".into()]),
            mount_setattr: true,
            user_namespaces: true,
            seccomp: true,
            nftables: true,
            clone3: true,
            pidfd: true,
            criu: Some("3.17".into()),
            asked: RefCell::new(Vec::new()),
        }
    }

    fn ask(&self, what: &'static str) {
        self.asked.borrow_mut().push(what);
    }
}

impl HostProbe for FakeHost {
    fn kernel(&self) -> Option<String> {
        self.ask("kernel");
        self.kernel.clone()
    }
    fn cgroups(&self) -> Option<CgroupFacts> {
        self.ask("cgroups");
        self.cgroups.clone()
    }
    fn overlay(&self) -> Option<Vec<String>> {
        self.ask("overlay");
        self.overlay.clone()
    }
    fn mount_setattr(&self) -> bool {
        self.ask("mount_setattr");
        self.mount_setattr
    }
    fn user_namespaces(&self) -> bool {
        self.ask("user_namespaces");
        self.user_namespaces
    }
    fn seccomp(&self) -> bool {
        self.ask("seccomp");
        self.seccomp
    }
    fn nftables(&self) -> bool {
        self.ask("nftables");
        self.nftables
    }
    fn clone3(&self) -> bool {
        self.ask("clone3");
        self.clone3
    }
    fn pidfd(&self) -> bool {
        self.ask("pidfd");
        self.pidfd
    }
    fn criu(&self) -> Option<String> {
        self.ask("criu");
        self.criu.clone()
    }
}
