//! Answers whose body is in the disk tier's body file
//! ([`crate::bodyfile`]): the response head with `MSG_MORE` (so it leaves
//! with the body's first bytes), then the body with `sendfile(2)` from the
//! page cache to the socket: no read into user space, no copy of the body
//! by the edge (nginx's way with its cache files).
//!
//! `sendfile` reads the file on the calling thread: a body not in the page
//! cache blocks the runtime worker for the device read (as nginx's worker
//! blocks without `aio`). The disk tier's bodies were written through the
//! page cache and are read back through it, so on a machine whose page
//! cache holds the working set (the bench's) it does not.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

use nix::sys::socket::{MsgFlags, send};
use runtime::serve::Accepted;
use tokio::io::Interest;

use crate::bodyfile::BodyRef;

/// Writes `head`, then the body at `at` in `file`, to the client. Every
/// byte sent is counted on the connection's meter. Straight to the socket:
/// for connections that are not paced only (`runtime::pace`; the caller
/// checks), since these bytes do not go through the pacer.
pub async fn send_head_and_body(io: &Accepted, head: &[u8], file: &File, at: &BodyRef) -> io::Result<()> {
    let sock = io.get_ref().get_ref();
    let mut sent = 0;
    while sent < head.len() {
        sock.writable().await?;
        let more = sock.try_io(Interest::WRITABLE, || {
            send(
                sock.as_raw_fd(),
                &head[sent..],
                MsgFlags::from_bits_retain(nix::libc::MSG_MORE) | MsgFlags::MSG_NOSIGNAL,
            )
            .map_err(io::Error::from)
        });
        match more {
            Ok(n) => sent += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
    io.count_out(sent as u64);
    let end = at.off + at.len;
    let mut off = at.off as i64;
    while (off as u64) < end {
        sock.writable().await?;
        let left = (end - off as u64) as usize;
        match sock.try_io(Interest::WRITABLE, || {
            nix::sys::sendfile::sendfile(sock, file, Some(&mut off), left).map_err(io::Error::from)
        }) {
            Ok(0) => return Err(io::Error::from(io::ErrorKind::UnexpectedEof)),
            Ok(n) => io.count_out(n as u64),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
