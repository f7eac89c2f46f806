//! Heredocs (`RUN <<EOF`, `COPY <<EOF /file`): finding the markers on an instruction line.
//!
//! BuildKit accepts `[FD]<<[-]WORD` where WORD may be quoted (`'EOF'` or `"EOF"`); a quoted
//! delimiter turns variable expansion of the body off, and `<<-` strips leading tabs from each
//! body line and from the closing delimiter. Only RUN, COPY and ADD take heredocs.

/// One heredoc: its delimiter and the body read after the instruction line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heredoc {
    /// The delimiter word, unquoted (`EOF`); COPY names the file it makes after it.
    pub name: String,
    /// The body, each line ending in `\n`, tabs already stripped for `<<-`.
    pub content: String,
    /// Whether variables in the body are expanded (the delimiter was not quoted).
    pub expand: bool,
    /// Whether leading tabs are stripped (`<<-`).
    pub chomp: bool,
    /// The file descriptor written before `<<` (`3<<EOF`), if any.
    pub fd: Option<u32>,
}

/// A marker found on the line, before its body is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Marker {
    pub name: String,
    pub expand: bool,
    pub chomp: bool,
    pub fd: Option<u32>,
}

/// The marker a (still quoted) word holds, if it is one.
pub(super) fn marker(word: &str) -> Option<Marker> {
    let digits = word.bytes().take_while(u8::is_ascii_digit).count();
    let fd = if digits > 0 {
        Some(word[..digits].parse().ok()?)
    } else {
        None
    };
    let rest = word[digits..].strip_prefix("<<")?;
    let (chomp, rest) = match rest.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, rest),
    };
    let (name, expand) = match rest.chars().next()? {
        q @ ('\'' | '"') => {
            let inner = rest[1..].strip_suffix(q)?;
            (inner, false)
        }
        _ => (rest, true),
    };
    let valid = !name.is_empty()
        && !name.contains(['<', '\'', '"', '$'])
        && !name.chars().any(char::is_whitespace);
    valid.then(|| Marker {
        name: name.to_string(),
        expand,
        chomp,
        fd,
    })
}

/// Whether `line` closes the heredoc, tabs stripped first for `<<-`.
pub(super) fn closes(marker: &Marker, line: &str) -> bool {
    let line = if marker.chomp {
        line.trim_start_matches('\t')
    } else {
        line
    };
    line == marker.name
}

/// A body line as the heredoc keeps it.
pub(super) fn body_line(marker: &Marker, line: &str) -> String {
    let line = if marker.chomp {
        line.trim_start_matches('\t')
    } else {
        line
    };
    format!("{line}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_markers_as_buildkit_does() {
        let m = marker("<<EOF").unwrap();
        assert_eq!(
            (m.name.as_str(), m.expand, m.chomp, m.fd),
            ("EOF", true, false, None)
        );
        let m = marker("<<-'END'").unwrap();
        assert_eq!((m.name.as_str(), m.expand, m.chomp), ("END", false, true));
        let m = marker("3<<\"X\"").unwrap();
        assert_eq!((m.name.as_str(), m.expand, m.fd), ("X", false, Some(3)));
        // An unclosed quote is not a heredoc (BuildKit and dockerfile-ast agree).
        assert_eq!(marker("<<'EOF"), None);
        assert_eq!(marker("<<"), None);
        assert_eq!(marker("a<<EOF"), None);
        assert_eq!(marker("<<<EOF"), None);
    }

    #[test]
    fn chomp_strips_tabs_from_body_and_delimiter() {
        let m = marker("<<-EOF").unwrap();
        assert!(closes(&m, "\t\tEOF"));
        assert_eq!(body_line(&m, "\t  x"), "  x\n");
        let m = marker("<<EOF").unwrap();
        assert!(!closes(&m, "\tEOF"));
        assert_eq!(body_line(&m, "\tx"), "\tx\n");
    }
}
