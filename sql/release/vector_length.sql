-- The length of one of the model's image vectors (to size the slices vectors are read in).
SELECT len(embedding)
FROM image_embeddings
WHERE model_id = $model_id AND revision = $revision
LIMIT 1
