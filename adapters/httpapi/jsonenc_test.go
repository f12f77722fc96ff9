package httpapi

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"

	"github.com/danielgtaylor/huma/v2"
)

// plainEnvelope has Envelope's fields without its encoder: what encoding/json writes of
// it is what an envelope must write.
type plainEnvelope[T any] struct {
	Status string `json:"status"`
	Result *T     `json:"result"`
	Errors Null   `json:"errors"`
	Meta   Meta   `json:"meta"`
}

func huma2JSON(t testing.TB, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := huma.DefaultJSONFormat.Marshal(&buf, v); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func ourJSON(t testing.TB, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := marshalJSON(&buf, v); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func str(s string) *string { return &s }

func TestEnvelopeJSONIsEncodingJSON(t *testing.T) {
	launched := int64(1796171816)
	results := []StatusResult{
		{Status: "no_server"},
		{Status: "running", Name: str("skygate"), Cloud: str("aws"), Region: str("us-east-1"), IP: str("3.91.153.169"), LaunchedAt: &launched},
		{Status: "error", Name: str("a"), Error: str("<b>Quota</b> exceeded & \"failed\"\n\tline 2 \u2028 \x01 \xff ünïcode")},
	}
	metas := []Meta{
		{Path: "/cluster/status", Timestamp: "2026-12-02T00:36:59.200514569Z", DurationMS: 0.187},
		{Path: "/clusters/a%2Fb/status?x=<y>&z=\"", Timestamp: "", DurationMS: 0},
		{Path: "/\u00e9\u2029\x7f", Timestamp: "2026-12-02T00:36:59Z", DurationMS: 123456.789},
		{Path: "/", DurationMS: 1e-7},
		{Path: "/", DurationMS: 3e21},
		{Path: "/", DurationMS: -0.5},
	}
	for _, r := range results {
		for _, m := range metas {
			want := huma2JSON(t, plainEnvelope[StatusResult]{Status: "success", Result: &r, Meta: m})
			got := ourJSON(t, Envelope[StatusResult]{Status: "success", Result: &r, Meta: m})
			if !bytes.Equal(got, want) {
				t.Errorf("envelope JSON\n got %s\nwant %s", got, want)
			}
			// Any other encoder writes the same (its own HTML escaping aside).
			viaMarshal, err := json.Marshal(Envelope[StatusResult]{Status: "success", Result: &r, Meta: m})
			wantMarshal, _ := json.Marshal(plainEnvelope[StatusResult]{Status: "success", Result: &r, Meta: m})
			if err != nil || !bytes.Equal(viaMarshal, wantMarshal) {
				t.Errorf("json.Marshal of an envelope\n got %s (%v)\nwant %s", viaMarshal, err, wantMarshal)
			}
		}
	}
	// A large encoded result is written as it is between the envelope's head and tail.
	var many []StatusResult
	for range 200 {
		many = append(many, results[1], results[2])
	}
	encoded, err := appendValue(nil, many)
	if err != nil || len(encoded) < largeResult {
		t.Fatalf("%d bytes of results (%v): too few for the test", len(encoded), err)
	}
	for _, m := range metas[:3] {
		want := huma2JSON(t, plainEnvelope[[]StatusResult]{Status: "success", Result: &many, Meta: m})
		if got := ourJSON(t, Envelope[[]StatusResult]{Status: "success", encodedResult: encoded, Meta: m}); !bytes.Equal(got, want) {
			t.Errorf("envelope of a large encoded result\n got %.300s\nwant %.300s", got, want)
		}
	}
	// A value the encoder cannot write is an error, as with encoding/json.
	if err := marshalJSON(&bytes.Buffer{}, Envelope[float64]{Status: "success", Result: new(math.NaN()), Meta: metas[0]}); err == nil {
		t.Error("a NaN result encoded")
	}
	if err := marshalJSON(&bytes.Buffer{}, Envelope[int]{Status: "success", Result: new(1), Meta: Meta{DurationMS: math.Inf(1)}}); err == nil {
		t.Error("an infinite duration encoded")
	}
}

func FuzzEnvelopeJSON(f *testing.F) {
	f.Add("/cluster/status", "2026-12-02T00:36:59.200514569Z", 0.187, "running", "boom <&>")
	f.Add("/x\x00\"\\", "", 0.0, "", "\xff\xfe")
	f.Add("/", "t", 1e-9, "error", "\u2028")
	f.Fuzz(func(t *testing.T, path, ts string, ms float64, status, msg string) {
		if math.IsNaN(ms) || math.IsInf(ms, 0) {
			return
		}
		r := StatusResult{Status: status, Error: &msg}
		m := Meta{Path: path, Timestamp: ts, DurationMS: ms}
		want := huma2JSON(t, plainEnvelope[StatusResult]{Status: status, Result: &r, Meta: m})
		got := ourJSON(t, Envelope[StatusResult]{Status: status, Result: &r, Meta: m})
		if !bytes.Equal(got, want) {
			t.Fatalf("envelope JSON\n got %s\nwant %s", got, want)
		}
	})
}
