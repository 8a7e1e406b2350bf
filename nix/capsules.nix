# The repository's capsules (assets/capsules/*/Capsule.toml) declared as Nix attribute sets, in
# the shape `services.exosphere.capsules.<name>` takes (see toManifest in nix/lib/default.nix).
# Builtins only. nix/tests/eval.nix renders each one and compares it with the TOML file of the
# same name, key for key, so the two cannot drift apart unnoticed.
#
# `exec` keeps the bare program names of the TOML files: Nexquelium looks a bare name up next to
# its own binary, then in PATH, and the module puts the programs (foot, weston-flower, the
# dashboard) on the system PATH it gives the compositor.
{
  # The panel, the Sentry dashboard and the launcher (docs/sentry-dashboard.md).
  sentry-dashboard = {
    version = "0.1.0";
    description = "Panel, Sentry dashboard and launcher";
    exec = [ "sentry-dashboard" ];
    autostart = true;
    restart = "on-failure";
    color = "#5a6b7d";
    permissions = [
      "display.window"
      "display.layer"
      "sentry.observe"
      "sentry.control"
    ];
    resources = {
      memory_max = "256M";
      pids_max = 32;
    };
  };

  # Prints a line and exits; no rights at all, not even a Wayland connection.
  hello = {
    version = "0.1.0";
    description = "Prints a greeting and exits";
    exec = [
      "sh"
      "-c"
      "echo 'Hello, Exosphere!'"
    ];
    autostart = true;
    restart = "never";
    permissions = [ ];
  };

  # foot with ordinary windows only; a busy CPU is normal for a terminal, so Sentry only notifies.
  terminal = {
    version = "0.1.0";
    description = "The foot terminal";
    exec = [ "foot" ];
    autostart = false;
    restart = "on-failure";
    color = "#4a90d9";
    permissions = [ "display.window" ];
    resources = {
      memory_max = "512M";
      cpu_max = "100%";
      pids_max = 256;
    };
    env.TERM = "xterm-256color";
    sentry.actions.cpu_saturation = "notify";
  };

  # weston-flower: draws one static picture, then idles. Colour derived from the name.
  clock = {
    version = "0.1.0";
    description = "A static weston demo window";
    exec = [ "weston-flower" ];
    autostart = false;
    restart = "never";
    permissions = [ "display.window" ];
    resources = {
      memory_max = "128M";
      pids_max = 16;
    };
  };
}
