"""Releases as a data product: every config loads with Hugging Face ``datasets``, the
card is honest and complete, changes and takedowns reach users, two builds of the same
inputs are the same bytes, and ``sqid publish`` sends only a valid release's files."""

import json
import re
import shutil

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from sqid.cli import main
from sqid.ingest.sqd import EXAMPLES
from sqid.localserve.site import SiteConfig
from sqid.release.assemble import ReleaseConfig
from sqid.release.changes import CHANGES_SCHEMA
from sqid.release.layout import CHANGES, HUB_CONFIGS, MANIFEST, write_checksums
from sqid.release.steps import run_release
from sqid.release.takedowns import add_takedown
from sqid.release.validate import ValidationPolicy, validate_release

from .pipeline_builders import build_sets, embed, scrape

datasets = pytest.importorskip("datasets", reason="datasets is in the dev extra")


def _problems(release):
    return [str(p) for p in validate_release(release, ValidationPolicy(coverage_threshold=0.5))]


def _release(db_path, release_dir, **options):
    config = ReleaseConfig(release_dir=release_dir, coverage_threshold=0.5)
    outcome = run_release(db_path, config, **options)
    assert outcome.published, outcome.reason
    return outcome.published


@pytest.fixture(scope="module")
def built(tmp_path_factory, tiny_clip, encoder):
    root = tmp_path_factory.mktemp("hub")
    db_path, ids = build_sets(root)
    scrape(root, db_path, ids, SiteConfig(layouts={ids[1]: "placeholder"}), "r1")
    embed(root, db_path, tiny_clip, encoder, "r1")
    first = _release(db_path, root / "releases", examples=root / "sqd" / EXAMPLES)
    return root, db_path, ids, first


@pytest.fixture(scope="module")
def second(built, tiny_clip, encoder):
    """A second release after the site changed: one product gone, one with a new layout."""
    root, db_path, ids, _ = built
    site = SiteConfig(layouts={ids[1]: "placeholder", ids[3]: "not_found", ids[4]: "book"})
    scrape(root, db_path, ids[3:5], site, "r2")
    embed(root, db_path, tiny_clip, encoder, "r2")
    return _release(db_path, root / "releases")


def _load(folder, name):
    return datasets.load_dataset(str(folder), name, split="train",
                                 cache_dir=str(folder.parent / ".hf-cache"))  # fmt: skip


def test_every_config_loads_with_datasets_with_float32_vectors(built, second):
    for release in (built[3], second):
        card = _card_yaml(release)
        names = [c["config_name"] for c in card["configs"]]
        assert names[0] == "product_image_urls" and card["configs"][0]["default"] is True
        assert sum(bool(c.get("default")) for c in card["configs"]) == 1
        assert ("changes" in names) == (release == second)
        for name in names:
            ds = _load(release, name)
            rows = pq.read_metadata(release / HUB_CONFIGS[name]).num_rows
            assert ds.num_rows == rows, name
            for column in ("clip_text_features", "clip_image_features"):
                if column in ds.features:
                    assert ds.features[column] == datasets.List(datasets.Value("float32"))
        info = {i["config_name"]: i for i in card["dataset_info"]}
        assert set(info) == set(names)
        assert info["product_features"]["splits"][0]["num_examples"] == _load(
            release, "product_features").num_rows  # fmt: skip


def test_the_published_files_load_directly(built):
    release = built[3]
    cache = str(release.parent / ".hf-direct")
    for name in ("product_features", "query_features", "product_image_status"):
        direct = datasets.load_dataset("parquet", data_files=str(release / HUB_CONFIGS[name]),
                                       split="train", cache_dir=cache)  # fmt: skip
        assert direct.num_rows == pq.read_metadata(release / HUB_CONFIGS[name]).num_rows
    features = datasets.Features({"product_id": datasets.Value("string"),
                                  "image_url": datasets.Value("string")})  # fmt: skip
    from_csv = datasets.load_dataset("csv", data_files=str(release / "product_image_urls.csv"),
                                     features=features, split="train", cache_dir=cache)  # fmt: skip
    twin = pq.read_table(release / "product_image_urls.parquet").to_pylist()
    assert [(r["product_id"], r["image_url"]) for r in from_csv] == [
        (r["product_id"], r["image_url"]) for r in twin
    ]


def _card_yaml(release):
    text = (release / "README.md").read_text()
    return yaml.safe_load(text.split("---\n")[1])


def test_the_card_is_complete_and_says_a_demo_is_a_demo(built):
    release = built[3]
    card = _card_yaml(release)
    for key in ("license", "pretty_name", "task_categories", "size_categories",
                "source_datasets", "configs", "dataset_info"):  # fmt: skip
        assert card.get(key), key
    assert card["size_categories"] == ["n<1K"]
    body = (release / "README.md").read_text().split("---\n", 2)[2]
    title, first = [line for line in body.splitlines() if line][:2]
    assert "not the real SQID" in title and first.startswith("**Not the Shopping Queries")
    for section in ("## What a status means", "## How the images were found",
                    "## Limits and bias", "@article{alghossein2024sqid", "@article{reddy2022"):  # fmt: skip
        assert section in body
    croissant = json.loads((release / "croissant.json").read_text())
    assert croissant["rai:dataCollectionType"] and croissant["rai:dataLimitations"]


def test_no_document_names_a_path_of_the_build_machine(built, tiny_clip):
    release = built[3]
    for name in ("README.md", "croissant.json", "report.html", "CHANGELOG.md"):
        text = (release / name).read_text()
        assert str(tiny_clip) not in text and str(built[0]) not in text, name
    assert "a local model folder named" in (release / "README.md").read_text()


def test_row_groups_fit_the_hub_viewer(built):
    for name in ("product_features.parquet", "product_image_status.parquet"):
        metadata = pq.read_metadata(built[3] / name)
        assert all(metadata.row_group(i).total_byte_size <= 128 * 2**20
                   for i in range(metadata.num_row_groups))  # fmt: skip


def test_changes_name_each_changed_product_and_the_changelog_sums_them(built, second):
    _, _, ids, first = built
    changes = pq.read_table(second / CHANGES)
    assert changes.schema == CHANGES_SCHEMA
    by_id = {r["product_id"]: r for r in changes.to_pylist()}
    assert by_id[ids[3]]["change"] == "image_changed"
    assert by_id[ids[3]]["new_status"] == "not_found" and by_id[ids[3]]["old_image_id"]
    assert by_id[ids[3]]["new_image_id"] is None
    assert ids[0] not in by_id  # unchanged products are not listed
    changelog = (second / "CHANGELOG.md").read_text()
    image_changed = sum(r["change"] == "image_changed" for r in by_id.values())
    assert f"- image changed (another image, or one gained or lost): {image_changed}" in changelog
    assert not (first / CHANGES).exists()
    assert _problems(second) == []


def test_the_validator_checks_changes_against_the_previous_release(built, second, tmp_path):
    copy = tmp_path / "releases" / second.name
    shutil.copytree(built[3], tmp_path / "releases" / built[3].name)
    shutil.copytree(second, copy)
    table = pq.read_table(copy / CHANGES)
    pq.write_table(table.slice(1), copy / CHANGES)  # a change left out
    write_checksums(copy)
    problems = _problems(copy)
    assert any("changes.parquet is not what" in p for p in problems), problems
    (copy / CHANGES).unlink()
    write_checksums(copy)
    assert any("changes.parquet is missing" in p for p in _problems(copy))


def test_takedowns_leave_products_without_url_or_vectors(built, tmp_path, monkeypatch):
    _, db_path, ids, _ = built
    releases = tmp_path / "releases"
    status = pq.read_table(built[3] / "product_image_status.parquet").to_pylist()
    image_of = {r["product_id"]: r["image_id"] for r in status}
    assert main(["takedown", "add", "--product", ids[0], "--reason", "seller asked",
                 "--release-dir", str(releases)]) == 0  # fmt: skip
    add_takedown(releases / "takedowns.csv", "image", image_of[ids[5]], "rights holder")
    release = _release(db_path, releases)
    rows = {r["product_id"]: r for r in
            pq.read_table(release / "product_image_status.parquet").to_pylist()}  # fmt: skip
    for pid in (ids[0], ids[5]):
        assert rows[pid]["status"] == "taken_down" and rows[pid]["image_url"] is None
        assert rows[pid]["image_id"] is None
    features = {
        r["product_id"]: r for r in pq.read_table(release / "product_features.parquet").to_pylist()
    }
    assert features[ids[0]]["clip_image_features"] is None
    assert features[ids[0]]["clip_text_features"] is None
    urls = dict(
        line.split(",", 1) for line in (release / "product_image_urls.csv").read_text().split()[1:]
    )
    assert urls[ids[0]] == "" and urls[ids[5]] == ""
    assert json.loads((release / MANIFEST).read_text())["counts"]["taken_down"] == 2
    assert _problems(release) == []


def test_a_new_takedown_makes_the_next_release_even_when_nothing_else_changed(built, tmp_path):
    _, db_path, ids, _ = built
    releases = tmp_path / "releases"
    _release(db_path, releases)
    config = ReleaseConfig(release_dir=releases, coverage_threshold=0.5)
    assert not run_release(db_path, config).published  # nothing changed
    add_takedown(releases / "takedowns.csv", "product", ids[2], "seller asked")
    assert run_release(db_path, config).published


def test_two_builds_of_the_same_inputs_are_the_same_bytes(built, tmp_path):
    root, db_path, _, _ = built
    examples = root / "sqd" / EXAMPLES
    a = _release(db_path, tmp_path / "a", version="v1.0.0", examples=examples)
    b = _release(db_path, tmp_path / "b", version="v2.0.0", examples=examples)
    created = {p: json.loads((p / MANIFEST).read_text())["created_at"] for p in (a, b)}
    names = sorted(str(p.relative_to(a)) for p in a.rglob("*") if p.is_file())
    assert names == sorted(str(p.relative_to(b)) for p in b.rglob("*") if p.is_file())
    manifest = json.loads((a / MANIFEST).read_text())
    for key in ("package_version", "git_commit", "airflow_version"):
        assert manifest["pipeline"][key]
    assert re.fullmatch(r"[0-9a-f]{64}", manifest["model"]["weights_sha256"])
    assert manifest["index"]

    def normalised(release, name):
        data = (release / name).read_bytes()
        for old in (release.name, release.name.lstrip("v"), created[release],
                    created[release][:10]):  # fmt: skip
            data = data.replace(old.encode(), b"<varies>")
        return data

    different = [n for n in names if n != "SHA256SUMS" and normalised(a, n) != normalised(b, n)]
    assert different == []


def test_publish_dry_run_lists_what_it_would_send(built, capsys, monkeypatch):
    release = built[3]
    assert main(["publish", str(release), "--hub-repo", "someone/sqid", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "someone/sqid (dataset), tag v0.1.0: SQID v0.1.0" in out
    for name in ("product_features.parquet", "README.md", "SHA256SUMS", "index/image.faiss"):
        assert re.search(rf"^\s+[\d,]+\s+{re.escape(name)}$", out, re.M), name
    assert "dry run: nothing was sent" in out
    monkeypatch.delenv("HF_TOKEN", raising=False)
    assert main(["publish", str(release), "--hub-repo", "someone/sqid"]) == 2
    assert "set HF_TOKEN" in capsys.readouterr().err
    assert main(["publish", str(release), "--hub-repo", "not-a-repo", "--dry-run"]) == 2


def test_publish_refuses_an_invalid_release(built, tmp_path, capsys):
    copy = tmp_path / built[3].name
    shutil.copytree(built[3], copy)
    pq.write_table(pa.table({"x": [1]}), copy / "query_features.parquet")
    assert main(["publish", str(copy), "--hub-repo", "someone/sqid", "--dry-run"]) == 1
    assert "not valid; nothing was sent" in capsys.readouterr().err
