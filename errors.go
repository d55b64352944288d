package ebb

import "errors"

// Error kinds. Every ebb package wraps one of these (with fmt.Errorf and %w)
// when it fails, so callers branch with errors.Is and never on message text.
// Only [ErrUnavailable] and [ErrOfferGone] are worth retrying as they are;
// [Retryable] says which.
var (
	// ErrInvalid: the input was malformed; the message names the field
	// and the value. Retrying the same input fails the same way.
	ErrInvalid = errors.New("invalid")
	// ErrUnavailable: a transient failure (a peer not answering, a
	// launch failing); the same call may succeed later.
	ErrUnavailable = errors.New("unavailable")
	// ErrOfferGone: the offer was taken by another client or changed
	// before it was accepted. Ask for offers again.
	ErrOfferGone = errors.New("offer gone")
	// ErrExpired: the alloc's lease lapsed or the alloc was freed; its
	// execs were killed and its resources returned.
	ErrExpired = errors.New("expired")
	// ErrNotExist: no such alloc, exec, blob or cache entry.
	ErrNotExist = errors.New("does not exist")
	// ErrResources: the request does not fit: an exec bigger than what its
	// alloc has free, or a requirement no node of a pool could ever hold.
	ErrResources = errors.New("not enough resources")
	// ErrCorrupt: stored data failed verification (a blob whose content
	// does not match its digest, a truncated state file).
	ErrCorrupt = errors.New("corrupt")
	// ErrClosed: the object was closed and takes no more calls.
	ErrClosed = errors.New("closed")
	// ErrNotRunning: the object does its work in a Run method that was
	// never started (an Elastic cluster without `go elastic.Run(ctx)`),
	// so the call would wait forever. The message names the fix.
	ErrNotRunning = errors.New("not running")
	// ErrTimeout: a task ran past its [Task.Timeout] on every try it was
	// given, and was killed each time. Another run may pass if the task
	// runs faster there or is given longer.
	ErrTimeout = errors.New("timed out")
)

// Retryable reports whether err is of a kind that may succeed if the same
// call is made again: [ErrUnavailable] or [ErrOfferGone].
func Retryable(err error) bool {
	return errors.Is(err, ErrUnavailable) || errors.Is(err, ErrOfferGone)
}
