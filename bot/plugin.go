package bot

import "context"

// Plugin is a set of commands for subscribed phones (a thermostat, ...).
// The conversation core knows nothing of what a plugin controls.
type Plugin interface {
	// Help returns a short line for the help reply, such as
	// "GT = temperatures".
	Help() string
	// Handle answers a subscribed phone's text. It reports handled=false
	// when the text is not one of its commands. An *Error's message is
	// texted to the person; any other error gets a generic answer.
	Handle(ctx context.Context, req Request) (reply string, handled bool, err error)
}

// Request is a subscribed phone's text for a plugin.
type Request struct {
	Phone  string
	UserID string
	Text   string   // trimmed
	Words  []string // Text split on white space
}
