//go:build !unix

package observe

func platformSignal(string) int { return 0 }
