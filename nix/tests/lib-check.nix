# checks.<system>.nix-lib: nix/tests/eval.nix (the builtins-only checks of nix/lib and
# nix/capsules.nix) at evaluation time, then the files it renders handed to the real parsers:
# `exo-init --check` reads init.toml and, with `exo.run=NAME`, each Capsule.toml through
# exo_shell::capsule::Manifest (the compositor's own manifest parser). nix/check.sh does the same
# without nixpkgs, with a cargo-built exo-init.
{ pkgs, exo-init }:
let
  inherit (pkgs) lib;
  rendered = import ./eval.nix;
  capsuleFiles = lib.mapAttrs (name: text: pkgs.writeText "${name}-Capsule.toml" text) rendered.capsules;
  initToml = pkgs.writeText "init.toml" rendered."init.toml";
in
assert rendered.ok;
pkgs.runCommand "exosphere-nix-lib-check" { nativeBuildInputs = [ exo-init ]; } ''
  ${lib.concatStrings (
    lib.mapAttrsToList (name: file: ''
      mkdir -p capsules/${name}
      cp ${file} capsules/${name}/Capsule.toml
    '') capsuleFiles
  )}
  exo-init --check --config ${initToml} --cmdline ""
  for dir in capsules/*; do
    exo-init --check --config ${initToml} --capsules-dir capsules --cmdline "exo.run=''${dir#capsules/}"
  done
  touch $out
''
