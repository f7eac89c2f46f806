//! Signals by the names `stop_signal` and `kill --signal` take.

use rustix::process::Signal;

use super::Container;

/// The signal named `name` (`SIGTERM`, `term`, `15`); `None` is SIGTERM, the default stop
/// signal.
pub fn parse_signal(name: Option<&str>) -> Result<Signal, String> {
    let Some(name) = name else {
        return Ok(Signal::TERM);
    };
    if let Ok(n) = name.parse::<i32>() {
        return Signal::from_named_raw(n).ok_or_else(|| format!("invalid signal number {n}"));
    }
    let upper = name.to_ascii_uppercase();
    let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
    let sig = match bare {
        "HUP" => Signal::HUP,
        "INT" => Signal::INT,
        "QUIT" => Signal::QUIT,
        "KILL" => Signal::KILL,
        "USR1" => Signal::USR1,
        "USR2" => Signal::USR2,
        "TERM" => Signal::TERM,
        "ALRM" => Signal::ALARM,
        "CONT" => Signal::CONT,
        "STOP" => Signal::STOP,
        "WINCH" => Signal::WINCH,
        "PWR" => Signal::POWER,
        _ => return Err(format!("invalid signal {name:?}")),
    };
    Ok(sig)
}

impl Container {
    /// The signal it is stopped with (`stop_signal`, default SIGTERM).
    pub fn stop_signal(&self) -> Result<Signal, String> {
        parse_signal(self.record.stop_signal.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_by_name_and_number() {
        assert_eq!(parse_signal(None), Ok(Signal::TERM));
        assert_eq!(parse_signal(Some("SIGINT")), Ok(Signal::INT));
        assert_eq!(parse_signal(Some("quit")), Ok(Signal::QUIT));
        assert_eq!(parse_signal(Some("9")), Ok(Signal::KILL));
        assert!(parse_signal(Some("SIGNOPE")).is_err());
    }
}
