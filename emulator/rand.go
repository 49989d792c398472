package emulator

import (
	"crypto/sha256"
	"encoding/binary"
	"math/rand/v2"
)

// seededRand returns a generator whose sequence depends only on the emulator's seed and the given
// parts, so the same request always gives the same reply.
func seededRand(seed uint64, parts ...[]byte) *rand.Rand {
	h := sha256.New()
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], seed)
	h.Write(b[:])
	for _, p := range parts {
		binary.LittleEndian.PutUint64(b[:], uint64(len(p)))
		h.Write(b[:])
		h.Write(p)
	}
	sum := h.Sum(nil)
	return rand.New(rand.NewPCG(binary.LittleEndian.Uint64(sum[:8]), binary.LittleEndian.Uint64(sum[8:16])))
}

// idChars are the characters of Bedrock's tool-use and message ids.
const idChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"

func randomID(rng *rand.Rand, prefix string, n int) string {
	b := make([]byte, len(prefix)+n)
	copy(b, prefix)
	for i := len(prefix); i < len(b); i++ {
		b[i] = idChars[rng.IntN(len(idChars))]
	}
	return string(b)
}
