//! The outputs a layout places windows on: each one's area and the usable part of it (the area
//! minus layer-shell exclusive zones), in global coordinates. The first is the primary output.
//! A window belongs to the output that holds its centre, else the one it overlaps most, else
//! the primary one; maximizing and fullscreen fill that output.

use crate::geometry::{Point, Rect};

/// One output's area and the part of it windows may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Screen {
    pub output: Rect,
    pub usable: Rect,
}

impl Screen {
    pub const fn new(output: Rect, usable: Rect) -> Self {
        Screen { output, usable }
    }
}

/// The outputs, never empty: the first is the primary one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Screens(Vec<Screen>);

impl Screens {
    pub fn new(screens: Vec<Screen>) -> Self {
        if screens.is_empty() {
            Screens(vec![Screen::default()])
        } else {
            Screens(screens)
        }
    }

    pub fn all(&self) -> &[Screen] {
        &self.0
    }

    pub fn primary(&self) -> Screen {
        self.0[0]
    }

    pub fn get(&self, index: usize) -> Option<Screen> {
        self.0.get(index).copied()
    }

    /// The index of the output a window with this rectangle is on.
    pub fn index_of(&self, rect: Rect) -> usize {
        let centre = rect.center();
        if let Some(i) = self.0.iter().position(|s| s.output.contains(centre)) {
            return i;
        }
        let overlap = |s: &Screen| {
            s.output
                .intersection(rect)
                .map_or(0, |r| i64::from(r.w) * i64::from(r.h))
        };
        let best = (0..self.0.len()).max_by_key(|&i| (overlap(&self.0[i]), std::cmp::Reverse(i)));
        best.filter(|&i| overlap(&self.0[i]) > 0).unwrap_or(0)
    }

    /// The output a window with this rectangle is on.
    pub fn of(&self, rect: Rect) -> Screen {
        self.0[self.index_of(rect)]
    }

    /// Whether any output's usable area shares a pixel with `rect`.
    pub fn any_usable_intersects(&self, rect: Rect) -> bool {
        self.0.iter().any(|s| s.usable.intersects(rect))
    }
}

/// `rect` carried from one output to another: the same offset from the usable area's corner,
/// then pulled inside the target's usable area where it would stick out.
pub(super) fn carry(rect: Rect, from: Screen, to: Screen) -> Rect {
    let offset = Point::new(
        rect.x.saturating_sub(from.usable.x),
        rect.y.saturating_sub(from.usable.y),
    );
    let moved = Rect::from_loc_size(Point::new(to.usable.x, to.usable.y) + offset, rect.size());
    if to.usable.contains_rect(moved) || to.usable.is_empty() {
        moved
    } else {
        moved.clamp_into(to.usable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two() -> Screens {
        Screens::new(vec![
            Screen::new(Rect::new(0, 0, 1000, 800), Rect::new(0, 30, 1000, 770)),
            Screen::new(Rect::new(1000, 0, 800, 600), Rect::new(1000, 0, 800, 600)),
        ])
    }

    #[test]
    fn a_window_is_on_the_output_holding_its_centre_or_overlapping_it_most() {
        let s = two();
        assert_eq!(s.index_of(Rect::new(100, 100, 200, 200)), 0);
        assert_eq!(s.index_of(Rect::new(950, 100, 200, 200)), 1);
        // Centre below the second output (it is shorter) but mostly on it.
        assert_eq!(s.index_of(Rect::new(1100, 500, 300, 300)), 1);
        // Nowhere at all: the primary output.
        assert_eq!(s.index_of(Rect::new(5000, 5000, 10, 10)), 0);
    }

    #[test]
    fn no_outputs_means_one_empty_primary() {
        let s = Screens::new(Vec::new());
        assert_eq!(s.all().len(), 1);
        assert_eq!(s.primary(), Screen::default());
    }

    #[test]
    fn carrying_keeps_the_offset_and_pulls_big_windows_inside() {
        let s = two();
        let (a, b) = (s.get(0).unwrap(), s.get(1).unwrap());
        assert_eq!(
            carry(Rect::new(100, 130, 200, 100), a, b),
            Rect::new(1100, 100, 200, 100)
        );
        // 900 px wide does not fit the 800 px output: shrunk and put at its left edge.
        assert_eq!(
            carry(Rect::new(50, 530, 900, 400), a, b),
            Rect::new(1000, 200, 800, 400)
        );
        assert_eq!(
            carry(Rect::new(1100, 100, 200, 100), b, a),
            Rect::new(100, 130, 200, 100)
        );
    }
}
