#!/usr/bin/env bash
# Installs every Debian 12 package the project builds, tests and benchmarks with.
# Idempotent: when everything is present it only runs dpkg queries (a second or two).
set -euo pipefail

packages=(
  build-essential cmake pkg-config ccache git python3 curl jq
  zstd libzstd-dev libxxhash-dev
  libprotobuf-dev protobuf-compiler libgrpc++-dev protobuf-compiler-grpc
  libmariadb-dev mariadb-server mariadb-client
  libtoml11-dev libboost-filesystem-dev libboost-program-options-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libspdlog-dev libfmt-dev nlohmann-json3-dev libcpp-httplib-dev libre2-dev libhowardhinnant-date-dev libjemalloc-dev
  libcurl4-openssl-dev libssl-dev etcd-server etcd-client openssl
  clang libclang-rt-14-dev clang-format
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "setup: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# mariadb-server's postinst would start a system server; tests start their own, so keep it quiet.
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done"
