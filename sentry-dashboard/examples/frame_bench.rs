//! Frame time of the dashboard at 1280×800 on the CPU, with no compositor: the same egui code
//! and software rasteriser the client uses, drawing a session of 12 capsules with full
//! sparklines and a full event feed.
//!
//!     cargo run --release -p sentry-dashboard --example frame_bench [-- FRAMES]
//!
//! Prints the first frame (font atlas), changed frames (a new sample for every capsule, as once
//! a second while the dashboard is open; the same plus a new event; a hover highlight) and an
//! unchanged frame (a redraw with nothing new), at scale 1 and 2, with where the time goes.

use std::time::{Duration, Instant};

use exo_shell::capsule::CapsuleStatus;
use exo_shell::sentry::event::{AnomalyKind, Event, EventKind, Sample, Severity};
use exo_shell::{Capability, CapabilitySet};
use sentry_dashboard::model::{CapsuleRow, Model, SERIES_LEN};
use sentry_dashboard::render::{FrameInput, FrameTimings, Painter};
use sentry_dashboard::ui::{self, SessionInfo};

const WIDTH: u32 = 1280;
const HEIGHT: u32 = 800;
const CAPSULES: usize = 12;

fn main() {
    let frames: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200);
    println!("sentry-dashboard frame_bench: {WIDTH}x{HEIGHT} logical, {CAPSULES} capsules, {frames} frames per case");
    for scale in [1u32, 2] {
        run(scale, frames);
    }
}

fn run(scale: u32, frames: usize) {
    let (w, h) = (WIDTH * scale, HEIGHT * scale);
    let mut pixels = vec![0u8; (w * h * 4) as usize];
    let mut painter = Painter::new();
    let mut model = session();
    let session = SessionInfo {
        dashboard_visible: true,
        ..SessionInfo::default()
    };
    let now = Instant::now();
    // As the client draws: egui's pass, then rasterise only when the picture changed (unless
    // `force`d, as after a configure).
    let frame =
        |painter: &mut Painter, model: &Model, pixels: &mut [u8], events: Vec<egui::Event>, force: bool| {
            let input = FrameInput {
                logical: egui::vec2(WIDTH as f32, HEIGHT as f32),
                scale: scale as f32,
                events,
                ..Default::default()
            };
            let start = Instant::now();
            let mut actions = Vec::new();
            let (_, pass) = painter.run(input, force, |ui| {
                ui::dashboard::show(ui, model, now, &session, &mut actions)
            });
            let drawn = pass.is_some();
            if let Some(pass) = pass {
                painter.raster(pass, pixels, w, h, ui::theme::DASHBOARD_BG);
            }
            (start.elapsed(), painter.timings, drawn)
        };

    let (first, _, _) = frame(&mut painter, &model, &mut pixels, Vec::new(), true);
    // egui settles layout over a couple of passes; not part of the steady state.
    for _ in 0..3 {
        frame(&mut painter, &model, &mut pixels, Vec::new(), true);
    }
    println!("scale {scale} ({w}x{h} pixels): first frame {}", ms(first));
    let mut t = 10_000 + SERIES_LEN as u64 * 1000;
    let mut seq = 10_000;
    type Change<'a> = &'a mut dyn FnMut(&mut Model, usize) -> Vec<egui::Event>;
    let mut case = |name: &str, force: bool, painter: &mut Painter, model: &mut Model, change: Change| {
        let mut times = Vec::with_capacity(frames);
        let mut parts = Vec::with_capacity(frames);
        let mut drawn = 0;
        for i in 0..frames {
            let events = change(model, i);
            let (time, part, was_drawn) = frame(painter, model, &mut pixels, events, force);
            times.push(time);
            parts.push(part);
            drawn += usize::from(was_drawn);
        }
        println!("  {name:<50} {}", stats(&mut times));
        println!("  {:<50} {}; {drawn} of {frames} drawn", "", breakdown(&parts));
    };
    case(
        "changed: a sample for every capsule (1/s)",
        false,
        &mut painter,
        &mut model,
        &mut |m, _| {
            t += 1000;
            samples(m, t);
            Vec::new()
        },
    );
    case(
        "changed: samples and a new event",
        false,
        &mut painter,
        &mut model,
        &mut |m, _| {
            t += 1000;
            seq += 1;
            samples(m, t);
            event(m, t, seq);
            Vec::new()
        },
    );
    // Over the first row's Stop button and off it again: a hover highlight comes and goes.
    case(
        "changed: pointer over a button and off",
        false,
        &mut painter,
        &mut model,
        &mut |_, i| {
            let pos = if i % 2 == 0 {
                egui::pos2(1040.0, 156.0)
            } else {
                egui::pos2(640.0, 700.0)
            };
            vec![egui::Event::PointerMoved(pos)]
        },
    );
    case(
        "unchanged (egui pass only, nothing drawn)",
        false,
        &mut painter,
        &mut model,
        &mut |_, _| Vec::new(),
    );
    case(
        "unchanged, drawn anyway (as after a configure)",
        true,
        &mut painter,
        &mut model,
        &mut |_, _| Vec::new(),
    );
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// `median 3.10 ms (p95 3.80 ms, mean 3.20 ms)`.
fn stats(times: &mut [Duration]) -> String {
    times.sort();
    let median = times[times.len() / 2];
    let p95 = times[(times.len() * 95 / 100).min(times.len() - 1)];
    let mean = times.iter().sum::<Duration>() / times.len() as u32;
    format!("median {} (p95 {}, mean {})", ms(median), ms(p95), ms(mean))
}

/// A session: capsules in every state, two minutes of samples each, a full event feed.
fn session() -> Model {
    let mut model = Model::new(0);
    let caps: CapabilitySet = [Capability::DisplayWindow, Capability::NetConnect]
        .into_iter()
        .collect();
    let rows = (0..CAPSULES)
        .map(|i| {
            let status = match i % 4 {
                0 | 1 => CapsuleStatus::Running {
                    pid: 1000 + i as u32,
                    since_ms: 5000,
                },
                2 => CapsuleStatus::Exited {
                    code: Some(1),
                    signal: None,
                },
                _ => CapsuleStatus::Failed {
                    reason: "failed 5 times within 60 s".into(),
                },
            };
            CapsuleRow {
                name: format!("capsule-{i:02}"),
                pid: None,
                uptime_s: Some(300 + i as u64),
                restarts: i as u32 % 3,
                capabilities: caps,
                confinement: "uid 60001, netns, cgroup2 (memory, cpu, pids)".into(),
                color: format!("#{:02x}6a{:02x}", 40 + i * 15, 200 - i * 10),
                source: "/etc/exosphere/capsules/x/Capsule.toml".into(),
                quarantined: i == 5,
                status,
            }
        })
        .collect();
    model.set_capsules(rows, Instant::now());
    for s in 0..SERIES_LEN as u64 {
        tick(&mut model, 10_000 + s * 1000, s + 1);
    }
    model
}

/// One second of a busy session: a sample per capsule and an event.
fn tick(model: &mut Model, time_ms: u64, seq: u64) {
    samples(model, time_ms);
    event(model, time_ms, seq);
}

fn samples(model: &mut Model, time_ms: u64) {
    for i in 0..CAPSULES {
        let phase = (time_ms / 1000 + i as u64) as f64;
        model.push_sample(Sample {
            time_ms,
            capsule: format!("capsule-{i:02}"),
            memory_bytes: (40.0 + 20.0 * (phase / 7.0).sin()) as u64 * 1024 * 1024,
            memory_limit_bytes: Some(512 * 1024 * 1024),
            cpu_percent: 30.0 + 25.0 * (phase / 3.0).cos(),
            pids: 4,
            memory_pressure: None,
        });
    }
}

fn event(model: &mut Model, time_ms: u64, seq: u64) {
    let kind = if seq.is_multiple_of(5) {
        EventKind::Anomaly {
            anomaly: AnomalyKind::CpuSaturation,
            evidence: "cpu above 90 % for 10 s".into(),
        }
    } else {
        EventKind::CapsuleExited {
            code: Some(1),
            signal: None,
        }
    };
    model.push_events([Event {
        seq,
        time_ms,
        capsule: Some(format!("capsule-{:02}", seq as usize % CAPSULES)),
        severity: Severity::ALL[seq as usize % 4],
        kind,
    }]);
}

/// Mean time of egui's pass, tessellation and rasterisation.
fn breakdown(parts: &[FrameTimings]) -> String {
    let n = parts.len() as u32;
    let mean = |f: fn(&FrameTimings) -> Duration| parts.iter().map(f).sum::<Duration>() / n;
    format!(
        "egui pass {}, tessellate {}, raster {} (means)",
        ms(mean(|p| p.ui)),
        ms(mean(|p| p.tessellate)),
        ms(mean(|p| p.raster))
    )
}
