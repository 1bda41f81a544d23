package main

import (
	"errors"

	"github.com/jetmr/jetmr/broker"
	"github.com/jetmr/jetmr/job"
)

// unknownJobHint replaces the hint of err, when it says that job id is
// unknown, with the jetmr status command that lists the jobs where bc
// looks: with --store or --nats, plain jetmr status would list this
// machine's default stores instead. Other errors are returned as they
// are.
func unknownJobHint(err error, bc broker.Config, id string) error {
	if !errors.Is(err, job.ErrUnknownJob) {
		return err
	}
	flags, note := storeFlags(bc)
	if flags == "" {
		return err // the default stores: jetmr status lists them
	}
	where := "in store " + bc.StoreDir
	if bc.URL != "" {
		where = "on NATS " + redactValue("--nats", bc.URL)
	}
	return usageErr("%w %s: nothing is recorded under that ID %s; list its jobs with:\n  jetmr status%s%s",
		job.ErrUnknownJob, id, where, flags, note)
}

// storeFlags are the flags that make a jetmr command look where bc
// looks: none for the default stores, --store DIR, or --nats URL with the
// credentials removed from the URL (note says so: the user gives them
// again, in the URL or with JETMR_TOKEN) and the --token-file, --creds and
// --tls-ca given.
func storeFlags(bc broker.Config) (flags, note string) {
	switch {
	case bc.URL != "":
		url := redactValue("--nats", bc.URL)
		if url != bc.URL {
			note = redactionNote([]string{"--nats"})
		}
		flags = " --nats " + shellQuote(url)
		for _, f := range [][2]string{{"--token-file", bc.TokenFile}, {"--creds", bc.Creds}, {"--tls-ca", bc.TLSCA}} {
			if f[1] != "" {
				flags += " " + f[0] + " " + shellQuote(f[1])
			}
		}
		return flags, note
	case bc.StoreDir != "":
		return " --store " + shellQuote(bc.StoreDir), ""
	}
	return "", ""
}
