package webhooks

import "unicode/utf8"

// TwiML without a DOM. twilio-go's twiml.Messages builds an etree document
// for every answer and serializes it; an answer here is one message or
// none, so it is written directly. The bytes are the ones twiml.Messages
// writes, escaping included (TestAppendTwiML_AsTwilioGo, FuzzAppendTwiML).

const twimlHeader = `<?xml version="1.0" encoding="UTF-8"?>`

// appendTwiML appends the TwiML answer that sends reply as one message,
// or nothing when reply is empty.
func appendTwiML(b []byte, reply string) []byte {
	b = append(b, twimlHeader...)
	if reply == "" {
		return append(b, "<Response/>"...)
	}
	b = append(b, "<Response><Message>"...)
	b = appendXMLText(b, reply)
	return append(b, "</Message></Response>"...)
}

// appendXMLText appends s as XML character data the way etree escapes it:
// & < > ' " as entities, tabs and line ends as they are, and what XML
// cannot hold (control characters, invalid UTF-8) as U+FFFD.
func appendXMLText(b []byte, s string) []byte {
	last := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c < utf8.RuneSelf && c != '&' && c != '<' && c != '>' && c != '\'' && c != '"' {
			i++
			continue
		}
		r, width := rune(c), 1
		if c >= utf8.RuneSelf {
			r, width = utf8.DecodeRuneInString(s[i:])
		}
		var esc string
		switch {
		case r == '&':
			esc = "&amp;"
		case r == '<':
			esc = "&lt;"
		case r == '>':
			esc = "&gt;"
		case r == '\'':
			esc = "&apos;"
		case r == '"':
			esc = "&quot;"
		case r == '\t' || r == '\n' || r == '\r':
		case !xmlChar(r) || r == utf8.RuneError && width == 1:
			esc = "\uFFFD"
		}
		if esc == "" {
			i += width
			continue
		}
		b = append(b, s[last:i]...)
		b = append(b, esc...)
		i += width
		last = i
	}
	return append(b, s[last:]...)
}

// xmlChar tells whether XML 1.0 can hold r.
func xmlChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}
