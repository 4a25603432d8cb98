package bot

// repliesPT are the replies in Brazilian Portuguese (você, written
// around: "você" itself has ê). Texts over 70 characters avoid ã, õ, ç
// and the accents GSM-7 lacks (all but é and à), so that they fit one
// segment of 160: "algarismos" for digits, "site" for page, no "não".
var repliesPT = map[string]string{
	ReplyLink:          `{{.Name}}: vincule este telefone em {{.URL}} (vale {{.Minutes}} min). Ignore se foi engano.`,
	ReplyLinkLimit:     `{{.Name}}: links demais para este telefone. Tente mais tarde.`,
	ReplyCodePrompt:    `{{.Name}}: responda com o código da página. Não compartilhe com ninguém.`,
	ReplySubscribed:    `{{.Name}}: pronto! Este telefone foi vinculado a {{.Email}}. Envie H para ajuda.`,
	ReplyWrongCode:     `{{.Name}}: código errado. {{if eq .Left 1}}Resta 1 tentativa{{else}}Restam {{.Left}} tentativas{{end}}.`,
	ReplyLocked:        `{{.Name}}: muitas tentativas erradas. Envie S para receber outro link.`,
	ReplyCodeExpired:   `{{.Name}}: esse código expirou. Envie S para receber outro link.`,
	ReplyCodeHint:      `{{.Name}}: responda com o código da página. S = novo link.`,
	ReplyLoginHint:     `{{.Name}}: abra o link que enviamos e entre na sua conta, ou envie S para receber outro. H = ajuda.`,
	ReplyHint:          `{{.Name}}: envie S para se inscrever ou H para ajuda.`,
	ReplyUnknown:       `{{.Name}}: comando desconhecido. Envie H para ajuda.`,
	ReplyUnsubscribed:  `{{.Name}}: pronto, este telefone foi desvinculado da sua conta. Envie S para se inscrever de novo.`,
	ReplyNotSubscribed: `{{.Name}}: este telefone não está inscrito. Envie S para se inscrever.`,
	ReplyReplaced:      `{{.Name}}: {{.Email}} agora tem outro telefone vinculado no lugar deste. Envie S para vincular este de novo.`,
	ReplyHelpIdle:      `{{.Name}}: S = se inscrever{{if .WebURL}} (ou {{.WebURL}}){{else}} (vincular este telefone à sua conta){{end}}, H = ajuda, SAIR = parar. Podem ser cobradas tarifas de mensagens e dados.`,
	ReplyHelpLogin:     `{{.Name}}: abra o link que enviamos e entre na conta. S = novo link, H = ajuda, SAIR = parar os SMS. Podem ser cobradas tarifas de mensagens e dados.`,
	ReplyHelpCode:      `{{.Name}}: responda com os 6 algarismos mostrados no site. S = novo link, H = ajuda, SAIR = parar os SMS. Podem ser cobradas tarifas de mensagens e dados.`,
	ReplyHelpSub:       `{{.Name}}: {{if .Commands}}{{.Commands}}, {{end}}U = desvincular, H = ajuda, SAIR = parar os SMS. Podem ser cobradas tarifas de mensagens e dados.`,
	ReplyStopped:       `{{.Name}}: pronto, paramos de enviar SMS. Envie INICIAR para receber de novo.`,
	ReplyStarted:       `{{.Name}}: SMS reativados. Envie H para ajuda.`,
	ReplyWorking:       `{{.Name}}: um momento; enviaremos a resposta em outro SMS.`,
	ReplyReverify:      `{{.Name}}: confirme que este telefone ainda é seu: envie S para vincular de novo. H = ajuda.`,
	ReplyCodeLimit:     `{{.Name}}: muitos códigos errados hoje nesta conta. Tente amanhã.`,
	ReplyLanguages:     `{{.Name}}: idioma atual: PT. Para mudar, envie LANG e um destes: {{.Choices}}.`,
	ReplyLanguageSet:   `{{.Name}}: agora escrevemos em português. Envie H para ajuda.`,
	ReplyFailed:        `{{.Name}}: algo deu errado do nosso lado. Tente de novo.`,
	ReplyLinkHint:      `{{.Name}}: {{if .WebURL}}entre em {{.WebURL}} e envie aqui o texto LINK mostrado no site. Ou {{end}}envie S para se inscrever.`,
	ReplyLinkWrong:     `{{.Name}}: código errado. {{if eq .Left 1}}Resta 1 tentativa{{else}}Restam {{.Left}} tentativas{{end}}. Copie exatamente do site.`,
	ReplyLinkLocked:    `{{.Name}}: muitas tentativas erradas. Espere {{.Minutes}} minutos e envie de novo o texto que aparece no site.`,
	ReplyLinkExpired:   `{{.Name}}: esse código expirou. Peça outro no site e envie de novo.`,
	ReplyLinkUsed:      `{{.Name}}: esse código já foi usado. Entre de novo no site e peça outro.`,
}
