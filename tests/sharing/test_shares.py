"""Share links: tokens, hashes, expiry, revocation, passcodes with a lockout."""

import hashlib
import hmac
import logging
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from imaging.models import StudyEvent
from sharing import shares
from sharing.models import AccessAction, Share, ShareState

pytestmark = pytest.mark.django_db


def test_a_token_has_256_bits_and_only_its_sha256_is_stored(make_share):
    created = make_share()
    share = Share.objects.get(pk=created.share.pk)
    # token_urlsafe(32): 43 characters of base64 = 256 bits from the secrets module.
    assert len(created.token) >= 43
    assert share.token_hash == hashlib.sha256(created.token.encode()).hexdigest()
    assert created.token not in str(Share.objects.filter(pk=share.pk).values().get())
    assert make_share().token != created.token


def test_tokens_are_compared_in_constant_time(make_share, monkeypatch):
    created = make_share()
    calls = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(shares.hmac, "compare_digest", spy)
    assert shares.share_by_token(created.token) == created.share
    assert calls == [(created.share.token_hash, created.share.token_hash)]
    assert shares.share_by_token(created.token[:-1] + "x") is None


def test_expiry_defaults_to_14_days_and_is_capped(make_share, settings):
    share = make_share().share
    assert abs(share.expires_at - timezone.now() - timedelta(days=14)) < timedelta(minutes=1)
    settings.SHARE_MAX_EXPIRY_DAYS = 30
    with pytest.raises(shares.ShareError, match="1 to 30 days"):
        make_share(expires_days=31)


def test_a_share_needs_an_address_and_series_of_its_study(make_share, other_study):
    with pytest.raises(shares.ShareError, match="email"):
        make_share(email="")
    foreign = other_study.series.first().series_instance_uid
    with pytest.raises(shares.ShareError, match="Not series of this study"):
        make_share(series_uids=[foreign])


def test_revoking_closes_the_share_and_notes_it_in_the_history(make_share, vet):
    share = make_share().share
    shares.share_revoke(share=share, user=vet)
    share.refresh_from_db()
    assert share.state() == ShareState.REVOKED and not share.is_open()
    assert StudyEvent.objects.filter(study=share.study, message__contains="revoked").exists()


def test_an_expired_share_is_closed(make_share):
    share = make_share().share
    assert share.is_open()
    Share.objects.filter(pk=share.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    share.refresh_from_db()
    assert share.state() == ShareState.EXPIRED and not share.is_open()


def test_wrong_passcodes_lock_the_share_and_the_lockout_is_logged(make_share, settings, caplog):
    settings.SHARE_PASSCODE_ATTEMPTS = 3
    settings.SHARE_PASSCODE_LOCKOUT_MINUTES = 15
    share = make_share(passcode="4711-ok").share
    assert share.passcode_hash and "4711-ok" not in share.passcode_hash
    check = lambda code: shares.passcode_check(  # noqa: E731
        share=share, passcode=code, ip="192.0.2.7", user_agent="test"
    )
    with caplog.at_level(logging.INFO, logger="sharing"):
        assert check("nope") == shares.PasscodeResult.WRONG
        assert check("nope") == shares.PasscodeResult.WRONG
        assert check("nope") == shares.PasscodeResult.LOCKED
        # Locked: even the right passcode is refused until the lockout ends.
        assert check("4711-ok") == shares.PasscodeResult.LOCKED
    assert any("locked until" in r.getMessage() and r.levelname == "WARNING"
               for r in caplog.records)  # fmt: skip
    actions = list(share.accesses.values_list("action", flat=True))
    assert actions.count(AccessAction.PASSCODE_FAILED) == 3
    assert AccessAction.LOCKED in actions
    Share.objects.filter(pk=share.pk).update(locked_until=timezone.now() - timedelta(seconds=1))
    assert check("4711-ok") == shares.PasscodeResult.OK


def test_create_share_command_prints_the_link_and_revoke_share_closes_it(study, capsys, mailoutbox):
    uid = study.series.first().series_instance_uid
    call_command(
        "create_share", study.study_instance_uid, "--email", "ortho@example.org",
        "--expires-days", "3", "--passcode", "secret1", "--series", uid, "--anonymize",
        "--no-download",
    )  # fmt: skip
    link = capsys.readouterr().out.strip()
    share = Share.objects.get()
    token = link.rsplit("/share/", 1)[1].strip("/")
    assert share.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert share.series_uids == [uid] and share.anonymize and not share.allow_download
    assert share.has_passcode
    assert abs(share.expires_at - timezone.now() - timedelta(days=3)) < timedelta(minutes=1)
    assert [m.to for m in mailoutbox] == [["ortho@example.org"]]
    assert link in mailoutbox[0].body and "secret1" not in mailoutbox[0].body
    call_command("revoke_share", str(share.pk))
    share.refresh_from_db()
    assert share.revoked_at is not None
