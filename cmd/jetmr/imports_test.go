package main_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestCLIUsesPublicAPI checks that the CLI is a thin user of the public
// packages: it imports no internal package.
func TestCLIUsesPublicAPI(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-f", `{{join .Imports "\n"}}`, ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, imp := range strings.Fields(string(out)) {
		if strings.Contains(imp, "/internal/") || strings.HasSuffix(imp, "/internal") {
			t.Errorf("cmd/jetmr imports %s: the CLI must use the public API only", imp)
		}
	}
}
