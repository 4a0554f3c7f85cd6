SELECT url, sha256 FROM image_fetches WHERE status = 'ok'
