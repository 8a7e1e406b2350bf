//! The culled damage drawn by the real damage tracker and pixman renderer: what is hidden is
//! left out of the frame's damage, and is drawn with the element's current contents once in
//! view.

use smithay::{
    backend::{
        allocator::Fourcc,
        renderer::{
            damage::OutputDamageTracker,
            element::{
                solid::{SolidColorBuffer, SolidColorRenderElement},
                Kind,
            },
            pixman::PixmanRenderer,
            Bind, Offscreen,
        },
    },
    reexports::pixman,
    utils::{Physical, Rectangle, Size, Transform},
};

use super::Culling;

const RED: [f32; 4] = [1.0, 0.0, 0.0, 1.0];
const GREEN: [f32; 4] = [0.0, 1.0, 0.0, 1.0];
const BLUE: [f32; 4] = [0.0, 0.0, 1.0, 1.0];
/// Half-transparent blue, premultiplied.
const GLASS: [f32; 4] = [0.0, 0.0, 0.5, 0.5];

/// A 100x100 output, a 100x100 element at the back and a 50x100 one over its left half.
struct Scene {
    renderer: PixmanRenderer,
    image: pixman::Image<'static, 'static>,
    tracker: OutputDamageTracker,
    culling: Culling,
    back: SolidColorBuffer,
    front: SolidColorBuffer,
}

impl Scene {
    fn new() -> Self {
        let mut renderer = PixmanRenderer::new().unwrap();
        let image = renderer
            .create_buffer(Fourcc::Argb8888, Size::from((100, 100)))
            .unwrap();
        Self {
            renderer,
            image,
            tracker: OutputDamageTracker::new((100, 100), 1.0, Transform::Normal),
            culling: Culling::default(),
            back: SolidColorBuffer::new((100, 100), RED),
            front: SolidColorBuffer::new((50, 100), BLUE),
        }
    }

    /// Renders the back element, and the front one when `with_front`; returns the damage.
    fn render(&mut self, with_front: bool) -> Vec<Rectangle<i32, Physical>> {
        let back = SolidColorRenderElement::from_buffer(&self.back, (0, 0), 1.0, 1.0, Kind::Unspecified);
        let front = SolidColorRenderElement::from_buffer(&self.front, (0, 0), 1.0, 1.0, Kind::Unspecified);
        let elements = if with_front { vec![front, back] } else { vec![back] };
        let culled = self.culling.cull(&elements, 1.0.into());
        let mut target = self.renderer.bind(&mut self.image).unwrap();
        let result = self
            .tracker
            .render_output(&mut self.renderer, &mut target, 1, &culled, [0.0, 0.0, 0.0, 1.0])
            .unwrap();
        result.damage.cloned().unwrap_or_default()
    }

    /// The pixel at (x, y) as [r, g, b].
    fn pixel(&self, x: usize, y: usize) -> [u8; 3] {
        let stride = self.image.stride();
        // SAFETY: the image owns `stride * height` bytes and no render is in progress.
        let bytes = unsafe { std::slice::from_raw_parts(self.image.data() as *const u8, stride * 100) };
        let px = &bytes[y * stride + x * 4..][..4];
        [px[2], px[1], px[0]]
    }
}

#[test]
fn damage_hidden_by_an_opaque_element_in_front_is_left_out() {
    let mut scene = Scene::new();
    scene.render(true);
    assert_eq!(scene.pixel(25, 50), [0, 0, 255]);
    assert_eq!(scene.pixel(75, 50), [255, 0, 0]);

    scene.back.update((100, 100), GREEN);
    let damage = scene.render(true);
    let hidden = Rectangle::<i32, Physical>::from_size((50, 100).into());
    assert!(!damage.is_empty(), "the visible half changed, so there is damage");
    assert!(
        damage.iter().all(|d| !d.overlaps(hidden)),
        "damage {damage:?} reaches under the opaque element in front"
    );
    assert_eq!(scene.pixel(25, 50), [0, 0, 255]);
    assert_eq!(scene.pixel(75, 50), [0, 255, 0]);
}

/// A scene whose back element turned green while the front one hid its left half.
fn hidden_change() -> Scene {
    let mut scene = Scene::new();
    scene.render(true);
    scene.back.update((100, 100), GREEN);
    scene.render(true);
    scene
}

#[test]
fn a_hidden_change_is_drawn_when_the_element_in_front_goes() {
    let mut scene = hidden_change();
    scene.render(false);
    assert_eq!(scene.pixel(25, 50), [0, 255, 0]);
    assert_eq!(scene.pixel(75, 50), [0, 255, 0]);
}

#[test]
fn a_hidden_change_shows_through_when_the_element_in_front_turns_translucent() {
    let mut scene = hidden_change();
    scene.front.update((50, 100), GLASS);
    scene.render(true);
    let [r, g, b] = scene.pixel(25, 50);
    assert_eq!(r, 0);
    assert!(
        g > 100 && b > 100,
        "green under half-transparent blue, got {:?}",
        [r, g, b]
    );
}
