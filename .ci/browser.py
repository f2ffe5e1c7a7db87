"""The pages in a real browser: Debian's Chromium driven by Playwright against a live `make run`.

Anna signs up in English and copies her invite link; Boris opens it in a private window, in Russian, and signs
up through it; Vera signs up, switches the page to Russian and enters Anna's code by hand; Anna sees both in
her list, saves her name, signs her laptop out from her phone and downloads her data; Vera changes her number;
Boris deletes his account; Gleb, without JavaScript, asks for a code again. Then every kind of page (sign in, an
invite link, an unknown invite link, an unknown page, the profile) is opened at 390 px and 1280 px, in English and
Russian, with the script on and off, and must not be wider than the screen. Every page is
saved as a screenshot and checked by axe-core against WCAG 2.2 AA (injected in a context that bypasses the
pages' CSP, which would refuse it); any violation fails the walk. Usage: browser.py BASE_URL SCREENSHOT_DIR
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pyotp
from playwright.sync_api import Browser, Page, expect, sync_playwright

CHROMIUM = "/usr/bin/chromium"
AXE = Path(__file__).resolve().parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
VIOLATIONS: list[str] = []
# The flags this machine needs: no sandbox as root, and no background traffic (the network is closed).
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class Person:
    def __init__(
        self,
        browser: Browser,
        base: str,
        shots: Path,
        name: str,
        language: str,
        javascript: bool = True,
        width: int = 390,
    ) -> None:
        # A context of its own: cookies and storage apart, as a private window's are.
        self.context = browser.new_context(
            locale=language,
            viewport={"width": width, "height": 844 if width < 800 else 900},
            bypass_csp=True,
            java_script_enabled=javascript,
        )
        self.page: Page = self.context.new_page()
        self.base, self.shots, self.name, self.javascript = base, shots, name, javascript
        self.count = 0

    def shot(self, what: str) -> None:
        self.count += 1
        self.page.screenshot(path=str(self.shots / f"{self.name}-{self.count:02d}-{what}.png"), full_page=True)
        if self.javascript:  # axe is a script: the pages without one are the same pages, checked with it on
            check_accessibility(self.page, f"{self.name} {what}")

    def code_shown(self) -> str:
        """The development code the page shows (`make run` sends no SMS)."""
        return re.search(r"(\d{4,8})\.?\s*$", self.page.locator(".debug").inner_text().strip()).group(1)

    def enter_code(self, action: str) -> None:
        """Type the development code into the code form posting to ``action``, and send it."""
        self.page.fill("#code", self.code_shown())
        self.page.click(f"form[action='{action}'] button[type=submit]")

    def sign_in(self, phone: str) -> None:
        self.page.fill("#phone", phone)
        self.shot("phone")
        self.page.click("button[type=submit]")
        expect(self.page).to_have_url(re.compile(r"/login/code$"))
        self.page.fill("#code", self.code_shown())
        self.shot("code")
        self.page.click("form[action='/login/code'] button[type=submit]")
        expect(self.page).to_have_url(re.compile(r"/profile$"))
        self.shot("profile")


def check_accessibility(page: Page, where: str) -> None:
    """axe-core on the page as it stands; each WCAG 2.2 AA violation is kept for the end of the walk."""
    page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        "async (tags) => (await axe.run(document, {runOnly: {type: 'tag', values: tags}})).violations"
        ".map(v => `${v.id} (${v.impact}, ${v.nodes.length}): ${v.help}`)",
        WCAG_AA,
    )
    VIOLATIONS.extend(f"{where}: {violation}" for violation in found)


def walk_the_console(browser: Browser, base: str, shots: Path, anna: Person) -> None:
    """An admin signs in with both factors, finds Anna by four digits of her phone, opens her, lifts the
    lockout her wrong codes earned, ends her sessions, puts a reward rule in force, approves the held referral
    of Boris (and Anna, signed in again, sees its reward), and reads the overview in both languages."""
    api = anna.context.request
    anna.page.goto(base + "/")
    anna.sign_in("+79991000001")  # a live session to end
    api.post(base + "/api/v1/auth/code", data={"phone": "+79991000001"})
    for _ in range(3):  # the server locks a phone after three wrong codes (OTP_LOCKOUT_FAILURES)
        api.post(base + "/api/v1/auth/token", data={"phone": "+79991000001", "code": "0000"})

    admin = Person(browser, base, shots, "console", "en-US", width=1280)
    admin.page.goto(base + "/admin")
    expect(admin.page).to_have_url(re.compile(r"/admin/login$"))
    admin.page.fill("#phone", os.environ["CONSOLE_PHONE"])
    admin.shot("login")
    admin.page.click("button[type=submit]")
    admin.page.fill("#code", admin.code_shown())
    admin.page.fill("#authenticator", pyotp.TOTP(os.environ["CONSOLE_TOTP_SECRET"]).now())
    admin.shot("two-codes")
    admin.page.click("form[action='/admin/login/code'] button[type=submit]")
    expect(admin.page.locator(".notice")).to_have_text("You are signed in to the console.")
    expect(admin.page.locator("svg.chart")).to_have_count(3)
    admin.shot("overview")
    admin.page.screenshot(path=str(shots / "console-overview.png"), full_page=True)

    # The programme: a reward rule put in force, a referral of Anna's held by the fraud rules (every walker signs in
    # from one network) approved in the review queue, and the reward it earned on Anna's profile.
    admin.page.goto(base + "/admin/rules")
    admin.page.fill("#label", "100 RUB credit")
    admin.page.fill("#amount", "100")
    admin.page.fill("#unit", "RUB")
    admin.page.click("form[action='/admin/rules'] button[type=submit]")
    expect(admin.page.locator(".notice")).to_have_text("The rule is in force.")
    admin.shot("reward-rule")
    admin.page.click("nav.console-nav a[href='/admin/reviews']")
    held = admin.page.locator("section.review").first
    expect(held.locator("h2")).to_contain_text("invited by +7 999 ***-**-01")
    expect(held).to_contain_text("Same network as the inviter")
    expect(held.locator("mark").first).to_be_visible()  # what both sides share, marked
    admin.shot("review-queue")
    held.locator("form[action$='/approve'] button").click()
    expect(admin.page.locator(".notice")).to_have_text("Approved: the referral qualified.")
    admin.shot("approved")
    anna.page.goto(base + "/profile")  # still signed in (her sessions end below)
    expect(anna.page.locator("section[aria-labelledby=rewards]")).to_contain_text("100 RUB credit")
    expect(anna.page.locator("ol.referrals")).to_contain_text("qualified")
    anna.shot("reward-on-the-profile")

    admin.page.click("nav.console-nav a[href='/admin/users']")
    admin.page.fill("#q", "0001")
    admin.page.click("form[role=search] button")
    expect(admin.page.locator("tbody tr")).to_have_count(1)
    expect(admin.page.locator("tbody")).to_contain_text("+7 999 ***-**-01")  # masked in the list
    admin.shot("found-by-four-digits")
    admin.page.click("tbody a >> nth=0")
    expect(admin.page.locator("h1")).to_have_text("Anna Petrova")
    expect(admin.page.locator("main")).to_contain_text("+7 999 100-00-01")  # whole, and the opening recorded
    expect(admin.page.locator("#lockout + p")).to_contain_text("locked")
    admin.shot("user")
    annas_file = admin.page.url
    admin.page.click("form[action$='/lockout/lift'] button")
    expect(admin.page.locator(".notice")).to_have_text("The lockout is lifted.")
    admin.page.fill("#reason-all", "asked by phone, ticket 7")
    admin.page.click("form[action$='/sessions/revoke'] button.danger")
    expect(admin.page.locator(".notice")).to_have_text("Every session of this user has ended.")
    admin.shot("sessions-ended")
    anna.page.goto(base + "/profile")
    expect(anna.page).to_have_url(re.compile(r"/$"))  # her session is over

    admin.page.click("nav.console-nav a[href='/admin/audit']")
    for action in ("user.sessions_revoked", "user.lockout_lifted", "user.viewed", "console.signed_in"):
        expect(admin.page.locator("tbody")).to_contain_text(action)
    admin.shot("audit-log")

    admin.page.click("nav.languages a[lang=ru]")
    admin.page.goto(base + "/admin/?days=90")
    expect(admin.page.locator("h1")).to_have_text("Программа за последние 90 дн.")
    admin.shot("overview-ru")
    admin.page.goto(annas_file)  # a user's file with the admin's actions (trusting an inviter among them)
    expect(admin.page.locator("main")).to_contain_text("Доверять всплеску рефералов")
    admin.shot("user-ru")
    phone = Person(browser, base, shots, "console-phone", "ru-RU")
    phone.context.add_cookies(admin.context.cookies())
    pages = ("users", "reviews", "rewards", "rules", "deliveries", "audit", "staff")
    for language in ("ru", "en"):  # the longer words first: Russian is where a table outgrows a phone
        phone.page.goto(f"{base}/lang/{language}?next=/admin/")
        expect(phone.page.locator("html")).to_have_attribute("lang", language)
        for what, address in (
            ("overview", base + "/admin/?days=7"),
            ("user", annas_file),
            *((p, f"{base}/admin/{p}") for p in pages),
        ):
            phone.page.goto(address)
            expect(phone.page.locator("h1")).to_be_visible()
            overflow = phone.page.evaluate("document.documentElement.scrollWidth - innerWidth")
            assert overflow <= 0, f"the console's {what} ({language}) is {overflow} px wider than a phone"
            phone.shot(f"{what}-{language}")
    admin.context.close()
    phone.context.close()


def main(base: str, shots: Path) -> None:
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)

        anna = Person(browser, base, shots, "anna", "en-US")
        anna.page.goto(base + "/")
        expect(anna.page.locator("h1")).to_have_text("Sign in")
        anna.sign_in("+7 999 100-00-01")
        link = anna.page.input_value("#invite-link")
        code = link.rsplit("/", 1)[1]
        expect(anna.page.locator("svg").first).to_be_visible()  # the QR code

        boris = Person(browser, base, shots, "boris", "ru-RU")
        boris.page.goto(link)
        expect(boris.page.locator("h1")).to_have_text("+7 999 ***-**-01 приглашает вас")  # no name set yet
        expect(boris.page.locator(".invited")).to_contain_text(code)
        boris.shot("invited")
        boris.sign_in("8 999 100-00-02")
        expect(boris.page.locator("body")).to_contain_text(f"Вы ввели код {code} пользователя +7 999 ***-**-01")
        boris.shot("attached")

        vera = Person(browser, base, shots, "vera", "en-US")
        vera.page.goto(base + "/")
        vera.sign_in("+79991000003")
        vera.page.click("nav.languages a[lang=ru]")
        expect(vera.page.locator("h1")).to_have_text("Ваш профиль")
        vera.page.fill("#invite_code", "NOBODY")
        vera.page.click("form[action='/profile/invite'] button[type=submit]")
        expect(vera.page.locator("#invite_code")).to_have_attribute("aria-invalid", "true")
        expect(vera.page.locator("#invite_code-error")).to_contain_text("Такого кода приглашения нет")
        expect(vera.page.locator("#invite_code")).to_be_focused()
        vera.shot("refused-beside-the-field")
        vera.page.fill("#invite_code", code.lower())  # typed in any case
        vera.page.click("form[action='/profile/invite'] button[type=submit]")
        expect(vera.page.locator(".notice")).to_contain_text(f"Готово: вы ввели код {code}")
        expect(vera.page.locator("body")).to_contain_text(f"Вы ввели код {code}")
        vera.shot("entered-by-hand")

        anna.page.reload()
        expect(anna.page.locator("#referrals")).to_have_text("Your referrals: 2")
        expect(anna.page.locator("ol.referrals li")).to_have_count(2)
        expect(anna.page.locator("ol.referrals li").first).to_contain_text("+7 999 100-00-03")  # newest first
        anna.shot("with-referrals")
        anna.page.screenshot(path=str(shots / "profile.png"), full_page=True)

        # Her name, said back; her invite page greets with it from now on.
        anna.page.fill("#first_name", "Anna")
        anna.page.fill("#last_name", "Petrova")
        anna.page.click("form[action='/profile/names'] button[type=submit]")
        expect(anna.page.locator(".notice")).to_have_text("Your name is saved.")
        expect(anna.page.locator("#first_name")).to_have_value("Anna")
        anna.shot("name-saved")

        # Her laptop: a second device, listed, then signed out from the phone.
        laptop = Person(browser, base, shots, "anna-laptop", "en-US", width=1280)
        laptop.page.goto(base + "/")
        laptop.sign_in("+79991000001")
        anna.page.reload()
        expect(anna.page.locator("ul.devices li")).to_have_count(2)
        expect(anna.page.locator("ul.devices li").first).to_contain_text("this device")
        anna.page.click("form[action='/profile/sessions/end-others'] button")
        expect(anna.page.locator(".notice")).to_have_text("1 other device is signed out.")
        expect(anna.page.locator("ul.devices li")).to_have_count(1)
        anna.shot("other-devices-signed-out")
        laptop.page.goto(base + "/profile")
        expect(laptop.page).to_have_url(re.compile(r"/$"))  # that session is over
        laptop.context.close()

        # Her data, as a file.
        with anna.page.expect_download() as download:
            anna.page.click("a[href='/profile/export']")
        exported = json.loads(Path(download.value.path()).read_text())
        assert exported["profile"]["first_name"] == "Anna", exported["profile"]
        assert len(exported["referrals"]) == 2, exported["referrals"]

        # The invite page now greets with her name.
        stranger = Person(browser, base, shots, "stranger", "en-US", width=1280)
        stranger.page.goto(link)
        expect(stranger.page.locator("h1")).to_contain_text("Anna P.")
        stranger.shot("invited-by-name")
        stranger.context.close()

        # Vera changes her number, confirmed by a code sent to the new one.
        vera.page.goto(base + "/profile")
        vera.page.fill("#new_phone", "+7 999 300-77-13")
        vera.page.click("form[action='/profile/phone'] button[type=submit]")
        expect(vera.page).to_have_url(re.compile(r"/profile/phone/confirm$"))
        vera.shot("phone-change-code")
        vera.enter_code("/profile/phone/confirm")
        expect(vera.page.locator(".notice")).to_contain_text("+7 999 300-77-13")
        vera.shot("phone-changed")

        # Boris leaves: said before (the confirmation page) and after (the sign-in page).
        boris.page.goto(base + "/profile")
        boris.page.click("form[action='/profile/delete'] button")
        expect(boris.page).to_have_url(re.compile(r"/profile/delete/confirm$"))
        boris.shot("deletion-code")
        boris.enter_code("/profile/delete/confirm")
        expect(boris.page.locator(".notice")).to_contain_text("Ваш аккаунт удалён")
        boris.shot("deleted")
        anna.page.reload()
        expect(anna.page.locator("#referrals")).to_have_text("Your referrals: 1")

        # Every kind of page at both widths, in both languages, with the script on and off.
        pages = {  # signed out, then (the cookies added) signed in as Anna
            "sign-in": "/",
            "invite": link,
            "unknown-invite": "/i/NOBODY",
            "unknown-page": "/nothing-here",
            "profile": "/profile",
        }
        for javascript in (True, False):
            for width in (390, 1280):
                for language in ("en-US", "ru-RU"):
                    looker = Person(
                        browser,
                        base,
                        shots,
                        f"matrix-{width}-{language[:2]}-{'js' if javascript else 'nojs'}",
                        language,
                        javascript=javascript,
                        width=width,
                    )
                    for what, path in pages.items():
                        if what == "profile":
                            looker.context.add_cookies(anna.context.cookies())
                        looker.page.goto(path if path.startswith("http") else base + path)
                        expect(looker.page.locator("h1")).to_be_visible()
                        overflow = looker.page.evaluate("document.documentElement.scrollWidth - innerWidth")
                        assert overflow <= 0, f"{looker.name} {what}: the page is {overflow} px wider than the screen"
                        if what == "profile":  # the Copy button only where the script can copy
                            copy = expect(looker.page.locator("button[data-copy]"))
                            copy.to_be_visible() if javascript else copy.to_be_hidden()
                        looker.shot(what)
                    looker.context.close()
        for width, language in ((1280, "en-US"), (1280, "ru-RU")):
            wide = browser.new_context(locale=language, viewport={"width": width, "height": 900})
            wide.add_cookies(anna.context.cookies())
            page = wide.new_page()
            page.goto(base + "/profile")
            page.screenshot(path=str(shots / f"profile-{width}-{language[:2]}.png"), full_page=True)
            wide.close()
        anna.page.click("form.logout button")
        expect(anna.page.locator("h1")).to_have_text("Sign in")
        expect(anna.page.locator(".notice")).to_have_text("You are signed out.")
        anna.page.goto(base + "/profile")
        expect(anna.page).to_have_url(re.compile(r"/$"))  # the session ended with the logout
        anna.shot("logged-out")

        gleb = Person(browser, base, shots, "gleb", "ru-RU", javascript=False)
        gleb.page.goto(link.lower())  # a link typed in lower case still finds the code
        expect(gleb.page.locator("h1")).to_contain_text("приглашает вас")
        gleb.page.fill("#phone", "+79991000004")
        gleb.page.click("button[type=submit]")
        expect(gleb.page.locator("form.resend button")).to_be_enabled()  # works without the script
        gleb.page.click("form.resend button")
        expect(gleb.page.locator(".error")).to_contain_text("Попробуйте снова через")  # early: says how long is left
        gleb.page.screenshot(path=str(shots / "gleb-01-no-javascript-resend.png"), full_page=True)

        walk_the_console(browser, base, shots, anna)
        browser.close()
    if VIOLATIONS:
        raise SystemExit("browser: WCAG 2.2 AA violations found by axe-core:\n" + "\n".join(VIOLATIONS))
    pages = len(list(shots.glob("*.png")))
    print(
        f"browser: 4 people and a laptop, 2 referrals seen, 40 pages in the matrix, {pages} screenshots in {shots},"
        " axe-core: no WCAG 2.2 AA violation"
    )


if __name__ == "__main__":
    main(sys.argv[1].rstrip("/"), Path(sys.argv[2]))
