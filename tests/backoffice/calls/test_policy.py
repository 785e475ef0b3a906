"""The call policy as stored in an organization's settings."""

from __future__ import annotations

from backoffice.calls.policy import RemoteRecordsConfig, check_policy, policy_of


def test_a_remote_system_of_record_reads_back_as_remote() -> None:
    stored = check_policy(
        {
            "promise_max_days": 10,
            "system_of_record": {"kind": "remote", "url": "https://crm.test/p"},
        }
    )
    policy = policy_of({"calls": stored})
    assert isinstance(policy.system_of_record, RemoteRecordsConfig)
    assert str(policy.system_of_record.url) == "https://crm.test/p"
    assert policy.promise_max_days == 10  # the rest of the policy survives too
    assert check_policy(stored) == stored  # and it validates again on the next write


def test_the_builtin_system_of_record_is_the_default_and_stored_as_nothing() -> None:
    assert check_policy({"system_of_record": {"kind": "builtin"}}) == {}
    assert policy_of({}).system_of_record.kind == "builtin"
