package httpapi

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
	"strconv"
	"sync"

	"github.com/danielgtaylor/huma/v2"
)

// The JSON of the answers. Huma marshals a body with encoding/json (HTML left unescaped).
// An envelope writes its own frame (status, errors, meta) around its result instead: a
// front end polls the status routes every few seconds, and the profile of GET
// /cluster/status put the reflective encoding of the envelope first among the costs
// skygate adds to a bare server. The bytes are the same as encoding/json's
// (TestEnvelopeJSONIsEncodingJSON, FuzzEnvelopeJSON).

// jsonAppender is a value that appends its own JSON, without a trailing newline.
type jsonAppender interface {
	appendJSON(b []byte) ([]byte, error)
}

// jsonFormat is the format of every application/json answer.
var jsonFormat = huma.Format{Marshal: marshalJSON, Unmarshal: json.Unmarshal}

// largeResult is the size from which an encoded result is written as it is, between the
// envelope's head and tail, rather than copied into the answer's buffer first: the
// listing of a large fleet is 150 KB a request.
const largeResult = 16 << 10

// marshalJSON writes v and a newline, as Huma's default JSON format does.
func marshalJSON(w io.Writer, v any) error {
	if e, ok := v.(largeEncodedResult); ok {
		if head, result, tail, ok := e.split(); ok {
			for _, part := range [][]byte{head, result, tail} {
				if _, err := w.Write(part); err != nil {
					return err
				}
			}
			return nil
		}
	}
	a, ok := v.(jsonAppender)
	if !ok {
		return huma.DefaultJSONFormat.Marshal(w, v)
	}
	bp := answerBuffers.Get().(*[]byte)
	b, err := a.appendJSON((*bp)[:0])
	if err == nil {
		_, err = w.Write(append(b, '\n'))
	}
	if cap(b) <= maxPooledAnswer {
		*bp = b[:0]
		answerBuffers.Put(bp)
	}
	return err
}

// maxPooledAnswer bounds the buffers kept for reuse, so that one large answer does not
// stay allocated for good.
const maxPooledAnswer = 256 << 10

var answerBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// appendValue appends v as Huma's encoder writes it: encoding/json, HTML unescaped.
func appendValue(b []byte, v any) ([]byte, error) {
	buf := bytes.NewBuffer(b)
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return b, err
	}
	out := buf.Bytes()
	return out[:len(out)-1], nil // Encode's newline
}

// appendString appends s as a JSON string. Printable ASCII other than a quote or a
// backslash needs no escape; anything else goes through encoding/json.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			out, err := appendValue(b, s)
			if err != nil { // a string always encodes
				panic(err)
			}
			return out
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendFloat appends f as encoding/json does: the shortest decimal form, and the
// exponent form only for very small or very large magnitudes (left to encoding/json).
func appendFloat(b []byte, f float64) ([]byte, error) {
	if abs := math.Abs(f); abs == 0 || (abs >= 1e-6 && abs < 1e21) {
		return strconv.AppendFloat(b, f, 'f', -1, 64), nil
	}
	return appendValue(b, f)
}

func (m Meta) appendJSON(b []byte) ([]byte, error) {
	b = append(b, `{"path":`...)
	b = appendString(b, m.Path)
	b = append(b, `,"timestamp":`...)
	b = appendString(b, m.Timestamp)
	b = append(b, `,"duration_ms":`...)
	b, err := appendFloat(b, m.DurationMS)
	if err != nil {
		return b, err
	}
	return append(b, '}'), nil
}

func (e Envelope[T]) appendJSON(b []byte) ([]byte, error) {
	b = e.appendHead(b)
	var err error
	if e.encodedResult != nil {
		b = append(b, e.encodedResult...)
	} else if b, err = appendValue(b, e.Result); err != nil {
		return b, err
	}
	return e.appendTail(b)
}

// appendHead appends what comes before the result; appendTail what comes after it.
func (e Envelope[T]) appendHead(b []byte) []byte {
	b = append(b, `{"status":`...)
	b = appendString(b, e.Status)
	return append(b, `,"result":`...)
}

func (e Envelope[T]) appendTail(b []byte) ([]byte, error) {
	b = append(b, `,"errors":null,"meta":`...)
	b, err := e.Meta.appendJSON(b)
	if err != nil {
		return b, err
	}
	return append(b, '}'), nil
}

// largeEncodedResult is an envelope that may hold a large encoded result.
type largeEncodedResult interface {
	split() (head, result, tail []byte, ok bool)
}

// split returns the JSON of an envelope whose encoded result is large in three parts,
// the result's as it is and the tail with its newline; ok is false for any other.
func (e Envelope[T]) split() (head, result, tail []byte, ok bool) {
	if len(e.encodedResult) < largeResult {
		return nil, nil, nil, false
	}
	tail, err := e.appendTail(nil)
	if err != nil {
		return nil, nil, nil, false
	}
	return e.appendHead(nil), e.encodedResult, append(tail, '\n'), true
}

// MarshalJSON writes the envelope as marshalJSON does, for any other encoder.
func (e Envelope[T]) MarshalJSON() ([]byte, error) { return e.appendJSON(nil) }
