// Command bench benchmarks jetmr against its baselines: the in-process limit
// of the wordcount map function, sequential sed, GNU parallel and the floor
// of the cores (sed over one pre-cut part per core, all at once) for a pipe,
// and its peak memory over growing inputs. Opt-in scenarios measure the
// per-task overhead (tiny), the cost of --sync always over --sync interval
// (sync), the time one crash and resume lose (crash), and jetmr migrate
// against a sequential batched loop and a single UPDATE on a throwaway
// PostgreSQL (migrate), --task-time against fixed chunk sizes (tasktime),
// a high-cardinality keyed job with 1 and 4 partitions merged concurrently
// (reduce), the peak memory of a pipe over standard input (rss-stdin),
// jetmr each against xargs and GNU parallel running a command per
// item (each) and its own per-item cost (each-tiny), worker processes
// joined through a NATS server on loopback, with the CPU each process
// spends (workers; its word count alone: workers-wc), a count of 1.73 M
// distinct ids against sort | uniq -c (cardinality) and the peak RSS of 10 M
// distinct keys under a few --memory budgets, one with 64 MiB chunks
// (keys10m). Run it from the
// module root:
//
//	go run ./bench                            # wordcount, pipe, rss; 3 runs each
//	go run ./bench -size-scale 0.05 -n 1      # a quick check
//	go run ./bench -scenarios tiny            # per-task overhead
//	go run ./bench -scenarios all,sync,crash  # the default set and two opt-in ones
//	go run ./bench -scenarios migrate         # needs the PostgreSQL server binaries
//	go run ./bench -scenarios workers         # jetmr worker processes on loopback
//	go run ./bench -scenarios workers-wc      # only its word count on 2 and 4 workers
//	go run ./bench -scenarios wordcount,reduce,cardinality,keys10m  # the reduce
//
// Contenders of a scenario alternate within each repetition (ABAB...), so
// that a slow phase of the machine hits them alike. Progress goes to stderr;
// the table of medians and ratios, with the machine it ran on, to stdout.
// The exit status is 1 when a scenario failed (a run errored, or outputs
// differ), not when a target is missed.
package main
