-- The web-first path: a person logs in at /link, the page shows a code, and
-- the person texts LINK and the code from the phone to link. One code per
-- login (a new one replaces it); only its HMAC is kept, unique so that a text
-- finds its login. Kept two days after it expired.
CREATE TABLE web_codes (
	login      TEXT PRIMARY KEY,
	code_mac   BYTEA NOT NULL UNIQUE,
	user_id    TEXT NOT NULL,
	email      TEXT NOT NULL DEFAULT '',
	issued     INTEGER NOT NULL CHECK (issued >= 1),
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL,
	used_at    BIGINT NOT NULL DEFAULT 0,
	phone      TEXT NOT NULL DEFAULT '',
	CHECK ((used_at = 0) = (phone = ''))
);
CREATE INDEX web_codes_expires ON web_codes (expires_at);

-- Every wrong web code, by the phone that texted it: a phone gets a few in
-- ten minutes, then silence. Kept a day.
CREATE TABLE link_misses (
	id    BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	phone TEXT NOT NULL,
	at    BIGINT NOT NULL
);
CREATE INDEX link_misses_phone ON link_misses (phone, at);
