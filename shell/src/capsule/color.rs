//! The label colour a capsule gets when its manifest names none.
//!
//! The name is hashed (FNV-1a, fixed across releases and platforms) to a
//! hue; saturation and lightness are fixed so that white label text on the
//! colour always has a contrast ratio of at least 4.5:1 (WCAG AA).

use crate::config::Color;

/// Saturation of derived colours, 0..=1.
const SATURATION: f64 = 0.55;
/// Lightness of derived colours, 0..=1; dark enough for white text at every hue.
const LIGHTNESS: f64 = 0.30;

/// 32-bit FNV-1a.
fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5, |hash, &b| {
        (hash ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// The colour for a capsule called `name`; the same name always gives the same colour.
pub fn derived_color(name: &str) -> Color {
    let hue = f64::from(fnv1a(name.as_bytes()) % 360);
    hsl(hue, SATURATION, LIGHTNESS)
}

/// HSL (hue in degrees) to 8-bit sRGB.
fn hsl(hue: f64, saturation: f64, lightness: f64) -> Color {
    let chroma = (1.0 - (2.0 * lightness - 1.0).abs()) * saturation;
    let sector = hue / 60.0;
    let x = chroma * (1.0 - (sector % 2.0 - 1.0).abs());
    let (r, g, b) = match sector as u32 {
        0 => (chroma, x, 0.0),
        1 => (x, chroma, 0.0),
        2 => (0.0, chroma, x),
        3 => (0.0, x, chroma),
        4 => (x, 0.0, chroma),
        _ => (chroma, 0.0, x),
    };
    let m = lightness - chroma / 2.0;
    // In 0..=255 by construction; the cast saturates anyway.
    let byte = |v: f64| ((v + m) * 255.0).round() as u8;
    Color::new(byte(r), byte(g), byte(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// WCAG relative luminance of an sRGB colour.
    fn luminance(c: Color) -> f64 {
        let linear = |v: u8| {
            let v = f64::from(v) / 255.0;
            if v <= 0.040_45 {
                v / 12.92
            } else {
                ((v + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * linear(c.r) + 0.7152 * linear(c.g) + 0.0722 * linear(c.b)
    }

    #[test]
    fn white_text_is_readable_at_every_hue() {
        for hue in 0..360 {
            let color = hsl(f64::from(hue), SATURATION, LIGHTNESS);
            let contrast = 1.05 / (luminance(color) + 0.05);
            assert!(contrast >= 4.5, "hue {hue}: {color} has contrast {contrast:.2}");
        }
    }

    #[test]
    fn derived_colours_are_stable_and_differ_by_name() {
        // Fixed values: a change here changes every user's labels.
        assert_eq!(fnv1a(b""), 0x811c_9dc5);
        assert_eq!(fnv1a(b"a"), 0xe40c_292c);
        assert_eq!(derived_color("terminal"), derived_color("terminal"));
        let names = ["terminal", "clock", "hello", "files", "browser", "sentry"];
        let colors: Vec<Color> = names.iter().map(|n| derived_color(n)).collect();
        for (i, c) in colors.iter().enumerate() {
            assert!(!colors[..i].contains(c), "{} repeats a colour", names[i]);
        }
    }

    #[test]
    fn hsl_primaries() {
        assert_eq!(hsl(0.0, 1.0, 0.5), Color::new(255, 0, 0));
        assert_eq!(hsl(120.0, 1.0, 0.5), Color::new(0, 255, 0));
        assert_eq!(hsl(240.0, 1.0, 0.5), Color::new(0, 0, 255));
        assert_eq!(hsl(0.0, 0.0, 1.0), Color::new(255, 255, 255));
    }
}
