module github.com/kubewhy/kubewhy/tools/msgcatalog

go 1.26.0
