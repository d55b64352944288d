module github.com/ebbflow/ebb

go 1.26.8

require (
	github.com/grailbio/base v0.0.11 // indirect
	github.com/opencontainers/go-digest v1.0.0 // indirect
	golang.org/x/sync v0.18.0 // indirect
)
