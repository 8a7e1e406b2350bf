//! Anonymous memory for a canvas, laid out on 2 MiB boundaries and offered to the kernel for
//! transparent huge pages.
//!
//! A frame that copies one window touches one page of the canvas per row of the window (a
//! 1280-pixel row is 5 KiB), and after the 16 ms between frames those pages' translations are
//! gone from the TLB; in a virtual machine each miss walks both the guest's and the host's page
//! tables. In huge pages a 1280x720 canvas is two translations instead of about 900. Where the
//! kernel does not offer huge pages (`transparent_hugepage` set to `never`) the memory is
//! ordinary pages. docs/benchmarks.md has the measurements.

use std::{io, ptr::NonNull};

/// The size of a transparent huge page on x86-64 and (with 4 KiB base pages) ARM64.
const HUGE_PAGE: usize = 2 << 20;

/// Zeroed, writable memory of at least `len` bytes that starts on a huge-page boundary. Unmapped
/// when dropped.
pub struct HugePageMemory {
    mapping: NonNull<libc::c_void>,
    mapped: usize,
    start: NonNull<u8>,
}

impl HugePageMemory {
    pub fn new(len: usize) -> io::Result<Self> {
        let rounded = len.div_ceil(HUGE_PAGE).max(1) * HUGE_PAGE;
        // One huge page more than needed, so that a boundary falls inside the mapping.
        let mapped = rounded + HUGE_PAGE;
        // SAFETY: a fresh private anonymous mapping; no existing memory is affected.
        let mapping = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                mapped,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if mapping == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let mapping = NonNull::new(mapping).ok_or_else(|| io::Error::other("mmap returned null"))?;
        let offset = (mapping.as_ptr() as usize).next_multiple_of(HUGE_PAGE) - mapping.as_ptr() as usize;
        // SAFETY: `offset < HUGE_PAGE`, so `start .. start + rounded` lies inside the mapping.
        let start = unsafe { NonNull::new_unchecked(mapping.as_ptr().cast::<u8>().add(offset)) };
        // SAFETY: advice on memory of our own mapping. It fails (EINVAL) where the kernel has no
        // transparent huge pages, and the memory is then ordinary pages: nothing to report.
        unsafe { libc::madvise(start.as_ptr().cast(), rounded, libc::MADV_HUGEPAGE) };
        Ok(Self {
            mapping,
            mapped,
            start,
        })
    }

    /// The first byte: on a huge-page boundary, followed by at least `len` zeroed bytes.
    pub fn as_mut_ptr(&mut self) -> *mut u8 {
        self.start.as_ptr()
    }
}

impl Drop for HugePageMemory {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`, unmapped once.
        unsafe { libc::munmap(self.mapping.as_ptr(), self.mapped) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lines of `/proc/self/smaps` that describe the mapping holding `address`.
    fn smaps_of(address: usize) -> Vec<String> {
        let smaps = std::fs::read_to_string("/proc/self/smaps").expect("reading /proc/self/smaps");
        let mut found = Vec::new();
        let mut inside = false;
        for line in smaps.lines() {
            let range = line.split_whitespace().next().and_then(|r| r.split_once('-'));
            if let Some((Ok(start), Ok(end))) =
                range.map(|(s, e)| (usize::from_str_radix(s, 16), usize::from_str_radix(e, 16)))
            {
                inside = (start..end).contains(&address);
            }
            if inside {
                found.push(line.to_string());
            }
        }
        found
    }

    fn field<'a>(vma: &'a [String], name: &str) -> &'a str {
        vma.iter()
            .find_map(|l| l.strip_prefix(name))
            .unwrap_or_else(|| panic!("no {name} in {vma:#?}"))
            .trim()
    }

    #[test]
    fn canvas_memory_is_zeroed_starts_on_a_huge_page_and_is_backed_by_huge_pages() {
        let len = 1280 * 720 * 4;
        let mut memory = HugePageMemory::new(len).expect("mapping the canvas memory");
        let start = memory.as_mut_ptr();
        assert_eq!(
            start as usize % HUGE_PAGE,
            0,
            "{start:?} is not on a 2 MiB boundary"
        );
        // SAFETY: `new` promises `len` writable bytes at `start`, alive while `memory` is.
        let bytes = unsafe { std::slice::from_raw_parts_mut(start, len) };
        assert!(bytes.iter().all(|&b| b == 0), "fresh canvas memory is not zeroed");
        bytes.fill(0xa5);
        assert!(bytes[len - 1] == 0xa5);

        let vma = smaps_of(start as usize);
        assert!(!vma.is_empty(), "no mapping holds {start:?}");
        let thp = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled");
        let Ok(thp) = thp else {
            eprintln!("this kernel has no transparent huge pages: ordinary pages are all it can give");
            return;
        };
        assert!(
            field(&vma, "VmFlags:").split_whitespace().any(|f| f == "hg"),
            "the canvas memory was not advised for huge pages: {vma:#?}"
        );
        if thp.contains("[never]") {
            eprintln!(
                "transparent huge pages are off here ({}): not checking they back the canvas",
                thp.trim()
            );
            return;
        }
        let huge_kb: usize = field(&vma, "AnonHugePages:")
            .trim_end_matches("kB")
            .trim()
            .parse()
            .expect("AnonHugePages in kB");
        assert!(
            huge_kb >= 2048,
            "the written canvas has {huge_kb} kB in huge pages, want at least one 2 MiB page: {vma:#?}"
        );
    }
}
