//! `compose login` and `compose logout`: Docker's CLI commands, writing Docker's own
//! `config.json` (or its credential helper) so that `docker` and `compose` share logins.
//!
//! `-p` is the project name for every compose command, so the password flag is
//! `--password` only (Docker's `-p` short form cannot be offered).
use std::io::{BufRead, IsTerminal, Read, Write};

use anyhow::{bail, Context};
use clap::Args;

use crate::engine::registry::credentials::{server_key, DOCKER_HUB_KEY};
use crate::engine::registry::{verify_login, Credential, DockerConfig, RegistryConfig};

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Username
    #[arg(short = 'u', long)]
    pub username: Option<String>,
    /// Password (insecure: it shows in the process list and shell history; prefer
    /// --password-stdin)
    #[arg(long, conflicts_with = "password_stdin")]
    pub password: Option<String>,
    /// Take the password from stdin
    #[arg(long)]
    pub password_stdin: bool,
    /// Registry server (default: Docker Hub)
    #[arg(value_name = "SERVER")]
    pub server: Option<String>,
}

#[derive(Debug, Args)]
pub struct LogoutArgs {
    /// Registry server (default: Docker Hub)
    #[arg(value_name = "SERVER")]
    pub server: Option<String>,
}

/// `host[:port]` of what the user typed (a URL's scheme and path dropped), Docker Hub when
/// nothing; and the name messages use (Docker shows the Hub's URL key).
fn registry_of(server: Option<&str>) -> anyhow::Result<(String, String)> {
    let raw = server.unwrap_or("docker.io").trim();
    let rest = raw
        .strip_prefix("https://")
        .or_else(|| raw.strip_prefix("http://"))
        .unwrap_or(raw);
    let host = rest.split('/').next().unwrap_or("").to_ascii_lowercase();
    if host.is_empty()
        || !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':' | '[' | ']'))
    {
        bail!(
            "invalid registry server {raw:?}: expected host[:port], e.g. ghcr.io or 127.0.0.1:5000"
        );
    }
    let key = server_key(&host);
    let shown = if key == DOCKER_HUB_KEY {
        key
    } else {
        host.clone()
    };
    let host = if shown == DOCKER_HUB_KEY {
        "docker.io".to_string()
    } else {
        host
    };
    Ok((host, shown))
}

/// `login`; a dry run asks and checks the credentials with the registry as the real one does,
/// and says where it would store them instead of storing them.
pub fn login(args: &LoginArgs, dry_run: bool) -> anyhow::Result<i32> {
    let (host, shown) = registry_of(args.server.as_deref())?;
    let registry_config = RegistryConfig::load()?;
    let mut docker = DockerConfig::load()?;
    if args.password.is_some() {
        eprintln!("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
    }
    if args.password_stdin && args.username.is_none() {
        bail!("Must provide --username with --password-stdin");
    }

    // As Docker does: with neither a user nor a password given, try what is stored first.
    if args.username.is_none() && args.password.is_none() && !args.password_stdin {
        if let Some(existing) = docker.get(&host)? {
            println!("Authenticating with existing credentials...");
            match verify_login(&host, &existing, &registry_config) {
                Ok(()) => {
                    println!("Login Succeeded");
                    return Ok(0);
                }
                Err(e) => eprintln!("Login did not succeed, error: {e}"),
            }
        }
    }

    let username = match &args.username {
        Some(u) => u.trim().to_string(),
        None => prompt("Username: ", false)?,
    };
    if username.is_empty() {
        bail!("Non-null Username Required");
    }
    let secret = if let Some(p) = &args.password {
        p.clone()
    } else if args.password_stdin {
        let mut text = String::new();
        std::io::stdin()
            .take(1 << 20)
            .read_to_string(&mut text)
            .context("reading the password from stdin")?;
        let text = text.strip_suffix('\n').unwrap_or(&text);
        text.strip_suffix('\r').unwrap_or(text).to_string()
    } else {
        prompt("Password: ", true)?
    };
    if secret.is_empty() {
        bail!("Password Required");
    }
    let cred = Credential {
        username,
        secret,
        identity_token: false,
    };
    verify_login(&host, &cred, &registry_config)?;
    if dry_run {
        let line = format!("Storing the credentials for {shown}");
        println!("{}", super::progress::dry_line(true, &line));
        println!("{}", super::progress::dry_line(true, "Login Succeeded"));
        return Ok(0);
    }
    docker
        .store(&host, &cred)
        .with_context(|| format!("storing the credentials for {shown}"))?;
    if !docker.uses_helper(&host) {
        if let Some(path) = docker.path() {
            eprintln!(
                "WARNING! Your credentials are stored unencrypted in '{}'.\nConfigure a credential helper (credsStore) to remove this warning.",
                path.display()
            );
        }
    }
    println!("Login Succeeded");
    Ok(0)
}

/// `logout`; a dry run says what it would remove, and removes nothing.
pub fn logout(args: &LogoutArgs, dry_run: bool) -> anyhow::Result<i32> {
    let (host, shown) = registry_of(args.server.as_deref())?;
    let mut docker = DockerConfig::load()?;
    // Docker looks at the file first: a registry it does not list is not logged in.
    if !docker.lists(&host) && !docker.uses_helper(&host) {
        println!("Not logged in to {shown}");
        return Ok(0);
    }
    let line = format!("Removing login credentials for {shown}");
    println!("{}", super::progress::dry_line(dry_run, &line));
    if dry_run {
        return Ok(0);
    }
    docker
        .erase(&host)
        .with_context(|| format!("removing the credentials for {shown}"))?;
    Ok(0)
}

/// Asks on the terminal; `hidden` turns echo off while the password is typed.
fn prompt(label: &str, hidden: bool) -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        bail!("Cannot perform an interactive login from a non TTY device (use --username and --password-stdin)");
    }
    print!("{label}");
    std::io::stdout().flush().ok();
    let fd = rustix::stdio::stdin();
    let saved = if hidden {
        let saved = rustix::termios::tcgetattr(fd).context("reading the terminal's settings")?;
        let mut quiet = saved.clone();
        quiet.local_modes.remove(rustix::termios::LocalModes::ECHO);
        rustix::termios::tcsetattr(fd, rustix::termios::OptionalActions::Now, &quiet)
            .context("turning the terminal's echo off")?;
        Some(saved)
    } else {
        None
    };
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    if let Some(saved) = saved {
        if let Err(e) =
            rustix::termios::tcsetattr(fd, rustix::termios::OptionalActions::Now, &saved)
        {
            eprintln!("WARN[0000] restoring the terminal's echo: {e}");
        }
        println!();
    }
    read.context("reading from the terminal")?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}
