//! Which connectors drive outputs: every connected one, at its preferred mode (or the mode
//! asked for on the command line), each on its own CRTC that its encoders can reach.

use smithay::reexports::drm::control::{connector, crtc, Device as ControlDevice, Mode, ModeTypeFlags};

use anyhow::Context;

/// A connector with the CRTC and mode chosen for it.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    pub connector: connector::Handle,
    pub crtc: crtc::Handle,
    pub mode: Mode,
    /// The output's name, e.g. `Virtual-1`.
    pub name: String,
}

/// A requested mode: `WIDTHxHEIGHT`, optionally `@HZ`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModeRequest {
    pub width: u16,
    pub height: u16,
    pub refresh_hz: Option<u32>,
}

impl ModeRequest {
    pub fn parse(s: &str) -> Result<Self, String> {
        let (size, hz) = match s.split_once('@') {
            Some((size, hz)) => (size, Some(hz)),
            None => (s, None),
        };
        let (w, h) = size
            .split_once(['x', 'X'])
            .ok_or_else(|| format!("mode {s:?} is not WIDTHxHEIGHT[@HZ]"))?;
        let num = |v: &str| -> Result<u32, String> {
            v.trim()
                .parse()
                .map_err(|_| format!("mode {s:?}: {v:?} is not a number"))
        };
        let (width, height) = (num(w)?, num(h)?);
        if !(1..=16384).contains(&width) || !(1..=16384).contains(&height) {
            return Err(format!("mode {s:?}: sizes must be 1..=16384"));
        }
        Ok(ModeRequest {
            width: width as u16,
            height: height as u16,
            refresh_hz: hz.map(num).transpose()?,
        })
    }

    fn matches(&self, mode: &Mode) -> bool {
        let (w, h) = mode.size();
        w == self.width && h == self.height && self.refresh_hz.is_none_or(|hz| mode.vrefresh() == hz)
    }
}

/// The mode to use from a connector's list: the requested one when the connector offers it,
/// else the one the kernel command line asked for (`video=CONNECTOR:WxH`, listed as
/// user-defined), else the preferred one. A connector that names neither (no usable EDID, such
/// as a forced-on QEMU head) gets the biggest mode within `cap` (the first output's size) rather
/// than the first listed, which may be far larger than the display can show; else the first.
pub fn pick_mode(modes: &[Mode], request: Option<ModeRequest>, cap: Option<(u16, u16)>) -> Option<Mode> {
    if let Some(found) = request.and_then(|r| modes.iter().find(|m| r.matches(m))) {
        return Some(*found);
    }
    if let Some(r) = request {
        tracing::warn!(
            ?r,
            "the connector does not offer the requested mode; using its preferred one"
        );
    }
    let with = |flag: ModeTypeFlags| modes.iter().find(move |m| m.mode_type().contains(flag));
    let within_cap = || {
        let (cw, ch) = cap?;
        modes
            .iter()
            .filter(|m| m.size().0 <= cw && m.size().1 <= ch)
            .max_by_key(|m| (u32::from(m.size().0) * u32::from(m.size().1), m.vrefresh()))
    };
    with(ModeTypeFlags::USERDEF)
        .or_else(|| with(ModeTypeFlags::PREFERRED))
        .or_else(within_cap)
        .or_else(|| modes.first())
        .copied()
}

/// Every connected connector with a mode and a CRTC of its own, in the kernel's order (a
/// connector left without a free CRTC is skipped with a warning).
pub fn choose_all(device: &impl ControlDevice, request: Option<ModeRequest>) -> anyhow::Result<Vec<Choice>> {
    let resources = device
        .resource_handles()
        .context("cannot read the DRM device's resources")?;
    let mut chosen: Vec<Choice> = Vec::new();
    for &handle in resources.connectors() {
        let info = match device.get_connector(handle, true) {
            Ok(info) => info,
            Err(err) => {
                tracing::warn!(?handle, %err, "cannot read a connector");
                continue;
            }
        };
        if info.state() != connector::State::Connected {
            continue;
        }
        let modes: Vec<String> = info
            .modes()
            .iter()
            .map(|m| {
                format!(
                    "{}x{}@{} {:?}",
                    m.size().0,
                    m.size().1,
                    m.vrefresh(),
                    m.mode_type()
                )
            })
            .collect();
        tracing::debug!(connector = ?handle, ?modes, "connector modes");
        let cap = chosen.first().map(|c| c.mode.size());
        let Some(mode) = pick_mode(info.modes(), request, cap) else {
            continue;
        };
        let taken: Vec<crtc::Handle> = chosen.iter().map(|c| c.crtc).collect();
        let Some(crtc) = crtc_for(device, &resources, &info, &taken) else {
            tracing::warn!(connector = ?info, "no free CRTC can drive this connector");
            continue;
        };
        chosen.push(Choice {
            connector: handle,
            crtc,
            mode,
            name: format!("{}-{}", info.interface().as_str(), info.interface_id()),
        });
    }
    Ok(chosen)
}

/// A CRTC for the connector, not one of `taken`: the one its current encoder uses, else any its
/// encoders allow.
fn crtc_for(
    device: &impl ControlDevice,
    resources: &smithay::reexports::drm::control::ResourceHandles,
    info: &connector::Info,
    taken: &[crtc::Handle],
) -> Option<crtc::Handle> {
    let encoders: Vec<_> = info
        .encoders()
        .iter()
        .filter_map(|&e| device.get_encoder(e).ok())
        .collect();
    let current = info
        .current_encoder()
        .and_then(|e| encoders.iter().find(|enc| enc.handle() == e))
        .and_then(|enc| enc.crtc())
        .filter(|c| !taken.contains(c));
    current.or_else(|| {
        encoders
            .iter()
            .flat_map(|enc| resources.filter_crtcs(enc.possible_crtcs()))
            .find(|c| !taken.contains(c))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(w: u16, h: u16, flags: ModeTypeFlags) -> Mode {
        Mode::from(drm_ffi::drm_mode_modeinfo {
            hdisplay: w,
            vdisplay: h,
            vrefresh: 60,
            type_: flags.bits(),
            ..Default::default()
        })
    }

    #[test]
    fn the_kernel_command_line_mode_wins_over_preferred_and_first() {
        let big = mode(5120, 2160, ModeTypeFlags::DRIVER);
        let preferred = mode(1024, 768, ModeTypeFlags::DRIVER | ModeTypeFlags::PREFERRED);
        let asked = mode(1280, 800, ModeTypeFlags::USERDEF);
        let size = |m: Option<Mode>| m.map(|m| m.size());
        assert_eq!(
            size(pick_mode(&[big, preferred, asked], None, None)),
            Some((1280, 800))
        );
        assert_eq!(size(pick_mode(&[big, preferred], None, None)), Some((1024, 768)));
        assert_eq!(size(pick_mode(&[big], None, None)), Some((5120, 2160)));
        let request = ModeRequest::parse("5120x2160").ok();
        assert_eq!(
            size(pick_mode(&[preferred, asked, big], request, None)),
            Some((5120, 2160))
        );
        assert_eq!(size(pick_mode(&[], None, None)), None);
    }

    #[test]
    fn without_a_preferred_mode_the_biggest_within_the_first_outputs_size() {
        let plain = |w, h| mode(w, h, ModeTypeFlags::DRIVER);
        let modes = [
            plain(5120, 2160),
            plain(1920, 1080),
            plain(1280, 768),
            plain(1024, 768),
        ];
        let size = |m: Option<Mode>| m.map(|m| m.size());
        assert_eq!(
            size(pick_mode(&modes, None, Some((1280, 800)))),
            Some((1280, 768))
        );
        assert_eq!(
            size(pick_mode(&modes, None, Some((1920, 1200)))),
            Some((1920, 1080))
        );
        // Nothing fits: the first listed.
        assert_eq!(
            size(pick_mode(&modes, None, Some((800, 600)))),
            Some((5120, 2160))
        );
        // A preferred mode is taken whatever its size.
        let with_preferred = [modes[0], mode(2560, 1440, ModeTypeFlags::PREFERRED)];
        assert_eq!(
            size(pick_mode(&with_preferred, None, Some((1280, 800)))),
            Some((2560, 1440))
        );
    }

    #[test]
    fn mode_requests_parse_and_name_bad_input() {
        assert_eq!(
            ModeRequest::parse("1280x800@60"),
            Ok(ModeRequest {
                width: 1280,
                height: 800,
                refresh_hz: Some(60)
            })
        );
        assert_eq!(ModeRequest::parse("1024X768").unwrap().refresh_hz, None);
        assert!(ModeRequest::parse("1280").unwrap_err().contains("\"1280\""));
        assert!(ModeRequest::parse("axb").unwrap_err().contains("\"a\""));
        assert!(ModeRequest::parse("0x600").is_err());
        assert!(ModeRequest::parse("800x600@fast")
            .unwrap_err()
            .contains("\"fast\""));
    }
}
