//! The hostile-client suite (issue 4): `examples/hostile_client.rs`, a real Wayland client run
//! as a capsule holding only `display.window`, tries one attack per test. Every attempt must be
//! refused (its own report, the screen, `windows`), the compositor must record the refusal in
//! its log with the capsule's name where the refusal is the compositor's, and a bystander
//! (weston-simple-shm, a host client) must still be served afterwards. Positive controls show
//! the same request working for a capsule granted the capability, so each test can fail.

mod common;

use std::{process::Command, sync::OnceLock, time::Duration};

use common::{
    client::{
        input::{click, focused_title, spot, window},
        Client,
    },
    wait_for, Image, Session, BACKGROUND,
};
use exo_shell::{
    capsule::derived_color,
    control::{CapsuleInfo, CapsuleLogs, Request, WindowInfo},
};

const TIMEOUT: Duration = Duration::from_secs(20);
const TITLE: i32 = 24;
const RED: [u8; 3] = [0xff, 0, 0];
const GREEN: [u8; 3] = [0, 0xff, 0];

/// `target/<profile>/examples/hostile_client`, built once per test run: `cargo test --test
/// hostile` builds only this test binary, and a stale example would test old code.
fn attacker() -> String {
    static PATH: OnceLock<String> = OnceLock::new();
    PATH.get_or_init(|| {
        let exe = std::env::current_exe().expect("current_exe");
        let profile_dir = exe
            .parent()
            .and_then(|deps| deps.parent())
            .expect("the test binary lives in target/<profile>/deps");
        let target_dir = profile_dir.parent().expect("target/<profile>");
        let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") | None => "dev",
            Some(other) => other,
        };
        let out = Command::new(env!("CARGO"))
            .args([
                "build",
                "--quiet",
                "-p",
                "nexquelium",
                "--example",
                "hostile_client",
            ])
            .args(["--profile", profile, "--target-dir"])
            .arg(target_dir)
            .arg("--manifest-path")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
            .output()
            .expect("run cargo to build examples/hostile_client.rs");
        let path = profile_dir.join("examples/hostile_client");
        assert!(
            out.status.success() && path.is_file(),
            "cannot build {}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        path.display().to_string()
    })
    .clone()
}

/// Run the hostile client as capsule `name` holding `caps`, with the attack's arguments.
fn run(s: &Session, name: &str, caps: &[&str], args: &[&str]) {
    let mut argv = vec![attacker()];
    argv.extend(args.iter().map(|a| a.to_string()));
    s.request(&Request::Run {
        name: Some(name.into()),
        capabilities: caps.iter().map(|c| c.to_string()).collect(),
        argv,
    })
    .unwrap_or_else(|e| panic!("run capsule {name}: {e}"));
}

fn logs(s: &Session, name: &str) -> String {
    let value = s
        .request(&Request::Logs {
            name: name.into(),
            tail_bytes: None,
        })
        .expect("logs request");
    serde_json::from_value::<CapsuleLogs>(value)
        .expect("logs reply")
        .text
}

/// Wait for the first line of capsule `name`'s log that starts with `prefix`.
fn wait_line(s: &Session, name: &str, prefix: &str) -> String {
    let deadline = std::time::Instant::now() + TIMEOUT;
    loop {
        let log = logs(s, name);
        if let Some(line) = log.lines().find(|l| l.starts_with(prefix)) {
            return line.to_string();
        }
        assert!(!log.contains("ERROR"), "capsule {name} failed:\n{log}");
        assert!(
            std::time::Instant::now() < deadline,
            "no {prefix:?} line from capsule {name} within {TIMEOUT:?}; its log:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The outcome line of `attack`, asserted to be `verdict` (REFUSED or SUCCEEDED).
fn outcome(s: &Session, name: &str, attack: &str, verdict: &str) -> String {
    let line = wait_line(s, name, &format!("ATTACK {attack}"));
    assert!(line.contains(&format!(": {verdict} (")), "capsule {name}: {line}");
    line
}

fn refused(s: &Session, name: &str, attack: &str) -> String {
    outcome(s, name, attack, "REFUSED")
}

/// Wait for a compositor log line naming `capsule` and containing `needle`.
fn assert_recorded(s: &Session, capsule: &str, needle: &str) {
    let field = format!("capsule={capsule}");
    let hit = |log: &str| log.lines().any(|l| l.contains(needle) && l.contains(&field));
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !hit(&s.compositor_log()) {
        assert!(
            std::time::Instant::now() < deadline,
            "the compositor logged no {needle:?} for capsule {capsule}; its log:\n{}",
            s.compositor_log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Stop capsule `name` and wait until its process is gone.
fn stop(s: &Session, name: &str) {
    s.request(&Request::CapsuleStop { name: name.into() })
        .expect("capsule_stop");
    wait_for(TIMEOUT, &format!("capsule {name} to stop"), || {
        let list = s.request(&Request::Capsules).expect("capsules");
        let capsules: Vec<CapsuleInfo> = serde_json::from_value(list).expect("capsule list");
        let c = capsules.iter().find(|c| c.name == name).expect("the capsule");
        (c.status.state() != "running").then_some(())
    });
}

/// The window of capsule `name` titled `title`, once mapped.
fn capsule_window(s: &Session, name: &str, title: &str) -> WindowInfo {
    wait_for(TIMEOUT, &format!("{name}'s window {title:?}"), || {
        s.windows()
            .into_iter()
            .find(|w| w.capsule.as_deref() == Some(name) && w.title == title)
    })
}

/// A session with its log kept, no autostarted capsules and weston-simple-shm mapped as the
/// bystander.
fn session() -> (Session, WindowInfo) {
    let mut s = Session::start_logged(&["--no-autostart"]);
    s.spawn("weston-simple-shm", &[]);
    let w = window(&s, "simple-shm");
    (s, w)
}

/// The compositor answers, the bystander is listed and still animates.
fn assert_bystander_served(s: &mut Session, bystander: &WindowInfo) {
    s.assert_alive();
    let w = s
        .windows()
        .into_iter()
        .find(|w| w.id == bystander.id)
        .unwrap_or_else(|| panic!("the bystander vanished: {:?}", s.windows()));
    let first = s.screenshot();
    wait_for(TIMEOUT, "the bystander to keep animating", || {
        let next = s.screenshot();
        (next.count_changed(&first, w.x, w.y, w.width, w.height) > 100).then_some(())
    });
}

/// Click a spot of `target` that no other window covers.
fn click_on(s: &Session, target: &WindowInfo) {
    let others: Vec<WindowInfo> = s.windows().into_iter().filter(|w| w.id != target.id).collect();
    let (x, y) = spot(target, &others);
    s.pointer_move(x, y);
    click(s);
}

fn count(img: &Image, (x, y, w, h): (i32, i32, i32, i32), pred: impl Fn([u8; 3]) -> bool) -> usize {
    let mut n = 0;
    for yy in y.max(0)..(y + h).min(img.height as i32) {
        for xx in x.max(0)..(x + w).min(img.width as i32) {
            let p = img.pixel(xx as u32, yy as u32);
            n += usize::from(pred([p[0], p[1], p[2]]));
        }
    }
    n
}

fn title_bar(w: &WindowInfo) -> (i32, i32, i32, i32) {
    (w.x, w.y - TITLE, w.width, TITLE)
}

fn whiteish(p: [u8; 3]) -> bool {
    p.iter().all(|&c| c > 220)
}

// ---------------------------------------------------------------------------------------------
// Privileged globals: hidden, and refused even when bound by their real name.

/// The global names of `interfaces`, as a host client with every capability sees them.
fn global_names(s: &Session, interfaces: &[&str]) -> Vec<(String, u32)> {
    let host = Client::connect(&s.socket_path());
    let list = host.globals.contents().clone_list();
    interfaces
        .iter()
        .filter_map(|i| {
            list.iter()
                .find(|g| g.interface == *i)
                .map(|g| (i.to_string(), g.name))
        })
        .collect()
}

/// A capsule with only `display.window` sees none of `interfaces` and is refused binding each by
/// its real global name (one connection per capsule, and the first refusal ends it, so the test
/// hands it the one name that could work); the refusal is logged with the capsule's name. A
/// capsule also holding `capability` sees and binds them.
fn bind_refused_then_granted(interfaces: &[&str], capability: &str) {
    let (mut s, bystander) = session();
    let present = global_names(&s, interfaces);
    assert!(
        !present.is_empty(),
        "the compositor offers none of {interfaces:?} even to a host client with every capability"
    );
    for (i, (interface, name)) in present.iter().enumerate() {
        let (intruder, granted) = (format!("intruder-{i}"), format!("granted-{i}"));
        run(
            &s,
            &intruder,
            &["display.window"],
            &["bind", interface, "1", &name.to_string()],
        );
        let step = wait_line(&s, &intruder, "STEP bind");
        assert!(step.ends_with("advertised=no"), "{interface} is visible: {step}");
        // wl_display.error(invalid_object): libwayland reports it as EINVAL, wayland-rs by name.
        let line = refused(&s, &intruder, &format!("bind {interface}"));
        assert!(
            line.contains("invalid_object") || line.contains("Invalid binding"),
            "{line}"
        );
        assert_recorded(&s, &intruder, &format!("Invalid binding of {interface}"));

        run(
            &s,
            &granted,
            &["display.window", capability],
            &["bind", interface, "1"],
        );
        let step = wait_line(&s, &granted, "STEP bind");
        assert!(
            !step.ends_with("advertised=no"),
            "{interface} hidden despite {capability}"
        );
        outcome(&s, &granted, &format!("bind {interface}"), "SUCCEEDED");
    }
    assert_bystander_served(&mut s, &bystander);
}

#[test]
fn layer_shell_is_refused_without_display_layer() {
    bind_refused_then_granted(&["zwlr_layer_shell_v1"], "display.layer");
}

#[test]
fn screencopy_is_refused_without_display_capture() {
    bind_refused_then_granted(&["zwlr_screencopy_manager_v1"], "display.capture");
}

#[test]
fn data_control_is_refused_without_clipboard_manage() {
    bind_refused_then_granted(
        &["zwlr_data_control_manager_v1", "ext_data_control_manager_v1"],
        "clipboard.manage",
    );
}

#[test]
fn virtual_keyboard_is_refused_without_input_inject() {
    bind_refused_then_granted(&["zwp_virtual_keyboard_manager_v1"], "input.inject");
}

#[test]
fn foreign_toplevels_are_refused_without_display_toplevels() {
    bind_refused_then_granted(
        &["zwlr_foreign_toplevel_manager_v1", "ext_foreign_toplevel_list_v1"],
        "display.toplevels",
    );
}

#[test]
fn session_lock_is_refused_without_display_lock() {
    bind_refused_then_granted(&["ext_session_lock_manager_v1"], "display.lock");
}

// ---------------------------------------------------------------------------------------------
// Sockets around the compositor.

#[test]
fn a_capsule_reaches_neither_the_public_nor_the_control_socket() {
    let (mut s, bystander) = session();
    let public = s.socket_path().display().to_string();
    let control = s.control.display().to_string();
    run(&s, "prober", &["display.window"], &["connect", &public, &control]);
    // The control socket checks its peer; as root, capsules cannot even enter the 0700 runtime
    // directory. As an ordinary user a capsule shares the uid and reaches the public socket
    // (docs/capsules.md says so), so that half is asserted only when running as root.
    refused(&s, "prober", &format!("connect {control}:"));
    if rustix::process::getuid().is_root() {
        let line = refused(&s, "prober", &format!("connect {public}:"));
        assert!(line.contains("Permission denied"), "{line}");
    }
    assert_bystander_served(&mut s, &bystander);
}

// ---------------------------------------------------------------------------------------------
// Labels: forged titles, covering, fullscreen.

/// Bidi overrides and isolates, zero-width characters, a BOM and a BEL around a `[terminal]`.
const FORGED: &str =
    "\u{202e}]lanimret[\u{202c}\u{200b}\u{2060} [terminal]\u{feff} root\u{200d} shell\u{7}\u{2066}";
/// What is left of it after sanitising.
const CLEAN: &str = "]lanimret[ [terminal] root shell";

/// The pixels of the title bar of capsule `name`'s window titled `title`.
fn label_pixels(s: &Session, name: &str, title: &str) -> Vec<[u8; 4]> {
    run(s, name, &["display.window"], &["title", title]);
    wait_line(s, name, "STEP mapped");
    let w = capsule_window(s, name, title);
    assert!(w.focused, "{w:?}");
    let img = s.screenshot();
    let (x, y, width, h) = title_bar(&w);
    let pixels = (y..y + h)
        .flat_map(|yy| (x..x + width).map(move |xx| (xx, yy)))
        .map(|(xx, yy)| img.pixel(xx as u32, yy as u32))
        .collect();
    stop(s, name);
    pixels
}

#[test]
fn a_forged_terminal_title_is_drawn_as_its_sanitised_text() {
    let (mut s, bystander) = session();
    let forged = label_pixels(&s, "evil", FORGED);
    assert_recorded(&s, "evil", "refused hidden characters in a window title");
    let clean = label_pixels(&s, "evil", CLEAN);
    assert!(forged == clean, "the forged title is drawn unlike {CLEAN:?}");
    // The comparison tells labels apart: one character changed changes the pixels.
    let other = label_pixels(&s, "evil", &CLEAN.replacen(']', "}", 1));
    assert!(other != clean, "a different title draws the same label");
    assert_bystander_served(&mut s, &bystander);
}

#[test]
fn neither_subsurfaces_nor_popups_cover_any_title_bar() {
    let (mut s, bystander) = session();
    run(&s, "coverer", &["display.window"], &["cover"]);
    wait_line(&s, "coverer", "STEP mapped");
    let me = capsule_window(&s, "coverer", "cover");
    let by = s.windows().into_iter().find(|w| w.id == bystander.id).unwrap();
    // The red popup spans 2600 px around the window and everything above its content, so it
    // reaches over both title bars; the green subsurface starts 60 px above the content.
    assert!(
        by.y < me.y,
        "the bystander's title bar must be above {me:?}: {by:?}"
    );
    let img = wait_for(TIMEOUT, "the popup on screen", || {
        let img = s.screenshot();
        (count(&img, (0, 0, 1280, me.y), |p| p == RED) > 20_000).then_some(img)
    });
    for (who, w) in [("the attacker", &me), ("the bystander", &by)] {
        let bar = title_bar(w);
        assert_eq!(
            count(&img, bar, |p| p == RED),
            0,
            "popup pixels on {who}'s title bar"
        );
        assert_eq!(
            count(&img, bar, |p| p == GREEN),
            0,
            "subsurface pixels on {who}'s title bar"
        );
        assert!(count(&img, bar, whiteish) > 30, "{who}'s label text is gone");
    }
    let green_total = count(&img, (0, 0, 1280, 720), |p| p == GREEN);
    let green_inside = count(&img, (me.x, me.y, me.width, me.height), |p| p == GREEN);
    assert_eq!(
        green_inside,
        me.width as usize * 60,
        "subsurface inside the content"
    );
    assert_eq!(green_total, green_inside, "subsurface pixels outside the content");
    stop(&s, "coverer");
    assert_bystander_served(&mut s, &bystander);
}

/// The screen while capsule `name` (holding `caps`) is fullscreen with its fake desktop.
fn fullscreen_shot(s: &Session, name: &str, caps: &[&str], bystander: &WindowInfo) -> Image {
    run(s, name, caps, &["fullscreen"]);
    let line = wait_line(s, name, "ATTACK fullscreen");
    wait_line(s, name, "STEP mapped");
    wait_for(TIMEOUT, "the window to be fullscreen", || {
        s.windows()
            .into_iter()
            .find(|w| w.capsule.as_deref() == Some(name) && w.fullscreen)
    });
    assert!(line.contains("SUCCEEDED"), "{line}");
    // Once the fake desktop is drawn, nothing of the bystander is left in sight.
    let b = bystander;
    wait_for(TIMEOUT, "the fake desktop over the bystander", || {
        let img = s.screenshot();
        (img.count_not(BACKGROUND, b.x, b.y, b.width, b.height) == 0).then_some(img)
    })
}

#[test]
fn fullscreen_without_display_fullscreen_keeps_a_label_strip() {
    let (mut s, bystander) = session();
    let img = fullscreen_shot(&s, "faker", &["display.window"], &bystander);
    let c = derived_color("faker");
    let colour = [c.r, c.g, c.b];
    let near = |p: [u8; 3]| p.iter().zip(colour).all(|(&a, b)| a.abs_diff(b) <= 2);
    let strip = count(&img, (0, 0, 1280, 720), near);
    assert!(
        strip >= 1000,
        "no label strip in faker's colour {colour:?} ({strip} pixels)"
    );
    let text = count(&img, (64, 0, 1280 - 64, 720), whiteish);
    assert!(text > 30, "the label strip has no text");
    stop(&s, "faker");
    assert_bystander_served(&mut s, &bystander);
}

#[test]
fn fullscreen_with_display_fullscreen_owns_every_pixel() {
    let (mut s, bystander) = session();
    let img = fullscreen_shot(
        &s,
        "player",
        &["display.window", "display.fullscreen"],
        &bystander,
    );
    // Everything is the client's paint, except the cursor at the pointer's start (0, 0).
    let foreign = count(&img, (0, 0, 1280, 720), |p| p != BACKGROUND);
    let cursor = count(&img, (0, 0, 64, 64), |p| p != BACKGROUND);
    assert_eq!(
        foreign, cursor,
        "pixels that are not the client's on a granted fullscreen"
    );
    stop(&s, "player");
    assert_bystander_served(&mut s, &bystander);
}

// ---------------------------------------------------------------------------------------------
// Clipboard, focus and keys.

const SECRET: &str = "hunter2-vault-secret";

/// `reader` runs `clipboard-read`: it maps (taking focus), loses focus to the `vault` capsule
/// that owns the selection, and gets focus back by a click; returns its outcome line.
fn read_clipboard(s: &Session, reader: &str, caps: &[&str], start_vault: bool) -> String {
    run(s, reader, caps, &["clipboard-read"]);
    wait_line(s, reader, "STEP focused");
    if start_vault {
        run(s, "vault", &["display.window"], &["clipboard-own", SECRET]);
        wait_line(s, "vault", "VICTIM clipboard-own: selection set");
    } else {
        click_on(s, &capsule_window(s, "vault", "clipboard owner"));
    }
    wait_line(s, reader, "STEP unfocused");
    click_on(s, &capsule_window(s, reader, "clipboard reader"));
    wait_line(s, reader, "STEP refocused");
    wait_line(s, reader, "ATTACK clipboard-read")
}

#[test]
fn another_capsules_clipboard_is_not_readable_without_the_gesture() {
    let (mut s, bystander) = session();
    let line = read_clipboard(&s, "snoop", &["display.window"], true);
    assert!(line.contains("REFUSED"), "{line}");
    assert!(!logs(&s, "snoop").contains(SECRET), "the secret leaked: {line}");
    stop(&s, "snoop");
    // Positive control: clipboard.manage reads other capsules' selections.
    let line = read_clipboard(&s, "manager", &["display.window", "clipboard.manage"], false);
    assert!(line.contains("SUCCEEDED") && line.contains(SECRET), "{line}");
    assert_bystander_served(&mut s, &bystander);
}

#[test]
fn self_made_activation_tokens_do_not_steal_focus() {
    let (mut s, bystander) = session();
    run(&s, "thief", &["display.window"], &["activation"]);
    wait_line(&s, "thief", "STEP focused second");
    click_on(&s, &bystander);
    wait_line(&s, "thief", "STEP done");
    refused(&s, "thief", "activation no-serial");
    refused(&s, "thief", "activation stale-serial");
    assert_eq!(focused_title(&s), bystander.title);
    assert_recorded(&s, "thief", "activation token");
    stop(&s, "thief");
    // Positive control: the focused capsule's token, made with its current serial, works.
    run(&s, "owner", &["display.window"], &["activation-focused"]);
    outcome(&s, "owner", "activation with-current-serial", "SUCCEEDED");
    let focused = s
        .windows()
        .into_iter()
        .find(|w| w.focused)
        .expect("a focused window");
    assert_eq!(
        (focused.capsule.as_deref(), focused.title.as_str()),
        (Some("owner"), "first")
    );
    assert_bystander_served(&mut s, &bystander);
}

#[test]
fn keys_never_reach_an_unfocused_capsule() {
    let (mut s, bystander) = session();
    run(&s, "logger", &["display.window"], &["keys"]);
    wait_line(&s, "logger", "STEP focused");
    s.type_text("ab");
    click_on(&s, &bystander);
    let line = wait_line(&s, "logger", "STEP unfocused");
    let focused_keys: usize = line.rsplit('=').next().unwrap().parse().unwrap();
    assert!(
        focused_keys >= 4,
        "the focused capsule got only {focused_keys} key events"
    );
    s.type_text("secret");
    click_on(&s, &capsule_window(&s, "logger", "keys"));
    refused(&s, "logger", "keys");
    assert_bystander_served(&mut s, &bystander);
}

// ---------------------------------------------------------------------------------------------
// Per-capsule limits.

/// `attack` over the limit is refused and logged; `modest` under it succeeds.
fn limit(attack: &[&str], modest: &[&str]) -> (Session, WindowInfo) {
    let (s, bystander) = session();
    run(&s, "hog", &["display.window"], attack);
    refused(&s, "hog", attack[0]);
    assert_recorded(&s, "hog", "client disconnected after a protocol error");
    run(&s, "modest", &["display.window"], modest);
    outcome(&s, "modest", modest[0], "SUCCEEDED");
    (s, bystander)
}

#[test]
fn the_surface_limit_stops_a_flood() {
    let (mut s, bystander) = limit(&["surfaces", "1000"], &["surfaces", "100"]);
    assert_bystander_served(&mut s, &bystander);
}

#[test]
fn the_buffer_size_limit_refuses_a_huge_surface() {
    let (mut s, bystander) = limit(&["buffer", "9000", "100"], &["buffer", "1000", "100"]);
    assert_bystander_served(&mut s, &bystander);
}

#[test]
fn the_window_limit_stops_a_hoarder() {
    let (mut s, bystander) = limit(&["windows", "300"], &["windows", "3"]);
    // The hog's windows went with its connection; the modest capsule's are all there.
    wait_for(TIMEOUT, "the modest capsule's 3 windows alone", || {
        let windows = s.windows();
        let of = |name| {
            windows
                .iter()
                .filter(|w| w.capsule.as_deref() == Some(name))
                .count()
        };
        (of("hog") == 0 && of("modest") == 3).then_some(())
    });
    assert_bystander_served(&mut s, &bystander);
}

#[test]
fn the_shared_memory_limit_stops_a_hoarder() {
    let (mut s, bystander) = limit(&["shm", "4294967296"], &["shm", "16777216"]);
    assert_bystander_served(&mut s, &bystander);
}
