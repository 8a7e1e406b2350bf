//! A framed window as one render element: its border, its surfaces and its label, drawn in that
//! order (back to front) inside the frame rectangle.
//!
//! Handed to Smithay's damage tracker as three or more elements, a window costs it about 10 µs
//! per frame more than its surfaces alone: every element is looked up, its damage asked for and
//! its opaque regions subtracted from the damage of everything below (docs/benchmarks.md,
//! twelfth run). As one element the window is one opaque rectangle, as a bare surface is. The
//! element keeps the picture and the stacking of the [module docs](super): the label is drawn
//! last, over anything the surfaces put there, and the surfaces are clipped to the content
//! rectangle. [`FrameTracker`] turns what changed since the last frame (a surface's damage, or
//! any change to the frame's layout, colour or label) into the element's own damage history.
//!
//! Windows with popups and windows under X-ray are listed element by element as before: their
//! popups and tints go between the label and the surfaces.

use smithay::{
    backend::renderer::{
        element::{
            surface::WaylandSurfaceRenderElement, texture::TextureRenderElement, Element, Id, Kind,
            RenderElement, UnderlyingStorage,
        },
        utils::{CommitCounter, DamageBag, DamageSet, DamageSnapshot, OpaqueRegions},
        Color32F, Frame, ImportAll, Renderer, Texture,
    },
    utils::{Buffer, Physical, Point, Rectangle, Scale, Transform},
};

type Rect = Rectangle<i32, Physical>;

/// How many frames of damage a [`FrameTracker`] keeps; a damage tracker further behind redraws
/// the whole window.
const DAMAGE_HISTORY: usize = 4;

/// How many scales a [`FrameTracker`] keeps a history for (one per output scale the window is
/// drawn at); an output at yet another scale drops the oldest.
const SCALES: usize = 4;

/// One framed window (see the module docs). Rectangles are physical, in the coordinates the
/// window was made in.
pub struct FramedWindow<R: Renderer> {
    id: Id,
    damage: DamageSnapshot<i32, Physical>,
    frame: Rect,
    scale: Scale<f64>,
    border: Color32F,
    label: Option<TextureRenderElement<R::TextureId>>,
    content: Rect,
    /// Whether the surfaces cover the content opaquely, so that no border is drawn below them.
    content_opaque: bool,
    /// Front to back, as Smithay lists a surface tree.
    surfaces: Vec<WaylandSurfaceRenderElement<R>>,
}

/// Everything about a frame other than its surfaces' contents: a change to any of it redraws
/// the whole frame. Rectangles are relative to the frame.
#[derive(Clone, Copy, PartialEq)]
struct Layout {
    size: (i32, i32),
    content: Rect,
    content_opaque: bool,
    label: Option<(Rect, u64)>,
    border: [u32; 4],
}

/// What the frames made of one window so far showed, kept in the window's label state: the
/// source of each [`FramedWindow`]'s id and damage, one history per scale (outputs at different
/// scales see different pixels, and each output's damage tracker sees only its own scale's id).
#[derive(Default)]
pub struct FrameTracker {
    histories: Vec<History>,
}

/// The frames of one window at one scale.
struct History {
    scale: u64,
    id: Id,
    damage: DamageBag<i32, Physical>,
    layout: Option<Layout>,
    /// Each surface in the last frame: what changes its picture without damaging it (its id,
    /// its place relative to the frame, the part of its buffer shown and its transform), and
    /// its commit.
    surfaces: Vec<(Shown, CommitCounter)>,
}

/// What a surface element shows, other than its buffer's contents: where (relative to the
/// frame), the part of its buffer, and how it is turned.
#[derive(PartialEq)]
struct Shown {
    id: Id,
    at: Rect,
    src: Rectangle<f64, Buffer>,
    transform: Transform,
}

/// The parts of a [`FramedWindow`] other than its id and damage.
pub struct FrameParts<R: Renderer> {
    pub frame: Rect,
    pub scale: f64,
    pub border: [f32; 4],
    /// The label and the generation of what it shows.
    pub label: Option<(TextureRenderElement<R::TextureId>, u64)>,
    pub content: Rect,
    pub content_opaque: bool,
    pub surfaces: Vec<WaylandSurfaceRenderElement<R>>,
}

impl FrameTracker {
    /// The element for `parts`, with what changed since the last frame made for this window
    /// added to its damage.
    pub fn element<R>(&mut self, parts: FrameParts<R>) -> FramedWindow<R>
    where
        R: Renderer + ImportAll,
        R::TextureId: Texture + 'static,
    {
        let FrameParts {
            frame,
            scale,
            border,
            label,
            content,
            content_opaque,
            surfaces,
        } = parts;
        let key = scale.to_bits();
        let scale = Scale::from(scale);
        let i = match self.histories.iter().position(|h| h.scale == key) {
            Some(i) => i,
            None => {
                if self.histories.len() == SCALES {
                    self.histories.remove(0);
                }
                self.histories.push(History {
                    scale: key,
                    id: Id::new(),
                    damage: DamageBag::new(DAMAGE_HISTORY),
                    layout: None,
                    surfaces: Vec::new(),
                });
                self.histories.len() - 1
            }
        };
        let history = &mut self.histories[i];
        let relative = |r: Rect| Rect::new(r.loc - frame.loc, r.size);
        let layout = Layout {
            size: (frame.size.w, frame.size.h),
            content: relative(content),
            content_opaque,
            label: label
                .as_ref()
                .map(|(l, generation)| (relative(l.geometry(scale)), *generation)),
            border: border.map(f32::to_bits),
        };
        let placed = |e: &WaylandSurfaceRenderElement<R>| relative(e.geometry(scale));
        let same = history.layout == Some(layout)
            && history.surfaces.len() == surfaces.len()
            && history.surfaces.iter().zip(&surfaces).all(|((shown, _), e)| {
                shown.id == *e.id()
                    && shown.at == placed(e)
                    && shown.src == e.src()
                    && shown.transform == e.transform()
            });
        if same {
            let content = layout.content;
            let mut changed = Vec::new();
            for ((Shown { at, .. }, commit), e) in history.surfaces.iter().zip(&surfaces) {
                if e.current_commit() == *commit {
                    continue;
                }
                changed.extend(
                    e.damage_since(scale, Some(*commit))
                        .iter()
                        .filter_map(|d| Rect::new(d.loc + at.loc, d.size).intersection(content)),
                );
            }
            history.damage.add(changed);
        } else {
            history.damage.add([Rect::from_size(frame.size)]);
            history.layout = Some(layout);
        }
        history.surfaces.clear();
        history.surfaces.extend(surfaces.iter().map(|e| {
            let shown = Shown {
                id: e.id().clone(),
                at: placed(e),
                src: e.src(),
                transform: e.transform(),
            };
            (shown, e.current_commit())
        }));
        FramedWindow {
            id: history.id.clone(),
            damage: history.damage.snapshot(),
            frame,
            scale,
            border: border.into(),
            label: label.map(|(l, _)| l),
            content,
            content_opaque,
            surfaces,
        }
    }
}

impl<R: Renderer + ImportAll> Element for FramedWindow<R>
where
    R::TextureId: Texture + 'static,
{
    fn id(&self) -> &Id {
        &self.id
    }

    fn current_commit(&self) -> CommitCounter {
        self.damage.current_commit()
    }

    fn location(&self, _scale: Scale<f64>) -> Point<i32, Physical> {
        self.frame.loc
    }

    fn src(&self) -> Rectangle<f64, Buffer> {
        Rectangle::from_size((self.frame.size.w as f64, self.frame.size.h as f64).into())
    }

    fn transform(&self) -> Transform {
        Transform::Normal
    }

    fn geometry(&self, _scale: Scale<f64>) -> Rect {
        self.frame
    }

    fn damage_since(&self, _scale: Scale<f64>, commit: Option<CommitCounter>) -> DamageSet<i32, Physical> {
        self.damage
            .damage_since(commit)
            .unwrap_or_else(|| DamageSet::from_slice(&[Rect::from_size(self.frame.size)]))
    }

    /// All of it: the border colour is opaque, and drawn wherever the label and the surfaces
    /// leave the frame uncovered.
    fn opaque_regions(&self, _scale: Scale<f64>) -> OpaqueRegions<i32, Physical> {
        OpaqueRegions::from_slice(&[Rect::from_size(self.frame.size)])
    }

    fn alpha(&self) -> f32 {
        1.0
    }

    fn kind(&self) -> Kind {
        Kind::Unspecified
    }
}

impl<R> RenderElement<R> for FramedWindow<R>
where
    R: Renderer + ImportAll,
    R::TextureId: Texture + 'static,
{
    fn draw(
        &self,
        frame: &mut R::Frame<'_, '_>,
        _src: Rectangle<f64, Buffer>,
        dst: Rect,
        damage: &[Rect],
        _opaque_regions: &[Rect],
    ) -> Result<(), R::Error> {
        // Where the element is drawn may differ from where it was made (an output not at the
        // origin); its parts move with it. `local` is a part's place within the frame.
        let local = |r: Rect| Rect::new(r.loc - self.frame.loc, r.size);
        let label = self.label.as_ref().map(|l| (l, local(l.geometry(self.scale))));

        // 1. The border, where nothing in front covers it.
        let covers = label
            .map(|(_, at)| at)
            .into_iter()
            .chain(self.content_opaque.then(|| local(self.content)));
        let border = Rect::subtract_rects_many(damage.iter().copied(), covers);
        if !border.is_empty() {
            frame.draw_solid(dst, &border, self.border)?;
        }

        // 2. The surfaces, back to front, clipped to the content.
        let content = local(self.content);
        for surface in self.surfaces.iter().rev() {
            let at = local(surface.geometry(self.scale));
            if let Some(clip) = at.intersection(content) {
                draw_part::<R, _>(frame, surface, self.scale, at, clip, dst.loc, damage)?;
            }
        }

        // 3. The label, over everything the window drew.
        if let Some((label, at)) = label {
            draw_part::<R, _>(frame, label, self.scale, at, at, dst.loc, damage)?;
        }
        Ok(())
    }

    fn underlying_storage(&self, _renderer: &mut R) -> Option<UnderlyingStorage<'_>> {
        None
    }
}

/// Draws `part`, placed at `at` in the frame, where `damage` meets `clip` (both also relative
/// to the frame), with the frame drawn at `origin`.
fn draw_part<R, E>(
    frame: &mut R::Frame<'_, '_>,
    part: &E,
    scale: Scale<f64>,
    at: Rect,
    clip: Rect,
    origin: Point<i32, Physical>,
    damage: &[Rect],
) -> Result<(), R::Error>
where
    R: Renderer,
    E: RenderElement<R>,
{
    let part_damage: Vec<Rect> = damage
        .iter()
        .filter_map(|d| d.intersection(clip))
        .map(|d| Rect::new(d.loc - at.loc, d.size))
        .collect();
    if part_damage.is_empty() {
        return Ok(());
    }
    let opaque = part.opaque_regions(scale);
    let dst = Rect::new(at.loc + origin, at.size);
    part.draw(frame, part.src(), dst, &part_damage, &opaque)
}
