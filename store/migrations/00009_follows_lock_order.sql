-- +goose Up
-- Two people following each other at the same moment deadlocked: each
-- follow's trigger locked the followee's profile, then the follower's, so
-- A→B and B→A took the same two rows in opposite orders. The trigger now
-- locks both rows in user id order first.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION follows_count() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    a bigint := CASE WHEN TG_OP = 'INSERT' THEN NEW.follower_id ELSE OLD.follower_id END;
    b bigint := CASE WHEN TG_OP = 'INSERT' THEN NEW.followee_id ELSE OLD.followee_id END;
    d int := CASE WHEN TG_OP = 'INSERT' THEN 1 ELSE -1 END;
BEGIN
    PERFORM 1 FROM profiles WHERE user_id IN (a, b) ORDER BY user_id FOR UPDATE;
    UPDATE profiles SET followers_count = followers_count + d WHERE user_id = b;
    UPDATE profiles SET following_count = following_count + d WHERE user_id = a;
    RETURN NULL;
END $$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION follows_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE profiles SET followers_count = followers_count + 1 WHERE user_id = NEW.followee_id;
        UPDATE profiles SET following_count = following_count + 1 WHERE user_id = NEW.follower_id;
    ELSE
        UPDATE profiles SET followers_count = followers_count - 1 WHERE user_id = OLD.followee_id;
        UPDATE profiles SET following_count = following_count - 1 WHERE user_id = OLD.follower_id;
    END IF;
    RETURN NULL;
END $$;
-- +goose StatementEnd
