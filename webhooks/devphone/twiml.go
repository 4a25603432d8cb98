package devphone

import (
	"bytes"
	"encoding/xml"
	"strings"
)

// reply is one <Message> of a TwiML answer.
type reply struct {
	to   string // the "to" attribute, when the reply goes elsewhere
	body string
}

// twimlResponse is a messaging TwiML document.
type twimlResponse struct {
	XMLName xml.Name    `xml:"Response"`
	Verbs   []twimlVerb `xml:",any"`
}

// twimlVerb is any child of <Response>; only <Message> is acted upon.
type twimlVerb struct {
	XMLName xml.Name
	To      string   `xml:"to,attr"`
	Text    string   `xml:",chardata"`
	Body    []string `xml:"Body"`
	Media   []string `xml:"Media"`
}

// parseTwiML reads the replies out of a messaging TwiML document:
// <Message>text</Message> or <Message><Body>text</Body><Media>url</Media></Message>.
// It returns the names of other verbs (Redirect, ...), which the Dev Phone
// does not carry out.
func parseTwiML(doc []byte) ([]reply, []string, error) {
	var resp twimlResponse
	if err := xml.NewDecoder(bytes.NewReader(doc)).Decode(&resp); err != nil {
		return nil, nil, err
	}
	var replies []reply
	var ignored []string
	for _, v := range resp.Verbs {
		if v.XMLName.Local != "Message" {
			ignored = append(ignored, v.XMLName.Local)
			continue
		}
		body := v.Text
		if len(v.Body) > 0 {
			body = strings.Join(v.Body, "")
		}
		lines := []string{strings.TrimSpace(body)}
		for _, m := range v.Media {
			lines = append(lines, strings.TrimSpace(m))
		}
		text := strings.TrimSpace(strings.Join(lines, "\n"))
		if text == "" {
			continue // Twilio sends nothing for an empty <Message/>
		}
		replies = append(replies, reply{to: strings.TrimSpace(v.To), body: text})
	}
	return replies, ignored, nil
}
