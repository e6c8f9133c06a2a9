#!/usr/bin/env bash
# CI: crash safety. Starts `trustframe serve` on a SQLite file, fires 1,000 concurrent sign-ups
# through the pages, SIGKILLs the server once 400 have their authorization code, restarts it on
# the same file and checks that every answered sign-up exists and none is half-written
# (signups.py prints the counts). Usage: bash run.sh [SIGNUPS] [KILL_AFTER]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../../.." && pwd)"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

(cd "$root" && cargo build --locked -q -p trustframe)
bin="$root/target/debug/trustframe"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')"

# No e-mail verification and a cheap argon2: the test measures durability, not hashing.
cat >"$work/trustframe.toml" <<TOML
[server]
listen = "127.0.0.1:$port"
public_url = "http://127.0.0.1:$port"
[storage]
url = "sqlite://tf.db"
[tenant]
name = "contoso"
[sessions]
# The 1,000 sign-ups all come from 127.0.0.1.
max_journeys_per_ip = 0
[passwords]
argon2_memory_kib = 256
argon2_iterations = 1
[[applications]]
name = "crash test app"
client_id = "11112222-bbbb-3333-cccc-4444dddd5555"
client_secret = "crash-test-secret-0123456789abcdef"
redirect_uris = ["http://127.0.0.1:9/callback"]
[[user_flows]]
id = "B2C_1_susi"
type = "sign_up_or_sign_in"
email_verification = false
TOML

status=0
python3 "$here/signups.py" "$bin" "$work/trustframe.toml" "$work/tf.db" "http://127.0.0.1:$port" "$@" \
    || status=$?
if [ "$status" -ne 0 ]; then
    echo "--- trustframe log"; tail -n 40 "$work/trustframe.log"
fi
exit "$status"
