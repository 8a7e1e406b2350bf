//! Interactive move and resize as pure functions of the pointer position.

use crate::geometry::{Point, Rect, Size};

/// The smallest size an interactive resize produces.
pub const DEFAULT_MIN_SIZE: Size = Size::new(64, 32);

/// Which edges of a window a resize drags.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Edges {
    pub top: bool,
    pub bottom: bool,
    pub left: bool,
    pub right: bool,
}

impl Edges {
    pub const NONE: Edges = Edges {
        top: false,
        bottom: false,
        left: false,
        right: false,
    };

    pub fn is_empty(self) -> bool {
        self == Edges::NONE
    }

    /// The corner nearest to `p`, i.e. the quadrant of `rect` the pointer is
    /// in, for resizing with Super+right-drag anywhere in a window.
    pub fn from_pointer_in_rect(rect: Rect, p: Point) -> Edges {
        let c = rect.center();
        let left = p.x < c.x;
        let top = p.y < c.y;
        Edges {
            top,
            bottom: !top,
            left,
            right: !left,
        }
    }
}

/// A window being dragged: where the pointer and the window started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MoveGrab {
    pub start_pointer: Point,
    pub start_rect: Rect,
}

impl MoveGrab {
    pub fn new(start_pointer: Point, start_rect: Rect) -> Self {
        MoveGrab {
            start_pointer,
            start_rect,
        }
    }

    /// The window's rectangle with the pointer at `pointer`: moved by the
    /// pointer's travel, same size.
    pub fn update(&self, pointer: Point) -> Rect {
        self.start_rect.translate(pointer - self.start_pointer)
    }
}

/// A window edge or corner being dragged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResizeGrab {
    pub start_pointer: Point,
    pub start_rect: Rect,
    pub edges: Edges,
    /// Neither side goes below this (nor below 1).
    pub min_size: Size,
}

/// Narrows an `i64` back to `i32`, saturating at the ends.
fn sat(v: i64) -> i32 {
    v.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
}

/// New origin and length along one axis. `near` drags the low edge (left or
/// top, which keeps the far edge fixed); `far` drags the high edge; `near` wins if both are set.
fn resize_axis(start: i32, len: i32, delta: i64, near: bool, far: bool, min: i32) -> (i32, i32) {
    let (start, len, min) = (i64::from(start), i64::from(len), i64::from(min.max(1)));
    let (origin, new_len) = if near {
        let new_len = (len - delta).max(min);
        (start + len - new_len, new_len)
    } else if far {
        (start, (len + delta).max(min))
    } else {
        (start, len.max(min))
    };
    (sat(origin), sat(new_len))
}

impl ResizeGrab {
    /// A grab with [`DEFAULT_MIN_SIZE`].
    pub fn new(start_pointer: Point, start_rect: Rect, edges: Edges) -> Self {
        ResizeGrab {
            start_pointer,
            start_rect,
            edges,
            min_size: DEFAULT_MIN_SIZE,
        }
    }

    /// The window's rectangle with the pointer at `pointer`. Dragged edges
    /// follow the pointer; the opposite edges stay put; the size never goes
    /// below `min_size`.
    pub fn update(&self, pointer: Point) -> Rect {
        let (r, e) = (self.start_rect, self.edges);
        let dx = i64::from(pointer.x) - i64::from(self.start_pointer.x);
        let dy = i64::from(pointer.y) - i64::from(self.start_pointer.y);
        let (x, w) = resize_axis(r.x, r.w, dx, e.left, e.right, self.min_size.w);
        let (y, h) = resize_axis(r.y, r.h, dy, e.top, e.bottom, self.min_size.h);
        Rect::new(x, y, w, h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn move_follows_pointer() {
        let g = MoveGrab::new(Point::new(100, 100), Rect::new(50, 60, 300, 200));
        assert_eq!(g.update(Point::new(110, 90)), Rect::new(60, 50, 300, 200));
    }

    #[test]
    fn resize_edges() {
        let r = Rect::new(100, 100, 400, 300);
        let p = Point::new(0, 0);
        let br = ResizeGrab::new(
            p,
            r,
            Edges {
                bottom: true,
                right: true,
                ..Edges::NONE
            },
        );
        assert_eq!(br.update(Point::new(50, -20)), Rect::new(100, 100, 450, 280));
        let tl = ResizeGrab::new(
            p,
            r,
            Edges {
                top: true,
                left: true,
                ..Edges::NONE
            },
        );
        assert_eq!(tl.update(Point::new(50, -20)), Rect::new(150, 80, 350, 320));
        // Dragging the left edge past the right one stops at the minimum width, right edge fixed.
        assert_eq!(tl.update(Point::new(1000, 1000)), Rect::new(436, 368, 64, 32));
        let none = ResizeGrab::new(p, r, Edges::NONE);
        assert_eq!(none.update(Point::new(30, 30)), r);
    }

    #[test]
    fn quadrants_pick_corners() {
        let r = Rect::new(0, 0, 100, 100);
        let e = |x, y| Edges::from_pointer_in_rect(r, Point::new(x, y));
        assert_eq!(
            e(10, 10),
            Edges {
                top: true,
                left: true,
                ..Edges::NONE
            }
        );
        assert_eq!(
            e(90, 10),
            Edges {
                top: true,
                right: true,
                ..Edges::NONE
            }
        );
        assert_eq!(
            e(10, 90),
            Edges {
                bottom: true,
                left: true,
                ..Edges::NONE
            }
        );
        assert_eq!(
            e(90, 90),
            Edges {
                bottom: true,
                right: true,
                ..Edges::NONE
            }
        );
    }

    fn edges() -> impl Strategy<Value = Edges> {
        (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()).prop_map(|(top, bottom, left, right)| {
            Edges {
                top,
                bottom,
                left,
                right,
            }
        })
    }

    proptest! {
        #[test]
        fn resize_never_goes_below_min_size(
            x in -5000..5000i32, y in -5000..5000i32, w in 1..4000i32, h in 1..4000i32,
            px in -10_000..10_000i32, py in -10_000..10_000i32,
            min_w in 1..200i32, min_h in 1..200i32, edges in edges(),
        ) {
            let start = Rect::new(x, y, w, h);
            let grab = ResizeGrab { start_pointer: start.center(), start_rect: start, edges, min_size: Size::new(min_w, min_h) };
            let r = grab.update(Point::new(px, py));
            prop_assert!(r.w >= min_w && r.h >= min_h, "{r:?}");
            // The edges not dragged stay where they were.
            if edges.left { prop_assert_eq!(r.right(), start.right()); } else { prop_assert_eq!(r.x, start.x); }
            if edges.top { prop_assert_eq!(r.bottom(), start.bottom()); } else { prop_assert_eq!(r.y, start.y); }
        }

        #[test]
        fn move_keeps_size(x in -5000..5000i32, y in -5000..5000i32, w in 1..4000i32, h in 1..4000i32,
                           px in -10_000..10_000i32, py in -10_000..10_000i32) {
            let start = Rect::new(x, y, w, h);
            let grab = MoveGrab::new(Point::new(0, 0), start);
            let r = grab.update(Point::new(px, py));
            prop_assert_eq!(r.size(), start.size());
            prop_assert_eq!(r.loc(), Point::new(x + px, y + py));
        }
    }
}
