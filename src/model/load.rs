//! The loading pipeline: from command-line options to a typed, validated project.
//!
//! Order matters and follows Docker Compose: files are found and the environment is read first
//! (the environment can name the files: `COMPOSE_FILE` may sit in `.env`); each file is parsed,
//! interpolated, gets its `include`s and `extends` resolved, then files are merged in order; the
//! project is named; relative paths are made absolute; only then is the tree typed, profiles
//! applied, defaults filled in and references checked. [`load_model`] stops before typing, for
//! `config --no-interpolate`, whose output still holds `${...}` that no type would accept.

use std::cell::RefCell;
use std::path::{Path, PathBuf};

use super::de;
use super::discovery;
use super::environment::{default_env_files, Environment};
use super::error::{ErrorKind, LoadError, Result, Span};
use super::extends;
use super::include;
use super::interpolate;
use super::merge;
use super::normalize;
use super::paths;
use super::profiles;
use super::types::resources::Project;
use super::validate;
use super::yaml::{parse_file_text, Key, Node};

/// What the user asked for: the command line and environment, before anything is read.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// `-f` files, relative to `working_dir`; `-` is standard input (`stdin` holds its text).
    pub files: Vec<PathBuf>,
    pub stdin: Option<String>,
    /// The directory the command runs in.
    pub working_dir: PathBuf,
    pub project_directory: Option<PathBuf>,
    pub project_name: Option<String>,
    pub env_files: Vec<PathBuf>,
    pub profiles: Vec<String>,
    /// Services named on the command line: they are enabled whatever their profiles.
    pub services: Vec<String>,
    /// The process environment (injected so tests never depend on the real one).
    pub os_env: Environment,
    pub interpolate: bool,
    pub normalize: bool,
    pub resolve_paths: bool,
    pub consistency: bool,
    /// Read each service's `env_file`s into its `environment`.
    pub resolve_env_files: bool,
}

impl LoadOptions {
    pub fn new(working_dir: impl Into<PathBuf>, os_env: Environment) -> Self {
        LoadOptions {
            files: Vec::new(),
            stdin: None,
            working_dir: working_dir.into(),
            project_directory: None,
            project_name: None,
            env_files: Vec::new(),
            profiles: Vec::new(),
            services: Vec::new(),
            os_env,
            interpolate: true,
            normalize: true,
            resolve_paths: true,
            consistency: true,
            resolve_env_files: true,
        }
    }
}

/// The merged, untyped model and what was learned while reading it.
#[derive(Debug, Clone)]
pub struct LoadedModel {
    pub name: String,
    pub tree: Node,
    pub project_dir: PathBuf,
    pub config_files: Vec<PathBuf>,
    pub environment: Environment,
    pub profiles: Vec<String>,
    pub warnings: Vec<String>,
}

/// A typed project ready for the planner.
#[derive(Debug, Clone)]
pub struct LoadedProject {
    pub project: Project,
    pub model: LoadedModel,
    /// Every profile named by any service (enabled or not), sorted.
    pub all_profiles: Vec<String>,
}

fn absolute(base: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

fn is_stdin(p: &Path) -> bool {
    p.as_os_str() == "-"
}

/// Splits a comma-separated variable (`COMPOSE_PROFILES`, `COMPOSE_ENV_FILES`).
fn split_list(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

/// Runs the pipeline up to the merged, path-resolved, untyped model.
pub fn load_model(opts: &LoadOptions) -> Result<LoadedModel> {
    let cwd = opts.working_dir.as_path();
    let project_dir_flag = opts.project_directory.as_deref().map(|p| absolute(cwd, p));
    let mut warnings = Vec::new();

    // Env files named explicitly; else COMPOSE_ENV_FILES; else `.env` once the directory is known.
    let explicit_env_files: Vec<PathBuf> = if !opts.env_files.is_empty() {
        opts.env_files.iter().map(|p| absolute(cwd, p)).collect()
    } else if let Some(v) = opts.os_env.get("COMPOSE_ENV_FILES") {
        split_list(v)
            .iter()
            .map(|p| absolute(cwd, Path::new(p)))
            .collect()
    } else {
        Vec::new()
    };

    let config_files: Vec<PathBuf> = if !opts.files.is_empty() {
        opts.files
            .iter()
            .map(|f| {
                if is_stdin(f) {
                    f.clone()
                } else {
                    absolute(cwd, f)
                }
            })
            .collect()
    } else {
        let base = project_dir_flag
            .clone()
            .unwrap_or_else(|| cwd.to_path_buf());
        // COMPOSE_FILE may come from the shell or from the project's .env.
        let pre_env = if explicit_env_files.is_empty() {
            Environment::with_env_files(&opts.os_env, &default_env_files(&base))?
        } else {
            Environment::with_env_files(&opts.os_env, &explicit_env_files)?
        };
        match pre_env.get("COMPOSE_FILE").filter(|v| !v.is_empty()) {
            Some(v) => discovery::split_compose_file_var(v, pre_env.get("COMPOSE_PATH_SEPARATOR"))
                .into_iter()
                .map(|p| absolute(&base, &p))
                .collect(),
            None => {
                let found = discovery::find_compose_files(&base)?;
                warnings.extend(found.warning);
                found.files
            }
        }
    };

    let project_dir = project_dir_flag.unwrap_or_else(|| {
        config_files
            .first()
            .filter(|f| !is_stdin(f))
            .and_then(|f| f.parent().map(Path::to_path_buf))
            .unwrap_or_else(|| cwd.to_path_buf())
    });

    let env_files = if explicit_env_files.is_empty() {
        default_env_files(&project_dir)
    } else {
        explicit_env_files
    };
    let mut environment = Environment::with_env_files(&opts.os_env, &env_files)?;
    // Docker Compose interpolates `${COMPOSE_PROJECT_NAME}` with the project's name however it
    // was given: `-p` is known now; a name from `name:` or the folder only once the files are
    // read, so they are read again with it when they asked for it (rare; costs nothing else).
    if let Some(n) = opts.project_name.as_deref().filter(|n| !n.is_empty()) {
        environment.set(PROJECT_NAME_VAR, n);
    }

    let loader = FileLoader {
        opts,
        os_env: &opts.os_env,
        unset: RefCell::new(Vec::new()),
        asked_project_name: std::cell::Cell::new(false),
    };
    let load_all = |environment: &Environment| -> Result<Option<Node>> {
        let mut merged: Option<Node> = None;
        for file in &config_files {
            let doc = loader.load_file(file, environment, &mut Vec::new())?;
            merged = Some(match merged {
                None => doc,
                Some(acc) => merge::merge_nodes(acc, doc, "")?,
            });
        }
        Ok(merged)
    };
    let mut merged = load_all(&environment)?;
    if loader.asked_project_name.get()
        && environment
            .get(PROJECT_NAME_VAR)
            .is_none_or(|v| v.is_empty())
    {
        let first = merged
            .clone()
            .unwrap_or_else(|| Node::map(Default::default(), Span::default()));
        let name = project_name(opts, &environment, &first, &project_dir)?;
        environment.set(PROJECT_NAME_VAR, name);
        loader.unset.borrow_mut().clear();
        merged = load_all(&environment)?;
    }
    for name in loader.unset.into_inner() {
        warnings.push(format!(
            "The \"{name}\" variable is not set. Defaulting to a blank string."
        ));
    }
    let mut tree = merged.unwrap_or_else(|| Node::map(Default::default(), Span::default()));
    merge::apply_reset_tags(&mut tree);
    merge::enforce_unique(&mut tree)?;

    if let Some(map) = tree.as_map_mut() {
        if map.shift_remove("version").is_some() {
            warnings.push(format!(
                "{}: the attribute `version` is obsolete, it will be ignored, please remove it to avoid potential confusion",
                config_files[0].display()
            ));
        }
    }

    let name = project_name(opts, &environment, &tree, &project_dir)?;
    tracing::Span::current().record("project", name.as_str());
    if let Some(map) = tree.as_map_mut() {
        let span = map.get("name").map(|n| n.span.clone()).unwrap_or_default();
        map.shift_remove("name");
        map.shift_insert(
            0,
            Key::new("name", span.clone()),
            Node::string(name.clone(), span),
        );
    }

    if opts.resolve_paths {
        paths::resolve_node_paths(&mut tree, &project_dir, home_dir(&opts.os_env).as_deref())?;
    }

    let profiles = if !opts.profiles.is_empty() {
        opts.profiles.iter().flat_map(|p| split_list(p)).collect()
    } else {
        environment
            .get("COMPOSE_PROFILES")
            .map(split_list)
            .unwrap_or_default()
    };

    Ok(LoadedModel {
        name,
        tree,
        project_dir,
        config_files,
        environment,
        profiles,
        warnings,
    })
}

/// Runs the whole pipeline.
pub fn load(opts: &LoadOptions) -> Result<LoadedProject> {
    let model = load_model(opts)?;
    let mut project: Project = de::from_node(&model.tree)?;
    project.config_files = model.config_files.clone();
    project.working_dir = model.project_dir.clone();
    // Builds read SOURCE_DATE_EPOCH from the project's environment, as BuildKit's clients do.
    let build_vars = std::iter::once("SOURCE_DATE_EPOCH".to_string())
        .filter(|_| project.services.values().any(|s| s.build.is_some()));
    let source_vars: Vec<String> = (project.secrets.values().map(|s| &s.environment))
        .chain(project.configs.values().map(|c| &c.environment))
        .flatten()
        .cloned()
        .chain(build_vars)
        .collect();
    for var in &source_vars {
        if let Some(v) = model.environment.get(var) {
            project.source_values.0.insert(var.clone(), v.to_string());
        }
    }
    let all_profiles = profiles::all_profiles(&project);
    let located = |e: LoadError| locate(e, &model.tree);
    profiles::apply_profiles(&mut project, &model.profiles, &opts.services).map_err(located)?;
    let scope =
        (!opts.services.is_empty()).then(|| profiles::with_dependencies(&project, &opts.services));
    if opts.normalize {
        let dir = opts.resolve_paths.then_some(model.project_dir.as_path());
        normalize::normalize(
            &mut project,
            &model.environment,
            opts.resolve_env_files,
            dir,
            scope.as_deref(),
        )
        .map_err(located)?;
    } else if opts.resolve_env_files {
        normalize::resolve_environment(&mut project, &model.environment, scope.as_deref())
            .map_err(located)?;
    }
    if opts.consistency {
        validate::validate(&project, &model.tree)?;
    }
    Ok(LoadedProject {
        project,
        model,
        all_profiles,
    })
}

/// Gives an error found on the typed model the position of its key path in the tree.
fn locate(mut err: LoadError, tree: &Node) -> LoadError {
    if !err.span.is_known() && !err.path.is_empty() {
        err.span = tree.locate_key_span(&err.path);
    }
    err
}

fn home_dir(env: &Environment) -> Option<PathBuf> {
    env.get("HOME").map(PathBuf::from)
}

/// The project name: `-p`, then `COMPOSE_PROJECT_NAME`, then the file's `name:`, then the
/// project directory's name. Names given explicitly must be valid; a directory name is normalized.
fn project_name(
    opts: &LoadOptions,
    env: &Environment,
    tree: &Node,
    project_dir: &Path,
) -> Result<String> {
    let invalid =
        |span: Span, path: &str, msg: String| LoadError::new(span, path, ErrorKind::Other(msg));
    if let Some(n) = opts.project_name.as_deref().filter(|n| !n.is_empty()) {
        discovery::validate_project_name(n).map_err(|m| invalid(Span::default(), "", m))?;
        return Ok(n.to_string());
    }
    if let Some(n) = env.get("COMPOSE_PROJECT_NAME").filter(|n| !n.is_empty()) {
        discovery::validate_project_name(n).map_err(|m| invalid(Span::default(), "", m))?;
        return Ok(n.to_string());
    }
    if let Some(node) = tree.get("name") {
        match node.scalar_text() {
            Some(n) if !n.is_empty() => {
                discovery::validate_project_name(&n)
                    .map_err(|m| invalid(node.span.clone(), "name", m))?;
                return Ok(n);
            }
            Some(_) => {}
            None if node.is_null() => {}
            None => return Err(node.type_error("name", "a string")),
        }
    }
    let base = project_dir
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let n = discovery::normalize_project_name(&base);
    if n.is_empty() {
        return Err(LoadError::bare(ErrorKind::Other(format!(
            "project name must not be empty: {:?} gives none, use -p or `name:`",
            project_dir.display()
        ))));
    }
    Ok(n)
}

/// Reads single files: parse, interpolate, includes, extends.
struct FileLoader<'a> {
    opts: &'a LoadOptions,
    os_env: &'a Environment,
    /// Variables used but not set (each once), for Docker Compose's "not set" warning.
    unset: RefCell<Vec<String>>,
    /// Whether a file looked `COMPOSE_PROJECT_NAME` up (see [`load_model`]).
    asked_project_name: std::cell::Cell<bool>,
}

/// The variable that holds the project's name during interpolation.
const PROJECT_NAME_VAR: &str = "COMPOSE_PROJECT_NAME";

impl FileLoader<'_> {
    fn read(&self, path: &Path) -> Result<String> {
        if is_stdin(path) {
            return self.opts.stdin.clone().ok_or_else(|| {
                LoadError::bare(ErrorKind::Other("no Compose file on standard input".into()))
            });
        }
        std::fs::read_to_string(path).map_err(|e| LoadError::io(path, &e))
    }

    /// Parse and interpolate, nothing else (also what `extends` reads from other files).
    fn parse(&self, path: &Path, env: &Environment) -> Result<Node> {
        let text = self.read(path)?;
        let mut doc = parse_file_text(&text, Some(path))?;
        if !doc.is_null() && doc.as_map().is_none() {
            return Err(doc.type_error("", "a mapping at the top level of a Compose file"));
        }
        if doc.is_null() {
            doc = Node::map(Default::default(), doc.span.clone());
        }
        if self.opts.interpolate {
            interpolate::interpolate_node_with(
                &mut doc,
                "",
                &|name: &str| {
                    if name == PROJECT_NAME_VAR {
                        self.asked_project_name.set(true);
                    }
                    env.lookup(name)
                },
                &mut |name: &str| {
                    let mut unset = self.unset.borrow_mut();
                    if !unset.iter().any(|n| n == name) {
                        unset.push(name.to_string());
                    }
                },
            )?;
        }
        Ok(doc)
    }

    fn load_file(&self, path: &Path, env: &Environment, chain: &mut Vec<PathBuf>) -> Result<Node> {
        let mut doc = self.parse(path, env)?;
        let dir = if is_stdin(path) {
            self.opts.working_dir.clone()
        } else {
            path.parent().map(Path::to_path_buf).unwrap_or_default()
        };

        let include_node = doc.as_map_mut().and_then(|m| m.shift_remove("include"));
        if let Some(inc) = include_node {
            chain.push(path.to_path_buf());
            let items = include::parse_include(&inc, &dir, "include")?;
            for item in items {
                let Some(first) = item.paths.first() else {
                    continue;
                };
                if let Some(pos) = chain.iter().position(|p| item.paths.contains(p)) {
                    let mut cycle: Vec<String> = chain[pos..]
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect();
                    cycle.push(first.display().to_string());
                    return Err(LoadError::new(
                        inc.span.clone(),
                        "include",
                        ErrorKind::Cycle(cycle),
                    ));
                }
                let inc_dir = item
                    .project_directory
                    .clone()
                    .unwrap_or_else(|| first.parent().map(Path::to_path_buf).unwrap_or_default());
                let inc_env_files = if item.env_files.is_empty() {
                    default_env_files(&inc_dir)
                } else {
                    item.env_files.clone()
                };
                // The included project sees the including one's variables, its own env files over them.
                let inc_env = Environment::with_env_files(env, &inc_env_files)?;
                let mut included: Option<Node> = None;
                for p in &item.paths {
                    let d = self.load_file(p, &inc_env, chain)?;
                    included = Some(match included {
                        None => d,
                        Some(acc) => merge::merge_nodes(acc, d, "")?,
                    });
                }
                if let Some(mut inc_tree) = included {
                    merge::apply_reset_tags(&mut inc_tree);
                    if self.opts.resolve_paths {
                        paths::resolve_node_paths(
                            &mut inc_tree,
                            &inc_dir,
                            home_dir(self.os_env).as_deref(),
                        )?;
                    }
                    if let Some(m) = inc_tree.as_map_mut() {
                        m.shift_remove("name");
                        m.shift_remove("version");
                    }
                    include::merge_included(&mut doc, inc_tree)?;
                }
            }
            chain.pop();
        }

        let env_for_extends = env.clone();
        extends::resolve_extends(&mut doc, &dir, &mut |p: &Path| {
            self.parse(p, &env_for_extends)
        })?;
        Ok(doc)
    }
}
