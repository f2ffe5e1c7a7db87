"""The console's overview: every figure equals what a plain COUNT over the raw rows says, rolled up or not,
with link visits, every channel, and deleted users."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from referral.domain import account, programme
from referral.extensions import db
from referral.infra import programme_figures
from referral.infra.models import LINK_VISIT_SLOTS, InviteLinkVisit, InviteLinkVisitDay, SmsSend, User
from tests.console.test_console import ADMIN, StaffBrowser
from tests.web.test_pages import Browser


def raw_counts(first, last) -> dict[str, int]:
    """The figures of the days [first, last], counted the plain way."""
    start, end = programme.start_of(first), programme.start_of(last + timedelta(days=1))

    def count(*where) -> int:
        return db.session.scalar(select(func.count()).select_from(User).where(*where))

    joined = (User.created_at >= start, User.created_at < end)
    invited = (User.invited_at >= start, User.invited_at < end)
    return {
        "signups_organic": count(*joined, (User.invite_channel.is_(None)) | (User.invite_channel == "code_later")),
        "signups_referred": count(*joined, User.invite_channel.in_(["link", "code_at_signup"])),
        "activations_link": count(*invited, User.invite_channel == "link"),
        "activations_code_at_signup": count(*invited, User.invite_channel == "code_at_signup"),
        "activations_code_later": count(*invited, User.invite_channel == "code_later"),
        "link_visits": db.session.scalar(
            select(func.coalesce(func.sum(InviteLinkVisit.visits), 0)).where(
                InviteLinkVisit.day >= first, InviteLinkVisit.day <= last
            )
        ),
        "sms_sent": db.session.scalar(
            select(func.count()).select_from(SmsSend).where(SmsSend.sent_at >= start, SmsSend.sent_at < end)
        ),
        "sms_failed": db.session.scalar(
            select(func.count())
            .select_from(SmsSend)
            .where(SmsSend.sent_at >= start, SmsSend.sent_at < end, SmsSend.status == "failed")
        ),
    }


@pytest.fixture
def programme_of_three_days(client, api, clock):
    """Three days of sign-ups: through links (a browser counted once a day), typed codes at sign-up and later,
    organic ones, a deleted inviter and a deleted invitee, and a failed SMS."""
    anna = api.sign_in("+79991200001")
    code = api.profile(anna)["invite_code"]
    for day in range(3):
        visitor = Browser(client, f"+7999121{day:04d}")
        visitor.get(f"/i/{code}")
        visitor.get(f"/i/{code.lower()}")  # the same browser again the same day: one visit
        Browser(client, f"+7999122{day:04d}").get(f"/i/{code}")  # a visitor who does not sign up
        visitor.sign_in()
        api.sign_in(f"+7999123{day:04d}", invite_code=code)
        later = api.sign_in(f"+7999124{day:04d}")
        entered = api.client.post("/api/v1/profile/invite", json={"invite_code": code}, headers=later["headers"])
        assert entered.status_code == 200, entered.json
        api.sign_in(f"+7999125{day:04d}")
        clock.advance(days=1)
    boris = api.sign_in("+79991260001", invite_code=code)
    api.sign_in("+79991260002", invite_code=api.profile(boris)["invite_code"])
    account.delete_account(account.account_by_phone("+79991260001"))  # his referral is detached: organic now
    db.session.execute(SmsSend.__table__.update().where(SmsSend.phone == "+79991250000").values(status="failed"))
    db.session.commit()
    return code


def figures_of(overview) -> dict[str, int]:
    return overview.totals._asdict()


@pytest.mark.parametrize("rolled_up", [False, True], ids=["counted-now", "rolled-up"])
def test_every_figure_equals_a_plain_count_of_the_raw_rows(programme_of_three_days, clock, rolled_up):
    if rolled_up:
        clock.advance(days=1)
        programme.roll_up()
        clock.advance(hours=1)
    overview = programme.overview(7)
    last = programme.today()
    assert figures_of(overview) == raw_counts(last - timedelta(days=6), last)
    assert (overview.rolled_up_at is not None) == rolled_up
    for day in overview.days:
        assert day.figures._asdict() == raw_counts(day.day, day.day), day.day
    totals = overview.totals
    assert totals.link_visits == 6  # two visitors a day, each counted once
    assert totals.activations_link == 3 and totals.activations_code_later == 3
    assert overview.viral_coefficient == overview.activations / overview.signups


def test_a_deletion_after_the_roll_up_shows_at_the_next_one(programme_of_three_days, api, clock):
    clock.advance(days=1)
    programme.roll_up()
    referred = db.session.scalars(select(User).where(User.invite_channel == "code_at_signup")).first()
    first, last = programme.today() - timedelta(days=6), programme.today()
    db.session.delete(referred)
    db.session.commit()
    assert programme.overview(7).totals.signups_referred == raw_counts(first, last)["signups_referred"] + 1
    programme.roll_up()
    assert figures_of(programme.overview(7)) == raw_counts(first, last)


def test_today_rolled_up_minutes_ago_is_the_roll_up_plus_what_came_after(programme_of_three_days, api, clock):
    """The roll-up counts today up to a few minutes before it ran; the overview counts the rest live, a row that
    a transaction open during the roll-up committed after it included."""
    rolled_at = clock.now
    programme.roll_up()
    saved = {row.day: row for row in programme_figures.saved_days(programme.today(), programme.today())}
    assert saved[programme.today()].counted_until == max(
        programme.start_of(programme.today()), rolled_at - programme.SETTLING
    )
    clock.advance(minutes=1)
    api.sign_in("+79991270001", invite_code=programme_of_three_days)
    late = api.sign_in("+79991270002")  # stamped before the roll-up, committed after it
    db.session.execute(
        User.__table__.update().where(User.phone == "+79991270002").values(created_at=rolled_at - timedelta(minutes=2))
    )
    db.session.commit()
    assert late
    last = programme.today()
    overview = programme.overview(7)
    assert overview.rolled_up_at == rolled_at
    for day in overview.days:
        assert day.figures._asdict() == raw_counts(day.day, day.day), day.day
    assert figures_of(overview) == raw_counts(last - timedelta(days=6), last)


def test_a_day_rolled_up_after_it_settled_is_read_whole(programme_of_three_days, api, clock):
    clock.now = programme.start_of(programme.today() + timedelta(days=1)) + programme.SETTLING
    programme.roll_up()
    yesterday = programme.today() - timedelta(days=1)
    (saved,) = programme_figures.saved_days(yesterday, yesterday)
    assert saved.counted_until == programme.start_of(programme.today())
    assert saved.figures._asdict() == raw_counts(yesterday, yesterday)


def test_top_referrers_come_from_the_roll_up(programme_of_three_days):
    programme.roll_up()
    top = programme.overview(30).top_referrers
    assert top[0].phone == "+79991200001" and top[0].referrals == 9  # ten, one of them deleted


def test_the_overview_draws_charts_with_their_numbers_beside_them(programme_of_three_days, client, runner, clock):
    admin = StaffBrowser(client, runner, ADMIN, "admin")
    admin.sign_in_to_console(clock)
    for days in (7, 30, 90):
        page = admin.get(f"/admin/?days={days}")
        assert page.status_code == 200
        assert page.text.count('<svg class="chart"') == 3 and page.text.count("<table>") >= 3
    page = admin.get("/admin/?days=7")
    assert "Invite-link visits" in page.text and "viral coefficient" in page.text
    assert "<script>" not in page.text and "style=" not in page.text
    ru = admin.get("/lang/ru?next=/admin/", follow_redirects=True)
    assert "Регистрации" in ru.text


def test_the_rollup_command_says_how_long_it_took(runner):
    result = runner.invoke(args=["console", "rollup", "--days", "3"])
    assert result.exit_code == 0 and "rolled up 3 days in" in result.output


def test_the_rollup_runs_as_a_worker_loop_with_every(runner, worker_loop):
    """Compose's rollup service: `flask console rollup --every 300`, again and again until stopped."""
    pauses = worker_loop(2)
    result = runner.invoke(args=["console", "rollup", "--days", "2", "--every", "300"])
    assert pauses == [300, 300] and result.output.count("rolled up 2 days in") == 2
    assert runner.invoke(args=["console", "rollup", "--every", "5"]).exit_code == 2  # a minute at the least


def test_a_days_link_visits_are_summed_from_sixteen_shares_and_outlive_a_deleted_owner(client, api):
    """The overview sums a day's visits from its shares, not from one row per link visited that day; a link's
    visits stay counted when its owner goes: the visits happened, and no share names anyone."""
    codes = [api.profile(api.sign_in(f"+799913{n:05d}"))["invite_code"] for n in range(20)]
    for n, code in enumerate(codes):
        Browser(client, f"+799914{n:05d}").get(f"/i/{code}")

    shares = db.session.scalars(select(InviteLinkVisitDay).where(InviteLinkVisitDay.day == programme.today())).all()
    assert 0 < len(shares) <= LINK_VISIT_SLOTS
    assert sum(share.visits for share in shares) == 20
    assert programme.overview(7).totals.link_visits == 20

    account.delete_account(account.account_by_phone("+79991300000"))
    assert programme.overview(7).totals.link_visits == 20
