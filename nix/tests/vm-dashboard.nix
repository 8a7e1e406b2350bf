# checks.x86_64-linux.vm-dashboard: boot the NixOS machine of the module with exo-init as PID 1
# and wait for the Sentry dashboard on the virtio-gpu, like vm/tests/boot.rs does with the
# Debian image.
#
#   nix build -L .#checks.x86_64-linux.vm-dashboard     # result/dashboard.png is the screenshot
#   nix run .#checks.x86_64-linux.vm-dashboard.driverInteractive   # step through it
#
# There is no systemd in the guest, hence none of the test driver's backdoor shell
# (backdoor.service): the script may only use what works from outside the guest: the serial
# console (wait_for_console_text), QEMU's monitor (screenshots, OCR, keys, system_powerdown) and
# QEMU's exit. machine.succeed/wait_for_unit/shutdown would wait for a shell that never comes.
{ self, pkgs }:
pkgs.testers.runNixOSTest {
  name = "exosphere-vm-dashboard";

  # tesseract, for wait_for_text.
  enableOCR = true;

  nodes.machine =
    { ... }:
    {
      imports = [
        self.nixosModules.default
        ../hosts/virtio-gpu.nix
      ];
      services.exosphere = {
        enable = true;
        # The terminal capsule for Super+Return (and hello, clock).
        demoCapsules.enable = true;
      };
    };

  testScript = ''
    machine.start()

    # exo-init took over from NixOS's stage 2 and started udevd, then the compositor.
    machine.wait_for_console_text("exo-init: udevd is ready", timeout=300)
    # Nexquelium prints this once the dashboard's layer surface is on screen.
    machine.wait_for_console_text("nexquelium: dashboard mapped", timeout=300)

    # The same words vm/tests/boot.rs reads (the dashboard's title, the panel's Session menu).
    machine.wait_for_text(r"(?i)sentry", timeout=120)
    machine.wait_for_text(r"(?i)session", timeout=60)
    machine.screenshot("dashboard")

    # As vm/tests/boot.rs: hide the dashboard (Super+D), open the terminal capsule
    # (Super+Return), type into it and read the line back.
    machine.send_key("meta_l-d")
    machine.send_key("meta_l-ret")
    machine.wait_for_text(r"(?i)terminal", timeout=120)
    machine.send_chars("echo nexquelium-ok\n")
    machine.wait_for_text(r"nexquelium-ok", timeout=60)
    machine.screenshot("terminal")

    # The ACPI power button: exo-init stops the session in order and powers off; QEMU exits.
    machine.send_monitor_command("system_powerdown")
    machine.wait_for_console_text("exo-init: powering off", timeout=120)
    machine.wait_for_shutdown()
  '';
}
