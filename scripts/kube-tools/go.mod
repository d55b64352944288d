module github.com/ebbflow/ebb/scripts/kube-tools

go 1.26.8
