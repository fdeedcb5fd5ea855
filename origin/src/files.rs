//! Real files under `--root`, for paths outside `/obj/` and `/echo/`.
//!
//! A request path is percent-decoded and split into segments; `.` and `..`
//! segments, empty segments (`//`, the way to an absolute path), NUL and
//! backslashes are refused with 400, dotfiles are 404. The result is
//! canonicalized (symlinks resolved) and must still lie under the
//! canonical root, so a symlink pointing out of the root is 404 too.
//! Directories serve their `index.html`.
//!
//! Files up to the stream threshold are read whole; bigger ones are
//! streamed. `Content-Digest` is computed once per (path, length, mtime).

use std::collections::{HashMap, VecDeque};
use std::io::{self, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderValue, StatusCode};
use parking_lot::Mutex;
use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::body::Body;
use crate::catalog::{content_digest, digest_value};
use crate::range::ByteRange;
use crate::reject::Reject;

/// Where the bytes of a representation are.
#[derive(Debug, Clone)]
pub enum Content {
    /// In memory.
    Bytes(Bytes),
    /// In a file (streamed), `len` bytes long.
    File(PathBuf),
}

/// A piece of a response body: literal bytes, or a range of the file.
#[derive(Debug, Clone)]
pub enum Piece {
    /// Bytes sent as they are.
    Bytes(Bytes),
    /// A byte range of the representation's file.
    File(ByteRange),
}

/// Most (path, length, mtime) digests remembered; the table is cleared when full.
pub const MAX_DIGESTS: usize = 10_000;
/// Bytes read from disk per body chunk.
const CHUNK: usize = 64 * 1024;

/// The file tree being served.
#[derive(Debug)]
pub struct Files {
    root: PathBuf,
    stream_threshold: u64,
    digests: Mutex<HashMap<(PathBuf, u64, SystemTime), HeaderValue>>,
}

/// A file found for a request.
#[derive(Debug)]
pub struct Found {
    /// Its length.
    pub len: u64,
    /// Its modification time.
    pub mtime: SystemTime,
    /// Its bytes (read, or to be streamed).
    pub content: Content,
    /// `sha-256=:…:` of the whole file.
    pub digest: HeaderValue,
    /// `Content-Type` from the extension, if known.
    pub content_type: Option<&'static str>,
}

impl Files {
    /// Serves the directory `root`; it must exist.
    pub fn new(root: &Path, stream_threshold: u64) -> io::Result<Files> {
        let canonical = std::fs::canonicalize(root)
            .map_err(|e| io::Error::new(e.kind(), format!("root {}: {e}", root.display())))?;
        if !canonical.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("root {} is not a directory", root.display()),
            ));
        }
        Ok(Files { root: canonical, stream_threshold, digests: Mutex::new(HashMap::new()) })
    }

    /// The canonical root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Finds the file for a request path (as received, percent-encoded).
    pub async fn lookup(&self, raw_path: &str) -> Result<Found, Reject> {
        let rel = relative_path(raw_path)?;
        let mut path = self.confine(&self.root.join(rel)).await?;
        let mut meta = tokio::fs::metadata(&path).await.map_err(fs_reject)?;
        if meta.is_dir() {
            path = self.confine(&path.join("index.html")).await?;
            meta = tokio::fs::metadata(&path).await.map_err(fs_reject)?;
        }
        if !meta.is_file() {
            return Err(Reject::not_found());
        }
        let mtime = meta.modified().unwrap_or(UNIX_EPOCH);
        let content_type = content_type(&path);
        if meta.len() <= self.stream_threshold {
            let bytes = Bytes::from(tokio::fs::read(&path).await.map_err(fs_reject)?);
            let len = bytes.len() as u64;
            let digest = match self.cached_digest(&path, len, mtime) {
                Some(d) => d,
                None => self.remember(path.clone(), len, mtime, content_digest(&bytes)),
            };
            return Ok(Found { len, mtime, content: Content::Bytes(bytes), digest, content_type });
        }
        let len = meta.len();
        let digest = match self.cached_digest(&path, len, mtime) {
            Some(d) => d,
            None => {
                let p = path.clone();
                let d = tokio::task::spawn_blocking(move || hash_file(&p))
                    .await
                    .map_err(Reject::internal)?
                    .map_err(fs_reject)?;
                self.remember(path.clone(), len, mtime, d)
            }
        };
        Ok(Found { len, mtime, content: Content::File(path), digest, content_type })
    }

    /// Canonicalizes `p` and checks it is still under the root.
    async fn confine(&self, p: &Path) -> Result<PathBuf, Reject> {
        let c = tokio::fs::canonicalize(p).await.map_err(fs_reject)?;
        if c.starts_with(&self.root) {
            Ok(c)
        } else {
            tracing::debug!(path = %p.display(), "refused: resolves outside the root");
            Err(Reject::not_found())
        }
    }

    fn cached_digest(&self, path: &Path, len: u64, mtime: SystemTime) -> Option<HeaderValue> {
        self.digests.lock().get(&(path.to_path_buf(), len, mtime)).cloned()
    }

    fn remember(&self, path: PathBuf, len: u64, mtime: SystemTime, digest: String) -> HeaderValue {
        let v = HeaderValue::from_str(&digest).unwrap_or(HeaderValue::from_static(""));
        let mut d = self.digests.lock();
        if d.len() >= MAX_DIGESTS {
            d.clear();
        }
        d.insert((path, len, mtime), v.clone());
        v
    }
}

fn fs_reject(e: io::Error) -> Reject {
    match e.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory | io::ErrorKind::InvalidFilename => Reject::not_found(),
        io::ErrorKind::PermissionDenied => Reject::new(StatusCode::FORBIDDEN, "forbidden"),
        _ => Reject::internal(e),
    }
}

/// The path under the root for a request path, refusing every way out of
/// it (see the module docs). An empty result is the root itself.
pub fn relative_path(raw: &str) -> Result<PathBuf, Reject> {
    let bad = |why: &'static str| Err(Reject::bad_request(why));
    let Some(rest) = raw.strip_prefix('/') else {
        return bad("path must start with /");
    };
    if rest.contains('\\') {
        return bad("backslash in path");
    }
    let Ok(decoded) = percent_encoding::percent_decode_str(rest).decode_utf8() else {
        return bad("path is not UTF-8");
    };
    if decoded.contains('\0') {
        return bad("NUL in path");
    }
    if decoded.contains('\\') {
        return bad("backslash in path");
    }
    let segments: Vec<&str> = decoded.split('/').collect();
    let mut out = PathBuf::new();
    for (i, seg) in segments.iter().enumerate() {
        match *seg {
            "" if i + 1 == segments.len() => {} // trailing slash
            "" => return bad("empty path segment"),
            "." | ".." => return bad("dot segment in path"),
            s if s.starts_with('.') => return Err(Reject::not_found()),
            s => out.push(s),
        }
    }
    Ok(out)
}

/// `Content-Type` for a file name's extension.
pub fn content_type(path: &Path) -> Option<&'static str> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    Some(match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" => "application/json",
        "txt" => "text/plain; charset=utf-8",
        "xml" => "application/xml",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "ico" => "image/x-icon",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "mp4" | "m4v" => "video/mp4",
        "m4s" => "video/iso.segment",
        "webm" => "video/webm",
        "ts" => "video/mp2t",
        "m3u8" => "application/vnd.apple.mpegurl",
        "mpd" => "application/dash+xml",
        "mp3" => "audio/mpeg",
        "pdf" => "application/pdf",
        "wasm" => "application/wasm",
        "zip" => "application/zip",
        "gz" => "application/gzip",
        "bin" => "application/octet-stream",
        _ => return None,
    })
}

/// The strong ETag of a file: its length and mtime hashed, and its version.
pub fn file_etag(len: u64, mtime: SystemTime, version: u64) -> String {
    let nanos = mtime.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    let h = world::rng::hash64(&[len.to_le_bytes(), nanos.to_le_bytes()].concat());
    format!("\"f{h:016x}-v{version}\"")
}

fn hash_file(path: &Path) -> io::Result<String> {
    use std::io::Read as _;
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(digest_value(&h.finalize()))
}

/// A body of `len` bytes made of `pieces`, file ranges read from `path`
/// as the client takes them.
pub(crate) fn stream(path: PathBuf, pieces: Vec<Piece>, len: u64) -> Body {
    struct St {
        path: PathBuf,
        file: Option<tokio::fs::File>,
        pieces: VecDeque<Piece>,
        left: u64,
    }
    let st = St { path, file: None, pieces: pieces.into(), left: 0 };
    let s = futures_util::stream::try_unfold(st, |mut st| async move {
        loop {
            if st.left > 0 {
                let Some(file) = st.file.as_mut() else {
                    return Err(io::Error::other("file not open"));
                };
                let mut buf = vec![0u8; st.left.min(CHUNK as u64) as usize];
                let n = file.read(&mut buf).await?;
                if n == 0 {
                    return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "file shrank while being sent"));
                }
                buf.truncate(n);
                st.left -= n as u64;
                return Ok(Some((Bytes::from(buf), st)));
            }
            match st.pieces.pop_front() {
                None => return Ok(None),
                Some(Piece::Bytes(b)) => return Ok(Some((b, st))),
                Some(Piece::File(r)) => {
                    if st.file.is_none() {
                        st.file = Some(tokio::fs::File::open(&st.path).await?);
                    }
                    if let Some(f) = st.file.as_mut() {
                        f.seek(SeekFrom::Start(r.start)).await?;
                    }
                    st.left = r.len();
                }
            }
        }
    });
    Body::stream(Box::pin(s), len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_paths_map_under_the_root() {
        assert_eq!(relative_path("/a/b.txt").unwrap(), PathBuf::from("a/b.txt"));
        assert_eq!(relative_path("/a%20b.txt").unwrap(), PathBuf::from("a b.txt"));
        assert_eq!(relative_path("/").unwrap(), PathBuf::new());
        assert_eq!(relative_path("/dir/").unwrap(), PathBuf::from("dir"));
    }

    #[test]
    fn every_way_out_is_refused() {
        for raw in [
            "/../etc/passwd",
            "/a/../../etc/passwd",
            "/%2e%2e/etc/passwd",
            "/%2E%2E%2Fetc%2Fpasswd",
            "/a/%2e%2e/%2e%2e/x",
            "//etc/passwd",
            "/a//b",
            "/%2Fetc/passwd",
            "/a\\..\\b",
            "/a%5c..%5cb",
            "/a%00b",
            "/./a",
            "/%ff",
            "relative",
        ] {
            let r = relative_path(raw);
            assert!(r.is_err(), "{raw} was accepted as {r:?}");
            assert_eq!(r.unwrap_err().status, StatusCode::BAD_REQUEST, "{raw}");
        }
        assert_eq!(relative_path("/.git/config").unwrap_err().status, StatusCode::NOT_FOUND);
    }

    #[test]
    fn content_types_come_from_the_extension() {
        assert_eq!(content_type(Path::new("a/b.JPG")), Some("image/jpeg"));
        assert_eq!(content_type(Path::new("index.html")), Some("text/html; charset=utf-8"));
        assert_eq!(content_type(Path::new("noext")), None);
    }

    #[test]
    fn file_etags_change_with_length_mtime_and_version() {
        let t = UNIX_EPOCH + std::time::Duration::from_secs(1000);
        let a = file_etag(10, t, 1);
        assert_ne!(a, file_etag(11, t, 1));
        assert_ne!(a, file_etag(10, t + std::time::Duration::from_nanos(1), 1));
        assert_ne!(a, file_etag(10, t, 2));
        assert_eq!(a, file_etag(10, t, 1));
    }
}
