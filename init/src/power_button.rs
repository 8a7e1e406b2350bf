//! The power button: evdev devices that can send KEY_POWER and are not keyboards.
//!
//! QEMU's `system_powerdown` (and a real machine's button) appear, once udev's
//! coldplug has loaded the driver, as `/dev/input/eventN`: the ACPI button
//! ("Power Button") on PCs, a `gpio-keys` device on ARM boards and QEMU's
//! `virt` machine booted without UEFI. Init opens each such device and powers
//! off when a KEY_POWER press arrives. Keyboards (they have KEY_A) are left to
//! the session, even those with a power key.

use std::collections::BTreeSet;
use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

const EV_KEY: u16 = 1;
const KEY_A: u16 = 30;
const KEY_POWER: u16 = 116;
/// Bytes of an EV_KEY capability bitmap (KEY_MAX is 0x2ff).
const KEY_BITS_LEN: usize = 0x300 / 8;
/// `struct input_event` on 64-bit Linux: a 16-byte timeval, type, code, value.
const EVENT_SIZE: usize = 24;

/// `EVIOCGNAME(len)`: `_IOC(_IOC_READ, 'E', 0x06, len)`.
const fn eviocgname(len: usize) -> libc::c_ulong {
    ((2 << 30) | (len << 16) | ((b'E' as usize) << 8) | 0x06) as libc::c_ulong
}

/// `EVIOCGBIT(EV_KEY, len)`: `_IOC(_IOC_READ, 'E', 0x20 + EV_KEY, len)`.
const fn eviocgbit_key(len: usize) -> libc::c_ulong {
    ((2 << 30) | (len << 16) | ((b'E' as usize) << 8) | (0x20 + EV_KEY as usize)) as libc::c_ulong
}

/// Whether key `code` is set in an EV_KEY capability bitmap.
fn has_key(bits: &[u8], code: u16) -> bool {
    bits.get(usize::from(code / 8))
        .is_some_and(|byte| byte & (1 << (code % 8)) != 0)
}

/// A power button: it can send KEY_POWER and is not a keyboard (no KEY_A).
pub fn is_power_button(key_bits: &[u8]) -> bool {
    has_key(key_bits, KEY_POWER) && !has_key(key_bits, KEY_A)
}

/// One decoded `input_event`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputEvent {
    pub kind: u16,
    pub code: u16,
    pub value: i32,
}

/// Decodes whole `input_event` records from `bytes` (a trailing partial one is dropped).
pub fn decode(bytes: &[u8]) -> Vec<InputEvent> {
    bytes
        .chunks_exact(EVENT_SIZE)
        .map(|e| InputEvent {
            kind: u16::from_ne_bytes([e[16], e[17]]),
            code: u16::from_ne_bytes([e[18], e[19]]),
            value: i32::from_ne_bytes([e[20], e[21], e[22], e[23]]),
        })
        .collect()
}

/// True when the events hold a KEY_POWER press (value 1; not release 0 or repeat 2).
pub fn is_power_press(events: &[InputEvent]) -> bool {
    events
        .iter()
        .any(|e| e.kind == EV_KEY && e.code == KEY_POWER && e.value == 1)
}

/// The power button devices being watched.
pub struct PowerButtons {
    dir: PathBuf,
    open: Vec<(PathBuf, OwnedFd)>,
    /// Devices already checked and found to be something else.
    others: BTreeSet<PathBuf>,
}

impl PowerButtons {
    pub fn new(dir: &Path) -> PowerButtons {
        PowerButtons {
            dir: dir.to_path_buf(),
            open: Vec::new(),
            others: BTreeSet::new(),
        }
    }

    /// Opens power buttons that appeared since the last scan; returns the new paths.
    pub fn scan(&mut self) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .filter(|e| e.file_name().as_bytes().starts_with(b"event"))
            .map(|e| e.path())
            .collect();
        paths.sort();
        let mut found = Vec::new();
        for path in paths {
            if self.others.contains(&path) || self.open.iter().any(|(p, _)| *p == path) {
                continue;
            }
            let Ok(fd) = open_nonblocking(&path) else { continue };
            if key_bits(&fd).is_some_and(|bits| is_power_button(&bits)) {
                found.push(path.clone());
                self.open.push((path, fd));
            } else {
                self.others.insert(path);
            }
        }
        found
    }

    /// The fds to poll.
    pub fn fds(&self) -> Vec<RawFd> {
        self.open.iter().map(|(_, fd)| fd.as_raw_fd()).collect()
    }

    /// Reads what `fd` has; true on a KEY_POWER press. A device that is gone is dropped.
    pub fn pressed(&mut self, fd: RawFd) -> bool {
        let mut buf = [0u8; EVENT_SIZE * 32];
        let mut pressed = false;
        loop {
            // SAFETY: reads at most buf.len() bytes into buf.
            let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
            if n > 0 {
                pressed |= is_power_press(&decode(&buf[..n as usize]));
                continue;
            }
            let err = io::Error::last_os_error();
            if n == 0 || err.raw_os_error() != Some(libc::EAGAIN) {
                // ENODEV after unplug, or EOF: stop watching it.
                self.open.retain(|(_, f)| f.as_raw_fd() != fd);
            }
            return pressed;
        }
    }
}

fn open_nonblocking(path: &Path) -> io::Result<OwnedFd> {
    let c = CString::new(path.as_os_str().as_bytes()).map_err(|_| io::ErrorKind::InvalidInput)?;
    // SAFETY: a valid C string; a non-negative result is a new fd we own.
    let fd = unsafe { libc::open(c.as_ptr(), libc::O_RDONLY | libc::O_NONBLOCK | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd was just opened and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The device's EV_KEY capability bitmap (None when it is not an evdev device).
fn key_bits(fd: &OwnedFd) -> Option<[u8; KEY_BITS_LEN]> {
    let mut bits = [0u8; KEY_BITS_LEN];
    // SAFETY: the ioctl writes at most bits.len() bytes.
    let n = unsafe { libc::ioctl(fd.as_raw_fd(), eviocgbit_key(bits.len()), bits.as_mut_ptr()) };
    (n >= 0).then_some(bits)
}

/// The device's name from EVIOCGNAME, for the console.
pub fn device_name(path: &Path) -> Option<String> {
    let fd = open_nonblocking(path).ok()?;
    let mut buf = [0u8; 256];
    // SAFETY: the ioctl writes at most buf.len() bytes.
    let n = unsafe { libc::ioctl(fd.as_raw_fd(), eviocgname(buf.len()), buf.as_mut_ptr()) };
    if n <= 0 {
        return None;
    }
    let text = &buf[..(n as usize).min(buf.len())];
    let end = text.iter().position(|&b| b == 0).unwrap_or(text.len());
    Some(String::from_utf8_lossy(&text[..end]).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: u16, code: u16, value: i32) -> Vec<u8> {
        let mut e = vec![0u8; 16];
        e.extend_from_slice(&kind.to_ne_bytes());
        e.extend_from_slice(&code.to_ne_bytes());
        e.extend_from_slice(&value.to_ne_bytes());
        e
    }

    #[test]
    fn ioctl_numbers_match_the_kernel_header() {
        // EVIOCGNAME(256) and EVIOCGBIT(EV_KEY, 96) as computed by <linux/input.h>.
        assert_eq!(eviocgname(256), 0x8100_4506);
        assert_eq!(eviocgbit_key(96), 0x8060_4521);
    }

    fn bits(keys: &[u16]) -> [u8; KEY_BITS_LEN] {
        let mut bits = [0u8; KEY_BITS_LEN];
        for &k in keys {
            bits[usize::from(k / 8)] |= 1 << (k % 8);
        }
        bits
    }

    #[test]
    fn power_buttons_are_told_from_keyboards_by_their_keys() {
        // The ACPI button and gpio-keys: KEY_POWER alone (gpio-keys may have a few more).
        assert!(is_power_button(&bits(&[KEY_POWER])));
        assert!(is_power_button(&bits(&[KEY_POWER, 142 /* KEY_SLEEP */])));
        // A keyboard with a power key, a keyboard without, a mouse.
        assert!(!is_power_button(&bits(&[KEY_A, 31, KEY_POWER])));
        assert!(!is_power_button(&bits(&[KEY_A, 31])));
        assert!(!is_power_button(&bits(&[0x110 /* BTN_LEFT */])));
        assert!(!is_power_button(&[]));
    }

    #[test]
    fn decodes_events_and_finds_the_press() {
        let mut bytes = event(EV_KEY, KEY_POWER, 1);
        bytes.extend(event(0, 0, 0)); // SYN_REPORT
        bytes.extend([1, 2, 3]); // a partial record is dropped
        let events = decode(&bytes);
        assert_eq!(
            events,
            [
                InputEvent {
                    kind: EV_KEY,
                    code: KEY_POWER,
                    value: 1
                },
                InputEvent {
                    kind: 0,
                    code: 0,
                    value: 0
                }
            ]
        );
        assert!(is_power_press(&events));
    }

    #[test]
    fn release_repeat_and_other_keys_are_not_presses() {
        for (kind, code, value) in [
            (EV_KEY, KEY_POWER, 0),
            (EV_KEY, KEY_POWER, 2),
            (EV_KEY, 30, 1),
            (4, KEY_POWER, 1),
        ] {
            assert!(
                !is_power_press(&decode(&event(kind, code, value))),
                "{kind} {code} {value}"
            );
        }
    }

    #[test]
    fn scan_of_a_missing_or_empty_dir_finds_nothing() {
        assert!(PowerButtons::new(Path::new("/nonexistent/input"))
            .scan()
            .is_empty());
        let dir = std::env::temp_dir().join(format!("exo-init-pb-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("event0"), b"not a device").unwrap();
        let mut buttons = PowerButtons::new(&dir);
        assert!(buttons.scan().is_empty());
        assert!(buttons.fds().is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
