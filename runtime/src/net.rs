//! Sockets: binding a listener with a message that says what failed,
//! connecting with a timeout, and vectored writes that neither copy nor
//! allocate.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::io::AsyncWrite;
use tokio::net::{TcpListener, TcpSocket, TcpStream};

/// Writes every byte of `bufs` (vectored writes, so nothing is copied; the
/// slice list lives on the stack, so nothing is allocated either).
pub async fn write_all_vectored<W: AsyncWrite + Unpin, const N: usize>(
    w: &mut W,
    bufs: &mut [&[u8]; N],
) -> io::Result<()> {
    use tokio::io::AsyncWriteExt;
    let mut first = 0;
    while first < N {
        let slices: [io::IoSlice<'_>; N] = std::array::from_fn(|i| io::IoSlice::new(bufs[i]));
        let mut n = w.write_vectored(&slices[first..]).await?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::WriteZero, "connection closed"));
        }
        while first < N && n >= bufs[first].len() {
            n -= bufs[first].len();
            first += 1;
        }
        if first < N {
            bufs[first] = &bufs[first][n..];
        }
    }
    Ok(())
}

/// Binds a TCP listener with a message that names what failed to bind.
pub async fn bind(what: &str, addr: SocketAddr) -> io::Result<TcpListener> {
    TcpListener::bind(addr).await.map_err(|e| {
        let hint = match e.kind() {
            io::ErrorKind::AddrInUse => " (address already in use: is another cdnlab running?)",
            io::ErrorKind::AddrNotAvailable => " (address not available on this machine)",
            io::ErrorKind::PermissionDenied => " (permission denied)",
            _ => "",
        };
        io::Error::new(e.kind(), format!("{what}: cannot listen on {addr}: {e}{hint}"))
    })
}

/// Connects with a timeout (health checks, the origin client).
pub async fn connect(addr: SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
    connect_from(None, addr, timeout).await
}

/// [`connect`] from a given local address (`source`, any port): an edge
/// fetching from its own address in its region, so the upstream can
/// locate it. `TCP_NODELAY` is set: a paced response's rounds and a
/// request's head must not wait for an ACK (Nagle).
pub async fn connect_from(source: Option<IpAddr>, addr: SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
    let connecting = async {
        let s = match source {
            None => TcpStream::connect(addr).await?,
            Some(ip) => {
                let sock = if ip.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
                sock.bind(SocketAddr::new(ip, 0))
                    .map_err(|e| io::Error::new(e.kind(), format!("cannot connect from {ip}: {e}")))?;
                sock.connect(addr).await?
            }
        };
        s.set_nodelay(true)?;
        Ok(s)
    };
    match tokio::time::timeout(timeout, connecting).await {
        Ok(r) => r,
        Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, format!("connect to {addr} timed out"))),
    }
}

#[cfg(test)]
mod tests {
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use super::*;

    /// A writer that takes at most `step` bytes per call, vectored or not.
    struct Trickle {
        got: Vec<u8>,
        step: usize,
    }

    impl AsyncWrite for Trickle {
        fn poll_write(mut self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
            let n = buf.len().min(self.step);
            self.got.extend_from_slice(&buf[..n]);
            Poll::Ready(Ok(n))
        }
        fn poll_write_vectored(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            bufs: &[io::IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            let mut left = self.step;
            for b in bufs {
                let n = b.len().min(left);
                self.got.extend_from_slice(&b[..n]);
                left -= n;
            }
            Poll::Ready(Ok(self.step - left))
        }
        fn is_write_vectored(&self) -> bool {
            true
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn short_vectored_writes_still_write_every_byte_in_order() {
        for step in [1, 2, 3, 5, 64] {
            let mut w = Trickle { got: Vec::new(), step };
            let mut parts: [&[u8]; 3] = [b"head\r\n", b"", b"body bytes"];
            write_all_vectored(&mut w, &mut parts).await.unwrap();
            assert_eq!(w.got, b"head\r\nbody bytes", "step {step}");
        }
    }
}
