//! The connector's own cost per call, over the raw reqwest round trip to the same local API.
//!
//! `cargo bench -p trustframe-connector --bench overhead` (release). Three parts:
//! 1. latency added: each caller alternates a raw reqwest POST + body read + JSON parse and a
//!    `Connector::exchange` doing the same call (plan, claims in, retry loop, bounded read, typed
//!    output claims, audit record, metrics), so both paths meet the same load at every moment;
//!    1 caller against an API that answers at once, 200 callers against one that answers after
//!    10–30 ms (a realistic API; an instant one would only measure a saturated CPU queue);
//! 2. CPU per call at saturation (200 callers, instant API), from the process's CPU time;
//! 3. isolation: 200 calls held by a slow API (`SLOW_SECONDS`, default 20) while 20 callers use
//!    a fast one.
//!
//! First, the cost of parsing a profile's metadata (what settings prepared at load save per
//! call). Profiles carry prepared settings, as the server loads them; `UNPREPARED=1` leaves them
//! out so that each call parses the metadata.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::post;
use serde_json::{Value, json};
use trustframe_connector::{
    Connector, ConnectorSettings, ExchangeOutcome, KeyStore, NoAudit, RestCall,
};
use trustframe_policy::rest::RestSettings;
use trustframe_policy::{
    ClaimRef, ClaimTypeId, ClaimValues, ClaimsSchema, ResolverContext, TechnicalProfile,
    TechnicalProfileKind,
};

fn serve(router: Router) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            axum::serve(listener, router).await.unwrap();
        });
    });
    format!("http://{}", rx.recv().unwrap())
}

async fn fast(axum::Json(body): axum::Json<Value>) -> axum::Json<Value> {
    answer(body)
}

static WORK: AtomicU64 = AtomicU64::new(0);

/// A realistic API: answers after 10–30 ms of "work" (without using CPU), varied so that the
/// callers do not march in lockstep.
async fn working(axum::Json(body): axum::Json<Value>) -> axum::Json<Value> {
    let n = WORK.fetch_add(1, Ordering::Relaxed);
    let ms = 10 + (n.wrapping_mul(2_654_435_761) >> 7) % 21;
    tokio::time::sleep(Duration::from_millis(ms)).await;
    answer(body)
}

fn answer(body: Value) -> axum::Json<Value> {
    axum::Json(json!({
        "balance": "760.50",
        "loyaltyNumber": 1234,
        "echo": body.get("objectId").cloned().unwrap_or(Value::Null),
    }))
}

fn profile(url: &str, id: &str, timeout: &str) -> TechnicalProfile {
    let mut p = TechnicalProfile::new(id, TechnicalProfileKind::Restful);
    p.metadata.insert("ServiceUrl", url);
    p.metadata.insert("AuthenticationType", "None");
    p.metadata.insert("AllowInsecureAuthInProduction", "true");
    p.metadata.insert("TimeoutSeconds", timeout);
    p.metadata.insert("Retries", "0");
    p.input_claims.push(ClaimRef::new("objectId"));
    p.input_claims
        .push(ClaimRef::new("email").partner("emailAddress"));
    p.output_claims.push(ClaimRef::new("balance"));
    p.output_claims.push(ClaimRef::new("loyaltyNumber"));
    // As the server loads it: settings parsed once by the link pass (`link::prepare`).
    // `UNPREPARED=1` leaves them out, so each call parses the metadata.
    if std::env::var_os("UNPREPARED").is_none() {
        p.rest = Some(Arc::new(RestSettings::from_profile(&p).unwrap()));
    }
    p
}

struct Env {
    connector: Connector,
    raw: reqwest::Client,
    schema: ClaimsSchema,
    claims: ClaimValues,
    context: ResolverContext,
    fast: TechnicalProfile,
    fast_url: String,
    working: TechnicalProfile,
    working_url: String,
}

impl Env {
    async fn raw_call(&self, url: &str) {
        let body = json!({"objectId": "aaaaaaaa-0000-1111-2222-bbbbbbbbbbbb", "emailAddress": "emily@example.com"});
        let response = self.raw.post(url).json(&body).send().await.unwrap();
        assert!(response.status().is_success());
        let bytes = response.bytes().await.unwrap();
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        assert!(v.get("balance").is_some());
    }

    async fn connector_call(&self, profile: &TechnicalProfile) {
        let outcome = self
            .connector
            .exchange(RestCall {
                profile,
                schema: &self.schema,
                claims: &self.claims,
                context: &self.context,
                step: Some("7"),
            })
            .await
            .unwrap();
        assert!(
            matches!(outcome, ExchangeOutcome::Continue { .. }),
            "{outcome:?}"
        );
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Raw,
    Connector,
}

#[derive(Clone, Copy, PartialEq)]
enum Target {
    Fast,
    Working,
}

/// CPU time (user + system) of this whole process (client and API), from /proc/self/stat.
fn process_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15 of the stat line: 12 and 13 after the name.
    let total = ticks(11) + ticks(12);
    Duration::from_millis(total * 10) // USER_HZ = 100 on Linux
}

/// `total` calls split over `callers` tasks; per-call latencies, sorted, and the wall time.
async fn run(
    env: &Arc<Env>,
    kind: Kind,
    target: Target,
    callers: usize,
    total: usize,
) -> (Vec<Duration>, Duration) {
    let per = total / callers;
    let started = Instant::now();
    let tasks: Vec<_> = (0..callers)
        .map(|_| {
            let env = env.clone();
            tokio::spawn(async move {
                let mut lat = Vec::with_capacity(per);
                for _ in 0..per {
                    let t = Instant::now();
                    match (kind, target) {
                        (Kind::Raw, Target::Fast) => env.raw_call(&env.fast_url).await,
                        (Kind::Raw, Target::Working) => env.raw_call(&env.working_url).await,
                        (Kind::Connector, Target::Fast) => env.connector_call(&env.fast).await,
                        (Kind::Connector, Target::Working) => {
                            env.connector_call(&env.working).await
                        }
                    }
                    lat.push(t.elapsed());
                }
                lat
            })
        })
        .collect();
    let mut all = Vec::with_capacity(total);
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let wall = started.elapsed();
    all.sort_unstable();
    (all, wall)
}

/// Each caller alternates raw and connector calls (even callers start with raw, odd ones with
/// the connector), so both paths meet the same load, scheduling and neighbours at every moment.
async fn run_alternating(
    env: &Arc<Env>,
    target: Target,
    callers: usize,
    total: usize,
) -> (Vec<Duration>, Vec<Duration>) {
    let per = total / callers / 2;
    let tasks: Vec<_> = (0..callers)
        .map(|caller| {
            let env = env.clone();
            tokio::spawn(async move {
                let (mut raw, mut con) = (Vec::with_capacity(per), Vec::with_capacity(per));
                for i in 0..per * 2 {
                    let connector = (i + caller) % 2 == 1;
                    let t = Instant::now();
                    match (connector, target) {
                        (false, Target::Fast) => env.raw_call(&env.fast_url).await,
                        (false, Target::Working) => env.raw_call(&env.working_url).await,
                        (true, Target::Fast) => env.connector_call(&env.fast).await,
                        (true, Target::Working) => env.connector_call(&env.working).await,
                    }
                    if connector {
                        con.push(t.elapsed());
                    } else {
                        raw.push(t.elapsed());
                    }
                }
                (raw, con)
            })
        })
        .collect();
    let (mut raw, mut con) = (Vec::new(), Vec::new());
    for t in tasks {
        let (r, c) = t.await.unwrap();
        raw.extend(r);
        con.extend(c);
    }
    raw.sort_unstable();
    con.sort_unstable();
    (raw, con)
}

fn pct(sorted: &[Duration], p: usize) -> Duration {
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// What `link::prepare` saves each call: parsing and checking the profile's metadata.
fn metadata_parse() {
    let mut p = profile("https://api.contoso.test/loyalty", "REST-Parse", "30");
    p.rest = None;
    let n = 200_000u32;
    let started = Instant::now();
    for _ in 0..n {
        std::hint::black_box(RestSettings::from_profile(std::hint::black_box(&p)).unwrap());
    }
    let ns = started.elapsed().as_nanos() / u128::from(n);
    println!("## Metadata parse per call (saved by settings prepared at load)\n");
    println!("`RestSettings::from_profile` on the bench's profile: {ns} ns per call.\n");
}

fn main() {
    metadata_parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(bench());
}

async fn bench() {
    let slow_seconds: u64 = std::env::var("SLOW_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let base = serve(
        Router::new()
            .route("/fast", post(fast))
            .route("/working", post(working)),
    );
    let slow_hold = Duration::from_secs(slow_seconds);
    let slow_base = serve(Router::new().route(
        "/slow",
        post(move || async move {
            tokio::time::sleep(slow_hold).await;
            axum::Json(json!({"balance": "1.00"}))
        }),
    ));

    let mut schema = ClaimsSchema::default();
    for (id, ty) in [
        ("objectId", "string"),
        ("email", "string"),
        ("balance", "string"),
        ("loyaltyNumber", "int"),
    ] {
        schema.claim_types.insert(
            ClaimTypeId::new(id),
            serde_json::from_value(json!({
                "id": id, "display_name": id, "data_type": ty, "user_input_type": null,
                "user_help_text": null, "pattern": null, "enumeration": [],
                "span": {"file": "bench", "line": 1, "column": 1}
            }))
            .unwrap(),
        );
    }
    let claims: ClaimValues = [
        (
            ClaimTypeId::new("objectId"),
            json!("aaaaaaaa-0000-1111-2222-bbbbbbbbbbbb"),
        ),
        (ClaimTypeId::new("email"), json!("emily@example.com")),
    ]
    .into_iter()
    .collect();
    let connector = Connector::new(
        ConnectorSettings::default(),
        KeyStore::new(),
        Arc::new(NoAudit),
    )
    .unwrap();
    let env = Arc::new(Env {
        connector,
        raw: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .tcp_nodelay(true)
            .build()
            .unwrap(),
        schema,
        claims,
        context: ResolverContext {
            culture: "en-US".into(),
            policy_id: "B2C_1A_bench".into(),
            correlation_id: "bench".into(),
            ..ResolverContext::default()
        },
        fast: profile(&format!("{base}/fast"), "REST-Fast", "30"),
        fast_url: format!("{base}/fast"),
        working: profile(&format!("{base}/working"), "REST-Working", "30"),
        working_url: format!("{base}/working"),
    });

    // Warm up both paths (connections, allocator, branch predictors).
    for kind in [Kind::Raw, Kind::Connector] {
        run(&env, kind, Target::Fast, 50, 5_000).await;
        run(&env, kind, Target::Working, 200, 2_000).await;
    }

    println!("## Latency added per call (release, loopback HTTP)\n");
    println!(
        "| callers | API | calls per path | raw p50 | raw p99 | connector p50 | connector p99 | added p50 | added p99 |"
    );
    println!("|---:|---|---:|---:|---:|---:|---:|---:|---:|");
    for (callers, target, total) in [
        (1usize, Target::Fast, 20_000usize),
        (200, Target::Working, 100_000),
    ] {
        let (raw, con) = run_alternating(&env, target, callers, total).await;
        println!(
            "| {callers} | {} | {} | {:.0} µs | {:.0} µs | {:.0} µs | {:.0} µs | {:+.0} µs | {:+.0} µs |",
            match target {
                Target::Fast => "answers at once",
                Target::Working => "answers after 10–30 ms",
            },
            raw.len(),
            us(pct(&raw, 50)),
            us(pct(&raw, 99)),
            us(pct(&con, 50)),
            us(pct(&con, 99)),
            us(pct(&con, 50)) - us(pct(&raw, 50)),
            us(pct(&con, 99)) - us(pct(&raw, 99)),
        );
    }

    // Saturation: 200 callers against the instant API, as fast as the 2 cores allow. The CPU
    // time of the process (client and API) per call shows the connector's own cost.
    println!("\n## CPU per call at saturation (200 callers, instant API)\n");
    println!("| path | calls | calls/s | process CPU per call | p50 | p99 |");
    println!("|---|---:|---:|---:|---:|---:|");
    let mut cpu_per_call = [0.0f64; 2];
    let (mut raw, mut con) = (Vec::new(), Vec::new());
    let (mut walls, mut cpus, mut counts) = ([Duration::ZERO; 2], [Duration::ZERO; 2], [0usize; 2]);
    for _ in 0..4 {
        for (i, kind) in [Kind::Raw, Kind::Connector].into_iter().enumerate() {
            let cpu0 = process_cpu();
            let (lat, wall) = run(&env, kind, Target::Fast, 200, 20_000).await;
            cpus[i] += process_cpu() - cpu0;
            walls[i] += wall;
            counts[i] += lat.len();
            if i == 0 {
                raw.extend(lat)
            } else {
                con.extend(lat)
            }
        }
    }
    raw.sort_unstable();
    con.sort_unstable();
    for (i, (name, lat)) in [("raw reqwest", &raw), ("connector", &con)]
        .into_iter()
        .enumerate()
    {
        cpu_per_call[i] = us(cpus[i]) / counts[i] as f64;
        println!(
            "| {name} | {} | {:.0} | {:.1} µs | {:.0} µs | {:.0} µs |",
            counts[i],
            counts[i] as f64 / walls[i].as_secs_f64(),
            cpu_per_call[i],
            us(pct(lat, 50)),
            us(pct(lat, 99)),
        );
    }
    println!(
        "\nThe connector's own CPU per call: {:+.1} µs.",
        cpu_per_call[1] - cpu_per_call[0]
    );

    // Isolation: 200 calls held by a slow API while callers use a fast one.
    println!("\n## A slow API does not slow a fast one\n");
    let (base_lat, _) = run(&env, Kind::Connector, Target::Fast, 20, 40_000).await;
    let slow_profile = profile(&format!("{slow_base}/slow"), "REST-Slow", "60");
    let slow_started = Instant::now();
    let slow_calls: Vec<_> = (0..200)
        .map(|_| {
            let env = env.clone();
            let p = slow_profile.clone();
            tokio::spawn(async move {
                let t = Instant::now();
                env.connector_call(&p).await;
                t.elapsed()
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut during = Vec::new();
    while slow_started.elapsed() + Duration::from_secs(2) < slow_hold && during.len() < 200_000 {
        let (l, _) = run(&env, Kind::Connector, Target::Fast, 20, 2_000).await;
        during.extend(l);
    }
    during.sort_unstable();
    let mut slow_done = Vec::new();
    for c in slow_calls {
        slow_done.push(c.await.unwrap());
    }
    slow_done.sort_unstable();
    println!("| fast API, 20 callers | calls | p50 | p99 |");
    println!("|---|---:|---:|---:|");
    println!(
        "| alone | {} | {:.0} µs | {:.0} µs |",
        base_lat.len(),
        us(pct(&base_lat, 50)),
        us(pct(&base_lat, 99))
    );
    println!(
        "| while 200 calls are held {slow_seconds} s by a slow API | {} | {:.0} µs | {:.0} µs |",
        during.len(),
        us(pct(&during, 50)),
        us(pct(&during, 99))
    );
    println!(
        "\nThe 200 slow calls completed in {:.1}–{:.1} s each (held {slow_seconds} s).",
        slow_done[0].as_secs_f64(),
        slow_done[slow_done.len() - 1].as_secs_f64()
    );
}
