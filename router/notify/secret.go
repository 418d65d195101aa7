package notify

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
)

// Versions of a sealed secret (its first byte).
const (
	sealedPlain  = 0 // the secret itself follows: no key was configured
	sealedAESGCM = 1 // key id (4 bytes), nonce (12 bytes), AES-256-GCM ciphertext and tag
)

// secretPrefix starts every webhook secret, so that one found somewhere says what it is.
const secretPrefix = "whsec_"

// SecretBox seals webhook secrets for the database and opens them to sign. With a key (32 bytes,
// configuration notifications.secret_key_file) a secret is sealed with AES-256-GCM, bound to its
// client's id (additional data), so that a database dump alone does not give the secrets away and
// a secret copied to another client's row does not open. Without a key a secret is stored as it is
// (version 0), and the hub warns at start-up. A box opens version 0 secrets whatever its key. A
// SecretBox is safe for concurrent use.
type SecretBox struct {
	aead  cipher.AEAD // nil: no key
	keyID [4]byte
}

// NewSecretBox returns a box that seals with key (32 bytes), or one that does not seal when key is
// empty.
func NewSecretBox(key []byte) (*SecretBox, error) {
	if len(key) == 0 {
		return &SecretBox{}, nil
	}
	if len(key) != 32 {
		return nil, fmt.Errorf("notification key: want 32 bytes, got %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("notification key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("notification key: %w", err)
	}
	b := &SecretBox{aead: aead}
	sum := sha256.Sum256(key)
	copy(b.keyID[:], sum[:])
	return b, nil
}

// LoadSecretBox reads the key from path: 64 hexadecimal characters (32 bytes, as `openssl rand
// -hex 32` writes them), surrounding white space ignored. An empty path gives a box that does not
// seal.
func LoadSecretBox(path string) (*SecretBox, error) {
	if path == "" {
		return NewSecretBox(nil)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read notification key: %w", err)
	}
	key, err := hex.DecodeString(string(bytes.TrimSpace(raw)))
	if err != nil {
		return nil, errors.New("notification key: the file must hold 64 hexadecimal characters")
	}
	return NewSecretBox(key)
}

// Sealing reports whether the box seals (it has a key).
func (b *SecretBox) Sealing() bool { return b.aead != nil }

// NewSecret returns a new random webhook secret: "whsec_" and 32 random bytes in base64url. The
// HMAC key is the secret's bytes exactly as shown.
func NewSecret() string {
	k := make([]byte, 32)
	_, _ = rand.Read(k) // crypto/rand.Read never fails
	return secretPrefix + base64.RawURLEncoding.EncodeToString(k)
}

func additionalData(client string) []byte { return []byte("appealhub webhook secret\x00" + client) }

// Seal seals the secret of client for storage.
func (b *SecretBox) Seal(client string, secret []byte) ([]byte, error) {
	if b.aead == nil {
		return append([]byte{sealedPlain}, secret...), nil
	}
	out := make([]byte, 0, 1+len(b.keyID)+b.aead.NonceSize()+len(secret)+b.aead.Overhead())
	out = append(append(out, sealedAESGCM), b.keyID[:]...)
	nonce := make([]byte, b.aead.NonceSize())
	_, _ = rand.Read(nonce)
	out = append(out, nonce...)
	return b.aead.Seal(out, nonce, secret, additionalData(client)), nil
}

// Open returns the secret Seal sealed for client. It fails on a secret sealed with another key,
// for another client, or changed.
func (b *SecretBox) Open(client string, sealed []byte) ([]byte, error) {
	if len(sealed) == 0 {
		return nil, errors.New("open webhook secret: none stored")
	}
	switch sealed[0] {
	case sealedPlain:
		return sealed[1:], nil
	case sealedAESGCM:
	default:
		return nil, fmt.Errorf("open webhook secret: unknown version %d", sealed[0])
	}
	if b.aead == nil {
		return nil, errors.New("open webhook secret: it is sealed and no notification key is configured")
	}
	rest := sealed[1:]
	if len(rest) < len(b.keyID)+b.aead.NonceSize() {
		return nil, errors.New("open webhook secret: truncated")
	}
	if !bytes.Equal(rest[:len(b.keyID)], b.keyID[:]) {
		return nil, errors.New("open webhook secret: sealed with another notification key")
	}
	rest = rest[len(b.keyID):]
	nonce, ct := rest[:b.aead.NonceSize()], rest[b.aead.NonceSize():]
	secret, err := b.aead.Open(nil, nonce, ct, additionalData(client))
	if err != nil {
		return nil, errors.New("open webhook secret: it does not open (changed, or another client's)")
	}
	return secret, nil
}
