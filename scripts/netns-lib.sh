# Sourced by scripts/netns and scripts/qemu-device: a network namespace of its own holding a TAP
# device, so that an embassy-net device (the simulator's TAP runtime, or QEMU's virtio-net) can
# be tested as root without touching the machine's network.

# netns_need_root SCRIPT: stops with a message unless run as root; installs iproute2 if missing.
netns_need_root() {
    if [[ $(id -u) -ne 0 ]]; then
        echo "$1: creating a network namespace needs root" >&2
        exit 2
    fi
    if ! command -v ip >/dev/null; then
        apt-get install -y iproute2 >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y iproute2 >/dev/null; }
    fi
}

# netns_up NS TAP HOST_CIDR: (re)creates namespace NS with loopback up and TAP carrying HOST_CIDR.
netns_up() {
    local ns=$1 tap=$2 host_ip=$3
    ip netns del "$ns" 2>/dev/null || true
    ip netns add "$ns"
    ip netns exec "$ns" ip link set lo up
    ip netns exec "$ns" ip tuntap add dev "$tap" mode tap
    ip netns exec "$ns" ip addr add "$host_ip" dev "$tap"
    ip netns exec "$ns" ip link set "$tap" up
}

# netns_down NS: deletes the namespace (and its TAP device) if it exists.
netns_down() {
    ip netns del "$1" 2>/dev/null || true
}
