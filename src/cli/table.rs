//! Tables laid out like Docker's tabwriter: each column as wide as its widest cell plus `pad`
//! (at least `min`), the last column unpadded, trailing blanks trimmed.

use std::io::{self, Write};

/// Writes `rows` (the header first, if any) as aligned columns.
pub fn write<R: AsRef<[S]>, S: AsRef<str>>(
    out: &mut impl Write,
    rows: &[R],
    min: usize,
    pad: usize,
) -> io::Result<()> {
    let cols = rows.iter().map(|r| r.as_ref().len()).max().unwrap_or(0);
    let mut widths = vec![0usize; cols];
    for r in rows {
        for (i, c) in r.as_ref().iter().enumerate() {
            widths[i] = widths[i].max((c.as_ref().chars().count() + pad).max(min));
        }
    }
    for r in rows {
        let cells = r.as_ref();
        let mut line = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                line.push_str(c.as_ref());
            } else {
                line.push_str(&format!("{:<w$}", c.as_ref(), w = widths[i]));
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn columns_align_and_the_last_is_not_padded() {
        let mut out = Vec::new();
        super::write(&mut out, &[["NAME", "ID"], ["a-long-name", "1"]], 0, 3).expect("write");
        assert_eq!(
            String::from_utf8(out).expect("utf-8"),
            "NAME          ID\na-long-name   1\n"
        );
    }
}
