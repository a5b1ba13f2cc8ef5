//! `nanoesp bench`: the concurrency benchmark on the virtual bench — K virtual HTTP clients
//! against the project's real firmware, in simulated time (deterministic), with the
//! emulator's realistic timing and once more with its fault profile.

use std::path::PathBuf;
use std::process::Command;

use miette::{Context, IntoDiagnostic};

use super::ProjectArgs;
use crate::ui::Ui;
use crate::{Outcome, simulator};

/// Measure how many concurrent clients the firmware serves, and how fast.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Concurrent clients per run.
    #[arg(long, default_value = "1,2,5,8")]
    pub clients: String,
    /// Simulated seconds of load per run.
    #[arg(long, default_value_t = 60)]
    pub duration: u32,
    /// Emulator profiles to run: realistic, faults (comma separated).
    #[arg(long, default_value = "realistic,faults")]
    pub profiles: String,
    /// Directory for the JSON reports (one per profile).
    #[arg(long, default_value = "target/nanoesp-bench")]
    pub out: PathBuf,
}

/// Runs `nanoesp bench`.
pub fn run(args: Args, ui: &Ui) -> miette::Result<Outcome> {
    let sim = simulator::locate()?;
    let project = args.project.open()?;
    if project.config.mode == nanoesp_project::model::Mode::EspMaster {
        return esp_master(&args, &project, &sim, ui);
    }
    let record = super::build::build(&project, ui)?;
    let c = &project.config;
    let out_dir = if args.out.is_absolute() {
        args.out.clone()
    } else {
        project.dir().join(&args.out)
    };
    std::fs::create_dir_all(&out_dir).into_diagnostic()?;
    let mut worst = Outcome::Ok;
    for profile in args
        .profiles
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let json = out_dir.join(format!("bench-{profile}.json"));
        ui.status(
            "Benchmark",
            format!(
                "{} clients, {} s simulated, {profile} ESP",
                args.clients, args.duration
            ),
        );
        let status = Command::new(&sim)
            .arg("bench")
            .arg("--firmware")
            .arg(&record.elf)
            .args(simulator::link_args(
                c.link.kind.as_str(),
                &c.link.rx,
                &c.link.tx,
                c.link.baud,
            ))
            .args(simulator::ap_args(&project))
            .args([
                "--clients",
                &args.clients,
                "--duration",
                &args.duration.to_string(),
                "--esp-faults",
                profile,
            ])
            .arg("--json")
            .arg(&json)
            .status()
            .into_diagnostic()
            .wrap_err_with(|| format!("cannot start {}", sim.display()))?;
        match status.code() {
            Some(0) => ui.status("Wrote", json.display()),
            Some(1) => worst = Outcome::CheckFailed,
            _ => miette::bail!("the benchmark failed ({status})"),
        }
    }
    Ok(worst)
}

/// Round trips over the Firmata link, in milliseconds.
#[derive(Debug, Clone, Default, serde::Serialize)]
struct RoundTrips {
    /// What was timed.
    what: String,
    /// Answered round trips.
    samples: usize,
    /// Requests without an answer within the timeout.
    lost: usize,
    p50_ms: Option<f64>,
    max_ms: Option<f64>,
}

impl RoundTrips {
    fn new(what: &str, mut ms: Vec<f64>, lost: usize) -> RoundTrips {
        ms.sort_by(f64::total_cmp);
        RoundTrips {
            what: what.into(),
            samples: ms.len(),
            lost,
            p50_ms: ms.get(ms.len() / 2).copied(),
            max_ms: ms.last().copied(),
        }
    }
}

/// One load run against the host-built sketch.
#[derive(Debug, Clone, serde::Serialize)]
struct LoadRow {
    clients: usize,
    seconds: f64,
    requests: usize,
    ok: usize,
    failed: usize,
    busy_503: usize,
    per_second: f64,
    p50_ms: Option<f64>,
    max_ms: Option<f64>,
}

fn ms(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.1}"))
}

/// esp-master: (1) the Nano's Firmata firmware in the simulator, in real time, timed from the
/// ESP's side of the link (a pin-state query, and one analog reading: report switched on →
/// first value); (2) the sketch's logic built for the host on that link under K concurrent
/// HTTP clients for `--duration` wall-clock seconds each.
fn esp_master(
    args: &Args,
    project: &nanoesp_project::Project,
    sim: &std::path::Path,
    ui: &Ui,
) -> miette::Result<Outcome> {
    use crate::firmata_probe::{Message, Peer};
    use std::time::Duration;

    let record = super::build::build(project, ui)?;
    let (host, esp_id) = crate::esp_sketch::build_host(project)?;
    let c = &project.config;
    let bench = super::sim::bench_dir(project.dir());
    std::fs::create_dir_all(&bench).into_diagnostic()?;
    let link_pty = bench.join("bench-link");
    let start_nano = || -> miette::Result<super::sim::KillOnDrop> {
        let _ = std::fs::remove_file(&link_pty);
        let child = Command::new(sim)
            .arg("run")
            .arg(&record.elf)
            .args(simulator::link_args(
                c.link.kind.as_str(),
                &c.link.rx,
                &c.link.tx,
                c.link.baud,
            ))
            .arg("--esp")
            .arg(format!("pty:{}", link_pty.display()))
            .args(["--realtime", "--adc", "A0=2500"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .into_diagnostic()
            .wrap_err_with(|| format!("cannot start {}", sim.display()))?;
        let mut child = super::sim::KillOnDrop(child);
        if !super::sim::wait_for_link_pty(&link_pty, 10, Some(&mut child.0)) {
            miette::bail!("the simulator did not open {}", link_pty.display());
        }
        Ok(child)
    };

    // (1) The link, timed from the ESP's side.
    ui.status(
        "Benchmark",
        format!(
            "Firmata round trips to the simulated Nano, {} link at {} baud, real time",
            c.link.kind.as_str(),
            c.link.baud
        ),
    );
    let nano = start_nano()?;
    let mut port =
        nanoesp_flash::ports::open(&link_pty, c.link.baud).map_err(|e| miette::miette!("{e}"))?;
    serialport::SerialPort::set_timeout(&mut port, Duration::from_millis(5)).into_diagnostic()?;
    let mut peer = Peer::new(port);
    let io = |e: std::io::Error| miette::miette!("the link pty failed: {e}");
    let up = peer
        .round_trip(&[0xF9], Duration::from_secs(10), &mut |m| {
            matches!(m, Message::Version { .. })
        })
        .map_err(io)?;
    if up.is_none() {
        miette::bail!("the simulated Nano never answered REPORT_VERSION on the link");
    }
    peer.drain(Duration::from_millis(200)).map_err(io)?;
    const A0_PIN: u8 = 14;
    let (mut query, mut lost) = (Vec::new(), 0);
    for _ in 0..100 {
        match peer
            .round_trip(&[0xF0, 0x6D, A0_PIN, 0xF7], Duration::from_secs(1), &mut |m| {
                matches!(m, Message::Sysex { command: 0x6E, data } if data.first() == Some(&A0_PIN))
            })
            .map_err(io)?
        {
            Some(d) => query.push(d.as_secs_f64() * 1000.0),
            None => lost += 1,
        }
    }
    let query = RoundTrips::new("PIN_STATE_QUERY A0 -> PIN_STATE_RESPONSE", query, lost);
    let (mut reading, mut lost) = (Vec::new(), 0);
    for _ in 0..30 {
        match peer
            .round_trip(&[0xC0, 0x01], Duration::from_secs(1), &mut |m| {
                matches!(m, Message::Analog { channel: 0, .. })
            })
            .map_err(io)?
        {
            Some(d) => reading.push(d.as_secs_f64() * 1000.0),
            None => lost += 1,
        }
        peer.send(&[0xC0, 0x00]).map_err(io)?;
        peer.drain(Duration::from_millis(50)).map_err(io)?;
    }
    let reading = RoundTrips::new(
        "REPORT_ANALOG A0 on -> first ANALOG_MESSAGE A0",
        reading,
        lost,
    );
    drop(peer);
    drop(nano);

    // (2) The host-built sketch under load.
    let nano = start_nano()?;
    let listen = super::sim::resolve_listen("127.0.0.1:0")?;
    let mut esp = super::sim::KillOnDrop(
        super::sim::esp_host_command(&host, project, &link_pty, &listen, &esp_id)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .into_diagnostic()
            .wrap_err_with(|| format!("cannot start {}", host.display()))?,
    );
    let stdout = esp.0.stdout.take().expect("piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if let Some(url) = line.strip_prefix("nanoesp: ready ") {
                let _ = tx.send(url.trim().to_string());
            }
        }
    });
    let url = rx
        .recv_timeout(Duration::from_secs(30))
        .map_err(|_| miette::miette!("the sketch's host program never reported ready"))?;
    let target = crate::doctor::http::Target::parse(&url).map_err(|e| miette::miette!("{e}"))?;
    let mut rows = Vec::new();
    let mut worst = Outcome::Ok;
    for k in args
        .clients
        .split(',')
        .filter_map(|k| k.trim().parse::<usize>().ok())
    {
        ui.status(
            "Benchmark",
            format!(
                "{k} concurrent clients for {} s against {url}",
                args.duration
            ),
        );
        let plan = crate::doctor::http::LoadPlan {
            clients: k,
            timeout: Duration::from_secs(10),
            expected: Some(record.build_id.clone()),
            busy_pause: Duration::from_millis(20),
        };
        let load = crate::doctor::http::soak(
            &target,
            &plan,
            Duration::from_secs(u64::from(args.duration)),
        );
        if load.failed > 0 {
            worst = Outcome::CheckFailed;
        }
        rows.push(LoadRow {
            clients: k,
            seconds: load.seconds,
            requests: load.requests,
            ok: load.ok,
            failed: load.failed,
            busy_503: load.retried,
            per_second: load.ok as f64 / load.seconds.max(1e-9),
            p50_ms: load.p50_ms,
            max_ms: load.max_ms,
        });
    }
    drop(esp);
    drop(nano);

    let mut table = format!(
        "| Firmata on the simulated Nano ({} at {} baud) | answered | lost | p50 ms | max ms |\n|---|---|---|---|---|\n",
        c.link.kind.as_str(),
        c.link.baud
    );
    for r in [&query, &reading] {
        table.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            r.what,
            r.samples,
            r.lost,
            ms(r.p50_ms),
            ms(r.max_ms)
        ));
    }
    table.push_str(&format!(
        "\n| clients (host-built sketch, max_clients {}) | requests | correct | failed | 503 | req/s | p50 ms | max ms |\n|---|---|---|---|---|---|---|---|\n",
        c.http.max_clients
    ));
    for r in &rows {
        table.push_str(&format!(
            "| {} | {} | {} | {} | {} | {:.0} | {} | {} |\n",
            r.clients,
            r.requests,
            r.ok,
            r.failed,
            r.busy_503,
            r.per_second,
            ms(r.p50_ms),
            ms(r.max_ms)
        ));
    }
    ui.out(table.trim_end());
    let out_dir = if args.out.is_absolute() {
        args.out.clone()
    } else {
        project.dir().join(&args.out)
    };
    std::fs::create_dir_all(&out_dir).into_diagnostic()?;
    let json = out_dir.join("bench-esp-master.json");
    let report = serde_json::json!({
        "link": { "kind": c.link.kind.as_str(), "baud": c.link.baud },
        "firmata": [query, reading],
        "http": rows,
        "nano_build": record.build_id,
        "esp_id": esp_id,
    });
    std::fs::write(
        &json,
        serde_json::to_string_pretty(&report).into_diagnostic()?,
    )
    .into_diagnostic()?;
    ui.status("Wrote", json.display());
    Ok(worst)
}
