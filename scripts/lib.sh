# Shared by the scripts in this folder (sourced, not run): where things live and how to say things.
# Everything a script installs or starts lives under target/, so a fresh clone needs nothing else.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOLS_DIR="$ROOT/target/tools"
VENV="$TOOLS_DIR/venv"
EMULATOR_DIR="$ROOT/target/emulator"

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 2; }

# Puts the pinned Python tools (ministack, cfn-lint, cargo-lambda, zig, awscli) first on PATH.
use_tools() {
  "$ROOT/scripts/tools" >&2 || die "could not install the pinned tools; see the pip output above"
  export PATH="$VENV/bin:$PATH"
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
