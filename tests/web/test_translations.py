"""Every message of the pages is in both catalogues, translated, and the catalogues compile."""

import subprocess
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
CATALOGUES = ROOT / "referral" / "web" / "translations"


@pytest.fixture(scope="module")
def extracted(tmp_path_factory) -> set[str]:
    pot = tmp_path_factory.mktemp("pot") / "messages.pot"
    subprocess.run(
        [str(ROOT / ".venv" / "bin" / "pybabel"), "extract", "-F", "babel.cfg", "-k", "_l", "-o", str(pot), "."],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return {message.id for message in read_po(pot.open("rb")) if message.id}


@pytest.mark.parametrize("language", ["ru", "en"])
def test_every_message_of_the_pages_is_translated(extracted, language):
    catalogue = read_po((CATALOGUES / language / "LC_MESSAGES" / "messages.po").open("rb"))
    translated = {message.id: message for message in catalogue if message.id}
    assert extracted <= set(translated), f"not in {language}: {sorted(extracted - set(translated))}"
    untranslated = [m.id for m in translated.values() if not m.string or m.fuzzy]
    assert untranslated == []


def test_placeholders_survive_translation():
    catalogue = read_po((CATALOGUES / "ru" / "LC_MESSAGES" / "messages.po").open("rb"))
    for message in catalogue:
        if message.id and "%(" in message.id:
            names = sorted(set(part.split(")")[0] for part in message.id.split("%(")[1:]))
            assert names == sorted(set(part.split(")")[0] for part in message.string.split("%(")[1:])), message.id
