package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: testcmd MODE ARG...")
		os.Exit(2)
	}
	args := os.Args[2:]
	need := map[string]int{"argv": 0, "lines": 2, "fail-on": 2, "flaky": 2, "sleep": 2}
	n, ok := need[os.Args[1]]
	if !ok || len(args) < n {
		fmt.Fprintf(os.Stderr, "testcmd: bad mode or arguments: %q\n", os.Args[1:])
		os.Exit(2)
	}
	switch os.Args[1] {
	case "argv":
		json.NewEncoder(os.Stdout).Encode(args)
	case "lines":
		n, _ := strconv.Atoi(args[0])
		for i := range n {
			w := os.Stdout
			if i%2 == 1 {
				w = os.Stderr
			}
			fmt.Fprintf(w, "%s %d\n", args[1], i)
		}
	case "fail-on":
		fmt.Println("item", args[1])
		if args[1] == args[0] {
			fmt.Fprintln(os.Stderr, "failing on purpose")
			os.Exit(3)
		}
	case "flaky":
		marker := filepath.Join(args[0], args[1])
		if _, err := os.Stat(marker); err != nil {
			os.WriteFile(marker, nil, 0o644)
			fmt.Fprintln(os.Stderr, "first attempt fails")
			os.Exit(1)
		}
		fmt.Println("ok", args[1])
	case "sleep":
		d, _ := time.ParseDuration(args[0])
		time.Sleep(d)
		fmt.Println(args[1])
	}
}
