"""Publishing a release to the Hugging Face Hub: the folder's files as they are, one
commit per version, tagged with the version.

Only a release that passes the validator is sent, and only the files its
``SHA256SUMS`` lists (plus that file): nothing else in the folder leaves the machine.
A dry run says what would be sent, file by file, without a token or a network.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sqid.release.layout import CHECKSUMS, manifest_of, read_checksums


class HubError(RuntimeError):
    """The release cannot be sent: it is not valid, or no token is set."""


@dataclass(frozen=True)
class HubPlan:
    repo: str
    version: str
    message: str
    files: list[tuple[str, int]]
    """(path in the repository, bytes), sorted."""

    @property
    def total_bytes(self) -> int:
        return sum(size for _, size in self.files)

    def describe(self) -> str:
        lines = [f"{self.repo} (dataset), tag {self.version}: {self.message}"]
        lines += [f"  {size:>14,}  {name}" for name, size in self.files]
        lines.append(f"  {self.total_bytes:>14,}  in {len(self.files)} files")
        return "\n".join(lines)


def plan(release: Path, repo: str) -> HubPlan:
    """What publishing ``release`` to ``repo`` sends, after checking the release."""
    from sqid.release.validate import check_release, report

    release = Path(release)
    if repo.count("/") != 1 or not all(repo.split("/")):
        raise HubError(f"--hub-repo must be OWNER/NAME, not {repo!r}")
    problems = check_release(release)
    if problems:
        raise HubError("the release is not valid; nothing was sent\n" + report(problems, release))
    m = manifest_of(release)
    names = sorted([*read_checksums(release), CHECKSUMS])
    files = [(name, (release / name).stat().st_size) for name in names]
    message = f"SQID {m['version']} ({m['counts']['test_products']:,} test products, " \
              f"{m['counts']['supp_products']:,} supplementary)"  # fmt: skip
    return HubPlan(repo, m["version"], message, files)


def publish(release: Path, hub_plan: HubPlan, token: str | None = None) -> str:
    """Send the planned files in one commit and tag it; the commit's URL."""
    from huggingface_hub import HfApi

    token = token or os.environ.get("HF_TOKEN")
    if not token:
        raise HubError("no Hugging Face token: set HF_TOKEN (or --token), or use --dry-run")
    api = HfApi(token=token)
    api.create_repo(hub_plan.repo, repo_type="dataset", exist_ok=True)
    commit = api.upload_folder(
        folder_path=str(release), repo_id=hub_plan.repo, repo_type="dataset",
        commit_message=hub_plan.message, allow_patterns=[name for name, _ in hub_plan.files],
    )  # fmt: skip
    api.create_tag(hub_plan.repo, tag=hub_plan.version, repo_type="dataset", exist_ok=True)
    return str(commit)
