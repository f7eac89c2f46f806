//! Users and groups by name, from the view's own `/etc/passwd` and `/etc/group` (what
//! `COPY --chown=app:staff` means is what the image says, never the host).

use std::io::Read;
use std::path::Path;

use super::error::LayerViewError;
use super::metadata::NodeKind;
use super::LayerView;

/// Larger account files are not read past this: a hostile image must not make us read
/// gigabytes to find one name.
const MAX_ACCOUNT_FILE: u64 = 4 << 20;

impl LayerView {
    /// The uid and primary gid of the user `name` in the view's `/etc/passwd`.
    pub fn lookup_user(&self, name: &str) -> Result<Option<(u32, u32)>, LayerViewError> {
        let text = self.account_file("/etc/passwd")?;
        Ok(find_entry(&text, name)
            .and_then(|fields| Some((fields.get(1)?.parse().ok()?, fields.get(2)?.parse().ok()?))))
    }

    /// The gid of the group `name` in the view's `/etc/group`.
    pub fn lookup_group(&self, name: &str) -> Result<Option<u32>, LayerViewError> {
        let text = self.account_file("/etc/group")?;
        Ok(find_entry(&text, name).and_then(|fields| fields.get(1)?.parse().ok()))
    }

    /// The file's text (empty when the view has no such regular file), followed inside the
    /// root as the image's own libc would.
    fn account_file(&self, path: &str) -> Result<String, LayerViewError> {
        let resolved = self.resolve(Path::new(path), true)?;
        match self.metadata(&resolved)? {
            Some(meta) if meta.kind == NodeKind::File => {}
            _ => return Ok(String::new()),
        }
        let mut bytes = Vec::new();
        self.open(&resolved)?
            .take(MAX_ACCOUNT_FILE)
            .read_to_end(&mut bytes)
            .map_err(|source| LayerViewError::Read {
                path: resolved,
                source,
            })?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }
}

/// The fields after the name of the first line for `name` (`name:x:1000:1000:...`).
fn find_entry<'a>(text: &'a str, name: &str) -> Option<Vec<&'a str>> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .map(|line| line.split(':').collect::<Vec<_>>())
        .find(|fields| fields.first() == Some(&name))
        .map(|fields| fields[1..].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_by_name() {
        let passwd = "# comment\nroot:x:0:0:root:/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\nbad:x:nope:1\n";
        assert_eq!(
            find_entry(passwd, "app").map(|f| (f[1], f[2])),
            Some(("1000", "1001"))
        );
        assert_eq!(find_entry(passwd, "ap"), None);
        assert_eq!(find_entry(passwd, "x"), None);
    }
}
