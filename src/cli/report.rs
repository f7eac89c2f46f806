//! The line a failed command prints: the error and its causes, each said once.

/// `{err:#}` (the error and its causes, `: `-separated), less the causes an error already
/// shows: our thiserror enums word `{source}` into their own text *and* name it as their
/// source, so anyhow's chain would print it twice ("…: Too many open files (os error 24):
/// Too many open files (os error 24)").
pub fn error_line(err: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if line.ends_with(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[derive(Debug, thiserror::Error)]
    #[error("writing /x: {source}")]
    struct Worded {
        source: std::io::Error,
    }

    #[derive(Debug, thiserror::Error)]
    #[error("loading")]
    struct Bare {
        #[source]
        source: std::io::Error,
    }

    fn enospc() -> std::io::Error {
        std::io::Error::from_raw_os_error(libc::ENOSPC)
    }

    #[test]
    fn a_cause_an_error_already_words_is_said_once_others_are_kept() {
        let worded: anyhow::Result<()> = Err(Worded { source: enospc() }.into());
        assert_eq!(
            error_line(&worded.context("image load").expect_err("error")),
            "image load: writing /x: No space left on device (os error 28)"
        );
        let bare = anyhow::Error::new(Bare { source: enospc() });
        assert_eq!(
            error_line(&bare),
            "loading: No space left on device (os error 28)"
        );
    }
}
