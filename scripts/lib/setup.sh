# Shared set-up for scripts/test, scripts/demo and .ci/run (sourced, not run). Everything a script needs
# before its first cargo command lives here, so the three cannot drift apart.
#
# Where things go:
#   MTF_CACHE_DIR    (default ~/.cache/mtf)           build cache shared by clones of this repository
#   CARGO_TARGET_DIR (default $MTF_CACHE_DIR/target)  every cargo build of the scripts
#   MTF_TOOLS_DIR    (default $MTF_CACHE_DIR/tools)   the pinned cargo-installed CLIs (bin/ is put first on PATH)
#
# Pinned tools (crates.io only; versions must match Cargo.lock / the toolchain notes):
MTF_WASM_BINDGEN_VERSION=0.2.130   # the wasm-bindgen CLI must equal the library version exactly
MTF_WORKER_BUILD_VERSION=0.8.7     # workers-rs' build tool, as the worker crate

mtf_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export MTF_CACHE_DIR="${MTF_CACHE_DIR:-$HOME/.cache/mtf}"
export MTF_TOOLS_DIR="${MTF_TOOLS_DIR:-$MTF_CACHE_DIR/tools}"
# One cargo target directory for the demo, the tests and CI (and every clone): a demo after the tests (or the
# other way round) reuses what the first one compiled. Cargo's fingerprints keep it correct.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$MTF_CACHE_DIR/target}"
case ":$PATH:" in *":$MTF_TOOLS_DIR/bin:"*) ;; *) export PATH="$MTF_TOOLS_DIR/bin:$PATH" ;; esac

# The cargo features of every native build (tests, the wgpu parity test, the `mtf` binary the demo and the
# worker tests start): one feature set, so burn is compiled natively once, not once per command.
MTF_NATIVE_FEATURES=(--features mtf-model/wgpu)

setup_say() { printf '[setup] %s\n' "$*"; }

# The toolchain named by rust-toolchain.toml with its components and targets. rustup >= 1.28 no longer
# installs it on first use, so this runs before any cargo command (`cargo install` included).
ensure_toolchain() {
  command -v rustup >/dev/null || {
    echo "error: rustup not found; install it from https://rustup.rs (the toolchain itself is installed here)" >&2
    return 1
  }
  local channel
  channel="$(sed -n 's/^channel *= *"\(.*\)"/\1/p' "$mtf_root/rust-toolchain.toml")"
  local installed=""
  # `rustup toolchain list` does not install anything (`rustup run` would, silently).
  if rustup toolchain list 2>/dev/null | grep -q "^$channel-"; then
    installed="$(rustup component list --installed --toolchain "$channel" 2>/dev/null || true)"
  fi
  if grep -q '^rustfmt' <<<"$installed" && grep -q '^clippy' <<<"$installed" \
    && grep -q '^rust-std-wasm32-unknown-unknown' <<<"$installed"; then
    setup_say "toolchain $channel with rustfmt, clippy and wasm32-unknown-unknown: present"
  else
    setup_say "installing toolchain $channel (rust-toolchain.toml: rustfmt, clippy, wasm32-unknown-unknown)"
    (cd "$mtf_root" && rustup toolchain install) | sed 's/^/[setup]   /'
  fi
  (cd "$mtf_root" && setup_say "$(rustc --version)")
}

# A pinned cargo-installed CLI: reused when some `name` on PATH reports the version, else installed into
# $MTF_TOOLS_DIR (once per machine; every clone and CI run reuses it). The two CLIs share one target dir.
#   ensure_cargo_tool <binary> <crate> <version> [extra cargo install args...]
ensure_cargo_tool() {
  local bin=$1 crate=$2 version=$3; shift 3
  # `wasm-bindgen --version` prints "wasm-bindgen 0.2.130", `worker-build --version` just "0.8.7".
  if "$bin" --version 2>/dev/null | grep -Eq "(^| )$version\b"; then
    setup_say "$crate $version: present ($(command -v "$bin"))"
    return 0
  fi
  setup_say "installing $crate $version into $MTF_TOOLS_DIR (compiled once per machine)"
  local t0=$SECONDS
  (cd "$mtf_root" && CARGO_TARGET_DIR="$MTF_CACHE_DIR/tool-build" \
    cargo install --quiet --root "$MTF_TOOLS_DIR" --version "$version" "$@" "$crate")
  setup_say "$crate $version installed in $((SECONDS - t0)) s"
}

# wasm-bindgen-cli: not --locked — a dependency locked in its Cargo.lock is missing from the registry here.
ensure_wasm_bindgen() { ensure_cargo_tool wasm-bindgen wasm-bindgen-cli "$MTF_WASM_BINDGEN_VERSION"; }
ensure_worker_build() { ensure_cargo_tool worker-build worker-build "$MTF_WORKER_BUILD_VERSION" --locked; }

# Debian packages (root with apt-get only; otherwise says what is missing and returns 1).
#   ensure_apt <check-command-or-path> <package...>
ensure_apt() {
  local check=$1; shift
  if [ -x "$check" ] || command -v "$check" >/dev/null 2>&1; then return 0; fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    setup_say "installing Debian packages: $*"
    apt-get install -y --no-install-recommends "$@" >/dev/null \
      || { apt-get update >/dev/null && apt-get install -y --no-install-recommends "$@" >/dev/null; }
  else
    setup_say "missing: $* (apt-get install $*)"
    return 1
  fi
}

# npm dependencies of a folder from its package-lock.json, when node_modules is absent.
ensure_npm_ci() {
  [ -d "$1/node_modules" ] && return 0
  setup_say "npm ci in $1 (package-lock.json)"
  (cd "$1" && npm ci --no-audit --no-fund --loglevel=error)
}

# A Python venv with scripts/requirements-test.txt (pyarrow: the store's files read by the tools users have) in
# $MTF_CACHE_DIR/venv, re-created when the requirements change; exports MTF_PYTHON.
ensure_python_venv() {
  local venv="$MTF_CACHE_DIR/venv" req=scripts/requirements-test.txt
  local want; want="$(sha256sum "$req" | cut -c1-16)"
  if [ "$(cat "$venv/.mtf-req" 2>/dev/null)" != "$want" ]; then
    setup_say "Python venv in $venv from $req ($(grep -v '^#' "$req" | tr '\n' ' '))"
    rm -rf "$venv"
    python3 -m venv "$venv" && "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req" \
      && echo "$want" > "$venv/.mtf-req" || { echo "warning: could not set up $venv" >&2; return 1; }
  fi
  export MTF_PYTHON="$venv/bin/python"
}
