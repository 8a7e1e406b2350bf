//! Tests for `layer_layout`: the protocol's placement rules, the cases WLCS checks, and
//! properties over random sets of surfaces.

use proptest::prelude::*;

use super::*;

const OUTPUT: Rect = Rect::new(0, 0, 1920, 1080);

fn anchors(top: bool, bottom: bool, left: bool, right: bool) -> Anchors {
    Anchors {
        top,
        bottom,
        left,
        right,
    }
}

fn spec(a: Anchors, size: (i32, i32)) -> LayerSpec {
    LayerSpec {
        layer: Layer::Top,
        anchors: a,
        exclusive_zone: 0,
        margins: Margins::default(),
        size: Size::new(size.0, size.1),
        mapped: true,
    }
}

fn panel(layer: Layer, a: Anchors, zone: i32, size: (i32, i32)) -> LayerSpec {
    LayerSpec {
        layer,
        exclusive_zone: zone,
        ..spec(a, size)
    }
}

const TOP: Anchors = Anchors {
    top: true,
    ..Anchors::NONE
};
const LEFT: Anchors = Anchors {
    left: true,
    ..Anchors::NONE
};

#[test]
fn requested_size_is_centred_between_opposite_anchors() {
    let a = arrange(OUTPUT, &[spec(Anchors::ALL, (321, 218))]);
    assert_eq!(a.rects, [Rect::new(799, 431, 321, 218)]);
    assert_eq!(a.usable, OUTPUT);
}

#[test]
fn zero_stretches_between_anchors_minus_margins() {
    let s = LayerSpec {
        margins: Margins {
            top: 12,
            right: 9,
            bottom: 15,
            left: 6,
        },
        ..spec(anchors(true, false, true, true), (0, 300))
    };
    assert_eq!(arrange(OUTPUT, &[s]).rects, [Rect::new(6, 12, 1905, 300)]);
}

/// Every anchor combination, with and without margins, against the placement WLCS expects
/// (computed here the way its test computes it).
#[test]
fn every_anchor_combination_is_placed_as_wlcs_expects() {
    let margins = [
        Margins::default(),
        Margins {
            top: 12,
            right: 9,
            bottom: 15,
            left: 6,
        },
    ];
    let area = Rect::new(12, 12, 1908, 1068);
    for bits in 0..16u8 {
        let a = anchors(bits & 1 != 0, bits & 2 != 0, bits & 4 != 0, bits & 8 != 0);
        for m in margins {
            let h_expand = a.left && a.right;
            let v_expand = a.top && a.bottom;
            let request = (if h_expand { 0 } else { 200 }, if v_expand { 0 } else { 300 });
            let w = if h_expand { area.w - m.left - m.right } else { 200 };
            let h = if v_expand { area.h - m.top - m.bottom } else { 300 };
            let x = match (a.left, a.right) {
                (true, _) => area.x + m.left,
                (false, true) => area.x + area.w - w - m.right,
                (false, false) => area.x + (area.w - w) / 2,
            };
            let y = match (a.top, a.bottom) {
                (true, _) => area.y + m.top,
                (false, true) => area.y + area.h - h - m.bottom,
                (false, false) => area.y + (area.h - h) / 2,
            };
            let s = LayerSpec {
                margins: m,
                ..spec(a, request)
            };
            assert_eq!(
                s.place_in(area),
                Rect::new(x, y, w, h),
                "anchors {a:?}, margins {m:?}"
            );
        }
    }
}

#[test]
fn a_surface_mapped_before_panels_moves_out_of_their_way() {
    let surfaces = [
        spec(Anchors::ALL, (0, 0)),
        panel(Layer::Top, TOP, 12, (12, 12)),
        panel(Layer::Top, LEFT, 12, (12, 12)),
    ];
    let a = arrange(OUTPUT, &surfaces);
    assert_eq!(a.usable, Rect::new(12, 12, 1908, 1068));
    assert_eq!(a.rects[0], a.usable);
    // The left panel sits in what the top panel leaves, centred on its edge.
    assert_eq!(a.rects[1], Rect::new(954, 0, 12, 12));
    assert_eq!(a.rects[2], Rect::new(0, 12 + (1068 - 12) / 2, 12, 12));
}

#[test]
fn zones_count_only_along_one_edge() {
    let no_edge = [
        anchors(true, false, true, false), // a corner
        anchors(false, true, false, true), // another corner
        anchors(true, true, false, false), // two parallel edges
        anchors(false, false, true, true), // the other two
        Anchors::ALL,
        Anchors::NONE,
    ];
    for a in no_edge {
        let s = panel(Layer::Top, a, 25, (100, 100));
        assert_eq!(s.claim(), None, "{a:?}");
        assert_eq!(arrange(OUTPUT, &[s]).usable, OUTPUT, "{a:?}");
    }
    let with_margin = |a: Anchors| LayerSpec {
        margins: Margins {
            top: 12,
            right: 9,
            bottom: 15,
            left: 6,
        },
        ..panel(Layer::Top, a, 25, (100, 100))
    };
    let cases = [
        (TOP, Rect::new(0, 37, 1920, 1043)),
        (anchors(true, false, true, true), Rect::new(0, 37, 1920, 1043)),
        (anchors(false, true, false, false), Rect::new(0, 0, 1920, 1040)),
        (LEFT, Rect::new(31, 0, 1889, 1080)),
        (anchors(true, true, true, false), Rect::new(31, 0, 1889, 1080)),
        (anchors(true, true, false, true), Rect::new(0, 0, 1886, 1080)),
    ];
    for (a, usable) in cases {
        assert_eq!(arrange(OUTPUT, &[with_margin(a)]).usable, usable, "{a:?}");
    }
}

#[test]
fn a_negative_zone_ignores_the_others() {
    let wallpaper = panel(Layer::Background, Anchors::ALL, -1, (0, 0));
    let bar = panel(Layer::Top, TOP, 30, (0, 30));
    let bar = LayerSpec {
        anchors: anchors(true, false, true, true),
        ..bar
    };
    let a = arrange(OUTPUT, &[wallpaper, bar]);
    assert_eq!(a.rects[0], OUTPUT);
    assert_eq!(a.rects[1], Rect::new(0, 0, 1920, 30));
    assert_eq!(a.usable, Rect::new(0, 30, 1920, 1050));
}

#[test]
fn an_unmapped_panel_reserves_nothing_yet() {
    let mut bar = panel(Layer::Top, TOP, 30, (200, 30));
    bar.mapped = false;
    let a = arrange(OUTPUT, &[bar]);
    assert_eq!(a.usable, OUTPUT);
    assert_eq!(a.rects[0], Rect::new(860, 0, 200, 30));
}

#[test]
fn higher_layers_reserve_first() {
    // A top-layer dock mapped first still sits below an overlay bar mapped after it.
    let dock = panel(Layer::Top, anchors(true, true, true, false), 20, (20, 0));
    let bar = panel(Layer::Overlay, anchors(true, false, true, true), 30, (0, 30));
    let a = arrange(OUTPUT, &[dock, bar]);
    assert_eq!(a.rects[0], Rect::new(0, 30, 20, 1050));
    assert_eq!(a.rects[1], Rect::new(0, 0, 1920, 30));
    assert_eq!(a.usable, Rect::new(20, 30, 1900, 1050));
}

#[test]
fn zones_bigger_than_the_output_leave_nothing_not_less() {
    let a = arrange(
        OUTPUT,
        &[
            panel(Layer::Top, TOP, 5000, (10, 10)),
            panel(Layer::Top, LEFT, 5000, (10, 10)),
        ],
    );
    assert_eq!(a.usable, Rect::new(1920, 1080, 0, 0));
}

#[test]
fn margins_on_edges_not_anchored_do_not_count() {
    let s = LayerSpec {
        margins: Margins {
            top: 50,
            right: 50,
            bottom: 50,
            left: 50,
        },
        ..spec(TOP, (200, 100))
    };
    assert_eq!(s.place_in(OUTPUT), Rect::new(860, 50, 200, 100));
}

fn any_anchors() -> impl Strategy<Value = Anchors> {
    (0..16u8).prop_map(|b| anchors(b & 1 != 0, b & 2 != 0, b & 4 != 0, b & 8 != 0))
}

fn any_layer() -> impl Strategy<Value = Layer> {
    prop_oneof![
        Just(Layer::Background),
        Just(Layer::Bottom),
        Just(Layer::Top),
        Just(Layer::Overlay)
    ]
}

fn margins(range: std::ops::Range<i32>) -> impl Strategy<Value = Margins> {
    (range.clone(), range.clone(), range.clone(), range).prop_map(|(top, right, bottom, left)| Margins {
        top,
        right,
        bottom,
        left,
    })
}

/// Any surface: any anchors, zone, margins and size the protocol lets through.
fn any_spec(margin: std::ops::Range<i32>) -> impl Strategy<Value = LayerSpec> {
    (
        any_layer(),
        any_anchors(),
        -1..60i32,
        margins(margin),
        (0..2500i32, 0..1500i32),
        any::<bool>(),
    )
        .prop_map(
            |(layer, anchors, exclusive_zone, margins, (w, h), mapped)| LayerSpec {
                layer,
                anchors,
                exclusive_zone,
                margins,
                // A size of 0 needs both anchors on that axis.
                size: Size::new(
                    if anchors.left && anchors.right {
                        w
                    } else {
                        w.max(1)
                    },
                    if anchors.top && anchors.bottom {
                        h
                    } else {
                        h.max(1)
                    },
                ),
                mapped,
            },
        )
}

/// A shown panel along one edge (alone or with both perpendicular edges), small enough that
/// any eight of them fit on the output.
fn edge_panel() -> impl Strategy<Value = LayerSpec> {
    (any_layer(), 0..4u8, any::<bool>(), 1..50i32, margins(0..20)).prop_map(
        |(layer, edge, across, zone, margins)| {
            let a = match edge {
                0 => anchors(true, false, across, across),
                1 => anchors(false, true, across, across),
                2 => anchors(across, across, true, false),
                _ => anchors(across, across, false, true),
            };
            LayerSpec {
                margins,
                ..panel(layer, a, zone, (10, 10))
            }
        },
    )
}

/// Whether `size` plus the margins on the anchored edges fits in `area` on both axes.
fn fits(s: &LayerSpec, area: Rect) -> bool {
    let m = s.margins;
    let a = s.anchors;
    let need_w = s.size.w.max(1) + if a.left { m.left } else { 0 } + if a.right { m.right } else { 0 };
    let need_h = s.size.h.max(1) + if a.top { m.top } else { 0 } + if a.bottom { m.bottom } else { 0 };
    need_w <= area.w && need_h <= area.h
}

proptest! {
    /// The usable area is the output minus exactly the zones that count, whatever the order.
    #[test]
    fn usable_area_shrinks_by_exactly_the_valid_zones(
        panels in prop::collection::vec(edge_panel(), 0..8),
        others in prop::collection::vec(any_spec(-30..30), 0..6),
    ) {
        let others: Vec<LayerSpec> = others.into_iter().filter(|s| s.claim().is_none()).collect();
        let mut surfaces: Vec<LayerSpec> = panels.iter().chain(&others).copied().collect();
        let depth = |edge: Edge| -> i32 {
            panels
                .iter()
                .filter_map(|p| p.claim())
                .filter(|(e, _)| *e == edge)
                .map(|(_, d)| d as i32)
                .sum()
        };
        let (top, bottom, left, right) =
            (depth(Edge::Top), depth(Edge::Bottom), depth(Edge::Left), depth(Edge::Right));
        let expected = Rect::new(left, top, OUTPUT.w - left - right, OUTPUT.h - top - bottom);
        prop_assert_eq!(arrange(OUTPUT, &surfaces).usable, expected);
        surfaces.reverse();
        prop_assert_eq!(arrange(OUTPUT, &surfaces).usable, expected);
    }

    /// The usable area never leaves the output, nor has a negative size.
    #[test]
    fn usable_area_stays_inside_the_output(
        surfaces in prop::collection::vec(any_spec(-2000..2000), 0..10),
    ) {
        let usable = arrange(OUTPUT, &surfaces).usable;
        prop_assert!(usable.w >= 0 && usable.h >= 0, "{:?}", usable);
        prop_assert!(usable.x >= OUTPUT.x && usable.right() <= OUTPUT.right(), "{:?}", usable);
        prop_assert!(usable.y >= OUTPUT.y && usable.bottom() <= OUTPUT.bottom(), "{:?}", usable);
    }

    /// A surface whose size and margins fit in the area it is placed in stays inside that area
    /// (the usable area, or the output for a negative zone), and is configured with the size it
    /// asked for wherever it asked for one.
    #[test]
    fn surfaces_that_fit_stay_inside(surfaces in prop::collection::vec(any_spec(0..40), 1..10)) {
        let a = arrange(OUTPUT, &surfaces);
        for (s, rect) in surfaces.iter().zip(&a.rects) {
            if s.size.w > 0 {
                prop_assert_eq!(rect.w, s.size.w);
            }
            if s.size.h > 0 {
                prop_assert_eq!(rect.h, s.size.h);
            }
            let bounds = if s.exclusive_zone < 0 { OUTPUT } else { a.usable };
            if !fits(s, bounds) {
                continue;
            }
            if s.claim().is_none() {
                prop_assert!(bounds.contains_rect(*rect), "{:?} outside {:?}: {:?}", rect, bounds, s);
            } else {
                // A panel sits in the area left before its own zone: inside the output.
                prop_assert!(OUTPUT.contains_rect(*rect), "{:?} outside the output: {:?}", rect, s);
            }
        }
    }
}
