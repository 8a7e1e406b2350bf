#!/usr/bin/env bash
# What can be checked of the flake without nixpkgs and without the network (Debian's nix-bin is
# enough; `./x test` can call this):
#   1. every .nix file of the repository parses (nix-instantiate --parse);
#   2. nix/tests/eval.nix evaluates: the builtins-only helpers render the demo capsules exactly as
#      assets/capsules/*/Capsule.toml, validation catches every broken rule, init.toml has the
#      right shape;
#   3. with an exo-init binary (EXO_INIT=PATH, else target/debug or target/release), the rendered
#      init.toml and Capsule.toml files pass `exo-init --check`, i.e. the real parsers.
# The builds, the NixOS configurations and the VM test need nixpkgs and crane: see README.md,
# section "Nix", for the commands.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'nix/check.sh: %s\n' "$*" >&2; }

command -v nix-instantiate >/dev/null || { say "nix-instantiate is missing (Debian: apt-get install nix-bin)"; exit 1; }

# 1. Parse. git ls-files lists tracked and new files (not target/); outside git, find.
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  mapfile -t files < <(git ls-files --cached --others --exclude-standard -- '*.nix' | sort)
else
  mapfile -t files < <(find . -name '*.nix' -not -path './target/*' | sort)
fi
[ ${#files[@]} -gt 0 ] || { say "no .nix files found"; exit 1; }
for f in "${files[@]}"; do
  nix-instantiate --parse "$f" >/dev/null
  say "parses: $f"
done

# 2. Evaluate the pure parts.
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
nix-instantiate --eval --strict --json nix/tests/eval.nix >"$out/eval.json"
say "nix/tests/eval.nix: ok (capsules round-trip with assets/capsules, validation, init.toml)"

# 3. The real parsers.
exo_init=${EXO_INIT:-}
if [ -z "$exo_init" ]; then
  for candidate in target/debug/exo-init target/release/exo-init; do
    [ -x "$candidate" ] && { exo_init=$candidate; break; }
  done
fi
if [ -z "$exo_init" ] || ! command -v python3 >/dev/null; then
  say "skipping exo-init --check of the rendered files (no exo-init binary or no python3)"
  exit 0
fi
python3 - "$out" <<'EOF'
import json, os, sys
out = sys.argv[1]
doc = json.load(open(os.path.join(out, "eval.json")))
with open(os.path.join(out, "init.toml"), "w") as f:
    f.write(doc["init.toml"])
for name, text in doc["capsules"].items():
    os.makedirs(os.path.join(out, "capsules", name))
    with open(os.path.join(out, "capsules", name, "Capsule.toml"), "w") as f:
        f.write(text)
EOF
"$exo_init" --check --config "$out/init.toml" --cmdline "" >/dev/null
say "exo-init --check: init.toml ok"
for dir in "$out"/capsules/*; do
  name=${dir##*/}
  "$exo_init" --check --config "$out/init.toml" --capsules-dir "$out/capsules" --cmdline "exo.run=$name" >/dev/null
  say "exo-init --check: capsule $name ok"
done
