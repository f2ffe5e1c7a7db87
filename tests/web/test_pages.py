"""The pages (``referral/web``): signing in, the profile, the invite link, languages, and every error a person
can meet, through the test client, as a browser without JavaScript would use them."""

import json
import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError

from referral.extensions import db
from referral.infra.models import AuthSession, User
from referral.web.session import ACCESS_COOKIE, REFRESH_COOKIE
from tests.conftest import bearer, ip_of


class Browser:
    """One person's browser: the cookies of a test client, and the forms of the last page."""

    def __init__(self, client, phone: str = "+79990000001") -> None:
        self.client = client.application.test_client()  # a cookie jar of its own
        self.phone = phone
        self.environ = ip_of(phone)

    def get(self, url: str, **kwargs):
        self.page = self.client.get(url, environ_base=self.environ, **kwargs)
        return self.page

    def csrf(self) -> str:
        if not hasattr(self, "page") or "csrf_token" not in self.page.text:
            self.get("/", follow_redirects=True)  # the start page, or the profile when signed in
        return re.search(r'name="csrf_token" value="([^"]+)"', self.page.text).group(1)

    def post(self, url: str, **fields):
        token = fields.pop("csrf_token", None) or self.csrf()
        self.page = self.client.post(url, data={"csrf_token": token, **fields}, environ_base=self.environ)
        return self.page

    def sign_in(self, phone: str | None = None):
        self.post("/", phone=phone or self.phone)
        code = re.search(r"code is (\d+)", self.get("/login/code").text).group(1)
        return self.post("/login/code", code=code)


def referral_items(page: str) -> int:
    """How many people the page's referral list shows."""
    listing = re.search(r'<ol class="referrals".*?</ol>', page, re.S)
    return listing.group(0).count("<li>") if listing else 0


@pytest.fixture
def browser(client):
    return Browser(client)


def test_the_start_page_asks_for_a_phone_with_security_headers(browser):
    page = browser.get("/")
    assert page.status_code == 200
    assert 'type="tel"' in page.text and 'name="csrf_token"' in page.text
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert "'unsafe-inline'" not in page.headers["Content-Security-Policy"]
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["Referrer-Policy"] == "same-origin"
    assert "<script>" not in page.text and " style=" not in page.text  # nothing inline


def test_a_first_sign_in_creates_the_account_and_shows_the_profile(browser):
    browser.post("/", phone="8 (999) 000-00-01")  # any common spelling
    code_page = browser.get("/login/code")
    assert 'inputmode="numeric"' in code_page.text and 'autocomplete="one-time-code"' in code_page.text
    done = browser.sign_in()
    assert done.status_code == 302 and done.headers["Location"] == "/profile"
    profile = browser.get("/profile")
    user = db.session.scalars(select(User).where(User.phone == "+79990000001")).one()
    assert user.invite_code in profile.text
    assert f"/i/{user.invite_code}" in profile.text
    assert "<svg" in profile.text  # the QR code, made on the server


def test_the_code_page_says_how_long_to_wait_before_sending_again(browser):
    browser.post("/", phone=browser.phone)
    page = browser.get("/login/code")
    assert re.search(r'data-wait="(5\d|60)"', page.text)
    again = browser.post("/login/resend")
    assert again.status_code == 429 and "Wait a little" in again.text


@pytest.mark.parametrize(
    ("phone", "message"),
    [("12", "Enter a mobile phone number"), ("+1 202 555 0143", "We do not send codes to numbers of this country")],
)
def test_a_phone_that_cannot_get_a_code_is_said_so_on_the_page(browser, phone, message):
    page = browser.post("/", phone=phone)
    assert page.status_code == 422
    assert message in page.text


def test_a_wrong_code_is_said_so_and_the_right_one_still_works(browser):
    browser.post("/", phone=browser.phone)
    code = re.search(r"code is (\d+)", browser.get("/login/code").text).group(1)
    wrong = browser.post("/login/code", code="0000" if code != "0000" else "1111")
    assert wrong.status_code == 422 and "The code is wrong" in wrong.text
    assert browser.post("/login/code", code=code).headers["Location"] == "/profile"


def test_a_form_without_its_csrf_token_is_refused(client):
    page = client.post("/", data={"phone": "+79990000001"})
    assert page.status_code == 400
    assert "This form has expired" in page.text
    assert page.content_type.startswith("text/html")


def test_the_token_cookies_are_httponly_lax_and_secure_in_production(app, browser):
    app.config["APP_ENV"] = "production"
    cookies = browser.sign_in().headers.getlist("Set-Cookie")
    tokens = [cookie for cookie in cookies if cookie.startswith((ACCESS_COOKIE, REFRESH_COOKIE))]
    assert len(tokens) == 2
    assert all("HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie for cookie in tokens)


def test_the_language_comes_from_the_browser_and_a_switch_is_remembered(browser):
    assert "Войти" in browser.get("/", headers={"Accept-Language": "ru-RU,ru;q=0.9"}).text
    switched = browser.get("/lang/en?next=/")
    assert switched.status_code == 302 and "lang=en" in switched.headers["Set-Cookie"]
    assert "Sign in" in browser.get("/", headers={"Accept-Language": "ru"}).text
    assert browser.get("/lang/ru?next=//evil.example").headers["Location"] == "/"  # no open redirect


def anna_s_code(client):
    """Anna signs up, and out again; her invite code."""
    anna = Browser(client, "+79991234567")
    anna.sign_in()
    code = db.session.scalar(select(User.invite_code).where(User.phone == "+79991234567"))
    anna.post("/logout")
    return code


def test_an_invite_link_names_the_inviter_masked_and_attaches_a_new_person(client):
    code = anna_s_code(client)
    boris = Browser(client, "+79990000002")
    landing = boris.get(f"/i/{code}")
    assert "+7 999 ***-**-67 invites you" in landing.text  # no name set: the masked phone
    assert "1234567" not in landing.text
    boris.sign_in()
    profile = boris.get("/profile")
    assert f"You entered the code {code} of +7 999 ***-**-67" in profile.text
    inviter = db.session.scalars(select(User).where(User.phone == "+79991234567")).one()
    db.session.refresh(inviter)
    assert inviter.referrals_count == 1


def test_a_signed_in_person_without_a_code_is_offered_the_link_s_code(client):
    code = anna_s_code(client)
    boris = Browser(client, "+79990000002")
    boris.sign_in()
    offer = boris.get(f"/i/{code}")
    assert f"Enter the invite code {code}" in offer.text
    assert boris.post("/profile/invite", invite_code=code).headers["Location"] == "/profile"
    assert boris.get(f"/i/{code}").status_code == 302  # entered already: straight to the profile


def test_an_unknown_invite_link_is_a_404_page_in_words(browser):
    page = browser.get("/i/NoSuch")
    assert page.status_code == 404
    assert page.content_type.startswith("text/html") and "Nobody has this invite code" in page.text


@pytest.mark.parametrize(
    ("whose", "message"),
    [
        ("own", "This is your own invite code"),
        ("unknown", "Nobody has this invite code"),
        ("loop", "was invited by you"),
    ],
)
def test_every_refusal_of_an_invite_code_reads_as_a_sentence(client, whose, message):
    anna = Browser(client, "+79990000001")
    anna.sign_in()
    anna_code = db.session.scalar(select(User.invite_code).where(User.phone == "+79990000001"))
    code = {"own": anna_code, "unknown": "NoSuch"}.get(whose)
    if whose == "loop":
        boris = Browser(client, "+79990000002")
        boris.get(f"/i/{anna_code}")
        boris.sign_in()  # boris was invited by anna ...
        code = db.session.scalar(select(User.invite_code).where(User.phone == "+79990000002"))
        anna.get("/profile")  # ... so anna may not enter boris's code
    page = anna.post("/profile/invite", invite_code=code)
    assert page.status_code in (404, 422)
    assert message in page.text


def test_a_second_code_is_refused_as_already_entered(client):
    anna, boris, vera = (Browser(client, phone) for phone in ("+79990000001", "+79990000002", "+79990000003"))
    for person in (anna, boris):
        person.sign_in()
    codes = dict(db.session.execute(select(User.phone, User.invite_code)).all())
    vera.sign_in()
    vera.post("/profile/invite", invite_code=codes["+79990000001"])
    page = vera.post("/profile/invite", invite_code=codes["+79990000002"])
    assert "You have already entered an invite code" in page.text


def test_the_referral_list_is_newest_first_twenty_a_page(client, browser, user_factory):
    browser.sign_in()
    owner = db.session.scalars(select(User).where(User.phone == browser.phone)).one()
    for _ in range(25):
        user_factory.invited_by(owner)
    first = browser.get("/profile")
    assert "Your referrals: 25" in first.text
    assert referral_items(first.text) == 20
    older = re.search(r'href="(/profile\?after=[^"]+)"', first.text).group(1)
    assert referral_items(browser.get(older.replace("&amp;", "&")).text) == 5


def test_names_and_a_phone_change_with_its_code(browser):
    browser.sign_in()
    assert browser.post("/profile/names", first_name=" Anna ", last_name="Petrova").status_code == 302
    assert 'value="Anna"' in browser.get("/profile").text
    assert browser.post("/profile/phone", phone="+79990000099").headers["Location"] == "/profile/phone/confirm"
    code = re.search(r"code is (\d+)", browser.get("/profile/phone/confirm").text).group(1)
    assert browser.post("/profile/phone/confirm", code=code).headers["Location"] == "/profile"
    assert "+7 999 000-00-99" in browser.get("/profile").text  # still signed in, on the new session


def test_logging_out_ends_the_session_as_the_api_s_logout_does(browser):
    browser.sign_in()
    assert browser.post("/logout").headers["Location"] == "/"
    assert db.session.scalars(select(AuthSession.revoked_at)).one() is not None
    assert browser.get("/profile").headers["Location"] == "/"


def test_an_expired_access_cookie_is_renewed_from_the_refresh_one(client, browser):
    browser.sign_in()
    browser.client.delete_cookie(ACCESS_COOKIE)  # as the browser does when it expires
    page = browser.get("/profile")
    assert page.status_code == 200
    assert any(cookie.startswith(ACCESS_COOKIE) for cookie in page.headers.getlist("Set-Cookie"))


def test_a_session_ended_elsewhere_ends_the_pages_too(browser):
    browser.sign_in()
    db.session.execute(update(AuthSession).values(revoked_at=datetime.now(UTC)))
    assert browser.get("/profile").headers["Location"] == "/"


def test_the_api_never_takes_the_pages_cookies(browser):
    browser.sign_in()
    response = browser.client.get("/api/v1/profile")
    assert response.status_code == 401 and response.json["code"] == "token_missing"


@pytest.mark.parametrize(("method", "path", "status"), [("GET", "/logout", 405), ("GET", "/nowhere", 404)])
def test_http_errors_are_pages_in_the_site_s_look(client, method, path, status):
    page = client.open(path, method=method)
    assert page.status_code == status
    assert page.content_type.startswith("text/html") and "<header" in page.text


def test_too_many_codes_from_one_address_is_a_429_page_saying_when(app, browser):
    app.config["RATELIMIT_AUTH_CODE"] = "2 per minute"
    statuses = [browser.post("/", phone=f"+7999000{n:04d}").status_code for n in range(3)]
    assert statuses == [302, 302, 429]
    assert "Too many attempts" in browser.page.text and "Try again in" in browser.page.text
    assert int(browser.page.headers["Retry-After"]) > 0


def test_a_database_outage_is_a_503_page_and_a_bug_a_500_page(browser, monkeypatch):
    from referral.domain import signin

    def down(phone, language=None):
        raise OperationalError("SELECT 1", {}, Exception("down"))

    monkeypatch.setattr(signin, "request_login_code", down)
    outage = browser.post("/", phone=browser.phone)
    assert outage.status_code == 503 and "trouble right now" in outage.text
    assert outage.headers["Retry-After"] == "5"

    monkeypatch.setattr(signin, "request_login_code", lambda phone, language=None: 1 / 0)
    bug = browser.post("/", phone=browser.phone)
    assert bug.status_code == 500 and "Something went wrong" in bug.text and "ZeroDivisionError" not in bug.text


def test_the_api_keeps_its_problem_bodies(client):
    response = client.get("/api/v1/nowhere")
    assert response.status_code == 404 and response.content_type == "application/problem+json"
    assert client.get("/api/v1/profile", headers=bearer("x")).json["code"] == "token_invalid"


@pytest.mark.parametrize(
    ("url", "fields", "back_to"),
    [
        ("/profile/invite", {"invite_code": "NOBODY"}, "/profile"),
        ("/profile/names", {"first_name": "x" * 65}, "/profile"),
        ("/profile/phone", {"phone": "not a phone"}, "/profile"),
    ],
)
def test_the_language_switch_on_a_refused_form_returns_to_the_page_not_the_form_address(browser, url, fields, back_to):
    browser.sign_in()
    refused = browser.post(url, **fields)
    assert refused.status_code in (404, 422)
    switch = re.search(r'href="(/lang/ru\?next=[^"]+)"', refused.text).group(1)
    assert switch.endswith("next=" + back_to.replace("/", "%2F")) or switch.endswith("next=" + back_to)
    landed = browser.get(switch, follow_redirects=True)
    assert landed.status_code == 200
    assert 'lang="ru"' in landed.text


def test_an_invite_link_finds_its_code_in_any_case_with_a_trailing_slash_or_full_stop(browser, api):
    code = api.sign_in("+79990000077")["user"]["invite_code"]
    for link in (f"/i/{code.lower()}", f"/i/{code}/", f"/i/{code}.", f"/i/{code.lower()}./"):
        page = browser.get(link)
        assert page.status_code == 200, link
    browser.sign_in()
    profile = browser.get("/profile")
    assert profile.status_code == 200
    assert db.session.scalars(select(User).where(User.phone == browser.phone)).one().invited_by_id is not None


def test_a_refused_invite_code_stays_in_its_field_with_the_message_beside_it(browser):
    browser.sign_in()
    page = browser.post("/profile/invite", invite_code="NOBODY")
    assert page.status_code in (404, 422)
    field = re.search(r"<input id=\"invite_code\"[^>]*>", page.text).group(0)
    assert 'value="NOBODY"' in field and 'aria-invalid="true"' in field and "autofocus" in field
    assert 'aria-describedby="invite_code-error"' in field
    assert re.search(
        r'<p id="invite_code-error" class="field-error" role="alert">Nobody has this invite code', page.text
    )
    assert '<p class="error"' not in page.text  # beside the field, not at the top of the page


def test_refused_names_keep_what_was_typed(browser):
    browser.sign_in()
    page = browser.post("/profile/names", first_name="Anna", last_name="P" * 65)
    assert page.status_code == 422
    assert 'value="Anna"' in page.text and 'aria-describedby="last_name-error"' in page.text


@pytest.mark.parametrize(
    ("url", "fields", "said"),
    [
        ("/profile/names", {"first_name": "Anna", "last_name": "Petrova"}, "Your name is saved."),
        ("/logout", {}, "You are signed out."),
    ],
)
def test_every_action_is_confirmed_in_words_a_screen_reader_announces(browser, url, fields, said):
    browser.sign_in()
    browser.post(url, **fields)
    page = browser.get(browser.page.headers["Location"], follow_redirects=True)
    assert re.search(
        r'<div role="status" aria-live="polite" class="notices">\s*<p class="notice">' + re.escape(said), page.text
    )


def test_entering_an_invite_code_is_confirmed_with_the_code_as_issued(browser, api):
    code = api.sign_in("+79990000055")["user"]["invite_code"]
    browser.sign_in()
    browser.post("/profile/invite", invite_code=code.lower())
    page = browser.get("/profile")
    assert f"Done: you entered the code {code}." in page.text


def test_a_wrong_code_says_how_many_tries_are_left_in_either_language(browser):
    browser.post("/", phone=browser.phone)
    page = browser.post("/login/code", code="0000" if "0000" not in browser.get("/login/code").text else "1111")
    assert "The code is wrong. 4 tries left." in page.text
    ru = browser.client.post(
        "/login/code",
        data={"csrf_token": browser.csrf(), "code": "9999"},
        headers={"Accept-Language": "ru"},
        environ_base=browser.environ,
    )
    assert "Осталось 3 попытки" in ru.text


def test_the_send_again_button_works_without_javascript_and_says_when_it_may_be_asked(browser):
    browser.post("/", phone=browser.phone)
    page = browser.get("/login/code")
    button = re.search(r"<button[^>]*data-wait[^>]*>", page.text).group(0)
    assert "disabled" not in button  # the script disables it while it counts down; without it, it works
    assert re.search(r"You can ask for a new code in (5\d|60) s", page.text)


def test_the_phone_change_confirmation_can_send_the_code_again(browser, clock):
    browser.sign_in()
    browser.post("/profile/phone", phone="+79990000044")
    page = browser.get("/profile/phone/confirm")
    assert 'action="/profile/phone/resend"' in page.text
    clock.advance(seconds=61)
    again = browser.post("/profile/phone/resend")
    assert again.status_code == 302


def test_the_invite_page_greets_with_the_inviter_s_name_and_shows_the_code(client, api, browser):
    inviter = api.sign_in("+79990000066")
    client.patch("/api/v1/profile", headers=inviter["headers"], json={"first_name": "Anna", "last_name": "Petrova"})
    page = browser.get(f"/i/{inviter['user']['invite_code']}")
    assert "Anna P. invites you" in page.text
    assert inviter["user"]["invite_code"] in page.text
    assert "***" not in page.text  # the name, not the masked phone, once a name is set


def test_phones_are_shown_as_people_write_them_and_titles_name_the_site(browser):
    browser.sign_in()
    page = browser.get("/profile")
    assert "+7 999 000-00-01" in page.text
    assert re.search(r'<time datetime="\d{4}-\d\d-\d\dT[^"]+">\w{3} \d{1,2}, \d{4}</time>', page.text)
    assert "<title>Your profile · Referral</title>" in page.text, re.search(r"<title>.*?</title>", page.text).group(0)
    assert 'rel="icon"' in page.text
    assert browser.get("/assets/favicon.svg").status_code == 200


def test_sharing_offers_the_messengers_as_plain_links_and_the_whole_link(browser):
    browser.sign_in()
    page = browser.get("/profile")
    for start in ("https://t.me/share/url?url=", "https://wa.me/?text=", "https://vk.com/share.php?url="):
        assert start in page.text
    assert '<p class="link"><a id="invite-link-text" href="http://localhost/i/' in page.text
    assert re.search(r'<button type="button" class="secondary" data-copy="invite-link"[^>]*hidden>', page.text)


def test_a_form_sent_after_signing_out_in_another_tab_says_so(browser):
    browser.sign_in()
    token = browser.csrf()
    other_tab = browser.post("/logout")
    assert other_tab.status_code == 302
    late = browser.post("/profile/names", csrf_token=token, first_name="Anna")
    assert late.status_code == 401
    assert "You are signed out" in late.text


def test_a_bad_invite_link_says_so_in_words_and_offers_to_sign_up(browser):
    page = browser.get("/i/NOBODY")
    assert page.status_code == 404
    assert "This invite link does not work" in page.text and ">Sign up</a>" in page.text
    assert "<h1>404</h1>" not in page.text


def test_referral_pages_number_on_and_link_to_the_newer_page(browser, user_factory, clock):
    browser.sign_in()
    owner = db.session.scalars(select(User).where(User.phone == browser.phone)).one()
    for _ in range(45):
        clock.advance(seconds=1)
        user_factory.invited_by(owner)

    def link(page, label):
        found = re.search(r'<a href="([^"]+)">' + label + "</a>", page.text)
        return found.group(1).replace("&amp;", "&") if found else None

    first = browser.get("/profile")
    assert link(first, "Newer referrals") is None
    second = browser.get(link(first, "Older referrals"))
    assert '<ol class="referrals" start="21">' in second.text
    third = browser.get(link(second, "Older referrals"))
    assert '<ol class="referrals" start="41">' in third.text and referral_items(third.text) == 5
    back = browser.get(link(third, "Newer referrals"))
    assert '<ol class="referrals" start="21">' in back.text
    assert re.findall(r'<span class="phone">([^<]+)</span>', back.text) == re.findall(
        r'<span class="phone">([^<]+)</span>', second.text
    )
    assert link(back, "Newer referrals").startswith("/profile#")  # the newest page again


def test_the_profile_lists_the_devices_and_another_one_can_be_signed_out(client):
    phone = Browser(client, "+79990000031")
    phone.client.environ_base["HTTP_USER_AGENT"] = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Safari/604.1"
    phone.sign_in()
    laptop = Browser(client, "+79990000031")
    laptop.sign_in()
    page = laptop.get("/profile")
    assert "this device" in page.text and "iOS" in page.text
    items = re.findall(r"<li>.*?</li>", page.text.split('class="devices"')[1], re.S)
    (other_item,) = [item for item in items if "Sign out this device" in item]  # the current one says "Log out"
    other = re.search(r'action="(/profile/sessions/[0-9a-f]+/end)"', other_item).group(1)
    done = laptop.post(other)
    assert done.status_code == 302
    assert "That device is signed out." in laptop.get("/profile").text
    assert phone.get("/profile").status_code == 302  # the phone is sent to sign in again


def test_my_data_downloads_as_a_json_file(browser):
    browser.sign_in()
    response = browser.get("/profile/export")
    assert response.headers["Content-Disposition"] == 'attachment; filename="referral-data.json"'
    assert json.loads(response.get_data(as_text=True))["profile"]["phone"] == browser.phone


def test_deleting_the_account_asks_for_a_code_and_says_so_before_and_after(browser):
    browser.sign_in()
    assert "cannot be undone" in browser.get("/profile").text
    asked = browser.post("/profile/delete")
    assert asked.headers["Location"] == "/profile/delete/confirm"
    confirm = browser.get("/profile/delete/confirm")
    code = re.search(r"the code is (\d+)", confirm.text).group(1)
    done = browser.post("/profile/delete/confirm", code=code)
    assert done.headers["Location"] == "/"
    assert "Your account is deleted." in browser.get("/").text
    assert db.session.scalars(select(User).where(User.phone == browser.phone)).one_or_none() is None


def test_the_invite_link_shown_is_the_plain_one(browser):
    browser.sign_in()
    assert re.search(r'id="invite-link" value="http://localhost/i/[A-Z0-9]{6}"', browser.get("/profile").text)
