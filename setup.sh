#!/bin/sh
# physioflow setup on Debian 12.
#   ./setup.sh        install missing packages, build, run the demo graph
#   ./setup.sh test   install missing packages, build, run every test (ctest)
#   ./setup.sh build  install missing packages and build only
# Packages are installed with apt-get (as root, or through sudo).
set -eu
cd "$(dirname "$0")"
mode="${1:-demo}"

# slurm-wlm, munge, iproute2 and systemd: the scale tests start a single-node Slurm, make
# network namespaces and run systemd-analyze verify (they skip without them).
# Build and run-time libraries, and the Debian python3 packages the tests use
# as numerical references (scipy, PyWavelets, PyTorch) and to read HDF5;
# headless Chromium + chromedriver for the live dashboard test.
PACKAGES="build-essential cmake pkg-config
  libzmq3-dev libczmq-dev libliquid-dev libopenblas-dev libhdf5-dev libconfig-dev libmatio-dev zlib1g-dev libmicrohttpd-dev
  python3 python3-numpy python3-scipy python3-pywt python3-torch python3-h5py python3-zmq
  clang
  slurm-wlm munge iproute2 systemd chromium chromium-driver
  gnuplot-nox"

missing=""
for p in $PACKAGES; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "setup: installing:$missing"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing
fi

BUILD="${PF_BUILD_DIR:-build}"
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" -j"$(nproc)"

case "$mode" in
  demo)
    mkdir -p out
    echo "setup: running the demo configs/demo.cfg: PhysioWave pretraining on synthetic 12-lead ECG,"
    echo "setup: synth -> filter -> wavelet -> transformer -> trainer, each stage its own process"
    rm -rf out/demo-ckpt out/demo-metrics.csv
    "$BUILD/cli/physioflow" run configs/demo.cfg
    awk -F, '$3 == "train" && !n {first = $5} $3 == "train" {last = $5; n = $1} END {
      if (n) printf "setup: %d steps, loss %.4f -> %.4f (%.0f%% lower)\n", n, first, last, 100 * (first - last) / first }' out/demo-metrics.csv
    echo "setup: checkpoint $(pwd)/out/demo-ckpt (latest: $(sed -n 's/^dir = //p' out/demo-ckpt/latest)), metrics $(pwd)/out/demo-metrics.csv, curves $(pwd)/out/demo-metrics.png"
    ;;
  test)
    ctest --test-dir "$BUILD" --output-on-failure -j"$(nproc)"
    ;;
  build) ;;
  *) echo "usage: ./setup.sh [demo|test|build]" >&2; exit 2 ;;
esac
