#!/usr/bin/env bash
# CI: federation against a third-party certified OpenID provider (node oidc-provider).
# Installs oidc-provider here (no committed node_modules), starts it and Trustframe on
# 127.0.0.1, and drives a federated sign-in with a cookie-keeping client. Prints
# 'N passed, N failed' and exits non-zero on failure.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../../.." && pwd)"
cd "$here"

echo "== npm install oidc-provider"
npm install --no-audit --no-fund --loglevel=error >/dev/null

echo "== cargo build -p trustframe"
(cd "$root" && cargo build --locked -q -p trustframe)
bin="$root/target/debug/trustframe"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
tf_port="$(free_port)"
op_port="$(free_port)"
tf="http://127.0.0.1:$tf_port"
op="http://127.0.0.1:$op_port"
client_id="trustframe-ci"
client_secret="ci-secret-$(python3 -c 'import secrets; print(secrets.token_hex(8))')"
work="$(mktemp -d)"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

node provider.mjs "$op_port" "$client_id" "$client_secret" "$tf/contoso.onmicrosoft.com/oauth2/authresp" >"$work/provider.log" 2>&1 &
pids+=($!)

cat >"$work/trustframe.toml" <<TOML
[server]
listen = "127.0.0.1:$tf_port"
public_url = "$tf"
development = true
[storage]
url = "sqlite://tf.db"
[tenant]
name = "contoso"
[passwords]
argon2_memory_kib = 256
argon2_iterations = 1
[[applications]]
name = "ci app"
client_id = "11112222-bbbb-3333-cccc-4444dddd5555"
client_secret = "web-app-secret"
redirect_uris = ["http://127.0.0.1:9/callback"]
[[identity_providers]]
id = "nodeoidc"
type = "openid_connect"
display_name = "NodeOIDC"
metadata_url = "$op/.well-known/openid-configuration"
client_id = "$client_id"
client_secret = "$client_secret"
scope = "openid profile email"
token_endpoint_auth_method = "client_secret_basic"
[[user_flows]]
id = "B2C_1_fed"
type = "sign_up_or_sign_in"
identity_providers = ["local", "nodeoidc"]
sign_up_attributes = ["givenName", "surname"]
TOML
"$bin" serve --config "$work/trustframe.toml" >"$work/trustframe.log" 2>&1 &
pids+=($!)

wait_for() {
    for _ in $(seq 1 100); do
        if python3 -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=1)" "$1" 2>/dev/null; then return 0; fi
        sleep 0.2
    done
    return 1
}
if ! wait_for "$op/.well-known/openid-configuration" || ! wait_for "$tf/healthz"; then
    echo "a server did not start"; cat "$work/provider.log" "$work/trustframe.log"
    echo "0 passed, 1 failed"
    exit 1
fi

echo "== federated sign-in through oidc-provider"
status=0
python3 "$here/drive.py" "$tf" "$op" "$client_id" "$client_secret" || status=$?
if [ "$status" -ne 0 ]; then
    echo "--- trustframe log"; tail -n 40 "$work/trustframe.log"
    echo "--- provider log"; tail -n 40 "$work/provider.log"
    if grep -q "$client_secret" "$work/trustframe.log"; then echo "the client secret is in Trustframe's log"; fi
fi
if grep -q "$client_secret" "$work/trustframe.log"; then
    echo "FAIL the client secret is in Trustframe's log"
    echo "0 passed, 1 failed"
    exit 1
fi
exit "$status"
