"""The console's shell in a real browser: it loads under the strict CSP without errors, the nav
routes between pages by hash, and the page shell shows the server it is connected to."""

from __future__ import annotations

from ui_harness import Console


def test_shell_loads_routes_and_reports_no_csp_violation(console: Console) -> None:
    console.open("traffic")
    status = console.test_id("status")
    assert "connected" in status.text and "mockforge" in status.text
    links = [a.get_attribute("data-test") for a in console.find_all("[data-test^=nav-]")]
    assert links == ["nav-overview", "nav-traffic", "nav-misses", "nav-stubs", "nav-spec", "nav-fixtures",
                     "nav-ws", "nav-grpc", "nav-plugins"]
    for page in ("overview", "misses", "stubs", "spec", "fixtures", "ws", "grpc", "plugins", "traffic"):
        console.test_id(f"nav-{page}").click()
        console.wait_ready(page)
        active = console.find("nav a.active")
        assert active.get_attribute("data-test") == f"nav-{page}"
    assert console.severe_logs() == []


def test_unknown_hash_falls_back_to_the_default_page(console: Console) -> None:
    console.driver.get(console.base + "#/no-such-page")
    console.wait_ready("overview")
    assert console.js("return document.getElementById('main').dataset.page") == "overview"



def test_a_malformed_percent_in_the_hash_still_opens_a_page(console: Console) -> None:
    # a link such as .../ui/#/stubs/edit/%E0%A4%A made decodeURIComponent throw before any page
    # mounted: the console stayed blank until the hash was edited by hand
    console.driver.get(console.base + "#/spec/%E0%A4%A")
    console.wait_ready("spec")
    assert console.js("return document.getElementById('main').dataset.page") == "spec"
    console.driver.get(console.base + "#%")
    console.wait_ready("overview")
