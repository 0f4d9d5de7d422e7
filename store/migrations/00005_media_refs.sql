-- +goose Up
-- Collecting a media file asks whether any post or profile still refers
-- to it; without these, each question scanned every post.
CREATE INDEX posts_original_idx ON posts (original) WHERE original <> '';
CREATE INDEX posts_display_idx ON posts (display) WHERE display <> '';
CREATE INDEX posts_thumb_idx ON posts (thumb) WHERE thumb <> '';
CREATE INDEX posts_poster_idx ON posts (poster) WHERE poster <> '';
CREATE INDEX profiles_photo_idx ON profiles (photo) WHERE photo <> '';

-- +goose Down
DROP INDEX posts_original_idx, posts_display_idx, posts_thumb_idx, posts_poster_idx, profiles_photo_idx;
