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
mod tests;

#[cfg(test)]
mod protocol_tests;
