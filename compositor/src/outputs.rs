//! The outputs of the session, side by side from left to right in the order they came, tops
//! aligned; the first one is the primary output (new windows without a focused window, the
//! panel and dashboard unless they ask for another output, absolute pointer devices, the
//! frame rate). Positions are recomputed whenever an output comes, goes or changes size.

use smithay::{
    desktop::{Space, Window},
    output::Output,
    utils::{Logical, Point, Rectangle},
};

#[derive(Debug)]
pub struct Outputs {
    list: Vec<Output>,
}

impl Outputs {
    pub fn new(primary: Output) -> Self {
        Self { list: vec![primary] }
    }

    pub fn primary(&self) -> &Output {
        &self.list[0]
    }

    pub fn iter(&self) -> impl Iterator<Item = &Output> {
        self.list.iter()
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Never true: there is always a primary output (for the lint's sake).
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub fn by_name(&self, name: &str) -> Option<&Output> {
        self.list.iter().find(|o| o.name() == name)
    }

    /// The index of `output` in left-to-right order.
    pub fn index_of(&self, output: &Output) -> Option<usize> {
        self.list.iter().position(|o| o == output)
    }

    /// Adds an output at the right end (a no-op for one already here).
    pub fn add(&mut self, output: Output) {
        if !self.list.contains(&output) {
            self.list.push(output);
        }
    }

    /// Takes an output away; the last one never goes (an output-less session has nowhere to
    /// put anything: the backend keeps the last output dark instead). Returns whether it went.
    pub fn remove(&mut self, output: &Output) -> bool {
        match self.index_of(output) {
            Some(i) if self.list.len() > 1 => {
                self.list.remove(i);
                true
            }
            _ => false,
        }
    }

    /// Places the outputs side by side and maps them into `space` there.
    pub fn arrange(&self, space: &mut Space<Window>) {
        let mut x = 0;
        for output in &self.list {
            let loc = Point::from((x, 0));
            output.change_current_state(None, None, None, Some(loc));
            space.map_output(output, loc);
            x += logical_rect(output).size.w;
        }
    }

    /// The output whose area holds `pos`.
    pub fn at(&self, pos: Point<f64, Logical>) -> Option<&Output> {
        self.list.iter().find(|o| logical_rect(o).to_f64().contains(pos))
    }

    /// The output holding `pos`, else the primary one.
    pub fn at_or_primary(&self, pos: Point<f64, Logical>) -> &Output {
        self.at(pos).unwrap_or_else(|| self.primary())
    }

    /// `pos` if some output holds it, else the nearest point on any output.
    pub fn clamp(&self, pos: Point<f64, Logical>) -> Point<f64, Logical> {
        if self.at(pos).is_some() {
            return pos;
        }
        let clamped = self.list.iter().map(|o| clamp_into(pos, logical_rect(o)));
        let distance = |p: &Point<f64, Logical>| (p.x - pos.x).powi(2) + (p.y - pos.y).powi(2);
        clamped
            .min_by(|a, b| distance(a).total_cmp(&distance(b)))
            .unwrap_or(pos)
    }
}

/// An output's area in global logical coordinates.
pub fn logical_rect(output: &Output) -> Rectangle<i32, Logical> {
    let size = output
        .current_mode()
        .map(|m| {
            m.size
                .to_f64()
                .to_logical(output.current_scale().fractional_scale())
                .to_i32_round()
        })
        .unwrap_or_default();
    Rectangle::new(output.current_location(), size)
}

/// The nearest point to `pos` inside `rect` (its last pixel row and column included).
fn clamp_into(pos: Point<f64, Logical>, rect: Rectangle<i32, Logical>) -> Point<f64, Logical> {
    let max_x = (rect.loc.x + rect.size.w) as f64 - 1.0;
    let max_y = (rect.loc.y + rect.size.h) as f64 - 1.0;
    let x = pos.x.clamp(rect.loc.x as f64, max_x.max(rect.loc.x as f64));
    let y = pos.y.clamp(rect.loc.y as f64, max_y.max(rect.loc.y as f64));
    Point::from((x, y))
}

#[cfg(test)]
mod tests {
    use super::*;
    use smithay::output::{Mode, PhysicalProperties, Scale, Subpixel};

    fn output(name: &str, w: i32, h: i32, scale: f64) -> Output {
        let output = Output::new(
            name.into(),
            PhysicalProperties {
                size: (0, 0).into(),
                subpixel: Subpixel::Unknown,
                make: "test".into(),
                model: "test".into(),
            },
        );
        let mode = Mode {
            size: (w, h).into(),
            refresh: 60_000,
        };
        output.change_current_state(Some(mode), None, Some(Scale::Fractional(scale)), None);
        output
    }

    fn two() -> (Outputs, Space<Window>) {
        let mut outputs = Outputs::new(output("A", 1280, 720, 1.0));
        outputs.add(output("B", 1600, 1200, 2.0));
        let mut space = Space::default();
        outputs.arrange(&mut space);
        (outputs, space)
    }

    #[test]
    fn outputs_sit_side_by_side_in_logical_pixels() {
        let (outputs, space) = two();
        let b = outputs.by_name("B").unwrap();
        assert_eq!(
            logical_rect(b),
            Rectangle::new((1280, 0).into(), (800, 600).into())
        );
        assert_eq!(space.output_geometry(b), Some(logical_rect(b)));
        assert_eq!(
            outputs.at((1300.0, 10.0).into()).map(|o| o.name()),
            Some("B".into())
        );
        assert_eq!(outputs.at((1300.0, 700.0).into()), None, "below B, right of A");
    }

    #[test]
    fn the_pointer_is_kept_on_the_nearest_output() {
        let (outputs, _) = two();
        let p = |x: f64, y: f64| Point::<f64, Logical>::from((x, y));
        assert_eq!(outputs.clamp(p(10.0, 10.0)), p(10.0, 10.0));
        assert_eq!(outputs.clamp(p(1500.0, 700.0)), p(1500.0, 599.0));
        assert_eq!(outputs.clamp(p(1270.0, 900.0)), p(1270.0, 719.0));
        assert_eq!(outputs.clamp(p(5000.0, -5.0)), p(2079.0, 0.0));
    }

    #[test]
    fn removing_closes_the_gap_but_keeps_the_last_output() {
        let (mut outputs, mut space) = two();
        let a = outputs.primary().clone();
        let b = outputs.by_name("B").unwrap().clone();
        assert!(outputs.remove(&a));
        outputs.arrange(&mut space);
        assert_eq!(logical_rect(&b).loc, (0, 0).into());
        assert!(!outputs.remove(&b), "the last output stays");
        assert_eq!(outputs.len(), 1);
    }
}
