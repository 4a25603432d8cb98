package bot

// repliesES are the replies in Spanish, for Spain and Latin America alike
// (tú, no vosotros; "teléfono", neither "móvil" nor "celular"). Texts over
// 70 characters avoid á, í, ó and ú, which GSM-7 lacks, so that they fit
// one segment of 160.
var repliesES = map[string]string{
	ReplyLink:          `{{.Name}}: vincula este teléfono en {{.URL}} (vale {{.Minutes}} min). ¿No lo pediste? Ignora esto.`,
	ReplyLinkLimit:     `{{.Name}}: demasiados enlaces para este teléfono. Prueba más tarde.`,
	ReplyCodePrompt:    `{{.Name}}: responde con el código de la página. Nunca lo compartas.`,
	ReplySubscribed:    `{{.Name}}: ¡listo! Este teléfono queda vinculado a {{.Email}}. Escribe H para ver la ayuda.`,
	ReplyWrongCode:     `{{.Name}}: código incorrecto. {{if eq .Left 1}}Te queda 1 intento{{else}}Te quedan {{.Left}} intentos{{end}}.`,
	ReplyLocked:        `{{.Name}}: demasiados intentos fallidos. Escribe S para pedir otro enlace.`,
	ReplyCodeExpired:   `{{.Name}}: ese código ya no es válido. Escribe S para pedir otro enlace.`,
	ReplyCodeHint:      `{{.Name}}: responde con el código de la página. S = enlace nuevo.`,
	ReplyLoginHint:     `{{.Name}}: abre el enlace que te enviamos para entrar, o escribe S para pedir otro. H = ayuda.`,
	ReplyHint:          `{{.Name}}: escribe S para suscribirte o H para ver la ayuda.`,
	ReplyUnknown:       `{{.Name}}: comando desconocido. Escribe H para ver la ayuda.`,
	ReplyUnsubscribed:  `{{.Name}}: listo, hemos desvinculado este teléfono de tu cuenta. Escribe S para volver a suscribirte.`,
	ReplyNotSubscribed: `{{.Name}}: este teléfono no está suscrito. Escribe S para suscribirte.`,
	ReplyReplaced:      `{{.Name}}: {{.Email}} ahora tiene otro teléfono vinculado en lugar de este. Escribe S para volver a vincularlo.`,
	ReplyHelpIdle:      `{{.Name}}: S = suscribirte{{if .WebURL}} (o en {{.WebURL}}){{else}} (vincula este teléfono a tu cuenta){{end}}, H = ayuda, BAJA = salir. Pueden aplicarse tarifas de mensajes y datos.`,
	ReplyHelpLogin:     `{{.Name}}: abre el enlace que te enviamos y entra. S = enlace nuevo, H = ayuda, BAJA = darte de baja. Pueden aplicarse tarifas de mensajes y datos.`,
	ReplyHelpCode:      `{{.Name}}: responde con las 6 cifras que viste al entrar. S = enlace nuevo, H = ayuda, BAJA = darte de baja. Pueden aplicarse tarifas de mensajes y datos.`,
	ReplyHelpSub:       `{{.Name}}: {{if .Commands}}{{.Commands}}, {{end}}U = desvincular, H = ayuda, BAJA = darte de baja. Pueden aplicarse tarifas de mensajes y datos.`,
	ReplyStopped:       `{{.Name}}: ya no te enviaremos SMS. Escribe COMENZAR para volver a recibirlos.`,
	ReplyStarted:       `{{.Name}}: SMS reactivados. Escribe H para ver la ayuda.`,
	ReplyWorking:       `{{.Name}}: un momento; te enviaremos la respuesta en otro SMS.`,
	ReplyReverify:      `{{.Name}}: confirma que este teléfono sigue siendo tuyo: escribe S para vincularlo de nuevo. H = ayuda.`,
	ReplyCodeLimit:     `{{.Name}}: demasiados intentos fallidos hoy para esta cuenta. Vuelve a intentarlo mañana.`,
	ReplyLanguages:     `{{.Name}}: te escribimos en español. Para cambiar, escribe LANG y el idioma: {{.Choices}}.`,
	ReplyLanguageSet:   `{{.Name}}: a partir de ahora te escribimos en español. Escribe H para ver la ayuda.`,
	ReplyFailed:        `{{.Name}}: algo falló por nuestra parte. Inténtalo de nuevo.`,
	ReplyLinkHint:      `{{.Name}}: {{if .WebURL}}entra en {{.WebURL}} y luego escribe el texto LINK que aparece en la web. O {{end}}escribe S para suscribirte.`,
	ReplyLinkWrong:     `{{.Name}}: código incorrecto. {{if eq .Left 1}}Te queda 1 intento{{else}}Te quedan {{.Left}} intentos{{end}}. Cópialo tal cual.`,
	ReplyLinkLocked:    `{{.Name}}: demasiados intentos fallidos. Espera {{.Minutes}} minutos y vuelve a enviar el texto de la web.`,
	ReplyLinkExpired:   `{{.Name}}: ese código ya no es válido. Pide otro en la web y envíalo.`,
	ReplyLinkUsed:      `{{.Name}}: ese código ya se usó. Vuelve a entrar en la web y pide otro.`,
}
