"""A browser for the CI scripts that drive Trustframe's pages (standard library only): cookies,
redirects, self-posting form_post pages; it stops at the app's redirect URI.

Used by oidc-provider/drive.py and clients/drive.py.
"""
import html
import http.cookiejar
import re
import urllib.error
import urllib.parse
import urllib.request


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def inputs(body):
    """{name: value} of every <input> in an HTML fragment."""
    out = {}
    for tag in re.findall(r"<input[^>]*>", body):
        name = re.search(r'name="([^"]*)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if name:
            out[html.unescape(name.group(1))] = html.unescape(value.group(1)) if value else ""
    return out


class Browser:
    def __init__(self, app_redirect, tls=None):
        self.app_redirect = app_redirect
        self.jar = http.cookiejar.CookieJar()
        handlers = [urllib.request.HTTPCookieProcessor(self.jar), NoRedirect()]
        if tls is not None:
            handlers.insert(0, urllib.request.HTTPSHandler(context=tls))
        self.opener = urllib.request.build_opener(*handlers)

    def request(self, url, data=None):
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        try:
            r = self.opener.open(urllib.request.Request(url, data=body), timeout=30)
            return r.status, r.geturl(), dict(r.headers), r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, url, dict(e.headers), e.read().decode()

    def go(self, url, data=None):
        """Follows redirects and form_post pages; stops at the app's redirect URI (returns its
        parameters) or at a page (returns (url, status, body))."""
        while True:
            status, at, headers, body = self.request(url, data)
            data = None
            if status in (301, 302, 303, 307, 308):
                url = urllib.parse.urljoin(at, headers.get("Location") or headers.get("location"))
                if url.startswith(self.app_redirect):
                    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
                continue
            form = re.search(r'<form[^>]*method="post"[^>]*action="([^"]+)"', body)
            if form and "data-autosubmit" in body:
                action = urllib.parse.urljoin(at, html.unescape(form.group(1)))
                fields = inputs(body)
                if action.startswith(self.app_redirect):
                    return fields
                url, data = action, fields
                continue
            return (at, status, body)
