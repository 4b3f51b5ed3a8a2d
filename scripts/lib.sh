# Shared by the scripts in this folder (sourced, not run): where things live and how to say things.
# Everything a script installs or starts lives under target/, so a fresh clone needs nothing else.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOLS_DIR="$ROOT/target/tools"
VENV="$TOOLS_DIR/venv"
EMULATOR_DIR="$ROOT/target/emulator"
# The cache the installer builds the Lambda in (`$XDG_CACHE_HOME/sentinel-tvm/lambda/<key>`), kept
# under target/ and shared by scripts/test, scripts/demo and the benchmarks: one build for all.
LAMBDA_CACHE="$ROOT/target/cache"

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 2; }

# Puts the pinned Python tools (ministack, cfn-lint, cargo-lambda, zig, awscli) first on PATH.
use_tools() {
  "$ROOT/scripts/tools" >&2 || die "could not install the pinned tools; see the pip output above"
  export PATH="$VENV/bin:$PATH"
}

# Points the installer (and what it starts) at the shared Lambda cache.
use_lambda_cache() {
  export XDG_CACHE_HOME="$LAMBDA_CACHE"
}

# The path of the installer's own Lambda build for ARCH (`sentinel-tvm build`: from the cache, or
# built there the first time, minutes). Needs target/debug/sentinel-tvm.
built_lambda_zip() { # arch
  XDG_CACHE_HOME="$LAMBDA_CACHE" "$ROOT/target/debug/sentinel-tvm" build --architecture "$1"
}

# Credentials the emulator treats as its account root. Exported only for emulator runs, so nothing
# started from these scripts can pick up a real AWS identity by accident.
use_emulator_credentials() {
  export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
  unset AWS_SESSION_TOKEN AWS_PROFILE AWS_DEFAULT_PROFILE
  export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
}

# This machine's architecture as Lambda names it (the emulator runs the Lambda here).
host_architecture() {
  case "$(uname -m)" in
    x86_64) echo x86_64 ;;
    aarch64 | arm64) echo arm64 ;;
    *) return 1 ;;
  esac
}
