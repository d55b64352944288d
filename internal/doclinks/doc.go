// Package doclinks holds no code: its test reads the doc comments of
// every package of ebb, as go doc shows them, and fails on a doc link (a
// name, Type.Method or pkg.Name in square brackets) that names nothing:
// go doc would print it as plain bracketed text, and a reader would find
// no target.
package doclinks
