"""The patterns the OpenAPI document states accept nothing the server then refuses: what a client
(or a fuzzer) builds from the document gets past validation. (None of them takes a NUL.)"""

from __future__ import annotations

import re
import sys
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings  # schemathesis brings hypothesis
from hypothesis import strategies as st

from taxiway.accounts.service import ACCOUNT_FIELDS, EMAIL_PATTERN, check_email
from taxiway.core import ids
from taxiway.core.fields import NUL, FieldSpec, python_pattern, validate_fields
from taxiway.tasks.operations import OPERATIONS
from taxiway.webhooks.addresses import CALLBACK_URL_PATTERN, NFKC_DELIMITERS, check_syntax

_SETTINGS = settings(
    max_examples=500, database=None, derandomize=True, suppress_health_check=list(HealthCheck)
)


@_SETTINGS
@given(st.from_regex(python_pattern(CALLBACK_URL_PATTERN)))
def test_every_documented_callback_url_passes_check_syntax(url: str) -> None:
    check_syntax(url)


@_SETTINGS
@given(st.from_regex(python_pattern(EMAIL_PATTERN)).filter(lambda email: len(email) <= 254))
def test_every_documented_email_passes_check_email(email: str) -> None:
    check_email(email)


@_SETTINGS
@given(st.from_regex(python_pattern(ids.ref_pattern("asset"))))
def test_every_documented_asset_id_parses(ref: str) -> None:
    assert ids.parse("asset", ref) is not None


@pytest.mark.parametrize(
    "url",
    [
        "http://[::1]/hook",
        "https://user:pw@example.com:8443/a?b#c",
        "https://bücher.de/",
        "HTTP://X.ORG",
        "http://[::ffff:169.254.169.254]/",  # kept, so that the address check can say what it is
        "http://[2002:7f00:1::]/",
        "http://[1:2:3:4:5:6:1.2.3.4]:80/",
    ],
)
def test_callback_urls_the_pattern_keeps(url: str) -> None:
    assert re.search(python_pattern(CALLBACK_URL_PATTERN), url)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://x.org/",
        "http://",
        "http://x:65536/",
        "http://[0]/",
        "http://a b/",
        "http://[::ffff:1.2.3.04]/",
        "http://[1:2:3:4:5:6:7:1.2.3.4]/",
        "http://[fe80::1%25eth0]/",
    ],
)
def test_callback_urls_the_pattern_refuses(url: str) -> None:
    assert not re.search(python_pattern(CALLBACK_URL_PATTERN), url)


def test_the_nfkc_delimiters_are_all_of_them() -> None:
    """urlsplit refuses a host with a character that NFKC turns into one of /?#@: the pattern
    leaves exactly those out (checked against all of Unicode, as this Python knows it)."""
    found = {
        char
        for char in map(chr, range(0x80, sys.maxunicode + 1))
        if any(delimiter in unicodedata.normalize("NFKC", char) for delimiter in "/?#@:")
    }
    assert found == set(NFKC_DELIMITERS)


def _string_specs() -> list[FieldSpec]:
    from taxiway.api.routes import accounts, assets, tasks

    every = [spec for op in OPERATIONS.values() for spec in op.all_fields]
    every += [*ACCOUNT_FIELDS, *assets.UPLOAD_FIELDS, *assets.LIST_FIELDS, *tasks.LIST_FIELDS]
    every += accounts.FEATURES_FIELDS
    unique = {(spec.name, spec.json_schema().get("pattern")): spec for spec in every if spec.type == "string"}
    return [spec for spec in unique.values() if "pattern" in spec.json_schema()]


@pytest.mark.parametrize("spec", _string_specs(), ids=lambda spec: spec.name)
def test_every_documented_string_passes_validation(spec: FieldSpec) -> None:
    schema = spec.json_schema()
    texts = st.from_regex(python_pattern(schema["pattern"])).filter(
        lambda text: schema.get("minLength", 0) <= len(text) <= schema.get("maxLength", 10**6)
    )

    @_SETTINGS
    @given(texts)
    def passes(text: str) -> None:
        assert validate_fields((spec,), {spec.name: text})[spec.name] == text

    passes()


def test_no_documented_pattern_takes_a_nul() -> None:
    for spec in _string_specs():
        assert not re.search(python_pattern(spec.json_schema()["pattern"]), f"a{NUL}b@c.de"), spec.name
