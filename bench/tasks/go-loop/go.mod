module probec.bench/goloop

go 1.19
