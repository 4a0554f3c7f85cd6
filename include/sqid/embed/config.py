"""One embed run's configuration: every default, and where each setting comes from."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqid.embed.clip import model_revision
from sqid.embed.images import ImagePolicy
from sqid.imageurl import (
    AMAZON_IMAGE_HOSTS,
    CANONICAL_HOST,
    UrlParts,
    parse_image_url,
    rendition_url,
    split_url,
)
from sqid.setting import default_of
from sqid.settings import DEFAULT_MODEL_ID, EMBED

AS_SCRAPED = "as_scraped"
ORIGINAL = "original"


@dataclass(frozen=True)
class EmbedConfig:
    model_id: str = DEFAULT_MODEL_ID
    revision: str | None = None
    """None: the rule of :func:`sqid.embed.clip.model_revision`."""
    device: str = default_of(EMBED, "device")
    batch_size: int = default_of(EMBED, "batch_size")
    text_batch_size: int = 256
    workers: int = 2
    """Threads decoding and preprocessing images while the model computes."""
    download_workers: int = 8
    rendition: str = default_of(EMBED, "rendition")
    """``as_scraped`` (the release's image_url), ``original``, or modifiers like ``_SX224_``."""
    image_cdn: str | None = None
    """Fetch from this base URL instead of the Amazon CDN (a mirror; tests and the demo)."""
    checkpoint_every: int = 512
    policy: ImagePolicy = field(default_factory=ImagePolicy)

    @classmethod
    def resolve(cls, params: Mapping[str, Any], env: Mapping[str, str] = os.environ) -> EmbedConfig:
        """The configuration of a run, every source in one place: these defaults; the
        environment (``SQID_EMBED_MODEL``, ``SQID_EMBED_REVISION``, the image mirror
        ``SQID_IMAGE_CDN`` and the download policy's exceptions); the run's Params where
        they are set. The revision follows :func:`sqid.embed.clip.model_revision`."""
        extra_hosts = {h for h in env.get("SQID_IMAGE_EXTRA_HOSTS", "").split(",") if h}
        mirror = split_url(env.get("SQID_IMAGE_CDN") or "")
        policy = ImagePolicy(
            allowed_hosts=AMAZON_IMAGE_HOSTS | extra_hosts,
            allow_http=env.get("SQID_IMAGE_ALLOW_HTTP", "") == "1",
            allow_private_addresses=env.get("SQID_IMAGE_ALLOW_PRIVATE", "") == "1",
            # Only the mirror's own port, if it names one: Amazon's URLs name none.
            allowed_ports=frozenset({mirror.port})
            if isinstance(mirror, UrlParts) and mirror.port
            else frozenset(),
        )
        return cls(
            model_id=params.get("model_id") or env.get("SQID_EMBED_MODEL", cls.model_id),
            revision=params.get("revision") or env.get("SQID_EMBED_REVISION") or None,
            device=params.get("device") or cls.device,
            batch_size=params.get("batch_size") or cls.batch_size,
            rendition=params.get("rendition") or cls.rendition,
            image_cdn=env.get("SQID_IMAGE_CDN") or None,
            policy=policy,
        )

    def model_revision(self) -> str:
        return model_revision(self.model_id, self.revision)

    def fetch_url(self, image_url: str) -> str:
        """The URL of the rendition to embed (what ``image_fetches.url`` records)."""
        ref = parse_image_url(image_url)
        if ref is not None and self.rendition != AS_SCRAPED and "_CLa" not in ref.modifiers:
            mods = "" if self.rendition == ORIGINAL else self.rendition
            return rendition_url(ref.image_id, ref.ext, mods, ref.prefix)
        return image_url

    def transport_url(self, url: str) -> str:
        """Where the bytes are actually requested: the mirror, if one is configured."""
        parts = url.split("/", 3)
        if (
            self.image_cdn
            and len(parts) == 4
            and parts[2] in self.policy.allowed_hosts | {CANONICAL_HOST}
        ):
            return f"{self.image_cdn.rstrip('/')}/{parts[3]}"
        return url
