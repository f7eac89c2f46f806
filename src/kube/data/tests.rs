use indexmap::IndexMap;

use super::*;
use crate::kube::test_support::{keys, warning, yaml, Fixture};

fn fixture() -> Fixture {
    let mut f = Fixture::new(
        "services:\n  web:\n    image: w\n\
         configs:\n  app_config:\n    file: ./app.conf\n    labels: {tier: web}\n    template_driver: golang\n  \
         blob:\n    file: ./blob.bin\n  ext_config:\n    external: true\n\
         secrets:\n  db_password:\n    file: ./pw\n    driver: vault\n    driver_opts: {path: x}\n",
    );
    f.contents.env_files.insert(
        "web".into(),
        IndexMap::from([
            ("B".to_string(), "2".to_string()),
            ("A".to_string(), "1".to_string()),
            ("BAD KEY".to_string(), "x".to_string()),
        ]),
    );
    f.contents
        .configs
        .insert("app_config".into(), b"port=80\n".to_vec());
    f.contents.configs.insert("blob".into(), vec![0xff, 0x00]);
    f.contents
        .secrets
        .insert("db_password".into(), b"s3cret".to_vec());
    f
}

#[test]
fn env_files_configs_and_secrets_become_objects() {
    let f = fixture();
    let mut w = Warnings::default();
    let text = yaml(&objects(&f.ctx(), &mut w).unwrap());
    let want_env = "apiVersion: v1\nkind: ConfigMap\ndata:\n  A: \"1\"\n  B: \"2\"\nmetadata:\n  labels:\n    \
        app.kubernetes.io/managed-by: compose\n    app.kubernetes.io/name: web\n    app.kubernetes.io/part-of: demo\n  name: web-env\n";
    assert!(text.starts_with(want_env), "{text}");
    assert!(
        text.contains("kind: ConfigMap\ndata:\n  app_config: |\n    port=80\n"),
        "the data key is the Compose key: {text}"
    );
    assert!(
        text.contains("    tier: web\n  name: app-config\n"),
        "{text}"
    );
    assert!(
        text.contains("kind: ConfigMap\nbinaryData:\n  blob: /wA=\n"),
        "non-UTF-8 content is binary data: {text}"
    );
    assert!(
        text.contains("kind: Secret\ndata:\n  db_password: czNjcmV0\n"),
        "a Secret's data is base64: {text}"
    );
    assert!(
        text.contains("  name: db-password\ntype: Opaque\n"),
        "{text}"
    );
    assert!(!text.contains("ext_config") && !text.contains("ext-config"));
    assert_eq!(
        keys(&w, None),
        [
            "configs.app_config.template_driver",
            "secrets.db_password.driver",
            "secrets.db_password.driver_opts.path"
        ]
    );
    assert!(warning(&w, "env_file").message.contains("\"BAD KEY\""));
}

#[test]
fn a_key_kubernetes_cannot_hold_is_refused() {
    let mut f =
        Fixture::new("services:\n  web:\n    image: w\nconfigs:\n  'my config':\n    content: x\n");
    f.contents.configs.insert("my config".into(), b"x".to_vec());
    let err = objects(&f.ctx(), &mut Warnings::default()).unwrap_err();
    assert!(
        err.to_string().starts_with("configs.my config: cannot be"),
        "{err}"
    );
}
