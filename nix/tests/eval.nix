# Builtins-only checks of nix/lib and nix/capsules.nix: no nixpkgs, no network, so they run on
# the project's machines (Debian's nix-bin) as well as anywhere else.
#
#   nix-instantiate --eval --strict --json nix/tests/eval.nix
#
# Evaluation fails (a `throw` naming what is wrong) unless:
#   - every capsule in assets/capsules/ is declared in nix/capsules.nix and vice versa;
#   - each declared capsule, rendered by toManifest + toTOML and read back with builtins.fromTOML,
#     equals the repository's Capsule.toml read with builtins.fromTOML (the same keys, values and
#     types);
#   - the demo capsules pass capsuleErrors, and a deliberately broken capsule does not;
#   - the init.toml rendering has the tables exo-init requires.
# On success it prints the rendered files, so that nix/check.sh can also hand them to the real
# parsers (`exo-init --check`).
let
  exo = import ../lib;
  demo = import ../capsules.nix;
  assetsDir = ../../assets/capsules;

  inherit (builtins)
    attrNames
    concatStringsSep
    filter
    fromTOML
    readDir
    readFile
    ;

  withName = name: c: c // { inherit name; };
  render = name: exo.toTOML (exo.toManifest (withName name demo.${name}));

  assetNames = filter (n: (readDir assetsDir).${n} == "directory") (attrNames (readDir assetsDir));
  declaredNames = attrNames demo;

  sameNames =
    if assetNames == declaredNames then
      true
    else
      throw "assets/capsules has [ ${concatStringsSep " " assetNames} ] but nix/capsules.nix declares [ ${concatStringsSep " " declaredNames} ]";

  roundTrip =
    name:
    let
      fromNix = fromTOML (render name);
      fromRepo = fromTOML (readFile (assetsDir + "/${name}/Capsule.toml"));
    in
    if fromNix == fromRepo then
      true
    else
      throw "capsule ${name}: the Nix declaration renders to\n${render name}\nwhich differs from assets/capsules/${name}/Capsule.toml:\n${builtins.toJSON fromRepo}";

  demoErrors = builtins.concatMap (n: exo.capsuleErrors n (withName n demo.${n})) declaredNames;
  demoValid =
    if demoErrors == [ ] then
      true
    else
      throw "the demo capsules fail validation:\n${concatStringsSep "\n" demoErrors}";

  # Every rule capsuleErrors knows, broken once.
  broken = exo.capsuleErrors "shady" {
    name = "Shady";
    version = "";
    exec = [ "" ];
    permissions = [
      "display.windw"
      "display.window"
      "display.window"
    ];
    color = "blue";
    env = {
      WAYLAND_DISPLAY = "wayland-9";
      lower = "x";
    };
    resources = {
      memory_max = "lots";
      cpu_max = "50";
      pids_max = 0;
    };
    sentry = {
      memory_percent = 101;
      bogus = 1;
      throttle_cpu = "half";
      actions = {
        crash_loop = "restart";
        sneezing = "notify";
      };
    };
  };
  brokenCaught =
    if builtins.length broken == 17 then
      true
    else
      throw "capsuleErrors found ${toString (builtins.length broken)} errors in the broken capsule, expected 17:\n${concatStringsSep "\n" broken}";

  initDoc = exo.initConfig {
    udevd = "/nix/store/eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee-systemd/lib/systemd/systemd-udevd";
    udevadm = "/nix/store/eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee-systemd/bin/udevadm";
    udevdEnv.MODULE_DIR = "/run/booted-system/kernel-modules/lib/modules";
    compositor = [
      "/nix/store/eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee-nexquelium/bin/nexquelium"
      "--backend"
      "drm"
    ];
    compositorEnv = {
      XDG_RUNTIME_DIR = "/run/exosphere";
      EXO_INIT = "1";
      LIBSEAT_BACKEND = "builtin";
    };
  };
  initToml = exo.toTOML initDoc;
  initParsed = fromTOML initToml;
  initShape =
    if
      initParsed.shutdown.grace == 3
      && map (s: s.name) initParsed.service == [
        "udevd"
        "nexquelium"
      ]
      && (builtins.elemAt initParsed.service 1).after == [ "udevd" ]
      && builtins.length (builtins.elemAt initParsed.service 0).ready == 3
    then
      true
    else
      throw "init.toml renders wrongly:\n${initToml}";
in
assert sameNames;
assert builtins.all roundTrip declaredNames;
assert demoValid;
assert brokenCaught;
assert initShape;
{
  ok = true;
  capsules = builtins.listToAttrs (
    map (n: {
      name = n;
      value = render n;
    }) declaredNames
  );
  brokenCapsuleErrors = broken;
  "init.toml" = initToml;
  hostCapabilities = [
    (exo.capabilityList [ ])
    (exo.capabilityList [
      "display.window"
      "net.connect"
    ])
    (exo.capabilityList "all")
  ];
}
