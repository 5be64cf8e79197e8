#!/usr/bin/env bash
# Installs what Firebreak needs to build (`build`) or to build and test (`test`) on Debian/Ubuntu,
# skipping whatever is already present, so it is safe to run any number of times.
set -euo pipefail

what=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)

say() { printf '==> %s\n' "$*"; }

build_packages=(build-essential pkg-config libssl-dev libdbus-1-dev curl file
  libwebkit2gtk-4.1-dev libxdo-dev libayatana-appindicator3-dev librsvg2-dev)
test_packages=(xvfb xauth webkit2gtk-driver poppler-utils qpdf gnome-keyring libsecret-tools
  keyutils dbus dbus-user-session imagemagick librsvg2-bin)

packages=("${build_packages[@]}")
[ "$what" = test ] && packages+=("${test_packages[@]}")

# --- apt packages -----------------------------------------------------------------------------
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if ! command -v apt-get >/dev/null; then
    echo "These system packages are missing and this is not a Debian/Ubuntu system: ${missing[*]}" >&2
    exit 1
  fi
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "Need root or sudo to install: ${missing[*]}" >&2; exit 1; }
    sudo="sudo"
  fi
  say "installing system packages: ${missing[*]}"
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# --- Rust -------------------------------------------------------------------------------------
if ! command -v cargo >/dev/null; then
  [ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
fi
if ! command -v cargo >/dev/null; then
  say "installing the Rust toolchain with rustup"
  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal --component rustfmt,clippy
  export PATH="$HOME/.cargo/bin:$PATH"
fi
if [ "$what" = test ] && command -v rustup >/dev/null; then
  for c in rustfmt clippy; do
    rustup component list --installed 2>/dev/null | grep -q "^$c" || rustup component add "$c"
  done
fi

# --- Node and the UI's packages ---------------------------------------------------------------
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "Node.js 20 or newer with npm is needed (https://nodejs.org or your distribution's nodejs package)." >&2
  exit 1
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  echo "Node.js $node_major is too old: Firebreak's UI tools need Node.js 20 or newer." >&2
  exit 1
fi
stamp="$root/ui/node_modules/.package-lock.json"
if [ ! -f "$stamp" ] || [ "$root/ui/package-lock.json" -nt "$stamp" ]; then
  say "installing the UI's npm packages (npm ci)"
  (cd "$root/ui" && npm ci --no-audit --no-fund)
fi

# --- tauri-driver for the end-to-end tests ----------------------------------------------------
if [ "$what" = test ] && ! command -v tauri-driver >/dev/null && [ ! -x "${CARGO_HOME:-$HOME/.cargo}/bin/tauri-driver" ]; then
  say "installing tauri-driver"
  cargo install tauri-driver --locked --version '^2'
fi
