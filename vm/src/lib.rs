//! exo-vm: builds Exosphere's boot image (kernel + initramfs) and runs it in QEMU.
//!
//! The library is what the end-to-end tests use: [`build()`] makes the image, [`disk()`] and
//! [`iso()`] the bootable disk image and ISO around it,
//! [`Vm::start`] boots it, and the [`Vm`] methods wait for console lines, take screenshots and
//! inject input over QMP. See docs/exo-vm.md.

pub mod arch;
pub mod build;
pub mod disk;
pub mod keys;
pub mod ova;
pub mod qemu;
pub mod qmp;

pub use arch::Arch;
pub use build::{build, BuildOptions, BuiltImage, KernelChoice, Variant};
pub use disk::{disk, iso, BuiltDisk, BuiltIso, DiskOptions, IsoOptions, Media};
pub use qemu::{Boot, Display, Firmware, Vga, Vm, VmOptions};
pub use qmp::Qmp;
