package corpus

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
)

// preludeLen is the fixed start of an event-stream frame: total length, headers length and the
// prelude CRC, each a big-endian uint32 (bedrock-wire.md §3.1); the message CRC ends the frame.
const (
	preludeLen = 12
	minFrame   = preludeLen + 4
)

// Frames splits an application/vnd.amazon.eventstream body into its frames using each frame's
// length prefix. It checks lengths only; [DecodeStream] also checks the CRCs.
func Frames(body []byte) ([][]byte, error) {
	var frames [][]byte
	for off := 0; off < len(body); {
		if len(body)-off < minFrame {
			return nil, fmt.Errorf("corpus: event stream: %d trailing bytes at offset %d", len(body)-off, off)
		}
		total := int(binary.BigEndian.Uint32(body[off:]))
		headers := int(binary.BigEndian.Uint32(body[off+4:]))
		if total < minFrame+headers || off+total > len(body) {
			return nil, fmt.Errorf("corpus: event stream: bad frame at offset %d (total %d, headers %d, body %d)",
				off, total, headers, len(body))
		}
		frames = append(frames, body[off:off+total])
		off += total
	}
	return frames, nil
}

// DecodeStream decodes every frame of an event-stream body with the SDK's own decoder, which
// verifies the prelude and message CRCs.
func DecodeStream(body []byte) ([]eventstream.Message, error) {
	dec := eventstream.NewDecoder()
	r := bytes.NewReader(body)
	var msgs []eventstream.Message
	for r.Len() > 0 {
		m, err := dec.Decode(r, nil)
		if err != nil {
			return nil, fmt.Errorf("corpus: event stream: frame %d: %w", len(msgs), err)
		}
		msgs = append(msgs, m)
	}
	return msgs, nil
}

// HeaderString returns the string value of an event-stream header, or "" if absent.
func HeaderString(m eventstream.Message, name string) string {
	v := m.Headers.Get(name)
	if v == nil {
		return ""
	}
	return v.String()
}
