//! Property tests: random operation sequences keep the layout's invariants.

use proptest::prelude::*;

use super::*;

const OUTPUT: Rect = Rect::new(0, 0, 1280, 800);

/// One layout operation; window operands index the current windows.
#[derive(Debug, Clone)]
enum Op {
    Add(Size),
    Remove(usize),
    Focus(usize),
    Click(Point),
    Cycle(bool),
    FinishCycle,
    Switch(u8),
    MoveToWorkspace(usize, u8),
    ToggleMaximize(usize),
    ToggleFullscreen(usize),
    SetMaximized(usize, bool),
    Minimize(usize),
    MoveTo(usize, Point),
    ResizeTo(usize, Rect),
    /// A top panel of this height appears (0 = none).
    Panel(i32),
}

fn point() -> impl Strategy<Value = Point> {
    (-100..1400i32, -100..900i32).prop_map(|(x, y)| Point::new(x, y))
}

fn op() -> impl Strategy<Value = Op> {
    let idx = 0..64usize;
    prop_oneof![
        4 => (1..1600i32, 1..1000i32).prop_map(|(w, h)| Op::Add(Size::new(w, h))),
        2 => idx.clone().prop_map(Op::Remove),
        2 => idx.clone().prop_map(Op::Focus),
        2 => point().prop_map(Op::Click),
        2 => any::<bool>().prop_map(Op::Cycle),
        1 => Just(Op::FinishCycle),
        2 => (0..=10u8).prop_map(Op::Switch),
        1 => (idx.clone(), 0..=10u8).prop_map(|(i, n)| Op::MoveToWorkspace(i, n)),
        1 => idx.clone().prop_map(Op::ToggleMaximize),
        1 => idx.clone().prop_map(Op::ToggleFullscreen),
        1 => (idx.clone(), any::<bool>()).prop_map(|(i, on)| Op::SetMaximized(i, on)),
        2 => idx.clone().prop_map(Op::Minimize),
        1 => (idx.clone(), point()).prop_map(|(i, p)| Op::MoveTo(i, p)),
        1 => (idx, point(), 1..900i32, 1..900i32).prop_map(|(i, p, w, h)| Op::ResizeTo(i, Rect::new(p.x, p.y, w, h))),
        1 => (0..100i32).prop_map(Op::Panel),
    ]
}

/// The id at `i` (modulo the window count), if there are windows.
fn pick(l: &Layout<u32>, i: usize) -> Option<u32> {
    let all = l.all_windows();
    (!all.is_empty()).then(|| all[i % all.len()].0)
}

/// Applies `op`, checking the postconditions particular to it.
fn apply(l: &mut Layout<u32>, next_id: &mut u32, op: &Op) -> Result<(), TestCaseError> {
    // The window focus should pass to if the focused one goes away.
    let below_focus = l.windows_bottom_to_top().iter().rev().nth(1).map(|(id, _)| *id);
    let focused = l.focused().copied();
    match *op {
        Op::Add(size) => {
            *next_id += 1;
            let rect = l.add_window(*next_id, size);
            let usable = l.usable_area();
            if size.w <= usable.w && size.h <= usable.h {
                prop_assert!(usable.contains_rect(rect), "{rect:?} outside {usable:?}");
                prop_assert_eq!(rect.size(), size);
            }
            prop_assert_eq!(l.focused(), Some(&*next_id));
        }
        Op::Remove(i) => {
            if let Some(id) = pick(l, i) {
                prop_assert!(l.remove_window(&id));
                if focused == Some(id) {
                    prop_assert_eq!(l.focused().copied(), below_focus);
                }
            }
        }
        Op::Minimize(i) => {
            if let Some(id) = pick(l, i) {
                prop_assert!(l.minimize(&id));
                if focused == Some(id) {
                    prop_assert_eq!(l.focused().copied(), below_focus);
                }
            }
        }
        Op::Focus(i) => {
            if let Some(id) = pick(l, i) {
                prop_assert!(l.focus(&id));
                prop_assert_eq!(l.focused(), Some(&id));
            }
        }
        Op::Click(p) => {
            let under = l.window_under(p).copied();
            prop_assert_eq!(l.click(p), under);
            if under.is_some() {
                prop_assert_eq!(l.focused().copied(), under);
            } else {
                prop_assert_eq!(l.focused().copied(), focused);
            }
        }
        Op::Cycle(forward) => {
            let chosen = l.cycle_step(forward);
            prop_assert_eq!(l.focused().copied(), chosen);
        }
        Op::FinishCycle => l.finish_cycle(),
        Op::Switch(n) => {
            let before = l.active_workspace();
            l.switch_workspace(n);
            let ok = (1..=9).contains(&n);
            prop_assert_eq!(l.active_workspace(), if ok { n } else { before });
        }
        Op::MoveToWorkspace(i, n) => {
            if let Some(id) = pick(l, i) {
                let ok = l.move_to_workspace(&id, n);
                prop_assert_eq!(ok, (1..=9).contains(&n));
                if ok && n != l.active_workspace() && focused == Some(id) {
                    prop_assert_eq!(l.focused().copied(), below_focus);
                }
            }
        }
        Op::ToggleMaximize(i) => {
            if let Some(id) = pick(l, i) {
                l.toggle_maximize(&id);
            }
        }
        Op::ToggleFullscreen(i) => {
            if let Some(id) = pick(l, i) {
                let rect = l.toggle_fullscreen(&id);
                if l.window_info(&id).is_some_and(|s| s.fullscreen) {
                    prop_assert_eq!(rect, Some(l.output_area()));
                }
            }
        }
        Op::SetMaximized(i, on) => {
            if let Some(id) = pick(l, i) {
                l.set_maximized(&id, on);
            }
        }
        Op::MoveTo(i, p) => {
            if let Some(id) = pick(l, i) {
                prop_assert_eq!(l.move_to(&id, p).map(|r| r.loc()), Some(p));
            }
        }
        Op::ResizeTo(i, r) => {
            if let Some(id) = pick(l, i) {
                prop_assert_eq!(l.resize_to(&id, r), Some(r));
            }
        }
        Op::Panel(h) => l.set_areas(OUTPUT, Rect::new(0, h, OUTPUT.w, OUTPUT.h - h)),
    }
    Ok(())
}

/// Invariants that hold between any two operations.
fn check(l: &Layout<u32>, probe: Point) -> Result<(), TestCaseError> {
    l.assert_consistent();
    let active = l.active_workspace();
    let visible = l.windows_bottom_to_top();
    for (id, rect) in &visible {
        let s = l.window_info(id).expect("listed windows are known");
        prop_assert!(
            s.workspace == active && !s.minimized,
            "{id} listed but hidden: {s:?}"
        );
        prop_assert_eq!(*rect, s.rect);
        if s.maximized && !s.fullscreen {
            prop_assert_eq!(s.rect, l.usable_area());
        }
    }
    // Focus is None or a visible, non-minimized window on the active workspace: the topmost one.
    prop_assert_eq!(l.focused(), visible.last().map(|(id, _)| id));
    if let Some(f) = l.focused() {
        let s = l.window_info(f).expect("focused window is known");
        prop_assert!(s.workspace == active && !s.minimized);
    }
    let any_visible = l
        .all_windows()
        .iter()
        .any(|(_, s)| s.workspace == active && !s.minimized);
    prop_assert_eq!(l.focused().is_some(), any_visible);
    // window_under agrees with the drawing order: the last drawn window containing the point.
    let topmost = visible
        .iter()
        .rev()
        .find(|(_, r)| r.contains(probe))
        .map(|(id, _)| id);
    prop_assert_eq!(l.window_under(probe), topmost);
    prop_assert_eq!(l.all_windows().len(), l.len());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_operations_keep_invariants(ops in prop::collection::vec((op(), point()), 0..60)) {
        let mut l: Layout<u32> = Layout::with_areas(OUTPUT, Rect::new(0, 30, 1280, 770));
        let mut next_id = 0;
        for (op, probe) in &ops {
            apply(&mut l, &mut next_id, op)?;
            check(&l, *probe)?;
        }
    }

    #[test]
    fn maximize_then_unmaximize_restores_the_rect(ops in prop::collection::vec(op(), 0..40), i in 0..64usize) {
        let mut l: Layout<u32> = Layout::with_areas(OUTPUT, Rect::new(0, 30, 1280, 770));
        let mut next_id = 0;
        for op in &ops {
            apply(&mut l, &mut next_id, op)?;
        }
        if let Some(id) = pick(&l, i) {
            let before = l.rect(&id);
            l.toggle_maximize(&id);
            l.toggle_maximize(&id);
            prop_assert_eq!(l.rect(&id), before);
            l.toggle_fullscreen(&id);
            l.toggle_fullscreen(&id);
            prop_assert_eq!(l.rect(&id), before);
        }
    }
}
