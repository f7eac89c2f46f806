//! What `inspect` shows as Docker's `Config.User`, `Config.Entrypoint` and `Config.Cmd`: the
//! planner resolves a user into ids and joins entrypoint and command into one argv, so the
//! creating command records the pieces as Docker would report them (image defaults merged in).

use oci_spec::image::ImageConfiguration;

use super::container::{argv_parts, user_text, OneOffOverrides};
use crate::engine::state::Requested;
use crate::model::types::service::ServiceConfig;

/// The requested user and the entrypoint's share of the argv, by the same rules the planner
/// builds the process with.
pub fn requested(
    svc: &ServiceConfig,
    run: Option<&OneOffOverrides>,
    image: &ImageConfiguration,
) -> Requested {
    let none = OneOffOverrides::default();
    let run = run.unwrap_or(&none);
    let config = image.config().as_ref();
    Requested {
        user: user_text(svc, run, config).filter(|u| !u.is_empty()),
        entrypoint_len: argv_parts(svc, run, config).0.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(entrypoint: &[&str], cmd: &[&str], user: &str) -> ImageConfiguration {
        serde_json::from_value(serde_json::json!({
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": []},
            "config": {"Entrypoint": entrypoint, "Cmd": cmd, "User": user},
        }))
        .expect("image config")
    }

    fn service(yaml: &str) -> ServiceConfig {
        serde_yaml_ng::from_str(yaml).expect("service")
    }

    #[test]
    fn entrypoint_and_user_are_split_out_as_docker_reports_them() {
        let img = image(&["/entry", "-x"], &["serve"], "");
        // The image's entrypoint and command: two words of entrypoint.
        let r = requested(&service("image: i\n"), None, &img);
        assert_eq!((r.user, r.entrypoint_len), (None, 2));
        // A service entrypoint replaces the image's (and its Cmd).
        let r = requested(
            &service("image: i\nentrypoint: [/a]\nuser: '1000:1000'\n"),
            None,
            &img,
        );
        assert_eq!(
            (r.user.as_deref(), r.entrypoint_len),
            (Some("1000:1000"), 1)
        );
        // `entrypoint: []` drops the image's: everything is command.
        let r = requested(&service("image: i\nentrypoint: []\n"), None, &img);
        assert_eq!(r.entrypoint_len, 0);
        // `run --user` wins over the service's, the image's user shows when neither is set.
        let run = OneOffOverrides {
            user: Some("nobody".into()),
            ..OneOffOverrides::default()
        };
        let r = requested(&service("image: i\nuser: root\n"), Some(&run), &img);
        assert_eq!(r.user.as_deref(), Some("nobody"));
        let r = requested(&service("image: i\n"), None, &image(&[], &["sh"], "daemon"));
        assert_eq!((r.user.as_deref(), r.entrypoint_len), (Some("daemon"), 0));
    }
}
