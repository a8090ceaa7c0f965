#!/usr/bin/env bash
# Installs what the tests and the benchmark need on a fresh Debian 12 machine,
# and only what is missing. Needs root (it runs apt-get).
set -euo pipefail
need=()
[ -x /bin/busybox ] || need+=(busybox-static)
command -v runc >/dev/null || need+=(runc)
command -v crun >/dev/null || need+=(crun)
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
command -v python3 >/dev/null || need+=(python3)
command -v ip >/dev/null || need+=(iproute2)
command -v curl >/dev/null || need+=(curl)
export DEBIAN_FRONTEND=noninteractive
# The VM tests `apt-get download` a pinned kernel package: that needs lists.
if ! ls /var/lib/apt/lists/*_Packages* >/dev/null 2>&1; then
  apt-get update -qq
fi
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
