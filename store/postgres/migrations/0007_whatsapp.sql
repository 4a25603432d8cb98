-- WhatsApp: a number is one phone whatever the channel it writes on.
-- channel is the channel of the phone's last text, where the outbox's texts
-- go; whatsapp_seen the time of its last WhatsApp message, which opens
-- WhatsApp's 24-hour window for free-form messages (0: none known);
-- proven the channels a code for the binding came back on. The bindings
-- made before were proven over SMS.
ALTER TABLE phones ADD COLUMN channel TEXT NOT NULL DEFAULT 'sms'
	CHECK (channel IN ('sms', 'whatsapp'));
ALTER TABLE phones ADD COLUMN whatsapp_seen BIGINT NOT NULL DEFAULT 0;
ALTER TABLE phones ADD COLUMN proven TEXT NOT NULL DEFAULT ''
	CHECK (proven IN ('', 'sms', 'whatsapp', 'sms,whatsapp'));
UPDATE phones SET proven = 'sms' WHERE user_id IS NOT NULL;

-- A text's channel; the reply it renders, whose WhatsApp template carries
-- it outside the window, with the template's ContentVariables; how many
-- texts of its chain Twilio took but could not deliver; and whether a
-- status callback has taken this one's failure already.
ALTER TABLE outbox ADD COLUMN channel TEXT NOT NULL DEFAULT 'sms'
	CHECK (channel IN ('sms', 'whatsapp'));
ALTER TABLE outbox ADD COLUMN template TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN vars TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN resends INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN undelivered BOOLEAN NOT NULL DEFAULT false;
-- A status callback names the message: find its job.
CREATE INDEX outbox_result ON outbox (result) WHERE result <> '';
