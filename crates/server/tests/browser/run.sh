#!/usr/bin/env bash
# CI: the pages in a real browser (issue 12). Headless Chromium from Debian's packages, driven
# over CDP by puppeteer-core (never plain `puppeteer`: it downloads a browser of its own), with
# axe-core for accessibility. Starts `trustframe demo` (the README's story: sign-up with an
# access code, the dev mailbox, the token viewer) and two plain configs of our own: a customer
# HTML template with B2C's ids ([ui] page_layouts) and company branding ([ui.branding]).
# Installs Chromium if missing (CI runs as root) and the npm packages here (no committed
# node_modules). Prints 'N passed, N failed' and exits non-zero on failure; then the temp
# folder is kept (its path is printed) with a screenshot of each failing test and the logs.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../../.." && pwd)"
cd "$here"

work="$(mktemp -d)"
pids=()
keep=0
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    if [ "$keep" -eq 1 ]; then
        echo "screenshots and logs kept in $work"
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT

fail_setup() {
    echo "$1"
    [ -n "${2:-}" ] && [ -f "$2" ] && tail -n 40 "$2"
    echo "0 passed, 1 failed"
    exit 1
}

chromium=/usr/bin/chromium
if [ ! -x "$chromium" ]; then
    echo "== apt-get install chromium"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } \
        >"$work/apt.log" 2>&1 || fail_setup "installing Chromium failed" "$work/apt.log"
fi
"$chromium" --version 2>/dev/null || true

echo "== npm install puppeteer-core axe-core"
npm install --no-audit --no-fund --loglevel=error >"$work/npm.log" 2>&1 &
npm_pid=$!

# TRUSTFRAME_BIN: a binary already built (skips the build).
bin="${TRUSTFRAME_BIN:-}"
if [ -z "$bin" ]; then
    echo "== cargo build -p trustframe"
    (cd "$root" && cargo build --locked -q -p trustframe)
    bin="$root/target/debug/trustframe"
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
demo_port="$(free_port)"
custom_port="$(free_port)"
brand_port="$(free_port)"

# The demo, as the README runs it.
"$bin" demo --port "$demo_port" --data-dir "$work/demo" >"$work/demo.log" 2>&1 &
pids+=($!)

# A plain config of our own: one tenant, a public client whose redirect URI is the token
# viewer, a sign-up-or-sign-in flow, codes in the dev mailbox. $1: folder, $2: port, $3: [ui].
plain_config() {
    local dir="$1" port="$2" ui="$3"
    mkdir -p "$dir"
    cat >"$dir/trustframe.toml" <<TOML
[server]
listen = "127.0.0.1:$port"
public_url = "http://127.0.0.1:$port"
development = true
[storage]
url = "sqlite://tf.db"
[tenant]
name = "contoso"
[passwords]
argon2_memory_kib = 256
argon2_iterations = 1
[email]
transport = "mailbox"
from = "Contoso <no-reply@contoso.example>"
[[applications]]
name = "token viewer"
client_id = "6c1b5e0e-8f0a-4a3e-9d2b-0d1e2f3a4b5c"
redirect_uris = ["http://127.0.0.1:$port/token-viewer"]
[[user_flows]]
id = "B2C_1_susi"
type = "sign_up_or_sign_in"
sign_up_attributes = ["givenName", "surname", "displayName"]
$ui
TOML
}

# A B2C team's own HTML template and CSS (fixtures/): our form goes into its <div id="api">.
plain_config "$work/custom" "$custom_port" '[ui]
page_layouts = { "api.signuporsignin" = "unified.html", "api.localaccountsignup" = "selfasserted.html" }'
cp fixtures/unified.html fixtures/selfasserted.html fixtures/contoso.css fixtures/contoso.js "$work/custom/"
"$bin" serve --config "$work/custom/trustframe.toml" >"$work/custom.log" 2>&1 &
pids+=($!)

# Company branding without HTML.
plain_config "$work/brand" "$brand_port" '[ui.branding]
logo = "logo.svg"
primary_color = "#8a2be2"
sign_in_text = "Welcome to Contoso"
[ui.branding.languages.fr]
sign_in_text = "Bienvenue chez Contoso"'
cp fixtures/logo.svg "$work/brand/"
"$bin" serve --config "$work/brand/trustframe.toml" >"$work/brand.log" 2>&1 &
pids+=($!)

wait_for() {
    for _ in $(seq 1 150); do
        if python3 -c "import sys,urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)" "$1" 2>/dev/null; then return 0; fi
        sleep 0.2
    done
    return 1
}
wait_for "http://127.0.0.1:$demo_port/healthz" || fail_setup "trustframe demo did not start" "$work/demo.log"
wait_for "http://127.0.0.1:$custom_port/healthz" || fail_setup "trustframe (custom template) did not start" "$work/custom.log"
wait_for "http://127.0.0.1:$brand_port/healthz" || fail_setup "trustframe (branding) did not start" "$work/brand.log"

wait "$npm_pid" || fail_setup "npm install failed" "$work/npm.log"

echo "== the pages in Chromium"
status=0
TF_DEMO="http://127.0.0.1:$demo_port" TF_CUSTOM="http://127.0.0.1:$custom_port" \
    TF_BRAND="http://127.0.0.1:$brand_port" TF_WORK="$work" TF_CHROMIUM="$chromium" \
    node pages.test.mjs || status=$?
if [ "$status" -ne 0 ]; then
    keep=1
    for log in demo custom brand; do echo "--- trustframe log ($log)"; tail -n 20 "$work/$log.log"; done
fi
exit "$status"
