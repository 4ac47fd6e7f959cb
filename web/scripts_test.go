package web

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/pavilion-live/pavilion/internal/testrig/testinfra"
)

// TestScriptsParse runs every page script through Node's parser as the
// module the browser loads it as. A syntax error (a const declared twice)
// otherwise shows only as a browser test that times out waiting for a page
// that never started. Node comes with the machine; CI has it.
func TestScriptsParse(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if testinfra.InCI() {
			t.Fatal("node is not installed: the page scripts' syntax check must run in CI")
		}
		t.Skip("install Node.js to check the page scripts' syntax")
	}
	scripts, err := filepath.Glob(filepath.Join("static", "js", "*.js"))
	if err != nil || len(scripts) == 0 {
		t.Fatalf("no page scripts found: %v", err)
	}
	dir := t.TempDir()
	for _, src := range scripts {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		// .mjs: Node parses it as a module, as <script type="module"> is.
		mod := filepath.Join(dir, filepath.Base(src)+".mjs")
		if err := os.WriteFile(mod, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(node, "--check", mod).CombinedOutput(); err != nil {
			t.Errorf("%s does not parse: %v\n%s", src, err, out)
		}
	}
}
