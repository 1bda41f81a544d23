// Package splitter turns the inputs of a job into tasks: it resolves
// command-line paths into input files and cuts those files into byte
// ranges that start and end on line boundaries; standard input and
// compressed files, which cannot be cut by byte ranges, into chunks of
// whole lines read as a stream.
//
// The contract:
//
//   - [ResolveInputs] maps paths to [Input] files in a deterministic order:
//     paths in the order given, a directory's regular files in lexical order,
//     each file once, "-" ([Stdin]) for standard input. Each file carries
//     its [Fingerprint] (size, modification time, device, inode), so that a
//     resumed job can refuse a file that changed. Every problem with the
//     user's paths is reported as an error wrapping [ErrBadInput] whose
//     message names the path and the fix.
//   - [Ranges] cuts each input into [Range] values of about a chunk size.
//     Concatenating the ranges of a file, in order, reproduces the file's
//     first Size bytes exactly; every range starts at offset 0 or just after a
//     '\n' and ends just after a '\n' or at the end of the file, so no line is
//     ever split between two tasks and no range spans two files. Ranges reads
//     each file once in bounded windows, never holding a whole file, and
//     gives each range the CRC-32C of its bytes, which workers check when
//     they read the range again.
//   - [Files] is the [Source] of files read by byte ranges; [Inputs] the
//     source of inputs some of which are streamed ([Input.Streamed]):
//     standard input and .gz/.zst files, decompressed and cut into chunks of
//     whole lines that carry their data. A compressed file is cut the same
//     way each time; one that does not decompress is an error wrapping
//     [ErrCorrupt].
//   - [Records] widens "line" in the above: records that end with another
//     separator (NUL, or any string, followed by a given record start) or
//     CSV records, whose quoted fields may hold newlines, and a header of
//     the first records of each input that every chunk of the input
//     carries ([Chunk.Header]) instead of its first chunk holding it.
//     [RangesOf], [RecordFiles] and [Inputs] cut on record boundaries.
//     CSV quotes are followed as Python's csv module reads them (a quote
//     opens a quoted field only at the start of a field) in the same pass
//     that computes the checksum, so each byte is read once; a CSV input
//     whose last quoted field never closes is an error wrapping
//     [ErrBadInput].
//   - [DefaultChunkSize] and [ParseSize] choose or parse the chunk size.
//   - [ReadItems] reads an each job's item list (lines or NUL-separated);
//     [Items] batches it into tasks of consecutive items carried in the
//     task messages, [DefaultItemsPerTask] sizes the batches.
//
// The splitter starts no goroutine; package job runs it and publishes the
// tasks. It must not publish to the broker itself.
package splitter
