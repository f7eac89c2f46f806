//! YAML for Kubernetes: what we write must read back as the same values in YAML 1.1, which is
//! what the cluster's tools read (kubectl and the API server through go-yaml v2, Helm, PyYAML).
//!
//! serde_yaml_ng's emitter writes YAML 1.2: it leaves `no`, `on`, `y` and `1_000` plain, which a
//! YAML 1.1 reader takes for `false`, `true`, `true` and `1000` (an environment value `no` became
//! a boolean the API server refuses). So objects are written by the emitter `compose config`
//! uses ([`crate::model::output::to_yaml_compact`], in kubectl's layout), which quotes every string a YAML 1.1 or 1.2 reader
//! could read as something else, and writes multi-line text as literal blocks so config files
//! stay readable.

use serde::Serialize;

/// `value` as a YAML document (no `---` line), maps in the order the value serializes them.
pub fn to_string<T: Serialize>(value: &T) -> Result<String, serde_yaml_ng::Error> {
    Ok(crate::model::output::to_yaml_compact(
        &serde_yaml_ng::to_value(value)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const TRICKY: &[&str] = &[
        "no",
        "yes",
        "on",
        "Off",
        "y",
        "N",
        "True",
        "NULL",
        "~",
        "0x10",
        "1e3",
        "012",
        ".inf",
        "-.Inf",
        ".NaN",
        "1_000",
        "0o17",
        "-",
        "- x",
        "a: b",
        "a #b",
        "#x",
        "@x",
        "2024-01-01",
        "1:20",
        "0",
        "-1",
        "+1",
        "1.5",
        "",
        " lead",
        "trail ",
        "x:",
        "multi\nline\n",
        "two\n",
        "no newline\nat end",
        "server {\n    listen 80;\n}\n",
        "\n  x\n",
        "a\n\n  b\n",
        "many\n\n\n",
        "\n",
        " indented\nfirst",
        "tab\there",
        "cr\r\n",
        "quote\"s and \\",
        "bell\u{7}",
        "{a}",
        "[a]",
        "*ref",
        "&anchor",
        "!tag",
        "|",
        ">",
        "%x",
        "'",
        "`x`",
        "é",
        "1Gi",
        "500m",
        "busybox:1.36",
        "app.kubernetes.io/name",
        "Accounting web app",
        "$(sed -n 's/x/y/p')",
        "-c",
        "+e",
        "-1e",
        "1e",
        ".",
        "-.5",
    ];

    #[test]
    fn every_string_reads_back_as_itself() {
        for s in TRICKY {
            let doc = json!({"k": s, "list": [s], "m": {*s: [{"a": s, "b": s}]}});
            let text = to_string(&doc).unwrap();
            let back: serde_json::Value = serde_yaml_ng::from_str(&text)
                .unwrap_or_else(|e| panic!("{s:?} gave unreadable YAML {text:?}: {e}"));
            assert_eq!(back, doc, "{s:?} as {text}");
        }
    }

    #[test]
    fn what_yaml_1_1_reads_as_no_string_is_quoted() {
        for s in [
            "no",
            "yes",
            "on",
            "off",
            "y",
            "n",
            "1_000",
            "2024-01-01",
            "1:20",
            ".inf",
            "0o17",
        ] {
            assert_eq!(to_string(&json!(s)).unwrap(), format!("\"{s}\"\n"));
        }
        for s in [
            "web",
            "1Gi",
            "500m",
            "busybox:1.36",
            "app.kubernetes.io/name",
            "/data",
            "-c",
            "-e",
        ] {
            assert_eq!(to_string(&json!(s)).unwrap(), format!("{s}\n"));
        }
    }

    #[test]
    fn documents_are_written_as_kubectl_writes_them() {
        let doc = json!({
            "kind": "Deployment",
            "spec": {
                "replicas": 2,
                "empty": {},
                "none": [],
                "containers": [{"name": "web", "args": ["-p", "80"], "tty": true}],
                "nested": [["a"]],
                "data": "line 1\nline 2\n",
            },
        });
        let want = "kind: Deployment\n\
spec:\n  replicas: 2\n  empty: {}\n  none: []\n  containers:\n  - name: web\n    args:\n    - -p\n    - \"80\"\n    tty: true\n  nested:\n  - - a\n  data: |\n    line 1\n    line 2\n";
        assert_eq!(to_string(&doc).unwrap(), want);
    }
}
