"""The staff console (``referral/console``): who may enter, the two factors, the console session's limits, what
each role may do, and the audit entry every action leaves."""

from __future__ import annotations

import re

import pyotp
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DatabaseError

from referral.extensions import db
from referral.infra.models import AuditEntry, AuthSession, ConsoleSession, PhoneLockout, Staff, User
from tests.web.test_pages import Browser

ADMIN, SUPPORT, PLAIN = "+79995550001", "+79995550002", "+79995550003"


def grant(runner, phone: str, role: str) -> str:
    """``flask staff grant``; the member's authenticator secret, read from the URI it prints."""
    result = runner.invoke(args=["staff", "grant", phone, "--role", role])
    assert result.exit_code == 0, result.output
    return re.search(r"secret=([A-Z2-7]+)", result.output).group(1)


class StaffBrowser(Browser):
    def __init__(self, client, runner, phone: str, role: str) -> None:
        super().__init__(client, phone)
        self.secret = grant(runner, phone, role)

    def csrf(self) -> str:
        if not hasattr(self, "page") or "csrf_token" not in self.page.text:
            self.get("/admin/login")
        return super().csrf()

    def authenticator_code(self, clock) -> str:
        return pyotp.TOTP(self.secret).at(clock.now)

    def ask_for_code(self) -> str:
        self.get("/admin/login")
        self.post("/admin/login", phone=self.phone)
        assert self.page.status_code == 302, self.page.text
        shown = re.search(r"the code is (\d+)", self.get("/admin/login/code").text)
        return shown.group(1) if shown else ""

    def sign_in_to_console(self, clock, totp: str | None = None):
        code = self.ask_for_code()
        return self.post("/admin/login/code", code=code, authenticator=totp or self.authenticator_code(clock))


def audit_count() -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEntry))


def actions() -> list[str]:
    return list(db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


@pytest.fixture
def admin(client, runner, clock):
    person = StaffBrowser(client, runner, ADMIN, "admin")
    assert person.sign_in_to_console(clock).status_code == 302
    return person


@pytest.fixture
def support_agent(client, runner, clock):
    person = StaffBrowser(client, runner, SUPPORT, "support")
    assert person.sign_in_to_console(clock).status_code == 302
    return person


@pytest.fixture
def customer(client, api):
    """A user with two signed-in devices and a locked phone."""
    api.sign_in(PLAIN)
    api.sign_in(PLAIN)
    return db.session.scalars(select(User).where(User.phone == PLAIN)).one()


# The door


def test_the_console_sends_anyone_not_signed_in_to_its_login(client):
    response = client.get("/admin")
    assert response.status_code in (301, 302, 308)
    assert client.get("/admin/").headers["Location"].endswith("/admin/login")
    assert client.get("/admin/login").status_code == 200


@pytest.mark.parametrize("url", ["/admin/users", "/admin/users/1", "/admin/audit", "/admin/staff", "/admin/nothing"])
def test_every_other_console_address_is_an_unknown_page_to_the_public(client, url):
    assert client.get(url).status_code == 404


def test_a_user_signed_in_on_the_pages_gains_nothing_in_the_console(client):
    person = Browser(client, PLAIN)
    person.sign_in()
    assert person.get("/profile").status_code == 200
    assert person.get("/admin/users").status_code == 404
    assert person.get("/admin/").status_code == 302


def test_staff_sign_in_with_an_sms_code_and_an_authenticator_code(client, runner, clock, sms):
    member = StaffBrowser(client, runner, ADMIN, "admin")
    page = member.sign_in_to_console(clock)
    assert page.status_code == 302 and page.headers["Location"].endswith("/admin/")
    cookie = member.client.get_cookie("console_session", path="/admin")
    assert cookie is not None and cookie.http_only and cookie.path == "/admin" and cookie.same_site == "Strict"
    overview = member.get("/admin/")
    assert overview.status_code == 200 and "You are signed in to the console." in overview.text
    assert "Content-Security-Policy" in overview.headers and overview.headers["Cache-Control"] == "no-store"
    assert "STAFF CONSOLE" in sms[-1][1]
    assert actions() == ["console.signed_in"]


def test_a_number_that_is_not_staff_is_answered_alike_and_sent_nothing(client, clock, sms):
    outsider = Browser(client, PLAIN)
    outsider.get("/admin/login")
    assert outsider.post("/admin/login", phone=PLAIN).status_code == 302
    page = outsider.get("/admin/login/code")
    assert page.status_code == 200 and "If +7 999 555-00-03 is a staff number" in page.text
    assert "the code is" not in page.text and sms == []
    refused = outsider.post("/admin/login/code", code="1234", authenticator="123456")
    assert refused.status_code == 422


def test_a_wrong_authenticator_code_is_refused_and_leaves_the_sms_code_unspent(client, runner, clock):
    member = StaffBrowser(client, runner, ADMIN, "admin")
    code = member.ask_for_code()
    wrong = str((int(member.authenticator_code(clock)) + 1) % 1_000_000).zfill(6)
    refused = member.post("/admin/login/code", code=code, authenticator=wrong)
    assert refused.status_code == 422
    assert 'id="authenticator-error"' in refused.text and 'aria-invalid="true"' in refused.text
    assert db.session.scalar(select(PhoneLockout.failures).where(PhoneLockout.phone == ADMIN)) == 1
    right = member.authenticator_code(clock)
    assert member.post("/admin/login/code", code=code, authenticator=right).status_code == 302


def test_an_authenticator_code_is_taken_once(client, runner, clock):
    member = StaffBrowser(client, runner, ADMIN, "admin")
    totp = member.authenticator_code(clock)
    assert member.sign_in_to_console(clock, totp).status_code == 302
    clock.advance(seconds=61)  # a new SMS code may be asked for; the authenticator's step is still in its window
    replayed = member.sign_in_to_console(clock, totp)
    assert replayed.status_code == 422 and "was used already" in replayed.text


def test_an_expired_authenticator_code_is_refused(client, runner, clock):
    member = StaffBrowser(client, runner, ADMIN, "admin")
    old = member.authenticator_code(clock)
    clock.advance(seconds=95)  # three steps on: outside the drift allowed
    assert member.sign_in_to_console(clock, old).status_code == 422


def test_a_console_session_ends_after_30_idle_minutes(admin, clock):
    clock.advance(minutes=29)
    assert admin.get("/admin/users").status_code == 200
    clock.advance(minutes=29)  # used a moment ago: still alive
    assert admin.get("/admin/users").status_code == 200
    clock.advance(minutes=31)
    assert admin.get("/admin/users").status_code == 404
    assert admin.get("/admin/").headers["Location"].endswith("/admin/login")


def test_a_console_session_ends_8_hours_after_sign_in_however_busy(admin, clock):
    for _ in range(16):
        clock.advance(minutes=29)
        assert admin.get("/admin/audit").status_code == 200
    clock.advance(minutes=29)  # 8 h 13 min after sign-in
    assert admin.get("/admin/audit").status_code == 404


def test_revoking_staff_ends_their_console_session_at_once(admin, runner):
    result = runner.invoke(args=["staff", "revoke", ADMIN])
    assert result.exit_code == 0, result.output
    assert admin.get("/admin/users").status_code == 404
    assert db.session.scalar(select(func.count()).select_from(ConsoleSession)) == 0
    assert db.session.get(User, db.session.scalar(select(User.id).where(User.phone == ADMIN))) is not None


def test_signing_out_ends_the_console_session(admin):
    token = admin.csrf()
    page = admin.post("/admin/logout", csrf_token=token)
    assert page.status_code == 302 and page.headers["Location"].endswith("/admin/login")
    assert admin.get("/admin/users").status_code == 404
    assert actions()[-1] == "console.signed_out"


def test_console_forms_need_their_csrf_token(admin, customer):
    response = admin.client.post(f"/admin/users/{customer.id}/sessions/revoke", data={"reason": "x"})
    assert response.status_code == 400
    assert db.session.scalar(select(func.count()).select_from(AuthSession).where(AuthSession.revoked_at.is_(None))) == 2


# The roles


READS = ["/admin/", "/admin/users", "/admin/users?q=555", "/admin/audit"]


@pytest.mark.parametrize("url", READS)
def test_support_and_admin_read_everything(admin, support_agent, url):
    assert admin.get(url).status_code == 200
    assert support_agent.get(url).status_code == 200


def test_only_admins_see_the_staff(admin, support_agent):
    page = admin.get("/admin/staff")
    assert page.status_code == 200 and "+7 999 555-00-02" in page.text and "support" in page.text
    assert support_agent.get("/admin/staff").status_code == 403


@pytest.mark.parametrize("role", ["support", "admin"])
def test_support_and_admin_end_a_users_sessions_with_a_reason_and_one_audit_entry(admin, support_agent, customer, role):
    member = admin if role == "admin" else support_agent
    member.get(f"/admin/users/{customer.id}")
    before = audit_count()
    refused = member.post(f"/admin/users/{customer.id}/sessions/revoke", reason="")
    assert refused.status_code == 302 and audit_count() == before  # no reason, nothing done
    assert "Say why" in member.get(f"/admin/users/{customer.id}").text
    before = audit_count()
    done = member.post(f"/admin/users/{customer.id}/sessions/revoke", reason="lost phone, ticket 42")
    assert done.status_code == 302
    live = (
        select(func.count())
        .select_from(AuthSession)
        .where(AuthSession.user_id == customer.id, AuthSession.revoked_at.is_(None))
    )
    assert db.session.scalar(live) == 0
    entry = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert audit_count() == before + 1
    assert (entry.action, entry.subject_id) == ("user.sessions_revoked", customer.id)
    assert entry.reason == "lost phone, ticket 42"
    assert entry.staff_phone == member.phone and entry.address is not None


def test_ending_one_session_of_a_user(support_agent, customer):
    page = support_agent.get(f"/admin/users/{customer.id}")
    session_id = re.search(rf"/admin/users/{customer.id}/sessions/([0-9a-f]+)/revoke", page.text).group(1)
    before = audit_count()
    support_agent.post(f"/admin/users/{customer.id}/sessions/{session_id}/revoke", reason="asked by phone")
    assert db.session.get(AuthSession, session_id).revoked_at is not None
    assert audit_count() == before + 1
    again = support_agent.post(f"/admin/users/{customer.id}/sessions/{session_id}/revoke", reason="twice")
    assert again.status_code == 302 and "already ended" in support_agent.get(f"/admin/users/{customer.id}").text


def test_support_lifts_a_lockout(support_agent, customer, clock, api, app):
    app.config["OTP_LOCKOUT_FAILURES"] = 3
    clock.advance(seconds=61)
    right = api.request_code(PLAIN)
    for _ in range(3):
        wrong = str((int(right) + 1) % 10_000).zfill(4)
        api.client.post("/api/v1/auth/token", json={"phone": PLAIN, "code": wrong})
    page = support_agent.get(f"/admin/users/{customer.id}")
    assert "The phone is locked" in page.text
    before = audit_count()
    support_agent.post(f"/admin/users/{customer.id}/lockout/lift", reason="")
    assert audit_count() == before + 1 and actions()[-1] == "user.lockout_lifted"
    assert "Not locked." in support_agent.get(f"/admin/users/{customer.id}").text
    clock.advance(seconds=61)
    assert api.client.post("/api/v1/auth/code", json={"phone": PLAIN}).status_code == 202


def test_opening_a_user_shows_the_whole_phone_and_is_recorded(support_agent, customer):
    listing = support_agent.get("/admin/users?q=0003")
    assert "+7 999 ***-**-03" in listing.text and "+7 999 555-00-03" not in listing.text  # masked in lists
    before = audit_count()
    page = support_agent.get(f"/admin/users/{customer.id}")
    assert "+7 999 555-00-03" in page.text
    assert audit_count() == before + 1 and actions()[-1] == "user.viewed"


def test_a_users_file_names_what_each_code_was_for_and_where_its_sms_is_in_words(support_agent, customer):
    """The codes the data keeps (login, sent) are shown in the page's language, not as stored."""
    codes = re.compile(r'<h2 id="codes">.*?</table>', re.S)
    english = codes.search(support_agent.get(f"/admin/users/{customer.id}").text).group(0)
    assert "<td>Sign\u2011in</td>" in english and "<td>login</td>" not in english  # a non-breaking hyphen
    assert re.search(r"<td>(Queued|Retrying|Sent|Failed)</td></tr>", english)
    support_agent.get("/lang/ru")
    russian = codes.search(support_agent.get(f"/admin/users/{customer.id}").text).group(0)
    assert "<td>Вход</td>" in russian
    assert re.search(r"<td>(В очереди|Повторяется|Отправлено|Не доставлено)</td></tr>", russian)


def test_an_unknown_user_is_an_unknown_page(support_agent):
    assert support_agent.get("/admin/users/999999").status_code == 404
    assert support_agent.post("/admin/users/999999/lockout/lift").status_code == 302


def test_users_are_found_by_digits_code_or_name_with_filters(admin, api):
    anna = api.sign_in("+79991110001")
    api.client.patch("/api/v1/profile", json={"first_name": "Anna", "last_name": "Petrova"}, headers=anna["headers"])
    code = api.profile(anna)["invite_code"]
    api.sign_in("+79991110002", invite_code=code)
    found = admin.get("/admin/users?q=1110002").text
    assert "+7 999 ***-**-02" in found and "+7 999 ***-**-01" not in found
    assert "Anna Petrova" in admin.get(f"/admin/users?q={code.lower()}").text
    assert "Anna Petrova" in admin.get("/admin/users?q=petro").text
    invited = admin.get("/admin/users?invited=yes").text
    assert "+7 999 ***-**-02" in invited and "+7 999 ***-**-01" not in invited
    by_anna = admin.get(f"/admin/users?invited_by={anna['user']['id']}").text
    assert "+7 999 ***-**-02" in by_anna and "Nobody matches." in admin.get("/admin/users?until=2001-01-01").text


# The audit log


def test_the_audit_log_is_shown_and_cannot_be_changed(admin):
    page = admin.get("/admin/audit")
    assert "console.signed_in" in page.text and "<form" not in page.text.split("<main", 1)[1].split("</main>")[0]
    with pytest.raises(DatabaseError, match="append-only"):
        with db.session.begin_nested():
            db.session.execute(text("UPDATE audit_log SET reason = 'edited'"))
    with pytest.raises(DatabaseError, match="append-only"):
        with db.session.begin_nested():
            db.session.execute(text("DELETE FROM audit_log"))
    assert audit_count() == 1


def test_staff_are_granted_listed_and_revoked_from_the_shell(runner):
    granted = runner.invoke(args=["staff", "grant", "8 999 555 00 09", "--role", "support"])
    assert granted.exit_code == 0 and "otpauth://totp/" in granted.output and "█" in granted.output
    again = runner.invoke(args=["staff", "grant", "+79995550009", "--role", "admin"])
    assert "unchanged" in again.output
    listed = runner.invoke(args=["staff", "list"])
    assert "+79995550009" in listed.output and "admin" in listed.output
    assert db.session.scalar(select(func.count()).select_from(Staff)) == 1
    assert runner.invoke(args=["staff", "revoke", "+79995550009"]).exit_code == 0
    assert runner.invoke(args=["staff", "revoke", "+79995550009"]).exit_code == 1


def test_a_users_file_has_their_tree_by_depth_and_the_events_about_them(support_agent, api, app):
    app.config["WEBHOOK_URLS"] = [("https://crm.example/in", ("user.created", "referral.activated"))]
    root = api.sign_in("+79995580001")
    child = api.sign_in("+79995580002", invite_code=api.profile(root)["invite_code"])
    child_code = api.profile(child)["invite_code"]
    api.sign_in("+79995580003", invite_code=child_code)
    api.sign_in("+79995580004", invite_code=child_code)
    page = support_agent.get(f"/admin/users/{root['user']['id']}?depth=2")
    levels = re.findall(r"<tr><td>(\d+)</td><td class=\"number\">(\d+)</td></tr>", page.text)
    assert levels == [("1", "1"), ("2", "2")]
    assert "user.created" in page.text and "referral.activated" in page.text
    assert re.findall(r"<tr><td>(\d+)</td>", support_agent.get(f"/admin/users/{root['user']['id']}?depth=1").text)[
        :1
    ] == ["1"]


def test_admins_grant_and_revoke_staff_in_the_console(admin, client, runner, clock):
    page = admin.post("/admin/staff", phone="+7 999 555-00-07", role="support")
    assert page.status_code == 200 and "otpauth://totp/" in page.text and "<svg" in page.text  # shown once
    assert actions()[-1] == "staff.granted"
    assert "otpauth://totp/" not in admin.get("/admin/staff").text
    member = db.session.scalar(select(Staff.user_id).join(User).where(User.phone == "+79995550007"))
    secret = re.search(r"secret=([A-Z2-7]+)", page.text).group(1)
    newcomer = StaffBrowser.__new__(StaffBrowser)
    Browser.__init__(newcomer, client, "+79995550007")
    newcomer.secret = secret
    assert newcomer.sign_in_to_console(clock).status_code == 302
    refused = admin.post(f"/admin/staff/{member}/revoke", reason="")
    assert refused.status_code == 302 and newcomer.get("/admin/users").status_code == 200
    admin.post(f"/admin/staff/{member}/revoke", reason="left the team")
    assert actions()[-1] == "staff.revoked" and newcomer.get("/admin/users").status_code == 404
    own = db.session.scalar(select(Staff.user_id).join(User).where(User.phone == ADMIN))
    before = audit_count()
    admin.post(f"/admin/staff/{own}/revoke", reason="oops")
    assert audit_count() == before and admin.get("/admin/staff").status_code == 200
