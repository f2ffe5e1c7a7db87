"""Every code the console shows in words has its word: a status or purpose added to the data without one would
show as it is kept."""

from referral.console.programme_views import REWARD_STATUSES
from referral.console.words import WORDS
from referral.domain.codes import Purpose
from referral.domain.deliveries import SMS_STATUSES
from referral.infra.models import WEBHOOK_STATUSES


def test_each_table_of_words_covers_the_codes_its_data_keeps():
    assert set(WORDS["purpose"]) == {purpose.value for purpose in Purpose}
    assert set(WORDS["sms"]) == set(SMS_STATUSES)
    assert set(WORDS["reward"]) == set(REWARD_STATUSES)
    assert set(WORDS["webhook"]) == set(WEBHOOK_STATUSES)
