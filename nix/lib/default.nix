# Pure helpers shared by the NixOS module (nix/module.nix) and the builtins-only tests
# (nix/tests/eval.nix). Only `builtins` is used here, never nixpkgs or its `lib`, so that
# `nix-instantiate --eval` can check them on a machine that cannot fetch nixpkgs.
#
# What they encode comes from the Rust sources, which stay the authority:
#   - the Capsule.toml format: shell/src/capsule/manifest.rs, manifest_sentry.rs, docs/capsules.md,
#     docs/sentry.md;
#   - the capability vocabulary: shell/src/capability.rs;
#   - exo-init's services file: init/src/config.rs, docs/exo-init.md.
# If one of those changes, change this file with it (nix/tests/eval.nix compares the rendering of
# the demo capsules with assets/capsules/*/Capsule.toml, which catches most drift).
let
  inherit (builtins)
    all
    attrNames
    concatMap
    concatStringsSep
    elem
    filter
    isAttrs
    isBool
    isFloat
    isInt
    isList
    isString
    length
    map
    match
    toJSON
    ;

  # ---------------------------------------------------------------------------------------------
  # Vocabulary
  # ---------------------------------------------------------------------------------------------

  # shell/src/capability.rs, in the order docs/capsules.md lists them.
  capabilities = [
    "display.window"
    "display.layer"
    "display.fullscreen"
    "display.capture"
    "display.toplevels"
    "display.output"
    "display.lock"
    "input.inject"
    "input.method"
    "input.inhibit"
    "clipboard.manage"
    "sentry.observe"
    "sentry.control"
    "net.connect"
  ];

  restartPolicies = [
    "never"
    "on-failure"
    "always"
  ];

  # exo-init's per-service restart policies (init/src/config.rs): same words, another default.
  serviceRestartPolicies = restartPolicies;

  # docs/sentry.md, "Actions and policy".
  sentryActions = [
    "notify"
    "restart"
    "throttle"
    "freeze"
    "kill"
    "quarantine"
  ];
  # crash_loop allows only these three (a crash-looping capsule is between restarts).
  crashLoopActions = [
    "notify"
    "kill"
    "quarantine"
  ];
  anomalies = [
    "crash_loop"
    "oom_kill"
    "memory_high"
    "cpu_saturation"
    "unresponsive"
    "refused_capability"
    "window_flood"
  ];

  # [sentry] thresholds: name -> { min, max } (docs/sentry.md, "Thresholds"). refused_quarantine
  # is 0 or more than refused_count; throttle_cpu is a percentage string like cpu_max.
  sentryThresholds = {
    crash_loop_exits = {
      min = 1;
      max = 1000;
    };
    crash_loop_secs = {
      min = 1;
      max = 86400;
    };
    memory_percent = {
      min = 1;
      max = 100;
    };
    cpu_percent = {
      min = 1;
      max = 100;
    };
    cpu_secs = {
      min = 1;
      max = 3600;
    };
    unresponsive_secs = {
      min = 1;
      max = 600;
    };
    refused_count = {
      min = 1;
      max = 86400;
    };
    refused_secs = {
      min = 1;
      max = 86400;
    };
    refused_quarantine = {
      min = 0;
      max = 86400;
    };
  };

  # Variables the capsule supervisor sets itself; a manifest may not (docs/capsules.md, [env]).
  supervisorEnv = [
    "WAYLAND_DISPLAY"
    "WAYLAND_SOCKET"
    "NEXQUELIUM_CONTROL"
    "XDG_RUNTIME_DIR"
  ];

  # Regular expressions (builtins.match: the whole string must match).
  patterns = {
    # 1-32 of a-z, 0-9 and '-', not starting with '-'.
    capsuleName = "[a-z0-9][a-z0-9-]{0,31}";
    # exo-init service names: 1-32 of a-z, 0-9, '-', '_'.
    serviceName = "[a-z0-9_-]{1,32}";
    envName = "[A-Z_][A-Z0-9_]*";
    color = "#[0-9a-fA-F]{6}";
    # "512M", "1048576", "2g" (powers of 1024).
    memory = "[0-9]+[KMGkmg]?";
    percent = "[0-9]+%";
  };

  matches = re: s: match re s != null;

  # ---------------------------------------------------------------------------------------------
  # Capsule.toml
  # ---------------------------------------------------------------------------------------------

  # Drops the attributes whose value is null (TOML has no null).
  dropNulls = attrs: removeAttrs attrs (filter (n: attrs.${n} == null) (attrNames attrs));

  # `cond` ? the attribute set : nothing.
  optionalAttrs = cond: attrs: if cond then attrs else { };

  # A capsule as the module (or a test) declares it, to the attribute set whose TOML rendering is
  # its Capsule.toml. The input has the manifest's own key names, flattened one level:
  #
  #   {
  #     name = "terminal";              # [capsule] name (the module fills it from the attribute name)
  #     version = "0.1.0";              # [capsule] version
  #     description = "The foot terminal";   # omitted when "" (the parser's default)
  #     exec = [ "foot" ];              # [capsule] exec
  #     autostart = false;              # [capsule] autostart
  #     restart = "on-failure";         # [capsule] restart
  #     color = "#4a90d9";              # [capsule] color, omitted when null
  #     permissions = [ "display.window" ];  # [permissions] required (always written, maybe [])
  #     resources = { memory_max = "512M"; cpu_max = "100%"; pids_max = 256; };  # nulls dropped
  #     env = { TERM = "xterm-256color"; };  # [env], omitted when empty
  #     sentry = { memory_percent = 80; actions = { cpu_saturation = "notify"; }; };  # [sentry]
  #   }
  #
  # Any other attribute (the module's `enable`, `packages`) is ignored.
  toManifest =
    c:
    let
      description = c.description or "";
      resources = dropNulls (c.resources or { });
      env = c.env or { };
      sentryIn = c.sentry or { };
      actions = dropNulls (sentryIn.actions or { });
      thresholds = dropNulls (removeAttrs sentryIn [ "actions" ]);
      sentry = thresholds // optionalAttrs (actions != { }) { inherit actions; };
    in
    {
      capsule = dropNulls {
        inherit (c) name version exec;
        description = if description == "" then null else description;
        autostart = c.autostart or false;
        restart = c.restart or "never";
        color = c.color or null;
      };
      permissions.required = c.permissions or [ ];
    }
    // optionalAttrs (resources != { }) { inherit resources; }
    // optionalAttrs (env != { }) { inherit env; }
    // optionalAttrs (sentry != { }) { inherit sentry; };

  # The rules of the manifest parser that Nix option types cannot say, as a list of messages
  # (empty: fine). The module turns each into an assertion, so a bad capsule fails at evaluation
  # with its name instead of showing up as `invalid` in the running session. The parser itself
  # still runs at build time (services.exosphere.checkConfig).
  capsuleErrors =
    attrName: c:
    let
      at = "services.exosphere.capsules.${attrName}";
      name = c.name or attrName;
      exec = c.exec or [ ];
      perms = c.permissions or [ ];
      env = c.env or { };
      res = c.resources or { };
      sentry = c.sentry or { };
      actions = sentry.actions or { };
      thresholdNames = attrNames sentryThresholds;
      unique = l: length l == length (attrNames (builtins.listToAttrs (map (x: {
        name = x;
        value = true;
      }) l)));
      check = cond: msg: if cond then [ ] else [ "${at}: ${msg}" ];
      inRange =
        n: v:
        v == null
        || (
          isInt v
          && v >= sentryThresholds.${n}.min
          && v <= sentryThresholds.${n}.max
        );
    in
    check (matches patterns.capsuleName name)
      "name \"${name}\" must be 1 to 32 of a-z, 0-9 and '-', not starting with '-'"
    ++ check (name == attrName)
      "name \"${name}\" must equal the attribute name \"${attrName}\" (it becomes the folder name)"
    ++ check ((c.version or "") != "") "version must not be empty"
    ++ check (exec != [ ] && builtins.head exec != "")
      "exec must be a non-empty argv whose first element is not empty (no shell: write [ \"sh\" \"-c\" \"...\" ])"
    ++ check (all (p: elem p capabilities) perms)
      "permissions: unknown capability in [ ${concatStringsSep " " perms} ]; expected some of ${concatStringsSep ", " capabilities}"
    ++ check (unique perms) "permissions: a capability is listed twice"
    ++ check ((c.color or null) == null || matches patterns.color c.color)
      "color must look like \"#4a90d9\""
    ++ check ((c.restart or "never") != null && elem (c.restart or "never") restartPolicies)
      "restart must be one of ${concatStringsSep ", " restartPolicies}"
    ++ concatMap (
      n:
      check (matches patterns.envName n) "env: \"${n}\" is not a valid name ([A-Z_][A-Z0-9_]*)"
      ++ check (!elem n supervisorEnv) "env: ${n} is set by the supervisor and cannot be set in a manifest"
    ) (attrNames env)
    ++ check (
      (res.memory_max or null) == null
      || (isInt res.memory_max && res.memory_max > 0)
      || (isString res.memory_max && matches patterns.memory res.memory_max)
    ) "resources.memory_max must be bytes (an integer or \"1048576\") or a size like \"512M\""
    ++ check (
      (res.cpu_max or null) == null || (isString res.cpu_max && matches patterns.percent res.cpu_max)
    ) "resources.cpu_max must be a whole percentage like \"50%\""
    ++ check (
      (res.pids_max or null) == null
      || (isInt res.pids_max && res.pids_max >= 1 && res.pids_max <= 4194304)
    ) "resources.pids_max must be an integer from 1 to 4194304"
    ++ concatMap (
      n:
      check (elem n (thresholdNames ++ [
        "throttle_cpu"
        "actions"
      ])) "sentry: unknown key ${n}"
      ++ check (!(elem n thresholdNames) || inRange n sentry.${n})
        "sentry.${n} must be an integer from ${toString sentryThresholds.${n}.min} to ${toString sentryThresholds.${n}.max}"
    ) (attrNames sentry)
    ++ check (
      (sentry.throttle_cpu or null) == null
      || (isString sentry.throttle_cpu && matches patterns.percent sentry.throttle_cpu)
    ) "sentry.throttle_cpu must be a whole percentage like \"50%\""
    ++ concatMap (
      k:
      let
        a = actions.${k};
        allowed = if k == "crash_loop" then crashLoopActions else sentryActions;
      in
      check (elem k anomalies) "sentry.actions: unknown anomaly ${k}; expected one of ${concatStringsSep ", " anomalies}"
      ++ check (a == null || elem a allowed)
        "sentry.actions.${k} must be one of ${concatStringsSep ", " allowed}"
    ) (attrNames actions);

  # ---------------------------------------------------------------------------------------------
  # exo-init's /etc/exosphere/init.toml
  # ---------------------------------------------------------------------------------------------

  # The attribute set of exo-init's services file for a NixOS system, the same two services as
  # the Debian image (vm/src/build/init_toml.rs): udevd with the coldplug as its `ready`
  # commands, then the compositor on DRM. Everything is an absolute path: exo-init's default PATH
  # (/usr/local/sbin:…:/bin) does not exist on NixOS.
  initConfig =
    {
      udevd, # ".../lib/systemd/systemd-udevd"
      udevadm, # ".../bin/udevadm"
      udevdEnv ? { }, # e.g. MODULE_DIR for NixOS's kmod
      compositor, # the argv of Nexquelium
      compositorEnv, # its environment (exo-init adds it to its own)
      shutdownGrace ? 3,
      restart ? { }, # [restart] backoff; {} keeps exo-init's defaults
      extraServices ? [ ], # more [[service]] tables, appended in order
    }:
    {
      shutdown.grace = shutdownGrace;
      service = [
        (
          {
            name = "udevd";
            exec = [ udevd ];
            ready = [
              [
                udevadm
                "trigger"
                "--type=subsystems"
                "--action=add"
              ]
              [
                udevadm
                "trigger"
                "--type=devices"
                "--action=add"
              ]
              [
                udevadm
                "settle"
                "--timeout=30"
              ]
            ];
            restart = "always";
          }
          // optionalAttrs (udevdEnv != { }) { env = udevdEnv; }
        )
        {
          name = "nexquelium";
          exec = compositor;
          env = compositorEnv;
          after = [ "udevd" ];
          restart = "always";
        }
      ]
      ++ extraServices;
    }
    // optionalAttrs (restart != { }) { inherit restart; };

  # ---------------------------------------------------------------------------------------------
  # A small TOML writer
  # ---------------------------------------------------------------------------------------------

  # The module writes its files with nixpkgs' `pkgs.formats.toml` (which also type-checks the
  # values). This writer exists so that the builtins-only tests can produce the same documents
  # without nixpkgs and feed them to `builtins.fromTOML` and to the real parsers
  # (`exo-init --check`). It knows what these files need: strings, integers, floats, booleans,
  # arrays (also of arrays), tables, and arrays of tables (exo-init requires `[[service]]`).
  toTOML =
    let
      bareKey = k: matches "[A-Za-z0-9_-]+" k;
      key = k: if bareKey k then k else toJSON k;
      dotted = path: concatStringsSep "." (map key path);
      isTableArray = v: isList v && v != [ ] && all isAttrs v;
      value =
        v:
        if isString v then
          # TOML basic strings share JSON's escapes for everything builtins.toJSON writes.
          toJSON v
        else if isBool v then
          (if v then "true" else "false")
        else if isInt v || isFloat v then
          toString v
        else if isList v then
          "[" + concatStringsSep ", " (map value v) + "]"
        else if isAttrs v then
          # Only reached for tables inside arrays: an inline table.
          "{ " + concatStringsSep ", " (map (k: "${key k} = ${value v.${k}}") (attrNames v)) + " }"
        else if v == null then
          throw "toTOML: TOML has no null (drop the key instead)"
        else
          throw "toTOML: cannot write a ${builtins.typeOf v}";
      # The sections of a table: its own (`header`, "" for the document, and its plain keys),
      # then those of its sub-tables and arrays of tables, each opening with its header line.
      sections =
        header: path: attrs:
        let
          names = attrNames attrs;
          isSub = n: isAttrs attrs.${n};
          isArr = n: isTableArray attrs.${n};
          plain = filter (n: !(isSub n) && !(isArr n)) names;
          subs = filter isSub names;
          arrs = filter isArr names;
        in
        [ (header + concatStringsSep "" (map (n: "${key n} = ${value attrs.${n}}\n") plain)) ]
        ++ concatMap (n: sections "[${dotted (path ++ [ n ])}]\n" (path ++ [ n ]) attrs.${n}) subs
        ++ concatMap (
          n: concatMap (t: sections "[[${dotted (path ++ [ n ])}]]\n" (path ++ [ n ]) t) attrs.${n}
        ) arrs;
    in
    doc: concatStringsSep "\n" (filter (s: s != "") (sections "" [ ] doc));
in
{
  inherit
    capabilities
    restartPolicies
    serviceRestartPolicies
    sentryActions
    crashLoopActions
    anomalies
    sentryThresholds
    supervisorEnv
    patterns
    dropNulls
    toManifest
    capsuleErrors
    initConfig
    toTOML
    ;

  # "display.window,net.connect", "all" or "none": the syntax of `[session] host_capabilities`
  # and `--host-caps` (shell/src/capability.rs, CapabilitySet::parse_list).
  capabilityList =
    caps:
    if isString caps then
      caps
    else if caps == [ ] then
      "none"
    else
      concatStringsSep "," caps;
}
