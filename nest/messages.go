package nest

import (
	"fmt"

	"github.com/smsbot/smsbot/bot"
)

// The keys of the thermostat's answers. messagesEN holds the English
// formats; the other languages translate them (messages_*.go), with the
// same verbs, in the same order or indexed (%[2]s).
const (
	mHelp         = "help"
	mLinkFirst    = "link_first"
	mLinkExpired  = "link_expired"
	mNoGoogle     = "no_google"
	mBusy         = "busy"
	mFailed       = "failed"
	mNone         = "none"
	mSetUsage     = "set_usage"
	mModeUsage    = "mode_usage"
	mOffline      = "offline"       // name
	mEcoFirst     = "eco_first"     // name, name in lower case
	mOffFirst     = "off_first"     // name, name in lower case
	mWantRange    = "want_range"    // name, name in lower case
	mWantOne      = "want_one"      // name, mode, name in lower case
	mPickF        = "pick_f"        //
	mPickC        = "pick_c"        //
	mLowFirst     = "low_first"     // name in lower case
	mSetDone      = "set_done"      // name, mode, temperature with its unit
	mNoEco        = "no_eco"        // name
	mAlreadyEco   = "already_eco"   // name
	mModeSet      = "mode_set"      // name, mode
	mCantDo       = "cant_do"       // name, mode, modes
	mAlready      = "already"       // name, mode
	mWhich        = "which"         // names
	mNoSuch       = "no_such"       // name asked, names
	mCouldBe      = "could_be"      // name asked, names
	mQuotaChanges = "quota_changes" // count, seconds
	mQuotaReads   = "quota_reads"   // count, seconds
	mQuotaLists   = "quota_lists"   // count, seconds
	mWrongMode    = "wrong_mode"    // name, name in lower case
	mGone         = "gone"          // name
	mRefused      = "refused"       // name
	mTheThermo    = "the_thermostat"
)

var messagesEN = map[string]string{
	mHelp:         "GT = temps, ST den 20, MODE den heat/cool/off/eco",
	mLinkFirst:    "Send S to link this phone first.",
	mLinkExpired:  "The link to Google expired: send S to link again.",
	mNoGoogle:     "This account has no Google link: send S and log in with Google.",
	mBusy:         "Google is limiting requests: try again in a minute.",
	mFailed:       "Google's thermostat service failed; try again later.",
	mNone:         "No thermostats visible. Allow access at Google's Partner Connections page, then send GT.",
	mSetUsage:     "Send ST room 20 (or 68F; 19-23 in heatcool).",
	mModeUsage:    "Send MODE room heat, cool, heatcool, off or eco.",
	mOffline:      "%s is offline.",
	mEcoFirst:     "%s is in Eco mode; send MODE %s heat first.",
	mOffFirst:     "%s is off; send MODE %s heat first.",
	mWantRange:    "%s is in heatcool mode: send a range, like ST %s 19-23.",
	mWantOne:      "%s is in %s mode: send one temperature, like ST %s 20.",
	mPickF:        "Pick 49-89F.",
	mPickC:        "Pick 9-32C.",
	mLowFirst:     "Send the low end first, like ST %s 19-23.",
	mSetDone:      "%s: %s set to %s",
	mNoEco:        "%s has no Eco mode.",
	mAlreadyEco:   "%s is already in eco mode.",
	mModeSet:      "%s: mode set to %s",
	mCantDo:       "%s can't do %s (modes: %s).",
	mAlready:      "%s is already in %s mode.",
	mWhich:        "Which one? %s",
	mNoSuch:       "No thermostat %q. Yours: %s",
	mCouldBe:      "%q could be %s. Send more of the name.",
	mQuotaChanges: "Google allows %d thermostat changes a minute: try again in %ds.",
	mQuotaReads:   "Google allows %d thermostat reads a minute: try again in %ds.",
	mQuotaLists:   "Google allows %d thermostat lists a minute: try again in %ds.",
	mWrongMode:    "%s won't take that in its current mode; send GT %s to check.",
	mGone:         "%s is no longer in your Google account.",
	mRefused:      "%s refused that setting.",
	mTheThermo:    "The thermostat",
}

// messages are the answers by language code (bot.Language.Code). The mode
// words (heat, cool, heatcool, off, eco) are the MODE command's and stay
// as they are in every language, as does the GT line.
var messages = map[string]map[string]string{
	bot.English.Code: messagesEN,
	"es":             messagesES,
	"pt-BR":          messagesPT,
	"fr":             messagesFR,
	"de":             messagesDE,
}

// text formats the answer key in language l; English when l has no text
// for it.
func text(l bot.Language, key string, args ...any) string {
	f, ok := messages[l.Code][key]
	if !ok {
		f = messagesEN[key]
	}
	if len(args) == 0 {
		return f
	}
	return fmt.Sprintf(f, args...)
}

// HelpIn implements bot.LocalHelp.
func (p *Plugin) HelpIn(l bot.Language) string { return text(l, mHelp) }
