"""Gets Trustframe tokens through its pages like a browser (standard library only), then has
third-party clients judge them: PyJWT (metadata, PyJWKClient, jwt.decode) and, when its URL is
given, the B2C docs' Node API protected by passport-azure-ad's BearerStrategy.
Prints 'ok   ...' / 'FAIL ...' lines and 'N passed, N failed'; exits 1 on a failure.

Usage: python3 drive.py TRUSTFRAME_URL CA_FILE [NODE_API_URL]
"""
import base64
import html
import json
import os
import re
import secrets
import ssl
import sys
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import browser  # noqa: E402  (crates/server/tests/browser.py)

TF, CA_FILE = sys.argv[1:3]
NODE_API = sys.argv[3] if len(sys.argv) > 3 else ""
TENANT = "contoso"
WEB_APP = "11112222-bbbb-3333-cccc-4444dddd5555"
WEB_SECRET = "web-app-secret-0123456789abcdef0123456789"
API_APP = "33334444-dddd-5555-eeee-6666ffff7777"
API_SCOPE = "https://contoso.onmicrosoft.com/todo-api/tasks.read"
APP_REDIRECT = "http://127.0.0.1:9/callback"
EMAIL = f"ci-{secrets.token_hex(4)}@contoso.example"
PASSWORD = "Ci-Passw0rd!" + secrets.token_hex(3)

TLS = ssl.create_default_context(cafile=CA_FILE)


class Browser(browser.Browser):
    def __init__(self):
        super().__init__(APP_REDIRECT, TLS)


inputs = browser.inputs


def main_form(page):
    """The page's form of fields (B2C's ids: localAccountForm on the sign-in page,
    attributeVerification on the others): its action and inputs."""
    at, _, body = page
    m = re.search(r'<form[^>]*action="([^"]+)"[^>]*id="(?:attributeVerification|localAccountForm)"[^>]*>(.*?)</form>', body, re.S)
    if not m:
        raise AssertionError(f"no form of fields on {at}: {body[:300]}")
    return urllib.parse.urljoin(at, html.unescape(m.group(1))), inputs(m.group(2))


def fill(fields):
    for name in list(fields):
        if name in ("email", "signInName"):
            fields[name] = EMAIL
        elif name in ("password", "newPassword", "reenterPassword"):
            fields[name] = PASSWORD
        elif name != "csrf" and not fields[name]:
            fields[name] = "CI"
    fields["action"] = "continue"
    return fields


def authorize(policy):
    q = {"client_id": WEB_APP, "redirect_uri": APP_REDIRECT, "response_type": "code",
         "scope": f"openid offline_access {API_SCOPE}", "nonce": "n-" + secrets.token_hex(4),
         "state": "s-ci", "prompt": "login"}
    return f"{TF}/{TENANT}/{policy}/oauth2/v2.0/authorize?" + urllib.parse.urlencode(q)


def redeem(policy, code):
    data = urllib.parse.urlencode({
        "grant_type": "authorization_code", "client_id": WEB_APP, "client_secret": WEB_SECRET,
        "code": code, "redirect_uri": APP_REDIRECT,
        "scope": f"openid offline_access {API_SCOPE}"}).encode()
    r = urllib.request.urlopen(f"{TF}/{TENANT}/{policy}/oauth2/v2.0/token", data=data,
                               timeout=30, context=TLS)
    return json.loads(r.read())


def get_json(url):
    with urllib.request.urlopen(url, timeout=30, context=TLS) as r:
        return json.loads(r.read())


def peek(token):
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


results = []


def check(name, condition, detail=""):
    results.append(bool(condition))
    print(("ok   " if condition else "FAIL ") + name + ("" if condition else f": {str(detail)[:600]}"))
    return condition


def sign_up(policy):
    """Sign-up through the pages: authorize, sign-in page, 'Sign up now', the form."""
    browser = Browser()
    page = browser.go(authorize(policy))
    link = re.search(r'<a id="createAccount" href="([^"]+)"', page[2]) if isinstance(page, tuple) else None
    if not check(f"{policy}: the sign-in page links to sign-up (createAccount)", link, page):
        return None
    page = browser.go(urllib.parse.urljoin(page[0], html.unescape(link.group(1))))
    action, fields = main_form(page)
    check(f"{policy}: the sign-up form has email, newPassword, reenterPassword, csrf",
          {"email", "newPassword", "reenterPassword", "csrf"} <= set(fields), fields)
    callback = browser.go(action, fill(fields))
    if not check(f"{policy}: sign-up redirects to the app with a code",
                 isinstance(callback, dict) and "code" in callback, callback):
        return None
    return callback["code"]


def sign_in(policy):
    """Sign-in of the existing user: authorize, the sign-in form."""
    browser = Browser()
    page = browser.go(authorize(policy))
    action, fields = main_form(page)
    callback = browser.go(action, fill(fields))
    if not check(f"{policy}: sign-in redirects to the app with a code",
                 isinstance(callback, dict) and "code" in callback, callback):
        return None
    return callback["code"]


def tokens(policy, code):
    got = redeem(policy, code) if code else {}
    check(f"{policy}: the token endpoint returns id_token, access_token, refresh_token",
          {"id_token", "access_token", "refresh_token"} <= set(got), list(got))
    return got


def pyjwt_checks(policy, got):
    import jwt  # PyJWT, from the venv

    metadata = get_json(f"{TF}/{TENANT}/{policy}/v2.0/.well-known/openid-configuration")
    check(f"PyJWT {policy}: metadata names issuer and jwks_uri",
          metadata.get("issuer") and metadata.get("jwks_uri"), metadata)
    jwks = jwt.PyJWKClient(metadata["jwks_uri"], ssl_context=TLS)

    def verify(token, audience):
        key = jwks.get_signing_key_from_jwt(token)
        return jwt.decode(token, key.key, algorithms=["RS256"], audience=audience,
                          issuer=metadata["issuer"], options={"require": ["exp", "iat", "iss", "aud"]})

    try:
        idt = verify(got["id_token"], WEB_APP)
        check(f"PyJWT {policy}: the ID token verifies (RS256, aud = web app, iss = metadata issuer)", True)
    except Exception as e:  # noqa: BLE001 — the reason is the check's detail
        check(f"PyJWT {policy}: the ID token verifies (RS256, aud = web app, iss = metadata issuer)", False, repr(e))
        idt = {}
    check(f"PyJWT {policy}: ID token tfp = {policy}", idt.get("tfp") == policy, idt)
    if policy.upper().startswith("B2C_1A_"):
        # A custom policy: its relying party's OutputClaims (the sample set's `email`).
        check(f"PyJWT {policy}: ID token email = the address, sub set",
              idt.get("email") == EMAIL and bool(idt.get("sub")), idt)
    else:
        check(f"PyJWT {policy}: ID token emails = [the address], sub set",
              idt.get("emails") == [EMAIL] and bool(idt.get("sub")), idt)
    try:
        at = verify(got["access_token"], API_APP)
        check(f"PyJWT {policy}: the access token verifies (aud = the API's client id)", True)
    except Exception as e:  # noqa: BLE001
        check(f"PyJWT {policy}: the access token verifies (aud = the API's client id)", False, repr(e))
        at = {}
    check(f"PyJWT {policy}: access token scp = tasks.read, tfp = {policy}",
          at.get("scp") == "tasks.read" and at.get("tfp") == policy, at)
    check(f"PyJWT {policy}: ID and access token have the same sub", at.get("sub") == idt.get("sub"), (at, idt))
    return metadata, verify


def pyjwt_refusals(got, verify):
    import jwt

    header, payload, signature = got["access_token"].split(".")
    claims = peek(got["access_token"])
    claims["scp"] = "tasks.read tasks.write"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    for name, token, audience, error in [
        ("a tampered payload", f"{header}.{forged}.{signature}", API_APP, jwt.InvalidSignatureError),
        ("a tampered signature", f"{header}.{payload}.{signature[:-6]}AAAAAA", API_APP, jwt.InvalidSignatureError),
        ("the access token for the web app's audience", got["access_token"], WEB_APP, jwt.InvalidAudienceError),
    ]:
        try:
            verify(token, audience)
            check(f"PyJWT refuses {name}", False, "accepted")
        except error:
            check(f"PyJWT refuses {name}", True)
        except Exception as e:  # noqa: BLE001
            check(f"PyJWT refuses {name}", False, f"unexpected {e!r}")
    alg_none = ".".join([
        base64.urlsafe_b64encode(json.dumps({"alg": "none", "typ": "JWT"}).encode()).rstrip(b"=").decode(),
        payload, ""])
    try:
        jwt.decode(alg_none, options={"verify_signature": True}, algorithms=["RS256"], audience=API_APP, key="x")
        check("PyJWT refuses alg=none", False, "accepted")
    except jwt.InvalidTokenError:
        check("PyJWT refuses alg=none", True)


def node_api(path, token=None):
    req = urllib.request.Request(NODE_API + path)
    if token is not None:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def passport_custom_policy(custom):
    status, body = node_api("/api/values", custom["access_token"])
    check("passport-azure-ad: the B2C_1A_signup_signin (custom policy) access token -> 403",
          status == 403 and json.loads(body or "null") == {"error": "insufficient permissions"},
          (status, body))


def passport_checks(susi, other):
    status, body = node_api("/api/values", susi["access_token"])
    check("passport-azure-ad: GET /api/values with the B2C_1_susi access token -> 200",
          status == 200 and json.loads(body) == ["Value1", "Value2"], (status, body))
    status, body = node_api("/api/values")
    check("passport-azure-ad: GET /api/values without a token -> 401", status == 401, (status, body))
    header, payload, signature = susi["access_token"].split(".")
    status, body = node_api("/api/values", f"{header}.{payload}.{signature[:-6]}AAAAAA")
    check("passport-azure-ad: a tampered token -> 401", status == 401, (status, body))
    status, body = node_api("/api/values", susi["id_token"])
    check("passport-azure-ad: the ID token (aud = web app) -> 401", status == 401, (status, body))
    status, body = node_api("/api/values", other["access_token"])
    check("passport-azure-ad: the B2C_1_other access token -> 403 insufficient permissions",
          status == 403 and json.loads(body or "null") == {"error": "insufficient permissions"},
          (status, body))


def main():
    susi = tokens("B2C_1_susi", sign_up("B2C_1_susi"))
    other = tokens("B2C_1_other", sign_in("B2C_1_other"))
    if "access_token" in susi:
        _, verify = pyjwt_checks("B2C_1_susi", susi)
        pyjwt_refusals(susi, verify)
    if "access_token" in other:
        pyjwt_checks("B2C_1_other", other)
    # The same account signs in through the custom policy set (samples/custom-policies).
    custom = tokens("B2C_1A_signup_signin", sign_in("B2C_1A_signup_signin"))
    if "access_token" in custom:
        pyjwt_checks("B2C_1A_signup_signin", custom)
    if NODE_API and "access_token" in susi and "access_token" in other:
        passport_checks(susi, other)
    if NODE_API and "access_token" in custom:
        passport_custom_policy(custom)
    failed = results.count(False)
    print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:  # a crash is a failure with its reason, not a traceback only
        print(f"FAIL driver crashed: {e!r}")
        failed = results.count(False) + 1
        print(f"{len(results) - failed + 1} passed, {failed} failed")
        sys.exit(1)
