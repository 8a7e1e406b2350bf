//! What the three surfaces draw: the panel, the dashboard and the launcher. Each is a function
//! of the [`Model`](crate::model::Model) and a little view state; clicks become [`UiAction`]s
//! that the application carries out over the control channel.

pub mod dashboard;
pub mod launcher;
pub mod panel;
pub mod theme;

use egui::{Color32, CornerRadius, FontId, RichText, Sense, Ui, Vec2};
use exo_shell::sentry::event::Severity;
use exo_shell::{Capability, CapabilitySet};

use crate::model::{badge, CapsuleRow};

/// Something a person asked for by clicking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UiAction {
    Start(String),
    Stop(String),
    Restart(String),
    Release(String),
    Revoke(String, Capability),
    /// `show`, `hide` or `toggle` the dashboard.
    Dashboard(&'static str),
    /// Open (true) or close the launcher.
    Launcher(bool),
    /// Open (true) or close the panel's session menu.
    SessionMenu(bool),
    /// `quit` the session (`reboot` and `poweroff` need exo-init).
    Session(&'static str),
}

/// Facts about the session the UI shows but does not own.
#[derive(Debug, Clone, Default)]
pub struct SessionInfo {
    /// Running under exo-init (`EXO_INIT=1`): reboot and power off are offered.
    pub under_exo_init: bool,
    pub dashboard_visible: bool,
    pub launcher_open: bool,
    pub session_menu_open: bool,
}

/// The colour of a capsule's label (its manifest's, else derived from its name as the
/// compositor derives it).
pub fn capsule_color(name: &str, row: Option<&CapsuleRow>) -> Color32 {
    let [r, g, b] = match row.and_then(|r| crate::model::parse_hex_color(&r.color)) {
        Some(rgb) => rgb,
        None => {
            let c = exo_shell::capsule::derived_color(name);
            [c.r, c.g, c.b]
        }
    };
    Color32::from_rgb(r, g, b)
}

/// Lays out `add` in a cell of `size` with a clip rectangle of its own. egui merges the shapes
/// of one clip rectangle into one mesh and the software renderer re-rasterises a whole mesh
/// when any of it changes; a value that changes every second (an uptime, a memory reading) in
/// its own cell keeps its neighbours cached.
pub fn isolated<R>(ui: &mut Ui, size: Vec2, add: impl FnOnce(&mut Ui) -> R) -> R {
    let (rect, _) = ui.allocate_exact_size(size, Sense::hover());
    let mut child = ui.new_child(
        egui::UiBuilder::new()
            .max_rect(rect)
            .layout(egui::Layout::left_to_right(egui::Align::Center)),
    );
    child.set_clip_rect(rect.intersect(ui.clip_rect()));
    add(&mut child)
}

/// A filled square in a capsule's colour.
pub fn swatch(ui: &mut Ui, color: Color32, size: f32) {
    let (rect, _) = ui.allocate_exact_size(Vec2::splat(size), Sense::hover());
    ui.painter().rect_filled(rect, CornerRadius::same(2), color);
}

/// A small framed label, e.g. a capability badge.
pub fn chip(ui: &mut Ui, text: &str, fill: Color32, text_color: Color32, font: FontId) -> egui::Response {
    egui::Frame::new()
        .fill(fill)
        .corner_radius(CornerRadius::same(3))
        .inner_margin(egui::Margin::symmetric(4, 1))
        .show(ui, |ui| {
            // Whole or not at all: a wrapping layout moves the chip to the next line.
            ui.add(egui::Label::new(RichText::new(text).font(font).color(text_color)).extend());
        })
        .response
}

/// Badges for capabilities; `beyond_window` leaves out a plain `display.window`, the way
/// window labels show them.
pub fn capability_badges(ui: &mut Ui, capabilities: CapabilitySet, beyond_window: bool) {
    for capability in capabilities
        .iter()
        .filter(|c| !beyond_window || *c != Capability::DisplayWindow)
    {
        chip(
            ui,
            badge(capability),
            Color32::from_rgb(0x33, 0x3d, 0x4a),
            theme::TEXT,
            FontId::proportional(11.0),
        )
        .on_hover_text(capability.as_str());
    }
}

pub fn severity_color(severity: Severity) -> Color32 {
    match severity {
        Severity::Info => theme::DIM,
        Severity::Notice => theme::ACCENT,
        Severity::Warning => theme::WARN,
        Severity::Critical => theme::ALERT,
    }
}

/// White or black, whichever reads better on `fill`.
pub fn text_on(fill: Color32) -> Color32 {
    let luma = 0.299 * fill.r() as f32 + 0.587 * fill.g() as f32 + 0.114 * fill.b() as f32;
    if luma > 150.0 {
        Color32::BLACK
    } else {
        Color32::WHITE
    }
}
