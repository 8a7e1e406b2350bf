//! Example-based tests for `Layout`.

use super::*;

const OUTPUT: Rect = Rect::new(0, 0, 1000, 800);
/// The output minus a 30 px panel at the top.
const USABLE: Rect = Rect::new(0, 30, 1000, 770);

fn layout() -> Layout<&'static str> {
    Layout::with_areas(OUTPUT, USABLE)
}

fn ids(l: &Layout<&'static str>) -> Vec<&'static str> {
    l.windows_bottom_to_top().into_iter().map(|(id, _)| id).collect()
}

#[test]
fn first_window_is_centred_then_cascade() {
    let mut l = layout();
    assert_eq!(
        l.add_window("a", Size::new(400, 300)),
        Rect::new(300, 265, 400, 300)
    );
    assert_eq!(
        l.add_window("b", Size::new(200, 100)),
        Rect::new(332, 297, 200, 100)
    );
    assert_eq!(
        l.add_window("c", Size::new(200, 100)),
        Rect::new(364, 329, 200, 100)
    );
    assert_eq!(l.focused(), Some(&"c"));
    assert_eq!(ids(&l), ["a", "b", "c"]);
}

#[test]
fn centre_placement_puts_every_window_in_the_middle() {
    let mut l = layout();
    l.set_placement(Placement::Centre);
    assert_eq!(
        l.add_window("a", Size::new(400, 300)),
        Rect::new(300, 265, 400, 300)
    );
    assert_eq!(
        l.add_window("b", Size::new(400, 300)),
        Rect::new(300, 265, 400, 300),
        "over a, not cascaded"
    );
    assert_eq!(
        l.add_window("c", Size::new(200, 100)),
        Rect::new(400, 365, 200, 100)
    );
    assert_eq!(ids(&l), ["a", "b", "c"]);
    assert_eq!("centre".parse(), Ok(Placement::Centre));
    assert_eq!("center".parse(), Ok(Placement::Centre));
    assert_eq!("cascade".parse(), Ok(Placement::Cascade));
    assert!("tiled".parse::<Placement>().unwrap_err().contains("\"tiled\""));
}

#[test]
fn cascade_then_centre_then_top_left() {
    let mut l = layout();
    let size = Size::new(900, 400);
    assert_eq!(l.add_window("a", size).loc(), Point::new(50, 215));
    assert_eq!(l.add_window("b", size).loc(), Point::new(82, 247));
    // 114 + 900 would pass the right edge and "a" already sits at the centre: top-left.
    assert_eq!(l.add_window("c", size).loc(), Point::new(0, 30));
    assert_eq!(l.add_window("d", size).loc(), Point::new(32, 62));
}

#[test]
fn a_window_that_cannot_cascade_is_centred_when_the_centre_is_free() {
    let mut l = layout();
    let small = l.add_window("a", Size::new(200, 100));
    let big = Size::new(900, 500);
    // Cascading from "a" would leave the usable area; the centre is free.
    let b = l.add_window("b", big);
    assert_eq!(b, Rect::from_loc_size(Point::new(0, 0), big).centered_in(USABLE));
    assert_ne!(b.loc(), small.loc());
}

#[test]
fn new_windows_are_clamped_to_the_usable_area() {
    let mut l = layout();
    assert_eq!(l.add_window("a", Size::new(5000, 5000)), USABLE);
    assert_eq!(l.add_window("b", Size::new(0, -3)).size(), Size::new(1, 1));
}

#[test]
fn a_workspace_whose_windows_are_all_minimized_centres_again() {
    let mut l = layout();
    l.add_window("a", Size::new(100, 100));
    l.minimize(&"a");
    assert_eq!(
        l.add_window("b", Size::new(100, 100)),
        Rect::new(450, 365, 100, 100)
    );
}

#[test]
fn focus_passes_down_the_stack_on_close() {
    let mut l = layout();
    for id in ["a", "b", "c"] {
        l.add_window(id, Size::new(100, 100));
    }
    assert!(l.remove_window(&"c"));
    assert_eq!(l.focused(), Some(&"b"));
    assert!(l.focus(&"a"));
    assert_eq!(ids(&l), ["b", "a"]);
    l.remove_window(&"a");
    assert_eq!(l.focused(), Some(&"b"));
    l.remove_window(&"b");
    assert_eq!(l.focused(), None);
    assert!(!l.remove_window(&"b"));
}

#[test]
fn workspaces_are_separate() {
    let mut l = layout();
    l.add_window("a", Size::new(100, 100));
    l.switch_workspace(2);
    assert_eq!(l.active_workspace(), 2);
    assert_eq!(l.focused(), None);
    assert!(l.windows_bottom_to_top().is_empty());
    // The first window on workspace 2 is centred, not cascaded from "a".
    assert_eq!(
        l.add_window("b", Size::new(100, 100)),
        Rect::new(450, 365, 100, 100)
    );
    l.switch_workspace(1);
    assert_eq!(l.focused(), Some(&"a"));
    l.switch_workspace(0);
    l.switch_workspace(10);
    assert_eq!(l.active_workspace(), 1);
    assert_eq!(l.window_info(&"b").map(|i| i.workspace), Some(2));
}

#[test]
fn moving_a_window_away_passes_focus() {
    let mut l = layout();
    l.add_window("a", Size::new(100, 100));
    l.add_window("b", Size::new(100, 100));
    assert!(l.move_to_workspace(&"b", 3));
    assert_eq!(l.focused(), Some(&"a"));
    assert_eq!(ids(&l), ["a"]);
    assert!(!l.move_to_workspace(&"b", 10));
    assert!(!l.move_to_workspace(&"zz", 2));
    l.switch_workspace(3);
    assert_eq!(l.focused(), Some(&"b"));
    let all: Vec<_> = l
        .all_windows()
        .into_iter()
        .map(|(id, s)| (id, s.workspace))
        .collect();
    assert_eq!(all, [("a", 1), ("b", 3)]);
}

#[test]
fn focusing_a_window_elsewhere_shows_its_workspace() {
    let mut l = layout();
    l.add_window("a", Size::new(100, 100));
    l.switch_workspace(5);
    assert!(l.focus(&"a"));
    assert_eq!(l.active_workspace(), 1);
    assert_eq!(l.focused(), Some(&"a"));
    assert!(!l.focus(&"nope"));
}

#[test]
fn maximize_and_fullscreen_restore_the_floating_rect() {
    let mut l = layout();
    let r = l.add_window("a", Size::new(300, 200));
    assert_eq!(l.toggle_maximize(&"a"), Some(USABLE));
    assert_eq!(l.toggle_fullscreen(&"a"), Some(OUTPUT));
    let info = l.window_info(&"a").expect("known");
    assert!(info.maximized && info.fullscreen && !info.minimized);
    assert_eq!(info.floating_rect, r);
    assert_eq!(l.set_fullscreen(&"a", false), Some(USABLE));
    assert_eq!(l.set_maximized(&"a", false), Some(r));
    assert_eq!(l.toggle_maximize(&"nope"), None);
}

#[test]
fn maximized_windows_follow_the_usable_area() {
    let mut l = layout();
    l.add_window("a", Size::new(300, 200));
    l.toggle_maximize(&"a");
    let usable = Rect::new(0, 0, 1000, 760);
    l.set_areas(OUTPUT, usable);
    assert_eq!(l.rect(&"a"), Some(usable));
    assert_eq!(l.windows_bottom_to_top(), [("a", usable)]);
}

#[test]
fn windows_stranded_by_an_area_change_come_back() {
    let mut l = layout();
    l.add_window("a", Size::new(100, 100));
    l.move_to(&"a", Point::new(900, 700));
    let small = Rect::new(0, 0, 640, 480);
    l.set_areas(small, small);
    assert_eq!(l.rect(&"a"), Some(Rect::new(540, 380, 100, 100)));
}

#[test]
fn minimize_hides_and_focus_restores() {
    let mut l = layout();
    l.add_window("a", Size::new(100, 100));
    l.add_window("b", Size::new(100, 100));
    assert!(l.minimize(&"b"));
    assert_eq!(l.focused(), Some(&"a"));
    assert_eq!(ids(&l), ["a"]);
    assert!(l.window_info(&"b").is_some_and(|i| i.minimized));
    l.focus(&"b");
    assert_eq!(ids(&l), ["a", "b"]);
    assert_eq!(l.focused(), Some(&"b"));
}

#[test]
fn window_under_and_click_pick_the_topmost() {
    let mut l = layout();
    l.add_window("a", Size::new(400, 300)); // 300,265
    l.add_window("b", Size::new(400, 300)); // 332,297
    let overlap = Point::new(350, 300);
    assert_eq!(l.window_under(overlap), Some(&"b"));
    assert_eq!(l.window_under(Point::new(310, 270)), Some(&"a"));
    assert_eq!(l.window_under(Point::new(5, 5)), None);
    assert_eq!(l.click(Point::new(310, 270)), Some("a"));
    assert_eq!(l.window_under(overlap), Some(&"a"));
    assert_eq!(l.click(Point::new(5, 5)), None);
    assert_eq!(l.focused(), Some(&"a"), "clicking the desktop keeps focus");
}

#[test]
fn move_and_resize_make_windows_floating() {
    let mut l = layout();
    l.add_window("a", Size::new(400, 300));
    l.toggle_maximize(&"a");
    assert_eq!(
        l.move_to(&"a", Point::new(10, 40)),
        Some(Rect::new(10, 40, 400, 300))
    );
    assert!(l.window_info(&"a").is_some_and(|i| !i.maximized));
    assert_eq!(
        l.resize_to(&"a", Rect::new(1, 2, 0, 50)),
        Some(Rect::new(1, 2, 1, 50))
    );
    assert_eq!(l.move_to(&"zz", Point::new(0, 0)), None);
}

#[test]
fn alt_tab_toggles_and_walks_in_mru_order() {
    let mut l = layout();
    for id in ["a", "b", "c", "d"] {
        l.add_window(id, Size::new(100, 100));
    }
    // One press and release: back to the previous window.
    assert_eq!(l.cycle_step(true), Some("c"));
    l.finish_cycle();
    assert_eq!(ids(&l), ["a", "b", "d", "c"]);
    assert_eq!(l.cycle_step(true), Some("d"));
    l.finish_cycle();
    // Holding Alt: walk down the MRU list d, c, b, a and wrap.
    assert_eq!(l.cycle_step(true), Some("c"));
    assert_eq!(l.cycle_step(true), Some("b"));
    assert_eq!(
        ids(&l),
        ["a", "c", "d", "b"],
        "the walk lifts only the chosen window"
    );
    assert_eq!(l.cycle_step(true), Some("a"));
    assert_eq!(l.cycle_step(true), Some("d"));
    assert_eq!(l.cycle_step(false), Some("a"));
    l.finish_cycle();
    assert_eq!(ids(&l), ["b", "c", "d", "a"]);
}

#[test]
fn alt_tab_restores_minimized_windows_only_while_on_them() {
    let mut l = layout();
    for id in ["a", "b", "m"] {
        l.add_window(id, Size::new(100, 100));
    }
    l.minimize(&"m");
    assert_eq!(l.focused(), Some(&"b"));
    assert_eq!(l.cycle_step(true), Some("a"));
    assert_eq!(l.cycle_step(true), Some("m"));
    assert!(l.window_info(&"m").is_some_and(|i| !i.minimized));
    assert_eq!(l.focused(), Some(&"m"));
    assert_eq!(l.cycle_step(true), Some("b"));
    assert!(
        l.window_info(&"m").is_some_and(|i| i.minimized),
        "walked past: minimized again"
    );
    assert_eq!(l.cycle_step(false), Some("m"));
    l.finish_cycle();
    assert_eq!(l.cycle_step(true), Some("b"));
    assert!(
        l.window_info(&"m").is_some_and(|i| !i.minimized),
        "chosen before: stays restored"
    );
}

#[test]
fn alt_tab_with_only_minimized_windows_restores_one() {
    let mut l = layout();
    l.add_window("a", Size::new(100, 100));
    l.minimize(&"a");
    assert_eq!(l.focused(), None);
    assert_eq!(l.cycle_step(true), Some("a"));
    assert_eq!(l.focused(), Some(&"a"));
    assert_eq!(l.cycle_step(true), Some("a"));
    assert_eq!(l.focused(), Some(&"a"));
    l.switch_workspace(2);
    assert_eq!(l.cycle_step(true), None);
}

#[test]
fn other_changes_end_the_walk() {
    let mut l = layout();
    for id in ["a", "b", "c"] {
        l.add_window(id, Size::new(100, 100));
    }
    assert_eq!(l.cycle_step(true), Some("b"));
    l.focus(&"b");
    // A new walk starts from b: previous window is c.
    assert_eq!(l.cycle_step(true), Some("c"));
}

/// The primary output of `layout()` and a second one to its right, without a panel.
fn two_screens() -> Layout<&'static str> {
    let mut l = layout();
    l.set_screens(vec![
        Screen::new(OUTPUT, USABLE),
        Screen::new(Rect::new(1000, 0, 800, 600), Rect::new(1000, 0, 800, 600)),
    ]);
    l
}

#[test]
fn maximize_and_fullscreen_fill_the_output_the_window_is_on() {
    let mut l = two_screens();
    l.add_window("a", Size::new(300, 200));
    assert_eq!(l.screen_of(&"a"), Some(0));
    assert_eq!(l.move_to_screen(&"a", 1), Some(Rect::new(1350, 285, 300, 200)));
    assert_eq!(l.screen_of(&"a"), Some(1));
    assert_eq!(l.toggle_maximize(&"a"), Some(Rect::new(1000, 0, 800, 600)));
    // Still maximized when carried back: now over the primary's usable area.
    assert_eq!(l.move_to_screen(&"a", 0), Some(USABLE));
    assert_eq!(l.toggle_fullscreen(&"a"), Some(OUTPUT));
    assert_eq!(l.move_to_screen(&"a", 2), None);
    assert_eq!(l.move_to_screen(&"nope", 1), None);
}

#[test]
fn new_windows_go_to_the_focused_windows_output() {
    let mut l = two_screens();
    l.add_window("a", Size::new(300, 200));
    l.move_to_screen(&"a", 1);
    let b = l.add_window("b", Size::new(100, 100));
    assert_eq!(
        b,
        Rect::new(1382, 317, 100, 100),
        "cascaded from a, on the second output"
    );
    l.minimize(&"a");
    l.minimize(&"b");
    let c = l.add_window("c", Size::new(100, 100));
    assert_eq!(
        l.screen_of(&"c"),
        Some(0),
        "no focused window: the primary output ({c:?})"
    );
}

#[test]
fn windows_on_an_output_that_goes_away_come_back_to_the_primary() {
    let mut l = two_screens();
    l.add_window("a", Size::new(300, 200));
    l.move_to_screen(&"a", 1);
    l.set_areas(OUTPUT, USABLE);
    let r = l.rect(&"a").unwrap();
    assert!(USABLE.contains_rect(r), "{r:?} is not back inside {USABLE:?}");
    assert_eq!(l.screens(), [Screen::new(OUTPUT, USABLE)]);
}
