"""Signing in to the console in a real browser, in both languages and at both sizes."""

from __future__ import annotations

from tests.browser.conftest import Console


def test_a_wrong_password_is_refused_and_the_right_one_opens_the_console(console: Console) -> None:
    page = console.open("/console")
    assert "/console/sign-in" in page.url
    page.fill('input[name="username"]', "demo.manager")
    page.fill('input[name="password"]', "not the password")
    page.click('button[type="submit"]')
    assert page.locator("p.error").inner_text() == "The user name or password is wrong."
    # The refusal is not an error of the page itself.
    console.errors = [e for e in console.errors if "401" not in e]
    console.sign_in("manager")
    assert page.url.endswith("/console/dashboard")
    assert "demo.manager" in page.locator(".user").inner_text()
    console.shot("signed-in-manager")

    page.click("form.sign-out button")
    page.wait_for_url("**/console/sign-in")
    page.goto(console.served.base + "/console/dashboard")
    assert "/console/sign-in" in page.url  # the session has ended


def test_the_language_switch_shows_chinese_labels_and_is_kept(console: Console) -> None:
    page = console.open("/console/sign-in")
    page.click('a[data-lang="zh-CN"]')
    assert page.locator("h1").inner_text() == "登录 OrderLedger 控制台"
    page.goto(console.served.base + "/console/sign-in")  # the choice is remembered
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    console.shot("sign-in-zh-CN")


def test_on_a_phone_the_sections_fold_behind_the_menu_button(phone: Console) -> None:
    page = phone.sign_in("manager")
    sections = page.locator("nav.sections")
    assert not sections.is_visible()
    page.click("label.menu-button")
    assert sections.is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    phone.shot("menu-phone")
