//! Text for the trusted labels: the embedded DejaVu Sans Bold, measured and rasterised with
//! `ab_glyph` into a small CPU pixmap. Shaping is deliberately simple (one glyph per char, left
//! to right, with kerning): titles are sanitised first, and every run is clipped to its own box,
//! so no character sequence can draw outside the place the layout gave it.

use std::sync::OnceLock;

use ab_glyph::{point, Font, FontRef, GlyphId, PxScale, ScaleFont};
use exo_shell::config::Color;

/// DejaVu Sans Bold from Debian's fonts-dejavu-core; licence in `assets/fonts/LICENSE-DejaVu`.
const FONT_BYTES: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans-Bold.ttf");

/// The ellipsis that marks cut text.
pub const ELLIPSIS: char = '…';

fn font() -> &'static FontRef<'static> {
    static FONT: OnceLock<FontRef<'static>> = OnceLock::new();
    // The font is part of the binary and checked by a unit test: failing here is a build bug.
    FONT.get_or_init(|| FontRef::try_from_slice(FONT_BYTES).expect("the embedded label font parses"))
}

/// Vertical metrics of the font at a pixel size (the size is ascent minus descent).
pub fn ascent(px: f32) -> f32 {
    font().as_scaled(PxScale::from(px)).ascent()
}

/// The pen position after each char of `text` at size `px`, kerning included, after a leading
/// 0: entry `i` is where the first `i` chars end, and the last entry is the run's width.
pub fn advances(text: &str, px: f32) -> Vec<f32> {
    let scaled = font().as_scaled(PxScale::from(px));
    let mut out = Vec::with_capacity(text.chars().count() + 1);
    let mut caret = 0.0f32;
    let mut prev: Option<GlyphId> = None;
    out.push(0.0);
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        if let Some(p) = prev {
            caret += scaled.kern(p, id);
        }
        caret += scaled.h_advance(id);
        out.push(caret);
        prev = Some(id);
    }
    out
}

/// The width of `text` at size `px`, in pixels (rounded up).
pub fn width(text: &str, px: f32) -> i32 {
    advances(text, px).last().copied().unwrap_or(0.0).ceil() as i32
}

/// `text` cut at a char boundary so that it, with a trailing `…` when cut, is at most `max`
/// pixels wide; trailing spaces before the `…` are dropped. Returns the text and its width.
/// When not even `…` fits the result is empty.
pub fn fit(text: &str, px: f32, max: i32) -> (String, i32) {
    let full = width(text, px);
    if full <= max {
        return (text.to_string(), full);
    }
    let ellipsis = width(&ELLIPSIS.to_string(), px);
    let pos = advances(text, px);
    let chars: Vec<char> = text.chars().collect();
    let mut keep = chars.len();
    while keep > 0 && (pos[keep].ceil() as i32 + ellipsis > max || chars[keep - 1] == ' ') {
        keep -= 1;
    }
    if keep == 0 && ellipsis > max {
        return (String::new(), 0);
    }
    let mut cut: String = chars[..keep].iter().collect();
    cut.push(ELLIPSIS);
    let w = width(&cut, px);
    (cut, w)
}

/// Opaque pixels in memory as B, G, R, A bytes (DRM `Argb8888` on little-endian machines).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pixmap {
    pub width: i32,
    pub height: i32,
    pub bgra: Vec<u8>,
}

impl Pixmap {
    pub fn new(width: i32, height: i32, fill: Color) -> Pixmap {
        let (width, height) = (width.max(1), height.max(1));
        let px = [fill.b, fill.g, fill.r, 0xff];
        Pixmap {
            width,
            height,
            bgra: px.repeat((width * height) as usize),
        }
    }

    /// The colour at (x, y) (which must be inside).
    pub fn get(&self, x: i32, y: i32) -> Color {
        let i = ((y * self.width + x) * 4) as usize;
        Color {
            r: self.bgra[i + 2],
            g: self.bgra[i + 1],
            b: self.bgra[i],
        }
    }

    /// Mix `color` over the pixel at (x, y) with `coverage` in 0..=1; outside is ignored.
    pub fn blend(&mut self, x: i32, y: i32, color: Color, coverage: f32) {
        if x < 0 || y < 0 || x >= self.width || y >= self.height || coverage <= 0.0 {
            return;
        }
        let a = coverage.min(1.0);
        let i = ((y * self.width + x) * 4) as usize;
        for (offset, value) in [(0, color.b), (1, color.g), (2, color.r)] {
            let dst = f32::from(self.bgra[i + offset]);
            self.bgra[i + offset] = (dst + (f32::from(value) - dst) * a).round() as u8;
        }
    }

    pub fn fill_rect(&mut self, x: i32, y: i32, w: i32, h: i32, color: Color) {
        for yy in y.max(0)..(y + h).min(self.height) {
            for xx in x.max(0)..(x + w).min(self.width) {
                self.blend(xx, yy, color, 1.0);
            }
        }
    }

    /// A filled rectangle with anti-aliased corners of radius `r`.
    pub fn fill_rounded(&mut self, x: i32, y: i32, w: i32, h: i32, r: f32, color: Color) {
        let r = r.min(w as f32 / 2.0).min(h as f32 / 2.0).max(0.0);
        for yy in y.max(0)..(y + h).min(self.height) {
            for xx in x.max(0)..(x + w).min(self.width) {
                // Distance from the pixel centre to the nearest corner circle's centre, per axis.
                let cx = (xx as f32 + 0.5).clamp(x as f32 + r, (x + w) as f32 - r);
                let cy = (yy as f32 + 0.5).clamp(y as f32 + r, (y + h) as f32 - r);
                let d = ((xx as f32 + 0.5 - cx).powi(2) + (yy as f32 + 0.5 - cy).powi(2)).sqrt();
                self.blend(xx, yy, color, (r + 0.5 - d).clamp(0.0, 1.0));
            }
        }
    }

    /// Draw `text` with its pen starting at `x` on the baseline `baseline`, touching only the
    /// columns `clip.0..clip.1`.
    pub fn draw_text(&mut self, text: &str, px: f32, x: f32, baseline: f32, color: Color, clip: (i32, i32)) {
        let scaled = font().as_scaled(PxScale::from(px));
        let pos = advances(text, px);
        for (i, c) in text.chars().enumerate() {
            let id = scaled.glyph_id(c);
            // Where this char's pen starts: its end minus its advance (so kerning is included).
            let pen = pos[i + 1] - scaled.h_advance(id);
            let glyph = id.with_scale_and_position(px, point(x + pen, baseline));
            let Some(outlined) = scaled.outline_glyph(glyph) else {
                continue;
            };
            let bounds = outlined.px_bounds();
            let (bx, by) = (bounds.min.x as i32, bounds.min.y as i32);
            outlined.draw(|gx, gy, coverage| {
                let (px_x, px_y) = (bx + gx as i32, by + gy as i32);
                if (clip.0..clip.1).contains(&px_x) {
                    self.blend(px_x, px_y, color, coverage);
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn font_has_the_glyphs_labels_use() {
        for c in "[]…+abcxyzABC0123456789-_.".chars() {
            assert_ne!(font().glyph_id(c), GlyphId(0), "no glyph for {c:?}");
        }
    }

    #[test]
    fn widths_grow_with_text_and_size() {
        assert_eq!(width("", 16.0), 0);
        assert!(width("simple-shm", 16.0) > width("simple", 16.0));
        assert!(width("simple", 32.0) > width("simple", 16.0) * 3 / 2);
    }

    #[test]
    fn fit_cuts_with_an_ellipsis() {
        let (same, w) = fit("foot", 16.0, 1000);
        assert_eq!((same.as_str(), w), ("foot", width("foot", 16.0)));
        let max = width("a long window title", 16.0) / 2;
        let (cut, w) = fit("a long window title", 16.0, max);
        assert!(cut.ends_with(ELLIPSIS), "{cut:?}");
        assert!(w <= max, "{cut:?} is {w} px, more than {max}");
        assert!("a long window title".starts_with(cut.trim_end_matches(ELLIPSIS)));
        assert!(
            !cut.contains(" …"),
            "spaces before the ellipsis are dropped: {cut:?}"
        );
        assert_eq!(fit("title", 16.0, 2), (String::new(), 0));
    }

    #[test]
    fn text_is_drawn_inside_its_clip_only() {
        let bg = Color::new(0, 0, 0);
        let white = Color::new(255, 255, 255);
        let mut p = Pixmap::new(120, 24, bg);
        p.draw_text("WWWWWWWWWWWW", 16.0, 4.0, 18.0, white, (10, 60));
        let lit = |p: &Pixmap, x0: i32, x1: i32| {
            (x0..x1)
                .flat_map(|x| (0..24).map(move |y| (x, y)))
                .filter(|&(x, y)| p.get(x, y) != bg)
                .count()
        };
        assert!(lit(&p, 10, 60) > 50);
        assert_eq!(lit(&p, 0, 10) + lit(&p, 60, 120), 0);
    }

    #[test]
    fn rounded_rect_keeps_corners_clear() {
        let bg = Color::new(0, 0, 0);
        let mut p = Pixmap::new(20, 20, bg);
        p.fill_rounded(0, 0, 20, 20, 5.0, Color::new(200, 100, 50));
        assert_eq!(p.get(0, 0), bg);
        assert_eq!(p.get(10, 10), Color::new(200, 100, 50));
        assert_eq!(p.get(10, 0), Color::new(200, 100, 50));
    }
}
