//! Idle and slow connections are closed after the header-read timeout, and
//! no more than the configured number are open at once.

use std::time::{Duration, Instant};

use hms_ach::app::Application;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::settings_for;

const HEALTH: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n";

/// Reads until the server closes `stream`; returns how long that took, or
/// `None` if it stays open past `wait`.
async fn closed_within(stream: &mut TcpStream, wait: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut buffer = [0u8; 4096];
    loop {
        match tokio::time::timeout_at((started + wait).into(), stream.read(&mut buffer)).await {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => return Some(started.elapsed()),
            Ok(Ok(_)) => {}
        }
    }
}

async fn health_answers(addr: std::net::SocketAddr) -> bool {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(HEALTH).await.unwrap();
    let mut buffer = [0u8; 64];
    let read = tokio::time::timeout(Duration::from_secs(2), stream.read(&mut buffer)).await;
    matches!(read, Ok(Ok(n)) if buffer[..n].starts_with(b"HTTP/1.1 200"))
}

#[tokio::test]
async fn idle_and_slow_connections_are_closed_and_their_number_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = settings_for("sqlite", dir.path());
    settings.http.max_connections = 20;
    settings.http.header_read_timeout_secs = 1;
    let app = Application::build(settings).await.unwrap();
    let addr = app.local_addr();
    tokio::spawn(app.run());
    assert!(health_answers(addr).await);

    // Twenty connections: idle, slow (half a head), and idle after a request.
    let mut held = Vec::new();
    for i in 0..20 {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        match i % 3 {
            0 => {}
            1 => stream
                .write_all(b"GET /healthz HTTP/1.1\r\nHost: te")
                .await
                .unwrap(),
            _ => {
                stream.write_all(HEALTH).await.unwrap();
                let mut buffer = [0u8; 512];
                let n = stream.read(&mut buffer).await.unwrap();
                assert!(buffer[..n].starts_with(b"HTTP/1.1 200"));
            }
        }
        held.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;

    // The twenty-first is closed at once, without an answer.
    let mut extra = TcpStream::connect(addr).await.unwrap();
    let _ = extra.write_all(HEALTH).await;
    let closed = closed_within(&mut extra, Duration::from_millis(500)).await;
    assert!(
        closed.is_some(),
        "a connection beyond the bound was kept open"
    );

    // Each held connection is closed by the server after about a second.
    for (i, stream) in held.iter_mut().enumerate() {
        let closed = closed_within(stream, Duration::from_secs(4)).await;
        assert!(closed.is_some(), "connection {i} was never closed");
    }
    assert!(
        health_answers(addr).await,
        "new connections are served once slots free up"
    );
}
