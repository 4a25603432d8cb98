package magiclink

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/auth0/go-auth0/management"

	"github.com/smsbot/smsbot/bot"
)

// GoogleProvider is the provider name of Auth0's Google social connection.
const GoogleProvider = "google-oauth2"

// GoogleTokens returns the access and refresh tokens Google issued to the
// user's google-oauth2 identity, which Auth0 keeps on the user (the
// Management API client needs the read:user_idp_tokens scope). It returns
// an ENOTFOUND *bot.Error when the user, or a Google identity, is missing.
// The tokens are secrets: never log them.
func (d *Directory) GoogleTokens(ctx context.Context, userID string) (accessToken, refreshToken string, err error) {
	u, err := d.m.User.Read(ctx, userID)
	var me management.Error
	if errors.As(err, &me) && me.Status() == http.StatusNotFound {
		return "", "", bot.Errorf(bot.ENOTFOUND, "no such user")
	}
	if err != nil {
		return "", "", fmt.Errorf("auth0 read user: %w", err)
	}
	for _, id := range u.Identities {
		if id.GetProvider() != GoogleProvider {
			continue
		}
		if id.GetAccessToken() == "" && id.GetRefreshToken() == "" {
			// Without read:user_idp_tokens Auth0 leaves the tokens out.
			return "", "", errors.New("auth0 read user: the google identity carries no tokens (is read:user_idp_tokens granted?)")
		}
		return id.GetAccessToken(), id.GetRefreshToken(), nil
	}
	return "", "", bot.Errorf(bot.ENOTFOUND, "no google identity")
}
