//! Loopback addresses a test can keep to itself.
//!
//! A port a test binds, releases and expects to find free later can be
//! taken meanwhile by anything else on the machine (another test binary, a
//! second `cargo test`). [`Reserved`] keeps the port instead: a TCP socket
//! bound to a port the kernel picked, never listening. While it lives:
//!
//! - connections to the address are refused (nothing listens), which is
//!   what a test of a dead origin, a stopped edge or an unreachable admin
//!   port needs;
//! - the kernel never hands the port to another `bind(…:0)`, and a socket
//!   that asks for it by number cannot listen on it once one of ours does;
//! - a server of the test can still listen on it: tokio (and so every
//!   cdnlab server, and `cdn edge` as a child process) binds with
//!   `SO_REUSEADDR`, which Linux allows beside a bound socket that is not
//!   listening. Stopping that server and starting another on the same
//!   address works for the same reason.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use socket2::{Domain, Socket, Type};

/// A TCP port held without listening (see the module docs).
#[derive(Debug)]
pub struct Reserved {
    _socket: Socket,
    addr: SocketAddr,
}

impl Reserved {
    /// The reserved address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

/// Reserves a port the kernel picks on `ip`.
pub fn reserve_on(ip: IpAddr) -> Reserved {
    try_reserve(SocketAddr::new(ip, 0)).expect("reserve a port")
}

/// Reserves `addr` as it is (port 0: one the kernel picks); fails when
/// something listens there.
pub fn try_reserve(addr: SocketAddr) -> std::io::Result<Reserved> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    let addr = socket.local_addr()?.as_socket().ok_or_else(|| std::io::Error::other("not an IP address"))?;
    Ok(Reserved { _socket: socket, addr })
}

/// Reserves a port on 127.0.0.1.
pub fn reserve() -> Reserved {
    reserve_on(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_reserved_port_refuses_connections_yet_a_server_of_ours_can_listen_on_it() {
        let r = reserve();
        let err = tokio::net::TcpStream::connect(r.addr()).await.expect_err("nothing listens");
        assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
        // Nobody else gets it from the kernel.
        let others: Vec<_> = (0..200).map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap()).collect();
        assert!(others.iter().all(|l| l.local_addr().unwrap() != r.addr()));
        // Ours can listen, stop and listen again.
        for _ in 0..2 {
            let l = tokio::net::TcpListener::bind(r.addr()).await.expect("listen on the reserved port");
            let (c, s) = tokio::join!(tokio::net::TcpStream::connect(r.addr()), l.accept());
            assert!(c.is_ok() && s.is_ok());
            // …while it listens, a stranger cannot.
            assert!(std::net::TcpListener::bind(r.addr()).is_err());
        }
        let err = tokio::net::TcpStream::connect(r.addr()).await.expect_err("refused again");
        assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
    }
}
