package bot

// repliesDE are the replies in German (Sie). GSM-7 has ä, ö, ü and ß, so
// every text stays in one segment of 160. STOP is the word people know.
var repliesDE = map[string]string{
	ReplyLink:          `{{.Name}}: Telefon verknüpfen: {{.URL}} (gültig {{.Minutes}} Min.). Nicht angefordert? Ignorieren.`,
	ReplyLinkLimit:     `{{.Name}}: zu viele Login-Links für dieses Telefon. Bitte später erneut versuchen.`,
	ReplyCodePrompt:    `{{.Name}}: Antworten Sie mit dem 6-stelligen Code von der Login-Seite. Geben Sie ihn niemandem weiter.`,
	ReplySubscribed:    `{{.Name}}: Fertig! Dieses Telefon ist jetzt mit {{.Email}} verknüpft. H für Hilfe.`,
	ReplyWrongCode:     `{{.Name}}: falscher Code. Noch {{.Left}} {{if eq .Left 1}}Versuch{{else}}Versuche{{end}}.`,
	ReplyLocked:        `{{.Name}}: zu oft ein falscher Code. Senden Sie S für einen neuen Link.`,
	ReplyCodeExpired:   `{{.Name}}: Dieser Code ist abgelaufen. Senden Sie S für einen neuen Link.`,
	ReplyCodeHint:      `{{.Name}}: Antworten Sie mit dem 6-stelligen Code von der Login-Seite oder senden Sie S für einen neuen Link.`,
	ReplyLoginHint:     `{{.Name}}: Öffnen Sie den Link aus unserer SMS und melden Sie sich an, oder senden Sie S für einen neuen Link. H für Hilfe.`,
	ReplyHint:          `{{.Name}}: S zum Abonnieren, H für Hilfe.`,
	ReplyUnknown:       `{{.Name}}: unbekannter Befehl. H für Hilfe.`,
	ReplyUnsubscribed:  `{{.Name}}: abgemeldet. Dieses Telefon ist nicht mehr mit Ihrem Konto verknüpft. S zum erneuten Abonnieren.`,
	ReplyNotSubscribed: `{{.Name}}: Dieses Telefon ist nicht angemeldet. S zum Abonnieren.`,
	ReplyReplaced:      `{{.Name}}: Dieses Telefon ist nicht mehr mit {{.Email}} verknüpft, das Konto nutzt jetzt ein anderes. S = wieder verknüpfen.`,
	ReplyHelpIdle:      `{{.Name}}: S = abonnieren (dieses Telefon mit Ihrem Konto verknüpfen), H = Hilfe, STOP = keine SMS mehr. Es können Gebühren für SMS und Daten anfallen.`,
	ReplyHelpLogin:     `{{.Name}}: Öffnen Sie unseren Link und melden Sie sich an. S = neuer Link, H = Hilfe, STOP = keine SMS mehr. Es können Gebühren für SMS und Daten anfallen.`,
	ReplyHelpCode:      `{{.Name}}: Antworten Sie mit dem Code der Login-Seite. S = neuer Link, H = Hilfe, STOP = keine SMS mehr. Es können Gebühren für SMS und Daten anfallen.`,
	ReplyHelpSub:       `{{.Name}}: {{if .Commands}}{{.Commands}}, {{end}}U = trennen, H = Hilfe, STOP = keine SMS mehr. Es können Gebühren für SMS und Daten anfallen.`,
	ReplyStopped:       `{{.Name}}: Sie erhalten keine SMS mehr von uns. Senden Sie STARTEN, um sie wieder zu erhalten.`,
	ReplyStarted:       `{{.Name}}: SMS wieder aktiviert. H für Hilfe.`,
	ReplyWorking:       `{{.Name}}: Einen Moment; die Antwort kommt per SMS.`,
	ReplyReverify:      `{{.Name}}: Bitte bestätigen Sie, dass dieses Telefon noch Ihnen gehört: Senden Sie S, um es neu zu verknüpfen. H für Hilfe.`,
	ReplyCodeLimit:     `{{.Name}}: zu viele falsche Codes für dieses Konto heute. Bitte morgen erneut versuchen.`,
	ReplyLanguages:     `{{.Name}}: Wir schreiben Ihnen auf Deutsch. Zum Ändern senden Sie LANG und das Kürzel der Sprache: {{.Choices}}.`,
	ReplyLanguageSet:   `{{.Name}}: Ab jetzt schreiben wir Ihnen auf Deutsch. H für Hilfe.`,
	ReplyFailed:        `{{.Name}}: Bei uns ist etwas schiefgelaufen. Bitte versuchen Sie es erneut.`,
}
