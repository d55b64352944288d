// Package noflags holds no code: its test imports every library package
// of ebb and fails if any of them, or anything they import, registers a
// flag on flag.CommandLine. ebb is embedded in other programs, whose
// command lines are theirs; a package whose init adds flags (as
// v.io/x/lib/vlog does, pulled in by several grailbio/base packages)
// would show up in every one of them and clash with their own.
package noflags
