"""The bucket CORS rule: exposes ETag, keeps an operator's other rules, writes only on change."""

from intake_runtime.settings import CorsSettings
from intake_runtime.storage import cors

ORIGINS = ["http://127.0.0.1:8000", "https://dam.example.com"]


def test_rule_allows_browser_puts_and_exposes_etag() -> None:
    rule = cors.browser_rule(ORIGINS)

    assert rule["AllowedMethods"] == ["GET", "HEAD", "PUT"]
    assert rule["ExposeHeaders"] == ["ETag"]
    assert rule["AllowedOrigins"] == sorted(ORIGINS)


def test_a_bucket_without_rules_gets_ours() -> None:
    assert cors.merged_rules([], ORIGINS) == [cors.browser_rule(ORIGINS)]


def test_nothing_is_written_when_our_rule_is_already_there() -> None:
    assert cors.merged_rules([cors.browser_rule(list(reversed(ORIGINS)))], ORIGINS) is None


def test_other_rules_are_kept_and_a_stale_rule_of_ours_is_replaced() -> None:
    theirs = {"ID": "cdn", "AllowedOrigins": ["*"], "AllowedMethods": ["GET"]}
    stale = cors.browser_rule(["http://old.example"])

    merged = cors.merged_rules([theirs, stale], ORIGINS)

    assert merged == [theirs, cors.browser_rule(ORIGINS)]


def test_origins_setting_is_comma_separated_without_blanks_or_trailing_slashes() -> None:
    settings = CorsSettings(INTAKE_CORS_ORIGINS=" http://a.test:3000/ ,,https://b.test ")

    assert settings.cors_origin_list == ["http://a.test:3000", "https://b.test"]
