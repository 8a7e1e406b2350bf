//! The panel: a bar along the top of the output (top layer, exclusive zone = its height) with
//! the workspaces, the focused window's capsule label and badges, the alert counter, buttons for
//! the dashboard and the launcher, the clock, and the session menu (which grows the surface
//! downwards while it is open).

use egui::{
    pos2, vec2, Align, Color32, CornerRadius, FontId, Id, Layout, Rect, RichText, Sense, Stroke, Ui,
    UiBuilder,
};

use super::{capability_badges, capsule_color, chip, text_on, theme, SessionInfo, UiAction};
use crate::model::Model;

/// The bar's height in logical pixels (also its exclusive zone).
pub const HEIGHT: u32 = 28;
/// How much taller the surface gets while the session menu is open (with reboot and power off
/// under exo-init, without them otherwise).
pub fn menu_height(under_exo_init: bool) -> u32 {
    if under_exo_init {
        124
    } else {
        70
    }
}
const MENU_WIDTH: f32 = 230.0;

/// Why reboot and power off cannot act yet (shown as their hover text).
pub const NO_SESSION_REQUEST: &str = "Reboot and power off come with exo-init booting the session";

pub fn show(ui: &mut Ui, model: &Model, session: &SessionInfo, clock: &str, actions: &mut Vec<UiAction>) {
    let full = ui.max_rect();
    let bar = Rect::from_min_size(full.min, vec2(full.width(), HEIGHT as f32));
    if session.session_menu_open {
        // A click anywhere below the bar but outside the menu closes it.
        let below = Rect::from_min_max(pos2(full.left(), bar.bottom()), full.max);
        if ui
            .interact(below, Id::new("panel-outside-menu"), Sense::click())
            .clicked()
        {
            actions.push(UiAction::SessionMenu(false));
        }
    }
    ui.painter().rect_filled(bar, 0.0, theme::PANEL_BG);
    let inner = bar.shrink2(vec2(6.0, 0.0));

    // The right side first, so the focused window's title gets what is left.
    let mut right = ui.new_child(
        UiBuilder::new()
            .max_rect(inner)
            .layout(Layout::right_to_left(Align::Center)),
    );
    right_side(&mut right, model, session, clock, actions);
    let right_edge = right.min_rect().left() - 12.0;

    let left_rect = Rect::from_min_max(inner.min, pos2(right_edge.max(inner.left()), inner.bottom()));
    let mut left = ui.new_child(
        UiBuilder::new()
            .max_rect(left_rect)
            .layout(Layout::left_to_right(Align::Center)),
    );
    left.set_clip_rect(left_rect);
    workspaces(&mut left, model);
    left.add_space(12.0);
    focused_window(&mut left, model);

    if session.session_menu_open {
        session_menu(ui, full, bar, session, actions);
    }
}

fn workspaces(ui: &mut Ui, model: &Model) {
    for n in model.workspaces() {
        let current = n == model.current_workspace;
        let (rect, _) = ui.allocate_exact_size(vec2(22.0, 20.0), Sense::hover());
        let (fill, text) = if current {
            (theme::ACCENT, Color32::WHITE)
        } else if model.workspace_has_windows(n) {
            (Color32::from_rgb(0x2a, 0x33, 0x3f), theme::TEXT)
        } else {
            (Color32::TRANSPARENT, theme::DIM)
        };
        ui.painter().rect_filled(rect, CornerRadius::same(3), fill);
        ui.painter().text(
            rect.center(),
            egui::Align2::CENTER_CENTER,
            n.to_string(),
            FontId::proportional(13.0),
            text,
        );
    }
}

fn focused_window(ui: &mut Ui, model: &Model) {
    let Some(window) = model.focused_window() else {
        ui.label(RichText::new("no window").color(theme::DIM));
        return;
    };
    match &window.capsule {
        Some(name) => {
            let row = model.capsule(name);
            let color = capsule_color(name, row);
            chip(
                ui,
                &format!("[{name}]"),
                color,
                text_on(color),
                FontId::new(13.0, theme::bold()),
            );
            if let Some(row) = row {
                capability_badges(ui, row.capabilities, true);
            }
        }
        None => {
            chip(
                ui,
                "[host]",
                Color32::from_rgb(0x55, 0x55, 0x55),
                Color32::WHITE,
                FontId::new(13.0, theme::bold()),
            );
        }
    }
    ui.add(egui::Label::new(RichText::new(&window.title).color(theme::TEXT)).truncate());
}

fn right_side(ui: &mut Ui, model: &Model, session: &SessionInfo, clock: &str, actions: &mut Vec<UiAction>) {
    if ui
        .selectable_label(session.session_menu_open, "Session")
        .clicked()
    {
        actions.push(UiAction::SessionMenu(!session.session_menu_open));
    }
    ui.label(RichText::new(clock).font(FontId::new(14.0, theme::bold())));
    if ui
        .selectable_label(session.launcher_open, "Launch")
        .on_hover_text("Start a capsule (Super+Space once the compositor binds it)")
        .clicked()
    {
        actions.push(UiAction::Launcher(!session.launcher_open));
    }
    if ui
        .selectable_label(session.dashboard_visible, "Dashboard")
        .on_hover_text("Show or hide the Sentry dashboard (Super+D)")
        .clicked()
    {
        actions.push(UiAction::Dashboard("toggle"));
    }
    let alerts = model.alerts;
    let (fill, text) = if alerts > 0 {
        (theme::ALERT, Color32::WHITE)
    } else {
        (Color32::from_rgb(0x2a, 0x33, 0x3f), theme::DIM)
    };
    let label = if alerts == 1 {
        "1 alert".to_string()
    } else {
        format!("{alerts} alerts")
    };
    let button = egui::Button::new(RichText::new(label).color(text)).fill(fill);
    if ui
        .add(button)
        .on_hover_text("Anomalies since the dashboard started; click to see them")
        .clicked()
    {
        actions.push(UiAction::Dashboard("show"));
    }
}

fn session_menu(ui: &mut Ui, full: Rect, bar: Rect, session: &SessionInfo, actions: &mut Vec<UiAction>) {
    let rect = Rect::from_min_size(
        pos2(full.right() - MENU_WIDTH - 6.0, bar.bottom() + 2.0),
        vec2(MENU_WIDTH, menu_height(session.under_exo_init) as f32 - 6.0),
    );
    ui.painter().rect(
        rect,
        CornerRadius::same(4),
        theme::CARD_BG,
        Stroke::new(1.0, theme::ACCENT),
        egui::StrokeKind::Inside,
    );
    let mut menu = ui.new_child(
        UiBuilder::new()
            .max_rect(rect.shrink(8.0))
            .layout(Layout::top_down_justified(Align::Min)),
    );
    menu.label(RichText::new("Session").color(theme::DIM));
    if menu.button("Quit session").clicked() {
        actions.push(UiAction::SessionMenu(false));
        actions.push(UiAction::Session("quit"));
    }
    if session.under_exo_init {
        menu.add_enabled(false, egui::Button::new("Reboot"))
            .on_disabled_hover_text(NO_SESSION_REQUEST);
        menu.add_enabled(false, egui::Button::new("Power off"))
            .on_disabled_hover_text(NO_SESSION_REQUEST);
    }
}
