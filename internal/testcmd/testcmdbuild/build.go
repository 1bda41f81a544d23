package testcmdbuild

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
)

var (
	once sync.Once
	path string
	err  error
)

// Path returns the path of the testcmd binary, built the first time it
// is called into a per-user folder of the temporary directory (reused by
// later test runs: go build only relinks when the source changed). Each
// build goes to a private name first and is renamed into place, so test
// processes building at once do not collide.
func Path() (string, error) {
	once.Do(func() {
		dir := filepath.Join(os.TempDir(), fmt.Sprintf("jetmr-testcmd-%d", os.Getuid()))
		if err = os.MkdirAll(dir, 0o700); err != nil {
			return
		}
		_, self, _, _ := runtime.Caller(0)
		path = filepath.Join(dir, "testcmd")
		private := fmt.Sprintf("%s.%d", path, os.Getpid())
		goTool, lerr := exec.LookPath("go")
		if lerr != nil {
			goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		cmd := exec.Command(goTool, "build", "-o", private, ".")
		cmd.Dir = filepath.Join(filepath.Dir(self), "..")
		if out, berr := cmd.CombinedOutput(); berr != nil {
			err = &buildError{out: string(out), err: berr}
			return
		}
		err = os.Rename(private, path)
	})
	return path, err
}

type buildError struct {
	out string
	err error
}

func (e *buildError) Error() string { return "building testcmd: " + e.err.Error() + "\n" + e.out }
