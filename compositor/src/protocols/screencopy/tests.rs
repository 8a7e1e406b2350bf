//! Unit tests of the pure parts: region maths, pixel copies, damage clipping.

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
            v[y * stride + x * 4..y * stride + x * 4 + 4].copy_from_slice(&[x as u8, y as u8, 0xAB, 0xFF]);
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
