package bot

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
)

// TokenBytes is the size of a link token: 192 random bits.
const TokenBytes = 24

// TokenLen is the length of a link token in base64url without padding.
var TokenLen = base64.RawURLEncoding.EncodedLen(TokenBytes)

// LinkPath is the path of a one-time link under the public URL; the token
// follows it.
const LinkPath = "/l/"

// CodeDigits is the length of a confirmation code.
const CodeDigits = 6

// NewToken returns a fresh link token from r and the SHA-256 that is stored
// in its place.
func NewToken(r io.Reader) (token string, hash []byte, err error) {
	b := make([]byte, TokenBytes)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", nil, fmt.Errorf("token: %w", err)
	}
	token = base64.RawURLEncoding.EncodeToString(b)
	h := sha256.Sum256([]byte(token))
	return token, h[:], nil
}

// HashToken checks the shape of a token and returns its SHA-256. A token of
// the wrong length or alphabet is an EINVALID error.
func HashToken(token string) ([]byte, error) {
	if len(token) != TokenLen {
		return nil, webError(EINVALID, MsgLinkInvalid)
	}
	if _, err := base64.RawURLEncoding.Strict().DecodeString(token); err != nil {
		return nil, webError(EINVALID, MsgLinkInvalid)
	}
	h := sha256.Sum256([]byte(token))
	return h[:], nil
}

// NewCode returns a uniformly random six-digit code read from r.
func NewCode(r io.Reader) (string, error) {
	const n = 1000000
	// Reject the top of the uint32 range so every code is equally likely.
	const limit = (1 << 32) / n * n
	var b [4]byte
	for {
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return "", fmt.Errorf("code: %w", err)
		}
		if v := binary.BigEndian.Uint32(b[:]); v < limit {
			return fmt.Sprintf("%06d", v%n), nil
		}
	}
}

// Keyring derives purpose-bound keys from the server secret.
type Keyring struct {
	secret []byte
	aeads  sync.Map // purpose -> cipher.AEAD, safe for concurrent use
}

// NewKeyring returns a keyring over secret, which must be at least 32 bytes.
func NewKeyring(secret []byte) (*Keyring, error) {
	if len(secret) < 32 {
		return nil, errors.New("keyring: the server secret must be at least 32 bytes")
	}
	return &Keyring{secret: append([]byte(nil), secret...)}, nil
}

func (k *Keyring) key(purpose string) []byte {
	m := hmac.New(sha256.New, k.secret)
	m.Write([]byte("smsbot key\x00" + purpose))
	return m.Sum(nil)
}

// MAC returns HMAC-SHA256 over the parts, under the key for purpose. Parts
// are length-prefixed, so ("ab","c") and ("a","bc") differ.
func (k *Keyring) MAC(purpose string, parts ...string) []byte {
	m := hmac.New(sha256.New, k.key(purpose))
	var n [8]byte
	for _, p := range parts {
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		m.Write(n[:])
		m.Write([]byte(p))
	}
	return m.Sum(nil)
}

// Seal encrypts and authenticates plaintext with the key for purpose
// (AES-256-GCM), reading the nonce from r.
func (k *Keyring) Seal(r io.Reader, purpose string, plaintext []byte) ([]byte, error) {
	aead, err := k.aead(purpose)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plaintext)+aead.Overhead())
	if _, err := io.ReadFull(r, nonce); err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return aead.Seal(nonce, nonce, plaintext, []byte(purpose)), nil
}

// Open reverses Seal. Anything altered, or sealed for another purpose,
// fails.
func (k *Keyring) Open(purpose string, sealed []byte) ([]byte, error) {
	aead, err := k.aead(purpose)
	if err != nil {
		return nil, err
	}
	if len(sealed) < aead.NonceSize()+aead.Overhead() {
		return nil, errors.New("open: too short")
	}
	n := aead.NonceSize()
	out, err := aead.Open(nil, sealed[:n], sealed[n:], []byte(purpose))
	if err != nil {
		return nil, fmt.Errorf("open: %w", err)
	}
	return out, nil
}

func (k *Keyring) aead(purpose string) (cipher.AEAD, error) {
	if a, ok := k.aeads.Load(purpose); ok {
		return a.(cipher.AEAD), nil
	}
	block, err := aes.NewCipher(k.key(purpose))
	if err != nil {
		return nil, fmt.Errorf("cipher: %w", err)
	}
	a, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("cipher: %w", err)
	}
	k.aeads.Store(purpose, a)
	return a, nil
}
