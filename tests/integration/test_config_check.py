"""`kura config check`: the compliance lint of the password policy (MHLW guideline 6.0 options,
NIST SP 800-63B), in English and Japanese, as text and as JSON, and the override."""
import json

from conftest import run_kura


def check(instance, *extra):
    return run_kura("config", "check", "--data", str(instance.data), *extra)


def check_json(instance):
    proc = check(instance, "--json")
    return proc, json.loads(proc.stdout)


def test_default_profile_is_clean(instance):
    instance.init()
    proc = check(instance)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"{instance.data / 'kura.conf'}: ok\n"
    proc, out = check_json(instance)
    assert proc.returncode == 0 and out["ok"] is True
    assert out["findings"] == []
    assert out["counts"] == {"error": 0, "warning": 0, "overridden": 0}
    assert out["override_reason"] is None
    policy = out["policy"]
    assert policy["profile"] == "kura-default" and policy["overrides"] == 0
    assert policy["min_length"] == 15 and policy["max_length"] >= 128
    assert policy["mfa"] == "all" and policy["required_classes"] == []
    assert policy["max_age_days"] == 0 and policy["dictionary"] is True
    assert policy["backoff_after"] == 5 and policy["lockout_threshold"] == 10
    assert policy["lockout_mode"] == "until-reset"


def test_profiles_meeting_no_mhlw_option_fail(instance):
    instance.init()
    for profile in ["nbdc", "kiyosu", "iso27001"]:
        instance.set("password", "profile", profile)
        proc = check(instance)
        assert proc.returncode == 1, profile
        # Each finding on two lines, English then Japanese, naming the key.
        assert "error: password.profile: profile '" + profile + "'" in proc.stdout
        assert "エラー: password.profile: プロファイル " + profile in proc.stdout
        assert "MHLW guideline 6.0" in proc.stdout and "第6.0版" in proc.stdout
        assert "1 compliance error(s)" in proc.stderr
        assert "override_reason" in proc.stderr
        assert not proc.stdout.endswith(": ok\n")
        proc, out = check_json(instance)
        assert proc.returncode == 1 and out["ok"] is False
        assert out["counts"]["error"] == 1
        error = [f for f in out["findings"] if f["level"] == "error"][0]
        assert error["code"] == "mhlw_no_option" and error["key"] == "password.profile"
        assert profile in error["message_en"] and "第6.0版" in error["message_ja"]
    # iso27001 fails because ordinary users have no MFA.
    assert "ordinary users" in error["message_en"] and "一般利用者" in error["message_ja"]


def test_profiles_meeting_an_option_pass_with_warnings(instance):
    instance.init()
    expected = {
        "nist": [],
        "mhlw6-a": ["nist_composition", "nist_short_single_factor"],
        "mhlw6-b": ["nist_composition", "nist_rotation", "nist_short_single_factor"],
        "mhlw6-c": ["nist_composition"],
        "ccat": ["mhlw_mix", "nist_composition", "nist_rotation", "rotation_without_history",
                 "lockout_dos"],
    }
    for profile, codes in expected.items():
        instance.set("password", "profile", profile)
        proc = check(instance)
        assert proc.returncode == 0, (profile, proc.stderr)
        assert proc.stdout.endswith(": ok\n")
        lines = proc.stdout.splitlines()
        assert sum(l.startswith("warning: ") for l in lines) == len(codes)
        assert sum(l.startswith("警告: ") for l in lines) == len(codes)
        proc, out = check_json(instance)
        assert proc.returncode == 0 and out["ok"] is True
        assert [f["code"] for f in out["findings"]] == codes, profile
        assert all(f["level"] == "warning" for f in out["findings"])
    # The NIST warnings say which rule they contradict.
    rotation = [f for f in out["findings"] if f["code"] == "nist_rotation"][0]
    assert rotation["key"] == "password.max_age_days"
    assert "180 days" in rotation["message_en"] and "180日" in rotation["message_ja"]
    assert "NIST SP 800-63B" in rotation["message_en"]


def test_overriding_a_knob_changes_the_outcome(instance):
    instance.init()
    instance.set("password", "profile", "kiyosu")
    assert check(instance).returncode == 1
    # kiyosu with MFA for every account meets MHLW option (c).
    instance.set("password", "mfa", "all")
    proc, out = check_json(instance)
    assert proc.returncode == 0, proc.stdout
    assert out["policy"]["overrides"] == 1 and out["policy"]["mfa"] == "all"
    assert out["policy"]["min_length"] == out["policy"]["max_length"] == 8
    assert out["policy"]["charset"] == "alnum"
    assert "with overrides" in out["findings"][0]["message_en"]


def test_override_reason_downgrades_errors(instance):
    instance.init()
    instance.set("password", "profile", "nbdc")
    instance.set("compliance", "override_reason", '"approved by the committee on 2026-04-01"')
    proc = check(instance)
    assert proc.returncode == 0, proc.stderr
    assert "overridden: password.profile: profile 'nbdc'" in proc.stdout
    assert "上書き済み: password.profile:" in proc.stdout
    assert 'override_reason = "approved by the committee on 2026-04-01"' in proc.stdout
    assert proc.stdout.endswith(": ok\n")
    proc, out = check_json(instance)
    assert proc.returncode == 0 and out["ok"] is True
    assert out["override_reason"] == "approved by the committee on 2026-04-01"
    assert out["counts"] == {"error": 0, "warning": 1, "overridden": 1}
    assert out["findings"][0]["level"] == "overridden"
    assert out["findings"][0]["code"] == "mhlw_no_option"
    # A reason with nothing to override is a warning, not an error.
    instance.set("password", "profile", "kura-default")
    proc, out = check_json(instance)
    assert proc.returncode == 0
    assert [f["code"] for f in out["findings"]] == ["override_unused"]


def test_bad_policy_values_are_configuration_errors(instance):
    instance.init()
    instance.set("password", "min_length", "0")
    proc = check(instance)
    assert proc.returncode == 1
    assert "[password] min_length = '0'" in proc.stderr
    assert "empty (from the profile), or a whole number from 1 to 256" in proc.stderr
    # Each value is valid, the combination is not.
    instance.set("password", "min_length", "30")
    instance.set("password", "max_length", "20")
    proc = check(instance)
    assert proc.returncode == 1
    assert "min_length is larger than max_length" in proc.stderr
    proc, out = check_json(instance)
    assert proc.returncode == 1 and out["ok"] is False
    assert "min_length is larger than max_length" in out["error"]
    assert out["findings"] == []


def test_usage(instance):
    instance.init()
    assert run_kura("config", "check").returncode == 2
    assert run_kura("config", "check", "--json").returncode == 2
    assert run_kura("config", "check", "--data", str(instance.data), "--bogus").returncode == 2
    assert run_kura("config", "check", "--data", str(instance.data), "--json",
                    "--json").returncode == 2
    # --json may come first.
    proc = run_kura("config", "check", "--json", "--data", str(instance.data))
    assert proc.returncode == 0 and json.loads(proc.stdout)["ok"] is True
    assert "--json" in run_kura("config", "--help").stdout
