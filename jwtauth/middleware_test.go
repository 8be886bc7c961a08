package jwtauth

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

func TestRequire(t *testing.T) {
	c := newClock()
	tenants := TenantsFunc(func(ctx context.Context, name string) (uuid.UUID, error) {
		if name == "down" {
			return uuid.Nil, errors.New("connection refused")
		}
		return acme(ctx, name)
	})
	v := newVerifier(t, Settings{Secret: testSecret}, c, tenants)
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	echo := func(g *gin.Context) {
		p, ok := PrincipalOf(g)
		if !ok {
			t.Error("no principal on a request Require let through")
		}
		g.JSON(http.StatusOK, gin.H{"tenant": p.TenantID, "sub": p.Subject})
	}
	r.GET("/any", v.Require(AnyToken), echo)
	r.GET("/prospects", v.Require("319"), echo)
	r.GET("/partners", v.Require("crm-partners"), echo)

	token := func(edit func(jwt.MapClaims)) string {
		return "Bearer " + sign(t, jwt.SigningMethodHS256, testSecret, "", claimsAt(c, edit))
	}
	none := token(func(m jwt.MapClaims) { delete(m, "permissions") })
	cases := []struct {
		name, path, auth string
		status           int
		message          string // of a refusal
		challenge        string // WWW-Authenticate of a refusal
	}{
		{"permission held", "/prospects", token(nil), 200, "", ""},
		{"any token, no permissions", "/any", none, 200, "", ""},
		{"scheme in lower case", "/prospects", "bearer " + token(nil)[len("Bearer "):], 200, "", ""},
		{"no Authorization", "/any", "", 401, "missing authentication", "Bearer"},
		{"another scheme", "/any", "Basic dXNlcjpwYXNz", 401, "missing authentication", "Bearer"},
		{"bearer without a token", "/any", "Bearer ", 401, "missing authentication", "Bearer"},
		{"garbage", "/any", "Bearer abc.def.ghi", 401, "invalid token", `Bearer error="invalid_token"`},
		{"expired", "/any", token(func(m jwt.MapClaims) { m["exp"] = *c.At(-time.Hour) }), 401, "token expired", `Bearer error="invalid_token"`},
		{"alg none", "/any", "Bearer " + sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "", claimsAt(c, nil)), 401, "invalid token", `Bearer error="invalid_token"`},
		{"permission missing", "/partners", token(nil), 403, "missing permission: crm-partners", `Bearer error="insufficient_scope"`},
		{"no permissions at all", "/prospects", none, 403, "missing permission: 319", `Bearer error="insufficient_scope"`},
		{"tenant store down", "/any", token(func(m jwt.MapClaims) { m["tenant"] = "down" }), 503, "service unavailable", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, tc.path, nil)
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			w := httptest.NewRecorder()
			r.ServeHTTP(w, req)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			if tc.status == 200 {
				var got struct {
					Tenant uuid.UUID `json:"tenant"`
					Sub    string    `json:"sub"`
				}
				if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || got.Tenant != acmeID || got.Sub != "user-7" {
					t.Fatalf("handler saw %s (%v)", w.Body, err)
				}
				return
			}
			var boom map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &boom); err != nil {
				t.Fatal(err)
			}
			want := map[string]any{"statusCode": float64(tc.status), "error": http.StatusText(tc.status), "message": tc.message}
			if len(boom) != len(want) || boom["statusCode"] != want["statusCode"] || boom["error"] != want["error"] || boom["message"] != want["message"] {
				t.Fatalf("body %s, want the Boom shape %v", w.Body, want)
			}
			if got := w.Header().Get("WWW-Authenticate"); got != tc.challenge {
				t.Fatalf("WWW-Authenticate %q, want %q", got, tc.challenge)
			}
		})
	}
}

func TestRequireWithoutPermissionPanics(t *testing.T) {
	v := newVerifier(t, Settings{Secret: testSecret}, newClock(), acme)
	defer func() {
		if recover() == nil {
			t.Fatal(`Require("") did not panic`)
		}
	}()
	v.Require("")
}
