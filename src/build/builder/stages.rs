//! Which stages a build needs and in what order: the target and, transitively, every stage it
//! names in `FROM`, `COPY --from` or `RUN --mount=...,from=`. A stage nothing needs is skipped
//! (BuildKit's rule; the legacy builder built them all).

use crate::build::dockerfile::{Dockerfile, InstructionKind, Mount};

/// What a `--from` (or a FROM image) names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FromRef {
    /// An earlier stage, by index.
    Stage(usize),
    /// Anything else: a named context or an image reference.
    External(String),
}

/// Resolves `name` (a stage name, case-insensitive, or a stage index) among the stages before
/// `before`; a later stage cannot be named (Docker: "circular dependency").
pub fn resolve(dockerfile: &Dockerfile, name: &str, before: usize) -> FromRef {
    let lower = name.to_ascii_lowercase();
    if let Some(i) = dockerfile.stages[..before]
        .iter()
        .position(|s| s.from.name.as_deref() == Some(lower.as_str()))
    {
        return FromRef::Stage(i);
    }
    match name.parse::<usize>() {
        Ok(i) if i < before => FromRef::Stage(i),
        _ => FromRef::External(name.to_string()),
    }
}

/// The names stage `i` takes its base (`true`) or files (`false`) from: its FROM, each
/// `COPY --from` and `RUN --mount=...,from=`.
pub fn references(dockerfile: &Dockerfile, i: usize) -> Vec<(String, bool)> {
    let stage = &dockerfile.stages[i];
    let mut out = vec![(stage.from.image.clone(), true)];
    for ins in &stage.instructions {
        match &ins.kind {
            InstructionKind::Copy(c) | InstructionKind::Add(c) => {
                out.extend(c.from.clone().map(|f| (f, false)))
            }
            InstructionKind::Run(r) => {
                for m in &r.mounts {
                    let from = match m {
                        Mount::Bind { from, .. } => from.clone(),
                        Mount::Cache(c) => c.from.clone(),
                        _ => None,
                    };
                    out.extend(from.map(|f| (f, false)));
                }
            }
            _ => {}
        }
    }
    out
}

/// The stages stage `i` needs built before it.
pub fn deps(dockerfile: &Dockerfile, i: usize) -> Vec<usize> {
    let mut out: Vec<usize> = references(dockerfile, i)
        .into_iter()
        .filter_map(|(name, _)| match resolve(dockerfile, &name, i) {
            FromRef::Stage(j) => Some(j),
            FromRef::External(_) => None,
        })
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// The index of the target stage: the named one, else the last.
pub fn target(dockerfile: &Dockerfile, target: Option<&str>) -> Option<usize> {
    match target {
        None => Some(dockerfile.stages.len() - 1),
        Some(t) => {
            let lower = t.to_ascii_lowercase();
            dockerfile
                .stages
                .iter()
                .position(|s| s.from.name.as_deref() == Some(lower.as_str()))
        }
    }
}

/// The stages to build for `target`, each after every stage it needs (ascending order, which
/// is a valid one since a stage can only name earlier ones).
pub fn needed(dockerfile: &Dockerfile, target: usize) -> Vec<usize> {
    let mut need = vec![false; dockerfile.stages.len()];
    let mut todo = vec![target];
    while let Some(i) = todo.pop() {
        if std::mem::replace(&mut need[i], true) {
            continue;
        }
        todo.extend(deps(dockerfile, i));
    }
    (0..need.len()).filter(|&i| need[i]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::dockerfile::parse;

    #[test]
    fn only_the_stages_the_target_needs_are_built() {
        let df = parse(
            "FROM scratch AS a\nFROM scratch AS unused\nFROM a AS b\nCOPY --from=0 /x /x\n\
             FROM scratch AS c\nCOPY --from=b /y /y\nRUN --mount=type=bind,from=unused2,target=/m true\n",
            "Dockerfile",
        )
        .unwrap();
        assert_eq!(needed(&df, 3), vec![0, 2, 3]);
        assert_eq!(needed(&df, 1), vec![1]);
        assert_eq!(deps(&df, 3), vec![2]);
        assert_eq!(deps(&df, 2), vec![0]);
        assert_eq!(target(&df, None), Some(3));
        assert_eq!(target(&df, Some("B")), Some(2));
        assert_eq!(target(&df, Some("nope")), None);
    }

    #[test]
    fn a_name_resolves_to_an_earlier_stage_or_is_external() {
        let df = parse("FROM scratch AS a\nFROM a AS b\n", "Dockerfile").unwrap();
        assert_eq!(resolve(&df, "A", 1), FromRef::Stage(0));
        assert_eq!(resolve(&df, "0", 1), FromRef::Stage(0));
        assert_eq!(resolve(&df, "b", 1), FromRef::External("b".into()));
        assert_eq!(resolve(&df, "1", 1), FromRef::External("1".into()));
        assert_eq!(
            resolve(&df, "busybox:1", 1),
            FromRef::External("busybox:1".into())
        );
    }
}
