package crmerr

import (
	"errors"
	"fmt"
	"io"
	"testing"
)

func TestCodeAndMessageReadTheOutermostCodedError(t *testing.T) {
	notFound := New(NotFound, "lead not found")
	wrapped := fmt.Errorf("load lead 7: %w", notFound)
	if got := Code(wrapped); got != NotFound {
		t.Errorf("Code = %q, want %q", got, NotFound)
	}
	if got := Message(wrapped); got != "lead not found" {
		t.Errorf("Message = %q, want the sentinel's own text", got)
	}
	if !errors.Is(wrapped, notFound) || errors.Is(wrapped, New(NotFound, "lead not found")) {
		t.Error("a sentinel must compare by identity, as errors.New does")
	}
	marked := Wrap(Unavailable, fmt.Errorf("authenticate: %w", notFound))
	if Code(marked) != Unavailable || !errors.Is(marked, notFound) || marked.Error() != "authenticate: lead not found" {
		t.Errorf("Wrap: code %q, text %q; want the outer code and the inner error kept", Code(marked), marked)
	}
	for _, err := range []error{nil, io.EOF, fmt.Errorf("x: %w", io.EOF)} {
		if Code(err) != "" || Message(err) != "" {
			t.Errorf("%v: Code %q, Message %q; want none", err, Code(err), Message(err))
		}
	}
}
