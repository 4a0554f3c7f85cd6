SELECT sha256 FROM image_embeddings WHERE model_id = $model_id AND revision = $revision
