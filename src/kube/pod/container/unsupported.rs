//! Container keys Kubernetes has no place for: each one set is warned about by its key, with
//! what to do instead, so nothing is dropped silently.

use crate::kube::warning::Warnings;
use crate::model::types::service::ServiceConfig;

/// Warns about every key of `svc` in this file's table that is set.
pub fn warn(svc: &ServiceConfig, name: &str, w: &mut Warnings) {
    for (key, limit) in &svc.ulimits {
        let (soft, hard) = limit.limits();
        w.service(
            name,
            format!("ulimits.{key}"),
            format!("Kubernetes sets no per-container ulimits (soft {soft}, hard {hard}): they come from the node's container runtime; raise them there or with `ulimit` in the command"),
        );
    }
    for (i, d) in svc.devices.iter().enumerate() {
        w.service(
            name,
            format!("devices[{i}]"),
            format!("host device {:?} cannot be passed to a pod: use a device plugin (or a privileged container with a hostPath volume)", d.source),
        );
    }
    let set = |s: &Option<String>| s.as_deref().is_some_and(|s| !s.is_empty());
    let table: [(&str, bool, &str); 23] = [
        ("logging", svc.logging.is_some(), "Kubernetes keeps container output on the node (`kubectl logs`); ship logs with a cluster log agent instead"),
        ("device_cgroup_rules", !svc.device_cgroup_rules.is_empty(), "device cgroup rules cannot be set for a pod: use a device plugin"),
        ("init", svc.init == Some(true), "Kubernetes runs no init process in the container: reap children in the entrypoint (e.g. tini), or set the pod's shareProcessNamespace"),
        ("oom_kill_disable", svc.oom_kill_disable, "Kubernetes cannot exempt a container from the OOM killer: set a memory limit that fits"),
        ("oom_score_adj", svc.oom_score_adj.is_some(), "Kubernetes derives the OOM score from the pod's QoS class (requests equal to limits: Guaranteed)"),
        ("runtime", set(&svc.runtime), "choose the runtime with a RuntimeClass and the pod's runtimeClassName"),
        ("isolation", set(&svc.isolation), "Windows isolation is the node's in Kubernetes: left out"),
        ("platform", set(&svc.platform), "pods run on their node's platform: pin it with a nodeSelector on kubernetes.io/arch and kubernetes.io/os"),
        ("credential_spec", svc.credential_spec.is_some(), "use the pod's securityContext.windowsOptions (gMSA) on Windows nodes"),
        ("blkio_config", svc.blkio_config.is_some(), "Kubernetes sets no block I/O weights or throttles: left out"),
        ("storage_opt", !svc.storage_opt.is_empty(), "the writable layer's size is limited with an ephemeral-storage limit in Kubernetes: left out"),
        ("cpuset", set(&svc.cpuset), "Kubernetes pins CPUs only with the kubelet's static CPU manager (Guaranteed pods with whole CPUs): left out"),
        ("cpu_rt_runtime", svc.cpu_rt_runtime.is_some(), "Kubernetes sets no real-time CPU budget: left out"),
        ("cpu_rt_period", svc.cpu_rt_period.is_some(), "Kubernetes sets no real-time CPU period: left out"),
        ("cpu_count", svc.cpu_count.is_some(), "Windows CPU count: use `cpus` (a CPU limit) instead"),
        ("cpu_percent", svc.cpu_percent.is_some(), "Windows CPU percent: use `cpus` (a CPU limit) instead"),
        ("memswap_limit", svc.memswap_limit.is_some(), "swap is the node's setting in Kubernetes (NodeSwap): left out"),
        ("mem_swappiness", svc.mem_swappiness.is_some(), "swappiness is the node's setting in Kubernetes: left out"),
        ("pull_refresh_after", set(&svc.pull_refresh_after), "Kubernetes has no periodic pull: use imagePullPolicy Always or a new tag"),
        ("use_api_socket", svc.use_api_socket, "a pod cannot reach this host's engine socket: left out"),
        ("container_name", set(&svc.container_name), "pods get generated names: other services reach this one by its service name only"),
        ("models", !svc.models.is_empty(), "model runner models are not served in Kubernetes: deploy the model server as a service and point the variables at it"),
        ("pre_start", !svc.pre_start.is_empty(), "pre-start containers are not carried over: make them init containers by hand"),
    ];
    for (key, present, message) in table {
        if present {
            w.service(name, key, message);
        }
    }
    if svc.provider.is_some() {
        w.service(
            name,
            "provider",
            "a provider service is set up by its plugin on this host: create the resource it provides in the cluster",
        );
    }
}
