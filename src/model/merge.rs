//! Merging Compose trees: several `-f` files, several YAML documents in one file, and a service
//! over the service it `extends`.
//!
//! The rules are Docker Compose's (compose-go's `override` package), applied on the untyped tree
//! so every value keeps the position of the file it came from:
//!
//! - mappings merge key by key, recursively; scalars are replaced by the later file;
//! - sequences are appended, except those Compose treats as sets or keyed lists: `ports` (by
//!   host IP, published port, target and protocol), `volumes` (by target), `secrets`/`configs`
//!   (by mount target), `devices` (by container path), `env_file` (by path), `dns*`, `tmpfs`,
//!   `cap_add`, `expose`, ... (by value); a later entry with the same key replaces the earlier one
//!   where it stood;
//! - `command`, `entrypoint` and `healthcheck.test` are replaced, never appended;
//! - attributes written either as a list or as a mapping (`environment`, `labels`, `sysctls`,
//!   `build.args`, `networks`, `depends_on`, ...) are brought to mapping form first, so that
//!   `- A=1` in one file and `A: 2` in the next merge into `A: 2`;
//! - `build: ./dir` is `build: {context: ./dir}`; `logging` options merge only for the same
//!   driver; each `ulimits` entry is replaced whole;
//! - `!reset` on the later side removes the value, `!override` replaces it without merging.
//!
//! A null on the later side keeps the earlier value (an override file may leave a key empty).

use indexmap::map::MutableKeys;

use super::error::{join_index, join_key, ErrorKind, LoadError, Result};
use super::node::{Key, Mapping, MergeTag, Node, Value};

/// Merges `over` onto `base` (later file wins). `path` is the key path of these nodes ("" = top level).
///
/// Merge tags left in `base` (from a file that was never merged onto anything) are applied first;
/// those of `over` drive the merge. The result carries no merge tag.
pub fn merge_nodes(mut base: Node, over: Node, path: &str) -> Result<Node> {
    apply_reset_tags(&mut base);
    let mut segs = path_segments(path);
    merge(base, over, &mut segs, path)
}

/// Merges the definition of service `name` over the service it extends (`base`), with the same
/// rules as for several files.
pub(crate) fn merge_service(base: Node, over: Node, name: &str) -> Result<Node> {
    let mut base = base;
    apply_reset_tags(&mut base);
    let mut segs = vec!["services".to_string(), name.to_string()];
    merge(base, over, &mut segs, &join_key("services", name))
}

/// Removes remaining merge tags: `!reset` entries are deleted, `!override` tags cleared. Called once on the final tree.
pub fn apply_reset_tags(node: &mut Node) {
    if node.tag == Some(MergeTag::Reset) {
        node.value = Value::Null;
    }
    node.tag = None;
    match &mut node.value {
        Value::Map(m) => {
            m.retain(|_, v| v.tag != Some(MergeTag::Reset));
            for v in m.values_mut() {
                apply_reset_tags(v);
            }
        }
        Value::Seq(items) => {
            items.retain(|v| v.tag != Some(MergeTag::Reset));
            for v in items.iter_mut() {
                apply_reset_tags(v);
            }
        }
        _ => {}
    }
}

/// Removes the entries that a later one redefines in the sequences Compose treats as keyed lists
/// (see the module docs), in the whole tree. Docker Compose does this on every loaded file, so a
/// single file listing `80:80` twice publishes it once.
pub fn enforce_unique(node: &mut Node) -> Result<()> {
    let mut segs = Vec::new();
    enforce_unique_at(node, &mut segs, "")
}

fn enforce_unique_at(node: &mut Node, segs: &mut Vec<String>, path: &str) -> Result<()> {
    match &mut node.value {
        Value::Map(m) => {
            for (k, v) in m.iter_mut() {
                segs.push(k.name.clone());
                let r = enforce_unique_at(v, segs, &join_key(path, &k.name));
                segs.pop();
                r?;
            }
            Ok(())
        }
        Value::Seq(items) => {
            let items = std::mem::take(items);
            let deduped = match rule_for(segs) {
                Rule::Unique(index) => dedupe(keyed(items, path, |n, p| index.key(n, p))?),
                Rule::KeyValue => dedupe(keyed(items, path, |n, p| Ok(key_value_key(n, p)?.0))?),
                Rule::ExtraHosts => dedupe(keyed(items, path, extra_host_key)?),
                _ => items,
            };
            node.value = Value::Seq(deduped);
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Splits a key path as errors print it (`services.web.ports[0]`) into its keys.
fn path_segments(path: &str) -> Vec<String> {
    path.split('.')
        .filter(|s| !s.is_empty())
        .map(|s| s.split('[').next().unwrap_or(s).to_string())
        .collect()
}

/// How the values at one key path are merged.
#[derive(Debug, Clone, Copy)]
enum Rule {
    /// Mappings merged, sequences appended, scalars replaced.
    Default,
    /// The later value replaces the earlier one (`command`, `entrypoint`, `healthcheck.test`,
    /// each `ulimits` entry).
    Replace,
    /// A list of `KEY=VALUE` or a mapping; merged as a mapping, later keys winning.
    KeyValue,
    /// `extra_hosts`: list or mapping (a host may map to several addresses); entries unioned.
    ExtraHosts,
    /// A sequence (or a single string) whose entries are unique by the given key.
    Unique(Index),
    /// A list of names or a mapping name -> options (`networks`, `depends_on`, `models`); merged
    /// as a mapping. `depends_on` list entries get Compose's default condition.
    NamesOrMap { depends_on: bool },
    /// `build`: a context string or a mapping.
    Build,
    /// `logging`: options merge only when both files use the same driver.
    Logging,
    /// `networks.*.ipam.config`: entries merged by subnet.
    IpamConfig,
}

/// What makes two entries of a keyed sequence "the same".
#[derive(Debug, Clone, Copy)]
enum Index {
    /// The scalar text itself.
    Text,
    /// The part before the first `=`.
    KeyValue,
    /// Host IP, published port, target port and protocol.
    Port,
    /// The mount target (container path).
    VolumeTarget,
    /// The container path of a device mapping.
    Device,
    /// The mount target of a secret or config; short names are mounted under the given folder.
    Mount(&'static str),
    /// The path of an `env_file` entry.
    EnvFile,
}

fn rule_for(segs: &[String]) -> Rule {
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    match s.as_slice() {
        ["services", _, "command" | "entrypoint"]
        | ["services", _, "healthcheck", "test"]
        | ["services", _, "ulimits", _] => Rule::Replace,
        ["services", _, "environment" | "labels" | "annotations" | "sysctls"]
        | ["services", _, "build", "args" | "labels" | "additional_contexts"]
        | ["services", _, "deploy", "labels"]
        | ["networks" | "volumes" | "secrets" | "configs", _, "labels"] => Rule::KeyValue,
        ["services", _, "extra_hosts"] | ["services", _, "build", "extra_hosts"] => {
            Rule::ExtraHosts
        }
        ["services", _, "dns" | "dns_opt" | "dns_search" | "tmpfs"] => {
            Rule::Unique(Index::KeyValue)
        }
        ["services", _, "env_file"] => Rule::Unique(Index::EnvFile),
        ["services", _, "label_file" | "cap_add" | "cap_drop" | "links" | "profiles" | "security_opt"
        | "expose"]
        | ["services", _, "networks", _, "aliases" | "link_local_ips"]
        | ["services", _, "build", "tags" | "platforms"] => Rule::Unique(Index::Text),
        ["services", _, "ports"] => Rule::Unique(Index::Port),
        ["services", _, "volumes"] => Rule::Unique(Index::VolumeTarget),
        ["services", _, "devices"] => Rule::Unique(Index::Device),
        ["services", _, "secrets"] => Rule::Unique(Index::Mount("/run/secrets")),
        ["services", _, "configs"] => Rule::Unique(Index::Mount("")),
        ["services", _, "networks" | "models"] => Rule::NamesOrMap { depends_on: false },
        ["services", _, "depends_on"] => Rule::NamesOrMap { depends_on: true },
        ["services", _, "build"] => Rule::Build,
        ["services", _, "logging"] => Rule::Logging,
        ["networks", _, "ipam", "config"] => Rule::IpamConfig,
        _ => Rule::Default,
    }
}

/// `over` taken as it is, with its own merge tags applied.
fn taken(mut over: Node) -> Node {
    apply_reset_tags(&mut over);
    over
}

fn merge(base: Node, over: Node, segs: &mut Vec<String>, path: &str) -> Result<Node> {
    match over.tag {
        Some(MergeTag::Reset) => return Ok(Node::null(over.span)),
        Some(MergeTag::Override) => return Ok(taken(over)),
        None => {}
    }
    let rule = rule_for(segs);
    if matches!(rule, Rule::Replace) {
        return Ok(taken(over));
    }
    if over.is_null() {
        return Ok(base);
    }
    if base.is_null() {
        return Ok(taken(over));
    }
    match rule {
        Rule::Replace => Ok(taken(over)),
        Rule::KeyValue => {
            let span = base.span.clone();
            let mut m = key_value_map(base, path)?;
            for (k, v) in key_value_map(over, path)? {
                if v.tag == Some(MergeTag::Reset) {
                    m.shift_remove(k.name.as_str());
                } else {
                    insert_replacing(&mut m, k, taken(v));
                }
            }
            Ok(Node::map(m, span))
        }
        Rule::ExtraHosts => {
            let span = base.span.clone();
            // Earlier entries stay; a later one is added unless it is already there.
            let mut entries = keyed(extra_hosts_list(base, path)?, path, extra_host_key)?;
            for (k, item) in keyed(extra_hosts_list(over, path)?, path, extra_host_key)? {
                if !entries.iter().any(|(e, _)| *e == k) {
                    entries.push((k, item));
                }
            }
            Ok(Node::seq(
                entries.into_iter().map(|(_, n)| n).collect(),
                span,
            ))
        }
        Rule::Unique(index) => {
            let span = base.span.clone();
            let key = |n: &Node, p: &str| index.key(n, p);
            let mut entries = keyed(sequence_of(base, path)?, path, key)?;
            entries.extend(keyed(sequence_of(over, path)?, path, key)?);
            Ok(Node::seq(dedupe(entries), span))
        }
        Rule::NamesOrMap { depends_on } => {
            let base = names_to_map(base, path, depends_on)?;
            let over = names_to_map(over, path, depends_on)?;
            merge_maps(base, over, segs, path)
        }
        Rule::Build => {
            let base = build_to_map(base, path)?;
            let over = build_to_map(over, path)?;
            merge_maps(base, over, segs, path)
        }
        Rule::Logging => {
            let (Some(b), Some(o)) = (base.as_map(), over.as_map()) else {
                return merge_default(base, over, segs, path);
            };
            match (b.get("driver"), o.get("driver")) {
                (Some(bd), Some(od)) if bd.value != od.value => Ok(taken(over)),
                _ => merge_maps(base, over, segs, path),
            }
        }
        Rule::IpamConfig => merge_ipam_config(base, over, segs, path),
        Rule::Default => merge_default(base, over, segs, path),
    }
}

fn merge_default(base: Node, over: Node, segs: &mut Vec<String>, path: &str) -> Result<Node> {
    match (&base.value, &over.value) {
        (Value::Map(_), Value::Map(_)) => merge_maps(base, over, segs, path),
        (Value::Seq(_), Value::Seq(_)) => {
            let span = base.span.clone();
            let mut items = match base.value {
                Value::Seq(items) => items,
                _ => Vec::new(),
            };
            if let Value::Seq(more) = over.value {
                items.extend(
                    more.into_iter()
                        .filter(|n| n.tag != Some(MergeTag::Reset))
                        .map(taken),
                );
            }
            Ok(Node::seq(items, span))
        }
        (Value::Map(_) | Value::Seq(_), _) => Err(cannot_merge(&base, &over, path)),
        _ => Ok(taken(over)),
    }
}

/// The error for a later file giving a value of another shape than the earlier one.
fn cannot_merge(base: &Node, over: &Node, path: &str) -> LoadError {
    LoadError::new(
        over.span.clone(),
        path,
        ErrorKind::Conflict(format!(
            "cannot override {} (defined at {}) with {}",
            base.kind_name(),
            base.span,
            over.kind_name()
        )),
    )
}

/// Inserts or replaces an entry; a replaced entry keeps its place but takes the new key's
/// position, so errors point at the file that set the value last.
fn insert_replacing(m: &mut Mapping, key: Key, value: Node) {
    match m.get_full_mut2(key.name.as_str()) {
        Some((_, k, v)) => {
            k.span = key.span;
            *v = value;
        }
        None => {
            m.insert(key, value);
        }
    }
}

fn merge_maps(base: Node, over: Node, segs: &mut Vec<String>, path: &str) -> Result<Node> {
    let span = base.span.clone();
    let (mut m, o) = match (base.value, over.value) {
        (Value::Map(m), Value::Map(o)) => (m, o),
        (b, o) => {
            let base = Node::new(b, span);
            let over = Node::new(o, over.span);
            return Err(cannot_merge(&base, &over, path));
        }
    };
    for (k, v) in o {
        if v.tag == Some(MergeTag::Reset) {
            m.shift_remove(k.name.as_str());
            continue;
        }
        match m.get_full_mut2(k.name.as_str()) {
            Some((_, key, existing)) => {
                key.span = k.span.clone();
                let earlier = std::mem::replace(existing, Node::null(v.span.clone()));
                segs.push(k.name.clone());
                let merged = merge(earlier, v, segs, &join_key(path, &k.name));
                segs.pop();
                *existing = merged?;
            }
            None => {
                m.insert(k, taken(v));
            }
        }
    }
    Ok(Node::map(m, span))
}

/// A scalar entry's text, or a located type error.
fn entry_text(node: &Node, path: &str) -> Result<String> {
    node.scalar_text()
        .ok_or_else(|| node.type_error(path, "a string"))
}

/// `KEY=VALUE` -> (`KEY`, Some(`VALUE`)); `KEY` -> (`KEY`, None).
fn key_value_key(node: &Node, path: &str) -> Result<(String, Option<String>)> {
    let text = entry_text(node, path)?;
    Ok(match text.split_once('=') {
        Some((k, v)) => (k.to_string(), Some(v.to_string())),
        None => (text, None),
    })
}

/// A list-or-mapping attribute in mapping form: `- A=1` becomes `A: "1"`, `- A` becomes `A: null`.
fn key_value_map(node: Node, path: &str) -> Result<Mapping> {
    match node.value {
        Value::Map(m) => Ok(m),
        Value::Seq(items) => {
            let mut m = Mapping::new();
            for (i, item) in items.into_iter().enumerate() {
                if item.tag == Some(MergeTag::Reset) {
                    continue;
                }
                let (k, v) = key_value_key(&item, &join_index(path, i))?;
                let value = match v {
                    Some(v) => Node::string(v, item.span.clone()),
                    None => Node::null(item.span.clone()),
                };
                insert_replacing(&mut m, Key::new(k, item.span), value);
            }
            Ok(m)
        }
        _ => Err(node.type_error(path, "a list or a mapping")),
    }
}

/// `extra_hosts` in list form: mapping entries become `host=address`, one per address.
fn extra_hosts_list(node: Node, path: &str) -> Result<Vec<Node>> {
    match node.value {
        Value::Seq(items) => Ok(items
            .into_iter()
            .filter(|n| n.tag != Some(MergeTag::Reset))
            .map(taken)
            .collect()),
        Value::Map(m) => {
            let mut out = Vec::new();
            for (k, v) in m {
                let p = join_key(path, &k.name);
                match &v.value {
                    Value::Seq(addrs) => {
                        for (i, a) in addrs.iter().enumerate() {
                            let addr = entry_text(a, &join_index(&p, i))?;
                            out.push(Node::string(format!("{}={addr}", k.name), a.span.clone()));
                        }
                    }
                    _ => {
                        let addr = entry_text(&v, &p)?;
                        out.push(Node::string(format!("{}={addr}", k.name), v.span.clone()));
                    }
                }
            }
            Ok(out)
        }
        _ => Err(node.type_error(path, "a list or a mapping")),
    }
}

/// `host=address` and `host:address` are the same entry.
fn extra_host_key(node: &Node, path: &str) -> Result<String> {
    let text = entry_text(node, path)?;
    let (host, addr) = match text.split_once('=') {
        Some(pair) => pair,
        None => text.split_once(':').unwrap_or((&text, "")),
    };
    Ok(format!("{}={}", host.trim(), addr.trim()))
}

/// A sequence attribute; a single string counts as a one-entry list (`dns: 8.8.8.8`).
fn sequence_of(node: Node, path: &str) -> Result<Vec<Node>> {
    match node.value {
        Value::Seq(items) => Ok(items
            .into_iter()
            .filter(|n| n.tag != Some(MergeTag::Reset))
            .map(taken)
            .collect()),
        Value::Str(_) | Value::Int(_) => Ok(vec![taken(node)]),
        _ => Err(node.type_error(path, "a sequence")),
    }
}

/// Pairs each entry with its key; `path` is the key path of the sequence the entries came from,
/// so errors name the entry as it was written.
fn keyed(
    items: Vec<Node>,
    path: &str,
    key: impl Fn(&Node, &str) -> Result<String>,
) -> Result<Vec<(String, Node)>> {
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| Ok((key(&item, &join_index(path, i))?, item)))
        .collect()
}

/// Keeps one entry per key: a later entry replaces the earlier one where the earlier one stood.
fn dedupe(entries: Vec<(String, Node)>) -> Vec<Node> {
    let mut out: Vec<Node> = Vec::with_capacity(entries.len());
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (k, item) in entries {
        match seen.get(&k) {
            Some(&j) => out[j] = item,
            None => {
                seen.insert(k, out.len());
                out.push(item);
            }
        }
    }
    out
}

impl Index {
    fn key(self, node: &Node, path: &str) -> Result<String> {
        match self {
            Index::Text => entry_text(node, path),
            Index::KeyValue => Ok(key_value_key(node, path)?.0),
            Index::Port => port_key(node, path),
            Index::VolumeTarget => match &node.value {
                Value::Map(m) => match m.get("target").and_then(Node::scalar_text) {
                    Some(t) => Ok(t),
                    None => Err(LoadError::new(
                        node.span.clone(),
                        path,
                        ErrorKind::Other("service volume is missing a mount target".into()),
                    )),
                },
                _ => Ok(volume_short_target(&entry_text(node, path)?)),
            },
            Index::Device => match &node.value {
                Value::Map(m) => m.get("target").and_then(Node::scalar_text).ok_or_else(|| {
                    LoadError::new(
                        node.span.clone(),
                        path,
                        ErrorKind::Other("device is missing a target".into()),
                    )
                }),
                _ => {
                    let text = entry_text(node, path)?;
                    let mut parts = text.split(':');
                    let first = parts.next().unwrap_or_default().to_string();
                    Ok(parts.next().map(str::to_string).unwrap_or(first))
                }
            },
            Index::Mount(dir) => {
                let target = match &node.value {
                    Value::Map(m) => match m.get("target").and_then(Node::scalar_text) {
                        Some(t) => t,
                        None => m.get("source").and_then(Node::scalar_text).ok_or_else(|| {
                            LoadError::new(
                                node.span.clone(),
                                path,
                                ErrorKind::Other("missing `source`".into()),
                            )
                        })?,
                    },
                    _ => entry_text(node, path)?,
                };
                // A relative target is mounted under the default folder, as a short name is.
                Ok(if target.starts_with('/') {
                    target
                } else {
                    format!("{dir}/{target}")
                })
            }
            Index::EnvFile => match &node.value {
                Value::Map(m) => m.get("path").and_then(Node::scalar_text).ok_or_else(|| {
                    LoadError::new(
                        node.span.clone(),
                        path,
                        ErrorKind::Other("env_file entry is missing `path`".into()),
                    )
                }),
                _ => entry_text(node, path),
            },
        }
    }
}

/// The container path of a short volume spec `[source:]target[:mode]`, where the source may be
/// a Windows path (`C:\data:/data`).
fn volume_short_target(spec: &str) -> String {
    let parts: Vec<&str> = spec.split(':').collect();
    let skip = match parts.as_slice() {
        // A drive letter followed by a path: the source spans two parts.
        [drive, rest, _, ..]
            if drive.len() == 1
                && drive.chars().all(|c| c.is_ascii_alphabetic())
                && (rest.starts_with('\\') || rest.starts_with('/')) =>
        {
            2
        }
        [_, _, ..] => 1,
        _ => 0,
    };
    parts.get(skip).copied().unwrap_or(spec).to_string()
}

/// `host_ip:published:target/protocol` of a port entry, short or long syntax, so that `8080:80`
/// and `{target: 80, published: "8080"}` are the same port.
fn port_key(node: &Node, path: &str) -> Result<String> {
    const ANY_HOST: &str = "0.0.0.0";
    match &node.value {
        Value::Map(m) => {
            let target = m.get("target").and_then(Node::scalar_text).ok_or_else(|| {
                LoadError::new(
                    node.span.clone(),
                    path,
                    ErrorKind::Other("port is missing a target port".into()),
                )
            })?;
            let text = |k: &str| m.get(k).and_then(Node::scalar_text);
            Ok(format!(
                "{}:{}:{}/{}",
                text("host_ip").unwrap_or_else(|| ANY_HOST.into()),
                text("published").unwrap_or_default(),
                target,
                text("protocol").unwrap_or_else(|| "tcp".into()),
            ))
        }
        _ => {
            let text = entry_text(node, path)?;
            let (spec, protocol) = match text.rsplit_once('/') {
                Some((s, p)) => (s, p),
                None => (text.as_str(), "tcp"),
            };
            let (host, rest) = match spec.strip_prefix('[') {
                // `[::1]:8080:80`
                Some(after) => match after.split_once("]:") {
                    Some((h, r)) => (Some(h.to_string()), r.to_string()),
                    None => (None, spec.to_string()),
                },
                None => (None, spec.to_string()),
            };
            let mut parts: Vec<&str> = rest.rsplitn(3, ':').collect();
            parts.reverse();
            let (host, published, target) = match (host, parts.as_slice()) {
                (Some(h), [p, t]) => (h, p.to_string(), t.to_string()),
                (Some(h), [t]) => (h, String::new(), t.to_string()),
                (None, [h, p, t]) => (h.to_string(), p.to_string(), t.to_string()),
                (None, [p, t]) => (String::new(), p.to_string(), t.to_string()),
                (_, _) => (String::new(), String::new(), rest.clone()),
            };
            let host = if host.is_empty() {
                ANY_HOST.to_string()
            } else {
                host
            };
            Ok(format!("{host}:{published}:{target}/{protocol}"))
        }
    }
}

/// `networks`/`depends_on`/`models` in mapping form: a list of names becomes a mapping of names
/// to null (or, for `depends_on`, to Compose's default `{condition: service_started, required: true}`).
fn names_to_map(node: Node, path: &str, depends_on: bool) -> Result<Node> {
    match node.value {
        Value::Map(_) => Ok(node),
        Value::Seq(items) => {
            let mut m = Mapping::new();
            for (i, item) in items.into_iter().enumerate() {
                if item.tag == Some(MergeTag::Reset) {
                    continue;
                }
                let name = entry_text(&item, &join_index(path, i))?;
                let value = if depends_on {
                    let mut d = Mapping::new();
                    d.insert(
                        Key::new("condition", item.span.clone()),
                        Node::string("service_started", item.span.clone()),
                    );
                    d.insert(
                        Key::new("required", item.span.clone()),
                        Node::new(Value::Bool(true), item.span.clone()),
                    );
                    Node::map(d, item.span.clone())
                } else {
                    Node::null(item.span.clone())
                };
                insert_replacing(&mut m, Key::new(name, item.span), value);
            }
            Ok(Node::map(m, node.span))
        }
        _ => Err(node.type_error(path, "a list or a mapping")),
    }
}

/// `build: ./dir` is `build: {context: ./dir}`.
fn build_to_map(node: Node, path: &str) -> Result<Node> {
    match &node.value {
        Value::Map(_) => Ok(node),
        Value::Str(_) => {
            let span = node.span.clone();
            let mut m = Mapping::new();
            m.insert(Key::new("context", span.clone()), node);
            Ok(Node::map(m, span))
        }
        _ => Err(node.type_error(path, "a string or a mapping")),
    }
}

/// The later file's IPAM pools replace the earlier ones; a pool for a subnet the earlier file
/// also configured inherits that pool's other settings (gateway, ranges, ...).
fn merge_ipam_config(base: Node, over: Node, segs: &mut Vec<String>, path: &str) -> Result<Node> {
    let span = over.span.clone();
    let base_items = match base.value {
        Value::Seq(items) => items,
        _ => return Err(base.type_error(path, "a sequence")),
    };
    let over_items = match over.value {
        Value::Seq(items) => items,
        _ => return Err(Node::new(over.value, span).type_error(path, "a sequence")),
    };
    let subnet = |n: &Node| n.get("subnet").and_then(Node::scalar_text);
    let mut out = Vec::with_capacity(over_items.len());
    for (i, item) in over_items.into_iter().enumerate() {
        if item.tag == Some(MergeTag::Reset) {
            continue;
        }
        let earlier = subnet(&item).and_then(|s| {
            base_items
                .iter()
                .find(|b| subnet(b).as_deref() == Some(s.as_str()))
        });
        match earlier {
            Some(b) if b.as_map().is_some() && item.as_map().is_some() => {
                segs.push(i.to_string());
                let merged = merge_maps(b.clone(), item, segs, &join_index(path, i));
                segs.pop();
                out.push(merged?);
            }
            _ => out.push(taken(item)),
        }
    }
    Ok(Node::seq(out, span))
}

#[cfg(test)]
#[path = "merge_tests.rs"]
mod tests;
