-- +goose Up
-- Accounts, profiles, follows, notifications and the mail outbox.

CREATE TABLE users (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username            text        NOT NULL,
    email               text        NOT NULL,
    password_hash       text        NOT NULL,
    verified_at         timestamptz,
    is_admin            boolean     NOT NULL DEFAULT false,
    password_changed_at timestamptz NOT NULL DEFAULT now(),
    created_at          timestamptz NOT NULL DEFAULT now()
);
-- Uniqueness ignores case: "Alice" and "alice" are the same person.
CREATE UNIQUE INDEX users_username_key ON users (lower(username));
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE profiles (
    user_id         bigint      PRIMARY KEY REFERENCES users ON DELETE CASCADE,
    display_name    text        NOT NULL DEFAULT '',
    about           text        NOT NULL DEFAULT '',
    country         text        NOT NULL DEFAULT '',
    city            text        NOT NULL DEFAULT '',
    photo           text        NOT NULL DEFAULT '', -- file name under MEDIA_ROOT
    followers_count bigint      NOT NULL DEFAULT 0,
    following_count bigint      NOT NULL DEFAULT 0,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE follows (
    follower_id bigint      NOT NULL REFERENCES users ON DELETE CASCADE,
    followee_id bigint      NOT NULL REFERENCES users ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (follower_id, followee_id),
    CHECK (follower_id <> followee_id)
);
CREATE INDEX follows_followee_idx ON follows (followee_id, created_at DESC, follower_id);
CREATE INDEX follows_follower_idx ON follows (follower_id, created_at DESC, followee_id);

-- The counters follow the rows through a trigger, so a cascade from a
-- deleted account keeps everyone else's counts right too.
-- +goose StatementBegin
CREATE FUNCTION follows_count() RETURNS trigger LANGUAGE plpgsql AS $$
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
CREATE TRIGGER follows_count AFTER INSERT OR DELETE ON follows
    FOR EACH ROW EXECUTE FUNCTION follows_count();

-- Refresh tokens rotate: each use marks the row used and issues a new one in
-- the same family. Presenting a used token revokes the whole family.
CREATE TABLE refresh_tokens (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id    bigint      NOT NULL REFERENCES users ON DELETE CASCADE,
    family     uuid        NOT NULL,
    token_hash bytea       NOT NULL UNIQUE, -- sha256 of the opaque token
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    revoked_at timestamptz
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family);
CREATE INDEX refresh_tokens_user_idx ON refresh_tokens (user_id);
CREATE INDEX refresh_tokens_expires_idx ON refresh_tokens (expires_at);

-- Single-use links sent by mail.
CREATE TABLE account_tokens (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id    bigint      NOT NULL REFERENCES users ON DELETE CASCADE,
    purpose    text        NOT NULL CHECK (purpose IN ('verify_email', 'reset_password', 'change_email')),
    token_hash bytea       NOT NULL UNIQUE,
    new_email  text,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE INDEX account_tokens_user_idx ON account_tokens (user_id, purpose);
CREATE INDEX account_tokens_expires_idx ON account_tokens (expires_at);

CREATE TABLE notifications (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id    bigint      NOT NULL REFERENCES users ON DELETE CASCADE,
    kind       text        NOT NULL,
    actor_id   bigint      REFERENCES users ON DELETE SET NULL,
    data       jsonb       NOT NULL DEFAULT '{}',
    read_at    timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notifications_user_idx ON notifications (user_id, id DESC);
CREATE INDEX notifications_unread_idx ON notifications (user_id) WHERE read_at IS NULL;

-- Mail that must go out. The row is written in the transaction that decides
-- to send it; an asynq task delivers it, and a periodic job re-enqueues rows
-- whose task was lost.
CREATE TABLE outbox_mail (
    id         uuid        PRIMARY KEY,
    user_id    bigint      REFERENCES users ON DELETE CASCADE,
    to_addr    text        NOT NULL,
    subject    text        NOT NULL,
    body       text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at    timestamptz,
    attempts   int         NOT NULL DEFAULT 0,
    last_error text
);
CREATE INDEX outbox_mail_pending_idx ON outbox_mail (created_at) WHERE sent_at IS NULL;

-- Generated secrets every node must share (the JWT key when none is set).
CREATE TABLE app_secrets (
    name       text        PRIMARY KEY,
    value      bytea       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE app_secrets, outbox_mail, notifications, account_tokens, refresh_tokens, follows, profiles, users;
DROP FUNCTION follows_count();
