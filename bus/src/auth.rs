//! Who a client is to the bus, and whether it insists on TLS: read from the
//! environment (or files it names), never from a command line or a world
//! file, so a secret shows in neither `ps` nor the logs nor git.
//!
//! | variable | meaning |
//! | --- | --- |
//! | `CDNLAB_BUS_TOKEN` / `CDNLAB_BUS_TOKEN_FILE` | a token (nats-server `authorization { token }`) |
//! | `CDNLAB_BUS_USER` + `CDNLAB_BUS_PASSWORD` / `CDNLAB_BUS_PASSWORD_FILE` | user and password |
//! | `CDNLAB_BUS_CREDS` | a `.creds` file (JWT and nkey seed, decentralised auth) |
//! | `CDNLAB_BUS_CA` | a PEM file of the CA that signed the server's certificate: TLS is then required |
//!
//! At most one kind of credential. Every cdnlab process that connects (edges,
//! GeoDNS, `cdn purge`, `cdn stats`) reads the same variables, and the
//! children of `cdn up` inherit them; `cdn up --bus` also starts its local
//! nats-server requiring the token or user/password it finds (written to a
//! configuration file readable only by its owner, in the server's storage
//! directory). The `_FILE` forms keep the secret out of the environment
//! too (`/proc/PID/environ` is readable by the same user).

use std::path::{Path, PathBuf};

use crate::BusError;

/// A token.
pub const TOKEN_ENV: &str = "CDNLAB_BUS_TOKEN";
/// A file holding the token.
pub const TOKEN_FILE_ENV: &str = "CDNLAB_BUS_TOKEN_FILE";
/// A user name (with a password).
pub const USER_ENV: &str = "CDNLAB_BUS_USER";
/// The user's password.
pub const PASSWORD_ENV: &str = "CDNLAB_BUS_PASSWORD";
/// A file holding the user's password.
pub const PASSWORD_FILE_ENV: &str = "CDNLAB_BUS_PASSWORD_FILE";
/// A NATS credentials (`.creds`) file.
pub const CREDS_ENV: &str = "CDNLAB_BUS_CREDS";
/// Root certificates (PEM) for the server's TLS certificate; TLS required.
pub const CA_ENV: &str = "CDNLAB_BUS_CA";

/// A credential.
#[derive(Clone, PartialEq, Eq)]
pub enum Secret {
    /// A token.
    Token(String),
    /// A user and password.
    UserPassword(String, String),
    /// A `.creds` file.
    CredsFile(PathBuf),
}

/// How a client proves who it is, and whether it requires TLS.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Auth {
    /// The credential, if any.
    pub secret: Option<Secret>,
    /// Root certificates to verify the server with (TLS required).
    pub ca: Option<PathBuf>,
}

/// Never prints a secret.
impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth").field("kind", &self.kind()).field("ca", &self.ca).finish()
    }
}

fn bad(what: &str, why: impl std::fmt::Display) -> BusError {
    BusError::Url(what.into(), why.to_string())
}

/// A secret from a file: its content, trailing newline removed.
fn read_secret(var: &str, path: &Path) -> Result<String, BusError> {
    let s = std::fs::read_to_string(path).map_err(|e| bad(var, format!("{}: {e}", path.display())))?;
    let s = s.trim_end_matches(['\r', '\n']).to_string();
    if s.is_empty() {
        return Err(bad(var, format!("{} is empty", path.display())));
    }
    Ok(s)
}

impl Auth {
    /// No credential, no TLS.
    pub fn none() -> Auth {
        Auth::default()
    }

    /// A token.
    pub fn token(t: &str) -> Auth {
        Auth { secret: Some(Secret::Token(t.into())), ca: None }
    }

    /// A user and password.
    pub fn user_password(user: &str, password: &str) -> Auth {
        Auth { secret: Some(Secret::UserPassword(user.into(), password.into())), ca: None }
    }

    /// From this process's environment (the table in the module's doc).
    pub fn from_env() -> Result<Auth, BusError> {
        Auth::from_vars(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
    }

    /// From variables looked up by `var`.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Auth, BusError> {
        let token = match (var(TOKEN_ENV), var(TOKEN_FILE_ENV)) {
            (Some(_), Some(_)) => return Err(bad(TOKEN_ENV, format!("set {TOKEN_ENV} or {TOKEN_FILE_ENV}, not both"))),
            (Some(t), None) => Some(t),
            (None, Some(p)) => Some(read_secret(TOKEN_FILE_ENV, Path::new(&p))?),
            (None, None) => None,
        };
        let password = match (var(PASSWORD_ENV), var(PASSWORD_FILE_ENV)) {
            (Some(_), Some(_)) => {
                return Err(bad(PASSWORD_ENV, format!("set {PASSWORD_ENV} or {PASSWORD_FILE_ENV}, not both")));
            }
            (Some(p), None) => Some(p),
            (None, Some(p)) => Some(read_secret(PASSWORD_FILE_ENV, Path::new(&p))?),
            (None, None) => None,
        };
        let user = match (var(USER_ENV), password) {
            (Some(u), Some(p)) => Some((u, p)),
            (None, None) => None,
            (Some(_), None) => return Err(bad(USER_ENV, format!("needs {PASSWORD_ENV} or {PASSWORD_FILE_ENV}"))),
            (None, Some(_)) => return Err(bad(PASSWORD_ENV, format!("needs {USER_ENV}"))),
        };
        let creds = var(CREDS_ENV).map(PathBuf::from);
        let secret = match (token, user, creds) {
            (Some(t), None, None) => Some(Secret::Token(t)),
            (None, Some((u, p)), None) => Some(Secret::UserPassword(u, p)),
            (None, None, Some(c)) => Some(Secret::CredsFile(c)),
            (None, None, None) => None,
            _ => {
                return Err(bad(
                    "bus credentials",
                    format!("set one of a token, a user and password, or {CREDS_ENV}; not several"),
                ));
            }
        };
        Ok(Auth { secret, ca: var(CA_ENV).map(PathBuf::from) })
    }

    /// What kind of credential (for logs: never the secret).
    pub fn kind(&self) -> &'static str {
        match &self.secret {
            None => "none",
            Some(Secret::Token(_)) => "token",
            Some(Secret::UserPassword(..)) => "user and password",
            Some(Secret::CredsFile(_)) => "credentials file",
        }
    }

    /// `opts` with this credential and TLS setting.
    pub(crate) async fn apply(
        &self,
        mut opts: async_nats::ConnectOptions,
    ) -> Result<async_nats::ConnectOptions, BusError> {
        match &self.secret {
            None => {}
            Some(Secret::Token(t)) => opts = opts.token(t.clone()),
            Some(Secret::UserPassword(u, p)) => opts = opts.user_and_password(u.clone(), p.clone()),
            Some(Secret::CredsFile(path)) => {
                opts =
                    opts.credentials_file(path).await.map_err(|e| bad(CREDS_ENV, format!("{}: {e}", path.display())))?
            }
        }
        if let Some(ca) = &self.ca {
            if !ca.is_file() {
                return Err(bad(CA_ENV, format!("{}: not a file", ca.display())));
            }
            opts = opts.require_tls(true).add_root_certificates(ca.clone());
        }
        Ok(opts)
    }

    /// The `authorization { … }` block of a nats-server configuration that
    /// requires this credential; `None` when there is none or it cannot be
    /// put there (a creds file needs an operator set up by hand).
    pub fn server_block(&self) -> Option<String> {
        let q = |s: &str| serde_json::to_string(s).unwrap_or_default();
        match &self.secret {
            Some(Secret::Token(t)) => Some(format!("authorization {{\n  token: {}\n}}\n", q(t))),
            Some(Secret::UserPassword(u, p)) => {
                Some(format!("authorization {{\n  user: {}\n  password: {}\n}}\n", q(u), q(p)))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(vars: &[(&str, &str)]) -> Result<Auth, BusError> {
        let m: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Auth::from_vars(|k| m.get(k).cloned())
    }

    #[test]
    fn credentials_from_variables_and_files() {
        assert_eq!(from(&[]).unwrap(), Auth::none());
        assert_eq!(from(&[(TOKEN_ENV, "s3cret")]).unwrap(), Auth::token("s3cret"));
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("pw");
        std::fs::write(&f, "pa ss\n").unwrap();
        let a = from(&[(USER_ENV, "edge"), (PASSWORD_FILE_ENV, f.to_str().unwrap())]).unwrap();
        assert_eq!(a, Auth::user_password("edge", "pa ss"));
        assert_eq!(a.kind(), "user and password");
        let a = from(&[(CREDS_ENV, "/x.creds"), (CA_ENV, "/ca.pem")]).unwrap();
        assert_eq!((a.kind(), a.ca.as_deref()), ("credentials file", Some(Path::new("/ca.pem"))));
    }

    #[test]
    fn half_or_double_credentials_are_refused_without_echoing_them() {
        for vars in [
            vec![(USER_ENV, "edge")],
            vec![(PASSWORD_ENV, "hunter2")],
            vec![(TOKEN_ENV, "hunter2"), (USER_ENV, "u"), (PASSWORD_ENV, "hunter2")],
            vec![(TOKEN_ENV, "hunter2"), (TOKEN_FILE_ENV, "/t")],
            vec![(TOKEN_FILE_ENV, "/nonexistent/token")],
        ] {
            let e = from(&vars).unwrap_err().to_string();
            assert!(!e.contains("hunter2"), "{e}");
        }
        let e = from(&[(TOKEN_FILE_ENV, "/nonexistent/token")]).unwrap_err().to_string();
        assert!(e.contains("/nonexistent/token"), "{e}");
    }

    #[test]
    fn debug_never_shows_the_secret_and_the_server_block_quotes_it() {
        let a = Auth::token("hunter\"2");
        assert!(!format!("{a:?}").contains("hunter"), "{a:?}");
        assert_eq!(a.server_block().unwrap(), "authorization {\n  token: \"hunter\\\"2\"\n}\n");
        assert!(Auth::none().server_block().is_none());
    }
}
