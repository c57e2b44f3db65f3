//! Benchmark of the event bus (run by `scripts/bench-bus`, not a test):
//! PutEvents -> rules -> API destinations on loopback, against a running
//! server. Measures
//!
//! 1. latency from just before PutEvents to the event's arrival at the
//!    destination (p50 / p99) at a paced 1,000 events/s;
//! 2. the highest sustained rate: concurrent PutEvents calls as fast as the
//!    server takes them, for a while, then until every event arrived;
//!
//! next to a baseline measured in the same run: the same HTTP client
//! posting straight to the same receiver (the floor any bus sits on).
//! Each API destination is limited to 300 invocations/s (EventBridge's
//! maximum), so the events fan out over `--destinations` rules.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use axum::body::Bytes;
use serde_json::{json, Value};

/// Microseconds since the Unix epoch.
fn now_us() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as u64).unwrap_or(0)
}

#[derive(Default)]
struct Arrivals {
    latencies_us: Mutex<Vec<u64>>,
    count: AtomicU64,
    last_us: AtomicU64,
    /// Whether bodies are parsed for their send time (off in the
    /// throughput phases, to leave the cores to the server).
    measuring: std::sync::atomic::AtomicBool,
}

/// The destination: records when each event arrived and how long after it
/// was sent (`detail.sent`).
async fn receiver(arrivals: Arc<Arrivals>) -> Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let app = axum::Router::new().route(
        "/{*path}",
        axum::routing::post(move |body: Bytes| {
            let arrivals = arrivals.clone();
            async move {
                let now = now_us();
                let measuring = arrivals.measuring.load(Ordering::Relaxed);
                if let Some(value) = measuring.then(|| serde_json::from_slice::<Value>(&body).ok()).flatten() {
                    let sent = value.pointer("/detail/sent").or_else(|| value.get("sent")).and_then(Value::as_u64);
                    if let Some(sent) = sent {
                        arrivals.latencies_us.lock().unwrap().push(now.saturating_sub(sent));
                    }
                }
                arrivals.count.fetch_add(1, Ordering::Relaxed);
                arrivals.last_us.store(now, Ordering::Relaxed);
                "ok"
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(format!("http://{address}"))
}

struct Client {
    http: reqwest::Client,
    endpoint: String,
    host: String,
    key_id: String,
    secret: String,
}

impl Client {
    async fn events(&self, operation: &str, body: &Value) -> Result<Value> {
        let body = serde_json::to_vec(body)?;
        let signed = self.sign(operation, &body);
        self.send(operation, body, signed).await
    }

    fn sign(&self, operation: &str, body: &[u8]) -> Vec<(String, String)> {
        let target = format!("AWSEvents.{operation}");
        let headers = vec![
            ("host".to_string(), self.host.clone()),
            ("content-type".to_string(), "application/x-amz-json-1.1".to_string()),
            ("x-amz-target".to_string(), target.clone()),
        ];
        sluice_api::sigv4::sign(
            "POST",
            "/",
            "",
            &headers,
            body,
            &self.key_id,
            &self.secret,
            "us-east-1",
            "events",
            time::OffsetDateTime::now_utc(),
        )
    }

    async fn send(&self, operation: &str, body: Vec<u8>, signed: Vec<(String, String)>) -> Result<Value> {
        let target = format!("AWSEvents.{operation}");
        let mut request = self
            .http
            .post(&self.endpoint)
            .header("content-type", "application/x-amz-json-1.1")
            .header("x-amz-target", target)
            .body(body);
        for (name, value) in signed {
            request = request.header(name, value);
        }
        let response = request.send().await?;
        let status = response.status();
        let value: Value = response.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            bail!("{operation} failed: HTTP {status}: {value}");
        }
        Ok(value)
    }
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index] as f64 / 1000.0
}

fn take_latencies(arrivals: &Arrivals) -> Vec<u64> {
    let mut latencies = std::mem::take(&mut *arrivals.latencies_us.lock().unwrap());
    latencies.sort_unstable();
    latencies
}

fn entries(shards: usize, start: usize, n: usize) -> Value {
    let entries: Vec<Value> = (0..n)
        .map(|i| {
            json!({"Source": "bench", "DetailType": "Tick",
                   "Detail": json!({"shard": (start + i) % shards, "sent": now_us(), "pad": "x".repeat(200)}).to_string()})
        })
        .collect();
    json!({ "Entries": entries })
}

async fn wait_for_count(arrivals: &Arrivals, count: u64, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while arrivals.count.load(Ordering::Relaxed) < count {
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    true
}

#[tokio::main]
async fn main() -> Result<()> {
    sluice_net::install_tls_provider();
    let mut args: HashMap<String, String> = HashMap::new();
    let raw: Vec<String> = std::env::args().skip(1).collect();
    for pair in raw.chunks(2) {
        if let [flag, value] = pair {
            args.insert(flag.trim_start_matches("--").to_string(), value.clone());
        }
    }
    let endpoint = args.get("endpoint").cloned().context("--endpoint is required")?;
    let data_dir = args.get("data-dir").cloned().context("--data-dir is required")?;
    let rate: usize = args.get("rate").map(|r| r.parse()).transpose()?.unwrap_or(1000);
    let seconds: u64 = args.get("seconds").map(|r| r.parse()).transpose()?.unwrap_or(10);
    let shards: usize = args.get("destinations").map(|r| r.parse()).transpose()?.unwrap_or(64);
    let concurrency: usize = args.get("concurrency").map(|r| r.parse()).transpose()?.unwrap_or(16);

    let credentials = std::fs::read_to_string(format!("{data_dir}/credentials")).context("reading credentials")?;
    let field = |name: &str| {
        credentials
            .lines()
            .find_map(|l| l.split_once('=').filter(|(k, _)| k.trim() == name).map(|(_, v)| v.trim().to_string()))
            .unwrap_or_default()
    };
    let url = reqwest::Url::parse(&endpoint)?;
    let client = Arc::new(Client {
        http: reqwest::Client::builder().pool_max_idle_per_host(256).build()?,
        host: format!("{}:{}", url.host_str().unwrap_or(""), url.port().unwrap_or(80)),
        endpoint: endpoint.clone(),
        key_id: field("aws_access_key_id"),
        secret: field("aws_secret_access_key"),
    });

    let arrivals = Arc::new(Arrivals::default());
    let base = receiver(arrivals.clone()).await?;
    let connection = client
        .events(
            "CreateConnection",
            &json!({"Name": "bench", "AuthorizationType": "API_KEY",
                     "AuthParameters": {"ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": "bench"}}}),
        )
        .await?;
    for shard in 0..shards {
        let destination = client
            .events(
                "CreateApiDestination",
                &json!({"Name": format!("bench-{shard}"), "ConnectionArn": connection["ConnectionArn"],
                        "InvocationEndpoint": format!("{base}/shard/{shard}"), "HttpMethod": "POST",
                        "InvocationRateLimitPerSecond": 300}),
            )
            .await?;
        client
            .events(
                "PutRule",
                &json!({"Name": format!("bench-{shard}"),
                        "EventPattern": json!({"source": ["bench"], "detail": {"shard": [shard]}}).to_string()}),
            )
            .await?;
        client
            .events(
                "PutTargets",
                &json!({"Rule": format!("bench-{shard}"),
                        "Targets": [{"Id": "d", "Arn": destination["ApiDestinationArn"]}]}),
            )
            .await?;
    }
    println!("machine: {} cores; {shards} API destinations (300/s each); events of ~300 bytes", num_cpus());

    let only_sustained = args.get("only").map(String::as_str) == Some("sustained");
    if !only_sustained {
        paced(&client, &arrivals, &base, rate, seconds, shards).await;
    }
    sustained(&client, &arrivals, &base, seconds, shards, concurrency).await;
    Ok(())
}

/// The paced phases: the direct baseline, then the bus, at `rate` events/s.
async fn paced(client: &Arc<Client>, arrivals: &Arc<Arrivals>, base: &str, rate: usize, seconds: u64, shards: usize) {
    // Baseline 1: straight POSTs to the receiver at the same pace.
    arrivals.measuring.store(true, Ordering::Relaxed);
    let direct = reqwest::Client::new();
    let total = rate * seconds as usize;
    let interval = Duration::from_secs_f64(10.0 / rate as f64);
    let started = Instant::now();
    let mut ticker = tokio::time::interval(interval);
    for batch in 0..total / 10 {
        ticker.tick().await;
        for i in 0..10 {
            let direct = direct.clone();
            let body = json!({"sent": now_us(), "n": batch * 10 + i}).to_string();
            let url = format!("{base}/direct");
            tokio::spawn(async move { direct.post(url).body(body).send().await });
        }
    }
    wait_for_count(&arrivals, total as u64, Duration::from_secs(30)).await;
    let baseline = take_latencies(&arrivals);
    println!(
        "baseline  direct POST at {rate}/s for {:.1} s: p50 {:.2} ms, p99 {:.2} ms ({} requests)",
        started.elapsed().as_secs_f64(),
        percentile(&baseline, 0.5),
        percentile(&baseline, 0.99),
        baseline.len()
    );

    // 1. Latency through the bus at `rate` events/s (calls of 10 entries).
    arrivals.count.store(0, Ordering::Relaxed);
    let started = Instant::now();
    let mut ticker = tokio::time::interval(interval);
    let failures = Arc::new(AtomicU64::new(0));
    for batch in 0..total / 10 {
        ticker.tick().await;
        let client = client.clone();
        let failures = failures.clone();
        tokio::spawn(async move {
            match client.events("PutEvents", &entries(shards, batch * 10, 10)).await {
                Ok(answer) if answer["FailedEntryCount"] == 0 => {}
                _ => {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
    }
    let complete = wait_for_count(&arrivals, total as u64, Duration::from_secs(60)).await;
    let latencies = take_latencies(&arrivals);
    println!(
        "bus       PutEvents -> API destination at {rate}/s for {:.1} s: p50 {:.2} ms, p99 {:.2} ms ({} delivered{}, {} failed calls)",
        started.elapsed().as_secs_f64(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.len(),
        if complete { "" } else { ", INCOMPLETE" },
        failures.load(Ordering::Relaxed)
    );
}

/// The throughput phases: the receiver's ceiling, then the bus's.
async fn sustained(
    client: &Arc<Client>,
    arrivals: &Arc<Arrivals>,
    base: &str,
    seconds: u64,
    shards: usize,
    concurrency: usize,
) {
    let direct = reqwest::Client::new();
    // Baseline 2: the receiver's own ceiling with the same concurrency.
    arrivals.measuring.store(false, Ordering::Relaxed);
    arrivals.count.store(0, Ordering::Relaxed);
    let window = Duration::from_secs(seconds);
    let started = Instant::now();
    let sent = Arc::new(AtomicU64::new(0));
    let mut loops = Vec::new();
    for _ in 0..concurrency {
        let direct = direct.clone();
        let sent = sent.clone();
        let url = format!("{base}/direct");
        loops.push(tokio::spawn(async move {
            while started.elapsed() < window {
                if direct.post(&url).body(json!({"sent": now_us()}).to_string()).send().await.is_ok() {
                    sent.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for l in loops {
        let _ = l.await;
    }
    let direct_rate = sent.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    take_latencies(&arrivals);
    println!("baseline  direct POSTs, {concurrency} concurrent: {direct_rate:.0} requests/s");

    // 2. Sustained rate through the bus. The load generator shares the two
    // cores with the server, so it is made cheap: a fixed set of request
    // bodies (every shard covered), each signed once a second.
    arrivals.count.store(0, Ordering::Relaxed);
    let bodies: Arc<Vec<Vec<u8>>> = Arc::new(
        (0..shards.div_ceil(10).max(1)).map(|k| serde_json::to_vec(&entries(shards, k * 10, 10)).unwrap()).collect(),
    );
    let signatures: Arc<Mutex<(u64, Vec<Vec<(String, String)>>)>> = Arc::new(Mutex::new((0, Vec::new())));
    let started = Instant::now();
    let put = Arc::new(AtomicU64::new(0));
    let mut loops = Vec::new();
    for worker in 0..concurrency {
        let (client, put, bodies, signatures) = (client.clone(), put.clone(), bodies.clone(), signatures.clone());
        loops.push(tokio::spawn(async move {
            let mut n = worker;
            while started.elapsed() < window {
                let index = n % bodies.len();
                let signed = {
                    let second = now_us() / 1_000_000;
                    let mut cache = signatures.lock().unwrap();
                    if cache.0 != second {
                        *cache = (second, bodies.iter().map(|b| client.sign("PutEvents", b)).collect());
                    }
                    cache.1[index].clone()
                };
                if let Ok(answer) = client.send("PutEvents", bodies[index].clone(), signed).await {
                    let failed = answer["FailedEntryCount"].as_u64().unwrap_or(10);
                    put.fetch_add(10 - failed, Ordering::Relaxed);
                }
                n += concurrency;
            }
        }));
    }
    for l in loops {
        let _ = l.await;
    }
    let put_seconds = started.elapsed().as_secs_f64();
    let accepted = put.load(Ordering::Relaxed);
    let drained = wait_for_count(&arrivals, accepted, Duration::from_secs(120)).await;
    let last = arrivals.last_us.load(Ordering::Relaxed);
    let first_us = now_us() - started.elapsed().as_micros() as u64;
    let total_seconds = (last.saturating_sub(first_us)) as f64 / 1e6;
    let delivered = arrivals.count.load(Ordering::Relaxed);
    take_latencies(&arrivals);
    println!(
        "bus       sustained: {:.0} events/s accepted by PutEvents over {put_seconds:.1} s; {delivered} of {accepted} delivered in {total_seconds:.1} s = {:.0} events/s end to end{}",
        accepted as f64 / put_seconds,
        delivered as f64 / total_seconds.max(0.001),
        if drained { "" } else { " (NOT DRAINED)" }
    );
}

fn num_cpus() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}
