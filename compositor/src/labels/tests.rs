//! Label text, colours, layout and pixels, without a display.

use exo_shell::{capsule::label_text, config::Config};

use super::*;

const GREEN: Color = Color::new(0x2e, 0x7d, 0x32);

fn appearance() -> Appearance {
    Config::default().appearance
}

fn capsule(name: &str) -> ClientIdentity {
    ClientIdentity {
        capsule: Some(name.into()),
        color: GREEN,
    }
}

fn caps(list: &str) -> CapabilitySet {
    CapabilitySet::parse_list(list).unwrap()
}

/// A focused `[terminal]` window with the given title and capabilities.
fn terminal(title: &str, list: &str) -> LabelSpec {
    LabelSpec::new(&capsule("terminal"), caps(list), title, true, &appearance())
}

#[test]
fn every_capability_but_display_window_has_a_short_distinct_badge() {
    assert_eq!(badge_tag(Capability::DisplayWindow), None);
    let tags: Vec<&str> = Capability::ALL.iter().filter_map(|&c| badge_tag(c)).collect();
    assert_eq!(tags.len(), Capability::ALL.len() - 1);
    for (i, tag) in tags.iter().enumerate() {
        assert!(!tags[..i].contains(tag), "{tag} repeats");
        assert!(
            tag.len() <= 10 && tag.bytes().all(|b| b.is_ascii_lowercase()),
            "{tag}"
        );
    }
    assert_eq!(badge_tag(Capability::NetConnect), Some("net"));
    assert_eq!(badge_tag(Capability::DisplayLayer), Some("layer"));
}

#[test]
fn host_windows_show_the_sanitised_title_in_config_colours() {
    let a = appearance();
    let spec = LabelSpec::new(
        &ClientIdentity::default(),
        CapabilitySet::all(),
        "simple\u{200b}-shm\u{202e}\u{7}",
        true,
        &a,
    );
    assert_eq!(spec.prefix, None);
    assert_eq!(spec.text(), "simple-shm");
    assert!(spec.badges.is_empty(), "host windows carry no badges");
    assert_eq!(spec.colors.border, a.focused_border);
    assert_eq!(spec.colors.title, shade(a.focused_border, 0.7));
    let unfocused = LabelSpec::new(&ClientIdentity::default(), CapabilitySet::empty(), "x", false, &a);
    assert_eq!(unfocused.colors.border, a.unfocused_border);
    assert_eq!(unfocused.colors.accent, None);
}

#[test]
fn capsule_windows_are_prefixed_coloured_and_badged() {
    let spec = terminal("foot", "display.window, net.connect, display.capture");
    assert_eq!(spec.text(), label_text("terminal", "foot"));
    assert_eq!(spec.text(), "[terminal] foot");
    assert_eq!(
        spec.badges,
        ["capture", "net"],
        "in capability order, display.window left out"
    );
    assert_eq!(spec.colors.title, GREEN);
    assert_eq!(spec.colors.border, GREEN);
    assert!(spec.colors.accent.is_some());

    let unfocused = LabelSpec::new(
        &capsule("terminal"),
        caps("display.window"),
        "",
        false,
        &appearance(),
    );
    assert_eq!(unfocused.text(), label_text("terminal", ""));
    assert_eq!(unfocused.colors.title, shade(GREEN, 0.6));
    assert_eq!(unfocused.colors.accent, None);
    assert!(unfocused.badges.is_empty());
}

#[test]
fn a_title_cannot_forge_a_prefix() {
    let forged = terminal("\u{202e}] [bank", "display.window");
    assert_eq!(forged.prefix.as_deref(), Some("[terminal]"));
    assert_eq!(forged.text(), label_text("terminal", "\u{202e}] [bank"));
    assert!(forged.text().starts_with("[terminal] "));
    let named = LabelSpec::new(
        &capsule("te\u{200b}rm\ninal"),
        caps("display.window"),
        "",
        true,
        &appearance(),
    );
    assert_eq!(named.prefix.as_deref(), Some("[term inal]"));
}

fn assert_disjoint_in_order(l: &LabelLayout, width: i32) {
    let runs: Vec<&Run> = l.prefix.iter().chain(&l.title).chain(&l.badges).collect();
    for pair in runs.windows(2) {
        assert!(pair[0].x + pair[0].width <= pair[1].x, "{runs:?}");
    }
    let last = runs.last().unwrap();
    assert!(
        runs[0].x >= 0 && last.x + last.width <= width,
        "{runs:?} in {width}"
    );
}

#[test]
fn wide_bars_show_everything() {
    let spec = terminal("foot", "display.window, display.layer, net.connect");
    let l = layout(&spec, 600, 24, 1.0);
    assert_eq!(l.prefix.as_ref().unwrap().text, "[terminal]");
    assert_eq!(l.title.as_ref().unwrap().text, "foot");
    let tags: Vec<&str> = l.badges.iter().map(|b| b.text.as_str()).collect();
    assert_eq!(tags, ["layer", "net"]);
    assert_disjoint_in_order(&l, 600);
    assert_eq!(l.prefix.as_ref().unwrap().x, 8);
}

#[test]
fn narrow_bars_collapse_badges_then_cut_the_title_then_the_prefix() {
    let spec = terminal(
        "a rather long window title that will not fit",
        "display.window, display.layer, display.capture, net.connect",
    );
    let full = layout(&spec, 2000, 24, 1.0);
    assert_eq!(full.badges.len(), 3);
    assert!(!full.title.as_ref().unwrap().text.ends_with('…'));

    // Badges give way first, to a `+N`, keeping room for `[terminal] …`.
    let prefix_w = full.prefix.as_ref().unwrap().width;
    let l = layout(&spec, prefix_w + 80, 24, 1.0);
    assert_disjoint_in_order(&l, prefix_w + 80);
    assert_eq!(l.prefix.as_ref().unwrap().text, "[terminal]");
    let tags: Vec<&str> = l.badges.iter().map(|b| b.text.as_str()).collect();
    assert_eq!(tags, ["+3"], "{l:?}");
    assert!(l.title.as_ref().unwrap().text.ends_with('…'), "{l:?}");

    // A 250 px window: the title keeps some room before badges collapse.
    let spec_250 = terminal(
        "simple-shm",
        "display.window, display.layer, display.capture, net.connect",
    );
    let l = layout(&spec_250, 250 - 4, 24, 1.0);
    assert_disjoint_in_order(&l, 246);
    assert!(l.title.as_ref().unwrap().text.chars().count() >= 4, "{l:?}");
    assert!(l.badges.last().unwrap().text.starts_with('+'), "{l:?}");

    // Medium: the title is cut, some badges shown.
    let l = layout(&spec, 360, 24, 1.0);
    assert_disjoint_in_order(&l, 360);
    assert!(l.title.as_ref().unwrap().text.ends_with('…'));
    assert!(!l.badges.is_empty());

    // Too narrow even for the prefix: it is cut, never the other way round.
    let l = layout(&spec, 50, 24, 1.0);
    assert_eq!(l.title, None);
    assert!(l.prefix.as_ref().unwrap().text.starts_with('['));
    assert!(l.badges.is_empty());
    assert_disjoint_in_order(&l, 50);
}

#[test]
fn layout_scales_with_the_output() {
    let spec = terminal("foot", "display.window, net.connect");
    let one = layout(&spec, 400, 24, 1.0);
    let two = layout(&spec, 800, 48, 2.0);
    let w1 = one.title.as_ref().unwrap().x + one.title.as_ref().unwrap().width;
    let w2 = two.title.as_ref().unwrap().x + two.title.as_ref().unwrap().width;
    assert!((w2 - 2 * w1).abs() <= 3, "{w1} at 1x, {w2} at 2x");
}

fn count(p: &Pixmap, x0: i32, x1: i32, f: impl Fn(Color) -> bool) -> usize {
    (x0..x1)
        .flat_map(|x| (0..p.height).map(move |y| (x, y)))
        .filter(|&(x, y)| f(p.get(x, y)))
        .count()
}

fn whiteish(c: Color) -> bool {
    c.r > 220 && c.g > 220 && c.b > 220
}

#[test]
fn pixels_have_text_badges_and_the_accent_line() {
    let spec = terminal("foot", "display.window, net.connect");
    let p = rasterize(&spec, 400, 24, 1.0);
    let l = layout(&spec, 400, 24, 1.0);
    let text_end = l.title.as_ref().unwrap().x + l.title.as_ref().unwrap().width;
    assert!(count(&p, 0, text_end + 1, whiteish) > 60);
    assert_eq!(
        count(&p, text_end + 2, 400, whiteish),
        0,
        "no white after the text"
    );
    let badge = &l.badges[0];
    assert!(count(&p, badge.x, badge.x + badge.width, |c| c == BADGE_FILL) > 40);
    assert!(count(&p, badge.x, badge.x + badge.width, |c| c == BADGE_TEXT) > 5);
    // The title colour dominates; the bottom row is the accent line.
    assert!(count(&p, 0, 400, |c| c == GREEN) > 400 * 24 / 2);
    assert!((0..400).all(|x| Some(p.get(x, 23)) == spec.colors.accent));
    // Unfocused: no accent line.
    let mut unfocused = spec.clone();
    unfocused.colors = frame_colors(&capsule("terminal"), false, &appearance());
    let p = rasterize(&unfocused, 400, 24, 1.0);
    assert_eq!(p.get(399, 23), shade(GREEN, 0.6));
}

/// Labels are drawn from an Xrgb8888 texture (their alpha is dropped), so every pixel must be
/// opaque: text, badges and the accent line included, at any scale.
#[test]
fn labels_are_opaque_everywhere() {
    for scale in [1.0, 1.5, 2.0] {
        let spec = terminal("Some title: ÅÄ", "display.window, display.capture, net.connect");
        let p = rasterize(&spec, (400.0 * scale) as i32, (24.0 * scale) as i32, scale);
        let translucent = p.bgra.chunks(4).filter(|px| px[3] != 0xff).count();
        assert_eq!(
            translucent, 0,
            "{translucent} translucent label pixels at scale {scale}"
        );
    }
}

#[test]
fn forged_titles_render_like_clean_ones() {
    let a = appearance();
    let host = |t: &str| LabelSpec::new(&ClientIdentity::default(), CapabilitySet::empty(), t, true, &a);
    let clean = rasterize(&host("simple-shm"), 300, 24, 1.0);
    let forged = rasterize(
        &host("\u{2066}simple\u{200d}-\u{feff}shm\u{202e}\u{e0041}"),
        300,
        24,
        1.0,
    );
    assert!(clean == forged);
    assert!(clean != rasterize(&host("simple-shm!"), 300, 24, 1.0));
}

#[test]
fn x_ray_tags_name_the_owner_in_its_colour() {
    assert_eq!(xray_text(&ClientIdentity::default()), "[host]");
    assert_eq!(xray_text(&capsule("terminal")), "[terminal]");
    let tag = rasterize_tag("[terminal]", GREEN, 1.0);
    assert_eq!(tag.height, XRAY_TAG_HEIGHT);
    assert!(tag.width > text::width("[terminal]", TEXT_PX));
    // The owner's colour at the edges, white text inside.
    assert_eq!(tag.get(0, 0), GREEN);
    assert_eq!(tag.get(tag.width - 1, tag.height - 1), GREEN);
    let white = (0..tag.height)
        .flat_map(|y| (0..tag.width).map(move |x| (x, y)))
        .filter(|&(x, y)| tag.get(x, y) == TEXT_COLOR)
        .count();
    assert!(white > 30, "{white} white pixels");
    let at_2x = rasterize_tag("[terminal]", GREEN, 2.0);
    assert_eq!(at_2x.height, 2 * XRAY_TAG_HEIGHT);
}
