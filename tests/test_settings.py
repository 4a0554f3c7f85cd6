"""Every setting declared once: the README, the Params, the connection's extra, the flags
and the stages' defaults all come from ``sqid.settings`` and cannot drift apart."""

from dataclasses import fields
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqid.cli import main
from sqid.config import ConfigError
from sqid.setting import Setting, check_all, with_tables
from sqid.settings import EMBED, GROUPS, INGEST, RELEASE, SCRAPE, SITE, VALIDATE

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_readme_tables_are_the_declarations():
    text = README.read_text(encoding="utf-8")
    assert with_tables(text, GROUPS) == text, (
        "the README's settings tables differ from include/sqid/settings.py: "
        "run `make settings-tables`"
    )
    for name in GROUPS:
        assert f"<!-- settings:{name} -->" in text, f"the README has no table of {name}"


def test_an_unknown_table_name_is_an_error_not_a_stale_table():
    with pytest.raises(KeyError, match="no settings group 'scrap'"):
        with_tables("<!-- settings:scrap -->\n<!-- /settings -->", GROUPS)


def _defaults(instance) -> dict:
    return {f.name: getattr(instance, f.name) for f in fields(instance)}


def test_the_stages_take_their_defaults_from_the_declarations(tmp_path):
    from sqid.embed.config import EmbedConfig
    from sqid.ingest.load import DEFAULT_MIN_SUPP_JUDGEMENTS, IngestFloors
    from sqid.release.assemble import ReleaseConfig
    from sqid.release.checked import ValidationPolicy
    from sqid.scrape.config import ScrapeConfig
    from sqid.scrape.drift import DriftLimits

    scrape = _defaults(ScrapeConfig())
    assert {s.name: s.default for s in SITE} == {s.name: scrape[s.name] for s in SITE}
    drift = DriftLimits()
    assert (drift.tolerance, drift.window, drift.min_pages) == (
        scrape["drift_tolerance"], scrape["drift_window"], scrape["drift_min_pages"],
    )  # fmt: skip
    ingest = {s.name: s.default for s in INGEST}
    floors = IngestFloors()
    assert (floors.min_rows, floors.max_row_loss, floors.min_title_share) == (
        ingest["min_rows"], ingest["max_row_loss"], ingest["min_title_share"],
    )  # fmt: skip
    assert ingest["min_supp_judgements"] == DEFAULT_MIN_SUPP_JUDGEMENTS
    embed = EmbedConfig()
    declared = {s.name: s.default for s in EMBED}
    assert (embed.device, embed.batch_size, embed.rendition) == (
        declared["device"], declared["batch_size"], declared["rendition"],
    )  # fmt: skip
    assert embed.model_id in next(s for s in EMBED if s.name == "model_id").empty
    release = {s.name: s.default for s in RELEASE}
    config = ReleaseConfig(release_dir=tmp_path)
    assert (config.coverage_threshold, config.min_vector_share) == (
        release["coverage_threshold"], release["min_vector_share"],
    )  # fmt: skip
    validate = {s.name: s.default for s in VALIDATE}
    policy = ValidationPolicy()
    assert (policy.norm_band, policy.coverage_threshold, policy.min_image_vector_share,
            policy.min_text_vector_share, policy.dimension) == (
        (validate["norm_min"], validate["norm_max"]), validate["coverage_threshold"],
        validate["min_image_vectors"], validate["min_text_vectors"], validate["dimension"],
    )  # fmt: skip
    assert config.validation_policy().min_image_vector_share == release["min_vector_share"]


def test_the_dags_params_are_the_declarations():
    from sqid.orchestration.params import (
        embed_params,
        ingest_params,
        release_params,
        scrape_params,
    )

    for made, group in ((ingest_params, INGEST), (scrape_params, SCRAPE),
                        (embed_params, EMBED), (release_params, RELEASE)):  # fmt: skip
        params = made()
        assert list(params) == [s.name for s in group]
        for s in group:
            param = params[s.name]
            assert param.value == s.default and param.description == s.full_description()
            assert param.schema["title"] == s.title


def test_a_scrape_param_over_the_connection_is_empty_and_says_what_empty_means():
    scrape = {s.name: s for s in SCRAPE}
    for name in ("requests_per_second", "concurrency", "drift_tolerance"):
        site = next(s for s in SITE if s.name == name)
        assert scrape[name].default is None
        assert scrape[name].empty == f"the sqid_amazon connection's, else {site.shown_default()}"
        assert (scrape[name].minimum, scrape[name].maximum) == (site.minimum, site.maximum)


def _site(**extra) -> SimpleNamespace:
    return SimpleNamespace(host="shop.example", schema="http", port=None, extra_dejson=extra)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"concurency": 4}, "unknown keys ['concurency'] in the sqid_amazon connection's extra"),
        ({"concurrency": "4"}, "concurrency in the sqid_amazon connection's extra: expected integer"),
        ({"concurrency": 0}, "0 is below the least allowed value 1"),
        ({"drift_tolerance": 1.5}, "1.5 is above the largest allowed value 1"),
        ({"captcha_pause": True}, "captcha_pause in the sqid_amazon connection's extra: expected number"),
    ],
)  # fmt: skip
def test_a_bad_connection_extra_is_refused_with_its_name(extra, message):
    from sqid.scrape.config import ScrapeConfig

    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        ScrapeConfig.resolve({}, _site(**extra), env={})


def test_a_good_connection_extra_is_read_with_its_types():
    from sqid.scrape.config import ScrapeConfig

    config = ScrapeConfig.resolve({}, _site(captcha_pause=1, drift_window=100), env={})
    assert config.captcha_pause == 1.0 and isinstance(config.captcha_pause, float)
    assert config.drift_limits().window == 100


def test_a_bad_extra_fails_the_task_at_once_rather_than_retrying(monkeypatch):
    from airflow.sdk.exceptions import AirflowFailException
    from sqid.orchestration import scrape

    monkeypatch.setattr(scrape, "optional_connection", lambda conn_id: _site(concurency=4))
    with pytest.raises(AirflowFailException, match="concurency"):
        scrape.scrape_shard({"index": 0}, {}, "run")


def test_check_reads_integers_as_numbers_and_refuses_booleans_as_integers():
    number = Setting("x", float, 1.0, "X", "An x.", minimum=0.0)
    assert number.check(2, "here") == 2.0
    count = Setting("n", int, 1, "N", "An n.")
    with pytest.raises(ConfigError, match="expected integer"):
        count.check(True, "here")
    listed = Setting("s", list, [], "S", "Some.", choices=("a", "b"))
    assert listed.check(["a"], "here") == ["a"]
    with pytest.raises(ConfigError, match="'c' is not one of a, b"):
        listed.check(["a", "c"], "here")


def test_a_declaration_whose_default_breaks_its_own_bounds_is_refused():
    with pytest.raises(ConfigError, match="above the largest"):
        Setting("share", float, 1.5, "Share", "A share.", maximum=1.0)
    with pytest.raises(ConfigError, match="unknown keys"):
        check_all(SITE, {"nope": 1}, "here")


def test_every_release_setting_is_a_flag_of_sqid_release(capsys):
    with pytest.raises(SystemExit):
        main(["release", "--help"])
    usage = capsys.readouterr().out
    for s in RELEASE:
        assert "--" + s.name.replace("_", "-") in usage


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["validate", ".", "--coverage-threshold", "2"], "2.0 is above the largest allowed value 1"),
        (["validate", ".", "--dimension", "x"], "expected int, got 'x'"),
        (["release", "--bump", "huge"], "'huge' is not one of major, minor, patch"),
        (["release", "--version", "1.2"], "'1.2' is not of the form v1.2.3"),
    ],
)  # fmt: skip
def test_a_flag_out_of_its_bounds_is_a_usage_error(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2 and message in capsys.readouterr().err
