//! What a build context string names. Compose keeps `build.context` and the values of
//! `build.additional_contexts` as written; the builder needs to know which of them is a local
//! directory (resolved against the project directory when loaded), a Git repository, a tarball
//! or Dockerfile over HTTP, an image, or another service's image. The rules are the Docker CLI's:
//! `git://`, `git@`, `github.com/` or an http(s) URL whose path ends in `.git` (before an
//! optional `#ref:dir` fragment) is Git; any other http(s) URL is an HTTP download.

use std::path::Path;

/// A classified context string; borrows the text it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContextSource<'a> {
    /// A directory on this machine.
    Dir(&'a Path),
    /// A Git repository URL, possibly with `#ref:subdir`.
    Git(&'a str),
    /// An http(s) URL of a tarball or a Dockerfile.
    Http(&'a str),
    /// `docker-image://REF` (additional contexts): the files of an image.
    Image(&'a str),
    /// `service:NAME` (additional contexts): the image another service builds, built first.
    Service(&'a str),
    /// `oci-layout://PATH` (additional contexts): an OCI layout on disk.
    OciLayout(&'a str),
}

impl<'a> ContextSource<'a> {
    pub fn parse(text: &'a str) -> Self {
        if let Some(image) = text.strip_prefix("docker-image://") {
            return ContextSource::Image(image);
        }
        if let Some(service) = text.strip_prefix("service:") {
            return ContextSource::Service(service);
        }
        if let Some(layout) = text.strip_prefix("oci-layout://") {
            return ContextSource::OciLayout(layout);
        }
        let http = text.starts_with("http://") || text.starts_with("https://");
        let git_path = text.split('#').next().unwrap_or(text).ends_with(".git");
        if text.starts_with("git://")
            || text.starts_with("git@")
            || text.starts_with("github.com/")
            || (http && git_path)
        {
            return ContextSource::Git(text);
        }
        if http {
            return ContextSource::Http(text);
        }
        ContextSource::Dir(Path::new(text))
    }

    /// Whether the context is fetched from the network.
    pub fn is_remote(&self) -> bool {
        matches!(self, ContextSource::Git(_) | ContextSource::Http(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_as_the_docker_cli_does() {
        for (text, want) in [
            ("/src/app", ContextSource::Dir(Path::new("/src/app"))),
            ("./app", ContextSource::Dir(Path::new("./app"))),
            ("git://host/r", ContextSource::Git("git://host/r")),
            (
                "git@github.com:o/r.git",
                ContextSource::Git("git@github.com:o/r.git"),
            ),
            ("github.com/o/r", ContextSource::Git("github.com/o/r")),
            (
                "https://github.com/o/r.git#main:sub",
                ContextSource::Git("https://github.com/o/r.git#main:sub"),
            ),
            (
                "https://example.com/ctx.tar.gz",
                ContextSource::Http("https://example.com/ctx.tar.gz"),
            ),
            ("docker-image://alpine:3", ContextSource::Image("alpine:3")),
            ("service:base", ContextSource::Service("base")),
            (
                "oci-layout:///l@sha256:ab",
                ContextSource::OciLayout("/l@sha256:ab"),
            ),
        ] {
            assert_eq!(ContextSource::parse(text), want, "{text}");
        }
        assert!(ContextSource::parse("github.com/o/r").is_remote());
        assert!(!ContextSource::parse("service:base").is_remote());
    }
}
