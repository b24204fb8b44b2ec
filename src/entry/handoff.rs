//! Websocket connections handed over by a Node `http.Server`: Node parsed the upgrade request;
//! we take a duplicate of its socket's file descriptor and own the connection from there on.

use std::io;
use std::os::fd::{FromRawFd, RawFd};

/// Duplicates `fd` so the connection outlives Node's handle, which the caller then destroys.
pub fn duplicate(fd: RawFd) -> io::Result<std::net::TcpStream> {
    // SAFETY: dup has no memory-safety preconditions; the result is checked before use and
    // becomes owned by the returned stream.
    let copy = unsafe { libc::dup(fd) };
    if copy < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `copy` is a fresh descriptor that nothing else owns.
    let stream = unsafe { std::net::TcpStream::from_raw_fd(copy) };
    stream.set_nonblocking(true)?;
    Ok(stream)
}
