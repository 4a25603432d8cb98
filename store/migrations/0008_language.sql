-- The language the bot speaks to each phone: a BCP 47 tag ("es-MX"), and
-- where it came from: the country calling code at the first text
-- ('country'), the person's LANG ('chosen'), or the account's locale at a
-- login ('account'). Both stay empty until the phone's next text, which
-- picks the language of its country calling code.
ALTER TABLE phones ADD COLUMN language TEXT NOT NULL DEFAULT ''
	CHECK (length(language) <= 35);
ALTER TABLE phones ADD COLUMN language_source TEXT NOT NULL DEFAULT ''
	CHECK (language_source IN ('', 'country', 'chosen', 'account') AND (language = '') = (language_source = ''));

-- The account's locale at a web login (/link), which the phone that texts
-- its code takes as its language: as long as a language tag may be, ''
-- when the login did not say.
ALTER TABLE web_codes ADD COLUMN locale TEXT NOT NULL DEFAULT ''
	CHECK (length(locale) <= 35);
