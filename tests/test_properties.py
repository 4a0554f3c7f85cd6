"""Properties that must hold for every input, checked on generated ones (hypothesis)."""

from __future__ import annotations

import os
import string

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqid.embed.images import ImagePolicy, check_url
from sqid.http import parse_header_int
from sqid.imageurl import (
    AMAZON_IMAGE_HOSTS,
    CANONICAL_PATTERN,
    MAX_URL_LENGTH,
    UrlParts,
    canonical_column,
    canonical_image_url,
    canonical_mask,
    published_url,
    split_url,
)
from sqid.retry import RETRY_HTTP_STATUSES, RetryPolicy, decide, parse_retry_after
from sqid.scrape.pages import analyse_page
from sqid.scrape.records import PAGE_KINDS
from urllib3.util import parse_url

EXAMPLES = int(os.environ.get("SQID_HYPOTHESIS_EXAMPLES", "300"))
"""Examples per property; raise it for a longer search (e.g. 5000 before a release)."""
FAST = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# URL-ish text: the characters that make parsers disagree, mixed with ordinary ones.
URL_CHARS = string.ascii_letters + string.digits + ":/@\\.%?#[]-_+~ \t\x00é"
url_text = st.one_of(
    st.text(alphabet=URL_CHARS, max_size=80),
    st.builds(
        lambda scheme, userinfo, host, port, path: f"{scheme}{userinfo}{host}{port}{path}",
        st.sampled_from(["https://", "http://", "//", "HTTPS://", "ftp://", ""]),
        st.sampled_from(["", "user@", "u:p@", "127.0.0.1:1\\@", "x@y@"]),
        st.sampled_from([*sorted(AMAZON_IMAGE_HOSTS), "127.0.0.1", "[::1]", "evil.example", ""]),
        st.sampled_from(["", ":443", ":8080", ":x", ":99999"]),
        st.text(alphabet=URL_CHARS, max_size=60).map(lambda p: "/images/I/" + p),
    ),
)


@FAST
@given(url_text)
def test_every_accepted_url_means_one_host_to_every_parser(url):
    parts = split_url(url)
    if isinstance(parts, UrlParts):
        # What the HTTP client will connect to is the host that was checked.
        assert parse_url(parts.geturl()).host.lower() == parts.host
        assert "\\" not in parts.geturl()


@FAST
@given(url_text)
def test_canonical_image_urls_are_a_fixed_point_and_safe(url):
    canonical = canonical_image_url(url)
    if canonical is not None:
        assert canonical_image_url(canonical) == canonical
        parsed = parse_url(canonical)
        assert parsed.scheme == "https" and parsed.host in AMAZON_IMAGE_HOSTS
        assert parsed.port is None and parsed.auth is None and parsed.query is None
        assert check_url(canonical, ImagePolicy(), resolve=lambda host: True) is None


@FAST
@given(st.one_of(st.none(), st.text(max_size=30)))
def test_header_numbers_never_raise(value):
    number = parse_header_int(value)
    if number is not None:  # only plain ASCII digits are a number ("²" is not)
        digits = value.strip()
        assert digits.isascii() and digits.isdigit() and int(digits) == number
    assert parse_retry_after(value) is None or parse_retry_after(value) >= 0


@FAST
@given(st.integers(min_value=0, max_value=10**17))
def test_header_numbers_read_every_ascii_number(n):
    assert parse_header_int(f" {n} ") == n


HTML_BITS = st.sampled_from(
    ['<img id="landingImage" ', 'src="', 'data-old-hires="', "https://m.media-amazon.com/images/I/",
     "71abcdefghL._AC_SL1500_.jpg", '"', ">", "<script>", "</script>", "<SCRIPT>", "</Script>", "<!--", "-->", "'colorImages': ",
     "{ 'initial': ", "[{", '"hiRes":', "}]", "null", "<span id=\"productTitle\">", "</span>",
     "data-a-dynamic-image=\"{&quot;", "&quot;:[", "500,500]}", "<", "&", "\\", "\x00", "é"]
)  # fmt: skip


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.one_of(st.binary(max_size=2000), st.lists(HTML_BITS, max_size=40).map("".join)))
def test_page_analysis_never_raises_and_both_readers_agree(page):
    fast = analyse_page(page)
    assert fast.page_kind in PAGE_KINDS
    assert not any(s.startswith("parse_error") for s in fast.signals)
    assert fast == analyse_page(page, full_parse=True)
    if fast.image_url is not None:
        assert canonical_image_url(fast.image_url) == fast.image_url


@FAST
@given(
    attempt=st.integers(min_value=1, max_value=10),
    status=st.integers(min_value=100, max_value=599),
    retry_after=st.one_of(st.none(), st.text(max_size=40), st.integers(0, 10**6).map(str)),
)
def test_retry_policy_is_bounded(attempt, status, retry_after):
    policy = RetryPolicy(max_attempts=5, backoff_max=60.0, max_retry_after=120.0)
    decision = decide(policy, attempt, status=status, retry_after=retry_after)
    assert 0.0 <= decision.delay <= max(policy.backoff_max, policy.max_retry_after)
    if decision.retry:
        assert status in RETRY_HTTP_STATUSES and attempt < policy.max_attempts


@FAST
@given(st.from_regex(CANONICAL_PATTERN, fullmatch=True))
def test_the_fast_canonical_pattern_matches_only_canonical_urls(url):
    """Columns are checked with the pattern and only the rows it misses are parsed: so
    every URL it matches must be its own canonical form, and the Arrow check agree."""
    assert canonical_image_url(url) == url
    assert canonical_mask(pa.array([url])).tolist() == [len(url) <= MAX_URL_LENGTH]


@FAST
@given(url_text)
def test_the_column_check_agrees_with_the_parse_row_by_row(url):
    fast = canonical_mask(pa.array([url]))[0]
    assert not fast or canonical_image_url(url) == url
    assert canonical_column(pa.array([url])).to_pylist()[0] == published_url(url)
