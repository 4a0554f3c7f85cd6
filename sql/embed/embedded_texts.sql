SELECT text_sha256 FROM text_embeddings WHERE model_id = $model_id AND revision = $revision
