//! Bounds on client connections: each holds a slot for as long as it lives,
//! a connection accepted when none is free is closed at once, and one that
//! sends nothing is closed after the header-read timeout.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum_server::accept::Accept;
use futures_util::future::BoxFuture;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::metrics::REFUSED_CONNECTIONS;

/// Accepts TCP connections: at most `max` open at once, each given until
/// the header-read timeout to send its first byte (after which hyper's own
/// header-read timeout takes over), with Nagle's algorithm off so small
/// replies are not held back.
#[derive(Clone)]
pub struct ConnectionGate {
    slots: Arc<Semaphore>,
    first_byte: Duration,
}

impl ConnectionGate {
    /// At most `max` connections (at least one), each sending within `first_byte`.
    pub fn new(max: usize, first_byte: Duration) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(max.clamp(1, Semaphore::MAX_PERMITS))),
            first_byte,
        }
    }
}

impl<S: Send + 'static> Accept<TcpStream, S> for ConnectionGate {
    type Stream = Counted<TcpStream>;
    type Service = S;
    type Future = BoxFuture<'static, io::Result<(Self::Stream, S)>>;

    fn accept(&self, stream: TcpStream, service: S) -> Self::Future {
        let Ok(slot) = Arc::clone(&self.slots).try_acquire_owned() else {
            metrics::counter!(REFUSED_CONNECTIONS).increment(1);
            // Dropping the stream closes the connection.
            drop(stream);
            return Box::pin(std::future::ready(Err(io::Error::other(
                "too many open connections",
            ))));
        };
        let first_byte = self.first_byte;
        Box::pin(async move {
            stream.set_nodelay(true)?;
            match tokio::time::timeout(first_byte, stream.peek(&mut [0u8; 1])).await {
                Ok(peeked) => drop(peeked?),
                Err(_) => return Err(io::Error::new(io::ErrorKind::TimedOut, "nothing sent")),
            }
            Ok((
                Counted {
                    stream,
                    _slot: slot,
                },
                service,
            ))
        })
    }
}

/// A connection that frees its slot when it closes.
pub struct Counted<T> {
    stream: T,
    _slot: OwnedSemaphorePermit,
}

impl<T: AsyncRead + Unpin> AsyncRead for Counted<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Counted<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}
