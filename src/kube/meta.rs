//! The metadata of the objects the project-level parts make: a name, our standard labels, and
//! the Compose labels of what the object stands for (a volume's, a config's, `deploy.labels`).

use std::collections::BTreeMap;

use indexmap::IndexMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::labels;

/// `name`, labelled with `standard` plus the `compose` labels Kubernetes can hold as labels;
/// the others (not label-shaped, or a key `standard` already sets) become annotations, so none
/// is lost.
pub fn object_meta(
    name: String,
    standard: BTreeMap<String, String>,
    compose: &IndexMap<String, String>,
) -> ObjectMeta {
    let mut label_map = standard;
    let mut annotations = BTreeMap::new();
    for (k, v) in compose {
        if labels::is_valid_label(k, v) && !label_map.contains_key(k) {
            label_map.insert(k.clone(), v.clone());
        } else {
            annotations.insert(k.clone(), v.clone());
        }
    }
    ObjectMeta {
        name: Some(name),
        labels: Some(label_map),
        annotations: (!annotations.is_empty()).then_some(annotations),
        ..ObjectMeta::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compose_labels_split_into_labels_and_annotations() {
        let compose: IndexMap<String, String> = [
            ("tier", "db"),
            ("com.example.description", "Main database"),
            (labels::PART_OF, "other"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let m = object_meta("data".into(), labels::standard("demo", None), &compose);
        let l = m.labels.unwrap();
        assert_eq!(l["tier"], "db");
        assert_eq!(l[labels::PART_OF], "demo");
        let a = m.annotations.unwrap();
        assert_eq!(a["com.example.description"], "Main database");
        assert_eq!(a[labels::PART_OF], "other");
        let bare = object_meta("x".into(), BTreeMap::new(), &IndexMap::new());
        assert_eq!(bare.annotations, None);
    }
}
