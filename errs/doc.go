// Package errs holds the one error of jetmr that every package may raise
// and every caller must recognise: bad input. It is a leaf package: it
// imports no other jetmr package, starts no goroutine and keeps no state,
// so that every package may import it.
//
// An error caused by the caller's configuration or inputs is a
// *[BadInputError]; it matches [ErrBadInput] with errors.Is, names the
// setting at fault as a configuration field ("Config.ChunkSize") when
// there is one, and unwraps to its cause. Library messages name settings
// by their field; a command-line program translates them to its flags
// with [Translate], so that one message serves both.
package errs
