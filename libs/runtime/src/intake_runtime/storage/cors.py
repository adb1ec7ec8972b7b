"""The bucket CORS rule that lets a browser PUT parts straight to S3 and read their ETag."""

from typing import Any

RULE_ID = "intake-browser-uploads"
MAX_AGE_S = 3600


def browser_rule(origins: list[str]) -> dict[str, Any]:
    """Without ExposeHeaders ETag a page cannot read a part's ETag and never completes it."""
    return {
        "ID": RULE_ID,
        "AllowedOrigins": sorted(origins),
        "AllowedMethods": ["GET", "HEAD", "PUT"],
        "AllowedHeaders": ["*"],
        "ExposeHeaders": ["ETag"],
        "MaxAgeSeconds": MAX_AGE_S,
    }


def merged_rules(existing: list[dict[str, Any]], origins: list[str]) -> list[dict[str, Any]] | None:
    """The bucket's rules with ours set, or None when they already hold it (nothing to write).

    Rules an operator added for other purposes are kept; only the rule named RULE_ID is ours.
    """
    ours = browser_rule(origins)
    current = [rule for rule in existing if rule.get("ID") == RULE_ID]
    if len(current) == 1 and _same(current[0], ours):
        return None
    return [rule for rule in existing if rule.get("ID") != RULE_ID] + [ours]


def _same(rule: dict[str, Any], ours: dict[str, Any]) -> bool:
    fields = ("AllowedOrigins", "AllowedMethods", "AllowedHeaders", "ExposeHeaders")
    return all(sorted(rule.get(name, [])) == sorted(ours[name]) for name in fields)
