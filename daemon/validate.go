package daemon

import (
	"context"
	"net/http"
	"strconv"
	"time"
	"unicode"
)

// maxIDLen bounds node ids, account ids, lock names and owners taken from
// requests.
const maxIDLen = 128

// validName checks a caller-chosen identifier: non-empty, at most
// maxIDLen bytes, printable, no spaces.
func validName(field, v string) error {
	if v == "" {
		return badRequest("%s is required", field)
	}
	if len(v) > maxIDLen {
		return badRequest("%s is %d bytes long; at most %d are allowed", field, len(v), maxIDLen)
	}
	for _, c := range v {
		if !unicode.IsPrint(c) || unicode.IsSpace(c) {
			return badRequest("%s %q holds a space or a control character", field, v)
		}
	}
	return nil
}

func validNodeID(id string) error { return validName("id", id) }

func withTimeout(r *http.Request, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), d)
}

func itoa(v uint64) string { return strconv.FormatUint(v, 10) }
