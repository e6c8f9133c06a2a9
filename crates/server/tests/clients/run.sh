#!/usr/bin/env bash
# CI: real third-party clients accept Trustframe's tokens. Starts Trustframe over HTTPS (a dev
# certificate) on 127.0.0.1, signs up a user through the pages with a cookie-keeping client,
# and has PyJWT (PyJWKClient + jwt.decode) and passport-azure-ad's BearerStrategy (the B2C docs'
# Node API) judge the ID and access tokens. Installs pyjwt into a venv in a temp folder and the
# npm packages here (no committed node_modules). Prints 'N passed, N failed' and exits non-zero
# on failure.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../../.." && pwd)"
cd "$here"

work="$(mktemp -d)"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

echo "== pip install pyjwt[crypto] (venv), npm install passport-azure-ad express"
( python3 -m venv "$work/venv" && "$work/venv/bin/pip" install -q --disable-pip-version-check 'pyjwt[crypto]' ) \
    >"$work/pip.log" 2>&1 &
pip_pid=$!
npm install --no-audit --no-fund --loglevel=error >"$work/npm.log" 2>&1 &
npm_pid=$!

echo "== cargo build -p trustframe"
(cd "$root" && cargo build --locked -q -p trustframe)
bin="$root/target/debug/trustframe"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
tf_port="$(free_port)"
api_port="$(free_port)"
tf="https://127.0.0.1:$tf_port"
api="http://127.0.0.1:$api_port"
api_client_id="33334444-dddd-5555-eeee-6666ffff7777"

"$bin" dev-cert --out "$work/certs" >/dev/null
ca="$work/certs/cert.pem"

cat >"$work/trustframe.toml" <<TOML
[server]
listen = "127.0.0.1:$tf_port"
public_url = "$tf"
tls_cert = "certs/cert.pem"
tls_key = "certs/key.pem"
[storage]
url = "sqlite://tf.db"
[tenant]
name = "contoso"
[passwords]
argon2_memory_kib = 256
argon2_iterations = 1
[[applications]]
name = "ci web app"
client_id = "11112222-bbbb-3333-cccc-4444dddd5555"
client_secret = "web-app-secret-0123456789abcdef0123456789"
redirect_uris = ["http://127.0.0.1:9/callback"]
api_permissions = ["https://contoso.onmicrosoft.com/todo-api/tasks.read"]
[[applications]]
name = "todo-api"
client_id = "$api_client_id"
app_id_uri = "https://contoso.onmicrosoft.com/todo-api"
scopes = ["tasks.read"]
[[user_flows]]
id = "B2C_1_susi"
type = "sign_up_or_sign_in"
email_verification = false
[[user_flows]]
id = "B2C_1_other"
type = "sign_up_or_sign_in"
email_verification = false
# Custom policies too: the same directory, so the user signs in through B2C_1A_signup_signin.
[custom_policies]
dir = "$root/samples/custom-policies/contoso"
settings = "settings.json"
TOML
echo '{"RestApiBaseUrl": "http://127.0.0.1:9"}' >"$work/settings.json"
"$bin" serve --config "$work/trustframe.toml" >"$work/trustframe.log" 2>&1 &
pids+=($!)

wait_for() {
    for _ in $(seq 1 150); do
        if python3 -c "import ssl,sys,urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1, context=ssl.create_default_context(cafile=sys.argv[2]))" "$1" "$ca" 2>/dev/null; then return 0; fi
        sleep 0.2
    done
    return 1
}
if ! wait_for "$tf/healthz"; then
    echo "Trustframe did not start"; tail -n 40 "$work/trustframe.log"
    echo "0 passed, 1 failed"
    exit 1
fi

if ! wait "$pip_pid"; then
    echo "pip install failed"; tail -n 20 "$work/pip.log"
    echo "0 passed, 1 failed"
    exit 1
fi
if ! wait "$npm_pid"; then
    echo "npm install failed"; tail -n 20 "$work/npm.log"
    echo "0 passed, 1 failed"
    exit 1
fi

# The B2C docs' metadata URL shape: the tenant's v2.0 metadata; BearerStrategy appends ?p=<policy>.
metadata="$tf/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration"
NODE_EXTRA_CA_CERTS="$ca" node api.js "$api_port" "$metadata" "$api_client_id" B2C_1_susi >"$work/api.log" 2>&1 &
pids+=($!)
api_up=0
for _ in $(seq 1 100); do
    if python3 -c "import sys,urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)" "$api/healthz" 2>/dev/null; then api_up=1; break; fi
    sleep 0.2
done
if [ "$api_up" -ne 1 ]; then
    echo "the passport-azure-ad API did not start"; tail -n 40 "$work/api.log"
    echo "0 passed, 1 failed"
    exit 1
fi

echo "== tokens through the pages; PyJWT and passport-azure-ad judge them"
status=0
"$work/venv/bin/python" "$here/drive.py" "$tf" "$ca" "$api" || status=$?
if [ "$status" -ne 0 ]; then
    echo "--- trustframe log"; tail -n 40 "$work/trustframe.log"
    echo "--- passport-azure-ad API log"; tail -n 40 "$work/api.log"
fi
exit "$status"
