# The virtual hardware of exo-vm's default run (docs/exo-vm.md), for the qemu-vm.nix based
# machines (nixosConfigurations.vm and the NixOS test): a virtio-gpu at 1280x800 instead of
# QEMU's default VGA card (std, bochs-drm in the guest), 2 CPUs, 2 GiB. qemu-vm.nix already adds
# the virtio keyboard and, on x86, a USB tablet (an absolute pointer, as exo-vm's virtio tablet).
#
# x86_64 only: on aarch64 qemu-vm.nix adds a virtio-gpu-pci of its own (there is no VGA there),
# and a second one here would give the guest two GPUs.
{ ... }:
{
  virtualisation = {
    graphics = true;
    memorySize = 2048;
    cores = 2;
    qemu.options = [
      "-vga none"
      "-device virtio-gpu-pci,xres=1280,yres=800"
    ];
  };
}
