//! Physical lines to instruction lines: comments, continuations and heredoc bodies.
//!
//! As BuildKit's parser: a line whose last non-blank character is the escape character goes on
//! on the next line (the escape and the blanks after it are dropped, nothing is inserted);
//! comment lines and empty lines inside a continuation are skipped; an escape on the last line
//! simply ends the instruction. After an instruction line that may take heredocs, the bodies
//! of its markers are read, in order, from the lines that follow.

use super::error::ErrorKind;
use super::heredoc::{self, Heredoc};
use super::words;

/// One instruction as written: where it starts, its joined text and its heredocs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct InstructionLine {
    /// 1-based line the instruction starts on.
    pub line: usize,
    /// The keyword as written (`run`, `COPY`).
    pub keyword: String,
    /// Everything after the keyword, continuations joined.
    pub args: String,
    pub heredocs: Vec<Heredoc>,
}

/// The instructions that take heredocs (BuildKit's `heredocDirectives`).
const HEREDOC_INSTRUCTIONS: [&str; 3] = ["RUN", "COPY", "ADD"];

/// Reads every instruction; errors carry the 1-based line and the keyword.
pub(super) fn instructions(
    lines: &[&str],
    escape: char,
) -> Result<Vec<InstructionLine>, (usize, String, ErrorKind)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if is_blank_or_comment(lines[i]) {
            i += 1;
            continue;
        }
        let start = i + 1;
        let mut text = String::new();
        loop {
            let (content, continues) = strip_continuation(lines[i], escape);
            text.push_str(content);
            i += 1;
            if !continues {
                break;
            }
            while i < lines.len() && is_blank_or_comment(lines[i]) {
                i += 1;
            }
            if i >= lines.len() {
                break;
            }
        }
        let text = text.trim();
        let (keyword, args) = match text.split_once(char::is_whitespace) {
            Some((keyword, args)) => (keyword, args.trim_start()),
            None => (text, ""),
        };
        let mut heredocs = Vec::new();
        if HEREDOC_INSTRUCTIONS
            .iter()
            .any(|k| k.eq_ignore_ascii_case(keyword))
        {
            for marker in words::split(args, escape)
                .iter()
                .filter_map(|w| heredoc::marker(w))
            {
                let mut content = String::new();
                loop {
                    let Some(line) = lines.get(i) else {
                        let kind = ErrorKind::UnterminatedHeredoc(marker.name.clone());
                        return Err((start, keyword.to_ascii_uppercase(), kind));
                    };
                    i += 1;
                    if heredoc::closes(&marker, line) {
                        break;
                    }
                    content.push_str(&heredoc::body_line(&marker, line));
                }
                heredocs.push(Heredoc {
                    name: marker.name,
                    content,
                    expand: marker.expand,
                    chomp: marker.chomp,
                    fd: marker.fd,
                });
            }
        }
        out.push(InstructionLine {
            line: start,
            keyword: keyword.to_string(),
            args: args.to_string(),
            heredocs,
        });
    }
    Ok(out)
}

fn is_blank_or_comment(line: &str) -> bool {
    let line = line.trim_start();
    line.is_empty() || line.starts_with('#')
}

/// The line without a trailing escape (and the blanks after it), and whether it continues.
fn strip_continuation(line: &str, escape: char) -> (&str, bool) {
    let trimmed = line.trim_end_matches([' ', '\t']);
    match trimmed.strip_suffix(escape) {
        Some(content) => (content, true),
        None => (line, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(src: &str) -> Vec<InstructionLine> {
        instructions(&src.lines().collect::<Vec<_>>(), '\\').unwrap()
    }

    // BuildKit joins continued lines as written (leading blanks of the next line kept) and
    // drops comment and empty lines inside a continuation.
    #[test]
    fn joins_continuations_skipping_comments_and_empty_lines() {
        let got = read("# c\nFROM x\n\nRUN a \\\n# inner comment\n\n    b \\  \n  c\nCMD d\\");
        assert_eq!(got.len(), 3);
        assert_eq!((got[1].line, got[1].keyword.as_str()), (4, "RUN"));
        assert_eq!(got[1].args, "a     b   c");
        assert_eq!((got[2].line, got[2].args.as_str()), (9, "d"));
    }

    #[test]
    fn backtick_escape_continues_lines() {
        let got = instructions(&["RUN a `", " b", "RUN c \\"], '`').unwrap();
        assert_eq!(got[0].args, "a  b");
        assert_eq!(got[1].args, "c \\");
    }

    #[test]
    fn reads_several_heredocs_in_order() {
        let got = read("RUN <<A cat && 3<<-'B' cat\nx\nA\n\ty\n\tB\nCOPY <<EOF /f\n$HOME\nEOF\n");
        assert_eq!(got.len(), 2);
        let docs = &got[0].heredocs;
        assert_eq!(
            (
                docs[0].name.as_str(),
                docs[0].content.as_str(),
                docs[0].expand
            ),
            ("A", "x\n", true)
        );
        assert_eq!(
            (
                docs[1].name.as_str(),
                docs[1].content.as_str(),
                docs[1].expand
            ),
            ("B", "y\n", false)
        );
        assert_eq!(docs[1].fd, Some(3));
        assert_eq!(
            (got[1].line, got[1].heredocs[0].content.as_str()),
            (6, "$HOME\n")
        );
    }

    #[test]
    fn heredoc_body_is_not_parsed_as_instructions() {
        let got = read("RUN <<EOF\nFROM nothing\n# not a comment\nEOF\nUSER u");
        assert_eq!(got.len(), 2);
        assert_eq!(
            got[0].heredocs[0].content,
            "FROM nothing\n# not a comment\n"
        );
        // Only RUN, COPY and ADD take heredocs.
        assert!(read("ENV A=<<EOF\nUSER u")
            .iter()
            .all(|l| l.heredocs.is_empty()));
    }

    #[test]
    fn unterminated_heredoc_is_an_error() {
        let err = instructions(&["FROM x", "RUN <<EOF", "echo"], '\\').unwrap_err();
        assert!(matches!(err, (2, k, ErrorKind::UnterminatedHeredoc(_)) if k == "RUN"));
    }
}
