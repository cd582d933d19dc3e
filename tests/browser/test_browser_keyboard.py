"""Accessibility: the sign-in form works with the keyboard alone and focus is visible."""

from __future__ import annotations

from playwright.sync_api import expect

FOCUS_STYLE = """el => { const s = getComputedStyle(el);
  return {outline: s.outlineStyle, width: parseFloat(s.outlineWidth), colour: s.outlineColor,
          shadow: s.boxShadow, background: s.backgroundColor}; }"""
TRANSPARENT = ("transparent", "rgba(0, 0, 0, 0)")


def tab_to(page, element_id: str, limit: int = 25) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement && document.activeElement.id") == element_id:
            return
    raise AssertionError(f"#{element_id} is not reachable with Tab")


def test_sign_in_with_the_keyboard_alone(new_context, live, shoot):
    page = new_context().new_page()
    page.goto("/sign-in")
    expect(page.get_by_role("heading", name="Sign in to Guardian")).to_be_visible()
    shoot(page, "01-sign-in")

    # The first Tab reaches the skip link, which then shows.
    page.keyboard.press("Tab")
    skip = page.locator(".nhsuk-skip-link")
    expect(skip).to_be_focused()
    box = skip.bounding_box()
    assert box and box["width"] > 1 and box["height"] > 1, "the focused skip link is hidden"

    tab_to(page, "email")
    email = page.locator("#email")
    style = email.evaluate(FOCUS_STYLE)
    assert style["outline"] != "none" and style["width"] > 0, style
    assert style["colour"] not in TRANSPARENT, style
    page.keyboard.type(live.emails["coordinator"])

    page.keyboard.press("Tab")
    expect(page.locator("#password")).to_be_focused()
    style = page.locator("#password").evaluate(FOCUS_STYLE)
    assert style["outline"] != "none" and style["colour"] not in TRANSPARENT, style
    page.keyboard.type(live.password)

    # The "Sign in" button shows its focus too (NHS.UK: yellow fill, dark underline).
    button = page.get_by_role("button", name="Sign in", exact=True)
    resting = button.evaluate(FOCUS_STYLE)
    for _ in range(3):
        page.keyboard.press("Tab")
        if button.evaluate("el => el === document.activeElement"):
            break
    else:
        raise AssertionError("the Sign in button is not reachable with Tab")
    focused = button.evaluate(FOCUS_STYLE)
    assert focused["outline"] != "none", focused
    assert focused != resting, "the focused button looks the same as when it is not focused"

    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page).to_have_url(live.url("/worklist"))
    expect(page.locator("header")).to_contain_text(live.emails["coordinator"])
