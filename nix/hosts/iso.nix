# nixosConfigurations.iso: a live image that boots straight into the Exosphere session, for real
# machines and other hypervisors (VirtualBox, VMware, virt-manager).
#
#   nix build .#nixosConfigurations.iso.config.system.build.isoImage
#   ls result/iso/*.iso
#
# Built on nixpkgs' iso-image.nix rather than installation-cd-minimal.nix: the installer
# profile's conveniences (autologin getty, the manual, networking, the installer tools) are
# systemd services, which never start with exo-init as PID 1. The ISO boots with BIOS and UEFI,
# from CD or USB stick; its root is a tmpfs over the squashed store, as on any NixOS live image.
# Nexquelium renders with pixman into dumb buffers, so any KMS driver in the kernel will do;
# all-hardware.nix and the redistributable firmware give the common ones (i915, amdgpu,
# nouveau, virtio-gpu, vmwgfx, bochs) what they need.
#
# x86_64 only: the BIOS boot path (syslinux) of iso-image.nix exists only there; an aarch64
# image would be EFI-only and has not been described here.
{ self }:
{ modulesPath, ... }:
{
  imports = [
    (modulesPath + "/installer/cd-dvd/iso-image.nix")
    (modulesPath + "/profiles/all-hardware.nix")
    self.nixosModules.default
  ];

  services.exosphere = {
    enable = true;
    demoCapsules.enable = true;
  };

  isoImage = {
    makeEfiBootable = true;
    makeUsbBootable = true;
  };

  hardware.enableRedistributableFirmware = true;

  networking.hostName = "exosphere";

  system.stateVersion = "26.05";
}
