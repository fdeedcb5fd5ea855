//! Errors of the geodns library: each names what failed and why, so a
//! startup failure reads as one clear line.

/// What can go wrong starting or running geodns.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The GeoIP database cannot be read (the file given with `--mmdb`)
    /// or generated from the world.
    #[error(transparent)]
    GeoIp(#[from] geoip::Error),
    /// The world cannot be served (e.g. the zone is not a DNS name).
    #[error("world: {0}")]
    World(String),
    /// Binding or serving a socket failed.
    #[error("{0}")]
    Io(String),
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e.to_string())
    }
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
