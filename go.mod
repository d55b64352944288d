module github.com/ebbflow/ebb

go 1.26.8

require github.com/opencontainers/go-digest v1.0.0

require golang.org/x/sync v0.18.0 // indirect
