//! The look: DejaVu Sans (shipped with the repository, so every glyph used here exists), a dark
//! palette, no animations (an animation would mean frames while nothing changes).

use egui::{Color32, FontData, FontDefinitions, FontFamily, FontId, TextStyle};

/// DejaVu Sans from Debian's fonts-dejavu-core; licence in `assets/fonts/LICENSE-DejaVu`.
const SANS: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");
const SANS_BOLD: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans-Bold.ttf");

/// The family of bold text (capsule labels, headings).
pub fn bold() -> FontFamily {
    FontFamily::Name("bold".into())
}

pub const PANEL_BG: Color32 = Color32::from_rgb(0x16, 0x1b, 0x22);
pub const DASHBOARD_BG: Color32 = Color32::from_rgb(0x1b, 0x22, 0x2b);
pub const CARD_BG: Color32 = Color32::from_rgb(0x23, 0x2c, 0x37);
pub const TEXT: Color32 = Color32::from_rgb(0xe6, 0xe9, 0xed);
pub const DIM: Color32 = Color32::from_rgb(0x8b, 0x95, 0xa1);
pub const ACCENT: Color32 = Color32::from_rgb(0x4a, 0x90, 0xd9);
pub const ALERT: Color32 = Color32::from_rgb(0xd9, 0x4a, 0x4a);
pub const OK: Color32 = Color32::from_rgb(0x5a, 0xb8, 0x6a);
pub const WARN: Color32 = Color32::from_rgb(0xe0, 0xa0, 0x30);

pub fn install(ctx: &egui::Context) {
    let mut fonts = FontDefinitions::default();
    fonts
        .font_data
        .insert("dejavu-sans".into(), FontData::from_static(SANS).into());
    fonts
        .font_data
        .insert("dejavu-sans-bold".into(), FontData::from_static(SANS_BOLD).into());
    // DejaVu first; egui's own fonts stay behind it as fallbacks.
    let proportional = fonts.families.entry(FontFamily::Proportional).or_default();
    proportional.insert(0, "dejavu-sans".into());
    let fallbacks = proportional.clone();
    fonts.families.insert(
        bold(),
        std::iter::once("dejavu-sans-bold".to_string())
            .chain(fallbacks)
            .collect(),
    );
    ctx.set_fonts(fonts);

    ctx.all_styles_mut(|style| {
        style.animation_time = 0.0;
        style.interaction.tooltip_delay = 0.3;
        style.interaction.show_tooltips_only_when_still = false;
        style.text_styles = [
            (TextStyle::Small, FontId::proportional(11.0)),
            (TextStyle::Body, FontId::proportional(14.0)),
            (TextStyle::Button, FontId::proportional(14.0)),
            (TextStyle::Monospace, FontId::monospace(13.0)),
            (TextStyle::Heading, FontId::new(20.0, bold())),
        ]
        .into();
        style.spacing.item_spacing = egui::vec2(8.0, 4.0);
        style.spacing.button_padding = egui::vec2(8.0, 2.0);
        let visuals = &mut style.visuals;
        visuals.dark_mode = true;
        visuals.override_text_color = Some(TEXT);
        visuals.panel_fill = DASHBOARD_BG;
        visuals.window_fill = CARD_BG;
        visuals.extreme_bg_color = Color32::from_rgb(0x12, 0x16, 0x1c);
        visuals.faint_bg_color = Color32::from_rgb(0x20, 0x28, 0x32);
        visuals.window_shadow = egui::Shadow::NONE;
        visuals.popup_shadow = egui::Shadow::NONE;
        visuals.selection.bg_fill = ACCENT;
        // A blinking text cursor would be a frame every half second while the launcher is open.
        visuals.text_cursor.blink = false;
    });
}
