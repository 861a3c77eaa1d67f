package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/mandate-raft/mandate/client"
)

// maxBodyBytes bounds a request body. API documents are small; a larger
// body is a mistake or an attack.
const maxBodyBytes = 1 << 20

// decodeBody reads exactly one JSON object into v, rejecting unknown
// fields, trailing data and bodies over maxBodyBytes, with messages that
// say what is wrong.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	body := http.MaxBytesReader(w, r.Body, maxBodyBytes)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	var extra json.RawMessage
	if err := dec.Decode(&extra); err != io.EOF {
		if err == nil {
			return &apiError{status: http.StatusBadRequest, code: client.CodeInvalidJSON, message: "request body holds more than one JSON value"}
		}
		return jsonError(err)
	}
	return nil
}

func jsonError(err error) error {
	var (
		mbe  *http.MaxBytesError
		se   *json.SyntaxError
		ute  *json.UnmarshalTypeError
		msg  string
		code = client.CodeInvalidJSON
	)
	switch {
	case errors.As(err, &mbe):
		return &apiError{status: http.StatusRequestEntityTooLarge, code: client.CodeBodyTooLarge,
			message: fmt.Sprintf("request body exceeds %d bytes", mbe.Limit)}
	case errors.Is(err, io.EOF):
		msg = "request body is empty; a JSON object is required"
	case errors.Is(err, io.ErrUnexpectedEOF):
		msg = "request body is truncated JSON"
	case errors.As(err, &se):
		msg = fmt.Sprintf("request body is not valid JSON at byte %d: %v", se.Offset, se)
	case errors.As(err, &ute):
		msg = fmt.Sprintf("field %q must be a JSON %s, not %s", ute.Field, ute.Type, ute.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json has no typed error for unknown fields.
		msg = "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	default:
		msg = "bad request body: " + err.Error()
	}
	return &apiError{status: http.StatusBadRequest, code: code, message: msg}
}
