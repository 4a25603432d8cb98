package webhooks

import (
	"fmt"

	messaging "github.com/twilio/twilio-go/rest/messaging/v2"

	"github.com/smsbot/smsbot/bot"
)

// SandboxNumber is the number of Twilio's WhatsApp Sandbox, shared by
// every account that tries WhatsApp before registering a sender.
const SandboxNumber = "+14155238886"

// WhatsAppSender is one of the account's WhatsApp senders.
type WhatsAppSender struct {
	Phone  string // E.164, without "whatsapp:"
	Status string // ONLINE when it can send; CREATING, OFFLINE, ... otherwise
	// CallbackURL is where its incoming messages go (POST); "" when it
	// leaves them to a Messaging Service.
	CallbackURL string
}

// WhatsAppSenders lists the account's WhatsApp senders (Messaging API
// v2, Channels Senders).
func (a *Admin) WhatsAppSenders() ([]WhatsAppSender, error) {
	list, err := a.rc.MessagingV2.ListChannelsSender((&messaging.ListChannelsSenderParams{}).SetChannel("whatsapp").SetLimit(500))
	if err != nil {
		return nil, a.err(err)
	}
	var out []WhatsAppSender
	for _, s := range list {
		phone, _ := bot.SplitAddress(deref(s.SenderId))
		ws := WhatsAppSender{Phone: phone, Status: deref(s.Status)}
		if s.Webhook != nil {
			ws.CallbackURL = deref(s.Webhook.CallbackUrl)
		}
		out = append(out, ws)
	}
	return out, nil
}

// TemplateApproval is a content template's standing with WhatsApp.
type TemplateApproval struct {
	SID, Name string
	Status    string // approved, pending, rejected, ...; "" when never submitted
	Rejection string // why, when rejected
}

// TemplateApproval fetches the WhatsApp approval of content template sid
// (Content API).
func (a *Admin) TemplateApproval(sid string) (TemplateApproval, error) {
	ap, err := a.rc.ContentV1.FetchApprovalFetch(sid)
	if err != nil {
		return TemplateApproval{}, a.err(err)
	}
	out := TemplateApproval{SID: sid}
	if ap.Whatsapp != nil {
		w := *ap.Whatsapp
		out.Name, out.Status, out.Rejection = str(w["name"]), str(w["status"]), str(w["rejection_reason"])
	}
	return out, nil
}

func str(v any) string {
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}
