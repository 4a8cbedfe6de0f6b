module weft.dev/test/tools/polprobe

go 1.22
