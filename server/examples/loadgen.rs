//! A loopback load generator for the AuthZEN evaluation endpoint.
//!
//! `--rate R` sends R requests per second on a fixed schedule (open loop) and
//! measures each latency from its scheduled send time, so a stall is not hidden
//! by the generator waiting for it. `--concurrency C` keeps C requests in flight
//! (closed loop) to find the saturated throughput.
//!
//! One request goes first, unmeasured: the first use of a credential after the
//! service starts checks its secret against the stored password hash, which is
//! meant to be slow and is done once; requests arriving meanwhile wait for it.
//!
//! ```text
//! cargo run --release -p hms-ach --example loadgen -- --url URL --token TOKEN --rate 5000 --seconds 20
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

struct Args {
    url: String,
    token: String,
    body: String,
    rate: Option<u64>,
    concurrency: usize,
    seconds: u64,
}

fn parse_args() -> Args {
    let mut args = Args {
        url: String::new(),
        token: String::new(),
        body: r#"{"subject":{"type":"Staff","id":"dr-grey"},"action":{"name":"read_lab_result"},"resource":{"type":"LabResult","id":"lr-1","properties":{"patient":{"type":"Patient","id":"p-1001"}}}}"#.into(),
        rate: None,
        concurrency: 32,
        seconds: 20,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--url" => args.url = value,
            "--token" => args.token = value,
            "--body" => args.body = std::fs::read_to_string(&value).expect("body file"),
            "--rate" => args.rate = Some(value.parse().expect("rate")),
            "--concurrency" => args.concurrency = value.parse().expect("concurrency"),
            "--seconds" => args.seconds = value.parse().expect("seconds"),
            other => panic!("unknown flag {other}"),
        }
    }
    assert!(
        !args.url.is_empty() && !args.token.is_empty(),
        "--url and --token are required"
    );
    args
}

/// One thread is plenty for the client side and leaves the other core to the server.
#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args = Arc::new(parse_args());
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(1024)
        .build()
        .unwrap();
    assert!(
        send(&args, &client).await,
        "the first request failed: check --url and --token"
    );
    let latencies = Arc::new(Mutex::new(Vec::<Duration>::new()));
    let errors = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.seconds);
    match args.rate {
        Some(rate) => open_loop(&args, &client, rate, deadline, &latencies, &errors).await,
        None => closed_loop(&args, &client, deadline, &latencies, &errors).await,
    }
    let elapsed = started.elapsed().as_secs_f64();
    let mut samples = latencies.lock().await.clone();
    samples.sort_unstable();
    let at = |q: f64| {
        samples
            .get(((samples.len() as f64 * q) as usize).min(samples.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    let mode = args.rate.map_or(
        format!("closed loop, {} in flight", args.concurrency),
        |r| format!("open loop at {r}/s"),
    );
    println!(
        "{mode}: {} ok, {} errors in {elapsed:.1} s = {:.0} decisions/s; latency p50 {:?} p90 {:?} p99 {:?} p99.9 {:?} max {:?}",
        samples.len(),
        errors.load(std::sync::atomic::Ordering::Relaxed),
        samples.len() as f64 / elapsed,
        at(0.50),
        at(0.90),
        at(0.99),
        at(0.999),
        samples.last().copied().unwrap_or_default()
    );
}

async fn send(args: &Args, client: &reqwest::Client) -> bool {
    let response = client
        .post(&args.url)
        .bearer_auth(&args.token)
        .header("content-type", "application/json")
        .body(args.body.clone())
        .send()
        .await;
    match response {
        Ok(r) if r.status().is_success() => r.bytes().await.is_ok(),
        _ => false,
    }
}

async fn open_loop(
    args: &Arc<Args>,
    client: &reqwest::Client,
    rate: u64,
    deadline: Instant,
    latencies: &Arc<Mutex<Vec<Duration>>>,
    errors: &Arc<std::sync::atomic::AtomicU64>,
) {
    // Tokio's timers tick in milliseconds; a dedicated thread paces sends with
    // the OS's finer sleep and hands each scheduled instant over.
    let (schedule, mut due) = tokio::sync::mpsc::unbounded_channel::<Instant>();
    let interval = Duration::from_nanos(1_000_000_000 / rate);
    std::thread::spawn(move || {
        let mut next = Instant::now();
        while next < deadline {
            let now = Instant::now();
            if next > now {
                std::thread::sleep(next - now);
            }
            if schedule.send(next).is_err() {
                break;
            }
            next += interval;
        }
    });
    let mut tasks = Vec::new();
    while let Some(scheduled) = due.recv().await {
        let (args, client, latencies, errors) = (
            Arc::clone(args),
            client.clone(),
            Arc::clone(latencies),
            Arc::clone(errors),
        );
        tasks.push(tokio::spawn(async move {
            if send(&args, &client).await {
                latencies.lock().await.push(scheduled.elapsed());
            } else {
                errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
}

async fn closed_loop(
    args: &Arc<Args>,
    client: &reqwest::Client,
    deadline: Instant,
    latencies: &Arc<Mutex<Vec<Duration>>>,
    errors: &Arc<std::sync::atomic::AtomicU64>,
) {
    let workers: Vec<_> = (0..args.concurrency)
        .map(|_| {
            let (args, client, latencies, errors) = (
                Arc::clone(args),
                client.clone(),
                Arc::clone(latencies),
                Arc::clone(errors),
            );
            tokio::spawn(async move {
                let mut local = Vec::new();
                while Instant::now() < deadline {
                    let sent = Instant::now();
                    if send(&args, &client).await {
                        local.push(sent.elapsed());
                    } else {
                        errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
                latencies.lock().await.extend(local);
            })
        })
        .collect();
    for worker in workers {
        let _ = worker.await;
    }
}
