package api

import (
	"context"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/jokster/jokster/config"
	"github.com/jokster/jokster/realtime"
)

// loadOpenAPIDoc parses and validates the embedded document.
func loadOpenAPIDoc(t *testing.T) *openapi3.T {
	t.Helper()
	if len(OpenAPI) == 0 {
		t.Fatal("the embedded api/openapi.yaml is empty")
	}
	doc, err := openapi3.NewLoader().LoadFromData(OpenAPI)
	if err != nil {
		t.Fatalf("loading api/openapi.yaml: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("api/openapi.yaml is not a valid OpenAPI 3 document: %v", err)
	}
	return doc
}

var fiberParam = regexp.MustCompile(`:([A-Za-z0-9_]+)`)

// undocumentedRoute reports the routes the document deliberately leaves out:
// static files, the web UI and the Redoc script.
func undocumentedRoute(method, path string) bool {
	switch {
	case method == http.MethodHead, method == http.MethodConnect, method == http.MethodTrace:
		return true
	case path == "/" || path == "/*" || path == "/redoc/redoc.standalone.js":
		return true
	case path == "/media" || strings.HasPrefix(path, "/media/") || strings.HasPrefix(path, "/media*"):
		return true
	}
	return false
}

// TestOpenAPIDocCoversRoutes checks that the document is valid and that it
// and the Fiber route table agree: every registered route is documented and
// every documented operation is registered.
func TestOpenAPIDocCoversRoutes(t *testing.T) {
	doc := loadOpenAPIDoc(t)

	// Building the app calls no service, so no database is needed.
	app := New(Deps{Config: config.Default(), Hub: realtime.NewHub(realtime.NewMemoryBroker(), realtime.DefaultConfig(), nil)})
	registered := map[string]bool{}
	for _, r := range app.GetRoutes(true) {
		if undocumentedRoute(r.Method, r.Path) {
			continue
		}
		path := fiberParam.ReplaceAllString(r.Path, "{$1}")
		registered[r.Method+" "+path] = true
	}
	if len(registered) < 10 {
		t.Fatalf("only %d routes found in the app; is GetRoutes filtering too much? %v", len(registered), registered)
	}

	documented := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			documented[method+" "+path] = true
			if op.OperationID == "" {
				t.Errorf("%s %s has no operationId", method, path)
			}
			if len(op.Tags) == 0 {
				t.Errorf("%s %s has no tag", method, path)
			}
			if op.Summary == "" || op.Description == "" {
				t.Errorf("%s %s needs a summary and a description", method, path)
			}
		}
	}

	var missing, extra []string
	for k := range registered {
		if !documented[k] {
			missing = append(missing, k)
		}
	}
	for k := range documented {
		if !registered[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	for _, k := range missing {
		t.Errorf("route %s is registered but not in api/openapi.yaml", k)
	}
	for _, k := range extra {
		t.Errorf("api/openapi.yaml documents %s, which the app does not register", k)
	}
}

// TestOpenAPIDocSecurity checks that the security requirements in the
// document match the middleware of each route: routes behind s.auth require
// bearerAuth and document 401; routes behind s.optionalAuth accept both
// anonymous and bearer callers.
func TestOpenAPIDocSecurity(t *testing.T) {
	doc := loadOpenAPIDoc(t)
	if doc.Components == nil || doc.Components.SecuritySchemes["bearerAuth"] == nil {
		t.Fatal("components.securitySchemes.bearerAuth is missing")
	}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if op.Security == nil {
				continue
			}
			var anon, bearer bool
			for _, req := range *op.Security {
				if len(req) == 0 {
					anon = true
				}
				if _, ok := req["bearerAuth"]; ok {
					bearer = true
				}
			}
			if bearer && op.Responses.Status(http.StatusUnauthorized) == nil {
				t.Errorf("%s %s accepts a bearer token but documents no 401", method, path)
			}
			if bearer && !anon && !strings.HasPrefix(path, "/api/v1/") {
				t.Errorf("%s %s requires a token outside /api/v1", method, path)
			}
		}
	}
}
