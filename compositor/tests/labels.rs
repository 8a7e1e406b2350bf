//! Trusted labels (DESIGN.md §4): every window's title bar carries compositor-drawn text in a
//! real font, and nothing a client draws — an oversized buffer, a subsurface at negative
//! coordinates, a popup — lands on a title bar. Host windows keep the config's colours; capsule
//! windows are in the capsule's colour with a `[name]` prefix and capability badges (their
//! layout corner cases are unit-tested in `src/labels/tests.rs`).

mod common;

use std::{path::Path, process::Command, time::Duration};

use common::{
    client::{input::window, Client, Ev},
    require_program, wait_for, Image, Session,
};
use exo_shell::{
    capsule::derived_color,
    control::{Request, WindowInfo},
};
use nexquelium::labels::BADGE_FILL;
use wayland_client::{
    protocol::{wl_pointer, wl_shm::Format},
    Proxy,
};
use wayland_protocols::xdg::shell::client::xdg_positioner::{Anchor, Gravity};

/// Title bar height and border width of the default config, in logical pixels.
const TITLE: i32 = 24;
const BORDER: i32 = 2;
/// The default focused border #4a90d9 and unfocused #555555, each × 0.7 for the title bar.
const FOCUSED_TITLE: [u8; 3] = [52, 101, 152];
const UNFOCUSED_TITLE: [u8; 3] = [59, 59, 59];

const RED: u32 = 0xff_ff_00_00;
const GREEN: u32 = 0xff_00_ff_00;
const BLUE: u32 = 0xff_20_40_c0;
const MAGENTA: u32 = 0xff_ff_00_ff;

/// A rectangle in screenshot pixels: x, y, width, height.
type Area = (i32, i32, i32, i32);

/// The title bar above a window's content (`windows` reports the content), at `scale`.
fn title_bar(w: &WindowInfo, scale: f64) -> Area {
    let s = |v: i32| (v as f64 * scale).round() as i32;
    let (x, y) = (s(w.x), s(w.y - TITLE));
    (x, y, s(w.x + w.width) - x, s(w.y) - y)
}

fn content(w: &WindowInfo) -> Area {
    (w.x, w.y, w.width, w.height)
}

fn count(img: &Image, (x, y, w, h): Area, pred: impl Fn([u8; 3]) -> bool) -> usize {
    let mut n = 0;
    for yy in y.max(0)..(y + h).min(img.height as i32) {
        for xx in x.max(0)..(x + w).min(img.width as i32) {
            let p = img.pixel(xx as u32, yy as u32);
            if pred([p[0], p[1], p[2]]) {
                n += 1;
            }
        }
    }
    n
}

fn rgb(argb: u32) -> [u8; 3] {
    [(argb >> 16) as u8, (argb >> 8) as u8, argb as u8]
}

fn whiteish(p: [u8; 3]) -> bool {
    p.iter().all(|&c| c > 220)
}

fn near(a: [u8; 3], b: [u8; 3]) -> bool {
    a.iter().zip(b).all(|(&x, y)| x.abs_diff(y) <= 2)
}

/// The most frequent colour in an area.
fn dominant(img: &Image, (x, y, w, h): Area) -> [u8; 3] {
    let mut counts = std::collections::HashMap::new();
    for yy in y..y + h {
        for xx in x..x + w {
            let p = img.pixel(xx as u32, yy as u32);
            *counts.entry([p[0], p[1], p[2]]).or_insert(0usize) += 1;
        }
    }
    counts
        .into_iter()
        .max_by_key(|&(_, n)| n)
        .expect("non-empty area")
        .0
}

/// Rows of the area that contain a white-ish pixel: the height of the drawn text.
fn text_rows(img: &Image, (x, y, w, h): Area) -> usize {
    (y..y + h)
        .filter(|&yy| count(img, (x, yy, w, 1), whiteish) > 0)
        .count()
}

/// Write a screenshot to `path` (the harness's `screenshot` hides the file).
fn screenshot_to(s: &Session, path: &Path) -> Image {
    s.request(&Request::Screenshot {
        path: path.display().to_string(),
        output: None,
    })
    .expect("screenshot request");
    Image::load(path)
}

/// Preprocessings for light text on a dark bar (see PLATFORM.md, "Reading screenshots in
/// tests"): tesseract reads best after `-negate -threshold`, sometimes only without.
const LIGHT_ON_DARK: [&[&str]; 3] = [
    &[
        "-scale",
        "400%",
        "-colorspace",
        "Gray",
        "-negate",
        "-threshold",
        "60%",
    ],
    &["-scale", "400%", "-colorspace", "Gray", "-threshold", "60%"],
    &["-scale", "400%"],
];
/// For dark text on light badges.
const DARK_ON_LIGHT: [&[&str]; 2] = [&["-scale", "400%", "-colorspace", "Gray"], &["-scale", "600%"]];

/// What tesseract reads in an area of the screen over a few preprocessings, lower-cased and
/// joined.
fn ocr(s: &Session, (x, y, w, h): Area, variants: &[&[&str]]) -> String {
    require_program("tesseract");
    require_program("convert");
    let shot = s.runtime.join("ocr-shot.png");
    screenshot_to(s, &shot);
    let crop = format!("{w}x{h}+{x}+{y}");
    let mut read = String::new();
    for (i, args) in variants.iter().enumerate() {
        let out = s.runtime.join(format!("ocr-{i}.png"));
        let status = Command::new("convert")
            .arg(&shot)
            .args(["-crop", &crop, "+repage"])
            .args(*args)
            .arg(&out)
            .status()
            .expect("run convert");
        assert!(status.success(), "convert {args:?} failed");
        let text = Command::new("tesseract")
            .arg(&out)
            .args(["stdout", "--psm", "7"])
            .output()
            .expect("run tesseract");
        assert!(text.status.success(), "tesseract failed: {text:?}");
        read.push_str(&String::from_utf8_lossy(&text.stdout).to_lowercase());
        read.push('\n');
    }
    read
}

/// The smallest area holding every pixel of `rgb` inside `area`.
fn bounding_box(img: &Image, (x, y, w, h): Area, rgb: [u8; 3]) -> Option<Area> {
    let hits: Vec<(i32, i32)> = (y..y + h)
        .flat_map(|yy| (x..x + w).map(move |xx| (xx, yy)))
        .filter(|&(xx, yy)| img.pixel(xx as u32, yy as u32)[..3] == rgb)
        .collect();
    let (x0, x1) = (hits.iter().map(|p| p.0).min()?, hits.iter().map(|p| p.0).max()?);
    let (y0, y1) = (hits.iter().map(|p| p.1).min()?, hits.iter().map(|p| p.1).max()?);
    Some((x0, y0, x1 - x0 + 1, y1 - y0 + 1))
}

#[test]
fn simple_shm_title_bar_has_white_text_on_the_focus_colour() {
    let mut s = Session::start(&[]);
    s.spawn("weston-simple-shm", &[]);
    let w = window(&s, "simple-shm");
    assert!(w.focused);
    let img = s.screenshot();
    let bar = title_bar(&w, 1.0);
    assert_eq!(dominant(&img, bar), FOCUSED_TITLE, "title bar colour of {w:?}");
    let white = count(&img, bar, whiteish);
    assert!(
        white > 60,
        "only {white} white pixels of text in the title bar {bar:?}"
    );
    // About 15 px text: caps and the descender of `p`, not a blurred or tiny blob.
    let rows = text_rows(&img, bar);
    assert!((9..=18).contains(&rows), "text spans {rows} rows");
    // The text is on the left, after the padding; the right half of a 250 px bar is empty.
    assert_eq!(count(&img, (bar.0, bar.1, 6, bar.3), whiteish), 0);
    assert_eq!(count(&img, (bar.0 + 150, bar.1, bar.2 - 150, bar.3), whiteish), 0);
    s.assert_alive();
}

#[test]
fn ocr_reads_the_title() {
    let mut s = Session::start(&[]);
    s.spawn("weston-simple-shm", &[]);
    let w = window(&s, "simple-shm");
    let read = ocr(&s, title_bar(&w, 1.0), &LIGHT_ON_DARK);
    assert!(
        read.contains("simple") && read.contains("shm"),
        "OCR of the title bar read {read:?}"
    );
}

#[test]
fn labels_follow_the_output_scale() {
    let mut s = Session::start(&["--scale", "2"]);
    s.spawn("weston-simple-shm", &[]);
    let w = window(&s, "simple-shm");
    let img = s.screenshot();
    let bar = title_bar(&w, 2.0);
    assert_eq!(bar.3, 48);
    assert_eq!(dominant(&img, bar), FOCUSED_TITLE);
    // Rendered at 2x, not scaled up from 1x: twice the rows and crisp white pixels.
    let rows = text_rows(&img, bar);
    assert!((20..=36).contains(&rows), "text spans {rows} rows at scale 2");
    let white = count(&img, bar, whiteish);
    assert!(white > 250, "only {white} white pixels at scale 2");
}

#[test]
fn a_title_set_after_the_window_maps_is_drawn_on_its_label() {
    let s = Session::start(&[]);
    let mut c = Client::connect(&s.socket_path());
    let win = c.map_toplevel("i", 400, 200, Format::Argb8888, BLUE);
    let w = window(&s, "i");
    let before = count(&s.screenshot(), title_bar(&w, 1.0), whiteish);
    // The label is drawn from a cache; the new title must reach it without any other change.
    win.toplevel.set_title("WWWW MMMM WWWW MMMM".into());
    c.roundtrip();
    window(&s, "WWWW MMMM WWWW MMMM");
    let after = wait_for(Duration::from_secs(5), "the new title on the label", || {
        let n = count(&s.screenshot(), title_bar(&w, 1.0), whiteish);
        (n > before * 4 + 100).then_some(n)
    });
    assert!(after > before, "{after} white pixels now, {before} before");
}

#[test]
fn a_reloaded_focus_colour_is_drawn_on_an_unchanged_label() {
    let dir = std::env::temp_dir().join(format!("nexq-labels-{}-reload", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("config.toml");
    std::fs::write(&config, "[appearance]\nfocused_border = \"#4a90d9\"\n").unwrap();
    let s = Session::start(&["--config", config.to_str().unwrap()]);
    let mut c = Client::connect(&s.socket_path());
    c.map_toplevel("steady", 300, 200, Format::Argb8888, BLUE);
    let w = window(&s, "steady");
    assert_eq!(dominant(&s.screenshot(), title_bar(&w, 1.0)), FOCUSED_TITLE);
    // Nothing about the window changes: only the config, which is reloaded on a write.
    std::fs::write(&config, "[appearance]\nfocused_border = \"#c80000\"\n").unwrap();
    wait_for(
        Duration::from_secs(5),
        "the new focus colour on the label",
        || {
            let [r, g, b] = dominant(&s.screenshot(), title_bar(&w, 1.0));
            (r > 120 && g < 10 && b < 10).then_some(())
        },
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unfocused_windows_keep_their_label_in_the_unfocused_colour() {
    let s = Session::start(&[]);
    let mut c = Client::connect(&s.socket_path());
    c.map_toplevel("first window", 300, 200, Format::Argb8888, BLUE);
    c.map_toplevel("second window", 300, 200, Format::Argb8888, BLUE);
    let (first, second) = (window(&s, "first window"), window(&s, "second window"));
    assert!(second.focused && !first.focused);
    let img = s.screenshot();
    // The second window cascades below the first's title bar, which stays whole.
    assert!(second.y - TITLE - BORDER >= first.y - BORDER);
    assert!(near(dominant(&img, title_bar(&first, 1.0)), UNFOCUSED_TITLE));
    assert_eq!(dominant(&img, title_bar(&second, 1.0)), FOCUSED_TITLE);
    assert!(count(&img, title_bar(&first, 1.0), whiteish) > 60);
    assert!(count(&img, title_bar(&second, 1.0), whiteish) > 60);
}

/// Everything outside the content rectangle is free of `color`, the title bar keeps the focus
/// colour, and `inside` pixels of the content show `color`.
fn assert_confined(img: &Image, w: &WindowInfo, color: u32, inside: usize) {
    let is = |p: [u8; 3]| p == rgb(color);
    let total = count(img, (0, 0, img.width as i32, img.height as i32), is);
    let in_content = count(img, content(w), is);
    assert_eq!(in_content, inside, "client colour inside the content of {w:?}");
    assert_eq!(total, in_content, "client colour outside the content of {w:?}");
    assert_eq!(count(img, title_bar(w, 1.0), is), 0);
    assert_eq!(dominant(img, title_bar(w, 1.0)), FOCUSED_TITLE);
    assert!(
        count(img, title_bar(w, 1.0), whiteish) > 30,
        "the label text is still there"
    );
}

#[test]
fn an_oversized_buffer_cannot_paint_over_the_title_bar() {
    let s = Session::start(&[]);
    let mut c = Client::connect(&s.socket_path());
    let win = c.create_toplevel("oversized");
    c.initial_configure(&win);
    // The window geometry starts 60 px into a buffer that is also 40 px wider and 50 px taller:
    // the buffer reaches over the title bar, the borders and beyond the frame.
    win.xdg_surface.set_window_geometry(0, 60, 200, 150);
    let buffer = c.shm_buffer(240, 260, Format::Argb8888, RED);
    c.attach_commit(&win.surface, Some(&buffer));
    c.roundtrip();
    let w = window(&s, "oversized");
    assert_eq!((w.width, w.height), (200, 150));
    assert_confined(&s.screenshot(), &w, RED, 200 * 150);
}

#[test]
fn a_window_geometry_moved_after_mapping_moves_what_the_content_shows() {
    let s = Session::start(&[]);
    let mut c = Client::connect(&s.socket_path());
    let win = c.create_toplevel("moved geometry");
    c.initial_configure(&win);
    // A 200x200 blue buffer with a green band over its top 50 rows; the geometry starts at the
    // top, so the band is on the content.
    let _band = c.subsurface(&win.surface, (0, 0), (200, 50), GREEN);
    win.xdg_surface.set_window_geometry(0, 0, 200, 150);
    let buffer = c.shm_buffer(200, 200, Format::Argb8888, BLUE);
    c.attach_commit(&win.surface, Some(&buffer));
    c.roundtrip();
    let w = window(&s, "moved geometry");
    wait_for(Duration::from_secs(5), "the band on the content", || {
        let img = s.screenshot();
        (count(&img, content(&w), |p| p == rgb(GREEN)) == 200 * 50).then_some(())
    });

    // The geometry moves 50 px down, past the band, in a commit with no new buffer: the
    // content now shows the blue below the band, and the band is above it, cropped away.
    win.xdg_surface.set_window_geometry(0, 50, 200, 150);
    win.surface.commit();
    c.roundtrip();
    let w = window(&s, "moved geometry");
    assert_eq!((w.width, w.height), (200, 150));
    let img = wait_for(Duration::from_secs(5), "the band off the screen", || {
        let img = s.screenshot();
        let everywhere = (0, 0, img.width as i32, img.height as i32);
        (count(&img, everywhere, |p| p == rgb(GREEN)) == 0).then_some(img)
    });
    assert_eq!(count(&img, content(&w), |p| p == rgb(BLUE)), 200 * 150);
}

#[test]
fn a_subsurface_above_the_content_is_cropped_below_the_title_bar() {
    let s = Session::start(&[]);
    let mut c = Client::connect(&s.socket_path());
    let win = c.create_toplevel("with subsurface");
    c.initial_configure(&win);
    // 240x60 at (-20, -40): 40 rows over the title bar, 20 rows on the content.
    let _sub = c.subsurface(&win.surface, (-20, -40), (240, 60), GREEN);
    win.xdg_surface.set_window_geometry(0, 0, 200, 150);
    let buffer = c.shm_buffer(200, 150, Format::Argb8888, BLUE);
    c.attach_commit(&win.surface, Some(&buffer));
    c.roundtrip();
    let w = window(&s, "with subsurface");
    assert_eq!((w.width, w.height), (200, 150));
    let img = wait_for(Duration::from_secs(5), "the subsurface on screen", || {
        let img = s.screenshot();
        (count(&img, content(&w), |p| p == rgb(GREEN)) > 0).then_some(img)
    });
    assert_confined(&img, &w, GREEN, 200 * 20);
}

#[test]
fn popups_cover_neither_their_own_nor_a_lower_windows_title_bar() {
    let s = Session::start(&[]);
    let mut c = Client::connect(&s.socket_path());
    c.seat_devices();
    c.map_toplevel("lower", 300, 200, Format::Argb8888, BLUE);
    let upper = c.map_toplevel("upper", 300, 200, Format::Argb8888, BLUE);
    let (lower, up) = (window(&s, "lower"), window(&s, "upper"));
    // Cascaded: the upper frame starts below the lower title bar.
    let (dx, dy) = (up.x - lower.x, up.y - lower.y);
    assert!(dy >= TITLE + 2 * BORDER + 2 && dx > 0, "{lower:?} {up:?}");
    // A popup 200 px wide from 50 px above the lower frame to 10 px into the upper title bar.
    let top = -(dy + TITLE + BORDER + 50);
    let height = -TITLE + 10 - top;
    let positioner = c.positioner((200, height), (0, 0, 1, 1), Anchor::TopLeft, Gravity::BottomRight);
    positioner.set_offset(10 - dx, top);
    let (popup, placed) = c.map_popup(&upper.xdg_surface, &positioner, Format::Argb8888, MAGENTA);
    assert_eq!((placed.x, placed.y), (10 - dx, top), "popup placed as asked");

    let img = wait_for(Duration::from_secs(5), "the popup on screen", || {
        let img = s.screenshot();
        (count(&img, (0, 0, img.width as i32, img.height as i32), |p| {
            p == rgb(MAGENTA)
        }) > 0)
            .then_some(img)
    });
    let is = |p: [u8; 3]| p == rgb(MAGENTA);
    let popup_x = up.x + 10 - dx;
    // Drawn above the lower frame and on the lower window's content ...
    let above = (popup_x, lower.y - TITLE - BORDER - 50, 200, 50);
    assert_eq!(count(&img, above, is), 200 * 50);
    let lower_content = (popup_x, lower.y, 200, up.y - TITLE - BORDER - lower.y);
    assert_eq!(count(&img, lower_content, is), 200 * lower_content.3 as usize);
    // ... but on neither title bar, both of which keep their colour and text.
    for (w, colour) in [(&lower, UNFOCUSED_TITLE), (&up, FOCUSED_TITLE)] {
        let bar = title_bar(w, 1.0);
        assert_eq!(count(&img, bar, is), 0, "popup pixels on the title bar of {w:?}");
        assert!(near(dominant(&img, bar), colour));
        assert!(count(&img, bar, whiteish) > 30);
    }

    // Input agrees with the picture: the popup gets the pointer only where it is drawn. Pass
    // over both title bars under it, then onto it 25 px below its top edge.
    let mark = c.mark();
    let x = (popup_x + 100) as f64;
    s.pointer_move(x, (lower.y - TITLE + 10) as f64);
    s.pointer_move(x, (up.y - TITLE + 5) as f64);
    s.pointer_move(x, (lower.y - TITLE - BORDER - 25) as f64);
    let id = popup.surface.id();
    let entered_y = c.wait_event(mark, "wl_pointer.enter on the popup", |e| match &e.kind {
        Ev::Pointer(wl_pointer::Event::Enter {
            surface, surface_y, ..
        }) if surface.id() == id => Some(*surface_y),
        _ => None,
    });
    assert_eq!(entered_y, 25.0, "the popup got the pointer on a title bar");
}

#[test]
fn forged_titles_are_drawn_sanitised() {
    let s = Session::start(&[]);
    let mut c = Client::connect(&s.socket_path());
    // Bidi isolates and overrides, zero-width joiners, a BOM, a BEL and an invisible tag
    // character: none of them may show (DejaVu has no glyph for most, so they would draw boxes).
    let forged = "\u{2066}Quartz\u{200d} Led\u{feff}ger\u{7}\u{202e} 42\u{e0041}";
    let win = c.map_toplevel(forged, 300, 150, Format::Argb8888, BLUE);
    let w = window(&s, forged);
    let bar = title_bar(&w, 1.0);
    let crop = |img: &Image| -> Vec<[u8; 4]> {
        (bar.1..bar.1 + bar.3)
            .flat_map(|y| (bar.0..bar.0 + bar.2).map(move |x| (x, y)))
            .map(|(x, y)| img.pixel(x as u32, y as u32))
            .collect()
    };
    let forged_bar = crop(&s.screenshot());

    let mut retitle = |title: &str| {
        win.toplevel.set_title(title.into());
        c.roundtrip();
        window(&s, title);
        crop(&s.screenshot())
    };
    let clean_bar = retitle("Quartz Ledger 42");
    assert!(
        forged_bar == clean_bar,
        "the forged title is drawn differently from its sanitised form"
    );
    // The comparison can tell titles apart: one more character changes the label.
    let other_bar = retitle("Quartz Ledger 42!");
    assert!(other_bar != clean_bar, "a different title draws the same label");
}

#[test]
fn capsule_windows_show_their_name_colour_and_badges() {
    let s = Session::start(&[]);
    s.request(&Request::Run {
        name: Some("ledger".into()),
        capabilities: ["display.window", "net.connect", "display.capture"]
            .map(String::from)
            .to_vec(),
        argv: vec!["weston-simple-shm".into()],
    })
    .expect("run a capsule");
    let w = wait_for(Duration::from_secs(15), "the capsule's window", || {
        s.windows()
            .into_iter()
            .find(|w| w.capsule.as_deref() == Some("ledger"))
    });
    let c = derived_color("ledger");
    let colour = [c.r, c.g, c.b];
    let bar = title_bar(&w, 1.0);
    let img = s.screenshot();
    // Focused: title bar and border in the capsule's colour, a light line under the title.
    assert_eq!(dominant(&img, bar), colour, "title bar of {w:?}");
    let left_border = img.pixel((w.x - 1) as u32, (w.y + 20) as u32);
    assert_eq!(left_border[..3], colour);
    let line = dominant(&img, (bar.0, bar.1 + bar.3 - 1, bar.2, 1));
    assert!(
        line.iter().zip(colour).all(|(&l, c)| l > c),
        "{line:?} is not lighter than {colour:?}"
    );
    // Badges for `display.capture` and `net.connect`: dark text on amber after the text.
    let amber_rgb = [BADGE_FILL.r, BADGE_FILL.g, BADGE_FILL.b];
    let amber = count(&img, bar, |p| p == amber_rgb);
    assert!(amber > 300, "{amber} badge pixels");
    assert!(count(&img, bar, whiteish) > 100);
    let read = ocr(&s, bar, &LIGHT_ON_DARK);
    assert!(
        read.contains("[ledger]") && read.contains("simple"),
        "OCR read {read:?}"
    );
    let badges = bounding_box(&img, bar, amber_rgb).expect("badges");
    assert!(
        badges.0 > bar.0 + bar.2 / 2,
        "badges after the text: {badges:?} in {bar:?}"
    );
    let read = ocr(&s, badges, &DARK_ON_LIGHT);
    assert!(read.contains("capture"), "OCR of the badges read {read:?}");

    // Unfocused (a host window on top): darker, without the line.
    let mut c2 = Client::connect(&s.socket_path());
    c2.map_toplevel("host", 200, 100, Format::Argb8888, BLUE);
    assert!(window(&s, "host").focused);
    let img = s.screenshot();
    let dark = colour.map(|v| (f32::from(v) * 0.6).round() as u8);
    assert!(
        near(dominant(&img, bar), dark),
        "{:?} is not {dark:?}",
        dominant(&img, bar)
    );
    assert_eq!(count(&img, bar, |p| p == colour), 0);

    // A live grant shows on the label at once: its badges are laid out again (in this
    // 250-pixel bar three badges do not all fit, so the amber area changes shape, not just
    // grows; see `narrow_bars_collapse_badges_then_cut_the_title_then_the_prefix`).
    let bar_pixels = |img: &Image| -> Vec<[u8; 4]> {
        (bar.1..bar.1 + bar.3)
            .flat_map(|y| (bar.0..bar.0 + bar.2).map(move |x| (x, y)))
            .map(|(x, y)| img.pixel(x as u32, y as u32))
            .collect()
    };
    let before = bar_pixels(&img);
    s.request(&Request::Grant {
        name: "ledger".into(),
        capability: "sentry.observe".into(),
    })
    .expect("grant");
    let badge_pixels = |px: &[[u8; 4]]| px.iter().filter(|p| p[..3] == amber_rgb).count();
    let after = wait_for(Duration::from_secs(5), "the label to show the grant", || {
        let after = bar_pixels(&s.screenshot());
        (after != before).then_some(after)
    });
    assert_ne!(
        badge_pixels(&after),
        badge_pixels(&before),
        "the bar changed but not its badges"
    );
}

/// The frame behind a window stops reporting itself opaque over opaque content (a cheaper frame
/// for Smithay's damage tracker, `src/labels/backdrop.rs`): a lower window redrawn under the
/// upper window's border must still be covered by that border, and translucent content must
/// still show the frame colour behind it rather than the window below.
#[test]
fn borders_and_backdrops_cover_a_lower_window_that_redraws() {
    const FOCUSED_BORDER: [u8; 3] = [0x4a, 0x90, 0xd9];
    let s = Session::start(&[]);
    let mut c = Client::connect(&s.socket_path());
    let lower = c.map_toplevel("lower", 300, 200, Format::Xrgb8888, BLUE);
    c.map_toplevel("upper", 300, 200, Format::Xrgb8888, MAGENTA);
    c.map_toplevel("see-through", 120, 80, Format::Argb8888, 0);
    let (l, u, t) = (
        window(&s, "lower"),
        window(&s, "upper"),
        window(&s, "see-through"),
    );
    // The lower window now draws green, all of it damaged.
    let green = c.shm_buffer(300, 200, Format::Xrgb8888, GREEN);
    c.attach_commit(&lower.surface, Some(&green));
    c.roundtrip();
    let img = wait_for(Duration::from_secs(5), "the lower window's green frame", || {
        let img = s.screenshot();
        (count(&img, content(&l), |p| p == rgb(GREEN)) > 0).then_some(img)
    });
    // The upper window's left border runs over the lower window's content.
    assert!(u.x - BORDER > l.x && u.x < l.x + l.width, "{l:?} {u:?}");
    let rows = (u.y.max(l.y), (l.y + l.height).min(u.y + u.height));
    let left_border = (u.x - BORDER, rows.0, BORDER, rows.1 - rows.0);
    assert!(left_border.3 > 20, "{left_border:?}");
    let unfocused = [0x55, 0x55, 0x55];
    let border_pixels = count(&img, left_border, |p| p == unfocused || p == FOCUSED_BORDER);
    assert_eq!(
        border_pixels,
        (left_border.2 * left_border.3) as usize,
        "{left_border:?}"
    );
    assert_eq!(count(&img, left_border, |p| p == rgb(GREEN)), 0);
    // The transparent window shows its frame colour (focused: the border colour) over the lower
    // and upper windows, whatever they draw.
    let inner = (t.x + 10, t.y + 10, t.width - 20, t.height - 20);
    assert_eq!(dominant(&img, inner), FOCUSED_BORDER, "{t:?}");
    assert_eq!(count(&img, inner, |p| p == rgb(GREEN) || p == rgb(MAGENTA)), 0);
}
