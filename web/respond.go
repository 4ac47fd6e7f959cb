package web

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"

	"github.com/pavilion-live/pavilion/internal/apperr"
)

// errorBody is the one JSON error shape: {"error": {"code": "...", "message": "..."}}.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    apperr.Code `json:"code"`
	Message string      `json:"message"`
}

// The header values every JSON answer carries, shared by every response
// like securityHeaders' (Header.Set would allocate each on every answer).
// Nothing writes into them: Header.Set replaces a value slice, Header.Add
// appends to a copy (the capacity is one), and net/http only reads them.
var (
	jsonContentType = []string{"application/json; charset=utf-8"}
	noStore         = []string{"no-store"}
)

func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["Cache-Control"] = noStore
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true) // user text stays inert even if a client mis-renders JSON as HTML
	_ = enc.Encode(v)
}

// startCSV starts a CSV download named filename. Like every JSON answer it
// is never cached: exports hold customers' names and addresses.
func startCSV(w http.ResponseWriter, filename string) *csv.Writer {
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s"`, filename))
	h.Set("Cache-Control", "no-store")
	return csv.NewWriter(w)
}

// writeError answers with the error's status and message. Internal errors are
// logged with their cause and shown to the client only as "internal error".
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := apperr.CodeOf(err)
	if code == apperr.Internal {
		s.logger().ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	writeErrorBody(w, apperr.HTTPStatus(code), code, apperr.MessageOf(err))
}

// errorBodies are the buffers writeErrorBody builds answers in.
var errorBodies = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

// writeErrorBody writes the error shape as writeJSON would, byte for byte,
// without encoding/json when code and message need no escaping (the
// refusals of a stampede, "sold out" first): the encoder, its buffer and
// the boxed body cost a sold-out answer 3 allocations.
func writeErrorBody(w http.ResponseWriter, status int, code apperr.Code, message string) {
	if !plainJSON(string(code)) || !plainJSON(message) {
		writeJSON(w, status, errorBody{Error: errorDetail{Code: code, Message: message}})
		return
	}
	bp := errorBodies.Get().(*[]byte)
	b := append((*bp)[:0], `{"error":{"code":"`...)
	b = append(b, code...)
	b = append(b, `","message":"`...)
	b = append(b, message...)
	b = append(b, "\"}}\n"...)
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["Cache-Control"] = noStore
	w.WriteHeader(status)
	_, _ = w.Write(b)
	if cap(b) <= 4096 {
		*bp = b
		errorBodies.Put(bp)
	}
}

// plainJSON reports whether encoding/json, escaping HTML, writes s in a
// string as it is: printable ASCII but for " \ < > &.
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c >= 0x7f, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		}
	}
	return true
}

func (s *Server) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.Default()
	}
	return s.Logger
}

// decode reads one JSON object from the body into v. Unknown fields, trailing
// data, wrong types and oversize bodies are refused with a message that says
// what is wrong; nothing has been changed when it fails.
func decode(r *http.Request, v any) error {
	ct := r.Header.Get("Content-Type")
	if ct != "" && !strings.HasPrefix(ct, "application/json") {
		return apperr.Errorf(apperr.Invalid, "Content-Type must be application/json")
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return decodeError(err)
		}
		return apperr.Errorf(apperr.Invalid, "request body must hold a single JSON object")
	}
	return nil
}

func decodeError(err error) error {
	var (
		syntax  *json.SyntaxError
		typeErr *json.UnmarshalTypeError
		tooBig  *http.MaxBytesError
	)
	switch {
	case errors.As(err, &tooBig):
		return apperr.Errorf(apperr.TooLarge, "request body is larger than %d bytes", tooBig.Limit)
	case errors.Is(err, io.EOF):
		return apperr.Errorf(apperr.Invalid, "request body is empty; a JSON object is expected")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return apperr.Errorf(apperr.Invalid, "malformed JSON: unexpected end of input")
	case errors.As(err, &syntax):
		return apperr.Errorf(apperr.Invalid, "malformed JSON at byte %d: %v", syntax.Offset, err)
	case errors.As(err, &typeErr):
		if typeErr.Field != "" {
			return apperr.Errorf(apperr.Invalid, "field %q must be %s", typeErr.Field, jsonKind(typeErr.Type.Kind().String()))
		}
		return apperr.Errorf(apperr.Invalid, "request body must be a JSON object")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return apperr.Errorf(apperr.Invalid, "unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	default:
		return apperr.Errorf(apperr.Invalid, "malformed JSON: %v", err)
	}
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "int", "int32", "int64", "uint", "uint32", "uint64", "float64":
		return "a number"
	case "bool":
		return "true or false"
	case "slice", "array":
		return "an array"
	case "map", "struct":
		return "an object"
	default:
		return fmt.Sprintf("of type %s", goKind)
	}
}
