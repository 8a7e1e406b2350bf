# The workspace built with crane: one dependency build (`cargoArtifacts`) shared by a package per
# binary, plus the cheap checks (clippy, rustfmt, the pure unit tests) and the development shell.
#
#   { pkgs, crane } -> { packages, checks, devShell }
#
# Called once per system by flake.nix. Nothing here is specific to x86_64.
{ pkgs, crane }:
let
  inherit (pkgs) lib;

  craneLib = crane.mkLib pkgs;

  root = ../.;

  # What cargo needs and nothing else, so that editing docs or the `x` script does not rebuild.
  # commonCargoSources is every Cargo.toml/Cargo.lock, *.rs and *.toml (that includes
  # rustfmt.toml and assets/capsules/*/Capsule.toml). Added by hand: what the crates embed with
  # include_bytes!/include_str! (assets/: DejaVu fonts for the labels and the dashboard,
  # cursor.png, config.toml) and docs/sentry.md, which exo-shell's unit tests read.
  # Left out: target/ (when building from a plain directory rather than the git tree) and
  # compositor/wlcs, a cargo workspace of its own (WLCS needs Debian's runner; see README).
  src = lib.fileset.toSource {
    inherit root;
    fileset = lib.fileset.difference (lib.fileset.unions [
      (craneLib.fileset.commonCargoSources root)
      ../assets
      ../docs/sentry.md
    ]) (lib.fileset.unions [
      (lib.fileset.maybeMissing ../target)
      (lib.fileset.maybeMissing ../compositor/wlcs)
    ]);
  };

  version = (builtins.fromTOML (builtins.readFile ../Cargo.toml)).workspace.package.version;

  # nixpkgs moved libgbm out of mesa (25.05) and the X libraries out of `xorg` (2025); take the
  # new name where it exists so that the flake keeps evaluating across releases.
  libgbm = pkgs.libgbm or pkgs.mesa;
  xlib = name: oldName: pkgs.${name} or pkgs.xorg.${oldName};

  # The C libraries the workspace links (compositor/Cargo.toml -> Smithay's features):
  #   libudev (libudev-sys, pkg-config), libseat (libseat-sys, pkg-config: from seatd),
  #   libinput (input-sys), libxkbcommon (xkbcommon; also the dashboard through
  #   smithay-client-toolkit), pixman (pixman-sys), libgbm (gbm-sys).
  # libdrm is not linked (the drm crate talks ioctls), nor is libwayland (wayland-rs is pure
  # Rust here; `dlopen` only for winit), nor fontconfig/freetype (egui and the labels rasterise
  # the embedded DejaVu fonts with ab_glyph).
  buildInputs = [
    pkgs.udev
    pkgs.seatd
    pkgs.libinput
    pkgs.libxkbcommon
    pkgs.pixman
    libgbm
  ];
  nativeBuildInputs = [ pkgs.pkg-config ];

  # What the winit backend (`nexquelium --backend winit`, a window in a desktop session) loads
  # with dlopen at run time: added to the binary's RUNPATH, as nixpkgs does for winit programs.
  # The DRM and headless backends need none of them.
  winitRuntimeLibs = [
    pkgs.wayland
    pkgs.libxkbcommon
    pkgs.libGL
    (xlib "libx11" "libX11")
    (xlib "libxcursor" "libXcursor")
    (xlib "libxi" "libXi")
    (xlib "libxrandr" "libXrandr")
    (xlib "libxcb" "libxcb")
  ];

  commonArgs = {
    inherit src version buildInputs nativeBuildInputs;
    pname = "exosphere";
    strictDeps = true;
    # The test suite drives real Wayland clients, QEMU and a kernel: `./x test` on Debian, or the
    # NixOS test `checks.x86_64-linux.vm-dashboard`. The packages only build.
    doCheck = false;
  };

  # Every dependency of the workspace, built once. All packages below start from it. A `-p X`
  # build may still recompile a few shared crates whose cargo features differ from the
  # whole-workspace build (cargo unifies features per invocation); Smithay is not among them.
  cargoArtifacts = craneLib.buildDepsOnly commonArgs;

  # One package per binary.
  bin =
    {
      pname,
      crate,
      description,
      extra ? { },
    }:
    craneLib.buildPackage (
      commonArgs
      // {
        inherit pname cargoArtifacts;
        cargoExtraArgs = "--locked -p ${crate} --bin ${pname}";
        meta = {
          inherit description;
          mainProgram = pname;
          license = lib.licenses.mit;
          platforms = lib.platforms.linux;
        };
      }
      // extra
    );

  nexquelium = bin {
    pname = "nexquelium";
    crate = "nexquelium";
    description = "Nexquelium: the Exosphere Wayland compositor and session supervisor";
    extra = {
      nativeBuildInputs = nativeBuildInputs ++ [ pkgs.patchelf ];
      postFixup = ''
        patchelf --add-rpath ${lib.makeLibraryPath winitRuntimeLibs} $out/bin/nexquelium
      '';
    };
  };

  sentry-dashboard = bin {
    pname = "sentry-dashboard";
    crate = "sentry-dashboard";
    description = "The Sentry dashboard, panel and launcher of Exosphere (a layer-shell client)";
  };

  exo-init = bin {
    pname = "exo-init";
    crate = "exo-init";
    description = "exo-init: Exosphere's PID 1";
  };

  exoctl = bin {
    pname = "exoctl";
    crate = "exo-shell";
    description = "exoctl: the command-line client of Nexquelium's control socket";
  };

  # exo-vm runs QEMU and builds the Debian-based boot image. `run`, `screenshot`, `key` and
  # `type` need only QEMU; `build` also takes a kernel with apt-get/dpkg and udev, kmod, foot,
  # dash and their libraries from a Debian host's own paths, and `disk`/`iso` take GRUB's
  # modules from /usr/lib/grub (and `--firmware uefi` Debian's OVMF), so on NixOS use the NixOS
  # images of this flake instead (nixosConfigurations.vm / `nix run .#vm`, and .iso). The tools
  # are appended to PATH (suffix), so a Debian host's own ones still win there.
  exo-vm = bin {
    pname = "exo-vm";
    crate = "exo-vm";
    description = "exo-vm: builds Exosphere's boot image and runs it in QEMU";
    extra = {
      nativeBuildInputs = nativeBuildInputs ++ [ pkgs.makeWrapper ];
      postInstall = ''
        wrapProgram $out/bin/exo-vm --suffix PATH : ${
          lib.makeBinPath [
            # qemu_kvm has only the host's target; exo-vm always runs qemu-system-x86_64.
            (if pkgs.stdenv.hostPlatform.isx86_64 then pkgs.qemu_kvm else pkgs.qemu)
            pkgs.binutils # objcopy
            pkgs.kmod # depmod
            pkgs.xz
            pkgs.gnutar
            pkgs.libxml2 # xmllint
            pkgs.util-linux # sfdisk
            pkgs.dosfstools
            pkgs.mtools
            pkgs.e2fsprogs
            pkgs.xorriso # exo-vm iso
          ]
        }
      '';
    };
  };

  # Everything a session needs, in one profile-friendly package.
  exosphere = pkgs.symlinkJoin {
    name = "exosphere-${version}";
    paths = [
      nexquelium
      sentry-dashboard
      exoctl
      exo-init
      exo-vm
    ];
    meta = nexquelium.meta // {
      description = "Exosphere: Nexquelium, the Sentry dashboard, exoctl, exo-init and exo-vm";
      mainProgram = "nexquelium";
    };
  };

  # What the test suite runs besides cargo (see `./x`: BUILD_PKGS, RUN_PKGS, TEST_PKGS,
  # VM_PKGS). The suite still expects a few Debian paths (the WLCS runner under
  # /usr/lib/x86_64-linux-gnu/wlcs, a Debian kernel for the boot tests); those parts stay
  # Debian-only, the rest runs in this shell.
  testTools = [
    pkgs.weston # weston-simple-shm, weston-flower (the clock capsule), the benchmark
    pkgs.foot
    pkgs.grim
    pkgs.wayland-utils # wayland-info
    pkgs.gtk4.dev # gtk4-widget-factory lives in the dev output
    pkgs.tesseract
    pkgs.imagemagick
    pkgs.python3
    pkgs.wlcs
    pkgs.xkeyboard_config
    pkgs.dejavu_fonts
    pkgs.fontconfig
    pkgs.util-linux # unshare, for exo-init's PID-namespace tests
    pkgs.dash
    pkgs.kmod
    pkgs.binutils
    pkgs.xz
    pkgs.sway
    pkgs.cage
    pkgs.xwayland
  ]
  ++ lib.optional (pkgs.stdenv.hostPlatform.isx86_64) pkgs.qemu_kvm;
in
{
  packages = {
    inherit
      nexquelium
      sentry-dashboard
      exo-init
      exoctl
      exo-vm
      exosphere
      ;
    default = exosphere;
  };

  checks = {
    # The same gates as `./x test` starts with.
    clippy = craneLib.cargoClippy (
      commonArgs
      // {
        inherit cargoArtifacts;
        cargoClippyExtraArgs = "--all-targets -- --deny warnings";
      }
    );
    fmt = craneLib.cargoFmt {
      inherit src version;
      pname = "exosphere";
    };
    # The unit tests that need neither a display, nor root, nor QEMU: exo-shell's (config,
    # manifests, layout, Sentry's rules, with their property tests) and exo-init's parsers.
    unit = craneLib.cargoTest (
      commonArgs
      // {
        inherit cargoArtifacts;
        doCheck = true;
        cargoTestExtraArgs = "-p exo-shell -p exo-init --lib";
      }
    );
  };

  devShell = craneLib.devShell {
    # cargo, rustc, clippy and rustfmt come with craneLib.devShell; the C libraries and
    # pkg-config from the package.
    inputsFrom = [ nexquelium ];
    packages = [ pkgs.rust-analyzer ] ++ testTools;
    RUST_SRC_PATH = "${pkgs.rustPlatform.rustLibSrc}";
    # The winit backend (`./x session` on a desktop) dlopens these.
    LD_LIBRARY_PATH = lib.makeLibraryPath winitRuntimeLibs;
  };
}
