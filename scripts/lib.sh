# Helpers the scripts share; source it: `. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"`.

# Prints a TCP port on 127.0.0.1 that nothing listens on right now.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Waits until HOST:PORT accepts a connection: up to SECONDS (default 10), and only while PID
# (if given) lives. Returns 1 when it does not.
wait_for_port() {
    local host=$1 port=$2 seconds=${3:-10} pid=${4:-} i
    for ((i = 0; i < seconds * 10; i++)); do
        if (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then return 0; fi
        if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then return 1; fi
        sleep 0.1
    done
    return 1
}

# Installs the rustup target TARGET unless it is there; returns 1 when it cannot be had.
ensure_target() {
    rustup target list --installed 2>/dev/null | grep -qx "$1" && return 0
    rustup target add "$1" >/dev/null 2>&1 || true
    rustup target list --installed 2>/dev/null | grep -qx "$1"
}

# Prints the disk space left where the build goes, and warns, saying what to remove, when it is
# short (a full run's target directory reaches about 6 GB).
report_free_disk() {
    local avail_kb
    avail_kb=$(df -Pk . | awk 'NR == 2 { print $4 }')
    echo "disk: $((avail_kb / 1024 / 1024)) GiB free here"
    if (( avail_kb < 4 * 1024 * 1024 )); then
        echo "disk: WARNING: under 4 GiB free; the build may fail with \"No space left on device\"." \
             "Free space (e.g. cargo clean, or remove old clones' target directories) and rerun." >&2
    fi
}

# Installs what compiles mbedTLS's C library (clang, cmake, ninja; from Debian) unless it is
# there: the TLS of the bare-metal server (espws's `tls-mbedtls`, espws-sim's `mbedtls`, the
# boards' `tls`) builds it on the fly.
ensure_mbedtls_tools() {
    command -v clang >/dev/null && command -v cmake >/dev/null && command -v ninja >/dev/null && return 0
    echo "installing clang, cmake and ninja-build (mbedTLS is compiled with them)"
    apt_install clang cmake ninja-build
}

# Installs Debian packages: the package lists first (a fresh machine has none), and waiting for
# another apt run's lock rather than failing on it. Callers check first that a package is missing.
apt_install() {
    apt-get update >/dev/null
    apt-get install -y -o DPkg::Lock::Timeout=600 "$@" >/dev/null
}

# The simulator as the test steps run it: with mbedTLS, so that --runtime embassy-tap serves TLS
# as bare metal does (`cargo run --release` builds it without, needing no C toolchain).
build_sim() {
    ensure_mbedtls_tools
    cargo build --release -p espws-sim --features mbedtls
}
