"""Drives a federated sign-in through Trustframe and node oidc-provider like a browser (cookies,
redirects, form_post pages), with the standard library only. Prints 'N passed, N failed'.

Usage: python3 drive.py TRUSTFRAME_URL PROVIDER_URL CLIENT_ID CLIENT_SECRET
"""
import base64
import html
import json
import os
import re
import sys
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import browser  # noqa: E402  (crates/server/tests/browser.py)

TF, PROVIDER, CLIENT_ID, CLIENT_SECRET = sys.argv[1:5]
APP_REDIRECT = "http://127.0.0.1:9/callback"
POLICY = "B2C_1_fed"


class Browser(browser.Browser):
    def __init__(self):
        super().__init__(APP_REDIRECT)


inputs = browser.inputs


def form_action(page, index=0):
    at, _, body = page
    actions = re.findall(r'<form[^>]*action="([^"]+)"', body)
    return urllib.parse.urljoin(at, html.unescape(actions[index]))


def authorize(extra=None):
    q = {"client_id": "11112222-bbbb-3333-cccc-4444dddd5555", "redirect_uri": APP_REDIRECT,
         "response_type": "code", "scope": "openid", "nonce": "n-ci", "prompt": "login"}
    q.update(extra or {})
    return f"{TF}/contoso/{POLICY}/oauth2/v2.0/authorize?" + urllib.parse.urlencode(q)


def redeem(code):
    data = urllib.parse.urlencode({
        "grant_type": "authorization_code", "client_id": "11112222-bbbb-3333-cccc-4444dddd5555",
        "client_secret": "web-app-secret", "code": code, "redirect_uri": APP_REDIRECT}).encode()
    r = urllib.request.urlopen(f"{TF}/contoso/{POLICY}/oauth2/v2.0/token", data=data, timeout=30)
    token = json.loads(r.read())["id_token"]
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def click_provider(browser, page):
    at, _, body = page
    csrf = inputs(body).get("csrf", "")
    # The provider's button is a form of its own posting select=<exchange>.
    return browser.go(form_action(page), {"csrf": csrf, "select": "nodeoidcExchange"})


def provider_login(browser, page, login):
    """The provider's development login (any password), then its consent if asked."""
    while isinstance(page, tuple) and page[0].startswith(PROVIDER):
        fields = inputs(page[2])
        if fields.get("prompt") == "login":
            fields.update({"login": login, "password": "any-password"})
        page = browser.go(form_action(page), fields)
    return page


results = []


def check(name, condition, detail=""):
    results.append(condition)
    print(("ok   " if condition else "FAIL ") + name + ("" if condition else f": {detail}"))


def main():
    browser = Browser()
    page = browser.go(authorize())
    check("the sign-in page offers the provider", isinstance(page, tuple) and "nodeoidcExchange" in page[2],
          str(page)[:300])
    at_provider = click_provider(browser, page)
    check("the provider's login page is shown",
          isinstance(at_provider, tuple) and at_provider[0].startswith(PROVIDER), str(at_provider)[:300])
    attributes = provider_login(browser, at_provider, "alice")
    fields = inputs(attributes[2]) if isinstance(attributes, tuple) else {}
    check("back at Trustframe, the attribute page is prefilled from the provider",
          fields.get("givenName") == "alice" and fields.get("email") == "alice@node-oidc.example",
          str(attributes)[:500])
    fields.update({"surname": fields.get("surname") or "Node", "action": "continue"})
    callback = browser.go(form_action(attributes), fields) if isinstance(attributes, tuple) else {}
    check("the app gets a code", isinstance(callback, dict) and "code" in callback, str(callback)[:300])
    claims = redeem(callback["code"]) if isinstance(callback, dict) and "code" in callback else {}
    check("idp is the provider's issuer", claims.get("idp") == PROVIDER, claims)
    check("newUser at the first sign-in", claims.get("newUser") is True, claims)
    oid = claims.get("oid")

    # Second sign-in: the provider's session answers; the user is found, no attribute page.
    page = browser.go(authorize())
    second = click_provider(browser, page)
    second = provider_login(browser, second, "alice")
    check("second sign-in goes straight back to the app", isinstance(second, dict) and "code" in second,
          str(second)[:300])
    claims = redeem(second["code"]) if isinstance(second, dict) and "code" in second else {}
    check("same user, not new", claims.get("oid") == oid and "newUser" not in claims, claims)

    # domain_hint skips Trustframe's page.
    hinted = browser.go(authorize({"domain_hint": "NodeOIDC"}))
    hinted = provider_login(browser, hinted, "alice")
    check("domain_hint goes straight to the provider", isinstance(hinted, dict) and "code" in hinted,
          str(hinted)[:300])

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
