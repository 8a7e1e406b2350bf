# nixosConfigurations.vm: Exosphere in QEMU, the NixOS counterpart of `./x run`.
#
#   nix run .#vm                         # a QEMU window; the serial console is in its View menu
#   QEMU_OPTS=-nographic nix run .#vm    # headless: the serial console on this terminal
#                                        # (Ctrl-a x quits QEMU, Ctrl-a c its monitor)
#
# The run script (system.build.vm, from qemu-vm.nix) boots the kernel and initrd directly, with
# this machine's store shared over 9p and a scratch disk image ./exosphere.qcow2 in the current
# directory (delete it to start from scratch). Boot: NixOS stage 1, activation, then exo-init as
# PID 1 (see nix/module.nix), udevd, and Nexquelium on the virtio-gpu with the dashboard and the
# demo capsules (Super+Return opens the terminal).
{ self }:
{ lib, modulesPath, ... }:
{
  imports = [
    (modulesPath + "/virtualisation/qemu-vm.nix")
    self.nixosModules.default
    ./virtio-gpu.nix
  ];

  services.exosphere = {
    enable = true;
    demoCapsules.enable = true;
  };

  networking.hostName = "exosphere";

  # Direct kernel boot: no boot loader to install. (qemu-vm.nix provides the file systems.)
  boot.loader.grub.enable = lib.mkDefault false;

  system.stateVersion = "26.05";
}
