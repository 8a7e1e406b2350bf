# Exosphere as a Nix flake (README.md, section "Nix").
#
#   nix build                  # packages.default: nexquelium, sentry-dashboard, exoctl, exo-init, exo-vm
#   nix develop                # every build and test dependency
#   nix run .#vm               # Exosphere in QEMU: NixOS, exo-init as PID 1, the dashboard
#   nix flake check            # clippy, rustfmt, unit tests, the NixOS VM test with OCR
#
# No flake.lock is committed: it was written where nothing can be fetched from GitHub. The first
# `nix flake lock` (or any command above) pins the two inputs; commit the lock file it writes.
{
  description = "Exosphere: the Nexquelium Wayland compositor, the Sentry dashboard, capsules and exo-init as PID 1";

  inputs = {
    # A release branch, not unstable. Not older than 26.05: egui 0.34 and egui_plot 0.35 (the
    # dashboard) declare rust-version 1.92, newer than the rustc of earlier releases.
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-26.05";
    # crane has no inputs of its own any more; it uses the pkgs it is given (crane.mkLib pkgs).
    crane.url = "github:ipetkov/crane";
  };

  outputs =
    {
      self,
      nixpkgs,
      crane,
    }:
    let
      inherit (nixpkgs) lib;

      # Packages, the dev shell and the cargo checks build on both. The NixOS machines (the VM,
      # the ISO, the VM test) are x86_64 only: exo-vm and its virtual hardware are x86_64
      # (qemu-system-x86_64, PVH boot, VGA off + virtio-gpu-pci), qemu-vm.nix on aarch64 already
      # adds a virtio-gpu of its own, and the ISO's BIOS boot path only exists on x86.
      systems = [
        "x86_64-linux"
        "aarch64-linux"
      ];
      machineSystem = "x86_64-linux";

      forAllSystems = f: lib.genAttrs systems (system: f system nixpkgs.legacyPackages.${system});

      built = forAllSystems (_: pkgs: import ./nix/packages.nix { inherit pkgs crane; });

      nixosSystem =
        module:
        lib.nixosSystem {
          modules = [
            { nixpkgs.hostPlatform = machineSystem; }
            module
          ];
        };

      vm = self.nixosConfigurations.vm;
      vmRunner = vm.config.system.build.vm;
    in
    {
      packages = forAllSystems (
        system: _:
        built.${system}.packages
        // lib.optionalAttrs (system == machineSystem) {
          # The run script of nixosConfigurations.vm (what `nix run .#vm` starts).
          vm = vmRunner;
          # The live ISO of nixosConfigurations.iso.
          iso = self.nixosConfigurations.iso.config.system.build.isoImage;
        }
      );

      devShells = forAllSystems (system: _: { default = built.${system}.devShell; });

      checks = forAllSystems (
        system: pkgs:
        built.${system}.checks
        // {
          nix-lib = import ./nix/tests/lib-check.nix {
            inherit pkgs;
            inherit (built.${system}.packages) exo-init;
          };
        }
        // lib.optionalAttrs (system == machineSystem) {
          vm-dashboard = import ./nix/tests/vm-dashboard.nix { inherit self pkgs; };
        }
      );

      # services.exosphere (nix/module.nix).
      nixosModules = {
        default = import ./nix/module.nix { inherit self; };
        exosphere = self.nixosModules.default;
      };

      nixosConfigurations = {
        vm = nixosSystem (import ./nix/hosts/vm.nix { inherit self; });
        iso = nixosSystem (import ./nix/hosts/iso.nix { inherit self; });
      };

      apps.${machineSystem} = {
        vm = {
          type = "app";
          program = "${vmRunner}/bin/run-${vm.config.system.name}-vm";
          meta.description = "Boot Exosphere (NixOS with exo-init as PID 1) in QEMU with virtio-gpu";
        };
        default = self.apps.${machineSystem}.vm;
      };

      formatter = forAllSystems (_: pkgs: pkgs.nixfmt);

      # The pure helpers (builtins only): Capsule.toml and init.toml rendering, the capability
      # vocabulary, manifest validation. See nix/lib/default.nix.
      lib = import ./nix/lib;
    };
}
