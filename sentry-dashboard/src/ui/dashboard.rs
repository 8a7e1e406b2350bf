//! The dashboard: an overlay over the whole output below the panel with the capsule table
//! (colour, name, state, uptime, restarts, capabilities, confinement, memory and CPU
//! sparklines, actions) and the event feed with severity colours.

use std::time::Instant;

use egui::{vec2, Align, Color32, FontId, Layout, RichText, ScrollArea, Ui, UiBuilder};
use egui_plot::{Line, Plot, PlotPoints};
use exo_shell::capsule::CapsuleStatus;
use exo_shell::sentry::event::Severity;

use super::{
    capability_badges, capsule_color, isolated, severity_color, swatch, theme, SessionInfo, UiAction,
};
use crate::clock::LocalTime;
use crate::model::{describe, format_bytes, format_uptime, Availability, CapsuleRow, Model, SampleSeries};

const SPARK_WIDTH: f32 = 80.0;
const SPARK_HEIGHT: f32 = 24.0;
const EVENT_ROW_HEIGHT: f32 = 20.0;
const STATE_WIDTH: f32 = 110.0;
/// The most points a sparkline draws (two pixels apart).
const SPARK_POINTS: usize = 40;

pub fn show(ui: &mut Ui, model: &Model, now: Instant, session: &SessionInfo, actions: &mut Vec<UiAction>) {
    // The background is the buffer's clear colour (`theme::DASHBOARD_BG`), not a shape.
    let full = ui.max_rect();
    let mut ui = ui.new_child(
        UiBuilder::new()
            .max_rect(full.shrink2(vec2(16.0, 12.0)))
            .layout(Layout::top_down(Align::Min)),
    );
    header(&mut ui, model, session, actions);
    notices(&mut ui, model);
    ui.add_space(6.0);

    let table_height = (ui.available_height() * 0.55).max(120.0);
    card(&mut ui, |ui| {
        // Both ways: on a small output (or at a large scale) the table is wider than the screen.
        ScrollArea::both()
            .id_salt("capsule-table")
            .max_height(table_height)
            .auto_shrink([false, true])
            .show(ui, |ui| capsule_table(ui, model, now, actions));
    });
    ui.add_space(10.0);
    ui.label(RichText::new("Events").font(FontId::new(16.0, theme::bold())));
    ui.add_space(2.0);
    card(&mut ui, |ui| event_feed(ui, model));
}

fn card(ui: &mut Ui, content: impl FnOnce(&mut Ui)) {
    egui::Frame::new()
        .fill(theme::CARD_BG)
        .corner_radius(egui::CornerRadius::same(6))
        .inner_margin(egui::Margin::same(10))
        .show(ui, |ui| {
            ui.set_width(ui.available_width());
            content(ui);
        });
}

fn header(ui: &mut Ui, model: &Model, session: &SessionInfo, actions: &mut Vec<UiAction>) {
    ui.horizontal(|ui| {
        ui.heading("Sentry");
        let running = model.capsules.iter().filter(|c| c.is_running()).count();
        isolated(ui, vec2(320.0, 20.0), |ui| {
            ui.label(
                RichText::new(format!(
                    "{} capsules, {running} running, {} alerts",
                    model.capsules.len(),
                    model.alerts
                ))
                .color(theme::DIM),
            )
        });
        ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
            if ui
                .button("Hide")
                .on_hover_text("Hide the dashboard (Super+D shows it again)")
                .clicked()
            {
                actions.push(UiAction::Dashboard("hide"));
            }
            if ui.selectable_label(session.launcher_open, "Launcher").clicked() {
                actions.push(UiAction::Launcher(!session.launcher_open));
            }
        });
    });
}

/// What the dashboard cannot show, and the last failed request.
fn notices(ui: &mut Ui, model: &Model) {
    if !model.connected {
        ui.colored_label(
            theme::WARN,
            "No control channel (EXOSPHERE_CONTROL_FD, --socket or NEXQUELIUM_CONTROL): nothing to show.",
        );
    } else if model.support.events == Availability::No {
        ui.colored_label(
            theme::WARN,
            "This compositor serves no event stream yet: showing capsules only, refreshed every few seconds.",
        );
    }
    if let Some(error) = &model.last_error {
        ui.colored_label(theme::ALERT, error);
    }
}

/// Column widths of the capsule table, so the layout never shifts (which would re-rasterise
/// it all) and fits 1280 logical pixels.
const NAME_WIDTH: f32 = 140.0;
const UPTIME_WIDTH: f32 = 60.0;
const RESTARTS_WIDTH: f32 = 60.0;
const CAPS_WIDTH: f32 = 150.0;
const CONFINEMENT_WIDTH: f32 = 110.0;
const MEMORY_TEXT_WIDTH: f32 = 68.0;
const CPU_TEXT_WIDTH: f32 = 56.0;

fn capsule_table(ui: &mut Ui, model: &Model, now: Instant, actions: &mut Vec<UiAction>) {
    egui::Grid::new("capsules")
        .striped(true)
        .spacing(vec2(6.0, 6.0))
        .min_row_height(SPARK_HEIGHT)
        .show(ui, |ui| {
            let header = |ui: &mut Ui, title: &str, width: f32| {
                isolated(ui, vec2(width, 18.0), |ui| {
                    ui.label(RichText::new(title).color(theme::DIM))
                });
            };
            header(ui, "", 14.0);
            header(ui, "Capsule", NAME_WIDTH);
            header(ui, "State", STATE_WIDTH);
            header(ui, "Uptime", UPTIME_WIDTH);
            header(ui, "Restarts", RESTARTS_WIDTH);
            header(ui, "Capabilities", CAPS_WIDTH);
            header(ui, "Confinement", CONFINEMENT_WIDTH);
            header(ui, "Memory", SPARK_WIDTH + MEMORY_TEXT_WIDTH + 8.0);
            header(ui, "CPU", SPARK_WIDTH + CPU_TEXT_WIDTH + 8.0);
            header(ui, "", 10.0);
            ui.end_row();
            if model.capsules.is_empty() {
                ui.label("");
                ui.label(RichText::new("no capsules").color(theme::DIM));
                ui.end_row();
            }
            for row in &model.capsules {
                capsule_row(ui, model, row, now, actions);
                ui.end_row();
            }
        });
}

fn capsule_row(ui: &mut Ui, model: &Model, row: &CapsuleRow, now: Instant, actions: &mut Vec<UiAction>) {
    swatch(ui, capsule_color(&row.name, Some(row)), 14.0);
    let own = model.own_capsule.as_deref() == Some(row.name.as_str());
    let name = isolated(ui, vec2(NAME_WIDTH, SPARK_HEIGHT), |ui| {
        ui.add(egui::Label::new(RichText::new(&row.name).font(FontId::new(14.0, theme::bold()))).truncate())
    });
    name.on_hover_text(if own {
        format!("{} (this dashboard)", row.source)
    } else {
        row.source.clone()
    });

    let state = isolated(ui, vec2(STATE_WIDTH, SPARK_HEIGHT), |ui| {
        ui.add(egui::Label::new(RichText::new(row.state_text()).color(state_color(row))).truncate())
    });
    if let Some(detail) = row.state_detail() {
        state.on_hover_text(detail);
    }
    let uptime = model.uptime_s(row, now).map_or("-".to_string(), format_uptime);
    isolated(ui, vec2(UPTIME_WIDTH, SPARK_HEIGHT), |ui| ui.label(uptime));
    isolated(ui, vec2(RESTARTS_WIDTH, SPARK_HEIGHT), |ui| {
        ui.label(row.restarts.to_string())
    });
    ui.allocate_ui(vec2(CAPS_WIDTH, SPARK_HEIGHT), |ui| {
        ui.set_width(CAPS_WIDTH);
        ui.horizontal_wrapped(|ui| {
            ui.spacing_mut().item_spacing = vec2(3.0, 3.0);
            if row.capabilities.is_empty() {
                ui.label(RichText::new("none").color(theme::DIM));
            } else {
                capability_badges(ui, row.capabilities, false);
            }
        });
    });
    let confinement = if row.confinement.is_empty() {
        "-"
    } else {
        &row.confinement
    };
    isolated(ui, vec2(CONFINEMENT_WIDTH, SPARK_HEIGHT), |ui| {
        ui.add(egui::Label::new(confinement).truncate())
    })
    .on_hover_text(confinement);
    let series = model.samples.get(&row.name);
    sparkline_cell(ui, &row.name, "memory", series, MEMORY_TEXT_WIDTH, |s| {
        s.last.as_ref().map(|l| format_bytes(l.memory_bytes))
    });
    sparkline_cell(ui, &row.name, "cpu", series, CPU_TEXT_WIDTH, |s| {
        s.last.as_ref().map(|l| format!("{:.1} %", l.cpu_percent))
    });
    row_actions(ui, row, actions);
}

fn state_color(row: &CapsuleRow) -> Color32 {
    if row.quarantined {
        return theme::ALERT;
    }
    match row.status {
        CapsuleStatus::Running { .. } => theme::OK,
        CapsuleStatus::Backoff { .. } => theme::WARN,
        CapsuleStatus::Failed { .. } | CapsuleStatus::Invalid { .. } => theme::ALERT,
        CapsuleStatus::Exited { code: Some(0), .. } | CapsuleStatus::Stopped => theme::DIM,
        CapsuleStatus::Exited { .. } => theme::WARN,
    }
}

/// A sparkline of one resource (memory or CPU) with its latest value, or a dash.
fn sparkline_cell(
    ui: &mut Ui,
    capsule: &str,
    what: &'static str,
    series: Option<&SampleSeries>,
    text_width: f32,
    latest: impl Fn(&SampleSeries) -> Option<String>,
) {
    ui.horizontal(|ui| {
        let points = match series {
            Some(s) if what == "memory" => downsample(&s.memory, SPARK_POINTS),
            Some(s) => downsample(&s.cpu, SPARK_POINTS),
            None => Vec::new(),
        };
        if points.len() < 2 {
            // Nothing to plot yet: keep the column's width.
            ui.allocate_space(vec2(SPARK_WIDTH, SPARK_HEIGHT));
        } else {
            let color = if what == "memory" {
                theme::ACCENT
            } else {
                theme::OK
            };
            Plot::new((what, capsule))
                .width(SPARK_WIDTH)
                .height(SPARK_HEIGHT)
                .show_axes(false)
                .show_grid(false)
                .show_background(false)
                .show_x(false)
                .show_y(false)
                .allow_drag(false)
                .allow_zoom(false)
                .allow_scroll(false)
                .allow_boxed_zoom(false)
                .allow_double_click_reset(false)
                .include_y(0.0)
                .set_margin_fraction(vec2(0.0, 0.1))
                .show(ui, |plot| {
                    plot.line(Line::new(what, PlotPoints::new(points)).color(color).width(1.5));
                });
        }
        let text = series.and_then(&latest).unwrap_or_else(|| "-".to_string());
        isolated(ui, vec2(text_width, SPARK_HEIGHT), |ui| ui.label(text));
    });
}

/// At most `n` points, each the mean of a run of neighbours: a 96-pixel sparkline gains nothing
/// from 120 points, and every point costs triangles to rasterise.
pub fn downsample(points: &std::collections::VecDeque<[f64; 2]>, n: usize) -> Vec<[f64; 2]> {
    let per = points.len().div_ceil(n.max(1)).max(1);
    let all: Vec<[f64; 2]> = points.iter().copied().collect();
    all.chunks(per)
        .map(|run| {
            let k = run.len() as f64;
            let (x, y) = run.iter().fold((0.0, 0.0), |(x, y), p| (x + p[0], y + p[1]));
            [x / k, y / k]
        })
        .collect()
}

fn row_actions(ui: &mut Ui, row: &CapsuleRow, actions: &mut Vec<UiAction>) {
    ui.horizontal(|ui| {
        ui.spacing_mut().item_spacing.x = 4.0;
        ui.spacing_mut().button_padding.x = 6.0;
        if row.is_active() {
            if ui.button("Stop").clicked() {
                actions.push(UiAction::Stop(row.name.clone()));
            }
            if ui.button("Restart").clicked() {
                actions.push(UiAction::Restart(row.name.clone()));
            }
        } else if !row.is_invalid() && ui.button("Start").clicked() {
            actions.push(UiAction::Start(row.name.clone()));
        }
        if row.quarantined && ui.button("Release").clicked() {
            actions.push(UiAction::Release(row.name.clone()));
        }
        if !row.capabilities.is_empty() {
            ui.menu_button("Revoke", |ui| {
                for capability in row.capabilities.iter() {
                    if ui.button(capability.as_str()).clicked() {
                        actions.push(UiAction::Revoke(row.name.clone(), capability));
                        ui.close();
                    }
                }
            });
        }
    });
}

fn event_feed(ui: &mut Ui, model: &Model) {
    if model.events.is_empty() {
        ui.label(RichText::new("no events yet").color(theme::DIM));
        ui.allocate_space(vec2(ui.available_width(), ui.available_height()));
        return;
    }
    let count = model.events.len();
    ScrollArea::vertical()
        .id_salt("event-feed")
        .auto_shrink([false, false])
        .show_rows(ui, EVENT_ROW_HEIGHT, count, |ui, range| {
            // Newest first.
            for i in range {
                let event = &model.events[count - 1 - i];
                ui.horizontal(|ui| {
                    ui.set_height(EVENT_ROW_HEIGHT);
                    let time = LocalTime::at((event.time_ms / 1000) as i64).hms();
                    let cell = vec2(0.0, EVENT_ROW_HEIGHT);
                    isolated(ui, cell + vec2(64.0, 0.0), |ui| {
                        ui.label(RichText::new(time).color(theme::DIM))
                    });
                    let color = severity_color(event.severity);
                    isolated(ui, cell + vec2(64.0, 0.0), |ui| {
                        ui.label(RichText::new(event.severity.name()).color(color))
                    });
                    let capsule = event.capsule.as_deref().unwrap_or("session");
                    let capsule_color = match &event.capsule {
                        Some(name) => capsule_color(name, model.capsule(name)),
                        None => theme::DIM,
                    };
                    swatch(ui, capsule_color, 10.0);
                    isolated(ui, cell + vec2(140.0, 0.0), |ui| {
                        ui.add(
                            egui::Label::new(RichText::new(capsule).font(FontId::new(14.0, theme::bold())))
                                .truncate(),
                        )
                    });
                    let text_color = if event.severity >= Severity::Warning {
                        color
                    } else {
                        theme::TEXT
                    };
                    ui.add(
                        egui::Label::new(RichText::new(describe(&event.kind)).color(text_color)).truncate(),
                    );
                });
            }
        });
}
