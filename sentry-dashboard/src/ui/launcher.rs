//! The launcher: a small overlay listing the capsules with a Start button each, filtered by
//! what is typed; Enter starts the first match, Escape closes it.

use egui::{vec2, Align, FontId, Key, Layout, RichText, ScrollArea, Stroke, Ui, UiBuilder};

use super::{capsule_color, swatch, theme, UiAction};
use crate::model::{CapsuleRow, Model};

/// The launcher surface's size in logical pixels.
pub const WIDTH: u32 = 460;
pub const HEIGHT: u32 = 420;

#[derive(Debug, Default)]
pub struct LauncherState {
    pub filter: String,
    /// Give the filter field the keyboard on the next frame.
    pub focus_filter: bool,
}

impl LauncherState {
    /// Fresh state for opening the launcher.
    pub fn opened() -> LauncherState {
        LauncherState {
            filter: String::new(),
            focus_filter: true,
        }
    }
}

/// The capsules whose name contains `filter` (ignoring case), invalid ones last.
pub fn matches<'a>(model: &'a Model, filter: &str) -> Vec<&'a CapsuleRow> {
    let needle = filter.trim().to_lowercase();
    let mut found: Vec<&CapsuleRow> = model
        .capsules
        .iter()
        .filter(|c| c.name.to_lowercase().contains(&needle))
        .collect();
    found.sort_by_key(|c| c.is_invalid());
    found
}

/// Whether Start makes sense for this capsule.
pub fn startable(row: &CapsuleRow) -> bool {
    !row.is_active() && !row.is_invalid()
}

pub fn show(ui: &mut Ui, model: &Model, state: &mut LauncherState, actions: &mut Vec<UiAction>) {
    let full = ui.max_rect();
    ui.painter().rect(
        full,
        egui::CornerRadius::same(8),
        theme::CARD_BG,
        Stroke::new(1.0, theme::ACCENT),
        egui::StrokeKind::Inside,
    );
    let mut ui = ui.new_child(
        UiBuilder::new()
            .max_rect(full.shrink(14.0))
            .layout(Layout::top_down(Align::Min)),
    );
    ui.horizontal(|ui| {
        ui.heading("Launch a capsule");
        ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
            if ui.button("Close").clicked() {
                actions.push(UiAction::Launcher(false));
            }
        });
    });
    ui.add_space(6.0);
    let edit = ui.add(
        egui::TextEdit::singleline(&mut state.filter)
            .hint_text("type to filter, Enter starts the first")
            .desired_width(f32::INFINITY),
    );
    if state.focus_filter {
        edit.request_focus();
        state.focus_filter = false;
    }
    ui.add_space(6.0);

    let found = matches(model, &state.filter);
    if ui.input(|i| i.key_pressed(Key::Escape)) {
        actions.push(UiAction::Launcher(false));
    }
    if ui.input(|i| i.key_pressed(Key::Enter)) {
        if let Some(row) = found.iter().find(|r| startable(r)) {
            actions.push(UiAction::Start(row.name.clone()));
            actions.push(UiAction::Launcher(false));
        }
    }
    ScrollArea::vertical()
        .id_salt("launcher-list")
        .auto_shrink([false, false])
        .show(&mut ui, |ui| {
            if found.is_empty() {
                ui.label(RichText::new("no capsule matches").color(theme::DIM));
            }
            for row in found {
                ui.horizontal(|ui| {
                    ui.set_min_height(26.0);
                    swatch(ui, capsule_color(&row.name, Some(row)), 14.0);
                    ui.label(RichText::new(&row.name).font(FontId::new(15.0, theme::bold())));
                    ui.label(RichText::new(row.state_text()).color(theme::DIM));
                    ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
                        let start = ui.add_enabled(
                            startable(row),
                            egui::Button::new("Start").min_size(vec2(60.0, 0.0)),
                        );
                        if start.clicked() {
                            actions.push(UiAction::Start(row.name.clone()));
                            actions.push(UiAction::Launcher(false));
                        }
                    });
                });
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn the_filter_ignores_case_and_puts_invalid_capsules_last() {
        let mut model = Model::new(0);
        let rows: Vec<CapsuleRow> = serde_json::from_str(
            r#"[{"name":"term-bad","status":{"state":"invalid","error":"e"}},
                {"name":"terminal","status":{"state":"stopped"}},
                {"name":"clock","status":{"state":"running","pid":3,"since_ms":1}}]"#,
        )
        .unwrap();
        model.set_capsules(rows, Instant::now());
        let names = |f: &str| {
            matches(&model, f)
                .iter()
                .map(|r| r.name.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(names("TERM"), ["terminal", "term-bad"]);
        assert_eq!(names(""), ["terminal", "clock", "term-bad"]);
        assert!(startable(&model.capsules[1]));
        assert!(!startable(&model.capsules[0]), "invalid");
        assert!(!startable(&model.capsules[2]), "running");
    }
}
