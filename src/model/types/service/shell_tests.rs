//! Tests of command-line splitting and the command forms.

use super::*;
use crate::model::types::fields::test_support::load;
use crate::model::types::service::ServiceConfig;

fn svc(body: &str) -> ServiceConfig {
    load::<ServiceConfig>(body).unwrap_or_else(|e| panic!("{body}: {e}"))
}

#[test]
fn shell_words_split_like_compose() {
    let cases: [(&str, &[&str]); 10] = [
        (
            "bundle exec thin -p 3000",
            &["bundle", "exec", "thin", "-p", "3000"],
        ),
        ("  a   b\tc\n", &["a", "b", "c"]),
        (
            r#"sh -c "echo 'hi there'""#,
            &["sh", "-c", "echo 'hi there'"],
        ),
        (r#"echo 'a "b" c'"#, &["echo", r#"a "b" c"#]),
        (r#"echo a\ b"#, &["echo", "a b"]),
        (r#"echo "" x"#, &["echo", "", "x"]),
        ("echo a && echo b", &["echo", "a"]),
        ("echo $(date) `id`", &["echo", "$(date)", "`id`"]),
        (r#"printf "a\tb""#, &["printf", "a\tb"]),
        ("", &[]),
    ];
    for (line, want) in cases {
        assert_eq!(split_shell_words(line).unwrap(), want, "{line:?}");
    }
    assert_eq!(
        split_shell_words("echo 'open").unwrap_err(),
        "unterminated quote or escape"
    );
    assert_eq!(split_shell_words("echo (x)").unwrap_err(), "unexpected `(`");
}

#[test]
fn command_and_entrypoint_forms() {
    let cmd = |body: &str| svc(body).command;
    assert_eq!(cmd("image: x\n"), None);
    assert_eq!(cmd("command: null\n"), None);
    assert_eq!(cmd("command: []\n"), Some(ShellCommand(vec![])));
    assert_eq!(cmd("command: ''\n"), Some(ShellCommand(vec![])));
    assert_eq!(
        cmd("command: echo \"a b\"\n"),
        cmd("command: [echo, a b]\n"),
    );
    assert_eq!(
        svc("entrypoint: /bin/sh -c\n").entrypoint,
        Some(ShellCommand(vec!["/bin/sh".into(), "-c".into()]))
    );
    let err = load::<ServiceConfig>("command: \"echo 'x\"\n").unwrap_err();
    assert_eq!(err.path, "command");
    assert_eq!(
        err.kind.to_string(),
        "invalid command \"echo 'x\": unterminated quote or escape"
    );
}
