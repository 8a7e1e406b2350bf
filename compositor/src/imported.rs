//! A texture imported once into the renderer that draws it, for images that change rarely (the
//! cursor, window labels): a frame then makes their elements from the texture directly, without
//! the per-frame bookkeeping of a `MemoryRenderBuffer` (a lock, hash lookups, a damage snapshot).

use std::any::Any;

use smithay::backend::renderer::{element::texture::TextureBuffer, ContextId, Renderer, Texture};

/// A slot for one image's texture in whichever renderer asked last; empty until first asked.
#[derive(Default)]
pub struct ImportedTexture {
    /// `(ContextId<T>, TextureBuffer<T>)` for that renderer's texture type `T`.
    slot: Option<Box<dyn Any>>,
}

impl ImportedTexture {
    /// The texture in `renderer`'s context, made by `import` when the slot is empty or holds a
    /// texture of another renderer.
    pub fn get<R, E>(
        &mut self,
        renderer: &mut R,
        import: impl FnOnce(&mut R) -> Result<TextureBuffer<R::TextureId>, E>,
    ) -> Result<&TextureBuffer<R::TextureId>, E>
    where
        R: Renderer,
        R::TextureId: Texture + 'static,
    {
        let context = renderer.context_id();
        if Self::of::<R::TextureId>(&self.slot).is_none_or(|(id, _)| *id != context) {
            self.slot = None;
            self.slot = Some(Box::new((context, import(renderer)?)));
        }
        Ok(&Self::of::<R::TextureId>(&self.slot).expect("filled just above").1)
    }

    /// Forgets the texture (the image changed).
    pub fn clear(&mut self) {
        self.slot = None;
    }

    fn of<T: Texture + 'static>(slot: &Option<Box<dyn Any>>) -> Option<&(ContextId<T>, TextureBuffer<T>)> {
        slot.as_ref()?.downcast_ref()
    }
}
