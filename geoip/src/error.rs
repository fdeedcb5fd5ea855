//! What can go wrong with a GeoIP database: each names the file (or what
//! was being built) and why, so a start-up failure reads as one line.

/// A database that cannot be read or built.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file is missing, unreadable or not an MMDB.
    #[error("GeoIP database {path}: {reason}")]
    Mmdb {
        /// The file given with `--mmdb`.
        path: String,
        /// Why it cannot be used.
        reason: String,
    },
    /// Generating the demo database from the world failed.
    #[error("building the demo GeoIP database: {0}")]
    Build(String),
    /// Writing the generated database failed.
    #[error("writing {path}: {reason}")]
    Write {
        /// The file written.
        path: String,
        /// Why it failed.
        reason: String,
    },
}
