//! The ServiceAccount, Role and RoleBinding init containers run as to wait for a Job: reading
//! Jobs is all they may do, in their own namespace.

use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::context::Context;
use super::labels;
use super::names;
use super::object::Object;

/// The waiter's objects, when [`Context::needs_waiter`].
pub fn objects(ctx: &Context<'_>) -> Vec<Object> {
    if !ctx.needs_waiter() {
        return Vec::new();
    }
    let name = names::waiter(ctx.name);
    let meta = ObjectMeta {
        name: Some(name.clone()),
        labels: Some(labels::standard(ctx.name, None)),
        ..ObjectMeta::default()
    };
    let rule = PolicyRule {
        api_groups: Some(vec!["batch".to_string()]),
        resources: Some(vec!["jobs".to_string()]),
        verbs: ["get", "list", "watch"].map(String::from).to_vec(),
        ..PolicyRule::default()
    };
    vec![
        Object::ServiceAccount(ServiceAccount {
            metadata: meta.clone(),
            ..ServiceAccount::default()
        }),
        Object::Role(Role {
            metadata: meta.clone(),
            rules: Some(vec![rule]),
        }),
        Object::RoleBinding(RoleBinding {
            metadata: meta,
            role_ref: RoleRef {
                api_group: "rbac.authorization.k8s.io".to_string(),
                kind: "Role".to_string(),
                name: name.clone(),
            },
            // No namespace: a RoleBinding's ServiceAccount subject defaults to the binding's
            // own, so the output applies to whatever namespace it is applied in.
            subjects: Some(vec![Subject {
                kind: "ServiceAccount".to_string(),
                name,
                ..Subject::default()
            }]),
        }),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kube::test_support::{yaml, Fixture};

    #[test]
    fn waiting_for_a_job_makes_an_account_that_may_read_jobs() {
        let f = Fixture::new(
            "services:\n  migrate:\n    image: m\n  web:\n    image: w\n    depends_on:\n      \
             migrate: {condition: service_completed_successfully}\n",
        );
        let text = yaml(&objects(&f.ctx()));
        assert_eq!(
            text,
            "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  labels:\n    app.kubernetes.io/managed-by: compose\n    \
             app.kubernetes.io/part-of: demo\n  name: demo-wait\n---\n\
             apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  labels:\n    app.kubernetes.io/managed-by: compose\n    \
             app.kubernetes.io/part-of: demo\n  name: demo-wait\nrules:\n- apiGroups:\n  - batch\n  resources:\n  - jobs\n  verbs:\n  \
             - get\n  - list\n  - watch\n---\n\
             apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  labels:\n    app.kubernetes.io/managed-by: compose\n    \
             app.kubernetes.io/part-of: demo\n  name: demo-wait\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: Role\n  \
             name: demo-wait\nsubjects:\n- kind: ServiceAccount\n  name: demo-wait\n"
        );
    }

    #[test]
    fn no_job_waited_for_no_account() {
        let f = Fixture::new(
            "services:\n  db:\n    image: d\n  web:\n    image: w\n    depends_on:\n      db: {condition: service_healthy}\n",
        );
        assert!(objects(&f.ctx()).is_empty());
    }
}
