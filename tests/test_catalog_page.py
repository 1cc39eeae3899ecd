"""The catalog page Slicer's Install tab loads (issue #18 A.1), in headless Chromium: with a
recording stand-in for Slicer's QWebChannel bridge (connected asynchronously, as Slicer
does), and in a plain browser where ``qwebchannel.js`` and the bridge are absent."""

from __future__ import annotations

import json
import os
import urllib.request

import pytest

from slicer_ext_manager.localserver.builder import build_extension_package
from slicer_ext_manager.localserver.server import PackageServer
from slicer_ext_manager.localserver.webapp import STATIC_DIR

from .cdp import Browser, find_chromium

#: Slicer's injection (reference §3.6), with a recording extensions_manager_model behind it.
STAND_IN = """
window.__calls = [];
window.__installed = {'Bar': true};
window.__scheduled = {};
var model = {
  isExtensionInstalled: function (name, cb) { __calls.push(['isExtensionInstalled', name]); cb(!!__installed[name]); },
  isExtensionScheduledForUninstall: function (name, cb) { cb(!!__scheduled[name]); },
  downloadAndInstallExtension: function (id) { __calls.push(['downloadAndInstallExtension', id]); },
  scheduleExtensionForUninstall: function (name) { __calls.push(['scheduleExtensionForUninstall', name]);
                                                   __scheduled[name] = true; },
  cancelExtensionScheduledForUninstall: function (name) { __calls.push(['cancel', name]); delete __scheduled[name]; }
};
window.qt = {webChannelTransport: {}};
window.QWebChannel = function (transport, cb) {
  setTimeout(function () { cb({objects: {extensions_manager_model: model, extensions_install_widget: {}}}); }, 300);
};
new QWebChannel(qt.webChannelTransport, function (channel) {
  window.extensions_manager_model = channel.objects.extensions_manager_model;
  window.extensions_install_widget = channel.objects.extensions_install_widget;
});
"""


@pytest.fixture(scope="module")
def chromium():
    path = find_chromium()
    if path is None:
        message = "headless Chromium is not installed (apt-get install chromium); the catalog page is not tested"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture
def server(tmp_path):
    build_extension_package(tmp_path, "Foo", app_revision="33241", category="Segmentation",
                            description="Foo segments things.", keywords="seg")
    build_extension_package(tmp_path, "Bar", app_revision="33241", category="Registration",
                            description="Bar registers.", iconurl="http://127.0.0.1:9/missing.png")
    build_extension_package(tmp_path, "Baz", app_revision="33241", category="Segmentation",
                            description="Baz also segments.")
    with PackageServer(tmp_path) as srv:
        yield srv


@pytest.fixture
def browser(chromium):
    b = Browser.start(chromium)
    try:
        yield b
    finally:
        b.close()


def _open(browser: Browser, url: str, stand_in: bool) -> None:
    if stand_in:
        browser.call("Page.addScriptToEvaluateOnNewDocument", source=STAND_IN)
    browser.call("Page.navigate", url=url)
    assert browser.wait("document.body && document.body.dataset.loaded === 'true'"), browser.console


def _cards(browser: Browser) -> list[dict]:
    return browser.evaluate("""Array.from(document.querySelectorAll('article.card')).map(function (c) {
      var a = c.querySelector('.action');
      return {name: c.dataset.name, action: a.textContent, tag: a.tagName, href: a.getAttribute('href'),
              icon: c.querySelector('img').getAttribute('src')}; })""")


def test_static_files_ship_with_the_package():
    for name in ("catalog.html", "catalog.js", "catalog.css", "extension-icon.svg"):
        text = (STATIC_DIR / name).read_text(encoding="utf-8")
        assert "https://" not in text.replace("https://github.com", "")  # no CDN


def test_page_routes_and_plain_browser(server, browser):
    with urllib.request.urlopen(f"{server.url}/catalog/All/33241/linux", timeout=10) as r:
        assert r.headers["Content-Type"].startswith("text/html")
        config = json.loads(r.read().decode().split('id="catalog-config">', 1)[1].split("</script>", 1)[0])
    assert config["appId"] == server.app_id and config["builds"][0]["revision"] == "33241"
    _open(browser, f"{server.url}/catalog/All/33241/linux", stand_in=False)
    assert browser.evaluate("typeof QWebChannel") == "undefined"  # qwebchannel.js is absent here
    cards = _cards(browser)
    assert [c["name"] for c in cards] == ["Bar", "Baz", "Foo"]
    foo = next(c for c in cards if c["name"] == "Foo")
    assert foo["tag"] == "A" and foo["action"] == "Download"
    # The download link is this server's item download.
    with urllib.request.urlopen(server.url + foo["href"], timeout=10) as r:
        assert r.status == 200 and r.read()[:2] == b"\x1f\x8b"
    # A broken icon URL falls back to the shipped icon.
    assert browser.wait("document.querySelector('article[data-name=Bar] img').src.indexOf('extension-icon.svg') > 0")
    categories = browser.evaluate(
        "Array.from(document.querySelectorAll('#categories a')).map(function (a) { return a.textContent; })")
    assert categories == ["All3", "Registration1", "Segmentation2"]
    browser.evaluate("document.querySelector('#categories a[data-category=Segmentation]').click()")
    assert [c["name"] for c in _cards(browser)] == ["Baz", "Foo"]
    assert browser.evaluate("location.pathname") == "/catalog/Segmentation/33241/linux"
    assert not [m for m in browser.console if m.startswith("EXCEPTION")], browser.console


def test_slicer_bridge_buttons_and_search(server, browser):
    _open(browser, f"{server.url}/catalog/All/33241/linux", stand_in=True)
    assert browser.wait("document.querySelectorAll('button.action').length === 3"), browser.console
    assert browser.wait("document.querySelector('article[data-name=Bar] .action').textContent === 'Uninstall'")
    states = {c["name"]: c["action"] for c in _cards(browser)}
    assert states == {"Bar": "Uninstall", "Baz": "Install", "Foo": "Install"}
    foo_id = browser.evaluate("document.querySelector('article[data-name=Foo] a.name') && "
                              "window.__calls.length >= 0")
    assert foo_id
    browser.evaluate("document.querySelector('article[data-name=Foo] .action').click()")
    calls = browser.evaluate("window.__calls")
    install = [c for c in calls if c[0] == "downloadAndInstallExtension"]
    items = json.load(urllib.request.urlopen(f"{server.url}/api/v1/app/{server.app_id}/extension?limit=0",
                                             timeout=10))
    assert install == [["downloadAndInstallExtension", next(i["_id"] for i in items if i["meta"]["baseName"] == "Foo")]]
    # Slicer reports the install; then uninstall is scheduled and cancelled from the page.
    browser.evaluate("app.setExtensionButtonState('Foo', 'Installed')")
    assert browser.evaluate("document.querySelector('article[data-name=Foo] .action').textContent") == "Uninstall"
    browser.evaluate("window.__installed.Foo = true; document.querySelector('article[data-name=Foo] .action').click()")
    assert browser.wait("document.querySelector('article[data-name=Foo] .action').textContent === 'Cancel uninstall'")
    browser.evaluate("document.querySelector('article[data-name=Foo] .action').click()")
    assert browser.wait("document.querySelector('article[data-name=Foo] .action').textContent === 'Uninstall'")
    assert [c[0] for c in browser.evaluate("window.__calls") if c[0] in ("scheduleExtensionForUninstall", "cancel")] \
        == ["scheduleExtensionForUninstall", "cancel"]
    # Slicer's search box drives the page.
    browser.evaluate("app.search('segments')")
    assert browser.wait("document.querySelectorAll('article.card').length === 2")
    assert sorted(c["name"] for c in _cards(browser)) == ["Baz", "Foo"]
    browser.evaluate("app.search('nothing-like-this')")
    assert browser.wait("document.getElementById('status') && "
                        "document.getElementById('status').textContent.indexOf('No extension matches') === 0")
    browser.evaluate("app.createNotice('Installed Foo', 2500, 'warning'); app.$vuetify.theme.dark = true;")
    assert browser.evaluate("document.querySelector('.notice.warning').textContent") == "Installed Foo"
    assert browser.evaluate("document.body.classList.contains('dark')") is True
    assert not [m for m in browser.console if m.startswith("EXCEPTION")], browser.console


def test_view_page(server, browser):
    _open(browser, f"{server.url}/view/Foo/33241/linux", stand_in=True)
    assert browser.wait("document.querySelector('article.details button.action') !== null"), browser.console
    assert browser.evaluate("document.querySelector('article.details h1').textContent") == "Foo"
    assert "Foo segments things." in browser.evaluate("document.querySelector('article.details').textContent")
