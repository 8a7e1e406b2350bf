# services.exosphere: the Exosphere session on NixOS, with exo-init as PID 1.
#
#   flake.nix:  nixosModules.default = import ./nix/module.nix { inherit self; };
#
# What it does, with `services.exosphere.enable = true`:
#   - renders every capsule in `capsules` (Nix attribute sets with the manifest's own key names)
#     to a Capsule.toml with pkgs.formats.toml, one folder per capsule, in the store;
#   - renders the compositor's config.toml (`settings`, `hostCapabilities`) and exo-init's
#     init.toml (udevd, then `nexquelium --backend drm`);
#   - checks all of them with the real parsers at build time (`exo-init --check`), so a manifest
#     the session would list as `invalid` fails the system build instead;
#   - links them under /etc/exosphere for people and tools to read;
#   - boots into exo-init instead of systemd (`pid1 = true`, the default), or runs the session
#     as a systemd service on tty1 (`pid1 = false`).
#
# How PID 1 changes hands. cleverca22's not-os replaces NixOS's stage 1 and stage 2 with its own
# scripts and ends stage 2 with `exec runit`; NixNG drops the NixOS module tree altogether and
# has its own init abstraction (runit, s6) and activation. Both own the whole boot. Exosphere
# needs much less: keep NixOS's stage 1 (it finds and mounts the root and /nix/store, for disks,
# ISOs and the 9p store of the test VMs alike) and NixOS's activation (it builds /etc, users,
# /run/current-system, the kernel-modules link udev's kmod needs), and change only the program
# that becomes PID 1 at the end:
#   - scripted stage 1 (boot.initrd.systemd.enable = false): NixOS's stage-2-init.sh runs the
#     activation script and ends with `exec ${boot.systemdExecutable} "$@"`; we point that
#     option at our stage-2 script.
#   - systemd stage 1 (the default from NixOS 26.05 on): activation runs inside the initrd
#     (initrd-nixos-activation), then initrd-switch-root.service runs `systemctl switch-root
#     /sysroot "$NEW_INIT"`, NEW_INIT empty meaning "systemd again". We override that command to
#     switch to /etc/exosphere/stage-2 instead (a path, not a store path, so the unit in the
#     initrd does not drag the session's closure into the initrd; activation has already made
#     the link when the switch happens).
# Either way the script sets a clean environment and execs exo-init (PID 1 stays PID 1 across
# exec) with `--config` pointing at the checked init.toml in the store.
# We do not put `init=` on the kernel command line: the boot loaders (and qemu-vm.nix) already
# pass `init=<toplevel>/init`, which must keep pointing at NixOS's own stage 2 for the
# activation to run, and stage 1 takes the last `init=` it sees.
#
# Trade-offs of exo-init as PID 1 on NixOS (`pid1 = true`):
#   - No systemd in stage 2: the systemd units NixOS generates (services.*, the journal,
#     logind, timers, networkd/dhcpcd, getty, nix-daemon, suid wrappers) are built but never
#     started. Exosphere's guest needs none of them: udevd and the compositor are supervised
#     by exo-init, logs go to the console, libseat uses its built-in backend as root, and the
#     image has no network, as the Debian one. Anything else you want running must be an
#     exo-init service (`init.extraServices`) or a capsule.
#   - `nixos-rebuild switch` cannot work (switch-to-configuration talks to systemd); use
#     `nixos-rebuild boot` and reboot. nix works in single-user mode (no daemon).
#   - No login prompt: the session is the only user interface; the serial console shows
#     exo-init's and Nexquelium's lines. `exo.run=NAME` on the kernel command line runs one
#     capsule as the first program, as on the Debian image.
#   - Shutdown is exo-init's (ordered SIGTERM, SIGKILL, sync, unmount, power off); NixOS's
#     shutdown hooks (systemd units) do not run.
#   - Not supported: containers (boot.isContainer) and nixpkgs' experimental nixos-init, which
#     replaces the switch-root step in its own way.
# With `pid1 = false` the session is a systemd service on tty1 instead: everything NixOS
# offers keeps working and `nixos-rebuild switch` restarts nothing under the user's feet
# (restartIfChanged = false), but reboot and power off are not offered by the session menu
# (they are exo-init's signals; Nexquelium offers them only with EXO_INIT=1).
{ self }:
{
  config,
  lib,
  pkgs,
  ...
}:
let
  cfg = config.services.exosphere;
  exo = import ./lib;
  demoCapsules = import ./capsules.nix;

  inherit (lib)
    literalExpression
    mkDefault
    mkEnableOption
    mkForce
    mkIf
    mkMerge
    mkOption
    types
    ;

  system = pkgs.stdenv.hostPlatform.system;
  flakePackage =
    name:
    self.packages.${system}.${name}
      or (throw "services.exosphere: the Exosphere flake has no ${name} package for ${system}");

  toml = pkgs.formats.toml { };

  # ---------------------------------------------------------------------------------------------
  # Option types for a capsule: the fields of Capsule.toml (docs/capsules.md, docs/sentry.md).
  # The rules types cannot say are checked by exo.capsuleErrors (assertions) and, at build time,
  # by the manifest parser itself.
  # ---------------------------------------------------------------------------------------------

  capability = types.enum exo.capabilities;

  percent = types.strMatching exo.patterns.percent;

  sentryThresholdOption =
    name: range:
    mkOption {
      type = types.nullOr (types.ints.between range.min range.max);
      default = null;
      description = "`[sentry] ${name}`; null keeps Sentry's default (docs/sentry.md).";
    };

  capsuleModule =
    { name, ... }:
    {
      options = {
        enable = mkOption {
          type = types.bool;
          default = true;
          description = "Whether to install this capsule's manifest.";
        };
        name = mkOption {
          type = types.strMatching exo.patterns.capsuleName;
          default = name;
          defaultText = literalExpression "<the attribute name>";
          description = ''
            `[capsule] name`: 1 to 32 of a-z, 0-9 and '-', not starting with '-'. It is also the
            folder name, so it must equal the attribute name.
          '';
        };
        version = mkOption {
          type = types.str;
          default = "0.1.0";
          description = "`[capsule] version` (not empty).";
        };
        description = mkOption {
          type = types.str;
          default = "";
          description = "`[capsule] description`.";
        };
        exec = mkOption {
          type = types.nonEmptyListOf types.str;
          example = literalExpression ''[ "''${pkgs.foot}/bin/foot" "--server" ]'';
          description = ''
            `[capsule] exec`: the argv, without a shell. A bare program name is looked up next
            to the nexquelium binary, then in the system PATH (add its package to `packages`);
            a store path needs neither.
          '';
        };
        autostart = mkOption {
          type = types.bool;
          default = false;
          description = "`[capsule] autostart`: start it when the session starts.";
        };
        restart = mkOption {
          type = types.enum exo.restartPolicies;
          default = "never";
          description = "`[capsule] restart`.";
        };
        color = mkOption {
          type = types.nullOr (types.strMatching exo.patterns.color);
          default = null;
          example = "#4a90d9";
          description = "`[capsule] color`, the label colour; null derives one from the name.";
        };
        permissions = mkOption {
          type = types.listOf capability;
          default = [ ];
          example = [ "display.window" ];
          description = ''
            `[permissions] required`: the capabilities the capsule holds (deny by default; each
            at most once).
          '';
        };
        resources = {
          memory_max = mkOption {
            type = types.nullOr (
              types.either types.ints.positive (types.strMatching exo.patterns.memory)
            );
            default = null;
            example = "512M";
            description = "`[resources] memory_max`: bytes, or a size with K, M or G.";
          };
          cpu_max = mkOption {
            type = types.nullOr percent;
            default = null;
            example = "50%";
            description = "`[resources] cpu_max`: 100% is one CPU.";
          };
          pids_max = mkOption {
            type = types.nullOr (types.ints.between 1 4194304);
            default = null;
            description = "`[resources] pids_max`.";
          };
        };
        env = mkOption {
          type = types.attrsOf types.str;
          default = { };
          example = {
            TERM = "xterm-256color";
          };
          description = ''
            `[env]`: extra variables. Names match [A-Z_][A-Z0-9_]*; WAYLAND_DISPLAY,
            WAYLAND_SOCKET, NEXQUELIUM_CONTROL and XDG_RUNTIME_DIR are the supervisor's.
          '';
        };
        sentry = lib.mapAttrs sentryThresholdOption exo.sentryThresholds // {
          throttle_cpu = mkOption {
            type = types.nullOr percent;
            default = null;
            description = "`[sentry] throttle_cpu`.";
          };
          actions = mkOption {
            type = types.attrsOf (types.enum exo.sentryActions);
            default = { };
            example = {
              cpu_saturation = "notify";
            };
            description = ''
              `[sentry.actions]`: anomaly kind -> action (crash_loop allows only notify, kill and
              quarantine).
            '';
          };
        };
        packages = mkOption {
          type = types.listOf types.package;
          default = [ ];
          example = literalExpression "[ pkgs.foot ]";
          description = "Packages put on the system PATH for this capsule (not written to the manifest).";
        };
      };
    };

  enabledCapsules = lib.filterAttrs (_: c: c.enable) cfg.capsules;

  manifestFile = name: c: toml.generate "${name}-Capsule.toml" (exo.toManifest c);

  # <store>/NAME/Capsule.toml for every enabled capsule.
  capsulesDir = pkgs.linkFarm "exosphere-capsules" (
    lib.mapAttrsToList (name: c: {
      name = "${name}/Capsule.toml";
      path = manifestFile name c;
    }) enabledCapsules
  );

  compositorConfig = toml.generate "nexquelium-config.toml" (
    lib.recursiveUpdate cfg.settings {
      session.host_capabilities = exo.capabilityList cfg.hostCapabilities;
    }
  );

  # The compositor's environment; capsules get only PATH, LANG, LC_ALL, TZ and EXO_INIT of it
  # (compositor/src/capsules/launch.rs), plus their own [env].
  compositorEnv = {
    XDG_RUNTIME_DIR = "/run/exosphere";
    HOME = "/root";
    PATH = "/run/current-system/sw/bin:/run/current-system/sw/sbin";
    RUST_LOG = cfg.logLevel;
    LIBSEAT_BACKEND = "builtin";
    # glibc's built-in C.UTF-8; foot refuses a locale that is not UTF-8.
    LANG = "C.UTF-8";
    # The console is a serial log, not a terminal.
    NO_COLOR = "1";
  }
  // lib.optionalAttrs cfg.pid1 {
    # Nexquelium and the dashboard offer reboot and power off only under exo-init.
    EXO_INIT = "1";
  }
  // cfg.environment;

  compositorArgv = [
    (lib.getExe cfg.package)
    "--backend"
    "drm"
    "--config"
    "${compositorConfig}"
    "--system-capsules"
    "${capsulesDir}"
  ]
  ++ cfg.extraArgs;

  initFile = toml.generate "init.toml" (
    exo.initConfig {
      udevd = "${config.systemd.package}/lib/systemd/systemd-udevd";
      udevadm = "${config.systemd.package}/bin/udevadm";
      # Where udev's kmod builtin finds the running kernel's modules (stage 2 makes the
      # /run/booted-system link). Current nixpkgs compiles this directory into kmod; older kmod
      # packages read it from MODULE_DIR, so say it anyway.
      udevdEnv.MODULE_DIR = "/run/booted-system/kernel-modules/lib/modules";
      compositor = compositorArgv;
      inherit compositorEnv;
      shutdownGrace = cfg.init.shutdownGrace;
      restart = cfg.init.restart;
      extraServices = cfg.init.extraServices;
    }
  );

  # The files, checked by the parsers the session uses. `exo-init --check` reads the services
  # file and, with `exo.run=NAME`, that capsule's manifest (exo_shell::capsule::Manifest, the
  # compositor's own parser). Note: cpu_max above 100% is checked against the build machine's
  # CPU count; set checkConfig = false if the builder has fewer CPUs than the target.
  etcTree =
    pkgs.runCommand "exosphere-etc"
      {
        nativeBuildInputs = lib.optional cfg.checkConfig cfg.initPackage;
        capsuleNames = lib.attrNames enabledCapsules;
      }
      ''
        ${lib.optionalString cfg.checkConfig ''
          exo-init --check --config ${initFile} --cmdline ""
          for name in $capsuleNames; do
            exo-init --check --config ${initFile} --capsules-dir ${capsulesDir} \
              --cmdline "exo.run=$name"
          done
        ''}
        mkdir -p $out
        ln -s ${initFile} $out/init.toml
        ln -s ${compositorConfig} $out/config.toml
        ln -s ${capsulesDir} $out/capsules
      '';

  # PID 1 from here on (exec keeps the PID). A clean environment: what stage 2 (or systemd in
  # the initrd) leaves behind is not for the session. exo-init ignores the leftover kernel
  # arguments stage-2-init.sh passes on.
  stage2 = pkgs.writeScript "exosphere-stage-2" ''
    #!${pkgs.runtimeShell}
    exec ${pkgs.coreutils}/bin/env -i \
      PATH=/run/current-system/sw/bin:/run/current-system/sw/sbin \
      HOME=/root \
      TERM=linux \
      LANG=C.UTF-8 \
      TZDIR=/etc/zoneinfo \
      ${lib.getExe cfg.initPackage} \
        --config ${etcTree}/init.toml \
        --capsules-dir ${etcTree}/capsules \
        "$@"
  '';
in
{
  options.services.exosphere = {
    enable = mkEnableOption "the Exosphere session (Nexquelium, the Sentry dashboard, capsules)";

    pid1 = mkOption {
      type = types.bool;
      default = true;
      description = ''
        Boot into exo-init instead of systemd: NixOS's stage 1 and activation run as usual,
        then exo-init becomes PID 1 and supervises udevd and the compositor. systemd units
        then never run (see the comment at the top of nix/module.nix for the trade-offs).
        False: keep systemd and run the session as a service on tty1.
      '';
    };

    package = mkOption {
      type = types.package;
      default = flakePackage "nexquelium";
      defaultText = literalExpression "exosphere.packages.\${system}.nexquelium";
      description = "The Nexquelium package.";
    };
    dashboardPackage = mkOption {
      type = types.package;
      default = flakePackage "sentry-dashboard";
      defaultText = literalExpression "exosphere.packages.\${system}.sentry-dashboard";
      description = "The sentry-dashboard package (the `sentry-dashboard` capsule runs it).";
    };
    initPackage = mkOption {
      type = types.package;
      default = flakePackage "exo-init";
      defaultText = literalExpression "exosphere.packages.\${system}.exo-init";
      description = "The exo-init package (PID 1, and the build-time config check).";
    };
    exoctlPackage = mkOption {
      type = types.package;
      default = flakePackage "exoctl";
      defaultText = literalExpression "exosphere.packages.\${system}.exoctl";
      description = "The exoctl package (installed system-wide).";
    };

    capsules = mkOption {
      type = types.attrsOf (types.submodule capsuleModule);
      default = { };
      example = literalExpression ''
        {
          terminal = {
            description = "The foot terminal";
            exec = [ "''${pkgs.foot}/bin/foot" ];
            restart = "on-failure";
            color = "#4a90d9";
            permissions = [ "display.window" ];
            resources = { memory_max = "512M"; cpu_max = "100%"; pids_max = 256; };
            env.TERM = "xterm-256color";
            sentry.actions.cpu_saturation = "notify";
          };
        }
      '';
      description = ''
        Capsules, each rendered to `<dir>/<name>/Capsule.toml` (docs/capsules.md). The keys are
        the manifest's: `[capsule]`'s fields at the top level, `permissions` for
        `[permissions] required`, and the `resources`, `env` and `sentry` tables.
      '';
    };

    dashboard.enable = mkOption {
      type = types.bool;
      default = true;
      description = "Declare the `sentry-dashboard` capsule (the panel, dashboard and launcher).";
    };

    demoCapsules.enable = mkOption {
      type = types.bool;
      default = false;
      description = ''
        Declare the repository's demo capsules: `hello` (runs at start), `terminal` (foot,
        Super+Return) and `clock` (weston-flower).
      '';
    };

    hostCapabilities = mkOption {
      type = types.either (types.enum [
        "all"
        "none"
      ]) (types.listOf capability);
      default = [ "display.window" ];
      example = [
        "display.window"
        "display.capture"
      ];
      description = ''
        Capabilities of host clients (programs on the public Wayland socket rather than
        capsules): the config's `[session] host_capabilities`. An empty list means "none".
      '';
    };

    settings = mkOption {
      type = toml.type;
      default = { };
      example = literalExpression ''
        {
          keyboard = { layout = "de"; options = "caps:escape"; };
          bindings."super+return" = "capsule terminal";
        }
      '';
      description = ''
        Nexquelium's config.toml, merged over its built-in defaults (assets/config.toml documents
        every key). `[session] host_capabilities` comes from `hostCapabilities`.
      '';
    };

    extraArgs = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [
        "--mode"
        "1920x1080@60"
      ];
      description = "More arguments for `nexquelium --backend drm`.";
    };

    environment = mkOption {
      type = types.attrsOf types.str;
      default = { };
      description = "More environment variables for the compositor (overriding the module's).";
    };

    logLevel = mkOption {
      type = types.str;
      default = "info";
      description = "RUST_LOG of the compositor.";
    };

    checkConfig = mkOption {
      type = types.bool;
      default = true;
      description = ''
        Check init.toml and every Capsule.toml with `exo-init --check` when the system is
        built. (cpu_max above 100% is checked against the build machine's CPUs.)
      '';
    };

    init = {
      shutdownGrace = mkOption {
        type = types.either types.ints.unsigned types.float;
        default = 3;
        description = "`[shutdown] grace` of init.toml: seconds to wait after each SIGTERM step.";
      };
      restart = mkOption {
        type = toml.type;
        default = { };
        example = {
          initial_delay = 0.5;
          max_delay = 30;
        };
        description = "`[restart]` of init.toml (the restart backoff); empty keeps exo-init's defaults.";
      };
      extraServices = mkOption {
        type = types.listOf toml.type;
        default = [ ];
        example = literalExpression ''
          [ { name = "sshd"; exec = [ "''${pkgs.openssh}/bin/sshd" "-D" ]; restart = "always"; } ]
        '';
        description = ''
          More `[[service]]` tables for init.toml (docs/exo-init.md), started after the two of
          the module in list order unless their `after` says otherwise. Only with `pid1`.
        '';
      };
    };
  };

  config = mkIf cfg.enable (mkMerge [
    {
      services.exosphere.capsules = mkMerge [
        (mkIf cfg.dashboard.enable {
          sentry-dashboard = lib.mapAttrs (_: mkDefault) demoCapsules.sentry-dashboard // {
            packages = [ cfg.dashboardPackage ];
          };
        })
        (mkIf cfg.demoCapsules.enable {
          hello = lib.mapAttrs (_: mkDefault) demoCapsules.hello;
          terminal = lib.mapAttrs (_: mkDefault) demoCapsules.terminal // {
            packages = [ pkgs.foot ];
          };
          clock = lib.mapAttrs (_: mkDefault) demoCapsules.clock // {
            packages = [ pkgs.weston ];
          };
        })
      ];

      assertions =
        lib.concatLists (
          lib.mapAttrsToList (
            name: c:
            map (message: {
              assertion = false;
              inherit message;
            }) (exo.capsuleErrors name c)
          ) enabledCapsules
        )
        ++ [
          {
            assertion = cfg.pid1 || cfg.init.extraServices == [ ];
            message = "services.exosphere.init.extraServices needs services.exosphere.pid1 (exo-init runs them).";
          }
        ];

      environment.systemPackages = [
        cfg.package
        cfg.exoctlPackage
        cfg.initPackage
      ]
      ++ lib.concatMap (c: c.packages) (lib.attrValues enabledCapsules);

      # For people and tools (`exo-init --check --config /etc/exosphere/init.toml`); the session
      # itself reads the store paths.
      environment.etc."exosphere/init.toml".source = "${etcTree}/init.toml";
      environment.etc."exosphere/config.toml".source = "${etcTree}/config.toml";
      environment.etc."exosphere/capsules".source = "${etcTree}/capsules";

      # foot (the terminal capsule) asks fontconfig for a monospace font; the labels and the
      # dashboard embed their own.
      fonts.packages = [ pkgs.dejavu_fonts ];

      # Capsules run under uids 61000-61127 (no passwd entries needed) and cgroup v2, which
      # exo-init mounts; nothing else to declare for them.
    }

    (mkIf cfg.pid1 {
      # Scripted stage 1: NixOS's stage-2-init.sh activates, then execs this.
      boot.systemdExecutable = "${stage2}";

      # systemd stage 1: activation (in the initrd) makes this link before switch-root uses it.
      environment.etc."exosphere/stage-2".source = stage2;

      boot.initrd.systemd.services = mkIf config.boot.initrd.systemd.enable {
        initrd-switch-root.serviceConfig.ExecStart = mkForce [
          ""
          "systemctl --no-block switch-root /sysroot /etc/exosphere/stage-2"
        ];
      };

      assertions = [
        {
          assertion = !config.boot.isContainer;
          message = "services.exosphere.pid1 does not work in a container; set it to false.";
        }
        {
          assertion = !(config.system ? nixos-init && config.system.nixos-init.enable or false);
          message = "services.exosphere.pid1 does not support system.nixos-init (it switches root itself).";
        }
      ];
    })

    (mkIf (!cfg.pid1) {
      systemd.defaultUnit = "graphical.target";
      systemd.services."getty@tty1".enable = false;
      systemd.services."autovt@tty1".enable = false;
      systemd.services.exosphere = {
        description = "Exosphere session (Nexquelium on DRM)";
        wantedBy = [ "graphical.target" ];
        after = [
          "systemd-udev-settle.service"
          "systemd-user-sessions.service"
          "getty@tty1.service"
        ];
        wants = [ "systemd-udev-settle.service" ];
        conflicts = [ "getty@tty1.service" ];
        # A rebuild must not kill the session under the user.
        restartIfChanged = false;
        # NixOS sets PATH from `path` (plus coreutils and friends); the system profile holds the
        # capsules' programs.
        path = [ "/run/current-system/sw" ];
        environment = removeAttrs compositorEnv [ "PATH" ];
        serviceConfig = {
          ExecStart = lib.escapeShellArgs compositorArgv;
          Restart = "always";
          RestartSec = 1;
          TTYPath = "/dev/tty1";
          TTYReset = true;
          TTYVHangup = true;
          TTYVTDisallocate = true;
          StandardInput = "tty-fail";
          # "nexquelium: dashboard mapped" and the rest also reach the console, as under exo-init.
          StandardOutput = "journal+console";
          StandardError = "journal+console";
          RuntimeDirectory = "exosphere";
          RuntimeDirectoryMode = "0700";
        };
      };
    })
  ]);
}
