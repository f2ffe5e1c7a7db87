"""Every console address and action, for each kind of visitor: the public, a user signed in on the pages, a
support agent and an admin. Reads are for staff; what changes people is for the roles that may."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from referral.extensions import db
from referral.infra.models import Staff, User
from tests.console.test_console import PLAIN, StaffBrowser, audit_count
from tests.web.test_pages import Browser

# (method, address, what support gets, what an admin gets); {user} is a customer, {member} a staff member.
MATRIX = [
    ("GET", "/admin/", 200, 200),
    ("GET", "/admin/?days=90", 200, 200),
    ("GET", "/admin/users", 200, 200),
    ("GET", "/admin/users?q=0003&invited=no", 200, 200),
    ("GET", "/admin/users/{user}", 200, 200),
    ("GET", "/admin/deliveries", 200, 200),
    ("GET", "/admin/audit", 200, 200),
    ("GET", "/admin/staff", 403, 200),
    ("GET", "/admin/reviews", 200, 200),
    ("GET", "/admin/rewards", 200, 200),
    ("GET", "/admin/rewards?status=earned&flagged=1&before=9", 200, 200),
    ("GET", "/admin/rules", 200, 200),
    ("POST", "/admin/reviews/{user}/approve", 302, 302),  # not held: refused in words, on the queue
    ("POST", "/admin/reviews/{user}/void", 302, 302),
    ("POST", "/admin/rewards/999999/fulfil", 302, 302),
    ("POST", "/admin/users/{user}/referral/void", 403, 302),
    ("POST", "/admin/users/{user}/trust", 403, 302),
    ("POST", "/admin/users/{user}/distrust", 403, 302),
    ("POST", "/admin/rules", 403, 302),
    ("POST", "/admin/rules/999999/switch", 403, 302),
    ("POST", "/admin/users/{user}/sessions/revoke", 302, 302),
    ("POST", "/admin/users/{user}/sessions/0123456789abcdef/revoke", 302, 302),
    ("POST", "/admin/users/{user}/lockout/lift", 302, 302),
    ("POST", "/admin/webhooks/nothing/replay", 302, 302),
    ("POST", "/admin/webhooks/endpoints/enable", 302, 302),
    ("POST", "/admin/users/{user}/block", 403, 302),
    ("POST", "/admin/users/{user}/unblock", 403, 302),
    ("POST", "/admin/users/{user}/referral/undo", 403, 302),
    ("POST", "/admin/users/{user}/delete", 403, 302),
    ("POST", "/admin/users.csv", 403, 200),
    ("POST", "/admin/staff", 403, 400),  # an admin's form without a role is a bad request
    ("POST", "/admin/staff/{member}/revoke", 403, 302),
    ("POST", "/admin/logout", 302, 302),
]


@pytest.fixture
def people(client, runner, api, clock):
    api.sign_in(PLAIN)
    visitors = {"public": Browser(client, "+79995590001"), "user": Browser(client, PLAIN)}
    visitors["user"].sign_in()
    for name, phone, role in (("support", "+79995590002", "support"), ("admin", "+79995590003", "admin")):
        visitors[name] = StaffBrowser(client, runner, phone, role)
        assert visitors[name].sign_in_to_console(clock).status_code == 302
    ids = {
        "user": db.session.scalar(select(User.id).where(User.phone == PLAIN)),
        "member": db.session.scalar(select(Staff.user_id).join(User).where(User.phone == "+79995590002")),
    }
    return visitors, ids


@pytest.mark.parametrize(("method", "address", "support", "admin"), MATRIX, ids=[f"{m} {a}" for m, a, _, _ in MATRIX])
def test_who_may_reach_what(people, method, address, support, admin):
    visitors, ids = people
    url = address.format(**ids)
    for name, expected in (("public", None), ("user", None), ("support", support), ("admin", admin)):
        person = visitors[name]
        before = audit_count()
        if method == "GET":
            response = person.get(url)
        else:
            token = person.csrf() if name in ("support", "admin") else "no-token"
            response = person.post(url, csrf_token=token, reason="the matrix")
        response.get_data()  # a streamed answer (the CSV) is read to its end inside the test
        status = response.status_code
        if expected is None:  # outsiders: the overview sends them to sign in, everything else is unknown
            assert status == (302 if url.startswith("/admin/?") or url == "/admin/" else 404), (name, url)
            assert audit_count() == before, (name, url)
        else:
            assert status == expected, (name, url, status)
            if expected == 403:
                assert audit_count() == before, (name, url)
