//! Listening sockets: binding, and refusing new connections without losing the ones the
//! kernel has already completed.

use std::net::SocketAddr;

use socket2::{Domain, Protocol, SockRef, Socket, Type};
#[cfg(test)]
use std::time::Duration;

/// Binds a listener with SO_REUSEADDR (and SO_REUSEPORT if asked, so replicas can share a
/// port) and the given backlog.
pub fn bind(addr: SocketAddr, reuse_port: bool, backlog: i32) -> std::io::Result<tokio::net::TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    if reuse_port {
        socket.set_reuse_port(true)?;
    }
    socket.bind(&addr.into())?;
    socket.listen(backlog)?;
    socket.set_nonblocking(true)?;
    tokio::net::TcpListener::from_std(socket.into())
}

/// Makes the kernel drop every new connection attempt at this listener, while handshakes
/// already under way complete and the connections in its accept queue stay there to be
/// accepted.
///
/// Closing a listener resets every connection still in its backlog: clients whose
/// handshake completed see their request fail with a read error. A socket filter that
/// drops SYN segments stops new handshakes first (a dropped SYN is retried by the
/// client, which then finds the port closed and gets a clean "connection refused"),
/// while the final ACK of a handshake in flight still passes. Once those have landed
/// the queue can be emptied and every connection it held answered before the listener
/// closes.
pub fn refuse_new_connections(listener: &tokio::net::TcpListener) -> std::io::Result<()> {
    // Classic BPF over the TCP header (a TCP socket's filter sees the segment from its
    // TCP header): load the flags byte; keep segments with ACK set, drop the rest (SYNs).
    // Accepted children inherit the filter; every segment of an established connection
    // carries ACK, so it costs them nothing.
    const TCP_FLAGS_OFFSET: u32 = 13;
    const ACK: u32 = 0x10;
    let insn = |code: u32, jt: u8, jf: u8, k: u32| libc::sock_filter {
        code: code as u16,
        jt,
        jf,
        k,
    };
    let mut program = [
        insn(libc::BPF_LD | libc::BPF_B | libc::BPF_ABS, 0, 0, TCP_FLAGS_OFFSET),
        insn(libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K, 1, 0, ACK),
        insn(libc::BPF_RET | libc::BPF_K, 0, 0, 0),
        insn(libc::BPF_RET | libc::BPF_K, 0, 0, u32::MAX),
    ];
    let fprog = libc::sock_fprog {
        len: program.len() as u16,
        filter: program.as_mut_ptr(),
    };
    let fd = std::os::fd::AsRawFd::as_raw_fd(listener);
    // SAFETY: `fprog` points at a valid program that outlives the call; the kernel copies
    // it. `fd` is a socket owned by `listener`.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ATTACH_FILTER,
            (&fprog as *const libc::sock_fprog).cast(),
            std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Accepts one connection already in the backlog, if there is one, without waiting.
pub(crate) fn accept_queued(listener: &tokio::net::TcpListener) -> Option<tokio::net::TcpStream> {
    loop {
        match SockRef::from(listener).accept() {
            Ok((socket, _)) => {
                let stream: std::net::TcpStream = socket.into();
                if stream.set_nonblocking(true).is_err() {
                    continue;
                }
                return tokio::net::TcpStream::from_std(stream).ok();
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionAborted => continue,
            Err(_) => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn a_refusing_listener_completes_no_new_handshake_but_keeps_its_queue() {
        let listener = bind("127.0.0.1:0".parse().unwrap(), false, 16).unwrap();
        let addr = listener.local_addr().unwrap();
        let mut queued = tokio::net::TcpStream::connect(addr).await.unwrap();
        refuse_new_connections(&listener).unwrap();
        let late = tokio::time::timeout(Duration::from_millis(300), tokio::net::TcpStream::connect(addr)).await;
        assert!(
            late.is_err(),
            "a handshake completed after new connections were refused"
        );

        let mut accepted = accept_queued(&listener).expect("the queued connection is still there");
        assert!(accept_queued(&listener).is_none(), "nothing else was queued");
        // The accepted connection inherited the filter and still carries data both ways.
        queued.write_all(b"ping").await.unwrap();
        let mut buf = [0u8; 4];
        accepted.read_exact(&mut buf).await.unwrap();
        accepted.write_all(b"pong").await.unwrap();
        queued.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"pong");
    }
}
