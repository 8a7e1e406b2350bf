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
/// else the preferred one, else the first (the kernel lists the best first).
pub fn pick_mode(modes: &[Mode], request: Option<ModeRequest>) -> Option<Mode> {
    if let Some(found) = request.and_then(|r| modes.iter().find(|m| r.matches(m))) {
        return Some(*found);
    }
    if let Some(r) = request {
        tracing::warn!(
            ?r,
            "the connector does not offer the requested mode; using its preferred one"
        );
    }
    modes
        .iter()
        .find(|m| m.mode_type().contains(ModeTypeFlags::PREFERRED))
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
        let Some(mode) = pick_mode(info.modes(), request) else {
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
