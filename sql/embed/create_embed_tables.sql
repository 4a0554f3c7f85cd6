-- Image downloads (latest per URL) and CLIP vectors keyed by model, revision and content.
CREATE TABLE IF NOT EXISTS image_fetches (
    url         VARCHAR PRIMARY KEY,  -- the URL fetched (a rendition or mirror of image_url)
    image_url   VARCHAR,              -- the product's image_url it stands for
    sha256      VARCHAR,            -- of the downloaded bytes
    status      VARCHAR NOT NULL,   -- ok, not_image, too_large, decode_error, forbidden_host, ...
    error       VARCHAR,
    http_status INTEGER,
    attempts    INTEGER,
    fetched_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE IF NOT EXISTS image_embeddings (
    model_id  VARCHAR NOT NULL,
    revision  VARCHAR NOT NULL,
    sha256    VARCHAR NOT NULL,
    embedding FLOAT[] NOT NULL,
    PRIMARY KEY (model_id, revision, sha256)
);

CREATE TABLE IF NOT EXISTS text_embeddings (
    model_id    VARCHAR NOT NULL,
    revision    VARCHAR NOT NULL,
    text_sha256 VARCHAR NOT NULL,  -- sha256 of the UTF-8 text (title or query)
    embedding   FLOAT[] NOT NULL,
    PRIMARY KEY (model_id, revision, text_sha256)
);
