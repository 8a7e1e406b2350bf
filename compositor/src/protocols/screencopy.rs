//! Server side of `zwlr_screencopy_manager_v1` (version 3), shm buffers only.
//!
//! The protocol object handling lives here; producing the pixels is left to the
//! compositor through [`ScreencopyHandler::frame`]. A typical flow:
//!
//! 1. The client binds the manager and calls `capture_output` or
//!    `capture_output_region`. A frame object is created and a single
//!    `buffer` event (ARGB8888, region size, `stride = width * 4`) is sent,
//!    followed by `buffer_done` for version 3 objects.
//! 2. The client calls `copy` or `copy_with_damage` with a matching shm buffer.
//!    The buffer is validated here (invalid buffers get the `invalid_buffer`
//!    protocol error, a second copy gets `already_used`), then the compositor
//!    receives a [`ScreencopyFrame`] through [`ScreencopyHandler::frame`].
//! 3. The compositor renders the output into a CPU image, calls
//!    [`ScreencopyFrame::copy_from`] and then [`ScreencopyFrame::submit`]
//!    (or [`ScreencopyFrame::failed`]). Dropping an unfinished frame sends
//!    `failed`.
//!
//! All regions handed to the compositor are in *output buffer pixels*: the
//! coordinate space of the output's current mode, before the output transform
//! is applied (identical to the displayed image for `Transform::Normal`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use smithay::output::{Output, WeakOutput};
use smithay::reexports::wayland_server::protocol::wl_buffer::WlBuffer;
use smithay::reexports::wayland_server::protocol::wl_shm;
use smithay::reexports::wayland_server::{
    backend::{ClientId, GlobalId},
    Client, DataInit, Dispatch, DisplayHandle, GlobalDispatch, New, Resource,
};
use smithay::utils::{Logical, Physical, Point, Rectangle, Size, Transform};
use smithay::wayland::shm::{self, BufferAccessError, BufferData};
use tracing::{debug, trace, warn};

pub use wayland_protocols_wlr::screencopy::v1::server::zwlr_screencopy_frame_v1::{
    self, ZwlrScreencopyFrameV1,
};
pub use wayland_protocols_wlr::screencopy::v1::server::zwlr_screencopy_manager_v1::{
    self, ZwlrScreencopyManagerV1,
};

/// Version of the global advertised to clients.
pub const SCREENCOPY_VERSION: u32 = 3;

/// The shm format announced in the `buffer` event. `copy` also accepts
/// [`wl_shm::Format::Xrgb8888`] buffers of the same size.
pub const ADVERTISED_FORMAT: wl_shm::Format = wl_shm::Format::Argb8888;

/// Bytes per pixel of the supported formats.
const BPP: usize = 4;

/// Errors of [`ScreencopyFrame::copy_from`] and [`copy_region`].
#[derive(Debug, thiserror::Error)]
pub enum ScreencopyError {
    /// The frame object was destroyed by the client.
    #[error("the screencopy frame was destroyed")]
    FrameDestroyed,
    /// The client buffer could not be accessed.
    #[error("cannot access the client buffer: {0}")]
    BufferAccess(#[from] BufferAccessError),
    /// The client buffer does not match the advertised parameters.
    #[error("client buffer does not match: {0}")]
    BufferMismatch(String),
    /// The source image is too small or the region is outside of it.
    #[error("source image does not match: {0}")]
    SourceMismatch(String),
}

/// Data of the `zwlr_screencopy_manager_v1` global.
pub struct ScreencopyGlobalData {
    filter: Box<dyn Fn(&Client) -> bool + Send + Sync + 'static>,
}

impl std::fmt::Debug for ScreencopyGlobalData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScreencopyGlobalData").finish_non_exhaustive()
    }
}

/// What a valid capture request resolved to.
#[derive(Debug, Clone)]
struct FrameTarget {
    output: WeakOutput,
    region: Rectangle<i32, Physical>,
}

/// User data of a `zwlr_screencopy_frame_v1` object.
#[derive(Debug)]
pub struct ScreencopyFrameData {
    /// `None` when the frame failed at creation (output gone, no mode, empty region).
    target: Option<FrameTarget>,
    overlay_cursor: bool,
    /// Set by the first `copy`/`copy_with_damage` request.
    copied: AtomicBool,
}

impl ScreencopyFrameData {
    /// The region to copy, in output buffer pixels (`None` if the frame already failed).
    pub fn region(&self) -> Option<Rectangle<i32, Physical>> {
        self.target.as_ref().map(|t| t.region)
    }

    /// Whether the client asked for the cursor to be composited.
    pub fn overlay_cursor(&self) -> bool {
        self.overlay_cursor
    }

    /// Whether a copy was already requested on this frame.
    pub fn copied(&self) -> bool {
        self.copied.load(Ordering::Acquire)
    }
}

/// State of the `zwlr_screencopy_manager_v1` global.
#[derive(Debug)]
pub struct ScreencopyManagerState {
    global: GlobalId,
}

impl ScreencopyManagerState {
    /// Creates the `zwlr_screencopy_manager_v1` global (version 3); `filter`
    /// decides which clients can see it.
    pub fn new<D>(display: &DisplayHandle, filter: impl Fn(&Client) -> bool + Send + Sync + 'static) -> Self
    where
        D: GlobalDispatch<ZwlrScreencopyManagerV1, ScreencopyGlobalData>
            + Dispatch<ZwlrScreencopyManagerV1, ()>
            + Dispatch<ZwlrScreencopyFrameV1, ScreencopyFrameData>
            + ScreencopyHandler
            + 'static,
    {
        let global = display.create_global::<D, ZwlrScreencopyManagerV1, _>(
            SCREENCOPY_VERSION,
            ScreencopyGlobalData {
                filter: Box::new(filter),
            },
        );
        Self { global }
    }

    /// The id of the global.
    pub fn global(&self) -> GlobalId {
        self.global.clone()
    }
}

/// Implemented by the compositor state to produce screencopy frames.
pub trait ScreencopyHandler {
    /// A client asked to copy a frame into its buffer (after `copy` or
    /// `copy_with_damage`). The buffer has already been validated against the
    /// advertised parameters. Keep the frame until the content is available
    /// (e.g. the next render of the output, or the next damage for
    /// [`ScreencopyFrame::with_damage`]), then call
    /// [`ScreencopyFrame::copy_from`] and [`ScreencopyFrame::submit`].
    fn frame(&mut self, frame: ScreencopyFrame);
}

/// A pending copy request.
///
/// Dropping it without calling [`submit`](Self::submit) or
/// [`failed`](Self::failed) sends `failed` to the client.
#[derive(Debug)]
pub struct ScreencopyFrame {
    frame: ZwlrScreencopyFrameV1,
    output: Output,
    region: Rectangle<i32, Physical>,
    with_damage: bool,
    overlay_cursor: bool,
    buffer: WlBuffer,
    finished: bool,
}

impl ScreencopyFrame {
    /// The output to capture.
    pub fn output(&self) -> &Output {
        &self.output
    }

    /// The region to capture, in output buffer pixels (mode size, untransformed).
    pub fn region(&self) -> Rectangle<i32, Physical> {
        self.region
    }

    /// Whether the client used `copy_with_damage`: the copy should wait until
    /// the output has damage, and `submit` sends damage events.
    pub fn with_damage(&self) -> bool {
        self.with_damage
    }

    /// Whether the cursor should be composited into the frame.
    pub fn overlay_cursor(&self) -> bool {
        self.overlay_cursor
    }

    /// The client's shm buffer.
    pub fn buffer(&self) -> &WlBuffer {
        &self.buffer
    }

    /// The frame protocol object.
    pub fn resource(&self) -> &ZwlrScreencopyFrameV1 {
        &self.frame
    }

    /// Whether the client still has the frame object.
    pub fn is_alive(&self) -> bool {
        self.frame.is_alive()
    }

    /// Copies pixels from a CPU image of the whole output into the client's
    /// buffer, for [`region`](Self::region).
    ///
    /// `src` is ARGB8888 little-endian (B, G, R, A bytes), `stride` bytes per
    /// row, `size` pixels, in output buffer orientation (mode size).
    pub fn copy_from(
        &self,
        src: &[u8],
        stride: usize,
        size: Size<i32, Physical>,
    ) -> Result<(), ScreencopyError> {
        if !self.frame.is_alive() {
            return Err(ScreencopyError::FrameDestroyed);
        }
        let region = self.region;
        // Check the source before touching client memory.
        check_source(src.len(), stride, size, region)?;

        shm::with_buffer_contents_mut(&self.buffer, |ptr, len, data| {
            let dst_len = validate_buffer_data(&data, len, region.size)?;
            // SAFETY: `ptr` is valid for `len` bytes while this closure runs, and
            // `validate_buffer_data` checked `offset + dst_len <= len`. The client
            // may write to the memory concurrently; this only makes the copied
            // pixels unreliable, which is the client's problem, and is how every
            // Smithay shm consumer accesses client memory.
            let dst = unsafe { std::slice::from_raw_parts_mut(ptr.add(data.offset as usize), dst_len) };
            copy_region(src, stride, size, region, dst, data.stride as usize)
        })?
    }

    /// Sends `flags` (no y-invert), the `damage` events (only for
    /// `copy_with_damage`) and `ready` with `presentation_time`.
    ///
    /// `damage` is in output buffer pixels (the space of [`region`](Self::region));
    /// it is clipped to the region and sent relative to it. An empty `damage`
    /// slice means "everything": the whole region is reported as damaged.
    pub fn submit(mut self, presentation_time: Duration, damage: &[Rectangle<i32, Physical>]) {
        self.finished = true;
        if !self.frame.is_alive() {
            debug!("screencopy frame destroyed before submit");
            return;
        }

        self.frame.flags(zwlr_screencopy_frame_v1::Flags::empty());

        if self.with_damage {
            for rect in clip_damage(self.region, damage) {
                self.frame.damage(
                    rect.loc.x as u32,
                    rect.loc.y as u32,
                    rect.size.w as u32,
                    rect.size.h as u32,
                );
            }
        }

        let (hi, lo, nsec) = split_timestamp(presentation_time);
        self.frame.ready(hi, lo, nsec);
        trace!(region = ?self.region, "screencopy frame ready");
    }

    /// Sends `failed`.
    pub fn failed(mut self) {
        self.finished = true;
        if self.frame.is_alive() {
            debug!("screencopy frame failed");
            self.frame.failed();
        }
    }
}

impl Drop for ScreencopyFrame {
    fn drop(&mut self) {
        if !self.finished && self.frame.is_alive() {
            debug!("screencopy frame dropped unfinished, sending failed");
            self.frame.failed();
        }
    }
}

impl<D> GlobalDispatch<ZwlrScreencopyManagerV1, ScreencopyGlobalData, D> for ScreencopyManagerState
where
    D: GlobalDispatch<ZwlrScreencopyManagerV1, ScreencopyGlobalData>
        + Dispatch<ZwlrScreencopyManagerV1, ()>
        + Dispatch<ZwlrScreencopyFrameV1, ScreencopyFrameData>
        + ScreencopyHandler
        + 'static,
{
    fn bind(
        _state: &mut D,
        _handle: &DisplayHandle,
        _client: &Client,
        resource: New<ZwlrScreencopyManagerV1>,
        _global_data: &ScreencopyGlobalData,
        data_init: &mut DataInit<'_, D>,
    ) {
        data_init.init(resource, ());
    }

    fn can_view(client: Client, global_data: &ScreencopyGlobalData) -> bool {
        (global_data.filter)(&client)
    }
}

impl<D> Dispatch<ZwlrScreencopyManagerV1, (), D> for ScreencopyManagerState
where
    D: GlobalDispatch<ZwlrScreencopyManagerV1, ScreencopyGlobalData>
        + Dispatch<ZwlrScreencopyManagerV1, ()>
        + Dispatch<ZwlrScreencopyFrameV1, ScreencopyFrameData>
        + ScreencopyHandler
        + 'static,
{
    fn request(
        _state: &mut D,
        _client: &Client,
        _manager: &ZwlrScreencopyManagerV1,
        request: zwlr_screencopy_manager_v1::Request,
        _data: &(),
        _dhandle: &DisplayHandle,
        data_init: &mut DataInit<'_, D>,
    ) {
        let (frame, overlay_cursor, output, logical_region) = match request {
            zwlr_screencopy_manager_v1::Request::CaptureOutput {
                frame,
                overlay_cursor,
                output,
            } => (frame, overlay_cursor, output, None),
            zwlr_screencopy_manager_v1::Request::CaptureOutputRegion {
                frame,
                overlay_cursor,
                output,
                x,
                y,
                width,
                height,
            } => (
                frame,
                overlay_cursor,
                output,
                Some((Point::<i32, Logical>::from((x, y)), (width, height))),
            ),
            zwlr_screencopy_manager_v1::Request::Destroy => return,
            _ => {
                warn!("unknown zwlr_screencopy_manager_v1 request");
                return;
            }
        };

        let target = Output::from_resource(&output).and_then(|output| {
            let mode = output.current_mode()?;
            let scale = output.current_scale().fractional_scale();
            let transform = output.current_transform();
            let region = match logical_region {
                None => full_region(mode.size),
                Some((loc, size)) => logical_region_to_buffer(loc, size, scale, transform, mode.size)?,
            };
            Some(FrameTarget {
                output: output.downgrade(),
                region,
            })
        });

        let frame = data_init.init(
            frame,
            ScreencopyFrameData {
                target: target.clone(),
                overlay_cursor: overlay_cursor != 0,
                copied: AtomicBool::new(false),
            },
        );

        match target {
            Some(target) => {
                let size = target.region.size;
                debug!(region = ?target.region, overlay_cursor, "new screencopy frame");
                frame.buffer(
                    ADVERTISED_FORMAT,
                    size.w as u32,
                    size.h as u32,
                    size.w as u32 * BPP as u32,
                );
                if frame.version() >= 3 {
                    frame.buffer_done();
                }
            }
            None => {
                debug!(
                    ?logical_region,
                    "screencopy capture: no output/mode or empty region"
                );
                frame.failed();
            }
        }
    }
}

impl<D> Dispatch<ZwlrScreencopyFrameV1, ScreencopyFrameData, D> for ScreencopyManagerState
where
    D: GlobalDispatch<ZwlrScreencopyManagerV1, ScreencopyGlobalData>
        + Dispatch<ZwlrScreencopyManagerV1, ()>
        + Dispatch<ZwlrScreencopyFrameV1, ScreencopyFrameData>
        + ScreencopyHandler
        + 'static,
{
    fn request(
        state: &mut D,
        _client: &Client,
        frame: &ZwlrScreencopyFrameV1,
        request: zwlr_screencopy_frame_v1::Request,
        data: &ScreencopyFrameData,
        _dhandle: &DisplayHandle,
        _data_init: &mut DataInit<'_, D>,
    ) {
        let (buffer, with_damage) = match request {
            zwlr_screencopy_frame_v1::Request::Copy { buffer } => (buffer, false),
            zwlr_screencopy_frame_v1::Request::CopyWithDamage { buffer } => (buffer, true),
            zwlr_screencopy_frame_v1::Request::Destroy => return,
            _ => {
                warn!("unknown zwlr_screencopy_frame_v1 request");
                return;
            }
        };

        if data.copied.swap(true, Ordering::AcqRel) {
            frame.post_error(
                zwlr_screencopy_frame_v1::Error::AlreadyUsed,
                "copy was already requested on this frame",
            );
            return;
        }

        // `failed` was already sent at creation.
        let Some(target) = &data.target else {
            debug!("copy on a failed screencopy frame, ignoring");
            return;
        };

        let buffer_info = shm::with_buffer_contents(&buffer, |_, len, data| (len, data));
        let (pool_len, buffer_data) = match buffer_info {
            Ok(info) => info,
            Err(BufferAccessError::NotManaged) => {
                frame.post_error(
                    zwlr_screencopy_frame_v1::Error::InvalidBuffer,
                    "only wl_shm buffers are supported",
                );
                return;
            }
            Err(err) => {
                // The client was already killed by the shm code.
                debug!(?err, "cannot access screencopy buffer");
                return;
            }
        };
        if let Err(err) = validate_buffer_data(&buffer_data, pool_len, target.region.size) {
            frame.post_error(zwlr_screencopy_frame_v1::Error::InvalidBuffer, err.to_string());
            return;
        }

        // The output may have been removed or changed mode since the frame was created.
        let Some(output) = target.output.upgrade() else {
            debug!("screencopy output is gone");
            frame.failed();
            return;
        };
        let still_fits = output
            .current_mode()
            .is_some_and(|mode| full_region(mode.size).contains_rect(target.region));
        if !still_fits {
            debug!("screencopy output mode changed, region no longer valid");
            frame.failed();
            return;
        }

        trace!(region = ?target.region, with_damage, "screencopy copy requested");
        state.frame(ScreencopyFrame {
            frame: frame.clone(),
            output,
            region: target.region,
            with_damage,
            overlay_cursor: data.overlay_cursor,
            buffer,
            finished: false,
        });
    }

    fn destroyed(
        _state: &mut D,
        _client: ClientId,
        _frame: &ZwlrScreencopyFrameV1,
        _data: &ScreencopyFrameData,
    ) {
    }
}

/// Implements the wayland-server dispatch traits of the screencopy protocol for
/// the compositor state type, which must implement
/// [`ScreencopyHandler`](crate::protocols::screencopy::ScreencopyHandler).
#[macro_export]
macro_rules! delegate_screencopy {
    ($(@<$( $lt:tt $( : $clt:tt $(+ $dlt:tt )* )? ),+>)? $ty: ty) => {
        ::smithay::reexports::wayland_server::delegate_global_dispatch!($(@< $( $lt $( : $clt $(+ $dlt )* )? ),+ >)? $ty:
            [
                $crate::protocols::screencopy::ZwlrScreencopyManagerV1:
                    $crate::protocols::screencopy::ScreencopyGlobalData
            ] => $crate::protocols::screencopy::ScreencopyManagerState
        );
        ::smithay::reexports::wayland_server::delegate_dispatch!($(@< $( $lt $( : $clt $(+ $dlt )* )? ),+ >)? $ty:
            [
                $crate::protocols::screencopy::ZwlrScreencopyManagerV1: ()
            ] => $crate::protocols::screencopy::ScreencopyManagerState
        );
        ::smithay::reexports::wayland_server::delegate_dispatch!($(@< $( $lt $( : $clt $(+ $dlt )* )? ),+ >)? $ty:
            [
                $crate::protocols::screencopy::ZwlrScreencopyFrameV1:
                    $crate::protocols::screencopy::ScreencopyFrameData
            ] => $crate::protocols::screencopy::ScreencopyManagerState
        );
    };
}

/// The whole output, in buffer pixels.
fn full_region(mode_size: Size<i32, Physical>) -> Rectangle<i32, Physical> {
    Rectangle::from_size(mode_size)
}

/// Converts a region in output logical coordinates (relative to the output's
/// top-left corner, as in `capture_output_region`) into output buffer pixels.
///
/// The region is scaled with `scale` (rounding each edge to the nearest pixel),
/// clipped to the output and mapped through `transform` into the orientation of
/// the mode (`mode_size`). Returns `None` if the result is empty.
///
/// The region is passed as raw integers because clients may send negative
/// sizes, which a smithay `Size` must not hold.
pub fn logical_region_to_buffer(
    loc: Point<i32, Logical>,
    (width, height): (i32, i32),
    scale: f64,
    transform: Transform,
    mode_size: Size<i32, Physical>,
) -> Option<Rectangle<i32, Physical>> {
    if width <= 0 || height <= 0 || mode_size.w <= 0 || mode_size.h <= 0 {
        return None;
    }
    if !scale.is_finite() || scale <= 0.0 {
        return None;
    }
    // The displayed (transformed) size of the output, in physical pixels.
    let visual = transform.transform_size(mode_size);

    // Scale each edge separately so adjacent regions stay adjacent; compute in
    // f64 so `x + width` cannot overflow, then clamp to the output.
    let edge = |v: i64, max: i32| -> i32 {
        let scaled = (v as f64 * scale).round();
        scaled.clamp(0.0, f64::from(max)) as i32
    };
    let x1 = edge(i64::from(loc.x), visual.w);
    let y1 = edge(i64::from(loc.y), visual.h);
    let x2 = edge(i64::from(loc.x) + i64::from(width), visual.w);
    let y2 = edge(i64::from(loc.y) + i64::from(height), visual.h);
    if x2 <= x1 || y2 <= y1 {
        return None;
    }

    let visual_rect = Rectangle::<i32, Physical>::new((x1, y1).into(), (x2 - x1, y2 - y1).into());
    Some(transform.transform_rect_in(visual_rect, &visual))
}

/// Checks shm buffer parameters against the advertised ones and returns the
/// number of bytes of the buffer that will be written (from its offset).
fn validate_buffer_data(
    data: &BufferData,
    pool_len: usize,
    size: Size<i32, Physical>,
) -> Result<usize, ScreencopyError> {
    if data.format != wl_shm::Format::Argb8888 && data.format != wl_shm::Format::Xrgb8888 {
        return Err(ScreencopyError::BufferMismatch(format!(
            "format {:?} is not argb8888 or xrgb8888",
            data.format
        )));
    }
    if data.width != size.w || data.height != size.h {
        return Err(ScreencopyError::BufferMismatch(format!(
            "size {}x{} does not match {}x{}",
            data.width, data.height, size.w, size.h
        )));
    }
    let min_stride = size.w as usize * BPP;
    if data.stride < 0 || (data.stride as usize) < min_stride {
        return Err(ScreencopyError::BufferMismatch(format!(
            "stride {} is smaller than {min_stride}",
            data.stride
        )));
    }
    if data.offset < 0 {
        return Err(ScreencopyError::BufferMismatch("negative offset".into()));
    }
    let needed = (data.stride as usize)
        .checked_mul(size.h as usize)
        .ok_or_else(|| ScreencopyError::BufferMismatch("buffer too large".into()))?;
    if (data.offset as usize).saturating_add(needed) > pool_len {
        return Err(ScreencopyError::BufferMismatch(
            "buffer exceeds its shm pool".into(),
        ));
    }
    Ok(needed)
}

/// Bytes needed for `rows` rows of `row_bytes` with `stride` between row starts.
fn span_len(stride: usize, rows: usize, row_bytes: usize) -> Option<usize> {
    if rows == 0 {
        return Some(0);
    }
    stride.checked_mul(rows - 1)?.checked_add(row_bytes)
}

fn check_source(
    src_len: usize,
    src_stride: usize,
    src_size: Size<i32, Physical>,
    region: Rectangle<i32, Physical>,
) -> Result<(), ScreencopyError> {
    if src_size.w < 0 || src_size.h < 0 || region.size.w < 0 || region.size.h < 0 {
        return Err(ScreencopyError::SourceMismatch("negative size".into()));
    }
    if !full_region(src_size).contains_rect(region) {
        return Err(ScreencopyError::SourceMismatch(format!(
            "region {region:?} is outside of the {}x{} source",
            src_size.w, src_size.h
        )));
    }
    if src_stride < src_size.w as usize * BPP {
        return Err(ScreencopyError::SourceMismatch(format!(
            "stride {src_stride} is smaller than width {} * 4",
            src_size.w
        )));
    }
    let needed = span_len(src_stride, src_size.h as usize, src_size.w as usize * BPP)
        .ok_or_else(|| ScreencopyError::SourceMismatch("source too large".into()))?;
    if src_len < needed {
        return Err(ScreencopyError::SourceMismatch(format!(
            "source has {src_len} bytes, needs {needed}"
        )));
    }
    Ok(())
}

/// Copies `region` of a 4-byte-per-pixel source image (`src_stride` bytes per
/// row, `src_size` pixels) to the top-left of `dst` (`dst_stride` bytes per row),
/// row by row. Bytes of `dst` outside the copied pixels are left untouched.
pub fn copy_region(
    src: &[u8],
    src_stride: usize,
    src_size: Size<i32, Physical>,
    region: Rectangle<i32, Physical>,
    dst: &mut [u8],
    dst_stride: usize,
) -> Result<(), ScreencopyError> {
    check_source(src.len(), src_stride, src_size, region)?;

    let row_bytes = region.size.w as usize * BPP;
    let rows = region.size.h as usize;
    if dst_stride < row_bytes {
        return Err(ScreencopyError::BufferMismatch(format!(
            "stride {dst_stride} is smaller than {row_bytes}"
        )));
    }
    let needed = span_len(dst_stride, rows, row_bytes)
        .ok_or_else(|| ScreencopyError::BufferMismatch("buffer too large".into()))?;
    if dst.len() < needed {
        return Err(ScreencopyError::BufferMismatch(format!(
            "buffer has {} bytes, needs {needed}",
            dst.len()
        )));
    }

    let x_offset = region.loc.x as usize * BPP;
    for row in 0..rows {
        let src_start = (region.loc.y as usize + row) * src_stride + x_offset;
        let dst_start = row * dst_stride;
        dst[dst_start..dst_start + row_bytes].copy_from_slice(&src[src_start..src_start + row_bytes]);
    }
    Ok(())
}

/// Clips `damage` (output buffer pixels) to `region` and makes it relative to
/// the region. Empty `damage` means the whole region.
fn clip_damage(
    region: Rectangle<i32, Physical>,
    damage: &[Rectangle<i32, Physical>],
) -> Vec<Rectangle<i32, Physical>> {
    if damage.is_empty() {
        return vec![Rectangle::from_size(region.size)];
    }
    damage
        .iter()
        .filter_map(|rect| rect.intersection(region))
        .filter(|rect| rect.size.w > 0 && rect.size.h > 0)
        .map(|mut rect| {
            rect.loc -= region.loc;
            rect
        })
        .collect()
}

/// Splits a timestamp into the `ready` event's `(tv_sec_hi, tv_sec_lo, tv_nsec)`.
fn split_timestamp(time: Duration) -> (u32, u32, u32) {
    let secs = time.as_secs();
    ((secs >> 32) as u32, secs as u32, time.subsec_nanos())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rect(x: i32, y: i32, w: i32, h: i32) -> Rectangle<i32, Physical> {
        Rectangle::new((x, y).into(), (w, h).into())
    }

    fn conv(
        (x, y, w, h): (i32, i32, i32, i32),
        scale: f64,
        transform: Transform,
        mode: Size<i32, Physical>,
    ) -> Option<Rectangle<i32, Physical>> {
        logical_region_to_buffer((x, y).into(), (w, h), scale, transform, mode)
    }

    fn size(w: i32, h: i32) -> Size<i32, Physical> {
        (w, h).into()
    }

    #[test]
    fn region_scale_one_is_identity() {
        let r = conv((10, 20, 30, 40), 1.0, Transform::Normal, size(800, 600));
        assert_eq!(r, Some(rect(10, 20, 30, 40)));
    }

    #[test]
    fn region_integer_scale() {
        let r = conv((10, 20, 30, 40), 2.0, Transform::Normal, size(1600, 1200));
        assert_eq!(r, Some(rect(20, 40, 60, 80)));
    }

    #[test]
    fn region_fractional_scale_rounds_edges() {
        // 1.5: x 1 -> 1.5 -> 2, x+w 4 -> 6; y 3 -> 4.5 -> 5 (round half away), y+h 4 -> 6.
        let r = conv((1, 3, 3, 1), 1.5, Transform::Normal, size(300, 300));
        assert_eq!(r, Some(rect(2, 5, 4, 1)));
        // Adjacent logical regions stay adjacent in pixels.
        let a = conv((0, 0, 3, 3), 1.25, Transform::Normal, size(100, 100)).unwrap();
        let b = conv((3, 0, 3, 3), 1.25, Transform::Normal, size(100, 100)).unwrap();
        assert_eq!(a.loc.x + a.size.w, b.loc.x);
    }

    #[test]
    fn region_is_clamped_to_output() {
        let r = conv((-10, -10, 50, 50), 1.0, Transform::Normal, size(100, 100));
        assert_eq!(r, Some(rect(0, 0, 40, 40)));
        let r = conv((90, 80, 50, 50), 2.0, Transform::Normal, size(200, 200));
        assert_eq!(r, Some(rect(180, 160, 20, 40)));
        let r = conv(
            (i32::MIN, i32::MIN, i32::MAX, i32::MAX),
            1.0,
            Transform::Normal,
            size(100, 100),
        );
        assert_eq!(r, None);
        let r = conv((0, 0, i32::MAX, i32::MAX), 3.0, Transform::Normal, size(100, 100));
        assert_eq!(r, Some(rect(0, 0, 100, 100)));
    }

    #[test]
    fn region_empty_or_outside_is_none() {
        let out = size(100, 100);
        assert_eq!(conv((0, 0, 0, 10), 1.0, Transform::Normal, out), None);
        assert_eq!(conv((0, 0, 10, -1), 1.0, Transform::Normal, out), None);
        assert_eq!(conv((100, 0, 10, 10), 1.0, Transform::Normal, out), None);
        assert_eq!(conv((-20, 0, 10, 10), 1.0, Transform::Normal, out), None);
        assert_eq!(conv((0, 0, 10, 10), 1.0, Transform::Normal, size(0, 0)), None);
        assert_eq!(conv((0, 0, 10, 10), 0.0, Transform::Normal, out), None);
        // Rounds to zero pixels.
        assert_eq!(conv((0, 0, 1, 1), 0.25, Transform::Normal, out), None);
    }

    #[test]
    fn region_rotated_output_maps_into_mode_orientation() {
        // Mode 200x100 rotated by 90°: displayed as 100x200.
        let mode = size(200, 100);
        let full = conv((0, 0, 100, 200), 1.0, Transform::_90, mode);
        assert_eq!(full, Some(rect(0, 0, 200, 100)));
        // Clamped against the displayed size (100 wide), not the mode width.
        let r = conv((0, 0, 150, 10), 1.0, Transform::_90, mode);
        assert_eq!(r.map(|r| r.size), Some(size(10, 100)));
        let r = conv((10, 20, 30, 40), 1.0, Transform::_180, size(100, 100));
        assert_eq!(r, Some(rect(60, 40, 30, 40)));
    }

    /// A `w`x`h` image where pixel (x, y) is [x, y, 0xAB, 0xFF], with `pad` extra bytes per row.
    fn image(w: usize, h: usize, pad: usize) -> (Vec<u8>, usize) {
        let stride = w * 4 + pad;
        let mut v = vec![0xEE; stride * h];
        for y in 0..h {
            for x in 0..w {
                v[y * stride + x * 4..y * stride + x * 4 + 4]
                    .copy_from_slice(&[x as u8, y as u8, 0xAB, 0xFF]);
            }
        }
        (v, stride)
    }

    #[test]
    fn copy_full_image_same_stride() {
        let (src, stride) = image(8, 6, 0);
        let mut dst = vec![0u8; src.len()];
        copy_region(&src, stride, size(8, 6), rect(0, 0, 8, 6), &mut dst, stride).unwrap();
        assert_eq!(dst, src);
    }

    #[test]
    fn copy_region_into_wider_stride() {
        let (src, src_stride) = image(10, 8, 12);
        let region = rect(3, 2, 4, 5);
        let dst_stride = 4 * 4 + 8;
        let mut dst = vec![0x11u8; dst_stride * 5];
        copy_region(&src, src_stride, size(10, 8), region, &mut dst, dst_stride).unwrap();
        for row in 0..5 {
            for col in 0..4 {
                let px = &dst[row * dst_stride + col * 4..row * dst_stride + col * 4 + 4];
                assert_eq!(px, &[(3 + col) as u8, (2 + row) as u8, 0xAB, 0xFF]);
            }
            // Row padding untouched.
            assert!(dst[row * dst_stride + 16..(row + 1) * dst_stride]
                .iter()
                .all(|&b| b == 0x11));
        }
    }

    #[test]
    fn copy_accepts_short_last_row() {
        // The last row of the destination does not need the stride padding.
        let (src, src_stride) = image(4, 3, 0);
        let dst_stride = 32;
        let mut dst = vec![0u8; dst_stride * 2 + 8];
        copy_region(
            &src,
            src_stride,
            size(4, 3),
            rect(1, 0, 2, 3),
            &mut dst,
            dst_stride,
        )
        .unwrap();
        assert_eq!(&dst[dst_stride * 2..], &[1, 2, 0xAB, 0xFF, 2, 2, 0xAB, 0xFF]);
    }

    #[test]
    fn copy_rejects_mismatches() {
        let (src, stride) = image(4, 4, 0);
        let mut dst = vec![0u8; 64];
        // Region outside the source.
        assert!(matches!(
            copy_region(&src, stride, size(4, 4), rect(2, 2, 4, 4), &mut dst, 16),
            Err(ScreencopyError::SourceMismatch(_))
        ));
        // Source shorter than announced.
        assert!(matches!(
            copy_region(&src[..40], stride, size(4, 4), rect(0, 0, 4, 4), &mut dst, 16),
            Err(ScreencopyError::SourceMismatch(_))
        ));
        // Source stride too small.
        assert!(matches!(
            copy_region(&src, 8, size(4, 4), rect(0, 0, 1, 1), &mut dst, 16),
            Err(ScreencopyError::SourceMismatch(_))
        ));
        // Destination stride too small.
        assert!(matches!(
            copy_region(&src, stride, size(4, 4), rect(0, 0, 4, 4), &mut dst, 12),
            Err(ScreencopyError::BufferMismatch(_))
        ));
        // Destination too short.
        assert!(matches!(
            copy_region(&src, stride, size(4, 4), rect(0, 0, 4, 4), &mut dst[..63], 16),
            Err(ScreencopyError::BufferMismatch(_))
        ));
    }

    fn buffer_data(w: i32, h: i32, stride: i32, format: wl_shm::Format) -> BufferData {
        BufferData {
            offset: 0,
            width: w,
            height: h,
            stride,
            format,
        }
    }

    #[test]
    fn buffer_validation() {
        let sz = size(10, 5);
        assert_eq!(
            validate_buffer_data(&buffer_data(10, 5, 40, wl_shm::Format::Argb8888), 200, sz).unwrap(),
            200
        );
        assert!(validate_buffer_data(&buffer_data(10, 5, 48, wl_shm::Format::Xrgb8888), 240, sz).is_ok());
        // Wrong format, size, stride, pool too small.
        assert!(validate_buffer_data(&buffer_data(10, 5, 40, wl_shm::Format::Rgb565), 200, sz).is_err());
        assert!(validate_buffer_data(&buffer_data(10, 6, 40, wl_shm::Format::Argb8888), 240, sz).is_err());
        assert!(validate_buffer_data(&buffer_data(10, 5, 36, wl_shm::Format::Argb8888), 200, sz).is_err());
        assert!(validate_buffer_data(&buffer_data(10, 5, 40, wl_shm::Format::Argb8888), 199, sz).is_err());
        let mut offset = buffer_data(10, 5, 40, wl_shm::Format::Argb8888);
        offset.offset = 100;
        assert!(validate_buffer_data(&offset, 299, sz).is_err());
        assert!(validate_buffer_data(&offset, 300, sz).is_ok());
    }

    #[test]
    fn damage_clipping() {
        let region = rect(100, 50, 200, 100);
        assert_eq!(clip_damage(region, &[]), vec![rect(0, 0, 200, 100)]);
        assert_eq!(
            clip_damage(
                region,
                &[rect(90, 40, 20, 20), rect(0, 0, 10, 10), rect(150, 60, 10, 10)]
            ),
            vec![rect(0, 0, 10, 10), rect(50, 10, 10, 10)]
        );
    }

    #[test]
    fn timestamp_split() {
        assert_eq!(split_timestamp(Duration::new(5, 123)), (0, 5, 123));
        assert_eq!(
            split_timestamp(Duration::new((7u64 << 32) | 9, 999_999_999)),
            (7, 9, 999_999_999)
        );
    }
}

/// In-process protocol tests: a smithay server and a wayland-client client
/// talking over a socket pair, pumped by hand on one thread.
#[cfg(test)]
mod protocol_tests {
    use std::fs::File;
    use std::os::fd::{AsFd, FromRawFd, OwnedFd};
    use std::os::unix::fs::FileExt;
    use std::os::unix::net::UnixStream;
    use std::sync::Arc;
    use std::time::Duration;

    use smithay::output::{Mode, Output, PhysicalProperties, Scale, Subpixel};
    use smithay::reexports::wayland_server::backend::{ClientData, ClientId, DisconnectReason};
    use smithay::reexports::wayland_server::protocol::{wl_buffer, wl_surface::WlSurface};
    use smithay::reexports::wayland_server::{Client, Display};
    use smithay::utils::{Physical, Rectangle, Size, Transform};
    use smithay::wayland::buffer::BufferHandler;
    use smithay::wayland::compositor::{CompositorClientState, CompositorHandler, CompositorState};
    use smithay::wayland::output::OutputHandler;
    use smithay::wayland::shm::{ShmHandler, ShmState};
    use smithay::{delegate_compositor, delegate_output, delegate_shm};

    use wayland_client::protocol::{wl_buffer as c_buffer, wl_output, wl_registry, wl_shm, wl_shm_pool};
    use wayland_client::{Connection, EventQueue, QueueHandle, WEnum};
    use wayland_protocols_wlr::screencopy::v1::client::{
        zwlr_screencopy_frame_v1 as c_frame, zwlr_screencopy_manager_v1 as c_manager,
    };

    use super::{ScreencopyFrame, ScreencopyHandler, ScreencopyManagerState};

    // ---- server ----

    struct Server {
        compositor: CompositorState,
        shm: ShmState,
        _screencopy: ScreencopyManagerState,
        frames: Vec<ScreencopyFrame>,
    }

    #[derive(Default)]
    struct ServerClientData {
        compositor: CompositorClientState,
    }
    impl ClientData for ServerClientData {
        fn initialized(&self, _: ClientId) {}
        fn disconnected(&self, _: ClientId, _: DisconnectReason) {}
    }

    impl CompositorHandler for Server {
        fn compositor_state(&mut self) -> &mut CompositorState {
            &mut self.compositor
        }
        fn client_compositor_state<'a>(&self, client: &'a Client) -> &'a CompositorClientState {
            &client.get_data::<ServerClientData>().unwrap().compositor
        }
        fn commit(&mut self, _: &WlSurface) {}
    }
    impl BufferHandler for Server {
        fn buffer_destroyed(&mut self, _: &wl_buffer::WlBuffer) {}
    }
    impl ShmHandler for Server {
        fn shm_state(&self) -> &ShmState {
            &self.shm
        }
    }
    impl OutputHandler for Server {}
    impl ScreencopyHandler for Server {
        fn frame(&mut self, frame: ScreencopyFrame) {
            self.frames.push(frame);
        }
    }
    delegate_compositor!(Server);
    delegate_shm!(Server);
    delegate_output!(Server);
    crate::delegate_screencopy!(Server);

    // ---- client ----

    #[derive(Debug, Clone, PartialEq)]
    enum Ev {
        Buffer(WEnum<wl_shm::Format>, u32, u32, u32),
        BufferDone,
        Flags(u32),
        Damage(u32, u32, u32, u32),
        Ready(u32, u32, u32),
        Failed,
    }

    #[derive(Default)]
    struct ClientState {
        globals: Vec<(u32, String, u32)>,
        events: Vec<(u32, Ev)>,
    }

    impl wayland_client::Dispatch<wl_registry::WlRegistry, ()> for ClientState {
        fn event(
            state: &mut Self,
            _: &wl_registry::WlRegistry,
            event: wl_registry::Event,
            _: &(),
            _: &Connection,
            _: &QueueHandle<Self>,
        ) {
            if let wl_registry::Event::Global {
                name,
                interface,
                version,
            } = event
            {
                state.globals.push((name, interface, version));
            }
        }
    }
    macro_rules! ignore_events {
        ($($iface:ty),*) => {$(
            impl wayland_client::Dispatch<$iface, ()> for ClientState {
                fn event(_: &mut Self, _: &$iface, _: <$iface as wayland_client::Proxy>::Event,
                    _: &(), _: &Connection, _: &QueueHandle<Self>) {}
            }
        )*};
    }
    ignore_events!(
        wl_shm::WlShm,
        wl_shm_pool::WlShmPool,
        c_buffer::WlBuffer,
        wl_output::WlOutput,
        c_manager::ZwlrScreencopyManagerV1
    );
    impl wayland_client::Dispatch<c_frame::ZwlrScreencopyFrameV1, u32> for ClientState {
        fn event(
            state: &mut Self,
            _: &c_frame::ZwlrScreencopyFrameV1,
            event: c_frame::Event,
            tag: &u32,
            _: &Connection,
            _: &QueueHandle<Self>,
        ) {
            let ev = match event {
                c_frame::Event::Buffer {
                    format,
                    width,
                    height,
                    stride,
                } => Ev::Buffer(format, width, height, stride),
                c_frame::Event::BufferDone => Ev::BufferDone,
                c_frame::Event::Flags { flags } => Ev::Flags(u32::from(flags)),
                c_frame::Event::Damage { x, y, width, height } => Ev::Damage(x, y, width, height),
                c_frame::Event::Ready {
                    tv_sec_hi,
                    tv_sec_lo,
                    tv_nsec,
                } => Ev::Ready(tv_sec_hi, tv_sec_lo, tv_nsec),
                c_frame::Event::Failed => Ev::Failed,
                other => panic!("unexpected event {other:?}"),
            };
            state.events.push((*tag, ev));
        }
    }

    // ---- harness ----

    struct Harness {
        display: Display<Server>,
        server: Server,
        output: Output,
        conn: Connection,
        queue: EventQueue<ClientState>,
        client: ClientState,
        shm: wl_shm::WlShm,
        manager: c_manager::ZwlrScreencopyManagerV1,
        wl_output: wl_output::WlOutput,
    }

    impl Harness {
        fn new(mode: (i32, i32), scale: f64) -> Self {
            let display = Display::<Server>::new().unwrap();
            let dh = display.handle();
            let server = Server {
                compositor: CompositorState::new::<Server>(&dh),
                shm: ShmState::new::<Server>(&dh, [super::wl_shm::Format::Abgr8888]),
                _screencopy: ScreencopyManagerState::new::<Server>(&dh, |_| true),
                frames: Vec::new(),
            };
            let output = Output::new(
                "TEST-1".into(),
                PhysicalProperties {
                    size: (0, 0).into(),
                    subpixel: Subpixel::Unknown,
                    make: "test".into(),
                    model: "test".into(),
                },
            );
            let mode = Mode {
                size: mode.into(),
                refresh: 60_000,
            };
            output.change_current_state(
                Some(mode),
                Some(Transform::Normal),
                Some(Scale::Fractional(scale)),
                Some((0, 0).into()),
            );
            output.set_preferred(mode);
            output.create_global::<Server>(&dh);

            let (server_sock, client_sock) = UnixStream::pair().unwrap();
            display
                .handle()
                .insert_client(server_sock, Arc::new(ServerClientData::default()))
                .unwrap();
            let conn = Connection::from_socket(client_sock).unwrap();
            let queue = conn.new_event_queue();
            let qh = queue.handle();
            let registry = conn.display().get_registry(&qh, ());

            let mut display = display;
            let mut server = server;
            let mut queue = queue;
            let mut client = ClientState::default();
            pump(&mut display, &mut server, &conn, &mut queue, &mut client);
            let find = |iface: &str| client.globals.iter().find(|g| g.1 == iface).cloned().unwrap();
            let shm = registry.bind(find("wl_shm").0, 1, &qh, ());
            let wl_output = registry.bind(find("wl_output").0, 4, &qh, ());
            let g = find("zwlr_screencopy_manager_v1");
            assert_eq!(g.2, 3);
            let manager = registry.bind(g.0, 3, &qh, ());
            let mut h = Harness {
                display,
                server,
                output,
                conn,
                queue,
                client,
                shm,
                manager,
                wl_output,
            };
            h.pump();
            h
        }

        fn qh(&self) -> QueueHandle<ClientState> {
            self.queue.handle()
        }

        fn pump(&mut self) {
            pump(
                &mut self.display,
                &mut self.server,
                &self.conn,
                &mut self.queue,
                &mut self.client,
            );
        }

        fn events(&mut self, tag: u32) -> Vec<Ev> {
            self.client
                .events
                .iter()
                .filter(|e| e.0 == tag)
                .map(|e| e.1.clone())
                .collect()
        }

        /// An shm buffer backed by a memfd.
        fn buffer(
            &mut self,
            w: i32,
            h: i32,
            stride: i32,
            format: wl_shm::Format,
        ) -> (c_buffer::WlBuffer, File) {
            let fd = unsafe { libc::memfd_create(c"screencopy-test".as_ptr(), libc::MFD_CLOEXEC) };
            assert!(fd >= 0);
            let file = File::from(unsafe { OwnedFd::from_raw_fd(fd) });
            let len = stride * h;
            file.set_len(len as u64).unwrap();
            let qh = self.qh();
            let pool = self.shm.create_pool(file.as_fd(), len, &qh, ());
            let buffer = pool.create_buffer(0, w, h, stride, format, &qh, ());
            pool.destroy();
            (buffer, file)
        }

        fn protocol_error(&self) -> Option<(u32, String)> {
            self.conn.protocol_error().map(|e| (e.code, e.object_interface))
        }
    }

    /// Exchanges messages until both sides are idle (everything is in-process
    /// and non-blocking, so a few rounds are enough).
    fn pump(
        display: &mut Display<Server>,
        server: &mut Server,
        conn: &Connection,
        queue: &mut EventQueue<ClientState>,
        client: &mut ClientState,
    ) {
        for _ in 0..4 {
            let _ = conn.flush();
            display.dispatch_clients(server).unwrap();
            display.flush_clients().unwrap();
            if let Some(guard) = queue.prepare_read() {
                let _ = guard.read();
            }
            let _ = queue.dispatch_pending(client);
        }
    }

    /// Source image where pixel (x, y) = [x, y, 0x77, 0xFF].
    fn source(size: Size<i32, Physical>) -> Vec<u8> {
        let mut v = Vec::new();
        for y in 0..size.h {
            for x in 0..size.w {
                v.extend_from_slice(&[x as u8, y as u8, 0x77, 0xFF]);
            }
        }
        v
    }

    #[test]
    fn capture_output_copy_and_ready() {
        let mut h = Harness::new((64, 32), 1.0);
        let qh = h.qh();
        let frame = h.manager.capture_output(1, &h.wl_output, &qh, 1);
        h.pump();
        assert_eq!(
            h.events(1),
            vec![
                Ev::Buffer(WEnum::Value(wl_shm::Format::Argb8888), 64, 32, 256),
                Ev::BufferDone
            ]
        );

        // Larger stride than advertised, xrgb: accepted.
        let (buffer, file) = h.buffer(64, 32, 300, wl_shm::Format::Xrgb8888);
        frame.copy(&buffer);
        h.pump();
        assert!(h.protocol_error().is_none());
        assert_eq!(h.server.frames.len(), 1);

        let sc = h.server.frames.pop().unwrap();
        assert_eq!(sc.region(), Rectangle::from_size((64, 32).into()));
        assert!(!sc.with_damage());
        assert!(sc.overlay_cursor());
        assert_eq!(sc.output(), &h.output);
        let size = Size::from((64, 32));
        sc.copy_from(&source(size), 64 * 4, size).unwrap();
        sc.submit(Duration::new((3u64 << 32) | 5, 42), &[]);
        h.pump();
        assert_eq!(h.events(1)[2..], [Ev::Flags(0), Ev::Ready(3, 5, 42)]);

        let mut row = vec![0u8; 256];
        file.read_exact_at(&mut row, 300 * 7).unwrap();
        assert_eq!(&row[..8], &[0, 7, 0x77, 0xFF, 1, 7, 0x77, 0xFF]);
        assert_eq!(&row[63 * 4..], &[63, 7, 0x77, 0xFF]);
    }

    #[test]
    fn capture_region_with_damage() {
        let mut h = Harness::new((200, 100), 2.0);
        let qh = h.qh();
        // Logical 100x50 output; the region is clipped at the right edge.
        let frame = h
            .manager
            .capture_output_region(0, &h.wl_output, 90, 10, 20, 5, &qh, 2);
        h.pump();
        assert_eq!(
            h.events(2),
            vec![
                Ev::Buffer(WEnum::Value(wl_shm::Format::Argb8888), 20, 10, 80),
                Ev::BufferDone
            ]
        );
        let (buffer, file) = h.buffer(20, 10, 80, wl_shm::Format::Argb8888);
        frame.copy_with_damage(&buffer);
        h.pump();
        let sc = h.server.frames.pop().unwrap();
        assert_eq!(sc.region(), Rectangle::new((180, 20).into(), (20, 10).into()));
        assert!(sc.with_damage());
        assert!(!sc.overlay_cursor());
        let size = Size::from((200, 100));
        // Wrong source size is rejected without touching the buffer.
        assert!(sc.copy_from(&source(size), 200 * 4, (100, 100).into()).is_err());
        sc.copy_from(&source(size), 200 * 4, size).unwrap();
        sc.submit(
            Duration::from_secs(1),
            &[
                Rectangle::new((185, 25).into(), (100, 2).into()),
                Rectangle::new((0, 0).into(), (5, 5).into()),
            ],
        );
        h.pump();
        assert_eq!(
            h.events(2)[2..],
            [Ev::Flags(0), Ev::Damage(5, 5, 15, 2), Ev::Ready(0, 1, 0)]
        );
        let mut px = [0u8; 4];
        file.read_exact_at(&mut px, 80 * 3 + 4 * 2).unwrap();
        assert_eq!(px, [182, 23, 0x77, 0xFF]);
    }

    #[test]
    fn empty_region_fails_immediately() {
        let mut h = Harness::new((64, 64), 1.0);
        let qh = h.qh();
        let _frame = h
            .manager
            .capture_output_region(0, &h.wl_output, 100, 100, 10, 10, &qh, 3);
        let _frame2 = h
            .manager
            .capture_output_region(0, &h.wl_output, 0, 0, 0, 10, &qh, 4);
        // Negative sizes must not trip smithay's `Size` assertions.
        let _frame3 = h
            .manager
            .capture_output_region(0, &h.wl_output, 10, 10, -5, -5, &qh, 9);
        h.pump();
        assert_eq!(h.events(3), vec![Ev::Failed]);
        assert_eq!(h.events(4), vec![Ev::Failed]);
        assert_eq!(h.events(9), vec![Ev::Failed]);
        assert!(h.protocol_error().is_none());
    }

    #[test]
    fn dropped_frame_sends_failed_and_dead_frame_is_harmless() {
        let mut h = Harness::new((16, 16), 1.0);
        let qh = h.qh();
        let f1 = h.manager.capture_output(0, &h.wl_output, &qh, 5);
        let f2 = h.manager.capture_output(0, &h.wl_output, &qh, 6);
        let (b1, _file1) = h.buffer(16, 16, 64, wl_shm::Format::Argb8888);
        let (b2, _file2) = h.buffer(16, 16, 64, wl_shm::Format::Argb8888);
        f1.copy(&b1);
        f2.copy(&b2);
        h.pump();
        assert_eq!(h.server.frames.len(), 2);
        let sc2 = h.server.frames.pop().unwrap();
        let sc1 = h.server.frames.pop().unwrap();
        drop(sc1);
        f2.destroy();
        h.pump();
        assert!(!sc2.is_alive());
        assert!(matches!(
            sc2.copy_from(&[0; 16 * 16 * 4], 64, (16, 16).into()),
            Err(super::ScreencopyError::FrameDestroyed)
        ));
        sc2.submit(Duration::ZERO, &[]);
        h.pump();
        assert_eq!(h.events(5)[2..], [Ev::Failed]);
        assert_eq!(h.events(6).len(), 2);
        assert!(h.protocol_error().is_none());
    }

    #[test]
    fn second_copy_is_already_used() {
        let mut h = Harness::new((16, 16), 1.0);
        let qh = h.qh();
        let frame = h.manager.capture_output(0, &h.wl_output, &qh, 7);
        let (buffer, _file) = h.buffer(16, 16, 64, wl_shm::Format::Argb8888);
        frame.copy(&buffer);
        frame.copy(&buffer);
        h.pump();
        assert_eq!(h.protocol_error(), Some((0, "zwlr_screencopy_frame_v1".into())));
    }

    #[test]
    fn wrong_buffer_is_invalid_buffer() {
        for (w, h_, stride, format) in [
            (15, 16, 64, wl_shm::Format::Argb8888),
            (16, 17, 64, wl_shm::Format::Argb8888),
            (16, 16, 64, wl_shm::Format::Abgr8888),
        ] {
            let mut h = Harness::new((16, 16), 1.0);
            let qh = h.qh();
            let frame = h.manager.capture_output(0, &h.wl_output, &qh, 8);
            let (buffer, _file) = h.buffer(w, h_, stride, format);
            frame.copy(&buffer);
            h.pump();
            assert_eq!(
                h.protocol_error(),
                Some((1, "zwlr_screencopy_frame_v1".into())),
                "{w}x{h_} {format:?}"
            );
            assert!(h.server.frames.is_empty());
        }
    }
}
