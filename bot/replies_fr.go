package bot

// repliesFR are the replies in French (vous). Texts over 70 characters
// avoid ç and the accents GSM-7 lacks (ê, â, î, ô, û, ë, ï, œ), so that they
// fit one segment of 160. STOP is the word people in France know.
var repliesFR = map[string]string{
	ReplyLink:          `{{.Name}}: pour lier ce téléphone : {{.URL}} (valable {{.Minutes}} min). Pas demandé ? Ignorez-le.`,
	ReplyLinkLimit:     `{{.Name}}: trop de liens pour ce téléphone. Réessayez plus tard.`,
	ReplyCodePrompt:    `{{.Name}}: répondez avec le code à 6 chiffres affiché sur la page de connexion. Ne le partagez avec personne.`,
	ReplySubscribed:    `{{.Name}}: c'est fait ! Ce téléphone est lié à {{.Email}}. Envoyez H pour l'aide.`,
	ReplyWrongCode:     `{{.Name}}: code incorrect. Il reste {{.Left}} {{if eq .Left 1}}essai{{else}}essais{{end}}.`,
	ReplyLocked:        `{{.Name}}: trop de codes incorrects. Envoyez S pour un nouveau lien.`,
	ReplyCodeExpired:   `{{.Name}}: ce code a expiré. Envoyez S pour un nouveau lien.`,
	ReplyCodeHint:      `{{.Name}}: répondez avec le code à 6 chiffres affiché sur la page de connexion, ou envoyez S pour un nouveau lien.`,
	ReplyLoginHint:     `{{.Name}}: ouvrez le lien que nous vous avons envoyé pour vous connecter, ou envoyez S pour un nouveau lien. H pour l'aide.`,
	ReplyHint:          `{{.Name}}: envoyez S pour vous abonner, H pour l'aide.`,
	ReplyUnknown:       `{{.Name}}: commande inconnue. Envoyez H pour l'aide.`,
	ReplyUnsubscribed:  `{{.Name}}: désabonnement effectué. Ce téléphone n'est plus lié à votre compte. Envoyez S pour vous réabonner.`,
	ReplyNotSubscribed: `{{.Name}}: ce téléphone n'est pas abonné. Envoyez S pour vous abonner.`,
	ReplyReplaced:      `{{.Name}}: ce téléphone n'est plus lié à {{.Email}} : un autre téléphone l'a remplacé. Envoyez S pour le lier à nouveau.`,
	ReplyHelpIdle:      `{{.Name}}: S = s'abonner{{if .WebURL}} (ou via {{.WebURL}}){{else}} (lier ce téléphone à votre compte){{end}}, H = aide, STOP = fin. Des frais de SMS et de données peuvent s'appliquer.`,
	ReplyHelpLogin:     `{{.Name}}: ouvrez le lien envoyé et connectez-vous. S = nouveau lien, H = aide, STOP = plus de SMS. Des frais de SMS et de données peuvent s'appliquer.`,
	ReplyHelpCode:      `{{.Name}}: répondez avec le code à 6 chiffres de la page. S = nouveau lien, H = aide, STOP = plus de SMS. Des frais de SMS et de données peuvent s'appliquer.`,
	ReplyHelpSub:       `{{.Name}}: {{if .Commands}}{{.Commands}}, {{end}}U = dissocier, H = aide, STOP = plus de SMS. Des frais de SMS et de données peuvent s'appliquer.`,
	ReplyStopped:       `{{.Name}}: vous ne recevrez plus de SMS. Envoyez DEMARRER pour les réactiver.`,
	ReplyStarted:       `{{.Name}}: SMS réactivés. Envoyez H pour l'aide.`,
	ReplyWorking:       `{{.Name}}: c'est en cours ; la réponse suivra par SMS.`,
	ReplyReverify:      `{{.Name}}: confirmez que ce téléphone est toujours à vous : envoyez S pour le lier à nouveau. H pour l'aide.`,
	ReplyCodeLimit:     `{{.Name}}: trop de codes incorrects pour ce compte aujourd'hui. Réessayez demain.`,
	ReplyLanguages:     `{{.Name}}: langue actuelle : FR. Pour changer, envoyez LANG et le code de la langue : {{.Choices}}.`,
	ReplyLanguageSet:   `{{.Name}}: désormais, nous vous écrivons en français. H pour l'aide.`,
	ReplyFailed:        `{{.Name}}: une erreur s'est produite chez nous. Veuillez réessayer.`,
	ReplyLinkHint:      `{{.Name}}: {{if .WebURL}}connectez-vous sur {{.WebURL}}, puis envoyez le texte LINK de la page. Ou {{end}}envoyez S pour vous abonner.`,
	ReplyLinkWrong:     `{{.Name}}: ce code n'est pas valide. Il reste {{.Left}} {{if eq .Left 1}}essai{{else}}essais{{end}}. Envoyez LINK et le code exactement comme sur la page.`,
	ReplyLinkLocked:    `{{.Name}}: trop de codes incorrects. Attendez {{.Minutes}} minutes, puis renvoyez le code de la page.`,
	ReplyLinkExpired:   `{{.Name}}: ce code a expiré. Demandez-en un nouveau sur la page et renvoyez-le.`,
	ReplyLinkUsed:      `{{.Name}}: ce code a déjà servi. Reconnectez-vous sur la page pour en obtenir un nouveau.`,
}
