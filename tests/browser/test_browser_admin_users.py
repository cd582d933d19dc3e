"""Users for admins, and the glossary, in a real browser on a desktop and on a phone
(docs/access.md "Managing users in the web app").

Journey: the admin opens Users from the menu, finds a coordinator by name and disables
them; the coordinator, signed in elsewhere, is sent to sign in on their very next click.
On the phone the admin first adds the coordinator in the web app (the password is shown
once), who signs in with it. Every user this test disables is one it made or the demo's
second coordinator, and it is enabled again, so the shared store stays as the other
browser tests expect it.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

COLLEAGUE = "robin.coordinator@demo.invalid"  # the demo's second coordinator


def no_sideways_scroll(page, width: int) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def sign_in_as(new_context, email: str, password: str, width: int):
    page = new_context(width).new_page()
    page.goto("/sign-in")
    page.fill("#email", email)
    page.fill("#password", password)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/worklist"))
    return page


def open_users(page, width: int):
    if width < 700:  # the phone's header menu folds into "More" when it is narrow
        page.goto("/admin/users")
    else:
        with page.expect_navigation():
            page.get_by_role("navigation", name="Menu").get_by_role("link", name="Users").click()
    expect(page.get_by_role("heading", name="Users", exact=True)).to_be_visible()


def add_coordinator(page, shoot, width: int) -> tuple[str, str]:
    """Add a coordinator for the demo's first PCN in the web app: (email, password)."""
    email = f"kim.lee.{width}@demo.invalid"
    with page.expect_navigation():
        page.get_by_role("button", name="Add a user").click()
    page.get_by_label("Name", exact=True).fill("Kim Lee")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Care coordinator").check()
    pcns = page.locator("#scope-coordinator input[type=checkbox]")
    expect(pcns.first).to_be_visible()  # revealed with the role
    expect(page.locator("#practice")).to_be_hidden()
    pcns.first.check()
    no_sideways_scroll(page, width)
    shoot(page, f"14-admin-add-user-{width}")
    with page.expect_navigation():
        page.get_by_role("button", name="Add user").click()
    expect(page.locator("main")).to_contain_text("Kim Lee (Care coordinator) can now sign in")
    password = page.locator("#secret").inner_text().strip()
    assert len(password) >= 16
    no_sideways_scroll(page, width)
    shoot(page, f"14-admin-password-shown-once-{width}")
    with page.expect_navigation():
        page.get_by_role("button", name="I have copied it").click()
    expect(page.locator("main")).not_to_contain_text(password)
    return email, password


@pytest.mark.parametrize("width", [1366, 390])
def test_the_admin_disables_a_coordinator_whose_session_stops_at_once(
        signed_in, new_context, live, shoot, width):
    admin = signed_in("admin", width=width)
    open_users(admin, width)
    if width == 1366:
        email, password, name = COLLEAGUE, live.password, "Robin Patel"
    else:
        email, password = add_coordinator(admin, shoot, width)
        name = "Kim Lee"
        admin.goto("/admin/users")
    row = admin.locator("tr", has_text=email)
    expect(row).to_contain_text(name)
    expect(row).to_contain_text("Care coordinator")
    expect(row).not_to_contain_text(re.compile(r"\bU\d{5}\b"))  # PCNs by name
    no_sideways_scroll(admin, width)
    shoot(admin, f"14-admin-users-{width}")

    coordinator = sign_in_as(new_context, email, password, width)
    with admin.expect_navigation():
        row.get_by_role("link", name=name).click()
    expect(admin.get_by_role("heading", name=name, level=1)).to_be_visible()
    with admin.expect_navigation():
        admin.get_by_role("button", name=f"Disable {name}").click()
    expect(admin.locator("main")).to_contain_text(f"{name} is disabled")
    expect(admin.get_by_role("button", name=f"Enable {name}")).to_be_visible()
    no_sideways_scroll(admin, width)
    shoot(admin, f"14-admin-user-disabled-{width}")

    coordinator.reload()  # their very next request
    expect(coordinator).to_have_url(re.compile(r"/sign-in"))

    admin.goto("/admin/audit?action=disable-user")  # who did it, and when
    entry = admin.locator("#audit-results tbody tr").first
    expect(entry).to_contain_text(name)
    expect(entry).to_contain_text("Account disabled")
    expect(entry).to_contain_text("by Jordan Lee")
    admin.go_back()

    with admin.expect_navigation():
        admin.get_by_role("button", name=f"Enable {name}").click()
    expect(admin.locator("main")).to_contain_text(f"{name} can sign in again")
    sign_in_as(new_context, email, password, width)


@pytest.mark.parametrize("width", [1366, 390])
def test_refusals_show_on_the_same_page(signed_in, shoot, width):
    admin = signed_in("admin", width=width)
    admin.goto("/admin/users")
    with admin.expect_navigation():
        admin.locator("tr", has_text="admin@demo.invalid").get_by_role("link").click()
    expect(admin.locator("main")).to_contain_text("You cannot disable your own account")
    admin.get_by_label("GP practice").check()
    with admin.expect_navigation():
        admin.get_by_role("button", name="Save changes").click()
    summary = admin.locator(".nhsuk-error-summary")
    expect(summary).to_be_visible()
    # no practice chosen: the message is by the field, and the choice is kept
    expect(summary).to_contain_text("Choose the GP's practice")
    expect(admin.get_by_label("GP practice")).to_be_checked()
    admin.locator("#practice").select_option(index=1)
    with admin.expect_navigation():
        admin.get_by_role("button", name="Save changes").click()
    expect(summary).to_contain_text("You cannot change your own role: ask another admin.")
    no_sideways_scroll(admin, width)
    shoot(admin, f"14-admin-refused-own-role-{width}")


@pytest.mark.parametrize("width", [1366, 390])
def test_the_glossary_from_the_footer_and_from_a_word(signed_in, shoot, width):
    page = signed_in("coordinator", width=width)
    with page.expect_navigation():
        page.get_by_role("contentinfo").get_by_role("link", name="Help").click()
    expect(page.get_by_role("heading", name="Glossary", level=1)).to_be_visible()
    no_sideways_scroll(page, width)
    shoot(page, f"14-glossary-{width}")
    page.get_by_role("link", name="FDS (Faster Diagnosis Standard)").click()
    expect(page).to_have_url(re.compile(r"#fds$"))
    expect(page.locator("#fds + p")).to_contain_text("28 days")

    # a word on the worklist leads to its entry
    page.goto("/worklist")
    with page.expect_navigation():
        page.locator("#filter-hint").get_by_role("link", name="at risk").click()
    expect(page).to_have_url(re.compile(r"/help/glossary#at-risk$"))
    expect(page.locator("#at-risk")).to_be_in_viewport()
