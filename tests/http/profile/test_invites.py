"""POST /api/v1/profile/invite: enter someone's invite code, once."""

import pytest
from sqlalchemy import func, select, text

from referral.clock import utcnow
from referral.extensions import db
from referral.infra.models import User
from tests.conftest import run_together

URL = "/api/v1/profile/invite"


@pytest.fixture
def people(api):
    """Four signed-in users, by name."""
    return {name: api.sign_in(f"+7999000000{n}") for n, name in enumerate(["anna", "boris", "vera", "gleb"], 1)}


def enter(client, who, whose_code_owner):
    return client.post(URL, headers=who["headers"], json={"invite_code": whose_code_owner["user"]["invite_code"]})


def test_entering_a_code_links_the_users_and_answers_the_profile(client, api, people):
    response = enter(client, people["boris"], people["anna"])
    assert response.status_code == 200
    assert response.json["activated_invite_code"] == people["anna"]["user"]["invite_code"]
    assert response.json["invited_at"] is not None
    anna = api.profile(people["anna"])
    assert anna["referrals"] == ["+79990000002"]
    assert anna["referrals_count"] == 1


def test_a_code_is_found_in_any_case_and_answered_as_it_was_issued(client, people):
    code = people["anna"]["user"]["invite_code"]
    typed = f"  {code.lower()} "
    response = client.post(URL, headers=people["boris"]["headers"], json={"invite_code": typed})
    assert response.status_code == 200, response.json
    assert response.json["activated_invite_code"] == code


def test_new_codes_are_upper_case_letters_and_digits_without_look_alikes(api):
    codes = {api.sign_in(f"+7999100000{n}")["user"]["invite_code"] for n in range(8)}
    assert all(set(code) <= set("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") and len(code) == 6 for code in codes)


@pytest.fixture
def two_older_codes_differing_in_case(user_factory):
    """Codes issued before codes were upper case: two that differ only in case, and one alone."""
    return {code: user_factory(invite_code=code) for code in ("abCDef", "ABcdEF", "xyZwvu")}


@pytest.mark.parametrize(
    ("typed", "found"),
    [
        ("abCDef", "abCDef"),  # the exact spelling wins
        ("ABcdEF", "ABcdEF"),
        ("abcdef", None),  # fits both ignoring case, neither exactly: nobody's
        ("XYZWVU", "xyZwvu"),  # fits one ignoring case: that one
    ],
)
def test_older_codes_that_differ_only_in_case_are_found_by_their_exact_spelling(
    client, people, two_older_codes_differing_in_case, typed, found
):
    response = client.post(URL, headers=people["boris"]["headers"], json={"invite_code": typed})
    if found is None:
        assert response.status_code == 404
        assert response.json["code"] == "invite_code_not_found"
    else:
        assert response.status_code == 200, response.json
        assert response.json["activated_invite_code"] == found


def test_a_sign_up_with_a_code_typed_in_lower_case_is_invited_and_shows_the_code_as_issued(client, api, people):
    code = people["anna"]["user"]["invite_code"]
    signed = api.sign_in("+79991000099", invite_code=code.lower())
    assert signed["user"]["activated_invite_code"] == code
    assert api.profile(people["anna"])["referrals"] == ["+79991000099"]


def test_surrounding_spaces_are_ignored(client, people):
    code = people["anna"]["user"]["invite_code"]
    response = client.post(URL, headers=people["boris"]["headers"], json={"invite_code": f"  {code} "})
    assert response.status_code == 200


def test_an_unknown_code_is_404(client, people):
    response = client.post(URL, headers=people["boris"]["headers"], json={"invite_code": "ZZZZZZ"})
    assert response.status_code == 404
    assert response.json["code"] == "invite_code_not_found"


def test_a_code_can_be_entered_only_once(client, api, people):
    enter(client, people["boris"], people["anna"])
    response = enter(client, people["boris"], people["vera"])
    assert response.status_code == 409
    assert response.json["code"] == "invite_already_activated"
    assert api.profile(people["vera"])["referrals_count"] == 0
    assert api.profile(people["boris"])["activated_invite_code"] == people["anna"]["user"]["invite_code"]


def test_the_same_code_twice_is_still_409(client, people):
    enter(client, people["boris"], people["anna"])
    assert enter(client, people["boris"], people["anna"]).status_code == 409


def test_your_own_code_is_refused(client, people):
    response = enter(client, people["anna"], people["anna"])
    assert response.status_code == 422
    assert response.json["code"] == "invite_code_own"


def test_a_direct_loop_is_refused(client, people):
    enter(client, people["boris"], people["anna"])  # anna invited boris
    response = enter(client, people["anna"], people["boris"])
    assert response.status_code == 422
    assert response.json["code"] == "invite_cycle"


def test_a_loop_three_levels_deep_is_refused(client, api, people):
    enter(client, people["boris"], people["anna"])  # anna -> boris
    enter(client, people["vera"], people["boris"])  # boris -> vera
    enter(client, people["gleb"], people["vera"])  # vera -> gleb
    response = enter(client, people["anna"], people["gleb"])
    assert response.status_code == 422
    assert response.json["code"] == "invite_cycle"
    assert api.profile(people["anna"])["activated_invite_code"] is None


def test_entering_a_code_from_another_branch_of_the_tree_is_fine(client, people):
    enter(client, people["boris"], people["anna"])  # anna -> boris
    enter(client, people["vera"], people["anna"])  # anna -> vera
    assert enter(client, people["gleb"], people["boris"]).status_code == 200  # boris -> gleb
    # gleb's inviter chain is boris, anna: vera is not in it, so vera may not... vera already has anna
    assert enter(client, people["vera"], people["gleb"]).status_code == 409


def test_a_long_chain_is_checked_to_its_root(client, api, user_factory):
    root = api.sign_in("+79990000001")
    previous = db.session.get(User, root["user"]["id"])
    for _ in range(200):
        previous = user_factory.invited_by(previous)
    response = client.post(URL, headers=root["headers"], json={"invite_code": previous.invite_code})
    assert response.status_code == 422
    assert response.json["code"] == "invite_cycle"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"invite_code": ""},
        {"invite_code": "a" * 33},
        {"invite_code": 123456},
        {"invite_code": "abc def"},
        {"invite_code": "Zy8WqP", "extra": True},
    ],
)
def test_malformed_bodies_are_validation_errors(client, people, body):
    response = client.post(URL, headers=people["anna"]["headers"], json=body)
    assert response.status_code == 422
    assert response.json["code"] == "validation_error"


def test_the_referral_counter_matches_the_rows(client, people):
    for name in ("boris", "vera", "gleb"):
        enter(client, people[name], people["anna"])
    anna = db.session.get(User, people["anna"]["user"]["id"])
    db.session.refresh(anna)
    real = db.session.scalar(select(func.count()).select_from(User).where(User.invited_by_id == anna.id))
    assert anna.referrals_count == real == 3


@pytest.mark.committing
def test_concurrent_activations_by_one_user_have_exactly_one_winner(app, api, postgres_only):
    inviters = [api.sign_in(f"+7999100000{n}") for n in range(6)]
    me = api.sign_in("+79992000000")
    results = enter_together(
        app, [(me["headers"], {"invite_code": inviter["user"]["invite_code"]}) for inviter in inviters]
    )
    assert sorted(results) == [200] + [409] * 5
    counts = db.session.scalars(select(User.referrals_count).where(User.phone.like("+7999100000%"))).all()
    assert sorted(counts) == [0] * 5 + [1]


@pytest.mark.committing
def test_two_users_entering_each_others_codes_at_once_never_make_a_loop(app, api, postgres_only):
    for round_ in range(5):
        anna = api.sign_in(f"+79993{round_}00001")
        boris = api.sign_in(f"+79993{round_}00002")
        results = enter_together(
            app,
            [
                (anna["headers"], {"invite_code": boris["user"]["invite_code"]}),
                (boris["headers"], {"invite_code": anna["user"]["invite_code"]}),
            ],
        )
        assert sorted(results) == [200, 422]


@pytest.mark.committing
def test_two_activations_that_would_close_a_loop_through_each_other_s_trees_never_do(app, api, postgres_only):
    for round_ in range(5):
        anna = api.sign_in(f"+79994{round_}00001")
        boris = api.sign_in(f"+79994{round_}00002")
        annas = api.sign_in(f"+79994{round_}00003", invite_code=anna["user"]["invite_code"])  # in anna's tree
        boriss = api.sign_in(f"+79994{round_}00004", invite_code=boris["user"]["invite_code"])  # in boris's
        results = enter_together(
            app,
            [
                (anna["headers"], {"invite_code": boriss["user"]["invite_code"]}),  # anna joins boris's tree
                (boris["headers"], {"invite_code": annas["user"]["invite_code"]}),  # boris joins anna's
            ],
        )
        assert sorted(results) == [200, 422]


@pytest.mark.committing
def test_activations_into_different_trees_do_not_wait_for_each_other(app, api, postgres_only):
    from sqlalchemy import text

    from referral.domain import invites
    from referral.infra import referral_tree

    anna, boris, vera, gleb = (api.sign_in(f"+7999500000{n}") for n in range(1, 5))
    db.session.commit()
    with db.engine.connect() as other:  # another transaction holds the locks of anna's and boris's trees
        other.begin()
        for tree in (anna["user"]["id"], boris["user"]["id"]):
            other.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": referral_tree.tree_lock_key(tree)})
        db.session.execute(text("SET LOCAL lock_timeout = '2s'"))
        # vera joins gleb's tree: neither lock is hers, so she does not wait
        joined = invites.activate_invite(vera["user"]["id"], vera["user"]["phone"], gleb["user"]["invite_code"])
        assert joined.inviter["id"] == gleb["user"]["id"]
        other.rollback()


@pytest.mark.committing
def test_activations_into_one_tree_do_not_wait_for_each_other(app, api, postgres_only):
    from sqlalchemy import text

    from referral.domain import invites
    from referral.infra import referral_tree

    anna, boris, vera = (api.sign_in(f"+7999600000{n}") for n in range(1, 4))
    db.session.commit()
    with db.engine.connect() as other:  # boris is joining anna's tree in another transaction, still open
        other.begin()
        other.execute(
            text("SELECT pg_advisory_xact_lock(:key)"), {"key": referral_tree.tree_lock_key(boris["user"]["id"])}
        )
        other.execute(
            text("SELECT pg_advisory_xact_lock_shared(:key)"), {"key": referral_tree.tree_lock_key(anna["user"]["id"])}
        )
        db.session.execute(text("SET LOCAL lock_timeout = '2s'"))
        # vera joins anna's tree too: she shares the tree's lock with boris and does not wait for him
        joined = invites.activate_invite(vera["user"]["id"], vera["user"]["phone"], anna["user"]["invite_code"])
        assert joined.inviter["id"] == anna["user"]["id"]
        other.rollback()


def test_an_activation_whose_tree_root_moved_since_it_was_read_locks_the_new_root_and_goes_through(
    client, people, postgres_only, queries
):
    from referral.domain import invites

    anna, boris, vera = people["anna"], people["boris"], people["vera"]
    assert enter(client, boris, anna).status_code == 200  # boris, once a root, is now in anna's tree
    stale_root = boris["user"]["id"]
    sent = queries.during(lambda: invites.join_tree(vera["user"]["id"], boris["user"]["id"], stale_root, utcnow()))
    locks = [statement for statement in sent if "pg_advisory_xact_lock" in statement]
    assert len(locks) == 3  # vera's and boris's first (one statement each), then anna's, the root found under them
    assert db.session.get(User, vera["user"]["id"]).invited_by_id == boris["user"]["id"]


def test_an_activation_locks_its_trees_under_the_keys_join_tree_takes(client, people, postgres_only):
    """The locks taken in SQL with the chain are the ones ``join_tree`` takes from Python when a root moves:
    the user's tree exclusively, the inviter's tree (named by its root) shared."""
    from referral.infra.referral_tree import tree_lock_key as _tree_lock_key

    def held():  # by the test's transaction, which every request of the test runs inside, until its end
        locks = db.session.execute(
            text(
                "SELECT mode, (classid::bigint << 32) | objid::bigint FROM pg_locks "
                "WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
            )
        )
        trees = {_tree_lock_key(person["user"]["id"]) for person in people.values()}  # not the phones' locks
        return {(mode, key) for mode, key in locks if key in trees}  # the shift wraps: signed, as join_tree's

    anna, boris, vera = (people[name]["user"]["id"] for name in ("anna", "boris", "vera"))
    assert enter(client, people["boris"], people["anna"]).status_code == 200
    assert held() == {("ExclusiveLock", _tree_lock_key(boris)), ("ShareLock", _tree_lock_key(anna))}
    assert enter(client, people["vera"], people["boris"]).status_code == 200  # boris's tree is anna's
    assert held() == {
        ("ExclusiveLock", _tree_lock_key(boris)),
        ("ShareLock", _tree_lock_key(anna)),
        ("ExclusiveLock", _tree_lock_key(vera)),
    }


def test_an_activation_whose_moved_root_would_close_a_loop_is_refused(client, people, postgres_only):
    from referral.domain import invites
    from referral.domain.errors import InviteCycle

    anna, boris, vera = people["anna"], people["boris"], people["vera"]
    assert enter(client, anna, vera).status_code == 200  # anna is in vera's tree now
    assert enter(client, boris, anna).status_code == 200
    with pytest.raises(InviteCycle):  # vera, told boris's root is boris, would invite herself round the loop
        invites.join_tree(vera["user"]["id"], boris["user"]["id"], boris["user"]["id"], utcnow())


def test_an_activation_whose_inviter_was_deleted_a_moment_ago_finds_no_code(client, people, postgres_only):
    from referral.domain import account, invites
    from referral.domain.errors import InviteCodeNotFound

    anna, vera = people["anna"], people["vera"]
    account.delete_account(account.account_by_phone(anna["user"]["phone"]))
    with pytest.raises(InviteCodeNotFound):  # vera read anna's chain just before anna went
        invites.join_tree(vera["user"]["id"], anna["user"]["id"], anna["user"]["id"], utcnow())


def enter_together(app, calls):
    """POST each (headers, body) to the invite endpoint at the same moment; their statuses."""

    def call(headers, body):
        return lambda: app.test_client().post(URL, headers=headers, json=body).status_code

    return run_together(*[call(headers, body) for headers, body in calls])
