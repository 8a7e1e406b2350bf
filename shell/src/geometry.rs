//! Integer points, sizes and rectangles in global logical coordinates.
//!
//! Rectangles are half-open: a `Rect { x: 0, y: 0, w: 10, h: 10 }` contains
//! the point (9, 9) but not (10, 10). Edge arithmetic is done in `i64` so
//! that client-supplied extremes cannot overflow.

use std::ops::{Add, Sub};

use serde::{Deserialize, Serialize};

/// A position in logical pixels.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Point {
    pub x: i32,
    pub y: i32,
}

/// A width and height in logical pixels.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Size {
    pub w: i32,
    pub h: i32,
}

/// An axis-aligned rectangle: origin plus size.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Rect {
    pub x: i32,
    pub y: i32,
    pub w: i32,
    pub h: i32,
}

/// Narrows an `i64` back to `i32`, saturating at the ends.
fn sat(v: i64) -> i32 {
    v.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
}

impl Point {
    pub const fn new(x: i32, y: i32) -> Self {
        Point { x, y }
    }
}

impl Add for Point {
    type Output = Point;
    fn add(self, o: Point) -> Point {
        Point::new(self.x.saturating_add(o.x), self.y.saturating_add(o.y))
    }
}

impl Sub for Point {
    type Output = Point;
    fn sub(self, o: Point) -> Point {
        Point::new(self.x.saturating_sub(o.x), self.y.saturating_sub(o.y))
    }
}

impl Size {
    pub const fn new(w: i32, h: i32) -> Self {
        Size { w, h }
    }

    /// True when either side is zero or negative.
    pub fn is_empty(self) -> bool {
        self.w <= 0 || self.h <= 0
    }

    /// Each side raised to at least the other size's side.
    pub fn max(self, o: Size) -> Size {
        Size::new(self.w.max(o.w), self.h.max(o.h))
    }

    /// Each side lowered to at most the other size's side.
    pub fn min(self, o: Size) -> Size {
        Size::new(self.w.min(o.w), self.h.min(o.h))
    }
}

impl Rect {
    pub const fn new(x: i32, y: i32, w: i32, h: i32) -> Self {
        Rect { x, y, w, h }
    }

    pub const fn from_loc_size(loc: Point, size: Size) -> Self {
        Rect::new(loc.x, loc.y, size.w, size.h)
    }

    /// The top-left corner.
    pub fn loc(self) -> Point {
        Point::new(self.x, self.y)
    }

    pub fn size(self) -> Size {
        Size::new(self.w, self.h)
    }

    /// One past the last column (`x + w`), saturating.
    pub fn right(self) -> i32 {
        sat(i64::from(self.x) + i64::from(self.w))
    }

    /// One past the last row (`y + h`), saturating.
    pub fn bottom(self) -> i32 {
        sat(i64::from(self.y) + i64::from(self.h))
    }

    /// The middle point, rounded towards the top-left.
    pub fn center(self) -> Point {
        Point::new(
            sat(i64::from(self.x) + i64::from(self.w) / 2),
            sat(i64::from(self.y) + i64::from(self.h) / 2),
        )
    }

    /// True when the rectangle covers no pixel.
    pub fn is_empty(self) -> bool {
        self.size().is_empty()
    }

    pub fn contains(self, p: Point) -> bool {
        let (px, py) = (i64::from(p.x), i64::from(p.y));
        let (x, y) = (i64::from(self.x), i64::from(self.y));
        px >= x && py >= y && px < x + i64::from(self.w) && py < y + i64::from(self.h)
    }

    /// True when `other` lies wholly inside `self` (an empty `other` never does).
    pub fn contains_rect(self, other: Rect) -> bool {
        !other.is_empty()
            && other.x >= self.x
            && other.y >= self.y
            && i64::from(other.x) + i64::from(other.w) <= i64::from(self.x) + i64::from(self.w)
            && i64::from(other.y) + i64::from(other.h) <= i64::from(self.y) + i64::from(self.h)
    }

    /// True when the two rectangles share at least one pixel.
    pub fn intersects(self, other: Rect) -> bool {
        self.intersection(other).is_some()
    }

    /// The overlapping part, if any.
    pub fn intersection(self, other: Rect) -> Option<Rect> {
        let x1 = i64::from(self.x).max(i64::from(other.x));
        let y1 = i64::from(self.y).max(i64::from(other.y));
        let x2 = (i64::from(self.x) + i64::from(self.w)).min(i64::from(other.x) + i64::from(other.w));
        let y2 = (i64::from(self.y) + i64::from(self.h)).min(i64::from(other.y) + i64::from(other.h));
        (x2 > x1 && y2 > y1).then(|| Rect::new(sat(x1), sat(y1), sat(x2 - x1), sat(y2 - y1)))
    }

    /// The same size moved by `d`.
    pub fn translate(self, d: Point) -> Rect {
        Rect::from_loc_size(self.loc() + d, self.size())
    }

    /// The same size with its centre on `area`'s centre.
    pub fn centered_in(self, area: Rect) -> Rect {
        let x = i64::from(area.x) + (i64::from(area.w) - i64::from(self.w)) / 2;
        let y = i64::from(area.y) + (i64::from(area.h) - i64::from(self.h)) / 2;
        Rect::new(sat(x), sat(y), self.w, self.h)
    }

    /// Shrinks the rectangle to fit `area` and moves it the least distance
    /// needed to lie wholly inside. An empty `area` yields its origin.
    pub fn clamp_into(self, area: Rect) -> Rect {
        let w = self.w.clamp(0, area.w.max(0));
        let h = self.h.clamp(0, area.h.max(0));
        // The largest origin that still keeps the far edge inside the area.
        let max_x = sat(i64::from(area.x) + i64::from(area.w.max(0)) - i64::from(w));
        let max_y = sat(i64::from(area.y) + i64::from(area.h.max(0)) - i64::from(h));
        Rect::new(self.x.clamp(area.x, max_x), self.y.clamp(area.y, max_y), w, h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contains_is_half_open() {
        let r = Rect::new(10, 20, 5, 5);
        assert!(r.contains(Point::new(10, 20)));
        assert!(r.contains(Point::new(14, 24)));
        assert!(!r.contains(Point::new(15, 24)));
        assert!(!r.contains(Point::new(14, 25)));
        assert!(!r.contains(Point::new(9, 20)));
        assert!(!Rect::new(0, 0, 0, 10).contains(Point::new(0, 0)));
    }

    #[test]
    fn intersections() {
        let a = Rect::new(0, 0, 10, 10);
        assert_eq!(
            a.intersection(Rect::new(5, 5, 10, 10)),
            Some(Rect::new(5, 5, 5, 5))
        );
        assert!(
            !a.intersects(Rect::new(10, 0, 5, 5)),
            "touching edges do not overlap"
        );
        assert!(!a.intersects(Rect::new(3, 3, 0, 0)));
        assert!(a.contains_rect(Rect::new(0, 0, 10, 10)));
        assert!(!a.contains_rect(Rect::new(1, 0, 10, 10)));
    }

    #[test]
    fn center_and_accessors() {
        let r = Rect::new(100, 50, 200, 101);
        assert_eq!(r.center(), Point::new(200, 100));
        assert_eq!(r.loc(), Point::new(100, 50));
        assert_eq!(r.size(), Size::new(200, 101));
        assert_eq!((r.right(), r.bottom()), (300, 151));
        assert_eq!(
            Rect::new(0, 0, 10, 10).centered_in(Rect::new(0, 0, 30, 20)),
            Rect::new(10, 5, 10, 10)
        );
    }

    #[test]
    fn clamp_into_moves_and_shrinks() {
        let area = Rect::new(0, 30, 1000, 700);
        assert_eq!(
            Rect::new(-50, 0, 100, 100).clamp_into(area),
            Rect::new(0, 30, 100, 100)
        );
        assert_eq!(
            Rect::new(950, 700, 100, 100).clamp_into(area),
            Rect::new(900, 630, 100, 100)
        );
        assert_eq!(
            Rect::new(10, 40, 5000, 50).clamp_into(area),
            Rect::new(0, 40, 1000, 50)
        );
        assert_eq!(
            Rect::new(10, 40, 5, 5).clamp_into(Rect::new(3, 4, 0, 0)),
            Rect::new(3, 4, 0, 0)
        );
    }

    #[test]
    fn extremes_do_not_overflow() {
        let r = Rect::new(i32::MAX, i32::MAX, i32::MAX, i32::MAX);
        assert_eq!(r.right(), i32::MAX);
        assert!(r.contains(Point::new(i32::MAX, i32::MAX)));
        let p = Point::new(i32::MIN, 0) - Point::new(1, 0);
        assert_eq!(p.x, i32::MIN);
    }
}
