//! Trusted labels: the compositor-drawn title bar of every window (DESIGN.md §4).
//!
//! A label is the window's title bar rasterised on the CPU ([`text`]) into a
//! `MemoryRenderBuffer`: the title bar colour, the text — `[capsule] title` for capsule windows,
//! the sanitised title alone for host windows — cut with `…` to the bar, and for capsules one
//! badge per capability beyond `display.window`. The pixels are cached per window and made again
//! only when the text, colours, scale or size change. Only the compositor writes this text: the
//! capsule name and colour come from the socket the client connected to
//! ([`ClientState::identity`](crate::state::ClientState::identity)), never from anything the client says, and the client's title is
//! sanitised (`exo_shell::capsule::sanitize_title`) and drawn in its own clipped box after the
//! prefix.
//!
//! # Stacking: why a client cannot cover a label
//!
//! Elements are listed front to back. For each visible window, top to bottom, we push
//!
//! 1. its label (the title bar),
//! 2. its popups, cut around the visible title bars of the windows *below* it,
//! 3. its surface tree (root surface and subsurfaces) cropped to the content rectangle,
//! 4. its border (one solid rectangle behind the whole frame).
//!
//! So a window's own label is above everything the window draws: an oversized buffer, a window
//! geometry that starts inside the buffer, or a subsurface at negative coordinates is cropped to
//! the content rectangle (`CropRenderElement`), and popups, which may legitimately reach outside
//! the content (menus), are still below the label. Windows higher in the stack are drawn above
//! lower windows' labels: that is ordinary stacking, and the covering window carries its own
//! label. Popups carry none, so they get no such right: a popup is split into the pieces that
//! miss every lower window's title bar (where it is not already hidden by this window's frame or
//! a higher one), and a forged label cannot be placed over another window's real one. Borders
//! are not protected (popups may cross them); the title bar is what identifies a window.
//! A framed window with no popups (and X-ray off) is listed as one element that draws 4, 3 and 1
//! in that order within its frame (`labels/framed.rs`): the same picture, at less cost to the damage
//! tracker.
//! Input agrees with the picture: `Nexq::window_at` gives a popup no pointer events on its own
//! title bar or on the ones cut out of it ([`lower_title_bars`]).
//!
//! Fullscreen windows have no border. Unless their client holds `display.fullscreen` they keep
//! their label as a strip across the top of the output, and their content is the output below
//! it ([`Decor::Strip`](crate::windows::Decor)); with the capability the content is the whole
//! output. Either way their surfaces are cropped to the content.
//!
//! # X-ray
//!
//! With X-ray on (the secure key `x-ray`, Super+X by default) every window's content and every
//! popup gets a translucent tint in its owner's colour right above it, and the content an
//! opaque `[capsule]` / `[host]` tag in its top-left corner; layer surfaces get the same in
//! `render`. Each overlay sits directly above what it tints, so a higher window still hides a
//! lower one's overlay: the colour of every pixel is that of the client that drew it.

mod backdrop;
mod elements;
mod framed;
pub mod text;

pub use backdrop::Backdrop;
pub use framed::FramedWindow;

use exo_shell::{
    capsule::sanitize_title,
    config::{Appearance, Color},
    Capability, CapabilitySet,
};

use crate::state::ClientIdentity;
pub use elements::{
    attach_decor, client_of, lower_title_bars, remember_geometry, surface_client, window_elements,
    window_geometry, window_title, XRayDecor,
};
use text::Pixmap;

/// Label text size at scale 1, in pixels of ascent minus descent (about 14 px to the em).
pub const TEXT_PX: f32 = 16.0;
/// Badge text size at scale 1.
pub const BADGE_PX: f32 = 12.0;
/// The title room, in logical pixels, that capability badges give way to.
pub const MIN_TITLE: f64 = 64.0;
/// Label text colour.
pub const TEXT_COLOR: Color = Color::new(0xff, 0xff, 0xff);
/// Capability badges: dark text on amber, unlike any title bar.
pub const BADGE_FILL: Color = Color::new(0xff, 0xc8, 0x3d);
pub const BADGE_TEXT: Color = Color::new(0x1a, 0x1a, 0x1a);

/// The short tag shown in a badge for a capability; `None` for `display.window`, which every
/// window's client has.
pub fn badge_tag(capability: Capability) -> Option<&'static str> {
    // Exhaustive on purpose: a new capability must choose its tag here.
    Some(match capability {
        Capability::DisplayWindow => return None,
        Capability::DisplayLayer => "layer",
        Capability::DisplayFullscreen => "fullscreen",
        Capability::DisplayCapture => "capture",
        Capability::DisplayToplevels => "toplevels",
        Capability::DisplayOutput => "output",
        Capability::DisplayLock => "lock",
        Capability::InputInject => "inject",
        Capability::InputMethod => "ime",
        Capability::InputInhibit => "inhibit",
        Capability::ClipboardManage => "clipboard",
        Capability::SentryObserve => "observe",
        Capability::SentryControl => "control",
        Capability::NetConnect => "net",
    })
}

/// How much of the owner's colour an X-ray tint mixes over a surface.
pub const XRAY_ALPHA: f32 = 0.5;
/// The height of an X-ray owner tag, in logical pixels.
pub const XRAY_TAG_HEIGHT: i32 = 22;

/// The text of an X-ray owner tag: `[capsule]`, or `[host]` for host clients.
pub fn xray_text(identity: &ClientIdentity) -> String {
    match identity.capsule.as_deref() {
        Some(name) => format!("[{}]", sanitize_title(name)),
        None => "[host]".to_string(),
    }
}

/// An X-ray owner tag's pixels at `scale`: the text in white on the owner's colour.
pub fn rasterize_tag(text: &str, color: Color, scale: f64) -> Pixmap {
    let height = (f64::from(XRAY_TAG_HEIGHT) * scale).round() as i32;
    let m = Metrics::new(height, scale);
    let width = text::width(text, m.text_px) + 2 * m.pad;
    let mut p = Pixmap::new(width, height, color);
    let baseline = ((height as f32 - m.text_px) / 2.0 + text::ascent(m.text_px)).round();
    p.draw_text(text, m.text_px, m.pad as f32, baseline, TEXT_COLOR, (0, width));
    p
}

/// `c` with each channel multiplied by `f` (0..=1).
pub fn shade(c: Color, f: f32) -> Color {
    let s = |v: u8| (f32::from(v) * f).round().clamp(0.0, 255.0) as u8;
    Color::new(s(c.r), s(c.g), s(c.b))
}

/// `c` moved towards white by `f` (0..=1).
pub fn tint(c: Color, f: f32) -> Color {
    let t = |v: u8| (f32::from(v) + (255.0 - f32::from(v)) * f).round() as u8;
    Color::new(t(c.r), t(c.g), t(c.b))
}

/// The colours of a window's frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameColors {
    pub border: Color,
    pub title: Color,
    /// A light line along the bottom of the title bar (focused capsule windows).
    pub accent: Option<Color>,
}

/// Host windows keep the config's border colours (the title bar a shade darker); capsule windows
/// are in the capsule's colour, full with a light line when focused and darker when not.
pub fn frame_colors(identity: &ClientIdentity, focused: bool, appearance: &Appearance) -> FrameColors {
    match identity.capsule {
        None => {
            let border = if focused {
                appearance.focused_border
            } else {
                appearance.unfocused_border
            };
            FrameColors {
                border,
                title: shade(border, 0.7),
                accent: None,
            }
        }
        Some(_) if focused => FrameColors {
            border: identity.color,
            title: identity.color,
            accent: Some(tint(identity.color, 0.55)),
        },
        Some(_) => {
            let dark = shade(identity.color, 0.6);
            FrameColors {
                border: dark,
                title: dark,
                accent: None,
            }
        }
    }
}

/// Everything a label's pixels depend on apart from its size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelSpec {
    /// `[capsule]` for capsule windows.
    pub prefix: Option<String>,
    /// The sanitised title.
    pub title: String,
    pub badges: Vec<&'static str>,
    pub colors: FrameColors,
}

impl LabelSpec {
    pub fn new(
        identity: &ClientIdentity,
        caps: CapabilitySet,
        title: &str,
        focused: bool,
        appearance: &Appearance,
    ) -> LabelSpec {
        let badges = match identity.capsule {
            Some(_) => caps.iter().filter_map(badge_tag).collect(),
            None => Vec::new(),
        };
        LabelSpec {
            prefix: identity
                .capsule
                .as_deref()
                .map(|name| format!("[{}]", sanitize_title(name))),
            title: sanitize_title(title),
            badges,
            colors: frame_colors(identity, focused, appearance),
        }
    }

    /// The whole label text, as `exo_shell::capsule::label_text` builds it for capsules.
    pub fn text(&self) -> String {
        match &self.prefix {
            Some(p) if self.title.is_empty() => p.clone(),
            Some(p) => format!("{p} {}", self.title),
            None => self.title.clone(),
        }
    }
}

/// A piece of text or a badge placed in a label: left edge and width in buffer pixels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub text: String,
    pub x: i32,
    pub width: i32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelLayout {
    pub prefix: Option<Run>,
    pub title: Option<Run>,
    /// Capability badges after the text; when not all fit, the last is `+N` for the rest.
    pub badges: Vec<Run>,
}

/// Sizes in buffer pixels for a title bar `height` pixels high at `scale`.
struct Metrics {
    text_px: f32,
    badge_px: f32,
    badge_h: i32,
    pad: i32,
    badge_pad: i32,
    badge_gap: i32,
    text_badge_gap: i32,
}

impl Metrics {
    fn new(height: i32, scale: f64) -> Metrics {
        let s = scale as f32;
        let px = |v: f32| (v * s).round() as i32;
        let badge_px = (BADGE_PX * s).min(height as f32 * 0.55);
        Metrics {
            text_px: (TEXT_PX * s).min(height as f32 * 0.75),
            badge_px,
            badge_h: ((badge_px * 1.35).round() as i32).min(height - 2).max(1),
            pad: px(8.0),
            badge_pad: px(4.0),
            badge_gap: px(4.0),
            text_badge_gap: px(8.0),
        }
    }
}

/// Where the text and badges of `spec` go in a `width` x `height` buffer at `scale`. The
/// `[capsule]` prefix is kept longest: the title is cut down to [`MIN_TITLE`], then badges
/// collapse into `+N`, then the title is cut further, and only a bar too narrow for the prefix
/// cuts the prefix.
pub fn layout(spec: &LabelSpec, width: i32, height: i32, scale: f64) -> LabelLayout {
    let m = Metrics::new(height, scale);
    let tw = |s: &str| text::width(s, m.text_px);
    let avail = width - 2 * m.pad;
    let space = tw(" ");
    let ellipsis = tw(&text::ELLIPSIS.to_string());
    let prefix_w = spec.prefix.as_deref().map(tw);
    let title_w = tw(&spec.title);
    let has_title = !spec.title.is_empty();
    let full_text = match prefix_w {
        Some(p) if has_title => p + space + title_w,
        Some(p) => p,
        None => title_w,
    };
    // Badges give way before the title is cut below this much (or its own width).
    let min_title = title_w.min(ellipsis.max((MIN_TITLE * scale).round() as i32));
    let min_text = |min_title: i32| match prefix_w {
        Some(p) if has_title => p + space + min_title,
        Some(p) => p,
        None => min_title,
    };

    let badge_w = |tag: &str| text::width(tag, m.badge_px) + 2 * m.badge_pad;
    let badges_w = |tags: &[String]| {
        if tags.is_empty() {
            0
        } else {
            m.text_badge_gap
                + tags.iter().map(|t| badge_w(t)).sum::<i32>()
                + m.badge_gap * (tags.len() as i32 - 1)
        }
    };
    let n = spec.badges.len();
    let tags = (0..=n)
        .rev()
        .map(|k| {
            let mut tags: Vec<String> = spec.badges[..k].iter().map(|t| t.to_string()).collect();
            if k < n {
                tags.push(format!("+{}", n - k));
            }
            tags
        })
        .find(|tags| min_text(min_title) + badges_w(tags) <= avail)
        .or_else(|| {
            // Still say that there are capabilities, as long as `[capsule] …` fits.
            let rest = vec![format!("+{n}")];
            (n > 0 && min_text(ellipsis.min(title_w)) + badges_w(&rest) <= avail).then_some(rest)
        })
        .unwrap_or_default();
    let text_avail = avail - badges_w(&tags);

    let run = |text: String, x: i32, width: i32| Run { text, x, width };
    let (prefix, title) = match (&spec.prefix, prefix_w) {
        (Some(p), Some(p_w)) if full_text <= text_avail || p_w + space + ellipsis <= text_avail => {
            let title = has_title.then(|| {
                let (t, w) = text::fit(&spec.title, m.text_px, text_avail - p_w - space);
                run(t, m.pad + p_w + space, w)
            });
            (Some(run(p.clone(), m.pad, p_w)), title)
        }
        (Some(p), _) => {
            let (t, w) = text::fit(p, m.text_px, text_avail);
            (Some(run(t, m.pad, w)), None)
        }
        _ => {
            let title = has_title.then(|| {
                let (t, w) = text::fit(&spec.title, m.text_px, text_avail);
                run(t, m.pad, w)
            });
            (None, title)
        }
    };
    let text_end = title
        .as_ref()
        .or(prefix.as_ref())
        .map(|r| r.x + r.width)
        .unwrap_or(m.pad);
    let mut x = text_end + m.text_badge_gap;
    let badges = tags
        .into_iter()
        .map(|tag| {
            let w = badge_w(&tag);
            let r = run(tag, x, w);
            x += w + m.badge_gap;
            r
        })
        .collect();
    LabelLayout {
        prefix,
        title,
        badges,
    }
}

/// The label's pixels: the whole title bar, `width` x `height` buffer pixels at `scale`.
pub fn rasterize(spec: &LabelSpec, width: i32, height: i32, scale: f64) -> Pixmap {
    let mut p = Pixmap::new(width, height, spec.colors.title);
    let (width, height) = (p.width, p.height);
    if let Some(accent) = spec.colors.accent {
        let line = (scale.round() as i32).max(1);
        p.fill_rect(0, height - line, width, line, accent);
    }
    let m = Metrics::new(height, scale);
    let l = layout(spec, width, height, scale);
    let baseline = ((height as f32 - m.text_px) / 2.0 + text::ascent(m.text_px)).round();
    let badges_start = l
        .badges
        .first()
        .map(|b| b.x - m.text_badge_gap / 2)
        .unwrap_or(width);
    // Each run draws only in its own columns: the title cannot reach into the prefix or badges.
    if let Some(r) = &l.prefix {
        let end = l.title.as_ref().map(|t| t.x).unwrap_or(badges_start);
        p.draw_text(&r.text, m.text_px, r.x as f32, baseline, TEXT_COLOR, (0, end));
    }
    if let Some(r) = &l.title {
        p.draw_text(
            &r.text,
            m.text_px,
            r.x as f32,
            baseline,
            TEXT_COLOR,
            (r.x, badges_start),
        );
    }
    let badge_y = (height - m.badge_h) / 2;
    let badge_baseline =
        (badge_y as f32 + (m.badge_h as f32 - m.badge_px) / 2.0 + text::ascent(m.badge_px)).round();
    for b in &l.badges {
        p.fill_rounded(b.x, badge_y, b.width, m.badge_h, 3.0 * scale as f32, BADGE_FILL);
        p.draw_text(
            &b.text,
            m.badge_px,
            (b.x + m.badge_pad) as f32,
            badge_baseline,
            BADGE_TEXT,
            (b.x, b.x + b.width),
        );
    }
    p
}

#[cfg(test)]
mod tests;
