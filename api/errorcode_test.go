package api

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/crmcore/crm/commands"
	"github.com/crmcore/crm/crmerr"
	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/eventstore"
	"github.com/crmcore/crm/requestlog"
	"github.com/crmcore/crm/tenants"
)

// internalByMeaning are the exported errors that mean a bug or corrupt
// data, never a client's mistake: they declare crmerr.Internal on purpose,
// so the one place that answers errors logs them.
var internalByMeaning = map[string]bool{
	"domain.ErrUnknownEventType":  true, // a stored event type this code does not know
	"domain.ErrStaleSnapshot":     true, // read side: the lead is folded from its events instead
	"eventstore.ErrInvalidCommit": true, // a malformed commit is the caller's bug
}

// exportedErrors is every error kind the packages export, by name. The test
// below reads the packages' source, so a new one missing here fails it.
var exportedErrors = map[string]error{
	"domain.ErrCommentNotFound":    domain.ErrCommentNotFound,
	"domain.ErrCommentChanged":     domain.ErrCommentChanged,
	"domain.ErrLeadNotFound":       domain.ErrLeadNotFound,
	"domain.ErrLeadDeleted":        domain.ErrLeadDeleted,
	"domain.ErrCallLogNotFound":    domain.ErrCallLogNotFound,
	"domain.ErrCallLogExists":      domain.ErrCallLogExists,
	"domain.ErrInvalid":            domain.ErrInvalid,
	"domain.ErrUnknownEventType":   domain.ErrUnknownEventType,
	"domain.ErrStaleSnapshot":      domain.ErrStaleSnapshot,
	"domain.ErrStatusNotFound":     domain.ErrStatusNotFound,
	"domain.ErrStatusExists":       domain.ErrStatusExists,
	"domain.ErrStatusInUse":        domain.ErrStatusInUse,
	"domain.ErrCustomerNotFound":   domain.ErrCustomerNotFound,
	"domain.ErrRecordNotFound":     domain.ErrRecordNotFound,
	"domain.ErrRecordExists":       domain.ErrRecordExists,
	"domain.ErrRecordChanged":      domain.ErrRecordChanged,
	"domain.AlreadyConvertedError": domain.AlreadyConvertedError{CustomerID: uuid.Nil},
	"domain.ErrOrderNotFound":      domain.ErrOrderNotFound,
	"domain.ErrCustomerHasOrders":  domain.ErrCustomerHasOrders,
	"domain.OrderTransitionError":  domain.OrderTransitionError{From: domain.OrderDelivered, To: domain.OrderPending},
	"domain.ErrFeedbackNotFound":   domain.ErrFeedbackNotFound,
	"domain.ErrCustomerBlocked":    domain.ErrCustomerBlocked,
	"domain.ErrFeedbackReminded":   domain.ErrFeedbackReminded,
	"domain.FeedbackClosedError":   domain.FeedbackClosedError{Status: domain.FeedbackStatusReceived},
	"domain.ValidationError":       domain.ValidationError{Field: "score", Reason: "must be between 0 and 100"},
	"domain.LimitError":            domain.LimitError{Field: "comments", Limit: 1},
	"domain.EntryError":            domain.EntryError{Field: "phones", Index: 1, Value: "12", Reason: "is not a valid phone number"},
	"domain.NormalizeError":        &domain.NormalizeError{Entries: []domain.EntryError{{Field: "emails", Value: "x", Reason: "is not a valid email address"}}},

	"commands.ErrKeyReused":       commands.ErrKeyReused,
	"commands.ErrBusy":            commands.ErrBusy,
	"commands.DuplicateError":     &commands.DuplicateError{Field: "email"},
	"commands.LeadsNotFoundError": &commands.LeadsNotFoundError{},

	"commands.UnknownReferenceError": &commands.UnknownReferenceError{Field: "customer_id", Err: domain.ErrCustomerNotFound},

	"eventstore.ErrStreamNotFound":    eventstore.ErrStreamNotFound,
	"eventstore.ConcurrencyError":     &eventstore.ConcurrencyError{},
	"eventstore.ReservationError":     &eventstore.ReservationError{},
	"eventstore.DuplicateCommitError": &eventstore.DuplicateCommitError{},
	"eventstore.ErrInvalidCommit":     eventstore.ErrInvalidCommit,
	"tenants.ErrUnauthorized":         tenants.ErrUnauthorized,
	"tenants.ErrAPIKeyNotFound":       tenants.ErrAPIKeyNotFound,
	"tenants.ErrAPIKeyTaken":          tenants.ErrAPIKeyTaken,
	"tenants.ErrUnknownTenant":        tenants.ErrUnknownTenant,
	"requestlog.ErrRequestInProgress": requestlog.ErrRequestInProgress,
	"requestlog.ErrRequestMismatch":   requestlog.ErrRequestMismatch,
	"requestlog.ErrClaimLost":         requestlog.ErrClaimLost,
	"requestlog.ErrRequestRedacted":   requestlog.ErrRequestRedacted,

	"api.ErrRateLimited": ErrRateLimited,
	"api.ErrNoVerifier":  ErrNoVerifier,
	"api.BadInput":       &BadInput{Status: 400, Code: "invalid_field", Reason: "is bad"},
}

// TestEveryExportedErrorHasACode: each error kind domain, commands,
// eventstore, tenants, requestlog and api export declares a code, wrapped
// or not, and only the ones internal by meaning say internal; an error left
// without one would be a logged 500 in every dialect.
func TestEveryExportedErrorHasACode(t *testing.T) {
	for _, name := range exportedNames(t, "../domain", "../commands", "../eventstore", "../tenants", "../requestlog", ".") {
		if _, ok := exportedErrors[name]; !ok {
			t.Errorf("%s is exported but not in exportedErrors: give it a crmerr code and list it here", name)
		}
	}
	for name, err := range exportedErrors {
		wrapped := fmt.Errorf("handle request: %w", err)
		declared, code := crmerr.Code(wrapped), ErrorCode(wrapped)
		switch {
		case declared == "":
			t.Errorf("%s declares no crmerr code (ErrorCode says %q)", name, code)
		case !slices.Contains(crmerr.Codes, declared):
			// domain writes its codes as strings (it imports nothing of ours).
			t.Errorf("%s declares %q, a code crmerr does not know", name, declared)
		case internalByMeaning[name] != (code == crmerr.Internal):
			t.Errorf("%s: ErrorCode = %q; internal only for %v", name, code, keys(internalByMeaning))
		}
	}
}

// exportedNames lists the exported Err* variables and the exported types
// with an Error method that the non-test files in dirs declare, as
// "package.Name".
func exportedNames(t *testing.T, dirs ...string) []string {
	t.Helper()
	var names []string
	for _, dir := range dirs {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, path := range files {
			if strings.HasSuffix(path, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
			if err != nil {
				t.Fatal(err)
			}
			names = append(names, declaredErrors(f)...)
		}
	}
	sort.Strings(names)
	return names
}

func declaredErrors(f *ast.File) []string {
	var names []string
	add := func(name string) { names = append(names, f.Name.Name+"."+name) }
	for _, decl := range f.Decls {
		switch d := decl.(type) {
		case *ast.GenDecl:
			if d.Tok != token.VAR {
				continue
			}
			for _, spec := range d.Specs {
				for _, n := range spec.(*ast.ValueSpec).Names {
					if n.IsExported() && strings.HasPrefix(n.Name, "Err") {
						add(n.Name)
					}
				}
			}
		case *ast.FuncDecl:
			if d.Recv == nil || d.Name.Name != "Error" || d.Type.Params.NumFields() != 0 {
				continue
			}
			recv := d.Recv.List[0].Type
			if star, ok := recv.(*ast.StarExpr); ok {
				recv = star.X
			}
			if id, ok := recv.(*ast.Ident); ok && id.IsExported() {
				add(id.Name)
			}
		}
	}
	return names
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
