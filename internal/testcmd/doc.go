// Command testcmd is the command jetmr's tests run per item: small, fast to
// start, and predictable. The first argument names what it does:
//
//	testcmd argv ARG...          prints its arguments as one JSON array
//	testcmd lines N ITEM         prints "ITEM 0" ... "ITEM N-1", even lines
//	                             to stdout, odd ones to stderr
//	testcmd fail-on BAD ITEM     prints "item ITEM"; exits 3 when ITEM is BAD
//	testcmd flaky DIR ITEM       fails the first time it sees ITEM (a marker
//	                             file in DIR remembers), then prints "ok ITEM"
//	testcmd sleep DURATION ITEM  sleeps, then prints ITEM
package main
